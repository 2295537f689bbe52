/*
 * test/unit/test_keys.h — the RSA key and the service-account key files of
 * the unit tests of src/sink/jwt.c (test_key_file.c, test_jwt.c).
 *
 * make_keys() makes one 2048-bit RSA key with OpenSSL (rsa_key), its PKCS#8
 * PEM as Google writes it (rsa_pem) and its public key (rsa_pub_pem);
 * free_keys() frees them.  pem_of() writes any key as PEM; key_json() and
 * key_json_set() write a key file as Google does, with one field left out
 * or set; no_key_material() says whether a text holds nothing of a PEM key;
 * sa_parse() parses a key file with its reason in err (ERRLEN bytes).
 * Nothing is read from the network or the disk.
 *
 * Include it after harness.h, from the test's only translation unit.
 */
#ifndef F1TEL_TEST_KEYS_H
#define F1TEL_TEST_KEYS_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json_object.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "sink/jwt.h"

#include "harness.h"

#ifndef ERRLEN
#define ERRLEN 256
#endif

static EVP_PKEY *rsa_key;		/* made once: 2048 bits */
static char *rsa_pem;			/* its PKCS#8 PEM, as Google writes it */
static char *rsa_pub_pem;		/* its public key */

static inline char *
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

static inline char *
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

static inline void
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

static inline void
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
static inline char *
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
static inline char *
key_json(const char *omit, const char *pem)
{
	return key_json_set(pem, omit, NULL);
}

/*
 * Whether text holds nothing of a PEM key: no armour, and none of the
 * base64 lines' 12-character windows.
 */
static inline bool
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
static inline bool
sa_parse(const char *json, F1ServiceAccount *sa, char *err)
{
	err[0] = '\0';
	return f1_service_account_parse(json, strlen(json), sa, err, ERRLEN);
}

#endif							/* F1TEL_TEST_KEYS_H */
