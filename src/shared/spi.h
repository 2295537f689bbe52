/*
 * src/shared/spi.h — what every f1tel module that sends SQL shares: saved
 * plans and array parameters.
 *
 * Rules: SQL goes through SPI with parameters and a plan saved for the life
 * of the process (f1_keep_plan), built from constant text, never from data.
 * Arrays are built in the current memory context.  Call inside a
 * transaction with SPI connected.
 */
#ifndef F1TEL_SPI_H
#define F1TEL_SPI_H

#include "postgres.h"

#include "executor/spi.h"

/* SPI_prepare + SPI_keepplan; ERROR (naming the statement) on failure. */
extern SPIPlanPtr f1_keep_plan(const char *sql, int nargs, Oid *types);

/*
 * A one-dimensional array of n elements of elemtype (TEXTOID, BYTEAOID,
 * INT4OID, INT8OID, FLOAT8OID, BOOLOID or TIMESTAMPTZOID: the types f1tel's
 * tables use, so no catalog look-up is needed); nulls may be NULL (no null
 * element).
 */
extern Datum f1_array(Datum *elems, bool *nulls, int n, Oid elemtype);

extern Datum f1_text_array(int n, const char *const *s);
extern Datum f1_int4_array(int n, const int32 *v);
/* negative values become NULL (an offset or counter that is not known) */
extern Datum f1_int8_array_null_if_negative(int n, const int64 *v);

#endif							/* F1TEL_SPI_H */
