/*
 * test/unit/test_key_file.c — unit tests of the service-account key files
 * that src/sink/jwt.c reads (f1_service_account_parse): a valid file as
 * Google writes one, token_uri's default, the optional and the required
 * fields, a user credential, fields of the wrong type, text that is not a
 * key file, and private keys that are corrupt, encrypted, not RSA or with
 * their newlines escaped twice.  No error message may carry key material.
 *
 * The keys are made with OpenSSL by test_keys.h; nothing is read from the
 * network.  The JWTs signed with them are test_jwt.c's.  The harness is
 * test/unit/harness.h: one line per failed check, then "N passed, N failed"
 * (N counting test cases), exit status non-zero on any failure.  `make
 * unit` runs it.  Memory from the code under test is freed here, so that
 * LeakSanitizer checks its contracts.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json_object.h>

#include <openssl/evp.h>

#include "sink/jwt.h"

#include "harness.h"
#include "json_check.h"
#include "test_keys.h"

/* ---- service-account key files ----------------------------------------------- */

static void
test_service_account(void)
{
	F1ServiceAccount sa;
	char		err[ERRLEN];
	char	   *json;

	begin_case("key file: a valid one");
	json = key_json(NULL, rsa_pem);
	CHECKF(sa_parse(json, &sa, err), "refused: %s", err);
	CHECK_STREQ(sa.type, "service_account");
	CHECK_STREQ(sa.project_id, "f1tel-test");
	CHECK_STREQ(sa.private_key_id, "0123456789abcdef0123456789abcdef01234567");
	CHECK_STREQ(sa.client_email, "sink@f1tel-test.iam.gserviceaccount.com");
	CHECK_STREQ(sa.token_uri, "http://127.0.0.1:9/token");
	CHECK_STREQ(sa.private_key, rsa_pem);
	CHECK(sa.private_key != NULL && strncmp(sa.private_key, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
	CHECK(strstr(json, "\\n") != NULL);	/* the file had them escaped */
	f1_service_account_free(&sa);
	CHECK(sa.private_key == NULL && sa.client_email == NULL && sa.token_uri == NULL);
	f1_service_account_free(&sa);	/* twice is harmless */
	free(json);
	end_case();

	begin_case("key file: token_uri defaults to Google's");
	json = key_json("token_uri", rsa_pem);
	CHECKF(sa_parse(json, &sa, err), "refused: %s", err);
	CHECK_STREQ(sa.token_uri, F1_DEFAULT_TOKEN_URI);
	CHECK_STREQ(sa.token_uri, "https://oauth2.googleapis.com/token");
	f1_service_account_free(&sa);
	free(json);
	end_case();

	begin_case("key file: project_id and private_key_id are optional");
	{
		char	   *j1 = key_json("project_id", rsa_pem);
		char	   *j2 = key_json("private_key_id", rsa_pem);

		CHECKF(sa_parse(j1, &sa, err), "refused: %s", err);
		CHECK(sa.project_id == NULL);
		f1_service_account_free(&sa);
		CHECKF(sa_parse(j2, &sa, err), "refused: %s", err);
		CHECK(sa.private_key_id == NULL);
		f1_service_account_free(&sa);
		free(j1);
		free(j2);
	}
	end_case();

	{
		static const char *const required[] = {"type", "client_email", "private_key"};

		for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		{
			char		name[64];
			char		want[64];

			snprintf(name, sizeof(name), "key file: missing %s", required[i]);
			begin_case(name);
			json = key_json(required[i], rsa_pem);
			memset(&sa, 0x55, sizeof(sa));
			CHECK(!sa_parse(json, &sa, err));
			snprintf(want, sizeof(want), "missing \"%s\"", required[i]);
			CHECKF(strstr(err, want) != NULL, "error \"%s\" does not say %s", err, want);
			CHECKF(no_key_material(err, rsa_pem), "key material in \"%s\"", err);
			CHECK(sa.private_key == NULL && sa.type == NULL);	/* zeroed */
			f1_service_account_free(&sa);
			free(json);
			end_case();
		}
	}

	begin_case("key file: an empty client_email counts as missing");
	json = key_json_set(rsa_pem, "client_email", json_object_new_string(""));
	CHECK(!sa_parse(json, &sa, err));
	CHECKF(strstr(err, "missing \"client_email\"") != NULL, "error: %s", err);
	free(json);
	end_case();

	begin_case("key file: a user credential is not a service account");
	CHECK(!sa_parse(J("{'type':'authorized_user','client_id':'x','client_secret':'s3cr3t',"
					  "'refresh_token':'1//r3fr3sh'}"), &sa, err));
	CHECKF(strstr(err, "\"type\" is \"authorized_user\"") != NULL, "error: %s", err);
	CHECK(strstr(err, "s3cr3t") == NULL && strstr(err, "r3fr3sh") == NULL);
	end_case();

	begin_case("key file: a strange type is not quoted");
	CHECK(!sa_parse(J("{'type':'-----BEGIN PRIVATE KEY-----MIIEv','client_email':'a@b',"
					  "'private_key':'x'}"), &sa, err));
	CHECKF(strstr(err, "\"type\" is \"?\"") != NULL && strstr(err, "MII") == NULL,
		   "error: %s", err);
	end_case();

	begin_case("key file: fields of the wrong type");
	json = key_json_set(rsa_pem, "client_email", json_object_new_int(42));
	CHECK(!sa_parse(json, &sa, err));
	CHECKF(strstr(err, "\"client_email\" is not a string") != NULL, "error: %s", err);
	CHECKF(no_key_material(err, rsa_pem), "key material in \"%s\"", err);
	free(json);
	json = key_json_set(rsa_pem, "token_uri", json_object_new_boolean(1));
	CHECK(!sa_parse(json, &sa, err));
	CHECKF(strstr(err, "\"token_uri\" is not a string") != NULL, "error: %s", err);
	free(json);
	json = key_json_set(rsa_pem, "project_id", NULL);
	CHECK(sa_parse(json, &sa, err));	/* (absent is fine) */
	f1_service_account_free(&sa);
	free(json);
	CHECK(!sa_parse(J("{'type':'service_account','client_email':'a@b','private_key':['x']}"),
					&sa, err));
	CHECKF(strstr(err, "\"private_key\" is not a string") != NULL, "error: %s", err);
	end_case();

	begin_case("key file: not JSON, truncated, not an object");
	json = key_json(NULL, rsa_pem);
	CHECK(!f1_service_account_parse(json, strlen(json) / 2, &sa, err, ERRLEN));
	CHECKF(strstr(err, "not JSON") != NULL, "error: %s", err);
	CHECKF(no_key_material(err, rsa_pem), "key material in \"%s\"", err);
	CHECK(!sa_parse("", &sa, err));
	CHECK(!sa_parse("[1,2]", &sa, err));
	CHECKF(strstr(err, "not a JSON object") != NULL, "error: %s", err);
	CHECK(!sa_parse("{} x", &sa, err));
	CHECK(!sa_parse("<html>nope</html>", &sa, err));
	CHECK(!f1_service_account_parse(NULL, 0, &sa, NULL, 0));	/* no errbuf is fine */
	free(json);
	end_case();

	begin_case("key file: a private key that is not one");
	{
		char	   *bad = strdup(rsa_pem);
		char	   *j;

		/* corrupt the base64 in the middle of the key */
		memset(bad + 100, '!', 20);
		j = key_json(NULL, bad);
		CHECK(!sa_parse(j, &sa, err));
		CHECKF(strstr(err, "\"private_key\" is not a usable PEM private key") != NULL,
			   "error: %s", err);
		CHECKF(no_key_material(err, rsa_pem), "key material in \"%s\"", err);
		free(j);
		j = key_json(NULL, "not a key at all");
		CHECK(!sa_parse(j, &sa, err));
		CHECKF(strstr(err, "not a usable PEM private key") != NULL, "error: %s", err);
		free(j);
		free(bad);
	}
	end_case();

	begin_case("key file: an encrypted key fails without asking for a passphrase");
	{
		char	   *enc = pem_of(rsa_key, false, "passw0rd");
		char	   *j = key_json(NULL, enc);

		CHECK(strstr(enc, "ENCRYPTED") != NULL);
		CHECK(!sa_parse(j, &sa, err));
		CHECKF(strstr(err, "not a usable PEM private key") != NULL, "error: %s", err);
		CHECKF(no_key_material(err, enc) && strstr(err, "passw0rd") == NULL,
			   "key material in \"%s\"", err);
		free(j);
		free(enc);
	}
	end_case();

	begin_case("key file: an EC key is refused (RS256 needs RSA)");
	{
		EVP_PKEY   *ec = EVP_EC_gen("P-256");
		char	   *pem = pem_of(ec, false, NULL);
		char	   *j = key_json(NULL, pem);

		CHECK(!sa_parse(j, &sa, err));
		CHECKF(strstr(err, "not an RSA key") != NULL, "error: %s", err);
		CHECKF(no_key_material(err, pem), "key material in \"%s\"", err);
		free(j);
		free(pem);
		EVP_PKEY_free(ec);
	}
	end_case();

	begin_case("key file: newlines escaped twice are repaired");
	{
		/* each real newline of the PEM written as the two characters \n */
		size_t		n = strlen(rsa_pem);
		char	   *twice = malloc(2 * n + 1);
		char	   *o = twice;
		char	   *j;

		for (const char *p = rsa_pem; *p; p++)
		{
			if (*p == '\n')
			{
				*o++ = '\\';
				*o++ = 'n';
			}
			else
				*o++ = *p;
		}
		*o = '\0';
		j = key_json(NULL, twice);
		CHECKF(sa_parse(j, &sa, err), "refused: %s", err);
		CHECK_STREQ(sa.private_key, rsa_pem);
		f1_service_account_free(&sa);
		free(j);
		free(twice);
	}
	end_case();
}

/* ---- token_uri: https, or http to a loopback host ----------------------------- */

static void
test_token_uri(void)
{
	static const char *const good[] = {
		"https://oauth2.googleapis.com/token", "http://127.0.0.1:9/token",
		"http://127.8.9.10/token", "http://localhost:8080/token", "http://[::1]:9/token",
		"HTTPS://oauth2.googleapis.com/token", NULL
	};
	static const char *const bad[] = {
		"http://oauth2.googleapis.com/token", "http://10.0.0.1/token",
		"http://127.0.0.1.evil.example/token", "http://127.0.0.1@evil.example/token",
		"ftp://127.0.0.1/token", "//oauth2.googleapis.com/token", NULL
	};
	F1ServiceAccount sa;
	char		err[ERRLEN];
	char	   *json;

	begin_case("key file: token_uri must be https (http only to a loopback host)");
	for (int i = 0; good[i] != NULL; i++)
	{
		json = key_json_set(rsa_pem, "token_uri", json_object_new_string(good[i]));
		CHECKF(sa_parse(json, &sa, err), "%s refused: %s", good[i], err);
		f1_service_account_free(&sa);
		free(json);
	}
	for (int i = 0; bad[i] != NULL; i++)
	{
		json = key_json_set(rsa_pem, "token_uri", json_object_new_string(bad[i]));
		CHECKF(!sa_parse(json, &sa, err), "%s accepted", bad[i]);
		CHECKF(strstr(err, "\"token_uri\" is not an https:// URL") != NULL &&
			   strstr(err, "evil") == NULL && no_key_material(err, rsa_pem), "error: %s", err);
		CHECK(sa.private_key == NULL && sa.token_uri == NULL);
		free(json);
	}
	end_case();
}

HARNESS_MAIN(make_keys(); test_service_account(); test_token_uri(); free_keys();)
