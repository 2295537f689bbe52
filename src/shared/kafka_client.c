/*
 * src/shared/kafka_client.c — builds f1tel's librdkafka clients and reports
 * what their callbacks recorded (the rules are in kafka_client.h).
 *
 * The ring of recorded lines is a fixed array inside the client: a callback
 * never allocates.  Lines beyond the ring's size are counted and reported
 * as a number.  Client structs live in TopMemoryContext.  error_cb also
 * keeps the latest error that stops the whole client until someone changes
 * a setting or a permission (authentication, TLS, authorization: a
 * "standing" error) for f1_kafka_client_take_standing().
 */
#include "postgres.h"

#include <stdarg.h>
#include <stdio.h>

#include "lib/stringinfo.h"
#include "storage/fd.h"
#include "utils/memutils.h"

#include "shared/guc.h"
#include "shared/kafka_client.h"
#include "shared/kafka_conf.h"

#define RING_SIZE	64
#define LINE_LEN	512

typedef struct Line
{
	int			elevel;
	char		text[LINE_LEN];
} Line;

struct F1KafkaClient
{
	rd_kafka_t *rk;
	void	   *owner;
	char		role[32];
	char	   *fingerprint;
	bool		fatal;
	bool		error_pending;	/* last_error not taken yet */
	char		last_error[LINE_LEN];	/* the latest error_cb report */
	Line		ring[RING_SIZE];
	int			nlines;
	int			dropped;
	/* the latest standing error, until taken */
	bool		standing_new;
	int			standing_err;
	char		standing[LINE_LEN];
};

void
f1_kafka_client_record(F1KafkaClient *c, int elevel, const char *fmt,...)
{
	va_list		ap;

	if (c->nlines >= RING_SIZE)
	{
		c->dropped++;
		return;
	}
	c->ring[c->nlines].elevel = elevel;
	va_start(ap, fmt);
	vsnprintf(c->ring[c->nlines].text, LINE_LEN, fmt, ap);
	va_end(ap);
	c->nlines++;
}

/*
 * librdkafka's syslog levels to ours: errors and warnings stay visible,
 * except CONFWARN, which says that a property of the shared
 * f1tel.kafka_config does not apply to this kind of client (a consumer's
 * property given to the producer, say): expected, so only a LOG line.
 */
static void
log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	F1KafkaClient *c = rd_kafka_opaque(rk);

	f1_kafka_client_record(c, level <= 4 && strcmp(fac, "CONFWARN") != 0 ? WARNING : LOG,
						   "f1tel %s: librdkafka %s: %s", c->role, fac, buf);
}

bool
f1_kafka_err_is_standing(int err)
{
	switch (err)
	{
		case RD_KAFKA_RESP_ERR__AUTHENTICATION:
		case RD_KAFKA_RESP_ERR__SSL:
		case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
		case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
		case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
			return true;
		default:
			return false;
	}
}

/*
 * A known cause of a SCRAM failure, or "": librdkafka before 2.6.1 sends a
 * SCRAM client-final nonce that Apache Kafka 4 refuses (librdkafka#4895;
 * measured: 2.0.2 against Kafka 4.1.1), whatever the password.
 */
static const char *
scram_note(int err, const char *reason)
{
	if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION && strstr(reason, "SCRAM") != NULL &&
		rd_kafka_version() < 0x020601ff)
		return " (note: this librdkafka is older than 2.6.1, which cannot authenticate with SCRAM to Apache Kafka 4.0 or later, whatever the password; use sasl.mechanisms=PLAIN over SASL_SSL, or a client certificate)";
	return "";
}

static void
error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	F1KafkaClient *c = opaque;
	const char *note = scram_note(err, reason);

	if (err == RD_KAFKA_RESP_ERR__FATAL)
		c->fatal = true;
	f1_kafka_client_record(c, WARNING, "f1tel %s: Kafka error %s: %s%s", c->role,
						   rd_kafka_err2name((rd_kafka_resp_err_t) err), reason, note);
	if (f1_kafka_err_is_standing(err))
	{
		/* ingest_status gets it from f1_kafka_client_take_standing() */
		snprintf(c->standing, sizeof(c->standing), "%s: %s%s",
				 rd_kafka_err2name((rd_kafka_resp_err_t) err), reason, note);
		c->standing_err = err;
		c->standing_new = true;
	}
	else
	{
		/* ... and the others from f1_kafka_client_take_error() */
		snprintf(c->last_error, LINE_LEN, "Kafka error %s: %s",
				 rd_kafka_err2name((rd_kafka_resp_err_t) err), reason);
		c->error_pending = true;
	}
}

bool
f1_kafka_client_take_standing(F1KafkaClient *c, int *err, char *buf, size_t len)
{
	if (!c->standing_new)
		return false;
	c->standing_new = false;
	*err = c->standing_err;
	strlcpy(buf, c->standing, len);
	return true;
}

