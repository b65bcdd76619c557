/* Test certificates made with wolfCrypt's certificate generator. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>

#include "testcerts.h"

static size_t	der_put_len(uint8_t *, size_t);
static int	put_date(uint8_t *, int *, long long);
static int	put_alt_names(Cert *, const struct testcert_spec *);
static int	load_key(ecc_key *, const uint8_t *, size_t);
struct tkey;
static int	tkey_make(struct tkey *, const struct testcert_spec *,
		    WC_RNG *);
static int	tkey_load(struct tkey *, const struct testcert *);
static void	tkey_free(struct tkey *);
static int	tkey_store(struct tkey *, struct testcert *);

/* A DER length at p; returns the bytes used. */
static size_t
der_put_len(uint8_t *p, size_t len)
{
	if (len < 0x80) {
		p[0] = (uint8_t)len;
		return 1;
	}
	if (len < 0x100) {
		p[0] = 0x81;
		p[1] = (uint8_t)len;
		return 2;
	}
	p[0] = 0x82;
	p[1] = (uint8_t)(len >> 8);
	p[2] = (uint8_t)len;
	return 3;
}

/* UTCTime before 2050, GeneralizedTime after, as RFC 5280 asks. */
static int
put_date(uint8_t *out, int *outlen, long long t)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;
	char		 s[20];
	int		 n;

	if (gmtime_r(&tt, &tm) == NULL)
		return -1;
	n = (int)strftime(s, sizeof(s), "%Y%m%d%H%M%SZ", &tm);
	if (n != 15)
		return -1;
	if (tm.tm_year + 1900 < 2050) {
		/* UTCTime drops the century. */
		out[0] = 0x17;
		out[1] = 13;
		memcpy(out + 2, s + 2, 13);
		*outlen = 15;
	} else {
		out[0] = 0x18;
		out[1] = 15;
		memcpy(out + 2, s, 15);
		*outlen = 17;
	}
	return 0;
}

/* GeneralNames: the URIs ([6]), then the DNS name and padding ([2]). */
static int
put_alt_names(Cert *cert, const struct testcert_spec *spec)
{
	uint8_t		 body[CTC_MAX_ALT_SIZE];
	size_t		 n = 0, len, i, hdr;
	char		 pad[64];

	for (i = 0; i < TESTCERT_URIS_MAX && spec->uri[i] != NULL; i++) {
		len = strlen(spec->uri[i]);
		if (n + len + 4 > sizeof(body))
			return -1;
		body[n++] = 0x86;
		n += der_put_len(body + n, len);
		memcpy(body + n, spec->uri[i], len);
		n += len;
	}
	if (spec->dns != NULL) {
		len = strlen(spec->dns);
		if (n + len + 4 > sizeof(body))
			return -1;
		body[n++] = 0x82;
		n += der_put_len(body + n, len);
		memcpy(body + n, spec->dns, len);
		n += len;
	}
	for (i = 0; i < spec->pad; i++) {
		len = (size_t)snprintf(pad, sizeof(pad), "pad%04zu.%s", i,
		    "0123456789012345678901234567890123456789.test");
		if (n + len + 4 > sizeof(body))
			return -1;
		body[n++] = 0x82;
		n += der_put_len(body + n, len);
		memcpy(body + n, pad, len);
		n += len;
	}
	if (n == 0)
		return 0;
	cert->altNames[0] = 0x30;
	hdr = 1 + der_put_len(cert->altNames + 1, n);
	if (hdr + n > sizeof(cert->altNames))
		return -1;
	memcpy(cert->altNames + hdr, body, n);
	cert->altNamesSz = (int)(hdr + n);
	return 0;
}

static int
load_key(ecc_key *key, const uint8_t *der, size_t len)
{
	word32	 idx = 0;

	/* wolfCrypt takes either form here, PKCS#8 or SEC1. */
	if (wc_ecc_init(key) != 0)
		return -1;
	if (wc_EccPrivateKeyDecode(der, &idx, key, (word32)len) != 0) {
		wc_ecc_free(key);
		return -1;
	}
	return 0;
}

