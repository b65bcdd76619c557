/*
 * Unit tests for spiffe/jwtsvid and pki/verify: tokens minted here
 * validate, and every rule go-spiffe applies rejects what it should.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/signature.h>

#include "core/base64.h"
#include "core/mem.h"
#include "hal/key.h"
#include "spiffe/bundle.h"
#include "spiffe/jwtsvid.h"

#define NOW	1800000000

struct fixture {
	struct key	*k256;
	struct key	*k384;
	struct bundle	 b;
};

static int
setup(void **state)
{
	struct fixture	*f = mem_calloc(1, sizeof(*f));
	const uint8_t	*spki;
	size_t		 len;
	enum key_err	 e;

	assert_non_null(f);
	f->k256 = key_soft_generate(KEY_EC_P256, &e);
	f->k384 = key_soft_generate(KEY_EC_P384, &e);
	assert_non_null(f->k256);
	assert_non_null(f->k384);
	assert_int_equal(bundle_init(&f->b, "example.org"), 0);
	spki = key_spki(f->k256, &len);
	assert_int_equal(bundle_add_jwt(&f->b, "kid256", spki, len, 0), 1);
	spki = key_spki(f->k384, &len);
	assert_int_equal(bundle_add_jwt(&f->b, "kid384", spki, len, 0), 1);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	key_free(f->k256);
	key_free(f->k384);
	bundle_cleanup(&f->b);
	mem_free(f);
	return 0;
}

static const struct bundle *
lookup(void *arg, const char *td)
{
	struct fixture	*f = arg;

	return strcmp(td, f->b.trust_domain) == 0 ? &f->b : NULL;
}

static enum jwtsvid_err
check(struct fixture *f, const char *tok, const char *aud, int64_t now)
{
	struct jwtsvid		 j;
	enum jwtsvid_err	 e;

	e = jwtsvid_validate(tok, strlen(tok), &aud, aud != NULL, lookup, f,
	    now, &j);
	jwtsvid_cleanup(&j);
	return e;
}

static char *
mint(struct fixture *f, struct key *k, const char *kid, const char *sub)
{
	static const char *const aud[] = { "db", "api" };
	char	*t;

	t = jwtsvid_mint(k, kid, sub, aud, 2, NOW, NOW + 300, NULL);
	assert_non_null(t);
	return t;
}

static void
test_round_trip(void **state)
{
	struct fixture	*f = *state;
	struct jwtsvid	 j;
	const char	*aud = "api";
	char		*t;

	t = mint(f, f->k256, "kid256", "spiffe://example.org/w");
	assert_int_equal(jwtsvid_validate(t, strlen(t), &aud, 1, lookup, f,
	    NOW + 10, &j), JWTSVID_OK);
	assert_string_equal(j.sub, "spiffe://example.org/w");
	assert_string_equal(j.trust_domain, "example.org");
	assert_string_equal(j.kid, "kid256");
	assert_int_equal(j.alg, SIG_ES256);
	assert_int_equal(j.exp, NOW + 300);
	assert_int_equal(j.iat, NOW);
	/* aud is always an array, as SPIRE writes it. */
	assert_true(json_is_array(json_object_get(j.claims, "aud")));
	assert_null(json_object_get(j.claims, "iss"));
	jwtsvid_cleanup(&j);
	mem_free(t);

	t = mint(f, f->k384, "kid384", "spiffe://example.org/w");
	assert_int_equal(check(f, t, "db", NOW), JWTSVID_OK);
	mem_free(t);
}

/* Minted in two steps (the signature made apart): the token validates. */
static void
test_two_phase_mint(void **state)
{
	static const char *const aud[] = { "api" };
	struct fixture		*f = *state;
	struct jwtsvid_tbs	 t;
	uint8_t			 sig[KEY_SIG_MAX];
	size_t			 siglen = sizeof(sig);
	char			*tok;

	assert_int_equal(jwtsvid_tbs_make(KEY_EC_P384, "kid384",
	    "spiffe://example.org/w", aud, 1, NOW, NOW + 300, NULL, &t), 0);
	assert_int_equal(t.digest_len, 48);
	assert_int_equal(key_sign(f->k384, t.digest, t.digest_len, sig,
	    &siglen), KEY_OK);
	tok = jwtsvid_tbs_finish(&t, sig, siglen);
	assert_non_null(tok);
	assert_int_equal(check(f, tok, "api", NOW + 10), JWTSVID_OK);
	mem_free(tok);
	/* The other key's signature over the same input: refused. */
	jwtsvid_tbs_cleanup(&t);
	assert_int_equal(jwtsvid_tbs_make(KEY_EC_P256, "kid256",
	    "spiffe://example.org/w", aud, 1, NOW, NOW + 300, NULL, &t), 0);
	siglen = sizeof(sig);
	assert_int_equal(key_sign(f->k256, t.digest, t.digest_len, sig,
	    &siglen), KEY_OK);
	sig[siglen - 1] ^= 1;
	tok = jwtsvid_tbs_finish(&t, sig, siglen);
	assert_non_null(tok);
	assert_int_equal(check(f, tok, "api", NOW + 10),
	    JWTSVID_ERR_SIGNATURE);
	mem_free(tok);
	jwtsvid_tbs_cleanup(&t);
}

