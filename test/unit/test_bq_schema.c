/*
 * test/unit/test_bq_schema.c — unit tests of the schema upgrade of an
 * existing BigQuery table (src/sink/bq_schema.c): a tables.get answer
 * compared with f1tel's fields, and the tables.patch body that appends the
 * missing ones (the existing fields first, as they were, in their order;
 * the new ones NULLABLE), the conflicts that stop the push (a retyped
 * column, REPEATED against a scalar, a view, a REQUIRED column of the
 * user's) and what is kept (the user's columns, legacy type names, other
 * case, REQUIRED against NULLABLE), and answers that are not a table.
 * The patch body's fields are checked against Google's discovery document
 * in test_bq_body.c.
 *
 * The harness is test/unit/harness.h; `make unit` runs it.  Memory from the
 * code under test is freed here, so that LeakSanitizer checks its contracts.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json_object.h>
#include <json-c/json_tokener.h>

#include "sink/bq_json.h"

#include "harness.h"
#include "json_check.h"

/* f1tel's fields of a small table (one REQUIRED, then NULLABLE ones). */
static const F1BqField want[] = {
	{"session_key", "INT64", "REQUIRED"},
	{"lap_duration", "FLOAT64", "NULLABLE"},
	{"team_name", "STRING", "NULLABLE"},
	{"deleted", "BOOL", "NULLABLE"},
	/* added later */
	{"compound", "STRING", "NULLABLE"},
	{"interval", "FLOAT64", "NULLABLE"},
	{"pit_in", "BOOL", NULL},
	{"samples", "INT64", "REQUIRED"},
};
#define NWANT ((int) (sizeof(want) / sizeof(want[0])))

/* A tables.get answer with the given fields (JSON text, ' for "). */
static char *
answer(const char *fields)
{
	const char *head = J("{'kind':'bigquery#table','etag':'abc','id':'p:d.t','type':'TABLE',"
						 "'tableReference':{'projectId':'p','datasetId':'d','tableId':'t'},"
						 "'schema':{'fields':[");
	const char *tail = J("]},'timePartitioning':{'type':'DAY','field':'x'},'numRows':'3'}");
	const char *f = J(fields);
	size_t		n = strlen(head) + strlen(f) + strlen(tail) + 1;
	char	   *s = malloc(n);

	if (s == NULL)
		exit(2);
	snprintf(s, n, "%s%s%s", head, f, tail);
	return s;
}

/* Compare; the patch body parsed into *patch_out (NULL if none). */
static F1BqSchemaVerdict
compare(const char *text, const F1BqField *w, int nw, json_object **patch_out, int *nmissing,
		char *msg, size_t msglen)
{
	char	   *patch = (char *) 1;
	F1BqSchemaVerdict v = f1_bq_schema_compare(text, text ? strlen(text) : 0, w, nw, &patch,
											   nmissing, msg, msglen);

	*patch_out = NULL;
	if (patch != NULL)
	{
		*patch_out = jparse(patch);
		CHECKF(*patch_out != NULL, "patch body is not JSON: %s", patch);
		free(patch);
	}
	return v;
}

/* The names of a patch body's fields, joined with ','; "name:TYPE:MODE" with modes. */
static void
field_list(json_object *patch, bool full, char *buf, size_t len)
{
	json_object *fields = jget(patch, "schema.fields");

	buf[0] = '\0';
	for (size_t i = 0; fields != NULL && i < json_object_array_length(fields); i++)
	{
		json_object *f = json_object_array_get_idx(fields, i);
		size_t		used = strlen(buf);

		if (full)
			snprintf(buf + used, len - used, "%s%s:%s:%s", i ? "," : "", jstr(f, "name"),
					 jstr(f, "type"), jstr(f, "mode") ? jstr(f, "mode") : "-");
		else
			snprintf(buf + used, len - used, "%s%s", i ? "," : "", jstr(f, "name"));
	}
}

