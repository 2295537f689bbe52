/*
 * src/ingest/batch.c — the messages an ingest worker has collected and not
 * yet written, and writing them: one transaction per batch (ingest.h).
 *
 * A batch's rows (store.c), its dead letters and the next offset of each of
 * its partitions (offsets.c, a compare-and-set) commit together.  Errors
 * are judged by one rule (errclass.h): only a message's content may make it
 * a dead letter.
 *
 *  - An error of the environment (a lock or statement timeout, a cancel, a
 *    deadlock, a full disk, no memory, a missing column or function, a
 *    failing trigger): the batch is rolled back, the offsets stay where
 *    they are, the error is recorded in f1tel.kafka_offsets (last_error,
 *    retries: f1tel.ingest_status), and the same messages are written
 *    again after a back-off (src/shared/backoff.h) that the worker's loop
 *    waits out on its latch, polling the consumer meanwhile; for as long
 *    as it takes.
 *  - A content error (a value the database refuses): the batch is written
 *    again one message per subtransaction; a message whose subtransaction
 *    fails with a content error becomes a dead letter with the error, one
 *    that fails with an environmental error rolls the whole batch back as
 *    above (and the retry goes one message at a time again).
 *  - Fenced off (another worker moved an offset): rolled back, and the
 *    partitions are assigned again from the table.
 *
 * statement_timeout, when set for the worker (postgresql.conf, ALTER
 * SYSTEM, ALTER ROLE / DATABASE), bounds a batch's write transaction;
 * lock_timeout bounds each of its lock waits.
 *
 * Memory is bounded by the batch: it ends at f1tel.batch_size messages or
 * f1tel.batch_max_bytes of message values and keys held, whichever comes
 * first (f1_collected_full).  The collected messages are librdkafka's
 * (destroyed when written or dropped, which also frees the fetch buffers
 * they pin); the decoded rows live in the batch's own buffers and context
 * (store.c), emptied after every batch and given back to the system after
 * a batch that held a large message (f1_store_trim).
 */
#include "postgres.h"

#include "access/xact.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "storage/proc.h"
#include "utils/resowner.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "ingest/errclass.h"
#include "ingest/ingest.h"
#include "ingest/offsets.h"
#include "ingest/store.h"
#include "shared/backoff.h"
#include "shared/extension.h"
#include "shared/guc.h"
#include "shared/xact.h"

/* the back-off between attempts: 20 ms doubled per attempt, at most 10 s */
#define RETRY_BASE_MS	20
#define RETRY_CAP_MS	10000
/* a batch that held a message larger than this gives its memory back */
#define TRIM_ABOVE		(256 * 1024)
/* the most of an error's text recorded in f1tel.kafka_offsets.last_error */
#define ERROR_TEXT_MAX	400

static F1IngestBatch batch;
static rd_kafka_message_t **msgs;
static int	nmsgs;
static int	capmsgs;
static size_t held_bytes;		/* values and keys of msgs: f1tel.batch_max_bytes */
static size_t largest;			/* the largest of them */
/* one-entry cache: messages come in runs of one partition */
static F1Part *last_part;
static const rd_kafka_topic_t *last_rkt;
static int32 last_partition = -1;
/* the batch held failed: how often, when to try again, and how */
static int	failed_attempts;
static TimestampTz retry_at;
static bool one_by_one;

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

bool
f1_collected_full(void)
{
	return nmsgs >= f1tel_batch_size || held_bytes >= (size_t) f1tel_batch_max_bytes;
}

void
f1_collected_discard(void)
{
	for (int i = 0; i < nmsgs; i++)
		rd_kafka_message_destroy(msgs[i]);
	nmsgs = 0;
	failed_attempts = 0;
	retry_at = 0;
	one_by_one = false;
	f1_store_reset(&batch);
	/* after a large message, give its memory back (decoder buffers, malloc's heap) */
	f1_store_trim(&batch, largest > TRIM_ABOVE);
	held_bytes = 0;
	largest = 0;
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
	held_bytes += m->len + m->key_len;
	largest = Max(largest, m->len);

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
 * database refuses for their content becomes a dead letter with the
 * database's error; any other error rolls the whole batch back.
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

		CHECK_FOR_INTERRUPTS();
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
			/* not this message's fault: the batch waits for better times */
			if (!f1_sqlstate_is_content_error(unpack_sql_state(edata->sqlerrcode)))
				ReThrowError(edata);
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
	WRITE_CONTENT_ERROR,		/* write it again one message at a time */
	WRITE_ENV_ERROR				/* write it again later */
} WriteResult;

