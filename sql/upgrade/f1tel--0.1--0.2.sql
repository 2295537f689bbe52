/*
 * sql/upgrade/f1tel--0.1--0.2.sql — ALTER EXTENSION f1tel UPDATE from 0.1 to 0.2.
 *
 * 0.2 adds f1tel.library_version(): with the library checking the installed
 * version before its workers write, a user can see why they pause; and
 * f1tel.endpoints(), the endpoint table the decoder is built from; and the
 * comment of read_changes() now says how the sink reads; the sink's formulas
 * (insertId, message key) and its BigQuery schema are SQL functions, their
 * one home.  Every function binds its names at creation or runs with a
 * fixed search_path; the driver locks move to a space of their own; the
 * roles f1tel_reader and f1tel_admin and f1tel.replay_dead_letters() are
 * new, and nothing is EXECUTE to PUBLIC any more.  The tables, their data,
 * the offsets and the change feed are untouched.  test/t/070_upgrade.pl checks that a database
 * updated through this step equals a fresh install of 0.2.
 */
\echo Use "ALTER EXTENSION f1tel UPDATE TO '0.2'" to load this file. \quit

CREATE FUNCTION f1tel.library_version()
RETURNS text
LANGUAGE C STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'f1tel_library_version';
COMMENT ON FUNCTION f1tel.library_version() IS
'Version of the loaded f1tel library; the workers write only while it equals the extension''s version.';

/*
 * The endpoint table the decoder and the store are built from
 * (src/shared/endpoints.c), one row per column: which topic feeds which
 * staging table, and with what types, keys and ranges.
 */
CREATE FUNCTION f1tel.endpoints(OUT endpoint text, OUT topic text, OUT default_topic text,
								OUT ordinal integer, OUT column_name text, OUT column_type text,
								OUT is_key boolean, OUT not_null boolean,
								OUT min bigint, OUT max bigint)
RETURNS SETOF record
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'f1tel_endpoints';
COMMENT ON FUNCTION f1tel.endpoints() IS
'The endpoints f1tel ingests: per staging-table column, its topic (setting and default), type, key, nullability and range.';

COMMENT ON FUNCTION f1tel.read_changes(text, integer) IS
'Changes queued for a subscriber, oldest first, locked FOR UPDATE SKIP LOCKED until the transaction ends; acknowledge them with ack_changes() in the same transaction or, with a single reader per subscriber, in a later one.';

/*
 * What the sinks send for a change: the one home of these formulas.
 *
 * The insertId of a row version (BigQuery drops a row whose insertId it has
 * seen in the last minutes, so a change sent twice is stored once):
 * driver_laps:<session>:<driver>:<lap>:v<version>, or race_control:<md5 of
 * the record> (a race_control record is never updated).  STABLE, as format()
 * is: then the planner inlines both functions into the sink's query, which
 * calls them once per change.
 */
CREATE FUNCTION f1tel.sink_insert_id(table_name text, row_data jsonb, version bigint)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN CASE table_name
		   WHEN 'driver_laps' THEN format('driver_laps:%s:%s:%s:v%s', row_data ->> 'session_key',
										  row_data ->> 'driver_number', row_data ->> 'lap_number', version)
		   ELSE 'race_control:' || md5((row_data - 'id')::text)
	   END;
COMMENT ON FUNCTION f1tel.sink_insert_id(text, jsonb, bigint) IS
'The BigQuery insertId of a change: one per row version, so a change sent twice is stored once.';

/* The message key of a lap in the upsert topic (NULL: not for the topic). */
CREATE FUNCTION f1tel.sink_message_key(table_name text, row_data jsonb)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN CASE table_name
		   WHEN 'driver_laps' THEN jsonb_build_object('session_key', row_data -> 'session_key',
													  'driver_number', row_data -> 'driver_number',
													  'lap_number', row_data -> 'lap_number')::text
	   END;
COMMENT ON FUNCTION f1tel.sink_message_key(text, jsonb) IS
'The key of a driver_laps change in the upsert topic f1tel.enriched_topic: the lap''s natural key as JSON.';

/*
 * The BigQuery schema the sink creates its tables with (src/sink/bigquery.c),
 * so that SQL can check it against driver_laps and the race_control image
 * (sql/40_sink.sql) and users can create the tables themselves.
 */
CREATE FUNCTION f1tel.bigquery_schema(OUT table_name text, OUT ordinal integer, OUT field text,
									  OUT type text, OUT mode text)
RETURNS SETOF record
LANGUAGE C IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'f1tel_bigquery_schema';
COMMENT ON FUNCTION f1tel.bigquery_schema() IS
'The fields, types and modes of the BigQuery tables the sink creates (driver_laps, race_control).';

-- restore: what pg_dump keeps besides the staging tables, dead_letters and
-- kafka_offsets (0.1): the identity sequences, driver_laps and its deleted
-- versions, the change feed, the sink's state (test/t/080_dump_restore.pl)
SELECT pg_catalog.pg_extension_config_dump('f1tel.race_control_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.dead_letters_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.driver_laps', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.driver_laps_deleted', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.change_subscribers', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.changes', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.changes_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.change_queue', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.sink_dead_letters', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.sink_dead_letters_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.sink_status', '');
/* ---- ingest: environmental errors retry the batch (src/ingest/schema.sql) ---- */
ALTER TABLE f1tel.kafka_offsets ADD COLUMN retries integer NOT NULL DEFAULT 0;
CREATE OR REPLACE VIEW f1tel.ingest_status AS
SELECT o.group_id,
	   o.topic,
	   o.partition,
	   o.next_offset AS stored_offset,
	   o.high_watermark,
	   greatest(coalesce(o.high_watermark, 0) - coalesce(o.next_offset, 0), 0) AS lag,
	   o.rows_total AS rows,
	   o.dead_letters_total AS dead_letters,
	   o.last_error,
	   o.last_error_at,
	   o.last_batch_at,
	   o.retries
FROM f1tel.kafka_offsets o;

-- sink (issue 9, item 8): sink_status.state, change_backlog.status
ALTER TABLE f1tel.sink_status ADD COLUMN state text NOT NULL DEFAULT 'active';
COMMENT ON COLUMN f1tel.sink_status.state IS
'active, retrying (a failure it retries with back-off) or paused (refused for good: tries again after a reload or 10 minutes).';

/*
 * change_backlog (now in src/sink/schema.sql) with the status of each
 * subscriber: the sink's two are "disabled" while their setting is empty
 * (the sink drops such a subscriber and its queue when it starts or
 * reloads: until then the queue grows), else the sink's state
 * (sink_status.state); any other subscriber is "external".
 */
