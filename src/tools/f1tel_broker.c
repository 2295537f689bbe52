/*
 * src/tools/f1tel_broker.c — f1tel-broker, the embedded Kafka broker for the
 * demo and the tests.
 *
 * A small program around librdkafka's mock cluster (rdkafka_mock.h): it
 * starts N mock brokers on fixed loopback ports (see broker_bind.c), creates
 * the pipeline's topics, prints one "ready" line on stdout and then waits for
 * signals.  SIGUSR1 takes every broker down and SIGUSR2 brings them back, so
 * tests can simulate an outage without losing the in-memory data;
 * SIGTERM/SIGINT end it cleanly with status 0.
 *
 * Rules: the signals are blocked before librdkafka starts any thread and are
 * taken with sigwaitinfo() in the main thread, so no work is ever done in a
 * signal handler.  Exit status 0 on a signalled stop, 1 when the broker
 * cannot start, 2 on a usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "tools/broker.h"

#define MAX_BROKERS		32
#define MAX_PARTITIONS	10000
#define MAX_TOPICS		256

/* f1tel's topics: those of the endpoints (src/shared/endpoints.c), then the upsert topic */
static const char *const default_topics[] = {
	"f1_laps", "f1_position", "f1_drivers", "f1-race_control", "f1_sessions",
	"f1_meetings", "f1_car_data", "f1_location", "f1_intervals", "f1_pit",
	"f1_stints", "f1_weather", "f1_session_result", "f1_starting_grid",
	"f1_overtakes", "f1_team_radio", "f1_championship_drivers",
	"f1_championship_teams", "f1-laps-enriched"
};

typedef struct BrokerOptions
{
	int			port;
	int			partitions;
	int			brokers;
	const char *pidfile;
	const char *topics[MAX_TOPICS];
	int			ntopics;
} BrokerOptions;

static void
usage(FILE *out)
{
	fprintf(out,
			"Usage: f1tel-broker [--port N] [--partitions N] [--brokers N] [--topics a,b,...]\n"
			"                    [--pidfile FILE]\n"
			"\n"
			"An embedded Kafka-protocol broker (librdkafka's mock cluster) for the f1tel\n"
			"demo and tests.\n"
			"\n"
			"  --port N         first listening port on 127.0.0.1 (default 9092); broker k\n"
			"                   listens on N+k-1\n"
			"  --partitions N   partitions of each pre-created topic (default 4)\n"
			"  --brokers N      number of brokers (default 1; replication factor min(N,3))\n"
			"  --topics LIST    comma-separated topics to pre-create INSTEAD of the default\n"
			"                   list; start LIST with '+' to ADD to the default list\n"
			"                   (--topics +extra_a,extra_b)\n"
			"  --pidfile FILE   write the process id to FILE once ready; removed on exit\n"
			"  --help           this text\n"
			"\n"
			"Default topics: f1_laps f1_position f1_drivers f1-race_control f1_sessions\n"
			"                f1_meetings f1_car_data f1_location f1_intervals f1_pit\n"
			"                f1_stints f1_weather f1_session_result f1_starting_grid\n"
			"                f1_overtakes f1_team_radio f1_championship_drivers\n"
			"                f1_championship_teams f1-laps-enriched\n"
			"\n"
			"When ready it prints on stdout:\n"
			"  f1tel-broker: ready on 127.0.0.1:PORT (N partitions per topic)\n"
			"\n"
			"Signals: SIGTERM/SIGINT stop it (exit 0); SIGUSR1 takes all brokers down\n"
			"(clients see transport errors), SIGUSR2 brings them back up with their data.\n"
			"\n"
			"Limits (it is a test broker, not Kafka):\n"
			"  - memory only: everything is lost when it stops;\n"
			"  - about 5 MiB (or 100,000 batches) retained per partition: older data is\n"
			"    dropped silently.  The size counts batches as received, compressed:\n"
			"    f1tel-feed --speed max (lz4) fits sessions 9189 + 9606 in 4 partitions;\n"
			"    uncompressed, one driver's car_data of 9606 (~6.4 MB) fits in none;\n"
			"  - loopback (127.0.0.1) only, no TLS, no SASL;\n"
			"  - no admin API (CreateTopics etc. do not work): topics are the ones created\n"
			"    here, or auto-created with 4 partitions when a client asks for them;\n"
			"  - an idle fetch is not woken when data arrives: use a small\n"
			"    fetch.wait.max.ms in consumers for low latency.\n");
}

