/*
 * test/unit/test_oauth.c — unit tests of src/sink/oauth.c, the OAuth token
 * exchange's plain-C pieces: the form body of the token request (the
 * assertion percent-encoded) and the parse of the answer: Google's token
 * endpoint and the metadata server's, the variants accepted, OAuth errors,
 * Google's API error envelope, and garbage; no message may carry the token.
 *
 * The JWT sent as the assertion is test_jwt.c's.  The harness is
 * test/unit/harness.h: one line per failed check, then "N passed, N failed"
 * (N counting test cases), exit status non-zero on any failure.  `make
 * unit` runs it.  Memory from the code under test is freed here, so that
 * LeakSanitizer checks its contracts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink/oauth.h"

#include "harness.h"
#include "json_check.h"

#define ERRLEN 256

/* ---- token exchange ------------------------------------------------------------ */

static void
test_token_request(void)
{
	char	   *b;

	begin_case("token request: form body");
	b = f1_token_request_body("eyJh.eyJp.c2ln-_");
	CHECK_STREQ(b, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
				"&assertion=eyJh.eyJp.c2ln-_");
	free(b);
	b = f1_token_request_body("a+b/c=d e&f~g%");
	CHECK_STREQ(b, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
				"&assertion=a%2Bb%2Fc%3Dd%20e%26f~g%25");
	free(b);
	b = f1_token_request_body("");
	CHECK(b != NULL && strstr(b, "&assertion=") != NULL &&
		  b[strlen(b) - 1] == '=');
	free(b);
	CHECK(f1_token_request_body(NULL) == NULL);
	end_case();
}

static void
test_token_response(void)
{
	char	   *tok;
	int64_t		exp;
	char		err[ERRLEN];

#define TOKEN_PARSE(s) (err[0] = '\0', f1_token_response_parse((s), strlen(s), &tok, &exp, err, ERRLEN))

	begin_case("token response: success");
	CHECK(TOKEN_PARSE(J("{'access_token':'ya29.c.b0AXv0zTOKEN','expires_in':3599,"
						"'token_type':'Bearer'}")));
	CHECK_STREQ(tok, "ya29.c.b0AXv0zTOKEN");
	CHECK(exp == 3599);
	free(tok);
	end_case();

	begin_case("token response: the metadata server's answer");
	CHECK(TOKEN_PARSE(J("{\"access_token\":\"ya29.m3tadata\",\"expires_in\":1799,"
						"\"token_type\":\"Bearer\"}\n")));
	CHECK_STREQ(tok, "ya29.m3tadata");
	CHECK(exp == 1799);
	free(tok);
	end_case();

	begin_case("token response: variants that are accepted");
	CHECK(TOKEN_PARSE(J("{'access_token':'ya29.x','token_type':'bearer','id_token':'z'}")));
	CHECK(tok != NULL && exp == 3600);	/* no expires_in: an hour */
	free(tok);
	CHECK(TOKEN_PARSE(J("{'access_token':'ya29.x','expires_in':'120'}")));
	CHECK(tok != NULL && exp == 120);
	free(tok);
	end_case();

	begin_case("token response: invalid_grant");
	CHECK(!TOKEN_PARSE(J("{'error':'invalid_grant','error_description':'Invalid JWT Signature.'}")));
	CHECK_STREQ(err, "invalid_grant: Invalid JWT Signature.");
	CHECK(tok == NULL);
	CHECK(!TOKEN_PARSE(J("{'error':'invalid_scope'}")));
	CHECK_STREQ(err, "invalid_scope");
	CHECK(!TOKEN_PARSE(J("{'error':'invalid_grant','error_description':'two\\nlines'}")));
	CHECK_STREQ(err, "invalid_grant: two lines");
	end_case();

	begin_case("token response: Google's API error envelope");
	CHECK(!TOKEN_PARSE(J("{'error':{'code':403,'message':'Permission denied.','status':'PERMISSION_DENIED'}}")));
	CHECK_STREQ(err, "PERMISSION_DENIED: Permission denied.");
	end_case();

	begin_case("token response: garbage and no token in messages");
	CHECK(!TOKEN_PARSE("<html><body>502 Bad Gateway</body></html>"));
	CHECK(tok == NULL && strstr(err, "not JSON") != NULL);
	CHECK(!TOKEN_PARSE(""));
	CHECK(!TOKEN_PARSE("[]"));
	CHECK(!TOKEN_PARSE(J("{'access_token':'ya29.S3CRET")));	/* cut short */
	CHECKF(strstr(err, "S3CRET") == NULL, "error: %s", err);
	CHECK(!TOKEN_PARSE(J("{'expires_in':3599,'token_type':'Bearer'}")));
	CHECKF(strstr(err, "no \"access_token\"") != NULL, "error: %s", err);
	CHECK(!TOKEN_PARSE(J("{'access_token':'','expires_in':3599}")));
	CHECK(!TOKEN_PARSE(J("{'access_token':42}")));
	CHECK(!TOKEN_PARSE(J("{'access_token':'ya29.S3CRET\\r\\nX-Evil: 1','expires_in':1}")));
	CHECKF(strstr(err, "S3CRET") == NULL && strstr(err, "not allowed") != NULL, "error: %s", err);
	CHECK(!TOKEN_PARSE(J("{'access_token':'ya29.S3CRET','token_type':'MAC'}")));
	CHECKF(strstr(err, "S3CRET") == NULL, "error: %s", err);
	CHECK(!TOKEN_PARSE(J("{'access_token':'ya29.S3CRET','expires_in':-5}")));
	CHECK(!TOKEN_PARSE(J("{'access_token':'ya29.S3CRET','expires_in':'soon'}")));
	CHECKF(strstr(err, "S3CRET") == NULL, "error: %s", err);
	CHECK(tok == NULL);
	CHECK(!f1_token_response_parse(NULL, 0, &tok, &exp, NULL, 0));
	end_case();
#undef TOKEN_PARSE
}

