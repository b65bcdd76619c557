/*
 * spire.api.server.svid.v1.SVID: workload X509-SVIDs and JWT-SVIDs for
 * agents (only for entries the agent is authorized for), and minting
 * for admins.
 */
#include "config.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include <pb_decode.h>

#include "core/log.h"
#include "core/mem.h"
#include "hal/key.h"
#include "pki/cert.h"
#include "pki/der.h"
#include "server/authz.h"
#include "server/pbutil.h"
#include "server/srv.h"
#include "spire/api/server/svid/v1/svid.pb.h"

#define P(m)	"/spire.api.server.svid.v1.SVID/" m

/* Long generated names, shortened. */
#define BATCH_RESP	\
    spire_api_server_svid_v1_BatchNewX509SVIDResponse_fields

/* The SANs of a PKCS#10 request (views into it). */
struct csr_sans {
	struct der	uris[4];
	size_t		nuris;
	struct der	dns[CERT_DNS_MAX];
	size_t		ndns;
};

static const uint8_t oid_ext_req[] = {
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e
};
static const uint8_t oid_san[] = { 0x55, 0x1d, 0x11 };

/* Reads the extensionRequest's SANs; 0, or -1 when malformed. */
static int
csr_sans(const uint8_t *csr, size_t len, struct csr_sans *out)
{
	struct der	d, req, info, attrs, attr, oid, set, exts, ext, val;
	struct der	names, gn;
	int		tag;

	memset(out, 0, sizeof(*out));
	der_init(&d, csr, len);
	if (der_get(&d, DER_SEQUENCE, &req, NULL) == -1 ||
	    der_get(&req, DER_SEQUENCE, &info, NULL) == -1 ||
	    der_get(&info, DER_INTEGER, NULL, NULL) == -1 ||
	    der_get(&info, DER_SEQUENCE, NULL, NULL) == -1 ||
	    der_get(&info, DER_SEQUENCE, NULL, NULL) == -1)
		return -1;
	if (der_get_optional(&info, DER_CONTEXT_CONS(0), &attrs, NULL) != 1)
		return 0;
	while (!der_empty(&attrs)) {
		if (der_get(&attrs, DER_SEQUENCE, &attr, NULL) == -1 ||
		    der_get(&attr, DER_OID, &oid, NULL) == -1 ||
		    der_get(&attr, DER_SET, &set, NULL) == -1)
			return -1;
		if (!der_equal(&oid, oid_ext_req, sizeof(oid_ext_req)))
			continue;
		if (der_get(&set, DER_SEQUENCE, &exts, NULL) == -1)
			return -1;
		while (!der_empty(&exts)) {
			if (der_get(&exts, DER_SEQUENCE, &ext, NULL) == -1 ||
			    der_get(&ext, DER_OID, &oid, NULL) == -1)
				return -1;
			if (der_get_optional(&ext, DER_BOOLEAN, NULL,
			    NULL) == -1 ||
			    der_get(&ext, DER_OCTET_STRING, &val, NULL) == -1)
				return -1;
			if (!der_equal(&oid, oid_san, sizeof(oid_san)))
				continue;
			if (der_get(&val, DER_SEQUENCE, &names, NULL) == -1)
				return -1;
			while (!der_empty(&names)) {
				if (der_get_any(&names, &tag, &gn, NULL) == -1)
					return -1;
				if (tag == DER_CONTEXT(6) &&
				    out->nuris < 4)
					out->uris[out->nuris++] = gn;
				else if (tag == DER_CONTEXT(2) &&
				    out->ndns < CERT_DNS_MAX)
					out->dns[out->ndns++] = gn;
			}
		}
	}
	return 0;
}

/* The agent's authorized set, for this call. 0 or -1 (answered). */
static int
svid_authorized(struct server *s, struct rpc_call *call, struct caller *c,
    struct store_txn *txn, struct authz_set *set)
{
	if (srv_authorized(s, txn, c->id, &c->node, set) == -1) {
		authz_set_free(set);
		srv_fail(call, GRPC_STATUS_INTERNAL,
		    "failed to fetch authorized entries");
		return -1;
	}
	return 0;
}

