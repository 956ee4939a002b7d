-- Events and assets joined by asset id: a parameterized scan sends each outer row's key as a
-- condition CDF answers (events' assetIds filter for `a.id = ANY(e.asset_ids)` and
-- `e.asset_ids && ARRAY[a.id]`; assets byids for the ids of an event). Results equal the join
-- PostgreSQL computes over local copies, both ways (EXCEPT ALL), with NULL and empty arrays,
-- duplicate ids in an array, outer rows without a match, and more than 100 outer rows.
-- The parameterized scans are shown with batched joins of two CDF tables off; the end of the
-- file runs the same joins batched (one scan looking the inner side up per batch of keys).
SET cdf_fdw.enable_join_pushdown = off;
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
INSERT INTO cdf_tables.assets (external_id, name, source)
SELECT 'ja-' || i, 'Asset ' || i, CASE WHEN i <= 3 THEN 'plant' END FROM generate_series(1, 130) i;
CREATE TEMP TABLE local_assets AS SELECT * FROM cdf_tables.assets;
-- Event i names assets i % 130 + 1 and (i * 7) % 130 + 1 (twice when i % 5 = 0); every 11th names none.
INSERT INTO cdf_tables.events (external_id, type, asset_ids)
SELECT 'je-' || i, CASE WHEN i <= 4 THEN 'alarm' ELSE 'info' END,
       CASE WHEN i % 11 = 0 THEN NULL
            WHEN i % 5 = 0 THEN ARRAY[(SELECT id FROM local_assets WHERE external_id = 'ja-' || (i % 130 + 1)),
                                      (SELECT id FROM local_assets WHERE external_id = 'ja-' || (i % 130 + 1))]
            ELSE ARRAY[(SELECT id FROM local_assets WHERE external_id = 'ja-' || (i % 130 + 1)),
                       (SELECT id FROM local_assets WHERE external_id = 'ja-' || ((i * 7) % 130 + 1))] END
  FROM generate_series(1, 260) i;
CREATE TEMP TABLE local_events AS SELECT * FROM cdf_tables.events;
ANALYZE local_assets;
ANALYZE local_events;
CREATE FUNCTION scans(sql text) RETURNS TABLE (relation text, conditions text, loops numeric, requests numeric, plan_rows numeric)
LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON, TIMING OFF, SUMMARY OFF) ' || sql INTO plan;
  RETURN QUERY SELECT n->>'Relation Name', n->>'CDF Conditions', (n->>'Actual Loops')::numeric,
                      (n->>'CDF Requests')::numeric, (n->>'Plan Rows')::numeric
    FROM jsonb_path_query(plan::jsonb, 'strict $.**?(@."Node Type" == "Foreign Scan")') n ORDER BY 1;
END $$;
-- One outer asset: the planner takes the parameterized events scan (one filtered list) over
-- reading the events list it guesses at 1000 rows.
EXPLAIN (COSTS OFF)
SELECT e.external_id FROM cdf_tables.assets a JOIN cdf_tables.events e ON a.id = ANY(e.asset_ids) WHERE a.external_id = 'ja-2';
SELECT * FROM scans($$SELECT e.external_id FROM cdf_tables.assets a JOIN cdf_tables.events e ON a.id = ANY(e.asset_ids) WHERE a.external_id = 'ja-2'$$);
SELECT array_agg(e.external_id ORDER BY e.external_id) FROM cdf_tables.assets a JOIN cdf_tables.events e ON a.id = ANY(e.asset_ids) WHERE a.external_id = 'ja-2';
-- With more outer rows a request each costs more than one read of the list (a hash join or a
-- materialized scan); these settings make the planner show the parameterized scan there too.
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
-- Assets to their events: the events scan is parameterized by the asset's id.
EXPLAIN (COSTS OFF)
SELECT a.external_id, e.external_id FROM cdf_tables.assets a JOIN cdf_tables.events e ON a.id = ANY(e.asset_ids)
 WHERE a.source = 'plant';
SELECT differences(
  $$SELECT a.external_id, e.external_id FROM cdf_tables.assets a JOIN cdf_tables.events e ON a.id = ANY(e.asset_ids) WHERE a.source = 'plant'$$,
  $$SELECT a.external_id, e.external_id FROM local_assets a JOIN local_events e ON a.id = ANY(e.asset_ids) WHERE a.source = 'plant'$$);
