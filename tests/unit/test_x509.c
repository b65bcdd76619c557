/*
 * Unit tests for pki/der and pki/x509: the facts read from certificates
 * made at test time, a table of malformed certificates built field by
 * field (each signed, so only the flaw under test differs), and path
 * validation at a fixed time.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "pki/der.h"
#include "pki/x509.h"
#include "testcerts.h"

#define NOW	TESTCERT_NOW

/* A growing DER buffer for building certificates by hand. */
struct dbuf {
	uint8_t		 b[TESTCERT_DER_MAX];
	size_t		 len;
};

static struct testchain	 ch;		/* P-256 root, inter, leaf */
static struct x509_cert	 root, inter, leaf;

static void
put(struct dbuf *o, const void *p, size_t n)
{
	assert_true(o->len + n <= sizeof(o->b));
	memcpy(o->b + o->len, p, n);
	o->len += n;
}

/* Appends tag, a DER length and the contents. */
static void
tlv(struct dbuf *o, int tag, const void *p, size_t n)
{
	uint8_t	 h[4];
	size_t	 hl;

	h[0] = (uint8_t)tag;
	if (n < 0x80) {
		h[1] = (uint8_t)n;
		hl = 2;
	} else if (n < 0x100) {
		h[1] = 0x81;
		h[2] = (uint8_t)n;
		hl = 3;
	} else {
		h[1] = 0x82;
		h[2] = (uint8_t)(n >> 8);
		h[3] = (uint8_t)n;
		hl = 4;
	}
	put(o, h, hl);
	put(o, p, n);
}

/* Hex with optional spaces into o. */
static void
hex(struct dbuf *o, const char *s)
{
	unsigned	 v;
	uint8_t		 byte;

	while (*s != '\0') {
		if (*s == ' ') {
			s++;
			continue;
		}
		assert_int_equal(sscanf(s, "%2x", &v), 1);
		byte = (uint8_t)v;
		put(o, &byte, 1);
		s += 2;
	}
}

/* One extension: OID contents in hex, critical flag, value bytes. */
static void
ext(struct dbuf *o, const char *oid, int critical, const char *value)
{
	struct dbuf	 e, oidb, val;

	memset(&e, 0, sizeof(e));
	memset(&oidb, 0, sizeof(oidb));
	memset(&val, 0, sizeof(val));
	hex(&oidb, oid);
	tlv(&e, DER_OID, oidb.b, oidb.len);
	if (critical)
		hex(&e, "01 01 ff");
	hex(&val, value);
	tlv(&e, DER_OCTET_STRING, val.b, val.len);
	tlv(o, DER_SEQUENCE, e.b, e.len);
}

#define OID_BC		"55 1d 13"
#define OID_KU		"55 1d 0f"
#define OID_SAN		"55 1d 11"
#define OID_NC		"55 1d 1e"
#define OID_POLICIES	"55 1d 20"
#define OID_UNKNOWN	"2b 06 01 04 01 82 37 99 01"	/* a private arc */
#define ALG_ES256	"30 0a 06 08 2a 86 48 ce 3d 04 03 02"
#define ALG_ES384	"30 0a 06 08 2a 86 48 ce 3d 04 03 03"
#define BC_LEAF		"30 00"
#define KU_DS		"03 02 07 80"
/* GeneralNames { URI "spiffe://example.org/w" } */
#define SAN_ONE		"30 18 86 16 73 70 69 66 66 65 3a 2f 2f 65 78 61" \
			" 6d 70 6c 65 2e 6f 72 67 2f 77"

/*
 * The parts of a TBSCertificate, each a whole element; NULL takes the
 * default, "" leaves the part out.
 */
struct tbs_spec {
	const char	*version;
	const char	*serial;
	const char	*alg;		/* inner signature algorithm */
	const char	*validity;
	const char	*after;		/* hex appended after extensions */
	/* Extensions: each a (oid, critical, value) or all defaults. */
	struct {
		const char	*oid;
		int		 critical;
		const char	*value;
	} exts[4];
	int		 no_exts;	/* no [3] at all */
	int		 empty_exts;	/* [3] with an empty SEQUENCE */
	int		 many_uris;	/* a SAN with 65 URIs */
};

/*
 * A certificate with subject "leaf" under ch.inter (name, key and
 * signature), its key the leaf's, from the parts in spec.
 */
