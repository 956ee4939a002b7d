-- LIMIT pushdown: with one relation and every condition answered by CDF, the list asks for no more
-- rows than the LIMIT (plus OFFSET) and stops paging. ORDER BY timestamp [DESC] LIMIT n of one series
-- reads in CDF's order (DESC from /timeseries/data/latest, point by point), sequence rows by row number
-- likewise. Previews: a LIMIT without a series / RAW table condition reads series after series.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
INSERT INTO cdf_tables.assets (external_id, name, source)
SELECT 'a-' || i, 'Asset ' || i, CASE WHEN i % 2 = 0 THEN 'even' END FROM generate_series(1, 2500) i;
-- What the scan sent and got: CDF Limit, the rows CDF returned and the requests made. When PostgreSQL
-- stops a scan whose LIMIT was not sent, how many prefetched pages (or partitions) arrived in time
-- varies: `exact` false then only says whether CDF sent more rows than the scan handed PostgreSQL.
CREATE FUNCTION read_shape(sql text, exact bool DEFAULT true) RETURNS text LANGUAGE plpgsql AS $$
DECLARE plan json; node jsonb;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON, TIMING OFF, SUMMARY OFF) ' || sql INTO plan;
  node := jsonb_path_query_first(plan::jsonb, 'strict $.**?(@."Node Type" == "Foreign Scan")');
  IF NOT exact THEN
    RETURN format('limit %s, received more than used: %s, %s', coalesce(node->>'CDF Limit', 'none'),
                  (node->>'CDF Rows Received')::numeric > (node->>'Actual Rows')::numeric, node->>'CDF Request');
  END IF;
  RETURN format('limit %s, requests %s, received %s, plan rows %s, %s', coalesce(node->>'CDF Limit', 'none'),
                node->>'CDF Requests', node->>'CDF Rows Received', node->>'Plan Rows', node->>'CDF Request');
END $$;
SELECT count(*) FROM (SELECT * FROM cdf_tables.assets LIMIT 5) s;
SELECT read_shape($$SELECT * FROM cdf_tables.assets LIMIT 5$$);
SELECT read_shape($$SELECT * FROM cdf_tables.assets LIMIT 1500$$);
SELECT read_shape($$SELECT * FROM cdf_tables.assets LIMIT 3 OFFSET 1200$$);
SELECT count(*) FROM (SELECT * FROM cdf_tables.assets LIMIT 3 OFFSET 1200) s;
-- A filter CDF answers exactly keeps the LIMIT.
SELECT read_shape($$SELECT * FROM cdf_tables.assets WHERE source = 'even' LIMIT 4$$);
SELECT count(*), bool_and(source = 'even') FROM (SELECT * FROM cdf_tables.assets WHERE source = 'even' LIMIT 4) s;
-- Not pushed: a condition only PostgreSQL evaluates, an ORDER BY CDF does not follow, a join, an
-- aggregate; a filter CDF answers only in part (the LIKE is more than a prefix) reads on.
SELECT read_shape($$SELECT * FROM cdf_tables.assets WHERE description IS NULL LIMIT 5$$, false);
SELECT read_shape($$SELECT * FROM cdf_tables.assets ORDER BY name LIMIT 5$$, false);
SELECT read_shape($$SELECT * FROM cdf_tables.assets a JOIN (SELECT 'Asset ' || g FROM generate_series(1, 3) g) v(x) ON v.x = a.name LIMIT 5$$, false);
SELECT read_shape($$SELECT count(*) FROM (SELECT DISTINCT source FROM cdf_tables.assets LIMIT 2) s$$, false);
SELECT read_shape($$SELECT * FROM cdf_tables.assets WHERE external_id LIKE 'a-1%0' LIMIT 3$$, false);
SELECT external_id FROM cdf_tables.assets WHERE external_id LIKE 'a-1%0' ORDER BY 1 LIMIT 3;
-- Generic plans keep a constant LIMIT; a parameter LIMIT (and OFFSET) is sent with the value it
-- has when the scan starts; LIMIT NULL reads everything.
PREPARE first_of(text) AS SELECT name FROM cdf_tables.assets WHERE source = $1 LIMIT 2;
PREPARE first_n(int) AS SELECT name FROM cdf_tables.assets LIMIT $1;
PREPARE page_n(int, int) AS SELECT name FROM cdf_tables.assets WHERE source = 'even' LIMIT $1 OFFSET $2;
SET plan_cache_mode = force_generic_plan;
SELECT read_shape($$EXECUTE first_of('even')$$);
EXPLAIN (COSTS OFF) EXECUTE first_n(2);
SELECT read_shape($$EXECUTE first_n(2)$$);
SELECT read_shape($$EXECUTE first_n(7)$$);
SELECT count(*) FROM (SELECT 1 FROM cdf_tables.assets LIMIT 7) s;
SELECT read_shape($$EXECUTE page_n(3, 5)$$);
CREATE TEMP TABLE paged AS EXECUTE page_n(3, 5);
SELECT count(*) FROM paged;
SELECT read_shape($$EXECUTE first_n(NULL)$$, false);
-- A condition PostgreSQL alone evaluates keeps the parameter LIMIT off the scan.
PREPARE undescribed(int) AS SELECT name FROM cdf_tables.assets WHERE description IS NULL LIMIT $1;
SELECT read_shape($$EXECUTE undescribed(2)$$, false);
RESET plan_cache_mode;
DEALLOCATE first_of;
DEALLOCATE first_n;
DEALLOCATE page_n;
DEALLOCATE undescribed;

