--
-- 20_driver_laps: the driver_laps join rules, one case each, as the triggers
-- keep them whatever order the data arrives in.
--
-- Hand-written edge cases, not real data: session keys 900001 and up, which
-- OpenF1 does not use.  Every case ends by checking that f1tel.driver_laps
-- equals the view f1tel.driver_laps_v (f1tel.driver_laps_drift is their
-- EXCEPT ALL both ways).
--
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

-- what the cases look at
CREATE TEMP VIEW dl AS
SELECT session_key AS session, driver_number AS drv, lap_number AS lap,
	   to_char(date_start, 'HH24:MI:SS.MS') AS date_start, lap_duration,
	   to_char(lap_end, 'HH24:MI:SS.MS') AS lap_end, position, name_acronym AS acr,
	   team_name, version
  FROM f1tel.driver_laps
 WHERE session_key BETWEEN 900001 AND 900099;

--
-- missing driver: driver columns are NULL while f1tel.drivers has no row
--
INSERT INTO f1tel.laps (session_key, driver_number, lap_number, date_start, lap_duration,
						src_topic, src_partition, src_offset)
VALUES (900001, 44, 1, '2031-05-01 12:00:00+00', 90.5, 'test', 0, 1),
	   (900001, 44, 2, '2031-05-01 12:01:30.5+00', 91.25, 'test', 0, 2);
INSERT INTO f1tel.position (session_key, driver_number, date, position, src_topic, src_partition, src_offset)
VALUES (900001, 44, '2031-05-01 12:00:10+00', 3, 'test', 0, 3);
SELECT * FROM dl WHERE session = 900001 ORDER BY drv, lap;
SELECT count(*) AS drift FROM f1tel.driver_laps_drift;

--
-- missing position: NULL when no position record is dated <= lap_end
--
INSERT INTO f1tel.drivers (session_key, driver_number, name_acronym, full_name, team_name,
						   team_colour, src_topic, src_partition, src_offset)
VALUES (900002, 1, 'VER', 'Max VERSTAPPEN', 'Red Bull Racing', '3671C6', 'test', 0, 1);
INSERT INTO f1tel.laps (session_key, driver_number, lap_number, date_start, lap_duration,
						src_topic, src_partition, src_offset)
VALUES (900002, 1, 1, '2031-05-01 12:00:00+00', 90, 'test', 0, 2),
	   (900002, 1, 2, '2031-05-01 12:01:30+00', 90, 'test', 0, 3);
-- a record after both laps ended decides neither
INSERT INTO f1tel.position (session_key, driver_number, date, position, src_topic, src_partition, src_offset)
VALUES (900002, 1, '2031-05-01 12:05:00+00', 1, 'test', 0, 4);
SELECT * FROM dl WHERE session = 900002 ORDER BY drv, lap;
SELECT count(*) AS drift FROM f1tel.driver_laps_drift;

--
-- null lap_duration: lap_end is the next lap's date_start; without a next lap,
-- the lap's own date_start
--
INSERT INTO f1tel.laps (session_key, driver_number, lap_number, date_start, lap_duration,
						src_topic, src_partition, src_offset)
VALUES (900003, 16, 1, '2031-05-01 12:00:00+00', NULL, 'test', 0, 1),
	   (900003, 16, 2, '2031-05-01 12:01:40+00', NULL, 'test', 0, 2);
INSERT INTO f1tel.position (session_key, driver_number, date, position, src_topic, src_partition, src_offset)
VALUES (900003, 16, '2031-05-01 11:59:00+00', 5, 'test', 0, 3),
	   (900003, 16, '2031-05-01 12:01:00+00', 4, 'test', 0, 4),
	   (900003, 16, '2031-05-01 12:01:40+00', 3, 'test', 0, 5);
SELECT * FROM dl WHERE session = 900003 ORDER BY drv, lap;
SELECT count(*) AS drift FROM f1tel.driver_laps_drift;

--
-- null date_start on lap 1: lap_end comes from lap 2's date_start, and is
-- NULL (so is position) until lap 2 arrives
--
INSERT INTO f1tel.position (session_key, driver_number, date, position, src_topic, src_partition, src_offset)
VALUES (900004, 11, '2031-05-01 11:50:00+00', 2, 'test', 0, 1),
	   (900004, 11, '2031-05-01 12:01:00+00', 1, 'test', 0, 2);
