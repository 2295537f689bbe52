/*
 * test/unit/test_decode_messages.c — unit tests of the OpenF1 decoder's
 * messages (src/ingest/decode.c): arrays of records and the empty array,
 * each row's partition and offset, batch reset and growth, the
 * all-or-nothing rollback of a message with one bad record (earlier rows and
 * the text pool untouched), the error buffer, and every class of rejected
 * message with its exact dead-letter reason: not JSON, trailing data,
 * scalars, missing and null keys, wrong JSON types for every column type,
 * out-of-range values, text PostgreSQL cannot hold, invalid UTF-8, bad
 * timestamps and gap fields of the wrong shape (every shape of those is
 * test_decode_gaps.c's).  The endpoints with no recorded data get
 * hand-written records (handwritten_records.h).
 *
 * One record's fields are test_decode_fields.c's.  The harness is
 * test/unit/harness.h: one line per failed check, then "N passed, N failed"
 * (N counting test cases), exit status non-zero on any failure.  `make unit`
 * runs it.  Records are written with ' for " to keep them readable; J()
 * swaps them.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/decode.h"

/* the growth test decodes 6000 messages that J() makes */
#define HARNESS_J_STRINGS 8192
#include "harness.h"
#include "decode_check.h"
#include "openf1_records.h"
#include "handwritten_records.h"

/*
 * One good record per endpoint, for tests that need any: real ones, but for
 * the endpoints with no recorded data (hand-written, handwritten_records.h)
 */
static const char *
good_record(F1EndpointId id)
{
	switch (id)
	{
		case F1E_LAPS:
			return J(laps_9189_first);
		case F1E_POSITION:
			return J(position_9189_first);
		case F1E_DRIVERS:
			return J(drivers_9189_first);
		case F1E_RACE_CONTROL:
			return J(race_control_9189_first);
		case F1E_SESSIONS:
			return J(sessions_9606);
		case F1E_MEETINGS:
			return J(meetings_9606);
		case F1E_CAR_DATA:
			return J(car_data_9189_first);
		case F1E_LOCATION:
			return J(location_9189_first);
		case F1E_INTERVALS:
			return J(intervals_hw_close);
		case F1E_PIT:
			return J(pit_9189_first);
		case F1E_STINTS:
			return J(stints_9189_first);
		case F1E_WEATHER:
			return J(weather_9189_first);
		case F1E_SESSION_RESULT:
			return J(session_result_9606_first);
		case F1E_STARTING_GRID:
			return J(starting_grid_9606_first);
		case F1E_OVERTAKES:
			return J(overtakes_9189_first);
		case F1E_TEAM_RADIO:
			return J(team_radio_hw);
		case F1E_CHAMPIONSHIP_DRIVERS:
			return J(championship_drivers_hw);
		case F1E_CHAMPIONSHIP_TEAMS:
			return J(championship_teams_hw);
		case F1E_COUNT:
			break;
	}
	return NULL;
}

/* ---- test: messages of several records, rollback -------------------------- */

