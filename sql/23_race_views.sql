--
-- 23_race_views: the race views -- timing, strategy, pit_stops, weather_v,
-- championship, overtakes_v (src/enrich/race_views.sql).
--
-- Hand-written edge cases, not real data: race 900302 and its qualifying
-- 900301 (meeting 900390, in 2031), keys OpenF1 does not use.  The last laps
-- (lap 3; lap 2 for 81) give the sector flags: VER purple / green / none;
-- LEC purple by a tie with VER's earlier lap, green by a tie with his own
-- lap 2, none; HAM purple in sector 1 after VER's purple (which stays purple:
-- judged as VER's lap ended); PIA a NULL sector 1.  HAM has no position
-- record (his position comes from the laps), PIA is "+1 LAP" behind (decoded
-- by f1tel.ingest_message), his stint 2 is open and his pit stop has only a
-- lane_duration.  Driver 55 is in the championship with a drivers row of the
-- qualifying only; driver 99 overtaken without any drivers row.
--
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

INSERT INTO f1tel.meetings (meeting_key, meeting_name, location, country_name, year,
							src_topic, src_partition, src_offset)
VALUES (900390, 'Test Grand Prix', 'Testville', 'Nowhere', 2031, 'test', 0, 1);
INSERT INTO f1tel.sessions (session_key, meeting_key, session_name, session_type, date_start,
							date_end, year, src_topic, src_partition, src_offset)
VALUES (900301, 900390, 'Qualifying', 'Qualifying', '2031-05-10 12:00:00+00',
		'2031-05-10 13:00:00+00', 2031, 'test', 0, 1),
	   (900302, 900390, 'Race', 'Race', '2031-05-11 12:00:00+00', '2031-05-11 14:00:00+00',
		2031, 'test', 0, 2);
INSERT INTO f1tel.drivers (session_key, driver_number, meeting_key, name_acronym, full_name,
						   team_name, team_colour, src_topic, src_partition, src_offset)
VALUES (900302, 1, 900390, 'VER', 'Max VERSTAPPEN', 'Red Bull Racing', '3671C6', 'test', 0, 1),
	   (900302, 16, 900390, 'LEC', 'Charles LECLERC', 'Ferrari', 'E8002D', 'test', 0, 2),
	   (900302, 44, 900390, 'HAM', 'Lewis HAMILTON', 'Ferrari', 'E8002D', 'test', 0, 3),
	   (900302, 81, 900390, 'PIA', 'Oscar PIASTRI', 'McLaren', 'FF8000', 'test', 0, 4),
	   (900301, 55, 900390, 'SAI', 'Carlos SAINZ', 'Williams', '1868DB', 'test', 0, 5);
INSERT INTO f1tel.laps (session_key, driver_number, lap_number, meeting_key, date_start,
						lap_duration, duration_sector_1, duration_sector_2, duration_sector_3,
						src_topic, src_partition, src_offset)
VALUES (900302, 1, 1, 900390, '2031-05-11 12:00:00+00', 93.0, 31.5, 30.9, 30.6, 'test', 0, 1),
	   (900302, 1, 2, 900390, '2031-05-11 12:01:33+00', 92.0, 30.6, 30.6, 30.8, 'test', 0, 2),
	   (900302, 1, 3, 900390, '2031-05-11 12:03:05+00', 91.5, 30.0, 30.5, 31.0, 'test', 0, 3),
	   (900302, 16, 1, 900390, '2031-05-11 12:00:01+00', 93.5, 31.8, 31.0, 30.7, 'test', 0, 4),
	   (900302, 16, 2, 900390, '2031-05-11 12:01:34.5+00', 92.0, 30.8, 30.4, 30.8, 'test', 0, 5),
	   (900302, 16, 3, 900390, '2031-05-11 12:03:06.5+00', 91.3, 30.0, 30.4, 30.9, 'test', 0, 6),
	   (900302, 44, 1, 900390, '2031-05-11 12:00:02+00', 94.0, 32.0, 31.2, 30.8, 'test', 0, 7),
	   (900302, 44, 2, 900390, '2031-05-11 12:01:36+00', 92.5, 31.0, 30.2, 31.3, 'test', 0, 8),
	   (900302, 44, 3, 900390, '2031-05-11 12:03:08.5+00', 92.0, 29.9, 30.8, 31.3, 'test', 0, 9),
	   (900302, 81, 1, 900390, '2031-05-11 12:00:03+00', 100.0, 34.0, 33.0, 33.0, 'test', 0, 10),
	   (900302, 81, 2, 900390, '2031-05-11 12:01:43+00', 99.0, NULL, 33.5, 32.5, 'test', 0, 11),
	   (900302, 81, 3, 900390, '2031-05-11 12:03:22+00', NULL, 33.0, NULL, NULL, 'test', 0, 12);
