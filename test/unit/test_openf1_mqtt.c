/*
 * test/unit/test_openf1_mqtt.c — f1tel-feed's MQTT client (src/tools/
 * openf1_mqtt.c) against a real Mosquitto with TLS and passwords, the way
 * OpenF1's feed is reached: messages arrive complete and in order and
 * f1mqtt_take() gives them oldest first; the wake fd is readable exactly
 * while something is pending; a wrong password is an auth refusal, DOWN,
 * and no reconnect of libmosquitto's own; the right one after it is UP; a
 * server certificate from another CA is refused; a broker restart is a
 * disconnect event, and f1mqtt_connect() again is UP with messages flowing;
 * the password appears in no error text.
 *
 * The program makes its own Mosquitto in a temporary folder: an openssl CA,
 * a server certificate for 127.0.0.1 (subjectAltName IP:127.0.0.1), a
 * password file (mosquitto_passwd -b), allow_anonymous false, a free port;
 * messages are published by mosquitto_pub (QoS 1, one connection, -l).  It
 * needs /usr/sbin/mosquitto, mosquitto_passwd, mosquitto_pub and openssl
 * (Debian: mosquitto, mosquitto-clients), so it is not part of `make unit`:
 * `make unit-mqtt` runs it, `make unit-mqtt-valgrind` under valgrind.  The
 * harness is test/unit/harness.h ("N passed, N failed").  The folder is
 * removed at the end unless F1TEL_KEEP_MQTT_TEST is set.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tools/openf1_mqtt.h"

#include "harness.h"

#define MOSQUITTO	"/usr/sbin/mosquitto"
#define N_MSGS		200
#define WAIT_MS		30000		/* generous: valgrind is slow */
#define TOPIC		"v1/laps"

static const char *const PASSWORD = "tok-3f9a1c-right";
static const char *const WRONG_PASSWORD = "tok-77e0b2-wrong";
static const char *const PUB_PASSWORD = "pub-5d1e-secret";

static char dir[256];
static char ca[300];
static char other_ca[300];
static char url[64];
static int	port;
static pid_t broker = -1;
static int	next_id;			/* the _id of the next published message */

/* ---- the broker ------------------------------------------------------------ */

static int
run(const char *fmt,...)
{
	char		cmd[2048];
	va_list		ap;
	int			st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	if (st != 0)
		printf("# command failed (%d): %s\n", st, cmd);
	return st;
}

static int
free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t	len = sizeof(a);
	int			s = socket(AF_INET, SOCK_STREAM, 0);
	int			p = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s >= 0 && bind(s, (struct sockaddr *) &a, sizeof(a)) == 0 &&
		getsockname(s, (struct sockaddr *) &a, &len) == 0)
		p = ntohs(a.sin_port);
	if (s >= 0)
		close(s);
	return p;
}

static bool
port_open(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int			s = socket(AF_INET, SOCK_STREAM, 0);
	bool		ok;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t) port);
	ok = s >= 0 && connect(s, (struct sockaddr *) &a, sizeof(a)) == 0;
	if (s >= 0)
		close(s);
	return ok;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool
