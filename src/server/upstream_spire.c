/*
 * UpstreamAuthority "spire": the server nested under a parent SPIRE
 * server (or a spirelet), as SPIRE's plugin of that name does it.
 *
 * The downstream SVID, the one of the parent's entry with downstream =
 * true, comes from a Workload API socket (a spire-agent or spirelet
 * agent on this host: FetchX509SVID with the security header, the
 * first SVID of each response, the stream kept open for rotations) or,
 * without a socket, from a source in the same process (spirelet run's
 * own link to the parent). With it: mTLS to the parent, whose leaf must
 * be spiffe://<td>/spire/server and chain to the trust domain's roots;
 * svid.v1 NewDownstreamX509CA for each CA (the CSR, ca_ttl as
 * preferred_ttl), then bundle.v1 GetBundle for the roots; bundle.v1
 * PublishJWTAuthority for each JWT key; GetBundle every 5 s while the
 * parent answers (backing off while it does not), with changes handed
 * to the server to merge into its own bundle.
 *
 * Everything the server is told (a CA's result, the parent's bundle,
 * reachability) goes out from one deferred callback on the loop (the
 * kick), never from inside an RPC callback, and channels are freed
 * there too, never inside one of their own calls.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <ev.h>
#include <pb_decode.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/mem.h"
#include "pki/der.h"
#include "pki/x509.h"
#include "rpc/client.h"
#include "rpc/tls.h"
#include "server/upstream.h"
#include "spiffe/id.h"
#include "spiffe/workload/workload.pb.h"
#include "spiffe/x509svid.h"
#include "spire/api/server/bundle/v1/bundle.pb.h"
#include "spire/api/server/svid/v1/svid.pb.h"
#include "spire/api/types/types.pb.h"

#define US_WL_PATH	"/SpiffeWorkloadAPI/FetchX509SVID"
#define US_NDX_PATH	"/spire.api.server.svid.v1.SVID/NewDownstreamX509CA"
#define US_BUNDLE_PATH	"/spire.api.server.bundle.v1.Bundle/GetBundle"
#define US_PUBLISH_PATH	\
    "/spire.api.server.bundle.v1.Bundle/PublishJWTAuthority"
#define PUB_RESP_FIELDS	\
    spire_api_server_bundle_v1_PublishJWTAuthorityResponse_fields
#define NDX_RESP_FIELDS	\
    spire_api_server_svid_v1_NewDownstreamX509CAResponse_fields
#define US_WL_RETRY_MIN	1.0	/* seconds before asking the agent again */
#define US_WL_RETRY_MAX	30.0
#define US_POLL_MAX	30.0	/* seconds between polls of a silent parent */
#define US_DEAD_MAX	4	/* channels waiting to be freed */
#define US_TD_CERTS_MAX	X509_CHAIN_MAX

enum us_stage {
	US_IDLE = 0,
	US_WAIT_SVID,		/* a CA is asked for; no SVID yet */
	US_NDX,			/* NewDownstreamX509CA in flight */
	US_NDX_BUNDLE,		/* its GetBundle in flight */
	US_DONE,		/* result or error ready for the CA */
};

/* A JWT key of ours to publish, or of the parent's bundle. */
struct us_jwt {
	uint8_t		*spki;
	size_t		 spki_len;
	char		*kid;
	int64_t		 expires_at;
	int		 done;		/* published (ours) */
};

struct upstream_spire {
	struct upstream			 up;	/* first: the interface */
	struct ev_loop			*loop;
	struct worker			*worker;
	const struct upstream_spire_conf *conf;
	const struct upstream_svid_source *source;
	struct upstream_hooks		 hooks;
	struct spiffe_td		 td;
	char				 server_id[SPIFFE_ID_MAX + 1];
	int				 freeing;
	ev_timer			 kick;

	/* The downstream SVID. */
	int				 has_svid;
	char				 svid_id[SPIFFE_ID_MAX + 1];
	uint8_t				*svid_chain;	/* concatenated */
	size_t				 svid_chain_len;
	int64_t				 svid_expires;
	uint8_t				*td_roots[US_TD_CERTS_MAX];
	size_t				 td_roots_len[US_TD_CERTS_MAX];
	size_t				 ntd_roots;

	/* The Workload API stream. */
	struct rpc_channel		*wl_chan;
	struct rpc_call			*wl_call;
	ev_timer			 wl_timer;
	double				 wl_backoff;

	/* The parent. */
	struct tls_ctx			*tls;
	struct rpc_channel		*chan;
	int				 chan_calls;
	struct rpc_channel		*old;	/* before an SVID change */
	int				 old_calls;
	struct rpc_channel		*dead[US_DEAD_MAX];
	size_t				 ndead;
	int				 reachable;	/* -1 unknown */
	int				 told_reachable; /* -1 never */
	ev_timer			 poll;
	double				 poll_delay;
	int				 polling;
	struct rpc_channel		*poll_chan;
	spire_api_types_Bundle		 poll_resp;

	/* The parent's bundle as last seen. */
	uint8_t				*roots[SERVER_UPSTREAM_ROOTS_MAX];
	size_t				 roots_len[SERVER_UPSTREAM_ROOTS_MAX];
	size_t				 nroots;
	struct us_jwt			 pjwt[SERVER_UPSTREAM_JWT_MAX];
	size_t				 npjwt;
	int				 bundle_dirty;

