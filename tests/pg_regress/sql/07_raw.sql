-- RAW: databases, tables and rows; rows are a natural upsert (full-row replace by key).
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
INSERT INTO cdf_tables.raw_databases (_raw_database) VALUES ('erp'), ('mes');
INSERT INTO cdf_tables.raw_tables (_raw_database, _raw_table) VALUES ('erp', 'orders'), ('erp', 'lines'), ('new db', 'made with its db');
-- Existing databases and tables are fine (upsert), an error with insert_mode create.
INSERT INTO cdf_tables.raw_databases (_raw_database) VALUES ('erp'), ('lab');
SELECT try($$INSERT INTO cdf_tables.raw_databases (_raw_database) VALUES ('erp') ON CONFLICT DO NOTHING$$);
ALTER FOREIGN TABLE cdf_tables.raw_databases OPTIONS (ADD insert_mode 'create');
SELECT try($$INSERT INTO cdf_tables.raw_databases (_raw_database) VALUES ('erp')$$);
ALTER FOREIGN TABLE cdf_tables.raw_databases OPTIONS (DROP insert_mode);
COPY cdf_tables.raw_rows (_raw_database, _raw_table, _raw_key, _raw_columns) FROM STDIN;
erp	orders	o-1	{"customer": "ACME", "total": 120.5, "lines": [1, 2]}
erp	orders	o-2	{"customer": "Globex", "rush": true}
erp	lines	l-1	{"order": "o-1", "qty": 3}
mes	batches	b-1	{}
\.
-- Full-row replace: o-1 loses the columns the new row lacks.
INSERT INTO cdf_tables.raw_rows (_raw_database, _raw_table, _raw_key, _raw_columns) VALUES ('erp', 'orders', 'o-1', '{"customer": "ACME", "status": "shipped"}');
\! curl -fsS "$CDF_EMULATOR_URL/_admin/dump/demo/raw" | python3 -c 'import json,sys; [print(d["name"], t["name"], r["key"], json.dumps(r["columns"], sort_keys=True)) for d in json.load(sys.stdin)["items"] for t in d["tables"] for r in t["rows"]] '
\! curl -fsS "$CDF_EMULATOR_URL/_admin/dump/demo/raw" | python3 -c 'import json,sys; [print(d["name"], sorted(t["name"] for t in d["tables"])) for d in json.load(sys.stdin)["items"]]'
-- 25,000 rows over two tables: requests of at most 5,000 rows, one table each.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
INSERT INTO cdf_tables.raw_rows (_raw_database, _raw_table, _raw_key, _raw_columns)
SELECT 'bulk', 't' || (i % 2), 'k' || i, json_build_object('i', i, 'name', 'row ' || i) FROM generate_series(1, 25000) i;
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /raw/dbs/{db}/tables/{table}/rows"
\! curl -fsS "$CDF_EMULATOR_URL/_admin/dump/demo/raw" | python3 -c 'import json,sys; [print(d["name"], t["name"], len(t["rows"])) for d in json.load(sys.stdin)["items"] for t in d["tables"]]'
EXPLAIN (COSTS OFF) INSERT INTO cdf_tables.raw_rows VALUES ('d', 't', 'k', '{}');
-- Bad rows.
SELECT try($$INSERT INTO cdf_tables.raw_rows (_raw_database, _raw_table, _raw_key, _raw_columns) VALUES ('d', 't', 'k', '[1]')$$);
SELECT try($$INSERT INTO cdf_tables.raw_rows (_raw_database, _raw_table, _raw_key, _raw_columns) VALUES ('d', 't', repeat('k', 1025), '{}')$$);
SELECT try($$INSERT INTO cdf_tables.raw_rows (_raw_database, _raw_table, _raw_key, _raw_columns) VALUES (NULL, 't', 'k', '{}')$$);
SELECT try($$INSERT INTO cdf_tables.raw_rows (_raw_database, _raw_table, _raw_key, _raw_columns) VALUES ('d', 't', NULL, '{}')$$);
