/*
 * src/shared/worker.h — entry points of f1tel's background workers and what
 * they share.
 *
 * The launcher (launcher.c) is the one static worker: it connects to no
 * database and starts the others as dynamic workers once f1tel.database
 * exists: f1tel.ingest_workers ingest workers (src/ingest/worker.c) and,
 * when it has a destination, the sink worker (src/sink/worker.c).
 */
#ifndef F1TEL_WORKER_H
#define F1TEL_WORKER_H

#include "postgres.h"

extern PGDLLEXPORT void f1tel_launcher_main(Datum main_arg);
extern PGDLLEXPORT void f1tel_ingest_main(Datum main_arg);
extern PGDLLEXPORT void f1tel_sink_main(Datum main_arg);

extern void f1tel_register_launcher(void);

/*
 * Exit (code 0: the launcher starts the worker again once the database is
 * back) if someone holds this database's lock: DROP DATABASE or a rename is
 * waiting for us to leave.
 */
extern void f1tel_exit_if_database_locked(void);

#endif							/* F1TEL_WORKER_H */
