/*
 * NodeAttestor "x509pop", the server half: the agent proves it holds
 * the key of a device certificate. Payload, challenge and response are
 * SPIRE's JSON (Go's encoding: []byte as standard base64):
 *
 *   payload   {"certificates": [leaf DER, intermediates DER...]}
 *   challenge {"ecdsa_signature": {"nonce": b64}} (or rsa_signature)
 *   response  {"ecdsa_signature": {"nonce": b64, "r": b64, "s": b64}}
 *
 * The response signs SHA-256(challenge nonce || response nonce). The
 * parsing and checking here are pure, for unit tests; the chain
 * verification and the agent ID are as SPIRE's plugin makes them.
 */
#ifndef SERVER_X509POP_H
#define SERVER_X509POP_H

#include <stddef.h>
#include <stdint.h>

#include "pki/x509.h"

#define X509POP_NONCE_LEN	32

struct x509pop_payload {
	uint8_t		*der[1 + 4];	/* leaf, intermediates; owned */
	size_t		 len[1 + 4];
	size_t		 n;
};

/*
 * Parses a payload. 0, or -1 with a reason in why (no certificates,
 * more than SERVER_X509POP_INTERMEDIATES_MAX intermediates, bad JSON
 * or base64). Release with x509pop_payload_free either way.
 */
int	x509pop_parse_payload(const uint8_t *, size_t,
	    struct x509pop_payload *, char *why, size_t whylen)
	    __attribute__((warn_unused_result));
void	x509pop_payload_free(struct x509pop_payload *);

/*
 * The challenge JSON for a leaf key (EC: ecdsa_signature, RSA:
 * rsa_signature) with nonce. A new string (mem_free) or NULL.
 */
char	*x509pop_challenge(const uint8_t nonce[X509POP_NONCE_LEN], int rsa);

/*
 * Checks a response to the challenge with nonce against the leaf's
 * public key (spki, EC P-256/P-384 or RSA). 0, or -1 with why.
 */
int	x509pop_check_response(const uint8_t *, size_t,
	    const uint8_t nonce[X509POP_NONCE_LEN], const struct x509_cert *,
	    char *why, size_t whylen) __attribute__((warn_unused_result));

/*
 * The agent ID path after /spire/agent/x509pop/: the hex SHA-1 of the
 * leaf DER (41 bytes with the NUL). 0 or -1.
 */
int	x509pop_fingerprint(const uint8_t *, size_t, char out[41]);

#endif
