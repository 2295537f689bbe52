/*
 * src/sink/topic.c — the upsert topic f1tel.enriched_topic (f1-laps-enriched).
 *
 * Each driver_laps change is produced with the lap's natural key as a JSON
 * key ({"session_key":…,"driver_number":…,"lap_number":…}) and the enriched
 * row as a JSON value, by an idempotent producer with acks=all; a change
 * counts as done only when its delivery report says so, so a consumer that
 * keeps the last value per key ends with exactly f1tel.driver_laps.
 * race_control changes are not for this topic.
 *
 * The producer is built by src/shared/kafka_client.c, the one client builder
 * (the consumer's too): the same settings, fingerprint and callback rule.
 * It is rebuilt when a setting changes and after a fatal error (an
 * idempotent producer that lost its sequence cannot go on).
 *
 * A round does not block the worker: f1_topic_start() produces it and
 * returns, f1_topic_poll() serves the delivery reports on each pass of the
 * worker's loop (which pushes to BigQuery meanwhile) and ends the round once
 * every report is in or ROUND_DEADLINE_MS passed (a broker down: the rest is
 * purged and stays queued in the database).  A change the topic can never
 * take (larger than message.max.bytes, say: permanent_error()) is marked
 * dead, with librdkafka's reason, and the round goes on without it.
 *
 * Compaction (topic_check.c): each new producer first creates the topic
 * compacted if it is missing, or checks an existing one; the first round
 * is held back (in flight, not produced: round_held) until that check is
 * done or its gate passed, so that the producer cannot auto-create the
 * topic, uncompacted, before.
 *
 * Threads and callbacks: delivery reports, logs and errors are served by
 * rd_kafka_poll() on the worker's main thread (log.queue); the callbacks
 * only record (no palloc, no ereport), and serve() reports after each poll.
 * Interrupts are held during a poll, and the exit hook (f1_topic_close from
 * proc_exit) leaves the producer alone if it ran inside one, so a SIGTERM
 * can never re-enter the producer from its own callback.
 */
#include "postgres.h"

#include <librdkafka/rdkafka.h>

#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "shared/guc.h"
#include "shared/kafka_client.h"
#include "sink/sink.h"

static F1KafkaClient *client;	/* builder, callbacks, log ring: kafka_client.c */
static rd_kafka_t *producer;
static char *first_error;		/* of the round, from callbacks */
static char first_error_buf[512];
static bool in_poll;			/* inside rd_kafka_poll: the exit hook keeps off */
static TimestampTz round_deadline;
static int	round_produced;
static bool round_held;			/* read, waiting for the topic check */

#define ROUND_DEADLINE_MS	60000

/*
 * Errors that say this message can never be delivered, whatever we wait
 * for: it is dead-lettered.  Everything else (a broker down, a timeout, a
 * missing permission, a fatal idempotence error) is the environment's: the
 * change stays queued and is produced again.
 */
static bool
permanent_error(rd_kafka_resp_err_t err)
{
	switch (err)
	{
		case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
		case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
		case RD_KAFKA_RESP_ERR_INVALID_MSG:
		case RD_KAFKA_RESP_ERR_INVALID_RECORD:
		case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
			return true;
		default:
			return false;
	}
}

/*
 * A delivery report, served by rd_kafka_poll() on the main thread: it only
 * records (the callback rule of src/shared/kafka_client.h).
 */
static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	F1SinkChange *c = m->_private;

	if (c == NULL)
		return;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
		c->state = F1_CHANGE_DONE;
	else if (permanent_error(m->err))
		c->kafka_err = m->err;	/* dead-lettered by f1_topic_poll */
	else if (first_error == NULL)
	{
		snprintf(first_error_buf, sizeof(first_error_buf), "delivery to %s failed: %s",
				 f1tel_enriched_topic, rd_kafka_err2str(m->err));
		first_error = first_error_buf;
	}
}

static void
prepare_producer(rd_kafka_conf_t *conf, void *owner)
{
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
}

/*
 * Drop the producer.  Nothing is flushed: what was not reported delivered
 * is still queued in the database, so an exit never waits for a broker.
 * From the exit hook inside a poll (cannot happen while callbacks only
 * record, and interrupts are held there) it leaves the producer alone: the
 * process is exiting anyway.
 */
