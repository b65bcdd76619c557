/* Unit tests for pki/pem: bundles of certificates, keys, bad input. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "pki/pem.h"
#include "pki/x509.h"
#include "testcerts.h"

static struct testchain	 ch;

static int
setup(void **state)
{
	(void)state;
	return testchain_make(&ch, "spiffe://example.org/pem", 0);
}

/* Appends one encoded block to text. */
static void
append(char *text, size_t size, const char *label, const uint8_t *der,
    size_t len)
{
	char	*s;
	size_t	 n;

	assert_int_equal(pem_encode(label, der, len, &s, &n), PEM_OK);
	assert_int_equal(strlen(s), n);
	assert_true(strlen(text) + n < size);
	memcpy(text + strlen(text), s, n + 1);
	mem_free_wipe(s, n);
}

static void
test_round_trip_bundle(void **state)
{
	static char		 text[32768];
	struct pem_block	*b;
	struct x509_cert	 c;
	size_t			 n;

	(void)state;
	text[0] = '\0';
	snprintf(text, sizeof(text), "Bundle for example.org\r\n\n");
	append(text, sizeof(text), PEM_LABEL_CERTIFICATE, ch.leaf.der,
	    ch.leaf.der_len);
	strncat(text, "between blocks\n", sizeof(text) - strlen(text) - 1);
	append(text, sizeof(text), PEM_LABEL_PKCS8, ch.leaf.key,
	    ch.leaf.key_len);
	append(text, sizeof(text), PEM_LABEL_CERTIFICATE, ch.inter.der,
	    ch.inter.der_len);
	append(text, sizeof(text), PEM_LABEL_EC_KEY, ch.leaf.sec1,
	    ch.leaf.sec1_len);

	assert_int_equal(pem_decode(text, strlen(text),
	    PEM_LABEL_CERTIFICATE, &b, &n), PEM_OK);
	assert_int_equal(n, 2);
	assert_string_equal(b[0].label, "CERTIFICATE");
	assert_int_equal(b[0].len, ch.leaf.der_len);
	assert_memory_equal(b[0].der, ch.leaf.der, b[0].len);
	assert_int_equal(b[1].len, ch.inter.der_len);
	assert_memory_equal(b[1].der, ch.inter.der, b[1].len);
	assert_int_equal(x509_parse(b[1].der, b[1].len, &c), X509_OK);
	pem_blocks_free(b, n);

	assert_int_equal(pem_decode(text, strlen(text), NULL, &b, &n),
	    PEM_OK);
	assert_int_equal(n, 4);
	assert_string_equal(b[1].label, "PRIVATE KEY");
	assert_memory_equal(b[1].der, ch.leaf.key, ch.leaf.key_len);
	assert_string_equal(b[3].label, "EC PRIVATE KEY");
	assert_memory_equal(b[3].der, ch.leaf.sec1, ch.leaf.sec1_len);
	pem_blocks_free(b, n);

	assert_int_equal(pem_decode(text, strlen(text), "RSA PRIVATE KEY",
	    &b, &n), PEM_ERR_NONE);
	assert_null(b);
	assert_int_equal(n, 0);
}

static void
test_encode_shape(void **state)
{
	static const uint8_t	 der[100] = { 0x30 };
	char			*s, *line;
	size_t			 n, lines = 0;

	(void)state;
	assert_int_equal(pem_encode("CERTIFICATE", der, sizeof(der), &s, &n),
	    PEM_OK);
	assert_int_equal(strncmp(s, "-----BEGIN CERTIFICATE-----\n", 28), 0);
	assert_string_equal(s + n - 26, "-----END CERTIFICATE-----\n");
	/* 100 bytes are 136 characters: one line of 64, 64, then 8. */
	for (line = s; (line = strchr(line, '\n')) != NULL; line++)
		lines++;
	assert_int_equal(lines, 5);
	assert_int_equal(strchr(s + 28, '\n') - (s + 28), 64);
	mem_free(s);
}

struct bad_pem {
	const char	*name;
	const char	*text;
	enum pem_err	 err;
};

#define BODY	"MAMCAQA=\n"	/* SEQUENCE { INTEGER 0 } */

