/*
 * sql/upgrade/f1tel--0.1--0.2.sql — ALTER EXTENSION f1tel UPDATE from 0.1 to 0.2.
 *
 * 0.2 adds f1tel.library_version(): with the library checking the installed
 * version before its workers write, a user can see why they pause; and
 * f1tel.endpoints(), the endpoint table the decoder is built from; and the
 * comment of read_changes() now says how the sink reads; the sink's formulas
 * (insertId, message key) and its BigQuery schema are SQL functions, their
 * one home.  Nothing else in
 * the schema changed; the tables, their data, the offsets and the change
 * feed are untouched.  test/t/070_upgrade.pl checks that a database
 * updated through this step equals a fresh install of 0.2.
 */
\echo Use "ALTER EXTENSION f1tel UPDATE TO '0.2'" to load this file. \quit

CREATE FUNCTION f1tel.library_version()
RETURNS text
LANGUAGE C STABLE PARALLEL SAFE
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
AS 'MODULE_PATHNAME', 'f1tel_bigquery_schema';
COMMENT ON FUNCTION f1tel.bigquery_schema() IS
'The fields, types and modes of the BigQuery tables the sink creates (driver_laps, race_control).';

-- sink (issue 9, item 8): sink_status.state, change_backlog.status
ALTER TABLE f1tel.sink_status ADD COLUMN state text NOT NULL DEFAULT 'active';
COMMENT ON COLUMN f1tel.sink_status.state IS
'active, retrying (a failure it retries with back-off) or paused (refused for good: tries again after a reload or 10 minutes).';

/*
 * change_backlog (src/enrich/changes.sql) with the status of each
 * subscriber: the sink's two are "disabled" while their setting is empty
 * (the sink drops such a subscriber and its queue when it starts or
 * reloads: until then the queue grows), else the sink's state
 * (sink_status.state); any other subscriber is "external".  Replaced here,
 * after sink_status exists, keeping the view's columns and adding one.
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

