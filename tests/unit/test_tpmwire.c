/*
 * Unit tests for attest/tpmwire: TPM structure parsing (with a table of
 * malformed inputs per parser), Names, KDFa against known answers, and
 * MakeCredential checked by undoing it with the EK's private key.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>

#include "attest/tpmwire.h"
#include "core/mem.h"

/* An ECC P-256 ECDSA-SHA256 signing key's TPMT_PUBLIC (DevID-like). */
static const uint8_t ecc_pub[] = {
	0x00, 0x23, 0x00, 0x0b, 0x00, 0x04, 0x00, 0x72, 0x00, 0x00,
	0x00, 0x10, 0x00, 0x18, 0x00, 0x0b, 0x00, 0x03, 0x00, 0x10,
	0x00, 0x20,
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
	0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
	0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20,
	0x00, 0x20,
	0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b,
	0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36,
	0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40,
};

/* 0x000b || SHA-256(ecc_pub), computed independently. */
static const uint8_t ecc_name[] = {
	0x00, 0x0b, 0x85, 0x66, 0x3c, 0x09, 0xe9, 0xbb, 0x94, 0xd9, 0xb2,
	0x4d, 0x47, 0x59, 0x54, 0x91, 0xe3, 0xc4, 0x73, 0x28, 0x56, 0xfc,
	0xb6, 0xe6, 0x39, 0x7c, 0x7f, 0x5a, 0x7b, 0xf8, 0x95, 0xa2, 0xba,
	0xc0,
};

static void
test_public_ecc_parses(void **state)
{
	struct tpmwire_public	 p;
	uint8_t			 buf[sizeof(ecc_pub) + 3];

	(void)state;
	assert_int_equal(tpmwire_public_parse(ecc_pub, sizeof(ecc_pub), &p),
	    TPMWIRE_OK);
	assert_int_equal(p.type, TPMWIRE_ALG_ECC);
	assert_int_equal(p.name_alg, TPMWIRE_ALG_SHA256);
	assert_int_equal(p.attrs, 0x00040072);
	assert_int_equal(p.scheme, TPMWIRE_ALG_ECDSA);
	assert_int_equal(p.scheme_hash, TPMWIRE_ALG_SHA256);
	assert_int_equal(p.curve, TPMWIRE_ECC_P256);
	assert_int_equal(p.ecc_x.len, 32);
	assert_int_equal(p.ecc_x.p[0], 0x01);
	assert_int_equal(p.ecc_y.p[31], 0x40);
	assert_int_equal(p.raw.len, sizeof(ecc_pub));
	/* Trailing bytes are ignored, as go-tpm's DecodePublic does. */
	memcpy(buf, ecc_pub, sizeof(ecc_pub));
	memset(buf + sizeof(ecc_pub), 0xee, 3);
	assert_int_equal(tpmwire_public_parse(buf, sizeof(buf), &p),
	    TPMWIRE_OK);
	assert_int_equal(p.raw.len, sizeof(ecc_pub));
}

static void
test_name_is_namealg_and_digest(void **state)
{
	struct tpmwire_public	 p;
	uint8_t			 name[TPMWIRE_NAME_MAX];
	size_t			 n = sizeof(name);

	(void)state;
	assert_int_equal(tpmwire_public_parse(ecc_pub, sizeof(ecc_pub), &p),
	    TPMWIRE_OK);
	assert_int_equal(tpmwire_name(&p, name, &n), TPMWIRE_OK);
	assert_int_equal(n, sizeof(ecc_name));
	assert_memory_equal(name, ecc_name, n);
	n = 10;
	assert_int_equal(tpmwire_name(&p, name, &n), TPMWIRE_ERR_SPACE);
}

/* An RSA TPMT_PUBLIC with a modulus of 8 bytes (shape only). */
static const uint8_t rsa_pub[] = {
	0x00, 0x01, 0x00, 0x0b, 0x00, 0x03, 0x00, 0xb2,
	0x00, 0x00,				/* authPolicy */
	0x00, 0x06, 0x00, 0x80, 0x00, 0x43,	/* AES-128-CFB */
	0x00, 0x10,				/* scheme NULL */
	0x08, 0x00, 0x00, 0x00, 0x00, 0x00,	/* 2048, exp 0 */
	0x00, 0x08, 0xc1, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
};

