/* The key interface's dispatch and the helpers every backend shares. */
#include "config.h"

#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include "core/mem.h"
#include "core/worker.h"
#include "hal/key.h"

/* One asynchronous signature in flight. */
struct key_sign_job {
	struct key		*key;
	uint8_t			 digest[64];
	size_t			 len;
	uint8_t			 sig[KEY_SIG_MAX];
	size_t			 siglen;
	enum key_err		 err;
	key_sign_done_fn	 done;
	void			*arg;
};

static void	key_sign_job_run(void *);
static void	key_sign_job_done(void *, int);

enum key_err
key_sign(struct key *k, const uint8_t *digest, size_t len, uint8_t *sig,
    size_t *siglen)
{
	if (len != key_digest_len(k))
		return KEY_ERR_FORMAT;
	return k->ops->sign(k, digest, len, sig, siglen);
}

static void
key_sign_job_run(void *arg)
{
	struct key_sign_job	*j = arg;

	j->siglen = sizeof(j->sig);
	j->err = key_sign(j->key, j->digest, j->len, j->sig, &j->siglen);
}

static void
key_sign_job_done(void *arg, int cancelled)
{
	struct key_sign_job	*j = arg;

	if (cancelled)
		j->done(j->arg, KEY_ERR_CANCELLED, NULL, 0);
	else if (j->err != KEY_OK)
		j->done(j->arg, j->err, NULL, 0);
	else
		j->done(j->arg, KEY_OK, j->sig, j->siglen);
	mem_free(j);
}

enum key_err
key_sign_async(struct key *k, struct worker *w, const uint8_t *digest,
    size_t len, key_sign_done_fn done, void *arg)
{
	struct key_sign_job	*j;
	uint8_t			 sig[KEY_SIG_MAX];
	size_t			 siglen = sizeof(sig);
	enum key_err		 e;

	if (len != key_digest_len(k) || len > sizeof(j->digest))
		return KEY_ERR_FORMAT;
	if (!k->ops->blocking || w == NULL) {
		e = key_sign(k, digest, len, sig, &siglen);
		if (e != KEY_OK)
			siglen = 0;
		done(arg, e, e == KEY_OK ? sig : NULL, siglen);
		return KEY_OK;
	}
	j = mem_calloc(1, sizeof(*j));
	if (j == NULL)
		return KEY_ERR_NOMEM;
	j->key = k;
	memcpy(j->digest, digest, len);
	j->len = len;
	j->done = done;
	j->arg = arg;
	if (worker_submit(w, key_sign_job_run, key_sign_job_done, j) == -1) {
		mem_free(j);
		return KEY_ERR_BUSY;
	}
	return KEY_OK;
}

int
key_is_blocking(const struct key *k)
{
	return k->ops->blocking;
}

enum key_err
key_destroy(struct key *k)
{
	if (k->ops->destroy == NULL)
		return KEY_OK;
	return k->ops->destroy(k);
}

enum key_err
key_export_pkcs8(const struct key *k, uint8_t **out, size_t *len)
{
	if (k->ops->export_pkcs8 == NULL)
		return KEY_ERR_NOT_EXPORTABLE;
	return k->ops->export_pkcs8(k, out, len);
}

const uint8_t *
key_spki(const struct key *k, size_t *len)
{
	*len = k->spki_len;
	return k->spki;
}

enum key_type
key_get_type(const struct key *k)
{
	return k->type;
}

size_t
key_digest_len(const struct key *k)
{
	return k->type == KEY_EC_P384 ? 48 : 32;
}

const char *
key_type_name(enum key_type t)
{
	return t == KEY_EC_P384 ? "ec-p384" : "ec-p256";
}

int
key_type_parse(const char *s, enum key_type *out)
{
	if (strcmp(s, "ec-p256") == 0)
		*out = KEY_EC_P256;
	else if (strcmp(s, "ec-p384") == 0)
		*out = KEY_EC_P384;
	else
		return -1;
	return 0;
}

void
key_free(struct key *k)
{
	if (k != NULL)
		k->ops->free(k);
}

const char *
key_strerror(enum key_err e)
{
	switch (e) {
	case KEY_OK:
		return "success";
	case KEY_ERR_NOMEM:
		return "out of memory";
	case KEY_ERR_FORMAT:
		return "not a key spirelet can read";
	case KEY_ERR_UNSUPPORTED:
		return "unsupported key type";
	case KEY_ERR_SPACE:
		return "output buffer too small";
	case KEY_ERR_CRYPTO:
		return "crypto library failure";
	case KEY_ERR_NOT_EXPORTABLE:
		return "key cannot leave its device";
	case KEY_ERR_NO_DEVICE:
		return "key device (TPM) missing or unreachable";
	case KEY_ERR_BUSY:
		return "key device busy, try again later";
	case KEY_ERR_LOCKOUT:
		return "key device in dictionary-attack lockout";
	case KEY_ERR_AUTH:
		return "wrong key or hierarchy password";
	case KEY_ERR_BLOB:
		return "key blob does not load in this TPM";
	case KEY_ERR_FILE:
		return "key file unreadable or unwritable";
	case KEY_ERR_NOT_FOUND:
		return "no key at that TPM handle";
	case KEY_ERR_DEVICE:
		return "key device failed";
	case KEY_ERR_CANCELLED:
		return "signature cancelled";
	}
	return "unknown key error";
}

int
key_verify_spki(const uint8_t *spki, size_t spki_len, const uint8_t *digest,
    size_t dlen, const uint8_t *sig, size_t siglen)
{
	ecc_key	 pub;
	word32	 idx = 0;
	int	 ok = 0, rc;

	if (wc_ecc_init(&pub) != 0)
		return -1;
	rc = wc_EccPublicKeyDecode(spki, &idx, &pub, (word32)spki_len);
	if (rc == 0 && idx == spki_len)
		rc = wc_ecc_verify_hash(sig, (word32)siglen, digest,
		    (word32)dlen, &ok, &pub);
	wc_ecc_free(&pub);
	return rc == 0 && ok == 1 ? 0 : -1;
}