static void
build(struct dbuf *cert, const struct tbs_spec *spec)
{
	struct dbuf	 tbs, body, exts, seq, san, outer;
	uint8_t		 digest[WC_SHA256_DIGEST_SIZE], sig[160];
	size_t		 siglen = sizeof(sig), i;
	char		 uri[32];

	memset(&body, 0, sizeof(body));
	hex(&body, spec->version != NULL ? spec->version : "a0 03 02 01 02");
	hex(&body, spec->serial != NULL ? spec->serial : "02 01 05");
	hex(&body, spec->alg != NULL ? spec->alg : ALG_ES256);
	put(&body, inter.subject.p, inter.subject.len);
	hex(&body, spec->validity != NULL ? spec->validity :
	    "30 1e 17 0d 32 35 30 31 30 31 30 30 30 30 30 30 5a"
	    " 17 0d 33 35 30 31 30 31 30 30 30 30 30 30 5a");
	put(&body, leaf.subject.p, leaf.subject.len);
	put(&body, leaf.spki.p, leaf.spki.len);
	if (!spec->no_exts) {
		memset(&seq, 0, sizeof(seq));
		if (spec->many_uris) {
			memset(&san, 0, sizeof(san));
			for (i = 0; i < X509_SANS_MAX + 1; i++) {
				snprintf(uri, sizeof(uri),
				    "spiffe://td/%03zu", i);
				tlv(&san, DER_CONTEXT(6), uri, strlen(uri));
			}
			memset(&exts, 0, sizeof(exts));
			tlv(&exts, DER_SEQUENCE, san.b, san.len);
			memset(&outer, 0, sizeof(outer));
			hex(&outer, OID_SAN);
			memset(&tbs, 0, sizeof(tbs));
			tlv(&tbs, DER_OID, outer.b, outer.len);
			tlv(&tbs, DER_OCTET_STRING, exts.b, exts.len);
			tlv(&seq, DER_SEQUENCE, tbs.b, tbs.len);
		} else if (!spec->empty_exts && spec->exts[0].oid == NULL) {
			ext(&seq, OID_BC, 1, BC_LEAF);
			ext(&seq, OID_KU, 1, KU_DS);
			ext(&seq, OID_SAN, 0, SAN_ONE);
		} else {
			for (i = 0; i < 4 && spec->exts[i].oid != NULL; i++)
				ext(&seq, spec->exts[i].oid,
				    spec->exts[i].critical,
				    spec->exts[i].value);
		}
		memset(&exts, 0, sizeof(exts));
		tlv(&exts, DER_SEQUENCE, seq.b, seq.len);
		tlv(&body, DER_CONTEXT_CONS(3), exts.b, exts.len);
	}
	if (spec->after != NULL)
		hex(&body, spec->after);
	memset(&tbs, 0, sizeof(tbs));
	tlv(&tbs, DER_SEQUENCE, body.b, body.len);

	assert_int_equal(wc_Sha256Hash(tbs.b, (word32)tbs.len, digest), 0);
	assert_int_equal(testcert_sign(ch.inter.key, ch.inter.key_len,
	    digest, sizeof(digest), sig, &siglen), 0);
	memset(&outer, 0, sizeof(outer));
	put(&outer, tbs.b, tbs.len);
	hex(&outer, ALG_ES256);
	memset(&body, 0, sizeof(body));
	hex(&body, "00");
	put(&body, sig, siglen);
	tlv(&outer, DER_BIT_STRING, body.b, body.len);
	memset(cert, 0, sizeof(*cert));
	tlv(cert, DER_SEQUENCE, outer.b, outer.len);
}

static int
setup(void **state)
{
	(void)state;
	if (testchain_make(&ch, "spiffe://example.org/w", 0) != 0)
		return -1;
	if (x509_parse(ch.root.der, ch.root.der_len, &root) != X509_OK ||
	    x509_parse(ch.inter.der, ch.inter.der_len, &inter) != X509_OK ||
	    x509_parse(ch.leaf.der, ch.leaf.der_len, &leaf) != X509_OK)
		return -1;
	return 0;
}

/* --- DER --------------------------------------------------------- */

struct der_case {
	const char	*name;
	const char	*hex;
	int		 ok;
};

static const struct der_case der_cases[] = {
	{ "short sequence", "30 03 01 01 ff", 1 },
	{ "long form 0x81", "04 81 80", 0 },	/* too short: 128 wanted */
	{ "empty input", "", 0 },
	{ "tag only", "30", 0 },
	{ "length past end", "30 02 01", 0 },
	{ "indefinite length", "30 80 00 00", 0 },
	{ "non-minimal 0x81", "30 81 03 01 01 ff", 0 },
	{ "leading zero length", "30 82 00 03 01 01 ff", 0 },
	{ "five length bytes", "30 85 00 00 00 00 01 00", 0 },
	{ "high tag number", "1f 81 01 00", 0 },
};

static void
test_der_table(void **state)
{
	struct dbuf	 b;
	struct der	 d, out;
	size_t		 i;
	int		 tag, rc;

	(void)state;
	for (i = 0; i < sizeof(der_cases) / sizeof(der_cases[0]); i++) {
		memset(&b, 0, sizeof(b));
		hex(&b, der_cases[i].hex);
		der_init(&d, b.b, b.len);
		rc = der_get_any(&d, &tag, &out, NULL);
		if ((rc == 0) != der_cases[i].ok)
			fail_msg("%s: rc %d", der_cases[i].name, rc);
		if (rc != 0)
			assert_int_equal(d.len, b.len);	/* unchanged */
	}
}

