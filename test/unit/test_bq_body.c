/*
 * test/unit/test_bq_body.c — unit tests of the request bodies that
 * src/sink/bq_body.c writes for BigQuery's REST API (src/sink/json_text.c
 * through them): insertAll bodies (valid JSON with the request's fields,
 * insertIds escaped, each row's JSON spliced byte for byte, refused rows)
 * and their size, the envelope plus each row's overhead; the dataset, table
 * (schema, DAY partitioning, clustering) and view bodies, and the
 * tables.patch body of a schema upgrade (src/sink/bq_schema.c).
 *
 * Every body is also checked against Google's discovery document for
 * BigQuery v2: each field sent must be a property of its schema, and not an
 * output-only one; so is an insertAll answer as test_bq_answer.c reads
 * them.  The document is read from F1TEL_DISCOVERY (default: the copy that
 * ships with the repository, test/bigquery/bigquery-v2-discovery.json.gz;
 * gzip or plain); a missing document fails the run.
 *
 * The harness is test/unit/harness.h: one line per failed check, then "N
 * passed, N failed" (N counting test cases), exit status non-zero on any
 * failure.  `make unit` runs it; it finds the repository root from the
 * current directory or else from its own path.  Memory from the code under
 * test is freed here, so that LeakSanitizer checks its contracts.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json_object.h>
#include <json-c/json_tokener.h>
#include <json-c/linkhash.h>

#include "sink/bq_json.h"

#include "harness.h"
#include "json_check.h"
#include "read_file.h"

/* ---- insertAll bodies -------------------------------------------------------- */

