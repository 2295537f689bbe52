/*
 * src/shared/guc.c — definitions and checks of f1tel's GUCs.
 *
 * A bad value is refused when it is set (check hooks), with the reason, so a
 * typo in postgresql.conf is reported by "pg_ctl reload" / the server log and
 * the old value stays in force.  Parameters that may carry secrets
 * (f1tel.kafka_config) are superuser-only and their values are never logged.
 */
#include "postgres.h"

#include "utils/guc.h"

#include "shared/guc.h"
#include "shared/kafka_conf.h"

char	   *f1tel_database = NULL;
int			f1tel_ingest_workers = 1;
char	   *f1tel_brokers = NULL;
char	   *f1tel_group_id = NULL;
char	   *f1tel_kafka_config = NULL;
char	   *f1tel_kafka_config_file = NULL;
char	   *f1tel_topics[F1E_COUNT];
int			f1tel_batch_size = 10000;
int			f1tel_batch_wait_ms = 0;
int			f1tel_batch_max_bytes = 2 * 1024 * 1024;
int			f1tel_max_message_bytes = 1024 * 1024;
bool		f1tel_ingest_append_path = true;
int			f1tel_lock_wait_timeout_ms = 10000;
char	   *f1tel_bigquery_project = NULL;
char	   *f1tel_bigquery_dataset = NULL;
char	   *f1tel_bigquery_location = NULL;
char	   *f1tel_bigquery_credentials = NULL;
char	   *f1tel_bigquery_endpoint = NULL;
int			f1tel_bigquery_batch_rows = 500;
int			f1tel_bigquery_batch_bytes = 5 * 1024 * 1024;
int			f1tel_bigquery_concurrency = 4;
int			f1tel_bigquery_timeout_ms = 30000;
char	   *f1tel_enriched_topic = NULL;
int			f1tel_sink_flush_interval_ms = 100;
int			f1tel_sink_wait_for_standbys = 0;

bool
f1tel_sink_enabled(void)
{
	return (f1tel_bigquery_project && f1tel_bigquery_project[0] != '\0') ||
		(f1tel_enriched_topic && f1tel_enriched_topic[0] != '\0');
}

/* an http(s) URL without a trailing slash */
static bool
check_endpoint(char **newval, void **extra, GucSource source)
{
	const char *v = *newval;
	size_t		len = v ? strlen(v) : 0;

	if (len == 0 || (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) ||
		v[len - 1] == '/')
	{
		GUC_check_errdetail("The endpoint is an http:// or https:// URL without a trailing slash, e.g. https://bigquery.googleapis.com.");
		return false;
	}
	return true;
}

