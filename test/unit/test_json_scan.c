/*
 * test/unit/test_json_scan.c — the decoder's JSON scanner
 * (src/ingest/json_scan.c) on its own: values and their kinds, numbers,
 * escapes and surrogates, depth, malformed inputs and the offsets of their
 * errors.
 *
 * The harness is harness.h; `make unit` runs it under ASan and UBSan.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ingest/json_scan.h"

#include "harness.h"

/* s scanned as one value at depth 0, then only whitespace: the JsVal. */
static bool
scan(const char *s, size_t len, JsVal *v, JsScan *sc)
{
	sc->s = s;
	sc->len = len;
	sc->pos = 0;
	sc->err = JS_OK;
	sc->errpos = 0;
	if (!f1js_value(sc, 0, v))
		return false;
	f1js_skip_ws(sc);
	if (sc->pos < len)
		return f1js_fail(sc, JS_ERR_UNEXPECTED, sc->pos);
	return true;
}

static void
test_values(void)
{
	static const struct
	{
		const char *json;
		int			kind;		/* -1: refused */
		int64_t		i;
	}			cases[] = {
		{"0", JS_INT, 0}, {"-0", JS_INT, 0}, {"00", JS_INT, 0}, {"-01", JS_INT, -1},
		{"01", -1, 0}, {"123", JS_INT, 123}, {"-42", JS_INT, -42},
		{"9223372036854775807", JS_INT, INT64_MAX}, {"9223372036854775808", JS_INT, INT64_MAX},
		{"-9223372036854775808", JS_INT, INT64_MIN}, {"-9223372036854775809", JS_INT, INT64_MIN},
		{"99999999999999999999999", JS_INT, INT64_MAX}, {"1.0", JS_DOUBLE, 0},
		{"1e3", JS_DOUBLE, 0}, {"1E+3", JS_DOUBLE, 0}, {"-.5", JS_DOUBLE, 0}, {"1.", JS_DOUBLE, 0},
		{"1.e5", JS_DOUBLE, 0}, {"01.5", JS_DOUBLE, 0}, {"1e", -1, 0}, {"1e+", -1, 0},
		{"-", -1, 0}, {"-e5", -1, 0}, {".5", -1, 0}, {"1.-5", -1, 0}, {"+1", -1, 0},
		{"NaN", JS_DOUBLE, 0}, {"Infinity", JS_DOUBLE, 0}, {"-Infinity", JS_DOUBLE, 0},
		{"nan", -1, 0}, {"infinity", -1, 0}, {"-infinity", -1, 0}, {"true", JS_BOOL, 1},
		{"false", JS_BOOL, 0}, {"null", JS_NULL, 0}, {"True", -1, 0}, {"nul", -1, 0},
		{"\"\"", JS_STRING, 0}, {"\"a\\u00e9\"", JS_STRING, 0}, {"'a'", -1, 0},
		{"\"\\x\"", -1, 0}, {"\"\\u12g4\"", -1, 0}, {"\"abc", -1, 0}, {"[]", JS_ARRAY, 0},
		{"[1,[2,{}]]", JS_ARRAY, 0}, {"[1,]", -1, 0}, {"[,1]", -1, 0}, {"[1 2]", -1, 0},
		{"{}", JS_OBJECT, 0}, {"{'a':1}", JS_OBJECT, 0}, {"{\"a\":1,}", -1, 0},
		{"{\"a\" 1}", -1, 0}, {"{1:1}", -1, 0}, {"[1x]", -1, 0}, {"[1/]", -1, 0},
		{" 1", -1, 0}, {"1 ", JS_INT, 1}, {"", -1, 0},
	};

	begin_case("scanner: values, kinds, numbers");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		JsVal		v;
		JsScan		sc;
		bool		ok = scan(cases[i].json, strlen(cases[i].json), &v, &sc);

		if (cases[i].kind < 0)
		{
			CHECKF(!ok, "%s accepted", cases[i].json);
			continue;
		}
		if (!CHECKF(ok, "%s refused: %s at %zu", cases[i].json, f1js_err_desc(sc.err), sc.errpos))
			continue;
		CHECKF(v.kind == cases[i].kind, "%s: kind %d", cases[i].json, v.kind);
		if (v.kind == JS_INT)
			CHECKF(v.i == cases[i].i, "%s: %lld", cases[i].json, (long long) v.i);
		if (v.kind == JS_BOOL)
			CHECKF(v.b == (cases[i].i != 0), "%s", cases[i].json);
	}
	end_case();

	begin_case("scanner: doubles as strtod reads them");
	{
		JsVal		v;
		JsScan		sc;
		char		buf[64];

		CHECK(scan("1.5e2", 5, &v, &sc) && f1js_double(sc.s, &v, buf) == 150.0);
		CHECK(scan("-.25", 4, &v, &sc) && f1js_double(sc.s, &v, buf) == -0.25);
		CHECK(scan("NaN", 3, &v, &sc) && isnan(f1js_double(sc.s, &v, buf)));
		CHECK(scan("-Infinity", 9, &v, &sc) && f1js_double(sc.s, &v, buf) == -INFINITY);
		CHECK(scan("1e999", 5, &v, &sc) && f1js_double(sc.s, &v, buf) == INFINITY);
	}
	end_case();
}