static void
test_insertall_body(void)
{
	static const char *const ids[] = {
		"driver_laps/9158/1/1/v1",
		"quote\"d",
		"back\\slash\\\\",
		"ctl\n\t\x01\x1f end",
		"utf8 \xc3\xa9\xe2\x82\xac",
		"",
		NULL
	};
	static const char *const jsons[] = {
		"{\"session_key\":9158,\"driver_number\":1,\"lap_number\":1,\"lap_duration\":91.743}",
		"{\"s\":\"a \\\"quoted\\\" value\",\"n\":null}",
		"{\"date_start\":\"2023-09-16 13:59:07.606000\",\"segments\":[2048,2049,null]}",
		"{}",
		" {\"nested\":{\"a\":[1,{\"b\":true}]}}",
		"{\"big\":\"9007199254740993\"}",
		"{\"x\":1}"
	};
	F1BqRow		rows[7];
	size_t		len = 0;
	size_t		sum = 0;
	char	   *body;
	json_object *o;

	for (int i = 0; i < 7; i++)
	{
		rows[i].insert_id = ids[i];
		rows[i].json = jsons[i];
		rows[i].json_len = strlen(jsons[i]);
		sum += f1_bq_row_overhead(&rows[i]);
	}

	begin_case("insertAll body: valid JSON with the request's fields");
	body = f1_bq_insertall_body(rows, 7, &len);
	CHECK(body != NULL);
	o = body != NULL ? jparse(body) : NULL;
	CHECKF(o != NULL, "not JSON: %s", body ? body : "(null)");
	CHECK_STREQ(jstr(o, "kind"), "bigquery#tableDataInsertAllRequest");
	CHECK(jget(o, "skipInvalidRows") != NULL &&
		  json_object_is_type(jget(o, "skipInvalidRows"), json_type_boolean) &&
		  !json_object_get_boolean(jget(o, "skipInvalidRows")));
	CHECK(jget(o, "ignoreUnknownValues") != NULL &&
		  json_object_is_type(jget(o, "ignoreUnknownValues"), json_type_boolean) &&
		  !json_object_get_boolean(jget(o, "ignoreUnknownValues")));
	CHECK(o != NULL && json_object_object_length(o) == 4);
	end_case();

	begin_case("insertAll body: rows, insertIds escaped, row JSON spliced as is");
	{
		json_object *arr = jget(o, "rows");

		CHECK(arr != NULL && json_object_is_type(arr, json_type_array) &&
			  json_object_array_length(arr) == 7);
		for (size_t i = 0; arr != NULL && i < 7 && i < json_object_array_length(arr); i++)
		{
			json_object *r = json_object_array_get_idx(arr, i);
			json_object *want = jparse(jsons[i]);
			const char *w = json_object_to_json_string(want);
			json_object *got = jget(r, "json");

			if (ids[i] != NULL)
				CHECKF(jstr(r, "insertId") != NULL && strcmp(jstr(r, "insertId"), ids[i]) == 0,
					   "row %zu: insertId \"%s\"", i, jstr(r, "insertId"));
			else
				CHECKF(!jhas(r, "insertId"), "row %zu: an insertId for NULL", i);
			CHECKF(got != NULL && json_object_is_type(got, json_type_object) &&
				   strcmp(json_object_to_json_string(got), w) == 0,
				   "row %zu: json %s", i, got ? json_object_to_json_string(got) : "(none)");
			CHECK(json_object_object_length(r) == (ids[i] != NULL ? 2 : 1));
			json_object_put(want);
		}
		/* spliced byte for byte */
		for (int i = 0; body != NULL && i < 7; i++)
			CHECKF(strstr(body, jsons[i]) != NULL, "row %d not spliced as is", i);
		CHECK(body != NULL && strstr(body, "\"insertId\":\"quote\\\"d\"") != NULL);
		CHECK(body != NULL && strstr(body, "\"insertId\":\"back\\\\slash\\\\\\\\\"") != NULL);
		CHECK(body != NULL && strstr(body, "\"ctl\\n\\t\\u0001\\u001f end\"") != NULL);
	}
	json_object_put(o);
	end_case();

	begin_case("insertAll body: its size is the envelope plus the rows' overheads");
	CHECK(body != NULL && len == strlen(body));
	CHECKF(len == f1_bq_insertall_envelope() + sum - 1, "len %zu, envelope %zu + rows %zu - 1",
		   len, f1_bq_insertall_envelope(), sum);
	free(body);
	for (int n = 0; n <= 7; n++)
	{
		size_t		s = 0;

		for (int i = 0; i < n; i++)
			s += f1_bq_row_overhead(&rows[i]);
		body = f1_bq_insertall_body(rows, n, &len);
		CHECKF(body != NULL && len == strlen(body) &&
			   len == f1_bq_insertall_envelope() + s - (n > 0), "%d rows: %zu bytes", n, len);
		if (n == 0)
		{
			o = body != NULL ? jparse(body) : NULL;
			CHECK(o != NULL && jget(o, "rows") != NULL &&
				  json_object_array_length(jget(o, "rows")) == 0);
			json_object_put(o);
		}
		free(body);
	}
	end_case();

	begin_case("insertAll body: 500 rows of real size");
	{
		F1BqRow    *many = malloc(500 * sizeof(F1BqRow));
		char	  (*idbuf)[64] = malloc(500 * sizeof(*idbuf));
		size_t		s = f1_bq_insertall_envelope();

		for (int i = 0; i < 500; i++)
		{
			snprintf(idbuf[i], sizeof(idbuf[i]), "driver_laps/9158/%d/%d/v1", i % 20, i);
			many[i].insert_id = idbuf[i];
			many[i].json = jsons[0];
			many[i].json_len = strlen(jsons[0]);
			s += f1_bq_row_overhead(&many[i]);
		}
		body = f1_bq_insertall_body(many, 500, &len);
		o = body != NULL ? jparse(body) : NULL;
		CHECK(o != NULL && json_object_array_length(jget(o, "rows")) == 500);
		CHECK(len == s - 1);
		json_object_put(o);
		free(body);
		free(many);
		free(idbuf);
	}
	end_case();

	begin_case("insertAll body: rows that cannot be spliced are refused");
	{
		F1BqRow		bad[2] = {{"a", "{}", 2}, {"b", NULL, 0}};

		CHECK(f1_bq_insertall_body(bad, 2, &len) == NULL && len == 0);
		bad[1].json = "";
		CHECK(f1_bq_insertall_body(bad, 2, NULL) == NULL);
		bad[1].json = "[1]";
		bad[1].json_len = 3;
		CHECK(f1_bq_insertall_body(bad, 2, NULL) == NULL);
		CHECK(f1_bq_insertall_body(bad, -1, NULL) == NULL);
		body = f1_bq_insertall_body(bad, 1, NULL);
		CHECK(body != NULL);
		free(body);
		/* json_len counts: a longer buffer is cut there */
		bad[0].json = "{\"a\":1}GARBAGE";
		bad[0].json_len = 7;
		body = f1_bq_insertall_body(bad, 1, &len);
		CHECK(body != NULL && strstr(body, "GARBAGE") == NULL && (o = jparse(body)) != NULL);
		json_object_put(o);
		free(body);
	}
	end_case();
}