/* Key material of one certificate: EC or RSA, made or loaded. */
struct tkey {
	int	 rsa;
	int	 ready;
	ecc_key	 ecc;
	RsaKey	 rsak;
};

static int
tkey_make(struct tkey *k, const struct testcert_spec *spec, WC_RNG *rng)
{
	memset(k, 0, sizeof(*k));
	k->rsa = spec->rsa;
	if (k->rsa) {
		if (wc_InitRsaKey(&k->rsak, NULL) != 0)
			return -1;
		k->ready = 1;
		return wc_MakeRsaKey(&k->rsak, 2048, 65537, rng) == 0 ? 0 : -1;
	}
	if (wc_ecc_init(&k->ecc) != 0)
		return -1;
	k->ready = 1;
	return wc_ecc_make_key_ex(rng, spec->p384 ? 48 : 32, &k->ecc,
	    spec->p384 ? ECC_SECP384R1 : ECC_SECP256R1) == 0 ? 0 : -1;
}

static int
tkey_load(struct tkey *k, const struct testcert *c)
{
	word32	 idx = 0;

	memset(k, 0, sizeof(*k));
	k->rsa = c->rsa;
	if (!k->rsa) {
		if (load_key(&k->ecc, c->key, c->key_len) != 0)
			return -1;
		k->ready = 1;
		return 0;
	}
	if (wc_InitRsaKey(&k->rsak, NULL) != 0)
		return -1;
	k->ready = 1;
	return wc_RsaPrivateKeyDecode(c->key, &idx, &k->rsak,
	    (word32)c->key_len) == 0 ? 0 : -1;
}

static void
tkey_free(struct tkey *k)
{
	if (!k->ready)
		return;
	if (k->rsa)
		wc_FreeRsaKey(&k->rsak);
	else
		wc_ecc_free(&k->ecc);
}

static int
tkey_store(struct tkey *k, struct testcert *out)
{
	word32	 klen = sizeof(out->key);
	int	 n;

	if (k->rsa) {
		n = wc_RsaKeyToDer(&k->rsak, out->key, sizeof(out->key));
		if (n < 0)
			return -1;
		out->key_len = (size_t)n;
		return 0;
	}
	n = wc_EccKeyToDer(&k->ecc, out->sec1, sizeof(out->sec1));
	if (n < 0)
		return -1;
	out->sec1_len = (size_t)n;
	if (wc_EccPrivateKeyToPKCS8(&k->ecc, out->key, &klen) < 0)
		return -1;
	out->key_len = klen;
	return 0;
}

