/*
 * src/shared/launcher.c — the f1tel launcher: starts and watches the workers.
 *
 * The one static background worker f1tel registers.  It connects to no
 * database, so it never blocks DROP DATABASE, and once a second it checks
 * that f1tel.database exists and that every worker it should run is running:
 * f1tel.ingest_workers ingest workers, and the sink worker while
 * f1tel.bigquery_project or f1tel.enriched_topic is set.  A worker that stopped (an error, a
 * SIGTERM from f1tel.restart_workers(), DROP DATABASE) is started again after
 * a short pause; none is started while the database does not exist.
 * f1tel.ingest_workers is read again at each reload: ingest workers with a
 * higher number than it are stopped (SIGTERM: the worker leaves the
 * consumer group on its way out, src/ingest/consumer.c), missing ones
 * started; the others go on.
 *
 * Standbys: the launcher and its workers are registered with
 * BgWorkerStart_RecoveryFinished, so while the server is in recovery (a
 * streaming standby, crash recovery) the postmaster starts none of them: a
 * standby runs no f1tel process and logs nothing about f1tel.  On promotion
 * the postmaster starts the launcher, which starts the workers; they resume
 * from the replicated f1tel.kafka_offsets (test/t/081_failover.pl fails if
 * anything of f1tel runs in recovery).  Do not register them earlier: a
 * worker in recovery could only fail its writes, over and over.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "catalog/pg_database.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "shared/guc.h"
#include "shared/worker.h"

#define MAX_WORKERS 33
#define RESTART_PAUSE_MS 2000

typedef struct Slot
{
	const char *function;
	const char *type;
	int			number;
	bool		(*enabled) (void);	/* NULL: always */
	bool		ingest;			/* wanted while number <= f1tel.ingest_workers */
	BackgroundWorkerHandle *handle;
	bool		stopping;		/* SIGTERM sent: no longer wanted */
	TimestampTz next_start;
} Slot;

static Slot slots[MAX_WORKERS];

void
f1tel_register_launcher(void)
{
	BackgroundWorker w;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = 5;
	strlcpy(w.bgw_library_name, "f1tel", BGW_MAXLEN);
	strlcpy(w.bgw_function_name, "f1tel_launcher_main", BGW_MAXLEN);
	strlcpy(w.bgw_name, "f1tel launcher", BGW_MAXLEN);
	strlcpy(w.bgw_type, "f1tel launcher", BGW_MAXLEN);
	RegisterBackgroundWorker(&w);
}

void
f1tel_exit_if_database_locked(void)
{
	LOCKTAG		tag;

	SET_LOCKTAG_OBJECT(tag, InvalidOid, DatabaseRelationId, MyDatabaseId, 0);
	if (LockAcquire(&tag, AccessShareLock, true, true) == LOCKACQUIRE_NOT_AVAIL)
	{
		ereport(LOG,
				(errmsg("f1tel: database \"%s\" is being dropped or renamed; %s exits",
						f1tel_database, MyBgworkerEntry->bgw_name)));
		proc_exit(0);
	}
	LockRelease(&tag, AccessShareLock, true);
}

/*
 * Whether f1tel.database exists.  Without a database, only a plain heap scan
 * of the shared catalog pg_database is possible (as the autovacuum launcher
 * does): an index scan would need pg_class.
 */
static bool
database_exists(void)
{
	bool		exists = false;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (!exists && HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		exists = strcmp(NameStr(db->datname), f1tel_database) == 0;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return exists;
}

static void
start_worker(Slot *slot)
{
	BackgroundWorker w;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;	/* the launcher restarts it */
	strlcpy(w.bgw_library_name, "f1tel", BGW_MAXLEN);
	strlcpy(w.bgw_function_name, slot->function, BGW_MAXLEN);
	snprintf(w.bgw_name, BGW_MAXLEN, "%s %d", slot->type, slot->number);
	strlcpy(w.bgw_type, slot->type, BGW_MAXLEN);
	w.bgw_main_arg = Int32GetDatum(slot->number);
	w.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&w, &slot->handle))
	{
		slot->handle = NULL;
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("f1tel launcher: could not start %s", w.bgw_name),
				 errhint("Raise max_worker_processes (f1tel needs f1tel.ingest_workers + 1 of them, plus the sink).")));
		slot->next_start = GetCurrentTimestamp() + 10 * USECS_PER_SEC;
	}
}

void
f1tel_launcher_main(Datum main_arg)
{
	int			nslots = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("f1tel launcher");

	/* every possible ingest worker has a slot; f1tel.ingest_workers says which run */
	for (int i = 0; i < MAX_WORKERS - 1; i++)
		slots[nslots++] = (Slot)
	{
		"f1tel_ingest_main", "f1tel ingest", i + 1, NULL, true, NULL, false, 0
	};
	slots[nslots++] = (Slot)
	{
		"f1tel_sink_main", "f1tel sink", 1, f1tel_sink_enabled, false, NULL, false, 0
	};

	ereport(LOG, (errmsg("f1tel launcher started for database \"%s\": %d ingest worker(s)",
						 f1tel_database, f1tel_ingest_workers)));

	for (;;)
	{
		bool		exists;
		TimestampTz now;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			int			before = f1tel_ingest_workers;

			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			if (f1tel_ingest_workers != before)
				ereport(LOG, (errmsg("f1tel launcher: f1tel.ingest_workers changed from %d to %d",
									 before, f1tel_ingest_workers)));
		}
		exists = database_exists();
		now = GetCurrentTimestamp();
		for (int i = 0; i < nslots; i++)
		{
			Slot	   *slot = &slots[i];
			pid_t		pid;
			bool		wanted = slot->ingest ? slot->number <= f1tel_ingest_workers :
			(slot->enabled == NULL || slot->enabled());

			if (slot->handle != NULL &&
				GetBackgroundWorkerPid(slot->handle, &pid) == BGWH_STOPPED)
			{
				pfree(slot->handle);
				slot->handle = NULL;
				slot->stopping = false;
				slot->next_start = now + RESTART_PAUSE_MS * INT64CONST(1000);
			}
			if (slot->handle != NULL && slot->ingest && !wanted && !slot->stopping)
			{
				ereport(LOG, (errmsg("f1tel launcher: stopping f1tel ingest %d (f1tel.ingest_workers = %d)",
									 slot->number, f1tel_ingest_workers)));
				TerminateBackgroundWorker(slot->handle);
				slot->stopping = true;
			}
			if (slot->handle == NULL && exists && now >= slot->next_start && wanted)
				start_worker(slot);
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