void
f1_topic_close(void)
{
	if (in_poll)
		return;
	f1_topic_check_stop();
	round_held = false;
	if (producer != NULL)
	{
		rd_kafka_purge(producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_destroy(producer);
	}
	producer = NULL;
	f1_kafka_client_destroy(client);
	client = NULL;
}

/* Serve the producer's callbacks, then report what they recorded. */
static void
serve(int timeout_ms)
{
	HOLD_INTERRUPTS();
	in_poll = true;
	rd_kafka_poll(producer, timeout_ms);
	in_poll = false;
	RESUME_INTERRUPTS();
	f1_kafka_client_report(client);
	(void) f1_topic_check_poll();
}

static bool
open_producer(char **error)
{
	static const char *const fixed[][2] = {
		{"enable.idempotence", "true"},
		{"acks", "all"},
		{"client.id", "f1tel-sink"},
		{"linger.ms", "5"},
		{"reconnect.backoff.max.ms", "2000"},
		{NULL, NULL}
	};

	/* rebuilt when a setting changed, or after a fatal (idempotence) error */
	if (producer != NULL && f1_kafka_client_fatal(client))
	{
		ereport(LOG, (errmsg("f1tel sink: the Kafka producer had a fatal error; building a new one")));
		f1_topic_close();
	}
	else if (producer != NULL && f1_kafka_client_changed(client, f1tel_enriched_topic))
		f1_topic_close();
	if (producer != NULL)
		return true;
	client = f1_kafka_client_create(RD_KAFKA_PRODUCER, "sink", fixed, f1tel_enriched_topic,
									prepare_producer, NULL, error);
	if (client == NULL)
		return false;
	producer = f1_kafka_client_handle(client);
	f1_topic_check_start(producer, f1tel_enriched_topic);
	return true;
}

/* Produce the round; true if it is in flight (see f1_topic_start). */
static bool
produce_round(F1SinkChange *ch, int n, F1SinkStats *stats, char **error)
{
	for (int i = 0; i < n; i++)
	{
		F1SinkChange *c = &ch[i];
		rd_kafka_resp_err_t err;

		if (c->state != F1_CHANGE_PENDING)
			continue;
		if (strcmp(c->table, "driver_laps") != 0)
		{
			c->state = F1_CHANGE_SKIPPED;
			continue;
		}
		err = rd_kafka_producev(producer,
								RD_KAFKA_V_TOPIC(f1tel_enriched_topic),
								RD_KAFKA_V_KEY(c->key, strlen(c->key)),
								/* a deleted lap: a tombstone for its key */
								RD_KAFKA_V_VALUE(c->deleted ? NULL : c->row,
												 c->deleted ? 0 : c->rowlen),
								RD_KAFKA_V_OPAQUE(c),
								RD_KAFKA_V_END);
		if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;				/* the rest waits for the next round */
		if (permanent_error(err))
		{
			c->state = F1_CHANGE_DEAD;
			c->reason = psprintf("Kafka refused the message (%zu bytes): %s",
								 c->rowlen, rd_kafka_err2str(err));
			continue;
		}
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			*error = psprintf("could not produce to %s: %s", f1tel_enriched_topic, rd_kafka_err2str(err));
			break;
		}
		round_produced++;
	}
	stats->requests += round_produced;
	round_deadline = GetCurrentTimestamp() + ROUND_DEADLINE_MS * INT64CONST(1000);
	serve(0);
	return *error == NULL || round_produced > 0;
}

bool
f1_topic_start(F1SinkChange *ch, int n, F1SinkStats *stats, char **error)
{
	*error = NULL;
	first_error = NULL;
	round_produced = 0;
	if (!open_producer(error))
		return false;
	serve(0);
	if (!f1_topic_check_poll())
	{
		round_held = true;		/* f1_topic_poll produces it */
		return true;
	}
	return produce_round(ch, n, stats, error);
}

bool
f1_topic_poll(F1SinkChange *ch, int n, F1SinkStats *stats, char **error)
{
	TimestampTz deadline;

	if (producer == NULL)
		return true;
	serve(0);
	if (round_held)
	{
		if (!f1_topic_check_poll())
			return false;
		round_held = false;
		if (!produce_round(ch, n, stats, error))
			return true;		/* nothing in flight: over, with its error */
		return false;
	}
	if (rd_kafka_outq_len(producer) > 0 && GetCurrentTimestamp() < round_deadline)
		return false;			/* reports still to come */

	if (rd_kafka_outq_len(producer) > 0)
	{
		/* undelivered: forget them, they stay queued in the database */
		rd_kafka_purge(producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		/* serve every report now: they point into this round's changes */
		deadline = GetCurrentTimestamp() + 5 * USECS_PER_SEC;
		while (rd_kafka_outq_len(producer) > 0 && GetCurrentTimestamp() < deadline)
			serve(50);
		if (rd_kafka_outq_len(producer) > 0)
			f1_topic_close();	/* never let a late report see freed memory */
		if (*error == NULL && first_error == NULL)
			*error = psprintf("delivery to %s timed out", f1tel_enriched_topic);
	}
	for (int i = 0; i < n; i++)
	{
		F1SinkChange *c = &ch[i];

		if (c->state == F1_CHANGE_DONE)
			stats->rows++;
		else if (c->state == F1_CHANGE_PENDING && c->kafka_err != 0)
		{
			c->state = F1_CHANGE_DEAD;
			c->reason = psprintf("Kafka refused the message (%zu bytes): %s",
								 c->rowlen, rd_kafka_err2str((rd_kafka_resp_err_t) c->kafka_err));
		}
	}
	if (*error == NULL && first_error != NULL)
		*error = pstrdup(first_error);
	return true;
}
