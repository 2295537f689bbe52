/*
 * test/unit/test_sink.c — unit tests of the plain-C pieces of the BigQuery sink.
 *
 * Tests src/sink/jwt.c (service-account key files, RS256 JWTs checked with
 * the public key, the token request and its answer) and src/sink/bq_json.c
 * (insertAll bodies and answers, the classes of refused requests, back-off,
 * the dataset/table/view bodies) without a server or a network.  Every body
 * is also checked against Google's discovery document for BigQuery v2: each
 * field sent must be a property of its schema, and not an output-only one.
 * The document is read from F1TEL_DISCOVERY (default: the copy that ships
 * with the repository, test/bigquery/bigquery-v2-discovery.json.gz; gzip or
 * plain); a missing document fails the run.
 *
 * The harness is test/unit/harness.h, shared with test_decode.c: one line
 * per failed check, then "N passed, N failed" (N counting test cases), exit
 * status non-zero on any failure.  `make unit` runs it.  Keys are made here with OpenSSL;
 * nothing is read from the network.  Memory from the code under test is
 * freed here, so that LeakSanitizer checks its contracts.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json_object.h>
#include <json-c/json_tokener.h>
#include <json-c/json_util.h>
#include <zlib.h>
#include <json-c/linkhash.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "sink/bq_json.h"
#include "sink/jwt.h"

#define ERRLEN 256

/* ---- harness: test/unit/harness.h -------------------------------------- */

#include "harness.h"

#define CHECK_STREQ(got, want) do { \
	const char *g_ = (got), *w_ = (want); \
	CHECKF(g_ != NULL && strcmp(g_, w_) == 0, "%s: got \"%s\", want \"%s\"", #got, \
		   g_ ? g_ : "(null)", w_); \
} while (0)

/* ---- helpers ------------------------------------------------------------- */

/* Parse JSON text (NUL-terminated); NULL if it is not JSON. */
static json_object *
jparse(const char *s)
{
	json_tokener *tok = json_tokener_new();
	json_object *o;

	if (tok == NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, s, (int) strlen(s));
	if (o != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
					  json_tokener_get_parse_end(tok) != strlen(s)))
	{
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* Member key of o (a path "a.b.c" of object members); NULL if absent. */
static json_object *
jget(json_object *o, const char *path)
{
	char		buf[256];
	char	   *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k != NULL; k = strtok_r(NULL, ".", &save))
	{
		json_object *v;

		if (o == NULL || !json_object_is_type(o, json_type_object) ||
			!json_object_object_get_ex(o, k, &v))
			return NULL;
		o = v;
	}
	return o;
}

/* A string member, or NULL. */
static const char *
jstr(json_object *o, const char *path)
{
	json_object *v = jget(o, path);

	return v != NULL && json_object_is_type(v, json_type_string) ?
		json_object_get_string(v) : NULL;
}

static bool
jhas(json_object *o, const char *path)
{
	json_object *v = NULL;
	char		buf[256];
	char	   *dot;

	/* the parent must exist and hold the key (json-c gives null as NULL) */
	snprintf(buf, sizeof(buf), "%s", path);
	dot = strrchr(buf, '.');
	if (dot != NULL)
	{
		*dot = '\0';
		o = jget(o, buf);
		path = path + (dot - buf) + 1;
	}
	return o != NULL && json_object_is_type(o, json_type_object) &&
		json_object_object_get_ex(o, path, &v);
}

/* Whether s is valid UTF-8 (for messages cut to a length). */
static bool
valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *) s;

	while (*p)
	{
		int			n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 :
			(*p & 0xF0) == 0xE0 ? 2 : (*p & 0xF8) == 0xF0 ? 3 : -1;

		if (n < 0)
			return false;
		p++;
		for (int i = 0; i < n; i++, p++)
			if ((*p & 0xC0) != 0x80)
				return false;
	}
	return true;
}

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

/* ---- keys ------------------------------------------------------------------- */

static EVP_PKEY *rsa_key;		/* made once: 2048 bits */
static char *rsa_pem;			/* its PKCS#8 PEM, as Google writes it */
static char *rsa_pub_pem;		/* its public key */

static char *
bio_text(BIO *bio)
{
	char	   *data;
	long		n = BIO_get_mem_data(bio, &data);
	char	   *s = malloc((size_t) n + 1);

	if (s == NULL)
		exit(2);
	memcpy(s, data, (size_t) n);
	s[n] = '\0';
	return s;
}

static char *
pem_of(EVP_PKEY *pkey, bool public_only, const char *passphrase)
{
	BIO		   *bio = BIO_new(BIO_s_mem());
	char	   *s;
	int			ok;

	if (public_only)
		ok = PEM_write_bio_PUBKEY(bio, pkey);
	else if (passphrase != NULL)
		ok = PEM_write_bio_PKCS8PrivateKey(bio, pkey, EVP_aes_256_cbc(), NULL, 0, NULL,
										   (void *) passphrase);
	else
		ok = PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
	if (!ok)
	{
		fprintf(stderr, "could not write a PEM key\n");
		exit(2);
	}
	s = bio_text(bio);
	BIO_free(bio);
	return s;
}

static void
make_keys(void)
{
	rsa_key = EVP_RSA_gen(2048);
	if (rsa_key == NULL)
	{
		fprintf(stderr, "EVP_RSA_gen failed\n");
		exit(2);
	}
	rsa_pem = pem_of(rsa_key, false, NULL);
	rsa_pub_pem = pem_of(rsa_key, true, NULL);
}

static void
free_keys(void)
{
	EVP_PKEY_free(rsa_key);
	free(rsa_pem);
	free(rsa_pub_pem);
}

/*
 * A key file as Google writes one (PEM newlines escaped by json-c), with
 * private_key pem and the member field set to v (NULL: field left out; no
 * field: all of them).  Freed by the caller.
 */
static char *
key_json_set(const char *pem, const char *field, json_object *v)
{
	static const char *const names[] = {
		"type", "project_id", "private_key_id", "private_key", "client_email",
		"client_id", "auth_uri", "token_uri", "auth_provider_x509_cert_url",
		"client_x509_cert_url", "universe_domain"
	};
	const char *values[] = {
		"service_account", "f1tel-test", "0123456789abcdef0123456789abcdef01234567", pem,
		"sink@f1tel-test.iam.gserviceaccount.com", "123456789012345678901",
		"https://accounts.google.com/o/oauth2/auth", "http://127.0.0.1:9/token",
		"https://www.googleapis.com/oauth2/v1/certs",
		"https://www.googleapis.com/robot/v1/metadata/x509/sink%40f1tel-test.iam.gserviceaccount.com",
		"googleapis.com"
	};
	json_object *o = json_object_new_object();
	char	   *s;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
	{
		if (field != NULL && strcmp(field, names[i]) == 0)
		{
			if (v != NULL)
				json_object_object_add(o, names[i], v);
		}
		else
			json_object_object_add(o, names[i], json_object_new_string(values[i]));
	}
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
	json_object_put(o);
	return s;
}

