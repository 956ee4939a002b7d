-- Aggregates of datapoints computed by CDF (GROUP BY date_bin/date_trunc, or no GROUP BY), each
-- compared with PostgreSQL's own computation over a local copy of the same points; shapes CDF
-- cannot answer exactly stay local.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
INSERT INTO cdf_tables.time_series (external_id, name) VALUES ('agg', 'Aggregated'), ('empty', 'No points');
-- Points every 7m13s over two days; values are multiples of 0.25, so sums do not depend on order.
INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value)
SELECT 'agg', timestamptz '2024-01-01' + i * interval '7 minutes 13 seconds', (i % 17) * 0.25 - 1
  FROM generate_series(0, 400) i;
-- A Bad point without value, a Bad one with a value, an Uncertain one: rows of the table too.
INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value, status_code) VALUES
  ('agg', '2024-01-01 03:00:00.5+00', NULL, 2147483648),
  ('agg', '2024-01-01 04:00:00.5+00', 100, 2147483648),
  ('agg', '2024-01-01 05:00:00.5+00', -50, 1073741824);
-- Reads return every stored point with its status (NULL for Good); WHERE status_code IS NULL
-- keeps the Good ones only, as CDF's default read would.
SELECT timestamp, value, status_code, status_symbol FROM cdf_tables.double_datapoints
 WHERE external_id = 'agg' AND timestamp >= '2024-01-01 02:59+00' AND timestamp < '2024-01-01 05:01+00'
   AND (status_code IS NOT NULL OR timestamp < '2024-01-01 03:01+00') ORDER BY timestamp;
SELECT count(*) AS all_points, count(*) FILTER (WHERE status_code IS NULL) AS good FROM cdf_tables.double_datapoints
 WHERE external_id = 'agg';
CREATE TEMP TABLE local_points AS SELECT * FROM cdf_tables.double_datapoints WHERE external_id IN ('agg', 'empty');
SELECT count(*), count(value) FROM local_points;
-- Runs a query on the foreign table and on local_points: whether CDF computed it, the rows, and
-- the rows only one side has (EXCEPT ALL both ways).
CREATE FUNCTION pg_temp.compare(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  local_q text := replace(q, 'cdf_tables.double_datapoints', 'local_points');
  plan text := '';
  line text;
  n bigint; missing bigint; extra bigint;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP plan := plan || line; END LOOP;
  EXECUTE format('SELECT count(*) FROM (%s) x', q) INTO n;
  EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) x', local_q, q) INTO missing;
  EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) x', q, local_q) INTO extra;
  RETURN CASE WHEN plan LIKE '%CDF Aggregates%' THEN 'CDF' ELSE 'local' END
      || format(': %s rows, %s missing, %s extra', n, missing, extra);
END $$;

-- Pushed: hourly buckets with every aggregate, in one request of 24 intervals.
EXPLAIN (COSTS OFF)
SELECT date_bin('1 hour', timestamp, '2024-01-01') AS hour, avg(value), min(value), max(value), sum(value), count(*)
  FROM cdf_tables.double_datapoints
 WHERE external_id = 'agg' AND timestamp >= '2024-01-01' AND timestamp < '2024-01-02'
 GROUP BY 1 ORDER BY 1;
SELECT date_bin('1 hour', timestamp, '2024-01-01') AS hour, avg(value), min(value), max(value), sum(value), count(*)
  FROM cdf_tables.double_datapoints
 WHERE external_id = 'agg' AND timestamp >= '2024-01-01' AND timestamp < '2024-01-02'
 GROUP BY 1 ORDER BY 1 LIMIT 7;
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /timeseries/data/list"
SELECT pg_temp.compare($$SELECT date_bin('1 hour', timestamp, '2024-01-01') AS hour, avg(value), min(value), max(value), sum(value), count(*)
  FROM cdf_tables.double_datapoints WHERE external_id = 'agg' AND timestamp >= '2024-01-01' AND timestamp < '2024-01-02' GROUP BY 1$$);
