/*
 * Unit tests for pki/der's writer: lengths, integers and times, read
 * back with the strict reader (whose own tables are in test_x509).
 */
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
	struct der	 r, c;
	uint8_t		*out, big[300];
	int		 tag;
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
	der_init(&r, out, len);
	assert_int_equal(der_get(&r, DER_SEQUENCE, &c, NULL), 0);
	assert_int_equal(r.len, 0);
	assert_int_equal(der_get_any(&c, &tag, &r, NULL), 0);
	assert_int_equal(r.len, 2);
	assert_int_equal(der_get_any(&c, &tag, &r, NULL), 0);
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
	struct der	 r, c;
	uint8_t		*out;
	size_t		 len;
	long long	 t;

	der_w_init(&w, 64);
	der_w_time(&w, 1764806400);	/* 2025-12-04T00:00:00Z */
	der_w_time(&w, 2524608000);	/* 2050-01-01T00:00:00Z */
	assert_int_equal(der_w_finish(&w, &out, &len), 0);
	assert_memory_equal(out, "\x17\x0d" "251204000000Z", 15);
	assert_memory_equal(out + 15, "\x18\x0f" "20500101000000Z", 17);
	der_init(&r, out, len);
	assert_int_equal(der_get(&r, DER_UTC_TIME, &c, NULL), 0);
	assert_int_equal(der_time(DER_UTC_TIME, &c, &t), 0);
	assert_int_equal(t, 1764806400);
	assert_int_equal(der_get(&r, DER_GENERALIZED_TIME, &c, NULL), 0);
	assert_int_equal(der_time(DER_GENERALIZED_TIME, &c, &t), 0);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_and_long_lengths),
		cmocka_unit_test(test_uint_minimal),
		cmocka_unit_test(test_time_forms),
		cmocka_unit_test(test_writer_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
