/*
 * The SPIFFE Workload API on the agent's Unix socket, as SPIRE serves
 * it: plaintext gRPC, every call carrying `workload.spiffe.io: true`,
 * the caller attested from its credentials, entries matched by selector
 * subset. FetchX509SVID, FetchX509Bundles and FetchJWTBundles are
 * streams that send the full state at once and again on every change
 * (identical responses are not repeated); FetchJWTSVID and
 * ValidateJWTSVID are unary.
 *
 * Back-pressure: a stream never queues more than rpc's per-stream cap;
 * when the queue is full the stream is marked dirty and only its latest
 * state is sent once the peer reads again, so a client that never reads
 * holds at most one queue's worth of memory.
 *
 * Responses are written by hand (pbw.c): x509_svid is concatenated DER,
 * x509_svid_key PKCS#8 DER, bundles concatenated DER keyed by
 * spiffe://<td>, JWT bundles standard JWK sets.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <pb_decode.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "agent/internal.h"
#include "core/log.h"
#include "core/mem.h"
#include "rpc/server.h"
#include "spiffe/id.h"
#include "spiffe/jwtsvid.h"
#include "spiffe/workload/workload.pb.h"
#include "store/store.h"

#define WL_HEADER	"workload.spiffe.io"
#define WL_JSON_DEPTH	32	/* nesting of JWT claims turned to Struct */

enum wl_kind {
	WL_X509SVID,
	WL_X509BUNDLES,
	WL_JWTSVID,
	WL_JWTBUNDLES,
	WL_VALIDATE,
};

struct wl_sub;

/* Where one JWT-SVID of a FetchJWTSVID answer goes. */
struct wl_slot {
	struct wl_sub		*s;
	size_t			 i;
};

struct wl_sub {
	struct agent		*a;
	struct rpc_call		*call;
	enum wl_kind		 kind;
	struct wl_attest	*att;
	char			**sel;
	size_t			 nsel;
	int			 listed;	/* on a->subs */
	int			 dirty;
	int			 sent;
	uint8_t			 last[WC_SHA256_DIGEST_SIZE];
	int			 gone;		/* call finished or cancelled */
	int			 busy;		/* held across a send: a send
						 * can cancel calls at once */
	/* FetchJWTSVID */
	char			**aud;
	size_t			 naud;
	char			*want_id;
	size_t			 jwt_pending;
	struct wl_slot		*slots;		/* one per matched entry */
	char			**tokens;	/* per matched entry */
	char			**jwt_ids;	/* copies: entries may go */
	char			**jwt_hints;
	size_t			 njwt;
	char			*jwt_err;
	/* ValidateJWTSVID */
	char			*vaud;
	char			*token;
	TAILQ_ENTRY(wl_sub)	 link;
};

static void	wl_on_call(struct rpc_call *, const uint8_t *, size_t, void *);
static void	wl_on_cancel(struct rpc_call *, enum grpc_status, void *);
static void	wl_on_writable(struct rpc_call *, void *);
static void	wl_attested(struct agent *, void *, int, const char *,
		    char **, size_t);
static void	wl_finish(struct wl_sub *, enum grpc_status, const char *);
static void	wl_release(struct wl_sub *);
static void	wl_send(struct wl_sub *);
static size_t	wl_match(struct agent *, const struct wl_sub *,
		    struct agent_entry ***out);
static void	wl_jwt_start(struct wl_sub *);
static void	wl_jwt_done(struct agent *, void *, const char *,
		    const char *);
static void	wl_jwt_complete(struct wl_sub *);
static void	wl_validate(struct wl_sub *);
static int	wl_struct(struct buf *, const json_t *, int depth);

static struct agent	*wl_agent;	/* the method table's argument */

