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
-- Compares a query over CDF tables with the same query over local copies: rows of the local
-- one, and rows either side has that the other lacks (EXCEPT ALL both ways).
CREATE FUNCTION public.differences(remote text, here text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE missing bigint; extra bigint; n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) x', here, remote) INTO missing;
  EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) x', remote, here) INTO extra;
  EXECUTE format('SELECT count(*) FROM (%s) x', here) INTO n;
  RETURN format('rows %s, missing %s, extra %s', n, missing, extra);
END $$;
-- What a batched join scan did (EXPLAIN ANALYZE): its relations, lookups and requests; NULLs for
-- the Foreign Scans of PostgreSQL's own joins.
CREATE FUNCTION public.join_scan(sql text) RETURNS TABLE (relations text, lookups numeric, requests text)
LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON, TIMING OFF, SUMMARY OFF) ' || sql INTO plan;
  RETURN QUERY SELECT n->>'Relations', (n->>'CDF Lookups')::numeric, n->>'CDF Requests'
    FROM jsonb_path_query(plan::jsonb, 'strict $.**?(@."Node Type" == "Foreign Scan")') n;
END $$;
