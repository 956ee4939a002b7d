-- Throughput options in EXPLAIN, and the statistics of dropped foreign tables.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
-- EXPLAIN of an INSERT shows the requests it keeps in flight and its batch scope, as they take
-- effect: the default (8, statement) ...
EXPLAIN (COSTS OFF) INSERT INTO cdf_tables.assets (external_id, name) VALUES ('tp-1', 'One');
-- ... max_concurrent_requests cut to CDF's documented 23 concurrent asset requests, and the
-- batch scope from the GUC ...
CREATE FOREIGN TABLE public.tp_assets (external_id text, name text) SERVER cdf
  OPTIONS (resource 'assets', max_concurrent_requests '48');
SET cdf_fdw.batch_scope = 'transaction';
EXPLAIN (COSTS OFF) INSERT INTO public.tp_assets VALUES ('tp-1', 'One');
-- ... the table option over the GUC (another table keeps the GUC's) ...
ALTER FOREIGN TABLE public.tp_assets OPTIONS (ADD batch_scope 'statement');
EXPLAIN (COSTS OFF) INSERT INTO public.tp_assets VALUES ('tp-1', 'One');
EXPLAIN (COSTS OFF) INSERT INTO cdf_tables.raw_rows VALUES ('d', 't', 'k', '{}');
-- ... and what goes one request at a time and is never batched: RETURNING, insert_mode
-- update, files.
EXPLAIN (COSTS OFF) INSERT INTO cdf_tables.assets (external_id, name) VALUES ('tp-1', 'One') RETURNING id;
ALTER FOREIGN TABLE public.tp_assets OPTIONS (ADD insert_mode 'update');
EXPLAIN (COSTS OFF) INSERT INTO public.tp_assets VALUES ('tp-1', 'One');
EXPLAIN (COSTS OFF) INSERT INTO cdf_tables.files (external_id, name) VALUES ('tp-f', 'f.txt');
RESET cdf_fdw.batch_scope;
ALTER FOREIGN TABLE public.tp_assets OPTIONS (DROP insert_mode);
-- cdf.stats of a dropped foreign table: its requests move to its server's row (foreign_table
-- NULL, as requests made for no table), so the server's sums stay whole and no row names a
-- table that is gone.
SELECT cdf.stats_reset();
INSERT INTO public.tp_assets VALUES ('tp-1', 'One'), ('tp-2', 'Two');
INSERT INTO cdf_tables.assets (external_id, name) VALUES ('tp-3', 'Three');
SELECT server, foreign_table, endpoint, requests, rows_sent FROM cdf.stats
 WHERE endpoint = 'POST /assets' ORDER BY foreign_table::text NULLS FIRST;
DROP FOREIGN TABLE public.tp_assets;
SELECT server, foreign_table, endpoint, requests, rows_sent FROM cdf.stats
 WHERE endpoint = 'POST /assets' ORDER BY foreign_table::text NULLS FIRST;
-- A second dropped table's requests add to the same server row.
CREATE FOREIGN TABLE public.tp_assets (external_id text, name text) SERVER cdf OPTIONS (resource 'assets');
INSERT INTO public.tp_assets VALUES ('tp-4', 'Four');
DROP FOREIGN TABLE public.tp_assets;
SELECT server, foreign_table, endpoint, requests, rows_sent FROM cdf.stats
 WHERE endpoint = 'POST /assets' ORDER BY foreign_table::text NULLS FIRST;
-- A table dropped in a transaction that rolls back keeps its row.
CREATE FOREIGN TABLE public.tp_kept (external_id text, name text) SERVER cdf OPTIONS (resource 'assets');
INSERT INTO public.tp_kept VALUES ('tp-5', 'Five');
BEGIN;
DROP FOREIGN TABLE public.tp_kept;
ROLLBACK;
SELECT server, foreign_table, endpoint, requests, rows_sent FROM cdf.stats
 WHERE endpoint = 'POST /assets' ORDER BY foreign_table::text NULLS FIRST;
DROP FOREIGN TABLE public.tp_kept;