/* A key file without the field omit (NULL: complete). */
static char *
key_json(const char *omit, const char *pem)
{
	return key_json_set(pem, omit, NULL);
}

/*
 * Whether text holds nothing of a PEM key: no armour, and none of the
 * base64 lines' 12-character windows.
 */
static bool
no_key_material(const char *text, const char *pem)
{
	const char *line = pem;

	if (strstr(text, "PRIVATE KEY") != NULL || strstr(text, "-----") != NULL ||
		strstr(text, "MII") != NULL)
		return false;
	while (line != NULL && *line)
	{
		const char *nl = strchr(line, '\n');
		size_t		n = nl != NULL ? (size_t) (nl - line) : strlen(line);

		if (line[0] != '-')
		{
			for (size_t i = 0; i + 12 <= n; i += 4)
			{
				char		w[13];

				memcpy(w, line + i, 12);
				w[12] = '\0';
				if (strstr(text, w) != NULL)
					return false;
			}
		}
		line = nl != NULL ? nl + 1 : NULL;
	}
	return true;
}

/* Parse a key file; false with the reason in err. */
static bool
sa_parse(const char *json, F1ServiceAccount *sa, char *err)
{
	err[0] = '\0';
	return f1_service_account_parse(json, strlen(json), sa, err, ERRLEN);
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

/* ---- insertAll bodies -------------------------------------------------------- */

static void
test_insertall_body(void)
{
	static const char *const ids[] = {
		"driver_laps/9158/1/1/v1",
		"quote\"d",
		"back\\slash\\\\",
		"ctl\n\t\x01\x1f end",
		"utf8 \xc3\xa9\xe2\x82\xac",
		"",
		NULL
	};
	static const char *const jsons[] = {
		"{\"session_key\":9158,\"driver_number\":1,\"lap_number\":1,\"lap_duration\":91.743}",
		"{\"s\":\"a \\\"quoted\\\" value\",\"n\":null}",
		"{\"date_start\":\"2023-09-16 13:59:07.606000\",\"segments\":[2048,2049,null]}",
		"{}",
		" {\"nested\":{\"a\":[1,{\"b\":true}]}}",
		"{\"big\":\"9007199254740993\"}",
		"{\"x\":1}"
	};
	F1BqRow		rows[7];
	size_t		len = 0;
	size_t		sum = 0;
	char	   *body;
	json_object *o;

	for (int i = 0; i < 7; i++)
	{
		rows[i].insert_id = ids[i];
		rows[i].json = jsons[i];
		rows[i].json_len = strlen(jsons[i]);
		sum += f1_bq_row_overhead(&rows[i]);
	}

	begin_case("insertAll body: valid JSON with the request's fields");
	body = f1_bq_insertall_body(rows, 7, &len);
	CHECK(body != NULL);
	o = body != NULL ? jparse(body) : NULL;
	CHECKF(o != NULL, "not JSON: %s", body ? body : "(null)");
	CHECK_STREQ(jstr(o, "kind"), "bigquery#tableDataInsertAllRequest");
	CHECK(jget(o, "skipInvalidRows") != NULL &&
		  json_object_is_type(jget(o, "skipInvalidRows"), json_type_boolean) &&
		  !json_object_get_boolean(jget(o, "skipInvalidRows")));
	CHECK(jget(o, "ignoreUnknownValues") != NULL &&
		  json_object_is_type(jget(o, "ignoreUnknownValues"), json_type_boolean) &&
		  !json_object_get_boolean(jget(o, "ignoreUnknownValues")));
	CHECK(o != NULL && json_object_object_length(o) == 4);
	end_case();

	begin_case("insertAll body: rows, insertIds escaped, row JSON spliced as is");
	{
		json_object *arr = jget(o, "rows");

		CHECK(arr != NULL && json_object_is_type(arr, json_type_array) &&
			  json_object_array_length(arr) == 7);
		for (size_t i = 0; arr != NULL && i < 7 && i < json_object_array_length(arr); i++)
		{
			json_object *r = json_object_array_get_idx(arr, i);
			json_object *want = jparse(jsons[i]);
			const char *w = json_object_to_json_string(want);
			json_object *got = jget(r, "json");

			if (ids[i] != NULL)
				CHECKF(jstr(r, "insertId") != NULL && strcmp(jstr(r, "insertId"), ids[i]) == 0,
					   "row %zu: insertId \"%s\"", i, jstr(r, "insertId"));
			else
				CHECKF(!jhas(r, "insertId"), "row %zu: an insertId for NULL", i);
			CHECKF(got != NULL && json_object_is_type(got, json_type_object) &&
				   strcmp(json_object_to_json_string(got), w) == 0,
				   "row %zu: json %s", i, got ? json_object_to_json_string(got) : "(none)");
			CHECK(json_object_object_length(r) == (ids[i] != NULL ? 2 : 1));
			json_object_put(want);
		}
		/* spliced byte for byte */
		for (int i = 0; body != NULL && i < 7; i++)
			CHECKF(strstr(body, jsons[i]) != NULL, "row %d not spliced as is", i);
		CHECK(body != NULL && strstr(body, "\"insertId\":\"quote\\\"d\"") != NULL);
		CHECK(body != NULL && strstr(body, "\"insertId\":\"back\\\\slash\\\\\\\\\"") != NULL);
		CHECK(body != NULL && strstr(body, "\"ctl\\n\\t\\u0001\\u001f end\"") != NULL);
	}
	json_object_put(o);
	end_case();

	begin_case("insertAll body: its size is the envelope plus the rows' overheads");
	CHECK(body != NULL && len == strlen(body));
	CHECKF(len == f1_bq_insertall_envelope() + sum - 1, "len %zu, envelope %zu + rows %zu - 1",
		   len, f1_bq_insertall_envelope(), sum);
	free(body);
	for (int n = 0; n <= 7; n++)
	{
		size_t		s = 0;

		for (int i = 0; i < n; i++)
			s += f1_bq_row_overhead(&rows[i]);
		body = f1_bq_insertall_body(rows, n, &len);
		CHECKF(body != NULL && len == strlen(body) &&
			   len == f1_bq_insertall_envelope() + s - (n > 0), "%d rows: %zu bytes", n, len);
		if (n == 0)
		{
			o = body != NULL ? jparse(body) : NULL;
			CHECK(o != NULL && jget(o, "rows") != NULL &&
				  json_object_array_length(jget(o, "rows")) == 0);
			json_object_put(o);
		}
		free(body);
	}
	end_case();

	begin_case("insertAll body: 500 rows of real size");
	{
		F1BqRow    *many = malloc(500 * sizeof(F1BqRow));
		char	  (*idbuf)[64] = malloc(500 * sizeof(*idbuf));
		size_t		s = f1_bq_insertall_envelope();

		for (int i = 0; i < 500; i++)
		{
			snprintf(idbuf[i], sizeof(idbuf[i]), "driver_laps/9158/%d/%d/v1", i % 20, i);
			many[i].insert_id = idbuf[i];
			many[i].json = jsons[0];
			many[i].json_len = strlen(jsons[0]);
			s += f1_bq_row_overhead(&many[i]);
		}
		body = f1_bq_insertall_body(many, 500, &len);
		o = body != NULL ? jparse(body) : NULL;
		CHECK(o != NULL && json_object_array_length(jget(o, "rows")) == 500);
		CHECK(len == s - 1);
		json_object_put(o);
		free(body);
		free(many);
		free(idbuf);
	}
	end_case();

	begin_case("insertAll body: rows that cannot be spliced are refused");
	{
		F1BqRow		bad[2] = {{"a", "{}", 2}, {"b", NULL, 0}};

		CHECK(f1_bq_insertall_body(bad, 2, &len) == NULL && len == 0);
		bad[1].json = "";
		CHECK(f1_bq_insertall_body(bad, 2, NULL) == NULL);
		bad[1].json = "[1]";
		bad[1].json_len = 3;
		CHECK(f1_bq_insertall_body(bad, 2, NULL) == NULL);
		CHECK(f1_bq_insertall_body(bad, -1, NULL) == NULL);
		body = f1_bq_insertall_body(bad, 1, NULL);
		CHECK(body != NULL);
		free(body);
		/* json_len counts: a longer buffer is cut there */
		bad[0].json = "{\"a\":1}GARBAGE";
		bad[0].json_len = 7;
		body = f1_bq_insertall_body(bad, 1, &len);
		CHECK(body != NULL && strstr(body, "GARBAGE") == NULL && (o = jparse(body)) != NULL);
		json_object_put(o);
		free(body);
	}
	end_case();
}

/* ---- insertAll answers ------------------------------------------------------------ */

static void
test_insertall_response(void)
{
	F1BqRowResult res[8];
	char		err[ERRLEN];
	int			n;

#define PARSE_RESP(s, nrows) (err[0] = '\0', \
	f1_bq_parse_insertall_response((s), strlen(s), (nrows), res, err, ERRLEN))

	begin_case("insertAll answer: no errors");
	memset(res, 0x7f, sizeof(res));
	CHECK(PARSE_RESP(J("{'kind':'bigquery#tableDataInsertAllResponse'}"), 8) == 0);
	for (int i = 0; i < 8; i++)
		CHECK(res[i].status == F1BQ_ROW_OK && res[i].reason[0] == '\0');
	CHECK(PARSE_RESP(J("{'kind':'bigquery#tableDataInsertAllResponse','insertErrors':[]}"), 8) == 0);
	CHECK(PARSE_RESP(J("{}"), 0) == 0);
	CHECK(f1_bq_parse_insertall_response("{}", 2, 0, NULL, NULL, 0) == 0);
	end_case();

	begin_case("insertAll answer: one invalid row, the others stopped");
	/* as BigQuery answers with skipInvalidRows=false */
	n = PARSE_RESP(J("{'kind':'bigquery#tableDataInsertAllResponse','insertErrors':["
					 "{'index':0,'errors':[{'reason':'stopped','location':'','debugInfo':'','message':''}]},"
					 "{'index':1,'errors':[{'reason':'stopped','location':'','debugInfo':'','message':''}]},"
					 "{'index':2,'errors':[{'reason':'invalid','location':'lap_numbr','debugInfo':'',"
					 "'message':'no such field: lap_numbr.'}]},"
					 "{'index':3,'errors':[{'reason':'stopped','location':'','debugInfo':'','message':''}]}]}"),
				   4);
	CHECKF(n == 4, "returned %d: %s", n, err);
	CHECK(res[0].status == F1BQ_ROW_STOPPED && res[1].status == F1BQ_ROW_STOPPED &&
		  res[3].status == F1BQ_ROW_STOPPED);
	CHECK(res[2].status == F1BQ_ROW_INVALID);
	CHECK_STREQ(res[2].reason, "invalid: lap_numbr: no such field: lap_numbr.");
	CHECK_STREQ(res[0].reason, "stopped");
	end_case();

	begin_case("insertAll answer: rows not named are OK");
	n = PARSE_RESP(J("{'insertErrors':[{'index':1,'errors':[{'reason':'invalid','message':"
					 "'Cannot convert value to integer.','location':'driver_number'}]}]}"), 3);
	CHECK(n == 1);
	CHECK(res[0].status == F1BQ_ROW_OK && res[2].status == F1BQ_ROW_OK);
	CHECK(res[1].status == F1BQ_ROW_INVALID);
	CHECK_STREQ(res[1].reason, "invalid: driver_number: Cannot convert value to integer.");
	end_case();

	begin_case("insertAll answer: transient row errors");
	n = PARSE_RESP(J("{'insertErrors':["
					 "{'index':0,'errors':[{'reason':'backendError','message':'Backend error.'}]},"
					 "{'index':1,'errors':[{'reason':'timeout','message':'Timed out.'}]},"
					 "{'index':2,'errors':[{'reason':'rateLimitExceeded'}]},"
					 "{'index':3,'errors':[{'reason':'internalError'}]},"
					 "{'index':4,'errors':[{'reason':'stopped'},{'reason':'backendError'}]}]}"), 6);
	CHECKF(n == 5, "returned %d: %s", n, err);
	for (int i = 0; i < 5; i++)
		CHECKF(res[i].status == F1BQ_ROW_RETRY, "row %d: status %d", i, (int) res[i].status);
	CHECK(res[5].status == F1BQ_ROW_OK);
	CHECK_STREQ(res[0].reason, "backendError: Backend error.");
	CHECK_STREQ(res[4].reason, "backendError");
	end_case();

	begin_case("insertAll answer: unknown reasons and mixtures are INVALID");
	n = PARSE_RESP(J("{'insertErrors':["
					 "{'index':0,'errors':[{'reason':'accessDenied','message':'Access Denied.'}]},"
					 "{'index':1,'errors':[{'reason':'stopped'},{'reason':'invalid','location':'x'},"
					 "{'reason':'backendError'}]},"
					 "{'index':2,'errors':[{'message':'no reason'}]},"
					 "{'index':3,'errors':[]},"
					 "{'index':'4','errors':[{'reason':'somethingNew'},{'reason':'invalid','message':'m'}]}]}"), 5);
	CHECKF(n == 5, "returned %d: %s", n, err);
	for (int i = 0; i < 5; i++)
		CHECKF(res[i].status == F1BQ_ROW_INVALID, "row %d: status %d", i, (int) res[i].status);
	CHECK_STREQ(res[0].reason, "accessDenied: Access Denied.");
	CHECK_STREQ(res[1].reason, "invalid: x");
	CHECK_STREQ(res[2].reason, "no reason");
	CHECK_STREQ(res[3].reason, "invalid: no reason given");
	CHECK_STREQ(res[4].reason, "invalid: m");
	end_case();

	begin_case("insertAll answer: a row named twice keeps the worse status");
	n = PARSE_RESP(J("{'insertErrors':[{'index':0,'errors':[{'reason':'stopped'}]},"
					 "{'index':0,'errors':[{'reason':'invalid','message':'bad'}]},"
					 "{'index':0,'errors':[{'reason':'backendError'}]}]}"), 1);
	CHECK(n == 1 && res[0].status == F1BQ_ROW_INVALID);
	CHECK_STREQ(res[0].reason, "invalid: bad");
	end_case();

	begin_case("insertAll answer: long and odd reason text is cut cleanly");
	{
		char		big[4096];
		char		msg[1200];

		for (int i = 0; i < 300; i++)
			memcpy(msg + 3 * i, "\xc3\xa9\n", 3);	/* é and a newline */
		msg[900] = '\0';
		snprintf(big, sizeof(big), "{\"insertErrors\":[{\"index\":0,\"errors\":[{\"reason\":"
				 "\"invalid\",\"location\":\"x\",\"message\":\"%s\"}]}]}", msg);
		/* the newline must be escaped in JSON */
		for (char *p = big; *p; p++)
			if (*p == '\n')
				*p = ' ';
		CHECK(PARSE_RESP(big, 1) == 1);
		CHECK(strlen(res[0].reason) < sizeof(res[0].reason));
		CHECK(strlen(res[0].reason) > 200);
		CHECK(valid_utf8(res[0].reason));
		CHECK(PARSE_RESP(J("{'insertErrors':[{'index':0,'errors':[{'reason':'invalid',"
						   "'message':'a\\nb\\u0000c'}]}]}"), 1) == 1);
		CHECK(strchr(res[0].reason, '\n') == NULL);
	}
	end_case();

	begin_case("insertAll answer: index out of range");
	CHECK(PARSE_RESP(J("{'insertErrors':[{'index':3,'errors':[{'reason':'invalid'}]}]}"), 3) == -1);
	CHECKF(strstr(err, "row 3 of 3") != NULL, "error: %s", err);
	CHECK(PARSE_RESP(J("{'insertErrors':[{'index':-1,'errors':[{'reason':'invalid'}]}]}"), 3) == -1);
	CHECK(PARSE_RESP(J("{'insertErrors':[{'index':99999999999,'errors':[]}]}"), 3) == -1);
	CHECK(PARSE_RESP(J("{'insertErrors':[{'index':0,'errors':[]}]}"), 0) == -1);
	end_case();

	begin_case("insertAll answer: garbage");
	CHECK(PARSE_RESP("", 2) == -1);
	CHECK(PARSE_RESP("not json", 2) == -1);
	CHECKF(err[0] != '\0', "no reason");
	CHECK(PARSE_RESP("[]", 2) == -1);
	CHECK(PARSE_RESP(J("{'insertErrors':{}}"), 2) == -1);
	CHECK(PARSE_RESP(J("{'insertErrors':[5]}"), 2) == -1);
	CHECK(PARSE_RESP(J("{'insertErrors':[{'errors':[]}]}"), 2) == -1);
	CHECK(PARSE_RESP(J("{'insertErrors':[{'index':'x','errors':[]}]}"), 2) == -1);
	CHECK(PARSE_RESP(J("{'insertErrors':[{'index':1.5,'errors':[]}]}"), 2) == -1);
	CHECK(PARSE_RESP(J("{'insertErrors':[]"), 2) == -1);
	CHECK(PARSE_RESP(J("{'insertErrors':[]} {}"), 2) == -1);
	CHECK(PARSE_RESP("<html>502</html>", 2) == -1);
	CHECK(f1_bq_parse_insertall_response(NULL, 0, 2, res, NULL, 0) == -1);
	CHECK(f1_bq_parse_insertall_response("{}", 2, 2, NULL, err, ERRLEN) == -1);
	end_case();
#undef PARSE_RESP
}

