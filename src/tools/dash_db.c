/*
 * src/tools/dash_db.c — the database thread of f1tel-dash: the one libpq
 * connection, its LISTEN, and the rounds that recompute the parts browsers
 * watch.
 *
 * Rules a reader must know:
 * - This thread is the only user of the PGconn.  It never holds dash_lock
 *   while it waits for PostgreSQL: a round copies what to compute under the
 *   lock, runs the queries unlocked, and stores each result under the lock.
 * - The connection reads as f1tel_reader (SET ROLE), in read-only
 *   transactions, with statement_timeout 10 s and without JIT (it made a
 *   20 ms tower take 100-350 ms to compile): a browser can make it run
 *   nothing but dash_queries.c's fixed queries, with a checked integer.
 * - A round is one REPEATABLE READ READ ONLY transaction, so the parts it
 *   computes agree with each other.  A session asked for by several
 *   watches (latest and its own key) is computed once per round.
 * - Rounds are spaced at least ROUND_GAP_MS apart and start ROUND_DELAY_MS
 *   after the first notification of a burst: a replay at speed sends
 *   notifications all the time, and one round then covers many commits.
 * - When the connection fails, the pages are told (dash_set_db), and it is
 *   tried again after 0.5 s, doubling to 5 s.  Nothing of the conninfo but
 *   what PQhost/PQport/PQdb say is ever printed (it may hold a password).
 */
#include "tools/dash.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#define ROUND_DELAY_MS 30
#define ROUND_GAP_MS 150
#define SESSIONS_GAP_MS 1000
#define RETRY_MIN_MS 500
#define RETRY_MAX_MS 5000

/* what one round computes for one watch */
typedef struct Job
{
	int			key;
	int			resolved;
	uint32_t	dirty;
	char	   *json[DASH_NPARTS];
} Job;

static void
say(const DashDbConfig *cfg, const char *msg, const char *detail)
{
	if (!cfg->quiet)
		fprintf(stderr, "f1tel-dash: %s%s%s\n", msg, detail ? ": " : "", detail ? detail : "");
}

/* the first line of libpq's message, without its trailing newline */
static void
first_line(const char *msg, char *out, size_t outlen)
{
	size_t		n = strcspn(msg ? msg : "", "\n");

	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, msg ? msg : "", n);
	out[n] = '\0';
}

static void
report_down(const DashDbConfig *cfg, const char *why)
{
	char		line[512];

	first_line(why, line, sizeof(line));
	pthread_mutex_lock(&dash_lock);
	dash_set_db(false, "database unavailable", line);
	pthread_mutex_unlock(&dash_lock);
	say(cfg, "database unavailable", line);
}

/* wait up to ms for the wake pipe (or stop); true when stopping */
static bool
nap(int ms)
{
	struct pollfd pfd = {.fd = dash_wake_fd(),.events = POLLIN};

	if (dash_stopping)
		return true;
	(void) poll(&pfd, 1, ms);
	dash_drain_wake();
	return dash_stopping;
}

static bool
exec_ok(PGconn *conn, const char *sql, char *err, size_t errlen)
{
	PGresult   *r = PQexec(conn, sql);
	bool		ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok)
		first_line(PQresultErrorMessage(r), err, errlen);
	PQclear(r);
	return ok;
}

static PGconn *
connect_db(const DashDbConfig *cfg, char *err, size_t errlen)
{
	/* ours first: the user's conninfo (expanded from dbname) overrides them */
	const char *const keys[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
	const char *const vals[] = {"5", "f1tel-dash", cfg->conninfo, NULL};
	PGconn	   *conn = PQconnectdbParams(keys, vals, 1);
	static const char *const setup =
		"SET search_path = pg_catalog, pg_temp;"
		"SET TimeZone = 'UTC';"
		"SET statement_timeout = '10s';"
		/* the queries are small: JIT's compile time was most of a tower's */
		"SET jit = off;"
		"SET default_transaction_read_only = on;"
		"SET ROLE f1tel_reader;"
		"LISTEN f1tel_changes";

	if (conn == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK)
	{
		first_line(PQerrorMessage(conn), err, errlen);
		PQfinish(conn);
		return NULL;
	}
	if (!exec_ok(conn, setup, err, errlen))
	{
		if (strstr(err, "f1tel_reader") != NULL)
		{
			char		msg[600];

			snprintf(msg, sizeof(msg), "%s (the dashboard reads as f1tel_reader: GRANT f1tel_reader TO the role of --db)", err);
			first_line(msg, err, errlen);
		}
		PQfinish(conn);
		return NULL;
	}
	for (int p = 0; p < DASH_NPARTS; p++)
	{
		char		name[16];
		Oid			types[1] = {23};	/* int4 */
		PGresult   *r;

		snprintf(name, sizeof(name), "part%d", p);
		r = PQprepare(conn, name, dash_part_sql[p], 1, types);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
		{
			first_line(PQresultErrorMessage(r), err, errlen);
			PQclear(r);
			PQfinish(conn);
			return NULL;
		}
		PQclear(r);
	}
	if (!cfg->quiet)
		fprintf(stderr, "f1tel-dash: connected to database \"%s\" on %s:%s, listening for f1tel_changes\n",
				PQdb(conn), PQhost(conn), PQport(conn));
	return conn;
}

/* one text value of a one-row result, malloc'd; NULL with err on failure */
static char *
one_text(PGresult *r, char *err, size_t errlen)
{
	char	   *s;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) != 1)
	{
		first_line(PQresultErrorMessage(r), err, errlen);
		if (err[0] == '\0')
			snprintf(err, errlen, "a query returned %d rows", PQntuples(r));
		return NULL;
	}
	s = strdup(PQgetisnull(r, 0, 0) ? "null" : PQgetvalue(r, 0, 0));
	if (s == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/*
	 * json_agg puts line breaks between elements; an event's data is one
	 * line.  A JSON string holds no raw line break, so they are all layout.
	 */
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return s;
}

