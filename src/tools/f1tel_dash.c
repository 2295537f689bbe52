/*
 * src/tools/f1tel_dash.c — f1tel-dash, the live dashboard: an HTTP server
 * that reads f1tel's views through one libpq connection and serves one page
 * that shows the race as it happens (src/tools/dash.h says how the parts fit).
 *
 *   f1tel-dash [--listen HOST:PORT] [--db CONNINFO] [--quiet]
 *
 * Rules: SIGINT, SIGTERM and SIGPIPE are blocked before any thread starts
 * (libmicrohttpd's and the database thread inherit the mask); the main thread
 * takes SIGINT/SIGTERM with sigwaitinfo() and stops everything, so no work
 * is ever done in a signal handler.  Exit status 0 on a signalled stop, 1
 * when it cannot listen, 2 on a usage error.  The conninfo may hold a
 * password: it is never printed.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/dash.h"

static void
usage(FILE *out)
{
	fprintf(out,
			"Usage: f1tel-dash [--listen HOST:PORT] [--db CONNINFO] [--quiet]\n"
			"\n"
			"Serves f1tel's live dashboard: the timing tower, race control, positions\n"
			"and speed trap by lap, fastest laps, the track map and the weather, updated\n"
			"within a second of a commit (LISTEN f1tel_changes, Server-Sent Events).\n"
			"\n"
			"  --listen HOST:PORT  where to accept browsers (default 127.0.0.1:8080;\n"
			"                      port 0 picks a free one; [::1]:PORT for IPv6)\n"
			"  --db CONNINFO       the f1tel database, a libpq connection string or URI\n"
			"                      (default: libpq's PG* environment variables); its role\n"
			"                      must be a member of f1tel_reader\n"
			"  --quiet             print nothing but the listening line and errors\n");
}

/* "HOST:PORT" or "[V6]:PORT" into host and port; false on a bad value */
static bool
parse_listen(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon;
	char	   *end;
	long		p;
	size_t		n;

	if (s[0] == '[')
	{
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return false;
		n = (size_t) (close - s - 1);
		colon = close + 1;
		s++;
	}
	else
	{
		colon = strrchr(s, ':');
		if (colon == NULL)
			return false;
		n = (size_t) (colon - s);
	}
	if (n == 0 || n >= hostlen)
		return false;
	memcpy(host, s, n);
	host[n] = '\0';
	p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || p < 0 || p > 65535)
		return false;
	*port = (int) p;
	return true;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"db", required_argument, NULL, 'd'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	DashDbConfig cfg = {.conninfo = "",.quiet = false};
	const char *listen = "127.0.0.1:8080";
	char		host[256];
	int			port;
	int			bound;
	int			c;
	char		err[300];
	sigset_t	set;
	pthread_t	db_thread;
	struct MHD_Daemon *d;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
	{
		switch (c)
		{
			case 'l':
				listen = optarg;
				break;
			case 'd':
				cfg.conninfo = optarg;
				break;
			case 'q':
				cfg.quiet = true;
				break;
			case 'h':
				usage(stdout);
				return 0;
			default:
				usage(stderr);
				return 2;
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, "f1tel-dash: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!parse_listen(listen, host, sizeof(host), &port))
	{
		fprintf(stderr, "f1tel-dash: --listen takes HOST:PORT (e.g. 127.0.0.1:8080), not \"%s\"\n", listen);
		return 2;
	}

	/* block the signals before any thread starts: every thread inherits it */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (!dash_store_init(err, sizeof(err)))
	{
		fprintf(stderr, "f1tel-dash: %s\n", err);
		return 1;
	}
	dash_http_quiet(cfg.quiet);
	d = dash_http_start(host, port, &bound, err, sizeof(err));
	if (d == NULL)
	{
		fprintf(stderr, "f1tel-dash: %s\n", err);
		return 1;
	}
	if (pthread_create(&db_thread, NULL, dash_db_main, &cfg) != 0)
	{
		fprintf(stderr, "f1tel-dash: could not start the database thread\n");
		dash_http_stop(d);
		return 1;
	}
	fprintf(stderr, "f1tel-dash: listening on http://%s%s%s:%d/\n",
			strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", bound);
	fflush(stderr);

	sigdelset(&set, SIGPIPE);
	for (;;)
	{
		siginfo_t	si;

		if (sigwaitinfo(&set, &si) > 0)
			break;
	}
	if (!cfg.quiet)
		fprintf(stderr, "f1tel-dash: stopping\n");
	pthread_mutex_lock(&dash_lock);
	dash_stopping = true;
	pthread_cond_broadcast(&dash_changed);
	pthread_mutex_unlock(&dash_lock);
	dash_wake_db();
	dash_http_stop(d);
	pthread_join(db_thread, NULL);
	return 0;
}
