/*
 * test/unit/decode_check.h — checks of decoded rows, shared by the decoder's
 * unit tests (test_decode_fields.c, test_decode_messages.c,
 * test_decode_recorded.c).
 *
 * EP() an endpoint by id; val() a row's value by column name; CHECK_INT,
 * CHECK_F8, CHECK_BOOL, CHECK_TS, CHECK_STR and CHECK_NULL compare one value
 * (a NULL value never matches, CHECK_STR with NULL wants NULL); decode()
 * decodes one message at partition 7, offset 1000 with its reason in err;
 * DECODE_OK() decodes one that must give `rows` rows.
 *
 * Include it after harness.h, from the test's only translation unit.
 */
#ifndef F1TEL_TEST_DECODE_CHECK_H
#define F1TEL_TEST_DECODE_CHECK_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/decode.h"

#include "harness.h"

#define ERRLEN 256

static inline const F1Endpoint *
EP(F1EndpointId id)
{
	return &f1_endpoints[id];
}

static inline int
col_of(const F1Batch *b, const char *name)
{
	for (int c = 0; c < b->ep->ncolumns; c++)
		if (strcmp(b->ep->columns[c].name, name) == 0)
			return c;
	fprintf(stderr, "test bug: no column %s in %s\n", name, b->ep->name);
	exit(2);
}

static inline const F1Value *
val(const F1Batch *b, int r, const char *name)
{
	return f1_batch_value(b, r, col_of(b, name));
}

static inline bool
is_null(const F1Batch *b, int r, const char *name)
{
	return val(b, r, name)->isnull;
}

/* Value checks: a NULL value never matches. */
#define CHECK_INT(bt, r, name, expect) do { \
	const F1Value *v_ = val((bt), (r), (name)); \
	CHECKF(!v_->isnull && v_->v.i4 == (expect), "%s: got %s%d, want %d", (name), \
		   v_->isnull ? "NULL " : "", v_->isnull ? 0 : v_->v.i4, (int) (expect)); \
} while (0)
#define CHECK_F8(bt, r, name, expect) do { \
	const F1Value *v_ = val((bt), (r), (name)); \
	CHECKF(!v_->isnull && v_->v.f8 == (expect), "%s: got %s%.17g, want %.17g", (name), \
		   v_->isnull ? "NULL " : "", v_->isnull ? 0.0 : v_->v.f8, (double) (expect)); \
} while (0)
#define CHECK_BOOL(bt, r, name, expect) do { \
	const F1Value *v_ = val((bt), (r), (name)); \
	CHECKF(!v_->isnull && v_->v.b == (expect), "%s: wrong boolean", (name)); \
} while (0)
#define CHECK_TS(bt, r, name, expect) do { \
	const F1Value *v_ = val((bt), (r), (name)); \
	CHECKF(!v_->isnull && v_->v.ts == (expect), "%s: got %s%lld, want %lld", (name), \
		   v_->isnull ? "NULL " : "", v_->isnull ? 0LL : (long long) v_->v.ts, \
		   (long long) (expect)); \
} while (0)
#define CHECK_STR(bt, r, name, expect) check_str_at((bt), (r), (name), (expect), __FILE__, __LINE__)
#define CHECK_NULL(bt, r, name) CHECKF(is_null((bt), (r), (name)), "%s: not NULL", (name))

/* A text or int4[] value equals expect (NULL: the value is NULL). */
static inline void
check_str_at(const F1Batch *b, int r, const char *name, const char *expect,
			 const char *file, int line)
{
	const F1Value *v = val(b, r, name);

	if (expect == NULL)
	{
		check_at(v->isnull, file, line, "%s: want NULL", name);
		return;
	}
	if (!check_at(!v->isnull, file, line, "%s: NULL, want \"%s\"", name, expect))
		return;
	if (!check_at((size_t) v->v.str.off + v->v.str.len <= b->poollen, file, line,
				  "%s: string outside the pool", name))
		return;
	check_at(b->pool != NULL && v->v.str.len == strlen(expect) &&
			 memcmp(b->pool + v->v.str.off, expect, v->v.str.len) == 0,
			 file, line, "%s: got \"%.*s\", want \"%s\"", name,
			 (int) v->v.str.len, b->pool + v->v.str.off, expect);
}

static inline int
decode(F1Batch *b, const char *json, char *err)
{
	err[0] = '\0';
	return f1_decode_message(b, json, strlen(json), 7, 1000, err, ERRLEN);
}

/* Decodes one message that must be accepted with `rows` rows. */
static inline bool
decode_ok_at(F1Batch *b, const char *json, int rows, const char *file, int line)
{
	char		err[ERRLEN];
	int			rc = decode(b, json, err);

	return check_at(rc == rows, file, line, "decode returned %d (want %d): %s",
					rc, rows, err);
}

#define DECODE_OK(b, json, rows) decode_ok_at((b), (json), (rows), __FILE__, __LINE__)

#endif							/* F1TEL_TEST_DECODE_CHECK_H */
