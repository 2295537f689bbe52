/*
 * src/enrich/views.sql — views for people (psql) and dashboards (Grafana,
 * Looker): race control messages with the driver they name, the latest
 * session, a leaderboard, fastest laps and a lap chart.  README.md, section
 * "Enrichment and views", shows each with an example query and real output.
 *
 * Rules a reader must know: these are plain views over f1tel.driver_laps and
 * the staging tables, nothing is stored; a condition on session_key is pushed
 * down into every one of them, so "WHERE session_key = ..." reads one session
 * through the primary keys.  They order nothing: say ORDER BY.
 */

/*
 * Race control messages (the columns of the seed's BigQuery race_control
 * first) with scope, sector, lap_number, and the driver the message names:
 * the record's driver_number, or, when that is null, the first car the text
 * names ("CAR 11 (PER) TIME 2:45.405 DELETED ...", "... CARS 81 (PIA) AND 44
 * (HAM) ..."), with that driver's acronym from f1tel.drivers of the session.
 */
CREATE VIEW f1tel.race_control_v AS
SELECT rc.session_key,
	   rc.date,
	   rc.category,
	   rc.flag,
	   rc.message,
	   rc.scope,
	   rc.sector,
	   rc.lap_number,
	   n.driver_number,
	   d.name_acronym,
	   rc.meeting_key,
	   rc.id
  FROM f1tel.race_control rc
 CROSS JOIN LATERAL (
	SELECT coalesce(rc.driver_number,
					substring(rc.message FROM '(?:^|[^A-Z])CARS? ([0-9]{1,4}) \(')::integer)
		   AS driver_number) n
  LEFT JOIN f1tel.drivers d
	ON d.session_key = rc.session_key
   AND d.driver_number = n.driver_number;

COMMENT ON VIEW f1tel.race_control_v IS
'Race control messages with scope, sector, lap and the driver the message names (record field, or first "CAR n (ABC)" in the text) and the driver''s acronym.';

/*
 * The session with the latest data: the one whose newest lap started last
 * (max f1tel.laps.date_start; ties go to the higher session_key), with its
 * f1tel.sessions and f1tel.meetings details where known.  It is decided by
 * laps, not by sessions.date_start, so a session announced but not yet
 * running does not hide the one being raced.
 */
CREATE VIEW f1tel.latest_session AS
SELECT l.session_key,
	   coalesce(s.meeting_key, l.meeting_key) AS meeting_key,
	   s.session_name,
	   s.session_type,
	   m.meeting_name,
	   s.location,
	   s.circuit_short_name,
	   s.country_name,
	   s.year,
	   s.date_start,
	   s.date_end,
	   l.date_start AS last_lap_start
  FROM (SELECT laps.session_key, laps.meeting_key, laps.date_start
		  FROM f1tel.laps
		 WHERE laps.date_start IS NOT NULL
		 ORDER BY laps.date_start DESC, laps.session_key DESC
		 LIMIT 1) l
  LEFT JOIN f1tel.sessions s ON s.session_key = l.session_key
  LEFT JOIN f1tel.meetings m ON m.meeting_key = coalesce(s.meeting_key, l.meeting_key);

COMMENT ON VIEW f1tel.latest_session IS
'The session whose newest lap started last (by f1tel.laps.date_start), with its session and meeting details.';

-- driver_laps of the latest session: what the seed's BigQuery driver_laps held.
CREATE VIEW f1tel.driver_laps_latest_session AS
SELECT dl.*
  FROM f1tel.driver_laps dl
 WHERE dl.session_key = (SELECT ls.session_key FROM f1tel.latest_session ls);

COMMENT ON VIEW f1tel.driver_laps_latest_session IS
'f1tel.driver_laps restricted to f1tel.latest_session.';

/*
 * One row per session and driver (every driver with a drivers row or a lap):
 *
 * - position: of the driver's latest f1tel.position record (position_date);
 * - laps_completed: laps that ended, i.e. have a lap_duration or are followed
 *   by a later lap of the driver (a retired driver's unfinished last lap, and
 *   the lap row opened after the chequered flag, do not count);
 * - last_lap_*: the highest-numbered lap with a lap_duration;
 * - best_lap_*: the lowest lap_duration (the earlier lap on a tie).
 */
