/* gRPC server: listeners, accept, method dispatch, graceful stop. */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <malloc.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/mem.h"
#include "rpc/h2conn.h"
#include "rpc/server.h"
#include "rpc/tls.h"
#include "rpc/transport.h"

struct rpc_mtable {
	const struct rpc_method	*m;
	size_t			 n;
};

struct rpc_listener {
	struct rpc_server	*srv;
	int			 fd;	/* -1 once closed */
	ev_io			 io;
	struct transport_addr	 addr;
	int			 port;
	struct tls_ctx		*tls;
	size_t			 msg_max;
	double			 handshake;
	size_t			 nconns;
	double			 last_warn;	/* ev_now of the last warning */
	TAILQ_HEAD(, h2conn)	 conns;
	TAILQ_ENTRY(rpc_listener) entry;
};

struct rpc_server {
	struct ev_loop		*loop;
	struct rpc_mtable	*tables;
	size_t			 ntables;
	TAILQ_HEAD(, rpc_listener) listeners;
	int			 stopping;
	void			(*done)(void *);
	void			*done_arg;
	ev_timer		 done_timer;	/* runs done from the loop */
};

static const struct rpc_method *server_find_method(void *, const char *);
static void	server_conn_closed(void *, struct h2conn *, int,
		    const char *);
static void	server_accept_cb(struct ev_loop *, ev_io *, int);
static void	server_listener_close(struct rpc_listener *);
static void	server_check_done(struct rpc_server *);
static void	server_done_cb(struct ev_loop *, ev_timer *, int);

static const struct h2conn_owner server_owner = {
	.find_method = server_find_method,
	.closed = server_conn_closed,
};

struct rpc_server *
rpc_server_new(struct ev_loop *loop)
{
	struct rpc_server	*srv;

	srv = mem_calloc(1, sizeof(*srv));
	if (srv == NULL)
		return NULL;
	srv->loop = loop;
	TAILQ_INIT(&srv->listeners);
	ev_init(&srv->done_timer, server_done_cb);
	srv->done_timer.data = srv;
	return srv;
}

int
rpc_server_add_methods(struct rpc_server *srv, const struct rpc_method *m,
    size_t n)
{
	struct rpc_mtable	*t;
	size_t			 i;

	for (i = 0; i < n; i++) {
		if (m[i].path == NULL || m[i].on_call == NULL) {
			log_warnx("rpc", "method %zu: no path or on_call", i);
			return -1;
		}
		if (server_find_method(srv, m[i].path) != NULL) {
			log_warnx("rpc", "method %s registered twice",
			    m[i].path);
			return -1;
		}
	}
	t = mem_reallocarray(srv->tables, srv->ntables + 1, sizeof(*t));
	if (t == NULL) {
		log_warnx("rpc", "out of memory for a method table");
		return -1;
	}
	srv->tables = t;
	t[srv->ntables].m = m;
	t[srv->ntables].n = n;
	srv->ntables++;
	return 0;
}

static const struct rpc_method *
server_find_method(void *arg, const char *path)
{
	struct rpc_server	*srv = arg;
	size_t			 i, j;

	for (i = 0; i < srv->ntables; i++)
		for (j = 0; j < srv->tables[i].n; j++)
			if (strcmp(srv->tables[i].m[j].path, path) == 0)
				return &srv->tables[i].m[j];
	return NULL;
}

struct rpc_listener *
rpc_server_listen(struct rpc_server *srv, const struct rpc_listen_opts *o)
{
	struct rpc_listener	*l;

	l = mem_calloc(1, sizeof(*l));
	if (l == NULL) {
		log_warnx("rpc", "out of memory for a listener");
		return NULL;
	}
	l->srv = srv;
	l->fd = -1;
	l->port = -1;
	TAILQ_INIT(&l->conns);
	if (transport_addr_parse(o->addr, &l->addr) == -1) {
		log_warnx("rpc", "listen: bad address %s", o->addr);
		goto fail;
	}
	if (o->tls != NULL && l->addr.is_unix) {
		log_warnx("rpc", "listen %s: TLS is for TCP listeners",
		    o->addr);
		goto fail;
	}
	l->tls = o->tls;
	l->msg_max = o->msg_max != 0 ? o->msg_max : RPC_MSG_MAX_DEFAULT;
	l->handshake = o->handshake > 0 ? o->handshake : RPC_HANDSHAKE_SEC;
	l->fd = transport_listen(&l->addr, o->mode);
	if (l->fd == -1)
		goto fail;
	if (!l->addr.is_unix)
		l->port = transport_local_port(l->fd);
	ev_io_init(&l->io, server_accept_cb, l->fd, EV_READ);
	l->io.data = l;
	ev_io_start(srv->loop, &l->io);
	TAILQ_INSERT_TAIL(&srv->listeners, l, entry);
	if (l->addr.is_unix)
		log_kv(LOG_LEVEL_INFO, "rpc", "listening", "path",
		    l->addr.path, "tls", "false", NULL);
	else {
		char	 port[8];

		snprintf(port, sizeof(port), "%d", l->port);
		log_kv(LOG_LEVEL_INFO, "rpc", "listening", "host",
		    l->addr.host, "port", port, "tls",
		    l->tls != NULL ? "true" : "false", NULL);
	}
	return l;
fail:
	mem_free(l);
	return NULL;
}

