/*
 * src/sink/bq_json.c — BigQuery REST v2 request bodies, responses and error
 * classes for the sink.
 *
 * Implements the contract of bq_json.h.  The insertAll body is the hot path
 * (up to 10 MB per request): it is built by string concatenation into one
 * buffer sized exactly beforehand, splicing each row's JSON text as it is
 * and JSON-escaping only the insertId.  The bodies that create datasets,
 * tables and views are rare and small and are built with json-c, which
 * escapes everything.  Answers are parsed with json-c, one tokener per call.
 *
 * No PostgreSQL headers or calls; memory is malloc'd and returned to the
 * caller, who frees it; messages never hold a credential (none passes
 * through here).
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json_object.h>
#include <json-c/json_tokener.h>

#include "shared/cutil.h"
#include "sink/bq_json.h"

#define JSON_OUT_FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Longest excerpt of a non-JSON body quoted in a message, in bytes. */
#define EXCERPT_MAX		200

static const char envelope_head[] =
"{\"kind\":\"bigquery#tableDataInsertAllRequest\","
"\"skipInvalidRows\":false,\"ignoreUnknownValues\":false,\"rows\":[";
static const char envelope_tail[] = "]}";

/* A row: ROW_HEAD_ID insertId ROW_MID json "}", or ROW_HEAD json "}". */
static const char row_head_id[] = "{\"insertId\":\"";
static const char row_mid[] = "\",\"json\":";
static const char row_head[] = "{\"json\":";

/* Reasons of a transient failure, for a request or for one row. */
static const char *const transient_reasons[] = {
	"backendError", "internalError", "badGateway", "rateLimitExceeded", "timeout"
};

/* ---- messages ------------------------------------------------------------ */

/* Whether hay[0 .. len-1] contains needle, ignoring ASCII case. */
static bool
contains_ci(const char *hay, size_t len, const char *needle)
{
	size_t		n = strlen(needle);

	if (hay == NULL || n > len)
		return false;
	for (size_t i = 0; i + n <= len; i++)
	{
		size_t		j = 0;

		while (j < n && tolower((unsigned char) hay[i + j]) == tolower((unsigned char) needle[j]))
			j++;
		if (j == n)
			return true;
	}
	return false;
}

/* Whether text starts, at p (of end), with the tag name tag (ignoring case). */
static bool
tag_is(const char *p, const char *end, const char *tag)
{
	size_t		n = strlen(tag);

	if ((size_t) (end - p) < n + 1)
		return false;
	for (size_t i = 0; i < n; i++)
		if (tolower((unsigned char) p[i]) != tag[i])
			return false;
	return p[n] == '>' || p[n] == ' ' || p[n] == '\t' || p[n] == '\n' || p[n] == '\r' ||
		p[n] == '/';
}

/*
 * A short excerpt of a non-JSON body for a message: HTML tags and the
 * contents of <style> and <script> removed, a few entities decoded, white
 * space collapsed, control characters dropped, at most EXCERPT_MAX bytes
 * (cut at a UTF-8 boundary).
 */
