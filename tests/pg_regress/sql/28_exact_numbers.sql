-- Issue 9 item 11: JSON numbers keep their exact text end to end (json/jsonb columns written with
-- INSERT and COPY, stored by the emulator, read back): integers beyond 2^64, 30-digit integers,
-- 23-digit decimals, exponents beyond f64. The emulator's stored bytes are checked, not re-parsed.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
INSERT INTO cdf_tables.raw_rows (_raw_database, _raw_table, _raw_key, _raw_columns) VALUES
  ('n', 't', 'insert', '{"u65": 18446744073709551617, "i30": -123456789012345678901234567890,
                         "d23": 0.12345678901234567890123, "e": 1e400, "tiny": 1.5e-400, "list": [9007199254740993, 0.1]}');
COPY cdf_tables.raw_rows (_raw_database, _raw_table, _raw_key, _raw_columns) FROM STDIN;
n	t	copy	{"u65": 18446744073709551617, "d23": 12345678901.234567890123, "nested": {"x": 100000000000000000000000000001}}
\.
-- What the emulator stored, as bytes: every digit arrived (an exponent is written with its sign,
-- 1e400 as 1e+400: the same number).
\! curl -fsS "$CDF_EMULATOR_URL/_admin/dump/demo/raw" | grep -oE '"(u65|i30|d23|e|tiny|x)":-?[0-9.eE+-]+|"list":\[[^]]*\]' | sort
-- Read back: the json text as CDF returned it.
SELECT _raw_key, _raw_columns FROM cdf_tables.raw_rows WHERE _raw_database = 'n' AND _raw_table = 't' ORDER BY _raw_key;
SELECT _raw_columns->>'u65' AS u65, _raw_columns->>'d23' AS d23, (_raw_columns->>'u65')::numeric - 18446744073709551616 AS diff
  FROM cdf_tables.raw_rows WHERE _raw_database = 'n' AND _raw_table = 't' ORDER BY _raw_key;
-- A json property of a data-modeling view (jsonb: PostgreSQL's own normal form of the numbers).
\! python3 "$CDF_FDW_ROOT/tests/tools/dm.py" setup
CREATE FOREIGN TABLE exact_pumps (external_id text NOT NULL, name text, doc jsonb, big bigint, precise double precision)
  SERVER cdf OPTIONS (space 'test_dm', view 'Pump', version 'v1', instance_space 'inst');
INSERT INTO exact_pumps (external_id, name, doc, big, precise) VALUES
  ('x1', 'exact', '{"u65": 18446744073709551617, "d23": 0.12345678901234567890123}', 9007199254740993, 0.1);
\! curl -fsS "$CDF_EMULATOR_URL/_admin/dump/demo/models/instances" | grep -oE '"(u65|d23|big|precise)":-?[0-9.eE+-]+' | sort
SELECT external_id, doc, big, precise FROM exact_pumps;
DROP FOREIGN TABLE exact_pumps;
