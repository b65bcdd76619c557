/*
 * The agent role's start-up and shutdown, and the pieces its files
 * share: the one timer (the next sync, rotation or retry: it exists
 * only because there is work), readiness, and fatal stops.
 *
 * Start-up: the cache is loaded first and the Workload API listens at
 * once, so workloads are served from the cache before the server is
 * reached. Then, with a server configured: a valid own SVID from the
 * cache is used as it is (no attestation), otherwise the agent attests.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent.h"
#include "agent/internal.h"
#include "core/log.h"
#include "core/mem.h"
#include "pki/pem.h"
#include "rpc/client.h"
#include "rpc/health.h"
#include "rpc/server.h"
#include "spiffe/id.h"
#include "store/store.h"

/* Bumped whenever the cache's layout changes. */
#define AGENT_SCHEMA		2
#define AGENT_DEAD_CHANNELS	8

static struct rpc_channel	*dead_channels[AGENT_DEAD_CHANNELS];
static size_t			 ndead;
static ev_timer			 reaper;
static int			 reaper_init;

static void	agent_api_stopped(void *);
static void	agent_timer_cb(struct ev_loop *, ev_timer *, int);
static void	agent_reap_cb(struct ev_loop *, ev_timer *, int);
static int	agent_boot_bundle(struct agent *);
static void	agent_finish_stop(struct agent *);
static int	agent_listen(struct agent *, struct rpc_server *,
		    const char *path);
static void	agent_own_loaded(void *, struct agent_key *, const char *);
static void	agent_go(struct agent *);

/*
 * The load of a cached SVID's TPM key, on the worker: it may outlive
 * the agent (a TPM held busy at shutdown), so it names the agent only
 * through this, which agent_free lets go of.
 */
struct own_loader {
	struct agent	*a;
};

int64_t
agent_now(const struct agent *a)
{
	(void)a;
	return (int64_t)time(NULL);
}

int
agent_config_check(struct conf *cfg, struct agent_config *c,
    unsigned line)
{
	struct spiffe_td	 td;
	const char		*slash, *aslash;
	int			 n, rc = 0;

	if (c->trust_domain == NULL || spiffe_td_parse(c->trust_domain,
	    strlen(c->trust_domain), &td) != SPIFFE_OK) {
		conf_error(cfg, line, "agent: trust_domain is not a valid "
		    "trust domain");
		rc = -1;
	}
	if (c->workload_key_type != 0) {
		conf_error(cfg, line, "agent: workload_x509_svid_key_type "
		    "\"rsa-2048\" is not supported by spirelet; use "
		    "\"ec-p256\"");
		rc = -1;
	}
	n = (c->trust_bundle_path != NULL && *c->trust_bundle_path) +
	    (c->trust_bundle_url != NULL && *c->trust_bundle_url) +
	    c->insecure_bootstrap;
	if (n > 1) {
		conf_error(cfg, line, "agent: only one of trust_bundle_path, "
		    "trust_bundle_url and insecure_bootstrap may be set");
		rc = -1;
	}
	if (c->trust_bundle_url != NULL && *c->trust_bundle_url &&
	    strncmp(c->trust_bundle_url, "https://", 8) != 0) {
		conf_error(cfg, line, "agent: trust_bundle_url must be an "
		    "https:// URL");
		rc = -1;
	}
	if (c->server_address != NULL && *c->server_address) {
		if (n == 0) {
			conf_error(cfg, line, "agent: one of trust_bundle_path,"
			    " trust_bundle_url or insecure_bootstrap must be "
			    "set");
			rc = -1;
		}
	}
	if (c->admin_socket_path != NULL && *c->admin_socket_path &&
	    c->socket_path != NULL) {
		slash = strrchr(c->socket_path, '/');
		aslash = strrchr(c->admin_socket_path, '/');
		if (slash != NULL && aslash != NULL && slash - c->socket_path ==
		    aslash - c->admin_socket_path && strncmp(c->socket_path,
		    c->admin_socket_path, (size_t)(slash - c->socket_path)) ==
		    0) {
			conf_error(cfg, line, "agent: admin_socket_path must "
			    "not be in the directory of socket_path");
			rc = -1;
		}
	}
	return rc;
}

