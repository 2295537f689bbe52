/*
 * test/unit/decode_jsonc.c — the reference decoder: f1tel's OpenF1 decoder
 * as it was when it parsed with json-c (src/ingest/decode.c and gap.c of
 * that time), kept for tests only.
 *
 * f1_decode_message_jsonc() has f1_decode_message()'s contract (decode.h)
 * and must give the very same answer for every input: the same rows, the
 * same accepted and refused messages, the same reasons but for JSON syntax
 * errors (json-c's offsets and words).  test_decode_diff and fuzz_decode_diff
 * compare the two.  It uses the batch functions and the timestamp and
 * "+N LAP(S)" parsers of src/ingest (decode.c, timestamp.c, gap.c), which
 * did not change.  The json-c tokener is per thread and is never freed
 * (one per test program).  Do not fix bugs here: this is what was.
 */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json_object.h>
#include <json-c/json_tokener.h>

#include "ingest/decode.h"
#include "decode_jsonc.h"

/* What a decode call needs to report an error. */
typedef struct DecodeCtx
{
	F1Batch    *batch;
	char	   *errbuf;
	size_t		errlen;
	long		record;			/* index in the JSON array, -1 for an object */
} DecodeCtx;

static int	jc_fail(DecodeCtx *cx, const char *fmt,...) __attribute__((format(printf, 2, 3)));
static int	jc_fail_oom(DecodeCtx *cx);
static const char *jc_quote_input(char *buf, size_t buflen, const char *s, size_t len);
static int	jc_decode_number(DecodeCtx *cx, const char *field, const char *what,
							 json_object *v, double *out);
static int	jc_decode_gap(DecodeCtx *cx, const F1Column *col, json_object *v, F1Value *out);

#define INITIAL_ROWS	256
#define INITIAL_POOL	8192
#define MAX_POOL		((size_t) UINT32_MAX)	/* str.off and str.len are 32 bits */
#define INT4_LITERAL_MAX 11		/* strlen("-2147483648") */

/* One tokener per thread, created on first use, never freed. */
static __thread json_tokener *thread_tokener;

/* Room for `extra` more rows; false if it cannot be had. */
static bool
reserve_rows(F1Batch *batch, size_t extra)
{
	size_t		need = (size_t) batch->nrows + extra;
	size_t		newcap;
	size_t		ncols = (size_t) batch->ep->ncolumns;
	void	   *p;

	if (need <= (size_t) batch->caprows)
		return true;
	if (need > INT_MAX)
		return false;
	newcap = batch->caprows > 0 ? (size_t) batch->caprows : INITIAL_ROWS;
	while (newcap < need)
		newcap *= 2;
	if (newcap > INT_MAX)
		newcap = INT_MAX;
	if (newcap > SIZE_MAX / sizeof(F1Value) / ncols)
		return false;

	/* Each array is kept as soon as it has grown; caprows moves last. */
	p = realloc(batch->values, newcap * ncols * sizeof(F1Value));
	if (p == NULL)
		return false;
	batch->values = p;
	p = realloc(batch->src_partition, newcap * sizeof(int32_t));
	if (p == NULL)
		return false;
	batch->src_partition = p;
	p = realloc(batch->src_offset, newcap * sizeof(int64_t));
	if (p == NULL)
		return false;
	batch->src_offset = p;
	batch->caprows = (int) newcap;
	return true;
}

/* Room for `need` more pool bytes; false if it cannot be had. */
static bool
jc_reserve_pool(F1Batch *batch, size_t need)
{
	size_t		newcap;
	char	   *p;

	if (need <= batch->poolcap - batch->poollen)
		return true;
	if (need > MAX_POOL - batch->poollen)
		return false;
	newcap = batch->poolcap > 0 ? batch->poolcap : INITIAL_POOL;
	while (newcap - batch->poollen < need)
		newcap *= 2;
	if (newcap > MAX_POOL)
		newcap = MAX_POOL;
	p = realloc(batch->pool, newcap);
	if (p == NULL)
		return false;
	batch->pool = p;
	batch->poolcap = newcap;
	return true;
}

