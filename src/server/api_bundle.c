/*
 * spire.api.server.bundle.v1.Bundle: the own bundle (GetBundle for
 * anyone, AppendBundle for admins) and federated bundles.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <pb_decode.h>

#include "core/log.h"
#include "core/mem.h"
#include "server/pbutil.h"
#include "server/srv.h"
#include "server/upstream.h"
#include "spiffe/jwk.h"
#include "spire/api/server/bundle/v1/bundle.pb.h"

#define P(m)	"/spire.api.server.bundle.v1.Bundle/" m

/* Long generated names, shortened. */
#define LIST_FED_REQ	\
    spire_api_server_bundle_v1_ListFederatedBundlesRequest_fields
#define BATCH_FED_RESP	\
    spire_api_server_bundle_v1_BatchFederatedBundleResponse_fields
#define BATCH_FED_REQ	\
    spire_api_server_bundle_v1_BatchFederatedBundleRequest_fields
#define DELETE_RESTRICT	\
    spire_api_server_bundle_v1_BatchDeleteFederatedBundleRequest_Mode_RESTRICT
#define BATCH_DEL_RESP	\
    spire_api_server_bundle_v1_BatchDeleteFederatedBundleResponse_fields

enum batch_mode { BATCH_CREATE, BATCH_UPDATE, BATCH_SET };

static void	bundle_mask(spire_api_types_Bundle *,
		    const spire_api_types_BundleMask *);

/* Clears what the mask does not ask for (NULL: keep all). */
static void
bundle_mask(spire_api_types_Bundle *b, const spire_api_types_BundleMask *m)
{
	pb_size_t	i;

	if (m == NULL)
		return;
	if (!m->x509_authorities) {
		for (i = 0; i < b->x509_authorities_count; i++)
			pb_release(spire_api_types_X509Certificate_fields,
			    &b->x509_authorities[i]);
		mem_free(b->x509_authorities);
		b->x509_authorities = NULL;
		b->x509_authorities_count = 0;
	}
	if (!m->jwt_authorities) {
		for (i = 0; i < b->jwt_authorities_count; i++)
			pb_release(spire_api_types_JWTKey_fields,
			    &b->jwt_authorities[i]);
		mem_free(b->jwt_authorities);
		b->jwt_authorities = NULL;
		b->jwt_authorities_count = 0;
	}
	if (!m->refresh_hint)
		b->refresh_hint = 0;
	if (!m->sequence_number)
		b->sequence_number = 0;
}

/* Reads bundle td in a fresh read transaction. 0, DS_NOTFOUND, -1. */
static int
bundle_read(struct server *s, const char *td, spire_api_types_Bundle *b)
{
	struct store_txn	*txn;
	int			 rc;

	memset(b, 0, sizeof(*b));
	if (store_txn_begin(s->store, STORE_READ, &txn) != STORE_OK)
		return -1;
	rc = ds_bundle_get(txn, td, b);
	store_txn_abort(txn);
	return rc;
}

static void
bundle_get(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct server				*s = arg;
	spire_api_server_bundle_v1_GetBundleRequest r;
	spire_api_types_Bundle			 b;
	int					 rc;

	if (srv_admit(s, call, CALLER_ANY, req, len,
	    spire_api_server_bundle_v1_GetBundleRequest_fields, &r,
	    sizeof(r)) == -1)
		return;
	rc = bundle_read(s, s->cfg->trust_domain, &b);
	if (rc != 0) {
		srv_fail(call, rc == DS_NOTFOUND ? GRPC_STATUS_NOT_FOUND :
		    GRPC_STATUS_INTERNAL, "bundle not found");
		return;
	}
	bundle_mask(&b, r.has_output_mask ? &r.output_mask : NULL);
	srv_reply(call, spire_api_types_Bundle_fields, &b);
	pb_release(spire_api_types_Bundle_fields, &b);
}

/* A bare trust domain name from "td" or "spiffe://td"; 0 or -1. */
static int
bundle_td(const char *in, struct spiffe_td *td)
{
	if (in == NULL || *in == '\0')
		return -1;
	return spiffe_td_parse(in, strlen(in), td) == SPIFFE_OK ? 0 : -1;
}

