/*
 * src/enrich/race_views.sql — views of the race for people (psql) and
 * dashboards: the timing tower of each session, the tyre strategy, the pit
 * stops, the weather in readable units, the championships and the overtakes.
 * README.md, section "Race views", shows each with an example query and real
 * output.
 *
 * Rules a reader must know: as in views.sql, these are plain views over
 * f1tel.driver_laps and the staging tables, nothing is stored, every name is
 * schema-qualified, and a condition on session_key is pushed down into each
 * of them (it reads one session through the primary keys).  Only
 * f1tel.timing orders its rows (by session and position, as a tower does);
 * the others order nothing: say ORDER BY.  Their SELECT privilege for
 * f1tel_reader comes from the GRANT ON ALL TABLES of src/shared/footer.sql,
 * which runs after this file.
 */

/*
 * The timing tower of each session as it stands: one row per driver of the
 * session (a drivers row or a lap), in the order of the tower.
 *
 * - position: of the driver's latest f1tel.position record (position_source
 *   'position').  driver_laps.position comes from those same records, so for
 *   a driver with none (9606 has none for its winner) no lap can stand in:
 *   the order of the laps does (position_source 'laps'): the rank, among the
 *   session's drivers, by laps completed (most first) and then by the end of
 *   the driver's last completed lap (earliest first).  That rank may equal a
 *   position another driver holds by record;
 * - gap_to_leader, interval (seconds) and gap_to_leader_laps, interval_laps
 *   (N of "+N LAP(S)"): the driver's latest f1tel.intervals record;
 * - laps_completed, last_lap_*, best_lap_*: as in f1tel.leaderboard (the last
 *   lap is the highest-numbered lap with a lap_duration, the best the lowest
 *   lap_duration, the earlier lap on a tie);
 * - sector_1..3 are the last lap's sector times and sector_1..3_flag their
 *   colour on a timing screen, judged "so far", i.e. as the last lap ended.
 *   The laps so far are the driver's own laps 1..last lap and the other
 *   drivers' laps with lap_end <= the last lap's lap_end (driver_laps.lap_end:
 *   date_start + lap_duration, else the next lap's start, else, for a lap
 *   not finished, its own start).  OpenF1 gives no time at which a sector
 *   ends, so a lap's sectors count from the lap's end.  The flag is
 *   'overall_best' (purple) when the time equals the best time of that
 *   sector over the laps so far (this lap included), else 'personal_best'
 *   (green) when it equals the best of the driver's own laps 1..last lap,
 *   else 'none'.  Equal times are equally best: a tie with an earlier lap,
 *   the driver's or another's, is purple (or green) too.  A NULL sector time
 *   has a NULL flag, and a NULL sector of another lap counts for nothing;
 * - stint_number, compound, tyre_age: of the driver's highest-numbered lap
 *   that lies in a stint (driver_laps), else of the driver's latest stint
 *   (tyre_age then its tyre_age_at_start);
 * - pit_stops: the number of the driver's f1tel.pit rows.
 */
