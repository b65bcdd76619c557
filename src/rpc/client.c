/*
 * gRPC client: channels with lazy connect, backoff and GOAWAY handling.
 *
 * A TLS connection whose signer blocks (a TPM key) and whose channel has
 * a worker goes through struct chan_hs before it becomes an h2conn: the
 * loop watches the socket and keeps the deadline, the worker runs each
 * wolfSSL step (tls_transport_handshake_step), and the connection is
 * handed to h2conn once wolfSSL is done. h2conn's first ->handshake
 * then makes the ALPN, leaf and verify-hook checks on the loop, exactly
 * as for a handshake made there, and every failure ends in the same
 * backoff as a connect that failed on the loop.
 *
 * A hand-over rule keeps the threads apart: while a step is queued or
 * running (hs->stepping), the transport and its wolfSSL session belong
 * to the worker, and the loop neither watches the fd nor touches the
 * transport; worker_submit and the job's done() order the hand-overs.
 * The worker writes only hs->result; everything else in hs is the loop's.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <pb_decode.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/worker.h"
#include "rpc/client.h"
#include "rpc/h2conn.h"
#include "rpc/tls.h"
#include "rpc/transport.h"

struct chan_hs;

struct rpc_channel {
	struct ev_loop		*loop;
	struct transport_addr	 addr;
	char			*target;
	char			*authority;
	struct tls_ctx		*tls;
	struct worker		*worker;	/* for blocking signers */
	double			 handshake;	/* seconds */
	size_t			 msg_max;
	struct h2conn		*conn;		/* the one new calls go to */
	struct chan_hs		*hs;		/* conn to be, on the worker */
	int			 ready;		/* conn got SETTINGS */
	TAILQ_HEAD(, h2conn)	 old;		/* after GOAWAY, draining */
	TAILQ_HEAD(, rpc_call)	 pending;	/* calls without a stream */
	ev_timer		 kick;		/* submits from the loop */
	ev_timer		 backoff;
	int			 in_backoff;
	double			 backoff_ms;	/* the next delay */
	char			 last_err[160];
};

/*
 * A TLS handshake stepped on the worker. hs->ch is the only link back:
 * the channel clears it when it lets go (freed, deadline passed) while
 * a step is out, and that step's done() then frees what is left.
 */
struct chan_hs {
	struct rpc_channel	*ch;		/* NULL: abandoned */
	struct transport	*t;
	ev_io			 io;
	ev_timer		 deadline;	/* connect and TLS */
	int			 connecting;	/* TCP connect in progress */
	int			 stepping;	/* a step is on the worker */
	int			 result;	/* the step's; worker-written */
};

struct unary_ctx {
	const pb_msgdesc_t	*resp_fields;
	void			*resp;
	rpc_unary_done_fn	 done;
	void			*arg;
	int			 nmsg;
	int			 bad;
	int			 decoded;	/* resp holds the reply */
	int			 silent;
};

static void	chan_ready(void *, struct h2conn *);
static void	chan_goaway(void *, struct h2conn *);
static void	chan_closed(void *, struct h2conn *, int, const char *);
static void	chan_kick_cb(struct ev_loop *, ev_timer *, int);
static void	chan_backoff_cb(struct ev_loop *, ev_timer *, int);
static void	chan_kick_soon(struct rpc_channel *);
static void	chan_kick(struct rpc_channel *);
static void	chan_drop_current(struct rpc_channel *);
static int	chan_connect(struct rpc_channel *);
static int	chan_attach(struct rpc_channel *, struct transport *, int,
		    double);
static int	chan_hs_start(struct rpc_channel *, struct transport *);
static void	chan_hs_io_cb(struct ev_loop *, ev_io *, int);
static void	chan_hs_deadline_cb(struct ev_loop *, ev_timer *, int);
static void	chan_hs_step(struct chan_hs *);
static void	chan_hs_run(void *);
static void	chan_hs_done(void *, int);
static void	chan_hs_fail(struct chan_hs *, const char *);
static void	chan_hs_release(struct chan_hs *);
static void	chan_hs_handover(struct chan_hs *);
static void	chan_start_backoff(struct rpc_channel *, const char *);
static void	chan_fail_fast(struct rpc_channel *);
static void	chan_submit_pending(struct rpc_channel *);
static void	unary_on_message(struct rpc_call *, const uint8_t *, size_t,
		    void *);