/* ---- datasets, tables, views ---------------------------------------------------- */

static const F1BqField test_fields[] = {
	{"session_key", "INT64", "REQUIRED"},
	{"driver_number", "INT64", "REQUIRED"},
	{"lap_number", "INT64", "REQUIRED"},
	{"date_start", "TIMESTAMP", NULL},
	{"lap_duration", "FLOAT64", "NULLABLE"},
	{"segments_sector_1", "INT64", "REPEATED"},
	{"odd \"name\"", "STRING", NULL},
};
static const char *const test_cluster[] = {"session_key", "driver_number"};

static void
test_bodies(void)
{
	char	   *s;
	json_object *o;

	begin_case("dataset body");
	s = f1_bq_dataset_body("f1tel-test", "f1tel", "EU");
	o = s != NULL ? jparse(s) : NULL;
	CHECKF(o != NULL, "not JSON: %s", s ? s : "(null)");
	CHECK_STREQ(jstr(o, "datasetReference.projectId"), "f1tel-test");
	CHECK_STREQ(jstr(o, "datasetReference.datasetId"), "f1tel");
	CHECK_STREQ(jstr(o, "location"), "EU");
	CHECK(o != NULL && json_object_object_length(o) == 2);
	json_object_put(o);
	free(s);
	s = f1_bq_dataset_body("p", "d", NULL);
	o = s != NULL ? jparse(s) : NULL;
	CHECK(o != NULL && !jhas(o, "location") && jhas(o, "datasetReference"));
	json_object_put(o);
	free(s);
	CHECK(f1_bq_dataset_body(NULL, "d", "EU") == NULL);
	CHECK(f1_bq_dataset_body("p", NULL, "EU") == NULL);
	end_case();

	begin_case("table body: schema, DAY partitioning, clustering");
	s = f1_bq_table_body("f1tel-test", "f1tel", "driver_laps", test_fields, 7, "date_start",
						 test_cluster, 2);
	o = s != NULL ? jparse(s) : NULL;
	CHECKF(o != NULL, "not JSON: %s", s ? s : "(null)");
	CHECK_STREQ(jstr(o, "tableReference.projectId"), "f1tel-test");
	CHECK_STREQ(jstr(o, "tableReference.datasetId"), "f1tel");
	CHECK_STREQ(jstr(o, "tableReference.tableId"), "driver_laps");
	{
		json_object *f = jget(o, "schema.fields");

		CHECK(f != NULL && json_object_array_length(f) == 7);
		for (size_t i = 0; f != NULL && i < 7 && i < json_object_array_length(f); i++)
		{
			json_object *e = json_object_array_get_idx(f, i);

			CHECK_STREQ(jstr(e, "name"), test_fields[i].name);
			CHECK_STREQ(jstr(e, "type"), test_fields[i].type);
			if (test_fields[i].mode != NULL)
				CHECK_STREQ(jstr(e, "mode"), test_fields[i].mode);
			else
				CHECK(!jhas(e, "mode"));
		}
	}
	CHECK_STREQ(jstr(o, "timePartitioning.type"), "DAY");
	CHECK_STREQ(jstr(o, "timePartitioning.field"), "date_start");
	CHECK(jget(o, "clustering.fields") != NULL &&
		  json_object_array_length(jget(o, "clustering.fields")) == 2 &&
		  strcmp(json_object_get_string(json_object_array_get_idx(jget(o, "clustering.fields"), 1)),
				 "driver_number") == 0);
	json_object_put(o);
	free(s);
	end_case();

	begin_case("table body: without partitioning or clustering");
	s = f1_bq_table_body("p", "d", "t", test_fields, 2, NULL, NULL, 0);
	o = s != NULL ? jparse(s) : NULL;
	CHECK(o != NULL && !jhas(o, "timePartitioning") && !jhas(o, "clustering") &&
		  json_object_object_length(o) == 2);
	json_object_put(o);
	free(s);
	CHECK(f1_bq_table_body("p", "d", "t", test_fields, 0, NULL, NULL, 0) == NULL);
	CHECK(f1_bq_table_body("p", "d", NULL, test_fields, 2, NULL, NULL, 0) == NULL);
	CHECK(f1_bq_table_body("p", "d", "t", test_fields, 2, NULL, NULL, 1) == NULL);
	{
		F1BqField	bad[] = {{"a", NULL, NULL}};
		const char *const nullc[] = {NULL};

		CHECK(f1_bq_table_body("p", "d", "t", bad, 1, NULL, NULL, 0) == NULL);
		CHECK(f1_bq_table_body("p", "d", "t", test_fields, 2, NULL, nullc, 1) == NULL);
	}
	end_case();

	begin_case("view body: GoogleSQL");
	{
		const char *q = "SELECT d.*, 'x\"y' AS q\nFROM `f1tel-test.f1tel.driver_laps` d\n"
			"WHERE d.lap_duration < 100 /* slash */";

		s = f1_bq_view_body("f1tel-test", "f1tel", "fastest_laps", q);
		o = s != NULL ? jparse(s) : NULL;
		CHECKF(o != NULL, "not JSON: %s", s ? s : "(null)");
		CHECK_STREQ(jstr(o, "tableReference.tableId"), "fastest_laps");
		CHECK_STREQ(jstr(o, "view.query"), q);
		CHECK(jget(o, "view.useLegacySql") != NULL &&
			  json_object_is_type(jget(o, "view.useLegacySql"), json_type_boolean) &&
			  !json_object_get_boolean(jget(o, "view.useLegacySql")));
		CHECK(s != NULL && strstr(s, "\\/") == NULL);	/* no needless escapes */
		json_object_put(o);
		free(s);
		CHECK(f1_bq_view_body("p", "d", "v", NULL) == NULL);
	}
	end_case();
}

