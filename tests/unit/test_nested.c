/*
 * Unit tests for a server nested under a parent (server/nested.c):
 * which prepared CA may be activated when the parent caps lifetimes,
 * when a chain really ends, the downstream CA's subject and template,
 * the offline budget and the retry delay.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/limits.h"
#include "core/mem.h"
#include "pki/cert.h"
#include "pki/der.h"
#include "pki/x509.h"
#include "server/ca.h"
#include "server/nested.h"
#include "testcerts.h"

#define T0	1000000		/* an arbitrary "now" */
#define HOUR	3600

/*
 * Activation. A CA of one hour issued at T0 has its activation point at
 * T0 + 50 min (1/6 left); the SVIDs to cover last 15 minutes, or 10
 * (what a one-hour CA guarantees) where the point itself is tested.
 */
static void
test_activation_without_active_ca(void **state)
{
	(void)state;
	/* First start: whatever the parent gave is better than nothing. */
	assert_int_equal(nested_activation(T0, 0, 0, T0 + 60, 900),
	    NESTED_ACTIVATE);
	/* The active one ended while the parent was away. */
	assert_int_equal(nested_activation(T0 + 2 * HOUR, T0, T0 + HOUR,
	    T0 + 3 * HOUR, 900), NESTED_ACTIVATE);
}

static void
test_activation_discards_ended(void **state)
{
	(void)state;
	assert_int_equal(nested_activation(T0, 0, 0, T0, 900),
	    NESTED_DISCARD);
	assert_int_equal(nested_activation(T0 + 10, T0, T0 + HOUR, T0 + 5,
	    900), NESTED_DISCARD);
}

static void
test_activation_discards_no_longer(void **state)
{
	(void)state;
	/* Ends when the active one does, or before: it adds nothing. */
	assert_int_equal(nested_activation(T0 + 1800, T0, T0 + HOUR,
	    T0 + HOUR, 900), NESTED_DISCARD);
	assert_int_equal(nested_activation(T0 + 1800, T0, T0 + HOUR,
	    T0 + HOUR - 1, 900), NESTED_DISCARD);
}

static void
test_activation_waits_for_its_point(void **state)
{
	(void)state;
	/*
	 * Prepared at half life, long enough: wait for 1/6 left. Ten
	 * minutes is the longest SVID a one-hour CA guarantees.
	 */
	assert_int_equal(nested_activation(T0 + 1800, T0, T0 + HOUR,
	    T0 + 1800 + HOUR, 600), NESTED_WAIT);
	assert_int_equal(nested_activation(T0 + 2999, T0, T0 + HOUR,
	    T0 + 1800 + HOUR, 600), NESTED_WAIT);
	assert_int_equal(nested_activation(T0 + 3000, T0, T0 + HOUR,
	    T0 + 1800 + HOUR, 600), NESTED_ACTIVATE);
	assert_int_equal(nested_activation(T0 + 3500, T0, T0 + HOUR,
	    T0 + 1800 + HOUR, 600), NESTED_ACTIVATE);
}

static void
test_activation_refuses_capped_ca(void **state)
{
	(void)state;
	/*
	 * The parent's own CA ends at T0 + 3800, so the CA it signed at
	 * half life ends there too: at the activation point (T0 + 3000)
	 * only 800 s would be left for 15-minute SVIDs. SPIRE activates
	 * such a CA and signs SVIDs that are cut short or already
	 * expired; it must be dropped and another asked for.
	 */
	assert_int_equal(nested_activation(T0 + 1800, T0, T0 + HOUR,
	    T0 + 3800, 900), NESTED_DISCARD);
	assert_int_equal(nested_activation(T0 + 3000, T0, T0 + HOUR,
	    T0 + 3000 + 899, 900), NESTED_DISCARD);
	/* Exactly one SVID lifetime left at its point is enough. */
	assert_int_equal(nested_activation(T0 + 3000, T0, T0 + HOUR,
	    T0 + 3000 + 900 + 1, 900), NESTED_ACTIVATE);
}

static void
test_activation_when_active_cut_short(void **state)
{
	(void)state;
	/*
	 * The active CA (issued for an hour) was capped by the parent at
	 * T0 + 1200: it cannot cover a 15-minute SVID from T0 + 400 on,
	 * long before its activation point. A good prepared CA takes over
	 * at once.
	 */
	assert_int_equal(nested_activation(T0 + 400, T0, T0 + 1200,
	    T0 + 400 + HOUR, 900), NESTED_ACTIVATE);
	/* ...but a prepared one as short is not taken. */
	assert_int_equal(nested_activation(T0 + 400, T0, T0 + 1200,
	    T0 + 1250, 900), NESTED_DISCARD);
	/* While it still covers an SVID, wait as usual. */
	assert_int_equal(nested_activation(T0 + 200, T0, T0 + 1200,
	    T0 + 200 + HOUR, 900), NESTED_WAIT);
}