CREATE VIEW f1tel.timing AS
WITH k AS (
	SELECT drivers.session_key, drivers.driver_number FROM f1tel.drivers
	UNION
	SELECT driver_laps.session_key, driver_laps.driver_number FROM f1tel.driver_laps
),
t AS (
	SELECT k.session_key,
		   k.driver_number,
		   p.position AS recorded_position,
		   p.date AS position_date,
		   coalesce(s.laps_completed, 0) AS laps_completed,
		   s.last_completed_end,
		   s.best_lap_number,
		   s.best_lap_duration,
		   s.stint_number AS lap_stint_number,
		   s.compound AS lap_compound,
		   s.tyre_age AS lap_tyre_age,
		   ll.lap_number AS last_lap_number,
		   ll.lap_duration AS last_lap_duration,
		   ll.lap_end AS last_lap_end,
		   ll.duration_sector_1,
		   ll.duration_sector_2,
		   ll.duration_sector_3
	  FROM k
	  LEFT JOIN LATERAL (
		SELECT pos.position, pos.date
		  FROM f1tel.position pos
		 WHERE pos.session_key = k.session_key
		   AND pos.driver_number = k.driver_number
		 ORDER BY pos.date DESC
		 LIMIT 1) p ON true
	  LEFT JOIN LATERAL (
		SELECT dl.lap_number, dl.lap_duration, dl.lap_end,
			   dl.duration_sector_1, dl.duration_sector_2, dl.duration_sector_3
		  FROM f1tel.driver_laps dl
		 WHERE dl.session_key = k.session_key
		   AND dl.driver_number = k.driver_number
		   AND dl.lap_duration IS NOT NULL
		 ORDER BY dl.lap_number DESC
		 LIMIT 1) ll ON true
	  LEFT JOIN LATERAL (
		SELECT count(*) FILTER (WHERE x.lap_duration IS NOT NULL
								 OR x.lap_number < x.last_lap) AS laps_completed,
			   max(x.lap_end) FILTER (WHERE x.lap_duration IS NOT NULL
									   OR x.lap_number < x.last_lap) AS last_completed_end,
			   (array_agg(x.lap_number ORDER BY x.lap_duration, x.lap_number)
					FILTER (WHERE x.lap_duration IS NOT NULL))[1] AS best_lap_number,
			   min(x.lap_duration) AS best_lap_duration,
			   (array_agg(x.stint_number ORDER BY x.lap_number DESC)
					FILTER (WHERE x.stint_number IS NOT NULL))[1] AS stint_number,
			   (array_agg(x.compound ORDER BY x.lap_number DESC)
					FILTER (WHERE x.stint_number IS NOT NULL))[1] AS compound,
			   (array_agg(x.tyre_age ORDER BY x.lap_number DESC)
					FILTER (WHERE x.stint_number IS NOT NULL))[1] AS tyre_age
		  FROM (SELECT dl.lap_number, dl.lap_duration, dl.lap_end,
					   dl.stint_number, dl.compound, dl.tyre_age,
					   max(dl.lap_number) OVER () AS last_lap
				  FROM f1tel.driver_laps dl
				 WHERE dl.session_key = k.session_key
				   AND dl.driver_number = k.driver_number) x) s ON true
),
r AS (
	SELECT t.*,
		   rank() OVER (PARTITION BY t.session_key
						ORDER BY t.laps_completed DESC, t.last_completed_end NULLS LAST)
			   AS laps_position
	  FROM t
)
SELECT t.session_key,
	   coalesce(t.recorded_position,
				CASE WHEN t.laps_completed > 0 THEN t.laps_position END) AS position,
	   CASE
		 WHEN t.recorded_position IS NOT NULL THEN 'position'
		 WHEN t.laps_completed > 0 THEN 'laps'
	   END AS position_source,
	   t.driver_number,
	   d.name_acronym,
	   d.full_name,
	   d.team_name,
	   d.team_colour,
	   iv.gap_to_leader,
	   iv.gap_to_leader_laps,
	   iv."interval",
	   iv.interval_laps,
	   t.laps_completed,
	   t.last_lap_number,
	   t.last_lap_duration,
	   t.best_lap_number,
	   t.best_lap_duration,
	   t.duration_sector_1 AS sector_1,
	   CASE
		 WHEN t.duration_sector_1 IS NULL THEN NULL
		 WHEN t.duration_sector_1 <= sb.overall_1 THEN 'overall_best'
		 WHEN t.duration_sector_1 <= sb.personal_1 THEN 'personal_best'
		 ELSE 'none'
	   END AS sector_1_flag,
	   t.duration_sector_2 AS sector_2,
	   CASE
		 WHEN t.duration_sector_2 IS NULL THEN NULL
		 WHEN t.duration_sector_2 <= sb.overall_2 THEN 'overall_best'
		 WHEN t.duration_sector_2 <= sb.personal_2 THEN 'personal_best'
		 ELSE 'none'
	   END AS sector_2_flag,
	   t.duration_sector_3 AS sector_3,
	   CASE
		 WHEN t.duration_sector_3 IS NULL THEN NULL
		 WHEN t.duration_sector_3 <= sb.overall_3 THEN 'overall_best'
		 WHEN t.duration_sector_3 <= sb.personal_3 THEN 'personal_best'
		 ELSE 'none'
	   END AS sector_3_flag,
	   coalesce(t.lap_stint_number, cs.stint_number) AS stint_number,
	   CASE WHEN t.lap_stint_number IS NOT NULL THEN t.lap_compound ELSE cs.compound END
		   AS compound,
	   CASE WHEN t.lap_stint_number IS NOT NULL THEN t.lap_tyre_age ELSE cs.tyre_age_at_start END
		   AS tyre_age,
	   (SELECT count(*)
		  FROM f1tel.pit pt
		 WHERE pt.session_key = t.session_key
		   AND pt.driver_number = t.driver_number) AS pit_stops,
	   t.position_date
  FROM r t
  LEFT JOIN f1tel.drivers d
	ON d.session_key = t.session_key
   AND d.driver_number = t.driver_number
  LEFT JOIN LATERAL (
	SELECT i.gap_to_leader, i.gap_to_leader_laps, i."interval", i.interval_laps
	  FROM f1tel.intervals i
	 WHERE i.session_key = t.session_key
	   AND i.driver_number = t.driver_number
	 ORDER BY i.date DESC
	 LIMIT 1) iv ON true
  LEFT JOIN LATERAL (
	SELECT st.stint_number, st.compound, st.tyre_age_at_start
	  FROM f1tel.stints st
	 WHERE st.session_key = t.session_key
	   AND st.driver_number = t.driver_number
	 ORDER BY st.stint_number DESC
	 LIMIT 1) cs ON true
  LEFT JOIN LATERAL (
	SELECT min(o.duration_sector_1) AS overall_1,
		   min(o.duration_sector_2) AS overall_2,
		   min(o.duration_sector_3) AS overall_3,
		   min(o.duration_sector_1) FILTER (WHERE o.driver_number = t.driver_number)
			   AS personal_1,
		   min(o.duration_sector_2) FILTER (WHERE o.driver_number = t.driver_number)
			   AS personal_2,
		   min(o.duration_sector_3) FILTER (WHERE o.driver_number = t.driver_number)
			   AS personal_3
	  FROM f1tel.driver_laps o
	 WHERE o.session_key = t.session_key
	   AND CASE
			 WHEN o.driver_number = t.driver_number THEN o.lap_number <= t.last_lap_number
			 ELSE o.lap_end <= t.last_lap_end
		   END
	   AND t.last_lap_number IS NOT NULL) sb ON true
 ORDER BY t.session_key, position NULLS LAST, t.driver_number;

