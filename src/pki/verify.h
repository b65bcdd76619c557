/*
 * Signature checks with a public key from a SubjectPublicKeyInfo: what
 * JWT-SVID validation and challenge checks need. Private keys are never
 * involved here (they live behind hal/key.h).
 */
#ifndef PKI_VERIFY_H
#define PKI_VERIFY_H

#include <stddef.h>
#include <stdint.h>

/* The JOSE algorithms a JWT-SVID may use (JWT-SVID spec, section 3). */
enum sig_alg {
	SIG_ES256,
	SIG_ES384,
	SIG_ES512,
	SIG_RS256,
	SIG_RS384,
	SIG_RS512,
	SIG_PS256,
	SIG_PS384,
	SIG_PS512,
};

/* "ES256" and the like to the enum; 0, or -1 for anything else. */
int		 sig_alg_parse(const char *, size_t, enum sig_alg *);
const char	*sig_alg_name(enum sig_alg);

/*
 * Checks sig over msg (hashed here with the algorithm's hash). ECDSA
 * signatures are JOSE's fixed-size r || s. 0 when the signature verifies
 * with the key; -1 for a wrong signature, a key that does not fit the
 * algorithm, or malformed input.
 */
int		 sig_verify(enum sig_alg, const uint8_t *spki, size_t spki_len,
		    const uint8_t *msg, size_t msg_len, const uint8_t *sig,
		    size_t sig_len) __attribute__((warn_unused_result));

#endif
