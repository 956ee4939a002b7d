-- Typed RAW tables: declared columns over one RAW table, the primary key as the RAW row key,
-- the other columns as JSON of their types; reads convert back, naming key and column when a
-- value does not fit; key pushdown, UPDATE, DELETE, COPY, batch_scope 'transaction'.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
SET timezone = 'UTC';
-- Options: database, table and a primary key are required; never a made-up key.
SELECT try($$CREATE FOREIGN TABLE nokey (title text) SERVER cdf OPTIONS (database 'lib', table 'books')$$);
SELECT try($$CREATE FOREIGN TABLE nodb (title text) SERVER cdf OPTIONS (table 'books', primary_key 'title')$$);
SELECT try($$CREATE FOREIGN TABLE mixed (title text) SERVER cdf OPTIONS (resource 'raw_rows', database 'lib', table 'b', primary_key 'title')$$);
SELECT try($$CREATE FOREIGN TABLE badkey (title text) SERVER cdf OPTIONS (database 'lib', table 'b', primary_key 'isbn')$$);
SELECT try($$CREATE FOREIGN TABLE badtype (title text, price numeric) SERVER cdf OPTIONS (database 'lib', table 'b', primary_key 'title')$$);
SELECT try($$CREATE FOREIGN TABLE badkeytype (title float8) SERVER cdf OPTIONS (database 'lib', table 'b', primary_key 'title')$$);
SELECT try($$CREATE FOREIGN TABLE longdb (title text) SERVER cdf OPTIONS (database 'a234567890123456789012345678901234', table 'b', primary_key 'title')$$);
CREATE FOREIGN TABLE books (
  title text, year integer OPTIONS (property 'published'), tags text[], price double precision,
  in_print boolean, added timestamptz, day date, meta jsonb, pages smallint, copies bigint, ratings real[]
) SERVER cdf OPTIONS (database 'lib', table 'books', primary_key 'title');
INSERT INTO books VALUES
  ('Dune', 1965, '{sf,desert}', 9.99, true, '2024-05-01 10:00:00.123+02', '2024-05-01', '{"isbn": "0441013597"}', 412, 20000000000, '{4.5,5}'),
  ('Emma', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
COPY books (title, year, tags) FROM STDIN;
Ulysses	1922	{modernist}
Beloved	1987	{}
\.
-- What CDF holds: one RAW row per book, NULL columns left out, the renamed column as 'published'.
\! curl -fsS "$CDF_EMULATOR_URL/_admin/dump/demo/raw" | python3 -c 'import json,sys; [print(d["name"], t["name"], r["key"], json.dumps(r["columns"], sort_keys=True)) for d in json.load(sys.stdin)["items"] for t in d["tables"] for r in t["rows"]]'
SELECT * FROM books ORDER BY title;
-- The key is pushed down (GET .../rows/{key}); other columns are filtered locally.
EXPLAIN (COSTS OFF) SELECT title, year FROM books WHERE title = 'Dune';
EXPLAIN (COSTS OFF) SELECT title FROM books WHERE title IN ('Dune', 'Emma') AND year > 1900;
SELECT title, year FROM books WHERE title IN ('Dune', 'Emma', 'Nope') ORDER BY 1;
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "GET /raw/dbs/{db}/tables/{table}/rows/{key}"
SELECT title FROM books WHERE year < 1950;
-- Bad rows fail before anything is sent, naming row and column.
SELECT try($$INSERT INTO books (title, year) VALUES ('ok', 1), (NULL, 2)$$);
SELECT try($$INSERT INTO books (title) VALUES ('')$$);
SELECT try($$INSERT INTO books (title) VALUES (repeat('k', 1025))$$);
SELECT try($$INSERT INTO books (title, price) VALUES ('nan', 'NaN')$$);
SELECT try($$INSERT INTO books (title, tags) VALUES ('2d', '{{a,b},{c,d}}')$$);
-- RAW values written by others that do not fit the declared types: errors name key and column.
INSERT INTO cdf_tables.raw_rows VALUES ('lib', 'odd', 'o1', '{"published": "nineteen"}');
INSERT INTO cdf_tables.raw_rows VALUES ('lib', 'odd', 'o2', '{"published": 3000000000}');
INSERT INTO cdf_tables.raw_rows VALUES ('lib', 'odd', 'o3', '{"added": "not a time"}');
INSERT INTO cdf_tables.raw_rows VALUES ('lib', 'odd', 'o4', '{"tags": "plain", "added": 1700000000000, "title": 5}');
CREATE FOREIGN TABLE odd (title text, year integer OPTIONS (property 'published'), added timestamptz, tags text[])
  SERVER cdf OPTIONS (database 'lib', table 'odd', primary_key 'title');
SELECT try($$SELECT * FROM odd WHERE title = 'o1'$$);
SELECT try($$SELECT * FROM odd WHERE title = 'o2'$$);
SELECT try($$SELECT * FROM odd WHERE title = 'o3'$$);
SELECT try($$SELECT * FROM odd WHERE title = 'o4'$$);
-- A text or jsonb column reads any value (milliseconds read as a timestamp).
CREATE FOREIGN TABLE odd_text (title text, year text OPTIONS (property 'published'), added timestamptz, tags jsonb)
  SERVER cdf OPTIONS (database 'lib', table 'odd', primary_key 'title');
SELECT * FROM odd_text WHERE title IN ('o1', 'o2', 'o4') ORDER BY 1;
-- UPDATE replaces the row (RAW has no patch); a changed key moves the row. DELETE by key.
UPDATE books SET year = 1966, tags = tags || '{classic}' WHERE title = 'Dune';
UPDATE books SET title = 'Emma (1815)' WHERE title = 'Emma';
DELETE FROM books WHERE title = 'Beloved';
\! curl -fsS "$CDF_EMULATOR_URL/_admin/dump/demo/raw" | python3 -c 'import json,sys; [print(t["name"], r["key"], json.dumps(r["columns"], sort_keys=True)) for d in json.load(sys.stdin)["items"] for t in d["tables"] if t["name"] == "books" for r in t["rows"]]'
SELECT title, year, tags FROM books ORDER BY title;
-- An integer key: the key is its text in RAW and pushes down as such.
CREATE FOREIGN TABLE orders (id integer, customer text, total double precision)
  SERVER cdf OPTIONS (database 'erp', table 'orders', primary_key 'id');
INSERT INTO orders SELECT i, 'c' || (i % 3), i * 1.5 FROM generate_series(1, 2500) i;
SELECT count(*), sum(total) FROM orders;
SELECT * FROM orders WHERE id IN (7, 2500) ORDER BY id;
EXPLAIN (COSTS OFF) SELECT * FROM orders WHERE id = 7;
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /raw/dbs/{db}/tables/{table}/rows"
-- batch_scope 'transaction': one INSERT per row still fills one request.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
ALTER FOREIGN TABLE orders OPTIONS (ADD batch_scope 'transaction');
BEGIN;
INSERT INTO orders VALUES (1, 'a', 1);
INSERT INTO orders VALUES (2, 'b', 2);
INSERT INTO orders VALUES (3, 'c', 3);
COMMIT;
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /raw/dbs/{db}/tables/{table}/rows"
SELECT * FROM orders ORDER BY id;
-- cdf.create_user grants typed RAW tables as raw_rows (rawAcl).
SELECT g AS granted FROM cdf.create_user('cdf', 'demo-client', 'demo-secret', 'cdf_typed_raw_user') u, unnest(u.granted) g
 WHERE g LIKE '%books%' OR g LIKE '%orders%' ORDER BY 1;
SELECT cdf.drop_user('cdf_typed_raw_user');
