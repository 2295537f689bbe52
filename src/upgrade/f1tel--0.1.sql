/*
 * src/upgrade/f1tel--0.1.sql — the install script of f1tel 0.1, frozen.
 *
 * Built by `make` at commit 3c084559e9e3ccb83d3998b1fa3894cd31d0d615 (the
 * last commit of release 0.1) and
 * never edited since: CREATE EXTENSION f1tel VERSION '0.1' installs exactly
 * what 0.1 users have, so the upgrade test can start from it.  Below is that
 * script, byte for byte.
 */
/*
 * src/shared/header.sql — start of the f1tel install script (f1tel--0.1.sql).
 *
 * The script is the concatenation of this file, src/ingest/schema.sql,
 * src/enrich/[0-9]*.sql and src/shared/footer.sql (see the Makefile).
 */
\echo Use "CREATE EXTENSION f1tel" to load this file. \quit

/*
 * The first C function: loading the library here makes CREATE EXTENSION
 * fail at once, with a hint, in a server that does not preload f1tel.
 */
CREATE FUNCTION f1tel.ingest_message(topic text, payload bytea, key bytea DEFAULT NULL,
									 "partition" integer DEFAULT -1, "offset" bigint DEFAULT -1,
									 OUT rows_stored integer, OUT dead_letter text)
RETURNS record
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'f1tel_ingest_message';
COMMENT ON FUNCTION f1tel.ingest_message(text, bytea, bytea, integer, bigint) IS
'Decode and store one message as the ingest worker would (partition and offset -1: not from Kafka).';

CREATE FUNCTION f1tel.ingest_message(topic text, payload text, key text DEFAULT NULL,
									 "partition" integer DEFAULT -1, "offset" bigint DEFAULT -1,
									 OUT rows_stored integer, OUT dead_letter text)
RETURNS record
LANGUAGE sql VOLATILE
RETURN f1tel.ingest_message(topic, convert_to(payload, 'UTF8'), convert_to(key, 'UTF8'),
							"partition", "offset");
/*
 * src/ingest/schema.sql — staging tables, offsets and dead letters of the ingest stage.
 *
 * One table per OpenF1 endpoint, typed after the API's fields.  Each row keeps
 * where it came from (src_topic, src_partition, src_offset) and when it was
 * ingested.  Every table has a natural key and the ingest worker upserts on it,
 * so replaying a session changes nothing.  The column order of each table is
 * the order the ingest worker's INSERT statements use (src/ingest/store.c).
 */