static struct rpc_method wl_methods[] = {
	{ "/SpiffeWorkloadAPI/FetchX509SVID", RPC_SERVER_STREAM, wl_on_call,
	    NULL, NULL, wl_on_cancel, wl_on_writable,
	    (void *)(uintptr_t)WL_X509SVID },
	{ "/SpiffeWorkloadAPI/FetchX509Bundles", RPC_SERVER_STREAM,
	    wl_on_call, NULL, NULL, wl_on_cancel, wl_on_writable,
	    (void *)(uintptr_t)WL_X509BUNDLES },
	{ "/SpiffeWorkloadAPI/FetchJWTSVID", RPC_UNARY, wl_on_call, NULL,
	    NULL, wl_on_cancel, NULL, (void *)(uintptr_t)WL_JWTSVID },
	{ "/SpiffeWorkloadAPI/FetchJWTBundles", RPC_SERVER_STREAM,
	    wl_on_call, NULL, NULL, wl_on_cancel, wl_on_writable,
	    (void *)(uintptr_t)WL_JWTBUNDLES },
	{ "/SpiffeWorkloadAPI/ValidateJWTSVID", RPC_UNARY, wl_on_call, NULL,
	    NULL, wl_on_cancel, NULL, (void *)(uintptr_t)WL_VALIDATE },
};

int
workload_register(struct agent *a)
{
	wl_agent = a;
	return rpc_server_add_methods(a->api, wl_methods,
	    sizeof(wl_methods) / sizeof(wl_methods[0]));
}

static void
wl_release(struct wl_sub *s)
{
	if (!s->gone || s->jwt_pending > 0 || s->att != NULL || s->busy)
		return;
	if (s->listed) {
		TAILQ_REMOVE(&s->a->subs, s, link);
		s->a->nsubs--;
		s->listed = 0;
	}
	strings_free(s->sel, s->nsel);
	strings_free(s->aud, s->naud);
	strings_free(s->tokens, s->njwt);
	mem_free(s->slots);
	strings_free(s->jwt_ids, s->njwt);
	strings_free(s->jwt_hints, s->njwt);
	mem_free(s->jwt_err);
	mem_free(s->want_id);
	mem_free(s->vaud);
	if (s->token != NULL)
		mem_free_wipe(s->token, strlen(s->token));
	mem_free(s);
}

static void
wl_finish(struct wl_sub *s, enum grpc_status code, const char *msg)
{
	if (s->gone)
		return;
	s->gone = 1;
	if (s->listed) {
		TAILQ_REMOVE(&s->a->subs, s, link);
		s->a->nsubs--;
		s->listed = 0;
	}
	rpc_call_finish(s->call, code, msg, NULL, 0);
	s->call = NULL;
	wl_release(s);
}

static void
wl_on_cancel(struct rpc_call *call, enum grpc_status why, void *arg)
{
	struct wl_sub	*s = rpc_call_data(call);

	(void)arg;
	if (s == NULL) {
		rpc_call_finish(call, why, NULL, NULL, 0);
		return;
	}
	if (s->att != NULL) {
		unixattest_cancel(s->att);
		s->att = NULL;
	}
	wl_finish(s, why, NULL);
}

static void
wl_on_writable(struct rpc_call *call, void *arg)
{
	struct wl_sub	*s = rpc_call_data(call);

	(void)arg;
	if (s != NULL && s->dirty)
		wl_send(s);
}

