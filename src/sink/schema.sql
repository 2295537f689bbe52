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
