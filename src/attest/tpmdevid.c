/*
 * tpm_devid node attestation (see attest/tpmdevid.h). The server checks
 * follow SPIRE v1.13's server plugin, plus two it lacks: the DevID
 * certificate's key must be the key DevIDPub describes (else a software
 * key with a certificate could ride on another TPM key's residency
 * proof), and the AK must be a restricted, fixed signing key (an
 * unrestricted key could sign a forged TPMS_ATTEST).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "attest/tpmdevid.h"
#include "attest/tpmwire.h"
#include "core/base64.h"
#include "core/log.h"
#include "core/mem.h"
#include "hal/key.h"
#include "hal/rand.h"
#include "hal/tpm.h"
#include "hal/tpm_devid.h"
#include "pki/der.h"
#include "pki/pem.h"
#include "pki/verify.h"

#define DEVID_FP_HEX	(2 * 20 + 1)	/* SHA-1 hex and NUL */
#define DEVID_SEL_MAX	(16 + X509_CN_MAX + 1)	/* "subject:cn:" + CN */

struct tpmdevid_server {
	uint8_t		 nonce[TPMDEVID_NONCE_LEN];
	uint8_t		 cred[TPMWIRE_DIGEST_MAX];
	size_t		 cred_len;
	uint8_t		*spki;		/* the DevID certificate's key */
	size_t		 spki_len;
	int		 rsa;		/* that key is RSA (else EC) */
	int		 used;
	int		 accepted;
	char		 path[64];
	char		 sel[TPMDEVID_SELECTORS_MAX][DEVID_SEL_MAX];
	const char	*selp[TPMDEVID_SELECTORS_MAX];
	size_t		 nsel;
};

struct tpmdevid_agent {
	struct tpm		*tpm;
	struct key		*devid;
	struct tpm_devid	*dev;
};

/* What a payload carries, decoded. */
struct devid_payload {
	uint8_t		*chain[TPMDEVID_CHAIN_MAX];
	size_t		 chain_len[TPMDEVID_CHAIN_MAX];
	size_t		 nchain;
	uint8_t		*devid_pub, *ek_cert, *ek_pub, *ak_pub;
	size_t		 devid_pub_len, ek_cert_len, ek_pub_len, ak_pub_len;
	uint8_t		*certified, *cert_sig;
	size_t		 certified_len, cert_sig_len;
};

static json_t	*json_b64(const uint8_t *, size_t);
static int	 get_b64(const json_t *, const char *, uint8_t **, size_t *,
		    size_t);
static void	 payload_free(struct devid_payload *);
static enum tpmdevid_err payload_parse(const uint8_t *, size_t,
		    struct devid_payload *);
static void	 fingerprint(const uint8_t *, size_t, char *);
static int	 rsa_key_equal(const struct x509_cert *,
		    const struct tpmwire_public *);
static int	 ec_key_equal(const struct x509_cert *,
		    const struct tpmwire_public *);
static void	 add_selector(struct tpmdevid_server *, const char *,
		    const char *);
static void	 build_selectors(struct tpmdevid_server *,
		    const struct x509_cert *, size_t,
		    const struct tpmdevid_roots *);
static enum tpmdevid_err check_residency(const struct devid_payload *,
		    const struct x509_cert *, const struct tpmdevid_roots *,
		    long long, struct tpmwire_public *,
		    struct tpmwire_public *);
static enum tpmdevid_err make_challenge(struct tpmdevid_server *,
		    const struct tpmwire_public *,
		    const struct tpmwire_public *, char **, size_t *);
static int	 file_read(const char *, size_t, uint8_t **, size_t *);
static char	*json_take(json_t *, size_t *);

const char *
tpmdevid_strerror(enum tpmdevid_err e)
{
	switch (e) {
	case TPMDEVID_OK:
		return "success";
	case TPMDEVID_ERR_NOMEM:
		return "out of memory";
	case TPMDEVID_ERR_PAYLOAD:
		return "malformed tpm_devid attestation payload";
	case TPMDEVID_ERR_DEVID_CERT:
		return "DevID certificate unparsable";
	case TPMDEVID_ERR_DEVID_CHAIN:
		return "DevID certificate does not chain to devid_ca_path";
	case TPMDEVID_ERR_EK_CERT:
		return "endorsement certificate unparsable";
	case TPMDEVID_ERR_EK_CHAIN:
		return "endorsement certificate does not chain to "
		    "endorsement_ca_path";
	case TPMDEVID_ERR_EK_MISMATCH:
		return "endorsement certificate key differs from EKPub";
	case TPMDEVID_ERR_TPM_STRUCT:
		return "TPM structure in the payload undecodable";
	case TPMDEVID_ERR_DEVID_KEY:
		return "DevID certificate key differs from DevIDPub";
	case TPMDEVID_ERR_CERTIFY_SIG:
		return "attestation key signature over CertifiedDevID invalid";
	case TPMDEVID_ERR_CERTIFY_NAME:
		return "certified key is not the DevID key";
	case TPMDEVID_ERR_RESPONSE:
		return "malformed challenge response";
	case TPMDEVID_ERR_DEVID_SIG:
		return "DevID signature over the nonce invalid";
	case TPMDEVID_ERR_CREDENTIAL:
		return "credential activation failed (AK not with this EK)";
	case TPMDEVID_ERR_USED:
		return "challenge already answered";
	case TPMDEVID_ERR_CHALLENGE:
		return "malformed tpm_devid challenge";
	case TPMDEVID_ERR_FILE:
		return "DevID files unreadable";
	case TPMDEVID_ERR_TPM:
		return "TPM failure";
	case TPMDEVID_ERR_CRYPTO:
		return "crypto library failure";
	}
	return "unknown tpm_devid error";
}

