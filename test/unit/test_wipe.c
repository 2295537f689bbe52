/*
 * test/unit/test_wipe.c — the sink's plain-C auth code wipes its copies of
 * secrets before it frees them: src/sink/jwt.c (the private key, the JWT's
 * signature) and src/sink/oauth.c (the access token).
 *
 * How: the program is linked with -Wl,--wrap=free, so every free() called
 * from the code under test (and from this file) goes through __wrap_free(),
 * which looks into the block about to be freed (malloc_usable_size bytes)
 * for the secrets the case is watching, and counts each one found.  What
 * json-c frees inside its own library is not seen here: jwt.c and oauth.c
 * wipe json-c's copies themselves (f1_json_wipe_string).  No sanitizer but
 * UBSan: ASan would replace malloc and free.  The harness is
 * test/unit/harness.h; `make unit` runs it.
 */
#define _GNU_SOURCE				/* memmem */
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json_object.h>

#include <openssl/evp.h>

#include "sink/jwt.h"
#include "sink/oauth.h"

#include "harness.h"
#include "json_check.h"
#include "test_keys.h"

void		__real_free(void *p);
void		__wrap_free(void *p);

/* the secrets watched for in freed blocks, and how often each was seen */
#define MAX_WATCH 4
static const void *watch[MAX_WATCH];
static size_t watch_len[MAX_WATCH];
static int	seen[MAX_WATCH];

void
__wrap_free(void *p)
{
	if (p != NULL)
	{
		size_t		size = malloc_usable_size(p);

		for (int i = 0; i < MAX_WATCH; i++)
			if (watch[i] != NULL && memmem(p, size, watch[i], watch_len[i]) != NULL)
				seen[i]++;
	}
	__real_free(p);
}

static void
watch_for(int i, const void *secret, size_t len)
{
	watch[i] = secret;
	watch_len[i] = len;
	seen[i] = 0;
}

static void
unwatch(void)
{
	memset(watch, 0, sizeof(watch));
}

/* base64url text to bytes (for the raw signature); malloc'd */
static unsigned char *
b64url_decode(const char *s, size_t *len)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t		n = strlen(s);
	unsigned char *out = malloc(n * 3 / 4 + 3);
	uint32_t	acc = 0;
	int			bits = 0;

	*len = 0;
	for (size_t i = 0; i < n; i++)
	{
		const char *c = strchr(alphabet, s[i]);

		if (c == NULL)
			break;
		acc = acc << 6 | (uint32_t) (c - alphabet);
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			out[(*len)++] = (unsigned char) (acc >> bits);
		}
	}
	return out;
}

static void
test_jwt_wiped(void)
{
	F1ServiceAccount sa;
	char		err[ERRLEN];
	char	   *json = key_json(NULL, rsa_pem);
	char	   *jwt;
	char	   *again;
	char	   *sig64;
	unsigned char *sig;
	size_t		siglen;
	const char *keyline;

	begin_case("jwt.c: the signature and the key are wiped before free()");
	CHECKF(sa_parse(json, &sa, err), "refused: %s", err);
	free(json);
	/* RS256 (PKCS#1 v1.5) is deterministic: sign once to learn the signature */
	jwt = f1_jwt_sign(&sa, F1_BIGQUERY_SCOPE, sa.token_uri, 1700000000, 1700003600,
					  err, sizeof(err));
	CHECKF(jwt != NULL, "not signed: %s", err);
	if (jwt == NULL)
	{
		f1_service_account_free(&sa);
		end_case();
		return;
	}
	sig64 = strdup(strrchr(jwt, '.') + 1);
	sig = b64url_decode(sig64, &siglen);
	watch_for(0, sig64, strlen(sig64));
	watch_for(1, sig, 32);
	again = f1_jwt_sign(&sa, F1_BIGQUERY_SCOPE, sa.token_uri, 1700000000, 1700003600,
						err, sizeof(err));
	CHECK(again != NULL && strcmp(again, jwt) == 0);
	CHECKF(seen[0] == 0, "the signature's text was freed unwiped %d times", seen[0]);
	CHECKF(seen[1] == 0, "the signature's bytes were freed unwiped %d times", seen[1]);
	unwatch();
	free(again);
	free(jwt);

	/* a line from the middle of the PEM body */
	keyline = strchr(rsa_pem, '\n') + 1 + 64 * 3;
	watch_for(2, keyline, 40);
	f1_service_account_free(&sa);
	CHECKF(seen[2] == 0, "key material freed unwiped %d times", seen[2]);
	unwatch();
	free(sig64);
	free(sig);
	end_case();
}

static void
test_token_wiped(void)
{
	static const char secret_token[] = "ya29.Sx7wipeMeTokenTokenToken";
	const char *answer = J("{'access_token':'ya29.Sx7wipeMeTokenTokenToken','expires_in':3599,"
						   "'token_type':'Bearer'}");
	char	   *tok = NULL;
	int64_t		exp;
	char		err[ERRLEN];
	char	   *body;

	begin_case("oauth.c: the token and the JWT are wiped before free()");
	watch_for(0, secret_token, strlen(secret_token));
	CHECK(f1_token_response_parse(answer, strlen(answer), &tok, &exp, err, sizeof(err)));
	CHECKF(seen[0] == 0, "the token was freed unwiped %d times", seen[0]);
	unwatch();
	free(tok);
	/* a refused answer too (the token is there, the type is wrong) */
	answer = J("{'access_token':'ya29.Sx7wipeMeTokenTokenToken','token_type':'MAC'}");
	watch_for(0, secret_token, strlen(secret_token));
	CHECK(!f1_token_response_parse(answer, strlen(answer), &tok, &exp, err, sizeof(err)));
	CHECKF(seen[0] == 0, "the token was freed unwiped %d times", seen[0]);
	unwatch();
	/* the request body holds the JWT: the caller wipes it; nothing else is left */
	watch_for(0, "eyJhSx7.eyJpSx7.c2lnSx7", 24);
	body = f1_token_request_body("eyJhSx7.eyJpSx7.c2lnSx7");
	CHECK(body != NULL && seen[0] == 0);
	unwatch();
	free(body);
	end_case();
}

HARNESS_MAIN(make_keys(); test_jwt_wiped(); test_token_wiped(); free_keys();)
