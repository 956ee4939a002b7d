# Sourced by demo.sh and test.sh: start and stop a PostgreSQL 15 cluster and the CDF emulator,
# both on loopback only, with their data and logs under $CDF_FDW_RUN/<name>/ (see env.sh).
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

# start_postgres NAME PORT: initdb (once) and start a cluster as the postgres user.
start_postgres() {
  local name=$1 port=$2 dir="$CDF_FDW_RUN/$1"
  install -d -o postgres -g postgres "$dir"
  # A cluster another major made (a benchmark run with another BENCH_PG_MAJOR) is made anew.
  if [[ -f $dir/data/PG_VERSION ]] &&
    [[ $(cat "$dir/data/PG_VERSION") != $("$PG_BIN/postgres" -V | sed -E 's/.* ([0-9]+)\..*/\1/') ]]; then
    rm -rf "$dir/data"
  fi
  if [[ ! -f $dir/data/PG_VERSION ]]; then
    # The socket is trusted; TCP needs a password (SCRAM), as logins made by cdf.create_user do.
    printf '%s\n' "$PGPASSWORD" >"$dir/pwfile" && chown postgres "$dir/pwfile"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$dir/data" --locale=C.UTF-8 -U postgres \
      --auth-local=trust --auth-host=scram-sha-256 --pwfile="$dir/pwfile" >"$dir/initdb.log"
    rm -f "$dir/pwfile"
  fi
  if runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -m fast stop >/dev/null
  fi
  # pg_stat_statements is preloaded so the security tests can check that no secret reaches it;
  # cdf_fdw so that its statistics (cdf.stats) live in shared memory, as the README tells DBAs.
  # Without RUST_BACKTRACE in its environment the server keeps Rust backtraces out of errors.
  env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c log_min_messages=warning -c shared_preload_libraries=pg_stat_statements,cdf_fdw" start >/dev/null
}

stop_postgres() {
  local dir="$CDF_FDW_RUN/$1"
  if [[ -f $dir/data/PG_VERSION ]]; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  fi
}

# The test suites' emulator draws server ids at random (seeded, so a run is reproducible): lists
# come back in no particular order, as CDF's do, so no test can rely on creation order.
TEST_EMULATOR_FLAGS=(--ids random --seed 20261202)

# start_emulator NAME PORT [extra flags]: starts target/release/cdf-emulator in the background.
start_emulator() {
  local name=$1 port=$2 dir="$CDF_FDW_RUN/$1"; shift 2
  mkdir -p "$dir"
  stop_emulator "$name"
  "$ROOT/target/release/cdf-emulator" --listen "127.0.0.1:$port" "$@" >"$dir/emulator.log" 2>&1 &
  echo $! >"$dir/emulator.pid"
  for _ in $(seq 1 100); do
    grep -q "listening on" "$dir/emulator.log" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "the CDF emulator did not start; see $dir/emulator.log" >&2
  return 1
}

stop_emulator() {
  local pidfile="$CDF_FDW_RUN/$1/emulator.pid"
  if [[ -f $pidfile ]]; then
    local pid
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    # Wait until it is gone, so its port is free for the next start.
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$pidfile"
  fi
}

build_emulator() {
  (cd "$ROOT" && cargo build --release -q -p cdf-emulator --bin cdf-emulator)
}
