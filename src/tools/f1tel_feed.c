/*
 * src/tools/f1tel_feed.c — f1tel-feed: replays recorded OpenF1 sessions into
 * Kafka.
 *
 * Each DIR is a session folder holding <endpoint>.json or .json.gz (a JSON
 * array of records).  The program loads every chosen file (feed_load.c, in
 * parallel threads, one file per thread at a time), merges all records by
 * time (feed_order.c) and produces them (feed_send.c), paced by --speed.
 * This file holds the options, the search for files and the order of the
 * stages; feed.h describes the data model.
 *
 * Exit status: 0 all delivered, 1 a delivery failed or is missing (or
 * --create-topics failed), 2 usage error, missing directory or file, unreadable or malformed data.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/feed.h"
#include "tools/openf1.h"

#define MAX_THREADS 8
#define OPENF1_DEFAULT_URL "https://api.openf1.org/v1"
#define MQTT_DEFAULT_URL "mqtts://mqtt.openf1.org:8883"

static void
usage(FILE *out)
{
	fprintf(out,
			"Usage: f1tel-feed --brokers HOST:PORT --speed X|max [--endpoints a,b,...]\n"
			"                  [--topic endpoint=name ...] [--session-key-offset N]\n"
			"                  [--timeout-ms N] [--compression CODEC] [-X prop=value ...]\n"
			"                  [--create-topics [--partitions N] [--replication-factor R]]\n"
			"                  [--quiet] DIR...\n"
			"       f1tel-feed --brokers HOST:PORT --openf1 [URL] --session KEY|latest ...\n"
			"                  --speed X|max [--save DIR] [options above but DIR]\n"
			"       f1tel-feed --brokers HOST:PORT --openf1 [URL] --session KEY|latest --live\n"
			"                  [--mqtt [URL] [--mqtt-cafile F]] [--state FILE]\n"
			"                  [--token-file F | --username U --password-file F]\n"
			"\n"
			"Replays recorded OpenF1 sessions into Kafka, all DIRs merged by time.\n"
			"Each DIR is a session folder <session_key>/ holding <endpoint>.json or\n"
			"<endpoint>.json.gz (a JSON array of records; .json wins if both exist).\n"
			"\n"
			"  --brokers LIST          bootstrap servers, e.g. 127.0.0.1:9092\n"
			"  --speed X|max           X times real time (1 = live pace), or max\n"
			"  --endpoints a,b,...     endpoints to feed; each must then exist in every\n"
			"                          DIR (default: those that exist among laps,\n"
			"                          position, drivers, race_control, sessions,\n"
			"                          meetings, car_data, location, intervals, pit,\n"
			"                          stints, weather, session_result, starting_grid,\n"
			"                          overtakes, team_radio, championship_drivers,\n"
			"                          championship_teams)\n"
			"  --topic endpoint=name   topic of an endpoint (repeatable); defaults:\n"
			"                          f1_<endpoint>, but f1-race_control\n"
			"  --session-key-offset N  add N to session_key and meeting_key, in the\n"
			"                          message key and in the payload (clones a session)\n"
			"  --timeout-ms N          message.timeout.ms: give up on a message after N ms\n"
			"                          (default 300000, librdkafka's; a broker that\n"
			"                          stalls for less loses nothing)\n"
			"  --compression CODEC     lz4 (default), none, gzip, snappy or zstd.  The\n"
			"                          test broker keeps ~5 MiB per partition of what it\n"
			"                          receives, and one driver's car_data of a session\n"
			"                          is more than that uncompressed\n"
			"  -X name=value           any librdkafka producer property (repeatable),\n"
			"                          applied after the built-in ones\n"
			"  --create-topics         first create the topics this run publishes to that\n"
			"                          are missing (Kafka's admin API; an existing topic\n"
			"                          is left as it is); exit 1 if one cannot be created\n"
			"  --partitions N          their partition count (default: the broker's\n"
			"                          num.partitions)\n"
			"  --replication-factor R  their replication factor (default: the broker's\n"
			"                          default.replication.factor)\n"
			"  --quiet                 print nothing but errors\n"
			"\n"
			"OpenF1 as the source (instead of DIRs):\n"
			"  --openf1 [URL]          the REST API (default https://api.openf1.org/v1)\n"
			"  --session KEY|latest    the session (repeatable without --live)\n"
			"  --save DIR              also write what was downloaded as DIR/<session_key>/\n"
			"                          <endpoint>.json.gz, the recorded layout\n"
			"  --live                  follow the session while it runs, until it has ended\n"
			"  --mqtt [URL]            with --live: OpenF1's MQTT push feed (default\n"
			"                          mqtts://mqtt.openf1.org:8883), REST fills the gaps\n"
			"  --mqtt-cafile F         CA certificates of the MQTT broker (default: system's)\n"
			"  --token-file F          a file holding an OpenF1 access token\n"
			"  --username U            an OpenF1 account: the token is fetched, refreshed\n"
			"  --password-file F       and its password, in a file\n"
			"  --token-url URL         default: URL's parent + /token\n"
			"  --openf1-cafile F       CA certificates of the REST API (default: system's)\n"
			"  --rate N/S              at most N requests per S seconds (default 30/10)\n"
			"  --state FILE            --live: what was published, so that a restart\n"
			"                          resumes (default ./f1tel-feed-<session_key>.state)\n"
			"  --poll-ms N             --live: pause between two rounds of REST (default 2000)\n"
			"  --lookback-s N          --live: re-read this far behind the newest record\n"
			"                          (default 300)\n"
			"  --reconcile-s N         --live: re-read the whole session this often\n"
			"                          (default 120)\n"
			"  --linger-s N            --live: go on this long after the session's end,\n"
			"                          by OpenF1's clock, for late records (default 900)\n"
			"  --help                  this text\n"
			"\n"
			"Order: sessions, meetings and drivers first (in that order), then every\n"
			"record by time (laps: date_start; others: date), ties in file order.  A null\n"
			"time takes the time of the preceding record of the same file.\n"
			"Keys: \"<session_key>:<driver_number>\" for laps, position, car_data,\n"
			"location and drivers; \"<session_key>\" for race_control and sessions;\n"
			"\"<meeting_key>\" for meetings.  Payloads are the file's records byte for byte\n"
			"(unless --session-key-offset rewrites the two key fields).\n"
			"\n"
			"Exit status: 0 every message delivered; 1 a delivery failed or did not\n"
			"complete, or a topic could not be created; 2 usage error, missing directory, unreadable or malformed file.\n");
}

static void
die_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "f1tel-feed: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry \"f1tel-feed --help\".\n");
	exit(FEED_EXIT_USAGE);
}

static void
die_oom(void)
{
	fprintf(stderr, "f1tel-feed: out of memory\n");
	exit(FEED_EXIT_USAGE);
}

static int64_t
parse_int64(const char *opt, const char *s, int64_t min, int64_t max)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
	{
		fprintf(stderr, "f1tel-feed: invalid %s \"%s\" (expected %" PRId64 "..%" PRId64 ")\n",
				opt, s, min, max);
		exit(FEED_EXIT_USAGE);
	}
	return v;
}

/*
 * The value of an option whose value is optional: "--openf1=URL", or
 * "--openf1 URL" when the next word is not an option, else the default.
 */
