/*
 * The CA manager: journal of X.509 CA and JWT key slots, preparation
 * and activation on SPIRE's schedule, and the signing of SVIDs.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <ev.h>
#include <pb_decode.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/worker.h"
#include "hal/key.h"
#include "pki/cert.h"
#include "pki/x509.h"
#include "server/ca.h"
#include "server/datastore.h"
#include "server/keymgr.h"
#include "server/nested.h"
#include "server/pbutil.h"
#include "server/server.h"
#include "server/upstream.h"
#include "spiffe/jwtsvid.h"

#define DAY		(24 * 3600)
#define BACKDATE	10	/* seconds NotBefore is set back */
#define PRUNE_AFTER	DAY	/* expired authorities kept this long */

struct ca {
	struct ev_loop			*loop;
	const struct server_config	*cfg;
	struct store			*store;
	struct keymgr			*km;
	struct upstream			*up;
	struct ca_hooks			 hooks;
	ev_timer			 timer;
	spirelet_server_Journal		 j;
	int				 preparing;	/* X.509 CA in flight */
	int				 jwt_preparing;	/* JWT key in flight */
	char				 td_id[SPIFFE_ID_MAX + 1];
	int				 failed;	/* last X.509 prepare */
	int				 jwt_failed;	/* last JWT prepare */
	int64_t				 retry_at;	/* no prepare before */
	int64_t				 retry_delay;	/* seconds; 0: none */
	int64_t				 need;		/* SVID TTL to cover */
	int				 reachable;	/* the parent answers */
	int				 ready;		/* CA and key active */
	struct prep			*up_prep;	/* at the upstream */
	/*
	 * Blocking keys (KeyManager "tpm") are made and sign on the worker
	 * once ca_set_worker gave one; before that (start-up) they block.
	 */
	struct worker			*worker;
	unsigned			 jobs;		/* on the worker */
	int				 draining;
	void				(*drained)(void *);
	void				*drained_arg;
};

/*
 * A preparation in flight: the key being made, its CSR or self-signed
 * certificate being signed, the upstream's answer awaited.
 */
struct prep {
	struct ca	*ca;
	char		 slot[2];
	int		 in_call;	/* inside the step that began it */
	struct key	*key;
	struct cert_tbs	 tbs;
};

/* An SVID being signed with a blocking key. */
struct ca_sign {
	struct ca	*ca;
	struct key	*key;		/* held in the KeyManager */
	struct cert_tbs	 tbs;
	struct ca_svid	 svid;		/* der[0] once signed */
	struct jwtsvid_tbs jwt;
	int64_t		 iat, exp;
	ca_x509_fn	 x509_done;
	ca_jwt_fn	 jwt_done;
	void		*arg;
};

static int64_t	ca_now(void);
static void	ca_rotate(struct ca *);
static void	ca_schedule(struct ca *);
static void	ca_timer_cb(struct ev_loop *, ev_timer *, int);
static spirelet_server_X509Slot *ca_x509_find(struct ca *, int);
static spirelet_server_JWTSlot *ca_jwt_find(struct ca *, int);
static int	ca_x509_prepare(struct ca *);
static int	ca_jwt_prepare(struct ca *);
static int	ca_key_begin(struct ca *, const char *, keymgr_gen_fn, void *,
		    int *);
static int	ca_save(struct ca *, const uint8_t *const *, const size_t *,
		    size_t, const struct upstream_jwt_key *, size_t);
static void	ca_log_budget(struct ca *, const char *why);
static void	ca_retry_later(struct ca *);
static const char *ca_seconds_text(int64_t);
static void	ca_time_text(int64_t, char *, size_t);
static int	ca_subject(struct ca *, const char *, uint8_t **, size_t *);
static void	ca_job_end(struct ca *);
static void	ca_x509_key_done(void *, struct key *);
static void	ca_x509_self_signed(void *, enum key_err, const uint8_t *,
		    size_t);
static void	ca_x509_csr_signed(void *, enum key_err, const uint8_t *,
		    size_t);
static void	ca_x509_prep_end(struct prep *, int rc);
static void	ca_jwt_key_done(void *, struct key *);
static struct worker *ca_worker_for(struct ca *, const struct key *);
static struct key *ca_x509_template(struct ca *, int64_t ttl,
		    const char *spiffe_id, const char *const *dns, size_t ndns,
		    const uint8_t *spki, size_t spki_len,
		    struct cert_template *, uint8_t **subj,
		    spirelet_server_X509Slot **);
static int	ca_svid_chain(const spirelet_server_X509Slot *,
		    struct ca_svid *);
static void	ca_x509_signed(void *, enum key_err, const uint8_t *,
		    size_t);
static void	ca_jwt_signed(void *, enum key_err, const uint8_t *,
		    size_t);
static void	ca_sign_free(struct ca_sign *);

int64_t
ca_prepare_at(int64_t nb, int64_t na)
{
	int64_t	left = (na - nb) / 2;

	return na - (left < 30 * DAY ? left : 30 * DAY);
}

int64_t
ca_activate_at(int64_t nb, int64_t na)
{
	int64_t	left = (na - nb) / 6;

	return na - (left < 7 * DAY ? left : 7 * DAY);
}

int64_t
ca_max_svid_ttl(int64_t ca_ttl)
{
	return ca_ttl / 6 < 7 * DAY ? ca_ttl / 6 : 7 * DAY;
}

int
ca_serial_decimal(const uint8_t *p, size_t n, char *buf, size_t len)
{
	uint8_t	num[CERT_SERIAL_MAX + 1];
	char	tmp[64];
	size_t	i, nd = 0, start = 0;
	int	rem;

	if (n > sizeof(num) || len == 0)
		return -1;
	memcpy(num, p, n);
	/* Long division by 10 until the number is zero. */
	for (;;) {
		while (start < n && num[start] == 0)
			start++;
		if (start == n)
			break;
		rem = 0;
		for (i = start; i < n; i++) {
			rem = rem * 256 + num[i];
			num[i] = (uint8_t)(rem / 10);
			rem %= 10;
		}
		if (nd == sizeof(tmp))
			return -1;
		tmp[nd++] = (char)('0' + rem);
	}
	if (nd == 0)
		tmp[nd++] = '0';
	if (nd + 1 > len)
		return -1;
	for (i = 0; i < nd; i++)
		buf[i] = tmp[nd - 1 - i];
	buf[nd] = '\0';
	return 0;
}

int
ca_serial_hex(const uint8_t *p, size_t n, char *buf, size_t len)
{
	static const char	hex[] = "0123456789abcdef";
	size_t			i, o = 0;

	while (n > 1 && *p == 0) {
		p++;
		n--;
	}
	if (2 * n + 1 > len)
		return -1;
	for (i = 0; i < n; i++) {
		buf[o++] = hex[p[i] >> 4];
		buf[o++] = hex[p[i] & 15];
	}
	buf[o] = '\0';
	return 0;
}

static int64_t
ca_now(void)
{
	return (int64_t)time(NULL);
}

static spirelet_server_X509Slot *
ca_x509_find(struct ca *ca, int status)
{
	pb_size_t	i;

	for (i = 0; i < ca->j.x509_count; i++)
		if (ca->j.x509[i].status == status)
			return &ca->j.x509[i];
	return NULL;
}

static spirelet_server_JWTSlot *
ca_jwt_find(struct ca *ca, int status)
{
	pb_size_t	i;

	for (i = 0; i < ca->j.jwt_count; i++)
		if (ca->j.jwt[i].status == status)
			return &ca->j.jwt[i];
	return NULL;
}

