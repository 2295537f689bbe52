/*
 * src/ingest/decode.h — OpenF1 JSON messages decoded into typed rows, in plain C.
 *
 * This is the ingest stage's parser.  From the endpoint table
 * (src/shared/endpoints.h: fields, types, natural keys and value ranges) it
 * turns one Kafka message value -- a JSON object, or a JSON array of objects
 * as the API returns them -- into rows appended to a columnar F1Batch.  It
 * scans the JSON text itself, once, without building a tree
 * (src/ingest/json_scan.h); what it accepts is what json-c 0.16's strict
 * parser accepted, which it used before (test/unit/decode_jsonc.c keeps
 * that decoder as the tests' reference).
 *
 * Rules a reader must know:
 *  - No PostgreSQL headers and no PostgreSQL calls: the code is unit-tested
 *    and fuzzed outside the server (test/unit/).  Memory comes from malloc;
 *    a batch's buffers are reused from one batch to the next and freed by
 *    f1_batch_free(); decoding a message allocates nothing else.
 *  - A message is all or nothing: when any record of it is invalid,
 *    f1_decode_message() returns -1, leaves the batch exactly as it was
 *    before the call, and writes a one-line reason into errbuf.  A JSON
 *    syntax error anywhere wins over a bad record ("not valid JSON: <what>
 *    at byte <n>"); a record's fields are checked in column order.
 *  - Timestamps are int64 microseconds since 2000-01-01 00:00:00 UTC, which is
 *    PostgreSQL's TimestampTz, so the server passes them on unconverted.  A
 *    date without an offset is UTC (the API wrote them so until 2024).
 *  - Not thread-safe per batch; distinct batches may be used from distinct
 *    threads.
 */
#ifndef F1TEL_DECODE_H
#define F1TEL_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/endpoints.h"

/*
 * One decoded value.  Text, int4[] and float8[] values live in the batch's
 * string pool: str.off/str.len index into F1Batch.pool.  An array value is
 * stored as PostgreSQL's array literal text: "{2048,NULL,2051}" (int4[]),
 * "{89.5,NULL,88.1}" (F1T_GAP_Q's float8[], each number the shortest text
 * that reads back as the same double).
 */
typedef struct F1Value
{
	bool		isnull;
	union
	{
		int32_t		i4;
		double		f8;
		bool		b;
		int64_t		ts;
		struct
		{
			uint32_t	off;
			uint32_t	len;
		}			str;
	}			v;
} F1Value;

typedef struct F1Batch
{
	const F1Endpoint *ep;
	int			nrows;
	int			caprows;
	F1Value    *values;			/* nrows * ep->ncolumns, row-major */
	int32_t    *src_partition;	/* per row: the message it came from */
	int64_t    *src_offset;
	char	   *pool;			/* text and array literal bytes, not NUL-terminated */
	size_t		poollen;
	size_t		poolcap;
} F1Batch;

extern void f1_batch_init(F1Batch *batch, const F1Endpoint *ep);
extern void f1_batch_reset(F1Batch *batch);	/* nrows = 0, keeps buffers */
extern void f1_batch_free(F1Batch *batch);
/* Free the buffers of an empty batch if they take more than keep_bytes. */
extern void f1_batch_trim(F1Batch *batch, size_t keep_bytes);

/* The value of row r, column c. */
static inline const F1Value *
f1_batch_value(const F1Batch *batch, int r, int c)
{
	return &batch->values[(size_t) r * batch->ep->ncolumns + c];
}

/*
 * Decode one message value and append its rows to batch.  Returns the number
 * of rows appended (0 for an empty JSON array), or -1 if the message is
 * rejected: then the batch is unchanged and errbuf holds the reason, e.g.
 * 'laps: record 3: field "lap_number": expected an integer, got a string'.
 * A NULL or empty payload is rejected.
 */
extern int	f1_decode_message(F1Batch *batch, const char *payload, size_t len,
							  int32_t partition, int64_t offset,
							  char *errbuf, size_t errlen);

/*
 * Parse an ISO 8601 date-time ("2023-11-19T05:57:18+00:00",
 * "2023-11-19T06:04:05.009000+00:00", "2023-11-19 06:04:05.009", "...Z")
 * into microseconds since 2000-01-01 UTC.  Returns false if it is not one
 * (a malformed string, a field out of range, a year outside 1..9999).
 */
extern bool f1_parse_timestamp(const char *s, size_t len, int64_t *result);

/*
 * "+N LAP" or "+N LAPS" (OpenF1's gap of a lapped car; N a decimal integer
 * of at most 9 digits, no sign but the "+", one space, LAP(S) in capitals):
 * *n = N.  false for anything else.  Plain C: src/ingest/gap.c.
 */
extern bool f1_parse_laps_behind(const char *s, size_t len, int64_t *n);

/* The most elements of a gap field's qualifying array (Q1, Q2, Q3). */
#define F1_GAP_Q_MAX 3

#endif							/* F1TEL_DECODE_H */
