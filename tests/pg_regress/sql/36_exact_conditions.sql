-- Conditions CDF answers exactly are not re-checked by PostgreSQL on every row: on a datapoints
-- table, the time range (timestamptz values; CDF stores whole milliseconds, and a sub-millisecond
-- bound is rounded the way the comparison needs) and the series when one condition names it by id
-- or external_id. EXPLAIN still lists them among CDF Conditions, without a Filter line. Every query
-- here is compared with the same condition evaluated by PostgreSQL on a local copy of the points.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
INSERT INTO cdf_tables.time_series (external_id, name) VALUES ('x1', 'x1'), ('x2', 'x2');
INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value)
SELECT s, timestamptz '2024-01-01 00:00:00+00' + i * interval '1 millisecond', i
FROM unnest(ARRAY['x1', 'x2']) s, generate_series(0, 9) i;
CREATE TEMP TABLE local_points AS
SELECT id, external_id, timestamp, value FROM cdf_tables.double_datapoints WHERE external_id IN ('x1', 'x2');
SELECT count(*) FROM local_points;
-- The rows of `cond` read through CDF and evaluated locally: (rows, whether they are the same).
CREATE FUNCTION same_rows(cond text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE n bigint; diff bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM cdf_tables.double_datapoints WHERE %s', cond) INTO n;
  EXECUTE format('SELECT count(*) FROM ((SELECT external_id, timestamp, value FROM cdf_tables.double_datapoints WHERE %1$s
      EXCEPT ALL SELECT external_id, timestamp, value FROM local_points WHERE %1$s)
    UNION ALL (SELECT external_id, timestamp, value FROM local_points WHERE %1$s
      EXCEPT ALL SELECT external_id, timestamp, value FROM cdf_tables.double_datapoints WHERE %1$s)) d', cond) INTO diff;
  RETURN format('%s rows, %s', n, CASE WHEN diff = 0 THEN 'same' ELSE diff || ' differ' END);
END $$;
-- Bounds on a point, between points (sub-millisecond), inclusive and exclusive, and equality.
SELECT c, same_rows(c) FROM (VALUES
  ($$external_id = 'x1' AND timestamp >= '2024-01-01 00:00:00.003+00' AND timestamp < '2024-01-01 00:00:00.007+00'$$),
  ($$external_id = 'x1' AND timestamp > '2024-01-01 00:00:00.003+00' AND timestamp <= '2024-01-01 00:00:00.007+00'$$),
  ($$external_id = 'x1' AND timestamp >= '2024-01-01 00:00:00.0031+00' AND timestamp < '2024-01-01 00:00:00.0069+00'$$),
  ($$external_id = 'x1' AND timestamp > '2024-01-01 00:00:00.0029+00' AND timestamp <= '2024-01-01 00:00:00.0071+00'$$),
  ($$external_id = 'x1' AND timestamp > '2024-01-01 00:00:00.002999+00' AND timestamp <= '2024-01-01 00:00:00.006999+00'$$),
  ($$external_id = 'x1' AND timestamp = '2024-01-01 00:00:00.005+00'$$),
  ($$external_id = 'x1' AND timestamp = '2024-01-01 00:00:00.0051+00'$$),
  ($$external_id = 'x1' AND '2024-01-01 00:00:00.008+00' <= timestamp$$),
  ($$external_id IN ('x1', 'x2', 'none') AND timestamp < '2024-01-01 00:00:00.0015+00'$$),
  ($$external_id = 'x2' AND timestamp > '2024-01-01 00:00:00.009+00'$$),
  -- Two series conditions: only one is sent, so both stay local.
  ($$external_id = 'x1' AND id = (SELECT min(id) FROM local_points WHERE external_id = 'x2')$$),
  ($$id IN (SELECT id FROM local_points WHERE external_id = 'x2') AND timestamp <= '2024-01-01 00:00:00.001+00'$$)
) v(c);
-- EXPLAIN: the conditions are CDF's; no Filter line unless something is left to PostgreSQL.
EXPLAIN (COSTS OFF) SELECT * FROM cdf_tables.double_datapoints
WHERE external_id = 'x1' AND timestamp >= '2024-01-01 00:00:00.003+00' AND timestamp < '2024-01-01 00:00:00.007+00';
EXPLAIN (COSTS OFF) SELECT * FROM cdf_tables.double_datapoints
WHERE external_id = 'x1' AND timestamp >= '2024-01-01 00:00:00.003+00' AND value > 4;
EXPLAIN (COSTS OFF) SELECT * FROM cdf_tables.double_datapoints
WHERE external_id = 'x1' AND timestamp >= '2024-01-01'::date;
-- NULL values read nothing (a strict comparison with NULL keeps no row).
SELECT count(*) FROM cdf_tables.double_datapoints WHERE external_id = 'x1' AND timestamp >= NULL::timestamptz;
SELECT count(*) FROM cdf_tables.double_datapoints WHERE external_id = NULL::text;
-- Prepared statements with generic plans: parameters, NULL ones included.
SET plan_cache_mode = force_generic_plan;
PREPARE points(text, timestamptz, timestamptz) AS
  SELECT count(*), min(value), max(value) FROM cdf_tables.double_datapoints
  WHERE external_id = $1 AND timestamp > $2 AND timestamp <= $3;
EXPLAIN (COSTS OFF) EXECUTE points('x1', '2024-01-01 00:00:00.002+00', '2024-01-01 00:00:00.006+00');
EXECUTE points('x1', '2024-01-01 00:00:00.002+00', '2024-01-01 00:00:00.006+00');
EXECUTE points('x1', '2024-01-01 00:00:00.0025+00', '2024-01-01 00:00:00.0065+00');
EXECUTE points('x2', '2024-01-01 00:00:00.002999+00', '2024-01-01 00:00:00.003+00');
EXECUTE points('x1', NULL, '2024-01-01 00:00:00.006+00');
EXECUTE points(NULL, '2024-01-01 00:00:00.002+00', '2024-01-01 00:00:00.006+00');
SELECT count(*), min(value), max(value) FROM local_points
WHERE external_id = 'x1' AND timestamp > '2024-01-01 00:00:00.0025+00' AND timestamp <= '2024-01-01 00:00:00.0065+00';
DEALLOCATE points;
RESET plan_cache_mode;
DROP FUNCTION same_rows(text);
