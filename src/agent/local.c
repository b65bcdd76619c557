/*
 * The in-process consumer of one X509-SVID (agent_watch_x509): what a
 * Workload API client in this very process would get, without a socket.
 * spirelet run uses it for its link to a parent server: the agent
 * attested to the parent holds the SVID of the entry the parent made
 * for this gateway (downstream = true), and the server's "spire"
 * upstream signs its CAs with it.
 *
 * The process attests itself as the unix attestor attests any caller
 * (its pid), so the entry's selectors are what they would be for a
 * nested server with a separate agent on the host (unix:uid:0, ...).
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "agent/internal.h"
#include "core/log.h"
#include "core/mem.h"
#include "rpc/transport.h"
#include "store/store.h"

struct local_watch {
	struct agent	*a;
	int		 prefer_downstream;
	void		(*fn)(void *, const struct agent_x509 *);
	void		*arg;
	struct wl_attest *att;
	int		 attested;
	char		**sel;
	size_t		 nsel;
	int		 sent;		/* something was delivered */
	uint8_t		 last[WC_SHA256_DIGEST_SIZE];
	int		 gone;		/* unwatched while attesting */
};

static void	local_attested(struct agent *, void *, int, const char *,
		    char **, size_t);

static void
local_release(struct local_watch *w)
{
	strings_free(w->sel, w->nsel);
	mem_free(w);
}

static void
local_attested(struct agent *a, void *arg, int code, const char *err,
    char **sel, size_t nsel)
{
	struct local_watch	*w = arg;

	w->att = NULL;
	if (w->gone) {
		strings_free(sel, nsel);
		local_release(w);
		return;
	}
	if (code != GRPC_STATUS_OK) {
		log_kv(LOG_LEVEL_ERROR, "agent", "cannot attest this process",
		    "error", err, (const char *)NULL);
		return;
	}
	w->sel = sel;
	w->nsel = nsel;
	w->attested = 1;
	local_notify(a);
}

int
agent_watch_x509(struct agent *a, int prefer_downstream,
    void (*fn)(void *, const struct agent_x509 *), void *arg)
{
	struct transport_peer	 self;
	struct local_watch	*w;
	struct wl_attest	*att;

	if (a->watch != NULL)
		return -1;
	w = mem_calloc(1, sizeof(*w));
	if (w == NULL)
		return -1;
	w->a = a;
	w->prefer_downstream = prefer_downstream;
	w->fn = fn;
	w->arg = arg;
	a->watch = w;
	memset(&self, 0, sizeof(self));
	self.has_cred = 1;
	self.pid = getpid();
	self.uid = getuid();
	self.gid = getgid();
	(void)unixattest_start(a, &self, local_attested, w, &att);
	/* The callback may have run already. */
	if (att != NULL)
		w->att = att;
	return 0;
}

void
agent_unwatch_x509(struct agent *a)
{
	local_free(a);
}

void
local_free(struct agent *a)
{
	struct local_watch	*w = a->watch;

	if (w == NULL)
		return;
	a->watch = NULL;
	if (w->att != NULL) {
		/* Its callback releases the watch. */
		w->gone = 1;
		unixattest_cancel(w->att);
		return;
	}
	local_release(w);
}

/*
 * The oldest entry this process matches that has an SVID; with
 * prefer_downstream, the oldest of those marked downstream if any is.
 * (spire-server 1.13 tells agents an entry's admin flag in place of its
 * downstream flag, so the mark cannot be required.)
 */
static struct agent_entry *
local_pick(struct agent *a, const struct local_watch *w)
{
	struct agent_entry	*e, *best = NULL, *best_ds = NULL;
	size_t			 i;

	for (i = 0; i < a->nentries; i++) {
		e = a->entries[i];
		if (e->store_svid || !e->has_svid ||
		    e->svid_expires <= agent_now(a) ||
		    !selectors_subset(e->sel, e->nsel, w->sel, w->nsel))
			continue;
		if (best == NULL || e->created_at < best->created_at ||
		    (e->created_at == best->created_at &&
		    strcmp(e->id, best->id) < 0))
			best = e;
		if (e->downstream && (best_ds == NULL ||
		    e->created_at < best_ds->created_at ||
		    (e->created_at == best_ds->created_at &&
		    strcmp(e->id, best_ds->id) < 0)))
			best_ds = e;
	}
	return w->prefer_downstream && best_ds != NULL ? best_ds : best;
}

void
local_notify(struct agent *a)
{
	struct local_watch	*w = a->watch;
	struct agent_entry	*e;
	struct store_txn	*txn;
	struct store_val	 val;
	struct agent_svid_rec	 rec;
	struct agent_x509	 x;
	struct buf		 bdl;
	wc_Sha256		 h;
	uint8_t			 d[WC_SHA256_DIGEST_SIZE];
	size_t			 i;

	if (w == NULL || !w->attested || !a->ready) {
		return;
	}
	e = local_pick(a, w);
	if (e == NULL) {
		if (w->sent) {
			w->sent = 0;
			log_warnx("agent", "no SVID for this process any more");
			w->fn(w->arg, NULL);
		}
		return;
	}
	if (store_txn_begin(a->store, STORE_READ, &txn) != STORE_OK)
		return;
	buf_init(&bdl, AGENT_RESPONSE_MAX);
	if (store_get(txn, CACHE_T_SVIDS, e->id, strlen(e->id), &val) !=
	    STORE_OK || cache_svid_decode(val.data, val.len, &rec) == -1 ||
	    rec.key_len == 0)
		goto out;
	for (i = 0; a->has_bundle && i < a->bundle.nx509; i++)
		if (buf_append(&bdl, a->bundle.x509[i].der,
		    a->bundle.x509[i].len) == -1)
			goto out;
	/* Only a change is delivered. */
	if (wc_InitSha256(&h) != 0 ||
	    wc_Sha256Update(&h, (const uint8_t *)e->id,
	    (word32)strlen(e->id)) != 0 ||
	    wc_Sha256Update(&h, rec.chain, (word32)rec.chain_len) != 0 ||
	    wc_Sha256Update(&h, buf_ptr(&bdl), (word32)bdl.len) != 0 ||
	    wc_Sha256Final(&h, d) != 0)
		goto out;
	wc_Sha256Free(&h);
	if (w->sent && memcmp(d, w->last, sizeof(d)) == 0)
		goto out;
	memcpy(w->last, d, sizeof(d));
	w->sent = 1;
	memset(&x, 0, sizeof(x));
	x.spiffe_id = e->spiffe_id;
	x.chain = rec.chain;
	x.chain_len = rec.chain_len;
	x.key = rec.key;
	x.key_len = rec.key_len;
	x.bundle = buf_ptr(&bdl);
	x.bundle_len = bdl.len;
	x.expires_at = rec.expires;
	e->last_used = agent_now(a);
	/* The values live in the read transaction: call before it ends. */
	w->fn(w->arg, &x);
out:
	store_txn_abort(txn);
	buf_cleanup(&bdl);
}