/* Chain ends. */
struct chain3 {
	struct testcert	root, inter, ca;
	struct x509_cert c_root, c_inter, c_ca;
};

static void
chain3_make(struct chain3 *c, long long root_na, long long inter_na,
    long long ca_na)
{
	struct testcert_spec	 s;

	memset(c, 0, sizeof(*c));
	memset(&s, 0, sizeof(s));
	s.cn = "root";
	s.ca = 1;
	s.not_after = root_na;
	assert_int_equal(testcert_make(&c->root, &s, NULL), 0);
	s.cn = "inter";
	s.not_after = inter_na;
	assert_int_equal(testcert_make(&c->inter, &s, &c->root), 0);
	s.cn = "ca";
	s.not_after = ca_na;
	s.uri[0] = "spiffe://td";
	assert_int_equal(testcert_make(&c->ca, &s, &c->inter), 0);
	assert_int_equal(x509_parse(c->root.der, c->root.der_len,
	    &c->c_root), X509_OK);
	assert_int_equal(x509_parse(c->inter.der, c->inter.der_len,
	    &c->c_inter), X509_OK);
	assert_int_equal(x509_parse(c->ca.der, c->ca.der_len, &c->c_ca),
	    X509_OK);
}

static void
test_chain_end_earliest(void **state)
{
	struct chain3		*c;
	struct x509_cert	 ch[2];

	(void)state;
	c = mem_calloc(1, sizeof(*c));
	assert_non_null(c);
	/* The CA outlives its intermediate: the intermediate's end wins. */
	chain3_make(c, TESTCERT_NOT_AFTER, TESTCERT_NOW + 100,
	    TESTCERT_NOW + 500);
	ch[0] = c->c_ca;
	ch[1] = c->c_inter;
	assert_int_equal(nested_chain_end(ch, 2, &c->c_root, 1),
	    TESTCERT_NOW + 100);
	/* The CA alone: its own end. */
	assert_int_equal(nested_chain_end(ch, 1, NULL, 0),
	    TESTCERT_NOW + 500);
	assert_int_equal(nested_chain_end(ch, 0, NULL, 0), 0);
	mem_free(c);
}

static void
test_chain_end_root_caps(void **state)
{
	struct chain3		*c;
	struct x509_cert	 ch[2];

	(void)state;
	c = mem_calloc(1, sizeof(*c));
	assert_non_null(c);
	/*
	 * Everything below outlives the root (a CA signed past its
	 * upstream's end): nothing may be valid after the root.
	 */
	chain3_make(c, TESTCERT_NOW + 50, TESTCERT_NOW + 100,
	    TESTCERT_NOW + 500);
	ch[0] = c->c_ca;
	ch[1] = c->c_inter;
	assert_int_equal(nested_chain_end(ch, 2, &c->c_root, 1),
	    TESTCERT_NOW + 50);
	/* A root that did not sign the chain does not count. */
	assert_int_equal(nested_chain_end(ch, 2, &c->c_ca, 1),
	    TESTCERT_NOW + 100);
	mem_free(c);
}

/* Subjects. */
struct attr {
	uint8_t		 arc;	/* 2.5.4.arc; 0 ends */
	uint8_t		 tag;
	const char	*v;
};

/* A Name of one RDN per attribute, in the order given. */
static void
name_make(const struct attr *a, uint8_t **out, size_t *len)
{
	struct der_w	 w;
	uint8_t		 oid[3] = { 0x55, 0x04, 0 };

	der_w_init(&w, 4096);
	der_w_begin(&w, DER_SEQUENCE);
	for (; a->arc != 0; a++) {
		oid[2] = a->arc;
		der_w_begin(&w, DER_SET);
		der_w_begin(&w, DER_SEQUENCE);
		der_w_tlv(&w, DER_OID, oid, sizeof(oid));
		der_w_tlv(&w, a->tag, a->v, strlen(a->v));
		der_w_end(&w);
		der_w_end(&w);
	}
	der_w_end(&w);
	assert_int_equal(der_w_finish(&w, out, len), 0);
}

static void
assert_same_name(const uint8_t *got, size_t got_len, const struct attr *want)
{
	uint8_t	*exp;
	size_t	 exp_len;

	name_make(want, &exp, &exp_len);
	assert_int_equal(got_len, exp_len);
	assert_memory_equal(got, exp, exp_len);
	mem_free(exp);
}

