/*
 * test/unit/test_openf1_seen.c — unit tests of a live follower's memory
 * (src/tools/openf1_seen.c) and of the query pieces of the OpenF1 source
 * (of1_format_time, of1_param in openf1_history.c / openf1_http.c).
 *
 * The content hash must not depend on the order of the fields nor on MQTT's
 * "_id" and "_key" (a REST copy and an MQTT copy of one version are one
 * version) and must change with any value; identities come from the
 * endpoint's KEY columns (race_control, without keys, by content); the
 * state file survives a reopen, refuses another session's file, and
 * ignores a torn last line (a kill -9 while writing).  The records are
 * HAND-WRITTEN small cases in OpenF1's shape.
 *
 * The harness is test/unit/harness.h; `make unit` runs it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "tools/openf1.h"
#include "tools/openf1_seen.h"

#include "harness.h"

static uint64_t
hash_of(const char *json)
{
	json_object *o = json_tokener_parse(json);
	uint64_t	h = of1_record_hash(o);

	json_object_put(o);
	return h;
}

static void
test_hash(void)
{
	begin_case("content hash");
	{
		const char *a = "{\"session_key\":9606,\"driver_number\":1,\"lap_number\":12,\"lap_duration\":null}";
		const char *b = "{\"lap_duration\":null,\"lap_number\":12,\"driver_number\":1,\"session_key\":9606}";
		const char *m = "{\"session_key\":9606,\"driver_number\":1,\"lap_number\":12,\"lap_duration\":null,"
			"\"_id\":77,\"_key\":\"9606_1_12\"}";
		const char *c = "{\"session_key\":9606,\"driver_number\":1,\"lap_number\":12,\"lap_duration\":95.123}";
		const char *d = "{\"session_key\":9606,\"driver_number\":1,\"lap_number\":12}";

		CHECK(hash_of(a) == hash_of(b));
		CHECK(hash_of(a) == hash_of(m));
		CHECK(hash_of(a) != hash_of(c));
		CHECK(hash_of(a) != hash_of(d));	/* a null field is not a missing one */
		CHECK(hash_of("{\"x\":1}") != hash_of("{\"x\":\"1\"}"));
		CHECK(hash_of("{\"x\":1,\"y\":2}") != hash_of("{\"x\":2,\"y\":1}"));
	}
	end_case();
}

static void
test_identity(void)
{
	begin_case("identity from the KEY columns");
	{
		char		id[256];
		json_object *lap = json_tokener_parse(
			"{\"session_key\":9606,\"driver_number\":1,\"lap_number\":12,\"lap_duration\":95.1}");
		json_object *lap2 = json_tokener_parse(
			"{\"lap_number\":12,\"session_key\":9606,\"lap_duration\":null,\"driver_number\":1,\"_key\":\"x\"}");
		json_object *rc = json_tokener_parse("{\"session_key\":9606,\"message\":\"GREEN LIGHT\"}");
		char		id2[256];

		CHECK(of1_record_identity(&f1_endpoints[F1E_LAPS], lap, of1_record_hash(lap), id, sizeof(id)));
		CHECK(of1_record_identity(&f1_endpoints[F1E_LAPS], lap2, of1_record_hash(lap2), id2, sizeof(id2)));
		CHECKF(strcmp(id, id2) == 0, "%s vs %s", id, id2);
		CHECKF(strncmp(id, "laps|", 5) == 0 && strstr(id, "|9606") && strstr(id, "|12"), "%s", id);
		CHECK(of1_record_identity(&f1_endpoints[F1E_RACE_CONTROL], rc, 42, id, sizeof(id)));
		CHECKF(strstr(id, "#000000000000002a") != NULL, "race_control by content: %s", id);
		CHECK(!of1_record_identity(&f1_endpoints[F1E_LAPS], lap, 0, id, 8));	/* too small */
		json_object_put(lap);
		json_object_put(lap2);
		json_object_put(rc);
	}
	end_case();
}

