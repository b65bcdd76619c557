/*
 * One gRPC call, server or client side: what both sides share. The
 * server's handler API is in rpc/server.h, the client's in rpc/client.h.
 *
 * Everything runs on the event loop thread. Message bytes handed to a
 * callback are borrowed for the callback's duration only.
 */
#ifndef RPC_CALL_H
#define RPC_CALL_H

#include <stddef.h>
#include <stdint.h>

#include <pb.h>

#include "rpc/grpc.h"
#include "rpc/transport.h"

struct rpc_call;

/* One metadata entry (an HTTP/2 header); both strings NUL-terminated. */
struct rpc_md {
	const char	*name;	/* lower case, as HTTP/2 sends it */
	const char	*value;	/* "-bin" names: still base64 */
};

/*
 * Queues one gRPC message (len raw bytes, framed here). The bytes are
 * copied. RPC_ERR_TOOBIG when len is over the call's size limit (the
 * message is refused locally, the call goes on), RPC_ERR_WOULDBLOCK when
 * the stream's or the connection's queue is full (nothing queued: wait
 * for the on_writable callback, then send again), RPC_ERR_CLOSED once the
 * call has ended (cancelled, finished or half-closed by us), RPC_ERR_NOMEM.
 */
enum rpc_err	 rpc_call_send(struct rpc_call *, const void *, size_t)
		    __attribute__((warn_unused_result));
/* The same for a nanopb message (fields, struct); RPC_ERR_ENCODE too. */
enum rpc_err	 rpc_call_send_pb(struct rpc_call *, const pb_msgdesc_t *,
		    const void *) __attribute__((warn_unused_result));

/*
 * Holds back (1) or resumes (0) delivery of received messages. While
 * held, no window is given back to the peer, so it stops sending once
 * the HTTP/2 window is full: this is how a handler that answers later
 * applies back-pressure. Resuming delivers what is held at once (from
 * within this call). A client call's last messages are delivered before
 * its on_close even when held.
 */
void		 rpc_call_pause(struct rpc_call *, int);

/* "/pkg.Service/Method"; valid for the call's lifetime. */
const char	*rpc_call_path(const struct rpc_call *);
/*
 * The first value of the metadata entry name (lower case), or NULL.
 * Server: request headers. Client: response headers and trailers seen so
 * far. Valid for the call's lifetime.
 */
const char	*rpc_call_metadata(const struct rpc_call *, const char *);
/* All entries: *n of them; valid for the call's lifetime. */
const struct rpc_md *rpc_call_metadata_all(const struct rpc_call *,
		    size_t *n);
/*
 * The other end of the connection the call came on (Unix credentials;
 * TLS chain and SPIFFE ID). Valid for the call's lifetime, even after
 * the connection has gone. NULL for a client call not yet connected.
 */
const struct transport_peer *rpc_call_peer(const struct rpc_call *);

/* A pointer for the call's owner; NULL until set. */
void		 rpc_call_set_data(struct rpc_call *, void *);
void		*rpc_call_data(const struct rpc_call *);

/*
 * Decodes one received message with nanopb, bytes_left bounded by len.
 * 0, or -1 when malformed (logged at debug, as the peer chose the bytes;
 * dst then holds nothing to release). A server handler answers -1 with
 * GRPC_STATUS_INVALID_ARGUMENT. Release dst with pb_release as usual.
 */
int		 rpc_decode(const void *, size_t, const pb_msgdesc_t *,
		    void *dst) __attribute__((warn_unused_result));

#endif
