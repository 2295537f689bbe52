/*
 * src/tools/dash_http.c — the HTTP side of f1tel-dash (libmicrohttpd): the
 * page's files, /api/sessions, /api/state and the event stream
 * /api/events (Server-Sent Events).
 *
 * Rules a reader must know:
 * - libmicrohttpd runs one thread per connection; an event stream's reader
 *   callback blocks on dash_changed (src/tools/dash.h), which is allowed in
 *   that mode, and wakes at least every KEEPALIVE_MS to write a comment, so
 *   a stream whose browser went away ends within that time.
 * - A request never reaches the database: it reads the store, and at most
 *   asks the database thread (dash_wake_db) to compute a session not yet
 *   watched.  So the load on PostgreSQL does not grow with browsers.
 * - Only GET and HEAD; only the parameter "session" (dash_parse_session);
 *   everything else is a 4xx with a JSON {"error": ...}.  Requests are
 *   bounded by libmicrohttpd's per-connection memory (MEMORY_LIMIT: a longer
 *   header or URL is refused by it with 431/414 or a closed connection).
 * - Every response carries a Content-Security-Policy that allows no inline
 *   script and nothing from another origin.
 */
#include "tools/dash.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#define KEEPALIVE_MS 15000
#define READY_WAIT_MS 5000
#define MAX_ARGS 16
#define MEMORY_LIMIT (64 * 1024)

static const char *const CSP =
	"default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
	"frame-ancestors 'none'";

static enum MHD_Result
add_headers(struct MHD_Response *r, const char *type)
{
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES ||
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache") != MHD_YES ||
		MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") != MHD_YES ||
		MHD_add_response_header(r, "Content-Security-Policy", CSP) != MHD_YES ||
		MHD_add_response_header(r, "Referrer-Policy", "no-referrer") != MHD_YES)
		return MHD_NO;
	return MHD_YES;
}

/* queues body (malloc'd, taken) with status and type */
static enum MHD_Result
reply(struct MHD_Connection *c, unsigned status, const char *type, char *body, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (body == NULL)
		return MHD_NO;
	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL)
	{
		free(body);
		return MHD_NO;
	}
	if (add_headers(r, type) != MHD_YES)
	{
		MHD_destroy_response(r);
		return MHD_NO;
	}
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED &&
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES)
	{
		MHD_destroy_response(r);
		return MHD_NO;
	}
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
reply_error(struct MHD_Connection *c, unsigned status, const char *msg, const char *detail)
{
	DashBuf		b = {0};

	dash_buf_puts(&b, "{\"error\":");
	dash_buf_json_string(&b, msg);
	if (detail != NULL)
	{
		dash_buf_puts(&b, ",\"detail\":");
		dash_buf_json_string(&b, detail);
	}
	dash_buf_puts(&b, "}\n");
	return reply(c, status, "application/json", b.data, b.len);
}

/* ---- query parameters ---------------------------------------------------- */

typedef struct ArgList
{
	DashArg		args[MAX_ARGS];
	int			n;
	bool		too_many;
} ArgList;

static enum MHD_Result
collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	ArgList    *l = cls;

	if (l->n == MAX_ARGS)
	{
		l->too_many = true;
		return MHD_NO;
	}
	l->args[l->n].key = key;
	l->args[l->n].value = value;
	l->n++;
	return MHD_YES;
}

/* false when a 400 was queued (*ret says how) */
static bool
session_of(struct MHD_Connection *c, int *session, enum MHD_Result *ret)
{
	ArgList		l = {.n = 0};
	char		err[200];

	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &l);
	if (l.too_many)
	{
		*ret = reply_error(c, MHD_HTTP_BAD_REQUEST, "too many parameters: the only parameter is session", NULL);
		return false;
	}
	if (!dash_parse_session(l.args, l.n, session, err, sizeof(err)))
	{
		*ret = reply_error(c, MHD_HTTP_BAD_REQUEST, err, NULL);
		return false;
	}
	return true;
}

/* ---- the store, from a request's thread ---------------------------------- */

static void
deadline_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long) (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L)
	{
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* with dash_lock held: the watch of key, once every part is computed (or NULL) */
static DashWatch *
ready_watch(int key)
{
	struct timespec until;
	DashWatch  *w = dash_watch_get(key);

	deadline_after(&until, READY_WAIT_MS);
	while (w != NULL && !w->ready && dash_db.ok && !dash_stopping)
	{
		if (pthread_cond_timedwait(&dash_changed, &dash_lock, &until) == ETIMEDOUT)
			break;
		w = dash_watch_find(key);
	}
	return w != NULL && w->ready ? w : NULL;
}

static enum MHD_Result
serve_state(struct MHD_Connection *c, int session)
{
	DashBuf		b = {0};
	DashWatch  *w;
	char	   *db_error = NULL;

	pthread_mutex_lock(&dash_lock);
	w = ready_watch(session);
	if (!dash_db.ok || w == NULL)
	{
		db_error = strdup(dash_db.ok ? "{\"error\":\"the session's state is not ready yet\"}\n"
						  : dash_db.error_json);
		pthread_mutex_unlock(&dash_lock);
		return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json", db_error,
					 db_error ? strlen(db_error) : 0);
	}
	dash_buf_puts(&b, "{\"db\":{\"ok\":true}");
	for (int p = 0; p < DASH_NPARTS; p++)
	{
		dash_buf_puts(&b, ",\"");
		dash_buf_puts(&b, dash_part_names[p]);
		dash_buf_puts(&b, "\":");
		dash_buf_puts(&b, w->json[p]);
	}
	pthread_mutex_unlock(&dash_lock);
	if (!dash_buf_puts(&b, "}\n"))
	{
		dash_buf_free(&b);
		return MHD_NO;
	}
	return reply(c, MHD_HTTP_OK, "application/json", b.data, b.len);
}

