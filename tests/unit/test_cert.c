/*
 * Unit tests for pki/cert: certificates and requests as Go shapes them,
 * checked by wolfSSL's own parser and chain verifier, and by reading the
 * extensions' bytes where Go's exact encoding matters.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>

#include "core/mem.h"
#include "hal/key.h"
#include "pki/cert.h"
#include "pki/der.h"

struct fixture {
	struct key	*ca_key;
	struct key	*leaf_key;
	uint8_t		*ca;
	size_t		 ca_len;
	uint8_t		*ca_name;
	size_t		 ca_name_len;
};

static const uint8_t oid_ku[] = { 0x55, 0x1d, 0x0f };
static const uint8_t oid_bc[] = { 0x55, 0x1d, 0x13 };
static const uint8_t oid_san[] = { 0x55, 0x1d, 0x11 };
static const uint8_t oid_aki[] = { 0x55, 0x1d, 0x23 };

static int
setup(void **state)
{
	struct fixture		*f;
	struct cert_name	 n;
	struct cert_template	 t;
	enum key_err		 e;
	time_t			 now = time(NULL);

	f = mem_calloc(1, sizeof(*f));
	assert_non_null(f);
	f->ca_key = key_soft_generate(KEY_EC_P256, &e);
	assert_non_null(f->ca_key);
	f->leaf_key = key_soft_generate(KEY_EC_P256, &e);
	assert_non_null(f->leaf_key);
	memset(&n, 0, sizeof(n));
	n.country[0] = "US";
	n.organization[0] = "SPIFFE";
	n.serial_number = "12345";
	assert_int_equal(cert_name_encode(&n, &f->ca_name,
	    &f->ca_name_len), 0);
	memset(&t, 0, sizeof(t));
	assert_int_equal(cert_random_serial(&t), 0);
	t.subject = f->ca_name;
	t.subject_len = f->ca_name_len;
	t.not_before = now - 10;
	t.not_after = now + 86400;
	t.is_ca = 1;
	t.key_usage = CERT_KU_KEY_CERT_SIGN | CERT_KU_CRL_SIGN;
	t.uri = "spiffe://example.org";
	t.spki = key_spki(f->ca_key, &t.spki_len);
	assert_int_equal(cert_sign(&t, f->ca_key, NULL, 0, &f->ca,
	    &f->ca_len), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	key_free(f->ca_key);
	key_free(f->leaf_key);
	mem_free(f->ca);
	mem_free(f->ca_name);
	mem_free(f);
	return 0;
}

/* An SVID for spiffe://example.org/workload signed by the fixture CA. */
static void
make_leaf(struct fixture *f, const char *dns, uint8_t **out, size_t *len)
{
	struct cert_name	 n;
	struct cert_template	 t;
	uint8_t			*name;
	size_t			 name_len;
	time_t			 now = time(NULL);

	memset(&n, 0, sizeof(n));
	n.country[0] = "US";
	n.organization[0] = "SPIRE";
	n.common_name = dns;
	assert_int_equal(cert_name_encode(&n, &name, &name_len), 0);
	memset(&t, 0, sizeof(t));
	assert_int_equal(cert_random_serial(&t), 0);
	t.subject = name;
	t.subject_len = name_len;
	t.not_before = now - 10;
	t.not_after = now + 3600;
	t.key_usage = CERT_KU_DIGITAL_SIGNATURE | CERT_KU_KEY_ENCIPHERMENT |
	    CERT_KU_KEY_AGREEMENT;
	t.eku_tls = 1;
	t.uri = "spiffe://example.org/workload";
	if (dns != NULL) {
		t.dns[0] = dns;
		t.ndns = 1;
	}
	t.spki = key_spki(f->leaf_key, &t.spki_len);
	assert_int_equal(cert_sign(&t, f->ca_key, f->ca, f->ca_len, out,
	    len), 0);
	mem_free(name);
}

/*
 * Finds an extension by OID in a certificate; *critical and its value
 * (the OCTET STRING's contents). 0, or -1 when absent.
 */