static void
bundle_get_federated(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	struct server				*s = arg;
	spire_api_server_bundle_v1_GetFederatedBundleRequest r;
	spire_api_types_Bundle			 b;
	struct spiffe_td			 td;
	int					 rc;

	if (srv_admit(s, call, CALLER_AGENT | CALLER_ADMIN | CALLER_LOCAL, req,
	    len, spire_api_server_bundle_v1_GetFederatedBundleRequest_fields,
	    &r, sizeof(r)) == -1)
		return;
	if (bundle_td(r.trust_domain, &td) == -1) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
		    "trust domain argument is not valid");
		goto out;
	}
	if (strcmp(td.name, s->cfg->trust_domain) == 0) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "getting a "
		    "federated bundle for the server's own trust domain is "
		    "not allowed");
		goto out;
	}
	rc = bundle_read(s, td.name, &b);
	if (rc != 0) {
		srv_fail(call, rc == DS_NOTFOUND ? GRPC_STATUS_NOT_FOUND :
		    GRPC_STATUS_INTERNAL, "bundle not found");
		goto out;
	}
	bundle_mask(&b, r.has_output_mask ? &r.output_mask : NULL);
	srv_reply(call, spire_api_types_Bundle_fields, &b);
	pb_release(spire_api_types_Bundle_fields, &b);
out:
	pb_release(spire_api_server_bundle_v1_GetFederatedBundleRequest_fields,
	    &r);
}

struct list_arg {
	struct server					*s;
	spire_api_server_bundle_v1_ListFederatedBundlesResponse *resp;
	const spire_api_types_BundleMask		*mask;
	const char					*token;	/* walk after */
	size_t						 max;
	size_t						 count;
	int						 failed;
};

static int
bundle_list_cb(const spire_api_types_Bundle *b, void *arg)
{
	struct list_arg		*a = arg;
	spire_api_types_Bundle	*o;
	uint8_t			*buf;
	size_t			 len;

	if (b->trust_domain == NULL ||
	    strcmp(b->trust_domain, a->s->cfg->trust_domain) == 0)
		return 0;
	a->count++;
	if (a->resp == NULL)
		return 0;
	if (a->max > 0 && a->resp->bundles_count == a->max) {
		a->resp->next_page_token = mem_strdup(
		    a->resp->bundles[a->max - 1].trust_domain);
		return 1;
	}
	o = pbu_append(&a->resp->bundles, &a->resp->bundles_count,
	    sizeof(*o));
	if (o == NULL || ds_encode(spire_api_types_Bundle_fields, b, &buf,
	    &len) == -1) {
		a->failed = 1;
		return 1;
	}
	if (ds_decode(spire_api_types_Bundle_fields, buf, len, o) == -1)
		a->failed = 1;
	mem_free(buf);
	bundle_mask(o, a->mask);
	return a->failed;
}

static int
bundle_list_walk(struct store_txn *txn, void *arg)
{
	struct list_arg		*a = arg;

	if (ds_bundle_walk(txn, a->token, bundle_list_cb, a) == DS_ERROR ||
	    a->failed)
		return -1;
	return 0;
}

static int
bundle_count_walk(struct store_txn *txn, void *arg)
{
	return store_count(txn, DS_BUNDLES, arg) == STORE_OK ? 0 : -1;
}

static void
bundle_list_federated(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	struct server					*s = arg;
	spire_api_server_bundle_v1_ListFederatedBundlesRequest r;
	spire_api_server_bundle_v1_ListFederatedBundlesResponse resp;
	struct list_arg					 a;

	memset(&resp, 0, sizeof(resp));
	if (srv_admit(s, call, CALLER_ADMIN | CALLER_LOCAL, req, len,
	    LIST_FED_REQ, &r, sizeof(r)) == -1)
		return;
	memset(&a, 0, sizeof(a));
	a.s = s;
	a.resp = &resp;
	a.mask = r.has_output_mask ? &r.output_mask : NULL;
	a.max = r.page_size > 0 ? (size_t)r.page_size : 0;
	if (r.page_size < 0) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
		    "page size must not be negative");
		goto out;
	}
	a.token = r.page_token;
	if (srv_walk(s, call, bundle_list_walk, &a,
	    "failed to list bundles") == -1)
		goto out;
	srv_reply(call,
	    spire_api_server_bundle_v1_ListFederatedBundlesResponse_fields,
	    &resp);
