/*
 * test/unit/read_file.h — a whole file read into memory, gunzipped if it is
 * gzipped, for the unit tests that read files of the repository
 * (test_decode_fields.c: src/ingest/schema.sql; test_decode_recorded.c: the
 * recorded sessions; test_bq_body.c: BigQuery's discovery document).
 */
#ifndef F1TEL_TEST_READ_FILE_H
#define F1TEL_TEST_READ_FILE_H

#include <stdlib.h>

#include <zlib.h>

/*
 * The file at path (zlib reads plain files as is), malloc'd and
 * NUL-terminated, its length in *lenp; NULL if it cannot be read.
 */
static inline char *
read_file(const char *path, size_t *lenp)
{
	gzFile		gz = gzopen(path, "rb");
	size_t		len = 0,
				cap = 1 << 16;
	char	   *buf;

	if (gz == NULL)
		return NULL;
	buf = malloc(cap);
	for (;;)
	{
		int			n;

		if (buf == NULL)
			break;
		/* room for the next read and, after the last, the NUL */
		if (cap - len < (1 << 16))
		{
			char	   *nb = realloc(buf, cap * 2);

			if (nb == NULL)
			{
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		n = gzread(gz, buf + len, (unsigned) (cap - len - 1));
		if (n < 0)
		{
			free(buf);
			buf = NULL;
			break;
		}
		if (n == 0)
			break;
		len += (size_t) n;
	}
	gzclose(gz);
	if (buf != NULL)
		buf[len] = '\0';
	*lenp = len;
	return buf;
}

/*
 * The next object of a JSON array text: its bounds in *start and *end (one
 * past its '}').  *pos is 0 before the first call and is moved past the
 * object; false at the end of the array.
 */
static inline bool
next_record(const char *s, size_t len, size_t *pos, size_t *start, size_t *end)
{
	size_t		i = *pos;
	int			depth = 0;
	bool		in_string = false;

	if (i == 0)
	{
		while (i < len && s[i] != '[')
			i++;
		i++;
	}
	while (i < len && (s[i] == ',' || s[i] == ' ' || s[i] == '\n' ||
					   s[i] == '\r' || s[i] == '\t'))
		i++;
	if (i >= len || s[i] != '{')
		return false;
	*start = i;
	for (; i < len; i++)
	{
		char		c = s[i];

		if (in_string)
		{
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		}
		else if (c == '"')
			in_string = true;
		else if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && --depth == 0)
		{
			*end = *pos = i + 1;
			return true;
		}
	}
	return false;
}

#endif							/* F1TEL_TEST_READ_FILE_H */
