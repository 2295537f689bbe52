/*
 * src/shared/backoff.c — the one back-off policy of f1tel (see backoff.h):
 * exponential from a base, capped, with optional full jitter.
 *
 * The ceiling is doubled step by step rather than shifted, so a large
 * attempt number or a base near INT64_MAX can never overflow; the loop
 * stops at the cap, so it runs at most 63 times.
 *
 * Plain C: no PostgreSQL headers or calls, no allocation, no global state.
 */
#include <stddef.h>

#include "shared/backoff.h"

/* Used when a generator state is 0, from which xorshift never moves. */
#define FIXED_SEED	UINT64_C(0x9E3779B97F4A7C15)

/* xorshift64* (Vigna): the next number, and *state advanced. */
static uint64_t
next_random(uint64_t *state)
{
	uint64_t	x = *state;

	if (x == 0)
		x = FIXED_SEED;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * UINT64_C(0x2545F4914F6CDD1D);
}

int64_t
f1_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, uint64_t *rng_state)
{
	int64_t		ceiling;

	if (base_ms <= 0 || cap_ms <= 0)
		return 0;
	if (attempt < 0)
		attempt = 0;
	ceiling = base_ms < cap_ms ? base_ms : cap_ms;
	for (int i = 0; i < attempt && ceiling < cap_ms; i++)
		ceiling = ceiling > cap_ms / 2 ? cap_ms : ceiling * 2;
	if (rng_state == NULL)
		return ceiling;
	return (int64_t) (next_random(rng_state) % ((uint64_t) ceiling + 1));
}

uint64_t
f1_backoff_seed(int64_t now, int pid)
{
	return (uint64_t) now ^ ((uint64_t) pid << 32);
}
