/*
 * src/sink/topic_check.c — makes sure the upsert topic is compacted: once
 * per producer build, the sink creates f1tel.enriched_topic with
 * cleanup.policy=compact if it is missing, and WARNs if an existing one is
 * not compacted (its cleanup.policy is not exactly "compact").
 *
 * The steps, through librdkafka's admin API on the producer's own handle:
 * CreateTopics (the broker's default partitions and replication factor,
 * cleanup.policy=compact); unless that created it, DescribeConfigs of the
 * topic.  A broker that has no admin API (the embedded test broker
 * f1tel-broker, whose admin requests wait for a controller it never names)
 * or does not answer within ADMIN_TIMEOUT_MS ends the check with one LOG
 * line: the sink carries on without it.
 *
 * Rules a reader must know:
 *  - Asynchronous: the requests' results arrive on a queue of our own that
 *    f1_topic_check_poll() reads without waiting (rd_kafka_queue_poll(q, 0))
 *    on the worker's main thread; no callback is involved, so every ereport
 *    here runs outside librdkafka.
 *  - The producer would auto-create a missing topic (not compacted) at its
 *    first produce (allow.auto.create.topics is true for producers), so
 *    topic.c holds the first round back until the check is done or
 *    GATE_MS passed; the worker's loop goes on meanwhile (BigQuery too).
 *    If the gate passes first, the check still ends and warns as it should.
 */
#include "postgres.h"

#include <librdkafka/rdkafka.h>

#include "utils/timestamp.h"

#include "sink/sink.h"

#define ADMIN_TIMEOUT_MS	5000	/* each request's, and the broker's to create */
#define GATE_MS				(2 * ADMIN_TIMEOUT_MS + 1000)

typedef enum CheckStep
{
	STEP_NONE,					/* no check running */
	STEP_CREATE,				/* CreateTopics sent */
	STEP_DESCRIBE,				/* DescribeConfigs sent */
} CheckStep;

static CheckStep step = STEP_NONE;
static rd_kafka_t *rk;
static rd_kafka_queue_t *queue;
static char topic[256];
static TimestampTz gate_deadline;

static rd_kafka_AdminOptions_t *
admin_options(rd_kafka_admin_op_t op)
{
	rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, op);
	char		errstr[256];

	if (ao == NULL)
		return NULL;
	if (rd_kafka_AdminOptions_set_request_timeout(ao, ADMIN_TIMEOUT_MS, errstr, sizeof(errstr)) ||
		(op == RD_KAFKA_ADMIN_OP_CREATETOPICS &&
		 rd_kafka_AdminOptions_set_operation_timeout(ao, ADMIN_TIMEOUT_MS, errstr, sizeof(errstr))))
	{
		rd_kafka_AdminOptions_destroy(ao);
		return NULL;
	}
	return ao;
}

/* The check ends: nothing more to wait for. */
static void
finish(void)
{
	if (queue != NULL)
		rd_kafka_queue_destroy(queue);
	queue = NULL;
	step = STEP_NONE;
}

static void
could_not_check(const char *why)
{
	ereport(LOG,
			(errmsg("f1tel sink: could not check that the topic \"%s\" is compacted: %s", topic, why),
			 errdetail("The sink goes on; the broker may have no admin API (the embedded test broker f1tel-broker has none) or may refuse it to this client."),
			 errhint("Make sure the topic has cleanup.policy=compact.")));
	finish();
}

static void
send_create(void)
{
	char		errstr[256];
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, -1, -1, errstr, sizeof(errstr));
	rd_kafka_AdminOptions_t *ao = admin_options(RD_KAFKA_ADMIN_OP_CREATETOPICS);

	if (nt == NULL || ao == NULL ||
		rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact") != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		if (nt)
			rd_kafka_NewTopic_destroy(nt);
		if (ao)
			rd_kafka_AdminOptions_destroy(ao);
		could_not_check(nt == NULL ? errstr : "could not set up the request");
		return;
	}
	rd_kafka_CreateTopics(rk, &nt, 1, ao, queue);
	rd_kafka_NewTopic_destroy(nt);
	rd_kafka_AdminOptions_destroy(ao);
	step = STEP_CREATE;
}

