-- Statistics a DBA can read (cdf.stats, cdf.stats_reset) and EXPLAIN ANALYZE of CDF requests.
-- The clusters of the suite preload cdf_fdw, so the statistics are shared by all backends.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
SELECT cdf.stats_reset();
SELECT count(*) AS entries_after_reset FROM cdf.stats;
-- EXPLAIN ANALYZE of a statement, with what differs between majors evened out (18 prints
-- "rows=1.00" and turns BUFFERS on by default). With options beyond TIMING OFF: the CDF lines.
CREATE FUNCTION explain_analyze(sql text, options text DEFAULT 'TIMING OFF') RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
  FOR line IN EXECUTE format('EXPLAIN (ANALYZE, COSTS OFF, SUMMARY OFF, BUFFERS OFF, %s) %s', options, sql) LOOP
    IF options = 'TIMING OFF' THEN
      RETURN NEXT regexp_replace(line, 'rows=(\d+)\.00', 'rows=\1');
    ELSE
      RETURN QUERY SELECT l FROM regexp_split_to_table(line, '\n') l WHERE l ~ 'CDF';
    END IF;
  END LOOP;
END $$;
-- EXPLAIN ANALYZE of a write: the requests it made, their retries and the rows CDF accepted
-- (time only with TIMING on; bytes with VERBOSE). One 429 first: retried, counted as throttled.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/faults" -H 'content-type: application/json' -d '{"seed": 1, "rules": [{"endpoint": "POST /assets", "sequence": [{"status": 429, "retryAfter": 0}]}]}' > /dev/null
SELECT explain_analyze($$INSERT INTO cdf_tables.assets (external_id, name) VALUES ('st-1', 'One'), ('st-2', 'Two'), ('st-3', 'Three')$$);
\! curl -fsS -X DELETE "$CDF_EMULATOR_URL/_admin/faults" > /dev/null
-- Upsert of existing rows: a create that CDF refuses as duplicates (expected and handled, so
-- not a failure), then an update.
SELECT explain_analyze($$INSERT INTO cdf_tables.assets (external_id, name) VALUES ('st-1', 'One again'), ('st-4', 'Four')$$);
-- A read: rows received.
SELECT explain_analyze($$SELECT external_id FROM cdf_tables.assets WHERE external_id IN ('st-1', 'st-2', 'nope')$$);
-- UPDATE: the scan's requests under the scan, the update's under the ModifyTable node.
SELECT explain_analyze($$UPDATE cdf_tables.assets SET description = 'changed' WHERE external_id = 'st-2'$$);
-- Structured formats have one property per figure.
SELECT explain_analyze($$SELECT external_id FROM cdf_tables.assets WHERE external_id = 'st-3'$$, 'TIMING OFF, FORMAT YAML');
-- VERBOSE adds the bytes each way (their count depends on ids CDF assigns: only the label here).
SELECT regexp_replace(l, '\d+', 'N', 'g') FROM explain_analyze($$SELECT external_id FROM cdf_tables.assets WHERE external_id = 'st-3'$$, 'TIMING OFF, VERBOSE') l WHERE l ~ 'CDF Bytes';
-- TIMING (on by default) adds the time spent in CDF.
SELECT regexp_replace(l, '[0-9.]+', 'N', 'g') FROM explain_analyze($$SELECT external_id FROM cdf_tables.assets WHERE external_id = 'st-3'$$, 'TIMING ON') l WHERE l ~ 'CDF Time';
-- Plain EXPLAIN sends nothing and shows no request figures.
EXPLAIN (COSTS OFF) SELECT external_id FROM cdf_tables.assets WHERE external_id = 'st-3';
-- RAW endpoints are named by template: database and table names stay out of the statistics.
INSERT INTO cdf_tables.raw_rows (_raw_database, _raw_table, _raw_key, _raw_columns)
VALUES ('secret db', 'secret table', 'k1', '{}'), ('secret db', 'secret table', 'k2', '{}');
-- Failed statements count, also when their transaction rolls back: a 400 from CDF ...
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/faults" -H 'content-type: application/json' -d '{"seed": 1, "rules": [{"endpoint": "POST /assets", "sequence": [{"status": 400}]}]}' > /dev/null
BEGIN;
SELECT try($$INSERT INTO cdf_tables.assets (external_id, name) VALUES ('st-bad', 'Refused')$$);
ROLLBACK;
-- ... and a request cancelled by statement_timeout (no answer: status 0, a failure).
-- (data sets: one list, not read in partitions side by side)
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/faults" -H 'content-type: application/json' -d '{"seed": 1, "rules": [{"endpoint": "POST /datasets/list", "sequence": [{"stallMs": 3000}]}]}' > /dev/null
SET statement_timeout = '300ms';
SELECT count(*) FROM cdf_tables.data_sets;
RESET statement_timeout;
\! curl -fsS -X DELETE "$CDF_EMULATOR_URL/_admin/faults" > /dev/null
-- Another backend sees the same sums (shared memory). Figures that depend on timing or on ids
-- CDF assigned are shown as facts about them.
\c
SELECT server, foreign_table, endpoint, requests, rows_sent, rows_received, retries, throttled, failures,
       bytes_sent > 0 AS sent_bytes, bytes_received > 0 AS got_bytes,
       total_ms > 0 AS timed, max_ms >= mean_ms AND p50_ms <= p95_ms AND p95_ms <= p99_ms AND p99_ms <= max_ms AS ordered,
       since <= now() AS since_ok
  FROM cdf.stats WHERE endpoint <> 'POST token_url' ORDER BY foreign_table::text, endpoint;
