/*
 * test/bench/kcons.c — the "bare consumer" limit of the benchmark: reads
 * every message of the given topics from the beginning with librdkafka, as
 * fast as it can, with no database.
 *
 *   kcons BROKERS bare|json TOPIC...
 *
 * bare: touches each payload (sums its bytes) and drops it; json: also parses
 * it with json-c (the library f1tel's decoder uses), which shows how much of
 * a message's cost is JSON.  Partitions are assigned directly (no consumer
 * group, so no group-join delay) from their low watermark up to the high
 * watermark read at start.  Consumer settings are f1tel's defaults plus the
 * benchmark's fetch.wait.max.ms=10 ($KCONS_PROPS="name=value,..." overrides,
 * for experiments).
 *
 * Prints one JSON line: messages, seconds from the first message to the last,
 * msgs/s, bytes, the process's peak RSS (VmHWM) and CPU time (all threads,
 * start-up included).  Exit 1 on any error or
 * if not everything was read within 300 s.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

#include <json-c/json.h>
#include <librdkafka/rdkafka.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long
vmhwm_kb(void)
{
	FILE	   *f = fopen("/proc/self/status", "r");
	char		line[256];
	long		kb = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

static void
set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
	char		err[512];

	if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK)
	{
		fprintf(stderr, "kcons: %s=%s: %s\n", k, v, err);
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	rd_kafka_topic_partition_list_t *list;
	char		err[512];
	int			json;
	int64_t		expected = 0,
				got = 0,
				bytes = 0,
				parsed = 0;
	uint64_t	sum = 0;
	double		first = 0,
				last = 0,
				deadline;
	json_tokener *tok;
	struct rusage ru;

	if (argc < 4 || (strcmp(argv[2], "bare") != 0 && strcmp(argv[2], "json") != 0))
	{
		fprintf(stderr, "usage: kcons BROKERS bare|json TOPIC...\n");
		return 2;
	}
	json = strcmp(argv[2], "json") == 0;

	conf = rd_kafka_conf_new();
	set(conf, "bootstrap.servers", argv[1]);
	set(conf, "group.id", "f1tel-bench-kcons");
	set(conf, "enable.auto.commit", "false");
	set(conf, "enable.auto.offset.store", "false");
	set(conf, "auto.offset.reset", "error");
	set(conf, "enable.partition.eof", "false");
	set(conf, "fetch.wait.max.ms", "10");
	set(conf, "queued.max.messages.kbytes", "8192");
	set(conf, "client.id", "f1tel-bench-kcons");
	/* experiments: KCONS_PROPS="name=value,name=value" overrides */
	if (getenv("KCONS_PROPS") != NULL)
	{
		char	   *props = strdup(getenv("KCONS_PROPS"));

		for (char *p = strtok(props, ","); p != NULL; p = strtok(NULL, ","))
		{
			char	   *eq = strchr(p, '=');

			while (*p == ' ')
				p++;
			if (eq == NULL)
				continue;
			*eq = '\0';
			set(conf, p, eq + 1);
		}
		free(props);
	}
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	if (rk == NULL)
	{
		fprintf(stderr, "kcons: %s\n", err);
		return 1;
	}
	rd_kafka_poll_set_consumer(rk);

	list = rd_kafka_topic_partition_list_new(64);
	for (int i = 3; i < argc; i++)
	{
		rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, argv[i], NULL);
		const struct rd_kafka_metadata *md;

		if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
			md->topic_cnt != 1 || md->topics[0].err)
		{
			fprintf(stderr, "kcons: no metadata for %s\n", argv[i]);
			return 1;
		}
		for (int p = 0; p < md->topics[0].partition_cnt; p++)
		{
			int32_t		part = md->topics[0].partitions[p].id;
			int64_t		lo,
						hi;

			if (rd_kafka_query_watermark_offsets(rk, argv[i], part, &lo, &hi, 10000))
			{
				fprintf(stderr, "kcons: no watermarks for %s [%d]\n", argv[i], part);
				return 1;
			}
			if (hi > lo)
			{
				rd_kafka_topic_partition_list_add(list, argv[i], part)->offset = lo;
				expected += hi - lo;
			}
		}
		rd_kafka_metadata_destroy(md);
		rd_kafka_topic_destroy(rkt);
	}
	if (rd_kafka_assign(rk, list))
	{
		fprintf(stderr, "kcons: assign failed\n");
		return 1;
	}
	rd_kafka_topic_partition_list_destroy(list);

	tok = json_tokener_new();
	deadline = now() + 300;
	while (got < expected && now() < deadline)
	{
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);

		if (m == NULL)
			continue;
		if (m->err)
		{
			fprintf(stderr, "kcons: %s\n", rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			return 1;
		}
		if (got == 0)
			first = now();
		got++;
		bytes += m->len;
		for (size_t k = 0; k < m->len; k += 64)
			sum += ((const unsigned char *) m->payload)[k];
		if (json)
		{
			json_object *o;

			json_tokener_reset(tok);
			o = json_tokener_parse_ex(tok, m->payload, (int) m->len);
			if (o != NULL)
			{
				parsed++;
				json_object_put(o);
			}
		}
		rd_kafka_message_destroy(m);
		last = now();
	}
	json_tokener_free(tok);
	getrusage(RUSAGE_SELF, &ru);
	printf("{\"mode\": \"%s\", \"msgs\": %" PRId64 ", \"expected\": %" PRId64
		   ", \"secs\": %.4f, \"rate\": %.1f, \"bytes\": %" PRId64 ", \"parsed\": %" PRId64
		   ", \"vmhwm_kb\": %ld, \"cpu_secs\": %.3f, \"checksum\": %" PRIu64 "}\n",
		   argv[2], got, expected, last - first,
		   last > first ? (got - 1) / (last - first) : 0.0, bytes, parsed, vmhwm_kb(),
		   ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
		   sum);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return got == expected ? 0 : 1;
}