/* trust_bundle_path as PEM roots or a SPIFFE bundle document. */
static int
agent_boot_bundle(struct agent *a)
{
	const struct agent_config	*c = a->cfg;
	struct pem_block		*blk;
	FILE				*f;
	char				*text, err[256];
	size_t				 len, n, i;
	int				 rc = -1;

	if (c->trust_bundle_path == NULL || *c->trust_bundle_path == '\0')
		return 0;
	f = fopen(c->trust_bundle_path, "rb");
	if (f == NULL) {
		log_warn("agent", "cannot open trust_bundle_path %s",
		    c->trust_bundle_path);
		return -1;
	}
	text = mem_alloc(AGENT_BUNDLE_FILE_MAX + 1);
	if (text == NULL) {
		fclose(f);
		return -1;
	}
	len = fread(text, 1, AGENT_BUNDLE_FILE_MAX + 1, f);
	fclose(f);
	if (len > AGENT_BUNDLE_FILE_MAX) {
		log_warnx("agent", "%s: too large", c->trust_bundle_path);
		goto out;
	}
	text[len] = '\0';
	if (c->trust_bundle_format == 1) {
		if (bundle_parse_spiffe(&a->boot_bundle, a->td, text, len, err,
		    sizeof(err)) == -1) {
			log_kv(LOG_LEVEL_ERROR, "agent", "trust bundle does "
			    "not parse", "path", c->trust_bundle_path, "error",
			    err, (const char *)NULL);
			goto out;
		}
	} else {
		if (pem_decode(text, len, PEM_LABEL_CERTIFICATE, &blk, &n) !=
		    PEM_OK) {
			log_kv(LOG_LEVEL_ERROR, "agent", "no certificate in "
			    "the trust bundle", "path", c->trust_bundle_path,
			    (const char *)NULL);
			goto out;
		}
		if (bundle_init(&a->boot_bundle, a->td) == -1) {
			pem_blocks_free(blk, n);
			goto out;
		}
		for (i = 0; i < n; i++)
			if (bundle_add_x509(&a->boot_bundle, blk[i].der,
			    blk[i].len) == -1)
				break;
		pem_blocks_free(blk, n);
		if (i != n) {
			bundle_cleanup(&a->boot_bundle);
			goto out;
		}
	}
	a->has_boot_bundle = 1;
	rc = 0;
out:
	mem_free(text);
	return rc;
}

static int
agent_local_add(void *arg, const uint8_t *der, size_t len)
{
	return bundle_add_x509(arg, der, len);
}

/*
 * spirelet run: the bootstrap trust is the local server's bundle as it
 * is now (refreshed before each attestation). 0 or -1.
 */
int
agent_local_bundle(struct agent *a)
{
	const struct agent_local_server	*l = a->cfg->local;
	struct bundle			 b;

	if (l == NULL || l->roots == NULL)
		return 0;
	if (bundle_init(&b, a->td) == -1)
		return -1;
	if (l->roots(l->arg, agent_local_add, &b) <= 0) {
		bundle_cleanup(&b);
		return -1;
	}
	if (a->has_boot_bundle)
		bundle_cleanup(&a->boot_bundle);
	a->boot_bundle = b;
	a->has_boot_bundle = 1;
	return 0;
}

static int
agent_listen(struct agent *a, struct rpc_server *srv, const char *path)
{
	struct rpc_listen_opts	 lo;
	char			 addr[512];

	snprintf(addr, sizeof(addr), "unix:%s", path);
	memset(&lo, 0, sizeof(lo));
	lo.addr = addr;
	/* Any local process may ask; attestation decides what it gets. */
	lo.mode = 0777;
	lo.msg_max = (size_t)a->cfg->max_message_size;
	return rpc_server_listen(srv, &lo) != NULL ? 0 : -1;
}