/* the unescaped content of the JSON string s */
static size_t
unescaped(const char *s, char *out)
{
	JsVal		v;
	JsScan		sc;

	if (!scan(s, strlen(s), &v, &sc) || v.kind != JS_STRING)
		return (size_t) -1;
	return f1js_unescape(s + v.start, v.end - v.start, out, false, 0);
}

static void
test_escapes(void)
{
	static const struct
	{
		const char *json;
		const char *want;
	}			cases[] = {
		{"\"plain\"", "plain"},
		{"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t"},
		{"\"\\u0041\\u00e9\\u4e2d\"", "A\xc3\xa9\xe4\xb8\xad"},
		{"\"\\ud834\\udd1e\"", "\xf0\x9d\x84\x9e"},	/* a pair */
		{"\"\\ud800\"", "\xef\xbf\xbd"},	/* unpaired high */
		{"\"\\ud800x\"", "\xef\xbf\xbdx"},
		{"\"\\ud800\\n\"", "\xef\xbf\xbd\n"},
		{"\"\\udc00\"", "\xef\xbf\xbd"},	/* unpaired low */
		{"\"\\ud800\\ud800\\udc00\"", "\xef\xbf\xbd\xf0\x90\x80\x80"},
		/* json-c's quirk: U+1D800 looks like a high surrogate to it */
		{"\"\\ud836\\udc00\"", "\xef\xbf\xbd"},
		{"\"raw\ttab\x01\"", "raw\ttab\x01"},
	};

	begin_case("scanner: escapes and surrogates, as json-c decodes them");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char		out[64];
		size_t		n = unescaped(cases[i].json, out);

		CHECKF(n == strlen(cases[i].want) && memcmp(out, cases[i].want, n) == 0,
			   "%s: %zu bytes", cases[i].json, n);
	}
	{
		char		out[64];
		const char *k = "session_key\\u0000junk";

		/* a key: ends at NUL; longer than max is max + 1 */
		CHECK(f1js_unescape(k, strlen(k), out, true, 20) == 11 && memcmp(out, "session_key", 11) == 0);
		CHECK(f1js_unescape("abcdefgh", 8, out, true, 4) == 5);
		CHECK(f1js_unescape("\\u0000", 6, out, true, 4) == 0);
	}
	end_case();
}

static void
test_depth_and_errors(void)
{
	char		deep[200];
	JsVal		v;
	JsScan		sc;

	begin_case("scanner: 32 levels deep and no more (json-c's default)");
	for (int n = 30; n <= 34; n++)
	{
		memset(deep, '[', (size_t) n);
		memset(deep + n, ']', (size_t) n);
		CHECKF(scan(deep, 2 * (size_t) n, &v, &sc) == (n <= 32), "%d empty arrays", n);
		if (n > 32)
			CHECKF(sc.err == JS_ERR_DEPTH && sc.errpos == 32, "%d: error %d at %zu", n, sc.err,
				   sc.errpos);
		memset(deep, '[', (size_t) n);
		deep[n] = '1';
		memset(deep + n + 1, ']', (size_t) n);
		CHECKF(scan(deep, 2 * (size_t) n + 1, &v, &sc) == (n <= 31), "%d arrays around 1", n);
	}
	end_case();

	begin_case("scanner: errors and their offsets");
	{
		static const struct
		{
			const char *json;
			JsErr		err;
			size_t		pos;
		}			cases[] = {
			{"not json", JS_ERR_NULL, 1}, {"{", JS_ERR_EOF, 1}, {"[1,", JS_ERR_EOF, 3},
			{"\"abc", JS_ERR_EOF, 4}, {"{} x", JS_ERR_UNEXPECTED, 3}, {"[1 2]", JS_ERR_ARRAY, 3},
			{"{\"a\" 1}", JS_ERR_KEYSEP, 5}, {"{\"a\":1 \"b\"}", JS_ERR_OBJSEP, 7},
			{"{1}", JS_ERR_KEY, 1}, {"[1x]", JS_ERR_NUMBER, 2}, {"\"\\q\"", JS_ERR_STRING, 2},
			{"tx", JS_ERR_BOOL, 1}, {"x", JS_ERR_UNEXPECTED, 0}, {"[1,]", JS_ERR_UNEXPECTED, 3},
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		{
			bool		ok = scan(cases[i].json, strlen(cases[i].json), &v, &sc);

			CHECKF(!ok && sc.err == cases[i].err && sc.errpos == cases[i].pos,
				   "%s: %s at %zu", cases[i].json, ok ? "accepted" : f1js_err_desc(sc.err), sc.errpos);
		}
		/* a NUL byte ends the data */
		CHECK(!scan("\"a\0b\"", 5, &v, &sc) && sc.err == JS_ERR_EOF);
		CHECK(!scan("[1,\0]", 5, &v, &sc));
		CHECK(strcmp(f1js_err_desc(JS_ERR_EOF), "unexpected end of data") == 0);
	}
	end_case();
}

HARNESS_MAIN(test_values(); test_escapes(); test_depth_and_errors();)
