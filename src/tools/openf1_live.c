/*
 * src/tools/openf1_live.c — f1tel-feed --live: follows a session while it
 * runs, over REST (and, with --mqtt, OpenF1's push feed: openf1_push.c),
 * until it has ended, publishing each new record and each changed version.
 *
 * A round of REST asks every chosen endpoint for the records of the
 * session whose time is at or after its cursor (the newest time published)
 * less --lookback-s, so that the laps in progress, the recent corrections
 * and the late records near the head are read again; untimed endpoints
 * (stints, results, ...) are read whole.  Every --reconcile-s, and at the
 * end, a round reads everything of the session (car_data and location only
 * at the end: they are too big to read whole often), which catches records
 * backfilled long after their time.  Of what a round returns, only what
 * openf1_seen.c has not published in this version is sent, in time order,
 * through the same producer as a file replay (feed_send.c).
 *
 * Rules a reader must know:
 *  - "Now" is the server's (the Date of its last answer), not this
 *    machine's: the session has ended when the server's now has passed its
 *    date_end by --linger-s.  (The test server runs a simulated clock.)
 *  - A batch is committed to the state file only after Kafka acknowledged
 *    all of it; a delivery failure stops the follower with status 1, and the
 *    next start resumes from the state file.
 *  - Waits (between rounds, in the rate limiter) serve the producer.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "ingest/decode.h"
#include "tools/openf1.h"
#include "tools/openf1_live.h"

#define DELIVERY_WAIT_MS 120000

static bool
live_wait(void *arg, int ms)
{
	Live	   *lv = arg;
	int64_t		until = feed_now_ns() + (int64_t) ms * 1000000;

	while (!feed_stop_requested())
	{
		int64_t		left = (until - feed_now_ns()) / 1000000;

		if (left <= 0)
			return true;
		if (lv->snd)
			feed_sender_poll(lv->snd, left > 100 ? 100 : (int) left);
		else
		{
			struct timespec ts = {0, (left > 100 ? 100 : left) * 1000000};

			nanosleep(&ts, NULL);
		}
	}
	return false;
}

bool
of1_live_wait(Live *lv, int ms)
{
	return live_wait(lv, ms);
}

/*
 * Notes one record (JSON text, MQTT's _id and _key allowed) and queues it
 * when this version was not published yet.
 */