COMMENT ON VIEW f1tel.timing IS
'The timing tower of each session as it stands: per driver the position, gap and interval, laps, last and best lap, the last lap''s sectors flagged overall_best / personal_best / none, tyres and pit stops; ordered by session and position.';

/*
 * One row per stint (f1tel.stints) with the driver's acronym.  lap_end is
 * NULL while the stint runs (open); laps and tyre_age_at_end then count to
 * the driver's highest lap number in f1tel.laps at or after lap_start (0 laps
 * and tyre_age_at_start when there is none yet):
 *   laps = last lap - lap_start + 1, tyre_age_at_end = tyre_age_at_start +
 *   last lap - lap_start (the tyre age on the stint's last lap, as
 *   driver_laps.tyre_age counts it).
 */
CREATE VIEW f1tel.strategy AS
SELECT s.session_key,
	   s.driver_number,
	   d.name_acronym,
	   d.team_name,
	   s.stint_number,
	   s.compound,
	   s.lap_start,
	   s.lap_end,
	   s.lap_end IS NULL AS open,
	   coalesce(e.last_lap - s.lap_start + 1, 0) AS laps,
	   s.tyre_age_at_start,
	   s.tyre_age_at_start + coalesce(e.last_lap - s.lap_start, 0) AS tyre_age_at_end,
	   s.meeting_key
  FROM f1tel.stints s
 CROSS JOIN LATERAL (
	SELECT coalesce(s.lap_end,
					(SELECT max(l.lap_number)
					   FROM f1tel.laps l
					  WHERE l.session_key = s.session_key
						AND l.driver_number = s.driver_number
						AND l.lap_number >= s.lap_start)) AS last_lap) e
  LEFT JOIN f1tel.drivers d
	ON d.session_key = s.session_key
   AND d.driver_number = s.driver_number;

