/*
 * TLS transports through wolfSSL, for gRPC over TCP. Both ends offer and
 * require ALPN "h2" (grpc-go refuses a connection without it). Peers are
 * checked SPIFFE-style, never by host name: after the handshake the peer's
 * chain is handed to the caller's verify hook, which decides (chain to a
 * bundle, exactly one URI SAN, the expected ID or trust domain).
 *
 * A server context requests a client certificate but does not require
 * one (SPIRE agents attest without one); the hook sees nchain == 0 then.
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
};

/*
 * Signs a digest with our private key, for keys that never leave their
 * home (the TPM): ECDSA over the digest, the signature as DER
 * (SEQUENCE of r, s) into sig, *siglen in: room, out: length. 0 or -1.
 * May be called from the event loop thread during a handshake.
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

/* Our identity: a certificate chain (leaf first, DER) and its key. */
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
};

struct tls_config {
	enum tls_role		 role;
	/* NULL for a client that presents no certificate. */
	const struct tls_identity *identity;
	tls_verify_fn		 verify;	/* required */
	void			*verify_arg;
};

struct tls_ctx;

/*
 * A context for many connections; copies what it needs from the config.
 * NULL on failure with *err set and the reason logged.
 */
struct tls_ctx	*tls_ctx_new(const struct tls_config *, enum tls_err *);
/*
 * Replaces our identity for handshakes from now on (SVID rotation);
 * established connections keep theirs. On failure the old one stays.
 */
enum tls_err	 tls_ctx_set_identity(struct tls_ctx *,
		    const struct tls_identity *);
/* Accepts NULL. Transports made from the context stay valid. */
void		 tls_ctx_free(struct tls_ctx *);
const char	*tls_strerror(enum tls_err);

/*
 * Wraps a connected non-blocking TCP socket; takes the fd (closed by
 * ->free, or at once on failure). The handshake runs through
 * ->handshake. NULL when memory ran out.
 */
struct transport *tls_transport_new(struct tls_ctx *, int fd);

#endif