static void
test_der_integers(void **state)
{
	static const struct {
		const char	*hex;
		int		 rc;
		long long	 v;
	} cases[] = {
		{ "00", 0, 0 },
		{ "7f", 0, 127 },
		{ "00 80", 0, 128 },
		{ "7f ff ff ff ff ff ff ff", 0, 9223372036854775807LL },
		{ "00 7f", -1, 0 },		/* non-minimal */
		{ "80", -1, 0 },		/* negative */
		{ "00 80 00 00 00 00 00 00 00", -1, 0 },	/* 64 bits */
		{ "", -1, 0 },
	};
	struct dbuf	 b;
	struct der	 d;
	long long	 v;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&b, 0, sizeof(b));
		hex(&b, cases[i].hex);
		der_init(&d, b.b, b.len);
		v = -42;
		assert_int_equal(der_int_small(&d, &v), cases[i].rc);
		if (cases[i].rc == 0)
			assert_true(v == cases[i].v);
	}
}

static void
test_der_times(void **state)
{
	static const struct {
		int		 tag;
		const char	*s;
		int		 rc;
		long long	 t;
	} cases[] = {
		{ DER_UTC_TIME, "700101000000Z", 0, 0 },
		{ DER_UTC_TIME, "260101000000Z", 0, 1767225600LL },
		{ DER_UTC_TIME, "500101000000Z", 0, -631152000LL },
		{ DER_UTC_TIME, "491231235959Z", 0, 2524607999LL },
		{ DER_UTC_TIME, "240229000000Z", 0, 1709164800LL },
		{ DER_GENERALIZED_TIME, "20000229000000Z", 0, 951782400LL },
		{ DER_GENERALIZED_TIME, "99991231235959Z", 0,
		    253402300799LL },
		{ DER_UTC_TIME, "230229000000Z", -1, 0 },	/* not leap */
		{ DER_GENERALIZED_TIME, "21000229000000Z", -1, 0 },
		{ DER_UTC_TIME, "2601010000Z", -1, 0 },	/* no seconds */
		{ DER_UTC_TIME, "260101000000+0100", -1, 0 },
		{ DER_UTC_TIME, "261301000000Z", -1, 0 },	/* month 13 */
		{ DER_UTC_TIME, "260100000000Z", -1, 0 },	/* day 0 */
		{ DER_UTC_TIME, "260101240000Z", -1, 0 },	/* hour 24 */
		{ DER_UTC_TIME, "260101006000Z", -1, 0 },
		{ DER_UTC_TIME, "260101000060Z", -1, 0 },
		{ DER_UTC_TIME, "2601010000 0Z", -1, 0 },
		{ DER_GENERALIZED_TIME, "20260101000000.5Z", -1, 0 },
		{ DER_GENERALIZED_TIME, "260101000000Z", -1, 0 },
		{ DER_OCTET_STRING, "260101000000Z", -1, 0 },
	};
	struct der	 d;
	long long	 t;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		der_init(&d, cases[i].s, strlen(cases[i].s));
		t = -1;
		if (der_time(cases[i].tag, &d, &t) != cases[i].rc)
			fail_msg("%s: wrong result", cases[i].s);
		if (cases[i].rc == 0 && t != cases[i].t)
			fail_msg("%s: %lld, want %lld", cases[i].s, t,
			    cases[i].t);
	}
}

/* --- facts ------------------------------------------------------- */

static int
span_is(const struct x509_span *s, const char *str)
{
	return s->len == strlen(str) && memcmp(s->p, str, s->len) == 0;
}