/* The CA subject (ca_subject, else C=US, O=SPIFFE) with a serial. */
static int
ca_subject(struct ca *ca, const char *serial, uint8_t **out, size_t *len)
{
	const struct server_ca_subject	*cs = &ca->cfg->ca_subject;
	struct cert_name		 nm;
	size_t				 i;

	memset(&nm, 0, sizeof(nm));
	if (cs->country.n == 0 && cs->organization.n == 0 &&
	    (cs->common_name == NULL || *cs->common_name == '\0')) {
		nm.country[0] = "US";
		nm.organization[0] = "SPIFFE";
	} else {
		for (i = 0; i < cs->country.n && i < CERT_NAME_VALUES_MAX; i++)
			nm.country[i] = cs->country.v[i];
		for (i = 0; i < cs->organization.n &&
		    i < CERT_NAME_VALUES_MAX; i++)
			nm.organization[i] = cs->organization.v[i];
		if (cs->common_name != NULL && *cs->common_name != '\0')
			nm.common_name = cs->common_name;
	}
	nm.serial_number = serial;
	return cert_name_encode(&nm, out, len);
}

/*
 * Adds the authorities to the own bundle (unless there: X.509 roots by
 * their bytes, JWT keys by key ID), prunes JWT keys expired more than
 * PRUNE_AFTER ago, bumps the sequence and stores the journal, all in
 * one transaction. *changed says whether the bundle changed.
 */
struct save_args {
	struct ca			*ca;
	const uint8_t *const		*roots;
	const size_t			*roots_len;
	size_t				 nroots;
	const struct upstream_jwt_key	*jwt;
	size_t				 njwt;
	int				 changed;
};

static enum store_err
ca_save_txn(struct store_txn *txn, void *arg)
{
	struct save_args		*a = arg;
	spire_api_types_Bundle		 b;
	spire_api_types_X509Certificate	*xc;
	spire_api_types_JWTKey		*jk;
	const char			*td = a->ca->cfg->trust_domain;
	size_t				 i;
	pb_size_t			 k;
	int				 rc, changed = 0;
	enum store_err			 e = STORE_IO;

	a->changed = 0;
	rc = ds_bundle_get(txn, td, &b);
	if (rc == DS_NOTFOUND) {
		memset(&b, 0, sizeof(b));
		b.trust_domain = pbu_strdup(td);
		if (b.trust_domain == NULL)
			goto out;
		changed = 1;
	} else if (rc != 0)
		return STORE_IO;
	for (i = 0; i < a->nroots; i++) {
		for (k = 0; k < b.x509_authorities_count; k++)
			if (b.x509_authorities[k].asn1 != NULL &&
			    b.x509_authorities[k].asn1->size ==
			    a->roots_len[i] &&
			    memcmp(b.x509_authorities[k].asn1->bytes,
			    a->roots[i], a->roots_len[i]) == 0)
				break;
		if (k < b.x509_authorities_count)
			continue;
		xc = pbu_append(&b.x509_authorities,
		    &b.x509_authorities_count, sizeof(*xc));
		if (xc == NULL)
			goto out;
		xc->asn1 = pbu_bytes(a->roots[i], a->roots_len[i]);
		if (xc->asn1 == NULL)
			goto out;
		changed = 1;
	}
	for (i = 0; i < a->njwt; i++) {
		for (k = 0; k < b.jwt_authorities_count; k++)
			if (b.jwt_authorities[k].key_id != NULL &&
			    strcmp(b.jwt_authorities[k].key_id,
			    a->jwt[i].kid) == 0)
				break;
		if (k < b.jwt_authorities_count)
			continue;
		if (a->jwt[i].expires_at != 0 &&
		    a->jwt[i].expires_at + PRUNE_AFTER < ca_now())
			continue;	/* would be pruned below */
		jk = pbu_append(&b.jwt_authorities, &b.jwt_authorities_count,
		    sizeof(*jk));
		if (jk == NULL)
			goto out;
		jk->public_key = pbu_bytes(a->jwt[i].spki,
		    a->jwt[i].spki_len);
		jk->key_id = pbu_strdup(a->jwt[i].kid);
		jk->expires_at = a->jwt[i].expires_at;
		if (jk->public_key == NULL || jk->key_id == NULL)
			goto out;
		changed = 1;
	}
	/* XXX: expired X.509 authorities are not pruned yet. */
	/* JWT keys expired for a day are dropped. */
	for (k = 0; k < b.jwt_authorities_count;) {
		jk = &b.jwt_authorities[k];
		if (jk->expires_at != 0 &&
		    jk->expires_at + PRUNE_AFTER < ca_now()) {
			pb_release(spire_api_types_JWTKey_fields, jk);
			memmove(jk, jk + 1, (size_t)(b.jwt_authorities_count -
			    k - 1) * sizeof(*jk));
			b.jwt_authorities_count--;
			changed = 1;
		} else
			k++;
	}
	if (changed) {
		b.sequence_number++;
		if (ds_bundle_put(txn, &b) != 0)
			goto out;
	}
	if (ds_journal_put(txn, &a->ca->j) != 0)
		goto out;
	a->changed = changed;
	e = STORE_OK;
out:
	pb_release(spire_api_types_Bundle_fields, &b);
	return e;
}

static int
ca_save(struct ca *ca, const uint8_t *const *roots, const size_t *roots_len,
    size_t nroots, const struct upstream_jwt_key *jwt, size_t njwt)
{
	struct save_args	a = { ca, roots, roots_len, nroots, jwt, njwt,
				    0 };
	enum store_err		e;

	e = store_txn_run(ca->store, ca_save_txn, &a);
	if (e != STORE_OK) {
		log_kv(LOG_LEVEL_ERROR, "ca", "cannot store the CA journal",
		    "error", store_strerror(e), (const char *)NULL);
		return -1;
	}
	if (a.changed && ca->hooks.bundle_changed != NULL)
		ca->hooks.bundle_changed(ca->hooks.arg);
	return 0;
}

/* Fills (replacing) the journal slot named name, or adds it. */
static spirelet_server_X509Slot *
ca_x509_slot(struct ca *ca, const char *name)
{
	spirelet_server_X509Slot	*s;
	pb_size_t			 i;

	for (i = 0; i < ca->j.x509_count; i++) {
		if (strcmp(ca->j.x509[i].slot, name) == 0) {
			pb_release(spirelet_server_X509Slot_fields,
			    &ca->j.x509[i]);
			memset(&ca->j.x509[i], 0, sizeof(ca->j.x509[i]));
			s = &ca->j.x509[i];
			goto fill;
		}
	}
	s = pbu_append(&ca->j.x509, &ca->j.x509_count, sizeof(*s));
	if (s == NULL)
		return NULL;
fill:
	s->slot = pbu_strdup(name);
	return s->slot != NULL ? s : NULL;
}

static spirelet_server_JWTSlot *
ca_jwt_slot(struct ca *ca, const char *name)
{
	spirelet_server_JWTSlot	*s;
	pb_size_t		 i;

	for (i = 0; i < ca->j.jwt_count; i++) {
		if (strcmp(ca->j.jwt[i].slot, name) == 0) {
			pb_release(spirelet_server_JWTSlot_fields,
			    &ca->j.jwt[i]);
			memset(&ca->j.jwt[i], 0, sizeof(ca->j.jwt[i]));
			s = &ca->j.jwt[i];
			goto fill;
		}
	}
	s = pbu_append(&ca->j.jwt, &ca->j.jwt_count, sizeof(*s));
	if (s == NULL)
		return NULL;
fill:
	s->slot = pbu_strdup(name);
	return s->slot != NULL ? s : NULL;
}

/* The slot name a new authority goes into: not the active one's. */
static const char *
ca_next_slot(const char *active)
{
	return active != NULL && strcmp(active, "A") == 0 ? "B" : "A";
}

