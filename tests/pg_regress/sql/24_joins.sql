-- Joins use the outer row's key: a parameterized scan (nested loop) sends one request per outer
-- row with its key; the results equal a plan that reads the inner table whole (or a local copy).
-- Joins of two CDF tables are batched into one scan by default (37_batched_joins); here that is
-- off, to show the parameterized scans.
SET cdf_fdw.enable_join_pushdown = off;
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
INSERT INTO cdf_tables.time_series (external_id, name) VALUES ('j1', 'One'), ('j2', 'Two'), ('j3', 'Three'), ('other', 'Other');
INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value)
SELECT (ARRAY['j1', 'j2', 'other'])[1 + i % 3], timestamptz '2024-01-01 00:00+00' + i * interval '1 minute', i FROM generate_series(0, 59) i;
CREATE TEMP TABLE local_points AS SELECT * FROM cdf_tables.double_datapoints WHERE external_id IN ('j1', 'j2', 'j3', 'other');
-- Time series to their datapoints: without the join the datapoints could not be read at all.
EXPLAIN (COSTS OFF)
SELECT ts.name, d.timestamp, d.value FROM cdf_tables.time_series ts
  JOIN cdf_tables.double_datapoints d ON d.external_id = ts.external_id
 WHERE ts.name IN ('One', 'Two', 'Three');
SELECT ts.name, count(*), sum(d.value) FROM cdf_tables.time_series ts
  JOIN cdf_tables.double_datapoints d ON d.external_id = ts.external_id
 WHERE ts.name IN ('One', 'Two', 'Three') GROUP BY 1 ORDER BY 1;
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /timeseries/data/list"
-- The same rows as the local join, both ways.
SELECT count(*) AS missing FROM (
  (SELECT ts.name, p.timestamp, p.value FROM cdf_tables.time_series ts JOIN local_points p ON p.external_id = ts.external_id WHERE ts.name IN ('One', 'Two', 'Three'))
  EXCEPT ALL
  (SELECT ts.name, d.timestamp, d.value FROM cdf_tables.time_series ts JOIN cdf_tables.double_datapoints d ON d.external_id = ts.external_id WHERE ts.name IN ('One', 'Two', 'Three'))) x;
SELECT count(*) AS extra FROM (
  (SELECT ts.name, d.timestamp, d.value FROM cdf_tables.time_series ts JOIN cdf_tables.double_datapoints d ON d.external_id = ts.external_id WHERE ts.name IN ('One', 'Two', 'Three'))
  EXCEPT ALL
  (SELECT ts.name, p.timestamp, p.value FROM cdf_tables.time_series ts JOIN local_points p ON p.external_id = ts.external_id WHERE ts.name IN ('One', 'Two', 'Three'))) x;
-- With a time range on the inner side, and a local table as the outer side.
CREATE TEMP TABLE wanted (xid text, since timestamptz);
INSERT INTO wanted VALUES ('j1', '2024-01-01 00:30+00'), ('j2', '2024-01-01 00:50+00'), ('ghost', '2024-01-01');
ANALYZE wanted;
EXPLAIN (COSTS OFF)
SELECT w.xid, count(d.value) FROM wanted w JOIN cdf_tables.double_datapoints d ON d.external_id = w.xid AND d.timestamp >= w.since GROUP BY 1;
SELECT w.xid, count(d.value), min(d.timestamp) AT TIME ZONE 'UTC' AS first FROM wanted w
  JOIN cdf_tables.double_datapoints d ON d.external_id = w.xid AND d.timestamp >= w.since GROUP BY 1 ORDER BY 1;
-- A prepared statement with a generic plan: the parameter and the outer key both reach CDF.
PREPARE by_name(text) AS
SELECT ts.external_id, count(*) FROM cdf_tables.time_series ts
  JOIN cdf_tables.double_datapoints d ON d.external_id = ts.external_id WHERE ts.name = $1 GROUP BY 1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE by_name('One');
EXECUTE by_name('One');
EXECUTE by_name('Two');
EXECUTE by_name('Three');
RESET plan_cache_mode;
DEALLOCATE by_name;
-- Assets to their parents by id: byids per outer row; equal to the hash join over full lists.
INSERT INTO cdf_tables.assets (external_id, name) VALUES ('root', 'Root');
INSERT INTO cdf_tables.assets (external_id, name, parent_external_id) VALUES ('p1', 'Pump 1', 'root'), ('p2', 'Pump 2', 'root');
INSERT INTO cdf_tables.assets (external_id, name, parent_external_id) VALUES ('v1', 'Valve 1', 'p1');
EXPLAIN (COSTS OFF)
SELECT c.name, p.name AS parent FROM cdf_tables.assets c JOIN cdf_tables.assets p ON p.id = c.parent_id WHERE c.external_id IN ('p1', 'v1');
SELECT c.name, p.name AS parent FROM cdf_tables.assets c JOIN cdf_tables.assets p ON p.id = c.parent_id WHERE c.external_id IN ('p1', 'v1') ORDER BY 1;
SET enable_nestloop = off;
EXPLAIN (COSTS OFF)
SELECT c.name, p.name AS parent FROM cdf_tables.assets c JOIN cdf_tables.assets p ON p.id = c.parent_id WHERE c.external_id IN ('p1', 'v1');
SELECT c.name, p.name AS parent FROM cdf_tables.assets c JOIN cdf_tables.assets p ON p.id = c.parent_id WHERE c.external_id IN ('p1', 'v1') ORDER BY 1;
RESET enable_nestloop;
-- RAW rows by key from a local list of keys.
INSERT INTO cdf_tables.raw_rows SELECT 'jdb', 'jt', 'k' || i, json_build_object('i', i) FROM generate_series(1, 50) i;
CREATE TEMP TABLE keys (k text);
INSERT INTO keys VALUES ('k3'), ('k7'), ('nope');
ANALYZE keys;
-- Reading the table (a guessed 1000 rows) costs less than three key lookups: a hash join.
EXPLAIN (COSTS OFF)
SELECT k.k, r._raw_columns->>'i' FROM keys k JOIN cdf_tables.raw_rows r ON r._raw_key = k.k WHERE r._raw_database = 'jdb' AND r._raw_table = 'jt';
SELECT k.k, r._raw_columns->>'i' AS i FROM keys k JOIN cdf_tables.raw_rows r ON r._raw_key = k.k
 WHERE r._raw_database = 'jdb' AND r._raw_table = 'jt' ORDER BY 1;
-- A correlated subquery: each outer key is a parameter of the rescanned scan, one GET per key.
EXPLAIN (COSTS OFF)
SELECT k.k, (SELECT r._raw_columns->>'i' FROM cdf_tables.raw_rows r
              WHERE r._raw_database = 'jdb' AND r._raw_table = 'jt' AND r._raw_key = k.k) AS i FROM keys k;
SELECT k.k, (SELECT r._raw_columns->>'i' FROM cdf_tables.raw_rows r
              WHERE r._raw_database = 'jdb' AND r._raw_table = 'jt' AND r._raw_key = k.k) AS i FROM keys k ORDER BY 1;
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "GET /raw/dbs/{db}/tables/{table}/rows/{key}"
