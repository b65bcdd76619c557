/*
 * TPM 2.0 structures in wire format, read and made without a TPM or the
 * TSS: what a server needs to check tpm_devid evidence (TPMT_PUBLIC,
 * object Names, TPMS_ATTEST from TPM2_Certify, TPMT_SIGNATURE) and to
 * make the credential-activation challenge (MakeCredential, KDFa).
 *
 * All input is untrusted peer data: every length is checked against
 * what remains, and parsed structures point into the caller's buffer
 * (valid as long as it is).
 */
#ifndef ATTEST_TPMWIRE_H
#define ATTEST_TPMWIRE_H

#include <stddef.h>
#include <stdint.h>

/* TPM_ALG_ID values used here (TPM 2.0 Part 2, table 9). */
#define TPMWIRE_ALG_RSA		0x0001
#define TPMWIRE_ALG_SHA1	0x0004
#define TPMWIRE_ALG_AES		0x0006
#define TPMWIRE_ALG_SHA256	0x000b
#define TPMWIRE_ALG_SHA384	0x000c
#define TPMWIRE_ALG_SHA512	0x000d
#define TPMWIRE_ALG_NULL	0x0010
#define TPMWIRE_ALG_RSASSA	0x0014
#define TPMWIRE_ALG_RSAES	0x0015
#define TPMWIRE_ALG_RSAPSS	0x0016
#define TPMWIRE_ALG_OAEP	0x0017
#define TPMWIRE_ALG_ECDSA	0x0018
#define TPMWIRE_ALG_ECDAA	0x001a
#define TPMWIRE_ALG_ECC		0x0023
#define TPMWIRE_ALG_CFB		0x0043

#define TPMWIRE_ECC_P256	0x0003
#define TPMWIRE_ECC_P384	0x0004

/* TPMA_OBJECT bits. */
#define TPMWIRE_OBJ_FIXEDTPM	0x00000002u
#define TPMWIRE_OBJ_FIXEDPARENT	0x00000010u
#define TPMWIRE_OBJ_SENSDATAORIGIN 0x00000020u
#define TPMWIRE_OBJ_USERWITHAUTH 0x00000040u
#define TPMWIRE_OBJ_ADMINWITHPOLICY 0x00000080u
#define TPMWIRE_OBJ_RESTRICTED	0x00010000u
#define TPMWIRE_OBJ_DECRYPT	0x00020000u
#define TPMWIRE_OBJ_SIGN	0x00040000u

#define TPMWIRE_GENERATED	0xff544347u	/* TPM_GENERATED_VALUE */
#define TPMWIRE_ST_ATTEST_CERTIFY 0x8017

#define TPMWIRE_NAME_MAX	(2 + 64)	/* nameAlg + largest digest */
#define TPMWIRE_DIGEST_MAX	64

enum tpmwire_err {
	TPMWIRE_OK = 0,
	TPMWIRE_ERR_SHORT,	/* the bytes end inside the structure */
	TPMWIRE_ERR_FORMAT,	/* a length or tag that cannot be */
	TPMWIRE_ERR_UNSUPPORTED, /* a type or algorithm we do not handle */
	TPMWIRE_ERR_SPACE,	/* an output buffer too small */
	TPMWIRE_ERR_CRYPTO,	/* the crypto library failed */
};

/* Bytes inside the parsed buffer. */
struct tpmwire_span {
	const uint8_t	*p;
	size_t		 len;
};

/* A TPMT_PUBLIC of an RSA or ECC object. */
struct tpmwire_public {
	uint16_t		 type;		/* ALG_RSA or ALG_ECC */
	uint16_t		 name_alg;
	uint32_t		 attrs;		/* TPMA_OBJECT */
	struct tpmwire_span	 auth_policy;
	uint16_t		 sym_alg;	/* ALG_NULL when none */
	uint16_t		 sym_bits;
	uint16_t		 sym_mode;
	uint16_t		 scheme;	/* ALG_NULL when none */
	uint16_t		 scheme_hash;
	/* RSA */
	uint16_t		 rsa_bits;
	uint32_t		 rsa_exponent;	/* 0 means 65537 */
	struct tpmwire_span	 rsa_modulus;
	/* ECC */
	uint16_t		 curve;
	uint16_t		 kdf;
	struct tpmwire_span	 ecc_x;
	struct tpmwire_span	 ecc_y;
	/* The whole encoding, what the object's Name is computed over. */
	struct tpmwire_span	 raw;
};

