/*
 * src/shared/header.sql — start of the f1tel install script
 * (f1tel--<version>.sql, the version being f1tel.control's default_version).
 *
 * The script is the concatenation of this file, src/ingest/schema.sql,
 * src/enrich/[0-9]*.sql, src/sink/schema.sql and src/shared/footer.sql (see
 * the Makefile).  A change to any of them is a new version: bump
 * default_version and add the step to sql/upgrade/ (its README says how).
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
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
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
