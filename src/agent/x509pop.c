/*
 * The x509pop node attestor's agent half, as SPIRE's: the payload is
 * {"certificates": [DER leaf, DER intermediates...]} (Go encodes []byte
 * as standard base64); the server challenges with
 * {"ecdsa_signature": {"nonce": 32 bytes}} and the agent answers with
 * its own 32-byte nonce and an ECDSA signature over
 * SHA-256(challenge nonce || response nonce), r and s as minimal
 * unsigned big-endian bytes. RSA device keys are not supported here
 * (hal/key.h holds EC keys only).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "agent/internal.h"
#include "core/base64.h"
#include "core/mem.h"
#include "hal/key.h"
#include "hal/rand.h"
#include "pki/der.h"
#include "pki/pem.h"
#include "pki/x509.h"

#define X509POP_NONCE_LEN	32
#define X509POP_FILE_MAX	(256 * 1024)

static int	x509pop_read(const char *path, char **text, size_t *len,
		    char *err, size_t errlen);
static int	x509pop_b64(json_t *, const char *name, const uint8_t *,
		    size_t);
static struct key *x509pop_key(const struct agent_x509pop_config *,
		    char *err, size_t errlen);

static int
x509pop_read(const char *path, char **text, size_t *len, char *err,
    size_t errlen)
{
	FILE	*f;
	char	*p;
	size_t	 n;

	*text = NULL;
	f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(err, errlen, "x509pop: cannot open %s", path);
		return -1;
	}
	p = mem_alloc(X509POP_FILE_MAX + 1);
	if (p == NULL) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n = fread(p, 1, X509POP_FILE_MAX + 1, f);
	fclose(f);
	if (n > X509POP_FILE_MAX) {
		mem_free(p);
		snprintf(err, errlen, "x509pop: %s is too large", path);
		return -1;
	}
	p[n] = '\0';
	*text = p;
	*len = n;
	return 0;
}

static int
x509pop_b64(json_t *obj, const char *name, const uint8_t *p, size_t len)
{
	char	*s;
	size_t	 n;
	int	 rc;

	n = base64_encoded_len(BASE64_STD, len) + 1;
	s = mem_alloc(n);
	if (s == NULL)
		return -1;
	if (base64_encode(BASE64_STD, p, len, s, n) == -1) {
		mem_free(s);
		return -1;
	}
	rc = json_object_set_new(obj, name, json_string(s));
	mem_free(s);
	return rc == 0 ? 0 : -1;
}

int
x509pop_payload(const struct agent_x509pop_config *cfg, struct buf *out,
    char *err, size_t errlen)
{
	const char		*paths[2];
	struct pem_block	*blk;
	json_t			*doc, *arr;
	char			*text, *s, *b64;
	size_t			 i, j, n, len, bl;
	int			 rc = -1;

	paths[0] = cfg->certificate_path;
	paths[1] = cfg->intermediates_path;
	doc = json_object();
	arr = json_array();
	if (doc == NULL || arr == NULL || json_object_set(doc,
	    "certificates", arr) != 0)
		goto out;
	for (i = 0; i < 2; i++) {
		if (paths[i] == NULL || *paths[i] == '\0')
			continue;
		if (x509pop_read(paths[i], &text, &len, err, errlen) == -1)
			goto out;
		if (pem_decode(text, len, PEM_LABEL_CERTIFICATE, &blk,
		    &n) != PEM_OK) {
			mem_free(text);
			snprintf(err, errlen, "x509pop: no certificate in %s",
			    paths[i]);
			goto out;
		}
		mem_free(text);
		for (j = 0; j < n; j++) {
			bl = base64_encoded_len(BASE64_STD, blk[j].len) + 1;
			b64 = mem_alloc(bl);
			if (b64 == NULL || base64_encode(BASE64_STD,
			    blk[j].der, blk[j].len, b64, bl) == -1 ||
			    json_array_append_new(arr, json_string(b64)) != 0) {
				mem_free(b64);
				pem_blocks_free(blk, n);
				goto out;
			}
			mem_free(b64);
		}
		pem_blocks_free(blk, n);
	}
	s = json_dumps(doc, JSON_COMPACT);
	if (s == NULL)
		goto out;
	rc = buf_append(out, s, strlen(s));
	mem_free(s);
out:
	if (rc == -1 && err[0] == '\0')
		snprintf(err, errlen, "x509pop: cannot build the payload");
	json_decref(arr);
	json_decref(doc);
	return rc;
}

/* The private key, which must be the certificate's. */
static struct key *
x509pop_key(const struct agent_x509pop_config *cfg, char *err,
    size_t errlen)
{
	struct pem_block	*blk = NULL, *cb = NULL;
	struct x509_cert	 leaf;
	struct key		*k = NULL;
	enum key_err		 ke;
	const uint8_t		*spki;
	char			*text;
	size_t			 n = 0, cn = 0, len, sl;

	if (x509pop_read(cfg->private_key_path, &text, &len, err,
	    errlen) == -1)
		return NULL;
	if (pem_decode(text, len, NULL, &blk, &n) != PEM_OK || n == 0) {
		mem_free_wipe(text, len);
		snprintf(err, errlen, "x509pop: no key in %s",
		    cfg->private_key_path);
		return NULL;
	}
	mem_free_wipe(text, len);
	if (strcmp(blk[0].label, PEM_LABEL_PKCS8) != 0 &&
	    strcmp(blk[0].label, PEM_LABEL_EC_KEY) != 0) {
		snprintf(err, errlen, "x509pop: %s holds a \"%s\" block; an "
		    "EC key is needed (RSA is not supported)",
		    cfg->private_key_path, blk[0].label);
		goto out;
	}
	k = key_soft_load(blk[0].der, blk[0].len, &ke);
	if (k == NULL) {
		snprintf(err, errlen, "x509pop: key in %s: %s (only EC "
		    "P-256/P-384 keys are supported)", cfg->private_key_path,
		    key_strerror(ke));
		goto out;
	}
	if (x509pop_read(cfg->certificate_path, &text, &len, err,
	    errlen) == -1)
		goto bad;
	if (pem_decode(text, len, PEM_LABEL_CERTIFICATE, &cb, &cn) !=
	    PEM_OK || x509_parse(cb[0].der, cb[0].len, &leaf) != X509_OK) {
		mem_free(text);
		snprintf(err, errlen, "x509pop: bad certificate in %s",
		    cfg->certificate_path);
		goto bad;
	}
	mem_free(text);
	spki = key_spki(k, &sl);
	if (sl != leaf.spki.len || memcmp(spki, leaf.spki.p, sl) != 0) {
		snprintf(err, errlen, "x509pop: the private key does not "
		    "match the certificate");
		goto bad;
	}
	goto out;
bad:
	key_free(k);
	k = NULL;
out:
	pem_blocks_free(cb, cn);
	pem_blocks_free(blk, n);
	return k;
}