/*
 * Checks a CA the upstream signed for key (chain[0] the CA, then what
 * signed it, roots the parent's bundle): it carries our key, is a CA
 * for our trust domain, and chains to the roots now. Its effective end
 * (nested_chain_end) into *end. 0, or -1 with the reason logged.
 */
static int
ca_x509_check(struct ca *ca, struct key *k, const uint8_t *const *chain,
    const size_t *chain_len, size_t nchain, const uint8_t *const *roots,
    const size_t *roots_len, size_t nroots, int64_t *end)
{
	struct x509_cert	*c = NULL, *r = NULL;
	const uint8_t		*spki;
	const char		*why = NULL;
	size_t			 i, spki_len, at;
	enum x509_err		 xe;
	int			 rc = -1;

	if (nchain == 0 || nchain > SERVER_UPSTREAM_CHAIN_MAX ||
	    nroots == 0 || nroots > SERVER_UPSTREAM_ROOTS_MAX) {
		why = "wrong number of certificates";
		goto out;
	}
	c = mem_calloc(nchain, sizeof(*c));
	r = mem_calloc(nroots, sizeof(*r));
	if (c == NULL || r == NULL) {
		why = "out of memory";
		goto out;
	}
	for (i = 0; i < nchain; i++)
		if (x509_parse(chain[i], chain_len[i], &c[i]) != X509_OK) {
			why = "a certificate of the chain does not parse";
			goto out;
		}
	for (i = 0; i < nroots; i++)
		if (x509_parse(roots[i], roots_len[i], &r[i]) != X509_OK) {
			why = "a root does not parse";
			goto out;
		}
	spki = key_spki(k, &spki_len);
	if (c[0].spki.len != spki_len || memcmp(c[0].spki.p, spki,
	    spki_len) != 0) {
		why = "the CA does not carry our key";
		goto out;
	}
	if (!c[0].is_ca || !c[0].has_ku ||
	    !(c[0].ku & X509_KU_KEY_CERT_SIGN) || c[0].nuris > 1 ||
	    (c[0].nuris == 1 && (c[0].uris[0].len != strlen(ca->td_id) ||
	    memcmp(c[0].uris[0].p, ca->td_id, c[0].uris[0].len) != 0))) {
		why = "not a CA certificate of our trust domain";
		goto out;
	}
	/* The CA verifies to the roots like an intermediate would. */
	xe = x509_verify_chain(c, nchain, r, nroots, ca_now(), &at);
	if (xe != X509_OK) {
		log_kv(LOG_LEVEL_ERROR, "ca", "the upstream CA does not "
		    "verify to the parent's roots", "error", x509_strerror(xe),
		    (const char *)NULL);
		goto out;
	}
	*end = nested_chain_end(c, nchain, r, nroots);
	if (*end < c[0].not_after)
		log_kv(LOG_LEVEL_WARN, "ca", "the upstream signed a CA that "
		    "outlives what signed it; it is used only until the "
		    "earlier end", (const char *)NULL);
	rc = 0;
out:
	if (why != NULL)
		log_kv(LOG_LEVEL_ERROR, "ca", "the upstream CA is unusable",
		    "error", why, (const char *)NULL);
	mem_free(c);
	mem_free(r);
	return rc;
}

/*
 * Records a CA signed for slot (chain[0] the CA, chain[1..] what signed
 * it; self_signed: chain[0] alone, also the root) as prepared, after
 * the checks, unless the parent cut it so short that it could not take
 * over: then it is dropped and 1 returned. 0 recorded, -1 failed.
 */
static int
ca_x509_record(struct ca *ca, const char *slot, const uint8_t *const *chain,
    const size_t *chain_len, size_t nchain, int self_signed,
    const uint8_t *const *roots, const size_t *roots_len, size_t nroots)
{
	spirelet_server_X509Slot	*s, *act;
	struct x509_cert		 c;
	struct key			*k;
	char				 kid[32], until[32];
	int64_t				 end, now = ca_now();
	size_t				 i;

	snprintf(kid, sizeof(kid), "x509-CA-%s", slot);
	if (x509_parse(chain[0], chain_len[0], &c) != X509_OK) {
		log_warnx("ca", "the new CA certificate does not parse");
		return -1;
	}
	end = c.not_after;
	if (!self_signed && ((k = keymgr_get(ca->km, kid)) == NULL ||
	    ca_x509_check(ca, k, chain, chain_len, nchain, roots, roots_len,
	    nroots, &end) == -1))
		return -1;
	act = ca_x509_find(ca, CA_STATUS_ACTIVE);
	if (!self_signed && nested_activation(now, act != NULL ?
	    act->issued_at : 0, act != NULL ? act->not_after : 0, end,
	    ca->need) == NESTED_DISCARD) {
		ca_time_text(end, until, sizeof(until));
		log_kv(LOG_LEVEL_WARN, "ca", "the upstream's CA ends too soon "
		    "to take over: asking again later", "not_after", until,
		    "svid_ttl_to_cover", ca_seconds_text(ca->need),
		    (const char *)NULL);
		return 1;
	}
	s = ca_x509_slot(ca, slot);
	if (s == NULL)
		return -1;
	s->key_id = pbu_strdup(kid);
	s->cert = pbu_bytes(chain[0], chain_len[0]);
	s->status = CA_STATUS_PREPARED;
	s->issued_at = c.not_before;
	s->not_after = end;
	if (s->key_id == NULL || s->cert == NULL)
		return -1;
	/* An upstream-signed CA is sent with its chain, root left out. */
	for (i = 0; !self_signed && i < nchain; i++) {
		pb_bytes_array_t **b = pbu_append(&s->upstream_chain,
		    &s->upstream_chain_count, sizeof(*b));

		if (b == NULL)
			return -1;
		*b = pbu_bytes(chain[i], chain_len[i]);
		if (*b == NULL)
			return -1;
	}
	if (ca_save(ca, roots, roots_len, nroots, NULL, 0) == -1)
		return -1;
	ca_time_text(end, until, sizeof(until));
	log_kv(LOG_LEVEL_INFO, "ca", "X.509 CA prepared", "slot", slot,
	    "not_after", until, "upstream", ca->up != NULL ? ca->up->name :
	    "none", (const char *)NULL);
	return 0;
}

/* The worker a key signs on now: none for software keys and start-up. */
static struct worker *
ca_worker_for(struct ca *ca, const struct key *k)
{
	return key_is_blocking(k) ? ca->worker : NULL;
}

/* A worker job of the CA is over; a drain may now be complete. */
static void
ca_job_end(struct ca *ca)
{
	if (ca->jobs > 0)
		ca->jobs--;
	if (ca->jobs == 0 && ca->draining && ca->drained != NULL) {
		void	(*fn)(void *) = ca->drained;

		ca->drained = NULL;
		fn(ca->drained_arg);
	}
}

/*
 * The preparation ended: rc 0 prepared, 1 dropped (too short to take
 * over), -1 failed. A failure backs off before the next request. When
 * it ran asynchronously, the rotation goes on from here; within its
 * step, the step goes on.
 */
static void
ca_x509_prep_end(struct prep *p, int rc)
{
	struct ca	*ca = p->ca;
	int		 async = !p->in_call, was_failed = ca->failed;

	ca->preparing = 0;
	if (ca->up_prep == p)
		ca->up_prep = NULL;
	ca->failed = rc != 0;
	cert_tbs_cleanup(&p->tbs);
	mem_free(p);
	if (rc == 0) {
		ca->retry_delay = 0;
		ca->retry_at = 0;
		ca_log_budget(ca, "X.509 CA prepared");
	} else {
		ca_retry_later(ca);
		if (!was_failed)
			ca_log_budget(ca, rc == 1 ? "upstream CA too short" :
			    "CA rotation failed");
	}
	if (!async || ca->draining)
		return;
	if (rc == 0)
		ca_rotate(ca);
	else
		ca_schedule(ca);
}

