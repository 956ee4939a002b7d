-- A join of two CDF tables is one Foreign Scan: the outer side is read once, the inner side is
-- looked up once per batch of the outer rows' keys (1000 series per datapoints lookup, in
-- requests of 100; 1000 ids per byids; 100 values per list filter; one RAW key per request, side
-- by side), not once per outer row. Every condition is
-- re-checked on the joined rows, so results equal the join PostgreSQL computes over local
-- copies (EXCEPT ALL both ways).
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
-- 150 series (two datapoints requests of one lookup), 3 points each; series b-150 has none, 'x-1' is not a series
-- of the outer side.
INSERT INTO cdf_tables.time_series (external_id, name, unit)
SELECT 'b-' || i, 'Batch ' || i, CASE WHEN i % 2 = 0 THEN 'bar' ELSE 'degC' END FROM generate_series(1, 150) i;
INSERT INTO cdf_tables.time_series (external_id, name) VALUES ('x-1', 'Outside');
INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value)
SELECT 'b-' || s, timestamptz '2024-01-01 00:00+00' + p * interval '1 hour', s * 10 + p
  FROM generate_series(1, 149) s, generate_series(0, 2) p;
INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value) VALUES ('x-1', '2024-01-01 00:00+00', -1);
CREATE TEMP TABLE local_series AS SELECT * FROM cdf_tables.time_series;
CREATE TEMP TABLE local_points AS SELECT * FROM cdf_tables.double_datapoints d
 WHERE d.external_id IN (SELECT external_id FROM local_series);
ANALYZE local_series;
ANALYZE local_points;
-- Time series to their datapoints, by external id and by id.
EXPLAIN (COSTS OFF)
SELECT ts.name, d.timestamp, d.value FROM cdf_tables.time_series ts
  JOIN cdf_tables.double_datapoints d ON d.external_id = ts.external_id WHERE ts.name LIKE 'Batch%';
SELECT differences(
  $$SELECT ts.name, d.timestamp, d.value FROM cdf_tables.time_series ts JOIN cdf_tables.double_datapoints d ON d.external_id = ts.external_id WHERE ts.name LIKE 'Batch%'$$,
  $$SELECT ts.name, d.timestamp, d.value FROM local_series ts JOIN local_points d ON d.external_id = ts.external_id WHERE ts.name LIKE 'Batch%'$$);
SELECT relations, lookups FROM join_scan($$SELECT ts.name, d.timestamp, d.value FROM cdf_tables.time_series ts JOIN cdf_tables.double_datapoints d ON d.external_id = ts.external_id WHERE ts.name LIKE 'Batch%'$$);
SELECT differences(
  $$SELECT ts.external_id, d.timestamp, d.value FROM cdf_tables.time_series ts JOIN cdf_tables.double_datapoints d ON d.id = ts.id WHERE ts.unit = 'bar' AND d.timestamp >= '2024-01-01 01:00+00'$$,
  $$SELECT ts.external_id, d.timestamp, d.value FROM local_series ts JOIN local_points d ON d.external_id = ts.external_id WHERE ts.unit = 'bar' AND d.timestamp >= '2024-01-01 01:00+00'$$);
-- Aggregates over the join: grouped per series, as a dashboard query would.
SELECT ts.unit, count(*), sum(d.value), min(d.timestamp), max(d.timestamp) FROM cdf_tables.time_series ts
  JOIN cdf_tables.double_datapoints d ON d.external_id = ts.external_id GROUP BY 1 ORDER BY 1;
SELECT ts.unit, count(*), sum(d.value), min(d.timestamp), max(d.timestamp) FROM local_series ts
  JOIN local_points d ON d.external_id = ts.external_id GROUP BY 1 ORDER BY 1;
-- LIMIT above the join: PostgreSQL stops pulling rows, so one lookup is enough.
SELECT count(*) FROM (SELECT d.value FROM cdf_tables.time_series ts
  JOIN cdf_tables.double_datapoints d ON d.external_id = ts.external_id LIMIT 5) x;
SELECT relations, lookups FROM join_scan($$SELECT d.value FROM cdf_tables.time_series ts JOIN cdf_tables.double_datapoints d ON d.external_id = ts.external_id LIMIT 5$$);
-- INSERT ... SELECT copies the join into a local table.
CREATE TEMP TABLE copied (name text, ts timestamptz, value float8);
INSERT INTO copied SELECT ts.name, d.timestamp, d.value FROM cdf_tables.time_series ts
  JOIN cdf_tables.double_datapoints d ON d.external_id = ts.external_id WHERE ts.unit = 'degC';
SELECT differences($$SELECT * FROM copied$$,
  $$SELECT ts.name, d.timestamp, d.value FROM local_series ts JOIN local_points d ON d.external_id = ts.external_id WHERE ts.unit = 'degC'$$);
