/*
 * Public keys as JSON Web Keys (RFC 7517/7518), for SPIFFE bundles and
 * JWT bundles: EC keys on P-256, P-384, P-521 and RSA keys, to and from
 * SubjectPublicKeyInfo DER.
 */
#ifndef SPIFFE_JWK_H
#define SPIFFE_JWK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/*
 * Adds the key's members ("kty" and "crv"/"x"/"y" or "n"/"e") to obj.
 * 0, or -1 for a key type JWKs here do not carry.
 */
int	jwk_put_key(json_t *obj, const uint8_t *spki, size_t len)
	    __attribute__((warn_unused_result));
/*
 * The SubjectPublicKeyInfo of the key a JWK object describes, in a new
 * buffer (mem_free). 0, or -1 with a reason in err.
 */
int	jwk_get_key(const json_t *obj, uint8_t **spki, size_t *len,
	    char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