COMMENT ON VIEW f1tel.strategy IS
'Stints per driver: compound, first and last lap (NULL while open), laps, tyre age at the start and at the end.';

/*
 * One row per pit stop (f1tel.pit: lap_number is the lap the car came in
 * on), numbered per driver (stop_number, by lap), with the compound of the
 * stint the car came in on (the driver's highest stint with lap_start <= the
 * lap) and of the one it went out on (the lowest stint with lap_start > the
 * lap); NULL where f1tel.stints does not tell.  pit_duration is OpenF1's pit
 * lane time (being retired), lane_duration its successor, stop_duration the
 * stationary time; lane_time is lane_duration, else pit_duration.
 */
CREATE VIEW f1tel.pit_stops AS
SELECT p.session_key,
	   p.driver_number,
	   d.name_acronym,
	   d.team_name,
	   row_number() OVER (PARTITION BY p.session_key, p.driver_number ORDER BY p.lap_number)
		   AS stop_number,
	   p.lap_number,
	   p.date,
	   p.pit_duration,
	   p.lane_duration,
	   p.stop_duration,
	   coalesce(p.lane_duration, p.pit_duration) AS lane_time,
	   (SELECT s.compound
		  FROM f1tel.stints s
		 WHERE s.session_key = p.session_key
		   AND s.driver_number = p.driver_number
		   AND s.lap_start <= p.lap_number
		 ORDER BY s.stint_number DESC
		 LIMIT 1) AS compound_before,
	   (SELECT s.compound
		  FROM f1tel.stints s
		 WHERE s.session_key = p.session_key
		   AND s.driver_number = p.driver_number
		   AND s.lap_start > p.lap_number
		 ORDER BY s.stint_number
		 LIMIT 1) AS compound_after,
	   p.meeting_key
  FROM f1tel.pit p
  LEFT JOIN f1tel.drivers d
	ON d.session_key = p.session_key
   AND d.driver_number = p.driver_number;

COMMENT ON VIEW f1tel.pit_stops IS
'Pit stops with driver, stop number, lap, pit lane and stationary times, and the compound before and after.';

/*
 * The weather records with the session and meeting they belong to, each
 * column named with its unit: °C, %, hPa (= mbar), m/s and km/h, degrees the
 * wind blows from and the 8-point compass direction of it; rain is OpenF1's
 * rainfall flag (0 / 1) as a boolean.
 */
CREATE VIEW f1tel.weather_v AS
SELECT w.session_key,
	   s.session_name,
	   m.meeting_name,
	   w.date,
	   w.air_temperature AS air_temperature_c,
	   w.track_temperature AS track_temperature_c,
	   w.humidity AS humidity_pct,
	   w.pressure AS pressure_hpa,
	   w.rainfall <> 0 AS rain,
	   w.wind_speed AS wind_speed_ms,
	   round((w.wind_speed * 3.6)::numeric, 1) AS wind_speed_kmh,
	   w.wind_direction AS wind_direction_deg,
	   (ARRAY['N', 'NE', 'E', 'SE', 'S', 'SW', 'W', 'NW'])
		   [floor((w.wind_direction + 22.5) / 45)::integer % 8 + 1] AS wind_from,
	   coalesce(s.meeting_key, w.meeting_key) AS meeting_key
  FROM f1tel.weather w
  LEFT JOIN f1tel.sessions s ON s.session_key = w.session_key
  LEFT JOIN f1tel.meetings m ON m.meeting_key = coalesce(s.meeting_key, w.meeting_key);

