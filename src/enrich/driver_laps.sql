/*
 * src/enrich/driver_laps.sql — the definition of f1tel.driver_laps: one row
 * per lap in f1tel.laps, joined with the driver's metadata and position, the
 * tyres, the pit stop, the gaps, the weather and the lap's telemetry.
 *
 * Rules a reader must know:
 *
 * - The join is written ONCE, in f1tel.driver_laps_compute(): the view
 *   f1tel.driver_laps_v calls it for every lap, and the triggers of
 *   triggers.sql call it for the few lap ranges a batch touched.  Change
 *   the join there and nowhere else.
 * - driver_laps_compute() must stay inlinable (LANGUAGE sql, STABLE, not
 *   STRICT, no SET clause, no SECURITY DEFINER): the planner then sees the
 *   caller's keys as index conditions, so the cost of a recomputation grows
 *   with the number of laps recomputed, not with the size of the tables.
 *   The caller's laps are selected in a subquery fenced with OFFSET 0: with
 *   more inputs joined than from_collapse_limit (8), the planner would
 *   otherwise join the caller's keys last, after computing every lap
 *   (test/t/020_enrich_order.pl checks the plan).
 * - Every SQL function of f1tel that must stay inlinable has a standard SQL
 *   body (BEGIN ATOMIC or RETURN), never a string: the body is parsed when
 *   CREATE EXTENSION runs, with its safe search_path, so every function and
 *   operator in it is bound then, and a function planted later in a schema
 *   of some caller's search_path (say public.lower(int8range)) can never be
 *   chosen instead.  The other functions SET search_path = pg_catalog,
 *   pg_temp.
 * - Every row of driver (session_key, driver_number) depends only on rows of
 *   laps, drivers, position, stints, pit, intervals and car_data with that
 *   same (session_key, driver_number), and on the weather rows of its
 *   session.  The locking protocol of triggers.sql relies on this: keep it so.
 * - f1tel.driver_laps is the table the triggers keep equal to the view (less
 *   version and updated_at); f1tel.driver_laps_drift shows any difference and
 *   must always be empty.
 */

-- position lookups by (session_key, driver_number, date) use the primary key of
-- f1tel.position; the latest session is found by the start of its newest lap.
CREATE INDEX laps_date_start_idx ON f1tel.laps (date_start, session_key);

/*
 * The join, for the laps p_lap_from..p_lap_to of one driver in one session:
 *
 * - driver columns from f1tel.drivers of the same (session_key, driver_number),
 *   NULL while unknown;
 * - lap_end = date_start + lap_duration seconds when both are known; else the
 *   date_start of the same driver's next lap (lap_number + 1); else date_start;
 *   else NULL.  A lap_duration that is not a finite number of seconds below
 *   10^7 (115 days) counts as unknown, so garbage cannot make the arithmetic
 *   fail and with it the ingest batch;
 * - position = the position of the driver's latest f1tel.position record whose
 *   date <= lap_end: the position held as the lap ended.  NULL when there is
 *   none or lap_end is NULL;
 * - stint_number, compound, tyre_age: from the driver's stint with lap_start
 *   <= lap_number <= lap_end (lap_end NULL: the stint is still running; of
 *   overlapping stints, the highest stint_number); tyre_age =
 *   tyre_age_at_start + lap_number - lap_start;
 * - pit_in: a pit record of the driver has this lap_number; pit_duration: its
 *   pit_duration, else its lane_duration (OpenF1 is replacing the first);
 * - gap_to_leader, interval (seconds) and gap_to_leader_laps, interval_laps
 *   ("+N LAP(S)"): the driver's latest intervals record dated <= lap_end;
 * - air_temperature, track_temperature, rainfall: the session's latest
 *   weather record dated <= lap_end (weather is per session, not per driver:
 *   see the locking rules of triggers.sql);
 * - telemetry of the car_data samples of the driver dated in [date_start,
 *   lap_end): samples (their number, 0 when none), max_speed, mean_throttle,
 *   full_throttle_share (throttle >= 98), brake_share (brake > 0) and
 *   drs_open_share (drs 10, 12 or 14: the flap open), each share over the
 *   samples where that channel is not null, NULL when there is none.
 *
 * The lap bounds are bigint so callers can widen a range by one lap without
 * overflow; the whole of a driver's laps is -2^31 .. 2^31-1.
 */