static void	unary_on_close(struct rpc_call *, const struct rpc_result *,
		    void *);

static const struct h2conn_owner client_owner = {
	.ready = chan_ready,
	.goaway = chan_goaway,
	.closed = chan_closed,
};

static const struct rpc_client_cbs unary_cbs = {
	.on_message = unary_on_message,
	.on_close = unary_on_close,
};

struct rpc_channel *
rpc_channel_new(struct ev_loop *loop, const struct rpc_channel_opts *o)
{
	struct rpc_channel	*ch;
	char			 auth[300];

	ch = mem_calloc(1, sizeof(*ch));
	if (ch == NULL) {
		log_warnx("rpc", "out of memory for a channel");
		return NULL;
	}
	if (transport_addr_parse(o->target, &ch->addr) == -1) {
		log_warnx("rpc", "channel: bad target %s", o->target);
		mem_free(ch);
		return NULL;
	}
	ch->loop = loop;
	ch->tls = o->tls;
	ch->worker = o->worker;
	ch->handshake = o->handshake > 0 ? o->handshake : RPC_HANDSHAKE_SEC;
	ch->msg_max = o->msg_max != 0 ? o->msg_max : RPC_MSG_MAX_DEFAULT;
	ch->backoff_ms = RPC_BACKOFF_MIN_MS;
	if (o->authority != NULL)
		snprintf(auth, sizeof(auth), "%s", o->authority);
	else if (ch->addr.is_unix)
		snprintf(auth, sizeof(auth), "localhost");
	else
		snprintf(auth, sizeof(auth), strchr(ch->addr.host, ':') ?
		    "[%s]:%s" : "%s:%s", ch->addr.host, ch->addr.port);
	ch->authority = mem_strdup(auth);
	ch->target = mem_strdup(o->target);
	if (ch->authority == NULL || ch->target == NULL) {
		log_warnx("rpc", "out of memory for a channel");
		mem_free(ch->authority);
		mem_free(ch->target);
		mem_free(ch);
		return NULL;
	}
	TAILQ_INIT(&ch->old);
	TAILQ_INIT(&ch->pending);
	ev_init(&ch->kick, chan_kick_cb);
	ch->kick.data = ch;
	ev_init(&ch->backoff, chan_backoff_cb);
	ch->backoff.data = ch;
	return ch;
}

/* Cancels a connection's calls and closes it without telling us. */
static void
chan_close_conn(struct h2conn *c)
{
	struct rpc_call	*call, *next;

	c->owner = NULL;
	for (call = TAILQ_FIRST(&c->calls); call != NULL; call = next) {
		next = TAILQ_NEXT(call, entry);
		if (!call->closed_told)
			rpc_call_cancel(call);
	}
	h2conn_close(c, "channel closed");
}

void
rpc_channel_free(struct rpc_channel *ch)
{
	struct rpc_call	*call;
	struct h2conn	*c;

	if (ch == NULL)
		return;
	ev_timer_stop(ch->loop, &ch->kick);
	ev_timer_stop(ch->loop, &ch->backoff);
	if (ch->hs != NULL)
		chan_hs_release(ch->hs);
	while ((call = TAILQ_FIRST(&ch->pending)) != NULL)
		h2call_close_client(call, GRPC_STATUS_CANCELLED,
		    "channel closed");
	if (ch->conn != NULL) {
		c = ch->conn;
		ch->conn = NULL;
		chan_close_conn(c);
	}
	while ((c = TAILQ_FIRST(&ch->old)) != NULL) {
		TAILQ_REMOVE(&ch->old, c, entry);
		chan_close_conn(c);
	}
	mem_free(ch->authority);
	mem_free(ch->target);
	mem_free(ch);
}

