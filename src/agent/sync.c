/*
 * One sync cycle, as spire-agent's manager runs it every sync_interval:
 *
 *  1. Entry/SyncAuthorizedEntries: the full list in one response, or
 *     pages of revisions, after which the unknown and stale IDs are
 *     asked for in sorted chunks of the server's page size. Entries the
 *     server no longer mentions are dropped.
 *  2. Bundle/GetBundle, then Bundle/GetFederatedBundle for each trust
 *     domain the entries federate with (NotFound is only logged).
 *  3. SVID/BatchNewX509SVID for entries without an SVID, due for
 *     rotation or of a newer revision, with keys made on the worker
 *     thread; at most csr_batch CSRs per call, halved on failure.
 *  4. One write transaction with all of it; then the Workload API's
 *     streams hear of the change.
 *  5. The agent's own SVID: RenewAgent (join_token) or a new
 *     attestation (reattestable attestors) once it is due.
 *
 * Failures back off (x1.5, +-10%, capped as SPIRE caps it).
 */
#include "config.h"

#include <malloc.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "agent/internal.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/worker.h"
#include "hal/key.h"
#include "pki/cert.h"
#include "pki/x509.h"
#include "rpc/client.h"
#include "spire/api/server/agent/v1/agent.pb.h"
#include "spire/api/server/bundle/v1/bundle.pb.h"
#include "spire/api/server/entry/v1/entry.pb.h"
#include "spire/api/server/svid/v1/svid.pb.h"
#include "spire/api/types/types.pb.h"
#include "store/store.h"

#define SYNC_PATH	"/spire.api.server.entry.v1.Entry/SyncAuthorizedEntries"
#define BUNDLE_PATH	"/spire.api.server.bundle.v1.Bundle/GetBundle"
#define FEDBUNDLE_PATH	"/spire.api.server.bundle.v1.Bundle/GetFederatedBundle"
#define BATCH_PATH	"/spire.api.server.svid.v1.SVID/BatchNewX509SVID"
#define RENEW_PATH	"/spire.api.server.agent.v1.Agent/RenewAgent"

/* A full entry received, with its protobuf encoding for the store. */
struct fresh {
	struct agent_entry	*e;
	uint8_t			*pb;
	size_t			 pb_len;
};

/* One CSR made on the worker, and what came back for it. */
struct csr_item {
	char		*entry_id;
	char		*spiffe_id;
	uint8_t		*csr;
	size_t		 csr_len;
	uint8_t		*pkcs8;
	size_t		 pkcs8_len;
	uint8_t		*spki;
	size_t		 spki_len;
	struct buf	 chain;		/* issued chain, once verified */
	int		 ok;
	int64_t		 not_before;	/* of the issued leaf */
	int64_t		 expires;
	int64_t		 rotate_at;
};

struct sync_run {
	struct agent		*a;
	struct rpc_call		*call;		/* the entries stream */
	int			 unary;		/* a unary call in flight */
	int			 job;		/* the worker holds us */
	int			 got_first;
	int			 entries_done;
	int			 paged;
	size_t			 page_size;
	struct entry_rev	*revs;		/* ids owned */
	size_t			 nrevs, caprevs;
	const char		**need;		/* borrowed from revs */
	size_t			 nneed, need_off;
	int			 awaiting;	/* full entries after ids */
	struct fresh		*fresh;
	size_t			 nfresh, capfresh;
	struct agent_entry	**final;	/* the new entry set */
	size_t			 nfinal;
	unsigned char		*keep;		/* cached entry kept? */
	struct bundle		 own;
	int			 has_own;
	struct bundle		*fed;
	size_t			 nfed;
	char			**fed_tds;
	size_t			 nfed_tds, fed_i;
	struct csr_item		*csrs;
	size_t			 ncsrs;
	int			 svid_failed;
	int			 more_svids;
	struct agent_key	*renew_key;
	char			 err[256];
};

static void	sync_release(struct sync_run *);
static void	sync_detach(struct sync_run *);
static void	sync_fail(struct sync_run *, enum grpc_status, int,
		    const char *);
static void	sync_entries_message(struct rpc_call *, const uint8_t *,
		    size_t, void *);
static void	sync_entries_close(struct rpc_call *,
		    const struct rpc_result *, void *);
static int	sync_take_entries(struct sync_run *, const
		    spire_api_server_entry_v1_SyncAuthorizedEntriesResponse *);
static int	sync_send_ids(struct sync_run *);
static int	sync_keep(struct sync_run *, const struct agent_entry *);
static int	sync_reply(struct sync_run *, const struct srv_result *,
		    const char *);
static void	sync_bundles(struct sync_run *);
static void	sync_bundle_ask(struct sync_run *, const char *, const char *,
		    srv_unary_fn);
static void	sync_bundle_done(struct agent *, void *,
		    const struct srv_result *);
static void	sync_fed_next(struct sync_run *);
static void	sync_fed_done(struct agent *, void *,
		    const struct srv_result *);
static int	sync_build_final(struct sync_run *);
static void	sync_svids(struct sync_run *);
static void	sync_csr_run(void *);
static void	sync_csr_done(void *, int);
static void	sync_batch_done(struct agent *, void *,
		    const struct srv_result *);
static int	sync_leaf_times(struct csr_item *);
static void	sync_commit(struct sync_run *);
static void	sync_own_svid(struct sync_run *);
static void	sync_renew_done(struct agent *, void *,
		    const struct srv_result *);
static void	sync_key_made(void *, struct agent_key *, const char *);
static void	sync_csr_made(void *, const uint8_t *, size_t, const char *);
static void	sync_end(struct sync_run *, int ok);

static const struct rpc_client_cbs entries_cbs = {
	.on_message = sync_entries_message,
	.on_close = sync_entries_close,
};

static void
csr_items_free(struct csr_item *v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		mem_free(v[i].entry_id);
		mem_free(v[i].spiffe_id);
		mem_free(v[i].csr);
		mem_free_wipe(v[i].pkcs8, v[i].pkcs8_len);
		mem_free(v[i].spki);
		buf_cleanup(&v[i].chain);
	}
	mem_free(v);
}

