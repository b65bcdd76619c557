/* JWK <-> SubjectPublicKeyInfo. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "core/base64.h"
#include "core/mem.h"
#include "pki/der.h"
#include "spiffe/jwk.h"

#define JWK_COORD_MAX	66	/* bytes of a P-521 coordinate */
#define JWK_RSA_MAX	1024	/* bytes of an 8192-bit modulus */

static const uint8_t oid_ec[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
static const uint8_t oid_rsa[] =
    { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };

static const struct curve {
	const char	*crv;
	uint8_t		 oid[8];
	size_t		 oid_len;
	size_t		 coord;		/* bytes of x and of y */
} curves[] = {
	{ "P-256", { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 }, 8, 32 },
	{ "P-384", { 0x2b, 0x81, 0x04, 0x00, 0x22 }, 5, 48 },
	{ "P-521", { 0x2b, 0x81, 0x04, 0x00, 0x23 }, 5, 66 },
};

#define NCURVES	(sizeof(curves) / sizeof(curves[0]))

static int	put_b64(json_t *, const char *, const uint8_t *, size_t);
static int	get_b64(const json_t *, const char *, uint8_t *, size_t,
		    size_t *);

static int
put_b64(json_t *obj, const char *name, const uint8_t *p, size_t len)
{
	char	 s[2 * JWK_RSA_MAX];

	if (base64_encode(BASE64_URL, p, len, s, sizeof(s)) == -1)
		return -1;
	return json_object_set_new(obj, name, json_string(s));
}

static int
get_b64(const json_t *obj, const char *name, uint8_t *out, size_t outsz,
    size_t *len)
{
	const json_t	*v = json_object_get(obj, name);

	if (!json_is_string(v))
		return -1;
	return base64_decode(BASE64_URL, json_string_value(v),
	    json_string_length(v), out, outsz, len);
}

int
jwk_put_key(json_t *obj, const uint8_t *spki, size_t len)
{
	struct der	 r, seq, alg, oid, param, bits, rsa, n, e;
	size_t		 i;

	der_init(&r, spki, len);
	if (der_get(&r, DER_SEQUENCE, &seq, NULL) == -1 ||
	    der_get(&seq, DER_SEQUENCE, &alg, NULL) == -1 ||
	    der_get(&seq, DER_BIT_STRING, &bits, NULL) == -1 ||
	    der_get(&alg, DER_OID, &oid, NULL) == -1 ||
	    bits.len < 2 || bits.p[0] != 0)
		return -1;
	bits.p++;
	bits.len--;
	if (der_equal(&oid, oid_ec, sizeof(oid_ec))) {
		if (der_get(&alg, DER_OID, &param, NULL) == -1)
			return -1;
		for (i = 0; i < NCURVES; i++)
			if (der_equal(&param, curves[i].oid,
			    curves[i].oid_len))
				break;
		/* Only uncompressed points: 04 || x || y. */
		if (i == NCURVES || bits.len != 1 + 2 * curves[i].coord ||
		    bits.p[0] != 0x04)
			return -1;
		if (json_object_set_new(obj, "kty", json_string("EC")) == -1 ||
		    json_object_set_new(obj, "crv",
		    json_string(curves[i].crv)) == -1 ||
		    put_b64(obj, "x", bits.p + 1, curves[i].coord) == -1 ||
		    put_b64(obj, "y", bits.p + 1 + curves[i].coord,
		    curves[i].coord) == -1)
			return -1;
		return 0;
	}
	if (!der_equal(&oid, oid_rsa, sizeof(oid_rsa)))
		return -1;
	der_init(&r, bits.p, bits.len);
	if (der_get(&r, DER_SEQUENCE, &rsa, NULL) == -1 ||
	    der_get(&rsa, DER_INTEGER, &n, NULL) == -1 ||
	    der_get(&rsa, DER_INTEGER, &e, NULL) == -1 ||
	    n.len == 0 || e.len == 0)
		return -1;
	/* JWK integers are unsigned with no leading zero byte. */
	while (n.len > 1 && n.p[0] == 0) {
		n.p++;
		n.len--;
	}
	while (e.len > 1 && e.p[0] == 0) {
		e.p++;
		e.len--;
	}
	if (n.len > JWK_RSA_MAX ||
	    json_object_set_new(obj, "kty", json_string("RSA")) == -1 ||
	    put_b64(obj, "n", n.p, n.len) == -1 ||
	    put_b64(obj, "e", e.p, e.len) == -1)
		return -1;
	return 0;
}

int
jwk_get_key(const json_t *obj, uint8_t **spki, size_t *len, char *err,
    size_t errlen)
{
	struct der_w	 w;
	const char	*kty, *crv;
	uint8_t		 pt[1 + 2 * JWK_COORD_MAX], n[JWK_RSA_MAX], e[16];
	size_t		 i, xl, yl, nl, el;

	kty = json_string_value(json_object_get(obj, "kty"));
	if (kty == NULL) {
		snprintf(err, errlen, "key has no \"kty\"");
		return -1;
	}
	der_w_init(&w, 4096);
	der_w_begin(&w, DER_SEQUENCE);
	der_w_begin(&w, DER_SEQUENCE);
	if (strcmp(kty, "EC") == 0) {
		crv = json_string_value(json_object_get(obj, "crv"));
		for (i = 0; crv != NULL && i < NCURVES; i++)
			if (strcmp(crv, curves[i].crv) == 0)
				break;
		if (crv == NULL || i == NCURVES) {
			snprintf(err, errlen, "unsupported EC curve \"%s\"",
			    crv != NULL ? crv : "none");
			goto fail;
		}
		pt[0] = 0x04;
		if (get_b64(obj, "x", pt + 1, JWK_COORD_MAX, &xl) == -1 ||
		    get_b64(obj, "y", pt + 1 + xl, JWK_COORD_MAX, &yl) == -1 ||
		    xl != curves[i].coord || yl != curves[i].coord) {
			snprintf(err, errlen, "bad EC key coordinates");
			goto fail;
		}
		der_w_tlv(&w, DER_OID, oid_ec, sizeof(oid_ec));
		der_w_tlv(&w, DER_OID, curves[i].oid, curves[i].oid_len);
		der_w_end(&w);
		der_w_bits(&w, pt, 1 + xl + yl);
	} else if (strcmp(kty, "RSA") == 0) {
		if (get_b64(obj, "n", n, sizeof(n), &nl) == -1 ||
		    get_b64(obj, "e", e, sizeof(e), &el) == -1 ||
		    nl == 0 || el == 0) {
			snprintf(err, errlen, "bad RSA key parameters");
			goto fail;
		}
		der_w_tlv(&w, DER_OID, oid_rsa, sizeof(oid_rsa));
		der_w_tlv(&w, DER_NULL, NULL, 0);
		der_w_end(&w);
		der_w_begin(&w, DER_BIT_STRING);
		der_w_raw(&w, "", 1);
		der_w_begin(&w, DER_SEQUENCE);
		der_w_uint(&w, n, nl);
		der_w_uint(&w, e, el);
		der_w_end(&w);
		der_w_end(&w);
	} else {
		snprintf(err, errlen, "unsupported key type \"%s\"", kty);
		goto fail;
	}
	der_w_end(&w);
	if (der_w_finish(&w, spki, len) == -1) {
		snprintf(err, errlen, "cannot encode the key");
		return -1;
	}
	return 0;
fail:
	der_w_cleanup(&w);
	return -1;
}
