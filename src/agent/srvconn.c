/*
 * The agent's link to the server: two TLS client contexts (one without
 * a client certificate for attestation, one with the agent SVID for
 * everything else), both checking the server SPIFFE-style, never by
 * host name: the chain must lead to the trust domain's bundle and the
 * leaf be exactly spiffe://<td>/spire/server. The mTLS channel lives as
 * long as the SVID; rpc/client.c reconnects after the server's GOAWAY.
 * With the agent's key in the TPM, the channel's handshakes sign on the
 * worker (each wolfSSL step there, see doc/tpm.md), never on the loop.
 */
#include "config.h"

#include <string.h>

#include <pb_decode.h>

#include "agent/internal.h"
#include "core/log.h"
#include "core/mem.h"
#include "google/rpc/status.pb.h"
#include "pki/x509.h"
#include "rpc/client.h"
#include "rpc/tls.h"
#include "spiffe/x509svid.h"
#include "spire/api/types/types.pb.h"

#define PD_TYPE_URL \
	"type.googleapis.com/spire.api.types.PermissionDeniedDetails"

struct srv_unary {
	struct agent	*a;
	srv_unary_fn	 fn;
	void		*arg;
	struct buf	 resp;
	int		 nmsg;
};

static int	srvconn_verify_peer(void *, struct transport_peer *, char *,
		    size_t);
static const struct bundle *srvconn_trust(const struct agent *);
static int	srvconn_roots(const struct bundle *, struct x509_cert **,
		    size_t *);
static void	unary_message(struct rpc_call *, const uint8_t *, size_t,
		    void *);
static void	unary_close(struct rpc_call *, const struct rpc_result *,
		    void *);

static const struct rpc_client_cbs unary_cbs = {
	.on_message = unary_message,
	.on_close = unary_close,
};

/* The bundle the server is checked against now: the cached one first. */
static const struct bundle *
srvconn_trust(const struct agent *a)
{
	if (a->has_bundle && a->bundle.nx509 > 0)
		return &a->bundle;
	if (a->has_boot_bundle)
		return &a->boot_bundle;
	return NULL;
}

/* Parses a bundle's roots into a new array (mem_free). 0 or -1. */
static int
srvconn_roots(const struct bundle *b, struct x509_cert **out, size_t *n)
{
	struct x509_cert	*r;
	size_t			 i, k = 0;

	*out = NULL;
	*n = 0;
	if (b->nx509 == 0)
		return -1;
	r = mem_calloc(b->nx509, sizeof(*r));
	if (r == NULL)
		return -1;
	for (i = 0; i < b->nx509; i++)
		if (x509_parse(b->x509[i].der, b->x509[i].len, &r[k]) ==
		    X509_OK)
			k++;
	if (k == 0) {
		mem_free(r);
		return -1;
	}
	*out = r;
	*n = k;
	return 0;
}

static int
srvconn_verify_peer(void *arg, struct transport_peer *peer, char *err,
    size_t errlen)
{
	struct agent		*a = arg;
	const struct bundle	*b;
	struct x509svid_bundle	 xb;
	struct x509svid_policy	 pol;
	struct x509svid_result	 res;
	struct spiffe_td	 td;
	struct spiffe_id	 want;
	struct x509_cert	*roots, leaf;
	enum x509svid_err	 e;
	char			 idbuf[SPIFFE_ID_MAX + 1], why[256];
	size_t			 nroots;

	if (spiffe_td_parse(a->td, strlen(a->td), &td) != SPIFFE_OK ||
	    spiffe_id_make(&td, "/spire/server", &want) != SPIFFE_OK ||
	    spiffe_id_format(&want, idbuf, sizeof(idbuf)) != SPIFFE_OK) {
		snprintf(err, errlen, "bad trust domain");
		return -1;
	}
	if (peer->nchain == 0) {
		snprintf(err, errlen, "server sent no certificate");
		return -1;
	}
	b = srvconn_trust(a);
	if (b == NULL) {
		/*
		 * insecure_bootstrap: no chain check, only that the leaf
		 * names the server (a sanity check, not security).
		 */
		if (x509_parse(peer->chain[0], peer->chain_len[0], &leaf) !=
		    X509_OK || leaf.nuris != 1 || leaf.uris[0].len !=
		    strlen(idbuf) || memcmp(leaf.uris[0].p, idbuf,
		    leaf.uris[0].len) != 0) {
			snprintf(err, errlen, "server is not %s", idbuf);
			return -1;
		}
	} else {
		if (srvconn_roots(b, &roots, &nroots) == -1) {
			snprintf(err, errlen, "trust bundle has no usable "
			    "root");
			return -1;
		}
		xb.td = &td;
		xb.roots = roots;
		xb.nroots = nroots;
		memset(&pol, 0, sizeof(pol));
		pol.id = &want;
		e = x509svid_verify((const uint8_t *const *)peer->chain,
		    peer->chain_len, peer->nchain, &xb, 1,
		    (long long)agent_now(a), &pol, &res);
		mem_free(roots);
		if (e != X509SVID_OK) {
			x509svid_describe(e, &res, why, sizeof(why));
			snprintf(err, errlen, "server certificate refused: %s",
			    why);
			return -1;
		}
	}
	peer->spiffe_id = mem_strdup(idbuf);
	return peer->spiffe_id != NULL ? 0 : -1;
}

