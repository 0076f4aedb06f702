# Sourced by the suite benchmarks: builds the release binary and a corpus of N configs (copies
# of the upstream framework fixtures laid out as test_configs/<type>/<category>/*.yaml) under
# target/bench-configs/test_configs, reused while N is unchanged. Sets BIN and OUT.
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
