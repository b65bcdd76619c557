/*
 * One HTTP/2 connection (nghttp2) over a transport, and the gRPC calls on
 * it, for both roles.
 *
 * Re-entry: nghttp2 calls us back from inside nghttp2_session_mem_recv()
 * and _mem_send(), and our callbacks call handlers, which may send or
 * finish at once. Every way into a connection (socket event, timer, an
 * API call from a handler) goes through h2conn_enter()/h2conn_leave();
 * only the outermost leave writes to the socket, tells handlers their
 * queues drained, and tears a dead connection down, so nghttp2 is never
 * entered twice and nothing is freed under a caller's feet.
 *
 * Flow control: nghttp2's automatic WINDOW_UPDATEs are off. Received DATA
 * bytes are given back (nghttp2_session_consume) only when the message
 * they belong to is taken by the handler, or, for a message larger than
 * a window, while it is being reassembled within its size limit and the
 * connection's RPC_CONN_IN_MAX budget. Outgoing messages queue per call
 * under RPC_STREAM_OUT_MAX and per connection under RPC_CONN_OUT_MAX and
 * leave only as the peer's windows allow (data provider, deferred when
 * empty, resumed on the next send).
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <ev.h>
#include <nghttp2/nghttp2.h>
#include <pb_decode.h>
#include <pb_encode.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/mem.h"
#include "rpc/grpc.h"
#include "rpc/h2conn.h"

#define H2_READ_CHUNK		16384	/* bytes read per transport call */
#define H2_READS_PER_EVENT	16	/* reads before yielding the loop */
#define H2_SLACK		32768	/* a frame nghttp2 hands us whole */

enum h2timer {
	H2TIMER_NONE,
	H2TIMER_HANDSHAKE,	/* connect, TLS and preface */
	H2TIMER_GRACE,		/* after our GOAWAY */
	H2TIMER_CLOSING,	/* flushing a final GOAWAY */
};

static void	h2conn_enter(struct h2conn *);
static void	h2conn_leave(struct h2conn *);
static void	h2conn_unref(struct h2conn *);
static void	h2conn_free(struct h2conn *);
static void	h2conn_io_cb(struct ev_loop *, ev_io *, int);
static void	h2conn_timer_cb(struct ev_loop *, ev_timer *, int);
static void	h2conn_set_timer(struct h2conn *, int, double);
static void	h2conn_update_io(struct h2conn *);
static int	h2conn_start(struct h2conn *);
static void	h2conn_read(struct h2conn *);
static void	h2conn_flush(struct h2conn *);
static void	h2conn_fail(struct h2conn *, const char *);
static void	h2conn_teardown(struct h2conn *);
static void	h2conn_after(struct h2conn *);
static int	h2conn_settings(struct h2conn *);

static int	h2_on_begin_headers(nghttp2_session *, const nghttp2_frame *,
		    void *);
static int	h2_on_header(nghttp2_session *, const nghttp2_frame *,
		    const uint8_t *, size_t, const uint8_t *, size_t,
		    uint8_t, void *);
static int	h2_on_frame_recv(nghttp2_session *, const nghttp2_frame *,
		    void *);
static int	h2_on_frame_send(nghttp2_session *, const nghttp2_frame *,
		    void *);
static int	h2_on_data_chunk(nghttp2_session *, uint8_t, int32_t,
		    const uint8_t *, size_t, void *);
static int	h2_on_stream_close(nghttp2_session *, int32_t, uint32_t,
		    void *);
static int	h2_on_error(nghttp2_session *, int, const char *, size_t,
		    void *);
static ssize_t	h2_data_read(nghttp2_session *, int32_t, uint8_t *, size_t,
		    uint32_t *, nghttp2_data_source *, void *);

static struct rpc_call *h2call_alloc(int);
static void	h2call_maybe_free(struct rpc_call *);
static int	h2call_md_add(struct rpc_call *, const char *, size_t,
		    const char *, size_t);
static void	h2call_give_back(struct rpc_call *, size_t);
static void	h2call_drop(struct rpc_call *, size_t);
static void	h2call_hold_partial(struct rpc_call *);
static void	h2call_pump(struct rpc_call *);
static void	h2call_end_of_input(struct rpc_call *);
static void	h2call_bad_frame(struct rpc_call *, enum grpc_frame_result,
		    const struct grpc_frame *);
static void	h2call_fail(struct rpc_call *, enum grpc_status,
		    const char *);
static void	h2call_reject(struct rpc_call *, enum grpc_status,
		    const char *, int);
static void	h2call_cancel_notify(struct rpc_call *, enum grpc_status);
static void	h2call_open(struct rpc_call *, const uint8_t *, size_t);
static int	h2call_queue_status(struct rpc_call *, enum grpc_status,
		    const char *, const struct grpc_detail *, size_t);
static int	h2call_respond(struct rpc_call *);
static void	h2call_rst(struct rpc_call *, uint32_t);
static void	h2call_deadline_cb(struct ev_loop *, ev_timer *, int);
static void	h2call_start_deadline(struct rpc_call *, struct ev_loop *);
static void	h2call_stream_gone(struct rpc_call *, uint32_t);
static void	h2call_client_result(struct rpc_call *, uint32_t);
static void	h2call_headers_done(struct rpc_call *, const nghttp2_frame *);
static enum rpc_err h2call_queue(struct rpc_call *, size_t,
		    uint8_t **);
static void	h2call_queued(struct rpc_call *, size_t);
static int	h2call_is_unary_in(const struct rpc_call *);
static enum grpc_status h2_http_to_grpc(int);
static enum grpc_status h2_rst_to_grpc(uint32_t);

/* nghttp2 copies header fields it is given, so dropping const is safe. */
#define H2_U8(s)	((uint8_t *)(uintptr_t)(s))
#define H2_NV(n, v) { H2_U8(n), H2_U8(v), sizeof(n) - 1, strlen(v), \
	NGHTTP2_NV_FLAG_NONE }

static void
h2conn_enter(struct h2conn *c)
{
	c->depth++;
}

/*
 * The outermost leave does the deferred work: write, tell handlers,
 * tear down, and free once nothing refers to the connection.
 */
static void
h2conn_leave(struct h2conn *c)
{
	if (c->depth > 1) {
		c->depth--;
		return;
	}
	h2conn_after(c);
	c->depth = 0;
	if (c->refs == 0)
		h2conn_free(c);
}

static void
h2conn_after(struct h2conn *c)
{
	struct rpc_call	*call, *next;
	int		 round;

	for (round = 0; round < 8 && c->state != H2CONN_DEAD; round++) {
		h2conn_flush(c);
		if (c->state == H2CONN_DEAD)
			break;
		/* Calls held back by the partial-message budget. */
		for (call = TAILQ_FIRST(&c->calls); call != NULL;
		    call = next) {
			next = TAILQ_NEXT(call, entry);
			if (call->stalled && c->partial < RPC_CONN_IN_MAX) {
				call->stalled = 0;
				h2call_pump(call);
			}
		}
		/* Queues that drained to half tell their senders. */
		for (call = TAILQ_FIRST(&c->calls); call != NULL;
		    call = next) {
			next = TAILQ_NEXT(call, entry);
			if (!call->want_writable ||
			    call->out.len > RPC_STREAM_OUT_MAX / 2 ||
			    c->out_total > RPC_CONN_OUT_MAX / 2)
				continue;
			call->want_writable = 0;
			if (call->is_client) {
				if (call->cbs->on_writable != NULL &&
				    !call->closed_told)
					call->cbs->on_writable(call,
					    call->cb_arg);
			} else if (call->method != NULL &&
			    call->method->on_writable != NULL &&
			    call->user_ref && !call->cancelled)
				call->method->on_writable(call,
				    call->method->arg);
		}
		if (c->session == NULL ||
		    !nghttp2_session_want_write(c->session))
			break;
	}
	if (c->state == H2CONN_DEAD && !c->torn_down)
		h2conn_teardown(c);
}

static void
h2conn_unref(struct h2conn *c)
{
	if (--c->refs == 0 && c->depth == 0)
		h2conn_free(c);
}

