/*
 * test/unit/test_kafka_conf.c — unit tests of src/shared/kafka_conf.c, the
 * parser of f1tel.kafka_config and f1tel.kafka_config_file, against the
 * real librdkafka: the syntax (escapes, blanks, empty entries), reserved
 * properties, secret properties (refused in the setting, taken from the
 * file), and that no error message holds a value: not librdkafka's reason
 * for a bad value, not the tail of a value cut at an unescaped comma.
 *
 * Every secret-looking value here holds "Sx7", so one strstr() tells a
 * leak.  The harness is test/unit/harness.h: one line per failed check,
 * then "N passed, N failed" (N counting test cases), exit status non-zero on
 * any failure.  `make unit` runs it.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/kafka_conf.h"

#include "harness.h"

#define ERRLEN 1024

static char err[ERRLEN];

/* Apply spec to a fresh conf; *conf_out (when not NULL) keeps the conf. */
static bool
apply(const char *spec, rd_kafka_conf_t **conf_out)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	bool		ok;

	err[0] = '\0';
	ok = f1_kafka_conf_apply(conf, spec, err, sizeof(err));
	if (conf_out != NULL)
		*conf_out = conf;
	else
		rd_kafka_conf_destroy(conf);
	return ok;
}

/* The same for a file holding text. */
static bool
apply_file(const char *text, rd_kafka_conf_t **conf_out)
{
	char		path[] = "/tmp/f1tel-kafka-conf-XXXXXX";
	int			fd = mkstemp(path);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	bool		ok;

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t) strlen(text))
	{
		printf("could not write %s\n", path);
		exit(2);
	}
	close(fd);
	err[0] = '\0';
	ok = f1_kafka_conf_apply_file(conf, path, err, sizeof(err));
	unlink(path);
	if (conf_out != NULL)
		*conf_out = conf;
	else
		rd_kafka_conf_destroy(conf);
	return ok;
}

/* Whether conf's property name has the value want. */
static bool
has_value(rd_kafka_conf_t *conf, const char *name, const char *want)
{
	char		got[512];
	size_t		size = sizeof(got);

	if (rd_kafka_conf_get(conf, name, got, &size) != RD_KAFKA_CONF_OK)
		return false;
	return strcmp(got, want) == 0;
}

#define NO_LEAK() CHECKF(strstr(err, "Sx7") == NULL, "a value in the message: %s", err)

static void
test_syntax(void)
{
	rd_kafka_conf_t *conf;

	begin_case("kafka_config: pairs, blanks, escapes, empty entries");
	CHECKF(apply(" fetch.wait.max.ms = 50 ,client.id=a\\,b\\\\c,\n\nsocket.timeout.ms=7000,", &conf),
		   "error: %s", err);
	CHECK(has_value(conf, "fetch.wait.max.ms", "50"));
	CHECK(has_value(conf, "client.id", "a,b\\c"));
	CHECK(has_value(conf, "socket.timeout.ms", "7000"));
	rd_kafka_conf_destroy(conf);
	CHECK(apply("", NULL));
	CHECK(f1_kafka_conf_apply(NULL, "client.id=x", err, sizeof(err)));
	end_case();

	begin_case("kafka_config: reserved properties refused");
	CHECK(!apply("group.id=other", NULL));
	CHECKF(strstr(err, "\"group.id\" is set by f1tel") != NULL, "error: %s", err);
	CHECK(!apply("client.id=x, bootstrap.servers=h:1", NULL));
	CHECKF(strstr(err, "\"bootstrap.servers\"") != NULL, "error: %s", err);
	/* one static member per ingest worker (src/ingest/consumer.c) */
	CHECK(!apply("group.instance.id=mine", NULL));
	CHECKF(strstr(err, "\"group.instance.id\" is set by f1tel") != NULL, "error: %s", err);
	end_case();

	begin_case("kafka_config: an unknown first property is named");
	CHECK(!apply("securty.protocol=SASL_SSL", NULL));
	CHECKF(strstr(err, "\"securty.protocol\"") != NULL, "error: %s", err);
	CHECKF(strstr(err, "SASL_SSL") == NULL, "error: %s", err);
	end_case();
}

