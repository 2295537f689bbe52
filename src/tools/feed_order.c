/*
 * src/tools/feed_order.c — the send order of f1tel-feed: all records by time.
 *
 * The records of every file are laid end to end in file order (the DIRs in
 * command-line order, each DIR's endpoints in f1_endpoints order), then
 * sorted by time with a stable merge sort.  Equal times therefore keep file
 * order, and the untimed endpoints (times FEED_TIME_SESSIONS..DRIVERS) come
 * first: every sessions record, then meetings, then drivers.
 *
 * The files are almost always sorted already, so the sort starts from the
 * natural ascending runs and merges neighbours: about O(n log files).
 */
#include <stdlib.h>
#include <string.h>

#include "tools/feed.h"

/* merge a[lo..mid) and a[mid..hi) into out[lo..hi), left first on ties */
static void
merge(const FeedRecord *a, FeedRecord *out, size_t lo, size_t mid, size_t hi)
{
	size_t		i = lo,
				j = mid,
				k = lo;

	if (mid == hi || mid == lo || a[mid - 1].time <= a[mid].time)
	{
		memcpy(out + lo, a + lo, (hi - lo) * sizeof(FeedRecord));
		return;
	}
	while (i < mid && j < hi)
		out[k++] = (a[j].time < a[i].time) ? a[j++] : a[i++];
	memcpy(out + k, a + i, (mid - i) * sizeof(FeedRecord));
	k += mid - i;
	memcpy(out + k, a + j, (hi - j) * sizeof(FeedRecord));
}

FeedRecord *
feed_order(FeedFile *files, int nfiles, size_t *nrecs)
{
	size_t		n = 0;
	size_t		nruns = 0;
	size_t	   *runs;			/* run starts, then n */
	FeedRecord *a,
			   *b;

	for (int i = 0; i < nfiles; i++)
		n += files[i].nrecs;
	a = malloc((n + 1) * sizeof(FeedRecord));
	b = malloc((n + 1) * sizeof(FeedRecord));
	runs = malloc((n + 2) * sizeof(size_t));
	if (a == NULL || b == NULL || runs == NULL)
	{
		free(a);
		free(b);
		free(runs);
		return NULL;
	}
	n = 0;
	for (int i = 0; i < nfiles; i++)
	{
		memcpy(a + n, files[i].recs, files[i].nrecs * sizeof(FeedRecord));
		n += files[i].nrecs;
	}

	/* natural runs: maximal non-decreasing stretches */
	for (size_t i = 0; i < n; i++)
		if (i == 0 || a[i].time < a[i - 1].time)
			runs[nruns++] = i;
	runs[nruns] = n;

	/* merge neighbouring runs until one is left */
	while (nruns > 1)
	{
		size_t		m = 0;
		FeedRecord *t;

		for (size_t r = 0; r < nruns; r += 2)
		{
			size_t		lo = runs[r];
			size_t		mid = runs[r + 1];	/* runs[nruns] is n */
			size_t		hi = (r + 2 <= nruns) ? runs[r + 2] : n;

			merge(a, b, lo, mid, hi);
			runs[m++] = lo;
		}
		runs[m] = n;
		nruns = m;
		t = a;
		a = b;
		b = t;
	}
	free(b);
	free(runs);
	*nrecs = n;
	return a;
}