	/* The CA request (one at a time). */
	enum us_stage			 stage;
	uint8_t				*csr;
	size_t				 csr_len;
	int64_t				 ttl;
	upstream_done_fn		 done;
	void				*done_arg;
	struct upstream_result		*res;
	char				 err[256];
	struct rpc_channel		*mint_chan;
	spire_api_server_svid_v1_NewDownstreamX509CAResponse ndx_resp;
	spire_api_types_Bundle		 mint_bundle;

	/* Our JWT keys for the parent. */
	struct us_jwt			 pubs[SERVER_UPSTREAM_PUBLISH_MAX];
	int				 publishing;	/* index, or -1 */
	struct rpc_channel		*pub_chan;
	spire_api_server_bundle_v1_PublishJWTAuthorityResponse pub_resp;
	int				 pub_unimplemented;
};

static void	us_mint(struct upstream *, const uint8_t *, size_t, int64_t,
		    upstream_done_fn, void *);
static void	us_publish(struct upstream *,
		    const struct upstream_jwt_key *);
static void	us_set_hooks(struct upstream *,
		    const struct upstream_hooks *);
static void	us_free(struct upstream *);
static void	us_kick(struct upstream_spire *);
static void	us_kick_cb(struct ev_loop *, ev_timer *, int);
static void	us_poll_cb(struct ev_loop *, ev_timer *, int);
static void	us_wl_timer_cb(struct ev_loop *, ev_timer *, int);
static void	us_wl_start(struct upstream_spire *);
static void	us_source_cb(void *, const struct upstream_svid *);
static int	us_verify(void *, struct transport_peer *, char *, size_t);
static struct rpc_channel *us_channel(struct upstream_spire *);
static void	us_call_end(struct upstream_spire *, struct rpc_channel *);
static void	us_release(struct upstream_spire *, struct rpc_channel *);
static void	us_reachable(struct upstream_spire *, int);
static void	us_ndx_start(struct upstream_spire *);
static void	us_publish_next(struct upstream_spire *);

/* Splits concatenated DER certificates; 0, or -1 when malformed. */
static int
us_split(const uint8_t *p, size_t len, const uint8_t **der, size_t *lens,
    size_t max, size_t *n)
{
	struct der	 d, whole;

	*n = 0;
	der_init(&d, p, len);
	while (!der_empty(&d)) {
		if (*n == max || der_get(&d, DER_SEQUENCE, NULL, &whole) == -1)
			return -1;
		der[*n] = whole.p;
		lens[(*n)++] = whole.len;
	}
	return *n > 0 ? 0 : -1;
}

static void
us_jwt_clear(struct us_jwt *k)
{
	mem_free(k->spki);
	mem_free(k->kid);
	memset(k, 0, sizeof(*k));
}

static int
us_jwt_set(struct us_jwt *k, const uint8_t *spki, size_t len,
    const char *kid, int64_t exp)
{
	us_jwt_clear(k);
	k->spki = mem_alloc(len);
	k->kid = mem_strdup(kid);
	if (k->spki == NULL || k->kid == NULL) {
		us_jwt_clear(k);
		return -1;
	}
	memcpy(k->spki, spki, len);
	k->spki_len = len;
	k->expires_at = exp;
	return 0;
}

static void
us_roots_clear(uint8_t **der, size_t *n)
{
	size_t	 i;

	for (i = 0; i < *n; i++)
		mem_free(der[i]);
	*n = 0;
}

/* The server is told things from here, on the loop, one at a time. */
static void
us_kick(struct upstream_spire *u)
{
	if (u->freeing)
		return;
	ev_timer_stop(u->loop, &u->kick);
	ev_timer_set(&u->kick, 0., 0.);
	ev_timer_start(u->loop, &u->kick);
}

static void
us_tell_bundle(struct upstream_spire *u)
{
	struct upstream_jwt_key	 keys[SERVER_UPSTREAM_JWT_MAX];
	struct upstream_bundle	 b;
	size_t			 i;

	u->bundle_dirty = 0;
	if (u->hooks.bundle == NULL)
		return;
	for (i = 0; i < u->npjwt; i++) {
		keys[i].spki = u->pjwt[i].spki;
		keys[i].spki_len = u->pjwt[i].spki_len;
		keys[i].kid = u->pjwt[i].kid;
		keys[i].expires_at = u->pjwt[i].expires_at;
	}
	memset(&b, 0, sizeof(b));
	b.roots = (const uint8_t *const *)u->roots;
	b.roots_len = u->roots_len;
	b.nroots = u->nroots;
	b.jwt = keys;
	b.njwt = u->npjwt;
	u->hooks.bundle(u->hooks.arg, &b);
}

static void
us_kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct upstream_spire	*u = w->data;
	struct upstream_result	*res;
	upstream_done_fn	 done;
	void			*arg;

	(void)loop;
	(void)revents;
	while (u->ndead > 0)
		rpc_channel_free(u->dead[--u->ndead]);
	if (u->freeing)
		return;
	if (u->reachable != -1 && u->reachable != u->told_reachable) {
		u->told_reachable = u->reachable;
		if (u->hooks.reachable != NULL)
			u->hooks.reachable(u->hooks.arg, u->reachable);
	}
	if (u->bundle_dirty)
		us_tell_bundle(u);
	if (u->stage == US_WAIT_SVID && u->has_svid)
		us_ndx_start(u);
	if (u->stage == US_DONE) {
		res = u->res;
		done = u->done;
		arg = u->done_arg;
		u->res = NULL;
		u->stage = US_IDLE;
		mem_free(u->csr);
		u->csr = NULL;
		if (res != NULL)
			done(arg, res, NULL);
		else
			done(arg, NULL, u->err);
		/* done may have asked for another CA: u is still ours. */
	}
	us_publish_next(u);
}

