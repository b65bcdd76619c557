/*
 * Unit tests for the agent's pure parts: selector matching, the
 * revision diff of SyncAuthorizedEntries, the rotation schedule and
 * backoff, x509pop's challenge response, entries from the wire, the
 * cache's record encodings (with a table of malformed records), and
 * what the cache may name as the agent key's TPM blob.
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
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "agent/internal.h"
#include "core/base64.h"
#include "core/mem.h"
#include "hal/key.h"
#include "pki/cert.h"
#include "pki/der.h"
#include "spire/api/types/types.pb.h"

static char **
strv(const char *const *in, size_t n)
{
	char	**v;
	size_t	 i;

	v = mem_calloc(n + 1, sizeof(*v));
	assert_non_null(v);
	for (i = 0; i < n; i++) {
		v[i] = mem_strdup(in[i]);
		assert_non_null(v[i]);
	}
	return v;
}

static void
test_selectors_subset(void **state)
{
	static const char *const wl[] = { "unix:gid:0", "unix:uid:0",
	    "unix:user:root", "unix:supplementary_gid:4" };
	static const struct {
		const char	*sel[3];
		size_t		 n;
		int		 want;
	} cases[] = {
		{ { "unix:uid:0" }, 1, 1 },
		{ { "unix:uid:0", "unix:gid:0" }, 2, 1 },
		{ { "unix:uid:0", "unix:gid:1" }, 2, 0 },
		{ { "unix:uid:1000" }, 1, 0 },
		{ { "unix:uid:0", "unix:user:root",
		    "unix:supplementary_gid:4" }, 3, 1 },
		{ { "k8s:ns:default" }, 1, 0 },
		{ { "unix:uid" }, 1, 0 },	/* a prefix is not a match */
		{ { NULL }, 0, 0 },		/* no selectors match nothing */
	};
	char	**set, **sub;
	size_t	 n = 4, i, m;

	(void)state;
	set = strv(wl, n);
	selectors_sort(set, &n);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		m = cases[i].n;
		sub = strv(cases[i].sel, m);
		selectors_sort(sub, &m);
		assert_int_equal(selectors_subset(sub, m, set, n),
		    cases[i].want);
		strings_free(sub, m);
	}
	strings_free(set, n);
}

static void
test_selectors_sort_drops_duplicates(void **state)
{
	static const char *const in[] = { "b", "a", "b", "c", "a" };
	char	**v;
	size_t	 n = 5;

	(void)state;
	v = strv(in, n);
	selectors_sort(v, &n);
	assert_int_equal(n, 3);
	assert_string_equal(v[0], "a");
	assert_string_equal(v[1], "b");
	assert_string_equal(v[2], "c");
	strings_free(v, n);
}

static struct agent_entry *
entry(const char *id, int64_t rev, int64_t created)
{
	struct agent_entry	*e;

	e = mem_calloc(1, sizeof(*e));
	assert_non_null(e);
	e->id = mem_strdup(id);
	e->revision = rev;
	e->created_at = created;
	return e;
}

static void
test_entries_diff(void **state)
{
	struct agent_entry	*cached[4];
	const struct entry_rev	 revs[] = {
		{ "e4", 1, 0 },		/* unknown */
		{ "e1", 1, 10 },	/* unchanged */
		{ "e2", 3, 10 },	/* newer revision */
		{ "e3", 1, 99 },	/* recreated: other creation time */
		{ "", 1, 0 },		/* malformed: ignored */
		{ "e5", -1, 0 },	/* malformed: ignored */
		{ "e4", 1, 0 },		/* repeated: asked for once */
		{ "e0", 2, 0 },		/* created_at 0: revision decides */
	};
	unsigned char		 seen[4];
	const char		**need;
	size_t			 nneed, i;

	(void)state;
	cached[0] = entry("e0", 2, 5);
	cached[1] = entry("e1", 1, 10);
	cached[2] = entry("e2", 2, 10);
	cached[3] = entry("e3", 1, 10);
	/* e9 is not mentioned: dropped (seen stays 0); none here. */
	assert_int_equal(entries_diff(cached, 4, revs, sizeof(revs) /
	    sizeof(revs[0]), seen, &need, &nneed), 0);
	assert_int_equal(nneed, 3);
	assert_string_equal(need[0], "e2");
	assert_string_equal(need[1], "e3");
	assert_string_equal(need[2], "e4");
	for (i = 0; i < 4; i++)
		assert_int_equal(seen[i], 1);
	mem_free(need);
	/* Nothing from the server: nothing seen, nothing needed. */
	assert_int_equal(entries_diff(cached, 4, NULL, 0, seen, &need,
	    &nneed), 0);
	assert_int_equal(nneed, 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(seen[i], 0);
		entry_free(cached[i]);
	}
}

