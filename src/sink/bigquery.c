/*
 * src/sink/bigquery.c — the BigQuery half of the sink: tables and insertAll.
 *
 * Tables: the dataset, driver_laps and race_control (the seed's columns plus
 * version and the rest of f1tel's), partitioned by day and clustered by
 * session and driver, and the views driver_laps_latest,
 * driver_laps_latest_session and race_control_latest_session are created when
 * missing.  BigQuery is append-only through insertAll: a changed lap is a new
 * row version, and the views show the latest one.
 *
 * Upgrade: a table that is there is compared with f1tel's fields
 * (bq_schema.c); the missing ones are appended NULLABLE with tables.patch,
 * the only change BigQuery makes in place.  Nothing is dropped or retyped:
 * a column f1tel writes that has another type stops the push (refused for
 * good, like a 400) until the user fixes the table.  Fields are appended at
 * the end only, in a new release's order, so a new table and an upgraded
 * one have the same columns in the same order.  A row image without a new
 * column (a server not upgraded yet) simply leaves it NULL.
 *
 * Push: a round of changes goes out as insertAll requests of at most
 * f1tel.bigquery_batch_rows rows and f1tel.bigquery_batch_bytes bytes,
 * f1tel.bigquery_concurrency at a time.  Each row's insertId is
 * "<table>:<key>:v<version>", the same for every retry, so BigQuery drops a
 * row it already has (after a crash before the acknowledgement, say).  A
 * request refused as too large is split; 5xx, 408, 429, connection errors
 * and transient reasons are retried with exponential backoff and jitter;
 * quotaExceeded backs off for minutes; a row refused for good ("invalid") is
 * marked dead and the others ("stopped") are sent again.  A request refused
 * for good (F1BQ_FATAL: a 400 or 403 that is not about quota or size) pauses
 * BigQuery until a reload (the worker's rule).  No wait happens here: the
 * worker schedules the retry (F1SinkStats.wait_ms) and serves the topic
 * meanwhile.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"
#include "utils/timestamp.h"

#include "shared/backoff.h"
#include "shared/guc.h"
#include "sink/auth.h"
#include "sink/bq_json.h"
#include "sink/http.h"
#include "sink/sink.h"

static const F1BqField driver_laps_fields[] = {
	{"session_key", "INT64", "REQUIRED"},
	{"meeting_key", "INT64", "NULLABLE"},
	{"driver_number", "INT64", "REQUIRED"},
	{"lap_number", "INT64", "REQUIRED"},
	{"date_start", "TIMESTAMP", "NULLABLE"},
	{"lap_duration", "FLOAT64", "NULLABLE"},
	{"duration_sector_1", "FLOAT64", "NULLABLE"},
	{"duration_sector_2", "FLOAT64", "NULLABLE"},
	{"duration_sector_3", "FLOAT64", "NULLABLE"},
	{"i1_speed", "INT64", "NULLABLE"},
	{"i2_speed", "INT64", "NULLABLE"},
	{"st_speed", "INT64", "NULLABLE"},
	{"is_pit_out_lap", "BOOL", "NULLABLE"},
	{"lap_end", "TIMESTAMP", "NULLABLE"},
	{"position", "INT64", "NULLABLE"},
	{"name_acronym", "STRING", "NULLABLE"},
	{"full_name", "STRING", "NULLABLE"},
	{"team_name", "STRING", "NULLABLE"},
	{"team_colour", "STRING", "NULLABLE"},
	{"version", "INT64", "REQUIRED"},
	{"updated_at", "TIMESTAMP", "NULLABLE"},
	{"deleted", "BOOL", "NULLABLE"},	/* true: the lap was deleted in f1tel */
	/* f1tel 0.2: stint, pit stop, interval, weather and car data of the lap */
	{"stint_number", "INT64", "NULLABLE"},
	{"compound", "STRING", "NULLABLE"},
	{"tyre_age", "INT64", "NULLABLE"},
	{"pit_in", "BOOL", "NULLABLE"},
	{"pit_duration", "FLOAT64", "NULLABLE"},
	{"gap_to_leader", "FLOAT64", "NULLABLE"},
	{"interval", "FLOAT64", "NULLABLE"},
	{"gap_to_leader_laps", "INT64", "NULLABLE"},
	{"interval_laps", "INT64", "NULLABLE"},
	{"air_temperature", "FLOAT64", "NULLABLE"},
	{"track_temperature", "FLOAT64", "NULLABLE"},
	{"rainfall", "INT64", "NULLABLE"},
	{"max_speed", "INT64", "NULLABLE"},
	{"mean_throttle", "FLOAT64", "NULLABLE"},
	{"full_throttle_share", "FLOAT64", "NULLABLE"},
	{"brake_share", "FLOAT64", "NULLABLE"},
	{"drs_open_share", "FLOAT64", "NULLABLE"},
	{"samples", "INT64", "NULLABLE"},
};