static const char *
optional_value(int argc, char **argv, const char *dflt)
{
	if (optarg)
		return optarg;
	if (optind < argc && argv[optind][0] != '-' && strstr(argv[optind], "://"))
		return argv[optind++];
	return dflt;
}

static void
parse_endpoints(FeedOptions *o, const char *arg)
{
	char	   *list = strdup(arg);
	char	   *save = NULL;

	if (list == NULL)
		die_oom();
	memset(o->want, 0, sizeof(o->want));
	o->explicit_endpoints = true;
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
	{
		int			e = feed_endpoint_index(t);

		if (e < 0)
			die_usage("unknown endpoint \"%s\" (known: laps, position, drivers, "
					  "race_control, sessions, meetings, car_data, location)", t);
		o->want[e] = true;
	}
	free(list);
	for (int e = 0; e < FEED_NENDPOINTS; e++)
		if (o->want[e])
			return;
	die_usage("--endpoints \"%s\" names no endpoint", arg);
}

static void
parse_topic(FeedOptions *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char		name[64];
	int			e;

	if (eq == NULL || eq == arg || eq[1] == '\0' || (size_t) (eq - arg) >= sizeof(name))
		die_usage("--topic \"%s\": expected endpoint=topic", arg);
	memcpy(name, arg, eq - arg);
	name[eq - arg] = '\0';
	e = feed_endpoint_index(name);
	if (e < 0)
		die_usage("--topic: unknown endpoint \"%s\"", name);
	o->topics[e] = eq + 1;
}

