/*
 * src/shared/footer.sql — end of the f1tel install script: operations helpers
 * and pg_dump settings.
 */

/* Where to resume a partition, e.g. after data was lost to retention. */
CREATE FUNCTION f1tel.reset_offset(topic text, "partition" integer, next_offset bigint,
								   group_id text DEFAULT current_setting('f1tel.group_id'))
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	INSERT INTO f1tel.kafka_offsets AS o (group_id, topic, partition, next_offset)
	VALUES (group_id, topic, "partition", next_offset)
	ON CONFLICT (group_id, topic, partition)
	DO UPDATE SET next_offset = EXCLUDED.next_offset, last_error = NULL, last_error_at = NULL;
END;
COMMENT ON FUNCTION f1tel.reset_offset(text, integer, bigint, text) IS
'Set the next offset of a partition (NULL: from the beginning); takes effect when the workers restart (f1tel.restart_workers()).';

/*
 * The version of the loaded library (f1tel.so).  It differs from
 * pg_extension.extversion after a new library was installed and before
 * ALTER EXTENSION f1tel UPDATE: the workers pause until they match.
 */
CREATE FUNCTION f1tel.library_version()
RETURNS text
LANGUAGE C STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'f1tel_library_version';
COMMENT ON FUNCTION f1tel.library_version() IS
'Version of the loaded f1tel library; the workers write only while it equals the extension''s version.';

/* The workers, as pg_stat_activity sees them. */
CREATE VIEW f1tel.workers AS
SELECT pid, backend_type AS worker, application_name, state, query AS activity,
	   backend_start, state_change, wait_event_type, wait_event
FROM pg_catalog.pg_stat_activity
WHERE backend_type LIKE 'f1tel %';

/* Stop the workers; the launcher starts them again within seconds. */
CREATE FUNCTION f1tel.restart_workers()
RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
RETURN (SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(pid))
		FROM pg_catalog.pg_stat_activity
		WHERE backend_type IN ('f1tel ingest', 'f1tel sink'));

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
SELECT pg_catalog.pg_extension_config_dump('f1tel.dead_letters', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.kafka_offsets', '');
