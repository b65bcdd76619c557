/*
 * Node attestation as spire-agent does it: a fresh EC P-256 key and a
 * CSR (subject C=US, O=SPIRE, no URI SAN), a TLS connection without a
 * client certificate on which Agent/AttestAgent runs (params, then any
 * number of challenge/response rounds, then the result), and
 * Bundle/GetBundle. The SVID must verify to the trust domain's bundle
 * and carry our key; then it is stored and becomes the mTLS identity.
 * Used at first boot, when the server says the agent must attest again,
 * and for rotation of a reattestable agent (x509pop, tpm_devid).
 *
 * With KeyManager "tpm" the key is made in the TPM and the CSR signed
 * there, and tpm_devid's payload and answer come from the TPM: each of
 * those is a worker job (r->job), and the run goes on when it is back.
 */
#include "config.h"

#include <string.h>

#include <pb_decode.h>

#include "agent/internal.h"
#include "core/log.h"
#include "core/mem.h"
#include "hal/key.h"
#include "rpc/client.h"
#include "spire/api/server/agent/v1/agent.pb.h"
#include "spire/api/types/types.pb.h"

#define ATTEST_PATH	"/spire.api.server.agent.v1.Agent/AttestAgent"
#define GETBUNDLE_PATH	"/spire.api.server.bundle.v1.Bundle/GetBundle"
#define ATTEST_ROUNDS_MAX	16	/* challenges one attestation takes */

struct attest_run {
	struct agent		*a;
	struct rpc_channel	*ch;
	struct rpc_call		*call;
	struct agent_key	*key;
	uint8_t			*csr;
	size_t			 csr_len;
	struct devid_session	*devid;		/* tpm_devid */
	struct buf		 chain;		/* the result's, concatenated */
	int			 reattestable;
	int			 got_result;
	int			 rounds;
	int			 unary;		/* GetBundle in flight */
	int			 job;		/* a worker job holds the run */
	char			 err[256];
};

static void	attest_message(struct rpc_call *, const uint8_t *, size_t,
		    void *);
static void	attest_close(struct rpc_call *, const struct rpc_result *,
		    void *);
static void	attest_bundle(struct agent *, void *,
		    const struct srv_result *);
static void	attest_fail(struct attest_run *, enum grpc_status, int,
		    const char *);
static void	attest_finish(struct attest_run *);
static void	attest_detach(struct attest_run *);
static void	attest_release(struct attest_run *);
static int	attest_request(struct attest_run *, const char *type,
		    const char *payload, size_t len, struct buf *);
static void	attest_key_made(void *, struct agent_key *, const char *);
static void	attest_csr_made(void *, const uint8_t *, size_t,
		    const char *);
static void	attest_payload_made(void *, const char *, size_t,
		    const char *);
static void	attest_answer_made(void *, const char *, size_t,
		    const char *);
static void	attest_send(struct attest_run *, const char *type,
		    const char *payload, size_t len);
static int	attest_job_back(struct attest_run *);

static const struct rpc_client_cbs attest_cbs = {
	.on_message = attest_message,
	.on_close = attest_close,
};

/* Frees the run once it is detached and no callback can name it. */
static void
attest_release(struct attest_run *r)
{
	if (r->a != NULL || r->call != NULL || r->unary || r->job)
		return;
	devid_close(r->devid);
	ownkey_unref(r->key);
	mem_free(r->csr);
	buf_cleanup(&r->chain);
	mem_free(r);
}

/*
 * The agent lets go of the run: its channel is freed from the loop
 * (never inside one of its own callbacks), which cancels what is left;
 * those callbacks then see r->a NULL and release the run.
 */
static void
attest_detach(struct attest_run *r)
{
	struct agent	*a = r->a;

	if (a == NULL)
		return;
	if (a->attest == r)
		a->attest = NULL;
	r->a = NULL;
	if (r->ch != NULL)
		agent_release_channel(a, r->ch);
	r->ch = NULL;
	attest_release(r);
}

void
attest_free(struct agent *a)
{
	if (a->attest != NULL)
		attest_detach(a->attest);
}

/* A job is back: 1 when the run goes on, 0 when it was let go. */
static int
attest_job_back(struct attest_run *r)
{
	r->job = 0;
	if (r->a != NULL)
		return 1;
	attest_release(r);
	return 0;
}