static const F1BqField race_control_fields[] = {
	{"id", "INT64", "REQUIRED"},
	{"session_key", "INT64", "REQUIRED"},
	{"meeting_key", "INT64", "NULLABLE"},
	{"date", "TIMESTAMP", "NULLABLE"},
	{"driver_number", "INT64", "NULLABLE"},
	{"lap_number", "INT64", "NULLABLE"},
	{"sector", "INT64", "NULLABLE"},
	{"category", "STRING", "NULLABLE"},
	{"flag", "STRING", "NULLABLE"},
	{"scope", "STRING", "NULLABLE"},
	{"message", "STRING", "NULLABLE"},
};

static bool tables_ready;
static bool prepare_refused;	/* the last f1_bq_prepare() failed for good */

static char *
api_url(const char *fmt,...) pg_attribute_printf(1, 2);

static char *
api_url(const char *fmt,...)
{
	StringInfoData s;
	va_list		ap;

	initStringInfo(&s);
	appendStringInfo(&s, "%s/bigquery/v2/projects/%s/", f1tel_bigquery_endpoint, f1tel_bigquery_project);
	for (;;)
	{
		int			needed;

		va_start(ap, fmt);
		needed = appendStringInfoVA(&s, fmt, ap);
		va_end(ap);
		if (needed == 0)
			break;
		enlargeStringInfo(&s, needed);
	}
	return s.data;
}

/* One synchronous request with auth; a 401 refreshes the token once. */
static void
call(F1HttpRequest *req, char **error)
{
	for (int attempt = 0; attempt < 2; attempt++)
	{
		bool		ok;

		req->bearer = f1_auth_token(attempt > 0, error, &ok);
		if (!ok)
		{
			req->status = -1;
			return;
		}
		f1_http_run_one(req, f1tel_bigquery_timeout_ms);
		if (req->status != 401)
			return;
	}
}

/*
 * A table that is there: append the fields of f1tel's that it lacks with
 * tables.patch (the GET answer's fields first, unchanged).  false (and
 * *error) on failure; a conflict is refused for good.
 */
static bool
upgrade_schema(const char *what, char *url, StringInfo answer, const F1BqField *fields,
			   int nfields, char **error)
{
	F1HttpRequest req;
	char		msg[512];
	char	   *patch = NULL;
	int			nmissing = 0;
	F1BqSchemaVerdict v;

	v = f1_bq_schema_compare(answer->data, answer->len, fields, nfields, &patch, &nmissing,
							 msg, sizeof(msg));
	if (v == F1BQ_SCHEMA_SAME)
		return true;
	if (v != F1BQ_SCHEMA_ADD)
	{
		prepare_refused = true;
		if (v == F1BQ_SCHEMA_CONFLICT)
			*error = psprintf("BigQuery: %s cannot take f1tel's rows: %s; f1tel never drops or "
							  "retypes a column: drop or rename that column in BigQuery (or move the "
							  "table away), then reload the configuration", what, msg);
		else
			*error = psprintf("BigQuery: reading the schema of %s failed: %s", what, msg);
		return false;
	}
	memset(&req, 0, sizeof(req));
	req.method = "PATCH";
	req.url = url;
	req.body = pstrdup(patch);
	req.body_len = strlen(patch);
	free(patch);
	call(&req, error);
	if (req.status == -1)
		return false;
	if (req.status == 200)
	{
		ereport(LOG, (errmsg("f1tel sink: added %d column%s to BigQuery %s", nmissing,
							 nmissing == 1 ? "" : "s", what)));
		return true;
	}
	prepare_refused = f1_bq_classify(req.status, req.response.data, req.response.len,
									 msg, sizeof(msg)) == F1BQ_FATAL;
	*error = psprintf("BigQuery: adding %d column%s to %s failed (HTTP %ld): %s", nmissing,
					  nmissing == 1 ? "" : "s", what, req.status, req.status ? msg : req.error);
	return false;
}