static void
test_subject_spire_root(void **state)
{
	/* SPIRE's self-signed root: C=US, O=SPIFFE, serialNumber. */
	static const struct attr in[] = {
		{ 6, DER_PRINTABLE_STRING, "US" },
		{ 10, DER_PRINTABLE_STRING, "SPIFFE" },
		{ 5, DER_PRINTABLE_STRING, "1234567890" },
		{ 0, 0, NULL },
	};
	static const struct attr want[] = {
		{ 6, DER_PRINTABLE_STRING, "US" },
		{ 10, DER_PRINTABLE_STRING, "SPIFFE" },
		{ 11, DER_PRINTABLE_STRING, "DOWNSTREAM-1" },
		{ 5, DER_PRINTABLE_STRING, "1234567890" },
		{ 0, 0, NULL },
	};
	uint8_t	*name, *out;
	size_t	 len, out_len;

	(void)state;
	name_make(in, &name, &len);
	assert_int_equal(nested_downstream_subject(name, len, 1, &out,
	    &out_len), 0);
	assert_same_name(out, out_len, want);
	mem_free(out);
	mem_free(name);
}

static void
test_subject_go_order_and_ou_replaced(void **state)
{
	/*
	 * A nested parent's CA (OU DOWNSTREAM-1 already), attributes out
	 * of Go's order, an unknown one (title, 2.5.4.12), two CNs, a
	 * UTF8String that is printable and a value that is not.
	 */
	static const struct attr in[] = {
		{ 3, DER_UTF8_STRING, "first" },
		{ 11, DER_PRINTABLE_STRING, "DOWNSTREAM-1" },
		{ 12, DER_PRINTABLE_STRING, "title" },
		{ 10, DER_UTF8_STRING, "Acme & Co" },
		{ 7, DER_PRINTABLE_STRING, "Zurich" },
		{ 6, DER_PRINTABLE_STRING, "CH" },
		{ 3, DER_PRINTABLE_STRING, "second" },
		{ 0, 0, NULL },
	};
	static const struct attr want[] = {
		{ 6, DER_PRINTABLE_STRING, "CH" },
		{ 7, DER_PRINTABLE_STRING, "Zurich" },
		{ 10, DER_UTF8_STRING, "Acme & Co" },
		{ 11, DER_PRINTABLE_STRING, "DOWNSTREAM-2" },
		{ 3, DER_PRINTABLE_STRING, "second" },
		{ 0, 0, NULL },
	};
	uint8_t	*name, *out;
	size_t	 len, out_len;

	(void)state;
	name_make(in, &name, &len);
	assert_int_equal(nested_downstream_subject(name, len, 2, &out,
	    &out_len), 0);
	assert_same_name(out, out_len, want);
	mem_free(out);
	mem_free(name);
}

static void
test_subject_malformed(void **state)
{
	static const struct {
		const char	*why;
		uint8_t		 der[16];
		size_t		 len;
	} bad[] = {
		{ "empty", { 0 }, 0 },
		{ "not a SEQUENCE", { 0x31, 0x00 }, 2 },
		{ "truncated", { 0x30, 0x05, 0x31, 0x03 }, 4 },
		{ "RDN not a SET", { 0x30, 0x02, 0x30, 0x00 }, 4 },
		{ "ATV without value", { 0x30, 0x09, 0x31, 0x07, 0x30, 0x05,
		    0x06, 0x03, 0x55, 0x04, 0x06 }, 11 },
		{ "trailing bytes", { 0x30, 0x00, 0x00 }, 3 },
		{ "extra in ATV", { 0x30, 0x0d, 0x31, 0x0b, 0x30, 0x09,
		    0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x00, 0x05, 0x00 },
		    15 },
	};
	uint8_t	*out;
	size_t	 i, out_len;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		out = (uint8_t *)1;
		if (nested_downstream_subject(bad[i].der, bad[i].len, 1,
		    &out, &out_len) != -1)
			fail_msg("accepted: %s", bad[i].why);
		assert_null(out);
	}
}

static void
test_subject_too_many_values(void **state)
{
	struct attr	 in[SERVER_NAME_VALUES_MAX + 2];
	uint8_t		*name, *out;
	size_t		 i, len, out_len;

	(void)state;
	for (i = 0; i < SERVER_NAME_VALUES_MAX + 1; i++) {
		in[i].arc = 10;
		in[i].tag = DER_PRINTABLE_STRING;
		in[i].v = "O";
	}
	in[i].arc = 0;
	name_make(in, &name, &len);
	assert_int_equal(nested_downstream_subject(name, len, 1, &out,
	    &out_len), -1);
	mem_free(name);
}