start_broker(void)
{
	char		conf[300];
	char		out[300];

	snprintf(conf, sizeof(conf), "%s/mosquitto.conf", dir);
	snprintf(out, sizeof(out), "%s/mosquitto.out", dir);
	broker = fork();
	if (broker < 0)
		return false;
	if (broker == 0)
	{
		if (freopen(out, "a", stdout) == NULL || freopen(out, "a", stderr) == NULL)
			_exit(126);
		execl(MOSQUITTO, MOSQUITTO, "-c", conf, (char *) NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++)
	{
		if (port_open())
			return true;
		if (waitpid(broker, NULL, WNOHANG) == broker)
		{
			printf("# mosquitto exited; see %s\n", out);
			broker = -1;
			return false;
		}
		sleep_ms(50);
	}
	return false;
}

static void
stop_broker(void)
{
	if (broker <= 0)
		return;
	kill(broker, SIGTERM);
	waitpid(broker, NULL, 0);
	broker = -1;
}

static bool
make_broker(void)
{
	const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
	struct passwd *pw = getpwuid(getuid());
	char		path[300];
	FILE	   *f;

	snprintf(dir, sizeof(dir), "/tmp/f1tel-mqtt-test.XXXXXX");
	if (mkdtemp(dir) == NULL || pw == NULL)
		return false;
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(other_ca, sizeof(other_ca), "%s/other-ca.crt", dir);
	if (run("cd %s && openssl req -x509 %s -keyout ca.key -out ca.crt -days 2 "
			"-subj /CN=f1tel-test-ca 2>/dev/null", dir, ec) != 0 ||
		run("cd %s && openssl req -x509 %s -keyout other-ca.key -out other-ca.crt -days 2 "
			"-subj /CN=f1tel-other-ca 2>/dev/null", dir, ec) != 0 ||
		run("cd %s && openssl req %s -keyout server.key -out server.csr -subj /CN=127.0.0.1 "
			"2>/dev/null", dir, ec) != 0 ||
		run("cd %s && printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext && "
			"openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
			"-out server.crt -days 2 -extfile san.ext 2>/dev/null", dir) != 0 ||
		run("mosquitto_passwd -c -b %s/passwd f1tel %s", dir, PASSWORD) != 0 ||
		run("mosquitto_passwd -b %s/passwd publisher %s", dir, PUB_PASSWORD) != 0)
		return false;

	port = free_port();
	if (port < 0)
		return false;
	snprintf(url, sizeof(url), "mqtts://127.0.0.1:%d", port);
	snprintf(path, sizeof(path), "%s/mosquitto.conf", dir);
	f = fopen(path, "w");
	if (f == NULL)
		return false;
	fprintf(f, "listener %d 127.0.0.1\n"
			"cafile %s/ca.crt\ncertfile %s/server.crt\nkeyfile %s/server.key\n"
			"allow_anonymous false\npassword_file %s/passwd\n"
			"user %s\npid_file %s/mosquitto.pid\n"
			"log_dest file %s/mosquitto.log\npersistence false\n",
			port, dir, dir, dir, dir, pw->pw_name, dir, dir);
	fclose(f);
	return start_broker();
}

/* publishes n messages {"_id":i,"_key":"k<i>"} to TOPIC, QoS 1, in one connection */
static bool
publish(int n)
{
	char		path[300];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/msgs.txt", dir);
	f = fopen(path, "w");
	if (f == NULL)
		return false;
	for (int i = 0; i < n; i++, next_id++)
		fprintf(f, "{\"_id\":%d,\"_key\":\"k%d\"}\n", next_id, next_id);
	fclose(f);
	return run("mosquitto_pub -h 127.0.0.1 -p %d --cafile %s -u publisher -P %s -q 1 -t %s "
			   "-l < %s", port, ca, PUB_PASSWORD, TOPIC, path) == 0;
}

/* ---- what a client received ------------------------------------------------ */

typedef struct Seen
{
	int			connects;
	int			disconnects;
	int			auth_refused;
	char		last_error[256];
	int			nmsgs;
	int			next_id;		/* the _id expected next */
	int			out_of_order;
	int			bad;			/* wrong topic, or payload not as published */
	int			largest_take;	/* most messages one f1mqtt_take() returned */
} Seen;

static bool
leaks_password(const char *s)
{
	return strstr(s, PASSWORD) || strstr(s, WRONG_PASSWORD) || strstr(s, PUB_PASSWORD);
}

static void
collect(F1Mqtt *m, Seen *s)
{
	F1MqttMsg  *list = f1mqtt_take(m);
	F1MqttEvents ev;
	int			n = 0;

	for (F1MqttMsg *p = list; p; p = p->next, n++)
	{
		int			id = -1;
		char		expect[64];

		if (sscanf(p->payload, "{\"_id\":%d,", &id) != 1)
			s->bad++;
		snprintf(expect, sizeof(expect), "{\"_id\":%d,\"_key\":\"k%d\"}", id, id);
		if (strcmp(p->topic, TOPIC) != 0 || strcmp(p->payload, expect) != 0 ||
			p->len != strlen(expect))
			s->bad++;
		if (id != s->next_id)
			s->out_of_order++;
		s->next_id = id + 1;
		s->nmsgs++;
	}
	if (n > s->largest_take)
		s->largest_take = n;
	f1mqtt_free_msgs(list);

	f1mqtt_events(m, &ev);
	s->connects += ev.connects;
	s->disconnects += ev.disconnects;
	s->auth_refused += ev.auth_refused;
	if (ev.last_error[0])
	{
		snprintf(s->last_error, sizeof(s->last_error), "%s", ev.last_error);
		printf("# event: %s\n", ev.last_error);
	}
}

typedef bool (*Until) (F1Mqtt *m, const Seen *s, int arg);

/* waits on the wake fd, collecting, until the condition holds or WAIT_MS passed */
static bool
wait_until(F1Mqtt *m, Seen *s, Until until, int arg, int timeout_ms)
{
	int64_t		end = now_ms() + timeout_ms;

	for (;;)
	{
		struct pollfd pfd = {.fd = f1mqtt_wake_fd(m), .events = POLLIN};

		collect(m, s);
		if (until(m, s, arg))
			return true;
		if (now_ms() >= end)
			return false;
		(void) poll(&pfd, 1, 200);
	}
}

static bool
until_up(F1Mqtt *m, const Seen *s, int connects)
{
	return s->connects >= connects && f1mqtt_state(m) == F1MQTT_UP;
}

static bool
until_down(F1Mqtt *m, const Seen *s, int unused)
{
	return f1mqtt_state(m) == F1MQTT_DOWN;
}

static bool
until_msgs(F1Mqtt *m, const Seen *s, int n)
{
	return s->nmsgs >= n;
}

static bool
until_never(F1Mqtt *m, const Seen *s, int unused)
{
	return false;
}

static bool
fd_readable(F1Mqtt *m, int timeout_ms)
{
	struct pollfd pfd = {.fd = f1mqtt_wake_fd(m), .events = POLLIN};

	return poll(&pfd, 1, timeout_ms) == 1 && (pfd.revents & POLLIN);
}

/* ---- the cases ------------------------------------------------------------- */

static void
test_new(void)
{
	char		err[256];
	F1Mqtt	   *m;
	static const char *const bad[] = {
		"http://127.0.0.1", "mqtt://", "mqtt://:1883", "mqtt://h:0", "mqtt://h:65536",
		"mqtt://h:12x", "mqtt://h/path", "mqtts://[::1", "", "127.0.0.1:1883"
	};

	begin_case("f1mqtt_new: URLs, user name, topic filter, CA file");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		err[0] = '\0';
		m = f1mqtt_new(bad[i], NULL, "f1tel", "v1/#", err, sizeof(err));
		CHECKF(m == NULL && err[0], "\"%s\" accepted", bad[i]);
		f1mqtt_free(m);
	}
	m = f1mqtt_new("mqtt://h", NULL, "f1tel", "v1/#/x", err, sizeof(err));
	CHECK(m == NULL && strstr(err, "topic filter"));
	m = f1mqtt_new("mqtt://h", NULL, "", "v1/#", err, sizeof(err));
	CHECK(m == NULL && strstr(err, "user"));
	m = f1mqtt_new("mqtt://h", ca, "f1tel", "v1/#", err, sizeof(err));
	CHECK(m == NULL && strstr(err, "TLS"));
	m = f1mqtt_new("mqtts://h", "/nonexistent/ca.crt", "f1tel", "v1/#", err, sizeof(err));
	CHECKF(m == NULL && strstr(err, "/nonexistent/ca.crt"), "%s", err);

	/* valid ones: no connection yet, DOWN, nothing pending */
	m = f1mqtt_new("mqtts://[::1]:8883/", NULL, "f1tel", "v1/#", err, sizeof(err));
	CHECKF(m != NULL, "%s", err);
	f1mqtt_free(m);
	m = f1mqtt_new("mqtt://mqtt.example", NULL, "f1tel", "v1/laps", err, sizeof(err));
	CHECKF(m != NULL, "%s", err);
	if (m)
	{
		CHECK(f1mqtt_state(m) == F1MQTT_DOWN);
		CHECK(f1mqtt_take(m) == NULL);
		CHECK(!fd_readable(m, 0));
		CHECK(!f1mqtt_connect(m, "", err, sizeof(err)) && strstr(err, "password"));
		CHECK(f1mqtt_state(m) == F1MQTT_DOWN);
	}
	f1mqtt_free(m);
	end_case();
}