static void
die_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "f1tel-broker: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry \"f1tel-broker --help\".\n");
	exit(2);
}

static int
parse_int(const char *opt, const char *s, int min, int max)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
	{
		fprintf(stderr, "f1tel-broker: invalid %s \"%s\" (expected %d..%d)\n",
				opt, s, min, max);
		exit(2);
	}
	return (int) v;
}

static bool
valid_topic(const char *t)
{
	size_t		n = strlen(t);

	if (n == 0 || n > 249 || strcmp(t, ".") == 0 || strcmp(t, "..") == 0)
		return false;
	for (const char *p = t; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return false;
	return true;
}

static void
add_topic(BrokerOptions *o, const char *t)
{
	if (!valid_topic(t))
		die_usage("invalid topic name \"%s\"", t);
	for (int i = 0; i < o->ntopics; i++)
		if (strcmp(o->topics[i], t) == 0)
			return;
	if (o->ntopics >= MAX_TOPICS)
		die_usage("too many topics (at most 256), at \"%s\"", t);
	o->topics[o->ntopics++] = t;
}

static void
parse_topics(BrokerOptions *o, const char *arg)
{
	char	   *list;
	char	   *save = NULL;

	if (arg[0] == '+')
		arg++;
	else
		o->ntopics = 0;
	list = strdup(arg);			/* kept for the program's life */
	if (list == NULL)
	{
		fprintf(stderr, "f1tel-broker: out of memory\n");
		exit(1);
	}
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
		add_topic(o, t);
	if (o->ntopics == 0)
		die_usage("--topics \"%s\" names no topic", arg);
}

static void
parse_options(BrokerOptions *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"port", required_argument, NULL, 'p'},
		{"partitions", required_argument, NULL, 'n'},
		{"brokers", required_argument, NULL, 'b'},
		{"topics", required_argument, NULL, 't'},
		{"pidfile", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			c;

	o->port = 9092;
	o->partitions = 4;
	o->brokers = 1;
	o->pidfile = NULL;
	o->ntopics = 0;
	for (size_t i = 0; i < sizeof(default_topics) / sizeof(default_topics[0]); i++)
		o->topics[o->ntopics++] = default_topics[i];

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
	{
		switch (c)
		{
			case 'p':
				o->port = parse_int("--port", optarg, 1, 65535);
				break;
			case 'n':
				o->partitions = parse_int("--partitions", optarg, 1, MAX_PARTITIONS);
				break;
			case 'b':
				o->brokers = parse_int("--brokers", optarg, 1, MAX_BROKERS);
				break;
			case 't':
				parse_topics(o, optarg);
				break;
			case 'f':
				o->pidfile = optarg;
				break;
			case 'h':
				usage(stdout);
				exit(0);
			default:
				fprintf(stderr, "Try \"f1tel-broker --help\".\n");
				exit(2);
		}
	}
	if (optind < argc)
		die_usage("unexpected argument \"%s\"", argv[optind]);
	if (o->port + o->brokers - 1 > 65535)
		die_usage("%s", "--port plus --brokers goes past port 65535");
}

static void
write_pidfile(const char *path)
{
	FILE	   *f = fopen(path, "w");

	if (f == NULL || fprintf(f, "%d\n", (int) getpid()) < 0 || fclose(f) != 0)
	{
		fprintf(stderr, "f1tel-broker: cannot write pid file \"%s\": %s\n",
				path, strerror(errno));
		exit(1);
	}
}

/* Remove the pid file, unless another instance has replaced it since. */
static void
remove_pidfile(const char *path)
{
	FILE	   *f = fopen(path, "r");
	int			pid = 0;

	if (f == NULL)
		return;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid == (int) getpid())
		unlink(path);
}

