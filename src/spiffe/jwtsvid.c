/* JWT-SVID minting and validation. */
#include "config.h"

#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/hash.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "hal/key.h"
#include "hal/rand.h"
#include "spiffe/bundle.h"
#include "spiffe/jwtsvid.h"

static int	 b64_part(struct buf *, const char *, size_t);
static json_t	*decode_part(const char *, size_t);
static enum jwtsvid_err parse_header(json_t *, struct jwtsvid *);
static enum jwtsvid_err parse_claims(json_t *, struct jwtsvid *);
static int	 aud_has(const json_t *, const char *);

/* Appends the URL-safe base64 of p as one token part. */
static int
b64_part(struct buf *b, const char *p, size_t len)
{
	size_t	 n = base64_encoded_len(BASE64_URL, len) + 1;

	if (buf_reserve(b, n) == -1 ||
	    base64_encode(BASE64_URL, p, len, (char *)buf_ptr(b) + b->len,
	    n) == -1)
		return -1;
	buf_added(b, n - 1);
	return 0;
}

char *
jwtsvid_mint(struct key *k, const char *kid, const char *sub,
    const char *const *aud, size_t naud, int64_t iat, int64_t exp,
    const char *iss)
{
	struct jwtsvid_tbs	 t;
	uint8_t			 der[KEY_SIG_MAX];
	size_t			 dlen = sizeof(der);
	char			*tok = NULL;

	if (jwtsvid_tbs_make(key_get_type(k), kid, sub, aud, naud, iat, exp,
	    iss, &t) == -1)
		return NULL;
	if (key_sign(k, t.digest, t.digest_len, der, &dlen) == KEY_OK)
		tok = jwtsvid_tbs_finish(&t, der, dlen);
	else
		log_warnx("spiffe", "cannot mint a JWT-SVID for %s", sub);
	jwtsvid_tbs_cleanup(&t);
	return tok;
}

int
jwtsvid_tbs_make(enum key_type type, const char *kid, const char *sub,
    const char *const *aud, size_t naud, int64_t iat, int64_t exp,
    const char *iss, struct jwtsvid_tbs *out)
{
	json_t		*hdr, *claims, *a;
	struct buf	 b;
	char		*h = NULL, *c = NULL;
	size_t		 i;
	int		 p384 = type == KEY_EC_P384, rc = -1;

	memset(out, 0, sizeof(*out));
	hdr = json_pack("{s:s, s:s, s:s}", "alg", p384 ? "ES384" : "ES256",
	    "kid", kid, "typ", "JWT");
	claims = json_pack("{s:s, s:I, s:I}", "sub", sub, "exp",
	    (json_int_t)exp, "iat", (json_int_t)iat);
	a = json_array();
	buf_init(&b, JWTSVID_MAX);
	if (hdr == NULL || claims == NULL || a == NULL)
		goto out;
	for (i = 0; i < naud; i++)
		if (json_array_append_new(a, json_string(aud[i])) == -1)
			goto out;
	if (json_object_set(claims, "aud", a) == -1 ||
	    (iss != NULL && json_object_set_new(claims, "iss",
	    json_string(iss)) == -1))
		goto out;
	/* Sorted keys, as Go's encoding/json writes a map. */
	h = json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS);
	c = json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);
	if (h == NULL || c == NULL || b64_part(&b, h, strlen(h)) == -1 ||
	    buf_append(&b, ".", 1) == -1 ||
	    b64_part(&b, c, strlen(c)) == -1)
		goto out;
	out->digest_len = p384 ? 48 : 32;
	if (wc_Hash(p384 ? WC_HASH_TYPE_SHA384 : WC_HASH_TYPE_SHA256,
	    buf_ptr(&b), (word32)b.len, out->digest,
	    sizeof(out->digest)) != 0)
		goto out;
	out->type = type;
	out->input = (char *)buf_take(&b, &out->input_len);
	rc = out->input != NULL ? 0 : -1;
out:
	if (rc == -1) {
		log_warnx("spiffe", "cannot mint a JWT-SVID for %s", sub);
		memset(out, 0, sizeof(*out));
	}
	buf_cleanup(&b);
	json_decref(hdr);
	json_decref(claims);
	json_decref(a);
	mem_free(h);
	mem_free(c);
	return rc;
}

char *
jwtsvid_tbs_finish(const struct jwtsvid_tbs *t, const uint8_t *der,
    size_t dlen)
{
	struct buf	 b;
	uint8_t		 raw[2 * 48];
	size_t		 half = t->digest_len, tlen;
	word32		 rl, sl;
	char		*tok = NULL;

	buf_init(&b, JWTSVID_MAX);
	/* JWS wants r || s, each left-padded to the curve's size. */
	memset(raw, 0, sizeof(raw));
	rl = sl = (word32)half;
	if (half == 0 || half > 48 || wc_ecc_sig_to_rs(der, (word32)dlen,
	    raw, &rl, raw + half, &sl) != 0 || rl > half || sl > half)
		goto out;
	memmove(raw + (half - rl), raw, rl);
	memset(raw, 0, half - rl);
	memmove(raw + half + (half - sl), raw + half, sl);
	memset(raw + half, 0, half - sl);
	if (buf_append(&b, t->input, t->input_len) == -1 ||
	    buf_append(&b, ".", 1) == -1 ||
	    b64_part(&b, (const char *)raw, 2 * half) == -1 ||
	    buf_append(&b, "", 1) == -1)
		goto out;
	tok = (char *)buf_take(&b, &tlen);
out:
	if (tok == NULL)
		log_warnx("spiffe", "cannot finish a JWT-SVID");
	buf_cleanup(&b);
	return tok;
}