static F1Mqtt *
new_client(const char *cafile)
{
	char		err[256];
	F1Mqtt	   *m = f1mqtt_new(url, cafile, "f1tel", "v1/#", err, sizeof(err));

	CHECKF(m != NULL, "f1mqtt_new: %s", err);
	return m;
}

static bool
connect_with(F1Mqtt *m, const char *password)
{
	char		err[256] = "";
	bool		ok = f1mqtt_connect(m, password, err, sizeof(err));

	CHECKF(ok, "f1mqtt_connect: %s", err);
	CHECK(!leaks_password(err));
	return ok;
}

static void
test_messages(F1Mqtt *m)
{
	Seen		s = {0};

	begin_case("right password: UP, messages complete, in order, oldest first; the wake fd");
	if (m && connect_with(m, PASSWORD))
	{
		CHECK(f1mqtt_state(m) != F1MQTT_DOWN);
		CHECKF(wait_until(m, &s, until_up, 1, WAIT_MS), "not UP: %s", s.last_error);
		CHECK(s.connects == 1 && s.disconnects == 0 && s.auth_refused == 0);
		/* nothing pending after take + events: not readable */
		CHECK(!fd_readable(m, 0));

		/* let them pile up, then one take: all of them, oldest first */
		s.next_id = next_id;
		CHECK(publish(N_MSGS));
		CHECK(fd_readable(m, WAIT_MS));
		CHECK(fd_readable(m, 0));	/* stays readable until taken */
		sleep_ms(1000);
		CHECKF(wait_until(m, &s, until_msgs, N_MSGS, WAIT_MS), "%d of %d messages", s.nmsgs, N_MSGS);
		CHECKF(s.nmsgs == N_MSGS && s.out_of_order == 0 && s.bad == 0,
			   "%d messages, %d out of order, %d bad", s.nmsgs, s.out_of_order, s.bad);
		CHECKF(s.largest_take > 1, "one take gave at most %d", s.largest_take);
		CHECK(!fd_readable(m, 0));
		CHECK(f1mqtt_take(m) == NULL);
		CHECK(f1mqtt_state(m) == F1MQTT_UP);
		CHECK(!leaks_password(s.last_error));
	}
	end_case();
}

