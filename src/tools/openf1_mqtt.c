/*
 * src/tools/openf1_mqtt.c — f1tel-feed's MQTT client of OpenF1's push feed,
 * on libmosquitto 2.0.11 (interface and caller's duties: openf1_mqtt.h).
 *
 * One connection = one libmosquitto loop thread.  f1mqtt_connect() sets the
 * password, calls mosquitto_connect_async() (mosquitto_reconnect_async()
 * later) and mosquitto_loop_start() with every signal blocked, so that the
 * thread never takes SIGINT/SIGTERM.  When the connection ends the thread
 * ends too, and the next f1mqtt_connect() joins it (mosquitto_disconnect()
 * + mosquitto_loop_stop()) before it starts the next one.
 *
 * Rules a reader must know:
 *  - libmosquitto's own reconnect is off.  mosquitto_loop_start()'s loop
 *    reconnects after every lost connection, with the password it holds,
 *    unless the client is marked disconnected; reconnect_delay_set() cannot
 *    turn that off.  So on_disconnect calls mosquitto_disconnect() (which
 *    only marks the client: its socket is already closed) and the loop,
 *    seeing that, ends.  That, mosquitto_subscribe() in on_connect and
 *    mosquitto_disconnect() after a refused subscription or too many
 *    untaken messages are the only library calls made from callbacks; none
 *    calls the caller's code.  The reconnect delay (RECONNECT_DELAY_S) only
 *    applies where libmosquitto 2.0.11 ends a connection without calling
 *    on_disconnect (select() failing); it also bounds how long
 *    mosquitto_loop_stop() can wait in that corner.
 *  - A TLS handshake failure (a certificate not verified) in libmosquitto
 *    2.0.11 may end the thread without on_disconnect: on_log sees the
 *    OpenSSL error it logs and reports the end.  As a last resort an
 *    attempt still CONNECTING after CONNECT_TIMEOUT_S is reported DOWN (a
 *    disconnect event) by the next f1mqtt_state/take/events call.  A broker
 *    that never answers, and a refused TCP connection under TLS (which
 *    libmosquitto does not notice), are ended by the keepalive (KEEPALIVE_S)
 *    before that; it also bounds how long a teardown (f1mqtt_connect,
 *    f1mqtt_free) can wait.
 *  - Every field below "lock" is read and written under it; the callbacks
 *    take it, never the other way round, and no mosquitto_*() call is made
 *    with it held.  Callbacks record, they never block: the wake pipe is
 *    non-blocking and holds at most one byte (wake_armed).
 *  - mosquitto_lib_init() runs once per process and mosquitto_lib_cleanup()
 *    never: it would end OpenSSL for the whole process (libcurl's too).
 *  - No password in any text: it goes from the caller to
 *    mosquitto_username_pw_set() and nowhere else.
 */
#define _GNU_SOURCE				/* strerror_r returning char *, pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "tools/openf1_mqtt.h"

#define KEEPALIVE_S			10
#define RECONNECT_DELAY_S	2
#define CONNECT_TIMEOUT_S	(3 * KEEPALIVE_S)
#define MAX_PENDING_BYTES	((size_t) 256 * 1024 * 1024)	/* untaken messages */
#define SYSTEM_CAPATH		"/etc/ssl/certs"
#define CONNACK_BAD_CREDENTIALS	4	/* MQTT 3.1.1 CONNACK return codes */
#define CONNACK_NOT_AUTHORIZED	5

struct F1Mqtt
{
	struct mosquitto *mosq;
	char	   *host;
	int			port;
	char	   *username;
	char	   *topic_filter;
	char		where[64];		/* host:port, for error texts (a long host cut) */
	int			wake[2];		/* the pipe: read end, write end */
	bool		thread_running; /* a loop thread not yet joined */
	bool		connect_init;	/* mosquitto_connect_async() has succeeded once */