CREATE FUNCTION f1tel.driver_laps_compute(p_session_key integer,
										  p_driver_number integer,
										  p_lap_from bigint,
										  p_lap_to bigint)
RETURNS TABLE (
	session_key			integer,
	meeting_key			integer,
	driver_number		integer,
	lap_number			integer,
	date_start			timestamptz,
	lap_duration		double precision,
	duration_sector_1	double precision,
	duration_sector_2	double precision,
	duration_sector_3	double precision,
	i1_speed			integer,
	i2_speed			integer,
	st_speed			integer,
	is_pit_out_lap		boolean,
	lap_end				timestamptz,
	"position"			integer,
	name_acronym		text,
	full_name			text,
	team_name			text,
	team_colour			text,
	stint_number		integer,
	compound			text,
	tyre_age			integer,
	pit_in				boolean,
	pit_duration		double precision,
	gap_to_leader		double precision,
	"interval"			double precision,
	gap_to_leader_laps	integer,
	interval_laps		integer,
	air_temperature		double precision,
	track_temperature	double precision,
	rainfall			integer,
	max_speed			integer,
	mean_throttle		double precision,
	full_throttle_share	double precision,
	brake_share			double precision,
	drs_open_share		double precision,
	samples				integer)
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
	SELECT l.session_key, l.meeting_key, l.driver_number, l.lap_number,
		   l.date_start, l.lap_duration,
		   l.duration_sector_1, l.duration_sector_2, l.duration_sector_3,
		   l.i1_speed, l.i2_speed, l.st_speed, l.is_pit_out_lap,
		   l.lap_end,
		   (SELECT p.position
			  FROM f1tel.position p
			 WHERE p.session_key = l.session_key
			   AND p.driver_number = l.driver_number
			   AND p.date <= l.lap_end
			 ORDER BY p.date DESC
			 LIMIT 1),
		   l.name_acronym, l.full_name, l.team_name, l.team_colour,
		   st.stint_number, st.compound, st.tyre_age,
		   pt.lap_number IS NOT NULL,
		   coalesce(pt.pit_duration, pt.lane_duration),
		   iv.gap_to_leader, iv."interval", iv.gap_to_leader_laps, iv.interval_laps,
		   wx.air_temperature, wx.track_temperature, wx.rainfall,
		   tm.max_speed, tm.mean_throttle, tm.full_throttle_share,
		   tm.brake_share, tm.drs_open_share, tm.samples
	  -- the caller's laps, their lap_end and driver: a subquery kept apart
	  -- (OFFSET 0) so that its keys are the index condition of laps_pkey
	  -- however many inputs are joined below (beyond from_collapse_limit the
	  -- planner would otherwise join the caller's keys last, after computing
	  -- every lap of the table)
	  FROM (SELECT l0.*, d.name_acronym, d.full_name, d.team_name, d.team_colour,
				   CASE
					 WHEN l0.date_start IS NOT NULL
					  AND l0.lap_duration > -1e7 AND l0.lap_duration < 1e7
					 THEN l0.date_start + make_interval(secs => l0.lap_duration)
					 ELSE coalesce(nx.date_start, l0.date_start)
				   END AS lap_end
			  FROM f1tel.laps l0
			  LEFT JOIN f1tel.laps nx
				ON nx.session_key = l0.session_key
			   AND nx.driver_number = l0.driver_number
			   AND nx.lap_number = l0.lap_number::bigint + 1
			  LEFT JOIN f1tel.drivers d
				ON d.session_key = l0.session_key
			   AND d.driver_number = l0.driver_number
			 WHERE l0.session_key = p_session_key
			   AND l0.driver_number = p_driver_number
			   AND l0.lap_number BETWEEN p_lap_from AND p_lap_to
			OFFSET 0) l
	  LEFT JOIN f1tel.pit pt
		ON pt.session_key = l.session_key
	   AND pt.driver_number = l.driver_number
	   AND pt.lap_number = l.lap_number
	  LEFT JOIN LATERAL (
		SELECT s.stint_number, s.compound,
			   s.tyre_age_at_start + (l.lap_number - s.lap_start) AS tyre_age
		  FROM f1tel.stints s
		 WHERE s.session_key = l.session_key
		   AND s.driver_number = l.driver_number
		   AND s.lap_start <= l.lap_number
		   AND (s.lap_end IS NULL OR s.lap_end >= l.lap_number)
		 ORDER BY s.stint_number DESC
		 LIMIT 1) st ON true
	  LEFT JOIN LATERAL (
		SELECT i.gap_to_leader, i."interval", i.gap_to_leader_laps, i.interval_laps
		  FROM f1tel.intervals i
		 WHERE i.session_key = l.session_key
		   AND i.driver_number = l.driver_number
		   AND i.date <= l.lap_end
		 ORDER BY i.date DESC
		 LIMIT 1) iv ON true
	  LEFT JOIN LATERAL (
		SELECT w.air_temperature, w.track_temperature, w.rainfall
		  FROM f1tel.weather w
		 WHERE w.session_key = l.session_key
		   AND w.date <= l.lap_end
		 ORDER BY w.date DESC
		 LIMIT 1) wx ON true
	 CROSS JOIN LATERAL (
		-- exact integer counts and sums, one division: the same result in
		-- any scan order (a float avg() could differ in its last bit)
		SELECT max(c.speed) AS max_speed,
			   sum(c.throttle)::float8 / nullif(count(c.throttle), 0) AS mean_throttle,
			   count(*) FILTER (WHERE c.throttle >= 98)::float8
				 / nullif(count(c.throttle), 0) AS full_throttle_share,
			   count(*) FILTER (WHERE c.brake > 0)::float8
				 / nullif(count(c.brake), 0) AS brake_share,
			   count(*) FILTER (WHERE c.drs IN (10, 12, 14))::float8
				 / nullif(count(c.drs), 0) AS drs_open_share,
			   count(*)::integer AS samples
		  FROM f1tel.car_data c
		 WHERE c.session_key = l.session_key
		   AND c.driver_number = l.driver_number
		   AND c.date >= l.date_start
		   AND c.date < l.lap_end) tm;