/* Parent reachability, as the calls' outcomes show it. */
static void
us_reachable(struct upstream_spire *u, int up)
{
	if (u->reachable == up)
		return;
	u->reachable = up;
	if (up)
		log_kv(LOG_LEVEL_INFO, "upstream", "parent server reachable",
		    "server", u->conf->server_address, (const char *)NULL);
	else
		log_kv(LOG_LEVEL_WARN, "upstream", "parent server unreachable",
		    "server", u->conf->server_address, (const char *)NULL);
	us_kick(u);
}

/* Whether a failed call's status means the parent did not answer. */
static int
us_unreachable_code(enum grpc_status code)
{
	return code == GRPC_STATUS_UNAVAILABLE ||
	    code == GRPC_STATUS_DEADLINE_EXCEEDED ||
	    code == GRPC_STATUS_CANCELLED;
}

/* Channels. */
static struct rpc_channel *
us_channel(struct upstream_spire *u)
{
	struct rpc_channel_opts	 o;
	char			 target[300];

	if (u->chan != NULL)
		return u->chan;
	if (u->tls == NULL)
		return NULL;
	snprintf(target, sizeof(target), strchr(u->conf->server_address,
	    ':') != NULL ? "[%s]:%lld" : "%s:%lld", u->conf->server_address,
	    (long long)u->conf->server_port);
	memset(&o, 0, sizeof(o));
	o.target = target;
	o.tls = u->tls;
	o.worker = u->worker;
	u->chan = rpc_channel_new(u->loop, &o);
	u->chan_calls = 0;
	return u->chan;
}

/* A channel is freed from the kick, never inside its own callbacks. */
static void
us_release(struct upstream_spire *u, struct rpc_channel *ch)
{
	if (ch == NULL)
		return;
	if (u->ndead == US_DEAD_MAX) {
		log_warnx("upstream", "too many channels to release");
		return;
	}
	u->dead[u->ndead++] = ch;
	us_kick(u);
}

/* A call on ch ended: an old channel goes once its calls have. */
static void
us_call_end(struct upstream_spire *u, struct rpc_channel *ch)
{
	if (ch == u->chan && u->chan_calls > 0)
		u->chan_calls--;
	else if (ch == u->old && u->old_calls > 0 && --u->old_calls == 0) {
		us_release(u, u->old);
		u->old = NULL;
	}
}

/* Starts a unary call on the current channel; 0 or -1. */
static int
us_unary(struct upstream_spire *u, const char *path,
    const pb_msgdesc_t *req_fields, const void *req,
    const pb_msgdesc_t *resp_fields, void *resp, rpc_unary_done_fn done,
    struct rpc_channel **used)
{
	struct rpc_channel	*ch;

	ch = us_channel(u);
	if (ch == NULL)
		return -1;
	if (rpc_client_unary(ch, path, NULL, 0, SERVER_UPSTREAM_CALL_SEC,
	    req_fields, req, resp_fields, resp, done, u) == -1)
		return -1;
	u->chan_calls++;
	*used = ch;
	return 0;
}

/* The parent's leaf: exactly spiffe://<td>/spire/server, to our roots. */
static int
us_verify(void *arg, struct transport_peer *peer, char *err, size_t errlen)
{
	struct upstream_spire	*u = arg;
	struct x509_cert	*roots;
	struct x509svid_bundle	 b;
	struct x509svid_policy	 pol;
	struct x509svid_result	 res;
	struct spiffe_id	 want;
	enum x509svid_err	 e;
	size_t			 i, n = 0;
	int			 rc = -1;

	if (peer->nchain == 0) {
		snprintf(err, errlen, "parent sent no certificate");
		return -1;
	}
	roots = mem_calloc(u->ntd_roots + u->nroots + 1, sizeof(*roots));
	if (roots == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < u->ntd_roots; i++)
		if (x509_parse(u->td_roots[i], u->td_roots_len[i],
		    &roots[n]) == X509_OK)
			n++;
	for (i = 0; i < u->nroots; i++)
		if (x509_parse(u->roots[i], u->roots_len[i], &roots[n]) ==
		    X509_OK)
			n++;
	if (n == 0) {
		snprintf(err, errlen, "no trust bundle for the parent yet");
		goto out;
	}
	if (spiffe_id_parse(u->server_id, strlen(u->server_id), &want) !=
	    SPIFFE_OK) {
		snprintf(err, errlen, "bad server ID");
		goto out;
	}
	b.td = &u->td;
	b.roots = roots;
	b.nroots = n;
	memset(&pol, 0, sizeof(pol));
	pol.id = &want;
	e = x509svid_verify((const uint8_t *const *)peer->chain,
	    peer->chain_len, peer->nchain, &b, 1, (long long)time(NULL), &pol,
	    &res);
	if (e != X509SVID_OK) {
		x509svid_describe(e, &res, err, errlen);
		log_kv(LOG_LEVEL_WARN, "upstream", "parent server certificate "
		    "refused", "error", err, (const char *)NULL);
		goto out;
	}
	peer->spiffe_id = mem_strdup(u->server_id);
	rc = peer->spiffe_id != NULL ? 0 : -1;
out:
	mem_free(roots);
	return rc;
}

/*
 * A downstream SVID (from the Workload API or the in-process source):
 * our TLS identity toward the parent from now on. Connections made with
 * the previous one finish their calls and are dropped.
 */
