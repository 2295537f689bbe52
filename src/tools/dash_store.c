/*
 * src/tools/dash_store.c — the shared state of f1tel-dash: the sessions
 * browsers watch, their parts (JSON texts with versions) and the state of the
 * database connection (src/tools/dash.h says who reads and writes what).
 *
 * Rules a reader must know: everything here is under dash_lock, except
 * dash_wake_db() (a write to a pipe, safe from any thread) and
 * dash_now_ms().  A new version of anything broadcasts dash_changed.
 * Which parts a table feeds is decided in dash_parts_of_table(), the one
 * home of that mapping.
 */
#include "tools/dash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *const dash_part_names[DASH_NPARTS] = {
	"session", "tower", "race_control", "positions",
	"fastest_laps", "speed_trap", "track", "weather"
};

pthread_mutex_t dash_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t dash_changed;
DashWatch	dash_watches[DASH_MAX_WATCHES];
DashDbState dash_db;
volatile bool dash_stopping;
char	   *dash_sessions_json;
uint64_t	dash_sessions_version;
bool		dash_sessions_wanted = true;

static uint64_t version_counter;
static int	wake_pipe[2] = {-1, -1};

#define ALL_PARTS ((1u << DASH_NPARTS) - 1)
#define BIT(p) (1u << (p))

int64_t
dash_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t
dash_next_version(void)
{
	return ++version_counter;
}

bool
dash_store_init(char *err, size_t errlen)
{
	pthread_condattr_t attr;

	/* event streams wait with timeouts on the monotonic clock */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&dash_changed, &attr);
	pthread_condattr_destroy(&attr);
	if (pipe(wake_pipe) != 0 ||
		fcntl(wake_pipe[0], F_SETFL, O_NONBLOCK) != 0 ||
		fcntl(wake_pipe[1], F_SETFL, O_NONBLOCK) != 0)
	{
		snprintf(err, errlen, "could not create a pipe: %s", strerror(errno));
		return false;
	}
	dash_db.ok = false;
	dash_db.error_json = strdup("{\"ok\":false,\"error\":\"database unavailable\",\"detail\":\"connecting\"}");
	dash_db.version = dash_next_version();
	return true;
}

DashWatch *
dash_watch_find(int key)
{
	for (int i = 0; i < DASH_MAX_WATCHES; i++)
		if (dash_watches[i].used && dash_watches[i].key == key)
			return &dash_watches[i];
	return NULL;
}

/*
 * The watch of a session, added when missing: a free slot, else the least
 * recently used one that no stream holds.  NULL when all are streamed.
 */
DashWatch *
dash_watch_get(int key)
{
	DashWatch  *w = dash_watch_find(key);
	DashWatch  *victim = NULL;

	if (w != NULL)
	{
		w->last_used = dash_now_ms();
		return w;
	}
	for (int i = 0; i < DASH_MAX_WATCHES; i++)
	{
		DashWatch  *c = &dash_watches[i];

		if (!c->used)
		{
			victim = c;
			break;
		}
		if (c->streams == 0 && (victim == NULL || c->last_used < victim->last_used))
			victim = c;
	}
	if (victim == NULL)
		return NULL;
	for (int p = 0; p < DASH_NPARTS; p++)
		free(victim->json[p]);
	memset(victim, 0, sizeof(*victim));
	victim->used = true;
	victim->key = key;
	victim->last_used = dash_now_ms();
	victim->dirty = ALL_PARTS;
	dash_wake_db();
	return victim;
}

/* Takes json (malloc'd); a text equal to the current one is no new version. */
void
dash_watch_set_part(DashWatch *w, DashPart p, char *json)
{
	if (w->json[p] != NULL && strcmp(w->json[p], json) == 0)
	{
		free(json);
		return;
	}
	free(w->json[p]);
	w->json[p] = json;
	w->version[p] = dash_next_version();
	pthread_cond_broadcast(&dash_changed);
}

void
dash_set_db(bool ok, const char *error, const char *detail)
{
	DashBuf		b = {0};

	if (ok == dash_db.ok && ok)
		return;
	if (ok)
		dash_buf_puts(&b, "{\"ok\":true}");
	else
	{
		dash_buf_puts(&b, "{\"ok\":false,\"error\":");
		dash_buf_json_string(&b, error);
		dash_buf_puts(&b, ",\"detail\":");
		dash_buf_json_string(&b, detail);
		dash_buf_puts(&b, "}");
	}
	if (b.data == NULL)
		return;
	if (dash_db.error_json != NULL && strcmp(dash_db.error_json, b.data) == 0 && ok == dash_db.ok)
	{
		dash_buf_free(&b);
		return;
	}
	free(dash_db.error_json);
	dash_db.error_json = b.data;
	dash_db.ok = ok;
	dash_db.version = dash_next_version();
	pthread_cond_broadcast(&dash_changed);
}

void
dash_mark_dirty_all(uint32_t parts)
{
	for (int i = 0; i < DASH_MAX_WATCHES; i++)
		if (dash_watches[i].used)
			dash_watches[i].dirty |= parts;
}

/*
 * The parts a change of a table can change.  A change of laps reaches
 * driver_laps through the enrichment triggers, which notify for
 * driver_laps; laps itself decides the latest session.
 */
uint32_t
dash_parts_of_table(const char *table)
{
	static const struct
	{
		const char *table;
		uint32_t	parts;
	}			map[] = {
		{"driver_laps", BIT(PART_TOWER) | BIT(PART_POSITIONS) | BIT(PART_FASTEST_LAPS) |
		BIT(PART_SPEED_TRAP) | BIT(PART_TRACK)},
		{"laps", BIT(PART_SESSION)},
		{"position", BIT(PART_TOWER)},
		{"intervals", BIT(PART_TOWER)},
		{"stints", BIT(PART_TOWER)},
		{"pit", BIT(PART_TOWER)},
		{"drivers", ALL_PARTS & ~BIT(PART_WEATHER)},
		{"race_control", BIT(PART_RACE_CONTROL)},
		{"location", BIT(PART_TRACK)},
		{"weather", BIT(PART_WEATHER)},
		{"sessions", BIT(PART_SESSION)},
		{"meetings", BIT(PART_SESSION)},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].table, table) == 0)
			return map[i].parts;
	return 0;
}

void
dash_wake_db(void)
{
	char		c = 1;

	if (wake_pipe[1] >= 0 && write(wake_pipe[1], &c, 1) < 0 && errno != EAGAIN)
		return;
}

int
dash_wake_fd(void)
{
	return wake_pipe[0];
}

void
dash_drain_wake(void)
{
	char		buf[64];

	while (read(wake_pipe[0], buf, sizeof(buf)) > 0)
		;
}