static void
chan_kick_soon(struct rpc_channel *ch)
{
	if (ev_is_active(&ch->kick))
		return;
	ev_timer_set(&ch->kick, 0., 0.);
	ev_timer_start(ch->loop, &ch->kick);
}

static void
chan_kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	chan_kick(w->data);
}

/* The current connection takes no new calls: let it drain. */
static void
chan_drop_current(struct rpc_channel *ch)
{
	if (ch->conn == NULL)
		return;
	TAILQ_INSERT_TAIL(&ch->old, ch->conn, entry);
	ch->conn = NULL;
	ch->ready = 0;
}

static void
chan_kick(struct rpc_channel *ch)
{
	if (ch->in_backoff) {
		chan_fail_fast(ch);
		return;
	}
	if (TAILQ_EMPTY(&ch->pending))
		return;
	if (ch->conn != NULL && !h2conn_usable(ch->conn))
		chan_drop_current(ch);
	/* A handshake on the worker: its end kicks us again. */
	if (ch->hs != NULL)
		return;
	if (ch->conn == NULL) {
		if (chan_connect(ch) == -1)
			chan_start_backoff(ch, ch->last_err);
		return;
	}
	if (ch->ready)
		chan_submit_pending(ch);
}

static int
chan_connect(struct rpc_channel *ch)
{
	struct transport	*t;
	int			 fd;

	fd = transport_connect(&ch->addr, ch->last_err,
	    sizeof(ch->last_err));
	if (fd == -1)
		return -1;
	if (ch->tls != NULL)
		t = tls_transport_new(ch->tls, fd);
	else
		t = transport_plain_new(fd, ch->addr.is_unix);
	if (t == NULL) {
		snprintf(ch->last_err, sizeof(ch->last_err), "out of memory");
		return -1;
	}
	snprintf(t->peer.addr, sizeof(t->peer.addr), "%s", ch->target);
	log_debug("rpc", "channel %s: connecting", ch->target);
	/* The transport's identity decides: rotation may change it. */
	if (ch->worker != NULL && tls_transport_signer_blocks(t))
		return chan_hs_start(ch, t);
	return chan_attach(ch, t, 1, ch->handshake);
}

/*
 * The transport (taken) becomes the channel's connection: connecting
 * or connected, with sec seconds left for the rest of its handshake.
 */
static int
chan_attach(struct rpc_channel *ch, struct transport *t, int connecting,
    double sec)
{
	struct h2conn	*c;

	c = h2conn_new(ch->loop, t, 1, connecting, ch->msg_max, &client_owner,
	    ch);
	if (c == NULL)
		goto nomem;
	c->authority = mem_strdup(ch->authority);
	if (c->authority == NULL) {
		h2conn_close(c, "out of memory");
		goto nomem;
	}
	c->scheme = ch->tls != NULL ? "https" : "http";
	if (sec != RPC_HANDSHAKE_SEC)
		h2conn_set_handshake(c, sec);
	ch->conn = c;
	ch->ready = 0;
	return 0;
nomem:
	snprintf(ch->last_err, sizeof(ch->last_err), "out of memory");
	return -1;
}

/* The transport (taken, connect in progress) goes the worker's way. */
static int
chan_hs_start(struct rpc_channel *ch, struct transport *t)
{
	struct chan_hs	*hs;

	hs = mem_calloc(1, sizeof(*hs));
	if (hs == NULL) {
		t->ops->free(t);
		snprintf(ch->last_err, sizeof(ch->last_err), "out of memory");
		return -1;
	}
	hs->ch = ch;
	hs->t = t;
	hs->connecting = 1;
	ev_io_init(&hs->io, chan_hs_io_cb, t->fd, EV_WRITE);
	hs->io.data = hs;
	ev_io_start(ch->loop, &hs->io);
	ev_timer_init(&hs->deadline, chan_hs_deadline_cb, ch->handshake, 0.);
	hs->deadline.data = hs;
	ev_timer_start(ch->loop, &hs->deadline);
	ch->hs = hs;
	log_debug("rpc", "channel %s: TLS handshake on the worker",
	    ch->target);
	return 0;
}

