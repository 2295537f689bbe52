/*
 * src/tools/openf1_http.c — f1tel-feed's client of the OpenF1 REST API: the
 * rate limiter, retries and the access token (see openf1_http.h for the
 * policy).
 *
 * Rules a reader must know:
 *  - Single-threaded: one client, one curl handle, used by the main thread.
 *  - The Authorization header is built in memory and given to libcurl; no
 *    message of this file contains the token or the password, and
 *    CURLOPT_VERBOSE is never set.
 *  - Every curl_easy_setopt() is checked (SETOPT): a failure is an error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "tools/feed.h"
#include "tools/openf1_http.h"

#define BACKOFF_FIRST_MS	500
#define BACKOFF_MAX_MS		30000
#define LIMITER_MARGIN_MS	50

struct OpenF1Client
{
	OpenF1Config cfg;
	CURL	   *curl;
	char		curl_err[CURL_ERROR_SIZE];
	char	   *token_url;
	char	   *token;			/* NULL: none yet */
	int64_t		token_refresh_ns;	/* fetch again after this (0: never) */
	int64_t    *starts;			/* ring of the last rate_n request starts */
	int			nstarts;
	int			next_start;
	OpenF1Stats stats;
};

bool
of1_text_append(OpenF1Text *t, const char *s, size_t n)
{
	if (t->len + n + 2 > t->cap)
	{
		size_t		cap = t->cap ? t->cap : 1 << 16;
		char	   *d;

		while (cap < t->len + n + 2)
			cap *= 2;
		d = realloc(t->data, cap);
		if (d == NULL)
			return false;
		t->data = d;
		t->cap = cap;
	}
	memcpy(t->data + t->len, s, n);
	t->len += n;
	t->data[t->len] = '\0';
	return true;
}

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	size_t		n = size * nmemb;

	/* 0: libcurl reports CURLE_WRITE_ERROR */
	return of1_text_append(arg, ptr, n) ? n : 0;
}

/* Retry-After in whole seconds (the HTTP-date form counts as 1 s) */
typedef struct Headers
{
	int			retry_after_s;
	int64_t		date;			/* Date:, seconds since 1970; 0 if none */
} Headers;

static size_t
header_cb(char *line, size_t size, size_t nmemb, void *arg)
{
	Headers    *h = arg;
	size_t		n = size * nmemb;

	if (n > 12 && strncasecmp(line, "Retry-After:", 12) == 0)
	{
		long		v = strtol(line + 12, NULL, 10);

		h->retry_after_s = v > 0 ? (int) (v > 3600 ? 3600 : v) : 1;
	}
	else if (n > 5 && strncasecmp(line, "Date:", 5) == 0 && n < 128)
	{
		char		d[128];
		time_t		t;

		memcpy(d, line + 5, n - 5);
		d[n - 5] = '\0';
		t = curl_getdate(d, NULL);
		if (t > 0)
			h->date = (int64_t) t;
	}
	return n;
}

static bool
wait_ms(OpenF1Client *c, int ms)
{
	if (ms <= 0)
		return true;
	if (c->cfg.wait)
		return c->cfg.wait(c->cfg.wait_arg, ms);
	{
		struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000};

		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	return true;
}

/* The limiter: waits until a request may start, then records its start. */
static bool
limiter_take(OpenF1Client *c)
{
	int64_t		oldest = c->starts[c->next_start];	/* the rate_n-th last */

	if (c->nstarts == c->cfg.rate_n)
	{
		int64_t		free_at = oldest + (int64_t) c->cfg.rate_s * 1000000000 +
			(int64_t) LIMITER_MARGIN_MS * 1000000;
		int64_t		now = feed_now_ns();

		if (now < free_at)
		{
			int			ms = (int) ((free_at - now + 999999) / 1000000);

			c->stats.rate_waits++;
			c->stats.rate_wait_ms += ms;
			if (!wait_ms(c, ms))
				return false;
		}
	}
	c->starts[c->next_start] = feed_now_ns();
	c->next_start = (c->next_start + 1) % c->cfg.rate_n;
	if (c->nstarts < c->cfg.rate_n)
		c->nstarts++;
	return true;
}

