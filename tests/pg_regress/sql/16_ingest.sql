-- Issue 11: ingestion as ETL sources deliver it: hierarchies in any order, references by external
-- id, NULL semantics by choice, update and delete through INSERT.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
-- Children before their parents in one statement: they wait until the parent is written.
INSERT INTO cdf_tables.assets (external_id, name, parent_external_id)
VALUES ('h3', 'H3', 'h2'), ('h2', 'H2', 'h1'), ('h1', 'H1', NULL);
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" items assets externalId,parentId,rootId
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /assets"
-- A parent already in CDF is looked up (one byids for the statement).
INSERT INTO cdf_tables.assets (external_id, name, parent_external_id) VALUES ('h4', 'H4', 'h1');
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /assets/byids"
-- Cycles, assets that are their own parent and parents that never arrive are reported at the
-- end of the statement, naming the rows; the other rows are written.
SELECT try($$INSERT INTO cdf_tables.assets (external_id, name, parent_external_id) VALUES
  ('c1', 'C1', 'c2'), ('c2', 'C2', 'c1'), ('m1', 'M1', 'missing'), ('m2', 'M2', 'm1'),
  ('s1', 'S1', 's1'), ('ok1', 'OK1', 'h1')$$);
SELECT try($$INSERT INTO cdf_tables.assets (external_id, name, parent_id) VALUES ('pid', 'P', 987654321)$$);
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" items assets externalId,parentId
-- Re-parenting: h4 moves below h5, which comes later in the same statement (upsert).
INSERT INTO cdf_tables.assets (external_id, name, parent_external_id) VALUES ('h4', 'H4 moved', 'h5'), ('h5', 'H5', 'h3');
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" items assets externalId,name,parentId
-- insert_mode create and ignore order the same way.
ALTER FOREIGN TABLE cdf_tables.assets OPTIONS (ADD insert_mode 'ignore');
INSERT INTO cdf_tables.assets (external_id, name, parent_external_id) VALUES ('i2', 'I2', 'i1'), ('h1', 'skipped', NULL), ('i1', 'I1', 'h1');
ALTER FOREIGN TABLE cdf_tables.assets OPTIONS (SET insert_mode 'create');
INSERT INTO cdf_tables.assets (external_id, name, parent_external_id) VALUES ('k2', 'K2', 'k1'), ('k1', 'K1', 'i1');
ALTER FOREIGN TABLE cdf_tables.assets OPTIONS (DROP insert_mode);
SELECT external_id, name, parent_external_id FROM cdf_tables.assets WHERE external_id IN ('h1', 'i1', 'i2', 'k1', 'k2') ORDER BY 1;
-- Waiting rows are bounded by hierarchy_buffer_mb.
ALTER FOREIGN TABLE cdf_tables.assets OPTIONS (ADD hierarchy_buffer_mb '1');
SELECT try($$INSERT INTO cdf_tables.assets (external_id, name, parent_external_id)
  SELECT 'w' || i, repeat('n', 100), 'absent' FROM generate_series(1, 10000) i$$);
ALTER FOREIGN TABLE cdf_tables.assets OPTIONS (DROP hierarchy_buffer_mb);
-- Bad option values.
CREATE FOREIGN TABLE bad_assets (external_id text) SERVER cdf OPTIONS (resource 'assets', hierarchy_buffer_mb '0');
CREATE FOREIGN TABLE bad_assets (external_id text) SERVER cdf OPTIONS (resource 'assets', null_values 'maybe');
CREATE FOREIGN TABLE bad_assets (external_id text) SERVER cdf OPTIONS (resource 'assets', delete_unknown 'warn');
CREATE FOREIGN TABLE bad_assets (external_id text) SERVER cdf OPTIONS (resource 'assets', unknown_references 'skip');
CREATE FOREIGN TABLE bad_assets (external_id text) SERVER cdf OPTIONS (resource 'assets', insert_mode 'merge');

-- NULL semantics: by default a NULL in an upsert keeps CDF's value; null_values 'clear' clears it.
INSERT INTO cdf_tables.assets (external_id, name, description, source, metadata, labels)
VALUES ('n1', 'N1', 'd1', 's1', '{"k": "v"}', '{l1}'), ('n2', 'N2', 'd2', 's2', '{"k": "v"}', '{l1}');
INSERT INTO cdf_tables.assets (external_id, name, description, source, metadata, labels) VALUES ('n1', 'N1 kept', NULL, NULL, NULL, NULL);
CREATE FOREIGN TABLE full_assets (external_id text, name text, description text, source text, metadata json, labels text[], parent_external_id text)
  SERVER cdf OPTIONS (resource 'assets', null_values 'clear');
INSERT INTO full_assets (external_id, name, description, source, metadata, labels) VALUES ('n2', 'N2 cleared', NULL, NULL, NULL, NULL);
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" items assets externalId,name,description,source,metadata,labels | grep -E 'externalId=n'

