/*
 * SPIRE's authorization: who the caller is (local, agent, admin,
 * downstream) and whether the method lets them in, plus the helpers
 * every handler answers with.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "core/log.h"
#include "core/mem.h"
#include "hal/rand.h"
#include "rpc/transport.h"
#include "server/pbutil.h"
#include "server/authz.h"
#include "server/srv.h"

#define DENY_TYPE_URL \
	"type.googleapis.com/spire.api.types.PermissionDeniedDetails"

static int	caller_entry_flags(struct store_txn *, const char *,
		    unsigned *);

void
caller_cleanup(struct caller *c)
{
	if (c->has_node)
		pb_release(spirelet_server_Node_fields, &c->node);
	memset(c, 0, sizeof(*c));
}

void
srv_reply(struct rpc_call *call, const pb_msgdesc_t *fields, const void *msg)
{
	enum rpc_err	e;

	e = rpc_call_send_pb(call, fields, msg);
	if (e != RPC_ERR_OK) {
		log_kv(LOG_LEVEL_WARN, "api", "cannot send the reply",
		    "method", rpc_call_path(call), "error", rpc_strerror(e),
		    (const char *)NULL);
		rpc_call_finish(call, e == RPC_ERR_TOOBIG ?
		    GRPC_STATUS_RESOURCE_EXHAUSTED : GRPC_STATUS_INTERNAL,
		    "cannot send the reply", NULL, 0);
		return;
	}
	rpc_call_finish(call, GRPC_STATUS_OK, NULL, NULL, 0);
}

void
srv_fail(struct rpc_call *call, enum grpc_status code, const char *msg)
{
	const struct transport_peer	*p = rpc_call_peer(call);

	log_kv(code == GRPC_STATUS_INTERNAL ? LOG_LEVEL_ERROR : LOG_LEVEL_INFO,
	    "api", "call failed", "method", rpc_call_path(call), "caller",
	    p != NULL && p->spiffe_id != NULL ? p->spiffe_id : "",
	    "addr", p != NULL ? p->addr : "", "code", grpc_status_name(code),
	    "error", msg, (const char *)NULL);
	rpc_call_finish(call, code, msg, NULL, 0);
}

void
srv_finish(struct rpc_call *call, enum grpc_status code, const char *msg)
{
	if (code == GRPC_STATUS_OK)
		rpc_call_finish(call, code, NULL, NULL, 0);
	else
		srv_fail(call, code, msg);
}

void
srv_deny(struct rpc_call *call, enum deny_reason reason, const char *msg)
{
	const struct transport_peer	*p = rpc_call_peer(call);
	spire_api_types_PermissionDeniedDetails d = { 0 };
	struct grpc_detail		 det;
	uint8_t				 buf[16];
	pb_ostream_t			 os;

	d.reason = (spire_api_types_PermissionDeniedDetails_Reason)reason;
	os = pb_ostream_from_buffer(buf, sizeof(buf));
	(void)pb_encode(&os, spire_api_types_PermissionDeniedDetails_fields,
	    &d);
	det.type_url = DENY_TYPE_URL;
	det.value = buf;
	det.len = os.bytes_written;
	log_kv(LOG_LEVEL_INFO, "api", "permission denied", "method",
	    rpc_call_path(call), "caller", p != NULL && p->spiffe_id != NULL ?
	    p->spiffe_id : "", "addr", p != NULL ? p->addr : "", "error", msg,
	    (const char *)NULL);
	rpc_call_finish(call, GRPC_STATUS_PERMISSION_DENIED, msg, &det, 1);
}

int
srv_decode(struct rpc_call *call, const uint8_t *req, size_t len,
    const pb_msgdesc_t *fields, void *msg)
{
	if (rpc_decode(req, len, fields, msg) == -1) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
		    "malformed request");
		return -1;
	}
	return 0;
}

int
srv_walk(struct server *s, struct rpc_call *call,
    int (*walk)(struct store_txn *, void *), void *arg, const char *failmsg)
{
	struct store_txn	*txn;
	int			 rc;

	if (store_txn_begin(s->store, STORE_READ, &txn) != STORE_OK) {
		srv_fail(call, GRPC_STATUS_INTERNAL, "datastore unavailable");
		return -1;
	}
	rc = walk(txn, arg);
	store_txn_abort(txn);
	if (rc == -1) {
		srv_fail(call, GRPC_STATUS_INTERNAL, failmsg);
		return -1;
	}
	return 0;
}

int
srv_admit(struct server *s, struct rpc_call *call, unsigned allowed,
    const uint8_t *req, size_t len, const pb_msgdesc_t *fields, void *msg,
    size_t msglen)
{
	struct caller	c;

	if (srv_authorize(s, call, allowed, &c) == -1)
		return -1;
	caller_cleanup(&c);
	memset(msg, 0, msglen);
	return srv_decode(call, req, len, fields, msg);
}

int
srv_id_format(const spire_api_types_SPIFFEID *id, char *buf, size_t len)
{
	return ds_id_string(id, buf, len);
}

int
srv_id_parse(const spire_api_types_SPIFFEID *m, struct spiffe_id *id,
    char *why, size_t whylen)
{
	char		s[SPIFFE_ID_MAX + 16];
	enum spiffe_err	e;

	if (m->trust_domain == NULL || *m->trust_domain == '\0') {
		snprintf(why, whylen, "trust domain is missing");
		return -1;
	}
	if (srv_id_format(m, s, sizeof(s)) == -1) {
		snprintf(why, whylen, "too long");
		return -1;
	}
	e = spiffe_id_parse(s, strlen(s), id);
	if (e != SPIFFE_OK) {
		snprintf(why, whylen, "%s", spiffe_strerror(e));
		return -1;
	}
	return 0;
}

int
srv_id_set(spire_api_types_SPIFFEID *m, const char *s)
{
	struct spiffe_id	id;

	if (spiffe_id_parse(s, strlen(s), &id) != SPIFFE_OK)
		return -1;
	m->trust_domain = mem_strdup(id.td.name);
	m->path = mem_strdup(id.path);
	return m->trust_domain != NULL && m->path != NULL ? 0 : -1;
}

/* Whether some entry of spiffe ID id is admin (bit 1) or downstream. */
struct flags_arg {
	struct store_txn	*txn;
	unsigned		 flags;
};

