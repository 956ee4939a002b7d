#!/usr/bin/env bash
# The suite on the PostgreSQL majors other than Debian's 15 (scripts/pg_versions.sh): for each one,
# build and install cdf_fdw into that major's tree, start a cluster of it (loopback, its own port,
# SCRAM over TCP) and run the pg_regress suite (tests/pg_regress) and the psycopg client tests
# (tests/client) against it and the CDF emulator.
#   scripts/test_versions.sh           14, 16, 17 and 18
#   scripts/test_versions.sh 16 18     only those
# scripts/test.sh runs it after the PostgreSQL 15 layers; it also runs alone (it does its own
# set-up, and touches neither Debian's PostgreSQL 15 nor the 15 suite's ports).
# CDF_FDW_VERSIONS_EMULATOR_PORT and CDF_FDW_VERSIONS_PG_PORT move its ports (parallel worktrees).
# Expected output that PostgreSQL itself prints differently on a major goes into pg_regress
# alternative files (tests/pg_regress/expected/NN_name_1.out).
set -euo pipefail
cd "$(dirname "$0")/.."
# Set-up first: env.sh (through services.sh) looks at the postgres user that set-up may create.
[[ ${CDF_FDW_SETUP_DONE:-} == 1 ]] || scripts/setup.sh
source scripts/services.sh

majors=("$@")
((${#majors[@]})) || majors=("${PG_EXTRA_MAJORS[@]}")
EMULATOR_PORT=${CDF_FDW_VERSIONS_EMULATOR_PORT:-55410}
export CDF_EMULATOR_URL="http://127.0.0.1:$EMULATOR_PORT"
export CDF_FDW_ROOT="$ROOT"
export PGHOST=127.0.0.1 PGUSER=postgres


cleanup() {
  for m in "${majors[@]}"; do PG_BIN=$(pg_bindir "$m") stop_postgres "pg$m"; done
  stop_emulator versions
}
trap cleanup EXIT

failures=()
report=()
total_start=$SECONDS
build_emulator
echo "emulator (release) ready in $((SECONDS - total_start))s"
start_emulator versions "$EMULATOR_PORT" "${TEST_EMULATOR_FLAGS[@]}"

for m in "${majors[@]}"; do
  bin=$(pg_bindir "$m")
  pg_config="$bin/pg_config"
  port=${CDF_FDW_VERSIONS_PG_PORT:-${PG_TEST_PORT[$m]}}
  log="$CDF_FDW_RUN/pg$m-install.log"
  if [[ ! -x $pg_config ]]; then
    echo "PostgreSQL $m: no tree at $bin (scripts/setup.sh fetches it)"
    failures+=("pg$m: no PostgreSQL tree")
    continue
  fi
  echo "== PostgreSQL $m ($("$pg_config" --version)): build and install cdf_fdw into $bin/.."
  t0=$SECONDS
  # pgrx-pg-sys reads the pg_config from PGRX_PG_CONFIG_PATH; it must be this major's.
  if ! PGRX_PG_CONFIG_PATH=$pg_config cargo pgrx install --pg-config "$pg_config" >"$log" 2>&1; then
    tail -40 "$log"
    failures+=("pg$m: build/install")
    continue
  fi
  build_s=$((SECONDS - t0))

  t0=$SECONDS
  PG_BIN=$bin start_postgres "pg$m" "$port"
  psql=("$bin/psql" -X -q -p "$port" -d postgres)
  "${psql[@]}" -c "DROP DATABASE IF EXISTS cdf_regress" -c "CREATE DATABASE cdf_regress"
  echo "== PostgreSQL $m: pg_regress"
  regress_out="$CDF_FDW_RUN/regress-pg$m"
  rm -rf "$regress_out" && mkdir -p "$regress_out"
  tests=$(cd tests/pg_regress/sql && ls ./*.sql | sed 's|^\./||; s/\.sql$//' | sort)
  # shellcheck disable=SC2086
  if ! "$bin/../lib/pgxs/src/test/regress/pg_regress" \
      --use-existing --host=127.0.0.1 --port="$port" --user=postgres --dbname=cdf_regress \
      --inputdir=tests/pg_regress --outputdir="$regress_out" --bindir="$bin" $tests; then
    failures+=("pg$m: pg_regress")
    head -200 "$regress_out/regression.diffs" 2>/dev/null || true
  fi
  regress_s=$((SECONDS - t0))

  t0=$SECONDS
  echo "== PostgreSQL $m: client tests (psycopg)"
  "${psql[@]}" -c "DROP DATABASE IF EXISTS cdf_clients" -c "CREATE DATABASE cdf_clients"
  PGPORT=$port PGDATABASE=cdf_clients CDF_FDW_PG_LOG="$CDF_FDW_RUN/pg$m/postgres.log" \
    .venv/bin/python -m pytest -q tests/client || failures+=("pg$m: client tests")
  PG_BIN=$bin tests/security/test_backtraces.sh || failures+=("pg$m: backtraces")
  client_s=$((SECONDS - t0))
  PG_BIN=$bin stop_postgres "pg$m"
  report+=("$(printf 'PostgreSQL %-3s build+install %4ss  pg_regress %4ss  client tests %4ss' \
    "$m" "$build_s" "$regress_s" "$client_s")")
done

echo "== per-version times"
printf '%s\n' "${report[@]}"
echo "all versions: $((SECONDS - total_start))s"
if ((${#failures[@]})); then
  echo "FAILED: ${failures[*]}"
  exit 1
fi
echo "versions ${majors[*]}: all passed"