static void
excerpt(char *dst, size_t dstlen, const char *body, size_t len)
{
	static const struct
	{
		const char *name;
		char		c;
	}			entities[] = {
		{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''},
		{"&nbsp;", ' '}
	};
	const char *p = body;
	const char *end = body + len;
	size_t		n = 0;
	size_t		max = dstlen > 0 ? dstlen - 1 : 0;
	bool		space = false;

	if (max > EXCERPT_MAX)
		max = EXCERPT_MAX;
	if (dst == NULL || dstlen == 0)
		return;
	while (body != NULL && p < end && n < max)
	{
		unsigned char c = (unsigned char) *p;

		if (c == '<')
		{
			const char *skip_to = NULL;

			if (tag_is(p + 1, end, "style"))
				skip_to = "</style";
			else if (tag_is(p + 1, end, "script"))
				skip_to = "</script";
			if (skip_to != NULL)
			{
				/* to the closing tag, then past its '>' */
				size_t		sl = strlen(skip_to);

				while (p < end && !((size_t) (end - p) >= sl && contains_ci(p, sl, skip_to)))
					p++;
			}
			while (p < end && *p != '>')
				p++;
			if (p < end)
				p++;
			space = n > 0;
			continue;
		}
		if (c == '&')
		{
			bool		done = false;

			for (size_t i = 0; i < sizeof(entities) / sizeof(entities[0]); i++)
			{
				size_t		el = strlen(entities[i].name);

				if ((size_t) (end - p) >= el && memcmp(p, entities[i].name, el) == 0)
				{
					if (entities[i].c == ' ')
						space = n > 0;
					else
					{
						if (space && n < max)
							dst[n++] = ' ';
						space = false;
						if (n < max)
							dst[n++] = entities[i].c;
					}
					p += el;
					done = true;
					break;
				}
			}
			if (done)
				continue;
		}
		if (c <= ' ' || c == 0x7F)
		{
			space = n > 0;
			p++;
			continue;
		}
		if (space)
		{
			dst[n++] = ' ';
			space = false;
			if (n >= max)
				break;
		}
		dst[n++] = (char) c;
		p++;
	}
	/* a cut must not split a UTF-8 sequence */
	if (n == max && p < end)
		n = f1_utf8_complete_len(dst, n);
	while (n > 0 && dst[n - 1] == ' ')
		n--;
	dst[n] = '\0';
}

/* ---- JSON ---------------------------------------------------------------- */

/*
 * Parse len bytes of JSON text that must be one object (with nothing but
 * white space after it).  NULL if it is not such a text.
 */
