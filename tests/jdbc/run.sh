#!/usr/bin/env bash
# JDBC client test (pgjdbc from Debian's libpostgresql-jdbc-java): PreparedStatement batches with
# reWriteBatchedInserts=false and =true into cdf_tables.assets and cdf_tables.double_datapoints,
# checked through the CDF emulator's admin API. Resets the emulator itself.
#
# Expects the cluster, the emulator and the gateway (extension, server cdf, user mapping, schema
# cdf_tables imported) to exist already, as scripts/test.sh sets them up, and reads:
#   PGHOST PGPORT PGDATABASE PGUSER [PGPASSWORD]   where the gateway lives
#   CDF_EMULATOR_URL                               the emulator behind server cdf
#   CDF_PROJECT                                    default demo
# Prints one line per check and "N passed, M failed"; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
JAR=${PGJDBC_JAR:-/usr/share/java/postgresql.jar}
OUT=.run/jdbc
if [[ ! -f $JAR ]]; then
  echo "pgjdbc not found at $JAR (apt-get install libpostgresql-jdbc-java)" >&2
  exit 2
fi
: "${CDF_EMULATOR_URL:?set CDF_EMULATOR_URL to the emulator behind server cdf}"
mkdir -p "$OUT"
javac -nowarn -encoding UTF-8 -cp "$JAR" -d "$OUT" tests/jdbc/JdbcBatchTest.java
exec java -Dfile.encoding=UTF-8 -Dstdout.encoding=UTF-8 -cp "$OUT:$JAR" JdbcBatchTest
