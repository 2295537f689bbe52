/*
 * src/ingest/decode_batch.c — the decoder's F1Batch: rows and the string
 * pool that decoded messages are appended to (contract: decode.h).
 *
 * Rules a reader must know: buffers grow by doubling and are kept from
 * batch to batch (f1_batch_reset() only empties it); a failed growth
 * leaves the batch as it was, but for arrays that grew already (caprows
 * moves last), so the decoder can give up and put the batch back.  The
 * decoder's half of the file is decode.c (decode_int.h: f1dec_reserve_*).
 * Plain C, no PostgreSQL headers.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/decode.h"
#include "ingest/decode_int.h"

#define INITIAL_ROWS	256
#define INITIAL_POOL	8192
#define MAX_POOL		((size_t) UINT32_MAX)	/* str.off and str.len are 32 bits */

/* ---- batches ----------------------------------------------------------- */

void
f1_batch_init(F1Batch *batch, const F1Endpoint *ep)
{
	memset(batch, 0, sizeof(*batch));
	batch->ep = ep;
}

void
f1_batch_reset(F1Batch *batch)
{
	batch->nrows = 0;
	batch->poollen = 0;
}

void
f1_batch_free(F1Batch *batch)
{
	const F1Endpoint *ep = batch->ep;

	free(batch->values);
	free(batch->src_partition);
	free(batch->src_offset);
	free(batch->pool);
	f1_batch_init(batch, ep);
}

void
f1_batch_trim(F1Batch *batch, size_t keep_bytes)
{
	const F1Endpoint *ep = batch->ep;
	size_t		ncols = (size_t) ep->ncolumns;
	size_t		held = (size_t) batch->caprows *
		(ncols * sizeof(F1Value) + sizeof(int32_t) + sizeof(int64_t)) + batch->poolcap;

	if (batch->nrows > 0 || held <= keep_bytes)
		return;
	free(batch->values);
	free(batch->src_partition);
	free(batch->src_offset);
	free(batch->pool);
	f1_batch_init(batch, ep);
}

/* Room for `extra` more rows; false if it cannot be had. */
bool
f1dec_reserve_rows(F1Batch *batch, size_t extra)
{
	size_t		need = (size_t) batch->nrows + extra;
	size_t		newcap;
	size_t		ncols = (size_t) batch->ep->ncolumns;
	void	   *p;

	if (need <= (size_t) batch->caprows)
		return true;
	if (need > INT_MAX)
		return false;
	newcap = batch->caprows > 0 ? (size_t) batch->caprows : INITIAL_ROWS;
	while (newcap < need)
		newcap *= 2;
	if (newcap > INT_MAX)
		newcap = INT_MAX;
	if (newcap > SIZE_MAX / sizeof(F1Value) / ncols)
		return false;

	/* Each array is kept as soon as it has grown; caprows moves last. */
	p = realloc(batch->values, newcap * ncols * sizeof(F1Value));
	if (p == NULL)
		return false;
	batch->values = p;
	p = realloc(batch->src_partition, newcap * sizeof(int32_t));
	if (p == NULL)
		return false;
	batch->src_partition = p;
	p = realloc(batch->src_offset, newcap * sizeof(int64_t));
	if (p == NULL)
		return false;
	batch->src_offset = p;
	batch->caprows = (int) newcap;
	return true;
}

/* Room for `need` more pool bytes; false if it cannot be had. */
bool
f1dec_reserve_pool(F1Batch *batch, size_t need)
{
	size_t		newcap;
	char	   *p;

	if (need <= batch->poolcap - batch->poollen)
		return true;
	if (need > MAX_POOL - batch->poollen)
		return false;
	newcap = batch->poolcap > 0 ? batch->poolcap : INITIAL_POOL;
	while (newcap - batch->poollen < need)
		newcap *= 2;
	if (newcap > MAX_POOL)
		newcap = MAX_POOL;
	p = realloc(batch->pool, newcap);
	if (p == NULL)
		return false;
	batch->pool = p;
	batch->poolcap = newcap;
	return true;
}
