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
/* pg_dump keeps the sink's state (an identity sequence needs its own call) */
SELECT pg_catalog.pg_extension_config_dump('f1tel.sink_dead_letters', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.sink_dead_letters_id_seq', '');

CREATE TABLE f1tel.sink_status (
	sink					text PRIMARY KEY,
	rows_pushed				bigint NOT NULL DEFAULT 0,
	requests				bigint NOT NULL DEFAULT 0,
	retries					bigint NOT NULL DEFAULT 0,
	dead_letters			bigint NOT NULL DEFAULT 0,
	last_push_at			timestamptz,
	last_error				text,
	last_error_at			timestamptz,
	state					text NOT NULL DEFAULT 'active'
);
COMMENT ON TABLE f1tel.sink_status IS
'What each sink (bigquery, kafka) has pushed, and its last error; the backlog is in f1tel.change_backlog.';
SELECT pg_catalog.pg_extension_config_dump('f1tel.sink_status', '');
COMMENT ON COLUMN f1tel.sink_status.state IS
'active, retrying (a failure it retries with back-off), paused (refused for good: tries again after a reload or 10 minutes) or waiting (for standbys to flush its changes: f1tel.sink_wait_for_standbys).';

/*
 * The backlog of the change feed (src/enrich/changes.sql) per subscriber,
 * with its status: the sink's two are "disabled" while their setting is
 * empty (the sink drops such a subscriber and its queue when it starts or
 * reloads: until then the queue grows), else the sink's state
 * (sink_status.state); any other subscriber is "external".  Defined here,
 * after sink_status, which it reads.
 */
CREATE VIEW f1tel.change_backlog AS
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
'Per subscriber: changes queued and not acknowledged yet, when the oldest of them was made, and its status (active, retrying, paused, waiting, disabled, external).';

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