struct agent *
agent_start(struct ev_loop *loop, struct worker *worker,
    const struct agent_config *cfg)
{
	struct store_config	 sc;
	struct spiffe_td	 td;
	struct agent		*a;
	enum store_err		 e;

	a = mem_calloc(1, sizeof(*a));
	if (a == NULL) {
		log_warn("agent", "cannot allocate the agent");
		return NULL;
	}
	a->loop = loop;
	a->worker = worker;
	a->cfg = cfg;
	a->csr_batch = AGENT_CSR_BATCH_MAX;
	TAILQ_INIT(&a->subs);
	ev_init(&a->timer, agent_timer_cb);
	a->timer.data = a;
	if (!reaper_init) {
		ev_init(&reaper, agent_reap_cb);
		reaper_init = 1;
	}
	if (spiffe_td_parse(cfg->trust_domain, strlen(cfg->trust_domain),
	    &td) != SPIFFE_OK)
		goto fail;
	snprintf(a->td, sizeof(a->td), "%s", td.name);
	a->keep_keys = cfg->plugin.key_manager == AGENT_KM_DISK ||
	    cfg->plugin.key_manager == AGENT_KM_TPM;
	if (ownkey_init(a) == -1)
		goto fail;
	memset(&sc, 0, sizeof(sc));
	sc.path = cfg->data_dir;
	sc.kind = "agent";
	sc.schema = AGENT_SCHEMA;
	sc.tables = cache_tables;
	sc.ntables = CACHE_T_COUNT;
	sc.map_size = (size_t)cfg->store_map_size;
	e = store_open(&sc, &a->store);
	if (e != STORE_OK) {
		log_kv(LOG_LEVEL_ERROR, "agent", "cannot open the cache",
		    "data_dir", cfg->data_dir, "error", store_strerror(e),
		    (const char *)NULL);
		goto fail;
	}
	if (cache_load(a) == -1)
		goto fail;
	a->health = rpc_health_new();
	if (a->health == NULL)
		goto fail;
	/* Without a socket the agent serves this process only. */
	if (cfg->socket_path != NULL) {
		a->api = rpc_server_new(loop);
		if (a->api == NULL ||
		    rpc_health_register(a->health, a->api) == -1 ||
		    workload_register(a) == -1)
			goto fail;
	}
	if (cfg->server_address == NULL || *cfg->server_address == '\0') {
		a->state = AGENT_IDLE;
		a->ready = 1;
		log_warnx("agent", "no server_address: serving the cache "
		    "only");
	} else {
		if ((cfg->join_token == NULL || *cfg->join_token == '\0') &&
		    cfg->plugin.node_attestor == AGENT_NA_NONE &&
		    (cfg->local == NULL || cfg->local->join_token == NULL)) {
			log_error("agent", "a NodeAttestor plugin or a join "
			    "token is required to reach the server");
			goto fail;
		}
		if (agent_boot_bundle(a) == -1 || srvconn_init(a) == -1)
			goto fail;
		(void)agent_local_bundle(a);
		if (a->own_rec != NULL) {
			/* Its key is in the TPM: loaded on the worker. */
			a->state = AGENT_LOADING;
		} else
			agent_go(a);
		if (!a->ready)
			(void)!rpc_health_set(a->health, "",
			    RPC_HEALTH_NOT_SERVING);
		agent_schedule(a, 0);
	}
	if (a->api != NULL) {
		if (agent_listen(a, a->api, cfg->socket_path) == -1)
			goto fail;
		a->servers_running = 1;
	}
	if (cfg->admin_socket_path != NULL && *cfg->admin_socket_path) {
		a->admin = rpc_server_new(loop);
		if (a->admin == NULL ||
		    rpc_health_register(a->health, a->admin) == -1 ||
		    agent_listen(a, a->admin, cfg->admin_socket_path) == -1)
			goto fail;
		a->servers_running++;
	}
	log_kv(LOG_LEVEL_INFO, "agent", a->api != NULL ? "Workload API "
	    "listening" : "agent started for this process only", "path",
	    cfg->socket_path != NULL ? cfg->socket_path : "none",
	    "trust_domain", a->td, "data_dir", cfg->data_dir,
	    (const char *)NULL);
	return a;
fail:
	agent_free(a);
	return NULL;
}

void
agent_schedule(struct agent *a, double delay_ms)
{
	if (a->stopping || a->state == AGENT_STOPPED)
		return;
	ev_timer_stop(a->loop, &a->timer);
	ev_timer_set(&a->timer, delay_ms > 0 ? delay_ms / 1000. : 0., 0.);
	ev_timer_start(a->loop, &a->timer);
}

static void
agent_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct agent	*a = w->data;

	(void)loop;
	(void)revents;
	if (a->stopping)
		return;
	if (a->state == AGENT_ATTESTING)
		attest_start(a);
	else if (a->state == AGENT_RUNNING)
		sync_start(a);
	else if (a->state == AGENT_LOADING)
		agent_load_own(a);
}

