/*
 * src/ingest/worker.c — the ingest background worker: Kafka to staging tables.
 *
 * Started by the launcher (src/shared/launcher.c), f1tel.ingest_workers of
 * them in one consumer group, connected to f1tel.database.  The loop follows
 * worker_spi: SIGHUP reloads the configuration (and rebuilds the consumer if
 * a Kafka setting changed), SIGTERM ends the worker (die), the wait is on the
 * latch and the consumer queue's wake-up pipe together, with
 * WL_EXIT_ON_PM_DEATH, and a memory context is reset every pass.
 *
 * One transaction per batch: the batch's rows, its dead letters and the next
 * offset of each of its partitions commit together (offsets.c fences the
 * update).  Partitions are assigned from f1tel.kafka_offsets; any assignment
 * change drops the messages buffered but not yet written, which the new owner
 * reads again from the stored offsets.
 *
 * A batch that fails to write for a transient reason (deadlock, serialization
 * failure) is retried; one that fails otherwise is written again one message
 * per subtransaction, and the messages that still fail become dead letters
 * with the error, so a single bad message never stops the stream.
 *
 * Never blocking DDL: the worker holds no lock between batches; a batch takes
 * the extension's lock conditionally (DROP EXTENSION waits at most one batch;
 * src/shared/extension.c, which also pauses the worker while the installed
 * extension's version is not the library's)
 * and the worker exits when someone holds its database's lock (DROP
 * DATABASE, or a rename), which it checks at least once a second.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "ingest/consumer.h"
#include "ingest/offsets.h"
#include "ingest/store.h"
#include "shared/extension.h"
#include "shared/guc.h"
#include "shared/worker.h"

#define TOPIC_MAXLEN	256

typedef struct PartKey
{
	char		topic[TOPIC_MAXLEN];
	int32		partition;
} PartKey;

typedef struct PartState
{
	PartKey		key;
	bool		assigned;
	int64		stored;			/* next offset in the table; -1 = NULL */
	int64		first;			/* first offset in the pending batch; -1 = none */
	int64		next;			/* offset after the last one in the batch */
	int64		nrows;
	int64		ndead;
} PartState;

static HTAB *parts;
static F1Consumer *consumer;
static F1IngestBatch batch;
static rd_kafka_message_t **msgs;
static int	nmsgs;
static int	capmsgs;
static PartState *last_state;	/* one-entry cache: messages come in runs */
static const rd_kafka_topic_t *last_rkt;
static int32 last_partition = -1;
static Oid	consumer_extoid;	/* the extension the consumer works for */

/* ---- partition bookkeeping --------------------------------------------- */

static PartState *
part_state(const char *topic, int32 partition, bool create)
{
	PartKey		key;
	bool		found;

	memset(&key, 0, sizeof(key));
	strlcpy(key.topic, topic, TOPIC_MAXLEN);
	key.partition = partition;
	return hash_search(parts, &key, create ? HASH_ENTER : HASH_FIND, &found);
}

/* Drop the buffered messages and the batch's per-partition progress. */
static void
discard_batch(void)
{
	HASH_SEQ_STATUS seq;
	PartState  *s;

	for (int i = 0; i < nmsgs; i++)
		rd_kafka_message_destroy(msgs[i]);
	nmsgs = 0;
	f1_store_reset(&batch);
	hash_seq_init(&seq, parts);
	while ((s = hash_seq_search(&seq)) != NULL)
	{
		s->first = -1;
		s->next = -1;
		s->nrows = 0;
		s->ndead = 0;
	}
	last_state = NULL;
	last_rkt = NULL;
}

/*
 * Run fn in its own transaction with SPI; false (after reporting the error)
 * if it failed.  Used from the rebalance callback and for small bookkeeping,
 * where an error must not leave the worker.
 */
static bool
run_in_transaction(void (*fn) (void *), void *arg, const char *activity)
{
	MemoryContext old = CurrentMemoryContext;
	volatile bool ok = true;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, activity);
		fn(arg);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(old);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	pgstat_report_activity(STATE_IDLE, NULL);
	return ok;
}

typedef struct AssignArgs
{
	rd_kafka_topic_partition_list_t *list;
	int64	   *stored;
} AssignArgs;

static void
assign_read(void *arg)
{
	AssignArgs *a = arg;
	int			n = a->list->cnt;
	const char **topics = palloc(n * sizeof(char *));
	int32	   *ps = palloc(n * sizeof(int32));

	for (int i = 0; i < n; i++)
	{
		topics[i] = a->list->elems[i].topic;
		ps[i] = a->list->elems[i].partition;
	}
	f1_offsets_read(f1tel_group_id, n, topics, ps, a->stored);
}