/* ---- errors -------------------------------------------------------------- */


/* Writes "<endpoint>: [record <i>: ]<message>" and returns -1. */
static int
jc_fail(DecodeCtx *cx, const char *fmt,...)
{
	va_list		ap;
	size_t		used;
	int			n;

	if (cx->errbuf == NULL || cx->errlen == 0)
		return -1;
	if (cx->record >= 0)
		n = snprintf(cx->errbuf, cx->errlen, "%s: record %ld: ",
					 cx->batch->ep->name, cx->record);
	else
		n = snprintf(cx->errbuf, cx->errlen, "%s: ", cx->batch->ep->name);
	used = n < 0 ? 0 : (size_t) n;
	if (used >= cx->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(cx->errbuf + used, cx->errlen - used, fmt, ap);
	va_end(ap);
	return -1;
}

static int
jc_fail_oom(DecodeCtx *cx)
{
	if (cx->errbuf != NULL && cx->errlen > 0)
		snprintf(cx->errbuf, cx->errlen, "out of memory");
	return -1;
}

/* "a string", "an integer", ... for messages */
static const char *
jc_json_type_desc(json_object *v)
{
	switch (json_object_get_type(v))
	{
		case json_type_null:
			return "null";
		case json_type_boolean:
			return "a boolean";
		case json_type_double:
			return "a float";
		case json_type_int:
			return "an integer";
		case json_type_object:
			return "an object";
		case json_type_array:
			return "an array";
		case json_type_string:
			return "a string";
	}
	return "an unknown JSON type";
}

static const char *
column_type_desc(F1Type type)
{
	switch (type)
	{
		case F1T_INT4:
			return "an integer";
		case F1T_FLOAT8:
			return "a number";
		case F1T_BOOL:
			return "a boolean";
		case F1T_TEXT:
			return "a string";
		case F1T_TIMESTAMPTZ:
			return "a date-time string";
		case F1T_INT4ARRAY:
			return "an array of integers";
		case F1T_GAP:
		case F1T_GAP_LAPS:
		case F1T_GAP_Q:
			return "a number of seconds, \"+N LAP(S)\" or an array of three";
	}
	return "?";
}

/*
 * Input quoted in a message, made safe for one line: at most 40 bytes,
 * anything but printable ASCII shown as '?'.
 */
static const char *
jc_quote_input(char *buf, size_t buflen, const char *s, size_t len)
{
	size_t		n = 0;
	size_t		max = buflen - 4;

	for (size_t i = 0; i < len && n < max; i++)
		buf[n++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (len > max)
	{
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

/* ---- values -------------------------------------------------------------- */

/*
 * Strict UTF-8 as PostgreSQL accepts it: shortest forms only, no surrogates,
 * nothing above U+10FFFF.  Returns len if s is valid, else the offset of the
 * first bad sequence.  (NUL bytes are left to the JSON parser.)
 */
static size_t
utf8_check(const unsigned char *s, size_t len)
{
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = s[i];
		int			ncont;
		unsigned char lo = 0x80,
					hi = 0xBF;

		if (c < 0x80)
		{
			/* ASCII runs, a word at a time */
			uint64_t	w;

			while (i + 8 <= len)
			{
				memcpy(&w, s + i, 8);
				if (w & UINT64_C(0x8080808080808080))
					break;
				i += 8;
			}
			while (i < len && s[i] < 0x80)
				i++;
			continue;
		}
		/* the second byte's range excludes overlongs, surrogates, > U+10FFFF */
		if (c >= 0xC2 && c <= 0xDF)
			ncont = 1;
		else if (c >= 0xE0 && c <= 0xEF)
		{
			ncont = 2;
			if (c == 0xE0)
				lo = 0xA0;
			else if (c == 0xED)
				hi = 0x9F;
		}
		else if (c >= 0xF0 && c <= 0xF4)
		{
			ncont = 3;
			if (c == 0xF0)
				lo = 0x90;
			else if (c == 0xF4)
				hi = 0x8F;
		}
		else
			return i;
		if ((size_t) ncont > len - i - 1)
			return i;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (int k = 2; k <= ncont; k++)
		{
			if (s[i + k] < 0x80 || s[i + k] > 0xBF)
				return i;
		}
		i += ncont + 1;
	}
	return len;
}

/* Decimal digits of v at p; returns the end. */
static char *
put_int(char *p, int64_t v)
{
	char		tmp[24];
	int			n = 0;
	uint64_t	u;

	if (v < 0)
	{
		*p++ = '-';
		u = (uint64_t) 0 - (uint64_t) v;
	}
	else
		u = (uint64_t) v;
	do
	{
		tmp[n++] = (char) ('0' + u % 10);
		u /= 10;
	} while (u != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

/* An integer value outside [min, max]: the reason. */
static int
jc_fail_range(DecodeCtx *cx, const char *what, const F1Column *col, int64_t x)
{
	/* json-c clamps integers beyond 64 bits to the int64 limits */
	if (x == INT64_MAX || x == INT64_MIN)
		return jc_fail(cx, "field \"%s\"%s: integer out of range [%lld, %lld]",
					col->name, what, (long long) col->min, (long long) col->max);
	return jc_fail(cx, "field \"%s\"%s: %lld out of range [%lld, %lld]",
				col->name, what, (long long) x,
				(long long) col->min, (long long) col->max);
}

/* An int4[] value as PostgreSQL's array literal, into the pool. */
static int
decode_int_array(DecodeCtx *cx, const F1Column *col, json_object *v,
				 F1Value *out)
{
	F1Batch    *batch = cx->batch;
	size_t		n = json_object_array_length(v);
	char	   *start,
			   *p;

	/* "{" + n elements of at most 11 chars, each with a separator + "}" */
	if (n > (MAX_POOL - 2) / (INT4_LITERAL_MAX + 1) ||
		!jc_reserve_pool(batch, 2 + n * (INT4_LITERAL_MAX + 1)))
		return jc_fail_oom(cx);
	start = p = batch->pool + batch->poollen;
	*p++ = '{';
	for (size_t i = 0; i < n; i++)
	{
		json_object *e = json_object_array_get_idx(v, i);

		if (i > 0)
			*p++ = ',';
		if (e == NULL)
		{
			memcpy(p, "NULL", 4);
			p += 4;
		}
		else if (json_object_get_type(e) == json_type_int)
		{
			int64_t		x = json_object_get_int64(e);

			if (x < col->min || x > col->max)
			{
				char		what[40];

				snprintf(what, sizeof(what), " element %zu", i);
				return jc_fail_range(cx, what, col, x);
			}
			p = put_int(p, x);
		}
		else
			return jc_fail(cx, "field \"%s\" element %zu: expected an integer or null, got %s",
						col->name, i, jc_json_type_desc(e));
	}
	*p++ = '}';
	out->v.str.off = (uint32_t) batch->poollen;
	out->v.str.len = (uint32_t) (p - start);
	batch->poollen += (size_t) (p - start);
	return 0;
}

/* One field of a record into out; 0 or -1. */
static int
decode_value(DecodeCtx *cx, const F1Column *col, json_object *v, F1Value *out)
{
	F1Batch    *batch = cx->batch;
	json_type	jt = json_object_get_type(v);

	out->isnull = false;
	switch (col->type)
	{
		case F1T_INT4:
			{
				int64_t		x;

				if (jt != json_type_int)
					break;
				x = json_object_get_int64(v);
				if (x < col->min || x > col->max)
					return jc_fail_range(cx, "", col, x);
				out->v.i4 = (int32_t) x;
				return 0;
			}
		case F1T_FLOAT8:
			if (jt != json_type_int && jt != json_type_double)
				break;
			return jc_decode_number(cx, col->name, "", v, &out->v.f8);
		case F1T_GAP:
		case F1T_GAP_LAPS:
		case F1T_GAP_Q:
			return jc_decode_gap(cx, col, v, out);
		case F1T_BOOL:
			if (jt != json_type_boolean)
				break;
			out->v.b = json_object_get_boolean(v) != 0;
			return 0;
		case F1T_TEXT:
			{
				const char *s;
				size_t		len;

				if (jt != json_type_string)
					break;
				s = json_object_get_string(v);
				len = (size_t) json_object_get_string_len(v);
				out->v.str.off = (uint32_t) batch->poollen;
				out->v.str.len = (uint32_t) len;
				if (len == 0)
				{
					/* pool + off must point somewhere, even for "" */
					if (batch->pool == NULL && !jc_reserve_pool(batch, 1))
						return jc_fail_oom(cx);
					return 0;
				}
				if (memchr(s, '\0', len) != NULL)
					return jc_fail(cx, "field \"%s\": text contains a NUL character (\\u0000)",
								col->name);
				if (!jc_reserve_pool(batch, len))
					return jc_fail_oom(cx);
				memcpy(batch->pool + batch->poollen, s, len);
				batch->poollen += len;
				return 0;
			}
		case F1T_TIMESTAMPTZ:
			{
				const char *s;
				size_t		len;

				if (jt != json_type_string)
					break;
				s = json_object_get_string(v);
				len = (size_t) json_object_get_string_len(v);
				if (!f1_parse_timestamp(s, len, &out->v.ts))
				{
					char		q[48];

					return jc_fail(cx, "field \"%s\": invalid date-time \"%s\"",
								col->name, jc_quote_input(q, sizeof(q), s, len));
				}
				return 0;
			}
		case F1T_INT4ARRAY:
			if (jt != json_type_array)
				break;
			return decode_int_array(cx, col, v, out);
	}
	return jc_fail(cx, "field \"%s\": expected %s, got %s",
				col->name, column_type_desc(col->type), jc_json_type_desc(v));
}

/* One JSON object into a new row; 0 or -1. */
static int
decode_record(DecodeCtx *cx, json_object *obj, int32_t partition,
			  int64_t offset)
{
	F1Batch    *batch = cx->batch;
	const F1Endpoint *ep = batch->ep;
	F1Value    *row;

	/*
	 * Room for one more row.  Not for a whole array at once: a long array
	 * of bad records must not make the batch grow before it is rejected.
	 */
	if (!reserve_rows(batch, 1))
		return jc_fail_oom(cx);
	row = &batch->values[(size_t) batch->nrows * ep->ncolumns];
	for (int c = 0; c < ep->ncolumns; c++)
	{
		const F1Column *col = &ep->columns[c];
		json_object *v;

		if (!json_object_object_get_ex(obj, F1_COLUMN_FIELD(col), &v))
		{
			if (col->key)
				return jc_fail(cx, "missing key field \"%s\"", col->name);
			if (col->notnull)
				return jc_fail(cx, "missing required field \"%s\"", col->name);
			row[c].isnull = true;
			continue;
		}
		if (v == NULL)
		{
			/* JSON null */
			if (col->key)
				return jc_fail(cx, "missing key field \"%s\"", col->name);
			if (col->notnull)
				return jc_fail(cx, "field \"%s\": null not allowed", col->name);
			row[c].isnull = true;
			continue;
		}
		if (decode_value(cx, col, v, &row[c]) < 0)
			return -1;
	}
	batch->src_partition[batch->nrows] = partition;
	batch->src_offset[batch->nrows] = offset;
	batch->nrows++;
	return 0;
}

/* ---- messages ------------------------------------------------------------ */

static json_tokener *
get_tokener(void)
{
	if (thread_tokener == NULL)
	{
		thread_tokener = json_tokener_new();
		if (thread_tokener == NULL)
			return NULL;
		/* UTF-8 is checked before parsing, see above */
		json_tokener_set_flags(thread_tokener, JSON_TOKENER_STRICT);
	}
	return thread_tokener;
}

static bool
is_json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * The JSON value of payload into *root (NULL for JSON null); false, with
 * the reason written, if it is not JSON.
 */
static bool
parse_json(DecodeCtx *cx, const char *payload, size_t len, json_object **rootp)
{
	json_tokener *tok = get_tokener();
	json_object *root;
	enum json_tokener_error jerr;
	size_t		end;

	*rootp = NULL;
	if (tok == NULL)
	{
		jc_fail_oom(cx);
		return false;
	}
	end = utf8_check((const unsigned char *) payload, len);
	if (end < len)
	{
		jc_fail(cx, "not valid JSON: invalid UTF-8 at byte %zu", end);
		return false;
	}
	root = json_tokener_parse_ex(tok, payload, (int) len);
	jerr = json_tokener_get_error(tok);
	if (root == NULL && jerr == json_tokener_continue)
	{
		/*
		 * A number or literal that ends the input ("123", "true") is only
		 * complete once json-c sees what follows it; anything else still
		 * incomplete after that is truncated.
		 */
		root = json_tokener_parse_ex(tok, " ", 1);
		jerr = json_tokener_get_error(tok);
		if (root == NULL && jerr == json_tokener_continue)
			jerr = json_tokener_error_parse_eof;
		end = len;
	}
	else
		end = json_tokener_get_parse_end(tok);
	json_tokener_reset(tok);	/* drops what a failed parse left behind */

	/*
	 * The one change from the decoder as it was: json_tokener_reset() keeps
	 * a high surrogate (\uD83C) that a refused message ended in, and the
	 * next message's first \u escape then gained a U+FFFD.  f1tel's answer
	 * depended on the message before; the scanner's does not, so the
	 * reference takes a new tokener after a failed parse.
	 */
	if (jerr != json_tokener_success)
	{
		json_tokener_free(tok);
		thread_tokener = NULL;
	}

	if (jerr != json_tokener_success)
	{
		json_object_put(root);
		jc_fail(cx, "not valid JSON: %s at byte %zu",
			 json_tokener_error_desc(jerr), end);
		return false;
	}
	/* json-c stops early at a NUL byte; it rejects other trailing data */
	while (end < len && is_json_space(payload[end]))
		end++;
	if (end < len)
	{
		json_object_put(root);
		jc_fail(cx, "not valid JSON: trailing data after the JSON value at byte %zu",
			 end);
		return false;
	}
	*rootp = root;
	return true;
}

int
f1_decode_message_jsonc(F1Batch *batch, const char *payload, size_t len,
				  int32_t partition, int64_t offset,
				  char *errbuf, size_t errlen)
{
	DecodeCtx	cx = {batch, errbuf, errlen, -1};
	int			saved_nrows;
	size_t		saved_poollen;
	json_object *root;
	int			rc = 0;

	if (batch == NULL || batch->ep == NULL)
	{
		if (errbuf != NULL && errlen > 0)
			snprintf(errbuf, errlen, "batch has no endpoint");
		return -1;
	}
	saved_nrows = batch->nrows;
	saved_poollen = batch->poollen;

	if (payload == NULL || len == 0)
		return jc_fail(&cx, "empty message");
	if (len > INT_MAX)
		return jc_fail(&cx, "message too large (%zu bytes)", len);

	if (!parse_json(&cx, payload, len, &root))
		return -1;

	switch (json_object_get_type(root))
	{
		case json_type_object:
			rc = decode_record(&cx, root, partition, offset);
			break;
		case json_type_array:
			{
				size_t		n = json_object_array_length(root);

				for (size_t i = 0; i < n && rc == 0; i++)
				{
					json_object *rec = json_object_array_get_idx(root, i);

					cx.record = (long) i;
					if (json_object_get_type(rec) != json_type_object)
						rc = jc_fail(&cx, "expected a JSON object, got %s",
								  jc_json_type_desc(rec));
					else
						rc = decode_record(&cx, rec, partition, offset);
				}
				break;
			}
		default:
			rc = jc_fail(&cx, "expected a JSON object or an array of objects, got %s",
					  jc_json_type_desc(root));
			break;
	}
	json_object_put(root);

	if (rc < 0)
	{
		batch->nrows = saved_nrows;
		batch->poollen = saved_poollen;
		return -1;
	}
	return batch->nrows - saved_nrows;
}

/* ---- gap fields (the old src/ingest/gap.c) ---------------------------- */

/* A JSON number (integer or float) as a finite double; 0 or -1. */
static int
jc_decode_number(DecodeCtx *cx, const char *field, const char *what,
			  json_object *v, double *out)
{
	if (json_object_get_type(v) == json_type_int)
	{
		int64_t		x = json_object_get_int64(v);

		if (x == INT64_MAX || x == INT64_MIN)
			return jc_fail(cx, "field \"%s\"%s: integer out of range", field, what);
		*out = (double) x;
		return 0;
	}
	*out = json_object_get_double(v);
	if (!isfinite(*out))
		return jc_fail(cx, "field \"%s\"%s: not a finite number", field, what);
	return 0;
}

/*
 * d as the shortest decimal text that reads back as the very same double
 * ("88.1", not "88.099999999999994"): %.15g, else %.16g, else %.17g,
 * which always does.  At most 24 characters and a NUL at p.
 */
static int
put_double(char *p, double d)
{
	int			n = 0;

	for (int prec = 15; prec <= 17; prec++)
	{
		n = snprintf(p, 25, "%.*g", prec, d);
		if (prec == 17 || strtod(p, NULL) == d)
			break;
	}
	return n;
}

/*
 * The qualifying shape of a gap field, [q1, q2, q3] of numbers or nulls,
 * as PostgreSQL's float8[] literal, into the pool.  Each number is written
 * so that PostgreSQL reads back the very double (put_double).
 */
static int
decode_float_array(DecodeCtx *cx, const F1Column *col, json_object *v,
				   F1Value *out)
{
	F1Batch    *batch = cx->batch;
	const char *field = F1_COLUMN_FIELD(col);
	size_t		n = json_object_array_length(v);
	char	   *start,
			   *p;

	if (n > F1_GAP_Q_MAX)
		return jc_fail(cx, "field \"%s\": an array of %zu elements, expected at most %d (Q1, Q2, Q3)",
					field, n, F1_GAP_Q_MAX);
	/* "{" + n elements of at most 24 chars, each with a separator + "}" */
	if (!jc_reserve_pool(batch, 2 + n * 25))
		return jc_fail_oom(cx);
	start = p = batch->pool + batch->poollen;
	*p++ = '{';
	for (size_t i = 0; i < n; i++)
	{
		json_object *e = json_object_array_get_idx(v, i);
		json_type	et = json_object_get_type(e);
		char		what[40];
		double		d;

		if (i > 0)
			*p++ = ',';
		if (e == NULL)
		{
			memcpy(p, "NULL", 4);
			p += 4;
			continue;
		}
		snprintf(what, sizeof(what), " element %zu", i);
		if (et != json_type_int && et != json_type_double)
			return jc_fail(cx, "field \"%s\"%s: expected a number of seconds or null, got %s",
						field, what, jc_json_type_desc(e));
		if (jc_decode_number(cx, field, what, e, &d) < 0)
			return -1;
		p += put_double(p, d);
	}
	*p++ = '}';
	out->v.str.off = (uint32_t) batch->poollen;
	out->v.str.len = (uint32_t) (p - start);
	batch->poollen += (size_t) (p - start);
	return 0;
}

/*
 * What a gap field may hold, for messages: 'a number of seconds, "+N
 * LAP(S)", an array of three (Q1, Q2, Q3) or null', as its F1T_GAP column's
 * shapes say (col is that column or one of its _laps and _q siblings).
 */
static const char *
gap_shapes_desc(const F1Endpoint *ep, const F1Column *col)
{
	const char *field = F1_COLUMN_FIELD(col);
	int			shapes = 0;

	for (int c = 0; c < ep->ncolumns; c++)
	{
		if (ep->columns[c].type == F1T_GAP && strcmp(ep->columns[c].name, field) == 0)
			shapes = ep->columns[c].shapes;
	}
	switch (shapes & (F1G_LAPS | F1G_Q))
	{
		case F1G_LAPS:
			return "a number of seconds, \"+N LAP(S)\" or null";
		case F1G_Q:
			return "a number of seconds, an array of three (Q1, Q2, Q3) or null";
		case F1G_LAPS | F1G_Q:
			return "a number of seconds, \"+N LAP(S)\", an array of three (Q1, Q2, Q3) or null";
	}
	return "a number of seconds or null";
}

/* A gap field's value of the wrong shape: the reason, strings quoted. */
static int
fail_gap(DecodeCtx *cx, const F1Column *col, json_object *v)
{
	const char *expected = gap_shapes_desc(cx->batch->ep, col);

	if (json_object_get_type(v) == json_type_string)
	{
		char		q[48];

		return jc_fail(cx, "field \"%s\": expected %s, got \"%s\"",
					F1_COLUMN_FIELD(col), expected,
					jc_quote_input(q, sizeof(q), json_object_get_string(v),
								(size_t) json_object_get_string_len(v)));
	}
	return jc_fail(cx, "field \"%s\": expected %s, got %s",
				F1_COLUMN_FIELD(col), expected, jc_json_type_desc(v));
}

/*
 * One value of a gap column (F1T_GAP, F1T_GAP_LAPS, F1T_GAP_Q) into out;
 * 0 or -1 (the reason written through cx).  The field's JSON null never
 * gets here (decode_record makes it NULL).
 */
static int
jc_decode_gap(DecodeCtx *cx, const F1Column *col, json_object *v, F1Value *out)
{
	json_type	jt = json_object_get_type(v);

	out->isnull = false;
	switch (col->type)
	{
		case F1T_GAP:
			if (jt == json_type_int || jt == json_type_double)
				return jc_decode_number(cx, col->name, "", v, &out->v.f8);
			if ((jt == json_type_string && (col->shapes & F1G_LAPS)) ||
				(jt == json_type_array && (col->shapes & F1G_Q)))
			{
				/* the _laps or _q column holds it (and checks it) */
				out->isnull = true;
				return 0;
			}
			return fail_gap(cx, col, v);
		case F1T_GAP_LAPS:
			if (jt == json_type_string)
			{
				const char *s = json_object_get_string(v);
				size_t		len = (size_t) json_object_get_string_len(v);
				int64_t		n;

				if (!f1_parse_laps_behind(s, len, &n))
					return fail_gap(cx, col, v);
				if (n < col->min || n > col->max)
				{
					char		q[48];

					return jc_fail(cx, "field \"%s\": \"%s\": %lld laps out of range [%lld, %lld]",
									  F1_COLUMN_FIELD(col), jc_quote_input(q, sizeof(q), s, len),
									  (long long) n, (long long) col->min, (long long) col->max);
				}
				out->v.i4 = (int32_t) n;
				return 0;
			}
			out->isnull = true;
			return 0;
		case F1T_GAP_Q:
			if (jt == json_type_array)
				return decode_float_array(cx, col, v, out);
			out->isnull = true;
			return 0;
		default:
			break;
	}
	return jc_fail(cx, "field \"%s\": not a gap column", col->name);
}
