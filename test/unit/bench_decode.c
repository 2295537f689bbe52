/*
 * test/unit/bench_decode.c — nanoseconds per message of the scanner decoder
 * (src/ingest/decode.c) and of the json-c decoder it replaced
 * (test/unit/decode_jsonc.c), on the records of session 9189.
 *
 * Each record of car_data, location and laps is one message, as the feed
 * sends them; every record is decoded N times (argument 1, default 3) by
 * each decoder, into a batch emptied every 8192 rows as the worker's are,
 * and the CPU time per message is printed.  Built with -O2 and no
 * sanitizers: `make bench-decode` (not part of `make unit`).  F1TEL_DATA
 * overrides test/data/openf1; run it from the repository's root.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest/decode.h"

#include "read_file.h"
#include "../unit/decode_jsonc.h"

typedef int (*DecodeFn) (F1Batch *batch, const char *payload, size_t len,
						 int32_t partition, int64_t offset,
						 char *errbuf, size_t errlen);

static double
cpu_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* the objects of a JSON array text: their bounds, 2 per record */
static size_t
split_records(const char *s, size_t len, size_t **boundsp)
{
	size_t		n = 0,
				cap = 1024;
	size_t	   *b = malloc(cap * 2 * sizeof(size_t));
	int			depth = 0;
	bool		in_string = false;
	size_t		start = 0;

	for (size_t i = 0; i < len; i++)
	{
		char		c = s[i];

		if (in_string)
		{
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"')
			in_string = true;
		else if (c == '{' || c == '[')
		{
			if (c == '{' && depth == 1)
				start = i;
			depth++;
		}
		else if ((c == '}' || c == ']') && --depth == 1 && c == '}')
		{
			if (n == cap)
			{
				cap *= 2;
				b = realloc(b, cap * 2 * sizeof(size_t));
			}
			b[2 * n] = start;
			b[2 * n + 1] = i + 1;
			n++;
		}
	}
	*boundsp = b;
	return n;
}

static double
run(DecodeFn fn, const F1Endpoint *ep, const char *text, const size_t *b,
	size_t n, int times, long *bad)
{
	F1Batch		batch;
	char		err[256];
	double		t0;

	f1_batch_init(&batch, ep);
	*bad = 0;
	t0 = cpu_seconds();
	for (int k = 0; k < times; k++)
	{
		for (size_t r = 0; r < n; r++)
		{
			if (fn(&batch, text + b[2 * r], b[2 * r + 1] - b[2 * r], 0, (int64_t) r,
				   err, sizeof(err)) < 0)
				(*bad)++;
			if (batch.nrows >= 8192)
				f1_batch_reset(&batch);
		}
	}
	t0 = cpu_seconds() - t0;
	f1_batch_free(&batch);
	return t0 * 1e9 / ((double) n * times);
}

int
main(int argc, char **argv)
{
	static const struct
	{
		const char *file;
		F1EndpointId ep;
	}			files[] = {
		{"car_data.json.gz", F1E_CAR_DATA},
		{"location.json.gz", F1E_LOCATION},
		{"laps.json", F1E_LAPS},
	};
	const char *dir = getenv("F1TEL_DATA");
	int			times = argc > 1 ? atoi(argv[1]) : 3;

	if (dir == NULL || dir[0] == '\0')
		dir = "test/data/openf1";
	if (times < 1)
		times = 1;
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++)
	{
		char		path[4200];
		size_t		len;
		size_t	   *b;
		size_t		n;
		char	   *text;
		long		bad_new,
					bad_old;
		double		ns_new,
					ns_old;
		int			t = files[f].ep == F1E_LAPS ? times * 50 : times;

		snprintf(path, sizeof(path), "%s/9189/%s", dir, files[f].file);
		text = read_file(path, &len);
		if (text == NULL)
		{
			fprintf(stderr, "cannot read %s\n", path);
			return 1;
		}
		n = split_records(text, len, &b);
		/* once each untimed, to warm the caches and the allocator */
		(void) run(f1_decode_message_jsonc, &f1_endpoints[files[f].ep], text, b, n, 1, &bad_old);
		ns_old = run(f1_decode_message_jsonc, &f1_endpoints[files[f].ep], text, b, n, t, &bad_old);
		(void) run(f1_decode_message, &f1_endpoints[files[f].ep], text, b, n, 1, &bad_new);
		ns_new = run(f1_decode_message, &f1_endpoints[files[f].ep], text, b, n, t, &bad_new);
		printf("%-10s %7zu records x %3d, %4.0f bytes avg: json-c %7.1f ns/msg, scanner %7.1f ns/msg, %.2fx%s\n",
			   f1_endpoints[files[f].ep].name, n, t, (double) len / n, ns_old, ns_new,
			   ns_old / ns_new, bad_new || bad_old ? " (REJECTIONS)" : "");
		free(b);
		free(text);
	}
	return 0;
}
