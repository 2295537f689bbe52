/*
 * src/ingest/store.c — writes an ingest batch to the staging tables.
 *
 * Each staging table gets one statement per batch, a saved SPI plan built
 * from the endpoint's column list (decode.h; never from data):
 *
 *   INSERT INTO f1tel.laps AS t (cols..., src_topic, src_partition, src_offset)
 *   SELECT ... FROM (SELECT DISTINCT ON (key) * FROM unnest($1, $2, ...)
 *                    WITH ORDINALITY AS u(...) ORDER BY key, ord DESC) u
 *   ON CONFLICT (key) DO UPDATE SET ... WHERE (t.cols) IS DISTINCT FROM (...)
 *
 * The values go in as arrays of already-decoded binary values (timestamps
 * are int64 microseconds, as decoded), so no value is parsed twice.
 * DISTINCT ON keeps the last message of a key within the batch (a later
 * message for the same lap replaces the earlier one), and the IS DISTINCT
 * FROM clause makes a replay of identical records write nothing at all.
 * race_control has no key: an identical record is stored once
 * (ON CONFLICT ON CONSTRAINT race_control_record_key DO NOTHING).
 *
 * Before it, the telemetry endpoints' new rows (each later than anything
 * stored for its driver: ~99% of all messages) go in by COPY instead, and
 * only the rest takes the statement: append.c, with its rules.
 */
#include "postgres.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "ingest/store.h"
#include "shared/guc.h"
#include "shared/spi.h"

/* decoded-row buffers of one table kept from batch to batch, at most */
#define KEEP_BUFFER_BYTES	(4 * 1024 * 1024)

static SPIPlanPtr upsert_plans[F1E_COUNT];
static SPIPlanPtr dead_letter_plan;

void
f1_store_init(F1IngestBatch *b, MemoryContext parent)
{
	memset(b, 0, sizeof(*b));
	for (int i = 0; i < F1E_COUNT; i++)
		f1_batch_init(&b->tables[i], &f1_endpoints[i]);
	b->cxt = AllocSetContextCreate(parent, "f1tel ingest batch", ALLOCSET_DEFAULT_SIZES);
	b->write_cxt = AllocSetContextCreate(parent, "f1tel ingest write", ALLOCSET_DEFAULT_SIZES);
}

void
f1_store_reset(F1IngestBatch *b)
{
	for (int i = 0; i < F1E_COUNT; i++)
		f1_batch_reset(&b->tables[i]);
	MemoryContextReset(b->cxt);
	MemoryContextReset(b->write_cxt);
	b->dead = NULL;
	b->ndead = 0;
	b->capdead = 0;
}

void
f1_store_trim(F1IngestBatch *b, bool release)
{
	for (int i = 0; i < F1E_COUNT; i++)
		f1_batch_trim(&b->tables[i], KEEP_BUFFER_BYTES);
#ifdef __GLIBC__
	if (release)
		malloc_trim(0);
#endif
}

int
f1_store_nrows(F1IngestBatch *b)
{
	int			n = 0;

	for (int i = 0; i < F1E_COUNT; i++)
		n += b->tables[i].nrows;
	return n;
}

void
f1_store_add_dead_letter(F1IngestBatch *b, const char *topic,
						 int32 partition, int64 offset,
						 const char *key, size_t keylen,
						 const char *payload, size_t len,
						 const char *reason)
{
	MemoryContext old = MemoryContextSwitchTo(b->cxt);
	F1DeadLetter *d;

	if (b->ndead == b->capdead)
	{
		b->capdead = b->capdead ? b->capdead * 2 : 16;
		b->dead = b->dead ? repalloc(b->dead, b->capdead * sizeof(F1DeadLetter))
			: palloc(b->capdead * sizeof(F1DeadLetter));
	}
	d = &b->dead[b->ndead++];
	d->topic = pstrdup(topic);
	d->partition = partition;
	d->offset = offset;
	d->key = key;
	d->keylen = keylen;
	d->payload = payload;
	d->len = len;
	d->reason = pstrdup(reason);
	MemoryContextSwitchTo(old);
}

