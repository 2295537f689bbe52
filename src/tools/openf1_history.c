/*
 * src/tools/openf1_history.c — f1tel-feed --openf1: downloads one session
 * from the OpenF1 REST API into FeedFiles, as if read from a recording.
 *
 * First the session itself (which resolves "latest" to a key, so that every
 * endpoint comes from the same session, and gives its meeting and times),
 * then its drivers, then every chosen endpoint.  A query the server gives up
 * on as too big (OF1_TOO_BIG) is asked again in smaller parts: per driver
 * (for endpoints keyed by driver), then per time window of the endpoint's
 * time field, halved until the server answers.  The window that worked is
 * remembered per endpoint, so the next driver starts with it.
 *
 * Rules a reader must know:
 *  - The parts partition the query exactly: windows are [lo, hi) with the
 *    first open below and the last open above, so no record is fetched twice
 *    or missed.  A record with no value in the field a part filters on (a
 *    car_data sample without a date, a record without a driver_number) is
 *    not in any part: OpenF1 cannot return it to a filtered query.
 *  - The answers are joined into one JSON array per endpoint, records in the
 *    server's order, which becomes the FeedFile's text: the rest of
 *    f1tel-feed (feed_load_file, feed_order, feed_send) sees a recording.
 *  - --save writes that text as <dir>/<session_key>/<endpoint>.json.gz, the
 *    recorded layout, so that the download can be replayed from files.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <json-c/json.h>
#include <zlib.h>

#include "ingest/decode.h"
#include "tools/feed.h"
#include "tools/openf1.h"

#define HOUR_US		INT64_C(3600000000)
#define MIN_WINDOW_US INT64_C(1000000)	/* a window is never cut below 1 s */
#define NO_BOUND_LO INT64_MIN
#define NO_BOUND_HI INT64_MAX

typedef struct Fetch
{
	OpenF1Client *client;
	const OpenF1Session *session;
	const F1Endpoint *ep;
	OpenF1Text out;
	int64_t		learned_us;		/* a window size the server answered */
	char	   *err;
	size_t		errlen;
} Fetch;

/* Appends the elements of one JSON array answer to t (t holds "[" ...). */
bool
of1_text_append_array(OpenF1Text *t, const char *body, size_t len, char *err, size_t errlen)
{
	FeedArrayScan scan;
	const char *rec;
	size_t		reclen;
	int			r;

	if (!feed_array_begin(&scan, body, len, err, errlen))
		return false;
	while ((r = feed_array_next(&scan, &rec, &reclen, err, errlen)) > 0)
	{
		if ((t->nrecs > 0 && !of1_text_append(t, ",", 1)) || !of1_text_append(t, rec, reclen))
		{
			snprintf(err, errlen, "out of memory");
			return false;
		}
		t->nrecs++;
	}
	return r == 0;
}

