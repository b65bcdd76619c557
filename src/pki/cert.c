/* Certificates and requests, shaped as Go's crypto/x509 shapes them. */
#include "config.h"

#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/sha512.h>

#include "core/log.h"
#include "core/mem.h"
#include "hal/key.h"
#include "hal/rand.h"
#include "pki/cert.h"
#include "pki/der.h"
#include "pki/x509.h"

static const uint8_t oid_ecdsa_sha256[] =
    { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
static const uint8_t oid_ecdsa_sha384[] =
    { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03 };
static const uint8_t oid_country[] = { 0x55, 0x04, 0x06 };
static const uint8_t oid_org[] = { 0x55, 0x04, 0x0a };
static const uint8_t oid_org_unit[] = { 0x55, 0x04, 0x0b };
static const uint8_t oid_common_name[] = { 0x55, 0x04, 0x03 };
static const uint8_t oid_serial_number[] = { 0x55, 0x04, 0x05 };
static const uint8_t oid_key_usage[] = { 0x55, 0x1d, 0x0f };
static const uint8_t oid_ext_key_usage[] = { 0x55, 0x1d, 0x25 };
static const uint8_t oid_basic_constraints[] = { 0x55, 0x1d, 0x13 };
static const uint8_t oid_ski[] = { 0x55, 0x1d, 0x0e };
static const uint8_t oid_aki[] = { 0x55, 0x1d, 0x23 };
static const uint8_t oid_san[] = { 0x55, 0x1d, 0x11 };
static const uint8_t oid_server_auth[] =
    { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01 };
static const uint8_t oid_client_auth[] =
    { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02 };
static const uint8_t oid_ext_request[] =
    { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e };

static int	name_printable(const char *);
static void	name_rdn(struct der_w *, const uint8_t *, size_t,
		    const char *const *, size_t);
static int	spki_bits(const uint8_t *, size_t, const uint8_t **,
		    size_t *);
static void	sig_alg(struct der_w *, enum key_type);
static int	digest(enum key_type, const uint8_t *, size_t, uint8_t *,
		    size_t *);
static void	ext_begin(struct der_w *, const uint8_t *, size_t, int);
static void	ext_end(struct der_w *);
static void	write_san(struct der_w *, const struct cert_template *);
static int	tbs_digest(struct cert_tbs *);
static int	tbs_sign_now(const struct cert_tbs *, struct key *,
		    uint8_t **, size_t *);

/* Go writes PrintableString when every byte allows it, else UTF8. */
static int
name_printable(const char *s)
{
	for (; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr(" '()+,-./:=?*", *s)))
			return 0;
	}
	return 1;
}

/* One RDN holding every value of one attribute type, as Go does. */
static void
name_rdn(struct der_w *w, const uint8_t *oid, size_t oidlen,
    const char *const *values, size_t n)
{
	size_t	 i;

	if (n == 0 || values[0] == NULL)
		return;
	der_w_begin(w, DER_SET);
	for (i = 0; i < n && values[i] != NULL; i++) {
		der_w_begin(w, DER_SEQUENCE);
		der_w_tlv(w, DER_OID, oid, oidlen);
		der_w_tlv(w, name_printable(values[i]) ?
		    DER_PRINTABLE_STRING : DER_UTF8_STRING, values[i],
		    strlen(values[i]));
		der_w_end(w);
	}
	der_w_end(w);
}

int
cert_name_encode(const struct cert_name *n, uint8_t **out, size_t *len)
{
	struct der_w	 w;

	der_w_init(&w, CERT_DER_MAX);
	der_w_begin(&w, DER_SEQUENCE);
	name_rdn(&w, oid_country, sizeof(oid_country), n->country,
	    CERT_NAME_VALUES_MAX);
	name_rdn(&w, oid_org, sizeof(oid_org), n->organization,
	    CERT_NAME_VALUES_MAX);
	name_rdn(&w, oid_org_unit, sizeof(oid_org_unit), n->org_unit,
	    CERT_NAME_VALUES_MAX);
	if (n->common_name != NULL && *n->common_name != '\0')
		name_rdn(&w, oid_common_name, sizeof(oid_common_name),
		    &n->common_name, 1);
	if (n->serial_number != NULL && *n->serial_number != '\0')
		name_rdn(&w, oid_serial_number, sizeof(oid_serial_number),
		    &n->serial_number, 1);
	der_w_end(&w);
	return der_w_finish(&w, out, len);
}

