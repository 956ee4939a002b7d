-- Filter pushdown: conditions CDF's list filters answer go into the `filter` of POST /{resource}/list
-- (EXPLAIN shows the JSON); PostgreSQL still re-checks every one. Each condition is run against CDF
-- and against a local copy of the whole table: the rows must be the same both ways, and CDF must
-- have returned only the rows of the filter (rows received), not the whole list.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
INSERT INTO cdf_tables.data_sets (external_id, name) VALUES ('ds1', 'One'), ('ds2', 'Two');
INSERT INTO cdf_tables.labels (external_id, name) VALUES ('pump', 'Pump'), ('valve', 'Valve');
SELECT id AS ds1 FROM cdf_tables.data_sets WHERE external_id = 'ds1' \gset
SELECT id AS ds2 FROM cdf_tables.data_sets WHERE external_id = 'ds2' \gset
INSERT INTO cdf_tables.assets (external_id, name, data_set_id, source, metadata, labels)
VALUES ('r1', 'Root 1', :ds1, 'sap', '{"site": "oslo"}', '{pump}'), ('r2', 'Root 2', :ds2, 'pi', '{"site": "bergen"}', NULL);
INSERT INTO cdf_tables.assets (external_id, name, parent_external_id, data_set_id, source, metadata, labels)
SELECT CASE WHEN i = 60 THEN 'a_x' ELSE 'a-' || i END, 'Asset ' || i, CASE WHEN i % 2 = 0 THEN 'r1' ELSE 'r2' END,
       CASE i % 3 WHEN 0 THEN :ds1 WHEN 1 THEN :ds2 END,
       CASE i % 4 WHEN 0 THEN 'sap' WHEN 1 THEN 'SAP' WHEN 2 THEN 'pi' END,
       json_build_object('site', CASE WHEN i % 5 = 0 THEN 'oslo' ELSE 'Oslo' END, 'n', i::text),
       CASE i % 3 WHEN 0 THEN ARRAY['pump'] WHEN 1 THEN ARRAY['pump', 'valve'] END
FROM generate_series(1, 60) i;
SELECT id AS r1 FROM cdf_tables.assets WHERE external_id = 'r1' \gset
SELECT id AS a7 FROM cdf_tables.assets WHERE external_id = 'a-7' \gset
SELECT id AS a8 FROM cdf_tables.assets WHERE external_id = 'a-8' \gset
INSERT INTO cdf_tables.events (external_id, start_time, end_time, type, subtype, asset_ids, source, metadata, data_set_id)
SELECT 'e-' || i, timestamptz '2024-01-01 00:00:00+00' + i * interval '1 hour',
       timestamptz '2024-01-01 00:30:00.5+00' + i * interval '1 hour',
       CASE WHEN i % 2 = 0 THEN 'alarm' ELSE 'info' END, CASE WHEN i % 3 = 0 THEN 'high' END,
       CASE i % 4 WHEN 0 THEN ARRAY[:a7] WHEN 1 THEN ARRAY[:a7, :a8] WHEN 2 THEN ARRAY[:a8] END,
       'scada', json_build_object('line', (i % 2)::text), CASE WHEN i % 2 = 0 THEN :ds1 END
FROM generate_series(1, 40) i;
INSERT INTO cdf_tables.files (external_id, name, mime_type, source, asset_ids, source_created_time, source_modified_time, labels)
SELECT 'f-' || i, 'file ' || i || '.pdf', CASE WHEN i % 2 = 0 THEN 'application/pdf' ELSE 'text/plain' END, 'sharepoint',
       CASE WHEN i % 3 = 0 THEN ARRAY[:a7] END, timestamptz '2023-06-01 00:00:00+00' + i * interval '1 day',
       timestamptz '2023-07-01 00:00:00+00' + i * interval '1 day', CASE WHEN i % 2 = 1 THEN ARRAY['valve'] END
FROM generate_series(1, 8) i;
INSERT INTO cdf_tables.time_series (external_id, name, is_string, is_step, unit, asset_id, data_set_id, metadata)
SELECT 'ts-' || i, 'Series ' || i, i % 4 = 0, i % 3 = 0, CASE WHEN i % 2 = 0 THEN 'bar' ELSE 'degC' END,
       CASE WHEN i % 2 = 0 THEN :a7 ELSE :a8 END, CASE WHEN i % 5 = 0 THEN :ds2 END, json_build_object('tag', 'T' || (i % 3))
