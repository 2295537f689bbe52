/*
 * src/ingest/decode_int.h — what decode.c shares with its gap-field half,
 * gap.c, and its batch half, decode_batch.c: not part of the decoder's
 * contract (that is decode.h).
 *
 * Rules a reader must know: every function here writes the one-line reason
 * of a refused message through the DecodeCtx and returns -1 (or false), as
 * decode.c's header describes; a failed allocation is exactly "out of
 * memory".  Values are JsVal of the scanner (json_scan.h) pointing into the
 * message's text, cx->json.  Plain C, no PostgreSQL headers.
 */
#ifndef F1TEL_DECODE_INT_H
#define F1TEL_DECODE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest/decode.h"
#include "ingest/json_scan.h"

/* What a decode call needs to report an error. */
typedef struct DecodeCtx
{
	F1Batch    *batch;
	char	   *errbuf;
	size_t		errlen;
	long		record;			/* index in the JSON array, -1 for an object */
	const char *json;			/* the message's text, which JsVal point into */
} DecodeCtx;

/* decode_batch.c: room for more rows, more pool bytes; false if not had */
extern bool f1dec_reserve_rows(F1Batch *batch, size_t extra);
extern bool f1dec_reserve_pool(F1Batch *batch, size_t need);

/* decode.c */
extern int	f1dec_fail(DecodeCtx *cx, const char *fmt,...) __attribute__((format(printf, 2, 3)));
extern int	f1dec_fail_oom(DecodeCtx *cx);
extern int	f1dec_fail_range(DecodeCtx *cx, const char *what, const F1Column *col, int64_t x);
extern const char *f1dec_kind_desc(const JsVal *v);
extern const char *f1dec_quote_input(char *buf, size_t buflen, const char *s, size_t len);

/*
 * A string value's bytes, unescaped: into *s and *len, pointing into the
 * message if it has no escape, else into the pool's spare room past
 * poollen, `skip` bytes further (kept only until the pool is next
 * written).  -1 (out of memory) or 0.
 */
extern int	f1dec_string(DecodeCtx *cx, const JsVal *v, size_t skip,
						 const char **s, size_t *len);

/* A JS_DOUBLE value as a double, its text copied past poollen + skip if long. */
extern int	f1dec_double(DecodeCtx *cx, const JsVal *v, size_t skip, double *out);

/* gap.c */
extern int	f1dec_decode_number(DecodeCtx *cx, const char *field, const char *what,
								const JsVal *v, size_t skip, double *out);
extern int	f1_decode_gap(DecodeCtx *cx, const F1Column *col, const JsVal *v, F1Value *out);

#endif							/* F1TEL_DECODE_INT_H */