/* Params: the attestation data and the CSR. */
static int
attest_request(struct attest_run *r, const char *type, const char *payload,
    size_t len, struct buf *out)
{
	struct buf	 data, params, csrm;
	int		 rc = -1;

	buf_init(&data, 1024 * 1024);
	buf_init(&params, 1024 * 1024);
	buf_init(&csrm, 64 * 1024);
	if (pbw_string(&data, 1, type) == -1 ||
	    pbw_bytes(&data, 2, payload, len) == -1 ||
	    pbw_bytes(&csrm, 1, r->csr, r->csr_len) == -1 ||
	    pbw_message(&params, 1, &data) == -1 ||
	    pbw_message(&params, 2, &csrm) == -1 ||
	    pbw_message(out, 1, &params) == -1) {
		snprintf(r->err, sizeof(r->err), "request too large");
		goto out;
	}
	rc = 0;
out:
	mem_wipe(data.data, data.cap);
	buf_cleanup(&data);
	buf_cleanup(&params);
	buf_cleanup(&csrm);
	return rc;
}

/* A join token, when given, wins over the NodeAttestor, as SPIRE. */
static int
attest_by_token(const struct agent *a)
{
	return a->cfg->join_token != NULL && *a->cfg->join_token != '\0';
}

/* spirelet run: a fresh token from the server next door. */
static int
attest_by_local(const struct agent *a)
{
	return !attest_by_token(a) &&
	    a->cfg->plugin.node_attestor == AGENT_NA_NONE &&
	    a->cfg->local != NULL && a->cfg->local->join_token != NULL;
}

void
attest_start(struct agent *a)
{
	struct attest_run	*r;

	if (a->attest != NULL || a->stopping)
		return;
	/* trust_bundle_url: attestation waits for the bundle. */
	if (bundleurl_start(a))
		return;
	/* spirelet run: the local server's roots as they are now. */
	if (a->cfg->local != NULL && agent_local_bundle(a) == -1)
		log_warnx("agent", "the local server has no bundle yet");
	r = mem_calloc(1, sizeof(*r));
	if (r == NULL) {
		log_warnx("agent", "out of memory for attestation");
		agent_schedule(a, AGENT_ATTEST_RETRY_MS);
		return;
	}
	r->a = a;
	buf_init(&r->chain, 256 * 1024);
	a->attest = r;
	log_kv(LOG_LEVEL_INFO, "agent", "attesting", "server",
	    a->cfg->server_address, "attestor", attest_by_token(a) ||
	    attest_by_local(a) ? "join_token" : agent_node_attestor_name(
	    a->cfg->plugin.node_attestor), (const char *)NULL);
	if (!attest_by_token(a) && !attest_by_local(a) &&
	    a->cfg->plugin.node_attestor == AGENT_NA_NONE) {
		attest_fail(r, GRPC_STATUS_INTERNAL, -1, "no join token and "
		    "no NodeAttestor to attest with");
		return;
	}
	/* The key first (in the TPM: on the worker), then its CSR. */
	r->job = 1;
	if (ownkey_make(a, attest_key_made, r) == -1) {
		r->job = 0;
		attest_fail(r, GRPC_STATUS_INTERNAL, -1, "cannot make the "
		    "agent key");
	}
}

static void
attest_key_made(void *arg, struct agent_key *k, const char *err)
{
	struct attest_run	*r = arg;

	if (!attest_job_back(r)) {
		ownkey_unref(k);
		return;
	}
	if (k == NULL) {
		attest_fail(r, GRPC_STATUS_UNAVAILABLE, -1, err);
		return;
	}
	r->key = k;
	r->job = 1;
	if (ownkey_csr(r->a, k, attest_csr_made, r) == -1) {
		r->job = 0;
		attest_fail(r, GRPC_STATUS_INTERNAL, -1, "cannot make the CSR");
	}
}

