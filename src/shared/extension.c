/*
 * src/shared/extension.c — the one "is the extension there and current"
 * check of every f1tel worker and of the SQL API (see extension.h).
 *
 * Rules for callers: f1tel_lock_extension() runs inside a transaction and
 * keeps the extension's lock (AccessShareLock, taken without waiting) until
 * that transaction ends, so DROP EXTENSION waits at most for it;
 * f1tel_check_extension() opens and ends a transaction of its own.  The
 * version is read from pg_extension with the catalog snapshot after
 * accepting invalidations, so an ALTER EXTENSION f1tel UPDATE committed a
 * moment ago is seen.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/rel.h"

#include "shared/extension.h"
#include "shared/guc.h"

#ifndef F1TEL_VERSION
#error "F1TEL_VERSION must be defined (the Makefile takes it from f1tel.control)"
#endif

PG_FUNCTION_INFO_V1(f1tel_library_version);

/* The f1tel row of pg_extension: false if there is none. */
static bool
read_extension(Oid *oid, char **version)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("f1tel"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		*oid = ((Form_pg_extension) GETSTRUCT(tup))->oid;
		*version = isnull ? NULL : TextDatumGetCString(d);
		found = true;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

F1ExtState
f1tel_lock_extension(Oid *extoid, char **extversion)
{
	Oid			oid = InvalidOid;
	char	   *version = NULL;
	LOCKTAG		tag;
	F1ExtState	state;

	if (extoid)
		*extoid = InvalidOid;
	if (extversion)
		*extversion = NULL;
	if (!read_extension(&oid, &version))
		return F1_EXT_ABSENT;
	SET_LOCKTAG_OBJECT(tag, MyDatabaseId, ExtensionRelationId, oid, 0);
	if (LockAcquire(&tag, AccessShareLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
		return F1_EXT_BUSY;
	/* dropped, or updated, between the look-up and the lock? */
	AcceptInvalidationMessages();
	if (!read_extension(&oid, &version))
		return F1_EXT_ABSENT;
	state = (version != NULL && strcmp(version, F1TEL_VERSION) == 0) ? F1_EXT_READY : F1_EXT_MISMATCH;
	if (extoid)
		*extoid = oid;
	if (extversion)
		*extversion = version;
	return state;
}

F1ExtState
f1tel_check_extension(const char *who, Oid *extoid)
{
	static bool paused = false;
	char	   *version = NULL;
	F1ExtState	state;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	state = f1tel_lock_extension(extoid, &version);
	if (state == F1_EXT_MISMATCH && !paused)
	{
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("f1tel %s: extension \"f1tel\" in database \"%s\" is version %s but the library is %s; the worker is paused",
						who, f1tel_database, version ? version : "(none)", F1TEL_VERSION),
				 errhint("Run ALTER EXTENSION f1tel UPDATE in database \"%s\"; the worker resumes by itself.",
						 f1tel_database)));
		pgstat_report_activity(STATE_IDLE,
							   psprintf("f1tel %s: paused: extension version %s, library %s (ALTER EXTENSION f1tel UPDATE)",
										who, version ? version : "(none)", F1TEL_VERSION));
		paused = true;
	}
	else if (state == F1_EXT_READY && paused)
	{
		ereport(LOG,
				(errmsg("f1tel %s: extension \"f1tel\" is version %s, as the library; resuming",
						who, F1TEL_VERSION)));
		pgstat_report_activity(STATE_IDLE, "");
		paused = false;
	}
	CommitTransactionCommand();
	return state;
}

void
f1tel_require_extension_version(void)
{
	char	   *version = NULL;
	Oid			oid;

	if (read_extension(&oid, &version) &&
		(version == NULL || strcmp(version, F1TEL_VERSION) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"f1tel\" is version %s but the library is %s",
						version ? version : "(none)", F1TEL_VERSION),
				 errhint("Run ALTER EXTENSION f1tel UPDATE.")));
}

/* f1tel.library_version() RETURNS text: the version this library was built as. */
Datum
f1tel_library_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(F1TEL_VERSION));
}
