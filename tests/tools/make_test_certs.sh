#!/usr/bin/env bash
# make_test_certs.sh DIR: throw-away certificates for the TLS tests (tests/client/test_security.py).
#
#   ca.pem, ca.key           test CA ("cdf_fdw test CA")
#   server.pem, server.key   server certificate for 127.0.0.1 and localhost, signed by the test CA
#   expired.pem, expired.key server certificate for 127.0.0.1 and localhost, signed by the test CA,
#                            valid only in January 2020
#   other-ca.pem             an unrelated CA that signed nothing the tests serve
#
# Only the openssl CLI is needed. Keys are EC P-256 (fast; rustls/ring serves and verifies them).
# Everything is made readable by all, because the PostgreSQL server process (user postgres)
# reads ca_file.
set -euo pipefail
dir=${1:?usage: make_test_certs.sh DIR}
mkdir -p "$dir"
cd "$dir"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

cat >ca.ext <<'EOF'
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
cat >server.ext <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

# Two self-signed CAs.
for ca in ca other-ca; do
  key "$ca.key"
  openssl req -new -x509 -key "$ca.key" -out "$ca.pem" -days 30 -subj "/CN=cdf_fdw test $ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
done

# A valid server certificate signed by the test CA.
key server.key
openssl req -new -key server.key -out server.csr -subj "/CN=127.0.0.1" 2>/dev/null
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
  -extfile server.ext -out server.pem 2>/dev/null

# An expired one: `openssl ca` is the CLI way to choose the validity dates.
key expired.key
openssl req -new -key expired.key -out expired.csr -subj "/CN=127.0.0.1" 2>/dev/null
mkdir -p ca-db
: >ca-db/index.txt
echo 1000 >ca-db/serial
cat >ca.cnf <<EOF
[ca]
default_ca = test_ca
[test_ca]
dir = $PWD/ca-db
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir
certificate = $PWD/ca.pem
private_key = $PWD/ca.key
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
[any]
commonName = supplied
EOF
openssl ca -batch -notext -config ca.cnf -startdate 20200101000000Z -enddate 20200131000000Z \
  -extfile server.ext -in expired.csr -out expired.pem 2>/dev/null

rm -f ./*.csr ./*.ext ./*.srl ca.cnf && rm -rf ca-db
chmod 755 .
chmod 644 ./*.pem ./*.key
