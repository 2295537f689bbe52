/*
 * src/ingest/offsets.h — f1tel.kafka_offsets: the consumer group's position.
 *
 * The table is the truth, not the broker's committed offsets.  All calls run
 * SPI inside the caller's transaction (SPI connected).  An offset of -1
 * stands for NULL: "no offset stored, start from the beginning".
 */
#ifndef F1TEL_OFFSETS_H
#define F1TEL_OFFSETS_H

/*
 * Make sure each partition has a row and read its stored next offset; drop
 * the partition -1 rows (f1_offsets_record_topic_errors) of their topics.
 */
extern void f1_offsets_read(const char *group, int n, const char *const *topics,
							const int32 *partitions, int64 *next_out);

/*
 * Move each partition from expected[i] to next[i] and add the batch's
 * counts, as a compare-and-set: a partition whose stored offset is not
 * expected[i] (another worker moved it) is not updated; retries goes back
 * to 0.  Returns how many
 * partitions were updated; fewer than n means this worker was fenced off and
 * must roll back.
 */
extern int	f1_offsets_advance(const char *group, int n, const char *const *topics,
							   const int32 *partitions, const int64 *expected,
							   const int64 *next, const int64 *high_watermark,
							   const int64 *nrows, const int64 *ndead);

/* Record the brokers' high watermarks (-1: unknown, left as it is). */
extern void f1_offsets_set_watermarks(const char *group, int n, const char *const *topics,
									  const int32 *partitions, const int64 *high_watermark);

/*
 * Record an error of whole topics (authentication, authorization) on every
 * row of the group for them; a topic without a row gets one with partition
 * -1, which f1_offsets_read() removes once the topic's partitions come.
 */
extern void f1_offsets_record_topic_errors(const char *group, int n,
										   const char *const *topics, const char *error);

/* Record a consumer error of one partition, for f1tel.ingest_status. */
extern void f1_offsets_record_error(const char *group, const char *topic,
									int32 partition, const char *error);

/*
 * last_error (and its time) of these partitions; with count_retry, also one
 * more in retries (set back to 0 by f1_offsets_advance): the batch holding
 * them failed for a reason of the environment and will be written again.
 */
extern void f1_offsets_record_errors(const char *group, int n, const char *const *topics,
									const int32 *partitions, const char *error,
									bool count_retry);

#endif							/* F1TEL_OFFSETS_H */
