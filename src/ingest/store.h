/*
 * src/ingest/store.h — one ingest batch: decoded rows and dead letters, and
 * how they are written to the staging tables.
 *
 * The batch is filled message by message (f1_store_add_message), then written
 * by f1_store_write inside the caller's transaction with SPI connected: one
 * upsert per staging table that has rows and one insert of dead letters.
 * The caller stores the offsets in the same transaction (offsets.h).
 */
#ifndef F1TEL_STORE_H
#define F1TEL_STORE_H

#include "ingest/decode.h"

typedef struct F1DeadLetter
{
	const char *topic;
	int32		partition;
	int64		offset;
	const char *key;			/* NULL if none */
	size_t		keylen;
	const char *payload;		/* NULL for a null value */
	size_t		len;
	char	   *reason;			/* palloc'd in the batch context */
} F1DeadLetter;

typedef struct F1IngestBatch
{
	F1Batch		tables[F1E_COUNT];	/* malloc'd buffers, reused */
	const char *topics[F1E_COUNT];	/* the topic each table's rows came from */
	F1DeadLetter *dead;				/* in cxt */
	int			ndead;
	int			capdead;
	MemoryContext cxt;			/* reset by f1_store_reset */
	MemoryContext write_cxt;	/* a write's arrays: reset by every write */
} F1IngestBatch;

extern void f1_store_init(F1IngestBatch *b, MemoryContext parent);
extern void f1_store_reset(F1IngestBatch *b);

/*
 * Decode a message into the batch.  Returns the number of rows it gave
 * (0 for an empty array), or -1 if it became a dead letter (the payload and
 * key pointers must then stay valid until the batch is written).
 */
extern int	f1_store_add_message(F1IngestBatch *b, const char *topic,
								 int32 partition, int64 offset,
								 const char *key, size_t keylen,
								 const char *payload, size_t len);

/* Record a message as a dead letter with the given reason. */
extern void f1_store_add_dead_letter(F1IngestBatch *b, const char *topic,
									 int32 partition, int64 offset,
									 const char *key, size_t keylen,
									 const char *payload, size_t len,
									 const char *reason);

/*
 * After f1_store_reset: free the decoded-row buffers that grew past what a
 * usual batch needs and, if release, return malloc's free memory to the
 * system (after a batch of large messages).
 */
extern void f1_store_trim(F1IngestBatch *b, bool release);

/* Total rows and dead letters in the batch. */
extern int	f1_store_nrows(F1IngestBatch *b);

/*
 * Write the batch: take the per-driver advisory locks the enrichment
 * triggers use (sorted, so writers never deadlock), upsert each table, insert
 * the dead letters.  Needs a transaction and SPI_connect; ereports on error.
 */
extern void f1_store_write(F1IngestBatch *b);

/*
 * The append path (append.c): stores the new rows of table id of the batch
 * by COPY and writes the indexes of the others, in arrival order, to rest[]
 * (room for every row of the table); returns their count.  For an endpoint
 * the path does not serve, every row is in rest[].
 */
extern int	f1_append_new_rows(F1IngestBatch *b, F1EndpointId id, int *rest);

#endif							/* F1TEL_STORE_H */
