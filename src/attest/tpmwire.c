/*
 * TPM 2.0 wire structures and MakeCredential (see attest/tpmwire.h).
 * A small big-endian reader over a span does all the parsing; nothing
 * is read past what the span holds.
 */
#include "config.h"

#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>

#include "attest/tpmwire.h"
#include "core/mem.h"
#include "pki/der.h"

/* A cursor over untrusted bytes; failed stays set after the first miss. */
struct rd {
	const uint8_t	*p;
	size_t		 left;
	int		 failed;
};

static uint16_t	rd_u16(struct rd *);
static uint32_t	rd_u32(struct rd *);
static uint64_t	rd_u64(struct rd *);
static void	rd_2b(struct rd *, struct tpmwire_span *, size_t max);
static int	rd_sym(struct rd *, struct tpmwire_public *);
static int	wire_hash_type(uint16_t, enum wc_HashType *, int *);

static uint16_t
rd_u16(struct rd *r)
{
	uint16_t	 v;

	if (r->failed || r->left < 2) {
		r->failed = 1;
		return 0;
	}
	v = (uint16_t)((r->p[0] << 8) | r->p[1]);
	r->p += 2;
	r->left -= 2;
	return v;
}

static uint32_t
rd_u32(struct rd *r)
{
	uint32_t	 hi = rd_u16(r);

	return (hi << 16) | rd_u16(r);
}

static uint64_t
rd_u64(struct rd *r)
{
	uint64_t	 hi = rd_u32(r);

	return (hi << 32) | rd_u32(r);
}

/* A TPM2B: two-byte size, then that many bytes (at most max). */
static void
rd_2b(struct rd *r, struct tpmwire_span *out, size_t max)
{
	uint16_t	 n = rd_u16(r);

	out->p = NULL;
	out->len = 0;
	if (r->failed)
		return;
	if (n > max || n > r->left) {
		r->failed = 1;
		return;
	}
	out->p = r->p;
	out->len = n;
	r->p += n;
	r->left -= n;
}

/* TPMT_SYM_DEF_OBJECT: an algorithm, and for a block cipher bits+mode. */
static int
rd_sym(struct rd *r, struct tpmwire_public *pub)
{
	pub->sym_alg = rd_u16(r);
	if (r->failed || pub->sym_alg == TPMWIRE_ALG_NULL)
		return 0;
	/* Objects may have a block cipher here; we know AES. */
	if (pub->sym_alg != TPMWIRE_ALG_AES)
		return -1;
	pub->sym_bits = rd_u16(r);
	pub->sym_mode = rd_u16(r);
	return 0;
}

size_t
tpmwire_hash_len(uint16_t alg)
{
	switch (alg) {
	case TPMWIRE_ALG_SHA1:
		return 20;
	case TPMWIRE_ALG_SHA256:
		return 32;
	case TPMWIRE_ALG_SHA384:
		return 48;
	case TPMWIRE_ALG_SHA512:
		return 64;
	default:
		return 0;
	}
}

static int
wire_hash_type(uint16_t alg, enum wc_HashType *t, int *hmac)
{
	switch (alg) {
	case TPMWIRE_ALG_SHA1:
		*t = WC_HASH_TYPE_SHA;
		*hmac = WC_SHA;
		return 0;
	case TPMWIRE_ALG_SHA256:
		*t = WC_HASH_TYPE_SHA256;
		*hmac = WC_SHA256;
		return 0;
	case TPMWIRE_ALG_SHA384:
		*t = WC_HASH_TYPE_SHA384;
		*hmac = WC_SHA384;
		return 0;
	case TPMWIRE_ALG_SHA512:
		*t = WC_HASH_TYPE_SHA512;
		*hmac = WC_SHA512;
		return 0;
	default:
		return -1;
	}
}

enum tpmwire_err
tpmwire_public_parse(const uint8_t *buf, size_t len,
    struct tpmwire_public *pub)
{
	struct rd	 r = { buf, len, 0 };

