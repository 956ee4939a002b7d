-- Bad input: a clear error naming table, row and column, with a proper SQLSTATE; nothing sent.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
\set VERBOSITY default
COPY cdf_tables.assets (external_id, name) FROM STDIN;
ok-1	Fine
no-name	\N
\.
SELECT try($$INSERT INTO cdf_tables.assets (external_id, name) VALUES ('long', repeat('x', 141))$$);
SELECT try($$INSERT INTO cdf_tables.assets (id, name) VALUES (7, 'has id')$$);
SELECT try($$INSERT INTO cdf_tables.assets (name, metadata) VALUES ('m', '{"n": 1}')$$);
SELECT try($$INSERT INTO cdf_tables.assets (name, metadata) VALUES ('m', '[1, 2]')$$);
SELECT try($$INSERT INTO cdf_tables.assets (name, metadata) VALUES ('m', json_build_object('k', repeat('v', 10241)))$$);
SELECT try($$INSERT INTO cdf_tables.assets (name, labels) VALUES ('m', ARRAY['a', NULL])$$);
-- None of the rejected rows reached CDF.
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /assets"
-- CDF's own rejections: the statement fails with CDF's message and what was already written.
ALTER FOREIGN TABLE cdf_tables.assets OPTIONS (ADD insert_mode 'create');
INSERT INTO cdf_tables.assets (external_id, name) VALUES ('dup', 'first');
SELECT try($$INSERT INTO cdf_tables.assets (external_id, name) VALUES ('dup', 'second')$$);
-- 1500 rows whose 1200th duplicates an existing external id: the first 1000 stay written.
SELECT try($$INSERT INTO cdf_tables.assets (external_id, name)
             SELECT CASE WHEN i = 1200 THEN 'dup' ELSE 'p-' || i END, 'P ' || i FROM generate_series(1, 1500) i$$);
SELECT count(*) FILTER (WHERE external_id LIKE 'p-%') AS partial_rows_kept FROM cdf_tables.assets;
SELECT try($$INSERT INTO cdf_tables.assets (external_id, name, parent_external_id) VALUES ('orphan', 'O', 'no-such-parent')$$);
ALTER FOREIGN TABLE cdf_tables.assets OPTIONS (DROP insert_mode);
-- Operations CDF does not have fail at plan time, never silently.
SELECT try($$UPDATE cdf_tables.labels SET name = 'x' WHERE external_id = 'dup'$$);
SELECT try($$DELETE FROM cdf_tables.data_sets WHERE external_id = 'dup'$$);
SELECT try($$UPDATE cdf_tables.extraction_pipeline_runs SET message = 'x' WHERE external_id = 'dup'$$);