static int
find_ext(const uint8_t *der, size_t len, const uint8_t *oid, size_t oidlen,
    int *critical, struct der *value)
{
	struct der	 r, c, tbs, e, seq, ext, o, b;
	int		 tag;

	der_init(&r, der, len);
	assert_int_equal(der_get(&r, DER_SEQUENCE, &c, NULL), 0);
	assert_int_equal(der_get(&c, DER_SEQUENCE, &tbs, NULL), 0);
	while (tbs.len > 0) {
		assert_int_equal(der_get_any(&tbs, &tag, &e, NULL), 0);
		if (tag != DER_CONTEXT_CONS(3))
			continue;
		assert_int_equal(der_get(&e, DER_SEQUENCE, &seq, NULL), 0);
		while (seq.len > 0) {
			assert_int_equal(der_get(&seq, DER_SEQUENCE, &ext,
			    NULL), 0);
			assert_int_equal(der_get(&ext, DER_OID, &o, NULL), 0);
			*critical = 0;
			if (der_get(&ext, DER_BOOLEAN, &b, NULL) == 0)
				*critical = der_bool(&b) == 1;
			assert_int_equal(der_get(&ext, DER_OCTET_STRING,
			    value, NULL), 0);
			if (o.len == oidlen && memcmp(o.p, oid, oidlen) == 0)
				return 0;
		}
	}
	return -1;
}

static void
test_ca_self_signed(void **state)
{
	struct fixture		*f = *state;
	struct DecodedCert	 dc;
	struct der		 v;
	int			 crit;

	wc_InitDecodedCert(&dc, f->ca, (word32)f->ca_len, NULL);
	assert_int_equal(wc_ParseCert(&dc, CA_TYPE, NO_VERIFY, NULL), 0);
	assert_true(dc.isCA);
	assert_int_equal(dc.extKeyUsage, KEYUSE_KEY_CERT_SIGN |
	    KEYUSE_CRL_SIGN);
	assert_non_null(dc.altNames);
	assert_int_equal(dc.altNames->type, ASN_URI_TYPE);
	assert_int_equal(dc.altNames->len, 20);
	assert_memory_equal(dc.altNames->name, "spiffe://example.org", 20);
	assert_null(dc.altNames->next);
	assert_true(dc.extSubjKeyIdSet);
	wc_FreeDecodedCert(&dc);

	/* Go's bytes: keyCertSign|cRLSign is 03 02 01 06, critical. */
	assert_int_equal(find_ext(f->ca, f->ca_len, oid_ku, sizeof(oid_ku),
	    &crit, &v), 0);
	assert_true(crit);
	assert_int_equal(v.len, 4);
	assert_memory_equal(v.p, "\x03\x02\x01\x06", 4);
	/* CA:TRUE with no path length, critical. */
	assert_int_equal(find_ext(f->ca, f->ca_len, oid_bc, sizeof(oid_bc),
	    &crit, &v), 0);
	assert_true(crit);
	assert_int_equal(v.len, 5);
	assert_memory_equal(v.p, "\x30\x03\x01\x01\xff", 5);
	/* Self-signed: no authority key ID, as Go leaves it out. */
	assert_int_equal(find_ext(f->ca, f->ca_len, oid_aki, sizeof(oid_aki),
	    &crit, &v), -1);
}

static void
test_leaf_chain_verifies(void **state)
{
	struct fixture		*f = *state;
	WOLFSSL_CERT_MANAGER	*cm;
	uint8_t			*leaf;
	size_t			 len;

	make_leaf(f, NULL, &leaf, &len);
	cm = wolfSSL_CertManagerNew();
	assert_non_null(cm);
	assert_int_equal(wolfSSL_CertManagerLoadCABuffer(cm, f->ca,
	    (long)f->ca_len, WOLFSSL_FILETYPE_ASN1), WOLFSSL_SUCCESS);
	assert_int_equal(wolfSSL_CertManagerVerifyBuffer(cm, leaf, (long)len,
	    WOLFSSL_FILETYPE_ASN1), WOLFSSL_SUCCESS);
	wolfSSL_CertManagerFree(cm);
	mem_free(leaf);
}