static void
test_public_rsa_parses(void **state)
{
	struct tpmwire_public	 p;
	uint8_t			*spki = NULL;
	size_t			 n = 0;

	(void)state;
	assert_int_equal(tpmwire_public_parse(rsa_pub, sizeof(rsa_pub), &p),
	    TPMWIRE_OK);
	assert_int_equal(p.type, TPMWIRE_ALG_RSA);
	assert_int_equal(p.sym_alg, TPMWIRE_ALG_AES);
	assert_int_equal(p.sym_bits, 128);
	assert_int_equal(p.sym_mode, TPMWIRE_ALG_CFB);
	assert_int_equal(p.scheme, TPMWIRE_ALG_NULL);
	assert_int_equal(p.rsa_bits, 2048);
	assert_int_equal(p.rsa_exponent, 0);
	assert_int_equal(p.rsa_modulus.len, 8);
	/* SPKI: the modulus gets a leading zero (its top bit is set). */
	assert_int_equal(tpmwire_rsa_spki(&p, &spki, &n), TPMWIRE_OK);
	assert_non_null(spki);
	assert_int_equal(spki[0], 0x30);
	assert_non_null(memmem(spki, n, "\x02\x09\x00\xc1\x02", 5));
	assert_non_null(memmem(spki, n, "\x02\x03\x01\x00\x01", 5));
	mem_free(spki);
}

struct bad_case {
	const char	*what;
	size_t		 len;		/* bytes of the base input used */
	size_t		 patch_at;	/* SIZE_MAX: no patch */
	uint8_t		 patch[2];
	enum tpmwire_err want;
};

static void
test_public_malformed_table(void **state)
{
	static const struct bad_case cases[] = {
		{ "empty", 0, SIZE_MAX, { 0, 0 }, TPMWIRE_ERR_SHORT },
		{ "type only", 2, SIZE_MAX, { 0, 0 }, TPMWIRE_ERR_SHORT },
		{ "header cut", 9, SIZE_MAX, { 0, 0 }, TPMWIRE_ERR_SHORT },
		{ "in symmetric", 11, SIZE_MAX, { 0, 0 }, TPMWIRE_ERR_SHORT },
		{ "in curve", 17, SIZE_MAX, { 0, 0 }, TPMWIRE_ERR_SHORT },
		{ "x cut", 40, SIZE_MAX, { 0, 0 }, TPMWIRE_ERR_SHORT },
		{ "y cut", sizeof(ecc_pub) - 1, SIZE_MAX, { 0, 0 },
		    TPMWIRE_ERR_SHORT },
		{ "keyedhash type", sizeof(ecc_pub), 0, { 0x00, 0x08 },
		    TPMWIRE_ERR_UNSUPPORTED },
		{ "unknown nameAlg", sizeof(ecc_pub), 2, { 0x00, 0x99 },
		    TPMWIRE_ERR_UNSUPPORTED },
		{ "policy past end", sizeof(ecc_pub), 8, { 0x00, 0xf0 },
		    TPMWIRE_ERR_SHORT },
		{ "x size 0xffff", sizeof(ecc_pub), 20, { 0xff, 0xff },
		    TPMWIRE_ERR_SHORT },
		{ "symmetric XOR", sizeof(ecc_pub), 10, { 0x00, 0x0a },
		    TPMWIRE_ERR_UNSUPPORTED },
	};
	struct tpmwire_public	 p;
	uint8_t			 buf[sizeof(ecc_pub)];
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(buf, ecc_pub, sizeof(buf));
		if (cases[i].patch_at != SIZE_MAX)
			memcpy(buf + cases[i].patch_at, cases[i].patch, 2);
		if (tpmwire_public_parse(buf, cases[i].len, &p) !=
		    cases[i].want)
			fail_msg("case %s", cases[i].what);
	}
}

/* A TPM2_Certify TPMS_ATTEST naming ecc_name. */
static size_t
make_attest(uint8_t *b)
{
	static const uint8_t head[] = {
		0xff, 0x54, 0x43, 0x47, 0x80, 0x17,
		0x00, 0x02, 0x40, 0x00,			/* qualifiedSigner */
		0x00, 0x00,				/* extraData */
		0, 0, 0, 0, 0, 0, 0, 9,			/* clock */
		0, 0, 0, 1, 0, 0, 0, 2, 1,		/* counts, safe */
		0, 0, 0, 0, 0, 0, 0, 7,			/* firmware */
	};
	size_t	 n = 0;

	memcpy(b, head, sizeof(head));
	n = sizeof(head);
	b[n++] = 0;
	b[n++] = sizeof(ecc_name);
	memcpy(b + n, ecc_name, sizeof(ecc_name));
	n += sizeof(ecc_name);
	b[n++] = 0;
	b[n++] = 0;				/* qualifiedName empty */
	return n;
}

