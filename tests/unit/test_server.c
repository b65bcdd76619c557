/*
 * Unit tests for the server's pure parts: which entries an agent may
 * have, SyncAuthorizedEntries paging, the CA rotation schedule and
 * serial texts, x509pop payloads and challenges, the datastore's
 * records and indexes, and the KeyManager's keys held by jobs.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <pb_decode.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "core/base64.h"
#include "core/mem.h"
#include "hal/key.h"
#include "server/authz.h"
#include "server/ca.h"
#include "server/datastore.h"
#include "server/entrysync.h"
#include "server/keymgr.h"
#include "server/plugins.h"
#include "server/x509pop.h"

/* authz: a table of entries standing for the datastore. */
struct tentry {
	const char	*id;
	const char	*parent;
	const char	*spiffe;
	const char	*sel[3];
};

#define SRV	"spiffe://td/spire/server"
#define AGENT	"spiffe://td/spire/agent/x/1"

static const struct tentry tentries[] = {
	{ "e1", AGENT, "spiffe://td/a", { "unix:uid:0" } },
	{ "e2", "spiffe://td/a", "spiffe://td/a/b", { "unix:uid:1" } },
	{ "e3", "spiffe://td/a/b", "spiffe://td/a/b/c", { "unix:uid:2" } },
	{ "e4", "spiffe://td/spire/agent/x/2", "spiffe://td/other",
	    { "unix:uid:0" } },
	{ "alias", SRV, "spiffe://td/cluster", { "k:zone:a" } },
	{ "alias2", SRV, "spiffe://td/cluster2", { "k:zone:a", "k:rack:9" } },
	{ "alias3", SRV, "spiffe://td/noselectors", { NULL } },
	{ "e5", "spiffe://td/cluster", "spiffe://td/via-alias",
	    { "unix:uid:3" } },
	{ "e6", "spiffe://td/cluster2", "spiffe://td/via-alias2",
	    { "unix:uid:4" } },
	/* A cycle: a/b/c parents a, which is reached already. */
	{ "e7", "spiffe://td/a/b/c", "spiffe://td/a", { "unix:uid:5" } },
};

static int
tchildren(void *arg, const char *parent,
    void (*fn)(const struct authz_entry *, void *), void *fnarg)
{
	struct authz_entry	e;
	size_t			i, n;

	(void)arg;
	for (i = 0; i < sizeof(tentries) / sizeof(tentries[0]); i++) {
		if (strcmp(tentries[i].parent, parent) != 0)
			continue;
		for (n = 0; n < 3 && tentries[i].sel[n] != NULL; n++)
			;
		e.id = tentries[i].id;
		e.spiffe_id = tentries[i].spiffe;
		e.selectors = tentries[i].sel;
		e.nselectors = n;
		fn(&e, fnarg);
	}
	return 0;
}

static void
test_authz_parent_chain(void **state)
{
	struct authz_set	set;

	(void)state;
	assert_int_equal(authz_reachable(tchildren, NULL, AGENT, SRV, NULL, 0,
	    100, &set), 0);
	assert_int_equal(set.n, 4);	/* e1, e2, e3, and e7 (cycle) */
	assert_true(authz_set_has(&set, "e1"));
	assert_true(authz_set_has(&set, "e2"));
	assert_true(authz_set_has(&set, "e3"));
	assert_true(authz_set_has(&set, "e7"));
	assert_false(authz_set_has(&set, "e4"));
	assert_false(authz_set_has(&set, "alias"));
	authz_set_free(&set);
}

static void
test_authz_node_alias_subset(void **state)
{
	const char *const	one[] = { "k:zone:a" };
	const char *const	two[] = { "k:zone:a", "k:rack:9", "k:x:y" };
	struct authz_set	set;

	(void)state;
	assert_int_equal(authz_reachable(tchildren, NULL, AGENT, SRV, one, 1,
	    100, &set), 0);
	assert_true(authz_set_has(&set, "alias"));
	assert_true(authz_set_has(&set, "e5"));
	/* alias2 needs both of its selectors. */
	assert_false(authz_set_has(&set, "alias2"));
	assert_false(authz_set_has(&set, "e6"));
	/* An alias without selectors applies to nobody. */
	assert_false(authz_set_has(&set, "alias3"));
	authz_set_free(&set);

	assert_int_equal(authz_reachable(tchildren, NULL, AGENT, SRV, two, 3,
	    100, &set), 0);
	assert_true(authz_set_has(&set, "alias2"));
	assert_true(authz_set_has(&set, "e6"));
	authz_set_free(&set);
}