static json_t *
json_b64(const uint8_t *p, size_t n)
{
	json_t	*v;
	char	*s;
	size_t	 sz = base64_encoded_len(BASE64_STD, n) + 1;

	s = mem_alloc(sz);
	if (s == NULL)
		return NULL;
	if (base64_encode(BASE64_STD, p, n, s, sz) == -1) {
		mem_free(s);
		return NULL;
	}
	v = json_string(s);
	mem_free(s);
	return v;
}

/* A member holding base64 bytes (1 to max of them), in a new buffer. */
static int
get_b64(const json_t *o, const char *k, uint8_t **out, size_t *len,
    size_t max)
{
	const json_t	*v = json_object_get(o, k);
	const char	*s;
	uint8_t		*buf;
	size_t		 n, cap;

	*out = NULL;
	*len = 0;
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	n = json_string_length(v);
	cap = base64_decoded_max(n);
	if (cap == 0 || cap > max + 3)
		return -1;
	buf = mem_alloc(cap);
	if (buf == NULL)
		return -1;
	if (base64_decode(BASE64_STD, s, n, buf, cap, len) == -1 ||
	    *len == 0 || *len > max) {
		mem_free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}

static char *
json_take(json_t *doc, size_t *len)
{
	char	*s;

	if (doc == NULL)
		return NULL;
	s = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (s != NULL)
		*len = strlen(s);
	return s;
}

static void
payload_free(struct devid_payload *p)
{
	size_t	 i;

	for (i = 0; i < p->nchain; i++)
		mem_free(p->chain[i]);
	mem_free(p->devid_pub);
	mem_free(p->ek_cert);
	mem_free(p->ek_pub);
	mem_free(p->ak_pub);
	mem_free(p->certified);
	mem_free(p->cert_sig);
	memset(p, 0, sizeof(*p));
}

static enum tpmdevid_err
payload_parse(const uint8_t *buf, size_t len, struct devid_payload *p)
{
	json_t		*doc, *chain;
	json_error_t	 jerr;
	size_t		 i, n;
	int		 bad = 0;

	memset(p, 0, sizeof(*p));
	if (len == 0 || len > TPMDEVID_PAYLOAD_MAX)
		return TPMDEVID_ERR_PAYLOAD;
	doc = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (doc == NULL || !json_is_object(doc)) {
		log_kv(LOG_LEVEL_WARN, "tpm_devid", "payload is not JSON",
		    "error", doc == NULL ? jerr.text : "not an object", NULL);
		json_decref(doc);
		return TPMDEVID_ERR_PAYLOAD;
	}
	chain = json_object_get(doc, "DevIDCert");
	n = json_is_array(chain) ? json_array_size(chain) : 0;
	if (n == 0 || n > TPMDEVID_CHAIN_MAX) {
		log_kv(LOG_LEVEL_WARN, "tpm_devid", "payload refused",
		    "reason", "DevIDCert missing or too long", NULL);
		json_decref(doc);
		return TPMDEVID_ERR_PAYLOAD;
	}
	for (i = 0; i < n && !bad; i++) {
		json_t	*w = json_object();

		/* get_b64 reads members: wrap each array element in one. */
		if (w == NULL || json_object_set(w, "c",
		    json_array_get(chain, i)) == -1 ||
		    get_b64(w, "c", &p->chain[i], &p->chain_len[i],
		    X509_CERT_MAX) == -1)
			bad = 1;
		else
			p->nchain++;
		json_decref(w);
	}
	if (bad ||
	    get_b64(doc, "DevIDPub", &p->devid_pub, &p->devid_pub_len,
	    4096) == -1 ||
	    get_b64(doc, "EKCert", &p->ek_cert, &p->ek_cert_len,
	    X509_CERT_MAX) == -1 ||
	    get_b64(doc, "EKPub", &p->ek_pub, &p->ek_pub_len, 4096) == -1 ||
	    get_b64(doc, "AKPub", &p->ak_pub, &p->ak_pub_len, 4096) == -1 ||
	    get_b64(doc, "CertifiedDevID", &p->certified,
	    &p->certified_len, 4096) == -1 ||
	    get_b64(doc, "CertificationSignature", &p->cert_sig,
	    &p->cert_sig_len, 4096) == -1) {
		log_kv(LOG_LEVEL_WARN, "tpm_devid", "payload refused",
		    "reason", "a member is missing or not base64", NULL);
		json_decref(doc);
		payload_free(p);
		return TPMDEVID_ERR_PAYLOAD;
	}
	json_decref(doc);
	return TPMDEVID_OK;
}

static void
fingerprint(const uint8_t *der, size_t len, char *hex)
{
	uint8_t	 d[WC_SHA_DIGEST_SIZE];
	size_t	 i;

	memset(d, 0, sizeof(d));
	(void)wc_ShaHash(der, (word32)len, d);
	for (i = 0; i < sizeof(d); i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* A big-endian integer without its leading zero bytes. */
static void
strip_zeros(const uint8_t **p, size_t *n)
{
	while (*n > 0 && **p == 0) {
		(*p)++;
		(*n)--;
	}
}

static int
rsa_key_equal(const struct x509_cert *c, const struct tpmwire_public *pub)
{
	struct der	 d, seq, n, e;
	const uint8_t	*np, *mp = pub->rsa_modulus.p;
	size_t		 nl, ml = pub->rsa_modulus.len;
	long long	 ev;
	uint32_t	 want;

	if (c->key_type != X509_KEY_RSA || pub->type != TPMWIRE_ALG_RSA)
		return 0;
	der_init(&d, c->pubkey.p, c->pubkey.len);
	if (der_get(&d, 0x30, &seq, NULL) == -1 ||
	    der_get(&seq, 0x02, &n, NULL) == -1 ||
	    der_get(&seq, 0x02, &e, NULL) == -1 ||
	    der_int_small(&e, &ev) == -1)
		return 0;
	want = pub->rsa_exponent == 0 ? 65537 : pub->rsa_exponent;
	np = n.p;
	nl = n.len;
	strip_zeros(&np, &nl);
	strip_zeros(&mp, &ml);
	return ev == (long long)want && nl == ml && nl > 0 &&
	    memcmp(np, mp, nl) == 0;
}

static int
ec_key_equal(const struct x509_cert *c, const struct tpmwire_public *pub)
{
	uint8_t	 pt[1 + 2 * 48];
	size_t	 n;

	if (c->key_type != X509_KEY_EC || pub->type != TPMWIRE_ALG_ECC)
		return 0;
	if (c->curve == X509_CURVE_P256 && pub->curve == TPMWIRE_ECC_P256)
		n = 32;
	else if (c->curve == X509_CURVE_P384 &&
	    pub->curve == TPMWIRE_ECC_P384)
		n = 48;
	else
		return 0;
	if (pub->ecc_x.len > n || pub->ecc_y.len > n)
		return 0;
	memset(pt, 0, sizeof(pt));
	pt[0] = 0x04;
	memcpy(pt + 1 + n - pub->ecc_x.len, pub->ecc_x.p, pub->ecc_x.len);
	memcpy(pt + 1 + 2 * n - pub->ecc_y.len, pub->ecc_y.p,
	    pub->ecc_y.len);
	return c->pubkey.len == 1 + 2 * n &&
	    memcmp(c->pubkey.p, pt, 1 + 2 * n) == 0;
}

static void
add_selector(struct tpmdevid_server *s, const char *kind, const char *v)
{
	size_t	 i;
	int	 n;

	if (s->nsel == TPMDEVID_SELECTORS_MAX || v[0] == '\0')
		return;
	n = snprintf(s->sel[s->nsel], sizeof(s->sel[0]), "%s%s", kind, v);
	if (n < 0 || (size_t)n >= sizeof(s->sel[0]))
		return;
	for (i = 0; i < s->nsel; i++)
		if (strcmp(s->sel[i], s->sel[s->nsel]) == 0)
			return;		/* once each, as SPIRE does */
	s->selp[s->nsel] = s->sel[s->nsel];
	s->nsel++;
}

/*
 * SPIRE's selectors: the leaf's subject and issuer CN, and a fingerprint
 * for each certificate of the verified path above the leaf (the
 * intermediates used and the root). The path is walked again here the
 * way x509_verify_chain found it: by name and signature.
 */
static void
build_selectors(struct tpmdevid_server *s, const struct x509_cert *chain,
    size_t n, const struct tpmdevid_roots *roots)
{
	const struct x509_cert	*cur = &chain[0];
	char			 fp[DEVID_FP_HEX];
	size_t			 depth, i;
	int			 found;

	add_selector(s, "subject:cn:", chain[0].subject_cn);
	add_selector(s, "issuer:cn:", chain[0].issuer_cn);
	for (depth = 0; depth < X509_CHAIN_MAX; depth++) {
		for (i = 0; i < roots->ndevid; i++) {
			const struct x509_cert *r = &roots->devid[i];

			if (r->subject.len == cur->issuer.len &&
			    memcmp(r->subject.p, cur->issuer.p,
			    r->subject.len) == 0 &&
			    x509_check_signature(cur, r) == X509_OK) {
				fingerprint(r->der.p, r->der.len, fp);
				add_selector(s, "ca:fingerprint:", fp);
				return;
			}
		}
		found = 0;
		for (i = 1; i < n && !found; i++) {
			if (&chain[i] == cur ||
			    chain[i].subject.len != cur->issuer.len ||
			    memcmp(chain[i].subject.p, cur->issuer.p,
			    cur->issuer.len) != 0 ||
			    x509_check_signature(cur, &chain[i]) != X509_OK)
				continue;
			fingerprint(chain[i].der.p, chain[i].der.len, fp);
			add_selector(s, "ca:fingerprint:", fp);
			cur = &chain[i];
			found = 1;
		}
		if (!found)
			return;
	}
}

static enum tpmdevid_err
check_residency(const struct devid_payload *p, const struct x509_cert *leaf,
    const struct tpmdevid_roots *roots, long long now,
    struct tpmwire_public *ek, struct tpmwire_public *ak)
{
	struct x509_cert	 ekc;
	struct tpmwire_public	 dev;
	struct tpmwire_attest	 att;
	struct tpmwire_sig	 sig;
	enum sig_alg		 alg;
	enum x509_err		 xe;
	uint8_t			 name[TPMWIRE_NAME_MAX], *spki = NULL;
	size_t			 namelen = sizeof(name), spki_len = 0;
	uint32_t		 need;
	int			 ok;

	xe = x509_parse(p->ek_cert, p->ek_cert_len, &ekc);
	if (xe != X509_OK) {
		log_kv(LOG_LEVEL_WARN, "tpm_devid", "attestation refused",
		    "reason", tpmdevid_strerror(TPMDEVID_ERR_EK_CERT),
		    "error", x509_strerror(xe), NULL);
		return TPMDEVID_ERR_EK_CERT;
	}
	if (tpmwire_public_parse(p->devid_pub, p->devid_pub_len, &dev) !=
	    TPMWIRE_OK ||
	    tpmwire_public_parse(p->ak_pub, p->ak_pub_len, ak) !=
	    TPMWIRE_OK ||
	    tpmwire_public_parse(p->ek_pub, p->ek_pub_len, ek) !=
	    TPMWIRE_OK) {
		log_kv(LOG_LEVEL_WARN, "tpm_devid", "attestation refused",
		    "reason", tpmdevid_strerror(TPMDEVID_ERR_TPM_STRUCT),
		    "what", "DevIDPub, AKPub or EKPub", NULL);
		return TPMDEVID_ERR_TPM_STRUCT;
	}
	if (!rsa_key_equal(&ekc, ek)) {
		log_kv(LOG_LEVEL_WARN, "tpm_devid", "attestation refused",
		    "reason", tpmdevid_strerror(TPMDEVID_ERR_EK_MISMATCH),
		    NULL);
		return TPMDEVID_ERR_EK_MISMATCH;
	}
	/* SPIRE's EK roots are one pool: every certificate an anchor. */
	xe = x509_verify_chain(&ekc, 1, roots->ek, roots->nek, now, NULL);
	if (xe != X509_OK) {
		log_kv(LOG_LEVEL_WARN, "tpm_devid", "attestation refused",
		    "reason", tpmdevid_strerror(TPMDEVID_ERR_EK_CHAIN),
		    "error", x509_strerror(xe), "ek_issuer_cn", ekc.issuer_cn,
		    NULL);
		return TPMDEVID_ERR_EK_CHAIN;
	}
	ok = leaf->key_type == X509_KEY_RSA ? rsa_key_equal(leaf, &dev) :
	    ec_key_equal(leaf, &dev);
	if (!ok) {
		log_kv(LOG_LEVEL_WARN, "tpm_devid", "attestation refused",
		    "reason", tpmdevid_strerror(TPMDEVID_ERR_DEVID_KEY), NULL);
		return TPMDEVID_ERR_DEVID_KEY;
	}
	/* An AK that can sign anything could sign a forged certify. */
	need = TPMWIRE_OBJ_SIGN | TPMWIRE_OBJ_RESTRICTED |
	    TPMWIRE_OBJ_FIXEDTPM | TPMWIRE_OBJ_FIXEDPARENT |
	    TPMWIRE_OBJ_SENSDATAORIGIN;
	if (ak->type != TPMWIRE_ALG_RSA || (ak->attrs & need) != need ||
	    ak->scheme != TPMWIRE_ALG_RSASSA) {
		log_kv(LOG_LEVEL_WARN, "tpm_devid", "attestation refused",
		    "reason", tpmdevid_strerror(TPMDEVID_ERR_CERTIFY_SIG),
		    "why", "AK is not a restricted RSASSA signing key", NULL);
		return TPMDEVID_ERR_CERTIFY_SIG;
	}
	switch (ak->scheme_hash) {
	case TPMWIRE_ALG_SHA256:
		alg = SIG_RS256;
		break;
	case TPMWIRE_ALG_SHA384:
		alg = SIG_RS384;
		break;
	case TPMWIRE_ALG_SHA512:
		alg = SIG_RS512;
		break;
	default:
		return TPMDEVID_ERR_CERTIFY_SIG;
	}
	if (tpmwire_sig_parse(p->cert_sig, p->cert_sig_len, &sig) !=
	    TPMWIRE_OK || sig.alg != TPMWIRE_ALG_RSASSA ||
	    tpmwire_rsa_spki(ak, &spki, &spki_len) != TPMWIRE_OK) {
		log_kv(LOG_LEVEL_WARN, "tpm_devid", "attestation refused",
		    "reason", tpmdevid_strerror(TPMDEVID_ERR_CERTIFY_SIG),
		    "why", "CertificationSignature not RSASSA", NULL);
		mem_free(spki);
		return TPMDEVID_ERR_CERTIFY_SIG;
	}
	ok = sig_verify(alg, spki, spki_len, p->certified, p->certified_len,
	    sig.rsa.p, sig.rsa.len) == 0;
	mem_free(spki);
	if (!ok) {
		log_kv(LOG_LEVEL_WARN, "tpm_devid", "attestation refused",
		    "reason", tpmdevid_strerror(TPMDEVID_ERR_CERTIFY_SIG),
		    NULL);
		return TPMDEVID_ERR_CERTIFY_SIG;
	}
	if (tpmwire_attest_parse(p->certified, p->certified_len, &att) !=
	    TPMWIRE_OK || tpmwire_name(&dev, name, &namelen) != TPMWIRE_OK ||
	    att.certified_name.len != namelen ||
	    memcmp(att.certified_name.p, name, namelen) != 0) {
		log_kv(LOG_LEVEL_WARN, "tpm_devid", "attestation refused",
		    "reason", tpmdevid_strerror(TPMDEVID_ERR_CERTIFY_NAME),
		    NULL);
		return TPMDEVID_ERR_CERTIFY_NAME;
	}
	return TPMDEVID_OK;
}

static enum tpmdevid_err
make_challenge(struct tpmdevid_server *s, const struct tpmwire_public *ek,
    const struct tpmwire_public *ak, char **out, size_t *outlen)
{
	uint8_t			 name[TPMWIRE_NAME_MAX], seed[64];
	uint8_t			 cred[512], enc[512];
	size_t			 namelen = sizeof(name), credlen = sizeof(cred);
	size_t			 enclen = sizeof(enc), dlen;
	enum tpmwire_err	 we;
	json_t			*doc, *ca;

	dlen = tpmwire_hash_len(ek->name_alg);
	if (dlen == 0 || dlen > sizeof(seed) ||
	    tpmwire_name(ak, name, &namelen) != TPMWIRE_OK)
		return TPMDEVID_ERR_TPM_STRUCT;
	if (rand_bytes(s->nonce, sizeof(s->nonce)) == -1 ||
	    rand_bytes(s->cred, dlen) == -1 || rand_bytes(seed, dlen) == -1)
		return TPMDEVID_ERR_CRYPTO;
	s->cred_len = dlen;
	we = tpmwire_make_credential(ek, name, namelen, s->cred, dlen, seed,
	    dlen, cred, &credlen, enc, &enclen);
	mem_wipe(seed, sizeof(seed));
	if (we != TPMWIRE_OK) {
		log_kv(LOG_LEVEL_WARN, "tpm_devid", "cannot make the challenge",
		    "error", tpmwire_strerror(we), NULL);
		return TPMDEVID_ERR_TPM_STRUCT;
	}
	doc = json_object();
	ca = json_object();
	if (doc == NULL || ca == NULL ||
	    json_object_set_new(ca, "Credential", json_b64(cred, credlen)) ||
	    json_object_set_new(ca, "Secret", json_b64(enc, enclen)) ||
	    json_object_set_new(doc, "DevID", json_b64(s->nonce,
	    sizeof(s->nonce))) ||
	    json_object_set_new(doc, "CredActivation", ca)) {
		json_decref(doc);
		return TPMDEVID_ERR_NOMEM;
	}
	*out = json_take(doc, outlen);
	return *out == NULL ? TPMDEVID_ERR_NOMEM : TPMDEVID_OK;
}

enum tpmdevid_err
tpmdevid_server_start(const struct tpmdevid_roots *roots,
    const uint8_t *payload, size_t len, long long now,
    struct tpmdevid_server **out, char **challenge, size_t *challenge_len)
{
	struct devid_payload	 p;
	struct x509_cert	 chain[TPMDEVID_CHAIN_MAX];
	struct tpmwire_public	 ek, ak;
	struct tpmdevid_server	*s = NULL;
	enum tpmdevid_err	 e;
	enum x509_err		 xe;
	size_t			 i, at = 0;
	char			 fp[DEVID_FP_HEX];

	*out = NULL;
	*challenge = NULL;
	if ((e = payload_parse(payload, len, &p)) != TPMDEVID_OK)
		return e;
	for (i = 0; i < p.nchain; i++) {
		xe = x509_parse(p.chain[i], p.chain_len[i], &chain[i]);
		if (xe != X509_OK) {
			log_kv(LOG_LEVEL_WARN, "tpm_devid",
			    "attestation refused", "reason",
			    tpmdevid_strerror(TPMDEVID_ERR_DEVID_CERT),
			    "error", x509_strerror(xe), NULL);
			e = TPMDEVID_ERR_DEVID_CERT;
			goto out;
		}
	}
	xe = x509_verify_chain(chain, p.nchain, roots->devid, roots->ndevid,
	    now, &at);
	if (xe != X509_OK) {
		log_kv(LOG_LEVEL_WARN, "tpm_devid", "attestation refused",
		    "reason", tpmdevid_strerror(TPMDEVID_ERR_DEVID_CHAIN),
		    "error", x509_strerror(xe), "devid_subject_cn",
		    chain[0].subject_cn, "devid_issuer_cn", chain[0].issuer_cn,
		    NULL);
		e = TPMDEVID_ERR_DEVID_CHAIN;
		goto out;
	}
	e = check_residency(&p, &chain[0], roots, now, &ek, &ak);
	if (e != TPMDEVID_OK)
		goto out;
	s = mem_calloc(1, sizeof(*s));
	if (s == NULL) {
		e = TPMDEVID_ERR_NOMEM;
		goto out;
	}
	s->spki = mem_alloc(chain[0].spki.len);
	if (s->spki == NULL) {
		e = TPMDEVID_ERR_NOMEM;
		goto out;
	}
	memcpy(s->spki, chain[0].spki.p, chain[0].spki.len);
	s->spki_len = chain[0].spki.len;
	s->rsa = chain[0].key_type == X509_KEY_RSA;
	fingerprint(chain[0].der.p, chain[0].der.len, fp);
	(void)snprintf(s->path, sizeof(s->path), "/spire/agent/%s/%s",
	    TPMDEVID_NAME, fp);
	build_selectors(s, chain, p.nchain, roots);
	e = make_challenge(s, &ek, &ak, challenge, challenge_len);
out:
	payload_free(&p);
	if (e != TPMDEVID_OK) {
		tpmdevid_server_free(s);
		return e;
	}
	*out = s;
	return TPMDEVID_OK;
}

enum tpmdevid_err
tpmdevid_server_finish(struct tpmdevid_server *s, const uint8_t *resp,
    size_t len)
{
	json_t			*doc = NULL;
	uint8_t			*sig = NULL, *cred = NULL, d[32];
	size_t			 siglen = 0, credlen = 0;
	enum tpmdevid_err	 e;
	int			 ok;

	if (s->used) {
		log_kv(LOG_LEVEL_WARN, "tpm_devid", "attestation refused",
		    "reason", tpmdevid_strerror(TPMDEVID_ERR_USED), NULL);
		return TPMDEVID_ERR_USED;
	}
	/* One answer per challenge, right or wrong. */
	s->used = 1;
	e = TPMDEVID_ERR_RESPONSE;
	if (len == 0 || len > TPMDEVID_PAYLOAD_MAX)
		goto refused;
	doc = json_loadb((const char *)resp, len, JSON_REJECT_DUPLICATES,
	    NULL);
	if (!json_is_object(doc) ||
	    get_b64(doc, "DevID", &sig, &siglen, 1024) == -1 ||
	    get_b64(doc, "CredActivation", &cred, &credlen,
	    TPMWIRE_DIGEST_MAX) == -1)
		goto refused;
	if (wc_Sha256Hash(s->nonce, sizeof(s->nonce), d) != 0) {
		e = TPMDEVID_ERR_CRYPTO;
		goto refused;
	}
	ok = s->rsa ? sig_verify(SIG_RS256, s->spki, s->spki_len, s->nonce,
	    sizeof(s->nonce), sig, siglen) == 0 :
	    key_verify_spki(s->spki, s->spki_len, d, sizeof(d), sig,
	    siglen) == 0;
	if (!ok) {
		e = TPMDEVID_ERR_DEVID_SIG;
		goto refused;
	}
	if (credlen != s->cred_len ||
	    mem_cmp_ct(cred, s->cred, credlen) != 0) {
		e = TPMDEVID_ERR_CREDENTIAL;
		goto refused;
	}
	s->accepted = 1;
	log_kv(LOG_LEVEL_INFO, "tpm_devid", "attestation accepted",
	    "agent_path", s->path, NULL);
	e = TPMDEVID_OK;
	goto out;
refused:
	log_kv(LOG_LEVEL_WARN, "tpm_devid", "attestation refused", "reason",
	    tpmdevid_strerror(e), NULL);
out:
	json_decref(doc);
	mem_free(sig);
	if (cred != NULL)
		mem_free_wipe(cred, credlen);
	return e;
}

const char *
tpmdevid_server_agent_path(const struct tpmdevid_server *s)
{
	return s->accepted ? s->path : NULL;
}

size_t
tpmdevid_server_selectors(const struct tpmdevid_server *s,
    const char *const **values)
{
	*values = s->selp;
	return s->accepted ? s->nsel : 0;
}

void
tpmdevid_server_free(struct tpmdevid_server *s)
{
	if (s == NULL)
		return;
	mem_free(s->spki);
	mem_free_wipe(s, sizeof(*s));
}

/* A whole regular file of at most max bytes, in a new buffer. */
static int
file_read(const char *path, size_t max, uint8_t **out, size_t *len)
{
	struct stat	 st;
	uint8_t		*buf = NULL;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		log_warn("tpm_devid", "%s: open", path);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size <= 0 || (size_t)st.st_size > max) {
		log_warnx("tpm_devid", "%s: not a file of 1 to %zu bytes",
		    path, max);
		goto fail;
	}
	buf = mem_alloc((size_t)st.st_size + 1);
	if (buf == NULL)
		goto fail;
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warn("tpm_devid", "%s: read", path);
			goto fail;
		}
		off += (size_t)n;
	}
	buf[off] = '\0';
	(void)close(fd);
	*out = buf;
	*len = off;
	return 0;
fail:
	mem_free(buf);
	(void)close(fd);
	return -1;
}

