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

#endif							/* F1TEL_TEST_READ_FILE_H */