-- Other strides and origins on bucket boundaries; date_trunc in UTC; the whole table's range.
SELECT pg_temp.compare($$SELECT date_bin('15 minutes', timestamp, '2024-01-01 00:05') AS b, avg(value), count(*)
  FROM cdf_tables.double_datapoints WHERE external_id = 'agg' AND timestamp >= '2024-01-01 00:05' AND timestamp < '2024-01-02 00:05' GROUP BY 1$$);
SELECT pg_temp.compare($$SELECT date_bin('3 hours', timestamp, '2024-01-01 01:00') AS b, max(value), sum(value)
  FROM cdf_tables.double_datapoints WHERE external_id = 'agg' AND timestamp >= '2024-01-01 01:00' AND timestamp <= '2024-01-02 06:59:59.999' GROUP BY 1$$);
SELECT pg_temp.compare($$SELECT date_trunc('hour', timestamp, 'UTC') AS b, min(value), count(*)
  FROM cdf_tables.double_datapoints WHERE external_id = 'agg' AND timestamp >= '2024-01-01 06:00' AND timestamp < '2024-01-01 18:00' GROUP BY 1$$);
SELECT pg_temp.compare($$SELECT date_trunc('day', timestamp, 'UTC') AS day, round(avg(value)::numeric, 9) AS avg, count(*)
  FROM cdf_tables.double_datapoints WHERE external_id = 'agg' GROUP BY 1$$);
SELECT pg_temp.compare($$SELECT date_bin('1 minute', timestamp, '2024-01-01 00:00:30') AS b, sum(value)
  FROM cdf_tables.double_datapoints WHERE external_id = 'agg' AND timestamp >= '2024-01-01 00:00:30' AND timestamp < '2024-01-01 01:00:30' GROUP BY 1$$);
-- Expressions over the aggregates, ORDER BY and LIMIT above the scan.
SELECT pg_temp.compare($$SELECT date_bin('2 hours', timestamp, '2024-01-01') AS b, max(value) - min(value) AS spread, round(avg(value)::numeric, 3) AS mean
  FROM cdf_tables.double_datapoints WHERE external_id = 'agg' AND timestamp >= '2024-01-01' AND timestamp < '2024-01-03' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5$$);
-- No GROUP BY: one interval over the range; an empty range still has its row (count 0).
EXPLAIN (COSTS OFF)
SELECT avg(value), count(*) FROM cdf_tables.double_datapoints
 WHERE external_id = 'agg' AND timestamp >= '2024-01-01' AND timestamp < '2024-01-02';
SELECT avg(value), count(*) FROM cdf_tables.double_datapoints
 WHERE external_id = 'agg' AND timestamp >= '2024-01-01' AND timestamp < '2024-01-02';
SELECT pg_temp.compare($$SELECT avg(value), min(value), max(value), sum(value), count(*) FROM cdf_tables.double_datapoints
 WHERE external_id = 'agg' AND timestamp >= '2024-01-01 10:00' AND timestamp < '2024-01-01 12:00'$$);
SELECT avg(value), sum(value), count(*) FROM cdf_tables.double_datapoints
 WHERE external_id = 'empty' AND timestamp >= '2024-01-01' AND timestamp < '2024-01-02';
SELECT pg_temp.compare($$SELECT avg(value), sum(value), count(*) FROM cdf_tables.double_datapoints
 WHERE external_id = 'empty' AND timestamp >= '2024-01-01' AND timestamp < '2024-01-02'$$);
SELECT pg_temp.compare($$SELECT date_bin('1 hour', timestamp, '2024-01-01') AS b, count(*) FROM cdf_tables.double_datapoints
 WHERE external_id = 'ghost' AND timestamp >= '2024-01-01' AND timestamp < '2024-01-02' GROUP BY 1$$);

