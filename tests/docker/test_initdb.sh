#!/usr/bin/env bash
# Runs docker/initdb.sh as the postgres image would (POSTGRES_USER/POSTGRES_DB, psql over the
# environment's PGHOST/PGPORT), against the test cluster and an emulator reached under a
# non-loopback host name, as on the compose network; then writes through the gateway it made.
# Needs: PGHOST/PGPORT/PGUSER/PGPASSWORD of a running cluster, CDF_EMULATOR_URL, root (/etc/hosts).
set -euo pipefail
cd "$(dirname "$0")/../.."
name=cdf-emulator-compose
# The host name only has to resolve; what matters is that it is not a loopback name, so the
# plain-http rule applies exactly as for http://emulator:4080 in docker-compose.yml.
grep -q "[[:space:]]$name\$" /etc/hosts || echo "127.0.0.1 $name" >> /etc/hosts
port=${CDF_EMULATOR_URL##*:}
db=cdf_docker_initdb
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
POSTGRES_USER=$PGUSER POSTGRES_DB=$db CDF_BASE_URL="http://$name:$port" bash docker/initdb.sh
psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
\copy cdf_tables.assets (external_id, name, parent_external_id, description, source, metadata) FROM 'examples/assets.csv' WITH (FORMAT csv, HEADER true)
SQL
count=$(psql -X -qtA -d "$db" -c "SELECT count(*) FROM cdf_tables.assets")
expected=$(($(wc -l < examples/assets.csv) - 1))
stored=$(curl -fsS "$CDF_EMULATOR_URL/_admin/dump/demo/assets" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
psql -X -q -d postgres -c "DROP DATABASE $db"
if [[ $count != "$expected" || $stored != "$expected" ]]; then
  echo "initdb.sh gateway: expected $expected assets, SELECT saw $count, the emulator stored $stored" >&2
  exit 1
fi
echo "docker/initdb.sh made a working gateway: $stored assets written through http://$name:$port"
