-- View tables over data-modeling nodes: type mapping of every DMS type and list, writes and
-- reads checked in the emulator, UPDATE/DELETE, pushdown, errors; IMPORT FOREIGN SCHEMA of the
-- Core Data Model; datapoints by instance id.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
\! python3 "$CDF_FDW_ROOT/tests/tools/dm.py" setup
SET timezone = 'UTC';
CREATE FOREIGN TABLE pumps (
  space text, external_id text NOT NULL, version bigint, created_time timestamptz, last_updated_time timestamptz,
  name text, tags text[], count integer, big bigint, counts integer[], ratio real, precise double precision,
  readings double precision[], active boolean, flags boolean[], start_time timestamptz OPTIONS (property 'startTime'),
  times timestamptz[], day date, days date[], doc jsonb, kind text, parent jsonb, related jsonb[],
  series text, manual text, curve text
) SERVER cdf OPTIONS (space 'test_dm', view 'Pump', version 'v1', instance_space 'inst');
-- Options are checked at CREATE.
SELECT try($$CREATE FOREIGN TABLE bad1 (x text) SERVER cdf OPTIONS (space 'test_dm', view 'Pump')$$);
SELECT try($$CREATE FOREIGN TABLE bad2 (x text) SERVER cdf OPTIONS (resource 'assets', view 'Pump')$$);
SELECT try($$CREATE FOREIGN TABLE bad3 (x text OPTIONS (property '')) SERVER cdf OPTIONS (space 'a', view 'b', version 'c')$$);
-- Every type, NULLs leave properties out.
INSERT INTO pumps (external_id, name, tags, count, big, counts, ratio, precise, readings, active, flags,
                   start_time, times, day, days, doc, kind, parent, related, series, manual, curve)