static void
sync_release(struct sync_run *r)
{
	size_t	 i;

	if (r->a != NULL || r->call != NULL || r->unary || r->job)
		return;
	for (i = 0; i < r->nrevs; i++)
		mem_free((char *)(uintptr_t)r->revs[i].id);
	mem_free(r->revs);
	mem_free(r->need);
	for (i = 0; i < r->nfresh; i++) {
		entry_free(r->fresh[i].e);
		mem_free(r->fresh[i].pb);
	}
	mem_free(r->fresh);
	mem_free(r->final);
	mem_free(r->keep);
	if (r->has_own)
		bundle_cleanup(&r->own);
	for (i = 0; i < r->nfed; i++)
		bundle_cleanup(&r->fed[i]);
	mem_free(r->fed);
	strings_free(r->fed_tds, r->nfed_tds);
	csr_items_free(r->csrs, r->ncsrs);
	ownkey_unref(r->renew_key);
	mem_free(r);
}

static void
sync_detach(struct sync_run *r)
{
	struct rpc_call	*c = r->call;

	if (r->a != NULL && r->a->sync == r)
		r->a->sync = NULL;
	r->a = NULL;
	if (c != NULL)
		rpc_call_cancel(c);	/* its close releases us */
	else
		sync_release(r);
}

void
sync_free(struct agent *a)
{
	if (a->sync != NULL)
		sync_detach(a->sync);
}

void
sync_start(struct agent *a)
{
	struct sync_run	*r;
	struct buf	 req, mask;

	if (a->sync != NULL || a->attest != NULL || a->chan == NULL ||
	    a->stopping)
		return;
	/*
	 * The SVID ran out while the server was away (a gateway's link to
	 * its parent during an outage): the server would refuse it, so
	 * attest again where the attestor allows it.
	 * XXX: a spent join token cannot; such an agent stays stuck.
	 */
	if (a->has_svid && a->svid.expires <= agent_now(a) + 1 &&
	    (a->svid.reattestable || (a->cfg->local != NULL &&
	    a->cfg->local->join_token != NULL &&
	    (a->cfg->join_token == NULL || *a->cfg->join_token == '\0')))) {
		log_info("agent", "agent SVID expired: attesting again");
		a->state = AGENT_ATTESTING;
		attest_start(a);
		return;
	}
	r = mem_calloc(1, sizeof(*r));
	if (r == NULL) {
		agent_schedule(a, AGENT_ATTEST_RETRY_MS);
		return;
	}
	r->a = a;
	a->sync = r;
	log_debug("agent", "sync: starting");
	/* SPIRE's output mask for agents. */
	buf_init(&mask, 64);
	buf_init(&req, 64);
	if (pbw_uint(&mask, 2, 1) == -1 || pbw_uint(&mask, 4, 1) == -1 ||
	    pbw_uint(&mask, 6, 1) == -1 || pbw_uint(&mask, 7, 1) == -1 ||
	    pbw_uint(&mask, 8, 1) == -1 || pbw_uint(&mask, 11, 1) == -1 ||
	    pbw_uint(&mask, 12, 1) == -1 || pbw_uint(&mask, 14, 1) == -1 ||
	    pbw_uint(&mask, 15, 1) == -1 || pbw_message(&req, 1, &mask) == -1)
		goto nomem;
	r->call = rpc_client_call(a->chan, SYNC_PATH, NULL, 0,
	    AGENT_RPC_TIMEOUT_SEC, 0, &entries_cbs, r);
	if (r->call == NULL)
		goto nomem;
	if (rpc_call_send(r->call, buf_ptr(&req), req.len) != RPC_ERR_OK) {
		snprintf(r->err, sizeof(r->err), "cannot send the request");
		rpc_call_cancel(r->call);
	}
	buf_cleanup(&mask);
	buf_cleanup(&req);
	return;
nomem:
	buf_cleanup(&mask);
	buf_cleanup(&req);
	sync_fail(r, GRPC_STATUS_RESOURCE_EXHAUSTED, -1, "out of memory");
}