static void
wl_on_call(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct agent		*a = wl_agent;
	enum wl_kind		 kind = (enum wl_kind)(uintptr_t)arg;
	const char		*hdr;
	JWTSVIDRequest		 jr;
	ValidateJWTSVIDRequest	 vr;
	struct spiffe_id	 id;
	struct wl_sub		*s;
	struct wl_attest	*att;
	size_t			 i;

	hdr = rpc_call_metadata(call, WL_HEADER);
	if (hdr == NULL || strcmp(hdr, "true") != 0) {
		rpc_call_finish(call, GRPC_STATUS_INVALID_ARGUMENT,
		    "security header missing from request", NULL, 0);
		return;
	}
	if (a->stopping) {
		rpc_call_finish(call, GRPC_STATUS_UNAVAILABLE,
		    "agent is stopping", NULL, 0);
		return;
	}
	if (kind != WL_JWTSVID && kind != WL_VALIDATE &&
	    a->nsubs >= AGENT_SUBSCRIBERS_MAX) {
		rpc_call_finish(call, GRPC_STATUS_RESOURCE_EXHAUSTED,
		    "too many Workload API streams", NULL, 0);
		return;
	}
	s = mem_calloc(1, sizeof(*s));
	if (s == NULL) {
		rpc_call_finish(call, GRPC_STATUS_RESOURCE_EXHAUSTED,
		    "out of memory", NULL, 0);
		return;
	}
	s->a = a;
	s->call = call;
	s->kind = kind;
	rpc_call_set_data(call, s);
	if (kind == WL_JWTSVID) {
		memset(&jr, 0, sizeof(jr));
		if (rpc_decode(req, len, JWTSVIDRequest_fields, &jr) == -1) {
			wl_finish(s, GRPC_STATUS_INVALID_ARGUMENT,
			    "malformed JWTSVIDRequest");
			return;
		}
		if (jr.audience_count == 0 || jr.audience_count >
		    AGENT_JWT_AUD_MAX) {
			pb_release(JWTSVIDRequest_fields, &jr);
			wl_finish(s, GRPC_STATUS_INVALID_ARGUMENT,
			    "audience must be specified");
			return;
		}
		if (jr.spiffe_id != NULL && *jr.spiffe_id != '\0' &&
		    spiffe_id_parse(jr.spiffe_id, strlen(jr.spiffe_id),
		    &id) != SPIFFE_OK) {
			pb_release(JWTSVIDRequest_fields, &jr);
			wl_finish(s, GRPC_STATUS_INVALID_ARGUMENT,
			    "invalid requested SPIFFE ID");
			return;
		}
		s->aud = mem_calloc(jr.audience_count, sizeof(*s->aud));
		for (i = 0; s->aud != NULL && i < jr.audience_count; i++) {
			s->aud[i] = mem_strdup(jr.audience[i] != NULL ?
			    jr.audience[i] : "");
			if (s->aud[i] == NULL)
				break;
			s->naud++;
		}
		if (jr.spiffe_id != NULL && *jr.spiffe_id != '\0')
			s->want_id = mem_strdup(jr.spiffe_id);
		i = jr.audience_count;
		pb_release(JWTSVIDRequest_fields, &jr);
		if (s->naud != i) {
			wl_finish(s, GRPC_STATUS_RESOURCE_EXHAUSTED,
			    "out of memory");
			return;
		}
		for (i = 0; i < s->naud; i++)
			if (*s->aud[i] == '\0') {
				wl_finish(s, GRPC_STATUS_INVALID_ARGUMENT,
				    "audience must be specified");
				return;
			}
	} else if (kind == WL_VALIDATE) {
		memset(&vr, 0, sizeof(vr));
		if (rpc_decode(req, len, ValidateJWTSVIDRequest_fields,
		    &vr) == -1) {
			wl_finish(s, GRPC_STATUS_INVALID_ARGUMENT,
			    "malformed ValidateJWTSVIDRequest");
			return;
		}
		if (vr.audience == NULL || *vr.audience == '\0' ||
		    vr.svid == NULL || *vr.svid == '\0') {
			wl_finish(s, GRPC_STATUS_INVALID_ARGUMENT,
			    vr.audience == NULL || *vr.audience == '\0' ?
			    "audience must be specified" :
			    "svid must be specified");
			pb_release(ValidateJWTSVIDRequest_fields, &vr);
			return;
		}
		s->vaud = mem_strdup(vr.audience);
		s->token = mem_strdup(vr.svid);
		pb_release(ValidateJWTSVIDRequest_fields, &vr);
		if (s->vaud == NULL || s->token == NULL) {
			wl_finish(s, GRPC_STATUS_RESOURCE_EXHAUSTED,
			    "out of memory");
			return;
		}
	}
	(void)unixattest_start(a, rpc_call_peer(call), wl_attested, s, &att);
	/* The callback may have run already and finished the call. */
	if (att != NULL)
		s->att = att;
}

static void
wl_attested(struct agent *a, void *arg, int code, const char *err,
    char **sel, size_t nsel)
{
	struct wl_sub	*s = arg;

	s->att = NULL;
	if (s->gone) {
		strings_free(sel, nsel);
		wl_release(s);
		return;
	}
	if (code != GRPC_STATUS_OK) {
		log_kv(LOG_LEVEL_WARN, "agent", "workload attestation failed",
		    "error", err, (const char *)NULL);
		wl_finish(s, (enum grpc_status)code, err);
		return;
	}
	s->sel = sel;
	s->nsel = nsel;
	if (!a->ready) {
		wl_finish(s, GRPC_STATUS_UNAVAILABLE, "agent is not ready: "
		    "it has not synced with the server yet");
		return;
	}
	switch (s->kind) {
	case WL_JWTSVID:
		wl_jwt_start(s);
		return;
	case WL_VALIDATE:
		wl_validate(s);
		return;
	default:
		break;
	}
	TAILQ_INSERT_TAIL(&a->subs, s, link);
	a->nsubs++;
	s->listed = 1;
	s->dirty = 1;
	wl_send(s);
}

