/*
 * src/ingest/gap.c — the gap fields of OpenF1: seconds, "+N LAP(S)" for a
 * lapped car, and the qualifying arrays of three (the decoder's half for
 * F1T_GAP, F1T_GAP_LAPS and F1T_GAP_Q columns; see endpoints.h).
 *
 * intervals.gap_to_leader, intervals.interval and session_result
 * gap_to_leader hold a number of seconds, null, or, for a car a lap or more
 * behind, a string "+1 LAP", "+2 LAPS", ...  f1_parse_laps_behind() reads
 * that string (the contract: decode.h); the decoder stores N in the field's
 * "<field>_laps" column.  Strict on purpose: any other string is refused and
 * its message dead-lettered, so that a new shape shows up instead of being
 * read wrong.  f1_decode_gap() decodes one value of a gap column for
 * decode.c (decode_int.h), a refused shape with a reason that says what the
 * field accepts; its values are the scanner's JsVal (json_scan.h), located
 * in the message's text.  Plain C: used by the server and the unit tests.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/decode.h"
#include "ingest/decode_int.h"

bool
f1_parse_laps_behind(const char *s, size_t len, int64_t *n)
{
	size_t		i = 1;
	int64_t		v = 0;

	if (len < 6 || s[0] != '+')
		return false;
	while (i < len && s[i] >= '0' && s[i] <= '9')
	{
		if (i > 9)
			return false;		/* more than 9 digits */
		v = v * 10 + (s[i] - '0');
		i++;
	}
	if (i == 1)
		return false;			/* no digit */
	if (len - i == 4 && memcmp(s + i, " LAP", 4) == 0)
		;
	else if (len - i == 5 && memcmp(s + i, " LAPS", 5) == 0)
		;
	else
		return false;
	*n = v;
	return true;
}

/* A JSON number (integer or float) as a finite double; 0 or -1. */
int
f1dec_decode_number(DecodeCtx *cx, const char *field, const char *what,
					const JsVal *v, size_t skip, double *out)
{
	if (v->kind == JS_INT)
	{
		int64_t		x = v->i;

		if (x == INT64_MAX || x == INT64_MIN)
			return f1dec_fail(cx, "field \"%s\"%s: integer out of range", field, what);
		*out = (double) x;
		return 0;
	}
	if (f1dec_double(cx, v, skip, out) < 0)
		return -1;
	if (!isfinite(*out))
		return f1dec_fail(cx, "field \"%s\"%s: not a finite number", field, what);
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
decode_float_array(DecodeCtx *cx, const F1Column *col, const JsVal *v,
				   F1Value *out)
{
	F1Batch    *batch = cx->batch;
	const char *field = F1_COLUMN_FIELD(col);
	JsScan		sc;
	JsVal		e;
	size_t		n = 0,
				i = 0,
				w = 0;			/* bytes written past poollen */
	size_t		room;

	f1js_array_begin(&sc, cx->json, v);
	while (f1js_array_next(&sc, &e))
		n++;
	if (n > F1_GAP_Q_MAX)
		return f1dec_fail(cx, "field \"%s\": an array of %zu elements, expected at most %d (Q1, Q2, Q3)",
						  field, n, F1_GAP_Q_MAX);
	/* "{" + n elements of at most 24 chars, each with a separator + "}" */
	room = 2 + n * 25;
	if (!f1dec_reserve_pool(batch, room))
		return f1dec_fail_oom(cx);
	batch->pool[batch->poollen + w++] = '{';
	f1js_array_begin(&sc, cx->json, v);
	for (; f1js_array_next(&sc, &e); i++)
	{
		char		what[40];
		double		d;

		if (i > 0)
			batch->pool[batch->poollen + w++] = ',';
		if (e.kind == JS_NULL)
		{
			memcpy(batch->pool + batch->poollen + w, "NULL", 4);
			w += 4;
			continue;
		}
		snprintf(what, sizeof(what), " element %zu", i);
		if (e.kind != JS_INT && e.kind != JS_DOUBLE)
			return f1dec_fail(cx, "field \"%s\"%s: expected a number of seconds or null, got %s",
							  field, what, f1dec_kind_desc(&e));
		/* a long number's text is copied past the literal's room */
		if (f1dec_decode_number(cx, field, what, &e, room, &d) < 0)
			return -1;
		w += (size_t) put_double(batch->pool + batch->poollen + w, d);
	}
	batch->pool[batch->poollen + w++] = '}';
	out->v.str.off = (uint32_t) batch->poollen;
	out->v.str.len = (uint32_t) w;
	batch->poollen += w;
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
fail_gap(DecodeCtx *cx, const F1Column *col, const JsVal *v)
{
	const char *expected = gap_shapes_desc(cx->batch->ep, col);

	if (v->kind == JS_STRING)
	{
		char		q[48];
		const char *s;
		size_t		len;

		if (f1dec_string(cx, v, 0, &s, &len) < 0)
			return -1;
		return f1dec_fail(cx, "field \"%s\": expected %s, got \"%s\"",
						  F1_COLUMN_FIELD(col), expected,
						  f1dec_quote_input(q, sizeof(q), s, len));
	}
	return f1dec_fail(cx, "field \"%s\": expected %s, got %s",
					  F1_COLUMN_FIELD(col), expected, f1dec_kind_desc(v));
}

/*
 * One value of a gap column (F1T_GAP, F1T_GAP_LAPS, F1T_GAP_Q) into out;
 * 0 or -1 (the reason written through cx).  The field's JSON null never
 * gets here (decode.c makes it NULL).
 */
int
f1_decode_gap(DecodeCtx *cx, const F1Column *col, const JsVal *v, F1Value *out)
{
	JsKind		jt = (JsKind) v->kind;

	out->isnull = false;
	switch (col->type)
	{
		case F1T_GAP:
			if (jt == JS_INT || jt == JS_DOUBLE)
				return f1dec_decode_number(cx, col->name, "", v, 0, &out->v.f8);
			if ((jt == JS_STRING && (col->shapes & F1G_LAPS)) ||
				(jt == JS_ARRAY && (col->shapes & F1G_Q)))
			{
				/* the _laps or _q column holds it (and checks it) */
				out->isnull = true;
				return 0;
			}
			return fail_gap(cx, col, v);
		case F1T_GAP_LAPS:
			if (jt == JS_STRING)
			{
				const char *s;
				size_t		len;
				int64_t		n;

				if (f1dec_string(cx, v, 0, &s, &len) < 0)
					return -1;
				if (!f1_parse_laps_behind(s, len, &n))
					return fail_gap(cx, col, v);
				if (n < col->min || n > col->max)
				{
					char		q[48];

					return f1dec_fail(cx, "field \"%s\": \"%s\": %lld laps out of range [%lld, %lld]",
									  F1_COLUMN_FIELD(col), f1dec_quote_input(q, sizeof(q), s, len),
									  (long long) n, (long long) col->min, (long long) col->max);
				}
				out->v.i4 = (int32_t) n;
				return 0;
			}
			out->isnull = true;
			return 0;
		case F1T_GAP_Q:
			if (jt == JS_ARRAY)
				return decode_float_array(cx, col, v, out);
			out->isnull = true;
			return 0;
		default:
			break;
	}
	return f1dec_fail(cx, "field \"%s\": not a gap column", col->name);
}