	pthread_mutex_t lock;
	F1MqttState state;
	bool		stopping;		/* the teardown asked for: no event */
	bool		dropping;		/* too much untaken: this connection's rest dropped */
	bool		ended;			/* this connection's end is reported */
	time_t		connect_started;	/* monotonic seconds */
	int			sub_mid;
	F1MqttMsg  *head;
	F1MqttMsg  *tail;
	size_t		pending_bytes;
	int			connects;
	int			disconnects;
	int			auth_refused;
	bool		ev_pending;		/* an event since the last f1mqtt_events() */
	char		last_error[256];
	char		conn_error[256];	/* why this connection ended, when known */
	char		log_error[112]; /* newest error or warning libmosquitto logged */
	bool		wake_armed;		/* a byte is in the pipe */
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int	lib_rc = MOSQ_ERR_SUCCESS;

static void
lib_init(void)
{
	lib_rc = mosquitto_lib_init();
}

static time_t
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* the text of a libmosquitto return code (errno's for MOSQ_ERR_ERRNO) */
static const char *
rc_text(int rc, int saved_errno, char *buf, size_t buflen)
{
	if (rc == MOSQ_ERR_ERRNO)
		return strerror_r(saved_errno, buf, buflen);
	return mosquitto_strerror(rc);
}

/* ---- the wake pipe and the events (lock held) ------------------------------ */

static void
arm_wake(F1Mqtt *m)
{
	char		b = 1;

	if (!m->wake_armed && write(m->wake[1], &b, 1) == 1)
		m->wake_armed = true;
}

/* empties the pipe once nothing is pending any more */
static void
disarm_wake_if_idle(F1Mqtt *m)
{
	char		b[16];

	if (!m->wake_armed || m->head != NULL || m->ev_pending)
		return;
	while (read(m->wake[0], b, sizeof(b)) > 0)
		;
	m->wake_armed = false;
}

static void
record_error(F1Mqtt *m, const char *text)
{
	snprintf(m->last_error, sizeof(m->last_error), "%s", text);
	m->ev_pending = true;
	arm_wake(m);
}

/* the connection is over: DOWN, and one disconnect event unless asked for */
static void
report_end(F1Mqtt *m, const char *text)
{
	m->state = F1MQTT_DOWN;
	if (m->ended || m->stopping)
		return;
	m->ended = true;
	m->disconnects++;
	record_error(m, text);
}

/* an attempt that got nowhere (see the header comment) ends here */
static void
check_stalled(F1Mqtt *m)
{
	char		text[256];

	if (m->state != F1MQTT_CONNECTING || mono_s() - m->connect_started < CONNECT_TIMEOUT_S)
		return;
	snprintf(text, sizeof(text), "MQTT broker %s: no connection within %d s%s%s",
			 m->where, CONNECT_TIMEOUT_S, m->log_error[0] ? ": " : "", m->log_error);
	report_end(m, text);
}

/*
 * mosquitto_disconnect() from a callback: marks the client disconnected so
 * that libmosquitto's loop ends (sends DISCONNECT first when connected);
 * MOSQ_ERR_NO_CONN (the socket already closed) is the usual answer.
 */
static void
end_connection(struct mosquitto *mosq, F1Mqtt *m)
{
	int			rc = mosquitto_disconnect(mosq);
	char		text[256];

	if (rc == MOSQ_ERR_SUCCESS || rc == MOSQ_ERR_NO_CONN)
		return;
	pthread_mutex_lock(&m->lock);
	snprintf(text, sizeof(text), "MQTT: cannot end the connection to %s: %s",
			 m->where, mosquitto_strerror(rc));
	record_error(m, text);
	pthread_mutex_unlock(&m->lock);
}

/* ---- libmosquitto's callbacks (its thread) --------------------------------- */

static void
on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	F1Mqtt	   *m = obj;
	int			mid = 0;
	int			src = MOSQ_ERR_SUCCESS;

	if (rc == 0)
		src = mosquitto_subscribe(mosq, &mid, m->topic_filter, 1);

	pthread_mutex_lock(&m->lock);
	if (rc != 0)
	{
		if (rc == CONNACK_BAD_CREDENTIALS || rc == CONNACK_NOT_AUTHORIZED)
			m->auth_refused++;
		snprintf(m->conn_error, sizeof(m->conn_error),
				 "MQTT broker %s refused the connection: %s",
				 m->where, mosquitto_connack_string(rc));
		m->ev_pending = true;
		arm_wake(m);
	}
	else if (src != MOSQ_ERR_SUCCESS)
		snprintf(m->conn_error, sizeof(m->conn_error), "MQTT broker %s: cannot subscribe to %.48s: %s",
				 m->where, m->topic_filter, mosquitto_strerror(src));
	else
		m->sub_mid = mid;
	pthread_mutex_unlock(&m->lock);

	/* a refused CONNACK ends the connection by itself (on_disconnect follows) */
	if (rc == 0 && src != MOSQ_ERR_SUCCESS)
		end_connection(mosq, m);	/* on_disconnect reports it */
}

static void
on_subscribe(struct mosquitto *mosq, void *obj, int mid, int qos_count, const int *granted_qos)
{
	F1Mqtt	   *m = obj;
	bool		refused = false;

	pthread_mutex_lock(&m->lock);
	if (mid == m->sub_mid)
	{
		if (qos_count >= 1 && granted_qos[0] >= 0 && granted_qos[0] <= 2)
		{
			m->state = F1MQTT_UP;
			m->connects++;
			m->ev_pending = true;
			arm_wake(m);
		}
		else
		{
			/* a broker that does not let this token read the topics */
			refused = true;
			m->auth_refused++;
			snprintf(m->conn_error, sizeof(m->conn_error),
					 "MQTT broker %s refused the subscription to %.48s (not authorized)",
					 m->where, m->topic_filter);
		}
	}
	pthread_mutex_unlock(&m->lock);
	if (refused)
		end_connection(mosq, m);	/* on_disconnect reports it */
}

static void
on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
	F1Mqtt	   *m = obj;
	F1MqttMsg  *c;
	size_t		len = msg->payloadlen > 0 ? (size_t) msg->payloadlen : 0;
	bool		overflow = false;