static int
wl_created_cmp(const void *x, const void *y)
{
	const struct agent_entry *a = *(struct agent_entry *const *)x;
	const struct agent_entry *b = *(struct agent_entry *const *)y;

	if (a->created_at != b->created_at)
		return a->created_at < b->created_at ? -1 : 1;
	return strcmp(a->id, b->id);
}

/*
 * The entries that apply to the caller, oldest first, without those
 * whose non-empty hint an older entry already has (SPIRE keeps the
 * oldest). *out is a new array (mem_free); the count, 0 when none.
 */
static size_t
wl_match(struct agent *a, const struct wl_sub *s, struct agent_entry ***out)
{
	struct agent_entry	**v;
	size_t			 i, j, n = 0, k;

	*out = NULL;
	if (a->nentries == 0)
		return 0;
	v = mem_calloc(a->nentries, sizeof(*v));
	if (v == NULL)
		return 0;
	for (i = 0; i < a->nentries; i++)
		if (!a->entries[i]->store_svid &&
		    selectors_subset(a->entries[i]->sel, a->entries[i]->nsel,
		    s->sel, s->nsel))
			v[n++] = a->entries[i];
	qsort(v, n, sizeof(*v), wl_created_cmp);
	for (i = 0, k = 0; i < n; i++) {
		for (j = 0; j < k && *v[i]->hint != '\0'; j++)
			if (strcmp(v[j]->hint, v[i]->hint) == 0)
				break;
		if (*v[i]->hint != '\0' && j < k) {
			log_kv(LOG_LEVEL_DEBUG, "agent", "ignoring entry with "
			    "duplicate hint", "entry_id", v[i]->id, "hint",
			    v[i]->hint, (const char *)NULL);
			continue;
		}
		v[k++] = v[i];
	}
	if (k == 0) {
		mem_free(v);
		return 0;
	}
	*out = v;
	return k;
}

static int
wl_concat(const struct bundle *b, struct buf *out)
{
	size_t	 i;

	for (i = 0; i < b->nx509; i++)
		if (buf_append(out, b->x509[i].der, b->x509[i].len) == -1)
			return -1;
	return 0;
}

/* Adds one map<string, bytes> entry: spiffe://td -> bytes. */
static int
wl_map_entry(struct buf *out, unsigned field, const char *td,
    const void *p, size_t len)
{
	struct buf	 m;
	char		 key[SPIFFE_TD_MAX + 16];
	int		 rc;

	snprintf(key, sizeof(key), "spiffe://%s", td);
	buf_init(&m, AGENT_RESPONSE_MAX);
	rc = pbw_string(&m, 1, key) == -1 ||
	    pbw_bytes(&m, 2, p, len) == -1 ||
	    pbw_message(out, field, &m) == -1 ? -1 : 0;
	buf_cleanup(&m);
	return rc;
}

/* The trust domains the entries federate with, sorted, unique. */
static size_t
wl_feds(struct agent *a, struct agent_entry **v, size_t n, char ***out)
{
	char	**tds;
	size_t	 i, j, k = 0, total = 0;

	*out = NULL;
	for (i = 0; i < n; i++)
		total += v[i]->nfed;
	if (total == 0)
		return 0;
	tds = mem_calloc(total, sizeof(*tds));
	if (tds == NULL)
		return 0;
	for (i = 0; i < n; i++)
		for (j = 0; j < v[i]->nfed; j++)
			if (agent_find_bundle(a, v[i]->fed[j]) != NULL &&
			    strcmp(v[i]->fed[j], a->td) != 0 &&
			    (tds[k] = mem_strdup(v[i]->fed[j])) != NULL)
				k++;
	selectors_sort(tds, &k);
	*out = tds;
	return k;
}

/* FetchX509SVID's response; 1 when it must wait for SVIDs, -1 none. */
static int
wl_build_x509(struct wl_sub *s, struct agent_entry **v, size_t n,
    struct buf *out)
{
	struct agent		*a = s->a;
	struct store_txn	*txn;
	struct store_val	 val;
	struct agent_svid_rec	 rec;
	struct buf		 m, bdl;
	char			**tds;
	size_t			 i, ntd, got = 0, missing = 0;
	int			 rc = -1;