/* ---- refused requests ---------------------------------------------------------- */

static const char google_413[] =
"<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n"
"  <meta name=viewport content=\"initial-scale=1, minimum-scale=1, width=device-width\">\n"
"  <title>Error 413 (Request Entity Too Large)!!1</title>\n"
"  <style>\n    *{margin:0;padding:0}html,code{font:15px/22px arial,sans-serif}"
"html{background:#fff;color:#222;padding:15px}body{margin:7% auto 0;max-width:390px}\n"
"  </style>\n"
"  <a href=//www.google.com/><span id=logo aria-label=Google></span></a>\n"
"  <p><b>413.</b> <ins>That\xe2\x80\x99s an error.</ins>\n"
"  <p>Your client issued a request that was too large.\n"
"  <script>\n  (function() { var x = 1; })();\n  </script>\n"
"  <ins>That\xe2\x80\x99s all we know.</ins>\n";

static const char google_503[] =
"<html><head><title>503 Service Unavailable</title></head><body>"
"<h1>Service Unavailable</h1>&lt;retry&gt; later &amp; again</body></html>";

/* A Google error envelope with one error. */
static const char *
envelope(int code, const char *reason, const char *message, const char *status)
{
	static char buf[8][1024];
	static int	next;
	char	   *b = buf[next++ % 8];

	snprintf(b, sizeof(buf[0]),
			 "{\n  \"error\": {\n    \"code\": %d,\n    \"message\": \"%s\",\n"
			 "    \"errors\": [\n      {\n        \"message\": \"%s\",\n"
			 "        \"domain\": \"global\",\n        \"reason\": \"%s\"\n      }\n    ],\n"
			 "    \"status\": \"%s\"\n  }\n}\n", code, message, message, reason, status);
	return b;
}

