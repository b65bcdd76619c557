/*
 * gRPC client: a channel to one target ("unix:/path", "unix:///path" or
 * "host:port"), plaintext or TLS, connected lazily on the first call.
 * When connecting fails the channel waits (exponential backoff with
 * jitter, RPC_BACKOFF_MIN_MS..MAX_MS) before it tries again. A GOAWAY
 * from the server is transparent: calls in flight finish on the old
 * connection, new calls go to a new one, and a call the server refused
 * without processing it is sent again.
 *
 * A TLS identity whose key signs slowly (the TPM) is handshaken without
 * the loop waiting: the socket stays with the loop, and each step of
 * wolfSSL's handshake runs on the channel's worker thread (its wolfSSL
 * session moving between the two threads, never used by both at once).
 * The connection then starts on the loop as any other, with the same
 * peer checks, backoff and GOAWAY handling.
 *
 * CALL LIFETIME. rpc_client_call() returns a call that stays valid until
 * its on_close callback returns; on_close runs exactly once, never from
 * inside rpc_client_call() itself (a call that cannot start is closed
 * from the loop), but it does run from inside rpc_call_cancel().
 */
#ifndef RPC_CLIENT_H
#define RPC_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "rpc/call.h"
#include "rpc/grpc.h"

struct ev_loop;
struct tls_ctx;
struct worker;
struct rpc_channel;

struct rpc_channel_opts {
	const char	*target;
	struct tls_ctx	*tls;		/* TCP only; NULL: plaintext h2c */
	const char	*authority;	/* :authority; NULL: from target */
	size_t		 msg_max;	/* 0: RPC_MSG_MAX_DEFAULT */
	/*
	 * Where TLS handshakes whose signer blocks (tls_identity's
	 * sign_blocks: a TPM key) take their wolfSSL steps, the signature
	 * among them, so the loop never waits on the signer. Borrowed; it
	 * must outlive the channel. NULL: such handshakes run on the loop
	 * and stall it while the signer works.
	 */
	struct worker	*worker;
	/* Seconds for connect, TLS and HTTP/2 SETTINGS; 0: RPC_HANDSHAKE_SEC */
	double		 handshake;
};

/* How a call ended. Everything is borrowed for on_close's duration. */
struct rpc_result {
	enum grpc_status	 code;
	const char		*message;	/* grpc-message, decoded */
	const uint8_t		*details;	/* google.rpc.Status bytes */
	size_t			 details_len;	/* 0 when none came */
};

struct rpc_client_cbs {
	/* One response message. */
	void	(*on_message)(struct rpc_call *, const uint8_t *, size_t,
		    void *arg);
	/* The call ended; see CALL LIFETIME. Required. */
	void	(*on_close)(struct rpc_call *, const struct rpc_result *,
		    void *arg);
	/* A send that returned RPC_ERR_WOULDBLOCK may be retried. */
	void	(*on_writable)(struct rpc_call *, void *arg);
};

/* Call flags. */
#define RPC_CALL_WAIT_FOR_READY	0x1	/* wait out connect failures
					 * instead of failing UNAVAILABLE */

/*
 * A channel; options are copied, tls is borrowed and must outlive it.
 * NULL when the target is malformed or memory ran out (logged).
 */
struct rpc_channel *rpc_channel_new(struct ev_loop *,
		    const struct rpc_channel_opts *);
/*
 * Closes every connection; calls still open get on_close CANCELLED
 * first. Accepts NULL.
 */
void		 rpc_channel_free(struct rpc_channel *);

/*
 * Starts a call to path with metadata md[0..nmd) (copied) and a timeout
 * in seconds (0: none), sent as grpc-timeout. cbs and arg are borrowed
 * until on_close. NULL only when memory ran out (no callback then).
 */
struct rpc_call	*rpc_client_call(struct rpc_channel *, const char *path,
		    const struct rpc_md *md, size_t nmd, double timeout,
		    unsigned flags, const struct rpc_client_cbs *, void *arg);
/* We send no more messages (END_STREAM after what is queued). */
enum rpc_err	 rpc_call_close_send(struct rpc_call *)
		    __attribute__((warn_unused_result));
/*
 * Cancels (RST_STREAM CANCEL); on_close runs with CANCELLED before this
 * returns, unless it ran already.
 */
void		 rpc_call_cancel(struct rpc_call *);

/*
 * Unary convenience: encodes req, sends it, and decodes the single reply
 * into resp (caller's storage, which must stay valid until done runs).
 * done(arg, result) runs once; on GRPC_STATUS_OK resp holds the reply
 * (release with pb_release); otherwise resp holds nothing. A reply that
 * does not decode, or not exactly one reply, is INTERNAL. 0, or -1 when
 * the request did not encode or memory ran out (done will not run).
 */
typedef void	(*rpc_unary_done_fn)(void *arg, const struct rpc_result *);
int		 rpc_client_unary(struct rpc_channel *, const char *path,
		    const struct rpc_md *md, size_t nmd, double timeout,
		    const pb_msgdesc_t *req_fields, const void *req,
		    const pb_msgdesc_t *resp_fields, void *resp,
		    rpc_unary_done_fn done, void *arg)
		    __attribute__((warn_unused_result));

#endif
