/*
 * spire.api.server.agent.v1.Agent: node attestation (join_token and
 * x509pop), agent SVID renewal, and the admin RPCs over attested nodes
 * and join tokens.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <pb_decode.h>

#include "attest/tpmdevid.h"
#include "core/log.h"
#include "core/mem.h"
#include "hal/key.h"
#include "hal/rand.h"
#include "pki/cert.h"
#include "server/pbutil.h"
#include "server/pemfile.h"
#include "server/srv.h"
#include "server/x509pop.h"
#include "spire/api/server/agent/v1/agent.pb.h"
#include "spiffe/x509svid.h"

#define P(m)	"/spire.api.server.agent.v1.Agent/" m

/* Long generated names, shortened. */
#define ATTEST_RESULT_TAG	\
    spire_api_server_agent_v1_AttestAgentResponse_result_tag
#define ATTEST_RESPONSE_TAG	\
    spire_api_server_agent_v1_AttestAgentRequest_challenge_response_tag

/* What node attestation found: the agent and its selectors. */
struct attested {
	char			 id[SPIFFE_ID_MAX + 1];
	const char		*type;
	int			 reattestable;
	char			*sel_type[SERVER_NODE_SELECTORS_MAX];
	char			*sel_value[SERVER_NODE_SELECTORS_MAX];
	size_t			 nsel;
	char			 token[256];	/* join_token: to take */
};

/* An AttestAgent stream in progress. */
struct attest {
	struct server		*s;
	int			 step;		/* 0: params, 1: challenge */
	int			 done;
	uint8_t			*csr;		/* copied from params */
	size_t			 csr_len;
	char			 addr[80];
	/* x509pop, between challenge and response. */
	struct x509pop_payload	 pop;
	uint8_t			 nonce[X509POP_NONCE_LEN];
	/* tpm_devid, between challenge and response. */
	struct tpmdevid_server	*devid;
	/*
	 * The agent SVID being signed (the CA key may sign on the worker):
	 * the stream waits; a cancel meanwhile is answered afterwards.
	 */
	int			 signing;
	int			 cancelled;
	struct rpc_call		*call;
	struct attested		 at;
};

static void	attest_free(struct attest *);
static void	attest_finish(struct rpc_call *, struct attest *,
		    enum grpc_status, const char *);
static void	attest_challenge(struct rpc_call *, struct attest *, char *,
		    size_t);
static void	attested_cleanup(struct attested *);
static int	attested_add(struct attested *, const char *, const char *);
static void	attest_signed(void *, int, const struct ca_svid *);

static void
attest_free(struct attest *a)
{
	if (a == NULL)
		return;
	mem_free(a->csr);
	x509pop_payload_free(&a->pop);
	tpmdevid_server_free(a->devid);
	attested_cleanup(&a->at);
	mem_free(a);
}

static void
attest_finish(struct rpc_call *call, struct attest *a, enum grpc_status code,
    const char *msg)
{
	a->done = 1;
	/* The call is gone once finished: let go of it first. */
	rpc_call_set_data(call, NULL);
	srv_finish(call, code, msg);
	attest_free(a);
}

static void
attested_cleanup(struct attested *at)
{
	size_t	i;

	for (i = 0; i < at->nsel; i++) {
		mem_free(at->sel_type[i]);
		mem_free(at->sel_value[i]);
	}
	at->nsel = 0;
}

static int
attested_add(struct attested *at, const char *type, const char *value)
{
	size_t	i;

	for (i = 0; i < at->nsel; i++)
		if (strcmp(at->sel_value[i], value) == 0 &&
		    strcmp(at->sel_type[i], type) == 0)
			return 0;	/* deduplicated, as SPIRE does */
	if (at->nsel == SERVER_NODE_SELECTORS_MAX)
		return -1;
	at->sel_type[at->nsel] = mem_strdup(type);
	at->sel_value[at->nsel] = mem_strdup(value);
	if (at->sel_type[at->nsel] == NULL || at->sel_value[at->nsel] == NULL) {
		mem_free(at->sel_type[at->nsel]);
		mem_free(at->sel_value[at->nsel]);
		return -1;
	}
	at->nsel++;
	return 0;
}

/* The node record and the token take, in one transaction. */
struct attest_txn {
	struct attested		*at;
	const struct ca_svid	*svid;
	int			 code;
	const char		*msg;
};

/*
 * The attestation itself, before the request's CSR is looked at, as
 * SPIRE orders it: a join token is taken (used up even when what
 * follows fails), and a banned node is refused.
 */
static enum store_err
attest_check_txn(struct store_txn *txn, void *arg)
{
	struct attest_txn	*t = arg;
	spirelet_server_Node	 n;
	int64_t			 exp;
	int			 rc;

	t->code = 0;
	if (t->at->token[0] != '\0') {
		rc = ds_token_take(txn, t->at->token, &exp);
		if (rc == DS_NOTFOUND) {
			t->code = GRPC_STATUS_INVALID_ARGUMENT;
			t->msg = "failed to attest: join token does not exist "
			    "or has already been used";
			return STORE_ABORTED;
		}
		if (rc != 0)
			return STORE_IO;
		if (exp < (int64_t)time(NULL)) {
			/* Deleted all the same: it can never be used. */
			t->code = GRPC_STATUS_INVALID_ARGUMENT;
			t->msg = "join token expired";
			return STORE_OK;
		}
	}
	rc = ds_node_get(txn, t->at->id, &n);
	if (rc == DS_ERROR)
		return STORE_IO;
	if (rc == 0) {
		if (n.agent.banned) {
			t->code = GRPC_STATUS_PERMISSION_DENIED;
			t->msg = "failed to attest: agent is banned";
		}
		pb_release(spirelet_server_Node_fields, &n);
		if (t->code != 0)
			return STORE_ABORTED;
	}
	return STORE_OK;
}

