#!/usr/bin/env bash
# Verdict quality: every method (ours and the anchors) on seeded synthetic histories; prints
# Markdown tables of false alarms and detection within 1/2/3 runs, then the issue-18 goals.
# Minutes on 2 cores. The table in docs/verdicts.md is this script's output.
#
#   benches/verdicts/run.sh [--trials N] [--seed S]
set -euo pipefail
cd "$(dirname "$0")/../.."
exec cargo run --quiet --release -p servebench-verdict --example harness -- "$@"