static void
ca_upstream_done(void *arg, struct upstream_result *res, const char *err)
{
	struct prep	*p = arg;
	struct ca	*ca = p->ca;
	int		 rc = -1;

	if (res == NULL)
		log_kv(ca->failed ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR, "ca",
		    "upstream refused the CA", "upstream", ca->up->name,
		    "error", err, (const char *)NULL);
	else
		rc = ca_x509_record(ca, p->slot,
		    (const uint8_t *const *)res->chain, res->chain_len,
		    res->nchain, 0, (const uint8_t *const *)res->roots,
		    res->roots_len, res->nroots);
	upstream_result_free(res);
	/* The upstream answers later, or at once: either way rotate. */
	p->in_call = 0;
	ca_x509_prep_end(p, rc);
}

/* After a failure: no new request before the backoff has passed. */
static void
ca_retry_later(struct ca *ca)
{
	spirelet_server_X509Slot	*act;
	int64_t				 now = ca_now(), left = 0;

	act = ca_x509_find(ca, CA_STATUS_ACTIVE);
	if (act != NULL)
		left = act->not_after - now;
	ca->retry_delay = nested_retry_delay(ca->retry_delay, left);
	ca->retry_at = now + ca->retry_delay;
	log_kv(LOG_LEVEL_DEBUG, "ca", "asking for a CA again later",
	    "seconds", ca_seconds_text(ca->retry_delay), (const char *)NULL);
}

/*
 * The first step of a new slot, X.509 or JWT alike: keymgr makes the
 * key called name (on the worker for a TPM) and hands it to done with
 * p, which the caller allocated. *preparing is set until done runs,
 * which may be before the return. 0, or -1 with *preparing cleared and
 * p freed.
 */
static int
ca_key_begin(struct ca *ca, const char *name, keymgr_gen_fn done, void *p,
    int *preparing)
{
	*preparing = 1;
	ca->jobs++;
	if (keymgr_generate_async(ca->km, ca->worker, name,
	    (enum key_type)ca->cfg->ca_key_type, done, p) == -1) {
		ca->jobs--;
		*preparing = 0;
		mem_free(p);
		return -1;
	}
	return 0;
}

/*
 * A new X.509 CA for the slot after the active one: its key (made on
 * the worker for a TPM), then the CA certificate signed by that key, or
 * a CSR for the upstream. 0 when under way or done (ca->preparing says
 * which), -1 when it failed at once.
 */
static int
ca_x509_prepare(struct ca *ca)
{
	spirelet_server_X509Slot	*act;
	struct prep			*p;
	const char			*slot;
	char				 kid[32];

	act = ca_x509_find(ca, CA_STATUS_ACTIVE);
	slot = ca_next_slot(act != NULL ? act->slot : NULL);
	snprintf(kid, sizeof(kid), "x509-CA-%s", slot);
	p = mem_calloc(1, sizeof(*p));
	if (p == NULL)
		return -1;
	p->ca = ca;
	snprintf(p->slot, sizeof(p->slot), "%s", slot);
	p->in_call = 1;
	ca->failed = 0;
	if (ca_key_begin(ca, kid, ca_x509_key_done, p, &ca->preparing) == -1)
		return -1;
	/* Still preparing: p lives on and the rest answers later. */
	if (ca->preparing) {
		p->in_call = 0;
		return 0;
	}
	return ca->failed ? -1 : 0;
}

static void
ca_x509_key_done(void *arg, struct key *k)
{
	struct prep		*p = arg;
	struct ca		*ca = p->ca;
	struct cert_template	 t;
	char			 serial[64];
	uint8_t			*subj = NULL;
	size_t			 subj_len;
	int64_t			 now = ca_now();
	enum key_err		 e;

	/* This job ends last of all: a drain may free the CA then. */
	if (k == NULL || ca->draining)
		goto fail;
	p->key = k;
	memset(&t, 0, sizeof(t));
	if (ca->up != NULL) {
		/* The upstream chooses the serial; the CSR has none. */
		t.spki = key_spki(k, &t.spki_len);
		if (ca_subject(ca, NULL, &subj, &subj_len) == -1 ||
		    cert_csr_tbs_make(t.spki, t.spki_len, key_get_type(k),
		    subj, subj_len, ca->td_id, NULL, 0, &p->tbs) == -1)
			goto fail;
		mem_free(subj);
		subj = NULL;
		keymgr_hold(ca->km, k);
		ca->jobs++;
		e = key_sign_async(k, ca_worker_for(ca, k), p->tbs.digest,
		    p->tbs.digest_len, ca_x509_csr_signed, p);
		if (e != KEY_OK) {
			ca->jobs--;
			keymgr_release(ca->km, k);
			goto fail;
		}
		ca_job_end(ca);
		return;
	}
	if (cert_random_serial(&t) == -1 ||
	    ca_serial_decimal(t.serial, t.serial_len, serial,
	    sizeof(serial)) == -1 ||
	    ca_subject(ca, serial, &subj, &subj_len) == -1)
		goto fail;
	t.subject = subj;
	t.subject_len = subj_len;
	t.not_before = (time_t)(now - BACKDATE);
	t.not_after = (time_t)(now + ca->cfg->ca_ttl / 1000);
	t.is_ca = 1;
	t.key_usage = CERT_KU_KEY_CERT_SIGN | CERT_KU_CRL_SIGN;
	t.uri = ca->td_id;
	t.spki = key_spki(k, &t.spki_len);
	if (cert_tbs_make(&t, key_get_type(k), NULL, 0, &p->tbs) == -1)
		goto fail;
	mem_free(subj);
	subj = NULL;
	keymgr_hold(ca->km, k);
	ca->jobs++;
	e = key_sign_async(k, ca_worker_for(ca, k), p->tbs.digest,
	    p->tbs.digest_len, ca_x509_self_signed, p);
	if (e != KEY_OK) {
		ca->jobs--;
		keymgr_release(ca->km, k);
		goto fail;
	}
	ca_job_end(ca);
	return;
fail:
	mem_free(subj);
	ca_x509_prep_end(p, -1);
	ca_job_end(ca);
}

static void
ca_x509_self_signed(void *arg, enum key_err err, const uint8_t *sig,
    size_t siglen)
{
	struct prep	*p = arg;
	struct ca	*ca = p->ca;
	uint8_t		*der = NULL;
	size_t		 der_len;
	int		 rc = -1;

	keymgr_release(ca->km, p->key);
	if (err != KEY_OK)
		log_kv(LOG_LEVEL_ERROR, "ca", "cannot sign the new CA",
		    "slot", p->slot, "error", key_strerror(err),
		    (const char *)NULL);
	else if (!ca->draining && cert_tbs_finish(&p->tbs, sig, siglen, &der,
	    &der_len) == 0) {
		const uint8_t	*ch[1] = { der };
		size_t		 chl[1] = { der_len };

		rc = ca_x509_record(ca, p->slot, ch, chl, 1, 1, ch, chl,
		    1) == 0 ? 0 : -1;
	}
	mem_free(der);
	ca_x509_prep_end(p, rc);
	ca_job_end(ca);
}