static void
chan_hs_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct chan_hs	*hs = w->data;
	char		 err[sizeof(hs->ch->last_err)];

	(void)loop;
	(void)revents;
	if (hs->connecting) {
		if (transport_connect_result(hs->t->fd, err,
		    sizeof(err)) == -1) {
			chan_hs_fail(hs, err);
			return;
		}
		hs->connecting = 0;
	}
	chan_hs_step(hs);
}

static void
chan_hs_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	chan_hs_fail(w->data, "handshake timed out");
}

/* Lends the transport to the worker for one step. */
static void
chan_hs_step(struct chan_hs *hs)
{
	struct rpc_channel	*ch = hs->ch;

	ev_io_stop(ch->loop, &hs->io);
	hs->stepping = 1;
	if (worker_submit(ch->worker, chan_hs_run, chan_hs_done, hs) == -1) {
		hs->stepping = 0;
		chan_hs_fail(hs, "worker queue full");
	}
}

/* On the worker thread: the transport is ours until done() runs. */
static void
chan_hs_run(void *arg)
{
	struct chan_hs	*hs = arg;

	hs->result = tls_transport_handshake_step(hs->t);
}

/* Back on the loop with the transport. */
static void
chan_hs_done(void *arg, int cancelled)
{
	struct chan_hs		*hs = arg;
	struct rpc_channel	*ch = hs->ch;

	hs->stepping = 0;
	if (ch == NULL) {
		chan_hs_release(hs);
		return;
	}
	if (cancelled) {
		/*
		 * The worker was freed before the channel, against the
		 * rule: handshake on the loop from now on rather than
		 * submit to a worker that is gone.
		 */
		ch->worker = NULL;
		chan_hs_fail(hs, "the worker stopped");
		return;
	}
	switch (hs->result) {
	case TRANSPORT_WANT_READ:
	case TRANSPORT_WANT_WRITE:
		ev_io_set(&hs->io, hs->t->fd, hs->result ==
		    TRANSPORT_WANT_READ ? EV_READ : EV_WRITE);
		ev_io_start(ch->loop, &hs->io);
		return;
	case 0:
		chan_hs_handover(hs);
		return;
	default:
		chan_hs_fail(hs, hs->t->error[0] != '\0' ? hs->t->error :
		    "handshake failed");
		return;
	}
}

/* wolfSSL is done: the connection starts as after a loop handshake. */
static void
chan_hs_handover(struct chan_hs *hs)
{
	struct rpc_channel	*ch = hs->ch;
	struct transport	*t = hs->t;
	double			 left;

	left = ev_timer_remaining(ch->loop, &hs->deadline);
	if (left < 0.001)
		left = 0.001;
	hs->t = NULL;
	chan_hs_release(hs);
	log_debug("rpc", "channel %s: TLS handshake back from the worker",
	    ch->target);
	if (chan_attach(ch, t, 0, left) == -1)
		chan_start_backoff(ch, ch->last_err);
}

/*
 * The handshake failed or timed out: what is left goes (now, or when
 * the step out on the worker returns) and the channel backs off as
 * for any connect that failed.
 */
static void
chan_hs_fail(struct chan_hs *hs, const char *why)
{
	struct rpc_channel	*ch = hs->ch;

	/* why may live in the transport, which may go now. */
	snprintf(ch->last_err, sizeof(ch->last_err), "%s", why);
	chan_hs_release(hs);
	chan_start_backoff(ch, ch->last_err);
}

/*
 * Detaches hs from its channel; frees it at once unless a step is out,
 * whose done() then frees it. Loop thread.
 */
static void
chan_hs_release(struct chan_hs *hs)
{
	struct rpc_channel	*ch = hs->ch;

	if (ch != NULL) {
		ev_io_stop(ch->loop, &hs->io);
		ev_timer_stop(ch->loop, &hs->deadline);
		ch->hs = NULL;
		hs->ch = NULL;
	}
	if (hs->stepping)
		return;
	if (hs->t != NULL)
		hs->t->ops->free(hs->t);
	mem_free(hs);
}