static void
h2conn_free(struct h2conn *c)
{
	if (c->session != NULL)
		nghttp2_session_del(c->session);
	ev_io_stop(c->loop, &c->io);
	ev_timer_stop(c->loop, &c->timer);
	if (c->t != NULL)
		c->t->ops->free(c->t);
	buf_cleanup(&c->sock_out);
	mem_free(c->authority);
	mem_free(c);
}

struct h2conn *
h2conn_new(struct ev_loop *loop, struct transport *t, int is_client,
    int connecting, size_t msg_max, const struct h2conn_owner *owner,
    void *owner_arg)
{
	struct h2conn	*c;

	c = mem_calloc(1, sizeof(*c));
	if (c == NULL) {
		t->ops->free(t);
		return NULL;
	}
	c->loop = loop;
	c->t = t;
	c->is_client = is_client;
	c->state = connecting ? H2CONN_CONNECTING : H2CONN_HANDSHAKE;
	c->refs = 1;
	c->msg_max = msg_max;
	c->owner = owner;
	c->owner_arg = owner_arg;
	c->scheme = "http";
	TAILQ_INIT(&c->calls);
	buf_init(&c->sock_out, RPC_SOCK_OUT_MAX + H2_SLACK);
	ev_io_init(&c->io, h2conn_io_cb, t->fd, 0);
	c->io.data = c;
	ev_init(&c->timer, h2conn_timer_cb);
	c->timer.data = c;
	h2conn_set_timer(c, H2TIMER_HANDSHAKE, RPC_HANDSHAKE_SEC);
	h2conn_enter(c);
	c->io_events = connecting ? EV_WRITE : EV_READ | EV_WRITE;
	h2conn_update_io(c);
	h2conn_leave(c);
	return c;
}

/* One timer per connection, whose meaning is its kind. */
static void
h2conn_set_timer(struct h2conn *c, int kind, double after)
{
	ev_timer_stop(c->loop, &c->timer);
	c->timer.data = c;
	c->io.data = c;
	c->timer_kind = kind;
	if (kind == H2TIMER_NONE)
		return;
	ev_timer_set(&c->timer, after, 0.);
	ev_timer_start(c->loop, &c->timer);
	c->timer_kind = kind;
}

void
h2conn_set_handshake(struct h2conn *c, double sec)
{
	if (c->timer_kind == H2TIMER_HANDSHAKE)
		h2conn_set_timer(c, H2TIMER_HANDSHAKE, sec);
}

static void
h2conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct h2conn	*c = w->data;

	(void)loop;
	(void)revents;
	h2conn_enter(c);
	switch (c->timer_kind) {
	case H2TIMER_HANDSHAKE:
		log_debug("rpc", "peer %s: no HTTP/2 preface in time, closed",
		    c->t->peer.addr);
		h2conn_fail(c, "handshake timed out");
		break;
	case H2TIMER_GRACE:
		h2conn_fail(c, "shutdown grace period over");
		break;
	default:
		h2conn_fail(c, "peer does not read the final frames");
		break;
	}
	h2conn_leave(c);
}

static void
h2conn_update_io(struct h2conn *c)
{
	int	 ev = c->io_events;

	if (c->state == H2CONN_DEAD)
		ev = 0;
	if ((c->io.events & (EV_READ | EV_WRITE)) == ev && ev_is_active(&c->io))
		return;
	ev_io_stop(c->loop, &c->io);
	if (ev == 0)
		return;
	ev_io_set(&c->io, c->t->fd, ev);
	ev_io_start(c->loop, &c->io);
}

static void
h2conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct h2conn	*c = w->data;
	char		 err[160];
	int		 r;

	(void)loop;
	h2conn_enter(c);
	if (c->state == H2CONN_CONNECTING && (revents & EV_WRITE)) {
		if (transport_connect_result(c->t->fd, err,
		    sizeof(err)) == -1) {
			h2conn_fail(c, err);
			goto out;
		}
		c->state = H2CONN_HANDSHAKE;
		c->io_events = EV_READ | EV_WRITE;
	}
	if (c->state == H2CONN_HANDSHAKE) {
		r = c->t->ops->handshake(c->t);
		if (r == TRANSPORT_WANT_READ) {
			c->io_events = EV_READ;
			goto out;
		}
		if (r == TRANSPORT_WANT_WRITE) {
			c->io_events = EV_WRITE;
			goto out;
		}
		if (r != 0) {
			log_debug("rpc", "peer %s: handshake failed: %s",
			    c->t->peer.addr, c->t->error);
			h2conn_fail(c, c->t->error[0] != '\0' ? c->t->error :
			    "handshake failed");
			goto out;
		}
		if (h2conn_start(c) == -1)
			goto out;
	}
	if (c->state == H2CONN_OPEN && (revents & EV_READ))
		h2conn_read(c);
out:
	h2conn_leave(c);
}

static int
h2conn_settings(struct h2conn *c)
{
	nghttp2_settings_entry	 iv[4];
	size_t			 n = 0;
	int			 r;

	iv[n].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
	iv[n++].value = RPC_STREAM_WINDOW;
	iv[n].settings_id = NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE;
	iv[n++].value = RPC_METADATA_MAX;
	if (c->is_client) {
		iv[n].settings_id = NGHTTP2_SETTINGS_ENABLE_PUSH;
		iv[n++].value = 0;
	} else {
		iv[n].settings_id = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
		iv[n++].value = RPC_STREAMS_MAX;
	}
	r = nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, n);
	if (r == 0)
		r = nghttp2_session_set_local_window_size(c->session,
		    NGHTTP2_FLAG_NONE, 0, RPC_CONN_WINDOW);
	if (r != 0) {
		log_warnx("rpc", "nghttp2 settings: %s", nghttp2_strerror(r));
		return -1;
	}
	return 0;
}

/* The transport is up: start the HTTP/2 session and send SETTINGS. */
static int
h2conn_start(struct h2conn *c)
{
	nghttp2_session_callbacks	*cbs = NULL;
	nghttp2_option			*opt = NULL;
	int				 r = -1;

	if (nghttp2_session_callbacks_new(&cbs) != 0 ||
	    nghttp2_option_new(&opt) != 0)
		goto out;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs,
	    h2_on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, h2_on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs,
	    h2_on_frame_recv);
	nghttp2_session_callbacks_set_on_frame_send_callback(cbs,
	    h2_on_frame_send);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs,
	    h2_on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs,
	    h2_on_stream_close);
	nghttp2_session_callbacks_set_error_callback2(cbs, h2_on_error);
	nghttp2_option_set_no_auto_window_update(opt, 1);
	/*
	 * XXX: a session keeps about 28 KB for the connection's life (a
	 * 16 KB frame buffer, the stream map, the header tables), more
	 * than the TLS and HTTP/2 state it stands for needs.
	 */
	if (c->is_client)
		r = nghttp2_session_client_new2(&c->session, cbs, c, opt);
	else
		r = nghttp2_session_server_new2(&c->session, cbs, c, opt);
	if (r != 0) {
		log_warnx("rpc", "nghttp2 session: %s", nghttp2_strerror(r));
		c->session = NULL;
		r = -1;
		goto out;
	}
	r = h2conn_settings(c);
	if (r == 0) {
		c->state = H2CONN_OPEN;
		c->connected = 1;
		c->io_events = EV_READ;
	}
out:
	if (cbs != NULL)
		nghttp2_session_callbacks_del(cbs);
	if (opt != NULL)
		nghttp2_option_del(opt);
	if (r != 0)
		h2conn_fail(c, "cannot start HTTP/2");
	return r;
}

