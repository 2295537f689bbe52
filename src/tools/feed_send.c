/*
 * src/tools/feed_send.c — f1tel-feed's producer: pacing, delivery, summary.
 *
 * Sends the ordered records with one idempotent producer (acks=all), each to
 * its endpoint's topic, keyed so that one driver's records share a partition.
 * Payloads are handed to librdkafka without a copy: the FeedFiles must stay
 * alive until feed_send() returns.  With --speed X a record of time t is
 * sent at start + (t - t0) / X, t0 being the first timed record; with max,
 * as fast as the local queue takes them.  A full queue is waited out (poll,
 * then retry): no record is ever dropped.
 *
 * Rules a reader must know:
 *  - Every librdkafka callback (delivery reports, errors) runs inside
 *    rd_kafka_poll()/rd_kafka_flush() on the main thread, so the counters
 *    need no locks.
 *  - SIGINT/SIGTERM only set a flag: sending stops, the queue is purged, what
 *    is in flight is awaited for a few seconds, and the run counts as failed.
 *    A second signal exits at once.
 *  - Returns the exit status: 0 when every record was delivered, 1 when any
 *    failed or is unaccounted for (or --create-topics could not create a
 *    topic: nothing is sent then), 2 when the producer cannot be configured.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "tools/feed.h"

#define POLL_EVERY		1024	/* records between two rd_kafka_poll(0) */
#define ERROR_REPEAT_NS	INT64_C(5000000000)	/* same client error: once per 5 s */
#define STOP_FLUSH_MS	5000

typedef struct SendState
{
	const FeedOptions *opt;
	FeedProgress progress;
	size_t		delivered[FEED_NENDPOINTS];
	size_t		failed[FEED_NENDPOINTS];
	size_t		ndelivered;
	size_t		nfailed;
	uint64_t	bytes;
	rd_kafka_resp_err_t first_failure;
	bool		fatal;
	rd_kafka_resp_err_t last_error;
	int64_t		last_error_ns;
	int			suppressed;
} SendState;

static volatile sig_atomic_t stop_requested = 0;

static void
handle_stop(int sig)
{
	if (stop_requested)
		_exit(130);
	stop_requested = 1;
}

static void
dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	SendState  *st = opaque;
	int			e = (int) (uintptr_t) m->_private;

	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		st->delivered[e]++;
		st->ndelivered++;
		st->bytes += m->len;
	}
	else
	{
		if (st->nfailed == 0)
		{
			st->first_failure = m->err;
			feed_progress_clear(&st->progress);
			fprintf(stderr, "f1tel-feed: delivery to %s failed: %s\n",
					rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
		}
		st->failed[e]++;
		st->nfailed++;
	}
}

static void
error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	SendState  *st = opaque;
	int64_t		now = feed_now_ns();

	if (err == RD_KAFKA_RESP_ERR__FATAL)
	{
		char		why[512];

		rd_kafka_fatal_error(rk, why, sizeof(why));
		feed_progress_clear(&st->progress);
		fprintf(stderr, "f1tel-feed: fatal producer error: %s\n", why);
		st->fatal = true;
		return;
	}
	/* an outage repeats the same error for every connection attempt */
	if (err == (int) st->last_error && now - st->last_error_ns < ERROR_REPEAT_NS)
	{
		st->suppressed++;
		return;
	}
	feed_progress_clear(&st->progress);
	if (st->suppressed > 0)
		fprintf(stderr, "f1tel-feed: kafka: %s (and %d similar before)\n",
				reason, st->suppressed);
	else
		fprintf(stderr, "f1tel-feed: kafka: %s\n", reason);
	st->last_error = err;
	st->last_error_ns = now;
	st->suppressed = 0;
}

/*
 * librdkafka's own log lines, served on the main thread (log.queue).  FAIL
 * lines repeat what error_cb reports, so they are left out.
 */
static void
log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	SendState  *st = rd_kafka_opaque(rk);

	if (strcmp(fac, "FAIL") == 0)
		return;
	feed_progress_clear(&st->progress);
	fprintf(stderr, "f1tel-feed: kafka %s: %s\n", fac, buf);
}

