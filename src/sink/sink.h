/*
 * src/sink/sink.h — what the sink worker's parts share: a round of changes
 * read from the change feed, and the counters it reports.
 *
 * A round is read in one transaction, pushed (no transaction open while
 * waiting on the network), and the changes that reached their destination,
 * or were refused for good, are acknowledged in a second transaction.  A
 * change not acknowledged stays queued and is sent again in a later round:
 * destinations see at-least-once deliveries that they de-duplicate
 * (BigQuery by insertId, the upsert topic by key), so nothing is lost and no
 * row version is stored twice.
 *
 * Each destination makes progress on its own: a BigQuery round runs its
 * requests and returns (no back-off inside: it asks for one in
 * F1SinkStats.wait_ms), and a topic round runs while the loop goes on; each
 * has its own next-attempt time in the worker.
 *
 * With f1tel.sink_wait_for_standbys = N > 0, a round read is pushed only
 * once N streaming standbys have flushed the WAL past its changes
 * (standbys.c); each destination waits on its own, checked again by the
 * worker's loop, never by sleeping in a round.
 */
#ifndef F1TEL_SINK_H
#define F1TEL_SINK_H

#include <librdkafka/rdkafka.h>

#include "access/xlogdefs.h"

typedef enum F1ChangeState
{
	F1_CHANGE_PENDING,
	F1_CHANGE_DONE,				/* confirmed by the destination */
	F1_CHANGE_DEAD,				/* refused for good: a sink dead letter */
	F1_CHANGE_SKIPPED			/* not for this destination */
} F1ChangeState;

typedef struct F1SinkChange
{
	int64		change_id;
	char	   *table;			/* "driver_laps" | "race_control" */
	int64		version;
	char	   *row;			/* the row image as JSON text */
	size_t		rowlen;
	char	   *insert_id;		/* "<table>:<key>:v<version>" */
	char	   *key;			/* Kafka key: the lap's natural key as JSON */
	bool		deleted;		/* the lap was deleted: a tombstone */
	F1ChangeState state;
	char	   *reason;			/* why DEAD */
	int			kafka_err;		/* a refusing delivery report's error (topic.c) */
} F1SinkChange;

typedef struct F1SinkStats
{
	int64		rows;
	int64		requests;
	int64		retries;
	int64		splits;
	int64		wait_ms;		/* try this destination again no sooner */
	bool		refused;		/* refused for good: pause until a reload */
} F1SinkStats;

/* BigQuery (bigquery.c) */
extern bool f1_bq_prepare(char **error);
extern void f1_bq_forget_tables(void);
extern bool f1_bq_push(F1SinkChange *ch, int n, F1SinkStats *stats, char **error);

/*
 * the upsert topic (topic.c): a round is produced by f1_topic_start() and
 * runs on while the loop serves the other destination; f1_topic_poll()
 * serves its delivery reports and says when it is over (every report in, or
 * its deadline passed).  ch must stay valid until then.
 */
extern bool f1_topic_start(F1SinkChange *ch, int n, F1SinkStats *stats, char **error);
extern bool f1_topic_poll(F1SinkChange *ch, int n, F1SinkStats *stats, char **error);
extern void f1_topic_close(void);

/*
 * that the upsert topic is compacted (topic_check.c): started for each new
 * producer, served by topic.c after each poll; f1_topic_check_poll() says
 * whether the first round may be produced (the check is done, or its gate
 * passed).
 */
extern void f1_topic_check_start(rd_kafka_t *producer, const char *topic);
extern bool f1_topic_check_poll(void);
extern void f1_topic_check_stop(void);

/*
 * f1tel.sink_wait_for_standbys (standbys.c): an upper bound of the commit
 * LSNs of the changes read so far, and how many streaming physical
 * standbys have flushed WAL up to an LSN (in a transaction, SPI connected).
 */
extern XLogRecPtr f1_standbys_target(void);
extern int	f1_standbys_flushed(XLogRecPtr lsn);

#endif							/* F1TEL_SINK_H */