/*
 * Parses a TPMT_PUBLIC from the start of buf. Bytes after it are
 * ignored, as go-tpm's DecodePublic ignores them.
 */
enum tpmwire_err tpmwire_public_parse(const uint8_t *buf, size_t len,
		    struct tpmwire_public *out)
		    __attribute__((warn_unused_result));
/* The object's Name: nameAlg (2 bytes) || H_nameAlg(TPMT_PUBLIC). */
enum tpmwire_err tpmwire_name(const struct tpmwire_public *, uint8_t *out,
		    size_t *outlen) __attribute__((warn_unused_result));
/* The digest size of a hash algorithm, 0 for one we do not know. */
size_t		 tpmwire_hash_len(uint16_t alg);
/*
 * An RSA object's public key as a SubjectPublicKeyInfo DER (new buffer,
 * mem_free), so pki/verify.h can check its signatures.
 */
enum tpmwire_err tpmwire_rsa_spki(const struct tpmwire_public *,
		    uint8_t **out, size_t *outlen)
		    __attribute__((warn_unused_result));

/* A TPMS_ATTEST; only TPM2_Certify's is understood. */
struct tpmwire_attest {
	uint32_t		 magic;
	uint16_t		 type;
	struct tpmwire_span	 qualified_signer; /* TPM2B_NAME contents */
	struct tpmwire_span	 extra_data;
	uint64_t		 clock;
	uint32_t		 reset_count;
	uint32_t		 restart_count;
	uint8_t			 safe;
	uint64_t		 firmware;
	struct tpmwire_span	 certified_name;	/* TPMS_CERTIFY_INFO */
	struct tpmwire_span	 certified_qname;
};

/* Parses a TPMS_ATTEST that must be a TPM-generated certify. */
enum tpmwire_err tpmwire_attest_parse(const uint8_t *, size_t,
		    struct tpmwire_attest *)
		    __attribute__((warn_unused_result));

/* A TPMT_SIGNATURE, RSA (RSASSA/RSAPSS) or ECDSA. */
struct tpmwire_sig {
	uint16_t		 alg;
	uint16_t		 hash;
	struct tpmwire_span	 rsa;		/* RSA signature bytes */
	struct tpmwire_span	 r, s;		/* ECDSA */
};

enum tpmwire_err tpmwire_sig_parse(const uint8_t *, size_t,
		    struct tpmwire_sig *) __attribute__((warn_unused_result));

/*
 * TPM 2.0 Part 1, 11.4.10.2: KDFa(hash, key, label, contextU, contextV,
 * bits) into out (bits/8 bytes; bits a multiple of 8).
 */
enum tpmwire_err tpmwire_kdfa(uint16_t hash, const uint8_t *key,
		    size_t keylen, const char *label, const uint8_t *u,
		    size_t ulen, const uint8_t *v, size_t vlen, size_t bits,
		    uint8_t *out) __attribute__((warn_unused_result));

/*
 * TPM2_MakeCredential in software (Part 1, 24): protects secret (at most
 * the EK nameAlg's digest size) for the object named name, to be
 * recovered only by TPM2_ActivateCredential with the RSA EK ek. seed
 * (the EK nameAlg's digest size) is drawn by the caller; OAEP padding
 * uses hal/rand. Outputs are the TPM2B_ID_OBJECT and
 * TPM2B_ENCRYPTED_SECRET contents without their size prefixes, as
 * SPIRE's server sends them; *credlen and *enclen give room in, length
 * out (512 bytes is enough for both).
 */
enum tpmwire_err tpmwire_make_credential(const struct tpmwire_public *ek,
		    const uint8_t *name, size_t namelen,
		    const uint8_t *secret, size_t secretlen,
		    const uint8_t *seed, size_t seedlen,
		    uint8_t *cred, size_t *credlen,
		    uint8_t *encseed, size_t *enclen)
		    __attribute__((warn_unused_result));

const char	*tpmwire_strerror(enum tpmwire_err);

#endif
