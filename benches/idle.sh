#!/usr/bin/env bash
# benches/idle.sh — what idle connections cost spate, nats-server and
# redis-server, and how fast each takes a crowd of them when fresh.
#
# For each broker (one at a time, started fresh on its own loopback port,
# stopped by PID afterwards) runs `spate bench idle-conns`: N connections
# opened one after another, each completing its handshake, then held idle;
# reports connect/handshake time, connects that waited out a SYN resend,
# the kernel's listen-overflow counters, the broker's RSS per connection
# and its RSS SETTLE ms after every client closed. Prints one table.
# See benches/README.md ("Idle connections").
#
# Usage: benches/idle.sh [--conns N] [--repeats R] [--out DIR]
#   --conns N    connections per run (default 10000)
#   --repeats R  runs per broker, each against a fresh broker (default 1)
#   --out DIR    raw JSON and logs (default target/idle)
# Environment: BROKERS (default "spate nats redis"), SETTLE_MS (default
#   5000), SPATE (the spate binary; default target/release/spate, built if
#   missing), SPATE_SERVE (command serving spate; default "$SPATE serve"),
#   PORT_SPATE/PORT_NATS/PORT_REDIS (default 27411/24222/26379).
set -euo pipefail

CONNS=10000
REPEATS=1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/target/idle"
while [ $# -gt 0 ]; do
    case "$1" in
        --conns) CONNS=$2; shift ;;
        --repeats) REPEATS=$2; shift ;;
        --out) OUT=$2; shift ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "idle.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
BROKERS=${BROKERS:-spate nats redis}
SETTLE_MS=${SETTLE_MS:-5000}
PORT_SPATE=${PORT_SPATE:-27411}
PORT_NATS=${PORT_NATS:-24222}
PORT_REDIS=${PORT_REDIS:-26379}

say() { echo "idle.sh: $*" >&2; }
die() { say "$*"; exit 1; }

if [ -z "${SPATE:-}" ]; then
    say "building spate (release)"
    (cd "$ROOT" && cargo build --release --quiet --bin spate)
    SPATE="$ROOT/target/release/spate"
fi
for b in $BROKERS; do
    case "$b" in
        nats) command -v nats-server >/dev/null || die "nats-server missing (benches/compare.sh installs it)" ;;
        redis) command -v redis-server >/dev/null || die "redis-server missing (benches/compare.sh installs it)" ;;
    esac
done
SPATE_SERVE=${SPATE_SERVE:-$SPATE serve}
command -v python3 >/dev/null || die "python3 is needed for the table"
# Every connection is a descriptor, in the generator and in the broker.
ulimit -n "$(ulimit -Hn)"
mkdir -p "$OUT/raw" "$OUT/logs"
rm -f "$OUT"/raw/*.json

PID=""
stop_broker() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$PID" 2>/dev/null || true
    fi
    [ -z "$PID" ] || wait "$PID" 2>/dev/null || true
    PID=""
}
trap stop_broker EXIT
trap 'stop_broker; exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

for rep in $(seq "$REPEATS"); do
    for b in $BROKERS; do
        log="$OUT/logs/$b-$rep.log"
        case "$b" in
            spate) port=$PORT_SPATE
                # Room for the run's connections; log warnings only.
                # shellcheck disable=SC2086 # SPATE_SERVE is a command line
                $SPATE_SERVE --listen "127.0.0.1:$port" --no-admin \
                    --max-connections $((CONNS + 100)) --log-level warn >"$log" 2>&1 & ;;
            nats) port=$PORT_NATS
                nats-server -a 127.0.0.1 -p "$port" >"$log" 2>&1 & ;;
            redis) port=$PORT_REDIS
                redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
                    --maxclients $((CONNS + 100)) >"$log" 2>&1 & ;;
            *) die "unknown broker $b" ;;
        esac
        PID=$!
        for _ in $(seq 100); do
            port_open "$port" && break
            kill -0 "$PID" 2>/dev/null || { cat "$log" >&2; die "$b did not start"; }
            sleep 0.1
        done
        # The probe above was one connection; let the broker settle.
        sleep 1
        say "$b run $rep/$REPEATS: $CONNS connections"
        "$SPATE" bench idle-conns --broker "$b" --addr "127.0.0.1:$port" -N "$CONNS" \
            --broker-pid "$PID" --settle-ms "$SETTLE_MS" --json >"$OUT/raw/$b--$rep.json" \
            2>>"$OUT/logs/$b-$rep.bench.log" || say "$b run $rep reported an error"
        stop_broker
    done
done

python3 - "$OUT" "$CONNS" "$SETTLE_MS" <<'PY' | tee "$OUT/table.txt"
import glob, json, os, sys
out, conns, settle = sys.argv[1], sys.argv[2], sys.argv[3]
print(f"idle connections: {conns} per run, RSS read {settle} ms after all closed")
cols = ["broker", "run", "connect s", "handshake s", ">=900ms", "slowest ms",
        "overflows", "SYN resends", "RSS before MiB", "RSS open MiB", "B/conn",
        "RSS after MiB"]
print(" ".join(f"{c:>14}" for c in cols))
mib = lambda k: "-" if k is None else f"{k / 1024:.1f}"
for f in sorted(glob.glob(os.path.join(out, "raw", "*.json"))):
    b, rep = os.path.basename(f)[:-5].split("--")
    try:
        r = json.load(open(f))
    except ValueError:
        print(f"{b:>14} {rep:>14} (no report)")
        continue
    row = [b, rep, f"{r['connect_secs']:.2f}", f"{r['handshake_secs']:.2f}",
           r["slow_connects"], f"{r['slowest_connect_ms']:.0f}", r["listen_overflows"],
           r["syn_retrans"], mib(r["rss_before_kib"]), mib(r["rss_open_kib"]),
           r["bytes_per_conn"], mib(r["rss_after_close_kib"])]
    print(" ".join(f"{str(c):>14}" for c in row))
    if r["error"]:
        print(f"{'':>14} error: {r['error']}")
PY
