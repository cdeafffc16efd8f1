#!/usr/bin/env bash
# Durability bench (benches/README.md, "Durability"):
#  1. acknowledged-publish throughput at 16 B and 1 KiB payloads, in-memory
#     vs [storage] with fsync = never / interval / always (history of the
#     publish topics persisted), side by side: ROUNDS rounds, each running
#     every case once in turn (interleaved), medians reported;
#  2. recovery time for RECOVERY_MIB MiB of log (default 1024): filled with
#     1 KiB messages, the broker killed with SIGKILL, then restarted; the
#     time the broker logs for reading the log and the time to "ready".
# Everything runs on 127.0.0.1; the data directories are deleted at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-3}"; SECS="${SECS:-5}"; CONNS="${CONNS:-4}"; WINDOW="${WINDOW:-256}"
RECOVERY_MIB="${RECOVERY_MIB:-1024}"; PORT="${PORT:-17500}"
cargo build --release --quiet --bin spate --example ack_throughput
BIN=target/release/spate
GEN=target/release/examples/ack_throughput
work="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

config() { # mode [segment_bytes]
  printf '[server]\nlisten = "127.0.0.1:%s"\nadmin_enabled = false\n[log]\nlevel = "info"\n' "$PORT"
  if [ "$1" != memory ]; then
    printf '[storage]\ndir = "%s/data"\nfsync = "%s"\nsegment_bytes = %s\n' "$work" "$1" "${2:-67108864}"
    printf '[[storage.persist]]\npattern = "bench.>"\nstate = true\nhistory = true\n'
  fi
}

start() { # mode [segment_bytes]; sets pid, waits for "spate ready"
  config "$@" > "$work/spate.toml"
  : > "$work/log"
  "$BIN" serve --config "$work/spate.toml" 2> "$work/log" &
  pid=$!
  for _ in $(seq 1 600); do
    grep -q "spate ready" "$work/log" && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$work/log"; exit 1; }
    sleep 0.05
  done
  echo "broker not ready" >&2; exit 1
}

stop() { kill -TERM "$pid"; wait "$pid" || true; pid=""; rm -rf "$work/data"; }

echo "# uptime before: $(uptime)"
: > "$work/results"
for r in $(seq 1 "$ROUNDS"); do
  for size in 16 1024; do
    for mode in memory never interval always; do
      start "$mode"
      v=$("$GEN" "127.0.0.1:$PORT" "$size" "$CONNS" "$WINDOW" "$SECS")
      stop
      echo "$size $mode $v" >> "$work/results"
      echo "round $r: ${size} B $mode: $v acked msgs/s" >&2
    done
  done
done
echo "# uptime after: $(uptime)"
echo
echo "| payload | memory | never | interval | always |"
echo "|---|---|---|---|---|"
for size in 16 1024; do
  row="| $size B"
  for mode in memory never interval always; do
    m=$(awk -v s="$size" -v m="$mode" '$1==s && $2==m {print $3}' "$work/results" | sort -n \
        | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
    row="$row | $m"
  done
  echo "$row |"
done

echo
echo "# recovery of ${RECOVERY_MIB} MiB of log"
start never 2147483648
while [ "$(du -sm "$work/data" | cut -f1)" -lt "$RECOVERY_MIB" ]; do
  "$GEN" "127.0.0.1:$PORT" 1024 "$CONNS" "$WINDOW" 5 > /dev/null
done
kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=""
size=$(du -sm "$work/data" | cut -f1)
t0=$(date +%s.%N)
start never 2147483648
t1=$(date +%s.%N)
grep "storage: log recovered" "$work/log" | sed 's/^.*storage: log recovered //'
echo "log ${size} MiB: ready after $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s (including process start)"
stop
