-- Values that used to end as internal errors or silent changes: each is a data error naming
-- table, row and column, or is left to PostgreSQL, or is refused when the table is created.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
-- JSON: a number beyond double precision's range is sent exactly (28_exact_numbers); nesting deeper than 128 is refused.
SELECT try($$INSERT INTO cdf_tables.raw_rows VALUES ('db', 't', 'k1', '{"n": 1e400}')$$);
SELECT try(format($$INSERT INTO cdf_tables.raw_rows VALUES ('db', 't', 'k2', %L)$$,
                  repeat('[', 200) || repeat(']', 200)));
-- RAW names and keys "." and ".." cannot be addressed in CDF's URLs: refused before sending.
SELECT try($$INSERT INTO cdf_tables.raw_rows VALUES ('db', 't', '..', '{}')$$);
SELECT try($$INSERT INTO cdf_tables.raw_rows VALUES ('.', 't', 'k', '{}')$$);
SELECT try($$INSERT INTO cdf_tables.raw_tables VALUES ('db', '..')$$);
-- Other unusual names round-trip (percent-encoded in the URL path).
INSERT INTO cdf_tables.raw_rows VALUES ('db /?#', 't.x', 'a/b?c#d%e..', '{"ok": true}');
SELECT _raw_database, _raw_table, _raw_key, _raw_columns FROM cdf_tables.raw_rows
 WHERE _raw_database = 'db /?#' AND _raw_table = 't.x' AND _raw_key = 'a/b?c#d%e..';
-- Multi-dimensional arrays are refused, not flattened.
SELECT try($$INSERT INTO cdf_tables.assets (external_id, name, labels) VALUES ('md', 'x', ARRAY[['a', 'b'], ['c', 'd']])$$);
-- Column types that cannot hold CDF's values exactly are refused at CREATE FOREIGN TABLE.
SELECT try($$CREATE FOREIGN TABLE public.narrow_ids (id integer, name text) SERVER cdf OPTIONS (resource 'assets')$$);
SELECT try($$CREATE FOREIGN TABLE public.padded (external_id char(10), name text) SERVER cdf OPTIONS (resource 'assets')$$);
-- Timestamps near PostgreSQL's upper limit: a clear error, not an overflow.
SELECT try($$INSERT INTO cdf_tables.events (external_id, start_time) VALUES ('far', '294000-01-01 00:00:00+00')$$);
-- A condition comparing a column with another type is evaluated by PostgreSQL, not pushed.
INSERT INTO cdf_tables.time_series (external_id) VALUES ('xt');
INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value)
VALUES ('xt', '2023-12-31 23:00:00+00', 1), ('xt', '2024-01-02 01:00:00+00', 2);
EXPLAIN (COSTS OFF) SELECT value FROM cdf_tables.double_datapoints WHERE external_id = 'xt' AND timestamp >= DATE '2024-01-01';
SELECT value FROM cdf_tables.double_datapoints WHERE external_id = 'xt' AND timestamp >= DATE '2024-01-01';
-- The same external id twice in one statement ends the same whatever the chunking:
-- upsert keeps the later row's values, ignore the first row, create fails.
INSERT INTO cdf_tables.assets (external_id, name, description)
SELECT CASE WHEN g IN (10, 20) THEN 'same-chunk' WHEN g IN (30, 1200) THEN 'other-chunk' ELSE 'u' || g END,
       'name ' || g, CASE WHEN g IN (10, 30) THEN 'from the first row' END
  FROM generate_series(1, 1500) g;
SELECT external_id, name, description FROM cdf_tables.assets WHERE external_id IN ('same-chunk', 'other-chunk') ORDER BY 1;
ALTER FOREIGN TABLE cdf_tables.assets OPTIONS (ADD insert_mode 'ignore');
INSERT INTO cdf_tables.assets (external_id, name)
SELECT CASE WHEN g IN (10, 20) THEN 'i-same' WHEN g IN (30, 1200) THEN 'i-other' ELSE 'i' || g END, 'name ' || g
  FROM generate_series(1, 1500) g;
SELECT external_id, name FROM cdf_tables.assets WHERE external_id IN ('i-same', 'i-other') ORDER BY 1;
ALTER FOREIGN TABLE cdf_tables.assets OPTIONS (SET insert_mode 'create');
SELECT try($$INSERT INTO cdf_tables.assets (external_id, name) SELECT CASE WHEN g IN (10, 20) THEN 'c-same' ELSE 'c' || g END, 'x' FROM generate_series(1, 50) g$$);
SELECT try($$INSERT INTO cdf_tables.assets (external_id, name) SELECT CASE WHEN g IN (10, 1200) THEN 'c-other' ELSE 'd' || g END, 'x' FROM generate_series(1, 1500) g$$);
ALTER FOREIGN TABLE cdf_tables.assets OPTIONS (DROP insert_mode);
-- A foreign table read through a view uses the view owner's user mapping, as postgres_fdw does.
DROP ROLE IF EXISTS cdf_viewer;
CREATE ROLE cdf_viewer;
CREATE VIEW public.asset_names AS SELECT external_id, name FROM cdf_tables.assets;
GRANT SELECT ON public.asset_names TO cdf_viewer;
SET ROLE cdf_viewer;
SELECT count(*) > 0 AS read_through_the_view FROM public.asset_names WHERE external_id = 'same-chunk';
SELECT try($$SELECT count(*) FROM cdf_tables.assets$$);
RESET ROLE;
DROP VIEW public.asset_names;
DROP ROLE cdf_viewer;
-- CDF names a bad item by its place in the request; the error names the statement's row.
SELECT try($$INSERT INTO cdf_tables.events (external_id, start_time, end_time)
             SELECT 'ev' || g, '2024-01-01', CASE WHEN g = 1400 THEN timestamptz '2023-01-01' ELSE '2024-02-01' END
               FROM generate_series(1, 1500) g$$);
