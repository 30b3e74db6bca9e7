// Test-postback page: edit rows, schedule them through the API, then poll the batch's log every few seconds.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("tp-config").textContent);
  const csrf = document.querySelector("#tp-form [name=csrfmiddlewaretoken]").value;
  const rowsBody = document.querySelector("#tp-rows tbody");
  const template = document.getElementById("tp-row-template");
  const logBody = document.querySelector("#tp-log tbody");
  const logLabels = Array.from(document.querySelectorAll("#tp-log thead th")).map(function (th) { return th.textContent; });
  const statusLine = document.getElementById("tp-status");
  const cancelButton = document.getElementById("tp-cancel");
  const sendButton = document.getElementById("tp-send");
  const FINAL = ["succeeded", "failed", "cancelled"];
  let batch = config.batch;
  let pollTimer = null;
  let countdownTimer = null;
  let lastRows = [];
  const openBodies = new Set();

  function renumber() {
    rowsBody.querySelectorAll("tr.tp-input-row").forEach(function (tr, index) {
      tr.querySelector(".tp-number").textContent = index + 1;
    });
  }

  function addRow(values) {
    const tr = template.content.firstElementChild.cloneNode(true);
    if (values) {
      Object.keys(values).forEach(function (name) {
        const field = tr.querySelector("[name=" + name + "]");
        if (field) field.value = values[name];
      });
    }
    tr.querySelector(".tp-remove").addEventListener("click", function () {
      const note = document.getElementById("tp-form-error");
      if (rowsBody.children.length > 1) { tr.remove(); renumber(); note.textContent = ""; return; }
      note.textContent = "A batch needs at least one row: change this one instead of removing it.";
    });
    tr.querySelector(".tp-copy").addEventListener("click", function () {
      if (rowsBody.children.length >= config.maxRows) return;
      const copy = addRow(readRow(tr));
      tr.after(copy);
      renumber();
    });
    rowsBody.appendChild(tr);
    renumber();
    return tr;
  }

  function readRow(tr) {
    const row = {};
    tr.querySelectorAll("input, select").forEach(function (field) { row[field.name] = field.value; });
    return row;
  }

  function payload() {
    return Array.from(rowsBody.querySelectorAll("tr.tp-input-row")).map(function (tr) {
      const row = readRow(tr);
      if (row.payout === "") delete row.payout;
      return row;
    });
  }

  function clearErrors() {
    document.querySelectorAll(".tp-field-error").forEach(function (node) { node.remove(); });
    document.getElementById("tp-form-error").textContent = "";
  }

  function showErrors(errors) {
    // DRF answers {"rows": {"<index>": {"field": [messages]}}}, or {"rows": ["message"]} for the whole list.
    const rowErrors = errors.rows;
    if (!rowErrors || Array.isArray(rowErrors) || typeof rowErrors !== "object") {
      document.getElementById("tp-form-error").textContent = [].concat(rowErrors || errors.detail || JSON.stringify(errors)).join(" ");
      return;
    }
    const trs = rowsBody.querySelectorAll("tr.tp-input-row");
    Object.keys(rowErrors).forEach(function (index) {
      const fieldErrors = rowErrors[index] || {};
      const tr = trs[Number(index)];
      if (!tr) {  // e.g. {"rows": {"non_field_errors": [...]}} for the list as a whole
        document.getElementById("tp-form-error").textContent += [].concat(fieldErrors).join(" ") + " ";
        return;
      }
      Object.keys(fieldErrors).forEach(function (name) {
        const field = tr && tr.querySelector("[name=" + name + "]");
        const note = document.createElement("div");
        note.className = "tp-errors tp-field-error";
        note.textContent = [].concat(fieldErrors[name]).join(" ");
        (field ? field.parentNode : tr.lastElementChild).appendChild(note);
      });
    });
  }

  function readJson(response) {
    // An error page (HTML) is not JSON: report its status instead of a parse error.
    return response.json().catch(function () { return { detail: "HTTP " + response.status + " " + response.statusText }; });
  }

  function send(event) {
    event.preventDefault();
    if (sendButton.disabled) return;  // a double click would schedule the batch twice
    sendButton.disabled = true;
    clearErrors();
    fetch(config.sendUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ rows: payload() }),
      credentials: "same-origin",
    }).then(function (response) {
      return readJson(response).then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (answer) {
      if (!answer.ok) { showErrors(answer.data); return; }
      startBatch(answer.data.batch, answer.data);
    }).catch(function (error) {
      document.getElementById("tp-form-error").textContent = "Could not send: " + error;
    }).finally(function () {
      sendButton.disabled = false;
    });
  }

  function startBatch(id, log) {
    batch = id;
    history.replaceState(null, "", "?batch=" + encodeURIComponent(id));
    document.getElementById("tp-batch").textContent = "(batch " + id.slice(0, 8) + ")";
    if (log) render(log);
    poll();
  }

  function poll() {
    clearTimeout(pollTimer);
    fetch(config.batchUrl + batch, { credentials: "same-origin" })
      .then(function (response) {
        if (response.ok) return response.json();
        return readJson(response).then(function (data) {
          const error = new Error(data.detail || "HTTP " + response.status);
          error.final = response.status === 404 || response.status === 401 || response.status === 403;
          throw error;
        });
      })
      .then(function (log) {
        render(log);
        if (!log.final) pollTimer = setTimeout(poll, config.pollSeconds * 1000);
      })
      .catch(function (error) {
        if (error.final) {  // no such batch, or not allowed (logged out): asking again will not help
          statusLine.textContent = "Log unavailable: " + error.message;
          return;
        }
        statusLine.textContent = "Log unavailable (" + error + "); retrying.";
        pollTimer = setTimeout(poll, config.pollSeconds * 1000);
      });
  }

  // The admin's one time format (postbacks_project/formats): YYYY-MM-DD HH:MM:SS and the zone, in the server's
  // TIME_ZONE. Swedish writes dates and times exactly so; the zone's short name follows.
  const timeFormat = new Intl.DateTimeFormat("sv-SE", {
    timeZone: config.timeZone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false, timeZoneName: "short"
  });

  function serverTime(iso) {
    const moment = iso ? new Date(iso) : null;
    if (!moment || isNaN(moment)) return iso || "";
    const parts = Object.fromEntries(timeFormat.formatToParts(moment).map(function (p) { return [p.type, p.value]; }));
    return parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" + parts.minute + ":" +
      parts.second + " " + parts.timeZoneName;
  }

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    if (className) td.className = className;
    return td;
  }

  function render(log) {
    lastRows = log.rows || [];
    logBody.replaceChildren();
    lastRows.forEach(function (row) {
      const tr = document.createElement("tr");
      tr.className = "tp-row";
      tr.dataset.id = row.id;
      tr.dataset.state = row.state;
      tr.appendChild(cell(row.position));
      tr.appendChild(cell(row.partner));
      tr.appendChild(cell(row.username + " / " + row.offer_name + " / " + row.points + " pts"));
      const state = cell("");
      const badge = document.createElement("span");
      badge.className = "tp-state tp-" + row.state;
      badge.textContent = row.state;
      state.appendChild(badge);
      tr.appendChild(state);
      const when = cell(row.state === "scheduled" ? "in " + row.seconds_left + " s" : serverTime(row.sent_at), "tp-when");
      if (row.sent_at) when.title = row.sent_at;
      tr.appendChild(when);
      tr.appendChild(cell(row.response_status));
      tr.appendChild(cell(row.duration_ms ? row.duration_ms + " ms" : ""));
      tr.appendChild(cell(row.url));
      tr.appendChild(cell(row.error, row.error ? "tp-errors" : ""));
      // The header's names on the cells: a phone shows each row as a card of labelled fields.
      Array.from(tr.children).forEach(function (td, index) { td.dataset.label = logLabels[index] || ""; });
      tr.addEventListener("click", function () { toggleBody(row.id); });
      logBody.appendChild(tr);
      if (openBodies.has(row.id)) logBody.appendChild(bodyRow(row));
    });
    const waiting = lastRows.filter(function (row) { return row.state === "scheduled"; }).length;
    cancelButton.hidden = waiting === 0;
    statusLine.textContent = log.final ? "All rows are final." : waiting + " row(s) waiting; refreshing every " + config.pollSeconds + " s.";
    startCountdown();
  }

  function bodyRow(row) {
    const tr = document.createElement("tr");
    tr.className = "tp-body";
    const td = document.createElement("td");
    td.colSpan = 9;
    const pre = document.createElement("pre");
    // What was sent, signature headers included (secrets are masked by the server), then what came back.
    const headers = Object.keys(row.request_headers || {}).map(function (name) {
      return name + ": " + row.request_headers[name];
    });
    const sent = [row.method + " " + row.url].concat(headers);
    if (row.request_body) sent.push("", row.request_body);
    pre.textContent = "Request:\n" + sent.join("\n") + "\n\nResponse body:\n" + (row.response_body || "(empty)");
    td.appendChild(pre);
    tr.appendChild(td);
    return tr;
  }

  function toggleBody(id) {
    if (openBodies.has(id)) openBodies.delete(id); else openBodies.add(id);
    render({ rows: lastRows, final: lastRows.every(function (row) { return FINAL.includes(row.state); }) });
  }

  function startCountdown() {
    clearInterval(countdownTimer);
    countdownTimer = setInterval(function () {
      logBody.querySelectorAll("tr.tp-row").forEach(function (tr) {
        if (tr.dataset.state !== "scheduled") return;
        const when = tr.querySelector(".tp-when");
        const left = Math.max(0, parseInt(when.textContent.replace(/\D/g, ""), 10) - 1);
        when.textContent = "in " + left + " s";
      });
    }, 1000);
  }

  cancelButton.addEventListener("click", function () {
    const waiting = lastRows.filter(function (row) { return row.state === "scheduled"; }).length;
    if (!window.confirm("Cancel the " + waiting + " row(s) not yet sent? They will not be sent.")) return;
    fetch(config.batchUrl + batch + "/cancel", {
      method: "POST", headers: { "X-CSRFToken": csrf }, credentials: "same-origin",
    }).then(function (response) {
      return readJson(response).then(function (log) {
        if (!response.ok) { statusLine.textContent = "Could not cancel: " + (log.detail || "HTTP " + response.status); return; }
        render(log);
        poll();
      });
    });
  });
  document.getElementById("tp-add").addEventListener("click", function () {
    if (rowsBody.children.length < config.maxRows) addRow();
  });
  document.getElementById("tp-form").addEventListener("submit", send);

  if (config.preselected.length) {
    config.preselected.forEach(function (id) { addRow({ partner_id: id }); });
  } else {
    addRow();
  }
  if (batch) startBatch(batch);
})();
