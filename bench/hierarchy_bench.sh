#!/usr/bin/env bash
# Asset-hierarchy benchmark (not a test, issue 11): one COPY of a shuffled 100k-asset hierarchy
# (children before their parents, ordered by cdf_fdw) vs the same rows sorted parents-first, vs
# cognite-sdk (Python) creating the sorted rows (assets.create_hierarchy), all against the
# emulator in one run, flat out and under its `--profile cdf` (CDF's latency and limits); prints
# rows/s and the ratios for each.
#
# Set-up as the other benchmarks (bench/setup.sh: builds unless BENCH_SKIP_BUILD=1, starts
# PostgreSQL $BENCH_PG_MAJOR and the emulator, creates the gateway), then runs
# bench/hierarchy_bench.py once per emulator profile.
#
#   bench/hierarchy_bench.sh
#
# Environment (defaults):
#   BENCH_ASSETS=100000           assets in the hierarchy (100 roots, depth up to ~40)
#   BENCH_PG_MAJOR, BENCH_PG_PORT, BENCH_EMULATOR_PORT, BENCH_SKIP_BUILD   as bench/setup.sh
#   BENCH_PROFILES="fast cdf"     the emulator profiles to run, in order
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/setup.sh

echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (other processes share these cores)"
status=0
for profile in ${BENCH_PROFILES:-fast cdf}; do
  echo "== emulator --profile $profile"
  start_emulator bench "$EMULATOR_PORT" --profile "$profile"
  .venv/bin/python bench/hierarchy_bench.py || status=1
done
exit $status