static void
test_entries_stale(void **state)
{
	struct agent_entry	*e = entry("x", 4, 100);

	(void)state;
	assert_int_equal(entries_stale(e, 4, 100), 0);
	assert_int_equal(entries_stale(e, 4, 0), 0);
	assert_int_equal(entries_stale(e, 5, 100), 1);
	assert_int_equal(entries_stale(e, 4, 101), 1);
	entry_free(e);
}

static void
test_rotation_half_life(void **state)
{
	(void)state;
	/* Lifetime 1000 s: half 500, jitter +-50. */
	assert_int_equal(rotation_time(1000, 2000, 0.0), 2000 - 450);
	assert_int_equal(rotation_time(1000, 2000, 0.5), 2000 - 500);
	assert_true(rotation_time(1000, 2000, 0.999999) <= 2000 - 549);
	/* An SVID past its life, or a nonsense one, is due at once. */
	assert_int_equal(rotation_time(2000, 1000, 0.5), 2000);
}

static void
test_rotation_backoff(void **state)
{
	double	 cur = 0;
	int	 i;

	(void)state;
	cur = rotation_backoff_next(cur, 5000, 60000);
	assert_true(cur == 5000);
	cur = rotation_backoff_next(cur, 5000, 60000);
	assert_true(cur == 7500);
	for (i = 0; i < 20; i++)
		cur = rotation_backoff_next(cur, 5000, 60000);
	assert_true(cur == 60000);
	assert_true(rotation_jitter(1000, 0.0) == 900);
	assert_true(rotation_jitter(1000, 0.5) == 1000);
	assert_true(rotation_jitter(1000, 0.999) < 1100);
}

/* Decodes one base64 member of obj. */
static size_t
b64_member(json_t *obj, const char *name, uint8_t *out, size_t outsz)
{
	const char	*s = json_string_value(json_object_get(obj, name));
	size_t		 n;

	assert_non_null(s);
	assert_int_equal(base64_decode(BASE64_STD, s, strlen(s), out, outsz,
	    &n), 0);
	return n;
}