out:
	pb_release(
	    spire_api_server_bundle_v1_ListFederatedBundlesResponse_fields,
	    &resp);
	pb_release(LIST_FED_REQ,
	    &r);
}

static void
bundle_count(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	struct server				*s = arg;
	spire_api_server_bundle_v1_CountBundlesResponse resp = { 0 };
	size_t					 n = 0;
	struct caller				 c;

	(void)req;
	(void)len;
	if (srv_authorize(s, call, CALLER_ADMIN | CALLER_LOCAL, &c) == -1)
		return;
	caller_cleanup(&c);
	if (srv_walk(s, call, bundle_count_walk, &n,
	    "failed to count bundles") == -1)
		return;
	resp.count = (int32_t)n;
	srv_reply(call, spire_api_server_bundle_v1_CountBundlesResponse_fields,
	    &resp);
}

/* AppendBundle: authorities added to the own bundle, once each. */
struct append_arg {
	struct server					*s;
	const spire_api_server_bundle_v1_AppendBundleRequest *r;
	spire_api_types_Bundle				 out;
};

static enum store_err
bundle_append_txn(struct store_txn *txn, void *arg)
{
	struct append_arg		*a = arg;
	spire_api_types_Bundle		*b = &a->out;
	spire_api_types_X509Certificate	*xc;
	spire_api_types_JWTKey		*jk;
	pb_size_t			 i, k;
	int				 rc, changed = 0;

	pb_release(spire_api_types_Bundle_fields, b);
	rc = ds_bundle_get(txn, a->s->cfg->trust_domain, b);
	if (rc == DS_NOTFOUND) {
		memset(b, 0, sizeof(*b));
		b->trust_domain = mem_strdup(a->s->cfg->trust_domain);
	} else if (rc != 0)
		return STORE_IO;
	for (i = 0; i < a->r->x509_authorities_count; i++) {
		const pb_bytes_array_t *n = a->r->x509_authorities[i].asn1;

		if (n == NULL)
			continue;
		for (k = 0; k < b->x509_authorities_count; k++) {
			const pb_bytes_array_t *o =
			    b->x509_authorities[k].asn1;

			if (o != NULL && o->size == n->size &&
			    memcmp(o->bytes, n->bytes, n->size) == 0)
				break;
		}
		if (k < b->x509_authorities_count)
			continue;
		xc = pbu_append(&b->x509_authorities,
		    &b->x509_authorities_count, sizeof(*xc));
		if (xc == NULL || (xc->asn1 = pbu_bytes(n->bytes,
		    n->size)) == NULL)
			return STORE_NOMEM;
		changed = 1;
	}
	for (i = 0; i < a->r->jwt_authorities_count; i++) {
		const spire_api_types_JWTKey *n = &a->r->jwt_authorities[i];

		if (n->key_id == NULL || n->public_key == NULL)
			continue;
		for (k = 0; k < b->jwt_authorities_count; k++)
			if (b->jwt_authorities[k].key_id != NULL &&
			    strcmp(b->jwt_authorities[k].key_id,
			    n->key_id) == 0)
				break;
		if (k < b->jwt_authorities_count)
			continue;
		jk = pbu_append(&b->jwt_authorities,
		    &b->jwt_authorities_count, sizeof(*jk));
		if (jk == NULL)
			return STORE_NOMEM;
		jk->key_id = mem_strdup(n->key_id);
		jk->public_key = pbu_bytes(n->public_key->bytes,
		    n->public_key->size);
		jk->expires_at = n->expires_at;
		if (jk->key_id == NULL || jk->public_key == NULL)
			return STORE_NOMEM;
		changed = 1;
	}
	if (!changed)
		return STORE_OK;
	b->sequence_number++;
	return ds_bundle_put(txn, b) == 0 ? STORE_OK : STORE_IO;
}