-- insert_mode 'update': existing objects only; a missing one is an error naming it.
CREATE FOREIGN TABLE asset_updates (id bigint, external_id text, name text, description text, parent_external_id text)
  SERVER cdf OPTIONS (resource 'assets', insert_mode 'update');
EXPLAIN (COSTS OFF) INSERT INTO asset_updates (external_id, description) VALUES ('n1', 'x');
INSERT INTO asset_updates (external_id, description) VALUES ('n1', 'updated'), ('n2', 'also');
INSERT INTO asset_updates (id, external_id, name) SELECT id, 'n3', 'renamed' FROM cdf_tables.assets WHERE external_id = 'n2';
SELECT try($$INSERT INTO asset_updates (external_id, description) VALUES ('n1', 'again'), ('nope', 'x')$$);
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" items assets externalId,name,description | grep -E 'externalId=n'
SELECT try($$INSERT INTO asset_updates (external_id) VALUES ('n1') RETURNING id$$);
CREATE FOREIGN TABLE point_updates (external_id text, "timestamp" timestamptz, value float8)
  SERVER cdf OPTIONS (resource 'double_datapoints', insert_mode 'update');
SELECT try($$INSERT INTO point_updates VALUES ('x', now(), 1)$$);

-- insert_mode 'delete': the objects whose ids or external ids are inserted; unknown ones are
-- ignored, or an error with delete_unknown 'error'.
CREATE FOREIGN TABLE asset_deletes (id bigint, external_id text) SERVER cdf OPTIONS (resource 'assets', insert_mode 'delete');
INSERT INTO asset_deletes (external_id) VALUES ('n1'), ('never-there');
ALTER FOREIGN TABLE asset_deletes OPTIONS (ADD delete_unknown 'error');
SELECT try($$INSERT INTO asset_deletes (external_id) VALUES ('n3'), ('never-there')$$);
INSERT INTO asset_deletes (id) SELECT id FROM cdf_tables.assets WHERE external_id = 'n3';
SELECT external_id FROM cdf_tables.assets WHERE external_id LIKE 'n%' ORDER BY 1;
CREATE FOREIGN TABLE set_deletes (external_id text) SERVER cdf OPTIONS (resource 'data_sets', insert_mode 'delete');
SELECT try($$INSERT INTO set_deletes VALUES ('x')$$);

-- References by external id: resolved with batched lookups, also to assets written earlier in
-- the statement; unknown ones are errors naming row, column and value, or dropped and counted.
INSERT INTO cdf_tables.data_sets (external_id, name) VALUES ('ds1', 'DS 1');
INSERT INTO cdf_tables.assets (external_id, name, data_set_external_id) SELECT 'r' || i, 'R', 'ds1' FROM generate_series(1, 3) i;
INSERT INTO cdf_tables.events (external_id, asset_external_ids, data_set_external_id) VALUES ('e1', '{r1,r2}', 'ds1'), ('e2', '{r3}', NULL);
INSERT INTO cdf_tables.time_series (external_id, name, asset_external_id, data_set_external_id) VALUES ('t1', 'T1', 'r2', 'ds1');
SELECT external_id, asset_external_ids, data_set_external_id, cardinality(asset_ids) AS ids FROM cdf_tables.events ORDER BY 1;
SELECT external_id, asset_external_id, data_set_external_id FROM cdf_tables.time_series;
SELECT e.external_id, bool_and(a.id = ANY (e.asset_ids)) AS ids_match
  FROM cdf_tables.events e JOIN cdf_tables.assets a ON a.external_id = ANY (e.asset_external_ids) GROUP BY 1 ORDER BY 1;
SELECT try($$INSERT INTO cdf_tables.events (external_id, asset_external_ids) VALUES ('e3', '{r1}'), ('e4', '{r1,nope}')$$);
SELECT try($$INSERT INTO cdf_tables.time_series (external_id, data_set_id, data_set_external_id) VALUES ('t2', 1, 'ds1')$$);
SELECT try($$UPDATE cdf_tables.events SET data_set_external_id = 'ds1' WHERE external_id = 'e2'$$);
ALTER FOREIGN TABLE cdf_tables.events OPTIONS (ADD unknown_references 'drop');
INSERT INTO cdf_tables.events (external_id, asset_external_ids, data_set_external_id) VALUES ('e5', '{r1,nope}', 'no-set');
ALTER FOREIGN TABLE cdf_tables.events OPTIONS (DROP unknown_references);
SELECT external_id, asset_external_ids, data_set_external_id FROM cdf_tables.events WHERE external_id = 'e5';
INSERT INTO asset_updates (external_id, description) VALUES ('r1', 'via update');
CREATE FOREIGN TABLE event_updates (external_id text, asset_external_ids text[]) SERVER cdf OPTIONS (resource 'events', insert_mode 'update');
INSERT INTO event_updates VALUES ('e2', '{r1,r3}');
SELECT external_id, asset_external_ids FROM cdf_tables.events WHERE external_id = 'e2';
DROP FOREIGN TABLE full_assets, asset_updates, point_updates, asset_deletes, set_deletes, event_updates;
