/*
 * src/sink/oauth.h — the OAuth 2.0 token exchange of the BigQuery sink, in
 * plain C: the form body that trades a signed JWT (jwt.h) for an access
 * token, and the token endpoint's answer.
 *
 * auth.c posts the body to the service-account key's token_uri (or GETs
 * the GCE metadata server, whose answer has the same shape) and hands the
 * answer to f1_token_response_parse().  This file does the parts that need
 * no network.
 *
 * Rules a reader must know:
 *  - No PostgreSQL headers and no PostgreSQL calls: unit-tested outside the
 *    server (test/unit/test_oauth.c) and compiled into the extension as well.
 *    Only standard and json-c headers are used (in oauth.c only).
 *  - Secrets never go into messages: no error text holds any part of a JWT
 *    or an access token.
 *  - Memory comes from malloc: strings returned are the caller's to free(),
 *    after wiping them (OPENSSL_cleanse or memset): the body holds the JWT,
 *    the token is a credential.
 *  - errbuf/errlen: a one-line reason is written there on failure, always
 *    NUL-terminated and truncated to errlen; errbuf may be NULL.
 *  - Thread-safe: no global state.
 */
#ifndef F1TEL_SINK_OAUTH_H
#define F1TEL_SINK_OAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The application/x-www-form-urlencoded body that trades a JWT for a token:
 * "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=<jwt>",
 * the JWT percent-encoded.  Malloc'd; NULL when out of memory or jwt is NULL.
 * The body holds the JWT: wipe it after use.
 */
extern char *f1_token_request_body(const char *jwt);

/*
 * Parse the token endpoint's (or the GCE metadata server's) JSON answer.
 * Success, {"access_token": "...", "expires_in": 3599, "token_type":
 * "Bearer"}: returns true, *access_token malloc'd (the caller frees it) and
 * *expires_in in seconds (3600 when the answer has none).  An OAuth error,
 * {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}:
 * returns false with "invalid_grant: Invalid JWT Signature." in errbuf.  A
 * body that is not JSON, or lacks the token, is refused too.  On false
 * *access_token is NULL.  No message ever holds the token.
 */
extern bool f1_token_response_parse(const char *body, size_t len, char **access_token,
									int64_t *expires_in, char *errbuf, size_t errlen);

/*
 * Whether a credential (a bearer token, a signed JWT) may be sent to url:
 * an https:// URL, or an http:// URL whose host is a loopback one
 * (127.0.0.0/8 as a dotted quad, [::1], localhost), for a local server.
 * Anything else is refused: another scheme, a user name or password in the
 * URL, a host written in any other way.  Case-insensitive for the scheme
 * and "localhost".
 */
extern bool f1_url_may_carry_credentials(const char *url);

#endif							/* F1TEL_SINK_OAUTH_H */