static void
bundle_append(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	struct server				*s = arg;
	spire_api_server_bundle_v1_AppendBundleRequest r;
	struct append_arg			 a;

	if (srv_admit(s, call, CALLER_ADMIN | CALLER_LOCAL, req, len,
	    spire_api_server_bundle_v1_AppendBundleRequest_fields, &r,
	    sizeof(r)) == -1)
		return;
	memset(&a, 0, sizeof(a));
	a.s = s;
	a.r = &r;
	if (store_txn_run(s->store, bundle_append_txn, &a) != STORE_OK) {
		srv_fail(call, GRPC_STATUS_INTERNAL, "failed to append bundle");
		goto out;
	}
	srv_roots_reload(s);
	bundle_mask(&a.out, r.has_output_mask ? &r.output_mask : NULL);
	srv_reply(call, spire_api_types_Bundle_fields, &a.out);
out:
	pb_release(spire_api_types_Bundle_fields, &a.out);
	pb_release(spire_api_server_bundle_v1_AppendBundleRequest_fields, &r);
}

/* One federated bundle of a batch, stored per mode. */
struct fed_arg {
	struct server			*s;
	spire_api_types_Bundle		*b;
	enum batch_mode			 mode;
	const spire_api_types_BundleMask *input_mask;
	int				 code;
	const char			*msg;
};

static enum store_err
bundle_fed_txn(struct store_txn *txn, void *arg)
{
	struct fed_arg		*a = arg;
	spire_api_types_Bundle	 old;
	int			 rc;

	rc = ds_bundle_get(txn, a->b->trust_domain, &old);
	if (rc == DS_ERROR)
		return STORE_IO;
	if (rc == 0 && a->mode == BATCH_CREATE) {
		pb_release(spire_api_types_Bundle_fields, &old);
		a->code = GRPC_STATUS_ALREADY_EXISTS;
		a->msg = "bundle already exists";
		return STORE_ABORTED;
	}
	if (rc == DS_NOTFOUND && a->mode == BATCH_UPDATE) {
		a->code = GRPC_STATUS_NOT_FOUND;
		a->msg = "bundle not found";
		return STORE_ABORTED;
	}
	if (rc == 0 && a->mode == BATCH_UPDATE && a->input_mask != NULL) {
		/* Fields outside the input mask keep their old values. */
		if (!a->input_mask->x509_authorities) {
			pb_size_t t = a->b->x509_authorities_count;
			spire_api_types_X509Certificate *p =
			    a->b->x509_authorities;

			a->b->x509_authorities = old.x509_authorities;
			a->b->x509_authorities_count =
			    old.x509_authorities_count;
			old.x509_authorities = p;
			old.x509_authorities_count = t;
		}
		if (!a->input_mask->jwt_authorities) {
			pb_size_t t = a->b->jwt_authorities_count;
			spire_api_types_JWTKey *p = a->b->jwt_authorities;

			a->b->jwt_authorities = old.jwt_authorities;
			a->b->jwt_authorities_count =
			    old.jwt_authorities_count;
			old.jwt_authorities = p;
			old.jwt_authorities_count = t;
		}
		if (!a->input_mask->refresh_hint)
			a->b->refresh_hint = old.refresh_hint;
		if (!a->input_mask->sequence_number)
			a->b->sequence_number = old.sequence_number;
	}
	if (rc == 0)
		pb_release(spire_api_types_Bundle_fields, &old);
	return ds_bundle_put(txn, a->b) == 0 ? STORE_OK : STORE_IO;
}

