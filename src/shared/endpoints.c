/*
 * src/shared/endpoints.c — the eighteen OpenF1 endpoints f1tel carries (the
 * contract: src/shared/endpoints.h).
 *
 * The columns are exactly those of the endpoint's staging table in
 * src/ingest/schema.sql, in the table's order, less the provenance columns
 * (src_topic, src_partition, src_offset, ingested_at) and race_control's
 * generated id: the server builds its INSERT statements from these lists,
 * and sql/03_endpoints.sql fails if the two disagree.
 *
 * Types follow the field types of the OpenF1 data (see the data README).
 * Ranges are sanity bounds that no real record breaks; they keep garbage out
 * of the tables, not unusual but real telemetry (car_data n_gear, for
 * example, reads up to 56 in real sessions, so it is bounded as a byte).
 */
#include <string.h>

#include "shared/endpoints.h"

#define I32MIN	INT64_C(-2147483648)
#define I32MAX	INT64_C(2147483647)

/* Column constructors: name, then "min, max" where a range applies. */
#define COL(n, t, k, nn, lo, hi)	{.name = (n), .type = (t), .key = (k), .notnull = (nn), .min = (lo), .max = (hi)}
#define KEYINT(n, ...)		COL((n), F1T_INT4, true, true, __VA_ARGS__)
#define NNINT(n, ...)		COL((n), F1T_INT4, false, true, __VA_ARGS__)
#define INT(n, ...)			COL((n), F1T_INT4, false, false, __VA_ARGS__)
#define FLOAT(n)			COL((n), F1T_FLOAT8, false, false, 0, 0)
#define BOOL(n)				COL((n), F1T_BOOL, false, false, 0, 0)
#define TEXT(n)				COL((n), F1T_TEXT, false, false, 0, 0)
#define KEYTEXT(n)			COL((n), F1T_TEXT, true, true, 0, 0)
#define NNTEXT(n)			COL((n), F1T_TEXT, false, true, 0, 0)
#define TS(n)				COL((n), F1T_TIMESTAMPTZ, false, false, 0, 0)
#define KEYTS(n)			COL((n), F1T_TIMESTAMPTZ, true, true, 0, 0)
#define NNTS(n)				COL((n), F1T_TIMESTAMPTZ, false, true, 0, 0)
#define INTARRAY(n, ...)	COL((n), F1T_INT4ARRAY, false, false, __VA_ARGS__)

/*
 * A gap field (F1T_GAP, see endpoints.h): its seconds column takes the
 * field's name; GAP_LAPS and GAP_Q add the "<field>_laps" and "<field>_q"
 * columns that hold its other shapes, and the seconds column accepts those
 * shapes only when they are there (else they are refused, not dropped).
 */
#define GAP(n, sh)			{.name = (n), .type = F1T_GAP, .shapes = (sh)}
#define GAP_LAPS(f)			{.name = f "_laps", .type = F1T_GAP_LAPS, .min = 1, .max = 10000, .field = (f)}
#define GAP_Q(f)			{.name = f "_q", .type = F1T_GAP_Q, .field = (f)}

/* Ranges shared by several endpoints */
#define KEY_RANGE		1, I32MAX		/* session_key, meeting_key */
#define PLACE_RANGE		0, I32MAX		/* country_key, circuit_key */
#define DRIVER_RANGE	0, 999
#define LAP_RANGE		0, 10000
#define SPEED_RANGE		0, 1000
#define YEAR_RANGE		1900, 9999
#define BYTE_RANGE		0, 255
#define SEGMENT_RANGE	0, 65535
#define PLACE_1_RANGE	1, 100			/* a position in a race or a standing */
#define COUNT_RANGE		0, 10000		/* stints, tyre ages, laps counted */

#define lengthof(a) ((int) (sizeof(a) / sizeof((a)[0])))

