-- UPDATEs that move rows to other keys are exact whatever the size and the overlap of old and
-- new keys: nothing is sent before the scan ends, then rows are written, then the old keys that
-- no rewritten row took over are deleted.
\! curl -fsS -X POST "$CDF_EMULATOR_URL/_admin/reset" > /dev/null
INSERT INTO cdf_tables.time_series (external_id) VALUES ('shift'), ('other');
INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value)
SELECT 'shift', timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second', i FROM generate_series(0, 99999) i;
CREATE FUNCTION public.series_summary(xid text) RETURNS TABLE (points bigint, total double precision, first_ts timestamptz, last_ts timestamptz)
LANGUAGE sql AS $$
  SELECT count(*), sum(value), min(timestamp), max(timestamp) FROM cdf_tables.double_datapoints WHERE external_id = xid
$$;
SELECT * FROM series_summary('shift');
-- Forward by one step: each new key is the next row's old key (overlap across every chunk).
UPDATE cdf_tables.double_datapoints SET timestamp = timestamp + interval '1 second' WHERE external_id = 'shift';
SELECT * FROM series_summary('shift');
-- Each point moved exactly once: value i now sits at second i + 1.
SELECT count(*) AS misplaced FROM cdf_tables.double_datapoints
 WHERE external_id = 'shift' AND timestamp <> timestamptz '2024-01-01 00:00:00+00' + (value + 1) * interval '1 second';
-- Backward by one step, then by 1,500 steps (chunk boundaries inside the overlap).
UPDATE cdf_tables.double_datapoints SET timestamp = timestamp - interval '1 second' WHERE external_id = 'shift';
UPDATE cdf_tables.double_datapoints SET timestamp = timestamp - interval '1500 seconds' WHERE external_id = 'shift';
SELECT * FROM series_summary('shift');
SELECT count(*) AS misplaced FROM cdf_tables.double_datapoints
 WHERE external_id = 'shift' AND timestamp <> timestamptz '2024-01-01 00:00:00+00' + (value - 1500) * interval '1 second';
-- A swap of two points, and a move onto an existing point (the moved value wins there).
INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value)
VALUES ('other', '2024-06-01 00:00:00+00', 1), ('other', '2024-06-01 00:00:01+00', 2), ('other', '2024-06-01 00:00:02+00', 3);
UPDATE cdf_tables.double_datapoints
   SET timestamp = CASE WHEN value = 1 THEN timestamptz '2024-06-01 00:00:01+00' ELSE timestamptz '2024-06-01 00:00:00+00' END
 WHERE external_id = 'other' AND value IN (1, 2);
SELECT timestamp AT TIME ZONE 'UTC' AS utc, value FROM cdf_tables.double_datapoints WHERE external_id = 'other' ORDER BY 1;
UPDATE cdf_tables.double_datapoints SET timestamp = '2024-06-01 00:00:02+00' WHERE external_id = 'other' AND value = 2;
SELECT timestamp AT TIME ZONE 'UTC' AS utc, value FROM cdf_tables.double_datapoints WHERE external_id = 'other' ORDER BY 1;
-- A value-only UPDATE over many pages applies once per point (the scan never sees its writes).
UPDATE cdf_tables.double_datapoints SET value = value + 1 WHERE external_id = 'shift';
SELECT * FROM series_summary('shift');
-- Sequence rows: shift row numbers up by one.
INSERT INTO cdf_tables.sequences (external_id, columns) VALUES ('seq', '[{"externalId": "depth"}]');
INSERT INTO cdf_tables.sequence_rows (external_id, row_number, values)
SELECT 'seq', i, json_build_object('depth', i) FROM generate_series(1, 25000) i;
UPDATE cdf_tables.sequence_rows SET row_number = row_number + 1 WHERE external_id = 'seq';
SELECT count(*) AS rows, min(row_number), max(row_number),
       count(*) FILTER (WHERE (values->>'depth')::int <> row_number - 1) AS misplaced
  FROM cdf_tables.sequence_rows WHERE external_id = 'seq';
-- RAW rows: rename every key onto its successor's key, and swap two keys.
INSERT INTO cdf_tables.raw_rows SELECT 'db', 'moves', 'k' || lpad(i::text, 6, '0'), json_build_object('i', i) FROM generate_series(1, 25000) i;
UPDATE cdf_tables.raw_rows SET _raw_key = 'k' || lpad(((_raw_columns->>'i')::int + 1)::text, 6, '0')
 WHERE _raw_database = 'db' AND _raw_table = 'moves';
SELECT count(*) AS rows, min(_raw_key), max(_raw_key),
       count(*) FILTER (WHERE _raw_key <> 'k' || lpad(((_raw_columns->>'i')::int + 1)::text, 6, '0')) AS misplaced
  FROM cdf_tables.raw_rows WHERE _raw_database = 'db' AND _raw_table = 'moves';
UPDATE cdf_tables.raw_rows SET _raw_key = CASE _raw_key WHEN 'k000002' THEN 'k000003' ELSE 'k000002' END
 WHERE _raw_database = 'db' AND _raw_table = 'moves' AND _raw_key IN ('k000002', 'k000003');
SELECT _raw_key, _raw_columns FROM cdf_tables.raw_rows
 WHERE _raw_database = 'db' AND _raw_table = 'moves' AND _raw_key IN ('k000002', 'k000003') ORDER BY 1;