INSERT INTO f1tel.laps (session_key, driver_number, lap_number, date_start, lap_duration,
						src_topic, src_partition, src_offset)
VALUES (900004, 11, 1, NULL, 95.5, 'test', 0, 3);
SELECT * FROM dl WHERE session = 900004 ORDER BY drv, lap;
INSERT INTO f1tel.laps (session_key, driver_number, lap_number, date_start, lap_duration,
						src_topic, src_partition, src_offset)
VALUES (900004, 11, 2, '2031-05-01 12:01:35.5+00', 92.125, 'test', 0, 4);
SELECT * FROM dl WHERE session = 900004 ORDER BY drv, lap;
SELECT count(*) AS drift FROM f1tel.driver_laps_drift;

--
-- re-sent lap: first opened (no duration yet), then re-sent complete, as the
-- ingest worker upserts it; the row changes once, version 2
--
INSERT INTO f1tel.position (session_key, driver_number, date, position, src_topic, src_partition, src_offset)
VALUES (900005, 81, '2031-05-01 11:50:00+00', 6, 'test', 0, 1),
	   (900005, 81, '2031-05-01 12:01:00+00', 5, 'test', 0, 2);
INSERT INTO f1tel.laps AS l (session_key, driver_number, lap_number, date_start, lap_duration,
							 src_topic, src_partition, src_offset)
VALUES (900005, 81, 1, '2031-05-01 12:00:00+00', NULL, 'test', 0, 3)
ON CONFLICT (session_key, driver_number, lap_number) DO UPDATE
   SET date_start = excluded.date_start, lap_duration = excluded.lap_duration,
	   src_offset = excluded.src_offset
 WHERE (l.date_start, l.lap_duration, l.src_offset)
	   IS DISTINCT FROM (excluded.date_start, excluded.lap_duration, excluded.src_offset);
SELECT * FROM dl WHERE session = 900005 ORDER BY drv, lap;
INSERT INTO f1tel.laps AS l (session_key, driver_number, lap_number, date_start, lap_duration,
							 src_topic, src_partition, src_offset)
VALUES (900005, 81, 1, '2031-05-01 12:00:00+00', 88.75, 'test', 0, 4)
ON CONFLICT (session_key, driver_number, lap_number) DO UPDATE
   SET date_start = excluded.date_start, lap_duration = excluded.lap_duration,
	   src_offset = excluded.src_offset
 WHERE (l.date_start, l.lap_duration, l.src_offset)
	   IS DISTINCT FROM (excluded.date_start, excluded.lap_duration, excluded.src_offset);
SELECT * FROM dl WHERE session = 900005 ORDER BY drv, lap;
SELECT count(*) AS drift FROM f1tel.driver_laps_drift;

--
-- late position: laps first, position records afterwards, one of them older
-- than a record already there, then one deleted
--
INSERT INTO f1tel.laps (session_key, driver_number, lap_number, date_start, lap_duration,
						src_topic, src_partition, src_offset)
VALUES (900006, 4, 1, '2031-05-01 12:00:00+00', 100, 'test', 0, 1),
	   (900006, 4, 2, '2031-05-01 12:01:40+00', 100, 'test', 0, 2),
	   (900006, 4, 3, '2031-05-01 12:03:20+00', 100, 'test', 0, 3);
SELECT * FROM dl WHERE session = 900006 ORDER BY drv, lap;
INSERT INTO f1tel.position (session_key, driver_number, date, position, src_topic, src_partition, src_offset)
VALUES (900006, 4, '2031-05-01 12:03:00+00', 7, 'test', 0, 4);
SELECT * FROM dl WHERE session = 900006 ORDER BY drv, lap;
-- older than the record at 12:03: decides lap 1 only
INSERT INTO f1tel.position (session_key, driver_number, date, position, src_topic, src_partition, src_offset)
VALUES (900006, 4, '2031-05-01 12:00:30+00', 9, 'test', 0, 5);
SELECT * FROM dl WHERE session = 900006 ORDER BY drv, lap;
-- exactly at lap 2's end (<= counts), and a correction of the 12:03 record
INSERT INTO f1tel.position AS p (session_key, driver_number, date, position, src_topic, src_partition, src_offset)
VALUES (900006, 4, '2031-05-01 12:03:20+00', 8, 'test', 0, 6),
	   (900006, 4, '2031-05-01 12:03:00+00', 6, 'test', 0, 7)
