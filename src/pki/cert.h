/*
 * Certificates and certificate requests, encoded the way Go's crypto/x509
 * encodes them (SPIRE's certificates are Go's): the same extension order,
 * criticality, key-usage bit strings and name encoding, so a certificate
 * spirelet signs reads exactly like one SPIRE signs. Signing goes through
 * the key interface, so the issuing key may live in the TPM.
 */
#ifndef PKI_CERT_H
#define PKI_CERT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "hal/key.h"

/* Key usage bits, numbered as in RFC 5280. */
#define CERT_KU_DIGITAL_SIGNATURE	(1u << 0)
#define CERT_KU_KEY_ENCIPHERMENT	(1u << 2)
#define CERT_KU_KEY_AGREEMENT		(1u << 4)
#define CERT_KU_KEY_CERT_SIGN		(1u << 5)
#define CERT_KU_CRL_SIGN		(1u << 6)

#define CERT_NAME_VALUES_MAX	4	/* values of one attribute type */
#define CERT_SERIAL_MAX		20	/* bytes, RFC 5280 */
#define CERT_DNS_MAX		32	/* DNS SANs in one certificate */
#define CERT_DER_MAX		(16 * 1024) /* bytes of one certificate */

/*
 * A distinguished name as Go's pkix.Name holds it. Values are borrowed
 * C strings; each list holds up to CERT_NAME_VALUES_MAX values.
 */
struct cert_name {
	const char	*country[CERT_NAME_VALUES_MAX];
	const char	*organization[CERT_NAME_VALUES_MAX];
	const char	*org_unit[CERT_NAME_VALUES_MAX];
	const char	*common_name;
	const char	*serial_number;
};

/*
 * The Name's DER, attributes in Go's order (C, O, OU, CN, serialNumber),
 * each type in one RDN. A new buffer (mem_free); 0 or -1.
 */
int	cert_name_encode(const struct cert_name *, uint8_t **, size_t *)
	    __attribute__((warn_unused_result));

struct cert_template {
	uint8_t		 serial[CERT_SERIAL_MAX]; /* unsigned big-endian */
	size_t		 serial_len;
	const uint8_t	*subject;	/* Name DER */
	size_t		 subject_len;
	time_t		 not_before;
	time_t		 not_after;
	int		 is_ca;
	unsigned	 key_usage;	/* CERT_KU_* */
	int		 eku_tls;	/* serverAuth and clientAuth */
	const char	*uri;		/* the URI SAN, or NULL */
	const char	*dns[CERT_DNS_MAX];
	size_t		 ndns;
	const uint8_t	*spki;		/* the subject's public key */
	size_t		 spki_len;
};

/* A random serial in [1, 2^128-1], as SPIRE draws them. 0 or -1. */
int	cert_random_serial(struct cert_template *)
	    __attribute__((warn_unused_result));

/*
 * Signs the template with the issuer's key. issuer is the issuing
 * certificate (DER): the new certificate takes its subject as issuer and
 * its subject key ID as authority key ID. NULL issuer means self-signed:
 * issuer name = subject, no authority key ID. The subject key ID is the
 * SHA-1 of the subject's public key bits. A new buffer (mem_free); 0, or
 * -1 with the reason logged.
 */
int	cert_sign(const struct cert_template *, struct key *issuer_key,
	    const uint8_t *issuer, size_t issuer_len, uint8_t **out,
	    size_t *outlen) __attribute__((warn_unused_result));

/*
 * Two-phase signing, for an issuer whose key signs later, on another
 * thread (key_sign_async: the TPM): the to-be-signed bytes and the
 * digest its key must sign are made here, on the caller's thread, and
 * the signed structure is assembled once the signature is in.
 * cert_sign and cert_csr_create are these two steps with key_sign
 * between them.
 */
struct cert_tbs {
	uint8_t		*tbs;		/* DER, owned: free with cleanup */
	size_t		 tbs_len;
	enum key_type	 type;		/* of the key that signs */
	uint8_t		 digest[48];	/* what that key signs */
	size_t		 digest_len;
};

/*
 * The TBSCertificate of a template for an issuer key of issuer_type
 * (issuer as for cert_sign), and its digest, into out. 0, or -1
 * (logged) with nothing left to clean up.
 */
int	cert_tbs_make(const struct cert_template *, enum key_type issuer_type,
	    const uint8_t *issuer, size_t issuer_len, struct cert_tbs *out)
	    __attribute__((warn_unused_result));
/*
 * The CertificationRequestInfo of a request for spki (a key of type,
 * which signs it), as cert_csr_create_sans makes it. 0 or -1.
 */
int	cert_csr_tbs_make(const uint8_t *spki, size_t spki_len,
	    enum key_type type, const uint8_t *subject, size_t subject_len,
	    const char *uri, const char *const *dns, size_t ndns,
	    struct cert_tbs *out) __attribute__((warn_unused_result));
/*
 * The certificate or request from its to-be-signed bytes and the
 * signature (DER ECDSA, as key_sign gives it): a new buffer (mem_free).
 * 0 or -1. The tbs stays the caller's to clean up.
 */
int	cert_tbs_finish(const struct cert_tbs *, const uint8_t *sig,
	    size_t siglen, uint8_t **out, size_t *outlen)
	    __attribute__((warn_unused_result));
/* Frees what cert_tbs_make made; accepts a zeroed struct. */
void	cert_tbs_cleanup(struct cert_tbs *);

/*
 * A PKCS#10 request for key's public key, with subject (Name DER) and an
 * optional URI SAN in an extensionRequest, signed by key. A new buffer
 * (mem_free); 0 or -1.
 */
int	cert_csr_create(struct key *, const uint8_t *subject,
	    size_t subject_len, const char *uri, uint8_t **out,
	    size_t *outlen) __attribute__((warn_unused_result));
/*
 * The same with DNS SANs dns[0..ndns) too (the URI may then be NULL),
 * as `x509 mint -dns` asks for them.
 */
int	cert_csr_create_sans(struct key *, const uint8_t *subject,
	    size_t subject_len, const char *uri, const char *const *dns,
	    size_t ndns, uint8_t **out, size_t *outlen)
	    __attribute__((warn_unused_result));

/* What a parsed request gives; views into the caller's bytes. */
struct cert_csr {
	const uint8_t	*spki;
	size_t		 spki_len;
	const uint8_t	*subject;
	size_t		 subject_len;
};

enum cert_csr_err {
	CERT_CSR_OK = 0,
	CERT_CSR_MALFORMED,	/* not a PKCS#10 request */
	CERT_CSR_ALGORITHM,	/* a signature algorithm we do not check */
	CERT_CSR_SIGNATURE,	/* the self-signature does not verify */
};

/*
 * Parses a PKCS#10 request from untrusted bytes. With verify set, its
 * self-signature must verify (ECDSA P-256/P-384 with SHA-256/384).
 */
enum cert_csr_err cert_csr_parse(const uint8_t *, size_t, int verify,
		    struct cert_csr *) __attribute__((warn_unused_result));
const char	*cert_csr_strerror(enum cert_csr_err);

#endif