int
srvconn_init(struct agent *a)
{
	struct tls_config	 tc;
	enum tls_err		 e;

	memset(&tc, 0, sizeof(tc));
	tc.role = TLS_ROLE_CLIENT;
	tc.verify = srvconn_verify_peer;
	tc.verify_arg = a;
	a->tls_boot = tls_ctx_new(&tc, &e);
	if (a->tls_boot == NULL)
		return -1;
	a->tls_mtls = tls_ctx_new(&tc, &e);
	if (a->tls_mtls == NULL)
		return -1;
	return 0;
}

void
srvconn_free(struct agent *a)
{
	rpc_channel_free(a->chan);
	a->chan = NULL;
	tls_ctx_free(a->tls_boot);
	tls_ctx_free(a->tls_mtls);
	a->tls_boot = a->tls_mtls = NULL;
}

static struct rpc_channel *
srvconn_channel(struct agent *a, struct tls_ctx *tls)
{
	struct rpc_channel_opts	 o;
	char			 target[300];

	snprintf(target, sizeof(target), strchr(a->cfg->server_address,
	    ':') != NULL ? "[%s]:%lld" : "%s:%lld", a->cfg->server_address,
	    (long long)a->cfg->server_port);
	memset(&o, 0, sizeof(o));
	o.target = target;
	o.tls = tls;
	o.msg_max = (size_t)a->cfg->max_message_size;
	/* A TPM key's handshakes take their steps there, off the loop. */
	o.worker = a->worker;
	return rpc_channel_new(a->loop, &o);
}

/* A fresh channel without a client certificate; the caller frees it. */
struct rpc_channel *
srvconn_boot_channel(struct agent *a)
{
	return srvconn_channel(a, a->tls_boot);
}

/*
 * Presents the current own SVID from now on: new identity in the mTLS
 * context, and a new channel (the old connection keeps the old
 * certificate, so it is dropped; calls on it are cancelled, which only
 * happens between syncs). 0 or -1.
 */
int
srvconn_set_identity(struct agent *a)
{
	const uint8_t		*der[X509_CHAIN_MAX];
	size_t			 lens[X509_CHAIN_MAX], n;
	struct tls_identity	 id;
	struct rpc_channel	*ch;
	enum tls_err		 e;

	if (chain_split(a->svid.chain, a->svid.chain_len, der, lens,
	    X509_CHAIN_MAX, &n) == -1)
		return -1;
	memset(&id, 0, sizeof(id));
	id.chain = der;
	id.chain_len = lens;
	id.nchain = n;
	/* PKCS#8 for a software key; a TPM key signs through the TPM. */
	ownkey_identity(a->svid.key, &id);
	e = tls_ctx_set_identity(a->tls_mtls, &id);
	if (e != TLS_OK) {
		ownkey_identity_undo(&id);
		log_kv(LOG_LEVEL_ERROR, "agent", "cannot use the agent SVID "
		    "for TLS", "error", tls_strerror(e), (const char *)NULL);
		return -1;
	}
	ch = srvconn_channel(a, a->tls_mtls);
	if (ch == NULL)
		return -1;
	if (a->chan != NULL)
		agent_release_channel(a, a->chan);
	a->chan = ch;
	return 0;
}

