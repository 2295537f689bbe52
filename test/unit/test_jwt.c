/*
 * test/unit/test_jwt.c — unit tests of the RS256 JWTs of src/sink/jwt.c:
 * base64url (RFC 4648 vectors, the URL-safe alphabet, no padding, every
 * byte value), and JWTs signed with a service-account key (f1_jwt_sign):
 * their three parts, header and claims, the signature checked with the
 * public key alone, tampered parts that do not verify, determinism, no kid
 * or scope when there is none, escaped claims, the allowed lifetimes, and a
 * key that stopped loading failing without key material in the message.
 *
 * The keys are made with OpenSSL by test_keys.h; nothing is read from the
 * network.  The key files themselves are test_key_file.c's, the token
 * exchange test_oauth.c's.  The harness is test/unit/harness.h: one line per
 * failed check, then "N passed, N failed" (N counting test cases), exit
 * status non-zero on any failure.  `make unit` runs it.  Memory from the
 * code under test is freed here, so that LeakSanitizer checks its contracts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json_object.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "sink/jwt.h"

#include "harness.h"
#include "json_check.h"
#include "test_keys.h"

/* ---- helpers ------------------------------------------------------------- */

/* base64url without padding decoded (the test's own, with OpenSSL's
 * decoder); malloc'd and NUL-terminated; NULL if it is not base64url. */
static unsigned char *
b64url_decode(const char *s, size_t n, size_t *outlen)
{
	size_t		padded = (n + 3) / 4 * 4;
	size_t		npad = padded - n;
	char	   *t;
	unsigned char *out;
	int			r;

	if (n % 4 == 1)
		return NULL;
	t = malloc(padded + 1);
	out = malloc(padded / 4 * 3 + 1);
	if (t == NULL || out == NULL)
	{
		free(t);
		free(out);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
	{
		if (s[i] == '+' || s[i] == '/' || s[i] == '=')
		{
			free(t);
			free(out);
			return NULL;
		}
		t[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	}
	for (size_t i = n; i < padded; i++)
		t[i] = '=';
	t[padded] = '\0';
	r = padded > 0 ? EVP_DecodeBlock(out, (const unsigned char *) t, (int) padded) : 0;
	free(t);
	if (r < 0 || (size_t) r < npad)
	{
		free(out);
		return NULL;
	}
	*outlen = (size_t) r - npad;
	out[*outlen] = '\0';
	return out;
}

/* ---- base64url ------------------------------------------------------------- */

static void
test_base64url(void)
{
	static const struct
	{
		const char *in;
		const char *out;
	}			rfc4648[] = {
		{"", ""}, {"f", "Zg"}, {"fo", "Zm8"}, {"foo", "Zm9v"}, {"foob", "Zm9vYg"},
		{"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}
	};
	static const unsigned char urlsafe[] = {0xfb, 0xff, 0xbf};
	unsigned char all[256];

	begin_case("base64url: RFC 4648 vectors, no padding");
	for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++)
	{
		char	   *s = f1_base64url_encode((const unsigned char *) rfc4648[i].in,
											strlen(rfc4648[i].in));

		CHECK_STREQ(s, rfc4648[i].out);
		free(s);
	}
	end_case();

	begin_case("base64url: - and _ for + and /");
	{
		char	   *s = f1_base64url_encode(urlsafe, sizeof(urlsafe));

		CHECK_STREQ(s, "-_-_");
		free(s);
		s = f1_base64url_encode(urlsafe, 2);
		CHECK_STREQ(s, "-_8");
		free(s);
	}
	end_case();

	begin_case("base64url: every byte value round-trips");
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char) (255 - i);
	for (size_t n = 0; n <= 256; n += 37)
	{
		char	   *s = f1_base64url_encode(all, n);
		size_t		dl = 0;
		unsigned char *d = s != NULL ? b64url_decode(s, strlen(s), &dl) : NULL;

		CHECKF(s != NULL && strlen(s) == (n * 4 + 2) / 3, "length for %zu bytes", n);
		CHECKF(s != NULL && strpbrk(s, "+/=") == NULL, "not url-safe: %s", s ? s : "");
		CHECKF(d != NULL && dl == n && memcmp(d, all, n) == 0, "round trip of %zu bytes", n);
		free(s);
		free(d);
	}
	end_case();
}

/* ---- JWT --------------------------------------------------------------------- */

/* Verify an RS256 JWT with the public key alone. */
static bool
verify_jwt(const char *jwt)
{
	const char *dot2 = strrchr(jwt, '.');
	size_t		siglen = 0;
	unsigned char *sig;
	BIO		   *bio;
	EVP_PKEY   *pub;
	EVP_MD_CTX *md;
	bool		ok;

	if (dot2 == NULL)
		return false;
	sig = b64url_decode(dot2 + 1, strlen(dot2 + 1), &siglen);
	if (sig == NULL)
		return false;
	bio = BIO_new_mem_buf(rsa_pub_pem, -1);
	pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	md = EVP_MD_CTX_new();
	ok = pub != NULL && md != NULL &&
		EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) == 1 &&
		EVP_DigestVerify(md, sig, siglen, (const unsigned char *) jwt,
						 (size_t) (dot2 - jwt)) == 1;
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pub);
	free(sig);
	return ok;
}

