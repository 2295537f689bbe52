/*
 * src/shared/kafka_conf.h — the f1tel.kafka_config setting: librdkafka
 * properties passed through by their own names.
 *
 * Syntax: "name=value" pairs separated by commas or newlines; whitespace
 * around names and values is ignored; a backslash makes the next character
 * literal (for a comma or backslash inside a value).  Plain C, no server calls:
 * used by the GUC check hook, the ingest and sink workers, and unit tests.
 */
#ifndef F1TEL_KAFKA_CONF_H
#define F1TEL_KAFKA_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <librdkafka/rdkafka.h>

/*
 * Apply the pairs of spec to conf (conf may be NULL to only check the
 * syntax).  Properties that f1tel sets itself (reserved) are refused.
 * On error returns false and writes a reason into errbuf; the reason never
 * contains a value, since values may be secrets.
 */
extern bool f1_kafka_conf_apply(rd_kafka_conf_t *conf, const char *spec,
								char *errbuf, size_t errlen);

/* Set one property, with the same error conventions. */
extern bool f1_kafka_conf_set(rd_kafka_conf_t *conf, const char *name,
							  const char *value, char *errbuf, size_t errlen);

#endif							/* F1TEL_KAFKA_CONF_H */
