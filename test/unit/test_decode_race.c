/*
 * test/unit/test_decode_race.c — unit tests of the OpenF1 decoder
 * (src/ingest/decode.c) on the race endpoints: intervals, pit, stints,
 * weather, session_result, starting_grid, overtakes, team_radio and the two
 * championships, each record decoded to its typed values.
 *
 * Real records (openf1_records.h, copied from test/data/openf1) for the six
 * endpoints the recorded sessions have: pit, stints, weather, overtakes,
 * session_result (the winner's integer 0, a float gap, 9606's "+1 LAP", a
 * retired car's nulls) and starting_grid (filed under the qualifying
 * session's key; a null lap_duration).  HAND-WRITTEN records
 * (handwritten_records.h) for what they lack: intervals, team_radio, the
 * championships, pit's lane_duration and stop_duration, a weather date with
 * a space for the 'T'.  Every other shape of a gap field, and the refusals,
 * are test_decode_gaps.c's; the endpoint table test_decode_fields.c's.
 *
 * The harness is test/unit/harness.h: one line per failed check, then "N
 * passed, N failed" (N counting test cases), exit status non-zero on any
 * failure.  `make unit` runs it.
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
#include "handwritten_records.h"

/* ---- test: real records of the race endpoints ------------------------------- */

static void
test_race_records(void)
{
	F1Batch		b;

	begin_case("pit: 9189 and 9606 first records (pit_duration only)");
	f1_batch_init(&b, EP(F1E_PIT));
	if (DECODE_OK(&b, J(pit_9189_first), 1) && DECODE_OK(&b, J(pit_9606_first), 1))
	{
		CHECK_INT(&b, 0, "session_key", 9189);
		CHECK_INT(&b, 0, "driver_number", 11);
		CHECK_INT(&b, 0, "lap_number", 1);
		CHECK_INT(&b, 0, "meeting_key", 1225);
		CHECK_TS(&b, 0, "date", INT64_C(753689200131000));
		CHECK_F8(&b, 0, "pit_duration", 33.5);
		CHECK_NULL(&b, 0, "lane_duration");
		CHECK_NULL(&b, 0, "stop_duration");
		CHECK_INT(&b, 1, "driver_number", 3);
		CHECK_INT(&b, 1, "lap_number", 10);
		CHECK_TS(&b, 1, "date", INT64_C(780322877341000));
		CHECK_F8(&b, 1, "pit_duration", 30.3);
	}
	f1_batch_free(&b);
	end_case();

	begin_case("stints: 9189 and 9606 first records");
	f1_batch_init(&b, EP(F1E_STINTS));
	if (DECODE_OK(&b, J(stints_9189_first), 1) && DECODE_OK(&b, J(stints_9606_first), 1))
	{
		CHECK_INT(&b, 0, "session_key", 9189);
		CHECK_INT(&b, 0, "driver_number", 1);
		CHECK_INT(&b, 0, "stint_number", 1);
		CHECK_INT(&b, 0, "meeting_key", 1225);
		CHECK_INT(&b, 0, "lap_start", 1);
		CHECK_INT(&b, 0, "lap_end", 16);
		CHECK_STR(&b, 0, "compound", "MEDIUM");
		CHECK_INT(&b, 0, "tyre_age_at_start", 0);
		CHECK_INT(&b, 1, "session_key", 9606);
		CHECK_INT(&b, 1, "lap_end", 29);
	}
	f1_batch_free(&b);
	end_case();

	begin_case("weather: 9189 and 9606 first records (floats written 45.0)");
	f1_batch_init(&b, EP(F1E_WEATHER));
	if (DECODE_OK(&b, J(weather_9189_first), 1) && DECODE_OK(&b, J(weather_9606_first), 1))
	{
		CHECK_INT(&b, 0, "session_key", 9189);
		CHECK_TS(&b, 0, "date", INT64_C(753688208851000));
		CHECK_INT(&b, 0, "meeting_key", 1225);
		CHECK_F8(&b, 0, "air_temperature", 18.1);
		CHECK_F8(&b, 0, "track_temperature", 20.3);
		CHECK_F8(&b, 0, "humidity", 45.0);
		CHECK_F8(&b, 0, "pressure", 940.2);
		CHECK_INT(&b, 0, "rainfall", 0);
		CHECK_INT(&b, 0, "wind_direction", 227);
		CHECK_F8(&b, 0, "wind_speed", 2.5);
		CHECK_TS(&b, 1, "date", INT64_C(780318466576000));
		CHECK_INT(&b, 1, "wind_direction", 0);
		CHECK_F8(&b, 1, "pressure", 1006.9);
	}
	f1_batch_free(&b);
	end_case();

	begin_case("overtakes: 9189 and 9606 first records");
	f1_batch_init(&b, EP(F1E_OVERTAKES));
	if (DECODE_OK(&b, J(overtakes_9189_first), 1) && DECODE_OK(&b, J(overtakes_9606_first), 1))
	{
		CHECK_INT(&b, 0, "session_key", 9189);
		CHECK_TS(&b, 0, "date", INT64_C(753689057743000));
		CHECK_INT(&b, 0, "overtaking_driver_number", 1);
		CHECK_INT(&b, 0, "overtaken_driver_number", 16);
		CHECK_INT(&b, 0, "meeting_key", 1225);
		CHECK_INT(&b, 0, "position", 1);
		CHECK_TS(&b, 1, "date", INT64_C(780321846628000));
		CHECK_INT(&b, 1, "overtaking_driver_number", 16);
		CHECK_INT(&b, 1, "overtaken_driver_number", 22);
		CHECK_INT(&b, 1, "position", 8);
	}
	f1_batch_free(&b);
	end_case();

	begin_case("session_result: race rows (0, float, \"+1 LAP\", nulls)");
	f1_batch_init(&b, EP(F1E_SESSION_RESULT));
	if (DECODE_OK(&b, J(session_result_9189_first), 1) &&
		DECODE_OK(&b, J(session_result_9606_first), 1) &&
		DECODE_OK(&b, J(session_result_9606_second), 1) &&
		DECODE_OK(&b, J(session_result_9606_lapped), 1) &&
		DECODE_OK(&b, J(session_result_9189_dnf), 1))
	{
		CHECK_INT(&b, 0, "session_key", 9189);
		CHECK_INT(&b, 0, "driver_number", 1);
		CHECK_INT(&b, 0, "meeting_key", 1225);
		CHECK_INT(&b, 0, "position", 1);
		CHECK_INT(&b, 0, "number_of_laps", 50);
		CHECK_BOOL(&b, 0, "dnf", false);
		CHECK_BOOL(&b, 0, "dns", false);
		CHECK_BOOL(&b, 0, "dsq", false);
		CHECK_F8(&b, 0, "duration", 5348.289);
		CHECK_NULL(&b, 0, "duration_q");
		CHECK_F8(&b, 0, "gap_to_leader", 0.0);	/* the integer 0 */
		CHECK_NULL(&b, 0, "gap_to_leader_laps");
		CHECK_NULL(&b, 0, "gap_to_leader_q");
		CHECK_F8(&b, 0, "points", 25.0);
		CHECK_INT(&b, 1, "driver_number", 4);
		CHECK_F8(&b, 1, "duration", 6052.571);
		CHECK_F8(&b, 1, "gap_to_leader", 0.0);
		CHECK_F8(&b, 2, "gap_to_leader", 20.945);
		CHECK_NULL(&b, 2, "gap_to_leader_laps");
		/* 9606 position 8: "+1 LAP", duration null */
		CHECK_INT(&b, 3, "driver_number", 14);
		CHECK_INT(&b, 3, "position", 8);
		CHECK_INT(&b, 3, "number_of_laps", 61);
		CHECK_NULL(&b, 3, "duration");
		CHECK_NULL(&b, 3, "duration_q");
		CHECK_NULL(&b, 3, "gap_to_leader");
		CHECK_INT(&b, 3, "gap_to_leader_laps", 1);
		CHECK_NULL(&b, 3, "gap_to_leader_q");
		CHECK_F8(&b, 3, "points", 4.0);
		/* 9189 driver 4: retired on lap 3, no position */
		CHECK_INT(&b, 4, "driver_number", 4);
		CHECK_NULL(&b, 4, "position");
		CHECK_BOOL(&b, 4, "dnf", true);
		CHECK_NULL(&b, 4, "duration");
		CHECK_NULL(&b, 4, "gap_to_leader");
		CHECK_NULL(&b, 4, "gap_to_leader_laps");
		CHECK_NULL(&b, 4, "gap_to_leader_q");
	}
	f1_batch_free(&b);
	end_case();

	begin_case("starting_grid: the qualifying session's key, a null lap_duration");
	f1_batch_init(&b, EP(F1E_STARTING_GRID));
	if (DECODE_OK(&b, J(starting_grid_9189_first), 1) &&
		DECODE_OK(&b, J(starting_grid_9606_first), 1) &&
		DECODE_OK(&b, J(starting_grid_9606_no_time), 1))
	{
		CHECK_INT(&b, 0, "session_key", 9314);
		CHECK_INT(&b, 0, "meeting_key", 1225);
		CHECK_INT(&b, 0, "driver_number", 16);
		CHECK_INT(&b, 0, "position", 1);
		CHECK_F8(&b, 0, "lap_duration", 92.726);
		CHECK_INT(&b, 1, "session_key", 9602);
		CHECK_INT(&b, 1, "driver_number", 4);
		CHECK_F8(&b, 1, "lap_duration", 89.525);
		CHECK_INT(&b, 2, "position", 9);
		CHECK_INT(&b, 2, "driver_number", 16);
		CHECK_NULL(&b, 2, "lap_duration");
	}
	f1_batch_free(&b);
	end_case();
}

