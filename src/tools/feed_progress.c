/*
 * src/tools/feed_progress.c — f1tel-feed's one-line progress bar, and its clock.
 *
 * The bar is redrawn in place on stderr (carriage return, erase line) at most
 * ten times a second, and only when enabled: f1tel_feed.c enables it when
 * stderr is a terminal and --quiet is not given.  It shows the share of
 * records handed to the producer, their count, the average rate since
 * sending began, and the session time (UTC) the replay has reached.
 */
#include <stdio.h>
#include <time.h>

#include "tools/feed.h"

#define REDRAW_NS	INT64_C(100000000)	/* 10 times a second */
#define BAR_WIDTH	24
/* seconds from 1970-01-01 to 2000-01-01 */
#define PG_EPOCH_UNIX INT64_C(946684800)

int64_t
feed_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
feed_progress_init(FeedProgress *p, bool enabled, size_t total, int64_t start_ns)
{
	p->enabled = enabled;
	p->total = total;
	p->start_ns = start_ns;
	p->last_draw_ns = 0;
	p->drawn = false;
}

void
feed_progress_update(FeedProgress *p, size_t sent, int64_t session_time,
					 int64_t now_ns, bool force)
{
	char		bar[BAR_WIDTH + 1];
	char		when[32] = "--";
	double		frac;
	double		secs;
	int			fill;

	if (!p->enabled || (!force && p->drawn && now_ns - p->last_draw_ns < REDRAW_NS))
		return;
	p->last_draw_ns = now_ns;
	p->drawn = true;

	frac = p->total ? (double) sent / (double) p->total : 1.0;
	fill = (int) (frac * BAR_WIDTH);
	for (int i = 0; i < BAR_WIDTH; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[BAR_WIDTH] = '\0';

	if (session_time >= FEED_TIME_FIRST_TIMED)
	{
		time_t		t = (time_t) (session_time / 1000000 + PG_EPOCH_UNIX);
		struct tm	tm;

		if (gmtime_r(&t, &tm) != NULL)
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	}
	secs = (double) (now_ns - p->start_ns) / 1e9;
	fprintf(stderr, "\r\033[K[%s] %5.1f%%  %zu msgs  %.0f msgs/s  session %s UTC",
			bar, frac * 100.0, sent, secs > 0 ? (double) sent / secs : 0.0, when);
	fflush(stderr);
}

/* Erase the bar so that the next line starts clean. */
void
feed_progress_clear(FeedProgress *p)
{
	if (p->enabled && p->drawn)
	{
		fprintf(stderr, "\r\033[K");
		fflush(stderr);
		p->drawn = false;
	}
}