static void
test_leaf_profile(void **state)
{
	struct fixture		*f = *state;
	struct DecodedCert	 dc;
	struct DecodedCert	 ca;
	struct der		 v;
	uint8_t			*leaf;
	size_t			 len;
	int			 crit;

	make_leaf(f, "db.example.org", &leaf, &len);
	wc_InitDecodedCert(&dc, leaf, (word32)len, NULL);
	assert_int_equal(wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL), 0);
	assert_false(dc.isCA);
	assert_int_equal(dc.extKeyUsage, KEYUSE_DIGITAL_SIG |
	    KEYUSE_KEY_ENCIPHER | KEYUSE_KEY_AGREE);
	assert_int_equal(dc.extExtKeyUsage, EXTKEYUSE_SERVER_AUTH |
	    EXTKEYUSE_CLIENT_AUTH);
	assert_string_equal(dc.subjectCN, "db.example.org");
	/* DNS name first, then the one URI. */
	assert_non_null(dc.altNames);
	assert_int_equal(dc.altNames->type, ASN_DNS_TYPE);
	assert_non_null(dc.altNames->next);
	assert_int_equal(dc.altNames->next->type, ASN_URI_TYPE);
	assert_null(dc.altNames->next->next);
	/* The authority key ID is the CA's subject key ID. */
	wc_InitDecodedCert(&ca, f->ca, (word32)f->ca_len, NULL);
	assert_int_equal(wc_ParseCert(&ca, CA_TYPE, NO_VERIFY, NULL), 0);
	assert_true(dc.extAuthKeyIdSet);
	assert_memory_equal(dc.extAuthKeyId, ca.extSubjKeyId, KEYID_SIZE);
	wc_FreeDecodedCert(&ca);
	wc_FreeDecodedCert(&dc);

	/* digitalSignature|keyEncipherment|keyAgreement: 03 02 03 a8. */
	assert_int_equal(find_ext(leaf, len, oid_ku, sizeof(oid_ku), &crit,
	    &v), 0);
	assert_true(crit);
	assert_memory_equal(v.p, "\x03\x02\x03\xa8", 4);
	/* CA:FALSE is an empty SEQUENCE, still critical. */
	assert_int_equal(find_ext(leaf, len, oid_bc, sizeof(oid_bc), &crit,
	    &v), 0);
	assert_true(crit);
	assert_int_equal(v.len, 2);
	/* The subject is not empty, so the SAN is not critical. */
	assert_int_equal(find_ext(leaf, len, oid_san, sizeof(oid_san), &crit,
	    &v), 0);
	assert_false(crit);
	mem_free(leaf);
}

static void
test_leaf_other_ca_fails(void **state)
{
	struct fixture		*f = *state;
	WOLFSSL_CERT_MANAGER	*cm;
	struct key		*saved = f->ca_key;
	uint8_t			*leaf;
	size_t			 len;
	enum key_err		 e;

	/* Signed by a key that is not the CA's: must not verify. */
	f->ca_key = key_soft_generate(KEY_EC_P256, &e);
	assert_non_null(f->ca_key);
	make_leaf(f, NULL, &leaf, &len);
	key_free(f->ca_key);
	f->ca_key = saved;
	cm = wolfSSL_CertManagerNew();
	assert_int_equal(wolfSSL_CertManagerLoadCABuffer(cm, f->ca,
	    (long)f->ca_len, WOLFSSL_FILETYPE_ASN1), WOLFSSL_SUCCESS);
	assert_int_not_equal(wolfSSL_CertManagerVerifyBuffer(cm, leaf,
	    (long)len, WOLFSSL_FILETYPE_ASN1), WOLFSSL_SUCCESS);
	wolfSSL_CertManagerFree(cm);
	mem_free(leaf);
}

static void
test_p384_ca(void **state)
{
	struct cert_template	 t;
	struct key		*k;
	struct DecodedCert	 dc;
	uint8_t			*der;
	size_t			 len;
	enum key_err		 e;

	k = key_soft_generate(KEY_EC_P384, &e);
	assert_non_null(k);
	memset(&t, 0, sizeof(t));
	assert_int_equal(cert_random_serial(&t), 0);
	t.subject = (const uint8_t *)"\x30\x00";
	t.subject_len = 2;
	t.not_before = time(NULL) - 10;
	t.not_after = time(NULL) + 86400;
	t.is_ca = 1;
	t.key_usage = CERT_KU_KEY_CERT_SIGN;
	t.uri = "spiffe://example.org";
	t.spki = key_spki(k, &t.spki_len);
	assert_int_equal(cert_sign(&t, k, NULL, 0, &der, &len), 0);
	wc_InitDecodedCert(&dc, der, (word32)len, NULL);
	assert_int_equal(wc_ParseCert(&dc, CA_TYPE, VERIFY, NULL), 0);
	assert_int_equal(dc.signatureOID, CTC_SHA384wECDSA);
	wc_FreeDecodedCert(&dc);
	mem_free(der);
	key_free(k);
}

