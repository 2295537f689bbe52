/*
 * src/ingest/json_scan.c — the decoder's JSON scanner (contract: json_scan.h).
 *
 * A recursive-descent checker over the message's bytes: f1js_value() checks
 * one value whole and says where its text is; nothing is built.  What it
 * accepts is json-c 0.16's strict mode, quirks included, so that the
 * decoder accepts and refuses exactly what it did when it used json-c
 * (json_tokener.c of that version is the model; the comments below say
 * which of its states a rule comes from).  Errors carry json-c's words and
 * the offset of the byte that was wrong; where json-c would have reported
 * another offset or word nothing depends on it (the tests assert only the
 * truncated message's "unexpected end of data at byte <len>", trailing
 * data's "unexpected character at byte <n>" and "null expected at byte 1").
 *
 * Recursion is bounded by JS_MAX_DEPTH.  Plain C, no allocation.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/json_scan.h"

static const char *const f1js_errors[] = {
	"success",
	"continue",
	"nesting too deep",
	"unexpected end of data",
	"unexpected character",
	"null expected",
	"boolean expected",
	"number expected",
	"array value separator ',' expected",
	"quoted object property name expected",
	"object property name separator ':' expected",
	"object value separator ',' expected",
	"invalid string sequence"
};

const char *
f1js_err_desc(JsErr err)
{
	if ((int) err < 0 || (size_t) err >= sizeof(f1js_errors) / sizeof(f1js_errors[0]))
		return "unknown error";
	return f1js_errors[err];
}

bool
f1js_fail(JsScan *sc, JsErr err, size_t pos)
{
	sc->err = err;
	sc->errpos = pos;
	return false;
}

static inline bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

static inline unsigned
hexval(char c)
{
	return c <= '9' ? (unsigned) (c - '0') : (unsigned) ((c & 7) + 9);
}

/* The end of input or a NUL byte (json-c's end of data) where a token must be. */
static inline bool
at_end(const JsScan *sc)
{
	return sc->pos >= sc->len;
}

/* A literal word at sc->pos; a wrong byte is err (json-c's state's error). */
static bool
match_word(JsScan *sc, const char *word, size_t n, JsErr err)
{
	for (size_t k = 0; k < n; k++)
	{
		if (sc->pos + k >= sc->len)
			return f1js_fail(sc, JS_ERR_EOF, sc->len);
		if (sc->s[sc->pos + k] != word[k])
			return f1js_fail(sc, sc->s[sc->pos + k] == '\0' ? JS_ERR_EOF : err, sc->pos + k);
	}
	sc->pos += n;
	return true;
}

/* the bytes that end a string's plain run: either quote, \\ and NUL */
static const bool string_special[256] = {
	['\0'] = true, ['"'] = true, ['\''] = true, ['\\'] = true
};

bool
f1js_string(JsScan *sc, char quote, JsVal *v)
{
	const char *s = sc->s;
	size_t		len = sc->len;
	size_t		i = sc->pos + 1;
	bool		escaped = false;

	for (;;)
	{
		char		c;

		/* the plain run (the other quote is a plain byte too) */
		for (;;)
		{
			while (i < len && !string_special[(unsigned char) s[i]])
				i++;
			if (i >= len || s[i] == quote || s[i] == '\\' || s[i] == '\0')
				break;
			i++;
		}
		if (i >= len)
			return f1js_fail(sc, JS_ERR_EOF, len);
		c = s[i];
		if (c == quote)
			break;
		if (c == '\0')
			return f1js_fail(sc, JS_ERR_EOF, i + 1);
		/* an escape (json_tokener_state_string_escape) */
		escaped = true;
		if (++i >= len)
			return f1js_fail(sc, JS_ERR_EOF, len);
		switch (s[i])
		{
			case '"':
			case '\\':
			case '/':
			case 'b':
			case 'n':
			case 'r':
			case 't':
			case 'f':
				i++;
				break;
			case 'u':
				for (int k = 1; k <= 4; k++)
				{
					if (i + k >= len)
						return f1js_fail(sc, JS_ERR_EOF, len);
					if (!is_hex(s[i + k]))
						return f1js_fail(sc, JS_ERR_STRING, i + k);
				}
				i += 5;
				break;
			default:
				return f1js_fail(sc, JS_ERR_STRING, i);
		}
	}
	v->kind = JS_STRING;
	v->escaped = escaped;
	v->start = (uint32_t) (sc->pos + 1);
	v->end = (uint32_t) i;
	sc->pos = i + 1;
	return true;
}

/*
 * A float's text as json-c takes it: all of it must be what strtod reads,
 * -?(D+(.D*)?|.D+)([eE][+-]?D+)?
 */
