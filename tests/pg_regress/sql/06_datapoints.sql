-- double_datapoints and string_datapoints: grouped by series, up to 100,000 points per request.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
INSERT INTO cdf_tables.time_series (external_id, name, is_string) VALUES ('temp', 'Temperature', false), ('state', 'State', true);
SELECT id AS state_id FROM cdf_tables.time_series WHERE external_id = 'state' \gset
COPY cdf_tables.double_datapoints (external_id, timestamp, value, status_code) FROM STDIN;
temp	2024-01-01 00:00:00+00	20.5	\N
temp	2024-01-01 00:00:01.250+00	-3.25	\N
temp	1900-01-01 00:00:00+00	1e100	\N
temp	2024-01-01 02:00:00+01	7	1073741824
\.
INSERT INTO cdf_tables.string_datapoints (id, timestamp, value) VALUES (:state_id, '2024-01-01', 'running'), (:state_id, '2024-01-02', 'stopped');
-- Inserting an existing timestamp overwrites it (a natural upsert).
INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value) VALUES ('temp', '2024-01-01 00:00:00+00', 99);
\! curl -fsS "$CDF_EMULATOR_URL/_admin/dump/demo/timeseries/data" | python3 -c 'import json,sys; [print(s["externalId"], [(p["timestamp"], p["value"], p.get("status")) for p in s["datapoints"]]) for s in sorted(json.load(sys.stdin)["items"], key=lambda s: s["externalId"])]'
-- 250,000 points over 3 series: three requests of at most 100,000 points.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
INSERT INTO cdf_tables.time_series (external_id) VALUES ('a'), ('b'), ('c');
INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value)
SELECT (ARRAY['a', 'b', 'c'])[1 + i % 3], timestamptz '2020-01-01' + i * interval '1 second', i FROM generate_series(1, 250000) i;
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /timeseries/data"
\! curl -fsS "$CDF_EMULATOR_URL/_admin/dump/demo/timeseries/data" | python3 -c 'import json,sys; [print(s["externalId"], len(s["datapoints"])) for s in sorted(json.load(sys.stdin)["items"], key=lambda s: s["externalId"])]'
EXPLAIN (COSTS OFF) INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value) VALUES ('a', now(), 1);
-- Bad values: named, with SQLSTATEs, before anything is sent.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
INSERT INTO cdf_tables.time_series (external_id, is_string) VALUES ('a', false), ('s', true);
SELECT try($$INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value) VALUES ('a', '2024-01-01', 'NaN')$$);
SELECT try($$INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value) VALUES ('a', '2024-01-01', 'Infinity')$$);
SELECT try($$INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value) VALUES ('a', '2024-01-01', 2e100)$$);
-- Under sub_millisecond 'reject' a sub-millisecond part is refused (the default truncates: 11_safety).
ALTER FOREIGN TABLE cdf_tables.double_datapoints OPTIONS (ADD sub_millisecond 'reject');
SELECT try($$INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value) VALUES ('a', '2024-01-01 00:00:00.0005+00', 1)$$);
ALTER FOREIGN TABLE cdf_tables.double_datapoints OPTIONS (DROP sub_millisecond);
SELECT try($$INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value) VALUES ('a', '1899-12-31 23:59:59.999+00', 1)$$);
SELECT try($$INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value) VALUES ('a', '2100-01-01', 1)$$);
SELECT try($$INSERT INTO cdf_tables.double_datapoints (timestamp, value) VALUES ('2024-01-01', 1)$$);
SELECT try($$INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value) VALUES ('a', NULL, 1)$$);
SELECT try($$INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value) VALUES ('a', '2024-01-01', NULL)$$);
SELECT try($$INSERT INTO cdf_tables.string_datapoints (external_id, timestamp, value) VALUES ('s', '2024-01-01', repeat('x', 256))$$);
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /timeseries/data"
-- CDF's rejections: an unknown series, a string into a numeric series.
SELECT try($$INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value) VALUES ('no-such-series', '2024-01-01', 1)$$);
SELECT try($$INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value) VALUES ('s', '2024-01-01', 1)$$);
