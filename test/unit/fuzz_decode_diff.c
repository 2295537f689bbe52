/*
 * test/unit/fuzz_decode_diff.c — libFuzzer target: the scanner decoder
 * (src/ingest/decode.c) against the json-c decoder it replaced
 * (test/unit/decode_jsonc.c).
 *
 * The first input byte picks the endpoint as in fuzz_decode.c ('0'..'9',
 * 'a'..'h', else modulo the endpoint count: the seeds of test/unit/corpus
 * fit both); the rest is the message.  It is decoded twice by each decoder,
 * into a batch of its own, the second time on top of the first one's rows;
 * after each decode both must agree (decode_diff.h): the same accepted or
 * refused, the same rows and pool bytes, the same reason but for the words
 * of a JSON syntax error.  A difference aborts with both answers.  Build
 * and run with `make fuzz` (FUZZ_TIME seconds each).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/decode.h"
#include "decode_diff.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);

const char *
__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

static const char endpoint_chars[] = "0123456789abcdefgh";
_Static_assert(sizeof(endpoint_chars) - 1 == F1E_COUNT, "one character per endpoint");

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p;
	const F1Endpoint *ep;
	F1Batch		a,
				b;
	char		why[700];
	char	   *msg;

	if (size < 1)
		return 0;
	p = strchr(endpoint_chars, (char) data[0]);
	ep = &f1_endpoints[(p != NULL && data[0] != '\0') ? p - endpoint_chars : data[0] % F1E_COUNT];
	/* a copy of its own size, so that ASan sees any read past the end */
	msg = malloc(size - 1 > 0 ? size - 1 : 1);
	if (msg == NULL)
		return 0;
	memcpy(msg, data + 1, size - 1);
	f1_batch_init(&a, ep);
	f1_batch_init(&b, ep);
	for (int round = 0; round < 2; round++)
	{
		if (!diff_decode(&a, &b, msg, size - 1, why, sizeof(why)))
		{
			fprintf(stderr, "decoders differ (%s, round %d): %s\n", ep->name, round, why);
			abort();
		}
	}
	f1_batch_free(&a);
	f1_batch_free(&b);
	free(msg);
	return 0;
}