static void
test_leaf_facts(void **state)
{
	struct testcert_spec	 spec = { .cn = "my-leaf",
	    .uri = { "spiffe://example.org/a", "spiffe://example.org/b" },
	    .dns = "leaf.example.org", .eku = "serverAuth,clientAuth",
	    .ku = "digitalSignature,keyEncipherment,keyAgreement",
	    .not_before = 1767225000LL, .not_after = 1767228600LL,
	    .serial = 0x42 };
	static struct testcert	 tc;
	struct x509_cert	 c;
	ecc_key			 key;
	uint8_t			 spki[128];
	word32			 idx = 0;
	int			 n;

	(void)state;
	assert_int_equal(testcert_make(&tc, &spec, &ch.inter), 0);
	assert_int_equal(x509_parse(tc.der, tc.der_len, &c), X509_OK);
	assert_int_equal(c.version, 3);
	assert_int_equal(c.serial.len, 1);
	assert_int_equal(c.serial.p[0], 0x42);
	assert_string_equal(c.subject_cn, "my-leaf");
	assert_string_equal(c.issuer_cn, "inter");
	assert_int_equal(c.issuer.len, inter.subject.len);
	assert_memory_equal(c.issuer.p, inter.subject.p, c.issuer.len);
	assert_true(c.not_before == 1767225000LL);
	assert_true(c.not_after == 1767228600LL);
	assert_true(c.has_bc);
	assert_false(c.is_ca);
	assert_int_equal(c.path_len, -1);
	assert_true(c.has_ku);
	assert_int_equal(c.ku, X509_KU_DIGITAL_SIGNATURE |
	    X509_KU_KEY_ENCIPHERMENT | X509_KU_KEY_AGREEMENT);
	assert_true(c.has_eku);
	assert_int_equal(c.eku, X509_EKU_SERVER_AUTH | X509_EKU_CLIENT_AUTH);
	assert_int_equal(c.nuris, 2);
	assert_true(span_is(&c.uris[0], "spiffe://example.org/a"));
	assert_true(span_is(&c.uris[1], "spiffe://example.org/b"));
	assert_int_equal(c.ndns, 1);
	assert_true(span_is(&c.dns[0], "leaf.example.org"));
	assert_int_equal(c.ski.len, 20);
	assert_int_equal(c.aki.len, inter.ski.len);
	assert_memory_equal(c.aki.p, inter.ski.p, c.aki.len);
	assert_int_equal(c.key_type, X509_KEY_EC);
	assert_int_equal(c.curve, X509_CURVE_P256);
	assert_int_equal(c.key_bits, 256);
	assert_int_equal(c.sig_alg, X509_SIG_ECDSA_SHA256);
	assert_false(c.unknown_critical);

	/* The SPKI is what wolfCrypt makes of the key. */
	assert_int_equal(wc_ecc_init(&key), 0);
	assert_int_equal(wc_EccPrivateKeyDecode(tc.key, &idx, &key,
	    (word32)tc.key_len), 0);
	assert_int_equal(wc_ecc_make_pub(&key, NULL), 0);
	n = wc_EccPublicKeyToDer(&key, spki, sizeof(spki), 1);
	wc_ecc_free(&key);
	assert_true(n > 0);
	assert_int_equal(c.spki.len, (size_t)n);
	assert_memory_equal(c.spki.p, spki, (size_t)n);
	assert_int_equal(c.der.len, tc.der_len);
}

static void
test_ca_facts(void **state)
{
	struct testcert_spec	 spec = { .cn = "ca384", .ca = 1,
	    .path_len = 2, .p384 = 1, .serial = 9 };
	static struct testcert	 tc, l;
	struct testcert_spec	 lspec = { .cn = "under384",
	    .uri = { "spiffe://x/y" } };
	struct x509_cert	 c;

	(void)state;
	assert_int_equal(testcert_make(&tc, &spec, NULL), 0);
	assert_int_equal(x509_parse(tc.der, tc.der_len, &c), X509_OK);
	assert_true(c.is_ca);
	assert_int_equal(c.path_len, 1);
	assert_int_equal(c.ku, X509_KU_KEY_CERT_SIGN | X509_KU_CRL_SIGN);
	assert_false(c.has_eku);
	assert_int_equal(c.curve, X509_CURVE_P384);
	assert_int_equal(c.key_bits, 384);
	assert_int_equal(c.sig_alg, X509_SIG_ECDSA_SHA384);
	assert_int_equal(c.issuer.len, c.subject.len);
	assert_memory_equal(c.issuer.p, c.subject.p, c.subject.len);
	assert_int_equal(c.nuris, 0);
	assert_int_equal(x509_check_signature(&c, &c), X509_OK);
	/* A P-256 leaf under it is signed with ECDSA-SHA384. */
	assert_int_equal(testcert_make(&l, &lspec, &tc), 0);
	assert_int_equal(x509_parse(l.der, l.der_len, &c), X509_OK);
	assert_int_equal(c.sig_alg, X509_SIG_ECDSA_SHA384);
	assert_int_equal(c.curve, X509_CURVE_P256);
}

static void
test_rsa_facts_and_signature(void **state)
{
	struct testcert_spec	 rspec = { .cn = "rsa root", .ca = 1,
	    .rsa = 1 };
	struct testcert_spec	 lspec = { .cn = "ec under rsa",
	    .uri = { "spiffe://example.org/r" } };
	static struct testcert	 r, l;
	struct x509_cert	 rc, lc;

	(void)state;
	assert_int_equal(testcert_make(&r, &rspec, NULL), 0);
	assert_int_equal(testcert_make(&l, &lspec, &r), 0);
	assert_int_equal(x509_parse(r.der, r.der_len, &rc), X509_OK);
	assert_int_equal(x509_parse(l.der, l.der_len, &lc), X509_OK);
	assert_int_equal(rc.key_type, X509_KEY_RSA);
	assert_int_equal(rc.key_bits, 2048);
	assert_int_equal(rc.curve, X509_CURVE_NONE);
	assert_int_equal(lc.sig_alg, X509_SIG_RSA_SHA256);
	assert_int_equal(x509_check_signature(&lc, &rc), X509_OK);
	assert_int_equal(x509_verify_chain(&lc, 1, &rc, 1, NOW, NULL),
	    X509_OK);
	/* An EC issuer cannot have made an RSA signature. */
	assert_int_equal(x509_check_signature(&lc, &inter), X509_ERR_KEY);
}

