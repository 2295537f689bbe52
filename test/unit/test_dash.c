/*
 * test/unit/test_dash.c — unit tests of f1tel-dash's plain-C pieces: the
 * text buffer and JSON string escaping (src/tools/dash_json.c), the check of
 * a request's query parameters (dash_parse_session), and which parts a
 * table's notification changes (dash_parts_of_table in dash_store.c).
 *
 * What must hold: a string from the data can never end a JSON string nor
 * open markup (<, >, & and control characters come out as \u escapes);
 * only "session" is accepted, once, as "latest" or an integer in
 * 1..2^31-1, and everything else is refused with a message; every table
 * that src/enrich/notify.sql notifies for changes at least one part.
 *
 * The harness is test/unit/harness.h; `make unit` runs it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/dash.h"

#include "harness.h"

static void
test_json_string(void)
{
	DashBuf		b = {0};

	begin_case("JSON strings");
	CHECK(dash_buf_json_string(&b, "a\"b\\c\nd\te\x01<img src=x onerror=alert(1)>&"));
	CHECKF(strcmp(b.data, "\"a\\\"b\\\\c\\nd\\te\\u0001\\u003cimg src=x onerror=alert(1)\\u003e\\u0026\"") == 0,
		   "%s", b.data);
	dash_buf_free(&b);
	CHECK(dash_buf_json_string(&b, NULL));
	CHECK(strcmp(b.data, "null") == 0);
	dash_buf_free(&b);
	/* UTF-8 passes through unchanged */
	CHECK(dash_buf_json_string(&b, "P\xc3\xa9rez"));
	CHECK(strcmp(b.data, "\"P\xc3\xa9rez\"") == 0);
	/* the buffer grows */
	for (int i = 0; i < 10000; i++)
		CHECK(dash_buf_puts(&b, "0123456789"));
	CHECK(b.len == 100000 + strlen("\"P\xc3\xa9rez\""));
	dash_buf_free(&b);
	end_case();
}

static bool
parse(int n, const char *k1, const char *v1, const char *k2, const char *v2, int *session)
{
	DashArg		args[2] = {{k1, v1}, {k2, v2}};
	char		err[200];

	return dash_parse_session(args, n, session, err, sizeof(err));
}

static void
test_parameters(void)
{
	int			s = -1;
	DashArg		bad = {"sessions", "1"};
	char		err[200];

	begin_case("query parameters");
	CHECK(parse(0, NULL, NULL, NULL, NULL, &s) && s == 0);
	CHECK(parse(1, "session", "latest", NULL, NULL, &s) && s == 0);
	CHECK(parse(1, "session", "", NULL, NULL, &s) && s == 0);
	CHECK(parse(1, "session", NULL, NULL, NULL, &s) && s == 0);
	CHECK(parse(1, "session", "9189", NULL, NULL, &s) && s == 9189);
	CHECK(parse(1, "session", "2147483647", NULL, NULL, &s) && s == 2147483647);
	CHECK(!parse(1, "session", "2147483648", NULL, NULL, &s));
	CHECK(!parse(1, "session", "99999999999", NULL, NULL, &s));
	CHECK(!parse(1, "session", "0", NULL, NULL, &s));
	CHECK(!parse(1, "session", "-1", NULL, NULL, &s));
	CHECK(!parse(1, "session", "+5", NULL, NULL, &s));
	CHECK(!parse(1, "session", "09189", NULL, NULL, &s));
	CHECK(!parse(1, "session", "9189 ", NULL, NULL, &s));
	CHECK(!parse(1, "session", "abc", NULL, NULL, &s));
	CHECK(!parse(1, "session", "1;DROP TABLE x", NULL, NULL, &s));
	CHECK(!parse(2, "session", "1", "session", "1", &s));
	CHECK(!parse(2, "session", "1", "x", "1", &s));
	CHECK(!dash_parse_session(&bad, 1, &s, err, sizeof(err)));
	CHECKF(strstr(err, "unknown parameter \"sessions\"") != NULL, "%s", err);
	end_case();
}

static void
test_parts(void)
{
	const char *const notified[] = {"laps", "driver_laps", "position", "intervals", "stints",
		"pit", "drivers", "race_control", "location", "weather", "sessions", "meetings"};
	FILE	   *f;
	char		sql[8192];
	size_t		n;

	begin_case("parts of tables");
	for (size_t i = 0; i < sizeof(notified) / sizeof(notified[0]); i++)
	{
		char		quoted[64];

		CHECKF(dash_parts_of_table(notified[i]) != 0, "%s", notified[i]);
		/* and notify.sql does notify for it */
		f = fopen("src/enrich/notify.sql", "r");
		CHECK(f != NULL);
		if (f == NULL)
			break;
		n = fread(sql, 1, sizeof(sql) - 1, f);
		sql[n] = '\0';
		fclose(f);
		snprintf(quoted, sizeof(quoted), "'%s'", notified[i]);
		CHECKF(strstr(sql, quoted) != NULL, "notify.sql has no %s", quoted);
	}
	CHECK(dash_parts_of_table("race_control") == (1u << PART_RACE_CONTROL));
	CHECK(dash_parts_of_table("car_data") == 0);
	CHECK(dash_parts_of_table("") == 0);
	end_case();
}

HARNESS_MAIN(find_repo_root(argv[0], "src/enrich/notify.sql"); if (chdir(repo_root) != 0) return 2;
			 test_json_string(); test_parameters(); test_parts();)
