/*
 * Unit tests for spiffe/bundle and spiffe/jwk: SPIFFE bundle documents
 * and JWT bundles round-trip, and malformed documents are refused with
 * the reason go-spiffe gives.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <jansson.h>

#include "core/mem.h"
#include "hal/key.h"
#include "pki/cert.h"
#include "spiffe/bundle.h"
#include "spiffe/jwk.h"

/* A self-signed CA certificate for key, in a new buffer. */
static uint8_t *
make_ca(struct key *k, size_t *len)
{
	struct cert_template	 t;
	uint8_t			*der;

	memset(&t, 0, sizeof(t));
	assert_int_equal(cert_random_serial(&t), 0);
	t.subject = (const uint8_t *)"\x30\x00";
	t.subject_len = 2;
	t.not_before = time(NULL) - 10;
	t.not_after = time(NULL) + 3600;
	t.is_ca = 1;
	t.key_usage = CERT_KU_KEY_CERT_SIGN | CERT_KU_CRL_SIGN;
	t.uri = "spiffe://example.org";
	t.spki = key_spki(k, &t.spki_len);
	assert_int_equal(cert_sign(&t, k, NULL, 0, &der, len), 0);
	return der;
}

static void
test_spiffe_round_trip(void **state)
{
	struct bundle	 b, c;
	struct key	*k, *j;
	uint8_t		*ca;
	const uint8_t	*spki;
	size_t		 len, slen;
	enum key_err	 e;
	char		*doc, err[128];

	k = key_soft_generate(KEY_EC_P256, &e);
	j = key_soft_generate(KEY_EC_P384, &e);
	assert_non_null(k);
	assert_non_null(j);
	ca = make_ca(k, &len);
	assert_int_equal(bundle_init(&b, "example.org"), 0);
	assert_int_equal(bundle_add_x509(&b, ca, len), 1);
	assert_int_equal(bundle_add_x509(&b, ca, len), 0);	/* dedup */
	spki = key_spki(j, &slen);
	assert_int_equal(bundle_add_jwt(&b, "abc", spki, slen, 1700000000), 1);
	b.sequence = 7;
	b.refresh_hint = 300;
	doc = bundle_format_spiffe(&b, 0);
	assert_non_null(doc);
	assert_non_null(strstr(doc, "\"use\":\"x509-svid\""));
	assert_non_null(strstr(doc, "\"use\":\"jwt-svid\""));
	assert_non_null(strstr(doc, "\"crv\":\"P-384\""));
	assert_non_null(strstr(doc, "\"spiffe_sequence\":7"));
	assert_non_null(strstr(doc, "\"spiffe_refresh_hint\":300"));
	assert_int_equal(bundle_parse_spiffe(&c, "example.org", doc,
	    strlen(doc), err, sizeof(err)), 0);
	assert_int_equal(c.nx509, 1);
	assert_int_equal(c.njwt, 1);
	assert_memory_equal(c.x509[0].der, ca, len);
	assert_string_equal(c.jwt[0].kid, "abc");
	assert_int_equal(c.jwt[0].spki_len, slen);
	assert_memory_equal(c.jwt[0].spki, spki, slen);
	assert_int_equal(c.sequence, 7);
	assert_int_equal(c.refresh_hint, 300);
	bundle_cleanup(&c);
	mem_free(doc);

	/* The JWKS form has only the JWT key, with a kid and no use. */
	doc = bundle_format_jwks(&b);
	assert_non_null(doc);
	assert_null(strstr(doc, "use"));
	assert_null(strstr(doc, "x5c"));
	assert_int_equal(bundle_init(&c, "example.org"), 0);
	assert_int_equal(bundle_parse_jwks(&c, doc, strlen(doc), err,
	    sizeof(err)), 0);
	assert_int_equal(c.njwt, 1);
	assert_memory_equal(c.jwt[0].spki, spki, slen);
	bundle_cleanup(&c);
	mem_free(doc);

	assert_int_equal(bundle_copy(&c, &b), 0);
	assert_true(bundle_equal(&b, &c));
	c.sequence++;
	assert_false(bundle_equal(&b, &c));
	bundle_cleanup(&c);
	bundle_cleanup(&b);
	mem_free(ca);
	key_free(k);
	key_free(j);
}

