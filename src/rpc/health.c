/* grpc.health.v1: Check and Watch over per-service statuses. */
#include "config.h"

#include <string.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/mem.h"
#include "grpc/health/v1/health.pb.h"
#include "rpc/health.h"
#include "rpc/server.h"

struct health_service {
	char			*name;
	enum rpc_health_status	 status;
};

struct health_watch {
	struct rpc_call		*call;
	char			*service;
	int			 dirty;	/* an update waits for room */
};

struct rpc_health {
	struct rpc_method	 methods[2];
	struct health_service	 svc[RPC_HEALTH_SERVICES_MAX];
	size_t			 nsvc;
	struct health_watch	*watch[RPC_HEALTH_WATCHERS_MAX];
	size_t			 nwatch;
};

static void	health_check(struct rpc_call *, const uint8_t *, size_t,
		    void *);
static void	health_watch(struct rpc_call *, const uint8_t *, size_t,
		    void *);
static void	health_watch_cancel(struct rpc_call *, enum grpc_status,
		    void *);
static void	health_watch_writable(struct rpc_call *, void *);
static int	health_lookup(const struct rpc_health *, const char *,
		    enum rpc_health_status *);
static void	health_watch_send(struct rpc_health *, struct health_watch *);
static void	health_watch_end(struct rpc_health *, struct health_watch *,
		    enum grpc_status, const char *);

struct rpc_health *
rpc_health_new(void)
{
	struct rpc_health	*h;

	h = mem_calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	h->methods[0].path = "/grpc.health.v1.Health/Check";
	h->methods[0].shape = RPC_UNARY;
	h->methods[0].on_call = health_check;
	h->methods[0].arg = h;
	h->methods[1].path = "/grpc.health.v1.Health/Watch";
	h->methods[1].shape = RPC_SERVER_STREAM;
	h->methods[1].on_call = health_watch;
	h->methods[1].on_cancel = health_watch_cancel;
	h->methods[1].on_writable = health_watch_writable;
	h->methods[1].arg = h;
	if (rpc_health_set(h, "", RPC_HEALTH_SERVING) == -1) {
		mem_free(h);
		return NULL;
	}
	return h;
}

int
rpc_health_register(struct rpc_health *h, struct rpc_server *srv)
{
	return rpc_server_add_methods(srv, h->methods, 2);
}

static int
health_lookup(const struct rpc_health *h, const char *name,
    enum rpc_health_status *st)
{
	size_t	 i;

	for (i = 0; i < h->nsvc; i++)
		if (strcmp(h->svc[i].name, name) == 0) {
			*st = h->svc[i].status;
			return 0;
		}
	return -1;
}

int
rpc_health_set(struct rpc_health *h, const char *name,
    enum rpc_health_status st)
{
	size_t	 i;
	int	 added = 0;

	for (i = 0; i < h->nsvc; i++)
		if (strcmp(h->svc[i].name, name) == 0)
			break;
	if (i == h->nsvc) {
		added = 1;
		if (h->nsvc == RPC_HEALTH_SERVICES_MAX) {
			log_warnx("rpc", "health: more than %d services",
			    RPC_HEALTH_SERVICES_MAX);
			return -1;
		}
		h->svc[i].name = mem_strdup(name);
		if (h->svc[i].name == NULL)
			return -1;
		h->nsvc++;
	}
	if (h->svc[i].status == st && !added)
		return 0;
	h->svc[i].status = st;
	for (i = 0; i < h->nwatch; i++)
		if (strcmp(h->watch[i]->service, name) == 0) {
			h->watch[i]->dirty = 1;
			health_watch_send(h, h->watch[i]);
		}
	return 0;
}