/* One item of a BatchNewX509SVID, checked on the loop, then the worker. */
struct svid_item {
	int			 code;	/* gRPC status; 0 so far so good */
	const char		*why;
	spire_api_types_Entry	 e;	/* read on the loop */
	struct cert_csr		 csr;	/* the worker's: views into r */
};

/*
 * A BatchNewX509SVID in progress. Its entries are read on the loop, its
 * CSRs' signatures checked on the worker (srv_job): each CSR comes with
 * a key seen once, which wolfCrypt's fixed-point cache would otherwise
 * keep on the loop (850 KB a key, up to 15). Back on the loop each item
 * is signed by the CA (at once for a software key, on the worker for a
 * TPM one), its result filled in order of the request as its signature
 * comes in; the reply goes when none is outstanding.
 */
struct svid_batch {
	struct srv_job		 job;	/* first */
	struct server		*s;
	struct rpc_call		*call;
	struct caller		 c;
	spire_api_server_svid_v1_BatchNewX509SVIDRequest r;
	struct svid_item	*items;	/* r.params_count of them */
	spire_api_server_svid_v1_BatchNewX509SVIDResponse resp;
	size_t			 pending;	/* signatures out */
	int			 filling;	/* still in svid_batch_sign */
};

struct batch_item {
	struct svid_batch	*b;
	size_t			 i;
	char			 sid[SPIFFE_ID_MAX + 1];
	char			 entry_id[SERVER_ENTRY_ID_MAX + 1];
};

static void
svid_batch_free(struct svid_batch *b)
{
	pb_size_t	 i;

	for (i = 0; i < b->r.params_count && b->items != NULL; i++)
		pb_release(spire_api_types_Entry_fields, &b->items[i].e);
	mem_free(b->items);
	pb_release(BATCH_RESP, &b->resp);
	pb_release(spire_api_server_svid_v1_BatchNewX509SVIDRequest_fields,
	    &b->r);
	caller_cleanup(&b->c);
	mem_free(b);
}

static void
batch_result(struct svid_batch *b, size_t i, int code, const char *why,
    const char *entry_id, const char *sid)
{
	spire_api_server_svid_v1_BatchNewX509SVIDResponse_Result *res =
	    &b->resp.results[i];

	res->has_status = true;
	res->status.code = code;
	res->status.message = mem_strdup(code == 0 ? "OK" : why);
	if (code != 0)
		log_kv(LOG_LEVEL_INFO, "api", "X509-SVID refused", "agent",
		    b->c.id, "entry_id", entry_id, "error", why,
		    (const char *)NULL);
	else
		log_kv(LOG_LEVEL_DEBUG, "api", "X509-SVID signed", "agent",
		    b->c.id, "entry_id", entry_id, "spiffe_id", sid,
		    (const char *)NULL);
}

static void
batch_end(struct svid_batch *b)
{
	struct server	*s = b->s;

	if (b->filling || b->pending > 0)
		return;
	srv_reply(b->call, BATCH_RESP, &b->resp);
	svid_batch_free(b);
	/*
	 * The worker's checks made and freed two EC tables per CSR (1.7
	 * MB that glibc keeps resident); with no other job out, the burst
	 * is over: hand them back.
	 */
	if (TAILQ_EMPTY(&s->jobs))
		(void)malloc_trim(0);
}

static void
batch_signed(void *arg, int rc, const struct ca_svid *sv)
{
	struct batch_item	*it = arg;
	struct svid_batch	*b = it->b;
	spire_api_server_svid_v1_BatchNewX509SVIDResponse_Result *res =
	    &b->resp.results[it->i];

	if (rc == -1)
		batch_result(b, it->i, GRPC_STATUS_INTERNAL,
		    "failed to sign X509-SVID", it->entry_id, it->sid);
	else {
		res->has_svid = true;
		if (srv_svid_pb(sv, it->sid, &res->svid) == -1)
			batch_result(b, it->i, GRPC_STATUS_INTERNAL,
			    "out of memory", it->entry_id, it->sid);
		else
			batch_result(b, it->i, 0, NULL, it->entry_id,
			    it->sid);
	}
	mem_free(it);
	b->pending--;
	batch_end(b);
}

