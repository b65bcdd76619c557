/*
 * Unit tests for spiffe/x509svid: each SVID rule broken on its own,
 * with certificates made at test time, verified at a fixed time.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "spiffe/x509svid.h"
#include "testcerts.h"

#define NOW		TESTCERT_NOW
#define WORKLOAD	"spiffe://example.org/workload"

static struct testchain	 ch;		/* example.org: root, inter, leaf */
static struct testchain	 other;		/* another CA, also "example.org" */
static struct testcert	 fed_root;	/* federated.test's root */
static struct x509_cert	 roots[1], other_roots[1], fed_roots[1];
static struct spiffe_td	 td, fed_td;
static struct x509svid_bundle bundles[2];

static int
setup(void **state)
{
	struct testcert_spec	 fr = { .cn = "fed root", .ca = 1 };

	(void)state;
	if (testchain_make(&ch, WORKLOAD, 0) != 0 ||
	    testchain_make(&other, WORKLOAD, 0) != 0 ||
	    testcert_make(&fed_root, &fr, NULL) != 0)
		return -1;
	if (x509_parse(ch.root.der, ch.root.der_len, &roots[0]) != X509_OK ||
	    x509_parse(other.root.der, other.root.der_len,
	    &other_roots[0]) != X509_OK ||
	    x509_parse(fed_root.der, fed_root.der_len, &fed_roots[0]) !=
	    X509_OK)
		return -1;
	if (spiffe_td_parse("example.org", 11, &td) != SPIFFE_OK ||
	    spiffe_td_parse("federated.test", 14, &fed_td) != SPIFFE_OK)
		return -1;
	bundles[0].td = &fed_td;
	bundles[0].roots = fed_roots;
	bundles[0].nroots = 1;
	bundles[1].td = &td;
	bundles[1].roots = roots;
	bundles[1].nroots = 1;
	return 0;
}

/* Verifies leaf (+ intermediates) against both bundles at NOW. */
static enum x509svid_err
verify(const struct testcert *leaf, const struct testcert *inter,
    const struct testcert *inter2, const struct x509svid_policy *policy,
    struct x509svid_result *res)
{
	const uint8_t	*chain[3];
	size_t		 len[3], n = 0;

	chain[n] = leaf->der;
	len[n++] = leaf->der_len;
	if (inter != NULL) {
		chain[n] = inter->der;
		len[n++] = inter->der_len;
	}
	if (inter2 != NULL) {
		chain[n] = inter2->der;
		len[n++] = inter2->der_len;
	}
	return x509svid_verify(chain, len, n, bundles, 2, NOW, policy, res);
}

/* A leaf under ch.inter from spec, verified with ch.inter. */
static enum x509svid_err
verify_leaf(const struct testcert_spec *spec, struct x509svid_result *res)
{
	static struct testcert	 l;

	assert_int_equal(testcert_make(&l, spec, &ch.inter), 0);
	return verify(&l, &ch.inter, NULL, NULL, res);
}

static void
test_good_chain(void **state)
{
	struct x509svid_result	 res;
	char			 id[SPIFFE_ID_MAX + 1];

	(void)state;
	assert_int_equal(verify(&ch.leaf, &ch.inter, NULL, NULL, &res),
	    X509SVID_OK);
	assert_int_equal(spiffe_id_format(&res.id, id, sizeof(id)),
	    SPIFFE_OK);
	assert_string_equal(id, WORKLOAD);
}

static void
test_expired(void **state)
{
	struct testcert_spec	 s = { .cn = "old", .uri = { WORKLOAD },
	    .not_after = NOW - 60 };
	struct x509svid_result	 res;
	char			 why[256];

	(void)state;
	assert_int_equal(verify_leaf(&s, &res), X509SVID_ERR_CHAIN);
	assert_int_equal(res.x509, X509_ERR_EXPIRED);
	assert_int_equal(res.cert, 0);
	x509svid_describe(X509SVID_ERR_CHAIN, &res, why, sizeof(why));
	assert_string_equal(why, "could not verify leaf certificate: "
	    "certificate 0: certificate has expired");
}

/* Signed by another CA than the bundle's. */
static void
test_wrong_ca(void **state)
{
	struct x509svid_result	 res;

	(void)state;
	assert_int_equal(verify(&other.leaf, &other.inter, NULL, NULL, &res),
	    X509SVID_ERR_CHAIN);
	assert_int_equal(res.x509, X509_ERR_SIGNATURE);
	/* With the other CA's bundle instead, it passes. */
	bundles[1].roots = other_roots;
	assert_int_equal(verify(&other.leaf, &other.inter, NULL, NULL, &res),
	    X509SVID_OK);
	bundles[1].roots = roots;
}

struct leaf_case {
	const char		*name;
	struct testcert_spec	 spec;
	enum x509svid_err	 err;
	enum spiffe_err		 id_err;
};