static void
send_describe(void)
{
	rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
	rd_kafka_AdminOptions_t *ao = admin_options(RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);

	if (res == NULL || ao == NULL)
	{
		if (res)
			rd_kafka_ConfigResource_destroy(res);
		if (ao)
			rd_kafka_AdminOptions_destroy(ao);
		could_not_check("could not set up the request");
		return;
	}
	rd_kafka_DescribeConfigs(rk, &res, 1, ao, queue);
	rd_kafka_ConfigResource_destroy(res);
	rd_kafka_AdminOptions_destroy(ao);
	step = STEP_DESCRIBE;
}

void
f1_topic_check_start(rd_kafka_t *producer, const char *name)
{
	f1_topic_check_stop();
	rk = producer;
	strlcpy(topic, name, sizeof(topic));
	queue = rd_kafka_queue_new(rk);
	gate_deadline = GetCurrentTimestamp() + GATE_MS * INT64CONST(1000);
	send_create();
}

void
f1_topic_check_stop(void)
{
	finish();
	rk = NULL;
}

static void
created(rd_kafka_event_t *ev)
{
	size_t		n;
	const rd_kafka_topic_result_t **tr =
		rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
	rd_kafka_resp_err_t err = n > 0 ? rd_kafka_topic_result_error(tr[0]) : RD_KAFKA_RESP_ERR__FAIL;

	if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		ereport(LOG,
				(errmsg("f1tel sink: created the topic \"%s\" with cleanup.policy=compact", topic),
				 errdetail("With the broker's default partition count and replication factor.")));
		finish();
		return;
	}
	/* already there (or not ours to create): is it compacted? */
	send_describe();
}

static void
described(rd_kafka_event_t *ev)
{
	size_t		n,
				nc;
	const rd_kafka_ConfigResource_t **rs =
		rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
	const rd_kafka_ConfigEntry_t **ce;
	const char *policy = NULL;

	if (n < 1)
	{
		could_not_check("the broker described no topic");
		return;
	}
	if (rd_kafka_ConfigResource_error(rs[0]) != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		could_not_check(rd_kafka_err2str(rd_kafka_ConfigResource_error(rs[0])));
		return;
	}
	ce = rd_kafka_ConfigResource_configs(rs[0], &nc);
	for (size_t i = 0; i < nc; i++)
		if (strcmp(rd_kafka_ConfigEntry_name(ce[i]), "cleanup.policy") == 0)
			policy = rd_kafka_ConfigEntry_value(ce[i]);
	if (policy == NULL)
		could_not_check("the broker did not say its cleanup.policy");
	else if (strcmp(policy, "compact") != 0)
	{
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("f1tel sink: the topic \"%s\" is not compacted (cleanup.policy=%s)", topic, policy),
				 errdetail("A reader of the topic from its beginning can find laps missing (deleted by retention) or several values of a lap; with cleanup.policy=compact it finds one value per lap."),
				 errhint("Make it compacted: kafka-configs.sh --bootstrap-server HOST:PORT --alter --entity-type topics --entity-name %s --add-config cleanup.policy=compact", topic)));
		finish();
	}
	else
		finish();
}

bool
f1_topic_check_poll(void)
{
	rd_kafka_event_t *ev;

	while (queue != NULL && (ev = rd_kafka_queue_poll(queue, 0)) != NULL)
	{
		if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR)
			could_not_check(rd_kafka_event_error_string(ev));
		else if (step == STEP_CREATE && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_CREATETOPICS_RESULT)
			created(ev);
		else if (step == STEP_DESCRIBE && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT)
			described(ev);
		rd_kafka_event_destroy(ev);
	}
	return step == STEP_NONE || GetCurrentTimestamp() >= gate_deadline;
}
