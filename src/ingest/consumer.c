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
 * rd_kafka_consumer_poll() on the calling (main) thread; it runs no
 * PostgreSQL code: it records what happened (a copy of the partition list,
 * librdkafka's own allocation) and, on a revoke, gives the partitions up
 * (rd_kafka_assign(NULL), a librdkafka call).  f1_consumer_poll() acts on
 * the record after the poll has returned and before any message is handed
 * out: on a revoke it drops what was collected (the revoke hook); on an
 * assignment it reads the stored offsets from the database (the assign
 * hook, in a transaction of its own, interrupts allowed) and only then
 * assigns with them; librdkafka waits for that call.  A message returned by
 * the same poll is dropped: the new assignment fetches it again from the
 * stored offset.  f1_consumer_outside_poll() is the tripwire: the hooks
 * call it, and a call from inside a poll is reported as a bug (WARNING) and
 * rebuilds the consumer.  Its log lines are recorded for
 * f1_consumer_report_logs().
 *
 * Membership: each worker is a static member of the group (KIP-345,
 * group.instance.id = f1tel-<system identifier>-<database OID>-<worker
 * number>, instance_id() below), so a worker that died without leaving
 * (kill -9, a crash restart, an immediate shutdown) takes its partitions
 * back as soon as its successor joins, instead of after session.timeout.ms.
 * A static member does not send LeaveGroup when it closes (librdkafka
 * 2.0.2, KIP-345), so f1_consumer_destroy() unsubscribes first, which does
 * send it, and waits a bounded time for the leave to start: a worker that
 * stops cleanly (removed by a lower f1tel.ingest_workers, a SIGTERM, a
 * rebuilt consumer) hands its partitions over at once.
 */
#include "postgres.h"

#include <fcntl.h>
#include <unistd.h>

#include "lib/stringinfo.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
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
	bool		closing;		/* in f1_consumer_destroy: give everything up */
	/* what rebalance_cb recorded for the main thread */
	bool		revoked;
	rd_kafka_topic_partition_list_t *to_assign;	/* librdkafka's, or NULL */
	/* offsets written to the database, not yet committed to the broker */
	rd_kafka_topic_partition_list_t *to_commit;
	TimestampTz committed_at;
	TimestampTz wake_after;		/* f1_consumer_wake_fetcher: not before */
};

#define COMMIT_INTERVAL_MS	1000
#define WAKE_INTERVAL_MS	5
#define WAKE_TIMEOUT_MS		100
#define WAKE_BACKOFF_MS		1000	/* after a query that failed */

/* inside rd_kafka_consumer_poll() (any consumer), and what broke the rule */
static bool in_poll;
static const char *poll_violation;

bool
f1_consumer_outside_poll(const char *what)
{
	if (!in_poll)
		return true;
	if (poll_violation == NULL)
		poll_violation = what;
	return false;
}

static void
rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	F1Consumer *c = f1_kafka_client_owner(rk);

	if (c->to_assign != NULL)
	{
		rd_kafka_topic_partition_list_destroy(c->to_assign);
		c->to_assign = NULL;
	}
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS && !c->closing)
		c->to_assign = rd_kafka_topic_partition_list_copy(parts);
	else
	{
		c->revoked = true;
		if (rd_kafka_assign(rk, NULL) != RD_KAFKA_RESP_ERR_NO_ERROR)
			c->broken = true;
		f1_kafka_client_record(c->client, LOG, "f1tel ingest: partitions revoked (%s)", rd_kafka_err2name(err));
	}
}

/*
 * On the main thread, after a poll: act on what rebalance_cb recorded.
 * Returns true if there was anything.
 */