static void
set_all_brokers(rd_kafka_mock_cluster_t *mc, int nbrokers, bool up)
{
	for (int id = 1; id <= nbrokers; id++)
	{
		rd_kafka_resp_err_t err = up ? rd_kafka_mock_broker_set_up(mc, id)
			: rd_kafka_mock_broker_set_down(mc, id);

		if (err)
			fprintf(stderr, "f1tel-broker: broker %d: cannot set %s: %s\n",
					id, up ? "up" : "down", rd_kafka_err2str(err));
	}
	fprintf(stderr, "f1tel-broker: %s %d broker%s %s\n",
			up ? "brought" : "took", nbrokers, nbrokers > 1 ? "s" : "",
			up ? "up" : "down (clients now see transport errors)");
}

int
main(int argc, char **argv)
{
	BrokerOptions opt;
	sigset_t	sigs;
	char		errstr[512];
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	rd_kafka_mock_cluster_t *mc;
	int			replication;

	parse_options(&opt, argc, argv);

	/* a failing rd_kafka_mock_cluster_new() aborts: check the ports first */
	for (int k = 0; k < opt.brokers; k++)
	{
		if (!broker_port_free(opt.port + k, errstr, sizeof(errstr)))
		{
			fprintf(stderr, "f1tel-broker: cannot use port %d: %s\n",
					opt.port + k, errstr);
			return 1;
		}
	}

	/* block our signals before librdkafka starts threads; sigwait below */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);
	if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0)
	{
		fprintf(stderr, "f1tel-broker: cannot block signals\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);

	/* the mock cluster needs a client handle for its logging and threads */
	conf = rd_kafka_conf_new();
	/* log_level 4: keep warnings, drop the "no bootstrap.servers" notice */
	if (rd_kafka_conf_set(conf, "client.id", "f1tel-broker", errstr,
						  sizeof(errstr)) != RD_KAFKA_CONF_OK ||
		rd_kafka_conf_set(conf, "log_level", "4", errstr,
						  sizeof(errstr)) != RD_KAFKA_CONF_OK)
	{
		fprintf(stderr, "f1tel-broker: %s\n", errstr);
		return 1;
	}
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (rk == NULL)
	{
		fprintf(stderr, "f1tel-broker: cannot create the client handle: %s\n", errstr);
		return 1;
	}

	broker_bind_arm(opt.port);
	mc = rd_kafka_mock_cluster_new(rk, opt.brokers);
	broker_bind_disarm();
	if (mc == NULL)
	{
		fprintf(stderr, "f1tel-broker: cannot create the mock cluster\n");
		return 1;
	}
	if (broker_bind_count() != opt.brokers)
		fprintf(stderr, "f1tel-broker: warning: %d of %d listeners got a fixed port\n",
				broker_bind_count(), opt.brokers);

	replication = opt.brokers < 3 ? opt.brokers : 3;
	for (int i = 0; i < opt.ntopics; i++)
	{
		rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, opt.topics[i],
															 opt.partitions,
															 replication);

		if (err)
		{
			fprintf(stderr, "f1tel-broker: cannot create topic \"%s\": %s\n",
					opt.topics[i], rd_kafka_err2str(err));
			rd_kafka_mock_cluster_destroy(mc);
			rd_kafka_destroy(rk);
			return 1;
		}
	}
	fprintf(stderr, "f1tel-broker: %d broker%s at %s; %d topics with %d partitions each\n",
			opt.brokers, opt.brokers > 1 ? "s" : "",
			rd_kafka_mock_cluster_bootstraps(mc), opt.ntopics, opt.partitions);

	if (opt.pidfile)
		write_pidfile(opt.pidfile);
	printf("f1tel-broker: ready on 127.0.0.1:%d (%d partitions per topic)\n",
		   opt.port, opt.partitions);
	fflush(stdout);

	for (;;)
	{
		siginfo_t	si;
		int			sig = sigwaitinfo(&sigs, &si);

		if (sig < 0)
		{
			if (errno == EINTR)
				continue;
			fprintf(stderr, "f1tel-broker: sigwaitinfo: %s\n", strerror(errno));
			break;
		}
		if (sig == SIGUSR1)
			set_all_brokers(mc, opt.brokers, false);
		else if (sig == SIGUSR2)
			set_all_brokers(mc, opt.brokers, true);
		else
		{
			fprintf(stderr, "f1tel-broker: %s, stopping\n", strsignal(sig));
			break;
		}
	}

	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	if (opt.pidfile)
		remove_pidfile(opt.pidfile);
	fprintf(stderr, "f1tel-broker: stopped\n");
	return 0;
}
