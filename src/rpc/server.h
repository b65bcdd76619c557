/*
 * gRPC server: listeners on Unix sockets and TCP (plaintext h2c with
 * prior knowledge, or TLS with ALPN h2), and dispatch to handlers by
 * method path.
 *
 * CALL LIFETIME. The framework opens a call by calling the method's
 * on_call. From then on the handler owns one reference and ends it with
 * exactly one rpc_call_finish(), from any loop iteration (now, or later
 * when a TPM signature or a worker job is done). The call pointer stays
 * valid until that finish, whatever happens on the wire. When the call
 * is cancelled (peer reset, deadline, connection lost, server stop,
 * oversized or malformed message) the handler gets on_cancel once;
 * finish is still required and is then a no-op on the wire. After
 * finish the pointer is gone: no callback names the call again.
 * A call the framework rejects before on_call (unknown method, bad
 * headers, a unary call without exactly one request) never reaches the
 * handler.
 */
#ifndef RPC_SERVER_H
#define RPC_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "rpc/call.h"
#include "rpc/grpc.h"

struct ev_loop;
struct tls_ctx;
struct rpc_server;
struct worker;
struct rpc_listener;

enum rpc_shape {
	RPC_UNARY,		/* one request, one reply */
	RPC_SERVER_STREAM,	/* one request, many replies */
	RPC_CLIENT_STREAM,	/* many requests, one reply */
	RPC_BIDI,		/* many both ways */
};

/*
 * A method table entry. The table and everything it points to are
 * borrowed and must outlive the server.
 */
struct rpc_method {
	const char	*path;		/* "/pkg.Service/Method" */
	enum rpc_shape	 shape;
	/*
	 * The call opens. UNARY and SERVER_STREAM: called once the single
	 * request and the client's half-close are in; req is the request
	 * (borrowed for this callback). CLIENT_STREAM and BIDI: called
	 * when the headers are in, req NULL; messages follow through
	 * on_message and the end through on_half_close. Required.
	 */
	void		(*on_call)(struct rpc_call *, const uint8_t *req,
			    size_t len, void *arg);
	/* CLIENT_STREAM and BIDI: one received message. */
	void		(*on_message)(struct rpc_call *, const uint8_t *,
			    size_t, void *arg);
	/* CLIENT_STREAM and BIDI: the client sends no more. */
	void		(*on_half_close)(struct rpc_call *, void *arg);
	/*
	 * The call ended without the handler (why: CANCELLED,
	 * DEADLINE_EXCEEDED, UNAVAILABLE, RESOURCE_EXHAUSTED...). Optional;
	 * rpc_call_finish() is still owed.
	 */
	void		(*on_cancel)(struct rpc_call *, enum grpc_status why,
			    void *arg);
	/* A send that returned RPC_ERR_WOULDBLOCK may be retried. */
	void		(*on_writable)(struct rpc_call *, void *arg);
	void		*arg;
};

/*
 * Ends the call: messages queued before still go out, then the status.
 * message may be NULL; it is percent-encoded for grpc-message. details
 * (ndetails entries, may be NULL) become grpc-status-details-bin, a
 * google.rpc.Status {code, message, details}. All arguments are copied.
 * The call pointer is invalid afterwards (see CALL LIFETIME).
 */
void		 rpc_call_finish(struct rpc_call *, enum grpc_status,
		    const char *message, const struct grpc_detail *details,
		    size_t ndetails);
/* The call's deadline in ev_now() time, or 0 when the client set none. */
double		 rpc_call_deadline(const struct rpc_call *);

/* NULL when memory ran out. */
struct rpc_server *rpc_server_new(struct ev_loop *);
/*
 * Adds a method table (n entries, borrowed). A path already present is
 * an error; 0 or -1 (logged).
 */
int		 rpc_server_add_methods(struct rpc_server *,
		    const struct rpc_method *, size_t n)
		    __attribute__((warn_unused_result));

struct rpc_listen_opts {
	const char	*addr;		/* "unix:/path" or "host:port" */
	int		 mode;		/* Unix socket file mode, e.g. 0777 */
	struct tls_ctx	*tls;		/* TCP only; NULL: plaintext h2c */
	size_t		 msg_max;	/* 0: RPC_MSG_MAX_DEFAULT */
	double		 handshake;	/* seconds; 0: RPC_HANDSHAKE_SEC */
	/*
	 * With tls: wolfSSL's handshake steps run on this worker (borrowed;
	 * it must outlive the server's free) and only the checks after
	 * them on the loop, so peers' one-off keys never reach the loop's
	 * EC tables. NULL: handshakes on the loop.
	 */
	struct worker	*worker;
};

/*
 * Starts listening; options are copied, tls is borrowed and must outlive
 * the listener. The listener, or NULL (logged).
 */
struct rpc_listener *rpc_server_listen(struct rpc_server *,
		    const struct rpc_listen_opts *);
/* The bound TCP port (useful with port 0), or -1 for a Unix socket. */
int		 rpc_listener_port(const struct rpc_listener *);

/*
 * Graceful stop: listeners close (Unix socket files are removed), every
 * connection gets GOAWAY, calls in flight get RPC_GOAWAY_GRACE_SEC to
 * finish, then whatever is left is closed (handlers get on_cancel), and
 * done(arg) runs once no connection is left. Call once.
 */
void		 rpc_server_stop(struct rpc_server *, void (*done)(void *),
		    void *arg);
/*
 * Closes everything at once (handlers get on_cancel) and frees. Calls
 * not yet finished stay valid until their rpc_call_finish(). Accepts
 * NULL.
 */
void		 rpc_server_free(struct rpc_server *);

#endif