int
f1_store_add_message(F1IngestBatch *b, const char *topic,
					 int32 partition, int64 offset,
					 const char *key, size_t keylen,
					 const char *payload, size_t len)
{
	const F1Endpoint *ep = f1tel_endpoint_for_topic(topic);
	char		reason[512];
	int			rc;

	if (ep == NULL)
	{
		snprintf(reason, sizeof(reason),
				 "unknown topic: no f1tel.topic_* setting names \"%s\"", topic);
		f1_store_add_dead_letter(b, topic, partition, offset, key, keylen, payload, len, reason);
		return -1;
	}
	if (payload != NULL && len > (size_t) f1tel_max_message_bytes)
	{
		snprintf(reason, sizeof(reason),
				 "%s: message of %zu bytes is larger than f1tel.max_message_bytes (%d)",
				 ep->name, len, f1tel_max_message_bytes);
		f1_store_add_dead_letter(b, topic, partition, offset, key, keylen, payload, len, reason);
		return -1;
	}
	rc = f1_decode_message(&b->tables[ep->id], payload, len, partition, offset,
						   reason, sizeof(reason));
	if (rc < 0)
	{
		/* not the message's fault: fail the batch, do not dead-letter it */
		if (strcmp(reason, "out of memory") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory while decoding a %s message", ep->name)));
		f1_store_add_dead_letter(b, topic, partition, offset, key, keylen, payload, len, reason);
		return -1;
	}
	b->topics[ep->id] = topic;
	return rc;
}

/* ---- statements -------------------------------------------------------- */

static Oid
array_type_of(F1Type t)
{
	switch (t)
	{
		case F1T_INT4:
		case F1T_GAP_LAPS:
			return INT4ARRAYOID;
		case F1T_FLOAT8:
		case F1T_GAP:
			return FLOAT8ARRAYOID;
		case F1T_BOOL:
			return BOOLARRAYOID;
		case F1T_TIMESTAMPTZ:
			return TIMESTAMPTZARRAYOID;
		case F1T_TEXT:
		case F1T_INT4ARRAY:		/* array literals, cast in the statement */
		case F1T_GAP_Q:
			return TEXTARRAYOID;
	}
	return InvalidOid;
}

static void
append_column_list(StringInfo s, const F1Endpoint *ep, const char *prefix, bool keys_only)
{
	bool		first = true;

	for (int c = 0; c < ep->ncolumns; c++)
	{
		if (keys_only && !ep->columns[c].key)
			continue;
		appendStringInfo(s, "%s%s%s", first ? "" : ", ", prefix,
						 quote_identifier(ep->columns[c].name));
		first = false;
	}
}

static SPIPlanPtr
prepare_upsert(const F1Endpoint *ep)
{
	StringInfoData s;
	int			n = ep->ncolumns;
	Oid		   *types = palloc((n + 3) * sizeof(Oid));
	bool		has_key = false;
	SPIPlanPtr	plan;

	for (int c = 0; c < n; c++)
	{
		types[c] = array_type_of(ep->columns[c].type);
		has_key |= ep->columns[c].key;
	}
	types[n] = TEXTOID;			/* the topic */
	types[n + 1] = INT4ARRAYOID;	/* src_partition */
	types[n + 2] = INT8ARRAYOID;	/* src_offset */

	initStringInfo(&s);
	appendStringInfo(&s, "INSERT INTO f1tel.%s AS t (", quote_identifier(ep->name));
	append_column_list(&s, ep, "", false);
	appendStringInfoString(&s, ", src_topic, src_partition, src_offset) SELECT ");
	for (int c = 0; c < n; c++)
		appendStringInfo(&s, "u.%s%s, ", quote_identifier(ep->columns[c].name),
						 ep->columns[c].type == F1T_INT4ARRAY ? "::pg_catalog.int4[]" :
						 ep->columns[c].type == F1T_GAP_Q ? "::pg_catalog.float8[]" : "");
	appendStringInfo(&s, "$%d, u.src_partition, u.src_offset FROM (SELECT %s * FROM unnest(",
					 n + 1, has_key ? "DISTINCT ON (" : "");
	if (has_key)
	{
		/* DISTINCT ON's list goes before the FROM: rewrite the prefix */
		s.len -= strlen("* FROM unnest(");
		s.data[s.len] = '\0';
		append_column_list(&s, ep, "", true);
		appendStringInfoString(&s, ") * FROM unnest(");
	}
	for (int c = 0; c < n; c++)
		appendStringInfo(&s, "$%d, ", c + 1);
	appendStringInfo(&s, "$%d, $%d) WITH ORDINALITY AS u(", n + 2, n + 3);
	append_column_list(&s, ep, "", false);
	appendStringInfoString(&s, ", src_partition, src_offset, ord) ORDER BY ");
	if (has_key)
	{
		append_column_list(&s, ep, "", true);
		appendStringInfoString(&s, ", ord DESC) u ");
	}
	else
		appendStringInfoString(&s, "ord) u ");

	if (has_key)
	{
		bool		first = true;

		appendStringInfoString(&s, "ON CONFLICT (");
		append_column_list(&s, ep, "", true);
		appendStringInfoString(&s, ") DO UPDATE SET ");
		for (int c = 0; c < n; c++)
		{
			const char *col = quote_identifier(ep->columns[c].name);

			if (ep->columns[c].key)
				continue;
			appendStringInfo(&s, "%s = EXCLUDED.%s, ", col, col);
		}
		appendStringInfoString(&s, "src_topic = EXCLUDED.src_topic, "
							   "src_partition = EXCLUDED.src_partition, "
							   "src_offset = EXCLUDED.src_offset, ingested_at = pg_catalog.now() WHERE (");
		for (int c = 0; c < n; c++)
		{
			if (ep->columns[c].key)
				continue;
			appendStringInfo(&s, "%st.%s", first ? "" : ", ",
							 quote_identifier(ep->columns[c].name));
			first = false;
		}
		appendStringInfoString(&s, ") IS DISTINCT FROM (");
		first = true;
		for (int c = 0; c < n; c++)
		{
			if (ep->columns[c].key)
				continue;
			appendStringInfo(&s, "%sEXCLUDED.%s", first ? "" : ", ",
							 quote_identifier(ep->columns[c].name));
			first = false;
		}
		appendStringInfoChar(&s, ')');
	}
	else
		appendStringInfoString(&s, "ON CONFLICT ON CONSTRAINT race_control_record_key DO NOTHING");

	plan = f1_keep_plan(s.data, n + 3, types);
	pfree(s.data);
	pfree(types);
	return plan;
}

/* Column c of the batch's rows[0..n-1] as a PostgreSQL array Datum. */
static Datum
column_array(const F1Batch *batch, int c, const int *rows, int n)
{
	const F1Column *col = &batch->ep->columns[c];
	Datum	   *elems = palloc(n * sizeof(Datum));
	bool	   *nulls = palloc(n * sizeof(bool));
	Oid			elemtype;

	for (int r = 0; r < n; r++)
	{
		const F1Value *v = f1_batch_value(batch, rows[r], c);

		nulls[r] = v->isnull;
		if (v->isnull)
		{
			elems[r] = (Datum) 0;
			continue;
		}
		switch (col->type)
		{
			case F1T_INT4:
			case F1T_GAP_LAPS:
				elems[r] = Int32GetDatum(v->v.i4);
				break;
			case F1T_FLOAT8:
			case F1T_GAP:
				elems[r] = Float8GetDatum(v->v.f8);
				break;
			case F1T_BOOL:
				elems[r] = BoolGetDatum(v->v.b);
				break;
			case F1T_TIMESTAMPTZ:
				elems[r] = TimestampTzGetDatum(v->v.ts);
				break;
			case F1T_TEXT:
			case F1T_INT4ARRAY:
			case F1T_GAP_Q:
				elems[r] = PointerGetDatum(cstring_to_text_with_len(batch->pool + v->v.str.off,
																	v->v.str.len));
				break;
		}
	}
	switch (col->type)
	{
		case F1T_INT4:
		case F1T_GAP_LAPS:
			elemtype = INT4OID;
			break;
		case F1T_FLOAT8:
		case F1T_GAP:
			elemtype = FLOAT8OID;
			break;
		case F1T_BOOL:
			elemtype = BOOLOID;
			break;
		case F1T_TIMESTAMPTZ:
			elemtype = TIMESTAMPTZOID;
			break;
		default:
			elemtype = TEXTOID;
			break;
	}
	return f1_array(elems, nulls, n, elemtype);
}

/* The upsert statement for the batch's rows[0..nrows-1], in that order. */
static void
upsert_rows(F1IngestBatch *b, F1EndpointId id, const int *rows, int nrows)
{
	const F1Batch *batch = &b->tables[id];
	const F1Endpoint *ep = batch->ep;
	int			n = ep->ncolumns;
	Datum	   *values = palloc((n + 3) * sizeof(Datum));
	Datum	   *parts = palloc(nrows * sizeof(Datum));
	Datum	   *offs = palloc(nrows * sizeof(Datum));
	int			rc;

	if (upsert_plans[id] == NULL)
		upsert_plans[id] = prepare_upsert(ep);
	for (int c = 0; c < n; c++)
		values[c] = column_array(batch, c, rows, nrows);
	values[n] = CStringGetTextDatum(b->topics[id]);
	for (int r = 0; r < nrows; r++)
	{
		parts[r] = Int32GetDatum(batch->src_partition[rows[r]]);
		offs[r] = Int64GetDatum(batch->src_offset[rows[r]]);
	}
	values[n + 1] = f1_array(parts, NULL, nrows, INT4OID);
	values[n + 2] = f1_array(offs, NULL, nrows, INT8OID);

	rc = SPI_execute_plan(upsert_plans[id], values, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "f1tel: upsert into f1tel.%s failed: %s", ep->name, SPI_result_code_string(rc));
}

/*
 * One table's rows of the batch: the new rows of the eligible endpoints by
 * COPY (append.c), the rest by the upsert statement.
 */
static void
write_table(F1IngestBatch *b, F1EndpointId id)
{
	const F1Batch *batch = &b->tables[id];
	int		   *rows = palloc(batch->nrows * sizeof(int));
	int			n;

	if (f1tel_ingest_append_path)
		n = f1_append_new_rows(b, id, rows);
	else
	{
		for (int r = 0; r < batch->nrows; r++)
			rows[r] = r;
		n = batch->nrows;
	}
	if (n > 0)
		upsert_rows(b, id, rows, n);
}

static void
write_dead_letters(F1IngestBatch *b)
{
	int			n = b->ndead;
	Datum	   *topics = palloc(n * sizeof(Datum));
	Datum	   *parts = palloc(n * sizeof(Datum));
	Datum	   *offs = palloc(n * sizeof(Datum));
	Datum	   *keys = palloc(n * sizeof(Datum));
	Datum	   *payloads = palloc(n * sizeof(Datum));
	Datum	   *reasons = palloc(n * sizeof(Datum));
	bool	   *keynulls = palloc(n * sizeof(bool));
	bool	   *paynulls = palloc(n * sizeof(bool));
	Datum		values[6];
	int			rc;

	if (dead_letter_plan == NULL)
	{
		Oid			types[6] = {TEXTARRAYOID, INT4ARRAYOID, INT8ARRAYOID,
		BYTEAARRAYOID, BYTEAARRAYOID, TEXTARRAYOID};

		dead_letter_plan = f1_keep_plan("INSERT INTO f1tel.dead_letters "
										"(topic, partition, \"offset\", key, payload, reason) "
										"SELECT * FROM unnest($1, $2, $3, $4, $5, $6)",
										6, types);
	}
	for (int i = 0; i < n; i++)
	{
		F1DeadLetter *d = &b->dead[i];
		bytea	   *p;

		topics[i] = CStringGetTextDatum(d->topic);
		parts[i] = Int32GetDatum(d->partition);
		offs[i] = Int64GetDatum(d->offset);
		keynulls[i] = d->key == NULL;
		keys[i] = (Datum) 0;
		if (d->key != NULL)
		{
			p = palloc(VARHDRSZ + d->keylen);
			SET_VARSIZE(p, VARHDRSZ + d->keylen);
			memcpy(VARDATA(p), d->key, d->keylen);
			keys[i] = PointerGetDatum(p);
		}
		paynulls[i] = d->payload == NULL;
		payloads[i] = (Datum) 0;
		if (d->payload != NULL)
		{
			p = palloc(VARHDRSZ + d->len);
			SET_VARSIZE(p, VARHDRSZ + d->len);
			memcpy(VARDATA(p), d->payload, d->len);
			payloads[i] = PointerGetDatum(p);
		}
		reasons[i] = CStringGetTextDatum(d->reason);
	}
	values[0] = f1_array(topics, NULL, n, TEXTOID);
	values[1] = f1_array(parts, NULL, n, INT4OID);
	values[2] = f1_array(offs, NULL, n, INT8OID);
	values[3] = f1_array(keys, keynulls, n, BYTEAOID);
	values[4] = f1_array(payloads, paynulls, n, BYTEAOID);
	values[5] = f1_array(reasons, NULL, n, TEXTOID);

	rc = SPI_execute_plan(dead_letter_plan, values, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "f1tel: insert into f1tel.dead_letters failed: %s", SPI_result_code_string(rc));
}

/* ---- the per-driver locks of the enrichment triggers ------------------- */

static int
column_index(const F1Endpoint *ep, const char *name)
{
	int			c = f1_endpoint_column(ep, name);

	if (c < 0)
		elog(ERROR, "f1tel: endpoint %s has no column %s", ep->name, name);
	return c;
}

/*
 * Take the enrichment's locks for every driver and session the batch
 * touches, before writing: per driver for the endpoints whose rows decide
 * their own driver's laps (F1L_DRIVER: laps, position, drivers, car_data,
 * intervals, pit, stints), per session, exclusive, for those whose rows
 * decide every driver's (F1L_SESSION: weather).  f1tel.lock_drivers()
 * (src/enrich/triggers.sql) is their one home, with the key space and the
 * order that make concurrent writers serialise without deadlocks; the
 * triggers call it too.  Taking them all here, first, matters: a trigger
 * that asked for a session lock after this transaction held driver locks
 * could deadlock with another writer.
 */
static void
lock_drivers(F1IngestBatch *b)
{
	static SPIPlanPtr lock_plan;
	int32	   *sessions;
	int32	   *drivers;
	int32	   *whole;
	Datum		values[3];
	int			n = 0;
	int			nwhole = 0;
	int			total = 0;
	int			total_whole = 0;
	int			rc;

	for (int i = 0; i < F1E_COUNT; i++)
	{
		if (f1_endpoints[i].lock == F1L_DRIVER)
			total += b->tables[i].nrows;
		else if (f1_endpoints[i].lock == F1L_SESSION)
			total_whole += b->tables[i].nrows;
	}
	if (total + total_whole == 0)
		return;
	sessions = palloc((total + 1) * sizeof(int32));
	drivers = palloc((total + 1) * sizeof(int32));
	whole = palloc((total_whole + 1) * sizeof(int32));
	for (int i = 0; i < F1E_COUNT; i++)
	{
		const F1Batch *batch = &b->tables[i];
		int			sk,
					dn;

		if (f1_endpoints[i].lock == F1L_NONE || batch->nrows == 0)
			continue;
		sk = column_index(batch->ep, "session_key");
		if (f1_endpoints[i].lock == F1L_SESSION)
		{
			for (int r = 0; r < batch->nrows; r++)
				whole[nwhole++] = f1_batch_value(batch, r, sk)->v.i4;
			continue;
		}
		dn = column_index(batch->ep, "driver_number");
		for (int r = 0; r < batch->nrows; r++)
		{
			sessions[n] = f1_batch_value(batch, r, sk)->v.i4;
			drivers[n] = f1_batch_value(batch, r, dn)->v.i4;
			n++;
		}
	}
	if (lock_plan == NULL)
	{
		Oid			types[3] = {INT4ARRAYOID, INT4ARRAYOID, INT4ARRAYOID};

		lock_plan = f1_keep_plan("SELECT f1tel.lock_drivers($1, $2, $3)", 3, types);
	}
	values[0] = f1_int4_array(n, sessions);
	values[1] = f1_int4_array(n, drivers);
	values[2] = f1_int4_array(nwhole, whole);
	rc = SPI_execute_plan(lock_plan, values, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "f1tel: f1tel.lock_drivers() failed: %s", SPI_result_code_string(rc));
}

void
f1_store_write(F1IngestBatch *b)
{
	MemoryContext old;

	/* a batch written again (after an error) does not pile up arrays */
	MemoryContextReset(b->write_cxt);
	old = MemoryContextSwitchTo(b->write_cxt);
	lock_drivers(b);
	/*
	 * The untimed endpoints first, by rank (sessions, meetings, drivers):
	 * then a lap's trigger already sees its driver; then the others.
	 */
	for (int rank = 1; rank <= F1E_COUNT; rank++)
		for (int i = 0; i < F1E_COUNT; i++)
			if (f1_endpoints[i].untimed_rank == rank && b->tables[i].nrows > 0)
				write_table(b, i);
	for (int i = 0; i < F1E_COUNT; i++)
		if (f1_endpoints[i].untimed_rank == 0 && b->tables[i].nrows > 0)
			write_table(b, i);
	if (b->ndead > 0)
		write_dead_letters(b);
	MemoryContextSwitchTo(old);
	MemoryContextReset(b->write_cxt);
}
