/*
 * src/ingest/gap.c — the "+N LAP(S)" gaps OpenF1 writes for lapped cars.
 *
 * intervals.gap_to_leader, intervals.interval and session_result
 * gap_to_leader hold a number of seconds, null, or, for a car a lap or more
 * behind, a string "+1 LAP", "+2 LAPS", ...  f1_parse_laps_behind() reads
 * that string (the contract: decode.h); the decoder stores N in the field's
 * "<field>_laps" column.  Strict on purpose: any other string is refused and
 * its message dead-lettered, so that a new shape shows up instead of being
 * read wrong.  Plain C: used by the server and the unit tests.
 */
#include <string.h>

#include "ingest/decode.h"

bool
f1_parse_laps_behind(const char *s, size_t len, int64_t *n)
{
	size_t		i = 1;
	int64_t		v = 0;

	if (len < 6 || s[0] != '+')
		return false;
	while (i < len && s[i] >= '0' && s[i] <= '9')
	{
		if (i > 9)
			return false;		/* more than 9 digits */
		v = v * 10 + (s[i] - '0');
		i++;
	}
	if (i == 1)
		return false;			/* no digit */
	if (len - i == 4 && memcmp(s + i, " LAP", 4) == 0)
		;
	else if (len - i == 5 && memcmp(s + i, " LAPS", 5) == 0)
		;
	else
		return false;
	*n = v;
	return true;
}
