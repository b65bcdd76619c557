/*
 * Certificates made at test time with wolfCrypt, for the TLS, PKI and
 * SVID tests: EC keys (P-256 or P-384), URI and DNS SANs, key usage,
 * basic constraints and validity chosen per test. Nothing here is for
 * production; the code lives in tests/ only.
 */
#ifndef TESTS_TESTCERTS_H
#define TESTS_TESTCERTS_H

#include <stddef.h>
#include <stdint.h>

#define TESTCERT_DER_MAX	16384	/* bytes of one certificate */
#define TESTCERT_KEY_MAX	2048	/* bytes of one key, any form */
#define TESTCERT_URIS_MAX	4	/* URI SANs one certificate carries */

/* 2026-01-01T00:00:00Z: the "now" every test passes to verification. */
#define TESTCERT_NOW		1767225600LL
/* The default validity window, 2025-01-01 to 2035-01-01. */
#define TESTCERT_NOT_BEFORE	1735689600LL
#define TESTCERT_NOT_AFTER	2051222400LL

/* What to put in a certificate; zeroed fields take the defaults. */
struct testcert_spec {
	const char	*cn;		/* subject CN; NULL for none */
	const char	*uri[TESTCERT_URIS_MAX]; /* URI SANs, NULL ends */
	const char	*dns;		/* one DNS SAN, or NULL */
	int		 ca;		/* basicConstraints CA:TRUE */
	int		 no_bc;		/* no basicConstraints at all */
	int		 path_len;	/* CA pathLen + 1; 0 for none */
	/* wolfCrypt names, comma separated, e.g. "digitalSignature". */
	const char	*ku;		/* NULL: the default for ca */
	int		 no_ku;		/* no keyUsage at all */
	const char	*eku;		/* NULL: none */
	long long	 not_before;	/* Unix seconds; 0: the default */
	long long	 not_after;
	int		 p384;		/* key on P-384 instead of P-256 */
	int		 rsa;		/* an RSA-2048 key instead */
	size_t		 pad;		/* DNS SANs of 60 bytes to bloat */
	uint8_t		 serial;	/* 0: 1 */
	int		 self_issued;	/* self-signed although issuer given */
};

struct testcert {
	uint8_t		 der[TESTCERT_DER_MAX];
	size_t		 der_len;
	uint8_t		 key[TESTCERT_KEY_MAX];	/* PKCS#8; RSA: PKCS#1 */
	size_t		 key_len;
	uint8_t		 sec1[TESTCERT_KEY_MAX];	/* SEC1 ECPrivateKey */
	size_t		 sec1_len;
	int		 p384;
	int		 rsa;
};

/*
 * Makes a certificate for spec, signed by issuer's key (NULL: self
 * signed). 0, or -1 after printing why.
 */
int	testcert_make(struct testcert *, const struct testcert_spec *,
	    const struct testcert *issuer);

/*
 * A convenience chain: a root CA, an intermediate CA under it and a leaf
 * with the given URI SAN (server and client auth, digitalSignature).
 */
struct testchain {
	struct testcert	 root;
	struct testcert	 inter;
	struct testcert	 leaf;
};
int	testchain_make(struct testchain *, const char *uri, int p384);

/*
 * Software ECDSA signer over a digest with the key (PKCS#8 or SEC1),
 * the signature as DER. 0 or -1.
 */
int	testcert_sign(const uint8_t *key, size_t key_len,
	    const uint8_t *digest, size_t len, uint8_t *sig, size_t *siglen);

#endif
