/*
 * The agent role's start-up and shutdown: the cache, and the Workload
 * API socket with grpc.health.v1 (spire-agent healthcheck asks there).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "core/log.h"
#include "core/mem.h"
#include "rpc/health.h"
#include "rpc/server.h"
#include "store/store.h"

/* Bumped whenever the cache's layout changes. */
#define AGENT_SCHEMA	1

struct agent {
	struct ev_loop			*loop;
	const struct agent_config	*cfg;
	struct store			*store;
	struct rpc_server		*api;	/* the Workload API */
	struct rpc_health		*health;
	void				(*done)(void *);
	void				*done_arg;
};

static void	agent_api_stopped(void *);

struct agent *
agent_start(struct ev_loop *loop, struct worker *worker,
    const struct agent_config *cfg)
{
	struct store_config	 sc;
	struct rpc_listen_opts	 lo;
	struct agent		*a;
	enum store_err		 e;
	char			 addr[512];

	a = mem_calloc(1, sizeof(*a));
	if (a == NULL) {
		log_warn("agent", "cannot allocate the agent");
		return NULL;
	}
	a->loop = loop;
	a->cfg = cfg;
	memset(&sc, 0, sizeof(sc));
	sc.path = cfg->data_dir;
	sc.kind = "agent";
	sc.schema = AGENT_SCHEMA;
	sc.map_size = (size_t)cfg->store_map_size;
	e = store_open(&sc, &a->store);
	if (e != STORE_OK) {
		log_kv(LOG_LEVEL_ERROR, "agent", "cannot open the cache",
		    "data_dir", cfg->data_dir, "error", store_strerror(e),
		    (const char *)NULL);
		goto fail;
	}
	a->api = rpc_server_new(loop);
	if (a->api == NULL)
		goto fail;
	a->health = rpc_health_new();
	if (a->health == NULL || rpc_health_register(a->health, a->api) == -1)
		goto fail;
	snprintf(addr, sizeof(addr), "unix:%s", cfg->socket_path);
	memset(&lo, 0, sizeof(lo));
	lo.addr = addr;
	/* Any local process may ask; attestation decides what it gets. */
	lo.mode = 0777;
	lo.msg_max = (size_t)cfg->max_message_size;
	if (rpc_server_listen(a->api, &lo) == NULL)
		goto fail;
	log_kv(LOG_LEVEL_INFO, "agent", "Workload API listening", "path",
	    cfg->socket_path, "trust_domain", cfg->trust_domain,
	    "data_dir", cfg->data_dir, (const char *)NULL);
	return a;
fail:
	agent_free(a);
	return NULL;
}

static void
agent_api_stopped(void *arg)
{
	struct agent	*a = arg;

	store_close(a->store);
	a->store = NULL;
	log_info("agent", "agent stopped");
	a->done(a->done_arg);
}

void
agent_stop(struct agent *a, void (*done)(void *), void *arg)
{
	a->done = done;
	a->done_arg = arg;
	(void)!rpc_health_set(a->health, "", RPC_HEALTH_NOT_SERVING);
	rpc_server_stop(a->api, agent_api_stopped, a);
}

void
agent_free(struct agent *a)
{
	if (a == NULL)
		return;
	rpc_server_free(a->api);
	rpc_health_free(a->health);
	store_close(a->store);
	mem_free(a);
}
