/*
 * spire.api.server.entry.v1.Entry: registration entries for admins, and
 * the authorized entries of an agent (GetAuthorizedEntries and the
 * paged SyncAuthorizedEntries stream).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pb_decode.h>

#include "core/log.h"
#include "core/mem.h"
#include "server/authz.h"
#include "server/entrysync.h"
#include "server/pbutil.h"
#include "server/srv.h"
#include "spire/api/server/entry/v1/entry.pb.h"

#define P(m)	"/spire.api.server.entry.v1.Entry/" m

/* Long generated names, shortened. */
#define CREATE_RESP	\
    spire_api_server_entry_v1_BatchCreateEntryResponse_fields
#define UPDATE_RESP	\
    spire_api_server_entry_v1_BatchUpdateEntryResponse_fields
#define DELETE_RESP	\
    spire_api_server_entry_v1_BatchDeleteEntryResponse_fields
#define LIST_RESP	\
    spire_api_server_entry_v1_ListEntriesResponse_fields
#define AUTHZ_RESP	\
    spire_api_server_entry_v1_GetAuthorizedEntriesResponse_fields
#define SYNC_RESP	\
    spire_api_server_entry_v1_SyncAuthorizedEntriesResponse_fields
#define SYNC_REQ	\
    spire_api_server_entry_v1_SyncAuthorizedEntriesRequest_fields

static int	entry_copy(const spire_api_types_Entry *,
		    spire_api_types_Entry *);

/* A deep copy through the encoding; 0 or -1. */
static int
entry_copy(const spire_api_types_Entry *src, spire_api_types_Entry *dst)
{
	uint8_t	*buf;
	size_t	 len;
	int	 rc;

	memset(dst, 0, sizeof(*dst));
	if (ds_encode(spire_api_types_Entry_fields, src, &buf, &len) == -1)
		return -1;
	rc = ds_decode(spire_api_types_Entry_fields, buf, len, dst);
	mem_free(buf);
	return rc;
}

/* Checks a SPIFFE ID field of an entry; NULL, or the reason. */
static const char *
entry_check_id(struct server *s, const spire_api_types_SPIFFEID *m, bool has,
    int is_parent, char *why, size_t whylen)
{
	struct spiffe_id	id;
	char			r[128];
	const char		*what = is_parent ? "parent ID" : "spiffe ID";

	if (!has) {
		snprintf(why, whylen, "invalid %s: request must specify a "
		    "SPIFFE ID", what);
		return why;
	}
	if (srv_id_parse(m, &id, r, sizeof(r)) == -1) {
		snprintf(why, whylen, "invalid %s: %s", what, r);
		return why;
	}
	if (!spiffe_id_member_of(&id, &s->td)) {
		if (snprintf(why, whylen, "invalid %s: "
		    "\"spiffe://%.64s%.200s\" "
		    "is not a member of trust domain \"%.64s\"", what,
		    id.td.name, id.path, s->td.name) < 0)
			why[0] = '\0';
		return why;
	}
	if (!is_parent && spiffe_id_is_td(&id)) {
		snprintf(why, whylen, "invalid %s: path is empty", what);
		return why;
	}
	if (!is_parent && (strcmp(id.path, "/spire") == 0 ||
	    spiffe_id_under(&id, "/spire"))) {
		if (snprintf(why, whylen, "invalid %s: "
		    "\"spiffe://%.64s%.200s\" is reserved for SPIRE "
		    "(path under /spire)", what, id.td.name, id.path) < 0)
			why[0] = '\0';
		return why;
	}
	return NULL;
}

/* What SPIRE checks of an entry before storing it; NULL if fine. */
static const char *
entry_check(struct server *s, const spire_api_types_Entry *e, char *why,
    size_t whylen)
{
	struct spiffe_td	td;
	pb_size_t		i;

	if (e->id != NULL && strlen(e->id) > SERVER_ENTRY_ID_MAX) {
		snprintf(why, whylen, "invalid entry ID: too long");
		return why;
	}
	for (i = 0; e->id != NULL && e->id[i] != '\0'; i++)
		if (e->id[i] < 0x21 || e->id[i] > 0x7e) {
			snprintf(why, whylen, "invalid entry ID: contains "
			    "an invalid character");
			return why;
		}
	if (entry_check_id(s, &e->parent_id, e->has_parent_id, 1, why,
	    whylen) != NULL ||
	    entry_check_id(s, &e->spiffe_id, e->has_spiffe_id, 0, why,
	    whylen) != NULL)
		return why;
	if (e->selectors_count == 0) {
		snprintf(why, whylen, "invalid DNS name or selectors: "
		    "selector list is empty");
		return why;
	}
	if (e->selectors_count > SERVER_ENTRY_SELECTORS_MAX) {
		snprintf(why, whylen, "too many selectors");
		return why;
	}
	for (i = 0; i < e->selectors_count; i++) {
		const spire_api_types_Selector *sel = &e->selectors[i];

		if (sel->type == NULL || *sel->type == '\0') {
			snprintf(why, whylen, "invalid selector: missing "
			    "selector type");
			return why;
		}
		if (strchr(sel->type, ':') != NULL) {
			snprintf(why, whylen, "invalid selector: selector "
			    "type contains ':'");
			return why;
		}
		if (sel->value == NULL || *sel->value == '\0') {
			snprintf(why, whylen, "invalid selector: missing "
			    "selector value");
			return why;
		}
	}
	if (e->x509_svid_ttl < 0 || e->jwt_svid_ttl < 0) {
		snprintf(why, whylen, "invalid TTL: must not be negative");
		return why;
	}
	if (e->dns_names_count > SERVER_ENTRY_DNS_MAX) {
		snprintf(why, whylen, "too many DNS names");
		return why;
	}
	for (i = 0; i < e->dns_names_count; i++)
		if (e->dns_names[i] == NULL || *e->dns_names[i] == '\0' ||
		    strlen(e->dns_names[i]) > 255) {
			snprintf(why, whylen, "invalid DNS name");
			return why;
		}
	for (i = 0; i < e->federates_with_count; i++)
		if (e->federates_with[i] == NULL ||
		    spiffe_td_parse(e->federates_with[i],
		    strlen(e->federates_with[i]), &td) != SPIFFE_OK) {
			snprintf(why, whylen, "invalid federated trust domain");
			return why;
		}
	return NULL;
}

