/*
 * src/ingest/offsets.c — reads and advances f1tel.kafka_offsets.
 *
 * Exactly once: a batch's rows and its partitions' next offsets commit in one
 * transaction, and the offset update is a compare-and-set (stored offset =
 * what this worker last stored or read), so a worker that lost a partition
 * in a rebalance it has not noticed yet cannot apply a batch twice: its
 * update matches nothing and the caller rolls the whole batch back.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "ingest/offsets.h"
#include "shared/spi.h"

static SPIPlanPtr read_plan;
static SPIPlanPtr advance_plan;
static SPIPlanPtr error_plan;
static SPIPlanPtr watermark_plan;
static SPIPlanPtr topic_error_plan;

void
f1_offsets_read(const char *group, int n, const char *const *topics,
				const int32 *partitions, int64 *next_out)
{
	Datum		values[3];
	int			rc;

	if (n == 0)
		return;
	if (read_plan == NULL)
	{
		Oid			types[3] = {TEXTOID, TEXTARRAYOID, INT4ARRAYOID};

		read_plan = f1_keep_plan("WITH ins AS ("
						 " INSERT INTO f1tel.kafka_offsets (group_id, topic, partition)"
						 " SELECT $1, t, p FROM unnest($2, $3) AS u(t, p)"
						 " ON CONFLICT DO NOTHING),"
						 " topic_rows AS ("
						 " DELETE FROM f1tel.kafka_offsets d"
						 " WHERE d.group_id = $1 AND d.partition = -1 AND d.topic = ANY ($2))"
						 " SELECT u.i, o.next_offset"
						 " FROM unnest($2, $3) WITH ORDINALITY AS u(t, p, i)"
						 " LEFT JOIN f1tel.kafka_offsets o"
						 "  ON o.group_id = $1 AND o.topic = u.t AND o.partition = u.p",
						 3, types);
	}
	values[0] = CStringGetTextDatum(group);
	values[1] = f1_text_array(n, topics);
	values[2] = f1_int4_array(n, partitions);
	rc = SPI_execute_plan(read_plan, values, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "f1tel: reading f1tel.kafka_offsets failed: %s", SPI_result_code_string(rc));
	for (int i = 0; i < n; i++)
		next_out[i] = -1;
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		int64		i = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
		Datum		off = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull);

		if (i >= 1 && i <= n && !isnull)
			next_out[i - 1] = DatumGetInt64(off);
	}
}

int
f1_offsets_advance(const char *group, int n, const char *const *topics,
				   const int32 *partitions, const int64 *expected,
				   const int64 *next, const int64 *high_watermark,
				   const int64 *nrows, const int64 *ndead)
{
	Datum		values[8];
	int			rc;

	if (n == 0)
		return 0;
	if (advance_plan == NULL)
	{
		Oid			types[8] = {TEXTOID, TEXTARRAYOID, INT4ARRAYOID, INT8ARRAYOID,
		INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID};

		advance_plan = f1_keep_plan("UPDATE f1tel.kafka_offsets o SET"
							" next_offset = u.next,"
							" high_watermark = coalesce(u.hw, o.high_watermark),"
							" rows_total = o.rows_total + u.nrows,"
							" dead_letters_total = o.dead_letters_total + u.ndead,"
							" last_batch_at = pg_catalog.now(), retries = 0"
							" FROM unnest($2, $3, $4, $5, $6, $7, $8)"
							"  AS u(t, p, expected, next, hw, nrows, ndead)"
							" WHERE o.group_id = $1 AND o.topic = u.t AND o.partition = u.p"
							"  AND o.next_offset IS NOT DISTINCT FROM u.expected",
							8, types);
	}
	values[0] = CStringGetTextDatum(group);
	values[1] = f1_text_array(n, topics);
	values[2] = f1_int4_array(n, partitions);
	values[3] = f1_int8_array_null_if_negative(n, expected);
	values[4] = f1_int8_array_null_if_negative(n, next);
	values[5] = f1_int8_array_null_if_negative(n, high_watermark);
	values[6] = f1_int8_array_null_if_negative(n, nrows);
	values[7] = f1_int8_array_null_if_negative(n, ndead);
	rc = SPI_execute_plan(advance_plan, values, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "f1tel: updating f1tel.kafka_offsets failed: %s", SPI_result_code_string(rc));
	return (int) SPI_processed;
}

void
f1_offsets_record_error(const char *group, const char *topic, int32 partition,
						const char *error)
{
	Datum		values[4];
	int			rc;

	if (error_plan == NULL)
	{
		Oid			types[4] = {TEXTOID, TEXTOID, INT4OID, TEXTOID};

		error_plan = f1_keep_plan("INSERT INTO f1tel.kafka_offsets AS o"
						  " (group_id, topic, partition, last_error, last_error_at)"
						  " VALUES ($1, $2, $3, $4, pg_catalog.now())"
						  " ON CONFLICT (group_id, topic, partition) DO UPDATE"
						  " SET last_error = EXCLUDED.last_error, last_error_at = pg_catalog.now()",
						  4, types);
	}
	values[0] = CStringGetTextDatum(group);
	values[1] = CStringGetTextDatum(topic);
	values[2] = Int32GetDatum(partition);
	values[3] = CStringGetTextDatum(error);
	rc = SPI_execute_plan(error_plan, values, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "f1tel: recording an error in f1tel.kafka_offsets failed: %s",
			 SPI_result_code_string(rc));
}

void
f1_offsets_record_topic_errors(const char *group, int n, const char *const *topics,
							   const char *error)
{
	Datum		values[3];
	int			rc;

	if (n == 0)
		return;
	if (topic_error_plan == NULL)
	{
		Oid			types[3] = {TEXTOID, TEXTARRAYOID, TEXTOID};

		topic_error_plan = f1_keep_plan("WITH upd AS ("
								" UPDATE f1tel.kafka_offsets o"
								" SET last_error = $3, last_error_at = pg_catalog.now()"
								" WHERE o.group_id = $1 AND o.topic = ANY ($2)"
								" RETURNING o.topic)"
								" INSERT INTO f1tel.kafka_offsets"
								" (group_id, topic, partition, last_error, last_error_at)"
								" SELECT $1, t, -1, $3, pg_catalog.now()"
								" FROM pg_catalog.unnest($2) AS u(t)"
								" WHERE NOT EXISTS (SELECT FROM upd WHERE upd.topic = u.t)"
								" ON CONFLICT DO NOTHING",
								3, types);
	}
	values[0] = CStringGetTextDatum(group);
	values[1] = f1_text_array(n, topics);
	values[2] = CStringGetTextDatum(error);
	rc = SPI_execute_plan(topic_error_plan, values, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "f1tel: recording an error in f1tel.kafka_offsets failed: %s",
			 SPI_result_code_string(rc));
}

void
f1_offsets_set_watermarks(const char *group, int n, const char *const *topics,
						  const int32 *partitions, const int64 *high_watermark)
{
	Datum		values[4];
	int			rc;

	if (n == 0)
		return;
	if (watermark_plan == NULL)
	{
		Oid			types[4] = {TEXTOID, TEXTARRAYOID, INT4ARRAYOID, INT8ARRAYOID};

		watermark_plan = f1_keep_plan("UPDATE f1tel.kafka_offsets o SET high_watermark = u.hw"
							  " FROM unnest($2, $3, $4) AS u(t, p, hw)"
							  " WHERE o.group_id = $1 AND o.topic = u.t AND o.partition = u.p"
							  "  AND u.hw IS NOT NULL AND o.high_watermark IS DISTINCT FROM u.hw",
							  4, types);
	}
	values[0] = CStringGetTextDatum(group);
	values[1] = f1_text_array(n, topics);
	values[2] = f1_int4_array(n, partitions);
	values[3] = f1_int8_array_null_if_negative(n, high_watermark);
	rc = SPI_execute_plan(watermark_plan, values, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "f1tel: updating f1tel.kafka_offsets failed: %s", SPI_result_code_string(rc));
}

void
f1_offsets_record_errors(const char *group, int n, const char *const *topics,
						const int32 *partitions, const char *error, bool count_retry)
{
	static SPIPlanPtr plans[2];
	SPIPlanPtr *plan = &plans[count_retry ? 1 : 0];
	Datum		values[4];
	int			rc;

	if (n == 0)
		return;
	if (*plan == NULL)
	{
		Oid			types[4] = {TEXTOID, TEXTARRAYOID, INT4ARRAYOID, TEXTOID};

		*plan = f1_keep_plan(count_retry ?
							 "UPDATE f1tel.kafka_offsets o"
							 " SET last_error = $4, last_error_at = pg_catalog.now(),"
							 " retries = o.retries + 1"
							 " FROM unnest($2, $3) AS u(t, p)"
							 " WHERE o.group_id = $1 AND o.topic = u.t AND o.partition = u.p" :
							 "UPDATE f1tel.kafka_offsets o"
							 " SET last_error = $4, last_error_at = pg_catalog.now()"
							 " FROM unnest($2, $3) AS u(t, p)"
							 " WHERE o.group_id = $1 AND o.topic = u.t AND o.partition = u.p",
							 4, types);
	}
	values[0] = CStringGetTextDatum(group);
	values[1] = f1_text_array(n, topics);
	values[2] = f1_int4_array(n, partitions);
	values[3] = CStringGetTextDatum(error);
	rc = SPI_execute_plan(*plan, values, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "f1tel: recording an error in f1tel.kafka_offsets failed: %s",
			 SPI_result_code_string(rc));
}
