#!/usr/bin/env bash
# Measures the emulator's ingest rates: builds the release emulator and load generator, starts
# the emulator on a free loopback port, drives datapoint and RAW inserts at CDF's maximum batch
# sizes and prints points/s and rows/s — once flat out (default flags) and once with
# `--profile cdf` (CDF's latency and rate/concurrency limits, see crates/cdf-emulator/README.md).
#   bench/emulator_load.sh [--seconds N] [--connections N] [--mode datapoints|raw|both]
# BENCH_PROFILES="fast cdf" (default) chooses the runs; each name is passed as --profile NAME.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p cdf-emulator --bins
bin="$CARGO_TARGET_DIR/release"
out=$(mktemp)
emu_pid=
trap '[ -n "$emu_pid" ] && kill $emu_pid 2>/dev/null; rm -f "$out"' EXIT
for profile in ${BENCH_PROFILES:-fast cdf}; do
  echo "== emulator --profile $profile"
  "$bin/cdf-emulator" --listen 127.0.0.1:0 --profile "$profile" >"$out" 2>&1 &
  emu_pid=$!
  for _ in $(seq 400); do grep -q "listening on" "$out" && break; sleep 0.05; done
  url=$(sed -n 's/^cdf-emulator listening on //p' "$out")
  [ -n "$url" ] || { cat "$out"; exit 1; }
  "$bin/emulator-load" --url "$url" "$@"
  kill "$emu_pid" 2>/dev/null || true
  wait "$emu_pid" 2>/dev/null || true
  emu_pid=
done