static void
ca_x509_csr_signed(void *arg, enum key_err err, const uint8_t *sig,
    size_t siglen)
{
	struct prep	*p = arg;
	struct ca	*ca = p->ca;
	uint8_t		*csr = NULL;
	size_t		 csr_len;

	keymgr_release(ca->km, p->key);
	if (err != KEY_OK || ca->draining || cert_tbs_finish(&p->tbs, sig,
	    siglen, &csr, &csr_len) == -1) {
		if (err != KEY_OK)
			log_kv(LOG_LEVEL_ERROR, "ca", "cannot sign the CA's "
			    "request", "slot", p->slot, "error",
			    key_strerror(err), (const char *)NULL);
		ca_x509_prep_end(p, -1);
	} else {
		/* Freed by the CA if the upstream goes first (no answer). */
		ca->up_prep = p;
		log_kv(LOG_LEVEL_DEBUG, "ca", "asking the upstream for a CA",
		    "upstream", ca->up->name, "slot", p->slot,
		    (const char *)NULL);
		ca->up->mint_x509_ca(ca->up, csr, csr_len,
		    ca->cfg->ca_ttl / 1000, ca_upstream_done, p);
		mem_free(csr);
	}
	ca_job_end(ca);
}

/* The journal's JWT slot as a bundle key (borrowing its fields). */
static void
ca_jwt_key(const spirelet_server_JWTSlot *s, struct upstream_jwt_key *k)
{
	k->spki = s->public_key->bytes;
	k->spki_len = s->public_key->size;
	k->kid = s->kid;
	k->expires_at = s->not_after;
}

/* A new JWT key for the slot after the active one; as X.509's. */
struct jwt_prep {
	struct ca	*ca;
	char		 slot[2];
	int		 in_call;
};

static int
ca_jwt_prepare(struct ca *ca)
{
	spirelet_server_JWTSlot	*act;
	struct jwt_prep		*p;
	const char		*slot;
	char			 name[32];

	act = ca_jwt_find(ca, CA_STATUS_ACTIVE);
	slot = ca_next_slot(act != NULL ? act->slot : NULL);
	snprintf(name, sizeof(name), "JWT-Signer-%s", slot);
	p = mem_calloc(1, sizeof(*p));
	if (p == NULL)
		return -1;
	p->ca = ca;
	snprintf(p->slot, sizeof(p->slot), "%s", slot);
	p->in_call = 1;
	if (ca_key_begin(ca, name, ca_jwt_key_done, p,
	    &ca->jwt_preparing) == -1)
		return -1;
	if (ca->jwt_preparing)
		p->in_call = 0;	/* it answers later */
	return 0;
}

static void
ca_jwt_key_done(void *arg, struct key *k)
{
	struct jwt_prep		*p = arg;
	struct ca		*ca = p->ca;
	spirelet_server_JWTSlot	*s;
	struct upstream_jwt_key	 uk;
	const uint8_t		*spki;
	char			 kid[33], name[32];
	size_t			 spki_len;
	int64_t			 now = ca_now();
	int			 ok = 0, async = !p->in_call;

	ca->jwt_preparing = 0;
	snprintf(name, sizeof(name), "JWT-Signer-%s", p->slot);
	if (k == NULL || ca->draining || jwtsvid_new_kid(kid) == -1 ||
	    (s = ca_jwt_slot(ca, p->slot)) == NULL)
		goto out;
	spki = key_spki(k, &spki_len);
	s->key_id = pbu_strdup(name);
	s->kid = pbu_strdup(kid);
	s->public_key = pbu_bytes(spki, spki_len);
	s->status = CA_STATUS_PREPARED;
	s->issued_at = now;
	s->not_after = now + ca->cfg->ca_ttl / 1000;
	if (s->key_id == NULL || s->kid == NULL || s->public_key == NULL)
		goto out;
	ca_jwt_key(s, &uk);
	if (ca_save(ca, NULL, NULL, 0, &uk, 1) == -1)
		goto out;
	ok = 1;
	log_kv(LOG_LEVEL_INFO, "ca", "JWT key prepared", "slot", p->slot,
	    "kid", kid, (const char *)NULL);
	/*
	 * Published to the parent too. SPIRE fails the preparation when
	 * the parent cannot be reached; here the key is used locally at
	 * once and reaches the parent's bundle when the parent answers.
	 */
	if (ca->up != NULL && ca->up->publish_jwt_key != NULL)
		ca->up->publish_jwt_key(ca->up, &uk);
out:
	mem_free(p);
	ca->jwt_failed = !ok;
	if (async && !ca->draining) {
		if (ok)
			ca_rotate(ca);
		else
			ca_schedule(ca);
	}
	ca_job_end(ca);
}

/* One rotation step for X.509; 1 when the active CA changed. */
static int
ca_x509_step(struct ca *ca, int64_t now)
{
	spirelet_server_X509Slot	*act, *prep;
	enum nested_choice		 d;
	char				 until[32];
	int64_t				 act_nb = 0, act_na = 0;

	act = ca_x509_find(ca, CA_STATUS_ACTIVE);
	prep = ca_x509_find(ca, CA_STATUS_PREPARED);
	if (act != NULL) {
		act_nb = act->issued_at;
		act_na = act->not_after;
	}
	if (prep != NULL) {
		d = nested_activation(now, act_nb, act_na, prep->not_after,
		    ca->need);
		if (d == NESTED_WAIT)
			return 0;
		if (d == NESTED_DISCARD) {
			/* Ended while we were down, or cut short. */
			ca_time_text(prep->not_after, until, sizeof(until));
			log_kv(LOG_LEVEL_WARN, "ca", "prepared X.509 CA "
			    "dropped: it cannot take over", "slot",
			    prep->slot, "not_after", until, (const char *)NULL);
			prep->status = CA_STATUS_OLD;
			(void)ca_save(ca, NULL, NULL, 0, NULL, 0);
			ca_retry_later(ca);
			ca_log_budget(ca, "prepared CA dropped");
			return 0;
		}
		if (act != NULL)
			act->status = CA_STATUS_OLD;
		prep->status = CA_STATUS_ACTIVE;
		if (ca_save(ca, NULL, NULL, 0, NULL, 0) == -1)
			return 0;
		ca_time_text(prep->not_after, until, sizeof(until));
		log_kv(LOG_LEVEL_INFO, "ca", "X.509 CA activated", "slot",
		    prep->slot, "not_after", until, (const char *)NULL);
		ca_log_budget(ca, "X.509 CA activated");
		return 1;
	}
	if (ca->preparing || now < ca->retry_at)
		return 0;
	if (act != NULL && act_na > now && now < ca_prepare_at(act_nb,
	    act_na) && act_na - now >= ca->need)
		return 0;
	if (ca_x509_prepare(ca) == -1) {
		/* A failure inside has backed off already. */
		if (!ca->failed || ca->retry_at <= now) {
			ca->failed = 1;
			ca_retry_later(ca);
		}
		return 0;
	}
	/* Self-signed: prepared at once; it may be due already. */
	if (!ca->preparing && ca_x509_find(ca, CA_STATUS_PREPARED) != NULL)
		return ca_x509_step(ca, now);
	return 0;
}

static void
ca_jwt_step(struct ca *ca, int64_t now)
{
	spirelet_server_JWTSlot	*act, *prep;

	act = ca_jwt_find(ca, CA_STATUS_ACTIVE);
	prep = ca_jwt_find(ca, CA_STATUS_PREPARED);
	if (prep != NULL && prep->not_after <= now)
		prep = NULL;
	if (act != NULL && now < ca_activate_at(act->issued_at,
	    act->not_after)) {
		if (prep == NULL && !ca->jwt_preparing &&
		    now >= ca_prepare_at(act->issued_at, act->not_after))
			(void)ca_jwt_prepare(ca);
		return;
	}
	if (prep == NULL) {
		if (ca->jwt_preparing || ca_jwt_prepare(ca) == -1)
			return;
		prep = ca_jwt_find(ca, CA_STATUS_PREPARED);
		if (prep == NULL)
			return;	/* the key is made on the worker */
		act = ca_jwt_find(ca, CA_STATUS_ACTIVE);
	}
	if (act != NULL)
		act->status = CA_STATUS_OLD;
	prep->status = CA_STATUS_ACTIVE;
	if (ca_save(ca, NULL, NULL, 0, NULL, 0) == -1)
		return;
	log_kv(LOG_LEVEL_INFO, "ca", "JWT key activated", "slot", prep->slot,
	    "kid", prep->kid, (const char *)NULL);
}