static void
bundle_batch(struct rpc_call *call, struct server *s,
    spire_api_types_Bundle *bundles, pb_size_t n, enum batch_mode mode,
    const spire_api_types_BundleMask *in, const spire_api_types_BundleMask
    *outm)
{
	spire_api_server_bundle_v1_BatchFederatedBundleResponse resp;
	spire_api_server_bundle_v1_BatchFederatedBundleResponse_Result *res;
	struct spiffe_td	 td;
	struct fed_arg		 a;
	enum store_err		 e;
	pb_size_t		 i;
	uint8_t			*buf;
	size_t			 blen;

	memset(&resp, 0, sizeof(resp));
	for (i = 0; i < n; i++) {
		res = pbu_append(&resp.results, &resp.results_count,
		    sizeof(*res));
		if (res == NULL)
			break;
		res->has_status = true;
		memset(&a, 0, sizeof(a));
		a.s = s;
		a.b = &bundles[i];
		a.mode = mode;
		a.input_mask = in;
		if (bundle_td(bundles[i].trust_domain, &td) == -1) {
			a.code = GRPC_STATUS_INVALID_ARGUMENT;
			a.msg = "failed to convert bundle: "
			    "invalid trust domain";
		} else if (strcmp(td.name, s->cfg->trust_domain) == 0) {
			a.code = GRPC_STATUS_INVALID_ARGUMENT;
			a.msg = "creating or updating the server's own bundle "
			    "is not allowed";
		} else {
			mem_free(bundles[i].trust_domain);
			bundles[i].trust_domain = mem_strdup(td.name);
			e = store_txn_run(s->store, bundle_fed_txn, &a);
			if (e != STORE_OK && a.code == 0) {
				a.code = GRPC_STATUS_INTERNAL;
				a.msg = "failed to store bundle";
			}
		}
		res->status.code = a.code;
		if (a.code != 0) {
			res->status.message = mem_strdup(a.msg);
			log_kv(LOG_LEVEL_INFO, "api",
			    "federated bundle refused", "trust_domain",
			    bundles[i].trust_domain != NULL ?
			    bundles[i].trust_domain : "", "error", a.msg,
			    (const char *)NULL);
			continue;
		}
		res->status.message = mem_strdup("OK");
		if (ds_encode(spire_api_types_Bundle_fields, &bundles[i], &buf,
		    &blen) == 0) {
			if (ds_decode(spire_api_types_Bundle_fields, buf, blen,
			    &res->bundle) == 0) {
				res->has_bundle = true;
				bundle_mask(&res->bundle, outm);
			}
			mem_free(buf);
		}
	}
	srv_reply(call,
	    BATCH_FED_RESP,
	    &resp);
	pb_release(BATCH_FED_RESP,
	    &resp);
}

static void
bundle_batch_create_or_set(struct rpc_call *call, const uint8_t *req,
    size_t len, struct server *s, enum batch_mode mode)
{
	spire_api_server_bundle_v1_BatchFederatedBundleRequest r;

	if (srv_admit(s, call, CALLER_ADMIN | CALLER_LOCAL, req, len,
	    BATCH_FED_REQ, &r, sizeof(r)) == -1)
		return;
	bundle_batch(call, s, r.bundle, r.bundle_count, mode, NULL,
	    r.has_output_mask ? &r.output_mask : NULL);
	pb_release(BATCH_FED_REQ,
	    &r);
}

static void
bundle_batch_create(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	bundle_batch_create_or_set(call, req, len, arg, BATCH_CREATE);
}

static void
bundle_batch_set(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	bundle_batch_create_or_set(call, req, len, arg, BATCH_SET);
}

static void
bundle_batch_update(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	struct server	*s = arg;
	spire_api_server_bundle_v1_BatchUpdateFederatedBundleRequest r;

	if (srv_admit(s, call, CALLER_ADMIN | CALLER_LOCAL, req, len,
	    spire_api_server_bundle_v1_BatchUpdateFederatedBundleRequest_fields,
	    &r, sizeof(r)) == -1)
		return;
	bundle_batch(call, s, r.bundle, r.bundle_count, BATCH_UPDATE,
	    r.has_input_mask ? &r.input_mask : NULL,
	    r.has_output_mask ? &r.output_mask : NULL);
	pb_release(
	    spire_api_server_bundle_v1_BatchUpdateFederatedBundleRequest_fields,
	    &r);
}

/* Whether any entry federates with td (for RESTRICT deletes). */
static int
bundle_used_cb(const spire_api_types_Entry *e, void *arg)
{
	const char	*td = *(const char **)arg;
	pb_size_t	 i;

	for (i = 0; i < e->federates_with_count; i++)
		if (strcmp(e->federates_with[i], td) == 0)
			return 1;
	return 0;
}