/* ---- the discovery document ---------------------------------------------------------- */

static json_object *discovery_schemas;
static bool validate_quiet;		/* count problems without reporting them */

#define VCHECKF(cond, ...) (validate_quiet ? (bool) (cond) : CHECKF((cond), __VA_ARGS__))
static char visited[64][64];
static int	n_visited;

static void
note_visit(const char *schema)
{
	for (int i = 0; i < n_visited; i++)
		if (strcmp(visited[i], schema) == 0)
			return;
	if (n_visited < 64)
		snprintf(visited[n_visited++], sizeof(visited[0]), "%s", schema);
}

static bool
was_visited(const char *schema)
{
	for (int i = 0; i < n_visited; i++)
		if (strcmp(visited[i], schema) == 0)
			return true;
	return false;
}

/*
 * Check value against a discovery schema node (a {"$ref"}, or a node with
 * "type" and "properties" / "items" / "additionalProperties"): every member
 * of an object must be a property that is not read-only, and the types must
 * agree.  Returns the number of problems, each printed as a failure.
 */
static int
validate(json_object *value, json_object *node, const char *path)
{
	const char *ref = jstr(node, "$ref");
	const char *type;
	int			bad = 0;

	if (ref != NULL)
	{
		note_visit(ref);
		node = jget(discovery_schemas, ref);
		if (node == NULL)
		{
			VCHECKF(false, "%s: schema %s not in the document", path, ref);
			return 1;
		}
	}
	type = jstr(node, "type");
	if (jhas(node, "additionalProperties") && !jhas(node, "properties"))
		return 0;				/* free-form: JsonObject (a row) */
	if (type == NULL)
		return 0;
	if (strcmp(type, "object") == 0)
	{
		json_object *props = jget(node, "properties");

		if (!VCHECKF(json_object_is_type(value, json_type_object), "%s: not an object", path))
			return 1;
		json_object_object_foreach(value, key, member)
		{
			json_object *p = props != NULL ? jget(props, key) : NULL;
			char		sub[512];

			snprintf(sub, sizeof(sub), "%s.%s", path, key);
			if (!VCHECKF(p != NULL, "%s: no such property in schema %s", sub,
						ref != NULL ? ref : "(inline)"))
			{
				bad++;
				continue;
			}
			if (!VCHECKF(jget(p, "readOnly") == NULL || !json_object_get_boolean(jget(p, "readOnly")),
						"%s: property is output only", sub))
				bad++;
			bad += validate(member, p, sub);
		}
	}
	else if (strcmp(type, "array") == 0)
	{
		if (!VCHECKF(json_object_is_type(value, json_type_array), "%s: not an array", path))
			return 1;
		for (size_t i = 0; i < json_object_array_length(value); i++)
		{
			char		sub[512];

			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			bad += validate(json_object_array_get_idx(value, i), jget(node, "items"), sub);
		}
	}
	else if (strcmp(type, "string") == 0)
		bad += !VCHECKF(json_object_is_type(value, json_type_string), "%s: not a string", path);
	else if (strcmp(type, "boolean") == 0)
		bad += !VCHECKF(json_object_is_type(value, json_type_boolean), "%s: not a boolean", path);
	else if (strcmp(type, "integer") == 0)
		bad += !VCHECKF(json_object_is_type(value, json_type_int), "%s: not an integer", path);
	return bad;
}

