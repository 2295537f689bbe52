/*
 * src/tools/openf1_seen.c — what a live follower has published: each
 * record's identity with the hash of its content, and a time cursor per
 * endpoint, kept in memory and in a state file so that a restart resumes.
 *
 * A record is published again only when its content changed (a lap that
 * filled in its sectors, a stint whose lap_end grew): the identity is the
 * endpoint's natural key (the KEY columns of src/shared/endpoints.c; an
 * endpoint without one, race_control, is identified by its content), the
 * content hash covers every field but MQTT's "_id" and "_key", in sorted
 * order, so that REST and MQTT copies of one version hash alike.
 *
 * Rules a reader must know:
 *  - The state file is append-only: a header line naming the session, then
 *    "R\t<identity>\t<hash>" and "C\t<endpoint>\t<time>" lines.  A line is
 *    written only after Kafka acknowledged what it describes
 *    (of1_seen_commit after feed_sender_wait), then fsync'd; a torn last
 *    line (kill -9 while writing) is ignored on load.  A record delivered
 *    but not yet committed when the process dies is published once more on
 *    restart; nothing delivered is lost.
 *  - Not thread-safe: the main thread only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "tools/openf1_seen.h"

typedef struct SeenEntry
{
	char	   *id;				/* NULL: empty slot */
	uint64_t	hash;
} SeenEntry;

struct OpenF1Seen
{
	SeenEntry  *slots;
	size_t		cap;			/* a power of two */
	size_t		n;
	int64_t		cursor[FEED_NENDPOINTS];
	bool		has_cursor[FEED_NENDPOINTS];
	int			fd;
	char	   *pending;		/* lines not yet written */
	size_t		plen;
	size_t		pcap;
};

static uint64_t
fnv1a(const void *data, size_t len, uint64_t h)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++)
	{
		h ^= p[i];
		h *= UINT64_C(1099511628211);
	}
	return h;
}

#define FNV_START UINT64_C(14695981039346656037)

static SeenEntry *
find_slot(OpenF1Seen *s, const char *id)
{
	size_t		i = (size_t) fnv1a(id, strlen(id), FNV_START) & (s->cap - 1);

	while (s->slots[i].id && strcmp(s->slots[i].id, id) != 0)
		i = (i + 1) & (s->cap - 1);
	return &s->slots[i];
}

static bool
grow(OpenF1Seen *s)
{
	SeenEntry  *old = s->slots;
	size_t		oldcap = s->cap;

	s->cap = oldcap ? oldcap * 2 : 4096;
	s->slots = calloc(s->cap, sizeof(SeenEntry));
	if (s->slots == NULL)
	{
		s->slots = old;
		s->cap = oldcap;
		return false;
	}
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].id)
			*find_slot(s, old[i].id) = old[i];
	free(old);
	return true;
}

/* sets id -> hash in memory; false when out of memory */
static bool
put(OpenF1Seen *s, const char *id, uint64_t hash)
{
	SeenEntry  *e;

	if ((s->n + 1) * 2 > s->cap && !grow(s))
		return false;
	e = find_slot(s, id);
	if (e->id == NULL)
	{
		e->id = strdup(id);
		if (e->id == NULL)
			return false;
		s->n++;
	}
	e->hash = hash;
	return true;
}

static bool
pending_append(OpenF1Seen *s, const char *line, size_t len)
{
	if (s->plen + len > s->pcap)
	{
		size_t		cap = s->pcap ? s->pcap : 65536;
		char	   *p;

		while (cap < s->plen + len)
			cap *= 2;
		p = realloc(s->pending, cap);
		if (p == NULL)
			return false;
		s->pending = p;
		s->pcap = cap;
	}
	memcpy(s->pending + s->plen, line, len);
	s->plen += len;
	return true;
}

static bool
load(OpenF1Seen *s, FILE *f, const char *path, int64_t session_key, char *err, size_t errlen)
{
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		len;
	int64_t		key = 0;
	bool		ok = true;

	if ((len = getline(&line, &cap, f)) <= 0 ||
		sscanf(line, "f1tel-feed live state 1 session_key=%" SCNd64, &key) != 1)
	{
		snprintf(err, errlen, "\"%s\" is not a state file of f1tel-feed --live", path);
		free(line);
		return false;
	}
	if (key != session_key)
	{
		snprintf(err, errlen, "\"%s\" is the state of session %" PRId64 ", not %" PRId64
				 " (give another --state)", path, key, session_key);
		free(line);
		return false;
	}
	while (ok && (len = getline(&line, &cap, f)) > 0)
	{
		char	   *a,
				   *b;

		if (line[len - 1] != '\n')
			break;				/* torn by a crash: not committed */
		line[len - 1] = '\0';
		a = strchr(line, '\t');
		b = a ? strchr(a + 1, '\t') : NULL;
		if (b == NULL)
			continue;
		*a++ = '\0';
		*b++ = '\0';
		if (strcmp(line, "R") == 0)
			ok = put(s, a, strtoull(b, NULL, 16));
		else if (strcmp(line, "C") == 0)
		{
			const F1Endpoint *ep = f1_endpoint_by_name(a);

			if (ep)
			{
				s->cursor[ep->id] = strtoll(b, NULL, 10);
				s->has_cursor[ep->id] = true;
			}
		}
	}
	free(line);
	if (!ok)
		snprintf(err, errlen, "out of memory");
	return ok;
}