void
of1_format_time(int64_t us, char *buf, size_t size)
{
	/* seconds from 1970-01-01 to 2000-01-01 */
	int64_t		secs = us / 1000000 + INT64_C(946684800);
	int64_t		frac = us % 1000000;
	time_t		t;
	struct tm	tm;

	if (frac < 0)
	{
		frac += 1000000;
		secs--;
	}
	t = (time_t) secs;
	gmtime_r(&t, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06" PRId64 "+00:00",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, frac);
}

static bool
ep_has_column(const F1Endpoint *ep, const char *name)
{
	for (int i = 0; i < ep->ncolumns; i++)
		if (strcmp(F1_COLUMN_FIELD(&ep->columns[i]), name) == 0)
			return true;
	return false;
}

/*
 * The filter of an endpoint's session: meetings have no session_key, and a
 * starting grid carries the key of the qualifying that set it, so it is
 * asked for by meeting (then of1_fetch keeps the grid of the session).
 */
bool
of1_session_filter(const OpenF1Session *s, const F1Endpoint *ep, char *q, size_t qsize)
{
	char		v[32];

	q[0] = '\0';
	if (ep->id == F1E_MEETINGS || ep->id == F1E_STARTING_GRID)
	{
		snprintf(v, sizeof(v), "%" PRId64, s->meeting_key);
		return of1_param(q, qsize, "meeting_key", "=", v);
	}
	snprintf(v, sizeof(v), "%" PRId64, s->session_key);
	return of1_param(q, qsize, "session_key", "=", v);
}

static OpenF1Status
get_part(Fetch *f, const char *query)
{
	char	   *body;
	size_t		len;
	OpenF1Status st = of1_get(f->client, f->ep->name, query, &body, &len, f->err, f->errlen);

	if (st == OF1_OK)
	{
		if (!of1_text_append_array(&f->out, body, len, f->err, f->errlen))
			st = OF1_FAILED;
		free(body);
	}
	return st;
}

/* [lo, hi) of the time field, halved while the server finds it too big */
static OpenF1Status
get_window(Fetch *f, const char *base, int64_t lo, int64_t hi)
{
	char		q[1024];
	char		t[64];
	OpenF1Status st;
	int64_t		mid;

	snprintf(q, sizeof(q), "%s", base);
	if (lo != NO_BOUND_LO)
	{
		of1_format_time(lo, t, sizeof(t));
		if (!of1_param(q, sizeof(q), f->ep->time_field, ">=", t))
			return OF1_FAILED;
	}
	if (hi != NO_BOUND_HI)
	{
		of1_format_time(hi, t, sizeof(t));
		if (!of1_param(q, sizeof(q), f->ep->time_field, "<", t))
			return OF1_FAILED;
	}
	st = get_part(f, q);
	if (st == OF1_EMPTY)
		return OF1_OK;
	if (st != OF1_TOO_BIG)
	{
		if (st == OF1_OK && lo != NO_BOUND_LO && hi != NO_BOUND_HI &&
			(f->learned_us == 0 || hi - lo < f->learned_us))
			f->learned_us = hi - lo;
		return st;
	}
	if (lo == NO_BOUND_LO && hi == NO_BOUND_HI)
	{
		int64_t		s = f->session->date_start;
		int64_t		e = f->session->date_end > s ? f->session->date_end : s + HOUR_US;

		if ((st = get_window(f, base, NO_BOUND_LO, s)) != OF1_OK)
			return st;
		if (f->learned_us > 0)
		{
			for (int64_t a = s; a < e; a += f->learned_us)
				if ((st = get_window(f, base, a, a + f->learned_us < e ? a + f->learned_us : e)) != OF1_OK)
					return st;
		}
		else if ((st = get_window(f, base, s, e)) != OF1_OK)
			return st;
		return get_window(f, base, e, NO_BOUND_HI);
	}
	if (lo == NO_BOUND_LO)
		mid = hi - HOUR_US;
	else if (hi == NO_BOUND_HI)
		mid = lo + HOUR_US;
	else
	{
		if (hi - lo < 2 * MIN_WINDOW_US)
		{
			snprintf(f->err, f->errlen, "%s: the server finds even one second too big", f->ep->name);
			return OF1_FAILED;
		}
		mid = lo + (hi - lo) / 2;
	}
	if ((st = get_window(f, base, lo, mid)) != OF1_OK)
		return st;
	return get_window(f, base, mid, hi);
}

static OpenF1Status
fetch_endpoint(Fetch *f)
{
	char		base[512];
	OpenF1Status st;

	if (!of1_session_filter(f->session, f->ep, base, sizeof(base)))
		return OF1_FAILED;
	st = get_part(f, base);
	if (st != OF1_TOO_BIG)
		return st == OF1_EMPTY ? OF1_OK : st;

	if (ep_has_column(f->ep, "driver_number") && f->session->ndrivers > 0)
	{
		for (int d = 0; d < f->session->ndrivers; d++)
		{
			char		q[600];
			char		v[16];

			snprintf(q, sizeof(q), "%s", base);
			snprintf(v, sizeof(v), "%d", f->session->drivers[d]);
			if (!of1_param(q, sizeof(q), "driver_number", "=", v))
				return OF1_FAILED;
			st = get_part(f, q);
			if (st == OF1_TOO_BIG && f->ep->time_field)
				st = get_window(f, q, NO_BOUND_LO, NO_BOUND_HI);
			if (st == OF1_EMPTY)
				st = OF1_OK;
			if (st != OF1_OK)
				return st;
		}
		return OF1_OK;
	}
	if (f->ep->time_field)
		return get_window(f, base, NO_BOUND_LO, NO_BOUND_HI);
	return OF1_TOO_BIG;
}

/*
 * Of the meeting's grids, the session's: the one of the latest session key
 * at or below its own (its qualifying, or a sprint's sprint qualifying),
 * else of the first above it (keys are not always in time order: 9189's
 * grid has the key 9314).
 */
static bool
keep_own_grid(Fetch *f)
{
	OpenF1Text	all = {0};
	OpenF1Text	kept = {0};
	int64_t		best = -1;

	/* f->out holds "[" and the records, not closed yet: scan a closed copy */
	if (!of1_text_append(&all, f->out.data, f->out.len) || !of1_text_append(&all, "]", 1))
		return false;
	for (int pass = 0; pass < 2; pass++)
	{
		FeedArrayScan scan;
		const char *rec;
		size_t		reclen;
		int			r;

		if (!feed_array_begin(&scan, all.data, all.len, f->err, f->errlen))
			return false;
		if (pass == 1 && !of1_text_append(&kept, "[", 1))
			return false;
		while ((r = feed_array_next(&scan, &rec, &reclen, f->err, f->errlen)) > 0)
		{
			json_object *o = json_tokener_parse(strndupa(rec, reclen));
			json_object *v;
			int64_t		k = -1;

			if (o && json_object_object_get_ex(o, "session_key", &v))
				k = json_object_get_int64(v);
			json_object_put(o);
			/* the latest at or below the session's key, else the first above */
			if (pass == 0 && k >= 0 &&
				(best < 0 ||
				 (k <= f->session->session_key ? (best > f->session->session_key || k > best)
				  : (best > f->session->session_key && k < best))))
				best = k;
			if (pass == 1 && k == best &&
				((kept.nrecs > 0 && !of1_text_append(&kept, ",", 1)) ||
				 !of1_text_append(&kept, rec, reclen)))
				return false;
			if (pass == 1 && k == best)
				kept.nrecs++;
		}
		if (r < 0)
			return false;
	}
	free(all.data);
	free(f->out.data);
	f->out = kept;
	return true;
}

OpenF1Status
of1_fetch(OpenF1Client *c, const OpenF1Session *s, const F1Endpoint *ep, int64_t since,
		  OpenF1Text *out, char *err, size_t errlen)
{
	Fetch		f;
	OpenF1Status st;

	memset(&f, 0, sizeof(f));
	f.client = c;
	f.session = s;
	f.ep = ep;
	f.err = err;
	f.errlen = errlen;
	f.out = *out;
	if (since == INT64_MIN || ep->time_field == NULL)
		st = fetch_endpoint(&f);
	else
	{
		char		base[512];

		if (!of1_session_filter(s, ep, base, sizeof(base)))
			st = OF1_FAILED;
		else
			st = get_window(&f, base, since, NO_BOUND_HI);
	}
	if (st == OF1_OK && ep->id == F1E_STARTING_GRID && !keep_own_grid(&f))
		st = OF1_FAILED;
	*out = f.out;
	return st;
}

static bool
json_time(json_object *o, const char *field, int64_t *out)
{
	json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, field, &v) || !json_object_is_type(v, json_type_string))
		return false;
	s = json_object_get_string(v);
	return f1_parse_timestamp(s, strlen(s), out);
}

