/*
 * src/shared/xact.h — the one transaction skeleton of f1tel's workers.
 *
 * A worker's unit of work is one transaction: f1_xact_begin() starts it
 * with a snapshot and SPI and says what it does in pg_stat_activity;
 * f1_xact_commit() or f1_xact_abort() ends it and sets the worker idle.
 * f1_xact_run() runs a function that way and, if it raises an error,
 * reports the error, aborts and returns false: for bookkeeping that must
 * not end the worker.  Waits go through f1_wait_ms(), on the latch with
 * WL_EXIT_ON_PM_DEATH: never sleep outside it (worker_spi).
 */
#ifndef F1TEL_XACT_H
#define F1TEL_XACT_H

#include "postgres.h"

extern void f1_xact_begin(const char *activity);
extern void f1_xact_commit(void);
extern void f1_xact_abort(void);
extern bool f1_xact_run(void (*fn) (void *arg), void *arg, const char *activity);

/* Wait up to ms on the latch (a SIGHUP or SIGTERM ends the wait early). */
extern void f1_wait_ms(long ms);

#endif							/* F1TEL_XACT_H */