static enum MHD_Result
serve_sessions(struct MHD_Connection *c)
{
	struct timespec until;
	char	   *body = NULL;
	bool		db_ok;

	pthread_mutex_lock(&dash_lock);
	if (dash_sessions_json == NULL)
	{
		dash_sessions_wanted = true;
		dash_wake_db();
	}
	deadline_after(&until, READY_WAIT_MS);
	while (dash_sessions_json == NULL && dash_db.ok && !dash_stopping)
		if (pthread_cond_timedwait(&dash_changed, &dash_lock, &until) == ETIMEDOUT)
			break;
	if (dash_db.ok && dash_sessions_json != NULL)
		body = strdup(dash_sessions_json);
	else if (!dash_db.ok)
		body = strdup(dash_db.error_json);
	db_ok = dash_db.ok;
	pthread_mutex_unlock(&dash_lock);
	if (body == NULL)
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "the list of sessions is not ready yet", NULL);
	return reply(c, db_ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
				 "application/json", body, strlen(body));
}

/* ---- the event stream ----------------------------------------------------- */

typedef struct Stream
{
	int			key;
	uint64_t	sent[DASH_NPARTS];
	uint64_t	db_sent;
	bool		db_was_ok;
	DashBuf		out;
	size_t		off;
	int64_t		last_write;
	bool		started;
} Stream;

static void
add_event(DashBuf *b, const char *name, const char *data)
{
	dash_buf_puts(b, "event: ");
	dash_buf_puts(b, name);
	dash_buf_puts(b, "\ndata: ");
	dash_buf_puts(b, data);
	dash_buf_puts(b, "\n\n");
}

/* with dash_lock held: what the stream has not sent yet */
static void
gather(Stream *s)
{
	DashWatch  *w = dash_watch_find(s->key);

	if (dash_db.version != s->db_sent)
	{
		add_event(&s->out, "db", dash_db.error_json);
		s->db_sent = dash_db.version;
		/* back after an outage: every part again */
		if (dash_db.ok && !s->db_was_ok)
			memset(s->sent, 0, sizeof(s->sent));
		s->db_was_ok = dash_db.ok;
	}
	if (w == NULL)
		return;
	w->last_used = dash_now_ms();
	for (int p = 0; p < DASH_NPARTS; p++)
		if (w->json[p] != NULL && w->version[p] > s->sent[p])
		{
			add_event(&s->out, dash_part_names[p], w->json[p]);
			s->sent[p] = w->version[p];
		}
}

static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	Stream	   *s = cls;
	size_t		n;

	if (s->off >= s->out.len)
	{
		s->out.len = 0;
		s->off = 0;
		pthread_mutex_lock(&dash_lock);
		if (!s->started)
		{
			dash_buf_puts(&s->out, "retry: 1000\n\n");
			s->started = true;
		}
		for (;;)
		{
			struct timespec until;
			int64_t		wait_ms;

			if (dash_stopping)
			{
				pthread_mutex_unlock(&dash_lock);
				return MHD_CONTENT_READER_END_OF_STREAM;
			}
			gather(s);
			if (s->out.len > 0)
				break;
			wait_ms = s->last_write + KEEPALIVE_MS - dash_now_ms();
			if (wait_ms <= 0)
			{
				dash_buf_puts(&s->out, ": keepalive\n\n");
				break;
			}
			deadline_after(&until, (int) wait_ms);
			(void) pthread_cond_timedwait(&dash_changed, &dash_lock, &until);
		}
		pthread_mutex_unlock(&dash_lock);
		if (s->out.len == 0)	/* out of memory */
			return MHD_CONTENT_READER_END_WITH_ERROR;
		s->last_write = dash_now_ms();
	}
	n = s->out.len - s->off;
	if (n > max)
		n = max;
	memcpy(buf, s->out.data + s->off, n);
	s->off += n;
	return (ssize_t) n;
}

static void
stream_free(void *cls)
{
	Stream	   *s = cls;
	DashWatch  *w;

	pthread_mutex_lock(&dash_lock);
	w = dash_watch_find(s->key);
	if (w != NULL && w->streams > 0)
		w->streams--;
	pthread_mutex_unlock(&dash_lock);
	dash_buf_free(&s->out);
	free(s);
}

