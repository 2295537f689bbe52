/*
 * src/ingest/batch.c — the messages an ingest worker has collected and not
 * yet written, and writing them: one transaction per batch (ingest.h).
 *
 * A batch's rows (store.c), its dead letters and the next offset of each of
 * its partitions (offsets.c, a compare-and-set) commit together.  A batch
 * that fails for a transient reason (deadlock, serialization failure) is
 * tried again after a back-off on the latch (src/shared/backoff.h); one that
 * fails otherwise is written again one message per subtransaction, and the
 * messages that still fail become dead letters with the error, so a single
 * bad message never stops the stream.  Fenced off (another worker moved an
 * offset): rolled back, and the partitions are assigned again from the
 * table.
 *
 * Memory: the collected messages are librdkafka's (destroyed when written
 * or dropped); the decoded rows live in the batch's own context (store.c).
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "ingest/ingest.h"
#include "ingest/offsets.h"
#include "ingest/store.h"
#include "shared/backoff.h"
#include "shared/extension.h"
#include "shared/guc.h"
#include "shared/xact.h"

#define MAX_RETRIES 5

static F1IngestBatch batch;
static rd_kafka_message_t **msgs;
static int	nmsgs;
static int	capmsgs;
/* one-entry cache: messages come in runs of one partition */
static F1Part *last_part;
static const rd_kafka_topic_t *last_rkt;
static int32 last_partition = -1;

void
f1_collect_init(void)
{
	f1_store_init(&batch, TopMemoryContext);
}

int
f1_collected_count(void)
{
	return nmsgs;
}

void
f1_collected_discard(void)
{
	for (int i = 0; i < nmsgs; i++)
		rd_kafka_message_destroy(msgs[i]);
	nmsgs = 0;
	f1_store_reset(&batch);
	f1_parts_reset(F1_PART_COLLECTED | F1_PART_COUNTS);
	last_part = NULL;
	last_rkt = NULL;
}

void
f1_collect(rd_kafka_message_t *m)
{
	F1Part	   *p;
	int			rc;

	if (m->rkt == last_rkt && m->partition == last_partition && last_part != NULL)
		p = last_part;
	else
	{
		p = f1_part(rd_kafka_topic_name(m->rkt), m->partition, false);
		last_rkt = m->rkt;
		last_partition = m->partition;
		last_part = p;
	}
	/* a message fetched before a revoke, or one we already have */
	if (p == NULL || !p->assigned ||
		m->offset < (p->next >= 0 ? p->next : p->stored))
	{
		rd_kafka_message_destroy(m);
		return;
	}
	if (p->first < 0)
		p->first = m->offset;
	p->next = m->offset + 1;
	if (nmsgs == capmsgs)
	{
		capmsgs = capmsgs ? capmsgs * 2 : 1024;
		msgs = msgs ? repalloc(msgs, capmsgs * sizeof(rd_kafka_message_t *))
			: MemoryContextAlloc(TopMemoryContext, capmsgs * sizeof(rd_kafka_message_t *));
	}
	msgs[nmsgs++] = m;

	rc = f1_store_add_message(&batch, rd_kafka_topic_name(m->rkt), m->partition, m->offset,
							  m->key, m->key_len, m->payload, m->len);
	if (rc >= 0)
		p->nrows += rc;
	else
		p->ndead++;
}

/* Store the offsets of the batch; false if fenced off. */
static bool
advance_offsets(void)
{
	HASH_SEQ_STATUS seq;
	F1Part	   *p;
	long		cap = Max(hash_get_num_entries(f1_parts), 1);
	const char **topics = palloc(cap * sizeof(char *));
	int32	   *ps = palloc(cap * sizeof(int32));
	int64	   *expected = palloc(cap * sizeof(int64));
	int64	   *next = palloc(cap * sizeof(int64));
	int64	   *hw = palloc(cap * sizeof(int64));
	int64	   *nrows = palloc(cap * sizeof(int64));
	int64	   *ndead = palloc(cap * sizeof(int64));
	int			n = 0;

	hash_seq_init(&seq, f1_parts);
	while ((p = hash_seq_search(&seq)) != NULL)
	{
		if (p->first < 0)
			continue;
		topics[n] = p->key.topic;
		ps[n] = p->key.partition;
		expected[n] = p->stored;
		next[n] = p->next;
		hw[n] = f1_consumer_high_watermark(f1_ingest_consumer, p->key.topic, p->key.partition);
		nrows[n] = p->nrows;
		ndead[n] = p->ndead;
		n++;
	}
	return f1_offsets_advance(f1tel_group_id, n, topics, ps, expected, next,
							  hw, nrows, ndead) == n;
}

/* After a commit: the stored offsets are the batch's; tell the broker too. */
static void
batch_committed(void)
{
	HASH_SEQ_STATUS seq;
	F1Part	   *p;
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(8);

	hash_seq_init(&seq, f1_parts);
	while ((p = hash_seq_search(&seq)) != NULL)
	{
		if (p->first < 0)
			continue;
		p->stored = p->next;
		rd_kafka_topic_partition_list_add(list, p->key.topic, p->key.partition)->offset = p->next;
	}
	f1_consumer_commit_async(f1_ingest_consumer, list);
	rd_kafka_topic_partition_list_destroy(list);
	f1_collected_discard();
}