static const F1Column laps_columns[] = {
	KEYINT("session_key", KEY_RANGE),
	KEYINT("driver_number", DRIVER_RANGE),
	KEYINT("lap_number", LAP_RANGE),
	INT("meeting_key", KEY_RANGE),
	TS("date_start"),
	FLOAT("lap_duration"),
	FLOAT("duration_sector_1"),
	FLOAT("duration_sector_2"),
	FLOAT("duration_sector_3"),
	INT("i1_speed", SPEED_RANGE),
	INT("i2_speed", SPEED_RANGE),
	INT("st_speed", SPEED_RANGE),
	BOOL("is_pit_out_lap"),
	INTARRAY("segments_sector_1", SEGMENT_RANGE),
	INTARRAY("segments_sector_2", SEGMENT_RANGE),
	INTARRAY("segments_sector_3", SEGMENT_RANGE),
};

static const F1Column position_columns[] = {
	KEYINT("session_key", KEY_RANGE),
	KEYINT("driver_number", DRIVER_RANGE),
	KEYTS("date"),
	INT("meeting_key", KEY_RANGE),
	NNINT("position", 1, 100),
};

static const F1Column drivers_columns[] = {
	KEYINT("session_key", KEY_RANGE),
	KEYINT("driver_number", DRIVER_RANGE),
	INT("meeting_key", KEY_RANGE),
	TEXT("broadcast_name"),
	TEXT("full_name"),
	TEXT("name_acronym"),
	TEXT("team_name"),
	TEXT("team_colour"),
	TEXT("first_name"),
	TEXT("last_name"),
	TEXT("headshot_url"),
	TEXT("country_code"),
};

static const F1Column race_control_columns[] = {
	NNINT("session_key", KEY_RANGE),
	NNTS("date"),
	INT("meeting_key", KEY_RANGE),
	INT("driver_number", DRIVER_RANGE),
	INT("lap_number", LAP_RANGE),
	INT("sector", 0, 1000),
	NNTEXT("category"),
	TEXT("flag"),
	TEXT("scope"),
	NNTEXT("message"),
};

static const F1Column sessions_columns[] = {
	KEYINT("session_key", KEY_RANGE),
	INT("meeting_key", KEY_RANGE),
	TEXT("session_name"),
	TEXT("session_type"),
	TS("date_start"),
	TS("date_end"),
	TEXT("location"),
	INT("country_key", PLACE_RANGE),
	TEXT("country_code"),
	TEXT("country_name"),
	INT("circuit_key", PLACE_RANGE),
	TEXT("circuit_short_name"),
	TEXT("gmt_offset"),
	INT("year", YEAR_RANGE),
};

static const F1Column meetings_columns[] = {
	KEYINT("meeting_key", KEY_RANGE),
	TEXT("meeting_name"),
	TEXT("meeting_official_name"),
	TEXT("meeting_code"),
	TEXT("location"),
	INT("country_key", PLACE_RANGE),
	TEXT("country_code"),
	TEXT("country_name"),
	INT("circuit_key", PLACE_RANGE),
	TEXT("circuit_short_name"),
	TEXT("gmt_offset"),
	TS("date_start"),
	INT("year", YEAR_RANGE),
};

static const F1Column car_data_columns[] = {
	KEYINT("session_key", KEY_RANGE),
	KEYINT("driver_number", DRIVER_RANGE),
	KEYTS("date"),
	INT("meeting_key", KEY_RANGE),
	INT("rpm", 0, 100000),
	INT("speed", SPEED_RANGE),
	INT("n_gear", BYTE_RANGE),
	INT("throttle", BYTE_RANGE),
	INT("brake", BYTE_RANGE),
	INT("drs", BYTE_RANGE),
};

static const F1Column location_columns[] = {
	KEYINT("session_key", KEY_RANGE),
	KEYINT("driver_number", DRIVER_RANGE),
	KEYTS("date"),
	INT("meeting_key", KEY_RANGE),
	INT("x", I32MIN, I32MAX),
	INT("y", I32MIN, I32MAX),
	INT("z", I32MIN, I32MAX),
};

