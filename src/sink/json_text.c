/*
 * src/sink/json_text.c — JSON text to json-c objects and back, for the
 * sink's plain-C files (see json_text.h).
 *
 * One tokener per parse, freed before returning.  Wiping reaches into
 * json-c's tokener for the buffer that holds the last string it read: the
 * struct is public in json-c 0.13 to 0.17 although marked private.
 *
 * No PostgreSQL headers or calls; memory is malloc'd or json-c's (see
 * json_text.h for who frees what).
 */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json_object.h>
#include <json-c/json_tokener.h>
#include <json-c/printbuf.h>

#include <openssl/crypto.h>

#include "sink/json_text.h"

#define JSON_OUT_FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

json_object *
f1_json_parse_object(const char *text, size_t len, bool wipe, const char **why)
{
	const char *dummy;
	json_tokener *tok;
	json_object *obj;
	size_t		end;

	if (why == NULL)
		why = &dummy;
	*why = "not JSON";
	if (text == NULL || len == 0)
	{
		*why = "empty";
		return NULL;
	}
	if (len > INT_MAX)
	{
		*why = "too long";
		return NULL;
	}
	tok = json_tokener_new();
	if (tok == NULL)
	{
		*why = "out of memory";
		return NULL;
	}
	obj = json_tokener_parse_ex(tok, text, (int) len);
	if (obj != NULL && json_tokener_get_error(tok) != json_tokener_success)
	{
		json_object_put(obj);
		obj = NULL;
	}
	end = obj != NULL ? json_tokener_get_parse_end(tok) : len;
	for (; end < len; end++)
	{
		if (!isspace((unsigned char) text[end]))
		{
			json_object_put(obj);
			obj = NULL;
			break;
		}
	}
	if (obj != NULL && !json_object_is_type(obj, json_type_object))
	{
		*why = "not a JSON object";
		json_object_put(obj);
		obj = NULL;
	}
	if (wipe && tok->pb != NULL && tok->pb->buf != NULL && tok->pb->size > 0)
		OPENSSL_cleanse(tok->pb->buf, (size_t) tok->pb->size);
	json_tokener_free(tok);
	return obj;
}

json_object *
f1_json_member(json_object *obj, const char *key, json_type type)
{
	json_object *v;

	if (obj == NULL || !json_object_object_get_ex(obj, key, &v) ||
		!json_object_is_type(v, type))
		return NULL;
	return v;
}

json_object *
f1_json_nonempty_string(json_object *obj, const char *key)
{
	json_object *v = f1_json_member(obj, key, json_type_string);

	return v != NULL && json_object_get_string_len(v) > 0 ? v : NULL;
}

void
f1_json_wipe_string(json_object *v)
{
	if (v != NULL && json_object_is_type(v, json_type_string))
	{
		char	   *p = (char *) json_object_get_string(v);
		int			n = json_object_get_string_len(v);

		if (p != NULL && n > 0)
			OPENSSL_cleanse(p, (size_t) n);
	}
}

char *
f1_json_finish(json_object *o, bool ok)
{
	char	   *s = NULL;

	if (o != NULL && ok)
	{
		const char *t = json_object_to_json_string_ext(o, JSON_OUT_FLAGS);

		if (t != NULL)
			s = strdup(t);
	}
	json_object_put(o);
	return s;
}
