/*
 * The server role's start-up and shutdown: the datastore, the key
 * manager and CA, our own SVID for the TLS listener on bind_address:
 * bind_port, and the local admin API on its Unix socket with
 * grpc.health.v1. The APIs themselves live in api_*.c.
 */
#include "config.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/worker.h"
#include "hal/key.h"
#include "rpc/health.h"
#include "rpc/server.h"
#include "rpc/tls.h"
#include "server/keymgr.h"
#include "server/server.h"
#include "server/srv.h"
#include "server/upstream.h"
#include "spiffe/x509svid.h"
#include "store/store.h"

/* Bumped whenever the datastore's layout changes. */
#define SERVER_SCHEMA	2

static void	server_stopped_one(void *);
static int	server_svid_rotate(struct server *);
static void	server_svid_signed(void *, int, const struct ca_svid *);
static void	server_drained(void *);
static void	server_svid_timer_cb(struct ev_loop *, ev_timer *, int);
static int	server_tls_verify(void *, struct transport_peer *, char *,
		    size_t);
static void	server_bundle_changed(void *);
static void	server_ca_activated(void *);
static void	server_job_run(void *);
static void	server_job_done(void *, int);
static void	server_jobs_abandon(struct server *);

void
srv_job_submit(struct server *s, struct srv_job *job)
{
	job->s = s;
	TAILQ_INSERT_TAIL(&s->jobs, job, entry);
	if (s->worker != NULL && worker_submit(s->worker, server_job_run,
	    server_job_done, job) == 0)
		return;
	/* No worker to wait for: the work is done here and now. */
	job->run(job);
	server_job_done(job, 0);
}

/* On the worker thread. */
static void
server_job_run(void *arg)
{
	struct srv_job	*job = arg;

	job->run(job);
}

static void
server_job_done(void *arg, int cancelled)
{
	struct srv_job	*job = arg;
	struct server	*s = job->s;

	if (s == NULL) {
		job->done(job, 1);
		return;
	}
	TAILQ_REMOVE(&s->jobs, job, entry);
	/* The worker went before its job ran: it runs here instead. */
	if (cancelled)
		job->run(job);
	job->done(job, 0);
}

/* The server is going: jobs out on the worker come back to nothing. */
static void
server_jobs_abandon(struct server *s)
{
	struct srv_job	*job;

	while ((job = TAILQ_FIRST(&s->jobs)) != NULL) {
		TAILQ_REMOVE(&s->jobs, job, entry);
		job->s = NULL;
	}
}
static int	server_listen_tcp(struct server *);

/*
 * The TLS hook: a client certificate is optional (agents attest
 * without one); one that is sent must be an X509-SVID of our trust
 * domain, and its ID is what authorization then looks at.
 */