static void
attest_csr_made(void *arg, const uint8_t *csr, size_t len, const char *err)
{
	struct attest_run	*r = arg;
	struct agent		*a;
	struct buf		 payload;
	char			 tok[128];

	if (!attest_job_back(r))
		return;
	a = r->a;
	if (csr == NULL) {
		attest_fail(r, GRPC_STATUS_UNAVAILABLE, -1, err);
		return;
	}
	r->csr = mem_alloc(len);
	if (r->csr == NULL) {
		attest_fail(r, GRPC_STATUS_INTERNAL, -1, "out of memory");
		return;
	}
	memcpy(r->csr, csr, len);
	r->csr_len = len;
	if (attest_by_token(a)) {
		attest_send(r, "join_token", a->cfg->join_token,
		    strlen(a->cfg->join_token));
		return;
	}
	if (attest_by_local(a)) {
		if (a->cfg->local->join_token(a->cfg->local->arg, tok,
		    sizeof(tok)) == -1) {
			attest_fail(r, GRPC_STATUS_UNAVAILABLE, -1, "the "
			    "local server made no join token");
			return;
		}
		attest_send(r, "join_token", tok, strlen(tok));
		return;
	}
	if (a->cfg->plugin.node_attestor == AGENT_NA_TPM_DEVID) {
		r->job = 1;
		r->devid = devid_start(a, attest_payload_made, r);
		if (r->devid == NULL) {
			r->job = 0;
			attest_fail(r, GRPC_STATUS_INTERNAL, -1, "tpm_devid: "
			    "cannot queue the TPM's work");
		}
		return;
	}
	buf_init(&payload, 1024 * 1024);
	if (x509pop_payload(&a->cfg->plugin.x509pop, &payload, r->err,
	    sizeof(r->err)) == -1)
		attest_fail(r, GRPC_STATUS_INTERNAL, -1, r->err);
	else
		attest_send(r, "x509pop", (const char *)buf_ptr(&payload),
		    payload.len);
	buf_cleanup(&payload);
}

/* tpm_devid's payload, from the TPM. */
static void
attest_payload_made(void *arg, const char *payload, size_t len,
    const char *err)
{
	struct attest_run	*r = arg;

	if (!attest_job_back(r))
		return;
	if (payload == NULL) {
		/* The TPM's trouble (absent, busy, lockout): retried. */
		attest_fail(r, GRPC_STATUS_UNAVAILABLE, -1, err);
		return;
	}
	attest_send(r, "tpm_devid", payload, len);
}

static void
attest_send(struct attest_run *r, const char *type, const char *payload,
    size_t len)
{
	struct agent	*a = r->a;
	struct buf	 req;

	buf_init(&req, 2 * 1024 * 1024);
	if (attest_request(r, type, payload, len, &req) == -1) {
		buf_cleanup(&req);
		attest_fail(r, GRPC_STATUS_INTERNAL, -1, r->err);
		return;
	}
	r->ch = srvconn_boot_channel(a);
	if (r->ch == NULL) {
		buf_cleanup(&req);
		attest_fail(r, GRPC_STATUS_INTERNAL, -1, "cannot make a "
		    "channel");
		return;
	}
	r->call = rpc_client_call(r->ch, ATTEST_PATH, NULL, 0,
	    AGENT_RPC_TIMEOUT_SEC, 0, &attest_cbs, r);
	if (r->call == NULL) {
		buf_cleanup(&req);
		attest_fail(r, GRPC_STATUS_INTERNAL, -1, "out of memory");
		return;
	}
	if (rpc_call_send(r->call, buf_ptr(&req), req.len) != RPC_ERR_OK)
		rpc_call_cancel(r->call);
	buf_cleanup(&req);
}

/* tpm_devid's answer to the challenge, from the TPM. */
static void
attest_answer_made(void *arg, const char *resp, size_t len,
    const char *err)
{
	struct attest_run	*r = arg;
	struct buf		 out;

	if (!attest_job_back(r))
		return;
	if (r->call == NULL)
		return;		/* the call ended meanwhile; its close ran */
	if (resp == NULL) {
		snprintf(r->err, sizeof(r->err), "%s", err);
		rpc_call_cancel(r->call);
		return;
	}
	buf_init(&out, 1024 * 1024);
	if (pbw_bytes(&out, 2, resp, len) == -1 || rpc_call_send(r->call,
	    buf_ptr(&out), out.len) != RPC_ERR_OK)
		rpc_call_cancel(r->call);
	buf_cleanup(&out);
}