	memset(pub, 0, sizeof(*pub));
	pub->type = rd_u16(&r);
	pub->name_alg = rd_u16(&r);
	pub->attrs = rd_u32(&r);
	rd_2b(&r, &pub->auth_policy, TPMWIRE_DIGEST_MAX);
	if (r.failed)
		return TPMWIRE_ERR_SHORT;
	if (tpmwire_hash_len(pub->name_alg) == 0)
		return TPMWIRE_ERR_UNSUPPORTED;
	switch (pub->type) {
	case TPMWIRE_ALG_RSA:
		if (rd_sym(&r, pub) == -1)
			return TPMWIRE_ERR_UNSUPPORTED;
		pub->scheme = rd_u16(&r);
		if (pub->scheme != TPMWIRE_ALG_NULL &&
		    pub->scheme != TPMWIRE_ALG_RSAES)
			pub->scheme_hash = rd_u16(&r);
		pub->rsa_bits = rd_u16(&r);
		pub->rsa_exponent = rd_u32(&r);
		rd_2b(&r, &pub->rsa_modulus, 512);
		break;
	case TPMWIRE_ALG_ECC:
		if (rd_sym(&r, pub) == -1)
			return TPMWIRE_ERR_UNSUPPORTED;
		pub->scheme = rd_u16(&r);
		if (pub->scheme != TPMWIRE_ALG_NULL) {
			pub->scheme_hash = rd_u16(&r);
			if (pub->scheme == TPMWIRE_ALG_ECDAA)
				(void)rd_u16(&r);	/* count */
		}
		pub->curve = rd_u16(&r);
		pub->kdf = rd_u16(&r);
		if (pub->kdf != TPMWIRE_ALG_NULL)
			(void)rd_u16(&r);		/* its hash */
		rd_2b(&r, &pub->ecc_x, 66);
		rd_2b(&r, &pub->ecc_y, 66);
		break;
	default:
		return TPMWIRE_ERR_UNSUPPORTED;
	}
	if (r.failed)
		return TPMWIRE_ERR_SHORT;
	pub->raw.p = buf;
	pub->raw.len = len - r.left;
	return TPMWIRE_OK;
}

enum tpmwire_err
tpmwire_name(const struct tpmwire_public *pub, uint8_t *out, size_t *outlen)
{
	enum wc_HashType	 ht;
	size_t			 n = tpmwire_hash_len(pub->name_alg);
	int			 hm;

	if (n == 0 || wire_hash_type(pub->name_alg, &ht, &hm) == -1)
		return TPMWIRE_ERR_UNSUPPORTED;
	if (*outlen < 2 + n)
		return TPMWIRE_ERR_SPACE;
	out[0] = (uint8_t)(pub->name_alg >> 8);
	out[1] = (uint8_t)pub->name_alg;
	if (wc_Hash(ht, pub->raw.p, (word32)pub->raw.len, out + 2,
	    (word32)n) != 0)
		return TPMWIRE_ERR_CRYPTO;
	*outlen = 2 + n;
	return TPMWIRE_OK;
}

enum tpmwire_err
tpmwire_rsa_spki(const struct tpmwire_public *pub, uint8_t **out,
    size_t *outlen)
{
	static const uint8_t	 rsa_oid[] = {
		0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };
	struct der_w		 w, k;
	uint8_t			*key = NULL;
	size_t			 keylen;
	unsigned long		 e;

	if (pub->type != TPMWIRE_ALG_RSA || pub->rsa_modulus.len == 0)
		return TPMWIRE_ERR_UNSUPPORTED;
	e = pub->rsa_exponent == 0 ? 65537 : pub->rsa_exponent;
	der_w_init(&k, 1024);
	der_w_begin(&k, 0x30);
	der_w_uint(&k, pub->rsa_modulus.p, pub->rsa_modulus.len);
	der_w_small_uint(&k, e);
	der_w_end(&k);
	if (der_w_finish(&k, &key, &keylen) == -1)
		return TPMWIRE_ERR_CRYPTO;
	der_w_init(&w, 1200);
	der_w_begin(&w, 0x30);
	der_w_begin(&w, 0x30);
	der_w_tlv(&w, 0x06, rsa_oid, sizeof(rsa_oid));
	der_w_tlv(&w, 0x05, NULL, 0);
	der_w_end(&w);
	der_w_bits(&w, key, keylen);
	der_w_end(&w);
	mem_free(key);
	if (der_w_finish(&w, out, outlen) == -1)
		return TPMWIRE_ERR_CRYPTO;
	return TPMWIRE_OK;
}

