-- The foreign-data wrapper itself. Servers, user mappings and tables are the DBA's.
CREATE FOREIGN DATA WRAPPER cdf_fdw
  HANDLER cdf_fdw_handler
  VALIDATOR cdf_fdw_validator;

COMMENT ON FOREIGN DATA WRAPPER cdf_fdw IS
  'Cognite Data Fusion: INSERT/COPY/UPDATE/DELETE/SELECT on CDF resources';