	for (i = 0; i < n; i++)
		if (!v[i]->has_svid)
			missing++;
	if (missing > 0 && a->state == AGENT_RUNNING)
		return 1;
	if (store_txn_begin(a->store, STORE_READ, &txn) != STORE_OK)
		return -2;
	buf_init(&m, AGENT_RESPONSE_MAX);
	buf_init(&bdl, AGENT_RESPONSE_MAX);
	if (a->has_bundle && wl_concat(&a->bundle, &bdl) == -1)
		goto out;
	for (i = 0; i < n; i++) {
		if (!v[i]->has_svid || store_get(txn, CACHE_T_SVIDS, v[i]->id,
		    strlen(v[i]->id), &val) != STORE_OK ||
		    cache_svid_decode(val.data, val.len, &rec) == -1 ||
		    rec.key_len == 0)
			continue;
		buf_reset(&m);
		if (pbw_string(&m, 1, v[i]->spiffe_id) == -1 ||
		    pbw_bytes(&m, 2, rec.chain, rec.chain_len) == -1 ||
		    pbw_bytes(&m, 3, rec.key, rec.key_len) == -1 ||
		    pbw_bytes(&m, 4, buf_ptr(&bdl), bdl.len) == -1 ||
		    pbw_string(&m, 5, v[i]->hint) == -1 ||
		    pbw_message(out, 1, &m) == -1)
			goto out;
		v[i]->last_used = agent_now(a);
		got++;
	}
	if (got == 0) {
		rc = -1;
		goto out;
	}
	ntd = wl_feds(a, v, n, &tds);
	for (i = 0; i < ntd; i++) {
		buf_reset(&bdl);
		if (wl_concat(agent_find_bundle(a, tds[i]), &bdl) == -1 ||
		    wl_map_entry(out, 3, tds[i], buf_ptr(&bdl), bdl.len) == -1)
			break;
	}
	strings_free(tds, ntd);
	rc = i == ntd ? 0 : -2;
out:
	store_txn_abort(txn);
	mem_wipe(m.data, m.cap);
	buf_cleanup(&m);
	buf_cleanup(&bdl);
	return rc;
}

/* The bundles streams' responses: own bundle, plus the federated ones. */
static int
wl_build_bundles(struct wl_sub *s, struct agent_entry **v, size_t n,
    struct buf *out)
{
	struct agent		*a = s->a;
	const struct bundle	*b;
	struct buf		 bdl;
	char			**tds = NULL, *jwks;
	size_t			 i, ntd;
	int			 rc = -1;

	if (!a->has_bundle)
		return -2;
	ntd = wl_feds(a, v, n, &tds);
	buf_init(&bdl, AGENT_RESPONSE_MAX);
	for (i = 0; i <= ntd; i++) {
		b = i == 0 ? &a->bundle : agent_find_bundle(a, tds[i - 1]);
		if (s->kind == WL_X509BUNDLES) {
			buf_reset(&bdl);
			if (wl_concat(b, &bdl) == -1 || wl_map_entry(out, 2,
			    b->trust_domain, buf_ptr(&bdl), bdl.len) == -1)
				goto out;
		} else {
			jwks = bundle_format_jwks(b);
			if (jwks == NULL)
				goto out;
			rc = wl_map_entry(out, 1, b->trust_domain, jwks,
			    strlen(jwks));
			mem_free(jwks);
			if (rc == -1)
				goto out;
		}
	}
	rc = 0;
out:
	strings_free(tds, ntd);
	buf_cleanup(&bdl);
	return rc;
}