/* The whole template. */
static void
test_template_capped_at_parent(void **state)
{
	struct testcert_spec	 s;
	struct testcert		*ca;
	struct x509_cert	 c;
	struct cert_template	 t;
	uint8_t			*subj;
	static const uint8_t	 spki[] = { 0x30, 0x00 };

	(void)state;
	ca = mem_calloc(1, sizeof(*ca));
	assert_non_null(ca);
	memset(&s, 0, sizeof(s));
	s.cn = "parent";
	s.ca = 1;
	assert_int_equal(testcert_make(ca, &s, NULL), 0);
	assert_int_equal(x509_parse(ca->der, ca->der_len, &c), X509_OK);
	/* A preferred TTL that fits: used as asked. */
	assert_int_equal(nested_downstream_template(&c, 1, T0 + 10 * HOUR,
	    spki, sizeof(spki), T0, HOUR, "spiffe://td", &t, &subj), 0);
	assert_int_equal(t.not_before, T0 - 10);
	assert_int_equal(t.not_after, T0 + HOUR);
	assert_int_equal(t.is_ca, 1);
	assert_int_equal(t.key_usage, CERT_KU_KEY_CERT_SIGN |
	    CERT_KU_CRL_SIGN);
	assert_int_equal(t.eku_tls, 0);
	assert_string_equal(t.uri, "spiffe://td");
	assert_ptr_equal(t.spki, spki);
	assert_ptr_equal(t.subject, subj);
	assert_true(t.serial_len > 0);
	mem_free(subj);
	/* Asking for more than the parent has left: cut at its end. */
	assert_int_equal(nested_downstream_template(&c, 1, T0 + 600, spki,
	    sizeof(spki), T0, HOUR, "spiffe://td", &t, &subj), 0);
	assert_int_equal(t.not_after, T0 + 600);
	mem_free(subj);
	/* A parent whose CA has ended signs nothing. */
	assert_int_equal(nested_downstream_template(&c, 1, T0, spki,
	    sizeof(spki), T0, HOUR, "spiffe://td", &t, &subj), -1);
	assert_null(subj);
	mem_free(ca);
}

/* Budget and retries. */
static void
test_budget(void **state)
{
	(void)state;
	assert_int_equal(nested_budget(T0, T0 + 600, 0, 0), 600);
	/* A prepared CA that will take over extends it. */
	assert_int_equal(nested_budget(T0, T0 + 600, T0 + 4000, 1), 4000);
	/* One that will be discarded does not. */
	assert_int_equal(nested_budget(T0, T0 + 600, T0 + 4000, 0), 600);
	assert_int_equal(nested_budget(T0, T0 + 600, T0 + 300, 1), 600);
	assert_int_equal(nested_budget(T0 + 700, T0 + 600, 0, 0), 0);
	assert_int_equal(nested_budget(T0, 0, 0, 0), 0);
}

static void
test_retry_delay(void **state)
{
	(void)state;
	assert_int_equal(nested_retry_delay(0, 0),
	    SERVER_UPSTREAM_RETRY_MIN_SEC);
	assert_int_equal(nested_retry_delay(5, 100000), 10);
	assert_int_equal(nested_retry_delay(10, 100000), 20);
	assert_int_equal(nested_retry_delay(200, 100000),
	    SERVER_UPSTREAM_RETRY_MAX_SEC);
	assert_int_equal(nested_retry_delay(SERVER_UPSTREAM_RETRY_MAX_SEC,
	    100000), SERVER_UPSTREAM_RETRY_MAX_SEC);
	/* Little left of the active CA: ask more often. */
	assert_int_equal(nested_retry_delay(200, 600), 60);
	assert_int_equal(nested_retry_delay(200, 20),
	    SERVER_UPSTREAM_RETRY_MIN_SEC);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_activation_without_active_ca),
		cmocka_unit_test(test_activation_discards_ended),
		cmocka_unit_test(test_activation_discards_no_longer),
		cmocka_unit_test(test_activation_waits_for_its_point),
		cmocka_unit_test(test_activation_refuses_capped_ca),
		cmocka_unit_test(test_activation_when_active_cut_short),
		cmocka_unit_test(test_chain_end_earliest),
		cmocka_unit_test(test_chain_end_root_caps),
		cmocka_unit_test(test_subject_spire_root),
		cmocka_unit_test(test_subject_go_order_and_ou_replaced),
		cmocka_unit_test(test_subject_malformed),
		cmocka_unit_test(test_subject_too_many_values),
		cmocka_unit_test(test_template_capped_at_parent),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_retry_delay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
