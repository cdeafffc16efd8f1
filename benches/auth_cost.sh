#!/usr/bin/env bash
# What authentication costs per publish: `spate bench fanout -P 1 -S 1 -B 16`
# against three release brokers on loopback, in interleaved rounds:
#   off     auth.required = false, anonymous clients (today's default)
#   all     auth.required = true, user allowed publish/subscribe ">"
#           (the fast path: one branch per run of publishes)
#   checked auth.required = true, user allowed "bench.>" only (every
#           publish's topic checked, last decision remembered)
# Usage: benches/auth_cost.sh [ROUNDS] [MESSAGES]   (defaults 5, 4000000)
# Prints delivered msgs/s per round and the median per configuration.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
MSGS=${2:-4000000}
BIN=target/release/spate
[ -x "$BIN" ] || cargo build --release
DIR=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$DIR"; }
trap cleanup EXIT
HASH=$(printf 'bench-secret\n' | "$BIN" passwd)

start() { # name port extra-toml
    cat > "$DIR/$1.toml" <<TOML
[server]
listen = "127.0.0.1:$2"
admin_enabled = false
$3
TOML
    "$BIN" serve --config "$DIR/$1.toml" 2> "$DIR/$1.log" &
    PIDS+=($!)
}
user() { # allow-pattern
    printf '[auth]\nrequired = true\n[[auth.users]]\nname = "bench"\nsecret_hash = "%s"\npermissions.publish = { allow = ["%s"] }\npermissions.subscribe = { allow = ["%s"] }\n' "$HASH" "$1" "$1"
}
start off 17511 ""
start all 17512 "$(user '>')"
start checked 17513 "$(user 'bench.>')"
for port in 17511 17512 17513; do
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
done

declare -A RES
for r in $(seq "$ROUNDS"); do
    for cfg in off all checked; do
        case $cfg in off) port=17511; tok="";; all) port=17512; tok="bench:bench-secret";; checked) port=17513; tok="bench:bench-secret";; esac
        rate=$(SPATE_TOKEN="$tok" "$BIN" bench fanout --broker spate --addr "127.0.0.1:$port" \
            -P 1 -S 1 -B 16 -M "$MSGS" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(int(d["phases"][0]["delivered_rate"]))')
        echo "round $r $cfg $rate"
        RES[$cfg]="${RES[$cfg]:-} $rate"
    done
done
for cfg in off all checked; do
    echo "median $cfg $(printf '%s\n' ${RES[$cfg]} | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
done