static void
test_attest_certify_parses(void **state)
{
	struct tpmwire_attest	 a;
	uint8_t			 b[128];
	size_t			 n = make_attest(b);

	(void)state;
	assert_int_equal(tpmwire_attest_parse(b, n, &a), TPMWIRE_OK);
	assert_int_equal(a.clock, 9);
	assert_int_equal(a.reset_count, 1);
	assert_int_equal(a.restart_count, 2);
	assert_int_equal(a.safe, 1);
	assert_int_equal(a.firmware, 7);
	assert_int_equal(a.certified_name.len, sizeof(ecc_name));
	assert_memory_equal(a.certified_name.p, ecc_name, sizeof(ecc_name));
}

static void
test_attest_malformed_table(void **state)
{
	struct tpmwire_attest	 a;
	uint8_t			 b[128], c[128];
	size_t			 n = make_attest(b), i;

	(void)state;
	/* Every truncation is short, never a read past the end. */
	for (i = 0; i < n; i++)
		assert_int_equal(tpmwire_attest_parse(b, i, &a),
		    TPMWIRE_ERR_SHORT);
	memcpy(c, b, n);
	c[0] = 0x00;			/* not TPM_GENERATED_VALUE */
	assert_int_equal(tpmwire_attest_parse(c, n, &a), TPMWIRE_ERR_FORMAT);
	memcpy(c, b, n);
	c[5] = 0x18;			/* a quote, not a certify */
	assert_int_equal(tpmwire_attest_parse(c, n, &a),
	    TPMWIRE_ERR_UNSUPPORTED);
	memcpy(c, b, n);
	c[6] = 0x7f;			/* qualifiedSigner over the cap */
	assert_int_equal(tpmwire_attest_parse(c, n, &a), TPMWIRE_ERR_SHORT);
}

static void
test_signature_parse_table(void **state)
{
	static const uint8_t rsa[] = { 0x00, 0x14, 0x00, 0x0b, 0x00, 0x03,
	    0xaa, 0xbb, 0xcc };
	static const uint8_t ec[] = { 0x00, 0x18, 0x00, 0x0b, 0x00, 0x01,
	    0x11, 0x00, 0x02, 0x22, 0x33 };
	static const uint8_t unknown[] = { 0x00, 0x99, 0x00, 0x0b };
	struct tpmwire_sig	 s;
	size_t			 i;

	(void)state;
	assert_int_equal(tpmwire_sig_parse(rsa, sizeof(rsa), &s),
	    TPMWIRE_OK);
	assert_int_equal(s.alg, TPMWIRE_ALG_RSASSA);
	assert_int_equal(s.rsa.len, 3);
	assert_int_equal(tpmwire_sig_parse(ec, sizeof(ec), &s), TPMWIRE_OK);
	assert_int_equal(s.r.len, 1);
	assert_int_equal(s.s.len, 2);
	assert_int_equal(s.s.p[1], 0x33);
	assert_int_equal(tpmwire_sig_parse(unknown, sizeof(unknown), &s),
	    TPMWIRE_ERR_UNSUPPORTED);
	for (i = 0; i < sizeof(rsa); i++)
		assert_int_equal(tpmwire_sig_parse(rsa, i, &s),
		    TPMWIRE_ERR_SHORT);
	for (i = 4; i < sizeof(ec); i++)
		assert_int_equal(tpmwire_sig_parse(ec, i, &s),
		    TPMWIRE_ERR_SHORT);
}

