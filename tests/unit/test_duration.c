/*
 * Unit tests for core/duration: Go's time.ParseDuration syntax as SPIRE
 * writes TTLs and intervals, and Go's Duration.String form back.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/duration.h"

struct good {
	const char	*in;
	int64_t		 ms;
};

static const struct good good[] = {
	{ "0", 0 },
	{ "+0", 0 },
	{ "-0", 0 },
	{ "0s", 0 },
	{ "24h", DURATION_HOURS(24) },
	{ "5m", DURATION_MINUTES(5) },
	{ "30s", DURATION_SECONDS(30) },
	{ "1h30m", DURATION_MINUTES(90) },
	{ "1.5h", DURATION_MINUTES(90) },
	{ "300ms", 300 },
	{ "2h45m10s", DURATION_SECONDS(2 * 3600 + 45 * 60 + 10) },
	{ "720h", DURATION_HOURS(720) },
	{ ".5s", 500 },
	{ "5.s", 5000 },
	{ "1.0001s", 1000 },		/* below a millisecond: truncated */
	{ "1500us", 1 },
	{ "1500\xc2\xb5s", 1 },		/* micro sign */
	{ "1500\xce\xbcs", 1 },		/* Greek mu */
	{ "999999ns", 0 },
	{ "1000000ns", 1 },
	{ "-1h", -DURATION_HOURS(1) },
	{ "+2m", DURATION_MINUTES(2) },
	{ "1h1h", DURATION_HOURS(2) },	/* Go adds repeated units */
	{ "0.000000001h", 0 },
	{ "9223372036854775807ns", 9223372036854LL },
	{ "2562047h", DURATION_HOURS(2562047) },
	{ "-9223372036854775808ns", -9223372036854LL },
	{ "1.000000000000000000000001s", 1000 },	/* long fraction */
};

static void
test_parse_good(void **state)
{
	int64_t		 ms;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ms = -12345;
		if (duration_parse(good[i].in, &ms) != DURATION_OK ||
		    ms != good[i].ms)
			print_error("\"%s\": got %lld\n", good[i].in,
			    (long long)ms);
		assert_int_equal(duration_parse(good[i].in, &ms), DURATION_OK);
		assert_int_equal(ms, good[i].ms);
	}
}

struct bad {
	const char		*in;
	enum duration_status	 st;
};

static const struct bad bad[] = {
	{ "", DURATION_EMPTY },
	{ "-", DURATION_SYNTAX },
	{ "+", DURATION_SYNTAX },
	{ "30", DURATION_NO_UNIT },	/* only 0 may lack a unit */
	{ "00", DURATION_NO_UNIT },
	{ "1h30", DURATION_NO_UNIT },
	{ "5d", DURATION_BAD_UNIT },	/* Go has no days */
	{ "1H", DURATION_BAD_UNIT },	/* units are case-sensitive */
	{ "1 h", DURATION_BAD_UNIT },
	{ "1h ", DURATION_BAD_UNIT },
	{ " 1h", DURATION_SYNTAX },
	{ "h", DURATION_SYNTAX },
	{ ".s", DURATION_SYNTAX },
	{ "1.2.3s", DURATION_NO_UNIT },
	{ "--1s", DURATION_SYNTAX },
	{ "1e3s", DURATION_BAD_UNIT },
	{ "9223372036854775808ns", DURATION_RANGE },
	{ "2562048h", DURATION_RANGE },
	{ "99999999999999999999s", DURATION_RANGE },
	{ "3000000h", DURATION_RANGE },
	{ "2562047h47m17s", DURATION_RANGE },
};

static void
test_parse_bad(void **state)
{
	int64_t		 ms;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ms = 77;
		if (duration_parse(bad[i].in, &ms) != bad[i].st)
			print_error("\"%s\": got %d\n", bad[i].in,
			    (int)duration_parse(bad[i].in, &ms));
		assert_int_equal(duration_parse(bad[i].in, &ms), bad[i].st);
		assert_int_equal(ms, 77);	/* untouched */
	}
}

struct fmt {
	int64_t		 ms;
	const char	*out;
};

/* What Go's time.Duration.String prints for the same values. */
static const struct fmt fmts[] = {
	{ 0, "0s" },
	{ 1, "1ms" },
	{ 300, "300ms" },
	{ 1000, "1s" },
	{ 1500, "1.5s" },
	{ 1001, "1.001s" },
	{ 1010, "1.01s" },
	{ DURATION_MINUTES(1), "1m0s" },
	{ DURATION_SECONDS(90), "1m30s" },
	{ DURATION_HOURS(1), "1h0m0s" },
	{ DURATION_HOURS(24), "24h0m0s" },
	{ DURATION_SECONDS(2 * 3600 + 45 * 60 + 10), "2h45m10s" },
	{ DURATION_HOURS(1) + 5, "1h0m0.005s" },
	{ -DURATION_MINUTES(5), "-5m0s" },
	{ -250, "-250ms" },
	{ INT64_MIN, "-2562047788015h12m55.808s" },
};

static void
test_format(void **state)
{
	char	 buf[DURATION_FMT_MAX];
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		assert_int_equal(duration_format(fmts[i].ms, buf, sizeof(buf)),
		    (int)strlen(fmts[i].out));
		assert_string_equal(buf, fmts[i].out);
	}
}

static void
test_format_short_buffer(void **state)
{
	char	 buf[4];

	(void)state;
	assert_int_equal(duration_format(DURATION_HOURS(1), buf,
	    sizeof(buf)), -1);
	assert_int_equal(duration_format(1000, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "1s");
}

static void
test_round_trip(void **state)
{
	static const int64_t	 v[] = { 1, 999, 1000, 61001,
	    DURATION_HOURS(25) + 7, -DURATION_SECONDS(3601) };
	char			 buf[DURATION_FMT_MAX];
	int64_t			 ms;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_true(duration_format(v[i], buf, sizeof(buf)) > 0);
		assert_int_equal(duration_parse(buf, &ms), DURATION_OK);
		assert_int_equal(ms, v[i]);
	}
}

static void
test_strerror(void **state)
{
	(void)state;
	assert_non_null(strstr(duration_strerror(DURATION_NO_UNIT),
	    "missing unit"));
	assert_non_null(strstr(duration_strerror(DURATION_BAD_UNIT),
	    "unknown unit"));
	assert_non_null(strstr(duration_strerror(DURATION_RANGE),
	    "out of range"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_short_buffer),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
