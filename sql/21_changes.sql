--
-- 21_changes: the change feed the sinks read -- nothing recorded without
-- subscribers, backfill on subscribe, read / ack, one change per real change
-- of a driver_laps row (none for a recomputation that changes nothing), new
-- race_control rows, deletions, several subscribers, unsubscribe.
--
-- Hand-written edge cases, not real data: session keys 900101 and up, which
-- OpenF1 does not use.  Rows other tests may have left in driver_laps or
-- race_control are in the backfill too, so the queries below look at these
-- sessions only.  Concurrency (two readers, writers committing out of id
-- order) is tested by test/t/021_change_feed.pl.
--
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

-- what a sink would see of these sessions: read, show, acknowledge
CREATE TEMP TABLE seen (change_id bigint, table_name text, op text,
						version bigint, row_data jsonb);
CREATE FUNCTION pg_temp.consume(subscriber text, max_rows integer DEFAULT 1000)
RETURNS TABLE (n bigint, table_name text, op text, key text, version bigint, detail text)
LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM seen;
	INSERT INTO seen (change_id, table_name, op, version, row_data)
	SELECT r.change_id, r.table_name, r.op, r.version, r.row_data
	  FROM f1tel.read_changes(subscriber, max_rows) r
	 ORDER BY r.change_id;
	PERFORM f1tel.ack_changes(subscriber, ARRAY(SELECT s.change_id FROM seen s));
	RETURN QUERY
	SELECT row_number() OVER (ORDER BY s.change_id), s.table_name, s.op,
		   CASE s.table_name
			 WHEN 'driver_laps' THEN concat_ws('/', s.row_data->>'session_key',
											   s.row_data->>'driver_number',
											   s.row_data->>'lap_number')
			 ELSE concat_ws('/', s.row_data->>'session_key', s.row_data->>'message')
		   END,
		   s.version,
		   CASE s.table_name
			 WHEN 'driver_laps' THEN concat_ws(' ', 'end', s.row_data->>'lap_end',
											   'pos', s.row_data->>'position',
											   s.row_data->>'name_acronym')
			 ELSE s.row_data->>'date'
		   END
	  FROM seen s
	 WHERE (s.row_data->>'session_key')::integer BETWEEN 900101 AND 900199
	 ORDER BY s.change_id;
END
$$;

-- no subscriber: nothing is recorded
SELECT count(*) AS subscribers FROM f1tel.change_subscribers;
INSERT INTO f1tel.drivers (session_key, driver_number, name_acronym, full_name, team_name,
						   team_colour, src_topic, src_partition, src_offset)
VALUES (900101, 1, 'VER', 'Max VERSTAPPEN', 'Red Bull Racing', '3671C6', 'test', 0, 1);
INSERT INTO f1tel.laps (session_key, driver_number, lap_number, date_start, lap_duration,
						src_topic, src_partition, src_offset)
VALUES (900101, 1, 1, '2031-05-01 12:00:00+00', 90, 'test', 0, 2),
	   (900101, 1, 2, '2031-05-01 12:01:30+00', 90, 'test', 0, 3);
INSERT INTO f1tel.position (session_key, driver_number, date, position, src_topic, src_partition, src_offset)
VALUES (900101, 1, '2031-05-01 11:55:00+00', 2, 'test', 0, 4);
INSERT INTO f1tel.race_control (session_key, date, category, flag, scope, message,
								src_topic, src_partition, src_offset)
VALUES (900101, '2031-05-01 12:00:00+00', 'Flag', 'GREEN', 'Track', 'GREEN LIGHT - PIT EXIT OPEN',
		'test', 0, 5);
SELECT (SELECT count(*) FROM f1tel.changes) AS changes,
	   (SELECT count(*) FROM f1tel.change_queue) AS queued;

-- subscribe: the current image of every row is queued for the new subscriber
SELECT f1tel.subscribe('sink_a');
SELECT f1tel.subscribe('sink_a') AS "subscribe again";
SELECT subscriber,
	   pending = (SELECT count(*) FROM f1tel.driver_laps)
				 + (SELECT count(*) FROM f1tel.race_control) AS "pending = every row",
	   oldest_pending IS NOT NULL AS "has oldest"
  FROM f1tel.change_backlog;
-- a row image: every driver_laps column, timestamps in UTC
SELECT jsonb_pretty(c.row_data - 'updated_at')
  FROM f1tel.changes c
 WHERE c.table_name = 'driver_laps' AND c.session_key = 900101 AND c.lap_number = 1;
SELECT jsonb_pretty(c.row_data - 'id')
  FROM f1tel.changes c
 WHERE c.table_name = 'race_control' AND c.session_key = 900101;
SELECT * FROM pg_temp.consume('sink_a');
SELECT subscriber, pending, oldest_pending FROM f1tel.change_backlog;
SELECT * FROM pg_temp.consume('sink_a');

-- a new lap: its row (version 1) and the previous lap's, if it changed; lap 2
-- had a duration, so only lap 3 is new
INSERT INTO f1tel.laps (session_key, driver_number, lap_number, date_start, lap_duration,
						src_topic, src_partition, src_offset)
VALUES (900101, 1, 3, '2031-05-01 12:03:00+00', NULL, 'test', 0, 6);
SELECT * FROM pg_temp.consume('sink_a');
-- lap 3 re-sent complete: one change, version 2
UPDATE f1tel.laps SET lap_duration = 91.5, src_offset = 7
 WHERE session_key = 900101 AND lap_number = 3;
SELECT * FROM pg_temp.consume('sink_a');