static int
query_latest(PGconn *conn, bool *ok, char *err, size_t errlen)
{
	PGresult   *r = PQexec(conn, dash_latest_sql);
	char	   *s = one_text(r, err, errlen);
	int			key = 0;

	PQclear(r);
	*ok = s != NULL;
	if (s != NULL && strcmp(s, "null") != 0)
		key = atoi(s);
	free(s);
	return key;
}

static char *
query_part(PGconn *conn, DashPart p, int session, char *err, size_t errlen)
{
	char		name[16];
	char		arg[16];
	const char *vals[1] = {arg};
	PGresult   *r;
	char	   *s;

	if (session == 0)
		return strdup(dash_part_empty[p]);
	snprintf(name, sizeof(name), "part%d", (int) p);
	snprintf(arg, sizeof(arg), "%d", session);
	r = PQexecPrepared(conn, name, 1, vals, NULL, NULL, 0);
	s = one_text(r, err, errlen);
	PQclear(r);
	return s;
}

/* the order of a round: the cheap and urgent parts first */
static const DashPart round_order[DASH_NPARTS] = {
	PART_SESSION, PART_RACE_CONTROL, PART_WEATHER, PART_TRACK,
	PART_TOWER, PART_FASTEST_LAPS, PART_POSITIONS, PART_SPEED_TRAP
};

/*
 * One round: what is dirty, for every watch, in one read-only snapshot.
 * false when the connection (or a query) failed; what it did not compute
 * is dirty again.
 */
static bool
run_round(PGconn *conn, bool sessions_due, char *err, size_t errlen)
{
	Job			jobs[DASH_MAX_WATCHES];
	int			njobs = 0;
	bool		want_sessions;
	char	   *sessions = NULL;
	bool		ok = true;

	pthread_mutex_lock(&dash_lock);
	for (int i = 0; i < DASH_MAX_WATCHES; i++)
	{
		DashWatch  *w = &dash_watches[i];

		if (!w->used || w->dirty == 0)
			continue;
		memset(&jobs[njobs], 0, sizeof(Job));
		jobs[njobs].key = w->key;
		jobs[njobs].resolved = w->resolved;
		jobs[njobs].dirty = w->dirty;
		w->dirty = 0;
		njobs++;
	}
	want_sessions = dash_sessions_wanted && sessions_due;
	if (want_sessions)
		dash_sessions_wanted = false;
	pthread_mutex_unlock(&dash_lock);
	if (njobs == 0 && !want_sessions)
		return true;

	if (!exec_ok(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, errlen))
		ok = false;
	for (int j = 0; ok && j < njobs; j++)
	{
		Job		   *job = &jobs[j];

		if (job->key == 0 && (job->dirty & (1u << PART_SESSION)))
		{
			int			latest = query_latest(conn, &ok, err, errlen);

			if (ok && latest != job->resolved)
			{
				job->resolved = latest;
				job->dirty = (1u << DASH_NPARTS) - 1;
			}
		}
		else if (job->key != 0)
			job->resolved = job->key;
		for (int k = 0; ok && k < DASH_NPARTS; k++)
		{
			DashPart	p = round_order[k];

			if (!(job->dirty & (1u << p)))
				continue;
			/* computed already this round for the same session? */
			for (int o = 0; o < j && job->json[p] == NULL; o++)
				if (jobs[o].resolved == job->resolved && jobs[o].json[p] != NULL)
					job->json[p] = strdup(jobs[o].json[p]);
			if (job->json[p] == NULL)
				job->json[p] = query_part(conn, p, job->resolved, err, errlen);
			if (job->json[p] == NULL)
				ok = false;
		}
	}
	if (ok && want_sessions)
	{
		PGresult   *r = PQexec(conn, dash_sessions_sql);

		sessions = one_text(r, err, errlen);
		PQclear(r);
		ok = sessions != NULL;
	}
	if (ok && !exec_ok(conn, "COMMIT", err, errlen))
		ok = false;
	if (!ok)
		PQclear(PQexec(conn, "ROLLBACK"));

	pthread_mutex_lock(&dash_lock);
	for (int j = 0; j < njobs; j++)
	{
		DashWatch  *w = dash_watch_find(jobs[j].key);
		bool		complete = true;

		for (int p = 0; p < DASH_NPARTS; p++)
		{
			if (w == NULL || !ok)
				free(jobs[j].json[p]);
			else if (jobs[j].json[p] != NULL)
				dash_watch_set_part(w, (DashPart) p, jobs[j].json[p]);
			if (w != NULL && w->json[p] == NULL)
				complete = false;
		}
		if (w == NULL)
			continue;
		if (!ok)
			w->dirty |= jobs[j].dirty;
		else
		{
			w->resolved = jobs[j].resolved;
			if (complete && !w->ready)
			{
				w->ready = true;
				pthread_cond_broadcast(&dash_changed);
			}
		}
	}
	if (sessions != NULL)
	{
		if (ok && (dash_sessions_json == NULL || strcmp(dash_sessions_json, sessions) != 0))
		{
			free(dash_sessions_json);
			dash_sessions_json = sessions;
			dash_sessions_version = dash_next_version();
			pthread_cond_broadcast(&dash_changed);
		}
		else
			free(sessions);
	}
	if (!ok && want_sessions)
		dash_sessions_wanted = true;
	pthread_mutex_unlock(&dash_lock);
	return ok;
}

