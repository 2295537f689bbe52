/*
 * src/ingest/consumer.c — the ingest worker's librdkafka consumer.
 *
 * Built by src/shared/kafka_client.c (the one client builder and its
 * callback rule) from f1tel.brokers, f1tel.group_id, the topic names and
 * f1tel.kafka_config(_file), with the consumer's fixed settings:
 * enable.auto.commit=false (the offsets table is the truth),
 * auto.offset.reset=error (data lost to retention is reported, never
 * skipped).
 *
 * Threads: see consumer.h.  librdkafka calls rebalance_cb from
 * rd_kafka_consumer_poll() on the calling (main) thread; it runs database
 * code (reading the stored offsets) under PG_TRY with interrupts held
 * (f1_consumer_poll), so no ereport can longjmp through librdkafka's frames;
 * its log lines are recorded for f1_consumer_report_logs().
 */
#include "postgres.h"

#include <fcntl.h>
#include <unistd.h>

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/timestamp.h"
#include "utils/memutils.h"

#include "ingest/consumer.h"
#include "shared/guc.h"
#include "shared/kafka_client.h"

struct F1Consumer
{
	F1KafkaClient *client;		/* builder, callbacks, log ring: kafka_client.c */
	rd_kafka_t *rk;
	rd_kafka_queue_t *queue;
	int			pipefd[2];
	F1AssignHook assign;
	F1RevokeHook revoke;
	void	   *arg;
	bool		broken;
};

static void
rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	F1Consumer *c = f1_kafka_client_owner(rk);

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
	{
		bool		ok;

		ok = c->assign(parts, c->arg);
		if (!ok)
		{
			c->broken = true;
			rd_kafka_assign(rk, NULL);
			return;
		}
		if (rd_kafka_assign(rk, parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
			c->broken = true;
		f1_kafka_client_record(c->client, LOG, "f1tel ingest: assigned %d partition(s)", parts->cnt);
	}
	else
	{
		c->revoke(c->arg);
		rd_kafka_assign(rk, NULL);
		f1_kafka_client_record(c->client, LOG, "f1tel ingest: partitions revoked (%s)", rd_kafka_err2name(err));
	}
}

/* What only the consumer's configuration depends on: group and topics. */
static char *
consumer_extra(void)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfoString(&s, f1tel_group_id);
	for (int i = 0; i < F1E_COUNT; i++)
		appendStringInfo(&s, "\n%s", f1tel_topics[i]);
	return s.data;
}

bool
f1_consumer_config_changed(F1Consumer *c)
{
	return f1_kafka_client_changed(c->client, consumer_extra());
}

static void
prepare_consumer(rd_kafka_conf_t *conf, void *owner)
{
	rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
}

F1Consumer *
f1_consumer_create(F1AssignHook assign, F1RevokeHook revoke, void *arg)
{
	F1Consumer *c;
	rd_kafka_topic_partition_list_t *topics;
	rd_kafka_resp_err_t err;
	char	   *error = NULL;
	const char *const fixed[][2] = {
		{"group.id", f1tel_group_id},
		{"enable.auto.commit", "false"},
		{"enable.auto.offset.store", "false"},
		{"auto.offset.reset", "error"},
		{"enable.partition.eof", "false"},
		/* defaults the user may override in f1tel.kafka_config */
		{"client.id", "f1tel-ingest"},
		{"fetch.wait.max.ms", "100"},
		{"queued.max.messages.kbytes", "8192"},
		{"reconnect.backoff.max.ms", "2000"},
		{NULL, NULL}
	};

	c = MemoryContextAllocZero(TopMemoryContext, sizeof(F1Consumer));
	c->assign = assign;
	c->revoke = revoke;
	c->arg = arg;
	c->pipefd[0] = c->pipefd[1] = -1;

	c->client = f1_kafka_client_create(RD_KAFKA_CONSUMER, "ingest", fixed, consumer_extra(),
									   prepare_consumer, c, &error);
	if (c->client == NULL)
	{
		ereport(LOG,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("f1tel ingest: %s", error)));
		f1_consumer_destroy(c);
		return NULL;
	}
	c->rk = f1_kafka_client_handle(c->client);
	rd_kafka_poll_set_consumer(c->rk);	/* the main queue (logs) is the consumer queue */
	c->queue = rd_kafka_queue_get_consumer(c->rk);

	if (pipe(c->pipefd) != 0 ||
		fcntl(c->pipefd[0], F_SETFL, O_NONBLOCK) != 0 ||
		fcntl(c->pipefd[1], F_SETFL, O_NONBLOCK) != 0)
	{
		ereport(LOG, (errcode_for_file_access(),
					  errmsg("f1tel ingest: could not create a pipe: %m")));
		f1_consumer_destroy(c);
		return NULL;
	}
	rd_kafka_queue_io_event_enable(c->queue, c->pipefd[1], "1", 1);

	topics = rd_kafka_topic_partition_list_new(F1E_COUNT);
	for (int i = 0; i < F1E_COUNT; i++)
		rd_kafka_topic_partition_list_add(topics, f1tel_topics[i], RD_KAFKA_PARTITION_UA);
	err = rd_kafka_subscribe(c->rk, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		ereport(LOG,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("f1tel ingest: could not subscribe: %s", rd_kafka_err2str(err))));
		f1_consumer_destroy(c);
		return NULL;
	}
	ereport(LOG,
			(errmsg("f1tel ingest: consuming from %s as group \"%s\"",
					f1tel_brokers, f1tel_group_id)));
	return c;
}

