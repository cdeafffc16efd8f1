#!/usr/bin/env bash
# benches/compare.sh — spate side by side with nats-server and redis-server,
# with the trivial byte forwarder as the ceiling.
#
# Installs the peers from Debian packages if missing (needs root), builds
# spate in release mode, then for every case starts each broker fresh on
# its own loopback port, runs `spate bench` against them in REPEATS rounds
# (each round runs every broker once, in turn, so a slow spell of this
# shared machine hits all of them alike), records each broker's peak RSS
# (VmHWM), stops them (by PID), and finally prints one table of medians
# with the ratios spate/NATS and spate/Redis.
# See benches/README.md for what each case measures and how to read it.
#
# Usage: benches/compare.sh [--quick] [--repeats N] [--only REGEX] [--out DIR]
#                            [--spate-b PATH]
#   --quick      smaller message counts (each run about a second)
#   --repeats N  runs per case and broker; the table shows medians (default 3)
#   --only REGEX run only the cases whose id matches (e.g. 'fanout|latency')
#   --out DIR    raw JSON, logs and the table go here (default target/compare)
#   --spate-b PATH  a second spate binary (e.g. an older build) served as
#                "spate-b" (and "spate-b-block") next to "spate" in every
#                case spate runs in, driven by the same generator: a
#                before/after in one run (also env SPATE_B)
# Environment: BROKERS (subset to run, default
#   "spate spate-block spate-ws nats nats-ws redis forwarder", plus spate-b
#   and spate-b-block with --spate-b; spate-block = spate with --policy
#   block, fanout cases only; spate-ws / nats-ws = spate / nats-server
#   reached over WebSocket, ws cases only),
#   GEN_THREADS (generator runtime threads, default 1),
#   SPATE_BENCH_FLAGS (extra flags for runs against spate, e.g. "--policy block"),
#   SPATE_SERVE (command that serves spate given "--config FILE"; default
#   "target/release/spate serve"),
#   PORT_SPATE/PORT_SPATE_BLOCK/PORT_NATS/PORT_REDIS/PORT_FORWARDER
#   (default 27411/27412/24222/26379/27420), PORT_SPATE_B/PORT_SPATE_B_BLOCK
#   (27415/27416), PORT_SPATE_WS/PORT_NATS_WS (27413/28080, the WebSocket
#   listeners).
set -euo pipefail

QUICK=0
REPEATS=3
ONLY=""
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/target/compare"
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --repeats) REPEATS=$2; shift ;;
        --only) ONLY=$2; shift ;;
        --out) OUT=$2; shift ;;
        --spate-b) SPATE_B=$2; shift ;;
        -h|--help) sed -n '2,38p' "$0"; exit 0 ;;
        *) echo "compare.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
SPATE_B=${SPATE_B:-}
if [ -n "$SPATE_B" ]; then
    [ -x "$SPATE_B" ] || { echo "compare.sh: --spate-b $SPATE_B is not an executable" >&2; exit 2; }
    SPATE_B=$(cd "$(dirname "$SPATE_B")" && pwd)/$(basename "$SPATE_B")
fi
BROKERS=${BROKERS:-spate spate-block spate-ws nats nats-ws redis forwarder${SPATE_B:+ spate-b spate-b-block}}
GEN_THREADS=${GEN_THREADS:-1}
SPATE_BENCH_FLAGS=${SPATE_BENCH_FLAGS:-}
PORT_SPATE=${PORT_SPATE:-27411}
PORT_SPATE_BLOCK=${PORT_SPATE_BLOCK:-27412}
PORT_NATS=${PORT_NATS:-24222}
PORT_REDIS=${PORT_REDIS:-26379}
PORT_FORWARDER=${PORT_FORWARDER:-27420}
PORT_SPATE_B=${PORT_SPATE_B:-27415}
PORT_SPATE_B_BLOCK=${PORT_SPATE_B_BLOCK:-27416}
PORT_SPATE_WS=${PORT_SPATE_WS:-27413}
PORT_NATS_WS=${PORT_NATS_WS:-28080}
RUN_LIMIT=240 # outer bound on one `spate bench` process, seconds

