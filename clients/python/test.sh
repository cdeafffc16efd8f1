#!/usr/bin/env bash
# Runs the Python client's checks: a virtualenv with the test extras from
# PyPI, mypy --strict on the package, and pytest against the real broker
# binary (SPATE_BIN, else <repo>/target/debug/spate, built here if missing).
# pytest's exit code is this script's exit code.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$here"

if [ -z "${SPATE_BIN:-}" ]; then
  if [ ! -x "$repo/target/debug/spate" ]; then
    echo "clients/python/test.sh: building the broker (cargo build --bin spate)"
    (cd "$repo" && cargo build --quiet --bin spate)
  fi
  export SPATE_BIN="$repo/target/debug/spate"
fi

venv="${SPATE_PY_VENV:-$here/.venv}"
if [ ! -x "$venv/bin/python" ]; then
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "clients/python/test.sh: installing python3-venv (apt-get)"
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv "$venv"
    else
      echo "clients/python/test.sh: python3 -m venv failed; install python3-venv" >&2
      exit 1
    fi
  fi
fi
"$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
"$venv/bin/python" -m pip install -q -e ".[test]"

echo "==> ruff (format check and lints)"
"$venv/bin/python" -m ruff format --check src tests tools bench.py
"$venv/bin/python" -m ruff check src tests tools bench.py

echo "==> mypy --strict (clients/python/src)"
"$venv/bin/python" -m mypy --strict src

echo "==> pytest (clients/python/tests, broker: $SPATE_BIN)"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider tests "$@"