static void
test_authz_other_agent_gets_nothing_of_ours(void **state)
{
	struct authz_set	set;

	(void)state;
	assert_int_equal(authz_reachable(tchildren, NULL,
	    "spiffe://td/spire/agent/x/2", SRV, NULL, 0, 100, &set), 0);
	assert_int_equal(set.n, 1);
	assert_true(authz_set_has(&set, "e4"));
	assert_false(authz_set_has(&set, "e1"));
	authz_set_free(&set);
}

static void
test_authz_cap_fails(void **state)
{
	struct authz_set	set;

	(void)state;
	assert_int_equal(authz_reachable(tchildren, NULL, AGENT, SRV, NULL, 0,
	    2, &set), -1);
	authz_set_free(&set);
}

static void
test_authz_subset(void **state)
{
	const char *const	a[] = { "x:1", "y:2" };
	const char *const	b[] = { "y:2", "z:3", "x:1" };

	(void)state;
	assert_true(authz_selectors_subset(a, 2, b, 3));
	assert_false(authz_selectors_subset(b, 3, a, 2));
	assert_true(authz_selectors_subset(a, 0, b, 0));
}

/* entrysync */
static void
test_entrysync_single_up_to_a_page(void **state)
{
	(void)state;
	assert_true(entrysync_single(0, 500));
	assert_true(entrysync_single(500, 500));
	assert_false(entrysync_single(501, 500));
}

static void
test_entrysync_pages(void **state)
{
	struct { size_t n, pages; } c[] = {
		{ 0, 1 }, { 1, 1 }, { 500, 1 }, { 501, 2 }, { 1000, 2 },
		{ 1001, 3 }, { 600, 2 },
	};
	size_t	i, s, e;
	int	more;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		assert_int_equal(entrysync_pages(c[i].n, 500), c[i].pages);
	entrysync_page(600, 500, 0, &s, &e, &more);
	assert_int_equal(s, 0);
	assert_int_equal(e, 500);
	assert_true(more);
	entrysync_page(600, 500, 1, &s, &e, &more);
	assert_int_equal(s, 500);
	assert_int_equal(e, 600);
	assert_false(more);
	/* An empty series is one empty last page. */
	entrysync_page(0, 500, 0, &s, &e, &more);
	assert_int_equal(s, 0);
	assert_int_equal(e, 0);
	assert_false(more);
}

/* CA schedule */
#define H	3600
#define D	(24 * H)

static void
test_ca_schedule_short_lifetimes(void **state)
{
	(void)state;
	/* 24h CA: prepare with 12h left, activate with 4h left. */
	assert_int_equal(ca_prepare_at(0, D), D - 12 * H);
	assert_int_equal(ca_activate_at(0, D), D - 4 * H);
	/* A lifetime of 60 s: 30 s and 10 s before the end. */
	assert_int_equal(ca_prepare_at(100, 160), 130);
	assert_int_equal(ca_activate_at(100, 160), 150);
}

static void
test_ca_schedule_caps(void **state)
{
	(void)state;
	/* One year: capped at 30 days and 7 days before the end. */
	assert_int_equal(ca_prepare_at(0, 365 * D), 335 * D);
	assert_int_equal(ca_activate_at(0, 365 * D), 358 * D);
	assert_int_equal(ca_max_svid_ttl(D), 4 * H);
	assert_int_equal(ca_max_svid_ttl(365 * D), 7 * D);
}

