#!/usr/bin/env bash
# Measures `servebench plan` and `servebench render` end to end over a suite of N configs
# (default 10,000): the corpus of benches/config_suite.sh (copies of the upstream fixtures under
# target/bench-configs/test_configs). Render writes every bundle to a scratch directory.
# In-memory planning/rendering alone: cargo bench -p servebench-bundle --bench plan_render.
#
#   benches/plan_render.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
source benches/suite_corpus.sh
SCRATCH=target/bench-bundles
run() {
  echo "== servebench $*"
  for _ in 1 2 3; do
    rm -rf "$SCRATCH"
    /usr/bin/time -o target/bench-time.txt -f "%e s wall, %U s user, %S s sys, %M KiB max RSS" \
      "$BIN" "$@" > /dev/null 2>/dev/null || true
    cat target/bench-time.txt
  done
}
# Plain paths only; the repository's servebench.yaml selects the `local` profile.
run plan "$OUT"
run plan --format json "$OUT"
run render -q --no-dataset-check -o "$SCRATCH" "$OUT"
echo "bundles: $(find "$SCRATCH" -maxdepth 1 -mindepth 1 -type d | wc -l), $(du -sh "$SCRATCH" | cut -f1)"