-- HAM (44) has no position record
INSERT INTO f1tel.position (session_key, driver_number, date, meeting_key, position,
							src_topic, src_partition, src_offset)
VALUES (900302, 1, '2031-05-11 11:55:00+00', 900390, 2, 'test', 0, 1),
	   (900302, 16, '2031-05-11 11:55:00+00', 900390, 1, 'test', 0, 2),
	   (900302, 81, '2031-05-11 11:55:00+00', 900390, 3, 'test', 0, 3),
	   (900302, 1, '2031-05-11 12:02:00+00', 900390, 1, 'test', 0, 4),
	   (900302, 16, '2031-05-11 12:02:00+00', 900390, 2, 'test', 0, 5),
	   (900302, 81, '2031-05-11 12:02:30+00', 900390, 4, 'test', 0, 6);
-- the gaps as OpenF1 sends them: PIA "+1 LAP" behind, LEC's newer record wins
SELECT m.driver_number, r.rows_stored, r.dead_letter
  FROM (VALUES (16, '{"session_key": 900302, "meeting_key": 900390, "driver_number": 16, "date": "2031-05-11T12:03:06.5+00:00", "gap_to_leader": 1.5, "interval": 1.5}'),
			   (16, '{"session_key": 900302, "meeting_key": 900390, "driver_number": 16, "date": "2031-05-11T12:04:38+00:00", "gap_to_leader": 1.012, "interval": 1.012}'),
			   (1, '{"session_key": 900302, "meeting_key": 900390, "driver_number": 1, "date": "2031-05-11T12:04:37+00:00", "gap_to_leader": 0, "interval": 0}'),
			   (81, '{"session_key": 900302, "meeting_key": 900390, "driver_number": 81, "date": "2031-05-11T12:04:41+00:00", "gap_to_leader": "+1 LAP", "interval": 5.2}')) AS m(driver_number, payload)
 CROSS JOIN LATERAL f1tel.ingest_message((SELECT e.topic FROM f1tel.endpoints() e
											  WHERE e.endpoint = 'intervals' LIMIT 1),
											 m.payload) r
 ORDER BY m.driver_number;
-- VER pits on lap 2 (both durations), PIA on lap 1 (lane_duration only);
-- PIA's stint 2 is still running
INSERT INTO f1tel.pit (session_key, driver_number, lap_number, meeting_key, date, pit_duration,
					   lane_duration, stop_duration, src_topic, src_partition, src_offset)
VALUES (900302, 1, 2, 900390, '2031-05-11 12:03:00+00', 21.0, 20.9, 2.4, 'test', 0, 1),
	   (900302, 81, 1, 900390, '2031-05-11 12:01:40+00', NULL, 22.5, NULL, 'test', 0, 2);
INSERT INTO f1tel.stints (session_key, driver_number, stint_number, meeting_key, lap_start,
						  lap_end, compound, tyre_age_at_start, src_topic, src_partition, src_offset)
VALUES (900302, 1, 1, 900390, 1, 2, 'MEDIUM', 0, 'test', 0, 1),
	   (900302, 1, 2, 900390, 3, 3, 'HARD', 0, 'test', 0, 2),
	   (900302, 16, 1, 900390, 1, 3, 'MEDIUM', 2, 'test', 0, 3),
	   (900302, 81, 1, 900390, 1, 1, 'SOFT', 0, 'test', 0, 4),
	   (900302, 81, 2, 900390, 2, NULL, 'MEDIUM', 3, 'test', 0, 5);
INSERT INTO f1tel.weather (session_key, date, meeting_key, air_temperature, track_temperature,
						   humidity, pressure, rainfall, wind_direction, wind_speed,
						   src_topic, src_partition, src_offset)
VALUES (900302, '2031-05-11 12:00:00+00', 900390, 24.1, 38.5, 55.0, 1012.3, 0, 350, 2.5, 'test', 0, 1),
	   (900302, '2031-05-11 12:01:00+00', 900390, 23.9, 37.9, 61.0, 1012.1, 1, 100, 4.0, 'test', 0, 2);
INSERT INTO f1tel.overtakes (session_key, date, overtaking_driver_number, overtaken_driver_number,
							 meeting_key, position, src_topic, src_partition, src_offset)
VALUES (900302, '2031-05-11 12:02:00+00', 1, 16, 900390, 1, 'test', 0, 1),
	   (900302, '2031-05-11 12:03:30+00', 44, 99, 900390, 3, 'test', 0, 2);
INSERT INTO f1tel.championship_drivers (session_key, driver_number, meeting_key, points_start,
										points_current, position_start, position_current,
										src_topic, src_partition, src_offset)
VALUES (900302, 1, 900390, 100, 125, 1, 1, 'test', 0, 1),
	   (900302, 16, 900390, 80, 98, 3, 2, 'test', 0, 2),
	   (900302, 55, 900390, 90, 90, 2, 3, 'test', 0, 3);