static const struct leaf_case leaf_cases[] = {
	{ "good", { .cn = "l", .uri = { WORKLOAD } }, X509SVID_OK, 0 },
	{ "good with both ekus", { .cn = "l", .uri = { WORKLOAD },
	    .eku = "serverAuth,clientAuth" }, X509SVID_OK, 0 },
	{ "good without basic constraints", { .cn = "l",
	    .uri = { WORKLOAD }, .no_bc = 1 }, X509SVID_OK, 0 },
	{ "two uri sans", { .cn = "l", .uri = { WORKLOAD,
	    "spiffe://example.org/second" } }, X509SVID_ERR_MANY_URI_SANS,
	    0 },
	{ "no uri san", { .cn = "l", .dns = "l.example.org" },
	    X509SVID_ERR_NO_URI_SAN, 0 },
	{ "uri not spiffe", { .cn = "l", .uri = { "https://example.org/a" } },
	    X509SVID_ERR_BAD_ID, SPIFFE_ERR_SCHEME },
	{ "uri with upper-case trust domain", { .cn = "l",
	    .uri = { "spiffe://Example.org/a" } }, X509SVID_ERR_BAD_ID,
	    SPIFFE_ERR_TD_UPPER },
	{ "id without path", { .cn = "l", .uri = { "spiffe://example.org" } },
	    X509SVID_ERR_ID_NO_PATH, 0 },
	{ "ca leaf", { .cn = "l", .uri = { WORKLOAD }, .ca = 1,
	    .ku = "digitalSignature" }, X509SVID_ERR_LEAF_CA, 0 },
	{ "no key usage", { .cn = "l", .uri = { WORKLOAD }, .no_ku = 1 },
	    X509SVID_ERR_LEAF_NO_DIGITAL_SIG, 0 },
	{ "key usage without digital signature", { .cn = "l",
	    .uri = { WORKLOAD }, .ku = "keyEncipherment" },
	    X509SVID_ERR_LEAF_NO_DIGITAL_SIG, 0 },
	{ "leaf with keyCertSign", { .cn = "l", .uri = { WORKLOAD },
	    .ku = "digitalSignature,keyCertSign" },
	    X509SVID_ERR_LEAF_CERT_SIGN, 0 },
	{ "leaf with cRLSign", { .cn = "l", .uri = { WORKLOAD },
	    .ku = "digitalSignature,cRLSign" }, X509SVID_ERR_LEAF_CRL_SIGN,
	    0 },
	{ "eku server only", { .cn = "l", .uri = { WORKLOAD },
	    .eku = "serverAuth" }, X509SVID_ERR_LEAF_EKU, 0 },
	{ "eku client only", { .cn = "l", .uri = { WORKLOAD },
	    .eku = "clientAuth" }, X509SVID_ERR_LEAF_EKU, 0 },
	{ "id of a federated trust domain", { .cn = "l",
	    .uri = { "spiffe://federated.test/w" } }, X509SVID_ERR_CHAIN, 0 },
	{ "id of a trust domain without bundle", { .cn = "l",
	    .uri = { "spiffe://nobundle.test/w" } }, X509SVID_ERR_NO_BUNDLE,
	    0 },
};

static void
test_leaf_table(void **state)
{
	struct x509svid_result	 res;
	enum x509svid_err	 err;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(leaf_cases) / sizeof(leaf_cases[0]); i++) {
		err = verify_leaf(&leaf_cases[i].spec, &res);
		if (err != leaf_cases[i].err)
			fail_msg("%s: got \"%s\", want \"%s\"",
			    leaf_cases[i].name, x509svid_strerror(err),
			    x509svid_strerror(leaf_cases[i].err));
		if (err == X509SVID_ERR_BAD_ID)
			assert_int_equal(res.spiffe, leaf_cases[i].id_err);
	}
}

/* A federated SVID chains to its own trust domain's bundle only. */
static void
test_federated(void **state)
{
	static struct testcert	 l;
	struct testcert_spec	 s = { .cn = "fed",
	    .uri = { "spiffe://federated.test/w" } };
	struct x509svid_result	 res;

	(void)state;
	assert_int_equal(testcert_make(&l, &s, &fed_root), 0);
	assert_int_equal(verify(&l, NULL, NULL, NULL, &res), X509SVID_OK);
	assert_true(spiffe_id_member_of(&res.id, &fed_td));
	/* example.org's CA may not vouch for federated.test's IDs. */
	assert_int_equal(verify_leaf(&s, &res), X509SVID_ERR_CHAIN);
	assert_int_equal(res.x509, X509_ERR_UNKNOWN_ISSUER);
}