static bool
double_text_ok(const char *t, size_t n)
{
	size_t		k = 0,
				nd = 0,
				nf = 0,
				ne = 0;

	if (k < n && t[k] == '-')
		k++;
	while (k < n && is_digit(t[k]))
		k++, nd++;
	if (k < n && t[k] == '.')
	{
		k++;
		while (k < n && is_digit(t[k]))
			k++, nf++;
	}
	if (nd == 0 && nf == 0)
		return false;
	if (k < n && (t[k] == 'e' || t[k] == 'E'))
	{
		k++;
		if (k < n && (t[k] == '+' || t[k] == '-'))
			k++;
		while (k < n && is_digit(t[k]))
			k++, ne++;
		if (ne == 0)
			return false;
	}
	return k == n;
}

/* json_tokener_state_number, then json-c's reading of the text */
static bool
scan_number(JsScan *sc, int depth, JsVal *v)
{
	const char *s = sc->s;
	size_t		len = sc->len;
	size_t		start = sc->pos;
	size_t		i = start;
	bool		is_double = false,
				is_exp = false,
				neg_ok = true,
				pos_ok = false;

	/* the characters json-c gathers into the number */
	while (i < len)
	{
		char		c = s[i];

		if (is_digit(c))
			neg_ok = pos_ok = false;
		else if (!is_exp && (c == 'e' || c == 'E'))
			is_exp = is_double = neg_ok = pos_ok = true;
		else if ((neg_ok && c == '-') || (pos_ok && c == '+'))
			neg_ok = pos_ok = false;
		else if (!is_double && c == '.')
			is_double = neg_ok = pos_ok = true;
		else
			break;
		i++;
	}
	if (depth > 0 && i < len)
	{
		char		c = s[i];

		if (c != ',' && c != ']' && c != '}' && c != '/' && c != 'I' && c != 'i' && !f1js_is_ws(c))
			return f1js_fail(sc, JS_ERR_NUMBER, i);
	}
	/* "-Infinity" */
	if (i == start + 1 && s[start] == '-' && i < len && (s[i] == 'I' || s[i] == 'i'))
	{
		sc->pos = i;
		if (!match_word(sc, "Infinity", 8, JS_ERR_UNEXPECTED))
			return false;
		v->kind = JS_DOUBLE;
		v->lit = JS_LIT_NEGINF;
		v->start = (uint32_t) start;
		v->end = (uint32_t) sc->pos;
		return true;
	}
	v->start = (uint32_t) start;
	v->end = (uint32_t) i;
	if (is_double)
	{
		if (!double_text_ok(s + start, i - start))
			return f1js_fail(sc, JS_ERR_NUMBER, i);
		v->kind = JS_DOUBLE;
		v->lit = JS_LIT_NONE;
	}
	else
	{
		/* strtoll / strtoull, which saturate */
		bool		neg = s[start] == '-';
		size_t		k = start + (neg ? 1 : 0);
		uint64_t	u = 0;
		bool		nonzero = false;

		if (k == i)
			return f1js_fail(sc, JS_ERR_NUMBER, i);	/* "-" */
		for (; k < i; k++)
		{
			unsigned	d = (unsigned) (s[k] - '0');

			if (d != 0)
				nonzero = true;
			if (u > (UINT64_MAX - d) / 10)
				u = UINT64_MAX;
			else
				u = u * 10 + d;
		}
		/* strict: no leading zero, but "00" is 0 and "-01" is -1 */
		if (!neg && nonzero && s[start] == '0')
			return f1js_fail(sc, JS_ERR_NUMBER, i);
		if (neg)
			v->i = u >= (uint64_t) INT64_MAX + 1 ? INT64_MIN : -(int64_t) u;
		else
			v->i = u > (uint64_t) INT64_MAX ? INT64_MAX : (int64_t) u;
		v->kind = JS_INT;
	}
	sc->pos = i;
	return true;
}

static bool
scan_array(JsScan *sc, int depth, JsVal *v)
{
	size_t		start = sc->pos;
	JsVal		e;

	sc->pos++;
	f1js_skip_ws(sc);
	if (at_end(sc))
		return f1js_fail(sc, JS_ERR_EOF, sc->len);
	if (sc->s[sc->pos] != ']')
	{
		for (;;)
		{
			char		c;

			if (depth >= JS_MAX_DEPTH)
				return f1js_fail(sc, JS_ERR_DEPTH, sc->pos);
			if (!f1js_value(sc, depth + 1, &e))
				return false;
			f1js_skip_ws(sc);
			if (at_end(sc))
				return f1js_fail(sc, JS_ERR_EOF, sc->len);
			c = sc->s[sc->pos];
			if (c == ']')
				break;
			if (c != ',')
				return f1js_fail(sc, c == '\0' ? JS_ERR_EOF : JS_ERR_ARRAY, sc->pos);
			sc->pos++;
			f1js_skip_ws(sc);
			if (at_end(sc))
				return f1js_fail(sc, JS_ERR_EOF, sc->len);
			if (sc->s[sc->pos] == ']')
				return f1js_fail(sc, JS_ERR_UNEXPECTED, sc->pos);	/* [1,] */
		}
	}
	sc->pos++;
	v->kind = JS_ARRAY;
	v->start = (uint32_t) start;
	v->end = (uint32_t) sc->pos;
	return true;
}

