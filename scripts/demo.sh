#!/usr/bin/env bash
# The main job on the embedded default: PostgreSQL 15 + the CDF emulator on loopback.
# Builds and installs cdf_fdw, starts both services, creates the gateway objects, COPYs
# examples/assets.csv into the assets foreign table and prints what arrived in CDF.
#   scripts/demo.sh         run it (services keep running afterwards, for you to play with)
#   scripts/demo.sh stop    stop both services
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh

PG_PORT=${CDF_FDW_DEMO_PG_PORT:-55432}
EMULATOR_PORT=${CDF_FDW_DEMO_EMULATOR_PORT:-54080}
EMULATOR_URL="http://127.0.0.1:$EMULATOR_PORT"

if [[ ${1:-} == stop ]]; then
  stop_postgres demo
  stop_emulator demo
  echo "demo stopped"
  exit 0
fi

scripts/setup.sh
echo "== building and installing cdf_fdw (release)"
cargo pgrx install --release --pg-config "$PGRX_PG_CONFIG_PATH" >/dev/null
build_emulator

echo "== starting PostgreSQL on 127.0.0.1:$PG_PORT and the CDF emulator on $EMULATOR_URL"
start_postgres demo "$PG_PORT"
start_emulator demo "$EMULATOR_PORT"
curl -fsS -X POST "$EMULATOR_URL/_admin/reset" >/dev/null

PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres)
"${PSQL[@]}" <<SQL
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS cdf_fdw CASCADE;
DROP SCHEMA IF EXISTS cdf_tables CASCADE;
CREATE EXTENSION cdf_fdw;
CREATE SERVER cdf FOREIGN DATA WRAPPER cdf_fdw OPTIONS (
  base_url  '$EMULATOR_URL',
  project   'demo',
  token_url '$EMULATOR_URL/oauth2/token',
  scopes    '$EMULATOR_URL/.default');
CREATE USER MAPPING FOR CURRENT_USER SERVER cdf
  OPTIONS (client_id 'demo-client', client_secret 'demo-secret');
CREATE SCHEMA cdf_tables;
IMPORT FOREIGN SCHEMA cdf LIMIT TO (assets) FROM SERVER cdf INTO cdf_tables;
SQL

echo "== COPY examples/assets.csv into cdf_tables.assets"
"${PSQL[@]}" -c "\\copy cdf_tables.assets (external_id, name, parent_external_id, description, source, metadata) FROM 'examples/assets.csv' (FORMAT csv, HEADER true)"

echo "== what arrived in CDF (read back from the emulator)"
CDF_EMULATOR_URL=$EMULATOR_URL .venv/bin/python tests/tools/emulator_dump.py items assets \
  externalId,name,parentId,rootId,description,source,metadata
CDF_EMULATOR_URL=$EMULATOR_URL .venv/bin/python tests/tools/emulator_dump.py stats "POST /assets"

echo "== the same, through SELECT on the foreign table"
"${PSQL[@]}" -c "SELECT external_id, name, parent_id IS NOT NULL AS has_parent, metadata FROM cdf_tables.assets ORDER BY id"

cat <<EOF
PostgreSQL (127.0.0.1:$PG_PORT, user postgres) and the emulator ($EMULATOR_URL) are still running:
  psql -h 127.0.0.1 -p $PG_PORT -U postgres
Stop them with: scripts/demo.sh stop
EOF
