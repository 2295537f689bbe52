/*
 * src/ingest/timestamp.c — ISO 8601 date-times as the OpenF1 API writes them.
 *
 * Accepts "YYYY-MM-DD[T ]HH:MM:SS[.f...][Z|+HH:MM|-HH:MM|+HHMM|+HH]" and
 * returns microseconds since 2000-01-01 00:00:00 UTC (PostgreSQL's
 * TimestampTz).  No offset means UTC.  A fraction of more than six digits
 * is rounded to the microsecond as PostgreSQL's timestamptz input does it,
 * rint(strtod(".fff...") * 1e6), ties to even (".0000025" is 2 us, ".0000035"
 * is 4 us), so that a value stored here and one typed into psql agree.
 * Plain C: used by the server (src/ingest/decode.c) and by f1tel-feed.
 */
#include <stdlib.h>
#include <string.h>

#include "ingest/decode.h"

#define USECS_PER_SEC	INT64_C(1000000)
#define SECS_PER_DAY	INT64_C(86400)
/* days from 0000-03-01 (proleptic Gregorian) to 2000-01-01 */
#define DAYS_TO_PG_EPOCH INT64_C(730425)
/* fraction digits read when rounding: a double holds about 17 of them */
#define MAX_FRACTION_DIGITS 40

static bool
digits(const char *s, size_t len, size_t pos, int n, int *out)
{
	int			v = 0;

	if (pos + n > len)
		return false;
	for (int i = 0; i < n; i++)
	{
		char		c = s[pos + i];

		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*out = v;
	return true;
}

static int
days_in_month(int y, int m)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return mdays[m - 1];
}

/* Days since 0000-03-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t
days_from_civil(int y, int m, int d)
{
	int64_t		era;
	int64_t		yoe,
				doy,
				doe;

	y -= m <= 2;
	era = y / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe;
}

/*
 * Microseconds of a fraction of more than six digits (frac points at its
 * '.'), as PostgreSQL's ParseFractionalSecond() computes them:
 * rint(strtod(frac) * 1000000), the rint() being round-half-to-even in the
 * default rounding mode, written out here so that no libm is needed.
 * (strtod() reads '.' as the decimal point in the C locale, which the
 * server always uses for LC_NUMERIC.)
 */
static int64_t
round_fraction(const char *frac, size_t len)
{
	char		buf[MAX_FRACTION_DIGITS + 2];
	double		x;
	int64_t		i;
	double		r;

	if (len > MAX_FRACTION_DIGITS + 1)
		len = MAX_FRACTION_DIGITS + 1;
	memcpy(buf, frac, len);
	buf[len] = '\0';
	x = strtod(buf, NULL) * 1000000.0;	/* in [0, 1000000] */
	i = (int64_t) x;
	r = x - (double) i;			/* exact: x is below 2^20 */
	if (r > 0.5 || (r == 0.5 && (i & 1) != 0))
		i++;
	return i;
}

bool
f1_parse_timestamp(const char *s, size_t len, int64_t *result)
{
	int			year,
				mon,
				day,
				hour,
				min,
				sec;
	int64_t		usec = 0;
	int64_t		offset_secs = 0;
	size_t		pos;

	if (s == NULL)
		return false;
	if (!digits(s, len, 0, 4, &year) || len < 19 || s[4] != '-' ||
		!digits(s, len, 5, 2, &mon) || s[7] != '-' ||
		!digits(s, len, 8, 2, &day) || (s[10] != 'T' && s[10] != ' ') ||
		!digits(s, len, 11, 2, &hour) || s[13] != ':' ||
		!digits(s, len, 14, 2, &min) || s[16] != ':' ||
		!digits(s, len, 17, 2, &sec))
		return false;
	if (year < 1 || mon < 1 || mon > 12 || day < 1 ||
		day > days_in_month(year, mon) || hour > 23 || min > 59 || sec > 59)
		return false;
	pos = 19;

	if (pos < len && s[pos] == '.')
	{
		size_t		start = pos;
		int			n = 0;

		pos++;
		while (pos < len && s[pos] >= '0' && s[pos] <= '9')
		{
			if (n < 6)
				usec = usec * 10 + (s[pos] - '0');
			n++;
			pos++;
		}
		if (n == 0)
			return false;
		for (int i = n; i < 6; i++)
			usec *= 10;
		if (n > 6)
			usec = round_fraction(s + start, pos - start);
	}

	if (pos < len)
	{
		char		sign = s[pos];
		int			oh,
					om = 0;

		if (sign == 'Z' || sign == 'z')
			pos++;
		else if (sign == '+' || sign == '-')
		{
			if (!digits(s, len, pos + 1, 2, &oh))
				return false;
			pos += 3;
			if (pos < len && s[pos] == ':')
			{
				if (!digits(s, len, pos + 1, 2, &om))
					return false;
				pos += 3;
			}
			else if (pos < len)
			{
				if (!digits(s, len, pos, 2, &om))
					return false;
				pos += 2;
			}
			if (oh > 15 || om > 59)
				return false;
			offset_secs = (oh * 3600 + om * 60) * (sign == '-' ? -1 : 1);
		}
		else
			return false;
	}
	if (pos != len)
		return false;

	*result = ((days_from_civil(year, mon, day) - DAYS_TO_PG_EPOCH) * SECS_PER_DAY +
			   hour * 3600 + min * 60 + sec - offset_secs) * USECS_PER_SEC + usec;
	return true;
}
