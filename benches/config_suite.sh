#!/usr/bin/env bash
# Measures `servebench list` and `servebench validate` over a suite of N configs (default 10,000),
# made of copies of the upstream fixtures laid out as test_configs/<type>/<category>/*.yaml.
# Target (SPEC 16): list + validate of 10,000 configs well under 2 s on 2 cores.
#
#   benches/config_suite.sh [N]
#
# Uses hyperfine when installed (apt-get install hyperfine), else repeats with bash `time`; then
# prints each command's peak RSS. On a shared machine compare hyperfine's User + System CPU
# seconds: wall time there measures the other processes as much as servebench.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
source benches/suite_corpus.sh
if command -v hyperfine >/dev/null; then
  hyperfine --warmup 1 --runs 5 -i \
    "$BIN list $OUT" \
    "$BIN validate -q $OUT" \
    "$BIN list --format json $OUT"
  for cmd in "list $OUT" "validate -q $OUT"; do
    /usr/bin/time -f "servebench $cmd: %M KiB max RSS" "$BIN" $cmd > /dev/null || true
  done
else
  for cmd in "list $OUT" "validate -q $OUT"; do
    echo "== servebench $cmd"
    for _ in 1 2 3; do
      /usr/bin/time -f "%e s wall, %U s user, %S s sys, %M KiB max RSS" "$BIN" $cmd > /dev/null || true
    done
  done
fi