COMMENT ON VIEW f1tel.weather_v IS
'Weather per session with session and meeting names, in readable units (°C, %, hPa, m/s, km/h, compass direction).';

/*
 * The drivers' and the constructors' championship as of a session
 * (f1tel.championship_drivers and f1tel.championship_teams, OpenF1's
 * standings before (…_start) and after (…_current) that race), one row per
 * driver (kind 'driver') or team (kind 'team').  change is the places gained
 * (position_start - position_current: positive is up), points_gained the
 * points scored.  A driver's acronym, name and team come from his
 * f1tel.drivers row of that session, else of his latest session before it,
 * else of his latest at all; a team's colour from a drivers row of that team
 * in that session.
 */
CREATE VIEW f1tel.championship AS
SELECT 'driver' AS kind,
	   c.session_key,
	   c.position_current,
	   c.points_current,
	   c.position_start,
	   c.points_start,
	   c.position_start - c.position_current AS change,
	   c.points_current - c.points_start AS points_gained,
	   c.driver_number,
	   d.name_acronym,
	   d.full_name,
	   d.team_name,
	   d.team_colour,
	   c.meeting_key
  FROM f1tel.championship_drivers c
  LEFT JOIN LATERAL (
	SELECT dr.name_acronym, dr.full_name, dr.team_name, dr.team_colour
	  FROM f1tel.drivers dr
	 WHERE dr.driver_number = c.driver_number
	 ORDER BY dr.session_key = c.session_key DESC, dr.session_key <= c.session_key DESC,
			  dr.session_key DESC
	 LIMIT 1) d ON true
UNION ALL
SELECT 'team',
	   c.session_key,
	   c.position_current,
	   c.points_current,
	   c.position_start,
	   c.points_start,
	   c.position_start - c.position_current,
	   c.points_current - c.points_start,
	   NULL,
	   NULL,
	   NULL,
	   c.team_name,
	   (SELECT dr.team_colour
		  FROM f1tel.drivers dr
		 WHERE dr.session_key = c.session_key
		   AND dr.team_name = c.team_name
		   AND dr.team_colour IS NOT NULL
		 ORDER BY dr.driver_number
		 LIMIT 1),
	   c.meeting_key
  FROM f1tel.championship_teams c;

COMMENT ON VIEW f1tel.championship IS
'Drivers'' and constructors'' standings as of a session (kind driver / team): position and points before and after, places gained, with acronym, name, team and colour.';

/*
 * The overtakes (f1tel.overtakes) with the acronym and team of both drivers
 * (f1tel.drivers of the session), and lap_number, the overtaking driver's lap
 * under way at the time (his latest lap that started at or before it).
 */
CREATE VIEW f1tel.overtakes_v AS
SELECT o.session_key,
	   o.date,
	   (SELECT l.lap_number
		  FROM f1tel.laps l
		 WHERE l.session_key = o.session_key
		   AND l.driver_number = o.overtaking_driver_number
		   AND l.date_start <= o.date
		 ORDER BY l.lap_number DESC
		 LIMIT 1) AS lap_number,
	   o.position,
	   o.overtaking_driver_number,
	   a.name_acronym AS overtaking_acronym,
	   a.team_name AS overtaking_team,
	   o.overtaken_driver_number,
	   b.name_acronym AS overtaken_acronym,
	   b.team_name AS overtaken_team,
	   o.meeting_key
  FROM f1tel.overtakes o
  LEFT JOIN f1tel.drivers a
	ON a.session_key = o.session_key
   AND a.driver_number = o.overtaking_driver_number
  LEFT JOIN f1tel.drivers b
	ON b.session_key = o.session_key
   AND b.driver_number = o.overtaken_driver_number;

COMMENT ON VIEW f1tel.overtakes_v IS
'Overtakes with the acronym and team of the overtaking and the overtaken driver, and the overtaking driver''s lap.';