static void
h2conn_read(struct h2conn *c)
{
	uint8_t	 b[H2_READ_CHUNK];
	ssize_t	 n, used;
	int	 i;

	for (i = 0; i < H2_READS_PER_EVENT; i++) {
		if (c->state != H2CONN_OPEN || c->closing ||
		    c->sock_out.len >= RPC_SOCK_OUT_MAX)
			return;
		n = c->t->ops->read(c->t, b, sizeof(b));
		if (n == TRANSPORT_WANT_READ)
			return;
		if (n == TRANSPORT_WANT_WRITE) {
			c->read_wants_write = 1;
			return;
		}
		c->read_wants_write = 0;
		if (n == 0) {
			h2conn_fail(c, "peer closed the connection");
			return;
		}
		if (n < 0) {
			h2conn_fail(c, c->t->error);
			return;
		}
		used = nghttp2_session_mem_recv(c->session, b, (size_t)n);
		if (used < 0) {
			/*
			 * Garbage instead of a preface, or a peer nghttp2
			 * gave up on: say so with GOAWAY, then close.
			 */
			log_debug("rpc", "peer %s: bad HTTP/2: %s",
			    c->t->peer.addr, nghttp2_strerror((int)used));
			snprintf(c->why, sizeof(c->why), "bad HTTP/2: %s",
			    nghttp2_strerror((int)used));
			if (nghttp2_is_fatal((int)used) &&
			    used != NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
				h2conn_fail(c, c->why);
				return;
			}
			(void)nghttp2_session_terminate_session(c->session,
			    NGHTTP2_PROTOCOL_ERROR);
			c->closing = 1;
			h2conn_set_timer(c, H2TIMER_CLOSING, RPC_HANDSHAKE_SEC);
			return;
		}
	}
}

/* Writes what nghttp2 has for the socket, as far as the socket takes. */
static void
h2conn_flush(struct h2conn *c)
{
	const uint8_t	*data;
	ssize_t		 n, w;

	if (c->state != H2CONN_OPEN)
		goto events;
	for (;;) {
		while (c->sock_out.len > 0) {
			w = c->t->ops->write(c->t, buf_ptr(&c->sock_out),
			    c->sock_out.len);
			if (w == TRANSPORT_WANT_WRITE ||
			    w == TRANSPORT_WANT_READ)
				goto events;
			if (w < 0) {
				h2conn_fail(c, c->t->error);
				return;
			}
			buf_consume(&c->sock_out, (size_t)w);
		}
		if (c->sock_out.cap > 2 * H2_READ_CHUNK)
			buf_cleanup(&c->sock_out);
		n = nghttp2_session_mem_send(c->session, &data);
		if (n < 0) {
			log_debug("rpc", "peer %s: nghttp2 send: %s",
			    c->t->peer.addr, nghttp2_strerror((int)n));
			h2conn_fail(c, "HTTP/2 send failed");
			return;
		}
		if (n == 0)
			break;
		w = c->t->ops->write(c->t, data, (size_t)n);
		if (w == TRANSPORT_WANT_WRITE || w == TRANSPORT_WANT_READ)
			w = 0;
		else if (w < 0) {
			h2conn_fail(c, c->t->error);
			return;
		}
		if (w < n && buf_append(&c->sock_out, data + w,
		    (size_t)(n - w)) == -1) {
			h2conn_fail(c, "out of memory for socket output");
			return;
		}
		if (c->sock_out.len >= RPC_SOCK_OUT_MAX)
			break;
	}
events:
	if (c->state == H2CONN_OPEN) {
		c->io_events = 0;
		if (!c->closing && c->sock_out.len < RPC_SOCK_OUT_MAX)
			c->io_events |= EV_READ;
		if (c->sock_out.len > 0 || c->read_wants_write)
			c->io_events |= EV_WRITE;
		if (c->sock_out.len == 0 &&
		    !nghttp2_session_want_read(c->session) &&
		    !nghttp2_session_want_write(c->session)) {
			h2conn_fail(c, c->why[0] != '\0' ? c->why :
			    "HTTP/2 session done");
			return;
		}
	}
	h2conn_update_io(c);
}

/* Marks the connection dead; the outermost leave tears it down. */
static void
h2conn_fail(struct h2conn *c, const char *why)
{
	if (c->state == H2CONN_DEAD)
		return;
	if (c->why[0] == '\0' || why != c->why)
		snprintf(c->why, sizeof(c->why), "%s", why);
	c->state = H2CONN_DEAD;
	h2conn_update_io(c);
	ev_timer_stop(c->loop, &c->timer);
}

void
h2conn_close(struct h2conn *c, const char *why)
{
	h2conn_enter(c);
	h2conn_fail(c, why);
	h2conn_leave(c);
}

static void
h2conn_teardown(struct h2conn *c)
{
	struct rpc_call	*call;

	c->torn_down = 1;
	ev_io_stop(c->loop, &c->io);
	ev_timer_stop(c->loop, &c->timer);
	if (c->session != NULL) {
		nghttp2_session_del(c->session);
		c->session = NULL;
	}
	/* The peer sees the close now, though calls keep the transport. */
	(void)shutdown(c->t->fd, SHUT_RDWR);
	buf_cleanup(&c->sock_out);
	log_debug("rpc", "peer %s: connection closed: %s", c->t->peer.addr,
	    c->why);
	while ((call = TAILQ_FIRST(&c->calls)) != NULL) {
		TAILQ_REMOVE(&c->calls, call, entry);
		call->on_list = 0;
		h2call_stream_gone(call, NGHTTP2_INTERNAL_ERROR);
	}
	if (c->owner != NULL && c->owner->closed != NULL)
		c->owner->closed(c->owner_arg, c, c->connected, c->why);
	c->owner = NULL;
	c->refs--;
}

void
h2conn_goaway(struct h2conn *c, double grace)
{
	h2conn_enter(c);
	if (c->state != H2CONN_OPEN) {
		h2conn_fail(c, "server stopping");
	} else if (!c->goaway_sent) {
		c->goaway_sent = 1;
		(void)nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
		    nghttp2_session_get_last_proc_stream_id(c->session),
		    NGHTTP2_NO_ERROR, NULL, 0);
		h2conn_set_timer(c, H2TIMER_GRACE, grace);
	}
	h2conn_leave(c);
}

int
h2conn_usable(const struct h2conn *c)
{
	return c->state != H2CONN_DEAD && !c->goaway_recv && !c->closing &&
	    !c->goaway_sent;
}

/* nghttp2 callbacks. */