/* BigQuery project, dataset and table names: letters, digits, '_', '-' (projects), '.' and ':' (domain projects) */
static bool
check_bq_name(char **newval, void **extra, GucSource source)
{
	const char *v = *newval;

	if (v != NULL && strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:") != strlen(v))
	{
		GUC_check_errdetail("BigQuery names are made of letters, digits, '_', '-', '.' and ':'.");
		return false;
	}
	return true;
}

static bool
check_credentials(char **newval, void **extra, GucSource source)
{
	const char *v = *newval;

	if (v == NULL || v[0] == '\0' ||
		(strcmp(v, "none") != 0 && strcmp(v, "metadata") != 0 && v[0] != '/'))
	{
		GUC_check_errdetail("Use the absolute path of a service-account key file, \"metadata\" (the GCE metadata server) or \"none\" (a local server).");
		return false;
	}
	return true;
}

static bool
check_kafka_config(char **newval, void **extra, GucSource source)
{
	char		errbuf[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	bool		ok = f1_kafka_conf_apply(conf, *newval, errbuf, sizeof(errbuf));

	rd_kafka_conf_destroy(conf);
	if (!ok)
	{
		/* our own message: PostgreSQL's default one quotes the value */
		GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
		GUC_check_errmsg("invalid value for parameter \"f1tel.kafka_config\"");
		GUC_check_errdetail("%s", errbuf);
		GUC_check_errhint("f1tel.kafka_config takes librdkafka properties as name=value pairs separated by commas, e.g. 'security.protocol=SASL_SSL, sasl.mechanism=PLAIN'.");
		return false;
	}
	return true;
}

static bool
check_kafka_config_file(char **newval, void **extra, GucSource source)
{
	char		errbuf[1024];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	bool		ok = f1_kafka_conf_apply_file(conf, *newval, errbuf, sizeof(errbuf));

	rd_kafka_conf_destroy(conf);
	if (!ok)
	{
		GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
		GUC_check_errdetail("%s", errbuf);
		GUC_check_errhint("The file holds one librdkafka property per line, name=value; lines starting with # are comments.");
		return false;
	}
	return true;
}

static bool
check_nonempty(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
	{
		GUC_check_errdetail("The value may not be empty.");
		return false;
	}
	return true;
}

/* A Kafka topic name: 1..249 characters of [A-Za-z0-9._-]. */
static bool
check_topic(char **newval, void **extra, GucSource source)
{
	const char *s = *newval;
	size_t		len = s ? strlen(s) : 0;

	if (len == 0 || len > 249 || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != len)
	{
		GUC_check_errdetail("A Kafka topic name is 1 to 249 characters among letters, digits, '.', '_' and '-'.");
		return false;
	}
	return true;
}

static bool
check_topic_or_empty(char **newval, void **extra, GucSource source)
{
	return (*newval)[0] == '\0' || check_topic(newval, extra, source);
}

const F1Endpoint *
f1tel_endpoint_for_topic(const char *topic)
{
	for (int i = 0; i < F1E_COUNT; i++)
		if (f1tel_topics[i] != NULL && strcmp(f1tel_topics[i], topic) == 0)
			return &f1_endpoints[i];
	return NULL;
}

/*
 * The settings, one row each (the README's Configuration table lists them
 * with the same defaults).  The topic settings come from the endpoint table
 * below.
 */
typedef struct StringSetting
{
	const char *name;
	const char *short_desc;
	const char *long_desc;
	char	  **var;
	const char *boot;
	GucContext	context;
	int			flags;
	GucStringCheckHook check;
} StringSetting;

typedef struct IntSetting
{
	const char *name;
	const char *short_desc;
	const char *long_desc;
	int		   *var;
	int			boot;
	int			min;
	int			max;
	GucContext	context;
	int			flags;
} IntSetting;

static const StringSetting string_settings[] = {
	{"f1tel.database",
		"Database the f1tel workers connect to.",
		"The extension must be created in this database.",
		&f1tel_database, "postgres", PGC_POSTMASTER, 0, check_nonempty},
	{"f1tel.brokers",
		"Kafka bootstrap servers, host:port[,host:port...].",
		NULL,
		&f1tel_brokers, "localhost:9092", PGC_SIGHUP, 0, check_nonempty},
	{"f1tel.group_id",
		"Kafka consumer group of the ingest workers.",
		"Also the key of this group's rows in f1tel.kafka_offsets.",
		&f1tel_group_id, "f1tel", PGC_SIGHUP, 0, check_nonempty},
	{"f1tel.kafka_config",
		"Extra librdkafka properties, name=value pairs separated by commas.",
		"For SASL/SSL and tuning; properties f1tel sets itself are refused.",
		&f1tel_kafka_config, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY, check_kafka_config},
	{"f1tel.kafka_config_file",
		"File of extra librdkafka properties, one name=value per line.",
		"For secrets (SASL passwords, key passwords): the values never pass through the configuration system or its log lines.",
		&f1tel_kafka_config_file, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY, check_kafka_config_file},
	{"f1tel.bigquery_project",
		"BigQuery project the sink pushes to; empty: no push to BigQuery.",
		NULL,
		&f1tel_bigquery_project, "", PGC_SIGHUP, 0, check_bq_name},
	{"f1tel.bigquery_dataset",
		"BigQuery dataset of the driver_laps and race_control tables (created if missing).",
		NULL,
		&f1tel_bigquery_dataset, "f1tel", PGC_SIGHUP, 0, check_bq_name},
	{"f1tel.bigquery_location",
		"Location of the dataset when the sink creates it.",
		NULL,
		&f1tel_bigquery_location, "US", PGC_SIGHUP, 0, check_bq_name},
	{"f1tel.bigquery_credentials",
		"Service-account key file (absolute path), \"metadata\" or \"none\".",
		NULL,
		&f1tel_bigquery_credentials, "metadata", PGC_SIGHUP, GUC_SUPERUSER_ONLY, check_credentials},
	{"f1tel.bigquery_endpoint",
		"Base URL of the BigQuery REST API (set for a local server).",
		NULL,
		&f1tel_bigquery_endpoint, "https://bigquery.googleapis.com", PGC_SIGHUP, 0, check_endpoint},
	{"f1tel.enriched_topic",
		"Upsert topic of the enriched laps; empty: no push to Kafka.",
		NULL,
		&f1tel_enriched_topic, "f1-laps-enriched", PGC_SIGHUP, 0, check_topic_or_empty},
};

static const IntSetting int_settings[] = {
	{"f1tel.ingest_workers",
		"Number of ingest workers (Kafka consumers of one group).",
		"0 disables ingest.",
		&f1tel_ingest_workers, 1, 0, 32, PGC_SIGHUP, 0},
	{"f1tel.batch_size",
		"Most Kafka messages written in one ingest transaction.",
		NULL,
		&f1tel_batch_size, 10000, 1, 1000000, PGC_SIGHUP, 0},
	{"f1tel.batch_max_bytes",
		"Most bytes of Kafka messages (values and keys) held and written in one ingest transaction.",
		"A batch ends at f1tel.batch_size messages or at this many bytes, whichever comes first; a larger message is a batch of its own.",
		&f1tel_batch_max_bytes, 2 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024, PGC_SIGHUP, GUC_UNIT_BYTE},
	{"f1tel.batch_wait_ms",
		"How long an ingest worker waits to fill a batch once its queue is drained.",
		"0 writes a batch as soon as no message is waiting.",
		&f1tel_batch_wait_ms, 0, 0, 60000, PGC_SIGHUP, GUC_UNIT_MS},
	{"f1tel.max_message_bytes",
		"Largest message value decoded; larger ones go to f1tel.dead_letters.",
		NULL,
		&f1tel_max_message_bytes, 1024 * 1024, 1024, 256 * 1024 * 1024, PGC_SIGHUP, GUC_UNIT_BYTE},
	{"f1tel.lock_wait_timeout",
		"Longest wait for the lock of a driver's rows, held by another transaction; 0 waits forever.",
		"After it, the batch (or statement) fails with SQLSTATE 55P03, naming the holder; the ingest worker retries.",
		&f1tel_lock_wait_timeout_ms, 10000, 0, PG_INT32_MAX, PGC_SIGHUP, GUC_UNIT_MS},
	{"f1tel.bigquery_batch_rows",
		"Most rows in one insertAll request.",
		NULL,
		&f1tel_bigquery_batch_rows, 500, 1, 50000, PGC_SIGHUP, 0},
	{"f1tel.bigquery_batch_bytes",
		"Most bytes in one insertAll request (BigQuery refuses more than 10 MB).",
		NULL,
		&f1tel_bigquery_batch_bytes, 5 * 1024 * 1024, 1024, 9 * 1024 * 1024, PGC_SIGHUP, GUC_UNIT_BYTE},
	{"f1tel.bigquery_concurrency",
		"insertAll requests in flight at once.",
		NULL,
		&f1tel_bigquery_concurrency, 4, 1, 64, PGC_SIGHUP, 0},
	{"f1tel.bigquery_timeout_ms",
		"Timeout of one BigQuery request.",
		NULL,
		&f1tel_bigquery_timeout_ms, 30000, 100, 600000, PGC_SIGHUP, GUC_UNIT_MS},
	{"f1tel.sink_flush_interval_ms",
		"How often the sink looks for new changes when it has none.",
		NULL,
		&f1tel_sink_flush_interval_ms, 100, 10, 60000, PGC_SIGHUP, GUC_UNIT_MS},
	{"f1tel.sink_wait_for_standbys",
		"Streaming standbys that must have flushed a change before the sink pushes it; 0 does not wait.",
		"Set it to keep the sink exactly once across a failover to an asynchronous standby; the sink stalls while fewer standbys stream.",
		&f1tel_sink_wait_for_standbys, 0, 0, 1000, PGC_SIGHUP, 0},
};

void
f1tel_define_gucs(void)
{
	for (int i = 0; i < (int) lengthof(string_settings); i++)
	{
		const StringSetting *g = &string_settings[i];

		DefineCustomStringVariable(g->name, g->short_desc, g->long_desc, g->var, g->boot,
								   g->context, g->flags, g->check, NULL, NULL);
	}
	for (int i = 0; i < (int) lengthof(int_settings); i++)
	{
		const IntSetting *g = &int_settings[i];

		DefineCustomIntVariable(g->name, g->short_desc, g->long_desc, g->var, g->boot,
								g->min, g->max, g->context, g->flags, NULL, NULL, NULL);
	}

	DefineCustomBoolVariable("f1tel.ingest_append_path",
							 "Store the new rows of car_data, location and position by COPY.",
							 "Rows later than anything stored for their driver go in by COPY's bulk insert; the others, and all rows when off, by the upsert statement.  The result is the same.",
							 &f1tel_ingest_append_path, true, PGC_SUSET, 0, NULL, NULL, NULL);

	for (int i = 0; i < F1E_COUNT; i++)
	{
		const F1Endpoint *ep = &f1_endpoints[i];
		char	   *name = psprintf("f1tel.topic_%s", ep->name);
		char	   *desc = psprintf("Kafka topic of the OpenF1 \"%s\" records.", ep->name);

		DefineCustomStringVariable(name, desc, NULL, &f1tel_topics[i],
								   ep->default_topic, PGC_SIGHUP, 0,
								   check_topic, NULL, NULL);
	}
	MarkGUCPrefixReserved("f1tel");
}
