/*
 * Unit tests for rpc/grpc: the framing parser fed byte by byte, the
 * grpc-timeout table, grpc-message percent-encoding, status details.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <pb_decode.h>

#include "core/buf.h"
#include "core/limits.h"
#include "google/rpc/status.pb.h"
#include "rpc/grpc.h"

/* Two messages back to back: "hi" and the empty message. */
static const uint8_t two[] = { 0, 0, 0, 0, 2, 'h', 'i', 0, 0, 0, 0, 0 };

static void
test_frame_byte_by_byte(void **state)
{
	struct grpc_frame	 f;
	size_t			 n;

	(void)state;
	for (n = 0; n < 7; n++)
		assert_int_equal(grpc_frame_parse(two, n, 100, &f),
		    GRPC_FRAME_MORE);
	assert_int_equal(grpc_frame_parse(two, 7, 100, &f),
	    GRPC_FRAME_MESSAGE);
	assert_int_equal(f.len, 2);
	assert_int_equal(f.need, 7);
	assert_memory_equal(f.msg, "hi", 2);
	/* The next frame starts at 7; feed it byte by byte too. */
	for (n = 0; n < 5; n++)
		assert_int_equal(grpc_frame_parse(two + 7, n, 100, &f),
		    GRPC_FRAME_MORE);
	assert_int_equal(grpc_frame_parse(two + 7, 5, 100, &f),
	    GRPC_FRAME_MESSAGE);
	assert_int_equal(f.len, 0);
	assert_int_equal(f.need, 5);
}

static void
test_frame_more_says_need(void **state)
{
	struct grpc_frame	 f;

	(void)state;
	assert_int_equal(grpc_frame_parse(two, 5, 100, &f), GRPC_FRAME_MORE);
	assert_int_equal(f.need, 7);
	assert_int_equal(f.len, 2);
}

struct bad_frame {
	const char		*name;
	uint8_t			 bytes[5];
	size_t			 max;
	enum grpc_frame_result	 want;
};

static const struct bad_frame bad_frames[] = {
	{ "flag 2", { 2, 0, 0, 0, 1 }, 100, GRPC_FRAME_INVALID },
	{ "flag 0xff", { 0xff, 0, 0, 0, 0 }, 100, GRPC_FRAME_INVALID },
	{ "compressed", { 1, 0, 0, 0, 1 }, 100, GRPC_FRAME_COMPRESSED },
	{ "one over max", { 0, 0, 0, 0, 101 }, 100, GRPC_FRAME_TOOBIG },
	{ "4 GiB - 1", { 0, 0xff, 0xff, 0xff, 0xff }, RPC_MSG_MAX_DEFAULT,
	    GRPC_FRAME_TOOBIG },
	{ "4 MiB + 1", { 0, 0, 0x40, 0, 1 }, RPC_MSG_MAX_DEFAULT,
	    GRPC_FRAME_TOOBIG },
};

static void
test_frame_malformed_table(void **state)
{
	struct grpc_frame	 f;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(bad_frames) / sizeof(bad_frames[0]); i++) {
		if (grpc_frame_parse(bad_frames[i].bytes, 5,
		    bad_frames[i].max, &f) != bad_frames[i].want)
			fail_msg("case %s", bad_frames[i].name);
		/* Judged on the prefix alone: no body is ever awaited. */
		assert_null(f.msg);
	}
}

static void
test_frame_exactly_max(void **state)
{
	static const uint8_t	 p[] = { 0, 0, 0x40, 0, 0 };
	struct grpc_frame	 f;

	(void)state;
	assert_int_equal(grpc_frame_parse(p, 5, RPC_MSG_MAX_DEFAULT, &f),
	    GRPC_FRAME_MORE);
	assert_int_equal(f.need, 5 + RPC_MSG_MAX_DEFAULT);
}

static void
test_frame_prefix(void **state)
{
	uint8_t	 p[5];

	(void)state;
	grpc_frame_prefix(p, 0x01020304);
	assert_int_equal(p[0], 0);
	assert_int_equal(p[1], 1);
	assert_int_equal(p[4], 4);
}

struct tmo {
	const char	*in;
	int		 ok;
	uint64_t	 ns;
};

