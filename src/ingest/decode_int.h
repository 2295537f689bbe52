/*
 * src/ingest/decode_int.h — what decode.c shares with its gap-field half,
 * gap.c: not part of the decoder's contract (that is decode.h).
 *
 * Rules a reader must know: every function here writes the one-line reason
 * of a refused message through the DecodeCtx and returns -1 (or false), as
 * decode.c's header describes; a failed allocation is exactly "out of
 * memory".  Plain C, no PostgreSQL headers.
 */
#ifndef F1TEL_DECODE_INT_H
#define F1TEL_DECODE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json_object.h>

#include "ingest/decode.h"

/* What a decode call needs to report an error. */
typedef struct DecodeCtx
{
	F1Batch    *batch;
	char	   *errbuf;
	size_t		errlen;
	long		record;			/* index in the JSON array, -1 for an object */
} DecodeCtx;

/* decode.c */
extern bool f1dec_reserve_pool(F1Batch *batch, size_t need);
extern int	f1dec_fail(DecodeCtx *cx, const char *fmt,...) __attribute__((format(printf, 2, 3)));
extern int	f1dec_fail_oom(DecodeCtx *cx);
extern int	f1dec_fail_range(DecodeCtx *cx, const char *what, const F1Column *col, int64_t x);
extern const char *f1dec_json_type_desc(json_object *v);
extern const char *f1dec_quote_input(char *buf, size_t buflen, const char *s, size_t len);

/* gap.c */
extern int	f1dec_decode_number(DecodeCtx *cx, const char *field, const char *what,
								json_object *v, double *out);
extern int	f1_decode_gap(DecodeCtx *cx, const F1Column *col, json_object *v, F1Value *out);

#endif							/* F1TEL_DECODE_INT_H */
