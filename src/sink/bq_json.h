/*
 * src/sink/bq_json.h — the BigQuery REST v2 wire format of the sink, in
 * plain C: the request bodies it sends and what the answers mean.
 *
 * The sink pushes rows with tabledata.insertAll and creates its datasets,
 * tables and views with datasets.insert / tables.insert.  This header is
 * the one home of that contract; two files implement it, each one job:
 *  - bq_body.c, what we send: the insertAll body and the sizes batches are
 *    planned with, and the dataset, table and view bodies;
 *  - bq_answer.c, what we read back: insertAll's per-row answer, and the
 *    verdict on a refused request (retry, back off for minutes, split the
 *    batch, refresh the token, create the table, give up);
 *  - bq_schema.c, the schema upgrade of a table that is there: its
 *    tables.get answer against f1tel's fields, and the tables.patch body
 *    that appends the missing ones.
 * Retry delays are not computed here: shared/backoff.h.  Facts:
 * ../shared/notes/bigquery.md (from the repository root); field names:
 * Google's discovery document for BigQuery v2 (test/unit/test_bq_body.c checks
 * every body against it).
 *
 * Rules a reader must know:
 *  - No PostgreSQL headers and no PostgreSQL calls: unit-tested outside the
 *    server (test/unit/test_bq_*.c) and compiled into the extension as well.
 *    Only standard and json-c headers are used (in the .c files only).
 *  - Memory comes from malloc: every char * returned is the caller's to
 *    free(); NULL means out of memory or a bad argument.
 *  - Messages are one line, NUL-terminated, truncated to their buffer, with
 *    control characters replaced; they hold BigQuery's own text (which may
 *    quote a row's value) but never a credential.  Buffers may be NULL.
 *  - Thread-safe: no global state.
 */
#ifndef F1TEL_SINK_BQ_JSON_H
#define F1TEL_SINK_BQ_JSON_H

#include <stdbool.h>
#include <stddef.h>

/* BigQuery's limits for one insertAll request (the notes' "Limits"). */
#define F1BQ_MAX_REQUEST_BYTES	10485760	/* 10 MB: HTTP body */
#define F1BQ_MAX_REQUEST_ROWS	50000
#define F1BQ_GOOD_REQUEST_ROWS	500 /* Google's recommendation */
#define F1BQ_MAX_INSERT_ID		128 /* characters */

/* ---- tabledata.insertAll: bodies (bq_body.c) ------------------------------- */

/*
 * One row to insert.  json is the row's JSON object text, made by the caller
 * (it is copied into the body as is: it must be one JSON object, in UTF-8;
 * TIMESTAMPs as "YYYY-MM-DD HH:MM:SS[.ffffff]" UTC, INT64 beyond 2^53 and
 * NUMERIC as strings).  insert_id is BigQuery's best-effort de-duplication
 * key (at most F1BQ_MAX_INSERT_ID characters; deterministic, so that a
 * re-sent row is recognised); NULL sends none.
 */
typedef struct F1BqRow
{
	const char *insert_id;
	const char *json;
	size_t		json_len;
} F1BqRow;

/*
 * The insertAll request body for n rows:
 * {"kind":"bigquery#tableDataInsertAllRequest","skipInvalidRows":false,
 *  "ignoreUnknownValues":false,"rows":[{"insertId":"...","json":{...}},...]}
 * With skipInvalidRows false, one invalid row makes BigQuery insert none:
 * the others come back "stopped" and are re-sent.  Malloc'd and
 * NUL-terminated; *len_out (may be NULL) gets its length.  NULL when out of
 * memory, n < 0, or a row's json is NULL, empty or does not start with '{'.
 * The length is exactly
 *     f1_bq_insertall_envelope() + sum of f1_bq_row_overhead(row) - (n > 0)
 * (each row's overhead counts one separating comma, which the first row
 * does not have), so a caller adding overheads to the envelope stays at or
 * above the real size.
 */
extern char *f1_bq_insertall_body(const F1BqRow *rows, int n, size_t *len_out);

/* Bytes a row adds to the body: its {"insertId":...,"json":...} and a comma. */
extern size_t f1_bq_row_overhead(const F1BqRow *row);

