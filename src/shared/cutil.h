/*
 * src/shared/cutil.h — small plain-C string helpers shared by the sink's
 * plain-C pieces (src/sink/jwt.c, oauth.c, bq_body.c, bq_answer.c, json_text.c).
 *
 * Most build bounded messages into caller-supplied buffers: a printf into a
 * fixed buffer that never leaves half a UTF-8 sequence at a cut, and a
 * cleaned, bounded copy of a value for quoting in such a message.  One adds
 * a member to a json-c object (link with json-c).
 *
 * No PostgreSQL headers or calls, no allocation of their own: usable from
 * the extension, the programs in src/tools and the unit tests alike.
 */
#ifndef F1TEL_CUTIL_H
#define F1TEL_CUTIL_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;

/*
 * The length of s[0 .. n-1] without an incomplete UTF-8 sequence at its end
 * (left by a cut): n, or less when the last sequence is cut short.
 */
extern size_t f1_utf8_complete_len(const char *s, size_t n);

/* Drop an incomplete UTF-8 sequence at the end of the string s. */
extern void f1_trim_utf8_tail(char *s);

/*
 * snprintf into buf (len bytes with the NUL); when the text is cut, an
 * incomplete UTF-8 sequence at the cut is dropped.  Nothing happens when buf
 * is NULL or len is 0.
 */
extern void f1_set_msg(char *buf, size_t len, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

/*
 * Copy at most max bytes of src into dst (dstlen bytes with the NUL) for a
 * message: control characters become spaces, and a cut never splits a
 * UTF-8 sequence.  A NULL src gives "".  Nothing happens when dst is NULL or
 * dstlen is 0.
 */
extern void f1_copy_clean(char *dst, size_t dstlen, const char *src, size_t max);

/*
 * Add member key = v to the json-c object o, which takes v over; false when
 * v is NULL or out of memory (then v is freed and o keeps what it has).
 */
extern bool f1_json_add_member(struct json_object *o, const char *key,
							   struct json_object *v);

#endif							/* F1TEL_CUTIL_H */
