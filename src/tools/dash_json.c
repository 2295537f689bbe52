/*
 * src/tools/dash_json.c — the plain-C pieces of f1tel-dash that need no
 * server and no database: a growing text buffer, JSON string escaping and
 * the check of a request's query parameters.  test/unit/test_dash.c tests
 * them.
 *
 * Rules a reader must know: every function here is pure and thread-safe;
 * the buffer functions return false only when memory runs out, and leave
 * the buffer valid (possibly shorter than asked).
 */
#include "tools/dash.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
dash_buf_append(DashBuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 256;
		char	   *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->data, cap);
		if (p == NULL)
			return false;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

bool
dash_buf_puts(DashBuf *b, const char *s)
{
	return dash_buf_append(b, s, strlen(s));
}

/* s as a JSON string, quotes included; NULL becomes null */
bool
dash_buf_json_string(DashBuf *b, const char *s)
{
	const unsigned char *p;
	bool		ok = true;

	if (s == NULL)
		return dash_buf_puts(b, "null");
	ok &= dash_buf_puts(b, "\"");
	for (p = (const unsigned char *) s; *p; p++)
	{
		char		esc[8];

		switch (*p)
		{
			case '"':
				ok &= dash_buf_puts(b, "\\\"");
				break;
			case '\\':
				ok &= dash_buf_puts(b, "\\\\");
				break;
			case '\n':
				ok &= dash_buf_puts(b, "\\n");
				break;
			case '\r':
				ok &= dash_buf_puts(b, "\\r");
				break;
			case '\t':
				ok &= dash_buf_puts(b, "\\t");
				break;
			case '<':
			case '>':
			case '&':
				/* harmless in JSON, but never markup in a page or a stream */
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				ok &= dash_buf_puts(b, esc);
				break;
			default:
				if (*p < 0x20)
				{
					snprintf(esc, sizeof(esc), "\\u%04x", *p);
					ok &= dash_buf_puts(b, esc);
				}
				else
					ok &= dash_buf_append(b, (const char *) p, 1);
		}
	}
	ok &= dash_buf_puts(b, "\"");
	return ok;
}

void
dash_buf_free(DashBuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

bool
dash_parse_session(const DashArg *args, int nargs, int *session,
				   char *err, size_t errlen)
{
	bool		seen = false;

	*session = 0;
	for (int i = 0; i < nargs; i++)
	{
		const char *v = args[i].value;
		char	   *end;
		long long	n;

		if (strcmp(args[i].key, "session") != 0)
		{
			snprintf(err, errlen, "unknown parameter \"%.64s\": the only parameter is session",
					 args[i].key);
			return false;
		}
		if (seen)
		{
			snprintf(err, errlen, "session is given more than once");
			return false;
		}
		seen = true;
		if (v == NULL || *v == '\0' || strcmp(v, "latest") == 0)
			continue;
		if (*v < '1' || *v > '9' || strlen(v) > 10)
		{
			snprintf(err, errlen, "session must be \"latest\" or a session_key (a positive integer)");
			return false;
		}
		errno = 0;
		n = strtoll(v, &end, 10);
		if (errno != 0 || *end != '\0' || n <= 0 || n > 2147483647LL)
		{
			snprintf(err, errlen, "session must be \"latest\" or a session_key (a positive integer below 2^31)");
			return false;
		}
		*session = (int) n;
	}
	return true;
}
