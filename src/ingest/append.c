/*
 * src/ingest/append.c — the append path: a batch's new telemetry rows go in
 * through COPY's own machinery, fed from memory.
 *
 * car_data, location and position are ~99% of the messages and almost all
 * of them are new: a driver's samples arrive in time order, each later than
 * any stored.  For those rows the upsert statement of store.c (unnest, a
 * sort for DISTINCT ON, a speculative insertion that descends the primary
 * key twice per row) does far more than needed.  Here they go through
 * CopyFrom() instead -- the same code as COPY ... FROM STDIN (BINARY): heap
 * multi-insert in buffers of 1000, one index descent per row, the table's
 * constraints, and the statement triggers with their transition tables
 * (the enrichment's car_data_sync and asof_sync see exactly the rows they
 * would have seen from the INSERT).
 *
 * Rules a reader must know:
 *  - Eligible endpoints (time_key_column): natural key exactly
 *    (session_key, driver_number, <a timestamptz>), the primary key in that
 *    order, and no text or array column of the data (the only text is the
 *    topic, ASCII by Kafka's rules, so the client encoding that binary COPY
 *    applies to text changes nothing).
 *  - A (session, driver) group of the batch is appended only if its rows
 *    are strictly increasing in time in arrival order (so no key twice in
 *    the batch) and its first row is later than the latest stored row of
 *    that driver, read by one backward probe of the primary key per group.
 *    Every other group, and every row when the path cannot be used (no
 *    INSERT privilege on the whole table, row-level security), goes through
 *    the upsert statement as before.  Either way a row ends exactly as the
 *    upsert alone would leave it: a replay of stored rows takes the upsert
 *    path and writes nothing.
 *  - The probe reads committed rows; a row that a concurrent transaction
 *    inserts after it (only a second writer of the same driver could, and
 *    the ingest's driver locks keep f1tel's own writers apart for car_data
 *    and position) makes the COPY fail with a unique violation.  The COPY
 *    runs in a subtransaction: on 23505 it is rolled back and the rows take
 *    the upsert path; any other error is raised as it is, to be classified
 *    by the worker as before.
 *  - The COPY stream is built in the caller's memory context (store.c's
 *    write context, reset after every write); the data source callback has
 *    no argument, so the stream being read is a file-level pointer, set
 *    and cleared around CopyFrom() (the worker is single-threaded).
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/copy.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/value.h"
#include "parser/parse_relation.h"
#include "port/pg_bswap.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "ingest/store.h"
#include "shared/spi.h"

/* One (session_key, driver_number) of a batch. */
typedef struct AppendGroup
{
	int32		session_key;
	int32		driver_number;
	bool		used;
	int			nrows;			/* of the batch, so far */
	bool		increasing;		/* strictly, in arrival order */
	bool		append;			/* decided: all its rows are new */
	int64		first;			/* its first row's time */
	int64		last;			/* its latest row's time so far */
} AppendGroup;

static SPIPlanPtr probe_plans[F1E_COUNT];

/* the COPY stream CopyFrom() is reading, for read_stream() */
static const char *stream_data;
static size_t stream_len;
static size_t stream_pos;

/* the column index of the natural key's time, or -1 if not eligible */
static int
time_key_column(const F1Endpoint *ep)
{
	int			nkeys = 0;
	int			ts = -1;

	for (int c = 0; c < ep->ncolumns; c++)
	{
		const F1Column *col = &ep->columns[c];

		if (col->type == F1T_TEXT || col->type == F1T_INT4ARRAY || col->type == F1T_GAP_Q)
			return -1;
		if (!col->key)
			continue;
		if ((nkeys == 0 && strcmp(col->name, "session_key") != 0) ||
			(nkeys == 1 && strcmp(col->name, "driver_number") != 0) ||
			(nkeys == 2 && col->type != F1T_TIMESTAMPTZ) || nkeys > 2)
			return -1;
		if (nkeys == 2)
			ts = c;
		nkeys++;
	}
	return nkeys == 3 ? ts : -1;
}

/* ---- grouping ---------------------------------------------------------- */

static uint32
group_hash(int32 s, int32 d)
{
	uint64		k = ((uint64) (uint32) s << 32) | (uint32) d;

	k ^= k >> 33;
	k *= UINT64CONST(0xff51afd7ed558ccd);
	k ^= k >> 33;
	return (uint32) k;
}

/* the group of (s, d) in an open-addressing table of size mask + 1 */
static AppendGroup *
group_of(AppendGroup *table, uint32 mask, int32 s, int32 d)
{
	uint32		i = group_hash(s, d) & mask;

	for (;;)
	{
		AppendGroup *g = &table[i];

		if (!g->used)
		{
			g->used = true;
			g->session_key = s;
			g->driver_number = d;
			g->increasing = true;
			return g;
		}
		if (g->session_key == s && g->driver_number == d)
			return g;
		i = (i + 1) & mask;
	}
}

/*
 * Decide, group by group, which rows are new: one probe of the primary key
 * per group for the latest stored time of its driver.
 */