/* Sends the stream's current state unless the client has it already. */
static void
wl_send(struct wl_sub *s)
{
	struct agent_entry	**v;
	struct buf		 out;
	uint8_t			 h[WC_SHA256_DIGEST_SIZE];
	size_t			 n;
	enum rpc_err		 e;
	int			 rc;

	if (s->gone || !s->dirty)
		return;
	n = wl_match(s->a, s, &v);
	if (n == 0) {
		mem_free(v);
		wl_finish(s, GRPC_STATUS_PERMISSION_DENIED,
		    "no identity issued");
		return;
	}
	buf_init(&out, AGENT_RESPONSE_MAX);
	if (s->kind == WL_X509SVID)
		rc = wl_build_x509(s, v, n, &out);
	else
		rc = wl_build_bundles(s, v, n, &out);
	mem_free(v);
	if (rc == 1) {
		/* SVIDs on their way: the next change sends them. */
		buf_cleanup(&out);
		return;
	}
	if (rc != 0) {
		mem_wipe(out.data, out.cap);
		buf_cleanup(&out);
		wl_finish(s, rc == -1 ? GRPC_STATUS_PERMISSION_DENIED :
		    GRPC_STATUS_UNAVAILABLE, rc == -1 ? "no identity issued" :
		    "could not serialize response");
		return;
	}
	if (wc_Sha256Hash(buf_ptr(&out), (word32)out.len, h) == 0 &&
	    s->sent && memcmp(h, s->last, sizeof(h)) == 0) {
		s->dirty = 0;
		mem_wipe(out.data, out.cap);
		buf_cleanup(&out);
		return;
	}
	s->busy++;
	e = rpc_call_send(s->call, buf_ptr(&out), out.len);
	s->busy--;
	mem_wipe(out.data, out.cap);
	buf_cleanup(&out);
	if (s->gone) {
		wl_release(s);
		return;
	}
	if (e == RPC_ERR_WOULDBLOCK)
		return;		/* dirty stays; on_writable sends */
	if (e != RPC_ERR_OK) {
		wl_finish(s, GRPC_STATUS_UNAVAILABLE, rpc_strerror(e));
		return;
	}
	memcpy(s->last, h, sizeof(h));
	s->sent = 1;
	s->dirty = 0;
}

/*
 * Something changed: every stream rebuilds its state. Every stream is
 * held while the pass runs, since one send can end other calls of its
 * connection; the ones that ended are released afterwards.
 */
void
workload_notify(struct agent *a)
{
	struct wl_sub		*s, **v;
	struct agent_entry	**m;
	size_t			 i, j, n, k = 0;

	for (i = 0; i < a->nentries; i++)
		a->entries[i]->subs = 0;
	if (a->nsubs == 0)
		return;
	v = mem_calloc(a->nsubs, sizeof(*v));
	if (v == NULL)
		return;
	TAILQ_FOREACH(s, &a->subs, link) {
		s->busy++;
		v[k++] = s;
	}
	for (i = 0; i < k; i++) {
		s = v[i];
		if (s->gone)
			continue;
		n = wl_match(a, s, &m);
		for (j = 0; j < n; j++)
			m[j]->subs++;
		mem_free(m);
		s->dirty = 1;
		wl_send(s);
	}
	for (i = 0; i < k; i++) {
		v[i]->busy--;
		wl_release(v[i]);
	}
	mem_free(v);
}

void
workload_stop(struct agent *a)
{
	struct wl_sub	*s;

	while ((s = TAILQ_FIRST(&a->subs)) != NULL)
		wl_finish(s, GRPC_STATUS_UNAVAILABLE, "agent is stopping");
}

