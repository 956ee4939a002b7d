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
-- A hand-written table with a subset of the columns works; a column CDF lacks is refused on use.
CREATE FOREIGN TABLE public.my_assets (external_id text, name text) SERVER cdf OPTIONS (resource 'assets');
CREATE FOREIGN TABLE public.wrong_assets (external_id text, colour text) SERVER cdf OPTIONS (resource 'assets');
INSERT INTO public.wrong_assets VALUES ('x', 'red');
CREATE FOREIGN TABLE public.badly_typed (external_id text, name bigint) SERVER cdf OPTIONS (resource 'assets');
INSERT INTO public.badly_typed VALUES ('x', 1);
DROP FOREIGN TABLE public.wrong_assets, public.badly_typed;