static int
h2_on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	struct h2conn	*c = arg;
	struct rpc_call	*call;

	if (c->is_client || f->hd.type != NGHTTP2_HEADERS ||
	    f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	call = h2call_alloc(0);
	if (call == NULL)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	call->conn = c;
	c->refs++;
	call->loop = c->loop;
	call->sid = f->hd.stream_id;
	call->stream_ref = 1;
	call->msg_max = c->msg_max;
	TAILQ_INSERT_TAIL(&c->calls, call, entry);
	call->on_list = 1;
	if (nghttp2_session_set_stream_user_data(s, f->hd.stream_id,
	    call) != 0) {
		TAILQ_REMOVE(&c->calls, call, entry);
		call->on_list = 0;
		call->stream_ref = 0;
		h2call_maybe_free(call);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	return 0;
}

static void
h2call_reject(struct rpc_call *call, enum grpc_status code, const char *msg,
    int http)
{
	if (call->bad_request)
		return;
	call->bad_request = 1;
	call->reject_code = code;
	call->reject_msg = msg;
	call->http_status = http;
}

static int
h2_on_header(nghttp2_session *s, const nghttp2_frame *f,
    const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen,
    uint8_t flags, void *arg)
{
	struct rpc_call	*call;
	const char	*n = (const char *)name, *v = (const char *)value;
	uint64_t	 ns;
	int		 st;

	(void)flags;
	(void)arg;
	call = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	if (call == NULL || call->stream_closed)
		return 0;
	if (!call->is_client) {
		if (nlen == 5 && memcmp(n, ":path", 5) == 0) {
			mem_free(call->path);
			call->path = mem_strndup(v, vlen);
			if (call->path == NULL)
				return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		} else if (nlen == 7 && memcmp(n, ":method", 7) == 0) {
			if (vlen != 4 || memcmp(v, "POST", 4) != 0)
				h2call_reject(call, GRPC_STATUS_INTERNAL,
				    "gRPC requires POST", 405);
		} else if (nlen == 12 && memcmp(n, "content-type", 12) == 0) {
			/* application/grpc, +proto, ;params */
			if (vlen < 16 || memcmp(v, "application/grpc", 16) ||
			    (vlen > 16 && v[16] != '+' && v[16] != ';'))
				h2call_reject(call, GRPC_STATUS_INTERNAL,
				    "unsupported content-type", 415);
		} else if (nlen == 12 && memcmp(n, "grpc-timeout", 12) == 0) {
			if (grpc_timeout_parse(v, vlen, &ns) == -1)
				h2call_reject(call, GRPC_STATUS_INTERNAL,
				    "malformed grpc-timeout", 0);
			else
				call->deadline_at = (double)ns / 1e9;
		} else if (nlen == 13 && memcmp(n, "grpc-encoding", 13) == 0) {
			if (!(vlen == 8 && memcmp(v, "identity", 8) == 0))
				h2call_reject(call, GRPC_STATUS_UNIMPLEMENTED,
				    "grpc-encoding not supported", 0);
			mem_free(call->encoding);
			call->encoding = mem_strndup(v, vlen);
		} else if (n[0] != ':' && h2call_md_add(call, n, nlen, v,
		    vlen) == -1)
			h2call_reject(call, GRPC_STATUS_RESOURCE_EXHAUSTED,
			    "request metadata too large", 0);
		return 0;
	}
	/* Client: response headers or trailers. */
	if (nlen == 7 && memcmp(n, ":status", 7) == 0) {
		st = 0;
		while (vlen-- > 0 && *v >= '0' && *v <= '9' && st < 1000)
			st = st * 10 + (*v++ - '0');
		call->resp_status = st;
	} else if (nlen == 12 && memcmp(n, "content-type", 12) == 0) {
		if (vlen < 16 || memcmp(v, "application/grpc", 16) != 0)
			call->bad_ctype = 1;
	} else if (nlen == 11 && memcmp(n, "grpc-status", 11) == 0) {
		st = 0;
		if (vlen == 0 || vlen > 3)
			st = GRPC_STATUS_UNKNOWN;
		while (vlen-- > 0 && st < 1000) {
			if (*v < '0' || *v > '9') {
				st = GRPC_STATUS_UNKNOWN;
				break;
			}
			st = st * 10 + (*v++ - '0');
		}
		/* A code we do not know is UNKNOWN, as gRPC says. */
		call->status = st < GRPC_STATUS_COUNT ? (enum grpc_status)st :
		    GRPC_STATUS_UNKNOWN;
		call->got_status = 1;
	} else if (nlen == 12 && memcmp(n, "grpc-message", 12) == 0) {
		mem_free(call->status_msg);
		call->status_msg = mem_alloc(vlen + 1);
		if (call->status_msg != NULL)
			(void)grpc_message_decode(v, vlen, call->status_msg,
			    vlen + 1);
	} else if (nlen == 23 &&
	    memcmp(n, "grpc-status-details-bin", 23) == 0) {
		mem_free(call->details);
		call->details_len = 0;
		call->details = NULL;
		if (vlen <= base64_encoded_len(BASE64_STD, RPC_DETAILS_MAX)) {
			call->details = mem_alloc(base64_decoded_max(vlen) + 1);
			if (call->details != NULL &&
			    base64_decode(BASE64_STD, v, vlen, call->details,
			    base64_decoded_max(vlen) + 1,
			    &call->details_len) == -1) {
				mem_free(call->details);
				call->details = NULL;
				call->details_len = 0;
			}
		}
	} else if (n[0] != ':')
		(void)h2call_md_add(call, n, nlen, v, vlen);
	return 0;
}

static int
h2_on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	struct h2conn	*c = arg;
	struct rpc_call	*call = NULL;

	if (f->hd.stream_id != 0)
		call = nghttp2_session_get_stream_user_data(s,
		    f->hd.stream_id);
	switch (f->hd.type) {
	case NGHTTP2_SETTINGS:
		if ((f->hd.flags & NGHTTP2_FLAG_ACK) || c->got_settings)
			break;
		c->got_settings = 1;
		if (c->timer_kind == H2TIMER_HANDSHAKE)
			h2conn_set_timer(c, H2TIMER_NONE, 0);
		if (c->is_client && c->owner->ready != NULL)
			c->owner->ready(c->owner_arg, c);
		break;
	case NGHTTP2_GOAWAY:
		c->goaway_recv = 1;
		log_debug("rpc", "peer %s: GOAWAY (%s), last stream %d",
		    c->t->peer.addr,
		    nghttp2_http2_strerror(f->goaway.error_code),
		    f->goaway.last_stream_id);
		if (c->is_client && c->owner->goaway != NULL)
			c->owner->goaway(c->owner_arg, c);
		break;
	case NGHTTP2_HEADERS:
		if (call == NULL || call->stream_closed)
			break;
		if (!call->is_client &&
		    f->headers.cat == NGHTTP2_HCAT_REQUEST)
			h2call_headers_done(call, f);
		else if (call->is_client &&
		    f->headers.cat == NGHTTP2_HCAT_RESPONSE) {
			call->got_headers = 1;
			call->replayable = 0;
			buf_cleanup(&call->replay);
		}
		if (f->hd.flags & NGHTTP2_FLAG_END_STREAM) {
			call->remote_closed = 1;
			h2call_pump(call);
		}
		break;
	case NGHTTP2_DATA:
		if (call == NULL || call->stream_closed)
			break;
		if (f->hd.flags & NGHTTP2_FLAG_END_STREAM) {
			call->remote_closed = 1;
			h2call_pump(call);
		}
		break;
	default:
		break;
	}
	return 0;
}

/* A request's headers are complete: check them, find the method. */
static void
h2call_headers_done(struct rpc_call *call, const nghttp2_frame *f)
{
	struct h2conn	*c = call->conn;
	double		 timeout;

	(void)f;
	if (!call->bad_request && call->path == NULL)
		h2call_reject(call, GRPC_STATUS_INTERNAL, "no :path", 0);
	if (!call->bad_request) {
		call->method = c->owner->find_method(c->owner_arg, call->path);
		if (call->method == NULL)
			h2call_reject(call, GRPC_STATUS_UNIMPLEMENTED,
			    "unknown method", 0);
	}
	if (call->bad_request) {
		log_debug("rpc", "peer %s: call %s refused: %s",
		    c->t->peer.addr, call->path != NULL ? call->path : "-",
		    call->reject_msg);
		h2call_fail(call, call->reject_code, call->reject_msg);
		return;
	}
	if (call->deadline_at > 0) {
		timeout = call->deadline_at;
		call->deadline_at = ev_now(c->loop) + timeout;
		h2call_start_deadline(call, c->loop);
	}
	if (!h2call_is_unary_in(call))
		h2call_open(call, NULL, 0);
}

static int
h2_on_frame_send(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	struct h2conn	*c = arg;
	struct rpc_call	*call;

	if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
		return 0;
	call = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	if (call == NULL)
		return 0;
	if (call->is_client && f->hd.type == NGHTTP2_HEADERS)
		call->headers_sent = 1;
	/*
	 * The server has said all it will; a client still sending is told
	 * to stop with RST_STREAM NO_ERROR, as HTTP/2 section 8.1 allows.
	 */
	if (!c->is_client && (f->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
	    nghttp2_session_get_stream_remote_close(s, f->hd.stream_id) == 0)
		(void)nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE,
		    f->hd.stream_id, NGHTTP2_NO_ERROR);
	return 0;
}

static int
h2_on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t sid,
    const uint8_t *data, size_t len, void *arg)
{
	struct rpc_call	*call;

	(void)flags;
	(void)arg;
	call = nghttp2_session_get_stream_user_data(s, sid);
	/* Nobody will read these: give the window back at once. */
	if (call == NULL || call->stream_closed ||
	    (call->local_closed && !call->is_client) ||
	    (call->is_client && call->closed_told)) {
		(void)nghttp2_session_consume(s, sid, len);
		return 0;
	}
	if (buf_append(&call->in, data, len) == -1) {
		(void)nghttp2_session_consume(s, sid, len);
		h2call_fail(call, GRPC_STATUS_RESOURCE_EXHAUSTED,
		    "received more than the window allows");
		return 0;
	}
	h2call_pump(call);
	return 0;
}