static void
parse_options(FeedOptions *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"brokers", required_argument, NULL, 'b'},
		{"speed", required_argument, NULL, 's'},
		{"endpoints", required_argument, NULL, 'e'},
		{"topic", required_argument, NULL, 't'},
		{"session-key-offset", required_argument, NULL, 'o'},
		{"timeout-ms", required_argument, NULL, 'T'},
		{"compression", required_argument, NULL, 'c'},
		{"quiet", no_argument, NULL, 'q'},
		{"create-topics", no_argument, NULL, 'C'},
		{"partitions", required_argument, NULL, 'P'},
		{"replication-factor", required_argument, NULL, 'R'},
		{"openf1", optional_argument, NULL, 'O'},
		{"session", required_argument, NULL, 'S'},
		{"save", required_argument, NULL, 'W'},
		{"live", no_argument, NULL, 'L'},
		{"mqtt", optional_argument, NULL, 'M'},
		{"mqtt-cafile", required_argument, NULL, 1001},
		{"token-file", required_argument, NULL, 1002},
		{"username", required_argument, NULL, 1003},
		{"password-file", required_argument, NULL, 1004},
		{"token-url", required_argument, NULL, 1005},
		{"openf1-cafile", required_argument, NULL, 1006},
		{"rate", required_argument, NULL, 1007},
		{"state", required_argument, NULL, 1008},
		{"poll-ms", required_argument, NULL, 1009},
		{"lookback-s", required_argument, NULL, 1010},
		{"reconcile-s", required_argument, NULL, 1011},
		{"linger-s", required_argument, NULL, 1012},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	bool		have_speed = false;
	int			c;

	memset(o, 0, sizeof(*o));
	for (int e = 0; e < FEED_NENDPOINTS; e++)
	{
		o->want[e] = true;
		o->topics[e] = f1_endpoints[e].default_topic;
	}
	o->timeout_ms = 300000;	/* librdkafka's own default */
	o->compression = "lz4";
	o->rate_n = 30;
	o->rate_s = 10;
	o->poll_ms = 2000;
	o->lookback_s = 300;
	o->reconcile_s = 120;
	o->linger_s = 900;

	while ((c = getopt_long(argc, argv, "hqX:", longopts, NULL)) != -1)
	{
		switch (c)
		{
			case 'b':
				o->brokers = optarg;
				break;
			case 's':
				if (strcmp(optarg, "max") == 0)
					o->speed = 0;
				else
				{
					char	   *end;

					errno = 0;
					o->speed = strtod(optarg, &end);
					if (errno != 0 || end == optarg || *end != '\0' ||
						!isfinite(o->speed) || o->speed <= 0)
						die_usage("invalid --speed \"%s\" (a positive number or max)",
								  optarg);
				}
				have_speed = true;
				break;
			case 'e':
				parse_endpoints(o, optarg);
				break;
			case 't':
				parse_topic(o, optarg);
				break;
			case 'o':
				o->key_offset = parse_int64("--session-key-offset", optarg,
											-INT64_C(1000000000000000),
											INT64_C(1000000000000000));
				break;
			case 'T':
				o->timeout_ms = (int) parse_int64("--timeout-ms", optarg, 1, 2147483647);
				break;
			case 'c':
				o->compression = optarg;
				break;
			case 'X':
				if (strchr(optarg, '=') == NULL || optarg[0] == '=')
					die_usage("-X \"%s\": expected name=value", optarg);
				if (o->nprops >= (int) (sizeof(o->props) / sizeof(o->props[0])))
					die_usage("%s", "too many -X options");
				o->props[o->nprops++] = optarg;
				break;
			case 'q':
				o->quiet = true;
				break;
			case 'C':
				o->create_topics = true;
				break;
			case 'P':
				o->partitions = (int) parse_int64("--partitions", optarg, 1, 1000000);
				break;
			case 'R':
				o->replication_factor = (int) parse_int64("--replication-factor", optarg, 1, 32767);
				break;
			case 'O':
				o->openf1_url = optional_value(argc, argv, OPENF1_DEFAULT_URL);
				break;
			case 'S':
				if (o->nsessions >= (int) (sizeof(o->sessions) / sizeof(o->sessions[0])))
					die_usage("%s", "too many --session options");
				if (strcmp(optarg, "latest") != 0)
					parse_int64("--session", optarg, 1, INT32_MAX);
				o->sessions[o->nsessions++] = optarg;
				break;
			case 'W':
				o->save_dir = optarg;
				break;
			case 'L':
				o->live = true;
				break;
			case 'M':
				o->mqtt_url = optional_value(argc, argv, MQTT_DEFAULT_URL);
				break;
			case 1001:
				o->mqtt_cafile = optarg;
				break;
			case 1002:
				o->token_file = optarg;
				break;
			case 1003:
				o->username = optarg;
				break;
			case 1004:
				o->password_file = optarg;
				break;
			case 1005:
				o->token_url = optarg;
				break;
			case 1006:
				o->http_cafile = optarg;
				break;
			case 1007:
				{
					char	   *slash = strchr(optarg, '/');
					char		n[32];

					if (slash == NULL || slash == optarg || (size_t) (slash - optarg) >= sizeof(n))
						die_usage("--rate \"%s\": expected N/S, e.g. 30/10", optarg);
					memcpy(n, optarg, slash - optarg);
					n[slash - optarg] = '\0';
					o->rate_n = (int) parse_int64("--rate", n, 1, 100000);
					o->rate_s = (int) parse_int64("--rate", slash + 1, 1, 86400);
				}
				break;
			case 1008:
				o->state_file = optarg;
				break;
			case 1009:
				o->poll_ms = (int) parse_int64("--poll-ms", optarg, 10, 600000);
				break;
			case 1010:
				o->lookback_s = (int) parse_int64("--lookback-s", optarg, 0, 86400);
				break;
			case 1011:
				o->reconcile_s = (int) parse_int64("--reconcile-s", optarg, 1, 86400);
				break;
			case 1012:
				o->linger_s = (int) parse_int64("--linger-s", optarg, 0, 7 * 86400);
				break;
			case 'h':
				usage(stdout);
				exit(0);
			default:
				fprintf(stderr, "Try \"f1tel-feed --help\".\n");
				exit(FEED_EXIT_USAGE);
		}
	}
	if (o->brokers == NULL)
		die_usage("%s", "--brokers is required");
	if (!have_speed && !o->live)
		die_usage("%s", "--speed is required (a number or max)");
	if (o->openf1_url == NULL)
	{
		if (o->nsessions > 0 || o->save_dir || o->live || o->mqtt_url || o->token_file ||
			o->username || o->password_file || o->state_file)
			die_usage("%s", "--session, --save, --live, --mqtt, --token-file, --username, "
					  "--password-file and --state need --openf1");
		if (optind >= argc)
			die_usage("%s", "no session DIR given");
	}
	else
	{
		if (optind < argc)
			die_usage("--openf1 reads no session DIR (\"%s\")", argv[optind]);
		if (o->nsessions == 0)
			die_usage("%s", "--openf1 needs --session KEY (or latest)");
		if (o->live && o->nsessions != 1)
			die_usage("%s", "--live follows one --session");
		if (o->live && o->save_dir)
			die_usage("%s", "--save downloads a past session: not with --live");
		if (o->mqtt_url && !o->live)
			die_usage("%s", "--mqtt needs --live");
		if (o->live && o->key_offset != 0)
			die_usage("%s", "--session-key-offset is not for --live");
		if (o->token_file && o->username)
			die_usage("%s", "--token-file or --username, not both");
		if ((o->username != NULL) != (o->password_file != NULL))
			die_usage("%s", "--username and --password-file go together");
		if (o->mqtt_url && !o->token_file && !o->username)
			die_usage("%s", "--mqtt needs an OpenF1 token: --token-file, or --username and --password-file");
	}
	if ((o->partitions > 0 || o->replication_factor > 0) && !o->create_topics)
		die_usage("%s", "--partitions and --replication-factor need --create-topics");
}

