/*
 * src/tools/openf1_push.c — f1tel-feed --live --mqtt: follows a session on
 * OpenF1's MQTT push feed (openf1_mqtt.c), with REST for what the feed
 * cannot give.
 *
 * The feed carries each new version of a record as it happens (topic
 * v1/<endpoint>, the record plus "_id" and "_key"); REST fills in:
 *  - at the start, the session so far (or, resuming, since the cursors);
 *  - after every (re)connect, the gap since the newest record seen, less
 *    --lookback-s (whatever was published while the feed was down is lost
 *    to MQTT);
 *  - when the feed is quiet for 5 x --poll-ms (a feed that went silent),
 *    a round since the cursors, which also reads the server's clock;
 *  - every --reconcile-s, the whole session but telemetry; at the end, the
 *    whole session.
 *
 * Rules a reader must know:
 *  - The reconnect policy is here: after a disconnect, attempts back off
 *    from 1 s doubling to 30 s; a refused password (an expired token) drops
 *    the token, so that the next attempt fetches a new one.
 *  - Messages are handled on the main thread only (openf1_mqtt.c's
 *    callbacks just queue them); a batch is sent at most every 200 ms.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/openf1_live.h"
#include "tools/openf1_mqtt.h"

#define BACKOFF_FIRST_MS	1000
#define BACKOFF_MAX_MS		30000
#define BATCH_MS			200

/* the wake fd or the timeout, serving the producer meanwhile */
static void
wait_wake(Live *lv, F1Mqtt *m, int ms)
{
	struct pollfd pfd = {.fd = f1mqtt_wake_fd(m), .events = POLLIN};

	if (poll(&pfd, 1, ms) < 0)
		of1_live_wait(lv, 10);
	feed_sender_poll(lv->snd, 0);
}

static bool
connect_now(Live *lv, F1Mqtt *m, char *err, size_t errlen)
{
	char		why[512];
	const char *token = of1_token(lv->c, why, sizeof(why));

	if (token == NULL)
	{
		fprintf(stderr, "f1tel-feed: MQTT: no token: %s\n", why);
		return false;
	}
	if (!f1mqtt_connect(m, token, why, sizeof(why)))
	{
		fprintf(stderr, "f1tel-feed: MQTT: %s\n", why);
		return false;
	}
	return true;
}

bool
of1_push_follow(Live *lv, char *err, size_t errlen)
{
	const FeedOptions *opt = lv->opt;
	F1Mqtt	   *m;
	int64_t		now = feed_now_ns();
	int64_t		next_attempt = 0;
	int64_t		last_whole;
	int64_t		last_msg;
	int64_t		last_send = now;
	int			backoff = BACKOFF_FIRST_MS;
	bool		need_fill = false;
	bool		ok = true;
	size_t		queued = 0;

	m = f1mqtt_new(opt->mqtt_url, opt->mqtt_cafile, opt->username ? opt->username : "f1tel",
				   "v1/#", err, errlen);
	if (m == NULL)
		return false;

	/* subscribe first, then read what came before: nothing falls between */
	connect_now(lv, m, err, errlen);
	next_attempt = feed_now_ns() + (int64_t) backoff * 1000000;
	if (!of1_live_rest_round(lv, true, true, err, errlen))
	{
		f1mqtt_free(m);
		return false;
	}
	of1_live_report(lv, "session so far");
	last_whole = last_msg = feed_now_ns();

	while (ok && !feed_stop_requested())
	{
		F1MqttEvents ev;
		F1MqttMsg  *msgs;

		now = feed_now_ns();
		f1mqtt_events(m, &ev);
		if (ev.auth_refused)
		{
			fprintf(stderr, "f1tel-feed: MQTT refused the token%s%s%s: fetching a new one\n",
					ev.last_error[0] ? " (" : "", ev.last_error, ev.last_error[0] ? ")" : "");
			of1_token_invalidate(lv->c);
		}
		if (ev.disconnects && !opt->quiet)
			fprintf(stderr, "f1tel-feed: MQTT disconnected (%s); connecting again in %.0f s\n",
					ev.last_error, backoff / 1000.0);
		if (ev.connects)
		{
			if (!opt->quiet)
				fprintf(stderr, "f1tel-feed: MQTT connected to %s\n", opt->mqtt_url);
			need_fill = true;
			backoff = BACKOFF_FIRST_MS;
		}
		if (f1mqtt_state(m) == F1MQTT_DOWN && now >= next_attempt)
		{
			connect_now(lv, m, err, errlen);
			next_attempt = now + (int64_t) backoff * 1000000;
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
		}

		msgs = f1mqtt_take(m);
		for (F1MqttMsg *p = msgs; p && ok; p = p->next)
		{
			const F1Endpoint *ep = strncmp(p->topic, "v1/", 3) == 0 ?
				f1_endpoint_by_name(p->topic + 3) : NULL;

			last_msg = now;
			if (ep == NULL || !opt->want[ep->id])
				continue;
			ok = of1_live_add(lv, (int) ep->id, p->payload, p->len, err, errlen);
			queued++;
		}
		f1mqtt_free_msgs(msgs);
		if (!ok)
			break;

		if (queued > 0 && now - last_send >= (int64_t) BATCH_MS * 1000000)
		{
			ok = of1_live_publish(lv, err, errlen);
			of1_live_report(lv, "MQTT");
			queued = 0;
			last_send = now;
			if (!ok)
				break;
		}
		if (need_fill)
		{
			need_fill = false;
			ok = of1_live_rest_round(lv, false, false, err, errlen);
			of1_live_report(lv, "gap filled from REST");
			queued = 0;
		}
		else if (now - last_whole >= (int64_t) opt->reconcile_s * 1000000000)
		{
			ok = of1_live_rest_round(lv, true, false, err, errlen);
			of1_live_report(lv, "whole session (REST)");
			last_whole = now;
			queued = 0;
		}
		else if (now - last_msg >= (int64_t) opt->poll_ms * 5 * 1000000)
		{
			/* a quiet feed: REST, which also tells the server's time */
			ok = of1_live_rest_round(lv, false, false, err, errlen);
			of1_live_report(lv, "feed quiet: REST");
			last_msg = feed_now_ns();
			queued = 0;
		}
		if (!ok)
			break;
		if (of1_live_ended(lv))
		{
			ok = of1_live_rest_round(lv, true, true, err, errlen);
			of1_live_report(lv, "final round (REST)");
			break;
		}
		wait_wake(lv, m, 100);
	}
	f1mqtt_free(m);
	return ok;
}