static enum store_err
attest_store_txn(struct store_txn *txn, void *arg)
{
	struct attest_txn	*t = arg;
	spirelet_server_Node	 n;
	spire_api_types_Selector *sel;
	size_t			 i;
	int			 rc;
	enum store_err		 e = STORE_NOMEM;

	t->code = 0;
	rc = ds_node_get(txn, t->at->id, &n);
	if (rc == DS_ERROR)
		return STORE_IO;
	if (rc == 0 && n.agent.banned) {
		pb_release(spirelet_server_Node_fields, &n);
		t->code = GRPC_STATUS_PERMISSION_DENIED;
		t->msg = "failed to attest: agent is banned";
		return STORE_ABORTED;
	}
	if (rc == 0)
		pb_release(spirelet_server_Node_fields, &n);
	memset(&n, 0, sizeof(n));
	n.has_agent = true;
	n.agent.has_id = true;
	if (srv_id_set(&n.agent.id, t->at->id) == -1)
		goto out;
	n.agent.attestation_type = mem_strdup(t->at->type);
	n.agent.x509svid_serial_number = mem_strdup(t->svid->serial);
	n.agent.x509svid_expires_at = t->svid->expires_at;
	n.agent.can_reattest = t->at->reattestable;
	if (n.agent.attestation_type == NULL ||
	    n.agent.x509svid_serial_number == NULL)
		goto out;
	for (i = 0; i < t->at->nsel; i++) {
		sel = pbu_append(&n.agent.selectors, &n.agent.selectors_count,
		    sizeof(*sel));
		if (sel == NULL)
			goto out;
		sel->type = mem_strdup(t->at->sel_type[i]);
		sel->value = mem_strdup(t->at->sel_value[i]);
		if (sel->type == NULL || sel->value == NULL)
			goto out;
	}
	e = ds_node_put(txn, t->at->id, &n) == 0 ? STORE_OK : STORE_IO;
out:
	pb_release(spirelet_server_Node_fields, &n);
	return e;
}

/*
 * The agent passed its attestor: checks, then its SVID is signed (on
 * the worker when the CA key is in the TPM) and attest_signed goes on.
 * Takes what *at holds (the caller's cleanup of it is then a no-op).
 */
static void
attest_complete(struct rpc_call *call, struct attest *a, struct attested *at)
{
	struct server				*s = a->s;
	struct cert_csr				 csr;
	struct attest_txn			 t;
	struct spiffe_id			 id;
	enum store_err				 e;

	if (spiffe_id_parse(at->id, strlen(at->id), &id) != SPIFFE_OK ||
	    !spiffe_id_member_of(&id, &s->td)) {
		attest_finish(call, a, GRPC_STATUS_INTERNAL,
		    "failed to attest: agent ID is not valid");
		return;
	}
	if (strcmp(at->id, s->server_id) == 0) {
		attest_finish(call, a, GRPC_STATUS_INTERNAL, "failed to "
		    "attest: agent ID must not be the server ID");
		return;
	}
	if (!spiffe_id_under(&id, "/spire/agent"))
		log_kv(LOG_LEVEL_WARN, "api", "agent ID is not in the agent "
		    "namespace", "agent", at->id, (const char *)NULL);
	memset(&t, 0, sizeof(t));
	t.at = at;
	e = store_txn_run(s->store, attest_check_txn, &t);
	if (t.code != 0 || e != STORE_OK) {
		if (t.code != 0)
			log_kv(LOG_LEVEL_INFO, "api", "attestation refused",
			    "agent", at->id, "addr", a->addr, "error", t.msg,
			    (const char *)NULL);
		attest_finish(call, a, t.code != 0 ?
		    (enum grpc_status)t.code : GRPC_STATUS_INTERNAL,
		    t.code != 0 ? t.msg : "failed to attest");
		return;
	}
	/* Only the public key of an agent's request is used. */
	if (cert_csr_parse(a->csr, a->csr_len, 0, &csr) != CERT_CSR_OK) {
		attest_finish(call, a, GRPC_STATUS_INVALID_ARGUMENT,
		    "failed to parse CSR");
		return;
	}
	a->at = *at;
	memset(at, 0, sizeof(*at));
	a->call = call;
	a->signing = 1;
	if (ca_sign_x509svid_async(s->ca, csr.spki, csr.spki_len, a->at.id,
	    NULL, 0, (s->cfg->agent_ttl > 0 ? s->cfg->agent_ttl :
	    s->cfg->default_x509_svid_ttl) / 1000, attest_signed, a) == -1) {
		a->signing = 0;
		attest_finish(call, a, GRPC_STATUS_INTERNAL,
		    "failed to sign X509 SVID");
	}
}

/* The agent SVID is signed (or not): store the node, answer. */
static void
attest_signed(void *arg, int rc, const struct ca_svid *svid)
{
	struct attest				*a = arg;
	struct server				*s = a->s;
	struct rpc_call				*call = a->call;
	spire_api_server_agent_v1_AttestAgentResponse resp;
	struct attested				*at = &a->at;
	struct attest_txn			 t;
	enum store_err				 e;
	enum rpc_err				 re;

	a->signing = 0;
	if (a->cancelled) {
		/* The stream went away meanwhile: finishing is a no-op. */
		a->done = 1;
		rpc_call_set_data(call, NULL);
		rpc_call_finish(call, GRPC_STATUS_CANCELLED, NULL, NULL, 0);
		attest_free(a);
		return;
	}
	if (rc == -1) {
		attest_finish(call, a, GRPC_STATUS_INTERNAL,
		    "failed to sign X509 SVID");
		return;
	}
	memset(&resp, 0, sizeof(resp));
	memset(&t, 0, sizeof(t));
	t.at = at;
	t.svid = svid;
	e = store_txn_run(s->store, attest_store_txn, &t);
	if (t.code != 0) {
		log_kv(LOG_LEVEL_INFO, "api", "attestation refused", "agent",
		    at->id, "addr", a->addr, "error", t.msg,
		    (const char *)NULL);
		attest_finish(call, a, (enum grpc_status)t.code, t.msg);
		goto out;
	}
	if (e != STORE_OK) {
		attest_finish(call, a, GRPC_STATUS_INTERNAL,
		    "failed to store the attested node");
		goto out;
	}
	resp.which_step = ATTEST_RESULT_TAG;
	resp.step.result.has_svid = true;
	resp.step.result.reattestable = at->reattestable;
	if (srv_svid_pb(svid, at->id, &resp.step.result.svid) == -1) {
		attest_finish(call, a, GRPC_STATUS_INTERNAL, "out of memory");
		goto out;
	}
	re = rpc_call_send_pb(call,
	    spire_api_server_agent_v1_AttestAgentResponse_fields, &resp);
	log_kv(LOG_LEVEL_INFO, "api", "agent attested", "agent", at->id,
	    "type", at->type, "addr", a->addr, "serial", svid->serial,
	    (const char *)NULL);
	attest_finish(call, a, re == RPC_ERR_OK ? GRPC_STATUS_OK :
	    GRPC_STATUS_INTERNAL, "cannot send the result");
out:
	pb_release(spire_api_server_agent_v1_AttestAgentResponse_fields,
	    &resp);
}