/* Rebalance: assign each partition from the offset stored in the database. */
static bool
on_assign(rd_kafka_topic_partition_list_t *list, void *arg)
{
	AssignArgs	a;
	HASH_SEQ_STATUS seq;
	PartState  *s;

	discard_batch();
	a.list = list;
	a.stored = palloc(Max(list->cnt, 1) * sizeof(int64));
	if (!run_in_transaction(assign_read, &a, "f1tel ingest: reading offsets"))
		return false;

	hash_seq_init(&seq, parts);
	while ((s = hash_seq_search(&seq)) != NULL)
		s->assigned = false;
	for (int i = 0; i < list->cnt; i++)
	{
		rd_kafka_topic_partition_t *tp = &list->elems[i];

		s = part_state(tp->topic, tp->partition, true);
		s->assigned = true;
		s->stored = a.stored[i];
		s->first = -1;
		s->next = -1;
		s->nrows = 0;
		s->ndead = 0;
		/*
		 * Nothing stored: start at offset 0, not at "the beginning", so
		 * that a partition whose first messages the broker has already
		 * dropped is reported (auto.offset.reset=error), not skipped.
		 */
		tp->offset = a.stored[i] >= 0 ? a.stored[i] : 0;
	}
	return true;
}

static void
on_revoke(void *arg)
{
	HASH_SEQ_STATUS seq;
	PartState  *s;

	discard_batch();
	hash_seq_init(&seq, parts);
	while ((s = hash_seq_search(&seq)) != NULL)
		s->assigned = false;
}

typedef struct ErrorArgs
{
	const char *topic;
	int32		partition;
	const char *error;
} ErrorArgs;

static void
record_error(void *arg)
{
	ErrorArgs  *e = arg;

	f1_offsets_record_error(f1tel_group_id, e->topic, e->partition, e->error);
}

/* ---- messages ----------------------------------------------------------- */

static void
handle_error_event(rd_kafka_message_t *m)
{
	const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : NULL;
	char	   *text = psprintf("%s: %s", rd_kafka_err2name(m->err),
								rd_kafka_message_errstr(m));

	if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
		return;
	if (topic != NULL && m->partition >= 0)
	{
		ErrorArgs	e = {topic, m->partition, text};

		ereport(WARNING,
				(errcode(ERRCODE_CONNECTION_EXCEPTION),
				 errmsg("f1tel ingest: topic \"%s\" partition %d: %s", topic, m->partition, text),
				 m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ?
				 errhint("The stored offset is no longer on the broker (retention). Choose where to resume with f1tel.reset_offset(), then SELECT f1tel.restart_workers().") : 0));
		run_in_transaction(record_error, &e, "f1tel ingest: recording an error");
	}
	else
		ereport(WARNING,
				(errcode(ERRCODE_CONNECTION_EXCEPTION),
				 errmsg("f1tel ingest: %s", text)));
}

/* Add one consumed message to the batch.  Takes ownership of m. */
static void
add_message(rd_kafka_message_t *m)
{
	PartState  *s;
	int			rc;

	if (m->rkt == last_rkt && m->partition == last_partition && last_state != NULL)
		s = last_state;
	else
	{
		s = part_state(rd_kafka_topic_name(m->rkt), m->partition, false);
		last_rkt = m->rkt;
		last_partition = m->partition;
		last_state = s;
	}
	/* a message fetched before a revoke, or one we already have */
	if (s == NULL || !s->assigned ||
		m->offset < (s->next >= 0 ? s->next : s->stored))
	{
		rd_kafka_message_destroy(m);
		return;
	}
	if (s->first < 0)
		s->first = m->offset;
	s->next = m->offset + 1;
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
		s->nrows += rc;
	else
		s->ndead++;
}

/* ---- writing a batch ---------------------------------------------------- */

/* Store the offsets of the batch; false if fenced off. */
static bool
advance_offsets(void)
{
	HASH_SEQ_STATUS seq;
	PartState  *s;
	long		cap = hash_get_num_entries(parts);
	const char **topics = palloc(Max(cap, 1) * sizeof(char *));
	int32	   *ps = palloc(Max(cap, 1) * sizeof(int32));
	int64	   *expected = palloc(Max(cap, 1) * sizeof(int64));
	int64	   *next = palloc(Max(cap, 1) * sizeof(int64));
	int64	   *hw = palloc(Max(cap, 1) * sizeof(int64));
	int64	   *nrows = palloc(Max(cap, 1) * sizeof(int64));
	int64	   *ndead = palloc(Max(cap, 1) * sizeof(int64));
	int			n = 0;

	hash_seq_init(&seq, parts);
	while ((s = hash_seq_search(&seq)) != NULL)
	{
		if (s->first < 0)
			continue;
		topics[n] = s->key.topic;
		ps[n] = s->key.partition;
		expected[n] = s->stored;
		next[n] = s->next;
		hw[n] = f1_consumer_high_watermark(consumer, s->key.topic, s->key.partition);
		nrows[n] = s->nrows;
		ndead[n] = s->ndead;
		n++;
	}
	return f1_offsets_advance(f1tel_group_id, n, topics, ps, expected, next,
							  hw, nrows, ndead) == n;
}

