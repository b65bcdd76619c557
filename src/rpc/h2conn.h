/*
 * Internal to src/rpc/: one HTTP/2 connection over a struct transport,
 * driven by libev, for either role, and the calls (streams) on it. The
 * server (server.c) and the client (client.c) own connections through
 * struct h2conn_owner; the call structure is shared by both roles.
 *
 * Memory: a connection is freed once it is closed AND no call refers to
 * it any more (calls keep the peer readable until their end). A call is
 * freed once its stream is gone AND its user (handler or client caller)
 * is done with it.
 */
#ifndef RPC_H2CONN_H
#define RPC_H2CONN_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "core/buf.h"
#include "rpc/call.h"
#include "rpc/client.h"
#include "rpc/server.h"
#include "rpc/transport.h"

struct h2conn;

/* What a connection tells its owner. */
struct h2conn_owner {
	/* Server: a request's headers are in; the method, or NULL. */
	const struct rpc_method *(*find_method)(void *, const char *path);
	/* Client: the server's SETTINGS came; calls may be submitted. */
	void	(*ready)(void *, struct h2conn *);
	/* Client: GOAWAY came; no new calls here. */
	void	(*goaway)(void *, struct h2conn *);
	/*
	 * The connection is closed and its calls told; the owner drops it
	 * (the memory goes with the last call). connected is 1 when the
	 * HTTP/2 session ever started (client: 0 means connect failed).
	 */
	void	(*closed)(void *, struct h2conn *, int connected,
		    const char *why);
};

enum h2conn_state {
	H2CONN_CONNECTING,	/* client: TCP/Unix connect in progress */
	H2CONN_HANDSHAKE,	/* transport handshake (TLS) */
	H2CONN_OPEN,		/* HTTP/2 running */
	H2CONN_DEAD,		/* closed; waiting for calls to let go */
};

struct h2conn {
	struct ev_loop		*loop;
	struct transport	*t;
	struct nghttp2_session	*session;
	int			 is_client;
	enum h2conn_state	 state;
	ev_io			 io;
	int			 io_events;
	ev_timer		 timer;	/* handshake, then GOAWAY grace */
	int			 timer_kind;	/* what timer means now */
	int			 read_wants_write; /* TLS read asked for it */
	int			 depth;	/* nested entries from callbacks */
	int			 refs;	/* 1 while open + 1 per call */
	int			 torn_down;
	int			 closing;	/* flush, then close */
	int			 got_settings;
	int			 goaway_sent;
	int			 goaway_recv;
	int			 connected;	/* session ever started */
	char			 why[160];	/* reason it closed */
	struct buf		 sock_out;	/* framed, unwritten */
	size_t			 out_total;	/* msg bytes queued */
	size_t			 partial;	/* given-back partials */
	size_t			 msg_max;
	const struct h2conn_owner *owner;
	void			*owner_arg;
	TAILQ_HEAD(, rpc_call)	 calls;
	TAILQ_ENTRY(h2conn)	 entry;		/* owner's list */
	struct rpc_listener	*listener;	/* server: accepted on */
	/* Client only. */
	char			*authority;
	const char		*scheme;
};

struct rpc_call {
	struct h2conn		*conn;		/* NULL: client, not sent yet */
	int32_t			 sid;		/* -1 until the stream exists */
	int			 is_client;
	struct ev_loop		*loop;		/* for the call's timers */
	int			 on_list;	/* in conn->calls */
	int			 stream_ref;	/* the stream holds a ref */
	int			 user_ref;	/* handler/caller holds a ref */
	int			 remote_closed;	/* peer sent END_STREAM */
	int			 local_closed;	/* our end is queued */
	int			 stream_closed;	/* the HTTP/2 stream is gone */
	int			 cancelled;	/* server: on_cancel told */
	int			 opened;	/* server: on_call ran */
	int			 half_close_told;
	int			 headers_sent;	/* server: response HEADERS */
	int			 deferred;	/* data provider waits */
	int			 want_writable;
	int			 paused;
	int			 pumping;
	int			 stalled;	/* partial bytes over budget */
	int			 nreq;		/* unary: messages seen */
	char			*path;
	struct rpc_md		*md;		/* strings owned */
	size_t			 nmd;
	size_t			 mdbytes;
	struct buf		 in;		/* DATA bytes not delivered */
	size_t			 in_consumed;	/* of them, given back */
	size_t			 moved;	/* message bytes in and out */
	struct buf		 out;		/* framed messages to send */
	size_t			 msg_max;
	ev_timer		 deadline;
	double			 deadline_at;	/* ev_now time; 0 none */
	void			*data;
	TAILQ_ENTRY(rpc_call)	 entry;		/* conn's or channel's list */

	/* Server. */
	const struct rpc_method	*method;
	int			 bad_request;	/* headers refused: see below */
	enum grpc_status	 reject_code;
	const char		*reject_msg;
	char			*encoding;	/* grpc-encoding, if any */
	int			 http_status;	/* 0: 200 */
	char			*details_b64;	/* grpc-status-details-bin */

	/* Client. */
	struct rpc_channel	*chan;
	const struct rpc_client_cbs *cbs;
	void			*cb_arg;
	unsigned		 flags;
	int			 closed_told;	/* on_close ran */
	int			 got_headers;
	int			 got_status;
	int			 resp_status;	/* :status */
	int			 bad_ctype;
	enum grpc_status	 status;	/* sent or received */
	char			*status_msg;	/* server: encoded */
	uint8_t			*details;
	size_t			 details_len;
	struct buf		 replay;	/* sent, for retry */
	int			 replayable;
	int			 close_send;	/* caller half-closed */
	struct rpc_md		*req_md;	/* request metadata, owned */
	size_t			 nreq_md;
};

/*
 * Wraps a transport (taken: freed on failure too). Server connections
 * start with the transport's handshake; client ones with a connect in
 * progress when connecting is 1. NULL when memory ran out.
 */
struct h2conn	*h2conn_new(struct ev_loop *, struct transport *,
		    int is_client, int connecting, size_t msg_max,
		    const struct h2conn_owner *, void *owner_arg);
/* Replaces RPC_HANDSHAKE_SEC for this connection's handshake timer. */
void		 h2conn_set_handshake(struct h2conn *, double sec);
/* Server stop: GOAWAY, then a close after grace seconds. */
void		 h2conn_goaway(struct h2conn *, double grace);
/* Closes now; calls are told (handlers get on_cancel). */
void		 h2conn_close(struct h2conn *, const char *why);
/* 1 while new client calls may go on this connection. */
int		 h2conn_usable(const struct h2conn *);

/* Client side: a new call not yet on any connection. */
struct rpc_call	*h2call_new_client(size_t msg_max);
/* Submits the request on conn; RPC_ERR_OK or the reason. */
enum rpc_err	 h2call_submit(struct h2conn *, struct rpc_call *);
/*
 * Client: reports the result once (on_close) and drops the caller's
 * reference; the call may be freed inside.
 */
void		 h2call_close_client(struct rpc_call *, enum grpc_status,
		    const char *message);
/* Client: the call ends with DEADLINE_EXCEEDED timeout seconds from now. */
void		 h2call_set_deadline(struct rpc_call *, struct ev_loop *,
		    double timeout);
/* Frees a client call that never reached a connection. */
void		 h2call_release_user(struct rpc_call *);

/* Client hooks into client.c. */
void		 client_call_retry(struct rpc_call *);
void		 client_call_gone(struct rpc_call *);

#endif