static int
entry_selcmp(const void *a, const void *b)
{
	const spire_api_types_Selector	*x = a, *y = b;
	int				 c;

	c = strcmp(x->type, y->type);
	return c != 0 ? c : strcmp(x->value, y->value);
}

/*
 * What SPIRE's datastore makes of a checked entry: selectors sorted by
 * type then value, federated trust domains as bare names. 0 or -1.
 */
static int
entry_normalize(spire_api_types_Entry *e)
{
	struct spiffe_td	td;
	pb_size_t		i;
	char			*n;

	if (e->selectors_count > 1)
		qsort(e->selectors, e->selectors_count, sizeof(*e->selectors),
		    entry_selcmp);
	for (i = 0; i < e->federates_with_count; i++) {
		if (spiffe_td_parse(e->federates_with[i],
		    strlen(e->federates_with[i]), &td) != SPIFFE_OK)
			return -1;
		if (strcmp(td.name, e->federates_with[i]) == 0)
			continue;
		n = mem_strdup(td.name);
		if (n == NULL)
			return -1;
		mem_free(e->federates_with[i]);
		e->federates_with[i] = n;
	}
	return 0;
}

/* Selector sets equal (order and duplicates aside). */
static int
entry_same_selectors(const spire_api_types_Entry *a,
    const spire_api_types_Entry *b)
{
	pb_size_t	i, k;

	for (i = 0; i < a->selectors_count; i++) {
		for (k = 0; k < b->selectors_count; k++)
			if (strcmp(a->selectors[i].type,
			    b->selectors[k].type) == 0 &&
			    strcmp(a->selectors[i].value,
			    b->selectors[k].value) == 0)
				break;
		if (k == b->selectors_count)
			return 0;
	}
	for (i = 0; i < b->selectors_count; i++) {
		for (k = 0; k < a->selectors_count; k++)
			if (strcmp(b->selectors[i].type,
			    a->selectors[k].type) == 0 &&
			    strcmp(b->selectors[i].value,
			    a->selectors[k].value) == 0)
				break;
		if (k == a->selectors_count)
			return 0;
	}
	return 1;
}

/* Looks for an entry with the same parent, SPIFFE ID and selectors. */
struct similar_arg {
	struct store_txn		*txn;
	const spire_api_types_Entry	*e;
	spire_api_types_Entry		*found;
	int				 hit;
};

static int
entry_similar_cb(const char *id, size_t len, void *arg)
{
	struct similar_arg	*a = arg;
	spire_api_types_Entry	 o;

	(void)len;
	if (ds_entry_get(a->txn, id, &o) != 0)
		return 0;
	if (strcmp(o.parent_id.trust_domain, a->e->parent_id.trust_domain) ==
	    0 && strcmp(o.parent_id.path != NULL ? o.parent_id.path : "",
	    a->e->parent_id.path != NULL ? a->e->parent_id.path : "") == 0 &&
	    entry_same_selectors(&o, a->e) &&
	    (a->e->id == NULL || strcmp(o.id, a->e->id) != 0)) {
		*a->found = o;
		a->hit = 1;
		return 1;
	}
	pb_release(spire_api_types_Entry_fields, &o);
	return 0;
}

struct create_arg {
	struct server		*s;
	spire_api_types_Entry	*entries;
	size_t			 n;
	int			*codes;
	const char		**msgs;
	spire_api_types_Entry	*existing;	/* n of them, may be NULL */
};

static enum store_err
entries_create_txn(struct store_txn *txn, void *arg)
{
	struct create_arg	*a = arg;
	spire_api_types_Entry	*e, tmp;
	struct similar_arg	 sa;
	char			 sid[SPIFFE_ID_MAX + 1], id[37];
	size_t			 i;
	int			 rc;

	for (i = 0; i < a->n; i++) {
		e = &a->entries[i];
		if (a->codes[i] != 0)
			continue;
		if (e->id != NULL && *e->id != '\0') {
			rc = ds_entry_get(txn, e->id, &tmp);
			if (rc == 0) {
				pb_release(spire_api_types_Entry_fields, &tmp);
				a->codes[i] = GRPC_STATUS_ALREADY_EXISTS;
				a->msgs[i] = "failed to create entry: "
				    "datastore-sql: UNIQUE constraint failed: "
				    "registered_entries.entry_id";
				continue;
			}
			if (rc != DS_NOTFOUND)
				return STORE_IO;
		}
		memset(&sa, 0, sizeof(sa));
		sa.txn = txn;
		sa.e = e;
		sa.found = a->existing != NULL ? &a->existing[i] : &tmp;
		if (ds_id_string(&e->spiffe_id, sid, sizeof(sid)) == -1 ||
		    ds_entry_walk_index(txn, DS_ENTRY_BY_SPIFFE, sid,
		    entry_similar_cb, &sa) == DS_ERROR)
			return STORE_IO;
		if (sa.hit) {
			if (a->existing == NULL)
				pb_release(spire_api_types_Entry_fields, &tmp);
			a->codes[i] = GRPC_STATUS_ALREADY_EXISTS;
			a->msgs[i] = "similar entry already exists";
			continue;
		}
		if (e->id == NULL || *e->id == '\0') {
			if (srv_uuid(id) == -1)
				return STORE_IO;
			mem_free(e->id);
			e->id = mem_strdup(id);
			if (e->id == NULL)
				return STORE_NOMEM;
		}
		e->created_at = (int64_t)time(NULL);
		e->revision_number = 0;
		if (ds_entry_put(txn, e) != 0)
			return STORE_IO;
	}
	return STORE_OK;
}

int
srv_entries_create(struct server *s, spire_api_types_Entry *entries,
    size_t n, int *codes, const char **msgs)
{
	struct create_arg	a = { s, entries, n, codes, msgs, NULL };
	char			why[512];
	size_t			i;

	for (i = 0; i < n; i++) {
		codes[i] = 0;
		msgs[i] = NULL;
		if (entry_check(s, &entries[i], why, sizeof(why)) != NULL ||
		    entry_normalize(&entries[i]) == -1) {
			codes[i] = GRPC_STATUS_INVALID_ARGUMENT;
			msgs[i] = "invalid entry";
		}
	}
	return store_txn_run(s->store, entries_create_txn, &a) == STORE_OK ?
	    0 : -1;
}

