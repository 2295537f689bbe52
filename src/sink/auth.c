/*
 * src/sink/auth.c — access tokens for BigQuery: service-account JWT,
 * metadata server, or none.  See auth.h.  The plain-C parts it drives are
 * jwt.h (the key file and the signed JWT) and oauth.h (the form body and
 * the token answer); this file reads the key file and makes the request.
 *
 * The key file is read when first needed and kept (its private key wiped on
 * reset).  A token is refreshed when less than a fifth of its lifetime, and
 * at most five minutes, is left.
 */
#include "postgres.h"

#include <time.h>

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

void
f1_auth_reset(void)
{
	if (token != NULL)
	{
		memset(token, 0, strlen(token));
		pfree(token);
	}
	token = NULL;
	refresh_at = 0;
	if (account_loaded)
		f1_service_account_free(&account);
	account_loaded = false;
}

static bool
load_account(char **error)
{
	FILE	   *f;
	StringInfoData buf;
	char		chunk[4096];
	size_t		n;
	char		errbuf[512];
	bool		ok;

	if (account_loaded)
		return true;
	f = AllocateFile(f1tel_bigquery_credentials, "r");
	if (f == NULL)
	{
		*error = psprintf("could not open the service-account key file \"%s\": %m",
						  f1tel_bigquery_credentials);
		return false;
	}
	initStringInfo(&buf);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		appendBinaryStringInfo(&buf, chunk, n);
	FreeFile(f);
	ok = f1_service_account_parse(buf.data, buf.len, &account, errbuf, sizeof(errbuf));
	memset(buf.data, 0, buf.len);
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
		free(jwt);
		req.method = "POST";
		req.url = pstrdup(account.token_uri);
		req.content_type = "application/x-www-form-urlencoded";
		req.body = body;
		req.body_len = strlen(body);
	}
	f1_http_run_one(&req, 30000);
	if (body != NULL)
	{
		memset(body, 0, strlen(body));
		free(body);
	}
	if (req.status == 0)
	{
		*error = psprintf("could not reach the token endpoint %s: %s", req.url, req.error);
		return false;
	}
	if (!f1_token_response_parse(req.response.data, req.response.len, &access, &expires_in,
								 errbuf, sizeof(errbuf)))
	{
		*error = psprintf("the token endpoint %s refused (HTTP %ld): %s", req.url, req.status, errbuf);
		return false;
	}
	token = MemoryContextStrdup(TopMemoryContext, access);
	memset(access, 0, strlen(access));
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
	if (force && token != NULL)
	{
		pfree(token);
		token = NULL;
	}
	if (token != NULL && GetCurrentTimestamp() < refresh_at)
		return token;
	if (token != NULL)
	{
		pfree(token);
		token = NULL;
	}
	if (!fetch_token(error))
	{
		/* read the key file again next time: it may have been fixed */
		f1_auth_reset();
		*ok = false;
		return NULL;
	}
	return token;
}
