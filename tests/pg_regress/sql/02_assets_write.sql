-- COPY and INSERT into assets: what arrives in CDF, field by field, and how many requests.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
COPY cdf_tables.assets (external_id, name, parent_external_id, description, metadata, source) FROM STDIN;
root	Root	\N	Top of the hierarchy	{"site": "OSL", "since": "1998"}	erp
child-a	Child A	root	\N	{}	erp
child-b	Child B	root	Says "hi", tab\tand ümlaut	{"k": "v"}	\N
\.
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" items assets externalId,name,parentId,rootId,description,metadata,source
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /assets"
-- Multi-row INSERT (batch insert) and a hand-written table with a subset of the columns.
INSERT INTO cdf_tables.assets (external_id, name, parent_external_id, labels, data_set_id)
VALUES ('c1', 'C1', 'root', NULL, NULL), ('c2', 'C2', 'child-a', NULL, NULL);
INSERT INTO public.my_assets VALUES ('mine', 'Mine');
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" items assets externalId,name,parentId
-- 2500 rows go out in chunks of CDF's maximum, 1000 per request.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
INSERT INTO cdf_tables.assets (external_id, name, metadata)
SELECT 'bulk-' || i, 'Bulk ' || i, json_build_object('n', i::text) FROM generate_series(1, 2500) i;
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /assets"
SELECT count(*), count(DISTINCT external_id), min(name), max(metadata->>'n') FROM cdf_tables.assets;
EXPLAIN (COSTS OFF) INSERT INTO cdf_tables.assets (external_id, name) VALUES ('e', 'E');
EXPLAIN (COSTS OFF) SELECT * FROM cdf_tables.assets;