-- Local: CDF would not answer these exactly.
-- A start inside a bucket (CDF rounds the start down to the hour and would read earlier points).
SELECT pg_temp.compare($$SELECT date_bin('1 hour', timestamp, '2024-01-01') AS b, avg(value) FROM cdf_tables.double_datapoints
 WHERE external_id = 'agg' AND timestamp >= '2024-01-01 00:30' AND timestamp < '2024-01-02' GROUP BY 1$$);
-- An end inside a bucket, a sub-second stride, a stride CDF does not take (7199 s), a month.
SELECT pg_temp.compare($$SELECT date_bin('1 hour', timestamp, '2024-01-01') AS b, avg(value) FROM cdf_tables.double_datapoints
 WHERE external_id = 'agg' AND timestamp >= '2024-01-01' AND timestamp < '2024-01-01 10:20' GROUP BY 1$$);
SELECT pg_temp.compare($$SELECT date_bin('500 milliseconds', timestamp, '2024-01-01') AS b, count(*) FROM cdf_tables.double_datapoints
 WHERE external_id = 'agg' AND timestamp >= '2024-01-01' AND timestamp < '2024-01-01 01:00' GROUP BY 1$$);
SELECT pg_temp.compare($$SELECT date_bin('7199 seconds', timestamp, '2024-01-01') AS b, count(*) FROM cdf_tables.double_datapoints
 WHERE external_id = 'agg' AND timestamp >= '2024-01-01' AND timestamp < timestamptz '2024-01-01' + interval '7199 seconds' GROUP BY 1$$);
SELECT pg_temp.compare($$SELECT date_trunc('month', timestamp, 'UTC') AS b, count(*) FROM cdf_tables.double_datapoints
 WHERE external_id = 'agg' GROUP BY 1$$);
-- date_trunc without a zone follows the session's TimeZone; another zone than UTC.
SELECT pg_temp.compare($$SELECT date_trunc('hour', timestamp) AS b, count(*) FROM cdf_tables.double_datapoints
 WHERE external_id = 'agg' AND timestamp >= '2024-01-01' AND timestamp < '2024-01-02' GROUP BY 1$$);
SELECT pg_temp.compare($$SELECT date_trunc('day', timestamp, 'Asia/Kolkata') AS b, count(*) FROM cdf_tables.double_datapoints
 WHERE external_id = 'agg' GROUP BY 1$$);
-- count(value) leaves out the value-less Bad point, CDF's count does not; other aggregates; FILTER; DISTINCT.
SELECT pg_temp.compare($$SELECT count(value) FROM cdf_tables.double_datapoints
 WHERE external_id = 'agg' AND timestamp >= '2024-01-01' AND timestamp < '2024-01-02'$$);
SELECT pg_temp.compare($$SELECT stddev(value) FROM cdf_tables.double_datapoints
 WHERE external_id = 'agg' AND timestamp >= '2024-01-01' AND timestamp < '2024-01-02'$$);
SELECT pg_temp.compare($$SELECT avg(value) FILTER (WHERE value > 0) FROM cdf_tables.double_datapoints
 WHERE external_id = 'agg' AND timestamp >= '2024-01-01' AND timestamp < '2024-01-02'$$);
SELECT pg_temp.compare($$SELECT count(DISTINCT value) FROM cdf_tables.double_datapoints
 WHERE external_id = 'agg' AND timestamp >= '2024-01-01' AND timestamp < '2024-01-02'$$);
-- HAVING; a condition on value; grouping by series; the bucket column not grouped.
SELECT pg_temp.compare($$SELECT date_bin('1 hour', timestamp, '2024-01-01') AS b, avg(value) FROM cdf_tables.double_datapoints
 WHERE external_id = 'agg' AND timestamp >= '2024-01-01' AND timestamp < '2024-01-02' GROUP BY 1 HAVING avg(value) > 1$$);
