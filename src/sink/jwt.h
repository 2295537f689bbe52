/*
 * src/sink/jwt.h — Google service-account keys and the JWTs signed with
 * them, for the BigQuery sink, in plain C.
 *
 * The sink gets its OAuth 2.0 access tokens without a Google library: it
 * reads a service-account key file, signs a JWT with the key (RS256, OpenSSL
 * 3), posts it to the key's token_uri as a form, and reads the token out of
 * the answer.  This header covers the key file and the JWT (jwt.c); the
 * form body and the token answer are oauth.h (oauth.c); the request itself
 * is made by auth.c.
 *
 * Rules a reader must know:
 *  - No PostgreSQL headers and no PostgreSQL calls: the code is unit-tested
 *    outside the server (test/unit/test_jwt.c, test_key_file.c) and compiled into the
 *    extension as well.  Only standard, json-c and OpenSSL headers are used
 *    (and only in jwt.c: this header needs none of them).
 *  - Secrets never go into messages: no error text holds any part of a
 *    private key or a JWT.  OpenSSL's own error strings (which name the
 *    failing routine, never key bytes) may appear.
 *  - Memory comes from malloc.  Strings returned are the caller's to free();
 *    an F1ServiceAccount's strings are freed by f1_service_account_free(),
 *    which wipes the private key first.  Callers should wipe the key file's
 *    bytes and JWTs (OPENSSL_cleanse, explicit_bzero) before freeing them too.
 *  - errbuf/errlen: a one-line reason is written there on failure, always
 *    NUL-terminated and truncated to errlen; errbuf may be NULL.
 *  - Thread-safe: no global state (OpenSSL's error queue is per thread).
 */
#ifndef F1TEL_SINK_JWT_H
#define F1TEL_SINK_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where a key file without "token_uri" sends its JWT. */
#define F1_DEFAULT_TOKEN_URI	"https://oauth2.googleapis.com/token"

/* The scope for BigQuery and the audience of a JWT posted to Google. */
#define F1_BIGQUERY_SCOPE		"https://www.googleapis.com/auth/bigquery"

/* Google refuses a JWT that is valid for longer than this (exp - iat). */
#define F1_JWT_MAX_LIFETIME		3600

/*
 * A parsed service-account key file.  Each string is malloc'd and
 * NUL-terminated; project_id and private_key_id are NULL when the file has
 * none (then the JWT header has no "kid"), the others are always set after a
 * successful parse.  private_key is PEM text with real newlines.
 */
typedef struct F1ServiceAccount
{
	char	   *type;			/* "service_account" */
	char	   *project_id;
	char	   *private_key_id;
	char	   *private_key;	/* secret: wiped by f1_service_account_free() */
	char	   *client_email;
	char	   *token_uri;		/* F1_DEFAULT_TOKEN_URI when the file has none */
} F1ServiceAccount;

/*
 * Parse a Google service-account key file (JSON text, len bytes; it need not
 * be NUL-terminated).  Requires "type": "service_account", "client_email"
 * and "private_key" (PEM; a key whose newlines are still written as the two
 * characters \n, as happens when a key is pasted into an environment
 * variable, is repaired).  The key must load with OpenSSL and be an RSA key,
 * and token_uri must be https:// (or http:// to a loopback host, for a local
 * server: f1_url_may_carry_credentials() in oauth.h).
 * On success fills *sa and returns true; on failure returns false, leaves
 * *sa zeroed (nothing to free) and names the missing or bad field in errbuf,
 * e.g. 'service account key: missing "client_email"'.
 */
extern bool f1_service_account_parse(const char *json, size_t len, F1ServiceAccount *sa,
									 char *errbuf, size_t errlen);

/* Free the strings of *sa (the private key is wiped first) and zero it. */
extern void f1_service_account_free(F1ServiceAccount *sa);

/*
 * Sign a JWT for an OAuth 2.0 JWT-bearer grant with sa's private key:
 * header {"alg":"RS256","typ":"JWT","kid":private_key_id}, claims
 * {"iss":client_email,"scope":scope,"aud":aud,"iat":iat,"exp":exp}, each
 * base64url without padding, signed with RSA PKCS#1 v1.5 over SHA-256.
 * For Google's token endpoint aud is sa->token_uri, scope F1_BIGQUERY_SCOPE,
 * iat the current Unix time and exp at most iat + F1_JWT_MAX_LIFETIME (a
 * larger or non-positive lifetime is refused here).  Returns the JWT,
 * malloc'd, or NULL with the reason in errbuf.
 */
extern char *f1_jwt_sign(const F1ServiceAccount *sa, const char *scope, const char *aud,
						 int64_t iat, int64_t exp, char *errbuf, size_t errlen);

/*
 * base64url (RFC 4648 section 5) of len bytes, without padding, malloc'd and
 * NUL-terminated; NULL when out of memory.
 */
extern char *f1_base64url_encode(const unsigned char *data, size_t len);

#endif							/* F1TEL_SINK_JWT_H */