static void
test_classify(void)
{
	static const struct
	{
		long		status;
		const char *body;		/* NULL: envelope() of reason and message */
		const char *reason;
		const char *message;
		F1BqVerdict want;
		const char *in_message; /* expected in the message, or NULL */
	}			cases[] = {
		{200, "{\"kind\":\"bigquery#tableDataInsertAllResponse\"}", NULL, NULL, F1BQ_OK, NULL},
		{204, "", NULL, NULL, F1BQ_OK, NULL},
		{400, NULL, "badRequest", "Request payload size exceeds the limit: 10485760 bytes.",
		F1BQ_TOO_LARGE, "HTTP 400 badRequest: Request payload size exceeds the limit: 10485760 bytes."},
		{400, NULL, "invalid", "Request payload size exceeds the limit: 10485760 bytes.",
		F1BQ_TOO_LARGE, "exceeds the limit"},
		{413, google_413, NULL, NULL, F1BQ_TOO_LARGE,
		"HTTP 413: Error 413 (Request Entity Too Large)!!1 413. That\xe2\x80\x99s an error. "
		"Your client issued a request that was too large. That\xe2\x80\x99s all we know."},
		{413, "", NULL, NULL, F1BQ_TOO_LARGE, "HTTP 413"},
		{401, NULL, "authError", "Request had invalid authentication credentials.",
		F1BQ_AUTH, "HTTP 401 authError: Request had invalid authentication credentials."},
		{401, "Unauthorized", NULL, NULL, F1BQ_AUTH, "HTTP 401: Unauthorized"},
		{404, NULL, "notFound", "Not found: Table f1tel-test:f1tel.driver_laps",
		F1BQ_NOT_FOUND, "HTTP 404 notFound: Not found: Table f1tel-test:f1tel.driver_laps"},
		{404, "", NULL, NULL, F1BQ_NOT_FOUND, "HTTP 404"},
		{408, "<html><body>Request Timeout</body></html>", NULL, NULL, F1BQ_RETRY,
		"HTTP 408: Request Timeout"},
		{429, NULL, "rateLimitExceeded", "Exceeded rate limits: too many api requests per user per method for this user_method.",
		F1BQ_RETRY, "rateLimitExceeded"},
		{429, "Too Many Requests", NULL, NULL, F1BQ_RETRY, "HTTP 429: Too Many Requests"},
		{500, NULL, "backendError", "Error encountered during execution. Retrying may solve the problem.",
		F1BQ_RETRY, "HTTP 500 backendError: Error encountered"},
		{500, "{}", NULL, NULL, F1BQ_RETRY, "HTTP 500: {}"},
		{502, NULL, "badGateway", "Bad gateway", F1BQ_RETRY, "badGateway"},
		{503, google_503, NULL, NULL, F1BQ_RETRY,
		"HTTP 503: 503 Service Unavailable Service Unavailable <retry> later & again"},
		{503, NULL, "backendError", "The service is currently unavailable.", F1BQ_RETRY, NULL},
		{403, NULL, "quotaExceeded", "Quota exceeded: Your table exceeded quota for imports or query appends per table.",
		F1BQ_QUOTA, "HTTP 403 quotaExceeded: Quota exceeded"},
		{429, NULL, "quotaExceeded", "Quota exceeded", F1BQ_QUOTA, NULL},
		{403, NULL, "rateLimitExceeded", "Exceeded rate limits: too many table update operations for this table.",
		F1BQ_RETRY, "HTTP 403 rateLimitExceeded: Exceeded rate limits"},
		{403, NULL, "accessDenied", "Access Denied: Table f1tel-test:f1tel.laps: Permission bigquery.tables.updateData denied.",
		F1BQ_FATAL, "HTTP 403 accessDenied: Access Denied"},
		{403, NULL, "billingNotEnabled", "Billing has not been enabled for this project.", F1BQ_FATAL,
		"billingNotEnabled"},
		{400, NULL, "invalid", "No rows present in the request.", F1BQ_FATAL,
		"HTTP 400 invalid: No rows present in the request."},
		{409, NULL, "duplicate", "Already Exists: Table f1tel-test:f1tel.laps", F1BQ_FATAL,
		"HTTP 409 duplicate: Already Exists"},
		{400, "Bad Request", NULL, NULL, F1BQ_FATAL, "HTTP 400: Bad Request"},
		{400, "payload size exceeds the limit", NULL, NULL, F1BQ_TOO_LARGE, NULL},
		{302, "<a href=\"https://accounts.google.com\">Found</a>", NULL, NULL, F1BQ_FATAL, "HTTP 302: Found"},
		{0, NULL, NULL, NULL, F1BQ_RETRY, "no HTTP answer"},
		{0, "", NULL, NULL, F1BQ_RETRY, NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char		name[128];
		char		msg[512];
		const char *body = cases[i].body;
		F1BqVerdict v;

		if (body == NULL && cases[i].reason != NULL)
			body = envelope(cases[i].status >= 100 ? (int) cases[i].status : 0,
							cases[i].reason, cases[i].message, "SOME_STATUS");
		snprintf(name, sizeof(name), "classify: %ld %s", cases[i].status,
				 cases[i].reason ? cases[i].reason :
				 body == NULL ? "no body" : body[0] == '<' ? "HTML" : body[0] == '{' ? "JSON" : "text");
		begin_case(name);
		memset(msg, 'X', sizeof(msg));
		v = f1_bq_classify(cases[i].status, body, body != NULL ? strlen(body) : 0,
						   msg, sizeof(msg));
		CHECKF(v == cases[i].want, "got %s, want %s (%s)", f1_bq_verdict_name(v),
			   f1_bq_verdict_name(cases[i].want), msg);
		CHECK(memchr(msg, '\0', sizeof(msg)) != NULL);
		if (cases[i].in_message != NULL)
			CHECKF(strstr(msg, cases[i].in_message) != NULL, "message \"%s\" lacks \"%s\"",
				   msg, cases[i].in_message);
		CHECKF(strchr(msg, '\n') == NULL && strchr(msg, '<') == NULL ? true :
			   cases[i].in_message != NULL && strchr(cases[i].in_message, '<') != NULL,
			   "message not one clean line: \"%s\"", msg);
		CHECK(valid_utf8(msg));
		/* the same without a message buffer */
		CHECK(f1_bq_classify(cases[i].status, body, body != NULL ? strlen(body) : 0, NULL, 0) == v);
		end_case();
	}

	begin_case("classify: messages are cut to the buffer, on a UTF-8 boundary");
	{
		char		small[12];
		char		body[2048];

		CHECK(f1_bq_classify(413, google_413, strlen(google_413), small, sizeof(small)) ==
			  F1BQ_TOO_LARGE);
		CHECK(strlen(small) == sizeof(small) - 1);
		body[0] = '\0';
		for (int i = 0; i < 400; i++)
			strcat(body, "\xc3\xa9");
		for (size_t len = 10; len < 40; len++)
		{
			char		m[40];

			f1_bq_classify(500, body, strlen(body), m, len);
			CHECKF(valid_utf8(m) && strlen(m) < len, "cut to %zu: \"%s\"", len, m);
		}
		f1_bq_classify(500, body, strlen(body), small, 1);
		CHECK(small[0] == '\0');
		/* a long body gives a short excerpt */
		{
			char		m[1024];

			f1_bq_classify(502, body, strlen(body), m, sizeof(m));
			CHECKF(strlen(m) < 240 && valid_utf8(m), "excerpt of %zu bytes", strlen(m));
		}
	}
	end_case();

	begin_case("classify: verdict names");
	CHECK_STREQ(f1_bq_verdict_name(F1BQ_OK), "OK");
	CHECK_STREQ(f1_bq_verdict_name(F1BQ_QUOTA), "QUOTA");
	CHECK_STREQ(f1_bq_verdict_name(F1BQ_FATAL), "FATAL");
	CHECK_STREQ(f1_bq_verdict_name((F1BqVerdict) 99), "?");
	end_case();
}

/* ---- back-off --------------------------------------------------------------------- */

static void
test_backoff(void)
{
	const int64_t base = 200;
	const int64_t cap = 30000;

	begin_case("back-off: within [0, min(cap, base * 2^attempt)]");
	{
		uint64_t	rng = 12345;

		for (int attempt = -3; attempt < 80; attempt++)
		{
			int64_t		ceiling = attempt <= 0 ? base :
				attempt >= 20 ? cap : (base << attempt < cap ? base << attempt : cap);

			for (int k = 0; k < 200; k++)
			{
				int64_t		d = f1_backoff_ms(attempt, base, cap, &rng);

				if (!CHECKF(d >= 0 && d <= ceiling, "attempt %d: %lld not in [0, %lld]",
							attempt, (long long) d, (long long) ceiling))
					break;
			}
		}
		CHECK(f1_backoff_ms(INT32_MAX, base, cap, &rng) <= cap);
		CHECK(f1_backoff_ms(62, INT64_MAX / 2, INT64_MAX, &rng) >= 0);
		CHECK(f1_backoff_ms(3, 0, cap, &rng) == 0);
		CHECK(f1_backoff_ms(3, base, 0, &rng) == 0);
		CHECK(f1_backoff_ms(3, -5, cap, &rng) == 0);
		/* a cap below the base wins */
		for (int k = 0; k < 100; k++)
			CHECK(f1_backoff_ms(0, 1000, 50, &rng) <= 50);
	}
	end_case();

	begin_case("back-off: grows with the attempt, then stays at the cap");
	{
		uint64_t	rng = 987654321;
		double		prev_mean = 0;

		for (int attempt = 0; attempt < 12; attempt++)
		{
			int64_t		ceiling = base << attempt < cap ? base << attempt : cap;
			double		sum = 0;
			int64_t		max = 0;
			const int	N = 4000;

			for (int k = 0; k < N; k++)
			{
				int64_t		d = f1_backoff_ms(attempt, base, cap, &rng);

				sum += (double) d;
				if (d > max)
					max = d;
			}
			/* uniform on [0, ceiling]: mean ceiling/2, maximum near ceiling */
			CHECKF(sum / N > 0.45 * (double) ceiling && sum / N < 0.55 * (double) ceiling,
				   "attempt %d: mean %.0f for ceiling %lld", attempt, sum / N, (long long) ceiling);
			CHECKF(max > 0.97 * (double) ceiling, "attempt %d: max %lld", attempt, (long long) max);
			if (ceiling < cap)
				CHECKF(sum / N > prev_mean * 1.6, "attempt %d: mean %.0f after %.0f",
					   attempt, sum / N, prev_mean);
			prev_mean = sum / N;
		}
	}
	end_case();

	begin_case("back-off: deterministic given the state");
	{
		uint64_t	a = 42;
		uint64_t	b = 42;
		uint64_t	c = 43;
		uint64_t	z = 0;
		int			same = 0;

		for (int k = 0; k < 50; k++)
		{
			int64_t		da = f1_backoff_ms(k % 10, base, cap, &a);
			int64_t		db = f1_backoff_ms(k % 10, base, cap, &b);
			int64_t		dc = f1_backoff_ms(k % 10, base, cap, &c);

			CHECK(da == db);
			same += da == dc;
		}
		CHECK(a == b && a != 42);
		CHECK(same < 10);
		/* a zero state still gives numbers */
		f1_backoff_ms(5, base, cap, &z);
		CHECK(z != 0);
	}
	end_case();
}

/* ---- datasets, tables, views ---------------------------------------------------- */

static const F1BqField test_fields[] = {
	{"session_key", "INT64", "REQUIRED"},
	{"driver_number", "INT64", "REQUIRED"},
	{"lap_number", "INT64", "REQUIRED"},
	{"date_start", "TIMESTAMP", NULL},
	{"lap_duration", "FLOAT64", "NULLABLE"},
	{"segments_sector_1", "INT64", "REPEATED"},
	{"odd \"name\"", "STRING", NULL},
};
static const char *const test_cluster[] = {"session_key", "driver_number"};

static void
test_bodies(void)
{
	char	   *s;
	json_object *o;

	begin_case("dataset body");
	s = f1_bq_dataset_body("f1tel-test", "f1tel", "EU");
	o = s != NULL ? jparse(s) : NULL;
	CHECKF(o != NULL, "not JSON: %s", s ? s : "(null)");
	CHECK_STREQ(jstr(o, "datasetReference.projectId"), "f1tel-test");
	CHECK_STREQ(jstr(o, "datasetReference.datasetId"), "f1tel");
	CHECK_STREQ(jstr(o, "location"), "EU");
	CHECK(o != NULL && json_object_object_length(o) == 2);
	json_object_put(o);
	free(s);
	s = f1_bq_dataset_body("p", "d", NULL);
	o = s != NULL ? jparse(s) : NULL;
	CHECK(o != NULL && !jhas(o, "location") && jhas(o, "datasetReference"));
	json_object_put(o);
	free(s);
	CHECK(f1_bq_dataset_body(NULL, "d", "EU") == NULL);
	CHECK(f1_bq_dataset_body("p", NULL, "EU") == NULL);
	end_case();

	begin_case("table body: schema, DAY partitioning, clustering");
	s = f1_bq_table_body("f1tel-test", "f1tel", "driver_laps", test_fields, 7, "date_start",
						 test_cluster, 2);
	o = s != NULL ? jparse(s) : NULL;
	CHECKF(o != NULL, "not JSON: %s", s ? s : "(null)");
	CHECK_STREQ(jstr(o, "tableReference.projectId"), "f1tel-test");
	CHECK_STREQ(jstr(o, "tableReference.datasetId"), "f1tel");
	CHECK_STREQ(jstr(o, "tableReference.tableId"), "driver_laps");
	{
		json_object *f = jget(o, "schema.fields");

		CHECK(f != NULL && json_object_array_length(f) == 7);
		for (size_t i = 0; f != NULL && i < 7 && i < json_object_array_length(f); i++)
		{
			json_object *e = json_object_array_get_idx(f, i);

			CHECK_STREQ(jstr(e, "name"), test_fields[i].name);
			CHECK_STREQ(jstr(e, "type"), test_fields[i].type);
			if (test_fields[i].mode != NULL)
				CHECK_STREQ(jstr(e, "mode"), test_fields[i].mode);
			else
				CHECK(!jhas(e, "mode"));
		}
	}
	CHECK_STREQ(jstr(o, "timePartitioning.type"), "DAY");
	CHECK_STREQ(jstr(o, "timePartitioning.field"), "date_start");
	CHECK(jget(o, "clustering.fields") != NULL &&
		  json_object_array_length(jget(o, "clustering.fields")) == 2 &&
		  strcmp(json_object_get_string(json_object_array_get_idx(jget(o, "clustering.fields"), 1)),
				 "driver_number") == 0);
	json_object_put(o);
	free(s);
	end_case();

	begin_case("table body: without partitioning or clustering");
	s = f1_bq_table_body("p", "d", "t", test_fields, 2, NULL, NULL, 0);
	o = s != NULL ? jparse(s) : NULL;
	CHECK(o != NULL && !jhas(o, "timePartitioning") && !jhas(o, "clustering") &&
		  json_object_object_length(o) == 2);
	json_object_put(o);
	free(s);
	CHECK(f1_bq_table_body("p", "d", "t", test_fields, 0, NULL, NULL, 0) == NULL);
	CHECK(f1_bq_table_body("p", "d", NULL, test_fields, 2, NULL, NULL, 0) == NULL);
	CHECK(f1_bq_table_body("p", "d", "t", test_fields, 2, NULL, NULL, 1) == NULL);
	{
		F1BqField	bad[] = {{"a", NULL, NULL}};
		const char *const nullc[] = {NULL};

		CHECK(f1_bq_table_body("p", "d", "t", bad, 1, NULL, NULL, 0) == NULL);
		CHECK(f1_bq_table_body("p", "d", "t", test_fields, 2, NULL, nullc, 1) == NULL);
	}
	end_case();

	begin_case("view body: GoogleSQL");
	{
		const char *q = "SELECT d.*, 'x\"y' AS q\nFROM `f1tel-test.f1tel.driver_laps` d\n"
			"WHERE d.lap_duration < 100 /* slash */";

		s = f1_bq_view_body("f1tel-test", "f1tel", "fastest_laps", q);
		o = s != NULL ? jparse(s) : NULL;
		CHECKF(o != NULL, "not JSON: %s", s ? s : "(null)");
		CHECK_STREQ(jstr(o, "tableReference.tableId"), "fastest_laps");
		CHECK_STREQ(jstr(o, "view.query"), q);
		CHECK(jget(o, "view.useLegacySql") != NULL &&
			  json_object_is_type(jget(o, "view.useLegacySql"), json_type_boolean) &&
			  !json_object_get_boolean(jget(o, "view.useLegacySql")));
		CHECK(s != NULL && strstr(s, "\\/") == NULL);	/* no needless escapes */
		json_object_put(o);
		free(s);
		CHECK(f1_bq_view_body("p", "d", "v", NULL) == NULL);
	}
	end_case();
}

/* ---- the discovery document ---------------------------------------------------------- */

static json_object *discovery_schemas;
static bool validate_quiet;		/* count problems without reporting them */

#define VCHECKF(cond, ...) (validate_quiet ? (bool) (cond) : CHECKF((cond), __VA_ARGS__))
static char visited[64][64];
static int	n_visited;

static void
note_visit(const char *schema)
{
	for (int i = 0; i < n_visited; i++)
		if (strcmp(visited[i], schema) == 0)
			return;
	if (n_visited < 64)
		snprintf(visited[n_visited++], sizeof(visited[0]), "%s", schema);
}

static bool
was_visited(const char *schema)
{
	for (int i = 0; i < n_visited; i++)
		if (strcmp(visited[i], schema) == 0)
			return true;
	return false;
}

/*
 * Check value against a discovery schema node (a {"$ref"}, or a node with
 * "type" and "properties" / "items" / "additionalProperties"): every member
 * of an object must be a property that is not read-only, and the types must
 * agree.  Returns the number of problems, each printed as a failure.
 */
static int
validate(json_object *value, json_object *node, const char *path)
{
	const char *ref = jstr(node, "$ref");
	const char *type;
	int			bad = 0;

	if (ref != NULL)
	{
		note_visit(ref);
		node = jget(discovery_schemas, ref);
		if (node == NULL)
		{
			VCHECKF(false, "%s: schema %s not in the document", path, ref);
			return 1;
		}
	}
	type = jstr(node, "type");
	if (jhas(node, "additionalProperties") && !jhas(node, "properties"))
		return 0;				/* free-form: JsonObject (a row) */
	if (type == NULL)
		return 0;
	if (strcmp(type, "object") == 0)
	{
		json_object *props = jget(node, "properties");

		if (!VCHECKF(json_object_is_type(value, json_type_object), "%s: not an object", path))
			return 1;
		json_object_object_foreach(value, key, member)
		{
			json_object *p = props != NULL ? jget(props, key) : NULL;
			char		sub[512];

			snprintf(sub, sizeof(sub), "%s.%s", path, key);
			if (!VCHECKF(p != NULL, "%s: no such property in schema %s", sub,
						ref != NULL ? ref : "(inline)"))
			{
				bad++;
				continue;
			}
			if (!VCHECKF(jget(p, "readOnly") == NULL || !json_object_get_boolean(jget(p, "readOnly")),
						"%s: property is output only", sub))
				bad++;
			bad += validate(member, p, sub);
		}
	}
	else if (strcmp(type, "array") == 0)
	{
		if (!VCHECKF(json_object_is_type(value, json_type_array), "%s: not an array", path))
			return 1;
		for (size_t i = 0; i < json_object_array_length(value); i++)
		{
			char		sub[512];

			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			bad += validate(json_object_array_get_idx(value, i), jget(node, "items"), sub);
		}
	}
	else if (strcmp(type, "string") == 0)
		bad += !VCHECKF(json_object_is_type(value, json_type_string), "%s: not a string", path);
	else if (strcmp(type, "boolean") == 0)
		bad += !VCHECKF(json_object_is_type(value, json_type_boolean), "%s: not a boolean", path);
	else if (strcmp(type, "integer") == 0)
		bad += !VCHECKF(json_object_is_type(value, json_type_int), "%s: not an integer", path);
	return bad;
}

/* Validate JSON text against a named schema; returns the problems. */
static int
validate_text(const char *text, const char *schema)
{
	json_object *o = text != NULL ? jparse(text) : NULL;
	json_object *ref = json_object_new_object();
	int			bad;

	json_object_object_add(ref, "$ref", json_object_new_string(schema));
	if (!CHECKF(o != NULL, "%s: body is not JSON", schema))
		bad = 1;
	else
		bad = validate(o, ref, schema);
	json_object_put(ref);
	json_object_put(o);
	return bad;
}

/* A JSON file, gzipped or plain (zlib reads both); NULL if unreadable. */
static json_object *
read_json_gz(const char *path)
{
	gzFile		f = gzopen(path, "rb");
	size_t		len = 0,
				cap = 1 << 20;
	char	   *buf;
	int			n;
	json_object *doc;

	if (f == NULL)
		return NULL;
	buf = malloc(cap);
	while (buf != NULL && (n = gzread(f, buf + len, (unsigned) (cap - len - 1))) > 0)
	{
		len += n;
		if (cap - len < 2)
		{
			char	   *bigger = realloc(buf, cap * 2);

			if (bigger == NULL)
				free(buf);
			buf = bigger;
			cap *= 2;
		}
	}
	gzclose(f);
	if (buf == NULL)
		return NULL;
	buf[len] = '\0';
	doc = json_tokener_parse(buf);
	free(buf);
	return doc;
}

static void
test_discovery(const char *root)
{
	char		defpath[4096 + 64];
	const char *path = getenv("F1TEL_DISCOVERY");
	json_object *doc;
	char	   *s;

	if (path == NULL || path[0] == '\0')
	{
		snprintf(defpath, sizeof(defpath), "%s/test/bigquery/bigquery-v2-discovery.json.gz",
				 root);
		path = defpath;
	}

	begin_case("discovery: the document");
	doc = read_json_gz(path);
	CHECKF(doc != NULL, "cannot read the discovery document %s (F1TEL_DISCOVERY)", path);
	discovery_schemas = jget(doc, "schemas");
	CHECKF(discovery_schemas != NULL, "%s: no schemas", path);
	CHECK_STREQ(jstr(doc, "id"), "bigquery:v2");
	end_case();
	if (discovery_schemas == NULL)
	{
		json_object_put(doc);
		return;
	}

	begin_case("discovery: insertAll body is a TableDataInsertAllRequest");
	{
		F1BqRow		rows[2] = {{"id-1", "{\"a\":1,\"whatever\":[1]}", 22}, {NULL, "{}", 2}};

		s = f1_bq_insertall_body(rows, 2, NULL);
		n_visited = 0;
		CHECK(validate_text(s, "TableDataInsertAllRequest") == 0);
		CHECK(was_visited("JsonObject"));
		free(s);
	}
	end_case();

	begin_case("discovery: the answers read are a TableDataInsertAllResponse");
	n_visited = 0;
	CHECK(validate_text(J("{'kind':'bigquery#tableDataInsertAllResponse','insertErrors':"
						  "[{'index':2,'errors':[{'reason':'invalid','location':'x',"
						  "'message':'m','debugInfo':''}]}]}"),
						"TableDataInsertAllResponse") == 0);
	CHECK(was_visited("ErrorProto"));
	end_case();

	begin_case("discovery: dataset body is a Dataset");
	s = f1_bq_dataset_body("p", "d", "EU");
	n_visited = 0;
	CHECK(validate_text(s, "Dataset") == 0);
	CHECK(was_visited("DatasetReference"));
	free(s);
	end_case();

	begin_case("discovery: table body is a Table");
	s = f1_bq_table_body("p", "d", "t", test_fields, 7, "date_start", test_cluster, 2);
	n_visited = 0;
	CHECK(validate_text(s, "Table") == 0);
	CHECK(was_visited("TableReference") && was_visited("TableSchema") &&
		  was_visited("TableFieldSchema") && was_visited("TimePartitioning") &&
		  was_visited("Clustering"));
	free(s);
	end_case();

	begin_case("discovery: view body is a Table with a ViewDefinition");
	s = f1_bq_view_body("p", "d", "v", "SELECT 1");
	n_visited = 0;
	CHECK(validate_text(s, "Table") == 0);
	CHECK(was_visited("ViewDefinition") && was_visited("TableReference"));
	free(s);
	end_case();

	begin_case("discovery: the check catches a wrong field");
	{
		int			bad;

		validate_quiet = true;
		bad = validate_text(J("{'tableReference':{'projectId':'p','datasetId':'d','tableId':'t'},"
							  "'partitioning':{},'location':'EU','view':{'useLegacySql':'no'}}"),
							"Table");
		validate_quiet = false;
		CHECKF(bad == 3, "%d problems found, want 3 (unknown, output-only, wrong type)", bad);
	}
	end_case();

	json_object_put(doc);
	discovery_schemas = NULL;
}

/* ---- main ------------------------------------------------------------------------ */

int
main(int argc, char **argv)
{
	(void) argc;
	setvbuf(stdout, NULL, _IOLBF, 0);
	find_repo_root(argv[0], "src/sink/jwt.h");
	make_keys();

	test_base64url();
	test_service_account();
	test_jwt();
	test_token_request();
	test_token_response();
	test_insertall_body();
	test_insertall_response();
	test_classify();
	test_backoff();
	test_bodies();
	test_discovery(repo_root);

	free_keys();
	return harness_report();
}