static void
entry_batch_create(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	struct server				*s = arg;
	spire_api_server_entry_v1_BatchCreateEntryRequest r;
	spire_api_server_entry_v1_BatchCreateEntryResponse resp;
	spire_api_server_entry_v1_EntryResult	*res;
	struct create_arg			 a;
	char					(*why)[512] = NULL;
	int					*codes = NULL;
	const char				**msgs = NULL;
	spire_api_types_Entry			*existing = NULL;
	size_t					 i, n, off;

	memset(&resp, 0, sizeof(resp));
	if (srv_admit(s, call, CALLER_ADMIN | CALLER_LOCAL, req, len,
	    spire_api_server_entry_v1_BatchCreateEntryRequest_fields, &r,
	    sizeof(r)) == -1)
		return;
	n = r.entries_count;
	if (n > SERVER_BATCH_MAX) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
		    "too many entries");
		goto out;
	}
	why = mem_calloc(n + 1, sizeof(*why));
	codes = mem_calloc(n + 1, sizeof(*codes));
	msgs = mem_calloc(n + 1, sizeof(*msgs));
	existing = mem_calloc(n + 1, sizeof(*existing));
	if (why == NULL || codes == NULL || msgs == NULL || existing == NULL) {
		srv_fail(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		if (entry_check(s, &r.entries[i], why[i], sizeof(why[i])) !=
		    NULL) {
			codes[i] = GRPC_STATUS_INVALID_ARGUMENT;
			msgs[i] = why[i];
		} else if (entry_normalize(&r.entries[i]) == -1) {
			codes[i] = GRPC_STATUS_INTERNAL;
			msgs[i] = "out of memory";
		}
	/*
	 * A transaction per SERVER_BATCH_TXN_MAX entries, not one for all:
	 * LMDB keeps the dirty pages of its largest transaction (4 MB for
	 * 1,000 entries into 10,000) malloc'ed for good. Each entry stands
	 * alone anyway, as in SPIRE; a chunk that fails fails its own.
	 */
	for (off = 0; off < n; off += a.n) {
		a.s = s;
		a.n = n - off < SERVER_BATCH_TXN_MAX ? n - off :
		    SERVER_BATCH_TXN_MAX;
		a.entries = r.entries + off;
		a.codes = codes + off;
		a.msgs = msgs + off;
		a.existing = existing + off;
		if (store_txn_run(s->store, entries_create_txn, &a) ==
		    STORE_OK)
			continue;
		for (i = off; i < off + a.n; i++)
			if (codes[i] == 0) {
				codes[i] = GRPC_STATUS_INTERNAL;
				msgs[i] = "failed to create entry";
			}
	}
	for (i = 0; i < n; i++) {
		res = pbu_append(&resp.results, &resp.results_count,
		    sizeof(*res));
		if (res == NULL)
			break;
		res->has_status = true;
		res->status.code = codes[i];
		res->status.message = mem_strdup(codes[i] == 0 ? "OK" :
		    msgs[i]);
		if (codes[i] == 0 || existing[i].id != NULL) {
			if (entry_copy(codes[i] == 0 ? &r.entries[i] :
			    &existing[i], &res->entry) == 0) {
				res->has_entry = true;
				srv_entry_mask(&res->entry, r.has_output_mask ?
				    &r.output_mask : NULL);
			}
		}
		if (codes[i] == 0)
			log_kv(LOG_LEVEL_INFO, "api", "entry created", "id",
			    r.entries[i].id, (const char *)NULL);
		else
			log_kv(LOG_LEVEL_INFO, "api", "entry refused",
			    "error", msgs[i], (const char *)NULL);
	}
	srv_reply(call, CREATE_RESP,
	    &resp);
out:
	for (i = 0; existing != NULL && i < n; i++)
		pb_release(spire_api_types_Entry_fields, &existing[i]);
	mem_free(existing);
	mem_free(why);
	mem_free(codes);
	mem_free(msgs);
	pb_release(CREATE_RESP,
	    &resp);
	pb_release(spire_api_server_entry_v1_BatchCreateEntryRequest_fields,
	    &r);
}

/* Moves the fields the input mask names from src into dst. */
#define ENTRY_TAKE(f)	do {						\
	__typeof__(dst->f) t_ = dst->f;				\
	dst->f = src->f;						\
	src->f = t_;							\
} while (0)

static void
entry_apply(spire_api_types_Entry *dst, spire_api_types_Entry *src,
    const spire_api_types_EntryMask *m)
{
	if (m == NULL || m->spiffe_id) {
		ENTRY_TAKE(spiffe_id);
		ENTRY_TAKE(has_spiffe_id);
	}
	if (m == NULL || m->parent_id) {
		ENTRY_TAKE(parent_id);
		ENTRY_TAKE(has_parent_id);
	}
	if (m == NULL || m->selectors) {
		ENTRY_TAKE(selectors);
		ENTRY_TAKE(selectors_count);
	}
	if (m == NULL || m->x509_svid_ttl)
		ENTRY_TAKE(x509_svid_ttl);
	if (m == NULL || m->federates_with) {
		ENTRY_TAKE(federates_with);
		ENTRY_TAKE(federates_with_count);
	}
	if (m == NULL || m->admin)
		ENTRY_TAKE(admin);
	if (m == NULL || m->downstream)
		ENTRY_TAKE(downstream);
	if (m == NULL || m->expires_at)
		ENTRY_TAKE(expires_at);
	if (m == NULL || m->dns_names) {
		ENTRY_TAKE(dns_names);
		ENTRY_TAKE(dns_names_count);
	}
	if (m == NULL || m->store_svid)
		ENTRY_TAKE(store_svid);
	if (m == NULL || m->jwt_svid_ttl)
		ENTRY_TAKE(jwt_svid_ttl);
	if (m == NULL || m->hint)
		ENTRY_TAKE(hint);
}

