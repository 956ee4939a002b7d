-- The backend caches a foreign table's options, server, user mapping and column bindings
-- between statements (row-at-a-time clients in transaction scope reuse them); every ALTER of
-- them takes effect for the next statement, in and out of a transaction.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
CREATE FOREIGN TABLE public.cc_assets (external_id text, name text) SERVER cdf OPTIONS (resource 'assets');
INSERT INTO public.cc_assets VALUES ('cc-1', 'One');
-- ALTER FOREIGN TABLE ... ADD COLUMN: the next INSERT binds the new column (its values are
-- not dropped as an unknown attribute would be).
ALTER FOREIGN TABLE public.cc_assets ADD COLUMN description text;
INSERT INTO public.cc_assets VALUES ('cc-2', 'Two', 'second');
SELECT external_id, name, description FROM cdf_tables.assets WHERE external_id LIKE 'cc-%' ORDER BY 1;
-- ... and DROP COLUMN: the next INSERT no longer has it (the dropped attribute is skipped).
ALTER FOREIGN TABLE public.cc_assets DROP COLUMN description;
INSERT INTO public.cc_assets VALUES ('cc-3', 'Three');
ALTER FOREIGN TABLE public.cc_assets ADD COLUMN description text;
-- ALTER FOREIGN TABLE ... OPTIONS: insert_mode 'create' refuses an existing external id from
-- the next statement on, in a transaction too; dropping it again upserts.
BEGIN;
INSERT INTO public.cc_assets VALUES ('cc-1', 'One again', NULL);
ALTER FOREIGN TABLE public.cc_assets OPTIONS (ADD insert_mode 'create');
SELECT try($$INSERT INTO public.cc_assets VALUES ('cc-1', 'One created', NULL)$$);
ALTER FOREIGN TABLE public.cc_assets OPTIONS (DROP insert_mode);
INSERT INTO public.cc_assets VALUES ('cc-1', 'One upserted', NULL);
COMMIT;
SELECT external_id, name FROM cdf_tables.assets WHERE external_id = 'cc-1';
-- ALTER FOREIGN TABLE ... OPTIONS (SET resource): columns both resources have; the next
-- statement writes to the new resource.
CREATE FOREIGN TABLE public.cc_either (external_id text, description text) SERVER cdf OPTIONS (resource 'events');
INSERT INTO public.cc_either VALUES ('cc-ev', 'an event');
ALTER FOREIGN TABLE public.cc_either OPTIONS (SET resource 'assets');
SELECT try($$INSERT INTO public.cc_either VALUES ('cc-noname', 'an asset needs a name')$$);
\! curl -fsS "$CDF_EMULATOR_URL/_admin/dump/demo/events" | python3 -c 'import json,sys; [print(e["externalId"], repr(e.get("description"))) for e in json.load(sys.stdin)["items"]]'
DROP FOREIGN TABLE public.cc_either;
-- ALTER SERVER: a project the client may not use fails the next statement; set back, it works.
ALTER SERVER cdf OPTIONS (SET project 'not-my-project');
SELECT try($$INSERT INTO public.cc_assets VALUES ('cc-4', 'Four', NULL)$$);
ALTER SERVER cdf OPTIONS (SET project 'demo');
INSERT INTO public.cc_assets VALUES ('cc-4', 'Four', NULL);
-- ALTER USER MAPPING: a wrong secret fails the next statement (a fresh token is fetched with
-- it); the right one works again.
ALTER USER MAPPING FOR CURRENT_USER SERVER cdf OPTIONS (SET client_secret 'wrong-secret');
SELECT try($$INSERT INTO public.cc_assets VALUES ('cc-5', 'Five', NULL)$$);
ALTER USER MAPPING FOR CURRENT_USER SERVER cdf OPTIONS (SET client_secret 'demo-secret');
INSERT INTO public.cc_assets VALUES ('cc-5', 'Five', NULL);
-- A dropped user mapping: a clear error at the next statement, in transaction scope as well;
-- a new mapping is used at once.
SET cdf_fdw.batch_scope = 'transaction';
BEGIN;
INSERT INTO public.cc_assets VALUES ('cc-6', 'Six', NULL);
SAVEPOINT s;
DROP USER MAPPING FOR CURRENT_USER SERVER cdf;
SELECT try($$INSERT INTO public.cc_assets VALUES ('cc-7', 'Seven', NULL)$$);
ROLLBACK TO SAVEPOINT s;
INSERT INTO public.cc_assets VALUES ('cc-7', 'Seven', NULL);
COMMIT;
DROP USER MAPPING FOR CURRENT_USER SERVER cdf;
SELECT try($$INSERT INTO public.cc_assets VALUES ('cc-8', 'Eight', NULL)$$);
CREATE USER MAPPING FOR CURRENT_USER SERVER cdf
  OPTIONS (client_id 'demo-client', client_secret 'demo-secret');
INSERT INTO public.cc_assets VALUES ('cc-8', 'Eight', NULL);
RESET cdf_fdw.batch_scope;
-- Another role has its own mapping: its statements use its identity, the cache is per role.
CREATE ROLE cc_other;
GRANT USAGE ON FOREIGN SERVER cdf TO cc_other;
GRANT INSERT ON public.cc_assets TO cc_other;
CREATE USER MAPPING FOR cc_other SERVER cdf OPTIONS (client_id 'demo-client', client_secret 'not-the-secret');
SET ROLE cc_other;
SELECT try($$INSERT INTO public.cc_assets VALUES ('cc-9', 'Nine', NULL)$$);
RESET ROLE;
INSERT INTO public.cc_assets VALUES ('cc-9', 'Nine', NULL);
-- What reached CDF, field by field (cc-6 and cc-7 committed in one batch).
\! curl -fsS "$CDF_EMULATOR_URL/_admin/dump/demo/assets" | python3 -c 'import json,sys; [print(a["externalId"], repr(a["name"]), repr(a.get("description"))) for a in sorted(json.load(sys.stdin)["items"], key=lambda a: a["externalId"]) if a["externalId"].startswith("cc-")]'
DROP USER MAPPING FOR cc_other SERVER cdf;
REVOKE ALL ON public.cc_assets FROM cc_other;
REVOKE ALL ON FOREIGN SERVER cdf FROM cc_other;
DROP ROLE cc_other;
DROP FOREIGN TABLE public.cc_assets;
