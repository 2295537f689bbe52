/*
 * src/shared/session.h — how an f1tel worker connects to its database.
 *
 * One home for the session settings both workers (ingest, sink) run with.
 * A worker runs its SQL as the bootstrap superuser, so name resolution must
 * not depend on anything a less privileged role can change: the search_path
 * is pg_catalog, pg_temp, whatever ALTER DATABASE / ALTER ROLE say, and the
 * SQL the workers send names f1tel's objects and the built-in functions it
 * calls schema-qualified (pg_catalog.now); its operators, and unnest() with
 * several arrays (grammar that exists only unqualified), resolve through
 * that search_path.  Without it,
 * the owner of a database (not a superuser) could plant public.lower(int8range)
 * and have the worker run it.
 */
#ifndef F1TEL_SESSION_H
#define F1TEL_SESSION_H

/*
 * Connect to f1tel.database as the bootstrap superuser and fix the session's
 * search_path and isolation level (READ COMMITTED: the enrichment triggers
 * and the change feed need a fresh snapshot per statement).
 */
extern void f1tel_worker_connect(void);

#endif							/* F1TEL_SESSION_H */
