/*
 * X.509 certificates: the facts spirelet needs from one, read by a
 * strict DER parser of our own, and path validation of a chain to a set
 * of roots at a given time, with signatures checked by wolfCrypt.
 *
 * A parsed struct x509_cert holds no heap storage; its spans point into
 * the DER buffer it was parsed from and stay valid exactly as long as
 * that buffer. Certificate bytes are untrusted input: any malformed or
 * unsupported encoding is an error, never a crash.
 */
#ifndef PKI_X509_H
#define PKI_X509_H

#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"

#define X509_CN_MAX	64	/* bytes of a CN kept (RFC 5280's bound) */

enum x509_err {
	X509_OK = 0,
	/* Parsing. */
	X509_ERR_DER,			/* not valid DER */
	X509_ERR_STRUCTURE,		/* DER, but not a certificate's shape */
	X509_ERR_TOO_BIG,		/* over X509_CERT_MAX bytes */
	X509_ERR_VERSION,		/* not v1, v2 or v3 */
	X509_ERR_SERIAL,		/* empty, negative or over 20 bytes */
	X509_ERR_TIME,			/* a validity time badly encoded */
	X509_ERR_SIG_ALG_MISMATCH,	/* inner and outer algorithms differ */
	X509_ERR_EXTENSION,		/* an extension we read is malformed */
	X509_ERR_DUP_EXTENSION,		/* the same extension twice */
	X509_ERR_TOO_MANY_SANS,		/* over X509_SANS_MAX of a kind */
	/* Path validation. */
	X509_ERR_CHAIN_EMPTY,		/* no leaf */
	X509_ERR_CHAIN_TOO_LONG,	/* over X509_CHAIN_MAX certificates */
	X509_ERR_NO_ROOTS,		/* an empty set of roots */
	X509_ERR_UNKNOWN_ISSUER,	/* no root or intermediate names it */
	X509_ERR_SIG_ALG,		/* signature algorithm not supported */
	X509_ERR_KEY,			/* issuer's key unusable or too weak */
	X509_ERR_SIGNATURE,		/* the signature does not verify */
	X509_ERR_EXPIRED,		/* now is after notAfter */
	X509_ERR_NOT_YET_VALID,		/* now is before notBefore */
	X509_ERR_ISSUER_NOT_CA,		/* an intermediate without CA:TRUE */
	X509_ERR_ISSUER_KEY_USAGE,	/* intermediate without keyCertSign */
	X509_ERR_PATH_LEN,		/* a CA's pathLenConstraint exceeded */
	X509_ERR_CRITICAL_EXTENSION,	/* a critical extension we ignore */
	X509_ERR_NAME_CONSTRAINTS,	/* name constraints: not supported */
	X509_ERR_NOMEM,			/* wolfCrypt ran out of memory */
};

/* keyUsage bits, numbered as in RFC 5280's KeyUsage BIT STRING. */
#define X509_KU_DIGITAL_SIGNATURE	(1u << 0)
#define X509_KU_NON_REPUDIATION		(1u << 1)
#define X509_KU_KEY_ENCIPHERMENT	(1u << 2)
#define X509_KU_DATA_ENCIPHERMENT	(1u << 3)
#define X509_KU_KEY_AGREEMENT		(1u << 4)
#define X509_KU_KEY_CERT_SIGN		(1u << 5)
#define X509_KU_CRL_SIGN		(1u << 6)
#define X509_KU_ENCIPHER_ONLY		(1u << 7)
#define X509_KU_DECIPHER_ONLY		(1u << 8)

/* extKeyUsage purposes we tell apart. */
#define X509_EKU_SERVER_AUTH		(1u << 0)
#define X509_EKU_CLIENT_AUTH		(1u << 1)
#define X509_EKU_ANY			(1u << 2)
#define X509_EKU_OTHER			(1u << 3)

enum x509_key_type {
	X509_KEY_UNKNOWN = 0,
	X509_KEY_EC,
	X509_KEY_RSA,
	X509_KEY_ED25519,
};