static void
test_bad_intermediates(void **state)
{
	static struct testcert	 noca, noca_leaf, nosign, nosign_leaf;
	struct testcert_spec	 s1 = { .cn = "not a ca",
	    .ku = "digitalSignature,keyCertSign", .serial = 7 };
	struct testcert_spec	 s2 = { .cn = "ca no sign", .ca = 1,
	    .ku = "cRLSign", .serial = 8 };
	struct testcert_spec	 sl = { .cn = "l", .uri = { WORKLOAD } };
	struct x509svid_result	 res;

	(void)state;
	assert_int_equal(testcert_make(&noca, &s1, &ch.root), 0);
	assert_int_equal(testcert_make(&noca_leaf, &sl, &noca), 0);
	assert_int_equal(verify(&noca_leaf, &noca, NULL, NULL, &res),
	    X509SVID_ERR_INTER_NOT_CA);
	assert_int_equal(res.cert, 1);
	assert_int_equal(testcert_make(&nosign, &s2, &ch.root), 0);
	assert_int_equal(testcert_make(&nosign_leaf, &sl, &nosign), 0);
	assert_int_equal(verify(&nosign_leaf, &nosign, NULL, NULL, &res),
	    X509SVID_ERR_INTER_NO_CERT_SIGN);
	/* Even one not needed for the path must be a signing CA. */
	assert_int_equal(verify(&ch.leaf, &ch.inter, &noca, NULL, &res),
	    X509SVID_ERR_INTER_NOT_CA);
	assert_int_equal(res.cert, 2);
	/* A missing intermediate. */
	assert_int_equal(verify(&ch.leaf, NULL, NULL, NULL, &res),
	    X509SVID_ERR_CHAIN);
	assert_int_equal(res.x509, X509_ERR_UNKNOWN_ISSUER);
}

static void
test_policy(void **state)
{
	struct x509svid_policy	 p;
	struct x509svid_result	 res;
	struct spiffe_id	 want, wrong;
	struct spiffe_td	 other_td;

	(void)state;
	assert_int_equal(spiffe_id_parse(WORKLOAD, strlen(WORKLOAD), &want),
	    SPIFFE_OK);
	assert_int_equal(spiffe_id_parse("spiffe://example.org/other", 26,
	    &wrong), SPIFFE_OK);
	assert_int_equal(spiffe_td_parse("example.net", 11, &other_td),
	    SPIFFE_OK);
	memset(&p, 0, sizeof(p));
	p.id = &want;
	assert_int_equal(verify(&ch.leaf, &ch.inter, NULL, &p, &res),
	    X509SVID_OK);
	p.id = &wrong;
	assert_int_equal(verify(&ch.leaf, &ch.inter, NULL, &p, &res),
	    X509SVID_ERR_ID_MISMATCH);
	assert_true(spiffe_id_equal(&res.id, &want));
	p.id = NULL;
	p.td = &td;
	assert_int_equal(verify(&ch.leaf, &ch.inter, NULL, &p, &res),
	    X509SVID_OK);
	p.td = &other_td;
	assert_int_equal(verify(&ch.leaf, &ch.inter, NULL, &p, &res),
	    X509SVID_ERR_TD_MISMATCH);
}

static void
test_input_shapes(void **state)
{
	static const uint8_t	 junk[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
	const uint8_t		*chain[X509_CHAIN_MAX + 1];
	size_t			 len[X509_CHAIN_MAX + 1], i;
	struct x509svid_result	 res;

	(void)state;
	for (i = 0; i <= X509_CHAIN_MAX; i++) {
		chain[i] = ch.leaf.der;
		len[i] = ch.leaf.der_len;
	}
	assert_int_equal(x509svid_verify(chain, len, 0, bundles, 2, NOW,
	    NULL, &res), X509SVID_ERR_EMPTY);
	assert_int_equal(x509svid_verify(chain, len, X509_CHAIN_MAX + 1,
	    bundles, 2, NOW, NULL, &res), X509SVID_ERR_TOO_LONG);
	chain[1] = junk;
	len[1] = sizeof(junk);
	assert_int_equal(x509svid_verify(chain, len, 2, bundles, 2, NOW,
	    NULL, &res), X509SVID_ERR_PARSE);
	assert_int_equal(res.cert, 1);
	assert_int_equal(res.x509, X509_ERR_STRUCTURE);
}

static void
test_strerror(void **state)
{
	int	 i, j;

	(void)state;
	for (i = X509SVID_OK; i <= X509SVID_ERR_TD_MISMATCH; i++)
		for (j = i + 1; j <= X509SVID_ERR_TD_MISMATCH; j++)
			assert_string_not_equal(x509svid_strerror(i),
			    x509svid_strerror(j));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_chain),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_wrong_ca),
		cmocka_unit_test(test_leaf_table),
		cmocka_unit_test(test_federated),
		cmocka_unit_test(test_bad_intermediates),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_input_shapes),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