-- Datapoints: the newest point of a series, and the first ones, without reading the range.
INSERT INTO cdf_tables.time_series (external_id, is_string) VALUES ('t', false), ('u', false), ('s', true);
INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value)
SELECT 't', timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute', i FROM generate_series(0, 4999) i;
INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value)
SELECT 'u', timestamptz '2024-01-01 00:00:00+00' + i * interval '1 hour', -i FROM generate_series(0, 9) i;
INSERT INTO cdf_tables.string_datapoints (external_id, timestamp, value) VALUES ('s', '2024-01-01 00:00:00+00', 'x');
CREATE TEMP TABLE local_points AS SELECT * FROM cdf_tables.double_datapoints WHERE external_id IN ('t', 'u');
EXPLAIN (COSTS OFF) SELECT timestamp, value FROM cdf_tables.double_datapoints WHERE external_id = 't' ORDER BY timestamp DESC LIMIT 1;
SELECT timestamp, value FROM cdf_tables.double_datapoints WHERE external_id = 't' ORDER BY timestamp DESC LIMIT 1;
SELECT read_shape($$SELECT * FROM cdf_tables.double_datapoints WHERE external_id = 't' ORDER BY timestamp DESC LIMIT 1$$);
SELECT read_shape($$SELECT * FROM cdf_tables.double_datapoints WHERE external_id = 't' ORDER BY timestamp DESC LIMIT 3$$);
SELECT read_shape($$SELECT * FROM cdf_tables.double_datapoints WHERE external_id = 't' ORDER BY timestamp LIMIT 3$$);
-- equal to the same query on the local copy, with time ranges, both directions
SELECT count(*) AS differences FROM (
  (SELECT timestamp, value FROM cdf_tables.double_datapoints WHERE external_id = 't' AND timestamp < '2024-01-02 00:00:00+00'
    ORDER BY timestamp DESC LIMIT 4)
  EXCEPT ALL
  (SELECT timestamp, value FROM local_points WHERE external_id = 't' AND timestamp < '2024-01-02 00:00:00+00'
    ORDER BY timestamp DESC LIMIT 4)) d;
SELECT array_agg(value) FROM (SELECT value FROM cdf_tables.double_datapoints WHERE external_id = 't'
  AND timestamp >= '2024-01-01 01:00:00+00' AND timestamp < '2024-01-02 00:00:00+00' ORDER BY timestamp DESC LIMIT 4) s;
SELECT array_agg(value) FROM (SELECT value FROM local_points WHERE external_id = 't'
  AND timestamp >= '2024-01-01 01:00:00+00' AND timestamp < '2024-01-02 00:00:00+00' ORDER BY timestamp DESC LIMIT 4) s;
