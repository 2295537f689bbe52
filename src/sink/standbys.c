/*
 * src/sink/standbys.c — f1tel.sink_wait_for_standbys: how many streaming
 * standbys have flushed the WAL of a round of changes, so that the sink
 * pushes a change only once enough standbys have it (README, "Standbys and
 * failover": a change a standby lacks may be made again, with other
 * content, after it is promoted).
 *
 * Rules a reader must know:
 *  - f1_standbys_target() is taken after the round's changes were read (in
 *    that transaction or later): every change read was committed before, so
 *    its commit record was inserted before, and the WAL insert position is
 *    an upper bound of the end of every one of them;
 *  - f1_standbys_flushed() runs in a transaction with SPI connected; it
 *    reads the walsenders' shared state (pg_stat_replication is not a stats
 *    snapshot: each call sees the present) and counts only physical
 *    standbys (a walsender with no database): a logical subscriber's flush
 *    position says nothing about a standby that could be promoted.
 */
#include "postgres.h"

#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/pg_lsn.h"

#include "shared/spi.h"
#include "sink/sink.h"

static SPIPlanPtr flushed_plan;

XLogRecPtr
f1_standbys_target(void)
{
	XLogRecPtr	lsn = GetXLogInsertRecPtr();

	/*
	 * At the first byte after a page header, the last record ended at the
	 * page boundary (the next page's header is not written yet): that
	 * boundary is what a standby that has it reports as flushed.
	 */
	if (XLogSegmentOffset(lsn, wal_segment_size) == SizeOfXLogLongPHD)
		lsn -= SizeOfXLogLongPHD;
	else if (lsn % XLOG_BLCKSZ == SizeOfXLogShortPHD)
		lsn -= SizeOfXLogShortPHD;
	return lsn;
}

int
f1_standbys_flushed(XLogRecPtr lsn)
{
	Datum		values[1];
	bool		isnull;
	int64		n;

	if (flushed_plan == NULL)
	{
		Oid			types[1] = {PG_LSNOID};

		flushed_plan = f1_keep_plan("SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_replication r"
									" WHERE r.state = 'streaming' AND r.flush_lsn >= $1"
									" AND r.pid IN (SELECT a.pid FROM pg_catalog.pg_stat_activity a"
									"  WHERE a.backend_type = 'walsender' AND a.datid IS NULL)",
									1, types);
	}
	values[0] = LSNGetDatum(lsn);
	if (SPI_execute_plan(flushed_plan, values, NULL, true, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "f1tel sink: reading pg_stat_replication failed");
	n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	return (int) Min(n, PG_INT32_MAX);
}
