-- use_remote_estimate (table or server option, as postgres_fdw's): the planner asks CDF how many
-- objects a list read returns (POST /{resource}/aggregate with the read's filter, while
-- planning), so row estimates follow the data rather than a flat guess.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
INSERT INTO cdf_tables.events (external_id, type, description)
SELECT 're-' || i, CASE WHEN i <= 40 THEN 'alarm' ELSE 'info' END, 'event ' || i FROM generate_series(1, 50) i;
CREATE FUNCTION plan_rows(sql text) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
  EXECUTE 'EXPLAIN (FORMAT JSON) ' || sql INTO plan;
  RETURN (plan->0->'Plan'->>'Plan Rows')::numeric;
END $$;
-- Without the option: 1000 rows times the condition's selectivity, and no request.
SELECT plan_rows($$SELECT * FROM cdf_tables.events WHERE type = 'alarm'$$);
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /events/aggregate"
ALTER FOREIGN TABLE cdf_tables.events OPTIONS (ADD use_remote_estimate 'true');
-- CDF's count of what the filter matches.
SELECT plan_rows($$SELECT * FROM cdf_tables.events WHERE type = 'alarm'$$);
SELECT plan_rows($$SELECT * FROM cdf_tables.events WHERE type = 'info'$$);
SELECT plan_rows($$SELECT * FROM cdf_tables.events$$);
-- A condition CDF does not filter by lowers the count by its selectivity (= without statistics:
-- 0.5%, so 40 becomes at least 1 row).
SELECT plan_rows($$SELECT * FROM cdf_tables.events WHERE type = 'alarm' AND description = 'event 1'$$);
-- Byids lookups count their ids; a parameter of a generic plan is not known while planning.
SELECT plan_rows($$SELECT * FROM cdf_tables.events WHERE external_id IN ('re-1', 're-2')$$);
PREPARE by_type(text) AS SELECT * FROM cdf_tables.events WHERE type = $1;
SET plan_cache_mode = force_generic_plan;
SELECT plan_rows($$EXECUTE by_type('alarm')$$);
SET plan_cache_mode = force_custom_plan;
SELECT plan_rows($$EXECUTE by_type('alarm')$$);
RESET plan_cache_mode;
DEALLOCATE by_type;
-- Each estimate was one aggregate request, with the read's filter.
\! python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "POST /events/aggregate"
-- The results are those of any plan.
SELECT count(*) FROM cdf_tables.events WHERE type = 'alarm';
-- On the server it holds for every table of it; the table's own option wins.
ALTER FOREIGN TABLE cdf_tables.events OPTIONS (DROP use_remote_estimate);
ALTER SERVER cdf OPTIONS (ADD use_remote_estimate 'true');
SELECT plan_rows($$SELECT * FROM cdf_tables.events WHERE type = 'alarm'$$);
ALTER FOREIGN TABLE cdf_tables.events OPTIONS (ADD use_remote_estimate 'false');
SELECT plan_rows($$SELECT * FROM cdf_tables.events WHERE type = 'alarm'$$);
ALTER FOREIGN TABLE cdf_tables.events OPTIONS (DROP use_remote_estimate);
ALTER SERVER cdf OPTIONS (DROP use_remote_estimate);
-- Resources without aggregate counts (labels, RAW, datapoints) keep the plain estimate.
ALTER FOREIGN TABLE cdf_tables.labels OPTIONS (ADD use_remote_estimate 'true');
SELECT plan_rows($$SELECT * FROM cdf_tables.labels$$);
ALTER FOREIGN TABLE cdf_tables.labels OPTIONS (DROP use_remote_estimate);
-- Only 'true' or 'false'.
ALTER FOREIGN TABLE cdf_tables.events OPTIONS (ADD use_remote_estimate 'yes');
DROP FUNCTION plan_rows(text);