ON CONFLICT (session_key, driver_number, date) DO UPDATE
   SET position = excluded.position, src_offset = excluded.src_offset
 WHERE (p.position, p.src_offset) IS DISTINCT FROM (excluded.position, excluded.src_offset);
SELECT * FROM dl WHERE session = 900006 ORDER BY drv, lap;
DELETE FROM f1tel.position WHERE session_key = 900006 AND date = '2031-05-01 12:03:20+00';
SELECT * FROM dl WHERE session = 900006 ORDER BY drv, lap;
SELECT count(*) AS drift FROM f1tel.driver_laps_drift;

--
-- late driver: laps first, driver metadata afterwards, then changed
--
INSERT INTO f1tel.laps (session_key, driver_number, lap_number, date_start, lap_duration,
						src_topic, src_partition, src_offset)
VALUES (900007, 14, 1, '2031-05-01 12:00:00+00', 99.5, 'test', 0, 1),
	   (900007, 14, 2, '2031-05-01 12:01:39.5+00', 98.5, 'test', 0, 2),
	   (900007, 18, 1, '2031-05-01 12:00:01+00', 99.9, 'test', 0, 3);
SELECT * FROM dl WHERE session = 900007 ORDER BY drv, lap;
INSERT INTO f1tel.drivers (session_key, driver_number, name_acronym, full_name, team_name,
						   team_colour, src_topic, src_partition, src_offset)
VALUES (900007, 14, 'ALO', 'Fernando ALONSO', 'Aston Martin', '358C75', 'test', 0, 4);
SELECT * FROM dl WHERE session = 900007 ORDER BY drv, lap;
UPDATE f1tel.drivers SET team_name = 'Aston Martin F1 Team'
 WHERE session_key = 900007 AND driver_number = 14;
SELECT * FROM dl WHERE session = 900007 ORDER BY drv, lap;
SELECT count(*) AS drift FROM f1tel.driver_laps_drift;

--
-- new lap changing the previous lap's lap_end: lap 1 has no duration, so its
-- end is its own start until lap 2 starts; the position follows
--
INSERT INTO f1tel.position (session_key, driver_number, date, position, src_topic, src_partition, src_offset)
VALUES (900008, 63, '2031-05-01 11:55:00+00', 10, 'test', 0, 1),
	   (900008, 63, '2031-05-01 12:01:00+00', 8, 'test', 0, 2);
INSERT INTO f1tel.laps (session_key, driver_number, lap_number, date_start, lap_duration,
						src_topic, src_partition, src_offset)
VALUES (900008, 63, 1, '2031-05-01 12:00:00+00', NULL, 'test', 0, 3);
SELECT * FROM dl WHERE session = 900008 ORDER BY drv, lap;
INSERT INTO f1tel.laps (session_key, driver_number, lap_number, date_start, lap_duration,
						src_topic, src_partition, src_offset)
VALUES (900008, 63, 2, '2031-05-01 12:01:42+00', NULL, 'test', 0, 4);
SELECT * FROM dl WHERE session = 900008 ORDER BY drv, lap;
SELECT count(*) AS drift FROM f1tel.driver_laps_drift;

--
-- a recomputation that changes nothing writes nothing: the lap re-sent as it
-- is (only its Kafka offset differs), the driver re-sent, a position record
-- that decides no lap differently
--
CREATE TEMP TABLE before AS
SELECT session_key, driver_number, lap_number, version, updated_at
  FROM f1tel.driver_laps WHERE session_key = 900007;
UPDATE f1tel.laps SET src_offset = src_offset + 100 WHERE session_key = 900007;
UPDATE f1tel.drivers SET src_offset = src_offset + 100 WHERE session_key = 900007;
INSERT INTO f1tel.position (session_key, driver_number, date, position, src_topic, src_partition, src_offset)
VALUES (900007, 14, '2031-05-01 13:00:00+00', 1, 'test', 0, 200);
SELECT b.driver_number AS drv, b.lap_number AS lap, b.version,
	   (d.version, d.updated_at) = (b.version, b.updated_at) AS "row untouched"
  FROM before b
  JOIN f1tel.driver_laps d USING (session_key, driver_number, lap_number)
 ORDER BY 1, 2;