static const struct {
	const char	*name;
	const char	*doc;
	const char	*why;
} bad_docs[] = {
	{ "not JSON", "{", "not JSON" },
	{ "no keys", "{\"spiffe_sequence\":1}", "no authorities found" },
	{ "two certs", "{\"keys\":[{\"use\":\"x509-svid\",\"kty\":\"EC\","
	    "\"x5c\":[\"AA==\",\"AA==\"]}]}", "expected a single certificate" },
	{ "cert not DER", "{\"keys\":[{\"use\":\"x509-svid\",\"x5c\":"
	    "[\"AAAA\"]}]}", "not a certificate" },
	{ "jwt without kid", "{\"keys\":[{\"use\":\"jwt-svid\",\"kty\":\"EC\","
	    "\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}]}",
	    "missing key ID" },
	{ "jwt short coordinate", "{\"keys\":[{\"use\":\"jwt-svid\","
	    "\"kid\":\"a\",\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\","
	    "\"y\":\"AA\"}]}", "bad EC key coordinates" },
	{ "jwt unknown curve", "{\"keys\":[{\"use\":\"jwt-svid\","
	    "\"kid\":\"a\",\"kty\":\"EC\",\"crv\":\"P-192\"}]}",
	    "unsupported EC curve" },
	{ "jwt unknown kty", "{\"keys\":[{\"use\":\"jwt-svid\","
	    "\"kid\":\"a\",\"kty\":\"oct\"}]}", "unsupported key type" },
	{ "sequence not a number", "{\"keys\":[],\"spiffe_sequence\":\"1\"}",
	    "spiffe_sequence" },
};

static void
test_spiffe_bad_documents(void **state)
{
	struct bundle	 b;
	char		 err[160];
	size_t		 i;

	for (i = 0; i < sizeof(bad_docs) / sizeof(bad_docs[0]); i++) {
		err[0] = '\0';
		if (bundle_parse_spiffe(&b, "example.org", bad_docs[i].doc,
		    strlen(bad_docs[i].doc), err, sizeof(err)) != -1)
			fail_msg("accepted: %s", bad_docs[i].name);
		if (strstr(err, bad_docs[i].why) == NULL)
			fail_msg("%s: reason \"%s\"", bad_docs[i].name, err);
	}
}

static void
test_unknown_use_skipped(void **state)
{
	struct bundle	 b;
	char		 err[128];
	const char	*doc = "{\"keys\":[{\"use\":\"enc\",\"kty\":\"EC\"},"
	    "{\"kty\":\"RSA\"}]}";

	assert_int_equal(bundle_parse_spiffe(&b, "example.org", doc,
	    strlen(doc), err, sizeof(err)), 0);
	assert_int_equal(b.nx509, 0);
	assert_int_equal(b.njwt, 0);
	bundle_cleanup(&b);
}

static void
test_jwk_round_trip_keys(void **state)
{
	struct key	*k;
	json_t		*o;
	uint8_t		*spki;
	const uint8_t	*want;
	size_t		 len, wlen;
	enum key_err	 e;
	char		 err[64];
	int		 t;

	for (t = KEY_EC_P256; t <= KEY_EC_P384; t++) {
		k = key_soft_generate((enum key_type)t, &e);
		assert_non_null(k);
		o = json_object();
		want = key_spki(k, &wlen);
		assert_int_equal(jwk_put_key(o, want, wlen), 0);
		assert_int_equal(jwk_get_key(o, &spki, &len, err,
		    sizeof(err)), 0);
		assert_int_equal(len, wlen);
		assert_memory_equal(spki, want, len);
		mem_free(spki);
		json_decref(o);
		key_free(k);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spiffe_round_trip),
		cmocka_unit_test(test_spiffe_bad_documents),
		cmocka_unit_test(test_unknown_use_skipped),
		cmocka_unit_test(test_jwk_round_trip_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