OpenF1Seen *
of1_seen_open(const char *path, int64_t session_key, size_t *loaded, char *err, size_t errlen)
{
	OpenF1Seen *s = calloc(1, sizeof(OpenF1Seen));
	FILE	   *f;

	*loaded = 0;
	if (s == NULL || !grow(s))
	{
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	f = fopen(path, "r");
	if (f)
	{
		bool		ok = load(s, f, path, session_key, err, errlen);

		fclose(f);
		if (!ok)
		{
			of1_seen_free(s);
			return NULL;
		}
		*loaded = s->n;
	}
	else if (errno != ENOENT)
	{
		snprintf(err, errlen, "cannot read \"%s\": %s", path, strerror(errno));
		of1_seen_free(s);
		return NULL;
	}
	s->fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (s->fd < 0)
	{
		snprintf(err, errlen, "cannot open \"%s\": %s", path, strerror(errno));
		of1_seen_free(s);
		return NULL;
	}
	if (f == NULL)
	{
		char		head[96];
		int			n = snprintf(head, sizeof(head),
								 "f1tel-feed live state 1 session_key=%" PRId64 "\n", session_key);

		if (write(s->fd, head, n) != n || fsync(s->fd) != 0)
		{
			snprintf(err, errlen, "cannot write \"%s\": %s", path, strerror(errno));
			of1_seen_free(s);
			return NULL;
		}
	}
	return s;
}

void
of1_seen_free(OpenF1Seen *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->cap; i++)
		free(s->slots[i].id);
	free(s->slots);
	free(s->pending);
	if (s->fd > 0)
		close(s->fd);
	free(s);
}

bool
of1_record_identity(const F1Endpoint *ep, json_object *obj, uint64_t content,
					char *out, size_t size)
{
	size_t		used = (size_t) snprintf(out, size, "%s", ep->name);
	bool		any = false;

	for (int i = 0; i < ep->ncolumns; i++)
	{
		const F1Column *col = &ep->columns[i];
		json_object *v;
		const char *text;

		if (!col->key)
			continue;
		any = true;
		if (!json_object_object_get_ex(obj, F1_COLUMN_FIELD(col), &v) || v == NULL)
			text = "null";
		else
			text = json_object_get_type(v) == json_type_string ? json_object_get_string(v)
				: json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
		used += (size_t) snprintf(out + used, used < size ? size - used : 0, "|%s", text);
		if (used >= size)
			return false;
	}
	if (!any)
		used += (size_t) snprintf(out + used, used < size ? size - used : 0,
								  "|#%016" PRIx64, content);
	return used < size;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

uint64_t
of1_record_hash(json_object *obj)
{
	const char *keys[256];
	int			n = 0;
	uint64_t	h = FNV_START;

	json_object_object_foreach(obj, k, v)
	{
		(void) v;
		if (strcmp(k, "_id") == 0 || strcmp(k, "_key") == 0)
			continue;
		if (n < (int) (sizeof(keys) / sizeof(keys[0])))
			keys[n++] = k;
	}
	qsort(keys, n, sizeof(keys[0]), cmp_str);
	for (int i = 0; i < n; i++)
	{
		json_object *v = json_object_object_get(obj, keys[i]);
		const char *t = v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN) : "null";

		h = fnv1a(keys[i], strlen(keys[i]) + 1, h);
		h = fnv1a(t, strlen(t) + 1, h);
	}
	return h;
}

OpenF1Change
of1_seen_note(OpenF1Seen *s, const char *id, uint64_t hash)
{
	SeenEntry  *e = find_slot(s, id);
	OpenF1Change c = e->id == NULL ? OF1_NEW : (e->hash == hash ? OF1_SAME : OF1_CHANGED);
	char		line[600];
	int			n;

	if (c == OF1_SAME)
		return c;
	n = snprintf(line, sizeof(line), "R\t%s\t%016" PRIx64 "\n", id, hash);
	if (n >= (int) sizeof(line) || !put(s, id, hash) || !pending_append(s, line, n))
		return OF1_NOMEM;
	return c;
}

void
of1_seen_cursor_note(OpenF1Seen *s, int e, int64_t t)
{
	if (!s->has_cursor[e] || t > s->cursor[e])
	{
		s->cursor[e] = t;
		s->has_cursor[e] = true;
	}
}

bool
of1_seen_cursor(const OpenF1Seen *s, int e, int64_t *t)
{
	*t = s->cursor[e];
	return s->has_cursor[e];
}

bool
of1_seen_commit(OpenF1Seen *s, char *err, size_t errlen)
{
	for (int e = 0; e < FEED_NENDPOINTS; e++)
		if (s->has_cursor[e])
		{
			char		line[96];
			int			n = snprintf(line, sizeof(line), "C\t%s\t%" PRId64 "\n",
									 f1_endpoints[e].name, s->cursor[e]);

			if (!pending_append(s, line, n))
			{
				snprintf(err, errlen, "out of memory");
				return false;
			}
		}
	for (size_t off = 0; off < s->plen;)
	{
		ssize_t		w = write(s->fd, s->pending + off, s->plen - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
		{
			snprintf(err, errlen, "cannot write the state file: %s", strerror(errno));
			return false;
		}
		off += (size_t) w;
	}
	s->plen = 0;
	if (fsync(s->fd) != 0)
	{
		snprintf(err, errlen, "cannot fsync the state file: %s", strerror(errno));
		return false;
	}
	return true;
}

size_t
of1_seen_count(const OpenF1Seen *s)
{
	return s->n;
}