/*
 * The response JSON for a challenge nonce and our nonce, signed with
 * key. Pure but for the signature's randomness; 0 or -1.
 */
int
x509pop_response_json(struct key *key, const uint8_t *chal,
    size_t chal_len, const uint8_t resp_nonce[32], struct buf *out,
    char *err, size_t errlen)
{
	wc_Sha256	 h;
	uint8_t		 d[WC_SHA256_DIGEST_SIZE], sig[KEY_SIG_MAX];
	size_t		 siglen = sizeof(sig);
	struct der	 ds, seq, r, s;
	json_t		*doc = NULL, *ec;
	char		*txt;
	int		 rc = -1;

	if (chal_len != X509POP_NONCE_LEN) {
		snprintf(err, errlen, "x509pop: challenge nonce of %zu bytes",
		    chal_len);
		return -1;
	}
	if (wc_InitSha256(&h) != 0 || wc_Sha256Update(&h, chal,
	    (word32)chal_len) != 0 || wc_Sha256Update(&h, resp_nonce,
	    X509POP_NONCE_LEN) != 0 || wc_Sha256Final(&h, d) != 0) {
		snprintf(err, errlen, "x509pop: SHA-256 failed");
		return -1;
	}
	if (key_sign(key, d, sizeof(d), sig, &siglen) != KEY_OK) {
		snprintf(err, errlen, "x509pop: signing failed");
		return -1;
	}
	der_init(&ds, sig, siglen);
	if (der_get(&ds, DER_SEQUENCE, &seq, NULL) == -1 ||
	    der_get(&seq, DER_INTEGER, &r, NULL) == -1 ||
	    der_get(&seq, DER_INTEGER, &s, NULL) == -1) {
		snprintf(err, errlen, "x509pop: bad signature encoding");
		return -1;
	}
	/* big.Int.Bytes(): no sign byte, no leading zeros. */
	while (r.len > 0 && r.p[0] == 0) {
		r.p++;
		r.len--;
	}
	while (s.len > 0 && s.p[0] == 0) {
		s.p++;
		s.len--;
	}
	doc = json_object();
	ec = json_object();
	if (doc == NULL || ec == NULL) {
		json_decref(ec);
		goto out;
	}
	if (json_object_set_new(doc, "rsa_signature", json_null()) != 0 ||
	    json_object_set_new(doc, "ecdsa_signature", ec) != 0 ||
	    x509pop_b64(ec, "nonce", resp_nonce, X509POP_NONCE_LEN) == -1 ||
	    x509pop_b64(ec, "r", r.p, r.len) == -1 ||
	    x509pop_b64(ec, "s", s.p, s.len) == -1)
		goto out;
	txt = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (txt == NULL)
		goto out;
	rc = buf_append(out, txt, strlen(txt));
	mem_free(txt);
out:
	if (rc == -1 && err[0] == '\0')
		snprintf(err, errlen, "x509pop: cannot build the response");
	json_decref(doc);
	return rc;
}