void
jwtsvid_tbs_cleanup(struct jwtsvid_tbs *t)
{
	mem_free(t->input);
	memset(t, 0, sizeof(*t));
}

/* A base64url part decoded and parsed as a JSON object, or NULL. */
static json_t *
decode_part(const char *p, size_t len)
{
	json_t	*v;
	char	*raw;
	size_t	 n;

	raw = mem_alloc(base64_decoded_max(len) + 1);
	if (raw == NULL)
		return NULL;
	if (base64_decode(BASE64_URL, p, len, raw, base64_decoded_max(len) +
	    1, &n) == -1) {
		mem_free(raw);
		return NULL;
	}
	v = json_loadb(raw, n, JSON_REJECT_DUPLICATES, NULL);
	mem_free(raw);
	if (v != NULL && !json_is_object(v)) {
		json_decref(v);
		return NULL;
	}
	return v;
}

static enum jwtsvid_err
parse_header(json_t *h, struct jwtsvid *out)
{
	const json_t	*alg = json_object_get(h, "alg");
	const json_t	*kid = json_object_get(h, "kid");
	const json_t	*typ = json_object_get(h, "typ");

	if (!json_is_string(alg))
		return JWTSVID_ERR_MALFORMED;
	if (sig_alg_parse(json_string_value(alg), json_string_length(alg),
	    &out->alg) == -1)
		return JWTSVID_ERR_ALG;
	if (typ != NULL && (!json_is_string(typ) ||
	    (strcmp(json_string_value(typ), "JWT") != 0 &&
	    strcmp(json_string_value(typ), "JOSE") != 0)))
		return JWTSVID_ERR_TYP;
	/* Critical extensions are never understood here. */
	if (json_object_get(h, "crit") != NULL)
		return JWTSVID_ERR_MALFORMED;
	if (kid != NULL) {
		if (!json_is_string(kid))
			return JWTSVID_ERR_MALFORMED;
		out->kid = mem_strdup(json_string_value(kid));
		if (out->kid == NULL)
			return JWTSVID_ERR_NOMEM;
	}
	return JWTSVID_OK;
}

static enum jwtsvid_err
parse_claims(json_t *c, struct jwtsvid *out)
{
	const json_t	*sub = json_object_get(c, "sub");
	const json_t	*exp = json_object_get(c, "exp");
	const json_t	*iat = json_object_get(c, "iat");
	const char	*s, *td, *slash;

	if (!json_is_string(sub) || json_string_length(sub) == 0)
		return JWTSVID_ERR_SUBJECT;
	s = json_string_value(sub);
	if (strncmp(s, "spiffe://", 9) != 0)
		return JWTSVID_ERR_SUBJECT;
	td = s + 9;
	slash = strchr(td, '/');
	if (slash == td)
		return JWTSVID_ERR_SUBJECT;
	out->sub = mem_strdup(s);
	out->trust_domain = slash != NULL ?
	    mem_strndup(td, (size_t)(slash - td)) : mem_strdup(td);
	if (out->sub == NULL || out->trust_domain == NULL)
		return JWTSVID_ERR_NOMEM;
	if (exp == NULL)
		return JWTSVID_ERR_NO_EXP;
	if (!json_is_number(exp))
		return JWTSVID_ERR_MALFORMED;
	out->exp = (int64_t)json_number_value(exp);
	if (iat != NULL) {
		if (!json_is_number(iat))
			return JWTSVID_ERR_MALFORMED;
		out->iat = (int64_t)json_number_value(iat);
	}
	out->claims = json_incref(c);
	return JWTSVID_OK;
}

enum jwtsvid_err
jwtsvid_parse(const char *tok, size_t len, struct jwtsvid *out)
{
	const char		*d1, *d2, *end = tok + len;
	json_t			*h = NULL, *c = NULL;
	enum jwtsvid_err	 e;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len > JWTSVID_MAX)
		return JWTSVID_ERR_MALFORMED;
	d1 = memchr(tok, '.', len);
	d2 = d1 != NULL ? memchr(d1 + 1, '.', (size_t)(end - d1 - 1)) :
	    NULL;
	if (d1 == NULL || d2 == NULL ||
	    memchr(d2 + 1, '.', (size_t)(end - d2 - 1)) != NULL)
		return JWTSVID_ERR_MALFORMED;
	h = decode_part(tok, (size_t)(d1 - tok));
	c = decode_part(d1 + 1, (size_t)(d2 - d1 - 1));
	if (h == NULL || c == NULL) {
		e = JWTSVID_ERR_MALFORMED;
		goto out;
	}
	e = parse_header(h, out);
	if (e == JWTSVID_OK)
		e = parse_claims(c, out);
