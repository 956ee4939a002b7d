-- UPDATE and DELETE find their rows through the scan (pushed down where possible) and are sent
-- in chunks: /update with set/setNull for the updated columns, /delete by id.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
INSERT INTO cdf_tables.assets (external_id, name, description, source, metadata, labels)
SELECT 'a-' || i, 'Asset ' || i, 'old', 'erp', '{"k": "v"}', NULL FROM generate_series(1, 1500) i;
INSERT INTO cdf_tables.labels (external_id, name) VALUES ('pump', 'Pump');
EXPLAIN (COSTS OFF) UPDATE cdf_tables.assets SET description = 'new' WHERE external_id = 'a-1';
UPDATE cdf_tables.assets SET description = 'new', source = NULL, labels = ARRAY['pump'] WHERE external_id IN ('a-1', 'a-2');
SELECT external_id, name, description, source, labels, metadata FROM cdf_tables.assets WHERE external_id IN ('a-1', 'a-2', 'a-3') ORDER BY 1;
-- Clearing a map or list sets it empty (CDF has no setNull for them).
UPDATE cdf_tables.assets SET metadata = NULL, labels = NULL WHERE external_id = 'a-1';
SELECT external_id, metadata, labels FROM cdf_tables.assets WHERE external_id = 'a-1';
-- 1500 rows: two /update requests.
UPDATE cdf_tables.assets SET name = name || ' (checked)' WHERE description = 'old';
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /assets/update"
SELECT count(*) FILTER (WHERE name LIKE '%(checked)') AS checked FROM cdf_tables.assets;
-- Bad updates.
SELECT try($$UPDATE cdf_tables.assets SET name = NULL WHERE external_id = 'a-1'$$);
SELECT try($$UPDATE cdf_tables.assets SET created_time = now() WHERE external_id = 'a-1'$$);
-- DELETE by id.
EXPLAIN (COSTS OFF) DELETE FROM cdf_tables.assets WHERE external_id = 'a-1';
DELETE FROM cdf_tables.assets WHERE external_id LIKE 'a-1%';
SELECT count(*) FROM cdf_tables.assets;
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /assets/delete"
-- A prepared DELETE keeps working with a generic plan.
PREPARE del(text) AS DELETE FROM cdf_tables.assets WHERE external_id = $1;
EXECUTE del('a-20'); EXECUTE del('a-21'); EXECUTE del('a-22'); EXECUTE del('a-23'); EXECUTE del('a-24');
EXECUTE del('a-25'); EXECUTE del('a-26'); EXECUTE del('a-27'); EXECUTE del('a-28'); EXECUTE del('a-29');
DEALLOCATE del;
SELECT count(*) FROM cdf_tables.assets WHERE external_id LIKE 'a-2_';
-- Datapoints: UPDATE overwrites (or moves) points, DELETE removes their millisecond.
INSERT INTO cdf_tables.time_series (external_id) VALUES ('t');
INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value)
SELECT 't', timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second', i FROM generate_series(0, 9) i;
UPDATE cdf_tables.double_datapoints SET value = value * 10 WHERE external_id = 't' AND timestamp < '2024-01-01 00:00:03+00';
UPDATE cdf_tables.double_datapoints SET timestamp = timestamp + interval '1 hour' WHERE external_id = 't' AND value = 9;
DELETE FROM cdf_tables.double_datapoints WHERE external_id = 't' AND value BETWEEN 4 AND 6;
SELECT timestamp AT TIME ZONE 'UTC' AS utc, value FROM cdf_tables.double_datapoints WHERE external_id = 't' ORDER BY 1;
-- RAW rows: UPDATE rewrites the row, DELETE removes keys.
INSERT INTO cdf_tables.raw_rows SELECT 'db', 'tbl', 'k' || i, json_build_object('i', i) FROM generate_series(1, 5) i;
UPDATE cdf_tables.raw_rows SET _raw_columns = '{"i": 100}' WHERE _raw_database = 'db' AND _raw_table = 'tbl' AND _raw_key = 'k1';
UPDATE cdf_tables.raw_rows SET _raw_key = 'k2-renamed' WHERE _raw_database = 'db' AND _raw_table = 'tbl' AND _raw_key = 'k2';
DELETE FROM cdf_tables.raw_rows WHERE _raw_database = 'db' AND _raw_table = 'tbl' AND (_raw_columns->>'i')::int > 3;
SELECT _raw_key, _raw_columns FROM cdf_tables.raw_rows WHERE _raw_database = 'db' AND _raw_table = 'tbl' ORDER BY 1;
-- Sequence rows, labels, RAW tables and databases.
INSERT INTO cdf_tables.sequences (external_id, columns) VALUES ('seq', '[{"externalId": "depth"}]');
INSERT INTO cdf_tables.sequence_rows (external_id, row_number, values) SELECT 'seq', i, json_build_object('depth', i) FROM generate_series(1, 5) i;
DELETE FROM cdf_tables.sequence_rows WHERE external_id = 'seq' AND row_number >= 4;
UPDATE cdf_tables.sequence_rows SET values = '{"depth": 99}' WHERE external_id = 'seq' AND row_number = 1;
SELECT row_number, values FROM cdf_tables.sequence_rows WHERE external_id = 'seq' ORDER BY 1;
DELETE FROM cdf_tables.labels WHERE external_id = 'pump';
SELECT count(*) FROM cdf_tables.labels;
INSERT INTO cdf_tables.raw_tables VALUES ('db', 'second');
DELETE FROM cdf_tables.raw_tables WHERE _raw_database = 'db' AND _raw_table = 'second';
SELECT * FROM cdf_tables.raw_tables ORDER BY 1, 2;
DELETE FROM cdf_tables.raw_databases WHERE _raw_database = 'db';
SELECT count(*) FROM cdf_tables.raw_databases;
-- A hand-written table without id or external_id cannot be updated.
CREATE FOREIGN TABLE public.names_only (name text) SERVER cdf OPTIONS (resource 'assets');
SELECT try($$UPDATE public.names_only SET name = 'x'$$);
DROP FOREIGN TABLE public.names_only;