SELECT pg_temp.compare($$SELECT date_bin('1 hour', timestamp, '2024-01-01') AS b, avg(value) FROM cdf_tables.double_datapoints
 WHERE external_id = 'agg' AND timestamp >= '2024-01-01' AND timestamp < '2024-01-02' AND value > 0 GROUP BY 1$$);
SELECT pg_temp.compare($$SELECT external_id, date_bin('1 hour', timestamp, '2024-01-01') AS b, avg(value) FROM cdf_tables.double_datapoints
 WHERE external_id IN ('agg', 'empty') AND timestamp >= '2024-01-01' AND timestamp < '2024-01-02' GROUP BY 1, 2$$);
SELECT pg_temp.compare($$SELECT external_id, count(*) FROM cdf_tables.double_datapoints
 WHERE external_id = 'agg' AND timestamp >= '2024-01-01' AND timestamp < '2024-01-02' GROUP BY 1$$);
-- The series named twice (by id and external id): not applied exactly by one request.
SELECT id AS agg_id FROM cdf_tables.time_series WHERE external_id = 'agg' \gset
SELECT pg_temp.compare(format($$SELECT count(*) FROM cdf_tables.double_datapoints
 WHERE id = %s AND external_id = 'agg' AND timestamp >= '2024-01-01' AND timestamp < '2024-01-02'$$, :agg_id));
SELECT pg_temp.compare(format($$SELECT count(*) FROM cdf_tables.double_datapoints
 WHERE id = %s AND timestamp >= '2024-01-01' AND timestamp < '2024-01-02'$$, :agg_id));

-- Prepared statements: custom plans (constants) are pushed; a generic plan (parameters unknown
-- at plan time) aggregates locally; both give the same rows.
PREPARE hourly(text, timestamptz, timestamptz) AS
SELECT date_bin('1 hour', timestamp, '2024-01-01') AS b, avg(value), count(*) FROM cdf_tables.double_datapoints
 WHERE external_id = $1 AND timestamp >= $2 AND timestamp < $3 GROUP BY 1 ORDER BY 1;
EXPLAIN (COSTS OFF) EXECUTE hourly('agg', '2024-01-01', '2024-01-01 03:00');
EXECUTE hourly('agg', '2024-01-01', '2024-01-01 03:00');
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE hourly('agg', '2024-01-01', '2024-01-01 03:00');
EXECUTE hourly('agg', '2024-01-01', '2024-01-01 03:00');
RESET plan_cache_mode;
DEALLOCATE hourly;
-- The aggregate under a join and in a subquery: rescans replay the answer.
SELECT h.n, a.c FROM generate_series(1, 3) h(n),
  LATERAL (SELECT count(*) AS c FROM cdf_tables.double_datapoints
            WHERE external_id = 'agg' AND timestamp >= '2024-01-01' AND timestamp < '2024-01-01 01:00') a;

-- count(*) of an object resource without WHERE: CDF's aggregate count (one request, one item).
INSERT INTO cdf_tables.assets (external_id, name) SELECT 'asset-' || i, 'Asset ' || i FROM generate_series(1, 7) i;
EXPLAIN (COSTS OFF) SELECT count(*) FROM cdf_tables.assets;
SELECT count(*), count(*) * 2 AS twice FROM cdf_tables.assets;
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /assets/aggregate"
-- The same count computed locally from the listed rows.
SELECT count(*) FROM cdf_tables.assets WHERE id IS NOT NULL;
SELECT count(*) FROM cdf_tables.events;
-- Local: a WHERE clause, count of a column, resources without an aggregate endpoint.
EXPLAIN (COSTS OFF) SELECT count(*) FROM cdf_tables.assets WHERE name LIKE 'Asset%';
EXPLAIN (COSTS OFF) SELECT count(name) FROM cdf_tables.assets;
EXPLAIN (COSTS OFF) SELECT count(*) FROM cdf_tables.labels;