static void
test_wrong_password(void)
{
	F1Mqtt	   *m = new_client(ca);
	Seen		s = {0};

	begin_case("wrong password: auth refused, DOWN, no reconnect by itself; then the right one: UP");
	if (m && connect_with(m, WRONG_PASSWORD))
	{
		CHECKF(wait_until(m, &s, until_down, 0, WAIT_MS), "not DOWN");
		collect(m, &s);
		CHECKF(s.auth_refused == 1 && s.connects == 0, "auth_refused %d connects %d",
			   s.auth_refused, s.connects);
		CHECKF(strstr(s.last_error, "not authorised") != NULL, "last error: %s", s.last_error);
		CHECK(!leaks_password(s.last_error));

		/* libmosquitto's reconnect would try again within 2 s: it must not */
		(void) wait_until(m, &s, until_never, 0, 5000);
		CHECKF(s.auth_refused == 1 && f1mqtt_state(m) == F1MQTT_DOWN,
			   "auth_refused %d after 5 s", s.auth_refused);

		/* the caller's new token before its next attempt */
		s.auth_refused = s.disconnects = 0;
		if (connect_with(m, PASSWORD))
		{
			CHECKF(wait_until(m, &s, until_up, 1, WAIT_MS), "not UP: %s", s.last_error);
			CHECK(s.auth_refused == 0);
		}
	}
	f1mqtt_free(m);
	end_case();
}

