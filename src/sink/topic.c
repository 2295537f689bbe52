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
 * Threads: delivery reports, logs and errors are served by rd_kafka_poll()
 * on the worker's main thread (log.queue); the callbacks only record, and
 * serve() reports after each poll.
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

void
f1_topic_close(void)
{
	if (producer != NULL)
	{
		rd_kafka_flush(producer, 5000);
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
	rd_kafka_poll(producer, timeout_ms);
	f1_kafka_client_report(client);
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
	if (producer != NULL &&
		(f1_kafka_client_fatal(client) || f1_kafka_client_changed(client, f1tel_enriched_topic)))
		f1_topic_close();
	if (producer != NULL)
		return true;
	client = f1_kafka_client_create(RD_KAFKA_PRODUCER, "sink", fixed, f1tel_enriched_topic,
									prepare_producer, NULL, error);
	if (client == NULL)
		return false;
	producer = f1_kafka_client_handle(client);
	return true;
}

bool
f1_topic_push(F1SinkChange *ch, int n, F1SinkStats *stats, char **error)
{
	int			outstanding = 0;
	TimestampTz deadline;

	*error = NULL;
	first_error = NULL;
	if (!open_producer(error))
		return false;

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
		for (;;)
		{
			err = rd_kafka_producev(producer,
									RD_KAFKA_V_TOPIC(f1tel_enriched_topic),
									RD_KAFKA_V_KEY(c->key, strlen(c->key)),
									/* a deleted lap: a tombstone for its key */
									RD_KAFKA_V_VALUE(c->deleted ? NULL : c->row,
													 c->deleted ? 0 : c->rowlen),
									RD_KAFKA_V_OPAQUE(c),
									RD_KAFKA_V_END);
			if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
				break;
			serve(100);
			CHECK_FOR_INTERRUPTS();
		}
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			*error = psprintf("could not produce to %s: %s", f1tel_enriched_topic, rd_kafka_err2str(err));
			break;
		}
		outstanding++;
		serve(0);
	}

	/* wait for the delivery reports, checking for SIGTERM */
	deadline = GetCurrentTimestamp() + 60 * USECS_PER_SEC;
	while (rd_kafka_outq_len(producer) > 0 && GetCurrentTimestamp() < deadline)
	{
		serve(100);
		CHECK_FOR_INTERRUPTS();
	}
	serve(0);
	for (int i = 0; i < n; i++)
		if (ch[i].state == F1_CHANGE_DONE && strcmp(ch[i].table, "driver_laps") == 0)
			stats->rows++;
	stats->requests += outstanding;
	if (*error == NULL && first_error != NULL)
		*error = pstrdup(first_error);
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
		if (*error == NULL)
			*error = psprintf("delivery to %s timed out", f1tel_enriched_topic);
	}
	return *error == NULL;
}
