#!/bin/bash
# Runs once when the postgres container initialises its data directory: the gateway objects,
# pointing at the emulator service (CDF_BASE_URL etc. override that for a real CDF project).
set -euo pipefail
: "${CDF_BASE_URL:=http://emulator:4080}" "${CDF_PROJECT:=demo}"
: "${CDF_TOKEN_URL:=$CDF_BASE_URL/oauth2/token}" "${CDF_SCOPES:=$CDF_BASE_URL/.default}"
: "${CDF_CLIENT_ID:=demo-client}" "${CDF_CLIENT_SECRET:=demo-secret}"
# Plain http is refused for hosts other than loopback unless the server allows it: the compose
# network's emulator is reached as http://emulator:4080, so allow it there (and only for http).
if [[ -z ${CDF_ALLOW_INSECURE_HTTP:-} ]]; then
  if [[ $CDF_BASE_URL == http://* ]]; then CDF_ALLOW_INSECURE_HTTP=true; else CDF_ALLOW_INSECURE_HTTP=false; fi
fi
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v base_url="$CDF_BASE_URL" -v project="$CDF_PROJECT" -v token_url="$CDF_TOKEN_URL" \
  -v scopes="$CDF_SCOPES" -v insecure="$CDF_ALLOW_INSECURE_HTTP" -v client_id="$CDF_CLIENT_ID" -v client_secret="$CDF_CLIENT_SECRET" <<'SQL'
CREATE EXTENSION cdf_fdw;
CREATE SERVER cdf FOREIGN DATA WRAPPER cdf_fdw
  OPTIONS (base_url :'base_url', project :'project', token_url :'token_url', scopes :'scopes',
           allow_insecure_http :'insecure');
CREATE USER MAPPING FOR CURRENT_USER SERVER cdf
  OPTIONS (client_id :'client_id', client_secret :'client_secret');
CREATE SCHEMA cdf_tables;
IMPORT FOREIGN SCHEMA cdf FROM SERVER cdf INTO cdf_tables;
SQL