int
cert_random_serial(struct cert_template *t)
{
	/* 16 random bytes, never all zero: [1, 2^128-1]. */
	do {
		if (rand_bytes(t->serial, 16) == -1)
			return -1;
	} while (memcmp(t->serial, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
	    16) == 0);
	t->serial_len = 16;
	return 0;
}

/* The subjectPublicKey bits of a SubjectPublicKeyInfo. */
static int
spki_bits(const uint8_t *spki, size_t len, const uint8_t **bits,
    size_t *nbits)
{
	struct der	 r, seq, bs;

	der_init(&r, spki, len);
	if (der_get(&r, DER_SEQUENCE, &seq, NULL) == -1 ||
	    der_get(&seq, DER_SEQUENCE, NULL, NULL) == -1 ||
	    der_get(&seq, DER_BIT_STRING, &bs, NULL) == -1 ||
	    bs.len < 2 || bs.p[0] != 0)
		return -1;
	*bits = bs.p + 1;
	*nbits = bs.len - 1;
	return 0;
}

static void
sig_alg(struct der_w *w, enum key_type t)
{
	der_w_begin(w, DER_SEQUENCE);
	if (t == KEY_EC_P384)
		der_w_tlv(w, DER_OID, oid_ecdsa_sha384,
		    sizeof(oid_ecdsa_sha384));
	else
		der_w_tlv(w, DER_OID, oid_ecdsa_sha256,
		    sizeof(oid_ecdsa_sha256));
	der_w_end(w);
}

/* The hash an ECDSA key of type t signs with. */
static int
digest(enum key_type t, const uint8_t *p, size_t len, uint8_t *out,
    size_t *outlen)
{
	if (t == KEY_EC_P384) {
		*outlen = WC_SHA384_DIGEST_SIZE;
		return wc_Sha384Hash(p, (word32)len, out) == 0 ? 0 : -1;
	}
	*outlen = WC_SHA256_DIGEST_SIZE;
	return wc_Sha256Hash(p, (word32)len, out) == 0 ? 0 : -1;
}

static void
ext_begin(struct der_w *w, const uint8_t *oid, size_t oidlen, int critical)
{
	der_w_begin(w, DER_SEQUENCE);
	der_w_tlv(w, DER_OID, oid, oidlen);
	if (critical)
		der_w_bool(w, 1);
	der_w_begin(w, DER_OCTET_STRING);
}

static void
ext_end(struct der_w *w)
{
	der_w_end(w);
	der_w_end(w);
}

/* DNS names first, then the URI, in Go's order. */
static void
write_san(struct der_w *w, const struct cert_template *t)
{
	size_t	 i;

	der_w_begin(w, DER_SEQUENCE);
	for (i = 0; i < t->ndns; i++)
		der_w_tlv(w, DER_CONTEXT(2), t->dns[i], strlen(t->dns[i]));
	if (t->uri != NULL)
		der_w_tlv(w, DER_CONTEXT(6), t->uri, strlen(t->uri));
	der_w_end(w);
}

/* The digest the signing key must sign, from out->tbs and out->type. */
static int
tbs_digest(struct cert_tbs *out)
{
	if (digest(out->type, out->tbs, out->tbs_len, out->digest,
	    &out->digest_len) == -1) {
		log_warnx("pki", "cannot hash the to-be-signed bytes");
		return -1;
	}
	return 0;
}

void
cert_tbs_cleanup(struct cert_tbs *t)
{
	mem_free(t->tbs);
	memset(t, 0, sizeof(*t));
}