static int
caller_flags_cb(const char *eid, size_t len, void *arg)
{
	struct flags_arg	*a = arg;
	spire_api_types_Entry	 e;

	(void)len;
	if (ds_entry_get(a->txn, eid, &e) != 0)
		return 0;
	if (e.admin)
		a->flags |= CALLER_ADMIN;
	if (e.downstream)
		a->flags |= CALLER_DOWNSTREAM;
	pb_release(spire_api_types_Entry_fields, &e);
	return 0;
}

static int
caller_entry_flags(struct store_txn *txn, const char *id, unsigned *flags)
{
	struct flags_arg	a = { txn, 0 };

	if (ds_entry_walk_index(txn, DS_ENTRY_BY_SPIFFE, id, caller_flags_cb,
	    &a) != 0)
		return -1;
	*flags |= a.flags;
	return 0;
}

/*
 * The agent check: an attested node, not banned, presenting its
 * current serial or the new one (which is then promoted).
 */
static int
caller_agent(struct server *s, const struct transport_peer *p,
    struct caller *c, enum deny_reason *reason, const char **why)
{
	struct store_txn	*txn = NULL;
	struct x509_cert	 leaf;
	char			 serial[64];
	int			 rc;

	*reason = DENY_AGENT_NOT_ATTESTED;
	*why = "agent is not attested";
	if (p->nchain == 0 || x509_parse(p->chain[0], p->chain_len[0],
	    &leaf) != X509_OK || ca_serial_decimal(leaf.serial.p,
	    leaf.serial.len, serial, sizeof(serial)) == -1)
		return -1;
	if ((long long)time(NULL) >= leaf.not_after) {
		*reason = DENY_AGENT_EXPIRED;
		*why = "agent SVID has expired";
		return -1;
	}
	if (store_txn_begin(s->store, STORE_READ, &txn) != STORE_OK)
		return -1;
	rc = ds_node_get(txn, c->id, &c->node);
	store_txn_abort(txn);
	if (rc != 0)
		return -1;
	c->has_node = 1;
	if (c->node.agent.banned) {
		*reason = DENY_AGENT_BANNED;
		*why = "agent is banned";
		return -1;
	}
	if (c->node.agent.x509svid_serial_number != NULL &&
	    strcmp(c->node.agent.x509svid_serial_number, serial) == 0)
		return 0;
	if (c->node.new_serial != NULL && *c->node.new_serial != '\0' &&
	    strcmp(c->node.new_serial, serial) == 0) {
		/* First use of a renewed SVID: it becomes the current. */
		mem_free(c->node.agent.x509svid_serial_number);
		c->node.agent.x509svid_serial_number = c->node.new_serial;
		c->node.agent.x509svid_expires_at = c->node.new_expires_at;
		c->node.new_serial = NULL;
		c->node.new_expires_at = 0;
		if (store_txn_begin(s->store, STORE_WRITE, &txn) != STORE_OK)
			return -1;
		if (ds_node_put(txn, c->id, &c->node) != 0) {
			store_txn_abort(txn);
			return -1;
		}
		if (store_txn_commit(txn) != STORE_OK)
			return -1;
		log_kv(LOG_LEVEL_DEBUG, "api", "agent SVID promoted",
		    "agent", c->id, "serial", serial, (const char *)NULL);
		return 0;
	}
	*reason = DENY_AGENT_NOT_ACTIVE;
	*why = "agent is not active";
	return -1;
}

