/*
 * src/sink/jwt.c — the service-account side of the BigQuery sink's auth:
 * the key file, its RSA key, and the RS256-signed JWT that asks Google's
 * token endpoint for an access token (the exchange itself: oauth.c).
 *
 * Implements jwt.h with json-c and OpenSSL 3: a key file is parsed with
 * json-c and its private key loaded once with OpenSSL to find a bad key at
 * start-up rather than at the first token refresh; a JWT is two json-c
 * objects, base64url-encoded, joined with '.', and signed with
 * EVP_DigestSign (RSA PKCS#1 v1.5, SHA-256) over that text.
 *
 * Rules a reader must know:
 *  - No PostgreSQL headers or calls (unit-tested outside the server).
 *  - Secrets: the private key is copied out of json-c's objects and
 *    json-c's copies are wiped (OPENSSL_cleanse) before they are freed, as
 *    is the tokener's string buffer, which holds the last string it read;
 *    the key is loaded from a read-only memory BIO over our own copy, so
 *    OpenSSL makes no copy of the PEM text.  Error messages are built from
 *    fixed text, field names and OpenSSL's error strings only: never from
 *    values read out of the key file (except a sanitised "type").  The
 *    signature and its base64url text are wiped before they are freed: only
 *    the JWT returned holds them, for the caller to wipe.
 *  - A key file whose token_uri would carry the JWT over plain http to a
 *    host that is not a loopback one is refused (oauth.h,
 *    f1_url_may_carry_credentials).
 *  - Memory comes from malloc (see jwt.h for who frees what).
 *  - Thread-safe: no global state (OpenSSL's error queue is per thread).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json_object.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "shared/cutil.h"
#include "sink/json_text.h"
#include "sink/jwt.h"
#include "sink/oauth.h"

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

/* Whether obj has a member key that is neither null nor a string. */
static bool
has_non_string(json_object *obj, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(obj, key, &v) && v != NULL &&
		!json_object_is_type(v, json_type_string);
}

/* A copy of a string member; *oom set when it cannot be made. */
static char *
dup_member(json_object *obj, const char *key, bool *oom)
{
	json_object *v = f1_json_nonempty_string(obj, key);
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
	obj = f1_json_parse_object(json, len, true, &why);
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

	type = f1_json_nonempty_string(obj, "type");
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
	if (f1_json_nonempty_string(obj, "client_email") == NULL)
	{
		f1_set_msg(errbuf, errlen, "%s: missing \"client_email\"", what);
		goto fail;
	}
	if (f1_json_nonempty_string(obj, "private_key") == NULL)
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
	/* the signed JWT goes there: never over plain http to another host */
	if (!f1_url_may_carry_credentials(sa->token_uri))
	{
		f1_set_msg(errbuf, errlen,
				   "%s: \"token_uri\" is not an https:// URL (plain http:// only to a loopback host: 127.0.0.1, [::1], localhost)",
				   what);
		goto fail;
	}

	repair_newlines(sa->private_key);
	pkey = load_rsa_key(sa->private_key, what, errbuf, errlen);
	if (pkey == NULL)
		goto fail;
	EVP_PKEY_free(pkey);

	f1_json_wipe_string(f1_json_nonempty_string(obj, "private_key"));
	json_object_put(obj);
	return true;

fail:
	f1_json_wipe_string(f1_json_nonempty_string(obj, "private_key"));
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
	return f1_json_finish(o, ok);
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
	EVP_PKEY_free(pkey);		/* OpenSSL clears the key's numbers */
	/* the signature makes the JWT a credential: wipe every copy but the one returned */
	if (sig != NULL)
		OPENSSL_cleanse(sig, siglen);
	free(sig);
	free_secret(sig64);
	free(input);
	free(h64);
	free(c64);
	free(hjson);
	free(cjson);
	return jwt;
}
