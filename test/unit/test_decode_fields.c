/*
 * test/unit/test_decode_fields.c — unit tests of the OpenF1 decoder's
 * fields: the endpoint table (src/shared/endpoints.c) against
 * src/ingest/schema.sql (names, topics, columns in order, types, NOT NULL,
 * ranges, natural keys), and real records of every endpoint decoded by
 * src/ingest/decode.c to their typed values: integers and their bounds,
 * floats from JSON integers, booleans, text with non-ASCII and \u escapes,
 * integer arrays with null elements, timestamps with and without offsets,
 * nulls and missing fields, unknown fields ignored.  The table's checks
 * cover all eighteen endpoints, with the gap fields' columns (F1T_GAP and
 * its "_laps" and "_q" siblings); the records of the ten race endpoints
 * added with them are test_decode_race.c's.
 *
 * Messages of several records, the all-or-nothing rollback and the reasons
 * of rejected messages are test_decode_messages.c's; every shape of a gap
 * field test_decode_gaps.c's; the recorded sessions
 * test_decode_recorded.c's; timestamps alone test_timestamp.c's.  The
 * harness is test/unit/harness.h: one line per failed check, then "N passed,
 * N failed" (N counting test cases), exit status non-zero on any failure.
 * `make unit` runs it; it finds the repository root from the current
 * directory or else from its own path.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/decode.h"

#include "harness.h"
#include "decode_check.h"
#include "openf1_records.h"
#include "read_file.h"

/* ---- test: the endpoint table ---------------------------------------------- */

/* The SQL type of an F1Type's column in schema.sql */
static const char *
sql_type_of(F1Type t)
{
	switch (t)
	{
		case F1T_INT4:
		case F1T_GAP_LAPS:
			return "integer";
		case F1T_FLOAT8:
		case F1T_GAP:
			return "double precision";
		case F1T_BOOL:
			return "boolean";
		case F1T_TEXT:
			return "text";
		case F1T_TIMESTAMPTZ:
			return "timestamptz";
		case F1T_INT4ARRAY:
			return "integer[]";
		case F1T_GAP_Q:
			return "double precision[]";
	}
	return "?";
}

/* t, the rest of a column line of schema.sql, starts with the type want */
static bool
sql_type_is(const char *t, const char *want)
{
	size_t		n = strlen(want);

	/* "integer" is not "integer[]": the type ends there */
	return strncmp(t, want, n) == 0 && (t[n] == '\0' || t[n] == ' ' || t[n] == ',');
}

/* The column of ep named name; NULL if none */
static const F1Column *
column_named(const F1Endpoint *ep, const char *name)
{
	for (int c = 0; c < ep->ncolumns; c++)
		if (strcmp(ep->columns[c].name, name) == 0)
			return &ep->columns[c];
	return NULL;
}

