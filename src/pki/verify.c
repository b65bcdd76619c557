/* Signature checks through wolfCrypt. */
#include "config.h"

#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/signature.h>

#include "pki/verify.h"

static const struct {
	const char		*name;
	enum sig_alg		 alg;
	enum wc_HashType	 hash;
	int			 mgf;		/* PSS only */
} algs[] = {
	{ "ES256", SIG_ES256, WC_HASH_TYPE_SHA256, 0 },
	{ "ES384", SIG_ES384, WC_HASH_TYPE_SHA384, 0 },
	{ "ES512", SIG_ES512, WC_HASH_TYPE_SHA512, 0 },
	{ "RS256", SIG_RS256, WC_HASH_TYPE_SHA256, 0 },
	{ "RS384", SIG_RS384, WC_HASH_TYPE_SHA384, 0 },
	{ "RS512", SIG_RS512, WC_HASH_TYPE_SHA512, 0 },
	{ "PS256", SIG_PS256, WC_HASH_TYPE_SHA256, WC_MGF1SHA256 },
	{ "PS384", SIG_PS384, WC_HASH_TYPE_SHA384, WC_MGF1SHA384 },
	{ "PS512", SIG_PS512, WC_HASH_TYPE_SHA512, WC_MGF1SHA512 },
};

#define NALGS	(sizeof(algs) / sizeof(algs[0]))

static int	verify_ecdsa(enum sig_alg, enum wc_HashType, const uint8_t *,
		    size_t, const uint8_t *, size_t, const uint8_t *, size_t);
static int	verify_rsa(enum wc_HashType, int, const uint8_t *, size_t,
		    const uint8_t *, size_t, const uint8_t *, size_t);

int
sig_alg_parse(const char *s, size_t len, enum sig_alg *out)
{
	size_t	 i;

	for (i = 0; i < NALGS; i++) {
		if (strlen(algs[i].name) == len &&
		    memcmp(algs[i].name, s, len) == 0) {
			*out = algs[i].alg;
			return 0;
		}
	}
	return -1;
}

const char *
sig_alg_name(enum sig_alg a)
{
	return (size_t)a < NALGS ? algs[a].name : "unknown";
}

static int
verify_ecdsa(enum sig_alg alg, enum wc_HashType hash, const uint8_t *spki,
    size_t spki_len, const uint8_t *msg, size_t msg_len, const uint8_t *sig,
    size_t sig_len)
{
	ecc_key	 key;
	uint8_t	 der[160], md[WC_MAX_DIGEST_SIZE];
	word32	 idx = 0, der_len = sizeof(der), half;
	int	 ok = 0, rc, want;

	want = alg == SIG_ES256 ? ECC_SECP256R1 :
	    alg == SIG_ES384 ? ECC_SECP384R1 : ECC_SECP521R1;
	half = alg == SIG_ES256 ? 32 : alg == SIG_ES384 ? 48 : 66;
	if (sig_len != 2 * half)
		return -1;
	if (wc_ecc_init(&key) != 0)
		return -1;
	rc = wc_EccPublicKeyDecode(spki, &idx, &key, (word32)spki_len);
	/* RFC 7518: each ES algorithm goes with exactly one curve. */
	if (rc != 0 || idx != spki_len ||
	    wc_ecc_get_curve_id(key.idx) != want)
		goto out;
	rc = wc_ecc_rs_raw_to_sig(sig, half, sig + half, half, der,
	    &der_len);
	if (rc != 0)
		goto out;
	rc = wc_Hash(hash, msg, (word32)msg_len, md, sizeof(md));
	if (rc != 0)
		goto out;
	rc = wc_ecc_verify_hash(der, der_len, md,
	    (word32)wc_HashGetDigestSize(hash), &ok, &key);
out:
	wc_ecc_free(&key);
	return rc == 0 && ok == 1 ? 0 : -1;
}

static int
verify_rsa(enum wc_HashType hash, int mgf, const uint8_t *spki,
    size_t spki_len, const uint8_t *msg, size_t msg_len, const uint8_t *sig,
    size_t sig_len)
{
	RsaKey	 key;
	uint8_t	 md[WC_MAX_DIGEST_SIZE], out[1024];
	word32	 idx = 0;
	int	 rc, mdlen;

	if (sig_len > sizeof(out))
		return -1;
	if (wc_InitRsaKey(&key, NULL) != 0)
		return -1;
	rc = wc_RsaPublicKeyDecode(spki, &idx, &key, (word32)spki_len);
	if (rc != 0 || idx != spki_len)
		goto out;
	if (wc_RsaEncryptSize(&key) < 2048 / 8 ||
	    (size_t)wc_RsaEncryptSize(&key) != sig_len) {
		rc = -1;
		goto out;
	}
	if (mgf == 0) {
		rc = wc_SignatureVerify(hash, WC_SIGNATURE_TYPE_RSA_W_ENC,
		    msg, (word32)msg_len, sig, (word32)sig_len, &key,
		    sizeof(key));
		goto out;
	}
	mdlen = wc_HashGetDigestSize(hash);
	rc = wc_Hash(hash, msg, (word32)msg_len, md, sizeof(md));
	if (rc != 0)
		goto out;
	memcpy(out, sig, sig_len);
	rc = wc_RsaPSS_VerifyCheck(out, (word32)sig_len, out, sizeof(out),
	    md, (word32)mdlen, hash, mgf, &key);
	rc = rc > 0 ? 0 : -1;
out:
	wc_FreeRsaKey(&key);
	return rc == 0 ? 0 : -1;
}

int
sig_verify(enum sig_alg alg, const uint8_t *spki, size_t spki_len,
    const uint8_t *msg, size_t msg_len, const uint8_t *sig, size_t sig_len)
{
	if ((size_t)alg >= NALGS)
		return -1;
	switch (alg) {
	case SIG_ES256:
	case SIG_ES384:
	case SIG_ES512:
		return verify_ecdsa(alg, algs[alg].hash, spki, spki_len, msg,
		    msg_len, sig, sig_len);
	default:
		return verify_rsa(algs[alg].hash, algs[alg].mgf, spki,
		    spki_len, msg, msg_len, sig, sig_len);
	}
}
