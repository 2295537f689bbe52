/*
 * src/sink/oauth.c — the OAuth 2.0 token exchange of the BigQuery sink: the
 * form body that trades a signed JWT for an access token, and the token
 * endpoint's (or the GCE metadata server's) answer.
 *
 * Implements oauth.h with json-c.  The network request itself is made by
 * auth.c; this file only builds and reads text.
 *
 * Rules a reader must know:
 *  - No PostgreSQL headers or calls (unit-tested outside the server).
 *  - Secrets: the body holds the JWT and the answer holds the token.  The
 *    token is copied out of json-c's objects and json-c's copy is wiped
 *    before it is freed, as is the tokener's string buffer.  Messages are
 *    built from fixed text and the endpoint's error code and description,
 *    never from the token; a body that is not JSON is never quoted (a
 *    truncated answer may hold part of a token).
 *  - Memory comes from malloc (see oauth.h for who frees what).
 *  - Thread-safe: no global state.
 *  - Where a credential may go (f1_url_may_carry_credentials): https, or
 *    plain http to a loopback host only; the host is parsed strictly, so a
 *    URL that libcurl might read differently is refused rather than guessed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <json-c/json_object.h>

#include "shared/cutil.h"
#include "sink/json_text.h"
#include "sink/oauth.h"

/* ---- the token request ---------------------------------------------------- */

