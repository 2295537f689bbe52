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
/* pg_dump: an identity sequence needs its own call (the table's is in footer.sql) */
SELECT pg_catalog.pg_extension_config_dump('f1tel.race_control_id_seq', '');

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
SELECT pg_catalog.pg_extension_config_dump('f1tel.dead_letters_id_seq', '');

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
	retries					integer NOT NULL DEFAULT 0,
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
	   o.last_batch_at,
	   o.retries
FROM f1tel.kafka_offsets o;