CREATE TABLE f1tel.meetings (
	meeting_key				integer NOT NULL PRIMARY KEY,
	meeting_name			text,
	meeting_official_name	text,
	meeting_code			text,
	location				text,
	country_key				integer,
	country_code			text,
	country_name			text,
	circuit_key				integer,
	circuit_short_name		text,
	gmt_offset				text,
	date_start				timestamptz,
	year					integer,
	src_topic				text NOT NULL,
	src_partition			integer NOT NULL,
	src_offset				bigint NOT NULL,
	ingested_at				timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE f1tel.sessions (
	session_key				integer NOT NULL PRIMARY KEY,
	meeting_key				integer,
	session_name			text,
	session_type			text,
	date_start				timestamptz,
	date_end				timestamptz,
	location				text,
	country_key				integer,
	country_code			text,
	country_name			text,
	circuit_key				integer,
	circuit_short_name		text,
	gmt_offset				text,
	year					integer,
	src_topic				text NOT NULL,
	src_partition			integer NOT NULL,
	src_offset				bigint NOT NULL,
	ingested_at				timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE f1tel.drivers (
	session_key				integer NOT NULL,
	driver_number			integer NOT NULL,
	meeting_key				integer,
	broadcast_name			text,
	full_name				text,
	name_acronym			text,
	team_name				text,
	team_colour				text,
	first_name				text,
	last_name				text,
	headshot_url			text,
	country_code			text,
	src_topic				text NOT NULL,
	src_partition			integer NOT NULL,
	src_offset				bigint NOT NULL,
	ingested_at				timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (session_key, driver_number)
);

CREATE TABLE f1tel.laps (
	session_key				integer NOT NULL,
	driver_number			integer NOT NULL,
	lap_number				integer NOT NULL,
	meeting_key				integer,
	date_start				timestamptz,
	lap_duration			double precision,
	duration_sector_1		double precision,
	duration_sector_2		double precision,
	duration_sector_3		double precision,
	i1_speed				integer,
	i2_speed				integer,
	st_speed				integer,
	is_pit_out_lap			boolean,
	segments_sector_1		integer[],
	segments_sector_2		integer[],
	segments_sector_3		integer[],
	src_topic				text NOT NULL,
	src_partition			integer NOT NULL,
	src_offset				bigint NOT NULL,
	ingested_at				timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (session_key, driver_number, lap_number)
);

CREATE TABLE f1tel.position (
	session_key				integer NOT NULL,
	driver_number			integer NOT NULL,
	date					timestamptz NOT NULL,
	meeting_key				integer,
	position				integer NOT NULL,
	src_topic				text NOT NULL,
	src_partition			integer NOT NULL,
	src_offset				bigint NOT NULL,
	ingested_at				timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (session_key, driver_number, date)
);

/*
 * race_control has no natural key in the API: an identical record is stored
 * once, which the NULLS NOT DISTINCT unique constraint enforces (PostgreSQL
 * 15 and later).  The id orders the records as they were ingested.
 */
CREATE TABLE f1tel.race_control (
	id						bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	session_key				integer NOT NULL,
	date					timestamptz NOT NULL,
	meeting_key				integer,
	driver_number			integer,
	lap_number				integer,
	sector					integer,
	category				text NOT NULL,
	flag					text,
	scope					text,
	message					text NOT NULL,
	src_topic				text NOT NULL,
	src_partition			integer NOT NULL,
	src_offset				bigint NOT NULL,
	ingested_at				timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT race_control_record_key UNIQUE NULLS NOT DISTINCT
		(session_key, date, category, message, meeting_key, driver_number,
		 lap_number, sector, flag, scope)
);

CREATE TABLE f1tel.car_data (
	session_key				integer NOT NULL,
	driver_number			integer NOT NULL,
	date					timestamptz NOT NULL,
	meeting_key				integer,
	rpm						integer,
	speed					integer,
	n_gear					integer,
	throttle				integer,
	brake					integer,
	drs						integer,
	src_topic				text NOT NULL,
	src_partition			integer NOT NULL,
	src_offset				bigint NOT NULL,
	ingested_at				timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (session_key, driver_number, date)
);

CREATE TABLE f1tel.location (
	session_key				integer NOT NULL,
	driver_number			integer NOT NULL,
	date					timestamptz NOT NULL,
	meeting_key				integer,
	x						integer,
	y						integer,
	z						integer,
	src_topic				text NOT NULL,
	src_partition			integer NOT NULL,
	src_offset				bigint NOT NULL,
	ingested_at				timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (session_key, driver_number, date)
);

/*
 * Messages that could not be stored, with the reason.  Written in the same
 * transaction as the batch they came in, so a message is either in its table,
 * here, or not yet consumed.
 */
CREATE TABLE f1tel.dead_letters (
	id						bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	topic					text NOT NULL,
	partition				integer NOT NULL,
	"offset"				bigint NOT NULL,
	key						bytea,
	payload					bytea,
	reason					text NOT NULL,
	dead_at					timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON f1tel.dead_letters (topic, partition, "offset");

/*
 * The consumer group's position: the next offset to read of each partition.
 * This table, not the broker's committed offsets, is the truth: a batch's rows
 * and its offsets commit together, and the update is a compare-and-set on
 * next_offset so a worker that lost its partition cannot apply a batch twice.
 * next_offset NULL means "from the beginning".
 */
CREATE TABLE f1tel.kafka_offsets (
	group_id				text NOT NULL,
	topic					text NOT NULL,
	partition				integer NOT NULL,
	next_offset				bigint,
	high_watermark			bigint,
	rows_total				bigint NOT NULL DEFAULT 0,
	dead_letters_total		bigint NOT NULL DEFAULT 0,
	last_error				text,
	last_error_at			timestamptz,
	last_batch_at			timestamptz,
	PRIMARY KEY (group_id, topic, partition)
);

CREATE VIEW f1tel.ingest_status AS
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
	   o.last_batch_at
FROM f1tel.kafka_offsets o;

/*
 * src/enrich/10_driver_laps.sql — the definition of f1tel.driver_laps: one row
 * per lap in f1tel.laps, joined with the driver's metadata and position.
 *
 * Rules a reader must know:
 *
 * - The join is written ONCE, in f1tel.driver_laps_compute(): the view
 *   f1tel.driver_laps_v calls it for every lap, and the triggers of
 *   30_triggers.sql call it for the few lap ranges a batch touched.  Change
 *   the join there and nowhere else.
 * - driver_laps_compute() must stay inlinable (LANGUAGE sql, STABLE, not
 *   STRICT, no SET clause, no SECURITY DEFINER): the planner then sees the
 *   caller's keys as index conditions, so the cost of a recomputation grows
 *   with the number of laps recomputed, not with the size of the tables.
 * - Every row of driver (session_key, driver_number) depends only on rows of
 *   laps, drivers and position with that same (session_key, driver_number).
 *   The locking protocol of 30_triggers.sql relies on this: keep it so.
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
 *   none or lap_end is NULL.
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
	team_colour			text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
	SELECT l.session_key, l.meeting_key, l.driver_number, l.lap_number,
		   l.date_start, l.lap_duration,
		   l.duration_sector_1, l.duration_sector_2, l.duration_sector_3,
		   l.i1_speed, l.i2_speed, l.st_speed, l.is_pit_out_lap,
		   e.lap_end,
		   (SELECT p.position
			  FROM f1tel.position p
			 WHERE p.session_key = l.session_key
			   AND p.driver_number = l.driver_number
			   AND p.date <= e.lap_end
			 ORDER BY p.date DESC
			 LIMIT 1),
		   d.name_acronym, d.full_name, d.team_name, d.team_colour
	  FROM f1tel.laps l
	  LEFT JOIN f1tel.laps nx
		ON nx.session_key = l.session_key
	   AND nx.driver_number = l.driver_number
	   AND nx.lap_number = l.lap_number::bigint + 1
	  LEFT JOIN f1tel.drivers d
		ON d.session_key = l.session_key
	   AND d.driver_number = l.driver_number
	 CROSS JOIN LATERAL (
		SELECT CASE
				 WHEN l.date_start IS NOT NULL
				  AND l.lap_duration > -1e7 AND l.lap_duration < 1e7
				 THEN l.date_start + make_interval(secs => l.lap_duration)
				 ELSE coalesce(nx.date_start, l.date_start)
			   END AS lap_end) e
	 WHERE l.session_key = p_session_key
	   AND l.driver_number = p_driver_number
	   AND l.lap_number BETWEEN p_lap_from AND p_lap_to
$$;

COMMENT ON FUNCTION f1tel.driver_laps_compute(integer, integer, bigint, bigint) IS
'The driver_laps join for laps p_lap_from..p_lap_to of one driver in one session: the single definition used by the view driver_laps_v and by the triggers.';

-- The definition: what f1tel.driver_laps must contain at every commit.
CREATE VIEW f1tel.driver_laps_v AS
SELECT c.*
  FROM f1tel.laps k
 CROSS JOIN LATERAL f1tel.driver_laps_compute(k.session_key, k.driver_number,
											  k.lap_number, k.lap_number) c;

COMMENT ON VIEW f1tel.driver_laps_v IS
'The definition of driver_laps (one row per lap, with lap_end, position and driver metadata); f1tel.driver_laps is kept equal to it by triggers.';

/*
 * The enriched laps, kept equal to driver_laps_v by the triggers of
 * 30_triggers.sql.  version is 1 when a row is first written and goes up by
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
	PRIMARY KEY (session_key, driver_number, lap_number)
);

-- The position trigger finds the laps a position record decides by lap_end.
CREATE INDEX driver_laps_lap_end_idx ON f1tel.driver_laps (session_key, driver_number, lap_end);

COMMENT ON TABLE f1tel.driver_laps IS
'Enriched laps, equal to the view driver_laps_v at every commit (maintained by triggers on laps, drivers and position); version goes up by one with every real change.';

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
			   lap_end, position, name_acronym, full_name, team_name, team_colour
		  FROM f1tel.driver_laps) m
UNION ALL
SELECT 'unexpected'::text, u.*
  FROM (SELECT session_key, meeting_key, driver_number, lap_number, date_start,
			   lap_duration, duration_sector_1, duration_sector_2,
			   duration_sector_3, i1_speed, i2_speed, st_speed, is_pit_out_lap,
			   lap_end, position, name_acronym, full_name, team_name, team_colour
		  FROM f1tel.driver_laps
		EXCEPT ALL
		SELECT * FROM f1tel.driver_laps_v) u;

COMMENT ON VIEW f1tel.driver_laps_drift IS
'Rows of driver_laps_v missing from driver_laps ("missing") and rows of driver_laps not in the view ("unexpected"); always empty.';
/*
 * src/enrich/20_changes.sql — the change feed the sinks (BigQuery, the upsert
 * topic) read: every new row and every real change of f1tel.driver_laps, and
 * every new f1tel.race_control row.
 *
 * Why a queue per subscriber and no cursor.  A sink that remembers "the
 * highest change id I have read" and asks for "id > last seen" skips changes:
 * ids come from a sequence when a row is written, not when its transaction
 * commits, so transaction A can take id 10, transaction B id 11, B commit, the
 * sink read 11 and move its cursor past 10, and A commit afterwards: change 10
 * is never read.  Here every change is written together with one
 * f1tel.change_queue row per subscriber, in the transaction that made the
 * change.  A queue row becomes visible when that transaction commits,
 * whatever its id, and stays until the subscriber acknowledges it; a reader
 * takes "whatever is queued for me", not "what is after my cursor".  So
 * nothing is skipped, and a change rolled back never existed.
 *
 * Rules a reader must know:
 *
 * - Only the functions of this file and of 30_triggers.sql write these tables.
 *   There are no foreign keys on purpose: an FK check would lock the
 *   subscriber's row in every ingest transaction (multixacts under
 *   concurrency).
 * - With no subscriber, the triggers write nothing here at all.
 * - Subscribers are added and removed under an ACCESS EXCLUSIVE lock on
 *   f1tel.change_subscribers; a writer takes ACCESS SHARE on it (in its own
 *   statement, f1tel.feed_active()) before it reads the subscriber list in a
 *   later statement, and keeps it to commit.  So a writer either committed
 *   before subscribe() took its snapshot (the new subscriber's backfill holds
 *   the change) or reads the list after subscribe() committed (the writer
 *   queues the change for the new subscriber): never neither.  This needs
 *   READ COMMITTED (a fresh snapshot per statement); the functions refuse
 *   other isolation levels.
 * - Versions of one driver_laps row are written under the same advisory lock
 *   (30_triggers.sql), so for one key a higher version always has a higher
 *   change id and becomes visible after the lower one.
 * - read_changes() locks the queue rows it returns (FOR UPDATE SKIP LOCKED):
 *   call it and ack_changes() in one transaction, then commit.  Two readers
 *   of one subscriber then never get the same change; a reader that dies
 *   before committing leaves its changes queued, to be read again (delivery to
 *   the destination is at least once: the deterministic version makes a
 *   redelivery recognisable).
 */

CREATE TABLE f1tel.change_subscribers (
	name				text PRIMARY KEY CHECK (name <> ''),
	created_at			timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE f1tel.change_subscribers IS
'Sinks reading the change feed; add and remove them with f1tel.subscribe() and f1tel.unsubscribe().';

/*
 * One row image per change.  Key columns: (session_key, driver_number,
 * lap_number) for driver_laps, race_control_id for race_control (whose
 * session_key, driver_number and lap_number are the record's own, for
 * filtering).  op 'upsert' carries the row image at that version; op
 * 'delete' (a lap deleted from f1tel.laps) carries the last image with the
 * version and updated_at of the deletion.  A change row is deleted once every
 * subscriber it was queued for acknowledged it.
 */
CREATE TABLE f1tel.changes (
	id					bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	table_name			text NOT NULL CHECK (table_name IN ('driver_laps', 'race_control')),
	op					text NOT NULL DEFAULT 'upsert' CHECK (op IN ('upsert', 'delete')),
	session_key			integer NOT NULL,
	driver_number		integer,
	lap_number			integer,
	race_control_id		bigint,
	version				bigint NOT NULL,
	row_data			jsonb NOT NULL,
	changed_at			timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE f1tel.changes IS
'Row images of driver_laps and race_control changes not yet acknowledged by every subscriber; read them with f1tel.read_changes().';

CREATE TABLE f1tel.change_queue (
	subscriber			text NOT NULL,
	change_id			bigint NOT NULL,
	PRIMARY KEY (subscriber, change_id)
);
CREATE INDEX change_queue_change_id_idx ON f1tel.change_queue (change_id);

COMMENT ON TABLE f1tel.change_queue IS
'Changes each subscriber has not acknowledged yet: one row per (subscriber, change), written in the transaction that made the change.';

-- Timestamps in row images: UTC, microseconds, whatever the session's TimeZone.
CREATE FUNCTION f1tel.utc_text(ts timestamptz)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
	SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
$$;

-- The image of a driver_laps row as the sinks get it: every column.
CREATE FUNCTION f1tel.driver_laps_image(r f1tel.driver_laps)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
	SELECT to_jsonb(r)
		|| jsonb_build_object('date_start', f1tel.utc_text(r.date_start),
							  'lap_end', f1tel.utc_text(r.lap_end),
							  'updated_at', f1tel.utc_text(r.updated_at))
$$;

-- The image of a race_control row: the record, without its Kafka provenance.
CREATE FUNCTION f1tel.race_control_image(r f1tel.race_control)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
	SELECT jsonb_build_object('id', r.id,
							  'session_key', r.session_key,
							  'meeting_key', r.meeting_key,
							  'date', f1tel.utc_text(r.date),
							  'driver_number', r.driver_number,
							  'lap_number', r.lap_number,
							  'sector', r.sector,
							  'category', r.category,
							  'flag', r.flag,
							  'scope', r.scope,
							  'message', r.message)
$$;

-- The feed's consistency (and the driver_laps triggers') needs a fresh
-- snapshot for every statement.
CREATE FUNCTION f1tel.require_read_committed()
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
	IF current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION 'f1tel: % isolation is not supported here',
			upper(current_setting('transaction_isolation'))
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Write to f1tel.laps, drivers, position and race_control, and call subscribe(), in READ COMMITTED transactions, as the ingest worker does.';
	END IF;
END
$$;

/*
 * Whether changes must be recorded now.  Takes ACCESS SHARE on
 * change_subscribers in a statement of its own and reads the list in the next
 * one, so the answer (and the list the caller then reads) cannot miss a
 * subscriber that committed before it (see the header).
 */
CREATE FUNCTION f1tel.feed_active()
RETURNS boolean
LANGUAGE plpgsql
AS $$
BEGIN
	PERFORM f1tel.require_read_committed();
	LOCK TABLE f1tel.change_subscribers IN ACCESS SHARE MODE;
	RETURN EXISTS (SELECT 1 FROM f1tel.change_subscribers);
END
$$;

/*
 * Adds a subscriber and queues for it the current image of every driver_laps
 * and race_control row, so a sink enabled late pushes the full state.  Returns
 * false, and does nothing, when the subscriber exists already (its queue is
 * kept): a sink may call it at every start.
 */
CREATE FUNCTION f1tel.subscribe(subscriber text)
RETURNS boolean
LANGUAGE plpgsql
AS $$
BEGIN
	PERFORM f1tel.require_read_committed();
	IF subscriber IS NULL OR subscriber = '' THEN
		RAISE EXCEPTION 'f1tel: a subscriber needs a name'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- waits for writers in flight, holds new ones until we commit
	LOCK TABLE f1tel.change_subscribers IN ACCESS EXCLUSIVE MODE;
	IF EXISTS (SELECT 1 FROM f1tel.change_subscribers s
				WHERE s.name = subscribe.subscriber) THEN
		RETURN false;
	END IF;
	INSERT INTO f1tel.change_subscribers (name) VALUES (subscriber);

	WITH c AS (
		INSERT INTO f1tel.changes (table_name, op, session_key, driver_number,
								   lap_number, version, row_data)
		SELECT 'driver_laps', 'upsert', dl.session_key, dl.driver_number,
			   dl.lap_number, dl.version, f1tel.driver_laps_image(dl)
		  FROM f1tel.driver_laps dl
		 ORDER BY dl.session_key, dl.driver_number, dl.lap_number
		RETURNING id)
	INSERT INTO f1tel.change_queue (subscriber, change_id)
	SELECT subscribe.subscriber, c.id FROM c;

	WITH c AS (
		INSERT INTO f1tel.changes (table_name, op, session_key, driver_number,
								   lap_number, race_control_id, version, row_data)
		SELECT 'race_control', 'upsert', rc.session_key, rc.driver_number,
			   rc.lap_number, rc.id, 1, f1tel.race_control_image(rc)
		  FROM f1tel.race_control rc
		 ORDER BY rc.id
		RETURNING id)
	INSERT INTO f1tel.change_queue (subscriber, change_id)
	SELECT subscribe.subscriber, c.id FROM c;

	RETURN true;
END
$$;

COMMENT ON FUNCTION f1tel.subscribe(text) IS
'Adds a change feed subscriber and queues the current image of every driver_laps and race_control row for it; false if it exists already.';

/*
 * Up to max_rows changes queued for the subscriber, in change_id order, that
 * no other transaction holds: the queue rows are locked (FOR UPDATE SKIP
 * LOCKED) until the calling transaction ends.  Acknowledge them with
 * ack_changes() in the same transaction.
 */
CREATE FUNCTION f1tel.read_changes(subscriber text, max_rows integer DEFAULT 500)
RETURNS TABLE (change_id bigint, table_name text, version bigint,
			   row_data jsonb, changed_at timestamptz, op text)
LANGUAGE plpgsql
AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM f1tel.change_subscribers s
					WHERE s.name = read_changes.subscriber) THEN
		RAISE EXCEPTION 'f1tel: no change feed subscriber "%"', subscriber
			USING ERRCODE = 'undefined_object',
				  HINT = 'Create it with f1tel.subscribe().';
	END IF;
	RETURN QUERY
	SELECT c.id, c.table_name, c.version, c.row_data, c.changed_at, c.op
	  FROM (SELECT q.change_id
			  FROM f1tel.change_queue q
			 WHERE q.subscriber = read_changes.subscriber
			 ORDER BY q.change_id
			 LIMIT greatest(max_rows, 0)
			   FOR UPDATE SKIP LOCKED) q
	  JOIN f1tel.changes c ON c.id = q.change_id
	 ORDER BY c.id;
END
$$;

COMMENT ON FUNCTION f1tel.read_changes(text, integer) IS
'Changes queued for a subscriber, oldest first, locked FOR UPDATE SKIP LOCKED until the transaction ends; acknowledge them with ack_changes() in the same transaction.';

/*
 * Removes the given changes from the subscriber's queue, and the change rows
 * no subscriber still needs.  Returns how many queue rows it removed (ids not
 * queued for the subscriber are ignored).  The change rows are locked first,
 * in id order: two subscribers acknowledging the same change at once are
 * serialised, and the second one, in a later statement, sees that the first
 * one's queue row is gone and deletes the change row.
 */
CREATE FUNCTION f1tel.ack_changes(subscriber text, change_ids bigint[])
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
	v_acked		bigint[];
BEGIN
	IF coalesce(cardinality(change_ids), 0) = 0 THEN
		RETURN 0;
	END IF;
	PERFORM 1
	   FROM f1tel.changes c
	  WHERE c.id = ANY (change_ids)
	  ORDER BY c.id
		FOR NO KEY UPDATE;

	WITH d AS (
		DELETE FROM f1tel.change_queue q
		 WHERE q.subscriber = ack_changes.subscriber
		   AND q.change_id = ANY (change_ids)
		RETURNING q.change_id)
	SELECT array_agg(d.change_id) INTO v_acked FROM d;

	IF v_acked IS NULL THEN
		RETURN 0;
	END IF;
	DELETE FROM f1tel.changes c
	 WHERE c.id = ANY (v_acked)
	   AND NOT EXISTS (SELECT 1 FROM f1tel.change_queue q
						WHERE q.change_id = c.id);
	RETURN cardinality(v_acked);
END
$$;

COMMENT ON FUNCTION f1tel.ack_changes(text, bigint[]) IS
'Acknowledges changes read with read_changes(): removes them from the subscriber''s queue (and the change rows nobody needs any more); returns how many.';

-- Removes a subscriber and its queue; false if there was none.
CREATE FUNCTION f1tel.unsubscribe(subscriber text)
RETURNS boolean
LANGUAGE plpgsql
AS $$
BEGIN
	PERFORM f1tel.require_read_committed();
	LOCK TABLE f1tel.change_subscribers IN ACCESS EXCLUSIVE MODE;
	IF NOT EXISTS (SELECT 1 FROM f1tel.change_subscribers s
					WHERE s.name = unsubscribe.subscriber) THEN
		RETURN false;
	END IF;
	PERFORM f1tel.ack_changes(subscriber,
							  ARRAY(SELECT q.change_id
									  FROM f1tel.change_queue q
									 WHERE q.subscriber = unsubscribe.subscriber));
	DELETE FROM f1tel.change_subscribers s WHERE s.name = unsubscribe.subscriber;
	RETURN true;
END
$$;

COMMENT ON FUNCTION f1tel.unsubscribe(text) IS
'Removes a change feed subscriber and everything queued for it; false if there was none.';

CREATE VIEW f1tel.change_backlog AS
SELECT s.name AS subscriber,
	   count(c.id) AS pending,
	   min(c.changed_at) AS oldest_pending,
	   s.created_at AS subscribed_at
  FROM f1tel.change_subscribers s
  LEFT JOIN f1tel.change_queue q ON q.subscriber = s.name
  LEFT JOIN f1tel.changes c ON c.id = q.change_id
 GROUP BY s.name, s.created_at;

COMMENT ON VIEW f1tel.change_backlog IS
'Per subscriber: changes queued and not acknowledged yet, and when the oldest of them was made.';
/*
 * src/enrich/30_triggers.sql — keeps f1tel.driver_laps equal to the view
 * f1tel.driver_laps_v, whatever order laps, drivers and positions arrive in,
 * and records every real change in the change feed (20_changes.sql).
 *
 * How: statement-level AFTER triggers with transition tables on laps, drivers
 * and position (one per event, as PostgreSQL requires), plus TRUNCATE.  Each
 * computes from its transition tables which laps the statement can have
 * changed, recomputes exactly those with f1tel.driver_laps_compute() (the
 * view's own definition), upserts the rows that differ (IS DISTINCT FROM: a
 * recomputation that changes nothing writes and emits nothing), and deletes
 * rows whose lap is gone.  A batch of thousands of messages costs a handful of
 * statements, and the work grows with the laps it touches:
 *
 *   laps      lap n of a driver changed: rows n and n - 1 (the previous lap's
 *             lap_end may be this lap's date_start);
 *   drivers   a driver's metadata changed: all that driver's rows;
 *   position  a record at date p changed (inserted, updated or deleted): the
 *             driver's rows whose lap_end lies in [p, next record's date),
 *             found through driver_laps_lap_end_idx.  Those and only those
 *             can have chosen, or now choose, the record at p.
 *
 * Locking (why concurrent writers cannot leave driver_laps stale).  All rows
 * of driver (session_key, driver_number) depend only on laps, drivers and
 * position rows of that same key.  Every writer holds
 * pg_advisory_xact_lock(session_key, driver_number) for the keys it touches:
 * the ingest worker takes them, sorted, before its batch; the triggers take
 * them again (sorted; a no-op when already held, and the protection for
 * writers that did not) BEFORE reading anything, and read only in later
 * statements, which in READ COMMITTED get a fresh snapshot.  So of two
 * transactions touching the same driver, the second to get the lock sees
 * everything the first committed, and recomputes the rows its own changes
 * affect on top of it.  Without the lock, or reading in the statement that
 * waited for it (whose snapshot predates the other commit), each transaction
 * would recompute from a state lacking the other's uncommitted change -- say
 * one inserts lap n + 1 while the other inserts the position record that then
 * decides lap n -- and both commit a stale row: write skew.  This is why the
 * triggers refuse REPEATABLE READ and SERIALIZABLE (one snapshot for the whole
 * transaction).
 *
 * Position changes find their laps by the lap_end stored in driver_laps: that
 * is current because every laps change of the driver updated it under the
 * same lock.  A write that bypasses the triggers (session_replication_role =
 * replica, disabled triggers) breaks this; f1tel.driver_laps_drift shows it and
 * f1tel.driver_laps_refresh() repairs it.
 *
 * TRUNCATE of laps, drivers or position recomputes everything (a maintenance
 * operation: while ingest workers run it may end in a deadlock error, which
 * aborts one side and loses nothing).
 */

-- Laps lap_from..lap_to of one driver in one session (bigint bounds: see
-- f1tel.driver_laps_compute).
CREATE TYPE f1tel.lap_range AS (
	session_key			integer,
	driver_number		integer,
	lap_from			bigint,
	lap_to				bigint
);

/*
 * Takes pg_advisory_xact_lock(session_key, driver_number), in sorted order,
 * for every distinct key.  The caller must read in a later statement.
 */
CREATE FUNCTION f1tel.lock_drivers(p_session_keys integer[], p_driver_numbers integer[])
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
	k			record;
BEGIN
	PERFORM f1tel.require_read_committed();
	FOR k IN
		SELECT DISTINCT u.s, u.d
		  FROM unnest(p_session_keys, p_driver_numbers) AS u(s, d)
		 WHERE u.s IS NOT NULL AND u.d IS NOT NULL
		 ORDER BY u.s, u.d
	LOOP
		PERFORM pg_advisory_xact_lock(k.s, k.d);
	END LOOP;
END
$$;

/*
 * Recomputes the laps in p_ranges (ranges may overlap: they are merged first),
 * writes the rows that differ, deletes the rows whose lap is gone when
 * p_deletions says laps may have been deleted, and records the changes in the
 * feed when there are subscribers.  Changed rows stream from one CTE to the
 * next, nothing is collected in memory.  Returns the number of rows written
 * or deleted.  The caller holds the advisory locks of the ranges' drivers.
 */
CREATE FUNCTION f1tel.driver_laps_apply(p_ranges f1tel.lap_range[], p_deletions boolean)
RETURNS bigint
LANGUAGE plpgsql
-- planned for each batch with its real keys (the planner then knows how many
-- ranges there are and reads them through the indexes); a generic plan, which
-- "auto" may switch to after a large batch, guesses 10 and can choose to scan
-- small-to-medium tables whole, for as long as the plan stays cached
SET plan_cache_mode = force_custom_plan
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
			 name_acronym, full_name, team_name, team_colour, version, updated_at)
		SELECT c.session_key, c.meeting_key, c.driver_number, c.lap_number, c.date_start,
			   c.lap_duration, c.duration_sector_1, c.duration_sector_2, c.duration_sector_3,
			   c.i1_speed, c.i2_speed, c.st_speed, c.is_pit_out_lap, c.lap_end, c.position,
			   c.name_acronym, c.full_name, c.team_name, c.team_colour,
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
			   version = t.version + 1,
			   updated_at = excluded.updated_at
		 WHERE (t.meeting_key, t.date_start, t.lap_duration, t.duration_sector_1,
				t.duration_sector_2, t.duration_sector_3, t.i1_speed, t.i2_speed,
				t.st_speed, t.is_pit_out_lap, t.lap_end, t.position, t.name_acronym,
				t.full_name, t.team_name, t.team_colour)
			   IS DISTINCT FROM
			   (excluded.meeting_key, excluded.date_start, excluded.lap_duration,
				excluded.duration_sector_1, excluded.duration_sector_2,
				excluded.duration_sector_3, excluded.i1_speed, excluded.i2_speed,
				excluded.st_speed, excluded.is_pit_out_lap, excluded.lap_end,
				excluded.position, excluded.name_acronym, excluded.full_name,
				excluded.team_name, excluded.team_colour)
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

/*
 * Recomputes every driver_laps row (of one session, or of all): the repair for
 * a drift, and what TRUNCATE of a staging table does.  Safe while writers run:
 * it takes the advisory locks of every driver it recomputes.  Returns the
 * number of rows written or deleted (0 when nothing had drifted).
 */
CREATE FUNCTION f1tel.driver_laps_refresh(p_session_key integer DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
	v_sessions	integer[];
	v_drivers	integer[];
BEGIN
	SELECT array_agg(k.session_key), array_agg(k.driver_number)
	  INTO v_sessions, v_drivers
	  FROM (SELECT l.session_key, l.driver_number FROM f1tel.laps l
			 WHERE p_session_key IS NULL OR l.session_key = p_session_key
			UNION
			SELECT dl.session_key, dl.driver_number FROM f1tel.driver_laps dl
			 WHERE p_session_key IS NULL OR dl.session_key = p_session_key) k;
	IF v_sessions IS NULL THEN
		RETURN 0;
	END IF;
	PERFORM f1tel.lock_drivers(v_sessions, v_drivers);
	RETURN f1tel.driver_laps_apply(
		ARRAY(SELECT ROW(u.s, u.d, -2147483648, 2147483647)::f1tel.lap_range
				FROM unnest(v_sessions, v_drivers) AS u(s, d)),
		true);
END
$$;

COMMENT ON FUNCTION f1tel.driver_laps_refresh(integer) IS
'Recomputes driver_laps from its definition (all sessions, or one) and records the changes; returns the number of rows fixed. Not needed in normal operation.';

-- laps: rows n and n - 1 of every lap n in the transition tables.
CREATE FUNCTION f1tel.laps_sync()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
	v_keys		f1tel.lap_range[];
	v_old		f1tel.lap_range[];
BEGIN
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		SELECT array_agg(ROW(n.session_key, n.driver_number,
							 n.lap_number::bigint - 1, n.lap_number)::f1tel.lap_range)
		  INTO v_keys FROM new_rows n;
	END IF;
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		SELECT array_agg(ROW(o.session_key, o.driver_number,
							 o.lap_number::bigint - 1, o.lap_number)::f1tel.lap_range)
		  INTO v_old FROM old_rows o;
		v_keys := v_keys || v_old;
	END IF;
	IF v_keys IS NULL THEN
		RETURN NULL;
	END IF;
	PERFORM f1tel.lock_drivers(ARRAY(SELECT k.session_key FROM unnest(v_keys) k),
							   ARRAY(SELECT k.driver_number FROM unnest(v_keys) k));
	PERFORM f1tel.driver_laps_apply(v_keys, TG_OP <> 'INSERT');
	RETURN NULL;
END
$$;

-- drivers: every row of the drivers in the transition tables.
CREATE FUNCTION f1tel.drivers_sync()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
	v_sessions	integer[];
	v_drivers	integer[];
	v_old_s		integer[];
	v_old_d		integer[];
BEGIN
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		SELECT array_agg(n.session_key), array_agg(n.driver_number)
		  INTO v_sessions, v_drivers FROM new_rows n;
	END IF;
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		SELECT array_agg(o.session_key), array_agg(o.driver_number)
		  INTO v_old_s, v_old_d FROM old_rows o;
		v_sessions := v_sessions || v_old_s;
		v_drivers := v_drivers || v_old_d;
	END IF;
	IF v_sessions IS NULL THEN
		RETURN NULL;
	END IF;
	PERFORM f1tel.lock_drivers(v_sessions, v_drivers);
	PERFORM f1tel.driver_laps_apply(
		ARRAY(SELECT DISTINCT ROW(u.s, u.d, -2147483648, 2147483647)::f1tel.lap_range
				FROM unnest(v_sessions, v_drivers) AS u(s, d)),
		false);
	RETURN NULL;
END
$$;

/*
 * position: the rows whose lap_end lies in [p, next) for every changed record
 * date p, where next is the date of the driver's next record now.  Proof that
 * this is enough: if a lap's chosen record changed from a to b, then b was
 * inserted or updated (b in new_rows, lap_end in [b, next(b))), or a was
 * deleted and b is earlier (a in old_rows, and no record lies in (a, lap_end]
 * now, so lap_end is in [a, next(a))).
 */
CREATE FUNCTION f1tel.position_sync()
RETURNS trigger
LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
	v_sessions	integer[];
	v_drivers	integer[];
	v_dates		timestamptz[];
	v_old_s		integer[];
	v_old_d		integer[];
	v_old_t		timestamptz[];
	v_ranges	f1tel.lap_range[];
BEGIN
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		SELECT array_agg(n.session_key), array_agg(n.driver_number), array_agg(n.date)
		  INTO v_sessions, v_drivers, v_dates FROM new_rows n;
	END IF;
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		SELECT array_agg(o.session_key), array_agg(o.driver_number), array_agg(o.date)
		  INTO v_old_s, v_old_d, v_old_t FROM old_rows o;
		v_sessions := v_sessions || v_old_s;
		v_drivers := v_drivers || v_old_d;
		v_dates := v_dates || v_old_t;
	END IF;
	IF v_sessions IS NULL THEN
		RETURN NULL;
	END IF;
	PERFORM f1tel.lock_drivers(v_sessions, v_drivers);

	-- a later statement: reads after the locks
	SELECT array_agg(ROW(dl.session_key, dl.driver_number,
						 dl.lap_number, dl.lap_number)::f1tel.lap_range)
	  INTO v_ranges
	  FROM (SELECT DISTINCT u.s, u.d, u.t
			  FROM unnest(v_sessions, v_drivers, v_dates) AS u(s, d, t)) c
	 CROSS JOIN LATERAL (
		SELECT min(p.date) AS next_date
		  FROM f1tel.position p
		 WHERE p.session_key = c.s
		   AND p.driver_number = c.d
		   AND p.date > c.t) nx
	  JOIN f1tel.driver_laps dl
		ON dl.session_key = c.s
	   AND dl.driver_number = c.d
	   AND dl.lap_end >= c.t
	   AND dl.lap_end < coalesce(nx.next_date, 'infinity');

	PERFORM f1tel.driver_laps_apply(v_ranges, false);
	RETURN NULL;
END
$$;

CREATE FUNCTION f1tel.staging_truncated()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
	PERFORM f1tel.driver_laps_refresh(NULL);
	RETURN NULL;
END
$$;

-- race_control: every new record goes to the change feed (version 1).
CREATE FUNCTION f1tel.race_control_emit()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM new_rows) OR NOT f1tel.feed_active() THEN
		RETURN NULL;
	END IF;
	WITH c AS (
		INSERT INTO f1tel.changes (table_name, op, session_key, driver_number,
								   lap_number, race_control_id, version, row_data)
		SELECT 'race_control', 'upsert', n.session_key, n.driver_number,
			   n.lap_number, n.id, 1, f1tel.race_control_image(n)
		  FROM new_rows n
		 ORDER BY n.id
		RETURNING id)
	INSERT INTO f1tel.change_queue (subscriber, change_id)
	SELECT s.name, c.id
	  FROM c CROSS JOIN f1tel.change_subscribers s;
	RETURN NULL;
END
$$;

CREATE TRIGGER driver_laps_sync_insert AFTER INSERT ON f1tel.laps
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION f1tel.laps_sync();
CREATE TRIGGER driver_laps_sync_update AFTER UPDATE ON f1tel.laps
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION f1tel.laps_sync();
CREATE TRIGGER driver_laps_sync_delete AFTER DELETE ON f1tel.laps
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION f1tel.laps_sync();
CREATE TRIGGER driver_laps_sync_truncate AFTER TRUNCATE ON f1tel.laps
	FOR EACH STATEMENT EXECUTE FUNCTION f1tel.staging_truncated();

CREATE TRIGGER driver_laps_sync_insert AFTER INSERT ON f1tel.drivers
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION f1tel.drivers_sync();
CREATE TRIGGER driver_laps_sync_update AFTER UPDATE ON f1tel.drivers
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION f1tel.drivers_sync();
CREATE TRIGGER driver_laps_sync_delete AFTER DELETE ON f1tel.drivers
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION f1tel.drivers_sync();
CREATE TRIGGER driver_laps_sync_truncate AFTER TRUNCATE ON f1tel.drivers
	FOR EACH STATEMENT EXECUTE FUNCTION f1tel.staging_truncated();

CREATE TRIGGER driver_laps_sync_insert AFTER INSERT ON f1tel.position
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION f1tel.position_sync();
CREATE TRIGGER driver_laps_sync_update AFTER UPDATE ON f1tel.position
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION f1tel.position_sync();
CREATE TRIGGER driver_laps_sync_delete AFTER DELETE ON f1tel.position
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION f1tel.position_sync();
CREATE TRIGGER driver_laps_sync_truncate AFTER TRUNCATE ON f1tel.position
	FOR EACH STATEMENT EXECUTE FUNCTION f1tel.staging_truncated();

CREATE TRIGGER change_feed_insert AFTER INSERT ON f1tel.race_control
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION f1tel.race_control_emit();
/*
 * src/enrich/40_views.sql — views for people (psql) and dashboards (Grafana,
 * Looker): race control messages with the driver they name, the latest
 * session, a leaderboard, fastest laps and a lap chart.  src/enrich/VIEWS.md
 * shows each with an example query and real output.
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
/*
 * src/sink/schema.sql — the sink's own tables: its refusals and its status.
 *
 * The sink reads the change feed (src/enrich) as the subscribers "bigquery"
 * and "kafka" and moves on only when a destination confirmed a change; a row
 * a destination refuses for good is kept here with the reason.
 */

CREATE TABLE f1tel.sink_dead_letters (
	id						bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	sink					text NOT NULL,
	table_name				text NOT NULL,
	change_id				bigint NOT NULL,
	version					bigint,
	row_data				jsonb,
	reason					text NOT NULL,
	dead_at					timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE f1tel.sink_dead_letters IS
'Rows a destination refused for good (BigQuery "invalid"), with the reason; the other rows of their request went on.';

CREATE TABLE f1tel.sink_status (
	sink					text PRIMARY KEY,
	rows_pushed				bigint NOT NULL DEFAULT 0,
	requests				bigint NOT NULL DEFAULT 0,
	retries					bigint NOT NULL DEFAULT 0,
	dead_letters			bigint NOT NULL DEFAULT 0,
	last_push_at			timestamptz,
	last_error				text,
	last_error_at			timestamptz
);
COMMENT ON TABLE f1tel.sink_status IS
'What each sink (bigquery, kafka) has pushed, and its last error; the backlog is in f1tel.change_backlog.';
/*
 * src/shared/footer.sql — end of the f1tel install script: operations helpers
 * and pg_dump settings.
 */

/* Where to resume a partition, e.g. after data was lost to retention. */
CREATE FUNCTION f1tel.reset_offset(topic text, "partition" integer, next_offset bigint,
								   group_id text DEFAULT current_setting('f1tel.group_id'))
RETURNS void
LANGUAGE sql VOLATILE
BEGIN ATOMIC
	INSERT INTO f1tel.kafka_offsets AS o (group_id, topic, partition, next_offset)
	VALUES (group_id, topic, "partition", next_offset)
	ON CONFLICT (group_id, topic, partition)
	DO UPDATE SET next_offset = EXCLUDED.next_offset, last_error = NULL, last_error_at = NULL;
END;
COMMENT ON FUNCTION f1tel.reset_offset(text, integer, bigint, text) IS
'Set the next offset of a partition (NULL: from the beginning); takes effect when the workers restart (f1tel.restart_workers()).';

/* The workers, as pg_stat_activity sees them. */
CREATE VIEW f1tel.workers AS
SELECT pid, backend_type AS worker, application_name, state, query AS activity,
	   backend_start, state_change, wait_event_type, wait_event
FROM pg_catalog.pg_stat_activity
WHERE backend_type LIKE 'f1tel %';

/* Stop the workers; the launcher starts them again within seconds. */
CREATE FUNCTION f1tel.restart_workers()
RETURNS integer
LANGUAGE sql VOLATILE
RETURN (SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(pid))
		FROM pg_catalog.pg_stat_activity
		WHERE backend_type IN ('f1tel ingest', 'f1tel sink'));

/*
 * pg_dump keeps the data of extension tables only when told to.  One call
 * per table: each call updates pg_extension.
 */
SELECT pg_catalog.pg_extension_config_dump('f1tel.meetings', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.sessions', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.drivers', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.laps', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.position', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.race_control', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.car_data', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.location', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.dead_letters', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.kafka_offsets', '');
