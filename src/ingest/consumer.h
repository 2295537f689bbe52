/*
 * src/ingest/consumer.h — the ingest worker's librdkafka consumer.
 *
 * Threads: librdkafka runs its own threads.  Nothing here runs PostgreSQL
 * code on them: logs and errors go through librdkafka's queue (log.queue) and
 * are served by rd_kafka_consumer_poll() on the worker's main thread, which
 * buffers them and reports them after the poll returns.  The rebalance
 * callback also runs inside poll, on the main thread, and only records: the
 * hooks below run after the poll has returned (consumer.c), never inside
 * it.
 */
#ifndef F1TEL_CONSUMER_H
#define F1TEL_CONSUMER_H

#include <librdkafka/rdkafka.h>

typedef struct F1Consumer F1Consumer;

/*
 * Called on the main thread, after a poll and outside it, when partitions
 * are assigned: fill in each partition's offset from the database; the
 * consumer then assigns them.  Returns false if the offsets could not be
 * read (the consumer is then marked broken).
 */
typedef bool (*F1AssignHook) (rd_kafka_topic_partition_list_t *parts, void *arg);
/* Called after a poll (outside it) when the assignment was revoked or lost. */
typedef void (*F1RevokeHook) (void *arg);

/*
 * The rule's tripwire, for code that calls PostgreSQL: true on the main
 * thread outside any poll; false inside one (a librdkafka callback), which
 * is then reported as a bug after the poll and rebuilds the consumer.
 */
extern bool f1_consumer_outside_poll(const char *what);

/* Create and subscribe from the current GUCs.  NULL (and a LOG entry) on failure. */
extern F1Consumer *f1_consumer_create(F1AssignHook assign, F1RevokeHook revoke, void *arg);
extern void f1_consumer_destroy(F1Consumer *c);

/* The latest error of the consumer as a whole since the last call (a broker down...). */
extern bool f1_consumer_take_error(F1Consumer *c, char *buf, size_t len);

/*
 * The next message or error event, or NULL if none is waiting.  Never
 * blocks.  A rebalance served by the poll is acted on (the hooks) before it
 * returns.
 */
extern rd_kafka_message_t *f1_consumer_poll(F1Consumer *c);

/* A descriptor that becomes readable when the queue goes from empty to not. */
extern int	f1_consumer_wait_fd(F1Consumer *c);
extern void f1_consumer_clear_wait_fd(F1Consumer *c);

/* Report the logs and errors librdkafka queued (main thread only). */
extern void f1_consumer_report_logs(F1Consumer *c);

/* true once the consumer needs to be rebuilt (an assignment failed) */
extern bool f1_consumer_broken(F1Consumer *c);

/*
 * The latest error that stops the consumer until someone changes a setting
 * or a permission (authentication, TLS, the group's authorization), once.
 */
extern bool f1_consumer_take_standing_error(F1Consumer *c, int *err, char *buf, size_t len);

/* Re-read the stored offsets of the current assignment and assign again. */
extern bool f1_consumer_reassign(F1Consumer *c);

/* Commit offsets to the broker too, for external lag monitoring (async). */
/* offsets NULL: only send what is pending, if it is due */
extern void f1_consumer_commit_async(F1Consumer *c, rd_kafka_topic_partition_list_t *offsets);

/* The broker's high watermark as last seen (cached, non-blocking); -1 if unknown. */
extern int64 f1_consumer_high_watermark(F1Consumer *c, const char *topic, int32 partition);

/*
 * Wake the fetcher of a partition's leader, when the queue has run dry with
 * data still waiting there.  librdkafka 2.0.2 stops fetching for a consumer
 * whose queue holds queued.max.messages.kbytes (or queued.min.messages) and
 * looks again only when its broker thread wakes up for something else, up
 * to a second later (2.3 added fetch.queue.backoff.ms for this); a worker
 * that empties the queue faster waits that long.  This asks the leader for
 * the partition's watermarks (ListOffsets, on the calling thread, bounded
 * to WAKE_TIMEOUT_MS), which wakes the leader's broker thread, and it
 * fetches at once.  At most once every WAKE_INTERVAL_MS (WAKE_BACKOFF_MS
 * after a query that failed); true if asked.
 */
extern bool f1_consumer_wake_fetcher(F1Consumer *c, const char *topic, int32 partition);
/* false while a wake would be refused for its interval (check before choosing a partition) */
extern bool f1_consumer_wake_due(F1Consumer *c);

/* A fingerprint of the GUCs the consumer was built from. */
extern bool f1_consumer_config_changed(F1Consumer *c);

#endif							/* F1TEL_CONSUMER_H */