static const struct bad_pem bad_pems[] = {
	{ "nothing", "", PEM_ERR_NONE },
	{ "only text", "hello\nworld\n", PEM_ERR_NONE },
	{ "no end", "-----BEGIN CERTIFICATE-----\n" BODY,
	    PEM_ERR_UNTERMINATED },
	{ "other end", "-----BEGIN CERTIFICATE-----\n" BODY
	    "-----END PRIVATE KEY-----\n", PEM_ERR_END_MISMATCH },
	{ "headers", "-----BEGIN EC PRIVATE KEY-----\n"
	    "Proc-Type: 4,ENCRYPTED\n\n" BODY "-----END EC PRIVATE KEY-----\n",
	    PEM_ERR_HEADERS },
	{ "bad base64", "-----BEGIN CERTIFICATE-----\nMA*CAQA=\n"
	    "-----END CERTIFICATE-----\n", PEM_ERR_BASE64 },
	{ "empty body", "-----BEGIN CERTIFICATE-----\n"
	    "-----END CERTIFICATE-----\n", PEM_ERR_BASE64 },
	{ "begin without dashes", "-----BEGIN CERTIFICATE\n" BODY
	    "-----END CERTIFICATE-----\n", PEM_ERR_LABEL },
	{ "empty label", "-----BEGIN -----\n" BODY "-----END -----\n",
	    PEM_ERR_LABEL },
	{ "long label", "-----BEGIN AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-----\n"
	    BODY "-----END AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-----\n",
	    PEM_ERR_LABEL },
	{ "good after bad", "-----BEGIN X-----\n" BODY "-----END Y-----\n"
	    "-----BEGIN CERTIFICATE-----\n" BODY
	    "-----END CERTIFICATE-----\n", PEM_ERR_END_MISMATCH },
	{ "good, crlf and blanks", "junk\r\n-----BEGIN CERTIFICATE----- \r\n"
	    "MAM\r\n CAQA=\r\n-----END CERTIFICATE-----\r\n", PEM_OK },
	{ "good, no final newline", "-----BEGIN CERTIFICATE-----\n" BODY
	    "-----END CERTIFICATE-----", PEM_OK },
};

static void
test_bad_pems(void **state)
{
	struct pem_block	*b;
	enum pem_err		 err;
	size_t			 i, n;

	(void)state;
	for (i = 0; i < sizeof(bad_pems) / sizeof(bad_pems[0]); i++) {
		err = pem_decode(bad_pems[i].text, strlen(bad_pems[i].text),
		    NULL, &b, &n);
		if (err != bad_pems[i].err)
			fail_msg("%s: got \"%s\", want \"%s\"",
			    bad_pems[i].name, pem_strerror(err),
			    pem_strerror(bad_pems[i].err));
		if (err == PEM_OK) {
			assert_int_equal(n, 1);
			assert_int_equal(b[0].len, 5);
			assert_memory_equal(b[0].der, "\x30\x03\x02\x01\x00",
			    5);
		} else {
			assert_null(b);
			assert_int_equal(n, 0);
		}
		pem_blocks_free(b, n);
	}
}

static void
test_too_many_blocks(void **state)
{
	static char		 text[(PEM_BLOCKS_MAX + 1) * 64];
	static const char	 one[] = "-----BEGIN CERTIFICATE-----\n" BODY
	    "-----END CERTIFICATE-----\n";
	struct pem_block	*b;
	size_t			 i, n;

	(void)state;
	text[0] = '\0';
	for (i = 0; i < PEM_BLOCKS_MAX; i++)
		strncat(text, one, sizeof(text) - strlen(text) - 1);
	assert_int_equal(pem_decode(text, strlen(text), NULL, &b, &n),
	    PEM_OK);
	assert_int_equal(n, PEM_BLOCKS_MAX);
	pem_blocks_free(b, n);
	strncat(text, one, sizeof(text) - strlen(text) - 1);
	assert_int_equal(pem_decode(text, strlen(text), NULL, &b, &n),
	    PEM_ERR_TOO_MANY);
	assert_null(b);
}

/* Running out of memory at any allocation loses nothing. */
static void
test_alloc_failures(void **state)
{
	static char		 text[8192];
	struct pem_block	*b;
	enum pem_err		 err;
	unsigned long		 k;
	size_t			 n;

	(void)state;
	text[0] = '\0';
	append(text, sizeof(text), PEM_LABEL_CERTIFICATE, ch.leaf.der,
	    ch.leaf.der_len);
	append(text, sizeof(text), PEM_LABEL_CERTIFICATE, ch.inter.der,
	    ch.inter.der_len);
	for (k = 1; k < 32; k++) {
		mem_fail_after(k);
		err = pem_decode(text, strlen(text), NULL, &b, &n);
		mem_fail_after(0);
		if (err == PEM_OK) {
			assert_int_equal(n, 2);
			pem_blocks_free(b, n);
			break;
		}
		assert_int_equal(err, PEM_ERR_NOMEM);
		assert_null(b);
	}
	assert_true(k > 1 && k < 32);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_bundle),
		cmocka_unit_test(test_encode_shape),
		cmocka_unit_test(test_bad_pems),
		cmocka_unit_test(test_too_many_blocks),
		cmocka_unit_test(test_alloc_failures),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