/* The decoded JSON of part i (0 header, 1 claims) of a JWT; NULL if bad. */
static json_object *
jwt_part(const char *jwt, int part)
{
	const char *start = jwt;
	const char *end;
	size_t		n = 0;
	unsigned char *d;
	json_object *o;

	for (int i = 0; i < part && start != NULL; i++)
	{
		start = strchr(start, '.');
		if (start != NULL)
			start++;
	}
	if (start == NULL || (end = strchr(start, '.')) == NULL)
		return NULL;
	d = b64url_decode(start, (size_t) (end - start), &n);
	if (d == NULL)
		return NULL;
	o = strlen((char *) d) == n ? jparse((char *) d) : NULL;
	free(d);
	return o;
}

static void
test_jwt(void)
{
	F1ServiceAccount sa;
	char		err[ERRLEN];
	char	   *json = key_json(NULL, rsa_pem);
	char	   *jwt;
	const int64_t iat = 1700000000;

	if (!sa_parse(json, &sa, err))
	{
		begin_case("JWT: key file");
		CHECKF(false, "refused: %s", err);
		end_case();
		free(json);
		return;
	}

	begin_case("JWT: three base64url parts, no padding");
	jwt = f1_jwt_sign(&sa, F1_BIGQUERY_SCOPE, sa.token_uri, iat, iat + 3600, err, ERRLEN);
	CHECKF(jwt != NULL, "not signed: %s", err);
	if (jwt != NULL)
	{
		int			dots = 0;

		for (const char *p = jwt; *p; p++)
			dots += *p == '.';
		CHECK(dots == 2);
		CHECK(strspn(jwt, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") ==
			  strlen(jwt));
		/* a 2048-bit signature is 256 bytes: 342 characters */
		CHECKF(strlen(strrchr(jwt, '.') + 1) == 342, "signature of %zu characters",
			   strlen(strrchr(jwt, '.') + 1));
	}
	end_case();

	begin_case("JWT: header");
	if (jwt != NULL)
	{
		json_object *h = jwt_part(jwt, 0);

		CHECK(h != NULL);
		CHECK_STREQ(jstr(h, "alg"), "RS256");
		CHECK_STREQ(jstr(h, "typ"), "JWT");
		CHECK_STREQ(jstr(h, "kid"), "0123456789abcdef0123456789abcdef01234567");
		CHECK(h != NULL && json_object_object_length(h) == 3);
		json_object_put(h);
	}
	end_case();

	begin_case("JWT: claims");
	if (jwt != NULL)
	{
		json_object *c = jwt_part(jwt, 1);

		CHECK(c != NULL);
		CHECK_STREQ(jstr(c, "iss"), "sink@f1tel-test.iam.gserviceaccount.com");
		CHECK_STREQ(jstr(c, "scope"), "https://www.googleapis.com/auth/bigquery");
		CHECK_STREQ(jstr(c, "aud"), "http://127.0.0.1:9/token");
		CHECK(jget(c, "iat") != NULL && json_object_is_type(jget(c, "iat"), json_type_int) &&
			  json_object_get_int64(jget(c, "iat")) == iat);
		CHECK(jget(c, "exp") != NULL && json_object_is_type(jget(c, "exp"), json_type_int) &&
			  json_object_get_int64(jget(c, "exp")) == iat + 3600);
		CHECK(c != NULL && json_object_object_length(c) == 5);
		json_object_put(c);
	}
	end_case();

	begin_case("JWT: the signature verifies with the public key");
	CHECK(jwt != NULL && verify_jwt(jwt));
	end_case();

	begin_case("JWT: a tampered payload or signature does not verify");
	if (jwt != NULL)
	{
		char	   *t = strdup(jwt);
		char	   *claims = strchr(t, '.') + 1;
		char	   *sig = strrchr(t, '.') + 1;

		/* change one character of the claims */
		claims[5] = claims[5] == 'A' ? 'B' : 'A';
		CHECK(!verify_jwt(t));
		/* or of the header */
		strcpy(t, jwt);
		t[3] = t[3] == 'A' ? 'B' : 'A';
		CHECK(!verify_jwt(t));
		/* or of the signature */
		strcpy(t, jwt);
		sig = strrchr(t, '.') + 1;
		sig[10] = sig[10] == 'A' ? 'B' : 'A';
		CHECK(!verify_jwt(t));
		/* a claims part swapped for other claims */
		{
			char	   *other = f1_jwt_sign(&sa, F1_BIGQUERY_SCOPE, sa.token_uri, iat + 1,
											iat + 3601, err, ERRLEN);
			char		forged[4096];
			const char *oc = other != NULL ? strchr(other, '.') : NULL;

			CHECK(other != NULL);
			if (oc != NULL)
			{
				snprintf(forged, sizeof(forged), "%.*s%.*s%s",
						 (int) (strchr(jwt, '.') - jwt), jwt,
						 (int) (strrchr(other, '.') - oc), oc, strrchr(jwt, '.'));
				CHECK(!verify_jwt(forged));
				CHECK(verify_jwt(other));
			}
			free(other);
		}
		free(t);
	}
	end_case();

	begin_case("JWT: RS256 is deterministic");
	{
		char	   *again = f1_jwt_sign(&sa, F1_BIGQUERY_SCOPE, sa.token_uri, iat, iat + 3600,
										err, ERRLEN);

		CHECK(again != NULL && jwt != NULL && strcmp(again, jwt) == 0);
		free(again);
	}
	end_case();
	free(jwt);

	begin_case("JWT: no kid without private_key_id; no scope for a self-signed JWT");
	{
		char	   *j = key_json("private_key_id", rsa_pem);
		F1ServiceAccount sa2;

		CHECKF(sa_parse(j, &sa2, err), "refused: %s", err);
		jwt = f1_jwt_sign(&sa2, NULL, "https://bigquery.googleapis.com/", iat, iat + 600,
						  err, ERRLEN);
		CHECKF(jwt != NULL, "not signed: %s", err);
		if (jwt != NULL)
		{
			json_object *h = jwt_part(jwt, 0);
			json_object *c = jwt_part(jwt, 1);

			CHECK(h != NULL && !jhas(h, "kid") && json_object_object_length(h) == 2);
			CHECK(c != NULL && !jhas(c, "scope"));
			CHECK_STREQ(jstr(c, "aud"), "https://bigquery.googleapis.com/");
			CHECK(verify_jwt(jwt));
			json_object_put(h);
			json_object_put(c);
		}
		free(jwt);
		f1_service_account_free(&sa2);
		free(j);
	}
	end_case();

	begin_case("JWT: strings are JSON-escaped in the claims");
	{
		jwt = f1_jwt_sign(&sa, "a \"quoted\" \\ scope", sa.token_uri, iat, iat + 60, err, ERRLEN);
		if (CHECKF(jwt != NULL, "not signed: %s", err))
		{
			json_object *c = jwt_part(jwt, 1);

			CHECK_STREQ(jstr(c, "scope"), "a \"quoted\" \\ scope");
			json_object_put(c);
		}
		free(jwt);
	}
	end_case();

	begin_case("JWT: lifetime must be 1..3600 s");
	err[0] = '\0';
	CHECK(f1_jwt_sign(&sa, F1_BIGQUERY_SCOPE, sa.token_uri, iat, iat + 3601, err, ERRLEN) == NULL);
	CHECKF(strstr(err, "3601") != NULL, "error: %s", err);
	CHECK(f1_jwt_sign(&sa, F1_BIGQUERY_SCOPE, sa.token_uri, iat, iat, err, ERRLEN) == NULL);
	CHECK(f1_jwt_sign(&sa, F1_BIGQUERY_SCOPE, sa.token_uri, iat, iat - 10, err, ERRLEN) == NULL);
	CHECK(f1_jwt_sign(&sa, F1_BIGQUERY_SCOPE, NULL, iat, iat + 10, err, ERRLEN) == NULL);
	CHECK(f1_jwt_sign(NULL, F1_BIGQUERY_SCOPE, "x", iat, iat + 10, err, ERRLEN) == NULL);
	end_case();

	begin_case("JWT: a key that stopped loading fails without key material");
	{
		char	   *saved = sa.private_key;
		char	   *bad = strdup(rsa_pem);

		memset(bad + 200, 'A', 30);
		bad[300] = '*';
		sa.private_key = bad;
		err[0] = '\0';
		CHECK(f1_jwt_sign(&sa, F1_BIGQUERY_SCOPE, sa.token_uri, iat, iat + 60, err, ERRLEN) == NULL);
		CHECKF(err[0] != '\0' && no_key_material(err, rsa_pem), "error: %s", err);
		sa.private_key = saved;
		free(bad);
	}
	end_case();

	f1_service_account_free(&sa);
	free(json);
}

HARNESS_MAIN(make_keys(); test_base64url(); test_jwt(); free_keys();)
