/*
 * src/ingest/partitions.c — the partitions assigned to this ingest worker
 * and where each stands (see ingest.h for the rules they keep).
 *
 * On assignment (the consumer's assign hook, on the main thread after its
 * poll has returned, never inside a librdkafka callback: src/ingest/consumer.c)
 * every partition starts from the offset stored in f1tel.kafka_offsets,
 * read in a transaction of its own; what was collected and not written is dropped
 * first, since another worker may have written it since.  A partition with
 * nothing stored starts at offset 0, not at "the beginning", so that data
 * the broker has already dropped is reported (auto.offset.reset=error)
 * instead of skipped.
 *
 * Errors: one of a partition goes to its row of f1tel.kafka_offsets
 * (ingest_status.last_error); one of a topic, or of the whole consumer
 * (authentication, TLS, the group's authorization), to every row of the
 * topics it concerns, and a topic that has no row yet gets one with
 * partition -1, removed once its partitions are assigned
 * (f1_offsets_read).  The same error is written at most every
 * REPEAT_RECORD_MS: librdkafka repeats it at each reconnection.
 * An error of the consumer as a whole that a retry may cure (a broker down
 * or unreachable, which librdkafka reports to error_cb and not per
 * partition) is recorded in last_error of every partition assigned to this
 * worker: it stands (last_error_at later than last_batch_at) until the
 * partition's next batch, so the partitions that stall show it and the
 * others clear it with their next batch.
 */
#include "postgres.h"

#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "ingest/ingest.h"
#include "ingest/offsets.h"
#include "shared/guc.h"
#include "shared/kafka_client.h"
#include "shared/xact.h"

#define REPEAT_RECORD_MS	10000

HTAB	   *f1_parts;

void
f1_parts_init(void)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(F1PartKey);
	ctl.entrysize = sizeof(F1Part);
	f1_parts = hash_create("f1tel ingest partitions", 64, &ctl, HASH_ELEM | HASH_BLOBS);
}

F1Part *
f1_part(const char *topic, int32 partition, bool create)
{
	F1PartKey	key;
	bool		found;

	memset(&key, 0, sizeof(key));
	strlcpy(key.topic, topic, F1_TOPIC_MAXLEN);
	key.partition = partition;
	return hash_search(f1_parts, &key, create ? HASH_ENTER : HASH_FIND, &found);
}

/*
 * The queue has run dry: if an assigned partition still has data at its
 * leader (the high watermark as last seen, past what was collected or
 * stored), wake the fetcher of the one with the most (consumer.h,
 * f1_consumer_wake_fetcher).  One ListOffsets, at most every few ms.
 */
void
f1_parts_wake_fetcher(void)
{
	HASH_SEQ_STATUS seq;
	F1Part	   *p;
	F1Part	   *most = NULL;
	int64		most_lag = 0;

	/* a loop that runs dry at live pace comes here often: no scan unless a wake may go */
	if (!f1_consumer_wake_due(f1_ingest_consumer))
		return;
	hash_seq_init(&seq, f1_parts);
	while ((p = hash_seq_search(&seq)) != NULL)
	{
		int64		pos = p->next >= 0 ? p->next : Max(p->stored, 0);
		int64		hw;
		int64		lag;

		if (!p->assigned)
			continue;
		hw = f1_consumer_high_watermark(f1_ingest_consumer, p->key.topic, p->key.partition);
		lag = hw - pos;
		if (lag > most_lag)
		{
			most_lag = lag;
			most = p;
		}
	}
	if (most != NULL)
		(void) f1_consumer_wake_fetcher(f1_ingest_consumer, most->key.topic, most->key.partition);
}

void
f1_parts_reset(int what)
{
	HASH_SEQ_STATUS seq;
	F1Part	   *p;

	hash_seq_init(&seq, f1_parts);
	while ((p = hash_seq_search(&seq)) != NULL)
	{
		if (what & F1_PART_ASSIGNED)
			p->assigned = false;
		if (what & F1_PART_COLLECTED)
			p->first = p->next = -1;
		if (what & F1_PART_COUNTS)
			p->nrows = p->ndead = 0;
	}
}

typedef struct AssignArgs
{
	rd_kafka_topic_partition_list_t *list;
	int64	   *stored;
} AssignArgs;