SELECT array_agg(value) FROM (SELECT value FROM cdf_tables.double_datapoints WHERE external_id = 'u'
  AND timestamp <= '2024-01-01 01:00:00+00' ORDER BY timestamp DESC LIMIT 5) s;
SELECT array_agg(value) FROM (SELECT value FROM cdf_tables.double_datapoints WHERE external_id = 't' ORDER BY timestamp LIMIT 4 OFFSET 2) s;
-- Two series, or a large DESC LIMIT: read, then sorted by PostgreSQL.
SELECT read_shape($$SELECT * FROM cdf_tables.double_datapoints WHERE external_id IN ('t', 'u') ORDER BY timestamp DESC LIMIT 1$$);
SELECT read_shape($$SELECT * FROM cdf_tables.double_datapoints WHERE external_id = 't' ORDER BY timestamp DESC LIMIT 500$$);
-- A generic plan of "the latest value of a series".
PREPARE latest(text) AS SELECT value FROM cdf_tables.double_datapoints WHERE external_id = $1 ORDER BY timestamp DESC LIMIT 1;
SET plan_cache_mode = force_generic_plan;
EXECUTE latest('t');
EXECUTE latest('u');
SELECT read_shape($$EXECUTE latest('t')$$);
RESET plan_cache_mode;
DEALLOCATE latest;

-- Sequence rows by row number.
INSERT INTO cdf_tables.sequences (external_id, columns) VALUES ('q', '[{"externalId": "v", "valueType": "LONG"}]');
INSERT INTO cdf_tables.sequence_rows (external_id, row_number, values)
SELECT 'q', i, json_build_object('v', i * 10) FROM generate_series(1, 300) i;
SELECT row_number, values FROM cdf_tables.sequence_rows WHERE external_id = 'q' ORDER BY row_number DESC LIMIT 2;
SELECT read_shape($$SELECT * FROM cdf_tables.sequence_rows WHERE external_id = 'q' ORDER BY row_number DESC LIMIT 2$$);
SELECT read_shape($$SELECT * FROM cdf_tables.sequence_rows WHERE external_id = 'q' AND row_number < 100 ORDER BY row_number LIMIT 2$$);

-- Previews: what ETL tools send to show a table.
SELECT try($$SELECT * FROM cdf_tables.double_datapoints$$);
SELECT try($$SELECT * FROM cdf_tables.double_datapoints WHERE value > 0 LIMIT 3$$);
SELECT count(*), count(DISTINCT external_id) FROM (SELECT * FROM cdf_tables.double_datapoints LIMIT 5003) s;
SELECT read_shape($$SELECT * FROM cdf_tables.double_datapoints LIMIT 5$$);
PREPARE preview_n(int) AS SELECT * FROM cdf_tables.double_datapoints LIMIT $1;
SET plan_cache_mode = force_generic_plan;
SELECT read_shape($$EXECUTE preview_n(4)$$);
SELECT try($$EXECUTE preview_n(NULL)$$);
RESET plan_cache_mode;
DEALLOCATE preview_n;
SELECT external_id, value FROM cdf_tables.string_datapoints LIMIT 5;
SELECT count(*) FROM (SELECT * FROM cdf_tables.sequence_rows LIMIT 7) s;
SELECT read_shape($$SELECT * FROM cdf_tables.sequence_rows LIMIT 7$$);
INSERT INTO cdf_tables.raw_rows (_raw_database, _raw_table, _raw_key, _raw_columns)
SELECT 'db' || (i % 2), 't' || (i % 3), 'k' || i, json_build_object('i', i) FROM generate_series(1, 12) i;
SELECT try($$SELECT * FROM cdf_tables.raw_rows$$);
SELECT count(*) FROM (SELECT * FROM cdf_tables.raw_rows LIMIT 10) s;
SELECT read_shape($$SELECT * FROM cdf_tables.raw_rows LIMIT 10$$);
SELECT _raw_database, _raw_table, count(*) FROM (SELECT * FROM cdf_tables.raw_rows WHERE _raw_database = 'db1' LIMIT 100) s
 GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) FROM (SELECT * FROM cdf_tables.raw_rows WHERE _raw_table = 't2' LIMIT 100) s;
DROP FUNCTION read_shape(text, bool);