static void
test_endpoint_table(void)
{
	static const char *names[F1E_COUNT] = {
		"laps", "position", "drivers", "race_control", "sessions",
		"meetings", "car_data", "location", "intervals", "pit", "stints",
		"weather", "session_result", "starting_grid", "overtakes",
		"team_radio", "championship_drivers", "championship_teams"
	};
	static const char *topics[F1E_COUNT] = {
		"f1_laps", "f1_position", "f1_drivers", "f1-race_control",
		"f1_sessions", "f1_meetings", "f1_car_data", "f1_location",
		"f1_intervals", "f1_pit", "f1_stints", "f1_weather",
		"f1_session_result", "f1_starting_grid", "f1_overtakes",
		"f1_team_radio", "f1_championship_drivers", "f1_championship_teams"
	};
	char		path[4200];
	char	   *sql;
	size_t		sqllen;

	begin_case("endpoint table: names, topics, lookup, ranges");
	for (int i = 0; i < F1E_COUNT; i++)
	{
		const F1Endpoint *ep = &f1_endpoints[i];

		CHECK(ep->id == (F1EndpointId) i);
		CHECKF(ep->name && strcmp(ep->name, names[i]) == 0, "endpoint %d name", i);
		CHECKF(ep->default_topic && strcmp(ep->default_topic, topics[i]) == 0,
			   "endpoint %s topic", names[i]);
		CHECK(f1_endpoint_by_name(names[i]) == ep);
		CHECK(ep->ncolumns > 0 && ep->columns != NULL);
		for (int c = 0; c < ep->ncolumns; c++)
		{
			const F1Column *col = &ep->columns[c];

			if (col->key)
				CHECKF(col->notnull, "%s.%s: key but not notnull", ep->name, col->name);
			if (col->type == F1T_INT4 || col->type == F1T_INT4ARRAY ||
				col->type == F1T_GAP_LAPS)
				CHECKF(col->min <= col->max && col->min >= INT32_MIN &&
					   col->max <= INT32_MAX, "%s.%s: range", ep->name, col->name);
			for (int d = 0; d < c; d++)
				CHECKF(strcmp(ep->columns[d].name, col->name) != 0,
					   "%s.%s: two columns of that name", ep->name, col->name);
		}
		/* every topic is its own */
		for (int j = 0; j < i; j++)
			CHECKF(strcmp(f1_endpoints[j].default_topic, ep->default_topic) != 0,
				   "%s and %s share a topic", f1_endpoints[j].name, ep->name);
	}
	CHECK(f1_endpoint_by_name("pits") == NULL);
	CHECK(f1_endpoint_by_name("Laps") == NULL);
	CHECK(f1_endpoint_by_name("intervals ") == NULL);
	CHECK(f1_endpoint_by_name("") == NULL);
	CHECK(f1_endpoint_by_name(NULL) == NULL);
	end_case();

	/*
	 * Gap fields: an F1T_GAP column with F1G_LAPS has a "<name>_laps"
	 * F1T_GAP_LAPS column decoded from the same field, one with F1G_Q a
	 * "<name>_q" F1T_GAP_Q column; and every _laps and _q column belongs to
	 * such a gap column.  Only gap columns have shapes, only their
	 * siblings a field of their own.
	 */
	begin_case("endpoint table: gap columns and their _laps and _q siblings");
	{
		int			ngap = 0,
					nlaps = 0,
					nq = 0;

		for (int i = 0; i < F1E_COUNT; i++)
		{
			const F1Endpoint *ep = &f1_endpoints[i];

			for (int c = 0; c < ep->ncolumns; c++)
			{
				const F1Column *col = &ep->columns[c];
				char		sibling[128];
				const F1Column *s2;

				if (col->type != F1T_GAP)
					CHECKF(col->shapes == 0, "%s.%s: shapes on a column that is no gap",
						   ep->name, col->name);
				if (col->type != F1T_GAP_LAPS && col->type != F1T_GAP_Q)
					CHECKF(col->field == NULL, "%s.%s: a field of its own", ep->name, col->name);
				switch (col->type)
				{
					case F1T_GAP:
						ngap++;
						CHECKF((col->shapes & ~(F1G_LAPS | F1G_Q)) == 0,
							   "%s.%s: unknown shapes %#x", ep->name, col->name, col->shapes);
						CHECKF(!col->key && !col->notnull, "%s.%s: a gap is nullable",
							   ep->name, col->name);
						snprintf(sibling, sizeof(sibling), "%s_laps", col->name);
						s2 = column_named(ep, sibling);
						if (col->shapes & F1G_LAPS)
							CHECKF(s2 != NULL && s2->type == F1T_GAP_LAPS && s2->field != NULL &&
								   strcmp(s2->field, col->name) == 0,
								   "%s.%s: F1G_LAPS but no %s column of its field",
								   ep->name, col->name, sibling);
						else
							CHECKF(s2 == NULL, "%s.%s: a %s column but no F1G_LAPS",
								   ep->name, col->name, sibling);
						snprintf(sibling, sizeof(sibling), "%s_q", col->name);
						s2 = column_named(ep, sibling);
						if (col->shapes & F1G_Q)
							CHECKF(s2 != NULL && s2->type == F1T_GAP_Q && s2->field != NULL &&
								   strcmp(s2->field, col->name) == 0,
								   "%s.%s: F1G_Q but no %s column of its field",
								   ep->name, col->name, sibling);
						else
							CHECKF(s2 == NULL, "%s.%s: a %s column but no F1G_Q",
								   ep->name, col->name, sibling);
						break;
					case F1T_GAP_LAPS:
					case F1T_GAP_Q:
						{
							bool		laps = col->type == F1T_GAP_LAPS;

							if (laps)
								nlaps++;
							else
								nq++;
							CHECKF(!col->key && !col->notnull, "%s.%s: a gap is nullable",
								   ep->name, col->name);
							if (!CHECKF(col->field != NULL, "%s.%s: no field", ep->name, col->name))
								break;
							snprintf(sibling, sizeof(sibling), "%s%s", col->field,
									 laps ? "_laps" : "_q");
							CHECKF(strcmp(col->name, sibling) == 0, "%s.%s: should be named %s",
								   ep->name, col->name, sibling);
							s2 = column_named(ep, col->field);
							CHECKF(s2 != NULL && s2->type == F1T_GAP &&
								   (s2->shapes & (laps ? F1G_LAPS : F1G_Q)) != 0,
								   "%s.%s: no gap column %s with %s", ep->name, col->name,
								   col->field, laps ? "F1G_LAPS" : "F1G_Q");
							/* the gap column comes first: it has its say first */
							CHECKF(s2 == NULL || s2 < col, "%s.%s: before its gap column",
								   ep->name, col->name);
							if (laps)
								CHECKF(col->min >= 1, "%s.%s: laps behind start at 1",
									   ep->name, col->name);
							break;
						}
					default:
						break;
				}
			}
		}
		/* intervals: gap_to_leader, interval; session_result: duration, gap_to_leader */
		CHECKF(ngap == 4 && nlaps == 3 && nq == 2, "%d gap, %d _laps, %d _q columns",
			   ngap, nlaps, nq);
	}
	end_case();

	/* The columns are schema.sql's, in its order, and agree on type and NOT NULL */
	begin_case("endpoint columns match schema.sql");
	snprintf(path, sizeof(path), "%s/src/ingest/schema.sql", repo_root);
	sql = read_file(path, &sqllen);
	if (!CHECKF(sql != NULL, "cannot read %s", path))
	{
		end_case();
		return;
	}
	for (int i = 0; i < F1E_COUNT; i++)
	{
		const F1Endpoint *ep = &f1_endpoints[i];
		char		head[128];
		const char *p;
		int			c = 0;

		snprintf(head, sizeof(head), "CREATE TABLE f1tel.%s (\n", ep->name);
		p = strstr(sql, head);
		if (!CHECKF(p != NULL, "no table %s in schema.sql", ep->name))
			continue;
		p += strlen(head);
		/* column lines are "\t<name>\t...<type>..." until ");" */
		while (*p && strncmp(p, ");", 2) != 0)
		{
			const char *eol = strchr(p, '\n');
			char		line[512];
			char		name[128];
			const char *t;
			size_t		n;

			if (eol == NULL)
				eol = p + strlen(p);
			n = (size_t) (eol - p) < sizeof(line) - 1 ? (size_t) (eol - p) : sizeof(line) - 1;
			memcpy(line, p, n);
			line[n] = '\0';
			p = *eol ? eol + 1 : eol;
			if (line[0] != '\t' || ((line[1] < 'a' || line[1] > 'z') && line[1] != '"'))
				continue;		/* constraint lines and their continuations */
			n = strcspn(line + 1, " \t");
			/* a quoted name ("interval") is the name */
			if (line[1] == '"' && n >= 2 && line[n] == '"')
				snprintf(name, sizeof(name), "%.*s", (int) n - 2, line + 2);
			else
				snprintf(name, sizeof(name), "%.*s", (int) n, line + 1);
			if (strcmp(name, "src_topic") == 0 || strcmp(name, "src_partition") == 0 ||
				strcmp(name, "src_offset") == 0 || strcmp(name, "ingested_at") == 0 ||
				strcmp(name, "id") == 0)
				continue;
			t = line + 1 + n;
			t += strspn(t, " \t");
			if (!CHECKF(c < ep->ncolumns, "%s: table column %s not in the endpoint",
						ep->name, name))
				break;
			CHECKF(strcmp(ep->columns[c].name, name) == 0,
				   "%s: column %d is %s in the table, %s in the endpoint",
				   ep->name, c, name, ep->columns[c].name);
			/*
			 * t is never NULL (it points into line); with -fsanitize=undefined
			 * GCC 12 warns that it may be ("'%s' directive argument is null"):
			 * a false positive of the format check CHECKF has from harness.h.
			 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-overflow"
			CHECKF(sql_type_is(t, sql_type_of(ep->columns[c].type)),
				   "%s.%s: type \"%s\", want %s", ep->name, name, t,
				   sql_type_of(ep->columns[c].type));
#pragma GCC diagnostic pop
			CHECKF((strstr(t, "NOT NULL") != NULL) == ep->columns[c].notnull,
				   "%s.%s: NOT NULL differs", ep->name, name);
			c++;
		}
		CHECKF(c == ep->ncolumns, "%s: table has %d columns, endpoint %d",
			   ep->name, c, ep->ncolumns);
	}
	free(sql);
	end_case();

	begin_case("natural keys");
	{
		static const struct
		{
			F1EndpointId ep;
			const char *keys;
		}			keys[] = {
			{F1E_LAPS, "session_key,driver_number,lap_number,"},
			{F1E_POSITION, "session_key,driver_number,date,"},
			{F1E_DRIVERS, "session_key,driver_number,"},
			{F1E_RACE_CONTROL, ""},
			{F1E_SESSIONS, "session_key,"},
			{F1E_MEETINGS, "meeting_key,"},
			{F1E_CAR_DATA, "session_key,driver_number,date,"},
			{F1E_LOCATION, "session_key,driver_number,date,"},
			{F1E_INTERVALS, "session_key,driver_number,date,"},
			{F1E_PIT, "session_key,driver_number,lap_number,"},
			{F1E_STINTS, "session_key,driver_number,stint_number,"},
			{F1E_WEATHER, "session_key,date,"},
			{F1E_SESSION_RESULT, "session_key,driver_number,"},
			{F1E_STARTING_GRID, "session_key,driver_number,"},
			{F1E_OVERTAKES, "session_key,date,overtaking_driver_number,overtaken_driver_number,"},
			{F1E_TEAM_RADIO, "session_key,driver_number,date,"},
			{F1E_CHAMPIONSHIP_DRIVERS, "session_key,driver_number,"},
			{F1E_CHAMPIONSHIP_TEAMS, "session_key,team_name,"},
		};

		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		{
			const F1Endpoint *ep = EP(keys[i].ep);
			char		got[256] = "";

			for (int c = 0; c < ep->ncolumns; c++)
				if (ep->columns[c].key)
				{
					strcat(got, ep->columns[c].name);
					strcat(got, ",");
				}
			CHECKF(strcmp(got, keys[i].keys) == 0, "%s keys: %s", ep->name, got);
		}
		CHECK(sizeof(keys) / sizeof(keys[0]) == F1E_COUNT);
	}
	end_case();
}

/* ---- test: real records ------------------------------------------------------ */

static void
test_real_records(void)
{
	F1Batch		b;

	begin_case("laps: 9189 first record");
	f1_batch_init(&b, EP(F1E_LAPS));
	if (DECODE_OK(&b, J(laps_9189_first), 1))
	{
		CHECK_INT(&b, 0, "session_key", 9189);
		CHECK_INT(&b, 0, "driver_number", 1);
		CHECK_INT(&b, 0, "lap_number", 1);
		CHECK_INT(&b, 0, "meeting_key", 1225);
		CHECK_TS(&b, 0, "date_start", INT64_C(753689045009000));
		CHECK_F8(&b, 0, "lap_duration", 106.03);
		CHECK_F8(&b, 0, "duration_sector_1", 34.284);
		CHECK_F8(&b, 0, "duration_sector_2", 33.497);
		CHECK_F8(&b, 0, "duration_sector_3", 38.249);
		CHECK_INT(&b, 0, "i1_speed", 176);
		CHECK_INT(&b, 0, "i2_speed", 204);
		CHECK_INT(&b, 0, "st_speed", 278);
		CHECK_BOOL(&b, 0, "is_pit_out_lap", false);
		CHECK_STR(&b, 0, "segments_sector_1", "{2048,2049,2051,2049,2051,2051}");
		CHECK_STR(&b, 0, "segments_sector_2", "{2051,2051,2051,2051,2049,2051,2051}");
		CHECK_STR(&b, 0, "segments_sector_3", "{2049,2049,2049,2049,2049,2049,2049,2051}");
		CHECK(b.src_partition[0] == 7 && b.src_offset[0] == 1000);
	}
	f1_batch_free(&b);
	end_case();

	begin_case("laps: null lap_duration, null elements (9189 lap 51)");
	f1_batch_init(&b, EP(F1E_LAPS));
	if (DECODE_OK(&b, J(laps_9189_lap51), 1))
	{
		CHECK_INT(&b, 0, "lap_number", 51);
		CHECK_NULL(&b, 0, "lap_duration");
		CHECK_NULL(&b, 0, "duration_sector_1");
		CHECK_NULL(&b, 0, "i1_speed");
		CHECK_NULL(&b, 0, "st_speed");
		CHECK_STR(&b, 0, "segments_sector_1", "{NULL,2048,2048,2048,2048,2048}");
		CHECK_STR(&b, 0, "segments_sector_3", "{2048}");
	}
	f1_batch_free(&b);
	end_case();

	begin_case("laps: null segments (9189 driver 4 lap 3, 9606 driver 23 lap 16)");
	f1_batch_init(&b, EP(F1E_LAPS));
	if (DECODE_OK(&b, J(laps_9189_retired), 1) &&
		DECODE_OK(&b, J(laps_9606_retired), 1))
	{
		CHECK_F8(&b, 0, "duration_sector_1", 29.696);
		CHECK_STR(&b, 0, "segments_sector_2", "{2048}");
		CHECK_STR(&b, 0, "segments_sector_3", NULL);
		CHECK_INT(&b, 1, "driver_number", 23);
		CHECK_TS(&b, 1, "date_start", INT64_C(780323398265000));
		CHECK_STR(&b, 1, "segments_sector_1", NULL);
		CHECK_STR(&b, 1, "segments_sector_2", NULL);
		CHECK_STR(&b, 1, "segments_sector_3", NULL);
		CHECK_BOOL(&b, 1, "is_pit_out_lap", false);
	}
	f1_batch_free(&b);
	end_case();

	begin_case("laps: 9606 first record, leading null segment");
	f1_batch_init(&b, EP(F1E_LAPS));
	if (DECODE_OK(&b, J(laps_9606_first), 1))
	{
		CHECK_STR(&b, 0, "segments_sector_1", "{NULL,2049,2049,2049,2049,2049,2049,2049}");
		CHECK_F8(&b, 0, "lap_duration", 101.697);
		CHECK_TS(&b, 0, "date_start", INT64_C(780321837136000));
	}
	f1_batch_free(&b);
	end_case();

	begin_case("laps: arrays: empty, nulls only, boundaries");
	f1_batch_init(&b, EP(F1E_LAPS));
	if (DECODE_OK(&b, J("{'session_key':1,'driver_number':0,'lap_number':0,"
						"'segments_sector_1':[],'segments_sector_2':[null,null],"
						"'segments_sector_3':[0,65535,null]}"), 1))
	{
		CHECK_STR(&b, 0, "segments_sector_1", "{}");
		CHECK_STR(&b, 0, "segments_sector_2", "{NULL,NULL}");
		CHECK_STR(&b, 0, "segments_sector_3", "{0,65535,NULL}");
		CHECK_NULL(&b, 0, "meeting_key");	/* missing non-key fields */
		CHECK_NULL(&b, 0, "date_start");
		CHECK_NULL(&b, 0, "is_pit_out_lap");
	}
	f1_batch_free(&b);
	end_case();

	begin_case("position: 9189 first record");
	f1_batch_init(&b, EP(F1E_POSITION));
	if (DECODE_OK(&b, J(position_9189_first), 1))
	{
		CHECK_INT(&b, 0, "position", 2);
		CHECK_INT(&b, 0, "driver_number", 1);
		CHECK_INT(&b, 0, "session_key", 9189);
		CHECK_INT(&b, 0, "meeting_key", 1225);
		CHECK_TS(&b, 0, "date", INT64_C(753688205914000));
	}
	f1_batch_free(&b);
	end_case();

	begin_case("drivers: 9189 first record, and a null headshot_url");
	f1_batch_init(&b, EP(F1E_DRIVERS));
	if (DECODE_OK(&b, J(drivers_9189_first), 1) &&
		DECODE_OK(&b, J(drivers_9189_ric), 1))
	{
		CHECK_INT(&b, 0, "session_key", 9189);
		CHECK_INT(&b, 0, "driver_number", 1);
		CHECK_STR(&b, 0, "broadcast_name", "M VERSTAPPEN");
		CHECK_STR(&b, 0, "full_name", "Max VERSTAPPEN");
		CHECK_STR(&b, 0, "name_acronym", "VER");
		CHECK_STR(&b, 0, "team_name", "Red Bull Racing");
		CHECK_STR(&b, 0, "team_colour", "3671C6");
		CHECK_STR(&b, 0, "first_name", "Max");
		CHECK_STR(&b, 0, "last_name", "Verstappen");
		CHECK_STR(&b, 0, "headshot_url",
				  "https://www.formula1.com/content/dam/fom-website/drivers/M/"
				  "MAXVER01_Max_Verstappen/maxver01.png.transform/1col/image.png");
		CHECK_STR(&b, 0, "country_code", "NED");
		CHECK_STR(&b, 1, "full_name", "Daniel RICCIARDO");
		CHECK_STR(&b, 1, "headshot_url", NULL);
	}
	f1_batch_free(&b);
	end_case();

	begin_case("drivers: empty text first in an empty batch");
	f1_batch_init(&b, EP(F1E_DRIVERS));
	if (DECODE_OK(&b, J("{'session_key':1,'driver_number':1,'full_name':''}"), 1))
	{
		CHECK_STR(&b, 0, "full_name", "");
		CHECK_STR(&b, 0, "last_name", NULL);
	}
	f1_batch_free(&b);
	end_case();

	begin_case("drivers: non-ASCII text and \\u escapes");
	f1_batch_init(&b, EP(F1E_DRIVERS));
	if (DECODE_OK(&b, "{\"session_key\":1,\"driver_number\":11,"
				  "\"full_name\":\"Sergio P\xc3\xa9rez \xf0\x9f\x8f\x8e\","
				  "\"last_name\":\"P\\u00e9rez \\ud83c\\udfce \\\"Checo\\\"\\n\","
				  "\"first_name\":\"\"}", 1))
	{
		CHECK_STR(&b, 0, "full_name", "Sergio P\xc3\xa9rez \xf0\x9f\x8f\x8e");
		CHECK_STR(&b, 0, "last_name", "P\xc3\xa9rez \xf0\x9f\x8f\x8e \"Checo\"\n");
		CHECK_STR(&b, 0, "first_name", "");
	}
	f1_batch_free(&b);
	end_case();

	begin_case("race_control: 9189 first record (whole-second date, nulls)");
	f1_batch_init(&b, EP(F1E_RACE_CONTROL));
	if (DECODE_OK(&b, J(race_control_9189_first), 1) &&
		DECODE_OK(&b, J(race_control_9606_blue), 1))
	{
		CHECK_INT(&b, 0, "session_key", 9189);
		CHECK_TS(&b, 0, "date", INT64_C(753688638000000));
		CHECK_INT(&b, 0, "meeting_key", 1225);
		CHECK_NULL(&b, 0, "driver_number");
		CHECK_INT(&b, 0, "lap_number", 1);
		CHECK_NULL(&b, 0, "sector");
		CHECK_STR(&b, 0, "category", "Drs");
		CHECK_STR(&b, 0, "flag", NULL);
		CHECK_STR(&b, 0, "scope", NULL);
		CHECK_STR(&b, 0, "message", "DRS DISABLED");
		CHECK_INT(&b, 1, "driver_number", 18);
		CHECK_STR(&b, 1, "flag", "BLUE");
		CHECK_STR(&b, 1, "scope", "Driver");
		CHECK_STR(&b, 1, "message", "WAVED BLUE FLAG FOR CAR 18 (STR) TIMED AT 21:07:06");
	}
	f1_batch_free(&b);
	end_case();

	begin_case("sessions: 9606");
	f1_batch_init(&b, EP(F1E_SESSIONS));
	if (DECODE_OK(&b, J(sessions_9606), 1))
	{
		CHECK_INT(&b, 0, "session_key", 9606);
		CHECK_INT(&b, 0, "meeting_key", 1246);
		CHECK_STR(&b, 0, "session_name", "Race");
		CHECK_STR(&b, 0, "session_type", "Race");
		CHECK_TS(&b, 0, "date_start", INT64_C(780321600000000));
		CHECK_TS(&b, 0, "date_end", INT64_C(780328800000000));
		CHECK_STR(&b, 0, "location", "Marina Bay");
		CHECK_INT(&b, 0, "country_key", 157);
		CHECK_STR(&b, 0, "country_code", "SGP");
		CHECK_STR(&b, 0, "country_name", "Singapore");
		CHECK_INT(&b, 0, "circuit_key", 61);
		CHECK_STR(&b, 0, "circuit_short_name", "Singapore");
		CHECK_STR(&b, 0, "gmt_offset", "08:00:00");
		CHECK_INT(&b, 0, "year", 2024);
	}
	f1_batch_free(&b);
	end_case();

	begin_case("meetings: 9189 (null meeting_code) and 9606");
	f1_batch_init(&b, EP(F1E_MEETINGS));
	if (DECODE_OK(&b, J(meetings_9189), 1) && DECODE_OK(&b, J(meetings_9606), 1))
	{
		CHECK_INT(&b, 0, "meeting_key", 1225);
		CHECK_STR(&b, 0, "meeting_name", "Las Vegas Grand Prix");
		CHECK_STR(&b, 0, "meeting_official_name",
				  "FORMULA 1 HEINEKEN SILVER LAS VEGAS GRAND PRIX 2023");
		CHECK_STR(&b, 0, "meeting_code", NULL);
		CHECK_STR(&b, 0, "location", "Las Vegas");
		CHECK_INT(&b, 0, "country_key", 19);
		CHECK_STR(&b, 0, "country_code", "USA");
		CHECK_STR(&b, 0, "country_name", "United States");
		CHECK_INT(&b, 0, "circuit_key", 152);
		CHECK_STR(&b, 0, "circuit_short_name", "Las Vegas");
		CHECK_STR(&b, 0, "gmt_offset", "-08:00:00");
		CHECK_TS(&b, 0, "date_start", INT64_C(753510600000000));
		CHECK_INT(&b, 0, "year", 2023);
		CHECK_STR(&b, 1, "meeting_code", "SGP");
	}
	f1_batch_free(&b);
	end_case();

	begin_case("car_data: 9189 first record and one of 9606");
	f1_batch_init(&b, EP(F1E_CAR_DATA));
	if (DECODE_OK(&b, J(car_data_9189_first), 1) && DECODE_OK(&b, J(car_data_9606), 1))
	{
		CHECK_INT(&b, 0, "session_key", 9189);
		CHECK_INT(&b, 0, "driver_number", 1);
		CHECK_TS(&b, 0, "date", INT64_C(753688202821000));
		CHECK_INT(&b, 0, "meeting_key", 1225);
		CHECK_INT(&b, 0, "rpm", 0);
		CHECK_INT(&b, 1, "rpm", 11696);
		CHECK_INT(&b, 1, "speed", 125);
		CHECK_INT(&b, 1, "n_gear", 2);
		CHECK_INT(&b, 1, "throttle", 72);
		CHECK_INT(&b, 1, "brake", 0);
		CHECK_INT(&b, 1, "drs", 0);
		CHECK_TS(&b, 1, "date", INT64_C(780326212599000));
	}
	f1_batch_free(&b);
	end_case();

	begin_case("car_data: a null date (9606) is a missing key");
	{
		char		err[ERRLEN];

		f1_batch_init(&b, EP(F1E_CAR_DATA));
		CHECK(decode(&b, J(car_data_9606_null_date), err) == -1);
		CHECKF(strcmp(err, "car_data: missing key field \"date\"") == 0, "reason: %s", err);
		CHECK(b.nrows == 0 && b.poollen == 0);
		f1_batch_free(&b);
	}
	end_case();

	begin_case("location: 9189 and 9606 first records, int32 bounds");
	f1_batch_init(&b, EP(F1E_LOCATION));
	if (DECODE_OK(&b, J(location_9189_first), 1) && DECODE_OK(&b, J(location_9606_first), 1) &&
		DECODE_OK(&b, J("{'session_key':1,'driver_number':1,'date':'2024-01-01T00:00:00Z',"
						"'x':-2147483648,'y':2147483647,'z':-1}"), 1))
	{
		CHECK_INT(&b, 0, "x", 1661);
		CHECK_INT(&b, 0, "y", -1065);
		CHECK_INT(&b, 0, "z", 6066);
		CHECK_TS(&b, 0, "date", INT64_C(753688202764000));
		CHECK_INT(&b, 1, "x", 0);
		CHECK_INT(&b, 1, "session_key", 9606);
		CHECK_INT(&b, 2, "x", INT32_MIN);
		CHECK_INT(&b, 2, "y", INT32_MAX);
		CHECK_NULL(&b, 2, "meeting_key");
	}
	f1_batch_free(&b);
	end_case();

	begin_case("floats accept JSON integers; unknown fields are ignored");
	f1_batch_init(&b, EP(F1E_LAPS));
	if (DECODE_OK(&b, J("{'session_key':9189,'driver_number':1,'lap_number':2,"
						"'lap_duration':95,'duration_sector_1':-0.0,"
						"'duration_sector_2':1.5e1,'new_field':{'a':[1,{}]},"
						"'another':'x','i1_speed':null}"), 1))
	{
		CHECK_F8(&b, 0, "lap_duration", 95.0);
		CHECK_F8(&b, 0, "duration_sector_1", 0.0);
		CHECK_F8(&b, 0, "duration_sector_2", 15.0);
		CHECK_NULL(&b, 0, "i1_speed");
	}
	f1_batch_free(&b);
	end_case();

	begin_case("dates: naive (UTC), whole seconds, Z and other offsets");
	f1_batch_init(&b, EP(F1E_POSITION));
	{
		static const struct
		{
			const char *date;
			int64_t		ts;
		}			dates[] = {
			{"2023-11-19T05:57:18+00:00", INT64_C(753688638000000)},
			{"2023-11-19T05:57:18Z", INT64_C(753688638000000)},
			{"2023-11-19T05:57:18", INT64_C(753688638000000)},
			{"2023-11-19 06:04:05.009", INT64_C(753689045009000)},
			{"2023-11-19T06:04:05.009000", INT64_C(753689045009000)},
			{"2023-11-19T05:57:18+05:30", INT64_C(753668838000000)},
			{"2023-11-19T05:57:18-08:00", INT64_C(753717438000000)},
		};

		for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++)
		{
			char		json[256];

			snprintf(json, sizeof(json),
					 "{\"session_key\":9189,\"driver_number\":1,\"position\":3,\"date\":\"%s\"}",
					 dates[i].date);
			if (DECODE_OK(&b, json, 1))
				CHECK_TS(&b, b.nrows - 1, "date", dates[i].ts);
		}
	}
	f1_batch_free(&b);
	end_case();
}

HARNESS_MAIN(test_endpoint_table(); test_real_records();)