	c = malloc(sizeof(F1MqttMsg));
	if (c != NULL)
	{
		c->topic = strdup(msg->topic ? msg->topic : "");
		c->payload = malloc(len + 1);
		c->len = len;
		c->next = NULL;
		if (c->topic == NULL || c->payload == NULL)
		{
			free(c->topic);
			free(c->payload);
			free(c);
			c = NULL;
		}
		else
		{
			if (len > 0)
				memcpy(c->payload, msg->payload, len);
			c->payload[len] = '\0';
		}
	}

	pthread_mutex_lock(&m->lock);
	if (m->dropping)
		f1mqtt_free_msgs(c);
	else if (c == NULL || m->pending_bytes + len > MAX_PENDING_BYTES)
	{
		/* a message lost = a gap: end the connection, the caller fills from REST */
		overflow = true;
		m->dropping = true;
		f1mqtt_free_msgs(c);
		snprintf(m->conn_error, sizeof(m->conn_error),
				 "MQTT broker %s: %s: disconnected (a message was dropped)", m->where,
				 c == NULL ? "out of memory" : "too many messages not taken");
	}
	else
	{
		if (m->tail)
			m->tail->next = c;
		else
			m->head = c;
		m->tail = c;
		m->pending_bytes += len;
		arm_wake(m);
	}
	pthread_mutex_unlock(&m->lock);
	if (overflow)
		end_connection(mosq, m);	/* on_disconnect reports it */
}

static void
on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	F1Mqtt	   *m = obj;
	int			saved_errno = errno;
	char		ebuf[128];
	char		text[256];

	pthread_mutex_lock(&m->lock);
	if (m->conn_error[0])
		snprintf(text, sizeof(text), "%s", m->conn_error);
	else
		snprintf(text, sizeof(text), "MQTT connection to %s lost: %s%s%s", m->where,
				 rc == MOSQ_ERR_KEEPALIVE ? "no answer within the keepalive" :
				 rc_text(rc, saved_errno, ebuf, sizeof(ebuf)),
				 m->log_error[0] ? ": " : "", m->log_error);
	report_end(m, text);
	pthread_mutex_unlock(&m->lock);

	/* ends libmosquitto's loop instead of its reconnecting by itself */
	end_connection(mosq, m);
}

/*
 * Keeps the newest error or warning (OpenSSL's reasons, mostly) for the
 * error texts.  libmosquitto logs an OpenSSL error only where the TLS
 * connection is over, sometimes without on_disconnect afterwards (see the
 * header comment): a started connection ends here then.
 */
static void
on_log(struct mosquitto *mosq, void *obj, int level, const char *str)
{
	F1Mqtt	   *m = obj;
	char		text[256];

	if ((level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING)) == 0 || str == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	snprintf(m->log_error, sizeof(m->log_error), "%s", str);
	if ((level & MOSQ_LOG_ERR) && strncmp(str, "OpenSSL Error", 13) == 0 &&
		m->state != F1MQTT_DOWN)
	{
		snprintf(text, sizeof(text), "MQTT TLS connection to %s failed: %s", m->where, m->log_error);
		report_end(m, text);
	}
	pthread_mutex_unlock(&m->lock);
}

/* ---- the interface --------------------------------------------------------- */