/*
 * On the worker: each CSR's self-signature, the worker's EC tables
 * dropped once the batch is checked. wolfCrypt's fixed-point cache
 * (one per thread) gives every point it meets a slot of 850 KB, and
 * the base point's table is computed once it was met twice. Dropping
 * the cache after each CSR kept the worker at two slots but made every
 * check a cold one (no base point table, 1.7 MB allocated and freed):
 * 2,450 SVIDs a second against 6,650 with the drop at the end of the
 * batch (bench/run.py --only server_scale, the same machine). The
 * price is the cache's bound while a batch is checked: 15 slots, 12.7
 * MB, handed back when the burst is over (batch_end's malloc_trim).
 * XXX: a check with a key seen once costs more than a signature in
 * Debian's wolfSSL (generic big-number code, no P-256 specific one), so
 * minting stays well under the raw signing rate.
 */
static void
svid_batch_verify(struct srv_job *job)
{
	struct svid_batch	*b = (struct svid_batch *)job;
	struct svid_item	*it;
	const spire_api_server_svid_v1_NewX509SVIDParams *p;
	enum cert_csr_err	 ce;
	pb_size_t		 i;

	for (i = 0; i < b->r.params_count; i++) {
		it = &b->items[i];
		p = &b->r.params[i];
		if (it->code != 0)
			continue;
		ce = cert_csr_parse(p->csr->bytes, p->csr->size, 1, &it->csr);
		if (ce != CERT_CSR_OK) {
			it->code = GRPC_STATUS_INVALID_ARGUMENT;
			it->why = ce == CERT_CSR_SIGNATURE ?
			    "invalid CSR: signature verify failed" :
			    "malformed CSR";
		}
	}
	key_soft_trim();
}

/* Back on the loop: what passed goes to the CA, position by position. */
static void
svid_batch_sign(struct srv_job *job, int gone)
{
	struct svid_batch	*b = (struct svid_batch *)job;
	struct server		*s = job->s;
	struct svid_item	*it;
	struct batch_item	*bi = NULL;
	const char		*eid;
	char			 sid[SPIFFE_ID_MAX + 1];
	pb_size_t		 i;

	if (gone) {
		rpc_call_finish(b->call, GRPC_STATUS_UNAVAILABLE,
		    "the server is stopping", NULL, 0);
		svid_batch_free(b);
		return;
	}
	b->s = s;
	b->resp.results = mem_calloc(b->r.params_count,
	    sizeof(*b->resp.results));
	if (b->resp.results == NULL) {
		srv_fail(b->call, GRPC_STATUS_INTERNAL, "out of memory");
		svid_batch_free(b);
		return;
	}
	b->resp.results_count = b->r.params_count;
	b->filling = 1;
	for (i = 0; i < b->r.params_count; i++) {
		it = &b->items[i];
		eid = b->r.params[i].entry_id != NULL ?
		    b->r.params[i].entry_id : "";
		if (it->code == 0 && (ds_id_string(&it->e.spiffe_id, sid,
		    sizeof(sid)) == -1 ||
		    (bi = mem_calloc(1, sizeof(*bi))) == NULL)) {
			it->code = GRPC_STATUS_INTERNAL;
			it->why = "failed to sign X509-SVID";
		}
		if (it->code != 0) {
			batch_result(b, i, it->code, it->why, eid, NULL);
			continue;
		}
		bi->b = b;
		bi->i = i;
		snprintf(bi->sid, sizeof(bi->sid), "%s", sid);
		snprintf(bi->entry_id, sizeof(bi->entry_id), "%s", eid);
		b->pending++;
		if (ca_sign_x509svid_async(s->ca, it->csr.spki,
		    it->csr.spki_len, sid,
		    (const char *const *)it->e.dns_names,
		    it->e.dns_names_count, it->e.x509_svid_ttl, batch_signed,
		    bi) == -1) {
			b->pending--;
			mem_free(bi);
			batch_result(b, i, GRPC_STATUS_INTERNAL,
			    "failed to sign X509-SVID", eid, NULL);
		}
	}
	b->filling = 0;
	batch_end(b);
}

