--
-- 06_append_path: a batch's new telemetry rows go in by COPY (src/ingest/append.c),
-- the others by the upsert statement, and the tables end the same either way.
--
-- Hand-written edge cases, not real data: session 900601, which OpenF1 does
-- not use.  One JSON array is one message, hence one batch.  Within a
-- transaction, a row stored by the append path has the xmin of its
-- subtransaction, a row of the upsert the transaction's own: "copied" below.
--
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
CREATE TEMP VIEW cd AS
SELECT driver_number AS drv, to_char(date, 'HH24:MI:SS.MS') AS t, speed, src_offset AS off
  FROM f1tel.car_data WHERE session_key = 900601;
CREATE FUNCTION pg_temp.copied(x xid) RETURNS boolean LANGUAGE sql
	AS $$ SELECT x::text <> pg_current_xact_id()::text $$;
-- a lap of driver 1 from 12:00:00 to 12:01:30, for the telemetry trigger
SELECT * FROM f1tel.ingest_message('f1_laps', '{"session_key":900601,"meeting_key":1,"driver_number":1,"lap_number":1,"date_start":"2031-06-01T12:00:00+00:00","lap_duration":90}', 'k', 0, 1);
-- 1. new samples of two drivers, each in time order: all copied
BEGIN;
SELECT * FROM f1tel.ingest_message('f1_car_data', '[
 {"session_key":900601,"meeting_key":1,"driver_number":1,"date":"2031-06-01T12:00:10+00:00","speed":100},
 {"session_key":900601,"meeting_key":1,"driver_number":16,"date":"2031-06-01T12:00:10+00:00","speed":110},
 {"session_key":900601,"meeting_key":1,"driver_number":1,"date":"2031-06-01T12:00:20+00:00","speed":200},
 {"session_key":900601,"meeting_key":1,"driver_number":16,"date":"2031-06-01T12:00:20+00:00","speed":210}]', 'k', 0, 10);
SELECT c.driver_number AS drv, to_char(c.date, 'HH24:MI:SS') AS t, c.speed, c.src_offset AS off,
	   pg_temp.copied(c.xmin) AS copied
  FROM f1tel.car_data c WHERE session_key = 900601 ORDER BY 1, 2;
COMMIT;
-- the enrichment saw them: the lap's telemetry, driver_laps equal to its view
SELECT samples, max_speed FROM f1tel.driver_laps WHERE session_key = 900601;
SELECT count(*) AS drift FROM f1tel.driver_laps_drift;
-- 2. a late sample of driver 1 (before its latest) and a new one of driver 16:
--    driver 1's group takes the upsert, driver 16's is copied
BEGIN;
SELECT * FROM f1tel.ingest_message('f1_car_data', '[
 {"session_key":900601,"meeting_key":1,"driver_number":1,"date":"2031-06-01T12:00:15+00:00","speed":150},
 {"session_key":900601,"meeting_key":1,"driver_number":16,"date":"2031-06-01T12:00:30+00:00","speed":310}]', 'k', 0, 11);
SELECT c.driver_number AS drv, to_char(c.date, 'HH24:MI:SS') AS t, pg_temp.copied(c.xmin) AS copied
  FROM f1tel.car_data c WHERE session_key = 900601 AND src_offset = 11 ORDER BY 1, 2;
COMMIT;
SELECT samples, max_speed FROM f1tel.driver_laps WHERE session_key = 900601;
-- 3. the same key twice in one batch (not in increasing order): the upsert,
--    and the later message wins; a corrected value of a stored key replaces it
SELECT * FROM f1tel.ingest_message('f1_car_data', '[
 {"session_key":900601,"meeting_key":1,"driver_number":1,"date":"2031-06-01T12:00:40+00:00","speed":1},
 {"session_key":900601,"meeting_key":1,"driver_number":1,"date":"2031-06-01T12:00:40+00:00","speed":2},
 {"session_key":900601,"meeting_key":1,"driver_number":16,"date":"2031-06-01T12:00:10+00:00","speed":111}]', 'k', 0, 12);
-- 4. a replay of everything: nothing changes (the upsert path writes nothing)
CREATE TEMP TABLE before AS SELECT *, c.xmin::text AS x FROM f1tel.car_data c WHERE session_key = 900601;
SELECT * FROM f1tel.ingest_message('f1_car_data', '[
 {"session_key":900601,"meeting_key":1,"driver_number":1,"date":"2031-06-01T12:00:10+00:00","speed":100},
 {"session_key":900601,"meeting_key":1,"driver_number":16,"date":"2031-06-01T12:00:10+00:00","speed":111}]', 'k', 0, 10);
SELECT count(*) AS rewritten FROM f1tel.car_data c JOIN before b USING (session_key, driver_number, date)
 WHERE c.xmin::text <> b.x;
SELECT * FROM cd ORDER BY drv, t;
SELECT samples, max_speed FROM f1tel.driver_laps WHERE session_key = 900601;
SELECT count(*) AS drift FROM f1tel.driver_laps_drift;
-- 5. location and position take the path too; laps (not keyed by time) never
BEGIN;
SELECT * FROM f1tel.ingest_message('f1_location', '[
 {"session_key":900601,"meeting_key":1,"driver_number":1,"date":"2031-06-01T12:00:10+00:00","x":1,"y":2,"z":3}]', 'k', 0, 20);
SELECT * FROM f1tel.ingest_message('f1_position', '[
 {"session_key":900601,"meeting_key":1,"driver_number":1,"date":"2031-06-01T12:00:10+00:00","position":1}]', 'k', 0, 21);
SELECT * FROM f1tel.ingest_message('f1_laps', '[
 {"session_key":900601,"meeting_key":1,"driver_number":1,"lap_number":2,"date_start":"2031-06-01T12:01:30+00:00"}]', 'k', 0, 22);
SELECT 'location' AS t, pg_temp.copied(xmin) FROM f1tel.location WHERE session_key = 900601
UNION ALL SELECT 'position', pg_temp.copied(xmin) FROM f1tel.position WHERE session_key = 900601
UNION ALL SELECT 'laps', pg_temp.copied(xmin) FROM f1tel.laps WHERE session_key = 900601 AND lap_number = 2;
COMMIT;
-- 6. with f1tel.ingest_append_path off, new rows take the upsert
SET f1tel.ingest_append_path = off;
BEGIN;
SELECT * FROM f1tel.ingest_message('f1_car_data', '[
 {"session_key":900601,"meeting_key":1,"driver_number":1,"date":"2031-06-01T12:00:50+00:00","speed":500}]', 'k', 0, 13);
SELECT pg_temp.copied(xmin) FROM f1tel.car_data WHERE session_key = 900601 AND src_offset = 13;
COMMIT;
RESET f1tel.ingest_append_path;
SELECT count(*) AS drift FROM f1tel.driver_laps_drift;
DELETE FROM f1tel.laps WHERE session_key = 900601;
DELETE FROM f1tel.car_data WHERE session_key = 900601;
DELETE FROM f1tel.location WHERE session_key = 900601;
DELETE FROM f1tel.position WHERE session_key = 900601;
