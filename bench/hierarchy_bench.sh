#!/usr/bin/env bash
# Asset-hierarchy benchmark (not a test, issue 11): one COPY of a shuffled 100k-asset hierarchy
# (children before their parents, ordered by cdf_fdw) vs the same rows sorted parents-first, vs
# cognite-sdk (Python) creating the sorted rows (assets.create_hierarchy), all against the
# emulator in one run, flat out and under its `--profile cdf` (CDF's latency and limits); prints
# rows/s and the ratios for each.
#
# Builds and installs the extension (release) into PostgreSQL $BENCH_PG_MAJOR (default 15,
# Debian's; another major uses its tree under .run/postgresql, scripts/pg_versions.sh) and the
# release emulator, starts PostgreSQL on 127.0.0.1:$BENCH_PG_PORT
# and the emulator on 127.0.0.1:$BENCH_EMULATOR_PORT (data and logs under .run/hbench/), creates
# the gateway and runs bench/hierarchy_bench.py. Both services are stopped when the script exits.
#
#   bench/hierarchy_bench.sh
#
# Environment (defaults):
#   BENCH_PG_MAJOR=15             which PostgreSQL to build for and run
#   BENCH_ASSETS=100000           assets in the hierarchy (100 roots, depth up to ~40)
#   BENCH_PG_PORT=55435 BENCH_EMULATOR_PORT=54083
#   BENCH_SKIP_BUILD=1            use the installed extension and target/release/cdf-emulator as they are
#   BENCH_PROFILES="fast cdf"     the emulator profiles to run, in order
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
if [[ ${BENCH_PG_MAJOR:-15} != 15 ]]; then
  PG_BIN=$(pg_bindir "$BENCH_PG_MAJOR")
  export PG_BIN PGRX_PG_CONFIG_PATH=$PG_BIN/pg_config
fi

PG_PORT=${BENCH_PG_PORT:-55435}
EMULATOR_PORT=${BENCH_EMULATOR_PORT:-54083}
export CDF_EMULATOR_URL="http://127.0.0.1:$EMULATOR_PORT"
export PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=postgres PGDATABASE=postgres
export BENCH_DIR="$CDF_FDW_RUN/hbench"
PSQL=$PG_BIN/psql

cleanup() {
  stop_postgres hbench
  stop_emulator hbench
}
trap cleanup EXIT

if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  [[ -x .venv/bin/python ]] || scripts/setup.sh
  echo "== building and installing cdf_fdw (release) with $PGRX_PG_CONFIG_PATH"
  cargo pgrx install --release --pg-config "$PGRX_PG_CONFIG_PATH" >/dev/null
  echo "== building the emulator (release)"
  build_emulator
fi

echo "== starting PostgreSQL on 127.0.0.1:$PG_PORT and the CDF emulator on $CDF_EMULATOR_URL"
start_postgres hbench "$PG_PORT"
start_emulator hbench "$EMULATOR_PORT" --profile fast
install -d -o postgres -g postgres "$BENCH_DIR"

PGOPTIONS="-c client_min_messages=warning" "$PSQL" -X -q -v ON_ERROR_STOP=1 <<SQL
DROP EXTENSION IF EXISTS cdf_fdw CASCADE;
DROP SCHEMA IF EXISTS cdf_tables CASCADE;
CREATE EXTENSION cdf_fdw;
CREATE SERVER cdf FOREIGN DATA WRAPPER cdf_fdw OPTIONS (
  base_url  '$CDF_EMULATOR_URL',
  project   'demo',
  token_url '$CDF_EMULATOR_URL/oauth2/token',
  scopes    'https://cdf/.default');
CREATE USER MAPPING FOR CURRENT_USER SERVER cdf
  OPTIONS (client_id 'demo-client', client_secret 'demo-secret');
CREATE SCHEMA cdf_tables;
IMPORT FOREIGN SCHEMA cdf FROM SERVER cdf INTO cdf_tables;
SQL

echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (other processes share these cores)"
status=0
for profile in ${BENCH_PROFILES:-fast cdf}; do
  echo "== emulator --profile $profile"
  start_emulator hbench "$EMULATOR_PORT" --profile "$profile"
  .venv/bin/python bench/hierarchy_bench.py || status=1
done
exit $status