END;

COMMENT ON FUNCTION f1tel.driver_laps_compute(integer, integer, bigint, bigint) IS
'The driver_laps join for laps p_lap_from..p_lap_to of one driver in one session: the single definition used by the view driver_laps_v and by the triggers.';

-- The definition: what f1tel.driver_laps must contain at every commit.  The
-- join runs once per driver over all the driver's laps (not once per lap: a
-- planner without statistics could then evaluate the per-lap subqueries, the
-- telemetry above all, once per pair of laps of a driver).
CREATE VIEW f1tel.driver_laps_v AS
SELECT c.*
  FROM (SELECT DISTINCT l.session_key, l.driver_number FROM f1tel.laps l) k
 CROSS JOIN LATERAL f1tel.driver_laps_compute(k.session_key, k.driver_number,
											  -2147483648, 2147483647) c;

COMMENT ON VIEW f1tel.driver_laps_v IS
'The definition of driver_laps (one row per lap, with lap_end, position, driver metadata, tyres, pit stop, gaps, weather and telemetry); f1tel.driver_laps is kept equal to it by triggers.';

/*
 * The enriched laps, kept equal to driver_laps_v by the triggers of
 * triggers.sql.  version is 1 when a row is first written and goes up by
 * one with every real change (and with a deletion), never repeating for a
 * key, so (key, version) names one row image forever: sinks build
 * deterministic BigQuery insertIds from it.
 */