/* mqtt://host[:port] or mqtts://host[:port], host possibly [v6]; a trailing / allowed */
static bool
parse_url(F1Mqtt *m, const char *url, bool *tls, char *err, size_t errlen)
{
	const char *p;
	const char *hend;
	long		port;

	if (strncmp(url, "mqtts://", 8) == 0)
	{
		*tls = true;
		m->port = 8883;
		p = url + 8;
	}
	else if (strncmp(url, "mqtt://", 7) == 0)
	{
		*tls = false;
		m->port = 1883;
		p = url + 7;
	}
	else
	{
		snprintf(err, errlen, "MQTT URL \"%s\": not mqtt://host[:port] or mqtts://host[:port]", url);
		return false;
	}
	if (*p == '[')
	{
		hend = strchr(p, ']');
		if (hend == NULL)
		{
			snprintf(err, errlen, "MQTT URL \"%s\": no ] after the IPv6 address", url);
			return false;
		}
		p++;
		m->host = strndup(p, (size_t) (hend - p));
		p = hend + 1;
	}
	else
	{
		hend = p + strcspn(p, ":/");
		m->host = strndup(p, (size_t) (hend - p));
		p = hend;
	}
	if (m->host == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return false;
	}
	if (m->host[0] == '\0')
	{
		snprintf(err, errlen, "MQTT URL \"%s\": no host", url);
		return false;
	}
	if (*p == ':')
	{
		char	   *end;

		errno = 0;
		port = strtol(p + 1, &end, 10);
		if (end == p + 1 || errno != 0 || port < 1 || port > 65535)
		{
			snprintf(err, errlen, "MQTT URL \"%s\": bad port", url);
			return false;
		}
		m->port = (int) port;
		p = end;
	}
	if (strcmp(p, "") != 0 && strcmp(p, "/") != 0)
	{
		snprintf(err, errlen, "MQTT URL \"%s\": unexpected \"%s\" after host[:port]", url, p);
		return false;
	}
	return true;
}

