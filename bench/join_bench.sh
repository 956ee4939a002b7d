#!/usr/bin/env bash
# Join benchmark (not a test): time series joined to their datapoints through cdf_fdw, as one
# batched join scan and as a per-row nested loop (cdf_fdw.enable_join_pushdown off), vs
# cognite-sdk `retrieve` of the same series' points against the same emulator, flat out and under
# `--profile cdf`; prints rows/s and the ratios. See bench/join_bench.py for the method. Setup as
# bench/copy_bench.sh (bench/setup.sh).
#
#   bench/join_bench.sh
#
# Environment (defaults): BENCH_JOIN_SERIES=200 BENCH_JOIN_POINTS=50 BENCH_JOIN_REPEAT=3
#   BENCH_PROFILES="fast cdf" BENCH_PG_PORT=55434 BENCH_EMULATOR_PORT=54082 BENCH_PG_MAJOR
#   BENCH_SKIP_BUILD=1 (as copy_bench.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/setup.sh

echo "== emulator profiles: ${BENCH_PROFILES:-fast cdf}"
echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (other processes share these cores)"
.venv/bin/python bench/join_bench.py
