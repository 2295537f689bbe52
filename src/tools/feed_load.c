/*
 * src/tools/feed_load.c — loads one recorded endpoint file for f1tel-feed.
 *
 * Reads <dir>/<endpoint>.json or .json.gz (zlib reads both) into memory,
 * splits the top-level array into records with feed_scan.c, and parses each
 * record on its own with json-c only to find its time and its message key.
 * The payload stays the record's exact bytes (or the copy rewritten by
 * --session-key-offset, made before parsing, so the key shows the new
 * values too).
 *
 * Rules a reader must know:
 *  - A null (or missing) time takes the time of the preceding record of the
 *    same file; leading nulls take the first time that follows.  A timed file
 *    without any time sorts right after the untimed endpoints.
 *  - A key part that is missing or null is empty; an integer is written in
 *    decimal, a string as its contents, anything else as its JSON text.
 *  - Thread-safe for distinct FeedFiles (f1tel_feed.c loads files in
 *    parallel): no globals.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>
#include <zlib.h>

#include "ingest/decode.h"
#include "tools/feed.h"

#define RW_BLOCK	(4 << 20)

/* zlib's message without the "path: " it starts with */
static const char *
zmsg(const char *path, const char *msg)
{
	size_t		n = strlen(path);

	if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
		return msg + n + 2;
	return msg;
}

/* Whole file, gunzipped if it is gzip (zlib passes plain files through). */
static bool
read_file(FeedFile *f, char *errbuf, size_t errlen)
{
	gzFile		gz;
	size_t		cap = 1 << 20;
	size_t		len = 0;
	char	   *buf;

	gz = gzopen(f->path, "rb");
	if (gz == NULL)
	{
		snprintf(errbuf, errlen, "cannot open: %s", strerror(errno ? errno : ENOMEM));
		return false;
	}
	gzbuffer(gz, 1 << 18);
	buf = malloc(cap);
	for (;;)
	{
		int			n;

		if (buf == NULL)
		{
			snprintf(errbuf, errlen, "out of memory");
			gzclose(gz);
			return false;
		}
		if (cap - len < (1 << 20))
		{
			char	   *nbuf = realloc(buf, cap * 2);

			if (nbuf == NULL)
				free(buf);
			buf = nbuf;
			cap *= 2;
			continue;
		}
		n = gzread(gz, buf + len, (unsigned) (cap - len - 1 < (1u << 30) ? cap - len - 1 : (1u << 30)));
		if (n < 0)
		{
			int			zerr;
			const char *msg = gzerror(gz, &zerr);

			snprintf(errbuf, errlen, "cannot read: %s",
					 zerr == Z_ERRNO ? strerror(errno) : zmsg(f->path, msg));
			free(buf);
			gzclose(gz);
			return false;
		}
		if (n == 0)
			break;
		len += n;
	}
	/* a truncated gzip stream reads as a short file: zlib flags it here */
	{
		int			zerr;
		const char *msg = gzerror(gz, &zerr);

		if (zerr != Z_OK && zerr != Z_STREAM_END)
		{
			snprintf(errbuf, errlen, "cannot read: %s", zmsg(f->path, msg));
			free(buf);
			gzclose(gz);
			return false;
		}
	}
	gzclose(gz);
	buf[len] = '\0';
	{
		/* give back the unused tail of the last doubling */
		char	   *shrunk = realloc(buf, len + 1);

		if (shrunk != NULL)
			buf = shrunk;
	}
	f->text = buf;
	f->textlen = len;
	return true;
}

/*
 * Room for n bytes of rewritten payloads: the rewritten copies live in
 * blocks that never move (records point into them).
 */
static char *
rewrite_room(FeedFile *f, size_t n)
{
	if (f->nrwblocks == 0 || f->rw_used + n > f->rw_cap)
	{
		size_t		bsize = n > RW_BLOCK ? n : RW_BLOCK;
		char	  **b = realloc(f->rwblocks, (f->nrwblocks + 1) * sizeof(char *));

		if (b == NULL)
			return NULL;
		f->rwblocks = b;
		b[f->nrwblocks] = malloc(bsize);
		if (b[f->nrwblocks] == NULL)
			return NULL;
		f->nrwblocks++;
		f->rw_used = 0;
		f->rw_cap = bsize;
	}
	return f->rwblocks[f->nrwblocks - 1] + f->rw_used;
}

