/*
 * src/tools/openf1_seen.h — a live follower's memory of what it published
 * (openf1_seen.c): identities, content hashes, time cursors, state file.
 */
#ifndef F1TEL_OPENF1_SEEN_H
#define F1TEL_OPENF1_SEEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "tools/feed.h"

typedef enum OpenF1Change
{
	OF1_SAME,					/* this version was published */
	OF1_NEW,					/* a record never published */
	OF1_CHANGED,				/* a newer version of a published record */
	OF1_NOMEM
} OpenF1Change;

typedef struct OpenF1Seen OpenF1Seen;

/* opens (and loads, if it exists) the state file; *loaded: records in it */
extern OpenF1Seen *of1_seen_open(const char *path, int64_t session_key, size_t *loaded,
								 char *err, size_t errlen);
extern void of1_seen_free(OpenF1Seen *s);

/* content hash: every field but _id and _key, in sorted order */
extern uint64_t of1_record_hash(json_object *obj);
/* "<endpoint>|<key values>" (content-identified without KEY columns) */
extern bool of1_record_identity(const F1Endpoint *ep, json_object *obj, uint64_t content,
								char *out, size_t size);

/* compares with what was published; records the new version if it differs */
extern OpenF1Change of1_seen_note(OpenF1Seen *s, const char *id, uint64_t hash);
extern void of1_seen_cursor_note(OpenF1Seen *s, int endpoint, int64_t t);
extern bool of1_seen_cursor(const OpenF1Seen *s, int endpoint, int64_t *t);

/* after delivery: appends what was noted since the last commit, fsync */
extern bool of1_seen_commit(OpenF1Seen *s, char *err, size_t errlen);
extern size_t of1_seen_count(const OpenF1Seen *s);

#endif							/* F1TEL_OPENF1_SEEN_H */
