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
 */
#ifndef F1TEL_SINK_H
#define F1TEL_SINK_H

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
} F1SinkChange;

typedef struct F1SinkStats
{
	int64		rows;
	int64		requests;
	int64		retries;
	int64		splits;
} F1SinkStats;

/* BigQuery (bigquery.c) */
extern bool f1_bq_prepare(char **error);
extern void f1_bq_forget_tables(void);
extern bool f1_bq_push(F1SinkChange *ch, int n, F1SinkStats *stats, char **error);

/* the upsert topic (topic.c) */
extern bool f1_topic_push(F1SinkChange *ch, int n, F1SinkStats *stats, char **error);
extern void f1_topic_close(void);

#endif							/* F1TEL_SINK_H */
