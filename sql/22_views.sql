--
-- 22_views: the views for psql and dashboards -- race_control_v,
-- latest_session, driver_laps_latest_session, leaderboard, fastest_laps,
-- lap_chart.
--
-- Hand-written edge cases, not real data: session keys 900201 and 900202
-- (in 2031, so 900201 is the latest session whatever real data other tests
-- loaded), which OpenF1 does not use.  Driver 44 has no drivers row and
-- retires on lap 2; driver 1's lap 4 is the lap opened after the flag.
--
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

INSERT INTO f1tel.meetings (meeting_key, meeting_name, location, country_name, year,
							src_topic, src_partition, src_offset)
VALUES (900300, 'Test Grand Prix', 'Testville', 'Nowhere', 2031, 'test', 0, 1);
INSERT INTO f1tel.sessions (session_key, meeting_key, session_name, session_type, date_start,
							date_end, location, circuit_short_name, country_name, year,
							src_topic, src_partition, src_offset)
VALUES (900201, 900300, 'Race', 'Race', '2031-05-01 12:00:00+00', '2031-05-01 14:00:00+00',
		'Testville', 'Test Ring', 'Nowhere', 2031, 'test', 0, 1),
	   (900202, 900300, 'Qualifying', 'Qualifying', '2031-04-30 12:00:00+00',
		'2031-04-30 13:00:00+00', 'Testville', 'Test Ring', 'Nowhere', 2031, 'test', 0, 2);
INSERT INTO f1tel.drivers (session_key, driver_number, meeting_key, name_acronym, full_name,
						   team_name, team_colour, src_topic, src_partition, src_offset)
VALUES (900201, 1, 900300, 'VER', 'Max VERSTAPPEN', 'Red Bull Racing', '3671C6', 'test', 0, 1),
	   (900201, 16, 900300, 'LEC', 'Charles LECLERC', 'Ferrari', 'E8002D', 'test', 0, 2),
	   (900202, 1, 900300, 'VER', 'Max VERSTAPPEN', 'Red Bull Racing', '3671C6', 'test', 0, 3);
INSERT INTO f1tel.laps (session_key, driver_number, lap_number, meeting_key, date_start,
						lap_duration, duration_sector_1, duration_sector_2, duration_sector_3,
						st_speed, src_topic, src_partition, src_offset)
VALUES (900201, 1, 1, 900300, '2031-05-01 12:00:00+00', 95.0, 33.0, 31.0, 31.0, 301, 'test', 0, 1),
	   (900201, 1, 2, 900300, '2031-05-01 12:01:35+00', 91.2, 30.2, 30.5, 30.5, 305, 'test', 0, 2),
	   (900201, 1, 3, 900300, '2031-05-01 12:03:06.2+00', 90.8, 30.1, 30.4, 30.3, 309, 'test', 0, 3),
	   (900201, 1, 4, 900300, '2031-05-01 12:04:37+00', NULL, NULL, NULL, NULL, NULL, 'test', 0, 4),
	   (900201, 16, 1, 900300, '2031-05-01 12:00:01+00', 95.5, 33.5, 31.0, 31.0, 299, 'test', 0, 5),
	   (900201, 16, 2, 900300, '2031-05-01 12:01:36.5+00', 90.8, 30.0, 30.4, 30.4, 307, 'test', 0, 6),
	   (900201, 16, 3, 900300, '2031-05-01 12:03:07.3+00', 91.0, 30.2, 30.4, 30.4, 306, 'test', 0, 7),
	   (900201, 44, 1, 900300, '2031-05-01 12:00:02+00', 96.0, 34.0, 31.0, 31.0, 298, 'test', 0, 8),
	   (900201, 44, 2, 900300, '2031-05-01 12:01:38+00', NULL, 31.0, NULL, NULL, NULL, 'test', 0, 9),
	   (900202, 1, 1, 900300, '2031-04-30 12:10:00+00', 88.0, 29.0, 29.5, 29.5, 310, 'test', 0, 10);
INSERT INTO f1tel.position (session_key, driver_number, date, meeting_key, position,
							src_topic, src_partition, src_offset)
VALUES (900201, 16, '2031-05-01 11:55:00+00', 900300, 1, 'test', 0, 1),
	   (900201, 1, '2031-05-01 11:55:00+00', 900300, 2, 'test', 0, 2),
	   (900201, 44, '2031-05-01 11:55:00+00', 900300, 3, 'test', 0, 3),
	   (900201, 1, '2031-05-01 12:01:20+00', 900300, 1, 'test', 0, 4),
	   (900201, 16, '2031-05-01 12:01:20+00', 900300, 2, 'test', 0, 5),
	   (900201, 16, '2031-05-01 12:03:00+00', 900300, 1, 'test', 0, 6),
	   (900201, 1, '2031-05-01 12:03:00+00', 900300, 2, 'test', 0, 7),
	   (900201, 16, '2031-05-01 12:04:30+00', 900300, 2, 'test', 0, 8),
	   (900201, 1, '2031-05-01 12:04:30+00', 900300, 1, 'test', 0, 9);
