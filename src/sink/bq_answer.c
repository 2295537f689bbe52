/*
 * src/sink/bq_answer.c — what BigQuery's answers mean to the sink: the
 * per-row result of an insertAll request answered 200, and the verdict on
 * any refused request (retry, back off for minutes, split the batch,
 * refresh the token, create the table, give up), with a one-line message
 * for the log.
 *
 * Implements the "what we read back" half of bq_json.h.  Answers are parsed
 * with json-c (f1_json_parse_object, one tokener per call); a body that is
 * not Google's JSON envelope (an HTML page from Google's front end, a
 * proxy's text) is reduced to a short excerpt with its tags removed.
 *
 * Rules a reader must know:
 *  - No PostgreSQL headers or calls (unit-tested outside the server).
 *  - No allocation that outlives a call: results and messages go into the
 *    caller's buffers, which may be NULL.
 *  - Messages are one line, bounded, control characters removed; they may
 *    quote BigQuery's text (which may quote a row's value) but never a
 *    credential (none passes through here).
 *  - Thread-safe: no global state.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json_object.h>

#include "shared/cutil.h"
#include "sink/bq_json.h"
#include "sink/json_text.h"

/* Longest excerpt of a non-JSON body quoted in a message, in bytes. */
#define EXCERPT_MAX		200

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

/* ---- JSON members ------------------------------------------------------- */

/* A member that is a string, else NULL. */
static const char *
get_str(json_object *obj, const char *key)
{
	return json_object_get_string(f1_json_member(obj, key, json_type_string));
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

/* Whether reason is one of transient_reasons. */
static bool
is_transient(const char *reason)
{
	for (size_t i = 0; i < sizeof(transient_reasons) / sizeof(transient_reasons[0]); i++)
		if (strcmp(reason, transient_reasons[i]) == 0)
			return true;
	return false;
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
	obj = f1_json_parse_object(body, len, false, NULL);
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
	ierrs = f1_json_member(obj, "insertErrors", json_type_array);
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
		errs = f1_json_member(ent, "errors", json_type_array);
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
	obj = f1_json_parse_object(body, len, false, NULL);
	err = f1_json_member(obj, "error", json_type_object);
	if (err != NULL)
	{
		gmsg = get_str(err, "message");
		errs = f1_json_member(err, "errors", json_type_array);
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