static void
test_kdfa_known_answers(void **state)
{
	static const uint8_t want1[16] = {
		0xd7, 0x94, 0xd2, 0x7d, 0x95, 0x65, 0xf7, 0xda,
		0x79, 0xdb, 0x16, 0x3f, 0x3b, 0xb3, 0x44, 0x79 };
	static const uint8_t want2_head[8] = {
		0xca, 0x05, 0x41, 0x34, 0x1d, 0xdd, 0xa7, 0xe5 };
	static const uint8_t want2_tail[8] = {
		0x68, 0x3b, 0x9b, 0x30, 0x74, 0x36, 0xca, 0x00 };
	uint8_t	 key[32], ctx[34], out[64];

	(void)state;
	memset(key, 0x11, sizeof(key));
	ctx[0] = 0x00;
	ctx[1] = 0x0b;
	memset(ctx + 2, 0x22, 32);
	assert_int_equal(tpmwire_kdfa(TPMWIRE_ALG_SHA256, key, 32, "STORAGE",
	    ctx, sizeof(ctx), NULL, 0, 128, out), TPMWIRE_OK);
	assert_memory_equal(out, want1, 16);
	/* Two HMAC blocks, 512 bits from a 16-byte key. */
	assert_int_equal(tpmwire_kdfa(TPMWIRE_ALG_SHA256, key, 16,
	    "INTEGRITY", NULL, 0, NULL, 0, 512, out), TPMWIRE_OK);
	assert_memory_equal(out, want2_head, 8);
	assert_memory_equal(out + 48, want2_tail, 8);
	assert_int_equal(tpmwire_kdfa(0x0099, key, 16, "X", NULL, 0, NULL, 0,
	    128, out), TPMWIRE_ERR_UNSUPPORTED);
}

