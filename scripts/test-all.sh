#!/usr/bin/env bash
# Runs every check and test of spate: formatting, lints, the whole test
# suite (unit, property, integration over real sockets, CLI binary tests),
# and the packaging checks (systemd unit verification, .deb build, unpacked
# into a scratch root and run from there). Run from anywhere:
# `bash scripts/test-all.sh`.
#
# What the tests need beyond the Rust toolchain is installed here when
# possible, and each installation is announced: systemd (as root with
# apt-get, as on CI) and cargo-deb (`cargo install cargo-deb --locked`,
# into ~/.cargo/bin, for any user). Checks whose tools are missing say
# they are skipped and why.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

have_root_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "rust-version: the declared MSRV holds for every dependency"
python3 scripts/check-rust-version.py

if ! command -v cargo-deny >/dev/null 2>&1; then
  step "installing cargo-deny into ~/.cargo/bin (cargo install --locked)"
  cargo install cargo-deny --locked --quiet
fi
step "cargo deny check bans licenses sources (deny.toml)"
cargo deny --log-level error check bans licenses sources

if ! command -v systemd-analyze >/dev/null 2>&1 && have_root_apt; then
  step "installing systemd (for systemd-analyze verify)"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null
fi

# h-redis: the Redis engine tests (tests/engine_redis.rs) start their own
# redis-server; with SPATE_REQUIRE_REDIS=1 a missing one fails them.
if ! command -v redis-server >/dev/null 2>&1 && have_root_apt; then
  step "installing redis-server (for the Redis engine tests)"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
export SPATE_REQUIRE_REDIS=1

# nats-server, for tests/bench_ws.rs (the load generator against NATS over
# WebSocket): installed as root; with SPATE_REQUIRE_NATS=1 its absence
# fails that test instead of skipping it.
if have_root_apt; then
  if ! command -v nats-server >/dev/null 2>&1; then
    step "installing nats-server (Debian package, for tests/bench_ws.rs)"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
  fi
  export SPATE_REQUIRE_NATS=1
fi

step "cargo test (workspace)"
cargo test --workspace

# h-storage: the kill -9 crash loop of the storage, bounded in kills and time.
step "storage crash test: ${CRASH_KILLS:-50} kill -9 restarts under load, at most ${CRASH_TIMEOUT:-180} s (scripts/crash-test.sh)"
bash scripts/crash-test.sh

step "Python client: mypy --strict and pytest against the broker (clients/python/test.sh)"
bash clients/python/test.sh

step "TypeScript client: tsc build and node --test against the broker (clients/typescript/test.sh)"
bash clients/typescript/test.sh

step "fuzzing: every cargo-fuzz target for ${FUZZ_SECONDS:-60} s (scripts/fuzz.sh)"
bash scripts/fuzz.sh

if [ -x packaging/test-deb.sh ] || [ -f packaging/test-deb.sh ]; then
  if ! command -v cargo-deb >/dev/null 2>&1; then
    step "installing cargo-deb into ~/.cargo/bin (cargo install cargo-deb --locked), to build the .deb"
    cargo install cargo-deb --locked
  fi
  # Unpacked into a scratch root (dpkg -x), not installed on this machine:
  # `packaging/test-deb.sh --system` does a real dpkg -i (root only).
  step "packaging: build the .deb, inspect it, unpack it into a scratch root and run spate from there"
  bash packaging/test-deb.sh
fi

step "all checks passed"
