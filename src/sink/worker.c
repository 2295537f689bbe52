/*
 * src/sink/worker.c — the sink background worker: the change feed to BigQuery
 * and to the upsert topic.
 *
 * Started by the launcher when f1tel.bigquery_project or f1tel.enriched_topic
 * is set.  It reads f1tel's change feed (src/enrich/changes.sql) as two
 * subscribers, "bigquery" and "kafka", each in rounds (sink.h): read a round
 * of changes in one transaction, push them with no transaction open, then
 * in a second transaction acknowledge what the destination confirmed, store
 * what it refused for good in f1tel.sink_dead_letters, and update
 * f1tel.sink_status.  A crash or a failed request between the two leaves the
 * changes queued: they are sent again, and de-duplicated by the destination
 * (BigQuery's insertId, the topic's key), so no row is lost or stored twice.
 *
 * Each destination makes progress on its own (sink.h): it has its own
 * next-attempt time; a BigQuery round never sleeps (a back-off it asks for
 * becomes that time), and a topic round stays in flight across passes of
 * the loop while its delivery reports come in, so BigQuery answering 503
 * (or quotaExceeded) does not hold up the topic, nor a broker down BigQuery.
 *
 * With f1tel.sink_wait_for_standbys = N > 0 a round read is pushed only once
 * N streaming standbys have flushed the WAL past it (standbys.c): checked
 * in the transaction that read it, then every WAIT_CHECK_MS by the loop
 * (the other destination goes on meanwhile); a wait longer than
 * WAIT_REPORT_MS sets sink_status.state 'waiting', last_error saying for
 * what, and is logged once.
 *
 * Rules the user sees (README, "The sink"):
 *  - a request BigQuery refuses for good (HTTP 400/403 that is neither
 *    quota nor size, a dataset that cannot be created) pauses BigQuery:
 *    f1tel.sink_status.state 'paused', the answer in last_error, the changes
 *    stay queued; it tries again after a reload (SIGHUP) or PAUSE_MS;
 *  - a destination that is not set (its setting empty) has its subscriber
 *    dropped, with its queue, when the sink starts or reloads, and before it
 *    exits for having no destination left; set again, it subscribes anew,
 *    which queues the full current state.
 *
 * The loop follows worker_spi as the ingest worker does: SIGHUP reloads,
 * SIGTERM dies (also in the middle of a round of HTTP requests), the waits
 * use WL_EXIT_ON_PM_DEATH, a memory context is reset every pass, no lock is
 * held between transactions, DROP DATABASE makes it leave (also while
 * requests hang: http.c checks between polls).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "shared/backoff.h"
#include "shared/extension.h"
#include "shared/guc.h"
#include "shared/session.h"
#include "shared/spi.h"
#include "shared/worker.h"
#include "shared/xact.h"
#include "sink/auth.h"
#include "sink/http.h"
#include "sink/sink.h"

#define ROUND_SIZE 5000
#define PAUSE_MS	(10 * 60 * 1000)	/* a paused destination tries again */
#define IN_FLIGHT_WAIT_MS 20	/* how often a topic round in flight is served */
#define WAIT_CHECK_MS 20		/* how often a round waiting for standbys checks */
#define WAIT_REPORT_MS 1000		/* a wait that long shows in sink_status */

typedef struct Sink
{
	const char *name;			/* subscriber name */
	bool		is_topic;		/* the upsert topic (asynchronous rounds) */
	bool		subscribed;
	int			failures;		/* consecutive failed rounds */
	TimestampTz next_try;
	bool		paused;			/* refused for good: until a reload */
	char	   *last_logged;	/* the last error logged, to log changes only */
	/* the round in flight (the topic's, while its reports come in) */
	MemoryContext round_cxt;
	bool		in_flight;
	F1SinkChange *ch;
	int			n;
	F1SinkStats stats;
	char	   *error;
	Oid			round_ext;		/* the extension the round was read from */
	/* the round read, waiting for standbys (f1tel.sink_wait_for_standbys) */
	bool		waiting;
	XLogRecPtr	wait_lsn;		/* past its changes' commit records */
	TimestampTz wait_since;
	bool		wait_reported;	/* in sink_status and the log */
} Sink;