static void
us_svid_set(struct upstream_spire *u, const char *id, const uint8_t *chain,
    size_t chain_len, const uint8_t *key, size_t key_len,
    const uint8_t *bundle, size_t bundle_len)
{
	const uint8_t		*der[X509_CHAIN_MAX], *rd[US_TD_CERTS_MAX];
	size_t			 lens[X509_CHAIN_MAX], rl[US_TD_CERTS_MAX];
	size_t			 n, nr = 0, i;
	struct tls_identity	 ti;
	struct tls_config	 tc;
	struct x509_cert	 leaf;
	enum tls_err		 te;
	char			 until[32];
	struct tm		 tm;
	time_t			 t;

	if (u->has_svid && chain_len == u->svid_chain_len &&
	    memcmp(chain, u->svid_chain, chain_len) == 0)
		return;		/* the same as before */
	if (us_split(chain, chain_len, der, lens, X509_CHAIN_MAX, &n) ==
	    -1 || x509_parse(der[0], lens[0], &leaf) != X509_OK ||
	    (bundle_len > 0 && us_split(bundle, bundle_len, rd, rl,
	    US_TD_CERTS_MAX, &nr) == -1)) {
		log_warnx("upstream", "the downstream SVID does not parse");
		return;
	}
	memset(&ti, 0, sizeof(ti));
	ti.chain = der;
	ti.chain_len = lens;
	ti.nchain = n;
	ti.key = key;
	ti.key_len = key_len;
	if (u->tls == NULL) {
		memset(&tc, 0, sizeof(tc));
		tc.role = TLS_ROLE_CLIENT;
		tc.identity = &ti;
		tc.verify = us_verify;
		tc.verify_arg = u;
		u->tls = tls_ctx_new(&tc, &te);
		if (u->tls == NULL)
			return;
	} else if ((te = tls_ctx_set_identity(u->tls, &ti)) != TLS_OK) {
		log_kv(LOG_LEVEL_ERROR, "upstream", "cannot use the "
		    "downstream SVID", "error", tls_strerror(te),
		    (const char *)NULL);
		return;
	}
	mem_free(u->svid_chain);
	u->svid_chain = mem_alloc(chain_len);
	if (u->svid_chain == NULL) {
		u->svid_chain_len = 0;
		return;
	}
	memcpy(u->svid_chain, chain, chain_len);
	u->svid_chain_len = chain_len;
	snprintf(u->svid_id, sizeof(u->svid_id), "%s", id);
	u->svid_expires = leaf.not_after;
	if (nr > 0) {
		us_roots_clear(u->td_roots, &u->ntd_roots);
		for (i = 0; i < nr; i++) {
			u->td_roots[i] = mem_alloc(rl[i]);
			if (u->td_roots[i] == NULL)
				break;
			memcpy(u->td_roots[i], rd[i], rl[i]);
			u->td_roots_len[i] = rl[i];
			u->ntd_roots++;
		}
	}
	/* New connections carry the new SVID; old calls finish first. */
	if (u->chan != NULL) {
		if (u->chan_calls == 0)
			us_release(u, u->chan);
		else {
			if (u->old != NULL)
				us_release(u, u->old);
			u->old = u->chan;
			u->old_calls = u->chan_calls;
		}
		u->chan = NULL;
		u->chan_calls = 0;
	}
	t = (time_t)u->svid_expires;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(until, sizeof(until), "?");
	log_kv(u->has_svid ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, "upstream",
	    "downstream SVID received", "spiffe_id", id, "not_after", until,
	    (const char *)NULL);
	if (!u->has_svid) {
		u->has_svid = 1;
		ev_timer_stop(u->loop, &u->poll);
		ev_timer_set(&u->poll, 0., 0.);
		ev_timer_start(u->loop, &u->poll);
	}
	us_kick(u);
}

/* The in-process source's SVID. */
static void
us_source_cb(void *arg, const struct upstream_svid *sv)
{
	struct upstream_spire	*u = arg;

	if (sv == NULL || u->freeing)
		return;		/* keep what we have until it is replaced */
	us_svid_set(u, sv->spiffe_id, sv->chain, sv->chain_len, sv->key,
	    sv->key_len, sv->bundle, sv->bundle_len);
}

/* The Workload API stream: each response's first SVID. */
static void
us_wl_message(struct rpc_call *call, const uint8_t *p, size_t len,
    void *arg)
{
	struct upstream_spire	*u = arg;
	X509SVIDResponse	 r;
	const X509SVID		*s;

	(void)call;
	if (u->freeing)
		return;
	memset(&r, 0, sizeof(r));
	if (rpc_decode(p, len, X509SVIDResponse_fields, &r) == -1) {
		log_warnx("upstream", "malformed X509SVIDResponse from the "
		    "Workload API");
		return;
	}
	if (r.svids_count == 0 || (s = &r.svids[0])->x509_svid == NULL ||
	    s->x509_svid_key == NULL || s->spiffe_id == NULL) {
		log_warnx("upstream", "the Workload API sent no SVID");
		goto out;
	}
	u->wl_backoff = 0;
	us_svid_set(u, s->spiffe_id, s->x509_svid->bytes, s->x509_svid->size,
	    s->x509_svid_key->bytes, s->x509_svid_key->size,
	    s->bundle != NULL ? s->bundle->bytes : NULL,
	    s->bundle != NULL ? s->bundle->size : 0);
out:
	pb_release(X509SVIDResponse_fields, &r);
}

