/*
 * test/unit/decode_diff.h — the scanner decoder (f1_decode_message) against
 * the json-c one it replaced (f1_decode_message_jsonc, decode_jsonc.c):
 * shared by test_decode_diff.c and the differential fuzzer.
 *
 * diff_decode() decodes one message with both, each into its own batch,
 * and says whether they agree: the same return value, the same rows
 * (values compared by column type, the pools byte for byte, the source
 * partitions and offsets) and the same reason -- but for JSON syntax
 * errors, where both must only say "not valid JSON".  The batches may
 * hold rows already (both the same): then a rejection must leave both as
 * they were.  Plain C, header only: include it from one translation unit.
 */
#ifndef F1TEL_TEST_DECODE_DIFF_H
#define F1TEL_TEST_DECODE_DIFF_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ingest/decode.h"
#include "decode_jsonc.h"

/*
 * The two batches agree (rows, values, pools) from row r0 and pool byte
 * p0 on (what one decode added); else false, why written.
 */
static inline bool
diff_batches(const F1Batch *a, const F1Batch *b, int r0, size_t p0,
			 char *why, size_t whylen)
{
	const F1Endpoint *ep = a->ep;

	if (a->nrows != b->nrows || a->poollen != b->poollen)
	{
		snprintf(why, whylen, "rows %d vs %d, pool %zu vs %zu", a->nrows, b->nrows,
				 a->poollen, b->poollen);
		return false;
	}
	if (a->poollen > p0 && memcmp(a->pool + p0, b->pool + p0, a->poollen - p0) != 0)
	{
		snprintf(why, whylen, "pools differ");
		return false;
	}
	for (int r = r0; r < a->nrows; r++)
	{
		if (a->src_partition[r] != b->src_partition[r] || a->src_offset[r] != b->src_offset[r])
		{
			snprintf(why, whylen, "row %d: source differs", r);
			return false;
		}
		for (int c = 0; c < ep->ncolumns; c++)
		{
			const F1Value *x = f1_batch_value(a, r, c);
			const F1Value *y = f1_batch_value(b, r, c);
			bool		same;

			if (x->isnull || y->isnull)
				same = x->isnull == y->isnull;
			else
			{
				switch (ep->columns[c].type)
				{
					case F1T_INT4:
					case F1T_GAP_LAPS:
						same = x->v.i4 == y->v.i4;
						break;
					case F1T_FLOAT8:
					case F1T_GAP:
						same = memcmp(&x->v.f8, &y->v.f8, sizeof(double)) == 0;
						break;
					case F1T_BOOL:
						same = x->v.b == y->v.b;
						break;
					case F1T_TIMESTAMPTZ:
						same = x->v.ts == y->v.ts;
						break;
					default:
						same = x->v.str.off == y->v.str.off && x->v.str.len == y->v.str.len;
						break;
				}
			}
			if (!same)
			{
				snprintf(why, whylen, "row %d column %s differs", r, ep->columns[c].name);
				return false;
			}
		}
	}
	return true;
}

/* a JSON syntax error's reason: "<endpoint>: not valid JSON: ..." */
static inline bool
diff_is_syntax(const F1Endpoint *ep, const char *err)
{
	size_t		n = strlen(ep->name);

	return strncmp(err, ep->name, n) == 0 && strncmp(err + n, ": not valid JSON: ", 18) == 0;
}

/*
 * One message through both decoders, into batch a (new) and b (json-c);
 * true if they agree, else false with the difference in why.
 */
static inline bool
diff_decode(F1Batch *a, F1Batch *b, const char *msg, size_t len,
			char *why, size_t whylen)
{
	char		ea[512],
				eb[512];
	int			ra,
				rb;
	int			r0 = a->nrows;
	size_t		p0 = a->poollen;

	if (b->nrows != r0 || b->poollen != p0)
	{
		snprintf(why, whylen, "the batches differed before");
		return false;
	}
	strcpy(ea, "-");
	strcpy(eb, "-");
	ra = f1_decode_message(a, msg, len, 3, 77, ea, sizeof(ea));
	rb = f1_decode_message_jsonc(b, msg, len, 3, 77, eb, sizeof(eb));
	if (ra != rb)
	{
		snprintf(why, whylen, "returned %d (%s) vs json-c %d (%s)", ra,
				 ra < 0 ? ea : "", rb, rb < 0 ? eb : "");
		return false;
	}
	if (ra < 0 && strcmp(ea, eb) != 0 &&
		!(diff_is_syntax(a->ep, ea) && diff_is_syntax(b->ep, eb)))
	{
		snprintf(why, whylen, "reason \"%s\" vs json-c \"%s\"", ea, eb);
		return false;
	}
	return diff_batches(a, b, r0, p0, why, whylen);
}

#endif							/* F1TEL_TEST_DECODE_DIFF_H */
