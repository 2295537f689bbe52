/*
 * src/shared/kafka_client.h — the one way f1tel builds a librdkafka client:
 * the ingest consumer (src/ingest/consumer.c) and the sink's producer
 * (src/sink/topic.c) alike.
 *
 * Settings, in order: bootstrap.servers (f1tel.brokers), the role's fixed
 * properties and defaults, log.queue=true, then f1tel.kafka_config and the
 * file f1tel.kafka_config_file (which may override the defaults but not the
 * reserved properties: src/shared/kafka_conf.c).  Errors name a property,
 * never its value.
 *
 * The callback rule (threads): with log.queue=true, librdkafka serves log_cb
 * and error_cb from rd_kafka_poll()/rd_kafka_consumer_poll() on the worker's
 * main thread, never on its own threads.  Even there they only record a line
 * into the client's ring (plain C: no palloc, no ereport);
 * f1_kafka_client_report() turns the lines into ereports after the poll has
 * returned.  So no ereport can process an interrupt or longjmp through
 * librdkafka's frames.  The caller's own callbacks (delivery reports,
 * rebalances) follow the same rule or hold interrupts (see their files).
 *
 * The fingerprint covers every input of the configuration, the content of
 * f1tel.kafka_config_file included, so a rotated secret rebuilds the client
 * at the next reload (f1_kafka_client_changed()).
 */
#ifndef F1TEL_KAFKA_CLIENT_H
#define F1TEL_KAFKA_CLIENT_H

#include "postgres.h"

#include <librdkafka/rdkafka.h>

typedef struct F1KafkaClient F1KafkaClient;

/* Called with the configuration before rd_kafka_new(): more callbacks, say. */
typedef void (*F1KafkaPrepare) (rd_kafka_conf_t *conf, void *arg);

/*
 * Build a client of the given type.  role prefixes its messages ("ingest",
 * "sink"); fixed is a {name, value} list ending in {NULL, NULL}; extra is the
 * part of the fingerprint only this role has (group and topics, the upsert
 * topic).  The client's opaque (rd_kafka_opaque()) is the F1KafkaClient;
 * owner is for the caller's own callbacks (f1_kafka_client_owner()).
 * NULL on failure, with a palloc'd reason in *error.
 */
extern F1KafkaClient *f1_kafka_client_create(rd_kafka_type_t type, const char *role,
											 const char *const fixed[][2], const char *extra,
											 F1KafkaPrepare prepare, void *owner,
											 char **error);
extern void f1_kafka_client_destroy(F1KafkaClient *c);

extern rd_kafka_t *f1_kafka_client_handle(F1KafkaClient *c);
extern void *f1_kafka_client_owner(const rd_kafka_t *rk);

/* From a callback (any thread): record a line to report later. */
extern void f1_kafka_client_record(F1KafkaClient *c, int elevel, const char *fmt,...) pg_attribute_printf(3, 4);

/* Main thread, outside any callback: report what the callbacks recorded. */
extern void f1_kafka_client_report(F1KafkaClient *c);

/*
 * Main thread: the latest "standing" error error_cb saw since the last call
 * (authentication, TLS, authorization: no retry cures it), as
 * "ERR_NAME: librdkafka's reason"; false if none.
 */
extern bool f1_kafka_client_take_standing(F1KafkaClient *c, int *err, char *buf, size_t len);

/* Whether an error is "standing": no retry cures it (the list is in the .c). */
extern bool f1_kafka_err_is_standing(int err);

/*
 * Main thread: the latest other error error_cb recorded since the last call
 * ("Kafka error _TRANSPORT: …", no value of a setting in it), or false.
 */
extern bool f1_kafka_client_take_error(F1KafkaClient *c, char *buf, size_t len);

/* Whether librdkafka reported a fatal error: the client must be rebuilt. */
extern bool f1_kafka_client_fatal(F1KafkaClient *c);

/* Whether a setting the client was built from has changed since. */
extern bool f1_kafka_client_changed(F1KafkaClient *c, const char *extra);

#endif							/* F1TEL_KAFKA_CLIENT_H */
