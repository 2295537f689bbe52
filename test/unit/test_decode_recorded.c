/*
 * test/unit/test_decode_recorded.c — every record of the recorded OpenF1
 * sessions through the decoder (src/ingest/decode.c), and its speed.
 *
 * Reads the sessions in F1TEL_DATA (default test/data/openf1 in the
 * repository; they ship with it, so missing data is a failure): each file's
 * records, one message per record as the feed sends them, must all be
 * accepted but for the known null dates of 9606's car_data, and the whole
 * file as one message (as the API returns it) must give as many rows.
 * All the endpoints the sessions have, the race ones with them (pit,
 * stints, weather, overtakes, session_result, starting_grid), and the
 * shapes of the classifications' gaps.  Prints the decode speed of 9189's
 * car_data in CPU time.
 *
 * The harness is test/unit/harness.h: one line per failed check, then "N
 * passed, N failed" (N counting test cases), exit status non-zero on any
 * failure.  `make unit` runs it; it finds the repository root from the
 * current directory or else from its own path.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ingest/decode.h"

#include "harness.h"
#include "decode_check.h"
#include "read_file.h"

/* ---- test: every record of the recorded sessions --------------------------- */

static const struct
{
	const char *session;
	const char *file;
	F1EndpointId ep;
	int			records;		/* from the data's README */
	int			null_dates;		/* records rejected as missing "date" */
}			data_files[] = {
	{"9189", "laps.json", F1E_LAPS, 949, 0},
	{"9189", "position.json", F1E_POSITION, 548, 0},
	{"9189", "drivers.json", F1E_DRIVERS, 20, 0},
	{"9189", "race_control.json", F1E_RACE_CONTROL, 73, 0},
	{"9189", "sessions.json", F1E_SESSIONS, 1, 0},
	{"9189", "meetings.json", F1E_MEETINGS, 1, 0},
	{"9189", "car_data.json.gz", F1E_CAR_DATA, 488120, 0},
	{"9189", "location.json.gz", F1E_LOCATION, 74343, 0},
	{"9189", "pit.json", F1E_PIT, 31, 0},
	{"9189", "stints.json", F1E_STINTS, 51, 0},
	{"9189", "weather.json", F1E_WEATHER, 108, 0},
	{"9189", "overtakes.json", F1E_OVERTAKES, 341, 0},
	{"9189", "session_result.json", F1E_SESSION_RESULT, 20, 0},
	{"9189", "starting_grid.json", F1E_STARTING_GRID, 20, 0},
	{"9606", "laps.json", F1E_LAPS, 1179, 0},
	{"9606", "position.json", F1E_POSITION, 396, 0},
	{"9606", "drivers.json", F1E_DRIVERS, 20, 0},
	{"9606", "race_control.json", F1E_RACE_CONTROL, 61, 0},
	{"9606", "sessions.json", F1E_SESSIONS, 1, 0},
	{"9606", "meetings.json", F1E_MEETINGS, 1, 0},
	{"9606", "car_data.json.gz", F1E_CAR_DATA, 109017, 105},
	{"9606", "location.json.gz", F1E_LOCATION, 111273, 0},
	{"9606", "pit.json", F1E_PIT, 23, 0},
	{"9606", "stints.json", F1E_STINTS, 43, 0},
	{"9606", "weather.json", F1E_WEATHER, 160, 0},
	{"9606", "overtakes.json", F1E_OVERTAKES, 216, 0},
	{"9606", "session_result.json", F1E_SESSION_RESULT, 20, 0},
	{"9606", "starting_grid.json", F1E_STARTING_GRID, 20, 0},
};

