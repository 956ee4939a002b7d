#!/usr/bin/env bash
# Measures the emulator's ingest rates: builds the release emulator and load generator, starts
# the emulator on a free loopback port, drives datapoint and RAW inserts at CDF's maximum batch
# sizes and prints points/s and rows/s.
#   bench/emulator_load.sh [--seconds N] [--connections N] [--mode datapoints|raw|both]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p cdf-emulator --bins
bin="$CARGO_TARGET_DIR/release"
out=$(mktemp)
"$bin/cdf-emulator" --listen 127.0.0.1:0 >"$out" 2>&1 &
emu_pid=$!
trap 'kill $emu_pid 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$out" && break; sleep 0.05; done
url=$(sed -n 's/^cdf-emulator listening on //p' "$out")
[ -n "$url" ] || { cat "$out"; exit 1; }
"$bin/emulator-load" --url "$url" "$@"
