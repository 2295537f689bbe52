/*
 * src/tools/feed_endpoints.c — the endpoints f1tel-feed knows, and their rules.
 *
 * One row per endpoint: its file name, default topic, the field that gives a
 * record its time (NULL: sent before everything, sessions then meetings then
 * drivers), and the shape of its message key.  The order of the rows is the
 * order in which a DIR's files are laid out before the merge by time, so it
 * decides between records of equal time.
 */
#include <string.h>

#include "tools/feed.h"

const FeedEndpoint feed_endpoints[FEED_NENDPOINTS] = {
	{"laps", "f1_laps", "date_start", 0, FEED_KEY_SESSION_DRIVER},
	{"position", "f1_position", "date", 0, FEED_KEY_SESSION_DRIVER},
	{"drivers", "f1_drivers", NULL, FEED_TIME_DRIVERS, FEED_KEY_SESSION_DRIVER},
	{"race_control", "f1-race_control", "date", 0, FEED_KEY_SESSION},
	{"sessions", "f1_sessions", NULL, FEED_TIME_SESSIONS, FEED_KEY_SESSION},
	{"meetings", "f1_meetings", NULL, FEED_TIME_MEETINGS, FEED_KEY_MEETING},
	{"car_data", "f1_car_data", "date", 0, FEED_KEY_SESSION_DRIVER},
	{"location", "f1_location", "date", 0, FEED_KEY_SESSION_DRIVER},
};

int
feed_endpoint_index(const char *name)
{
	for (int i = 0; i < FEED_NENDPOINTS; i++)
		if (strcmp(feed_endpoints[i].name, name) == 0)
			return i;
	return -1;
}
