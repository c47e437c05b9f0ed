(function () {
  "use strict";
  var tip = document.getElementById("tip");
  var table = document.getElementById("findings-table");
  var body = table ? table.tBodies[0] : null;
  var byCell = {};
  if (body) {
    Array.prototype.forEach.call(body.rows, function (row) {
      (byCell[row.getAttribute("data-cell")] = byCell[row.getAttribute("data-cell")] || []).push(row);
    });
  }
  function line(parts) {
    var p = document.createElement("p");
    p.textContent = parts.join(" · ");
    return p;
  }
  function show(cell) {
    var sheet = cell.closest("[data-sheet]").getAttribute("data-sheet");
    var rows = byCell[sheet + "!" + cell.getAttribute("data-cell")] || [];
    tip.textContent = "";
    tip.appendChild(line([cell.getAttribute("data-cell"), "highest: " + cell.getAttribute("data-severity")]));
    rows.slice(0, 6).forEach(function (row) {
      tip.appendChild(line([row.cells[1].textContent.trim(), row.cells[2].textContent, row.cells[3].textContent]));
    });
    if (rows.length > 6) tip.appendChild(line([(rows.length - 6) + " more in the table below"]));
    if (!rows.length) tip.appendChild(line([tip.getAttribute("data-left-out")]));
    tip.hidden = false;
    var box = cell.getBoundingClientRect();
    var x = Math.max(4, Math.min(box.left, window.innerWidth - tip.offsetWidth - 4));
    var y = box.bottom + 4 + tip.offsetHeight > window.innerHeight ? box.top - tip.offsetHeight - 4 : box.bottom + 4;
    tip.style.left = x + "px";
    tip.style.top = Math.max(4, y) + "px";
  }
  function hide() { tip.hidden = true; }
  Array.prototype.forEach.call(document.querySelectorAll(".heat td[data-cell]"), function (cell) {
    cell.tabIndex = 0;
    cell.setAttribute("aria-label", cell.getAttribute("data-cell") + ", highest severity " + cell.getAttribute("data-severity"));
  });
  document.addEventListener("mouseover", function (e) {
    var cell = e.target.closest && e.target.closest(".heat td[data-cell]");
    if (cell) show(cell); else if (document.activeElement && !document.activeElement.matches(".heat td[data-cell]")) hide();
  });
  document.addEventListener("focusin", function (e) {
    if (e.target.matches(".heat td[data-cell]")) show(e.target); else hide();
  });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") hide(); });
  Array.prototype.forEach.call(document.querySelectorAll("#findings-table button[data-sort]"), function (button) {
    button.addEventListener("click", function () {
      var key = button.getAttribute("data-sort");
      var th = button.parentNode;
      // Severity: most severe first, then (clicked again) least severe first. Order: as audited.
      var down = !(key === table.getAttribute("data-sorted") && th.getAttribute("aria-sort") === "descending");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var d = key === "severity" ? a.getAttribute("data-rank") - b.getAttribute("data-rank") : 0;
        if (!down) d = -d;
        return d || a.getAttribute("data-i") - b.getAttribute("data-i");
      });
      rows.forEach(function (row) { body.appendChild(row); });
      table.setAttribute("data-sorted", key);
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", down ? "descending" : "ascending");
    });
  });
})();