static void
attest_message(struct rpc_call *call, const uint8_t *p, size_t len,
    void *arg)
{
	struct attest_run			*r = arg;
	spire_api_server_agent_v1_AttestAgentResponse resp;
	const spire_api_types_X509SVID		*s;
	struct buf				 out, m;
	size_t					 i;

	if (r->a == NULL)
		return;
	memset(&resp, 0, sizeof(resp));
	if (rpc_decode(p, len,
	    spire_api_server_agent_v1_AttestAgentResponse_fields,
	    &resp) == -1) {
		snprintf(r->err, sizeof(r->err), "malformed "
		    "AttestAgentResponse");
		rpc_call_cancel(call);
		return;
	}
	buf_init(&out, 1024 * 1024);
	buf_init(&m, 1024 * 1024);
	if (resp.which_step ==
	    spire_api_server_agent_v1_AttestAgentResponse_challenge_tag) {
		const pb_bytes_array_t *c = resp.step.challenge;

		if (++r->rounds > ATTEST_ROUNDS_MAX || c == NULL ||
		    (r->a->cfg->plugin.node_attestor != AGENT_NA_X509POP &&
		    r->devid == NULL) || attest_by_token(r->a)) {
			snprintf(r->err, sizeof(r->err), "unexpected "
			    "challenge from the server");
			goto cancel;
		}
		if (r->devid != NULL) {
			/* The TPM answers on the worker. */
			r->job = 1;
			if (devid_answer(r->devid, c->bytes, c->size,
			    attest_answer_made, r) == -1) {
				r->job = 0;
				snprintf(r->err, sizeof(r->err), "tpm_devid: "
				    "cannot answer the challenge now");
				goto cancel;
			}
			goto out;
		}
		if (x509pop_respond(&r->a->cfg->plugin.x509pop, c->bytes,
		    c->size, &m, r->err, sizeof(r->err)) == -1 ||
		    pbw_bytes(&out, 2, buf_ptr(&m), m.len) == -1 ||
		    rpc_call_send(call, buf_ptr(&out), out.len) != RPC_ERR_OK)
			goto cancel;
	} else if (resp.which_step ==
	    spire_api_server_agent_v1_AttestAgentResponse_result_tag) {
		if (r->got_result || !resp.step.result.has_svid) {
			snprintf(r->err, sizeof(r->err), "result without an "
			    "SVID");
			goto cancel;
		}
		s = &resp.step.result.svid;
		for (i = 0; i < s->cert_chain_count; i++)
			if (s->cert_chain[i] == NULL ||
			    buf_append(&r->chain, s->cert_chain[i]->bytes,
			    s->cert_chain[i]->size) == -1) {
				snprintf(r->err, sizeof(r->err), "SVID chain "
				    "unusable");
				goto cancel;
			}
		r->got_result = 1;
		r->reattestable = resp.step.result.reattestable;
		if (rpc_call_close_send(call) != RPC_ERR_OK)
			rpc_call_cancel(call);
	} else {
		snprintf(r->err, sizeof(r->err), "empty AttestAgentResponse");
		goto cancel;
	}
	goto out;
cancel:
	rpc_call_cancel(call);
out:
	mem_wipe(m.data, m.cap);
	buf_cleanup(&m);
	buf_cleanup(&out);
	pb_release(spire_api_server_agent_v1_AttestAgentResponse_fields,
	    &resp);
}

static void
attest_close(struct rpc_call *call, const struct rpc_result *res,
    void *arg)
{
	struct attest_run	*r = arg;
	struct buf		 req;
	int			 reason;

	(void)call;
	r->call = NULL;
	if (r->a == NULL) {
		attest_release(r);
		return;
	}
	if (res->code != GRPC_STATUS_OK || !r->got_result) {
		reason = res->code == GRPC_STATUS_PERMISSION_DENIED ?
		    srvconn_pd_reason(res->details, res->details_len) : -1;
		if (r->err[0] == '\0')
			snprintf(r->err, sizeof(r->err), "%s",
			    res->message != NULL && *res->message != '\0' ?
			    res->message : "no result");
		attest_fail(r, res->code == GRPC_STATUS_OK ?
		    GRPC_STATUS_INTERNAL : res->code, reason, r->err);
		return;
	}
	/* GetBundle on the same connection; no mask: everything. */
	buf_init(&req, 16);
	if (srvconn_unary(r->a, r->ch, GETBUNDLE_PATH, &req, attest_bundle,
	    r) == -1) {
		buf_cleanup(&req);
		attest_fail(r, GRPC_STATUS_INTERNAL, -1, "out of memory");
		return;
	}
	buf_cleanup(&req);
	r->unary = 1;
}

