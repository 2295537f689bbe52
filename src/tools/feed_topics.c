/*
 * src/tools/feed_topics.c — f1tel-feed --create-topics: creates the topics
 * the run will publish to that are missing, before the first message.
 *
 * One CreateTopics request (librdkafka's admin API, on the producer's own
 * handle) for every distinct topic of the files loaded, with --partitions
 * and --replication-factor (-1, the default: the broker's num.partitions and
 * default.replication.factor; needs Kafka >= 2.4).  A topic that already
 * exists is left exactly as it is and said so.  The request is bounded: the
 * broker gets CREATE_TIMEOUT_MS to answer and we wait a few seconds more
 * for librdkafka to give up, so a broker without the admin API (the
 * embedded mock, f1tel-broker) or none at all ends the run with an error
 * instead of hanging.
 *
 * Rules a reader must know: it runs before any rd_kafka_topic_new() and
 * produce, so that the producer's metadata requests cannot auto-create a
 * topic first (allow.auto.create.topics is true for producers); the
 * producer's callbacks are served meanwhile by rd_kafka_poll() on this
 * thread.  Returns false (reason printed) if any topic could not be created.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "tools/feed.h"

#define CREATE_TIMEOUT_MS	15000	/* the broker's time to answer and create */
#define EXTRA_WAIT_MS		5000	/* then librdkafka's own time to give up */

/* The distinct topic names of the files (files NULL: of the chosen endpoints), in endpoint order. */
static int
topics_of(const FeedOptions *opt, const FeedFile *files, int nfiles,
		  const char **names)
{
	int			n = 0;

	for (int e = 0; e < FEED_NENDPOINTS; e++)
	{
		bool		used = false;
		bool		dup = false;

		/* no files (a live follower): every chosen endpoint */
		if (files == NULL)
			used = opt->want[e];
		for (int i = 0; i < nfiles && !used; i++)
			used = files[i].endpoint == e;
		if (!used)
			continue;
		for (int k = 0; k < n && !dup; k++)
			dup = strcmp(names[k], opt->topics[e]) == 0;
		if (!dup)
			names[n++] = opt->topics[e];
	}
	return n;
}

/* Reports each topic's result; true if every one exists now. */
static bool
report(const rd_kafka_CreateTopics_result_t *res, const FeedOptions *opt)
{
	size_t		n;
	const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
	bool		ok = true;

	for (size_t i = 0; i < n; i++)
	{
		const char *name = rd_kafka_topic_result_name(tr[i]);
		rd_kafka_resp_err_t err = rd_kafka_topic_result_error(tr[i]);
		const char *msg = rd_kafka_topic_result_error_string(tr[i]);

		if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			if (opt->quiet)
				continue;
			fprintf(stderr, "f1tel-feed: created topic %s (", name);
			if (opt->partitions > 0)
				fprintf(stderr, "%d partitions", opt->partitions);
			else
				fprintf(stderr, "the broker's default partitions");
			if (opt->replication_factor > 0)
				fprintf(stderr, ", replication factor %d)\n", opt->replication_factor);
			else
				fprintf(stderr, ", the broker's default replication factor)\n");
		}
		else if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
		{
			if (!opt->quiet)
				fprintf(stderr, "f1tel-feed: topic %s already exists: left as it is\n", name);
		}
		else
		{
			fprintf(stderr, "f1tel-feed: could not create topic %s: %s%s%s\n", name,
					rd_kafka_err2str(err), msg ? ": " : "", msg ? msg : "");
			ok = false;
		}
	}
	return ok;
}

bool
feed_create_topics(rd_kafka_t *rk, const FeedOptions *opt,
				   const FeedFile *files, int nfiles)
{
	const char *names[FEED_NENDPOINTS];
	rd_kafka_NewTopic_t *nt[FEED_NENDPOINTS];
	int			n = topics_of(opt, files, nfiles, names);
	int			made = 0;
	rd_kafka_AdminOptions_t *ao = NULL;
	rd_kafka_queue_t *q = NULL;
	rd_kafka_event_t *ev = NULL;
	char		errstr[512];
	int64_t		deadline;
	bool		ok = false;

	if (n == 0)
		return true;
	for (int i = 0; i < n; i++)
	{
		nt[i] = rd_kafka_NewTopic_new(names[i],
									  opt->partitions > 0 ? opt->partitions : -1,
									  opt->replication_factor > 0 ? opt->replication_factor : -1,
									  errstr, sizeof(errstr));
		if (nt[i] == NULL)
		{
			fprintf(stderr, "f1tel-feed: topic %s: %s\n", names[i], errstr);
			goto done;
		}
		made++;
	}
	ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	if (ao == NULL ||
		rd_kafka_AdminOptions_set_request_timeout(ao, CREATE_TIMEOUT_MS, errstr, sizeof(errstr)) ||
		rd_kafka_AdminOptions_set_operation_timeout(ao, CREATE_TIMEOUT_MS, errstr, sizeof(errstr)))
	{
		fprintf(stderr, "f1tel-feed: cannot set up CreateTopics: %s\n",
				ao ? errstr : "out of memory");
		goto done;
	}
	q = rd_kafka_queue_new(rk);
	rd_kafka_CreateTopics(rk, nt, (size_t) n, ao, q);

	deadline = feed_now_ns() + (int64_t) (CREATE_TIMEOUT_MS + EXTRA_WAIT_MS) * 1000000;
	while (ev == NULL && feed_now_ns() < deadline)
	{
		rd_kafka_poll(rk, 0);	/* the producer's logs and errors */
		ev = rd_kafka_queue_poll(q, 100);
	}
	if (ev == NULL)
		fprintf(stderr, "f1tel-feed: could not create the topics: no answer within %d ms "
				"(does the broker support the admin API?)\n",
				CREATE_TIMEOUT_MS + EXTRA_WAIT_MS);
	else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR)
		fprintf(stderr, "f1tel-feed: could not create the topics: %s\n",
				rd_kafka_event_error_string(ev));
	else
		ok = report(rd_kafka_event_CreateTopics_result(ev), opt);

done:
	if (ev)
		rd_kafka_event_destroy(ev);
	if (q)
		rd_kafka_queue_destroy(q);
	if (ao)
		rd_kafka_AdminOptions_destroy(ao);
	for (int i = 0; i < made; i++)
		rd_kafka_NewTopic_destroy(nt[i]);
	return ok;
}
