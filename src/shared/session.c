/*
 * src/shared/session.c — the session every f1tel worker runs in (the rules
 * are in session.h).
 */
#include "postgres.h"

#include "postmaster/bgworker.h"
#include "utils/guc.h"

#include "shared/guc.h"
#include "shared/session.h"

void
f1tel_worker_connect(void)
{
	BackgroundWorkerInitializeConnection(f1tel_database, NULL, 0);

	/*
	 * PGC_S_OVERRIDE: above the database's and the role's defaults, which
	 * the connection has just applied and which a database owner can set.
	 */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_isolation", "read committed", PGC_SUSET, PGC_S_OVERRIDE);
}
