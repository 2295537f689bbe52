/*
 * src/sink/bq_body.c — the request bodies the BigQuery sink sends:
 * tabledata.insertAll (and the sizes a caller plans batches with),
 * datasets.insert and tables.insert (tables and views).
 *
 * Implements the "what we send" half of bq_json.h.  The insertAll body is
 * the hot path (up to 10 MB per request): it is built by string
 * concatenation into one buffer sized exactly beforehand, splicing each
 * row's JSON text as it is and JSON-escaping only the insertId.  The bodies
 * that create datasets, tables and views are rare and small and are built
 * with json-c, which escapes everything.
 *
 * Rules a reader must know:
 *  - No PostgreSQL headers or calls (unit-tested outside the server).
 *  - Every body is malloc'd and the caller's to free(); NULL means out of
 *    memory or a bad argument, never a partial body.
 *  - The sizes f1_bq_row_overhead() and f1_bq_insertall_envelope() report
 *    are derived from the same constant strings the body is written from,
 *    so they cannot drift apart.
 *  - Thread-safe: no global state.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json_object.h>

#include "shared/cutil.h"
#include "sink/bq_json.h"
#include "sink/json_text.h"

static const char envelope_head[] =
"{\"kind\":\"bigquery#tableDataInsertAllRequest\","
"\"skipInvalidRows\":false,\"ignoreUnknownValues\":false,\"rows\":[";
static const char envelope_tail[] = "]}";

/* A row: ROW_HEAD_ID insertId ROW_MID json "}", or ROW_HEAD json "}". */
static const char row_head_id[] = "{\"insertId\":\"";
static const char row_mid[] = "\",\"json\":";
static const char row_head[] = "{\"json\":";

/* ---- json-c building blocks ------------------------------------------------- */

/* Append to an array; false when out of memory. */
static bool
append(json_object *a, json_object *v)
{
	if (v == NULL)
		return false;
	if (json_object_array_add(a, v) != 0)
	{
		json_object_put(v);
		return false;
	}
	return true;
}

