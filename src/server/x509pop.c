/* x509pop payload, challenge and response, as SPIRE's plugin has them. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "core/base64.h"
#include "core/limits.h"
#include "core/mem.h"
#include "hal/key.h"
#include "pki/verify.h"
#include "server/x509pop.h"

static int	pop_b64(const json_t *, uint8_t *, size_t, size_t *);
static size_t	pop_der_int(const uint8_t *, size_t, uint8_t *);

void
x509pop_payload_free(struct x509pop_payload *p)
{
	size_t	i;

	for (i = 0; i < p->n; i++)
		mem_free(p->der[i]);
	memset(p, 0, sizeof(*p));
}

/* Decodes a base64 string member into out (room bytes). 0 or -1. */
static int
pop_b64(const json_t *v, uint8_t *out, size_t room, size_t *len)
{
	const char	*s = json_string_value(v);

	if (s == NULL)
		return -1;
	return base64_decode(BASE64_STD, s, strlen(s), out, room, len);
}

int
x509pop_parse_payload(const uint8_t *buf, size_t len,
    struct x509pop_payload *p, char *why, size_t whylen)
{
	json_error_t	 jerr;
	json_t		*root, *certs, *v;
	size_t		 i, max;
	int		 rc = -1;

	memset(p, 0, sizeof(*p));
	root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (root == NULL) {
		snprintf(why, whylen, "failed to unmarshal data: %s",
		    jerr.text);
		return -1;
	}
	certs = json_object_get(root, "certificates");
	if (!json_is_array(certs) || json_array_size(certs) == 0) {
		snprintf(why, whylen, "no certificate to attest");
		goto out;
	}
	if (json_array_size(certs) > 1 + SERVER_X509POP_INTERMEDIATES_MAX) {
		snprintf(why, whylen, "more than %d intermediates",
		    SERVER_X509POP_INTERMEDIATES_MAX);
		goto out;
	}
	json_array_foreach(certs, i, v) {
		const char *s = json_string_value(v);

		if (s == NULL) {
			snprintf(why, whylen, "certificate %zu is not a "
			    "string", i);
			goto out;
		}
		max = base64_decoded_max(strlen(s));
		if (max > X509_CERT_MAX)
			max = X509_CERT_MAX;
		p->der[p->n] = mem_alloc(max);
		if (p->der[p->n] == NULL) {
			snprintf(why, whylen, "out of memory");
			goto out;
		}
		if (pop_b64(v, p->der[p->n], max, &p->len[p->n]) == -1) {
			mem_free(p->der[p->n]);
			p->der[p->n] = NULL;
			snprintf(why, whylen, "certificate %zu is not base64 "
			    "(or too big)", i);
			goto out;
		}
		p->n++;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

char *
x509pop_challenge(const uint8_t nonce[X509POP_NONCE_LEN], int rsa)
{
	char	 b64[64], *s;
	json_t	*root;

	if (base64_encode(BASE64_STD, nonce, X509POP_NONCE_LEN, b64,
	    sizeof(b64)) == -1)
		return NULL;
	/* Go marshals the unset member as null. */
	root = json_pack("{s:o?,s:o?}", "rsa_signature",
	    rsa ? json_pack("{s:s}", "nonce", b64) : json_null(),
	    "ecdsa_signature", rsa ? json_null() : json_pack("{s:s}",
	    "nonce", b64));
	if (root == NULL)
		return NULL;
	s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return s;
}

/* An ASN.1 INTEGER of an unsigned big-endian value; its length. */
static size_t
pop_der_int(const uint8_t *v, size_t n, uint8_t *out)
{
	size_t	o = 0;

	while (n > 1 && *v == 0) {
		v++;
		n--;
	}
	out[o++] = 0x02;
	out[o++] = (uint8_t)(n + ((v[0] & 0x80) ? 1 : 0));
	if (v[0] & 0x80)
		out[o++] = 0;
	memcpy(out + o, v, n);
	return o + n;
}

int
x509pop_check_response(const uint8_t *buf, size_t len,
    const uint8_t nonce[X509POP_NONCE_LEN], const struct x509_cert *leaf,
    char *why, size_t whylen)
{
	json_error_t	 jerr;
	json_t		*root, *sig;
	uint8_t		 rn[64], r[80], s[80], msg[2 * X509POP_NONCE_LEN];
	uint8_t		 d[WC_SHA256_DIGEST_SIZE], der[2 * 80 + 8];
	uint8_t		 rsig[1024];
	size_t		 rnlen, rlen, slen, o, ilen;
	int		 rc = -1;

	root = json_loadb((const char *)buf, len, 0, &jerr);
	if (root == NULL) {
		snprintf(why, whylen, "unable to unmarshal challenge "
		    "response: %s", jerr.text);
		return -1;
	}
	sig = json_object_get(root, leaf->key_type == X509_KEY_RSA ?
	    "rsa_signature" : "ecdsa_signature");
	if (!json_is_object(sig)) {
		snprintf(why, whylen, "expecting %s signature",
		    leaf->key_type == X509_KEY_RSA ? "RSA" : "ECDSA");
		goto out;
	}
	if (pop_b64(json_object_get(sig, "nonce"), rn, sizeof(rn),
	    &rnlen) == -1 || rnlen != X509POP_NONCE_LEN) {
		snprintf(why, whylen, "malformed response nonce");
		goto out;
	}
	memcpy(msg, nonce, X509POP_NONCE_LEN);
	memcpy(msg + X509POP_NONCE_LEN, rn, X509POP_NONCE_LEN);
	if (leaf->key_type == X509_KEY_RSA) {
		/*
		 * XXX: Go signs with the maximum salt length; this
		 * checks the default (hash length) only.
		 */
		/* PS256 hashes msg, giving D: what the agent signed. */
		if (pop_b64(json_object_get(sig, "signature"), rsig,
		    sizeof(rsig), &rlen) == -1 ||
		    sig_verify(SIG_PS256, leaf->spki.p, leaf->spki.len, msg,
		    sizeof(msg), rsig, rlen) != 0) {
			snprintf(why, whylen, "RSA signature verify failed");
			goto out;
		}
		rc = 0;
		goto out;
	}
	if (leaf->key_type != X509_KEY_EC ||
	    pop_b64(json_object_get(sig, "r"), r, sizeof(r), &rlen) == -1 ||
	    pop_b64(json_object_get(sig, "s"), s, sizeof(s), &slen) == -1 ||
	    rlen == 0 || slen == 0 || rlen > 66 || slen > 66) {
		snprintf(why, whylen, "malformed ECDSA signature");
		goto out;
	}
	if (wc_Sha256Hash(msg, sizeof(msg), d) != 0)
		goto out;
	o = 2;
	o += pop_der_int(r, rlen, der + o);
	o += pop_der_int(s, slen, der + o);
	ilen = o - 2;
	der[0] = 0x30;
	der[1] = (uint8_t)ilen;
	if (ilen > 127) {
		snprintf(why, whylen, "malformed ECDSA signature");
		goto out;
	}
	if (key_verify_spki(leaf->spki.p, leaf->spki.len, d, sizeof(d), der,
	    o) != 0) {
		snprintf(why, whylen, "ECDSA signature verify failed");
		goto out;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

int
x509pop_fingerprint(const uint8_t *der, size_t len, char out[41])
{
	static const char	hex[] = "0123456789abcdef";
	uint8_t			d[WC_SHA_DIGEST_SIZE];
	size_t			i;

	if (wc_ShaHash(der, (word32)len, d) != 0)
		return -1;
	for (i = 0; i < sizeof(d); i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[40] = '\0';
	return 0;
}
