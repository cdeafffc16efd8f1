#!/usr/bin/env bash
# benches/redis-engine.sh — spate on the Redis engine (3 nodes + one
# redis-server) against one spate node on the memory engine, with the
# same `spate bench` runs: fanout 1 publisher × 10 subscribers and 10,000
# topics, at a fixed rate. For the Redis engine it also counts what one
# publish costs in Redis: EVALSHA calls (one per publish run) per message,
# from INFO commandstats. Results: benches/README.md, "Redis engine".
#
# The bench's publishers and subscribers all use node 1; nodes 2 and 3 are
# subscribed to nothing, so every message still makes the round trip
# node 1 → Redis → node 1 (the path a cross-node delivery takes too).
#
# Usage: benches/redis-engine.sh [RATE]   (default 20000 msgs/s)
# Environment: PORT_REDIS (26390), PORT_BASE (27440: memory node; +1..+3
# the Redis nodes), OUT (target/redis-engine), SPATE_BIN (a built spate
# binary to use instead of building target/release/spate).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RATE=${1:-20000}
PORT_REDIS=${PORT_REDIS:-26390}
PORT_BASE=${PORT_BASE:-27440}
OUT=${OUT:-$ROOT/target/redis-engine}
mkdir -p "$OUT"
say() { echo "redis-engine.sh: $*" >&2; }

command -v redis-server >/dev/null || { say "redis-server missing (apt-get install redis-server)"; exit 1; }
if [ -z "${SPATE_BIN:-}" ]; then (cd "$ROOT" && cargo build --release --quiet --bin spate); fi
SPATE=${SPATE_BIN:-$ROOT/target/release/spate}

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 100); do port_open "$1" && return 0; sleep 0.1; done; say "port $1 did not open"; exit 1; }

node() { # node PORT KIND
    local conf="$OUT/node-$1.toml"
    cat >"$conf" <<CONF
[server]
listen = "127.0.0.1:$1"
admin_enabled = false
[limits]
max_subscriptions_per_connection = 100000
[engine]
kind = "$2"
url = "redis://127.0.0.1:$PORT_REDIS"
[log]
level = "warn"
CONF
    "$SPATE" serve --config "$conf" >"$OUT/node-$1.log" 2>&1 &
    PIDS+=($!)
    wait_port "$1"
}

redis-server --bind 127.0.0.1 --port "$PORT_REDIS" --save '' --appendonly no >"$OUT/redis.log" 2>&1 &
PIDS+=($!)
wait_port "$PORT_REDIS"
node "$PORT_BASE" memory
for i in 1 2 3; do node $((PORT_BASE + i)) redis; done

evalsha() { redis-cli -p "$PORT_REDIS" INFO commandstats | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p'; }

run() { # run LABEL PORT ARGS...
    local label=$1 port=$2; shift 2
    local before after
    before=$(evalsha); before=${before:-0}
    echo "== $label: spate bench $*"
    "$SPATE" bench "$@" --broker spate --addr "127.0.0.1:$port" | tee "$OUT/$label.txt"
    after=$(evalsha); after=${after:-0}
    [ "$port" != "$PORT_BASE" ] && echo "EVALSHA calls (publish runs + state writes + catch-ups): $((after - before))"
    echo
}

M=$((RATE * 5))
for target in "memory:$PORT_BASE" "redis:$((PORT_BASE + 1))"; do
    kind=${target%%:*}; port=${target#*:}
    run "$kind-fanout-1x10" "$port" fanout -P 1 -S 10 -B 128 -M "$M" --rate "$RATE"
    run "$kind-many-topics" "$port" many-topics -T 10000 -C 10 -P 1 -B 128 -M "$M" --rate "$RATE"
done
