/*
 * src/tools/feed_scan.c — finds where JSON values begin and end, fast.
 *
 * f1tel-feed must split 100 MB arrays into records without building one
 * json-c tree of the whole file.  These scanners only track strings (with
 * their escapes) and bracket depth; they do not check that a value is valid
 * JSON — each record is then parsed by json-c, which does.  A mismatched
 * bracket kind inside a record is therefore caught by json-c, not here.
 *
 * All functions take [p, end) and return a pointer just past what they
 * skipped, or NULL when the text ends first.
 */
#include <stdio.h>
#include <string.h>

#include "tools/feed.h"

/* bytes that matter while skipping inside an object or array */
enum
{
	C_OTHER = 0, C_QUOTE, C_OPEN, C_CLOSE
};

static const unsigned char byte_class[256] = {
	['"'] = C_QUOTE,
	['{'] = C_OPEN,['['] = C_OPEN,
	['}'] = C_CLOSE,[']'] = C_CLOSE
};

const char *
feed_skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

/* p points at the opening quote */
const char *
feed_skip_string(const char *p, const char *end)
{
	p++;
	for (;;)
	{
		const char *q = memchr(p, '"', end - p);
		const char *b;

		if (q == NULL)
			return NULL;
		/* the quote ends the string unless an odd run of '\\' precedes it */
		for (b = q; b > p && b[-1] == '\\'; b--)
			;
		if (((q - b) & 1) == 0)
			return q + 1;
		p = q + 1;
	}
}

const char *
feed_skip_value(const char *p, const char *end)
{
	if (p >= end)
		return NULL;
	if (*p == '"')
		return feed_skip_string(p, end);
	if (*p == '{' || *p == '[')
	{
		int			depth = 0;

		while (p < end)
		{
			switch (byte_class[(unsigned char) *p])
			{
				case C_QUOTE:
					p = feed_skip_string(p, end);
					if (p == NULL)
						return NULL;
					continue;
				case C_OPEN:
					depth++;
					break;
				case C_CLOSE:
					if (--depth == 0)
						return p + 1;
					break;
				default:
					break;
			}
			p++;
		}
		return NULL;
	}
	/* number, true, false, null: up to the next delimiter */
	while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' &&
		   *p != '\n' && *p != '\r' && *p != '\t' && *p != ':')
		p++;
	return p;
}

bool
feed_array_begin(FeedArrayScan *s, const char *text, size_t len,
				 char *errbuf, size_t errlen)
{
	s->begin = text;
	s->end = text + len;
	s->count = 0;
	s->done = false;
	/* a UTF-8 byte order mark is tolerated */
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		text += 3;
	s->p = feed_skip_ws(text, s->end);
	if (s->p >= s->end || *s->p != '[')
	{
		snprintf(errbuf, errlen, "not a JSON array (it does not start with '[')");
		return false;
	}
	s->p = feed_skip_ws(s->p + 1, s->end);
	if (s->p < s->end && *s->p == ']')
	{
		s->p++;
		s->done = true;
	}
	return true;
}

/*
 * The next element: 1 with *elem and *elemlen set, 0 at the end of the array,
 * -1 on an error (errbuf set).  Elements must be objects.
 */
int
feed_array_next(FeedArrayScan *s, const char **elem, size_t *elemlen,
				char *errbuf, size_t errlen)
{
	const char *e;

	if (s->done)
	{
		/* only whitespace may follow the array */
		if (feed_skip_ws(s->p, s->end) != s->end)
		{
			snprintf(errbuf, errlen, "unexpected text after the array at byte %zu",
					 (size_t) (feed_skip_ws(s->p, s->end) - s->begin));
			return -1;
		}
		return 0;
	}
	if (s->p >= s->end)
	{
		snprintf(errbuf, errlen, "the array is not closed (file truncated?)");
		return -1;
	}
	if (*s->p != '{')
	{
		snprintf(errbuf, errlen, "record %zu (byte %zu) is not a JSON object",
				 s->count + 1, (size_t) (s->p - s->begin));
		return -1;
	}
	e = feed_skip_value(s->p, s->end);
	if (e == NULL)
	{
		snprintf(errbuf, errlen, "record %zu (byte %zu) is not closed (file truncated?)",
				 s->count + 1, (size_t) (s->p - s->begin));
		return -1;
	}
	*elem = s->p;
	*elemlen = e - s->p;
	s->count++;

	e = feed_skip_ws(e, s->end);
	if (e < s->end && *e == ',')
		s->p = feed_skip_ws(e + 1, s->end);
	else if (e < s->end && *e == ']')
	{
		s->p = e + 1;
		s->done = true;
	}
	else
	{
		snprintf(errbuf, errlen, "expected ',' or ']' after record %zu (byte %zu)",
				 s->count, (size_t) (e - s->begin));
		return -1;
	}
	return 1;
}