void
f1_kafka_client_report(F1KafkaClient *c)
{
	int			n = c->nlines;
	int			dropped = c->dropped;

	c->nlines = 0;
	c->dropped = 0;
	for (int i = 0; i < n; i++)
		ereport(c->ring[i].elevel, (errmsg_internal("%s", c->ring[i].text)));
	if (dropped > 0)
		ereport(WARNING,
				(errmsg("f1tel %s: %d librdkafka log lines were not shown", c->role, dropped)));
}

static char *
make_fingerprint(const char *extra)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfo(&s, "%s\n%s\n%s\n%s\n", f1tel_brokers, f1tel_kafka_config,
					 f1tel_kafka_config_file, extra ? extra : "");
	/* the file's content too, so a changed secret rebuilds the client */
	if (f1tel_kafka_config_file[0] != '\0')
	{
		FILE	   *f = AllocateFile(f1tel_kafka_config_file, "r");

		if (f != NULL)
		{
			char		buf[1024];
			size_t		n;

			while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
				appendBinaryStringInfo(&s, buf, n);
			FreeFile(f);
		}
	}
	return s.data;
}

bool
f1_kafka_client_changed(F1KafkaClient *c, const char *extra)
{
	char	   *fp = make_fingerprint(extra);
	bool		changed = strcmp(fp, c->fingerprint) != 0;

	pfree(fp);
	return changed;
}

F1KafkaClient *
f1_kafka_client_create(rd_kafka_type_t type, const char *role,
					   const char *const fixed[][2], const char *extra,
					   F1KafkaPrepare prepare, void *owner, char **error)
{
	F1KafkaClient *c;
	rd_kafka_conf_t *conf;
	char		errbuf[512];

	c = MemoryContextAllocZero(TopMemoryContext, sizeof(F1KafkaClient));
	strlcpy(c->role, role, sizeof(c->role));
	c->owner = owner;
	c->fingerprint = MemoryContextStrdup(TopMemoryContext, make_fingerprint(extra));

	conf = rd_kafka_conf_new();
	if (!f1_kafka_conf_set(conf, "bootstrap.servers", f1tel_brokers, errbuf, sizeof(errbuf)) ||
		!f1_kafka_conf_set(conf, "log.queue", "true", errbuf, sizeof(errbuf)))
		goto conf_error;
	for (int i = 0; fixed[i][0] != NULL; i++)
		if (!f1_kafka_conf_set(conf, fixed[i][0], fixed[i][1], errbuf, sizeof(errbuf)))
			goto conf_error;
	if (!f1_kafka_conf_apply(conf, f1tel_kafka_config, errbuf, sizeof(errbuf)) ||
		!f1_kafka_conf_apply_file(conf, f1tel_kafka_config_file, errbuf, sizeof(errbuf)))
		goto conf_error;
	rd_kafka_conf_set_opaque(conf, c);
	rd_kafka_conf_set_log_cb(conf, log_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	if (prepare)
		prepare(conf, owner);

	/* rd_kafka_new takes ownership of conf on success */
	c->rk = rd_kafka_new(type, conf, errbuf, sizeof(errbuf));
	if (c->rk == NULL)
	{
		rd_kafka_conf_destroy(conf);
		*error = psprintf("could not create the Kafka %s: %s",
						  type == RD_KAFKA_CONSUMER ? "consumer" : "producer", errbuf);
		f1_kafka_client_destroy(c);
		return NULL;
	}
	/* logs go to the main queue, served by the polls on this thread */
	rd_kafka_set_log_queue(c->rk, NULL);
	return c;

conf_error:
	rd_kafka_conf_destroy(conf);
	*error = psprintf("invalid Kafka configuration: %s", errbuf);
	f1_kafka_client_destroy(c);
	return NULL;
}

/* Frees the client; the caller has closed and destroyed its rd_kafka_t. */
void
f1_kafka_client_destroy(F1KafkaClient *c)
{
	if (c == NULL)
		return;
	f1_kafka_client_report(c);
	if (c->fingerprint)
		pfree(c->fingerprint);
	pfree(c);
}

rd_kafka_t *
f1_kafka_client_handle(F1KafkaClient *c)
{
	return c->rk;
}

void *
f1_kafka_client_owner(const rd_kafka_t *rk)
{
	return ((F1KafkaClient *) rd_kafka_opaque(rk))->owner;
}

bool
f1_kafka_client_take_error(F1KafkaClient *c, char *buf, size_t len)
{
	if (!c->error_pending)
		return false;
	c->error_pending = false;
	strlcpy(buf, c->last_error, len);
	return true;
}

bool
f1_kafka_client_fatal(F1KafkaClient *c)
{
	return c->fatal;
}