static void
svid_batch_new(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	struct server		*s = arg;
	struct svid_batch	*b;
	struct svid_item	*it;
	struct store_txn	*txn = NULL;
	struct authz_set	 set;
	pb_size_t		 i;

	b = mem_calloc(1, sizeof(*b));
	if (b == NULL) {
		srv_fail(call, GRPC_STATUS_INTERNAL, "out of memory");
		return;
	}
	b->call = call;
	memset(&set, 0, sizeof(set));
	if (srv_authorize(s, call, CALLER_AGENT, &b->c) == -1) {
		mem_free(b);
		return;
	}
	if (srv_decode(call, req, len,
	    spire_api_server_svid_v1_BatchNewX509SVIDRequest_fields,
	    &b->r) == -1)
		goto fail;
	/* XXX: SPIRE limits this to 500 CSRs per second per address. */
	if (b->r.params_count == 0) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
		    "missing parameters");
		goto fail;
	}
	b->items = mem_calloc(b->r.params_count, sizeof(*b->items));
	if (b->items == NULL) {
		srv_fail(call, GRPC_STATUS_INTERNAL, "out of memory");
		goto fail;
	}
	if (store_txn_begin(s->store, STORE_READ, &txn) != STORE_OK) {
		srv_fail(call, GRPC_STATUS_INTERNAL, "datastore unavailable");
		goto fail;
	}
	if (svid_authorized(s, call, &b->c, txn, &set) == -1)
		goto fail;
	for (i = 0; i < b->r.params_count; i++) {
		const spire_api_server_svid_v1_NewX509SVIDParams *p =
		    &b->r.params[i];

		it = &b->items[i];
		if (p->entry_id == NULL || *p->entry_id == '\0') {
			it->code = GRPC_STATUS_INVALID_ARGUMENT;
			it->why = "missing entry ID";
		} else if (p->csr == NULL || p->csr->size == 0) {
			it->code = GRPC_STATUS_INVALID_ARGUMENT;
			it->why = "missing CSR";
		} else if (!authz_set_has(&set, p->entry_id) ||
		    ds_entry_get(txn, p->entry_id, &it->e) != 0) {
			it->code = GRPC_STATUS_NOT_FOUND;
			it->why = "entry not found or not authorized";
		}
	}
	store_txn_abort(txn);
	authz_set_free(&set);
	b->job.run = svid_batch_verify;
	b->job.done = svid_batch_sign;
	srv_job_submit(s, &b->job);
	return;
fail:
	store_txn_abort(txn);
	authz_set_free(&set);
	svid_batch_free(b);
}

/* Checks audiences: at least one, none empty. */
static int
svid_audience_ok(char **aud, pb_size_t n)
{
	pb_size_t	i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (aud[i] == NULL || *aud[i] == '\0')
			return 0;
	return 1;
}

/* Fills a JWTSVID message. 0 or -1. */
static int
svid_jwt_pb(spire_api_types_JWTSVID *out, char *token, const char *sid,
    int64_t iat, int64_t exp)
{
	out->token = token;
	out->has_id = true;
	out->issued_at = iat;
	out->expires_at = exp;
	return srv_id_set(&out->id, sid);
}

/* A JWT-SVID request waiting on its signature. */
struct jwt_req {
	struct rpc_call	*call;
	int		 mint;		/* MintJWTSVID, else NewJWTSVID */
	char		 sid[SPIFFE_ID_MAX + 1];
};