/* ---- test: hand-written records of the endpoints with no recorded data ------- */

static void
test_handwritten_records(void)
{
	F1Batch		b;

	begin_case("intervals (hand-written): seconds, \"+N LAP(S)\", the leader");
	f1_batch_init(&b, EP(F1E_INTERVALS));
	if (DECODE_OK(&b, J(intervals_hw_close), 1) && DECODE_OK(&b, J(intervals_hw_lapped), 1) &&
		DECODE_OK(&b, J(intervals_hw_leader), 1))
	{
		CHECK_INT(&b, 0, "session_key", 9606);
		CHECK_INT(&b, 0, "driver_number", 81);
		CHECK_TS(&b, 0, "date", INT64_C(780325200123000));
		CHECK_INT(&b, 0, "meeting_key", 1246);
		CHECK_F8(&b, 0, "gap_to_leader", 41.019);
		CHECK_NULL(&b, 0, "gap_to_leader_laps");
		CHECK_F8(&b, 0, "interval", 0.903);
		CHECK_NULL(&b, 0, "interval_laps");
		CHECK_NULL(&b, 1, "gap_to_leader");
		CHECK_INT(&b, 1, "gap_to_leader_laps", 2);
		CHECK_NULL(&b, 1, "interval");
		CHECK_INT(&b, 1, "interval_laps", 1);
		CHECK_NULL(&b, 2, "gap_to_leader");
		CHECK_NULL(&b, 2, "gap_to_leader_laps");
		CHECK_F8(&b, 2, "interval", 0.0);
		CHECK_NULL(&b, 2, "interval_laps");
	}
	f1_batch_free(&b);
	end_case();

	begin_case("pit (hand-written): lane_duration and stop_duration, no pit_duration");
	f1_batch_init(&b, EP(F1E_PIT));
	if (DECODE_OK(&b, J(pit_hw_lane_stop), 1))
	{
		CHECK_INT(&b, 0, "lap_number", 30);
		CHECK_NULL(&b, 0, "pit_duration");
		CHECK_F8(&b, 0, "lane_duration", 29.812);
		CHECK_F8(&b, 0, "stop_duration", 2.4);
	}
	f1_batch_free(&b);
	end_case();

	begin_case("weather (hand-written): a date with a space for the 'T'");
	f1_batch_init(&b, EP(F1E_WEATHER));
	if (DECODE_OK(&b, J(weather_hw_space_date), 1))
		CHECK_TS(&b, 0, "date", INT64_C(780318466576000) + INT64_C(60000000));
	f1_batch_free(&b);
	end_case();

	begin_case("team_radio and the championships (hand-written)");
	f1_batch_init(&b, EP(F1E_TEAM_RADIO));
	if (DECODE_OK(&b, J(team_radio_hw), 1))
	{
		CHECK_INT(&b, 0, "driver_number", 4);
		CHECK_STR(&b, 0, "recording_url", "https://example.invalid/team_radio/4_121000.mp3");
	}
	f1_batch_free(&b);
	f1_batch_init(&b, EP(F1E_CHAMPIONSHIP_DRIVERS));
	if (DECODE_OK(&b, J(championship_drivers_hw), 1))
	{
		CHECK_INT(&b, 0, "driver_number", 4);
		CHECK_INT(&b, 0, "position_start", 2);
		CHECK_INT(&b, 0, "position_current", 2);
		CHECK_F8(&b, 0, "points_start", 100.0);
		CHECK_F8(&b, 0, "points_current", 125.0);	/* a JSON integer */
	}
	f1_batch_free(&b);
	f1_batch_init(&b, EP(F1E_CHAMPIONSHIP_TEAMS));
	if (DECODE_OK(&b, J(championship_teams_hw), 1))
	{
		CHECK_INT(&b, 0, "session_key", 9606);
		CHECK_STR(&b, 0, "team_name", "McLaren");
		CHECK_INT(&b, 0, "position_current", 1);
		CHECK_F8(&b, 0, "points_current", 244.0);
	}
	f1_batch_free(&b);
	end_case();
}

HARNESS_MAIN(test_race_records(); test_handwritten_records();)