VALUES ('p1', 'Pump 1', '{a,b}', 7, 9000000000, '{1,2}', 1.5, 2.25, '{1.5,2}', true, '{t,f}',
        '2024-05-01 10:00:00.123+02', '{2024-01-01 00:00:00+00}', '2024-05-01', '{2024-01-02}',
        '{"k": [1, "x"]}', 'piston', '"p0"', ARRAY['{"space":"inst","externalId":"p2"}'::jsonb], 'ts1', 'f1', 'seq1'),
       ('p2', 'Pump 2', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
        NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
\! python3 "$CDF_FDW_ROOT/tests/tools/dm.py" instances inst
SELECT space, external_id, version, name, tags, count, big, counts, ratio, precise, readings, active, flags,
       start_time, times, day, days, doc, kind, parent, related, series, manual, curve
  FROM pumps ORDER BY external_id;
SELECT created_time IS NOT NULL AS has_created, last_updated_time >= created_time AS times_ok FROM pumps WHERE external_id = 'p1';
-- Pushdown: external ids go to byids, properties to DMS filters.
EXPLAIN (COSTS OFF) SELECT external_id FROM pumps WHERE external_id IN ('p1', 'p2');
EXPLAIN (COSTS OFF) SELECT external_id FROM pumps WHERE count >= 7;
SELECT external_id, name FROM pumps WHERE external_id = 'p1';
SELECT external_id FROM pumps WHERE external_id IN ('p2', 'nope');
SELECT external_id, count FROM pumps WHERE count >= 7 AND name = 'Pump 1';
\! curl -fsS "$CDF_EMULATOR_URL/_admin/stats" | python3 -c "import json,sys; e=json.load(sys.stdin)['endpoints']; print({k: v['requests'] for k, v in sorted(e.items()) if 'instances' in k})"
-- The table reads only its instance_space.
SELECT count(*) FROM pumps WHERE space = 'elsewhere';
-- IS [NOT] NULL on properties -> DMS exists.
EXPLAIN (COSTS OFF) SELECT external_id FROM pumps WHERE tags IS NULL;
SELECT external_id FROM pumps WHERE tags IS NULL ORDER BY 1;
SELECT external_id FROM pumps WHERE count IS NOT NULL ORDER BY 1;
-- LIKE on text -> DMS prefix of the pattern's literal start (none for '%1'); PostgreSQL re-checks
-- every pattern. EXPLAIN shows the filter sent.
EXPLAIN (COSTS OFF) SELECT external_id FROM pumps WHERE name LIKE 'Pump%' AND external_id LIKE 'p%';
EXPLAIN (COSTS OFF) SELECT external_id FROM pumps WHERE name LIKE '%1' AND name LIKE 'P_mp%';
SELECT external_id FROM pumps WHERE name LIKE 'Pump 1%' ORDER BY 1;
SELECT external_id FROM pumps WHERE name LIKE 'P_mp%' ORDER BY 1;
-- Without a space column or instance_space, an external id cannot go to byids: a list filter.
CREATE FOREIGN TABLE pumps_any_space (external_id text, name text) SERVER cdf OPTIONS (space 'test_dm', view 'Pump', version 'v1');
EXPLAIN (COSTS OFF) SELECT name FROM pumps_any_space WHERE external_id = 'p1';
SELECT name FROM pumps_any_space WHERE external_id = 'p1';
EXPLAIN (COSTS OFF) SELECT name FROM pumps WHERE external_id = 'p1' AND space = 'elsewhere';
DROP FOREIGN TABLE pumps_any_space;
-- UPDATE patches exactly the SET columns; NULL clears. DELETE removes the node.
UPDATE pumps SET name = 'Pump one', tags = NULL WHERE external_id = 'p1';
DELETE FROM pumps WHERE external_id = 'p2';
\! python3 "$CDF_FDW_ROOT/tests/tools/dm.py" instances inst
-- Insert modes: upsert (a NULL keeps CDF's value), create (existingVersion 0), ignore.
INSERT INTO pumps (external_id, name, count) VALUES ('p1', NULL, 8);
SELECT external_id, name, count, version FROM pumps WHERE external_id = 'p1';
ALTER FOREIGN TABLE pumps OPTIONS (ADD insert_mode 'create');
SELECT try($$INSERT INTO pumps (external_id, name) VALUES ('p1', 'again')$$);
ALTER FOREIGN TABLE pumps OPTIONS (SET insert_mode 'ignore');
INSERT INTO pumps (external_id, name) VALUES ('p1', 'ignored'), ('p3', 'Pump 3');
ALTER FOREIGN TABLE pumps OPTIONS (DROP insert_mode);
SELECT external_id, name FROM pumps ORDER BY 1;
-- Bad values name row and column; DMS rejections name the row.
SELECT try($$INSERT INTO pumps (external_id, name, kind) VALUES ('p4', 'x', 'rotary')$$);
SELECT try($$INSERT INTO pumps (external_id, name, big) VALUES ('p4', 'x', 1)$$);
SELECT try($$INSERT INTO pumps (external_id, name) VALUES ('p5', 'x'), ('p6', NULL)$$);
SELECT try($$INSERT INTO pumps (external_id, name, version) VALUES ('p4', 'x', 1)$$);
SELECT try($$INSERT INTO pumps (external_id, name, tags) VALUES ('p4', 'x', '{a,NULL}')$$);
SELECT try($$INSERT INTO pumps (external_id, name, parent) VALUES ('p4', 'x', '{"space": "inst"}')$$);
SELECT try($$INSERT INTO pumps (external_id, name, precise) VALUES ('p4', 'x', 'NaN')$$);
SELECT try($$UPDATE pumps SET name = NULL WHERE external_id = 'p1'$$);
SELECT try($$UPDATE pumps SET external_id = 'p9' WHERE external_id = 'p1'$$);
SELECT try($$DELETE FROM pumps$$);
-- Columns and types are checked against the view when the table is first used.
CREATE FOREIGN TABLE pumps_bad_type (external_id text, count text) SERVER cdf OPTIONS (space 'test_dm', view 'Pump', version 'v1');
SELECT try($$SELECT * FROM pumps_bad_type$$);
CREATE FOREIGN TABLE pumps_bad_list (external_id text, tags text) SERVER cdf OPTIONS (space 'test_dm', view 'Pump', version 'v1');
SELECT try($$SELECT * FROM pumps_bad_list$$);
CREATE FOREIGN TABLE pumps_bad_name (external_id text, nope text) SERVER cdf OPTIONS (space 'test_dm', view 'Pump', version 'v1');
SELECT try($$SELECT * FROM pumps_bad_name$$);
CREATE FOREIGN TABLE pumps_no_view (external_id text) SERVER cdf OPTIONS (space 'test_dm', view 'Nope', version 'v1');
SELECT try($$SELECT * FROM pumps_no_view$$);
SELECT try($$INSERT INTO pumps_bad_type (external_id) VALUES ('x')$$);
-- A table without instance_space needs the space column.
CREATE FOREIGN TABLE pumps_any (space text, external_id text, name text) SERVER cdf OPTIONS (space 'test_dm', view 'Pump', version 'v1');
SELECT try($$INSERT INTO pumps_any (external_id, name) VALUES ('p7', 'x')$$);
SELECT space, external_id, name FROM pumps_any WHERE space = 'inst' ORDER BY 2;
DROP FOREIGN TABLE pumps_bad_type, pumps_bad_list, pumps_bad_name, pumps_no_view, pumps_any;

-- IMPORT FOREIGN SCHEMA from the Core Data Model.
CREATE SCHEMA core;
IMPORT FOREIGN SCHEMA "cdf_cdm/CogniteCore/v1"
  LIMIT TO ("CogniteAsset", "CogniteTimeSeries", "CogniteEquipment", "CogniteActivity", "CogniteFile")
  FROM SERVER cdf INTO core OPTIONS (instance_space 'inst');
SELECT foreign_table_name FROM information_schema.foreign_tables WHERE foreign_table_schema = 'core' ORDER BY 1;
\d core."CogniteAsset"
INSERT INTO core."CogniteAsset" (external_id, name, parent) VALUES ('root', 'Root', NULL), ('child', 'Child', '"root"');
SELECT external_id, name, parent, root, path FROM core."CogniteAsset" ORDER BY 1;
-- A direct relation condition is a DMS equals / in of the node reference.
EXPLAIN (COSTS OFF) SELECT external_id FROM core."CogniteAsset" WHERE parent = '{"space": "inst", "externalId": "root"}';
SELECT external_id FROM core."CogniteAsset" WHERE parent = '{"externalId": "root", "space": "inst"}';
SELECT external_id FROM core."CogniteAsset" WHERE root IN ('{"space": "inst", "externalId": "root"}', '{"space": "x", "externalId": "y"}') ORDER BY 1;
SELECT try($$INSERT INTO core."CogniteAsset" (external_id, path) VALUES ('x', '{}')$$);
INSERT INTO core."CogniteTimeSeries" (external_id, name, type, "isStep") VALUES ('ts1', 'Temperature', 'numeric', false);
INSERT INTO core."CogniteEquipment" (external_id, name, asset) VALUES ('eq1', 'Motor', '"child"');
INSERT INTO core."CogniteActivity" (external_id, name, "startTime") VALUES ('act1', 'Inspection', '2024-01-01 00:00:00+00');
INSERT INTO core."CogniteFile" (external_id, name, "mimeType") VALUES ('file1', 'Manual', 'application/pdf');
SELECT external_id, name, asset FROM core."CogniteEquipment";
SELECT external_id, name, "startTime" FROM core."CogniteActivity";
SELECT external_id, name, "mimeType" FROM core."CogniteFile";
SELECT try($$IMPORT FOREIGN SCHEMA "cdf_cdm/CogniteCore/v1" LIMIT TO ("Nope") FROM SERVER cdf INTO core$$);
SELECT try($$IMPORT FOREIGN SCHEMA "cdf_cdm/Nope/v1" FROM SERVER cdf INTO core$$);
SELECT try($$IMPORT FOREIGN SCHEMA "cdf_cdm/CogniteCore/v1" FROM SERVER cdf INTO core OPTIONS (space 'x')$$);

-- Datapoints by instance id: the series is a CogniteTimeSeries node.
INSERT INTO cdf_tables.double_datapoints (instance_space, instance_external_id, timestamp, value)
VALUES ('inst', 'ts1', '2024-01-01 00:00:00+00', 1.5), ('inst', 'ts1', '2024-01-01 00:00:01+00', 2.5);
SELECT instance_space, instance_external_id, timestamp, value FROM cdf_tables.double_datapoints
 WHERE instance_space = 'inst' AND instance_external_id = 'ts1';
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" items timeseries/data externalId,isString,datapoints
SELECT try($$INSERT INTO cdf_tables.double_datapoints (external_id, instance_space, instance_external_id, timestamp, value) VALUES ('x', 'inst', 'ts1', now(), 1)$$);
SELECT try($$INSERT INTO cdf_tables.double_datapoints (instance_external_id, timestamp, value) VALUES ('ts1', now(), 1)$$);
DELETE FROM cdf_tables.double_datapoints
 WHERE instance_space = 'inst' AND instance_external_id = 'ts1' AND timestamp = '2024-01-01 00:00:00+00';
SELECT timestamp, value FROM cdf_tables.double_datapoints WHERE instance_space = 'inst' AND instance_external_id = 'ts1';
SELECT try($$INSERT INTO cdf_tables.string_datapoints (instance_space, instance_external_id, timestamp, value) VALUES ('inst', 'ts1', now(), 'x')$$);
-- cdf.create_user grants view tables as dataModelInstancesAcl allows.
SELECT g AS granted FROM cdf.create_user('cdf', 'demo-client', 'demo-secret', 'cdf_view_user') u, unnest(u.granted) g
 WHERE g LIKE '%core.%' OR g LIKE '%pumps%' ORDER BY 1;
SELECT cdf.drop_user('cdf_view_user');
-- EXPLAIN ANALYZE of a view-table read and write shows the CDF requests they made.
CREATE FUNCTION cdf_lines(sql text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
  FOR line IN EXECUTE format('EXPLAIN (ANALYZE, COSTS OFF, SUMMARY OFF, BUFFERS OFF, TIMING OFF) %s', sql) LOOP
    IF line ~ 'CDF (Requests|Rows)' THEN RETURN NEXT btrim(line); END IF;
  END LOOP;
END $$;
SELECT cdf_lines($$SELECT external_id FROM core."CogniteFile"$$);
SELECT cdf_lines($$INSERT INTO core."CogniteFile" (external_id, name) VALUES ('file2', 'Drawing')$$);
DROP FUNCTION cdf_lines(text);
DROP SCHEMA core CASCADE;
DROP FOREIGN TABLE pumps;