static void
attest_bundle(struct agent *a, void *arg, const struct srv_result *res)
{
	struct attest_run	*r = arg;
	spire_api_types_Bundle	 pb;
	struct bundle		 b;
	char			 err[256];

	r->unary = 0;
	if (r->a == NULL) {
		attest_release(r);	/* the channel is being freed */
		return;
	}
	if (res->code != GRPC_STATUS_OK) {
		attest_fail(r, res->code, res->pd_reason, res->message);
		return;
	}
	memset(&pb, 0, sizeof(pb));
	if (rpc_decode(res->resp, res->resp_len, spire_api_types_Bundle_fields,
	    &pb) == -1) {
		attest_fail(r, GRPC_STATUS_INTERNAL, -1, "malformed bundle");
		return;
	}
	if (srvconn_bundle_from_pb(&pb, &b, err, sizeof(err)) == -1) {
		pb_release(spire_api_types_Bundle_fields, &pb);
		attest_fail(r, GRPC_STATUS_INTERNAL, -1, err);
		return;
	}
	pb_release(spire_api_types_Bundle_fields, &pb);
	if (strcmp(b.trust_domain, a->td) != 0 || b.nx509 == 0) {
		bundle_cleanup(&b);
		attest_fail(r, GRPC_STATUS_INTERNAL, -1, "server sent the "
		    "bundle of another trust domain, or no root");
		return;
	}
	if (a->has_bundle)
		bundle_cleanup(&a->bundle);
	a->bundle = b;
	a->has_bundle = 1;
	attest_finish(r);
}

/* The result is in, and the bundle: check, store, use. */
static void
attest_finish(struct attest_run *r)
{
	struct agent		*a = r->a;
	struct agent_svid	 s;
	const uint8_t		*spki;
	size_t			 spki_len;
	char			 err[256];

	spki = key_spki(r->key->key, &spki_len);
	if (srvconn_verify_svid(a, NULL, buf_ptr(&r->chain), r->chain.len,
	    NULL,
	    spki, spki_len, err, sizeof(err)) == -1 ||
	    own_svid_from_chain(a, &s, buf_ptr(&r->chain), r->chain.len,
	    r->key, err, sizeof(err)) == -1) {
		attest_fail(r, GRPC_STATUS_INTERNAL, -1, err);
		return;
	}
	s.reattestable = r->reattestable;
	own_svid_set(a, &s);
	/* A cached SVID whose TPM key never loaded is replaced too. */
	mem_free(a->own_rec);
	a->own_rec = NULL;
	log_kv(LOG_LEVEL_INFO, "agent", "node attestation was successful",
	    "spiffe_id", a->svid.id, "reattestable", a->svid.reattestable ?
	    "true" : "false", (const char *)NULL);
	attest_detach(r);
	(void)cache_save_own_svid(a);
	a->attest_backoff_ms = 0;
	if (srvconn_set_identity(a) == -1) {
		agent_fatal(a, "cannot use the new agent SVID");
		return;
	}
	a->state = AGENT_RUNNING;
	agent_schedule(a, 0);
}

/*
 * Attestation failed. Banned: stop. Refused for good (bad or used join
 * token, unknown attestor, a chain we cannot accept) while the agent
 * has no valid SVID left: stop, as spire-agent does. Anything else is
 * retried with backoff.
 */
static void
attest_fail(struct attest_run *r, enum grpc_status code, int reason,
    const char *why)
{
	struct agent	*a = r->a;
	int		 definitive;
	double		 d;

	log_kv(LOG_LEVEL_ERROR, "agent", "node attestation failed", "code",
	    grpc_status_name((int)code), "error", why, (const char *)NULL);
	attest_detach(r);
	if (reason ==
	    spire_api_types_PermissionDeniedDetails_Reason_AGENT_BANNED) {
		(void)cache_drop_own_svid(a);
		agent_fatal(a, "the agent is banned");
		return;
	}
	definitive = code == GRPC_STATUS_INVALID_ARGUMENT ||
	    code == GRPC_STATUS_PERMISSION_DENIED ||
	    code == GRPC_STATUS_FAILED_PRECONDITION ||
	    code == GRPC_STATUS_UNAUTHENTICATED ||
	    code == GRPC_STATUS_NOT_FOUND;
	if (definitive && (!a->has_svid || a->svid.expires <=
	    agent_now(a) + 1)) {
		agent_fatal(a, "node attestation was refused");
		return;
	}
	a->attest_backoff_ms = rotation_backoff_next(a->attest_backoff_ms,
	    AGENT_ATTEST_RETRY_MS, AGENT_SYNC_BACKOFF_MAX_MS);
	d = rotation_jitter(a->attest_backoff_ms, rotation_random());
	agent_schedule(a, d);
}
