#!/usr/bin/env bash
# Long property-test ("fuzz") runs of every parser, outside CI.
#
# Coverage-guided fuzzing (cargo-fuzz) needs a nightly toolchain; the parsers' proptest
# properties (arbitrary and mutated real inputs, shrinking on failure) run here instead, in
# rounds of PROPTEST_CASES cases with a fresh random seed each, until each target's wall-clock
# budget is spent. A failure stops its target and prints proptest's minimal input (add it as a
# named regression test next to the parser).
#
# Usage: scripts/fuzz.sh [BUDGET_SECONDS] [TARGET...]
#   BUDGET_SECONDS  per target (default: $FUZZ_BUDGET or 600)
#   TARGET          names from the table below (default: $FUZZ_TARGETS or all)
# Env: FUZZ_CASES   cases per property per round (default 2000)
#      FUZZ_PROFILE cargo profile (default dev: reuses the test build; `release` is faster per
#                   case but builds everything again)
#
# Prints per target: rounds, cases per property, time, failures; exits 1 if any failed.
# Tests with a fixed case count in their source (the http1, bundle, plan, verdict, report and
# store properties) run that count per round whatever FUZZ_CASES says.
set -uo pipefail
cd "$(dirname "$0")/.."

budget=${1:-${FUZZ_BUDGET:-600}}
shift $(( $# > 0 ? 1 : 0 ))
cases=${FUZZ_CASES:-2000}
profile=${FUZZ_PROFILE:-dev}

# name | cargo test arguments | test-name filter
targets=(
  "results-garbage|-p servebench-results --test it|garbage::"
  "results-props|-p servebench-results --test it|props::"
  "config-garbage|-p servebench-config --test it|garbage::"
  "config-hostile|-p servebench-config --test it|hostile::"
  "config-select|-p servebench-config --lib|select::"
  "config-load|-p servebench-config --lib|load::"
  "launch-status|-p servebench-launch --lib|status::garbage::"
  "exec-journal|-p servebench-exec --lib|journal::garbage::"
  "loadgen-parsers|-p servebench-loadgen --lib|"
  "loadgen-hostile|-p servebench-loadgen --test it|hostile::arbitrary_responses"
  "bundle-safety|-p servebench-bundle --test it|safety::"
  "plan-props|-p servebench-plan --test it|props::"
  "verdict-props|-p servebench-verdict --test properties|"
  "report-props|-p servebench-report --test it|"
  "store-csv|-p servebench-store --lib|csv::"
)

want=("$@")
[ ${#want[@]} -eq 0 ] && [ -n "${FUZZ_TARGETS:-}" ] && read -r -a want <<<"$FUZZ_TARGETS"

selected() {
  [ ${#want[@]} -eq 0 ] && return 0
  local w
  for w in "${want[@]}"; do [ "$w" = "$1" ] && return 0; done
  return 1
}

log_dir=$(mktemp -d "${TMPDIR:-/tmp}/servebench-fuzz.XXXXXX")
summary=()
failed=0
for t in "${targets[@]}"; do
  IFS='|' read -r name args filter <<<"$t"
  selected "$name" || continue
  # shellcheck disable=SC2086
  if ! cargo test --locked --profile "$profile" $args --no-run >"$log_dir/$name.build" 2>&1; then
    summary+=("$(printf '%-18s build failed (see %s)' "$name" "$log_dir/$name.build")")
    failed=1
    continue
  fi
  start=$(date +%s)
  rounds=0
  fails=0
  while :; do
    left=$(( budget - ($(date +%s) - start) ))
    [ "$left" -le 0 ] && break
    # shellcheck disable=SC2086
    PROPTEST_CASES=$cases timeout "$left" \
      cargo test --locked --profile "$profile" $args -- $filter >"$log_dir/$name.round" 2>&1
    rc=$?
    [ "$rc" -eq 124 ] && break # budget spent inside the round: not counted
    rounds=$(( rounds + 1 ))
    if [ "$rc" -ne 0 ]; then
      fails=1
      cp "$log_dir/$name.round" "$log_dir/$name.failure"
      grep -E 'minimal failing input|panicked at|FAILED' "$log_dir/$name.failure" | head -20
      break
    fi
  done
  took=$(( $(date +%s) - start ))
  summary+=("$(printf '%-18s rounds %4d  cases/property %8d  time %5ds  failures %d%s' \
    "$name" "$rounds" $(( rounds * cases )) "$took" "$fails" \
    "$([ "$fails" -ne 0 ] && echo "  (log: $log_dir/$name.failure)")")")
  [ "$fails" -ne 0 ] && failed=1
done

echo "fuzz: budget ${budget}s per target, ${cases} cases per property per round, profile ${profile}"
printf '%s\n' "${summary[@]}"
exit "$failed"