static bool
is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The files to load, in DIR order then endpoint order; exits 2 on a problem. */
static FeedFile *
find_files(const FeedOptions *o, char **dirs, int ndirs, int *nfiles)
{
	FeedFile   *files = calloc((size_t) ndirs * FEED_NENDPOINTS, sizeof(FeedFile));
	int			n = 0;

	if (files == NULL)
		die_oom();
	for (int d = 0; d < ndirs; d++)
	{
		struct stat st;
		int			found = 0;

		if (stat(dirs[d], &st) != 0)
		{
			fprintf(stderr, "f1tel-feed: session directory \"%s\": %s\n", dirs[d],
					strerror(errno));
			exit(FEED_EXIT_USAGE);
		}
		if (!S_ISDIR(st.st_mode))
		{
			fprintf(stderr, "f1tel-feed: \"%s\" is not a directory\n", dirs[d]);
			exit(FEED_EXIT_USAGE);
		}
		for (int e = 0; e < FEED_NENDPOINTS; e++)
		{
			char	   *path;

			if (!o->want[e])
				continue;
			if (asprintf(&path, "%s/%s.json", dirs[d], f1_endpoints[e].name) < 0)
				die_oom();
			if (!is_file(path))
			{
				free(path);
				if (asprintf(&path, "%s/%s.json.gz", dirs[d], f1_endpoints[e].name) < 0)
					die_oom();
				if (!is_file(path))
				{
					free(path);
					if (o->explicit_endpoints)
					{
						fprintf(stderr, "f1tel-feed: %s: no %s.json or %s.json.gz\n",
								dirs[d], f1_endpoints[e].name, f1_endpoints[e].name);
						exit(FEED_EXIT_USAGE);
					}
					continue;
				}
			}
			files[n].path = path;
			files[n].endpoint = e;
			n++;
			found++;
		}
		if (found == 0)
		{
			fprintf(stderr, "f1tel-feed: %s: none of the endpoint files is there\n",
					dirs[d]);
			exit(FEED_EXIT_USAGE);
		}
	}
	*nfiles = n;
	return files;
}

