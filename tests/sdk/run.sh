#!/usr/bin/env bash
# Runs the cognite-sdk (Python) suite against the emulator binary (set-up: scripts/setup.sh).
#   tests/sdk/run.sh [--debug] [pytest args...]
# CDF_EMULATOR_LISTEN=127.0.0.1:PORT pins the emulator's address (default: a free port).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
profile=release
if [ "${1:-}" = "--debug" ]; then profile=debug; shift; fi
if [ "$profile" = release ]; then
  (cd "$root" && cargo build --release -q -p cdf-emulator --bin cdf-emulator)
else
  (cd "$root" && cargo build -q -p cdf-emulator --bin cdf-emulator)
fi
export CDF_EMULATOR_BIN="$CARGO_TARGET_DIR/$profile/cdf-emulator"
cd "$here"
exec "$root/.venv/bin/python" -m pytest -q "$@"
