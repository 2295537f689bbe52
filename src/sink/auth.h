/*
 * src/sink/auth.h — access tokens for BigQuery.
 *
 * f1tel.bigquery_credentials names where they come from: a service-account
 * key file (a JWT signed RS256 with its key, exchanged at the key's
 * token_uri), "metadata" (the GCE metadata server), or "none" (a local
 * server).  Tokens are cached and refreshed before they expire.  Key material
 * and tokens never appear in logs, errors or views.
 */
#ifndef F1TEL_AUTH_H
#define F1TEL_AUTH_H

/*
 * The bearer token to send, NULL for "none".  On failure returns NULL and
 * sets *error (palloc'd, safe to log).  force drops the cached token first
 * (after a 401).
 */
extern const char *f1_auth_token(bool force, char **error, bool *ok);

/* Forget the cached token and key (the credentials setting changed). */
extern void f1_auth_reset(void);

#endif							/* F1TEL_AUTH_H */