INSERT INTO f1tel.race_control (session_key, meeting_key, date, driver_number, lap_number, category,
								flag, scope, sector, message, src_topic, src_partition, src_offset)
VALUES (900201, 900300, '2031-05-01 11:58:00+00', NULL, 1, 'Flag', 'GREEN', 'Track', NULL,
		'GREEN LIGHT - PIT EXIT OPEN', 'test', 0, 1),
	   (900201, 900300, '2031-05-01 12:01:10+00', NULL, 1, 'Other', NULL, NULL, NULL,
		'TURN 1 INCIDENT INVOLVING CARS 1 (VER) AND 16 (LEC) NOTED - CAUSING A COLLISION', 'test', 0, 2),
	   (900201, 900300, '2031-05-01 12:02:00+00', NULL, 2, 'Other', NULL, NULL, NULL,
		'CAR 16 (LEC) TIME 1:35.500 DELETED - TRACK LIMITS AT TURN 4 LAP 1 12:01:00', 'test', 0, 3),
	   (900201, 900300, '2031-05-01 12:02:30+00', 44, 2, 'Flag', 'BLUE', 'Driver', NULL,
		'WAVED BLUE FLAG FOR CAR 44 (HAM) TIMED AT 12:02:30', 'test', 0, 4),
	   (900201, 900300, '2031-05-01 12:03:00+00', NULL, 2, 'Flag', 'YELLOW', 'Sector', 7,
		'YELLOW IN TRACK SECTOR 7', 'test', 0, 5);
SELECT count(*) AS drift FROM f1tel.driver_laps_drift;

-- race control, with the driver a message names
SELECT date::time, category, flag, scope, sector, lap_number, driver_number, name_acronym, message
  FROM f1tel.race_control_v
 WHERE session_key = 900201
 ORDER BY date;

-- the latest session: 900201, whose newest lap started last
SELECT * FROM f1tel.latest_session;
SELECT driver_number, lap_number, lap_duration, lap_end::time, position, name_acronym
  FROM f1tel.driver_laps_latest_session
 ORDER BY driver_number, lap_number;

-- leaderboard: driver 44 has no drivers row and stopped after lap 1; driver
-- 1's lap 4 (opened after the flag) does not count as completed
SELECT session_key, position, driver_number, name_acronym, team_name, team_colour,
	   laps_completed, last_lap_number, last_lap_duration, best_lap_number, best_lap_duration,
	   position_date::time
  FROM f1tel.leaderboard
 WHERE session_key IN (900201, 900202)
 ORDER BY session_key, position NULLS LAST, driver_number;

-- fastest laps: each driver's best lap, ranked within the session
SELECT session_key, rank, driver_number, name_acronym, lap_number, lap_duration, gap_to_fastest,
	   duration_sector_1, duration_sector_2, duration_sector_3, st_speed
  FROM f1tel.fastest_laps
 WHERE session_key IN (900201, 900202)
 ORDER BY session_key, rank, driver_number;

-- lap chart: positions at the end of each lap
SELECT lap_number, driver_number, name_acronym, position, lap_end::time
  FROM f1tel.lap_chart
 WHERE session_key = 900201
 ORDER BY lap_number, position NULLS LAST, driver_number;
-- ... or one column per driver
SELECT lap_number,
	   max(position) FILTER (WHERE driver_number = 1) AS "VER",
	   max(position) FILTER (WHERE driver_number = 16) AS "LEC",
	   max(position) FILTER (WHERE driver_number = 44) AS "#44"
  FROM f1tel.lap_chart
 WHERE session_key = 900201
 GROUP BY lap_number
 ORDER BY lap_number;

-- leave nothing behind for later tests
DELETE FROM f1tel.laps WHERE session_key IN (900201, 900202);
DELETE FROM f1tel.position WHERE session_key IN (900201, 900202);
DELETE FROM f1tel.drivers WHERE session_key IN (900201, 900202);
DELETE FROM f1tel.race_control WHERE session_key IN (900201, 900202);
DELETE FROM f1tel.sessions WHERE session_key IN (900201, 900202);
DELETE FROM f1tel.meetings WHERE meeting_key = 900300;
SELECT count(*) AS "rows left" FROM f1tel.driver_laps WHERE session_key IN (900201, 900202);
SELECT count(*) AS drift FROM f1tel.driver_laps_drift;