static bool
set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
	char		errstr[512];

	if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
	{
		fprintf(stderr, "f1tel-feed: cannot set %s=%s: %s\n", name, value, errstr);
		return false;
	}
	return true;
}

/* The producer's configuration, or NULL (reason printed) if it is invalid. */
static rd_kafka_conf_t *
build_conf(const FeedOptions *opt)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char		timeout[16];

	snprintf(timeout, sizeof(timeout), "%d", opt->timeout_ms);
	if (!set(conf, "bootstrap.servers", opt->brokers) ||
		!set(conf, "client.id", "f1tel-feed") ||
		!set(conf, "enable.idempotence", "true") ||
		!set(conf, "acks", "all") ||
		!set(conf, "linger.ms", "5") ||
		!set(conf, "batch.num.messages", "10000") ||
		!set(conf, "queue.buffering.max.messages", "2000000") ||
		!set(conf, "queue.buffering.max.kbytes", "2097151") ||
		!set(conf, "message.timeout.ms", timeout) ||
		!set(conf, "reconnect.backoff.ms", "100") ||
		!set(conf, "reconnect.backoff.max.ms", "1000") ||
		!set(conf, "compression.type", opt->compression) ||
		!set(conf, "log_level", "4") ||
		!set(conf, "log.queue", "true"))
	{
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	for (int i = 0; i < opt->nprops; i++)
	{
		char		name[256];
		const char *eq = strchr(opt->props[i], '=');
		size_t		n = (size_t) (eq - opt->props[i]);

		if (n >= sizeof(name))
			n = sizeof(name) - 1;
		memcpy(name, opt->props[i], n);
		name[n] = '\0';
		if (!set(conf, name, eq + 1))
		{
			rd_kafka_conf_destroy(conf);
			return NULL;
		}
	}
	return conf;
}

/* Is the configuration valid?  Checked before the files are loaded. */
bool
feed_check_conf(const FeedOptions *opt)
{
	rd_kafka_conf_t *conf = build_conf(opt);

	if (conf == NULL)
		return false;
	rd_kafka_conf_destroy(conf);
	return true;
}