char *
f1_token_request_body(const char *jwt)
{
	static const char prefix[] =
		"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=";
	static const char hex[] = "0123456789ABCDEF";
	size_t		n;
	char	   *body;
	char	   *o;

	if (jwt == NULL)
		return NULL;
	n = strlen(jwt);
	if (n > (SIZE_MAX - sizeof(prefix)) / 3)
		return NULL;
	body = malloc(sizeof(prefix) + 3 * n);
	if (body == NULL)
		return NULL;
	memcpy(body, prefix, sizeof(prefix) - 1);
	o = body + sizeof(prefix) - 1;
	for (const unsigned char *p = (const unsigned char *) jwt; *p; p++)
	{
		/* RFC 3986 unreserved characters stand for themselves */
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			(*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~')
			*o++ = (char) *p;
		else
		{
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return body;
}

/* ---- the token response --------------------------------------------------- */

/* An integer member, as a JSON number or a string of digits. */
static bool
get_int64(json_object *v, int64_t *out)
{
	if (json_object_is_type(v, json_type_int))
	{
		*out = json_object_get_int64(v);
		return true;
	}
	if (json_object_is_type(v, json_type_double))
	{
		double		d = json_object_get_double(v);

		if (!(d >= -9.2e18 && d <= 9.2e18))
			return false;
		*out = (int64_t) d;
		return true;
	}
	if (json_object_is_type(v, json_type_string))
	{
		const char *s = json_object_get_string(v);
		char	   *end;
		long long	n;

		if (*s < '0' || *s > '9')
			return false;
		n = strtoll(s, &end, 10);
		if (*end != '\0')
			return false;
		*out = n;
		return true;
	}
	return false;
}

bool
f1_token_response_parse(const char *body, size_t len, char **access_token,
						int64_t *expires_in, char *errbuf, size_t errlen)
{
	const char *what = "token response";
	json_object *obj;
	json_object *v;
	json_object *tok;
	const char *why;
	const char *t;
	int64_t		secs = 3600;

	*access_token = NULL;
	*expires_in = 0;
	obj = f1_json_parse_object(body, len, true, &why);
	if (obj == NULL)
	{
		/* never an excerpt: a truncated answer may hold part of a token */
		f1_set_msg(errbuf, errlen, "%s: %s", what, why);
		return false;
	}

	if (json_object_object_get_ex(obj, "error", &v) && v != NULL)
	{
		char		code[64];
		char		desc[300];
		json_object *d = NULL;

		desc[0] = '\0';
		if (json_object_is_type(v, json_type_string))
		{
			/* OAuth 2.0: {"error": "invalid_grant", "error_description": ...} */
			f1_copy_clean(code, sizeof(code), json_object_get_string(v), sizeof(code));
			d = f1_json_nonempty_string(obj, "error_description");
		}
		else if (json_object_is_type(v, json_type_object))
		{
			/* Google's API envelope: {"error": {"code", "message", "status"}} */
			json_object *s = f1_json_nonempty_string(v, "status");

			f1_copy_clean(code, sizeof(code), s != NULL ? json_object_get_string(s) : "error",
						  sizeof(code));
			d = f1_json_nonempty_string(v, "message");
		}
		else
			snprintf(code, sizeof(code), "error");
		if (d != NULL)
			f1_copy_clean(desc, sizeof(desc), json_object_get_string(d), sizeof(desc));
		f1_set_msg(errbuf, errlen, "%s%s%s", code, desc[0] ? ": " : "", desc);
		json_object_put(obj);
		return false;
	}

	tok = f1_json_nonempty_string(obj, "access_token");
	if (tok == NULL)
	{
		f1_set_msg(errbuf, errlen, "%s: no \"access_token\"", what);
		json_object_put(obj);
		return false;
	}
	/* it goes into an Authorization header: printable ASCII only */
	for (t = json_object_get_string(tok); *t; t++)
	{
		if (*t < 0x21 || *t > 0x7E)
		{
			f1_set_msg(errbuf, errlen, "%s: \"access_token\" holds characters not allowed in an HTTP header",
					   what);
			goto fail;
		}
	}
	if (json_object_object_get_ex(obj, "token_type", &v) && v != NULL &&
		(!json_object_is_type(v, json_type_string) ||
		 strcasecmp(json_object_get_string(v), "Bearer") != 0))
	{
		f1_set_msg(errbuf, errlen, "%s: \"token_type\" is not \"Bearer\"", what);
		goto fail;
	}
	if (json_object_object_get_ex(obj, "expires_in", &v) && v != NULL &&
		(!get_int64(v, &secs) || secs < 0))
	{
		f1_set_msg(errbuf, errlen, "%s: \"expires_in\" is not a number of seconds", what);
		goto fail;
	}

	*access_token = strdup(json_object_get_string(tok));
	if (*access_token == NULL)
	{
		f1_set_msg(errbuf, errlen, "%s: out of memory", what);
		goto fail;
	}
	*expires_in = secs;
	f1_json_wipe_string(tok);
	json_object_put(obj);
	return true;

fail:
	f1_json_wipe_string(tok);
	json_object_put(obj);
	return false;
}

/* ---- where credentials may be sent ---------------------------------------- */

bool
f1_url_may_carry_credentials(const char *url)
{
	const char *host;
	const char *end;
	char		name[64];
	size_t		n;
	unsigned char addr[16];

	if (url == NULL)
		return false;
	if (strncasecmp(url, "https://", 8) == 0)
		return url[8] != '\0';
	if (strncasecmp(url, "http://", 7) != 0)
		return false;
	host = url + 7;
	if (*host == '[')
	{
		/* an IPv6 literal: [::1] */
		end = strchr(host, ']');
		if (end == NULL)
			return false;
		n = (size_t) (end - host - 1);
		if (n == 0 || n >= sizeof(name))
			return false;
		memcpy(name, host + 1, n);
		name[n] = '\0';
		if (inet_pton(AF_INET6, name, addr) != 1 ||
			!IN6_IS_ADDR_LOOPBACK((struct in6_addr *) addr))
			return false;
		end++;
	}
	else
	{
		end = host + strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-");
		n = (size_t) (end - host);
		if (n == 0 || n >= sizeof(name))
			return false;
		memcpy(name, host, n);
		name[n] = '\0';
		if (strcasecmp(name, "localhost") != 0 &&
			(inet_pton(AF_INET, name, addr) != 1 || addr[0] != 127))
			return false;
	}
	/* then only a port, and the end of the authority */
	if (*end == ':')
	{
		end++;
		if (*end < '0' || *end > '9')
			return false;
		end += strspn(end, "0123456789");
	}
	return *end == '\0' || *end == '/' || *end == '?' || *end == '#';
}