static void
test_wrong_ca(void)
{
	F1Mqtt	   *m = new_client(other_ca);
	Seen		s = {0};
	char		err[256] = "";

	begin_case("server certificate of another CA: never UP, DOWN with a TLS error");
	if (m)
	{
		if (f1mqtt_connect(m, PASSWORD, err, sizeof(err)))
		{
			/* 35 s: the module's own timeout is 30 s where libmosquitto ends silently */
			CHECKF(wait_until(m, &s, until_down, 0, 35000), "not DOWN");
			collect(m, &s);
			CHECK(s.disconnects == 1);
			snprintf(err, sizeof(err), "%s", s.last_error);
		}
		CHECK(s.connects == 0 && s.auth_refused == 0);
		CHECKF(strstr(err, "TLS") || strstr(err, "SSL") || strstr(err, "certificate") ||
			   strstr(err, "protocol"), "error: %s", err);
		CHECK(!leaks_password(err));
		printf("# wrong CA: %s\n", err);
	}
	f1mqtt_free(m);
	end_case();
}

static void
test_restart(F1Mqtt *m)
{
	Seen		s = {0};
	char		err[256] = "";
	int			n = 20;

	begin_case("broker restart: a disconnect event, DOWN; connect again: UP, messages flow");
	if (m && f1mqtt_state(m) == F1MQTT_UP)
	{
		stop_broker();
		CHECKF(wait_until(m, &s, until_down, 0, WAIT_MS), "not DOWN");
		collect(m, &s);
		CHECKF(s.disconnects == 1 && s.connects == 0, "disconnects %d", s.disconnects);
		CHECK(s.last_error[0] != '\0' && !leaks_password(s.last_error));
		/* no reconnect of its own: still DOWN (the broker is gone anyway) */
		CHECK(f1mqtt_state(m) == F1MQTT_DOWN);

		/* an attempt while it is down fails, now or as an event */
		s.disconnects = 0;
		if (f1mqtt_connect(m, PASSWORD, err, sizeof(err)))
		{
			CHECKF(wait_until(m, &s, until_down, 0, WAIT_MS), "not DOWN");
			collect(m, &s);
			CHECK(s.disconnects == 1 && s.connects == 0);
		}
		else
			printf("# while down: %s\n", err);
		CHECK(!leaks_password(err));

		CHECK(start_broker());
		s.connects = s.disconnects = 0;
		if (connect_with(m, PASSWORD))
		{
			CHECKF(wait_until(m, &s, until_up, 1, WAIT_MS), "not UP: %s", s.last_error);
			s.nmsgs = 0;
			s.next_id = next_id;
			CHECK(publish(n));
			CHECKF(wait_until(m, &s, until_msgs, n, WAIT_MS), "%d of %d messages", s.nmsgs, n);
			CHECK(s.nmsgs == n && s.out_of_order == 0 && s.bad == 0);
			CHECK(s.disconnects == 0 && s.connects == 1);
		}
	}
	else
		CHECK(!"the client is not UP");
	end_case();
}

/* f1mqtt_connect() twice in a row, then f1mqtt_free() while connecting */
static void
test_teardown(void)
{
	F1Mqtt	   *m = new_client(ca);
	Seen		s = {0};

	begin_case("connect again while connected, free while connecting");
	if (m && connect_with(m, PASSWORD))
	{
		CHECKF(wait_until(m, &s, until_up, 1, WAIT_MS), "not UP: %s", s.last_error);
		if (connect_with(m, PASSWORD))
		{
			CHECKF(wait_until(m, &s, until_up, 2, WAIT_MS), "not UP again: %s", s.last_error);
			/* the teardown asked for is no event */
			CHECK(s.disconnects == 0 && s.connects == 2);
		}
		CHECK(connect_with(m, PASSWORD));
	}
	f1mqtt_free(m);
	end_case();
}

int			main(int argc, char **argv);

int
main(int argc, char **argv)
{
	F1Mqtt	   *m;

	harness_start(argv[0]);
	signal(SIGPIPE, SIG_IGN);
	begin_case("a TLS + password Mosquitto on a free port");
	CHECK(make_broker());
	end_case();
	if (broker <= 0)
		return harness_report();
	printf("# broker %s in %s\n", url, dir);

	test_new();
	m = new_client(ca);
	test_messages(m);
	test_wrong_password();
	test_wrong_ca();
	test_restart(m);
	f1mqtt_free(m);
	test_teardown();

	stop_broker();
	if (getenv("F1TEL_KEEP_MQTT_TEST") == NULL)
		run("rm -rf %s", dir);
	return harness_report();
}
