/* Every admin list's cells carry their column's name (data-label), which a phone shows beside each value. */
document.addEventListener("DOMContentLoaded", () => {
  const table = document.getElementById("result_list");
  if (!table) return;
  const names = [...table.querySelectorAll("thead th")].map((th) => th.innerText.trim());
  for (const row of table.querySelectorAll("tbody tr")) {
    [...row.children].forEach((cell, index) => {
      if (names[index]) cell.dataset.label = names[index];
    });
  }
});