enum tpmwire_err
tpmwire_attest_parse(const uint8_t *buf, size_t len,
    struct tpmwire_attest *a)
{
	struct rd	 r = { buf, len, 0 };

	memset(a, 0, sizeof(*a));
	a->magic = rd_u32(&r);
	a->type = rd_u16(&r);
	if (r.failed)
		return TPMWIRE_ERR_SHORT;
	if (a->magic != TPMWIRE_GENERATED)
		return TPMWIRE_ERR_FORMAT;
	if (a->type != TPMWIRE_ST_ATTEST_CERTIFY)
		return TPMWIRE_ERR_UNSUPPORTED;
	rd_2b(&r, &a->qualified_signer, TPMWIRE_NAME_MAX);
	rd_2b(&r, &a->extra_data, TPMWIRE_DIGEST_MAX);
	a->clock = rd_u64(&r);
	a->reset_count = rd_u32(&r);
	a->restart_count = rd_u32(&r);
	if (r.left < 1)
		r.failed = 1;
	if (!r.failed) {
		a->safe = r.p[0];
		r.p++;
		r.left--;
	}
	a->firmware = rd_u64(&r);
	rd_2b(&r, &a->certified_name, TPMWIRE_NAME_MAX);
	rd_2b(&r, &a->certified_qname, TPMWIRE_NAME_MAX);
	return r.failed ? TPMWIRE_ERR_SHORT : TPMWIRE_OK;
}

enum tpmwire_err
tpmwire_sig_parse(const uint8_t *buf, size_t len, struct tpmwire_sig *s)
{
	struct rd	 r = { buf, len, 0 };

	memset(s, 0, sizeof(*s));
	s->alg = rd_u16(&r);
	s->hash = rd_u16(&r);
	switch (s->alg) {
	case TPMWIRE_ALG_RSASSA:
	case TPMWIRE_ALG_RSAPSS:
		rd_2b(&r, &s->rsa, 512);
		break;
	case TPMWIRE_ALG_ECDSA:
		rd_2b(&r, &s->r, 66);
		rd_2b(&r, &s->s, 66);
		break;
	default:
		return r.failed ? TPMWIRE_ERR_SHORT : TPMWIRE_ERR_UNSUPPORTED;
	}
	return r.failed ? TPMWIRE_ERR_SHORT : TPMWIRE_OK;
}