static void
svid_jwt_signed(void *arg, char *tok, int64_t iat, int64_t exp)
{
	struct jwt_req				*jr = arg;
	spire_api_server_svid_v1_NewJWTSVIDResponse resp;

	/* MintJWTSVIDResponse has the same one field (svid = 1). */
	_Static_assert(sizeof(spire_api_server_svid_v1_NewJWTSVIDResponse) ==
	    sizeof(spire_api_server_svid_v1_MintJWTSVIDResponse),
	    "New and Mint JWT-SVID responses share a shape");
	memset(&resp, 0, sizeof(resp));
	if (tok == NULL)
		srv_fail(jr->call, GRPC_STATUS_INTERNAL,
		    "failed to sign JWT-SVID");
	else {
		resp.has_svid = true;
		if (svid_jwt_pb(&resp.svid, tok, jr->sid, iat, exp) == -1)
			srv_fail(jr->call, GRPC_STATUS_INTERNAL,
			    "out of memory");
		else if (jr->mint)
			srv_reply(jr->call,
			    spire_api_server_svid_v1_MintJWTSVIDResponse_fields,
			    &resp);
		else
			srv_reply(jr->call,
			    spire_api_server_svid_v1_NewJWTSVIDResponse_fields,
			    &resp);
	}
	pb_release(spire_api_server_svid_v1_NewJWTSVIDResponse_fields, &resp);
	mem_free(jr);
}

/* Starts the signature; the call is answered by svid_jwt_signed. */
static void
svid_jwt_sign(struct server *s, struct rpc_call *call, int mint,
    const char *sid, char **aud, pb_size_t naud, int64_t ttl)
{
	struct jwt_req	*jr;

	jr = mem_calloc(1, sizeof(*jr));
	if (jr == NULL) {
		srv_fail(call, GRPC_STATUS_INTERNAL, "out of memory");
		return;
	}
	jr->call = call;
	jr->mint = mint;
	snprintf(jr->sid, sizeof(jr->sid), "%s", sid);
	if (ca_sign_jwtsvid_async(s->ca, sid, (const char *const *)aud, naud,
	    ttl, svid_jwt_signed, jr) == -1) {
		mem_free(jr);
		srv_fail(call, GRPC_STATUS_INTERNAL, "failed to sign JWT-SVID");
	}
}

static void
svid_new_jwt(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	struct server				*s = arg;
	spire_api_server_svid_v1_NewJWTSVIDRequest r;
	spire_api_types_Entry			 e;
	struct store_txn			*txn = NULL;
	struct authz_set			 set;
	struct caller				 c;
	char					 sid[SPIFFE_ID_MAX + 1];
	int					 rc = -1;

	if (srv_authorize(s, call, CALLER_AGENT, &c) == -1)
		return;
	memset(&r, 0, sizeof(r));
	memset(&set, 0, sizeof(set));
	memset(&e, 0, sizeof(e));
	if (srv_decode(call, req, len,
	    spire_api_server_svid_v1_NewJWTSVIDRequest_fields, &r) == -1)
		goto out;
	if (r.entry_id == NULL || *r.entry_id == '\0') {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
		    "missing entry ID");
		goto out;
	}
	if (!svid_audience_ok(r.audience, r.audience_count)) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
		    "at least one audience is required");
		goto out;
	}
	if (store_txn_begin(s->store, STORE_READ, &txn) != STORE_OK) {
		srv_fail(call, GRPC_STATUS_INTERNAL, "datastore unavailable");
		goto out;
	}
	if (svid_authorized(s, call, &c, txn, &set) == -1)
		goto out;
	if (!authz_set_has(&set, r.entry_id) ||
	    (rc = ds_entry_get(txn, r.entry_id, &e)) != 0) {
		srv_fail(call, GRPC_STATUS_NOT_FOUND,
		    "entry not found or not authorized");
		goto out;
	}
	if (ds_id_string(&e.spiffe_id, sid, sizeof(sid)) == -1) {
		srv_fail(call, GRPC_STATUS_INTERNAL, "failed to sign JWT-SVID");
		goto out;
	}
	svid_jwt_sign(s, call, 0, sid, r.audience, r.audience_count,
	    e.jwt_svid_ttl);
out:
	store_txn_abort(txn);
	authz_set_free(&set);
	if (rc == 0)
		pb_release(spire_api_types_Entry_fields, &e);
	pb_release(spire_api_server_svid_v1_NewJWTSVIDRequest_fields, &r);
	caller_cleanup(&c);
}

/* A MintX509SVID waiting on its signature. */
struct mint_req {
	struct rpc_call	*call;
	char		 sid[SPIFFE_ID_MAX + 1];
};

