/*
 * src/sink/jwt.c — Google service-account auth for the BigQuery sink.
 *
 * Implements the contract of jwt.h with json-c and OpenSSL 3: a key file is
 * parsed with json-c and its private key loaded once with OpenSSL to find a
 * bad key at start-up rather than at the first token refresh; a JWT is two
 * json-c objects, base64url-encoded, joined with '.', and signed with
 * EVP_DigestSign (RSA PKCS#1 v1.5, SHA-256) over that text.
 *
 * Secrets: the private key is copied out of json-c's objects and json-c's
 * copies are wiped (OPENSSL_cleanse) before they are freed, as is the
 * tokener's string buffer, which holds the last string it read; the key is
 * loaded from a read-only memory BIO over our own copy, so OpenSSL makes no
 * copy of the PEM text.  Error messages are built from fixed text, field
 * names and OpenSSL's error strings only: never from values read out of the
 * key file (except a sanitised "type") or a token response's token.
 *
 * No PostgreSQL headers or calls; memory is malloc'd (see jwt.h for who
 * frees what).
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json_object.h>
#include <json-c/json_tokener.h>
#include <json-c/printbuf.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "shared/cutil.h"
#include "sink/jwt.h"

#define JSON_OUT_FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* ---- messages ------------------------------------------------------------ */

/*
 * The most specific OpenSSL error queued by this thread, as text ("error:
 * 1E08010C:DECODER routines::unsupported"); the queue is emptied.  Such
 * strings name routines and reasons, never key bytes.
 */
static const char *
openssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, len, "no OpenSSL error queued");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

/* ---- JSON ---------------------------------------------------------------- */

/* Wipe the bytes of a json-c string object (it may hold a secret). */
static void
wipe_json_string(json_object *v)
{
	if (v != NULL && json_object_is_type(v, json_type_string))
	{
		char	   *p = (char *) json_object_get_string(v);
		int			n = json_object_get_string_len(v);

		if (p != NULL && n > 0)
			OPENSSL_cleanse(p, (size_t) n);
	}
}

/*
 * Parse len bytes of JSON text that must be one object (with nothing but
 * white space after it).  With wipe, the tokener's string buffer is wiped
 * before it is freed.  NULL if it is not such a text: *why says how.
 */
static json_object *
parse_object(const char *text, size_t len, bool wipe, const char **why)
{
	json_tokener *tok;
	json_object *obj;
	size_t		end;

	*why = "not JSON";
	if (text == NULL || len == 0)
	{
		*why = "empty";
		return NULL;
	}
	if (len > INT_MAX)
	{
		*why = "too long";
		return NULL;
	}
	tok = json_tokener_new();
	if (tok == NULL)
	{
		*why = "out of memory";
		return NULL;
	}
	obj = json_tokener_parse_ex(tok, text, (int) len);
	if (obj != NULL && json_tokener_get_error(tok) != json_tokener_success)
	{
		json_object_put(obj);
		obj = NULL;
	}
	end = obj != NULL ? json_tokener_get_parse_end(tok) : len;
	for (; end < len; end++)
	{
		if (!isspace((unsigned char) text[end]))
		{
			json_object_put(obj);
			obj = NULL;
			break;
		}
	}
	if (obj != NULL && !json_object_is_type(obj, json_type_object))
	{
		*why = "not a JSON object";
		json_object_put(obj);
		obj = NULL;
	}

	/*
	 * json-c keeps the last string it read in the tokener's print buffer;
	 * the struct is public in json-c 0.13 to 0.17 although marked private.
	 */
	if (wipe && tok->pb != NULL && tok->pb->buf != NULL && tok->pb->size > 0)
		OPENSSL_cleanse(tok->pb->buf, (size_t) tok->pb->size);
	json_tokener_free(tok);
	return obj;
}

/* A member that is a non-empty string, else NULL. */
static json_object *
get_string(json_object *obj, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) ||
		!json_object_is_type(v, json_type_string) ||
		json_object_get_string_len(v) == 0)
		return NULL;
	return v;
}

/* Whether obj has a member key that is neither null nor a string. */
static bool
has_non_string(json_object *obj, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(obj, key, &v) && v != NULL &&
		!json_object_is_type(v, json_type_string);
}

/* The JSON text of obj, malloc'd; NULL when out of memory. */
static char *
json_dup(json_object *obj)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_OUT_FLAGS);

	return s != NULL ? strdup(s) : NULL;
}

