/*
 * src/tools/broker.h — pieces of f1tel-broker shared between its files.
 *
 * f1tel-broker wraps librdkafka's mock cluster, whose brokers listen on
 * ephemeral ports.  broker_bind.c interposes bind() to give them fixed
 * ports; it only rewrites while broker_bind_arm() is in force, so sockets
 * bound anywhere else in the process are never touched.
 */
#ifndef F1TEL_BROKER_H
#define F1TEL_BROKER_H

#include <stdbool.h>

/*
 * From now on, an AF_INET bind() to 127.0.0.1 port 0 gets port
 * first_port + k for the k-th such call (k = 0, 1, ...), until
 * broker_bind_disarm().  A failing rewritten bind ends the process with
 * a clear message (the mock cluster would otherwise abort).
 */
extern void broker_bind_arm(int first_port);
extern void broker_bind_disarm(void);

/* Number of ports handed out since the last broker_bind_arm(). */
extern int	broker_bind_count(void);

/*
 * Is 127.0.0.1:port free to listen on?  False (with errbuf set) when
 * something accepts connections there or a bind to it fails.
 */
extern bool broker_port_free(int port, char *errbuf, int errlen);

#endif							/* F1TEL_BROKER_H */
