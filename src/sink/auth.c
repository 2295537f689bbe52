/*
 * src/sink/auth.c — access tokens for BigQuery: service-account JWT,
 * metadata server, or none.  See auth.h.  The plain-C parts it drives are
 * jwt.h (the key file and the signed JWT) and oauth.h (the form body and
 * the token answer); this file reads the key file and makes the request.
 *
 * The key file is read when first needed and kept (its private key wiped on
 * reset).  A token is refreshed when less than a fifth of its lifetime, and
 * at most five minutes, is left.
 *
 * Rules a reader must know:
 *  - Every copy of a secret this file makes is wiped (explicit_bzero) before
 *    it is freed: the key file's bytes (read without stdio, whose buffer we
 *    could not wipe), the JWT, the request body, the token endpoint's answer
 *    and the cached token.
 *  - Credentials go over https only, or plain http to a loopback host (the
 *    local test server): a key file whose token_uri is http to another host
 *    is refused when it is read (jwt.c), and no token is handed out for an
 *    f1tel.bigquery_endpoint that is (f1_auth_token).  The GCE metadata
 *    server is plain http by design: it never leaves the machine.
 */
#include "postgres.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "storage/fd.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "shared/guc.h"
#include "sink/auth.h"
#include "sink/http.h"
#include "sink/jwt.h"
#include "sink/oauth.h"

static char *token;				/* in TopMemoryContext */
static TimestampTz refresh_at;
static F1ServiceAccount account;
static bool account_loaded;

/* Wipe and forget the cached token. */
static void
drop_token(void)
{
	if (token != NULL)
	{
		explicit_bzero(token, strlen(token));
		pfree(token);
	}
	token = NULL;
}

void
f1_auth_reset(void)
{
	drop_token();
	refresh_at = 0;
	if (account_loaded)
		f1_service_account_free(&account);
	account_loaded = false;
}

static bool
load_account(char **error)
{
	int			fd;
	StringInfoData buf;
	char		chunk[4096];
	ssize_t		n;
	char		errbuf[512];
	bool		ok;

	if (account_loaded)
		return true;
	fd = OpenTransientFile(f1tel_bigquery_credentials, O_RDONLY | PG_BINARY);
	if (fd < 0)
	{
		*error = psprintf("could not open the service-account key file \"%s\": %m",
						  f1tel_bigquery_credentials);
		return false;
	}
	initStringInfo(&buf);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
	{
		/* grow by hand: a repalloc would leave a copy of the key unwiped */
		if (buf.len + n >= buf.maxlen)
		{
			StringInfoData bigger;

			initStringInfo(&bigger);
			enlargeStringInfo(&bigger, (buf.len + n) * 2);
			appendBinaryStringInfo(&bigger, buf.data, buf.len);
			explicit_bzero(buf.data, buf.len);
			pfree(buf.data);
			buf = bigger;
		}
		appendBinaryStringInfo(&buf, chunk, n);
	}
	explicit_bzero(chunk, sizeof(chunk));
	if (n < 0)
	{
		*error = psprintf("could not read the service-account key file \"%s\": %m",
						  f1tel_bigquery_credentials);
		CloseTransientFile(fd);
		explicit_bzero(buf.data, buf.len);
		pfree(buf.data);
		return false;
	}
	CloseTransientFile(fd);
	ok = f1_service_account_parse(buf.data, buf.len, &account, errbuf, sizeof(errbuf));
	explicit_bzero(buf.data, buf.len);
	pfree(buf.data);
	if (!ok)
	{
		*error = psprintf("invalid service-account key file \"%s\": %s",
						  f1tel_bigquery_credentials, errbuf);
		return false;
	}
	account_loaded = true;
	return true;
}

/* Wipe and free the answer of the token endpoint (it holds the token). */
static void
wipe_response(F1HttpRequest *req)
{
	if (req->response.data != NULL)
	{
		explicit_bzero(req->response.data, req->response.maxlen);
		pfree(req->response.data);
		req->response.data = NULL;
		req->response.len = 0;
	}
}

/* POST a signed JWT to the key's token_uri (or GET the metadata server). */
static bool
fetch_token(char **error)
{
	F1HttpRequest req;
	char		errbuf[512];
	char	   *jwt = NULL;
	char	   *body = NULL;
	char	   *access = NULL;
	int64_t		expires_in = 0;
	bool		metadata = strcmp(f1tel_bigquery_credentials, "metadata") == 0;

	memset(&req, 0, sizeof(req));
	if (metadata)
	{
		const char *host = getenv("GCE_METADATA_HOST");

		req.method = "GET";
		req.url = psprintf("http://%s/computeMetadata/v1/instance/service-accounts/default/token",
						   host ? host : "metadata.google.internal");
		req.extra_header = "Metadata-Flavor: Google";
	}
	else
	{
		int64_t		now = (int64_t) time(NULL);

		if (!load_account(error))
			return false;
		jwt = f1_jwt_sign(&account, F1_BIGQUERY_SCOPE, account.token_uri, now,
						  now + F1_JWT_MAX_LIFETIME, errbuf, sizeof(errbuf));
		if (jwt == NULL)
		{
			*error = psprintf("could not sign a token request with the key of %s: %s",
							  account.client_email, errbuf);
			return false;
		}
		body = f1_token_request_body(jwt);
		explicit_bzero(jwt, strlen(jwt));
		free(jwt);
		if (body == NULL)
		{
			*error = pstrdup("out of memory building the token request");
			return false;
		}
		req.method = "POST";
		req.url = pstrdup(account.token_uri);
		req.content_type = "application/x-www-form-urlencoded";
		req.body = body;
		req.body_len = strlen(body);
	}
	f1_http_run_one(&req, 30000);
	if (body != NULL)
	{
		explicit_bzero(body, strlen(body));
		free(body);
	}
	if (req.status == 0)
	{
		*error = psprintf("could not reach the token endpoint %s: %s", req.url, req.error);
		wipe_response(&req);
		return false;
	}
	if (!f1_token_response_parse(req.response.data, req.response.len, &access, &expires_in,
								 errbuf, sizeof(errbuf)))
	{
		*error = psprintf("the token endpoint %s refused (HTTP %ld): %s", req.url, req.status, errbuf);
		wipe_response(&req);
		return false;
	}
	wipe_response(&req);
	token = MemoryContextStrdup(TopMemoryContext, access);
	explicit_bzero(access, strlen(access));
	free(access);
	if (expires_in <= 0)
		expires_in = 3600;
	refresh_at = GetCurrentTimestamp() +
		(expires_in - Min(300, expires_in / 5)) * USECS_PER_SEC;
	return true;
}

const char *
f1_auth_token(bool force, char **error, bool *ok)
{
	*ok = true;
	if (strcmp(f1tel_bigquery_credentials, "none") == 0)
		return NULL;
	if (!f1_url_may_carry_credentials(f1tel_bigquery_endpoint))
	{
		*error = psprintf("refusing to send an access token to f1tel.bigquery_endpoint %s: not https (plain http only to a loopback host, or with f1tel.bigquery_credentials = 'none')",
						  f1tel_bigquery_endpoint);
		*ok = false;
		return NULL;
	}
	if (force)
		drop_token();
	if (token != NULL && GetCurrentTimestamp() < refresh_at)
		return token;
	drop_token();
	if (!fetch_token(error))
	{
		/* read the key file again next time: it may have been fixed */
		f1_auth_reset();
		*ok = false;
		return NULL;
	}
	return token;
}
