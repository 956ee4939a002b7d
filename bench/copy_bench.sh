#!/usr/bin/env bash
# COPY benchmark (not a test): end-to-end rows/s of COPY into cdf_fdw foreign tables against the CDF
# emulator, compared with COPY of the same file into an UNLOGGED local table, plus the backend's
# peak memory for 1M and 5M datapoint rows.
#
# Builds and installs the extension (release) and the release emulator, starts PostgreSQL on
# 127.0.0.1:$BENCH_PG_PORT and the emulator on 127.0.0.1:$BENCH_EMULATOR_PORT (data and logs under
# .run/bench/), creates the gateway, generates CSV files under .run/bench/ and runs
# bench/copy_bench.py. COPY is server-side, as superuser: COPY <t> (cols) FROM '<file>' (FORMAT csv,
# HEADER true). Both services are stopped when the script exits.
#
# Each table's rows also go through cognite-sdk's insert calls against the same emulator (the
# SDK's own parallelism), and psycopg executemany of single-row INSERTs is timed in statement and
# transaction batch scope; the summary prints rows/s, the ratios and the issue-13 targets.
#
# Every table is copied twice in one run: with the emulator flat out (profile fast) and with the
# emulator as `--profile cdf` (CDF's latency, per-item/per-byte processing time and rate and
# concurrency limits answering 429; see crates/cdf-emulator/README.md). The profile is switched
# at run time with POST /_admin/realism, so one emulator process serves both; the summary lists
# every table once per profile, with the 429 answers the cdf profile gave.
#
#   bench/copy_bench.sh
#
# Environment (defaults):
#   BENCH_DATAPOINTS=1000000      rows for double_datapoints (external_id, timestamp, value)
#   BENCH_SERIES=100              time series the datapoints are spread over
#   BENCH_DATAPOINTS_BIG=5000000  rows of the second datapoints COPY (peak memory); 0 skips it
#   BENCH_ASSETS=100000           rows for assets (external_id, name, metadata)
#   BENCH_RAW_ROWS=100000         rows for raw_rows (_raw_database, _raw_table, _raw_key, _raw_columns)
#   BENCH_PROFILES="fast cdf"     emulator profiles to run, in order (the memory run uses the first)
#   BENCH_PG_PORT=55434 BENCH_EMULATOR_PORT=54082
#   BENCH_SKIP_BUILD=1            use the installed extension and target/release/cdf-emulator as they are
#   BENCH_MAX_CONCURRENT_REQUESTS the server's max_concurrent_requests (unset: the extension's defaults)
#   BENCH_PG_MAJOR=16             run on that major's tree from scripts/setup.sh instead of Debian's 15
#                                 (scripts/test_versions.sh installs a debug build there: do not
#                                 combine with BENCH_SKIP_BUILD=1 after it)
#   BENCH_EVENTS=100000 BENCH_SDK=1 BENCH_EXECUTEMANY=10000 ...  see bench/copy_bench.py
# Input files are kept in .run/bench/ and reused by later runs (delete them to regenerate).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/setup.sh

echo "== emulator profiles: ${BENCH_PROFILES:-fast cdf}"
echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (other processes share these cores)"
.venv/bin/python bench/copy_bench.py