/*
 * Write the messages again one per subtransaction: a message whose rows the
 * database refuses becomes a dead letter with the database's error.
 */
static void
write_one_by_one(void)
{
	F1Part	   *p;

	f1_parts_reset(F1_PART_COUNTS);
	for (int i = 0; i < nmsgs; i++)
	{
		rd_kafka_message_t *m = msgs[i];
		const char *topic = rd_kafka_topic_name(m->rkt);
		MemoryContext old = CurrentMemoryContext;
		ResourceOwner owner = CurrentResourceOwner;
		int			rc;

		p = f1_part(topic, m->partition, false);
		f1_store_reset(&batch);
		rc = f1_store_add_message(&batch, topic, m->partition, m->offset,
								  m->key, m->key_len, m->payload, m->len);
		BeginInternalSubTransaction(NULL);
		PG_TRY();
		{
			f1_store_write(&batch);
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(old);
			CurrentResourceOwner = owner;
			if (rc >= 0)
				p->nrows += rc;
			else
				p->ndead++;
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(old);
			edata = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(old);
			CurrentResourceOwner = owner;
			f1_store_reset(&batch);
			f1_store_add_dead_letter(&batch, topic, m->partition, m->offset,
									 m->key, m->key_len, m->payload, m->len,
									 psprintf("could not store the message: %s", edata->message));
			f1_store_write(&batch);
			p->ndead++;
			FreeErrorData(edata);
		}
		PG_END_TRY();
	}
}

typedef enum WriteResult
{
	WRITE_DONE,
	WRITE_FENCED,
	WRITE_NO_EXTENSION,
	WRITE_RETRY,
	WRITE_FAILED
} WriteResult;

static WriteResult
write_once(bool one_by_one)
{
	MemoryContext old = CurrentMemoryContext;
	volatile WriteResult result = WRITE_DONE;

	PG_TRY();
	{
		f1_xact_begin("f1tel ingest: writing a batch");
		if (f1tel_lock_extension(NULL, NULL) != F1_EXT_READY)
			result = WRITE_NO_EXTENSION;
		else
		{
			if (one_by_one)
				write_one_by_one();
			else
				f1_store_write(&batch);
			if (!advance_offsets())
				result = WRITE_FENCED;
		}
		if (result == WRITE_DONE)
			f1_xact_commit();
		else
			f1_xact_abort();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(old);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_TRANSACTION_ROLLBACK)
			result = WRITE_RETRY;
		else
			result = WRITE_FAILED;
		ereport(result == WRITE_RETRY ? LOG : WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("f1tel ingest: writing a batch of %d messages failed: %s",
						nmsgs, edata->message),
				 result == WRITE_FAILED && !one_by_one ?
				 errdetail("The batch is written again one message at a time; messages that fail go to f1tel.dead_letters.") : 0));
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	pgstat_report_activity(STATE_IDLE, NULL);
	return result;
}

bool
f1_collected_write(void)
{
	static uint64_t rng = 0;
	bool		one_by_one = false;

	for (int attempt = 0;; attempt++)
	{
		switch (write_once(one_by_one))
		{
			case WRITE_DONE:
				batch_committed();
				return true;
			case WRITE_FENCED:
				ereport(LOG,
						(errmsg("f1tel ingest: another worker moved the offsets of a partition in this batch; the batch was rolled back"),
						 errdetail("The partitions are assigned again from f1tel.kafka_offsets.")));
				f1_collected_discard();
				if (!f1_consumer_reassign(f1_ingest_consumer))
					ereport(LOG, (errmsg("f1tel ingest: could not reassign partitions, the consumer will be rebuilt")));
				return true;
			case WRITE_NO_EXTENSION:
				ereport(LOG,
						(errmsg("f1tel ingest: extension \"f1tel\" is gone, being dropped or of another version in database \"%s\"; pausing",
								f1tel_database)));
				f1_collected_discard();
				return false;
			case WRITE_RETRY:
				if (attempt < MAX_RETRIES - 1)
				{
					if (rng == 0)
						rng = f1_backoff_seed(GetCurrentTimestamp(), MyProcPid);
					f1_wait_ms((long) f1_backoff_ms(attempt, 10, 1000, &rng));
					CHECK_FOR_INTERRUPTS();
					break;
				}
				/* the same error every time: treat it as a failure */
				/* FALLTHROUGH */
			case WRITE_FAILED:
				if (one_by_one)
				{
					/* even one message at a time fails: a problem of the database */
					ereport(ERROR,
							(errcode(ERRCODE_INTERNAL_ERROR),
							 errmsg("f1tel ingest: could not write a batch even one message at a time"),
							 errhint("See the errors above; the worker restarts and resumes from f1tel.kafka_offsets.")));
				}
				one_by_one = true;
				break;
		}
	}
}
