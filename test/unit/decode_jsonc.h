/*
 * test/unit/decode_jsonc.h — the reference decoder of the tests: the
 * json-c decoder f1tel had (test/unit/decode_jsonc.c), with
 * f1_decode_message()'s contract (src/ingest/decode.h).  Tests only.
 */
#ifndef F1TEL_DECODE_JSONC_H
#define F1TEL_DECODE_JSONC_H

#include "ingest/decode.h"

extern int	f1_decode_message_jsonc(F1Batch *batch, const char *payload, size_t len,
									int32_t partition, int64_t offset,
									char *errbuf, size_t errlen);

#endif							/* F1TEL_DECODE_JSONC_H */