CREATE OR REPLACE VIEW f1tel.change_backlog AS
SELECT s.name AS subscriber,
	   count(c.id) AS pending,
	   min(c.changed_at) AS oldest_pending,
	   s.created_at AS subscribed_at,
	   CASE
		   WHEN s.name = 'bigquery' AND coalesce(pg_catalog.current_setting('f1tel.bigquery_project', true), '') = ''
			   THEN 'disabled'
		   WHEN s.name = 'kafka' AND coalesce(pg_catalog.current_setting('f1tel.enriched_topic', true), '') = ''
			   THEN 'disabled'
		   WHEN s.name IN ('bigquery', 'kafka')
			   THEN coalesce((SELECT st.state FROM f1tel.sink_status st WHERE st.sink = s.name), 'active')
		   ELSE 'external'
	   END AS status
  FROM f1tel.change_subscribers s
  LEFT JOIN f1tel.change_queue q ON q.subscriber = s.name
  LEFT JOIN f1tel.changes c ON c.id = q.change_id
 GROUP BY s.name, s.created_at;
COMMENT ON VIEW f1tel.change_backlog IS
'Per subscriber: changes queued and not acknowledged yet, when the oldest of them was made, and its status (active, retrying, paused, disabled, external).';

/*
 * Every OpenF1 endpoint, and a driver_laps that knows the race (issue 10):
 * ten staging tables (src/ingest/schema.sql), the driver_laps columns of
 * tyres, pit stops, gaps, weather and telemetry (src/enrich/driver_laps.sql;
 * its join returns more columns, so the function and the views on it are
 * made again), and the triggers of the new inputs (src/enrich/triggers.sql;
 * position moves to the generic asof_sync).  Copied from those files by
 * sql/upgrade/sync_0.2.py: change them there, then run it.
 */
/*
 * The gap of each car to the leader and to the car ahead, every few seconds in races.
 * gap_to_leader and interval are seconds; a car a lap or more behind has them NULL
 * and N in gap_to_leader_laps / interval_laps (OpenF1 writes "+N LAP(S)").
 */
CREATE TABLE f1tel.intervals (
	session_key				integer NOT NULL,
	driver_number			integer NOT NULL,
	date					timestamptz NOT NULL,
	meeting_key				integer,
	gap_to_leader			double precision,
	gap_to_leader_laps		integer,
	"interval"				double precision,
	interval_laps			integer,
	src_topic				text NOT NULL,
	src_partition			integer NOT NULL,
	src_offset				bigint NOT NULL,
	ingested_at				timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (session_key, driver_number, date)
);

/*
 * Pit stops: the lap the car came in on.  pit_duration (pit lane time, being retired
 * by OpenF1) is being replaced by lane_duration and stop_duration (stationary time).
 */
CREATE TABLE f1tel.pit (
	session_key				integer NOT NULL,
	driver_number			integer NOT NULL,
	lap_number				integer NOT NULL,
	meeting_key				integer,
	date					timestamptz,
	pit_duration			double precision,
	lane_duration			double precision,
	stop_duration			double precision,
	src_topic				text NOT NULL,
	src_partition			integer NOT NULL,
	src_offset				bigint NOT NULL,
	ingested_at				timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (session_key, driver_number, lap_number)
);

/*
 * Stints: laps lap_start..lap_end (NULL: still running) on one set of tyres.
 */
CREATE TABLE f1tel.stints (
	session_key				integer NOT NULL,
	driver_number			integer NOT NULL,
	stint_number			integer NOT NULL,
	meeting_key				integer,
	lap_start				integer,
	lap_end					integer,
	compound				text,
	tyre_age_at_start		integer,
	src_topic				text NOT NULL,
	src_partition			integer NOT NULL,
	src_offset				bigint NOT NULL,
	ingested_at				timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (session_key, driver_number, stint_number)
);

/*
 * The weather at the track, about once a minute (°C, %, mbar, m/s, degrees).
 */
CREATE TABLE f1tel.weather (
	session_key				integer NOT NULL,
	date					timestamptz NOT NULL,
	meeting_key				integer,
	air_temperature			double precision,
	track_temperature		double precision,
	humidity				double precision,
	pressure				double precision,
	rainfall				integer,
	wind_direction			integer,
	wind_speed				double precision,
	src_topic				text NOT NULL,
	src_partition			integer NOT NULL,
	src_offset				bigint NOT NULL,
	ingested_at				timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (session_key, date)
);

/*
 * The classification of a session.  In a race duration and gap_to_leader are
 * seconds (gap_to_leader_laps: N of "+N LAP(S)"); in qualifying OpenF1 gives
 * three values, Q1..Q3, kept in duration_q and gap_to_leader_q.
 */
CREATE TABLE f1tel.session_result (
	session_key				integer NOT NULL,
	driver_number			integer NOT NULL,
	meeting_key				integer,
	position				integer,
	number_of_laps			integer,
	dnf						boolean,
	dns						boolean,
	dsq						boolean,
	duration				double precision,
	duration_q				double precision[],
	gap_to_leader			double precision,
	gap_to_leader_laps		integer,
	gap_to_leader_q			double precision[],
	points					double precision,
	src_topic				text NOT NULL,
	src_partition			integer NOT NULL,
	src_offset				bigint NOT NULL,
	ingested_at				timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (session_key, driver_number)
);

/*
 * The starting grid.  OpenF1 files it under the qualifying session's key
 * (session_key is that session's, meeting_key the race's meeting).
 */
CREATE TABLE f1tel.starting_grid (
	session_key				integer NOT NULL,
	driver_number			integer NOT NULL,
	meeting_key				integer,
	position				integer,
	lap_duration			double precision,
	src_topic				text NOT NULL,
	src_partition			integer NOT NULL,
	src_offset				bigint NOT NULL,
	ingested_at				timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (session_key, driver_number)
);

/*
 * Overtakes: who passed whom, and the position gained.
 */
CREATE TABLE f1tel.overtakes (
	session_key				integer NOT NULL,
	date					timestamptz NOT NULL,
	overtaking_driver_number	integer NOT NULL,
	overtaken_driver_number	integer NOT NULL,
	meeting_key				integer,
	position				integer,
	src_topic				text NOT NULL,
	src_partition			integer NOT NULL,
	src_offset				bigint NOT NULL,
	ingested_at				timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (session_key, date, overtaking_driver_number, overtaken_driver_number)
);

/*
 * Team radio messages: where the recording is.
 */
CREATE TABLE f1tel.team_radio (
	session_key				integer NOT NULL,
	driver_number			integer NOT NULL,
	date					timestamptz NOT NULL,
	meeting_key				integer,
	recording_url			text,
	src_topic				text NOT NULL,
	src_partition			integer NOT NULL,
	src_offset				bigint NOT NULL,
	ingested_at				timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (session_key, driver_number, date)
);