static void
ca_rotate(struct ca *ca)
{
	int64_t	now = ca_now();
	int	changed;

	if (ca->draining)
		return;
	ca_jwt_step(ca, now);
	changed = ca_x509_step(ca, now);
	if (!ca->ready && ca_x509_find(ca, CA_STATUS_ACTIVE) != NULL &&
	    ca_jwt_find(ca, CA_STATUS_ACTIVE) != NULL) {
		ca->ready = 1;
		changed = 1;
	}
	if (changed && ca->hooks.activated != NULL)
		ca->hooks.activated(ca->hooks.arg);
	ca_schedule(ca);
}

/* The next moment the X.509 side has something to do, or INT64_MAX. */
static int64_t
ca_x509_next(struct ca *ca, int64_t now)
{
	spirelet_server_X509Slot	*xa, *xp;
	int64_t				 t, cut;

	xa = ca_x509_find(ca, CA_STATUS_ACTIVE);
	xp = ca_x509_find(ca, CA_STATUS_PREPARED);
	if (ca->preparing && xp == NULL)
		return INT64_MAX;	/* the upstream calls back */
	if (xa == NULL || xa->not_after <= now)
		return xp != NULL ? now : ca->retry_at;
	/* When the active CA can no longer cover a whole SVID. */
	cut = xa->not_after - ca->need + 1;
	if (xp != NULL) {
		t = ca_activate_at(xa->issued_at, xa->not_after);
		return t < cut ? t : cut;
	}
	t = ca_prepare_at(xa->issued_at, xa->not_after);
	if (cut < t)
		t = cut;
	return t > ca->retry_at ? t : ca->retry_at;
}

/* Arms the timer for the earliest future rotation event. */
static void
ca_schedule(struct ca *ca)
{
	spirelet_server_JWTSlot		*ja, *jp;
	int64_t				 now = ca_now(), next, t;

	if (ca->draining)
		return;
	next = ca_x509_next(ca, now);
	ja = ca_jwt_find(ca, CA_STATUS_ACTIVE);
	jp = ca_jwt_find(ca, CA_STATUS_PREPARED);
	if (ja != NULL) {
		t = jp != NULL || ca->jwt_preparing ?
		    ca_activate_at(ja->issued_at, ja->not_after) :
		    ca_prepare_at(ja->issued_at, ja->not_after);
		next = t < next ? t : next;
	}
	if ((ja == NULL || ca->jwt_failed) &&
	    now + SERVER_UPSTREAM_RETRY_MIN_SEC < next)
		next = now + SERVER_UPSTREAM_RETRY_MIN_SEC;
	ev_timer_stop(ca->loop, &ca->timer);
	if (next == INT64_MAX)
		return;
	/* Never a busy loop, whatever the arithmetic says. */
	ev_timer_set(&ca->timer, next > now ? (double)(next - now) : 1.0, 0.);
	ev_timer_start(ca->loop, &ca->timer);
}

static void
ca_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ca	*ca = w->data;

	(void)loop;
	(void)revents;
	ca_rotate(ca);
}

/* "1h2m3s"-like text of seconds, for logs (static buffer). */
static const char *
ca_seconds_text(int64_t secs)
{
	static char	buf[48];
	long long	h, m, sec;

	if (secs < 0)
		secs = 0;
	h = (long long)(secs / 3600);
	m = (long long)(secs % 3600 / 60);
	sec = (long long)(secs % 60);
	if (h > 0)
		snprintf(buf, sizeof(buf), "%lldh%lldm%llds", h, m, sec);
	else if (m > 0)
		snprintf(buf, sizeof(buf), "%lldm%llds", m, sec);
	else
		snprintf(buf, sizeof(buf), "%llds", sec);
	return buf;
}

/* RFC 3339 UTC text of a Unix time. */
static void
ca_time_text(int64_t t, char *buf, size_t len)
{
	struct tm	tm;
	time_t		tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
}

/*
 * Under a parent: how long workloads would keep working if the parent
 * stayed away from now on, logged at each change of it.
 */
static void
ca_log_budget(struct ca *ca, const char *why)
{
	spirelet_server_X509Slot	*act, *prep;
	int64_t				 now = ca_now(), b, act_na = 0;
	int				 usable = 0;
	char				 until[32];

	if (ca->draining || ca->up == NULL || !ca->up->remote)
		return;
	act = ca_x509_find(ca, CA_STATUS_ACTIVE);
	prep = ca_x509_find(ca, CA_STATUS_PREPARED);
	if (act != NULL)
		act_na = act->not_after;
	if (prep != NULL)
		usable = nested_activation(now, act != NULL ? act->issued_at :
		    0, act_na, prep->not_after, ca->need) != NESTED_DISCARD;
	b = nested_budget(now, act_na, prep != NULL ? prep->not_after : 0,
	    usable);
	ca_time_text(now + b, until, sizeof(until));
	log_kv(b > 0 ? LOG_LEVEL_INFO : LOG_LEVEL_WARN, "ca",
	    "offline budget: workloads keep getting SVIDs without the "
	    "parent until the CA ends", "event", why, "parent",
	    ca->reachable ? "reachable" : "unreachable", "budget",
	    ca_seconds_text(b), "until", until, (const char *)NULL);
}

/* The upstream's hooks: the parent's bundle, its reachability. */
static void
ca_up_bundle(void *arg, const struct upstream_bundle *b)
{
	struct ca	*ca = arg;

	(void)ca_save(ca, b->roots, b->roots_len, b->nroots, b->jwt,
	    b->njwt);
}

static void
ca_up_reachable(void *arg, int up)
{
	struct ca	*ca = arg;

	if (ca->reachable == up)
		return;
	ca->reachable = up;
	ca_log_budget(ca, up ? "parent reachable" : "parent unreachable");
	if (up && ca->failed) {
		/* Resume rotation now instead of at the backoff's end. */
		ca->retry_delay = 0;
		ca->retry_at = 0;
		ca_rotate(ca);
	}
}

