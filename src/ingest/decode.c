/*
 * src/ingest/decode.c — OpenF1 JSON messages decoded into typed rows.
 *
 * Implements the contract of decode.h: one Kafka message value, a JSON
 * object or a JSON array of objects, is scanned once (json_scan.h: no tree
 * is built, nothing is allocated per message) and each record's fields are
 * checked against the endpoint's columns (src/shared/endpoints.c) and
 * appended to a columnar F1Batch.  A message is all or nothing: on any
 * error the batch is put back as it was and a one-line reason is written,
 * "<endpoint>: [record <i>: ]<what>", where <i> is the record's index in the
 * JSON array, counted from 0.  The reason for a failed allocation is exactly
 * "out of memory", so that a caller can tell it from a bad message.
 *
 * Rules a reader must know:
 *  - The decoder accepts, refuses and decodes exactly as it did when it
 *    parsed with json-c (test/unit/decode_jsonc.c keeps that one; the unit
 *    tests and a differential fuzzer compare them).  Hence the order of
 *    the reasons: a syntax error anywhere in the message wins over a
 *    content error (json-c parsed all before anything was decoded), and a
 *    record's fields are checked in column order, not in the order they
 *    come, once the record's closing brace has been seen.  So a record's
 *    member values are only located while it is scanned (one JsVal per
 *    field the endpoint has, the last of duplicate keys winning, as json-c
 *    kept the last) and decoded at its end.
 *  - Keys are matched against the endpoint's field names through a small
 *    hash table per endpoint (FieldTable, built once for f1_endpoints);
 *    a key with escapes is unescaped first and, as json-c's keys were C
 *    strings, ends at a \u0000.
 *  - Speed matters (hundreds of thousands of small records per second per
 *    core): rows and pool bytes are appended into buffers that grow by
 *    doubling and are reused from batch to batch; strings without escapes
 *    are read in place, others are unescaped into the pool.
 *  - UTF-8: the whole payload is checked here, strictly, before it is
 *    scanned (overlong forms, encoded surrogates and code points above
 *    U+10FFFF are refused, as PostgreSQL does).  What escapes decode to is
 *    valid too (an unpaired surrogate becomes U+FFFD), so a text value only
 *    needs checking for NUL (\u0000).
 */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/decode.h"
#include "ingest/decode_int.h"
#include "ingest/json_scan.h"

#define MAX_POOL		((size_t) UINT32_MAX)	/* str.off and str.len are 32 bits */
#define INT4_LITERAL_MAX 11		/* strlen("-2147483648") */

/* ---- errors -------------------------------------------------------------- */


/* Writes "<endpoint>: [record <i>: ]<message>" and returns -1. */
int
f1dec_fail(DecodeCtx *cx, const char *fmt,...)
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

int
f1dec_fail_oom(DecodeCtx *cx)
{
	if (cx->errbuf != NULL && cx->errlen > 0)
		snprintf(cx->errbuf, cx->errlen, "out of memory");
	return -1;
}