static void
test_csr_round_trip(void **state)
{
	struct fixture	*f = *state;
	struct cert_csr	 csr;
	uint8_t		*der;
	size_t		 len, spki_len;
	const uint8_t	*spki;

	assert_int_equal(cert_csr_create(f->leaf_key, f->ca_name,
	    f->ca_name_len, "spiffe://example.org", &der, &len), 0);
	assert_int_equal(cert_csr_parse(der, len, 1, &csr), CERT_CSR_OK);
	spki = key_spki(f->leaf_key, &spki_len);
	assert_int_equal(csr.spki_len, spki_len);
	assert_memory_equal(csr.spki, spki, spki_len);
	assert_int_equal(csr.subject_len, f->ca_name_len);

	/* A flipped byte in the signed part breaks the signature. */
	der[20] ^= 0x01;
	assert_int_not_equal(cert_csr_parse(der, len, 1, &csr), CERT_CSR_OK);
	mem_free(der);
}

/*
 * Two-phase signing: the to-be-signed bytes made first, the signature
 * later (as key_sign_async delivers it), give a certificate and a
 * request that verify; a signature over other bytes does not.
 */
static void
test_two_phase_signing(void **state)
{
	struct fixture		*f = *state;
	WOLFSSL_CERT_MANAGER	*cm;
	struct cert_template	 t;
	struct cert_tbs		 tbs;
	struct cert_csr		 csr;
	uint8_t			 sig[KEY_SIG_MAX], *der;
	size_t			 siglen = sizeof(sig), len;
	time_t			 now = time(NULL);

	memset(&t, 0, sizeof(t));
	assert_int_equal(cert_random_serial(&t), 0);
	t.subject = f->ca_name;
	t.subject_len = f->ca_name_len;
	t.not_before = now - 10;
	t.not_after = now + 3600;
	t.key_usage = CERT_KU_DIGITAL_SIGNATURE;
	t.uri = "spiffe://example.org/two-phase";
	t.spki = key_spki(f->leaf_key, &t.spki_len);
	assert_int_equal(cert_tbs_make(&t, KEY_EC_P256, f->ca, f->ca_len,
	    &tbs), 0);
	assert_int_equal(tbs.digest_len, 32);
	assert_int_equal(key_sign(f->ca_key, tbs.digest, tbs.digest_len, sig,
	    &siglen), KEY_OK);
	assert_int_equal(cert_tbs_finish(&tbs, sig, siglen, &der, &len), 0);
	cert_tbs_cleanup(&tbs);
	cm = wolfSSL_CertManagerNew();
	assert_non_null(cm);
	assert_int_equal(wolfSSL_CertManagerLoadCABuffer(cm, f->ca,
	    (long)f->ca_len, WOLFSSL_FILETYPE_ASN1), WOLFSSL_SUCCESS);
	assert_int_equal(wolfSSL_CertManagerVerifyBuffer(cm, der, (long)len,
	    WOLFSSL_FILETYPE_ASN1), WOLFSSL_SUCCESS);
	mem_free(der);

	/* The same signature on another template's bytes fails. */
	t.uri = "spiffe://example.org/other";
	assert_int_equal(cert_tbs_make(&t, KEY_EC_P256, f->ca, f->ca_len,
	    &tbs), 0);
	assert_int_equal(cert_tbs_finish(&tbs, sig, siglen, &der, &len), 0);
	cert_tbs_cleanup(&tbs);
	assert_int_not_equal(wolfSSL_CertManagerVerifyBuffer(cm, der,
	    (long)len, WOLFSSL_FILETYPE_ASN1), WOLFSSL_SUCCESS);
	mem_free(der);
	wolfSSL_CertManagerFree(cm);

	/* A request signed in two steps parses and verifies. */
	assert_int_equal(cert_csr_tbs_make(t.spki, t.spki_len, KEY_EC_P256,
	    f->ca_name, f->ca_name_len, NULL, NULL, 0, &tbs), 0);
	siglen = sizeof(sig);
	assert_int_equal(key_sign(f->leaf_key, tbs.digest, tbs.digest_len,
	    sig, &siglen), KEY_OK);
	assert_int_equal(cert_tbs_finish(&tbs, sig, siglen, &der, &len), 0);
	assert_int_equal(cert_csr_parse(der, len, 1, &csr), CERT_CSR_OK);
	mem_free(der);
	/* Signed by another key than the request's: refused. */
	siglen = sizeof(sig);
	assert_int_equal(key_sign(f->ca_key, tbs.digest, tbs.digest_len,
	    sig, &siglen), KEY_OK);
	assert_int_equal(cert_tbs_finish(&tbs, sig, siglen, &der, &len), 0);
	assert_int_equal(cert_csr_parse(der, len, 1, &csr),
	    CERT_CSR_SIGNATURE);
	mem_free(der);
	cert_tbs_cleanup(&tbs);
}

