/*
 * When to rotate and how long to wait, as SPIRE decides (its
 * rotationutil and backoff packages): an SVID is renewed once its time
 * left is at most half its lifetime, jittered by +-10% of that half;
 * failed syncs back off x1.5 per failure with +-10% jitter up to a cap.
 * Pure functions with the randomness passed in, so tests pin it.
 */
#include "config.h"

#include <stdlib.h>

#include "agent/internal.h"

/*
 * The Unix time at which an SVID valid from not_before to not_after is
 * renewed, for a uniform draw r01 in [0, 1): not_after minus a
 * jittered half life, half life +- a tenth of it.
 */
int64_t
rotation_time(int64_t not_before, int64_t not_after, double r01)
{
	double	 life, half, delta, jittered;

	if (not_after <= not_before)
		return not_before;
	life = (double)(not_after - not_before);
	half = life / 2.;
	delta = half / 10.;
	jittered = half - delta + 2. * delta * r01;
	return not_after - (int64_t)jittered;
}

/* ms +- 10%, for r01 in [0, 1). */
double
rotation_jitter(double ms, double r01)
{
	return ms * (0.9 + 0.2 * r01);
}

/*
 * The next interval of an exponential backoff: base on the first
 * failure (cur_ms 0), then x1.5 per failure, capped at max_ms. The
 * caller jitters the delay it waits (rotation_jitter), not the state.
 */
double
rotation_backoff_next(double cur_ms, double base_ms, double max_ms)
{
	double	 next;

	next = cur_ms <= 0 ? base_ms : cur_ms * 1.5;
	if (next > max_ms)
		next = max_ms;
	return next;
}

/* A uniform draw in [0, 1); no secret depends on it. */
double
rotation_random(void)
{
	return (double)(arc4random() % 1000000u) / 1000000.;
}
