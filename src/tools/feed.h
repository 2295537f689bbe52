/*
 * src/tools/feed.h — f1tel-feed's data model, shared by its files.
 *
 * f1tel-feed replays recorded OpenF1 sessions into Kafka.  The endpoints
 * (files, topics, time fields, keys) are f1tel's own table,
 * src/shared/endpoints.c.  The stages, one file each:
 *   f1tel_feed.c     options, the order of the stages, exit status
 *   feed_load.c      reads <dir>/<endpoint>.json[.gz] into FeedFiles
 *   feed_scan.c      splits JSON text into values without building trees
 *   feed_rewrite.c   --session-key-offset: rewrites the key fields of a record
 *   feed_order.c     stable merge of all records by time
 *   feed_send.c      the producer: pacing, delivery reports, summary
 *   feed_topics.c    --create-topics: the missing topics, before sending
 *   feed_progress.c  the one-line progress bar on a terminal
 *   openf1_*.c       the OpenF1 source: --openf1 downloads, --live follows
 *                    (openf1.h, openf1_http.h)
 *
 * Rules a reader must know:
 *  - A record's payload is a slice of the file's text (or of the rewritten
 *    copy): no per-record allocation, and librdkafka is given the bytes
 *    without copying, so every FeedFile stays alive until the producer is
 *    flushed.
 *  - Times are int64 microseconds since 2000-01-01 UTC (f1_parse_timestamp).
 *    Untimed endpoints (sessions, meetings, drivers, stints, results,
 *    grids, standings) get times below FEED_TIME_FIRST_TIMED so that they
 *    sort first, in their untimed_rank order.
 *  - Exit status: 0 all delivered, 1 a delivery failed or is missing,
 *    2 usage or data error.
 */
#ifndef F1TEL_FEED_H
#define F1TEL_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "shared/endpoints.h"

#define FEED_EXIT_OK		0
#define FEED_EXIT_DELIVERY	1
#define FEED_EXIT_USAGE		2

/* Times of untimed records start here (FEED_UNTIMED_TIME: sessions, meetings,
 * drivers, ... by untimed_rank, which is at most F1E_COUNT); every real time
 * is above them. */
#define FEED_TIME_SESSIONS	(INT64_MIN)
#define FEED_TIME_NONE		(INT64_MIN + F1E_COUNT)	/* timed file with no time at all */
#define FEED_TIME_FIRST_TIMED (INT64_MIN + F1E_COUNT + 1)

/*
 * The endpoints are f1tel's one endpoint table (src/shared/endpoints.h):
 * files, default topics, time fields, key shapes.  An untimed endpoint's
 * records get FEED_TIME_SESSIONS + its untimed_rank - 1.
 */
#define FEED_NENDPOINTS F1E_COUNT
#define FEED_UNTIMED_TIME(ep) (FEED_TIME_SESSIONS + ((ep)->untimed_rank - 1))

/* index into f1_endpoints of an endpoint name, or -1 */
static inline int
feed_endpoint_index(const char *name)
{
	const F1Endpoint *ep = f1_endpoint_by_name(name);

	return ep ? (int) ep->id : -1;
}

typedef struct FeedRecord
{
	const char *data;			/* the record's JSON text (the payload) */
	int64_t		time;			/* see FEED_TIME_* */
	uint32_t	len;
	uint32_t	key;			/* index into its file's keys */
	uint32_t	file;			/* index into the FeedFile array */
} FeedRecord;

typedef struct FeedFile
{
	char	   *path;
	int			endpoint;		/* index into f1_endpoints */
	int			topic;			/* index into the topic names */
	char	   *text;			/* whole (gunzipped) file */
	size_t		textlen;
	char	  **rwblocks;		/* payloads rewritten by the offset */
	uint32_t	nrwblocks;
	size_t		rw_used;		/* bytes used in the last block */
	size_t		rw_cap;			/* size of the last block */
	FeedRecord *recs;
	size_t		nrecs;
	char	  **keys;			/* distinct message keys, NUL-terminated */
	uint32_t   *keylens;
	uint32_t	nkeys;
	uint32_t	capkeys;
} FeedFile;