/* DNS SANs go in ahead of the URI, each as a [2] IA5String. */
static void
test_csr_dns_sans(void **state)
{
	static const uint8_t	 empty_name[] = { 0x30, 0x00 };
	static const uint8_t	 dns_a[] = { 0x82, 0x09, 'a', '.', 'e', 'x',
				    'a', 'm', 'p', 'l', 'e' };
	static const uint8_t	 uri[] = { 0x86, 0x14, 's', 'p', 'i', 'f',
				    'f', 'e', ':', '/', '/', 'e', 'x', 'a',
				    'm', 'p', 'l', 'e', '.', 'o', 'r', 'g' };
	const char *const	 dns[] = { "a.example", "b.example" };
	struct fixture		*f = *state;
	struct cert_csr		 csr;
	const uint8_t		*pa, *pb, *pu;
	uint8_t			*der;
	size_t			 len;

	assert_int_equal(cert_csr_create_sans(f->leaf_key, empty_name,
	    sizeof(empty_name), "spiffe://example.org", dns, 2, &der, &len),
	    0);
	assert_int_equal(cert_csr_parse(der, len, 1, &csr), CERT_CSR_OK);
	pa = memmem(der, len, dns_a, sizeof(dns_a));
	pb = memmem(der, len, "\x82\x09" "b.example", 11);
	pu = memmem(der, len, uri, sizeof(uri));
	assert_non_null(pa);
	assert_non_null(pb);
	assert_non_null(pu);
	assert_true(pa < pb && pb < pu);
	mem_free(der);

	/* DNS names alone, with no URI SAN. */
	assert_int_equal(cert_csr_create_sans(f->leaf_key, empty_name,
	    sizeof(empty_name), NULL, dns, 1, &der, &len), 0);
	assert_int_equal(cert_csr_parse(der, len, 1, &csr), CERT_CSR_OK);
	assert_non_null(memmem(der, len, dns_a, sizeof(dns_a)));
	assert_null(memmem(der, len, "spiffe://", 9));
	mem_free(der);
}

static void
test_csr_malformed(void **state)
{
	struct fixture	*f = *state;
	struct cert_csr	 csr;
	uint8_t		*der;
	size_t		 len, cut;

	assert_int_equal(cert_csr_create(f->leaf_key, f->ca_name,
	    f->ca_name_len, NULL, &der, &len), 0);
	assert_int_equal(cert_csr_parse(der, len, 1, &csr), CERT_CSR_OK);
	/* Every truncation is malformed, never a crash or an accept. */
	for (cut = 0; cut < len; cut++)
		assert_int_equal(cert_csr_parse(der, cut, 1, &csr),
		    CERT_CSR_MALFORMED);
	/* A certificate is not a request. */
	assert_int_equal(cert_csr_parse(f->ca, f->ca_len, 1, &csr),
	    CERT_CSR_MALFORMED);
	mem_free(der);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ca_self_signed),
		cmocka_unit_test(test_leaf_chain_verifies),
		cmocka_unit_test(test_leaf_profile),
		cmocka_unit_test(test_leaf_other_ca_fails),
		cmocka_unit_test(test_p384_ca),
		cmocka_unit_test(test_csr_round_trip),
		cmocka_unit_test(test_two_phase_signing),
		cmocka_unit_test(test_csr_dns_sans),
		cmocka_unit_test(test_csr_malformed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