/* SEQUENCE { tbs, algorithm, signature }: the signed structure. */
int
cert_tbs_finish(const struct cert_tbs *t, const uint8_t *sig, size_t siglen,
    uint8_t **out, size_t *outlen)
{
	struct der_w	 w;

	der_w_init(&w, CERT_DER_MAX);
	der_w_begin(&w, DER_SEQUENCE);
	der_w_raw(&w, t->tbs, t->tbs_len);
	sig_alg(&w, t->type);
	der_w_bits(&w, sig, siglen);
	der_w_end(&w);
	if (der_w_finish(&w, out, outlen) == -1) {
		log_warnx("pki", "signed structure too large to encode");
		return -1;
	}
	return 0;
}

/* Signs a made to-be-signed structure with k, here and now. */
static int
tbs_sign_now(const struct cert_tbs *t, struct key *k, uint8_t **out,
    size_t *outlen)
{
	uint8_t		 sig[KEY_SIG_MAX];
	size_t		 siglen = sizeof(sig);
	enum key_err	 e;

	e = key_sign(k, t->digest, t->digest_len, sig, &siglen);
	if (e != KEY_OK) {
		log_warnx("pki", "signing failed: %s", key_strerror(e));
		return -1;
	}
	return cert_tbs_finish(t, sig, siglen, out, outlen);
}

int
cert_sign(const struct cert_template *t, struct key *issuer_key,
    const uint8_t *issuer, size_t issuer_len, uint8_t **out, size_t *outlen)
{
	struct cert_tbs	 tbs;
	int		 rc;

	if (cert_tbs_make(t, key_get_type(issuer_key), issuer, issuer_len,
	    &tbs) == -1)
		return -1;
	rc = tbs_sign_now(&tbs, issuer_key, out, outlen);
	cert_tbs_cleanup(&tbs);
	return rc;
}

int
cert_tbs_make(const struct cert_template *t, enum key_type issuer_type,
    const uint8_t *issuer, size_t issuer_len, struct cert_tbs *out)
{
	struct der_w	 w;
	struct x509_cert iv;
	const uint8_t	*iname, *aki = NULL, *bits;
	uint8_t		 ski[WC_SHA_DIGEST_SIZE], ku[2];
	size_t		 iname_len, aki_len = 0, nbits, kul;
	unsigned	 v;

	memset(out, 0, sizeof(*out));
	out->type = issuer_type;
	if (t->serial_len == 0 || t->spki == NULL || t->subject == NULL ||
	    t->ndns > CERT_DNS_MAX)
		return -1;
	if (spki_bits(t->spki, t->spki_len, &bits, &nbits) == -1 ||
	    wc_ShaHash(bits, (word32)nbits, ski) != 0) {
		log_warnx("pki", "certificate template: bad public key");
		return -1;
	}
	if (issuer != NULL) {
		if (x509_parse(issuer, issuer_len, &iv) != X509_OK) {
			log_warnx("pki", "issuer certificate does not parse");
			return -1;
		}
		iname = iv.subject.p;
		iname_len = iv.subject.len;
		if (iv.ski.len > 0) {
			aki = iv.ski.p;
			aki_len = iv.ski.len;
		}
	} else {
		iname = t->subject;
		iname_len = t->subject_len;
	}

	der_w_init(&w, CERT_DER_MAX);
	der_w_begin(&w, DER_SEQUENCE);
	der_w_begin(&w, DER_CONTEXT_CONS(0));
	der_w_small_uint(&w, 2);			/* v3 */
	der_w_end(&w);
	der_w_uint(&w, t->serial, t->serial_len);
	sig_alg(&w, issuer_type);
	der_w_raw(&w, iname, iname_len);
	der_w_begin(&w, DER_SEQUENCE);
	der_w_time(&w, t->not_before);
	der_w_time(&w, t->not_after);
	der_w_end(&w);
	der_w_raw(&w, t->subject, t->subject_len);
	der_w_raw(&w, t->spki, t->spki_len);

	der_w_begin(&w, DER_CONTEXT_CONS(3));
	der_w_begin(&w, DER_SEQUENCE);
	if (t->key_usage != 0) {
		/* Bits reversed into bytes, trailing zero bits unused. */
		ku[0] = ku[1] = 0;
		for (v = 0; v < 9; v++)
			if (t->key_usage & (1u << v))
				ku[v / 8] |= (uint8_t)(0x80 >> (v % 8));
		kul = ku[1] != 0 ? 2 : 1;
		ext_begin(&w, oid_key_usage, sizeof(oid_key_usage), 1);
		der_w_begin(&w, DER_BIT_STRING);
		v = (unsigned)__builtin_ctz(ku[kul - 1]);
		der_w_raw(&w, &(uint8_t){ (uint8_t)v }, 1);
		der_w_raw(&w, ku, kul);
		der_w_end(&w);
		ext_end(&w);
	}
	if (t->eku_tls) {
		ext_begin(&w, oid_ext_key_usage, sizeof(oid_ext_key_usage),
		    0);
		der_w_begin(&w, DER_SEQUENCE);
		der_w_tlv(&w, DER_OID, oid_server_auth,
		    sizeof(oid_server_auth));
		der_w_tlv(&w, DER_OID, oid_client_auth,
		    sizeof(oid_client_auth));
		der_w_end(&w);
		ext_end(&w);
	}
	ext_begin(&w, oid_basic_constraints, sizeof(oid_basic_constraints),
	    1);
	der_w_begin(&w, DER_SEQUENCE);
	if (t->is_ca)
		der_w_bool(&w, 1);
	der_w_end(&w);
	ext_end(&w);
	ext_begin(&w, oid_ski, sizeof(oid_ski), 0);
	der_w_tlv(&w, DER_OCTET_STRING, ski, sizeof(ski));
	ext_end(&w);
	if (aki != NULL) {
		ext_begin(&w, oid_aki, sizeof(oid_aki), 0);
		der_w_begin(&w, DER_SEQUENCE);
		der_w_tlv(&w, DER_CONTEXT(0), aki, aki_len);
		der_w_end(&w);
		ext_end(&w);
	}
	if (t->uri != NULL || t->ndns > 0) {
		/* Critical only when the subject is empty (RFC 5280). */
		ext_begin(&w, oid_san, sizeof(oid_san), t->subject_len <= 2);
		write_san(&w, t);
		ext_end(&w);
	}
	der_w_end(&w);
	der_w_end(&w);
	der_w_end(&w);
	if (der_w_finish(&w, &out->tbs, &out->tbs_len) == -1) {
		log_warnx("pki", "certificate too large to encode");
		return -1;
	}
	if (tbs_digest(out) == -1) {
		cert_tbs_cleanup(out);
		return -1;
	}
	return 0;
}