/* ---- parallel loading ---------------------------------------------------- */

typedef struct LoadJob
{
	FeedFile   *files;
	int			nfiles;
	int		   *by_size;		/* file indexes, largest first */
	atomic_int	next;
	int64_t		key_offset;
	char	  **errors;			/* per file, NULL if loaded */
} LoadJob;

static void *
load_worker(void *arg)
{
	LoadJob    *job = arg;
	int			k;

	while ((k = atomic_fetch_add(&job->next, 1)) < job->nfiles)
	{
		int			i = job->by_size[k];
		char		err[1024];

		if (!feed_load_file(&job->files[i], (uint32_t) i, job->key_offset,
							err, sizeof(err)))
			job->errors[i] = strdup(err);
	}
	return NULL;
}

/* qsort_r comparator: larger estimated size first */
static int
cmp_size_desc(const void *a, const void *b, void *arg)
{
	const off_t *size = arg;
	off_t		za = size[*(const int *) a];
	off_t		zb = size[*(const int *) b];

	return (za < zb) - (za > zb);
}

/* Loads every file; exits 2 with the first error in file order. */
static void
load_all(FeedFile *files, int nfiles, int64_t key_offset)
{
	LoadJob		job;
	pthread_t	threads[MAX_THREADS];
	long		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int			nthreads = ncpu < 1 ? 1 : (ncpu > MAX_THREADS ? MAX_THREADS : (int) ncpu);
	int			started = 0;
	off_t	   *sizes;

	if (nthreads > nfiles)
		nthreads = nfiles;
	job.files = files;
	job.nfiles = nfiles;
	job.by_size = malloc(sizeof(int) * (nfiles + 1));
	job.errors = calloc(nfiles + 1, sizeof(char *));
	if (job.by_size == NULL || job.errors == NULL)
		die_oom();
	sizes = malloc(sizeof(off_t) * (nfiles + 1));
	if (sizes == NULL)
		die_oom();
	for (int i = 0; i < nfiles; i++)
	{
		struct stat st;

		job.by_size[i] = i;
		if (files[i].text)
			sizes[i] = (off_t) files[i].textlen;
		else
			sizes[i] = stat(files[i].path, &st) == 0 ? st.st_size : 0;
		/* the recorded gzip files inflate about 15 times */
		if (strlen(files[i].path) > 3 &&
			strcmp(files[i].path + strlen(files[i].path) - 3, ".gz") == 0)
			sizes[i] *= 15;
	}
	/* biggest first, so that the threads finish at about the same time */
	qsort_r(job.by_size, nfiles, sizeof(int), cmp_size_desc, sizes);
	free(sizes);
	atomic_init(&job.next, 0);
	job.key_offset = key_offset;

	for (int t = 1; t < nthreads; t++)
		if (pthread_create(&threads[t], NULL, load_worker, &job) == 0)
			started = t;
		else
			break;
	load_worker(&job);
	for (int t = 1; t <= started; t++)
		pthread_join(threads[t], NULL);

	for (int i = 0; i < nfiles; i++)
		if (job.errors[i])
		{
			fprintf(stderr, "f1tel-feed: %s\n", job.errors[i]);
			exit(FEED_EXIT_USAGE);
		}
	free(job.errors);
	free(job.by_size);
}