static void
svid_mint_signed(void *arg, int rc, const struct ca_svid *sv)
{
	struct mint_req				*mr = arg;
	spire_api_server_svid_v1_MintX509SVIDResponse resp;

	memset(&resp, 0, sizeof(resp));
	if (rc == -1)
		srv_fail(mr->call, GRPC_STATUS_INTERNAL,
		    "failed to sign X509-SVID");
	else {
		resp.has_svid = true;
		if (srv_svid_pb(sv, mr->sid, &resp.svid) == -1)
			srv_fail(mr->call, GRPC_STATUS_INTERNAL,
			    "out of memory");
		else
			srv_reply(mr->call,
			  spire_api_server_svid_v1_MintX509SVIDResponse_fields,
			  &resp);
	}
	pb_release(spire_api_server_svid_v1_MintX509SVIDResponse_fields, &resp);
	mem_free(mr);
}

static void
svid_mint_x509(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	struct server				*s = arg;
	spire_api_server_svid_v1_MintX509SVIDRequest r;
	struct cert_csr				 csr;
	struct csr_sans				 sans;
	struct spiffe_id			 id;
	struct mint_req				*mr;
	char					 sid[SPIFFE_ID_MAX + 1];
	char					*dns[CERT_DNS_MAX];
	size_t					 i;
	enum cert_csr_err			 ce;

	memset(dns, 0, sizeof(dns));
	if (srv_admit(s, call, CALLER_ADMIN | CALLER_LOCAL, req, len,
	    spire_api_server_svid_v1_MintX509SVIDRequest_fields, &r,
	    sizeof(r)) == -1)
		return;
	if (r.csr == NULL || r.csr->size == 0) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "missing CSR");
		goto out;
	}
	if (r.ttl < 0) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
		    "TTL must not be negative");
		goto out;
	}
	ce = cert_csr_parse(r.csr->bytes, r.csr->size, 1, &csr);
	/*
	 * An admin's call, rare: rather than a job on the worker as for
	 * BatchNewX509SVID, the key's fixed-point table goes with the
	 * whole cache (the base point's is rebuilt at the next signature).
	 */
	key_soft_trim();
	if (ce != CERT_CSR_OK || csr_sans(r.csr->bytes, r.csr->size,
	    &sans) == -1) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT, ce ==
		    CERT_CSR_SIGNATURE ? "failed to verify CSR signature" :
		    "malformed CSR");
		goto out;
	}
	if (sans.nuris != 1) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT, sans.nuris == 0 ?
		    "CSR URI SAN is required" : "only one URI SAN is expected");
		goto out;
	}
	if (sans.uris[0].len >= sizeof(sid) ||
	    spiffe_id_parse((const char *)sans.uris[0].p, sans.uris[0].len,
	    &id) != SPIFFE_OK) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
		    "CSR URI SAN is invalid");
		goto out;
	}
	if (!spiffe_id_member_of(&id, &s->td)) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
		    "CSR URI SAN does not match the trust domain");
		goto out;
	}
	memcpy(sid, sans.uris[0].p, sans.uris[0].len);
	sid[sans.uris[0].len] = '\0';
	for (i = 0; i < sans.ndns; i++) {
		dns[i] = mem_strndup((const char *)sans.dns[i].p,
		    sans.dns[i].len);
		if (dns[i] == NULL)
			goto nomem;
	}
	mr = mem_calloc(1, sizeof(*mr));
	if (mr == NULL)
		goto nomem;
	mr->call = call;
	snprintf(mr->sid, sizeof(mr->sid), "%s", sid);
	if (ca_sign_x509svid_async(s->ca, csr.spki, csr.spki_len, sid,
	    (const char *const *)dns, sans.ndns, r.ttl, svid_mint_signed,
	    mr) == -1) {
		mem_free(mr);
		srv_fail(call, GRPC_STATUS_INTERNAL,
		    "failed to sign X509-SVID");
	}
	goto out;
nomem:
	srv_fail(call, GRPC_STATUS_INTERNAL, "out of memory");