static void
us_wl_close(struct rpc_call *call, const struct rpc_result *res, void *arg)
{
	struct upstream_spire	*u = arg;

	(void)call;
	u->wl_call = NULL;
	if (u->freeing)
		return;
	log_kv(LOG_LEVEL_WARN, "upstream", "Workload API stream ended",
	    "socket", u->conf->workload_api_socket, "code",
	    grpc_status_name(res->code), "error", res->message != NULL ?
	    res->message : "", (const char *)NULL);
	u->wl_backoff = u->wl_backoff == 0 ? US_WL_RETRY_MIN :
	    u->wl_backoff * 2;
	if (u->wl_backoff > US_WL_RETRY_MAX)
		u->wl_backoff = US_WL_RETRY_MAX;
	ev_timer_stop(u->loop, &u->wl_timer);
	ev_timer_set(&u->wl_timer, u->wl_backoff, 0.);
	ev_timer_start(u->loop, &u->wl_timer);
}

static const struct rpc_client_cbs us_wl_cbs = {
	.on_message = us_wl_message,
	.on_close = us_wl_close,
};

static void
us_wl_start(struct upstream_spire *u)
{
	static const struct rpc_md md[] = {
		{ "workload.spiffe.io", "true" },
	};
	struct rpc_channel_opts	 o;
	char			 target[512];

	if (u->wl_chan == NULL) {
		snprintf(target, sizeof(target), "unix:%s",
		    u->conf->workload_api_socket);
		memset(&o, 0, sizeof(o));
		o.target = target;
		u->wl_chan = rpc_channel_new(u->loop, &o);
		if (u->wl_chan == NULL)
			return;
	}
	u->wl_call = rpc_client_call(u->wl_chan, US_WL_PATH, md, 1, 0,
	    RPC_CALL_WAIT_FOR_READY, &us_wl_cbs, u);
	if (u->wl_call == NULL)
		return;
	/* X509SVIDRequest is empty: a zero-length message. */
	if (rpc_call_send(u->wl_call, "", 0) != RPC_ERR_OK ||
	    rpc_call_close_send(u->wl_call) != RPC_ERR_OK)
		rpc_call_cancel(u->wl_call);
}

static void
us_wl_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct upstream_spire	*u = w->data;

	(void)loop;
	(void)revents;
	if (!u->freeing && u->wl_call == NULL)
		us_wl_start(u);
}

/*
 * The parent's roots from an answer; 1 when they changed.
 * XXX: tainted flags are ignored: no forced rotation, no revocation.
 */
static int
us_parent_roots(struct upstream_spire *u,
    const spire_api_types_X509Certificate *x, size_t n)
{
	size_t	 i;
	int	 same;

	if (n > SERVER_UPSTREAM_ROOTS_MAX)
		n = SERVER_UPSTREAM_ROOTS_MAX;
	same = n == u->nroots;
	for (i = 0; same && i < n; i++)
		same = x[i].asn1 != NULL && x[i].asn1->size ==
		    u->roots_len[i] && memcmp(x[i].asn1->bytes, u->roots[i],
		    u->roots_len[i]) == 0;
	if (same)
		return 0;
	us_roots_clear(u->roots, &u->nroots);
	for (i = 0; i < n; i++) {
		if (x[i].asn1 == NULL || (u->roots[u->nroots] =
		    mem_alloc(x[i].asn1->size)) == NULL)
			continue;
		memcpy(u->roots[u->nroots], x[i].asn1->bytes, x[i].asn1->size);
		u->roots_len[u->nroots++] = x[i].asn1->size;
	}
	return 1;
}

/* The parent's JWT keys from an answer; 1 when they changed. */
static int
us_parent_jwts(struct upstream_spire *u, const spire_api_types_JWTKey *j,
    size_t n)
{
	size_t	 i;
	int	 same;

	if (n > SERVER_UPSTREAM_JWT_MAX)
		n = SERVER_UPSTREAM_JWT_MAX;
	same = n == u->npjwt;
	for (i = 0; same && i < n; i++)
		same = j[i].key_id != NULL && j[i].public_key != NULL &&
		    strcmp(j[i].key_id, u->pjwt[i].kid) == 0 &&
		    j[i].expires_at == u->pjwt[i].expires_at &&
		    j[i].public_key->size == u->pjwt[i].spki_len &&
		    memcmp(j[i].public_key->bytes, u->pjwt[i].spki,
		    u->pjwt[i].spki_len) == 0;
	if (same)
		return 0;
	for (i = 0; i < u->npjwt; i++)
		us_jwt_clear(&u->pjwt[i]);
	u->npjwt = 0;
	for (i = 0; i < n; i++) {
		if (j[i].public_key == NULL || j[i].key_id == NULL)
			continue;
		if (us_jwt_set(&u->pjwt[u->npjwt], j[i].public_key->bytes,
		    j[i].public_key->size, j[i].key_id, j[i].expires_at) == 0)
			u->npjwt++;
	}
	return 1;
}

/*
 * The parent's bundle from a GetBundle answer: kept, and handed to the
 * server when it changed.
 */
static void
us_parent_bundle(struct upstream_spire *u, const spire_api_types_Bundle *b)
{
	int	 c;

	c = us_parent_roots(u, b->x509_authorities,
	    b->x509_authorities_count);
	c |= us_parent_jwts(u, b->jwt_authorities, b->jwt_authorities_count);
	if (!c)
		return;
	u->bundle_dirty = 1;
	log_kv(LOG_LEVEL_INFO, "upstream", "parent bundle changed",
	    (const char *)NULL);
	us_kick(u);
}

