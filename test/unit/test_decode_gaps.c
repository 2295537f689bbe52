/*
 * test/unit/test_decode_gaps.c — unit tests of the gap fields: OpenF1's
 * gaps and times that come as seconds, null, "+N LAP(S)" or, in
 * qualifying, an array of three (F1T_GAP and its F1T_GAP_LAPS and F1T_GAP_Q
 * columns, src/shared/endpoints.h), and of f1_parse_laps_behind()
 * (src/ingest/gap.c), the reader of "+N LAP(S)".
 *
 * The decoder (src/ingest/decode.c), on every shape: a number of seconds as
 * a JSON integer and a float, null and a missing field, "+1 LAP" and "+2
 * LAPS" into the "_laps" column, a qualifying array into the "_q" column
 * as a float8[] literal that reads back as the very doubles, and the
 * refusals with their reasons: strings that are almost "+N LAP(S)", N out
 * of the column's range, an array where only seconds and laps may be
 * (intervals), arrays too long or with a string in them, other JSON types,
 * a missing key, and championship_teams' text key.  The records are
 * HAND-WRITTEN: the recorded sessions have no intervals and no
 * qualifying; the real race rows are test_decode_race.c's.
 *
 * f1_parse_laps_behind()'s contract (decode.h): "+N LAP" or "+N LAPS", N a decimal integer of
 * at most 9 digits, the one "+" and no other sign, one space, LAP(S) in
 * capitals; anything else is refused and *n left alone.  Checked here at
 * its edges: the shortest and longest accepted strings, 9 and 10 digits,
 * leading zeros, every way of being almost right (case, spaces, signs,
 * suffixes, prefixes), lengths that cut a valid string short (so that
 * nothing is read past len), and bytes that are not ASCII.  Whether N is
 * in its column's range is the decoder's business (test_decode_fields.c).
 *
 * The harness is test/unit/harness.h: one line per failed check, then "N
 * passed, N failed" (N counting test cases).  `make unit` runs it.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/decode.h"

#include "harness.h"
#include "decode_check.h"
#include "handwritten_records.h"

#define UNTOUCHED INT64_C(-777)

/*
 * s (of length len, in a buffer of exactly that size, so that ASan sees a
 * read past len) parsed; *n as the function left it.
 */
static bool
parse(const char *s, size_t len, int64_t *n)
{
	char	   *copy = malloc(len > 0 ? len : 1);
	bool		ok;

	if (copy == NULL)
		exit(2);
	memcpy(copy, s, len);
	*n = UNTOUCHED;
	ok = f1_parse_laps_behind(copy, len, n);
	free(copy);
	return ok;
}

static void
accepted(const char *s, int64_t want)
{
	int64_t		n;
	bool		ok = parse(s, strlen(s), &n);

	/* (n is read after the call: arguments are not sequenced) */
	CHECKF(ok && n == want, "\"%s\": want %lld, got %s %lld", s, (long long) want,
		   ok ? "accepted" : "refused", (long long) n);
}

static void
refused_len(const char *s, size_t len)
{
	int64_t		n;
	bool		ok = parse(s, len, &n);

	CHECKF(!ok, "\"%.*s\" (length %zu) accepted as %lld", (int) len, s, len, (long long) n);
	CHECKF(n == UNTOUCHED, "\"%.*s\": *n written although refused", (int) len, s);
}

static void
refused(const char *s)
{
	refused_len(s, strlen(s));
}

static void
test_accepted(void)
{
	begin_case("accepted: +N LAP and +N LAPS");
	accepted("+1 LAP", 1);		/* the shortest: 6 bytes */
	accepted("+2 LAPS", 2);
	accepted("+1 LAPS", 1);		/* the API's grammar is not checked */
	accepted("+3 LAP", 3);
	accepted("+10 LAPS", 10);
	accepted("+0 LAP", 0);		/* range is the column's (min 1) */
	accepted("+007 LAPS", 7);	/* leading zeros are digits */
	accepted("+123456789 LAPS", 123456789);	/* 9 digits: the most */
	accepted("+999999999 LAP", 999999999);
	accepted("+000000001 LAP", 1);
	end_case();

	begin_case("accepted: only len bytes are read");
	{
		int64_t		n;
		const char *s = "+1 LAPS";

		/* "+1 LAP" of "+1 LAPS" */
		CHECK(parse(s, 6, &n) && n == 1);
		CHECK(parse("+12 LAPS", 7, &n) && n == 12);
		/* bytes after len do not matter, even a NUL inside */
		CHECK(f1_parse_laps_behind("+4 LAP\0junk", 6, &n) && n == 4);
		CHECK(f1_parse_laps_behind("+5 LAPSxyz", 7, &n) && n == 5);
	}
	end_case();
}