enum tpmwire_err
tpmwire_kdfa(uint16_t hash, const uint8_t *key, size_t keylen,
    const char *label, const uint8_t *u, size_t ulen, const uint8_t *v,
    size_t vlen, size_t bits, uint8_t *out)
{
	Hmac			 h;
	enum wc_HashType	 ht;
	uint8_t			 blk[TPMWIRE_DIGEST_MAX], be[4];
	size_t			 want = bits / 8, dlen, done = 0, n;
	uint32_t		 i;
	int			 hm, rc = 0;

	dlen = tpmwire_hash_len(hash);
	if (dlen == 0 || wire_hash_type(hash, &ht, &hm) == -1 ||
	    bits % 8 != 0 || keylen == 0)
		return TPMWIRE_ERR_UNSUPPORTED;
	if (wc_HmacInit(&h, NULL, INVALID_DEVID) != 0)
		return TPMWIRE_ERR_CRYPTO;
	for (i = 1; done < want && rc == 0; i++) {
		be[0] = (uint8_t)(i >> 24);
		be[1] = (uint8_t)(i >> 16);
		be[2] = (uint8_t)(i >> 8);
		be[3] = (uint8_t)i;
		rc = wc_HmacSetKey(&h, hm, key, (word32)keylen);
		if (rc == 0)
			rc = wc_HmacUpdate(&h, be, 4);
		/* The label with its terminating NUL. */
		if (rc == 0)
			rc = wc_HmacUpdate(&h, (const uint8_t *)label,
			    (word32)strlen(label) + 1);
		if (rc == 0 && ulen > 0)
			rc = wc_HmacUpdate(&h, u, (word32)ulen);
		if (rc == 0 && vlen > 0)
			rc = wc_HmacUpdate(&h, v, (word32)vlen);
		be[0] = (uint8_t)(bits >> 24);
		be[1] = (uint8_t)(bits >> 16);
		be[2] = (uint8_t)(bits >> 8);
		be[3] = (uint8_t)bits;
		if (rc == 0)
			rc = wc_HmacUpdate(&h, be, 4);
		if (rc == 0)
			rc = wc_HmacFinal(&h, blk);
		n = want - done < dlen ? want - done : dlen;
		if (rc == 0)
			memcpy(out + done, blk, n);
		done += n;
	}
	wc_HmacFree(&h);
	mem_wipe(blk, sizeof(blk));
	return rc == 0 ? TPMWIRE_OK : TPMWIRE_ERR_CRYPTO;
}

