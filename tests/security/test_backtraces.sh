#!/usr/bin/env bash
# Issue 10 item 3: Rust backtraces never reach clients or the server log, even with
# RUST_BACKTRACE=1 and RUST_LIB_BACKTRACE=1 in the server's environment (pgrx would otherwise put
# a backtrace with build paths into the DETAIL of every error raised from Rust).
#
# Starts its own cluster with both set (socket only, in its own directory, so no port is taken),
# raises errors from every Rust path that reports one: the option validator, a data error while
# writing, a PostgreSQL error inside the extension's call, a CDF error (bad credentials) and a
# network error, and checks the client's error texts
# (with their DETAIL) and the server log for backtrace lines and build paths.
# Needs: PG_BIN (or Debian's 15), the extension installed there, CDF_EMULATOR_URL, root.
set -euo pipefail
cd "$(dirname "$0")/../.."
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
dir=$(mktemp -d /tmp/cdf_backtraces.XXXXXX)
chown postgres "$dir"
cleanup() {
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

runuser -u postgres -- "$PG_BIN/initdb" -D "$dir/data" --locale=C.UTF-8 -U postgres --auth=trust >/dev/null
RUST_BACKTRACE=1 RUST_LIB_BACKTRACE=1 runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w \
  -o "-c listen_addresses= -k $dir -c fsync=off -c log_min_messages=warning" \
  start >/dev/null
backend_env=$(tr '\0' '\n' < "/proc/$(head -1 "$dir/data/postmaster.pid")/environ" | grep -c '^RUST_\(LIB_\)\?BACKTRACE=1$' || true)
if [[ $backend_env != 2 ]]; then
  echo "the test cluster did not get RUST_BACKTRACE=1 and RUST_LIB_BACKTRACE=1 in its environment" >&2
  exit 1
fi

out=$("$PG_BIN/psql" -X -h "$dir" -U postgres -d postgres 2>&1 <<SQL || true
CREATE EXTENSION cdf_fdw;
-- The validator (an error raised from Rust).
CREATE SERVER bad FOREIGN DATA WRAPPER cdf_fdw OPTIONS (no_such_option 'x');
CREATE SERVER cdf FOREIGN DATA WRAPPER cdf_fdw OPTIONS (base_url '$CDF_EMULATOR_URL', project 'demo',
  token_url '$CDF_EMULATOR_URL/oauth2/token', scopes 'https://cdf/.default');
CREATE USER MAPPING FOR CURRENT_USER SERVER cdf OPTIONS (client_id 'demo-client', client_secret 'demo-secret');
CREATE SCHEMA cdf_tables;
IMPORT FOREIGN SCHEMA cdf LIMIT TO (raw_rows, assets) FROM SERVER cdf INTO cdf_tables;
-- A data error while writing.
INSERT INTO cdf_tables.raw_rows VALUES ('db', 't', 'k', '[1]');
-- A PostgreSQL error raised inside the extension's own call (pgrx attaches a backtrace to
-- those): a RAW row whose JSON holds \u0000, read into a jsonb column, which cannot hold it.
INSERT INTO cdf_tables.raw_rows VALUES ('db', 't', 'nul', '{"s": "a\\u0000b"}');
CREATE FOREIGN TABLE rows_as_jsonb (_raw_database text, _raw_table text, _raw_key text, _raw_columns jsonb)
  SERVER cdf OPTIONS (resource 'raw_rows');
SELECT _raw_columns FROM rows_as_jsonb WHERE _raw_database = 'db' AND _raw_table = 't';
-- A CDF error: the identity provider refuses the secret.
ALTER USER MAPPING FOR CURRENT_USER SERVER cdf OPTIONS (SET client_secret 'wrong');
SELECT count(*) FROM cdf_tables.assets;
-- A network error: nothing listens there.
CREATE SERVER closed FOREIGN DATA WRAPPER cdf_fdw OPTIONS (base_url 'http://127.0.0.1:9', project 'demo',
  token_url 'http://127.0.0.1:9/oauth2/token', scopes 'https://cdf/.default');
CREATE USER MAPPING FOR CURRENT_USER SERVER closed OPTIONS (client_id 'demo-client', client_secret 'demo-secret');
CREATE FOREIGN TABLE closed_assets (external_id text) SERVER closed OPTIONS (resource 'assets');
SELECT * FROM closed_assets;
SQL
)
errors=$(grep -c '^ERROR:' <<<"$out" || true)
# A backtrace line ("   3: cdf_fdw::..." / "at /root/.cargo/...") or a build path of this tree or of a crate.
leak='stack backtrace|^ *[0-9]+: [A-Za-z_<]|[[:space:]]at (/|\./)|\.cargo/registry|rustc/|/src/[a-z_/]+\.rs'
status=0
if [[ $errors != 5 ]]; then
  echo "expected 5 errors from the extension, got $errors:" >&2
  echo "$out" >&2
  status=1
fi
if grep -Eq "$leak" <<<"$out"; then
  echo "a backtrace or build path reached the client:" >&2
  grep -E "$leak" <<<"$out" | head -5 >&2
  status=1
fi
if grep -Eq "$leak" "$dir/postgres.log"; then
  echo "a backtrace or build path reached the server log:" >&2
  grep -E "$leak" "$dir/postgres.log" | head -5 >&2
  status=1
fi
if [[ $status == 0 ]]; then
  echo "no backtrace in $errors errors or the server log with RUST_BACKTRACE=1 RUST_LIB_BACKTRACE=1"
fi
exit $status