static void
read_stored(void *arg)
{
	AssignArgs *a = arg;
	int			n = a->list->cnt;
	const char **topics = palloc(Max(n, 1) * sizeof(char *));
	int32	   *ps = palloc(Max(n, 1) * sizeof(int32));

	for (int i = 0; i < n; i++)
	{
		topics[i] = a->list->elems[i].topic;
		ps[i] = a->list->elems[i].partition;
	}
	f1_offsets_read(f1tel_group_id, n, topics, ps, a->stored);
}

bool
f1_parts_assign(rd_kafka_topic_partition_list_t *list, void *arg)
{
	AssignArgs	a;

	if (!f1_consumer_outside_poll("reading the stored offsets (assign hook)"))
		return false;
	f1_collected_discard();
	a.list = list;
	a.stored = palloc(Max(list->cnt, 1) * sizeof(int64));
	if (!f1_xact_run(read_stored, &a, "f1tel ingest: reading offsets"))
		return false;

	f1_parts_reset(F1_PART_ASSIGNED);
	for (int i = 0; i < list->cnt; i++)
	{
		rd_kafka_topic_partition_t *tp = &list->elems[i];
		F1Part	   *p = f1_part(tp->topic, tp->partition, true);

		p->assigned = true;
		p->stored = a.stored[i];
		p->first = -1;
		p->next = -1;
		p->nrows = 0;
		p->ndead = 0;
		tp->offset = a.stored[i] >= 0 ? a.stored[i] : 0;
	}
	return true;
}

void
f1_parts_revoke(void *arg)
{
	if (!f1_consumer_outside_poll("dropping the collected messages (revoke hook)"))
		return;
	f1_collected_discard();
	f1_parts_reset(F1_PART_ASSIGNED);
}

typedef struct ErrorArgs
{
	const char *topic;
	int32		partition;
	const char *error;
} ErrorArgs;

static void
record_error(void *arg)
{
	ErrorArgs  *e = arg;

	f1_offsets_record_error(f1tel_group_id, e->topic, e->partition, e->error);
}

/* What to do about an error that waits for someone, or NULL. */
static const char *
error_hint(int err)
{
	switch (err)
	{
		case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
			return "The stored offset is no longer on the broker (retention). Choose where to resume with f1tel.reset_offset(), then SELECT f1tel.restart_workers().";
		case RD_KAFKA_RESP_ERR__AUTHENTICATION:
		case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
			return "Check security.protocol, sasl.mechanisms, sasl.username and sasl.password in the file named by f1tel.kafka_config_file, then reload; f1tel retries meanwhile.";
		case RD_KAFKA_RESP_ERR__SSL:
			return "Check ssl.ca.location (the CA that signed the brokers' certificates) and, with a client certificate, ssl.certificate.location and ssl.key.location; then reload.";
		case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
			return "The Kafka user needs READ and DESCRIBE on every topic f1tel consumes (ACLs); ingest of the topic starts by itself once they are granted.";
		case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
			return "The Kafka user needs READ on the consumer group named by f1tel.group_id (an ACL); ingest starts by itself once it is granted.";
		default:
			return NULL;
	}
}

