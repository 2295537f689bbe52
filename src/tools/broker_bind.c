/*
 * src/tools/broker_bind.c — fixed ports for librdkafka's mock brokers.
 *
 * librdkafka 2.0.2's mock cluster binds each broker's listener to
 * 127.0.0.1 port 0 and offers no way to choose the port.  This file defines
 * bind() itself (the program is linked with -rdynamic so that librdkafka's
 * call resolves here) and forwards to the C library's bind(), found with
 * dlsym(RTLD_NEXT).  While armed, a loopback bind to port 0 is rewritten to
 * the next wanted port, with SO_REUSEADDR so that a restart does not trip
 * over the previous run's TIME_WAIT connections.
 *
 * Rules: arm only around rd_kafka_mock_cluster_new(), which creates the
 * listeners in the calling thread.  The counter is atomic anyway.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "tools/broker.h"

typedef int (*bind_fn) (int, const struct sockaddr *, socklen_t);

static atomic_int armed_port = 0;	/* 0: pass every bind through */
static atomic_int handed_out = 0;

static bind_fn
real_bind(void)
{
	static bind_fn fn = NULL;

	if (fn == NULL)
	{
		fn = (bind_fn) dlsym(RTLD_NEXT, "bind");
		if (fn == NULL)
		{
			fprintf(stderr, "f1tel-broker: cannot find the C library's bind(): %s\n",
					dlerror());
			_exit(1);
		}
	}
	return fn;
}

int
bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	int			first = atomic_load(&armed_port);
	const struct sockaddr_in *sin = (const struct sockaddr_in *) addr;
	struct sockaddr_in fixed;
	int			port;
	int			one = 1;

	if (first == 0 || addr == NULL || len < (socklen_t) sizeof(*sin) ||
		sin->sin_family != AF_INET || sin->sin_port != 0 ||
		sin->sin_addr.s_addr != htonl(INADDR_LOOPBACK))
		return real_bind() (fd, addr, len);

	port = first + atomic_fetch_add(&handed_out, 1);
	fixed = *sin;
	fixed.sin_port = htons((uint16_t) port);
	(void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (real_bind() (fd, (const struct sockaddr *) &fixed, sizeof(fixed)) != 0)
	{
		/* the mock cluster's cleanup would assert: leave with a reason */
		fprintf(stderr, "f1tel-broker: cannot listen on 127.0.0.1:%d: %s\n",
				port, strerror(errno));
		_exit(1);
	}
	return 0;
}

void
broker_bind_arm(int first_port)
{
	atomic_store(&handed_out, 0);
	atomic_store(&armed_port, first_port);
}

void
broker_bind_disarm(void)
{
	atomic_store(&armed_port, 0);
}

int
broker_bind_count(void)
{
	return atomic_load(&handed_out);
}

bool
broker_port_free(int port, char *errbuf, int errlen)
{
	struct sockaddr_in sin;
	int			fd;
	int			one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t) port);

	/* something accepting connections there? */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
	{
		snprintf(errbuf, errlen, "socket: %s", strerror(errno));
		return false;
	}
	if (connect(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0)
	{
		close(fd);
		snprintf(errbuf, errlen, "127.0.0.1:%d is in use (it accepts connections)",
				 port);
		return false;
	}
	close(fd);

	/* can we bind it, the way the rewritten bind() will? */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
	{
		snprintf(errbuf, errlen, "socket: %s", strerror(errno));
		return false;
	}
	(void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (real_bind() (fd, (struct sockaddr *) &sin, sizeof(sin)) != 0)
	{
		snprintf(errbuf, errlen, "cannot bind 127.0.0.1:%d: %s",
				 port, strerror(errno));
		close(fd);
		return false;
	}
	close(fd);
	return true;
}