static void
test_x509pop_response(void **state)
{
	uint8_t		 chal[32], mine[32], nonce[64], r[64], s[64], d[32];
	uint8_t		 sig[128];
	struct key	*k;
	enum key_err	 ke;
	struct buf	 out;
	struct der_w	 w;
	json_t		*doc, *ec;
	json_error_t	 je;
	wc_Sha256	 h;
	uint8_t		*der;
	size_t		 rl, sl, nl, dl, spl;
	const uint8_t	*spki;
	char		 err[128] = "";

	(void)state;
	memset(chal, 0xa5, sizeof(chal));
	memset(mine, 0x3c, sizeof(mine));
	k = key_soft_generate(KEY_EC_P256, &ke);
	assert_non_null(k);
	buf_init(&out, 4096);
	assert_int_equal(x509pop_response_json(k, chal, sizeof(chal), mine,
	    &out, err, sizeof(err)), 0);
	doc = json_loadb((const char *)buf_ptr(&out), out.len, 0, &je);
	assert_non_null(doc);
	assert_true(json_is_null(json_object_get(doc, "rsa_signature")));
	ec = json_object_get(doc, "ecdsa_signature");
	assert_true(json_is_object(ec));
	nl = b64_member(ec, "nonce", nonce, sizeof(nonce));
	assert_int_equal(nl, 32);
	assert_memory_equal(nonce, mine, 32);
	rl = b64_member(ec, "r", r, sizeof(r));
	sl = b64_member(ec, "s", s, sizeof(s));
	/* Minimal unsigned big-endian: no leading zero byte. */
	assert_true(rl <= 32 && r[0] != 0);
	assert_true(sl <= 32 && s[0] != 0);
	/* The signature is over SHA-256(challenge nonce || ours). */
	assert_int_equal(wc_InitSha256(&h), 0);
	assert_int_equal(wc_Sha256Update(&h, chal, 32), 0);
	assert_int_equal(wc_Sha256Update(&h, mine, 32), 0);
	assert_int_equal(wc_Sha256Final(&h, d), 0);
	der_w_init(&w, sizeof(sig));
	der_w_begin(&w, DER_SEQUENCE);
	der_w_uint(&w, r, rl);
	der_w_uint(&w, s, sl);
	der_w_end(&w);
	assert_int_equal(der_w_finish(&w, &der, &dl), 0);
	spki = key_spki(k, &spl);
	assert_int_equal(key_verify_spki(spki, spl, d, 32, der, dl), 0);
	/* Not over the challenge alone. */
	assert_int_equal(key_verify_spki(spki, spl, chal, 32, der, dl), -1);
	mem_free(der);
	json_decref(doc);
	/* A challenge nonce of another length is refused. */
	buf_reset(&out);
	assert_int_equal(x509pop_response_json(k, chal, 16, mine, &out, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "16 bytes"));
	buf_cleanup(&out);
	key_free(k);
}

static void
test_svid_record_round_trip(void **state)
{
	struct agent_svid_rec	 r, back;
	struct buf		 b;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.not_before = 100;
	r.expires = 200;
	r.rotate_at = 150;
	r.revision = -3;
	r.chain = (const uint8_t *)"\x30\x01\x00";
	r.chain_len = 3;
	r.key = (const uint8_t *)"KEY";
	r.key_len = 3;
	buf_init(&b, 4096);
	assert_int_equal(cache_svid_encode(&r, &b), 0);
	assert_int_equal(cache_svid_decode(buf_ptr(&b), b.len, &back), 0);
	assert_int_equal(back.not_before, 100);
	assert_int_equal(back.expires, 200);
	assert_int_equal(back.rotate_at, 150);
	assert_int_equal(back.revision, -3);
	assert_int_equal(back.chain_len, 3);
	assert_memory_equal(back.chain, "\x30\x01\x00", 3);
	assert_int_equal(back.key_len, 3);
	assert_memory_equal(back.key, "KEY", 3);
	buf_cleanup(&b);
}

static void
test_svid_record_malformed(void **state)
{
	/* A valid record: version, four i64, chain_len 1, chain, key 0. */
	static const uint8_t good[] = {
		1, 0,0,0,0,0,0,0,1, 0,0,0,0,0,0,0,2, 0,0,0,0,0,0,0,2,
		0,0,0,0,0,0,0,0, 0,0,0,1, 0x30, 0,0,0,0,
	};
	static const struct {
		const char	*name;
		size_t		 off;	/* byte to change, or SIZE_MAX */
		uint8_t		 val;
		size_t		 len;	/* bytes given */
	} cases[] = {
		{ "empty", SIZE_MAX, 0, 0 },
		{ "truncated head", SIZE_MAX, 0, 20 },
		{ "unknown version", 0, 2, sizeof(good) },
		{ "chain length 0", 36, 0, sizeof(good) },
		{ "chain longer than the record", 36, 9, sizeof(good) },
		{ "key length too long", 41, 1, sizeof(good) },
		{ "expired before valid", 16, 0, sizeof(good) },
		{ "truncated key length", SIZE_MAX, 0, sizeof(good) - 1 },
	};
	struct agent_svid_rec	 r;
	uint8_t			 b[sizeof(good)];
	size_t			 i;

	(void)state;
	assert_int_equal(cache_svid_decode(good, sizeof(good), &r), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(b, good, sizeof(good));
		if (cases[i].off != SIZE_MAX)
			b[cases[i].off] = cases[i].val;
		if (cache_svid_decode(b, cases[i].len, &r) != -1)
			fail_msg("accepted: %s", cases[i].name);
	}
}