out:
	json_decref(h);
	json_decref(c);
	return e;
}

/* 1 when the aud claim (a string or an array of strings) holds want. */
static int
aud_has(const json_t *aud, const char *want)
{
	const json_t	*v;
	size_t		 i;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	json_array_foreach(aud, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v),
		    want) == 0)
			return 1;
	}
	return 0;
}

enum jwtsvid_err
jwtsvid_validate(const char *tok, size_t len, const char *const *auds,
    size_t naud, jwtsvid_bundle_fn lookup, void *arg, int64_t now,
    struct jwtsvid *out)
{
	const struct bundle	*b;
	const struct bundle_jwt	*k;
	const json_t		*aud, *nbf;
	const char		*d2;
	uint8_t			*sig;
	size_t			 i, siglen, slen;
	enum jwtsvid_err	 e;

	e = jwtsvid_parse(tok, len, out);
	if (e != JWTSVID_OK)
		return e;
	if (out->kid == NULL || *out->kid == '\0')
		return JWTSVID_ERR_NO_KID;
	b = lookup(arg, out->trust_domain);
	if (b == NULL)
		return JWTSVID_ERR_NO_BUNDLE;
	k = bundle_find_jwt(b, out->kid);
	if (k == NULL)
		return JWTSVID_ERR_NO_KEY;
	/* The signing input is everything before the last dot. */
	d2 = memrchr(tok, '.', len);
	slen = len - (size_t)(d2 + 1 - tok);
	sig = mem_alloc(base64_decoded_max(slen) + 1);
	if (sig == NULL)
		return JWTSVID_ERR_NOMEM;
	if (base64_decode(BASE64_URL, d2 + 1, slen, sig,
	    base64_decoded_max(slen) + 1, &siglen) == -1) {
		mem_free(sig);
		return JWTSVID_ERR_MALFORMED;
	}
	i = sig_verify(out->alg, k->spki, k->spki_len, (const uint8_t *)tok,
	    (size_t)(d2 - tok), sig, siglen) == 0;
	mem_free(sig);
	if (!i)
		return JWTSVID_ERR_SIGNATURE;
	if (now > out->exp + JWTSVID_LEEWAY_SEC)
		return JWTSVID_ERR_EXPIRED;
	nbf = json_object_get(out->claims, "nbf");
	if ((out->iat != 0 && out->iat > now + JWTSVID_LEEWAY_SEC) ||
	    (json_is_number(nbf) &&
	    (int64_t)json_number_value(nbf) > now + JWTSVID_LEEWAY_SEC))
		return JWTSVID_ERR_NOT_YET;
	aud = json_object_get(out->claims, "aud");
	if (naud == 0)
		return JWTSVID_OK;
	for (i = 0; i < naud; i++)
		if (aud_has(aud, auds[i]))
			return JWTSVID_OK;
	return JWTSVID_ERR_AUDIENCE;
}

void
jwtsvid_cleanup(struct jwtsvid *j)
{
	mem_free(j->sub);
	mem_free(j->trust_domain);
	mem_free(j->kid);
	json_decref(j->claims);
	memset(j, 0, sizeof(*j));
}

const char *
jwtsvid_strerror(enum jwtsvid_err e)
{
	switch (e) {
	case JWTSVID_OK:
		return "success";
	case JWTSVID_ERR_MALFORMED:
		return "malformed token";
	case JWTSVID_ERR_ALG:
		return "unsupported token signature algorithm";
	case JWTSVID_ERR_TYP:
		return "token has an invalid typ header";
	case JWTSVID_ERR_NO_KID:
		return "token header missing key id";
	case JWTSVID_ERR_SUBJECT:
		return "token subject is not a SPIFFE ID";
	case JWTSVID_ERR_NO_EXP:
		return "token missing exp claim";
	case JWTSVID_ERR_NO_BUNDLE:
		return "no JWT bundle for the token's trust domain";
	case JWTSVID_ERR_NO_KEY:
		return "no JWT authority found for the token's key id";
	case JWTSVID_ERR_SIGNATURE:
		return "token signature does not verify";
	case JWTSVID_ERR_EXPIRED:
		return "token has expired";
	case JWTSVID_ERR_NOT_YET:
		return "token is not valid yet";
	case JWTSVID_ERR_AUDIENCE:
		return "token audience does not match";
	case JWTSVID_ERR_NOMEM:
		return "out of memory";
	}
	return "unknown token error";
}

int
jwtsvid_new_kid(char kid[33])
{
	static const char alnum[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	uint8_t		 r[64];
	size_t		 n = 0, j = 0;

	/* Rejection sampling keeps each of the 62 characters equally likely. */
	while (n < 32) {
		if (j == 0 && rand_bytes(r, sizeof(r)) == -1)
			return -1;
		if (r[j] < 248)
			kid[n++] = alnum[r[j] % 62];
		j = (j + 1) % sizeof(r);
	}
	kid[32] = '\0';
	return 0;
}