FROM generate_series(1, 20) i;
INSERT INTO cdf_tables.sequences (external_id, name, asset_id, columns)
SELECT 'seq-' || i, 'Sequence ' || (i % 2), CASE WHEN i % 2 = 0 THEN :a7 END, '[{"externalId": "c", "valueType": "DOUBLE"}]'
FROM generate_series(1, 6) i;
INSERT INTO cdf_tables.relationships (external_id, source_external_id, source_type, target_external_id, target_type, start_time)
SELECT 'rel-' || i, CASE WHEN i % 2 = 0 THEN 'r1' ELSE 'r2' END, 'asset', 'e-' || i, 'event',
       timestamptz '2024-02-01 00:00:00+00' + i * interval '1 day'
FROM generate_series(1, 10) i;
-- The local copies (full lists, no condition).
CREATE TEMP TABLE local_assets AS SELECT * FROM cdf_tables.assets;
CREATE TEMP TABLE local_events AS SELECT * FROM cdf_tables.events;
CREATE TEMP TABLE local_files AS SELECT * FROM cdf_tables.files;
CREATE TEMP TABLE local_time_series AS SELECT * FROM cdf_tables.time_series;
CREATE TEMP TABLE local_sequences AS SELECT * FROM cdf_tables.sequences;
CREATE TEMP TABLE local_relationships AS SELECT * FROM cdf_tables.relationships;
CREATE TEMP TABLE local_data_sets AS SELECT * FROM cdf_tables.data_sets;
-- Runs `cond` on cdf_tables.<tab> and on local_<tab>: rows, rows only one side has, the filter sent
-- (EXPLAIN ANALYZE; ms timestamps of now() and server ids masked) and the rows CDF returned.
CREATE FUNCTION pushed(tab text, cond text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE remote bigint; only_remote bigint; only_local bigint; plan json; node jsonb;
BEGIN
  EXECUTE format('SELECT count(*) FROM cdf_tables.%I t WHERE %s', tab, cond) INTO remote;
  EXECUTE format('SELECT count(*) FROM (SELECT to_jsonb(t) FROM cdf_tables.%I t WHERE %s
                  EXCEPT ALL SELECT to_jsonb(t) FROM local_%s t WHERE %s) d', tab, cond, tab, cond) INTO only_remote;
  EXECUTE format('SELECT count(*) FROM (SELECT to_jsonb(t) FROM local_%s t WHERE %s
                  EXCEPT ALL SELECT to_jsonb(t) FROM cdf_tables.%I t WHERE %s) d', tab, cond, tab, cond) INTO only_local;
  EXECUTE format('EXPLAIN (ANALYZE, FORMAT JSON, TIMING OFF, SUMMARY OFF) SELECT * FROM cdf_tables.%I t WHERE %s', tab, cond)
    INTO plan;
  node := jsonb_path_query_first(plan::jsonb, 'strict $.**?(@."Node Type" == "Foreign Scan")');
  RETURN format('%s rows (only in CDF %s, only local %s), received %s, filter %s', remote, only_remote, only_local,
                coalesce(node->>'CDF Rows Received', 'no scan'), coalesce(regexp_replace(node->>'CDF Filter', '\d{13,}', '<n>', 'g'), 'none'));
END $$;
-- assets
SELECT pushed('assets', format('data_set_id = %s', :ds1));
SELECT pushed('assets', format('data_set_id IN (%s, %s)', :ds1, :ds2));
SELECT pushed('assets', $$external_id LIKE 'a-1%'$$);
SELECT pushed('assets', $$external_id LIKE 'a\_%'$$);
SELECT pushed('assets', $$external_id LIKE 'a-%5'$$);
SELECT pushed('assets', $$metadata->>'site' = 'oslo'$$);
SELECT pushed('assets', $$'oslo' = metadata->>'site' AND metadata->>'n' = '10'$$);
SELECT pushed('assets', $$source = 'sap'$$);
SELECT pushed('assets', $$source IN ('sap', 'SAP')$$);
SELECT pushed('assets', $$name = 'Asset 7'$$);
SELECT pushed('assets', $$parent_external_id = 'r1'$$);
SELECT pushed('assets', format('parent_id = %s', :r1));
SELECT pushed('assets', format('root_id = %s', :r1));
SELECT pushed('assets', $$labels @> ARRAY['valve']$$);
SELECT pushed('assets', $$labels && ARRAY['valve', 'none']$$);
SELECT pushed('assets', $$created_time >= now() - interval '1 hour' AND last_updated_time <= now() + interval '1 hour'$$);
SELECT pushed('assets', $$created_time > now() + interval '1 hour'$$);
SELECT pushed('assets', $$source = 'sap' AND data_set_id = $$ || :ds1 || $$ AND name LIKE 'Asset%'$$);
-- never true: no request at all (a NULL known only when the scan starts; a constant one PostgreSQL
-- folds away itself)
SELECT pushed('assets', $$source = (SELECT NULL::text)$$);
SELECT pushed('assets', $$external_id LIKE 'a-1%' AND external_id LIKE 'a-2%'$$);
-- events
SELECT pushed('events', $$start_time >= '2024-01-01 10:00:00+00' AND start_time < '2024-01-01 20:00:00+00'$$);
SELECT pushed('events', $$end_time <= '2024-01-01 05:30:00.5+00'$$);
SELECT pushed('events', $$end_time > '2024-01-01 05:30:00.5+00' AND end_time < '2024-01-01 08:30:00.6+00'$$);
SELECT pushed('events', $$type = 'alarm' AND subtype = 'high'$$);
SELECT pushed('events', format('asset_ids && ARRAY[%s]::bigint[]', :a8));
SELECT pushed('events', format('data_set_id = %s AND source = %L', :ds1, 'scada'));
SELECT pushed('events', $$metadata->>'line' = '1' AND external_id LIKE 'e-1%'$$);
-- files
SELECT pushed('files', $$source_created_time >= '2023-06-04 00:00:00+00' AND source_modified_time < '2023-07-07 00:00:00+00'$$);
SELECT pushed('files', $$mime_type = 'application/pdf' AND name = 'file 4.pdf'$$);
SELECT pushed('files', format('asset_ids && ARRAY[%s]::bigint[]', :a7));
SELECT pushed('files', $$labels && ARRAY['valve'] AND source = 'sharepoint'$$);
-- time series
SELECT pushed('time_series', $$is_string = true$$);
SELECT pushed('time_series', $$NOT is_string AND is_step$$);
SELECT pushed('time_series', $$is_step = false AND unit = 'bar'$$);
SELECT pushed('time_series', format('asset_id = %s AND name = %L', :a7, 'Series 4'));
SELECT pushed('time_series', format('data_set_id = %s', :ds2));
SELECT pushed('time_series', $$metadata->>'tag' = 'T1' AND external_id LIKE 'ts-1%'$$);
-- sequences, relationships, data sets
SELECT pushed('sequences', format('asset_id IN (%s) AND name = %L', :a7, 'Sequence 0'));
SELECT pushed('relationships', $$source_external_id = 'r1' AND target_type = 'event'$$);
SELECT pushed('relationships', $$start_time >= '2024-02-05 00:00:00+00'$$);
SELECT pushed('data_sets', $$external_id LIKE 'ds%' AND write_protected = false$$);
-- EXPLAIN shows the filter before running; a varchar column and a commuted condition too.
EXPLAIN (COSTS OFF) SELECT name FROM cdf_tables.assets WHERE 'sap' = source AND external_id LIKE 'a-%' AND description IS NULL;
-- Prepared statements, also as generic plans: the filter is computed from the parameters.
PREPARE by_set(bigint, text, text) AS
  SELECT count(*) FROM cdf_tables.assets WHERE data_set_id = $1 AND external_id LIKE $2 AND metadata->>'site' = $3;
SET plan_cache_mode = force_generic_plan;
EXECUTE by_set(:ds1, 'a-1%', 'Oslo');
EXECUTE by_set(:ds2, 'a-%', 'oslo');
-- (server ids masked: the emulator draws them at random, as CDF does)
CREATE FUNCTION pg_temp.explained(sql text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || sql LOOP
    RETURN NEXT regexp_replace(line, '\d{13,}', '<id>', 'g');
  END LOOP;
END $$;
SELECT pg_temp.explained(format('EXECUTE by_set(%s, %L, %L)', :ds1, 'a-1%', 'Oslo')) AS "QUERY PLAN";
RESET plan_cache_mode;
SELECT count(*) FROM local_assets WHERE data_set_id = :ds1 AND external_id LIKE 'a-1%' AND metadata->>'site' = 'Oslo';
DEALLOCATE by_set;
-- A subquery's value is known when the scan starts.
SELECT count(*) FROM cdf_tables.assets WHERE parent_id = (SELECT id FROM cdf_tables.assets WHERE external_id = 'r2');
DROP FUNCTION pushed(text, text);