static void
attest_join_token(struct rpc_call *call, struct attest *a,
    const pb_bytes_array_t *payload)
{
	struct attested	at;

	memset(&at, 0, sizeof(at));
	if (payload == NULL || payload->size == 0 ||
	    payload->size >= sizeof(at.token) ||
	    memchr(payload->bytes, '\0', payload->size) != NULL) {
		attest_finish(call, a, GRPC_STATUS_INVALID_ARGUMENT,
		    "failed to attest: join token does not exist or has "
		    "already been used");
		return;
	}
	memcpy(at.token, payload->bytes, payload->size);
	at.token[payload->size] = '\0';
	if (snprintf(at.id, sizeof(at.id), "%s/spire/agent/join_token/%s",
	    a->s->td_id, at.token) >= (int)sizeof(at.id)) {
		attest_finish(call, a, GRPC_STATUS_INVALID_ARGUMENT,
		    "join token too long");
		return;
	}
	at.type = "join_token";
	attest_complete(call, a, &at);
	attested_cleanup(&at);
}

/* x509pop roots: the files of external_pki mode, or our bundle. */
static int
x509pop_roots(struct server *s, struct pem_block **blocks, size_t *n,
    struct x509_cert **certs)
{
	const struct x509pop_conf	*c = &s->cfg->plug.x509pop_conf;
	struct pem_block		*b, *all = NULL;
	size_t				 nb, i, k, na = 0;

	*blocks = NULL;
	*n = 0;
	*certs = NULL;
	if (c->mode == X509POP_MODE_SPIFFE)
		return 0;
	for (i = 0; i < 1 + c->ca_bundle_paths.n; i++) {
		const char *path = i == 0 ? c->ca_bundle_path :
		    c->ca_bundle_paths.v[i - 1];

		if (path == NULL)
			continue;
		if (pemfile_read("x509pop", path, PEM_LABEL_CERTIFICATE, &b,
		    &nb) == -1)
			goto fail;
		all = mem_reallocarray(all, na + nb, sizeof(*all));
		if (all == NULL) {
			pem_blocks_free(b, nb);
			goto fail;
		}
		for (k = 0; k < nb; k++)
			all[na++] = b[k];
		mem_free(b);
	}
	*certs = mem_calloc(na + 1, sizeof(**certs));
	if (*certs == NULL)
		goto fail;
	for (i = 0, k = 0; i < na; i++)
		if (x509_parse(all[i].der, all[i].len, &(*certs)[k]) == X509_OK)
			k++;
	*blocks = all;
	*n = k;
	return 0;
fail:
	pem_blocks_free(all, na);
	return -1;
}

static void
attest_x509pop_start(struct rpc_call *call, struct attest *a,
    const pb_bytes_array_t *payload)
{
	struct server		*s = a->s;
	struct x509_cert	 chain[1 + SERVER_X509POP_INTERMEDIATES_MAX];
	struct x509_cert	*roots = NULL;
	struct pem_block	*blocks = NULL;
	size_t			 nroots = 0, i, at;
	char			 why[256], *ch = NULL;
	enum x509_err		 xe;

	if (payload == NULL || x509pop_parse_payload(payload->bytes,
	    payload->size, &a->pop, why, sizeof(why)) == -1) {
		if (payload == NULL)
			snprintf(why, sizeof(why), "missing payload");
		goto bad;
	}
	for (i = 0; i < a->pop.n; i++) {
		if (x509_parse(a->pop.der[i], a->pop.len[i], &chain[i]) !=
		    X509_OK) {
			snprintf(why, sizeof(why), "unable to parse "
			    "certificate %zu", i);
			goto bad;
		}
	}
	if (!chain[0].has_ku || !(chain[0].ku & X509_KU_DIGITAL_SIGNATURE)) {
		snprintf(why, sizeof(why), "leaf certificate lacks the "
		    "digitalSignature key usage");
		goto bad;
	}
	if (chain[0].key_type == X509_KEY_RSA && chain[0].key_bits > 8192) {
		snprintf(why, sizeof(why), "RSA key over 8192 bits");
		goto bad;
	}
	if (s->cfg->plug.x509pop_conf.mode == X509POP_MODE_SPIFFE) {
		roots = s->roots.certs;
		nroots = s->roots.n;
	} else if (x509pop_roots(s, &blocks, &nroots, &roots) == -1) {
		snprintf(why, sizeof(why), "cannot read the CA bundle");
		goto bad;
	}
	xe = x509_verify_chain(chain, a->pop.n, roots, nroots,
	    (long long)time(NULL), &at);
	if (roots != s->roots.certs) {
		mem_free(roots);
		pem_blocks_free(blocks, nroots);
	}
	if (xe != X509_OK) {
		snprintf(why, sizeof(why), "certificate verification failed: "
		    "%s", x509_strerror(xe));
		goto bad;
	}
	if (rand_bytes(a->nonce, sizeof(a->nonce)) == -1 ||
	    (ch = x509pop_challenge(a->nonce,
	    chain[0].key_type == X509_KEY_RSA)) == NULL) {
		attest_finish(call, a, GRPC_STATUS_INTERNAL,
		    "cannot make a challenge");
		return;
	}
	attest_challenge(call, a, ch, strlen(ch));
	return;
bad:
	log_kv(LOG_LEVEL_INFO, "api", "x509pop attestation refused", "addr",
	    a->addr, "error", why, (const char *)NULL);
	{
		char	msg[300];

		snprintf(msg, sizeof(msg), "failed to attest: %s", why);
		attest_finish(call, a, GRPC_STATUS_PERMISSION_DENIED, msg);
	}
}