void
f1_parts_report_error(rd_kafka_message_t *m)
{
	const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : NULL;
	const char *hint = error_hint(m->err);
	char	   *text;

	if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
		return;
	text = psprintf("%s: %s", rd_kafka_err2name(m->err), rd_kafka_message_errstr(m));
	/* an ACL is the topic's: librdkafka names partition 0 or none */
	if (m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
		f1_parts_report_consumer_error(topic, m->err, text, true);
	else if (topic != NULL && m->partition >= 0)
	{
		ErrorArgs	e = {topic, m->partition, text};

		ereport(WARNING,
				(errcode(ERRCODE_CONNECTION_EXCEPTION),
				 errmsg("f1tel ingest: topic \"%s\" partition %d: %s", topic, m->partition, text),
				 hint ? errhint("%s", hint) : 0));
		(void) f1_xact_run(record_error, &e, "f1tel ingest: recording an error");
	}
	else if (f1_kafka_err_is_standing(m->err))
		f1_parts_report_consumer_error(topic, m->err, text, true);
	else
		ereport(WARNING,
				(errcode(ERRCODE_CONNECTION_EXCEPTION),
				 errmsg("f1tel ingest: %s", text)));
}

typedef struct TopicErrorArgs
{
	int			n;
	const char **topics;
	const char *error;
} TopicErrorArgs;

static void
record_topic_errors(void *arg)
{
	TopicErrorArgs *e = arg;

	f1_offsets_record_topic_errors(f1tel_group_id, e->n, e->topics, e->error);
}

void
f1_parts_report_consumer_error(const char *topic, int err, const char *text, bool log)
{
	static int	last_err;
	static char last_topic[F1_TOPIC_MAXLEN];
	static TimestampTz last_at;
	const char *hint = error_hint(err);
	const char *topics[F1E_COUNT];
	TopicErrorArgs e = {0, topics, text};

	if (log)
		ereport(WARNING,
				(errcode(ERRCODE_CONNECTION_EXCEPTION),
				 topic ? errmsg("f1tel ingest: topic \"%s\": %s", topic, text) :
				 errmsg("f1tel ingest: %s", text),
				 hint ? errhint("%s", hint) : 0));
	/* the same error again soon: it is in the table already */
	if (err == last_err && strcmp(topic ? topic : "", last_topic) == 0 &&
		!TimestampDifferenceExceeds(last_at, GetCurrentTimestamp(), REPEAT_RECORD_MS))
		return;
	if (!log)
		ereport(WARNING,
				(errcode(ERRCODE_CONNECTION_EXCEPTION),
				 errmsg("f1tel ingest: Kafka refused the consumer: %s", text),
				 hint ? errhint("%s", hint) : 0));
	last_err = err;
	strlcpy(last_topic, topic ? topic : "", sizeof(last_topic));
	last_at = GetCurrentTimestamp();
	if (topic != NULL)
		topics[e.n++] = topic;
	else
		for (int i = 0; i < F1E_COUNT; i++)
			topics[e.n++] = f1tel_topics[i];
	(void) f1_xact_run(record_topic_errors, &e, "f1tel ingest: recording an error");
}

int
f1_parts_list(F1PartSet which, const char ***topics, int32 **partitions)
{
	HASH_SEQ_STATUS seq;
	F1Part	   *p;
	long		cap = Max(hash_get_num_entries(f1_parts), 1);
	int			n = 0;

	*topics = palloc(cap * sizeof(char *));
	*partitions = palloc(cap * sizeof(int32));
	hash_seq_init(&seq, f1_parts);
	while ((p = hash_seq_search(&seq)) != NULL)
	{
		if (which == F1P_ASSIGNED ? !p->assigned : p->first < 0)
			continue;
		(*topics)[n] = p->key.topic;
		(*partitions)[n] = p->key.partition;
		n++;
	}
	return n;
}

typedef struct ConsumerErrorArgs
{
	const char *text;
} ConsumerErrorArgs;

static void
record_consumer_error(void *arg)
{
	ConsumerErrorArgs *e = arg;
	const char **topics;
	int32	   *ps;
	int			n = f1_parts_list(F1P_ASSIGNED, &topics, &ps);

	f1_offsets_record_errors(f1tel_group_id, n, topics, ps, e->text, false);
}

void
f1_parts_record_consumer_error(const char *text)
{
	ConsumerErrorArgs e = {text};

	(void) f1_xact_run(record_consumer_error, &e, "f1tel ingest: recording a Kafka error");
}

/*
 * The high watermarks of all assigned partitions, from librdkafka's cache
 * (never blocks), so that ingest_status shows the lag of partitions no batch
 * touched lately too.
 */
static void
store_watermarks(void *arg)
{
	const char **topics;
	int32	   *ps;
	int			n = f1_parts_list(F1P_ASSIGNED, &topics, &ps);
	int64	   *hw = palloc(Max(n, 1) * sizeof(int64));

	for (int i = 0; i < n; i++)
		hw[i] = f1_consumer_high_watermark(f1_ingest_consumer, topics[i], ps[i]);
	f1_offsets_set_watermarks(f1tel_group_id, n, topics, ps, hw);
}

void
f1_parts_refresh_watermarks(void)
{
	(void) f1_xact_run(store_watermarks, NULL, "f1tel ingest: refreshing watermarks");
}
