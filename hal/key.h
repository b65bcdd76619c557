/*
 * The key interface. Every signature spirelet makes goes through it, so a
 * key may live in software or in the TPM without its users knowing which.
 * Private-key bytes exist only in hal/ (and, for software keys, in the
 * PKCS#8 export that the caller asked for, e.g. a workload's key).
 */
#ifndef HAL_KEY_H
#define HAL_KEY_H

#include <stddef.h>
#include <stdint.h>

enum key_type {
	KEY_EC_P256,
	KEY_EC_P384,
};

enum key_err {
	KEY_OK = 0,
	KEY_ERR_NOMEM,
	KEY_ERR_FORMAT,		/* bytes are not a key we understand */
	KEY_ERR_UNSUPPORTED,	/* a key type or curve we do not handle */
	KEY_ERR_SPACE,		/* the output buffer is too small */
	KEY_ERR_CRYPTO,		/* the crypto library failed */
	KEY_ERR_NOT_EXPORTABLE,	/* the key never leaves its home */
};

/* Most bytes of a DER ECDSA signature and of a public key, P-384. */
#define KEY_SIG_MAX	112
#define KEY_PUB_MAX	128

struct key;

struct key_ops {
	const char	*backend;	/* "software", "tpm" */
	enum key_err	(*sign)(struct key *, const uint8_t *, size_t,
			    uint8_t *, size_t *);
	enum key_err	(*export_pkcs8)(const struct key *, uint8_t **,
			    size_t *);
	void		(*free)(struct key *);
};

/* What every backend's key starts with. */
struct key {
	const struct key_ops	*ops;
	enum key_type		 type;
	uint8_t			 spki[KEY_PUB_MAX]; /* SubjectPublicKeyInfo */
	size_t			 spki_len;
};

/* A fresh software key. NULL with *err set. */
struct key	*key_soft_generate(enum key_type, enum key_err *);
/*
 * A software key from DER: PKCS#8 (unencrypted) or SEC1 ECPrivateKey.
 * The caller keeps and wipes its bytes. NULL with *err set.
 */
struct key	*key_soft_load(const uint8_t *, size_t, enum key_err *);

/*
 * ECDSA over digest (the caller hashed with the key's hash: SHA-256 for
 * P-256, SHA-384 for P-384); the signature, DER SEQUENCE { r, s }, into
 * sig, *siglen in: room (KEY_SIG_MAX is enough), out: length.
 */
enum key_err	 key_sign(struct key *, const uint8_t *digest, size_t len,
		    uint8_t *sig, size_t *siglen)
		    __attribute__((warn_unused_result));
/*
 * The key as unencrypted PKCS#8 DER in a new buffer (*out, free with
 * mem_free_wipe(*out, *len)); KEY_ERR_NOT_EXPORTABLE for hardware keys.
 */
enum key_err	 key_export_pkcs8(const struct key *, uint8_t **out,
		    size_t *len) __attribute__((warn_unused_result));
/* The SubjectPublicKeyInfo DER; valid while the key lives. */
const uint8_t	*key_spki(const struct key *, size_t *len);
enum key_type	 key_get_type(const struct key *);
/* The digest length the key signs: 32 for P-256, 48 for P-384. */
size_t		 key_digest_len(const struct key *);
/* "ec-p256", "ec-p384", as SPIRE names key types. */
const char	*key_type_name(enum key_type);
/* 0 and *out set, or -1 for a name SPIRE does not use. */
int		 key_type_parse(const char *, enum key_type *);
/* Wipes and frees; accepts NULL. */
void		 key_free(struct key *);
const char	*key_strerror(enum key_err);

/*
 * Checks an ECDSA signature by the public key in spki (DER
 * SubjectPublicKeyInfo, P-256 or P-384) over digest. 0 when it verifies,
 * -1 otherwise (including malformed input).
 */
int		 key_verify_spki(const uint8_t *spki, size_t spki_len,
		    const uint8_t *digest, size_t dlen, const uint8_t *sig,
		    size_t siglen);

#endif
