/*
 * src/sink/bq_schema.c — the schema upgrade of a BigQuery table that is
 * already there: compare the schema of its tables.get answer with the
 * fields f1tel writes, and write the tables.patch body that appends the
 * missing ones.
 *
 * Implements the "schema upgrade" part of bq_json.h.  BigQuery changes a
 * schema in place only by appending NULLABLE (or REPEATED) columns and by
 * relaxing REQUIRED to NULLABLE; f1tel appends, and nothing else: a column
 * is never dropped or retyped, and the columns a user added are kept (and
 * left empty by f1tel).  The existing fields go back into the patch body
 * as the answer gave them (descriptions, policy tags, nested fields and
 * all), in their order, with the missing ones after them.
 *
 * Rules a reader must know:
 *  - No PostgreSQL headers or calls (unit-tested outside the server:
 *    test/unit/test_bq_schema.c).
 *  - Names are compared as BigQuery compares column names, ignoring ASCII
 *    case; types by their meaning (tables.get answers the legacy names
 *    INTEGER, FLOAT, BOOLEAN, RECORD for INT64, FLOAT64, BOOL, STRUCT).
 *  - Thread-safe: no global state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json_object.h>

#include "shared/cutil.h"
#include "sink/bq_json.h"
#include "sink/json_text.h"

/* The standard SQL name of each legacy type name BigQuery answers with. */
static const char *const type_aliases[][2] = {
	{"INTEGER", "INT64"},
	{"FLOAT", "FLOAT64"},
	{"BOOLEAN", "BOOL"},
	{"RECORD", "STRUCT"},
	{"DECIMAL", "NUMERIC"},
	{"BIGDECIMAL", "BIGNUMERIC"},
};

static const char *
canonical_type(const char *t)
{
	for (size_t i = 0; i < sizeof(type_aliases) / sizeof(type_aliases[0]); i++)
		if (strcasecmp(t, type_aliases[i][0]) == 0)
			return type_aliases[i][1];
	return t;
}

bool
f1_bq_same_type(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcasecmp(canonical_type(a), canonical_type(b)) == 0;
}

/* A member's string, or NULL. */
static const char *
str_member(json_object *o, const char *key)
{
	json_object *v = f1_json_member(o, key, json_type_string);

	return v != NULL ? json_object_get_string(v) : NULL;
}

/* A field's mode: NULLABLE when absent (BigQuery's default). */
static const char *
mode_of(const char *mode)
{
	return mode != NULL && mode[0] != '\0' ? mode : "NULLABLE";
}

/* f1tel's field named name (ignoring case), or -1. */
static int
find_want(const F1BqField *want, int nwant, const char *name)
{
	for (int j = 0; j < nwant; j++)
		if (strcasecmp(want[j].name, name) == 0)
			return j;
	return -1;
}

/* The body {"schema":{"fields":[have..., missing...]}}; NULL when out of memory. */
static char *
patch_body(json_object *have, const F1BqField *want, int nwant, const bool *present)
{
	json_object *o = json_object_new_object();
	json_object *schema = NULL;
	json_object *arr = NULL;
	bool		ok;

	ok = o != NULL &&
		f1_json_add_member(o, "schema", (schema = json_object_new_object())) &&
		f1_json_add_member(schema, "fields", (arr = json_object_new_array()));
	for (size_t i = 0; ok && have != NULL && i < json_object_array_length(have); i++)
	{
		json_object *f = json_object_get(json_object_array_get_idx(have, i));

		if (json_object_array_add(arr, f) != 0)
		{
			json_object_put(f);
			ok = false;
		}
	}
	for (int j = 0; ok && j < nwant; j++)
	{
		/* an appended column can only be NULLABLE (or REPEATED) */
		const char *mode = want[j].mode != NULL && strcasecmp(want[j].mode, "REPEATED") == 0 ?
			"REPEATED" : "NULLABLE";
		json_object *f;

		if (present[j])
			continue;
		f = json_object_new_object();
		if (f == NULL || json_object_array_add(arr, f) != 0)
		{
			json_object_put(f);
			ok = false;
			break;
		}
		ok = f1_json_add_member(f, "name", json_object_new_string(want[j].name)) &&
			f1_json_add_member(f, "type", json_object_new_string(want[j].type)) &&
			f1_json_add_member(f, "mode", json_object_new_string(mode));
	}
	return f1_json_finish(o, ok);
}