typedef struct FeedOptions
{
	const char *brokers;
	double		speed;			/* 0: max */
	bool		want[FEED_NENDPOINTS];	/* endpoints to feed */
	bool		explicit_endpoints;	/* --endpoints given: all must exist */
	const char *topics[FEED_NENDPOINTS];
	int64_t		key_offset;		/* --session-key-offset */
	bool		quiet;
	int			timeout_ms;		/* message.timeout.ms */
	const char *compression;	/* compression.type */
	const char *props[32];		/* -X name=value, applied last */
	int			nprops;
	bool		create_topics;	/* --create-topics */
	int			partitions;		/* --partitions; 0: the broker's default */
	int			replication_factor;	/* --replication-factor; 0: the broker's */

	/* the OpenF1 source (openf1.h); openf1_url NULL: session DIRs */
	const char *openf1_url;		/* --openf1, ".../v1" */
	const char *sessions[16];	/* --session KEY|latest */
	int			nsessions;
	const char *save_dir;		/* --save */
	bool		live;			/* --live */
	const char *mqtt_url;		/* --mqtt */
	const char *mqtt_cafile;	/* --mqtt-cafile */
	const char *token_file;		/* --token-file */
	const char *username;		/* --username */
	const char *password_file;	/* --password-file */
	const char *token_url;		/* --token-url */
	const char *http_cafile;	/* --openf1-cafile */
	int			rate_n;			/* --rate N/S */
	int			rate_s;
	const char *state_file;		/* --state */
	int			poll_ms;		/* --poll-ms: live, between rounds */
	int			reconcile_s;	/* --reconcile-s: live, whole-session re-reads */
	int			lookback_s;		/* --lookback-s: live, re-read behind the cursor */
	int			linger_s;		/* --linger-s: live, follow this long past date_end */
} FeedOptions;

/* feed_load.c */
extern bool feed_load_file(FeedFile *f, uint32_t file_index, int64_t key_offset,
						   char *errbuf, size_t errlen);
extern void feed_free_file(FeedFile *f);

/* feed_scan.c: JSON text scanning; every function returns NULL on error */
extern const char *feed_skip_ws(const char *p, const char *end);
extern const char *feed_skip_string(const char *p, const char *end);
extern const char *feed_skip_value(const char *p, const char *end);

typedef struct FeedArrayScan
{
	const char *begin;
	const char *p;
	const char *end;
	size_t		count;			/* elements returned so far */
	bool		done;
} FeedArrayScan;

extern bool feed_array_begin(FeedArrayScan *s, const char *text, size_t len,
							 char *errbuf, size_t errlen);
extern int	feed_array_next(FeedArrayScan *s, const char **elem, size_t *elemlen,
							char *errbuf, size_t errlen);

/* feed_rewrite.c */
extern size_t feed_rewrite_max_growth(void);
extern bool feed_rewrite_keys(const char *rec, size_t len, int64_t offset,
							  char *out, size_t *outlen,
							  char *errbuf, size_t errlen);

/* feed_order.c */
extern FeedRecord *feed_order(FeedFile *files, int nfiles, size_t *nrecs);

/* feed_send.c */
extern bool feed_check_conf(const FeedOptions *opt);
extern int	feed_send(const FeedOptions *opt, FeedFile *files, int nfiles,
					  const FeedRecord *recs, size_t nrecs);

/*
 * feed_send.c, the producer kept open: a live follower (openf1_live.c) sends
 * batch after batch and waits for each to be delivered.  The payloads of a
 * batch must stay alive until feed_sender_wait() has returned true.
 */
typedef struct FeedSender FeedSender;
extern FeedSender *feed_sender_open(const FeedOptions *opt, const FeedFile *files,
									int nfiles, int *status);
extern bool feed_sender_send(FeedSender *s, FeedFile *files, const FeedRecord *recs,
							 size_t nrecs, double speed);
extern void feed_sender_poll(FeedSender *s, int ms);
/* waits (at most timeout_ms) until all is delivered: true if all was */
extern bool feed_sender_wait(FeedSender *s, int timeout_ms);
extern size_t feed_sender_delivered(const FeedSender *s);
/* flushes, prints the summary, frees; the exit status */
extern int	feed_sender_close(FeedSender *s);
extern bool feed_stop_requested(void);

/* feed_topics.c: creates the missing topics of the files (before any produce) */
extern bool feed_create_topics(rd_kafka_t *rk, const FeedOptions *opt,
							   const FeedFile *files, int nfiles);

/* feed_progress.c */
typedef struct FeedProgress
{
	bool		enabled;
	size_t		total;
	int64_t		start_ns;
	int64_t		last_draw_ns;
	bool		drawn;
} FeedProgress;

extern void feed_progress_init(FeedProgress *p, bool enabled, size_t total,
							   int64_t start_ns);
extern void feed_progress_update(FeedProgress *p, size_t sent, int64_t session_time,
								 int64_t now_ns, bool force);
extern void feed_progress_clear(FeedProgress *p);

/* monotonic clock in nanoseconds */
extern int64_t feed_now_ns(void);

#endif							/* F1TEL_FEED_H */
