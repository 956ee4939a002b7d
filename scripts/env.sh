# Sourced by the project's scripts: where pgrx finds PostgreSQL 15, and stable cargo fingerprints.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PGRX_HOME="$ROOT/pgrx-config"
export PGRX_PG_CONFIG_PATH=/usr/lib/postgresql/15/bin/pg_config
export PG_BIN=/usr/lib/postgresql/15/bin
# ring's build script reruns when these differ between cargo-pgrx's outer and inner builds;
# exporting the values the inner build sees keeps it from rebuilding the TLS stack every run.
export CARGO_MANIFEST_DIR="$ROOT" CARGO_PKG_NAME=cdf_fdw CARGO_PKG_VERSION_MAJOR=0 \
       CARGO_PKG_VERSION_MINOR=1 CARGO_PKG_VERSION_PATCH=0 CARGO_PKG_VERSION_PRE=
export PATH="$HOME/.cargo/bin:$PATH"
# Password of the postgres superuser of the project's own clusters (loopback only).
export PGPASSWORD=${PGPASSWORD:-postgres}