static rd_kafka_t *
make_producer(const FeedOptions *opt, SendState *st)
{
	rd_kafka_conf_t *conf = build_conf(opt);
	char		errstr[512];
	rd_kafka_t *rk;

	if (conf == NULL)
		return NULL;
	rd_kafka_conf_set_opaque(conf, st);
	rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	rd_kafka_conf_set_log_cb(conf, log_cb);

	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (rk == NULL)
	{
		fprintf(stderr, "f1tel-feed: cannot create the producer: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	/* logs go to the main queue, served by rd_kafka_poll() */
	if (rd_kafka_set_log_queue(rk, NULL) != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		fprintf(stderr, "f1tel-feed: cannot route the client's logs\n");
		rd_kafka_destroy(rk);
		return NULL;
	}
	return rk;
}

/* Hand one record to the producer, waiting while the local queue is full. */
static bool
produce(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const FeedFile *f,
		const FeedRecord *rec, int e, SendState *st, size_t sent)
{
	while (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, 0,
							(void *) rec->data, rec->len,
							f->keys[rec->key], f->keylens[rec->key],
							(void *) (uintptr_t) e) == -1)
	{
		rd_kafka_resp_err_t err = rd_kafka_last_error();

		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
		{
			feed_progress_clear(&st->progress);
			fprintf(stderr, "f1tel-feed: cannot produce to %s: %s\n",
					rd_kafka_topic_name(rkt), rd_kafka_err2str(err));
			return false;
		}
		rd_kafka_poll(rk, 10);
		feed_progress_update(&st->progress, sent, rec->time, feed_now_ns(), false);
		if (st->fatal || stop_requested)
			return false;
	}
	return true;
}

static void
print_summary(const FeedOptions *opt, const SendState *st, size_t nrecs,
			  size_t sent, double secs)
{
	fprintf(stderr, "f1tel-feed: delivered %zu of %zu messages (%.1f MB) in %.2f s: "
			"%.0f msgs/s\n",
			st->ndelivered, nrecs, (double) st->bytes / 1e6, secs,
			secs > 0 ? (double) st->ndelivered / secs : 0.0);
	for (int e = 0; e < FEED_NENDPOINTS; e++)
	{
		if (st->delivered[e] == 0 && st->failed[e] == 0)
			continue;
		fprintf(stderr, "  %-13s -> %-18s %9zu", f1_endpoints[e].name,
				opt->topics[e], st->delivered[e]);
		if (st->failed[e])
			fprintf(stderr, "   (%zu failed)", st->failed[e]);
		fputc('\n', stderr);
	}
}

struct FeedSender
{
	SendState	st;
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt[FEED_NENDPOINTS];
	int64_t		start;
	size_t		sent;			/* records handed to the producer */
	size_t		nrecs;			/* records it was asked to send */
	int64_t		reached;
};

bool
feed_stop_requested(void)
{
	return stop_requested != 0;
}

FeedSender *
feed_sender_open(const FeedOptions *opt, const FeedFile *files, int nfiles, int *status)
{
	FeedSender *s = calloc(1, sizeof(FeedSender));
	struct sigaction sa;

	*status = FEED_EXIT_USAGE;
	if (s == NULL)
	{
		fprintf(stderr, "f1tel-feed: out of memory\n");
		return NULL;
	}
	s->st.opt = opt;
	s->reached = FEED_TIME_SESSIONS;
	s->rk = make_producer(opt, &s->st);
	if (s->rk == NULL)
	{
		free(s);
		return NULL;
	}
	/* before any topic handle or produce: those could auto-create them */
	if (opt->create_topics && !feed_create_topics(s->rk, opt, files, nfiles))
	{
		rd_kafka_destroy(s->rk);
		free(s);
		*status = FEED_EXIT_DELIVERY;
		return NULL;
	}
	for (int e = 0; e < FEED_NENDPOINTS; e++)
	{
		if (!opt->want[e])
			continue;
		s->rkt[e] = rd_kafka_topic_new(s->rk, opt->topics[e], NULL);
		if (s->rkt[e] == NULL)
		{
			fprintf(stderr, "f1tel-feed: topic \"%s\": %s\n", opt->topics[e],
					rd_kafka_err2str(rd_kafka_last_error()));
			for (int k = 0; k < e; k++)
				if (s->rkt[k])
					rd_kafka_topic_destroy(s->rkt[k]);
			rd_kafka_destroy(s->rk);
			free(s);
			return NULL;
		}
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handle_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	s->start = feed_now_ns();
	feed_progress_init(&s->st.progress, isatty(STDERR_FILENO) && !opt->quiet && !opt->live,
					   0, s->start);
	*status = FEED_EXIT_OK;
	return s;
}

bool
feed_sender_send(FeedSender *s, FeedFile *files, const FeedRecord *recs, size_t nrecs,
				 double speed)
{
	int64_t		start = feed_now_ns(),
				now;
	int64_t		t0 = 0;
	bool		ok = true;

	s->nrecs += nrecs;
	s->st.progress.total = s->nrecs;
	for (size_t i = 0; i < nrecs; i++)
		if (recs[i].time >= FEED_TIME_FIRST_TIMED)
		{
			t0 = recs[i].time;
			break;
		}
	for (size_t i = 0; i < nrecs && ok; i++)
	{
		const FeedRecord *rec = &recs[i];
		const FeedFile *f = &files[rec->file];

		if (speed > 0 && rec->time >= FEED_TIME_FIRST_TIMED)
		{
			int64_t		due = start + (int64_t) ((double) (rec->time - t0) * 1000.0 / speed);

			while ((now = feed_now_ns()) < due && !stop_requested && !s->st.fatal)
			{
				int64_t		ms = (due - now + 999999) / 1000000;

				rd_kafka_poll(s->rk, ms > 100 ? 100 : (int) ms);
				feed_progress_update(&s->st.progress, s->sent, s->reached, feed_now_ns(), false);
			}
		}
		if (stop_requested || s->st.fatal)
			return false;
		ok = produce(s->rk, s->rkt[f->endpoint], f, rec, f->endpoint, &s->st, s->sent);
		if (!ok)
			break;
		s->sent++;
		s->reached = rec->time;
		if (s->sent % POLL_EVERY == 0)
		{
			rd_kafka_poll(s->rk, 0);
			feed_progress_update(&s->st.progress, s->sent, s->reached, feed_now_ns(), false);
		}
	}
	return ok;
}

void
feed_sender_poll(FeedSender *s, int ms)
{
	rd_kafka_poll(s->rk, ms);
}

bool
feed_sender_wait(FeedSender *s, int timeout_ms)
{
	int64_t		deadline = feed_now_ns() + (int64_t) timeout_ms * 1000000;

	while (rd_kafka_outq_len(s->rk) > 0 && feed_now_ns() < deadline && !s->st.fatal &&
		   !stop_requested)
	{
		rd_kafka_flush(s->rk, 100);
		feed_progress_update(&s->st.progress, s->sent, s->reached, feed_now_ns(), false);
	}
	rd_kafka_poll(s->rk, 0);
	return !s->st.fatal && s->st.nfailed == 0 && s->st.ndelivered == s->sent;
}

size_t
feed_sender_delivered(const FeedSender *s)
{
	return s->st.ndelivered;
}

int
feed_sender_close(FeedSender *s)
{
	const FeedOptions *opt = s->st.opt;
	SendState  *st = &s->st;
	size_t		unaccounted;
	int64_t		deadline,
				now;
	int			status;

	if (stop_requested)
	{
		feed_progress_clear(&st->progress);
		fprintf(stderr, "f1tel-feed: interrupted after %zu of %zu records\n", s->sent, s->nrecs);
		rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE);
	}

	/* every message ends within message.timeout.ms: wait that and more */
	deadline = feed_now_ns() +
		(int64_t) (stop_requested ? STOP_FLUSH_MS : opt->timeout_ms + 30000) * 1000000;
	while (rd_kafka_outq_len(s->rk) > 0 && feed_now_ns() < deadline && !st->fatal)
	{
		rd_kafka_flush(s->rk, 100);
		feed_progress_update(&st->progress, s->sent, s->reached, feed_now_ns(), false);
	}
	rd_kafka_poll(s->rk, 0);
	feed_progress_update(&st->progress, s->sent, s->reached, feed_now_ns(), true);
	feed_progress_clear(&st->progress);
	now = feed_now_ns();

	unaccounted = s->sent - st->ndelivered - st->nfailed;
	if (!opt->quiet)
		print_summary(opt, st, s->nrecs, s->sent, (double) (now - s->start) / 1e9);
	if (st->nfailed > 0)
		fprintf(stderr, "f1tel-feed: %zu messages failed (first: %s)\n",
				st->nfailed, rd_kafka_err2str(st->first_failure));
	if (unaccounted > 0)
		fprintf(stderr, "f1tel-feed: %zu messages still undelivered at exit\n",
				unaccounted);
	if (s->sent < s->nrecs)
		fprintf(stderr, "f1tel-feed: %zu records were not sent\n", s->nrecs - s->sent);

	status = (st->nfailed == 0 && unaccounted == 0 && s->sent == s->nrecs && !st->fatal)
		? FEED_EXIT_OK : FEED_EXIT_DELIVERY;

	for (int e = 0; e < FEED_NENDPOINTS; e++)
		if (s->rkt[e])
			rd_kafka_topic_destroy(s->rkt[e]);
	/* purge what is left so that destroy does not wait for it */
	rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_destroy(s->rk);
	free(s);
	return status;
}

int
feed_send(const FeedOptions *opt, FeedFile *files, int nfiles,
		  const FeedRecord *recs, size_t nrecs)
{
	int			status;
	FeedSender *s = feed_sender_open(opt, files, nfiles, &status);

	if (s == NULL)
		return status;
	feed_sender_send(s, files, recs, nrecs, opt->speed);
	return feed_sender_close(s);
}