static void
attest_x509pop_response(struct rpc_call *call, struct attest *a,
    const pb_bytes_array_t *r)
{
	struct x509_cert	leaf, c;
	struct attested		at;
	char			why[256], fp[41], msg[400], val[512];
	size_t			i;
	int			rc;

	memset(&at, 0, sizeof(at));
	rc = x509_parse(a->pop.der[0], a->pop.len[0], &leaf) != X509_OK ||
	    r == NULL || x509pop_check_response(r->bytes, r->size, a->nonce,
	    &leaf, why, sizeof(why)) == -1;
	/*
	 * The device's key went through wolfCrypt's fixed-point cache of
	 * this thread, which would keep its 850 KB table for good: drop
	 * the cache (attestation is rare; the next signature rebuilds the
	 * base point's table, about 3 ms).
	 */
	key_soft_trim();
	if (rc) {
		if (r == NULL)
			snprintf(why, sizeof(why), "missing response");
		log_kv(LOG_LEVEL_INFO, "api", "x509pop challenge failed",
		    "addr", a->addr, "error", why, (const char *)NULL);
		snprintf(msg, sizeof(msg), "failed to attest: challenge "
		    "response verification failed: %s", why);
		attest_finish(call, a, GRPC_STATUS_PERMISSION_DENIED, msg);
		return;
	}
	if (x509pop_fingerprint(a->pop.der[0], a->pop.len[0], fp) == -1)
		goto fail;
	/* XXX: agent_path_template and spiffe mode paths: default only. */
	if (snprintf(at.id, sizeof(at.id), "%s/spire/agent/x509pop/%s",
	    a->s->td_id, fp) >= (int)sizeof(at.id))
		goto fail;
	at.type = "x509pop";
	at.reattestable = 1;
	if (leaf.subject_cn[0] != '\0') {
		snprintf(val, sizeof(val), "subject:cn:%s", leaf.subject_cn);
		if (attested_add(&at, "x509pop", val) == -1)
			goto fail;
	}
	for (i = 1; i < a->pop.n; i++) {
		if (x509pop_fingerprint(a->pop.der[i], a->pop.len[i], fp) ==
		    -1)
			goto fail;
		snprintf(val, sizeof(val), "ca:fingerprint:%s", fp);
		if (attested_add(&at, "x509pop", val) == -1)
			goto fail;
		(void)c;
	}
	{
		char	hex[2 * 20 + 2];

		/* Go's %x of the serial: even length, lower case. */
		if (ca_serial_hex(leaf.serial.p, leaf.serial.len, hex,
		    sizeof(hex)) == -1)
			goto fail;
		snprintf(val, sizeof(val), "serialnumber:%s%s",
		    strlen(hex) % 2 ? "0" : "", hex);
		if (attested_add(&at, "x509pop", val) == -1)
			goto fail;
	}
	attest_complete(call, a, &at);
	attested_cleanup(&at);
	return;
fail:
	attested_cleanup(&at);
	attest_finish(call, a, GRPC_STATUS_INTERNAL, "failed to attest");
}

/*
 * Sends ch (len bytes, freed here) as the challenge step of x509pop or
 * tpm_devid, which then waits for the agent's answer; a challenge that
 * cannot be sent finishes the call.
 */
static void
attest_challenge(struct rpc_call *call, struct attest *a, char *ch,
    size_t len)
{
	spire_api_server_agent_v1_AttestAgentResponse resp;

	memset(&resp, 0, sizeof(resp));
	resp.which_step =
	    spire_api_server_agent_v1_AttestAgentResponse_challenge_tag;
	resp.step.challenge = pbu_bytes(ch, len);
	mem_free(ch);
	if (resp.step.challenge == NULL || rpc_call_send_pb(call,
	    spire_api_server_agent_v1_AttestAgentResponse_fields, &resp) !=
	    RPC_ERR_OK) {
		pb_release(spire_api_server_agent_v1_AttestAgentResponse_fields,
		    &resp);
		attest_finish(call, a, GRPC_STATUS_INTERNAL,
		    "cannot send the challenge");
		return;
	}
	pb_release(spire_api_server_agent_v1_AttestAgentResponse_fields,
	    &resp);
	a->step = 1;
}

/* A tpm_devid refusal: logged with its reason, INVALID_ARGUMENT. */
static void
attest_devid_refuse(struct rpc_call *call, struct attest *a,
    const char *stage, enum tpmdevid_err e)
{
	char	msg[300];

	log_kv(LOG_LEVEL_INFO, "api", "tpm_devid attestation refused",
	    "addr", a->addr, "stage", stage, "error", tpmdevid_strerror(e),
	    (const char *)NULL);
	snprintf(msg, sizeof(msg), "failed to attest: tpm_devid: %s",
	    tpmdevid_strerror(e));
	attest_finish(call, a, GRPC_STATUS_INVALID_ARGUMENT, msg);
}

/* The payload: DevID chain, EK certificate, AK, certification. */
static void
attest_devid_start(struct rpc_call *call, struct attest *a,
    const pb_bytes_array_t *payload)
{
	char			*ch = NULL;
	size_t			 chlen;
	int			 e;

	e = srv_devid_start(a->s, payload->bytes, payload->size, &a->devid,
	    &ch, &chlen);
	if (e != TPMDEVID_OK) {
		attest_devid_refuse(call, a, "payload",
		    (enum tpmdevid_err)e);
		return;
	}
	attest_challenge(call, a, ch, chlen);
}

/* The response: the nonce's signature and the activated credential. */
static void
attest_devid_response(struct rpc_call *call, struct attest *a,
    const pb_bytes_array_t *r)
{
	struct attested		 at;
	const char *const	*sel;
	enum tpmdevid_err	 e;
	size_t			 i, n;

	if (r == NULL) {
		attest_devid_refuse(call, a, "response",
		    TPMDEVID_ERR_RESPONSE);
		return;
	}
	e = tpmdevid_server_finish(a->devid, r->bytes, r->size);
	if (e != TPMDEVID_OK) {
		attest_devid_refuse(call, a, "response", e);
		return;
	}
	memset(&at, 0, sizeof(at));
	if (snprintf(at.id, sizeof(at.id), "%s%s", a->s->td_id,
	    tpmdevid_server_agent_path(a->devid)) >= (int)sizeof(at.id))
		goto fail;
	at.type = TPMDEVID_NAME;
	at.reattestable = 1;
	n = tpmdevid_server_selectors(a->devid, &sel);
	for (i = 0; i < n; i++)
		if (attested_add(&at, TPMDEVID_NAME, sel[i]) == -1)
			goto fail;
	attest_complete(call, a, &at);
	attested_cleanup(&at);
	return;
fail:
	attested_cleanup(&at);
	attest_finish(call, a, GRPC_STATUS_INTERNAL, "failed to attest");
}

/* Whether addr may attest now (1 per second); records the attempt. */
static int
attest_allowed(struct server *s, const char *addr)
{
	char	host[64];
	double	now = ev_now(s->loop);
	size_t	i, oldest = 0;

	srv_peer_host(addr, host, sizeof(host));
	for (i = 0; i < s->nlimits; i++) {
		if (strcmp(s->limits[i].addr, host) == 0) {
			if (now - s->limits[i].last < 1.0)
				return 0;
			s->limits[i].last = now;
			return 1;
		}
		if (s->limits[i].last < s->limits[oldest].last)
			oldest = i;
	}
	if (s->nlimits < SERVER_ATTEST_PEERS_MAX)
		i = s->nlimits++;
	else
		i = oldest;
	snprintf(s->limits[i].addr, sizeof(s->limits[i].addr), "%s", host);
	s->limits[i].last = now;
	return 1;
}