/* An EK-shaped TPMT_PUBLIC around a software RSA key's modulus. */
static size_t
ek_public(RsaKey *rsa, uint8_t *b)
{
	static const uint8_t head[] = {
		0x00, 0x01, 0x00, 0x0b, 0x00, 0x03, 0x00, 0xb2,
		0x00, 0x00, 0x00, 0x06, 0x00, 0x80, 0x00, 0x43,
		0x00, 0x10, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	uint8_t	 e[8];
	word32	 nlen = 256, elen = sizeof(e);

	memcpy(b, head, sizeof(head));
	assert_int_equal(wc_RsaFlattenPublicKey(rsa, e, &elen,
	    b + sizeof(head) + 2, &nlen), 0);
	assert_int_equal(nlen, 256);
	b[sizeof(head)] = 0x01;
	b[sizeof(head) + 1] = 0x00;
	return sizeof(head) + 2 + 256;
}

static void
test_make_credential_opens_with_the_ek(void **state)
{
	static const char	 label[] = "IDENTITY";
	struct tpmwire_public	 ek;
	RsaKey			 rsa;
	WC_RNG			 rng;
	Aes			 aes;
	Hmac			 h;
	uint8_t			 pubb[300], secret[32], seed[32], got[64];
	uint8_t			 cred[512], enc[512], sym[16], mk[32];
	uint8_t			 mac[32], iv[16], plain[64];
	size_t			 credlen = sizeof(cred), enclen = sizeof(enc);
	int			 n;

	(void)state;
	assert_int_equal(wc_InitRng(&rng), 0);
	assert_int_equal(wc_InitRsaKey(&rsa, NULL), 0);
	assert_int_equal(wc_MakeRsaKey(&rsa, 2048, 65537, &rng), 0);
	assert_int_equal(wc_RsaSetRNG(&rsa, &rng), 0);
	assert_int_equal(tpmwire_public_parse(pubb, ek_public(&rsa, pubb),
	    &ek), TPMWIRE_OK);
	memset(secret, 0x5a, sizeof(secret));
	memset(seed, 0xa5, sizeof(seed));
	assert_int_equal(tpmwire_make_credential(&ek, ecc_name,
	    sizeof(ecc_name), secret, sizeof(secret), seed, sizeof(seed),
	    cred, &credlen, enc, &enclen), TPMWIRE_OK);
	assert_int_equal(enclen, 256);
	assert_int_equal(credlen, 2 + 32 + 2 + 32);

	/* The EK's holder recovers the seed... */
	n = wc_RsaPrivateDecrypt_ex(enc, (word32)enclen, got, sizeof(got),
	    &rsa, WC_RSA_OAEP_PAD, WC_HASH_TYPE_SHA256, WC_MGF1SHA256,
	    (byte *)(uintptr_t)label, sizeof(label));
	assert_int_equal(n, 32);
	assert_memory_equal(got, seed, 32);
	/* ...checks the integrity HMAC over encIdentity || name... */
	assert_int_equal(tpmwire_kdfa(TPMWIRE_ALG_SHA256, seed, 32,
	    "INTEGRITY", NULL, 0, NULL, 0, 256, mk), TPMWIRE_OK);
	assert_int_equal(wc_HmacInit(&h, NULL, INVALID_DEVID), 0);
	assert_int_equal(wc_HmacSetKey(&h, WC_SHA256, mk, 32), 0);
	assert_int_equal(wc_HmacUpdate(&h, cred + 34, 34), 0);
	assert_int_equal(wc_HmacUpdate(&h, ecc_name, sizeof(ecc_name)), 0);
	assert_int_equal(wc_HmacFinal(&h, mac), 0);
	wc_HmacFree(&h);
	assert_int_equal(cred[0], 0);
	assert_int_equal(cred[1], 32);
	assert_memory_equal(cred + 2, mac, 32);
	/* ...and decrypts TPM2B_DIGEST(secret) with the STORAGE key. */
	assert_int_equal(tpmwire_kdfa(TPMWIRE_ALG_SHA256, seed, 32, "STORAGE",
	    ecc_name, sizeof(ecc_name), NULL, 0, 128, sym), TPMWIRE_OK);
	memset(iv, 0, sizeof(iv));
	assert_int_equal(wc_AesInit(&aes, NULL, INVALID_DEVID), 0);
	assert_int_equal(wc_AesSetKey(&aes, sym, 16, iv, AES_ENCRYPTION), 0);
	assert_int_equal(wc_AesCfbDecrypt(&aes, plain, cred + 34, 34), 0);
	wc_AesFree(&aes);
	assert_int_equal(plain[0], 0);
	assert_int_equal(plain[1], 32);
	assert_memory_equal(plain + 2, secret, 32);

	/* Another name gives another credential: it is bound to the AK. */
	{
		uint8_t	 other[sizeof(ecc_name)], cred2[512];
		size_t	 l2 = sizeof(cred2);

		memcpy(other, ecc_name, sizeof(other));
		other[5] ^= 1;
		enclen = sizeof(enc);
		assert_int_equal(tpmwire_make_credential(&ek, other,
		    sizeof(other), secret, sizeof(secret), seed,
		    sizeof(seed), cred2, &l2, enc, &enclen), TPMWIRE_OK);
		assert_memory_not_equal(cred2, cred, credlen);
	}
	/* Too small an output, or a secret over the digest size. */
	credlen = 10;
	enclen = sizeof(enc);
	assert_int_equal(tpmwire_make_credential(&ek, ecc_name,
	    sizeof(ecc_name), secret, sizeof(secret), seed, sizeof(seed),
	    cred, &credlen, enc, &enclen), TPMWIRE_ERR_SPACE);
	credlen = sizeof(cred);
	assert_int_equal(tpmwire_make_credential(&ek, ecc_name,
	    sizeof(ecc_name), got, 33, seed, sizeof(seed), cred, &credlen,
	    enc, &enclen), TPMWIRE_ERR_FORMAT);
	wc_FreeRsaKey(&rsa);
	wc_FreeRng(&rng);
}

static void
test_make_credential_refuses_non_rsa_ek(void **state)
{
	struct tpmwire_public	 ecc;
	uint8_t			 cred[512], enc[512], s[32];
	size_t			 cl = sizeof(cred), el = sizeof(enc);

	(void)state;
	memset(s, 1, sizeof(s));
	assert_int_equal(tpmwire_public_parse(ecc_pub, sizeof(ecc_pub), &ecc),
	    TPMWIRE_OK);
	assert_int_equal(tpmwire_make_credential(&ecc, ecc_name,
	    sizeof(ecc_name), s, 32, s, 32, cred, &cl, enc, &el),
	    TPMWIRE_ERR_UNSUPPORTED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_public_ecc_parses),
		cmocka_unit_test(test_name_is_namealg_and_digest),
		cmocka_unit_test(test_public_rsa_parses),
		cmocka_unit_test(test_public_malformed_table),
		cmocka_unit_test(test_attest_certify_parses),
		cmocka_unit_test(test_attest_malformed_table),
		cmocka_unit_test(test_signature_parse_table),
		cmocka_unit_test(test_kdfa_known_answers),
		cmocka_unit_test(test_make_credential_opens_with_the_ek),
		cmocka_unit_test(test_make_credential_refuses_non_rsa_ek),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
