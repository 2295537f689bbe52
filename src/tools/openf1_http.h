/*
 * src/tools/openf1_http.h — f1tel-feed's client of the OpenF1 REST API.
 *
 * One libcurl handle (kept alive between requests), a client-side rate
 * limiter, the retry policy and the access token.  openf1_history.c and
 * openf1_live.c ask it for one query at a time and get back the JSON array
 * text of the answer.
 *
 * Rules a reader must know:
 *  - The limiter is a sliding window: at most rate_n requests start in any
 *    rate_s seconds (POST /token included).  A 429 waits Retry-After (or 1 s)
 *    and retries for up to retry_budget_s; a 5xx, a lost connection or a
 *    timeout backs off exponentially (0.5 s doubling to 30 s), at most
 *    max_attempts times.  Every wait goes through the wait hook, so live
 *    mode keeps serving the producer while it waits.
 *  - "Too much data" (HTTP 422 or 504 or 408, or our own timeout) is not
 *    retried: it returns OF1_TOO_BIG and the caller asks for less.
 *  - The token (from --token-file, or fetched with --username and
 *    --password-file from the token URL) is sent as a bearer header and never
 *    printed.  It is fetched again before it expires (at 80 % of its life)
 *    and after a 401; a token file is read again after a 401.
 *  - libcurl's threaded resolver starts a thread inside curl_easy_perform():
 *    SIGINT and SIGTERM are blocked around it, so a stop waits for the
 *    request (at most the request timeout).
 */
#ifndef F1TEL_OPENF1_HTTP_H
#define F1TEL_OPENF1_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum OpenF1Status
{
	OF1_OK,						/* *body is a JSON array */
	OF1_EMPTY,					/* "No results found." (404 or 200 with detail) */
	OF1_TOO_BIG,				/* the server gave up on the size: ask for less */
	OF1_STOPPED,				/* a stop was requested while waiting */
	OF1_FAILED					/* refused or kept failing: err says why */
} OpenF1Status;

typedef struct OpenF1Config
{
	const char *base_url;		/* ".../v1", no trailing slash */
	const char *token_url;		/* NULL: base_url's parent + "/token" */
	const char *token_file;		/* a file holding the access token */
	const char *username;		/* with password_file: the token is fetched */
	const char *password_file;
	int			rate_n;			/* requests ... */
	int			rate_s;			/* ... per this many seconds */
	int			timeout_s;		/* one request (default 60) */
	int			max_attempts;	/* 5xx / network failures in a row (default 10) */
	int			retry_budget_s; /* 429 waits of one query (default 900) */
	const char *cafile;			/* CURLOPT_CAINFO, or NULL */
	/* called for every wait (ms > 0); returns false to stop */
	bool		(*wait) (void *arg, int ms);
	void	   *wait_arg;
} OpenF1Config;

typedef struct OpenF1Stats
{
	uint64_t	requests;		/* HTTP requests sent, token requests included */
	uint64_t	rate_waits;		/* times the limiter made a request wait */
	uint64_t	rate_wait_ms;
	uint64_t	got_429;
	uint64_t	got_5xx;		/* and network failures */
	uint64_t	too_big;
	uint64_t	tokens;			/* tokens fetched */
	uint64_t	bytes;
	int64_t		server_now;		/* the last answer's Date (f1tel time), 0: none */
} OpenF1Stats;

typedef struct OpenF1Client OpenF1Client;

/*
 * A growing text, NUL-terminated: an answer's body, or a JSON array under
 * construction ("[" rec "," rec ... "]", nrecs counting the records).
 */
typedef struct OpenF1Text
{
	char	   *data;
	size_t		len;
	size_t		cap;
	size_t		nrecs;
} OpenF1Text;

extern bool of1_text_append(OpenF1Text *t, const char *s, size_t n);

extern OpenF1Client *of1_new(const OpenF1Config *cfg, char *err, size_t errlen);
extern void of1_free(OpenF1Client *c);

/*
 * GET <base>/<endpoint>?<query>.  query is already encoded (see of1_param);
 * on OF1_OK *body (malloc'd, NUL-terminated, *len bytes) is the JSON array.
 */
extern OpenF1Status of1_get(OpenF1Client *c, const char *endpoint, const char *query,
							char **body, size_t *len, char *err, size_t errlen);

/* appends "&name<op>value" (the first without "&") to buf, value escaped */
extern bool of1_param(char *buf, size_t size, const char *name, const char *op,
					  const char *value);

/* the current token (fetching one if there is none), NULL without credentials */
extern const char *of1_token(OpenF1Client *c, char *err, size_t errlen);

/* forget the token: the next request or of1_token() gets a new one */
extern void of1_token_invalidate(OpenF1Client *c);
extern bool of1_has_credentials(const OpenF1Client *c);

extern const OpenF1Stats *of1_stats(const OpenF1Client *c);
extern void of1_set_wait(OpenF1Client *c, bool (*wait) (void *arg, int ms), void *arg);

#endif							/* F1TEL_OPENF1_HTTP_H */