static void
chan_start_backoff(struct rpc_channel *ch, const char *why)
{
	double	 delay;

	if (why != ch->last_err)
		snprintf(ch->last_err, sizeof(ch->last_err), "%s", why);
	/* gRPC's connection backoff: x1.6 per failure, +-20% jitter. */
	delay = ch->backoff_ms * (0.8 + 0.4 * (arc4random() % 1001) / 1000.);
	ch->backoff_ms *= 1.6;
	if (ch->backoff_ms > RPC_BACKOFF_MAX_MS)
		ch->backoff_ms = RPC_BACKOFF_MAX_MS;
	log_kv(LOG_LEVEL_DEBUG, "rpc", "channel connect failed", "target",
	    ch->target, "error", ch->last_err, NULL);
	ch->in_backoff = 1;
	ev_timer_set(&ch->backoff, delay / 1000., 0.);
	ev_timer_start(ch->loop, &ch->backoff);
	chan_fail_fast(ch);
}

static void
chan_backoff_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rpc_channel	*ch = w->data;

	(void)loop;
	(void)revents;
	ch->in_backoff = 0;
	chan_kick(ch);
}

/* Calls that do not wait for ready fail while the channel cannot connect. */
static void
chan_fail_fast(struct rpc_channel *ch)
{
	struct rpc_call	*call, *next;
	char		 msg[200];

	snprintf(msg, sizeof(msg), "cannot connect to %s: %s", ch->target,
	    ch->last_err);
	for (call = TAILQ_FIRST(&ch->pending); call != NULL; call = next) {
		next = TAILQ_NEXT(call, entry);
		if (!(call->flags & RPC_CALL_WAIT_FOR_READY))
			h2call_close_client(call, GRPC_STATUS_UNAVAILABLE,
			    msg);
		/* The pending list may have changed under us. */
		if (next != NULL && !next->on_list)
			break;
	}
}

static void
chan_submit_pending(struct rpc_channel *ch)
{
	struct h2conn	*c = ch->conn;
	struct rpc_call	*call;
	enum rpc_err	 e;

	while ((call = TAILQ_FIRST(&ch->pending)) != NULL) {
		if (ch->conn != c || !ch->ready || !h2conn_usable(c)) {
			chan_kick_soon(ch);
			return;
		}
		TAILQ_REMOVE(&ch->pending, call, entry);
		call->on_list = 0;
		e = h2call_submit(c, call);
		if (e != RPC_ERR_OK)
			h2call_close_client(call, GRPC_STATUS_INTERNAL,
			    rpc_strerror(e));
	}
}

static void
chan_ready(void *arg, struct h2conn *c)
{
	struct rpc_channel	*ch = arg;

	if (c != ch->conn)
		return;
	ch->ready = 1;
	ch->backoff_ms = RPC_BACKOFF_MIN_MS;
	log_debug("rpc", "channel %s: connected", ch->target);
	chan_submit_pending(ch);
}

static void
chan_goaway(void *arg, struct h2conn *c)
{
	struct rpc_channel	*ch = arg;

	if (c != ch->conn)
		return;
	chan_drop_current(ch);
	if (!TAILQ_EMPTY(&ch->pending))
		chan_kick_soon(ch);
}

static void
chan_closed(void *arg, struct h2conn *c, int connected, const char *why)
{
	struct rpc_channel	*ch = arg;

	(void)connected;
	if (c == ch->conn) {
		ch->conn = NULL;
		if (!ch->ready) {
			chan_start_backoff(ch, why);
			return;
		}
		ch->ready = 0;
	} else
		TAILQ_REMOVE(&ch->old, c, entry);
	if (!TAILQ_EMPTY(&ch->pending))
		chan_kick_soon(ch);
}

void
client_call_retry(struct rpc_call *call)
{
	struct rpc_channel	*ch = call->chan;

	TAILQ_INSERT_TAIL(&ch->pending, call, entry);
	call->on_list = 1;
	chan_kick_soon(ch);
}