static Sink sinks[] = {
	{"bigquery", false},
	{"kafka", true},
};

static char activity[128];	/* of the round being pushed */
static SPIPlanPtr read_plan;
static SPIPlanPtr ack_plan;
static SPIPlanPtr dead_plan;
static SPIPlanPtr status_plan;

/* the extension as the last transaction found it; checked again while not ready */
static F1ExtState ext_state = F1_EXT_ABSENT;
static Oid	ext_oid = InvalidOid;	/* and its OID */

/* Start a transaction with SPI; false (and nothing open) if the extension is not usable. */
static bool
begin(const char *activity)
{
	f1_xact_begin(activity);
	ext_state = f1tel_lock_extension(&ext_oid, NULL);
	if (ext_state == F1_EXT_READY)
		return true;
	f1_xact_abort();
	return false;
}

static char *
getstr(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* Read a round for one subscriber (subscribing first if needed). */
static int
read_round(Sink *sink, F1SinkChange **out)
{
	Datum		values[2];
	int			n;
	F1SinkChange *ch;
	MemoryContext outer = CurrentMemoryContext;

	if (!begin("f1tel sink: reading changes"))
	{
		MemoryContextSwitchTo(outer);
		return -1;
	}
	if (!sink->subscribed)
	{
		Oid			types[1] = {TEXTOID};
		Datum		v[1] = {CStringGetTextDatum(sink->name)};

		if (SPI_execute_with_args("SELECT f1tel.subscribe($1)", 1, types, v, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "f1tel sink: subscribe failed");
		sink->subscribed = true;
	}
	if (read_plan == NULL)
	{
		Oid			types[2] = {TEXTOID, INT4OID};

		/* a deleted lap is its last image with "deleted": true */
		read_plan = f1_keep_plan("SELECT change_id, table_name, version,"
						 " CASE WHEN op = 'delete' THEN (row_data || '{\"deleted\": true}')::text ELSE row_data::text END,"
						 " f1tel.sink_insert_id(table_name, row_data, version),"
						 " f1tel.sink_message_key(table_name, row_data),"
						 " op = 'delete'"
						 " FROM f1tel.read_changes($1, $2)", 2, types);
	}
	values[0] = CStringGetTextDatum(sink->name);
	values[1] = Int32GetDatum(ROUND_SIZE);
	if (SPI_execute_plan(read_plan, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "f1tel sink: read_changes failed");
	sink->round_ext = ext_oid;
	n = (int) SPI_processed;
	ch = MemoryContextAllocZero(outer, Max(n, 1) * sizeof(F1SinkChange));
	for (int i = 0; i < n; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		MemoryContext old = MemoryContextSwitchTo(outer);

		ch[i].change_id = DatumGetInt64(SPI_getbinval(t, d, 1, &isnull));
		ch[i].table = getstr(t, d, 2);
		ch[i].version = DatumGetInt64(SPI_getbinval(t, d, 3, &isnull));
		ch[i].row = getstr(t, d, 4);
		ch[i].rowlen = strlen(ch[i].row);
		ch[i].insert_id = getstr(t, d, 5);
		ch[i].key = getstr(t, d, 6);
		ch[i].deleted = DatumGetBool(SPI_getbinval(t, d, 7, &isnull));
		ch[i].state = F1_CHANGE_PENDING;
		MemoryContextSwitchTo(old);
	}
	/* what this round waits for (after the copy: a query replaces SPI_tuptable) */
	sink->waiting = false;
	if (n > 0 && f1tel_sink_wait_for_standbys > 0)
	{
		sink->wait_lsn = f1_standbys_target();
		sink->waiting = f1_standbys_flushed(sink->wait_lsn) < f1tel_sink_wait_for_standbys;
		sink->wait_since = GetCurrentTimestamp();
		sink->wait_reported = false;
	}
	f1_xact_commit();
	MemoryContextSwitchTo(outer);	/* the commit left us in TopMemoryContext */
	*out = ch;
	return n;
}

/* Acknowledge the round's settled changes, store refusals, update the status. */
static void
settle_round(Sink *sink, F1SinkChange *ch, int n, F1SinkStats *stats, const char *error,
			 const char *state)
{
	Datum	   *ids = palloc(Max(n, 1) * sizeof(Datum));
	Datum	   *dtables = palloc(Max(n, 1) * sizeof(Datum));
	Datum	   *dids = palloc(Max(n, 1) * sizeof(Datum));
	Datum	   *dversions = palloc(Max(n, 1) * sizeof(Datum));
	Datum	   *drows = palloc(Max(n, 1) * sizeof(Datum));
	Datum	   *dreasons = palloc(Max(n, 1) * sizeof(Datum));
	int			nack = 0;
	int			ndead = 0;
	MemoryContext outer = CurrentMemoryContext;
	Datum		values[8];
	bool		nulls[8] = {false};

	for (int i = 0; i < n; i++)
	{
		if (ch[i].state == F1_CHANGE_PENDING)
			continue;
		ids[nack++] = Int64GetDatum(ch[i].change_id);
		if (ch[i].state == F1_CHANGE_DEAD)
		{
			dtables[ndead] = CStringGetTextDatum(ch[i].table);
			dids[ndead] = Int64GetDatum(ch[i].change_id);
			dversions[ndead] = Int64GetDatum(ch[i].version);
			drows[ndead] = CStringGetTextDatum(ch[i].row);
			dreasons[ndead] = CStringGetTextDatum(ch[i].reason ? ch[i].reason : "refused");
			ndead++;
		}
	}
	if (!begin("f1tel sink: acknowledging changes"))
	{
		MemoryContextSwitchTo(outer);
		return;					/* the changes stay queued */
	}
	if (ext_oid != sink->round_ext)
	{
		/* dropped and created again meanwhile: these change ids are not the new ones */
		f1_xact_abort();
		MemoryContextSwitchTo(outer);
		ereport(LOG,
				(errmsg("f1tel sink: the extension was created again during a round to %s; that round is not acknowledged",
						sink->name)));
		return;
	}
	if (ack_plan == NULL)
	{
		Oid			t1[2] = {TEXTOID, INT8ARRAYOID};
		Oid			t2[6] = {TEXTOID, TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
		Oid			t3[8] = {TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, BOOLOID, TEXTOID, TEXTOID};

		ack_plan = f1_keep_plan("SELECT f1tel.ack_changes($1, $2)", 2, t1);
		dead_plan = f1_keep_plan("INSERT INTO f1tel.sink_dead_letters (sink, table_name, change_id, version, row_data, reason)"
						 " SELECT $1, t, c, v, r::jsonb, reason FROM unnest($2, $3, $4, $5, $6) AS u(t, c, v, r, reason)",
						 6, t2);
		status_plan = f1_keep_plan("INSERT INTO f1tel.sink_status AS s (sink, rows_pushed, requests, retries, dead_letters,"
						   "  last_push_at, last_error, last_error_at, state)"
						   " VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN pg_catalog.now() END, $7, CASE WHEN $7 IS NOT NULL THEN pg_catalog.now() END, $8)"
						   " ON CONFLICT (sink) DO UPDATE SET"
						   "  state = EXCLUDED.state,"
						   "  rows_pushed = s.rows_pushed + EXCLUDED.rows_pushed,"
						   "  requests = s.requests + EXCLUDED.requests,"
						   "  retries = s.retries + EXCLUDED.retries,"
						   "  dead_letters = s.dead_letters + EXCLUDED.dead_letters,"
						   "  last_push_at = coalesce(EXCLUDED.last_push_at, s.last_push_at),"
						   "  last_error = CASE WHEN EXCLUDED.last_error IS NOT NULL THEN EXCLUDED.last_error"
						   "                    WHEN EXCLUDED.last_push_at IS NOT NULL THEN NULL ELSE s.last_error END,"
						   "  last_error_at = coalesce(EXCLUDED.last_error_at, s.last_error_at)",
						   8, t3);
	}
	if (ndead > 0)
	{
		values[0] = CStringGetTextDatum(sink->name);
		values[1] = f1_array(dtables, NULL, ndead, TEXTOID);
		values[2] = f1_array(dids, NULL, ndead, INT8OID);
		values[3] = f1_array(dversions, NULL, ndead, INT8OID);
		values[4] = f1_array(drows, NULL, ndead, TEXTOID);
		values[5] = f1_array(dreasons, NULL, ndead, TEXTOID);
		if (SPI_execute_plan(dead_plan, values, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "f1tel sink: storing dead letters failed");
	}
	if (nack > 0)
	{
		values[0] = CStringGetTextDatum(sink->name);
		values[1] = f1_array(ids, NULL, nack, INT8OID);
		if (SPI_execute_plan(ack_plan, values, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "f1tel sink: ack_changes failed");
	}
	values[0] = CStringGetTextDatum(sink->name);
	values[1] = Int64GetDatum(stats->rows);
	values[2] = Int64GetDatum(stats->requests);
	values[3] = Int64GetDatum(stats->retries);
	values[4] = Int64GetDatum(ndead);
	values[5] = BoolGetDatum(nack > 0);
	values[6] = error ? CStringGetTextDatum(error) : (Datum) 0;
	nulls[6] = error == NULL;
	values[7] = CStringGetTextDatum(state);
	{
		char		n_[8];

		for (int i = 0; i < 8; i++)
			n_[i] = nulls[i] ? 'n' : ' ';
		if (SPI_execute_plan(status_plan, values, n_, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "f1tel sink: updating sink_status failed");
	}
	f1_xact_commit();
	MemoryContextSwitchTo(outer);
}

/*
 * The end of a round: acknowledge and store what it settled, and schedule
 * the next attempt (at once after success; after a back-off, or what the
 * destination asked for, after a failure; after PAUSE_MS when refused for
 * good).  True if it settled anything.
 */
static bool
end_round(Sink *sink)
{
	F1SinkStats *stats = &sink->stats;
	char	   *error = sink->error;
	bool		ok = error == NULL && !stats->refused;
	int			settled = 0;
	const char *state;

	if (stats->refused && error == NULL)
		error = "refused for good";
	for (int i = 0; i < sink->n; i++)
		settled += sink->ch[i].state != F1_CHANGE_PENDING;
	sink->paused = stats->refused;
	state = ok ? "active" : sink->paused ? "paused" : "retrying";
	settle_round(sink, sink->ch, sink->n, stats, error, state);

	if (ok)
	{
		sink->failures = 0;
		sink->next_try = 0;
		if (sink->last_logged)
		{
			ereport(LOG, (errmsg("f1tel sink: %s is pushing again", sink->name)));
			pfree(sink->last_logged);
			sink->last_logged = NULL;
		}
	}
	else
	{
		int64		pause_ms = f1_backoff_ms(sink->failures, 1000, 30000, NULL);

		if (sink->paused)
			pause_ms = PAUSE_MS;
		pause_ms = Max(pause_ms, stats->wait_ms);
		sink->failures++;
		sink->next_try = GetCurrentTimestamp() + pause_ms * 1000;
		if (sink->last_logged == NULL || strcmp(sink->last_logged, error) != 0)
		{
			if (sink->paused)
				ereport(WARNING,
						(errcode(ERRCODE_CONNECTION_FAILURE),
						 errmsg("f1tel sink: %s refused a request for good; pausing it: %s", sink->name, error),
						 errdetail("%d of %d changes of this round are still queued.", sink->n - settled, sink->n),
						 errhint("Fix the cause, then reload the configuration (SELECT pg_reload_conf()); otherwise the sink tries again in %d minutes.",
								 PAUSE_MS / 60000)));
			else
				ereport(WARNING,
						(errcode(ERRCODE_CONNECTION_FAILURE),
						 errmsg("f1tel sink: pushing to %s failed: %s", sink->name, error),
						 errdetail("%d of %d changes of this round are still queued and will be sent again in %ld ms.",
								   sink->n - settled, sink->n, (long) pause_ms)));
			if (sink->last_logged)
				pfree(sink->last_logged);
			sink->last_logged = MemoryContextStrdup(TopMemoryContext, error);
		}
	}
	sink->in_flight = false;
	sink->ch = NULL;
	sink->n = 0;
	sink->error = NULL;
	MemoryContextReset(sink->round_cxt);
	return settled > 0;
}

/* Forget a round read and not pushed: its changes stay queued. */
static void
drop_round(Sink *sink)
{
	sink->waiting = false;
	sink->ch = NULL;
	sink->n = 0;
	MemoryContextReset(sink->round_cxt);
}

/*
 * A round waiting for standbys: have enough of them flushed it now?  If
 * not, the next check is scheduled, and a wait of WAIT_REPORT_MS is shown
 * in sink_status and the log (once).  A round of an extension created
 * again meanwhile is dropped (its change ids are not the new ones).
 */
static bool
standbys_have_round(Sink *sink)
{
	int			need = f1tel_sink_wait_for_standbys;
	int			have = 0;
	MemoryContext outer = CurrentMemoryContext;
	TimestampTz now;

	if (need > 0)
	{
		if (!begin("f1tel sink: waiting for standbys to flush a round"))
		{
			MemoryContextSwitchTo(outer);
			return false;		/* paused() waits for the extension */
		}
		if (ext_oid != sink->round_ext)
		{
			f1_xact_abort();
			MemoryContextSwitchTo(outer);
			drop_round(sink);
			return false;
		}
		have = f1_standbys_flushed(sink->wait_lsn);
		f1_xact_commit();
		MemoryContextSwitchTo(outer);
	}
	if (have >= need)
	{
		sink->waiting = false;
		return true;
	}
	now = GetCurrentTimestamp();
	sink->next_try = now + WAIT_CHECK_MS * 1000L;
	if (!sink->wait_reported && TimestampDifferenceExceeds(sink->wait_since, now, WAIT_REPORT_MS))
	{
		F1SinkStats none = {0};
		char	   *msg = psprintf("waiting for %d streaming standby%s to flush WAL to %X/%X (f1tel.sink_wait_for_standbys); %d did",
								   need, need == 1 ? "" : "s", LSN_FORMAT_ARGS(sink->wait_lsn), have);

		settle_round(sink, NULL, 0, &none, msg, "waiting");
		ereport(LOG,
				(errmsg("f1tel sink: %s is %s", sink->name, msg),
				 errdetail("%d changes are read and not pushed until then.", sink->n),
				 errhint("Start the standby, or lower f1tel.sink_wait_for_standbys and reload.")));
		if (sink->last_logged)
			pfree(sink->last_logged);
		sink->last_logged = MemoryContextStrdup(TopMemoryContext, msg);
		sink->wait_reported = true;
	}
	return false;
}

/*
 * One step of one destination: serve its round in flight, push its round
 * once the standbys have it, or read a round if it is due.  True if it
 * settled anything (more may be waiting).
 */
static bool
step(Sink *sink)
{
	MemoryContext old;
	bool		ok;

	if (sink->in_flight)
	{
		old = MemoryContextSwitchTo(sink->round_cxt);
		ok = f1_topic_poll(sink->ch, sink->n, &sink->stats, &sink->error);
		MemoryContextSwitchTo(old);
		return ok ? end_round(sink) : false;
	}
	if (GetCurrentTimestamp() < sink->next_try)
		return false;
	if (sink->waiting)
	{
		if (!standbys_have_round(sink))
			return false;
	}
	else
	{
		old = MemoryContextSwitchTo(sink->round_cxt);
		memset(&sink->stats, 0, sizeof(sink->stats));
		sink->error = NULL;
		sink->n = read_round(sink, &sink->ch);
		MemoryContextSwitchTo(old);
		if (sink->n <= 0)
		{
			drop_round(sink);
			return false;
		}
		if (sink->waiting)
		{
			sink->next_try = GetCurrentTimestamp() + WAIT_CHECK_MS * 1000L;
			return false;
		}
	}
	old = MemoryContextSwitchTo(sink->round_cxt);
	snprintf(activity, sizeof(activity), "f1tel sink: pushing %d changes to %s", sink->n, sink->name);
	pgstat_report_activity(STATE_RUNNING, activity);
	if (sink->is_topic)
	{
		sink->in_flight = f1_topic_start(sink->ch, sink->n, &sink->stats, &sink->error);
		MemoryContextSwitchTo(old);
		return sink->in_flight ? false : end_round(sink);
	}
	if (f1_bq_push(sink->ch, sink->n, &sink->stats, &sink->error))
		sink->error = NULL;
	else if (sink->error == NULL)
		sink->error = pstrdup("BigQuery: failed");
	MemoryContextSwitchTo(old);
	return end_round(sink);
}

static void
sink_on_exit(int code, Datum arg)
{
	f1_topic_close();			/* no flush: the unreported changes stay queued */
	f1_http_cleanup();
	f1_auth_reset();
}

static bool
sink_enabled(Sink *sink)
{
	return sink->is_topic ? f1tel_enriched_topic[0] != '\0' : f1tel_bigquery_project[0] != '\0';
}

static char *
bigquery_fingerprint(void)
{
	return psprintf("%s|%s|%s|%s", f1tel_bigquery_project, f1tel_bigquery_dataset,
					f1tel_bigquery_endpoint, f1tel_bigquery_credentials);
}

/*
 * Drop the subscriber of each destination that is not set, with its queue
 * (the documented rule: nobody would read it, and it would grow forever).
 * Not while its round is in flight: that round ends first (true: call
 * again).
 */
static bool
drop_disabled(void)
{
	bool		again = false;

	for (int i = 0; i < (int) lengthof(sinks); i++)
	{
		Sink	   *sink = &sinks[i];
		Oid			types[1] = {TEXTOID};
		Datum		v[1];
		bool		dropped;
		bool		isnull;

		if (sink_enabled(sink))
			continue;
		if (sink->waiting)
			drop_round(sink);
		if (sink->in_flight)
		{
			again = true;
			continue;
		}
		if (!begin("f1tel sink: dropping the subscriber of a destination not set"))
			return true;
		v[0] = CStringGetTextDatum(sink->name);
		if (SPI_execute_with_args("SELECT f1tel.unsubscribe($1)", 1, types, v, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "f1tel sink: unsubscribe failed");
		dropped = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		f1_xact_commit();
		sink->subscribed = false;
		if (dropped)
			ereport(LOG,
					(errmsg("f1tel sink: %s is not set; dropped its subscriber \"%s\" and its queue",
							sink->is_topic ? "f1tel.enriched_topic" : "f1tel.bigquery_project", sink->name),
					 errdetail("Set it again to push the full current state.")));
	}
	return again;
}

/*
 * SIGHUP: new settings; a new BigQuery destination starts from a fresh token
 * and tables; a paused destination tries again; a destination no longer set
 * loses its subscriber.
 */
static void
reload(char **bq_fingerprint, bool *check_disabled)
{
	char	   *fp;

	if (!ConfigReloadPending)
		return;
	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);
	fp = bigquery_fingerprint();
	if (strcmp(fp, *bq_fingerprint) != 0)
	{
		f1_auth_reset();
		f1_bq_forget_tables();
		pfree(*bq_fingerprint);
		*bq_fingerprint = MemoryContextStrdup(TopMemoryContext, fp);
	}
	for (int i = 0; i < (int) lengthof(sinks); i++)
		if (sinks[i].paused)
		{
			ereport(LOG, (errmsg("f1tel sink: configuration reloaded; %s, paused, tries again", sinks[i].name)));
			sinks[i].paused = false;
			sinks[i].next_try = 0;
			sinks[i].failures = 0;
			f1_bq_forget_tables();
		}
	*check_disabled = true;
}

/*
 * Paused while the extension is absent, being dropped or not this library's
 * version (a WARNING once: f1tel_check_extension); checked again only while
 * the last transaction did not find it ready.  A round in flight waits (its
 * settlement finds no extension: its changes went with it).
 */
static bool
paused(void)
{
	if (ext_state != F1_EXT_READY)
		ext_state = f1tel_check_extension("sink", NULL);
	if (ext_state == F1_EXT_READY)
		return false;
	/* a dropped extension took the subscribers with it: subscribe again */
	for (int i = 0; i < (int) lengthof(sinks); i++)
		sinks[i].subscribed = false;
	return true;
}

/* A step of each destination that is set (or has a round in flight). */
static bool
push_rounds(void)
{
	bool		worked = false;

	for (int i = 0; i < (int) lengthof(sinks); i++)
		if (sink_enabled(&sinks[i]) || sinks[i].in_flight)
			worked |= step(&sinks[i]);
		else if (sinks[i].waiting)
			drop_round(&sinks[i]);	/* no longer set */
	return worked;
}

/*
 * While BigQuery's requests are in flight (a server that hangs until
 * f1tel.bigquery_timeout_ms, say), http.c calls this between its polls:
 * the topic goes on meanwhile.
 */
static void
serve_topic(void)
{
	MemoryContext old = CurrentMemoryContext;
	Sink	   *topic = &sinks[1];

	if ((sink_enabled(topic) || topic->in_flight) && ext_state == F1_EXT_READY)
	{
		char		bq_activity[sizeof(activity)];

		strlcpy(bq_activity, activity, sizeof(bq_activity));
		(void) step(topic);
		/* pg_stat_activity shows BigQuery's round again */
		strlcpy(activity, bq_activity, sizeof(activity));
		pgstat_report_activity(STATE_RUNNING, activity);
	}
	MemoryContextSwitchTo(old);
}

/* How long to wait when no step settled anything. */
static long
idle_wait_ms(void)
{
	long		ms = f1tel_sink_flush_interval_ms;
	TimestampTz now = GetCurrentTimestamp();

	for (int i = 0; i < (int) lengthof(sinks); i++)
	{
		Sink	   *sink = &sinks[i];

		if (sink->in_flight)
			ms = Min(ms, IN_FLIGHT_WAIT_MS);
		else if (sink_enabled(sink) && sink->next_try > now)
			ms = Min(ms, Max(1, (long) ((sink->next_try - now) / 1000)));
	}
	return ms;
}

/*
 * The loop, as its phases: reload, pause while the extension is not ready,
 * a step of each destination, and wait on the latch when none settled
 * anything.
 */
void
f1tel_sink_main(Datum main_arg)
{
	MemoryContext loop_cxt;
	char	   *bq_fingerprint;
	bool		check_disabled = true;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	f1tel_worker_connect();
	pgstat_report_appname("f1tel sink");
	f1_http_init();
	f1_http_set_idle(serve_topic);
	on_proc_exit(sink_on_exit, (Datum) 0);
	loop_cxt = AllocSetContextCreate(TopMemoryContext, "f1tel sink loop", ALLOCSET_DEFAULT_SIZES);
	for (int i = 0; i < (int) lengthof(sinks); i++)
		sinks[i].round_cxt = AllocSetContextCreate(TopMemoryContext, "f1tel sink round",
												   ALLOCSET_DEFAULT_SIZES);
	bq_fingerprint = MemoryContextStrdup(TopMemoryContext, bigquery_fingerprint());
	ereport(LOG, (errmsg("f1tel sink started in database \"%s\"", f1tel_database)));

	for (;;)
	{
		MemoryContextSwitchTo(loop_cxt);
		MemoryContextReset(loop_cxt);
		CHECK_FOR_INTERRUPTS();
		f1tel_exit_if_database_locked();

		reload(&bq_fingerprint, &check_disabled);
		if (paused())
		{
			f1_wait_ms(2000);
			continue;
		}
		if (check_disabled)
		{
			check_disabled = drop_disabled();
			MemoryContextSwitchTo(loop_cxt);
		}
		if (!f1tel_sink_enabled() && !sinks[0].in_flight && !sinks[1].in_flight)
		{
			ereport(LOG, (errmsg("f1tel sink: nothing to push to (f1tel.bigquery_project and f1tel.enriched_topic are empty); exiting")));
			proc_exit(0);
		}
		if (push_rounds())
			continue;			/* more may be waiting */
		f1_wait_ms(idle_wait_ms());
	}
}
