/*
 * Software keys through wolfCrypt: EC P-256 and P-384, for workload keys
 * (workloads must hold them), the "disk" and "memory" key managers, and
 * tests. The private scalar lives in the ecc_key and is wiped on free.
 */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>

#include "core/log.h"
#include "core/mem.h"
#include "hal/key.h"

struct key_soft {
	struct key	 base;	/* first, so a struct key * converts */
	ecc_key		 ecc;
};

static enum key_err	soft_sign(struct key *, const uint8_t *, size_t,
			    uint8_t *, size_t *);
static enum key_err	soft_export(const struct key *, uint8_t **,
			    size_t *);
static void		soft_free(struct key *);
static WC_RNG		*soft_rng(void);
static enum key_err	soft_finish(struct key_soft *);
static struct key_soft	*soft_new(void);

static const struct key_ops soft_ops = {
	.backend = "software",
	.sign = soft_sign,
	.export_pkcs8 = soft_export,
	.free = soft_free,
};

/*
 * One DRBG per thread (the loop and the worker), seeded once: seeding on
 * every signature would cost more than the signature.
 */
static __thread WC_RNG	 thread_rng;
static __thread int	 thread_rng_ready;
/*
 * A thread that ends (the worker) frees its DRBG's state through this
 * key's destructor; thread-local storage alone would leak it.
 */
static pthread_key_t	 rng_key;
static pthread_once_t	 rng_once = PTHREAD_ONCE_INIT;

static void
soft_rng_free(void *p)
{
	(void)wc_FreeRng(p);
}

static void
soft_rng_key(void)
{
	(void)pthread_key_create(&rng_key, soft_rng_free);
}

static WC_RNG *
soft_rng(void)
{
	int	 rc;

	if (!thread_rng_ready) {
		rc = wc_InitRng(&thread_rng);
		if (rc != 0) {
			log_warnx("hal", "wc_InitRng: %s",
			    wc_GetErrorString(rc));
			return NULL;
		}
		thread_rng_ready = 1;
		(void)pthread_once(&rng_once, soft_rng_key);
		(void)pthread_setspecific(rng_key, &thread_rng);
	}
	return &thread_rng;
}

static struct key_soft *
soft_new(void)
{
	struct key_soft	*k;

	k = mem_calloc(1, sizeof(*k));
	if (k == NULL)
		return NULL;
	if (wc_ecc_init(&k->ecc) != 0) {
		mem_free(k);
		return NULL;
	}
	k->base.ops = &soft_ops;
	return k;
}

/* Fills in the type and the public key from the loaded ecc_key. */
static enum key_err
soft_finish(struct key_soft *k)
{
	int	 n;

	switch (wc_ecc_get_curve_id(k->ecc.idx)) {
	case ECC_SECP256R1:
		k->base.type = KEY_EC_P256;
		break;
	case ECC_SECP384R1:
		k->base.type = KEY_EC_P384;
		break;
	default:
		return KEY_ERR_UNSUPPORTED;
	}
	n = wc_EccPublicKeyToDer(&k->ecc, k->base.spki,
	    sizeof(k->base.spki), 1);
	if (n <= 0)
		return KEY_ERR_CRYPTO;
	k->base.spki_len = (size_t)n;
	return KEY_OK;
}

struct key *
key_soft_generate(enum key_type type, enum key_err *err)
{
	struct key_soft	*k;
	WC_RNG		*rng;
	int		 curve, size, rc;

	*err = KEY_ERR_NOMEM;
	curve = type == KEY_EC_P384 ? ECC_SECP384R1 : ECC_SECP256R1;
	size = type == KEY_EC_P384 ? 48 : 32;
	rng = soft_rng();
	if (rng == NULL) {
		*err = KEY_ERR_CRYPTO;
		return NULL;
	}
	k = soft_new();
	if (k == NULL)
		return NULL;
	rc = wc_ecc_make_key_ex(rng, size, &k->ecc, curve);
	if (rc != 0) {
		log_warnx("hal", "wc_ecc_make_key_ex: %s",
		    wc_GetErrorString(rc));
		*err = KEY_ERR_CRYPTO;
		soft_free(&k->base);
		return NULL;
	}
	*err = soft_finish(k);
	if (*err != KEY_OK) {
		soft_free(&k->base);
		return NULL;
	}
	return &k->base;
}

