#!/usr/bin/env bash
# Runs the TypeScript client's checks: `npm ci` (dev dependencies only:
# typescript, @types/node, playwright-core), `npm run build` (tsc, strict,
# emits .d.ts), then `node --test` against the real broker binary
# (SPATE_BIN, else <repo>/target/debug/spate, built here if missing).
# The browser end-to-end test needs Chromium (installed here with apt-get
# when root) and a broker with the WebSocket listener; it says why when it
# skips. node's exit code is this script's exit code.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$here"

have_root_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if have_root_apt; then
    echo "clients/typescript/test.sh: installing nodejs and npm (apt-get)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  else
    echo "clients/typescript/test.sh: node and npm are required (Node >= 20)" >&2
    exit 1
  fi
fi
node -e 'if (Number(process.versions.node.split(".")[0]) < 20) { console.error("Node >= 20 required, found " + process.version); process.exit(1) }'

if [ -z "${SPATE_BIN:-}" ]; then
  if [ ! -x "$repo/target/debug/spate" ]; then
    echo "clients/typescript/test.sh: building the broker (cargo build --bin spate)"
    (cd "$repo" && cargo build --quiet --bin spate)
  fi
  export SPATE_BIN="$repo/target/debug/spate"
fi

if [ ! -x /usr/bin/chromium ] && [ -z "${SPATE_NO_BROWSER:-}" ] && have_root_apt; then
  echo "clients/typescript/test.sh: installing chromium for the browser test (apt-get)"
  apt-get update -qq >/dev/null || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    || echo "clients/typescript/test.sh: chromium could not be installed; the browser test will skip"
fi

echo "==> npm ci"
npm ci --no-audit --no-fund --loglevel=error
echo "==> npm run build (tsc)"
npm run --silent build
# Node 20 has WebSocket only behind a flag (Node >= 22: always); the
# WebSocket transport test uses it when the broker has --ws-listen.
flags=()
if node --experimental-websocket -e 0 >/dev/null 2>&1 && ! node -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)'; then
  flags+=(--experimental-websocket)
fi
echo "==> node --test"
node "${flags[@]}" --test --test-concurrency=1 test/