F1Mqtt *
f1mqtt_new(const char *url, const char *cafile, const char *username,
		   const char *topic_filter, char *err, size_t errlen)
{
	F1Mqtt	   *m;
	bool		tls = false;
	int			rc;

	if (pthread_once(&lib_once, lib_init) != 0 || lib_rc != MOSQ_ERR_SUCCESS)
	{
		snprintf(err, errlen, "cannot initialise libmosquitto: %s", mosquitto_strerror(lib_rc));
		return NULL;
	}
	if (username == NULL || username[0] == '\0')
	{
		snprintf(err, errlen, "MQTT: no user name");
		return NULL;
	}
	if (topic_filter == NULL || mosquitto_sub_topic_check(topic_filter) != MOSQ_ERR_SUCCESS)
	{
		snprintf(err, errlen, "MQTT: bad topic filter \"%s\"", topic_filter ? topic_filter : "");
		return NULL;
	}

	m = calloc(1, sizeof(F1Mqtt));
	if (m == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->wake[0] = m->wake[1] = -1;
	m->state = F1MQTT_DOWN;
	if (pthread_mutex_init(&m->lock, NULL) != 0)
	{
		snprintf(err, errlen, "cannot create a mutex");
		free(m);
		return NULL;
	}
	if (!parse_url(m, url ? url : "", &tls, err, errlen))
		goto fail;
	if (!tls && cafile != NULL)
	{
		snprintf(err, errlen, "MQTT URL \"%s\": a CA file for a connection without TLS (use mqtts://)", url);
		goto fail;
	}
	snprintf(m->where, sizeof(m->where), strchr(m->host, ':') ? "[%s]:%d" : "%s:%d",
			 m->host, m->port);
	m->username = strdup(username);
	m->topic_filter = strdup(topic_filter);
	if (m->username == NULL || m->topic_filter == NULL)
	{
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (pipe2(m->wake, O_NONBLOCK | O_CLOEXEC) != 0)
	{
		snprintf(err, errlen, "cannot create a pipe: %s", strerror(errno));
		goto fail;
	}

	/* clean session: no state kept on the broker, a random client id */
	m->mosq = mosquitto_new(NULL, true, m);
	if (m->mosq == NULL)
	{
		snprintf(err, errlen, "cannot create an MQTT client: %s", strerror(errno));
		goto fail;
	}
	mosquitto_connect_callback_set(m->mosq, on_connect);
	mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
	mosquitto_subscribe_callback_set(m->mosq, on_subscribe);
	mosquitto_message_callback_set(m->mosq, on_message);
	mosquitto_log_callback_set(m->mosq, on_log);

	/* CONNACK's codes 4 and 5 are MQTT 3.1.1's */
	rc = mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_reconnect_delay_set(m->mosq, RECONNECT_DELAY_S, RECONNECT_DELAY_S, false);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_username_pw_set(m->mosq, m->username, NULL);
	if (rc != MOSQ_ERR_SUCCESS)
	{
		snprintf(err, errlen, "cannot configure the MQTT client: %s", mosquitto_strerror(rc));
		goto fail;
	}
	if (tls)
	{
		/* the peer's certificate and host name are verified */
		rc = mosquitto_tls_set(m->mosq, cafile, cafile ? NULL : SYSTEM_CAPATH, NULL, NULL, NULL);
		if (rc != MOSQ_ERR_SUCCESS)
		{
			snprintf(err, errlen, "MQTT TLS: cannot use the CA %s \"%s\": %s",
					 cafile ? "file" : "directory", cafile ? cafile : SYSTEM_CAPATH,
					 mosquitto_strerror(rc));
			goto fail;
		}
		rc = mosquitto_tls_opts_set(m->mosq, 1 /* SSL_VERIFY_PEER */ , NULL, NULL);
		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_tls_insecure_set(m->mosq, false);
		if (rc != MOSQ_ERR_SUCCESS)
		{
			snprintf(err, errlen, "MQTT TLS: cannot set peer verification: %s",
					 mosquitto_strerror(rc));
			goto fail;
		}
	}
	return m;

fail:
	f1mqtt_free(m);
	return NULL;
}

/* ends the previous connection and joins its thread */
static bool
stop_thread(F1Mqtt *m, char *err, size_t errlen)
{
	int			rc;

	if (!m->thread_running)
		return true;
	pthread_mutex_lock(&m->lock);
	m->stopping = true;
	pthread_mutex_unlock(&m->lock);

	/* marks the client disconnected (and says so to the broker when connected) */
	rc = mosquitto_disconnect(m->mosq);
	if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN)
	{
		snprintf(err, errlen, "MQTT: cannot disconnect from %s: %s", m->where, mosquitto_strerror(rc));
		return false;
	}
	rc = mosquitto_loop_stop(m->mosq, false);
	if (rc != MOSQ_ERR_SUCCESS)
	{
		snprintf(err, errlen, "MQTT: cannot stop the client's thread: %s", mosquitto_strerror(rc));
		return false;
	}
	m->thread_running = false;
	pthread_mutex_lock(&m->lock);
	m->state = F1MQTT_DOWN;
	pthread_mutex_unlock(&m->lock);
	return true;
}

static void
set_down(F1Mqtt *m)
{
	pthread_mutex_lock(&m->lock);
	m->state = F1MQTT_DOWN;
	pthread_mutex_unlock(&m->lock);
}

/*
 * A started attempt whose thread could not start: closes its socket (no
 * thread: on_disconnect runs here, as a teardown, no event) and appends to
 * err when even that fails.
 */
static void
abandon_attempt(F1Mqtt *m, char *err, size_t errlen)
{
	int			rc;
	size_t		used;

	pthread_mutex_lock(&m->lock);
	m->stopping = true;
	pthread_mutex_unlock(&m->lock);
	rc = mosquitto_disconnect(m->mosq);
	set_down(m);
	used = strlen(err);
	if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN && used < errlen)
		snprintf(err + used, errlen - used, " (and cannot disconnect: %s)", mosquitto_strerror(rc));
}

