/*
 * src/shared/backoff.h — the one back-off policy of f1tel: how long to wait
 * before trying again after a failure.
 *
 * Every retry loop of the extension computes its delay here: the BigQuery
 * sink between insertAll passes (with jitter), the sink worker between
 * failed rounds (without), the ingest worker before writing a batch again
 * (with).  The policy is exponential: base_ms doubled once per attempt,
 * never more than cap_ms.  With jitter ("full jitter") the delay is drawn
 * uniformly from [0, that ceiling], so that workers failing together do not
 * retry in step; without it the delay is the ceiling itself.
 *
 * Rules a reader must know:
 *  - Plain C: no PostgreSQL headers or calls, no allocation, only
 *    <stdint.h>.  Unit-tested outside the server (test/unit/test_backoff.c)
 *    and callable from a backend.
 *  - Thread-safe: no global state.  The random numbers come from a
 *    generator whose state the caller keeps (one uint64_t), so a given
 *    state always gives the same delays; the caller serialises its own
 *    uses of one state.
 *  - Not a cryptographic generator: it only spreads retries out.
 */
#ifndef F1TEL_BACKOFF_H
#define F1TEL_BACKOFF_H

#include <stdint.h>

/*
 * The delay before retry number attempt, in milliseconds.  attempt counts
 * from 0 (the first retry); negative values count as 0.  The ceiling is
 * min(cap_ms, base_ms * 2^attempt), computed without overflow for any
 * attempt; a cap below the base wins.  base_ms <= 0 or cap_ms <= 0 gives 0.
 *
 *   rng_state != NULL: full jitter, a delay drawn uniformly from
 *     [0, ceiling] with a xorshift64* generator whose state is *rng_state
 *     (seed it with f1_backoff_seed() or anything else; 0 is replaced by a
 *     fixed seed).  *rng_state advances by one step per call.
 *   rng_state == NULL: no jitter, the ceiling itself: monotone in attempt,
 *     e.g. f1_backoff_ms(n, 1000, 30000, NULL) is 1000, 2000, 4000, 8000,
 *     16000, then 30000 for n = 0, 1, 2, ...
 */
extern int64_t f1_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms,
							 uint64_t *rng_state);

/*
 * A seed for a generator state that differs between processes started at
 * the same time: now (any clock, e.g. a TimestampTz) xor pid in the high
 * half.  Seed once per process, e.g.
 *     static uint64_t rng = 0;
 *     if (rng == 0) rng = f1_backoff_seed(GetCurrentTimestamp(), MyProcPid);
 */
extern uint64_t f1_backoff_seed(int64_t now, int pid);

#endif							/* F1TEL_BACKOFF_H */