struct del_arg {
	const char	*td;
	int		 mode;
	int		 code;
	const char	*msg;
};

static enum store_err
bundle_del_txn(struct store_txn *txn, void *arg)
{
	struct del_arg	*a = arg;
	int		 rc;

	if (a->mode ==
	    DELETE_RESTRICT) {
		rc = ds_entry_walk(txn, "", bundle_used_cb, &a->td);
		if (rc == DS_ERROR)
			return STORE_IO;
		if (rc == 1) {
			a->code = GRPC_STATUS_FAILED_PRECONDITION;
			a->msg = "cannot delete bundle; federated with "
			    "one or more registration entries";
			return STORE_ABORTED;
		}
	}
	rc = ds_bundle_del(txn, a->td);
	if (rc == DS_NOTFOUND) {
		a->code = GRPC_STATUS_NOT_FOUND;
		a->msg = "no such bundle";
		return STORE_ABORTED;
	}
	return rc == 0 ? STORE_OK : STORE_IO;
}

static void
bundle_batch_delete(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	struct server	*s = arg;
	spire_api_server_bundle_v1_BatchDeleteFederatedBundleRequest r;
	spire_api_server_bundle_v1_BatchDeleteFederatedBundleResponse resp;
	spire_api_server_bundle_v1_BatchDeleteFederatedBundleResponse_Result
			*res;
	struct spiffe_td td;
	struct del_arg	 a;
	pb_size_t	 i;

	memset(&resp, 0, sizeof(resp));
	if (srv_admit(s, call, CALLER_ADMIN | CALLER_LOCAL, req, len,
	    spire_api_server_bundle_v1_BatchDeleteFederatedBundleRequest_fields,
	    &r, sizeof(r)) == -1)
		return;
	for (i = 0; i < r.trust_domains_count; i++) {
		res = pbu_append(&resp.results, &resp.results_count,
		    sizeof(*res));
		if (res == NULL)
			break;
		res->has_status = true;
		res->trust_domain = mem_strdup(r.trust_domains[i]);
		memset(&a, 0, sizeof(a));
		a.mode = r.mode;
		if (bundle_td(r.trust_domains[i], &td) == -1) {
			a.code = GRPC_STATUS_INVALID_ARGUMENT;
			a.msg = "malformed trust domain";
		} else if (strcmp(td.name, s->cfg->trust_domain) == 0) {
			a.code = GRPC_STATUS_INVALID_ARGUMENT;
			a.msg = "removing the bundle for the server trust "
			    "domain is not allowed";
		} else {
			a.td = td.name;
			if (store_txn_run(s->store, bundle_del_txn, &a) !=
			    STORE_OK && a.code == 0) {
				a.code = GRPC_STATUS_INTERNAL;
				a.msg = "failed to delete bundle";
			}
		}
		res->status.code = a.code;
		res->status.message = mem_strdup(a.code == 0 ? "OK" : a.msg);
	}
	srv_reply(call,
	    BATCH_DEL_RESP,
	    &resp);
	pb_release(
	    BATCH_DEL_RESP,
	    &resp);
	pb_release(
	    spire_api_server_bundle_v1_BatchDeleteFederatedBundleRequest_fields,
	    &r);
}

/*
 * PublishJWTAuthority: a server nested under us adds its JWT key to our
 * bundle (and, when we are nested ourselves, to our parent's: it is
 * handed to our upstream, which publishes it once the parent answers).
 * The answer is every JWT key of our bundle.
 */
