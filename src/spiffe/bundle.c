/* Bundles and their JSON documents. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/base64.h"
#include "core/mem.h"
#include "pki/x509.h"
#include "spiffe/bundle.h"
#include "spiffe/jwk.h"

static int	 parse_x509_key(struct bundle *, const json_t *, size_t,
		    char *, size_t);
static int	 parse_jwt_key(struct bundle *, const json_t *, size_t,
		    char *, size_t);
static json_t	*x509_key_json(const struct bundle_x509 *);
static json_t	*jwt_key_json(const struct bundle_jwt *, int);
static char	*dump(json_t *, int);

int
bundle_init(struct bundle *b, const char *trust_domain)
{
	memset(b, 0, sizeof(*b));
	b->trust_domain = mem_strdup(trust_domain);
	return b->trust_domain != NULL ? 0 : -1;
}

void
bundle_cleanup(struct bundle *b)
{
	size_t	 i;

	for (i = 0; i < b->nx509; i++)
		mem_free(b->x509[i].der);
	for (i = 0; i < b->njwt; i++) {
		mem_free(b->jwt[i].kid);
		mem_free(b->jwt[i].spki);
	}
	mem_free(b->x509);
	mem_free(b->jwt);
	mem_free(b->trust_domain);
	memset(b, 0, sizeof(*b));
}

int
bundle_copy(struct bundle *dst, const struct bundle *src)
{
	size_t	 i;

	if (bundle_init(dst, src->trust_domain) == -1)
		return -1;
	for (i = 0; i < src->nx509; i++) {
		if (bundle_add_x509(dst, src->x509[i].der,
		    src->x509[i].len) == -1)
			goto fail;
		dst->x509[dst->nx509 - 1].tainted = src->x509[i].tainted;
	}
	for (i = 0; i < src->njwt; i++) {
		if (bundle_add_jwt(dst, src->jwt[i].kid, src->jwt[i].spki,
		    src->jwt[i].spki_len, src->jwt[i].expires_at) == -1)
			goto fail;
		dst->jwt[dst->njwt - 1].tainted = src->jwt[i].tainted;
	}
	dst->refresh_hint = src->refresh_hint;
	dst->sequence = src->sequence;
	return 0;
fail:
	bundle_cleanup(dst);
	return -1;
}

int
bundle_equal(const struct bundle *a, const struct bundle *b)
{
	size_t	 i;

	if (strcmp(a->trust_domain, b->trust_domain) != 0 ||
	    a->nx509 != b->nx509 || a->njwt != b->njwt ||
	    a->refresh_hint != b->refresh_hint || a->sequence != b->sequence)
		return 0;
	for (i = 0; i < a->nx509; i++) {
		if (a->x509[i].len != b->x509[i].len ||
		    memcmp(a->x509[i].der, b->x509[i].der, a->x509[i].len))
			return 0;
	}
	for (i = 0; i < a->njwt; i++) {
		if (strcmp(a->jwt[i].kid, b->jwt[i].kid) != 0 ||
		    a->jwt[i].spki_len != b->jwt[i].spki_len ||
		    memcmp(a->jwt[i].spki, b->jwt[i].spki,
		    a->jwt[i].spki_len) != 0 ||
		    a->jwt[i].expires_at != b->jwt[i].expires_at)
			return 0;
	}
	return 1;
}

int
bundle_add_x509(struct bundle *b, const uint8_t *der, size_t len)
{
	struct bundle_x509	*v;
	size_t			 i;

	for (i = 0; i < b->nx509; i++)
		if (b->x509[i].len == len && memcmp(b->x509[i].der, der,
		    len) == 0)
			return 0;
	if (b->nx509 == BUNDLE_AUTHORITIES_MAX || len == 0)
		return -1;
	v = mem_reallocarray(b->x509, b->nx509 + 1, sizeof(*v));
	if (v == NULL)
		return -1;
	b->x509 = v;
	v = &b->x509[b->nx509];
	memset(v, 0, sizeof(*v));
	v->der = mem_alloc(len);
	if (v->der == NULL)
		return -1;
	memcpy(v->der, der, len);
	v->len = len;
	b->nx509++;
	return 1;
}

int
bundle_add_jwt(struct bundle *b, const char *kid, const uint8_t *spki,
    size_t len, int64_t expires_at)
{
	struct bundle_jwt	*v;

	if (bundle_find_jwt(b, kid) != NULL)
		return 0;
	if (b->njwt == BUNDLE_AUTHORITIES_MAX || *kid == '\0' ||
	    strlen(kid) > BUNDLE_KID_MAX || len == 0)
		return -1;
	v = mem_reallocarray(b->jwt, b->njwt + 1, sizeof(*v));
	if (v == NULL)
		return -1;
	b->jwt = v;
	v = &b->jwt[b->njwt];
	memset(v, 0, sizeof(*v));
	v->kid = mem_strdup(kid);
	v->spki = mem_alloc(len);
	if (v->kid == NULL || v->spki == NULL) {
		mem_free(v->kid);
		mem_free(v->spki);
		return -1;
	}
	memcpy(v->spki, spki, len);
	v->spki_len = len;
	v->expires_at = expires_at;
	b->njwt++;
	return 1;
}

const struct bundle_jwt *
bundle_find_jwt(const struct bundle *b, const char *kid)
{
	size_t	 i;

	for (i = 0; i < b->njwt; i++)
		if (strcmp(b->jwt[i].kid, kid) == 0)
			return &b->jwt[i];
	return NULL;
}

static int
parse_x509_key(struct bundle *b, const json_t *key, size_t i, char *err,
    size_t errlen)
{
	const json_t	*x5c = json_object_get(key, "x5c"), *c;
	struct x509_cert v;
	uint8_t		*der;
	size_t		 max, len;
	int		 rc;

	if (!json_is_array(x5c) || json_array_size(x5c) != 1) {
		snprintf(err, errlen, "expected a single certificate in "
		    "x509-svid entry %zu; got %zu", i,
		    json_is_array(x5c) ? json_array_size(x5c) : 0);
		return -1;
	}
	c = json_array_get(x5c, 0);
	if (!json_is_string(c)) {
		snprintf(err, errlen, "x509-svid entry %zu: x5c is not a "
		    "string", i);
		return -1;
	}
	max = base64_decoded_max(json_string_length(c));
	der = mem_alloc(max + 1);
	if (der == NULL)
		return -1;
	if (base64_decode(BASE64_STD, json_string_value(c),
	    json_string_length(c), der, max + 1, &len) == -1 ||
	    x509_parse(der, len, &v) != X509_OK) {
		snprintf(err, errlen, "x509-svid entry %zu: not a "
		    "certificate", i);
		mem_free(der);
		return -1;
	}
	rc = bundle_add_x509(b, der, len);
	mem_free(der);
	if (rc == -1)
		snprintf(err, errlen, "cannot add x509-svid entry %zu", i);
	return rc == -1 ? -1 : 0;
}

static int
parse_jwt_key(struct bundle *b, const json_t *key, size_t i, char *err,
    size_t errlen)
{
	const char	*kid = json_string_value(json_object_get(key, "kid"));
	uint8_t		*spki;
	size_t		 len;
	char		 why[128];
	int		 rc;

	if (kid == NULL || *kid == '\0') {
		snprintf(err, errlen, "jwt entry %zu: missing key ID", i);
		return -1;
	}
	if (jwk_get_key(key, &spki, &len, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "jwt entry %zu: %s", i, why);
		return -1;
	}
	rc = bundle_add_jwt(b, kid, spki, len, 0);
	mem_free(spki);
	if (rc == -1)
		snprintf(err, errlen, "cannot add jwt entry %zu", i);
	return rc == -1 ? -1 : 0;
}

int
bundle_parse_spiffe(struct bundle *b, const char *trust_domain,
    const char *json, size_t len, char *err, size_t errlen)
{
	json_t		*doc, *keys, *key, *v;
	json_error_t	 jerr;
	const char	*use;
	size_t		 i;

	if (bundle_init(b, trust_domain) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (len > BUNDLE_JSON_MAX) {
		snprintf(err, errlen, "bundle document over %d bytes",
		    BUNDLE_JSON_MAX);
		goto fail;
	}
	doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		snprintf(err, errlen, "bundle is not JSON: %s (line %d)",
		    jerr.text, jerr.line);
		goto fail;
	}
	keys = json_object_get(doc, "keys");
	if (!json_is_array(keys)) {
		snprintf(err, errlen, "no authorities found");
		goto fail_doc;
	}
	v = json_object_get(doc, "spiffe_refresh_hint");
	if (v != NULL && !json_is_integer(v)) {
		snprintf(err, errlen, "spiffe_refresh_hint is not an integer");
		goto fail_doc;
	}
	b->refresh_hint = v != NULL ? json_integer_value(v) : 0;
	v = json_object_get(doc, "spiffe_sequence");
	if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 0)) {
		snprintf(err, errlen, "spiffe_sequence is not a number");
		goto fail_doc;
	}
	b->sequence = v != NULL ? (uint64_t)json_integer_value(v) : 0;
	json_array_foreach(keys, i, key) {
		use = json_string_value(json_object_get(key, "use"));
		if (use == NULL)
			continue;
		if (strcmp(use, "x509-svid") == 0) {
			if (parse_x509_key(b, key, i, err, errlen) == -1)
				goto fail_doc;
		} else if (strcmp(use, "jwt-svid") == 0) {
			if (parse_jwt_key(b, key, i, err, errlen) == -1)
				goto fail_doc;
		}
	}
	json_decref(doc);
	return 0;
fail_doc:
	json_decref(doc);
fail:
	bundle_cleanup(b);
	return -1;
}

int
bundle_parse_jwks(struct bundle *b, const char *json, size_t len, char *err,
    size_t errlen)
{
	json_t		*doc, *keys, *key;
	json_error_t	 jerr;
	size_t		 i;
	int		 rc = -1;

	doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		snprintf(err, errlen, "JWT bundle is not JSON: %s", jerr.text);
		return -1;
	}
	keys = json_object_get(doc, "keys");
	if (!json_is_array(keys)) {
		snprintf(err, errlen, "JWT bundle has no keys");
		goto out;
	}
	json_array_foreach(keys, i, key) {
		if (parse_jwt_key(b, key, i, err, errlen) == -1)
			goto out;
	}
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

/* An X.509 authority as SPIFFE's JWK: use, key, one-element x5c. */
static json_t *
x509_key_json(const struct bundle_x509 *c)
{
	struct x509_cert v;
	json_t		*o, *x5c;
	char		*s;
	size_t		 n;

	if (x509_parse(c->der, c->len, &v) != X509_OK)
		return NULL;
	n = base64_encoded_len(BASE64_STD, c->len) + 1;
	s = mem_alloc(n);
	if (s == NULL)
		return NULL;
	if (base64_encode(BASE64_STD, c->der, c->len, s, n) == -1) {
		mem_free(s);
		return NULL;
	}
	o = json_object();
	x5c = json_array();
	/* The _new calls take their reference even when they fail. */
	if (o == NULL || x5c == NULL ||
	    json_object_set_new(o, "use", json_string("x509-svid")) == -1 ||
	    jwk_put_key(o, v.spki.p, v.spki.len) == -1 ||
	    json_array_append_new(x5c, json_string(s)) == -1) {
		json_decref(o);
		json_decref(x5c);
		mem_free(s);
		return NULL;
	}
	mem_free(s);
	if (json_object_set_new(o, "x5c", x5c) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* A JWT authority as a JWK; with_use adds "use": "jwt-svid". */
static json_t *
jwt_key_json(const struct bundle_jwt *k, int with_use)
{
	json_t	*o = json_object();

	if (o == NULL)
		return NULL;
	if ((with_use && json_object_set_new(o, "use",
	    json_string("jwt-svid")) == -1) ||
	    jwk_put_key(o, k->spki, k->spki_len) == -1 ||
	    json_object_set_new(o, "kid", json_string(k->kid)) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Serialises and frees doc. */
static char *
dump(json_t *doc, int indent)
{
	char	*s;

	if (doc == NULL)
		return NULL;
	s = json_dumps(doc, indent > 0 ? JSON_INDENT(indent) : JSON_COMPACT);
	json_decref(doc);
	return s;
}

char *
bundle_format_spiffe(const struct bundle *b, int indent)
{
	json_t	*doc, *keys, *o;
	size_t	 i;

	doc = json_object();
	keys = json_array();
	if (doc == NULL || keys == NULL ||
	    json_object_set_new(doc, "keys", keys) == -1)
		goto fail;
	for (i = 0; i < b->nx509; i++) {
		o = x509_key_json(&b->x509[i]);
		if (o == NULL || json_array_append_new(keys, o) == -1)
			goto fail;
	}
	for (i = 0; i < b->njwt; i++) {
		o = jwt_key_json(&b->jwt[i], 1);
		if (o == NULL || json_array_append_new(keys, o) == -1)
			goto fail;
	}
	if ((b->refresh_hint != 0 && json_object_set_new(doc,
	    "spiffe_refresh_hint", json_integer(b->refresh_hint)) == -1) ||
	    (b->sequence != 0 && json_object_set_new(doc, "spiffe_sequence",
	    json_integer((json_int_t)b->sequence)) == -1))
		goto fail;
	return dump(doc, indent);
fail:
	json_decref(doc);
	return NULL;
}

char *
bundle_format_jwks(const struct bundle *b)
{
	json_t	*doc, *keys, *o;
	size_t	 i;

	doc = json_object();
	keys = json_array();
	if (doc == NULL || keys == NULL ||
	    json_object_set_new(doc, "keys", keys) == -1)
		goto fail;
	for (i = 0; i < b->njwt; i++) {
		o = jwt_key_json(&b->jwt[i], 0);
		if (o == NULL || json_array_append_new(keys, o) == -1)
			goto fail;
	}
	return dump(doc, 0);
fail:
	json_decref(doc);
	return NULL;
}

int
bundle_x509_concat(const struct bundle *b, uint8_t **out, size_t *len)
{
	uint8_t	*p;
	size_t	 i, n = 0;

	for (i = 0; i < b->nx509; i++)
		n += b->x509[i].len;
	p = mem_alloc(n > 0 ? n : 1);
	if (p == NULL)
		return -1;
	for (n = 0, i = 0; i < b->nx509; i++) {
		memcpy(p + n, b->x509[i].der, b->x509[i].len);
		n += b->x509[i].len;
	}
	*out = p;
	*len = n;
	return 0;
}
