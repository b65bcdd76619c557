/* Unit tests for core/base64: RFC 4648 vectors and strict decoding. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/base64.h"

struct vector {
	const char	*plain;
	const char	*std;
	const char	*url;
};

/* RFC 4648 section 10, with the URL form unpadded. */
static const struct vector vectors[] = {
	{ "", "", "" },
	{ "f", "Zg==", "Zg" },
	{ "fo", "Zm8=", "Zm8" },
	{ "foo", "Zm9v", "Zm9v" },
	{ "foob", "Zm9vYg==", "Zm9vYg" },
	{ "fooba", "Zm9vYmE=", "Zm9vYmE" },
	{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
	{ "\xfb\xff", "+/8=", "-_8" },
};

static void
test_encode_vectors(void **state)
{
	char	 out[64];
	size_t	 i, n;

	(void)state;
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		n = strlen(vectors[i].plain);
		assert_int_equal(base64_encode(BASE64_STD, vectors[i].plain, n,
		    out, sizeof(out)), 0);
		assert_string_equal(out, vectors[i].std);
		assert_int_equal(base64_encoded_len(BASE64_STD, n),
		    strlen(vectors[i].std));
		assert_int_equal(base64_encode(BASE64_URL, vectors[i].plain, n,
		    out, sizeof(out)), 0);
		assert_string_equal(out, vectors[i].url);
		assert_int_equal(base64_encoded_len(BASE64_URL, n),
		    strlen(vectors[i].url));
	}
}

static void
test_decode_vectors(void **state)
{
	unsigned char	 out[64];
	size_t		 i, len;

	(void)state;
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		assert_int_equal(base64_decode(BASE64_STD, vectors[i].std,
		    strlen(vectors[i].std), out, sizeof(out), &len), 0);
		assert_int_equal(len, strlen(vectors[i].plain));
		assert_memory_equal(out, vectors[i].plain, len);
		assert_int_equal(base64_decode(BASE64_URL, vectors[i].url,
		    strlen(vectors[i].url), out, sizeof(out), &len), 0);
		assert_int_equal(len, strlen(vectors[i].plain));
		assert_memory_equal(out, vectors[i].plain, len);
	}
}

static void
test_decode_unpadded_std(void **state)
{
	unsigned char	 out[8];
	size_t		 len;

	(void)state;
	assert_int_equal(base64_decode(BASE64_STD, "Zm9vYg", 6, out,
	    sizeof(out), &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(out, "foob", 4);
}

static void
test_decode_rejects(void **state)
{
	static const struct {
		enum base64_alphabet	 a;
		const char		*in;
	} bad[] = {
		{ BASE64_STD, "Zm9v!" },	/* byte outside the alphabet */
		{ BASE64_STD, "Z" },		/* one char cannot be a byte */
		{ BASE64_STD, "Zm9=" },		/* padding in the wrong place */
		{ BASE64_STD, "Zh==" },		/* non-zero trailing bits */
		{ BASE64_STD, "Zm8=a" },	/* data after padding */
		{ BASE64_STD, "Zg===" },	/* too much padding */
		{ BASE64_URL, "Zg==" },		/* URL form has no padding */
		{ BASE64_URL, "+/8" },		/* std characters in URL */
		{ BASE64_STD, "-_8=" },		/* URL characters in std */
		{ BASE64_STD, "Zm 9v" },	/* white space */
	};
	unsigned char	 out[16];
	size_t		 i, len;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(base64_decode(bad[i].a, bad[i].in,
		    strlen(bad[i].in), out, sizeof(out), &len), -1);
	}
}

static void
test_short_output(void **state)
{
	unsigned char	 out[2];
	char		 enc[4];
	size_t		 len;

	(void)state;
	assert_int_equal(base64_decode(BASE64_STD, "Zm9v", 4, out,
	    sizeof(out), &len), -1);
	assert_int_equal(base64_encode(BASE64_STD, "foo", 3, enc,
	    sizeof(enc)), -1);
}

static void
test_round_trip_all_bytes(void **state)
{
	unsigned char	 in[256], back[256];
	char		 enc[400];
	size_t		 i, n, len;

	(void)state;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)i;
	for (n = 0; n <= sizeof(in); n += 37) {
		assert_int_equal(base64_encode(BASE64_URL, in, n, enc,
		    sizeof(enc)), 0);
		assert_int_equal(base64_decode(BASE64_URL, enc, strlen(enc),
		    back, sizeof(back), &len), 0);
		assert_int_equal(len, n);
		assert_memory_equal(back, in, n);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_vectors),
		cmocka_unit_test(test_decode_vectors),
		cmocka_unit_test(test_decode_unpadded_std),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_short_output),
		cmocka_unit_test(test_round_trip_all_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
