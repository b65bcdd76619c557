/* The key interface's dispatch and the helpers every backend shares. */
#include "config.h"

#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include "hal/key.h"

enum key_err
key_sign(struct key *k, const uint8_t *digest, size_t len, uint8_t *sig,
    size_t *siglen)
{
	if (len != key_digest_len(k))
		return KEY_ERR_FORMAT;
	return k->ops->sign(k, digest, len, sig, siglen);
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
