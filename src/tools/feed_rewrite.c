/*
 * src/tools/feed_rewrite.c — --session-key-offset: shifts a record's keys.
 *
 * Benchmarks clone a recorded session under distinct keys.  This rewrites
 * the top-level "session_key" and "meeting_key" members of one JSON object
 * whose value is an integer literal, adding the offset; every other byte is
 * copied unchanged (member order, spacing, number spellings).  Non-integer
 * values (null, strings) are left as they are.
 *
 * Rules: the output may grow by at most feed_rewrite_max_growth() bytes per
 * record (two integers that each gain at most 20 digits and a sign).  The
 * caller has already checked that the object is closed (feed_scan.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/feed.h"

size_t
feed_rewrite_max_growth(void)
{
	return 2 * 21;
}

static bool
is_key(const char *name, size_t len)
{
	return (len == 11 && memcmp(name, "session_key", 11) == 0) ||
		(len == 11 && memcmp(name, "meeting_key", 11) == 0);
}

/* an integer literal: -?[0-9]+ and nothing else */
static bool
is_int_literal(const char *p, size_t len)
{
	size_t		i = (len > 0 && p[0] == '-') ? 1 : 0;

	if (i == len)
		return false;
	for (; i < len; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

bool
feed_rewrite_keys(const char *rec, size_t len, int64_t offset,
				  char *out, size_t *outlen, char *errbuf, size_t errlen)
{
	const char *end = rec + len;
	const char *p = rec;
	const char *copied = rec;	/* rec[copied..p) not yet written */
	char	   *o = out;

	p = feed_skip_ws(p, end);
	if (p >= end || *p != '{')
		goto malformed;
	p = feed_skip_ws(p + 1, end);
	if (p < end && *p == '}')
		p = end;

	while (p < end)
	{
		const char *name,
				   *name_end,
				   *val,
				   *val_end;

		if (*p != '"')
			goto malformed;
		name = p + 1;
		name_end = feed_skip_string(p, end);
		if (name_end == NULL)
			goto malformed;
		p = feed_skip_ws(name_end, end);
		if (p >= end || *p != ':')
			goto malformed;
		val = feed_skip_ws(p + 1, end);
		val_end = feed_skip_value(val, end);
		if (val_end == NULL || val_end == val)
			goto malformed;

		if (is_key(name, name_end - 1 - name) &&
			is_int_literal(val, val_end - val))
		{
			char		num[32];
			int64_t		v;
			int			n;

			memcpy(num, val, (val_end - val) < 31 ? (val_end - val) : 31);
			num[(val_end - val) < 31 ? (val_end - val) : 31] = '\0';
			errno = 0;
			v = strtoll(num, NULL, 10);
			if (errno != 0 || (val_end - val) > 30 ||
				(offset > 0 && v > INT64_MAX - offset) ||
				(offset < 0 && v < INT64_MIN - offset))
			{
				snprintf(errbuf, errlen, "%.*s %.*s plus the offset overflows",
						 (int) (name_end - 1 - name), name,
						 (int) (val_end - val), val);
				return false;
			}
			memcpy(o, copied, val - copied);
			o += val - copied;
			n = sprintf(o, "%" PRId64, v + offset);
			o += n;
			copied = val_end;
		}

		p = feed_skip_ws(val_end, end);
		if (p < end && *p == ',')
			p = feed_skip_ws(p + 1, end);
		else if (p < end && *p == '}')
			p = end;
		else
			goto malformed;
	}
	memcpy(o, copied, end - copied);
	o += end - copied;
	*outlen = o - out;
	return true;

malformed:
	snprintf(errbuf, errlen, "malformed JSON object at byte %zu of the record",
			 (size_t) (p - rec));
	return false;
}