void
f1_consumer_destroy(F1Consumer *c)
{
	if (c == NULL)
		return;
	if (c->rk != NULL)
	{
		/*
		 * Leave the group without waiting long: close through a queue (a
		 * plain close can hang after a lost partition in 2.0.2), bounded to
		 * a few seconds.  Nothing to commit: the database has the offsets.
		 */
		rd_kafka_queue_t *q = rd_kafka_queue_new(c->rk);
		TimestampTz deadline = GetCurrentTimestamp() + 5 * USECS_PER_SEC;

		if (rd_kafka_consumer_close_queue(c->rk, q) == NULL)
		{
			while (!rd_kafka_consumer_closed(c->rk) &&
				   GetCurrentTimestamp() < deadline)
			{
				rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 100);

				if (ev != NULL)
				{
					/* a rebalance event during close: give up the assignment */
					if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
						rd_kafka_assign(c->rk, NULL);
					rd_kafka_event_destroy(ev);
				}
			}
		}
		rd_kafka_queue_destroy(q);
		if (c->queue != NULL)
			rd_kafka_queue_destroy(c->queue);
		rd_kafka_destroy_flags(c->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	}
	if (c->pipefd[0] >= 0)
		close(c->pipefd[0]);
	if (c->pipefd[1] >= 0)
		close(c->pipefd[1]);
	f1_kafka_client_destroy(c->client);	/* reports the last lines */
	pfree(c);
}

rd_kafka_message_t *
f1_consumer_poll(F1Consumer *c)
{
	rd_kafka_message_t *msg;

	HOLD_INTERRUPTS();
	msg = rd_kafka_consumer_poll(c->rk, 0);
	RESUME_INTERRUPTS();
	return msg;
}

int
f1_consumer_wait_fd(F1Consumer *c)
{
	return c->pipefd[0];
}

void
f1_consumer_clear_wait_fd(F1Consumer *c)
{
	char		buf[256];

	while (read(c->pipefd[0], buf, sizeof(buf)) > 0)
		;
}

void
f1_consumer_report_logs(F1Consumer *c)
{
	f1_kafka_client_report(c->client);
}

bool
f1_consumer_broken(F1Consumer *c)
{
	return c->broken || f1_kafka_client_fatal(c->client);
}

bool
f1_consumer_reassign(F1Consumer *c)
{
	rd_kafka_topic_partition_list_t *parts = NULL;
	bool		ok;

	if (rd_kafka_assignment(c->rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return false;
	ok = c->assign(parts, c->arg) &&
		rd_kafka_assign(c->rk, parts) == RD_KAFKA_RESP_ERR_NO_ERROR;
	rd_kafka_topic_partition_list_destroy(parts);
	if (!ok)
		c->broken = true;
	return ok;
}

void
f1_consumer_commit_async(F1Consumer *c, rd_kafka_topic_partition_list_t *offsets)
{
	/* best effort: the database holds the real offsets */
	(void) rd_kafka_commit(c->rk, offsets, 1);
}

int64
f1_consumer_high_watermark(F1Consumer *c, const char *topic, int32 partition)
{
	int64_t		lo,
				hi;

	if (rd_kafka_get_watermark_offsets(c->rk, topic, partition, &lo, &hi) !=
		RD_KAFKA_RESP_ERR_NO_ERROR || hi < 0)
		return -1;
	return hi;
}
