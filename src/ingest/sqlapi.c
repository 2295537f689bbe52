/*
 * src/ingest/sqlapi.c — SQL functions of the ingest stage.
 *
 * f1tel.ingest_message() decodes and stores one message exactly as the ingest
 * worker does, without Kafka: for tests, for replaying a dead letter after a
 * fix, and for loading an API response by hand.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "ingest/store.h"
#include "shared/extension.h"

PG_FUNCTION_INFO_V1(f1tel_ingest_message);

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