/* "a string", "an integer", ... for messages */
const char *
f1dec_kind_desc(const JsVal *v)
{
	switch ((JsKind) v->kind)
	{
		case JS_NULL:
			return "null";
		case JS_BOOL:
			return "a boolean";
		case JS_DOUBLE:
			return "a float";
		case JS_INT:
			return "an integer";
		case JS_OBJECT:
			return "an object";
		case JS_ARRAY:
			return "an array";
		case JS_STRING:
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
const char *
f1dec_quote_input(char *buf, size_t buflen, const char *s, size_t len)
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

/* ---- UTF-8 and integers -------------------------------------------------- */

/*
 * Strict UTF-8 as PostgreSQL accepts it: shortest forms only, no surrogates,
 * nothing above U+10FFFF.  Returns len if s is valid, else the offset of the
 * first bad sequence.  (NUL bytes are left to the JSON scanner.)
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
int
f1dec_fail_range(DecodeCtx *cx, const char *what, const F1Column *col, int64_t x)
{
	/* integers beyond 64 bits saturate to the int64 limits (json_scan.h) */
	if (x == INT64_MAX || x == INT64_MIN)
		return f1dec_fail(cx, "field \"%s\"%s: integer out of range [%lld, %lld]",
					col->name, what, (long long) col->min, (long long) col->max);
	return f1dec_fail(cx, "field \"%s\"%s: %lld out of range [%lld, %lld]",
				col->name, what, (long long) x,
				(long long) col->min, (long long) col->max);
}

/* ---- strings and numbers of the message ---------------------------------- */

int
f1dec_string(DecodeCtx *cx, const JsVal *v, size_t skip, const char **s, size_t *len)
{
	F1Batch    *batch = cx->batch;
	size_t		raw = v->end - v->start;
	char	   *dst;

	if (!v->escaped)
	{
		*s = cx->json + v->start;
		*len = raw;
		return 0;
	}
	/* never longer unescaped than escaped */
	if (skip > MAX_POOL || !f1dec_reserve_pool(batch, skip + raw))
		return f1dec_fail_oom(cx);
	dst = batch->pool + batch->poollen + skip;
	*len = f1js_unescape(cx->json + v->start, raw, dst, false, 0);
	*s = dst;
	return 0;
}

int
f1dec_double(DecodeCtx *cx, const JsVal *v, size_t skip, double *out)
{
	F1Batch    *batch = cx->batch;
	size_t		n = v->end - v->start;
	char		buf[64];

	if (n < sizeof(buf))
	{
		*out = f1js_double(cx->json, v, buf);
		return 0;
	}
	if (skip > MAX_POOL || !f1dec_reserve_pool(batch, skip + n + 1))
		return f1dec_fail_oom(cx);
	*out = f1js_double(cx->json, v, batch->pool + batch->poollen + skip);
	return 0;
}

/* ---- values -------------------------------------------------------------- */

/* An int4[] value as PostgreSQL's array literal, into the pool. */
static int
decode_int_array(DecodeCtx *cx, const F1Column *col, const JsVal *v,
				 F1Value *out)
{
	F1Batch    *batch = cx->batch;
	JsScan		sc;
	JsVal		e;
	size_t		n = 0,
				i = 0;
	char	   *start,
			   *p;

	f1js_array_begin(&sc, cx->json, v);
	while (f1js_array_next(&sc, &e))
		n++;
	/* "{" + n elements of at most 11 chars, each with a separator + "}" */
	if (n > (MAX_POOL - 2) / (INT4_LITERAL_MAX + 1) ||
		!f1dec_reserve_pool(batch, 2 + n * (INT4_LITERAL_MAX + 1)))
		return f1dec_fail_oom(cx);
	start = p = batch->pool + batch->poollen;
	*p++ = '{';
	f1js_array_begin(&sc, cx->json, v);
	for (; f1js_array_next(&sc, &e); i++)
	{
		if (i > 0)
			*p++ = ',';
		if (e.kind == JS_NULL)
		{
			memcpy(p, "NULL", 4);
			p += 4;
		}
		else if (e.kind == JS_INT)
		{
			if (e.i < col->min || e.i > col->max)
			{
				char		what[40];

				snprintf(what, sizeof(what), " element %zu", i);
				return f1dec_fail_range(cx, what, col, e.i);
			}
			p = put_int(p, e.i);
		}
		else
			return f1dec_fail(cx, "field \"%s\" element %zu: expected an integer or null, got %s",
							  col->name, i, f1dec_kind_desc(&e));
	}
	*p++ = '}';
	out->v.str.off = (uint32_t) batch->poollen;
	out->v.str.len = (uint32_t) (p - start);
	batch->poollen += (size_t) (p - start);
	return 0;
}

/* One field of a record into out; 0 or -1.  v is not JSON null. */
static int
decode_value(DecodeCtx *cx, const F1Column *col, const JsVal *v, F1Value *out)
{
	F1Batch    *batch = cx->batch;
	JsKind		jt = (JsKind) v->kind;

	out->isnull = false;
	switch (col->type)
	{
		case F1T_INT4:
			if (jt != JS_INT)
				break;
			if (v->i < col->min || v->i > col->max)
				return f1dec_fail_range(cx, "", col, v->i);
			out->v.i4 = (int32_t) v->i;
			return 0;
		case F1T_FLOAT8:
			if (jt != JS_INT && jt != JS_DOUBLE)
				break;
			return f1dec_decode_number(cx, col->name, "", v, 0, &out->v.f8);
		case F1T_GAP:
		case F1T_GAP_LAPS:
		case F1T_GAP_Q:
			return f1_decode_gap(cx, col, v, out);
		case F1T_BOOL:
			if (jt != JS_BOOL)
				break;
			out->v.b = v->b;
			return 0;
		case F1T_TEXT:
			{
				size_t		raw = v->end - v->start;
				size_t		len;
				char	   *dst;

				if (jt != JS_STRING)
					break;
				out->v.str.off = (uint32_t) batch->poollen;
				if (raw == 0)
				{
					out->v.str.len = 0;
					/* pool + off must point somewhere, even for "" */
					if (batch->pool == NULL && !f1dec_reserve_pool(batch, 1))
						return f1dec_fail_oom(cx);
					return 0;
				}
				if (!f1dec_reserve_pool(batch, raw))
					return f1dec_fail_oom(cx);
				dst = batch->pool + batch->poollen;
				if (v->escaped)
				{
					len = f1js_unescape(cx->json + v->start, raw, dst, false, 0);
					if (memchr(dst, '\0', len) != NULL)
						return f1dec_fail(cx, "field \"%s\": text contains a NUL character (\\u0000)",
										  col->name);
				}
				else
				{
					/* a raw NUL is a syntax error */
					len = raw;
					memcpy(dst, cx->json + v->start, raw);
				}
				out->v.str.len = (uint32_t) len;
				batch->poollen += len;
				return 0;
			}
		case F1T_TIMESTAMPTZ:
			{
				const char *s;
				size_t		len;

				if (jt != JS_STRING)
					break;
				if (f1dec_string(cx, v, 0, &s, &len) < 0)
					return -1;
				if (!f1_parse_timestamp(s, len, &out->v.ts))
				{
					char		q[48];

					return f1dec_fail(cx, "field \"%s\": invalid date-time \"%s\"",
									  col->name, f1dec_quote_input(q, sizeof(q), s, len));
				}
				return 0;
			}
		case F1T_INT4ARRAY:
			if (jt != JS_ARRAY)
				break;
			return decode_int_array(cx, col, v, out);
	}
	return f1dec_fail(cx, "field \"%s\": expected %s, got %s",
					  col->name, column_type_desc(col->type), f1dec_kind_desc(v));
}

/* ---- the fields of an endpoint ------------------------------------------- */

#define MAX_FIELDS		64		/* distinct JSON fields of an endpoint */
#define MAX_COLUMNS		64
#define FIELD_HASH		128		/* slots, a power of two > 2 * MAX_FIELDS */
#define MAX_FIELD_LEN	64

typedef struct FieldTable
{
	int			nfields;
	size_t		maxlen;			/* the longest field name */
	const char *name[MAX_FIELDS];
	uint8_t		namelen[MAX_FIELDS];
	int8_t		col_field[MAX_COLUMNS]; /* column -> field */
	int8_t		hash[FIELD_HASH];	/* field, or -1 */
	bool		ok;				/* within the limits above */
} FieldTable;

static FieldTable field_tables[F1E_COUNT];
static pthread_once_t field_tables_once = PTHREAD_ONCE_INIT;

static inline unsigned
field_hash(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	return (unsigned) (len * 7 + (unsigned char) s[0] * 3 +
					   (unsigned char) s[len - 1] * 5) & (FIELD_HASH - 1);
}

static void
build_field_table(FieldTable *t, const F1Endpoint *ep)
{
	memset(t, 0, sizeof(*t));
	memset(t->hash, -1, sizeof(t->hash));
	if (ep->ncolumns > MAX_COLUMNS)
		return;
	for (int c = 0; c < ep->ncolumns; c++)
	{
		const char *f = F1_COLUMN_FIELD(&ep->columns[c]);
		size_t		len = strlen(f);
		int			k;

		for (k = 0; k < t->nfields; k++)
		{
			if (strcmp(t->name[k], f) == 0)
				break;
		}
		if (k == t->nfields)
		{
			unsigned	h = field_hash(f, len);

			if (k == MAX_FIELDS || len > MAX_FIELD_LEN)
				return;
			t->name[k] = f;
			t->namelen[k] = (uint8_t) len;
			if (len > t->maxlen)
				t->maxlen = len;
			while (t->hash[h] >= 0)
				h = (h + 1) & (FIELD_HASH - 1);
			t->hash[h] = (int8_t) k;
			t->nfields++;
		}
		t->col_field[c] = (int8_t) k;
	}
	t->ok = true;
}

static void
build_field_tables(void)
{
	for (int e = 0; e < F1E_COUNT; e++)
		build_field_table(&field_tables[e], &f1_endpoints[e]);
}

/* The field a key names, or -1. */
static inline int
lookup_field(const FieldTable *t, const char *key, size_t len)
{
	unsigned	h = field_hash(key, len);

	for (;;)
	{
		int			k = t->hash[h];

		if (k < 0)
			return -1;
		if (t->namelen[k] == len && memcmp(t->name[k], key, len) == 0)
			return k;
		h = (h + 1) & (FIELD_HASH - 1);
	}
}

/* ---- records ------------------------------------------------------------- */

/* A syntax error of the scan as the message's reason: -1. */
static int
fail_syntax(DecodeCtx *cx, const JsScan *sc)
{
	cx->record = -1;
	return f1dec_fail(cx, "not valid JSON: %s at byte %zu", f1js_err_desc(sc->err), sc->errpos);
}

/*
 * The record's fields, located (JsVal per field, present[] says which),
 * into a new row in column order; 0 or -1.
 */
static int
decode_fields(DecodeCtx *cx, const FieldTable *t, const JsVal *vals,
			  const bool *present, int32_t partition, int64_t offset)
{
	F1Batch    *batch = cx->batch;
	const F1Endpoint *ep = batch->ep;
	F1Value    *row;

	if (!f1dec_reserve_rows(batch, 1))
		return f1dec_fail_oom(cx);
	row = &batch->values[(size_t) batch->nrows * ep->ncolumns];
	for (int c = 0; c < ep->ncolumns; c++)
	{
		const F1Column *col = &ep->columns[c];
		int			f = t->col_field[c];

		if (!present[f] || vals[f].kind == JS_NULL)
		{
			if (col->key)
				return f1dec_fail(cx, "missing key field \"%s\"", col->name);
			if (col->notnull)
				return present[f] ?
					f1dec_fail(cx, "field \"%s\": null not allowed", col->name) :
					f1dec_fail(cx, "missing required field \"%s\"", col->name);
			row[c].isnull = true;
			continue;
		}
		if (decode_value(cx, col, &vals[f], &row[c]) < 0)
			return -1;
	}
	batch->src_partition[batch->nrows] = partition;
	batch->src_offset[batch->nrows] = offset;
	batch->nrows++;
	return 0;
}

/*
 * The object at sc->pos, `depth` containers deep, scanned and, unless
 * *failed (a reason is written already), decoded into a row.  false on a
 * syntax error; a content error sets *failed and scanning goes on.
 */
static bool
scan_record(DecodeCtx *cx, const FieldTable *t, JsScan *sc, int depth,
			int32_t partition, int64_t offset, bool *failed)
{
	JsVal		vals[MAX_FIELDS];
	bool		present[MAX_FIELDS];
	JsVal		key,
				skip;

	memset(present, 0, (size_t) t->nfields * sizeof(bool));
	sc->pos++;
	f1js_skip_ws(sc);
	if (sc->pos >= sc->len)
		return f1js_fail(sc, JS_ERR_EOF, sc->len);
	if (sc->s[sc->pos] != '}')
	{
		for (;;)
		{
			char		c = sc->s[sc->pos];
			int			f;
			size_t		klen;

			if (c != '"' && c != '\'')
				return f1js_fail(sc, c == '\0' ? JS_ERR_EOF : JS_ERR_KEY, sc->pos);
			if (!f1js_string(sc, c, &key))
				return false;
			klen = key.end - key.start;
			if (!key.escaped)
				f = klen <= t->maxlen ? lookup_field(t, sc->s + key.start, klen) : -1;
			else
			{
				char		buf[MAX_FIELD_LEN + 16];

				/* json-c's keys end at a NUL; a long one is no field */
				klen = f1js_unescape(sc->s + key.start, klen, buf, true, t->maxlen);
				f = klen <= t->maxlen ? lookup_field(t, buf, klen) : -1;
			}
			f1js_skip_ws(sc);
			if (sc->pos >= sc->len)
				return f1js_fail(sc, JS_ERR_EOF, sc->len);
			if (sc->s[sc->pos] != ':')
				return f1js_fail(sc, sc->s[sc->pos] == '\0' ? JS_ERR_EOF : JS_ERR_KEYSEP, sc->pos);
			sc->pos++;
			f1js_skip_ws(sc);
			if (sc->pos >= sc->len)
				return f1js_fail(sc, JS_ERR_EOF, sc->len);
			if (depth >= JS_MAX_DEPTH)
				return f1js_fail(sc, JS_ERR_DEPTH, sc->pos);
			if (f >= 0)
			{
				if (!f1js_value(sc, depth + 1, &vals[f]))
					return false;
				present[f] = true;	/* the last of duplicates wins */
			}
			else if (!f1js_value(sc, depth + 1, &skip))
				return false;
			f1js_skip_ws(sc);
			if (sc->pos >= sc->len)
				return f1js_fail(sc, JS_ERR_EOF, sc->len);
			c = sc->s[sc->pos];
			if (c == '}')
				break;
			if (c != ',')
				return f1js_fail(sc, c == '\0' ? JS_ERR_EOF : JS_ERR_OBJSEP, sc->pos);
			sc->pos++;
			f1js_skip_ws(sc);
			if (sc->pos >= sc->len)
				return f1js_fail(sc, JS_ERR_EOF, sc->len);
			if (sc->s[sc->pos] == '}')
				return f1js_fail(sc, JS_ERR_UNEXPECTED, sc->pos);
		}
	}
	sc->pos++;
	if (!*failed && decode_fields(cx, t, vals, present, partition, offset) < 0)
		*failed = true;
	return true;
}

/* ---- messages ------------------------------------------------------------ */

/* The top-level array at sc->pos: its records; false on a syntax error. */
static bool
scan_array_of_records(DecodeCtx *cx, const FieldTable *t, JsScan *sc,
					  int32_t partition, int64_t offset, bool *failed)
{
	JsVal		v;

	sc->pos++;
	f1js_skip_ws(sc);
	if (sc->pos >= sc->len)
		return f1js_fail(sc, JS_ERR_EOF, sc->len);
	if (sc->s[sc->pos] == ']')
	{
		sc->pos++;
		return true;
	}
	for (long i = 0;; i++)
	{
		char		c;

		cx->record = i;
		if (sc->s[sc->pos] == '{')
		{
			if (!scan_record(cx, t, sc, 1, partition, offset, failed))
				return false;
		}
		else
		{
			if (!f1js_value(sc, 1, &v))
				return false;
			if (!*failed)
			{
				f1dec_fail(cx, "expected a JSON object, got %s", f1dec_kind_desc(&v));
				*failed = true;
			}
		}
		f1js_skip_ws(sc);
		if (sc->pos >= sc->len)
			return f1js_fail(sc, JS_ERR_EOF, sc->len);
		c = sc->s[sc->pos];
		if (c == ']')
			break;
		if (c != ',')
			return f1js_fail(sc, c == '\0' ? JS_ERR_EOF : JS_ERR_ARRAY, sc->pos);
		sc->pos++;
		f1js_skip_ws(sc);
		if (sc->pos >= sc->len)
			return f1js_fail(sc, JS_ERR_EOF, sc->len);
		if (sc->s[sc->pos] == ']')
			return f1js_fail(sc, JS_ERR_UNEXPECTED, sc->pos);
	}
	sc->pos++;
	return true;
}

int
f1_decode_message(F1Batch *batch, const char *payload, size_t len,
				  int32_t partition, int64_t offset,
				  char *errbuf, size_t errlen)
{
	DecodeCtx	cx = {batch, errbuf, errlen, -1, payload};
	int			saved_nrows;
	size_t		saved_poollen;
	const FieldTable *t;
	FieldTable	own;
	JsScan		sc;
	bool		failed = false;
	bool		ok;
	size_t		end;

	if (batch == NULL || batch->ep == NULL)
	{
		if (errbuf != NULL && errlen > 0)
			snprintf(errbuf, errlen, "batch has no endpoint");
		return -1;
	}
	saved_nrows = batch->nrows;
	saved_poollen = batch->poollen;

	if (payload == NULL || len == 0)
		return f1dec_fail(&cx, "empty message");
	if (len > INT_MAX)
		return f1dec_fail(&cx, "message too large (%zu bytes)", len);
	end = utf8_check((const unsigned char *) payload, len);
	if (end < len)
		return f1dec_fail(&cx, "not valid JSON: invalid UTF-8 at byte %zu", end);

	if (batch->ep >= f1_endpoints && batch->ep < f1_endpoints + F1E_COUNT)
	{
		pthread_once(&field_tables_once, build_field_tables);
		t = &field_tables[batch->ep - f1_endpoints];
	}
	else
	{
		build_field_table(&own, batch->ep);
		t = &own;
	}
	if (!t->ok)
		return f1dec_fail(&cx, "endpoint has too many fields");

	sc.s = payload;
	sc.len = len;
	sc.pos = 0;
	sc.err = JS_OK;
	sc.errpos = 0;
	f1js_skip_ws(&sc);
	if (sc.pos < len && payload[sc.pos] == '{')
		ok = scan_record(&cx, t, &sc, 0, partition, offset, &failed);
	else if (sc.pos < len && payload[sc.pos] == '[')
		ok = scan_array_of_records(&cx, t, &sc, partition, offset, &failed);
	else
	{
		JsVal		v;

		ok = f1js_value(&sc, 0, &v);
		if (ok)
		{
			f1dec_fail(&cx, "expected a JSON object or an array of objects, got %s",
					   f1dec_kind_desc(&v));
			failed = true;
		}
	}
	if (ok)
	{
		f1js_skip_ws(&sc);
		if (sc.pos < len)
		{
			cx.record = -1;
			/* json-c stopped at a NUL byte; it refused other trailing data */
			if (payload[sc.pos] == '\0')
				f1dec_fail(&cx, "not valid JSON: trailing data after the JSON value at byte %zu",
						   sc.pos);
			else
				fail_syntax(&cx, (f1js_fail(&sc, JS_ERR_UNEXPECTED, sc.pos), &sc));
			failed = true;
		}
	}
	else
	{
		fail_syntax(&cx, &sc);
		failed = true;
	}

	if (failed)
	{
		batch->nrows = saved_nrows;
		batch->poollen = saved_poollen;
		return -1;
	}
	return batch->nrows - saved_nrows;
}
