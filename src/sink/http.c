/*
 * src/sink/http.c — libcurl multi-interface rounds for the sink worker.
 *
 * Every curl_easy_setopt() and curl_multi_*() result is checked: a failed
 * option is an error, never a silent default; a transfer libcurl refuses to
 * start (curl_multi_add_handle) ends as a failed request (status 0, the
 * reason in error[]), which the caller retries with back-off.  Calls into
 * libcurl that may start its resolver thread (curl_multi_perform,
 * curl_multi_poll) run with all signals blocked (see http.h).  Nothing here
 * logs request bodies or tokens.
 *
 * Callbacks: write_cb runs inside curl_multi_perform; it stores the answer
 * with malloc/realloc only (no palloc: an out-of-memory ERROR must not
 * longjmp through libcurl's frames) and finish() copies it into the
 * request's StringInfo on the main thread afterwards.
 *
 * Waiting: at most 100 ms per curl_multi_poll, then SIGTERM, postmaster
 * death and a DROP DATABASE waiting for us are checked, so a hanging server
 * never holds up a shutdown or DDL; the transfers in flight are aborted and
 * their handles freed first (also by f1_http_cleanup from the exit hook).
 * Between polls it also runs the caller's idle function (f1_http_set_idle:
 * the sink serves the upsert topic there), outside any libcurl call.
 */
#include "postgres.h"

#include <signal.h>
#include <pthread.h>
#include <curl/curl.h>

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/pmsignal.h"
#include "utils/timestamp.h"

#include "shared/worker.h"

#include "sink/http.h"

StaticAssertDecl(LIBCURL_VERSION_NUM >= 0x074200, "f1tel needs libcurl 7.66 or later (curl_multi_poll)");

static CURLM *multi;
static void (*idle_fn) (void);	/* f1_http_set_idle() */
static bool in_idle;

#define RESPONSE_MAX	(64 * 1024 * 1024)	/* bound what one answer may cost us */

typedef struct Transfer
{
	CURL	   *easy;				/* NULL: not started or finished */
	bool		added;				/* to the multi handle */
	struct curl_slist *headers;
	F1HttpRequest *req;
	char	   *buf;				/* the answer so far (malloc: write_cb) */
	size_t		len;
	size_t		cap;
} Transfer;

/* the round in progress, for the exit hook */
static Transfer *live;
static int	nlive;

#define SETOPT(h, opt, val) \
	do { \
		CURLcode	rc_ = curl_easy_setopt((h), (opt), (val)); \
		if (rc_ != CURLE_OK) \
			ereport(ERROR, \
					(errcode(ERRCODE_INTERNAL_ERROR), \
					 errmsg("f1tel sink: curl_easy_setopt(%s) failed: %s", \
							#opt, curl_easy_strerror(rc_)))); \
	} while (0)

void
f1_http_init(void)
{
	CURLcode	rc = curl_global_init(CURL_GLOBAL_DEFAULT);

	if (rc != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("f1tel sink: curl_global_init failed: %s", curl_easy_strerror(rc))));
	multi = curl_multi_init();
	if (multi == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("f1tel sink: curl_multi_init failed")));
}

static void finish(Transfer *t, CURLcode result);

/* End every transfer of the round in progress (SIGTERM, exit). */
static void
abort_live(void)
{
	for (int i = 0; i < nlive; i++)
		if (live[i].easy != NULL)
			finish(&live[i], CURLE_ABORTED_BY_CALLBACK);
	live = NULL;
	nlive = 0;
}

void
f1_http_cleanup(void)
{
	abort_live();
	if (multi != NULL)
		curl_multi_cleanup(multi);
	multi = NULL;
	curl_global_cleanup();
}

/* libcurl's callback: plain C only (see the header comment). */
static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	Transfer   *t = userdata;
	size_t		n = size * nmemb;

	if (t->len + n > RESPONSE_MAX)
		return 0;				/* libcurl ends the transfer: CURLE_WRITE_ERROR */
	if (t->len + n > t->cap)
	{
		size_t		cap = Max(t->cap * 2, t->len + n);
		char	   *buf = realloc(t->buf, cap);

		if (buf == NULL)
			return 0;
		t->buf = buf;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, ptr, n);
	t->len += n;
	return n;
}

static void
setup(Transfer *t, F1HttpRequest *req, long timeout_ms)
{
	CURL	   *h = curl_easy_init();
	char	   *hdr;

	if (h == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("f1tel sink: curl_easy_init failed")));
	t->easy = h;
	t->added = false;
	t->req = req;
	t->headers = NULL;
	t->buf = NULL;
	t->len = t->cap = 0;
	req->status = 0;
	req->error[0] = '\0';
	initStringInfo(&req->response);

	SETOPT(h, CURLOPT_URL, req->url);
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, Min(timeout_ms, 10000L));
	SETOPT(h, CURLOPT_WRITEFUNCTION, write_cb);
	SETOPT(h, CURLOPT_WRITEDATA, t);
	SETOPT(h, CURLOPT_ERRORBUFFER, req->error);
	SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(h, CURLOPT_ACCEPT_ENCODING, "");
	SETOPT(h, CURLOPT_USERAGENT, "f1tel/0.1");
	SETOPT(h, CURLOPT_CUSTOMREQUEST, req->method);
	if (req->body != NULL)
	{
		SETOPT(h, CURLOPT_POSTFIELDS, req->body);
		SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_len);
		hdr = psprintf("Content-Type: %s", req->content_type ? req->content_type : "application/json");
		t->headers = curl_slist_append(t->headers, hdr);
	}
	else if (strcmp(req->method, "POST") == 0)
	{
		SETOPT(h, CURLOPT_POSTFIELDS, "");
		SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) 0);
	}
	if (req->bearer != NULL)
	{
		/* a copy of the token: wiped here and in finish() */
		hdr = psprintf("Authorization: Bearer %s", req->bearer);
		t->headers = curl_slist_append(t->headers, hdr);
		explicit_bzero(hdr, strlen(hdr));
		pfree(hdr);
	}
	if (req->extra_header != NULL)
		t->headers = curl_slist_append(t->headers, req->extra_header);
	t->headers = curl_slist_append(t->headers, "Expect:");
	SETOPT(h, CURLOPT_HTTPHEADER, t->headers);
}

