/*
 * src/ingest/worker.c — the ingest background worker: Kafka to staging tables.
 *
 * Started by the launcher (src/shared/launcher.c), f1tel.ingest_workers of
 * them in one consumer group, connected to f1tel.database.  The loop follows
 * worker_spi and reads as its phases, as pg_cron's does:
 *
 *   reload        SIGHUP: new settings; a changed Kafka setting rebuilds the
 *                 consumer (its fingerprint: src/shared/kafka_client.c)
 *   connect       a consumer, once the extension is there and of this
 *                 library's version (src/shared/extension.c)
 *   collect       what librdkafka has prefetched, up to a batch: at most
 *                 f1tel.batch_size messages and f1tel.batch_max_bytes (batch.c)
 *                 then the consumer's latest error of its own (a broker
 *                 down), if any, into last_error of the assigned partitions,
 *                 at most once a second (partitions.c)
 *   write         a full batch, or one that waited f1tel.batch_wait_ms:
 *                 one transaction with its offsets (batch.c); after an
 *                 error of the environment, again once its back-off is over
 *   housekeeping  every 5 s while idle: the extension still the same one,
 *                 the high watermarks for ingest_status (partitions.c)
 *   wait          on the latch and the consumer queue's wake-up pipe
 *                 together, with WL_EXIT_ON_PM_DEATH
 *
 * SIGTERM ends the worker (die); SIGINT (pg_cancel_backend, a statement
 * timeout) cancels the batch being written, which is written again later
 * (batch.c), and is ignored between batches.  A memory context is reset
 * every pass.  The
 * exactly-once rules are in ingest.h.  Never blocking DDL: the worker holds
 * no lock between batches; a batch takes the extension's lock without
 * waiting (DROP EXTENSION waits at most one batch), and the worker exits
 * when someone holds its database's lock (DROP DATABASE, or a rename),
 * which it checks at least once a second.
 */
#include "postgres.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "ingest/ingest.h"
#include "shared/extension.h"
#include "shared/guc.h"
#include "shared/session.h"
#include "shared/worker.h"
#include "shared/xact.h"

#define HOUSEKEEPING_MS	5000
#define KAFKA_ERROR_MS	1000	/* most one Kafka error recorded per second */
#define MMAP_THRESHOLD_BYTES	(256 * 1024)

F1Consumer *f1_ingest_consumer;
static Oid	consumer_extoid;	/* the extension the consumer works for */
static char *worker_name;		/* "ingest N" */
static TimestampTz first_collected_at;
static TimestampTz housekeeping_at;
static TimestampTz kafka_error_at;

static void
drop_consumer(void)
{
	f1_collected_discard();
	f1_consumer_destroy(f1_ingest_consumer);
	f1_ingest_consumer = NULL;
}

static void
reload(void)
{
	if (!ConfigReloadPending)
		return;
	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);
	if (f1_ingest_consumer != NULL && f1_consumer_config_changed(f1_ingest_consumer))
	{
		ereport(LOG, (errmsg("f1tel ingest: Kafka settings changed, reconnecting")));
		drop_consumer();
	}
}

/* A consumer, if the extension is there and current; false (after a pause) if not. */
static bool
ensure_consumer(void)
{
	if (f1_ingest_consumer != NULL)
		return true;
	if (f1tel_check_extension(worker_name, &consumer_extoid) == F1_EXT_READY)
		f1_ingest_consumer = f1_consumer_create(f1_parts_assign, f1_parts_revoke, NULL);
	if (f1_ingest_consumer != NULL)
		return true;
	f1_wait_ms(2000);
	return false;
}

/* Collect what is waiting, up to a batch; true if the consumer's queue is drained. */
static bool
collect(void)
{
	bool		drained = false;

	f1_consumer_clear_wait_fd(f1_ingest_consumer);
	while (!f1_collected_full())
	{
		rd_kafka_message_t *m = f1_consumer_poll(f1_ingest_consumer);

		if (m == NULL)
		{
			drained = true;
			break;
		}
		if (m->err)
		{
			f1_parts_report_error(m);
			rd_kafka_message_destroy(m);
			continue;
		}
		if (f1_collected_count() == 0)
			first_collected_at = GetCurrentTimestamp();
		f1_collect(m);
	}
	f1_consumer_report_logs(f1_ingest_consumer);
	return drained;
}

/* An error that stops the consumer until someone acts: to ingest_status too. */
static void
report_standing_error(void)
{
	char		text[512];
	int			err;

	if (f1_consumer_take_standing_error(f1_ingest_consumer, &err, text, sizeof(text)))
		f1_parts_report_consumer_error(NULL, err, text, false);
}

/*
 * The consumer's latest error (a broker down...) into last_error of the
 * assigned partitions (partitions.c), at most once a second; what came in
 * between is in the server log.
 */