bool
of1_resolve_session(OpenF1Client *c, const char *key, OpenF1Session *s,
					char *err, size_t errlen)
{
	char		q[256] = "";
	char	   *body;
	size_t		len;
	json_object *arr,
			   *rec,
			   *v;
	OpenF1Status st;

	memset(s, 0, sizeof(*s));
	if (!of1_param(q, sizeof(q), "session_key", "=", key))
		return false;
	st = of1_get(c, "sessions", q, &body, &len, err, errlen);
	if (st == OF1_EMPTY)
	{
		snprintf(err, errlen, "OpenF1 has no session %s", key);
		return false;
	}
	if (st != OF1_OK)
		return false;
	arr = json_tokener_parse(body);
	free(body);
	if (arr == NULL || !json_object_is_type(arr, json_type_array) ||
		json_object_array_length(arr) < 1)
	{
		snprintf(err, errlen, "sessions?session_key=%s: not a non-empty JSON array", key);
		json_object_put(arr);
		return false;
	}
	/* latest: the last one listed is the newest */
	rec = json_object_array_get_idx(arr, json_object_array_length(arr) - 1);
	if (!json_object_object_get_ex(rec, "session_key", &v) || !json_object_is_type(v, json_type_int))
	{
		snprintf(err, errlen, "sessions?session_key=%s: a record without session_key", key);
		json_object_put(arr);
		return false;
	}
	s->session_key = json_object_get_int64(v);
	if (json_object_object_get_ex(rec, "meeting_key", &v) && json_object_is_type(v, json_type_int))
		s->meeting_key = json_object_get_int64(v);
	if (!json_time(rec, "date_start", &s->date_start) || !json_time(rec, "date_end", &s->date_end))
	{
		snprintf(err, errlen, "session %" PRId64 ": no date_start or date_end", s->session_key);
		json_object_put(arr);
		return false;
	}
	json_object_put(arr);
	return of1_session_drivers(c, s, err, errlen);
}

