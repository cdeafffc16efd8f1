#!/usr/bin/env bash
# Crash test of the storage (`fsync = "always"`): kills the real broker with
# SIGKILL CRASH_KILLS times (default 50) at random points while CAS writers
# and acked publishers run, and checks after every restart that no
# acknowledged write is lost, no revision goes backwards, no seq is reused
# and resuming subscribers get every acknowledged message
# (tests/storage_crash.rs; the debug build test-all.sh has already made). Bounded: CRASH_TIMEOUT seconds (default 180)
# for the whole loop, after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
kills="${CRASH_KILLS:-50}"
limit="${CRASH_TIMEOUT:-180}"
cargo test --test storage_crash --no-run
CRASH_KILLS="$kills" timeout "$limit" cargo test --test storage_crash -- --nocapture
