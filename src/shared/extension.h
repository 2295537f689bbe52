/*
 * src/shared/extension.h — is the f1tel extension there, and does its SQL
 * match this library?
 *
 * One home for the check every worker makes before it writes: the extension
 * exists in this database, nobody is dropping it (its lock is taken without
 * waiting, so DROP EXTENSION waits at most for the transaction in progress),
 * and its installed version (pg_extension.extversion) is the one this
 * library was built for (F1TEL_VERSION, from f1tel.control).  After a new
 * library is installed and before ALTER EXTENSION f1tel UPDATE, the versions
 * differ: the workers pause instead of writing through SQL objects they do
 * not know, and resume by themselves once the update has run.
 */
#ifndef F1TEL_EXTENSION_H
#define F1TEL_EXTENSION_H

#include "postgres.h"

typedef enum F1ExtState
{
	F1_EXT_READY,				/* there, not being dropped, same version */
	F1_EXT_ABSENT,				/* not created in this database */
	F1_EXT_BUSY,				/* someone holds its lock (DROP EXTENSION) */
	F1_EXT_MISMATCH				/* installed version differs from the library's */
} F1ExtState;

/*
 * In a transaction: lock the extension for the rest of it without waiting,
 * then check its version.  *extoid (if not NULL) gets its OID, InvalidOid if
 * absent; *extversion (if not NULL) the installed version, palloc'd, or NULL.
 */
extern F1ExtState f1tel_lock_extension(Oid *extoid, char **extversion);

/*
 * Outside a transaction: the same check in a transaction of its own (the lock
 * goes with it), and a report of any change of state: a WARNING once when
 * the versions start to differ (and the worker's pg_stat_activity line says
 * so), a LOG line when they match again.  who names the worker in messages.
 */
extern F1ExtState f1tel_check_extension(const char *who, Oid *extoid);

/* ERROR unless the installed extension's version is the library's (SQL API). */
extern void f1tel_require_extension_version(void);

#endif							/* F1TEL_EXTENSION_H */