/* the session's driver numbers (sorted, distinct), for per-driver parts */
bool
of1_session_drivers(OpenF1Client *c, OpenF1Session *s, char *err, size_t errlen)
{
	char		q[64],
				v[32];
	char	   *body;
	size_t		len;
	json_object *arr;
	OpenF1Status st;

	q[0] = '\0';
	snprintf(v, sizeof(v), "%" PRId64, s->session_key);
	of1_param(q, sizeof(q), "session_key", "=", v);
	st = of1_get(c, "drivers", q, &body, &len, err, errlen);
	s->ndrivers = 0;
	if (st == OF1_EMPTY)
		return true;
	if (st != OF1_OK)
		return false;
	arr = json_tokener_parse(body);
	free(body);
	for (size_t i = 0; arr && json_object_is_type(arr, json_type_array) &&
		 i < json_object_array_length(arr); i++)
	{
		json_object *d;
		int			n;
		int			k;

		if (!json_object_object_get_ex(json_object_array_get_idx(arr, i), "driver_number", &d) ||
			!json_object_is_type(d, json_type_int))
			continue;
		n = json_object_get_int(d);
		for (k = 0; k < s->ndrivers && s->drivers[k] != n; k++)
			;
		if (k == s->ndrivers && s->ndrivers < OF1_MAX_DRIVERS)
			s->drivers[s->ndrivers++] = n;
	}
	json_object_put(arr);
	return true;
}

static bool
mkdirs(const char *path, char *err, size_t errlen)
{
	char		buf[4096];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/')
		{
			*p = '\0';
			if (mkdir(buf, 0777) != 0 && errno != EEXIST)
				goto fail;
			*p = '/';
		}
	if (mkdir(buf, 0777) == 0 || errno == EEXIST)
		return true;
fail:
	snprintf(err, errlen, "cannot create \"%s\": %s", buf, strerror(errno));
	return false;
}

/* writes <dir>/<endpoint>.json.gz through a temporary name */
static bool
save_text(const char *dir, const char *name, const OpenF1Text *t, char *err, size_t errlen)
{
	char		path[4096],
				tmp[4200];
	gzFile		gz;

	snprintf(path, sizeof(path), "%s/%s.json.gz", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.part", path);
	gz = gzopen(tmp, "wb6");
	if (gz == NULL ||
		gzwrite(gz, t->data, (unsigned) t->len) != (int) t->len ||
		gzclose(gz) != Z_OK)
	{
		snprintf(err, errlen, "cannot write \"%s\": %s", tmp, strerror(errno ? errno : EIO));
		return false;
	}
	if (rename(tmp, path) != 0)
	{
		snprintf(err, errlen, "cannot rename \"%s\": %s", tmp, strerror(errno));
		return false;
	}
	return true;
}

int
of1_download(OpenF1Client *c, const FeedOptions *opt, const OpenF1Session *s,
			 FeedFile *files, char *err, size_t errlen)
{
	char		dir[4096] = "";
	int			n = 0;

	if (opt->save_dir)
	{
		snprintf(dir, sizeof(dir), "%s/%" PRId64, opt->save_dir, s->session_key);
		if (!mkdirs(dir, err, errlen))
			return -1;
	}
	for (int e = 0; e < FEED_NENDPOINTS; e++)
	{
		struct
		{
			OpenF1Text	out;
			const F1Endpoint *ep;
		}			f;
		OpenF1Status st;
		int64_t		t0 = feed_now_ns();
		uint64_t	requests_before = of1_stats(c)->requests;

		if (!opt->want[e])
			continue;
		memset(&f, 0, sizeof(f));
		f.ep = &f1_endpoints[e];
		if (!of1_text_append(&f.out, "[", 1))
			goto oom;
		st = of1_fetch(c, s, f.ep, INT64_MIN, &f.out, err, errlen);
		if (st != OF1_OK)
		{
			if (st == OF1_STOPPED)
				snprintf(err, errlen, "interrupted");
			else if (st == OF1_TOO_BIG)
				snprintf(err, errlen, "%s: the server finds the query too big and it cannot be split",
						 f.ep->name);
			free(f.out.data);
			return -1;
		}
		if (!of1_text_append(&f.out, "]", 1))
			goto oom;
		if (!opt->quiet)
			fprintf(stderr, "f1tel-feed: openf1 %" PRId64 " %-20s %8zu records, %3" PRIu64
					" requests, %.1f s\n", s->session_key, f.ep->name, f.out.nrecs,
					of1_stats(c)->requests - requests_before,
					(double) (feed_now_ns() - t0) / 1e9);
		if (opt->save_dir && f.out.nrecs > 0 &&
			!save_text(dir, f.ep->name, &f.out, err, errlen))
		{
			free(f.out.data);
			return -1;
		}
		if (f.out.nrecs == 0)
		{
			free(f.out.data);
			continue;
		}
		if (asprintf(&files[n].path, "%s/%s?session_key=%" PRId64, opt->openf1_url,
					 f.ep->name, s->session_key) < 0)
			goto oom;
		files[n].endpoint = e;
		files[n].text = f.out.data;
		files[n].textlen = f.out.len;
		n++;
		continue;
oom:
		free(f.out.data);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return n;
}
