-- Row estimates follow the conditions sent to CDF: each id, external id or RAW key names at most
-- one row, a series a default 1000 points, a list 1000 rows; conditions PostgreSQL evaluates
-- locally lower that by their selectivity. (Planning only: nothing reaches CDF.)
CREATE FUNCTION estimated_rows(sql text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
  EXECUTE 'EXPLAIN (FORMAT JSON) ' || sql INTO plan;
  RETURN (plan->0->'Plan'->>'Plan Rows')::float8;
END $$;
SELECT estimated_rows($$SELECT * FROM cdf_tables.assets$$) AS whole_list,
       estimated_rows($$SELECT * FROM cdf_tables.assets WHERE external_id = 'a'$$) AS one_xid,
       estimated_rows($$SELECT * FROM cdf_tables.assets WHERE id IN (1, 2, 3)$$) AS three_ids,
       estimated_rows($$SELECT * FROM cdf_tables.assets WHERE external_id = ANY (ARRAY['a', 'b'])$$) AS two_xids,
       estimated_rows($$SELECT * FROM cdf_tables.assets WHERE id IN (1, 2, 3) AND external_id = 'a'$$) AS both;
SELECT estimated_rows($$SELECT * FROM cdf_tables.raw_rows WHERE _raw_database = 'd' AND _raw_table = 't' AND _raw_key IN ('a', 'b')$$) AS two_keys,
       estimated_rows($$SELECT * FROM cdf_tables.raw_rows WHERE _raw_database = 'd' AND _raw_table = 't'$$) AS raw_table,
       estimated_rows($$SELECT * FROM cdf_tables.double_datapoints WHERE external_id IN ('a', 'b')$$) AS two_series;
-- A local-only condition (default equality selectivity 0.5%), and an id list whose length the
-- plan does not know (a parameter).
SELECT estimated_rows($$SELECT * FROM cdf_tables.assets WHERE name = 'x'$$) AS by_name;
PREPARE by_ids(bigint[]) AS SELECT * FROM cdf_tables.assets WHERE id = ANY ($1);
SET plan_cache_mode = force_generic_plan;
SELECT estimated_rows($$EXECUTE by_ids(ARRAY[1, 2])$$) AS generic_ids;
RESET plan_cache_mode;
SELECT estimated_rows($$EXECUTE by_ids(ARRAY[1, 2])$$) AS custom_ids;
DEALLOCATE by_ids;
-- What it is for: the two-row lookup is the outer side of the join, not the 10,000 local rows.
CREATE TEMP TABLE parts AS SELECT g AS asset_id, 'part ' || g AS part FROM generate_series(1, 10000) g;
CREATE INDEX ON parts (asset_id);
ANALYZE parts;
EXPLAIN (COSTS OFF)
SELECT a.external_id, p.part FROM cdf_tables.assets a JOIN parts p ON p.asset_id = a.id
 WHERE a.external_id IN ('a', 'b');
DROP FUNCTION estimated_rows(text);