struct key *
key_soft_load(const uint8_t *der, size_t len, enum key_err *err)
{
	struct key_soft	*k;
	uint8_t		*copy;
	word32		 idx = 0;
	int		 off;

	*err = KEY_ERR_NOMEM;
	if (len == 0 || len > 4096) {
		*err = KEY_ERR_FORMAT;
		return NULL;
	}
	/* wolfSSL wants a writable buffer to find the PKCS#8 payload. */
	copy = mem_alloc(len);
	if (copy == NULL)
		return NULL;
	memcpy(copy, der, len);
	k = soft_new();
	if (k == NULL) {
		mem_free_wipe(copy, len);
		return NULL;
	}
	off = wc_GetPkcs8TraditionalOffset(copy, &idx, (word32)len);
	if (off < 0)
		idx = 0;	/* not PKCS#8: try SEC1 from the start */
	if (wc_EccPrivateKeyDecode(copy, &idx, &k->ecc, (word32)len) != 0) {
		*err = KEY_ERR_FORMAT;
		goto fail;
	}
	mem_free_wipe(copy, len);
	copy = NULL;
	/* A key without its public point in the file: derive it. */
	if (k->ecc.type == ECC_PRIVATEKEY_ONLY &&
	    wc_ecc_make_pub(&k->ecc, NULL) != 0) {
		*err = KEY_ERR_CRYPTO;
		goto fail;
	}
	*err = soft_finish(k);
	if (*err != KEY_OK)
		goto fail;
	return &k->base;
fail:
	if (copy != NULL)
		mem_free_wipe(copy, len);
	soft_free(&k->base);
	return NULL;
}

static enum key_err
soft_sign(struct key *key, const uint8_t *digest, size_t len, uint8_t *sig,
    size_t *siglen)
{
	struct key_soft	*k = (struct key_soft *)key;
	WC_RNG		*rng;
	word32		 out;
	int		 rc;

	if (*siglen < KEY_SIG_MAX)
		return KEY_ERR_SPACE;
	rng = soft_rng();
	if (rng == NULL)
		return KEY_ERR_CRYPTO;
	out = (word32)*siglen;
	rc = wc_ecc_sign_hash(digest, (word32)len, sig, &out, rng, &k->ecc);
	if (rc != 0) {
		log_warnx("hal", "wc_ecc_sign_hash: %s",
		    wc_GetErrorString(rc));
		return KEY_ERR_CRYPTO;
	}
	*siglen = out;
	return KEY_OK;
}

static enum key_err
soft_export(const struct key *key, uint8_t **out, size_t *len)
{
	struct key_soft	*k = (struct key_soft *)(uintptr_t)key;
	uint8_t		*der;
	word32		 n = 0;

	/* A first call with no buffer gives the length. */
	if (wc_EccKeyToPKCS8(&k->ecc, NULL, &n) != LENGTH_ONLY_E || n == 0)
		return KEY_ERR_CRYPTO;
	der = mem_alloc(n);
	if (der == NULL)
		return KEY_ERR_NOMEM;
	if (wc_EccKeyToPKCS8(&k->ecc, der, &n) <= 0) {
		mem_free_wipe(der, n);
		return KEY_ERR_CRYPTO;
	}
	*out = der;
	*len = n;
	return KEY_OK;
}

static void
soft_free(struct key *key)
{
	struct key_soft	*k = (struct key_soft *)key;

	wc_ecc_free(&k->ecc);
	mem_free_wipe(k, sizeof(*k));
}

void
key_soft_trim(void)
{
	wc_ecc_fp_free();
}
