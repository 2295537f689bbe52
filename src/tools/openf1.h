/*
 * src/tools/openf1.h — f1tel-feed's OpenF1 source: a past session
 * downloaded (openf1_history.c) or a live one followed (openf1_live.c,
 * openf1_seen.c), through the REST client of openf1_http.h.
 *
 * Rules a reader must know:
 *  - A session is resolved once ("latest" becomes a key), and every query
 *    names that key, so that all endpoints come from the same session.
 *  - Times are f1tel's: int64 microseconds since 2000-01-01 UTC.
 */
#ifndef F1TEL_OPENF1_H
#define F1TEL_OPENF1_H

#include "tools/feed.h"
#include "tools/openf1_http.h"

#define OF1_MAX_DRIVERS 64

typedef struct OpenF1Session
{
	int64_t		session_key;
	int64_t		meeting_key;
	int64_t		date_start;
	int64_t		date_end;
	int			drivers[OF1_MAX_DRIVERS];
	int			ndrivers;
} OpenF1Session;

/* openf1_history.c */
/* appends the records of a JSON array answer (comma-separated) */
extern bool of1_text_append_array(OpenF1Text *t, const char *body, size_t len,
								  char *err, size_t errlen);
/*
 * Appends an endpoint's records of the session to out (since INT64_MIN: all
 * of them; else those whose time field is >= since), in parts as small as
 * the server needs.
 */
extern OpenF1Status of1_fetch(OpenF1Client *c, const OpenF1Session *s, const F1Endpoint *ep,
							  int64_t since, OpenF1Text *out, char *err, size_t errlen);
extern bool of1_resolve_session(OpenF1Client *c, const char *key, OpenF1Session *s,
								char *err, size_t errlen);
extern bool of1_session_drivers(OpenF1Client *c, OpenF1Session *s, char *err, size_t errlen);
extern bool of1_session_filter(const OpenF1Session *s, const F1Endpoint *ep,
							   char *q, size_t qsize);
extern void of1_format_time(int64_t us, char *buf, size_t size);

/*
 * Downloads the chosen endpoints of a session into files[] (room for
 * FEED_NENDPOINTS), each a FeedFile whose text is set (path names the query);
 * saves them under --save.  Returns the number of files, -1 on error.
 */
extern int	of1_download(OpenF1Client *c, const FeedOptions *opt, const OpenF1Session *s,
						 FeedFile *files, char *err, size_t errlen);

/* openf1_live.c: follows a live session until it has ended; an exit status */
extern int	of1_follow(const FeedOptions *opt, OpenF1Client *c);

#endif							/* F1TEL_OPENF1_H */