static int
server_tls_verify(void *arg, struct transport_peer *peer, char *err,
    size_t errlen)
{
	struct server		*s = arg;
	struct x509svid_bundle	 b;
	struct x509svid_result	 res;
	enum x509svid_err	 e;
	char			 id[SPIFFE_ID_MAX + 1];

	if (peer->nchain == 0)
		return 0;
	b.td = &s->td;
	b.roots = s->roots.certs;
	b.nroots = s->roots.n;
	e = x509svid_verify((const uint8_t *const *)peer->chain,
	    peer->chain_len, peer->nchain, &b, 1, (long long)time(NULL), NULL,
	    &res);
	if (e != X509SVID_OK) {
		x509svid_describe(e, &res, err, errlen);
		log_kv(LOG_LEVEL_INFO, "server", "client certificate refused",
		    "addr", peer->addr, "error", err, (const char *)NULL);
		return -1;
	}
	if (spiffe_id_format(&res.id, id, sizeof(id)) != SPIFFE_OK ||
	    (peer->spiffe_id = mem_strdup(id)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/*
 * The server's own TLS key is a software key, fresh for each SVID: a
 * server context signs its handshakes on the loop (rpc/tls.c), so a TPM
 * key there would stall every connection for each accepted handshake.
 * Its SVID is signed by the CA, whose key may be in the TPM: that
 * signature is made on the worker once the server runs.
 */
struct svid_rot {
	struct server	*s;
	struct key	*key;
};

/*
 * Asks the CA for a fresh SVID for spiffe://td/spire/server; it is put
 * in use (and its timer armed) when signed, at once during start-up.
 * 0, or -1 when it could not be asked for (logged).
 */
static int
server_svid_rotate(struct server *s)
{
	struct svid_rot	*r;
	const uint8_t	*spki;
	size_t		 spki_len;
	enum key_err	 ke;

	if (s->svid_rotating)
		return 0;
	r = mem_calloc(1, sizeof(*r));
	if (r == NULL)
		return -1;
	r->s = s;
	r->key = key_soft_generate(KEY_EC_P256, &ke);
	if (r->key == NULL) {
		log_kv(LOG_LEVEL_ERROR, "server", "cannot make the server key",
		    "error", key_strerror(ke), (const char *)NULL);
		mem_free(r);
		return -1;
	}
	spki = key_spki(r->key, &spki_len);
	s->svid_rotating = 1;
	if (ca_sign_x509svid_async(s->ca, spki, spki_len, s->server_id, NULL,
	    0, 0, server_svid_signed, r) == -1) {
		s->svid_rotating = 0;
		key_free(r->key);
		mem_free(r);
		return -1;
	}
	return 0;
}

/* Puts a signed server SVID in use; on failure tries again soon. */
static void
server_svid_signed(void *arg, int rc, const struct ca_svid *sv)
{
	struct svid_rot		*r = arg;
	struct server		*s = r->s;
	struct tls_identity	 ti;
	uint8_t			*pk = NULL;
	size_t			 pklen = 0;
	const uint8_t		*chain[8];
	size_t			 i;
	enum tls_err		 te;
	double			 half, next = 10.;
	int64_t			 now = (int64_t)time(NULL);

	s->svid_rotating = 0;
	if (rc == -1 || key_export_pkcs8(r->key, &pk, &pklen) != KEY_OK)
		goto out;
	for (i = 0; i < sv->n; i++)
		chain[i] = sv->der[i];
	memset(&ti, 0, sizeof(ti));
	ti.chain = chain;
	ti.chain_len = sv->len;
	ti.nchain = sv->n;
	ti.key = pk;
	ti.key_len = pklen;
	if (s->tls == NULL) {
		struct tls_config tc;

		memset(&tc, 0, sizeof(tc));
		tc.role = TLS_ROLE_SERVER;
		tc.identity = &ti;
		tc.verify = server_tls_verify;
		tc.verify_arg = s;
		s->tls = tls_ctx_new(&tc, &te);
		if (s->tls == NULL)
			goto out;
	} else if ((te = tls_ctx_set_identity(s->tls, &ti)) != TLS_OK) {
		log_kv(LOG_LEVEL_ERROR, "server", "cannot use the new SVID",
		    "error", tls_strerror(te), (const char *)NULL);
		goto out;
	}
	key_free(s->svid_key);
	s->svid_key = r->key;
	r->key = NULL;
	/* The first SVID: the server API can listen (start-up waited). */
	if (s->want_tcp && s->tcp == NULL && !s->stopping &&
	    server_listen_tcp(s) == -1) {
		log_error("server", "cannot start the server API");
		if (s->started && s->cfg->fatal != NULL)
			s->cfg->fatal(s->cfg->fatal_arg, 1);
	}
	/* As SPIRE's rotator: a new SVID once half the lifetime is gone. */
	half = (double)(sv->expires_at - now) / 2;
	next = half > 1 ? half : 1;
	log_kv(LOG_LEVEL_DEBUG, "server", "server SVID rotated", "serial",
	    sv->serial, (const char *)NULL);
out:
	if (pk != NULL)
		mem_free_wipe(pk, pklen);
	key_free(r->key);
	mem_free(r);
	/* On failure: try again soon; the current SVID is still good. */
	if (!s->stopping) {
		ev_timer_stop(s->loop, &s->svid_timer);
		ev_timer_set(&s->svid_timer, next, 0.);
		ev_timer_start(s->loop, &s->svid_timer);
	}
}

static void
server_svid_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server	*s = w->data;

	(void)loop;
	(void)revents;
	if (server_svid_rotate(s) == -1) {
		ev_timer_set(&s->svid_timer, 10., 0.);
		ev_timer_start(s->loop, &s->svid_timer);
	}
}

static void
server_bundle_changed(void *arg)
{
	srv_roots_reload(arg);
}

static void
server_ca_activated(void *arg)
{
	struct server	*s = arg;

	if (s->ca == NULL || s->stopping)
		return;		/* still inside ca_new */
	if (s->tls == NULL)
		srv_roots_reload(s);	/* the first CA from a parent */
	if (server_svid_rotate(s) == -1)
		log_warnx("server", "cannot ask for a server SVID");
}

/* The TLS listener, once there is an SVID to serve with. */
static int
server_listen_tcp(struct server *s)
{
	const struct server_config	*cfg = s->cfg;
	struct rpc_listen_opts		 lo;
	char				 addr[512];

	snprintf(addr, sizeof(addr), strchr(cfg->bind_address, ':') != NULL ?
	    "[%s]:%lld" : "%s:%lld", cfg->bind_address,
	    (long long)cfg->bind_port);
	memset(&lo, 0, sizeof(lo));
	lo.addr = addr;
	lo.tls = s->tls;
	lo.msg_max = (size_t)cfg->max_message_size;
	/* Agents' keys stay off the loop's EC tables (rpc/server.c). */
	lo.worker = s->worker;
	s->tcp = rpc_server_listen(s->api, &lo);
	if (s->tcp == NULL)
		return -1;
	log_info("server", "listening on %s:%d (TLS)", cfg->bind_address,
	    rpc_listener_port(s->tcp));
	(void)!rpc_health_set(s->health, "", RPC_HEALTH_SERVING);
	if (cfg->ready != NULL)
		cfg->ready(cfg->ready_arg);
	return 0;
}

static int
server_register(struct server *s, struct rpc_server *rs)
{
	if (api_agent_register(s, rs) == -1 ||
	    api_bundle_register(s, rs) == -1 ||
	    api_entry_register(s, rs) == -1 ||
	    api_svid_register(s, rs) == -1)
		return -1;
	return 0;
}

struct server *
server_start(struct ev_loop *loop, struct worker *worker,
    const struct server_config *cfg)
{
	struct store_config	 sc;
	struct rpc_listen_opts	 lo;
	struct ca_hooks		 hooks;
	struct server		*s;
	enum store_err		 e;
	char			 addr[512];

	s = mem_calloc(1, sizeof(*s));
	if (s == NULL) {
		log_warn("server", "cannot allocate the server");
		return NULL;
	}
	s->loop = loop;
	s->worker = worker;
	TAILQ_INIT(&s->jobs);
	s->cfg = cfg;
	ev_timer_init(&s->svid_timer, server_svid_timer_cb, 0., 0.);
	s->svid_timer.data = s;
	if (spiffe_td_parse(cfg->trust_domain, strlen(cfg->trust_domain),
	    &s->td) != SPIFFE_OK) {
		log_kv(LOG_LEVEL_ERROR, "server", "invalid trust domain",
		    "trust_domain", cfg->trust_domain, (const char *)NULL);
		goto fail;
	}
	snprintf(s->td_id, sizeof(s->td_id), "spiffe://%s", s->td.name);
	snprintf(s->server_id, sizeof(s->server_id), "spiffe://%s/spire/server",
	    s->td.name);
	memset(&sc, 0, sizeof(sc));
	sc.path = cfg->data_dir;
	sc.kind = "server";
	sc.schema = SERVER_SCHEMA;
	sc.tables = ds_tables;
	sc.ntables = DS_NTABLES;
	sc.map_size = (size_t)cfg->store_map_size;
	sc.map_max = (size_t)cfg->store_map_size * 16;
	/* XXX: commits run on this thread, not on the worker. */
	e = store_open(&sc, &s->store);
	if (e != STORE_OK) {
		log_kv(LOG_LEVEL_ERROR, "server", "cannot open the datastore",
		    "data_dir", cfg->data_dir, "error", store_strerror(e),
		    (const char *)NULL);
		goto fail;
	}
	s->km = keymgr_new(&cfg->plug, cfg->data_dir);
	if (s->km == NULL)
		goto fail;
	if (cfg->plug.upstream_disk) {
		s->up = upstream_disk_new(&cfg->plug.upstream_disk_conf,
		    s->td.name);
		if (s->up == NULL)
			goto fail;
	} else if (cfg->plug.upstream_spire) {
		s->up = upstream_spire_new(loop, worker,
		    &cfg->plug.upstream_spire_conf, s->td.name,
		    cfg->upstream_source);
		if (s->up == NULL)
			goto fail;
	}
	s->api = rpc_server_new(loop);
	s->admin = rpc_server_new(loop);
	if (s->api == NULL || s->admin == NULL ||
	    server_register(s, s->api) == -1 ||
	    server_register(s, s->admin) == -1)
		goto fail;
	s->health = rpc_health_new();
	if (s->health == NULL ||
	    rpc_health_register(s->health, s->admin) == -1)
		goto fail;
	if (tpm_devid_load(s) == -1)
		goto fail;
	hooks.bundle_changed = server_bundle_changed;
	hooks.activated = server_ca_activated;
	hooks.arg = s;
	s->ca = ca_new(loop, cfg, s->store, s->km, s->up, &hooks);
	if (s->ca == NULL)
		goto fail;
	srv_roots_reload(s);
	s->want_tcp = 1;
	if (ca_ready(s->ca)) {
		/* The CA has no worker yet: this signs at once, even in a
		 * TPM, and the server API listens. */
		if (server_svid_rotate(s) == -1 || s->tls == NULL ||
		    s->tcp == NULL)
			goto fail;
	} else {
		/* A first start under a parent: TLS waits for its CA. */
		(void)!rpc_health_set(s->health, "", RPC_HEALTH_NOT_SERVING);
		log_info("server", "the server API waits for the first CA "
		    "from the parent");
	}

	snprintf(addr, sizeof(addr), "unix:%s", cfg->socket_path);
	memset(&lo, 0, sizeof(lo));
	lo.addr = addr;
	/* Every caller on this socket is fully trusted: owner only. */
	lo.mode = 0600;
	lo.msg_max = (size_t)cfg->max_message_size;
	if (rpc_server_listen(s->admin, &lo) == NULL)
		goto fail;
	log_kv(LOG_LEVEL_INFO, "server", "admin API listening", "path",
	    cfg->socket_path, "trust_domain", cfg->trust_domain,
	    "data_dir", cfg->data_dir, (const char *)NULL);
	/* From now on a TPM CA key signs on the worker, off the loop. */
	ca_set_worker(s->ca, worker);
	/*
	 * Making the CA, JWT and TLS keys left the base point's 850 KB
	 * fixed-point table and the start-up's garbage: an idle server
	 * needs neither, and the first SVID signed rebuilds the table
	 * (about 3 ms).
	 */
	key_soft_trim();
	(void)malloc_trim(0);
	s->started = 1;
	return s;
fail:
	server_free(s);
	return NULL;
}

static void
server_stopped_one(void *arg)
{
	struct server	*s = arg;

	if (--s->pending > 0)
		return;
	ev_timer_stop(s->loop, &s->svid_timer);
	/* Jobs still out on the worker come back to nothing. */
	server_jobs_abandon(s);
	/* The upstream calls into the CA: it goes first. */
	if (s->up != NULL)
		s->up->free(s->up);
	s->up = NULL;
	/* Signatures still on the worker (a slow TPM) finish first. */
	ca_drain(s->ca, server_drained, s);
}

static void
server_drained(void *arg)
{
	struct server	*s = arg;

	ca_free(s->ca);
	s->ca = NULL;
	store_close(s->store);
	s->store = NULL;
	log_info("server", "server stopped");
	s->done(s->done_arg);
}

void
server_stop(struct server *s, void (*done)(void *), void *arg)
{
	s->done = done;
	s->done_arg = arg;
	s->stopping = 1;
	(void)!rpc_health_set(s->health, "", RPC_HEALTH_NOT_SERVING);
	s->pending = 2;
	rpc_server_stop(s->api, server_stopped_one, s);
	rpc_server_stop(s->admin, server_stopped_one, s);
}

void
server_free(struct server *s)
{
	size_t	i;

	if (s == NULL)
		return;
	ev_timer_stop(s->loop, &s->svid_timer);
	server_jobs_abandon(s);
	rpc_server_free(s->api);
	rpc_server_free(s->admin);
	rpc_health_free(s->health);
	tls_ctx_free(s->tls);
	if (s->up != NULL)
		s->up->free(s->up);
	ca_free(s->ca);
	keymgr_free(s->km);
	store_close(s->store);
	key_free(s->svid_key);
	tpm_devid_free(s);
	for (i = 0; i < s->roots.n; i++)
		mem_free(s->roots.der[i]);
	mem_free(s->roots.der);
	mem_free(s->roots.certs);
	mem_free(s);
}