/* After a commit: the stored offsets are the batch's, tell the broker too. */
static void
batch_committed(void)
{
	HASH_SEQ_STATUS seq;
	PartState  *s;
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(8);

	hash_seq_init(&seq, parts);
	while ((s = hash_seq_search(&seq)) != NULL)
	{
		if (s->first < 0)
			continue;
		s->stored = s->next;
		rd_kafka_topic_partition_list_add(list, s->key.topic, s->key.partition)->offset = s->next;
	}
	f1_consumer_commit_async(consumer, list);
	rd_kafka_topic_partition_list_destroy(list);
	discard_batch();
}

/*
 * Write the messages again one per subtransaction: a message whose rows the
 * database refuses becomes a dead letter with the database's error.
 */
static void
write_one_by_one(void)
{
	HASH_SEQ_STATUS seq;
	PartState  *s;

	hash_seq_init(&seq, parts);
	while ((s = hash_seq_search(&seq)) != NULL)
	{
		s->nrows = 0;
		s->ndead = 0;
	}
	for (int i = 0; i < nmsgs; i++)
	{
		rd_kafka_message_t *m = msgs[i];
		const char *topic = rd_kafka_topic_name(m->rkt);
		MemoryContext old = CurrentMemoryContext;
		ResourceOwner owner = CurrentResourceOwner;
		int			rc;

		s = part_state(topic, m->partition, false);
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
				s->nrows += rc;
			else
				s->ndead++;
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
			s->ndead++;
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
write_batch_once(bool one_by_one)
{
	MemoryContext old = CurrentMemoryContext;
	volatile WriteResult result = WRITE_DONE;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "f1tel ingest: writing a batch");
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
		SPI_finish();
		PopActiveSnapshot();
		if (result == WRITE_DONE)
			CommitTransactionCommand();
		else
			AbortCurrentTransaction();
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

static void
write_batch(void)
{
	bool		one_by_one = false;

	for (int attempt = 1;; attempt++)
	{
		WriteResult r = write_batch_once(one_by_one);

		switch (r)
		{
			case WRITE_DONE:
				pgstat_report_stat(false);
				batch_committed();
				return;
			case WRITE_FENCED:
				ereport(LOG,
						(errmsg("f1tel ingest: another worker moved the offsets of a partition in this batch; the batch was rolled back"),
						 errdetail("The partitions are assigned again from f1tel.kafka_offsets.")));
				discard_batch();
				if (!f1_consumer_reassign(consumer))
					ereport(LOG, (errmsg("f1tel ingest: could not reassign partitions, the consumer will be rebuilt")));
				return;
			case WRITE_NO_EXTENSION:
				ereport(LOG,
						(errmsg("f1tel ingest: extension \"f1tel\" is gone, being dropped or of another version in database \"%s\"; pausing",
								f1tel_database)));
				discard_batch();
				f1_consumer_destroy(consumer);
				consumer = NULL;
				return;
			case WRITE_RETRY:
				if (attempt < 5)
				{
					pg_usleep(10000L * attempt);
					break;
				}
				/* the same error five times: treat it as a failure */
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

/*
 * Refresh the high watermarks of all assigned partitions in
 * f1tel.kafka_offsets, so that ingest_status shows the lag of partitions no
 * batch touched lately too.  From librdkafka's cache: never blocks.
 */
static void
refresh_watermarks(void *arg)
{
	HASH_SEQ_STATUS seq;
	PartState  *s;
	long		cap = Max(hash_get_num_entries(parts), 1);
	const char **topics = palloc(cap * sizeof(char *));
	int32	   *ps = palloc(cap * sizeof(int32));
	int64	   *hw = palloc(cap * sizeof(int64));
	int			n = 0;

	hash_seq_init(&seq, parts);
	while ((s = hash_seq_search(&seq)) != NULL)
	{
		if (!s->assigned)
			continue;
		topics[n] = s->key.topic;
		ps[n] = s->key.partition;
		hw[n] = f1_consumer_high_watermark(consumer, s->key.topic, s->key.partition);
		n++;
	}
	f1_offsets_set_watermarks(f1tel_group_id, n, topics, ps, hw);
}

/* ---- the loop ----------------------------------------------------------- */

static void
ingest_on_exit(int code, Datum arg)
{
	if (consumer != NULL)
	{
		discard_batch();
		f1_consumer_destroy(consumer);
		consumer = NULL;
	}
}

void
f1tel_ingest_main(Datum main_arg)
{
	int			worker_no = DatumGetInt32(main_arg);
	MemoryContext loop_cxt;
	HASHCTL		ctl;
	TimestampTz first_at = 0;
	TimestampTz watermarks_at = 0;
	char	   *worker_name;
	Oid			extoid;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(f1tel_database, NULL, 0);
	worker_name = MemoryContextStrdup(TopMemoryContext, psprintf("ingest %d", worker_no));
	pgstat_report_appname(psprintf("f1tel %s", worker_name));
	/* the enrichment triggers and the change feed need a fresh snapshot per statement */
	SetConfigOption("default_transaction_isolation", "read committed", PGC_SUSET, PGC_S_OVERRIDE);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(PartKey);
	ctl.entrysize = sizeof(PartState);
	parts = hash_create("f1tel ingest partitions", 64, &ctl, HASH_ELEM | HASH_BLOBS);
	f1_store_init(&batch, TopMemoryContext);
	loop_cxt = AllocSetContextCreate(TopMemoryContext, "f1tel ingest loop",
									 ALLOCSET_DEFAULT_SIZES);
	on_proc_exit(ingest_on_exit, (Datum) 0);

	ereport(LOG, (errmsg("f1tel ingest worker %d started in database \"%s\"",
						 worker_no, f1tel_database)));

	for (;;)
	{
		long		timeout = 1000;
		bool		drained = false;

		MemoryContextSwitchTo(loop_cxt);
		MemoryContextReset(loop_cxt);
		CHECK_FOR_INTERRUPTS();
		f1tel_exit_if_database_locked();

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			if (consumer != NULL && f1_consumer_config_changed(consumer))
			{
				ereport(LOG, (errmsg("f1tel ingest: Kafka settings changed, reconnecting")));
				discard_batch();
				f1_consumer_destroy(consumer);
				consumer = NULL;
			}
		}

		if (consumer == NULL)
		{
			if (f1tel_check_extension(worker_name, &consumer_extoid) == F1_EXT_READY)
				consumer = f1_consumer_create(on_assign, on_revoke, NULL);
			if (consumer == NULL)
			{
				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 2000L, PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
				continue;
			}
		}

		/* collect: everything waiting, up to a batch */
		f1_consumer_clear_wait_fd(consumer);
		while (nmsgs < f1tel_batch_size)
		{
			rd_kafka_message_t *m = f1_consumer_poll(consumer);

			if (m == NULL)
			{
				drained = true;
				break;
			}
			if (m->err)
			{
				handle_error_event(m);
				rd_kafka_message_destroy(m);
				continue;
			}
			if (nmsgs == 0)
				first_at = GetCurrentTimestamp();
			add_message(m);
		}
		f1_consumer_report_logs(consumer);
		if (f1_consumer_broken(consumer))
		{
			ereport(LOG, (errmsg("f1tel ingest: rebuilding the Kafka consumer after a failed assignment")));
			discard_batch();
			f1_consumer_destroy(consumer);
			consumer = NULL;
			continue;
		}

		if (nmsgs > 0)
		{
			long		waited = (GetCurrentTimestamp() - first_at) / 1000;

			if (nmsgs >= f1tel_batch_size || waited >= f1tel_batch_wait_ms)
			{
				write_batch();
				continue;		/* more may be waiting */
			}
			timeout = Min(timeout, f1tel_batch_wait_ms - waited);
		}
		if (!drained)
			continue;

		if (nmsgs == 0 &&
			TimestampDifferenceExceeds(watermarks_at, GetCurrentTimestamp(), 5000))
		{
			watermarks_at = GetCurrentTimestamp();
			/* dropped, created again or of another version: start over from its tables */
			if (f1tel_check_extension(worker_name, &extoid) != F1_EXT_READY ||
				extoid != consumer_extoid)
			{
				ereport(LOG,
						(errmsg("f1tel ingest: extension \"f1tel\" was dropped, created again or changed version; reconnecting")));
				f1_consumer_destroy(consumer);
				consumer = NULL;
				continue;
			}
			run_in_transaction(refresh_watermarks, NULL, "f1tel ingest: refreshing watermarks");
		}

		(void) WaitLatchOrSocket(MyLatch,
								 WL_LATCH_SET | WL_SOCKET_READABLE | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 f1_consumer_wait_fd(consumer), timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