static void
decide_groups(const F1Endpoint *ep, int ts, AppendGroup *table, uint32 mask, int ngroups)
{
	int32	   *sessions = palloc(ngroups * sizeof(int32));
	int32	   *drivers = palloc(ngroups * sizeof(int32));
	AppendGroup **order = palloc(ngroups * sizeof(AppendGroup *));
	Datum		values[2];
	int			n = 0;
	int			rc;

	for (uint32 i = 0; i <= mask; i++)
	{
		AppendGroup *g = &table[i];

		/* a group whose rows are not in order takes the upsert path: no probe */
		if (!g->used || !g->increasing)
			continue;
		sessions[n] = g->session_key;
		drivers[n] = g->driver_number;
		order[n++] = g;
	}
	if (n == 0)
		return;
	if (probe_plans[ep->id] == NULL)
	{
		StringInfoData sql;
		Oid			types[2] = {INT4ARRAYOID, INT4ARRAYOID};
		const char *t = quote_identifier(ep->columns[ts].name);

		/* identifiers from the endpoint table, never from data */
		initStringInfo(&sql);
		appendStringInfo(&sql,
						 "SELECT (SELECT c.%s FROM f1tel.%s c"
						 " WHERE c.session_key = g.s AND c.driver_number = g.d"
						 " ORDER BY c.%s DESC LIMIT 1)"
						 " FROM unnest($1, $2) WITH ORDINALITY AS g(s, d, o) ORDER BY g.o",
						 t, quote_identifier(ep->name), t);
		probe_plans[ep->id] = f1_keep_plan(sql.data, 2, types);
		pfree(sql.data);
	}
	values[0] = f1_int4_array(n, sessions);
	values[1] = f1_int4_array(n, drivers);
	rc = SPI_execute_plan(probe_plans[ep->id], values, NULL, false, 0);
	if (rc != SPI_OK_SELECT || SPI_processed != (uint64) n)
		elog(ERROR, "f1tel: the probe of f1tel.%s failed: %s", ep->name, SPI_result_code_string(rc));
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		latest = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

		order[i]->append = isnull || order[i]->first > DatumGetTimestampTz(latest);
	}
	SPI_freetuptable(SPI_tuptable);
}

/* ---- the COPY stream --------------------------------------------------- */

static int
read_stream(void *outbuf, int minread, int maxread)
{
	size_t		n = Min((size_t) maxread, stream_len - stream_pos);

	memcpy(outbuf, stream_data + stream_pos, n);
	stream_pos += n;
	return (int) n;
}

static void
put_int16(StringInfo s, int16 v)
{
	uint16		n = pg_hton16((uint16) v);

	appendBinaryStringInfo(s, (char *) &n, 2);
}

static void
put_int32(StringInfo s, int32 v)
{
	uint32		n = pg_hton32((uint32) v);

	appendBinaryStringInfo(s, (char *) &n, 4);
}

static void
put_int64(StringInfo s, int64 v)
{
	uint64		n = pg_hton64((uint64) v);

	appendBinaryStringInfo(s, (char *) &n, 8);
}

/* One value in COPY BINARY's field format: length, then the send bytes. */
static void
put_value(StringInfo s, F1Type type, const F1Value *v)
{
	if (v->isnull)
	{
		put_int32(s, -1);
		return;
	}
	switch (type)
	{
		case F1T_INT4:
		case F1T_GAP_LAPS:
			put_int32(s, 4);
			put_int32(s, v->v.i4);
			break;
		case F1T_FLOAT8:
		case F1T_GAP:
			{
				union
				{
					double		f;
					int64		i;
				}			u;

				u.f = v->v.f8;
				put_int32(s, 8);
				put_int64(s, u.i);
			}
			break;
		case F1T_BOOL:
			put_int32(s, 1);
			appendStringInfoChar(s, v->v.b ? 1 : 0);
			break;
		case F1T_TIMESTAMPTZ:
			put_int32(s, 8);
			put_int64(s, v->v.ts);
			break;
		case F1T_TEXT:
		case F1T_INT4ARRAY:
		case F1T_GAP_Q:
			/* time_key_column() keeps these out */
			elog(ERROR, "f1tel: the append path has no encoding for column type %d", (int) type);
	}
}

/* The rows[] of the batch as a COPY BINARY stream, in arrival order. */
static void
build_stream(StringInfo s, const F1Batch *batch, const char *topic, const int *rows, int nrows)
{
	const F1Endpoint *ep = batch->ep;
	int			tlen = (int) strlen(topic);

	/* signature, flags, header extension length */
	appendBinaryStringInfo(s, "PGCOPY\n\377\r\n\0", 11);
	put_int32(s, 0);
	put_int32(s, 0);
	for (int i = 0; i < nrows; i++)
	{
		int			r = rows[i];

		put_int16(s, (int16) (ep->ncolumns + 3));
		for (int c = 0; c < ep->ncolumns; c++)
			put_value(s, ep->columns[c].type, f1_batch_value(batch, r, c));
		put_int32(s, tlen);
		appendBinaryStringInfo(s, topic, tlen);
		put_int32(s, 4);
		put_int32(s, batch->src_partition[r]);
		put_int32(s, 8);
		put_int64(s, batch->src_offset[r]);
	}
	put_int16(s, -1);
}

