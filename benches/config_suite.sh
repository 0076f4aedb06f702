#!/usr/bin/env bash
# Measures `servebench list` and `servebench validate` over a suite of N configs (default 10,000),
# made of copies of the upstream fixtures laid out as test_configs/<type>/<category>/*.yaml.
# Target (SPEC 16): list + validate of 10,000 configs well under 2 s on 2 cores.
#
#   benches/config_suite.sh [N]
#
# Uses hyperfine when installed (apt-get install hyperfine), else repeats with bash `time`.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
FIX=../shared/fixtures/upstream/tests/integration/defs/perf/disagg/test_configs
OUT=target/bench-configs/test_configs
cargo build --release -q -p servebench-cli
BIN=target/release/servebench
if [ ! -f "$OUT/.count" ] || [ "$(cat "$OUT/.count")" != "$N" ]; then
  rm -rf "$OUT"
  mapfile -t SRC < <(find "$FIX" -name '*.yaml' | sort)
  i=0
  while [ "$i" -lt "$N" ]; do
    for f in "${SRC[@]}"; do
      [ "$i" -ge "$N" ] && break
      rel=${f#"$FIX"/}
      dir="$OUT/$(dirname "$rel")"
      mkdir -p "$dir"
      cp "$f" "$dir/$(basename "$f" .yaml)_copy$i.yaml"
      i=$((i + 1))
    done
  done
  echo "$N" > "$OUT/.count"
fi
echo "configs: $(find "$OUT" -name '*.yaml' | wc -l), cores: $(nproc)"
if command -v hyperfine >/dev/null; then
  hyperfine --warmup 1 --runs 5 -i \
    "$BIN list $OUT" \
    "$BIN validate -q $OUT" \
    "$BIN list --format json $OUT"
else
  for cmd in "list $OUT" "validate -q $OUT"; do
    echo "== servebench $cmd"
    for _ in 1 2 3; do
      /usr/bin/time -f "%e s wall, %U s user, %S s sys, %M KiB max RSS" "$BIN" $cmd > /dev/null || true
    done
  done
fi
