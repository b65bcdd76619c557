/* Unit tests for pki/der: the writer's lengths and the reader's checks. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/mem.h"
#include "pki/der.h"

static void
test_short_and_long_lengths(void **state)
{
	struct der_w	 w;
	struct der_r	 r, c;
	uint8_t		*out, big[300], tag;
	size_t		 len;

	memset(big, 0xab, sizeof(big));
	der_w_init(&w, 4096);
	der_w_begin(&w, DER_SEQUENCE);
	der_w_tlv(&w, DER_OCTET_STRING, "hi", 2);
	der_w_tlv(&w, DER_OCTET_STRING, big, sizeof(big));
	der_w_end(&w);
	assert_int_equal(der_w_finish(&w, &out, &len), 0);
	/* 30 82 01 32 | 04 02 'h' 'i' | 04 82 01 2c ... */
	assert_int_equal(len, 4 + 4 + 4 + 300);
	assert_int_equal(out[0], 0x30);
	assert_int_equal(out[1], 0x82);
	assert_int_equal(out[2], 0x01);
	assert_int_equal(out[3], 0x34);
	assert_int_equal(out[8], 0x04);
	assert_int_equal(out[9], 0x82);
	der_r_init(&r, out, len);
	assert_int_equal(der_r_expect(&r, DER_SEQUENCE, &c, NULL), 0);
	assert_int_equal(r.len, 0);
	assert_int_equal(der_r_next(&c, &tag, &r, NULL), 0);
	assert_int_equal(r.len, 2);
	assert_int_equal(der_r_next(&c, &tag, &r, NULL), 0);
	assert_int_equal(r.len, 300);
	assert_memory_equal(r.p, big, 300);
	assert_int_equal(c.len, 0);
	mem_free(out);
}

static void
test_uint_minimal(void **state)
{
	struct der_w	 w;
	uint8_t		*out;
	size_t		 len;
	const uint8_t	 high[] = { 0x00, 0x00, 0x80, 0x01 };

	der_w_init(&w, 64);
	der_w_uint(&w, high, sizeof(high));
	der_w_small_uint(&w, 0);
	der_w_small_uint(&w, 2);
	assert_int_equal(der_w_finish(&w, &out, &len), 0);
	/* Leading zeros dropped, one put back for the high bit. */
	assert_int_equal(len, 5 + 3 + 3);
	assert_memory_equal(out, "\x02\x03\x00\x80\x01\x02\x01\x00\x02\x01\x02",
	    len);
	mem_free(out);
}

static void
test_time_forms(void **state)
{
	struct der_w	 w;
	struct der_r	 r;
	uint8_t		*out;
	size_t		 len;
	time_t		 t;

	der_w_init(&w, 64);
	der_w_time(&w, 1764806400);	/* 2025-12-04T00:00:00Z */
	der_w_time(&w, 2524608000);	/* 2050-01-01T00:00:00Z */
	assert_int_equal(der_w_finish(&w, &out, &len), 0);
	assert_memory_equal(out, "\x17\x0d" "251204000000Z", 15);
	assert_memory_equal(out + 15, "\x18\x0f" "20500101000000Z", 17);
	der_r_init(&r, out, len);
	assert_int_equal(der_r_time(&r, &t), 0);
	assert_int_equal(t, 1764806400);
	assert_int_equal(der_r_time(&r, &t), 0);
	assert_int_equal(t, 2524608000);
	mem_free(out);
}

static void
test_writer_limits(void **state)
{
	struct der_w	 w;
	uint8_t		*out, big[100];
	size_t		 len;
	int		 i;

	memset(big, 0, sizeof(big));
	der_w_init(&w, 50);
	der_w_tlv(&w, DER_OCTET_STRING, big, sizeof(big));
	assert_int_equal(der_w_finish(&w, &out, &len), -1);

	der_w_init(&w, 4096);
	for (i = 0; i <= DER_DEPTH_MAX; i++)
		der_w_begin(&w, DER_SEQUENCE);
	assert_int_equal(der_w_finish(&w, &out, &len), -1);

	der_w_init(&w, 4096);
	der_w_begin(&w, DER_SEQUENCE);
	assert_int_equal(der_w_finish(&w, &out, &len), -1);	/* unclosed */
}