static enum MHD_Result
serve_events(struct MHD_Connection *c, int session)
{
	Stream	   *s = calloc(1, sizeof(Stream));
	struct MHD_Response *r;
	DashWatch  *w;
	enum MHD_Result ret;

	if (s == NULL)
		return MHD_NO;
	pthread_mutex_lock(&dash_lock);
	w = dash_watch_get(session);
	if (w != NULL)
		w->streams++;
	pthread_mutex_unlock(&dash_lock);
	if (w == NULL)
	{
		free(s);
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
						   "too many sessions are being watched at once", NULL);
	}
	s->key = session;
	s->last_write = dash_now_ms();
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, stream_read, s, stream_free);
	if (r == NULL)
	{
		stream_free(s);
		return MHD_NO;
	}
	if (add_headers(r, "text/event-stream; charset=utf-8") != MHD_YES ||
		MHD_add_response_header(r, "X-Accel-Buffering", "no") != MHD_YES)
	{
		MHD_destroy_response(r);
		return MHD_NO;
	}
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- routing ------------------------------------------------------------- */

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
	   const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	int			session;
	enum MHD_Result ret;

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD", NULL);
	if (strcmp(url, "/api/state") == 0)
		return session_of(c, &session, &ret) ? serve_state(c, session) : ret;
	if (strcmp(url, "/api/events") == 0)
		return session_of(c, &session, &ret) ? serve_events(c, session) : ret;
	if (strcmp(url, "/api/sessions") == 0)
	{
		ArgList		l = {.n = 0};

		MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &l);
		if (l.n > 0)
			return reply_error(c, MHD_HTTP_BAD_REQUEST, "/api/sessions takes no parameter", NULL);
		return serve_sessions(c);
	}
	for (int i = 0; i < dash_nassets; i++)
	{
		const DashAsset *a = &dash_assets[i];
		struct MHD_Response *r;

		if (strcmp(url, a->path) != 0)
			continue;
		/* the page takes ?session=; its files take nothing */
		if (strcmp(a->path, "/") == 0)
		{
			if (!session_of(c, &session, &ret))
				return ret;
		}
		else
		{
			ArgList		l = {.n = 0};

			MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &l);
			if (l.n > 0)
				return reply_error(c, MHD_HTTP_BAD_REQUEST, "the page's files take no parameter", NULL);
		}
		r = MHD_create_response_from_buffer(a->len, (void *) a->data, MHD_RESPMEM_PERSISTENT);
		if (r == NULL)
			return MHD_NO;
		if (add_headers(r, a->content_type) != MHD_YES)
		{
			MHD_destroy_response(r);
			return MHD_NO;
		}
		ret = MHD_queue_response(c, MHD_HTTP_OK, r);
		MHD_destroy_response(r);
		return ret;
	}
	return reply_error(c, MHD_HTTP_NOT_FOUND, "no such page", NULL);
}

static bool quiet_log;

static void
log_mhd(void *cls, const char *fmt, va_list ap)
{
	if (quiet_log)
		return;
	fputs("f1tel-dash: ", stderr);
	vfprintf(stderr, fmt, ap);
}

struct MHD_Daemon *
dash_http_start(const char *host, int port, int *bound_port, char *err, size_t errlen)
{
	struct addrinfo hints = {0};
	struct addrinfo *ai = NULL;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	char		portstr[16];
	int			rc;
	/*
	 * MHD_USE_ITC: a finished connection thread wakes the listening thread,
	 * which closes its socket.  Without it libmicrohttpd 0.9.75 closes a
	 * connection only at the next accept, so a client that is refused (431)
	 * while still writing waits on a half-closed socket until someone else
	 * connects.
	 */
	unsigned	flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
		MHD_USE_ITC | MHD_USE_ERROR_LOG;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(portstr, sizeof(portstr), "%d", port);
	rc = getaddrinfo(host, portstr, &hints, &ai);
	if (rc != 0)
	{
		snprintf(err, errlen, "cannot listen on \"%s\": %s", host, gai_strerror(rc));
		return NULL;
	}
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	d = MHD_start_daemon(flags, (uint16_t) port, NULL, NULL, handle, NULL,
						 MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
						 MHD_OPTION_SOCK_ADDR, ai->ai_addr,
						 MHD_OPTION_CONNECTION_LIMIT, (unsigned) 1000,
						 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 60,
						 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) MEMORY_LIMIT,
						 MHD_OPTION_THREAD_STACK_SIZE, (size_t) (512 * 1024),
						 MHD_OPTION_END);
	freeaddrinfo(ai);
	if (d == NULL)
	{
		snprintf(err, errlen, "cannot listen on %s:%d (in use, or not an address of this machine)",
				 host, port);
		return NULL;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	*bound_port = info != NULL ? info->port : port;
	return d;
}

void
dash_http_stop(struct MHD_Daemon *d)
{
	MHD_stop_daemon(d);
}

void
dash_http_quiet(bool quiet)
{
	quiet_log = quiet;
}