int
x509pop_respond(const struct agent_x509pop_config *cfg,
    const uint8_t *challenge, size_t len, struct buf *out, char *err,
    size_t errlen)
{
	json_t		*doc, *ec, *nonce;
	json_error_t	 je;
	struct key	*k;
	uint8_t		 chal[64], mine[X509POP_NONCE_LEN];
	size_t		 cl;
	const char	*s;
	int		 rc = -1;

	doc = json_loadb((const char *)challenge, len, JSON_REJECT_DUPLICATES,
	    &je);
	if (doc == NULL || !json_is_object(doc)) {
		snprintf(err, errlen, "x509pop: challenge is not JSON");
		json_decref(doc);
		return -1;
	}
	ec = json_object_get(doc, "ecdsa_signature");
	if (ec == NULL || !json_is_object(ec)) {
		snprintf(err, errlen, "x509pop: %s", json_is_object(
		    json_object_get(doc, "rsa_signature")) ? "the server "
		    "asks for an RSA signature; RSA keys are not supported" :
		    "challenge without ecdsa_signature");
		goto out;
	}
	nonce = json_object_get(ec, "nonce");
	s = json_string_value(nonce);
	if (s == NULL || base64_decode(BASE64_STD, s, strlen(s), chal,
	    sizeof(chal), &cl) == -1) {
		snprintf(err, errlen, "x509pop: challenge nonce malformed");
		goto out;
	}
	k = x509pop_key(cfg, err, errlen);
	if (k == NULL)
		goto out;
	if (rand_bytes(mine, sizeof(mine)) == 0)
		rc = x509pop_response_json(k, chal, cl, mine, out, err,
		    errlen);
	key_free(k);
out:
	json_decref(doc);
	return rc;
}
