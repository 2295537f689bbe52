/*
 * src/tools/openf1_live.h — the state of f1tel-feed --live shared by its
 * REST rounds (openf1_live.c) and its MQTT push feed (openf1_push.c).
 *
 * Rules a reader must know:
 *  - Records are queued with of1_live_add (which drops versions already
 *    published) and sent with of1_live_publish, which returns only after
 *    Kafka acknowledged them and the state file recorded them.
 */
#ifndef F1TEL_OPENF1_LIVE_H
#define F1TEL_OPENF1_LIVE_H

#include "tools/openf1.h"
#include "tools/openf1_seen.h"

typedef struct Live
{
	const FeedOptions *opt;
	OpenF1Client *c;
	OpenF1Session s;
	FeedSender *snd;
	OpenF1Seen *seen;
	OpenF1Text	batch[FEED_NENDPOINTS];	/* queued, not yet sent */
	size_t		nnew[FEED_NENDPOINTS];	/* since the last report */
	size_t		nchanged[FEED_NENDPOINTS];
	size_t		published;
	size_t		malformed;
	uint64_t	rounds;			/* REST rounds done */
} Live;

extern bool of1_live_add(Live *lv, int endpoint, const char *rec, size_t len,
						 char *err, size_t errlen);
extern bool of1_live_publish(Live *lv, char *err, size_t errlen);
extern bool of1_live_rest_round(Live *lv, bool whole, bool also_telemetry,
								char *err, size_t errlen);
extern void of1_live_report(Live *lv, const char *what);
extern bool of1_live_ended(Live *lv);
extern bool of1_live_wait(Live *lv, int ms);

/* openf1_push.c: follows over MQTT until the session has ended */
extern bool of1_push_follow(Live *lv, char *err, size_t errlen);

#endif							/* F1TEL_OPENF1_LIVE_H */
