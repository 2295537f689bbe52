/*
 * test/unit/fuzz_decode.c — libFuzzer target for the OpenF1 message decoder.
 *
 * The first input byte picks the endpoint: '0'..'9' and 'a'..'h' are
 * endpoints 0 to 17 in id order (endpoints.h: seeds start with them), any
 * other byte is taken modulo the endpoint count; the rest is the message.  It is decoded twice into
 * one batch, so that the second decode runs against rows already there, and
 * after each the batch must keep the decoder's promises: -1 leaves it exactly
 * as it was, success adds as many rows as returned, and every value is what
 * its column allows (in range, not null where it may not be, text and array
 * literals inside the pool, a gap field in at most one of its columns, a
 * qualifying array of at most three numbers that read back as finite
 * doubles).  Build and run with `make fuzz`.
 *
 * Seeds (test/unit/corpus) are real records of test/data/openf1, but for
 * those named *_handwritten: the endpoints and shapes the recorded sessions
 * lack (intervals, team_radio, championships, qualifying arrays).
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

/* the endpoint a seed's first byte names */
static const char endpoint_chars[] = "0123456789abcdefgh";
_Static_assert(sizeof(endpoint_chars) - 1 == F1E_COUNT, "one character per endpoint");

#define REQUIRE(cond) do { \
	if (!(cond)) \
	{ \
		fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__); \
		abort(); \
	} \
} while (0)

/*
 * A float8[] literal of the decoder: "{" at most F1_GAP_Q_MAX elements,
 * each NULL or a finite number strtod reads whole, "}".
 */
static void
check_float_array(const char *lit, size_t len)
{
	char		buf[128];
	char	   *p;
	int			n = 0;

	REQUIRE(len >= 2 && len < sizeof(buf));
	memcpy(buf, lit, len);
	buf[len] = '\0';
	REQUIRE(buf[0] == '{' && buf[len - 1] == '}');
	buf[len - 1] = '\0';
	p = buf + 1;
	while (*p != '\0')
	{
		char	   *end;

		if (strncmp(p, "NULL", 4) == 0)
			end = p + 4;
		else
		{
			double		d = strtod(p, &end);

			REQUIRE(end != p && isfinite(d));
		}
		n++;
		REQUIRE(*end == ',' || *end == '\0');
		p = *end == ',' ? end + 1 : end;
		REQUIRE(*end == '\0' || *p != '\0');	/* no trailing comma */
	}
	REQUIRE(n <= F1_GAP_Q_MAX);
}

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
				case F1T_GAP:
					REQUIRE(isfinite(v->v.f8));
					break;
				case F1T_GAP_LAPS:
					REQUIRE(v->v.i4 >= col->min && v->v.i4 <= col->max);
					break;
				case F1T_GAP_Q:
					REQUIRE((uint64_t) v->v.str.off + v->v.str.len <= b->poollen);
					check_float_array(b->pool + v->v.str.off, v->v.str.len);
					break;
			}
			/* a gap field's value is in one of its columns only */
			if (col->type == F1T_GAP_LAPS || col->type == F1T_GAP_Q)
			{
				for (int c2 = 0; c2 < ep->ncolumns; c2++)
				{
					const F1Column *col2 = &ep->columns[c2];

					if (c2 != c && strcmp(F1_COLUMN_FIELD(col2), col->field) == 0)
						REQUIRE(f1_batch_value(b, r, c2)->isnull);
				}
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
	{
		const char *e = data[0] != '\0' ? strchr(endpoint_chars, data[0]) : NULL;

		f1_batch_init(&b, &f1_endpoints[e != NULL ? (int) (e - endpoint_chars) :
										 data[0] % F1E_COUNT]);
	}
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