CREATE VIEW f1tel.leaderboard AS
WITH lap_stats AS (
	SELECT x.session_key,
		   x.driver_number,
		   count(*) FILTER (WHERE x.lap_duration IS NOT NULL
							   OR x.lap_number < x.last_lap) AS laps_completed,
		   (array_agg(x.lap_number ORDER BY x.lap_number DESC)
				FILTER (WHERE x.lap_duration IS NOT NULL))[1] AS last_lap_number,
		   (array_agg(x.lap_duration ORDER BY x.lap_number DESC)
				FILTER (WHERE x.lap_duration IS NOT NULL))[1] AS last_lap_duration,
		   (array_agg(x.lap_number ORDER BY x.lap_duration, x.lap_number)
				FILTER (WHERE x.lap_duration IS NOT NULL))[1] AS best_lap_number,
		   min(x.lap_duration) AS best_lap_duration
	  FROM (SELECT dl.session_key, dl.driver_number, dl.lap_number, dl.lap_duration,
				   max(dl.lap_number) OVER (PARTITION BY dl.session_key, dl.driver_number)
					   AS last_lap
			  FROM f1tel.driver_laps dl) x
	 GROUP BY x.session_key, x.driver_number
)
SELECT k.session_key,
	   p.position,
	   k.driver_number,
	   d.name_acronym,
	   d.full_name,
	   d.team_name,
	   d.team_colour,
	   coalesce(s.laps_completed, 0) AS laps_completed,
	   s.last_lap_number,
	   s.last_lap_duration,
	   s.best_lap_number,
	   s.best_lap_duration,
	   p.date AS position_date
  FROM (SELECT drivers.session_key, drivers.driver_number FROM f1tel.drivers
		UNION
		SELECT driver_laps.session_key, driver_laps.driver_number FROM f1tel.driver_laps) k
  LEFT JOIN lap_stats s
	ON s.session_key = k.session_key
   AND s.driver_number = k.driver_number
  LEFT JOIN f1tel.drivers d
	ON d.session_key = k.session_key
   AND d.driver_number = k.driver_number
  LEFT JOIN LATERAL (
	SELECT pos.position, pos.date
	  FROM f1tel.position pos
	 WHERE pos.session_key = k.session_key
	   AND pos.driver_number = k.driver_number
	 ORDER BY pos.date DESC
	 LIMIT 1) p ON true;

COMMENT ON VIEW f1tel.leaderboard IS
'Per session and driver: current position (latest position record), laps completed, last and best lap, name, team and team colour.';

/*
 * Each driver's fastest lap of each session (the earlier lap on a tie),
 * ranked within the session (rank 1 is the session's fastest lap; equal times
 * share a rank), with the gap to the fastest in seconds.
 */
CREATE VIEW f1tel.fastest_laps AS
SELECT b.session_key,
	   rank() OVER (PARTITION BY b.session_key ORDER BY b.lap_duration) AS rank,
	   b.driver_number,
	   b.name_acronym,
	   b.full_name,
	   b.team_name,
	   b.team_colour,
	   b.lap_number,
	   b.lap_duration,
	   round((b.lap_duration - min(b.lap_duration) OVER (PARTITION BY b.session_key))::numeric, 3)
		   AS gap_to_fastest,
	   b.duration_sector_1,
	   b.duration_sector_2,
	   b.duration_sector_3,
	   b.st_speed,
	   b.date_start
  FROM (SELECT DISTINCT ON (dl.session_key, dl.driver_number) dl.*
		  FROM f1tel.driver_laps dl
		 WHERE dl.lap_duration IS NOT NULL
		 ORDER BY dl.session_key, dl.driver_number, dl.lap_duration, dl.lap_number) b;

COMMENT ON VIEW f1tel.fastest_laps IS
'Each driver''s fastest lap per session, ranked within the session, with the gap to the fastest.';

-- Each driver's position at the end of each lap (NULL where no position
-- record decides it).
CREATE VIEW f1tel.lap_chart AS
SELECT dl.session_key,
	   dl.lap_number,
	   dl.driver_number,
	   dl.name_acronym,
	   dl.position,
	   dl.team_colour,
	   dl.lap_end
  FROM f1tel.driver_laps dl;

COMMENT ON VIEW f1tel.lap_chart IS
'Each driver''s position at the end of each lap (from driver_laps).';