INSERT INTO f1tel.championship_teams (session_key, team_name, meeting_key, points_start,
									  points_current, position_start, position_current,
									  src_topic, src_partition, src_offset)
VALUES (900302, 'Ferrari', 900390, 160, 178, 1, 2, 'test', 0, 1),
	   (900302, 'Red Bull Racing', 900390, 150, 180, 2, 1, 'test', 0, 2);
SELECT count(*) AS drift FROM f1tel.driver_laps_drift;

-- the tower, in its own order: HAM placed by the laps, PIA a lap down
SELECT position, position_source, driver_number, name_acronym, team_name, gap_to_leader,
	   gap_to_leader_laps, "interval", interval_laps, laps_completed, last_lap_number,
	   last_lap_duration, best_lap_number, best_lap_duration
  FROM f1tel.timing
 WHERE session_key = 900302;
-- the last lap's sectors and their colours, tyres and pit stops
SELECT driver_number, name_acronym, sector_1, sector_1_flag, sector_2, sector_2_flag,
	   sector_3, sector_3_flag, stint_number, compound, tyre_age, pit_stops
  FROM f1tel.timing
 WHERE session_key = 900302;
-- a qualifying driver with no lap: a row of his own, nothing known
SELECT position, position_source, driver_number, name_acronym, laps_completed, sector_1_flag,
	   pit_stops
  FROM f1tel.timing
 WHERE session_key = 900301;

-- strategy: PIA's stint 2 is open (counted to his latest lap, 3)
SELECT driver_number, name_acronym, stint_number, compound, lap_start, lap_end, open, laps,
	   tyre_age_at_start, tyre_age_at_end
  FROM f1tel.strategy
 WHERE session_key = 900302
 ORDER BY driver_number, stint_number;

-- pit stops: PIA's has a lane_duration only
SELECT driver_number, name_acronym, team_name, stop_number, lap_number, date::time, pit_duration,
	   lane_duration, stop_duration, lane_time, compound_before, compound_after
  FROM f1tel.pit_stops
 WHERE session_key = 900302
 ORDER BY driver_number, lap_number;

-- weather in readable units
SELECT session_name, meeting_name, date::time, air_temperature_c, track_temperature_c,
	   humidity_pct, pressure_hpa, rain, wind_speed_ms, wind_speed_kmh, wind_direction_deg,
	   wind_from
  FROM f1tel.weather_v
 WHERE session_key = 900302
 ORDER BY date;

-- championship: drivers and teams; SAI's name from the qualifying's drivers row
SELECT kind, position_current, points_current, position_start, points_start, change,
	   points_gained, driver_number, name_acronym, team_name, team_colour
  FROM f1tel.championship
 WHERE session_key = 900302
 ORDER BY kind, position_current;

-- overtakes: driver 99 has no drivers row
SELECT date::time, lap_number, position, overtaking_driver_number, overtaking_acronym,
	   overtaking_team, overtaken_driver_number, overtaken_acronym, overtaken_team
  FROM f1tel.overtakes_v
 WHERE session_key = 900302
 ORDER BY date;

-- f1tel_reader may read every one of them (footer.sql's GRANT ON ALL TABLES)
SELECT v AS view, has_table_privilege('f1tel_reader', 'f1tel.' || v, 'SELECT') AS reader_selects,
	   obj_description(('f1tel.' || v)::regclass, 'pg_class') IS NOT NULL AS commented
  FROM unnest(ARRAY['timing', 'strategy', 'pit_stops', 'weather_v', 'championship',
					'overtakes_v']) v;

-- leave nothing behind for later tests
DELETE FROM f1tel.laps WHERE session_key IN (900301, 900302);
DELETE FROM f1tel.position WHERE session_key IN (900301, 900302);
DELETE FROM f1tel.intervals WHERE session_key IN (900301, 900302);
DELETE FROM f1tel.pit WHERE session_key IN (900301, 900302);
DELETE FROM f1tel.stints WHERE session_key IN (900301, 900302);
DELETE FROM f1tel.weather WHERE session_key IN (900301, 900302);
DELETE FROM f1tel.overtakes WHERE session_key IN (900301, 900302);
DELETE FROM f1tel.championship_drivers WHERE session_key IN (900301, 900302);
DELETE FROM f1tel.championship_teams WHERE session_key IN (900301, 900302);
DELETE FROM f1tel.drivers WHERE session_key IN (900301, 900302);
DELETE FROM f1tel.sessions WHERE session_key IN (900301, 900302);
DELETE FROM f1tel.meetings WHERE meeting_key = 900390;
SELECT count(*) AS "rows left" FROM f1tel.driver_laps WHERE session_key IN (900301, 900302);
SELECT count(*) AS drift FROM f1tel.driver_laps_drift;