/* ---- where a credential may be sent -------------------------------------------- */

static void
test_url_may_carry_credentials(void)
{
	static const char *const yes[] = {
		"https://bigquery.googleapis.com", "https://oauth2.googleapis.com/token",
		"HTTPS://bigquery.googleapis.com", "https://10.0.0.1:8443",
		"http://127.0.0.1", "http://127.0.0.1:9050", "http://127.255.0.1/token",
		"http://localhost:9050", "http://LOCALHOST/token", "http://[::1]:9050",
		"http://[::1]", "http://127.0.0.1:9050?x", NULL
	};
	static const char *const no[] = {
		"http://bigquery.googleapis.com", "http://10.0.0.1:9050", "http://128.0.0.1",
		"http://127.0.0.1.evil.example", "http://127.0.0.1@evil.example",
		"http://user:pw@127.0.0.1", "http://localhost.evil.example", "http://127.1",
		"http://[::2]", "http://[::ffff:127.0.0.1]x", "http://127.0.0.1:", "http://127.0.0.1:x",
		"http://127.0.0.1\\@evil.example", "http://", "https://", "ftp://127.0.0.1",
		"127.0.0.1:9050", "", NULL
	};

	begin_case("credentials go over https, or plain http to a loopback host");
	for (int i = 0; yes[i] != NULL; i++)
		CHECKF(f1_url_may_carry_credentials(yes[i]), "refused: %s", yes[i]);
	for (int i = 0; no[i] != NULL; i++)
		CHECKF(!f1_url_may_carry_credentials(no[i]), "allowed: %s", no[i]);
	CHECK(!f1_url_may_carry_credentials(NULL));
	end_case();
}

HARNESS_MAIN(test_token_request(); test_token_response(); test_url_may_carry_credentials();)
