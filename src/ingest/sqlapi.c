/*
 * src/ingest/sqlapi.c — SQL functions of the ingest stage.
 *
 * f1tel.ingest_message() decodes and stores one message exactly as the ingest
 * worker does, without Kafka: for tests, for replaying a dead letter after a
 * fix, and for loading an API response by hand.
 *
 * f1tel.endpoints() shows the endpoint table the decoder and the store are
 * built from (src/shared/endpoints.c), one row per column, so that SQL can
 * check it against the staging tables (sql/03_endpoints.sql) and a user can
 * see which topic feeds which table.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"
#include "utils/memutils.h"

#include "ingest/store.h"
#include "shared/extension.h"
#include "shared/guc.h"

PG_FUNCTION_INFO_V1(f1tel_ingest_message);
PG_FUNCTION_INFO_V1(f1tel_endpoints);

static F1IngestBatch *sql_batch;

/*
 * f1tel.ingest_message(topic text, payload bytea, key bytea,
 *                      partition int, "offset" bigint)
 *   RETURNS TABLE (rows_stored int, dead_letter text)
 */
Datum
f1tel_ingest_message(PG_FUNCTION_ARGS)
{
	char	   *topic;
	bytea	   *payload = PG_ARGISNULL(1) ? NULL : PG_GETARG_BYTEA_PP(1);
	bytea	   *key = PG_ARGISNULL(2) ? NULL : PG_GETARG_BYTEA_PP(2);
	int32		partition = PG_ARGISNULL(3) ? -1 : PG_GETARG_INT32(3);
	int64		offset = PG_ARGISNULL(4) ? -1 : PG_GETARG_INT64(4);
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	int			rc;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("topic must not be null")));
	f1tel_require_extension_version();
	topic = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	if (sql_batch == NULL)
	{
		sql_batch = MemoryContextAllocZero(TopMemoryContext, sizeof(F1IngestBatch));
		f1_store_init(sql_batch, TopMemoryContext);
	}
	f1_store_reset(sql_batch);
	rc = f1_store_add_message(sql_batch, topic, partition, offset,
							  key ? VARDATA_ANY(key) : NULL,
							  key ? VARSIZE_ANY_EXHDR(key) : 0,
							  payload ? VARDATA_ANY(payload) : NULL,
							  payload ? VARSIZE_ANY_EXHDR(payload) : 0);
	if (rc < 0)
	{
		values[0] = Int32GetDatum(0);
		values[1] = CStringGetTextDatum(sql_batch->dead[0].reason);
	}
	else
	{
		values[0] = Int32GetDatum(rc);
		nulls[1] = true;
	}
	SPI_connect();
	f1_store_write(sql_batch);
	SPI_finish();
	f1_store_reset(sql_batch);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* The SQL type of a decoded column, as format_type() spells it. */
static const char *
sql_type(F1Type t)
{
	switch (t)
	{
		case F1T_INT4:
			return "integer";
		case F1T_FLOAT8:
			return "double precision";
		case F1T_BOOL:
			return "boolean";
		case F1T_TEXT:
			return "text";
		case F1T_TIMESTAMPTZ:
			return "timestamp with time zone";
		case F1T_INT4ARRAY:
			return "integer[]";
		case F1T_GAP:
			return "double precision";
		case F1T_GAP_LAPS:
			return "integer";
		case F1T_GAP_Q:
			return "double precision[]";
	}
	return "unknown";
}

/*
 * f1tel.endpoints() RETURNS TABLE (endpoint text, topic text, default_topic
 *   text, ordinal int, column_name text, column_type text, is_key bool,
 *   not_null bool, min bigint, max bigint)
 */
Datum
f1tel_endpoints(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < F1E_COUNT; i++)
	{
		const F1Endpoint *ep = &f1_endpoints[i];

		for (int c = 0; c < ep->ncolumns; c++)
		{
			const F1Column *col = &ep->columns[c];
			bool		ranged = col->type == F1T_INT4 || col->type == F1T_INT4ARRAY ||
				col->type == F1T_GAP_LAPS;
			Datum		values[10];
			bool		nulls[10] = {false};

			values[0] = CStringGetTextDatum(ep->name);
			values[1] = CStringGetTextDatum(f1tel_topics[i] ? f1tel_topics[i] : ep->default_topic);
			values[2] = CStringGetTextDatum(ep->default_topic);
			values[3] = Int32GetDatum(c + 1);
			values[4] = CStringGetTextDatum(col->name);
			values[5] = CStringGetTextDatum(sql_type(col->type));
			values[6] = BoolGetDatum(col->key);
			values[7] = BoolGetDatum(col->key || col->notnull);
			values[8] = Int64GetDatum(col->min);
			values[9] = Int64GetDatum(col->max);
			nulls[8] = nulls[9] = !ranged;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	return (Datum) 0;
}