--
-- delete of a lap: its row goes, the previous lap's lap_end goes back to its
-- own date_start; re-ingested, the row continues its version sequence
--
DELETE FROM f1tel.laps WHERE session_key = 900008 AND lap_number = 2;
SELECT * FROM dl WHERE session = 900008 ORDER BY drv, lap;
SELECT session_key, driver_number, lap_number, version
  FROM f1tel.driver_laps_deleted WHERE session_key = 900008;
INSERT INTO f1tel.laps (session_key, driver_number, lap_number, date_start, lap_duration,
						src_topic, src_partition, src_offset)
VALUES (900008, 63, 2, '2031-05-01 12:01:42+00', NULL, 'test', 0, 5);
SELECT * FROM dl WHERE session = 900008 ORDER BY drv, lap;
-- a key change is a delete and an insert
UPDATE f1tel.laps SET lap_number = 3 WHERE session_key = 900008 AND lap_number = 2;
SELECT * FROM dl WHERE session = 900008 ORDER BY drv, lap;
SELECT count(*) AS drift FROM f1tel.driver_laps_drift;

--
-- garbage does not fail the batch: a lap_duration that is no number of
-- seconds counts as unknown, the largest lap number has no successor
--
INSERT INTO f1tel.laps (session_key, driver_number, lap_number, date_start, lap_duration,
						src_topic, src_partition, src_offset)
VALUES (900009, 1, 2147483647, '2031-05-01 12:00:00+00', 'NaN', 'test', 0, 1),
	   (900009, 1, 2147483646, '2031-05-01 11:58:00+00', 1e300, 'test', 0, 2),
	   (900009, 2, -2147483648, '2031-05-01 11:58:00+00', '-Infinity', 'test', 0, 3);
SELECT * FROM dl WHERE session = 900009 ORDER BY drv, lap;
SELECT count(*) AS drift FROM f1tel.driver_laps_drift;

--
-- the race columns (session 900010): tyres from stints, the pit stop, gaps
-- from intervals, weather of the session, telemetry from car_data
--
CREATE TEMP VIEW dl_race AS
SELECT driver_number AS drv, lap_number AS lap, to_char(lap_end, 'HH24:MI:SS') AS lap_end,
	   stint_number AS stint, compound, tyre_age AS age, pit_in, pit_duration AS pit_s,
	   gap_to_leader AS gap, "interval", gap_to_leader_laps AS gap_laps,
	   interval_laps AS int_laps, air_temperature AS air, track_temperature AS track,
	   rainfall AS rain, samples AS n, max_speed AS vmax, round(mean_throttle::numeric, 2) AS thr,
	   round(full_throttle_share::numeric, 3) AS wot, round(brake_share::numeric, 3) AS brk,
	   round(drs_open_share::numeric, 3) AS drs
  FROM f1tel.driver_laps
 WHERE session_key = 900010;
-- driver 1: four laps of 90 s from 12:00:00 (ends 12:01:30, 12:03:00, 12:04:30,
-- 12:06:00); driver 16: one lap ending 12:02:00
INSERT INTO f1tel.laps (session_key, driver_number, lap_number, date_start, lap_duration,
						src_topic, src_partition, src_offset)
VALUES (900010, 1, 1, '2031-05-01 12:00:00+00', 90, 'test', 0, 1),
	   (900010, 1, 2, '2031-05-01 12:01:30+00', 90, 'test', 0, 2),
	   (900010, 1, 3, '2031-05-01 12:03:00+00', 90, 'test', 0, 3),
	   (900010, 1, 4, '2031-05-01 12:04:30+00', 90, 'test', 0, 4),
	   (900010, 16, 1, '2031-05-01 12:00:00+00', 120, 'test', 0, 5);
SELECT * FROM dl_race ORDER BY drv, lap;
-- stints: 1 (laps 1-2, 3 laps old at the start), 2 open from lap 3; a
-- stint 3 on lap 4 overlaps the open one and wins (the highest number)
INSERT INTO f1tel.stints (session_key, driver_number, stint_number, lap_start, lap_end,
						  compound, tyre_age_at_start, src_topic, src_partition, src_offset)