/* Marks a cached entry as still listed by the server. 1, or 0. */
static int
sync_keep(struct sync_run *r, const struct agent_entry *e)
{
	size_t	 lo = 0, hi = r->a->nentries, mid;
	int	 c;

	if (r->keep == NULL) {
		r->keep = mem_calloc(r->a->nentries + 1, 1);
		if (r->keep == NULL)
			return 0;
	}
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(e->id, r->a->entries[mid]->id);
		if (c == 0) {
			r->keep[mid] = 1;
			return 1;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

/* Keeps the full entries of a response, re-encoded for the store. */
static int
sync_take_entries(struct sync_run *r,
    const spire_api_server_entry_v1_SyncAuthorizedEntriesResponse *m)
{
	struct agent_entry	*e, *old;
	struct fresh		*nf;
	pb_ostream_t		 os;
	size_t			 i, len;
	char			 err[160];

	for (i = 0; i < m->entries_count; i++) {
		if (entry_from_pb(&m->entries[i], &e, err, sizeof(err)) == -1) {
			log_kv(LOG_LEVEL_WARN, "agent", "received malformed "
			    "entry from the server", "error", err,
			    (const char *)NULL);
			continue;
		}
		/*
		 * The full list repeats what is cached: an entry of the same
		 * revision and creation time is kept as it is, so an idle
		 * sync writes nothing but its bundle.
		 */
		old = agent_entry_find(r->a, e->id);
		if (old != NULL && !entries_stale(old, e->revision,
		    e->created_at) &&
		    !r->paged && sync_keep(r, old)) {
			entry_free(e);
			continue;
		}
		if (r->nfresh == AGENT_ENTRIES_MAX) {
			entry_free(e);
			snprintf(r->err, sizeof(r->err), "more than %d "
			    "entries", AGENT_ENTRIES_MAX);
			return -1;
		}
		if (r->nfresh == r->capfresh) {
			r->capfresh = r->capfresh == 0 ? 64 : r->capfresh * 2;
			nf = mem_reallocarray(r->fresh, r->capfresh,
			    sizeof(*nf));
			if (nf == NULL) {
				entry_free(e);
				return -1;
			}
			r->fresh = nf;
		}
		nf = &r->fresh[r->nfresh];
		nf->e = e;
		nf->pb = NULL;
		if (!pb_get_encoded_size(&len, spire_api_types_Entry_fields,
		    &m->entries[i]) || (nf->pb = mem_alloc(len + 1)) == NULL) {
			entry_free(e);
			return -1;
		}
		os = pb_ostream_from_buffer(nf->pb, len);
		if (!pb_encode(&os, spire_api_types_Entry_fields,
		    &m->entries[i])) {
			entry_free(e);
			mem_free(nf->pb);
			return -1;
		}
		nf->pb_len = len;
		r->nfresh++;
	}
	return 0;
}

/* The next chunk of IDs to fetch in full; entries_done when none. */
static int
sync_send_ids(struct sync_run *r)
{
	struct buf	 req;
	size_t		 i, n;
	int		 rc = 0;

	if (r->need_off == r->nneed) {
		r->entries_done = 1;
		return rpc_call_close_send(r->call) == RPC_ERR_OK ? 0 : -1;
	}
	n = r->nneed - r->need_off;
	if (n > r->page_size)
		n = r->page_size;
	buf_init(&req, (size_t)r->a->cfg->max_message_size);
	for (i = 0; i < n && rc == 0; i++)
		rc = pbw_string(&req, 2, r->need[r->need_off + i]);
	if (rc == 0 && rpc_call_send(r->call, buf_ptr(&req), req.len) !=
	    RPC_ERR_OK)
		rc = -1;
	buf_cleanup(&req);
	r->need_off += n;
	r->awaiting = 1;
	return rc;
}

static void
sync_entries_message(struct rpc_call *call, const uint8_t *p, size_t len,
    void *arg)
{
	struct sync_run				*r = arg;
	spire_api_server_entry_v1_SyncAuthorizedEntriesResponse m;
	struct entry_rev			*nr;
	size_t					 i;

	if (r->a == NULL || r->entries_done)
		return;
	memset(&m, 0, sizeof(m));
	if (rpc_decode(p, len,
	    spire_api_server_entry_v1_SyncAuthorizedEntriesResponse_fields,
	    &m) == -1) {
		snprintf(r->err, sizeof(r->err), "malformed "
		    "SyncAuthorizedEntriesResponse");
		goto cancel;
	}
	if (!r->got_first) {
		r->got_first = 1;
		r->paged = m.entry_revisions_count > 0;
		r->page_size = m.entry_revisions_count;
	}
	if (!r->paged || r->awaiting) {
		/* Full entries: the whole list, or the ones asked for. */
		if (m.entry_revisions_count > 0) {
			snprintf(r->err, sizeof(r->err), "unexpected entry "
			    "revisions while receiving entries");
			goto cancel;
		}
		if (sync_take_entries(r, &m) == -1)
			goto cancel;
		if (!m.more) {
			if (!r->paged)
				r->entries_done = 1;
			else {
				r->awaiting = 0;
				if (sync_send_ids(r) == -1)
					goto cancel;
			}
		}
		goto out;
	}
	if (m.entries_count > 0) {
		snprintf(r->err, sizeof(r->err), "unexpected entries while "
		    "receiving revisions");
		goto cancel;
	}
	for (i = 0; i < m.entry_revisions_count; i++) {
		if (r->nrevs == AGENT_ENTRIES_MAX) {
			snprintf(r->err, sizeof(r->err), "more than %d "
			    "entries", AGENT_ENTRIES_MAX);
			goto cancel;
		}
		if (r->nrevs == r->caprevs) {
			r->caprevs = r->caprevs == 0 ? 512 : r->caprevs * 2;
			nr = mem_reallocarray(r->revs, r->caprevs,
			    sizeof(*nr));
			if (nr == NULL)
				goto cancel;
			r->revs = nr;
		}
		nr = &r->revs[r->nrevs];
		nr->id = mem_strdup(m.entry_revisions[i].id != NULL ?
		    m.entry_revisions[i].id : "");
		if (nr->id == NULL)
			goto cancel;
		nr->revision = m.entry_revisions[i].revision_number;
		nr->created_at = m.entry_revisions[i].created_at;
		r->nrevs++;
	}
	if (!m.more) {
		r->keep = mem_calloc(r->a->nentries + 1, 1);
		if (r->keep == NULL || entries_diff(r->a->entries,
		    r->a->nentries, r->revs, r->nrevs, r->keep, &r->need,
		    &r->nneed) == -1)
			goto cancel;
		log_debug("agent", "sync: %zu entry revisions in pages of %zu; "
		    "%zu entries to fetch", r->nrevs, r->page_size, r->nneed);
		if (sync_send_ids(r) == -1)
			goto cancel;
	}
	goto out;
cancel:
	if (r->err[0] == '\0')
		snprintf(r->err, sizeof(r->err), "out of memory");
	rpc_call_cancel(call);
out:
	pb_release(
	    spire_api_server_entry_v1_SyncAuthorizedEntriesResponse_fields,
	    &m);
}

static void
sync_entries_close(struct rpc_call *call, const struct rpc_result *res,
    void *arg)
{
	struct sync_run	*r = arg;
	int		 reason;

	(void)call;
	r->call = NULL;
	if (r->a == NULL) {
		sync_release(r);
		return;
	}
	if (!r->entries_done || (res->code != GRPC_STATUS_OK &&
	    res->code != GRPC_STATUS_CANCELLED)) {
		reason = res->code == GRPC_STATUS_PERMISSION_DENIED ?
		    srvconn_pd_reason(res->details, res->details_len) : -1;
		if (r->err[0] == '\0')
			snprintf(r->err, sizeof(r->err), "%s",
			    res->message != NULL && *res->message != '\0' ?
			    res->message : "stream ended early");
		sync_fail(r, res->code == GRPC_STATUS_OK ?
		    GRPC_STATUS_INTERNAL : res->code, reason, r->err);
		return;
	}
	if (!r->paged && r->keep == NULL) {
		/* The full list: every cached entry not in it goes. */
		r->keep = mem_calloc(r->a->nentries + 1, 1);
		if (r->keep == NULL) {
			sync_fail(r, GRPC_STATUS_RESOURCE_EXHAUSTED, -1,
			    "out of memory");
			return;
		}
	}
	if (sync_build_final(r) == -1) {
		sync_fail(r, GRPC_STATUS_INTERNAL, -1, r->err[0] != '\0' ?
		    r->err : "out of memory");
		return;
	}
	sync_bundles(r);
}

/*
 * The new entry set: the cached entries the server still lists
 * unchanged (keep[]) and the full entries received, sorted by id; and
 * the trust domains they federate with.
 */
static int
sync_build_final(struct sync_run *r)
{
	struct agent	*a = r->a;
	size_t		 i, j, k = 0, nt = 0;
	char		**tds;

	r->final = mem_calloc(a->nentries + r->nfresh + 1,
	    sizeof(*r->final));
	if (r->final == NULL)
		return -1;
	/*
	 * A fresh entry replaces a cached one of the same id and inherits
	 * its SVID (which a newer revision makes due).
	 */
	for (i = 0; i < r->nfresh; i++) {
		struct agent_entry *e = r->fresh[i].e;
		struct agent_entry *old = agent_entry_find(a, e->id);

		if (old != NULL) {
			e->has_svid = old->has_svid;
			e->svid_not_before = old->svid_not_before;
			e->svid_expires = old->svid_expires;
			e->svid_rotate_at = old->svid_rotate_at;
			e->svid_revision = old->svid_revision;
			e->last_used = old->last_used;
			e->subs = old->subs;
		}
		r->final[k++] = e;
	}
	for (i = 0; i < a->nentries; i++) {
		if (!r->keep[i])
			continue;
		for (j = 0; j < r->nfresh; j++)
			if (strcmp(r->fresh[j].e->id, a->entries[i]->id) == 0)
				break;
		if (j == r->nfresh)
			r->final[k++] = a->entries[i];
	}
	r->nfinal = k;
	if (entries_sort(r->final, r->nfinal) == -1) {
		snprintf(r->err, sizeof(r->err), "server sent an entry id "
		    "twice");
		return -1;
	}
	for (i = 0; i < r->nfinal; i++)
		nt += r->final[i]->nfed;
	if (nt == 0)
		return 0;
	tds = mem_calloc(nt, sizeof(*tds));
	if (tds == NULL)
		return -1;
	r->fed_tds = tds;
	for (i = 0; i < r->nfinal; i++)
		for (j = 0; j < r->final[i]->nfed; j++) {
			if (strcmp(r->final[i]->fed[j], a->td) == 0)
				continue;
			tds[r->nfed_tds] = mem_strdup(r->final[i]->fed[j]);
			if (tds[r->nfed_tds] == NULL)
				return -1;
			r->nfed_tds++;
		}
	selectors_sort(r->fed_tds, &r->nfed_tds);
	if (r->nfed_tds > AGENT_BUNDLES_MAX)
		r->nfed_tds = AGENT_BUNDLES_MAX;
	return 0;
}

static void
sync_bundles(struct sync_run *r)
{
	sync_bundle_ask(r, BUNDLE_PATH, NULL, sync_bundle_done);
}

/*
 * Asks the server for one bundle at path, done answering: the own one
 * (td NULL, an empty request) or td's. A request that cannot be built
 * or queued ends the run as out of memory.
 */
static void
sync_bundle_ask(struct sync_run *r, const char *path, const char *td,
    srv_unary_fn done)
{
	struct buf	 req;

	/* Room for a trust domain name and its tag. */
	buf_init(&req, 512);
	if ((td != NULL && pbw_string(&req, 1, td) == -1) ||
	    srvconn_unary(r->a, r->a->chan, path, &req, done, r) == -1) {
		buf_cleanup(&req);
		sync_fail(r, GRPC_STATUS_RESOURCE_EXHAUSTED, -1,
		    "out of memory");
		return;
	}
	buf_cleanup(&req);
	r->unary = 1;
}

/*
 * The start of each unary reply of a run: 1 to go on with res, or 0
 * when the run was detached meanwhile (released here) or, with what
 * set, when the call failed (the run failed with "what: message").
 */
static int
sync_reply(struct sync_run *r, const struct srv_result *res,
    const char *what)
{
	char	err[256];

	r->unary = 0;
	if (r->a == NULL) {
		sync_release(r);
		return 0;
	}
	if (what != NULL && res->code != GRPC_STATUS_OK) {
		snprintf(err, sizeof(err), "%s: %s", what, res->message);
		sync_fail(r, res->code, res->pd_reason, err);
		return 0;
	}
	return 1;
}

static void
sync_bundle_done(struct agent *a, void *arg, const struct srv_result *res)
{
	struct sync_run		*r = arg;
	spire_api_types_Bundle	 pb;
	char			 err[256];

	(void)a;
	if (!sync_reply(r, res, "GetBundle"))
		return;
	memset(&pb, 0, sizeof(pb));
	if (rpc_decode(res->resp, res->resp_len,
	    spire_api_types_Bundle_fields, &pb) == -1) {
		sync_fail(r, GRPC_STATUS_INTERNAL, -1, "malformed bundle");
		return;
	}
	if (srvconn_bundle_from_pb(&pb, &r->own, err, sizeof(err)) == -1) {
		pb_release(spire_api_types_Bundle_fields, &pb);
		sync_fail(r, GRPC_STATUS_INTERNAL, -1, err);
		return;
	}
	pb_release(spire_api_types_Bundle_fields, &pb);
	r->has_own = 1;
	if (strcmp(r->own.trust_domain, r->a->td) != 0 ||
	    r->own.nx509 == 0) {
		sync_fail(r, GRPC_STATUS_INTERNAL, -1, "server sent the "
		    "bundle of another trust domain, or no root");
		return;
	}
	sync_fed_next(r);
}

static void
sync_fed_next(struct sync_run *r)
{
	if (r->fed_i == r->nfed_tds) {
		sync_svids(r);
		return;
	}
	sync_bundle_ask(r, FEDBUNDLE_PATH, r->fed_tds[r->fed_i],
	    sync_fed_done);
}

static void
sync_fed_done(struct agent *a, void *arg, const struct srv_result *res)
{
	struct sync_run		*r = arg;
	spire_api_types_Bundle	 pb;
	struct bundle		*nb;
	const char		*td;
	char			 err[256];

	(void)a;
	if (!sync_reply(r, res, NULL))
		return;
	td = r->fed_tds[r->fed_i++];
	if (res->code == GRPC_STATUS_NOT_FOUND) {
		log_kv(LOG_LEVEL_WARN, "agent", "federated bundle not found",
		    "trust_domain", td, (const char *)NULL);
		sync_fed_next(r);
		return;
	}
	if (res->code != GRPC_STATUS_OK) {
		snprintf(err, sizeof(err), "GetFederatedBundle %s: %s", td,
		    res->message);
		sync_fail(r, res->code, res->pd_reason, err);
		return;
	}
	nb = mem_reallocarray(r->fed, r->nfed + 1, sizeof(*nb));
	if (nb == NULL) {
		sync_fail(r, GRPC_STATUS_RESOURCE_EXHAUSTED, -1,
		    "out of memory");
		return;
	}
	r->fed = nb;
	memset(&pb, 0, sizeof(pb));
	if (rpc_decode(res->resp, res->resp_len,
	    spire_api_types_Bundle_fields, &pb) == -1 ||
	    srvconn_bundle_from_pb(&pb, &r->fed[r->nfed], err,
	    sizeof(err)) == -1) {
		pb_release(spire_api_types_Bundle_fields, &pb);
		log_kv(LOG_LEVEL_WARN, "agent", "federated bundle unusable",
		    "trust_domain", td, (const char *)NULL);
		sync_fed_next(r);
		return;
	}
	pb_release(spire_api_types_Bundle_fields, &pb);
	if (strcmp(r->fed[r->nfed].trust_domain, td) != 0) {
		bundle_cleanup(&r->fed[r->nfed]);
		log_kv(LOG_LEVEL_WARN, "agent", "server sent the bundle of "
		    "another trust domain", "trust_domain", td,
		    (const char *)NULL);
	} else
		r->nfed++;
	sync_fed_next(r);
}

/* The entry's SVID must be (re)made now. */
static int
sync_svid_due(const struct agent *a, const struct agent_entry *e)
{
	if (e->store_svid || e->in_flight)
		return 0;
	return !e->has_svid || e->svid_rotate_at <= agent_now(a) ||
	    e->svid_revision != e->revision;
}

/*
 * Picks the entries whose SVIDs are due, those workloads wait for
 * first, within the CSR batch and the cache's size; the keys and CSRs
 * are made on the worker.
 */
static void
sync_svids(struct sync_run *r)
{
	struct agent		*a = r->a;
	struct agent_entry	*e;
	size_t			 i, pass, n = 0, held = 0, max;

	max = (size_t)a->cfg->x509_svid_cache_max_size;
	for (i = 0; i < r->nfinal; i++)
		if (r->final[i]->has_svid && !sync_svid_due(a, r->final[i]))
			held++;
	r->csrs = mem_calloc(a->csr_batch + 1, sizeof(*r->csrs));
	if (r->csrs == NULL) {
		sync_commit(r);
		return;
	}
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < r->nfinal; i++) {
			e = r->final[i];
			if (!sync_svid_due(a, e) ||
			    (pass == 0) != (e->subs > 0))
				continue;
			/* Beyond the cache's size only what is in use. */
			if (!e->has_svid && e->subs == 0 && held + n >= max)
				continue;
			if (n == a->csr_batch) {
				r->more_svids = 1;
				break;
			}
			r->csrs[n].entry_id = mem_strdup(e->id);
			r->csrs[n].spiffe_id = mem_strdup(e->spiffe_id);
			buf_init(&r->csrs[n].chain, 256 * 1024);
			n++;
			if (r->csrs[n - 1].entry_id == NULL ||
			    r->csrs[n - 1].spiffe_id == NULL) {
				r->ncsrs = n;
				sync_commit(r);
				return;
			}
		}
	r->ncsrs = n;
	if (n == 0) {
		sync_commit(r);
		return;
	}
	if (worker_submit(a->worker, sync_csr_run, sync_csr_done, r) == -1) {
		log_warnx("agent", "worker queue full: SVIDs wait for the "
		    "next sync");
		r->svid_failed = 1;
		sync_commit(r);
		return;
	}
	r->job = 1;
}

/* On the worker: a key and a CSR per item (C=US, O=SPIRE, URI SAN). */
static void
sync_csr_run(void *arg)
{
	struct sync_run		*r = arg;
	struct cert_name	 nm;
	struct key		*k;
	enum key_err		 ke;
	const uint8_t		*spki;
	uint8_t			*subj = NULL;
	size_t			 i, subj_len, sl;

	memset(&nm, 0, sizeof(nm));
	nm.country[0] = "US";
	nm.organization[0] = "SPIRE";
	if (cert_name_encode(&nm, &subj, &subj_len) == -1)
		return;
	for (i = 0; i < r->ncsrs; i++) {
		k = key_soft_generate(KEY_EC_P256, &ke);
		if (k == NULL)
			continue;
		spki = key_spki(k, &sl);
		r->csrs[i].spki = mem_alloc(sl);
		if (r->csrs[i].spki != NULL &&
		    key_export_pkcs8(k, &r->csrs[i].pkcs8,
		    &r->csrs[i].pkcs8_len) == KEY_OK &&
		    cert_csr_create(k, subj, subj_len, r->csrs[i].spiffe_id,
		    &r->csrs[i].csr, &r->csrs[i].csr_len) == 0) {
			memcpy(r->csrs[i].spki, spki, sl);
			r->csrs[i].spki_len = sl;
		}
		key_free(k);
	}
	mem_free(subj);
	key_soft_trim();	/* this thread's EC tables: megabytes */
}

static void
sync_csr_done(void *arg, int cancelled)
{
	struct sync_run	*r = arg;
	struct buf	 req, p;
	size_t		 i, n = 0;

	r->job = 0;
	if (r->a == NULL || cancelled) {
		if (r->a != NULL)
			sync_fail(r, GRPC_STATUS_CANCELLED, -1, "stopping");
		else
			sync_release(r);
		return;
	}
	buf_init(&req, (size_t)r->a->cfg->max_message_size);
	buf_init(&p, 64 * 1024);
	for (i = 0; i < r->ncsrs; i++) {
		if (r->csrs[i].csr == NULL || r->csrs[i].spki_len == 0)
			continue;
		buf_reset(&p);
		if (pbw_string(&p, 1, r->csrs[i].entry_id) == -1 ||
		    pbw_bytes(&p, 2, r->csrs[i].csr, r->csrs[i].csr_len) ==
		    -1 || pbw_message(&req, 1, &p) == -1)
			break;
		n++;
	}
	buf_cleanup(&p);
	if (n != r->ncsrs || srvconn_unary(r->a, r->a->chan, BATCH_PATH,
	    &req, sync_batch_done, r) == -1) {
		buf_cleanup(&req);
		log_warnx("agent", "cannot build the SVID request");
		r->svid_failed = 1;
		sync_commit(r);
		return;
	}
	buf_cleanup(&req);
	r->unary = 1;
}

/* The issued leaf's validity and its renewal time. 0 or -1. */
static int
sync_leaf_times(struct csr_item *c)
{
	const uint8_t		*der[X509_CHAIN_MAX];
	size_t			 lens[X509_CHAIN_MAX], n;
	struct x509_cert	 leaf;

	if (chain_split(buf_ptr(&c->chain), c->chain.len, der, lens,
	    X509_CHAIN_MAX, &n) == -1 ||
	    x509_parse(der[0], lens[0], &leaf) != X509_OK)
		return -1;
	c->not_before = leaf.not_before;
	c->expires = leaf.not_after;
	c->rotate_at = rotation_time(leaf.not_before, leaf.not_after,
	    rotation_random());
	return 0;
}

static void
sync_batch_done(struct agent *a, void *arg, const struct srv_result *res)
{
	struct sync_run					*r = arg;
	spire_api_server_svid_v1_BatchNewX509SVIDResponse m;
	const spire_api_types_X509SVID			*s;
	struct csr_item					*c;
	size_t						 i, j;
	char						 err[256];

	(void)a;
	if (!sync_reply(r, res, NULL))
		return;
	if (res->code != GRPC_STATUS_OK) {
		log_kv(LOG_LEVEL_ERROR, "agent", "failed to batch new X509 "
		    "SVIDs", "code", grpc_status_name((int)res->code),
		    "error", res->message, (const char *)NULL);
		if (res->code == GRPC_STATUS_PERMISSION_DENIED &&
		    res->pd_reason > 0) {
			sync_fail(r, res->code, res->pd_reason, res->message);
			return;
		}
		if (r->a->csr_batch > 1)
			r->a->csr_batch /= 2;
		r->svid_failed = 1;
		sync_commit(r);
		return;
	}
	r->a->csr_batch = AGENT_CSR_BATCH_MAX;
	memset(&m, 0, sizeof(m));
	if (rpc_decode(res->resp, res->resp_len,
	    spire_api_server_svid_v1_BatchNewX509SVIDResponse_fields,
	    &m) == -1 || m.results_count != r->ncsrs) {
		pb_release(
		    spire_api_server_svid_v1_BatchNewX509SVIDResponse_fields,
		    &m);
		log_warnx("agent", "BatchNewX509SVID: malformed response");
		r->svid_failed = 1;
		sync_commit(r);
		return;
	}
	for (i = 0; i < m.results_count; i++) {
		c = &r->csrs[i];
		if (m.results[i].has_status && m.results[i].status.code != 0) {
			log_kv(LOG_LEVEL_WARN, "agent", "failed to mint X509 "
			    "SVID", "entry_id", c->entry_id, "error",
			    m.results[i].status.message, (const char *)NULL);
			continue;
		}
		if (!m.results[i].has_svid)
			continue;
		s = &m.results[i].svid;
		buf_reset(&c->chain);
		for (j = 0; j < s->cert_chain_count; j++)
			if (s->cert_chain[j] == NULL ||
			    buf_append(&c->chain, s->cert_chain[j]->bytes,
			    s->cert_chain[j]->size) == -1)
				break;
		if (j != s->cert_chain_count || c->chain.len == 0) {
			log_kv(LOG_LEVEL_WARN, "agent", "SVID chain unusable",
			    "entry_id", c->entry_id, (const char *)NULL);
			continue;
		}
		if (srvconn_verify_svid(r->a, &r->own, buf_ptr(&c->chain),
		    c->chain.len, c->spiffe_id, c->spki, c->spki_len, err,
		    sizeof(err)) == -1 || sync_leaf_times(c) == -1) {
			log_kv(LOG_LEVEL_ERROR, "agent", "server sent an SVID "
			    "we cannot accept; the old one stays",
			    "entry_id", c->entry_id, "spiffe_id",
			    c->spiffe_id, "error", err, (const char *)NULL);
			continue;
		}
		c->ok = 1;
	}
	pb_release(spire_api_server_svid_v1_BatchNewX509SVIDResponse_fields,
	    &m);
	sync_commit(r);
}

/* Everything of this cycle in one write transaction. */
struct commit_ctx {
	struct sync_run	*r;
	int64_t		 now;
};

static enum store_err
sync_commit_txn(struct store_txn *txn, void *arg)
{
	struct commit_ctx	*cc = arg;
	struct sync_run		*r = cc->r;
	struct agent		*a = r->a;
	struct agent_svid_rec	 rec;
	struct agent_entry	*e;
	size_t			 i, j;
	struct buf		 b;
	enum store_err		 se;
	int			 found;

	buf_init(&b, (size_t)a->cfg->max_message_size);
	/* Dropped entries and their SVIDs. */
	for (i = 0; i < a->nentries; i++) {
		e = a->entries[i];
		found = 0;
		for (j = 0; j < r->nfinal && !found; j++)
			found = strcmp(r->final[j]->id, e->id) == 0;
		if (found)
			continue;
		se = store_del(txn, CACHE_T_ENTRIES, e->id, strlen(e->id),
		    NULL, 0);
		if (se != STORE_OK && se != STORE_NOTFOUND)
			goto out;
		se = store_del(txn, CACHE_T_SVIDS, e->id, strlen(e->id),
		    NULL, 0);
		if (se != STORE_OK && se != STORE_NOTFOUND)
			goto out;
	}
	for (i = 0; i < r->nfresh; i++) {
		se = store_put(txn, CACHE_T_ENTRIES, r->fresh[i].e->id,
		    strlen(r->fresh[i].e->id), r->fresh[i].pb,
		    r->fresh[i].pb_len, 0);
		if (se != STORE_OK)
			goto out;
	}
	/* Bundles: the own one and the federated ones still named. */
	se = STORE_NOMEM;
	buf_reset(&b);
	if (cache_bundle_encode(&r->own, &b) == -1)
		goto out;
	se = store_put(txn, CACHE_T_BUNDLES, a->td, strlen(a->td),
	    buf_ptr(&b), b.len, 0);
	if (se != STORE_OK)
		goto out;
	for (i = 0; i < a->nfed; i++) {
		found = 0;
		for (j = 0; j < r->nfed && !found; j++)
			found = strcmp(r->fed[j].trust_domain,
			    a->fed[i].trust_domain) == 0;
		if (!found) {
			se = store_del(txn, CACHE_T_BUNDLES,
			    a->fed[i].trust_domain,
			    strlen(a->fed[i].trust_domain), NULL, 0);
			if (se != STORE_OK && se != STORE_NOTFOUND)
				goto out;
		}
	}
	for (i = 0; i < r->nfed; i++) {
		buf_reset(&b);
		se = STORE_NOMEM;
		if (cache_bundle_encode(&r->fed[i], &b) == -1)
			goto out;
		se = store_put(txn, CACHE_T_BUNDLES, r->fed[i].trust_domain,
		    strlen(r->fed[i].trust_domain), buf_ptr(&b), b.len, 0);
		if (se != STORE_OK)
			goto out;
	}
	/* New SVIDs with their keys. */
	for (i = 0; i < r->ncsrs; i++) {
		struct csr_item *c = &r->csrs[i];

		if (!c->ok)
			continue;
		e = NULL;
		for (j = 0; j < r->nfinal && e == NULL; j++)
			if (strcmp(r->final[j]->id, c->entry_id) == 0)
				e = r->final[j];
		if (e == NULL)
			continue;
		memset(&rec, 0, sizeof(rec));
		rec.not_before = c->not_before;
		rec.expires = c->expires;
		rec.rotate_at = c->rotate_at;
		rec.revision = e->revision;
		rec.chain = buf_ptr(&c->chain);
		rec.chain_len = c->chain.len;
		rec.key = c->pkcs8;
		rec.key_len = c->pkcs8_len;
		buf_reset(&b);
		se = STORE_NOMEM;
		if (cache_svid_encode(&rec, &b) == -1)
			goto out;
		se = store_put(txn, CACHE_T_SVIDS, e->id, strlen(e->id),
		    buf_ptr(&b), b.len, 0);
		if (se != STORE_OK)
			goto out;
	}
	se = store_put(txn, CACHE_T_AGENT, "synced", 6, "1", 1, 0);
out:
	mem_wipe(b.data, b.cap);
	buf_cleanup(&b);
	(void)cc->now;
	return se;
}

/* The memory view follows the committed store. */
static void
sync_apply(struct sync_run *r)
{
	struct agent		*a = r->a;
	struct agent_entry	*old, *e;
	struct csr_item		*c;
	size_t			 i, j;
	int			 changed = 0;

	for (i = 0; i < r->nfresh; i++) {
		e = r->fresh[i].e;
		old = agent_entry_find(a, e->id);
		if (old == NULL || old->revision != e->revision ||
		    strcmp(old->hint, e->hint) != 0 || old->nsel != e->nsel ||
		    old->nfed != e->nfed)
			changed = 1;
	}
	/* Entries gone, or replaced by a fresh copy, are freed. */
	for (i = 0; i < a->nentries; i++) {
		for (j = 0; j < r->nfinal; j++)
			if (r->final[j] == a->entries[i])
				break;
		if (j == r->nfinal) {
			jwt_cache_prune(a, a->entries[i]->id);
			entry_free(a->entries[i]);
			changed = 1;
		}
	}
	mem_free(a->entries);
	a->entries = r->final;
	a->nentries = r->nfinal;
	r->final = NULL;
	r->nfinal = 0;
	/* The fresh entries now belong to the agent. */
	for (i = 0; i < r->nfresh; i++) {
		r->fresh[i].e = NULL;
		mem_free(r->fresh[i].pb);
		r->fresh[i].pb = NULL;
	}
	r->nfresh = 0;
	for (i = 0; i < r->ncsrs; i++) {
		c = &r->csrs[i];
		if (!c->ok || (e = agent_entry_find(a, c->entry_id)) == NULL)
			continue;
		e->has_svid = 1;
		e->svid_not_before = c->not_before;
		e->svid_expires = c->expires;
		e->svid_rotate_at = c->rotate_at;
		e->svid_revision = e->revision;
		changed = 1;
		log_kv(LOG_LEVEL_INFO, "agent", "X509-SVID updated",
		    "entry_id", e->id, "spiffe_id", e->spiffe_id,
		    (const char *)NULL);
	}
	if (!a->has_bundle || !bundle_equal(&a->bundle, &r->own))
		changed = 1;
	if (a->has_bundle)
		bundle_cleanup(&a->bundle);
	a->bundle = r->own;
	a->has_bundle = 1;
	r->has_own = 0;
	if (a->nfed != r->nfed)
		changed = 1;
	for (i = 0; i < a->nfed; i++) {
		if (i < r->nfed && !bundle_equal(&a->fed[i], &r->fed[i]))
			changed = 1;
		bundle_cleanup(&a->fed[i]);
	}
	mem_free(a->fed);
	a->fed = r->fed;
	a->nfed = r->nfed;
	r->fed = NULL;
	r->nfed = 0;
	if (changed)
		agent_changed(a);
}

static void
sync_commit(struct sync_run *r)
{
	struct commit_ctx	 cc;
	enum store_err		 se;

	cc.r = r;
	cc.now = agent_now(r->a);
	se = store_txn_run(r->a->store, sync_commit_txn, &cc);
	if (se != STORE_OK) {
		log_kv(LOG_LEVEL_ERROR, "agent", "cannot store the sync; the "
		    "cache keeps what it had", "error", store_strerror(se),
		    (const char *)NULL);
		sync_fail(r, GRPC_STATUS_INTERNAL, -1, "store failed");
		return;
	}
	sync_apply(r);
	agent_set_ready(r->a);
	sync_own_svid(r);
}

/* The agent's own SVID, once due. */
static void
sync_own_svid(struct sync_run *r)
{
	struct agent	*a = r->a;

	if (!a->has_svid || a->svid.rotate_at > agent_now(a)) {
		sync_end(r, !r->svid_failed);
		return;
	}
	if (a->svid.reattestable) {
		log_info("agent", "agent SVID is due: attesting again");
		sync_end(r, 1);
		attest_start(a);
		return;
	}
	log_info("agent", "agent SVID is due: renewing");
	/* A new key (in the TPM: made on the worker), then its CSR. */
	r->job = 1;
	if (ownkey_make(a, sync_key_made, r) == -1) {
		r->job = 0;
		log_warnx("agent", "cannot make the new agent key");
		sync_end(r, 0);
	}
}

static void
sync_key_made(void *arg, struct agent_key *k, const char *err)
{
	struct sync_run	*r = arg;

	r->job = 0;
	if (r->a == NULL) {
		ownkey_unref(k);
		sync_release(r);
		return;
	}
	if (k == NULL) {
		log_kv(LOG_LEVEL_ERROR, "agent", "cannot renew the agent SVID",
		    "error", err, (const char *)NULL);
		sync_end(r, 0);
		return;
	}
	r->renew_key = k;
	r->job = 1;
	if (ownkey_csr(r->a, k, sync_csr_made, r) == -1) {
		r->job = 0;
		sync_end(r, 0);
	}
}

static void
sync_csr_made(void *arg, const uint8_t *csr, size_t len, const char *err)
{
	struct sync_run	*r = arg;
	struct buf	 req, p;

	r->job = 0;
	if (r->a == NULL) {
		sync_release(r);
		return;
	}
	if (csr == NULL) {
		log_kv(LOG_LEVEL_ERROR, "agent", "cannot renew the agent SVID",
		    "error", err, (const char *)NULL);
		sync_end(r, 0);
		return;
	}
	buf_init(&req, 64 * 1024);
	buf_init(&p, 64 * 1024);
	if (pbw_bytes(&p, 1, csr, len) == -1 ||
	    pbw_message(&req, 1, &p) == -1 ||
	    srvconn_unary(r->a, r->a->chan, RENEW_PATH, &req, sync_renew_done,
	    r) == -1) {
		log_warnx("agent", "cannot build the RenewAgent request");
		sync_end(r, 0);
	} else
		r->unary = 1;
	buf_cleanup(&p);
	buf_cleanup(&req);
}

static void
sync_renew_done(struct agent *a, void *arg, const struct srv_result *res)
{
	struct sync_run					*r = arg;
	spire_api_server_agent_v1_RenewAgentResponse	 m;
	struct agent_svid				 s;
	struct buf					 chain;
	const uint8_t					*spki;
	size_t						 i, sl;
	char						 err[256];

	(void)a;
	if (!sync_reply(r, res, "RenewAgent"))
		return;
	memset(&m, 0, sizeof(m));
	buf_init(&chain, 256 * 1024);
	err[0] = '\0';
	if (rpc_decode(res->resp, res->resp_len,
	    spire_api_server_agent_v1_RenewAgentResponse_fields, &m) == -1 ||
	    !m.has_svid) {
		snprintf(err, sizeof(err), "malformed RenewAgentResponse");
		goto fail;
	}
	for (i = 0; i < m.svid.cert_chain_count; i++)
		if (m.svid.cert_chain[i] == NULL || buf_append(&chain,
		    m.svid.cert_chain[i]->bytes, m.svid.cert_chain[i]->size) ==
		    -1) {
			snprintf(err, sizeof(err), "SVID chain unusable");
			goto fail;
		}
	spki = key_spki(r->renew_key->key, &sl);
	if (srvconn_verify_svid(r->a, NULL, buf_ptr(&chain), chain.len,
	    r->a->svid.id, spki, sl, err, sizeof(err)) == -1 ||
	    own_svid_from_chain(r->a, &s, buf_ptr(&chain), chain.len,
	    r->renew_key, err, sizeof(err)) == -1)
		goto fail;
	pb_release(spire_api_server_agent_v1_RenewAgentResponse_fields, &m);
	buf_cleanup(&chain);
	s.reattestable = 0;
	own_svid_set(r->a, &s);
	log_kv(LOG_LEVEL_INFO, "agent", "agent SVID renewed", "spiffe_id",
	    r->a->svid.id, (const char *)NULL);
	(void)cache_save_own_svid(r->a);
	if (srvconn_set_identity(r->a) == -1)
		log_warnx("agent", "cannot present the renewed SVID");
	sync_end(r, 1);
	return;
fail:
	pb_release(spire_api_server_agent_v1_RenewAgentResponse_fields, &m);
	buf_cleanup(&chain);
	log_kv(LOG_LEVEL_ERROR, "agent", "cannot renew the agent SVID",
	    "error", err, (const char *)NULL);
	sync_end(r, 0);
}

/* The cycle is over: schedule the next one. */
static void
sync_end(struct sync_run *r, int ok)
{
	struct agent	*a = r->a;
	double		 delay, base = (double)a->cfg->sync_interval;
	int64_t		 next, now;
	size_t		 i;
	int		 more = r->more_svids;

	sync_detach(r);
	/*
	 * Between syncs nothing needs wolfCrypt's precomputed EC tables
	 * (the Workload API does no ECC): give their megabytes back.
	 */
	key_soft_trim();
	(void)malloc_trim(0);
	if (!ok) {
		a->backoff_ms = rotation_backoff_next(a->backoff_ms, base,
		    base * 48 < AGENT_SYNC_BACKOFF_MAX_MS ? base * 48 :
		    AGENT_SYNC_BACKOFF_MAX_MS);
		delay = rotation_jitter(a->backoff_ms, rotation_random());
	} else {
		a->backoff_ms = 0;
		delay = rotation_jitter(base, rotation_random());
	}
	/* An SVID due before the next sync brings it forward. */
	now = agent_now(a);
	next = a->has_svid ? a->svid.rotate_at : INT64_MAX;
	for (i = 0; i < a->nentries; i++)
		if (a->entries[i]->has_svid &&
		    a->entries[i]->svid_rotate_at < next)
			next = a->entries[i]->svid_rotate_at;
	if (next != INT64_MAX && ok && (double)(next - now) * 1000. < delay)
		delay = next <= now ? 0 : (double)(next - now) * 1000.;
	if (more && ok)
		delay = 0;
	agent_schedule(a, delay);
}

void
sync_handle_denied(struct agent *a, int reason, const char *msg)
{
	switch (reason) {
	case spire_api_types_PermissionDeniedDetails_Reason_AGENT_BANNED:
		log_kv(LOG_LEVEL_ERROR, "agent", "agent is banned",
		    "error", msg, (const char *)NULL);
		(void)cache_drop_own_svid(a);
		agent_fatal(a, "the agent is banned");
		return;
	case spire_api_types_PermissionDeniedDetails_Reason_AGENT_EXPIRED:
	case spire_api_types_PermissionDeniedDetails_Reason_AGENT_NOT_ATTESTED:
	case spire_api_types_PermissionDeniedDetails_Reason_AGENT_NOT_ACTIVE:
	case spire_api_types_PermissionDeniedDetails_Reason_AGENT_MUST_REATTEST:
		/* spirelet run's local server gives a new token. */
		if (((a->cfg->plugin.node_attestor != AGENT_NA_X509POP &&
		    a->cfg->plugin.node_attestor != AGENT_NA_TPM_DEVID) ||
		    (a->cfg->join_token != NULL && *a->cfg->join_token)) &&
		    !(a->cfg->local != NULL && a->cfg->local->join_token !=
		    NULL && (a->cfg->join_token == NULL ||
		    *a->cfg->join_token == '\0'))) {
			agent_fatal(a, "the server wants the agent to attest "
			    "again, and its join token is spent");
			return;
		}
		log_kv(LOG_LEVEL_WARN, "agent", "server wants the agent to "
		    "attest again", "error", msg, (const char *)NULL);
		a->state = AGENT_ATTESTING;
		attest_start(a);
		return;
	default:
		break;
	}
}

static void
sync_fail(struct sync_run *r, enum grpc_status code, int reason,
    const char *why)
{
	struct agent	*a = r->a;
	char		 msg[256];

	/* why may be r->err, which goes with r. */
	snprintf(msg, sizeof(msg), "%s", why);
	log_kv(LOG_LEVEL_ERROR, "agent", "synchronize failed", "code",
	    grpc_status_name((int)code), "error", msg, (const char *)NULL);
	if (code == GRPC_STATUS_PERMISSION_DENIED && reason > 0) {
		sync_detach(r);
		sync_handle_denied(a, reason, msg);
		if (a->state == AGENT_STOPPED || a->attest != NULL)
			return;
		agent_schedule(a, AGENT_ATTEST_RETRY_MS);
		return;
	}
	sync_end(r, 0);
}
