/*
 * src/ingest/consumer.c — the ingest worker's librdkafka consumer.
 *
 * Built from the GUCs: f1tel.brokers, f1tel.group_id, the eight topic names
 * and f1tel.kafka_config.  f1tel's own settings come first and are fixed:
 * enable.auto.commit=false (the offsets table is the truth),
 * auto.offset.reset=error (data lost to retention is reported, never skipped),
 * log.queue=true (logs are served on the main thread).
 *
 * Threads: see consumer.h.  librdkafka calls log_cb, error_cb and
 * rebalance_cb from rd_kafka_consumer_poll() on the calling (main) thread;
 * log_cb and error_cb only copy into a ring that f1_consumer_report_logs()
 * turns into ereports, so no ereport can longjmp through librdkafka's frames.
 * The rebalance callback runs database code under PG_TRY with interrupts
 * held, for the same reason.
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
#include "shared/kafka_conf.h"

#define LOG_RING_SIZE	64
#define LOG_LINE_LEN	512

typedef struct LogLine
{
	int			elevel;
	char		text[LOG_LINE_LEN];
} LogLine;

struct F1Consumer
{
	rd_kafka_t *rk;
	rd_kafka_queue_t *queue;
	int			pipefd[2];
	F1AssignHook assign;
	F1RevokeHook revoke;
	void	   *arg;
	bool		broken;
	char	   *fingerprint;
	/* logs and errors queued by callbacks, reported after the poll */
	LogLine		ring[LOG_RING_SIZE];
	int			nlines;
	int			dropped;
};

static void
push_line(F1Consumer *c, int elevel, const char *fmt,...) pg_attribute_printf(3, 4);

static void
push_line(F1Consumer *c, int elevel, const char *fmt,...)
{
	va_list		ap;

	if (c->nlines >= LOG_RING_SIZE)
	{
		c->dropped++;
		return;
	}
	c->ring[c->nlines].elevel = elevel;
	va_start(ap, fmt);
	vsnprintf(c->ring[c->nlines].text, LOG_LINE_LEN, fmt, ap);
	va_end(ap);
	c->nlines++;
}

/* librdkafka's syslog levels to ours: errors and warnings stay visible. */
static void
log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	F1Consumer *c = rd_kafka_opaque(rk);

	push_line(c, level <= 4 ? WARNING : LOG, "librdkafka %s: %s", fac, buf);
}

static void
error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	F1Consumer *c = opaque;

	push_line(c, WARNING, "Kafka error %s: %s",
			  rd_kafka_err2name((rd_kafka_resp_err_t) err), reason);
}

static void
rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	F1Consumer *c = opaque;

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
		push_line(c, LOG, "f1tel ingest: assigned %d partition(s)", parts->cnt);
	}
	else
	{
		c->revoke(c->arg);
		rd_kafka_assign(rk, NULL);
		push_line(c, LOG, "f1tel ingest: partitions revoked (%s)", rd_kafka_err2name(err));
	}
}

static char *
make_fingerprint(void)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfo(&s, "%s\n%s\n%s\n%s", f1tel_brokers, f1tel_group_id,
					 f1tel_kafka_config, f1tel_kafka_config_file);
	/* the file's content too, so a changed secret rebuilds the consumer */
	if (f1tel_kafka_config_file[0] != '\0')
	{
		FILE	   *f = AllocateFile(f1tel_kafka_config_file, "r");

		if (f != NULL)
		{
			char		buf[1024];
			size_t		n;

			while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
				appendBinaryStringInfo(&s, buf, n);
			FreeFile(f);
		}
	}
	for (int i = 0; i < F1E_COUNT; i++)
		appendStringInfo(&s, "\n%s", f1tel_topics[i]);
	return s.data;
}

bool
f1_consumer_config_changed(F1Consumer *c)
{
	char	   *fp = make_fingerprint();
	bool		changed = strcmp(fp, c->fingerprint) != 0;

	pfree(fp);
	return changed;
}

F1Consumer *
f1_consumer_create(F1AssignHook assign, F1RevokeHook revoke, void *arg)
{
	F1Consumer *c;
	rd_kafka_conf_t *conf;
	rd_kafka_topic_partition_list_t *topics;
	rd_kafka_resp_err_t err;
	char		errbuf[512];
	static const char *const fixed[][2] = {
		{"enable.auto.commit", "false"},
		{"enable.auto.offset.store", "false"},
		{"auto.offset.reset", "error"},
		{"enable.partition.eof", "false"},
		{"log.queue", "true"},
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
	c->fingerprint = MemoryContextStrdup(TopMemoryContext, make_fingerprint());

	conf = rd_kafka_conf_new();
	if (!f1_kafka_conf_set(conf, "bootstrap.servers", f1tel_brokers, errbuf, sizeof(errbuf)) ||
		!f1_kafka_conf_set(conf, "group.id", f1tel_group_id, errbuf, sizeof(errbuf)))
		goto conf_error;
	for (int i = 0; fixed[i][0] != NULL; i++)
		if (!f1_kafka_conf_set(conf, fixed[i][0], fixed[i][1], errbuf, sizeof(errbuf)))
			goto conf_error;
	if (!f1_kafka_conf_apply(conf, f1tel_kafka_config, errbuf, sizeof(errbuf)) ||
		!f1_kafka_conf_apply_file(conf, f1tel_kafka_config_file, errbuf, sizeof(errbuf)))
		goto conf_error;
	rd_kafka_conf_set_opaque(conf, c);
	rd_kafka_conf_set_log_cb(conf, log_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);

	/* rd_kafka_new takes ownership of conf on success */
	c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errbuf, sizeof(errbuf));
	if (c->rk == NULL)
	{
		rd_kafka_conf_destroy(conf);
		ereport(LOG,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("f1tel ingest: could not create the Kafka consumer: %s", errbuf)));
		f1_consumer_destroy(c);
		return NULL;
	}
	rd_kafka_set_log_queue(c->rk, NULL);	/* logs to the main queue ... */
	rd_kafka_poll_set_consumer(c->rk);	/* ... which is the consumer queue */
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

conf_error:
	rd_kafka_conf_destroy(conf);
	ereport(LOG,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("f1tel ingest: invalid Kafka configuration: %s", errbuf)));
	f1_consumer_destroy(c);
	return NULL;
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
	f1_consumer_report_logs(c);
	if (c->fingerprint)
		pfree(c->fingerprint);
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
	for (int i = 0; i < c->nlines; i++)
		ereport(c->ring[i].elevel,
				(errmsg_internal("%s", c->ring[i].text)));
	if (c->dropped > 0)
		ereport(WARNING,
				(errmsg("f1tel ingest: %d librdkafka log lines were not shown", c->dropped)));
	c->nlines = 0;
	c->dropped = 0;
}

bool
f1_consumer_broken(F1Consumer *c)
{
	return c->broken;
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