static void
test_refused(void)
{
	begin_case("refused: the decoder's examples");
	refused("+1 lap");
	refused("1 LAP");
	refused("+ LAP");
	refused("+1LAP");
	refused("+1234567890 LAPS");	/* 10 digits */
	refused("abc");
	refused("");
	end_case();

	begin_case("refused: case, spaces, signs");
	refused("+1 Lap");
	refused("+1 LAp");
	refused("+2 laps");
	refused("+2 LAPs");
	refused("+1  LAP");			/* two spaces */
	refused("+1\tLAP");
	refused(" +1 LAP");
	refused("+1 LAP ");
	refused("+ 1 LAP");
	refused("++1 LAP");
	refused("-1 LAP");
	refused("+-1 LAP");
	refused("1+ LAP");
	refused("+1.5 LAPS");
	refused("+1,000 LAPS");
	refused("+1e3 LAPS");
	refused("+0x1 LAP");
	end_case();

	begin_case("refused: other words, missing parts");
	refused("+");
	refused("+1");
	refused("+1 ");
	refused("+1 L");
	refused("+1 LA");
	refused("+12");
	refused("+123456");			/* 7 bytes, all digits */
	refused("+1 LAPSS");
	refused("+1 LAPX");
	refused("+1 LAPSE");
	refused("+1 LAPS LAP");
	refused("+1 LAP+1 LAP");
	refused("+1 SEC");
	refused("+1 LAPS\n");
	refused("LAP");
	refused("+LAPS");
	refused("DNF");
	refused("1:23.456");
	refused("+12.345");			/* a gap in seconds, as a string */
	refused("0");
	end_case();

	begin_case("refused: 10 or more digits, however written");
	refused("+1234567890 LAP");
	refused("+0000000001 LAP");	/* 10 digits, even if the value is small */
	refused("+99999999999999999999 LAPS");
	refused("+9223372036854775808 LAPS");
	end_case();

	begin_case("refused: cut short by len");
	refused_len("+1 LAP", 5);
	refused_len("+1 LAP", 0);
	refused_len("+1 LAP", 1);
	refused_len("+12 LAPS", 6);	/* "+12 LA" */
	refused_len("+12 LAPS", 4);
	refused_len("+123456789 LAPS", 10);
	end_case();

	begin_case("refused: bytes that are not ASCII");
	refused("+\xd9\xa1 LAP");	/* ARABIC-INDIC DIGIT ONE */
	refused("+\xef\xbc\x91 LAP");	/* FULLWIDTH DIGIT ONE */
	refused("+1\xc2\xa0LAP");	/* NO-BREAK SPACE */
	refused("+1 L\xc3\x80P");
	refused_len("+1\0LAP", 6);
	refused_len("\0+1 LAP", 7);
	end_case();
}

/* ---- the decoder: every shape of a gap field ----------------------------- */

/*
 * HAND-WRITTEN records, in the shapes OpenF1 documents: intervals (none
 * recorded) and session_result of a qualifying session (none recorded),
 * around the fields under test.  ' for ", through J().
 */
#define INTV(fields) "{'session_key':9606,'driver_number':14,'date':'2024-09-22T13:00:00Z'" fields "}"
#define SR(fields) "{'session_key':9602,'driver_number':44" fields "}"

#define NO_LAPS (-1)