SELECT a.external_id, array_agg(e.external_id ORDER BY e.external_id) FROM cdf_tables.assets a
  JOIN cdf_tables.events e ON a.id = ANY(e.asset_ids) WHERE a.source = 'plant' GROUP BY 1 ORDER BY 1;
EXPLAIN (COSTS OFF)
SELECT a.external_id, e.external_id FROM cdf_tables.assets a JOIN cdf_tables.events e ON e.asset_ids && ARRAY[a.id]
 WHERE a.source = 'plant';
SELECT differences(
  $$SELECT a.external_id, e.external_id FROM cdf_tables.assets a JOIN cdf_tables.events e ON e.asset_ids && ARRAY[a.id] WHERE a.source = 'plant'$$,
  $$SELECT a.external_id, e.external_id FROM local_assets a JOIN local_events e ON e.asset_ids && ARRAY[a.id] WHERE a.source = 'plant'$$);
-- What each scan sent (EXPLAIN ANALYZE): the events scan ran once per outer asset, one filtered list each.
SELECT * FROM scans($$SELECT a.external_id, e.external_id FROM cdf_tables.assets a JOIN cdf_tables.events e ON a.id = ANY(e.asset_ids) WHERE a.source = 'plant'$$);
-- A local outer side of 130 assets (more than 100 keys), with outer rows that no event names
-- (LEFT JOIN) and a NULL key.
CREATE TEMP TABLE wanted AS SELECT id, external_id FROM local_assets UNION ALL SELECT NULL, 'nothing';
ANALYZE wanted;
EXPLAIN (COSTS OFF)
SELECT w.external_id, e.external_id FROM wanted w LEFT JOIN cdf_tables.events e ON w.id = ANY(e.asset_ids);
SELECT differences(
  $$SELECT w.external_id, e.external_id FROM wanted w LEFT JOIN cdf_tables.events e ON w.id = ANY(e.asset_ids)$$,
  $$SELECT w.external_id, e.external_id FROM wanted w LEFT JOIN local_events e ON w.id = ANY(e.asset_ids)$$);
SELECT * FROM scans($$SELECT w.external_id, e.external_id FROM wanted w LEFT JOIN cdf_tables.events e ON w.id = ANY(e.asset_ids)$$);
SELECT count(*) FILTER (WHERE e.external_id IS NULL) AS unmatched FROM wanted w LEFT JOIN cdf_tables.events e ON w.id = ANY(e.asset_ids);
-- Events to their assets: byids of each event's asset ids (duplicates and NULL arrays too).
EXPLAIN (COSTS OFF)
SELECT e.external_id, a.external_id FROM cdf_tables.events e JOIN cdf_tables.assets a ON a.id = ANY(e.asset_ids) WHERE e.type = 'alarm';
SELECT differences(
  $$SELECT e.external_id, a.external_id FROM cdf_tables.events e JOIN cdf_tables.assets a ON a.id = ANY(e.asset_ids) WHERE e.type <> 'x'$$,
  $$SELECT e.external_id, a.external_id FROM local_events e JOIN local_assets a ON a.id = ANY(e.asset_ids) WHERE e.type <> 'x'$$);
SELECT differences(
  $$SELECT e.external_id, a.external_id FROM local_events e LEFT JOIN cdf_tables.assets a ON a.id = ANY(e.asset_ids)$$,
  $$SELECT e.external_id, a.external_id FROM local_events e LEFT JOIN local_assets a ON a.id = ANY(e.asset_ids)$$);
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_material;
-- A generic plan: the parameter and the outer key both reach CDF.
PREPARE events_of(text) AS SELECT count(*) FROM cdf_tables.assets a JOIN cdf_tables.events e ON a.id = ANY(e.asset_ids) WHERE a.external_id = $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE events_of('ja-2');
EXECUTE events_of('ja-2');
SELECT count(*) FROM local_assets a JOIN local_events e ON a.id = ANY(e.asset_ids) WHERE a.external_id = 'ja-2';
RESET plan_cache_mode;
DEALLOCATE events_of;
-- A plain WHERE `value = ANY(asset_ids)` is sent as the assetIds filter too.
EXPLAIN (COSTS OFF) SELECT external_id FROM cdf_tables.events WHERE 12345 = ANY(asset_ids);
-- Batched: the same joins of two CDF tables as one Foreign Scan. The outer side is read once;
-- the inner side once per batch of keys (100 asset ids per assetIds filter, 1000 per byids),
-- where the nested loop above sent a request per outer row.
RESET cdf_fdw.enable_join_pushdown;
EXPLAIN (COSTS OFF)
SELECT a.external_id, e.external_id FROM cdf_tables.assets a JOIN cdf_tables.events e ON a.id = ANY(e.asset_ids)
 WHERE a.source = 'plant';
