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
	/* A key in a device (the TPM); hal/tpm.h's log line has more. */
	KEY_ERR_NO_DEVICE,	/* the device is missing or unreachable */
	KEY_ERR_BUSY,		/* the device asked to be retried later */
	KEY_ERR_LOCKOUT,	/* the device is in dictionary-attack lockout */
	KEY_ERR_AUTH,		/* a wrong key or hierarchy password */
	KEY_ERR_BLOB,		/* a key blob the device does not load */
	KEY_ERR_FILE,		/* a key file unreadable or unwritable */
	KEY_ERR_NOT_FOUND,	/* no key at that persistent handle */
	KEY_ERR_DEVICE,		/* any other device failure */
	KEY_ERR_CANCELLED,	/* an asynchronous signature never ran */
};

/* Most bytes of a DER ECDSA signature and of a public key, P-384. */
#define KEY_SIG_MAX	112
#define KEY_PUB_MAX	128

struct key;
struct tpm;
struct worker;

struct key_ops {
	const char	*backend;	/* "software", "tpm" */
	enum key_err	(*sign)(struct key *, const uint8_t *, size_t,
			    uint8_t *, size_t *);
	enum key_err	(*export_pkcs8)(const struct key *, uint8_t **,
			    size_t *);
	void		(*free)(struct key *);
	/* 1 when sign() waits on a device: never call it on the loop. */
	int		 blocking;
	/* Removes the key from its device; NULL: nothing to remove. */
	enum key_err	(*destroy)(struct key *);
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
 * A new ECDSA key made inside the TPM under the storage root key (the
 * ECC SRK template SPIRE uses), with password as its authValue (NULL:
 * none). Its private part exists only wrapped by the TPM; save it with
 * key_tpm_save_file(). The key borrows tpm, which must outlive it.
 * NULL with *err set (the TPM's reason logged).
 */
struct key	*key_tpm_create(struct tpm *, enum key_type,
		    const char *password, enum key_err *);
/*
 * A TPM key from the bytes key_tpm_blob() made (TPM2B_PUBLIC then
 * TPM2B_PRIVATE, as the TPM marshals them), or from a file of them.
 * The blob is checked by loading it once: KEY_ERR_BLOB when this TPM
 * refuses it (another TPM, a cleared owner seed, a damaged file).
 */
struct key	*key_tpm_load_blob(struct tpm *, const uint8_t *, size_t,
		    const char *password, enum key_err *);
struct key	*key_tpm_load_file(struct tpm *, const char *path,
		    const char *password, enum key_err *);
/*
 * A TPM key from SPIRE's DevID files: devid_pub_path holds a TPMT_PUBLIC
 * and devid_priv_path the contents of a TPM2B_PRIVATE, both without the
 * two-byte size prefix (go-tpm's CreateKey output).
 */
struct key	*key_tpm_load_parts(struct tpm *, const uint8_t *pub,
		    size_t publen, const uint8_t *priv, size_t privlen,
		    const char *password, enum key_err *);
/* A key kept at a persistent handle (0x81xxxxxx). */
struct key	*key_tpm_load_persistent(struct tpm *, uint32_t handle,
		    const char *password, enum key_err *);
/*
 * The key's blob in a new buffer (mem_free), or its parts as SPIRE's
 * files hold them (two new buffers). KEY_ERR_UNSUPPORTED for a key at a
 * persistent handle or a software key.
 */
enum key_err	 key_tpm_blob(const struct key *, uint8_t **out,
		    size_t *len) __attribute__((warn_unused_result));
enum key_err	 key_tpm_parts(const struct key *, uint8_t **pub,
		    size_t *publen, uint8_t **priv, size_t *privlen)
		    __attribute__((warn_unused_result));
/*
 * Writes the blob to path with mode 0600, through a temporary file and
 * rename, so a crash leaves the old file or the new one.
 */
enum key_err	 key_tpm_save_file(const struct key *, const char *path)
		    __attribute__((warn_unused_result));
/* Makes the key persistent at handle (owner authorisation). */
enum key_err	 key_tpm_persist(struct key *, uint32_t handle)
		    __attribute__((warn_unused_result));
/*
 * Small secret files (key blobs): written 0600 through a temporary file,
 * fsync and rename; read whole, at most 4096 bytes, into a new buffer
 * (mem_free). 0, or -1 with the reason logged.
 */
int		 key_file_write(const char *path, const uint8_t *, size_t)
		    __attribute__((warn_unused_result));
int		 key_file_read(const char *path, uint8_t **, size_t *)
		    __attribute__((warn_unused_result));
/* 1 when signing with the key waits on a device (see key_sign_async). */
int		 key_is_blocking(const struct key *);
/*
 * Removes the key from its device (a persistent handle is evicted);
 * nothing for software keys and blob keys, whose files are the caller's
 * to remove. The struct stays the caller's to key_free().
 */
enum key_err	 key_destroy(struct key *)
		    __attribute__((warn_unused_result));

/*
 * ECDSA over digest (the caller hashed with the key's hash: SHA-256 for
 * P-256, SHA-384 for P-384); the signature, DER SEQUENCE { r, s }, into
 * sig, *siglen in: room (KEY_SIG_MAX is enough), out: length.
 */
enum key_err	 key_sign(struct key *, const uint8_t *digest, size_t len,
		    uint8_t *sig, size_t *siglen)
		    __attribute__((warn_unused_result));
/*
 * The result of key_sign_async: err, and the DER signature when KEY_OK
 * (borrowed for the call). KEY_ERR_CANCELLED when the worker stopped
 * before the job ran.
 */
typedef void	(*key_sign_done_fn)(void *arg, enum key_err err,
		    const uint8_t *sig, size_t siglen);
/*
 * key_sign without blocking the event loop: for a blocking key (TPM)
 * the signature is made on the worker thread and done() runs later on
 * the loop; for a software key done() runs before this returns. With
 * worker NULL the signature is made here, blocking (tools, tests).
 * KEY_OK means done() will run (or ran) exactly once; any other value
 * means it will not. The key and arg must live until done() runs.
 *
 * Callers on the event loop (TLS handshakes, SVID and JWT signing, the
 * CA, attestation) must use this for any key that may be a TPM key.
 */
enum key_err	 key_sign_async(struct key *, struct worker *,
		    const uint8_t *digest, size_t len, key_sign_done_fn done,
		    void *arg) __attribute__((warn_unused_result));
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
/*
 * Drops the calling thread's cache of precomputed EC points (wolfCrypt's
 * FP_ECC tables: megabytes after a few handshakes or key generations).
 * Later operations rebuild what they need, a little slower the first
 * time. For long-lived processes that want their memory back.
 */
void		 key_soft_trim(void);
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