int
cert_csr_create(struct key *k, const uint8_t *subject, size_t subject_len,
    const char *uri, uint8_t **out, size_t *outlen)
{
	return cert_csr_create_sans(k, subject, subject_len, uri, NULL, 0,
	    out, outlen);
}

int
cert_csr_create_sans(struct key *k, const uint8_t *subject,
    size_t subject_len, const char *uri, const char *const *dns,
    size_t ndns, uint8_t **out, size_t *outlen)
{
	struct cert_tbs	 tbs;
	const uint8_t	*spki;
	size_t		 spki_len;
	int		 rc;

	spki = key_spki(k, &spki_len);
	if (cert_csr_tbs_make(spki, spki_len, key_get_type(k), subject,
	    subject_len, uri, dns, ndns, &tbs) == -1)
		return -1;
	rc = tbs_sign_now(&tbs, k, out, outlen);
	cert_tbs_cleanup(&tbs);
	return rc;
}

int
cert_csr_tbs_make(const uint8_t *spki, size_t spki_len, enum key_type type,
    const uint8_t *subject, size_t subject_len, const char *uri,
    const char *const *dns, size_t ndns, struct cert_tbs *out)
{
	struct der_w	 w;
	size_t		 i;

	memset(out, 0, sizeof(*out));
	out->type = type;
	der_w_init(&w, CERT_DER_MAX);
	der_w_begin(&w, DER_SEQUENCE);
	der_w_small_uint(&w, 0);
	der_w_raw(&w, subject, subject_len);
	der_w_raw(&w, spki, spki_len);
	der_w_begin(&w, DER_CONTEXT_CONS(0));
	if (uri != NULL || ndns > 0) {
		der_w_begin(&w, DER_SEQUENCE);
		der_w_tlv(&w, DER_OID, oid_ext_request,
		    sizeof(oid_ext_request));
		der_w_begin(&w, DER_SET);
		der_w_begin(&w, DER_SEQUENCE);
		ext_begin(&w, oid_san, sizeof(oid_san), subject_len <= 2);
		der_w_begin(&w, DER_SEQUENCE);
		/* DNS names before the URI, in the order Go writes them. */
		for (i = 0; i < ndns; i++)
			der_w_tlv(&w, DER_CONTEXT(2), dns[i], strlen(dns[i]));
		if (uri != NULL)
			der_w_tlv(&w, DER_CONTEXT(6), uri, strlen(uri));
		der_w_end(&w);
		ext_end(&w);
		der_w_end(&w);
		der_w_end(&w);
		der_w_end(&w);
	}
	der_w_end(&w);
	der_w_end(&w);
	if (der_w_finish(&w, &out->tbs, &out->tbs_len) == -1)
		return -1;
	if (tbs_digest(out) == -1) {
		cert_tbs_cleanup(out);
		return -1;
	}
	return 0;
}