SELECT differences(
  $$SELECT a.external_id, e.external_id FROM cdf_tables.assets a JOIN cdf_tables.events e ON a.id = ANY(e.asset_ids) WHERE a.source = 'plant'$$,
  $$SELECT a.external_id, e.external_id FROM local_assets a JOIN local_events e ON a.id = ANY(e.asset_ids) WHERE a.source = 'plant'$$);
SELECT * FROM join_scan($$SELECT a.external_id, e.external_id FROM cdf_tables.assets a JOIN cdf_tables.events e ON a.id = ANY(e.asset_ids) WHERE a.source = 'plant'$$);
-- All 130 assets drive: two lookups of the events (100 + 30 ids), not 130.
SET enable_hashjoin = off;
SET enable_mergejoin = off;
EXPLAIN (COSTS OFF)
SELECT a.external_id, e.external_id FROM cdf_tables.assets a JOIN cdf_tables.events e ON e.asset_ids && ARRAY[a.id];
SELECT differences(
  $$SELECT a.external_id, e.external_id FROM cdf_tables.assets a JOIN cdf_tables.events e ON e.asset_ids && ARRAY[a.id]$$,
  $$SELECT a.external_id, e.external_id FROM local_assets a JOIN local_events e ON e.asset_ids && ARRAY[a.id]$$);
SELECT * FROM join_scan($$SELECT a.external_id, e.external_id FROM cdf_tables.assets a JOIN cdf_tables.events e ON e.asset_ids && ARRAY[a.id]$$);
-- Events to their assets: one byids lookup for the ids of all 260 events (duplicates and NULL
-- arrays too).
EXPLAIN (COSTS OFF)
SELECT e.external_id, a.external_id FROM cdf_tables.events e JOIN cdf_tables.assets a ON a.id = ANY(e.asset_ids) WHERE e.type <> 'x';
SELECT differences(
  $$SELECT e.external_id, a.external_id FROM cdf_tables.events e JOIN cdf_tables.assets a ON a.id = ANY(e.asset_ids) WHERE e.type <> 'x'$$,
  $$SELECT e.external_id, a.external_id FROM local_events e JOIN local_assets a ON a.id = ANY(e.asset_ids) WHERE e.type <> 'x'$$);
SELECT * FROM join_scan($$SELECT e.external_id, a.external_id FROM cdf_tables.events e JOIN cdf_tables.assets a ON a.id = ANY(e.asset_ids) WHERE e.type <> 'x'$$);
RESET enable_hashjoin;
RESET enable_mergejoin;
-- A generic plan with parameters on both sides.
PREPARE alarm_assets(text, text) AS SELECT e.external_id AS event, a.external_id AS asset FROM cdf_tables.events e
  JOIN cdf_tables.assets a ON a.id = ANY(e.asset_ids) WHERE e.type = $1 AND a.external_id LIKE $2;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE alarm_assets('alarm', 'ja-%');
CREATE TEMP TABLE got AS EXECUTE alarm_assets('alarm', 'ja-%');
SELECT differences(
  $$SELECT * FROM got$$,
  $$SELECT e.external_id, a.external_id FROM local_events e JOIN local_assets a ON a.id = ANY(e.asset_ids) WHERE e.type = 'alarm' AND a.external_id LIKE 'ja-%'$$);
RESET plan_cache_mode;
DEALLOCATE alarm_assets;
DROP FUNCTION scans(text);