/* --- malformed certificates, one flaw each ------------------------- */

struct bad_case {
	const char	*name;
	struct tbs_spec	 spec;
	enum x509_err	 err;
};

static const struct bad_case bad_cases[] = {
	{ "negative serial", { .serial = "02 01 80" }, X509_ERR_SERIAL },
	{ "empty serial", { .serial = "02 00" }, X509_ERR_SERIAL },
	{ "22-byte serial", { .serial = "02 16 01 02 03 04 05 06 07 08 09"
	    " 0a 0b 0c 0d 0e 0f 10 11 12 13 14 15 16" }, X509_ERR_SERIAL },
	{ "version 4", { .version = "a0 03 02 01 03" }, X509_ERR_VERSION },
	{ "v1 with extensions", { .version = "" }, X509_ERR_VERSION },
	{ "utc time without seconds", { .validity = "30 1a 17 0b 32 35 30"
	    " 31 30 31 30 30 30 30 5a 17 0b 33 35 30 31 30 31 30 30 30 30"
	    " 5a" }, X509_ERR_TIME },
	{ "february 30", { .validity = "30 1e 17 0d 32 35 30 32 33 30 30 30"
	    " 30 30 30 30 5a 17 0d 33 35 30 31 30 31 30 30 30 30 30 30 5a" },
	    X509_ERR_TIME },
	{ "validity of one time", { .validity = "30 0f 17 0d 32 35 30 31 30"
	    " 31 30 30 30 30 30 30 5a" }, X509_ERR_TIME },
	{ "algorithm mismatch", { .alg = ALG_ES384 },
	    X509_ERR_SIG_ALG_MISMATCH },
	{ "duplicate extension", { .exts = { { OID_BC, 1, BC_LEAF },
	    { OID_BC, 1, BC_LEAF } } }, X509_ERR_DUP_EXTENSION },
	{ "basic constraints bad boolean", { .exts = { { OID_BC, 1,
	    "30 03 01 01 05" } } }, X509_ERR_EXTENSION },
	{ "basic constraints trailing", { .exts = { { OID_BC, 1,
	    "30 00 05 00" } } }, X509_ERR_EXTENSION },
	{ "key usage 8 unused bits", { .exts = { { OID_KU, 1,
	    "03 02 08 80" } } }, X509_ERR_EXTENSION },
	{ "key usage not a bit string", { .exts = { { OID_KU, 1,
	    "04 01 80" } } }, X509_ERR_EXTENSION },
	{ "empty subject alt name", { .exts = { { OID_SAN, 0, "30 00" } } },
	    X509_ERR_EXTENSION },
	{ "universal tag in SAN", { .exts = { { OID_SAN, 0,
	    "30 03 0c 01 61" } } }, X509_ERR_EXTENSION },
	{ "65 URI SANs", { .many_uris = 1 }, X509_ERR_TOO_MANY_SANS },
	{ "empty extensions", { .empty_exts = 1 }, X509_ERR_STRUCTURE },
	{ "unknown non-critical extension", { .exts = { { OID_UNKNOWN, 0,
	    "05 00" } } }, X509_OK },
	{ "element after extensions", { .after = "05 00" },
	    X509_ERR_STRUCTURE },
	{ "explicit v1 without extensions", { .version = "a0 03 02 01 00",
	    .no_exts = 1 }, X509_OK },
	{ "v1 by omission", { .version = "", .no_exts = 1 }, X509_OK },
};

static void
test_bad_certs(void **state)
{
	static struct dbuf	 cert;
	struct x509_cert	 c;
	enum x509_err		 err;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		build(&cert, &bad_cases[i].spec);
		memset(&c, 0x55, sizeof(c));
		err = x509_parse(cert.b, cert.len, &c);
		if (err != bad_cases[i].err)
			fail_msg("%s: got \"%s\", want \"%s\"",
			    bad_cases[i].name, x509_strerror(err),
			    x509_strerror(bad_cases[i].err));
		if (err != X509_OK)
			assert_null(c.der.p);
	}
}

/* The default build is sound: parses and chains to the root. */
static void
test_built_cert_is_sound(void **state)
{
	static struct dbuf	 cert;
	struct tbs_spec		 spec;
	struct x509_cert	 c[2];

	(void)state;
	memset(&spec, 0, sizeof(spec));
	build(&cert, &spec);
	assert_int_equal(x509_parse(cert.b, cert.len, &c[0]), X509_OK);
	assert_true(span_is(&c[0].uris[0], "spiffe://example.org/w"));
	assert_true(c[0].san_critical == 0);
	c[1] = inter;
	assert_int_equal(x509_verify_chain(c, 2, &root, 1, NOW, NULL),
	    X509_OK);
}