void
client_call_gone(struct rpc_call *call)
{
	if (call->on_list) {
		TAILQ_REMOVE(&call->chan->pending, call, entry);
		call->on_list = 0;
	}
}

struct rpc_call *
rpc_client_call(struct rpc_channel *ch, const char *path,
    const struct rpc_md *md, size_t nmd, double timeout, unsigned flags,
    const struct rpc_client_cbs *cbs, void *arg)
{
	struct rpc_call	*call;
	size_t		 i;

	call = h2call_new_client(ch->msg_max);
	if (call == NULL)
		return NULL;
	call->path = mem_strdup(path);
	if (call->path == NULL)
		goto nomem;
	if (nmd > 0) {
		call->req_md = mem_calloc(nmd, sizeof(*call->req_md));
		if (call->req_md == NULL)
			goto nomem;
	}
	for (i = 0; i < nmd; i++) {
		call->req_md[i].name = mem_strdup(md[i].name);
		call->req_md[i].value = mem_strdup(md[i].value);
		call->nreq_md++;
		if (call->req_md[i].name == NULL ||
		    call->req_md[i].value == NULL)
			goto nomem;
	}
	call->chan = ch;
	call->cbs = cbs;
	call->cb_arg = arg;
	call->flags = flags;
	call->loop = ch->loop;
	if (timeout > 0)
		h2call_set_deadline(call, ch->loop, timeout);
	TAILQ_INSERT_TAIL(&ch->pending, call, entry);
	call->on_list = 1;
	chan_kick_soon(ch);
	return call;
nomem:
	h2call_release_user(call);
	return NULL;
}

static void
unary_on_message(struct rpc_call *call, const uint8_t *p, size_t len,
    void *arg)
{
	struct unary_ctx	*u = arg;

	(void)call;
	if (u->nmsg++ > 0) {
		u->bad = 1;
		return;
	}
	if (rpc_decode(p, len, u->resp_fields, u->resp) == -1)
		u->bad = 1;
	else
		u->decoded = 1;
}

static void
unary_on_close(struct rpc_call *call, const struct rpc_result *res,
    void *arg)
{
	struct unary_ctx	*u = arg;
	struct rpc_result	 r = *res;

	(void)call;
	if (r.code == GRPC_STATUS_OK && (u->nmsg != 1 || u->bad)) {
		r.code = GRPC_STATUS_INTERNAL;
		r.message = u->nmsg == 0 ? "no response message" :
		    u->nmsg > 1 ? "more than one response message" :
		    "response does not decode";
		r.details = NULL;
		r.details_len = 0;
	}
	if (r.code != GRPC_STATUS_OK && u->decoded)
		pb_release(u->resp_fields, u->resp);
	if (!u->silent)
		u->done(u->arg, &r);
	mem_free(u);
}

int
rpc_client_unary(struct rpc_channel *ch, const char *path,
    const struct rpc_md *md, size_t nmd, double timeout,
    const pb_msgdesc_t *req_fields, const void *req,
    const pb_msgdesc_t *resp_fields, void *resp, rpc_unary_done_fn done,
    void *arg)
{
	struct unary_ctx	*u;
	struct rpc_call		*call;
	enum rpc_err		 e;

	u = mem_calloc(1, sizeof(*u));
	if (u == NULL)
		return -1;
	u->resp_fields = resp_fields;
	u->resp = resp;
	u->done = done;
	u->arg = arg;
	call = rpc_client_call(ch, path, md, nmd, timeout, 0, &unary_cbs, u);
	if (call == NULL) {
		mem_free(u);
		return -1;
	}
	e = rpc_call_send_pb(call, req_fields, req);
	if (e == RPC_ERR_OK)
		e = rpc_call_close_send(call);
	if (e != RPC_ERR_OK) {
		log_warnx("rpc", "%s: request not sent: %s", path,
		    rpc_strerror(e));
		u->silent = 1;
		rpc_call_cancel(call);
		return -1;
	}
	return 0;
}