/* The partitions of the batch held, for f1tel.kafka_offsets. */
typedef struct BatchError
{
	const char *text;
} BatchError;

static void
record_batch_error(void *arg)
{
	BatchError *e = arg;
	const char **topics;
	int32	   *ps;
	int			n = f1_parts_list(F1P_IN_BATCH, &topics, &ps);

	f1_offsets_record_errors(f1tel_group_id, n, topics, ps, e->text, true);
}

/*
 * An environmental error: log it, record it for ingest_status (the error's
 * message only, cut short: never a payload or a row), and schedule the next
 * attempt.
 */
/* An error's message cut short: it may quote a value of any size. */
static char *
clipped_message(ErrorData *edata)
{
	char	   *msg = pstrdup(edata->message ? edata->message : "unknown error");

	if (strlen(msg) > ERROR_TEXT_MAX)
		msg[pg_mbcliplen(msg, strlen(msg), ERROR_TEXT_MAX)] = '\0';
	return msg;
}

static void
batch_failed(ErrorData *edata)
{
	static uint64_t rng = 0;
	const char *sqlstate = unpack_sql_state(edata->sqlerrcode);
	char	   *msg = clipped_message(edata);
	BatchError	e;
	long		delay;

	if (rng == 0)
		rng = f1_backoff_seed(GetCurrentTimestamp(), MyProcPid);
	delay = (long) f1_backoff_ms(failed_attempts, RETRY_BASE_MS, RETRY_CAP_MS, &rng);
	failed_attempts++;
	retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), delay);
	ereport(failed_attempts == 1 || failed_attempts % 10 == 0 ? WARNING : LOG,
			(errcode(edata->sqlerrcode),
			 errmsg("f1tel ingest: writing a batch of %d messages failed (attempt %d): %s",
					nmsgs, failed_attempts, msg),
			 errdetail("Not an error of a message's content: nothing becomes a dead letter and the offsets stay; the batch is written again in %ld ms.",
					   delay)));
	e.text = psprintf("SQLSTATE %s: %s (batch of %d messages not written, attempt %d; retrying)",
					  sqlstate, msg, nmsgs, failed_attempts);
	(void) f1_xact_run(record_batch_error, &e, "f1tel ingest: recording a batch error");
}

static WriteResult
write_once(void)
{
	MemoryContext old = CurrentMemoryContext;
	volatile WriteResult result = WRITE_DONE;

	PG_TRY();
	{
		f1_xact_begin("f1tel ingest: writing a batch");
		if (StatementTimeout > 0)
			enable_timeout_after(STATEMENT_TIMEOUT, StatementTimeout);
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
		disable_timeout(STATEMENT_TIMEOUT, false);
		if (result == WRITE_DONE)
			f1_xact_commit();
		else
			f1_xact_abort();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		disable_timeout(STATEMENT_TIMEOUT, false);
		MemoryContextSwitchTo(old);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(old);
		/* one message at a time, whatever escapes is not a message's */
		if (!one_by_one &&
			f1_sqlstate_is_content_error(unpack_sql_state(edata->sqlerrcode)))
		{
			result = WRITE_CONTENT_ERROR;
			ereport(LOG,
					(errcode(edata->sqlerrcode),
					 errmsg("f1tel ingest: writing a batch of %d messages failed: %s",
							nmsgs, clipped_message(edata)),
					 errdetail("The batch is written again one message at a time; messages the database refuses go to f1tel.dead_letters.")));
		}
		else
		{
			result = WRITE_ENV_ERROR;
			batch_failed(edata);
		}
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	pgstat_report_activity(STATE_IDLE, NULL);
	return result;
}

long
f1_collected_backoff_ms(void)
{
	TimestampTz now;

	if (nmsgs == 0 || retry_at == 0)
		return 0;
	now = GetCurrentTimestamp();
	if (now >= retry_at)
		return 0;
	return (long) ((retry_at - now + 999) / 1000);
}

bool
f1_collected_write(void)
{
	for (;;)
	{
		switch (write_once())
		{
			case WRITE_DONE:
				if (failed_attempts > 0)
					ereport(LOG,
							(errmsg("f1tel ingest: a batch of %d messages was written after %d failed attempts",
									nmsgs, failed_attempts)));
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
			case WRITE_CONTENT_ERROR:
				one_by_one = true;
				break;			/* at once */
			case WRITE_ENV_ERROR:
				return true;	/* the loop waits f1_collected_backoff_ms() */
		}
	}
}