/* Append one part of a key, per the rules in the header comment. */
static size_t
key_part(char *out, size_t room, json_object *obj, const char *field)
{
	json_object *v;
	int			n = 0;

	if (!json_object_object_get_ex(obj, field, &v) || v == NULL)
		return 0;
	switch (json_object_get_type(v))
	{
		case json_type_int:
			n = snprintf(out, room, "%" PRId64, json_object_get_int64(v));
			break;
		case json_type_string:
			n = snprintf(out, room, "%s", json_object_get_string(v));
			break;
		default:
			n = snprintf(out, room, "%s",
						 json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
			break;
	}
	return n < 0 ? 0 : ((size_t) n < room ? (size_t) n : room - 1);
}

/* The index of key in f->keys, adding it if new; UINT32_MAX if out of memory. */
static uint32_t
intern_key(FeedFile *f, const char *key, size_t len, uint32_t *last)
{
	uint32_t	i = *last;

	if (i < f->nkeys && f->keylens[i] == len && memcmp(f->keys[i], key, len) == 0)
		return i;
	for (i = 0; i < f->nkeys; i++)
		if (f->keylens[i] == len && memcmp(f->keys[i], key, len) == 0)
			return *last = i;
	if (f->nkeys == f->capkeys)
	{
		uint32_t	cap = f->capkeys ? f->capkeys * 2 : 32;
		char	  **k = realloc(f->keys, cap * sizeof(char *));
		uint32_t   *l;

		if (k == NULL)
			return UINT32_MAX;
		f->keys = k;
		l = realloc(f->keylens, cap * sizeof(uint32_t));
		if (l == NULL)
			return UINT32_MAX;
		f->keylens = l;
		f->capkeys = cap;
	}
	f->keys[f->nkeys] = strndup(key, len);
	if (f->keys[f->nkeys] == NULL)
		return UINT32_MAX;
	f->keylens[f->nkeys] = (uint32_t) len;
	return *last = f->nkeys++;
}

/*
 * The record's time: true with *has_time false for a null or missing time,
 * false (errbuf set) when the field is not a date-time string.
 */
static bool
record_time(json_object *obj, const char *field, int64_t *t, bool *has_time,
			char *errbuf, size_t errlen)
{
	json_object *v;

	*has_time = false;
	if (!json_object_object_get_ex(obj, field, &v) || v == NULL)
		return true;
	if (!json_object_is_type(v, json_type_string) ||
		!f1_parse_timestamp(json_object_get_string(v),
							(size_t) json_object_get_string_len(v), t))
	{
		snprintf(errbuf, errlen, "field \"%s\" is not a date-time: %s", field,
				 json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
		return false;
	}
	*has_time = true;
	return true;
}

bool
feed_load_file(FeedFile *f, uint32_t file_index, int64_t key_offset,
			   char *errbuf, size_t errlen)
{
	const F1Endpoint *ep = &f1_endpoints[f->endpoint];
	FeedArrayScan scan;
	json_tokener *tok;
	size_t		cap;
	char	   *wpos = NULL;
	int64_t		prev_time = 0;
	bool		have_prev = false;
	size_t		leading_nulls = 0;
	uint32_t	last_key = 0;
	char		reason[512];
	const char *rec;
	size_t		reclen;
	int			r;

	/* text already set: downloaded from OpenF1 (openf1_history.c) */
	if (f->text == NULL && !read_file(f, reason, sizeof(reason)))
		goto fail;
	if (!feed_array_begin(&scan, f->text, f->textlen, reason, sizeof(reason)))
		goto fail;

	/* guess 64 bytes a record; grown by doubling */
	cap = f->textlen / 64 + 16;
	f->recs = malloc(cap * sizeof(FeedRecord));
	tok = json_tokener_new();
	if (f->recs == NULL || tok == NULL)
	{
		snprintf(reason, sizeof(reason), "out of memory");
		if (tok)
			json_tokener_free(tok);
		goto fail;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);

	while ((r = feed_array_next(&scan, &rec, &reclen, reason, sizeof(reason))) > 0)
	{
		FeedRecord *out;
		json_object *obj;
		char		key[128];
		size_t		klen = 0;
		bool		has_time;

		if (reclen > UINT32_MAX / 2)
		{
			snprintf(reason, sizeof(reason), "record %zu is too large", scan.count);
			r = -1;
			break;
		}
		if (f->nrecs == cap)
		{
			FeedRecord *n = realloc(f->recs, cap * 2 * sizeof(FeedRecord));

			if (n == NULL)
			{
				snprintf(reason, sizeof(reason), "out of memory");
				r = -1;
				break;
			}
			f->recs = n;
			cap *= 2;
		}
		out = &f->recs[f->nrecs];
		if (key_offset != 0)
		{
			size_t		wlen;
			char		why[300];

			wpos = rewrite_room(f, reclen + feed_rewrite_max_growth());
			if (wpos == NULL)
			{
				snprintf(reason, sizeof(reason), "out of memory");
				r = -1;
				break;
			}
			if (!feed_rewrite_keys(rec, reclen, key_offset, wpos, &wlen,
								   why, sizeof(why)))
			{
				snprintf(reason, sizeof(reason), "record %zu: %s", scan.count, why);
				r = -1;
				break;
			}
			rec = wpos;
			reclen = wlen;
			f->rw_used += wlen;
		}

		json_tokener_reset(tok);
		obj = json_tokener_parse_ex(tok, rec, (int) reclen);
		if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success ||
			json_tokener_get_parse_end(tok) != reclen)
		{
			enum json_tokener_error jerr = json_tokener_get_error(tok);

			snprintf(reason, sizeof(reason), "record %zu (byte %zu): invalid JSON: %s",
					 scan.count, (size_t) (rec - f->text),
					 jerr == json_tokener_success ? "trailing text" :
					 jerr == json_tokener_continue ? "unexpected end" :
					 json_tokener_error_desc(jerr));
			json_object_put(obj);
			r = -1;
			break;
		}

		out->data = rec;
		out->len = (uint32_t) reclen;
		out->file = file_index;

		/* time */
		if (ep->time_field == NULL)
			out->time = FEED_UNTIMED_TIME(ep);
		else
		{
			char		why[300];

			if (!record_time(obj, ep->time_field, &out->time, &has_time,
							 why, sizeof(why)))
			{
				snprintf(reason, sizeof(reason), "record %zu: %s", scan.count, why);
				json_object_put(obj);
				r = -1;
				break;
			}
			if (has_time)
			{
				for (size_t i = f->nrecs - leading_nulls; i < f->nrecs; i++)
					f->recs[i].time = out->time;
				leading_nulls = 0;
				prev_time = out->time;
				have_prev = true;
			}
			else if (have_prev)
				out->time = prev_time;
			else
			{
				out->time = FEED_TIME_NONE;
				leading_nulls++;
			}
		}

		/* key */
		switch (ep->key_shape)
		{
			case F1K_SESSION_DRIVER:
				klen = key_part(key, sizeof(key) - 1, obj, "session_key");
				key[klen++] = ':';
				klen += key_part(key + klen, sizeof(key) - klen, obj, "driver_number");
				break;
			case F1K_SESSION:
				klen = key_part(key, sizeof(key), obj, "session_key");
				break;
			case F1K_MEETING:
				klen = key_part(key, sizeof(key), obj, "meeting_key");
				break;
		}
		json_object_put(obj);
		out->key = intern_key(f, key, klen, &last_key);
		if (out->key == UINT32_MAX)
		{
			snprintf(reason, sizeof(reason), "out of memory");
			r = -1;
			break;
		}
		f->nrecs++;
	}
	json_tokener_free(tok);
	if (r < 0)
		goto fail;
	return true;

fail:
	snprintf(errbuf, errlen, "%s: %s", f->path, reason);
	return false;
}

void
feed_free_file(FeedFile *f)
{
	for (uint32_t i = 0; i < f->nkeys; i++)
		free(f->keys[i]);
	free(f->keys);
	free(f->keylens);
	free(f->recs);
	for (uint32_t i = 0; i < f->nrwblocks; i++)
		free(f->rwblocks[i]);
	free(f->rwblocks);
	free(f->text);
	free(f->path);
	memset(f, 0, sizeof(*f));
}