/* Bytes of the body around the rows (the body of zero rows). */
extern size_t f1_bq_insertall_envelope(void);

/* ---- tabledata.insertAll: answers (bq_answer.c) ---------------------------- */

/*
 * What became of one row of an insertAll request that was answered 200.
 * INVALID rows will never be accepted as they are (dead-letter them);
 * STOPPED rows were valid but not inserted because another row was invalid
 * (re-send them without the invalid ones); RETRY rows failed for a transient
 * reason (re-send them after a back-off).
 */
typedef enum F1BqRowStatus
{
	F1BQ_ROW_OK,
	F1BQ_ROW_INVALID,
	F1BQ_ROW_STOPPED,
	F1BQ_ROW_RETRY
} F1BqRowStatus;

typedef struct F1BqRowResult
{
	F1BqRowStatus status;
	char		reason[256];	/* "" when OK; else e.g. "invalid: lap: no such field." */
} F1BqRowResult;

/*
 * Read the body of an insertAll request's 200 answer for nrows rows into
 * results[0 .. nrows-1].  No "insertErrors": every row OK.  Each
 * insertErrors[] entry {"index", "errors": [{"reason", "location",
 * "message"}]} sets its row: any reason "invalid" makes it INVALID, else an
 * unknown or missing reason (accessDenied, ...; an entry with no errors)
 * INVALID too, else any transient one (backendError, internalError,
 * badGateway, rateLimitExceeded, timeout) RETRY, else ("stopped") STOPPED;
 * two entries for one row: the worse one counts.  The reason text is
 * "<reason>: <location>: <message>" of the error that decided, without the
 * parts that are missing.
 * Returns how many rows are not OK, or -1 (errbuf says why) when the body is
 * not such an answer or names a row outside 0 .. nrows-1; results are then
 * undefined.
 */
extern int	f1_bq_parse_insertall_response(const char *body, size_t len, int nrows,
										   F1BqRowResult *results,
										   char *errbuf, size_t errlen);

/* ---- refused requests (bq_answer.c) ------------------------------------------ */

/*
 * What to do about an HTTP answer (any method).
 *   OK         2xx: done (an insertAll's rows still need the parse above).
 *   RETRY      transient: back off (f1_backoff_ms, shared/backoff.h) and
 *              send it again.
 *   QUOTA      quotaExceeded: back off for minutes.
 *   TOO_LARGE  the body is over BigQuery's limit: split the batch.
 *   AUTH       401: refresh the access token, then send it again.
 *   NOT_FOUND  404: a table just created can answer 404 for a while, so
 *              retry a few times before creating the dataset or table.
 *   FATAL      will fail again as sent (invalid, accessDenied, duplicate,
 *              billing, ...): stop and report.
 */
typedef enum F1BqVerdict
{
	F1BQ_OK,
	F1BQ_RETRY,
	F1BQ_QUOTA,
	F1BQ_TOO_LARGE,
	F1BQ_AUTH,
	F1BQ_NOT_FOUND,
	F1BQ_FATAL
} F1BqVerdict;

/*
 * Classify an answer by its HTTP status (0: no answer at all, a connection
 * error or timeout from curl: RETRY) and its body, Google's error envelope
 * {"error": {"code", "message", "errors": [{"reason", "message"}], "status"}}
 * or anything else (an HTML page from Google's front end, a proxy's text).
 * The rules, first match wins: 0 RETRY; 2xx OK; 401 AUTH; 413, or a message
 * "Request payload size exceeds the limit", TOO_LARGE; reason quotaExceeded
 * QUOTA; reasons backendError, internalError, badGateway, rateLimitExceeded,
 * timeout RETRY; 404 NOT_FOUND; 408, 429, 5xx RETRY; anything else FATAL.
 * message (may be NULL) gets a one-line description for the log:
 * "HTTP 404 notFound: Not found: Table p:d.t", or for a body that is not
 * JSON the status and a short excerpt of its text with HTML tags removed.
 */
extern F1BqVerdict f1_bq_classify(long http_status, const char *body, size_t len,
								  char *message, size_t msglen);

/* "OK", "RETRY", ... for messages */
extern const char *f1_bq_verdict_name(F1BqVerdict v);

