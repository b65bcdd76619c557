/*
 * JWT-SVIDs: minting them as SPIRE does (JWS compact, header alg/kid/typ,
 * claims sub, aud as an array, exp, iat, iss when configured) and
 * validating them as go-spiffe does (the key found by kid in the bundle
 * of the subject's trust domain, the signature, expiry with a minute of
 * leeway, the audience).
 */
#ifndef SPIFFE_JWTSVID_H
#define SPIFFE_JWTSVID_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hal/key.h"
#include "pki/verify.h"

struct bundle;

#define JWTSVID_MAX		(16 * 1024) /* bytes of a token */
#define JWTSVID_AUD_MAX		32	/* audience values in one token */
#define JWTSVID_LEEWAY_SEC	60	/* clock skew allowed, as go-jose */

/*
 * Mints a token signed by key under kid. A new NUL-terminated string
 * (mem_free), or NULL (logged).
 */
char	*jwtsvid_mint(struct key *, const char *kid, const char *sub,
	    const char *const *aud, size_t naud, int64_t iat, int64_t exp,
	    const char *iss);

/*
 * The same in two steps, for a key that signs later on another thread
 * (key_sign_async): the signing input (header.claims, base64url) and the
 * digest a key of type must sign; then the token from that signature
 * (DER ECDSA, as key_sign gives it). jwtsvid_tbs_make: 0, or -1
 * (logged) with nothing to clean up. jwtsvid_tbs_finish: a new string
 * (mem_free) or NULL; the tbs stays the caller's to clean up.
 */
struct jwtsvid_tbs {
	char		*input;		/* owned */
	size_t		 input_len;
	enum key_type	 type;
	uint8_t		 digest[48];
	size_t		 digest_len;
};
int	 jwtsvid_tbs_make(enum key_type, const char *kid, const char *sub,
	    const char *const *aud, size_t naud, int64_t iat, int64_t exp,
	    const char *iss, struct jwtsvid_tbs *out)
	    __attribute__((warn_unused_result));
char	*jwtsvid_tbs_finish(const struct jwtsvid_tbs *, const uint8_t *sig,
	    size_t siglen);
void	 jwtsvid_tbs_cleanup(struct jwtsvid_tbs *);

enum jwtsvid_err {
	JWTSVID_OK = 0,
	JWTSVID_ERR_MALFORMED,	/* not a JWS compact token we can read */
	JWTSVID_ERR_ALG,	/* algorithm not allowed for JWT-SVIDs */
	JWTSVID_ERR_TYP,	/* typ header other than JWT or JOSE */
	JWTSVID_ERR_NO_KID,	/* header has no key ID */
	JWTSVID_ERR_SUBJECT,	/* sub missing or not a SPIFFE ID */
	JWTSVID_ERR_NO_EXP,	/* exp missing */
	JWTSVID_ERR_NO_BUNDLE,	/* no bundle for the subject's domain */
	JWTSVID_ERR_NO_KEY,	/* no JWT authority with that key ID */
	JWTSVID_ERR_SIGNATURE,	/* the signature does not verify */
	JWTSVID_ERR_EXPIRED,
	JWTSVID_ERR_NOT_YET,	/* iat or nbf in the future */
	JWTSVID_ERR_AUDIENCE,	/* none of the expected audiences */
	JWTSVID_ERR_NOMEM,
};

struct jwtsvid {
	char		*sub;		/* owned */
	char		*trust_domain;	/* owned: the subject's domain */
	char		*kid;		/* owned; NULL when absent */
	enum sig_alg	 alg;
	int64_t		 exp;
	int64_t		 iat;		/* 0 when absent */
	json_t		*claims;	/* owned reference: all claims */
};

/*
 * Finds the bundle of a trust domain for validation; NULL when there
 * is none. The bundle must stay valid until jwtsvid_validate returns.
 */
typedef const struct bundle *(*jwtsvid_bundle_fn)(void *arg,
		    const char *trust_domain);

/*
 * Reads a token without checking its signature (what a caller may do
 * with a token it fetched for itself). out must be released with
 * jwtsvid_cleanup whatever the result.
 */
enum jwtsvid_err jwtsvid_parse(const char *token, size_t len,
		    struct jwtsvid *out);
/*
 * Validates a token for one of the audiences (NULL or naud 0: any
 * audience) at time now. out as jwtsvid_parse.
 */
enum jwtsvid_err jwtsvid_validate(const char *token, size_t len,
		    const char *const *audiences, size_t naud,
		    jwtsvid_bundle_fn, void *arg, int64_t now,
		    struct jwtsvid *out);
void		 jwtsvid_cleanup(struct jwtsvid *);
const char	*jwtsvid_strerror(enum jwtsvid_err);

/* 32 characters of [a-zA-Z0-9] into kid[33], as SPIRE's key IDs. 0/-1. */
int		 jwtsvid_new_kid(char kid[33])
		    __attribute__((warn_unused_result));

#endif
