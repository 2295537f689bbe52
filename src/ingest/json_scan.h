/*
 * src/ingest/json_scan.h — a non-allocating JSON scanner for the decoder.
 *
 * The decoder (decode.c) walks a message once with these functions: it
 * reads the structure of the top level and of each record itself and hands
 * every member value to f1js_value(), which checks it whole (nested objects
 * and arrays too) and describes it in a JsVal: its kind and where its text
 * is.  Nothing is copied or allocated; strings are unescaped later, and
 * only when a column needs them (f1js_unescape()).
 *
 * Rules a reader must know:
 *  - The accepted language is exactly what json-c 0.16 accepts with
 *    JSON_TOKENER_STRICT and its default depth, which decoded messages
 *    before (test/unit/decode_jsonc.c keeps that decoder as the reference
 *    and test/unit/fuzz_decode_diff.c compares the two): RFC 8259 plus
 *    json-c's quirks -- object keys may also be quoted with ', NaN,
 *    Infinity and -Infinity are numbers, "-01", "00" and "-.5" are numbers,
 *    control characters are allowed raw inside strings, a NUL byte ends
 *    the input, a value may be at most 31 containers deep (JS_MAX_DEPTH).
 *  - Whether a number is an integer or a float is json-c's rule: a float
 *    if its text has '.', 'e' or 'E'; integers beyond 64 bits saturate to
 *    INT64_MIN / INT64_MAX (json_object_get_int64's answer).
 *  - Errors: a JsErr and the byte offset where it was seen; f1js_err_desc()
 *    gives json-c's wording ("unexpected end of data", ...).
 *  - UTF-8 is not checked here (decode.c checks the whole payload first).
 *  - Plain C, no PostgreSQL headers, no global state: thread-safe.
 */
#ifndef F1TEL_JSON_SCAN_H
#define F1TEL_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* json-c's default depth is 32 levels, the top one included */
#define JS_MAX_DEPTH 31

typedef enum JsKind
{
	JS_NULL,
	JS_BOOL,
	JS_INT,
	JS_DOUBLE,
	JS_STRING,
	JS_ARRAY,
	JS_OBJECT
} JsKind;

/* in json-c's order (json_tokener_error) for the same words */
typedef enum JsErr
{
	JS_OK = 0,
	JS_ERR_DEPTH = 2,			/* nesting too deep */
	JS_ERR_EOF,					/* unexpected end of data */
	JS_ERR_UNEXPECTED,			/* unexpected character */
	JS_ERR_NULL,				/* null expected */
	JS_ERR_BOOL,				/* boolean expected */
	JS_ERR_NUMBER,				/* number expected */
	JS_ERR_ARRAY,				/* array value separator ',' expected */
	JS_ERR_KEY,					/* quoted object property name expected */
	JS_ERR_KEYSEP,				/* object property name separator ':' expected */
	JS_ERR_OBJSEP,				/* object value separator ',' expected */
	JS_ERR_STRING				/* invalid string sequence */
} JsErr;

/* The text being scanned and where the scan is. */
typedef struct JsScan
{
	const char *s;
	size_t		len;
	size_t		pos;
	JsErr		err;
	size_t		errpos;
} JsScan;

/* special doubles, JsVal.lit */
#define JS_LIT_NONE		0
#define JS_LIT_NAN		1
#define JS_LIT_INF		2
#define JS_LIT_NEGINF	3

/*
 * One scanned value.  start/end bound its text in JsScan.s: a string's
 * content between its quotes, a number's text, an array's or object's
 * text from its bracket to one past the closing one.
 */
typedef struct JsVal
{
	uint8_t		kind;			/* JsKind */
	bool		escaped;		/* JS_STRING: has a backslash */
	bool		b;				/* JS_BOOL */
	uint8_t		lit;			/* JS_DOUBLE: JS_LIT_* */
	uint32_t	start;
	uint32_t	end;
	int64_t		i;				/* JS_INT, saturated */
} JsVal;

extern const char *f1js_err_desc(JsErr err);

/* false, with err/errpos set, after recording an error */
extern bool f1js_fail(JsScan *sc, JsErr err, size_t pos);

static inline bool
f1js_is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline void
f1js_skip_ws(JsScan *sc)
{
	while (sc->pos < sc->len && f1js_is_ws(sc->s[sc->pos]))
		sc->pos++;
}

/*
 * The value at sc->pos (no whitespace before it), `depth` containers deep,
 * into *v; sc->pos is moved past it.  false on a syntax error.
 */
extern bool f1js_value(JsScan *sc, int depth, JsVal *v);

/*
 * The string whose opening quote (" or, for an object key, ') is at
 * sc->pos: its content's bounds into *v; sc->pos moves past its end.
 */
extern bool f1js_string(JsScan *sc, char quote, JsVal *v);

/*
 * A string's content s[0..len) (checked by f1js_string) unescaped as json-c
 * does (an unpaired surrogate becomes U+FFFD) into out, which has room for
 * len bytes (never more is written).  Returns the length written.  With
 * stop_at_nul, the copy ends at the first NUL it writes (json-c's object
 * keys are C strings) and at most `max` bytes are written, then max + 1
 * is returned (too long to be a field name).
 */
extern size_t f1js_unescape(const char *s, size_t len, char *out,
						  bool stop_at_nul, size_t max);

/*
 * A JS_DOUBLE value as a double; buf has room for the number's text and
 * a NUL (v->end - v->start + 1 bytes).
 */
extern double f1js_double(const char *s, const JsVal *v, char *buf);

/*
 * Elements of an array f1js_value() accepted: f1js_array_begin() and then
 * f1js_array_next() until it returns false.
 */
extern void f1js_array_begin(JsScan *sc, const char *s, const JsVal *arr);
extern bool f1js_array_next(JsScan *sc, JsVal *elem);

#endif							/* F1TEL_JSON_SCAN_H */