/* Every cut of a good certificate fails cleanly; so does junk after. */
static void
test_truncations(void **state)
{
	static uint8_t		 buf[TESTCERT_DER_MAX + 1];
	struct x509_cert	 c;
	size_t			 n;

	(void)state;
	for (n = 0; n < ch.leaf.der_len; n++)
		assert_int_not_equal(x509_parse(ch.leaf.der, n, &c), X509_OK);
	memcpy(buf, ch.leaf.der, ch.leaf.der_len);
	buf[ch.leaf.der_len] = 0;
	assert_int_equal(x509_parse(buf, ch.leaf.der_len + 1, &c),
	    X509_ERR_DER);
	/* One flipped bit anywhere: an error, or a failing signature. */
	for (n = 0; n < ch.leaf.der_len; n++) {
		memcpy(buf, ch.leaf.der, ch.leaf.der_len);
		buf[n] ^= 0x01;
		if (x509_parse(buf, ch.leaf.der_len, &c) == X509_OK)
			assert_int_not_equal(x509_check_signature(&c, &inter),
			    X509_OK);
	}
}

/* Unknown critical extensions and name constraints: parsed, refused. */
static void
test_unhandled_extensions(void **state)
{
	static struct dbuf	 cert;
	static struct testcert	 ncca, under;
	struct testcert_spec	 uspec = { .cn = "under nc",
	    .uri = { "spiffe://example.org/nc" } };
	struct tbs_spec		 spec;
	struct x509_cert	 c[2], nc[3];
	size_t			 at = 99;

	(void)state;
	memset(&spec, 0, sizeof(spec));
	spec.exts[0].oid = OID_KU;
	spec.exts[0].critical = 1;
	spec.exts[0].value = KU_DS;
	spec.exts[1].oid = OID_UNKNOWN;
	spec.exts[1].critical = 1;
	spec.exts[1].value = "05 00";
	build(&cert, &spec);
	assert_int_equal(x509_parse(cert.b, cert.len, &c[0]), X509_OK);
	assert_true(c[0].unknown_critical);
	c[1] = inter;
	assert_int_equal(x509_verify_chain(c, 2, &root, 1, NOW, &at),
	    X509_ERR_CRITICAL_EXTENSION);
	assert_int_equal(at, 0);

	/* Not critical: fine. Critical policies: fine, as in Go. */
	spec.exts[1].critical = 0;
	spec.exts[2].oid = OID_POLICIES;
	spec.exts[2].critical = 1;
	spec.exts[2].value = "30 06 30 04 06 02 2a 03";
	build(&cert, &spec);
	assert_int_equal(x509_parse(cert.b, cert.len, &c[0]), X509_OK);
	assert_false(c[0].unknown_critical);
	assert_int_equal(x509_verify_chain(c, 2, &root, 1, NOW, NULL),
	    X509_OK);

	/*
	 * Name constraints on a CA in the path are refused, not ignored:
	 * a CA built by hand (the leaf's key, signed by inter) with them,
	 * and a leaf under it.
	 */
	memset(&spec, 0, sizeof(spec));
	spec.exts[0].oid = OID_BC;
	spec.exts[0].critical = 1;
	spec.exts[0].value = "30 03 01 01 ff";
	spec.exts[1].oid = OID_KU;
	spec.exts[1].critical = 1;
	spec.exts[1].value = "03 02 02 04";	/* keyCertSign */
	spec.exts[2].oid = OID_NC;
	spec.exts[2].critical = 1;
	spec.exts[2].value = "30 00";
	/* wolfCrypt wants an SKI on an issuer it makes an AKI from. */
	spec.exts[3].oid = "55 1d 0e";
	spec.exts[3].value = "04 14 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d"
	    " 0e 0f 10 11 12 13 14";
	build(&cert, &spec);
	assert_int_equal(x509_parse(cert.b, cert.len, &nc[1]), X509_OK);
	assert_true(nc[1].has_name_constraints);
	assert_true(nc[1].is_ca);
	memcpy(ncca.der, cert.b, cert.len);
	ncca.der_len = cert.len;
	memcpy(ncca.key, ch.leaf.key, ch.leaf.key_len);
	ncca.key_len = ch.leaf.key_len;
	assert_int_equal(testcert_make(&under, &uspec, &ncca), 0);
	assert_int_equal(x509_parse(under.der, under.der_len, &nc[0]),
	    X509_OK);
	nc[2] = inter;
	assert_int_equal(x509_verify_chain(nc, 3, &root, 1, NOW, &at),
	    X509_ERR_NAME_CONSTRAINTS);
	assert_int_equal(at, 1);
	/* Without them the same shape verifies. */
	spec.exts[2] = spec.exts[3];
	spec.exts[3].oid = NULL;
	build(&cert, &spec);
	memcpy(ncca.der, cert.b, cert.len);
	ncca.der_len = cert.len;
	assert_int_equal(x509_parse(ncca.der, ncca.der_len, &nc[1]),
	    X509_OK);
	assert_int_equal(testcert_make(&under, &uspec, &ncca), 0);
	assert_int_equal(x509_parse(under.der, under.der_len, &nc[0]),
	    X509_OK);
	assert_int_equal(x509_verify_chain(nc, 3, &root, 1, NOW, NULL),
	    X509_OK);
}

