/*
 * test/unit/test_errclass.c — unit tests of the ingest worker's one rule for
 * database errors, f1_sqlstate_is_content_error() in src/ingest/errclass.h:
 * classes 22 (data exception) and 23 (integrity constraint violation) and
 * 54000 (a value over a size limit) are a message's content and may make it
 * a dead letter; everything else — timeouts, cancels, deadlocks, a full
 * disk, no memory, missing objects, trigger errors, unknown or malformed
 * codes — is of the environment and must be retried.
 *
 * The harness is test/unit/harness.h; `make unit` runs it.
 */
#include <stdbool.h>
#include <stdio.h>

#include "ingest/errclass.h"

#include "harness.h"

static void
test_errclass(void)
{
	static const char *const content[] = {
		"22000", "22001", "22003", "22007", "22008", "22012", "22021", "22023",
		"22P02", "22P05", "23000", "23502", "23503", "23505", "23514", "23P01",
		"54000",
	};
	static const char *const environment[] = {
		"55P03",				/* lock_not_available: lock_timeout */
		"57014",				/* query_canceled: statement_timeout, cancel */
		"40001", "40P01",		/* serialization failure, deadlock */
		"53100", "53200", "53300",	/* disk full, out of memory, too many connections */
		"42883", "42703", "42P01",	/* undefined function, column, table */
		"P0001",				/* a trigger's RAISE EXCEPTION */
		"57P01", "08006", "25P02", "XX000", "XX001", "0A000", "54001", "54011",
		"21000", "24000", "2200", "220000", "", "2", "23",
	};

	begin_case("errclass: content errors");
	for (size_t i = 0; i < sizeof(content) / sizeof(content[0]); i++)
		CHECKF(f1_sqlstate_is_content_error(content[i]), "%s is content", content[i]);
	end_case();

	begin_case("errclass: errors of the environment (and malformed codes)");
	for (size_t i = 0; i < sizeof(environment) / sizeof(environment[0]); i++)
		CHECKF(!f1_sqlstate_is_content_error(environment[i]), "\"%s\" is environment", environment[i]);
	CHECK(!f1_sqlstate_is_content_error(NULL));
	end_case();
}

HARNESS_MAIN(test_errclass();)