static const F1Column intervals_columns[] = {
	KEYINT("session_key", KEY_RANGE),
	KEYINT("driver_number", DRIVER_RANGE),
	KEYTS("date"),
	INT("meeting_key", KEY_RANGE),
	GAP("gap_to_leader", F1G_LAPS),
	GAP_LAPS("gap_to_leader"),
	GAP("interval", F1G_LAPS),
	GAP_LAPS("interval"),
};

/* pit_duration is being replaced by lane_duration and stop_duration */
static const F1Column pit_columns[] = {
	KEYINT("session_key", KEY_RANGE),
	KEYINT("driver_number", DRIVER_RANGE),
	KEYINT("lap_number", LAP_RANGE),
	INT("meeting_key", KEY_RANGE),
	TS("date"),
	FLOAT("pit_duration"),
	FLOAT("lane_duration"),
	FLOAT("stop_duration"),
};

static const F1Column stints_columns[] = {
	KEYINT("session_key", KEY_RANGE),
	KEYINT("driver_number", DRIVER_RANGE),
	KEYINT("stint_number", COUNT_RANGE),
	INT("meeting_key", KEY_RANGE),
	INT("lap_start", LAP_RANGE),
	INT("lap_end", LAP_RANGE),
	TEXT("compound"),
	INT("tyre_age_at_start", COUNT_RANGE),
};

static const F1Column weather_columns[] = {
	KEYINT("session_key", KEY_RANGE),
	KEYTS("date"),
	INT("meeting_key", KEY_RANGE),
	FLOAT("air_temperature"),
	FLOAT("track_temperature"),
	FLOAT("humidity"),
	FLOAT("pressure"),
	INT("rainfall", COUNT_RANGE),
	INT("wind_direction", 0, 360),
	FLOAT("wind_speed"),
};

/* duration and gap_to_leader: arrays of three in qualifying, scalars in races */
static const F1Column session_result_columns[] = {
	KEYINT("session_key", KEY_RANGE),
	KEYINT("driver_number", DRIVER_RANGE),
	INT("meeting_key", KEY_RANGE),
	INT("position", PLACE_1_RANGE),
	INT("number_of_laps", LAP_RANGE),
	BOOL("dnf"),
	BOOL("dns"),
	BOOL("dsq"),
	GAP("duration", F1G_Q),
	GAP_Q("duration"),
	GAP("gap_to_leader", F1G_LAPS | F1G_Q),
	GAP_LAPS("gap_to_leader"),
	GAP_Q("gap_to_leader"),
	FLOAT("points"),
};

/* session_key is the qualifying session's (OpenF1 files the grid there) */
static const F1Column starting_grid_columns[] = {
	KEYINT("session_key", KEY_RANGE),
	KEYINT("driver_number", DRIVER_RANGE),
	INT("meeting_key", KEY_RANGE),
	INT("position", PLACE_1_RANGE),
	FLOAT("lap_duration"),
};

static const F1Column overtakes_columns[] = {
	KEYINT("session_key", KEY_RANGE),
	KEYTS("date"),
	KEYINT("overtaking_driver_number", DRIVER_RANGE),
	KEYINT("overtaken_driver_number", DRIVER_RANGE),
	INT("meeting_key", KEY_RANGE),
	INT("position", PLACE_1_RANGE),
};

static const F1Column team_radio_columns[] = {
	KEYINT("session_key", KEY_RANGE),
	KEYINT("driver_number", DRIVER_RANGE),
	KEYTS("date"),
	INT("meeting_key", KEY_RANGE),
	TEXT("recording_url"),
};

static const F1Column championship_drivers_columns[] = {
	KEYINT("session_key", KEY_RANGE),
	KEYINT("driver_number", DRIVER_RANGE),
	INT("meeting_key", KEY_RANGE),
	FLOAT("points_start"),
	FLOAT("points_current"),
	INT("position_start", PLACE_1_RANGE),
	INT("position_current", PLACE_1_RANGE),
};

static const F1Column championship_teams_columns[] = {
	KEYINT("session_key", KEY_RANGE),
	KEYTEXT("team_name"),
	INT("meeting_key", KEY_RANGE),
	FLOAT("points_start"),
	FLOAT("points_current"),
	INT("position_start", PLACE_1_RANGE),
	INT("position_current", PLACE_1_RANGE),
};

