/* Go duration strings, parsed with Go's rules, kept in milliseconds. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "core/duration.h"

#define NS_PER_MS	1000000ULL
/* Go keeps durations as int64 nanoseconds; 1 << 63 is the magnitude. */
#define NS_LIMIT	(1ULL << 63)

struct unit {
	const char	*name;
	uint64_t	 ns;
};

/* Go's unitMap, with both spellings of micro (U+00B5 and U+03BC). */
static const struct unit units[] = {
	{ "ns", 1ULL },
	{ "us", 1000ULL },
	{ "\xc2\xb5s", 1000ULL },
	{ "\xce\xbcs", 1000ULL },
	{ "ms", NS_PER_MS },
	{ "s", 1000ULL * NS_PER_MS },
	{ "m", 60ULL * 1000 * NS_PER_MS },
	{ "h", 3600ULL * 1000 * NS_PER_MS },
};

static int	leading_int(const char **, uint64_t *);
static void	leading_fraction(const char **, uint64_t *, double *);

const char *
duration_strerror(enum duration_status st)
{
	switch (st) {
	case DURATION_OK:
		return "ok";
	case DURATION_EMPTY:
		return "empty duration";
	case DURATION_SYNTAX:
		return "not a duration such as 1h30m or 500ms";
	case DURATION_NO_UNIT:
		return "missing unit (ns, us, ms, s, m or h)";
	case DURATION_BAD_UNIT:
		return "unknown unit (use ns, us, ms, s, m or h)";
	case DURATION_RANGE:
		return "duration out of range";
	}
	return "invalid duration";
}

/* Digits into *x; -1 when they overflow (Go's errLeadingInt). */
static int
leading_int(const char **sp, uint64_t *x)
{
	const char	*s = *sp;
	uint64_t	 v = 0;

	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > NS_LIMIT / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > NS_LIMIT)
			return -1;
	}
	*sp = s;
	*x = v;
	return 0;
}

/*
 * Fraction digits into *x with *scale = 10^digits kept; digits past what
 * fits are read and dropped, as Go does.
 */
static void
leading_fraction(const char **sp, uint64_t *x, double *scale)
{
	const char	*s = *sp;
	uint64_t	 v = 0, y;
	double		 sc = 1;
	int		 overflow = 0;

	for (; *s >= '0' && *s <= '9'; s++) {
		if (overflow)
			continue;
		if (v > (NS_LIMIT - 1) / 10) {
			overflow = 1;
			continue;
		}
		y = v * 10 + (uint64_t)(*s - '0');
		if (y > NS_LIMIT) {
			overflow = 1;
			continue;
		}
		v = y;
		sc *= 10;
	}
	*sp = s;
	*x = v;
	*scale = sc;
}

enum duration_status
duration_parse(const char *s, int64_t *ms)
{
	const struct unit	*u;
	const char		*start, *us;
	uint64_t		 d = 0, v, f, uns;
	double			 scale;
	size_t			 ulen, i;
	int			 neg = 0, pre, post;

	if (*s == '\0')
		return DURATION_EMPTY;
	if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
	}
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return DURATION_OK;
	}
	if (*s == '\0')
		return DURATION_SYNTAX;
	while (*s != '\0') {
		if (*s != '.' && (*s < '0' || *s > '9'))
			return DURATION_SYNTAX;
		start = s;
		if (leading_int(&s, &v) == -1)
			return DURATION_RANGE;
		pre = s != start;
		post = 0;
		f = 0;
		scale = 1;
		if (*s == '.') {
			s++;
			start = s;
			leading_fraction(&s, &f, &scale);
			post = s != start;
		}
		if (!pre && !post)
			return DURATION_SYNTAX;
		us = s;
		while (*s != '\0' && *s != '.' && (*s < '0' || *s > '9'))
			s++;
		ulen = (size_t)(s - us);
		if (ulen == 0)
			return DURATION_NO_UNIT;
		u = NULL;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			if (strlen(units[i].name) == ulen &&
			    memcmp(units[i].name, us, ulen) == 0)
				u = &units[i];
		}
		if (u == NULL)
			return DURATION_BAD_UNIT;
		uns = u->ns;
		if (v > NS_LIMIT / uns)
			return DURATION_RANGE;
		v *= uns;
		if (f > 0) {
			v += (uint64_t)((double)f * ((double)uns / scale));
			if (v > NS_LIMIT)
				return DURATION_RANGE;
		}
		d += v;
		if (d > NS_LIMIT)
			return DURATION_RANGE;
	}
	if (!neg && d > NS_LIMIT - 1)
		return DURATION_RANGE;
	/* d <= 2^63 here; divide before negating so -2^63 stays exact. */
	*ms = neg ? -(int64_t)(d / NS_PER_MS) : (int64_t)(d / NS_PER_MS);
	return DURATION_OK;
}

int
duration_format(int64_t ms, char *buf, size_t size)
{
	uint64_t	 u, secs, frac;
	char		 fs[8];
	int		 n, i;
	const char	*sign;

	sign = ms < 0 ? "-" : "";
	u = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
	if (u == 0)
		n = snprintf(buf, size, "0s");
	else if (u < 1000)
		n = snprintf(buf, size, "%s%llums", sign,
		    (unsigned long long)u);
	else {
		secs = u / 1000;
		frac = u % 1000;
		fs[0] = '\0';
		if (frac != 0) {
			(void)snprintf(fs, sizeof(fs), ".%03llu",
			    (unsigned long long)frac);
			for (i = 3; fs[i] == '0'; i--)
				fs[i] = '\0';
		}
		if (secs >= 3600)
			n = snprintf(buf, size, "%s%lluh%llum%llu%ss", sign,
			    (unsigned long long)(secs / 3600),
			    (unsigned long long)(secs / 60 % 60),
			    (unsigned long long)(secs % 60), fs);
		else if (secs >= 60)
			n = snprintf(buf, size, "%s%llum%llu%ss", sign,
			    (unsigned long long)(secs / 60),
			    (unsigned long long)(secs % 60), fs);
		else
			n = snprintf(buf, size, "%s%llu%ss", sign,
			    (unsigned long long)secs, fs);
	}
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}