static double
now_seconds(void)
{
	struct timespec t;

	/* CPU time: the machine may be busy with other work */
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void
test_recorded_data(void)
{
	const char *dir = getenv("F1TEL_DATA");
	char		defdir[4200];
	char		path[4400];

	if (dir == NULL || dir[0] == '\0')
	{
		snprintf(defdir, sizeof(defdir), "%s/test/data/openf1", repo_root);
		dir = defdir;
	}
	snprintf(path, sizeof(path), "%s/9189/laps.json", dir);
	if (access(path, R_OK) != 0)
	{
		/*
		 * The sessions ship with the repository: missing data is a failure,
		 * counted in a case of its own (a check outside a case is not).
		 */
		begin_case("data: the recorded sessions are there");
		CHECKF(false, "no OpenF1 data in %s (F1TEL_DATA)", dir);
		end_case();
		return;
	}

	for (size_t f = 0; f < sizeof(data_files) / sizeof(data_files[0]); f++)
	{
		const F1Endpoint *ep = EP(data_files[f].ep);
		char		name[200];
		char	   *text;
		size_t		len,
					pos = 0,
					start,
					end;
		size_t	   *bounds = NULL;
		int			nbounds = 0;
		int			records = 0,
					accepted = 0,
					null_dates = 0,
					other = 0;
		F1Batch		b;
		char		err[ERRLEN];
		double		t0,
					t1;

		snprintf(name, sizeof(name), "data %s/%s: every record decodes",
				 data_files[f].session, data_files[f].file);
		begin_case(name);
		snprintf(path, sizeof(path), "%s/%s/%s", dir, data_files[f].session,
				 data_files[f].file);
		text = read_file(path, &len);
		if (!CHECKF(text != NULL, "cannot read %s", path))
		{
			end_case();
			continue;
		}
		f1_batch_init(&b, ep);

		/* where the records are, first, so that only decoding is timed */
		while (next_record(text, len, &pos, &start, &end))
		{
			if (records == nbounds)
			{
				size_t	   *nb;

				nbounds = nbounds ? 2 * nbounds : 1024;
				nb = realloc(bounds, sizeof(size_t) * 2 * nbounds);
				if (nb == NULL)
				{
					fprintf(stderr, "out of memory\n");
					exit(2);
				}
				bounds = nb;
			}
			bounds[2 * records] = start;
			bounds[2 * records + 1] = end;
			records++;
		}

		/* one message per record, as the feed sends them */
		t0 = now_seconds();
		for (int i = 0; i < records; i++)
		{
			int			rc;

			if (b.nrows >= 8192)
				f1_batch_reset(&b);
			rc = f1_decode_message(&b, text + bounds[2 * i],
								   bounds[2 * i + 1] - bounds[2 * i], 0, i,
								   err, sizeof(err));
			if (rc == 1)
				accepted++;
			else if (strcmp(err, "car_data: missing key field \"date\"") == 0)
				null_dates++;
			else if (other++ < 3)
				CHECKF(false, "record %d: rc %d: %s", i, rc, err);
		}
		t1 = now_seconds();
		free(bounds);
		CHECKF(records == data_files[f].records, "%d records, want %d",
			   records, data_files[f].records);
		CHECKF(accepted == records - data_files[f].null_dates, "%d of %d accepted",
			   accepted, records);
		CHECKF(null_dates == data_files[f].null_dates, "%d null dates, want %d",
			   null_dates, data_files[f].null_dates);
		CHECK(other == 0);
		if (strcmp(data_files[f].session, "9189") == 0 && data_files[f].ep == F1E_CAR_DATA)
			printf("speed: 9189 car_data: %d records in %.3f s CPU, %.0f records/s "
				   "(one message per record%s)\n", records, t1 - t0,
				   records / (t1 - t0),
#if defined(__SANITIZE_ADDRESS__)
				   ", ASan/UBSan build"
#else
				   ""
#endif
				);

		/* the whole file as one message, as the API returns it */
		if (len < 4 * 1024 * 1024)
		{
			int			rc;

			f1_batch_reset(&b);
			rc = f1_decode_message(&b, text, len, 0, 0, err, sizeof(err));
			if (data_files[f].null_dates == 0)
				CHECKF(rc == records && b.nrows == records,
					   "whole file: rc %d: %s", rc, rc < 0 ? err : "");
			else
				CHECK(rc == -1 && b.nrows == 0);
		}
		f1_batch_free(&b);
		free(text);
		end_case();
	}
}

/*
 * The gaps of the recorded classifications, as the data's README counts
 * them: 9189's finishers are all on the lead lap (the winner's gap the
 * integer 0), 9606 has eleven cars a lap down ("+1 LAP", positions 8-18);
 * the retired cars have null gaps.  No qualifying arrays in races.
 */
static void
test_recorded_gaps(void)
{
	static const struct
	{
		const char *session;
		int			seconds,
					laps,
					nulls;
		int			grid_session;	/* starting_grid: the qualifying session */
		int			grid_no_time;	/* starting_grid rows with a null lap_duration */
	}			sessions[] = {
		{"9189", 17, 0, 3, 9314, 0},
		{"9606", 7, 11, 2, 9602, 2},
	};
	const char *dir = getenv("F1TEL_DATA");
	char		defdir[4200];

	if (dir == NULL || dir[0] == '\0')
	{
		snprintf(defdir, sizeof(defdir), "%s/test/data/openf1", repo_root);
		dir = defdir;
	}
	for (size_t i = 0; i < sizeof(sessions) / sizeof(sessions[0]); i++)
	{
		char		name[100];
		char		path[4400];
		char		err[ERRLEN];
		char	   *text;
		size_t		len;
		F1Batch		b;
		int			seconds = 0,
					laps = 0,
					nulls = 0,
					no_time = 0;

		snprintf(name, sizeof(name), "data %s: session_result gaps, starting_grid",
				 sessions[i].session);
		begin_case(name);
		snprintf(path, sizeof(path), "%s/%s/session_result.json", dir, sessions[i].session);
		text = read_file(path, &len);
		f1_batch_init(&b, EP(F1E_SESSION_RESULT));
		if (CHECKF(text != NULL, "cannot read %s", path) &&
			CHECKF(f1_decode_message(&b, text, len, 0, 0, err, sizeof(err)) == 20, "%s", err))
		{
			for (int r = 0; r < b.nrows; r++)
			{
				bool		s = !is_null(&b, r, "gap_to_leader"),
							l = !is_null(&b, r, "gap_to_leader_laps");

				CHECK(!(s && l));
				seconds += s;
				laps += l;
				nulls += !s && !l;
				CHECK(is_null(&b, r, "gap_to_leader_q") && is_null(&b, r, "duration_q"));
				if (l)
					CHECK_INT(&b, r, "gap_to_leader_laps", 1);
			}
			CHECKF(seconds == sessions[i].seconds && laps == sessions[i].laps &&
				   nulls == sessions[i].nulls, "%d in seconds, %d in laps, %d null",
				   seconds, laps, nulls);
			CHECK_F8(&b, 0, "gap_to_leader", 0.0);
		}
		f1_batch_free(&b);
		free(text);

		snprintf(path, sizeof(path), "%s/%s/starting_grid.json", dir, sessions[i].session);
		text = read_file(path, &len);
		f1_batch_init(&b, EP(F1E_STARTING_GRID));
		if (CHECKF(text != NULL, "cannot read %s", path) &&
			CHECKF(f1_decode_message(&b, text, len, 0, 0, err, sizeof(err)) == 20, "%s", err))
		{
			for (int r = 0; r < b.nrows; r++)
			{
				CHECK_INT(&b, r, "session_key", sessions[i].grid_session);
				no_time += is_null(&b, r, "lap_duration");
			}
			CHECKF(no_time == sessions[i].grid_no_time, "%d null lap_duration", no_time);
		}
		f1_batch_free(&b);
		free(text);
		end_case();
	}
}

HARNESS_MAIN(test_recorded_data(); test_recorded_gaps();)