/* With the own SVID (if any) in hand: sync with it, or attest. */
static void
agent_go(struct agent *a)
{
	if (a->has_svid && a->svid.expires > agent_now(a) + 1 &&
	    srvconn_set_identity(a) == 0) {
		log_kv(LOG_LEVEL_INFO, "agent", "using the cached agent SVID",
		    "spiffe_id", a->svid.id, (const char *)NULL);
		a->state = AGENT_RUNNING;
	} else
		a->state = AGENT_ATTESTING;
}

/*
 * Loads the cached SVID's key from its TPM blob, on the worker; the
 * Workload API serves the cache meanwhile, and after a failure too
 * (no TPM, a busy one, a blob this TPM refuses): a reattestable agent
 * then attests again, any other retries the load with backoff.
 */
void
agent_load_own(struct agent *a)
{
	struct agent_svid_rec	 r;
	struct own_loader	*l;

	if (a->own_loading || a->own_rec == NULL || a->stopping)
		return;
	if (cache_svid_decode(a->own_rec, a->own_rec_len, &r) == -1)
		goto drop;
	l = mem_calloc(1, sizeof(*l));
	if (l == NULL) {
		agent_schedule(a, AGENT_ATTEST_RETRY_MS);
		return;
	}
	l->a = a;
	a->loader = l;
	a->own_loading = 1;
	if (ownkey_load(a, r.key, r.key_len, agent_own_loaded, l) == 0)
		return;
	a->own_loading = 0;
	a->loader = NULL;
	mem_free(l);
drop:
	log_warnx("agent", "cache: own SVID record unusable; attesting "
	    "again");
	mem_free(a->own_rec);
	a->own_rec = NULL;
	a->state = AGENT_ATTESTING;
	agent_schedule(a, 0);
}

static void
agent_own_loaded(void *arg, struct agent_key *k, const char *err)
{
	struct own_loader	*l = arg;
	struct agent		*a = l->a;
	struct agent_svid_rec	 r;
	struct agent_svid	 s;
	char			 why[256];
	double			 d;

	mem_free(l);
	if (a == NULL) {
		ownkey_unref(k);
		return;
	}
	a->loader = NULL;
	a->own_loading = 0;
	if (cache_svid_decode(a->own_rec, a->own_rec_len, &r) == -1) {
		ownkey_unref(k);
		return;
	}
	if (k == NULL) {
		log_kv(LOG_LEVEL_ERROR, "agent", "cannot load the agent key "
		    "from the TPM; serving the cache meanwhile", "error", err,
		    (const char *)NULL);
		if (r.revision != 0) {
			mem_free(a->own_rec);
			a->own_rec = NULL;
			a->state = AGENT_ATTESTING;
			agent_schedule(a, 0);
			return;
		}
		a->load_backoff_ms = rotation_backoff_next(a->load_backoff_ms,
		    AGENT_ATTEST_RETRY_MS, AGENT_SYNC_BACKOFF_MAX_MS);
		d = rotation_jitter(a->load_backoff_ms, rotation_random());
		agent_schedule(a, d);
		return;
	}
	a->load_backoff_ms = 0;
	if (own_svid_from_chain(a, &s, r.chain, r.chain_len, k, why,
	    sizeof(why)) == 0) {
		s.reattestable = r.revision != 0;
		own_svid_set(a, &s);
	} else
		log_kv(LOG_LEVEL_WARN, "agent", "cache: own SVID unusable; "
		    "attesting again", "error", why, (const char *)NULL);
	ownkey_unref(k);
	mem_free(a->own_rec);
	a->own_rec = NULL;
	agent_go(a);
	agent_schedule(a, 0);
}

void
agent_set_ready(struct agent *a)
{
	if (a->ready)
		return;
	a->ready = 1;
	(void)!rpc_health_set(a->health, "", RPC_HEALTH_SERVING);
	workload_notify(a);
	local_notify(a);
}

void
agent_changed(struct agent *a)
{
	a->generation++;
	workload_notify(a);
	local_notify(a);
}

