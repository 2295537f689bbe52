/*
 * src/shared/endpoints.h — the OpenF1 endpoints f1tel carries: the one home
 * of that contract.
 *
 * Everything about an endpoint that code needs is in its row of
 * f1_endpoints (src/shared/endpoints.c): its name (the API's, the staging
 * table's and the file's of a recorded session), its default Kafka topic
 * (the f1tel.topic_<name> setting is defined from it: src/shared/guc.c), its
 * columns with their types, natural key and ranges (the decoder and the
 * store's statements are built from them), the field that orders its
 * records in time and the shape of its message key (f1tel-feed), and
 * which of the enrichment's locks cover its rows (per driver, per session).  The SQL side, the
 * staging table in src/ingest/schema.sql, is checked against this table by
 * sql/03_endpoints.sql through f1tel.endpoints().
 *
 * Plain C, no PostgreSQL headers: used by the server, f1tel-feed and the
 * unit tests.  Read-only data, so thread-safe.
 */
#ifndef F1TEL_ENDPOINTS_H
#define F1TEL_ENDPOINTS_H

#include <stdbool.h>
#include <stdint.h>

typedef enum F1Type
{
	F1T_INT4,					/* JSON integer in [min, max] */
	F1T_FLOAT8,					/* JSON number (integer or float), finite */
	F1T_BOOL,					/* JSON true/false */
	F1T_TEXT,					/* JSON string, valid UTF-8, no NUL */
	F1T_TIMESTAMPTZ,			/* JSON string, ISO 8601 date-time */
	F1T_INT4ARRAY,				/* JSON array of (integer | null), or null */

	/*
	 * A gap or a time that OpenF1 writes in several shapes: a number of
	 * seconds, null, a string "+N LAP" / "+N LAPS" (a lapped car), or, in
	 * qualifying, an array of three (Q1, Q2, Q3) of numbers or nulls.  One
	 * JSON field (F1Column.field) fills up to three columns, each taking the
	 * shape it holds and NULL for the others, so that nothing is lost and
	 * nothing is loose text:
	 */
	F1T_GAP,					/* double precision: the number of seconds */
	F1T_GAP_LAPS,				/* integer: N of "+N LAP(S)" */
	F1T_GAP_Q					/* double precision[]: the array of three */
} F1Type;

/* F1T_GAP: the shapes besides number and null that its field may take */
#define F1G_LAPS	0x01		/* "+N LAP(S)": an F1T_GAP_LAPS column holds N */
#define F1G_Q		0x02		/* [q1, q2, q3]: an F1T_GAP_Q column holds it */

typedef struct F1Column
{
	const char *name;			/* JSON field name and column name */
	F1Type		type;
	bool		key;			/* part of the natural key: present, not null */
	bool		notnull;		/* may not be null (keys are implicitly) */
	int64_t		min;			/* F1T_INT4 and array elements: inclusive range */
	int64_t		max;
	const char *field;			/* JSON field, if not name (F1T_GAP_LAPS, _Q) */
	int			shapes;			/* F1T_GAP: F1G_* accepted besides number, null */
} F1Column;

/* The JSON field a column is decoded from. */
#define F1_COLUMN_FIELD(col)	((col)->field != NULL ? (col)->field : (col)->name)

/* The Kafka message key f1tel-feed gives a record: it decides the partition. */
typedef enum F1KeyShape
{
	F1K_SESSION_DRIVER,			/* "<session_key>:<driver_number>" */
	F1K_SESSION,				/* "<session_key>" */
	F1K_MEETING					/* "<meeting_key>" */
} F1KeyShape;

typedef enum F1EndpointId
{
	F1E_LAPS,
	F1E_POSITION,
	F1E_DRIVERS,
	F1E_RACE_CONTROL,
	F1E_SESSIONS,
	F1E_MEETINGS,
	F1E_CAR_DATA,
	F1E_LOCATION,
	F1E_INTERVALS,
	F1E_PIT,
	F1E_STINTS,
	F1E_WEATHER,
	F1E_SESSION_RESULT,
	F1E_STARTING_GRID,
	F1E_OVERTAKES,
	F1E_TEAM_RADIO,
	F1E_CHAMPIONSHIP_DRIVERS,
	F1E_CHAMPIONSHIP_TEAMS,
	F1E_COUNT
} F1EndpointId;

/*
 * Which advisory locks of the enrichment (f1tel.lock_drivers in
 * src/enrich/triggers.sql) cover an endpoint's rows: its rows decide
 * driver_laps rows of their own driver (per driver), of every driver of
 * their session (weather: per session, exclusive), or none.
 */
typedef enum F1LockScope
{
	F1L_NONE,
	F1L_DRIVER,
	F1L_SESSION
} F1LockScope;

typedef struct F1Endpoint
{
	F1EndpointId id;
	const char *name;			/* API endpoint and table name: "laps" */
	const char *default_topic;	/* "f1_laps", "f1-race_control", ... */
	int			ncolumns;
	const F1Column *columns;	/* in the table's column order (schema.sql) */
	const char *time_field;		/* orders its records in time; NULL: untimed */
	int			untimed_rank;	/* untimed: sent (and stored) first, 1, 2, ... */
	F1KeyShape	key_shape;
	F1LockScope lock;			/* the enrichment's locks that cover its rows */
} F1Endpoint;

/*
 * In id order, which is also the order of a recorded session's files before
 * f1tel-feed merges them by time (it decides between records of equal time).
 */
extern const F1Endpoint f1_endpoints[F1E_COUNT];

/* Look up an endpoint by its name ("laps"); NULL if unknown. */
extern const F1Endpoint *f1_endpoint_by_name(const char *name);

/* The index of the endpoint's column name, or -1. */
extern int	f1_endpoint_column(const F1Endpoint *ep, const char *name);

#endif							/* F1TEL_ENDPOINTS_H */