static int
h2_on_stream_close(nghttp2_session *s, int32_t sid, uint32_t code,
    void *arg)
{
	struct h2conn	*c = arg;
	struct rpc_call	*call;

	call = nghttp2_session_get_stream_user_data(s, sid);
	if (call == NULL || call->stream_closed)
		return 0;
	if (call->on_list) {
		TAILQ_REMOVE(&c->calls, call, entry);
		call->on_list = 0;
	}
	h2call_stream_gone(call, code);
	return 0;
}

static int
h2_on_error(nghttp2_session *s, int code, const char *msg, size_t len,
    void *arg)
{
	struct h2conn	*c = arg;

	(void)s;
	log_debug("rpc", "peer %s: HTTP/2: %.*s (%s)", c->t->peer.addr,
	    (int)len, msg, nghttp2_strerror(code));
	return 0;
}

/* The data provider: queued message bytes, then EOF and trailers. */
static ssize_t
h2_data_read(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct rpc_call	*call = src->ptr;
	struct h2conn	*c = arg;
	nghttp2_nv	 nva[3];
	char		 code[8];
	size_t		 n, nnv = 0;

	n = call->out.len < len ? call->out.len : len;
	if (n > 0) {
		memcpy(buf, buf_ptr(&call->out), n);
		buf_consume(&call->out, n);
		c->out_total -= n;
		if (call->out.len == 0 && call->out.cap > 4 * H2_READ_CHUNK)
			buf_cleanup(&call->out);
	}
	if (call->out.len > 0)
		return (ssize_t)n;
	if (!call->local_closed) {
		if (n > 0)
			return (ssize_t)n;
		call->deferred = 1;
		return NGHTTP2_ERR_DEFERRED;
	}
	*flags |= NGHTTP2_DATA_FLAG_EOF;
	if (call->is_client)
		return (ssize_t)n;
	/* Server: the status goes in trailers. */
	*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
	snprintf(code, sizeof(code), "%d", (int)call->status);
	nva[nnv++] = (nghttp2_nv)H2_NV("grpc-status", code);
	if (call->status_msg != NULL && call->status_msg[0] != '\0')
		nva[nnv++] = (nghttp2_nv)H2_NV("grpc-message",
		    call->status_msg);
	if (call->details_b64 != NULL)
		nva[nnv++] = (nghttp2_nv)H2_NV("grpc-status-details-bin",
		    call->details_b64);
	if (nghttp2_submit_trailer(s, sid, nva, nnv) != 0)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	return (ssize_t)n;
}

/* Calls. */

static struct rpc_call *
h2call_alloc(int is_client)
{
	struct rpc_call	*call;

	call = mem_calloc(1, sizeof(*call));
	if (call == NULL)
		return NULL;
	call->is_client = is_client;
	call->sid = -1;
	buf_init(&call->in, SIZE_MAX);
	buf_init(&call->out, SIZE_MAX);
	buf_init(&call->replay, RPC_REPLAY_MAX);
	ev_init(&call->deadline, h2call_deadline_cb);
	call->deadline.data = call;
	return call;
}

struct rpc_call *
h2call_new_client(size_t msg_max)
{
	struct rpc_call	*call;

	call = h2call_alloc(1);
	if (call == NULL)
		return NULL;
	call->msg_max = msg_max;
	call->user_ref = 1;
	call->replayable = 1;
	return call;
}

static void
h2call_maybe_free(struct rpc_call *call)
{
	struct h2conn	*c = call->conn;
	size_t		 i;
	int		 trim;

	if (call->stream_ref || call->user_ref)
		return;
	if (c != NULL) {
		if (call->on_list)
			TAILQ_REMOVE(&c->calls, call, entry);
		c->out_total -= call->out.len;
		c->partial -= call->in_consumed;
		if (c->session != NULL && call->sid > 0)
			(void)nghttp2_session_set_stream_user_data(c->session,
			    call->sid, NULL);
	} else if (call->is_client)
		client_call_gone(call);
	if (call->loop != NULL)
		ev_timer_stop(call->loop, &call->deadline);
	for (i = 0; i < call->nmd; i++) {
		mem_free(H2_U8(call->md[i].name));
		mem_free(H2_U8(call->md[i].value));
	}
	mem_free(call->md);
	for (i = 0; i < call->nreq_md; i++) {
		mem_free(H2_U8(call->req_md[i].name));
		mem_free(H2_U8(call->req_md[i].value));
	}
	mem_free(call->req_md);
	buf_cleanup(&call->in);
	buf_cleanup(&call->out);
	buf_cleanup(&call->replay);
	mem_free(call->path);
	mem_free(call->encoding);
	mem_free(call->status_msg);
	mem_free(call->details_b64);
	mem_free(call->details);
	trim = call->moved >= RPC_TRIM_AFTER;
	mem_free(call);
	if (c != NULL)
		h2conn_unref(c);
	/*
	 * A large call (an admin's batch of 1,000 entries, a listing)
	 * leaves megabytes of freed heap that glibc keeps resident; hand
	 * them back now that it is over (measured: 1.8 MB after 10 batch
	 * creates of 1,000 entries).
	 */
	if (trim)
		(void)malloc_trim(0);
}

void
h2call_release_user(struct rpc_call *call)
{
	call->user_ref = 0;
	h2call_maybe_free(call);
}

static int
h2call_md_add(struct rpc_call *call, const char *n, size_t nlen,
    const char *v, size_t vlen)
{
	struct rpc_md	*md;

	if (call->nmd >= RPC_METADATA_COUNT_MAX ||
	    call->mdbytes + nlen + vlen > RPC_METADATA_MAX)
		return -1;
	md = mem_reallocarray(call->md, call->nmd + 1, sizeof(*md));
	if (md == NULL)
		return -1;
	call->md = md;
	md[call->nmd].name = mem_strndup(n, nlen);
	md[call->nmd].value = mem_strndup(v, vlen);
	if (md[call->nmd].name == NULL || md[call->nmd].value == NULL) {
		mem_free(H2_U8(md[call->nmd].name));
		mem_free(H2_U8(md[call->nmd].value));
		return -1;
	}
	call->nmd++;
	call->mdbytes += nlen + vlen;
	return 0;
}

static int
h2call_is_unary_in(const struct rpc_call *call)
{
	return !call->is_client && call->method != NULL &&
	    (call->method->shape == RPC_UNARY ||
	    call->method->shape == RPC_SERVER_STREAM);
}

/* Gives n received bytes back to the peer's flow-control windows. */
static void
h2call_give_back(struct rpc_call *call, size_t n)
{
	struct h2conn	*c = call->conn;

	if (n == 0 || c == NULL || c->session == NULL || call->stream_closed)
		return;
	(void)nghttp2_session_consume(c->session, call->sid, n);
}

/* The first n bytes of call->in have been delivered. */
static void
h2call_drop(struct rpc_call *call, size_t n)
{
	h2call_give_back(call, n - call->in_consumed);
	if (call->conn != NULL)
		call->conn->partial -= call->in_consumed;
	call->in_consumed = 0;
	call->moved += n;
	buf_consume(&call->in, n);
	if (call->in.len == 0 && call->in.cap > 4 * H2_READ_CHUNK)
		buf_cleanup(&call->in);
}

/*
 * A message larger than a window needs its bytes given back before it is
 * whole; the connection's budget bounds what all its calls hold so.
 */
static void
h2call_hold_partial(struct rpc_call *call)
{
	struct h2conn	*c = call->conn;
	size_t		 add = call->in.len - call->in_consumed;

	if (c == NULL || add == 0)
		return;
	if (c->partial + add > RPC_CONN_IN_MAX) {
		/*
		 * XXX: streams stalled here wait for others to complete; if
		 * the whole budget is held by stalled partial messages, they
		 * wait for their deadlines or the peer's cancel.
		 */
		call->stalled = 1;
		return;
	}
	h2call_give_back(call, add);
	call->in_consumed += add;
	c->partial += add;
}

