-- insert_mode: upsert (default), create, ignore; ON CONFLICT DO NOTHING maps to ignore.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
INSERT INTO cdf_tables.assets (external_id, name, description, source) VALUES ('u1', 'first', 'kept', 'erp');
-- Upsert: u1 exists, so it is updated (non-NULL columns only: a NULL keeps CDF's value); u2 is created.
INSERT INTO cdf_tables.assets (external_id, name, description, source)
VALUES ('u1', 'second', NULL, 'mes'), ('u2', 'new', 'x', NULL);
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" items assets externalId,name,description,source
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /assets/update"
-- Ignore: existing rows are skipped, new ones created.
INSERT INTO cdf_tables.assets (external_id, name) VALUES ('u1', 'third'), ('u3', 'three') ON CONFLICT DO NOTHING;
ALTER FOREIGN TABLE cdf_tables.assets OPTIONS (ADD insert_mode 'ignore');
INSERT INTO cdf_tables.assets (external_id, name) VALUES ('u2', 'fourth'), ('u4', 'four');
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" items assets externalId,name
-- Create: a duplicate is an error.
ALTER FOREIGN TABLE cdf_tables.assets OPTIONS (SET insert_mode 'create');
SELECT try($$INSERT INTO cdf_tables.assets (external_id, name) VALUES ('u4', 'again')$$);
-- The server's insert_mode applies where the table sets none.
ALTER FOREIGN TABLE cdf_tables.assets OPTIONS (DROP insert_mode);
ALTER SERVER cdf OPTIONS (ADD insert_mode 'ignore');
EXPLAIN (COSTS OFF) INSERT INTO cdf_tables.assets (external_id, name) VALUES ('u4', 'again');
INSERT INTO cdf_tables.assets (external_id, name) VALUES ('u4', 'again');
ALTER SERVER cdf OPTIONS (DROP insert_mode);
EXPLAIN (COSTS OFF) INSERT INTO cdf_tables.assets (external_id, name) VALUES ('u4', 'again') ON CONFLICT DO NOTHING;
-- A prepared INSERT keeps working once PostgreSQL switches to a generic plan.
PREPARE ins(text, text) AS INSERT INTO cdf_tables.assets (external_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING;
EXECUTE ins('p1', 'P'); EXECUTE ins('p2', 'P'); EXECUTE ins('p3', 'P'); EXECUTE ins('p4', 'P'); EXECUTE ins('p5', 'P');
EXECUTE ins('p6', 'P'); EXECUTE ins('p7', 'P'); EXECUTE ins('p8', 'P'); EXECUTE ins('p9', 'P'); EXECUTE ins('p1', 'dup');
DEALLOCATE ins;
SELECT count(*) FILTER (WHERE external_id LIKE 'p%') AS prepared_rows, max(name) FILTER (WHERE external_id = 'p1') AS p1_name
  FROM cdf_tables.assets;
-- Labels have no update endpoint: an upsert cannot update them, so a duplicate is an error
-- unless insert_mode is ignore.
INSERT INTO cdf_tables.labels (external_id, name) VALUES ('pump', 'Pump');
SELECT try($$INSERT INTO cdf_tables.labels (external_id, name) VALUES ('pump', 'Pump again')$$);
INSERT INTO cdf_tables.labels (external_id, name) VALUES ('pump', 'Pump again'), ('valve', 'Valve') ON CONFLICT DO NOTHING;
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" items labels externalId,name
-- RETURNING gets CDF's object back: server-assigned ids and times, the updated object on upsert;
-- rows skipped as existing are neither returned nor counted.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
INSERT INTO cdf_tables.assets (external_id, name) VALUES ('r1', 'R1')
RETURNING id IS NOT NULL AS has_id, external_id, name, root_id = id AS is_root, created_time IS NOT NULL AS has_created_time;
INSERT INTO cdf_tables.assets (external_id, name, description) VALUES ('r1', 'R1 renamed', 'via upsert') RETURNING external_id, name, description;
INSERT INTO cdf_tables.assets (external_id, name) VALUES ('r1', 'ignored'), ('r2', 'R2') ON CONFLICT DO NOTHING RETURNING external_id, name;
WITH inserted AS (
  INSERT INTO cdf_tables.events (external_id, type) VALUES ('ev1', 'alarm') RETURNING id
) SELECT count(*) AS events_with_ids FROM inserted WHERE id IS NOT NULL;
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" items assets externalId,name,description