struct update_arg {
	struct server				*s;
	spire_api_types_Entry			*in;
	const spire_api_types_EntryMask		*mask;
	spire_api_types_Entry			 out;
	int					 code;
	char					 why[512];
};

static enum store_err
entry_update_txn(struct store_txn *txn, void *arg)
{
	struct update_arg	*a = arg;
	spire_api_types_Entry	 in;
	int			 rc;

	pb_release(spire_api_types_Entry_fields, &a->out);
	memset(&a->out, 0, sizeof(a->out));
	rc = ds_entry_get(txn, a->in->id, &a->out);
	if (rc == DS_NOTFOUND) {
		a->code = GRPC_STATUS_NOT_FOUND;
		snprintf(a->why, sizeof(a->why), "failed to update entry: "
		    "datastore-sql: record not found");
		return STORE_ABORTED;
	}
	if (rc != 0)
		return STORE_IO;
	/* A copy: a rerun after the map grew must start from the input. */
	if (entry_copy(a->in, &in) == -1)
		return STORE_NOMEM;
	entry_apply(&a->out, &in, a->mask);
	pb_release(spire_api_types_Entry_fields, &in);
	if (entry_check(a->s, &a->out, a->why, sizeof(a->why)) != NULL) {
		a->code = GRPC_STATUS_INVALID_ARGUMENT;
		return STORE_ABORTED;
	}
	if (entry_normalize(&a->out) == -1)
		return STORE_NOMEM;
	a->out.revision_number++;
	return ds_entry_put(txn, &a->out) == 0 ? STORE_OK : STORE_IO;
}

static void
entry_batch_update(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	struct server				*s = arg;
	spire_api_server_entry_v1_BatchUpdateEntryRequest r;
	spire_api_server_entry_v1_BatchUpdateEntryResponse resp;
	spire_api_server_entry_v1_EntryResult	*res;
	struct update_arg			 a;
	enum store_err				 e;
	pb_size_t				 i;

	memset(&resp, 0, sizeof(resp));
	if (srv_admit(s, call, CALLER_ADMIN | CALLER_LOCAL, req, len,
	    spire_api_server_entry_v1_BatchUpdateEntryRequest_fields, &r,
	    sizeof(r)) == -1)
		return;
	for (i = 0; i < r.entries_count; i++) {
		res = pbu_append(&resp.results, &resp.results_count,
		    sizeof(*res));
		if (res == NULL)
			break;
		res->has_status = true;
		memset(&a, 0, sizeof(a));
		a.s = s;
		a.in = &r.entries[i];
		a.mask = r.has_input_mask ? &r.input_mask : NULL;
		if (a.in->id == NULL || *a.in->id == '\0') {
			a.code = GRPC_STATUS_INVALID_ARGUMENT;
			snprintf(a.why, sizeof(a.why), "failed to convert "
			    "entry: missing ID");
		} else {
			e = store_txn_run(s->store, entry_update_txn, &a);
			if (e != STORE_OK && a.code == 0) {
				a.code = GRPC_STATUS_INTERNAL;
				snprintf(a.why, sizeof(a.why),
				    "failed to update entry");
			}
		}
		res->status.code = a.code;
		res->status.message = mem_strdup(a.code == 0 ? "OK" : a.why);
		if (a.code == 0) {
			res->entry = a.out;
			memset(&a.out, 0, sizeof(a.out));
			res->has_entry = true;
			srv_entry_mask(&res->entry, r.has_output_mask ?
			    &r.output_mask : NULL);
			log_kv(LOG_LEVEL_INFO, "api", "entry updated", "id",
			    r.entries[i].id, (const char *)NULL);
		} else
			log_kv(LOG_LEVEL_INFO, "api", "entry update refused",
			    "id", a.in->id != NULL ? a.in->id : "", "error",
			    a.why, (const char *)NULL);
		pb_release(spire_api_types_Entry_fields, &a.out);
	}
	srv_reply(call, UPDATE_RESP,
	    &resp);
	pb_release(UPDATE_RESP,
	    &resp);
	pb_release(spire_api_server_entry_v1_BatchUpdateEntryRequest_fields,
	    &r);
}

struct delete_arg {
	char	**ids;
	size_t	  n;
	int	 *codes;
};

static enum store_err
entry_delete_txn(struct store_txn *txn, void *arg)
{
	struct delete_arg	*a = arg;
	size_t			 i;
	int			 rc;

	for (i = 0; i < a->n; i++) {
		if (a->ids[i] == NULL || *a->ids[i] == '\0') {
			a->codes[i] = GRPC_STATUS_INVALID_ARGUMENT;
			continue;
		}
		rc = ds_entry_del(txn, a->ids[i]);
		if (rc == DS_ERROR)
			return STORE_IO;
		a->codes[i] = rc == DS_NOTFOUND ? GRPC_STATUS_NOT_FOUND : 0;
	}
	return STORE_OK;
}