static void
test_arrays_and_rollback(void)
{
	F1Batch		b;
	char		err[ERRLEN];
	char		json[4096];
	size_t		poollen;

	begin_case("array of records, empty array, whitespace");
	f1_batch_init(&b, EP(F1E_POSITION));
	snprintf(json, sizeof(json), " [ %s ,\n%s ] \n", J(position_9189_first),
			 J("{'position':6,'driver_number':2,'date':'2023-11-19T05:50:05.914000+00:00',"
			   "'session_key':9189,'meeting_key':1225}"));
	if (DECODE_OK(&b, json, 2))
	{
		CHECK_INT(&b, 0, "position", 2);
		CHECK_INT(&b, 1, "position", 6);
		CHECK_INT(&b, 1, "driver_number", 2);
	}
	DECODE_OK(&b, "[]", 0);
	DECODE_OK(&b, " [ ] ", 0);
	CHECK(b.nrows == 2);
	f1_batch_free(&b);
	end_case();

	begin_case("partition and offset per row; reset keeps buffers");
	f1_batch_init(&b, EP(F1E_POSITION));
	CHECK(f1_decode_message(&b, J(position_9189_first), strlen(J(position_9189_first)),
							3, INT64_C(1) << 40, err, sizeof(err)) == 1);
	CHECK(f1_decode_message(&b, J(position_9189_first), strlen(J(position_9189_first)),
							5, 77, err, sizeof(err)) == 1);
	CHECK(b.nrows == 2 && b.src_partition[0] == 3 && b.src_offset[0] == INT64_C(1) << 40 &&
		  b.src_partition[1] == 5 && b.src_offset[1] == 77);
	{
		void	   *values = b.values;
		int			caprows = b.caprows;

		f1_batch_reset(&b);
		CHECK(b.nrows == 0 && b.poollen == 0 && b.values == values && b.caprows == caprows);
		DECODE_OK(&b, J(position_9189_first), 1);
		CHECK_INT(&b, 0, "position", 2);
	}
	f1_batch_free(&b);
	CHECK(b.values == NULL && b.pool == NULL && b.nrows == 0 && b.ep == EP(F1E_POSITION));
	f1_batch_free(&b);			/* twice is harmless */
	end_case();

	begin_case("rollback: record 1 of 3 bad keeps earlier rows intact");
	f1_batch_init(&b, EP(F1E_DRIVERS));
	DECODE_OK(&b, J(drivers_9189_first), 1);
	DECODE_OK(&b, J(drivers_9189_ric), 1);
	poollen = b.poollen;
	snprintf(json, sizeof(json), "[%s,%s,%s]", J(drivers_9189_first),
			 J("{'session_key':9189,'driver_number':'2','full_name':'Logan SARGEANT'}"),
			 J(drivers_9189_ric));
	CHECK(decode(&b, json, err) == -1);
	CHECKF(strcmp(err, "drivers: record 1: field \"driver_number\": expected an integer, "
				  "got a string") == 0, "reason: %s", err);
	CHECK(b.nrows == 2 && b.poollen == poollen);
	CHECK_STR(&b, 0, "full_name", "Max VERSTAPPEN");
	CHECK_STR(&b, 1, "full_name", "Daniel RICCIARDO");
	CHECK_STR(&b, 1, "headshot_url", NULL);
	end_case();

	begin_case("rollback: last record bad after text was pooled");
	snprintf(json, sizeof(json), "[%s,%s,%s]", J(drivers_9189_first), J(drivers_9189_ric),
			 J("{'session_key':9189,'full_name':'No Number'}"));
	CHECK(decode(&b, json, err) == -1);
	CHECKF(strcmp(err, "drivers: record 2: missing key field \"driver_number\"") == 0,
		   "reason: %s", err);
	CHECK(b.nrows == 2 && b.poollen == poollen);
	/* the batch goes on as if nothing happened */
	snprintf(json, sizeof(json), "[%s,%s]", J(drivers_9189_first), J(drivers_9189_ric));
	if (DECODE_OK(&b, json, 2))
	{
		CHECK_STR(&b, 0, "full_name", "Max VERSTAPPEN");
		CHECK_STR(&b, 2, "full_name", "Max VERSTAPPEN");
		CHECK_STR(&b, 3, "last_name", "Ricciardo");
		CHECK(b.src_offset[3] == 1000);
	}
	f1_batch_free(&b);
	end_case();

	begin_case("growth: many rows and long text");
	f1_batch_init(&b, EP(F1E_DRIVERS));
	{
		size_t		biglen = 300000;
		char	   *big = malloc(biglen + 100);
		bool		ok = true;

		if (CHECK(big != NULL))
		{
			int			n = snprintf(big, 100, "{\"session_key\":1,\"driver_number\":5,\"team_name\":\"");

			memset(big + n, 'x', biglen);
			strcpy(big + n + biglen, "\"}");
			for (int i = 0; i < 3000 && ok; i++)
				ok = DECODE_OK(&b, J(drivers_9189_first), 1);
			ok = ok && DECODE_OK(&b, big, 1);
			for (int i = 0; i < 3000 && ok; i++)
				ok = DECODE_OK(&b, J(drivers_9189_ric), 1);
			if (ok)
			{
				const F1Value *v = val(&b, 3000, "team_name");

				CHECK(b.nrows == 6001);
				CHECK(!v->isnull && v->v.str.len == biglen &&
					  b.pool[v->v.str.off] == 'x' &&
					  b.pool[v->v.str.off + biglen - 1] == 'x');
				CHECK_STR(&b, 0, "full_name", "Max VERSTAPPEN");
				CHECK_STR(&b, 6000, "full_name", "Daniel RICCIARDO");
				CHECK(b.poollen <= b.poolcap && b.nrows <= b.caprows);
			}
			free(big);
		}
	}
	f1_batch_free(&b);
	end_case();

	begin_case("error buffer: NULL, empty and short");
	f1_batch_init(&b, EP(F1E_LAPS));
	CHECK(f1_decode_message(&b, "x", 1, 0, 0, NULL, 0) == -1);
	memset(err, '#', sizeof(err));
	CHECK(f1_decode_message(&b, "x", 1, 0, 0, err, 0) == -1);
	CHECK(err[0] == '#');
	CHECK(f1_decode_message(&b, "x", 1, 0, 0, err, 8) == -1);
	CHECK(strlen(err) == 7 && strncmp(err, "laps: n", 7) == 0);
	CHECK(f1_decode_message(&b, "x", 1, 0, 0, err, 3) == -1);
	CHECK(strcmp(err, "la") == 0);
	f1_batch_free(&b);
	end_case();
}