CREATE TABLE f1tel.driver_laps (
	session_key			integer NOT NULL,
	meeting_key			integer,
	driver_number		integer NOT NULL,
	lap_number			integer NOT NULL,
	date_start			timestamptz,
	lap_duration		double precision,
	duration_sector_1	double precision,
	duration_sector_2	double precision,
	duration_sector_3	double precision,
	i1_speed			integer,
	i2_speed			integer,
	st_speed			integer,
	is_pit_out_lap		boolean,
	lap_end				timestamptz,
	position			integer,
	name_acronym		text,
	full_name			text,
	team_name			text,
	team_colour			text,
	version				bigint NOT NULL DEFAULT 1,
	updated_at			timestamptz NOT NULL DEFAULT now(),
	-- 0.2: after version and updated_at, where ALTER TABLE puts them on upgrade
	stint_number		integer,
	compound			text,
	tyre_age			integer,
	pit_in				boolean,
	pit_duration		double precision,
	gap_to_leader		double precision,
	"interval"			double precision,
	gap_to_leader_laps	integer,
	interval_laps		integer,
	air_temperature		double precision,
	track_temperature	double precision,
	rainfall			integer,
	max_speed			integer,
	mean_throttle		double precision,
	full_throttle_share	double precision,
	brake_share			double precision,
	drs_open_share		double precision,
	samples				integer,
	PRIMARY KEY (session_key, driver_number, lap_number)
);

-- The position trigger finds the laps a position record decides by lap_end.
CREATE INDEX driver_laps_lap_end_idx ON f1tel.driver_laps (session_key, driver_number, lap_end);

COMMENT ON TABLE f1tel.driver_laps IS
'Enriched laps, equal to the view driver_laps_v at every commit (maintained by triggers on laps, drivers, position, stints, pit, intervals, weather and car_data); version goes up by one with every real change.';
/* pg_dump keeps it: a restore continues the versions (and so the insertIds) */
SELECT pg_catalog.pg_extension_config_dump('f1tel.driver_laps', '');

/*
 * The last version of every deleted driver_laps row, so that a lap deleted and
 * later ingested again continues its version sequence instead of starting at
 * 1 again (a repeated (key, version) would be taken for a duplicate by
 * BigQuery's insertId de-duplication).  Only lap deletions write here.
 */
CREATE TABLE f1tel.driver_laps_deleted (
	session_key			integer NOT NULL,
	driver_number		integer NOT NULL,
	lap_number			integer NOT NULL,
	version				bigint NOT NULL,
	deleted_at			timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (session_key, driver_number, lap_number)
);
SELECT pg_catalog.pg_extension_config_dump('f1tel.driver_laps_deleted', '');

/*
 * The difference between driver_laps and its definition, both ways (EXCEPT
 * ALL): always empty unless the triggers were bypassed (for example with
 * session_replication_role = replica).  f1tel.driver_laps_refresh() repairs it.
 * It reads both whole relations: for checks and monitoring, not for a loop.
 */
CREATE VIEW f1tel.driver_laps_drift AS
SELECT 'missing'::text AS problem, m.*
  FROM (SELECT * FROM f1tel.driver_laps_v
		EXCEPT ALL
		SELECT session_key, meeting_key, driver_number, lap_number, date_start,
			   lap_duration, duration_sector_1, duration_sector_2,
			   duration_sector_3, i1_speed, i2_speed, st_speed, is_pit_out_lap,
			   lap_end, position, name_acronym, full_name, team_name, team_colour,
			   stint_number, compound, tyre_age, pit_in, pit_duration, gap_to_leader,
			   "interval", gap_to_leader_laps, interval_laps, air_temperature,
			   track_temperature, rainfall, max_speed, mean_throttle,
			   full_throttle_share, brake_share, drs_open_share, samples
		  FROM f1tel.driver_laps) m
UNION ALL
SELECT 'unexpected'::text, u.*
  FROM (SELECT session_key, meeting_key, driver_number, lap_number, date_start,
			   lap_duration, duration_sector_1, duration_sector_2,
			   duration_sector_3, i1_speed, i2_speed, st_speed, is_pit_out_lap,
			   lap_end, position, name_acronym, full_name, team_name, team_colour,
			   stint_number, compound, tyre_age, pit_in, pit_duration, gap_to_leader,
			   "interval", gap_to_leader_laps, interval_laps, air_temperature,
			   track_temperature, rainfall, max_speed, mean_throttle,
			   full_throttle_share, brake_share, drs_open_share, samples
		  FROM f1tel.driver_laps
		EXCEPT ALL
		SELECT * FROM f1tel.driver_laps_v) u;

COMMENT ON VIEW f1tel.driver_laps_drift IS
'Rows of driver_laps_v missing from driver_laps ("missing") and rows of driver_laps not in the view ("unexpected"); always empty.';