static void
attest_on_call(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	struct server	*s = arg;
	struct attest	*a;
	struct caller	 c;

	(void)req;
	(void)len;
	if (srv_authorize(s, call, CALLER_ANY, &c) == -1)
		return;
	if (!c.classes && !attest_allowed(s, c.addr)) {
		srv_fail(call, GRPC_STATUS_RESOURCE_EXHAUSTED,
		    "rate (1) exceeds limit (1)");
		caller_cleanup(&c);
		return;
	}
	a = mem_calloc(1, sizeof(*a));
	if (a == NULL) {
		caller_cleanup(&c);
		srv_fail(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	a->s = s;
	snprintf(a->addr, sizeof(a->addr), "%s", c.addr);
	caller_cleanup(&c);
	rpc_call_set_data(call, a);
}

static void
attest_on_message(struct rpc_call *call, const uint8_t *msg, size_t len,
    void *arg)
{
	struct attest		*a = rpc_call_data(call);
	spire_api_server_agent_v1_AttestAgentRequest r;
	spire_api_server_agent_v1_AttestAgentRequest_Params *p;
	const char		*type;
	char			 m[300];
	int			 local;

	(void)arg;
	if (a == NULL || a->done || a->signing)
		return;
	memset(&r, 0, sizeof(r));
	if (rpc_decode(msg, len,
	    spire_api_server_agent_v1_AttestAgentRequest_fields, &r) == -1) {
		attest_finish(call, a, GRPC_STATUS_INVALID_ARGUMENT,
		    "malformed request");
		return;
	}
	if (a->step == 1) {
		if (r.which_step != ATTEST_RESPONSE_TAG)
			attest_finish(call, a, GRPC_STATUS_INVALID_ARGUMENT,
			    "expected a challenge response");
		else if (a->devid != NULL)
			attest_devid_response(call, a,
			    r.step.challenge_response);
		else
			attest_x509pop_response(call, a,
			    r.step.challenge_response);
		goto out;
	}
	p = &r.step.params;
	if (r.which_step !=
	    spire_api_server_agent_v1_AttestAgentRequest_params_tag ||
	    !p->has_data || p->data.type == NULL || *p->data.type == '\0' ||
	    p->data.payload == NULL || p->data.payload->size == 0 ||
	    !p->has_params || p->params.csr == NULL ||
	    p->params.csr->size == 0) {
		attest_finish(call, a, GRPC_STATUS_INVALID_ARGUMENT,
		    "malformed param: missing attestation data, payload or "
		    "CSR");
		goto out;
	}
	a->csr = mem_alloc(p->params.csr->size);
	if (a->csr == NULL) {
		attest_finish(call, a, GRPC_STATUS_RESOURCE_EXHAUSTED,
		    "out of memory");
		goto out;
	}
	memcpy(a->csr, p->params.csr->bytes, p->params.csr->size);
	a->csr_len = p->params.csr->size;
	type = p->data.type;
	/*
	 * The token made for the agent of this process (spirelet run) is
	 * taken even when NodeAttestor "join_token" is not configured.
	 */
	local = a->s->local_token[0] != '\0' && p->data.payload->size ==
	    strlen(a->s->local_token) && memcmp(p->data.payload->bytes,
	    a->s->local_token, p->data.payload->size) == 0;
	if (strcmp(type, "join_token") == 0 && (a->s->cfg->plug.join_token ||
	    local)) {
		if (local)
			a->s->local_token[0] = '\0';
		attest_join_token(call, a, p->data.payload);
	} else if (strcmp(type, "x509pop") == 0 && a->s->cfg->plug.x509pop)
		attest_x509pop_start(call, a, p->data.payload);
	else if (strcmp(type, TPMDEVID_NAME) == 0 &&
	    a->s->cfg->plug.tpm_devid)
		attest_devid_start(call, a, p->data.payload);
	else {
		snprintf(m, sizeof(m), "error getting node attestor: could not "
		    "find node attestor type \"%s\"", type);
		attest_finish(call, a, GRPC_STATUS_FAILED_PRECONDITION, m);
	}
out:
	pb_release(spire_api_server_agent_v1_AttestAgentRequest_fields, &r);
}

static void
attest_on_half_close(struct rpc_call *call, void *arg)
{
	struct attest	*a = rpc_call_data(call);

	(void)arg;
	/* Signing: the result follows all the same. */
	if (a != NULL && !a->done && !a->signing)
		attest_finish(call, a, GRPC_STATUS_INVALID_ARGUMENT,
		    "the attestation ended early");
}

static void
attest_on_cancel(struct rpc_call *call, enum grpc_status why, void *arg)
{
	struct attest	*a = rpc_call_data(call);

	(void)arg;
	if (a != NULL && a->signing) {
		/* attest_signed finishes the call once the CA answers. */
		a->cancelled = 1;
		return;
	}
	if (a != NULL && !a->done) {
		a->done = 1;
		rpc_call_set_data(call, NULL);
		attest_free(a);
	}
	rpc_call_finish(call, why, NULL, NULL, 0);
}

/* RenewAgent: a new SVID recorded as the node's new serial. */
struct renew_txn {
	const char		*id;
	const struct ca_svid	*svid;
};

static enum store_err
renew_txn(struct store_txn *txn, void *arg)
{
	struct renew_txn	*t = arg;
	spirelet_server_Node	 n;
	enum store_err		 e;

	if (ds_node_get(txn, t->id, &n) != 0)
		return STORE_IO;
	mem_free(n.new_serial);
	n.new_serial = mem_strdup(t->svid->serial);
	n.new_expires_at = t->svid->expires_at;
	e = n.new_serial != NULL && ds_node_put(txn, t->id, &n) == 0 ?
	    STORE_OK : STORE_IO;
	pb_release(spirelet_server_Node_fields, &n);
	return e;
}

/* A RenewAgent waiting on its signature. */
struct renew {
	struct server	*s;
	struct rpc_call	*call;
	char		 id[SPIFFE_ID_MAX + 1];
};

static void
agent_renew_signed(void *arg, int rc, const struct ca_svid *svid)
{
	struct renew				*rn = arg;
	spire_api_server_agent_v1_RenewAgentResponse resp;
	struct renew_txn			 t;

	memset(&resp, 0, sizeof(resp));
	if (rc == -1) {
		srv_fail(rn->call, GRPC_STATUS_INTERNAL,
		    "failed to sign X509 SVID");
		goto out;
	}
	t.id = rn->id;
	t.svid = svid;
	if (store_txn_run(rn->s->store, renew_txn, &t) != STORE_OK) {
		srv_fail(rn->call, GRPC_STATUS_INTERNAL,
		    "failed to update the attested node");
		goto out;
	}
	resp.has_svid = true;
	if (srv_svid_pb(svid, rn->id, &resp.svid) == -1) {
		srv_fail(rn->call, GRPC_STATUS_INTERNAL, "out of memory");
		goto out;
	}
	log_kv(LOG_LEVEL_INFO, "api", "agent SVID renewed", "agent", rn->id,
	    "serial", svid->serial, (const char *)NULL);
	srv_reply(rn->call,
	    spire_api_server_agent_v1_RenewAgentResponse_fields, &resp);
out:
	pb_release(spire_api_server_agent_v1_RenewAgentResponse_fields, &resp);
	mem_free(rn);
}

static void
agent_renew(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct server				*s = arg;
	spire_api_server_agent_v1_RenewAgentRequest r;
	struct cert_csr				 csr;
	struct caller				 c;
	struct renew				*rn;

	if (srv_authorize(s, call, CALLER_AGENT, &c) == -1)
		return;
	memset(&r, 0, sizeof(r));
	if (c.reattestable) {
		srv_deny(call, DENY_AGENT_MUST_REATTEST,
		    "agent must reattest instead of renew");
		goto out;
	}
	if (srv_decode(call, req, len,
	    spire_api_server_agent_v1_RenewAgentRequest_fields, &r) == -1)
		goto out;
	if (!r.has_params || r.params.csr == NULL) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
		    "params cannot be nil");
		goto out;
	}
	if (cert_csr_parse(r.params.csr->bytes, r.params.csr->size, 0,
	    &csr) != CERT_CSR_OK) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
		    "failed to parse CSR");
		goto out;
	}
	rn = mem_calloc(1, sizeof(*rn));
	if (rn == NULL) {
		srv_fail(call, GRPC_STATUS_INTERNAL, "out of memory");
		goto out;
	}
	rn->s = s;
	rn->call = call;
	snprintf(rn->id, sizeof(rn->id), "%s", c.id);
	/* The answer comes from agent_renew_signed, maybe later. */
	if (ca_sign_x509svid_async(s->ca, csr.spki, csr.spki_len, c.id, NULL,
	    0, (s->cfg->agent_ttl > 0 ? s->cfg->agent_ttl :
	    s->cfg->default_x509_svid_ttl) / 1000, agent_renew_signed,
	    rn) == -1) {
		mem_free(rn);
		srv_fail(call, GRPC_STATUS_INTERNAL,
		    "failed to sign X509 SVID");
	}
