-- Shared set-up of the suite: the extension, a server and user mapping pointing at the CDF
-- emulator (its URL comes from the environment; backticks, as psql 14 has no \getenv), and every
-- built-in table.
\set emulator_url `echo "$CDF_EMULATOR_URL"`
\set token_url :emulator_url '/oauth2/token'
CREATE EXTENSION cdf_fdw;
CREATE SERVER cdf FOREIGN DATA WRAPPER cdf_fdw OPTIONS (
  base_url :'emulator_url', project 'demo', token_url :'token_url', scopes 'https://cdf/.default');
CREATE USER MAPPING FOR CURRENT_USER SERVER cdf
  OPTIONS (client_id 'demo-client', client_secret 'demo-secret');
CREATE SCHEMA cdf_tables;
IMPORT FOREIGN SCHEMA cdf FROM SERVER cdf INTO cdf_tables;
SELECT foreign_table_name FROM information_schema.foreign_tables
 WHERE foreign_table_schema = 'cdf_tables' ORDER BY 1;
\d cdf_tables.assets
-- Reports errors of a statement as SQLSTATE, message and detail, with request ids masked.
CREATE FUNCTION public.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; det text;
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
  RETURN st || ': ' || msg
      || coalesce(E'\nDETAIL: ' || nullif(regexp_replace(det, 'x-request-id: \S+', 'x-request-id: <id>'), ''), '');
END $$;
