/*
 * src/shared/guc.h — f1tel's configuration parameters (GUCs).
 *
 * Every parameter is defined in guc.c, documented in README.md with its
 * default, and read only on the main thread of a backend or worker.
 */
#ifndef F1TEL_GUC_H
#define F1TEL_GUC_H

#include "shared/endpoints.h"

/* Where and as whom the workers run (postmaster start) */
extern char *f1tel_database;
extern int	f1tel_ingest_workers;

/* Kafka (reload) */
extern char *f1tel_brokers;
extern char *f1tel_group_id;
extern char *f1tel_kafka_config;
extern char *f1tel_kafka_config_file;
extern char *f1tel_topics[F1E_COUNT];

/* Batching (reload) */
extern int	f1tel_batch_size;
extern int	f1tel_batch_wait_ms;
extern int	f1tel_batch_max_bytes;
extern int	f1tel_max_message_bytes;
extern bool f1tel_ingest_append_path;
extern int	f1tel_lock_wait_timeout_ms;

/* The sink (reload) */
extern char *f1tel_bigquery_project;
extern char *f1tel_bigquery_dataset;
extern char *f1tel_bigquery_location;
extern char *f1tel_bigquery_credentials;
extern char *f1tel_bigquery_endpoint;
extern int	f1tel_bigquery_batch_rows;
extern int	f1tel_bigquery_batch_bytes;
extern int	f1tel_bigquery_concurrency;
extern int	f1tel_bigquery_timeout_ms;
extern char *f1tel_enriched_topic;
extern int	f1tel_sink_flush_interval_ms;
extern int	f1tel_sink_wait_for_standbys;

extern void f1tel_define_gucs(void);

/* Whether the sink worker has anything to do. */
extern bool f1tel_sink_enabled(void);

/* The endpoint whose configured topic is this name, or NULL. */
extern const F1Endpoint *f1tel_endpoint_for_topic(const char *topic);

#endif							/* F1TEL_GUC_H */
