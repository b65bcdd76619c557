/*
 * X.509 certificate parsing (our DER reader) and path validation
 * (wolfCrypt for the signatures).
 *
 * Parsing is strict about structure and lenient only where Go's
 * crypto/x509, which SPIRE uses, is lenient too (an explicit v1 version,
 * an explicit FALSE critical flag). Facts we do not need are skipped but
 * their DER is still checked.
 */
#include "config.h"

#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/signature.h>

#include "pki/der.h"
#include "pki/x509.h"

#define X509_SERIAL_MAX		21	/* 20 octets and a sign byte */
#define X509_EXTENSIONS_MAX	64	/* extensions in one certificate */
#define X509_RSA_BITS_MIN	2048	/* weaker RSA keys sign nothing */

/* Object identifiers, as their DER contents. */
static const uint8_t oid_ec_public_key[] = {
	0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
static const uint8_t oid_p256[] = {
	0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const uint8_t oid_p384[] = { 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const uint8_t oid_p521[] = { 0x2b, 0x81, 0x04, 0x00, 0x23 };
static const uint8_t oid_rsa[] = {
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };
static const uint8_t oid_ed25519[] = { 0x2b, 0x65, 0x70 };
static const uint8_t oid_ecdsa_sha256[] = {
	0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
static const uint8_t oid_ecdsa_sha384[] = {
	0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03 };
static const uint8_t oid_ecdsa_sha512[] = {
	0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04 };
static const uint8_t oid_rsa_sha256[] = {
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b };
static const uint8_t oid_rsa_sha384[] = {
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c };
static const uint8_t oid_rsa_sha512[] = {
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d };
static const uint8_t oid_cn[] = { 0x55, 0x04, 0x03 };
static const uint8_t oid_eku_server[] = {
	0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01 };
static const uint8_t oid_eku_client[] = {
	0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02 };
static const uint8_t oid_eku_any[] = { 0x55, 0x1d, 0x25, 0x00 };

/* Extensions we read, by the last arc under id-ce (2.5.29). */
#define EXT_SKI		14
#define EXT_KU		15
#define EXT_SAN		17
#define EXT_BC		19
#define EXT_NC		30
#define EXT_POLICIES	32
#define EXT_AKI		35
#define EXT_EKU		37

static enum x509_err	x509_parse_tbs(struct der *, struct x509_cert *,
			    const struct der *);
static int		x509_oid_is(const struct der *, const uint8_t *,
			    size_t);
static enum x509_err	x509_parse_name(const struct der *, char *);
static enum x509_err	x509_parse_validity(struct der *,
			    struct x509_cert *);
static enum x509_err	x509_parse_spki(const struct der *,
			    struct x509_cert *);
static enum x509_err	x509_parse_sig_alg(const struct der *,
			    enum x509_sig_alg *);
static enum x509_err	x509_parse_extensions(const struct der *,
			    struct x509_cert *);
static enum x509_err	x509_parse_extension(int, const struct der *,
			    struct x509_cert *);
static enum x509_err	x509_parse_bc(struct der, struct x509_cert *);
static enum x509_err	x509_parse_ku(struct der, struct x509_cert *);
static enum x509_err	x509_parse_eku(struct der, struct x509_cert *);
static enum x509_err	x509_parse_san(struct der, struct x509_cert *);
static enum x509_err	x509_parse_ski(struct der, struct x509_cert *);
static enum x509_err	x509_parse_aki(struct der, struct x509_cert *);
static enum x509_err	x509_sig_result(int);
static enum x509_err	x509_check_ecdsa(const struct x509_cert *,
			    const struct x509_cert *, enum wc_HashType);
static enum x509_err	x509_check_rsa(const struct x509_cert *,
			    const struct x509_cert *, enum wc_HashType);
static enum x509_err	x509_check_ed25519(const struct x509_cert *,
			    const struct x509_cert *);
static enum x509_err	x509_check_time(const struct x509_cert *,
			    long long);
static enum x509_err	x509_check_link(const struct x509_cert *,
			    const struct x509_cert *, int, size_t, long long,
			    int *);
static int		x509_names_match(const struct x509_cert *,
			    const struct x509_cert *);

const char *
x509_strerror(enum x509_err err)
{
	switch (err) {
	case X509_OK:
		return "success";
	case X509_ERR_DER:
		return "certificate is not valid DER";
	case X509_ERR_STRUCTURE:
		return "not an X.509 certificate";
	case X509_ERR_TOO_BIG:
		return "certificate is too large";
	case X509_ERR_VERSION:
		return "unsupported certificate version";
	case X509_ERR_SERIAL:
		return "invalid serial number";
	case X509_ERR_TIME:
		return "invalid validity time";
	case X509_ERR_SIG_ALG_MISMATCH:
		return "signature algorithms in and outside the certificate "
		    "differ";
	case X509_ERR_EXTENSION:
		return "malformed extension";
	case X509_ERR_DUP_EXTENSION:
		return "duplicate extension";
	case X509_ERR_TOO_MANY_SANS:
		return "too many subject alternative names";
	case X509_ERR_CHAIN_EMPTY:
		return "empty certificate chain";
	case X509_ERR_CHAIN_TOO_LONG:
		return "certificate chain is too long";
	case X509_ERR_NO_ROOTS:
		return "no root certificates to verify against";
	case X509_ERR_UNKNOWN_ISSUER:
		return "certificate signed by unknown authority";
	case X509_ERR_SIG_ALG:
		return "unsupported signature algorithm";
	case X509_ERR_KEY:
		return "issuer key is unsupported or too weak";
	case X509_ERR_SIGNATURE:
		return "signature does not verify";
	case X509_ERR_EXPIRED:
		return "certificate has expired";
	case X509_ERR_NOT_YET_VALID:
		return "certificate is not yet valid";
	case X509_ERR_ISSUER_NOT_CA:
		return "issuer is not a CA";
	case X509_ERR_ISSUER_KEY_USAGE:
		return "issuer may not sign certificates (no keyCertSign)";
	case X509_ERR_PATH_LEN:
		return "path length constraint exceeded";
	case X509_ERR_CRITICAL_EXTENSION:
		return "unhandled critical extension";
	case X509_ERR_NAME_CONSTRAINTS:
		return "name constraints are not supported";
	case X509_ERR_NOMEM:
		return "out of memory";
	}
	return "unknown certificate error";
}

static int
x509_oid_is(const struct der *oid, const uint8_t *want, size_t len)
{
	return der_equal(oid, want, len);
}

enum x509_err
x509_parse(const uint8_t *der, size_t len, struct x509_cert *out)
{
	struct der	 d, cert, tbs, tbs_whole, alg_whole, bits, whole;
	enum x509_err	 err;

	memset(out, 0, sizeof(*out));
	if (len > X509_CERT_MAX)
		return X509_ERR_TOO_BIG;
	der_init(&d, der, len);
	if (der_get(&d, DER_SEQUENCE, &cert, &whole) != 0 || !der_empty(&d))
		return X509_ERR_DER;
	if (der_get(&cert, DER_SEQUENCE, &tbs, &tbs_whole) != 0 ||
	    der_get(&cert, DER_SEQUENCE, NULL, &alg_whole) != 0 ||
	    der_get(&cert, DER_BIT_STRING, &bits, NULL) != 0 ||
	    !der_empty(&cert))
		goto structure;
	/* Signatures are whole octets: no unused bits. */
	if (bits.len < 2 || bits.p[0] != 0)
		goto structure;
	out->der.p = whole.p;
	out->der.len = whole.len;
	out->tbs.p = tbs_whole.p;
	out->tbs.len = tbs_whole.len;
	out->sig.p = bits.p + 1;
	out->sig.len = bits.len - 1;
	err = x509_parse_tbs(&tbs, out, &alg_whole);
	if (err != X509_OK) {
		memset(out, 0, sizeof(*out));
		return err;
	}
	return X509_OK;
structure:
	memset(out, 0, sizeof(*out));
	return X509_ERR_STRUCTURE;
}

static enum x509_err
x509_parse_tbs(struct der *tbs, struct x509_cert *out,
    const struct der *outer_alg)
{
	struct der	 v, serial, alg, name, spki, exts;
	long long	 version = 0;
	enum x509_err	 err;
	int		 rc;

	rc = der_get_optional(tbs, DER_CONTEXT_CONS(0), &v, NULL);
	if (rc < 0)
		return X509_ERR_STRUCTURE;
	if (rc == 1) {
		if (der_get(&v, DER_INTEGER, &serial, NULL) != 0 ||
		    !der_empty(&v) || der_int_small(&serial, &version) != 0)
			return X509_ERR_VERSION;
		if (version > 2)
			return X509_ERR_VERSION;
	}
	out->version = (int)version + 1;

	if (der_get(tbs, DER_INTEGER, &serial, NULL) != 0)
		return X509_ERR_STRUCTURE;
	if (serial.len == 0 || serial.len > X509_SERIAL_MAX ||
	    (serial.p[0] & 0x80) != 0 || (serial.len > 1 &&
	    serial.p[0] == 0 && (serial.p[1] & 0x80) == 0))
		return X509_ERR_SERIAL;
	out->serial.p = serial.p;
	out->serial.len = serial.len;

	/* The signed algorithm must be the one outside, byte for byte. */
	if (der_get(tbs, DER_SEQUENCE, NULL, &alg) != 0)
		return X509_ERR_STRUCTURE;
	if (!der_equal(&alg, outer_alg->p, outer_alg->len))
		return X509_ERR_SIG_ALG_MISMATCH;
	err = x509_parse_sig_alg(&alg, &out->sig_alg);
	if (err != X509_OK)
		return err;

	if (der_get(tbs, DER_SEQUENCE, NULL, &name) != 0)
		return X509_ERR_STRUCTURE;
	out->issuer.p = name.p;
	out->issuer.len = name.len;
	err = x509_parse_name(&name, out->issuer_cn);
	if (err != X509_OK)
		return err;

	err = x509_parse_validity(tbs, out);
	if (err != X509_OK)
		return err;

	if (der_get(tbs, DER_SEQUENCE, NULL, &name) != 0)
		return X509_ERR_STRUCTURE;
	out->subject.p = name.p;
	out->subject.len = name.len;
	err = x509_parse_name(&name, out->subject_cn);
	if (err != X509_OK)
		return err;

	if (der_get(tbs, DER_SEQUENCE, NULL, &spki) != 0)
		return X509_ERR_STRUCTURE;
	err = x509_parse_spki(&spki, out);
	if (err != X509_OK)
		return err;

	/* issuerUniqueID and subjectUniqueID: checked as DER, ignored. */
	if (der_get_optional(tbs, DER_CONTEXT(1), NULL, NULL) < 0 ||
	    der_get_optional(tbs, DER_CONTEXT(2), NULL, NULL) < 0)
		return X509_ERR_STRUCTURE;
	out->path_len = -1;
	rc = der_get_optional(tbs, DER_CONTEXT_CONS(3), &exts, NULL);
	if (rc < 0)
		return X509_ERR_STRUCTURE;
	if (rc == 1) {
		if (out->version != 3)
			return X509_ERR_VERSION;
		err = x509_parse_extensions(&exts, out);
		if (err != X509_OK)
			return err;
	}
	if (!der_empty(tbs))
		return X509_ERR_STRUCTURE;
	return X509_OK;
}

/*
 * Checks a Name's shape and keeps its last CN as printable ASCII (other
 * bytes become '?'), truncated to X509_CN_MAX.
 */
static enum x509_err
x509_parse_name(const struct der *whole, char *cn)
{
	struct der	 name = *whole, seq, rdn, atv, oid, val;
	int		 tag;
	size_t		 i, n;

	if (der_get(&name, DER_SEQUENCE, &seq, NULL) != 0)
		return X509_ERR_STRUCTURE;
	while (!der_empty(&seq)) {
		if (der_get(&seq, DER_SET, &rdn, NULL) != 0 ||
		    der_empty(&rdn))
			return X509_ERR_STRUCTURE;
		while (!der_empty(&rdn)) {
			if (der_get(&rdn, DER_SEQUENCE, &atv, NULL) != 0 ||
			    der_get(&atv, DER_OID, &oid, NULL) != 0 ||
			    der_get_any(&atv, &tag, &val, NULL) != 0 ||
			    !der_empty(&atv))
				return X509_ERR_STRUCTURE;
			if (!x509_oid_is(&oid, oid_cn, sizeof(oid_cn)))
				continue;
			if (tag != DER_UTF8_STRING &&
			    tag != DER_PRINTABLE_STRING &&
			    tag != DER_IA5_STRING && tag != DER_T61_STRING) {
				cn[0] = '\0';
				continue;
			}
			n = val.len < X509_CN_MAX ? val.len : X509_CN_MAX;
			for (i = 0; i < n; i++)
				cn[i] = val.p[i] >= 0x20 && val.p[i] < 0x7f ?
				    (char)val.p[i] : '?';
			cn[n] = '\0';
		}
	}
	return X509_OK;
}

static enum x509_err
x509_parse_validity(struct der *tbs, struct x509_cert *out)
{
	struct der	 val, t;
	int		 tag;

	if (der_get(tbs, DER_SEQUENCE, &val, NULL) != 0)
		return X509_ERR_STRUCTURE;
	if (der_get_any(&val, &tag, &t, NULL) != 0 ||
	    der_time(tag, &t, &out->not_before) != 0)
		return X509_ERR_TIME;
	if (der_get_any(&val, &tag, &t, NULL) != 0 ||
	    der_time(tag, &t, &out->not_after) != 0)
		return X509_ERR_TIME;
	if (!der_empty(&val))
		return X509_ERR_STRUCTURE;
	return X509_OK;
}

/* The key's type, curve and size; unknown kinds parse but sign nothing. */
static enum x509_err
x509_parse_spki(const struct der *whole, struct x509_cert *out)
{
	struct der	 d = *whole, spki, alg, oid, bits, rsa, n;
	size_t		 i;
	int		 rc;

	out->spki.p = whole->p;
	out->spki.len = whole->len;
	if (der_get(&d, DER_SEQUENCE, &spki, NULL) != 0 ||
	    der_get(&spki, DER_SEQUENCE, &alg, NULL) != 0 ||
	    der_get(&alg, DER_OID, &oid, NULL) != 0 ||
	    der_get(&spki, DER_BIT_STRING, &bits, NULL) != 0 ||
	    !der_empty(&spki) || bits.len < 2 || bits.p[0] != 0)
		return X509_ERR_STRUCTURE;
	out->pubkey.p = bits.p + 1;
	out->pubkey.len = bits.len - 1;
	if (x509_oid_is(&oid, oid_ec_public_key, sizeof(oid_ec_public_key))) {
		out->key_type = X509_KEY_EC;
		/* namedCurve only; explicit parameters are not supported. */
		if (der_get_optional(&alg, DER_OID, &oid, NULL) != 1 ||
		    !der_empty(&alg))
			return X509_ERR_STRUCTURE;
		if (x509_oid_is(&oid, oid_p256, sizeof(oid_p256))) {
			out->curve = X509_CURVE_P256;
			out->key_bits = 256;
		} else if (x509_oid_is(&oid, oid_p384, sizeof(oid_p384))) {
			out->curve = X509_CURVE_P384;
			out->key_bits = 384;
		} else if (x509_oid_is(&oid, oid_p521, sizeof(oid_p521))) {
			out->curve = X509_CURVE_P521;
			out->key_bits = 521;
		}
	} else if (x509_oid_is(&oid, oid_rsa, sizeof(oid_rsa))) {
		out->key_type = X509_KEY_RSA;
		rc = der_get_optional(&alg, DER_NULL, &n, NULL);
		if (rc < 0 || (rc == 1 && n.len != 0) || !der_empty(&alg))
			return X509_ERR_STRUCTURE;
		/* RSAPublicKey ::= SEQUENCE { modulus, publicExponent } */
		der_init(&d, out->pubkey.p, out->pubkey.len);
		if (der_get(&d, DER_SEQUENCE, &rsa, NULL) != 0 ||
		    !der_empty(&d) ||
		    der_get(&rsa, DER_INTEGER, &n, NULL) != 0 ||
		    der_get(&rsa, DER_INTEGER, NULL, NULL) != 0 ||
		    !der_empty(&rsa) || n.len == 0 || (n.p[0] & 0x80) != 0)
			return X509_ERR_STRUCTURE;
		while (n.len > 0 && n.p[0] == 0) {
			n.p++;
			n.len--;
		}
		if (n.len > 0) {
			out->key_bits = n.len * 8;
			for (i = 0x80; i > 0 && (n.p[0] & i) == 0; i >>= 1)
				out->key_bits--;
		}
	} else if (x509_oid_is(&oid, oid_ed25519, sizeof(oid_ed25519))) {
		if (!der_empty(&alg) || out->pubkey.len != 32)
			return X509_ERR_STRUCTURE;
		out->key_type = X509_KEY_ED25519;
		out->key_bits = 256;
	}
	return X509_OK;
}

static enum x509_err
x509_parse_sig_alg(const struct der *whole, enum x509_sig_alg *alg)
{
	struct der	 d = *whole, seq, oid, params;
	int		 rc;

	*alg = X509_SIG_UNKNOWN;
	if (der_get(&d, DER_SEQUENCE, &seq, NULL) != 0 ||
	    der_get(&seq, DER_OID, &oid, NULL) != 0)
		return X509_ERR_STRUCTURE;
	if (x509_oid_is(&oid, oid_ecdsa_sha256, sizeof(oid_ecdsa_sha256)))
		*alg = X509_SIG_ECDSA_SHA256;
	else if (x509_oid_is(&oid, oid_ecdsa_sha384,
	    sizeof(oid_ecdsa_sha384)))
		*alg = X509_SIG_ECDSA_SHA384;
	else if (x509_oid_is(&oid, oid_ecdsa_sha512,
	    sizeof(oid_ecdsa_sha512)))
		*alg = X509_SIG_ECDSA_SHA512;
	else if (x509_oid_is(&oid, oid_rsa_sha256, sizeof(oid_rsa_sha256)))
		*alg = X509_SIG_RSA_SHA256;
	else if (x509_oid_is(&oid, oid_rsa_sha384, sizeof(oid_rsa_sha384)))
		*alg = X509_SIG_RSA_SHA384;
	else if (x509_oid_is(&oid, oid_rsa_sha512, sizeof(oid_rsa_sha512)))
		*alg = X509_SIG_RSA_SHA512;
	else if (x509_oid_is(&oid, oid_ed25519, sizeof(oid_ed25519)))
		*alg = X509_SIG_ED25519;
	else
		return X509_OK;	/* parsed; verifying with it fails */
	/* ECDSA and Ed25519 take no parameters; RSA a NULL, or none. */
	rc = der_get_optional(&seq, DER_NULL, &params, NULL);
	if (rc < 0 || (rc == 1 && (params.len != 0 ||
	    *alg < X509_SIG_RSA_SHA256 || *alg > X509_SIG_RSA_SHA512)) ||
	    !der_empty(&seq))
		return X509_ERR_STRUCTURE;
	return X509_OK;
}

static enum x509_err
x509_parse_extensions(const struct der *exts, struct x509_cert *out)
{
	struct der	 d = *exts, seq, ext, oid, crit, val;
	struct der	 seen[X509_EXTENSIONS_MAX];
	size_t		 nseen = 0, i;
	enum x509_err	 err;
	int		 critical, rc;

	if (der_get(&d, DER_SEQUENCE, &seq, NULL) != 0 || !der_empty(&d) ||
	    der_empty(&seq))
		return X509_ERR_STRUCTURE;
	while (!der_empty(&seq)) {
		if (der_get(&seq, DER_SEQUENCE, &ext, NULL) != 0 ||
		    der_get(&ext, DER_OID, &oid, NULL) != 0)
			return X509_ERR_STRUCTURE;
		critical = 0;
		rc = der_get_optional(&ext, DER_BOOLEAN, &crit, NULL);
		if (rc < 0)
			return X509_ERR_STRUCTURE;
		if (rc == 1) {
			critical = der_bool(&crit);
			if (critical < 0)
				return X509_ERR_STRUCTURE;
		}
		if (der_get(&ext, DER_OCTET_STRING, &val, NULL) != 0 ||
		    !der_empty(&ext))
			return X509_ERR_STRUCTURE;
		for (i = 0; i < nseen; i++)
			if (der_equal(&seen[i], oid.p, oid.len))
				return X509_ERR_DUP_EXTENSION;
		if (nseen == X509_EXTENSIONS_MAX)
			return X509_ERR_STRUCTURE;
		seen[nseen++] = oid;

		/* id-ce is 2.5.29: 0x55 0x1d, then one arc below 128. */
		if (oid.len == 3 && oid.p[0] == 0x55 && oid.p[1] == 0x1d) {
			if (oid.p[2] == EXT_SAN)
				out->san_critical = critical;
			err = x509_parse_extension(oid.p[2], &val, out);
			if (err == X509_OK)
				continue;
			if (err != X509_ERR_CRITICAL_EXTENSION)
				return err;
		}
		/* Not one we interpret. */
		if (critical)
			out->unknown_critical = 1;
	}
	return X509_OK;
}

/* X509_ERR_CRITICAL_EXTENSION here means "not one of ours". */
static enum x509_err
x509_parse_extension(int arc, const struct der *val, struct x509_cert *out)
{
	switch (arc) {
	case EXT_BC:
		return x509_parse_bc(*val, out);
	case EXT_KU:
		return x509_parse_ku(*val, out);
	case EXT_EKU:
		return x509_parse_eku(*val, out);
	case EXT_SAN:
		return x509_parse_san(*val, out);
	case EXT_SKI:
		return x509_parse_ski(*val, out);
	case EXT_AKI:
		return x509_parse_aki(*val, out);
	case EXT_NC:
		out->has_name_constraints = 1;
		return X509_OK;
	case EXT_POLICIES:
		/* Go reads policies and tolerates them critical; so do we. */
		return X509_OK;
	}
	return X509_ERR_CRITICAL_EXTENSION;
}

static enum x509_err
x509_parse_bc(struct der d, struct x509_cert *out)
{
	struct der	 seq, v;
	long long	 n;
	int		 rc;

	if (der_get(&d, DER_SEQUENCE, &seq, NULL) != 0 || !der_empty(&d))
		return X509_ERR_EXTENSION;
	out->has_bc = 1;
	rc = der_get_optional(&seq, DER_BOOLEAN, &v, NULL);
	if (rc < 0)
		return X509_ERR_EXTENSION;
	if (rc == 1) {
		out->is_ca = der_bool(&v);
		if (out->is_ca < 0)
			return X509_ERR_EXTENSION;
	}
	rc = der_get_optional(&seq, DER_INTEGER, &v, NULL);
	if (rc < 0 || !der_empty(&seq))
		return X509_ERR_EXTENSION;
	if (rc == 1) {
		if (der_int_small(&v, &n) != 0 || n > 255)
			return X509_ERR_EXTENSION;
		out->path_len = (int)n;
	}
	return X509_OK;
}

static enum x509_err
x509_parse_ku(struct der d, struct x509_cert *out)
{
	struct der	 bits;
	size_t		 i, nbits;

	if (der_get(&d, DER_BIT_STRING, &bits, NULL) != 0 ||
	    !der_empty(&d) || bits.len < 1 || bits.p[0] > 7 ||
	    (bits.len == 1 && bits.p[0] != 0))
		return X509_ERR_EXTENSION;
	out->has_ku = 1;
	nbits = (bits.len - 1) * 8 - bits.p[0];
	for (i = 0; i < nbits && i < 9; i++)
		if (bits.p[1 + i / 8] & (0x80 >> (i % 8)))
			out->ku |= 1u << i;
	return X509_OK;
}

static enum x509_err
x509_parse_eku(struct der d, struct x509_cert *out)
{
	struct der	 seq, oid;

	if (der_get(&d, DER_SEQUENCE, &seq, NULL) != 0 || !der_empty(&d) ||
	    der_empty(&seq))
		return X509_ERR_EXTENSION;
	out->has_eku = 1;
	while (!der_empty(&seq)) {
		if (der_get(&seq, DER_OID, &oid, NULL) != 0)
			return X509_ERR_EXTENSION;
		if (x509_oid_is(&oid, oid_eku_server, sizeof(oid_eku_server)))
			out->eku |= X509_EKU_SERVER_AUTH;
		else if (x509_oid_is(&oid, oid_eku_client,
		    sizeof(oid_eku_client)))
			out->eku |= X509_EKU_CLIENT_AUTH;
		else if (x509_oid_is(&oid, oid_eku_any, sizeof(oid_eku_any)))
			out->eku |= X509_EKU_ANY;
		else
			out->eku |= X509_EKU_OTHER;
	}
	return X509_OK;
}

/* URIs ([6]) and DNS names ([2]) kept; other name forms checked, skipped. */
static enum x509_err
x509_parse_san(struct der d, struct x509_cert *out)
{
	struct der	 seq, name;
	int		 tag;

	if (der_get(&d, DER_SEQUENCE, &seq, NULL) != 0 || !der_empty(&d) ||
	    der_empty(&seq))
		return X509_ERR_EXTENSION;
	while (!der_empty(&seq)) {
		if (der_get_any(&seq, &tag, &name, NULL) != 0)
			return X509_ERR_EXTENSION;
		if (tag == DER_CONTEXT(6)) {
			if (out->nuris == X509_SANS_MAX)
				return X509_ERR_TOO_MANY_SANS;
			out->uris[out->nuris].p = name.p;
			out->uris[out->nuris++].len = name.len;
		} else if (tag == DER_CONTEXT(2)) {
			if (out->ndns == X509_SANS_MAX)
				return X509_ERR_TOO_MANY_SANS;
			out->dns[out->ndns].p = name.p;
			out->dns[out->ndns++].len = name.len;
		} else if ((tag & 0xc0) != 0x80)
			return X509_ERR_EXTENSION;
	}
	return X509_OK;
}

static enum x509_err
x509_parse_ski(struct der d, struct x509_cert *out)
{
	struct der	 id;

	if (der_get(&d, DER_OCTET_STRING, &id, NULL) != 0 || !der_empty(&d))
		return X509_ERR_EXTENSION;
	out->ski.p = id.p;
	out->ski.len = id.len;
	return X509_OK;
}

static enum x509_err
x509_parse_aki(struct der d, struct x509_cert *out)
{
	struct der	 seq, id;
	int		 rc;

	if (der_get(&d, DER_SEQUENCE, &seq, NULL) != 0 || !der_empty(&d))
		return X509_ERR_EXTENSION;
	rc = der_get_optional(&seq, DER_CONTEXT(0), &id, NULL);
	if (rc < 0)
		return X509_ERR_EXTENSION;
	if (rc == 1) {
		out->aki.p = id.p;
		out->aki.len = id.len;
	}
	/* authorityCertIssuer [1] and authorityCertSerialNumber [2]. */
	if (der_get_optional(&seq, DER_CONTEXT_CONS(1), NULL, NULL) < 0 ||
	    der_get_optional(&seq, DER_CONTEXT(2), NULL, NULL) < 0 ||
	    !der_empty(&seq))
		return X509_ERR_EXTENSION;
	return X509_OK;
}

int
x509_equal(const struct x509_cert *a, const struct x509_cert *b)
{
	return a->der.len == b->der.len &&
	    memcmp(a->der.p, b->der.p, a->der.len) == 0;
}

/* wolfCrypt's answer as ours: only a clean "verified" passes. */
static enum x509_err
x509_sig_result(int rc)
{
	if (rc == 0)
		return X509_OK;
	if (rc == MEMORY_E)
		return X509_ERR_NOMEM;
	return X509_ERR_SIGNATURE;
}

static enum x509_err
x509_check_ecdsa(const struct x509_cert *cert,
    const struct x509_cert *issuer, enum wc_HashType hash)
{
	ecc_key		 key;
	int		 curve, rc;

	switch (issuer->curve) {
	case X509_CURVE_P256:
		curve = ECC_SECP256R1;
		break;
	case X509_CURVE_P384:
		curve = ECC_SECP384R1;
		break;
	case X509_CURVE_P521:
		curve = ECC_SECP521R1;
		break;
	default:
		return X509_ERR_KEY;
	}
	if (wc_ecc_init(&key) != 0)
		return X509_ERR_NOMEM;
	rc = wc_ecc_import_x963_ex(issuer->pubkey.p, (word32)issuer->pubkey.len,
	    &key, curve);
	if (rc != 0) {
		wc_ecc_free(&key);
		return X509_ERR_KEY;
	}
	rc = wc_SignatureVerify(hash, WC_SIGNATURE_TYPE_ECC, cert->tbs.p,
	    (word32)cert->tbs.len, cert->sig.p, (word32)cert->sig.len, &key,
	    sizeof(key));
	wc_ecc_free(&key);
	return x509_sig_result(rc);
}

static enum x509_err
x509_check_rsa(const struct x509_cert *cert, const struct x509_cert *issuer,
    enum wc_HashType hash)
{
	RsaKey		 key;
	word32		 idx = 0;
	int		 rc;

	if (issuer->key_bits < X509_RSA_BITS_MIN)
		return X509_ERR_KEY;
	if (wc_InitRsaKey(&key, NULL) != 0)
		return X509_ERR_NOMEM;
	rc = wc_RsaPublicKeyDecode(issuer->pubkey.p, &idx, &key,
	    (word32)issuer->pubkey.len);
	if (rc != 0) {
		wc_FreeRsaKey(&key);
		return X509_ERR_KEY;
	}
	rc = wc_SignatureVerify(hash, WC_SIGNATURE_TYPE_RSA_W_ENC, cert->tbs.p,
	    (word32)cert->tbs.len, cert->sig.p, (word32)cert->sig.len, &key,
	    sizeof(key));
	wc_FreeRsaKey(&key);
	return x509_sig_result(rc);
}

static enum x509_err
x509_check_ed25519(const struct x509_cert *cert,
    const struct x509_cert *issuer)
{
	ed25519_key	 key;
	int		 rc, ok = 0;

	if (wc_ed25519_init(&key) != 0)
		return X509_ERR_NOMEM;
	if (wc_ed25519_import_public(issuer->pubkey.p,
	    (word32)issuer->pubkey.len, &key) != 0) {
		wc_ed25519_free(&key);
		return X509_ERR_KEY;
	}
	rc = wc_ed25519_verify_msg(cert->sig.p, (word32)cert->sig.len,
	    cert->tbs.p, (word32)cert->tbs.len, &ok, &key);
	wc_ed25519_free(&key);
	if (rc == MEMORY_E)
		return X509_ERR_NOMEM;
	return rc == 0 && ok == 1 ? X509_OK : X509_ERR_SIGNATURE;
}

enum x509_err
x509_check_signature(const struct x509_cert *cert,
    const struct x509_cert *issuer)
{
	switch (cert->sig_alg) {
	case X509_SIG_ECDSA_SHA256:
	case X509_SIG_ECDSA_SHA384:
	case X509_SIG_ECDSA_SHA512:
		if (issuer->key_type != X509_KEY_EC)
			return X509_ERR_KEY;
		return x509_check_ecdsa(cert, issuer,
		    cert->sig_alg == X509_SIG_ECDSA_SHA256 ?
		    WC_HASH_TYPE_SHA256 : cert->sig_alg ==
		    X509_SIG_ECDSA_SHA384 ? WC_HASH_TYPE_SHA384 :
		    WC_HASH_TYPE_SHA512);
	case X509_SIG_RSA_SHA256:
	case X509_SIG_RSA_SHA384:
	case X509_SIG_RSA_SHA512:
		if (issuer->key_type != X509_KEY_RSA)
			return X509_ERR_KEY;
		return x509_check_rsa(cert, issuer,
		    cert->sig_alg == X509_SIG_RSA_SHA256 ?
		    WC_HASH_TYPE_SHA256 : cert->sig_alg ==
		    X509_SIG_RSA_SHA384 ? WC_HASH_TYPE_SHA384 :
		    WC_HASH_TYPE_SHA512);
	case X509_SIG_ED25519:
		if (issuer->key_type != X509_KEY_ED25519)
			return X509_ERR_KEY;
		return x509_check_ed25519(cert, issuer);
	case X509_SIG_UNKNOWN:
		/* XXX: RSA-PSS and others are not supported. */
		break;
	}
	return X509_ERR_SIG_ALG;
}

static enum x509_err
x509_check_time(const struct x509_cert *c, long long now)
{
	if (now < c->not_before)
		return X509_ERR_NOT_YET_VALID;
	if (now > c->not_after)
		return X509_ERR_EXPIRED;
	return X509_OK;
}

/* Go picks candidate issuers by exact Name bytes; so do we. */
static int
x509_names_match(const struct x509_cert *child,
    const struct x509_cert *parent)
{
	return child->issuer.len == parent->subject.len &&
	    memcmp(child->issuer.p, parent->subject.p, child->issuer.len) == 0;
}

/*
 * Can parent sign child here? below counts the intermediates between
 * parent and the leaf. *parent_fault tells whether an error is the
 * parent's (its time, flags) or the link's (the signature).
 */
static enum x509_err
x509_check_link(const struct x509_cert *child,
    const struct x509_cert *parent, int is_root, size_t below,
    long long now, int *parent_fault)
{
	enum x509_err	 err;

	*parent_fault = 0;
	err = x509_check_signature(child, parent);
	if (err != X509_OK)
		return err;
	*parent_fault = 1;
	err = x509_check_time(parent, now);
	if (err != X509_OK)
		return err;
	if (parent->unknown_critical)
		return X509_ERR_CRITICAL_EXTENSION;
	/* XXX: refused rather than enforced. */
	if (parent->has_name_constraints)
		return X509_ERR_NAME_CONSTRAINTS;
	if (!is_root) {
		if (!parent->has_bc || !parent->is_ca)
			return X509_ERR_ISSUER_NOT_CA;
		if (parent->has_ku && !(parent->ku & X509_KU_KEY_CERT_SIGN))
			return X509_ERR_ISSUER_KEY_USAGE;
	}
	if (parent->has_bc && parent->path_len >= 0 &&
	    below > (size_t)parent->path_len)
		return X509_ERR_PATH_LEN;
	return X509_OK;
}

enum x509_err
x509_verify_chain(const struct x509_cert *chain, size_t n,
    const struct x509_cert *roots, size_t nroots, long long now, size_t *at)
{
	const struct x509_cert	*cur;
	enum x509_err		 err, best;
	size_t			 cur_at, best_at, below, i, step, dummy;
	unsigned		 used = 0;
	int			 parent_fault;

	if (at == NULL)
		at = &dummy;
	*at = 0;
	if (n == 0)
		return X509_ERR_CHAIN_EMPTY;
	if (n > X509_CHAIN_MAX)
		return X509_ERR_CHAIN_TOO_LONG;
	if (nroots == 0)
		return X509_ERR_NO_ROOTS;
	cur = &chain[0];
	cur_at = 0;
	err = x509_check_time(cur, now);
	if (err == X509_OK && cur->unknown_critical)
		err = X509_ERR_CRITICAL_EXTENSION;
	if (err != X509_OK)
		return err;
	for (step = 0, below = 0; step < n; step++) {
		/*
		 * A root ends the path; failing that an unused intermediate
		 * extends it. Of several failing candidates, the first
		 * error that is not "unknown issuer" is the one reported.
		 * XXX: greedy, without backtracking.
		 */
		best = X509_ERR_UNKNOWN_ISSUER;
		best_at = cur_at;
		for (i = 0; i < nroots; i++) {
			if (!x509_names_match(cur, &roots[i]))
				continue;
			err = x509_check_link(cur, &roots[i], 1, below, now,
			    &parent_fault);
			if (err == X509_OK)
				return X509_OK;
			if (best == X509_ERR_UNKNOWN_ISSUER) {
				best = err;
				best_at = parent_fault ? n + i : cur_at;
			}
		}
		for (i = 1; i < n; i++) {
			if ((used & (1u << i)) != 0 ||
			    !x509_names_match(cur, &chain[i]))
				continue;
			err = x509_check_link(cur, &chain[i], 0, below, now,
			    &parent_fault);
			if (err == X509_OK)
				break;
			if (best == X509_ERR_UNKNOWN_ISSUER) {
				best = err;
				best_at = parent_fault ? i : cur_at;
			}
		}
		if (i == n) {
			*at = best_at;
			return best;
		}
		used |= 1u << i;
		cur = &chain[i];
		cur_at = i;
		below++;
	}
	/* Every intermediate used and still no root. */
	*at = cur_at;
	return X509_ERR_UNKNOWN_ISSUER;
}