/* Polling GetBundle. */
static void
us_poll_again(struct upstream_spire *u, double delay)
{
	ev_timer_stop(u->loop, &u->poll);
	ev_timer_set(&u->poll, delay, 0.);
	ev_timer_start(u->loop, &u->poll);
}

static void
us_poll_done(void *arg, const struct rpc_result *res)
{
	struct upstream_spire	*u = arg;

	u->polling = 0;
	us_call_end(u, u->poll_chan);
	u->poll_chan = NULL;
	if (u->freeing)
		return;
	if (res->code == GRPC_STATUS_OK) {
		us_parent_bundle(u, &u->poll_resp);
		pb_release(spire_api_types_Bundle_fields, &u->poll_resp);
		us_reachable(u, 1);
		u->poll_delay = SERVER_UPSTREAM_POLL_SEC;
		us_kick(u);	/* publishes still pending go now */
	} else {
		log_kv(LOG_LEVEL_DEBUG, "upstream", "GetBundle on the parent "
		    "failed", "code", grpc_status_name(res->code), "error",
		    res->message != NULL ? res->message : "",
		    (const char *)NULL);
		if (us_unreachable_code(res->code))
			us_reachable(u, 0);
		u->poll_delay = u->poll_delay * 1.5;
		if (u->poll_delay > US_POLL_MAX)
			u->poll_delay = US_POLL_MAX;
	}
	us_poll_again(u, u->poll_delay);
}

static void
us_poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct upstream_spire			*u = w->data;
	spire_api_server_bundle_v1_GetBundleRequest req;

	(void)loop;
	(void)revents;
	if (u->freeing || !u->has_svid || u->polling)
		return;
	memset(&req, 0, sizeof(req));
	memset(&u->poll_resp, 0, sizeof(u->poll_resp));
	if (us_unary(u, US_BUNDLE_PATH,
	    spire_api_server_bundle_v1_GetBundleRequest_fields, &req,
	    spire_api_types_Bundle_fields, &u->poll_resp, us_poll_done,
	    &u->poll_chan) == -1) {
		us_poll_again(u, US_POLL_MAX);
		return;
	}
	u->polling = 1;
}

/* The CA request: NewDownstreamX509CA, then GetBundle for the roots. */
static void
us_mint_fail(struct upstream_spire *u, const char *what,
    const struct rpc_result *res)
{
	snprintf(u->err, sizeof(u->err), "%s: %s: %s", what,
	    res != NULL ? grpc_status_name(res->code) : "not sent",
	    res != NULL && res->message != NULL ? res->message : "");
	upstream_result_free(u->res);
	u->res = NULL;
	u->stage = US_DONE;
	us_kick(u);
}

static void
us_mint_bundle_done(void *arg, const struct rpc_result *res)
{
	struct upstream_spire	*u = arg;
	struct upstream_result	*r = u->res;
	spire_api_types_Bundle	*b = &u->mint_bundle;
	pb_size_t		 i;

	us_call_end(u, u->mint_chan);
	u->mint_chan = NULL;
	if (u->freeing)
		return;
	/* As SPIRE's plugin: the roots are what GetBundle says now. */
	if (res->code == GRPC_STATUS_OK && b->x509_authorities_count > 0) {
		for (i = 0; i < r->nroots; i++)
			mem_free(r->roots[i]);
		r->nroots = 0;
		for (i = 0; i < b->x509_authorities_count; i++)
			if (b->x509_authorities[i].asn1 != NULL &&
			    upstream_result_push(&r->roots, &r->roots_len,
			    &r->nroots, b->x509_authorities[i].asn1->bytes,
			    b->x509_authorities[i].asn1->size) == -1) {
				pb_release(spire_api_types_Bundle_fields, b);
				us_mint_fail(u, "GetBundle", NULL);
				return;
			}
		us_parent_bundle(u, b);
	}
	if (res->code == GRPC_STATUS_OK)
		pb_release(spire_api_types_Bundle_fields, b);
	u->stage = US_DONE;
	us_kick(u);
}

static void
us_ndx_done(void *arg, const struct rpc_result *res)
{
	struct upstream_spire	*u = arg;
	spire_api_server_svid_v1_NewDownstreamX509CAResponse *r = &u->ndx_resp;
	spire_api_server_bundle_v1_GetBundleRequest breq;
	pb_size_t		 i;
	int			 ok = 1;

	us_call_end(u, u->mint_chan);
	u->mint_chan = NULL;
	if (u->freeing)
		return;
	if (res->code != GRPC_STATUS_OK) {
		if (us_unreachable_code(res->code))
			us_reachable(u, 0);
		us_mint_fail(u, "NewDownstreamX509CA", res);
		return;
	}
	us_reachable(u, 1);
	u->res = mem_calloc(1, sizeof(*u->res));
	if (u->res == NULL)
		ok = 0;
	for (i = 0; ok && i < r->ca_cert_chain_count; i++)
		if (r->ca_cert_chain[i] == NULL ||
		    upstream_result_push(&u->res->chain, &u->res->chain_len,
		    &u->res->nchain, r->ca_cert_chain[i]->bytes,
		    r->ca_cert_chain[i]->size) == -1)
			ok = 0;
	for (i = 0; ok && i < r->x509_authorities_count; i++)
		if (r->x509_authorities[i] != NULL &&
		    upstream_result_push(&u->res->roots, &u->res->roots_len,
		    &u->res->nroots, r->x509_authorities[i]->bytes,
		    r->x509_authorities[i]->size) == -1)
			ok = 0;
	pb_release(NDX_RESP_FIELDS, r);
	if (!ok || u->res->nchain == 0) {
		us_mint_fail(u, "NewDownstreamX509CA", NULL);
		snprintf(u->err, sizeof(u->err), "NewDownstreamX509CA: the "
		    "parent sent no CA chain");
		return;
	}
	memset(&breq, 0, sizeof(breq));
	memset(&u->mint_bundle, 0, sizeof(u->mint_bundle));
	if (us_unary(u, US_BUNDLE_PATH,
	    spire_api_server_bundle_v1_GetBundleRequest_fields, &breq,
	    spire_api_types_Bundle_fields, &u->mint_bundle,
	    us_mint_bundle_done, &u->mint_chan) == -1) {
		u->stage = US_DONE;	/* the roots of the answer will do */
		us_kick(u);
		return;
	}
	u->stage = US_NDX_BUNDLE;
}

