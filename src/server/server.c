/*
 * The server role's start-up and shutdown: the datastore, and the local
 * admin API on its Unix socket with grpc.health.v1.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "rpc/health.h"
#include "rpc/server.h"
#include "server/server.h"
#include "store/store.h"

/* Bumped whenever the datastore's layout changes. */
#define SERVER_SCHEMA	1

struct server {
	struct ev_loop			*loop;
	const struct server_config	*cfg;
	struct store			*store;
	struct rpc_server		*admin;	/* the local admin API */
	struct rpc_health		*health;
	void				(*done)(void *);
	void				*done_arg;
};

static void	server_admin_stopped(void *);

struct server *
server_start(struct ev_loop *loop, struct worker *worker,
    const struct server_config *cfg)
{
	struct store_config	 sc;
	struct rpc_listen_opts	 lo;
	struct server		*s;
	enum store_err		 e;
	char			 addr[512];

	s = mem_calloc(1, sizeof(*s));
	if (s == NULL) {
		log_warn("server", "cannot allocate the server");
		return NULL;
	}
	s->loop = loop;
	s->cfg = cfg;
	memset(&sc, 0, sizeof(sc));
	sc.path = cfg->data_dir;
	sc.kind = "server";
	sc.schema = SERVER_SCHEMA;
	sc.map_size = (size_t)cfg->store_map_size;
	e = store_open(&sc, &s->store);
	if (e != STORE_OK) {
		log_kv(LOG_LEVEL_ERROR, "server", "cannot open the datastore",
		    "data_dir", cfg->data_dir, "error", store_strerror(e),
		    (const char *)NULL);
		goto fail;
	}
	s->admin = rpc_server_new(loop);
	if (s->admin == NULL)
		goto fail;
	s->health = rpc_health_new();
	if (s->health == NULL ||
	    rpc_health_register(s->health, s->admin) == -1)
		goto fail;
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
	return s;
fail:
	server_free(s);
	return NULL;
}

static void
server_admin_stopped(void *arg)
{
	struct server	*s = arg;

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
	(void)!rpc_health_set(s->health, "", RPC_HEALTH_NOT_SERVING);
	rpc_server_stop(s->admin, server_admin_stopped, s);
}

void
server_free(struct server *s)
{
	if (s == NULL)
		return;
	rpc_server_free(s->admin);
	rpc_health_free(s->health);
	store_close(s->store);
	mem_free(s);
}