static json_object *
parse_object(const char *text, size_t len)
{
	json_tokener *tok;
	json_object *obj;
	size_t		end;

	if (text == NULL || len == 0 || len > INT_MAX)
		return NULL;
	tok = json_tokener_new();
	if (tok == NULL)
		return NULL;
	obj = json_tokener_parse_ex(tok, text, (int) len);
	if (obj != NULL && json_tokener_get_error(tok) != json_tokener_success)
	{
		json_object_put(obj);
		obj = NULL;
	}
	end = obj != NULL ? json_tokener_get_parse_end(tok) : len;
	json_tokener_free(tok);
	for (; end < len; end++)
	{
		if (!isspace((unsigned char) text[end]))
		{
			json_object_put(obj);
			return NULL;
		}
	}
	if (obj != NULL && !json_object_is_type(obj, json_type_object))
	{
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

/* A member that is a string, else NULL. */
static const char *
get_str(json_object *obj, const char *key)
{
	json_object *v;

	if (obj == NULL || !json_object_object_get_ex(obj, key, &v) ||
		!json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* A member of the given type, else NULL. */
static json_object *
get_typed(json_object *obj, const char *key, json_type type)
{
	json_object *v;

	if (obj == NULL || !json_object_object_get_ex(obj, key, &v) ||
		!json_object_is_type(v, type))
		return NULL;
	return v;
}

/* An index: a JSON integer, or a string of digits (int64/uint32 in REST). */
static bool
get_index(json_object *v, long long *out)
{
	if (json_object_is_type(v, json_type_int))
	{
		*out = (long long) json_object_get_int64(v);
		return true;
	}
	if (json_object_is_type(v, json_type_string))
	{
		const char *s = json_object_get_string(v);
		char	   *end;

		if (*s < '0' || *s > '9' || strlen(s) > 18)
			return false;
		*out = strtoll(s, &end, 10);
		return *end == '\0';
	}
	return false;
}

static bool
is_transient(const char *reason)
{
	for (size_t i = 0; i < sizeof(transient_reasons) / sizeof(transient_reasons[0]); i++)
		if (strcmp(reason, transient_reasons[i]) == 0)
			return true;
	return false;
}

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

/* The JSON text of o, malloc'd, and o freed; NULL when out of memory or !ok. */
static char *
finish(json_object *o, bool ok)
{
	char	   *s = NULL;

	if (o != NULL && ok)
	{
		const char *t = json_object_to_json_string_ext(o, JSON_OUT_FLAGS);

		if (t != NULL)
			s = strdup(t);
	}
	json_object_put(o);
	return s;
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

/* ---- insertAll answers ------------------------------------------------------- */

/* How bad a row's state is: the worst of its entries decides. */
static int
row_rank(F1BqRowStatus s)
{
	switch (s)
	{
		case F1BQ_ROW_OK:
			return 0;
		case F1BQ_ROW_STOPPED:
			return 1;
		case F1BQ_ROW_RETRY:
			return 2;
		case F1BQ_ROW_INVALID:
			return 3;
	}
	return 3;
}

/*
 * How bad one error is: "invalid" 4, an unknown or missing reason 3 (also
 * INVALID, but an explicit "invalid" explains the row better), transient 2,
 * "stopped" 1.
 */
static int
error_rank(const char *reason, F1BqRowStatus *status)
{
	if (reason != NULL && strcmp(reason, "invalid") == 0)
	{
		*status = F1BQ_ROW_INVALID;
		return 4;
	}
	if (reason != NULL && strcmp(reason, "stopped") == 0)
	{
		*status = F1BQ_ROW_STOPPED;
		return 1;
	}
	if (reason != NULL && is_transient(reason))
	{
		*status = F1BQ_ROW_RETRY;
		return 2;
	}
	*status = F1BQ_ROW_INVALID;
	return 3;
}

/* "<reason>: <location>: <message>" without the missing parts. */
static void
row_reason(char *dst, size_t dstlen, const char *reason, const char *location,
		   const char *message)
{
	char		buf[1024];
	const char *parts[3] = {reason, location, message};
	size_t		n = 0;

	buf[0] = '\0';
	for (int i = 0; i < 3; i++)
	{
		int			w;

		if (parts[i] == NULL || parts[i][0] == '\0' || n >= sizeof(buf) - 1)
			continue;
		w = snprintf(buf + n, sizeof(buf) - n, "%s%s", n > 0 ? ": " : "", parts[i]);
		if (w < 0)
			break;
		n += (size_t) w;
		if (n > sizeof(buf) - 1)
			n = sizeof(buf) - 1;
	}
	f1_copy_clean(dst, dstlen, buf, dstlen);
}

int
f1_bq_parse_insertall_response(const char *body, size_t len, int nrows,
							   F1BqRowResult *results, char *errbuf, size_t errlen)
{
	const char *what = "insertAll response";
	json_object *obj;
	json_object *ierrs;
	json_object *v;
	size_t		nerr;
	int			bad = 0;

	if (nrows < 0 || (nrows > 0 && results == NULL))
	{
		f1_set_msg(errbuf, errlen, "%s: bad arguments", what);
		return -1;
	}
	obj = parse_object(body, len);
	if (obj == NULL)
	{
		f1_set_msg(errbuf, errlen, "%s: not a JSON object", what);
		return -1;
	}
	for (int i = 0; i < nrows; i++)
	{
		results[i].status = F1BQ_ROW_OK;
		results[i].reason[0] = '\0';
	}
	if (!json_object_object_get_ex(obj, "insertErrors", &v) || v == NULL)
	{
		json_object_put(obj);
		return 0;
	}
	ierrs = get_typed(obj, "insertErrors", json_type_array);
	if (ierrs == NULL)
	{
		f1_set_msg(errbuf, errlen, "%s: \"insertErrors\" is not an array", what);
		json_object_put(obj);
		return -1;
	}

	nerr = json_object_array_length(ierrs);
	for (size_t e = 0; e < nerr; e++)
	{
		json_object *ent = json_object_array_get_idx(ierrs, e);
		json_object *idx;
		json_object *errs;
		long long	row;
		size_t		nr;
		F1BqRowStatus st = F1BQ_ROW_INVALID;
		json_object *decider = NULL;
		int			best = 0;
		F1BqRowResult *res;

		if (ent == NULL || !json_object_is_type(ent, json_type_object) ||
			!json_object_object_get_ex(ent, "index", &idx) || idx == NULL ||
			!get_index(idx, &row))
		{
			f1_set_msg(errbuf, errlen, "%s: insertErrors[%zu] has no index", what, e);
			json_object_put(obj);
			return -1;
		}
		if (row < 0 || row >= nrows)
		{
			f1_set_msg(errbuf, errlen, "%s: insertErrors[%zu] names row %lld of %d",
					   what, e, row, nrows);
			json_object_put(obj);
			return -1;
		}
		errs = get_typed(ent, "errors", json_type_array);
		nr = errs != NULL ? json_object_array_length(errs) : 0;
		/* with no errors[] at all the row stays INVALID: nothing says why */
		for (size_t k = 0; k < nr; k++)
		{
			json_object *err = json_object_array_get_idx(errs, k);
			F1BqRowStatus s;
			int			rank = error_rank(get_str(err, "reason"), &s);

			if (rank > best)
			{
				best = rank;
				st = s;
				decider = err;
			}
		}

		res = &results[row];
		if (res->status == F1BQ_ROW_OK)
			bad++;
		else if (row_rank(st) <= row_rank(res->status))
			continue;			/* a second entry for the row, no worse */
		res->status = st;
		if (decider != NULL)
			row_reason(res->reason, sizeof(res->reason), get_str(decider, "reason"),
					   get_str(decider, "location"), get_str(decider, "message"));
		if (res->reason[0] == '\0')
			row_reason(res->reason, sizeof(res->reason), "invalid", NULL,
					   "no reason given");
	}
	json_object_put(obj);
	return bad;
}

/* ---- refused requests ------------------------------------------------------- */

const char *
f1_bq_verdict_name(F1BqVerdict v)
{
	switch (v)
	{
		case F1BQ_OK:
			return "OK";
		case F1BQ_RETRY:
			return "RETRY";
		case F1BQ_QUOTA:
			return "QUOTA";
		case F1BQ_TOO_LARGE:
			return "TOO_LARGE";
		case F1BQ_AUTH:
			return "AUTH";
		case F1BQ_NOT_FOUND:
			return "NOT_FOUND";
		case F1BQ_FATAL:
			return "FATAL";
	}
	return "?";
}

#define PAYLOAD_TOO_LARGE	"payload size exceeds the limit"

F1BqVerdict
f1_bq_classify(long http_status, const char *body, size_t len,
			   char *message, size_t msglen)
{
	json_object *obj = NULL;
	json_object *err = NULL;
	json_object *errs = NULL;
	const char *gmsg = NULL;	/* error.message */
	const char *reason = NULL;	/* the reason that decided, or the first */
	bool		too_large = false;
	bool		quota = false;
	bool		transient = false;
	size_t		nerrs = 0;
	F1BqVerdict v;
	char		text[EXCERPT_MAX + 1];

	if (message != NULL && msglen > 0)
		message[0] = '\0';
	if (http_status == 0)
	{
		f1_set_msg(message, msglen, "no HTTP answer (connection failed or timed out)");
		return F1BQ_RETRY;
	}
	if (http_status >= 200 && http_status <= 299)
		return F1BQ_OK;
	if (body == NULL)
		len = 0;

	/* Google's envelope, if the body is one */
	obj = parse_object(body, len);
	err = get_typed(obj, "error", json_type_object);
	if (err != NULL)
	{
		gmsg = get_str(err, "message");
		errs = get_typed(err, "errors", json_type_array);
		nerrs = errs != NULL ? json_object_array_length(errs) : 0;
		if (gmsg != NULL && contains_ci(gmsg, strlen(gmsg), PAYLOAD_TOO_LARGE))
			too_large = true;
		for (size_t i = 0; i < nerrs; i++)
		{
			json_object *e = json_object_array_get_idx(errs, i);
			const char *r = get_str(e, "reason");
			const char *m = get_str(e, "message");

			if (gmsg == NULL && m != NULL)
				gmsg = m;
			if (m != NULL && contains_ci(m, strlen(m), PAYLOAD_TOO_LARGE))
				too_large = true;
			if (r == NULL)
				continue;
			if (reason == NULL)
				reason = r;
			if (strcmp(r, "quotaExceeded") == 0)
			{
				if (!quota)
					reason = r;
				quota = true;
			}
			else if (is_transient(r))
			{
				if (!quota && !transient)
					reason = r;
				transient = true;
			}
		}
		f1_copy_clean(text, sizeof(text), gmsg != NULL ? gmsg : "", EXCERPT_MAX);
	}
	else
	{
		/* HTML from Google's front end, a proxy's page, plain text, other JSON */
		if (contains_ci(body, len, PAYLOAD_TOO_LARGE))
			too_large = true;
		excerpt(text, sizeof(text), body, len);
	}

	if (http_status == 401)
		v = F1BQ_AUTH;
	else if (http_status == 413 || too_large)
		v = F1BQ_TOO_LARGE;
	else if (quota)
		v = F1BQ_QUOTA;
	else if (transient)
		v = F1BQ_RETRY;
	else if (http_status == 404)
		v = F1BQ_NOT_FOUND;
	else if (http_status == 408 || http_status == 429 ||
			 (http_status >= 500 && http_status <= 599))
		v = F1BQ_RETRY;
	else
		v = F1BQ_FATAL;

	if (reason != NULL)
	{
		char		r[64];

		f1_copy_clean(r, sizeof(r), reason, sizeof(r));
		f1_set_msg(message, msglen, "HTTP %ld %s%s%s", http_status, r,
				   text[0] ? ": " : "", text);
	}
	else
		f1_set_msg(message, msglen, "HTTP %ld%s%s", http_status, text[0] ? ": " : "", text);
	json_object_put(obj);
	return v;
}

/* ---- back-off ---------------------------------------------------------------- */

/* xorshift64* (Vigna): the state must not be 0. */
static uint64_t
next_random(uint64_t *state)
{
	uint64_t	x = *state;

	if (x == 0)
		x = UINT64_C(0x9E3779B97F4A7C15);
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * UINT64_C(0x2545F4914F6CDD1D);
}

int64_t
f1_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, uint64_t *rng_state)
{
	int64_t		ceiling;
	uint64_t	r;

	if (base_ms <= 0 || cap_ms <= 0)
		return 0;
	if (attempt < 0)
		attempt = 0;
	ceiling = base_ms < cap_ms ? base_ms : cap_ms;
	for (int i = 0; i < attempt && ceiling < cap_ms; i++)
		ceiling = ceiling > cap_ms / 2 ? cap_ms : ceiling * 2;
	r = next_random(rng_state);
	return (int64_t) (r % ((uint64_t) ceiling + 1));
}

/* ---- datasets, tables, views ---------------------------------------------------- */

char *
f1_bq_dataset_body(const char *project, const char *dataset, const char *location)
{
	json_object *o;
	bool		ok;

	if (project == NULL || dataset == NULL)
		return NULL;
	o = json_object_new_object();
	if (o == NULL)
		return NULL;
	ok = f1_json_add_member(o, "datasetReference", reference(project, dataset, NULL)) &&
		(location == NULL || f1_json_add_member(o, "location", jstr(location)));
	return finish(o, ok);
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

	o = json_object_new_object();
	if (o == NULL)
		return NULL;
	ok = f1_json_add_member(o, "tableReference", reference(project, dataset, table));

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
	return finish(o, ok);
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
	o = json_object_new_object();
	if (o == NULL)
		return NULL;
	ok = f1_json_add_member(o, "tableReference", reference(project, dataset, view));
	vd = ok ? json_object_new_object() : NULL;
	ok = ok && f1_json_add_member(o, "view", vd) &&
		f1_json_add_member(vd, "query", jstr(query)) &&
		f1_json_add_member(vd, "useLegacySql", json_object_new_boolean(0));
	return finish(o, ok);
}