static bool
handle_rebalance(F1Consumer *c)
{
	rd_kafka_topic_partition_list_t *parts = c->to_assign;
	bool		any = c->revoked || parts != NULL;

	if (c->revoked)
	{
		c->revoked = false;
		c->revoke(c->arg);
		/* no longer ours: the new owner commits them */
		if (c->to_commit != NULL)
			rd_kafka_topic_partition_list_destroy(c->to_commit);
		c->to_commit = NULL;
	}
	if (parts != NULL)
	{
		c->to_assign = NULL;
		if (!c->assign(parts, c->arg))
		{
			c->broken = true;
			(void) rd_kafka_assign(c->rk, NULL);
		}
		else if (rd_kafka_assign(c->rk, parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
			c->broken = true;
		else
			ereport(LOG, (errmsg("f1tel ingest: assigned %d partition(s)", parts->cnt)));
		rd_kafka_topic_partition_list_destroy(parts);
	}
	if (poll_violation != NULL)
	{
		ereport(WARNING,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("f1tel ingest: BUG: %s ran inside a librdkafka poll", poll_violation),
				 errdetail("No PostgreSQL call may run inside a library callback; the consumer is rebuilt.")));
		poll_violation = NULL;
		c->broken = true;
	}
	return any;
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

/*
 * The worker's group.instance.id: the same for the same worker slot of the
 * same database of the same cluster (a restarted worker, a promoted
 * standby: the system identifier is that of its primary), different for
 * another cluster (a restored dump, a new initdb) or another worker number.
 * Kafka allows [a-zA-Z0-9._-]; digits only here.  Empty outside a worker.
 */
static void
instance_id(char *buf, size_t len)
{
	buf[0] = '\0';
	if (MyBgworkerEntry != NULL && OidIsValid(MyDatabaseId))
		snprintf(buf, len, "f1tel-" UINT64_FORMAT "-%u-%d", GetSystemIdentifier(),
				 MyDatabaseId, DatumGetInt32(MyBgworkerEntry->bgw_main_arg));
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
	char		instance[96];
	const char *fixed[][2] = {
		{"group.id", f1tel_group_id},
		{"enable.auto.commit", "false"},
		{"enable.auto.offset.store", "false"},
		{"auto.offset.reset", "error"},
		{"enable.partition.eof", "false"},
		/* defaults the user may override in f1tel.kafka_config */
		{"client.id", "f1tel-ingest"},
		{"fetch.wait.max.ms", "100"},
		/*
		 * memory: the prefetch queue and one fetch response bounded; small,
		 * since a queue that runs dry is refilled at once
		 * (f1_consumer_wake_fetcher), not a second later
		 */
		{"queued.max.messages.kbytes", "2048"},
		{"fetch.max.bytes", "1048576"},
		{"reconnect.backoff.max.ms", "2000"},
		{"group.instance.id", instance},	/* the last: dropped outside a worker */
		{NULL, NULL}
	};

	c = MemoryContextAllocZero(TopMemoryContext, sizeof(F1Consumer));
	c->assign = assign;
	c->revoke = revoke;
	c->arg = arg;
	c->pipefd[0] = c->pipefd[1] = -1;
	instance_id(instance, sizeof(instance));
	if (instance[0] == '\0')
		fixed[lengthof(fixed) - 2][0] = NULL;

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
			(errmsg("f1tel ingest: consuming from %s as group \"%s\", static member \"%s\"",
					f1tel_brokers, f1tel_group_id, instance)));
	return c;
}

/*
 * Leave the group before closing: a static member's close sends no
 * LeaveGroup, an unsubscribe does once the assignment is given up (the
 * revoke reaches rebalance_cb, which with c->closing gives everything up)
 * and the broker has answered every offset commit still in flight (which
 * is why those are sent at most once a second: f1_consumer_commit_async).
 * librdkafka empties the member id when it sends the LeaveGroup, and the
 * close that follows waits for its answer.  Bounded to 5 s (a broker that
 * is down: the partitions then wait for session.timeout.ms).
 */
static void
leave_group(F1Consumer *c)
{
	TimestampTz deadline = GetCurrentTimestamp() + 5 * USECS_PER_SEC;
	bool		left = false;

	if (rd_kafka_unsubscribe(c->rk) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return;
	while (GetCurrentTimestamp() < deadline)
	{
		char	   *member = rd_kafka_memberid(c->rk);
		rd_kafka_message_t *m;

		left = member == NULL || member[0] == '\0';
		if (member != NULL)
			rd_kafka_mem_free(c->rk, member);
		if (left)
			break;
		HOLD_INTERRUPTS();
		in_poll = true;
		m = rd_kafka_consumer_poll(c->rk, 50);
		in_poll = false;
		RESUME_INTERRUPTS();
		if (m != NULL)
			rd_kafka_message_destroy(m);
	}
	c->revoked = false;
	if (c->to_assign != NULL)
		rd_kafka_topic_partition_list_destroy(c->to_assign);
	c->to_assign = NULL;
	if (!left)
		ereport(LOG,
				(errmsg("f1tel ingest: could not leave the consumer group within 5 s"),
				 errdetail("The worker's partitions move to the other workers after session.timeout.ms.")));
}

void
f1_consumer_destroy(F1Consumer *c)
{
	if (c == NULL)
		return;
	if (c->to_assign != NULL)
		rd_kafka_topic_partition_list_destroy(c->to_assign);
	c->to_assign = NULL;
	if (c->to_commit != NULL)
		rd_kafka_topic_partition_list_destroy(c->to_commit);
	c->to_commit = NULL;
	c->closing = true;
	if (c->rk != NULL)
		leave_group(c);
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
	for (;;)
	{
		rd_kafka_message_t *msg;

		/* callbacks run in here: nothing may longjmp through librdkafka */
		HOLD_INTERRUPTS();
		in_poll = true;
		msg = rd_kafka_consumer_poll(c->rk, 0);
		in_poll = false;
		RESUME_INTERRUPTS();
		if (!handle_rebalance(c) || c->broken)
			return msg;
		/* fetched before the assignment changed: read again from the table */
		if (msg != NULL)
			rd_kafka_message_destroy(msg);
	}
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
f1_consumer_take_standing_error(F1Consumer *c, int *err, char *buf, size_t len)
{
	return f1_kafka_client_take_standing(c->client, err, buf, len);
}

bool
f1_consumer_take_error(F1Consumer *c, char *buf, size_t len)
{
	return f1_kafka_client_take_error(c->client, buf, len);
}

/*
 * A fatal error may reach the consumer as a message (m->err = _FATAL) rather
 * than through error_cb: e.g. FENCED_INSTANCE_ID, when an offset commit sent
 * before a rejoin is answered after the broker gave this static member's
 * place to its new member id.  librdkafka's own record of it is asked too.
 */
bool
f1_consumer_broken(F1Consumer *c)
{
	return c->broken || f1_kafka_client_fatal(c->client) ||
		rd_kafka_fatal_error(c->rk, NULL, 0) != RD_KAFKA_RESP_ERR_NO_ERROR;
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

/*
 * Best effort: the database holds the real offsets; the broker's copy is
 * for external lag monitors.  One asynchronous commit a second at most, of
 * the latest offset of each partition since the last: a commit per batch
 * piles up thousands of requests in flight under load, and an unsubscribe
 * (leave_group) waits for all of them.
 */
void
f1_consumer_commit_async(F1Consumer *c, rd_kafka_topic_partition_list_t *offsets)
{
	if (offsets != NULL && offsets->cnt > 0)
	{
		if (c->to_commit == NULL)
			c->to_commit = rd_kafka_topic_partition_list_new(offsets->cnt);
		for (int i = 0; i < offsets->cnt; i++)
		{
			rd_kafka_topic_partition_t *o = &offsets->elems[i];
			rd_kafka_topic_partition_t *t = rd_kafka_topic_partition_list_find(c->to_commit, o->topic,
																			  o->partition);

			if (t == NULL)
				t = rd_kafka_topic_partition_list_add(c->to_commit, o->topic, o->partition);
			t->offset = o->offset;
		}
	}
	if (c->to_commit == NULL ||
		!TimestampDifferenceExceeds(c->committed_at, GetCurrentTimestamp(), COMMIT_INTERVAL_MS))
		return;
	(void) rd_kafka_commit(c->rk, c->to_commit, 1);
	rd_kafka_topic_partition_list_destroy(c->to_commit);
	c->to_commit = NULL;
	c->committed_at = GetCurrentTimestamp();
}

bool
f1_consumer_wake_due(F1Consumer *c)
{
	return GetCurrentTimestamp() >= c->wake_after;
}

bool
f1_consumer_wake_fetcher(F1Consumer *c, const char *topic, int32 partition)
{
	int64_t		lo,
				hi;
	rd_kafka_resp_err_t err;
	TimestampTz now = GetCurrentTimestamp();

	if (now < c->wake_after)
		return false;
	/* it serves only its own reply queue: no callback of ours runs in it */
	HOLD_INTERRUPTS();
	in_poll = true;
	err = rd_kafka_query_watermark_offsets(c->rk, topic, partition, &lo, &hi, WAKE_TIMEOUT_MS);
	in_poll = false;
	RESUME_INTERRUPTS();
	/* a leader that does not answer (down, moving): no pile of requests for it */
	c->wake_after = GetCurrentTimestamp() +
		(err == RD_KAFKA_RESP_ERR_NO_ERROR ? WAKE_INTERVAL_MS : WAKE_BACKOFF_MS) * INT64CONST(1000);
	return true;
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