static void
test_add(void)
{
	char		msg[512];
	char		list[1024];
	int			nmissing = -1;
	json_object *patch;
	char	   *a;

	begin_case("schema: the missing fields are appended NULLABLE, the old ones kept first");
	/* as BigQuery answers: legacy type names, a description, a user's column */
	a = answer("{'name':'session_key','type':'INTEGER','mode':'REQUIRED','description':'the session'},"
			   "{'name':'lap_duration','type':'FLOAT','mode':'NULLABLE'},"
			   "{'name':'mine','type':'RECORD','mode':'REPEATED','fields':[{'name':'a','type':'STRING'}]},"
			   "{'name':'team_name','type':'STRING'},"
			   "{'name':'deleted','type':'BOOLEAN','mode':'NULLABLE'}");
	CHECK(compare(a, want, NWANT, &patch, &nmissing, msg, sizeof(msg)) == F1BQ_SCHEMA_ADD);
	CHECKF(nmissing == 4, "nmissing %d", nmissing);
	field_list(patch, true, list, sizeof(list));
	CHECK_STREQ(list, "session_key:INTEGER:REQUIRED,lap_duration:FLOAT:NULLABLE,mine:RECORD:REPEATED,"
				"team_name:STRING:-,deleted:BOOLEAN:NULLABLE,"
				"compound:STRING:NULLABLE,interval:FLOAT64:NULLABLE,pit_in:BOOL:NULLABLE,"
				"samples:INT64:NULLABLE");
	/* the existing fields go back as they came: description, nested fields */
	CHECK_STREQ(jstr(json_object_array_get_idx(jget(patch, "schema.fields"), 0), "description"),
				"the session");
	CHECK(json_object_array_length(jget(json_object_array_get_idx(jget(patch, "schema.fields"), 2),
										"fields")) == 1);
	/* nothing but the schema: the rest of the table stays as it is */
	CHECK(json_object_object_length(patch) == 1);
	CHECK(json_object_object_length(jget(patch, "schema")) == 1);
	json_object_put(patch);
	free(a);
	end_case();

	begin_case("schema: every field there (other case, legacy names): nothing to do");
	a = answer("{'name':'Session_Key','type':'INT64','mode':'REQUIRED'},{'name':'lap_duration','type':'FLOAT'},"
			   "{'name':'team_name','type':'string'},{'name':'deleted','type':'BOOL'},"
			   "{'name':'compound','type':'STRING'},{'name':'INTERVAL','type':'FLOAT64'},"
			   "{'name':'pit_in','type':'BOOLEAN'},{'name':'samples','type':'INTEGER','mode':'NULLABLE'},"
			   "{'name':'extra','type':'STRING','mode':'NULLABLE'}");
	nmissing = -1;
	CHECK(compare(a, want, NWANT, &patch, &nmissing, msg, sizeof(msg)) == F1BQ_SCHEMA_SAME);
	CHECK(patch == NULL);
	CHECK(nmissing == 0);
	free(a);
	end_case();

	begin_case("schema: REQUIRED where f1tel's is NULLABLE (and the reverse) is kept");
	a = answer("{'name':'session_key','type':'INT64','mode':'NULLABLE'},{'name':'lap_duration','type':'FLOAT'},"
			   "{'name':'team_name','type':'STRING','mode':'REQUIRED'},{'name':'deleted','type':'BOOL'}");
	CHECK(compare(a, want, NWANT, &patch, &nmissing, msg, sizeof(msg)) == F1BQ_SCHEMA_ADD);
	field_list(patch, false, list, sizeof(list));
	CHECK_STREQ(list, "session_key,lap_duration,team_name,deleted,compound,interval,pit_in,samples");
	json_object_put(patch);
	free(a);
	end_case();

	begin_case("schema: a table without columns gets all of f1tel's");
	a = strdup(J("{'kind':'bigquery#table','type':'TABLE','schema':{}}"));
	CHECK(compare(a, want, NWANT, &patch, &nmissing, msg, sizeof(msg)) == F1BQ_SCHEMA_ADD);
	CHECK(nmissing == NWANT);
	field_list(patch, true, list, sizeof(list));
	CHECK_STREQ(list, "session_key:INT64:NULLABLE,lap_duration:FLOAT64:NULLABLE,team_name:STRING:NULLABLE,"
				"deleted:BOOL:NULLABLE,compound:STRING:NULLABLE,interval:FLOAT64:NULLABLE,"
				"pit_in:BOOL:NULLABLE,samples:INT64:NULLABLE");
	json_object_put(patch);
	free(a);
	end_case();
}