enum tpmdevid_err
tpmdevid_agent_start(struct tpm *t, const struct tpmdevid_agent_conf *c,
    struct tpmdevid_agent **out, char **payload, size_t *payload_len)
{
	struct tpmdevid_agent		*a = NULL;
	const struct tpm_devid_evidence	*ev;
	struct pem_block		*blocks = NULL;
	uint8_t				*pem = NULL, *pub = NULL, *priv = NULL;
	size_t				 nblocks = 0, pemlen, publen, privlen;
	size_t				 i;
	enum tpmdevid_err		 e = TPMDEVID_ERR_FILE;
	enum key_err			 ke;
	enum tpm_err			 te;
	json_t				*doc = NULL, *chain;

	*out = NULL;
	*payload = NULL;
	if (file_read(c->devid_cert_path, TPMDEVID_PAYLOAD_MAX, &pem,
	    &pemlen) == -1 ||
	    pem_decode((const char *)pem, pemlen, "CERTIFICATE", &blocks,
	    &nblocks) != PEM_OK || nblocks > TPMDEVID_CHAIN_MAX ||
	    key_file_read(c->devid_pub_path, &pub, &publen) == -1 ||
	    key_file_read(c->devid_priv_path, &priv, &privlen) == -1) {
		log_kv(LOG_LEVEL_WARN, "tpm_devid", "cannot read DevID files",
		    "devid_cert_path", c->devid_cert_path, "devid_pub_path",
		    c->devid_pub_path, "devid_priv_path", c->devid_priv_path,
		    NULL);
		goto out;
	}
	a = mem_calloc(1, sizeof(*a));
	if (a == NULL) {
		e = TPMDEVID_ERR_NOMEM;
		goto out;
	}
	a->tpm = t;
	a->devid = key_tpm_load_parts(t, pub, publen, priv, privlen,
	    c->devid_password, &ke);
	if (a->devid == NULL) {
		log_kv(LOG_LEVEL_WARN, "tpm_devid", "DevID key does not load",
		    "cause", key_strerror(ke), NULL);
		e = TPMDEVID_ERR_TPM;
		goto out;
	}
	a->dev = tpm_devid_open(t, a->devid, &te);
	if (a->dev == NULL) {
		log_kv(LOG_LEVEL_WARN, "tpm_devid", "TPM evidence failed",
		    "cause", tpm_strerror(te), NULL);
		e = TPMDEVID_ERR_TPM;
		goto out;
	}
	ev = tpm_devid_evidence(a->dev);
	e = TPMDEVID_ERR_NOMEM;
	doc = json_object();
	chain = json_array();
	if (doc == NULL || chain == NULL ||
	    json_object_set_new(doc, "DevIDCert", chain) == -1)
		goto out;
	for (i = 0; i < nblocks; i++)
		if (json_array_append_new(chain, json_b64(blocks[i].der,
		    blocks[i].len)) == -1)
			goto out;
	/* DevIDPub is the file's bytes as they are, as SPIRE sends it. */
	if (json_object_set_new(doc, "DevIDPub", json_b64(pub, publen)) ||
	    json_object_set_new(doc, "EKCert", json_b64(ev->ek_cert,
	    ev->ek_cert_len)) ||
	    json_object_set_new(doc, "EKPub", json_b64(ev->ek_pub,
	    ev->ek_pub_len)) ||
	    json_object_set_new(doc, "AKPub", json_b64(ev->ak_pub,
	    ev->ak_pub_len)) ||
	    json_object_set_new(doc, "CertifiedDevID",
	    json_b64(ev->certify_info, ev->certify_info_len)) ||
	    json_object_set_new(doc, "CertificationSignature",
	    json_b64(ev->certify_sig, ev->certify_sig_len)))
		goto out;
	*payload = json_take(doc, payload_len);
	doc = NULL;
	if (*payload == NULL)
		goto out;
	*out = a;
	a = NULL;
	e = TPMDEVID_OK;
out:
	json_decref(doc);
	pem_blocks_free(blocks, nblocks);
	mem_free(pem);
	mem_free(pub);
	if (priv != NULL)
		mem_free_wipe(priv, privlen);
	tpmdevid_agent_free(a);
	return e;
}