static void
us_ndx_start(struct upstream_spire *u)
{
	spire_api_server_svid_v1_NewDownstreamX509CARequest req;

	memset(&req, 0, sizeof(req));
	req.csr = mem_alloc(PB_BYTES_ARRAY_T_ALLOCSIZE(u->csr_len));
	if (req.csr == NULL) {
		us_mint_fail(u, "NewDownstreamX509CA", NULL);
		return;
	}
	req.csr->size = (pb_size_t)u->csr_len;
	memcpy(req.csr->bytes, u->csr, u->csr_len);
	req.preferred_ttl = u->ttl > INT32_MAX ? INT32_MAX : (int32_t)u->ttl;
	memset(&u->ndx_resp, 0, sizeof(u->ndx_resp));
	u->stage = US_NDX;
	if (us_unary(u, US_NDX_PATH,
	    spire_api_server_svid_v1_NewDownstreamX509CARequest_fields, &req,
	    NDX_RESP_FIELDS, &u->ndx_resp, us_ndx_done, &u->mint_chan) == -1)
		us_mint_fail(u, "NewDownstreamX509CA", NULL);
	mem_free(req.csr);
}

static void
us_mint(struct upstream *up, const uint8_t *csr, size_t len, int64_t ttl,
    upstream_done_fn done, void *arg)
{
	struct upstream_spire	*u = (struct upstream_spire *)up;

	if (u->stage != US_IDLE || len > UINT16_MAX) {
		done(arg, NULL, u->stage != US_IDLE ? "a CA request is open" :
		    "CSR too large");
		return;
	}
	u->csr = mem_alloc(len);
	if (u->csr == NULL) {
		done(arg, NULL, "out of memory");
		return;
	}
	memcpy(u->csr, csr, len);
	u->csr_len = len;
	u->ttl = ttl;
	u->done = done;
	u->done_arg = arg;
	u->err[0] = '\0';
	u->stage = US_WAIT_SVID;
	if (!u->has_svid)
		log_info("upstream", "waiting for the downstream SVID before "
		    "asking the parent for a CA");
	us_kick(u);
}

/* PublishJWTAuthority, one key at a time. */
static void
us_publish_done(void *arg, const struct rpc_result *res)
{
	struct upstream_spire	*u = arg;
	spire_api_server_bundle_v1_PublishJWTAuthorityResponse *r =
	    &u->pub_resp;
	int			 i = u->publishing;

	u->publishing = -1;
	us_call_end(u, u->pub_chan);
	u->pub_chan = NULL;
	if (u->freeing)
		return;
	if (res->code == GRPC_STATUS_UNIMPLEMENTED) {
		if (!u->pub_unimplemented)
			log_kv(LOG_LEVEL_WARN, "upstream", "the parent does "
			    "not take JWT keys: workloads outside this server "
			    "may not validate its JWT-SVIDs",
			    (const char *)NULL);
		u->pub_unimplemented = 1;
		u->pubs[i].done = 1;
		return;
	}
	if (res->code != GRPC_STATUS_OK) {
		log_kv(LOG_LEVEL_DEBUG, "upstream", "PublishJWTAuthority "
		    "failed; trying again after the next poll", "code",
		    grpc_status_name(res->code), (const char *)NULL);
		if (us_unreachable_code(res->code))
			us_reachable(u, 0);
		return;
	}
	log_kv(LOG_LEVEL_INFO, "upstream", "JWT key published to the parent",
	    "kid", u->pubs[i].kid, (const char *)NULL);
	u->pubs[i].done = 1;
	/* The parent's JWT keys now; its roots come with the polls. */
	if (us_parent_jwts(u, r->jwt_authorities, r->jwt_authorities_count))
		u->bundle_dirty = 1;
	pb_release(PUB_RESP_FIELDS, r);
	us_kick(u);
}

static void
us_publish_next(struct upstream_spire *u)
{
	spire_api_server_bundle_v1_PublishJWTAuthorityRequest req;
	size_t		 i;

	if (u->publishing != -1 || !u->has_svid || u->reachable == 0)
		return;
	for (i = 0; i < SERVER_UPSTREAM_PUBLISH_MAX; i++)
		if (u->pubs[i].kid != NULL && !u->pubs[i].done)
			break;
	if (i == SERVER_UPSTREAM_PUBLISH_MAX)
		return;
	memset(&req, 0, sizeof(req));
	req.has_jwt_authority = true;
	req.jwt_authority.public_key = mem_alloc(PB_BYTES_ARRAY_T_ALLOCSIZE(
	    u->pubs[i].spki_len));
	if (req.jwt_authority.public_key == NULL)
		return;
	req.jwt_authority.public_key->size = (pb_size_t)u->pubs[i].spki_len;
	memcpy(req.jwt_authority.public_key->bytes, u->pubs[i].spki,
	    u->pubs[i].spki_len);
	req.jwt_authority.key_id = u->pubs[i].kid;
	req.jwt_authority.expires_at = u->pubs[i].expires_at;
	memset(&u->pub_resp, 0, sizeof(u->pub_resp));
	if (us_unary(u, US_PUBLISH_PATH,
	    spire_api_server_bundle_v1_PublishJWTAuthorityRequest_fields, &req,
	    PUB_RESP_FIELDS, &u->pub_resp, us_publish_done, &u->pub_chan) == 0)
		u->publishing = (int)i;
	mem_free(req.jwt_authority.public_key);
}