bool
f1mqtt_connect(F1Mqtt *m, const char *password, char *err, size_t errlen)
{
	sigset_t	all;
	sigset_t	old;
	char		ebuf[128];
	char		logged[112];
	int			rc;
	int			saved_errno;

	if (password == NULL || password[0] == '\0')
	{
		snprintf(err, errlen, "MQTT: no password (OpenF1 access token) to connect with");
		return false;
	}
	if (!stop_thread(m, err, errlen))
		return false;

	/* DOWN until the thread starts: on_log may run on this thread meanwhile */
	pthread_mutex_lock(&m->lock);
	m->state = F1MQTT_DOWN;
	m->stopping = false;
	m->dropping = false;
	m->ended = false;
	m->sub_mid = -1;
	m->conn_error[0] = '\0';
	m->log_error[0] = '\0';
	pthread_mutex_unlock(&m->lock);

	rc = mosquitto_username_pw_set(m->mosq, m->username, password);
	if (rc != MOSQ_ERR_SUCCESS)
	{
		set_down(m);
		snprintf(err, errlen, "MQTT: cannot set the credentials: %s", mosquitto_strerror(rc));
		return false;
	}
	errno = 0;
	if (m->connect_init)
		rc = mosquitto_reconnect_async(m->mosq);
	else
		rc = mosquitto_connect_async(m->mosq, m->host, m->port, KEEPALIVE_S);
	saved_errno = errno;
	if (rc != MOSQ_ERR_SUCCESS)
	{
		/* no thread runs: the log callback ran on this one */
		pthread_mutex_lock(&m->lock);
		m->state = F1MQTT_DOWN;
		snprintf(logged, sizeof(logged), "%s", m->log_error);
		pthread_mutex_unlock(&m->lock);
		snprintf(err, errlen, "MQTT: cannot connect to %s: %s%s%s", m->where,
				 rc_text(rc, saved_errno, ebuf, sizeof(ebuf)),
				 logged[0] ? ": " : "", logged);
		return false;
	}
	m->connect_init = true;
	pthread_mutex_lock(&m->lock);
	m->state = F1MQTT_CONNECTING;
	m->connect_started = mono_s();
	pthread_mutex_unlock(&m->lock);

	/* libmosquitto's thread inherits the mask: it never takes a signal */
	sigfillset(&all);
	rc = pthread_sigmask(SIG_SETMASK, &all, &old);
	if (rc != 0)
	{
		snprintf(err, errlen, "MQTT: cannot block signals: %s", strerror_r(rc, ebuf, sizeof(ebuf)));
		abandon_attempt(m, err, errlen);
		return false;
	}
	rc = mosquitto_loop_start(m->mosq);
	saved_errno = errno;
	if (pthread_sigmask(SIG_SETMASK, &old, NULL) != 0)
		abort();				/* cannot happen: the same call succeeded above */
	if (rc != MOSQ_ERR_SUCCESS)
	{
		snprintf(err, errlen, "MQTT: cannot start the client's thread: %s",
				 rc_text(rc, saved_errno, ebuf, sizeof(ebuf)));
		abandon_attempt(m, err, errlen);
		return false;
	}
	m->thread_running = true;
	return true;
}

F1MqttState
f1mqtt_state(F1Mqtt *m)
{
	F1MqttState s;

	pthread_mutex_lock(&m->lock);
	check_stalled(m);
	s = m->state;
	pthread_mutex_unlock(&m->lock);
	return s;
}

F1MqttMsg *
f1mqtt_take(F1Mqtt *m)
{
	F1MqttMsg  *list;

	pthread_mutex_lock(&m->lock);
	check_stalled(m);
	list = m->head;
	m->head = m->tail = NULL;
	m->pending_bytes = 0;
	disarm_wake_if_idle(m);
	pthread_mutex_unlock(&m->lock);
	return list;
}

void
f1mqtt_free_msgs(F1MqttMsg *list)
{
	while (list)
	{
		F1MqttMsg  *next = list->next;

		free(list->topic);
		free(list->payload);
		free(list);
		list = next;
	}
}

void
f1mqtt_events(F1Mqtt *m, F1MqttEvents *ev)
{
	pthread_mutex_lock(&m->lock);
	check_stalled(m);
	ev->connects = m->connects;
	ev->disconnects = m->disconnects;
	ev->auth_refused = m->auth_refused;
	snprintf(ev->last_error, sizeof(ev->last_error), "%s", m->last_error);
	m->connects = m->disconnects = m->auth_refused = 0;
	m->last_error[0] = '\0';
	m->ev_pending = false;
	disarm_wake_if_idle(m);
	pthread_mutex_unlock(&m->lock);
}

int
f1mqtt_wake_fd(F1Mqtt *m)
{
	return m->wake[0];
}

void
f1mqtt_free(F1Mqtt *m)
{
	char		err[256];

	if (m == NULL)
		return;
	if (m->mosq)
	{
		/* a thread that cannot be stopped cannot be freed under: keep it */
		if (!stop_thread(m, err, sizeof(err)))
			return;
		mosquitto_destroy(m->mosq);
	}
	f1mqtt_free_msgs(m->head);
	if (m->wake[0] >= 0)
		close(m->wake[0]);
	if (m->wake[1] >= 0)
		close(m->wake[1]);
	pthread_mutex_destroy(&m->lock);
	free(m->host);
	free(m->username);
	free(m->topic_filter);
	free(m);
}
