/*
 * Durations as SPIRE writes them: Go's time.ParseDuration syntax ("24h",
 * "1h30m", "1.5h", "300ms", "0"), kept in milliseconds. TTLs go on the
 * wire in seconds and never need less than a second, but sync and retry
 * intervals such as "500ms" do; int64_t milliseconds cover both, and
 * hold any duration Go can (Go's limit is about 292 years).
 */
#ifndef CORE_DURATION_H
#define CORE_DURATION_H

#include <stddef.h>
#include <stdint.h>

#define DURATION_MS_PER_SEC	1000

/* Milliseconds in n seconds, minutes, hours: for defaults and bounds. */
#define DURATION_SECONDS(n)	((int64_t)(n) * DURATION_MS_PER_SEC)
#define DURATION_MINUTES(n)	(DURATION_SECONDS(n) * 60)
#define DURATION_HOURS(n)	(DURATION_MINUTES(n) * 60)

enum duration_status {
	DURATION_OK,
	DURATION_EMPTY,		/* "" */
	DURATION_SYNTAX,	/* not [-+]?(digits[.digits]unit)+ */
	DURATION_NO_UNIT,	/* "30": only "0" may go without a unit */
	DURATION_BAD_UNIT,	/* not ns, us, µs, ms, s, m or h */
	DURATION_RANGE,		/* beyond Go's int64 nanoseconds */
};

/*
 * Parses s exactly as Go's time.ParseDuration does, in nanoseconds, then
 * gives *ms truncated toward zero (so "1500us" is 1 ms and "999us" 0;
 * option tables set a minimum where 0 would be wrong). Negative values
 * parse, as in Go; bounds are the caller's. *ms is untouched on error.
 */
enum duration_status	 duration_parse(const char *s, int64_t *ms)
			    __attribute__((warn_unused_result));
/* A phrase for each status: "missing unit", "unknown unit", ... */
const char		*duration_strerror(enum duration_status);
/*
 * Writes ms the way Go's Duration.String does: "1h0m0s", "1m30s",
 * "1.5s", "300ms", "0s", "-5m0s". Returns the length, or -1 when
 * size (at least DURATION_FMT_MAX is always enough) is too small.
 */
int			 duration_format(int64_t ms, char *buf, size_t size);

/* Bytes duration_format needs at most, NUL included. */
#define DURATION_FMT_MAX	32

#endif