/*
 * GET path; if 404, POST body to create_path; if there and fields is not
 * NULL (a table), upgrade its schema.  false (and *error) on failure.
 */
static bool
ensure(const char *what, char *get_url, char *create_url, char *body,
	   const F1BqField *fields, int nfields, char **error)
{
	F1HttpRequest req;
	char		msg[512];

	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = get_url;
	call(&req, error);
	if (req.status == -1)
		return false;
	if (req.status == 200)
		return fields == NULL ||
			upgrade_schema(what, get_url, &req.response, fields, nfields, error);
	if (req.status != 404)
	{
		prepare_refused = f1_bq_classify(req.status, req.response.data, req.response.len,
										 msg, sizeof(msg)) == F1BQ_FATAL;
		*error = psprintf("BigQuery: reading %s failed (HTTP %ld): %s", what,
						  req.status, req.status ? msg : req.error);
		return false;
	}
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = create_url;
	req.body = body;
	req.body_len = strlen(body);
	call(&req, error);
	if (req.status == -1)
		return false;
	if (req.status == 200 || req.status == 409)	/* 409: created meanwhile */
	{
		ereport(LOG, (errmsg("f1tel sink: created BigQuery %s", what)));
		return true;
	}
	{
		/* a 404 here: the project itself is not there */
		F1BqVerdict v = f1_bq_classify(req.status, req.response.data, req.response.len,
									   msg, sizeof(msg));

		prepare_refused = v == F1BQ_NOT_FOUND || v == F1BQ_FATAL;
	}
	*error = psprintf("BigQuery: creating %s failed (HTTP %ld): %s", what,
					  req.status, req.status ? msg : req.error);
	return false;
}

static char *
view_query(const char *view)
{
	const char *p = f1tel_bigquery_project;
	const char *d = f1tel_bigquery_dataset;
	const char *latest_session =
		"(SELECT session_key FROM `%s.%s.driver_laps` ORDER BY date_start DESC LIMIT 1)";
	char	   *ls = psprintf(latest_session, p, d);

	if (strcmp(view, "driver_laps_latest") == 0)
		return psprintf("SELECT * FROM `%s.%s.driver_laps` WHERE TRUE "
						"QUALIFY ROW_NUMBER() OVER (PARTITION BY session_key, driver_number, lap_number "
						"ORDER BY version DESC) = 1", p, d);
	if (strcmp(view, "driver_laps_latest_session") == 0)
		return psprintf("SELECT * FROM `%s.%s.driver_laps_latest` WHERE session_key = %s", p, d, ls);
	return psprintf("SELECT * FROM `%s.%s.race_control` WHERE session_key = %s", p, d, ls);
}

bool
f1_bq_prepare(char **error)
{
	static const char *const cluster[] = {"session_key", "driver_number"};
	static const char *const views[] = {
		"driver_laps_latest", "driver_laps_latest_session", "race_control_latest_session"
	};
	const char *p = f1tel_bigquery_project;
	const char *d = f1tel_bigquery_dataset;

	if (tables_ready)
		return true;
	prepare_refused = false;
	if (!ensure(psprintf("dataset %s:%s", p, d), api_url("datasets/%s", d),
				api_url("datasets"), f1_bq_dataset_body(p, d, f1tel_bigquery_location), NULL, 0, error))
		return false;
	if (!ensure(psprintf("table %s.driver_laps", d), api_url("datasets/%s/tables/driver_laps", d),
				api_url("datasets/%s/tables", d),
				f1_bq_table_body(p, d, "driver_laps", driver_laps_fields, lengthof(driver_laps_fields),
								 "date_start", cluster, 2),
				driver_laps_fields, lengthof(driver_laps_fields), error))
		return false;
	if (!ensure(psprintf("table %s.race_control", d), api_url("datasets/%s/tables/race_control", d),
				api_url("datasets/%s/tables", d),
				f1_bq_table_body(p, d, "race_control", race_control_fields, lengthof(race_control_fields),
								 "date", cluster, 1),
				race_control_fields, lengthof(race_control_fields), error))
		return false;
	for (int i = 0; i < (int) lengthof(views); i++)
		if (!ensure(psprintf("view %s.%s", d, views[i]), api_url("datasets/%s/tables/%s", d, views[i]),
					api_url("datasets/%s/tables", d),
					f1_bq_view_body(p, d, views[i], view_query(views[i])), NULL, 0, error))
			return false;
	tables_ready = true;
	return true;
}