static void
health_check(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	struct rpc_health				*h = arg;
	grpc_health_v1_HealthCheckRequest		 in;
	grpc_health_v1_HealthCheckResponse		 out;
	enum rpc_health_status				 st;
	enum rpc_err					 e;

	memset(&in, 0, sizeof(in));
	if (rpc_decode(req, len, grpc_health_v1_HealthCheckRequest_fields,
	    &in) == -1) {
		rpc_call_finish(call, GRPC_STATUS_INVALID_ARGUMENT,
		    "malformed HealthCheckRequest", NULL, 0);
		return;
	}
	if (health_lookup(h, in.service, &st) == -1) {
		rpc_call_finish(call, GRPC_STATUS_NOT_FOUND,
		    "unknown service", NULL, 0);
		return;
	}
	memset(&out, 0, sizeof(out));
	out.status = (grpc_health_v1_HealthCheckResponse_ServingStatus)st;
	e = rpc_call_send_pb(call, grpc_health_v1_HealthCheckResponse_fields,
	    &out);
	if (e != RPC_ERR_OK)
		rpc_call_finish(call, GRPC_STATUS_INTERNAL, rpc_strerror(e),
		    NULL, 0);
	else
		rpc_call_finish(call, GRPC_STATUS_OK, NULL, NULL, 0);
}

static void
health_watch(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	struct rpc_health			*h = arg;
	grpc_health_v1_HealthCheckRequest	 in;
	struct health_watch			*w;

	memset(&in, 0, sizeof(in));
	if (rpc_decode(req, len, grpc_health_v1_HealthCheckRequest_fields,
	    &in) == -1) {
		rpc_call_finish(call, GRPC_STATUS_INVALID_ARGUMENT,
		    "malformed HealthCheckRequest", NULL, 0);
		return;
	}
	if (h->nwatch == RPC_HEALTH_WATCHERS_MAX) {
		rpc_call_finish(call, GRPC_STATUS_RESOURCE_EXHAUSTED,
		    "too many health watchers", NULL, 0);
		return;
	}
	w = mem_calloc(1, sizeof(*w));
	if (w == NULL || (w->service = mem_strdup(in.service)) == NULL) {
		mem_free(w);
		rpc_call_finish(call, GRPC_STATUS_RESOURCE_EXHAUSTED,
		    "out of memory", NULL, 0);
		return;
	}
	w->call = call;
	w->dirty = 1;
	rpc_call_set_data(call, w);
	h->watch[h->nwatch++] = w;
	health_watch_send(h, w);
}

static void
health_watch_send(struct rpc_health *h, struct health_watch *w)
{
	grpc_health_v1_HealthCheckResponse	 out;
	enum rpc_health_status			 st;
	enum rpc_err				 e;

	if (!w->dirty)
		return;
	if (health_lookup(h, w->service, &st) == -1)
		st = RPC_HEALTH_SERVICE_UNKNOWN;
	memset(&out, 0, sizeof(out));
	out.status = (grpc_health_v1_HealthCheckResponse_ServingStatus)st;
	e = rpc_call_send_pb(w->call,
	    grpc_health_v1_HealthCheckResponse_fields, &out);
	if (e == RPC_ERR_OK)
		w->dirty = 0;
	else if (e != RPC_ERR_WOULDBLOCK)
		health_watch_end(h, w, GRPC_STATUS_INTERNAL, rpc_strerror(e));
}

static void
health_watch_end(struct rpc_health *h, struct health_watch *w,
    enum grpc_status code, const char *msg)
{
	size_t	 i;

	for (i = 0; i < h->nwatch; i++)
		if (h->watch[i] == w) {
			h->watch[i] = h->watch[--h->nwatch];
			break;
		}
	rpc_call_finish(w->call, code, msg, NULL, 0);
	mem_free(w->service);
	mem_free(w);
}

static void
health_watch_cancel(struct rpc_call *call, enum grpc_status why, void *arg)
{
	(void)why;
	health_watch_end(arg, rpc_call_data(call), GRPC_STATUS_CANCELLED,
	    NULL);
}

static void
health_watch_writable(struct rpc_call *call, void *arg)
{
	health_watch_send(arg, rpc_call_data(call));
}

void
rpc_health_free(struct rpc_health *h)
{
	size_t	 i;

	if (h == NULL)
		return;
	while (h->nwatch > 0)
		health_watch_end(h, h->watch[0], GRPC_STATUS_UNAVAILABLE,
		    "server stopping");
	for (i = 0; i < h->nsvc; i++)
		mem_free(h->svc[i].name);
	mem_free(h);
}
