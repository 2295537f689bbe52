/*
 * test/unit/test_backoff.c — unit tests of f1tel's one back-off policy,
 * f1_backoff_ms() and f1_backoff_seed() in src/shared/backoff.c: without
 * jitter the delay is exactly min(cap, base * 2^attempt) for any base, cap
 * and attempt, without overflow (and is the sink worker's old pause after
 * failed rounds); with jitter it is uniform on [0, that delay], both ends
 * reached, growing with the attempt up to the cap, and deterministic given
 * the generator's state, which each draw moves one step.
 *
 * The harness is test/unit/harness.h: one line per failed check, then "N
 * passed, N failed" (N counting test cases), exit status non-zero on any
 * failure.  `make unit` runs it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "shared/backoff.h"

#include "harness.h"

/* ---- back-off --------------------------------------------------------------------- */

static void
test_backoff(void)
{
	const int64_t base = 200;
	const int64_t cap = 30000;

	begin_case("back-off: within [0, min(cap, base * 2^attempt)]");
	{
		uint64_t	rng = 12345;

		for (int attempt = -3; attempt < 80; attempt++)
		{
			int64_t		ceiling = attempt <= 0 ? base :
				attempt >= 20 ? cap : (base << attempt < cap ? base << attempt : cap);

			for (int k = 0; k < 200; k++)
			{
				int64_t		d = f1_backoff_ms(attempt, base, cap, &rng);

				if (!CHECKF(d >= 0 && d <= ceiling, "attempt %d: %lld not in [0, %lld]",
							attempt, (long long) d, (long long) ceiling))
					break;
			}
		}
		CHECK(f1_backoff_ms(INT32_MAX, base, cap, &rng) <= cap);
		CHECK(f1_backoff_ms(62, INT64_MAX / 2, INT64_MAX, &rng) >= 0);
		CHECK(f1_backoff_ms(3, 0, cap, &rng) == 0);
		CHECK(f1_backoff_ms(3, base, 0, &rng) == 0);
		CHECK(f1_backoff_ms(3, -5, cap, &rng) == 0);
		/* a cap below the base wins */
		for (int k = 0; k < 100; k++)
			CHECK(f1_backoff_ms(0, 1000, 50, &rng) <= 50);
	}
	end_case();

	begin_case("back-off: grows with the attempt, then stays at the cap");
	{
		uint64_t	rng = 987654321;
		double		prev_mean = 0;

		for (int attempt = 0; attempt < 12; attempt++)
		{
			int64_t		ceiling = base << attempt < cap ? base << attempt : cap;
			double		sum = 0;
			int64_t		max = 0;
			const int	N = 4000;

			for (int k = 0; k < N; k++)
			{
				int64_t		d = f1_backoff_ms(attempt, base, cap, &rng);

				sum += (double) d;
				if (d > max)
					max = d;
			}
			/* uniform on [0, ceiling]: mean ceiling/2, maximum near ceiling */
			CHECKF(sum / N > 0.45 * (double) ceiling && sum / N < 0.55 * (double) ceiling,
				   "attempt %d: mean %.0f for ceiling %lld", attempt, sum / N, (long long) ceiling);
			CHECKF(max > 0.97 * (double) ceiling, "attempt %d: max %lld", attempt, (long long) max);
			if (ceiling < cap)
				CHECKF(sum / N > prev_mean * 1.6, "attempt %d: mean %.0f after %.0f",
					   attempt, sum / N, prev_mean);
			prev_mean = sum / N;
		}
	}
	end_case();

	begin_case("back-off: deterministic given the state");
	{
		uint64_t	a = 42;
		uint64_t	b = 42;
		uint64_t	c = 43;
		uint64_t	z = 0;
		int			same = 0;

		for (int k = 0; k < 50; k++)
		{
			int64_t		da = f1_backoff_ms(k % 10, base, cap, &a);
			int64_t		db = f1_backoff_ms(k % 10, base, cap, &b);
			int64_t		dc = f1_backoff_ms(k % 10, base, cap, &c);

			CHECK(da == db);
			same += da == dc;
		}
		CHECK(a == b && a != 42);
		CHECK(same < 10);
		/* a zero state still gives numbers */
		f1_backoff_ms(5, base, cap, &z);
		CHECK(z != 0);
	}
	end_case();

	begin_case("back-off without jitter: the ceiling itself, exactly");
	{
		static const int64_t pairs[][2] = {
			{1, 1}, {1, 7}, {3, 1000}, {10, 1000}, {200, 30000}, {1000, 30000},
			{1000, 50}, {1, INT64_MAX}, {INT64_MAX / 2, INT64_MAX},
			{INT64_MAX / 3, INT64_MAX - 1}, {INT64_MAX, INT64_MAX}, {INT64_MAX, 5}
		};

		for (size_t p = 0; p < sizeof(pairs) / sizeof(pairs[0]); p++)
		{
			int64_t		b = pairs[p][0];
			int64_t		c = pairs[p][1];
			int64_t		prev = 0;

			for (int attempt = -5; attempt < 200; attempt++)
			{
				/* min(c, b * 2^attempt), in 128 bits so that it cannot overflow */
				unsigned __int128 want = (unsigned __int128) (b < c ? b : c);
				int64_t		got = f1_backoff_ms(attempt, b, c, NULL);

				for (int i = 0; i < attempt && want < (unsigned __int128) c; i++)
					want *= 2;
				if (want > (unsigned __int128) c)
					want = (unsigned __int128) c;
				if (!CHECKF(got == (int64_t) want, "base %lld cap %lld attempt %d: %lld, want %lld",
							(long long) b, (long long) c, attempt, (long long) got,
							(long long) want) ||
					!CHECKF(got >= prev, "base %lld cap %lld attempt %d: %lld after %lld",
							(long long) b, (long long) c, attempt, (long long) got,
							(long long) prev))
					break;
				prev = got;
			}
			CHECK(f1_backoff_ms(INT32_MAX, b, c, NULL) == c);
			CHECK(f1_backoff_ms(INT32_MIN, b, c, NULL) == (b < c ? b : c));
		}
		CHECK(f1_backoff_ms(0, 0, 30000, NULL) == 0);
		CHECK(f1_backoff_ms(4, 1000, 0, NULL) == 0);
		CHECK(f1_backoff_ms(4, -1, 30000, NULL) == 0);
		CHECK(f1_backoff_ms(4, INT64_MIN, INT64_MIN, NULL) == 0);
	}
	end_case();

	begin_case("back-off without jitter: the sink worker's pause after failed rounds");
	{
		/* what src/sink/worker.c computed before: Min(1000 << Min(failures, 5), 30000) */
		static const int64_t want[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000};

		for (int failures = 0; failures < 1000; failures++)
		{
			int64_t		old = (INT64_C(1000) << (failures < 5 ? failures : 5));

			if (old > 30000)
				old = 30000;
			if (!CHECKF(f1_backoff_ms(failures, 1000, 30000, NULL) == old,
						"failures %d: %lld, want %lld", failures,
						(long long) f1_backoff_ms(failures, 1000, 30000, NULL), (long long) old))
				break;
		}
		for (int failures = 0; failures < (int) (sizeof(want) / sizeof(want[0])); failures++)
			CHECK(f1_backoff_ms(failures, 1000, 30000, NULL) == want[failures]);
	}
	end_case();

	begin_case("back-off: jitter within [0, the delay without jitter], both ends reached");
	{
		static const int64_t pairs[][2] = {
			{1, 1}, {10, 1000}, {200, 30000}, {1000, 30000}, {1000, 50},
			{INT64_MAX / 2, INT64_MAX}, {INT64_MAX, INT64_MAX}
		};
		uint64_t	rng = f1_backoff_seed(1700000000000000, 4242);

		for (size_t p = 0; p < sizeof(pairs) / sizeof(pairs[0]); p++)
		{
			for (int attempt = -2; attempt < 70; attempt++)
			{
				int64_t		d = f1_backoff_ms(attempt, pairs[p][0], pairs[p][1], NULL);
				bool		ok = true;

				for (int k = 0; ok && k < 100; k++)
				{
					int64_t		j = f1_backoff_ms(attempt, pairs[p][0], pairs[p][1], &rng);

					ok = CHECKF(j >= 0 && j <= d, "base %lld cap %lld attempt %d: %lld not in [0, %lld]",
								(long long) pairs[p][0], (long long) pairs[p][1], attempt,
								(long long) j, (long long) d);
				}
			}
		}

		/*
		 * The ingest worker's retry of a batch: base 10 ms, cap 1000 ms.  With
		 * a ceiling of 10, 20, 40, 80 ms, a few thousand draws see 0 and the
		 * ceiling itself: the interval is closed at both ends.
		 */
		for (int attempt = 0; attempt < 4; attempt++)
		{
			int64_t		d = f1_backoff_ms(attempt, 10, 1000, NULL);
			bool		seen_0 = false;
			bool		seen_d = false;

			CHECK(d == (INT64_C(10) << attempt));
			for (int k = 0; k < 5000; k++)
			{
				int64_t		j = f1_backoff_ms(attempt, 10, 1000, &rng);

				seen_0 |= j == 0;
				seen_d |= j == d;
			}
			CHECKF(seen_0 && seen_d, "attempt %d: 0 %s, %lld %s", attempt,
				   seen_0 ? "seen" : "never", (long long) d, seen_d ? "seen" : "never");
		}
		CHECK(f1_backoff_ms(60, 10, 1000, NULL) == 1000);
	}
	end_case();

	begin_case("back-off: seeds and generator states");
	{
		uint64_t	a = f1_backoff_seed(1700000000000000, 100);
		uint64_t	b = f1_backoff_seed(1700000000000000, 101);
		uint64_t	before;
		int			same = 0;

		/* the value bigquery.c used to compute inline */
		CHECK(a == ((uint64_t) INT64_C(1700000000000000) ^ ((uint64_t) 100 << 32)));
		CHECK(a != b);
		CHECK(f1_backoff_seed(-1, 0) == UINT64_MAX);
		for (int k = 0; k < 50; k++)
			same += f1_backoff_ms(8, 200, 30000, &a) == f1_backoff_ms(8, 200, 30000, &b);
		CHECK(same < 10);
		/* each call with a state moves it one step; without jitter, none */
		before = a;
		f1_backoff_ms(3, 200, 30000, &a);
		CHECK(a != before);
		before = a;
		CHECK(f1_backoff_ms(3, 0, 30000, &a) == 0);
		CHECK(a == before);		/* nothing to draw: the state stays */
	}
	end_case();
}

HARNESS_MAIN(test_backoff();)