static void
record_kafka_error(void)
{
	char		text[400];

	if (!TimestampDifferenceExceeds(kafka_error_at, GetCurrentTimestamp(), KAFKA_ERROR_MS) ||
		!f1_consumer_take_error(f1_ingest_consumer, text, sizeof(text)))
		return;
	kafka_error_at = GetCurrentTimestamp();
	f1_parts_record_consumer_error(text);
}

/*
 * Write the batch if it is full or has waited long enough; otherwise say how
 * long it may still wait (*timeout).  True if a batch was written.
 */
static bool
write_if_due(long *timeout)
{
	long		waited;
	long		backoff;

	if (f1_collected_count() == 0)
		return false;
	/* a batch that failed for a reason of the environment waits its back-off */
	backoff = f1_collected_backoff_ms();
	if (backoff > 0)
	{
		*timeout = Min(*timeout, backoff);
		return false;
	}
	waited = (GetCurrentTimestamp() - first_collected_at) / 1000;
	if (!f1_collected_full() && waited < f1tel_batch_wait_ms)
	{
		*timeout = Min(*timeout, f1tel_batch_wait_ms - waited);
		return false;
	}
	if (!f1_collected_write())
		drop_consumer();
	return true;
}

/* While idle: is the extension still the same one, and store the watermarks. */
static void
housekeeping(void)
{
	Oid			extoid;

	if (f1_collected_count() > 0 ||
		!TimestampDifferenceExceeds(housekeeping_at, GetCurrentTimestamp(), HOUSEKEEPING_MS))
		return;
	housekeeping_at = GetCurrentTimestamp();
	/* dropped, created again or of another version: start over from its tables */
	if (f1tel_check_extension(worker_name, &extoid) != F1_EXT_READY ||
		extoid != consumer_extoid)
	{
		ereport(LOG,
				(errmsg("f1tel ingest: extension \"f1tel\" was dropped, created again or changed version; reconnecting")));
		drop_consumer();
		return;
	}
	f1_parts_refresh_watermarks();
	f1_consumer_commit_async(f1_ingest_consumer, NULL);	/* the last batch's offsets */
}

static void
wait_for_messages(long timeout)
{
	(void) WaitLatchOrSocket(MyLatch,
							 WL_LATCH_SET | WL_SOCKET_READABLE | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 f1_consumer_wait_fd(f1_ingest_consumer), timeout, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
}

static void
ingest_on_exit(int code, Datum arg)
{
	if (f1_ingest_consumer != NULL)
		drop_consumer();
}

void
f1tel_ingest_main(Datum main_arg)
{
	int			worker_no = DatumGetInt32(main_arg);
	MemoryContext loop_cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	f1tel_worker_connect();
	worker_name = MemoryContextStrdup(TopMemoryContext, psprintf("ingest %d", worker_no));
	pgstat_report_appname(psprintf("f1tel %s", worker_name));

#ifdef __GLIBC__
	/*
	 * Large buffers (librdkafka's fetch and decompression buffers, the
	 * decoder's rows) go straight to mmap and back to the system when freed:
	 * a fixed threshold, not glibc's dynamic one, which rises after the first
	 * large free and then keeps such buffers in the heap for good.
	 */
	(void) mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
#endif
	f1_parts_init();
	f1_collect_init();
	loop_cxt = AllocSetContextCreate(TopMemoryContext, "f1tel ingest loop",
									 ALLOCSET_DEFAULT_SIZES);
	on_proc_exit(ingest_on_exit, (Datum) 0);

	ereport(LOG, (errmsg("f1tel ingest worker %d started in database \"%s\"",
						 worker_no, f1tel_database)));

	for (;;)
	{
		long		timeout = 1000;
		bool		drained;

		MemoryContextSwitchTo(loop_cxt);
		MemoryContextReset(loop_cxt);
		/* a cancel (or a statement timeout) between batches has nothing to cancel */
		QueryCancelPending = false;
		CHECK_FOR_INTERRUPTS();
		f1tel_exit_if_database_locked();

		reload();
		if (!ensure_consumer())
			continue;
		drained = collect();
		report_standing_error();
		record_kafka_error();
		if (f1_consumer_broken(f1_ingest_consumer))
		{
			ereport(LOG, (errmsg("f1tel ingest: rebuilding the Kafka consumer after a failed assignment or a fatal error")));
			drop_consumer();
			continue;
		}
		if (write_if_due(&timeout))
			continue;			/* more may be waiting */
		if (!drained && f1_collected_backoff_ms() == 0)
			continue;			/* (a full batch waiting for its back-off waits below) */
		housekeeping();
		if (f1_ingest_consumer == NULL)
			continue;
		if (drained)
			f1_parts_wake_fetcher();
		wait_for_messages(timeout);
	}
}