/* ---- the COPY ---------------------------------------------------------- */

/* Can the current user's rows go in by COPY?  Otherwise the upsert checks. */
static bool
copy_allowed(Oid relid)
{
	return pg_class_aclcheck(relid, GetUserId(), ACL_INSERT) == ACLCHECK_OK &&
		check_enable_rls(relid, InvalidOid, true) != RLS_ENABLED;
}

/* COPY the stream into the table: false on a unique violation (rolled back). */
static bool
copy_rows(const F1Endpoint *ep, Oid relid, const StringInfo stream)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool done = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		Relation	rel = table_open(relid, RowExclusiveLock);
		ParseState *pstate = make_parsestate(NULL);
		ParseNamespaceItem *nsitem;
		List	   *attnames = NIL;
		List	   *options;
		CopyFromState cstate;

		/* CopyFrom() finds the table in the range table, at index 1 */
		nsitem = addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock, NULL, false, false);
		nsitem->p_rte->requiredPerms = ACL_INSERT;
		for (int c = 0; c < ep->ncolumns; c++)
			attnames = lappend(attnames, makeString(pstrdup(ep->columns[c].name)));
		attnames = lappend(attnames, makeString(pstrdup("src_topic")));
		attnames = lappend(attnames, makeString(pstrdup("src_partition")));
		attnames = lappend(attnames, makeString(pstrdup("src_offset")));
		options = list_make1(makeDefElem("format", (Node *) makeString("binary"), -1));

		stream_data = stream->data;
		stream_len = stream->len;
		stream_pos = 0;
		cstate = BeginCopyFrom(pstate, rel, NULL, NULL, false, read_stream, attnames, options);
		(void) CopyFrom(cstate);
		EndCopyFrom(cstate);
		stream_data = NULL;
		free_parsestate(pstate);
		table_close(rel, NoLock);

		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		done = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		stream_data = NULL;
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode != ERRCODE_UNIQUE_VIOLATION)
			ReThrowError(edata);
		ereport(DEBUG1,
				(errmsg("f1tel: %s: a row of the append path was stored meanwhile; the batch's rows take the upsert path",
						ep->name)));
		FreeErrorData(edata);
	}
	PG_END_TRY();
	/* the next statement sees the rows */
	CommandCounterIncrement();
	return done;
}

int
f1_append_new_rows(F1IngestBatch *b, F1EndpointId id, int *rest)
{
	const F1Batch *batch = &b->tables[id];
	const F1Endpoint *ep = batch->ep;
	int			ts = time_key_column(ep);
	int			sk = f1_endpoint_column(ep, "session_key");
	int			dn = f1_endpoint_column(ep, "driver_number");
	uint32		size = 16;
	AppendGroup *table;
	AppendGroup **row_group;
	int			ngroups = 0;
	int		   *new_rows;
	int			nnew = 0;
	int			nrest = 0;
	Oid			relid;
	StringInfoData stream;

	for (int r = 0; r < batch->nrows; r++)
		rest[r] = r;
	if (ts < 0 || batch->nrows == 0)
		return batch->nrows;
	relid = get_relname_relid(ep->name, get_namespace_oid("f1tel", false));
	if (!OidIsValid(relid) || !copy_allowed(relid))
		return batch->nrows;
	/* the groups: a table of at least twice as many slots as rows */
	while (size < (uint32) batch->nrows * 2)
		size <<= 1;
	table = palloc0(size * sizeof(AppendGroup));
	row_group = palloc(batch->nrows * sizeof(AppendGroup *));
	for (int r = 0; r < batch->nrows; r++)
	{
		int32		s = f1_batch_value(batch, r, sk)->v.i4;
		int32		d = f1_batch_value(batch, r, dn)->v.i4;
		int64		t = f1_batch_value(batch, r, ts)->v.ts;
		AppendGroup *g = group_of(table, size - 1, s, d);

		if (g->nrows++ == 0)
		{
			ngroups++;
			g->first = g->last = t;
		}
		else if (t <= g->last)
			g->increasing = false;
		else
			g->last = t;
		row_group[r] = g;
	}
	decide_groups(ep, ts, table, size - 1, ngroups);

	new_rows = palloc(batch->nrows * sizeof(int));
	for (int r = 0; r < batch->nrows; r++)
	{
		if (row_group[r]->append)
			new_rows[nnew++] = r;
		else
			rest[nrest++] = r;
	}
	if (nnew == 0)
		return nrest;

	initStringInfo(&stream);
	build_stream(&stream, batch, b->topics[id], new_rows, nnew);
	if (!copy_rows(ep, relid, &stream))
	{
		for (int r = 0; r < batch->nrows; r++)
			rest[r] = r;
		return batch->nrows;
	}
	return nrest;
}
