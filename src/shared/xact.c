/*
 * src/shared/xact.c — transactions and waits of the workers (xact.h).
 *
 * The sequence is worker_spi's: SetCurrentStatementStartTimestamp,
 * StartTransactionCommand, SPI_connect, PushActiveSnapshot, and in reverse
 * at the end; pgstat_report_stat after a commit, so the worker's table
 * statistics reach the cumulative statistics system.
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "shared/xact.h"

void
f1_xact_begin(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

void
f1_xact_commit(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

void
f1_xact_abort(void)
{
	SPI_finish();
	PopActiveSnapshot();
	AbortCurrentTransaction();
	pgstat_report_activity(STATE_IDLE, NULL);
}

bool
f1_xact_run(void (*fn) (void *arg), void *arg, const char *activity)
{
	MemoryContext old = CurrentMemoryContext;
	volatile bool ok = true;

	PG_TRY();
	{
		f1_xact_begin(activity);
		fn(arg);
		f1_xact_commit();
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

void
f1_wait_ms(long ms)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
}