/* ---- test: rejected messages ----------------------------------------------- */

typedef struct RejectCase
{
	F1EndpointId ep;
	const char *json;			/* ' for ", unless raw */
	const char *reason;			/* exact; a trailing '*' matches a prefix */
	bool		raw;			/* json as is (it holds ' or bytes) */
	size_t		len;			/* raw: its length, 0 for strlen */
} RejectCase;

#define CD(fields) "{'session_key':9189,'driver_number':1,'date':'2023-11-19T05:50:02.821Z'" fields "}"
#define LAP(fields) "{'session_key':9189,'driver_number':1,'lap_number':1" fields "}"
#define DRV(fields) "{'session_key':9189,'driver_number':1" fields "}"
#define POS(date) "{'session_key':9189,'driver_number':1,'position':1,'date':'" date "'}"
#define INTV(fields) "{'session_key':9606,'driver_number':14,'date':'2024-09-22T13:00:00Z'" fields "}"
#define SR(fields) "{'session_key':9602,'driver_number':44" fields "}"

static const RejectCase reject_cases[] = {
	/* not JSON */
	{F1E_LAPS, "", "laps: empty message", false, 0},
	{F1E_LAPS, "hello", "laps: not valid JSON: *", false, 0},
	{F1E_LAPS, "{", "laps: not valid JSON: unexpected end of data at byte 1", false, 0},
	{F1E_LAPS, "{'session_key':1,}", "laps: not valid JSON: *", false, 0},
	{F1E_LAPS, "[{'session_key':1}", "laps: not valid JSON: *", false, 0},
	{F1E_LAPS, "{'a':1} // comment", "laps: not valid JSON: *", false, 0},
	{F1E_LAPS, "{'a':'x'}", "laps: not valid JSON: *", true, 0},	/* single quotes */
	{F1E_LAPS, "{'a':01}", "laps: not valid JSON: *", false, 0},
	{F1E_LAPS, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	"laps: not valid JSON: *", false, 0},
	/* trailing garbage */
	{F1E_CAR_DATA, CD("") " x", "car_data: not valid JSON: *", false, 0},
	{F1E_CAR_DATA, CD("") CD(""), "car_data: not valid JSON: *", false, 0},
	{F1E_CAR_DATA, "[] ]", "car_data: not valid JSON: *", false, 0},
	{F1E_CAR_DATA, "{}\0{}", "car_data: not valid JSON: trailing data after the JSON value at byte 2",
	true, 5},
	{F1E_CAR_DATA, "[]\0", "car_data: not valid JSON: trailing data after the JSON value at byte 2",
	true, 3},
	/* scalars, and arrays of something else than objects */
	{F1E_LAPS, "123", "laps: expected a JSON object or an array of objects, got an integer", false, 0},
	{F1E_LAPS, " 1.5 ", "laps: expected a JSON object or an array of objects, got a float", false, 0},
	{F1E_LAPS, "'laps'", "laps: expected a JSON object or an array of objects, got a string", false, 0},
	{F1E_LAPS, "true", "laps: expected a JSON object or an array of objects, got a boolean", false, 0},
	{F1E_LAPS, "null", "laps: expected a JSON object or an array of objects, got null", false, 0},
	{F1E_LAPS, "[1]", "laps: record 0: expected a JSON object, got an integer", false, 0},
	{F1E_CAR_DATA, "[" CD("") ",null]", "car_data: record 1: expected a JSON object, got null", false, 0},
	{F1E_CAR_DATA, "[" CD("") ",[]]", "car_data: record 1: expected a JSON object, got an array", false, 0},
	/* missing and null keys, null in notnull fields */
	{F1E_CAR_DATA, "{'session_key':9189,'driver_number':1}", "car_data: missing key field \"date\"", false, 0},
	{F1E_CAR_DATA, "{'session_key':9189,'driver_number':1,'date':null}",
	"car_data: missing key field \"date\"", false, 0},
	{F1E_CAR_DATA, "[" CD("") "," CD("") ",{'session_key':9189,'date':'2023-11-19T05:50:02Z'}]",
	"car_data: record 2: missing key field \"driver_number\"", false, 0},
	{F1E_LAPS, "{'session_key':null,'driver_number':1,'lap_number':1}",
	"laps: missing key field \"session_key\"", false, 0},
	{F1E_SESSIONS, "{'meeting_key':1}", "sessions: missing key field \"session_key\"", false, 0},
	{F1E_MEETINGS, "{'session_key':1}", "meetings: missing key field \"meeting_key\"", false, 0},
	{F1E_LOCATION, "{}", "location: missing key field \"session_key\"", false, 0},
	{F1E_POSITION, "{'session_key':9189,'driver_number':1,'date':'2023-11-19T05:50:02Z'}",
	"position: missing required field \"position\"", false, 0},
	{F1E_POSITION, "{'session_key':9189,'driver_number':1,'date':'2023-11-19T05:50:02Z','position':null}",
	"position: field \"position\": null not allowed", false, 0},
	{F1E_RACE_CONTROL, "{'session_key':9189,'date':'2023-11-19T05:57:18+00:00','message':'M'}",
	"race_control: missing required field \"category\"", false, 0},
	{F1E_RACE_CONTROL, "{'session_key':9189,'date':'2023-11-19T05:57:18+00:00','category':'Flag',"
		"'message':null}", "race_control: field \"message\": null not allowed", false, 0},
	{F1E_RACE_CONTROL, "{'session_key':null,'date':'2023-11-19T05:57:18+00:00','category':'Flag',"
		"'message':'M'}", "race_control: field \"session_key\": null not allowed", false, 0},
	{F1E_RACE_CONTROL, "{'session_key':9189,'date':null,'category':'Flag','message':'M'}",
	"race_control: field \"date\": null not allowed", false, 0},
	/* wrong JSON type, for every F1Type */
	{F1E_LAPS, LAP(",'i1_speed':'176'"), "laps: field \"i1_speed\": expected an integer, got a string", false, 0},
	{F1E_LAPS, "{'session_key':9189,'driver_number':1,'lap_number':'3'}",
	"laps: field \"lap_number\": expected an integer, got a string", false, 0},
	{F1E_LAPS, "[" LAP("") "," LAP("") "," LAP("") ",{'session_key':9189,'driver_number':1,'lap_number':1.0}]",
	"laps: record 3: field \"lap_number\": expected an integer, got a float", false, 0},
	{F1E_LAPS, LAP(",'st_speed':true"), "laps: field \"st_speed\": expected an integer, got a boolean", false, 0},
	{F1E_LAPS, LAP(",'st_speed':[1]"), "laps: field \"st_speed\": expected an integer, got an array", false, 0},
	{F1E_LAPS, LAP(",'st_speed':{}"), "laps: field \"st_speed\": expected an integer, got an object", false, 0},
	{F1E_LAPS, LAP(",'lap_duration':'95.5'"), "laps: field \"lap_duration\": expected a number, got a string", false, 0},
	{F1E_LAPS, LAP(",'lap_duration':false"), "laps: field \"lap_duration\": expected a number, got a boolean", false, 0},
	{F1E_LAPS, LAP(",'lap_duration':1e400"), "laps: field \"lap_duration\": not a finite number", false, 0},
	{F1E_LAPS, LAP(",'lap_duration':-1e999"), "laps: field \"lap_duration\": not a finite number", false, 0},
	{F1E_LAPS, LAP(",'lap_duration':Infinity"), "laps: field \"lap_duration\": not a finite number", false, 0},
	{F1E_LAPS, LAP(",'lap_duration':NaN"), "laps: *", false, 0},
	{F1E_LAPS, LAP(",'lap_duration':99999999999999999999"), "laps: field \"lap_duration\": integer out of range", false, 0},
	{F1E_LAPS, LAP(",'is_pit_out_lap':0"), "laps: field \"is_pit_out_lap\": expected a boolean, got an integer", false, 0},
	{F1E_LAPS, LAP(",'is_pit_out_lap':'false'"), "laps: field \"is_pit_out_lap\": expected a boolean, got a string", false, 0},
	{F1E_DRIVERS, DRV(",'full_name':44"), "drivers: field \"full_name\": expected a string, got an integer", false, 0},
	{F1E_DRIVERS, DRV(",'full_name':['Max']"), "drivers: field \"full_name\": expected a string, got an array", false, 0},
	{F1E_DRIVERS, DRV(",'full_name':true"), "drivers: field \"full_name\": expected a string, got a boolean", false, 0},
	{F1E_CAR_DATA, "{'session_key':9189,'driver_number':1,'date':1700373002}",
	"car_data: field \"date\": expected a date-time string, got an integer", false, 0},
	{F1E_CAR_DATA, "{'session_key':9189,'driver_number':1,'date':{}}",
	"car_data: field \"date\": expected a date-time string, got an object", false, 0},
	{F1E_LAPS, LAP(",'segments_sector_1':'2048'"),
	"laps: field \"segments_sector_1\": expected an array of integers, got a string", false, 0},
	{F1E_LAPS, LAP(",'segments_sector_1':{}"),
	"laps: field \"segments_sector_1\": expected an array of integers, got an object", false, 0},
	{F1E_LAPS, LAP(",'segments_sector_2':[2048,'2049']"),
	"laps: field \"segments_sector_2\" element 1: expected an integer or null, got a string", false, 0},
	{F1E_LAPS, LAP(",'segments_sector_2':[2048.0]"),
	"laps: field \"segments_sector_2\" element 0: expected an integer or null, got a float", false, 0},
	{F1E_LAPS, LAP(",'segments_sector_3':[[2048]]"),
	"laps: field \"segments_sector_3\" element 0: expected an integer or null, got an array", false, 0},
	/* out of range */
	{F1E_POSITION, "{'session_key':9189,'driver_number':1,'date':'2023-11-19T05:50:02Z','position':0}",
	"position: field \"position\": 0 out of range [1, 100]", false, 0},
	{F1E_POSITION, "{'session_key':9189,'driver_number':1,'date':'2023-11-19T05:50:02Z','position':101}",
	"position: field \"position\": 101 out of range [1, 100]", false, 0},
	{F1E_CAR_DATA, "{'session_key':9189,'driver_number':1000,'date':'2023-11-19T05:50:02Z'}",
	"car_data: field \"driver_number\": 1000 out of range [0, 999]", false, 0},
	{F1E_CAR_DATA, "{'session_key':0,'driver_number':1,'date':'2023-11-19T05:50:02Z'}",
	"car_data: field \"session_key\": 0 out of range [1, 2147483647]", false, 0},
	{F1E_CAR_DATA, CD(",'speed':-1"), "car_data: field \"speed\": -1 out of range [0, 1000]", false, 0},
	{F1E_CAR_DATA, CD(",'n_gear':256"), "car_data: field \"n_gear\": 256 out of range [0, 255]", false, 0},
	{F1E_CAR_DATA, CD(",'rpm':100001"), "car_data: field \"rpm\": 100001 out of range [0, 100000]", false, 0},
	{F1E_LOCATION, CD(",'x':2147483648"), "location: field \"x\": 2147483648 out of range [-2147483648, 2147483647]", false, 0},
	{F1E_LOCATION, CD(",'y':-2147483649"), "location: field \"y\": -2147483649 out of range [-2147483648, 2147483647]", false, 0},
	{F1E_SESSIONS, "{'session_key':9606,'year':1899}", "sessions: field \"year\": 1899 out of range [1900, 9999]", false, 0},
	{F1E_LAPS, LAP(",'segments_sector_1':[2048,null,65536]"),
	"laps: field \"segments_sector_1\" element 2: 65536 out of range [0, 65535]", false, 0},
	{F1E_LAPS, LAP(",'segments_sector_1':[-1]"),
	"laps: field \"segments_sector_1\" element 0: -1 out of range [0, 65535]", false, 0},
	/* integers beyond int64 */
	{F1E_LOCATION, CD(",'x':99999999999999999999"),
	"location: field \"x\": integer out of range [-2147483648, 2147483647]", false, 0},
	{F1E_LOCATION, CD(",'x':-99999999999999999999"),
	"location: field \"x\": integer out of range [-2147483648, 2147483647]", false, 0},
	{F1E_LOCATION, CD(",'x':18446744073709551616"),
	"location: field \"x\": integer out of range [-2147483648, 2147483647]", false, 0},
	{F1E_LOCATION, CD(",'x':9223372036854775808"),
	"location: field \"x\": integer out of range [-2147483648, 2147483647]", false, 0},
	{F1E_LAPS, LAP(",'segments_sector_1':[99999999999999999999999]"),
	"laps: field \"segments_sector_1\" element 0: integer out of range [0, 65535]", false, 0},
	/* text PostgreSQL cannot hold */
	{F1E_DRIVERS, DRV(",'full_name':'Max\\u0000'"),
	"drivers: field \"full_name\": text contains a NUL character (\\u0000)", false, 0},
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"full_name\":\"\\u0000\"}",
	"drivers: field \"full_name\": text contains a NUL character (\\u0000)", true, 0},
	/* invalid UTF-8, wherever it is: malformed, overlong, surrogates, > U+10FFFF */
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"full_name\":\"P\xe9rez\"}",
	"drivers: not valid JSON: invalid UTF-8 at byte *", true, 0},
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"full_name\":\"\xff\"}",
	"drivers: not valid JSON: invalid UTF-8 at byte *", true, 0},
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"full_name\":\"\xc3\"}",
	"drivers: not valid JSON: invalid UTF-8 at byte *", true, 0},
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"full_name\":\"\xc0\x80\"}",
	"drivers: not valid JSON: invalid UTF-8 at byte *", true, 0},
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"full_name\":\"\xe0\x80\xaf\"}",
	"drivers: not valid JSON: invalid UTF-8 at byte *", true, 0},
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"full_name\":\"a\xed\xa0\x80z\"}",
	"drivers: not valid JSON: invalid UTF-8 at byte 49", true, 0},
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"full_name\":\"\xf4\x90\x80\x80\"}",
	"drivers: not valid JSON: invalid UTF-8 at byte *", true, 0},
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"full_name\":\"\xf5\x80\x80\x80\"}",
	"drivers: not valid JSON: invalid UTF-8 at byte *", true, 0},
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"full_name\":\"\xe2\x82\"}",
	"drivers: not valid JSON: invalid UTF-8 at byte *", true, 0},
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"full_name\":\"\xe2\x82",
	"drivers: not valid JSON: invalid UTF-8 at byte *", true, 0},
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"full_name\":\"\x80\"}",
	"drivers: not valid JSON: invalid UTF-8 at byte *", true, 0},
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"x\xff\":1}",
	"drivers: not valid JSON: invalid UTF-8 at byte *", true, 0},
	/* bad timestamps */
	{F1E_POSITION, POS("2023-13-19T05:50:02Z"), "position: field \"date\": invalid date-time \"2023-13-19T05:50:02Z\"", false, 0},
	{F1E_POSITION, POS("2023-00-19T05:50:02Z"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-02-30T05:50:02Z"), "position: field \"date\": invalid date-time \"2023-02-30T05:50:02Z\"", false, 0},
	{F1E_POSITION, POS("2023-02-29T05:50:02Z"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-04-31T05:50:02Z"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-11-00T05:50:02Z"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-11-19T24:00:00Z"), "position: field \"date\": invalid date-time \"2023-11-19T24:00:00Z\"", false, 0},
	{F1E_POSITION, POS("2023-11-19T05:60:02Z"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-11-19T05:50:60Z"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-11-19"), "position: field \"date\": invalid date-time \"2023-11-19\"", false, 0},
	{F1E_POSITION, POS(""), "position: field \"date\": invalid date-time \"\"", false, 0},
	{F1E_POSITION, POS("2023-11-19T05:50"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-11-19T05:50:02.Z"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-11-19T05:50:02+16:00"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-11-19T05:50:02+05:60"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-11-19T05:50:02+5"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-11-19T05:50:02+00:00x"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-11-19T05:50:02 UTC"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023/11/19T05:50:02Z"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("0000-01-01T00:00:00Z"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("+2023-11-19T05:50:02Z"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-11-19T05:50:02.123456789012345678901234567890123456789012345Z-"),
	"position: field \"date\": invalid date-time \"2023-11-19T05:50:02.123456789012345678901234...\"", false, 0},
	{F1E_POSITION, "{\"session_key\":1,\"driver_number\":1,\"position\":1,\"date\":\"2023-11-19\\n05:50:02\"}",
	"position: field \"date\": invalid date-time \"2023-11-19?05:50:02\"", true, 0},
	/* gap fields (hand-written records: intervals have no recorded data) */
	{F1E_INTERVALS, INTV(",'gap_to_leader':'+1 lap'"),
	"intervals: field \"gap_to_leader\": expected a number of seconds, \"+N LAP(S)\" or null, got \"+1 lap\"", false, 0},
	{F1E_INTERVALS, "[" INTV("") "," INTV(",'interval':'1 LAP'") "]",
	"intervals: record 1: field \"interval\": expected a number of seconds, \"+N LAP(S)\" or null, got \"1 LAP\"", false, 0},
	{F1E_INTERVALS, INTV(",'interval':[0.5,null,0.7]"),
	"intervals: field \"interval\": expected a number of seconds, \"+N LAP(S)\" or null, got an array", false, 0},
	{F1E_INTERVALS, INTV(",'gap_to_leader':'+0 LAP'"),
	"intervals: field \"gap_to_leader\": \"+0 LAP\": 0 laps out of range [1, 10000]", false, 0},
	{F1E_INTERVALS, INTV(",'gap_to_leader':true"),
	"intervals: field \"gap_to_leader\": expected a number of seconds, \"+N LAP(S)\" or null, got a boolean", false, 0},
	{F1E_INTERVALS, INTV(",'gap_to_leader':1e400"), "intervals: field \"gap_to_leader\": not a finite number", false, 0},
	{F1E_SESSION_RESULT, SR(",'duration':[89.5,null,88.1,87.0]"),
	"session_result: field \"duration\": an array of 4 elements, expected at most 3 (Q1, Q2, Q3)", false, 0},
	{F1E_SESSION_RESULT, SR(",'gap_to_leader':[0,'+0.2',null]"),
	"session_result: field \"gap_to_leader\" element 1: expected a number of seconds or null, got a string", false, 0},
	{F1E_SESSION_RESULT, SR(",'duration':'+1 LAP'"),
	"session_result: field \"duration\": expected a number of seconds, an array of three (Q1, Q2, Q3) or null, got \"+1 LAP\"", false, 0},
	{F1E_SESSION_RESULT, SR(",'gap_to_leader':{}"),
	"session_result: field \"gap_to_leader\": expected a number of seconds, \"+N LAP(S)\", an array of three (Q1, Q2, Q3) or null, got an object", false, 0},
	{F1E_CHAMPIONSHIP_TEAMS, "{'session_key':9606,'points_current':244.0}",
	"championship_teams: missing key field \"team_name\"", false, 0},
};

static void
test_rejections(void)
{
	for (size_t i = 0; i < sizeof(reject_cases) / sizeof(reject_cases[0]); i++)
	{
		const RejectCase *rc = &reject_cases[i];
		const char *json = rc->raw ? rc->json : J(rc->json);
		size_t		len = rc->len ? rc->len : strlen(json);
		const char *good = good_record(rc->ep);
		char		name[200];
		char		err[ERRLEN];
		F1Batch		b;
		int			nrows;
		size_t		poollen;
		size_t		rlen = strlen(rc->reason);

		snprintf(name, sizeof(name), "reject %s: %.120s", EP(rc->ep)->name, rc->json);
		begin_case(name);
		f1_batch_init(&b, EP(rc->ep));
		/* a row already in the batch must come through untouched */
		DECODE_OK(&b, good, 1);
		nrows = b.nrows;
		poollen = b.poollen;
		strcpy(err, "(none)");
		CHECK(f1_decode_message(&b, json, len, 1, 2, err, sizeof(err)) == -1);
		CHECK(b.nrows == nrows && b.poollen == poollen);
		if (rlen > 0 && rc->reason[rlen - 1] == '*')
			CHECKF(strncmp(err, rc->reason, rlen - 1) == 0, "reason: %s", err);
		else
			CHECKF(strcmp(err, rc->reason) == 0, "reason: %s\n    want: %s", err, rc->reason);
		CHECKF(strchr(err, '\n') == NULL, "reason is not one line");
		CHECK(b.src_offset[0] == 1000);
		f1_batch_free(&b);
		end_case();
	}

	begin_case("reject: NULL payload");
	{
		F1Batch		b;
		char		err[ERRLEN];

		f1_batch_init(&b, EP(F1E_SESSIONS));
		CHECK(f1_decode_message(&b, NULL, 10, 0, 0, err, sizeof(err)) == -1);
		CHECK(strcmp(err, "sessions: empty message") == 0);
		f1_batch_free(&b);
	}
	end_case();
}

HARNESS_MAIN(test_arrays_and_rollback(); test_rejections();)
