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
 * Threads: delivery reports, logs and errors are served by rd_kafka_poll()
 * on the worker's main thread (log.queue); callbacks only record results.
 */
#include "postgres.h"

#include <librdkafka/rdkafka.h>

#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "shared/guc.h"
#include "shared/kafka_conf.h"
#include "sink/sink.h"

static rd_kafka_t *producer;
static char *producer_fingerprint;
static char *first_error;		/* of the round, from callbacks */

static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	F1SinkChange *c = m->_private;

	if (c == NULL)
		return;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
		c->state = F1_CHANGE_DONE;
	else if (first_error == NULL)
		first_error = psprintf("delivery to %s failed: %s", f1tel_enriched_topic, rd_kafka_err2str(m->err));
}

static void
log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	/*
	 * served on the main thread (log.queue); LOG and WARNING do not jump.
	 * CONFWARN: the consumer properties of f1tel.kafka_config, which a
	 * producer ignores.
	 */
	ereport(level <= 4 && strcmp(fac, "CONFWARN") != 0 ? WARNING : LOG,
			(errmsg_internal("f1tel sink librdkafka %s: %s", fac, buf)));
}

static char *
fingerprint(void)
{
	return psprintf("%s\n%s\n%s\n%s", f1tel_brokers, f1tel_kafka_config,
					f1tel_kafka_config_file, f1tel_enriched_topic);
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
}

static bool
open_producer(char **error)
{
	rd_kafka_conf_t *conf;
	char		errbuf[512];
	char	   *fp = fingerprint();
	static const char *const fixed[][2] = {
		{"enable.idempotence", "true"},
		{"acks", "all"},
		{"log.queue", "true"},
		{"client.id", "f1tel-sink"},
		{"linger.ms", "5"},
		{"reconnect.backoff.max.ms", "2000"},
		{NULL, NULL}
	};

	if (producer != NULL && strcmp(fp, producer_fingerprint) == 0)
		return true;
	f1_topic_close();
	conf = rd_kafka_conf_new();
	if (!f1_kafka_conf_set(conf, "bootstrap.servers", f1tel_brokers, errbuf, sizeof(errbuf)))
		goto fail;
	for (int i = 0; fixed[i][0] != NULL; i++)
		if (!f1_kafka_conf_set(conf, fixed[i][0], fixed[i][1], errbuf, sizeof(errbuf)))
			goto fail;
	/* the consumer-only properties of f1tel.kafka_config are ignored by a producer */
	if (!f1_kafka_conf_apply(conf, f1tel_kafka_config, errbuf, sizeof(errbuf)) ||
		!f1_kafka_conf_apply_file(conf, f1tel_kafka_config_file, errbuf, sizeof(errbuf)))
		goto fail;
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	rd_kafka_conf_set_log_cb(conf, log_cb);
	producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errbuf, sizeof(errbuf));
	if (producer == NULL)
		goto fail;
	rd_kafka_set_log_queue(producer, NULL);
	if (producer_fingerprint)
		pfree(producer_fingerprint);
	producer_fingerprint = MemoryContextStrdup(TopMemoryContext, fp);
	return true;

fail:
	if (producer == NULL)
		rd_kafka_conf_destroy(conf);
	*error = psprintf("could not create the Kafka producer: %s", errbuf);
	return false;
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
			rd_kafka_poll(producer, 100);
			CHECK_FOR_INTERRUPTS();
		}
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			*error = psprintf("could not produce to %s: %s", f1tel_enriched_topic, rd_kafka_err2str(err));
			break;
		}
		outstanding++;
		rd_kafka_poll(producer, 0);
	}

	/* wait for the delivery reports, checking for SIGTERM */
	deadline = GetCurrentTimestamp() + 60 * USECS_PER_SEC;
	while (rd_kafka_outq_len(producer) > 0 && GetCurrentTimestamp() < deadline)
	{
		rd_kafka_poll(producer, 100);
		CHECK_FOR_INTERRUPTS();
	}
	rd_kafka_poll(producer, 0);
	for (int i = 0; i < n; i++)
		if (ch[i].state == F1_CHANGE_DONE && strcmp(ch[i].table, "driver_laps") == 0)
			stats->rows++;
	stats->requests += outstanding;
	if (*error == NULL && first_error != NULL)
		*error = first_error;
	if (rd_kafka_outq_len(producer) > 0)
	{
		/* undelivered: forget them, they stay queued in the database */
		rd_kafka_purge(producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		/* serve every report now: they point into this round's changes */
		deadline = GetCurrentTimestamp() + 5 * USECS_PER_SEC;
		while (rd_kafka_outq_len(producer) > 0 && GetCurrentTimestamp() < deadline)
			rd_kafka_poll(producer, 50);
		if (rd_kafka_outq_len(producer) > 0)
			f1_topic_close();	/* never let a late report see freed memory */
		if (*error == NULL)
			*error = psprintf("delivery to %s timed out", f1tel_enriched_topic);
	}
	return *error == NULL;
}