static void
test_state_file(void)
{
	char		path[] = "/tmp/f1tel-seen-XXXXXX";
	int			fd = mkstemp(path);
	char		err[256];
	size_t		loaded;
	OpenF1Seen *s;
	int64_t		t;

	begin_case("state file: reopen, other session, torn line");
	CHECK(fd >= 0);
	close(fd);
	unlink(path);
	s = of1_seen_open(path, 9606, &loaded, err, sizeof(err));
	CHECKF(s != NULL, "%s", err);
	if (s)
	{
		CHECK(loaded == 0);
		CHECK(of1_seen_note(s, "laps|9606|1|12", 1) == OF1_NEW);
		CHECK(of1_seen_note(s, "laps|9606|1|12", 1) == OF1_SAME);
		CHECK(of1_seen_note(s, "laps|9606|1|12", 2) == OF1_CHANGED);
		CHECK(of1_seen_note(s, "laps|9606|1|13", 5) == OF1_NEW);
		of1_seen_cursor_note(s, F1E_LAPS, 1000);
		of1_seen_cursor_note(s, F1E_LAPS, 900);	/* never goes back */
		CHECK(of1_seen_commit(s, err, sizeof(err)));
		/* noted but never committed (not delivered): not in the file */
		CHECK(of1_seen_note(s, "laps|9606|1|14", 9) == OF1_NEW);
		of1_seen_free(s);
	}
	s = of1_seen_open(path, 9606, &loaded, err, sizeof(err));
	CHECKF(s != NULL, "%s", err);
	if (s)
	{
		CHECKF(loaded == 2, "loaded %zu", loaded);
		CHECK(of1_seen_note(s, "laps|9606|1|12", 2) == OF1_SAME);
		CHECK(of1_seen_note(s, "laps|9606|1|12", 1) == OF1_CHANGED);
		CHECK(of1_seen_note(s, "laps|9606|1|14", 9) == OF1_NEW);
		CHECK(of1_seen_cursor(s, F1E_LAPS, &t) && t == 1000);
		CHECK(!of1_seen_cursor(s, F1E_POSITION, &t));
		of1_seen_free(s);
	}
	/* another session's state */
	CHECK(of1_seen_open(path, 9189, &loaded, err, sizeof(err)) == NULL);
	CHECKF(strstr(err, "state of session 9606") != NULL, "%s", err);
	/* a torn last line is not taken */
	{
		FILE	   *f = fopen(path, "a");

		fputs("R\tlaps|9606|1|15\t00000000000000", f);
		fclose(f);
	}
	s = of1_seen_open(path, 9606, &loaded, err, sizeof(err));
	CHECKF(s != NULL, "%s", err);
	if (s)
	{
		CHECK(of1_seen_note(s, "laps|9606|1|15", 0) == OF1_NEW);
		of1_seen_free(s);
	}
	/* not a state file */
	{
		FILE	   *f = fopen(path, "w");

		fputs("hello\n", f);
		fclose(f);
	}
	CHECK(of1_seen_open(path, 9606, &loaded, err, sizeof(err)) == NULL);
	unlink(path);
	end_case();
}

static void
test_query_pieces(void)
{
	char		buf[128];
	char		q[64] = "";

	begin_case("times and parameters of queries");
	of1_format_time(0, buf, sizeof(buf));
	CHECKF(strcmp(buf, "2000-01-01T00:00:00.000000+00:00") == 0, "%s", buf);
	of1_format_time(-1, buf, sizeof(buf));
	CHECKF(strcmp(buf, "1999-12-31T23:59:59.999999+00:00") == 0, "%s", buf);
	/* 2024-09-22T12:00:00.5Z */
	of1_format_time(INT64_C(780321600500000), buf, sizeof(buf));
	CHECKF(strcmp(buf, "2024-09-22T12:00:00.500000+00:00") == 0, "%s", buf);
	CHECK(of1_param(q, sizeof(q), "session_key", "=", "9606"));
	CHECK(of1_param(q, sizeof(q), "date", ">=", "2024-09-22T12:00:00+00:00"));
	CHECKF(strcmp(q, "session_key=9606&date>=2024-09-22T12%3A00%3A00%2B00%3A00") == 0, "%s", q);
	CHECK(!of1_param(q, sizeof(q), "date", "<", "2024-09-22T13:00:00+00:00"));	/* no room */
	end_case();
}

HARNESS_MAIN(test_hash(); test_identity(); test_state_file(); test_query_pieces();)
