/*
 * A trust domain's bundle: its X.509 authorities (root certificates) and
 * JWT authorities (keys with IDs), with the SPIFFE bundle document's
 * sequence number and refresh hint. The same type serves the server's
 * own bundle, federated bundles and the agent's copies.
 */
#ifndef SPIFFE_BUNDLE_H
#define SPIFFE_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#define BUNDLE_AUTHORITIES_MAX	256	/* X.509 or JWT authorities */
#define BUNDLE_KID_MAX		128	/* bytes of a JWT key ID */
#define BUNDLE_JSON_MAX		(1024 * 1024) /* bytes of a document */

struct bundle_x509 {
	uint8_t		*der;		/* owned */
	size_t		 len;
	int		 tainted;
};

struct bundle_jwt {
	char		*kid;		/* owned */
	uint8_t		*spki;		/* owned SubjectPublicKeyInfo */
	size_t		 spki_len;
	int64_t		 expires_at;	/* Unix seconds; 0 = none */
	int		 tainted;
};

struct bundle {
	char			*trust_domain;	/* "example.org", owned */
	struct bundle_x509	*x509;
	size_t			 nx509;
	struct bundle_jwt	*jwt;
	size_t			 njwt;
	int64_t			 refresh_hint;	/* seconds; 0 = unset */
	uint64_t		 sequence;
};

/* Empty bundle of trust_domain (copied); 0 or -1 when out of memory. */
int	bundle_init(struct bundle *, const char *trust_domain)
	    __attribute__((warn_unused_result));
/* Frees what the bundle owns; it is empty (and unusable) afterwards. */
void	bundle_cleanup(struct bundle *);
/* A deep copy into dst (uninitialised). 0 or -1. */
int	bundle_copy(struct bundle *dst, const struct bundle *src)
	    __attribute__((warn_unused_result));
/* 1 when both hold the same authorities, hint and sequence. */
int	bundle_equal(const struct bundle *, const struct bundle *);

/*
 * Adds a copy of a certificate or key unless an equal one is there.
 * 1 when added, 0 when already present, -1 on failure (out of memory,
 * BUNDLE_AUTHORITIES_MAX reached, a key ID over BUNDLE_KID_MAX).
 */
int	bundle_add_x509(struct bundle *, const uint8_t *, size_t)
	    __attribute__((warn_unused_result));
int	bundle_add_jwt(struct bundle *, const char *kid, const uint8_t *spki,
	    size_t, int64_t expires_at) __attribute__((warn_unused_result));
/* The JWT authority with kid, or NULL. */
const struct bundle_jwt *bundle_find_jwt(const struct bundle *,
	    const char *kid);

/*
 * Parses a SPIFFE bundle document (JWK set with "use" x509-svid and
 * jwt-svid keys, spiffe_sequence, spiffe_refresh_hint) for trust_domain
 * into b (uninitialised). Keys with another or no "use" are skipped, as
 * the SPIFFE bundle format requires. 0, or -1 with a reason in err.
 */
int	bundle_parse_spiffe(struct bundle *b, const char *trust_domain,
	    const char *json, size_t len, char *err, size_t errlen)
	    __attribute__((warn_unused_result));
/*
 * The SPIFFE bundle document (as SPIRE serves it: zero members left
 * out); indent 0 for one line. A new string (mem_free), or NULL.
 */
char	*bundle_format_spiffe(const struct bundle *, int indent);
/*
 * A standard JWK set of the JWT authorities alone, keyed by kid with no
 * "use": what the Workload API sends as a JWT bundle. NULL on failure.
 */
char	*bundle_format_jwks(const struct bundle *);
/*
 * Parses such a JWK set (every key needs a kid) into b's JWT
 * authorities. 0, or -1 with a reason in err.
 */
int	bundle_parse_jwks(struct bundle *b, const char *json, size_t len,
	    char *err, size_t errlen) __attribute__((warn_unused_result));
/*
 * The X.509 authorities as one buffer of concatenated DER, as the
 * Workload API carries them. A new buffer (mem_free); 0 or -1.
 */
int	bundle_x509_concat(const struct bundle *, uint8_t **, size_t *)
	    __attribute__((warn_unused_result));

#endif