int
testcert_make(struct testcert *out, const struct testcert_spec *spec,
    const struct testcert *issuer)
{
	Cert		*cert = NULL;
	WC_RNG		 rng;
	struct tkey	 key, ikey;
	struct tkey	*signer;
	int		 ret = -1, n, have_rng = 0;
	const char	*ku;

	memset(out, 0, sizeof(*out));
	memset(&key, 0, sizeof(key));
	memset(&ikey, 0, sizeof(ikey));
	out->p384 = spec->p384;
	out->rsa = spec->rsa;
	if (wc_InitRng(&rng) != 0)
		goto out;
	have_rng = 1;
	if (tkey_make(&key, spec, &rng) != 0)
		goto out;
	signer = &key;
	if (issuer != NULL && !spec->self_issued) {
		if (tkey_load(&ikey, issuer) != 0)
			goto out;
		signer = &ikey;
	}

	cert = wc_CertNew(NULL);
	if (cert == NULL)
		goto out;
	if (signer->rsa)
		cert->sigType = CTC_SHA256wRSA;
	else if (signer == &ikey ? issuer->p384 : spec->p384)
		cert->sigType = CTC_SHA384wECDSA;
	else
		cert->sigType = CTC_SHA256wECDSA;
	cert->serial[0] = spec->serial != 0 ? spec->serial : 1;
	cert->serialSz = 1;
	if (spec->cn != NULL)
		snprintf(cert->subject.commonName,
		    sizeof(cert->subject.commonName), "%s", spec->cn);
	snprintf(cert->subject.org, sizeof(cert->subject.org), "SPIRE");
	if (issuer != NULL && !spec->self_issued) {
		cert->selfSigned = 0;
		if (wc_SetIssuerBuffer(cert, issuer->der,
		    (int)issuer->der_len) != 0)
			goto out;
		if (wc_SetAuthKeyIdFromCert(cert, issuer->der,
		    (int)issuer->der_len) != 0)
			goto out;
	}
	if (put_date(cert->beforeDate, &n, spec->not_before != 0 ?
	    spec->not_before : TESTCERT_NOT_BEFORE) != 0)
		goto out;
	cert->beforeDateSz = n;
	if (put_date(cert->afterDate, &n, spec->not_after != 0 ?
	    spec->not_after : TESTCERT_NOT_AFTER) != 0)
		goto out;
	cert->afterDateSz = n;
	if (!spec->no_bc) {
		cert->isCA = spec->ca;
		cert->basicConstSet = 1;
		if (spec->path_len > 0) {
			cert->pathLen = (byte)(spec->path_len - 1);
			cert->pathLenSet = 1;
		}
	}
	ku = spec->ku;
	if (ku == NULL)
		ku = spec->ca ? "keyCertSign,cRLSign" : "digitalSignature";
	if (!spec->no_ku && wc_SetKeyUsage(cert, ku) != 0)
		goto out;
	if (spec->eku != NULL && wc_SetExtKeyUsage(cert, spec->eku) != 0)
		goto out;
	if (wc_SetSubjectKeyIdFromPublicKey(cert, key.rsa ? &key.rsak : NULL,
	    key.rsa ? NULL : &key.ecc) != 0)
		goto out;
	if (put_alt_names(cert, spec) != 0)
		goto out;

	n = wc_MakeCert(cert, out->der, sizeof(out->der),
	    key.rsa ? &key.rsak : NULL, key.rsa ? NULL : &key.ecc, &rng);
	if (n < 0)
		goto out;
	n = wc_SignCert(cert->bodySz, cert->sigType, out->der,
	    sizeof(out->der), signer->rsa ? &signer->rsak : NULL,
	    signer->rsa ? NULL : &signer->ecc, &rng);
	if (n < 0)
		goto out;
	out->der_len = (size_t)n;
	if (tkey_store(&key, out) != 0)
		goto out;
	ret = 0;
out:
	if (ret != 0)
		fprintf(stderr, "testcert_make: %s failed\n",
		    spec->cn != NULL ? spec->cn : "(no cn)");
	wc_CertFree(cert);
	tkey_free(&ikey);
	tkey_free(&key);
	if (have_rng)
		wc_FreeRng(&rng);
	return ret;
}

int
testchain_make(struct testchain *c, const char *uri, int p384)
{
	struct testcert_spec	 root = { .cn = "root", .ca = 1,
	    .uri = { "spiffe://example.org" }, .serial = 1, .p384 = p384 };
	struct testcert_spec	 inter = { .cn = "inter", .ca = 1,
	    .uri = { "spiffe://example.org" }, .serial = 2, .p384 = p384 };
	struct testcert_spec	 leaf = { .cn = "leaf", .uri = { uri },
	    .eku = "serverAuth,clientAuth", .ku =
	    "digitalSignature,keyEncipherment,keyAgreement", .serial = 3,
	    .p384 = p384 };

	if (testcert_make(&c->root, &root, NULL) != 0 ||
	    testcert_make(&c->inter, &inter, &c->root) != 0 ||
	    testcert_make(&c->leaf, &leaf, &c->inter) != 0)
		return -1;
	return 0;
}

int
testcert_sign(const uint8_t *der, size_t der_len, const uint8_t *digest,
    size_t len, uint8_t *sig, size_t *siglen)
{
	ecc_key	 key;
	WC_RNG	 rng;
	word32	 outlen = (word32)*siglen;
	int	 ret = -1;

	if (load_key(&key, der, der_len) != 0)
		return -1;
	if (wc_InitRng(&rng) != 0) {
		wc_ecc_free(&key);
		return -1;
	}
	if (wc_ecc_sign_hash(digest, (word32)len, sig, &outlen, &rng,
	    &key) == 0) {
		*siglen = outlen;
		ret = 0;
	}
	wc_FreeRng(&rng);
	wc_ecc_free(&key);
	return ret;
}