int
rpc_listener_port(const struct rpc_listener *l)
{
	return l->port;
}

static void
server_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct rpc_listener	*l = w->data;
	struct transport	*t;
	struct h2conn		*c;
	int			 fd, i;

	(void)revents;
	for (i = 0; i < 16; i++) {
		fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED &&
			    ev_now(loop) - l->last_warn >= RPC_LOG_WARN_SEC) {
				l->last_warn = ev_now(loop);
				log_warn("rpc", "accept");
			}
			return;
		}
		if (l->nconns >= RPC_CONNS_MAX) {
			if (ev_now(loop) - l->last_warn >= RPC_LOG_WARN_SEC) {
				l->last_warn = ev_now(loop);
				log_warnx("rpc", "%d connections: refusing "
				    "more", RPC_CONNS_MAX);
			}
			close(fd);
			continue;
		}
		if (l->tls != NULL)
			t = tls_transport_new(l->tls, fd);
		else
			t = transport_plain_new(fd, l->addr.is_unix);
		if (t == NULL) {
			log_warnx("rpc", "out of memory for a connection");
			continue;
		}
		c = h2conn_new(loop, t, 0, 0, l->msg_max, &server_owner,
		    l->srv);
		if (c == NULL) {
			log_warnx("rpc", "out of memory for a connection");
			continue;
		}
		/* The owner's closed hook needs the listener: keep it. */
		c->owner_arg = l->srv;
		c->listener = l;
		h2conn_set_handshake(c, l->handshake);
		TAILQ_INSERT_TAIL(&l->conns, c, entry);
		l->nconns++;
		log_debug("rpc", "peer %s: connected", t->peer.addr);
	}
}

static void
server_conn_closed(void *arg, struct h2conn *c, int connected,
    const char *why)
{
	struct rpc_server	*srv = arg;
	struct rpc_listener	*l = c->listener;

	(void)connected;
	(void)why;
	TAILQ_REMOVE(&l->conns, c, entry);
	l->nconns--;
	/*
	 * glibc keeps freed heap pages of a burst of connections (measured
	 * with the hostile-peer system tests); hand them back once the
	 * listener is idle, so memory returns to its baseline.
	 */
	if (l->nconns == 0)
		(void)malloc_trim(0);
	if (srv->stopping)
		server_check_done(srv);
}

static void
server_listener_close(struct rpc_listener *l)
{
	if (l->fd == -1)
		return;
	ev_io_stop(l->srv->loop, &l->io);
	close(l->fd);
	l->fd = -1;
	if (l->addr.is_unix)
		(void)unlink(l->addr.path);
}

static void
server_check_done(struct rpc_server *srv)
{
	struct rpc_listener	*l;

	TAILQ_FOREACH(l, &srv->listeners, entry)
		if (l->nconns > 0)
			return;
	if (srv->done != NULL && !ev_is_active(&srv->done_timer)) {
		ev_timer_set(&srv->done_timer, 0., 0.);
		ev_timer_start(srv->loop, &srv->done_timer);
	}
}

static void
server_done_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rpc_server	*srv = w->data;
	void			(*done)(void *) = srv->done;

	(void)loop;
	(void)revents;
	srv->done = NULL;
	if (done != NULL)
		done(srv->done_arg);
}

void
rpc_server_stop(struct rpc_server *srv, void (*done)(void *), void *arg)
{
	struct rpc_listener	*l;
	struct h2conn		*c, *next;

	if (srv->stopping)
		return;
	srv->stopping = 1;
	srv->done = done;
	srv->done_arg = arg;
	log_info("rpc", "server stopping: GOAWAY to every connection");
	TAILQ_FOREACH(l, &srv->listeners, entry) {
		server_listener_close(l);
		for (c = TAILQ_FIRST(&l->conns); c != NULL; c = next) {
			next = TAILQ_NEXT(c, entry);
			h2conn_goaway(c, RPC_GOAWAY_GRACE_SEC);
		}
	}
	server_check_done(srv);
}

void
rpc_server_free(struct rpc_server *srv)
{
	struct rpc_listener	*l;
	struct h2conn		*c;

	if (srv == NULL)
		return;
	srv->stopping = 1;
	srv->done = NULL;
	while ((l = TAILQ_FIRST(&srv->listeners)) != NULL) {
		server_listener_close(l);
		while ((c = TAILQ_FIRST(&l->conns)) != NULL)
			h2conn_close(c, "server freed");
		TAILQ_REMOVE(&srv->listeners, l, entry);
		mem_free(l);
	}
	ev_timer_stop(srv->loop, &srv->done_timer);
	mem_free(srv->tables);
	mem_free(srv);
}
