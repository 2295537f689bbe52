/*
 * src/sink/http.h — HTTP requests of the sink worker, over libcurl's multi
 * interface: a round of requests runs with several in flight at once.
 *
 * Threads and signals: libcurl's threaded resolver starts threads; every call
 * that may start one runs with all signals blocked, so no library thread ever
 * runs a PostgreSQL signal handler.  Completion is handled on the calling
 * (main) thread.  CURLOPT_NOSIGNAL is set on every handle.
 */
#ifndef F1TEL_HTTP_H
#define F1TEL_HTTP_H

#include "lib/stringinfo.h"

typedef struct F1HttpRequest
{
	/* in */
	const char *method;			/* "GET", "POST", "DELETE" */
	char	   *url;
	const char *content_type;	/* for a body; NULL: application/json */
	const char *body;			/* NULL for none */
	size_t		body_len;
	const char *bearer;			/* access token, or NULL */
	const char *extra_header;	/* e.g. "Metadata-Flavor: Google", or NULL */
	void	   *arg;			/* the caller's */
	/* out */
	long		status;			/* HTTP status; 0 if no answer (connection, timeout) */
	StringInfoData response;	/* the body */
	char		error[256];		/* libcurl's error when status is 0 */
} F1HttpRequest;

/*
 * Run the requests, at most concurrency at once, each bounded by timeout_ms.
 * Interrupts are checked between transfers (CHECK_FOR_INTERRUPTS), so
 * SIGTERM ends a round promptly.  Request bodies and URLs must stay valid
 * until it returns.
 */
extern void f1_http_run(F1HttpRequest *reqs, int n, int concurrency, long timeout_ms);

/* One request, synchronously. */
extern void f1_http_run_one(F1HttpRequest *req, long timeout_ms);

/*
 * A function run between polls while requests are in flight (not nested:
 * not while it runs itself), outside any libcurl call: other work of the
 * caller, which may use PostgreSQL (transactions too) and may call
 * f1_http_run() itself.  NULL: none.
 */
extern void f1_http_set_idle(void (*fn) (void));

extern void f1_http_init(void);
extern void f1_http_cleanup(void);

#endif							/* F1TEL_HTTP_H */
