/*
 * test/unit/json_check.h — JSON reading and string checks shared by the
 * sink's unit tests (test_key_file.c, test_jwt.c, test_oauth.c,
 * test_bq_body.c, test_bq_answer.c).
 *
 * CHECK_STREQ(got, want) fails on a NULL or different string; jparse()
 * parses JSON text with json-c (NULL if it is not exactly one JSON value);
 * jget(), jstr() and jhas() read a member by its path "a.b.c".
 *
 * Include it after harness.h, from the test's only translation unit.
 */
#ifndef F1TEL_TEST_JSON_CHECK_H
#define F1TEL_TEST_JSON_CHECK_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json_object.h>
#include <json-c/json_tokener.h>

#include "harness.h"

#define CHECK_STREQ(got, want) do { \
	const char *g_ = (got), *w_ = (want); \
	CHECKF(g_ != NULL && strcmp(g_, w_) == 0, "%s: got \"%s\", want \"%s\"", #got, \
		   g_ ? g_ : "(null)", w_); \
} while (0)

/* Parse JSON text (NUL-terminated); NULL if it is not JSON. */
static inline json_object *
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
static inline json_object *
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
static inline const char *
jstr(json_object *o, const char *path)
{
	json_object *v = jget(o, path);

	return v != NULL && json_object_is_type(v, json_type_string) ?
		json_object_get_string(v) : NULL;
}

static inline bool
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

#endif							/* F1TEL_TEST_JSON_CHECK_H */