static void
us_publish(struct upstream *up, const struct upstream_jwt_key *k)
{
	struct upstream_spire	*u = (struct upstream_spire *)up;
	size_t			 i, at = SERVER_UPSTREAM_PUBLISH_MAX;

	for (i = 0; i < SERVER_UPSTREAM_PUBLISH_MAX; i++) {
		if (u->pubs[i].kid != NULL &&
		    strcmp(u->pubs[i].kid, k->kid) == 0)
			return;		/* known already */
		if (u->pubs[i].kid == NULL && at == SERVER_UPSTREAM_PUBLISH_MAX)
			at = i;
	}
	if (at == SERVER_UPSTREAM_PUBLISH_MAX) {
		/* Full: the key that ends first makes room. */
		for (at = 0, i = 1; i < SERVER_UPSTREAM_PUBLISH_MAX; i++)
			if (u->pubs[i].expires_at < u->pubs[at].expires_at)
				at = i;
		if ((int)at == u->publishing)
			return;
	}
	if (us_jwt_set(&u->pubs[at], k->spki, k->spki_len, k->kid,
	    k->expires_at) == -1)
		return;
	us_kick(u);
}

static void
us_set_hooks(struct upstream *up, const struct upstream_hooks *h)
{
	struct upstream_spire	*u = (struct upstream_spire *)up;

	u->hooks = *h;
}

struct upstream *
upstream_spire_new(struct ev_loop *loop, struct worker *worker,
    const struct upstream_spire_conf *conf, const char *trust_domain,
    const struct upstream_svid_source *source)
{
	struct upstream_spire	*u;

	if (conf->workload_api_socket == NULL && source == NULL) {
		log_error("upstream", "UpstreamAuthority \"spire\" needs "
		    "workload_api_socket (the agent supplying the "
		    "downstream SVID); only spirelet run can go without");
		return NULL;
	}
	u = mem_calloc(1, sizeof(*u));
	if (u == NULL)
		return NULL;
	u->up.name = "spire";
	u->up.remote = 1;
	u->up.mint_x509_ca = us_mint;
	u->up.publish_jwt_key = us_publish;
	u->up.set_hooks = us_set_hooks;
	u->up.free = us_free;
	u->loop = loop;
	u->worker = worker;
	u->conf = conf;
	u->reachable = -1;
	u->told_reachable = -1;
	u->publishing = -1;
	u->poll_delay = SERVER_UPSTREAM_POLL_SEC;
	ev_timer_init(&u->kick, us_kick_cb, 0., 0.);
	u->kick.data = u;
	ev_timer_init(&u->poll, us_poll_cb, 0., 0.);
	u->poll.data = u;
	ev_timer_init(&u->wl_timer, us_wl_timer_cb, 0., 0.);
	u->wl_timer.data = u;
	if (spiffe_td_parse(trust_domain, strlen(trust_domain), &u->td) !=
	    SPIFFE_OK)
		goto fail;
	snprintf(u->server_id, sizeof(u->server_id),
	    "spiffe://%s/spire/server", u->td.name);
	log_kv(LOG_LEVEL_INFO, "upstream", "nested under a parent server",
	    "server", conf->server_address, "svid_from",
	    conf->workload_api_socket != NULL ? conf->workload_api_socket :
	    "this process's agent", (const char *)NULL);
	if (conf->workload_api_socket != NULL)
		us_wl_start(u);
	else {
		u->source = source;
		source->watch(source->src, us_source_cb, u);
	}
	return &u->up;
fail:
	us_free(&u->up);
	return NULL;
}

static void
us_free(struct upstream *up)
{
	struct upstream_spire	*u = (struct upstream_spire *)up;
	size_t			 i;

	if (u == NULL)
		return;
	u->freeing = 1;
	ev_timer_stop(u->loop, &u->kick);
	ev_timer_stop(u->loop, &u->poll);
	ev_timer_stop(u->loop, &u->wl_timer);
	if (u->source != NULL)
		u->source->unwatch(u->source->src);
	/* Freeing a channel ends its calls (their callbacks see freeing). */
	rpc_channel_free(u->wl_chan);
	rpc_channel_free(u->chan);
	rpc_channel_free(u->old);
	while (u->ndead > 0)
		rpc_channel_free(u->dead[--u->ndead]);
	tls_ctx_free(u->tls);
	upstream_result_free(u->res);
	mem_free(u->csr);
	mem_free(u->svid_chain);
	us_roots_clear(u->td_roots, &u->ntd_roots);
	us_roots_clear(u->roots, &u->nroots);
	for (i = 0; i < u->npjwt; i++)
		us_jwt_clear(&u->pjwt[i]);
	for (i = 0; i < SERVER_UPSTREAM_PUBLISH_MAX; i++)
		us_jwt_clear(&u->pubs[i]);
	mem_free(u);
}