/* ---- datasets.insert / tables.insert: bodies (bq_body.c) ------------------------ */

/* One column of a table: name, type ("TIMESTAMP", "INT64", ...), mode
 * ("REQUIRED", "NULLABLE", "REPEATED"; NULL sends none: NULLABLE). */
typedef struct F1BqField
{
	const char *name;
	const char *type;
	const char *mode;
} F1BqField;

/*
 * {"datasetReference":{"projectId":project,"datasetId":dataset},
 *  "location":location} (no location when it is NULL: BigQuery's default,
 * US).  Malloc'd; NULL when out of memory or project/dataset is NULL.
 */
extern char *f1_bq_dataset_body(const char *project, const char *dataset,
								const char *location);

/*
 * {"tableReference":{...},"schema":{"fields":[{"name","type","mode"},...]},
 *  "timePartitioning":{"type":"DAY","field":partition_field},
 *  "clustering":{"fields":[...]}}: timePartitioning only with a
 * partition_field (a TIMESTAMP or DATE column), clustering only with
 * ncluster > 0 (BigQuery allows up to 4).  Malloc'd; NULL when out of
 * memory or an argument is missing (a NULL name or type, nfields < 1).
 */
extern char *f1_bq_table_body(const char *project, const char *dataset, const char *table,
							  const F1BqField *fields, int nfields,
							  const char *partition_field,
							  const char *const *cluster_fields, int ncluster);

/*
 * {"tableReference":{...},"view":{"query":query,"useLegacySql":false}}.
 * Malloc'd; NULL when out of memory or an argument is NULL.
 */
extern char *f1_bq_view_body(const char *project, const char *dataset, const char *view,
							 const char *query);

/* ---- tables.get / tables.patch: the schema upgrade (bq_schema.c) --------------- */

/*
 * What an existing table's schema means for f1tel's fields.
 *   SAME      every field is there with its type: nothing to do.
 *   ADD       fields are missing: send the patch body with tables.patch.
 *   CONFLICT  the table cannot take f1tel's rows as it is (message says
 *             why): stop and report; f1tel never drops or retypes a column.
 *   BAD       the answer is not a table resource (or out of memory).
 */
typedef enum F1BqSchemaVerdict
{
	F1BQ_SCHEMA_SAME,
	F1BQ_SCHEMA_ADD,
	F1BQ_SCHEMA_CONFLICT,
	F1BQ_SCHEMA_BAD
} F1BqSchemaVerdict;

/*
 * Compare the body of a tables.get answer (a Table resource) with want[0 ..
 * nwant-1].  Names match ignoring ASCII case, types by meaning (INTEGER is
 * INT64, FLOAT FLOAT64, BOOLEAN BOOL); a field without a mode is NULLABLE.
 * CONFLICT: the resource is not a TABLE (a VIEW, say); a field of f1tel's
 * is there with another type, or REPEATED where f1tel's is not (or the
 * other way round); a column f1tel does not know is REQUIRED (every row
 * would be refused).  Kept as they are: a REQUIRED column where f1tel's is
 * NULLABLE or the reverse (a row without a value is refused on its own),
 * and the user's own NULLABLE or REPEATED columns, anywhere.
 * ADD: *patch (malloc'd, the caller's to free) gets
 *     {"schema":{"fields":[the existing fields as the answer gave them,
 *      in its order, then the missing ones {"name","type","mode":"NULLABLE"}
 *      in want's order]}}
 * (a missing REQUIRED field is added NULLABLE: BigQuery adds no other),
 * and *nmissing (may be NULL) how many were appended.  *patch is NULL
 * otherwise.  message (may be NULL) says what conflicts or what is wrong.
 */
extern F1BqSchemaVerdict f1_bq_schema_compare(const char *answer, size_t len,
											  const F1BqField *want, int nwant,
											  char **patch, int *nmissing,
											  char *message, size_t msglen);

/* Whether two BigQuery type names mean the same type (INTEGER and INT64, ...). */
extern bool f1_bq_same_type(const char *a, const char *b);

/* "SAME", "ADD", ... for messages */
extern const char *f1_bq_schema_verdict_name(F1BqSchemaVerdict v);

#endif							/* F1TEL_SINK_BQ_JSON_H */