bool
of1_live_add(Live *lv, int e, const char *rec, size_t len, char *err, size_t errlen)
{
	const F1Endpoint *ep = &f1_endpoints[e];
	json_tokener *tok = json_tokener_new();
	json_object *obj;
	json_object *dummy;
	char		id[512];
	uint64_t	hash;
	OpenF1Change ch;
	bool		ok = false;
	bool		mqtt_fields;

	if (tok == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return false;
	}
	obj = json_tokener_parse_ex(tok, rec, (int) len);
	json_tokener_free(tok);
	if (obj == NULL || !json_object_is_type(obj, json_type_object))
	{
		/* OpenF1 sent something that is not a record: say so, go on */
		fprintf(stderr, "f1tel-feed: %s: skipping a message that is not a JSON object: %.120s\n",
				ep->name, rec);
		lv->malformed++;
		json_object_put(obj);
		return true;
	}
	hash = of1_record_hash(obj);
	if (!of1_record_identity(ep, obj, hash, id, sizeof(id)))
	{
		fprintf(stderr, "f1tel-feed: %s: skipping a record with an oversized key\n", ep->name);
		lv->malformed++;
		json_object_put(obj);
		return true;
	}
	ch = of1_seen_note(lv->seen, id, hash);
	if (ch == OF1_NOMEM)
	{
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (ep->time_field)
	{
		json_object *t;
		int64_t		ts;

		if (json_object_object_get_ex(obj, ep->time_field, &t) &&
			json_object_is_type(t, json_type_string) &&
			f1_parse_timestamp(json_object_get_string(t), json_object_get_string_len(t), &ts))
			of1_seen_cursor_note(lv->seen, e, ts);
	}
	if (ch == OF1_SAME)
	{
		ok = true;
		goto out;
	}
	if (ch == OF1_NEW)
		lv->nnew[e]++;
	else
		lv->nchanged[e]++;
	if (lv->batch[e].len == 0 && !of1_text_append(&lv->batch[e], "[", 1))
		goto oom;
	if (lv->batch[e].nrecs > 0 && !of1_text_append(&lv->batch[e], ",", 1))
		goto oom;
	mqtt_fields = json_object_object_get_ex(obj, "_id", &dummy) ||
		json_object_object_get_ex(obj, "_key", &dummy);
	if (mqtt_fields)
	{
		/* the record as REST has it: without the push feed's own fields */
		const char *plain;

		json_object_object_del(obj, "_id");
		json_object_object_del(obj, "_key");
		plain = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
		if (!of1_text_append(&lv->batch[e], plain, strlen(plain)))
			goto oom;
	}
	else if (!of1_text_append(&lv->batch[e], rec, len))
		goto oom;
	lv->batch[e].nrecs++;
	ok = true;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	json_object_put(obj);
	return ok;
}

/* Sends what was queued, in time order; waits for Kafka; commits the state. */
bool
of1_live_publish(Live *lv, char *err, size_t errlen)
{
	FeedFile	files[FEED_NENDPOINTS];
	FeedRecord *recs;
	size_t		nrecs;
	int			n = 0;
	bool		ok = true;

	memset(files, 0, sizeof(files));
	for (int e = 0; e < FEED_NENDPOINTS; e++)
	{
		if (lv->batch[e].nrecs == 0)
			continue;
		if (!of1_text_append(&lv->batch[e], "]", 1) ||
			asprintf(&files[n].path, "%s/%s (live)", lv->opt->openf1_url, f1_endpoints[e].name) < 0)
		{
			snprintf(err, errlen, "out of memory");
			ok = false;
			break;
		}
		files[n].endpoint = e;
		files[n].text = lv->batch[e].data;
		files[n].textlen = lv->batch[e].len;
		memset(&lv->batch[e], 0, sizeof(lv->batch[e]));
		if (!feed_load_file(&files[n], (uint32_t) n, 0, err, errlen))
		{
			n++;
			ok = false;
			break;
		}
		n++;
	}
	if (ok && n > 0)
	{
		recs = feed_order(files, n, &nrecs);
		if (recs == NULL)
		{
			snprintf(err, errlen, "out of memory");
			ok = false;
		}
		else
		{
			ok = feed_sender_send(lv->snd, files, recs, nrecs, 0) &&
				feed_sender_wait(lv->snd, DELIVERY_WAIT_MS);
			if (!ok)
				snprintf(err, errlen, feed_stop_requested() ? "interrupted" :
						 "Kafka did not acknowledge every record");
			lv->published += nrecs;
			free(recs);
		}
	}
	for (int i = 0; i < n; i++)
		feed_free_file(&files[i]);
	for (int e = 0; e < FEED_NENDPOINTS; e++)
	{
		free(lv->batch[e].data);
		memset(&lv->batch[e], 0, sizeof(lv->batch[e]));
	}
	if (ok && !of1_seen_commit(lv->seen, err, errlen))
		ok = false;
	return ok;
}

/* The record's endpoint of an answer: every record of it noted. */
static bool
add_answer(Live *lv, int e, const OpenF1Text *t, char *err, size_t errlen)
{
	FeedArrayScan scan;
	const char *rec;
	size_t		reclen;
	int			r;
	char		why[256];

	if (t->nrecs == 0)
		return true;
	if (!feed_array_begin(&scan, t->data, t->len, why, sizeof(why)))
	{
		snprintf(err, errlen, "%s: %s", f1_endpoints[e].name, why);
		return false;
	}
	while ((r = feed_array_next(&scan, &rec, &reclen, why, sizeof(why))) > 0)
		if (!of1_live_add(lv, e, rec, reclen, err, errlen))
			return false;
	if (r < 0)
	{
		snprintf(err, errlen, "%s: %s", f1_endpoints[e].name, why);
		return false;
	}
	return true;
}

/*
 * One round of REST over every chosen endpoint; whole: every record of the
 * session (telemetry too when also_telemetry).  Then publishes.
 */
bool
of1_live_rest_round(Live *lv, bool whole, bool also_telemetry, char *err, size_t errlen)
{
	int64_t		lookback = (int64_t) lv->opt->lookback_s * 1000000;

	memset(lv->nnew, 0, sizeof(lv->nnew));
	memset(lv->nchanged, 0, sizeof(lv->nchanged));
	for (int e = 0; e < FEED_NENDPOINTS && !feed_stop_requested(); e++)
	{
		const F1Endpoint *ep = &f1_endpoints[e];
		OpenF1Text	t = {0};
		OpenF1Status st;
		int64_t		since = INT64_MIN;
		int64_t		cursor;
		bool		telemetry = e == F1E_CAR_DATA || e == F1E_LOCATION;

		if (!lv->opt->want[e])
			continue;
		if (ep->time_field && of1_seen_cursor(lv->seen, e, &cursor) &&
			!(whole && (!telemetry || also_telemetry)))
			since = cursor - lookback;
		if (!of1_text_append(&t, "[", 1))
		{
			snprintf(err, errlen, "out of memory");
			return false;
		}
		st = of1_fetch(lv->c, &lv->s, ep, since, &t, err, errlen);
		if (st == OF1_OK && !of1_text_append(&t, "]", 1))
			st = OF1_FAILED;
		if (st == OF1_OK && !add_answer(lv, e, &t, err, errlen))
			st = OF1_FAILED;
		free(t.data);
		if (st == OF1_STOPPED)
			return false;
		if (st != OF1_OK)
		{
			if (st == OF1_TOO_BIG)
				snprintf(err, errlen, "%s: too big for the server even in parts", ep->name);
			return false;
		}
	}
	lv->rounds++;
	return of1_live_publish(lv, err, errlen);
}

void
of1_live_report(Live *lv, const char *what)
{
	const OpenF1Stats *st = of1_stats(lv->c);
	char		now[40] = "?";
	char		line[1024];
	size_t		used;
	size_t		total = 0;

	if (lv->opt->quiet)
		return;
	if (st->server_now)
		of1_format_time(st->server_now, now, sizeof(now));
	used = (size_t) snprintf(line, sizeof(line), "f1tel-feed: live %" PRId64 " %s at %.19s:",
							 lv->s.session_key, what, now);
	for (int e = 0; e < FEED_NENDPOINTS; e++)
	{
		if (lv->nnew[e] == 0 && lv->nchanged[e] == 0)
			continue;
		total += lv->nnew[e] + lv->nchanged[e];
		if (used < sizeof(line))
			used += (size_t) snprintf(line + used, sizeof(line) - used, " %s +%zu/~%zu",
									  f1_endpoints[e].name, lv->nnew[e], lv->nchanged[e]);
	}
	if (total == 0 && used < sizeof(line))
		used += (size_t) snprintf(line + used, sizeof(line) - used, " nothing new");
	fprintf(stderr, "%s; %zu published, %" PRIu64 " requests, %" PRIu64 " rate-limit waits\n",
			line, lv->published, st->requests, st->rate_waits);
	memset(lv->nnew, 0, sizeof(lv->nnew));
	memset(lv->nchanged, 0, sizeof(lv->nchanged));
}

/* has the session ended, by the server's clock? */
bool
of1_live_ended(Live *lv)
{
	int64_t		now = of1_stats(lv->c)->server_now;

	return now != 0 && now >= lv->s.date_end + (int64_t) lv->opt->linger_s * 1000000;
}

/* the session, waiting while OpenF1 has no such session yet */
static bool
resolve(Live *lv, char *err, size_t errlen)
{
	bool		said = false;

	for (;;)
	{
		if (of1_resolve_session(lv->c, lv->opt->sessions[0], &lv->s, err, errlen))
			return true;
		if (strncmp(err, "OpenF1 has no session", 21) != 0 || feed_stop_requested())
			return false;
		if (!said && !lv->opt->quiet)
			fprintf(stderr, "f1tel-feed: %s yet: waiting for it\n", err);
		said = true;
		if (!live_wait(lv, lv->opt->poll_ms))
			return false;
	}
}

int
of1_follow(const FeedOptions *opt, OpenF1Client *c)
{
	Live		lv;
	char		err[1024];
	char		state[4096];
	size_t		loaded;
	int			status;
	bool		ok = true;

	memset(&lv, 0, sizeof(lv));
	lv.opt = opt;
	lv.c = c;
	of1_set_wait(c, live_wait, &lv);
	lv.snd = feed_sender_open(opt, NULL, 0, &status);
	if (lv.snd == NULL)
		return status;
	if (!resolve(&lv, err, sizeof(err)))
	{
		fprintf(stderr, "f1tel-feed: openf1 session %s: %s\n", opt->sessions[0], err);
		feed_sender_close(lv.snd);
		return FEED_EXIT_DELIVERY;
	}
	if (opt->state_file)
		snprintf(state, sizeof(state), "%s", opt->state_file);
	else
		snprintf(state, sizeof(state), "f1tel-feed-%" PRId64 ".state", lv.s.session_key);
	lv.seen = of1_seen_open(state, lv.s.session_key, &loaded, err, sizeof(err));
	if (lv.seen == NULL)
	{
		fprintf(stderr, "f1tel-feed: %s\n", err);
		feed_sender_close(lv.snd);
		return FEED_EXIT_USAGE;
	}
	if (!opt->quiet)
		fprintf(stderr, "f1tel-feed: following session %" PRId64 " (%s); state %s%s\n",
				lv.s.session_key, opt->mqtt_url ? "MQTT, REST for the gaps" : "REST",
				state, loaded ? " (resuming)" : "");

	if (opt->mqtt_url)
		ok = of1_push_follow(&lv, err, sizeof(err));
	else
	{
		int64_t		last_whole = 0;

		while (ok && !feed_stop_requested())
		{
			bool		whole = lv.rounds == 0 ||
				feed_now_ns() - last_whole >= (int64_t) opt->reconcile_s * 1000000000;
			bool		ended = of1_live_ended(&lv);

			if (whole)
				last_whole = feed_now_ns();
			ok = of1_live_rest_round(&lv, whole || ended, ended || lv.rounds == 0,
									 err, sizeof(err));
			if (!ok)
				break;
			of1_live_report(&lv, ended ? "final round" : whole ? "whole session" : "round");
			if (ended)
				break;
			if (!live_wait(&lv, opt->poll_ms))
				break;
		}
	}
	if (!ok && !feed_stop_requested())
		fprintf(stderr, "f1tel-feed: live session %" PRId64 ": %s\n", lv.s.session_key, err);
	status = feed_sender_close(lv.snd);
	lv.snd = NULL;
	if (!opt->quiet)
		fprintf(stderr, "f1tel-feed: %zu record versions known for session %" PRId64
				"%s\n", of1_seen_count(lv.seen), lv.s.session_key,
				ok && !feed_stop_requested() ? ", which has ended" : "");
	of1_seen_free(lv.seen);
	if (lv.malformed)
		fprintf(stderr, "f1tel-feed: %zu messages were not records and were skipped\n",
				lv.malformed);
	return ok && !feed_stop_requested() ? status : FEED_EXIT_DELIVERY;
}