int
srv_authorize(struct server *s, struct rpc_call *call, unsigned allowed,
    struct caller *c)
{
	const struct transport_peer	*p = rpc_call_peer(call);
	struct store_txn		*txn = NULL;
	enum deny_reason		 reason = DENY_UNKNOWN;
	const char			*why = NULL;
	char				 msg[256];
	size_t				 i;

	memset(c, 0, sizeof(*c));
	if (p == NULL) {
		srv_fail(call, GRPC_STATUS_INTERNAL, "no peer");
		return -1;
	}
	snprintf(c->addr, sizeof(c->addr), "%s", p->addr);
	if (p->has_cred && p->nchain == 0)
		c->classes |= CALLER_LOCAL;
	if (p->spiffe_id != NULL)
		snprintf(c->id, sizeof(c->id), "%s", p->spiffe_id);
	if (allowed == CALLER_ANY || (allowed & c->classes) != 0)
		return 0;
	if (c->id[0] == '\0') {
		snprintf(msg, sizeof(msg), "authorization denied for method "
		    "%s", rpc_call_path(call));
		srv_fail(call, p->nchain == 0 ? GRPC_STATUS_PERMISSION_DENIED :
		    GRPC_STATUS_UNAUTHENTICATED, msg);
		return -1;
	}
	if (allowed & (CALLER_ADMIN | CALLER_DOWNSTREAM)) {
		for (i = 0; i < s->cfg->admin_ids.n; i++)
			if (strcmp(s->cfg->admin_ids.v[i], c->id) == 0)
				c->classes |= CALLER_ADMIN;
		if (store_txn_begin(s->store, STORE_READ, &txn) == STORE_OK) {
			(void)caller_entry_flags(txn, c->id, &c->classes);
			store_txn_abort(txn);
		}
		if (allowed & c->classes)
			return 0;
	}
	if (allowed & CALLER_AGENT) {
		if (caller_agent(s, p, c, &reason, &why) == 0) {
			c->classes |= CALLER_AGENT;
			c->reattestable = c->node.agent.can_reattest;
			return 0;
		}
		if (allowed == CALLER_AGENT) {
			srv_deny(call, reason, why);
			caller_cleanup(c);
			return -1;
		}
	}
	snprintf(msg, sizeof(msg), "authorization denied for method %s",
	    rpc_call_path(call));
	srv_deny(call, DENY_UNKNOWN, msg);
	caller_cleanup(c);
	return -1;
}

/* The children walk of authz over the parent index. */
struct children_arg {
	struct store_txn	*txn;
	void			(*fn)(const struct authz_entry *, void *);
	void			*fnarg;
	int			 failed;
};

