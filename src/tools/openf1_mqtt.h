/*
 * src/tools/openf1_mqtt.h — f1tel-feed's MQTT client of OpenF1's push feed
 * (mqtts://mqtt.openf1.org:8883, or the local stand-in of the tests), on
 * libmosquitto.
 *
 * The caller (f1tel-feed's live loop) owns the policy: it calls
 * f1mqtt_connect() with the current OpenF1 access token as the password,
 * waits on f1mqtt_wake_fd(), takes the messages and the events, and on
 * F1MQTT_DOWN calls f1mqtt_connect() again after its own back-off, with a
 * new token when auth_refused was counted.  The client never reconnects by
 * itself.
 *
 * Rules a reader must know:
 *  - Plain C, no PostgreSQL.  Built for libmosquitto 2.0.11 (Debian 12),
 *    whose loop thread must be joined with mosquitto_loop_stop() (see
 *    openf1_mqtt.c for why a connection has its own thread).
 *  - libmosquitto's thread only records (messages, counters, one error
 *    text) under the client's mutex and writes one byte to the wake pipe:
 *    none of the caller's code ever runs on it.
 *  - After the wake fd turns readable call both f1mqtt_take() and
 *    f1mqtt_events(): it stays readable exactly while either has something.
 *  - A "connect" event is counted once the subscription is granted: every
 *    message published after it reaches the caller, what came before it (or
 *    while the connection was down) the caller fetches from REST.
 *  - The password is never kept by this module and never appears in an
 *    error text.  f1mqtt_* functions are called from one thread only.
 *  - The caller ignores SIGPIPE (signal(SIGPIPE, SIG_IGN)): libmosquitto
 *    may write to the socket from the caller's thread (the first CONNECT, a
 *    DISCONNECT when no thread runs), and OpenSSL's writes do not use
 *    MSG_NOSIGNAL.  Its own thread has every signal blocked.
 *  - libmosquitto 2.0.11 does not notice a refused TCP connection under
 *    TLS: its thread spins (one core) until the keepalive ends it, 10 s,
 *    then the attempt is DOWN with "no answer within the keepalive".
 */
#ifndef F1TEL_OPENF1_MQTT_H
#define F1TEL_OPENF1_MQTT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct F1Mqtt F1Mqtt;

/* one message: topic and payload are NUL-terminated copies (len excludes the NUL) */
typedef struct F1MqttMsg
{
	char	   *topic;
	char	   *payload;
	size_t		len;
	struct F1MqttMsg *next;
} F1MqttMsg;

typedef enum
{
	F1MQTT_DOWN,
	F1MQTT_CONNECTING,
	F1MQTT_UP
} F1MqttState;

/* url: mqtt://host[:1883] or mqtts://host[:8883]; cafile may be NULL (system CAs) */
extern F1Mqtt *f1mqtt_new(const char *url, const char *cafile, const char *username,
						  const char *topic_filter, char *err, size_t errlen);

/*
 * (re)connects with this password (the OpenF1 token); non-blocking (but for
 * the host name's lookup); ends the previous connection's thread if any and
 * starts libmosquitto's thread for this one, with every signal blocked
 * around the start.  false (and err) when the attempt could not even start:
 * the state is then F1MQTT_DOWN.
 */
extern bool f1mqtt_connect(F1Mqtt *m, const char *password, char *err, size_t errlen);
extern F1MqttState f1mqtt_state(F1Mqtt *m);

/* messages received since the last call, oldest first; caller frees with f1mqtt_free_msgs */
extern F1MqttMsg *f1mqtt_take(F1Mqtt *m);
extern void f1mqtt_free_msgs(F1MqttMsg *list);

/*
 * events recorded by callbacks since the last call: disconnects (with the
 * reason code text), auth refusals (CONNACK not authorized / bad
 * credentials: the caller fetches a new token), connects (each connect =
 * the caller must fill the gap from REST).  last_error: the newest error
 * text recorded since the last call, "" if none.
 */
typedef struct F1MqttEvents
{
	int			connects;
	int			disconnects;
	int			auth_refused;
	char		last_error[256];
} F1MqttEvents;

extern void f1mqtt_events(F1Mqtt *m, F1MqttEvents *ev);

/* wakes the main thread: fd readable when messages/events are pending (a pipe) */
extern int	f1mqtt_wake_fd(F1Mqtt *m);
extern void f1mqtt_free(F1Mqtt *m);

#endif							/* F1TEL_OPENF1_MQTT_H */