out:
	for (i = 0; i < CERT_DNS_MAX; i++)
		mem_free(dns[i]);
	pb_release(spire_api_server_svid_v1_MintX509SVIDRequest_fields, &r);
}

static void
svid_mint_jwt(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	struct server				*s = arg;
	spire_api_server_svid_v1_MintJWTSVIDRequest r;
	struct spiffe_id			 id;
	char					 sid[SPIFFE_ID_MAX + 1];
	char					 why[128];
	char					 msg[200];

	if (srv_admit(s, call, CALLER_ADMIN | CALLER_LOCAL, req, len,
	    spire_api_server_svid_v1_MintJWTSVIDRequest_fields, &r,
	    sizeof(r)) == -1)
		return;
	if (!r.has_id || srv_id_parse(&r.id, &id, why, sizeof(why)) == -1) {
		snprintf(msg, sizeof(msg), "invalid SPIFFE ID: %s",
		    r.has_id ? why : "missing");
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT, msg);
		goto out;
	}
	if (!spiffe_id_member_of(&id, &s->td)) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "invalid SPIFFE "
		    "ID: does not belong to the server trust domain");
		goto out;
	}
	if (!svid_audience_ok(r.audience, r.audience_count)) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
		    "at least one audience is required");
		goto out;
	}
	if (r.ttl < 0) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
		    "TTL must not be negative");
		goto out;
	}
	if (srv_id_format(&r.id, sid, sizeof(sid)) == -1) {
		srv_fail(call, GRPC_STATUS_INTERNAL, "failed to sign JWT-SVID");
		goto out;
	}
	svid_jwt_sign(s, call, 1, sid, r.audience, r.audience_count, r.ttl);
out:
	pb_release(spire_api_server_svid_v1_MintJWTSVIDRequest_fields, &r);
}

/* A NewDownstreamX509CA waiting for its signature. */
struct ndx_req {
	struct server	*s;
	struct rpc_call	*call;
	char		 caller[SPIFFE_ID_MAX + 1];
};

/* The answer: the new CA and our upstream chain, our bundle's roots. */
static void
svid_downstream_signed(void *arg, int rc, const struct ca_svid *sv)
{
	struct ndx_req		*nr = arg;
	struct server		*s = nr->s;
	spire_api_server_svid_v1_NewDownstreamX509CAResponse resp;
	spire_api_types_Bundle	 b;
	struct store_txn	*txn;
	size_t			 i;
	pb_size_t		 k;

	memset(&resp, 0, sizeof(resp));
	memset(&b, 0, sizeof(b));
	if (rc == -1) {
		srv_fail(nr->call, GRPC_STATUS_INTERNAL,
		    "failed to sign downstream X.509 CA");
		goto out;
	}
	rc = -1;
	if (store_txn_begin(s->store, STORE_READ, &txn) == STORE_OK) {
		rc = ds_bundle_get(txn, s->cfg->trust_domain, &b);
		store_txn_abort(txn);
	}
	if (rc != 0) {
		srv_fail(nr->call, rc == DS_NOTFOUND ? GRPC_STATUS_NOT_FOUND :
		    GRPC_STATUS_INTERNAL, rc == DS_NOTFOUND ?
		    "bundle not found" : "failed to fetch bundle");
		goto out;
	}
	resp.ca_cert_chain = mem_calloc(sv->n, sizeof(*resp.ca_cert_chain));
	resp.x509_authorities = mem_calloc(b.x509_authorities_count + 1,
	    sizeof(*resp.x509_authorities));
	if (resp.ca_cert_chain == NULL || resp.x509_authorities == NULL)
		goto nomem;
	for (i = 0; i < sv->n; i++) {
		resp.ca_cert_chain[i] = pbu_bytes(sv->der[i], sv->len[i]);
		if (resp.ca_cert_chain[i] == NULL)
			goto nomem;
		resp.ca_cert_chain_count++;
	}
	for (k = 0; k < b.x509_authorities_count; k++) {
		if (b.x509_authorities[k].asn1 == NULL)
			continue;
		resp.x509_authorities[resp.x509_authorities_count] =
		    pbu_bytes(b.x509_authorities[k].asn1->bytes,
		    b.x509_authorities[k].asn1->size);
		if (resp.x509_authorities[resp.x509_authorities_count] ==
		    NULL)
			goto nomem;
		resp.x509_authorities_count++;
	}
	log_kv(LOG_LEVEL_INFO, "api", "downstream X.509 CA signed", "caller",
	    nr->caller, "serial", sv->serial, (const char *)NULL);
	srv_reply(nr->call,
	    spire_api_server_svid_v1_NewDownstreamX509CAResponse_fields, &resp);
	goto out;
nomem:
	srv_fail(nr->call, GRPC_STATUS_INTERNAL, "out of memory");
out:
	pb_release(spire_api_types_Bundle_fields, &b);
	pb_release(spire_api_server_svid_v1_NewDownstreamX509CAResponse_fields,
	    &resp);
	mem_free(nr);
}

