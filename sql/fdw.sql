-- The foreign-data wrapper itself. Servers, user mappings and tables are the DBA's.
CREATE FOREIGN DATA WRAPPER cdf_fdw
  HANDLER @extschema@.cdf_fdw_handler
  VALIDATOR @extschema@.cdf_fdw_validator;

COMMENT ON FOREIGN DATA WRAPPER cdf_fdw IS
  'Cognite Data Fusion: INSERT/COPY/UPDATE/DELETE/SELECT on CDF resources';

-- Foreign tables are checked when they are created or altered, not at their first use:
-- every column must be a field of the table's CDF resource, with a type that can hold it.
-- It runs as whoever issued the DDL (often a superuser), so it must not resolve anything through
-- that role's search_path: a fixed one, and schema-qualified calls.
CREATE FUNCTION @extschema@.cdf_fdw_check_new_tables() RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  created record;
BEGIN
  FOR created IN
    SELECT objid FROM pg_catalog.pg_event_trigger_ddl_commands() WHERE object_type OPERATOR(pg_catalog.=) 'foreign table'
  LOOP
    PERFORM @extschema@.cdf_fdw_check_table(created.objid);
  END LOOP;
END $$;

CREATE EVENT TRIGGER cdf_fdw_check_tables ON ddl_command_end
  WHEN TAG IN ('CREATE FOREIGN TABLE', 'ALTER FOREIGN TABLE', 'IMPORT FOREIGN SCHEMA')
  EXECUTE FUNCTION @extschema@.cdf_fdw_check_new_tables();