void
f1_bq_forget_tables(void)
{
	tables_ready = false;
}

/* ---- pushing a round ---------------------------------------------------- */

typedef struct Req
{
	const char *table;
	int		   *idx;			/* indexes into the round's changes */
	int			n;
	char	   *body;
	size_t		len;
} Req;

/* Cut the pending rows of one table into requests within the limits. */
static int
plan_requests(F1SinkChange *ch, int n, const char *table, int cap, Req *out, int max_out)
{
	int			nreq = 0;
	int			i = 0;

	while (i < n && nreq < max_out)
	{
		size_t		bytes = 256;
		Req		   *r = &out[nreq];

		r->table = table;
		r->idx = palloc(cap * sizeof(int));
		r->n = 0;
		for (; i < n && r->n < cap; i++)
		{
			F1BqRow		row = {ch[i].insert_id, ch[i].row, ch[i].rowlen};
			size_t		cost;

			if (ch[i].state != F1_CHANGE_PENDING || strcmp(ch[i].table, table) != 0)
				continue;
			cost = f1_bq_row_overhead(&row);
			if (r->n > 0 && bytes + cost > (size_t) f1tel_bigquery_batch_bytes)
				break;
			bytes += cost;
			r->idx[r->n++] = i;
		}
		if (r->n > 0)
			nreq++;
	}
	return nreq;
}

