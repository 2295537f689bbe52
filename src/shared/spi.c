/*
 * src/shared/spi.c — saved plans and array parameters for SPI (spi.h).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "shared/spi.h"

SPIPlanPtr
f1_keep_plan(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

	if (plan == NULL)
		elog(ERROR, "f1tel: could not prepare \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

Datum
f1_array(Datum *elems, bool *nulls, int n, Oid elemtype)
{
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int16		len;
	bool		byval;
	char		align;

	switch (elemtype)
	{
		case TEXTOID:
		case BYTEAOID:
			len = -1;
			byval = false;
			align = TYPALIGN_INT;
			break;
		case INT4OID:
			len = 4;
			byval = true;
			align = TYPALIGN_INT;
			break;
		case INT8OID:
		case FLOAT8OID:
		case TIMESTAMPTZOID:
			len = 8;
			byval = FLOAT8PASSBYVAL;
			align = TYPALIGN_DOUBLE;
			break;
		case BOOLOID:
			len = 1;
			byval = true;
			align = TYPALIGN_CHAR;
			break;
		default:
			elog(ERROR, "f1tel: no array of type %u", elemtype);
	}
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, elemtype,
											  len, byval, align));
}

Datum
f1_text_array(int n, const char *const *s)
{
	Datum	   *d = palloc(Max(n, 1) * sizeof(Datum));

	for (int i = 0; i < n; i++)
		d[i] = CStringGetTextDatum(s[i]);
	return f1_array(d, NULL, n, TEXTOID);
}

Datum
f1_int4_array(int n, const int32 *v)
{
	Datum	   *d = palloc(Max(n, 1) * sizeof(Datum));

	for (int i = 0; i < n; i++)
		d[i] = Int32GetDatum(v[i]);
	return f1_array(d, NULL, n, INT4OID);
}

Datum
f1_int8_array_null_if_negative(int n, const int64 *v)
{
	Datum	   *d = palloc(Max(n, 1) * sizeof(Datum));
	bool	   *nulls = palloc(Max(n, 1) * sizeof(bool));

	for (int i = 0; i < n; i++)
	{
		nulls[i] = v[i] < 0;
		d[i] = Int64GetDatum(v[i]);
	}
	return f1_array(d, nulls, n, INT8OID);
}