struct ca *
ca_new(struct ev_loop *loop, const struct server_config *cfg,
    struct store *store, struct keymgr *km, struct upstream *up,
    const struct ca_hooks *hooks)
{
	struct store_txn	*txn = NULL;
	struct upstream_hooks	 uh;
	struct upstream_jwt_key	 uk;
	struct ca		*ca;
	pb_size_t		 i;
	int64_t			 max;
	int			 rc;

	ca = mem_calloc(1, sizeof(*ca));
	if (ca == NULL)
		return NULL;
	ca->loop = loop;
	ca->cfg = cfg;
	ca->store = store;
	ca->km = km;
	ca->up = up;
	if (hooks != NULL)
		ca->hooks = *hooks;
	ev_timer_init(&ca->timer, ca_timer_cb, 0., 0.);
	ca->timer.data = ca;
	snprintf(ca->td_id, sizeof(ca->td_id), "spiffe://%s",
	    cfg->trust_domain);
	/*
	 * The SVIDs a CA must be able to cover when it takes over: the
	 * longest default the server signs, but no more than ca_ttl
	 * guarantees anyway.
	 */
	ca->need = cfg->default_x509_svid_ttl / 1000;
	if (cfg->agent_ttl / 1000 > ca->need)
		ca->need = cfg->agent_ttl / 1000;
	max = ca_max_svid_ttl(cfg->ca_ttl / 1000);
	if (ca->need > max)
		ca->need = max;
	ca->reachable = 1;
	if (store_txn_begin(store, STORE_READ, &txn) != STORE_OK)
		goto fail;
	rc = ds_journal_get(txn, &ca->j);
	store_txn_abort(txn);
	if (rc == DS_ERROR)
		goto fail;
	/* Slots whose keys the KeyManager lost (memory) are void. */
	for (i = 0; i < ca->j.x509_count; i++)
		if (ca->j.x509[i].status != CA_STATUS_OLD &&
		    (ca->j.x509[i].key_id == NULL ||
		    keymgr_get(km, ca->j.x509[i].key_id) == NULL))
			ca->j.x509[i].status = CA_STATUS_OLD;
	for (i = 0; i < ca->j.jwt_count; i++)
		if (ca->j.jwt[i].status != CA_STATUS_OLD &&
		    (ca->j.jwt[i].key_id == NULL ||
		    keymgr_get(km, ca->j.jwt[i].key_id) == NULL))
			ca->j.jwt[i].status = CA_STATUS_OLD;
	if (cfg->default_x509_svid_ttl / 1000 >
	    ca_max_svid_ttl(cfg->ca_ttl / 1000) ||
	    cfg->default_jwt_svid_ttl / 1000 >
	    ca_max_svid_ttl(cfg->ca_ttl / 1000))
		log_kv(LOG_LEVEL_WARN, "ca", "default SVID TTLs exceed what "
		    "ca_ttl guarantees (ca_ttl/6): SVIDs signed near a CA "
		    "rotation will be shorter; raise ca_ttl to 6 times the "
		    "longest default SVID TTL", (const char *)NULL);
	if (up != NULL && up->set_hooks != NULL) {
		memset(&uh, 0, sizeof(uh));
		uh.bundle = ca_up_bundle;
		uh.reachable = ca_up_reachable;
		uh.arg = ca;
		up->set_hooks(up, &uh);
	}
	/* Keys of an earlier run reach the parent if they have not. */
	for (i = 0; up != NULL && up->publish_jwt_key != NULL &&
	    i < ca->j.jwt_count; i++)
		if (ca->j.jwt[i].status != CA_STATUS_OLD &&
		    ca->j.jwt[i].public_key != NULL &&
		    ca->j.jwt[i].kid != NULL) {
			ca_jwt_key(&ca->j.jwt[i], &uk);
			up->publish_jwt_key(up, &uk);
		}
	ca_rotate(ca);
	if (!ca->ready) {
		if (up == NULL || !up->remote) {
			log_warnx("ca", "no active X.509 CA or JWT key");
			goto fail;
		}
		/* The server waits for the parent (ca_hooks.activated). */
		log_kv(LOG_LEVEL_INFO, "ca", "waiting for the upstream to "
		    "sign the first CA", "upstream", up->name,
		    (const char *)NULL);
	} else
		ca_log_budget(ca, "start");
	return ca;
fail:
	ca_free(ca);
	return NULL;
}

int
ca_ready(const struct ca *ca)
{
	return ca->ready;
}

void
ca_free(struct ca *ca)
{
	if (ca == NULL)
		return;
	ev_timer_stop(ca->loop, &ca->timer);
	/* The upstream went first and will not answer (upstream.h). */
	if (ca->up_prep != NULL) {
		cert_tbs_cleanup(&ca->up_prep->tbs);
		mem_free(ca->up_prep);
	}
	pb_release(spirelet_server_Journal_fields, &ca->j);
	mem_free(ca);
}

int64_t
ca_x509_not_after(const struct ca *ca)
{
	pb_size_t	i;

	for (i = 0; i < ca->j.x509_count; i++)
		if (ca->j.x509[i].status == CA_STATUS_ACTIVE)
			return ca->j.x509[i].not_after;
	return 0;
}

void
ca_svid_cleanup(struct ca_svid *s)
{
	size_t	i;

	for (i = 0; i < s->n; i++)
		mem_free(s->der[i]);
	memset(s, 0, sizeof(*s));
}

void
ca_set_worker(struct ca *ca, struct worker *w)
{
	ca->worker = w;
}

void
ca_drain(struct ca *ca, void (*done)(void *), void *arg)
{
	ca->draining = 1;
	ev_timer_stop(ca->loop, &ca->timer);
	if (ca->jobs == 0) {
		done(arg);
		return;
	}
	log_kv(LOG_LEVEL_INFO, "ca", "waiting for TPM operations in flight",
	    (const char *)NULL);
	ca->drained = done;
	ca->drained_arg = arg;
}

/*
 * The template of an X509-SVID signed by the active CA, and that CA's
 * key (borrowed from the KeyManager) and slot. *subj is the subject's
 * DER, the caller's to free. NULL when there is no active CA (logged).
 */
static struct key *
ca_x509_template(struct ca *ca, int64_t ttl, const char *spiffe_id,
    const char *const *dns, size_t ndns, const uint8_t *spki,
    size_t spki_len, struct cert_template *t, uint8_t **subj,
    spirelet_server_X509Slot **slot)
{
	spirelet_server_X509Slot	*act;
	struct cert_name		 nm;
	struct key			*k;
	size_t				 subj_len, i;
	int64_t				 now = ca_now(), na;

	*subj = NULL;
	act = ca_x509_find(ca, CA_STATUS_ACTIVE);
	if (act == NULL || (k = keymgr_get(ca->km, act->key_id)) == NULL) {
		log_warnx("ca", "no active X.509 CA");
		return NULL;
	}
	if (ttl <= 0)
		ttl = ca->cfg->default_x509_svid_ttl / 1000;
	memset(&nm, 0, sizeof(nm));
	nm.country[0] = "US";
	nm.organization[0] = "SPIRE";
	if (ndns > 0)
		nm.common_name = dns[0];
	memset(t, 0, sizeof(*t));
	if (cert_name_encode(&nm, subj, &subj_len) == -1 ||
	    cert_random_serial(t) == -1) {
		mem_free(*subj);
		*subj = NULL;
		return NULL;
	}
	na = now + ttl < act->not_after ? now + ttl : act->not_after;
	t->subject = *subj;
	t->subject_len = subj_len;
	t->not_before = (time_t)(now - BACKDATE);
	t->not_after = (time_t)na;
	t->key_usage = CERT_KU_DIGITAL_SIGNATURE | CERT_KU_KEY_ENCIPHERMENT |
	    CERT_KU_KEY_AGREEMENT;
	t->eku_tls = 1;
	t->uri = spiffe_id;
	for (i = 0; i < ndns && i < CERT_DNS_MAX; i++)
		t->dns[i] = dns[i];
	t->ndns = i;
	t->spki = spki;
	t->spki_len = spki_len;
	*slot = act;
	return k;
}

/* The CA's upstream chain after the leaf, copied into out->der[1..]. */
static int
ca_svid_chain(const spirelet_server_X509Slot *act, struct ca_svid *out)
{
	size_t	i;

	out->n = 1;
	for (i = 0; i < act->upstream_chain_count &&
	    out->n < sizeof(out->der) / sizeof(out->der[0]); i++) {
		out->der[out->n] = mem_alloc(act->upstream_chain[i]->size);
		if (out->der[out->n] == NULL)
			return -1;
		memcpy(out->der[out->n], act->upstream_chain[i]->bytes,
		    act->upstream_chain[i]->size);
		out->len[out->n++] = act->upstream_chain[i]->size;
	}
	return 0;
}