/* the REST client of --openf1 */
static OpenF1Client *
openf1_client(const FeedOptions *o)
{
	OpenF1Config cfg;
	OpenF1Client *c;
	char		err[512];
	size_t		n = strlen(o->openf1_url);
	char	   *base = strdup(o->openf1_url);

	if (base == NULL)
		die_oom();
	while (n > 0 && base[n - 1] == '/')
		base[--n] = '\0';
	memset(&cfg, 0, sizeof(cfg));
	cfg.base_url = base;
	cfg.token_url = o->token_url;
	cfg.token_file = o->token_file;
	cfg.username = o->username;
	cfg.password_file = o->password_file;
	cfg.rate_n = o->rate_n;
	cfg.rate_s = o->rate_s;
	cfg.cafile = o->http_cafile;
	c = of1_new(&cfg, err, sizeof(err));
	if (c == NULL)
	{
		fprintf(stderr, "f1tel-feed: %s\n", err);
		exit(FEED_EXIT_USAGE);
	}
	return c;
}

static void
print_http_stats(const FeedOptions *o, OpenF1Client *c)
{
	const OpenF1Stats *st = of1_stats(c);

	if (o->quiet)
		return;
	fprintf(stderr, "f1tel-feed: openf1: %" PRIu64 " requests (%.1f MB), %" PRIu64
			" rate-limit waits (%.1f s), %" PRIu64 " answered 429, %" PRIu64
			" failed and retried, %" PRIu64 " too big and split, %" PRIu64 " tokens\n",
			st->requests, (double) st->bytes / 1e6, st->rate_waits,
			(double) st->rate_wait_ms / 1000.0, st->got_429, st->got_5xx, st->too_big,
			st->tokens);
}