static void
test_intervals_shapes(void)
{
	static const struct
	{
		const char *json;
		bool		secs_null;
		double		secs;
		int			laps;		/* NO_LAPS: NULL */
	}			cases[] = {
		{INTV(",'gap_to_leader':41"), false, 41.0, NO_LAPS},	/* a JSON integer */
		{INTV(",'gap_to_leader':0"), false, 0.0, NO_LAPS},
		{INTV(",'gap_to_leader':41.019"), false, 41.019, NO_LAPS},
		{INTV(",'gap_to_leader':1.5e1"), false, 15.0, NO_LAPS},
		{INTV(",'gap_to_leader':-0.25"), false, -0.25, NO_LAPS},	/* not range-checked */
		{INTV(",'gap_to_leader':null"), true, 0, NO_LAPS},
		{INTV(""), true, 0, NO_LAPS},	/* missing */
		{INTV(",'gap_to_leader':'+1 LAP'"), true, 0, 1},
		{INTV(",'gap_to_leader':'+2 LAPS'"), true, 0, 2},
		{INTV(",'gap_to_leader':'+10000 LAPS'"), true, 0, 10000},	/* the column's max */
	};
	F1Batch		b;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char		name[200];

		snprintf(name, sizeof(name), "intervals: %s", cases[i].json);
		begin_case(name);
		f1_batch_init(&b, EP(F1E_INTERVALS));
		if (DECODE_OK(&b, J(cases[i].json), 1))
		{
			if (cases[i].secs_null)
				CHECK_NULL(&b, 0, "gap_to_leader");
			else
				CHECK_F8(&b, 0, "gap_to_leader", cases[i].secs);
			if (cases[i].laps == NO_LAPS)
				CHECK_NULL(&b, 0, "gap_to_leader_laps");
			else
				CHECK_INT(&b, 0, "gap_to_leader_laps", cases[i].laps);
			/* the other field, absent, is NULL in both its columns */
			CHECK_NULL(&b, 0, "interval");
			CHECK_NULL(&b, 0, "interval_laps");
		}
		f1_batch_free(&b);
		end_case();
	}

	begin_case("intervals: both fields, laps and seconds mixed, in one array");
	f1_batch_init(&b, EP(F1E_INTERVALS));
	if (DECODE_OK(&b, J("[" INTV(",'gap_to_leader':'+3 LAPS','interval':'+1 LAP'") ","
						INTV(",'gap_to_leader':'+1 LAP','interval':12.5") ","
						INTV(",'gap_to_leader':95.25,'interval':'+1 LAP'") "]"), 3))
	{
		CHECK_NULL(&b, 0, "gap_to_leader");
		CHECK_INT(&b, 0, "gap_to_leader_laps", 3);
		CHECK_NULL(&b, 0, "interval");
		CHECK_INT(&b, 0, "interval_laps", 1);
		CHECK_INT(&b, 1, "gap_to_leader_laps", 1);
		CHECK_F8(&b, 1, "interval", 12.5);
		CHECK_NULL(&b, 1, "interval_laps");
		CHECK_F8(&b, 2, "gap_to_leader", 95.25);
		CHECK_NULL(&b, 2, "gap_to_leader_laps");
		CHECK_INT(&b, 2, "interval_laps", 1);
	}
	f1_batch_free(&b);
	end_case();
}

/*
 * A float8[] literal of the decoder ("{89.5,NULL,88.1}") reads back, with
 * strtod as PostgreSQL's float8in does, as exactly the doubles want (n of
 * them, NAN for NULL; bit for bit, so -0 stays -0).
 */