static void
test_header_and_issuer(void **state)
{
	struct fixture	*f = *state;
	struct jwtsvid	 j;
	const char	*aud[] = { "x" };
	char		*t, hdr[256], *dot;
	size_t		 n;

	t = jwtsvid_mint(f->k256, "kid256", "spiffe://example.org/w", aud, 1,
	    NOW, NOW + 60, "https://oidc.example.org");
	assert_non_null(t);
	dot = strchr(t, '.');
	assert_int_equal(base64_decode(BASE64_URL, t, (size_t)(dot - t), hdr,
	    sizeof(hdr) - 1, &n), 0);
	hdr[n] = '\0';
	assert_string_equal(hdr, "{\"alg\":\"ES256\",\"kid\":\"kid256\","
	    "\"typ\":\"JWT\"}");
	assert_int_equal(jwtsvid_parse(t, strlen(t), &j), JWTSVID_OK);
	assert_string_equal(json_string_value(json_object_get(j.claims,
	    "iss")), "https://oidc.example.org");
	jwtsvid_cleanup(&j);
	mem_free(t);
}

static void
test_rejections(void **state)
{
	struct fixture	*f = *state;
	char		*t, *sig;

	t = mint(f, f->k256, "kid256", "spiffe://example.org/w");
	assert_int_equal(check(f, t, "other", NOW), JWTSVID_ERR_AUDIENCE);
	assert_int_equal(check(f, t, "db", NOW + 300 + 61),
	    JWTSVID_ERR_EXPIRED);
	/* Within go-jose's minute of leeway it still passes. */
	assert_int_equal(check(f, t, "db", NOW + 300 + 59), JWTSVID_OK);
	assert_int_equal(check(f, t, "db", NOW - 61), JWTSVID_ERR_NOT_YET);
	/* A flipped bit in the signature. */
	sig = strrchr(t, '.') + 5;
	*sig = *sig == 'A' ? 'B' : 'A';
	assert_int_equal(check(f, t, "db", NOW), JWTSVID_ERR_SIGNATURE);
	mem_free(t);

	/* Signed by one key, claiming the other's key ID. */
	t = mint(f, f->k256, "kid384", "spiffe://example.org/w");
	assert_int_equal(check(f, t, "db", NOW), JWTSVID_ERR_SIGNATURE);
	mem_free(t);
	t = mint(f, f->k256, "nokey", "spiffe://example.org/w");
	assert_int_equal(check(f, t, "db", NOW), JWTSVID_ERR_NO_KEY);
	mem_free(t);
	t = mint(f, f->k256, "kid256", "spiffe://other.org/w");
	assert_int_equal(check(f, t, "db", NOW), JWTSVID_ERR_NO_BUNDLE);
	mem_free(t);
	t = mint(f, f->k256, "kid256", "https://example.org/w");
	assert_int_equal(check(f, t, "db", NOW), JWTSVID_ERR_SUBJECT);
	mem_free(t);
	t = mint(f, f->k256, "", "spiffe://example.org/w");
	assert_int_equal(check(f, t, "db", NOW), JWTSVID_ERR_NO_KID);
	mem_free(t);
}

/* A token from a header and claims given as JSON, with a junk signature. */
static char *
forge(const char *hdr, const char *claims)
{
	char	 h[512], c[512], *t;

	assert_int_equal(base64_encode(BASE64_URL, hdr, strlen(hdr), h,
	    sizeof(h)), 0);
	assert_int_equal(base64_encode(BASE64_URL, claims, strlen(claims), c,
	    sizeof(c)), 0);
	t = mem_alloc(strlen(h) + strlen(c) + 16);
	assert_non_null(t);
	snprintf(t, strlen(h) + strlen(c) + 16, "%s.%s.AAAA", h, c);
	return t;
}

static const struct {
	const char		*name;
	const char		*hdr;
	const char		*claims;
	enum jwtsvid_err	 want;
} forged[] = {
	{ "alg none", "{\"alg\":\"none\",\"kid\":\"kid256\"}",
	    "{\"sub\":\"spiffe://example.org/w\",\"exp\":1}",
	    JWTSVID_ERR_ALG },
	{ "alg HS256", "{\"alg\":\"HS256\",\"kid\":\"kid256\"}",
	    "{\"sub\":\"spiffe://example.org/w\",\"exp\":1}",
	    JWTSVID_ERR_ALG },
	{ "typ other", "{\"alg\":\"ES256\",\"kid\":\"k\",\"typ\":\"XYZ\"}",
	    "{\"sub\":\"spiffe://example.org/w\",\"exp\":1}",
	    JWTSVID_ERR_TYP },
	{ "no sub", "{\"alg\":\"ES256\",\"kid\":\"k\"}", "{\"exp\":1}",
	    JWTSVID_ERR_SUBJECT },
	{ "no exp", "{\"alg\":\"ES256\",\"kid\":\"k\"}",
	    "{\"sub\":\"spiffe://example.org/w\"}", JWTSVID_ERR_NO_EXP },
	{ "crit header", "{\"alg\":\"ES256\",\"kid\":\"k\",\"crit\":[\"x\"]}",
	    "{\"sub\":\"spiffe://example.org/w\",\"exp\":1}",
	    JWTSVID_ERR_MALFORMED },
	{ "header not an object", "[1]", "{}", JWTSVID_ERR_MALFORMED },
	{ "duplicate claim", "{\"alg\":\"ES256\",\"kid\":\"k\"}",
	    "{\"sub\":\"a\",\"sub\":\"b\",\"exp\":1}", JWTSVID_ERR_MALFORMED },
};