static void
build_body(Req *r, F1SinkChange *ch)
{
	F1BqRow    *rows = palloc(r->n * sizeof(F1BqRow));
	char	   *body;

	for (int k = 0; k < r->n; k++)
	{
		F1SinkChange *c = &ch[r->idx[k]];

		rows[k].insert_id = c->insert_id;
		rows[k].json = c->row;
		rows[k].json_len = c->rowlen;
	}
	body = f1_bq_insertall_body(rows, r->n, &r->len);
	if (body == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	r->body = pnstrdup(body, r->len);
	free(body);
	pfree(rows);
}

/*
 * Push a round: passes of insertAll requests, again at once for what a pass
 * left to resend without waiting (rows "stopped" by another's refusal, a
 * split, a refreshed token), at most MAX_PASSES.  It never sleeps: a pass
 * that asks for a wait (5xx, 429, quota, a timeout) ends the round with
 * stats->wait_ms, and the worker tries BigQuery again no sooner, serving the
 * topic meanwhile.  A permanent refusal of a request (F1BQ_FATAL: 400, 403
 * other than quota) sets stats->refused: the worker pauses BigQuery.
 */
#define MAX_PASSES 8

bool
f1_bq_push(F1SinkChange *ch, int n, F1SinkStats *stats, char **error)
{
	static uint64_t rng = 0;
	int			cap = f1tel_bigquery_batch_rows;	/* halved when "too large" */

	*error = NULL;
	if (rng == 0)				/* workers must not back off in step */
		rng = f1_backoff_seed(GetCurrentTimestamp(), MyProcPid);
	if (!f1_bq_prepare(error))
	{
		stats->refused = prepare_refused;
		return false;
	}

	for (int pass = 0;; pass++)
	{
		int			maxreq = n + 2;
		Req		   *reqs = palloc0(maxreq * sizeof(Req));
		F1HttpRequest *http;
		int			nreq = 0;
		bool		ok;
		const char *bearer;
		int64		wait_ms = 0;
		bool		auth_failed = false;
		bool		pending = false;

		for (int i = 0; i < n; i++)
			pending |= ch[i].state == F1_CHANGE_PENDING;
		if (!pending)
			return true;
		if (pass >= MAX_PASSES)
		{
			*error = psprintf("BigQuery: %d passes left rows to send again", pass);
			stats->wait_ms = f1_backoff_ms(0, 200, 30000, &rng);
			return false;
		}

		nreq += plan_requests(ch, n, "driver_laps", cap, reqs + nreq, maxreq - nreq);
		nreq += plan_requests(ch, n, "race_control", cap, reqs + nreq, maxreq - nreq);
		bearer = f1_auth_token(false, error, &ok);
		if (!ok)
			return false;
		http = palloc0(nreq * sizeof(F1HttpRequest));
		for (int r = 0; r < nreq; r++)
		{
			build_body(&reqs[r], ch);
			http[r].method = "POST";
			http[r].url = api_url("datasets/%s/tables/%s/insertAll", f1tel_bigquery_dataset, reqs[r].table);
			http[r].body = reqs[r].body;
			http[r].body_len = reqs[r].len;
			http[r].bearer = bearer;
		}
		f1_http_run(http, nreq, f1tel_bigquery_concurrency, f1tel_bigquery_timeout_ms);
		stats->requests += nreq;

		for (int r = 0; r < nreq; r++)
		{
			Req		   *q = &reqs[r];
			F1HttpRequest *h = &http[r];
			char		msg[512];
			F1BqVerdict v = h->status == 200 ? F1BQ_OK :
				f1_bq_classify(h->status, h->response.data, h->response.len, msg, sizeof(msg));

			if (v == F1BQ_OK)
			{
				F1BqRowResult *res = palloc(q->n * sizeof(F1BqRowResult));
				char		errbuf[256];

				if (f1_bq_parse_insertall_response(h->response.data, h->response.len, q->n,
												   res, errbuf, sizeof(errbuf)) < 0)
				{
					*error = psprintf("BigQuery: unreadable insertAll answer: %s", errbuf);
					wait_ms = Max(wait_ms, 1000);
					continue;
				}
				for (int k = 0; k < q->n; k++)
				{
					F1SinkChange *c = &ch[q->idx[k]];

					switch (res[k].status)
					{
						case F1BQ_ROW_OK:
							c->state = F1_CHANGE_DONE;
							stats->rows++;
							break;
						case F1BQ_ROW_INVALID:
							c->state = F1_CHANGE_DEAD;
							c->reason = pstrdup(res[k].reason);
							break;
						case F1BQ_ROW_STOPPED:
							break;	/* sent again at once */
						case F1BQ_ROW_RETRY:
							wait_ms = Max(wait_ms, 200);
							break;
					}
				}
				continue;
			}
			if (h->status != 0)
				*error = psprintf("BigQuery insertAll into %s: HTTP %ld: %s", q->table, h->status, msg);
			else
				*error = psprintf("BigQuery insertAll into %s: %s", q->table, h->error);
			switch (v)
			{
				case F1BQ_TOO_LARGE:
					if (q->n == 1)
					{
						ch[q->idx[0]].state = F1_CHANGE_DEAD;
						ch[q->idx[0]].reason = psprintf("row too large for insertAll: %s", msg);
					}
					else
					{
						/* split: halve the requests of the next pass */
						cap = Max(1, Min(cap, q->n / 2));
						stats->splits++;
					}
					break;
				case F1BQ_AUTH:
					auth_failed = true;
					break;
				case F1BQ_NOT_FOUND:
					f1_bq_forget_tables();
					wait_ms = Max(wait_ms, 2000);
					break;
				case F1BQ_QUOTA:
					wait_ms = Max(wait_ms, 120000);	/* quotaExceeded: minutes */
					break;
				case F1BQ_FATAL:
					stats->refused = true;	/* the worker pauses BigQuery */
					break;
				case F1BQ_RETRY:
				default:
					wait_ms = Max(wait_ms, f1_backoff_ms(0, 200, 30000, &rng));
					break;
			}
		}
		if (stats->refused)
			return false;
		if (auth_failed)
		{
			(void) f1_auth_token(true, error, &ok);
			if (!ok)
				return false;
		}
		if (wait_ms > 0)
		{
			/* the worker waits, serving the topic meanwhile */
			stats->retries++;
			stats->wait_ms = wait_ms;
			return false;
		}
	}
}

/* ---- f1tel.bigquery_schema(): the schema above, for SQL ------------------- */

PG_FUNCTION_INFO_V1(f1tel_bigquery_schema);

static void
put_fields(ReturnSetInfo *rsinfo, const char *table, const F1BqField *fields, int n)
{
	for (int i = 0; i < n; i++)
	{
		Datum		values[5];
		bool		nulls[5] = {false};

		values[0] = CStringGetTextDatum(table);
		values[1] = Int32GetDatum(i + 1);
		values[2] = CStringGetTextDatum(fields[i].name);
		values[3] = CStringGetTextDatum(fields[i].type);
		values[4] = CStringGetTextDatum(fields[i].mode);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

Datum
f1tel_bigquery_schema(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	put_fields(rsinfo, "driver_laps", driver_laps_fields, lengthof(driver_laps_fields));
	put_fields(rsinfo, "race_control", race_control_fields, lengthof(race_control_fields));
	return (Datum) 0;
}