void
agent_fatal(struct agent *a, const char *why)
{
	log_kv(LOG_LEVEL_ERROR, "agent", "agent cannot go on", "error", why,
	    (const char *)NULL);
	a->state = AGENT_STOPPED;
	ev_timer_stop(a->loop, &a->timer);
	if (a->cfg->fatal != NULL)
		a->cfg->fatal(a->cfg->fatal_arg, 1);
}

struct agent_entry *
agent_entry_find(const struct agent *a, const char *id)
{
	size_t	 lo = 0, hi = a->nentries, mid;
	int	 c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(id, a->entries[mid]->id);
		if (c == 0)
			return a->entries[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct bundle *
agent_find_bundle(const struct agent *a, const char *td)
{
	size_t	 i;

	if (a->has_bundle && strcmp(td, a->td) == 0)
		return &a->bundle;
	for (i = 0; i < a->nfed; i++)
		if (strcmp(a->fed[i].trust_domain, td) == 0)
			return &a->fed[i];
	return NULL;
}

/*
 * Channels are freed from the loop, never inside a callback of one of
 * their own calls (freeing cancels the calls left).
 */
void
agent_release_channel(struct agent *a, struct rpc_channel *ch)
{
	if (ch == NULL)
		return;
	if (ndead == AGENT_DEAD_CHANNELS) {
		log_warnx("agent", "too many channels to release");
		return;
	}
	dead_channels[ndead++] = ch;
	ev_timer_stop(a->loop, &reaper);
	ev_timer_set(&reaper, 0., 0.);
	ev_timer_start(a->loop, &reaper);
}

static void
agent_reap_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rpc_channel	*ch;

	(void)loop;
	(void)w;
	(void)revents;
	while (ndead > 0) {
		ch = dead_channels[--ndead];
		rpc_channel_free(ch);
	}
}

static void
agent_finish_stop(struct agent *a)
{
	store_close(a->store);
	a->store = NULL;
	log_info("agent", "agent stopped");
	a->done(a->done_arg);
}

static void
agent_api_stopped(void *arg)
{
	struct agent	*a = arg;

	if (--a->servers_running > 0)
		return;
	agent_finish_stop(a);
}

void
agent_stop(struct agent *a, void (*done)(void *), void *arg)
{
	a->done = done;
	a->done_arg = arg;
	a->stopping = 1;
	ev_timer_stop(a->loop, &a->timer);
	bundleurl_cancel(a);
	attest_free(a);
	sync_free(a);
	if (a->loader != NULL)
		a->loader->a = NULL;
	a->loader = NULL;
	srvconn_free(a);
	agent_reap_cb(a->loop, &reaper, 0);
	ev_timer_stop(a->loop, &reaper);
	workload_stop(a);
	local_free(a);
	(void)!rpc_health_set(a->health, "", RPC_HEALTH_NOT_SERVING);
	if (a->servers_running == 0) {
		agent_finish_stop(a);
		return;
	}
	if (a->admin != NULL)
		rpc_server_stop(a->admin, agent_api_stopped, a);
	if (a->api != NULL)
		rpc_server_stop(a->api, agent_api_stopped, a);
}

void
agent_free(struct agent *a)
{
	size_t	 i;

	if (a == NULL)
		return;
	a->stopping = 1;
	ev_timer_stop(a->loop, &a->timer);
	bundleurl_cancel(a);
	attest_free(a);
	sync_free(a);
	if (a->loader != NULL)
		a->loader->a = NULL;
	a->loader = NULL;
	srvconn_free(a);
	if (reaper_init) {
		agent_reap_cb(a->loop, &reaper, 0);
		ev_timer_stop(a->loop, &reaper);
	}
	workload_stop(a);
	local_free(a);
	unixattest_free_all(a);
	rpc_server_free(a->admin);
	rpc_server_free(a->api);
	rpc_health_free(a->health);
	jwt_cache_clear(a);
	store_close(a->store);
	for (i = 0; i < a->nentries; i++)
		entry_free(a->entries[i]);
	mem_free(a->entries);
	if (a->has_bundle)
		bundle_cleanup(&a->bundle);
	if (a->has_boot_bundle)
		bundle_cleanup(&a->boot_bundle);
	for (i = 0; i < a->nfed; i++)
		bundle_cleanup(&a->fed[i]);
	mem_free(a->fed);
	own_svid_clear(a);
	mem_free(a->own_rec);
	ownkey_cleanup(a);
	mem_free(a);
}
