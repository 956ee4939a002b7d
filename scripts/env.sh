# Sourced by the project's scripts: where pgrx finds PostgreSQL 15 (the default) and the other
# supported majors (scripts/pg_versions.sh), and stable cargo fingerprints.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
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

# The PostgreSQL trees of the other majors (scripts/setup.sh unpacks them here; postgres-readable).
export CDF_FDW_PGDIST=${CDF_FDW_PGDIST:-$CDF_FDW_RUN/postgresql}
source "$ROOT/scripts/pg_versions.sh"
# PGRX_HOME: a generated config.toml listing Debian's 15 and every unpacked tree (pgrx-config/
# holds the committed 15-only one, which the Dockerfile uses).
export PGRX_HOME="$CDF_FDW_PGDIST/pgrx-home"
write_pgrx_config
