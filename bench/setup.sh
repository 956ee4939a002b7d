# Shared start of the benchmarks (sourced by bench/copy_bench.sh and bench/read_bench.sh): builds
# and installs the extension (release) and the release emulator unless BENCH_SKIP_BUILD=1, starts
# PostgreSQL on 127.0.0.1:$BENCH_PG_PORT and the emulator on 127.0.0.1:$BENCH_EMULATOR_PORT (data
# and logs under .run/bench/; both stopped when the script exits), and creates the gateway: server,
# user mapping and every table in schema cdf_tables. BENCH_PG_MAJOR picks a major's tree.
source scripts/services.sh

if [[ -n ${BENCH_PG_MAJOR:-} ]]; then
  PG_BIN=$(pg_bindir "$BENCH_PG_MAJOR")
  export PG_BIN PGRX_PG_CONFIG_PATH="$PG_BIN/pg_config"
fi
PG_PORT=${BENCH_PG_PORT:-55434}
EMULATOR_PORT=${BENCH_EMULATOR_PORT:-54082}
export CDF_EMULATOR_URL="http://127.0.0.1:$EMULATOR_PORT"
export PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=postgres PGDATABASE=postgres
export BENCH_DIR="$CDF_FDW_RUN/bench" BENCH_SO="$("$PGRX_PG_CONFIG_PATH" --pkglibdir)/cdf_fdw.so"

cleanup() {
  stop_postgres bench
  stop_emulator bench
}
trap cleanup EXIT

if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  [[ -x .venv/bin/python ]] || scripts/setup.sh
  echo "== building and installing cdf_fdw (release)"
  cargo pgrx install --release --pg-config "$PGRX_PG_CONFIG_PATH" >/dev/null
  echo "== building the emulator (release)"
  build_emulator
fi

echo "== starting PostgreSQL on 127.0.0.1:$PG_PORT and the CDF emulator on $CDF_EMULATOR_URL"
start_postgres bench "$PG_PORT"
start_emulator bench "$EMULATOR_PORT"
install -d -o postgres -g postgres "$BENCH_DIR"
curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" >/dev/null

PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 <<SQL
DROP EXTENSION IF EXISTS cdf_fdw CASCADE;
DROP SCHEMA IF EXISTS cdf_tables CASCADE;
CREATE EXTENSION cdf_fdw;
CREATE SERVER cdf FOREIGN DATA WRAPPER cdf_fdw OPTIONS (
  base_url  '$CDF_EMULATOR_URL',
  project   'demo',
  token_url '$CDF_EMULATOR_URL/oauth2/token',
  scopes    'https://cdf/.default'${BENCH_MAX_CONCURRENT_REQUESTS:+,
  max_concurrent_requests '$BENCH_MAX_CONCURRENT_REQUESTS'});
CREATE USER MAPPING FOR CURRENT_USER SERVER cdf
  OPTIONS (client_id 'demo-client', client_secret 'demo-secret');
CREATE SCHEMA cdf_tables;
IMPORT FOREIGN SCHEMA cdf FROM SERVER cdf INTO cdf_tables;
SQL
