-- Safety rules a user notices: sub-millisecond timestamps, empty strings, UPDATE/DELETE without
-- WHERE, and what a failed or rolled-back statement had already written to CDF.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
\set VERBOSITY default
-- Sub-millisecond timestamps are truncated to the millisecond by default, as the CDF SDKs do.
INSERT INTO cdf_tables.time_series (external_id, is_string) VALUES ('us', false);
INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value)
VALUES ('us', '2024-01-01 00:00:00.123456+00', 1), ('us', '2024-01-01 00:00:01.999999+00', 2);
SELECT timestamp, value FROM cdf_tables.double_datapoints WHERE external_id = 'us' ORDER BY timestamp;
-- Two source rows in the same millisecond: the later row wins (CDF overwrites by timestamp).
INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value)
VALUES ('us', '2024-01-01 00:00:02.000100+00', 3), ('us', '2024-01-01 00:00:02.000900+00', 4);
SELECT timestamp, value FROM cdf_tables.double_datapoints
 WHERE external_id = 'us' AND timestamp >= '2024-01-01 00:00:02+00' ORDER BY timestamp;
INSERT INTO cdf_tables.events (external_id, start_time, end_time)
VALUES ('ev-us', '2024-03-01 10:00:00.000999+00', '2024-03-01 11:00:00.5+00');
SELECT external_id, start_time, end_time FROM cdf_tables.events WHERE external_id = 'ev-us';
-- The table option sub_millisecond 'reject' refuses them instead.
ALTER FOREIGN TABLE cdf_tables.events OPTIONS (ADD sub_millisecond 'reject');
SELECT try($$INSERT INTO cdf_tables.events (external_id, start_time) VALUES ('ev-strict', '2024-03-01 10:00:00.000999+00')$$);
ALTER FOREIGN TABLE cdf_tables.events OPTIONS (DROP sub_millisecond);
SELECT try($$ALTER FOREIGN TABLE cdf_tables.events OPTIONS (ADD sub_millisecond 'round')$$);
-- Empty strings are refused before anything is sent, naming row and column and the remedy.
SELECT try($$INSERT INTO cdf_tables.assets (external_id, name) VALUES ('e-1', 'fine'), ('', 'no key')$$);
SELECT try($$INSERT INTO cdf_tables.assets (external_id, name, description) VALUES ('e-2', 'x', '')$$);
SELECT try($$INSERT INTO cdf_tables.assets (external_id, name, labels) VALUES ('e-3', 'x', ARRAY[''])$$);
SELECT try($$INSERT INTO cdf_tables.raw_rows (_raw_database, _raw_table, _raw_key, _raw_columns) VALUES ('db', 't', '', '{}')$$);
-- Text COPY reads an empty field as '' (not NULL): the error names the row.
\set ON_ERROR_STOP 0
COPY cdf_tables.assets (external_id, name, description) FROM STDIN;
c-1	one	first
c-2	two	
\.
\set ON_ERROR_STOP 1
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /assets"
-- String datapoints may be empty.
INSERT INTO cdf_tables.time_series (external_id, is_string) VALUES ('txt', true);
INSERT INTO cdf_tables.string_datapoints (external_id, timestamp, value) VALUES ('txt', '2024-01-01', '');
SELECT external_id, value = '' AS empty FROM cdf_tables.string_datapoints WHERE external_id = 'txt';
-- empty_strings 'null' sends optional fields as NULL; a required field is still refused.
ALTER FOREIGN TABLE cdf_tables.assets OPTIONS (ADD empty_strings 'null');
COPY cdf_tables.assets (external_id, name, description) FROM STDIN;
c-1	one	first
c-2	two	
\.
SELECT external_id, name, description FROM cdf_tables.assets WHERE external_id IN ('c-1', 'c-2') ORDER BY 1;
SELECT try($$INSERT INTO cdf_tables.assets (external_id, name) VALUES ('c-3', '')$$);
ALTER FOREIGN TABLE cdf_tables.assets OPTIONS (DROP empty_strings);
-- UPDATE and DELETE without WHERE are refused: that would change every object in the project.
SELECT try($$DELETE FROM cdf_tables.assets$$);
SELECT try($$UPDATE cdf_tables.assets SET description = 'all'$$);
SELECT count(*) AS assets_still_there FROM cdf_tables.assets;
-- A WHERE evaluated by PostgreSQL counts as a WHERE.
DELETE FROM cdf_tables.assets WHERE name LIKE 'tw%';
SELECT external_id FROM cdf_tables.assets ORDER BY 1;
-- Opting in (per session, or ALTER ROLE ... SET for an ETL role) lets it through.
SET cdf_fdw.allow_unqualified_changes = on;
DELETE FROM cdf_tables.assets;
RESET cdf_fdw.allow_unqualified_changes;
SELECT count(*) AS assets_left FROM cdf_tables.assets;
-- The extension's own check fails row 1500 of 2000: the error says 1000 rows are already in CDF.
SELECT try($$INSERT INTO cdf_tables.assets (external_id, name)
             SELECT 'n' || g, CASE WHEN g = 1500 THEN NULL ELSE 'x' END FROM generate_series(1, 2000) g$$);
SELECT count(*) AS kept FROM cdf_tables.assets;
SELECT try($$INSERT INTO cdf_tables.assets (external_id, name)
             SELECT 'm' || g, CASE WHEN g = 1500 THEN '' ELSE 'x' END FROM generate_series(1, 2000) g$$);
-- A transaction that wrote to CDF and rolls back warns that CDF kept the rows.
BEGIN;
INSERT INTO cdf_tables.assets (external_id, name) VALUES ('rb-1', 'kept'), ('rb-2', 'kept');
ROLLBACK;
SELECT external_id FROM cdf_tables.assets WHERE external_id LIKE 'rb-%' ORDER BY 1;
-- A statement that fails after writing (here PostgreSQL's own error in the source query) keeps
-- what it wrote; its WARNING is checked by tests/client/test_partial_writes.py (the order of an
-- ERROR and an abort-time WARNING in psql's output differs between PostgreSQL versions).
SET client_min_messages = error;
\set ON_ERROR_STOP 0
INSERT INTO cdf_tables.assets (external_id, name)
SELECT 'q' || g, 'x' || (1 / (1500 - g)) FROM generate_series(1, 2000) g;
\set ON_ERROR_STOP 1
RESET client_min_messages;
SELECT count(*) AS q_kept FROM cdf_tables.assets WHERE external_id LIKE 'q%';
-- A transaction that commits, and one that wrote nothing, say nothing.
BEGIN;
INSERT INTO cdf_tables.assets (external_id, name) VALUES ('ok-1', 'x');
COMMIT;
BEGIN;
SELECT count(*) > 0 AS has_assets FROM cdf_tables.assets;
ROLLBACK;