-- recomputations that change nothing emit nothing: the same lap, driver and
-- race control record re-sent as the worker upserts them, a position record
-- that decides no lap differently
INSERT INTO f1tel.laps AS l (session_key, driver_number, lap_number, date_start, lap_duration,
							 src_topic, src_partition, src_offset)
VALUES (900101, 1, 3, '2031-05-01 12:03:00+00', 91.5, 'test', 0, 8)
ON CONFLICT (session_key, driver_number, lap_number) DO UPDATE
   SET date_start = excluded.date_start, lap_duration = excluded.lap_duration,
	   src_offset = excluded.src_offset
 WHERE (l.date_start, l.lap_duration, l.src_offset)
	   IS DISTINCT FROM (excluded.date_start, excluded.lap_duration, excluded.src_offset);
UPDATE f1tel.drivers SET src_offset = 9 WHERE session_key = 900101;
INSERT INTO f1tel.race_control (session_key, date, category, flag, scope, message,
								src_topic, src_partition, src_offset)
VALUES (900101, '2031-05-01 12:00:00+00', 'Flag', 'GREEN', 'Track', 'GREEN LIGHT - PIT EXIT OPEN',
		'test', 0, 5)
ON CONFLICT ON CONSTRAINT race_control_record_key DO NOTHING;
INSERT INTO f1tel.position (session_key, driver_number, date, position, src_topic, src_partition, src_offset)
VALUES (900101, 1, '2031-05-01 11:56:00+00', 2, 'test', 0, 10);
SELECT count(*) AS "changes made" FROM f1tel.changes WHERE session_key = 900101;
SELECT * FROM pg_temp.consume('sink_a');

-- a position that decides laps 2 and 3: two changes
INSERT INTO f1tel.position (session_key, driver_number, date, position, src_topic, src_partition, src_offset)
VALUES (900101, 1, '2031-05-01 12:02:00+00', 1, 'test', 0, 11);
SELECT * FROM pg_temp.consume('sink_a');

-- a new race control record, and a second subscriber that comes late
INSERT INTO f1tel.race_control (session_key, date, category, driver_number, lap_number, flag, scope,
								message, src_topic, src_partition, src_offset)
VALUES (900101, '2031-05-01 12:04:00+00', 'Flag', 1, 3, 'BLUE', 'Driver',
		'WAVED BLUE FLAG FOR CAR 1 (VER) TIMED AT 12:04:00', 'test', 0, 12);
SELECT f1tel.subscribe('sink_b');
-- sink_b's backfill: the current image of every row, the new record included
SELECT * FROM pg_temp.consume('sink_b');
SELECT * FROM pg_temp.consume('sink_a');

-- one change queued for two subscribers: kept until both acknowledged it
UPDATE f1tel.drivers SET team_name = 'Red Bull Racing Honda RBPT', src_offset = 13
 WHERE session_key = 900101;
SELECT subscriber, pending FROM f1tel.change_backlog ORDER BY subscriber;
SELECT * FROM pg_temp.consume('sink_a', 2);
SELECT count(*) AS "change rows kept for sink_b" FROM f1tel.changes WHERE session_key = 900101;
SELECT * FROM pg_temp.consume('sink_a');
SELECT * FROM pg_temp.consume('sink_b');
SELECT count(*) AS "change rows left" FROM f1tel.changes WHERE session_key = 900101;
SELECT subscriber, pending FROM f1tel.change_backlog ORDER BY subscriber;

-- acknowledging twice, or ids that are not queued, does nothing
SELECT f1tel.ack_changes('sink_a', ARRAY[-1, -2]::bigint[]) AS acked;
SELECT f1tel.ack_changes('sink_a', '{}') AS acked;

-- a deleted lap: op 'delete' with the last image and the next version
DELETE FROM f1tel.laps WHERE session_key = 900101 AND lap_number = 3;
SELECT c.op, c.version, c.row_data->>'lap_number' AS lap, c.row_data->>'version' AS "image version"
  FROM f1tel.changes c WHERE c.session_key = 900101 AND c.lap_number = 3;
SELECT * FROM pg_temp.consume('sink_a');

-- unsubscribe drops the subscriber's queue and the changes only it needed
SELECT f1tel.unsubscribe('sink_b');
SELECT f1tel.unsubscribe('sink_b') AS "unsubscribe again";
SELECT subscriber, pending FROM f1tel.change_backlog ORDER BY subscriber;
SELECT count(*) AS "change rows left" FROM f1tel.changes WHERE session_key = 900101;

\set VERBOSITY terse
SELECT * FROM f1tel.read_changes('nobody');
SELECT f1tel.subscribe('');
\set VERBOSITY default

-- with no subscriber left, the tables are empty and stay so
SELECT f1tel.unsubscribe('sink_a');
SELECT (SELECT count(*) FROM f1tel.changes) AS changes,
	   (SELECT count(*) FROM f1tel.change_queue) AS queued;
DELETE FROM f1tel.laps WHERE session_key BETWEEN 900101 AND 900199;
DELETE FROM f1tel.position WHERE session_key BETWEEN 900101 AND 900199;
DELETE FROM f1tel.drivers WHERE session_key BETWEEN 900101 AND 900199;
DELETE FROM f1tel.race_control WHERE session_key BETWEEN 900101 AND 900199;
DELETE FROM f1tel.driver_laps_deleted WHERE session_key BETWEEN 900101 AND 900199;
SELECT (SELECT count(*) FROM f1tel.changes) AS changes,
	   (SELECT count(*) FROM f1tel.change_queue) AS queued,
	   (SELECT count(*) FROM f1tel.driver_laps WHERE session_key BETWEEN 900101 AND 900199) AS rows;
SELECT count(*) AS drift FROM f1tel.driver_laps_drift;
