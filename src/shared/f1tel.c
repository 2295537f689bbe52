/*
 * src/shared/f1tel.c — the extension's entry point.
 *
 * f1tel must be loaded through shared_preload_libraries: its workers are
 * registered at server start.  Loaded any other way (CREATE EXTENSION in a
 * server that does not preload it), it refuses with a hint.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include <librdkafka/rdkafka.h>
#include <json-c/json_c_version.h>

#include "shared/guc.h"
#include "shared/worker.h"

PG_MODULE_MAGIC;

/* librdkafka 2.0 and json-c 0.15 are the oldest this code is written against */
StaticAssertDecl(RD_KAFKA_VERSION >= 0x020000ff, "f1tel needs librdkafka 2.0 or later");
StaticAssertDecl(JSON_C_VERSION_NUM >= ((0 << 16) | (15 << 8)), "f1tel needs json-c 0.15 or later");

void		_PG_init(void);

void
_PG_init(void)
{
	if (IsBinaryUpgrade)
		return;
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("f1tel must be loaded via shared_preload_libraries"),
				 errhint("Add f1tel to shared_preload_libraries in postgresql.conf, set f1tel.database, and restart the server.")));

	f1tel_define_gucs();
	f1tel_register_launcher();
}
