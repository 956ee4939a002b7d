#!/usr/bin/env bash
# Release packages of cdf_fdw, one per PostgreSQL major, for DBAs without a Rust toolchain:
#   dist/cdf_fdw-<version>-pg<NN>-linux-x86_64.tar.gz   lib/ (for pg_config --pkglibdir) and
#                                                         share/extension/ (for --sharedir), install.sh
#   dist/postgresql-15-cdf-fdw_<version>-1_amd64.deb     for Debian 12's postgresql-15 (dpkg-deb)
# and verifies each one in a clean PostgreSQL tree of its major (fresh from the pinned wheel, never
# Debian's system 15): install it, CREATE EXTENSION cdf_fdw, COPY rows into a foreign table and
# check that the CDF emulator received them.
#   scripts/package.sh              all majors (14 15 16 17 18)
#   scripts/package.sh 15 18        only those
#   CDF_FDW_PACKAGE_VERIFY_ONLY=1   verify the packages already in dist/ without building
set -euo pipefail
cd "$(dirname "$0")/.."
# Set-up first: env.sh (through services.sh) looks at the postgres user that set-up may create.
[[ ${CDF_FDW_SETUP_DONE:-} == 1 ]] || scripts/setup.sh
source scripts/services.sh

majors=("$@")
((${#majors[@]})) || majors=("${PG_ALL_MAJORS[@]}")
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
DIST="$ROOT/dist"
WORK="$CDF_FDW_RUN/package"
EMULATOR_PORT=${CDF_FDW_PACKAGE_EMULATOR_PORT:-55420}
EMULATOR_URL="http://127.0.0.1:$EMULATOR_PORT"
PKG_PORT=${CDF_FDW_PACKAGE_PG_PORT:-55421}
mkdir -p "$DIST" "$WORK"


# build_tarball MAJOR: cargo pgrx package (release) against that major's pg_config, re-laid out
# relative to pkglibdir/sharedir.
build_tarball() {
  local m=$1 pg_config name stage out
  pg_config=$(pg_config_for "$m")
  name="cdf_fdw-$VERSION-pg$m-linux-x86_64"
  out="$WORK/pgrx-pg$m"
  echo "== pg$m: cargo pgrx package (release)"
  rm -rf "$out"
  PGRX_PG_CONFIG_PATH=$pg_config cargo pgrx package --pg-config "$pg_config" --out-dir "$out" \
    >"$WORK/pg$m-package.log" 2>&1 || { tail -30 "$WORK/pg$m-package.log"; return 1; }
  stage="$WORK/$name"
  rm -rf "$stage" && mkdir -p "$stage/lib" "$stage/share/extension"
  cp "$out$("$pg_config" --pkglibdir)"/cdf_fdw.so "$stage/lib/"
  cp "$out$("$pg_config" --sharedir)"/extension/cdf_fdw* "$stage/share/extension/"
  strip --strip-debug "$stage/lib/cdf_fdw.so"
  cat >"$stage/install.sh" <<'SH'
#!/bin/sh
# Installs cdf_fdw into the PostgreSQL whose pg_config is given (default: pg_config on PATH).
set -eu
PG_CONFIG=${1:-pg_config}
here=$(cd "$(dirname "$0")" && pwd)
want=$(cat "$here/PG_MAJOR")
have=$("$PG_CONFIG" --version | sed 's/^PostgreSQL \([0-9]*\).*/\1/')
[ "$want" = "$have" ] || { echo "this package is for PostgreSQL $want, $PG_CONFIG is $have" >&2; exit 1; }
install -m 755 "$here/lib/cdf_fdw.so" "$("$PG_CONFIG" --pkglibdir)/"
install -m 644 "$here"/share/extension/cdf_fdw* "$("$PG_CONFIG" --sharedir)/extension/"
echo "cdf_fdw installed into $("$PG_CONFIG" --pkglibdir) and $("$PG_CONFIG" --sharedir)/extension"
SH
  chmod 755 "$stage/install.sh"
  echo "$m" >"$stage/PG_MAJOR"
  tar -C "$WORK" -czf "$DIST/$name.tar.gz" --owner=0 --group=0 "$name"
  echo "   $DIST/$name.tar.gz"
}

# build_deb: the 15 tarball's files at Debian's paths for postgresql-15.
build_deb() {
  local stage="$WORK/deb" name="postgresql-15-cdf-fdw_$VERSION-1_amd64"
  local src="$WORK/cdf_fdw-$VERSION-pg15-linux-x86_64"
  echo "== pg15: .deb"
  rm -rf "$stage"
  install -d "$stage/DEBIAN" "$stage/usr/lib/postgresql/15/lib" "$stage/usr/share/postgresql/15/extension" \
    "$stage/usr/share/doc/postgresql-15-cdf-fdw"
  install -m 644 "$src/lib/cdf_fdw.so" "$stage/usr/lib/postgresql/15/lib/"
  install -m 644 "$src"/share/extension/* "$stage/usr/share/postgresql/15/extension/"
  install -m 644 README.md "$stage/usr/share/doc/postgresql-15-cdf-fdw/"
  cat >"$stage/DEBIAN/control" <<EOF
Package: postgresql-15-cdf-fdw
Version: $VERSION-1
Architecture: amd64
Maintainer: cdf_fdw maintainers <noreply@example.invalid>
Depends: postgresql-15, libc6 (>= 2.34), libgcc-s1
Section: database
Priority: optional
Installed-Size: $(du -sk "$stage/usr" | cut -f1)
Description: PostgreSQL 15 foreign data wrapper for Cognite Data Fusion
 cdf_fdw turns PostgreSQL into an ingestion gateway for Cognite Data Fusion:
 INSERT and COPY into foreign tables are forwarded to the CDF REST API.
EOF
  dpkg-deb --root-owner-group -Zxz --build "$stage" "$DIST/$name.deb" >/dev/null
  echo "   $DIST/$name.deb"
}

# clean_tree MAJOR DEST: a fresh tree of that major from its pinned wheel.
clean_tree() {
  unpack_pg_tree "$1" "$2"
}

# check_tree NAME BIN: start a cluster of BIN, CREATE EXTENSION, COPY three assets, compare.
check_tree() {
  local name=$1 bin=$2 psql
  rm -rf "${CDF_FDW_RUN:?}/$name"
  PG_BIN=$bin start_postgres "$name" "$PKG_PORT"
  psql=("$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PKG_PORT" -U postgres -d postgres)
  curl -fsS -X POST "$EMULATOR_URL/_admin/reset" >/dev/null
  local ok=0
  if "${psql[@]}" >"$WORK/$name.out" 2>&1 <<SQL
CREATE EXTENSION cdf_fdw;
CREATE SERVER cdf FOREIGN DATA WRAPPER cdf_fdw OPTIONS (base_url '$EMULATOR_URL', project 'demo',
  token_url '$EMULATOR_URL/oauth2/token', scopes 'https://cdf/.default');
CREATE USER MAPPING FOR CURRENT_USER SERVER cdf OPTIONS (client_id 'demo-client', client_secret 'demo-secret');
CREATE SCHEMA cdf_tables;
IMPORT FOREIGN SCHEMA cdf LIMIT TO (assets) FROM SERVER cdf INTO cdf_tables;
COPY cdf_tables.assets (external_id, name) FROM STDIN (FORMAT csv);
pkg-1,Pump 1
pkg-2,Pump 2
pkg-3,Pump 3
\.
SELECT 'server ' || current_setting('server_version') || ', extension ' || extversion FROM pg_extension WHERE extname = 'cdf_fdw';
SELECT 'select: ' || string_agg(external_id, ',' ORDER BY external_id) FROM cdf_tables.assets;
SQL
  then
    local got
    got=$(curl -fsS "$EMULATOR_URL/_admin/dump/demo/assets" | .venv/bin/python -c \
      'import json,sys; print(",".join(sorted(i["externalId"] for i in json.load(sys.stdin)["items"])))')
    if [[ $got == "pkg-1,pkg-2,pkg-3" ]] && grep -q "select: pkg-1,pkg-2,pkg-3" "$WORK/$name.out"; then
      ok=1
    fi
    echo "   $(grep -h '^ *server ' "$WORK/$name.out" | xargs); COPY of 3 rows -> emulator has: $got"
  else
    cat "$WORK/$name.out"
  fi
  PG_BIN=$bin stop_postgres "$name"
  ((ok))
}

verify_tarball() {
  local m=$1 tree="$WORK/clean-pg$m" name="cdf_fdw-$VERSION-pg$m-linux-x86_64"
  echo "== pg$m: verify $name.tar.gz in a clean PostgreSQL ${PG_DIST_VERSION[$m]} tree"
  clean_tree "$m" "$tree"
  rm -rf "$WORK/unpack" && mkdir -p "$WORK/unpack"
  tar -xzf "$DIST/$name.tar.gz" -C "$WORK/unpack"
  "$WORK/unpack/$name/install.sh" "$tree/bin/pg_config" | sed 's/^/   /'
  chmod -R a+rX "$tree"
  check_tree "pkg-pg$m" "$tree/bin"
}

# verify_deb: dpkg installs the .deb into an empty root (its own dpkg database), next to a clean
# 15 tree laid out as Debian's (bin and lib under usr/lib/postgresql/15, share under
# usr/share/postgresql/15), so the server finds the files exactly where the package put them.
verify_deb() {
  local deb root="$WORK/deb-root"
  deb="$DIST/postgresql-15-cdf-fdw_$VERSION-1_amd64.deb"
  echo "== pg15: verify $(basename "$deb") (dpkg --root) in a clean PostgreSQL ${PG_DIST_VERSION[15]} tree"
  rm -rf "$root" && mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
  touch "$root/var/lib/dpkg/status"
  # Its dependency postgresql-15 is the clean tree, which dpkg does not know of.
  dpkg --root="$root" --force-depends --log=/dev/null -i "$deb" 2>&1 | grep -v "^dpkg: warning: \(ignoring\|.*dependency\)" | sed 's/^/   /' || true
  dpkg --root="$root" -L postgresql-15-cdf-fdw | grep cdf_fdw | sed 's/^/   /'
  clean_tree 15 "$WORK/clean-deb15"
  local pg="$root/usr/lib/postgresql/15"
  mkdir -p "$pg" "$root/usr/share/postgresql/15"
  cp -a "$WORK/clean-deb15/bin" "$pg/"
  cp -an "$WORK/clean-deb15/lib/." "$pg/lib/"
  cp -an "$WORK/clean-deb15/share/." "$root/usr/share/postgresql/15/"
  ln -sfn ../../../share/postgresql/15 "$pg/share"
  chmod -R a+rX "$root"
  check_tree pkg-deb15 "$pg/bin"
}

failures=()
if [[ ${CDF_FDW_PACKAGE_VERIFY_ONLY:-} != 1 ]]; then
  for m in "${majors[@]}"; do
    t0=$SECONDS
    build_tarball "$m" || failures+=("pg$m: build")
    if [[ $m == 15 ]]; then build_deb || failures+=("pg15: deb"); fi
    echo "   pg$m packaged in $((SECONDS - t0))s"
  done
fi

build_emulator
start_emulator package "$EMULATOR_PORT"
trap 'stop_emulator package' EXIT
for m in "${majors[@]}"; do
  verify_tarball "$m" || failures+=("pg$m: tarball verification")
  if [[ $m == 15 ]]; then verify_deb || failures+=("pg15: deb verification"); fi
done

ls -la "$DIST"
if ((${#failures[@]})); then
  echo "FAILED: ${failures[*]}"
  exit 1
fi
echo "packages for ${majors[*]}: built and verified"