static void
test_forged_tokens(void **state)
{
	struct jwtsvid	 j;
	size_t		 i;
	char		*t;

	for (i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		t = forge(forged[i].hdr, forged[i].claims);
		if (jwtsvid_parse(t, strlen(t), &j) != forged[i].want)
			fail_msg("%s: got %s", forged[i].name,
			    jwtsvid_strerror(jwtsvid_parse(t, strlen(t), &j)));
		jwtsvid_cleanup(&j);
		mem_free(t);
	}
}

static void
test_malformed_shapes(void **state)
{
	static const char *const bad[] = {
		"", "abc", "a.b", "a.b.c.d", "..", "!!!.e30.AA",
		"e30.!!!.AA",
	};
	struct jwtsvid	 j;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (jwtsvid_parse(bad[i], strlen(bad[i]), &j) !=
		    JWTSVID_ERR_MALFORMED)
			fail_msg("accepted \"%s\"", bad[i]);
		jwtsvid_cleanup(&j);
	}
}

/* RS256 and PS256 checks against signatures wolfCrypt makes itself. */
static void
test_rsa_algorithms(void **state)
{
	RsaKey		 rsa;
	WC_RNG		 rng;
	uint8_t		 spki[600], sig[256], md[32];
	const char	*msg = "header.claims";
	word32		 siglen = sizeof(sig);
	int		 n;

	assert_int_equal(wc_InitRng(&rng), 0);
	assert_int_equal(wc_InitRsaKey(&rsa, NULL), 0);
	assert_int_equal(wc_MakeRsaKey(&rsa, 2048, 65537, &rng), 0);
	n = wc_RsaKeyToPublicDer(&rsa, spki, sizeof(spki));
	assert_true(n > 0);
	assert_int_equal(wc_SignatureGenerate(WC_HASH_TYPE_SHA256,
	    WC_SIGNATURE_TYPE_RSA_W_ENC, (const byte *)msg,
	    (word32)strlen(msg), sig, &siglen, &rsa, sizeof(rsa), &rng), 0);
	assert_int_equal(sig_verify(SIG_RS256, spki, (size_t)n,
	    (const uint8_t *)msg, strlen(msg), sig, siglen), 0);
	assert_int_equal(sig_verify(SIG_RS256, spki, (size_t)n,
	    (const uint8_t *)"other", 5, sig, siglen), -1);
	/* An ES256 check must not accept an RSA key. */
	assert_int_equal(sig_verify(SIG_ES256, spki, (size_t)n,
	    (const uint8_t *)msg, strlen(msg), sig, 64), -1);

	assert_int_equal(wc_Sha256Hash((const byte *)msg,
	    (word32)strlen(msg), md), 0);
	n = wc_RsaPSS_Sign(md, sizeof(md), sig, sizeof(sig),
	    WC_HASH_TYPE_SHA256, WC_MGF1SHA256, &rsa, &rng);
	assert_int_equal(n, 256);
	n = wc_RsaKeyToPublicDer(&rsa, spki, sizeof(spki));
	assert_int_equal(sig_verify(SIG_PS256, spki, (size_t)n,
	    (const uint8_t *)msg, strlen(msg), sig, 256), 0);
	assert_int_equal(sig_verify(SIG_PS256, spki, (size_t)n,
	    (const uint8_t *)"other", 5, sig, 256), -1);
	wc_FreeRsaKey(&rsa);
	wc_FreeRng(&rng);
}

static void
test_new_kid(void **state)
{
	char	 a[33], b[33];
	size_t	 i;

	assert_int_equal(jwtsvid_new_kid(a), 0);
	assert_int_equal(jwtsvid_new_kid(b), 0);
	assert_int_equal(strlen(a), 32);
	assert_string_not_equal(a, b);
	for (i = 0; i < 32; i++)
		assert_non_null(strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", a[i]));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_two_phase_mint),
		cmocka_unit_test(test_header_and_issuer),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_forged_tokens),
		cmocka_unit_test(test_malformed_shapes),
		cmocka_unit_test(test_rsa_algorithms),
		cmocka_unit_test(test_new_kid),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