/* read what arrived; false when the connection is gone */
static bool
read_notifications(PGconn *conn, bool *any)
{
	PGnotify   *n;

	if (!PQconsumeInput(conn))
		return false;
	pthread_mutex_lock(&dash_lock);
	while ((n = PQnotifies(conn)) != NULL)
	{
		uint32_t	parts = dash_parts_of_table(n->extra);

		dash_mark_dirty_all(parts);
		if (parts & (1u << PART_SESSION))
			dash_sessions_wanted = true;
		*any = true;
		PQfreemem(n);
	}
	pthread_mutex_unlock(&dash_lock);
	return PQstatus(conn) == CONNECTION_OK;
}

void *
dash_db_main(void *arg)
{
	const DashDbConfig *cfg = arg;
	PGconn	   *conn = NULL;
	int			retry_ms = RETRY_MIN_MS;
	int64_t		last_round = 0;
	int64_t		sessions_at = 0;
	char		err[512];

	while (!dash_stopping)
	{
		struct pollfd pfd[2];
		bool		any = false;
		bool		pending;
		int			timeout;

		if (conn == NULL)
		{
			err[0] = '\0';
			conn = connect_db(cfg, err, sizeof(err));
			if (conn == NULL)
			{
				report_down(cfg, err);
				if (nap(retry_ms))
					break;
				retry_ms = retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : retry_ms * 2;
				continue;
			}
			retry_ms = RETRY_MIN_MS;
			pthread_mutex_lock(&dash_lock);
			dash_set_db(true, NULL, NULL);
			dash_mark_dirty_all((1u << DASH_NPARTS) - 1);
			dash_sessions_wanted = true;
			pthread_mutex_unlock(&dash_lock);
			last_round = 0;
			sessions_at = 0;
		}

		pthread_mutex_lock(&dash_lock);
		pending = dash_sessions_wanted;
		for (int i = 0; i < DASH_MAX_WATCHES && !pending; i++)
			pending = dash_watches[i].used && dash_watches[i].dirty != 0;
		pthread_mutex_unlock(&dash_lock);

		if (pending)
		{
			int64_t		now = dash_now_ms();
			int64_t		due = last_round + ROUND_GAP_MS;

			if (now >= due)
			{
				err[0] = '\0';
				last_round = now;
				bool		sessions_due = now >= sessions_at + SESSIONS_GAP_MS;

				if (sessions_due)
					sessions_at = now;
				if (!run_round(conn, sessions_due, err, sizeof(err)))
				{
					if (PQstatus(conn) != CONNECTION_OK)
					{
						PQfinish(conn);
						conn = NULL;
					}
					report_down(cfg, err);
					if (nap(retry_ms))
						break;
					retry_ms = retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : retry_ms * 2;
				}
				else
				{
					retry_ms = RETRY_MIN_MS;
					pthread_mutex_lock(&dash_lock);
					dash_set_db(true, NULL, NULL);
					pthread_mutex_unlock(&dash_lock);
				}
				continue;
			}
			timeout = (int) (due - now);
		}
		else
			timeout = 1000;

		pfd[0].fd = PQsocket(conn);
		pfd[0].events = POLLIN;
		pfd[1].fd = dash_wake_fd();
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
			break;
		dash_drain_wake();
		if (!read_notifications(conn, &any))
		{
			report_down(cfg, PQerrorMessage(conn));
			PQfinish(conn);
			conn = NULL;
			continue;
		}
		if (any)
		{
			/* gather the rest of the burst before the next round */
			int64_t		now = dash_now_ms();

			if (last_round + ROUND_GAP_MS < now + ROUND_DELAY_MS)
				last_round = now + ROUND_DELAY_MS - ROUND_GAP_MS;
		}
	}
	if (conn != NULL)
		PQfinish(conn);
	return NULL;
}