static void
entry_batch_delete(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	struct server				*s = arg;
	spire_api_server_entry_v1_BatchDeleteEntryRequest r;
	spire_api_server_entry_v1_BatchDeleteEntryResponse resp;
	spire_api_server_entry_v1_BatchDeleteEntryResponse_Result *res;
	struct delete_arg			 a;
	int					*codes = NULL;
	size_t					 i, off;

	memset(&resp, 0, sizeof(resp));
	if (srv_admit(s, call, CALLER_ADMIN | CALLER_LOCAL, req, len,
	    spire_api_server_entry_v1_BatchDeleteEntryRequest_fields, &r,
	    sizeof(r)) == -1)
		return;
	codes = mem_calloc((size_t)r.ids_count + 1, sizeof(*codes));
	if (codes == NULL) {
		srv_fail(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	/* A transaction per chunk, as BatchCreateEntry's. */
	for (off = 0; off < r.ids_count; off += a.n) {
		a.n = r.ids_count - off < SERVER_BATCH_TXN_MAX ?
		    r.ids_count - off : SERVER_BATCH_TXN_MAX;
		a.ids = r.ids + off;
		a.codes = codes + off;
		if (store_txn_run(s->store, entry_delete_txn, &a) == STORE_OK)
			continue;
		for (i = off; i < off + a.n; i++)
			if (codes[i] != GRPC_STATUS_INVALID_ARGUMENT)
				codes[i] = GRPC_STATUS_INTERNAL;
	}
	for (i = 0; i < r.ids_count; i++) {
		res = pbu_append(&resp.results, &resp.results_count,
		    sizeof(*res));
		if (res == NULL)
			break;
		res->has_status = true;
		res->status.code = codes[i];
		res->status.message = mem_strdup(codes[i] == 0 ? "OK" :
		    codes[i] == GRPC_STATUS_NOT_FOUND ? "entry not found" :
		    codes[i] == GRPC_STATUS_INTERNAL ?
		    "failed to delete entry" : "missing entry ID");
		res->id = pbu_strdup(r.ids[i]);
		log_kv(LOG_LEVEL_INFO, "api", codes[i] == 0 ?
		    "entry deleted" : "entry delete refused", "id",
		    r.ids[i] != NULL ? r.ids[i] : "", (const char *)NULL);
	}
	srv_reply(call, DELETE_RESP,
	    &resp);
out:
	mem_free(codes);
	pb_release(DELETE_RESP,
	    &resp);
	pb_release(spire_api_server_entry_v1_BatchDeleteEntryRequest_fields,
	    &r);
}

/* Selector/federation matching of ListEntries' filters. */
static int
entry_sel_has(const spire_api_types_Entry *e, const spire_api_types_Selector
    *sel)
{
	pb_size_t	i;

	for (i = 0; i < e->selectors_count; i++)
		if (strcmp(e->selectors[i].type, sel->type) == 0 &&
		    strcmp(e->selectors[i].value, sel->value) == 0)
			return 1;
	return 0;
}

static int
entry_fed_has(const spire_api_types_Entry *e, const char *td)
{
	struct spiffe_td	a, b;
	pb_size_t		i;

	if (spiffe_td_parse(td, strlen(td), &a) != SPIFFE_OK)
		return 0;
	for (i = 0; i < e->federates_with_count; i++)
		if (spiffe_td_parse(e->federates_with[i],
		    strlen(e->federates_with[i]), &b) == SPIFFE_OK &&
		    strcmp(a.name, b.name) == 0)
			return 1;
	return 0;
}

/* hits of n wanted among have: the match behaviour. */
static int
entry_match(int match, size_t hits, size_t n, size_t have)
{
	switch (match) {
	case 0:		/* exact */
		return hits == n && n == have;
	case 1:		/* subset: the entry's within the filter's */
		return hits == have;
	case 2:		/* superset */
		return hits == n;
	default:	/* any */
		return hits > 0;
	}
}

static int
entry_filter(struct server *s, const spire_api_server_entry_v1_EntryFilter
    *f, const spire_api_types_Entry *e)
{
	pb_size_t	i;
	size_t		hits;
	char		a[SPIFFE_ID_MAX + 1], b[SPIFFE_ID_MAX + 1];

	(void)s;
	if (f == NULL)
		return 1;
	if (f->has_by_spiffe_id && (ds_id_string(&f->by_spiffe_id, a,
	    sizeof(a)) == -1 || ds_id_string(&e->spiffe_id, b,
	    sizeof(b)) == -1 || strcmp(a, b) != 0))
		return 0;
	if (f->has_by_parent_id && (ds_id_string(&f->by_parent_id, a,
	    sizeof(a)) == -1 || ds_id_string(&e->parent_id, b,
	    sizeof(b)) == -1 || strcmp(a, b) != 0))
		return 0;
	if (f->has_by_hint && strcmp(f->by_hint.value != NULL ?
	    f->by_hint.value : "", e->hint != NULL ? e->hint : "") != 0)
		return 0;
	if (f->has_by_downstream && f->by_downstream.value != e->downstream)
		return 0;
	if (f->has_by_selectors) {
		for (i = 0, hits = 0; i < f->by_selectors.selectors_count; i++)
			hits += entry_sel_has(e, &f->by_selectors.selectors[i]);
		if (!entry_match(f->by_selectors.match, hits,
		    f->by_selectors.selectors_count, e->selectors_count))
			return 0;
	}
	if (f->has_by_federates_with) {
		for (i = 0, hits = 0;
		    i < f->by_federates_with.trust_domains_count; i++)
			hits += entry_fed_has(e,
			    f->by_federates_with.trust_domains[i]);
		if (!entry_match(f->by_federates_with.match, hits,
		    f->by_federates_with.trust_domains_count,
		    e->federates_with_count))
			return 0;
	}
	return 1;
}

struct list_arg {
	struct server					*s;
	const spire_api_server_entry_v1_EntryFilter	*f;
	const spire_api_types_EntryMask			*mask;
	spire_api_server_entry_v1_ListEntriesResponse	*resp;
	const char					*token;	/* walk after */
	size_t						 max;
	size_t						 count;
	int						 failed;
};

static int
entry_list_cb(const spire_api_types_Entry *e, void *arg)
{
	struct list_arg		*a = arg;
	spire_api_types_Entry	*o;

	if (!entry_filter(a->s, a->f, e))
		return 0;
	a->count++;
	if (a->resp == NULL)
		return 0;
	if (a->max > 0 && a->resp->entries_count == a->max) {
		a->resp->next_page_token = mem_strdup(
		    a->resp->entries[a->max - 1].id);
		return 1;
	}
	o = pbu_append(&a->resp->entries, &a->resp->entries_count,
	    sizeof(*o));
	if (o == NULL || entry_copy(e, o) == -1) {
		a->failed = 1;
		return 1;
	}
	srv_entry_mask(o, a->mask);
	return 0;
}

/*
 * List walks the entries; Count too when filtered, and otherwise asks
 * for the number stored.
 * XXX: a parent or SPIFFE ID filter could walk its index.
 */
static int
entry_walk(struct store_txn *txn, void *arg)
{
	struct list_arg		*a = arg;
	size_t			 n = 0;
	int			 rc;

	if (a->resp == NULL && a->f == NULL) {
		rc = ds_entry_count(txn, &n);
		a->count = n;
	} else
		rc = ds_entry_walk(txn, a->token, entry_list_cb, a);
	return rc == DS_ERROR || a->failed ? -1 : 0;
}

static void
entry_list(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct server				*s = arg;
	spire_api_server_entry_v1_ListEntriesRequest r;
	spire_api_server_entry_v1_ListEntriesResponse resp;
	struct list_arg				 a;

	memset(&resp, 0, sizeof(resp));
	if (srv_admit(s, call, CALLER_ADMIN | CALLER_LOCAL, req, len,
	    spire_api_server_entry_v1_ListEntriesRequest_fields, &r,
	    sizeof(r)) == -1)
		return;
	if (r.page_size < 0) {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
		    "page size must not be negative");
		goto out;
	}
	memset(&a, 0, sizeof(a));
	a.s = s;
	a.f = r.has_filter ? &r.filter : NULL;
	a.mask = r.has_output_mask ? &r.output_mask : NULL;
	a.resp = &resp;
	a.max = r.page_size > 0 ? (size_t)r.page_size : PB_SIZE_MAX;
	a.token = r.page_token;
	if (srv_walk(s, call, entry_walk, &a, "failed to list entries") == 0)
		srv_reply(call, LIST_RESP, &resp);
out:
	pb_release(LIST_RESP, &resp);
	pb_release(spire_api_server_entry_v1_ListEntriesRequest_fields, &r);
}

static void
entry_count(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct server				*s = arg;
	spire_api_server_entry_v1_CountEntriesRequest r;
	spire_api_server_entry_v1_CountEntriesResponse resp = { 0 };
	struct list_arg				 a;

	if (srv_admit(s, call, CALLER_ADMIN | CALLER_LOCAL, req, len,
	    spire_api_server_entry_v1_CountEntriesRequest_fields, &r,
	    sizeof(r)) == -1)
		return;
	memset(&a, 0, sizeof(a));
	a.s = s;
	a.f = r.has_filter ? &r.filter : NULL;
	a.token = "";
	if (srv_walk(s, call, entry_walk, &a, "failed to count entries") ==
	    0) {
		resp.count = (int32_t)a.count;
		srv_reply(call,
		    spire_api_server_entry_v1_CountEntriesResponse_fields,
		    &resp);
	}
	pb_release(spire_api_server_entry_v1_CountEntriesRequest_fields, &r);
}

static void
entry_get(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct server				*s = arg;
	spire_api_server_entry_v1_GetEntryRequest r;
	spire_api_types_Entry			 e;
	struct store_txn			*txn;
	int					 rc;

	if (srv_admit(s, call, CALLER_ADMIN | CALLER_LOCAL, req, len,
	    spire_api_server_entry_v1_GetEntryRequest_fields, &r,
	    sizeof(r)) == -1)
		return;
	if (r.id == NULL || *r.id == '\0') {
		srv_fail(call, GRPC_STATUS_INVALID_ARGUMENT, "missing ID");
		goto out;
	}
	if (store_txn_begin(s->store, STORE_READ, &txn) != STORE_OK) {
		srv_fail(call, GRPC_STATUS_INTERNAL, "datastore unavailable");
		goto out;
	}
	rc = ds_entry_get(txn, r.id, &e);
	store_txn_abort(txn);
	if (rc != 0) {
		srv_fail(call, rc == DS_NOTFOUND ? GRPC_STATUS_NOT_FOUND :
		    GRPC_STATUS_INTERNAL, "entry not found");
		goto out;
	}
	srv_entry_mask(&e, r.has_output_mask ? &r.output_mask : NULL);
	srv_reply(call, spire_api_types_Entry_fields, &e);
	pb_release(spire_api_types_Entry_fields, &e);
out:
	pb_release(spire_api_server_entry_v1_GetEntryRequest_fields, &r);
}

/*
 * The authorized entries of the calling agent, read in txn, into a
 * sorted array of IDs (owned, *n of them). 0 or -1 (answered).
 */
static int
idcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
entry_get_authorized(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	struct server				*s = arg;
	spire_api_server_entry_v1_GetAuthorizedEntriesRequest r;
	spire_api_server_entry_v1_GetAuthorizedEntriesResponse resp;
	spire_api_types_Entry			*o;
	struct store_txn			*txn = NULL;
	struct authz_set			 set;
	struct caller				 c;
	size_t					 i;

	if (srv_authorize(s, call, CALLER_AGENT, &c) == -1)
		return;
	memset(&r, 0, sizeof(r));
	memset(&resp, 0, sizeof(resp));
	memset(&set, 0, sizeof(set));
	if (srv_decode(call, req, len,
	    spire_api_server_entry_v1_GetAuthorizedEntriesRequest_fields,
	    &r) == -1)
		goto out;
	if (store_txn_begin(s->store, STORE_READ, &txn) != STORE_OK ||
	    srv_authorized(s, txn, c.id, &c.node, &set) == -1) {
		srv_fail(call, GRPC_STATUS_INTERNAL,
		    "failed to fetch entries");
		goto out;
	}
	for (i = 0; i < set.n; i++) {
		o = pbu_append(&resp.entries, &resp.entries_count, sizeof(*o));
		if (o == NULL || ds_entry_get(txn, set.ids[i], o) != 0) {
			if (o != NULL)
				resp.entries_count--;
			continue;
		}
		srv_entry_mask(o, r.has_output_mask ? &r.output_mask : NULL);
	}
	store_txn_abort(txn);
	txn = NULL;
	srv_reply(call,
	    AUTHZ_RESP,
	    &resp);
out:
	store_txn_abort(txn);
	authz_set_free(&set);
	pb_release(AUTHZ_RESP,
	    &resp);
	pb_release(spire_api_server_entry_v1_GetAuthorizedEntriesRequest_fields,
	    &r);
	caller_cleanup(&c);
}

/*
 * SyncAuthorizedEntries. One stream: the first request carries the
 * mask; the server answers with everything (<= page) or with pages of
 * revisions, then with pages of the entries each later request names.
 * Sending stops when the stream's queue is full and resumes from
 * on_writable; requests are held meanwhile.
 */
struct sync {
	struct server		*s;
	spire_api_types_EntryMask mask;
	char			 agent[SPIFFE_ID_MAX + 1];
	char			**ids;		/* authorized, sorted */
	int64_t			 *rev;
	int64_t			 *created;
	size_t			  n;
	int			  phase;	/* SYNC_* */
	size_t			  page;		/* next page of the series */
	char			**want;		/* requested, authorized */
	size_t			  nwant;
	int			  half_closed;
	int			  done;
};

enum { SYNC_START, SYNC_REVISIONS, SYNC_ENTRIES, SYNC_IDLE };

static void	sync_pump(struct rpc_call *, struct sync *);

static void
sync_free(struct sync *y)
{
	size_t	i;

	if (y == NULL)
		return;
	for (i = 0; i < y->n; i++)
		mem_free(y->ids[i]);
	for (i = 0; i < y->nwant; i++)
		mem_free(y->want[i]);
	mem_free(y->ids);
	mem_free(y->rev);
	mem_free(y->created);
	mem_free(y->want);
	mem_free(y);
}

static void
sync_end(struct rpc_call *call, struct sync *y, enum grpc_status code,
    const char *msg)
{
	y->done = 1;
	rpc_call_set_data(call, NULL);
	srv_finish(call, code, msg);
	sync_free(y);
}

/* Loads the agent's authorized IDs with revisions. 0 or -1. */
static int
sync_load(struct sync *y, struct caller *c)
{
	struct store_txn	*txn = NULL;
	struct authz_set	 set;
	spire_api_types_Entry	 e;
	size_t			 i, k;
	int			 rc = -1;

	memset(&set, 0, sizeof(set));
	if (store_txn_begin(y->s->store, STORE_READ, &txn) != STORE_OK ||
	    srv_authorized(y->s, txn, c->id, &c->node, &set) == -1)
		goto out;
	y->ids = mem_calloc(set.n + 1, sizeof(*y->ids));
	y->rev = mem_calloc(set.n + 1, sizeof(*y->rev));
	y->created = mem_calloc(set.n + 1, sizeof(*y->created));
	if (y->ids == NULL || y->rev == NULL || y->created == NULL)
		goto out;
	/* The set's IDs are taken, so it frees none of them. */
	for (i = 0; i < set.n; i++) {
		y->ids[i] = set.ids[i];
		set.ids[i] = NULL;
	}
	y->n = set.n;
	qsort(y->ids, y->n, sizeof(*y->ids), idcmp);
	for (i = 0, k = 0; i < y->n; i++) {
		if (ds_entry_get(txn, y->ids[i], &e) != 0) {
			mem_free(y->ids[i]);
			continue;
		}
		y->ids[k] = y->ids[i];
		y->rev[k] = e.revision_number;
		y->created[k] = e.created_at;
		k++;
		pb_release(spire_api_types_Entry_fields, &e);
	}
	y->n = k;
	rc = 0;
out:
	store_txn_abort(txn);
	set.n = 0;
	authz_set_free(&set);
	return rc;
}

/* Fills resp->entries with the entries of ids[start, end). 0 or -1. */
static int
sync_fill(struct sync *y, char **ids, size_t start, size_t end,
    spire_api_server_entry_v1_SyncAuthorizedEntriesResponse *resp)
{
	struct store_txn	*txn;
	spire_api_types_Entry	*o;
	size_t			 i;

	if (store_txn_begin(y->s->store, STORE_READ, &txn) != STORE_OK)
		return -1;
	for (i = start; i < end; i++) {
		o = pbu_append(&resp->entries, &resp->entries_count,
		    sizeof(*o));
		if (o == NULL) {
			store_txn_abort(txn);
			return -1;
		}
		if (ds_entry_get(txn, ids[i], o) != 0) {
			/* Deleted since: the next sync drops it. */
			resp->entries_count--;
			continue;
		}
		srv_entry_mask(o, &y->mask);
	}
	store_txn_abort(txn);
	return 0;
}

static void
sync_pump(struct rpc_call *call, struct sync *y)
{
	spire_api_server_entry_v1_SyncAuthorizedEntriesResponse resp;
	spire_api_server_entry_v1_EntryRevision *rv;
	size_t		start, end, i, n;
	int		more, fail;
	enum rpc_err	e;

	for (;;) {
		memset(&resp, 0, sizeof(resp));
		fail = 0;
		if (y->phase == SYNC_IDLE) {
			if (y->half_closed) {
				sync_end(call, y, GRPC_STATUS_OK, NULL);
				return;
			}
			rpc_call_pause(call, 0);
			return;
		}
		if (y->phase == SYNC_START) {
			/* At most a page: every entry in one response. */
			fail = sync_fill(y, y->ids, 0, y->n, &resp);
			more = 0;
		} else if (y->phase == SYNC_REVISIONS) {
			entrysync_page(y->n, SERVER_ENTRY_PAGE, y->page,
			    &start, &end, &more);
			for (i = start; i < end && !fail; i++) {
				rv = pbu_append(&resp.entry_revisions,
				    &resp.entry_revisions_count, sizeof(*rv));
				if (rv == NULL || (rv->id =
				    mem_strdup(y->ids[i])) == NULL)
					fail = 1;
				else {
					rv->revision_number = y->rev[i];
					rv->created_at = y->created[i];
				}
			}
		} else {
			n = y->nwant;
			entrysync_page(n, SERVER_ENTRY_PAGE, y->page, &start,
			    &end, &more);
			fail = sync_fill(y, y->want, start, end, &resp);
		}
		resp.more = more;
		if (fail) {
			pb_release(
			    SYNC_RESP,
			    &resp);
			sync_end(call, y, GRPC_STATUS_INTERNAL,
			    "failed to fetch entries");
			return;
		}
		e = rpc_call_send_pb(call,
		    SYNC_RESP,
		    &resp);
		pb_release(
		    SYNC_RESP,
		    &resp);
		if (e == RPC_ERR_WOULDBLOCK)
			return;		/* on_writable resumes */
		if (e != RPC_ERR_OK) {
			sync_end(call, y, e == RPC_ERR_CLOSED ?
			    GRPC_STATUS_CANCELLED : GRPC_STATUS_INTERNAL,
			    "cannot send entries");
			return;
		}
		if (y->phase == SYNC_START) {
			sync_end(call, y, GRPC_STATUS_OK, NULL);
			return;
		}
		y->page++;
		if (!more) {
			y->phase = SYNC_IDLE;
			y->page = 0;
			for (i = 0; i < y->nwant; i++)
				mem_free(y->want[i]);
			mem_free(y->want);
			y->want = NULL;
			y->nwant = 0;
		}
	}
}

static void
sync_on_call(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	struct server	*s = arg;
	struct caller	 c;
	struct sync	*y;

	(void)req;
	(void)len;
	if (srv_authorize(s, call, CALLER_AGENT, &c) == -1)
		return;
	y = mem_calloc(1, sizeof(*y));
	if (y == NULL) {
		caller_cleanup(&c);
		srv_fail(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	y->s = s;
	y->phase = -1;		/* waiting for the first request */
	snprintf(y->agent, sizeof(y->agent), "%s", c.id);
	if (sync_load(y, &c) == -1) {
		caller_cleanup(&c);
		sync_free(y);
		srv_fail(call, GRPC_STATUS_INTERNAL,
		    "failed to fetch authorized entries");
		return;
	}
	caller_cleanup(&c);
	rpc_call_set_data(call, y);
}

static int
sync_has(struct sync *y, const char *id)
{
	return bsearch(&id, y->ids, y->n, sizeof(*y->ids), idcmp) != NULL;
}

static void
sync_on_message(struct rpc_call *call, const uint8_t *msg, size_t len,
    void *arg)
{
	struct sync	*y = rpc_call_data(call);
	spire_api_server_entry_v1_SyncAuthorizedEntriesRequest r;
	pb_size_t	 i;

	(void)arg;
	if (y == NULL || y->done)
		return;
	memset(&r, 0, sizeof(r));
	if (rpc_decode(msg, len,
	    SYNC_REQ,
	    &r) == -1) {
		sync_end(call, y, GRPC_STATUS_INVALID_ARGUMENT,
		    "malformed request");
		return;
	}
	if (y->phase == -1) {
		if (r.ids_count > 0) {
			sync_end(call, y, GRPC_STATUS_INVALID_ARGUMENT,
			    "specifying IDs on initial request is not "
			    "supported");
			goto out;
		}
		if (r.has_output_mask && !r.output_mask.revision_number) {
			sync_end(call, y, GRPC_STATUS_INVALID_ARGUMENT,
			    "revision number is required in output mask");
			goto out;
		}
		if (r.has_output_mask)
			y->mask = r.output_mask;
		else
			memset(&y->mask, 1, sizeof(y->mask));
		y->phase = entrysync_single(y->n, SERVER_ENTRY_PAGE) ?
		    SYNC_START : SYNC_REVISIONS;
		log_kv(LOG_LEVEL_DEBUG, "api", "entry sync", "agent",
		    y->agent, "paged", y->phase == SYNC_REVISIONS ? "yes" :
		    "no", (const char *)NULL);
	} else {
		if (y->phase != SYNC_IDLE) {
			sync_end(call, y, GRPC_STATUS_INVALID_ARGUMENT,
			    "a request came before the previous answer");
			goto out;
		}
		y->want = mem_calloc(r.ids_count + 1, sizeof(*y->want));
		if (y->want == NULL) {
			sync_end(call, y, GRPC_STATUS_RESOURCE_EXHAUSTED,
			    "out of memory");
			goto out;
		}
		/* Entries not (or no longer) authorized are left out. */
		for (i = 0; i < r.ids_count; i++) {
			if (r.ids[i] == NULL || !sync_has(y, r.ids[i]))
				continue;
			y->want[y->nwant] = r.ids[i];
			r.ids[i] = NULL;
			y->nwant++;
		}
		y->phase = SYNC_ENTRIES;
		y->page = 0;
	}
	rpc_call_pause(call, 1);
	sync_pump(call, y);
out:
	pb_release(SYNC_REQ,
	    &r);
}

static void
sync_on_writable(struct rpc_call *call, void *arg)
{
	struct sync	*y = rpc_call_data(call);

	(void)arg;
	if (y != NULL && !y->done)
		sync_pump(call, y);
}

static void
sync_on_half_close(struct rpc_call *call, void *arg)
{
	struct sync	*y = rpc_call_data(call);

	(void)arg;
	if (y == NULL || y->done)
		return;
	y->half_closed = 1;
	if (y->phase == SYNC_IDLE || y->phase == -1)
		sync_end(call, y, GRPC_STATUS_OK, NULL);
}

static void
sync_on_cancel(struct rpc_call *call, enum grpc_status why, void *arg)
{
	struct sync	*y = rpc_call_data(call);

	(void)arg;
	if (y != NULL && !y->done) {
		rpc_call_set_data(call, NULL);
		sync_free(y);
	}
	rpc_call_finish(call, why, NULL, NULL, 0);
}

int
api_entry_register(struct server *s, struct rpc_server *rs)
{
	static struct rpc_method m[] = {
		{ P("BatchCreateEntry"), RPC_UNARY, entry_batch_create, NULL,
		    NULL, NULL, NULL, NULL },
		{ P("BatchUpdateEntry"), RPC_UNARY, entry_batch_update, NULL,
		    NULL, NULL, NULL, NULL },
		{ P("BatchDeleteEntry"), RPC_UNARY, entry_batch_delete, NULL,
		    NULL, NULL, NULL, NULL },
		{ P("ListEntries"), RPC_UNARY, entry_list, NULL, NULL, NULL,
		    NULL, NULL },
		{ P("CountEntries"), RPC_UNARY, entry_count, NULL, NULL, NULL,
		    NULL, NULL },
		{ P("GetEntry"), RPC_UNARY, entry_get, NULL, NULL, NULL, NULL,
		    NULL },
		{ P("GetAuthorizedEntries"), RPC_UNARY, entry_get_authorized,
		    NULL, NULL, NULL, NULL, NULL },
		{ P("SyncAuthorizedEntries"), RPC_BIDI, sync_on_call,
		    sync_on_message, sync_on_half_close, sync_on_cancel,
		    sync_on_writable, NULL },
	};
	size_t	i;

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		m[i].arg = s;
	return rpc_server_add_methods(rs, m, sizeof(m) / sizeof(m[0]));
}