static void
bundle_publish_jwt(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	struct server	*s = arg;
	spire_api_server_bundle_v1_PublishJWTAuthorityRequest r;
	spire_api_server_bundle_v1_PublishJWTAuthorityResponse resp;
	spire_api_server_bundle_v1_AppendBundleRequest ar;
	struct upstream_jwt_key uk;
	struct append_arg a;
	json_t		*o = NULL;

	memset(&a, 0, sizeof(a));
	if (srv_admit(s, call, CALLER_DOWNSTREAM, req, len,
	    spire_api_server_bundle_v1_PublishJWTAuthorityRequest_fields, &r,
	    sizeof(r)) == -1)
		return;
	if (!r.has_jwt_authority) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
		    "missing JWT authority");
		goto out;
	}
	/* The key must be a public key we can read, with an ID. */
	o = json_object();
	if (o == NULL || r.jwt_authority.public_key == NULL ||
	    jwk_put_key(o, r.jwt_authority.public_key->bytes,
	    r.jwt_authority.public_key->size) == -1) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "invalid JWT "
		    "authority: not a supported public key");
		goto out;
	}
	if (r.jwt_authority.key_id == NULL || *r.jwt_authority.key_id == '\0') {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
		    "invalid JWT authority: missing key ID");
		goto out;
	}
	memset(&ar, 0, sizeof(ar));
	ar.jwt_authorities = &r.jwt_authority;
	ar.jwt_authorities_count = 1;
	a.s = s;
	a.r = &ar;
	if (store_txn_run(s->store, bundle_append_txn, &a) != STORE_OK) {
		srv_fail(call, GRPC_STATUS_INTERNAL,
		    "failed to publish JWT key");
		goto out;
	}
	if (s->up != NULL && s->up->publish_jwt_key != NULL) {
		uk.spki = r.jwt_authority.public_key->bytes;
		uk.spki_len = r.jwt_authority.public_key->size;
		uk.kid = r.jwt_authority.key_id;
		uk.expires_at = r.jwt_authority.expires_at;
		s->up->publish_jwt_key(s->up, &uk);
	}
	log_kv(LOG_LEVEL_INFO, "api", "downstream JWT key published", "kid",
	    r.jwt_authority.key_id, (const char *)NULL);
	memset(&resp, 0, sizeof(resp));
	resp.jwt_authorities = a.out.jwt_authorities;
	resp.jwt_authorities_count = a.out.jwt_authorities_count;
	srv_reply(call,
	    spire_api_server_bundle_v1_PublishJWTAuthorityResponse_fields,
	    &resp);
out:
	if (o != NULL)
		json_decref(o);
	pb_release(spire_api_types_Bundle_fields, &a.out);
	pb_release(
	    spire_api_server_bundle_v1_PublishJWTAuthorityRequest_fields, &r);
}

int
api_bundle_register(struct server *s, struct rpc_server *rs)
{
	static struct rpc_method m[] = {
		{ P("GetBundle"), RPC_UNARY, bundle_get, NULL, NULL, NULL,
		    NULL, NULL },
		{ P("GetFederatedBundle"), RPC_UNARY, bundle_get_federated,
		    NULL, NULL, NULL, NULL, NULL },
		{ P("ListFederatedBundles"), RPC_UNARY,
		    bundle_list_federated, NULL, NULL, NULL, NULL, NULL },
		{ P("CountBundles"), RPC_UNARY, bundle_count, NULL, NULL,
		    NULL, NULL, NULL },
		{ P("AppendBundle"), RPC_UNARY, bundle_append, NULL, NULL,
		    NULL, NULL, NULL },
		{ P("PublishJWTAuthority"), RPC_UNARY, bundle_publish_jwt,
		    NULL, NULL, NULL, NULL, NULL },
		{ P("BatchCreateFederatedBundle"), RPC_UNARY,
		    bundle_batch_create, NULL, NULL, NULL, NULL, NULL },
		{ P("BatchUpdateFederatedBundle"), RPC_UNARY,
		    bundle_batch_update, NULL, NULL, NULL, NULL, NULL },
		{ P("BatchSetFederatedBundle"), RPC_UNARY, bundle_batch_set,
		    NULL, NULL, NULL, NULL, NULL },
		{ P("BatchDeleteFederatedBundle"), RPC_UNARY,
		    bundle_batch_delete, NULL, NULL, NULL, NULL, NULL },
	};
	size_t	i;

	/* One server per process: the tables carry it as their arg. */
	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		m[i].arg = s;
	return rpc_server_add_methods(rs, m, sizeof(m) / sizeof(m[0]));
}