static const struct tmo timeouts[] = {
	{ "1H", 1, 3600000000000ULL },
	{ "2M", 1, 120000000000ULL },
	{ "3S", 1, 3000000000ULL },
	{ "250m", 1, 250000000ULL },
	{ "7u", 1, 7000ULL },
	{ "9n", 1, 9ULL },
	{ "0n", 1, 0ULL },
	{ "99999999n", 1, 99999999ULL },
	{ "00000001S", 1, 1000000000ULL },
	/* Over the cap: clamped, not refused. */
	{ "99999999H", 1, (uint64_t)RPC_TIMEOUT_MAX_SEC * 1000000000ULL },
	{ "", 0, 0 },
	{ "S", 0, 0 },
	{ "1", 0, 0 },
	{ "1s", 0, 0 },
	{ "1h", 0, 0 },
	{ "-1S", 0, 0 },
	{ "1.5S", 0, 0 },
	{ " 1S", 0, 0 },
	{ "123456789S", 0, 0 },
	{ "1SS", 0, 0 },
	{ "1x", 0, 0 },
};

static void
test_timeout_table(void **state)
{
	uint64_t	 ns;
	size_t		 i;
	int		 r;

	(void)state;
	for (i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
		ns = 12345;
		r = grpc_timeout_parse(timeouts[i].in,
		    strlen(timeouts[i].in), &ns);
		if ((r == 0) != timeouts[i].ok)
			fail_msg("case \"%s\": result %d", timeouts[i].in, r);
		if (r == 0 && ns != timeouts[i].ns)
			fail_msg("case \"%s\": %llu ns", timeouts[i].in,
			    (unsigned long long)ns);
	}
}

static void
test_timeout_format(void **state)
{
	char		 out[16];
	uint64_t	 ns;

	(void)state;
	assert_int_equal(grpc_timeout_format(5, out, sizeof(out)), 0);
	assert_string_equal(out, "5n");
	assert_int_equal(grpc_timeout_format(1500000000ULL, out,
	    sizeof(out)), 0);
	assert_string_equal(out, "1500000u");
	/* 1000 s does not fit 8 digits in u: milliseconds. */
	assert_int_equal(grpc_timeout_format(1000000000000ULL, out,
	    sizeof(out)), 0);
	assert_string_equal(out, "1000000m");
	/* 100.000000001 s needs 9 digits in u: m, rounded up. */
	assert_int_equal(grpc_timeout_format(100000000001ULL, out,
	    sizeof(out)), 0);
	assert_string_equal(out, "100001m");
	assert_int_equal(grpc_timeout_parse(out, strlen(out), &ns), 0);
	assert_true(ns >= 100000000001ULL);
	assert_int_equal(grpc_timeout_format(100000000001ULL, out, 4), -1);
}

static void
test_timeout_round_trip(void **state)
{
	static const uint64_t	 v[] = { 1, 999, 123456789, 99999999000ULL,
	    3600ULL * 1000000000ULL, 86400ULL * 1000000000ULL };
	char			 out[16];
	uint64_t		 ns;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(grpc_timeout_format(v[i], out, sizeof(out)),
		    0);
		assert_true(strlen(out) <= 9);
		assert_int_equal(grpc_timeout_parse(out, strlen(out), &ns),
		    0);
		assert_true(ns >= v[i]);
	}
}

static void
test_message_encode(void **state)
{
	char	 out[64];

	(void)state;
	assert_int_equal(grpc_message_encode("plain text", 10, out,
	    sizeof(out)), 0);
	assert_string_equal(out, "plain text");
	assert_int_equal(grpc_message_encode("50%", 3, out, sizeof(out)), 0);
	assert_string_equal(out, "50%25");
	assert_int_equal(grpc_message_encode("a\nb\x7f\xc3\xa9", 6, out,
	    sizeof(out)), 0);
	assert_string_equal(out, "a%0Ab%7F%C3%A9");
	/* Room for exactly "ab" and the NUL, not for a third byte. */
	assert_int_equal(grpc_message_encode("ab", 2, out, 3), 0);
	assert_int_equal(grpc_message_encode("abc", 3, out, 3), -1);
	assert_int_equal(grpc_message_encode("%", 1, out, 3), -1);
}

struct pct {
	const char	*in;
	const char	*out;
};

static const struct pct decodes[] = {
	{ "a%0Ab", "a\nb" },
	{ "%C3%A9t%C3%A9", "\xc3\xa9t\xc3\xa9" },
	{ "%c3%a9", "\xc3\xa9" },
	/* Malformed escapes come through as they are. */
	{ "100%", "100%" },
	{ "%4", "%4" },
	{ "%zz", "%zz" },
	{ "%%41", "%A" },
	{ "", "" },
};

