/*
 * src/ingest/ingest.h — what the ingest worker's files share (one worker per
 * process, so this is process state, not a library).
 *
 *   worker.c      the loop, as named phases: collect, write, housekeeping, wait
 *   partitions.c  the partitions assigned to this worker and where each stands
 *   batch.c       the messages collected and not yet written; writing them
 *
 * Exactly once rests on three rules kept by these files together:
 *  - a partition is assigned from the offset stored in f1tel.kafka_offsets
 *    (partitions.c), never from the broker's committed offset;
 *  - a batch's rows, dead letters and next offsets commit in one
 *    transaction, the offsets by compare-and-set (batch.c, offsets.c);
 *  - any change of assignment drops what was collected and not written
 *    (f1_collected_discard): the new owner reads it again from the table;
 *  - only a message's content makes it a dead letter (errclass.h): a batch
 *    that fails otherwise keeps its offsets and is written again.
 */
#ifndef F1TEL_INGEST_H
#define F1TEL_INGEST_H

#include "postgres.h"

#include <librdkafka/rdkafka.h>

#include "utils/hsearch.h"

#include "ingest/consumer.h"

#define F1_TOPIC_MAXLEN	256

typedef struct F1PartKey
{
	char		topic[F1_TOPIC_MAXLEN];
	int32		partition;
} F1PartKey;

/* One partition this worker knows: assigned now, or earlier. */
typedef struct F1Part
{
	F1PartKey	key;
	bool		assigned;
	int64		stored;			/* next offset in the table; -1 = NULL */
	int64		first;			/* first offset collected and not written; -1 = none */
	int64		next;			/* offset after the last one collected */
	int64		nrows;			/* rows and dead letters of the collected ones */
	int64		ndead;
} F1Part;

/* The worker's consumer (worker.c); NULL while there is none. */
extern F1Consumer *f1_ingest_consumer;

/* ---- partitions.c ---- */
extern HTAB *f1_parts;
extern void f1_parts_init(void);
extern F1Part *f1_part(const char *topic, int32 partition, bool create);
/* forget, for every partition, what the flags name */
#define F1_PART_ASSIGNED	0x01	/* assigned = false */
#define F1_PART_COLLECTED	0x02	/* first = next = -1: nothing collected */
#define F1_PART_COUNTS		0x04	/* nrows = ndead = 0 */
extern void f1_parts_reset(int what);
/* the consumer's rebalance hooks (F1AssignHook, F1RevokeHook) */
extern bool f1_parts_assign(rd_kafka_topic_partition_list_t *list, void *arg);
extern void f1_parts_revoke(void *arg);
/* the queue ran dry with data waiting at a leader: wake its fetcher */
extern void f1_parts_wake_fetcher(void);
/* a consumer error event: logged, and recorded for its partition */
extern void f1_parts_report_error(rd_kafka_message_t *m);
/*
 * An error of a topic (topic) or of the whole consumer (topic NULL): logged
 * (log: always; else only when written), and written to the rows of the
 * topics it concerns, at most every 10 s while it repeats.
 */
extern void f1_parts_report_consumer_error(const char *topic, int err, const char *text,
										   bool log);
extern void f1_parts_record_consumer_error(const char *text);
/* store the high watermarks of the assigned partitions (ingest_status) */
extern void f1_parts_refresh_watermarks(void);

/*
 * The partitions assigned to this worker (F1P_ASSIGNED) or holding messages
 * of the batch being collected (F1P_IN_BATCH): their topics and numbers in
 * two arrays palloc'd in the current memory context; returns how many.
 */
typedef enum F1PartSet
{
	F1P_ASSIGNED,
	F1P_IN_BATCH,
} F1PartSet;
extern int	f1_parts_list(F1PartSet which, const char ***topics, int32 **partitions);

/* ---- batch.c ---- */
extern void f1_collect_init(void);
extern int	f1_collected_count(void);
/* f1tel.batch_size messages or f1tel.batch_max_bytes held: write it */
extern bool f1_collected_full(void);
/* take ownership of a consumed message (dropped if stale or not ours) */
extern void f1_collect(rd_kafka_message_t *m);
extern void f1_collected_discard(void);
/*
 * Write what was collected, in one transaction (one message per
 * subtransaction after a content error: errclass.h).  After an error of the
 * environment the messages are kept and f1_collected_backoff_ms() says how
 * long to wait before writing them again.  false if the consumer must be
 * rebuilt (the extension is gone, busy or of another version).
 */
extern bool f1_collected_write(void);
/* ms before the batch held may be written again (0: now) */
extern long f1_collected_backoff_ms(void);

#endif							/* F1TEL_INGEST_H */