/* A string value; NULL for a NULL string (then the caller fails). */
static json_object *
jstr(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

/* {"projectId":..,"datasetId":..[,"tableId":..]}; NULL when out of memory. */
static json_object *
reference(const char *project, const char *dataset, const char *table)
{
	json_object *r = json_object_new_object();

	if (r == NULL)
		return NULL;
	if (!f1_json_add_member(r, "projectId", jstr(project)) ||
		!f1_json_add_member(r, "datasetId", jstr(dataset)) ||
		(table != NULL && !f1_json_add_member(r, "tableId", jstr(table))))
	{
		json_object_put(r);
		return NULL;
	}
	return r;
}

/*
 * A new resource object that starts with its reference: {key: {"projectId":
 * ..., "datasetId": ...[, "tableId": ...]}}.  NULL when out of memory.
 */
static json_object *
new_resource(const char *key, const char *project, const char *dataset, const char *table)
{
	json_object *o = json_object_new_object();

	if (o != NULL && !f1_json_add_member(o, key, reference(project, dataset, table)))
	{
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* ---- insertAll bodies -------------------------------------------------------- */

/* Bytes of s JSON-escaped (without the quotes). */
static size_t
escaped_len(const char *s)
{
	size_t		n = 0;

	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		if (*p == '"' || *p == '\\' || *p == '\b' || *p == '\f' || *p == '\n' ||
			*p == '\r' || *p == '\t')
			n += 2;
		else if (*p < 0x20)
			n += 6;				/* \u00XX */
		else
			n++;
	}
	return n;
}

/* Write s JSON-escaped at o; returns the end. */
static char *
write_escaped(char *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		switch (*p)
		{
			case '"':
				*o++ = '\\';
				*o++ = '"';
				break;
			case '\\':
				*o++ = '\\';
				*o++ = '\\';
				break;
			case '\b':
				*o++ = '\\';
				*o++ = 'b';
				break;
			case '\f':
				*o++ = '\\';
				*o++ = 'f';
				break;
			case '\n':
				*o++ = '\\';
				*o++ = 'n';
				break;
			case '\r':
				*o++ = '\\';
				*o++ = 'r';
				break;
			case '\t':
				*o++ = '\\';
				*o++ = 't';
				break;
			default:
				if (*p < 0x20)
				{
					memcpy(o, "\\u00", 4);
					o[4] = hex[*p >> 4];
					o[5] = hex[*p & 15];
					o += 6;
				}
				else
					*o++ = (char) *p;
				break;
		}
	}
	return o;
}

/* The row's text without the comma. */
static size_t
row_text_len(const F1BqRow *row)
{
	if (row->insert_id != NULL)
		return sizeof(row_head_id) - 1 + escaped_len(row->insert_id) +
			sizeof(row_mid) - 1 + row->json_len + 1;
	return sizeof(row_head) - 1 + row->json_len + 1;
}

size_t
f1_bq_row_overhead(const F1BqRow *row)
{
	return row_text_len(row) + 1;
}

size_t
f1_bq_insertall_envelope(void)
{
	return sizeof(envelope_head) - 1 + sizeof(envelope_tail) - 1;
}

/* Whether a row's JSON text can be spliced: present and an object. */
static bool
row_ok(const F1BqRow *row)
{
	size_t		i = 0;

	if (row->json == NULL || row->json_len == 0)
		return false;
	while (i < row->json_len && isspace((unsigned char) row->json[i]))
		i++;
	return i < row->json_len && row->json[i] == '{';
}

char *
f1_bq_insertall_body(const F1BqRow *rows, int n, size_t *len_out)
{
	size_t		total = f1_bq_insertall_envelope();
	char	   *body;
	char	   *o;

	if (len_out != NULL)
		*len_out = 0;
	if (n < 0 || (n > 0 && rows == NULL))
		return NULL;
	for (int i = 0; i < n; i++)
	{
		size_t		r;

		if (!row_ok(&rows[i]))
			return NULL;
		r = row_text_len(&rows[i]) + (i > 0);
		if (r > SIZE_MAX - 1 - total)
			return NULL;
		total += r;
	}
	body = malloc(total + 1);
	if (body == NULL)
		return NULL;

	o = body;
	memcpy(o, envelope_head, sizeof(envelope_head) - 1);
	o += sizeof(envelope_head) - 1;
	for (int i = 0; i < n; i++)
	{
		const F1BqRow *row = &rows[i];

		if (i > 0)
			*o++ = ',';
		if (row->insert_id != NULL)
		{
			memcpy(o, row_head_id, sizeof(row_head_id) - 1);
			o += sizeof(row_head_id) - 1;
			o = write_escaped(o, row->insert_id);
			memcpy(o, row_mid, sizeof(row_mid) - 1);
			o += sizeof(row_mid) - 1;
		}
		else
		{
			memcpy(o, row_head, sizeof(row_head) - 1);
			o += sizeof(row_head) - 1;
		}
		memcpy(o, row->json, row->json_len);
		o += row->json_len;
		*o++ = '}';
	}
	memcpy(o, envelope_tail, sizeof(envelope_tail) - 1);
	o += sizeof(envelope_tail) - 1;
	*o = '\0';

	if (len_out != NULL)
		*len_out = (size_t) (o - body);
	return body;
}

/* ---- datasets, tables, views ---------------------------------------------------- */

char *
f1_bq_dataset_body(const char *project, const char *dataset, const char *location)
{
	json_object *o;
	bool		ok;

	if (project == NULL || dataset == NULL)
		return NULL;
	o = new_resource("datasetReference", project, dataset, NULL);
	ok = o != NULL &&
		(location == NULL || f1_json_add_member(o, "location", jstr(location)));
	return f1_json_finish(o, ok);
}

char *
f1_bq_table_body(const char *project, const char *dataset, const char *table,
				 const F1BqField *fields, int nfields, const char *partition_field,
				 const char *const *cluster_fields, int ncluster)
{
	json_object *o;
	json_object *schema;
	json_object *arr;
	bool		ok;

	if (project == NULL || dataset == NULL || table == NULL || fields == NULL ||
		nfields < 1 || ncluster < 0 || (ncluster > 0 && cluster_fields == NULL))
		return NULL;
	for (int i = 0; i < nfields; i++)
		if (fields[i].name == NULL || fields[i].type == NULL)
			return NULL;
	for (int i = 0; i < ncluster; i++)
		if (cluster_fields[i] == NULL)
			return NULL;

	o = new_resource("tableReference", project, dataset, table);
	ok = o != NULL;

	/* "schema": {"fields": [...]} */
	schema = ok ? json_object_new_object() : NULL;
	ok = f1_json_add_member(o, "schema", schema);
	arr = ok ? json_object_new_array() : NULL;
	ok = ok && f1_json_add_member(schema, "fields", arr);
	for (int i = 0; ok && i < nfields; i++)
	{
		json_object *f = json_object_new_object();

		ok = append(arr, f) &&
			f1_json_add_member(f, "name", jstr(fields[i].name)) &&
			f1_json_add_member(f, "type", jstr(fields[i].type)) &&
			(fields[i].mode == NULL || f1_json_add_member(f, "mode", jstr(fields[i].mode)));
	}

	if (ok && partition_field != NULL)
	{
		json_object *tp = json_object_new_object();

		ok = f1_json_add_member(o, "timePartitioning", tp) &&
			f1_json_add_member(tp, "type", jstr("DAY")) &&
			f1_json_add_member(tp, "field", jstr(partition_field));
	}
	if (ok && ncluster > 0)
	{
		json_object *cl = json_object_new_object();
		json_object *cf = NULL;

		ok = f1_json_add_member(o, "clustering", cl) &&
			f1_json_add_member(cl, "fields", (cf = json_object_new_array()));
		for (int i = 0; ok && i < ncluster; i++)
			ok = append(cf, jstr(cluster_fields[i]));
	}
	return f1_json_finish(o, ok);
}

char *
f1_bq_view_body(const char *project, const char *dataset, const char *view,
				const char *query)
{
	json_object *o;
	json_object *vd;
	bool		ok;

	if (project == NULL || dataset == NULL || view == NULL || query == NULL)
		return NULL;
	o = new_resource("tableReference", project, dataset, view);
	ok = o != NULL;
	vd = ok ? json_object_new_object() : NULL;
	ok = ok && f1_json_add_member(o, "view", vd) &&
		f1_json_add_member(vd, "query", jstr(query)) &&
		f1_json_add_member(vd, "useLegacySql", json_object_new_boolean(0));
	return f1_json_finish(o, ok);
}