VALUES (900010, 1, 1, 1, 2, 'SOFT', 3, 'test', 0, 1),
	   (900010, 1, 2, 3, NULL, 'HARD', 0, 'test', 0, 2);
SELECT drv, lap, stint, compound, age FROM dl_race ORDER BY drv, lap;
INSERT INTO f1tel.stints (session_key, driver_number, stint_number, lap_start, lap_end,
						  compound, tyre_age_at_start, src_topic, src_partition, src_offset)
VALUES (900010, 1, 3, 4, 4, 'MEDIUM', 0, 'test', 0, 3);
SELECT drv, lap, stint, compound, age FROM dl_race WHERE lap = 4 ORDER BY drv, lap;
-- a pit record with only lane_duration (OpenF1 is retiring pit_duration)
INSERT INTO f1tel.pit (session_key, driver_number, lap_number, date, pit_duration,
					   lane_duration, stop_duration, src_topic, src_partition, src_offset)
VALUES (900010, 1, 2, '2031-05-01 12:02:50+00', NULL, 22.5, 2.4, 'test', 0, 1);
SELECT drv, lap, pit_in, pit_s FROM dl_race ORDER BY drv, lap;
-- intervals: the latest record dated <= lap_end; one exactly at lap 1's end
-- says "+1 LAP" (seconds NULL, laps 1)
INSERT INTO f1tel.intervals (session_key, driver_number, date, gap_to_leader,
							 gap_to_leader_laps, "interval", interval_laps,
							 src_topic, src_partition, src_offset)
VALUES (900010, 1, '2031-05-01 12:01:29+00', 1.5, NULL, 0.8, NULL, 'test', 0, 1),
	   (900010, 1, '2031-05-01 12:01:30+00', NULL, 1, 0.9, NULL, 'test', 0, 2),
	   (900010, 1, '2031-05-01 12:04:00+00', 2.0, NULL, NULL, 2, 'test', 0, 3);
SELECT drv, lap, gap, "interval", gap_laps, int_laps FROM dl_race ORDER BY drv, lap;
-- weather is the session's: it decides the laps of both drivers
INSERT INTO f1tel.weather (session_key, date, air_temperature, track_temperature, rainfall,
						   src_topic, src_partition, src_offset)
VALUES (900010, '2031-05-01 12:00:00+00', 30.0, 40.0, 0, 'test', 0, 1),
	   (900010, '2031-05-01 12:03:00+00', 29.5, 39.0, 1, 'test', 0, 2);
SELECT drv, lap, lap_end, air, track, rain FROM dl_race ORDER BY drv, lap;
-- a record between: only driver 16's lap (ended 12:02:00) changes
INSERT INTO f1tel.weather (session_key, date, air_temperature, track_temperature, rainfall,
						   src_topic, src_partition, src_offset)
VALUES (900010, '2031-05-01 12:01:45+00', 29.8, 39.5, 0, 'test', 0, 3);
SELECT drv, lap, lap_end, air, track, rain FROM dl_race ORDER BY drv, lap;
-- telemetry over [date_start, lap_end): the sample at 12:00:00 is lap 1's,
-- the one at 12:01:30 lap 2's; drs 10, 12, 14 are open, 8 is not; a NULL
-- throttle counts in no throttle figure
INSERT INTO f1tel.car_data (session_key, driver_number, date, speed, throttle, brake, drs,
							src_topic, src_partition, src_offset)
VALUES (900010, 1, '2031-05-01 12:00:00+00', 100, 100, 0, 12, 'test', 0, 1),
	   (900010, 1, '2031-05-01 12:00:30+00', 300, 99, 0, 8, 'test', 0, 2),
	   (900010, 1, '2031-05-01 12:01:00+00', 200, 50, 100, 10, 'test', 0, 3),
	   (900010, 1, '2031-05-01 12:01:30+00', 250, NULL, 0, 14, 'test', 0, 4);
SELECT drv, lap, n, vmax, thr, wot, brk, drs FROM dl_race ORDER BY drv, lap;
-- lap 1 one second longer: the 12:01:30 sample counts in it too (lap 1 now
-- ends after lap 2 starts: each lap takes the samples of its own interval)
UPDATE f1tel.laps SET lap_duration = 91
 WHERE session_key = 900010 AND driver_number = 1 AND lap_number = 1;