static bool
scan_object(JsScan *sc, int depth, JsVal *v)
{
	size_t		start = sc->pos;
	JsVal		k,
				e;

	sc->pos++;
	f1js_skip_ws(sc);
	if (at_end(sc))
		return f1js_fail(sc, JS_ERR_EOF, sc->len);
	if (sc->s[sc->pos] != '}')
	{
		for (;;)
		{
			char		c = sc->s[sc->pos];

			/* json-c takes ' around keys even when strict */
			if (c != '"' && c != '\'')
				return f1js_fail(sc, c == '\0' ? JS_ERR_EOF : JS_ERR_KEY, sc->pos);
			if (!f1js_string(sc, c, &k))
				return false;
			f1js_skip_ws(sc);
			if (at_end(sc))
				return f1js_fail(sc, JS_ERR_EOF, sc->len);
			if (sc->s[sc->pos] != ':')
				return f1js_fail(sc, sc->s[sc->pos] == '\0' ? JS_ERR_EOF : JS_ERR_KEYSEP, sc->pos);
			sc->pos++;
			f1js_skip_ws(sc);
			if (at_end(sc))
				return f1js_fail(sc, JS_ERR_EOF, sc->len);
			if (depth >= JS_MAX_DEPTH)
				return f1js_fail(sc, JS_ERR_DEPTH, sc->pos);
			if (!f1js_value(sc, depth + 1, &e))
				return false;
			f1js_skip_ws(sc);
			if (at_end(sc))
				return f1js_fail(sc, JS_ERR_EOF, sc->len);
			c = sc->s[sc->pos];
			if (c == '}')
				break;
			if (c != ',')
				return f1js_fail(sc, c == '\0' ? JS_ERR_EOF : JS_ERR_OBJSEP, sc->pos);
			sc->pos++;
			f1js_skip_ws(sc);
			if (at_end(sc))
				return f1js_fail(sc, JS_ERR_EOF, sc->len);
			if (sc->s[sc->pos] == '}')
				return f1js_fail(sc, JS_ERR_UNEXPECTED, sc->pos);	/* {"a":1,} */
		}
	}
	sc->pos++;
	v->kind = JS_OBJECT;
	v->start = (uint32_t) start;
	v->end = (uint32_t) sc->pos;
	return true;
}

bool
f1js_value(JsScan *sc, int depth, JsVal *v)
{
	size_t		start = sc->pos;

	if (at_end(sc))
		return f1js_fail(sc, JS_ERR_EOF, sc->len);
	switch (sc->s[start])
	{
		case '{':
			return scan_object(sc, depth, v);
		case '[':
			return scan_array(sc, depth, v);
		case '"':
			return f1js_string(sc, '"', v);
		case '-':
		case '0':
		case '1':
		case '2':
		case '3':
		case '4':
		case '5':
		case '6':
		case '7':
		case '8':
		case '9':
			return scan_number(sc, depth, v);
		case 't':
			v->kind = JS_BOOL;
			v->b = true;
			break;
		case 'f':
			v->kind = JS_BOOL;
			v->b = false;
			break;
		case 'n':
			v->kind = JS_NULL;
			break;
		case 'N':
			v->kind = JS_DOUBLE;
			v->lit = JS_LIT_NAN;
			break;
		case 'I':
			v->kind = JS_DOUBLE;
			v->lit = JS_LIT_INF;
			break;
		case 'T':
		case 'F':
			return f1js_fail(sc, JS_ERR_BOOL, start);
		case '\0':
			return f1js_fail(sc, JS_ERR_EOF, start + 1);
		default:
			return f1js_fail(sc, JS_ERR_UNEXPECTED, start);
	}
	/* the words */
	switch (sc->s[start])
	{
		case 't':
			if (!match_word(sc, "true", 4, JS_ERR_BOOL))
				return false;
			break;
		case 'f':
			if (!match_word(sc, "false", 5, JS_ERR_BOOL))
				return false;
			break;
		case 'n':
			if (!match_word(sc, "null", 4, JS_ERR_NULL))
				return false;
			break;
		case 'N':
			if (!match_word(sc, "NaN", 3, JS_ERR_NULL))
				return false;
			break;
		default:
			if (!match_word(sc, "Infinity", 8, JS_ERR_UNEXPECTED))
				return false;
			break;
	}
	v->start = (uint32_t) start;
	v->end = (uint32_t) sc->pos;
	return true;
}