/*
 * Untimed endpoints are sent before everything (sessions, meetings,
 * drivers, then the rest by rank) and stored before the others in a batch,
 * so that a lap's trigger already sees its driver.
 */
#define EP(id, name, topic, cols, time, rank, shape, lock) \
	[id] = {id, name, topic, lengthof(cols), cols, time, rank, shape, lock}

const F1Endpoint f1_endpoints[F1E_COUNT] = {
	EP(F1E_LAPS, "laps", "f1_laps", laps_columns, "date_start", 0, F1K_SESSION_DRIVER, F1L_DRIVER),
	EP(F1E_POSITION, "position", "f1_position", position_columns, "date", 0, F1K_SESSION_DRIVER, F1L_DRIVER),
	EP(F1E_DRIVERS, "drivers", "f1_drivers", drivers_columns, NULL, 3, F1K_SESSION_DRIVER, F1L_DRIVER),
	EP(F1E_RACE_CONTROL, "race_control", "f1-race_control", race_control_columns, "date", 0, F1K_SESSION, F1L_NONE),
	EP(F1E_SESSIONS, "sessions", "f1_sessions", sessions_columns, NULL, 1, F1K_SESSION, F1L_NONE),
	EP(F1E_MEETINGS, "meetings", "f1_meetings", meetings_columns, NULL, 2, F1K_MEETING, F1L_NONE),
	EP(F1E_CAR_DATA, "car_data", "f1_car_data", car_data_columns, "date", 0, F1K_SESSION_DRIVER, F1L_DRIVER),
	EP(F1E_LOCATION, "location", "f1_location", location_columns, "date", 0, F1K_SESSION_DRIVER, F1L_NONE),
	EP(F1E_INTERVALS, "intervals", "f1_intervals", intervals_columns, "date", 0, F1K_SESSION_DRIVER, F1L_DRIVER),
	EP(F1E_PIT, "pit", "f1_pit", pit_columns, "date", 0, F1K_SESSION_DRIVER, F1L_DRIVER),
	EP(F1E_STINTS, "stints", "f1_stints", stints_columns, NULL, 4, F1K_SESSION_DRIVER, F1L_DRIVER),
	EP(F1E_WEATHER, "weather", "f1_weather", weather_columns, "date", 0, F1K_SESSION, F1L_SESSION),
	EP(F1E_SESSION_RESULT, "session_result", "f1_session_result", session_result_columns, NULL, 5, F1K_SESSION_DRIVER, F1L_NONE),
	EP(F1E_STARTING_GRID, "starting_grid", "f1_starting_grid", starting_grid_columns, NULL, 6, F1K_SESSION_DRIVER, F1L_NONE),
	EP(F1E_OVERTAKES, "overtakes", "f1_overtakes", overtakes_columns, "date", 0, F1K_SESSION, F1L_NONE),
	EP(F1E_TEAM_RADIO, "team_radio", "f1_team_radio", team_radio_columns, "date", 0, F1K_SESSION_DRIVER, F1L_NONE),
	EP(F1E_CHAMPIONSHIP_DRIVERS, "championship_drivers", "f1_championship_drivers", championship_drivers_columns, NULL, 7, F1K_SESSION_DRIVER, F1L_NONE),
	EP(F1E_CHAMPIONSHIP_TEAMS, "championship_teams", "f1_championship_teams", championship_teams_columns, NULL, 8, F1K_SESSION, F1L_NONE),
};

int
f1_endpoint_column(const F1Endpoint *ep, const char *name)
{
	for (int c = 0; c < ep->ncolumns; c++)
		if (strcmp(ep->columns[c].name, name) == 0)
			return c;
	return -1;
}

const F1Endpoint *
f1_endpoint_by_name(const char *name)
{
	if (name == NULL)
		return NULL;
	for (int i = 0; i < F1E_COUNT; i++)
	{
		if (strcmp(f1_endpoints[i].name, name) == 0)
			return &f1_endpoints[i];
	}
	return NULL;
}
