/*
 * test/unit/fuzz_decode.c — libFuzzer target for the OpenF1 message decoder.
 *
 * The first input byte picks the endpoint (modulo the endpoint count: seeds
 * start with '0'..'7'), the rest is the message.  It is decoded twice into
 * one batch, so that the second decode runs against rows already there, and
 * after each the batch must keep the decoder's promises: -1 leaves it exactly
 * as it was, success adds as many rows as returned, and every value is what
 * its column allows (in range, not null where it may not be, text and array
 * literals inside the pool).  Build and run with `make fuzz`.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/decode.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);

/* Undefined behaviour is a finding too: stop at the first. */
const char *
__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

#define REQUIRE(cond) do { \
	if (!(cond)) \
	{ \
		fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__); \
		abort(); \
	} \
} while (0)

/* Every value of rows [from, nrows) is valid for its column. */
static void
check_rows(const F1Batch *b, int from)
{
	const F1Endpoint *ep = b->ep;

	REQUIRE(b->nrows >= 0 && b->nrows <= b->caprows);
	REQUIRE(b->poollen <= b->poolcap);
	for (int r = from; r < b->nrows; r++)
	{
		for (int c = 0; c < ep->ncolumns; c++)
		{
			const F1Column *col = &ep->columns[c];
			const F1Value *v = f1_batch_value(b, r, c);

			if (v->isnull)
			{
				REQUIRE(!col->key && !col->notnull);
				continue;
			}
			switch (col->type)
			{
				case F1T_INT4:
					REQUIRE(v->v.i4 >= col->min && v->v.i4 <= col->max);
					break;
				case F1T_FLOAT8:
					REQUIRE(isfinite(v->v.f8));
					break;
				case F1T_BOOL:
				case F1T_TIMESTAMPTZ:
					break;
				case F1T_TEXT:
					REQUIRE((uint64_t) v->v.str.off + v->v.str.len <= b->poollen);
					REQUIRE(v->v.str.len == 0 ||
							memchr(b->pool + v->v.str.off, '\0', v->v.str.len) == NULL);
					break;
				case F1T_INT4ARRAY:
					REQUIRE((uint64_t) v->v.str.off + v->v.str.len <= b->poollen);
					REQUIRE(v->v.str.len >= 2);
					REQUIRE(b->pool[v->v.str.off] == '{');
					REQUIRE(b->pool[v->v.str.off + v->v.str.len - 1] == '}');
					break;
			}
		}
	}
}

/* Decodes msg into b and checks the outcome against the batch before. */
static int
decode_and_check(F1Batch *b, const char *msg, size_t len)
{
	char		err[256];
	int			nrows = b->nrows;
	size_t		poollen = b->poollen;
	size_t		nvalues = (size_t) nrows * b->ep->ncolumns;
	F1Value    *values = NULL;
	char	   *pool = NULL;
	int			rc;

	/* a copy of what is there, to see that a rejection leaves it be */
	if (nvalues > 0)
	{
		values = malloc(nvalues * sizeof(F1Value));
		REQUIRE(values != NULL);
		memcpy(values, b->values, nvalues * sizeof(F1Value));
	}
	if (poollen > 0)
	{
		pool = malloc(poollen);
		REQUIRE(pool != NULL);
		memcpy(pool, b->pool, poollen);
	}

	err[0] = '\0';
	rc = f1_decode_message(b, msg, len, 1, 2, err, sizeof(err));
	if (rc < 0)
	{
		REQUIRE(rc == -1);
		REQUIRE(err[0] != '\0' && strchr(err, '\n') == NULL);
		REQUIRE(b->nrows == nrows && b->poollen == poollen);
	}
	else
	{
		REQUIRE(b->nrows == nrows + rc);
		REQUIRE(b->poollen >= poollen);
		for (int r = nrows; r < b->nrows; r++)
			REQUIRE(b->src_partition[r] == 1 && b->src_offset[r] == 2);
	}
	/* earlier rows are untouched either way */
	REQUIRE(nvalues == 0 || memcmp(values, b->values, nvalues * sizeof(F1Value)) == 0);
	REQUIRE(poollen == 0 || memcmp(pool, b->pool, poollen) == 0);
	check_rows(b, 0);
	free(values);
	free(pool);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	F1Batch		b;
	const char *msg;
	size_t		len;
	int			rc1,
				rc2;

	if (size < 1)
		return 0;
	f1_batch_init(&b, &f1_endpoints[data[0] % F1E_COUNT]);
	msg = (const char *) data + 1;
	len = size - 1;

	rc1 = decode_and_check(&b, msg, len);
	rc2 = decode_and_check(&b, msg, len);
	REQUIRE(rc1 == rc2);		/* decoding does not depend on the batch */

	f1_batch_reset(&b);
	REQUIRE(b.nrows == 0 && b.poollen == 0);
	f1_batch_free(&b);
	return 0;
}
