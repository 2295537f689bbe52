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

CREATE OR REPLACE FUNCTION f1tel.driver_laps_compute(p_session_key integer,
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
BEGIN ATOMIC
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
	   AND l.lap_number BETWEEN p_lap_from AND p_lap_to;
END;

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

/*
 * Takes the advisory locks of every distinct (session_key, driver_number),
 * in key order (no two writers can deadlock on them).  The caller must read
 * in a later statement.  A lock another transaction holds is waited for at
 * most f1tel.lock_wait_timeout (0: forever); then the error (SQLSTATE 55P03,
 * lock_not_available: the ingest worker retries the batch and shows the
 * error in f1tel.ingest_status) names the sessions that hold it.
 */

CREATE OR REPLACE FUNCTION f1tel.lock_drivers(p_session_keys integer[], p_driver_numbers integer[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_class		integer := f1tel.lock_class();
	v_old		text;
	v_holders	text;
	k			record;
BEGIN
	PERFORM f1tel.require_read_committed();
	FOR k IN
		SELECT DISTINCT f1tel.driver_lock_key(u.s, u.d) AS key, u.s, u.d
		  FROM unnest(p_session_keys, p_driver_numbers) AS u(s, d)
		 WHERE u.s IS NOT NULL AND u.d IS NOT NULL
		 ORDER BY 1, 2, 3
	LOOP
		CONTINUE WHEN pg_try_advisory_xact_lock(v_class, k.key);
		-- contended: wait, bounded (a subtransaction, on this path only)
		v_old := current_setting('lock_timeout');
		BEGIN
			PERFORM set_config('lock_timeout', current_setting('f1tel.lock_wait_timeout'), true);
			PERFORM pg_advisory_xact_lock(v_class, k.key);
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
			   AND l.objid::bigint = (k.key::bigint & 4294967295)
			   AND l.objsubid = 2
			   AND l.granted;
			-- the holder in the message itself: it is what f1tel.ingest_status shows
			RAISE EXCEPTION 'f1tel: waited % for the lock of session %, driver %, held by %',
				current_setting('f1tel.lock_wait_timeout'), k.s, k.d,
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
ALTER FUNCTION f1tel.position_sync() SET search_path = pg_catalog, pg_temp;
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