/*
 * The drivers' championship before (…_start) and after (…_current) a race.
 */
CREATE TABLE f1tel.championship_drivers (
	session_key				integer NOT NULL,
	driver_number			integer NOT NULL,
	meeting_key				integer,
	points_start			double precision,
	points_current			double precision,
	position_start			integer,
	position_current		integer,
	src_topic				text NOT NULL,
	src_partition			integer NOT NULL,
	src_offset				bigint NOT NULL,
	ingested_at				timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (session_key, driver_number)
);

/*
 * The constructors' championship before (…_start) and after (…_current) a race.
 */
CREATE TABLE f1tel.championship_teams (
	session_key				integer NOT NULL,
	team_name				text NOT NULL,
	meeting_key				integer,
	points_start			double precision,
	points_current			double precision,
	position_start			integer,
	position_current		integer,
	src_topic				text NOT NULL,
	src_partition			integer NOT NULL,
	src_offset				bigint NOT NULL,
	ingested_at				timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (session_key, team_name)
);

SELECT pg_catalog.pg_extension_config_dump('f1tel.intervals', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.pit', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.stints', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.weather', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.session_result', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.starting_grid', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.overtakes', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.team_radio', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.championship_drivers', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.championship_teams', '');

ALTER TABLE f1tel.driver_laps ADD COLUMN stint_number		integer;
ALTER TABLE f1tel.driver_laps ADD COLUMN compound			text;
ALTER TABLE f1tel.driver_laps ADD COLUMN tyre_age			integer;
ALTER TABLE f1tel.driver_laps ADD COLUMN pit_in				boolean;
ALTER TABLE f1tel.driver_laps ADD COLUMN pit_duration		double precision;
ALTER TABLE f1tel.driver_laps ADD COLUMN gap_to_leader		double precision;
ALTER TABLE f1tel.driver_laps ADD COLUMN "interval"			double precision;
ALTER TABLE f1tel.driver_laps ADD COLUMN gap_to_leader_laps	integer;
ALTER TABLE f1tel.driver_laps ADD COLUMN interval_laps		integer;
ALTER TABLE f1tel.driver_laps ADD COLUMN air_temperature		double precision;
ALTER TABLE f1tel.driver_laps ADD COLUMN track_temperature	double precision;
ALTER TABLE f1tel.driver_laps ADD COLUMN rainfall			integer;
ALTER TABLE f1tel.driver_laps ADD COLUMN max_speed			integer;
ALTER TABLE f1tel.driver_laps ADD COLUMN mean_throttle		double precision;
ALTER TABLE f1tel.driver_laps ADD COLUMN full_throttle_share	double precision;
ALTER TABLE f1tel.driver_laps ADD COLUMN brake_share			double precision;
ALTER TABLE f1tel.driver_laps ADD COLUMN drs_open_share		double precision;
ALTER TABLE f1tel.driver_laps ADD COLUMN samples				integer;

DROP VIEW f1tel.driver_laps_drift;
DROP VIEW f1tel.driver_laps_v;
DROP FUNCTION f1tel.driver_laps_compute(integer, integer, bigint, bigint);
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

/*
 * Recomputes the laps in p_ranges (ranges may overlap: they are merged first),
 * writes the rows that differ, deletes the rows whose lap is gone when
 * p_deletions says laps may have been deleted, and records the changes in the
 * feed when there are subscribers.  Changed rows stream from one CTE to the
 * next, nothing is collected in memory.  Returns the number of rows written
 * or deleted.  The caller holds the advisory locks of the ranges' drivers.
 */
CREATE OR REPLACE FUNCTION f1tel.driver_laps_apply(p_ranges f1tel.lap_range[], p_deletions boolean)
RETURNS bigint
LANGUAGE plpgsql
-- planned for each batch with its real keys (the planner then knows how many
-- ranges there are and reads them through the indexes); a generic plan, which
-- "auto" may switch to after a large batch, guesses 10 and can choose to scan
-- small-to-medium tables whole, for as long as the plan stays cached
SET plan_cache_mode = force_custom_plan
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_ranges	f1tel.lap_range[];
	v_feed		boolean;
	v_written	bigint;
	v_gone		bigint := 0;
BEGIN
	IF coalesce(cardinality(p_ranges), 0) = 0 THEN
		RETURN 0;
	END IF;

	SELECT array_agg(ROW(m.session_key, m.driver_number,
						 coalesce(lower(m.r), -2147483648),
						 coalesce(upper(m.r) - 1, 2147483647))::f1tel.lap_range)
	  INTO v_ranges
	  FROM (SELECT x.session_key, x.driver_number,
				   unnest(range_agg(int8range(greatest(x.lap_from, -2147483648),
											  least(x.lap_to, 2147483647), '[]'))) AS r
			  FROM unnest(p_ranges) x
			 WHERE x.lap_from <= x.lap_to
			 GROUP BY x.session_key, x.driver_number) m;

	-- its own statement: the subscriber list is read in the next ones
	v_feed := f1tel.feed_active();

	WITH computed AS (
		SELECT c.*
		  FROM unnest(v_ranges) k
		 CROSS JOIN LATERAL f1tel.driver_laps_compute(k.session_key, k.driver_number,
													  k.lap_from, k.lap_to) c
	), written AS (
		INSERT INTO f1tel.driver_laps AS t
			(session_key, meeting_key, driver_number, lap_number, date_start,
			 lap_duration, duration_sector_1, duration_sector_2, duration_sector_3,
			 i1_speed, i2_speed, st_speed, is_pit_out_lap, lap_end, position,
			 name_acronym, full_name, team_name, team_colour,
			 stint_number, compound, tyre_age, pit_in, pit_duration,
			 gap_to_leader, "interval", gap_to_leader_laps, interval_laps,
			 air_temperature, track_temperature, rainfall, max_speed,
			 mean_throttle, full_throttle_share, brake_share, drs_open_share,
			 samples,
			 version, updated_at)
		SELECT c.session_key, c.meeting_key, c.driver_number, c.lap_number, c.date_start,
			   c.lap_duration, c.duration_sector_1, c.duration_sector_2, c.duration_sector_3,
			   c.i1_speed, c.i2_speed, c.st_speed, c.is_pit_out_lap, c.lap_end, c.position,
			   c.name_acronym, c.full_name, c.team_name, c.team_colour,
			   c.stint_number, c.compound, c.tyre_age, c.pit_in, c.pit_duration,
			   c.gap_to_leader, c."interval", c.gap_to_leader_laps,
			   c.interval_laps, c.air_temperature, c.track_temperature,
			   c.rainfall, c.max_speed, c.mean_throttle, c.full_throttle_share,
			   c.brake_share, c.drs_open_share, c.samples,
			   coalesce(del.version, 0) + 1, now()
		  FROM computed c
		  LEFT JOIN f1tel.driver_laps_deleted del
			ON del.session_key = c.session_key
		   AND del.driver_number = c.driver_number
		   AND del.lap_number = c.lap_number
		ON CONFLICT (session_key, driver_number, lap_number) DO UPDATE
		   SET meeting_key = excluded.meeting_key,
			   date_start = excluded.date_start,
			   lap_duration = excluded.lap_duration,
			   duration_sector_1 = excluded.duration_sector_1,
			   duration_sector_2 = excluded.duration_sector_2,
			   duration_sector_3 = excluded.duration_sector_3,
			   i1_speed = excluded.i1_speed,
			   i2_speed = excluded.i2_speed,
			   st_speed = excluded.st_speed,
			   is_pit_out_lap = excluded.is_pit_out_lap,
			   lap_end = excluded.lap_end,
			   position = excluded.position,
			   name_acronym = excluded.name_acronym,
			   full_name = excluded.full_name,
			   team_name = excluded.team_name,
			   team_colour = excluded.team_colour,
			   stint_number = excluded.stint_number,
			   compound = excluded.compound,
			   tyre_age = excluded.tyre_age,
			   pit_in = excluded.pit_in,
			   pit_duration = excluded.pit_duration,
			   gap_to_leader = excluded.gap_to_leader,
			   "interval" = excluded."interval",
			   gap_to_leader_laps = excluded.gap_to_leader_laps,
			   interval_laps = excluded.interval_laps,
			   air_temperature = excluded.air_temperature,
			   track_temperature = excluded.track_temperature,
			   rainfall = excluded.rainfall,
			   max_speed = excluded.max_speed,
			   mean_throttle = excluded.mean_throttle,
			   full_throttle_share = excluded.full_throttle_share,
			   brake_share = excluded.brake_share,
			   drs_open_share = excluded.drs_open_share,
			   samples = excluded.samples,
			   version = t.version + 1,
			   updated_at = excluded.updated_at
		 WHERE (t.meeting_key, t.date_start, t.lap_duration, t.duration_sector_1,
				t.duration_sector_2, t.duration_sector_3, t.i1_speed, t.i2_speed,
				t.st_speed, t.is_pit_out_lap, t.lap_end, t.position, t.name_acronym,
				t.full_name, t.team_name, t.team_colour,
				t.stint_number, t.compound, t.tyre_age, t.pit_in,
				t.pit_duration, t.gap_to_leader, t."interval",
				t.gap_to_leader_laps, t.interval_laps, t.air_temperature,
				t.track_temperature, t.rainfall, t.max_speed, t.mean_throttle,
				t.full_throttle_share, t.brake_share, t.drs_open_share,
				t.samples)
			   IS DISTINCT FROM
			   (excluded.meeting_key, excluded.date_start, excluded.lap_duration,
				excluded.duration_sector_1, excluded.duration_sector_2,
				excluded.duration_sector_3, excluded.i1_speed, excluded.i2_speed,
				excluded.st_speed, excluded.is_pit_out_lap, excluded.lap_end,
				excluded.position, excluded.name_acronym, excluded.full_name,
				excluded.team_name, excluded.team_colour,
				excluded.stint_number, excluded.compound, excluded.tyre_age,
				excluded.pit_in, excluded.pit_duration, excluded.gap_to_leader,
				excluded."interval", excluded.gap_to_leader_laps,
				excluded.interval_laps, excluded.air_temperature,
				excluded.track_temperature, excluded.rainfall,
				excluded.max_speed, excluded.mean_throttle,
				excluded.full_throttle_share, excluded.brake_share,
				excluded.drs_open_share, excluded.samples)
		RETURNING t
	), changes AS (
		INSERT INTO f1tel.changes (table_name, op, session_key, driver_number,
								   lap_number, version, row_data)
		SELECT 'driver_laps', 'upsert', (w.t).session_key, (w.t).driver_number,
			   (w.t).lap_number, (w.t).version, f1tel.driver_laps_image(w.t)
		  FROM written w
		 WHERE v_feed
		 ORDER BY (w.t).session_key, (w.t).driver_number, (w.t).lap_number
		RETURNING id
	), queued AS (
		INSERT INTO f1tel.change_queue (subscriber, change_id)
		SELECT s.name, c.id
		  FROM changes c CROSS JOIN f1tel.change_subscribers s
	)
	SELECT count(*) INTO v_written FROM written;

	IF p_deletions THEN
		WITH gone AS (
			DELETE FROM f1tel.driver_laps t
			 USING unnest(v_ranges) k
			 WHERE t.session_key = k.session_key
			   AND t.driver_number = k.driver_number
			   AND t.lap_number BETWEEN k.lap_from AND k.lap_to
			   AND NOT EXISTS (SELECT 1 FROM f1tel.laps l
								WHERE l.session_key = t.session_key
								  AND l.driver_number = t.driver_number
								  AND l.lap_number = t.lap_number)
			RETURNING t
		), tombstones AS (
			INSERT INTO f1tel.driver_laps_deleted AS del
				(session_key, driver_number, lap_number, version, deleted_at)
			SELECT (g.t).session_key, (g.t).driver_number, (g.t).lap_number,
				   (g.t).version + 1, now()
			  FROM gone g
			ON CONFLICT (session_key, driver_number, lap_number) DO UPDATE
			   SET version = excluded.version, deleted_at = excluded.deleted_at
		), changes AS (
			-- op 'delete': the last image, with the version and time of the deletion
			INSERT INTO f1tel.changes (table_name, op, session_key, driver_number,
									   lap_number, version, row_data)
			SELECT 'driver_laps', 'delete', (g.t).session_key, (g.t).driver_number,
				   (g.t).lap_number, (g.t).version + 1,
				   f1tel.driver_laps_image(g.t)
				   || jsonb_build_object('version', (g.t).version + 1,
										 'updated_at', f1tel.utc_text(now()))
			  FROM gone g
			 WHERE v_feed
			 ORDER BY (g.t).session_key, (g.t).driver_number, (g.t).lap_number
			RETURNING id
		), queued AS (
			INSERT INTO f1tel.change_queue (subscriber, change_id)
			SELECT s.name, c.id
			  FROM changes c CROSS JOIN f1tel.change_subscribers s
		)
		SELECT count(*) INTO v_gone FROM gone;
	END IF;

	RETURN v_written + v_gone;
END
$$;

DROP TRIGGER driver_laps_sync_insert ON f1tel.position;
DROP TRIGGER driver_laps_sync_update ON f1tel.position;
DROP TRIGGER driver_laps_sync_delete ON f1tel.position;
DROP TRIGGER driver_laps_sync_truncate ON f1tel.position;
DROP FUNCTION f1tel.position_sync();

/*
 * position, intervals and weather: the "latest record dated <= lap_end"
 * inputs (the table is the trigger's; TG_ARGV[0] is 'driver' when a record
 * decides its own driver's laps, 'session' when it decides every driver's of
 * its session).  The rows whose lap_end lies in [p, next) for every changed
 * record date p, where next is the date of the next record now (of the
 * driver, or of the session).  Proof that this is enough: if a lap's chosen
 * record changed from a to b, then b was inserted or updated (b in new_rows,
 * lap_end in [b, next(b))), or a was deleted and b is earlier (a in
 * old_rows, and no record lies in (a, lap_end] now, so lap_end is in
 * [a, next(a))).  The table name only ever comes from TG_TABLE_NAME, quoted.
 */
CREATE FUNCTION f1tel.asof_sync()
RETURNS trigger
LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_per_driver boolean := TG_ARGV[0] = 'driver';
	v_sessions	integer[];
	v_drivers	integer[];
	v_dates		timestamptz[];
	v_old_s		integer[];
	v_old_d		integer[];
	v_old_t		timestamptz[];
	v_ranges	f1tel.lap_range[];
BEGIN
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		IF v_per_driver THEN
			SELECT array_agg(n.session_key), array_agg(n.driver_number), array_agg(n.date)
			  INTO v_sessions, v_drivers, v_dates FROM new_rows n;
		ELSE
			SELECT array_agg(n.session_key), array_agg(n.date)
			  INTO v_sessions, v_dates FROM new_rows n;
		END IF;
	END IF;
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		IF v_per_driver THEN
			SELECT array_agg(o.session_key), array_agg(o.driver_number), array_agg(o.date)
			  INTO v_old_s, v_old_d, v_old_t FROM old_rows o;
		ELSE
			SELECT array_agg(o.session_key), array_agg(o.date)
			  INTO v_old_s, v_old_t FROM old_rows o;
		END IF;
		v_sessions := v_sessions || v_old_s;
		v_drivers := v_drivers || v_old_d;
		v_dates := v_dates || v_old_t;
	END IF;
	IF v_sessions IS NULL THEN
		RETURN NULL;
	END IF;

	IF v_per_driver THEN
		PERFORM f1tel.lock_drivers(v_sessions, v_drivers);
		-- a later statement: reads after the locks
		EXECUTE format($q$
			SELECT array_agg(ROW(dl.session_key, dl.driver_number,
								 dl.lap_number, dl.lap_number)::f1tel.lap_range)
			  FROM (SELECT DISTINCT u.s, u.d, u.t
					  FROM unnest($1, $2, $3) AS u(s, d, t)) c
			 CROSS JOIN LATERAL (
				SELECT min(p.date) AS next_date
				  FROM f1tel.%I p
				 WHERE p.session_key = c.s
				   AND p.driver_number = c.d
				   AND p.date > c.t) nx
			  JOIN f1tel.driver_laps dl
				ON dl.session_key = c.s
			   AND dl.driver_number = c.d
			   AND dl.lap_end >= c.t
			   AND dl.lap_end < coalesce(nx.next_date, 'infinity')$q$, TG_TABLE_NAME)
		  INTO v_ranges
		  USING v_sessions, v_drivers, v_dates;
	ELSE
		PERFORM f1tel.lock_drivers(NULL, NULL, v_sessions);
		EXECUTE format($q$
			SELECT array_agg(ROW(dl.session_key, dl.driver_number,
								 dl.lap_number, dl.lap_number)::f1tel.lap_range)
			  FROM (SELECT DISTINCT u.s, u.t
					  FROM unnest($1, $2) AS u(s, t)) c
			 CROSS JOIN LATERAL (
				SELECT min(p.date) AS next_date
				  FROM f1tel.%I p
				 WHERE p.session_key = c.s
				   AND p.date > c.t) nx
			  JOIN f1tel.driver_laps dl
				ON dl.session_key = c.s
			   AND dl.lap_end >= c.t
			   AND dl.lap_end < coalesce(nx.next_date, 'infinity')$q$, TG_TABLE_NAME)
		  INTO v_ranges
		  USING v_sessions, v_dates;
	END IF;

	PERFORM f1tel.driver_laps_apply(v_ranges, false);
	RETURN NULL;
END
$$;

/*
 * stints and pit: inputs that decide the laps lap_from..lap_to of their own
 * driver, given as two columns of the trigger's table (TG_ARGV[0] and [1]:
 * stints lap_start and lap_end, NULL meaning "to the end"; pit lap_number
 * twice).  Every lap in the range of a changed row, old or new, is
 * recomputed: a lap whose choice changed lies in one of them.
 */
CREATE FUNCTION f1tel.lap_ranges_sync()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_keys		f1tel.lap_range[];
	v_old		f1tel.lap_range[];
	-- %3$s is new_rows or old_rows, filled in below
	v_query		text := format($q$
		SELECT array_agg(ROW(r.session_key, r.driver_number, r.%1$I,
							 coalesce(r.%2$I, 2147483647))::f1tel.lap_range)
		  FROM %3$s r
		 WHERE r.%1$I IS NOT NULL$q$, TG_ARGV[0], TG_ARGV[1], '%s');
BEGIN
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		EXECUTE format(v_query, 'new_rows') INTO v_keys;
	END IF;
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		EXECUTE format(v_query, 'old_rows') INTO v_old;
		v_keys := v_keys || v_old;
	END IF;
	IF v_keys IS NULL THEN
		RETURN NULL;
	END IF;
	PERFORM f1tel.lock_drivers(ARRAY(SELECT k.session_key FROM unnest(v_keys) k),
							   ARRAY(SELECT k.driver_number FROM unnest(v_keys) k));
	PERFORM f1tel.driver_laps_apply(v_keys, false);
	RETURN NULL;
END
$$;

/*
 * car_data: a sample at t counts in the laps with date_start <= t < lap_end.
 * Per driver, the laps with lap_end > the earliest changed sample and
 * date_start <= the latest: one probe of driver_laps_lap_end_idx per driver
 * and statement, however many samples (car_data is ~99% of the messages).
 * date_start and lap_end are read from driver_laps, current under the
 * driver's lock (see asof_sync above).
 */
CREATE FUNCTION f1tel.car_data_sync()
RETURNS trigger
LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_sessions	integer[];
	v_drivers	integer[];
	v_first		timestamptz[];
	v_last		timestamptz[];
	v_ranges	f1tel.lap_range[];
BEGIN
	IF TG_OP = 'INSERT' THEN
		SELECT array_agg(x.s), array_agg(x.d), array_agg(x.lo), array_agg(x.hi)
		  INTO v_sessions, v_drivers, v_first, v_last
		  FROM (SELECT n.session_key AS s, n.driver_number AS d,
					   min(n.date) AS lo, max(n.date) AS hi
				  FROM new_rows n GROUP BY 1, 2) x;
	ELSIF TG_OP = 'UPDATE' THEN
		SELECT array_agg(x.s), array_agg(x.d), array_agg(x.lo), array_agg(x.hi)
		  INTO v_sessions, v_drivers, v_first, v_last
		  FROM (SELECT r.session_key AS s, r.driver_number AS d,
					   min(r.date) AS lo, max(r.date) AS hi
				  FROM (SELECT n.session_key, n.driver_number, n.date FROM new_rows n
						UNION ALL
						SELECT o.session_key, o.driver_number, o.date FROM old_rows o) r
				 GROUP BY 1, 2) x;
	ELSE
		SELECT array_agg(x.s), array_agg(x.d), array_agg(x.lo), array_agg(x.hi)
		  INTO v_sessions, v_drivers, v_first, v_last
		  FROM (SELECT o.session_key AS s, o.driver_number AS d,
					   min(o.date) AS lo, max(o.date) AS hi
				  FROM old_rows o GROUP BY 1, 2) x;
	END IF;
	IF v_sessions IS NULL THEN
		RETURN NULL;
	END IF;
	PERFORM f1tel.lock_drivers(v_sessions, v_drivers);

	-- a later statement: reads after the locks
	SELECT array_agg(ROW(dl.session_key, dl.driver_number,
						 dl.lap_number, dl.lap_number)::f1tel.lap_range)
	  INTO v_ranges
	  FROM unnest(v_sessions, v_drivers, v_first, v_last) AS c(s, d, lo, hi)
	  JOIN f1tel.driver_laps dl
		ON dl.session_key = c.s
	   AND dl.driver_number = c.d
	   AND dl.lap_end > c.lo
	   AND dl.date_start <= c.hi;

	PERFORM f1tel.driver_laps_apply(v_ranges, false);
	RETURN NULL;
END
$$;

/*
 * Every input of driver_laps gets the same four statement-level triggers:
 * insert, update and delete hand their transition tables to the input's
 * sync function (with its arguments); TRUNCATE (no transition table)
 * refuses to leave driver_laps stale.  One rule for all inputs, so a new
 * input cannot miss one.
 */
DO $$
DECLARE
	input		record;
BEGIN
	FOR input IN
		SELECT * FROM (VALUES ('position', 'asof_sync', '''driver'''),
							  ('intervals', 'asof_sync', '''driver'''),
							  ('weather', 'asof_sync', '''session'''),
							  ('stints', 'lap_ranges_sync', '''lap_start'', ''lap_end'''),
							  ('pit', 'lap_ranges_sync', '''lap_number'', ''lap_number'''),
							  ('car_data', 'car_data_sync', '')) AS i(tbl, fn, args)
	LOOP
		EXECUTE format('CREATE TRIGGER driver_laps_sync_insert AFTER INSERT ON f1tel.%I'
					   ' REFERENCING NEW TABLE AS new_rows'
					   ' FOR EACH STATEMENT EXECUTE FUNCTION f1tel.%I(%s)', input.tbl, input.fn, input.args);
		EXECUTE format('CREATE TRIGGER driver_laps_sync_update AFTER UPDATE ON f1tel.%I'
					   ' REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows'
					   ' FOR EACH STATEMENT EXECUTE FUNCTION f1tel.%I(%s)', input.tbl, input.fn, input.args);
		EXECUTE format('CREATE TRIGGER driver_laps_sync_delete AFTER DELETE ON f1tel.%I'
					   ' REFERENCING OLD TABLE AS old_rows'
					   ' FOR EACH STATEMENT EXECUTE FUNCTION f1tel.%I(%s)', input.tbl, input.fn, input.args);
		EXECUTE format('CREATE TRIGGER driver_laps_sync_truncate AFTER TRUNCATE ON f1tel.%I'
					   ' FOR EACH STATEMENT EXECUTE FUNCTION f1tel.staging_truncated()', input.tbl);
	END LOOP;
END
$$;

COMMENT ON TABLE f1tel.driver_laps IS
'Enriched laps, equal to the view driver_laps_v at every commit (maintained by triggers on laps, drivers, position, stints, pit, intervals, weather and car_data); version goes up by one with every real change.';

CREATE OR REPLACE VIEW f1tel.driver_laps_latest_session AS
SELECT dl.*
  FROM f1tel.driver_laps dl
 WHERE dl.session_key = (SELECT ls.session_key FROM f1tel.latest_session ls);

CREATE OR REPLACE VIEW f1tel.fastest_laps AS
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

/* the race views (src/enrich/race_views.sql) */
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

/*
 * Security (issue 9): names bound at creation or a fixed search_path in every
 * function, the driver locks in a space of their own with a bounded wait,
 * the roles f1tel_reader and f1tel_admin, nothing EXECUTE to PUBLIC, and
 * f1tel.replay_dead_letters().
 */

CREATE OR REPLACE FUNCTION f1tel.utc_text(ts timestamptz)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"');

CREATE OR REPLACE FUNCTION f1tel.driver_laps_image(r f1tel.driver_laps)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
RETURN to_jsonb(r)
	|| jsonb_build_object('date_start', f1tel.utc_text(r.date_start),
						  'lap_end', f1tel.utc_text(r.lap_end),
						  'updated_at', f1tel.utc_text(r.updated_at));

CREATE OR REPLACE FUNCTION f1tel.race_control_image(r f1tel.race_control)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
RETURN jsonb_build_object('id', r.id,
						  'session_key', r.session_key,
						  'meeting_key', r.meeting_key,
						  'date', f1tel.utc_text(r.date),
						  'driver_number', r.driver_number,
						  'lap_number', r.lap_number,
						  'sector', r.sector,
						  'category', r.category,
						  'flag', r.flag,
						  'scope', r.scope,
						  'message', r.message);

-- f1tel.driver_laps_compute: made again above (issue 10), with its names bound

/*
 * The advisory locks of the drivers live in a space of their own: the
 * two-key form, the first key being f1tel's extension OID in this database
 * (as an integer: OIDs above 2^31 wrap), the second a hash of (session_key,
 * driver_number).  So pg_advisory_lock(9189, 44) in some application locks
 * nothing of f1tel's; and two drivers sharing a hash only share a lock, which
 * costs concurrency, never correctness.  pg_locks shows a driver lock as
 * locktype 'advisory', classid = the extension's OID, objsubid 2.
 */
CREATE FUNCTION f1tel.lock_class()
RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
RETURN (SELECT (e.oid::bigint - CASE WHEN e.oid::bigint >= 2147483648 THEN 4294967296 ELSE 0 END)::integer
		  FROM pg_catalog.pg_extension e
		 WHERE e.extname = 'f1tel');

CREATE FUNCTION f1tel.driver_lock_key(p_session_key integer, p_driver_number integer)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN hashint8((p_session_key::bigint << 32) | (p_driver_number::bigint & 4294967295));

DROP FUNCTION f1tel.lock_drivers(integer[], integer[]);

/*
 * The lock of a whole session: the one-key (bigint) form, the high half
 * f1tel's lock class, the low half the session_key, so pg_locks shows it as
 * locktype 'advisory', classid = the extension's OID, objid = the
 * session_key, objsubid 1.  Every writer of a driver's rows holds it shared;
 * a writer of rows that decide every driver of the session (weather) holds
 * it exclusive.
 */
CREATE FUNCTION f1tel.session_lock_key(p_session_key integer)
RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
RETURN ((f1tel.lock_class()::bigint & 4294967295) << 32) | (p_session_key::bigint & 4294967295);

/*
 * Takes the enrichment's advisory locks: first the lock of every session
 * involved, in session order, exclusive for the sessions in
 * p_whole_sessions and shared for the other sessions of the drivers; then
 * the lock of every distinct (session_key, driver_number), in key order.
 * One order for every writer, so no two writers can deadlock on them --
 * provided a transaction asks for all of them at once: one that holds a
 * driver lock and then wants its session exclusive can deadlock with
 * another writer (PostgreSQL then aborts one of them; the ingest worker
 * takes all its locks first, src/ingest/store.c).  The caller must read in
 * a later statement.  A lock another transaction holds is waited for at
 * most f1tel.lock_wait_timeout (0: forever); then the error (SQLSTATE 55P03,
 * lock_not_available: the ingest worker retries the batch and shows the
 * error in f1tel.ingest_status) names the sessions that hold it.
 */
CREATE FUNCTION f1tel.lock_drivers(p_session_keys integer[], p_driver_numbers integer[],
								   p_whole_sessions integer[] DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_class		integer := f1tel.lock_class();
	v_old		text;
	v_holders	text;
	v_what		text;
	k			record;
BEGIN
	PERFORM f1tel.require_read_committed();
	FOR k IN
		-- sessions first (kind 1; exclusive before shared of one session
		-- cannot happen: a session is in one list or taken exclusive), then
		-- drivers (kind 2)
		SELECT 1 AS kind, f1tel.session_lock_key(x.s) AS key64, 0 AS key, x.s, NULL::integer AS d,
			   bool_or(x.whole) AS exclusive
		  FROM (SELECT u.s, false AS whole FROM unnest(p_session_keys) AS u(s)
				UNION ALL
				SELECT w.s, true FROM unnest(p_whole_sessions) AS w(s)) x
		 WHERE x.s IS NOT NULL
		 GROUP BY x.s
		UNION ALL
		SELECT DISTINCT 2, 0::bigint, f1tel.driver_lock_key(u.s, u.d), u.s, u.d, true
		  FROM unnest(p_session_keys, p_driver_numbers) AS u(s, d)
		 WHERE u.s IS NOT NULL AND u.d IS NOT NULL
		 ORDER BY 1, 2, 3, 4, 5
	LOOP
		IF k.kind = 1 THEN
			CONTINUE WHEN CASE WHEN k.exclusive THEN pg_try_advisory_xact_lock(k.key64)
							   ELSE pg_try_advisory_xact_lock_shared(k.key64) END;
		ELSE
			CONTINUE WHEN pg_try_advisory_xact_lock(v_class, k.key);
		END IF;
		-- contended: wait, bounded (a subtransaction, on this path only)
		v_old := current_setting('lock_timeout');
		BEGIN
			PERFORM set_config('lock_timeout', current_setting('f1tel.lock_wait_timeout'), true);
			IF k.kind = 2 THEN
				PERFORM pg_advisory_xact_lock(v_class, k.key);
			ELSIF k.exclusive THEN
				PERFORM pg_advisory_xact_lock(k.key64);
			ELSE
				PERFORM pg_advisory_xact_lock_shared(k.key64);
			END IF;
			PERFORM set_config('lock_timeout', v_old, true);
		EXCEPTION WHEN lock_not_available THEN
			SELECT string_agg(format('pid %s (user %s, application "%s", %s since %s)',
									 a.pid, a.usename, a.application_name, a.state,
									 coalesce(a.xact_start, a.backend_start)),
							  ', ' ORDER BY a.pid)
			  INTO v_holders
			  FROM pg_locks l
			  JOIN pg_stat_activity a ON a.pid = l.pid
			 WHERE l.locktype = 'advisory'
			   AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
			   AND l.classid::bigint = (v_class::bigint & 4294967295)
			   AND l.objid::bigint = CASE WHEN k.kind = 2 THEN k.key::bigint & 4294967295
										  ELSE k.s::bigint & 4294967295 END
			   AND l.objsubid = CASE WHEN k.kind = 2 THEN 2 ELSE 1 END
			   AND l.granted
			   AND l.pid <> pg_backend_pid();
			v_what := CASE WHEN k.kind = 2 THEN format('session %s, driver %s', k.s, k.d)
						   ELSE format('session %s (all its drivers)', k.s) END;
			-- the holder in the message itself: it is what f1tel.ingest_status shows
			RAISE EXCEPTION 'f1tel: waited % for the lock of %, held by %',
				current_setting('f1tel.lock_wait_timeout'), v_what,
				coalesce(v_holders, 'a transaction that has ended since')
				USING ERRCODE = 'lock_not_available',
					  DETAIL = 'Every f1tel writer of a driver''s rows takes this lock; it is held until the holder''s transaction ends.',
					  HINT = 'Only f1tel takes these locks (pg_locks: locktype advisory, classid = the f1tel extension''s OID); end that transaction.  The ingest worker retries the batch.';
		END;
	END LOOP;
END
$$;

ALTER FUNCTION f1tel.require_read_committed() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION f1tel.feed_active() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION f1tel.subscribe(text) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION f1tel.read_changes(text, integer) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION f1tel.ack_changes(text, bigint[]) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION f1tel.unsubscribe(text) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION f1tel.driver_laps_apply(f1tel.lap_range[], boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION f1tel.driver_laps_refresh(integer) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION f1tel.laps_sync() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION f1tel.drivers_sync() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION f1tel.staging_truncated() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION f1tel.race_control_emit() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION f1tel.ingest_message(text, bytea, bytea, integer, bigint) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION f1tel.reset_offset(text, integer, bigint, text) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION f1tel.restart_workers() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;


/*
 * Feeds dead letters (all of them, or those with the given ids) through
 * f1tel.ingest_message() again, oldest first, once their cause is fixed (a
 * newer f1tel, a larger f1tel.max_message_bytes, a corrected producer).  Each
 * one replayed leaves f1tel.dead_letters; one that fails again comes back as
 * a new row with today's reason.  Returns how many were replayed and how
 * many of them failed again.
 */
CREATE FUNCTION f1tel.replay_dead_letters(ids bigint[] DEFAULT NULL,
										  OUT replayed bigint, OUT failed bigint)
RETURNS record
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	d			record;
	r			record;
BEGIN
	replayed := 0;
	failed := 0;
	FOR d IN
		SELECT x.id, x.topic, x.partition, x."offset", x.key, x.payload
		  FROM f1tel.dead_letters x
		 WHERE ids IS NULL OR x.id = ANY (ids)
		 ORDER BY x.id
		   FOR UPDATE
	LOOP
		DELETE FROM f1tel.dead_letters x WHERE x.id = d.id;
		r := f1tel.ingest_message(d.topic, d.payload, d.key, d.partition, d."offset");
		replayed := replayed + 1;
		IF r.dead_letter IS NOT NULL THEN
			failed := failed + 1;
		END IF;
	END LOOP;
END
$$;
COMMENT ON FUNCTION f1tel.replay_dead_letters(bigint[]) IS
'Ingests dead letters again (all, or the given ids), oldest first; those that fail again are dead-lettered anew. Returns (replayed, failed).';

/*
 * Who may do what.  Nothing of f1tel is PUBLIC: the schema itself is not (it
 * belongs to the superuser who created the extension) and every function's
 * EXECUTE is revoked from PUBLIC.  Two roles ship with f1tel (cluster-wide,
 * created here when missing, kept by DROP EXTENSION):
 *
 *   f1tel_reader  reads every table and view (dashboards, Grafana, psql);
 *   f1tel_admin   f1tel_reader, plus the operations: reset_offset,
 *                 restart_workers, replay_dead_letters, driver_laps_refresh,
 *                 ingest_message, and the change feed (subscribe,
 *                 unsubscribe, read_changes, ack_changes).
 *
 * The operations are SECURITY DEFINER with a fixed search_path: they are the
 * only way a non-superuser writes f1tel's tables.  No role but the
 * superusers can write kafka_offsets, the change feed or the sink's state.
 */
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'f1tel_reader') THEN
		CREATE ROLE f1tel_reader NOLOGIN;
		COMMENT ON ROLE f1tel_reader IS 'f1tel: may read every f1tel table and view.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'f1tel_admin') THEN
		CREATE ROLE f1tel_admin NOLOGIN;
		COMMENT ON ROLE f1tel_admin IS 'f1tel: f1tel_reader, plus offsets, worker restarts, dead-letter replays, refreshes and the change feed.';
	END IF;
	IF NOT pg_catalog.pg_has_role('f1tel_admin', 'f1tel_reader', 'MEMBER') THEN
		GRANT f1tel_reader TO f1tel_admin;
	END IF;
END
$$;

/*
 * The dashboard (issue 12): NOTIFY f1tel_changes after every statement that
 * writes a table it shows.  A copy of src/enrich/notify.sql.
 */
CREATE FUNCTION f1tel.notify_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM pg_catalog.pg_notify('f1tel_changes', TG_TABLE_NAME);
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION f1tel.notify_change() IS
'Statement trigger: NOTIFY f1tel_changes, payload the table''s name (for f1tel-dash and other live readers).';

DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['laps', 'driver_laps', 'position', 'intervals', 'stints', 'pit',
							 'drivers', 'race_control', 'location', 'weather', 'sessions',
							 'meetings']
	LOOP
		EXECUTE format('CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE'
					   ' ON f1tel.%I FOR EACH STATEMENT EXECUTE FUNCTION f1tel.notify_change()', t);
	END LOOP;
END
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA f1tel FROM PUBLIC;
GRANT USAGE ON SCHEMA f1tel TO f1tel_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA f1tel TO f1tel_reader;
-- what the views and the sinks' formulas call, and what only reads
GRANT EXECUTE ON FUNCTION
	f1tel.library_version(),
	f1tel.endpoints(),
	f1tel.bigquery_schema(),
	f1tel.utc_text(timestamptz),
	f1tel.driver_laps_image(f1tel.driver_laps),
	f1tel.race_control_image(f1tel.race_control),
	f1tel.driver_laps_compute(integer, integer, bigint, bigint),
	f1tel.sink_insert_id(text, jsonb, bigint),
	f1tel.sink_message_key(text, jsonb)
	TO f1tel_reader;
GRANT EXECUTE ON FUNCTION
	f1tel.reset_offset(text, integer, bigint, text),
	f1tel.restart_workers(),
	f1tel.replay_dead_letters(bigint[]),
	f1tel.driver_laps_refresh(integer),
	f1tel.ingest_message(text, bytea, bytea, integer, bigint),
	f1tel.ingest_message(text, text, text, integer, bigint),
	f1tel.subscribe(text),
	f1tel.unsubscribe(text),
	f1tel.read_changes(text, integer),
	f1tel.ack_changes(text, bigint[])
	TO f1tel_admin;

-- the sink waits for standbys (f1tel.sink_wait_for_standbys): a new state, 'waiting'
COMMENT ON COLUMN f1tel.sink_status.state IS
'active, retrying (a failure it retries with back-off), paused (refused for good: tries again after a reload or 10 minutes) or waiting (for standbys to flush its changes: f1tel.sink_wait_for_standbys).';
COMMENT ON VIEW f1tel.change_backlog IS
'Per subscriber: changes queued and not acknowledged yet, when the oldest of them was made, and its status (active, retrying, paused, waiting, disabled, external).';

/*
 * Last (issue 10): the new driver_laps columns of the rows already there,
 * computed from what the tables hold (car_data, above all), each a new
 * version in the change feed so that the sinks push them.  Takes the locks
 * of every driver; its time grows with the laps and telemetry stored
 * (README, Upgrading).  Written by sql/upgrade/sync_0.2.py.
 */
SELECT f1tel.driver_laps_refresh();
