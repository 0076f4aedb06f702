// Interaction self-test of the HTML report, injected by scripts/browser-check.sh into a copy of
// the page (never shipped): filters, sorting and hover details, run after the page's own
// script. Writes "ok" or the failures into a div with id "selftest" and logs failures as
// console errors.
(function () {
  "use strict";
  var errs = [];
  function check(cond, what) { if (!cond) { errs.push(what); } }
  function shown() {
    return Array.prototype.filter.call(document.querySelectorAll("#verdicts tbody tr"),
      function (r) { return !r.hidden; });
  }
  var total = shown().length;
  check(total > 1, "table rows: " + total);

  var filter = document.getElementById("filter");
  filter.value = "LLAMA70B";
  filter.dispatchEvent(new Event("input"));
  var kept = shown();
  check(kept.length > 0 && kept.length < total, "text filter kept " + kept.length + " of " + total);
  check(kept.every(function (r) { return r.textContent.toLowerCase().indexOf("llama70b") >= 0; }),
    "text filter kept a row without the text");
  filter.value = "";
  filter.dispatchEvent(new Event("input"));

  var verdict = document.getElementById("verdict-filter");
  verdict.value = "error";
  verdict.dispatchEvent(new Event("change"));
  kept = shown();
  check(kept.length === 1 && kept[0].getAttribute("data-verdict") === "error", "verdict filter");
  verdict.value = "";
  verdict.dispatchEvent(new Event("change"));
  check(shown().length === total, "clearing the filters shows every row");
  check(/^\d+ of \d+ tests shown$/.test(document.getElementById("shown").textContent), "count text");

  var heads = document.querySelectorAll("#verdicts thead th");
  function column(i) { return shown().map(function (r) { return parseFloat(r.cells[i].getAttribute("data-v")); }); }
  function sorted(xs, dir) { return xs.every(function (x, i) { return i === 0 || dir * (x - xs[i - 1]) >= 0; }); }
  heads[7].click();
  check(sorted(column(7), 1) && heads[7].getAttribute("aria-sort") === "ascending", "sort ascending: " + column(7));
  heads[7].click();
  check(sorted(column(7), -1) && heads[7].getAttribute("aria-sort") === "descending", "sort descending: " + column(7));
  heads[0].click();
  check(sorted(column(0), 1), "verdict sort puts the worst first: " + column(0));
  check(shown()[0].getAttribute("data-verdict") === "error", "first row after the verdict sort is the error");

  var tip = document.getElementById("tip");
  var pt = document.querySelector(".pareto .pt");
  pt.dispatchEvent(new MouseEvent("mouseover", { bubbles: true, clientX: 200, clientY: 200 }));
  check(!tip.hidden && tip.textContent === pt.getAttribute("data-tip"), "hover on a Pareto point");
  var line = document.querySelector(".trend .tl");
  line.dispatchEvent(new MouseEvent("mouseover", { bubbles: true, clientX: 300, clientY: 300 }));
  check(!tip.hidden && tip.textContent.indexOf("latest") >= 0, "hover on a trend line");
  document.body.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
  check(tip.hidden, "the tip hides off the charts");
  check(pt.parentNode.getAttribute("href").charAt(0) === "#" &&
    document.getElementById(pt.parentNode.getAttribute("href").slice(1)) !== null,
    "a Pareto point links to its test");

  var out = document.createElement("div");
  out.id = "selftest";
  out.textContent = errs.length ? "FAIL: " + errs.join("; ") : "ok";
  document.body.appendChild(out);
  if (errs.length) { console.error("selftest: " + errs.join("; ")); }
})();