-- A generic plan: parameters on both sides, evaluated when the scan starts.
PREPARE unit_points(text, timestamptz) AS SELECT ts.external_id, d.timestamp, d.value FROM cdf_tables.time_series ts
  JOIN cdf_tables.double_datapoints d ON d.external_id = ts.external_id WHERE ts.unit = $1 AND d.timestamp < $2;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE unit_points('bar', '2024-01-01 01:00+00');
CREATE TEMP TABLE got AS EXECUTE unit_points('bar', '2024-01-01 01:00+00');
SELECT differences($$SELECT * FROM got$$,
  $$SELECT ts.external_id, d.timestamp, d.value FROM local_series ts JOIN local_points d ON d.external_id = ts.external_id WHERE ts.unit = 'bar' AND d.timestamp < '2024-01-01 01:00+00'$$);
DROP TABLE got;
CREATE TEMP TABLE got AS EXECUTE unit_points('degC', '2100-01-01 00:00+00');
SELECT differences($$SELECT * FROM got$$,
  $$SELECT ts.external_id, d.timestamp, d.value FROM local_series ts JOIN local_points d ON d.external_id = ts.external_id WHERE ts.unit = 'degC'$$);
RESET plan_cache_mode;
DEALLOCATE unit_points;
-- Rescans: the join as the inner side of a nested loop over a local table reads anew each time.
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
CREATE TEMP TABLE units (unit text);
INSERT INTO units VALUES ('bar'), ('degC'), ('none');
SELECT u.unit, count(*) FROM units u, (SELECT ts.unit, d.value FROM cdf_tables.time_series ts
  JOIN cdf_tables.double_datapoints d ON d.external_id = ts.external_id WHERE ts.name LIKE 'Batch 1%') j
 WHERE j.unit = u.unit OR u.unit = 'none' GROUP BY 1 ORDER BY 1;
SELECT u.unit, count(*) FROM units u, (SELECT ts.unit, d.value FROM local_series ts
  JOIN local_points d ON d.external_id = ts.external_id WHERE ts.name LIKE 'Batch 1%') j
 WHERE j.unit = u.unit OR u.unit = 'none' GROUP BY 1 ORDER BY 1;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_material;
-- Assets to their parents and children: byids by parent id, parentIds list filter by id.
INSERT INTO cdf_tables.assets (external_id, name) SELECT 'root-' || i, 'Root ' || i FROM generate_series(1, 3) i;
INSERT INTO cdf_tables.assets (external_id, name, parent_external_id)
SELECT 'kid-' || i, 'Kid ' || i, 'root-' || (1 + i % 3) FROM generate_series(1, 120) i;
CREATE TEMP TABLE local_assets AS SELECT * FROM cdf_tables.assets;
EXPLAIN (COSTS OFF)
SELECT c.external_id, p.external_id FROM cdf_tables.assets c JOIN cdf_tables.assets p ON p.id = c.parent_id WHERE c.name LIKE 'Kid%';
SELECT differences(
  $$SELECT c.external_id, p.external_id FROM cdf_tables.assets c JOIN cdf_tables.assets p ON p.id = c.parent_id WHERE c.name LIKE 'Kid%'$$,
  $$SELECT c.external_id, p.external_id FROM local_assets c JOIN local_assets p ON p.id = c.parent_id WHERE c.name LIKE 'Kid%'$$);
SELECT relations, lookups FROM join_scan($$SELECT c.external_id, p.external_id FROM cdf_tables.assets c JOIN cdf_tables.assets p ON p.id = c.parent_id WHERE c.name LIKE 'Kid%'$$);
SELECT differences(
  $$SELECT p.external_id, c.external_id FROM cdf_tables.assets p JOIN cdf_tables.assets c ON c.parent_id = p.id WHERE p.name LIKE 'Root%'$$,
  $$SELECT p.external_id, c.external_id FROM local_assets p JOIN local_assets c ON c.parent_id = p.id WHERE p.name LIKE 'Root%'$$);
-- RAW rows by key: each outer row's external id is a RAW key (missing keys join nothing).
INSERT INTO cdf_tables.raw_rows (_raw_database, _raw_table, _raw_key, _raw_columns)
SELECT 'plant', 'tags', 'b-' || i, jsonb_build_object('tag', 'T' || i) FROM generate_series(1, 140, 3) i;
EXPLAIN (COSTS OFF)
SELECT ts.external_id, r._raw_columns->>'tag' FROM cdf_tables.time_series ts
  JOIN cdf_tables.raw_rows r ON r._raw_key = ts.external_id WHERE r._raw_database = 'plant' AND r._raw_table = 'tags';
SELECT count(*), count(DISTINCT r._raw_key), min(r._raw_columns->>'tag'), max(r._raw_columns->>'tag') FROM cdf_tables.time_series ts
  JOIN cdf_tables.raw_rows r ON r._raw_key = ts.external_id WHERE r._raw_database = 'plant' AND r._raw_table = 'tags';
