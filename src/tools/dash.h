/*
 * src/tools/dash.h — the pieces of f1tel-dash shared between its files.
 *
 * f1tel-dash serves one page (src/tools/dash/web/) and the JSON it draws,
 * read from f1tel's views through one libpq connection.  Three kinds of
 * thread, and the rules between them:
 *
 * - the database thread (dash_db.c) owns the PGconn.  It is the only thread
 *   that talks to PostgreSQL: it LISTENs on f1tel_changes (the statement
 *   triggers of src/enrich/notify.sql), recomputes the parts a change
 *   touches, for every session a browser watches, and stores them here.  So
 *   a hundred browsers cost the database what one costs;
 * - libmicrohttpd's connection threads (dash_http.c, one per connection)
 *   only read the store: a request copies the parts it needs, an event
 *   stream waits on the store's condition variable for a newer version;
 * - the main thread (f1tel_dash.c) parses the options, starts the other
 *   two and waits for SIGINT or SIGTERM, which every other thread blocks.
 *
 * The store (dash_store.c) is the one home of the shared state; every field
 * of a DashWatch is read and written under dash_lock only.  A part is an
 * immutable JSON text with a version taken from one global counter: a
 * reader that saw version v of a part has everything up to v.
 */
#ifndef F1TEL_DASH_H
#define F1TEL_DASH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The parts of a session's state, in the order an event stream sends them. */
typedef enum DashPart
{
	PART_SESSION,
	PART_TOWER,
	PART_RACE_CONTROL,
	PART_POSITIONS,
	PART_FASTEST_LAPS,
	PART_SPEED_TRAP,
	PART_TRACK,
	PART_WEATHER,
	DASH_NPARTS
} DashPart;

/* Names of the parts: the event names of the stream and the keys of /api/state. */
extern const char *const dash_part_names[DASH_NPARTS];

/* At most this many sessions are watched at once (LRU among unwatched ones). */
#define DASH_MAX_WATCHES 16

/* A session some browser asked for; key 0 is "latest". */
typedef struct DashWatch
{
	bool		used;
	int			key;			/* the session asked for; 0 = latest */
	int			resolved;		/* the session it stands for now (0: none yet) */
	int			streams;		/* open event streams on it */
	int64_t		last_used;		/* ms, monotonic */
	uint32_t	dirty;			/* parts to recompute (bit per DashPart) */
	bool		ready;			/* every part computed at least once */
	char	   *json[DASH_NPARTS];	/* malloc'd, NUL-terminated */
	uint64_t	version[DASH_NPARTS];
} DashWatch;

/* The state of the database connection, as the pages are told. */
typedef struct DashDbState
{
	bool		ok;
	char	   *error_json;		/* the "db" event's JSON; malloc'd */
	uint64_t	version;
} DashDbState;

extern pthread_mutex_t dash_lock;
extern pthread_cond_t dash_changed;	/* broadcast on every new version */
extern DashWatch dash_watches[DASH_MAX_WATCHES];
extern DashDbState dash_db;
extern volatile bool dash_stopping;

/* the list of sessions (/api/sessions), recomputed by the database thread */
extern char *dash_sessions_json;
extern uint64_t dash_sessions_version;
extern bool dash_sessions_wanted;

/* dash_queries.c: the fixed set of queries */
extern const char *const dash_part_sql[DASH_NPARTS];
extern const char *const dash_part_empty[DASH_NPARTS];
extern const char *const dash_latest_sql;
extern const char *const dash_sessions_sql;

/* dash_store.c (callers hold dash_lock unless said otherwise) */
extern int64_t dash_now_ms(void);
extern uint64_t dash_next_version(void);
extern DashWatch *dash_watch_find(int key);
extern DashWatch *dash_watch_get(int key);	/* find or add; NULL when full */
extern void dash_watch_set_part(DashWatch *w, DashPart p, char *json);
extern void dash_set_db(bool ok, const char *error, const char *detail);
extern void dash_mark_dirty_all(uint32_t parts);
extern uint32_t dash_parts_of_table(const char *table);
/* wake the database thread (any thread, lock held or not) */
extern void dash_wake_db(void);
extern int	dash_wake_fd(void);
extern void dash_drain_wake(void);
extern bool dash_store_init(char *err, size_t errlen);

/* dash_db.c: the database thread */
typedef struct DashDbConfig
{
	const char *conninfo;
	bool		quiet;
} DashDbConfig;
extern void *dash_db_main(void *arg);

/* dash_http.c */
struct MHD_Daemon;
extern struct MHD_Daemon *dash_http_start(const char *host, int port,
										  int *bound_port, char *err, size_t errlen);
extern void dash_http_stop(struct MHD_Daemon *d);
extern void dash_http_quiet(bool quiet);

/* dash_json.c: JSON text helpers (plain C, unit-tested) */
typedef struct DashBuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} DashBuf;
extern bool dash_buf_append(DashBuf *b, const char *s, size_t n);
extern bool dash_buf_puts(DashBuf *b, const char *s);
extern bool dash_buf_json_string(DashBuf *b, const char *s);
extern void dash_buf_free(DashBuf *b);

/*
 * The query parameters of a request, checked: only "session", at most
 * once, "latest" or a positive integer below 2^31.  Returns true with
 * *session (0 = latest; absent = latest), or false with a message.
 */
typedef struct DashArg
{
	const char *key;
	const char *value;
} DashArg;
extern bool dash_parse_session(const DashArg *args, int nargs, int *session,
							   char *err, size_t errlen);

/* dash_assets.c (generated by src/tools/dash/embed.sh from src/tools/dash/web) */
typedef struct DashAsset
{
	const char *path;
	const char *content_type;
	const unsigned char *data;
	size_t		len;
} DashAsset;
extern const DashAsset dash_assets[];
extern const int dash_nassets;

#endif							/* F1TEL_DASH_H */