static void
pb_entry(spire_api_types_Entry *e, spire_api_types_Selector *sel,
    char **fed)
{
	memset(e, 0, sizeof(*e));
	e->id = "id-1";
	e->has_spiffe_id = true;
	e->spiffe_id.trust_domain = "example.org";
	e->spiffe_id.path = "/w";
	sel[0].type = "unix";
	sel[0].value = "uid:0";
	sel[1].type = "unix";
	sel[1].value = "gid:0";
	e->selectors = sel;
	e->selectors_count = 2;
	fed[0] = "other.org";
	e->federates_with = fed;
	e->federates_with_count = 1;
	e->revision_number = 7;
	e->hint = "h";
}

static void
test_entry_from_pb(void **state)
{
	spire_api_types_Entry		 e;
	spire_api_types_Selector	 sel[2];
	char				*fed[1], err[160];
	struct agent_entry		*out;

	(void)state;
	pb_entry(&e, sel, fed);
	assert_int_equal(entry_from_pb(&e, &out, err, sizeof(err)), 0);
	assert_string_equal(out->spiffe_id, "spiffe://example.org/w");
	assert_int_equal(out->nsel, 2);
	assert_string_equal(out->sel[0], "unix:gid:0");	/* sorted */
	assert_string_equal(out->sel[1], "unix:uid:0");
	assert_int_equal(out->nfed, 1);
	assert_string_equal(out->fed[0], "other.org");
	assert_int_equal(out->revision, 7);
	assert_string_equal(out->hint, "h");
	entry_free(out);
}

static void
test_entry_from_pb_malformed(void **state)
{
	spire_api_types_Entry		 e;
	spire_api_types_Selector	 sel[2];
	char				*fed[1], err[160];
	struct agent_entry		*out;
	int				 i;

	(void)state;
	for (i = 0; i < 8; i++) {
		pb_entry(&e, sel, fed);
		switch (i) {
		case 0:
			e.id = "";
			break;
		case 1:
			e.has_spiffe_id = false;
			break;
		case 2:
			e.spiffe_id.trust_domain = "Bad Domain";
			break;
		case 3:
			e.spiffe_id.path = "";		/* a TD's own ID */
			break;
		case 4:
			sel[0].type = "unix:uid";	/* ':' in the type */
			break;
		case 5:
			sel[1].value = "";
			break;
		case 6:
			fed[0] = "spiffe://x/y";	/* not a TD */
			break;
		case 7:
			e.spiffe_id.path = "/a/../b";
			break;
		}
		if (entry_from_pb(&e, &out, err, sizeof(err)) != -1)
			fail_msg("case %d accepted", i);
		assert_null(out);
		assert_true(err[0] != '\0');
	}
}

static void
test_bundle_encoding_round_trip(void **state)
{
	struct cert_template	 t;
	struct bundle		 b, back;
	struct buf		 out;
	struct key		*k;
	enum key_err		 ke;
	uint8_t			*der;
	const uint8_t		*spki;
	size_t			 len, sl;

	(void)state;
	k = key_soft_generate(KEY_EC_P256, &ke);
	assert_non_null(k);
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
	assert_int_equal(cert_sign(&t, k, NULL, 0, &der, &len), 0);
	assert_int_equal(bundle_init(&b, "example.org"), 0);
	assert_int_equal(bundle_add_x509(&b, der, len), 1);
	spki = key_spki(k, &sl);
	assert_int_equal(bundle_add_jwt(&b, "kid-1", spki, sl, 1234), 1);
	b.sequence = 9;
	b.refresh_hint = 300;
	buf_init(&out, 64 * 1024);
	assert_int_equal(cache_bundle_encode(&b, &out), 0);
	assert_int_equal(cache_bundle_decode(buf_ptr(&out), out.len,
	    "example.org", &back), 0);
	assert_int_equal(bundle_equal(&b, &back), 1);
	bundle_cleanup(&back);
	/* Stored under another trust domain's key: refused. */
	assert_int_equal(cache_bundle_decode(buf_ptr(&out), out.len,
	    "other.org", &back), -1);
	/* Damaged bytes: refused. */
	assert_int_equal(cache_bundle_decode((const uint8_t *)"\xff\xff", 2,
	    "example.org", &back), -1);
	buf_cleanup(&out);
	bundle_cleanup(&b);
	mem_free(der);
	key_free(k);
}