SELECT relations, lookups FROM join_scan($$SELECT ts.external_id FROM cdf_tables.time_series ts JOIN cdf_tables.raw_rows r ON r._raw_key = ts.external_id WHERE r._raw_database = 'plant' AND r._raw_table = 'tags'$$);
-- With few series named, the series drive and their keys are looked up in the RAW table.
EXPLAIN (COSTS OFF)
SELECT ts.external_id, r._raw_columns->>'tag' FROM cdf_tables.time_series ts
  JOIN cdf_tables.raw_rows r ON r._raw_key = ts.external_id
 WHERE r._raw_database = 'plant' AND r._raw_table = 'tags' AND ts.external_id IN ('b-1', 'b-2', 'b-4');
SELECT ts.external_id, r._raw_columns->>'tag' FROM cdf_tables.time_series ts
  JOIN cdf_tables.raw_rows r ON r._raw_key = ts.external_id
 WHERE r._raw_database = 'plant' AND r._raw_table = 'tags' AND ts.external_id IN ('b-1', 'b-2', 'b-4') ORDER BY 1;
-- Three CDF tables: one pair is a join scan, the third joins it as PostgreSQL plans.
CREATE TEMP TABLE local_raw AS SELECT * FROM cdf_tables.raw_rows WHERE _raw_database = 'plant' AND _raw_table = 'tags';
SELECT differences(
  $$SELECT ts.external_id, d.value, r._raw_columns->>'tag' FROM cdf_tables.time_series ts
      JOIN cdf_tables.double_datapoints d ON d.external_id = ts.external_id
      JOIN cdf_tables.raw_rows r ON r._raw_key = ts.external_id AND r._raw_database = 'plant' AND r._raw_table = 'tags'$$,
  $$SELECT ts.external_id, d.value, r._raw_columns->>'tag' FROM local_series ts
      JOIN local_points d ON d.external_id = ts.external_id
      JOIN local_raw r ON r._raw_key = ts.external_id$$);
-- A 503 and a 429 during the lookups are retried: no row lost or doubled.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/faults" -H 'content-type: application/json' -d '{"seed": 1, "rules": [{"endpoint": "POST /timeseries/data/list", "sequence": [{"status": 503}, {"status": 429, "retryAfter": 0}]}]}' > /dev/null
SELECT differences(
  $$SELECT ts.name, d.timestamp, d.value FROM cdf_tables.time_series ts JOIN cdf_tables.double_datapoints d ON d.external_id = ts.external_id$$,
  $$SELECT ts.name, d.timestamp, d.value FROM local_series ts JOIN local_points d ON d.external_id = ts.external_id$$);
\! curl -fsS -X DELETE "$CDF_EMULATOR_URL/_admin/faults" > /dev/null
-- Not batched: outer joins (PostgreSQL's own join, no Relations), and with the setting off.
SELECT relations, lookups FROM join_scan($$SELECT ts.name, d.value FROM cdf_tables.time_series ts
  LEFT JOIN cdf_tables.double_datapoints d ON d.external_id = ts.external_id WHERE ts.external_id IN ('b-1', 'b-150')$$);
SELECT differences(
  $$SELECT ts.name, d.value FROM cdf_tables.time_series ts LEFT JOIN cdf_tables.double_datapoints d ON d.external_id = ts.external_id WHERE ts.external_id IN ('b-1', 'b-150')$$,
  $$SELECT ts.name, d.value FROM local_series ts LEFT JOIN local_points d ON d.external_id = ts.external_id WHERE ts.external_id IN ('b-1', 'b-150')$$);
SET cdf_fdw.enable_join_pushdown = off;
EXPLAIN (COSTS OFF)
SELECT ts.name, d.value FROM cdf_tables.time_series ts
  JOIN cdf_tables.double_datapoints d ON d.external_id = ts.external_id WHERE ts.external_id = 'b-1';
RESET cdf_fdw.enable_join_pushdown;
-- Infinite time bounds: 'infinity' bounds nothing, and nothing is past it.
SELECT count(*) FROM cdf_tables.double_datapoints WHERE external_id = 'b-1' AND timestamp < 'infinity';
SELECT count(*) FROM cdf_tables.double_datapoints WHERE external_id = 'b-1' AND timestamp >= '-infinity';
SELECT count(*) FROM cdf_tables.double_datapoints WHERE external_id = 'b-1' AND timestamp > 'infinity';
SELECT count(*) FROM cdf_tables.double_datapoints WHERE external_id = 'b-1' AND timestamp <= '-infinity';
SELECT count(*) = (SELECT count(*) FROM local_series) AS all_series FROM cdf_tables.time_series
 WHERE created_time < 'infinity' AND last_updated_time > '-infinity';
SELECT count(*) FROM cdf_tables.time_series WHERE created_time > 'infinity';
