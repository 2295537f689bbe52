/*
 * src/shared/cutil.c — small plain-C string helpers for bounded messages
 * (see cutil.h).  No PostgreSQL headers or calls.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json_object.h>

#include "shared/cutil.h"

size_t
f1_utf8_complete_len(const char *s, size_t n)
{
	size_t		k = n;

	while (k > 0 && ((unsigned char) s[k - 1] & 0xC0) == 0x80)
		k--;
	if (k > 0 && ((unsigned char) s[k - 1] & 0xC0) == 0xC0)
	{
		unsigned char lead = (unsigned char) s[k - 1];
		size_t		need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;

		if (n - (k - 1) < need)
			return k - 1;
	}
	return n;
}

void
f1_trim_utf8_tail(char *s)
{
	size_t		n = strlen(s);
	size_t		k = f1_utf8_complete_len(s, n);

	if (k < n)
		s[k] = '\0';
}

void
f1_set_msg(char *buf, size_t len, const char *fmt,...)
{
	va_list		ap;
	int			n;

	if (buf == NULL || len == 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t) n >= len)
		f1_trim_utf8_tail(buf);
}

void
f1_copy_clean(char *dst, size_t dstlen, const char *src, size_t max)
{
	size_t		n = 0;

	if (dst == NULL || dstlen == 0)
		return;
	if (src != NULL)
	{
		size_t		srclen = strlen(src);

		n = srclen < max ? srclen : max;
		if (n > dstlen - 1)
			n = dstlen - 1;
		if (n < srclen)
			while (n > 0 && ((unsigned char) src[n] & 0xC0) == 0x80)
				n--;
		for (size_t i = 0; i < n; i++)
		{
			unsigned char c = (unsigned char) src[i];

			dst[i] = (c < 0x20 || c == 0x7F) ? ' ' : (char) c;
		}
	}
	dst[n] = '\0';
}

bool
f1_json_add_member(json_object *o, const char *key, json_object *v)
{
	if (v == NULL)
		return false;
	if (json_object_object_add(o, key, v) != 0)
	{
		json_object_put(v);
		return false;
	}
	return true;
}