enum tpmwire_err
tpmwire_make_credential(const struct tpmwire_public *ek, const uint8_t *name,
    size_t namelen, const uint8_t *secret, size_t secretlen,
    const uint8_t *seed, size_t seedlen, uint8_t *cred, size_t *credlen,
    uint8_t *encseed, size_t *enclen)
{
	static const char	 label[] = "IDENTITY";
	RsaKey			 rsa;
	WC_RNG			 rng;
	Aes			 aes;
	Hmac			 h;
	enum wc_HashType	 ht;
	uint8_t			 symkey[32], hmackey[TPMWIRE_DIGEST_MAX];
	uint8_t			 iv[16], ebe[4];
	size_t			 dlen, symlen, need, encid_len;
	uint32_t		 e;
	int			 hm, n, rng_ok = 0, rsa_ok = 0;
	enum tpmwire_err	 err = TPMWIRE_ERR_CRYPTO;

	dlen = tpmwire_hash_len(ek->name_alg);
	if (ek->type != TPMWIRE_ALG_RSA || ek->sym_alg != TPMWIRE_ALG_AES ||
	    ek->sym_mode != TPMWIRE_ALG_CFB ||
	    wire_hash_type(ek->name_alg, &ht, &hm) == -1)
		return TPMWIRE_ERR_UNSUPPORTED;
	symlen = ek->sym_bits / 8;
	if ((symlen != 16 && symlen != 32) || secretlen == 0 ||
	    secretlen > dlen || seedlen == 0 || seedlen > dlen ||
	    namelen == 0 || namelen > TPMWIRE_NAME_MAX)
		return TPMWIRE_ERR_FORMAT;
	/* TPM2B_ID_OBJECT: TPM2B_DIGEST(integrity) || encIdentity. */
	encid_len = 2 + secretlen;
	need = 2 + dlen + encid_len;
	if (*credlen < need || *enclen < ek->rsa_modulus.len)
		return TPMWIRE_ERR_SPACE;

	/* The seed, encrypted to the EK: OAEP, label "IDENTITY\0". */
	if (wc_InitRsaKey(&rsa, NULL) != 0)
		return TPMWIRE_ERR_CRYPTO;
	rsa_ok = 1;
	e = ek->rsa_exponent == 0 ? 65537 : ek->rsa_exponent;
	ebe[0] = (uint8_t)(e >> 24);
	ebe[1] = (uint8_t)(e >> 16);
	ebe[2] = (uint8_t)(e >> 8);
	ebe[3] = (uint8_t)e;
	if (wc_RsaPublicKeyDecodeRaw(ek->rsa_modulus.p,
	    (word32)ek->rsa_modulus.len, ebe, 4, &rsa) != 0)
		goto out;
	if (wc_InitRng(&rng) != 0)
		goto out;
	rng_ok = 1;
	n = wc_RsaPublicEncrypt_ex(seed, (word32)seedlen, encseed,
	    (word32)*enclen, &rsa, &rng, WC_RSA_OAEP_PAD, ht,
	    ht == WC_HASH_TYPE_SHA256 ? WC_MGF1SHA256 :
	    ht == WC_HASH_TYPE_SHA384 ? WC_MGF1SHA384 :
	    ht == WC_HASH_TYPE_SHA512 ? WC_MGF1SHA512 : WC_MGF1SHA1,
	    (byte *)(uintptr_t)label, sizeof(label));
	if (n <= 0)
		goto out;
	*enclen = (size_t)n;

	/* symKey = KDFa(nameAlg, seed, "STORAGE", name, -, bits). */
	if ((err = tpmwire_kdfa(ek->name_alg, seed, seedlen, "STORAGE", name,
	    namelen, NULL, 0, symlen * 8, symkey)) != TPMWIRE_OK)
		goto out;
	err = TPMWIRE_ERR_CRYPTO;
	/* encIdentity = AES-CFB(symKey, IV 0, TPM2B_DIGEST(secret)). */
	cred[2 + dlen] = (uint8_t)(secretlen >> 8);
	cred[2 + dlen + 1] = (uint8_t)secretlen;
	memcpy(cred + 2 + dlen + 2, secret, secretlen);
	memset(iv, 0, sizeof(iv));
	if (wc_AesInit(&aes, NULL, INVALID_DEVID) != 0)
		goto out;
	if (wc_AesSetKey(&aes, symkey, (word32)symlen, iv,
	    AES_ENCRYPTION) != 0 ||
	    wc_AesCfbEncrypt(&aes, cred + 2 + dlen, cred + 2 + dlen,
	    (word32)encid_len) != 0) {
		wc_AesFree(&aes);
		goto out;
	}
	wc_AesFree(&aes);

	/* outerHMAC over encIdentity || name with the INTEGRITY key. */
	if ((err = tpmwire_kdfa(ek->name_alg, seed, seedlen, "INTEGRITY",
	    NULL, 0, NULL, 0, dlen * 8, hmackey)) != TPMWIRE_OK)
		goto out;
	err = TPMWIRE_ERR_CRYPTO;
	if (wc_HmacInit(&h, NULL, INVALID_DEVID) != 0)
		goto out;
	if (wc_HmacSetKey(&h, hm, hmackey, (word32)dlen) != 0 ||
	    wc_HmacUpdate(&h, cred + 2 + dlen, (word32)encid_len) != 0 ||
	    wc_HmacUpdate(&h, name, (word32)namelen) != 0 ||
	    wc_HmacFinal(&h, cred + 2) != 0) {
		wc_HmacFree(&h);
		goto out;
	}
	wc_HmacFree(&h);
	cred[0] = (uint8_t)(dlen >> 8);
	cred[1] = (uint8_t)dlen;
	*credlen = need;
	err = TPMWIRE_OK;
out:
	mem_wipe(symkey, sizeof(symkey));
	mem_wipe(hmackey, sizeof(hmackey));
	if (rng_ok)
		wc_FreeRng(&rng);
	if (rsa_ok)
		wc_FreeRsaKey(&rsa);
	return err;
}

const char *
tpmwire_strerror(enum tpmwire_err e)
{
	switch (e) {
	case TPMWIRE_OK:
		return "success";
	case TPMWIRE_ERR_SHORT:
		return "TPM structure truncated";
	case TPMWIRE_ERR_FORMAT:
		return "malformed TPM structure";
	case TPMWIRE_ERR_UNSUPPORTED:
		return "unsupported TPM type or algorithm";
	case TPMWIRE_ERR_SPACE:
		return "output buffer too small";
	case TPMWIRE_ERR_CRYPTO:
		return "crypto library failure";
	}
	return "unknown TPM structure error";
}
