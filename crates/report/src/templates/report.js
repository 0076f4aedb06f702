// Hover details, sorting and filtering. Reads only the page itself; text goes in with
// textContent, never as HTML.
(function () {
  "use strict";
  var tip = document.getElementById("tip");
  function place(x, y) {
    var w = tip.offsetWidth, h = tip.offsetHeight;
    var left = x + 14 + w > window.innerWidth ? x - w - 14 : x + 14;
    var top = y + 14 + h > window.innerHeight ? y - h - 14 : y + 14;
    tip.style.left = Math.max(0, left) + "px";
    tip.style.top = Math.max(0, top) + "px";
  }
  function show(el, x, y) {
    tip.textContent = el.getAttribute("data-tip");
    tip.hidden = false;
    place(x, y);
  }
  document.addEventListener("mouseover", function (e) {
    var el = e.target.closest && e.target.closest("[data-tip]");
    if (el) { show(el, e.clientX, e.clientY); } else { tip.hidden = true; }
  });
  document.addEventListener("mousemove", function (e) {
    if (!tip.hidden) { place(e.clientX, e.clientY); }
  });
  document.addEventListener("focusin", function (e) {
    var el = e.target.querySelector ? e.target.querySelector("[data-tip]") : null;
    if (el) {
      var r = el.getBoundingClientRect();
      show(el, r.right, r.bottom);
    }
  });
  document.addEventListener("focusout", function () { tip.hidden = true; });

  var table = document.getElementById("verdicts");
  if (!table) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var filter = document.getElementById("filter");
  var verdict = document.getElementById("verdict-filter");
  var shown = document.getElementById("shown");
  var texts = rows.map(function (r) { return r.textContent.toLowerCase(); });
  function apply() {
    var q = filter.value.trim().toLowerCase(), v = verdict.value, n = 0;
    rows.forEach(function (r, i) {
      var ok = (!v || r.getAttribute("data-verdict") === v) && (!q || texts[i].indexOf(q) >= 0);
      r.hidden = !ok;
      if (ok) { n += 1; }
    });
    shown.textContent = n + " of " + rows.length + " tests shown";
  }
  filter.addEventListener("input", apply);
  verdict.addEventListener("change", apply);
  apply();
  function key(cell) {
    var v = cell.getAttribute("data-v");
    return v === null ? cell.textContent.trim() : v;
  }
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.tabIndex = 0;
    function sort() {
      var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
      Array.prototype.forEach.call(heads, function (o) { o.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
      var num = th.getAttribute("data-type") === "num";
      var order = rows.map(function (r, i) { return i; });
      order.sort(function (a, b) {
        var x = key(rows[a].cells[col]), y = key(rows[b].cells[col]);
        var c = num ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
        return dir * c || a - b;
      });
      var sorted = order.map(function (i) { return rows[i]; });
      var sortedTexts = order.map(function (i) { return texts[i]; });
      rows = sorted;
      texts = sortedTexts;
      rows.forEach(function (r) { body.appendChild(r); });
    }
    th.addEventListener("click", sort);
    th.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); }
    });
  });
})();
