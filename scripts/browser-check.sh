#!/usr/bin/env bash
# Browser check of the HTML report (crates/report): renders the fixed sample (the real example
# suite run in crates/report/tests/data/example-run with 30 runs of history), opens it in
# headless Chromium and fails on any console message (script errors, CSP refusals), on a
# missing chart kind, on a chart with nothing drawn, when the page's script did not run, or when
# filtering, sorting or hover details misbehave (scripts/browser-selftest.js, run on a copy).
# Keeps the artifacts in target/browser-check/: light.png, dark.png, print.pdf, dom.html,
# console.log. Installs Debian's chromium when it is missing (needs root and apt-get).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=target/browser-check
rm -rf "$OUT" && mkdir -p "$OUT"

if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi
command -v chromium >/dev/null 2>&1 || {
  echo "browser check: chromium is not installed and could not be (apt-get install chromium)" >&2
  exit 1
}

cargo run -q --locked -p servebench-report --example sample_report -- "$OUT/report.html"
PAGE="file://$(realpath "$OUT/report.html")"

chrome() {
  local profile status=0
  profile=$(mktemp -d)
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" "$@" \
    || status=$?
  rm -rf "$profile"
  return "$status"
}

# The DOM after the page's script ran, with every console message on stderr.
chrome --enable-logging=stderr --v=0 --virtual-time-budget=5000 --dump-dom "$PAGE" \
  >"$OUT/dom.html" 2>"$OUT/console.log"
# Interactions (filters, sorting, hover) on a copy with scripts/browser-selftest.js appended.
python3 - "$OUT" scripts/browser-selftest.js <<'PY'
import pathlib, sys
out, test = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]).read_text()
page = (out / "report.html").read_text()
(out / "selftest.html").write_text(page.replace("</body>", "<script>\n" + test + "</script>\n</body>", 1))
PY
chrome --enable-logging=stderr --v=0 --virtual-time-budget=5000 --dump-dom \
  "file://$(realpath "$OUT/selftest.html")" >"$OUT/selftest-dom.html" 2>>"$OUT/console.log"
chrome --window-size=1400,2600 --screenshot="$OUT/light.png" "$PAGE" 2>/dev/null
chrome --force-dark-mode --window-size=1400,2600 --screenshot="$OUT/dark.png" "$PAGE" 2>/dev/null
chrome --no-pdf-header-footer --print-to-pdf="$OUT/print.pdf" "$PAGE" 2>/dev/null

python3 - "$OUT" <<'PY'
import html.parser, pathlib, re, sys

out = pathlib.Path(sys.argv[1])
problems = []

console = [l for l in (out / "console.log").read_text(errors="replace").splitlines()
           if ":CONSOLE" in l or "Uncaught" in l or "Refused to" in l]
problems += [f"console: {l}" for l in console]

class Charts(html.parser.HTMLParser):
    DRAWN = {"polyline", "circle", "path", "rect"}
    def __init__(self):
        super().__init__()
        self.charts, self.current, self.shown, self.in_shown = [], None, "", False
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "svg" and "chart" in classes:
            self.current = {"kind": classes[-1], "drawn": 0}
            self.charts.append(self.current)
        elif self.current is not None and tag in self.DRAWN and "grid" not in classes \
                and "frame" not in classes and "band" not in classes:
            self.current["drawn"] += 1
        if a.get("id") == "shown":
            self.in_shown = True
    handle_startendtag = handle_starttag
    def handle_endtag(self, tag):
        if tag == "svg":
            self.current = None
        if tag == "span":
            self.in_shown = False
    def handle_data(self, data):
        if self.in_shown:
            self.shown += data

p = Charts()
p.feed((out / "dom.html").read_text())
kinds = {}
for c in p.charts:
    kinds[c["kind"]] = kinds.get(c["kind"], 0) + 1
    if c["drawn"] == 0:
        problems.append(f"an empty {c['kind']} chart")
for kind in ("pareto", "latency", "trend"):
    if not kinds.get(kind):
        problems.append(f"no {kind} chart")
if not re.fullmatch(r"\d+ of \d+ tests shown", p.shown.strip()):
    problems.append(f"the page's script did not run (#shown is {p.shown!r})")
selftest = re.findall(r'<div id="selftest">(.*?)</div>', (out / "selftest-dom.html").read_text(), re.S)
if selftest[-1:] != ["ok"]:
    problems.append("interactions: " + (selftest[-1] if selftest else "the self-test did not run"))
for shot in ("light.png", "dark.png", "print.pdf"):
    if (out / shot).stat().st_size < 10_000:
        problems.append(f"{shot} is suspiciously small")

summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
if problems:
    print("browser check FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"browser check ok: {summary} charts drawn, filters, sorting and hover work, "
      f"no console messages; artifacts in {out}/")
PY