say() { echo "compare.sh: $*" >&2; }
die() { say "$*"; exit 1; }

# --- peers -----------------------------------------------------------------
if ! command -v nats-server >/dev/null || ! command -v redis-server >/dev/null; then
    [ "$(id -u)" = 0 ] || die "nats-server/redis-server missing; run as root to apt-get install them"
    say "installing nats-server and redis-server (Debian packages)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server redis-server >/dev/null
fi
command -v python3 >/dev/null || die "python3 is needed for the summary table"

# --- spate -----------------------------------------------------------------
say "building spate (release)"
(cd "$ROOT" && cargo build --release --quiet --bin spate)
SPATE="$ROOT/target/release/spate"
SPATE_SERVE=${SPATE_SERVE:-$SPATE serve}
mkdir -p "$OUT/raw" "$OUT/logs" "$OUT/conf"
rm -f "$OUT"/raw/*.json "$OUT/rss.tsv"

# --- broker lifecycle: only what this script started, by PID ---------------
declare -A BROKER_PID=() # broker name -> PID, for the brokers of the current case
stop_brokers() {
    local name pid
    for name in "${!BROKER_PID[@]}"; do
        pid=${BROKER_PID[$name]}
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
        unset "BROKER_PID[$name]"
    done
}
trap stop_brokers EXIT
trap 'stop_brokers; exit 130' INT TERM

port_of() {
    case "$1" in
        spate) echo "$PORT_SPATE" ;; spate-block) echo "$PORT_SPATE_BLOCK" ;;
        nats) echo "$PORT_NATS" ;; redis) echo "$PORT_REDIS" ;;
        forwarder) echo "$PORT_FORWARDER" ;;
        spate-b) echo "$PORT_SPATE_B" ;; spate-b-block) echo "$PORT_SPATE_B_BLOCK" ;;
        spate-ws) echo "$PORT_SPATE_WS" ;; nats-ws) echo "$PORT_NATS_WS" ;;
    esac
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_broker NAME CASE: starts NAME fresh for CASE; sets BROKER_PID[NAME].
start_broker() {
    local name=$1 case_id=$2 port log
    port=$(port_of "$name")
    log="$OUT/logs/$case_id-$name.log"
    port_open "$port" && die "port $port is already in use: not benchmarking someone else's server"
    case "$name" in
        spate|spate-block|spate-b|spate-b-block|spate-ws)
            [[ "$name" != spate-b* ]] || [ -n "$SPATE_B" ] || die "$name needs --spate-b PATH"
            local conf="$OUT/conf/$name-$case_id.toml" listen=$port serve=$SPATE_SERVE ws=""
            # spate-ws: the WebSocket listener on the case's port, TCP on any.
            [ "$name" = spate-ws ] && listen=0 ws="ws_listen = \"127.0.0.1:$port\""
            [[ "$name" == spate-b* ]] && serve="$SPATE_B serve"
            cat >"$conf" <<EOF
# Written by benches/compare.sh for case $case_id: server defaults except
# the listener, no admin listener, and room for the wildcards case's
# subscriptions per connection.
[server]
listen = "127.0.0.1:$listen"
$ws
admin_enabled = false

[limits]
max_subscriptions_per_connection = 100000

[log]
level = "warn"
EOF
            # shellcheck disable=SC2086 # SPATE_SERVE is a command line
            $serve --config "$conf" >"$log" 2>&1 &
            ;;
        nats) nats-server -a 127.0.0.1 -p "$port" >"$log" 2>&1 & ;;
        nats-ws)
            # WebSocket on the case's port; the TCP client port is any free one.
            local conf="$OUT/conf/$name-$case_id.conf"
            printf 'listen: "127.0.0.1:-1"\nwebsocket {\n  listen: "127.0.0.1:%s"\n  no_tls: true\n}\n' \
                "$port" >"$conf"
            nats-server -c "$conf" >"$log" 2>&1 &
            ;;
        redis) redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no >"$log" 2>&1 & ;;
        # Two worker threads: like the brokers, the ceiling may use both cores.
        forwarder) "$SPATE" bench forwarder --listen "127.0.0.1:$port" --threads 2 >"$log" 2>&1 & ;;
    esac
    BROKER_PID[$name]=$!
    for _ in $(seq 100); do
        port_open "$port" && return 0
        kill -0 "${BROKER_PID[$name]}" 2>/dev/null || break
        sleep 0.1
    done
    cat "$log" >&2
    die "$name did not start listening on 127.0.0.1:$port"
}

peak_rss_kib() {
    awk '/^VmHWM:/ {print $2}' "/proc/${BROKER_PID[$1]}/status" 2>/dev/null || echo 0
}

# --- cases -----------------------------------------------------------------
# Each line: id | brokers | spate bench arguments. Message counts aim at a
# few seconds per run (full) or about one (quick).
if [ "$QUICK" = 1 ]; then D16=1000000; D1K=400000; LAT_S=2; MT=300000; BURST=50000; WILD=1000000
else D16=8000000; D1K=3000000; LAT_S=5; MT=2000000; BURST=200000; WILD=4000000; fi
CASES=()
for b in 16 1024; do
    for ps in 1x1 1x10 1x100 4x4; do
        p=${ps%x*}; s=${ps#*x}
        d=$([ "$b" = 16 ] && echo $D16 || echo $D1K)
        CASES+=("fanout-${b}B-$ps|spate spate-block nats redis forwarder|fanout -P $p -S $s -B $b -M $((d / (p * s)))")
    done
done
# WebSocket against TCP (#17): spate and nats-server each both ways.
for b in 16 1024; do
    d=$([ "$b" = 16 ] && echo $D16 || echo $D1K)
    CASES+=("ws-fanout-${b}B-1x10|spate spate-ws nats nats-ws|fanout -P 1 -S 10 -B $b -M $((d / 10))")
done
CASES+=("latency-10k-S10|spate nats redis forwarder|latency -S 10 --rate 10000 --duration $LAT_S")
CASES+=("many-topics-10000|spate nats redis|many-topics -T 10000 -C 10 -M $MT")
# The same 10,000 topics and as many messages, from 4 publishers.
CASES+=("many-topics-P4|spate nats redis|many-topics -T 10000 -C 10 -P 4 -M $((MT / 4))")
CASES+=("burst-stall|spate nats redis|burst -F 10 --slow-rate 0 -B 1024 -M $BURST --timeout 60")
if [ "$QUICK" = 0 ]; then
    CASES+=("burst-1000ps|spate nats redis|burst -F 10 --slow-rate 1000 -B 1024 -M $BURST --timeout 60")
fi
# Redis checks every pattern on every PUBLISH: with 100,000 patterns it
# manages a few hundred per second, so this case is bounded by --timeout.
CASES+=("wildcards-100000|spate nats redis|wildcards -N 100000 -C 20 -M $WILD --timeout 30")
if [ "$QUICK" = 0 ]; then
    for pol in drop-oldest drop-newest conflate disconnect block; do
        CASES+=("burst-stall-$pol|spate|burst -F 10 --slow-rate 0 -B 1024 -M $BURST --timeout 60 --policy $pol")
    done
fi

# --- run -------------------------------------------------------------------
for c in "${CASES[@]}"; do
    IFS='|' read -r id brokers args <<<"$c"
    [ -z "$ONLY" ] || [[ "$id" =~ $ONLY ]] || continue
    names=()
    # --spate-b: the second binary runs wherever spate (spate-block) runs.
    for name in $brokers; do
        case "$name" in
            spate) more="spate spate-b" ;; spate-block) more="spate-block spate-b-block" ;;
            *) more=$name ;;
        esac
        for n in $more; do
            [[ " $BROKERS " == *" $n "* ]] && names+=("$n")
        done
    done
    [ ${#names[@]} -gt 0 ] || continue
    # All brokers of the case run at once, each on its own port; the ones
    # not being measured sit idle.
    for name in "${names[@]}"; do start_broker "$name" "$id"; done
    for rep in $(seq "$REPEATS"); do
        for name in "${names[@]}"; do
            # spate-block: spate with every subscription lossless (policy
            # block), the like-for-like comparison with peers that slow the
            # publisher (NATS) or buffer (Redis) instead of dropping.
            target=$name extra=""
            case "$name" in
                spate) extra=$SPATE_BENCH_FLAGS ;;
                spate-block) target=spate extra="--policy block" ;;
                spate-b) target=spate extra=$SPATE_BENCH_FLAGS ;;
                spate-b-block) target=spate extra="--policy block" ;;
                spate-ws) target=spate extra="$SPATE_BENCH_FLAGS --ws" ;;
                nats-ws) target=nats extra="--ws" ;;
            esac
            say "$id $name run $rep/$REPEATS"
            raw="$OUT/raw/$id--$name--$rep.json"
            # shellcheck disable=SC2086 # word splitting of the argument lists is intended
            if ! timeout "$RUN_LIMIT" "$SPATE" bench $args $extra --broker "$target" \
                --addr "127.0.0.1:$(port_of "$name")" --broker-pid "${BROKER_PID[$name]}" \
                --threads "$GEN_THREADS" --json >"$raw" 2>>"$OUT/logs/$id-$name.bench.log"; then
                say "$id $name run $rep failed (see $OUT/logs/$id-$name.bench.log)"
                rm -f "$raw"
            fi
        done
    done
    for name in "${names[@]}"; do
        printf '%s\t%s\t%s\n' "$id" "$name" "$(peak_rss_kib "$name")" >>"$OUT/rss.tsv"
    done
    stop_brokers
done

# --- summary ---------------------------------------------------------------
python3 - "$OUT" "$REPEATS" "$QUICK" <<'PY' | tee "$OUT/table.txt"
import glob, json, os, statistics, sys
from collections import defaultdict

out, repeats, quick = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
ALL = ["spate", "spate-b", "spate-block", "spate-b-block", "spate-ws", "nats", "nats-ws",
       "redis", "forwarder"]
# Ratio columns: (header, numerator, denominator), shown when both ran.
PAIRS = [("spate/nats", "spate", "nats"), ("spate/redis", "spate", "redis"),
         ("block/nats", "spate-block", "nats"), ("block/redis", "spate-block", "redis"),
         ("spate/b", "spate", "spate-b"), ("block/b-block", "spate-block", "spate-b-block"),
         ("ws/tcp", "spate-ws", "spate"), ("ws/nats-ws", "spate-ws", "nats-ws"),
         ("nats ws/tcp", "nats-ws", "nats")]

runs = defaultdict(list)  # (case, broker) -> [report]
for f in sorted(glob.glob(os.path.join(out, "raw", "*.json"))):
    case, broker, _ = os.path.basename(f)[:-5].split("--")
    try:
        with open(f) as fh:
            runs[(case, broker)].append(json.load(fh))
    except (OSError, ValueError):
        pass
ran = {b for (_, b) in runs}
BROKERS = [b for b in ALL if b in ran]
PAIRS = [p for p in PAIRS if p[1] in ran and p[2] in ran]
cases, rss = [], {}  # cases in the order they ran
for line in open(os.path.join(out, "rss.tsv")):
    case, broker, kib = line.rstrip("\n").split("\t")
    rss[(case, broker)] = int(kib or 0) / 1024
    if case not in cases:
        cases.append(case)

def first(r): return r["phases"][0]
def last(r): return r["phases"][-1]
def slow_accounted(r):
    s = last(r)["slow"]
    return 100 * (s["delivered"] + s["gaps_reported"]) / max(1, s["expected"])

# Per scenario: (label, function of one report). For latency and RSS rows
# lower is better; everywhere else higher is.
METRICS = {
    "ws-fanout": [("delivered msg/s", lambda r: first(r)["delivered_rate"]),
                  ("lost %", lambda r: 100 * first(r)["lost"] / max(1, first(r)["expected"]))],
    "fanout": [("delivered msg/s", lambda r: first(r)["delivered_rate"]),
               ("lost %", lambda r: 100 * first(r)["lost"] / max(1, first(r)["expected"]))],
    "latency": [("p99 µs", lambda r: first(r)["latency_us"]["p99"]),
                ("p50 µs", lambda r: first(r)["latency_us"]["p50"])],
    "many-topics": [("delivered msg/s", lambda r: first(r)["delivered_rate"]),
                    ("lost %", lambda r: 100 * first(r)["lost"] / max(1, first(r)["expected"]))],
    "burst": [("fast msg/s, slow present", lambda r: last(r)["delivered_rate"]),
              ("fast kept % vs no slow", lambda r: 100 * r["comparison"]["ratio"]),
              ("fast p99 µs, slow present", lambda r: last(r)["latency_us"]["p99"]),
              ("slow delivered+announced %", slow_accounted),
              ("peak RSS MiB during phase", lambda r: last(r)["broker_peak_rss_mib"] or 0)],
    "wildcards": [("publish msg/s with N", lambda r: r["comparison"]["with"]),
                  ("kept % vs N=0", lambda r: 100 * r["comparison"]["ratio"])],
}

def troubled(r):
    """Loss, a timeout, or errors outside the slow-subscriber phase."""
    return any(p["lost"] or p["truncated"] or (p["errors"] and p["name"] != "with-slow")
               for p in r["phases"])

def fmt(v):
    if v is None:
        return "-"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.1f}"

def median_of(case, broker, f):
    xs = []
    for r in runs.get((case, broker), []):
        try:
            xs.append(f(r))
        except (KeyError, TypeError, IndexError, ZeroDivisionError):
            pass
    return statistics.median(xs) if xs else None

mode = " (quick mode)" if quick else ""
print(f"spate vs nats-server vs redis-server: medians of {repeats} runs{mode}")
if "spate-b" in ran:
    print("spate-b: the second spate binary (--spate-b), same generator")
hdr = (f"{'case':<19} {'metric':<26} " + " ".join(f"{b:>11}" for b in BROKERS)
       + "".join(f" {h:>11}" for h, _, _ in PAIRS))
print(hdr)
print("-" * len(hdr))
notes = []
for case in cases:
    scen = next(s for s in METRICS if case.startswith(s))
    for label, f in METRICS[scen]:
        v = {b: median_of(case, b, f) for b in BROKERS}
        def ratio(a, o):
            return f"{v[a] / v[o]:.2f}x" if v[a] is not None and v[o] else "-"
        print(f"{case:<19} {label:<26} " + " ".join(f"{fmt(v[b]):>11}" for b in BROKERS)
              + "".join(f" {ratio(a, o):>11}" for _, a, o in PAIRS))
    for b in BROKERS:
        rs = runs.get((case, b), [])
        if (case, b) in rss and len(rs) < repeats:
            notes.append(f"{case} {b}: {len(rs)} of {repeats} runs produced a report")
        bad = [r for r in rs if troubled(r)]
        if bad:
            p = next(p for p in bad[0]["phases"] if p["lost"] or p["truncated"] or p["errors"])
            notes.append(f"{case} {b}: {len(bad)}/{len(rs)} runs had loss/timeouts/errors, e.g. "
                         f"phase {p['name']}: lost {p['lost']}, announced {p['gaps_reported']}, "
                         f"truncated {p['truncated']}, errors {p['errors'][:2]}")
print()
print(f"{'peak RSS MiB (VmHWM)':<46} " + " ".join(f"{b:>11}" for b in BROKERS))
for case in cases:
    print(f"{case:<46} " + " ".join(f"{fmt(rss.get((case, b))):>11}" for b in BROKERS))
print()
cpu = defaultdict(list)
for (case, b), rs in runs.items():
    for r in rs:
        cpu[b].append(max(p["gen_cpu_pct"] for p in r["phases"]))
print("generator CPU, % of one core (max phase per run): "
      + "; ".join(f"vs {b}: median {fmt(statistics.median(x))}, max {fmt(max(x))}"
                  for b, x in sorted(cpu.items())))
for n in notes:
    print("note:", n)
PY
say "raw results in $OUT/raw, table in $OUT/table.txt"
