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
 * syntax).  Properties that f1tel sets itself (reserved) are refused, and so
 * are secret ones (f1_kafka_conf_is_secret: they belong in the file).
 * On error returns false and writes a reason into errbuf; the reason never
 * contains a value, since values may be secrets, nor a name that may be
 * the tail of a value cut at an unescaped comma.
 */
extern bool f1_kafka_conf_apply(rd_kafka_conf_t *conf, const char *spec,
								char *errbuf, size_t errlen);

/*
 * Apply a file of librdkafka properties: one "name=value" per line (the value
 * is the rest of the line, commas included), blank lines and lines starting
 * with '#' ignored.  Secrets belong here rather than in f1tel.kafka_config:
 * PostgreSQL logs the new value of a changed setting at reload.
 * The same error conventions; the reason names the line, never a value.
 */
extern bool f1_kafka_conf_apply_file(rd_kafka_conf_t *conf, const char *path,
									 char *errbuf, size_t errlen);

/*
 * Whether a property's value is a secret (sasl.password, ssl.key.password,
 * ssl.key.pem, ...): refused in f1tel.kafka_config, allowed in the file.
 */
extern bool f1_kafka_conf_is_secret(const char *name);

/* Set one property, with the same error conventions. */
extern bool f1_kafka_conf_set(rd_kafka_conf_t *conf, const char *name,
							  const char *value, char *errbuf, size_t errlen);

#endif							/* F1TEL_KAFKA_CONF_H */