/* The PermissionDeniedDetails reason in grpc-status-details, or -1. */
int
srvconn_pd_reason(const uint8_t *details, size_t len)
{
	google_rpc_Status			 st;
	spire_api_types_PermissionDeniedDetails	 pd;
	pb_istream_t				 is;
	size_t					 i;
	int					 reason = -1;

	if (details == NULL || len == 0)
		return -1;
	memset(&st, 0, sizeof(st));
	if (grpc_details_decode(details, len, &st) == -1)
		return -1;
	for (i = 0; i < st.details_count && reason == -1; i++) {
		if (st.details[i].type_url == NULL ||
		    strcmp(st.details[i].type_url, PD_TYPE_URL) != 0 ||
		    st.details[i].value == NULL)
			continue;
		memset(&pd, 0, sizeof(pd));
		is = pb_istream_from_buffer(st.details[i].value->bytes,
		    st.details[i].value->size);
		if (pb_decode(&is,
		    spire_api_types_PermissionDeniedDetails_fields, &pd))
			reason = (int)pd.reason;
	}
	pb_release(google_rpc_Status_fields, &st);
	return reason;
}

static void
unary_message(struct rpc_call *call, const uint8_t *p, size_t len,
    void *arg)
{
	struct srv_unary	*u = arg;

	(void)call;
	if (u->nmsg++ == 0 && buf_append(&u->resp, p, len) == -1)
		u->nmsg = -1000;
}

static void
unary_close(struct rpc_call *call, const struct rpc_result *res, void *arg)
{
	struct srv_unary	*u = arg;
	struct srv_result	 r;

	(void)call;
	memset(&r, 0, sizeof(r));
	r.code = res->code;
	r.message = res->message != NULL ? res->message : "";
	r.pd_reason = -1;
	if (r.code == GRPC_STATUS_PERMISSION_DENIED)
		r.pd_reason = srvconn_pd_reason(res->details,
		    res->details_len);
	if (r.code == GRPC_STATUS_OK && u->nmsg != 1) {
		r.code = GRPC_STATUS_INTERNAL;
		r.message = "not exactly one response message";
	}
	r.resp = buf_ptr(&u->resp);
	r.resp_len = u->resp.len;
	u->fn(u->a, u->arg, &r);
	buf_cleanup(&u->resp);
	mem_free(u);
}

/*
 * One unary call with a request already encoded; fn runs once with the
 * result (the reply borrowed for its duration), also when the channel
 * is freed. 0, or -1 when the call could not start (fn will not run).
 */
int
srvconn_unary(struct agent *a, struct rpc_channel *ch, const char *path,
    const struct buf *req, srv_unary_fn fn, void *arg)
{
	struct srv_unary	*u;
	struct rpc_call		*call;

	u = mem_calloc(1, sizeof(*u));
	if (u == NULL)
		return -1;
	u->a = a;
	u->fn = fn;
	u->arg = arg;
	buf_init(&u->resp, (size_t)a->cfg->max_message_size);
	call = rpc_client_call(ch, path, NULL, 0, AGENT_RPC_TIMEOUT_SEC, 0,
	    &unary_cbs, u);
	if (call == NULL) {
		mem_free(u);
		return -1;
	}
	if (rpc_call_send(call, buf_ptr(req), req->len) != RPC_ERR_OK ||
	    rpc_call_close_send(call) != RPC_ERR_OK) {
		/* unary_close runs from the cancel and frees u. */
		rpc_call_cancel(call);
	}
	return 0;
}

/*
 * Checks an SVID the server issued us: the chain verifies to the trust
 * domain's bundle (with, or the current one when NULL) as an X509-SVID,
 * the leaf is want_id (or any ID of the trust domain when NULL) and
 * carries want_spki, the key we made the CSR with. 0, or -1 with the
 * reason in err.
 */
