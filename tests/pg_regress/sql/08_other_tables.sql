-- The other resources: events, time series, files, sequences and their rows, relationships,
-- data sets, extraction pipelines and their runs.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
INSERT INTO cdf_tables.events (external_id, type, subtype, start_time, end_time, metadata, source)
VALUES ('e1', 'alarm', 'high', '2024-01-01 00:00:00+00', '2024-01-01 00:05:00+00', '{"sev": "high"}', 'scada');
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" items events externalId,type,subtype,startTime,endTime,metadata,source
SELECT try($$INSERT INTO cdf_tables.events (external_id, start_time, end_time) VALUES ('e2', '2024-01-02', '2024-01-01')$$);
INSERT INTO cdf_tables.time_series (external_id, name, is_step, unit, metadata) VALUES ('ts1', 'Flow', true, 'm3/h', '{"tag": "FT-101"}');
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" items timeseries externalId,name,isString,isStep,unit,metadata
-- Files: one per request.
INSERT INTO cdf_tables.files (external_id, name, mime_type, directory, source_created_time)
VALUES ('f1', 'report.pdf', 'application/pdf', '/reports', '2024-01-01'), ('f2', 'b.txt', 'text/plain', NULL, NULL);
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" items files externalId,name,mimeType,directory,sourceCreatedTime
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /files"
-- Upsert of a file overwrites it by external id.
INSERT INTO cdf_tables.files (external_id, name, mime_type) VALUES ('f2', 'b2.txt', 'text/plain');
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" items files externalId,name
-- Sequences and rows: values by column external id.
INSERT INTO cdf_tables.sequences (external_id, name, columns)
VALUES ('well-1', 'Well log', '[{"externalId": "depth", "valueType": "DOUBLE"}, {"externalId": "rock", "valueType": "STRING"}]');
COPY cdf_tables.sequence_rows (external_id, row_number, values) FROM STDIN;
well-1	1	{"depth": 10.5, "rock": "shale"}
well-1	2	{"depth": 11.0, "rock": "sand"}
well-1	3	{"depth": 12.5}
\.
\! curl -fsS "$CDF_EMULATOR_URL/_admin/dump/demo/sequences/data" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["items"], sort_keys=True))' | sed -E 's/"id": [0-9]+/"id": <id>/g'
SELECT try($$INSERT INTO cdf_tables.sequence_rows (external_id, row_number, values) VALUES ('well-1', 4, '{"porosity": 0.2}')$$);
SELECT try($$INSERT INTO cdf_tables.sequence_rows (external_id, row_number, values) VALUES ('well-1', 4, '[1]')$$);
SELECT try($$INSERT INTO cdf_tables.sequence_rows (external_id, row_number, values) VALUES ('well-1', 4, '{"depth": 2.0}'), ('well-1', 5, '{"depth": null, "rock": null}')$$);
INSERT INTO cdf_tables.relationships (external_id, source_external_id, source_type, target_external_id, target_type, confidence)
VALUES ('r1', 'e1', 'event', 'ts1', 'timeSeries', 0.9);
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" items relationships externalId,sourceExternalId,sourceType,targetExternalId,targetType,confidence
-- Data sets: at most 10 per request.
INSERT INTO cdf_tables.data_sets (external_id, name, write_protected) SELECT 'ds-' || i, 'DS ' || i, i = 1 FROM generate_series(1, 25) i;
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /datasets"
SELECT id AS ds_id FROM cdf_tables.data_sets WHERE external_id = 'ds-1' \gset
INSERT INTO cdf_tables.extraction_pipelines (external_id, name, data_set_id, schedule, contacts)
VALUES ('ep-1', 'ERP extractor', :ds_id, 'Continuous', '[{"name": "Ops", "email": "ops@example.com", "role": "maintainer", "sendNotification": false}]');
INSERT INTO cdf_tables.extraction_pipeline_runs (external_id, status, message) VALUES ('ep-1', 'success', 'loaded 42 rows'), ('ep-1', 'seen', NULL);
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" items extpipes externalId,name,schedule,contacts
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" items extpipes/runs externalId,status,message
SELECT try($$INSERT INTO cdf_tables.extraction_pipeline_runs (external_id, status) VALUES ('ep-1', 'great')$$);