static int
srv_children_cb(const char *eid, size_t len, void *arg)
{
	struct children_arg	*a = arg;
	spire_api_types_Entry	 e;
	struct authz_entry	 ae;
	char			 sid[SPIFFE_ID_MAX + 1];
	char			*sel[SERVER_ENTRY_SELECTORS_MAX];
	size_t			 i, n = 0;
	int			 rc;

	(void)len;
	rc = ds_entry_get(a->txn, eid, &e);
	if (rc == DS_NOTFOUND)
		return 0;
	if (rc != 0)
		return -1;
	if (ds_id_string(&e.spiffe_id, sid, sizeof(sid)) == -1)
		goto out;
	for (i = 0; i < e.selectors_count && n < SERVER_ENTRY_SELECTORS_MAX;
	    i++) {
		size_t	l = strlen(e.selectors[i].type) +
		    strlen(e.selectors[i].value) + 2;

		sel[n] = mem_alloc(l);
		if (sel[n] == NULL)
			break;
		snprintf(sel[n], l, "%s:%s", e.selectors[i].type,
		    e.selectors[i].value);
		n++;
	}
	ae.id = e.id;
	ae.spiffe_id = sid;
	ae.selectors = (const char *const *)sel;
	ae.nselectors = n;
	if (n == e.selectors_count)
		a->fn(&ae, a->fnarg);
	for (i = 0; i < n; i++)
		mem_free(sel[i]);
out:
	pb_release(spire_api_types_Entry_fields, &e);
	return 0;
}

static int
srv_children(void *arg, const char *parent,
    void (*fn)(const struct authz_entry *, void *), void *fnarg)
{
	struct children_arg	*a = arg;

	a->fn = fn;
	a->fnarg = fnarg;
	return ds_entry_walk_index(a->txn, DS_ENTRY_BY_PARENT, parent,
	    srv_children_cb, a) == 0 ? 0 : -1;
}

int
srv_authorized(struct server *s, struct store_txn *txn, const char *agent_id,
    const spirelet_server_Node *node, struct authz_set *out)
{
	struct children_arg	 a;
	char			*sel[SERVER_NODE_SELECTORS_MAX];
	size_t			 i, n = 0;
	int			 rc;

	memset(sel, 0, sizeof(sel));
	memset(&a, 0, sizeof(a));
	a.txn = txn;
	for (i = 0; node != NULL && i < node->agent.selectors_count &&
	    n < SERVER_NODE_SELECTORS_MAX; i++) {
		size_t	l = strlen(node->agent.selectors[i].type) +
		    strlen(node->agent.selectors[i].value) + 2;

		sel[n] = mem_alloc(l);
		if (sel[n] == NULL)
			break;
		snprintf(sel[n], l, "%s:%s", node->agent.selectors[i].type,
		    node->agent.selectors[i].value);
		n++;
	}
	rc = authz_reachable(srv_children, &a, agent_id, s->server_id,
	    (const char *const *)sel, n, SERVER_AUTHORIZED_MAX, out);
	for (i = 0; i < n; i++)
		mem_free(sel[i]);
	return rc;
}

void
srv_entry_mask(spire_api_types_Entry *e, const spire_api_types_EntryMask *m)
{
	spire_api_types_Entry	z;

	if (m == NULL)
		return;
	memset(&z, 0, sizeof(z));
	if (!m->spiffe_id) {
		mem_free(e->spiffe_id.trust_domain);
		mem_free(e->spiffe_id.path);
		e->spiffe_id = z.spiffe_id;
		e->has_spiffe_id = false;
	}
	if (!m->parent_id) {
		mem_free(e->parent_id.trust_domain);
		mem_free(e->parent_id.path);
		e->parent_id = z.parent_id;
		e->has_parent_id = false;
	}
	if (!m->selectors) {
		for (size_t i = 0; i < e->selectors_count; i++)
			pb_release(spire_api_types_Selector_fields,
			    &e->selectors[i]);
		mem_free(e->selectors);
		e->selectors = NULL;
		e->selectors_count = 0;
	}
	if (!m->x509_svid_ttl)
		e->x509_svid_ttl = 0;
	if (!m->federates_with) {
		for (size_t i = 0; i < e->federates_with_count; i++)
			mem_free(e->federates_with[i]);
		mem_free(e->federates_with);
		e->federates_with = NULL;
		e->federates_with_count = 0;
	}
	if (!m->admin)
		e->admin = false;
	if (!m->downstream)
		e->downstream = false;
	if (!m->expires_at)
		e->expires_at = 0;
	if (!m->dns_names) {
		for (size_t i = 0; i < e->dns_names_count; i++)
			mem_free(e->dns_names[i]);
		mem_free(e->dns_names);
		e->dns_names = NULL;
		e->dns_names_count = 0;
	}
	if (!m->revision_number)
		e->revision_number = 0;
	if (!m->store_svid)
		e->store_svid = false;
	if (!m->jwt_svid_ttl)
		e->jwt_svid_ttl = 0;
	if (!m->hint) {
		mem_free(e->hint);
		e->hint = NULL;
	}
	if (!m->created_at)
		e->created_at = 0;
}

