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
# Where the project's clusters keep data and logs: .run/ in the checkout, or a folder in /tmp
# when the postgres user cannot reach the checkout (a clone under /root, say).
if runuser -u postgres -- test -r "$ROOT/Cargo.toml" 2>/dev/null; then
  export CDF_FDW_RUN=${CDF_FDW_RUN:-$ROOT/.run}
else
  export CDF_FDW_RUN=${CDF_FDW_RUN:-/tmp/cdf_fdw-run-$(printf %s "$ROOT" | md5sum | cut -c1-8)}
fi
mkdir -p "$CDF_FDW_RUN"