static void
test_chain_split(void **state)
{
	static const uint8_t two[] = { 0x30, 0x01, 0x00, 0x30, 0x00 };
	const uint8_t	*d[4];
	size_t		 l[4], n;

	(void)state;
	assert_int_equal(chain_split(two, sizeof(two), d, l, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(l[0], 3);
	assert_int_equal(l[1], 2);
	assert_int_equal(chain_split(two, sizeof(two), d, l, 1, &n), -1);
	assert_int_equal(chain_split(two, 4, d, l, 4, &n), -1);
	assert_int_equal(chain_split(two, 0, d, l, 4, &n), -1);
}

static void
own_key_cb(void *arg, struct agent_key *k, const char *err)
{
	struct agent_key	**out = arg;

	(void)err;
	*out = k;
}

/*
 * The agent key as the cache keeps it: a software key's PKCS#8 loads at
 * once and is stored back the same; a TPM blob is named "tpm:" and a
 * file the agent makes, and a name reaching out of data_dir (or not
 * the agent's) is refused before any job.
 */
static void
test_ownkey_stored_forms(void **state)
{
	static const char *const bad[] = {
		"tpm:../svid-key-0000000000000000.tpm",
		"tpm:svid-key-00/../../etc/passwd",
		"tpm:/etc/passwd",
		"tpm:devid.priv.blob",
	};
	struct agent_config	 cfg;
	struct agent		 a;
	struct agent_key	*k = NULL, *k2 = NULL;
	struct key		*sk;
	enum key_err		 ke;
	uint8_t			*p8;
	size_t			 p8len, i;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	memset(&a, 0, sizeof(a));
	cfg.data_dir = "/nonexistent";
	cfg.plugin.key_manager = AGENT_KM_TPM;
	a.cfg = &cfg;
	assert_int_equal(ownkey_init(&a), 0);
	assert_non_null(a.tpm_km);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_true(ownkey_is_tpm((const uint8_t *)bad[i],
		    strlen(bad[i])));
		assert_int_equal(ownkey_load(&a, (const uint8_t *)bad[i],
		    strlen(bad[i]), own_key_cb, &k), -1);
		assert_null(k);
	}
	sk = key_soft_generate(KEY_EC_P256, &ke);
	assert_non_null(sk);
	assert_int_equal(key_export_pkcs8(sk, &p8, &p8len), KEY_OK);
	assert_false(ownkey_is_tpm(p8, p8len));
	assert_int_equal(ownkey_load(&a, p8, p8len, own_key_cb, &k), 0);
	assert_non_null(k);
	assert_int_equal(k->stored_len, p8len);
	assert_memory_equal(k->stored, p8, p8len);
	/* A reference outlives the first holder's release. */
	k2 = ownkey_ref(k);
	ownkey_unref(k);
	assert_int_equal(k2->refs, 1);
	ownkey_unref(k2);
	mem_free_wipe(p8, p8len);
	key_free(sk);
	ownkey_cleanup(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_selectors_subset),
		cmocka_unit_test(test_selectors_sort_drops_duplicates),
		cmocka_unit_test(test_entries_diff),
		cmocka_unit_test(test_entries_stale),
		cmocka_unit_test(test_rotation_half_life),
		cmocka_unit_test(test_rotation_backoff),
		cmocka_unit_test(test_x509pop_response),
		cmocka_unit_test(test_svid_record_round_trip),
		cmocka_unit_test(test_svid_record_malformed),
		cmocka_unit_test(test_entry_from_pb),
		cmocka_unit_test(test_entry_from_pb_malformed),
		cmocka_unit_test(test_bundle_encoding_round_trip),
		cmocka_unit_test(test_chain_split),
		cmocka_unit_test(test_ownkey_stored_forms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