enum x509_curve {
	X509_CURVE_NONE = 0,		/* not EC, or a curve we do not know */
	X509_CURVE_P256,
	X509_CURVE_P384,
	X509_CURVE_P521,
};

enum x509_sig_alg {
	X509_SIG_UNKNOWN = 0,
	X509_SIG_ECDSA_SHA256,
	X509_SIG_ECDSA_SHA384,
	X509_SIG_ECDSA_SHA512,
	X509_SIG_RSA_SHA256,		/* PKCS #1 v1.5 */
	X509_SIG_RSA_SHA384,
	X509_SIG_RSA_SHA512,
	X509_SIG_ED25519,
};

/* Bytes inside the parsed DER buffer (borrowed). */
struct x509_span {
	const uint8_t	*p;
	size_t		 len;
};

struct x509_cert {
	struct x509_span	 der;		/* the whole certificate */
	struct x509_span	 tbs;		/* the signed part, header in */
	int			 version;	/* 1, 2 or 3 */
	struct x509_span	 serial;	/* INTEGER contents */
	struct x509_span	 issuer;	/* Name, with header */
	struct x509_span	 subject;	/* Name, with header */
	char			 issuer_cn[X509_CN_MAX + 1]; /* "" if none */
	char			 subject_cn[X509_CN_MAX + 1];
	long long		 not_before;	/* Unix seconds */
	long long		 not_after;
	struct x509_span	 spki;		/* SubjectPublicKeyInfo */
	struct x509_span	 pubkey;	/* key bits (EC point...) */
	enum x509_key_type	 key_type;
	enum x509_curve		 curve;
	size_t			 key_bits;
	enum x509_sig_alg	 sig_alg;	/* UNKNOWN: unsupported */
	struct x509_span	 sig;		/* signatureValue bits */

	/* Extensions. has_* is 0 when the extension is absent. */
	int			 has_bc;
	int			 is_ca;
	int			 path_len;	/* -1 when unconstrained */
	int			 has_ku;
	unsigned		 ku;		/* X509_KU_* */
	int			 has_eku;
	unsigned		 eku;		/* X509_EKU_* */
	struct x509_span	 ski;		/* len 0 when absent */
	struct x509_span	 aki;		/* keyIdentifier, or len 0 */
	int			 san_critical;
	size_t			 nuris;
	struct x509_span	 uris[X509_SANS_MAX];	/* URI SANs */
	size_t			 ndns;
	struct x509_span	 dns[X509_SANS_MAX];	/* DNS SANs */
	int			 has_name_constraints;
	/* A critical extension we do not interpret: never trust it. */
	int			 unknown_critical;
};

/*
 * Parses one DER certificate filling all of len (nothing may follow).
 * *out is filled on success and zeroed on failure.
 */
enum x509_err	 x509_parse(const uint8_t *der, size_t len,
		    struct x509_cert *out)
		    __attribute__((warn_unused_result));

/* X509_OK when issuer's key verifies cert's signature. */
enum x509_err	 x509_check_signature(const struct x509_cert *cert,
		    const struct x509_cert *issuer)
		    __attribute__((warn_unused_result));

/*
 * RFC 5280-style path validation, as Go's crypto/x509 does it: from
 * chain[0] (the leaf) through intermediates from chain[1..n) in any
 * order to one of roots, at Unix time now. Every link's signature and
 * every certificate's validity period (the root's too) are checked;
 * intermediates must be CA:TRUE, with keyCertSign if they carry
 * keyUsage, within every pathLenConstraint; no certificate may carry
 * an unknown critical extension or name constraints. Roots are trusted
 * as they are otherwise. On failure *at (may be NULL) is the index in
 * chain of the certificate at fault, or n + i for roots[i].
 */
enum x509_err	 x509_verify_chain(const struct x509_cert *chain, size_t n,
		    const struct x509_cert *roots, size_t nroots,
		    long long now, size_t *at)
		    __attribute__((warn_unused_result));

/* 1 when the two certificates have the same DER, 0 otherwise. */
int		 x509_equal(const struct x509_cert *,
		    const struct x509_cert *);

const char	*x509_strerror(enum x509_err);

#endif