/* json-c's surrogate tests, on the whole code point (as it does) */
#define IS_HIGH_SURROGATE(uc) (((uc) & 0xFC00) == 0xD800)
#define IS_LOW_SURROGATE(uc) (((uc) & 0xFC00) == 0xDC00)
#define DECODE_SURROGATE_PAIR(hi, lo) ((((hi) & 0x3FF) << 10) + ((lo) & 0x3FF) + 0x10000)

static inline char *
put_replacement(char *o)
{
	*o++ = (char) 0xEF;
	*o++ = (char) 0xBF;
	*o++ = (char) 0xBD;
	return o;
}

size_t
f1js_unescape(const char *s, size_t len, char *out, bool stop_at_nul, size_t max)
{
	char	   *o = out;
	unsigned	high = 0;		/* a high surrogate waiting for its low half */
	size_t		i = 0;

	/*
	 * stop_at_nul: `max` bounds what is kept; a fragment of the worst case
	 * (4 bytes) past it is allowed for, as out has room for len bytes.
	 */
	while (i < len)
	{
		char		c = s[i];
		unsigned	uc;

		if (stop_at_nul && (size_t) (o - out) > max)
			return max + 1;
		if (c != '\\')
		{
			if (high)
			{
				o = put_replacement(o);
				high = 0;
			}
			if (stop_at_nul && c == '\0')
				return (size_t) (o - out);
			*o++ = c;
			i++;
			continue;
		}
		c = s[i + 1];
		if (c != 'u')
		{
			if (high)
			{
				o = put_replacement(o);
				high = 0;
			}
			switch (c)
			{
				case 'b':
					c = '\b';
					break;
				case 'n':
					c = '\n';
					break;
				case 'r':
					c = '\r';
					break;
				case 't':
					c = '\t';
					break;
				case 'f':
					c = '\f';
					break;
				default:
					break;		/* " \ / */
			}
			*o++ = c;
			i += 2;
			continue;
		}
		uc = (hexval(s[i + 2]) << 12) | (hexval(s[i + 3]) << 8) |
			(hexval(s[i + 4]) << 4) | hexval(s[i + 5]);
		i += 6;
		if (high)
		{
			if (IS_LOW_SURROGATE(uc))
				uc = DECODE_SURROGATE_PAIR(high, uc);
			else
				o = put_replacement(o);
			high = 0;
		}
		if (uc < 0x80)
		{
			if (stop_at_nul && uc == 0)
				return (size_t) (o - out);
			*o++ = (char) uc;
		}
		else if (uc < 0x800)
		{
			*o++ = (char) (0xC0 | (uc >> 6));
			*o++ = (char) (0x80 | (uc & 0x3F));
		}
		else if (IS_HIGH_SURROGATE(uc))
			high = uc;
		else if (IS_LOW_SURROGATE(uc))
			o = put_replacement(o);
		else if (uc < 0x10000)
		{
			*o++ = (char) (0xE0 | (uc >> 12));
			*o++ = (char) (0x80 | ((uc >> 6) & 0x3F));
			*o++ = (char) (0x80 | (uc & 0x3F));
		}
		else if (uc < 0x110000)
		{
			*o++ = (char) (0xF0 | ((uc >> 18) & 0x07));
			*o++ = (char) (0x80 | ((uc >> 12) & 0x3F));
			*o++ = (char) (0x80 | ((uc >> 6) & 0x3F));
			*o++ = (char) (0x80 | (uc & 0x3F));
		}
		else
			o = put_replacement(o);
	}
	if (high)
		o = put_replacement(o);
	if (stop_at_nul && (size_t) (o - out) > max)
		return max + 1;
	return (size_t) (o - out);
}

double
f1js_double(const char *s, const JsVal *v, char *buf)
{
	size_t		n = v->end - v->start;

	switch (v->lit)
	{
		case JS_LIT_NAN:
			return NAN;
		case JS_LIT_INF:
			return INFINITY;
		case JS_LIT_NEGINF:
			return -INFINITY;
	}
	memcpy(buf, s + v->start, n);
	buf[n] = '\0';
	return strtod(buf, NULL);
}

void
f1js_array_begin(JsScan *sc, const char *s, const JsVal *arr)
{
	sc->s = s;
	sc->len = arr->end;
	sc->pos = arr->start + 1;
	sc->err = JS_OK;
	sc->errpos = 0;
}

bool
f1js_array_next(JsScan *sc, JsVal *elem)
{
	f1js_skip_ws(sc);
	if (sc->s[sc->pos] == ']')
		return false;
	if (sc->s[sc->pos] == ',')
	{
		sc->pos++;
		f1js_skip_ws(sc);
	}
	/* checked already: depth 1 for the rule after a number */
	(void) f1js_value(sc, 1, elem);
	return true;
}