/* ---- base64url ----------------------------------------------------------- */

char *
f1_base64url_encode(const unsigned char *data, size_t len)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char	   *out;
	char	   *o;
	size_t		i;

	if (len > (SIZE_MAX - 1) / 4 * 3)
		return NULL;
	out = malloc((len + 2) / 3 * 4 + 1);
	if (out == NULL)
		return NULL;
	o = out;
	for (i = 0; i + 2 < len; i += 3)
	{
		uint32_t	v = (uint32_t) data[i] << 16 | (uint32_t) data[i + 1] << 8 | data[i + 2];

		*o++ = alphabet[v >> 18];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = alphabet[(v >> 6) & 63];
		*o++ = alphabet[v & 63];
	}
	if (len - i == 1)
	{
		uint32_t	v = (uint32_t) data[i] << 16;

		*o++ = alphabet[v >> 18];
		*o++ = alphabet[(v >> 12) & 63];
	}
	else if (len - i == 2)
	{
		uint32_t	v = (uint32_t) data[i] << 16 | (uint32_t) data[i + 1] << 8;

		*o++ = alphabet[v >> 18];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = alphabet[(v >> 6) & 63];
	}
	*o = '\0';
	return out;
}

/* base64url of a string's bytes */
static char *
b64_str(const char *s)
{
	return f1_base64url_encode((const unsigned char *) s, strlen(s));
}

/* ---- keys ---------------------------------------------------------------- */

/* Never prompt on a terminal for the passphrase of an encrypted key. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void) buf;
	(void) size;
	(void) rwflag;
	(void) u;
	return -1;
}

/*
 * Load a PEM private key, which must be RSA.  NULL with the reason in errbuf
 * (prefixed with what).
 */
static EVP_PKEY *
load_rsa_key(const char *pem, const char *what, char *errbuf, size_t errlen)
{
	BIO		   *bio;
	EVP_PKEY   *pkey;
	char		reason[256];

	ERR_clear_error();
	bio = BIO_new_mem_buf(pem, -1);
	if (bio == NULL)
	{
		f1_set_msg(errbuf, errlen, "%s: out of memory", what);
		return NULL;
	}
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (pkey == NULL)
	{
		f1_set_msg(errbuf, errlen, "%s: \"private_key\" is not a usable PEM private key (%s)",
				   what, openssl_reason(reason, sizeof(reason)));
		return NULL;
	}
	if (!EVP_PKEY_is_a(pkey, "RSA"))
	{
		f1_set_msg(errbuf, errlen, "%s: \"private_key\" is not an RSA key (RS256 needs one)",
				   what);
		EVP_PKEY_free(pkey);
		ERR_clear_error();
		return NULL;
	}
	ERR_clear_error();
	return pkey;
}

/*
 * A key whose line breaks are the two characters '\' 'n' (escaped twice, as
 * happens when a key file is pasted into an environment variable) gets real
 * ones, in place.
 */
static void
repair_newlines(char *pem)
{
	char	   *r;
	char	   *w;

	if (strchr(pem, '\n') != NULL || strstr(pem, "\\n") == NULL)
		return;
	for (r = w = pem; *r; r++)
	{
		if (r[0] == '\\' && r[1] == 'n')
		{
			*w++ = '\n';
			r++;
		}
		else
			*w++ = *r;
	}
	/* wipe the tail that moved forward */
	OPENSSL_cleanse(w, (size_t) (r - w));
}

/* ---- service-account key files -------------------------------------------- */