/* Parses and delivers what call->in holds, as far as allowed. */
static void
h2call_pump(struct rpc_call *call)
{
	struct grpc_frame	 f;
	enum grpc_frame_result	 r;

	if (call->pumping)
		return;
	call->pumping = 1;
	for (;;) {
		if (call->is_client ? call->closed_told :
		    (call->local_closed || call->cancelled ||
		    (call->opened && !call->user_ref)))
			break;
		if (call->paused && !call->stream_closed)
			break;
		r = grpc_frame_parse(buf_ptr(&call->in), call->in.len,
		    call->msg_max, &f);
		if (r == GRPC_FRAME_MORE) {
			h2call_hold_partial(call);
			if (call->remote_closed)
				h2call_end_of_input(call);
			break;
		}
		if (r != GRPC_FRAME_MESSAGE) {
			h2call_bad_frame(call, r, &f);
			break;
		}
		if (h2call_is_unary_in(call)) {
			if (call->in.len > f.need) {
				h2call_fail(call, GRPC_STATUS_INTERNAL,
				    "more than one request message for a "
				    "unary method");
				break;
			}
			if (!call->remote_closed)
				break;
			h2call_open(call, f.msg, f.len);
			h2call_drop(call, f.need);
			continue;
		}
		if (call->is_client) {
			if (call->cbs->on_message != NULL)
				call->cbs->on_message(call, f.msg, f.len,
				    call->cb_arg);
		} else if (call->method->on_message != NULL)
			call->method->on_message(call, f.msg, f.len,
			    call->method->arg);
		h2call_drop(call, f.need);
	}
	call->pumping = 0;
}

static void
h2call_end_of_input(struct rpc_call *call)
{
	if (call->in.len > 0) {
		h2call_fail(call, GRPC_STATUS_INTERNAL,
		    "stream ended inside a message");
		return;
	}
	if (call->is_client)
		return;
	if (h2call_is_unary_in(call)) {
		if (!call->opened)
			h2call_fail(call, GRPC_STATUS_INTERNAL,
			    "no request message for a unary method");
		return;
	}
	if (call->half_close_told || !call->opened)
		return;
	call->half_close_told = 1;
	if (call->method->on_half_close != NULL)
		call->method->on_half_close(call, call->method->arg);
}

static void
h2call_bad_frame(struct rpc_call *call, enum grpc_frame_result r,
    const struct grpc_frame *f)
{
	char	 msg[128];

	switch (r) {
	case GRPC_FRAME_TOOBIG:
		snprintf(msg, sizeof(msg), "grpc: received message larger "
		    "than max (%zu vs. %zu)", f->len, call->msg_max);
		h2call_fail(call, GRPC_STATUS_RESOURCE_EXHAUSTED, msg);
		break;
	case GRPC_FRAME_COMPRESSED:
		if (call->encoding != NULL &&
		    strcmp(call->encoding, "identity") != 0)
			h2call_fail(call, GRPC_STATUS_UNIMPLEMENTED,
			    "compression not supported");
		else
			h2call_fail(call, GRPC_STATUS_INTERNAL,
			    "compressed flag set without grpc-encoding");
		break;
	default:
		h2call_fail(call, GRPC_STATUS_INTERNAL,
		    "invalid message flag");
		break;
	}
}

/* Server: hands the call to its handler. */
static void
h2call_open(struct rpc_call *call, const uint8_t *req, size_t len)
{
	call->opened = 1;
	call->user_ref = 1;
	call->method->on_call(call, req, len, call->method->arg);
}

static void
h2call_cancel_notify(struct rpc_call *call, enum grpc_status why)
{
	if (call->is_client || !call->opened || !call->user_ref ||
	    call->cancelled)
		return;
	call->cancelled = 1;
	if (call->method->on_cancel != NULL)
		call->method->on_cancel(call, why, call->method->arg);
}

static void
h2call_rst(struct rpc_call *call, uint32_t code)
{
	struct h2conn	*c = call->conn;

	if (c == NULL || c->session == NULL || call->sid <= 0 ||
	    call->stream_closed)
		return;
	(void)nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE,
	    call->sid, code);
}

/*
 * The framework ends the call: the server sends the status (whatever is
 * still queued is dropped) and tells the handler; the client resets the
 * stream and reports the status.
 */
static void
h2call_fail(struct rpc_call *call, enum grpc_status code, const char *msg)
{
	if (call->is_client) {
		h2call_rst(call, NGHTTP2_CANCEL);
		h2call_close_client(call, code, msg);
		return;
	}
	if (!call->local_closed && !call->stream_closed) {
		if (call->conn != NULL)
			call->conn->out_total -= call->out.len;
		buf_cleanup(&call->out);
		if (h2call_queue_status(call, code, msg, NULL, 0) == -1)
			h2call_rst(call, NGHTTP2_INTERNAL_ERROR);
	}
	h2call_cancel_notify(call, code);
}

static int
h2call_queue_status(struct rpc_call *call, enum grpc_status code,
    const char *msg, const struct grpc_detail *details, size_t nd)
{
	struct buf	 st;
	size_t		 n, blen;
	int		 r = -1;

	call->status = code;
	call->local_closed = 1;
	if (msg != NULL && msg[0] != '\0') {
		n = strnlen(msg, RPC_STATUS_MSG_MAX);
		call->status_msg = mem_alloc(3 * n + 1);
		if (call->status_msg == NULL ||
		    grpc_message_encode(msg, n, call->status_msg,
		    3 * n + 1) == -1)
			goto out;
	}
	if (nd > 0) {
		buf_init(&st, RPC_DETAILS_MAX);
		if (grpc_details_encode((int)code, msg, details, nd,
		    &st) == -1) {
			buf_cleanup(&st);
			log_warnx("rpc", "%s: status details over %d bytes, "
			    "not sent", call->path, RPC_DETAILS_MAX);
		} else {
			blen = base64_encoded_len(BASE64_STD, st.len) + 1;
			call->details_b64 = mem_alloc(blen);
			if (call->details_b64 == NULL ||
			    base64_encode(BASE64_STD, buf_ptr(&st), st.len,
			    call->details_b64, blen) == -1) {
				buf_cleanup(&st);
				goto out;
			}
			buf_cleanup(&st);
		}
	}
	r = 0;
out:
	if (r == -1)
		return -1;
	return h2call_respond(call);
}

/*
 * Server: sends what the call's state asks for. Before any message the
 * status goes alone (trailers-only); afterwards the data provider ends
 * with the trailers.
 */
static int
h2call_respond(struct rpc_call *call)
{
	struct h2conn		*c = call->conn;
	nghttp2_data_provider	 prd;
	nghttp2_nv		 nva[6];
	char			 code[8], http[8];
	size_t			 n = 0;
	int			 r;

	if (c == NULL || c->session == NULL || call->stream_closed)
		return -1;
	if (call->headers_sent) {
		if (call->deferred) {
			call->deferred = 0;
			(void)nghttp2_session_resume_data(c->session,
			    call->sid);
		}
		return 0;
	}
	call->headers_sent = 1;
	snprintf(http, sizeof(http), "%d", call->http_status != 0 ?
	    call->http_status : 200);
	nva[n++] = (nghttp2_nv)H2_NV(":status", http);
	nva[n++] = (nghttp2_nv)H2_NV("content-type", "application/grpc");
	if (call->local_closed && call->out.len == 0) {
		snprintf(code, sizeof(code), "%d", (int)call->status);
		nva[n++] = (nghttp2_nv)H2_NV("grpc-status", code);
		if (call->status_msg != NULL && call->status_msg[0] != '\0')
			nva[n++] = (nghttp2_nv)H2_NV("grpc-message",
			    call->status_msg);
		if (call->details_b64 != NULL)
			nva[n++] = (nghttp2_nv)H2_NV(
			    "grpc-status-details-bin", call->details_b64);
		r = nghttp2_submit_response(c->session, call->sid, nva, n,
		    NULL);
	} else {
		nva[n++] = (nghttp2_nv)H2_NV("grpc-accept-encoding",
		    "identity");
		prd.source.ptr = call;
		prd.read_callback = h2_data_read;
		r = nghttp2_submit_response(c->session, call->sid, nva, n,
		    &prd);
	}
	if (r != 0) {
		log_debug("rpc", "nghttp2_submit_response: %s",
		    nghttp2_strerror(r));
		return -1;
	}
	return 0;
}

