-- A space from SQL (cdf.create_space), and view tables over edge views: type and end nodes as
-- JSONB or TEXT (an external id in the row's space), writes/reads/deletes as instanceType edge,
-- checked in the emulator; IMPORT FOREIGN SCHEMA includes edge views.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
\! python3 "$CDF_FDW_ROOT/tests/tools/dm.py" setup
SET timezone = 'UTC';
-- cdf.create_space creates a space (an upsert: again renames it) with the caller's user mapping.
SELECT space, name, description, created_time IS NOT NULL AS has_time
  FROM cdf.create_space('cdf', 'plant', 'Plant A', 'made with cdf.create_space');
SELECT space, name, description FROM cdf.create_space('cdf', 'plant', 'Plant A (renamed)');
\! python3 "$CDF_FDW_ROOT/tests/tools/dm.py" post models/spaces/byids '{"items": [{"space": "plant"}]}' | python3 -c 'import json,sys; [print(s["space"], s.get("name"), s.get("description")) for s in json.load(sys.stdin)["items"]]'
SELECT try($$SELECT * FROM cdf.create_space('cdf', '1 bad space')$$);
SELECT try($$SELECT * FROM cdf.create_space('no_such_server', 'x')$$);
-- Nodes in the new space, then edges between them through an edge view.
CREATE FOREIGN TABLE plant_pumps (external_id text, name text)
  SERVER cdf OPTIONS (space 'test_dm', view 'Pump', version 'v1', instance_space 'plant');
INSERT INTO plant_pumps VALUES ('p1', 'Pump 1'), ('p2', 'Pump 2'), ('p3', 'Pump 3');
\! python3 "$CDF_FDW_ROOT/tests/tools/dm.py" post models/containers '{"items": [{"space": "test_dm", "externalId": "Flow", "usedFor": "edge", "properties": {"rate": {"type": {"type": "float64"}}, "medium": {"type": {"type": "text"}, "nullable": false}}}]}' > /dev/null
\! python3 "$CDF_FDW_ROOT/tests/tools/dm.py" post models/views '{"items": [{"space": "test_dm", "externalId": "Flow", "version": "v1", "properties": {"rate": {"container": {"type": "container", "space": "test_dm", "externalId": "Flow"}, "containerPropertyIdentifier": "rate"}, "medium": {"container": {"type": "container", "space": "test_dm", "externalId": "Flow"}, "containerPropertyIdentifier": "medium"}}}]}' > /dev/null
CREATE FOREIGN TABLE flows (
  space text, external_id text NOT NULL, version bigint, type text, start_node text, end_node jsonb,
  rate double precision, medium text
) SERVER cdf OPTIONS (space 'test_dm', view 'Flow', version 'v1', instance_space 'plant');
INSERT INTO flows (external_id, type, start_node, end_node, rate, medium) VALUES
  ('f12', 'pipe', 'p1', '{"space": "plant", "externalId": "p2"}', 2.5, 'water'),
  ('f23', 'pipe', 'p2', '"p3"', NULL, 'steam');
\! curl -fsS "$CDF_EMULATOR_URL/_admin/dump/demo/models/instances" | python3 -c 'import json,sys; [print(i["instanceType"], i["space"] + ":" + i["externalId"], json.dumps(i.get("type"), sort_keys=True), json.dumps(i.get("startNode"), sort_keys=True), json.dumps(i.get("endNode"), sort_keys=True), json.dumps(i.get("properties"), sort_keys=True)) for i in sorted(json.load(sys.stdin)["items"], key=lambda i: i["externalId"]) if i["instanceType"] == "edge"]'
SELECT space, external_id, version, type, start_node, end_node, rate, medium FROM flows ORDER BY external_id;
EXPLAIN (COSTS OFF) SELECT external_id FROM flows WHERE external_id = 'f12';
EXPLAIN (COSTS OFF) SELECT external_id FROM flows WHERE medium = 'steam' AND start_node = 'p2';
-- An edge's type and end nodes are pushed as DMS equals/in of node references ({space,
-- externalId}; a TEXT column names a node in the table's instance_space); each answer equals
-- PostgreSQL's own evaluation over a local copy (EXCEPT ALL both ways).
EXPLAIN (COSTS OFF) SELECT external_id FROM flows WHERE end_node = '{"space": "plant", "externalId": "p2"}' AND type IN ('pipe', 'hose');
CREATE TEMP TABLE flows_local AS SELECT * FROM flows;
CREATE FUNCTION same_as_local(cond text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE n bigint; differ bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM flows WHERE %s', cond) INTO n;
  EXECUTE format('SELECT count(*) FROM ((SELECT external_id FROM flows WHERE %1$s EXCEPT ALL SELECT external_id FROM flows_local WHERE %1$s)'
                 ' UNION ALL (SELECT external_id FROM flows_local WHERE %1$s EXCEPT ALL SELECT external_id FROM flows WHERE %1$s)) d', cond) INTO differ;
  RETURN format('%s row(s), %s difference(s)', n, differ);
END $$;
SELECT cond, same_as_local(cond) FROM (VALUES
  ($$start_node = 'p2'$$), ($$start_node IN ('p1', 'p2', 'p9')$$), ($$start_node = '{"space":"plant","externalId":"p1"}'$$),
  ($$end_node = '{"space": "plant", "externalId": "p3"}'$$), ($$end_node = '"p3"'$$),
  ($$end_node IN ('{"space": "plant", "externalId": "p2"}', '{"space": "other", "externalId": "p3"}')$$),
  ($$type = 'pipe'$$), ($$type = 'hose'$$), ($$type IN ('pipe', NULL)$$), ($$type IS NULL$$)) v(cond);
DROP FUNCTION same_as_local(text);
SELECT external_id, rate FROM flows WHERE external_id IN ('f12', 'nope');
SELECT external_id FROM flows WHERE medium = 'steam' AND start_node = 'p2';
-- Errors: an edge needs its type and end nodes; a required property.
SELECT try($$INSERT INTO flows (external_id, type, start_node, medium) VALUES ('f9', 'pipe', 'p1', 'water')$$);
SELECT try($$INSERT INTO flows (external_id, type, start_node, end_node) VALUES ('f9', 'pipe', 'p1', '"p3"')$$);
SELECT try($$INSERT INTO flows (external_id, type, start_node, end_node, medium) VALUES ('f9', 'pipe', 'nope', '"p3"', 'water')$$);
SELECT try($$CREATE FOREIGN TABLE bad_edge (external_id text, start_node integer) SERVER cdf OPTIONS (space 'test_dm', view 'Flow', version 'v1')$$);
SELECT try($$SELECT * FROM bad_edge$$);
-- UPDATE patches the SET properties; DELETE removes the edge.
UPDATE flows SET rate = 3.5 WHERE external_id = 'f23';
DELETE FROM flows WHERE external_id = 'f12';
\! curl -fsS "$CDF_EMULATOR_URL/_admin/dump/demo/models/instances" | python3 -c 'import json,sys; [print(i["instanceType"], i["space"] + ":" + i["externalId"], "v%d" % i["version"], json.dumps(i.get("properties"), sort_keys=True)) for i in sorted(json.load(sys.stdin)["items"], key=lambda i: i["externalId"]) if i["instanceType"] == "edge"]'
SELECT external_id, rate, medium FROM flows ORDER BY 1;
-- RETURNING shows the row as CDF stored it: its new version, and the rate the NULL kept.
INSERT INTO flows (external_id, type, start_node, end_node, medium) VALUES ('f23', 'pipe', 'p2', '"p3"', 'oil')
  RETURNING external_id, version, type, end_node, rate, medium;
INSERT INTO flows (external_id, type, start_node, end_node, medium) VALUES ('f23', 'pipe', 'p2', '"p3"', 'gas')
  ON CONFLICT DO NOTHING RETURNING external_id, medium;
-- IMPORT FOREIGN SCHEMA of a data model with an edge view gives it type and end-node columns.
\! python3 "$CDF_FDW_ROOT/tests/tools/dm.py" post models/datamodels '{"items": [{"space": "test_dm", "externalId": "PlantModel", "version": "1", "views": [{"type": "view", "space": "test_dm", "externalId": "Pump", "version": "v1"}, {"type": "view", "space": "test_dm", "externalId": "Flow", "version": "v1"}]}]}' > /dev/null
CREATE SCHEMA plant_model;
IMPORT FOREIGN SCHEMA "test_dm/PlantModel/1" LIMIT TO ("Flow") FROM SERVER cdf INTO plant_model OPTIONS (instance_space 'plant');
\d plant_model."Flow"
SELECT external_id, type, start_node, end_node, rate FROM plant_model."Flow";
DROP SCHEMA plant_model CASCADE;
-- View-table writes go through the concurrent writer: batch_scope 'transaction' gathers one
-- INSERT per row into one request, sent before a read in the transaction and at COMMIT.
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /models/instances"
ALTER FOREIGN TABLE plant_pumps OPTIONS (ADD batch_scope 'transaction');
BEGIN;
INSERT INTO plant_pumps VALUES ('p4', 'Pump 4');
INSERT INTO plant_pumps VALUES ('p5', 'Pump 5');
SELECT external_id FROM plant_pumps WHERE external_id IN ('p4', 'p5') ORDER BY 1;
INSERT INTO plant_pumps VALUES ('p6', 'Pump 6');
INSERT INTO plant_pumps VALUES ('p4', 'Pump four');
COMMIT;
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /models/instances"
SELECT external_id, name FROM plant_pumps WHERE external_id IN ('p4', 'p5', 'p6') ORDER BY 1;
-- A node named twice in one statement: the later row wins, in a later request.
ALTER FOREIGN TABLE plant_pumps OPTIONS (DROP batch_scope);
INSERT INTO plant_pumps VALUES ('p7', 'first'), ('p8', 'Pump 8'), ('p7', 'second');
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /models/instances"
SELECT external_id, name FROM plant_pumps WHERE external_id IN ('p7', 'p8') ORDER BY 1;
DROP FOREIGN TABLE flows, plant_pumps, bad_edge;
