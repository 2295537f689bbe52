/*
 * test/unit/test_decode_diff.c — the scanner decoder against the json-c
 * decoder it replaced, on every record of the recorded sessions and on
 * hand-written edge cases of JSON.
 *
 * Every record of every file of test/data/openf1/9189 and 9606 (F1TEL_DATA
 * overrides the folder), one message per record as the feed sends them,
 * then the whole file as one message, goes through both decoders
 * (decode_diff.h), into batches that keep the rows of the file; then a
 * list of edge cases of the grammar (numbers, escapes, surrogates,
 * duplicate keys, depth, whitespace, trailing data, NUL bytes), each for
 * every endpoint.  They must agree on everything but the words of a syntax
 * error.  The harness is harness.h; `make unit` runs it.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest/decode.h"

#include "harness.h"
#include "decode_check.h"
#include "read_file.h"
#include "decode_diff.h"

static const char *const sessions[] = {"9189", "9606"};
static const struct
{
	const char *file;
	F1EndpointId ep;
}			files[] = {
	{"laps.json", F1E_LAPS}, {"position.json", F1E_POSITION}, {"drivers.json", F1E_DRIVERS},
	{"race_control.json", F1E_RACE_CONTROL}, {"sessions.json", F1E_SESSIONS},
	{"meetings.json", F1E_MEETINGS}, {"car_data.json.gz", F1E_CAR_DATA},
	{"location.json.gz", F1E_LOCATION}, {"pit.json", F1E_PIT}, {"stints.json", F1E_STINTS},
	{"weather.json", F1E_WEATHER}, {"overtakes.json", F1E_OVERTAKES},
	{"session_result.json", F1E_SESSION_RESULT}, {"starting_grid.json", F1E_STARTING_GRID},
};

static void
test_recorded(void)
{
	const char *dir = getenv("F1TEL_DATA");
	char		defdir[4200];
	char		path[4400];

	if (dir == NULL || dir[0] == '\0')
	{
		snprintf(defdir, sizeof(defdir), "%s/test/data/openf1", repo_root);
		dir = defdir;
	}
	for (size_t s = 0; s < sizeof(sessions) / sizeof(sessions[0]); s++)
	{
		for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++)
		{
			char		name[200];
			char		why[600];
			char	   *text;
			size_t		len,
						pos = 0,
						start,
						end;
			long		n = 0,
						differ = 0;
			F1Batch		a,
						b;

			snprintf(name, sizeof(name), "diff %s/%s: both decoders agree on every record",
					 sessions[s], files[f].file);
			begin_case(name);
			snprintf(path, sizeof(path), "%s/%s/%s", dir, sessions[s], files[f].file);
			text = read_file(path, &len);
			if (!CHECKF(text != NULL, "cannot read %s", path))
			{
				end_case();
				continue;
			}
			f1_batch_init(&a, EP(files[f].ep));
			f1_batch_init(&b, EP(files[f].ep));
			while (next_record(text, len, &pos, &start, &end))
			{
				n++;
				if (!diff_decode(&a, &b, text + start, end - start, why, sizeof(why)) &&
					differ++ < 5)
					CHECKF(false, "record %ld: %s", n - 1, why);
			}
			CHECKF(n > 0, "no records in %s", path);
			CHECKF(diff_decode(&a, &b, text, len, why, sizeof(why)), "whole file: %s", why);
			CHECKF(differ == 0, "%ld of %ld records differ", differ, n);
			f1_batch_free(&a);
			f1_batch_free(&b);
			free(text);
			end_case();
		}
	}
}

/* ' stands for " in these (but for the few that need '), \0 is kept */
static const struct
{
	const char *json;
	size_t		len;			/* 0: strlen */
	bool		raw;
}			edge[] = {
#define E(s) {s, 0, false}
#define R(s) {s, sizeof(s) - 1, true}
	/* numbers: json-c's integers and floats */
	E("{'session_key':1.0}"), E("{'session_key':1e3}"), E("{'session_key':-0}"),
	E("{'session_key':-0.0}"), E("{'session_key':00}"), E("{'session_key':01}"),
	E("{'session_key':-01}"), E("{'session_key':-}"), E("{'session_key':-.5}"),
	E("{'session_key':1.}"), E("{'session_key':1.e5}"), E("{'session_key':1e}"),
	E("{'session_key':1e+}"), E("{'session_key':1.5.3}"), E("{'session_key':1-2}"),
	E("{'session_key':9223372036854775807}"), E("{'session_key':9223372036854775808}"),
	E("{'session_key':-9223372036854775808}"), E("{'session_key':-9223372036854775809}"),
	E("{'session_key':99999999999999999999999}"), E("{'session_key':-99999999999999999999999}"),
	E("{'session_key':18446744073709551615}"), E("{'session_key':18446744073709551616}"),
	E("{'lap_duration':1e400,'session_key':1,'driver_number':1,'lap_number':1}"),
	E("{'lap_duration':NaN,'session_key':1,'driver_number':1,'lap_number':1}"),
	E("{'lap_duration':Infinity,'session_key':1,'driver_number':1,'lap_number':1}"),
	E("{'lap_duration':-Infinity,'session_key':1,'driver_number':1,'lap_number':1}"),
	E("{'lap_duration':-infinity,'session_key':1,'driver_number':1,'lap_number':1}"),
	E("{'lap_duration':nan}"), E("{'lap_duration':-I}"),
	E("{'lap_duration':0.1e-320,'session_key':1,'driver_number':1,'lap_number':1}"),
	E("{'lap_duration':12345678901234567890123456789012345678901234567890123456789012345678901234567890.5,"
	  "'session_key':1,'driver_number':1,'lap_number':1}"),
	E("{'gap_to_leader':[1.5,null,1e2],'session_key':9602,'driver_number':44}"),
	E("{'gap_to_leader':[1.5,null,1e2,4],'session_key':9602,'driver_number':44}"),
	E("{'gap_to_leader':['x'],'session_key':9602,'driver_number':44}"),
	E("{'gap_to_leader':[1234567890123456789012345678901234567890123456789012345678901234567890.5,"
	  "1e-2,-0.0],'session_key':9602,'driver_number':44}"),
	E("{'gap_to_leader':[NaN],'session_key':9602,'driver_number':44}"),
	E("{'gap_to_leader':[9223372036854775807],'session_key':9602,'driver_number':44}"),
	E("{'gap\\u005fto_leader':'+1 LAP','session_key':9602,'driver_number':44}"),
	E("{'gap_to_leader':'+1\\u0000LAP','session_key':9602,'driver_number':44}"),
	E("{'gap_to_leader':'\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
	  "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9x',"
	  "'session_key':9602,'driver_number':44}"),
	E("{'session_key':9189,'driver_number':1,'date':'2023-11-19T05:50:02.821\\u005a','speed':1}"),
	E("{'session_key':9189,'driver_number':1,'date':'2023-11-19T05:50:02.821Z\\u0000'}"),
	E("{'gap_to_leader':'+2 LAPS','session_key':9602,'driver_number':44}"),
	E("{'gap_to_leader':'+2 L\\u0041PS','session_key':9602,'driver_number':44}"),
	E("{'gap_to_leader':'+x LAPS','session_key':9602,'driver_number':44}"),
	E("{'segments_sector_1':[2048,null,2051],'session_key':1,'driver_number':1,'lap_number':1}"),
	E("{'segments_sector_1':[2048,[1]],'session_key':1,'driver_number':1,'lap_number':1}"),
	E("{'segments_sector_1':[],'session_key':1,'driver_number':1,'lap_number':1}"),
	/* strings, escapes, surrogates */
	E("{'session_key':1,'driver_number':1,'full_name':'a\\u00e9\\u4e2d\\ud834\\udd1e'}"),
	E("{'session_key':1,'driver_number':1,'full_name':'\\ud800'}"),
	E("{'session_key':1,'driver_number':1,'full_name':'\\ud800x'}"),
	E("{'session_key':1,'driver_number':1,'full_name':'\\ud800\\n'}"),
	E("{'session_key':1,'driver_number':1,'full_name':'\\ud800\\ud800\\udc00'}"),
	E("{'session_key':1,'driver_number':1,'full_name':'\\udc00'}"),
	E("{'session_key':1,'driver_number':1,'full_name':'\\ud836\\udc00'}"),
	E("{'session_key':1,'driver_number':1,'full_name':'\\ud836\\udc00\\udc00'}"),
	E("{'session_key':1,'driver_number':1,'full_name':'\\u0000'}"),
	E("{'session_key':1,'driver_number':1,'full_name':'\\u12'}"),
	E("{'session_key':1,'driver_number':1,'full_name':'\\x'}"),
	E("{'session_key':1,'driver_number':1,'full_name':'\\'\\\\\\/\\b\\f\\n\\r\\t'}"),
	R("{\"session_key\":1,\"driver_number\":1,\"full_name\":\"tab\there\x01\"}"),
	R("{\"session_key\":1,\"driver_number\":1,\"full_name\":\"a\0b\"}"),
	/* keys: escapes, NUL, single quotes, duplicates */
	E("{'session\\u005fkey':1,'driver_number':1}"),
	E("{'session_key\\u0000junk':1,'driver_number':1}"),
	E("{'session_key':1,'session_key':2,'driver_number':1}"),
	E("{'session_key':1,'driver_number':1,'session_key':null}"),
	R("{'session_key':1,\"driver_number\":1}"),
	R("{'session_\"key':1}"),
	R("{\"session_key\":'1'}"),
	/* structure, depth, whitespace, trailing data */
	E("[]"), E(" [ ] "), E("[{}]"), E("{}"), E("[{},]"), E("{,}"), E("[,]"), E("{'a':1,}"),
	E("{'a' : [ 1 , 2 ] , 'b' : { 'c' : null } }"), E("{'a':[1 2]}"), E("{'a':{'b'}}"),
	E("\t\r\n{}\n"), R("\f{}"), R("{}\v"), R("{}\0"), R("{}\0{}"), R("[]\0 "), R("\0"),
	E("{} x"), E("{}{}"), E("[] ]"), E("tru"), E("true"), E("nul"), E("null"), E("True"),
	E("NaN"), E("Infinity"), E("-Infinity"), E("'x'"), E("1"), E("-"), E("1x"), E(""), E("   "),
	E("[1,'a',null,true,2.5,[],{}]"), E("[{'session_key':1},1]"),
	E("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"),
	E("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"),
	E("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"),
	E("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"),
	E("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"),
	E("{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':"
	  "{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':1"
	  "}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}"),
	E("{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':"
	  "{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{'a':{}"
	  "}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}"),
	E("{'session_key':9189,'driver_number':1,'lap_number':7} trailing"),
	E("{'session_key':9189,'driver_number':1,"), E("not json at all"), E("{"),
#undef E
#undef R
};

/* ' -> " in a copy */
static char *
dq(const char *s, size_t len)
{
	char	   *c = malloc(len + 1);

	memcpy(c, s, len);
	c[len] = '\0';
	for (size_t i = 0; i < len; i++)
		if (c[i] == '\'')
			c[i] = '"';
	return c;
}

static void
test_edge_cases(void)
{
	begin_case("diff: edge cases of the grammar, every endpoint");
	for (int e = 0; e < F1E_COUNT; e++)
	{
		F1Batch		a,
					b;

		f1_batch_init(&a, EP(e));
		f1_batch_init(&b, EP(e));
		for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++)
		{
			size_t		len = edge[i].len ? edge[i].len : strlen(edge[i].json);
			char	   *m = edge[i].raw ? NULL : dq(edge[i].json, len);
			char		why[600];

			CHECKF(diff_decode(&a, &b, m ? m : edge[i].json, len, why, sizeof(why)),
				   "%s, case %zu (%s): %s", EP(e)->name, i, edge[i].json, why);
			free(m);
		}
		f1_batch_free(&a);
		f1_batch_free(&b);
	}
	end_case();
}

HARNESS_MAIN(test_recorded(); test_edge_cases();)