static void
h2call_start_deadline(struct rpc_call *call, struct ev_loop *loop)
{
	double	 after;

	call->loop = loop;
	if (call->deadline_at <= 0)
		return;
	after = call->deadline_at - ev_now(loop);
	ev_timer_set(&call->deadline, after > 0 ? after : 0., 0.);
	ev_timer_start(loop, &call->deadline);
}

static void
h2call_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rpc_call	*call = w->data;
	struct h2conn	*c = call->conn;

	(void)loop;
	(void)revents;
	if (c != NULL)
		h2conn_enter(c);
	h2call_fail(call, GRPC_STATUS_DEADLINE_EXCEEDED,
	    "deadline exceeded");
	if (c != NULL)
		h2conn_leave(c);
}

void
h2call_set_deadline(struct rpc_call *call, struct ev_loop *loop,
    double timeout)
{
	call->deadline_at = ev_now(loop) + timeout;
	h2call_start_deadline(call, loop);
}

/* The stream is gone (closed, or its connection is). */
static void
h2call_stream_gone(struct rpc_call *call, uint32_t code)
{
	struct h2conn	*c = call->conn;
	size_t		 held;

	call->stream_closed = 1;
	held = call->in.len - call->in_consumed;
	if (held > 0 && c != NULL && c->session != NULL)
		(void)nghttp2_session_consume_connection(c->session, held);
	if (c != NULL)
		c->partial -= call->in_consumed;
	call->in_consumed = 0;
	call->deferred = 0;
	if (c != NULL)
		c->out_total -= call->out.len;
	if (call->is_client) {
		if (!call->closed_told) {
			/* Messages that came before the end still count. */
			h2call_pump(call);
			buf_cleanup(&call->in);
		}
		if (!call->closed_told && !call->got_headers &&
		    call->replayable && (code == NGHTTP2_REFUSED_STREAM ||
		    !call->headers_sent)) {
			/* Never processed: send again elsewhere. */
			buf_cleanup(&call->out);
			buf_cleanup(&call->in);
			call->stream_closed = 0;
			call->headers_sent = 0;
			call->remote_closed = 0;
			call->got_status = 0;
			call->resp_status = 0;
			call->sid = -1;
			call->conn = NULL;
			if (buf_append(&call->out, buf_ptr(&call->replay),
			    call->replay.len) == -1) {
				call->conn = c;
				call->stream_closed = 1;
				h2call_close_client(call,
				    GRPC_STATUS_UNAVAILABLE,
				    "connection lost");
			} else {
				if (c != NULL)
					h2conn_unref(c);
				client_call_retry(call);
				return;
			}
		} else if (!call->closed_told)
			h2call_client_result(call, c != NULL &&
			    c->state == H2CONN_DEAD ? NGHTTP2_INTERNAL_ERROR :
			    code);
	} else if (call->opened && call->user_ref && !call->cancelled)
		h2call_cancel_notify(call, c != NULL &&
		    c->state == H2CONN_DEAD ? GRPC_STATUS_UNAVAILABLE :
		    GRPC_STATUS_CANCELLED);
	buf_cleanup(&call->out);
	buf_cleanup(&call->in);
	call->stream_ref = 0;
	h2call_maybe_free(call);
}

static enum grpc_status
h2_http_to_grpc(int http)
{
	switch (http) {
	case 400:
		return GRPC_STATUS_INTERNAL;
	case 401:
		return GRPC_STATUS_UNAUTHENTICATED;
	case 403:
		return GRPC_STATUS_PERMISSION_DENIED;
	case 404:
		return GRPC_STATUS_UNIMPLEMENTED;
	case 429:
	case 502:
	case 503:
	case 504:
		return GRPC_STATUS_UNAVAILABLE;
	default:
		return GRPC_STATUS_UNKNOWN;
	}
}

static enum grpc_status
h2_rst_to_grpc(uint32_t code)
{
	switch (code) {
	case NGHTTP2_REFUSED_STREAM:
		return GRPC_STATUS_UNAVAILABLE;
	case NGHTTP2_CANCEL:
		return GRPC_STATUS_CANCELLED;
	case NGHTTP2_ENHANCE_YOUR_CALM:
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	case NGHTTP2_INADEQUATE_SECURITY:
		return GRPC_STATUS_PERMISSION_DENIED;
	default:
		return GRPC_STATUS_INTERNAL;
	}
}

/* Client: the stream ended; make the result from what came. */
static void
h2call_client_result(struct rpc_call *call, uint32_t code)
{
	char	 msg[200];

	if (call->got_status) {
		h2call_close_client(call, call->status, call->status_msg);
		return;
	}
	if (call->conn != NULL && call->conn->state == H2CONN_DEAD) {
		snprintf(msg, sizeof(msg), "connection closed: %s",
		    call->conn->why);
		h2call_close_client(call, GRPC_STATUS_UNAVAILABLE, msg);
	} else if (code != NGHTTP2_NO_ERROR) {
		snprintf(msg, sizeof(msg), "stream reset: %s",
		    nghttp2_http2_strerror(code));
		h2call_close_client(call, h2_rst_to_grpc(code), msg);
	} else if (call->resp_status != 0 && call->resp_status != 200) {
		snprintf(msg, sizeof(msg), "HTTP status %d",
		    call->resp_status);
		h2call_close_client(call, h2_http_to_grpc(call->resp_status),
		    msg);
	} else if (call->bad_ctype)
		h2call_close_client(call, GRPC_STATUS_UNKNOWN,
		    "response content-type is not gRPC");
	else
		h2call_close_client(call, GRPC_STATUS_INTERNAL,
		    "server closed the stream without sending trailers");
}

void
h2call_close_client(struct rpc_call *call, enum grpc_status code,
    const char *message)
{
	struct rpc_result	 res;

	if (call->closed_told)
		return;
	call->closed_told = 1;
	if (call->loop != NULL)
		ev_timer_stop(call->loop, &call->deadline);
	res.code = code;
	res.message = message != NULL ? message : "";
	res.details = call->got_status ? call->details : NULL;
	res.details_len = call->got_status ? call->details_len : 0;
	call->cbs->on_close(call, &res, call->cb_arg);
	call->user_ref = 0;
	h2call_maybe_free(call);
}

enum rpc_err
h2call_submit(struct h2conn *c, struct rpc_call *call)
{
	nghttp2_data_provider	 prd;
	nghttp2_nv		*nva;
	char			 tmo[16];
	size_t			 i, n = 0;
	double			 left;
	int32_t			 sid;

	nva = mem_reallocarray(NULL, 8 + call->nreq_md, sizeof(*nva));
	if (nva == NULL)
		return RPC_ERR_NOMEM;
	nva[n++] = (nghttp2_nv)H2_NV(":method", "POST");
	nva[n++] = (nghttp2_nv)H2_NV(":scheme", c->scheme);
	nva[n++] = (nghttp2_nv)H2_NV(":path", call->path);
	nva[n++] = (nghttp2_nv)H2_NV(":authority", c->authority);
	nva[n++] = (nghttp2_nv)H2_NV("content-type", "application/grpc");
	nva[n++] = (nghttp2_nv)H2_NV("te", "trailers");
	nva[n++] = (nghttp2_nv)H2_NV("user-agent", "spirelet/" VERSION);
	if (call->deadline_at > 0) {
		left = call->deadline_at - ev_now(c->loop);
		if (left < 1e-6)
			left = 1e-6;
		if (grpc_timeout_format((uint64_t)(left * 1e9), tmo,
		    sizeof(tmo)) == 0)
			nva[n++] = (nghttp2_nv)H2_NV("grpc-timeout", tmo);
	}
	for (i = 0; i < call->nreq_md; i++) {
		nva[n].name = H2_U8(call->req_md[i].name);
		nva[n].namelen = strlen(call->req_md[i].name);
		nva[n].value = H2_U8(call->req_md[i].value);
		nva[n].valuelen = strlen(call->req_md[i].value);
		nva[n++].flags = NGHTTP2_NV_FLAG_NONE;
	}
	prd.source.ptr = call;
	prd.read_callback = h2_data_read;
	h2conn_enter(c);
	sid = nghttp2_submit_request(c->session, NULL, nva, n, &prd, call);
	mem_free(nva);
	if (sid < 0) {
		log_debug("rpc", "nghttp2_submit_request: %s",
		    nghttp2_strerror(sid));
		h2conn_leave(c);
		return RPC_ERR_HTTP2;
	}
	call->conn = c;
	c->refs++;
	call->sid = sid;
	call->stream_ref = 1;
	call->loop = c->loop;
	c->out_total += call->out.len;
	TAILQ_INSERT_TAIL(&c->calls, call, entry);
	call->on_list = 1;
	h2conn_leave(c);
	return RPC_ERR_OK;
}