/* --- path validation ------------------------------------------------ */

struct made {
	struct testcert		 tc;
	struct x509_cert	 c;
};

static void
make(struct made *m, const struct testcert_spec *spec,
    const struct testcert *issuer)
{
	assert_int_equal(testcert_make(&m->tc, spec, issuer), 0);
	assert_int_equal(x509_parse(m->tc.der, m->tc.der_len, &m->c),
	    X509_OK);
}

static void
test_verify_good(void **state)
{
	struct x509_cert	 chain[3];
	size_t			 at = 99;

	(void)state;
	chain[0] = leaf;
	chain[1] = inter;
	assert_int_equal(x509_verify_chain(chain, 2, &root, 1, NOW, &at),
	    X509_OK);
	/* The root may come along; it is simply not needed. */
	chain[2] = root;
	assert_int_equal(x509_verify_chain(chain, 3, &root, 1, NOW, NULL),
	    X509_OK);
	/* At the edges of every validity period. */
	assert_int_equal(x509_verify_chain(chain, 2, &root, 1,
	    TESTCERT_NOT_BEFORE, NULL), X509_OK);
	assert_int_equal(x509_verify_chain(chain, 2, &root, 1,
	    TESTCERT_NOT_AFTER, NULL), X509_OK);
	assert_int_equal(x509_verify_chain(chain, 2, &root, 1,
	    TESTCERT_NOT_AFTER + 1, &at), X509_ERR_EXPIRED);
	assert_int_equal(at, 0);
	assert_int_equal(x509_verify_chain(chain, 2, &root, 1,
	    TESTCERT_NOT_BEFORE - 1, NULL), X509_ERR_NOT_YET_VALID);
}

static void
test_verify_intermediates_any_order(void **state)
{
	static struct made	 i2, l2;
	struct testcert_spec	 s2 = { .cn = "inter2", .ca = 1,
	    .serial = 20 };
	struct testcert_spec	 sl = { .cn = "leaf2",
	    .uri = { "spiffe://example.org/deep" } };
	struct x509_cert	 chain[3];

	(void)state;
	make(&i2, &s2, &ch.inter);
	make(&l2, &sl, &i2.tc);
	chain[0] = l2.c;
	chain[1] = inter;	/* out of order: inter2 signs the leaf */
	chain[2] = i2.c;
	assert_int_equal(x509_verify_chain(chain, 3, &root, 1, NOW, NULL),
	    X509_OK);
	/* Missing the middle link. */
	assert_int_equal(x509_verify_chain(chain, 2, &root, 1, NOW, NULL),
	    X509_ERR_UNKNOWN_ISSUER);
}

