/*
 * src/ingest/errclass.h — whether a database error is a message's fault.
 *
 * The one rule of the ingest worker for errors (batch.c): only an error
 * caused by a message's content may make it a dead letter; every other
 * error is of the environment (a lock or statement timeout, a cancel, a
 * full disk, no memory, a deadlock, a missing column or function, a
 * trigger of the user's that fails) and passes: the batch is rolled back,
 * its offsets stay where they are, and it is written again after a
 * back-off.  Decode errors (decode.h) are content errors by definition and
 * never reach this function; it judges the errors the database raises:
 *
 *   class 22  data exception (a value the database refuses)
 *   class 23  integrity constraint violation (CHECK, NOT NULL, UNIQUE, FK)
 *   54000     program limit exceeded: a value too large for an index
 *             ("index row size ... exceeds maximum"), an array or a row
 *             over a size limit
 *
 * Everything else, including an unknown or malformed SQLSTATE, is of the
 * environment: retrying costs time, dead-lettering would lose data.
 *
 * Plain C over the five-character SQLSTATE (unpack_sql_state() of an
 * ErrorData's sqlerrcode): no PostgreSQL header, so that it can be
 * unit-tested outside the server.
 */
#ifndef F1TEL_ERRCLASS_H
#define F1TEL_ERRCLASS_H

#include <stdbool.h>
#include <string.h>

static inline bool
f1_sqlstate_is_content_error(const char *sqlstate)
{
	if (sqlstate == NULL || strlen(sqlstate) != 5)
		return false;
	if (sqlstate[0] == '2' && (sqlstate[1] == '2' || sqlstate[1] == '3'))
		return true;
	return strcmp(sqlstate, "54000") == 0;
}

#endif							/* F1TEL_ERRCLASS_H */