F1BqSchemaVerdict
f1_bq_schema_compare(const char *answer, size_t len, const F1BqField *want, int nwant,
					 char **patch, int *nmissing, char *message, size_t msglen)
{
	json_object *o;
	json_object *schema;
	json_object *have;
	const char *why = NULL;
	const char *kind;
	bool	   *present;
	int			missing = 0;
	size_t		nhave;
	F1BqSchemaVerdict verdict = F1BQ_SCHEMA_SAME;

	if (patch != NULL)
		*patch = NULL;
	if (nmissing != NULL)
		*nmissing = 0;
	f1_set_msg(message, msglen, "%s", "");
	if (want == NULL || nwant < 1 || patch == NULL)
	{
		f1_set_msg(message, msglen, "bad arguments");
		return F1BQ_SCHEMA_BAD;
	}
	for (int j = 0; j < nwant; j++)
		if (want[j].name == NULL || want[j].type == NULL)
		{
			f1_set_msg(message, msglen, "bad arguments");
			return F1BQ_SCHEMA_BAD;
		}
	o = f1_json_parse_object(answer, len, false, &why);
	if (o == NULL)
	{
		f1_set_msg(message, msglen, "the tables.get answer is %s", why);
		return F1BQ_SCHEMA_BAD;
	}
	kind = str_member(o, "type");
	if (kind != NULL && strcmp(kind, "TABLE") != 0)
	{
		char		k[40];

		f1_copy_clean(k, sizeof(k), kind, 32);
		f1_set_msg(message, msglen, "it is a %s, not a TABLE", k);
		json_object_put(o);
		return F1BQ_SCHEMA_CONFLICT;
	}
	/* BigQuery leaves "schema" or "fields" out when a table has no columns */
	schema = f1_json_member(o, "schema", json_type_object);
	have = f1_json_member(schema, "fields", json_type_array);
	nhave = have != NULL ? json_object_array_length(have) : 0;
	present = calloc(nwant, sizeof(bool));
	if (present == NULL)
	{
		json_object_put(o);
		f1_set_msg(message, msglen, "out of memory");
		return F1BQ_SCHEMA_BAD;
	}

	for (size_t i = 0; i < nhave && verdict == F1BQ_SCHEMA_SAME; i++)
	{
		json_object *f = json_object_array_get_idx(have, i);
		const char *name = str_member(f, "name");
		const char *type = str_member(f, "type");
		const char *mode = mode_of(str_member(f, "mode"));
		char		n[136];
		char		t[40];
		char		m[40];
		int			j;

		if (name == NULL || type == NULL)
		{
			f1_set_msg(message, msglen, "field %zu of the schema has no name or no type", i + 1);
			verdict = F1BQ_SCHEMA_BAD;
			break;
		}
		f1_copy_clean(n, sizeof(n), name, 128);
		f1_copy_clean(t, sizeof(t), type, 32);
		f1_copy_clean(m, sizeof(m), mode, 32);
		j = find_want(want, nwant, name);
		if (j < 0)
		{
			/* a column of the user's: kept, and f1tel sends nothing for it */
			if (strcasecmp(mode, "REQUIRED") == 0)
			{
				f1_set_msg(message, msglen, "column %s is REQUIRED and f1tel has no value for it", n);
				verdict = F1BQ_SCHEMA_CONFLICT;
			}
			continue;
		}
		present[j] = true;
		if (!f1_bq_same_type(type, want[j].type))
		{
			f1_set_msg(message, msglen, "column %s is %s %s in BigQuery, f1tel writes %s", n, m, t,
					   want[j].type);
			verdict = F1BQ_SCHEMA_CONFLICT;
		}
		else if ((strcasecmp(mode, "REPEATED") == 0) !=
				 (want[j].mode != NULL && strcasecmp(want[j].mode, "REPEATED") == 0))
		{
			f1_set_msg(message, msglen, "column %s is %s %s in BigQuery, f1tel writes %s %s", n, m, t,
					   mode_of(want[j].mode), want[j].type);
			verdict = F1BQ_SCHEMA_CONFLICT;
		}

		/*
		 * Else REQUIRED where f1tel's is NULLABLE, or the other way round:
		 * kept (a row without a value is refused on its own, a dead letter).
		 */
	}
	if (verdict == F1BQ_SCHEMA_SAME)
	{
		for (int j = 0; j < nwant; j++)
			missing += !present[j];
		if (missing > 0)
		{
			*patch = patch_body(have, want, nwant, present);
			if (*patch == NULL)
			{
				f1_set_msg(message, msglen, "out of memory");
				verdict = F1BQ_SCHEMA_BAD;
			}
			else
			{
				verdict = F1BQ_SCHEMA_ADD;
				if (nmissing != NULL)
					*nmissing = missing;
			}
		}
	}
	free(present);
	json_object_put(o);
	return verdict;
}

const char *
f1_bq_schema_verdict_name(F1BqSchemaVerdict v)
{
	switch (v)
	{
		case F1BQ_SCHEMA_SAME:
			return "SAME";
		case F1BQ_SCHEMA_ADD:
			return "ADD";
		case F1BQ_SCHEMA_CONFLICT:
			return "CONFLICT";
		case F1BQ_SCHEMA_BAD:
			return "BAD";
	}
	return "?";
}
