/*
 * gRPC server: listeners, accept, method dispatch, graceful stop.
 *
 * A TLS listener given a worker steps each accepted connection's wolfSSL
 * handshake there (struct srv_hs, as rpc/client.c's chan_hs): the loop
 * watches the socket and keeps the deadline, the worker runs one step
 * at a time, and once wolfSSL is done the transport becomes an h2conn,
 * whose first ->handshake makes the ALPN, leaf and verify-hook checks on
 * the loop as for a handshake made there. Why: a handshake's ECDH and
 * signature check use the peer's keys, which wolfCrypt's fixed-point
 * cache (thread-local, about 850 KB a key in Debian's build, 15 keys)
 * would keep on the loop for good; the worker drops its cache after
 * each step. The loop's cache keeps the keys it meets again: the base
 * point, our CA's.
 *
 * While a step is queued or running (hs->stepping) the transport belongs
 * to the worker; the loop neither watches the fd nor touches it, and
 * worker_submit and the job's done() order the hand-overs. The worker
 * writes only hs->result.
 */
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
#include "core/worker.h"
#include "rpc/h2conn.h"
#include "rpc/server.h"
#include "rpc/tls.h"
#include "rpc/transport.h"

struct rpc_mtable {
	const struct rpc_method	*m;
	size_t			 n;
};

/* A handshake stepped on the worker; l is NULL once abandoned. */
struct srv_hs {
	struct rpc_listener	*l;
	struct transport	*t;
	ev_io			 io;
	ev_timer		 deadline;
	int			 stepping;	/* a step is on the worker */
	int			 steps;		/* steps made */
	int			 result;	/* the step's; worker-written */
	TAILQ_ENTRY(srv_hs)	 entry;
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
	struct worker		*worker;	/* for TLS handshakes */
	size_t			 nconns;	/* conns and hs */
	double			 last_warn;	/* ev_now of the last warning */
	TAILQ_HEAD(, h2conn)	 conns;
	TAILQ_HEAD(, srv_hs)	 hs;
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
static void	server_conn_start(struct rpc_listener *, struct transport *,
		    double);
static void	server_conn_gone(struct rpc_listener *);
static void	server_hs_start(struct rpc_listener *, struct transport *);
static void	server_hs_io_cb(struct ev_loop *, ev_io *, int);
static void	server_hs_deadline_cb(struct ev_loop *, ev_timer *, int);
static void	server_hs_step(struct srv_hs *);
static void	server_hs_run(void *);
static void	server_hs_done(void *, int);
static void	server_hs_handover(struct srv_hs *);
static void	server_hs_release(struct srv_hs *);
static void	server_hs_drop_all(struct rpc_listener *);

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
	TAILQ_INIT(&l->hs);
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
	l->worker = o->tls != NULL ? o->worker : NULL;
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
		log_debug("rpc", "peer %s: connected", t->peer.addr);
		if (l->worker != NULL)
			server_hs_start(l, t);
		else
			server_conn_start(l, t, l->handshake);
	}
}

/* The transport (taken) becomes a connection with sec to handshake. */
static void
server_conn_start(struct rpc_listener *l, struct transport *t, double sec)
{
	struct h2conn	*c;

	c = h2conn_new(l->srv->loop, t, 0, 0, l->msg_max, &server_owner,
	    l->srv);
	if (c == NULL) {
		log_warnx("rpc", "out of memory for a connection");
		return;
	}
	/* The owner's closed hook needs the listener: keep it. */
	c->owner_arg = l->srv;
	c->listener = l;
	h2conn_set_handshake(c, sec);
	TAILQ_INSERT_TAIL(&l->conns, c, entry);
	l->nconns++;
}

/* The transport (taken) waits for its ClientHello, then the worker. */
static void
server_hs_start(struct rpc_listener *l, struct transport *t)
{
	struct srv_hs	*hs;

	hs = mem_calloc(1, sizeof(*hs));
	if (hs == NULL) {
		log_warnx("rpc", "out of memory for a connection");
		t->ops->free(t);
		return;
	}
	hs->l = l;
	hs->t = t;
	ev_io_init(&hs->io, server_hs_io_cb, t->fd, EV_READ);
	hs->io.data = hs;
	ev_io_start(l->srv->loop, &hs->io);
	ev_timer_init(&hs->deadline, server_hs_deadline_cb, l->handshake, 0.);
	hs->deadline.data = hs;
	ev_timer_start(l->srv->loop, &hs->deadline);
	TAILQ_INSERT_TAIL(&l->hs, hs, entry);
	l->nconns++;
}

static void
server_hs_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	server_hs_step(w->data);
}