int
srvconn_verify_svid(struct agent *a, const struct bundle *with,
    const uint8_t *chain, size_t chain_len, const char *want_id,
    const uint8_t *want_spki, size_t spki_len, char *err, size_t errlen)
{
	const uint8_t		*der[X509_CHAIN_MAX];
	size_t			 lens[X509_CHAIN_MAX], n, nroots;
	const struct bundle	*b;
	struct x509svid_bundle	 xb;
	struct x509svid_policy	 pol;
	struct x509svid_result	 res;
	struct spiffe_td	 td;
	struct spiffe_id	 want;
	struct x509_cert	*roots, leaf;
	enum x509svid_err	 e;
	char			 why[256];

	if (chain_split(chain, chain_len, der, lens, X509_CHAIN_MAX,
	    &n) == -1 || x509_parse(der[0], lens[0], &leaf) != X509_OK) {
		snprintf(err, errlen, "certificate chain does not parse");
		return -1;
	}
	if (want_spki != NULL && (leaf.spki.len != spki_len ||
	    memcmp(leaf.spki.p, want_spki, spki_len) != 0)) {
		snprintf(err, errlen, "certificate's key does not match the "
		    "CSR");
		return -1;
	}
	if (spiffe_td_parse(a->td, strlen(a->td), &td) != SPIFFE_OK)
		return -1;
	memset(&pol, 0, sizeof(pol));
	if (want_id != NULL) {
		if (spiffe_id_parse(want_id, strlen(want_id), &want) !=
		    SPIFFE_OK) {
			snprintf(err, errlen, "bad expected ID");
			return -1;
		}
		pol.id = &want;
	} else
		pol.td = &td;
	b = with != NULL ? with : srvconn_trust(a);
	if (b == NULL || srvconn_roots(b, &roots, &nroots) == -1) {
		snprintf(err, errlen, "no trust bundle to check it with");
		return -1;
	}
	xb.td = &td;
	xb.roots = roots;
	xb.nroots = nroots;
	e = x509svid_verify(der, lens, n, &xb, 1, (long long)agent_now(a),
	    &pol, &res);
	mem_free(roots);
	if (e != X509SVID_OK) {
		x509svid_describe(e, &res, why, sizeof(why));
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	return 0;
}

/*
 * A spire.api.types.Bundle (untrusted) into b (uninitialised): a valid
 * trust domain, each X.509 authority a parsable certificate, each JWT
 * authority with a key ID. 0, or -1 with the reason in err.
 */
int
srvconn_bundle_from_pb(const void *pbv, struct bundle *b, char *err,
    size_t errlen)
{
	const spire_api_types_Bundle	*pb = pbv;
	struct spiffe_td		 td;
	struct x509_cert		 c;
	size_t				 i;

	if (pb->trust_domain == NULL || spiffe_td_parse(pb->trust_domain,
	    strlen(pb->trust_domain), &td) != SPIFFE_OK) {
		snprintf(err, errlen, "bundle with an invalid trust domain");
		return -1;
	}
	if (bundle_init(b, td.name) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < pb->x509_authorities_count; i++) {
		const pb_bytes_array_t *d = pb->x509_authorities[i].asn1;

		if (d == NULL || x509_parse(d->bytes, d->size, &c) != X509_OK ||
		    bundle_add_x509(b, d->bytes, d->size) == -1) {
			snprintf(err, errlen, "bundle of %s: X.509 authority "
			    "%zu unusable", td.name, i);
			goto fail;
		}
		b->x509[b->nx509 - 1].tainted =
		    pb->x509_authorities[i].tainted;
	}
	for (i = 0; i < pb->jwt_authorities_count; i++) {
		const spire_api_types_JWTKey *k = &pb->jwt_authorities[i];

		if (k->public_key == NULL || k->key_id == NULL ||
		    bundle_add_jwt(b, k->key_id, k->public_key->bytes,
		    k->public_key->size, k->expires_at) == -1) {
			snprintf(err, errlen, "bundle of %s: JWT authority "
			    "%zu unusable", td.name, i);
			goto fail;
		}
	}
	b->refresh_hint = pb->refresh_hint;
	b->sequence = pb->sequence_number;
	return 0;
fail:
	bundle_cleanup(b);
	return -1;
}
