/*
 * TLS transports through wolfSSL, for gRPC over TCP. Both ends offer and
 * require ALPN "h2" (grpc-go refuses a connection without it). Peers are
 * checked SPIFFE-style, never by host name: after the handshake the peer's
 * chain is handed to the caller's verify hook, which decides (chain to a
 * bundle, exactly one URI SAN, the expected ID or trust domain).
 *
 * A server context requests a client certificate but does not require
 * one (SPIRE agents attest without one); the hook sees nchain == 0 then.
 *
 * TLS 1.2 is the floor and 1.3 is preferred; sessions are never resumed
 * (no tickets, no cache), so every connection shows its peer's chain.
 * Contexts and transports belong to the event-loop thread, with one
 * exception: a client transport may be lent to another thread (the
 * worker) for tls_transport_handshake_step, one thread at a time and
 * never two at once; the hand-over and the return must synchronise
 * (core/worker.h's submit and done() do), and while it is lent nothing
 * else touches the transport or its wolfSSL session.
 *
 * Transports follow rpc/transport.h, with one rule of TLS: after a
 * write returned TRANSPORT_WANT_WRITE, the next write must start with
 * the same bytes and be at least as long (wolfSSL already encrypted
 * them); a caller that writes from the head of its queue does so.
 */
#ifndef RPC_TLS_H
#define RPC_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "rpc/transport.h"

enum tls_role {
	TLS_ROLE_SERVER,
	TLS_ROLE_CLIENT,
};

enum tls_err {
	TLS_OK = 0,
	TLS_ERR_NOMEM,
	TLS_ERR_CERT,		/* our certificate chain does not load */
	TLS_ERR_KEY,		/* our key does not load or match */
	TLS_ERR_LIB,		/* wolfSSL refused a setting */
	TLS_ERR_CONFIG,		/* the config is incomplete or contradictory */
};

/*
 * Signs a digest with our private key, for keys that never leave their
 * home (the TPM): ECDSA over the digest, the signature as DER
 * (SEQUENCE of r, s) into sig, *siglen in: room, out: length. 0 or -1.
 * Called during a handshake, synchronously, on the thread running it:
 * the event loop, or the worker for a signer marked sign_blocks on a
 * channel given a worker (rpc/client.h). When one identity serves both
 * kinds of handshake, two calls may run at once on the two threads.
 */
typedef int	(*tls_sign_fn)(void *arg, const uint8_t *digest, size_t len,
		    uint8_t *sig, size_t *siglen);

/*
 * Called once the handshake is done, with the transport's peer filled in
 * (chain as sent, leaf first; nchain 0 when the peer sent none). Returns
 * 0 to accept and may then set peer->spiffe_id (mem_strdup'd, freed with
 * the transport); -1 to refuse, with the reason in err. Refused
 * connections are closed before any HTTP/2 byte moves.
 */
typedef int	(*tls_verify_fn)(void *arg, struct transport_peer *peer,
		    char *err, size_t errlen);

/*
 * Our identity: a certificate chain (leaf first, DER) and its key, all
 * borrowed for the call that takes it (the context keeps copies).
 * P-256 and P-384 keys.
 */
struct tls_identity {
	const uint8_t *const	*chain;
	const size_t		*chain_len;
	size_t			 nchain;
	/* Either the private key, DER (PKCS#8 or SEC1 EC)... */
	const uint8_t		*key;
	size_t			 key_len;
	/* ...or a signer for a key held elsewhere (key must be NULL). */
	tls_sign_fn		 sign;
	void			*sign_arg;
	/*
	 * 1 when sign waits on a device (a TPM key: key_is_blocking()).
	 * Client handshakes then take their wolfSSL steps off the loop
	 * where the caller arranges it (rpc/client.h: a channel's worker).
	 */
	int			 sign_blocks;
	/*
	 * Optional. sign_arg stays in use until sign_free(sign_arg) runs,
	 * on the loop thread, once the context no longer holds this
	 * identity (replaced or freed) and no handshake begun with it is
	 * still going (on either thread). Called once per identity a
	 * successful tls_ctx_new or tls_ctx_set_identity took; never for
	 * one refused. Without it, sign_arg must outlive the context and
	 * every transport made from it.
	 */
	void			(*sign_free)(void *sign_arg);
};

struct tls_config {
	enum tls_role		 role;
	/* Required of servers; NULL for a client presenting none. */
	const struct tls_identity *identity;
	tls_verify_fn		 verify;	/* required */
	void			*verify_arg;
};

struct tls_ctx;

/*
 * A context for many connections; copies what it needs from the config.
 * NULL on failure with *err set and the reason logged.
 */
struct tls_ctx	*tls_ctx_new(const struct tls_config *, enum tls_err *)
		    __attribute__((warn_unused_result));
/*
 * Replaces our identity for handshakes from now on (SVID rotation);
 * connections made before keep theirs, even mid-handshake. NULL drops
 * a client's certificate (servers must have one). On failure the old
 * identity stays.
 */
enum tls_err	 tls_ctx_set_identity(struct tls_ctx *,
		    const struct tls_identity *)
		    __attribute__((warn_unused_result));
/* Accepts NULL. Transports made from the context stay valid. */
void		 tls_ctx_free(struct tls_ctx *);
const char	*tls_strerror(enum tls_err);

/*
 * Wraps a connected non-blocking TCP socket; takes the fd (closed by
 * ->free, or at once on failure). The handshake runs through
 * ->handshake, which fills the peer (addr "ip:port" or "[ip6]:port"),
 * checks ALPN and calls the verify hook; read and write fail until it
 * succeeded. The transport does not use the context after this call.
 * NULL when memory ran out or wolfSSL refused (logged).
 */
struct transport *tls_transport_new(struct tls_ctx *, int fd);
/*
 * The protocol version agreed, "TLSv1.3" or "TLSv1.2" (static), or NULL
 * until the handshake succeeded. For logs and tests.
 */
const char	*tls_transport_version(const struct transport *);
/*
 * The key exchange's group, "X25519", "SECP256R1"... (static), or NULL
 * until the handshake succeeded. For logs and tests.
 */
const char	*tls_transport_group(const struct transport *);

/*
 * 1 when the transport's identity signs through a signer marked
 * sign_blocks and its handshake has not finished: its wolfSSL steps
 * belong off the loop (tls_transport_handshake_step). 0 otherwise,
 * and for transports that are not TLS.
 */
int		 tls_transport_signer_blocks(const struct transport *);
/*
 * One step of wolfSSL's side of a client handshake, on any thread that
 * holds the transport (see the threads rule above); the signer runs
 * inside when wolfSSL wants our signature. 0 once wolfSSL's handshake
 * is complete, TRANSPORT_WANT_READ or TRANSPORT_WANT_WRITE (wait for
 * the fd, then step again), or TRANSPORT_ERROR with the reason in
 * ->error. The checks (ALPN h2, the leaf, the verify hook) are not made
 * here: they run, on the loop, in the ->handshake call that follows,
 * which then answers as for a handshake made there.
 */
int		 tls_transport_handshake_step(struct transport *);

#endif