static void
test_conflicts(void)
{
	static const struct
	{
		const char *fields;
		const char *words;
	}			cases[] = {
		{"{'name':'session_key','type':'INTEGER'},{'name':'compound','type':'INTEGER','mode':'NULLABLE'}",
		"column compound is NULLABLE INTEGER in BigQuery, f1tel writes STRING"},
		{"{'name':'session_key','type':'STRING','mode':'REQUIRED'}",
		"column session_key is REQUIRED STRING in BigQuery, f1tel writes INT64"},
		{"{'name':'team_name','type':'STRING','mode':'REPEATED'}",
		"column team_name is REPEATED STRING in BigQuery, f1tel writes NULLABLE STRING"},
		{"{'name':'Interval','type':'TIMESTAMP'}",
		"column Interval is NULLABLE TIMESTAMP in BigQuery, f1tel writes FLOAT64"},
		{"{'name':'session_key','type':'INTEGER'},{'name':'theirs','type':'STRING','mode':'REQUIRED'}",
		"column theirs is REQUIRED and f1tel has no value for it"},
	};
	char		msg[512];
	json_object *patch;
	int			nmissing = -1;

	begin_case("schema: a retyped column, REPEATED, a REQUIRED column of the user's: conflicts");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char	   *a = answer(cases[i].fields);

		CHECKF(compare(a, want, NWANT, &patch, &nmissing, msg, sizeof(msg)) == F1BQ_SCHEMA_CONFLICT,
			   "case %zu", i);
		CHECK(patch == NULL);
		CHECK(nmissing == 0);
		CHECKF(strstr(msg, cases[i].words) != NULL, "case %zu: message \"%s\", want \"%s\"", i, msg,
			   cases[i].words);
		free(a);
	}
	end_case();

	begin_case("schema: a view of that name is a conflict");
	CHECK(compare(J("{'kind':'bigquery#table','type':'VIEW','schema':{'fields':[]},"
					"'view':{'query':'SELECT 1'}}"), want, NWANT, &patch, &nmissing, msg, sizeof(msg)) ==
		  F1BQ_SCHEMA_CONFLICT);
	CHECK(patch == NULL);
	CHECK_STREQ(msg, "it is a VIEW, not a TABLE");
	end_case();
}

static void
test_bad(void)
{
	char		msg[512];
	json_object *patch;
	char	   *p = NULL;

	begin_case("schema: answers that are not a table, bad arguments");
	CHECK(compare(J("<html>nope</html>"), want, NWANT, &patch, NULL, msg, sizeof(msg)) == F1BQ_SCHEMA_BAD);
	CHECK(patch == NULL);
	CHECK_STREQ(msg, "the tables.get answer is not JSON");
	CHECK(compare(J("[1]"), want, NWANT, &patch, NULL, msg, sizeof(msg)) == F1BQ_SCHEMA_BAD);
	CHECK(compare(J("{'schema':{'fields':[{'name':'a'}]}}"), want, NWANT, &patch, NULL, msg,
				  sizeof(msg)) == F1BQ_SCHEMA_BAD);
	CHECK_STREQ(msg, "field 1 of the schema has no name or no type");
	CHECK(compare(J("{'schema':{'fields':[{'type':'STRING'}]}}"), want, NWANT, &patch, NULL, NULL, 0) ==
		  F1BQ_SCHEMA_BAD);
	CHECK(compare(J("{}"), want, 0, &patch, NULL, msg, sizeof(msg)) == F1BQ_SCHEMA_BAD);
	CHECK(compare(J("{}"), NULL, 1, &patch, NULL, msg, sizeof(msg)) == F1BQ_SCHEMA_BAD);
	CHECK(f1_bq_schema_compare("{}", 2, want, NWANT, NULL, NULL, msg, sizeof(msg)) == F1BQ_SCHEMA_BAD);
	{
		static const F1BqField noname[] = {{NULL, "INT64", NULL}};

		CHECK(f1_bq_schema_compare("{}", 2, noname, 1, &p, NULL, msg, sizeof(msg)) == F1BQ_SCHEMA_BAD);
		CHECK(p == NULL);
	}
	/*
	 * the answer need not be NUL-terminated: only len bytes are read (the
	 * "]]]]" after them would make it malformed JSON, F1BQ_SCHEMA_BAD)
	 */
	CHECK(f1_bq_schema_compare("{}]]]]", 2, want, 1, &p, NULL, msg, sizeof(msg)) == F1BQ_SCHEMA_ADD);
	free(p);
	end_case();

	begin_case("schema: type names and verdict names");
	CHECK(f1_bq_same_type("INTEGER", "INT64"));
	CHECK(f1_bq_same_type("int64", "INTEGER"));
	CHECK(f1_bq_same_type("FLOAT", "FLOAT64"));
	CHECK(f1_bq_same_type("BOOLEAN", "BOOL"));
	CHECK(f1_bq_same_type("RECORD", "STRUCT"));
	CHECK(f1_bq_same_type("TIMESTAMP", "timestamp"));
	CHECK(!f1_bq_same_type("INTEGER", "FLOAT64"));
	CHECK(!f1_bq_same_type("STRING", "BYTES"));
	CHECK(!f1_bq_same_type(NULL, "INT64"));
	CHECK_STREQ(f1_bq_schema_verdict_name(F1BQ_SCHEMA_ADD), "ADD");
	CHECK_STREQ(f1_bq_schema_verdict_name(F1BQ_SCHEMA_CONFLICT), "CONFLICT");
	CHECK_STREQ(f1_bq_schema_verdict_name((F1BqSchemaVerdict) 99), "?");
	end_case();
}

HARNESS_MAIN(test_add(); test_conflicts(); test_bad();)
