-- The validator rejects unknown options and resources with FDW-class SQLSTATEs.
\set VERBOSITY default
CREATE SERVER bad FOREIGN DATA WRAPPER cdf_fdw OPTIONS (url 'http://127.0.0.1:1');
CREATE SERVER bad FOREIGN DATA WRAPPER cdf_fdw OPTIONS (client_secret 'must-not-live-here');
CREATE SERVER bad FOREIGN DATA WRAPPER cdf_fdw OPTIONS (base_url 'ftp://x');
CREATE FOREIGN TABLE cdf_tables.nope (id bigint) SERVER cdf OPTIONS (resource 'asset');
CREATE FOREIGN TABLE cdf_tables.nope (id bigint) SERVER cdf;
CREATE USER MAPPING FOR PUBLIC SERVER cdf OPTIONS (password 'x');
ALTER FOREIGN TABLE cdf_tables.assets OPTIONS (ADD insert_mode 'merge');
\set VERBOSITY sqlstate
CREATE SERVER bad FOREIGN DATA WRAPPER cdf_fdw OPTIONS (url 'http://127.0.0.1:1');
CREATE FOREIGN TABLE cdf_tables.nope (id bigint) SERVER cdf OPTIONS (resource 'asset');
\set VERBOSITY default
-- A hand-written table with a subset of the columns works; a column the resource lacks, or a
-- type that cannot hold its values, is refused when the table is created or altered.
CREATE FOREIGN TABLE public.my_assets (external_id text, name text) SERVER cdf OPTIONS (resource 'assets');
CREATE FOREIGN TABLE public.wrong_assets (external_id text, colour text) SERVER cdf OPTIONS (resource 'assets');
CREATE FOREIGN TABLE public.badly_typed (external_id text, name bigint) SERVER cdf OPTIONS (resource 'assets');
ALTER FOREIGN TABLE public.my_assets ADD COLUMN colour text;
ALTER FOREIGN TABLE public.my_assets OPTIONS (SET resource 'raw_rows');
\d public.my_assets
-- JSONB and TEXT[] columns are accepted where CDF has JSON and lists.
CREATE FOREIGN TABLE public.jsonb_assets (external_id text, name text, metadata jsonb) SERVER cdf OPTIONS (resource 'assets');
DROP FOREIGN TABLE public.jsonb_assets;
-- Plain http only to loopback hosts, unless the server explicitly allows it.
CREATE SERVER insecure FOREIGN DATA WRAPPER cdf_fdw OPTIONS (base_url 'http://cdf.example.com', project 'p', token_url 'https://login.example.com/t');
CREATE SERVER insecure FOREIGN DATA WRAPPER cdf_fdw OPTIONS (base_url 'http://cdf.example.com', project 'p', token_url 'https://login.example.com/t', allow_insecure_http 'true');
ALTER SERVER insecure OPTIONS (SET allow_insecure_http 'false');
ALTER SERVER insecure OPTIONS (SET allow_insecure_http 'maybe');
DROP SERVER insecure;
CREATE SERVER private_ca FOREIGN DATA WRAPPER cdf_fdw OPTIONS (base_url 'https://cdf.example.com', project 'p', token_url 'https://login.example.com/t', ca_file 'relative/ca.pem');