-- What the emulator saw: every attempt is a request there (retries included), and its items
-- are the rows it accepted.
\! for e in "POST /assets" "POST /assets/update" "POST /assets/byids" "POST /raw/dbs/{db}/tables/{table}/rows"; do python3 "$CDF_FDW_ROOT/tests/tools/emulator_dump.py" stats "$e"; done
-- The same comparison as one query: requests + retries = the emulator's requests, rows = its
-- items (rows accepted, or returned by byids). The cancelled list is left out: the emulator records it when
-- its stall ends.
\set emulator_stats `curl -fsS "$CDF_EMULATOR_URL/_admin/stats"`
SELECT s.endpoint, s.requests + s.retries = (e.value->>'requests')::bigint AS requests_match,
       s.rows_sent + s.rows_received = (e.value->>'items')::bigint AS rows_match
  FROM (SELECT endpoint, sum(requests) AS requests, sum(retries) AS retries, sum(rows_sent) AS rows_sent, sum(rows_received) AS rows_received
          FROM cdf.stats GROUP BY endpoint) s
  JOIN jsonb_each(:'emulator_stats'::jsonb->'endpoints') e
    ON e.key = CASE s.endpoint WHEN 'POST token_url' THEN 'POST /oauth2/token' ELSE s.endpoint END
 WHERE s.endpoint <> 'POST /datasets/list'
 ORDER BY 1;
-- Reset empties the statistics; it is the superuser's unless granted.
SELECT cdf.stats_reset();
SELECT count(*) AS entries_after_reset FROM cdf.stats;
CREATE ROLE stats_reader;
SET ROLE stats_reader;
SELECT try($$SELECT cdf.stats_reset()$$);
SELECT try($$SELECT * FROM cdf.stats$$);
RESET ROLE;
-- A role sees only the servers and tables it may use: nothing here, assets once granted.
INSERT INTO cdf_tables.assets (external_id, name) VALUES ('st-5', 'Five');
SELECT count(*) FROM cdf_tables.raw_databases;
GRANT USAGE ON SCHEMA cdf TO stats_reader;
SET ROLE stats_reader;
SELECT foreign_table, endpoint, requests FROM cdf.stats WHERE endpoint <> 'POST token_url' ORDER BY 1, 2;
RESET ROLE;
GRANT SELECT ON cdf_tables.assets TO stats_reader;
SET ROLE stats_reader;
SELECT foreign_table, endpoint, requests FROM cdf.stats WHERE endpoint <> 'POST token_url' ORDER BY 1, 2;
RESET ROLE;
REVOKE ALL ON cdf_tables.assets FROM stats_reader;
REVOKE USAGE ON SCHEMA cdf FROM stats_reader;
DROP ROLE stats_reader;
DROP FUNCTION explain_analyze(text, text);
