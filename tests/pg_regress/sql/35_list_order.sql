-- ORDER BY pushdown for object lists: `ORDER BY <column> [DESC] [NULLS FIRST|LAST] LIMIT n` on a
-- column CDF sorts by (events: start_time, end_time, created_time, last_updated_time) is one list
-- request with `sort` (and `nulls`, so PostgreSQL's NULLs placement holds); PostgreSQL does not sort.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
-- 1200 events, start times distinct, every 7th without one (NULL), so pages of 1000 follow the cursor.
INSERT INTO cdf_tables.events (external_id, type, start_time, end_time)
SELECT 'ev-' || i, CASE WHEN i % 2 = 0 THEN 'even' ELSE 'odd' END,
       CASE WHEN i % 7 <> 0 THEN timestamptz '2024-01-01 00:00+00' + ((i * 37) % 1200) * interval '1 minute' END,
       timestamptz '2024-02-01 00:00+00' + i * interval '1 second'
  FROM generate_series(1, 1200) i;
CREATE TEMP TABLE local_events AS SELECT * FROM cdf_tables.events;
CREATE FUNCTION read_shape(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE plan json; node jsonb;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON, TIMING OFF, SUMMARY OFF) ' || sql INTO plan;
  node := jsonb_path_query_first(plan::jsonb, 'strict $.**?(@."Node Type" == "Foreign Scan")');
  RETURN format('sorted by PostgreSQL %s, limit %s, requests %s, received %s, plan rows %s, sort %s',
                jsonb_path_exists(plan::jsonb, 'strict $.**?(@."Node Type" == "Sort")'),
                coalesce(node->>'CDF Limit', 'none'), node->>'CDF Requests', node->>'CDF Rows Received',
                node->>'Plan Rows', coalesce(node->>'CDF Sort', 'none'));
END $$;
-- The start times (NULLs too) of the first n rows in an order, from CDF and from the local copy.
CREATE FUNCTION same_order(clause text) RETURNS bool LANGUAGE plpgsql AS $$
DECLARE remote timestamptz[]; here timestamptz[];
BEGIN
  EXECUTE format('SELECT array_agg(start_time) FROM (SELECT start_time FROM cdf_tables.events %s) s', clause) INTO remote;
  EXECUTE format('SELECT array_agg(start_time) FROM (SELECT start_time FROM local_events %s) s', clause) INTO here;
  RETURN remote IS NOT DISTINCT FROM here AND remote IS NOT NULL;
END $$;
EXPLAIN (COSTS OFF) SELECT external_id, start_time FROM cdf_tables.events ORDER BY start_time DESC LIMIT 10;
SELECT read_shape($$SELECT * FROM cdf_tables.events ORDER BY start_time DESC LIMIT 10$$);
SELECT read_shape($$SELECT * FROM cdf_tables.events ORDER BY start_time LIMIT 10$$);
SELECT read_shape($$SELECT * FROM cdf_tables.events ORDER BY start_time NULLS FIRST LIMIT 10$$);
SELECT read_shape($$SELECT * FROM cdf_tables.events WHERE type = 'even' ORDER BY end_time DESC NULLS LAST LIMIT 3 OFFSET 2$$);
-- Equal to PostgreSQL's own order: both directions, both NULLs placements, a filter, an OFFSET,
-- and a LIMIT over more than one page (the sorted list's cursor).
SELECT clause, same_order(clause) FROM (VALUES
  ('ORDER BY start_time DESC LIMIT 10'),
  ('ORDER BY start_time LIMIT 10'),
  ('ORDER BY start_time NULLS FIRST LIMIT 200'),
  ('ORDER BY start_time DESC NULLS LAST LIMIT 20'),
  ('WHERE type = ''odd'' ORDER BY start_time DESC LIMIT 180'),
  ('ORDER BY start_time LIMIT 5 OFFSET 1020'),
  ('ORDER BY start_time DESC LIMIT 1100')) v(clause);
SELECT read_shape($$SELECT * FROM cdf_tables.events ORDER BY start_time DESC LIMIT 1100$$);
SELECT array_agg(external_id) FROM (SELECT external_id FROM cdf_tables.events ORDER BY end_time DESC LIMIT 3) s;
-- A generic plan with LIMIT $1.
PREPARE latest_events(int) AS SELECT external_id FROM cdf_tables.events ORDER BY end_time DESC LIMIT $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE latest_events(2);
EXECUTE latest_events(2);
SELECT read_shape($$EXECUTE latest_events(4)$$);
RESET plan_cache_mode;
DEALLOCATE latest_events;
-- Not claimed: a column CDF does not sort by, no LIMIT, a lookup by external id (byids does not
-- sort), a condition only PostgreSQL evaluates, two sort keys: PostgreSQL sorts.
SELECT read_shape($$SELECT * FROM cdf_tables.events ORDER BY type LIMIT 5$$) LIKE 'sorted by PostgreSQL t%' AS sorted_locally;
SELECT read_shape($$SELECT * FROM cdf_tables.events ORDER BY start_time$$) LIKE 'sorted by PostgreSQL t%' AS sorted_locally;
SELECT read_shape($$SELECT * FROM cdf_tables.events WHERE external_id IN ('ev-1', 'ev-2', 'ev-3') ORDER BY start_time LIMIT 2$$) LIKE 'sorted by PostgreSQL t%' AS sorted_locally;
SELECT read_shape($$SELECT * FROM cdf_tables.events WHERE description IS NULL ORDER BY start_time LIMIT 2$$) LIKE 'sorted by PostgreSQL t%' AS sorted_locally;
SELECT read_shape($$SELECT * FROM cdf_tables.events ORDER BY start_time, end_time LIMIT 2$$) LIKE 'sorted by PostgreSQL t%' AS sorted_locally;
SELECT same_order('WHERE description IS NULL ORDER BY start_time LIMIT 30'), same_order('ORDER BY type, start_time LIMIT 30');
DROP FUNCTION read_shape(text);
DROP FUNCTION same_order(text);