#define SETOPT(opt, val) \
	do { \
		CURLcode _rc = curl_easy_setopt(c->curl, opt, val); \
		if (_rc != CURLE_OK) \
		{ \
			snprintf(err, errlen, "curl_easy_setopt(%s): %s", #opt, curl_easy_strerror(_rc)); \
			goto fail; \
		} \
	} while (0)

/*
 * One HTTP exchange: GET url (post == NULL) or POST the form.  Returns the
 * HTTP status, 0 for a transport failure (err set), -1 for a local error.
 */
static long
perform(OpenF1Client *c, const char *url, const char *post, bool auth,
		OpenF1Text *body, Headers *hdr, char *err, size_t errlen)
{
	struct curl_slist *headers = NULL;
	char	   *authz = NULL;
	sigset_t	block,
				old;
	CURLcode	rc;
	long		status = -1;

	curl_easy_reset(c->curl);
	c->curl_err[0] = '\0';
	SETOPT(CURLOPT_URL, url);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_ERRORBUFFER, c->curl_err);
	SETOPT(CURLOPT_WRITEFUNCTION, write_cb);
	SETOPT(CURLOPT_WRITEDATA, body);
	SETOPT(CURLOPT_HEADERFUNCTION, header_cb);
	SETOPT(CURLOPT_HEADERDATA, hdr);
	SETOPT(CURLOPT_TIMEOUT, (long) c->cfg.timeout_s);
	SETOPT(CURLOPT_CONNECTTIMEOUT, 15L);
	SETOPT(CURLOPT_ACCEPT_ENCODING, "");
	SETOPT(CURLOPT_USERAGENT, "f1tel-feed");
	SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
	if (c->cfg.cafile)
		SETOPT(CURLOPT_CAINFO, c->cfg.cafile);
	if (post)
		SETOPT(CURLOPT_POSTFIELDS, post);
	if (auth && c->token)
	{
		if (asprintf(&authz, "Authorization: Bearer %s", c->token) < 0)
		{
			authz = NULL;
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		headers = curl_slist_append(headers, authz);
		if (headers == NULL)
		{
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		SETOPT(CURLOPT_HTTPHEADER, headers);
	}

	if (!limiter_take(c))
	{
		status = -2;
		goto fail;
	}
	c->stats.requests++;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = curl_easy_perform(c->curl);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != CURLE_OK)
	{
		snprintf(err, errlen, "%s", c->curl_err[0] ? c->curl_err : curl_easy_strerror(rc));
		status = rc == CURLE_OPERATION_TIMEDOUT ? 408 : 0;
	}
	else if (curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
	{
		snprintf(err, errlen, "no HTTP status");
		status = 0;
	}
	c->stats.bytes += body->len;
	if (hdr->date > 0)
		c->stats.server_now = (hdr->date - INT64_C(946684800)) * 1000000;

fail:
	curl_slist_free_all(headers);
	if (authz)
	{
		explicit_bzero(authz, strlen(authz));
		free(authz);
	}
	return status;
}

/* the "detail" of an error body, else its start */
static void
detail_of(const OpenF1Text *b, char *out, size_t outlen)
{
	json_object *o = b->data ? json_tokener_parse(b->data) : NULL;
	json_object *d;

	if (o && json_object_object_get_ex(o, "detail", &d))
		snprintf(out, outlen, "%s", json_object_get_string(d));
	else if (b->data && b->len > 0)
		snprintf(out, outlen, "%.200s", b->data);
	else
		snprintf(out, outlen, "(empty body)");
	json_object_put(o);
}

/* the whole file, trimmed of surrounding white space */
static char *
read_secret(const char *path, char *err, size_t errlen)
{
	FILE	   *f = fopen(path, "r");
	char		buf[8192];
	size_t		n;
	char	   *s,
			   *e;

	if (f == NULL)
	{
		snprintf(err, errlen, "cannot read \"%s\": %s", path, strerror(errno));
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (s = buf; *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'; s++)
		;
	for (e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'); e--)
		;
	*e = '\0';
	if (*s == '\0')
	{
		snprintf(err, errlen, "\"%s\" is empty", path);
		return NULL;
	}
	s = strdup(s);
	explicit_bzero(buf, sizeof(buf));
	if (s == NULL)
		snprintf(err, errlen, "out of memory");
	return s;
}

static void
drop_token(OpenF1Client *c)
{
	if (c->token)
	{
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	c->token = NULL;
	c->token_refresh_ns = 0;
}

/* POST the credentials to the token URL, with the 5xx back-off */
static bool
fetch_token(OpenF1Client *c, char *err, size_t errlen)
{
	char	   *password;
	char	   *u = NULL,
			   *p = NULL,
			   *form = NULL;
	int			backoff = BACKOFF_FIRST_MS;
	bool		ok = false;

	password = read_secret(c->cfg.password_file, err, errlen);
	if (password == NULL)
		return false;
	u = curl_easy_escape(c->curl, c->cfg.username, 0);
	p = curl_easy_escape(c->curl, password, 0);
	explicit_bzero(password, strlen(password));
	free(password);
	if (u == NULL || p == NULL || asprintf(&form, "username=%s&password=%s", u, p) < 0)
	{
		form = NULL;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (int attempt = 1;; attempt++)
	{
		OpenF1Text	body = {0};
		Headers		hdr = {0};
		char		why[512] = "";
		long		status = perform(c, c->token_url, form, false, &body, &hdr, why, sizeof(why));

		if (status == 200)
		{
			json_object *o = json_tokener_parse(body.data ? body.data : "");
			json_object *t,
					   *x;

			if (o && json_object_object_get_ex(o, "access_token", &t) &&
				json_object_is_type(t, json_type_string) &&
				json_object_get_string_len(t) > 0)
			{
				int64_t		ttl = 3600;

				if (json_object_object_get_ex(o, "expires_in", &x))
					ttl = json_object_get_int64(x);
				if (ttl < 1)
					ttl = 1;
				drop_token(c);
				c->token = strdup(json_object_get_string(t));
				c->token_refresh_ns = feed_now_ns() + ttl * 800000000;	/* 80 % */
				c->stats.tokens++;
				ok = c->token != NULL;
				if (!ok)
					snprintf(err, errlen, "out of memory");
			}
			else
				snprintf(err, errlen, "the token endpoint answered without an access_token");
			json_object_put(o);
			if (body.data)
				explicit_bzero(body.data, body.len);
			free(body.data);
			break;
		}
		if (status == -2)
		{
			snprintf(err, errlen, "stopped");
			free(body.data);
			break;
		}
		if (status >= 400 && status < 500 && status != 408 && status != 429)
		{
			char		d[300];

			detail_of(&body, d, sizeof(d));
			snprintf(err, errlen, "the token endpoint refused the credentials of \"%s\" (HTTP %ld: %s)",
					 c->cfg.username, status, d);
			free(body.data);
			break;
		}
		if (status > 0)
			snprintf(why, sizeof(why), "HTTP %ld", status);
		free(body.data);
		c->stats.got_5xx++;
		if (attempt >= c->cfg.max_attempts)
		{
			snprintf(err, errlen, "the token endpoint failed %d times (last: %s)", attempt, why);
			break;
		}
		fprintf(stderr, "f1tel-feed: token endpoint: %s; trying again in %.1f s\n",
				why, backoff / 1000.0);
		if (!wait_ms(c, hdr.retry_after_s > 0 ? hdr.retry_after_s * 1000 : backoff))
		{
			snprintf(err, errlen, "stopped");
			break;
		}
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
out:
	if (form)
	{
		explicit_bzero(form, strlen(form));
		free(form);
	}
	curl_free(u);
	if (p)
		explicit_bzero(p, strlen(p));
	curl_free(p);
	return ok;
}

const char *
of1_token(OpenF1Client *c, char *err, size_t errlen)
{
	if (c->token && c->token_refresh_ns != 0 && feed_now_ns() >= c->token_refresh_ns)
		drop_token(c);
	if (c->token)
		return c->token;
	if (c->cfg.token_file)
	{
		c->token = read_secret(c->cfg.token_file, err, errlen);
		return c->token;
	}
	if (c->cfg.username && c->cfg.password_file && fetch_token(c, err, errlen))
		return c->token;
	if (!c->cfg.username)
		snprintf(err, errlen, "no credentials (--token-file, or --username and --password-file)");
	return NULL;
}

void
of1_token_invalidate(OpenF1Client *c)
{
	drop_token(c);
}

bool
of1_has_credentials(const OpenF1Client *c)
{
	return c->cfg.token_file || (c->cfg.username && c->cfg.password_file);
}

OpenF1Status
of1_get(OpenF1Client *c, const char *endpoint, const char *query,
		char **body_out, size_t *len_out, char *err, size_t errlen)
{
	char	   *url;
	int			backoff = BACKOFF_FIRST_MS;
	int			failures = 0;
	int64_t		waited_429_ms = 0;
	bool		reauthed = false;
	OpenF1Status result = OF1_FAILED;

	*body_out = NULL;
	*len_out = 0;
	if (asprintf(&url, "%s/%s%s%s", c->cfg.base_url, endpoint,
				 query && *query ? "?" : "", query ? query : "") < 0)
	{
		snprintf(err, errlen, "out of memory");
		return OF1_FAILED;
	}
	for (;;)
	{
		OpenF1Text	body = {0};
		Headers		hdr = {0};
		char		why[512] = "";
		char		d[300];
		long		status;

		if (of1_has_credentials(c) && of1_token(c, why, sizeof(why)) == NULL)
		{
			snprintf(err, errlen, "OpenF1 token: %s", why);
			break;
		}
		status = perform(c, url, NULL, true, &body, &hdr, why, sizeof(why));
		if (status == -2)
		{
			free(body.data);
			result = OF1_STOPPED;
			break;
		}
		if (status == -1)
		{
			snprintf(err, errlen, "%s", why);
			free(body.data);
			break;
		}
		if (status == 200)
		{
			const char *p = body.data ? body.data : "";

			while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
				p++;
			if (*p == '[')
			{
				*body_out = body.data;
				*len_out = body.len;
				result = OF1_OK;
				break;
			}
			detail_of(&body, d, sizeof(d));
			free(body.data);
			if (strncmp(d, "No results found", 16) == 0)
			{
				result = OF1_EMPTY;
				break;
			}
			snprintf(err, errlen, "%s: not a JSON array: %s", endpoint, d);
			break;
		}
		detail_of(&body, d, sizeof(d));
		free(body.data);
		if (status == 404 && strncmp(d, "No results found", 16) == 0)
		{
			result = OF1_EMPTY;
			break;
		}
		if (status == 422 || status == 504 || status == 408)
		{
			c->stats.too_big++;
			snprintf(err, errlen, "HTTP %ld: %s", status, status == 408 ? why : d);
			result = OF1_TOO_BIG;
			break;
		}
		if (status == 401 && of1_has_credentials(c) && !reauthed)
		{
			/* expired or revoked: one new token, then the request again */
			reauthed = true;
			drop_token(c);
			continue;
		}
		if (status == 429)
		{
			int			ms = (hdr.retry_after_s > 0 ? hdr.retry_after_s : 1) * 1000;

			c->stats.got_429++;
			if (waited_429_ms + ms > (int64_t) c->cfg.retry_budget_s * 1000)
			{
				snprintf(err, errlen, "%s: still rate-limited (HTTP 429) after %.0f s of waiting",
						 endpoint, waited_429_ms / 1000.0);
				break;
			}
			waited_429_ms += ms;
			c->stats.rate_waits++;
			c->stats.rate_wait_ms += ms;
			if (!wait_ms(c, ms))
			{
				result = OF1_STOPPED;
				break;
			}
			continue;
		}
		if (status == 0 || status >= 500)
		{
			c->stats.got_5xx++;
			if (status > 0)
				snprintf(why, sizeof(why), "HTTP %ld: %s", status, d);
			if (++failures >= c->cfg.max_attempts)
			{
				snprintf(err, errlen, "%s: failed %d times in a row (last: %s)",
						 endpoint, failures, why);
				break;
			}
			fprintf(stderr, "f1tel-feed: %s: %s; trying again in %.1f s\n",
					endpoint, why, backoff / 1000.0);
			if (!wait_ms(c, backoff))
			{
				result = OF1_STOPPED;
				break;
			}
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			continue;
		}
		/* any other answer is a refusal: say what OpenF1 said */
		snprintf(err, errlen, "%s: HTTP %ld: %s", endpoint, status, d);
		if (status == 401 && !of1_has_credentials(c))
			snprintf(err + strlen(err), errlen - strlen(err),
					 " (live sessions need an OpenF1 account: --token-file, or --username and --password-file)");
		break;
	}
	free(url);
	return result;
}

bool
of1_param(char *buf, size_t size, const char *name, const char *op, const char *value)
{
	char	   *v = curl_easy_escape(NULL, value, 0);
	size_t		used = strlen(buf);
	int			n;

	if (v == NULL)
		return false;
	n = snprintf(buf + used, size - used, "%s%s%s%s", used ? "&" : "", name, op, v);
	curl_free(v);
	return n > 0 && (size_t) n < size - used;
}

void
of1_set_wait(OpenF1Client *c, bool (*wait) (void *arg, int ms), void *arg)
{
	c->cfg.wait = wait;
	c->cfg.wait_arg = arg;
}

const OpenF1Stats *
of1_stats(const OpenF1Client *c)
{
	return &c->stats;
}

OpenF1Client *
of1_new(const OpenF1Config *cfg, char *err, size_t errlen)
{
	OpenF1Client *c = calloc(1, sizeof(OpenF1Client));
	static bool curl_ready = false;

	if (c == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->cfg = *cfg;
	if (c->cfg.rate_n < 1)
		c->cfg.rate_n = 30;
	if (c->cfg.rate_s < 1)
		c->cfg.rate_s = 10;
	if (c->cfg.timeout_s < 1)
		c->cfg.timeout_s = 60;
	if (c->cfg.max_attempts < 1)
		c->cfg.max_attempts = 10;
	if (c->cfg.retry_budget_s < 1)
		c->cfg.retry_budget_s = 900;
	if (!curl_ready)
	{
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		{
			snprintf(err, errlen, "curl_global_init failed");
			free(c);
			return NULL;
		}
		curl_ready = true;
	}
	c->starts = calloc(c->cfg.rate_n, sizeof(int64_t));
	c->curl = curl_easy_init();
	if (cfg->token_url)
		c->token_url = strdup(cfg->token_url);
	else
	{
		const char *slash = strrchr(cfg->base_url, '/');
		size_t		keep = slash && slash > strstr(cfg->base_url, "://") + 2 ?
			(size_t) (slash - cfg->base_url) : strlen(cfg->base_url);

		if (asprintf(&c->token_url, "%.*s/token", (int) keep, cfg->base_url) < 0)
			c->token_url = NULL;
	}
	if (c->starts == NULL || c->curl == NULL || c->token_url == NULL)
	{
		snprintf(err, errlen, "out of memory");
		of1_free(c);
		return NULL;
	}
	return c;
}

void
of1_free(OpenF1Client *c)
{
	if (c == NULL)
		return;
	drop_token(c);
	if (c->curl)
		curl_easy_cleanup(c->curl);
	free(c->token_url);
	free(c->starts);
	free(c);
}