out:
	pb_release(spire_api_server_agent_v1_RenewAgentRequest_fields, &r);
	caller_cleanup(&c);
}

/* Copies a stored node into an Agent message, through the mask. */
static int
agent_to_pb(const spirelet_server_Node *n, const spire_api_types_AgentMask *m,
    spire_api_types_Agent *out)
{
	uint8_t	*buf;
	size_t	 len;
	int	 rc;

	memset(out, 0, sizeof(*out));
	if (ds_encode(spire_api_types_Agent_fields, &n->agent, &buf,
	    &len) == -1)
		return -1;
	rc = ds_decode(spire_api_types_Agent_fields, buf, len, out);
	mem_free(buf);
	if (rc == -1 || m == NULL)
		return rc;
	if (!m->attestation_type) {
		mem_free(out->attestation_type);
		out->attestation_type = NULL;
	}
	if (!m->x509svid_serial_number) {
		mem_free(out->x509svid_serial_number);
		out->x509svid_serial_number = NULL;
	}
	if (!m->x509svid_expires_at)
		out->x509svid_expires_at = 0;
	if (!m->selectors) {
		for (pb_size_t i = 0; i < out->selectors_count; i++)
			pb_release(spire_api_types_Selector_fields,
			    &out->selectors[i]);
		mem_free(out->selectors);
		out->selectors = NULL;
		out->selectors_count = 0;
	}
	if (!m->banned)
		out->banned = false;
	if (!m->can_reattest)
		out->can_reattest = false;
	return 0;
}

struct agents_arg {
	const spire_api_server_agent_v1_AgentFilter	*f;
	const spire_api_types_AgentMask			*mask;
	spire_api_server_agent_v1_ListAgentsResponse	*resp;
	const char					*token;	/* walk after */
	size_t						 max;
	size_t						 count;
	int						 failed;
};

static int
agent_matches(const spire_api_server_agent_v1_AgentFilter *f,
    const spirelet_server_Node *n)
{
	pb_size_t	i, k;
	size_t		hits = 0;

	if (f == NULL)
		return 1;
	if (f->by_attestation_type != NULL && *f->by_attestation_type &&
	    (n->agent.attestation_type == NULL ||
	    strcmp(f->by_attestation_type, n->agent.attestation_type) != 0))
		return 0;
	if (f->has_by_banned && f->by_banned.value != n->agent.banned)
		return 0;
	if (f->has_by_can_reattest &&
	    f->by_can_reattest.value != n->agent.can_reattest)
		return 0;
	if (f->has_by_selector_match) {
		const spire_api_types_Selector *fs =
		    f->by_selector_match.selectors;

		for (i = 0; i < f->by_selector_match.selectors_count; i++)
			for (k = 0; k < n->agent.selectors_count; k++)
				if (strcmp(fs[i].type,
				    n->agent.selectors[k].type) == 0 &&
				    strcmp(fs[i].value,
				    n->agent.selectors[k].value) == 0) {
					hits++;
					break;
				}
		switch (f->by_selector_match.match) {
		case spire_api_types_SelectorMatch_MatchBehavior_MATCH_EXACT:
			if (hits != f->by_selector_match.selectors_count ||
			    hits != n->agent.selectors_count)
				return 0;
			break;
		case spire_api_types_SelectorMatch_MatchBehavior_MATCH_SUBSET:
			/* The node's selectors within the filter's. */
			if (hits != n->agent.selectors_count)
				return 0;
			break;
		case spire_api_types_SelectorMatch_MatchBehavior_MATCH_SUPERSET:
			if (hits != f->by_selector_match.selectors_count)
				return 0;
			break;
		default:
			if (hits == 0)
				return 0;
			break;
		}
	}
	return 1;
}

static int
agents_cb(const char *id, const spirelet_server_Node *n, void *arg)
{
	struct agents_arg	*a = arg;
	spire_api_types_Agent	*o;

	(void)id;
	if (!agent_matches(a->f, n))
		return 0;
	a->count++;
	if (a->resp == NULL)
		return 0;
	if (a->max > 0 && a->resp->agents_count == a->max) {
		char	buf[SPIFFE_ID_MAX + 1];

		if (ds_id_string(&a->resp->agents[a->max - 1].id, buf,
		    sizeof(buf)) == 0)
			a->resp->next_page_token = mem_strdup(buf);
		return 1;
	}
	o = pbu_append(&a->resp->agents, &a->resp->agents_count, sizeof(*o));
	if (o == NULL || agent_to_pb(n, a->mask, o) == -1) {
		a->failed = 1;
		return 1;
	}
	/* The ID is always returned. */
	return 0;
}