static void
check_literal_doubles(const F1Batch *b, const char *column, const double *want, int n)
{
	const F1Value *v = val(b, 0, column);
	char		lit[256];
	char	   *p;
	int			i = 0;

	if (!CHECKF(!v->isnull && v->v.str.len < sizeof(lit), "%s: NULL or too long", column))
		return;
	memcpy(lit, b->pool + v->v.str.off, v->v.str.len);
	lit[v->v.str.len] = '\0';
	if (!CHECKF(lit[0] == '{' && lit[v->v.str.len - 1] == '}', "%s: \"%s\"", column, lit))
		return;
	lit[v->v.str.len - 1] = '\0';
	p = lit + 1;
	while (*p != '\0' || (i == 0 && n > 0))
	{
		char	   *end;
		double		d;

		if (!CHECKF(i < n, "%s: more elements than %d", column, n))
			return;
		if (strncmp(p, "NULL", 4) == 0)
		{
			CHECKF(isnan(want[i]), "%s element %d: NULL", column, i);
			end = p + 4;
		}
		else
		{
			d = strtod(p, &end);
			CHECKF(end != p && !isnan(want[i]) &&
				   memcmp(&d, &want[i], sizeof(d)) == 0,
				   "%s element %d: \"%.*s\" reads as %.17g, want %.17g", column, i,
				   (int) (end - p), p, d, want[i]);
		}
		i++;
		if (*end == ',')
			end++;
		else if (!CHECKF(*end == '\0', "%s: junk \"%s\"", column, end))
			return;
		p = end;
	}
	CHECKF(i == n, "%s: %d elements, want %d", column, i, n);
}