enum tpmdevid_err
tpmdevid_agent_answer(struct tpmdevid_agent *a, const uint8_t *challenge,
    size_t len, char **response, size_t *response_len)
{
	json_t			*doc = NULL, *ca, *r = NULL;
	uint8_t			*nonce = NULL, *cred = NULL, *sec = NULL;
	uint8_t			 d[32], sig[KEY_SIG_MAX], act[64];
	size_t			 nlen, clen, slen, siglen = sizeof(sig);
	size_t			 actlen = sizeof(act);
	enum tpmdevid_err	 e = TPMDEVID_ERR_CHALLENGE;
	enum key_err		 ke;
	enum tpm_err		 te;

	*response = NULL;
	if (len == 0 || len > TPMDEVID_PAYLOAD_MAX)
		return e;
	doc = json_loadb((const char *)challenge, len,
	    JSON_REJECT_DUPLICATES, NULL);
	ca = json_object_get(doc, "CredActivation");
	if (!json_is_object(doc) || !json_is_object(ca) ||
	    get_b64(doc, "DevID", &nonce, &nlen, 1024) == -1 ||
	    get_b64(ca, "Credential", &cred, &clen, 1024) == -1 ||
	    get_b64(ca, "Secret", &sec, &slen, 1024) == -1) {
		log_kv(LOG_LEVEL_WARN, "tpm_devid", "challenge refused",
		    "reason", tpmdevid_strerror(e), NULL);
		goto out;
	}
	e = TPMDEVID_ERR_TPM;
	/* Proof of possession: the DevID key signs SHA-256(nonce). */
	if (wc_Sha256Hash(nonce, (word32)nlen, d) != 0) {
		e = TPMDEVID_ERR_CRYPTO;
		goto out;
	}
	ke = key_sign(a->devid, d, sizeof(d), sig, &siglen);
	if (ke != KEY_OK) {
		log_kv(LOG_LEVEL_WARN, "tpm_devid", "DevID signature failed",
		    "cause", key_strerror(ke), NULL);
		goto out;
	}
	/* Proof of residency: only this TPM's EK opens the credential. */
	te = tpm_devid_activate(a->dev, cred, clen, sec, slen, act, &actlen);
	if (te != TPM_OK) {
		log_kv(LOG_LEVEL_WARN, "tpm_devid",
		    "credential activation failed", "cause", tpm_strerror(te),
		    NULL);
		goto out;
	}
	e = TPMDEVID_ERR_NOMEM;
	r = json_object();
	if (r == NULL ||
	    json_object_set_new(r, "DevID", json_b64(sig, siglen)) ||
	    json_object_set_new(r, "CredActivation", json_b64(act, actlen)))
		goto out;
	*response = json_take(r, response_len);
	r = NULL;
	e = *response == NULL ? TPMDEVID_ERR_NOMEM : TPMDEVID_OK;
out:
	mem_wipe(act, sizeof(act));
	json_decref(r);
	json_decref(doc);
	mem_free(nonce);
	mem_free(cred);
	mem_free(sec);
	return e;
}

void
tpmdevid_agent_free(struct tpmdevid_agent *a)
{
	if (a == NULL)
		return;
	tpm_devid_close(a->dev);
	key_free(a->devid);
	mem_free(a);
}
