#!/usr/bin/env bash
# The whole test suite, on a fresh machine too (it does its own set-up):
#   1. cargo test of the pgrx-free crates (catalogue, client, emulator)
#   2. cargo pgrx test: #[pg_test] functions inside a PostgreSQL 15 backend
#   3. pg_regress golden files against a real cluster and the emulator
#   4. client tests: psycopg (binary COPY, the ADF "Copy command" pattern; binary-parameter
#      multi-row INSERT, the "Bulk insert" pattern) and JDBC batches
#   5. the official cognite-sdk (Python) against the emulator: its wire format, checked by a
#      client we did not write
#   6. PostgreSQL 14, 16, 17 and 18: pg_regress and the psycopg client tests against a cluster
#      of each (scripts/test_versions.sh)
# Before them, gates: cargo fmt --check, cargo clippy -D warnings over the workspace, no module cycles.
#   scripts/test.sh                    all of it
#   scripts/test.sh --only-versions    only layer 6 (leaves Debian's PostgreSQL 15 alone)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ${1:-} == --only-versions ]]; then
  exec scripts/test_versions.sh
fi
source scripts/services.sh

PG_PORT=${CDF_FDW_TEST_PG_PORT:-55433}
EMULATOR_PORT=${CDF_FDW_TEST_EMULATOR_PORT:-54081}
export CDF_EMULATOR_URL="http://127.0.0.1:$EMULATOR_PORT"
export CDF_FDW_ROOT="$ROOT"
export PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=postgres
# The test cluster's server log: security tests check that no secret reaches it.
export CDF_FDW_PG_LOG="$CDF_FDW_RUN/test/postgres.log"

scripts/setup.sh

cleanup() {
  stop_postgres test
  stop_emulator test
}
trap cleanup EXIT

failures=()
suite_start=$SECONDS

echo "== gates: cargo fmt --check, cargo clippy -D warnings"
cargo fmt --all --check || failures+=("cargo fmt")
cargo clippy -q --workspace --all-targets -- -D warnings || failures+=("cargo clippy")
# The team's module-cycle check sits beside the checkout (../shared), where CI has it too.
if [[ -f ../shared/tools/module_cycles.py ]]; then
  python3 ../shared/tools/module_cycles.py || failures+=("module cycles")
fi

echo "== 1/6 cargo test (pgrx-free crates)"
cargo test -q -p cdf-tables -p cdf-client -p cdf-emulator || failures+=("cargo test")

echo "== 2/6 cargo pgrx test (in-backend tests)"
install -d -o postgres -g postgres "$CDF_FDW_RUN/pgrx-test"
cargo pgrx test pg15 --runas postgres --pgdata "$CDF_FDW_RUN/pgrx-test" || failures+=("cargo pgrx test")

echo "== 3/6 pg_regress (SQL golden files)"
cargo pgrx install --pg-config "$PGRX_PG_CONFIG_PATH" >/dev/null
build_emulator
start_emulator test "$EMULATOR_PORT" "${TEST_EMULATOR_FLAGS[@]}"
start_postgres test "$PG_PORT"
regress_out="$CDF_FDW_RUN/regress"
rm -rf "$regress_out" && mkdir -p "$regress_out"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS cdf_regress" -c "CREATE DATABASE cdf_regress"
tests=$(cd tests/pg_regress/sql && ls *.sql | sed 's/\.sql$//' | sort)
# shellcheck disable=SC2086
if ! "$PG_BIN/../lib/pgxs/src/test/regress/pg_regress" \
    --use-existing --host=127.0.0.1 --port="$PG_PORT" --user=postgres --dbname=cdf_regress \
    --inputdir=tests/pg_regress --outputdir="$regress_out" --bindir="$PG_BIN" $tests; then
  failures+=("pg_regress")
  cat "$regress_out/regression.diffs" 2>/dev/null | head -200 || true
fi

echo "== 4/6 client tests (psycopg)"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS cdf_clients" -c "CREATE DATABASE cdf_clients"
PGDATABASE=cdf_clients .venv/bin/python -m pytest -q tests/client || failures+=("client tests")
echo "== 4/6 client tests (JDBC batches)"
PGDATABASE=cdf_clients tests/jdbc/run.sh || failures+=("jdbc tests")

echo "== 5/6 cognite-sdk against the emulator"
tests/sdk/run.sh || failures+=("cognite-sdk tests")

echo "== docker/initdb.sh makes a working gateway (emulator under a non-loopback name)"
tests/docker/test_initdb.sh || failures+=("docker initdb")

echo "== no Rust backtraces reach clients or the log with RUST_BACKTRACE=1 in the server's environment"
tests/security/test_backtraces.sh || failures+=("backtraces")

echo "== docker-compose.yml validates"
docker-compose -f docker-compose.yml config -q || failures+=("docker-compose config")

echo "== 6/6 PostgreSQL 14, 16, 17, 18 (pg_regress and psycopg per version)"
versions_start=$SECONDS
CDF_FDW_SETUP_DONE=1 scripts/test_versions.sh || failures+=("other PostgreSQL versions")
echo "layer 6 took $((SECONDS - versions_start))s"

echo "whole suite took $((SECONDS - suite_start))s"
if ((${#failures[@]})); then
  echo "FAILED: ${failures[*]}"
  exit 1
fi
echo "all test layers passed"