static void
test_qualifying_shapes(void)
{
	F1Batch		b;

	begin_case("session_result (hand-written qualifying): duration [89.5, null, 88.1]");
	f1_batch_init(&b, EP(F1E_SESSION_RESULT));
	if (DECODE_OK(&b, J(SR(",'duration':[89.5,null,88.1]")), 1))
	{
		static const double want[] = {89.5, NAN, 88.1};

		CHECK_NULL(&b, 0, "duration");
		CHECK_STR(&b, 0, "duration_q", "{89.5,NULL,88.1}");
		check_literal_doubles(&b, "duration_q", want, 3);
		CHECK_NULL(&b, 0, "gap_to_leader");
		CHECK_NULL(&b, 0, "gap_to_leader_laps");
		CHECK_NULL(&b, 0, "gap_to_leader_q");
	}
	f1_batch_free(&b);
	end_case();

	begin_case("session_result (hand-written qualifying): the whole record");
	f1_batch_init(&b, EP(F1E_SESSION_RESULT));
	if (DECODE_OK(&b, J(session_result_hw_quali), 1))
	{
		static const double gap[] = {0.412, NAN, 0.316};

		CHECK_INT(&b, 0, "session_key", 9602);
		CHECK_INT(&b, 0, "position", 3);
		CHECK_NULL(&b, 0, "points");
		CHECK_STR(&b, 0, "duration_q", "{89.5,NULL,88.1}");
		CHECK_STR(&b, 0, "gap_to_leader_q", "{0.412,NULL,0.316}");
		check_literal_doubles(&b, "gap_to_leader_q", gap, 3);
		CHECK_NULL(&b, 0, "gap_to_leader");
		CHECK_NULL(&b, 0, "gap_to_leader_laps");
	}
	f1_batch_free(&b);
	end_case();

	begin_case("session_result (hand-written): arrays of integers, nulls, fewer than three");
	{
		static const struct
		{
			const char *json;
			const char *column;
			const char *literal;
		}			cases[] = {
			{SR(",'gap_to_leader':[0,0.203,null]"), "gap_to_leader_q", "{0,0.203,NULL}"},
			{SR(",'gap_to_leader':[null,null,null]"), "gap_to_leader_q", "{NULL,NULL,NULL}"},
			{SR(",'duration':[90,91,92]"), "duration_q", "{90,91,92}"},
			{SR(",'duration':[90.125]"), "duration_q", "{90.125}"},	/* at most three */
			{SR(",'duration':[]"), "duration_q", "{}"},
			{SR(",'duration':[-0.0,1e2,2.5E-3]"), "duration_q", "{-0,100,0.0025}"},
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		{
			f1_batch_init(&b, EP(F1E_SESSION_RESULT));
			if (DECODE_OK(&b, J(cases[i].json), 1))
			{
				CHECK_STR(&b, 0, cases[i].column, cases[i].literal);
				/* the seconds column of the same field is NULL */
				CHECK_NULL(&b, 0, cases[i].column[0] == 'g' ? "gap_to_leader" : "duration");
			}
			f1_batch_free(&b);
		}
	}
	end_case();

	/*
	 * The shortest text that reads back as the same double: 15 digits when
	 * they do, 16 or 17 when they do not (0.1 + 0.2, the largest double),
	 * and the smallest subnormal.
	 */
	begin_case("session_result (hand-written): literals read back as the very doubles");
	f1_batch_init(&b, EP(F1E_SESSION_RESULT));
	if (DECODE_OK(&b, J(SR(",'duration':[0.30000000000000004,1.7976931348623157e308,"
						   "5e-324],'gap_to_leader':[88.1,-88.1,123456.78901234567]")), 1))
	{
		static const double dur[] = {0.30000000000000004, 1.7976931348623157e308, 5e-324};
		static const double gap[] = {88.1, -88.1, 123456.78901234567};

		CHECK_STR(&b, 0, "duration_q",
				  "{0.30000000000000004,1.7976931348623157e+308,4.94065645841247e-324}");
		check_literal_doubles(&b, "duration_q", dur, 3);
		CHECK_STR(&b, 0, "gap_to_leader_q", "{88.1,-88.1,123456.78901234567}");
		check_literal_doubles(&b, "gap_to_leader_q", gap, 3);
	}
	f1_batch_free(&b);
	end_case();

	begin_case("session_result: a race's seconds and laps leave the _q columns NULL");
	f1_batch_init(&b, EP(F1E_SESSION_RESULT));
	if (DECODE_OK(&b, J(SR(",'duration':6052.571,'gap_to_leader':'+2 LAPS'")), 1))
	{
		CHECK_F8(&b, 0, "duration", 6052.571);
		CHECK_NULL(&b, 0, "duration_q");
		CHECK_NULL(&b, 0, "gap_to_leader");
		CHECK_INT(&b, 0, "gap_to_leader_laps", 2);
		CHECK_NULL(&b, 0, "gap_to_leader_q");
	}
	f1_batch_free(&b);
	end_case();
}

/* ---- the decoder: refusals ------------------------------------------------ */

#define GAP_LAPS_EXPECTED "expected a number of seconds, \"+N LAP(S)\" or null"
#define GAP_Q_EXPECTED "expected a number of seconds, an array of three (Q1, Q2, Q3) or null"
#define GAP_BOTH_EXPECTED "expected a number of seconds, \"+N LAP(S)\", an array of three (Q1, Q2, Q3) or null"

static const struct
{
	F1EndpointId ep;
	const char *json;			/* ' for " */
	const char *reason;			/* exact */
}			refusals[] = {
	/* strings that are not "+N LAP(S)" */
	{F1E_INTERVALS, INTV(",'gap_to_leader':'+1 lap'"),
	"intervals: field \"gap_to_leader\": " GAP_LAPS_EXPECTED ", got \"+1 lap\""},
	{F1E_INTERVALS, INTV(",'gap_to_leader':'1 LAP'"),
	"intervals: field \"gap_to_leader\": " GAP_LAPS_EXPECTED ", got \"1 LAP\""},
	{F1E_INTERVALS, INTV(",'gap_to_leader':'+ LAP'"),
	"intervals: field \"gap_to_leader\": " GAP_LAPS_EXPECTED ", got \"+ LAP\""},
	{F1E_INTERVALS, INTV(",'gap_to_leader':'+1LAP'"),
	"intervals: field \"gap_to_leader\": " GAP_LAPS_EXPECTED ", got \"+1LAP\""},
	{F1E_INTERVALS, INTV(",'gap_to_leader':'+1234567890 LAPS'"),
	"intervals: field \"gap_to_leader\": " GAP_LAPS_EXPECTED ", got \"+1234567890 LAPS\""},
	{F1E_INTERVALS, INTV(",'gap_to_leader':'abc'"),
	"intervals: field \"gap_to_leader\": " GAP_LAPS_EXPECTED ", got \"abc\""},
	{F1E_INTERVALS, INTV(",'gap_to_leader':''"),
	"intervals: field \"gap_to_leader\": " GAP_LAPS_EXPECTED ", got \"\""},
	{F1E_INTERVALS, INTV(",'interval':'0.5'"),
	"intervals: field \"interval\": " GAP_LAPS_EXPECTED ", got \"0.5\""},
	{F1E_INTERVALS, INTV(",'interval':'+1 LAP\\u00e9\\n'"),
	"intervals: field \"interval\": " GAP_LAPS_EXPECTED ", got \"+1 LAP???\""},
	{F1E_INTERVALS, INTV(",'interval':'+1 LAPS and then some more words, far too many of them'"),
	"intervals: field \"interval\": " GAP_LAPS_EXPECTED ", got \"+1 LAPS and then some more words, far too ma...\""},
	/* laps out of the column's range [1, 10000] */
	{F1E_INTERVALS, INTV(",'gap_to_leader':'+0 LAP'"),
	"intervals: field \"gap_to_leader\": \"+0 LAP\": 0 laps out of range [1, 10000]"},
	{F1E_INTERVALS, INTV(",'interval':'+10001 LAPS'"),
	"intervals: field \"interval\": \"+10001 LAPS\": 10001 laps out of range [1, 10000]"},
	{F1E_INTERVALS, INTV(",'interval':'+999999999 LAPS'"),
	"intervals: field \"interval\": \"+999999999 LAPS\": 999999999 laps out of range [1, 10000]"},
	/* an array where it is not allowed, other JSON types, numbers */
	{F1E_INTERVALS, INTV(",'gap_to_leader':[1.5,null,2.5]"),
	"intervals: field \"gap_to_leader\": " GAP_LAPS_EXPECTED ", got an array"},
	{F1E_INTERVALS, INTV(",'interval':[]"),
	"intervals: field \"interval\": " GAP_LAPS_EXPECTED ", got an array"},
	{F1E_INTERVALS, INTV(",'gap_to_leader':true"),
	"intervals: field \"gap_to_leader\": " GAP_LAPS_EXPECTED ", got a boolean"},
	{F1E_INTERVALS, INTV(",'gap_to_leader':{'laps':1}"),
	"intervals: field \"gap_to_leader\": " GAP_LAPS_EXPECTED ", got an object"},
	{F1E_INTERVALS, INTV(",'gap_to_leader':1e400"),
	"intervals: field \"gap_to_leader\": not a finite number"},
	{F1E_INTERVALS, INTV(",'interval':-99999999999999999999"),
	"intervals: field \"interval\": integer out of range"},
	/* a missing key; a record of several */
	{F1E_INTERVALS, "{'session_key':9606,'driver_number':14,'gap_to_leader':'+1 LAP'}",
	"intervals: missing key field \"date\""},
	{F1E_INTERVALS, "[" INTV(",'gap_to_leader':'+1 LAP'") "," INTV(",'gap_to_leader':'+1 LAPS '") "]",
	"intervals: record 1: field \"gap_to_leader\": " GAP_LAPS_EXPECTED ", got \"+1 LAPS \""},
	/* qualifying arrays: too long, elements that are not numbers */
	{F1E_SESSION_RESULT, SR(",'duration':[89.5,null,88.1,87.0]"),
	"session_result: field \"duration\": an array of 4 elements, expected at most 3 (Q1, Q2, Q3)"},
	{F1E_SESSION_RESULT, SR(",'gap_to_leader':[null,null,null,null,null]"),
	"session_result: field \"gap_to_leader\": an array of 5 elements, expected at most 3 (Q1, Q2, Q3)"},
	{F1E_SESSION_RESULT, SR(",'gap_to_leader':[0,'0.203',null]"),
	"session_result: field \"gap_to_leader\" element 1: expected a number of seconds or null, got a string"},
	{F1E_SESSION_RESULT, SR(",'gap_to_leader':['+1 LAP']"),
	"session_result: field \"gap_to_leader\" element 0: expected a number of seconds or null, got a string"},
	{F1E_SESSION_RESULT, SR(",'duration':[[89.5]]"),
	"session_result: field \"duration\" element 0: expected a number of seconds or null, got an array"},
	{F1E_SESSION_RESULT, SR(",'duration':[89.5,false]"),
	"session_result: field \"duration\" element 1: expected a number of seconds or null, got a boolean"},
	{F1E_SESSION_RESULT, SR(",'duration':[89.5,null,1e999]"),
	"session_result: field \"duration\" element 2: not a finite number"},
	{F1E_SESSION_RESULT, SR(",'duration':[99999999999999999999]"),
	"session_result: field \"duration\" element 0: integer out of range"},
	/* a string where only seconds and arrays may be; other types */
	{F1E_SESSION_RESULT, SR(",'duration':'+1 LAP'"),
	"session_result: field \"duration\": " GAP_Q_EXPECTED ", got \"+1 LAP\""},
	{F1E_SESSION_RESULT, SR(",'gap_to_leader':'+1 Lap'"),
	"session_result: field \"gap_to_leader\": " GAP_BOTH_EXPECTED ", got \"+1 Lap\""},
	{F1E_SESSION_RESULT, SR(",'gap_to_leader':{}"),
	"session_result: field \"gap_to_leader\": " GAP_BOTH_EXPECTED ", got an object"},
	{F1E_SESSION_RESULT, SR(",'duration':true"),
	"session_result: field \"duration\": " GAP_Q_EXPECTED ", got a boolean"},
	{F1E_SESSION_RESULT, "{'session_key':9602,'duration':[89.5,null,88.1]}",
	"session_result: missing key field \"driver_number\""},
	/* a text key */
	{F1E_CHAMPIONSHIP_TEAMS, "{'session_key':9606,'points_current':244.0}",
	"championship_teams: missing key field \"team_name\""},
	{F1E_CHAMPIONSHIP_TEAMS, "{'session_key':9606,'team_name':null}",
	"championship_teams: missing key field \"team_name\""},
	{F1E_CHAMPIONSHIP_TEAMS, "{'session_key':9606,'team_name':42}",
	"championship_teams: field \"team_name\": expected a string, got an integer"},
	{F1E_CHAMPIONSHIP_TEAMS, "{'team_name':'McLaren'}",
	"championship_teams: missing key field \"session_key\""},
};

static void
test_refusals(void)
{
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
	{
		char		name[240];
		char		err[ERRLEN];
		F1Batch		b;

		snprintf(name, sizeof(name), "refused %s: %.160s", EP(refusals[i].ep)->name,
				 refusals[i].json);
		begin_case(name);
		f1_batch_init(&b, EP(refusals[i].ep));
		CHECK(decode(&b, J(refusals[i].json), err) == -1);
		CHECK(b.nrows == 0 && b.poollen == 0);
		CHECKF(strcmp(err, refusals[i].reason) == 0, "reason: %s\n    want: %s",
			   err, refusals[i].reason);
		/* a reason names the JSON field, never a column of its own */
		CHECKF(strstr(err, "_laps") == NULL && strstr(err, "_q\"") == NULL,
			   "reason names a column: %s", err);
		f1_batch_free(&b);
		end_case();
	}
}

static void
test_text_key(void)
{
	F1Batch		b;

	begin_case("championship_teams (hand-written): text keys, one row each");
	f1_batch_init(&b, EP(F1E_CHAMPIONSHIP_TEAMS));
	if (DECODE_OK(&b, J("[{'session_key':9606,'team_name':'McLaren','points_current':244.0},"
						"{'session_key':9606,'team_name':'Red Bull Racing','position_current':3},"
						"{'session_key':9606,'team_name':'Kick Sauber \\u00e9'}]"), 3))
	{
		CHECK_STR(&b, 0, "team_name", "McLaren");
		CHECK_F8(&b, 0, "points_current", 244.0);
		CHECK_STR(&b, 1, "team_name", "Red Bull Racing");
		CHECK_NULL(&b, 1, "points_current");
		CHECK_INT(&b, 1, "position_current", 3);
		CHECK_STR(&b, 2, "team_name", "Kick Sauber \xc3\xa9");
	}
	f1_batch_free(&b);
	end_case();
}

HARNESS_MAIN(test_accepted(); test_refused(); test_intervals_shapes(); test_qualifying_shapes();
			 test_refusals(); test_text_key();)
