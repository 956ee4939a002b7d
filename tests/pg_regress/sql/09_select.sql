-- SELECT: conditions CDF can answer are pushed down (EXPLAIN shows the request); the rest is
-- filtered locally; datapoints, sequence rows and RAW rows need to know what to read.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
INSERT INTO cdf_tables.assets (external_id, name, metadata)
SELECT 'a-' || i, 'Asset ' || i, json_build_object('even', (i % 2 = 0)::text) FROM generate_series(1, 2500) i;
-- Whole table: CDF's parallel retrieval, 8 partitions read side by side (each under 1000 rows:
-- one request each), every row once. (How many rows each partition holds follows the random ids.)
SELECT count(*), count(DISTINCT id), min(name), max(name) FROM cdf_tables.assets;
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /assets/list" | sed -E 's/ max_items=[0-9]+//'
-- external_id = / IN / ANY go to /byids.
EXPLAIN (COSTS OFF) SELECT name FROM cdf_tables.assets WHERE external_id IN ('a-1', 'a-2') AND name LIKE 'A%';
SELECT external_id, name FROM cdf_tables.assets WHERE external_id IN ('a-1', 'a-2', 'missing') ORDER BY 1;
SELECT name FROM cdf_tables.assets WHERE external_id = ANY (ARRAY['a-7']) AND metadata->>'even' = 'false';
SELECT id AS a3_id FROM cdf_tables.assets WHERE external_id = 'a-3' \gset
SELECT external_id FROM cdf_tables.assets WHERE id = :a3_id;
SELECT count(*) FROM cdf_tables.assets WHERE external_id = NULL;
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /assets/byids"
-- Parameters are evaluated when the scan starts, also once PostgreSQL uses a generic plan.
PREPARE by_xid(text) AS SELECT name FROM cdf_tables.assets WHERE external_id = $1;
EXECUTE by_xid('a-1'); EXECUTE by_xid('a-2'); EXECUTE by_xid('a-3'); EXECUTE by_xid('a-4'); EXECUTE by_xid('a-5');
EXECUTE by_xid('a-6'); EXECUTE by_xid('a-7'); EXECUTE by_xid('a-8'); EXECUTE by_xid('a-9'); EXECUTE by_xid('a-10');
DEALLOCATE by_xid;
-- ... and in plpgsql functions.
CREATE FUNCTION asset_name(x text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN RETURN (SELECT name FROM cdf_tables.assets WHERE external_id = x); END $$;
SELECT asset_name('a-' || i) FROM generate_series(1, 8) i;
-- Joins rescan the foreign table with new values.
SELECT v.x, a.name FROM (VALUES ('a-11'), ('a-12')) v(x) JOIN LATERAL
  (SELECT name FROM cdf_tables.assets WHERE external_id = v.x) a ON true ORDER BY 1;
-- Datapoints need a series; time ranges are pushed down.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
INSERT INTO cdf_tables.time_series (external_id, is_string) VALUES ('t', false), ('u', false), ('s', true);
INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value)
SELECT 't', timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute', i FROM generate_series(0, 199999) i;
INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value) VALUES ('u', '2024-01-01 00:00:00+00', -1);
INSERT INTO cdf_tables.string_datapoints (external_id, timestamp, value) VALUES ('s', '1950-06-01 12:00:00+00', 'old');
SELECT try($$SELECT * FROM cdf_tables.double_datapoints WHERE value > 3$$);
EXPLAIN (COSTS OFF) SELECT * FROM cdf_tables.double_datapoints WHERE external_id = 't' AND timestamp >= '2024-01-01 01:00:00+00' AND timestamp < '2024-01-01 02:00:00+00';
-- count(value): aggregated locally over the raw points (count(*) would be CDF's: 23_aggregates).
SELECT count(value), min(value), max(value) FROM cdf_tables.double_datapoints
 WHERE external_id = 't' AND timestamp >= '2024-01-01 01:00:00+00' AND timestamp < '2024-01-01 02:00:00+00';
SELECT count(value), sum(value) FROM cdf_tables.double_datapoints WHERE external_id = 't';
SELECT external_id, timestamp AT TIME ZONE 'UTC', value FROM cdf_tables.double_datapoints
 WHERE external_id IN ('t', 'u') AND timestamp <= '2024-01-01 00:01:00+00' ORDER BY 1, 2;
SELECT value FROM cdf_tables.string_datapoints WHERE external_id = 's';
-- The 200,000 points of 't' (no upper time bound): a count probe first (answered per interval),
-- then windows cut where the points are, of at most a page each, fetched side by side.
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /timeseries/data/list"
-- RAW rows need database and table; a key goes to GET .../rows/{key}.
INSERT INTO cdf_tables.raw_rows SELECT 'db', 'tbl', 'k' || i, json_build_object('i', i) FROM generate_series(1, 12000) i;
SELECT try($$SELECT * FROM cdf_tables.raw_rows WHERE _raw_key = 'k1'$$);
SELECT count(*), sum((_raw_columns->>'i')::int) FROM cdf_tables.raw_rows WHERE _raw_database = 'db' AND _raw_table = 'tbl';
EXPLAIN (COSTS OFF) SELECT * FROM cdf_tables.raw_rows WHERE _raw_database = 'db' AND _raw_table = 'tbl' AND _raw_key = 'k5';
SELECT _raw_key, _raw_columns, _raw_last_updated_time IS NOT NULL AS has_time FROM cdf_tables.raw_rows
 WHERE _raw_database = 'db' AND _raw_table = 'tbl' AND _raw_key IN ('k5', 'k6', 'nope') ORDER BY 1;
SELECT count(*) FROM cdf_tables.raw_rows WHERE _raw_database = 'no-db' AND _raw_table = 'tbl';
SELECT * FROM cdf_tables.raw_databases ORDER BY 1;
SELECT * FROM cdf_tables.raw_tables ORDER BY 1, 2;
-- Sequence rows need a sequence; row ranges are pushed down.
INSERT INTO cdf_tables.sequences (external_id, columns) VALUES ('seq', '[{"externalId": "depth"}, {"externalId": "rock", "valueType": "STRING"}]');
INSERT INTO cdf_tables.sequence_rows (external_id, row_number, values)
SELECT 'seq', i, json_build_object('depth', i * 1.5, 'rock', 'r' || i) FROM generate_series(1, 20) i;
SELECT row_number, values FROM cdf_tables.sequence_rows WHERE external_id = 'seq' AND row_number BETWEEN 3 AND 5 ORDER BY 1;
-- Extraction pipeline runs need the pipeline.
SELECT try($$SELECT * FROM cdf_tables.extraction_pipeline_runs$$);
