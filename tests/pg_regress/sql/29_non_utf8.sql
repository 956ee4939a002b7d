-- Issue 9 item 10: a database that is not UTF8 (LATIN1, SQL_ASCII) is refused clearly at first
-- use (0A000 with a hint), before anything reaches CDF, instead of an internal error.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
\set emulator_url `echo "$CDF_EMULATOR_URL"`
\set token_url :emulator_url '/oauth2/token'
CREATE DATABASE cdf_regress_latin1 TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C';
CREATE DATABASE cdf_regress_ascii TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C';
\c cdf_regress_latin1
CREATE EXTENSION cdf_fdw;
CREATE SERVER cdf FOREIGN DATA WRAPPER cdf_fdw OPTIONS (
  base_url :'emulator_url', project 'demo', token_url :'token_url', scopes 'https://cdf/.default');
CREATE USER MAPPING FOR CURRENT_USER SERVER cdf OPTIONS (client_id 'demo-client', client_secret 'demo-secret');
CREATE FOREIGN TABLE assets (external_id text, name text) SERVER cdf OPTIONS (resource 'assets');
INSERT INTO assets VALUES ('caf' || chr(233), 'caf' || chr(233));
SELECT * FROM assets;
\set VERBOSITY sqlstate
SELECT * FROM assets;
\set VERBOSITY default
\c cdf_regress_ascii
CREATE EXTENSION cdf_fdw;
CREATE SERVER cdf FOREIGN DATA WRAPPER cdf_fdw OPTIONS (
  base_url :'emulator_url', project 'demo', token_url :'token_url', scopes 'https://cdf/.default');
CREATE USER MAPPING FOR CURRENT_USER SERVER cdf OPTIONS (client_id 'demo-client', client_secret 'demo-secret');
CREATE FOREIGN TABLE assets (external_id text, name text) SERVER cdf OPTIONS (resource 'assets');
SELECT * FROM assets;
\c cdf_regress
DROP DATABASE cdf_regress_latin1;
DROP DATABASE cdf_regress_ascii;
-- Nothing reached CDF.
\! curl -fsS "$CDF_EMULATOR_URL/_admin/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total_requests"])'
