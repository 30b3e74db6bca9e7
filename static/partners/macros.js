// The partner form's macro list: a click inserts the macro at the cursor of the template field last used.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var targets = ["id_postback_url", "id_body_template"]
      .map(function (id) { return document.getElementById(id); })
      .filter(Boolean);
    if (!targets.length) {
      return;
    }
    var last = targets[0];
    targets.forEach(function (field) {
      field.addEventListener("focus", function () { last = field; });
    });
    document.querySelectorAll("button.macro").forEach(function (button) {
      button.addEventListener("click", function () {
        var text = button.dataset.macro;
        var start = last.selectionStart === undefined ? last.value.length : last.selectionStart;
        var end = last.selectionEnd === undefined ? start : last.selectionEnd;
        last.value = last.value.slice(0, start) + text + last.value.slice(end);
        last.focus();
        last.setSelectionRange(start + text.length, start + text.length);
        // The live preview listens for input.
        last.dispatchEvent(new Event("input", {bubbles: true}));
      });
    });
  });
})();