/* --openf1 without --live: every --session downloaded; exits 1 on failure */
static FeedFile *
download_all(const FeedOptions *o, int *nfiles)
{
	OpenF1Client *c = openf1_client(o);
	FeedFile   *files = calloc((size_t) o->nsessions * FEED_NENDPOINTS, sizeof(FeedFile));
	int			n = 0;

	if (files == NULL)
		die_oom();
	for (int i = 0; i < o->nsessions; i++)
	{
		OpenF1Session s;
		char		err[1024];
		int			got;

		if (!of1_resolve_session(c, o->sessions[i], &s, err, sizeof(err)) ||
			(got = of1_download(c, o, &s, files + n, err, sizeof(err))) < 0)
		{
			fprintf(stderr, "f1tel-feed: openf1 session %s: %s\n", o->sessions[i], err);
			print_http_stats(o, c);
			exit(FEED_EXIT_DELIVERY);
		}
		n += got;
	}
	print_http_stats(o, c);
	of1_free(c);
	if (n == 0)
	{
		fprintf(stderr, "f1tel-feed: OpenF1 has no record of the chosen endpoints\n");
		exit(FEED_EXIT_DELIVERY);
	}
	*nfiles = n;
	return files;
}

static int
follow_live(const FeedOptions *o)
{
	OpenF1Client *c = openf1_client(o);
	int			status = of1_follow(o, c);

	print_http_stats(o, c);
	of1_free(c);
	return status;
}

int
main(int argc, char **argv)
{
	FeedOptions opt;
	FeedFile   *files;
	FeedRecord *recs;
	int			nfiles;
	size_t		nrecs;
	int64_t		t_start;
	size_t		bytes = 0;
	int			status;

	/* libmosquitto and OpenSSL may write to a closed socket */
	signal(SIGPIPE, SIG_IGN);
	parse_options(&opt, argc, argv);
	if (!feed_check_conf(&opt))
		return FEED_EXIT_USAGE;
	t_start = feed_now_ns();
	if (opt.openf1_url)
	{
		if (opt.live)
			return follow_live(&opt);
		files = download_all(&opt, &nfiles);
	}
	else
		files = find_files(&opt, argv + optind, argc - optind, &nfiles);

	load_all(files, nfiles, opt.key_offset);
	recs = feed_order(files, nfiles, &nrecs);
	if (recs == NULL)
	{
		fprintf(stderr, "f1tel-feed: out of memory\n");
		return FEED_EXIT_USAGE;
	}
	for (int i = 0; i < nfiles; i++)
		bytes += files[i].textlen;
	if (!opt.quiet)
		fprintf(stderr, "f1tel-feed: loaded %zu records from %d files (%.1f MB of JSON) "
				"in %.2f s\n", nrecs, nfiles, (double) bytes / 1e6,
				(double) (feed_now_ns() - t_start) / 1e9);

	/* the key tables and payloads stay; the per-file record arrays can go */
	for (int i = 0; i < nfiles; i++)
	{
		free(files[i].recs);
		files[i].recs = NULL;
	}

	status = feed_send(&opt, files, nfiles, recs, nrecs);

	free(recs);
	for (int i = 0; i < nfiles; i++)
		feed_free_file(&files[i]);
	free(files);
	return status;
}
