/*
 * The agent's cache in LMDB (kind "agent"): its own SVID and key, the
 * bundles, the authorized entries with their revisions, and the
 * workload SVIDs with their keys. Entries and bundles are stored as
 * the SPIRE protobuf messages they came as (re-encoded, so nothing the
 * server sent beyond the fields we know is kept); SVIDs as a small
 * fixed record:
 *
 *	u8 version (1) | i64 not_before | i64 not_after | i64 rotate_at |
 *	i64 revision | u32 chain_len | chain DER... | u32 key_len | PKCS#8
 *
 * integers big-endian. What is read back is checked as strictly as what
 * the server sends: a damaged record is dropped and logged, never
 * trusted.
 */
#include "config.h"

#include <string.h>

#include <pb_decode.h>

#include "agent/internal.h"
#include "core/log.h"
#include "core/mem.h"
#include "hal/key.h"
#include "pki/der.h"
#include "pki/x509.h"
#include "spire/api/types/types.pb.h"
#include "store/store.h"

#define CACHE_SVID_VERSION	1
#define CACHE_SVID_HEAD		(1 + 4 * 8 + 4)

const struct store_table_def cache_tables[CACHE_T_COUNT] = {
	{ "agent", 0 },
	{ "bundles", 0 },
	{ "entries", 0 },
	{ "svids", 0 },
};

static void	put_be64(uint8_t *, int64_t);
static int64_t	get_be64(const uint8_t *);
static void	put_be32(uint8_t *, uint32_t);
static uint32_t	get_be32(const uint8_t *);
static int	cache_load_bundles(struct agent *, struct store_txn *);
static int	cache_load_entries(struct agent *, struct store_txn *);
static void	cache_load_svids(struct agent *, struct store_txn *);
static void	cache_load_own(struct agent *, struct store_txn *);

static void
put_be64(uint8_t *p, int64_t v)
{
	uint64_t	 u = (uint64_t)v;
	int		 i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)u;
		u >>= 8;
	}
}