static void
wl_jwt_start(struct wl_sub *s)
{
	struct agent_entry	**v;
	size_t			 n, i, k = 0;

	n = wl_match(s->a, s, &v);
	for (i = 0; i < n; i++)
		if (s->want_id == NULL || strcmp(v[i]->spiffe_id,
		    s->want_id) == 0)
			v[k++] = v[i];
	if (k == 0) {
		mem_free(v);
		wl_finish(s, GRPC_STATUS_PERMISSION_DENIED,
		    "no identity issued");
		return;
	}
	s->njwt = k;
	s->tokens = mem_calloc(k, sizeof(*s->tokens));
	s->slots = mem_calloc(k, sizeof(*s->slots));
	s->jwt_ids = mem_calloc(k, sizeof(*s->jwt_ids));
	s->jwt_hints = mem_calloc(k, sizeof(*s->jwt_hints));
	for (i = 0; s->jwt_ids != NULL && s->jwt_hints != NULL && i < k;
	    i++) {
		s->jwt_ids[i] = mem_strdup(v[i]->spiffe_id);
		s->jwt_hints[i] = mem_strdup(v[i]->hint);
		if (s->jwt_ids[i] == NULL || s->jwt_hints[i] == NULL)
			break;
	}
	if (s->tokens == NULL || s->slots == NULL || i != k) {
		mem_free(v);
		wl_finish(s, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	/* One more than the fetches, so an answer from the cache cannot
	 * finish (and free) the call while this loop runs. */
	s->jwt_pending = k + 1;
	for (i = 0; i < k; i++) {
		s->slots[i].s = s;
		s->slots[i].i = i;
		jwt_fetch(s->a, v[i], s->aud, s->naud, wl_jwt_done,
		    &s->slots[i]);
	}
	mem_free(v);
	s->jwt_pending--;
	wl_jwt_complete(s);
}

static void
wl_jwt_done(struct agent *a, void *arg, const char *token, const char *err)
{
	struct wl_slot	*slot = arg;
	struct wl_sub	*s = slot->s;

	(void)a;
	s->jwt_pending--;
	if (token != NULL)
		s->tokens[slot->i] = mem_strdup(token);
	if (err != NULL && s->jwt_err == NULL)
		s->jwt_err = mem_strdup(err);
	wl_jwt_complete(s);
}

static void
wl_jwt_complete(struct wl_sub *s)
{
	struct buf	 out, m;
	size_t		 i;

	if (s->jwt_pending > 0)
		return;
	if (s->gone) {
		wl_release(s);
		return;
	}
	if (s->jwt_err != NULL) {
		log_kv(LOG_LEVEL_ERROR, "agent", "could not fetch JWT-SVID",
		    "error", s->jwt_err, (const char *)NULL);
		wl_finish(s, GRPC_STATUS_UNAVAILABLE, "could not fetch "
		    "JWT-SVID");
		return;
	}
	buf_init(&out, AGENT_RESPONSE_MAX);
	buf_init(&m, AGENT_RESPONSE_MAX);
	for (i = 0; i < s->njwt; i++) {
		buf_reset(&m);
		if (s->tokens[i] == NULL ||
		    pbw_string(&m, 1, s->jwt_ids[i]) == -1 ||
		    pbw_string(&m, 2, s->tokens[i]) == -1 ||
		    pbw_string(&m, 3, s->jwt_hints[i]) == -1 ||
		    pbw_message(&out, 1, &m) == -1)
			break;
	}
	if (i != s->njwt || rpc_call_send(s->call, buf_ptr(&out), out.len) !=
	    RPC_ERR_OK)
		wl_finish(s, GRPC_STATUS_UNAVAILABLE, "could not serialize "
		    "response");
	else
		wl_finish(s, GRPC_STATUS_OK, NULL);
	buf_cleanup(&m);
	buf_cleanup(&out);
}

/* Bundles a caller may validate with: own and its entries' federated. */
struct wl_bundles {
	struct agent	*a;
	char		**tds;
	size_t		 ntd;
};

static const struct bundle *
wl_bundle_lookup(void *arg, const char *td)
{
	struct wl_bundles	*wb = arg;
	size_t			 i;

	if (strcmp(td, wb->a->td) == 0)
		return wb->a->has_bundle ? &wb->a->bundle : NULL;
	for (i = 0; i < wb->ntd; i++)
		if (strcmp(wb->tds[i], td) == 0)
			return agent_find_bundle(wb->a, td);
	return NULL;
}

static void
wl_validate(struct wl_sub *s)
{
	struct agent_entry	**v;
	struct wl_bundles	 wb;
	struct jwtsvid		 js;
	enum jwtsvid_err	 e;
	const char		*auds[1], *key;
	json_t			*claims, *val, *aud;
	struct buf		 out, st;
	size_t			 n;
	void			*iter;
	int			 foreign;

	n = wl_match(s->a, s, &v);
	wb.a = s->a;
	wb.ntd = wl_feds(s->a, v, n, &wb.tds);
	mem_free(v);
	auds[0] = s->vaud;
	memset(&js, 0, sizeof(js));
	e = jwtsvid_validate(s->token, strlen(s->token), auds, 1,
	    wl_bundle_lookup, &wb, agent_now(s->a), &js);
	strings_free(wb.tds, wb.ntd);
	if (e != JWTSVID_OK) {
		log_kv(LOG_LEVEL_WARN, "agent", "failed to validate JWT",
		    "error", jwtsvid_strerror(e), (const char *)NULL);
		jwtsvid_cleanup(&js);
		wl_finish(s, GRPC_STATUS_INVALID_ARGUMENT,
		    jwtsvid_strerror(e));
		return;
	}
	claims = json_deep_copy(js.claims);
	foreign = strcmp(js.trust_domain, s->a->td) != 0;
	/* Foreign trust domains: only sub, exp and aud, as SPIRE. */
	iter = claims != NULL ? json_object_iter(claims) : NULL;
	while (foreign && iter != NULL) {
		key = json_object_iter_key(iter);
		iter = json_object_iter_next(claims, iter);
		if (strcmp(key, "sub") != 0 && strcmp(key, "exp") != 0 &&
		    strcmp(key, "aud") != 0)
			(void)json_object_del(claims, key);
	}
	/* aud always as a list. */
	val = claims != NULL ? json_object_get(claims, "aud") : NULL;
	if (json_is_string(val)) {
		aud = json_array();
		if (aud != NULL && json_array_append(aud, val) == 0)
			(void)json_object_set_new(claims, "aud", aud);
		else
			json_decref(aud);
	}
	buf_init(&out, AGENT_RESPONSE_MAX);
	buf_init(&st, AGENT_RESPONSE_MAX);
	if (claims == NULL || pbw_string(&out, 1, js.sub) == -1 ||
	    wl_struct(&st, claims, 0) == -1 ||
	    pbw_message(&out, 2, &st) == -1 ||
	    rpc_call_send(s->call, buf_ptr(&out), out.len) != RPC_ERR_OK)
		wl_finish(s, GRPC_STATUS_INVALID_ARGUMENT, "cannot encode the "
		    "claims");
	else
		wl_finish(s, GRPC_STATUS_OK, NULL);
	json_decref(claims);
	jwtsvid_cleanup(&js);
	buf_cleanup(&st);
	buf_cleanup(&out);
}

/* google.protobuf.Value of a JSON value. */
static int
wl_value(struct buf *out, const json_t *v, int depth)
{
	struct buf	 sub, item;
	size_t		 i;
	int		 rc = -1;

	if (depth > WL_JSON_DEPTH)
		return -1;
	switch (json_typeof(v)) {
	case JSON_NULL:
		return pbw_tag(out, 1, 0) == -1 || pbw_varint(out, 0) == -1 ?
		    -1 : 0;
	case JSON_TRUE:
	case JSON_FALSE:
		return pbw_tag(out, 4, 0) == -1 ||
		    pbw_varint(out, json_is_true(v)) == -1 ? -1 : 0;
	case JSON_INTEGER:
	case JSON_REAL:
		return pbw_double(out, 2, json_number_value(v));
	case JSON_STRING:
		return pbw_bytes(out, 3, json_string_value(v),
		    json_string_length(v));
	case JSON_OBJECT:
		buf_init(&sub, AGENT_RESPONSE_MAX);
		rc = wl_struct(&sub, v, depth + 1) == -1 ||
		    pbw_message(out, 5, &sub) == -1 ? -1 : 0;
		buf_cleanup(&sub);
		return rc;
	case JSON_ARRAY:
		buf_init(&sub, AGENT_RESPONSE_MAX);
		buf_init(&item, AGENT_RESPONSE_MAX);
		for (i = 0; i < json_array_size(v); i++) {
			buf_reset(&item);
			if (wl_value(&item, json_array_get(v, i), depth + 1) ==
			    -1 || pbw_message(&sub, 1, &item) == -1)
				break;
		}
		if (i == json_array_size(v))
			rc = pbw_message(out, 6, &sub);
		buf_cleanup(&item);
		buf_cleanup(&sub);
		return rc;
	}
	return -1;
}

/* google.protobuf.Struct of a JSON object (keys in sorted order). */
static int
wl_struct(struct buf *out, const json_t *obj, int depth)
{
	struct buf	 ent, val;
	const char	*k;
	json_t		*v;
	int		 rc = 0;

	if (depth > WL_JSON_DEPTH || !json_is_object(obj))
		return -1;
	buf_init(&ent, AGENT_RESPONSE_MAX);
	buf_init(&val, AGENT_RESPONSE_MAX);
	json_object_foreach((json_t *)(uintptr_t)obj, k, v) {
		buf_reset(&ent);
		buf_reset(&val);
		if (pbw_bytes(&ent, 1, k, strlen(k)) == -1 ||
		    wl_value(&val, v, depth + 1) == -1 ||
		    pbw_message(&ent, 2, &val) == -1 ||
		    pbw_message(out, 1, &ent) == -1) {
			rc = -1;
			break;
		}
	}
	buf_cleanup(&val);
	buf_cleanup(&ent);
	return rc;
}