void
srv_roots_reload(struct server *s)
{
	struct store_txn	*txn = NULL;
	spire_api_types_Bundle	 b;
	struct srv_roots	 r;
	size_t			 i;
	int			 rc;

	memset(&r, 0, sizeof(r));
	if (store_txn_begin(s->store, STORE_READ, &txn) != STORE_OK)
		return;
	rc = ds_bundle_get(txn, s->cfg->trust_domain, &b);
	store_txn_abort(txn);
	if (rc != 0)
		return;
	r.der = mem_calloc(b.x509_authorities_count + 1, sizeof(*r.der));
	r.certs = mem_calloc(b.x509_authorities_count + 1, sizeof(*r.certs));
	if (r.der == NULL || r.certs == NULL)
		goto fail;
	for (i = 0; i < b.x509_authorities_count; i++) {
		const pb_bytes_array_t	*a = b.x509_authorities[i].asn1;

		if (a == NULL)
			continue;
		r.der[r.n] = mem_alloc(a->size);
		if (r.der[r.n] == NULL)
			goto fail;
		memcpy(r.der[r.n], a->bytes, a->size);
		if (x509_parse(r.der[r.n], a->size, &r.certs[r.n]) !=
		    X509_OK) {
			mem_free(r.der[r.n]);
			continue;
		}
		r.n++;
	}
	pb_release(spire_api_types_Bundle_fields, &b);
	for (i = 0; i < s->roots.n; i++)
		mem_free(s->roots.der[i]);
	mem_free(s->roots.der);
	mem_free(s->roots.certs);
	s->roots = r;
	return;
fail:
	for (i = 0; i < r.n; i++)
		mem_free(r.der[i]);
	mem_free(r.der);
	mem_free(r.certs);
	pb_release(spire_api_types_Bundle_fields, &b);
}

int
srv_svid_pb(const struct ca_svid *sv, const char *id,
    spire_api_types_X509SVID *out)
{
	size_t	i;

	memset(out, 0, sizeof(*out));
	out->cert_chain = mem_calloc(sv->n, sizeof(*out->cert_chain));
	if (out->cert_chain == NULL)
		return -1;
	for (i = 0; i < sv->n; i++) {
		out->cert_chain[i] = pbu_bytes(sv->der[i], sv->len[i]);
		if (out->cert_chain[i] == NULL)
			return -1;
		out->cert_chain_count++;
	}
	out->has_id = true;
	out->expires_at = sv->expires_at;
	return srv_id_set(&out->id, id);
}

int
srv_uuid(char out[37])
{
	uint8_t	u[16];

	if (rand_bytes(u, sizeof(u)) == -1)
		return -1;
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5],
	    u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
	return 0;
}

void
srv_peer_host(const char *addr, char *out, size_t len)
{
	const char	*colon;
	size_t		 n;

	if (addr[0] == '[') {
		colon = strchr(addr, ']');
		n = colon != NULL ? (size_t)(colon - addr - 1) : strlen(addr);
		addr++;
	} else {
		colon = strrchr(addr, ':');
		n = colon != NULL ? (size_t)(colon - addr) : strlen(addr);
	}
	if (n >= len)
		n = len - 1;
	memcpy(out, addr, n);
	out[n] = '\0';
}