/* Both List and Count walk the nodes; Count never fails in agents_cb. */
static int
agents_walk(struct store_txn *txn, void *arg)
{
	struct agents_arg	*a = arg;

	if (ds_node_walk(txn, a->token, agents_cb, a) == DS_ERROR ||
	    a->failed)
		return -1;
	return 0;
}

static void
agent_list(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct server				*s = arg;
	spire_api_server_agent_v1_ListAgentsRequest r;
	spire_api_server_agent_v1_ListAgentsResponse resp;
	struct agents_arg			 a;

	memset(&resp, 0, sizeof(resp));
	if (srv_admit(s, call, CALLER_ADMIN | CALLER_LOCAL, req, len,
	    spire_api_server_agent_v1_ListAgentsRequest_fields, &r,
	    sizeof(r)) == -1)
		return;
	memset(&a, 0, sizeof(a));
	a.f = r.has_filter ? &r.filter : NULL;
	a.mask = r.has_output_mask ? &r.output_mask : NULL;
	a.resp = &resp;
	a.max = r.page_size > 0 ? (size_t)r.page_size : 0;
	a.token = r.page_token;
	if (srv_walk(s, call, agents_walk, &a, "failed to list agents") == 0)
		srv_reply(call,
		    spire_api_server_agent_v1_ListAgentsResponse_fields, &resp);
	pb_release(spire_api_server_agent_v1_ListAgentsResponse_fields, &resp);
	pb_release(spire_api_server_agent_v1_ListAgentsRequest_fields, &r);
}

static void
agent_count(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct server				*s = arg;
	spire_api_server_agent_v1_CountAgentsRequest r;
	spire_api_server_agent_v1_CountAgentsResponse resp = { 0 };
	struct agents_arg			 a;

	if (srv_admit(s, call, CALLER_ADMIN | CALLER_LOCAL, req, len,
	    spire_api_server_agent_v1_CountAgentsRequest_fields, &r,
	    sizeof(r)) == -1)
		return;
	memset(&a, 0, sizeof(a));
	a.f = r.has_filter ? &r.filter : NULL;
	a.token = "";
	if (srv_walk(s, call, agents_walk, &a, "failed to count agents") ==
	    0) {
		resp.count = (int32_t)a.count;
		srv_reply(call,
		    spire_api_server_agent_v1_CountAgentsResponse_fields,
		    &resp);
	}
	pb_release(spire_api_server_agent_v1_CountAgentsRequest_fields, &r);
}

/* Parses the agent ID of Get/Delete/Ban into buf; 0 or -1 (answered). */
static int
agent_id_arg(struct server *s, struct rpc_call *call,
    const spire_api_types_SPIFFEID *m, bool has, char *buf, size_t len)
{
	struct spiffe_id	id;
	char			why[128], msg[200];

	if (!has || srv_id_parse(m, &id, why, sizeof(why)) == -1) {
		snprintf(msg, sizeof(msg), "invalid agent ID: %s",
		    has ? why : "missing");
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT, msg);
		return -1;
	}
	if (!spiffe_id_member_of(&id, &s->td)) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "invalid agent "
		    "ID: is not a member of the server trust domain");
		return -1;
	}
	return srv_id_format(m, buf, len);
}

static void
agent_get(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct server				*s = arg;
	spire_api_server_agent_v1_GetAgentRequest r;
	spire_api_types_Agent			 out;
	spirelet_server_Node			 n;
	struct store_txn			*txn;
	char					 id[SPIFFE_ID_MAX + 1];
	int					 rc;

	if (srv_admit(s, call, CALLER_ADMIN | CALLER_LOCAL, req, len,
	    spire_api_server_agent_v1_GetAgentRequest_fields, &r,
	    sizeof(r)) == -1)
		return;
	if (agent_id_arg(s, call, &r.id, r.has_id, id, sizeof(id)) == -1)
		goto out;
	if (store_txn_begin(s->store, STORE_READ, &txn) != STORE_OK) {
		srv_fail(call, GRPC_STATUS_INTERNAL, "datastore unavailable");
		goto out;
	}
	rc = ds_node_get(txn, id, &n);
	store_txn_abort(txn);
	if (rc != 0) {
		srv_fail(call, rc == DS_NOTFOUND ? GRPC_STATUS_NOT_FOUND :
		    GRPC_STATUS_INTERNAL, "agent not found");
		goto out;
	}
	if (agent_to_pb(&n, r.has_output_mask ? &r.output_mask : NULL,
	    &out) == 0)
		srv_reply(call, spire_api_types_Agent_fields, &out);
	else
		srv_fail(call, GRPC_STATUS_INTERNAL, "out of memory");
	pb_release(spire_api_types_Agent_fields, &out);
	pb_release(spirelet_server_Node_fields, &n);
out:
	pb_release(spire_api_server_agent_v1_GetAgentRequest_fields, &r);
}

struct node_change {
	const char	*id;
	int		 ban;
};

static enum store_err
node_change_txn(struct store_txn *txn, void *arg)
{
	struct node_change	*t = arg;
	spirelet_server_Node	 n;
	int			 rc;

	if (!t->ban) {
		rc = ds_node_del(txn, t->id);
		return rc == 0 ? STORE_OK : rc == DS_NOTFOUND ?
		    STORE_NOTFOUND : STORE_IO;
	}
	rc = ds_node_get(txn, t->id, &n);
	if (rc != 0)
		return rc == DS_NOTFOUND ? STORE_NOTFOUND : STORE_IO;
	/* A banned node has no serial: no SVID of it authenticates. */
	n.agent.banned = true;
	mem_free(n.agent.x509svid_serial_number);
	n.agent.x509svid_serial_number = NULL;
	mem_free(n.new_serial);
	n.new_serial = NULL;
	rc = ds_node_put(txn, t->id, &n);
	pb_release(spirelet_server_Node_fields, &n);
	return rc == 0 ? STORE_OK : STORE_IO;
}

static void
agent_delete_or_ban(struct rpc_call *call, const uint8_t *req, size_t len,
    struct server *s, int ban)
{
	spire_api_server_agent_v1_DeleteAgentRequest r;
	google_protobuf_Empty			 empty = { 0 };
	struct node_change			 t;
	char					 id[SPIFFE_ID_MAX + 1];
	enum store_err				 e;

