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

/*
 * The version of the loaded library (f1tel.so).  It differs from
 * pg_extension.extversion after a new library was installed and before
 * ALTER EXTENSION f1tel UPDATE: the workers pause until they match.
 */
CREATE FUNCTION f1tel.library_version()
RETURNS text
LANGUAGE C STABLE PARALLEL SAFE
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