static void
test_ca_serial_text(void **state)
{
	const uint8_t	one[] = { 0x01 };
	const uint8_t	big[] = { 0x01, 0, 0, 0, 0, 0, 0, 0, 0 };
	const uint8_t	ff[16] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const uint8_t	lead[] = { 0x00, 0x80, 0x0a };
	char		buf[64];

	(void)state;
	assert_int_equal(ca_serial_decimal(one, 1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1");
	assert_int_equal(ca_serial_decimal(big, sizeof(big), buf,
	    sizeof(buf)), 0);
	assert_string_equal(buf, "18446744073709551616");
	assert_int_equal(ca_serial_decimal(ff, sizeof(ff), buf, sizeof(buf)),
	    0);
	assert_string_equal(buf, "340282366920938463463374607431768211455");
	assert_int_equal(ca_serial_decimal(ff, sizeof(ff), buf, 10), -1);
	assert_int_equal(ca_serial_hex(lead, sizeof(lead), buf, sizeof(buf)),
	    0);
	assert_string_equal(buf, "800a");
}

/* x509pop */
static const struct {
	const char	*name;
	const char	*json;
} bad_payloads[] = {
	{ "not json", "certificates" },
	{ "no certificates member", "{}" },
	{ "empty list", "{\"certificates\": []}" },
	{ "not a list", "{\"certificates\": \"MIIB\"}" },
	{ "number in list", "{\"certificates\": [1]}" },
	{ "bad base64", "{\"certificates\": [\"!!!\"]}" },
	{ "five intermediates", "{\"certificates\": [\"AA==\", \"AA==\", "
	    "\"AA==\", \"AA==\", \"AA==\", \"AA==\"]}" },
};

static void
test_x509pop_bad_payloads(void **state)
{
	struct x509pop_payload	p;
	char			why[256];
	size_t			i;

	(void)state;
	for (i = 0; i < sizeof(bad_payloads) / sizeof(bad_payloads[0]); i++) {
		why[0] = '\0';
		if (x509pop_parse_payload((const uint8_t *)bad_payloads[i].json,
		    strlen(bad_payloads[i].json), &p, why, sizeof(why)) != -1)
			fail_msg("payload \"%s\" accepted",
			    bad_payloads[i].name);
		assert_true(why[0] != '\0');
		x509pop_payload_free(&p);
	}
}

static void
test_x509pop_payload_ok(void **state)
{
	const char		*j = "{\"certificates\": [\"AQID\", \"BAU=\"]}";
	struct x509pop_payload	 p;
	char			 why[256];

	(void)state;
	assert_int_equal(x509pop_parse_payload((const uint8_t *)j, strlen(j),
	    &p, why, sizeof(why)), 0);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.len[0], 3);
	assert_memory_equal(p.der[0], "\1\2\3", 3);
	assert_int_equal(p.len[1], 2);
	x509pop_payload_free(&p);
}

static void
test_x509pop_challenge_shape(void **state)
{
	uint8_t		 nonce[X509POP_NONCE_LEN], got[64];
	json_t		*root;
	char		*s;
	size_t		 n;

	(void)state;
	memset(nonce, 7, sizeof(nonce));
	s = x509pop_challenge(nonce, 0);
	assert_non_null(s);
	root = json_loads(s, 0, NULL);
	assert_non_null(root);
	assert_true(json_is_null(json_object_get(root, "rsa_signature")));
	assert_int_equal(base64_decode(BASE64_STD, json_string_value(
	    json_object_get(json_object_get(root, "ecdsa_signature"),
	    "nonce")), 44, got, sizeof(got), &n), 0);
	assert_int_equal(n, X509POP_NONCE_LEN);
	assert_memory_equal(got, nonce, n);
	json_decref(root);
	mem_free(s);
}

/* Builds an ECDSA response over SHA-256(nonce || rn) signed by k. */
static char *
pop_response(struct key *k, const uint8_t *nonce,
    const uint8_t *signed_nonce)
{
	uint8_t		 msg[64], d[32], sig[KEY_SIG_MAX];
	char		 rb[128], sb[128], nb[64], *out;
	size_t		 siglen = sizeof(sig), rl, sl;
	const uint8_t	*r, *s;
	uint8_t		 rn[32];

	memset(rn, 9, sizeof(rn));
	memcpy(msg, signed_nonce, 32);
	memcpy(msg + 32, rn, 32);
	assert_int_equal(wc_Sha256Hash(msg, sizeof(msg), d), 0);
	(void)nonce;
	assert_int_equal(key_sign(k, d, sizeof(d), sig, &siglen), KEY_OK);
	/* SEQUENCE { INTEGER r, INTEGER s }, short lengths for P-256. */
	rl = sig[3];
	r = sig + 4;
	sl = sig[5 + rl];
	s = sig + 6 + rl;
	assert_int_equal(base64_encode(BASE64_STD, r, rl, rb, sizeof(rb)), 0);
	assert_int_equal(base64_encode(BASE64_STD, s, sl, sb, sizeof(sb)), 0);
	assert_int_equal(base64_encode(BASE64_STD, rn, 32, nb, sizeof(nb)), 0);
	out = mem_alloc(512);
	snprintf(out, 512, "{\"ecdsa_signature\":{\"nonce\":\"%s\",\"r\":"
	    "\"%s\",\"s\":\"%s\"},\"rsa_signature\":null}", nb, rb, sb);
	return out;
}

static void
test_x509pop_response(void **state)
{
	struct x509_cert	 leaf;
	struct key		*k;
	enum key_err		 e;
	uint8_t			 nonce[32], other[32];
	char			*resp, why[256];
	const char		*bad[] = {
		"", "{}", "{\"ecdsa_signature\": null}",
		"{\"ecdsa_signature\": {\"nonce\": \"AA==\"}}",
		"{\"ecdsa_signature\": {\"nonce\": \"CQkJCQkJCQkJCQkJCQkJCQkJ"
		    "CQkJCQkJCQkJCQkJCQk=\", \"r\": \"\", \"s\": \"AQ==\"}}",
		"{\"rsa_signature\": {\"nonce\": \"AA==\"}}",
	};
	size_t			 i;

	(void)state;
	k = key_soft_generate(KEY_EC_P256, &e);
	assert_non_null(k);
	memset(&leaf, 0, sizeof(leaf));
	leaf.key_type = X509_KEY_EC;
	leaf.spki.p = key_spki(k, &leaf.spki.len);
	memset(nonce, 1, sizeof(nonce));
	memset(other, 2, sizeof(other));

	resp = pop_response(k, nonce, nonce);
	assert_int_equal(x509pop_check_response((const uint8_t *)resp,
	    strlen(resp), nonce, &leaf, why, sizeof(why)), 0);
	mem_free(resp);

	/* A signature over another nonce fails. */
	resp = pop_response(k, nonce, other);
	assert_int_equal(x509pop_check_response((const uint8_t *)resp,
	    strlen(resp), nonce, &leaf, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "verify failed"));
	mem_free(resp);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (x509pop_check_response((const uint8_t *)bad[i],
		    strlen(bad[i]), nonce, &leaf, why, sizeof(why)) != -1)
			fail_msg("response %zu accepted", i);
	key_free(k);
}

static void
test_x509pop_fingerprint(void **state)
{
	char	fp[41];

	(void)state;
	/* SHA-1 of "abc". */
	assert_int_equal(x509pop_fingerprint((const uint8_t *)"abc", 3, fp),
	    0);
	assert_string_equal(fp, "a9993e364706816aba3e25717850c26c9cd0d89d");
}

/* datastore */
struct ds_fixture {
	char		 dir[64];
	struct store	*st;
};

static int
ds_setup(void **state)
{
	struct ds_fixture	*f;
	struct store_config	 sc;

	f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_server.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	memset(&sc, 0, sizeof(sc));
	sc.path = f->dir;
	sc.kind = "server";
	sc.schema = 2;
	sc.tables = ds_tables;
	sc.ntables = DS_NTABLES;
	sc.map_size = 4 * 1024 * 1024;
	sc.flags = STORE_OPEN_NOSYNC_UNSAFE;
	if (store_open(&sc, &f->st) != STORE_OK)
		return -1;
	*state = f;
	return 0;
}

static int
ds_teardown(void **state)
{
	struct ds_fixture	*f = *state;
	char			 cmd[128];

	store_close(f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static int
count_cb(const char *id, size_t len, void *arg)
{
	(void)id;
	(void)len;
	(*(int *)arg)++;
	return 0;
}

static int
index_count(struct store_txn *txn, enum ds_table t, const char *key)
{
	int	n = 0;

	assert_int_equal(ds_entry_walk_index(txn, t, key, count_cb, &n), 0);
	return n;
}

static void
test_ds_entry_indexes(void **state)
{
	struct ds_fixture	*f = *state;
	struct store_txn	*txn;
	spire_api_types_Entry	 e, got;
	spire_api_types_Selector sel[2] = {
		{ (char *)(uintptr_t)"unix", (char *)(uintptr_t)"uid:0" },
		{ (char *)(uintptr_t)"unix", (char *)(uintptr_t)"gid:0" },
	};

	memset(&e, 0, sizeof(e));
	e.id = (char *)(uintptr_t)"id-1";
	e.has_spiffe_id = e.has_parent_id = true;
	e.spiffe_id.trust_domain = (char *)(uintptr_t)"td";
	e.spiffe_id.path = (char *)(uintptr_t)"/w";
	e.parent_id.trust_domain = (char *)(uintptr_t)"td";
	e.parent_id.path = (char *)(uintptr_t)"/node";
	e.selectors = sel;
	e.selectors_count = 2;
	e.revision_number = 3;
	assert_int_equal(store_txn_begin(f->st, STORE_WRITE, &txn), STORE_OK);
	assert_int_equal(ds_entry_put(txn, &e), 0);
	assert_int_equal(ds_entry_get(txn, "id-1", &got), 0);
	assert_string_equal(got.spiffe_id.path, "/w");
	assert_int_equal(got.selectors_count, 2);
	assert_int_equal(got.revision_number, 3);
	pb_release(spire_api_types_Entry_fields, &got);
	assert_int_equal(index_count(txn, DS_ENTRY_BY_PARENT,
	    "spiffe://td/node"), 1);
	assert_int_equal(index_count(txn, DS_ENTRY_BY_SPIFFE,
	    "spiffe://td/w"), 1);
	assert_int_equal(index_count(txn, DS_ENTRY_BY_SELECTOR,
	    "unix:gid:0"), 1);

	/* Replacing moves the index rows with the entry. */
	e.parent_id.path = (char *)(uintptr_t)"/node2";
	e.selectors_count = 1;
	assert_int_equal(ds_entry_put(txn, &e), 0);
	assert_int_equal(index_count(txn, DS_ENTRY_BY_PARENT,
	    "spiffe://td/node"), 0);
	assert_int_equal(index_count(txn, DS_ENTRY_BY_PARENT,
	    "spiffe://td/node2"), 1);
	assert_int_equal(index_count(txn, DS_ENTRY_BY_SELECTOR,
	    "unix:gid:0"), 0);

	assert_int_equal(ds_entry_del(txn, "id-1"), 0);
	assert_int_equal(ds_entry_del(txn, "id-1"), DS_NOTFOUND);
	assert_int_equal(index_count(txn, DS_ENTRY_BY_PARENT,
	    "spiffe://td/node2"), 0);
	assert_int_equal(index_count(txn, DS_ENTRY_BY_SPIFFE,
	    "spiffe://td/w"), 0);
	assert_int_equal(ds_entry_get(txn, "id-1", &got), DS_NOTFOUND);
	store_txn_abort(txn);
}

static void
test_ds_tokens_single_use(void **state)
{
	struct ds_fixture	*f = *state;
	struct store_txn	*txn;
	int64_t			 exp = 0;

	assert_int_equal(store_txn_begin(f->st, STORE_WRITE, &txn), STORE_OK);
	assert_int_equal(ds_token_put(txn, "tok", 1234), 0);
	assert_int_equal(ds_token_put(txn, "tok", 1234), DS_EXISTS);
	assert_int_equal(ds_token_take(txn, "tok", &exp), 0);
	assert_int_equal(exp, 1234);
	assert_int_equal(ds_token_take(txn, "tok", &exp), DS_NOTFOUND);
	store_txn_abort(txn);
}

static void
test_ds_index_key_hashes_long_values(void **state)
{
	char	big[600], key[STORE_KEY_MAX + 1], key2[STORE_KEY_MAX + 1];
	size_t	n;

	(void)state;
	assert_int_equal(ds_index_key("short", 5, key), 5);
	assert_string_equal(key, "short");
	memset(big, 'a', sizeof(big));
	n = ds_index_key(big, sizeof(big), key);
	assert_int_equal(n, 65);
	assert_int_equal(key[0], '#');
	big[599] = 'b';
	(void)ds_index_key(big, sizeof(big), key2);
	assert_string_not_equal(key, key2);
}

/* Signs a digest with k and checks it against k's own public key. */
static void
assert_signs(struct key *k)
{
	uint8_t		 d[32], sig[KEY_SIG_MAX];
	size_t		 siglen = sizeof(sig), spki_len;
	const uint8_t	*spki;

	memset(d, 7, sizeof(d));
	assert_int_equal(key_sign(k, d, sizeof(d), sig, &siglen), KEY_OK);
	spki = key_spki(k, &spki_len);
	assert_int_equal(key_verify_spki(spki, spki_len, d, sizeof(d), sig,
	    siglen), 0);
}

/*
 * A key a job holds (a signature on the worker) survives its name
 * being given a new key, until the job lets go; one nobody holds is
 * replaced at once.
 */
static void
test_keymgr_held_key_outlives_replacement(void **state)
{
	struct server_plugins	 pl;
	struct keymgr		*km;
	struct key		*old, *new, *k3;

	(void)state;
	memset(&pl, 0, sizeof(pl));
	pl.km = SERVER_KM_MEMORY;
	km = keymgr_new(&pl, "/nonexistent");
	assert_non_null(km);
	assert_int_equal(keymgr_blocking(km), 0);
	old = keymgr_generate(km, "x509-CA-A", KEY_EC_P256);
	assert_non_null(old);
	keymgr_hold(km, old);
	new = keymgr_generate(km, "x509-CA-A", KEY_EC_P256);
	assert_non_null(new);
	assert_ptr_not_equal(new, old);
	assert_ptr_equal(keymgr_get(km, "x509-CA-A"), new);
	/* The held key still works (ASan would see a freed one). */
	assert_signs(old);
	keymgr_release(km, old);
	assert_signs(new);
	/* Not held: replaced (and freed) at once; the set is unchanged. */
	k3 = keymgr_generate(km, "x509-CA-A", KEY_EC_P256);
	assert_non_null(k3);
	assert_ptr_equal(keymgr_get(km, "x509-CA-A"), k3);
	assert_null(keymgr_get(km, "x509-CA-B"));
	keymgr_free(km);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_authz_parent_chain),
		cmocka_unit_test(test_authz_node_alias_subset),
		cmocka_unit_test(test_authz_other_agent_gets_nothing_of_ours),
		cmocka_unit_test(test_authz_cap_fails),
		cmocka_unit_test(test_authz_subset),
		cmocka_unit_test(test_entrysync_single_up_to_a_page),
		cmocka_unit_test(test_entrysync_pages),
		cmocka_unit_test(test_ca_schedule_short_lifetimes),
		cmocka_unit_test(test_ca_schedule_caps),
		cmocka_unit_test(test_ca_serial_text),
		cmocka_unit_test(test_x509pop_bad_payloads),
		cmocka_unit_test(test_x509pop_payload_ok),
		cmocka_unit_test(test_x509pop_challenge_shape),
		cmocka_unit_test(test_x509pop_response),
		cmocka_unit_test(test_x509pop_fingerprint),
		cmocka_unit_test_setup_teardown(test_ds_entry_indexes,
		    ds_setup, ds_teardown),
		cmocka_unit_test_setup_teardown(test_ds_tokens_single_use,
		    ds_setup, ds_teardown),
		cmocka_unit_test(test_ds_index_key_hashes_long_values),
		cmocka_unit_test(test_keymgr_held_key_outlives_replacement),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
