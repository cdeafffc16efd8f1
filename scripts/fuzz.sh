#!/usr/bin/env bash
# Coverage-guided fuzzing of spate with cargo-fuzz (libFuzzer, nightly
# toolchain): runs every target in fuzz/ for FUZZ_SECONDS seconds each
# (default 60), prints each target's total executions, and fails on any
# crash (the crashing input is left in fuzz/artifacts/<target>/).
#
#   bash scripts/fuzz.sh                      # every target, 60 s each
#   FUZZ_SECONDS=600 bash scripts/fuzz.sh     # longer
#   FUZZ_TARGETS="frame_decode" bash scripts/fuzz.sh
#   FUZZ_SECONDS=0 bash scripts/fuzz.sh       # skip fuzzing
#
# Each target starts from its seed corpus (fuzz/corpus/<target>, kept
# small in git) plus the inputs of earlier runs on this machine
# (fuzz/target/corpus/<target>, not in git), and first replays every
# saved crash in fuzz/regressions/<target>. One job per target: the
# machines this runs on are small.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_TARGETS=${FUZZ_TARGETS:-"frame_decode options_tlv session"}

if [ "$FUZZ_SECONDS" = 0 ]; then
  echo "fuzz: FUZZ_SECONDS=0, skipped"
  exit 0
fi

if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

cargo +nightly fuzz build -O -a

mkdir -p fuzz/target/logs
failed=0
for t in $FUZZ_TARGETS; do
  work=fuzz/target/corpus/$t
  log=fuzz/target/logs/$t.log
  mkdir -p "$work" "fuzz/corpus/$t"
  dirs=("$work" "fuzz/corpus/$t")
  [ -d "fuzz/regressions/$t" ] && dirs+=("fuzz/regressions/$t")
  extra=()
  # The broker keeps state across inputs on purpose (topics, history), so
  # per-input leak checks only cost time (they stop the world after every
  # input with new coverage: 10x slower).
  [ "$t" = session ] && extra+=(-detect_leaks=0)
  echo "fuzz: $t for ${FUZZ_SECONDS}s (log: $log)"
  if cargo +nightly fuzz run -O -a "$t" "${dirs[@]}" -- \
      -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 "${extra[@]}" \
      >"$log" 2>&1; then
    status=ok
  else
    status=CRASH
    failed=1
  fi
  # The final stats, or after a crash (no stats) the last status line.
  execs=$( (grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" || true) | awk '{s+=$2} END {print s+0}')
  if [ "$execs" = 0 ]; then
    execs=$( (grep -o '^#[0-9]*' "$log" || true) | tail -1 | tr -d '#')
  fi
  rate=$( (grep -o 'exec/s: *[0-9]*' "$log" || true) | tail -1 | awk '{print $2}')
  echo "fuzz: $t: $status, $execs executions (${rate:-?} exec/s at the end)"
  if [ "$status" = CRASH ]; then
    grep -E 'panicked at|ERROR: libFuzzer|SUMMARY|Test unit written' "$log" | head -20 || true
  fi
done

if [ "$failed" = 1 ]; then
  echo "fuzz: FAILED: a target crashed (inputs in fuzz/artifacts/, logs in fuzz/target/logs/)"
  exit 1
fi
echo "fuzz: no crashes"
