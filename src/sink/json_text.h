/*
 * src/sink/json_text.h — JSON text to json-c objects and back, for the
 * sink's plain-C files (bq_body.c, bq_answer.c, jwt.c, oauth.c).
 *
 * What they all need and would otherwise each write again: parse an answer
 * or a key file that must be exactly one JSON object, pick a member of a
 * given type, turn an object into malloc'd text, and wipe a json-c string
 * that held a secret.
 *
 * Rules a reader must know:
 *  - No PostgreSQL headers and no PostgreSQL calls: unit-tested outside the
 *    server (test/unit/test_bq_*.c, test_jwt.c) and compiled into the extension as well.
 *    json-c, and OpenSSL for wiping (OPENSSL_cleanse) in json_text.c.
 *  - Memory: objects returned are the caller's to release with
 *    json_object_put(); text returned is malloc'd, the caller's to free().
 *    Members returned are borrowed from their object (do not put them).
 *  - Thread-safe: no global state (a tokener per call).
 */
#ifndef F1TEL_SINK_JSON_TEXT_H
#define F1TEL_SINK_JSON_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json_object.h>

/*
 * Parse len bytes of JSON text (need not be NUL-terminated) that must be
 * one object with nothing but white space after it.  NULL if it is not
 * such a text; then *why (why may be NULL) says how: "empty", "too long"
 * (over INT_MAX bytes), "out of memory", "not a JSON object" (valid JSON of
 * another type) or "not JSON".  *why is a static string, free of any part
 * of the text.  With wipe, json-c's tokener buffer, which keeps the last
 * string it read, is wiped before it is freed (for text holding a secret:
 * wipe the strings of the result with f1_json_wipe_string() as well).
 */
extern json_object *f1_json_parse_object(const char *text, size_t len, bool wipe,
										 const char **why);

/* obj's member key if it has the given type, else NULL (obj may be NULL). */
extern json_object *f1_json_member(json_object *obj, const char *key, json_type type);

/* obj's member key if it is a non-empty string, else NULL. */
extern json_object *f1_json_nonempty_string(json_object *obj, const char *key);

/*
 * Wipe the bytes of a json-c string object in place (NULL or not a string:
 * nothing happens).  Its object is still released as usual afterwards.
 */
extern void f1_json_wipe_string(json_object *v);

/*
 * The plain JSON text of o (no spaces, '/' not escaped), malloc'd, and o
 * released in any case.  NULL when o is NULL, ok is false (the caller's
 * building of o failed) or out of memory.  Lets a builder write
 *     ok = add(...) && add(...);  return f1_json_finish(o, ok);
 */
extern char *f1_json_finish(json_object *o, bool ok);

#endif							/* F1TEL_SINK_JSON_TEXT_H */
