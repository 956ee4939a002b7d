#!/usr/bin/env bash
# Read benchmark (not a test): SELECT count(*), avg(value) over the 1M points of one series
# through cdf_fdw (aggregate kept local) vs cognite-sdk `retrieve` of the same points against the
# same emulator, flat out and under `--profile cdf`; prints rows/s and the ratio. See
# bench/read_bench.py for the method. Setup as bench/copy_bench.sh (bench/setup.sh).
#
#   bench/read_bench.sh
#
# Environment (defaults): BENCH_READ_POINTS=1000000 BENCH_READ_REPEAT=3 BENCH_PROFILES="fast cdf"
#   BENCH_PG_PORT=55434 BENCH_EMULATOR_PORT=54082 BENCH_PG_MAJOR BENCH_SKIP_BUILD=1 (as copy_bench.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/setup.sh

echo "== emulator profiles: ${BENCH_PROFILES:-fast cdf}"
echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (other processes share these cores)"
.venv/bin/python bench/read_bench.py
