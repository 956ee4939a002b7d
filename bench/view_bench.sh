#!/usr/bin/env bash
# View-table COPY benchmark (not a test): rows/s of a server-side COPY into a CogniteAsset view
# table (IMPORT FOREIGN SCHEMA "cdf_cdm/CogniteCore/v1"), into a typed RAW table, and into raw_rows
# for comparison, with the emulator flat out (profile fast) and as `--profile cdf` (CDF's
# latency, processing time and limits; switched at run time with POST /_admin/realism).
#
# Uses the cdf_fdw build installed in the chosen PostgreSQL tree as it is (debug after
# scripts/test_versions.sh; `cargo pgrx install --release` first for release figures) and
# target/release/cdf-emulator.
#
#   BENCH_PG_MAJOR=16 bench/view_bench.sh
#
# Environment (defaults): BENCH_ROWS=20000, BENCH_PROFILES="fast cdf", BENCH_PG_MAJOR (Debian's
# 15 when unset), BENCH_PG_PORT=55435, BENCH_EMULATOR_PORT=54083.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
if [[ -n ${BENCH_PG_MAJOR:-} ]]; then PG_BIN=$(pg_bindir "$BENCH_PG_MAJOR"); export PG_BIN; fi
ROWS=${BENCH_ROWS:-20000}
PG_PORT=${BENCH_PG_PORT:-55435}
EMULATOR_PORT=${BENCH_EMULATOR_PORT:-54083}
export CDF_EMULATOR_URL="http://127.0.0.1:$EMULATOR_PORT"
export PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=postgres PGDATABASE=postgres
dir="$CDF_FDW_RUN/view-bench"
cleanup() { stop_postgres view-bench; stop_emulator view-bench; }
trap cleanup EXIT
[[ -x target/release/cdf-emulator ]] || build_emulator
start_postgres view-bench "$PG_PORT"
start_emulator view-bench "$EMULATOR_PORT"
install -d -o postgres -g postgres "$dir"
csv="$dir/assets-$ROWS.csv"
[[ -f $csv ]] || python3 -c "
import sys
for i in range($ROWS):
    print(f'a{i},Asset {i},generated asset number {i}')" >"$csv"
chown postgres "$csv"
psql=(psql -X -q -v ON_ERROR_STOP=1)
"${psql[@]}" <<SQL
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS cdf_fdw CASCADE;
DROP SCHEMA IF EXISTS core CASCADE;
CREATE EXTENSION cdf_fdw;
CREATE SERVER cdf FOREIGN DATA WRAPPER cdf_fdw OPTIONS (base_url '$CDF_EMULATOR_URL', project 'demo',
  token_url '$CDF_EMULATOR_URL/oauth2/token', scopes 'https://cdf/.default');
CREATE USER MAPPING FOR CURRENT_USER SERVER cdf OPTIONS (client_id 'demo-client', client_secret 'demo-secret');
CREATE SCHEMA core;
IMPORT FOREIGN SCHEMA "cdf_cdm/CogniteCore/v1" LIMIT TO ("CogniteAsset") FROM SERVER cdf INTO core
  OPTIONS (instance_space 'bench');
CREATE FOREIGN TABLE typed_assets (external_id text, name text, description text)
  SERVER cdf OPTIONS (database 'bench', table 'assets', primary_key 'external_id');
CREATE FOREIGN TABLE raw_assets (_raw_database varchar(32), _raw_table varchar(64), _raw_key text, _raw_columns json)
  SERVER cdf OPTIONS (resource 'raw_rows');
SQL
timed() { # label sql
  local t0 t1
  t0=$(date +%s.%N)
  "${psql[@]}" -c "$2" >/dev/null
  t1=$(date +%s.%N)
  python3 -c "s=$t1-$t0; print(f'  {\"$1\":<28} $ROWS rows in {s:6.2f} s = {$ROWS/s:8.0f} rows/s')"
}
for profile in ${BENCH_PROFILES:-fast cdf}; do
  curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" >/dev/null
  curl -fsS -X POST -H 'Content-Type: application/json' -d "{\"profile\": \"$profile\"}" "$CDF_EMULATOR_URL/_admin/realism" >/dev/null
  "${psql[@]}" -c "SELECT space FROM cdf.create_space('cdf', 'bench', 'view bench')" >/dev/null
  echo "== emulator profile $profile"
  timed "CogniteAsset view table" "COPY core.\"CogniteAsset\" (external_id, name, description) FROM '$csv' (FORMAT csv)"
  timed "typed RAW table" "COPY typed_assets FROM '$csv' (FORMAT csv)"
  timed "raw_rows" "INSERT INTO raw_assets SELECT 'bench2', 't', 'a' || i, json_build_object('name', 'Asset ' || i) FROM generate_series(1, $ROWS) i"
  "${psql[@]}" -At -c "SELECT 'CogniteAsset rows read back: ' || count(*) FROM core.\"CogniteAsset\""
done