/* The public call API. */

/*
 * Makes room for a framed message of len bytes in call->out; *p is
 * where the message body goes.
 */
static enum rpc_err
h2call_queue(struct rpc_call *call, size_t len, uint8_t **p)
{
	struct h2conn	*c = call->conn;
	size_t		 n = GRPC_PREFIX_LEN + len;

	if (call->is_client ? call->closed_told || call->close_send :
	    call->local_closed || call->stream_closed || !call->user_ref)
		return RPC_ERR_CLOSED;
	if (call->stream_closed)
		return RPC_ERR_CLOSED;
	if (len > call->msg_max || len > UINT32_MAX)
		return RPC_ERR_TOOBIG;
	if ((call->out.len > 0 && call->out.len + n > RPC_STREAM_OUT_MAX) ||
	    (c != NULL && c->out_total > 0 &&
	    c->out_total + n > RPC_CONN_OUT_MAX)) {
		call->want_writable = 1;
		return RPC_ERR_WOULDBLOCK;
	}
	if (buf_reserve(&call->out, n) == -1)
		return RPC_ERR_NOMEM;
	grpc_frame_prefix(buf_ptr(&call->out) + call->out.len, len);
	*p = buf_ptr(&call->out) + call->out.len + GRPC_PREFIX_LEN;
	return RPC_ERR_OK;
}

/* The message written by h2call_queue's caller is in: send it. */
static void
h2call_queued(struct rpc_call *call, size_t len)
{
	struct h2conn	*c = call->conn;
	size_t		 n = GRPC_PREFIX_LEN + len;

	if (call->is_client && call->replayable) {
		if (buf_append(&call->replay, buf_ptr(&call->out) +
		    call->out.len, n) == -1) {
			call->replayable = 0;
			buf_cleanup(&call->replay);
		}
	}
	buf_added(&call->out, n);
	call->moved += n;
	if (c == NULL)
		return;
	c->out_total += n;
	h2conn_enter(c);
	if (!call->is_client) {
		if (h2call_respond(call) == -1)
			h2call_fail(call, GRPC_STATUS_INTERNAL,
			    "cannot send the response");
	} else if (call->deferred && c->session != NULL) {
		call->deferred = 0;
		(void)nghttp2_session_resume_data(c->session, call->sid);
	}
	h2conn_leave(c);
}

enum rpc_err
rpc_call_send(struct rpc_call *call, const void *msg, size_t len)
{
	enum rpc_err	 e;
	uint8_t		*p;

	e = h2call_queue(call, len, &p);
	if (e != RPC_ERR_OK)
		return e;
	if (len > 0)
		memcpy(p, msg, len);
	h2call_queued(call, len);
	return RPC_ERR_OK;
}

enum rpc_err
rpc_call_send_pb(struct rpc_call *call, const pb_msgdesc_t *fields,
    const void *src)
{
	pb_ostream_t	 os;
	enum rpc_err	 e;
	size_t		 len;
	uint8_t		*p;

	if (!pb_get_encoded_size(&len, fields, src))
		return RPC_ERR_ENCODE;
	e = h2call_queue(call, len, &p);
	if (e != RPC_ERR_OK)
		return e;
	os = pb_ostream_from_buffer(p, len);
	if (!pb_encode(&os, fields, src)) {
		log_warnx("rpc", "%s: encoding failed: %s", call->path,
		    PB_GET_ERROR(&os));
		return RPC_ERR_ENCODE;
	}
	h2call_queued(call, len);
	return RPC_ERR_OK;
}

void
rpc_call_pause(struct rpc_call *call, int paused)
{
	struct h2conn	*c = call->conn;

	call->paused = paused != 0;
	if (paused || c == NULL)
		return;
	h2conn_enter(c);
	h2call_pump(call);
	h2conn_leave(c);
}

const char *
rpc_call_path(const struct rpc_call *call)
{
	return call->path;
}

const char *
rpc_call_metadata(const struct rpc_call *call, const char *name)
{
	size_t	 i;

	for (i = 0; i < call->nmd; i++)
		if (strcmp(call->md[i].name, name) == 0)
			return call->md[i].value;
	return NULL;
}

const struct rpc_md *
rpc_call_metadata_all(const struct rpc_call *call, size_t *n)
{
	*n = call->nmd;
	return call->md;
}

const struct transport_peer *
rpc_call_peer(const struct rpc_call *call)
{
	if (call->conn == NULL)
		return NULL;
	return &call->conn->t->peer;
}

void
rpc_call_set_data(struct rpc_call *call, void *p)
{
	call->data = p;
}

void *
rpc_call_data(const struct rpc_call *call)
{
	return call->data;
}

double
rpc_call_deadline(const struct rpc_call *call)
{
	return call->deadline_at;
}

int
rpc_decode(const void *msg, size_t len, const pb_msgdesc_t *fields,
    void *dst)
{
	pb_istream_t	 is;

	is = pb_istream_from_buffer(msg, len);
	if (!pb_decode(&is, fields, dst)) {
		log_debug("rpc", "message does not decode: %s",
		    PB_GET_ERROR(&is));
		return -1;
	}
	return 0;
}

void
rpc_call_finish(struct rpc_call *call, enum grpc_status code,
    const char *message, const struct grpc_detail *details, size_t nd)
{
	struct h2conn	*c = call->conn;

	if (call->is_client || !call->user_ref) {
		log_error("rpc", "rpc_call_finish on a call not owned");
		return;
	}
	if (c != NULL)
		h2conn_enter(c);
	if (!call->local_closed && !call->stream_closed &&
	    h2call_queue_status(call, code, message, details, nd) == -1)
		h2call_rst(call, NGHTTP2_INTERNAL_ERROR);
	call->user_ref = 0;
	h2call_maybe_free(call);
	if (c != NULL)
		h2conn_leave(c);
}

enum rpc_err
rpc_call_close_send(struct rpc_call *call)
{
	struct h2conn	*c = call->conn;

	if (!call->is_client)
		return RPC_ERR_STATE;
	if (call->closed_told || call->close_send)
		return RPC_ERR_CLOSED;
	call->close_send = 1;
	call->local_closed = 1;
	if (c == NULL || call->stream_closed)
		return RPC_ERR_OK;
	h2conn_enter(c);
	if (call->deferred && c->session != NULL) {
		call->deferred = 0;
		(void)nghttp2_session_resume_data(c->session, call->sid);
	}
	h2conn_leave(c);
	return RPC_ERR_OK;
}

void
rpc_call_cancel(struct rpc_call *call)
{
	struct h2conn	*c = call->conn;

	if (!call->is_client || call->closed_told)
		return;
	if (c != NULL)
		h2conn_enter(c);
	h2call_rst(call, NGHTTP2_CANCEL);
	h2call_close_client(call, GRPC_STATUS_CANCELLED,
	    "cancelled by the caller");
	if (c != NULL)
		h2conn_leave(c);
}