	_Static_assert(sizeof(spire_api_server_agent_v1_DeleteAgentRequest) ==
	    sizeof(spire_api_server_agent_v1_BanAgentRequest),
	    "Delete and Ban requests share a shape");
	if (srv_admit(s, call, CALLER_ADMIN | CALLER_LOCAL, req, len,
	    spire_api_server_agent_v1_DeleteAgentRequest_fields, &r,
	    sizeof(r)) == -1)
		return;
	if (agent_id_arg(s, call, &r.id, r.has_id, id, sizeof(id)) == -1)
		goto out;
	t.id = id;
	t.ban = ban;
	e = store_txn_run(s->store, node_change_txn, &t);
	if (e == STORE_NOTFOUND)
		srv_fail(call, GRPC_STATUS_NOT_FOUND, "agent not found");
	else if (e != STORE_OK)
		srv_fail(call, GRPC_STATUS_INTERNAL, ban ? "failed to ban "
		    "agent" : "failed to remove agent");
	else {
		log_kv(LOG_LEVEL_INFO, "api", ban ? "agent banned" :
		    "agent deleted", "agent", id, (const char *)NULL);
		srv_reply(call, google_protobuf_Empty_fields, &empty);
	}
out:
	pb_release(spire_api_server_agent_v1_DeleteAgentRequest_fields, &r);
}

static void
agent_delete(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	agent_delete_or_ban(call, req, len, arg, 0);
}

static void
agent_ban(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	agent_delete_or_ban(call, req, len, arg, 1);
}

struct token_txn {
	const char	*token;
	int64_t		 exp;
};

static enum store_err
token_txn(struct store_txn *txn, void *arg)
{
	struct token_txn	*t = arg;
	int			 rc;

	rc = ds_token_put(txn, t->token, t->exp);
	return rc == 0 ? STORE_OK : rc == DS_EXISTS ? STORE_EXISTS : STORE_IO;
}

static void
agent_create_token(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	struct server				*s = arg;
	spire_api_server_agent_v1_CreateJoinTokenRequest r;
	spire_api_types_JoinToken		 out;
	spire_api_types_Entry			 e;
	spire_api_types_Selector		 sel;
	struct token_txn			 t;
	struct spiffe_id			 aid;
	char					 tok[37], why[128], msg[200];
	char					 parent[SPIFFE_ID_MAX + 1];
	char					 eid[37];
	const char				*emsg;
	int					 code;
	enum store_err				 se;

	memset(&out, 0, sizeof(out));
	if (srv_admit(s, call, CALLER_ADMIN | CALLER_LOCAL, req, len,
	    spire_api_server_agent_v1_CreateJoinTokenRequest_fields, &r,
	    sizeof(r)) == -1)
		return;
	if (r.ttl < 1) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
		    "ttl is required, you must provide one");
		goto out;
	}
	if (r.has_agent_id && srv_id_parse(&r.agent_id, &aid, why,
	    sizeof(why)) == -1) {
		snprintf(msg, sizeof(msg), "invalid agent ID: %s", why);
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT, msg);
		goto out;
	}
	if (r.has_agent_id && (!spiffe_id_member_of(&aid, &s->td) ||
	    spiffe_id_is_td(&aid))) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "invalid agent "
		    "ID: is not a member of the server trust domain");
		goto out;
	}
	if (r.token == NULL || *r.token == '\0') {
		if (srv_uuid(tok) == -1) {
			srv_fail(call, GRPC_STATUS_INTERNAL,
			    "failed to generate token");
			goto out;
		}
	} else if (strlen(r.token) >= sizeof(tok) * 4 ||
	    snprintf(tok, sizeof(tok), "%s", r.token) >= (int)sizeof(tok)) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "token too long");
		goto out;
	}
	t.token = tok;
	t.exp = (int64_t)time(NULL) + r.ttl;
	se = store_txn_run(s->store, token_txn, &t);
	if (se == STORE_EXISTS) {
		srv_fail(call, GRPC_STATUS_ALREADY_EXISTS,
		    "failed to create token: token already exists");
		goto out;
	}
	if (se != STORE_OK) {
		srv_fail(call, GRPC_STATUS_INTERNAL, "failed to create token");
		goto out;
	}
	if (r.has_agent_id) {
		/* The friendly ID, granted to whoever holds the token. */
		if (snprintf(parent, sizeof(parent),
		    "%s/spire/agent/join_token/%s", s->td_id, tok) >=
		    (int)sizeof(parent))
			goto fail_entry;
		memset(&e, 0, sizeof(e));
		memset(&sel, 0, sizeof(sel));
		sel.type = (char *)(uintptr_t)"spiffe_id";
		sel.value = parent;
		if (srv_uuid(eid) == -1)
			goto fail_entry;
		e.id = eid;
		e.has_spiffe_id = true;
		e.spiffe_id = r.agent_id;
		e.has_parent_id = true;
		e.selectors = &sel;
		e.selectors_count = 1;
		if (srv_id_set(&e.parent_id, parent) == -1)
			goto fail_entry;
		if (srv_entries_create(s, &e, 1, &code, &emsg) == -1 ||
		    code != 0) {
			mem_free(e.parent_id.trust_domain);
			mem_free(e.parent_id.path);
			goto fail_entry;
		}
		mem_free(e.parent_id.trust_domain);
		mem_free(e.parent_id.path);
	}
	out.value = tok;
	out.expires_at = t.exp;
	srv_reply(call, spire_api_types_JoinToken_fields, &out);
	goto out;
fail_entry:
	srv_fail(call, GRPC_STATUS_INTERNAL,
	    "failed to create join token registration entry");
out:
	pb_release(spire_api_server_agent_v1_CreateJoinTokenRequest_fields, &r);
}

int
api_agent_register(struct server *s, struct rpc_server *rs)
{
	static struct rpc_method m[] = {
		{ P("AttestAgent"), RPC_BIDI, attest_on_call,
		    attest_on_message, attest_on_half_close, attest_on_cancel,
		    NULL, NULL },
		{ P("RenewAgent"), RPC_UNARY, agent_renew, NULL, NULL, NULL,
		    NULL, NULL },
		{ P("ListAgents"), RPC_UNARY, agent_list, NULL, NULL, NULL,
		    NULL, NULL },
		{ P("CountAgents"), RPC_UNARY, agent_count, NULL, NULL, NULL,
		    NULL, NULL },
		{ P("GetAgent"), RPC_UNARY, agent_get, NULL, NULL, NULL, NULL,
		    NULL },
		{ P("DeleteAgent"), RPC_UNARY, agent_delete, NULL, NULL, NULL,
		    NULL, NULL },
		{ P("BanAgent"), RPC_UNARY, agent_ban, NULL, NULL, NULL, NULL,
		    NULL },
		{ P("CreateJoinToken"), RPC_UNARY, agent_create_token, NULL,
		    NULL, NULL, NULL, NULL },
	};
	size_t	i;

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		m[i].arg = s;
	return rpc_server_add_methods(rs, m, sizeof(m) / sizeof(m[0]));
}