static void
free_secret(char *s)
{
	if (s != NULL)
	{
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

void
f1_service_account_free(F1ServiceAccount *sa)
{
	if (sa == NULL)
		return;
	free(sa->type);
	free(sa->project_id);
	free(sa->private_key_id);
	free_secret(sa->private_key);
	free(sa->client_email);
	free(sa->token_uri);
	memset(sa, 0, sizeof(*sa));
}

/* A copy of a string member; *oom set when it cannot be made. */
static char *
dup_member(json_object *obj, const char *key, bool *oom)
{
	json_object *v = get_string(obj, key);
	char	   *s;

	if (v == NULL)
		return NULL;
	s = strdup(json_object_get_string(v));
	if (s == NULL)
		*oom = true;
	return s;
}

bool
f1_service_account_parse(const char *json, size_t len, F1ServiceAccount *sa,
						 char *errbuf, size_t errlen)
{
	static const char *const fields[] = {
		"type", "project_id", "private_key_id", "private_key", "client_email", "token_uri"
	};
	const char *what = "service account key";
	json_object *obj;
	json_object *type;
	const char *why;
	bool		oom = false;
	EVP_PKEY   *pkey;

	memset(sa, 0, sizeof(*sa));
	obj = parse_object(json, len, true, &why);
	if (obj == NULL)
	{
		f1_set_msg(errbuf, errlen, "%s: %s", what, why);
		return false;
	}

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
	{
		if (has_non_string(obj, fields[i]))
		{
			f1_set_msg(errbuf, errlen, "%s: \"%s\" is not a string", what, fields[i]);
			goto fail;
		}
	}

	type = get_string(obj, "type");
	if (type == NULL)
	{
		f1_set_msg(errbuf, errlen, "%s: missing \"type\"", what);
		goto fail;
	}
	if (strcmp(json_object_get_string(type), "service_account") != 0)
	{
		char		shown[48];
		const char *t = json_object_get_string(type);
		bool		plain = strlen(t) < sizeof(shown);

		/* a type is not a secret, but show only a plausible one */
		for (const char *p = t; plain && *p; p++)
			plain = (*p >= 'a' && *p <= 'z') || *p == '_';
		f1_copy_clean(shown, sizeof(shown), plain ? t : "?", sizeof(shown));
		f1_set_msg(errbuf, errlen, "%s: \"type\" is \"%s\", not \"service_account\"",
				   what, shown);
		goto fail;
	}
	if (get_string(obj, "client_email") == NULL)
	{
		f1_set_msg(errbuf, errlen, "%s: missing \"client_email\"", what);
		goto fail;
	}
	if (get_string(obj, "private_key") == NULL)
	{
		f1_set_msg(errbuf, errlen, "%s: missing \"private_key\"", what);
		goto fail;
	}

	sa->type = dup_member(obj, "type", &oom);
	sa->project_id = dup_member(obj, "project_id", &oom);
	sa->private_key_id = dup_member(obj, "private_key_id", &oom);
	sa->private_key = dup_member(obj, "private_key", &oom);
	sa->client_email = dup_member(obj, "client_email", &oom);
	sa->token_uri = dup_member(obj, "token_uri", &oom);
	if (sa->token_uri == NULL && !oom)
	{
		sa->token_uri = strdup(F1_DEFAULT_TOKEN_URI);
		oom = sa->token_uri == NULL;
	}
	if (oom)
	{
		f1_set_msg(errbuf, errlen, "%s: out of memory", what);
		goto fail;
	}

	repair_newlines(sa->private_key);
	pkey = load_rsa_key(sa->private_key, what, errbuf, errlen);
	if (pkey == NULL)
		goto fail;
	EVP_PKEY_free(pkey);

	wipe_json_string(get_string(obj, "private_key"));
	json_object_put(obj);
	return true;

fail:
	wipe_json_string(get_string(obj, "private_key"));
	json_object_put(obj);
	f1_service_account_free(sa);
	return false;
}

/* ---- JWT ----------------------------------------------------------------- */

/* The JSON text of the header or the claims; NULL when out of memory. */
static char *
jwt_json(const F1ServiceAccount *sa, const char *scope, const char *aud,
		 int64_t iat, int64_t exp, bool header)
{
	json_object *o = json_object_new_object();
	char	   *s = NULL;
	bool		ok;

	if (o == NULL)
		return NULL;
	if (header)
	{
		ok = f1_json_add_member(o, "alg", json_object_new_string("RS256")) &&
			f1_json_add_member(o, "typ", json_object_new_string("JWT")) &&
			(sa->private_key_id == NULL ||
			 f1_json_add_member(o, "kid", json_object_new_string(sa->private_key_id)));
	}
	else
	{
		ok = f1_json_add_member(o, "iss", json_object_new_string(sa->client_email)) &&
			(scope == NULL || f1_json_add_member(o, "scope", json_object_new_string(scope))) &&
			f1_json_add_member(o, "aud", json_object_new_string(aud)) &&
			f1_json_add_member(o, "iat", json_object_new_int64(iat)) &&
			f1_json_add_member(o, "exp", json_object_new_int64(exp));
	}
	if (ok)
		s = json_dup(o);
	json_object_put(o);
	return s;
}

char *
f1_jwt_sign(const F1ServiceAccount *sa, const char *scope, const char *aud,
			int64_t iat, int64_t exp, char *errbuf, size_t errlen)
{
	const char *what = "JWT";
	char	   *hjson = NULL;
	char	   *cjson = NULL;
	char	   *h64 = NULL;
	char	   *c64 = NULL;
	char	   *input = NULL;
	char	   *sig64 = NULL;
	char	   *jwt = NULL;
	unsigned char *sig = NULL;
	size_t		siglen = 0;
	size_t		inlen;
	EVP_PKEY   *pkey = NULL;
	EVP_MD_CTX *md = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	char		reason[256];

	if (sa == NULL || sa->private_key == NULL || sa->client_email == NULL)
	{
		f1_set_msg(errbuf, errlen, "%s: no service account key", what);
		return NULL;
	}
	if (aud == NULL || aud[0] == '\0')
	{
		f1_set_msg(errbuf, errlen, "%s: no audience", what);
		return NULL;
	}
	if (exp <= iat || exp - iat > F1_JWT_MAX_LIFETIME)
	{
		f1_set_msg(errbuf, errlen, "%s: exp - iat must be 1 to %d seconds, not %lld",
				   what, F1_JWT_MAX_LIFETIME, (long long) (exp - iat));
		return NULL;
	}

	hjson = jwt_json(sa, scope, aud, iat, exp, true);
	cjson = jwt_json(sa, scope, aud, iat, exp, false);
	h64 = hjson != NULL ? b64_str(hjson) : NULL;
	c64 = cjson != NULL ? b64_str(cjson) : NULL;
	if (h64 == NULL || c64 == NULL)
	{
		f1_set_msg(errbuf, errlen, "%s: out of memory", what);
		goto done;
	}
	inlen = strlen(h64) + 1 + strlen(c64);
	input = malloc(inlen + 1);
	if (input == NULL)
	{
		f1_set_msg(errbuf, errlen, "%s: out of memory", what);
		goto done;
	}
	snprintf(input, inlen + 1, "%s.%s", h64, c64);

	pkey = load_rsa_key(sa->private_key, what, errbuf, errlen);
	if (pkey == NULL)
		goto done;
	md = EVP_MD_CTX_new();
	if (md == NULL ||
		EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, pkey) != 1 ||
		EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0 ||
		EVP_DigestSign(md, NULL, &siglen, (const unsigned char *) input, inlen) != 1 ||
		(sig = malloc(siglen)) == NULL ||
		EVP_DigestSign(md, sig, &siglen, (const unsigned char *) input, inlen) != 1)
	{
		f1_set_msg(errbuf, errlen, "%s: signing failed (%s)", what,
				   md == NULL || (siglen > 0 && sig == NULL) ? "out of memory" :
				   openssl_reason(reason, sizeof(reason)));
		goto done;
	}
	sig64 = f1_base64url_encode(sig, siglen);
	if (sig64 == NULL || (jwt = malloc(inlen + 1 + strlen(sig64) + 1)) == NULL)
	{
		f1_set_msg(errbuf, errlen, "%s: out of memory", what);
		goto done;
	}
	snprintf(jwt, inlen + 1 + strlen(sig64) + 1, "%s.%s", input, sig64);

done:
	ERR_clear_error();
	EVP_MD_CTX_free(md);		/* frees pctx too */
	EVP_PKEY_free(pkey);
	free(sig);
	free(sig64);
	free(input);
	free(h64);
	free(c64);
	free(hjson);
	free(cjson);
	return jwt;
}

/* ---- token exchange ------------------------------------------------------- */

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
	obj = parse_object(body, len, true, &why);
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
			d = get_string(obj, "error_description");
		}
		else if (json_object_is_type(v, json_type_object))
		{
			/* Google's API envelope: {"error": {"code", "message", "status"}} */
			json_object *s = get_string(v, "status");

			f1_copy_clean(code, sizeof(code), s != NULL ? json_object_get_string(s) : "error",
						  sizeof(code));
			d = get_string(v, "message");
		}
		else
			snprintf(code, sizeof(code), "error");
		if (d != NULL)
			f1_copy_clean(desc, sizeof(desc), json_object_get_string(d), sizeof(desc));
		f1_set_msg(errbuf, errlen, "%s%s%s", code, desc[0] ? ": " : "", desc);
		json_object_put(obj);
		return false;
	}

	tok = get_string(obj, "access_token");
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
	wipe_json_string(tok);
	json_object_put(obj);
	return true;

fail:
	wipe_json_string(tok);
	json_object_put(obj);
	return false;
}