/* Validate JSON text against a named schema; returns the problems. */
static int
validate_text(const char *text, const char *schema)
{
	json_object *o = text != NULL ? jparse(text) : NULL;
	json_object *ref = json_object_new_object();
	int			bad;

	json_object_object_add(ref, "$ref", json_object_new_string(schema));
	if (!CHECKF(o != NULL, "%s: body is not JSON", schema))
		bad = 1;
	else
		bad = validate(o, ref, schema);
	json_object_put(ref);
	json_object_put(o);
	return bad;
}

/* A JSON file, gzipped or plain; NULL if unreadable or not JSON. */
static json_object *
read_json_file(const char *path)
{
	size_t		len;
	char	   *text = read_file(path, &len);
	json_object *doc;

	if (text == NULL)
		return NULL;
	doc = json_tokener_parse(text);
	free(text);
	return doc;
}

static void
test_discovery(const char *root)
{
	char		defpath[4096 + 64];
	const char *path = getenv("F1TEL_DISCOVERY");
	json_object *doc;
	char	   *s;

	if (path == NULL || path[0] == '\0')
	{
		snprintf(defpath, sizeof(defpath), "%s/test/bigquery/bigquery-v2-discovery.json.gz",
				 root);
		path = defpath;
	}

	begin_case("discovery: the document");
	doc = read_json_file(path);
	CHECKF(doc != NULL, "cannot read the discovery document %s (F1TEL_DISCOVERY)", path);
	discovery_schemas = jget(doc, "schemas");
	CHECKF(discovery_schemas != NULL, "%s: no schemas", path);
	CHECK_STREQ(jstr(doc, "id"), "bigquery:v2");
	end_case();
	if (discovery_schemas == NULL)
	{
		json_object_put(doc);
		return;
	}

	begin_case("discovery: insertAll body is a TableDataInsertAllRequest");
	{
		F1BqRow		rows[2] = {{"id-1", "{\"a\":1,\"whatever\":[1]}", 22}, {NULL, "{}", 2}};

		s = f1_bq_insertall_body(rows, 2, NULL);
		n_visited = 0;
		CHECK(validate_text(s, "TableDataInsertAllRequest") == 0);
		CHECK(was_visited("JsonObject"));
		free(s);
	}
	end_case();

	begin_case("discovery: the answers read are a TableDataInsertAllResponse");
	n_visited = 0;
	CHECK(validate_text(J("{'kind':'bigquery#tableDataInsertAllResponse','insertErrors':"
						  "[{'index':2,'errors':[{'reason':'invalid','location':'x',"
						  "'message':'m','debugInfo':''}]}]}"),
						"TableDataInsertAllResponse") == 0);
	CHECK(was_visited("ErrorProto"));
	end_case();

	begin_case("discovery: dataset body is a Dataset");
	s = f1_bq_dataset_body("p", "d", "EU");
	n_visited = 0;
	CHECK(validate_text(s, "Dataset") == 0);
	CHECK(was_visited("DatasetReference"));
	free(s);
	end_case();

	begin_case("discovery: table body is a Table");
	s = f1_bq_table_body("p", "d", "t", test_fields, 7, "date_start", test_cluster, 2);
	n_visited = 0;
	CHECK(validate_text(s, "Table") == 0);
	CHECK(was_visited("TableReference") && was_visited("TableSchema") &&
		  was_visited("TableFieldSchema") && was_visited("TimePartitioning") &&
		  was_visited("Clustering"));
	free(s);
	end_case();

	begin_case("discovery: view body is a Table with a ViewDefinition");
	s = f1_bq_view_body("p", "d", "v", "SELECT 1");
	n_visited = 0;
	CHECK(validate_text(s, "Table") == 0);
	CHECK(was_visited("ViewDefinition") && was_visited("TableReference"));
	free(s);
	end_case();

	begin_case("discovery: the schema upgrade's tables.patch body is a Table");
	{
		static const F1BqField more[] = {{"a", "INT64", "REQUIRED"}, {"b", "STRING", "NULLABLE"}};
		const char *answer = J("{'kind':'bigquery#table','type':'TABLE','schema':{'fields':["
							   "{'name':'a','type':'INTEGER','mode':'REQUIRED','description':'d'}]}}");

		s = NULL;
		CHECK(f1_bq_schema_compare(answer, strlen(answer), more, 2, &s, NULL, NULL, 0) ==
			  F1BQ_SCHEMA_ADD);
		n_visited = 0;
		CHECK(validate_text(s, "Table") == 0);
		CHECK(was_visited("TableSchema") && was_visited("TableFieldSchema"));
		free(s);
	}
	end_case();

	begin_case("discovery: the check catches a wrong field");
	{
		int			bad;

		validate_quiet = true;
		bad = validate_text(J("{'tableReference':{'projectId':'p','datasetId':'d','tableId':'t'},"
							  "'partitioning':{},'location':'EU','view':{'useLegacySql':'no'}}"),
							"Table");
		validate_quiet = false;
		CHECKF(bad == 3, "%d problems found, want 3 (unknown, output-only, wrong type)", bad);
	}
	end_case();

	json_object_put(doc);
	discovery_schemas = NULL;
}

HARNESS_MAIN(test_insertall_body(); test_bodies(); test_discovery(repo_root);)
