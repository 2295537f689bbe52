/*
 * src/shared/endpoints.c — the eight OpenF1 endpoints f1tel carries (the
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
#define KEYINT(n, ...)		{(n), F1T_INT4, true, true, __VA_ARGS__}
#define NNINT(n, ...)		{(n), F1T_INT4, false, true, __VA_ARGS__}
#define INT(n, ...)			{(n), F1T_INT4, false, false, __VA_ARGS__}
#define FLOAT(n)			{(n), F1T_FLOAT8, false, false, 0, 0}
#define BOOL(n)				{(n), F1T_BOOL, false, false, 0, 0}
#define TEXT(n)				{(n), F1T_TEXT, false, false, 0, 0}
#define NNTEXT(n)			{(n), F1T_TEXT, false, true, 0, 0}
#define TS(n)				{(n), F1T_TIMESTAMPTZ, false, false, 0, 0}
#define KEYTS(n)			{(n), F1T_TIMESTAMPTZ, true, true, 0, 0}
#define NNTS(n)				{(n), F1T_TIMESTAMPTZ, false, true, 0, 0}
#define INTARRAY(n, ...)	{(n), F1T_INT4ARRAY, false, false, __VA_ARGS__}

/* Ranges shared by several endpoints */
#define KEY_RANGE		1, I32MAX		/* session_key, meeting_key */
#define PLACE_RANGE		0, I32MAX		/* country_key, circuit_key */
#define DRIVER_RANGE	0, 999
#define LAP_RANGE		0, 10000
#define SPEED_RANGE		0, 1000
#define YEAR_RANGE		1900, 9999
#define BYTE_RANGE		0, 255
#define SEGMENT_RANGE	0, 65535

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

/*
 * Untimed endpoints are sent before everything (sessions, meetings, then
 * drivers) and stored before the others in a batch, so that a lap's trigger
 * already sees its driver.
 */
const F1Endpoint f1_endpoints[F1E_COUNT] = {
	[F1E_LAPS] = {F1E_LAPS, "laps", "f1_laps", lengthof(laps_columns), laps_columns,
	"date_start", 0, F1K_SESSION_DRIVER, true},
	[F1E_POSITION] = {F1E_POSITION, "position", "f1_position", lengthof(position_columns), position_columns,
	"date", 0, F1K_SESSION_DRIVER, true},
	[F1E_DRIVERS] = {F1E_DRIVERS, "drivers", "f1_drivers", lengthof(drivers_columns), drivers_columns,
	NULL, 3, F1K_SESSION_DRIVER, true},
	[F1E_RACE_CONTROL] = {F1E_RACE_CONTROL, "race_control", "f1-race_control",
		lengthof(race_control_columns), race_control_columns,
	"date", 0, F1K_SESSION, false},
	[F1E_SESSIONS] = {F1E_SESSIONS, "sessions", "f1_sessions", lengthof(sessions_columns), sessions_columns,
	NULL, 1, F1K_SESSION, false},
	[F1E_MEETINGS] = {F1E_MEETINGS, "meetings", "f1_meetings", lengthof(meetings_columns), meetings_columns,
	NULL, 2, F1K_MEETING, false},
	[F1E_CAR_DATA] = {F1E_CAR_DATA, "car_data", "f1_car_data", lengthof(car_data_columns), car_data_columns,
	"date", 0, F1K_SESSION_DRIVER, false},
	[F1E_LOCATION] = {F1E_LOCATION, "location", "f1_location", lengthof(location_columns), location_columns,
	"date", 0, F1K_SESSION_DRIVER, false},
};

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