static void
test_secrets(void)
{
	static const char *const secrets[] = {
		"sasl.password", "ssl.key.password", "ssl.keystore.password", "ssl.key.pem",
		"sasl.oauthbearer.client.secret", "sasl.oauthbearer.config", NULL
	};
	rd_kafka_conf_t *conf;
	char		spec[256];

	begin_case("kafka_config: secret properties refused, the file named");
	for (int i = 0; secrets[i] != NULL; i++)
	{
		CHECKF(f1_kafka_conf_is_secret(secrets[i]), "%s", secrets[i]);
		snprintf(spec, sizeof(spec), "security.protocol=SASL_SSL, %s=Sx7secret", secrets[i]);
		CHECKF(!apply(spec, NULL), "%s accepted", secrets[i]);
		CHECKF(strstr(err, secrets[i]) != NULL && strstr(err, "f1tel.kafka_config_file") != NULL,
			   "error: %s", err);
		NO_LEAK();
		/* refused before librdkafka sees it: also when only the syntax is checked */
		snprintf(spec, sizeof(spec), "%s=Sx7secret", secrets[i]);
		CHECK(!f1_kafka_conf_apply(NULL, spec, err, sizeof(err)));
		NO_LEAK();
	}
	CHECK(!f1_kafka_conf_is_secret("sasl.username"));
	CHECK(!f1_kafka_conf_is_secret("ssl.key.location"));
	end_case();

	begin_case("kafka_config_file: secrets allowed, commas kept");
	CHECKF(apply_file("# Redpanda Cloud\nsecurity.protocol=SASL_SSL\nsasl.mechanism = PLAIN\n"
					  "sasl.username=user\nsasl.password = Sx7p,a=s\\s \n\nssl.key.password=Sx7k\n",
					  &conf), "error: %s", err);
	CHECK(has_value(conf, "sasl.password", "Sx7p,a=s\\s"));
	CHECK(has_value(conf, "ssl.key.password", "Sx7k"));
	rd_kafka_conf_destroy(conf);
	CHECK(!apply_file("client.id=x\ngroup.id=mine\n", NULL));
	CHECKF(strstr(err, "line 2") != NULL && strstr(err, "\"group.id\"") != NULL, "error: %s", err);
	end_case();
}

static void
test_no_value_in_messages(void)
{
	rd_kafka_conf_t *conf;

	begin_case("kafka_config: an unescaped comma: the value's tail is not shown");
	CHECK(!apply("sasl.username=user,Sx7tail", NULL));
	NO_LEAK();
	CHECKF(strstr(err, "entry 2") != NULL && strstr(err, "after property \"sasl.username\"") != NULL &&
		   strstr(err, "escaped") != NULL, "error: %s", err);
	CHECK(!apply("client.id=a, sasl.username=user,Sx7tail=more", NULL));
	NO_LEAK();
	CHECKF(strstr(err, "entry 3") != NULL && strstr(err, "no such property") != NULL,
		   "error: %s", err);
	CHECK(!apply("client.id=a,Sx7one\\,two=three", NULL));
	NO_LEAK();
	/* a real name in a later entry is still named */
	CHECK(!apply("client.id=a, security.protocol=Sx7bad", NULL));
	CHECKF(strstr(err, "\"security.protocol\"") != NULL, "error: %s", err);
	NO_LEAK();
	/* escaped, the comma stays in the value */
	CHECKF(apply("sasl.username=user\\,Sx7tail", &conf), "error: %s", err);
	CHECK(has_value(conf, "sasl.username", "user,Sx7tail"));
	rd_kafka_conf_destroy(conf);
	end_case();

	begin_case("kafka_config: an entry without '=' is not shown");
	CHECK(!apply("Sx7alone", NULL));
	CHECKF(strstr(err, "entry 1: expected name=value") != NULL, "error: %s", err);
	NO_LEAK();
	CHECK(!apply("client.id=x\nSx7 pasted password", NULL));
	NO_LEAK();
	end_case();

	begin_case("kafka_config: librdkafka's reasons without the value");
	{
		static const char *const bad[] = {
			"security.protocol=Sx7bad",	/* an enum */
			"debug=Sx7bad",				/* CSV flags */
			"fetch.wait.max.ms=Sx7bad", /* an integer */
			"enable.idempotence=Sx7bad",	/* a bool */
			"compression.codec=Sx7bad", /* a topic property */
			"sasl.mechanisms=Sx7bad",
			NULL
		};

		for (int i = 0; bad[i] != NULL; i++)
		{
			if (apply(bad[i], NULL))
				continue;		/* librdkafka checks it later: not our message */
			NO_LEAK();
			CHECKF(strstr(err, "librdkafka refused") != NULL, "error: %s", err);
			if (!apply_file(bad[i], NULL))
				NO_LEAK();
		}
		/* a number out of range is no secret, but it is not shown either */
		CHECK(!apply("fetch.wait.max.ms=987654321", NULL));
		CHECKF(strstr(err, "987654321") == NULL && strstr(err, "\"fetch.wait.max.ms\"") != NULL,
			   "error: %s", err);
	}
	end_case();

	begin_case("kafka_config_file: bad lines are not shown");
	CHECK(!apply_file("client.id=x\nSx7 pasted password\n", NULL));
	CHECKF(strstr(err, "line 2: expected name=value") != NULL, "error: %s", err);
	NO_LEAK();
	CHECK(!apply_file("security.protocol=Sx7bad\n", NULL));
	NO_LEAK();
	end_case();
}

HARNESS_MAIN(test_syntax(); test_secrets(); test_no_value_in_messages();)
