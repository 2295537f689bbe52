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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/feed.h"

#define MAX_THREADS 8

static void
usage(FILE *out)
{
	fprintf(out,
			"Usage: f1tel-feed --brokers HOST:PORT --speed X|max [--endpoints a,b,...]\n"
			"                  [--topic endpoint=name ...] [--session-key-offset N]\n"
			"                  [--timeout-ms N] [--compression CODEC] [-X prop=value ...]\n"
			"                  [--create-topics [--partitions N] [--replication-factor R]]\n"
			"                  [--quiet] DIR...\n"
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
			"                          (default 30000)\n"
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
	o->timeout_ms = 30000;
	o->compression = "lz4";

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
	if (!have_speed)
		die_usage("%s", "--speed is required (a number or max)");
	if (optind >= argc)
		die_usage("%s", "no session DIR given");
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

	parse_options(&opt, argc, argv);
	if (!feed_check_conf(&opt))
		return FEED_EXIT_USAGE;
	files = find_files(&opt, argv + optind, argc - optind, &nfiles);

	t_start = feed_now_ns();
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
