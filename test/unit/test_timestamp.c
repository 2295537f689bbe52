/*
 * test/unit/test_timestamp.c — unit tests of the OpenF1 timestamp parser,
 * f1_parse_timestamp() in src/ingest/timestamp.c: the values PostgreSQL 15
 * computes for the same text (offsets, fractions rounded half to even past
 * microseconds, leap days, the ends of the range) and the texts it refuses,
 * with the length honoured (no reading past it, no NUL needed).
 *
 * Timestamps inside records are test_decode_fields.c's and
 * test_decode_messages.c's.  The harness is test/unit/harness.h: one line per
 * failed check, then "N passed, N failed" (N counting test cases), exit
 * status non-zero on any failure.  `make unit` runs it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ingest/decode.h"

#include "harness.h"

/* ---- test: timestamps ---------------------------------------------------- */

static void
test_timestamps(void)
{
	/* values from PostgreSQL 15 with TimeZone UTC:
	 * extract(epoch from 'x'::timestamptz) * 1000000 - 946684800000000 */
	static const struct
	{
		const char *s;
		int64_t		ts;
	}			good[] = {
		{"2000-01-01T00:00:00Z", 0},
		{"2023-11-19T05:57:18+00:00", INT64_C(753688638000000)},
		{"2023-11-19T06:04:05.009000+00:00", INT64_C(753689045009000)},
		{"2023-11-19 06:04:05.009", INT64_C(753689045009000)},
		{"2023-11-19T06:04:05.009", INT64_C(753689045009000)},
		{"2024-09-22T12:03:57.136000+00:00", INT64_C(780321837136000)},
		{"2023-11-19T05:57:18+05:30", INT64_C(753668838000000)},
		{"2023-11-19T05:57:18-08:00", INT64_C(753717438000000)},
		{"2023-11-19T05:57:18+0530", INT64_C(753668838000000)},
		{"2023-11-19T05:57:18+05", INT64_C(753670638000000)},
		{"2023-11-19T05:57:18-00:30", INT64_C(753690438000000)},
		{"2023-11-19T05:57:18.5Z", INT64_C(753688638500000)},
		{"2023-11-19T05:57:18.5z", INT64_C(753688638500000)},
		{"2000-01-01T00:00:00.0000005Z", 0},
		{"2000-01-01T00:00:00.0000015Z", 2},
		{"2000-01-01T00:00:00.0000025Z", 2},
		{"2000-01-01T00:00:00.0000035Z", 4},
		{"2000-01-01T00:00:00.00000051Z", 1},
		{"2000-01-01T00:00:00.1234564999Z", 123456},
		{"2000-01-01T00:00:00.9999995Z", 1000000},
		{"1999-12-31T23:59:59.9999995Z", 0},
		{"2023-11-19T05:57:18.123456789+01:00", INT64_C(753685038123457)},
		{"0001-01-01T00:00:00Z", INT64_C(-63082281600000000)},
		{"9999-12-31T23:59:59.999999Z", INT64_C(252455615999999999)},
		{"2024-02-29T12:00:00Z", INT64_C(762523200000000)},
		{"2000-02-29T00:00:00Z", INT64_C(5097600000000)},
		{"1900-03-01T00:00:00Z", INT64_C(-3150576000000000)},
		{"1999-12-31T23:59:59.999999Z", -1},
		{"2023-11-19T23:59:59+15:59", INT64_C(753696059000000)},
		{"1970-01-01T00:00:00Z", INT64_C(-946684800000000)},
		{"2038-01-19T03:14:08Z", INT64_C(1200798848000000)},
	};
	static const char *bad[] = {
		"", "2023", "2023-11-19", "2023-11-19T", "2023-11-19T05:57",
		"2023-13-01T00:00:00Z", "2023-00-01T00:00:00Z", "2023-02-30T00:00:00Z",
		"2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2023-11-31T00:00:00Z",
		"2023-11-19T24:00:00Z", "2023-11-19T23:60:00Z", "2023-11-19T23:59:60Z",
		"2023-11-19T05:57:18.", "2023-11-19T05:57:18.Z", "2023-11-19T05:57:18+",
		"2023-11-19T05:57:18+1", "2023-11-19T05:57:18+16", "2023-11-19T05:57:18+05:3",
		"2023-11-19T05:57:18+05:60", "2023-11-19T05:57:18+05:30:00",
		"2023-11-19T05:57:18ZZ", "2023-11-19T05:57:18 ", " 2023-11-19T05:57:18",
		"2023-11-19t05:57:18", "2023-11-19T05:57:18.5.5", "0000-12-31T00:00:00Z",
		"2023-1-19T05:57:18Z", "2023-11-19T5:57:18Z", "20231119T055718Z",
		"2023-11-19T05:57:18-0", "abcd-ef-ghTij:kl:mn",
	};
	int64_t		ts;

	begin_case("timestamps: values PostgreSQL gives");
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
	{
		ts = INT64_MIN;
		CHECKF(f1_parse_timestamp(good[i].s, strlen(good[i].s), &ts) && ts == good[i].ts,
			   "%s: got %lld, want %lld", good[i].s, (long long) ts, (long long) good[i].ts);
	}
	end_case();

	begin_case("timestamps: rejected");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECKF(!f1_parse_timestamp(bad[i], strlen(bad[i]), &ts), "accepted \"%s\"", bad[i]);
	CHECK(!f1_parse_timestamp(NULL, 0, &ts));
	/* the length is honoured: no reading past it, no NUL needed */
	CHECK(!f1_parse_timestamp("2023-11-19T05:57:18Z", 18, &ts));
	CHECK(f1_parse_timestamp("2023-11-19T05:57:18Zxxx", 20, &ts) &&
		  ts == INT64_C(753688638000000));
	CHECK(!f1_parse_timestamp("2023-11-19T05:57:18\0Z", 21, &ts));
	end_case();
}

HARNESS_MAIN(test_timestamps();)