/*
 * NewDownstreamX509CA: a CA for a server nested under us, whose SVID's
 * ID has a downstream entry. Only the CSR's key is used; the subject is
 * ours with OU DOWNSTREAM-<n>, the lifetime preferred_ttl (0: ca_ttl)
 * but never past our own CA's end.
 */
static void
svid_new_downstream(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	struct server	*s = arg;
	spire_api_server_svid_v1_NewDownstreamX509CARequest r;
	struct ndx_req	*nr;
	struct cert_csr	 csr;
	struct caller	 c;
	enum cert_csr_err ce;

	/* XXX: SPIRE limits this to 1 call per second per address. */
	if (srv_authorize(s, call, CALLER_DOWNSTREAM, &c) == -1)
		return;
	memset(&r, 0, sizeof(r));
	if (srv_decode(call, req, len,
	    spire_api_server_svid_v1_NewDownstreamX509CARequest_fields,
	    &r) == -1)
		goto out;
	if (r.csr == NULL || r.csr->size == 0) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "malformed CSR");
		goto out;
	}
	ce = cert_csr_parse(r.csr->bytes, r.csr->size, 1, &csr);
	if (ce != CERT_CSR_OK) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT, ce ==
		    CERT_CSR_SIGNATURE ? "invalid CSR signature" :
		    "malformed CSR");
		goto out;
	}
	if (r.preferred_ttl < 0) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
		    "preferred TTL must not be negative");
		goto out;
	}
	nr = mem_calloc(1, sizeof(*nr));
	if (nr == NULL) {
		srv_fail(call, GRPC_STATUS_INTERNAL, "out of memory");
		goto out;
	}
	nr->s = s;
	nr->call = call;
	snprintf(nr->caller, sizeof(nr->caller), "%s", c.id);
	if (ca_sign_downstream_async(s->ca, csr.spki, csr.spki_len,
	    r.preferred_ttl, svid_downstream_signed, nr) == -1) {
		mem_free(nr);
		srv_fail(call, GRPC_STATUS_INTERNAL,
		    "failed to sign downstream X.509 CA");
	}
out:
	caller_cleanup(&c);
	pb_release(spire_api_server_svid_v1_NewDownstreamX509CARequest_fields,
	    &r);
}

int
api_svid_register(struct server *s, struct rpc_server *rs)
{
	static struct rpc_method m[] = {
		{ P("BatchNewX509SVID"), RPC_UNARY, svid_batch_new, NULL,
		    NULL, NULL, NULL, NULL },
		{ P("NewJWTSVID"), RPC_UNARY, svid_new_jwt, NULL, NULL, NULL,
		    NULL, NULL },
		{ P("MintX509SVID"), RPC_UNARY, svid_mint_x509, NULL, NULL,
		    NULL, NULL, NULL },
		{ P("MintJWTSVID"), RPC_UNARY, svid_mint_jwt, NULL, NULL, NULL,
		    NULL, NULL },
		{ P("NewDownstreamX509CA"), RPC_UNARY, svid_new_downstream,
		    NULL, NULL, NULL, NULL, NULL },
	};
	size_t	i;

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		m[i].arg = s;
	return rpc_server_add_methods(rs, m, sizeof(m) / sizeof(m[0]));
}