SELECT drv, lap, lap_end, n, vmax, thr, wot, brk, drs FROM dl_race WHERE drv = 1 AND lap <= 2 ORDER BY lap;
DELETE FROM f1tel.car_data
 WHERE session_key = 900010 AND driver_number = 1 AND date = '2031-05-01 12:00:30+00';
SELECT drv, lap, n, vmax, thr, wot, brk, drs FROM dl_race WHERE drv = 1 AND lap = 1;
-- every input deleted: back to NULL (samples 0, pit_in false)
DELETE FROM f1tel.stints WHERE session_key = 900010;
DELETE FROM f1tel.pit WHERE session_key = 900010;
DELETE FROM f1tel.intervals WHERE session_key = 900010;
DELETE FROM f1tel.weather WHERE session_key = 900010;
DELETE FROM f1tel.car_data WHERE session_key = 900010;
SELECT * FROM dl_race ORDER BY drv, lap;
SELECT count(*) AS drift FROM f1tel.driver_laps_drift;

-- the same comparison spelled out: driver_laps and its definition, both ways
SELECT count(*) AS "view minus table"
  FROM (SELECT * FROM f1tel.driver_laps_v
		EXCEPT ALL
		SELECT session_key, meeting_key, driver_number, lap_number, date_start, lap_duration,
			   duration_sector_1, duration_sector_2, duration_sector_3, i1_speed, i2_speed,
			   st_speed, is_pit_out_lap, lap_end, position, name_acronym, full_name,
			   team_name, team_colour, stint_number, compound, tyre_age, pit_in,
			   pit_duration, gap_to_leader, "interval", gap_to_leader_laps,
			   interval_laps, air_temperature, track_temperature, rainfall, max_speed,
			   mean_throttle, full_throttle_share, brake_share, drs_open_share, samples
		  FROM f1tel.driver_laps) x;
SELECT count(*) AS "table minus view"
  FROM (SELECT session_key, meeting_key, driver_number, lap_number, date_start, lap_duration,
			   duration_sector_1, duration_sector_2, duration_sector_3, i1_speed, i2_speed,
			   st_speed, is_pit_out_lap, lap_end, position, name_acronym, full_name,
			   team_name, team_colour, stint_number, compound, tyre_age, pit_in,
			   pit_duration, gap_to_leader, "interval", gap_to_leader_laps,
			   interval_laps, air_temperature, track_temperature, rainfall, max_speed,
			   mean_throttle, full_throttle_share, brake_share, drs_open_share, samples
		  FROM f1tel.driver_laps
		EXCEPT ALL
		SELECT * FROM f1tel.driver_laps_v) x;

-- the triggers need a fresh snapshot per statement
\set VERBOSITY terse
BEGIN ISOLATION LEVEL REPEATABLE READ;
INSERT INTO f1tel.laps (session_key, driver_number, lap_number, date_start, lap_duration,
						src_topic, src_partition, src_offset)
VALUES (900009, 3, 1, '2031-05-01 12:00:00+00', 90, 'test', 0, 4);
ROLLBACK;
\set VERBOSITY default

-- leave nothing behind for later tests
DELETE FROM f1tel.laps WHERE session_key BETWEEN 900001 AND 900099;
DELETE FROM f1tel.position WHERE session_key BETWEEN 900001 AND 900099;
DELETE FROM f1tel.drivers WHERE session_key BETWEEN 900001 AND 900099;
DELETE FROM f1tel.stints WHERE session_key BETWEEN 900001 AND 900099;
DELETE FROM f1tel.pit WHERE session_key BETWEEN 900001 AND 900099;
DELETE FROM f1tel.intervals WHERE session_key BETWEEN 900001 AND 900099;
DELETE FROM f1tel.weather WHERE session_key BETWEEN 900001 AND 900099;
DELETE FROM f1tel.car_data WHERE session_key BETWEEN 900001 AND 900099;
DELETE FROM f1tel.driver_laps_deleted WHERE session_key BETWEEN 900001 AND 900099;
SELECT count(*) AS "rows left" FROM f1tel.driver_laps WHERE session_key BETWEEN 900001 AND 900099;
SELECT count(*) AS drift FROM f1tel.driver_laps_drift;