static void
finish(Transfer *t, CURLcode result)
{
	if (result == CURLE_OK)
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->req->status);
	else
	{
		t->req->status = 0;
		if (t->req->error[0] == '\0')
			strlcpy(t->req->error, curl_easy_strerror(result), sizeof(t->req->error));
	}
	if (t->added)
		(void) curl_multi_remove_handle(multi, t->easy);
	curl_easy_cleanup(t->easy);
	for (struct curl_slist *l = t->headers; l != NULL; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(t->headers);
	t->easy = NULL;
	t->added = false;
	if (t->len > 0 && result == CURLE_OK)
		appendBinaryStringInfo(&t->req->response, t->buf, t->len);
	free(t->buf);
	t->buf = NULL;
	t->len = t->cap = 0;
}

/* Start a transfer; one libcurl refuses ends at once as a failed request. */
static bool
start(Transfer *t, F1HttpRequest *req, long timeout_ms)
{
	CURLMcode	mc;

	setup(t, req, timeout_ms);
	mc = curl_multi_add_handle(multi, t->easy);
	if (mc == CURLM_OK)
	{
		t->added = true;
		return true;
	}
	snprintf(req->error, sizeof(req->error), "could not start the request: curl_multi_add_handle: %s",
			 curl_multi_strerror(mc));
	finish(t, CURLE_FAILED_INIT);
	return false;
}

/*
 * Between polls: SIGTERM ends the round (the changes stay queued), then the
 * process; so do postmaster death and a DROP DATABASE (or rename) waiting
 * for this backend to leave.
 */
static void
check_leave(TimestampTz *next_lock_check)
{
	TimestampTz now;

	if (ProcDiePending)
	{
		abort_live();
		CHECK_FOR_INTERRUPTS();
	}
	if (!PostmasterIsAlive())
	{
		abort_live();
		proc_exit(1);
	}
	now = GetCurrentTimestamp();
	if (now >= *next_lock_check)
	{
		*next_lock_check = now + 500 * INT64CONST(1000);
		f1tel_exit_if_database_locked();	/* exits: the exit hook frees the transfers */
	}
}

void
f1_http_run(F1HttpRequest *reqs, int n, int concurrency, long timeout_ms)
{
	Transfer   *ts = palloc0(Max(n, 1) * sizeof(Transfer));
	int			next = 0;
	int			running = 0;
	int			done = 0;
	TimestampTz next_lock_check = 0;
	sigset_t	all,
				old;

	sigfillset(&all);
	live = ts;
	nlive = 0;
	while (done < n)
	{
		int			still;
		CURLMsg    *msg;
		int			left;
		CURLMcode	mc = CURLM_OK;

		while (next < n && running < concurrency)
		{
			bool		started = start(&ts[next], &reqs[next], timeout_ms);

			next++;
			nlive = next;
			if (started)
				running++;
			else
				done++;
		}
		if (running == 0)
			continue;			/* all that were left failed to start */

		pthread_sigmask(SIG_SETMASK, &all, &old);
		mc = curl_multi_perform(multi, &still);
		if (mc == CURLM_OK)
			mc = curl_multi_poll(multi, NULL, 0, 100, NULL);
		if (mc == CURLM_OK)
			mc = curl_multi_perform(multi, &still);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (mc != CURLM_OK)
		{
			/* the multi handle is unusable: fail what is in flight */
			for (int i = 0; i < next; i++)
				if (ts[i].easy != NULL)
				{
					snprintf(ts[i].req->error, sizeof(ts[i].req->error), "libcurl: %s",
							 curl_multi_strerror(mc));
					finish(&ts[i], CURLE_FAILED_INIT);
					running--;
					done++;
				}
			continue;
		}

		while ((msg = curl_multi_info_read(multi, &left)) != NULL)
		{
			if (msg->msg != CURLMSG_DONE)
				continue;
			for (int i = 0; i < next; i++)
				if (ts[i].easy == msg->easy_handle)
				{
					finish(&ts[i], msg->data.result);
					running--;
					done++;
					break;
				}
		}
		check_leave(&next_lock_check);
		if (idle_fn != NULL && !in_idle && done < n)
		{
			/* the caller's other work, between polls (never nested) */
			in_idle = true;
			PG_TRY();
			{
				idle_fn();
			}
			PG_FINALLY();
			{
				in_idle = false;
			}
			PG_END_TRY();
		}
	}
	live = NULL;
	nlive = 0;
	pfree(ts);
}

void
f1_http_set_idle(void (*fn) (void))
{
	idle_fn = fn;
}

void
f1_http_run_one(F1HttpRequest *req, long timeout_ms)
{
	f1_http_run(req, 1, 1, timeout_ms);
}