static void
server_hs_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct srv_hs	*hs = w->data;

	(void)loop;
	(void)revents;
	log_debug("rpc", "peer %s: handshake timed out", hs->t->peer.addr);
	server_hs_release(hs);
}

/* Lends the transport to the worker for one step. */
static void
server_hs_step(struct srv_hs *hs)
{
	ev_io_stop(hs->l->srv->loop, &hs->io);
	hs->stepping = 1;
	hs->steps++;
	if (worker_submit(hs->l->worker, server_hs_run, server_hs_done,
	    hs) == -1) {
		/* A full queue: the loop finishes this one itself. */
		hs->stepping = 0;
		server_hs_handover(hs);
	}
}

/* On the worker thread: the transport is ours until done() runs. */
static void
server_hs_run(void *arg)
{
	struct srv_hs	*hs = arg;

	hs->result = tls_transport_handshake_step(hs->t);
}

/* Back on the loop with the transport. */
static void
server_hs_done(void *arg, int cancelled)
{
	struct srv_hs	*hs = arg;

	hs->stepping = 0;
	if (hs->l == NULL) {
		server_hs_release(hs);
		return;
	}
	if (cancelled) {
		/* The worker went first: the loop takes handshakes over. */
		hs->l->worker = NULL;
		server_hs_handover(hs);
		return;
	}
	switch (hs->result) {
	case TRANSPORT_WANT_READ:
	case TRANSPORT_WANT_WRITE:
		ev_io_set(&hs->io, hs->t->fd, hs->result ==
		    TRANSPORT_WANT_READ ? EV_READ : EV_WRITE);
		ev_io_start(hs->l->srv->loop, &hs->io);
		return;
	case 0:
		server_hs_handover(hs);
		return;
	default:
		log_debug("rpc", "peer %s: handshake failed: %s",
		    hs->t->peer.addr, hs->t->error);
		server_hs_release(hs);
		return;
	}
}

/*
 * wolfSSL is done (or the loop takes over): the connection starts as
 * after an accept, with what is left of the deadline.
 */
static void
server_hs_handover(struct srv_hs *hs)
{
	struct rpc_listener	*l = hs->l;
	struct transport	*t = hs->t;
	double			 left;

	left = ev_timer_remaining(l->srv->loop, &hs->deadline);
	if (left < 0.001)
		left = 0.001;
	hs->t = NULL;
	server_hs_release(hs);
	server_conn_start(l, t, left);
}

/*
 * Detaches hs from its listener; frees it at once unless a step is out,
 * whose done() then frees it. Loop thread.
 */
static void
server_hs_release(struct srv_hs *hs)
{
	struct rpc_listener	*l = hs->l;

	if (l != NULL) {
		ev_io_stop(l->srv->loop, &hs->io);
		ev_timer_stop(l->srv->loop, &hs->deadline);
		TAILQ_REMOVE(&l->hs, hs, entry);
		hs->l = NULL;
		/*
		 * The worker's steps freed the EC tables they made (2.5 MB
		 * a step); once no handshake is left to step, glibc hands
		 * those pages back rather than keep them resident.
		 */
		if (TAILQ_EMPTY(&l->hs) && hs->steps > 0)
			(void)malloc_trim(0);
		server_conn_gone(l);
	}
	if (hs->stepping)
		return;
	if (hs->t != NULL)
		hs->t->ops->free(hs->t);
	mem_free(hs);
}

/* Handshakes not yet connections end with the listener. */
static void
server_hs_drop_all(struct rpc_listener *l)
{
	struct srv_hs	*hs;

	while ((hs = TAILQ_FIRST(&l->hs)) != NULL)
		server_hs_release(hs);
}

static void
server_conn_closed(void *arg, struct h2conn *c, int connected,
    const char *why)
{
	struct rpc_listener	*l = c->listener;

	(void)arg;
	(void)connected;
	(void)why;
	TAILQ_REMOVE(&l->conns, c, entry);
	server_conn_gone(l);
}

/* A connection or handshake of l is gone. */
static void
server_conn_gone(struct rpc_listener *l)
{
	l->nconns--;
	/*
	 * glibc keeps freed heap pages of a burst of connections (measured
	 * with the hostile-peer system tests); hand them back once the
	 * listener is idle, so memory returns to its baseline.
	 */
	if (l->nconns == 0)
		(void)malloc_trim(0);
	if (l->srv->stopping)
		server_check_done(l->srv);
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
		server_hs_drop_all(l);
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
		server_hs_drop_all(l);
		while ((c = TAILQ_FIRST(&l->conns)) != NULL)
			h2conn_close(c, "server freed");
		TAILQ_REMOVE(&srv->listeners, l, entry);
		mem_free(l);
	}
	ev_timer_stop(srv->loop, &srv->done_timer);
	mem_free(srv->tables);
	mem_free(srv);
}