static void
test_verify_failures(void **state)
{
	static struct made	 exp_leaf, exp_inter, exp_root, other_root;
	static struct made	 fake_inter, noca, noca_leaf, noku, noku_leaf;
	static struct made	 pl_root, pl_inter, pl_leaf;
	struct x509_cert	 chain[X509_CHAIN_MAX + 1];
	size_t			 at;

	(void)state;
	/* An expired leaf. */
	make(&exp_leaf, &(struct testcert_spec){ .cn = "old",
	    .uri = { "spiffe://example.org/old" }, .not_after = NOW - 1 },
	    &ch.inter);
	chain[0] = exp_leaf.c;
	chain[1] = inter;
	assert_int_equal(x509_verify_chain(chain, 2, &root, 1, NOW, &at),
	    X509_ERR_EXPIRED);
	assert_int_equal(at, 0);

	/* An expired intermediate, then an expired root. */
	make(&exp_inter, &(struct testcert_spec){ .cn = "inter", .ca = 1,
	    .not_after = NOW - 1 }, &ch.root);
	chain[0] = leaf;
	chain[1] = exp_inter.c;
	assert_int_equal(x509_verify_chain(chain, 2, &root, 1, NOW, &at),
	    X509_ERR_SIGNATURE);	/* same name, other key */
	make(&exp_inter, &(struct testcert_spec){ .cn = "exp-inter", .ca = 1,
	    .not_after = NOW - 1 }, &ch.root);
	make(&noca_leaf, &(struct testcert_spec){ .cn = "under-exp",
	    .uri = { "spiffe://example.org/u" } }, &exp_inter.tc);
	chain[0] = noca_leaf.c;
	chain[1] = exp_inter.c;
	assert_int_equal(x509_verify_chain(chain, 2, &root, 1, NOW, &at),
	    X509_ERR_EXPIRED);
	assert_int_equal(at, 1);
	make(&exp_root, &(struct testcert_spec){ .cn = "old root", .ca = 1,
	    .not_after = NOW - 1 }, NULL);
	make(&noca_leaf, &(struct testcert_spec){ .cn = "under old root",
	    .uri = { "spiffe://example.org/u" } }, &exp_root.tc);
	assert_int_equal(x509_verify_chain(&noca_leaf.c, 1, &exp_root.c, 1,
	    NOW, &at), X509_ERR_EXPIRED);
	assert_int_equal(at, 1);	/* n + 0: the root */

	/* The wrong root: nothing names the intermediate's issuer. */
	make(&other_root, &(struct testcert_spec){ .cn = "another root",
	    .ca = 1 }, NULL);
	chain[0] = leaf;
	chain[1] = inter;
	assert_int_equal(x509_verify_chain(chain, 2, &other_root.c, 1, NOW,
	    &at), X509_ERR_UNKNOWN_ISSUER);
	assert_int_equal(at, 1);
	/* A root of the same name but another key. */
	make(&other_root, &(struct testcert_spec){ .cn = "root", .ca = 1 },
	    NULL);
	assert_int_equal(x509_verify_chain(chain, 2, &other_root.c, 1, NOW,
	    &at), X509_ERR_SIGNATURE);
	assert_int_equal(at, 1);
	/* An impostor intermediate: right name, own key. */
	make(&fake_inter, &(struct testcert_spec){ .cn = "inter", .ca = 1 },
	    NULL);
	chain[1] = fake_inter.c;
	assert_int_equal(x509_verify_chain(chain, 2, &root, 1, NOW, &at),
	    X509_ERR_SIGNATURE);
	assert_int_equal(at, 0);

	/* An issuer that is not a CA, then one without keyCertSign. */
	make(&noca, &(struct testcert_spec){ .cn = "not a ca",
	    .ku = "digitalSignature,keyCertSign" }, &ch.root);
	make(&noca_leaf, &(struct testcert_spec){ .cn = "l",
	    .uri = { "spiffe://example.org/l" } }, &noca.tc);
	chain[0] = noca_leaf.c;
	chain[1] = noca.c;
	assert_int_equal(x509_verify_chain(chain, 2, &root, 1, NOW, &at),
	    X509_ERR_ISSUER_NOT_CA);
	assert_int_equal(at, 1);
	make(&noku, &(struct testcert_spec){ .cn = "ca without cert sign",
	    .ca = 1, .ku = "cRLSign" }, &ch.root);
	make(&noku_leaf, &(struct testcert_spec){ .cn = "l2",
	    .uri = { "spiffe://example.org/l" } }, &noku.tc);
	chain[0] = noku_leaf.c;
	chain[1] = noku.c;
	assert_int_equal(x509_verify_chain(chain, 2, &root, 1, NOW, &at),
	    X509_ERR_ISSUER_KEY_USAGE);
	assert_int_equal(at, 1);

	/* pathLen 0 on the root: no intermediate may follow it. */
	make(&pl_root, &(struct testcert_spec){ .cn = "pl root", .ca = 1,
	    .path_len = 1 /* pathLen 0 */ }, NULL);
	make(&pl_inter, &(struct testcert_spec){ .cn = "pl inter", .ca = 1 },
	    &pl_root.tc);
	make(&pl_leaf, &(struct testcert_spec){ .cn = "pl leaf",
	    .uri = { "spiffe://example.org/pl" } }, &pl_inter.tc);
	chain[0] = pl_leaf.c;
	chain[1] = pl_inter.c;
	assert_int_equal(x509_verify_chain(chain, 2, &pl_root.c, 1, NOW,
	    &at), X509_ERR_PATH_LEN);
	assert_int_equal(at, 2);	/* the root */
	assert_int_equal(x509_verify_chain(&pl_inter.c, 1, &pl_root.c, 1,
	    NOW, NULL), X509_OK);

	/* Shapes of the input. */
	assert_int_equal(x509_verify_chain(chain, 0, &root, 1, NOW, NULL),
	    X509_ERR_CHAIN_EMPTY);
	assert_int_equal(x509_verify_chain(chain, X509_CHAIN_MAX + 1, &root,
	    1, NOW, NULL), X509_ERR_CHAIN_TOO_LONG);
	assert_int_equal(x509_verify_chain(chain, 2, &root, 0, NOW, NULL),
	    X509_ERR_NO_ROOTS);
}

static void
test_strerror(void **state)
{
	int	 i, j;

	(void)state;
	for (i = X509_OK; i <= X509_ERR_NOMEM; i++)
		for (j = i + 1; j <= X509_ERR_NOMEM; j++)
			assert_string_not_equal(x509_strerror(i),
			    x509_strerror(j));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_der_table),
		cmocka_unit_test(test_der_integers),
		cmocka_unit_test(test_der_times),
		cmocka_unit_test(test_leaf_facts),
		cmocka_unit_test(test_ca_facts),
		cmocka_unit_test(test_rsa_facts_and_signature),
		cmocka_unit_test(test_built_cert_is_sound),
		cmocka_unit_test(test_bad_certs),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_unhandled_extensions),
		cmocka_unit_test(test_verify_good),
		cmocka_unit_test(test_verify_intermediates_any_order),
		cmocka_unit_test(test_verify_failures),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