static int64_t
get_be64(const uint8_t *p)
{
	uint64_t	 u = 0;
	int		 i;

	for (i = 0; i < 8; i++)
		u = (u << 8) | p[i];
	return (int64_t)u;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

int
cache_svid_encode(const struct agent_svid_rec *r, struct buf *out)
{
	uint8_t	 head[CACHE_SVID_HEAD], kl[4];

	if (r->chain_len == 0 || r->chain_len > UINT32_MAX ||
	    r->key_len > UINT32_MAX)
		return -1;
	head[0] = CACHE_SVID_VERSION;
	put_be64(head + 1, r->not_before);
	put_be64(head + 9, r->expires);
	put_be64(head + 17, r->rotate_at);
	put_be64(head + 25, r->revision);
	put_be32(head + 33, (uint32_t)r->chain_len);
	put_be32(kl, (uint32_t)r->key_len);
	if (buf_append(out, head, sizeof(head)) == -1 ||
	    buf_append(out, r->chain, r->chain_len) == -1 ||
	    buf_append(out, kl, sizeof(kl)) == -1 ||
	    (r->key_len > 0 && buf_append(out, r->key, r->key_len) == -1))
		return -1;
	return 0;
}

/* Views into p; 0, or -1 when the record is malformed. */
int
cache_svid_decode(const uint8_t *p, size_t len, struct agent_svid_rec *r)
{
	size_t	 cl, kl;

	memset(r, 0, sizeof(*r));
	if (len < CACHE_SVID_HEAD + 4 || p[0] != CACHE_SVID_VERSION)
		return -1;
	r->not_before = get_be64(p + 1);
	r->expires = get_be64(p + 9);
	r->rotate_at = get_be64(p + 17);
	r->revision = get_be64(p + 25);
	cl = get_be32(p + 33);
	if (cl == 0 || cl > len - CACHE_SVID_HEAD - 4)
		return -1;
	kl = get_be32(p + CACHE_SVID_HEAD + cl);
	if (kl != len - CACHE_SVID_HEAD - 4 - cl)
		return -1;
	if (r->expires < r->not_before)
		return -1;
	r->chain = p + CACHE_SVID_HEAD;
	r->chain_len = cl;
	r->key = kl > 0 ? p + CACHE_SVID_HEAD + cl + 4 : NULL;
	r->key_len = kl;
	return 0;
}

/*
 * Splits concatenated DER certificates; views into p. 0, or -1 when it
 * is not a run of at most max DER SEQUENCEs.
 */
int
chain_split(const uint8_t *p, size_t len, const uint8_t **der,
    size_t *lens, size_t max, size_t *n)
{
	struct der	 d, whole;

	*n = 0;
	der_init(&d, p, len);
	while (!der_empty(&d)) {
		if (*n == max || der_get(&d, DER_SEQUENCE, NULL, &whole) == -1)
			return -1;
		der[*n] = whole.p;
		lens[*n] = whole.len;
		(*n)++;
	}
	return *n > 0 ? 0 : -1;
}

/* Encodes a bundle as spire.api.types.Bundle. */
int
cache_bundle_encode(const struct bundle *b, struct buf *out)
{
	struct buf	 m;
	size_t		 i;
	int		 rc = -1;

	buf_init(&m, BUNDLE_JSON_MAX);
	if (pbw_string(out, 1, b->trust_domain) == -1)
		goto out;
	for (i = 0; i < b->nx509; i++) {
		buf_reset(&m);
		if (pbw_bytes(&m, 1, b->x509[i].der, b->x509[i].len) == -1 ||
		    pbw_uint(&m, 2, b->x509[i].tainted != 0) == -1 ||
		    pbw_message(out, 2, &m) == -1)
			goto out;
	}
	for (i = 0; i < b->njwt; i++) {
		buf_reset(&m);
		if (pbw_bytes(&m, 1, b->jwt[i].spki, b->jwt[i].spki_len) ==
		    -1 || pbw_string(&m, 2, b->jwt[i].kid) == -1 ||
		    pbw_uint(&m, 3, (uint64_t)b->jwt[i].expires_at) == -1 ||
		    pbw_uint(&m, 4, b->jwt[i].tainted != 0) == -1 ||
		    pbw_message(out, 3, &m) == -1)
			goto out;
	}
	if (pbw_uint(out, 4, (uint64_t)b->refresh_hint) == -1 ||
	    pbw_uint(out, 5, b->sequence) == -1)
		goto out;
	rc = 0;
out:
	buf_cleanup(&m);
	return rc;
}

/* Decodes a stored Bundle into b (uninitialised); it must be td's. */
int
cache_bundle_decode(const uint8_t *p, size_t len, const char *td,
    struct bundle *b)
{
	spire_api_types_Bundle	 pb = spire_api_types_Bundle_init_zero;
	pb_istream_t		 is;
	char			 err[128];
	int			 rc;

	is = pb_istream_from_buffer(p, len);
	if (!pb_decode(&is, spire_api_types_Bundle_fields, &pb))
		return -1;
	rc = srvconn_bundle_from_pb(&pb, b, err, sizeof(err));
	pb_release(spire_api_types_Bundle_fields, &pb);
	if (rc == 0 && td != NULL && strcmp(b->trust_domain, td) != 0) {
		bundle_cleanup(b);
		return -1;
	}
	return rc;
}

/*
 * Fills s from a chain and key: the leaf must parse and carry one
 * SPIFFE ID, and the key must be the leaf's. The chain is copied, the
 * key referenced.
 */
int
own_svid_from_chain(struct agent *a, struct agent_svid *s,
    const uint8_t *chain, size_t chain_len, struct agent_key *key,
    char *err, size_t errlen)
{
	const uint8_t	*der[X509_CHAIN_MAX];
	size_t		 lens[X509_CHAIN_MAX], n, spki_len;
	struct x509_cert leaf;
	const uint8_t	*spki;

	(void)a;
	memset(s, 0, sizeof(*s));
	if (chain_split(chain, chain_len, der, lens, X509_CHAIN_MAX,
	    &n) == -1 || x509_parse(der[0], lens[0], &leaf) != X509_OK) {
		snprintf(err, errlen, "certificate chain does not parse");
		return -1;
	}
	if (leaf.nuris != 1 || leaf.uris[0].len > SPIFFE_ID_MAX) {
		snprintf(err, errlen, "leaf has not exactly one URI SAN");
		return -1;
	}
	spki = key_spki(key->key, &spki_len);
	if (spki_len != leaf.spki.len || memcmp(spki, leaf.spki.p,
	    spki_len) != 0) {
		snprintf(err, errlen, "the certificate's key is not ours");
		return -1;
	}
	memcpy(s->id, leaf.uris[0].p, leaf.uris[0].len);
	s->id[leaf.uris[0].len] = '\0';
	s->not_before = leaf.not_before;
	s->expires = leaf.not_after;
	s->rotate_at = rotation_time(leaf.not_before, leaf.not_after,
	    rotation_random());
	s->chain = mem_alloc(chain_len);
	if (s->chain == NULL) {
		memset(s, 0, sizeof(*s));
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(s->chain, chain, chain_len);
	s->chain_len = chain_len;
	s->key = ownkey_ref(key);
	return 0;
}

/* s becomes the agent's SVID (taking what it holds); the old one goes. */
void
own_svid_set(struct agent *a, struct agent_svid *s)
{
	own_svid_clear(a);
	a->svid = *s;
	a->has_svid = 1;
	memset(s, 0, sizeof(*s));
}

void
own_svid_clear(struct agent *a)
{
	if (!a->has_svid)
		return;
	mem_free(a->svid.chain);
	ownkey_unref(a->svid.key);
	memset(&a->svid, 0, sizeof(a->svid));
	a->has_svid = 0;
}

/* The software key of a cached SVID, loaded here and now. */
struct own_load {
	struct agent_key	*key;
	char			 err[128];
};

static void
cache_own_key(void *arg, struct agent_key *k, const char *err)
{
	struct own_load	*l = arg;

	l->key = k;
	if (k == NULL)
		snprintf(l->err, sizeof(l->err), "%s", err);
}

/*
 * The cached SVID (record r) with its key: a software key at once; a
 * TPM key is loaded on the worker once the agent starts (the record is
 * kept for it in a->own_rec). 0, or -1 with the reason in err.
 */
int
cache_own_from_record(struct agent *a, const struct agent_svid_rec *r,
    char *err, size_t errlen)
{
	struct agent_svid	 s;
	struct own_load		 l;
	int			 rc;

	if (ownkey_is_tpm(r->key, r->key_len) && a->tpm_km == NULL) {
		snprintf(err, errlen, "its key is in a TPM, and KeyManager "
		    "is not \"tpm\"");
		return -1;
	}
	if (ownkey_is_tpm(r->key, r->key_len)) {
		struct buf	b;

		buf_init(&b, 1024 * 1024);
		if (cache_svid_encode(r, &b) == -1) {
			buf_cleanup(&b);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		mem_free(a->own_rec);
		a->own_rec = buf_take(&b, &a->own_rec_len);
		buf_cleanup(&b);
		return a->own_rec != NULL ? 0 : -1;
	}
	memset(&l, 0, sizeof(l));
	if (ownkey_load(a, r->key, r->key_len, cache_own_key, &l) == -1 ||
	    l.key == NULL) {
		snprintf(err, errlen, "key does not load: %s", l.err);
		return -1;
	}
	rc = own_svid_from_chain(a, &s, r->chain, r->chain_len, l.key, err,
	    errlen);
	ownkey_unref(l.key);
	if (rc == -1)
		return -1;
	s.reattestable = r->revision != 0;
	own_svid_set(a, &s);
	return 0;
}

static void
cache_load_own(struct agent *a, struct store_txn *txn)
{
	struct store_val	 v;
	struct agent_svid_rec	 r;
	char			 err[256];

	if (store_get(txn, CACHE_T_AGENT, "svid", 4, &v) != STORE_OK)
		return;
	if (cache_svid_decode(v.data, v.len, &r) == -1) {
		log_warnx("agent", "cache: own SVID record is damaged; "
		    "attesting again");
		return;
	}
	if (cache_own_from_record(a, &r, err, sizeof(err)) == -1)
		log_kv(LOG_LEVEL_WARN, "agent", "cache: own SVID unusable; "
		    "attesting again", "error", err, (const char *)NULL);
}

static int
cache_load_bundles(struct agent *a, struct store_txn *txn)
{
	struct store_cursor	*c;
	struct store_val	 k, v;
	struct bundle		 b, *nf;
	enum store_err		 e;
	char			 td[SPIFFE_TD_MAX + 1];

	if (store_cursor_open(txn, CACHE_T_BUNDLES, &c) != STORE_OK)
		return -1;
	for (e = store_cursor_first(c, &k, &v); e == STORE_OK;
	    e = store_cursor_next(c, &k, &v)) {
		if (k.len == 0 || k.len > SPIFFE_TD_MAX)
			continue;
		memcpy(td, k.data, k.len);
		td[k.len] = '\0';
		if (cache_bundle_decode(v.data, v.len, td, &b) == -1) {
			log_kv(LOG_LEVEL_WARN, "agent", "cache: bundle "
			    "damaged; dropped", "trust_domain", td,
			    (const char *)NULL);
			continue;
		}
		if (strcmp(td, a->td) == 0) {
			if (a->has_bundle)
				bundle_cleanup(&a->bundle);
			a->bundle = b;
			a->has_bundle = 1;
			continue;
		}
		if (a->nfed == AGENT_BUNDLES_MAX) {
			bundle_cleanup(&b);
			continue;
		}
		nf = mem_reallocarray(a->fed, a->nfed + 1, sizeof(*nf));
		if (nf == NULL) {
			bundle_cleanup(&b);
			store_cursor_close(c);
			return -1;
		}
		a->fed = nf;
		a->fed[a->nfed++] = b;	/* the cursor walks in td order */
	}
	store_cursor_close(c);
	return 0;
}

static int
cache_load_entries(struct agent *a, struct store_txn *txn)
{
	spire_api_types_Entry	 pe;
	struct store_cursor	*c;
	struct store_val	 k, v;
	struct agent_entry	*e, **ne;
	pb_istream_t		 is;
	enum store_err		 se;
	char			 err[160];
	size_t			 cap = 0;

	if (store_cursor_open(txn, CACHE_T_ENTRIES, &c) != STORE_OK)
		return -1;
	for (se = store_cursor_first(c, &k, &v); se == STORE_OK;
	    se = store_cursor_next(c, &k, &v)) {
		memset(&pe, 0, sizeof(pe));
		is = pb_istream_from_buffer(v.data, v.len);
		if (!pb_decode(&is, spire_api_types_Entry_fields, &pe)) {
			log_warnx("agent", "cache: an entry is damaged; "
			    "dropped until the next sync");
			continue;
		}
		if (entry_from_pb(&pe, &e, err, sizeof(err)) == -1) {
			pb_release(spire_api_types_Entry_fields, &pe);
			log_kv(LOG_LEVEL_WARN, "agent", "cache: entry dropped",
			    "error", err, (const char *)NULL);
			continue;
		}
		pb_release(spire_api_types_Entry_fields, &pe);
		if (a->nentries == AGENT_ENTRIES_MAX) {
			entry_free(e);
			break;
		}
		if (a->nentries == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			ne = mem_reallocarray(a->entries, cap, sizeof(*ne));
			if (ne == NULL) {
				entry_free(e);
				store_cursor_close(c);
				return -1;
			}
			a->entries = ne;
		}
		a->entries[a->nentries++] = e;
	}
	store_cursor_close(c);
	/* Keys sort as bytes, as strcmp does: the array is sorted. */
	return 0;
}

static void
cache_load_svids(struct agent *a, struct store_txn *txn)
{
	struct store_cursor	*c;
	struct store_val	 k, v;
	struct agent_svid_rec	 r;
	struct agent_entry	*e;
	enum store_err		 se;
	char			 id[STORE_KEY_MAX + 1];

	if (store_cursor_open(txn, CACHE_T_SVIDS, &c) != STORE_OK)
		return;
	for (se = store_cursor_first(c, &k, &v); se == STORE_OK;
	    se = store_cursor_next(c, &k, &v)) {
		memcpy(id, k.data, k.len);
		id[k.len] = '\0';
		e = agent_entry_find(a, id);
		if (e == NULL || cache_svid_decode(v.data, v.len, &r) == -1)
			continue;
		e->has_svid = 1;
		e->svid_not_before = r.not_before;
		e->svid_expires = r.expires;
		e->svid_rotate_at = r.rotate_at;
		e->svid_revision = r.revision;
	}
	store_cursor_close(c);
}

/*
 * Loads everything into a (empty). With KeyManager "memory" no key is
 * taken from the disk, and any left there from a former configuration
 * is wiped. 0, or -1 (logged).
 */
int
cache_load(struct agent *a)
{
	struct store_txn	*txn;
	struct store_val	 v;
	int			 synced = 0;

	if (store_txn_begin(a->store, STORE_READ, &txn) != STORE_OK)
		return -1;
	if (a->keep_keys)
		cache_load_own(a, txn);
	if (store_get(txn, CACHE_T_AGENT, "synced", 6, &v) == STORE_OK)
		synced = 1;
	if (cache_load_bundles(a, txn) == -1 ||
	    cache_load_entries(a, txn) == -1) {
		store_txn_abort(txn);
		log_warnx("agent", "cache: out of memory loading");
		return -1;
	}
	if (a->keep_keys)
		cache_load_svids(a, txn);
	store_txn_abort(txn);
	if (!a->keep_keys) {
		(void)cache_drop_own_svid(a);
		synced = 0;
	}
	if (synced && a->has_bundle)
		a->ready = 1;
	log_info("agent", "cache loaded: %zu entries, %zu federated bundles, "
	    "own SVID %s", a->nentries, a->nfed, a->has_svid ? a->svid.id :
	    a->own_rec != NULL ? "whose key is to load from the TPM" :
	    "none");
	return 0;
}

static enum store_err
cache_put_own(struct store_txn *txn, void *arg)
{
	struct agent		*a = arg;
	struct agent_svid_rec	 r;
	struct buf		 b;
	enum store_err		 e;

	memset(&r, 0, sizeof(r));
	r.not_before = a->svid.not_before;
	r.expires = a->svid.expires;
	r.rotate_at = a->svid.rotate_at;
	r.revision = a->svid.reattestable;
	r.chain = a->svid.chain;
	r.chain_len = a->svid.chain_len;
	r.key = a->svid.key->stored;
	r.key_len = a->svid.key->stored_len;
	buf_init(&b, 1024 * 1024);
	if (cache_svid_encode(&r, &b) == -1) {
		buf_cleanup(&b);
		return STORE_NOMEM;
	}
	e = store_put(txn, CACHE_T_AGENT, "svid", 4, buf_ptr(&b), b.len, 0);
	mem_wipe(b.data, b.cap);
	buf_cleanup(&b);
	return e;
}

/* Stores the own SVID and key (KeyManager disk only). 0 or -1. */
int
cache_save_own_svid(struct agent *a)
{
	enum store_err	 e;

	if (!a->keep_keys)
		return 0;
	e = store_txn_run(a->store, cache_put_own, a);
	if (e != STORE_OK) {
		log_kv(LOG_LEVEL_ERROR, "agent", "cannot store the agent SVID",
		    "error", store_strerror(e), (const char *)NULL);
		return -1;
	}
	/* The record names the new key's blob: older blobs may go. */
	ownkey_sweep(a);
	return 0;
}

static enum store_err
cache_del_own(struct store_txn *txn, void *arg)
{
	struct agent		*a = arg;
	struct store_cursor	*c;
	struct store_val	 k;
	enum store_err		 e;

	e = store_del(txn, CACHE_T_AGENT, "svid", 4, NULL, 0);
	if (e != STORE_OK && e != STORE_NOTFOUND)
		return e;
	if (a->keep_keys)
		return STORE_OK;
	/* Memory key manager: no workload key stays on the disk either. */
	e = store_cursor_open(txn, CACHE_T_SVIDS, &c);
	if (e != STORE_OK)
		return e;
	for (e = store_cursor_first(c, &k, NULL); e == STORE_OK;
	    e = store_cursor_first(c, &k, NULL))
		if ((e = store_cursor_del(c)) != STORE_OK)
			break;
	store_cursor_close(c);
	return e == STORE_NOTFOUND ? STORE_OK : e;
}

/* Forgets the own SVID on disk (banned, or keys not to be kept). */
int
cache_drop_own_svid(struct agent *a)
{
	enum store_err	 e;

	e = store_txn_run(a->store, cache_del_own, a);
	if (e != STORE_OK) {
		log_kv(LOG_LEVEL_ERROR, "agent", "cannot drop the agent SVID",
		    "error", store_strerror(e), (const char *)NULL);
		return -1;
	}
	ownkey_sweep(a);
	return 0;
}
