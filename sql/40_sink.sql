--
-- The sink's contracts, each with one home and checked here against the
-- other side: the BigQuery schema (src/sink/bigquery.c, through
-- f1tel.bigquery_schema()) against f1tel.driver_laps and the race_control
-- change image, and the insertId and message key formulas
-- (src/sink/schema.sql).
--
SET timezone = 'UTC';
-- driver_laps: every column, in order, with the matching BigQuery type, then
-- the sink's own "deleted" (where f1tel 0.1 put it, after updated_at), then
-- the fields a later release appended (BigQuery adds columns at the end
-- only); REQUIRED only where the column is NOT NULL (NULLABLE is always
-- allowed: BigQuery can relax a mode in place, never tighten it).  A field
-- appended after "deleted" may be missing from driver_laps (its column comes
-- with an upgrade of the enrichment; until then it is sent as NULL); every
-- other difference is listed: expect none
CREATE TEMP VIEW bq_types (sql_type, bq_type) AS
VALUES ('integer', 'INT64'), ('bigint', 'INT64'), ('double precision', 'FLOAT64'),
	   ('boolean', 'BOOL'), ('text', 'STRING'), ('timestamp with time zone', 'TIMESTAMP');
CREATE TEMP VIEW driver_laps_as_bq AS
SELECT a.attnum::integer AS ordinal, a.attname::text AS field, t.bq_type AS type,
	   CASE WHEN a.attnotnull THEN 'REQUIRED' ELSE 'NULLABLE' END AS mode
  FROM pg_attribute a
  LEFT JOIN bq_types t ON t.sql_type = format_type(a.atttypid, a.atttypmod)
 WHERE a.attrelid = 'f1tel.driver_laps'::regclass AND a.attnum > 0 AND NOT a.attisdropped;
CREATE TEMP VIEW bq_driver_laps AS
SELECT * FROM f1tel.bigquery_schema() WHERE table_name = 'driver_laps';
SELECT b.field AS in_bigquery, d.field AS in_driver_laps, b.type, d.type AS expected_type, b.mode, d.mode AS expected_mode
  FROM bq_driver_laps b
  FULL JOIN driver_laps_as_bq d ON d.field = b.field
 WHERE b.field IS NULL
	OR (d.field IS NULL AND b.field <> 'deleted'
		AND b.ordinal < (SELECT ordinal FROM bq_driver_laps WHERE field = 'deleted'))
	OR (d.field IS NOT NULL AND b.type IS DISTINCT FROM d.type)
	OR (b.mode = 'REQUIRED' AND d.mode IS DISTINCT FROM 'REQUIRED') OR b.mode NOT IN ('REQUIRED', 'NULLABLE');
SELECT string_agg(field, ', ' ORDER BY ordinal) AS required_in_bigquery
  FROM bq_driver_laps WHERE mode = 'REQUIRED';
-- the order of the BigQuery fields is the table's; "deleted" right after
-- updated_at, where f1tel 0.1 put it
SELECT array_agg(b.field ORDER BY b.ordinal) = (SELECT array_agg(field ORDER BY ordinal) FROM driver_laps_as_bq)
	   AS same_order
  FROM bq_driver_laps b WHERE b.field IN (SELECT field FROM driver_laps_as_bq);
SELECT field, ordinal FROM bq_driver_laps WHERE field IN ('updated_at', 'deleted') ORDER BY ordinal;
-- the fields appended after "deleted", all NULLABLE (an existing table gets
-- them with tables.patch, which adds no other)
SELECT field, type, mode FROM bq_driver_laps
 WHERE ordinal > (SELECT ordinal FROM bq_driver_laps WHERE field = 'deleted') ORDER BY ordinal;
-- race_control: the fields are the keys of the change image, nothing more
-- (a hand-written record of a session of its own)
INSERT INTO f1tel.race_control (session_key, meeting_key, date, driver_number, lap_number, sector,
								category, flag, scope, message, src_topic, src_partition, src_offset)
VALUES (4040, 1225, '2023-11-19 05:57:18+00', NULL, 1, NULL, 'Flag', 'GREEN', 'Track',
		'GREEN LIGHT - PIT EXIT OPEN', 'hand-written', 0, 0);
SELECT b.field AS in_bigquery, i.key AS in_image
  FROM (SELECT field FROM f1tel.bigquery_schema() WHERE table_name = 'race_control') b
  FULL JOIN (SELECT jsonb_object_keys(f1tel.race_control_image(rc)) AS key
			   FROM f1tel.race_control rc WHERE rc.session_key = 4040) i
	ON i.key = b.field
 WHERE b.field IS NULL OR i.key IS NULL;
SELECT field, type, mode FROM f1tel.bigquery_schema() WHERE table_name = 'race_control' ORDER BY ordinal;
-- the formulas
SELECT f1tel.sink_insert_id('driver_laps', '{"session_key": 9189, "driver_number": 1, "lap_number": 7}', 3);
SELECT f1tel.sink_insert_id('race_control', f1tel.race_control_image(rc), 1) =
	   'race_control:' || md5((f1tel.race_control_image(rc) - 'id')::text) AS race_control_id,
	   f1tel.sink_insert_id('race_control', f1tel.race_control_image(rc) || '{"id": 99}', 1) =
	   f1tel.sink_insert_id('race_control', f1tel.race_control_image(rc), 1) AS id_does_not_count
  FROM f1tel.race_control rc WHERE rc.session_key = 4040;
SELECT f1tel.sink_message_key('driver_laps', '{"session_key": 9189, "driver_number": 1, "lap_number": 7, "st_speed": 300}');
SELECT f1tel.sink_message_key('race_control', '{"session_key": 9189}') IS NULL AS not_for_the_topic;
DELETE FROM f1tel.race_control WHERE session_key = 4040;