enum cert_csr_err
cert_csr_parse(const uint8_t *der, size_t len, int verify,
    struct cert_csr *csr)
{
	struct der	 r, req, info, info_whole, alg, oid, sig, subj, spki;
	uint8_t		 md[WC_SHA384_DIGEST_SIZE];
	size_t		 mdlen;
	long long	 version;
	enum key_type	 hash;

	der_init(&r, der, len);
	if (der_get(&r, DER_SEQUENCE, &req, NULL) == -1 || !der_empty(&r))
		return CERT_CSR_MALFORMED;
	if (der_get(&req, DER_SEQUENCE, &info, &info_whole) == -1 ||
	    der_get(&req, DER_SEQUENCE, &alg, NULL) == -1 ||
	    der_get(&req, DER_BIT_STRING, &sig, NULL) == -1 ||
	    !der_empty(&req))
		return CERT_CSR_MALFORMED;
	if (der_get(&info, DER_INTEGER, &oid, NULL) == -1 ||
	    der_int_small(&oid, &version) == -1 || version != 0 ||
	    der_get(&info, DER_SEQUENCE, NULL, &subj) == -1 ||
	    der_get(&info, DER_SEQUENCE, NULL, &spki) == -1 ||
	    der_get(&info, DER_CONTEXT_CONS(0), NULL, NULL) == -1 ||
	    !der_empty(&info))
		return CERT_CSR_MALFORMED;
	if (der_get(&alg, DER_OID, &oid, NULL) == -1 || sig.len < 2 ||
	    sig.p[0] != 0)
		return CERT_CSR_MALFORMED;
	csr->spki = spki.p;
	csr->spki_len = spki.len;
	csr->subject = subj.p;
	csr->subject_len = subj.len;
	if (!verify)
		return CERT_CSR_OK;
	if (der_equal(&oid, oid_ecdsa_sha256, sizeof(oid_ecdsa_sha256)))
		hash = KEY_EC_P256;
	else if (der_equal(&oid, oid_ecdsa_sha384, sizeof(oid_ecdsa_sha384)))
		hash = KEY_EC_P384;
	else
		return CERT_CSR_ALGORITHM;
	if (digest(hash, info_whole.p, info_whole.len, md, &mdlen) == -1)
		return CERT_CSR_SIGNATURE;
	if (key_verify_spki(spki.p, spki.len, md, mdlen, sig.p + 1,
	    sig.len - 1) == -1)
		return CERT_CSR_SIGNATURE;
	return CERT_CSR_OK;
}

const char *
cert_csr_strerror(enum cert_csr_err e)
{
	switch (e) {
	case CERT_CSR_OK:
		return "success";
	case CERT_CSR_MALFORMED:
		return "malformed certificate request";
	case CERT_CSR_ALGORITHM:
		return "unsupported certificate request signature algorithm";
	case CERT_CSR_SIGNATURE:
		return "certificate request signature does not verify";
	}
	return "unknown certificate request error";
}