static const struct {
	const char	*name;
	const char	*bytes;
	size_t		 len;
} bad_tlv[] = {
	{ "empty", "", 0 },
	{ "tag only", "\x30", 1 },
	{ "content past the end", "\x04\x05" "abc", 5 },
	{ "indefinite length", "\x30\x80\x00\x00", 4 },
	{ "long form for a short length", "\x04\x81\x05" "abcde", 8 },
	{ "leading zero length byte", "\x04\x82\x00\x85", 4 },
	{ "five length bytes", "\x04\x85\x01\x00\x00\x00\x00", 7 },
	{ "high tag number", "\x1f\x81\x01\x00", 4 },
	{ "long length past the end", "\x04\x82\x01\x00" "ab", 6 },
};

static void
test_reader_rejects(void **state)
{
	struct der_r	 r, c;
	uint8_t		 tag;
	size_t		 i;

	for (i = 0; i < sizeof(bad_tlv) / sizeof(bad_tlv[0]); i++) {
		der_r_init(&r, bad_tlv[i].bytes, bad_tlv[i].len);
		if (der_r_next(&r, &tag, &c, NULL) != -1)
			fail_msg("accepted: %s", bad_tlv[i].name);
	}
}

static const struct {
	const char	*name;
	const char	*bytes;
	size_t		 len;
	int		 ok;
	unsigned long	 value;
} ints[] = {
	{ "zero", "\x02\x01\x00", 3, 1, 0 },
	{ "small", "\x02\x01\x7f", 3, 1, 127 },
	{ "with sign byte", "\x02\x02\x00\x80", 4, 1, 128 },
	{ "negative", "\x02\x01\x80", 3, 0, 0 },
	{ "not minimal", "\x02\x02\x00\x01", 4, 0, 0 },
	{ "empty", "\x02\x00", 2, 0, 0 },
	{ "too big", "\x02\x09\x01\x00\x00\x00\x00\x00\x00\x00\x00", 11, 0, 0 },
	{ "not an integer", "\x04\x01\x01", 3, 0, 0 },
};

static void
test_reader_small_uint(void **state)
{
	struct der_r	 r;
	unsigned long	 v;
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		der_r_init(&r, ints[i].bytes, ints[i].len);
		rc = der_r_small_uint(&r, &v);
		if (ints[i].ok) {
			if (rc != 0 || v != ints[i].value)
				fail_msg("%s: rc %d value %lu", ints[i].name,
				    rc, v);
		} else if (rc != -1) {
			fail_msg("accepted: %s", ints[i].name);
		}
	}
}

static void
test_reader_bad_times(void **state)
{
	static const char *const bad[] = {
		"\x17\x0d" "251304000000Z",	/* month 13 */
		"\x17\x0d" "251204000000X",	/* no Z */
		"\x17\x0b" "2512040000Z",	/* no seconds */
		"\x18\x0d" "251204000000Z",	/* generalized, short */
		"\x17\x0d" "25120400a000Z",	/* not a digit */
	};
	struct der_r	 r;
	time_t		 t;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		der_r_init(&r, bad[i], 2 + (size_t)bad[i][1]);
		if (der_r_time(&r, &t) != -1)
			fail_msg("accepted time %zu", i);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_and_long_lengths),
		cmocka_unit_test(test_uint_minimal),
		cmocka_unit_test(test_time_forms),
		cmocka_unit_test(test_writer_limits),
		cmocka_unit_test(test_reader_rejects),
		cmocka_unit_test(test_reader_small_uint),
		cmocka_unit_test(test_reader_bad_times),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