static void
test_message_decode_table(void **state)
{
	char	 out[64];
	size_t	 i, n;

	(void)state;
	for (i = 0; i < sizeof(decodes) / sizeof(decodes[0]); i++) {
		n = grpc_message_decode(decodes[i].in, strlen(decodes[i].in),
		    out, sizeof(out));
		if (strcmp(out, decodes[i].out) != 0 ||
		    n != strlen(decodes[i].out))
			fail_msg("case \"%s\": \"%s\"", decodes[i].in, out);
	}
	n = grpc_message_decode("abcdef", 6, out, 4);
	assert_int_equal(n, 3);
	assert_string_equal(out, "abc");
}

static void
test_details_round_trip(void **state)
{
	static const uint8_t	 v1[] = { 0x08, 0x2a };
	struct grpc_detail	 d[2] = {
		{ "type.googleapis.com/google.rpc.ErrorInfo", v1, sizeof(v1) },
		{ "type.example/empty", NULL, 0 },
	};
	google_rpc_Status	 st;
	struct buf		 b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(grpc_details_encode(GRPC_STATUS_NOT_FOUND,
	    "no such entry", d, 2, &b), 0);
	assert_int_equal(grpc_details_decode(buf_ptr(&b), b.len, &st), 0);
	assert_int_equal(st.code, GRPC_STATUS_NOT_FOUND);
	assert_string_equal(st.message, "no such entry");
	assert_int_equal(st.details_count, 2);
	assert_string_equal(st.details[0].type_url, d[0].type_url);
	assert_int_equal(st.details[0].value->size, 2);
	assert_memory_equal(st.details[0].value->bytes, v1, 2);
	assert_string_equal(st.details[1].type_url, d[1].type_url);
	assert_null(st.details[1].value);
	pb_release(google_rpc_Status_fields, &st);
	buf_cleanup(&b);
}

static void
test_details_known_bytes(void **state)
{
	/* code 3, message "x", one Any {type_url "t", value "v"}. */
	static const uint8_t	 want[] = { 0x08, 0x03, 0x12, 0x01, 'x',
	    0x1a, 0x06, 0x0a, 0x01, 't', 0x12, 0x01, 'v' };
	struct grpc_detail	 d = { "t", (const uint8_t *)"v", 1 };
	struct buf		 b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(grpc_details_encode(3, "x", &d, 1, &b), 0);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(buf_ptr(&b), want, sizeof(want));
	buf_cleanup(&b);
}

static void
test_details_limit(void **state)
{
	uint8_t			 big[600];
	struct grpc_detail	 d = { "t", big, sizeof(big) };
	struct buf		 b;

	(void)state;
	memset(big, 'a', sizeof(big));
	buf_init(&b, 512);
	assert_int_equal(grpc_details_encode(3, "x", &d, 1, &b), -1);
	buf_cleanup(&b);
}

static void
test_details_decode_garbage(void **state)
{
	static const uint8_t	 bad[][4] = {
		{ 0x12, 0x05, 'a', 'b' },	/* string runs past the end */
		{ 0x1a, 0x7f, 0x0a, 0x00 },	/* Any runs past the end */
		{ 0x0f, 0x00, 0x00, 0x00 },	/* wire type 7 */
	};
	google_rpc_Status	 st;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (grpc_details_decode(bad[i], sizeof(bad[i]), &st) != -1)
			fail_msg("case %zu decoded", i);
}

static void
test_status_names(void **state)
{
	(void)state;
	assert_string_equal(grpc_status_name(GRPC_STATUS_OK), "OK");
	assert_string_equal(grpc_status_name(GRPC_STATUS_DEADLINE_EXCEEDED),
	    "DEADLINE_EXCEEDED");
	assert_string_equal(grpc_status_name(16), "UNAUTHENTICATED");
	assert_string_equal(grpc_status_name(17), "UNKNOWN_CODE");
	assert_string_equal(grpc_status_name(-1), "UNKNOWN_CODE");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_byte_by_byte),
		cmocka_unit_test(test_frame_more_says_need),
		cmocka_unit_test(test_frame_malformed_table),
		cmocka_unit_test(test_frame_exactly_max),
		cmocka_unit_test(test_frame_prefix),
		cmocka_unit_test(test_timeout_table),
		cmocka_unit_test(test_timeout_format),
		cmocka_unit_test(test_timeout_round_trip),
		cmocka_unit_test(test_message_encode),
		cmocka_unit_test(test_message_decode_table),
		cmocka_unit_test(test_details_round_trip),
		cmocka_unit_test(test_details_known_bytes),
		cmocka_unit_test(test_details_limit),
		cmocka_unit_test(test_details_decode_garbage),
		cmocka_unit_test(test_status_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