static void
ca_sign_free(struct ca_sign *j)
{
	cert_tbs_cleanup(&j->tbs);
	jwtsvid_tbs_cleanup(&j->jwt);
	ca_svid_cleanup(&j->svid);
	mem_free(j);
}

/*
 * Hands a prepared X.509 signature (j->tbs) to key k; ca_x509_signed
 * finishes it. On failure j is freed. what names it in the log.
 */
static int
ca_x509_sign_start(struct ca *ca, struct ca_sign *j, struct key *k,
    int64_t not_after, const char *what)
{
	enum key_err	e;

	j->svid.expires_at = not_after;
	j->key = k;
	keymgr_hold(ca->km, k);
	ca->jobs++;
	e = key_sign_async(k, ca_worker_for(ca, k), j->tbs.digest,
	    j->tbs.digest_len, ca_x509_signed, j);
	if (e == KEY_OK)
		return 0;
	log_kv(LOG_LEVEL_WARN, "ca", "cannot sign", "what", what, "error",
	    key_strerror(e), (const char *)NULL);
	ca->jobs--;
	keymgr_release(ca->km, k);
	ca_sign_free(j);
	return -1;
}

int
ca_sign_x509svid_async(struct ca *ca, const uint8_t *spki, size_t spki_len,
    const char *spiffe_id, const char *const *dns, size_t ndns, int64_t ttl,
    ca_x509_fn done, void *arg)
{
	spirelet_server_X509Slot	*act;
	struct cert_template		 t;
	struct ca_sign			*j;
	struct key			*k;
	uint8_t				*subj = NULL;

	if (ca->draining)
		return -1;
	j = mem_calloc(1, sizeof(*j));
	if (j == NULL)
		return -1;
	j->ca = ca;
	j->x509_done = done;
	j->arg = arg;
	k = ca_x509_template(ca, ttl, spiffe_id, dns, ndns, spki, spki_len,
	    &t, &subj, &act);
	if (k == NULL || cert_tbs_make(&t, key_get_type(k), act->cert->bytes,
	    act->cert->size, &j->tbs) == -1 ||
	    ca_svid_chain(act, &j->svid) == -1 ||
	    ca_serial_decimal(t.serial, t.serial_len, j->svid.serial,
	    sizeof(j->svid.serial)) == -1)
		goto fail;
	mem_free(subj);
	return ca_x509_sign_start(ca, j, k, t.not_after, "an X509-SVID");
fail:
	mem_free(subj);
	ca_sign_free(j);
	return -1;
}

int
ca_sign_downstream_async(struct ca *ca, const uint8_t *spki,
    size_t spki_len, int64_t ttl, ca_x509_fn done, void *arg)
{
	spirelet_server_X509Slot	*act;
	struct cert_template		 t;
	struct x509_cert		 c;
	struct ca_sign			*j;
	struct key			*k;
	uint8_t				*subj = NULL;
	size_t				 chain_len;

	act = ca_x509_find(ca, CA_STATUS_ACTIVE);
	if (ca->draining || act == NULL ||
	    (k = keymgr_get(ca->km, act->key_id)) == NULL ||
	    x509_parse(act->cert->bytes, act->cert->size, &c) != X509_OK) {
		log_warnx("ca", "no active X.509 CA");
		return -1;
	}
	if (ttl <= 0)
		ttl = ca->cfg->ca_ttl / 1000;
	/* SPIRE's parent chain: the upstream chain, or the CA alone. */
	chain_len = act->upstream_chain_count > 0 ?
	    act->upstream_chain_count : 1;
	j = mem_calloc(1, sizeof(*j));
	if (j == NULL)
		return -1;
	j->ca = ca;
	j->x509_done = done;
	j->arg = arg;
	if (nested_downstream_template(&c, chain_len, act->not_after, spki,
	    spki_len, ca_now(), ttl, ca->td_id, &t, &subj) == -1 ||
	    cert_tbs_make(&t, key_get_type(k), act->cert->bytes,
	    act->cert->size, &j->tbs) == -1 ||
	    ca_svid_chain(act, &j->svid) == -1 ||
	    ca_serial_decimal(t.serial, t.serial_len, j->svid.serial,
	    sizeof(j->svid.serial)) == -1) {
		log_warnx("ca", "cannot make a downstream CA");
		goto fail;
	}
	mem_free(subj);
	return ca_x509_sign_start(ca, j, k, t.not_after, "a downstream CA");
fail:
	mem_free(subj);
	ca_sign_free(j);
	return -1;
}

static void
ca_x509_signed(void *arg, enum key_err err, const uint8_t *sig,
    size_t siglen)
{
	struct ca_sign	*j = arg;
	struct ca	*ca = j->ca;
	int		 rc = -1;

	if (err != KEY_OK)
		log_kv(LOG_LEVEL_ERROR, "ca", "the CA key did not sign",
		    "error", key_strerror(err), (const char *)NULL);
	else if (cert_tbs_finish(&j->tbs, sig, siglen, &j->svid.der[0],
	    &j->svid.len[0]) == 0)
		rc = 0;
	keymgr_release(ca->km, j->key);
	j->x509_done(j->arg, rc, rc == 0 ? &j->svid : NULL);
	ca_sign_free(j);
	ca_job_end(ca);
}

int
ca_sign_jwtsvid_async(struct ca *ca, const char *spiffe_id,
    const char *const *aud, size_t naud, int64_t ttl, ca_jwt_fn done,
    void *arg)
{
	spirelet_server_JWTSlot	*act;
	struct ca_sign		*j;
	struct key		*k;
	enum key_err		 e;
	int64_t			 now = ca_now();

	act = ca_jwt_find(ca, CA_STATUS_ACTIVE);
	if (ca->draining || act == NULL ||
	    (k = keymgr_get(ca->km, act->key_id)) == NULL) {
		log_warnx("ca", "no active JWT key");
		return -1;
	}
	j = mem_calloc(1, sizeof(*j));
	if (j == NULL)
		return -1;
	j->ca = ca;
	j->jwt_done = done;
	j->arg = arg;
	if (ttl <= 0)
		ttl = ca->cfg->default_jwt_svid_ttl / 1000;
	j->iat = now;
	j->exp = now + ttl < act->not_after ? now + ttl : act->not_after;
	if (jwtsvid_tbs_make(key_get_type(k), act->kid, spiffe_id, aud, naud,
	    j->iat, j->exp, ca->cfg->jwt_issuer, &j->jwt) == -1) {
		ca_sign_free(j);
		return -1;
	}
	j->key = k;
	keymgr_hold(ca->km, k);
	ca->jobs++;
	e = key_sign_async(k, ca_worker_for(ca, k), j->jwt.digest,
	    j->jwt.digest_len, ca_jwt_signed, j);
	if (e == KEY_OK)
		return 0;
	log_kv(LOG_LEVEL_WARN, "ca", "cannot sign a JWT-SVID", "error",
	    key_strerror(e), (const char *)NULL);
	ca->jobs--;
	keymgr_release(ca->km, k);
	ca_sign_free(j);
	return -1;
}

static void
ca_jwt_signed(void *arg, enum key_err err, const uint8_t *sig,
    size_t siglen)
{
	struct ca_sign	*j = arg;
	struct ca	*ca = j->ca;
	char		*tok = NULL;

	if (err != KEY_OK)
		log_kv(LOG_LEVEL_ERROR, "ca", "the JWT key did not sign",
		    "error", key_strerror(err), (const char *)NULL);
	else
		tok = jwtsvid_tbs_finish(&j->jwt, sig, siglen);
	keymgr_release(ca->km, j->key);
	j->jwt_done(j->arg, tok, j->iat, j->exp);
	ca_sign_free(j);
	ca_job_end(ca);
}
