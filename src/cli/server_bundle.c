/*
 * `spirelet server bundle show|list|set|delete|count`: the server's own
 * bundle and federated bundles through the admin socket, printed as
 * spire-server bundle prints them: PEM, or the SPIFFE bundle document
 * exactly as go-spiffe marshals it and json.Indent lays it out.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <pb_decode.h>

#include "cli/admin.h"
#include "cli/commands.h"
#include "cli/gojson.h"
#include "cli/pbjson.h"
#include "core/base64.h"
#include "core/mem.h"
#include "pki/der.h"
#include "pki/pem.h"
#include "pki/x509.h"
#include "spiffe/bundle.h"
#include "spiffe/jwk.h"
#include "spire/api/server/bundle/v1/bundle.pb.h"

#define BUNDLE_SERVICE	"/spire.api.server.bundle.v1.Bundle/"
#define BUNDLE_WHY_MAX	256	/* bytes of a reason inside a message */
#define BUNDLE_HEADER	"****************************************\n"
#define BUNDLE_SET_RESP	\
	spire_api_server_bundle_v1_BatchFederatedBundleResponse_fields
#define BUNDLE_DEL_RESP	\
	spire_api_server_bundle_v1_BatchDeleteFederatedBundleResponse_fields
#define BUNDLE_DEL_REQ	\
	spire_api_server_bundle_v1_BatchDeleteFederatedBundleRequest_fields
#define BUNDLE_DEL_MODE(m) \
	spire_api_server_bundle_v1_BatchDeleteFederatedBundleRequest_Mode_##m
#define BUNDLE_LIST_RESP \
	spire_api_server_bundle_v1_ListFederatedBundlesResponse_fields

/* What a bundle is printed as (-format). */
enum bundle_format {
	BUNDLE_FORMAT_PEM,
	BUNDLE_FORMAT_SPIFFE,
};

static int	bundle_format_parse(const char *, enum bundle_format *,
		    char *, size_t);
static int	bundle_print_pem(const spire_api_types_Bundle *, char *,
		    size_t);
static json_t	*bundle_jwk(const uint8_t *, size_t, const char *,
		    const char *, const uint8_t *, size_t);
static char	*bundle_document(const spire_api_types_Bundle *, char *,
		    size_t);
static int	bundle_print(const spire_api_types_Bundle *,
		    enum bundle_format, int, char *, size_t);
static int	bundle_from_pem(struct admin_pool *, const char *, size_t,
		    const char *, spire_api_types_Bundle *, char *, size_t);
static int	bundle_from_spiffe(struct admin_pool *, const char *, size_t,
		    const char *, spire_api_types_Bundle *, char *, size_t);

/* validateFormat: "" is pem; the name in any case. */
static int
bundle_format_parse(const char *s, enum bundle_format *out, char *err,
    size_t errlen)
{
	if (s == NULL || *s == '\0' || strcasecmp(s, "pem") == 0)
		*out = BUNDLE_FORMAT_PEM;
	else if (strcasecmp(s, "spiffe") == 0)
		*out = BUNDLE_FORMAT_SPIFFE;
	else {
		snprintf(err, errlen, "invalid format: \"%s\"", s);
		return -1;
	}
	return 0;
}

/* Every certificate of every X.509 authority (each may hold several). */
static int
bundle_print_pem(const spire_api_types_Bundle *b, char *err, size_t errlen)
{
	struct der	 d, whole;
	char		*pem;
	size_t		 i, len;

	for (i = 0; i < b->x509_authorities_count; i++) {
		if (b->x509_authorities[i].asn1 == NULL)
			continue;
		der_init(&d, b->x509_authorities[i].asn1->bytes,
		    b->x509_authorities[i].asn1->size);
		while (!der_empty(&d)) {
			if (der_get(&d, DER_SEQUENCE, NULL, &whole) == -1) {
				snprintf(err, errlen, "unable to parse "
				    "certificates ASN.1 DER data: x509: "
				    "malformed certificate");
				return -1;
			}
			if (pem_encode(PEM_LABEL_CERTIFICATE, whole.p,
			    whole.len, &pem, &len) != PEM_OK) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			fwrite(pem, 1, len, stdout);
			mem_free(pem);
		}
	}
	return 0;
}

/*
 * One key of a SPIFFE bundle document in go-jose's member order: use,
 * kty, kid, crv, x, y, n, e, x5c (a certificate, for X.509 authorities).
 */
static json_t *
bundle_jwk(const uint8_t *spki, size_t spki_len, const char *use,
    const char *kid, const uint8_t *cert, size_t cert_len)
{
	static const char *const	 order[] = {
		"kty", "kid", "crv", "x", "y", "n", "e",
	};
	json_t				*raw, *o, *x5c, *v;
	char				*s;
	size_t				 i, n;
	int				 bad = 0;

	raw = json_object();
	o = json_object();
	if (raw == NULL || o == NULL || jwk_put_key(raw, spki,
	    spki_len) == -1 || (kid != NULL && json_object_set_new(raw,
	    "kid", json_string(kid)) == -1))
		goto fail;
	bad |= json_object_set_new(o, "use", json_string(use));
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		v = json_object_get(raw, order[i]);
		if (v != NULL)
			bad |= json_object_set(o, order[i], v);
	}
	if (cert != NULL) {
		n = base64_encoded_len(BASE64_STD, cert_len) + 1;
		s = mem_alloc(n);
		x5c = json_array();
		if (s == NULL || x5c == NULL || base64_encode(BASE64_STD,
		    cert, cert_len, s, n) == -1 ||
		    json_array_append_new(x5c, json_string(s)) == -1) {
			mem_free(s);
			json_decref(x5c);
			goto fail;
		}
		mem_free(s);
		bad |= json_object_set_new(o, "x5c", x5c);
	}
	if (bad)
		goto fail;
	json_decref(raw);
	return o;
fail:
	json_decref(raw);
	json_decref(o);
	return NULL;
}

/*
 * The SPIFFE bundle document as spire-server prints it: go-spiffe's
 * Marshal (keys, then spiffe_sequence and spiffe_refresh_hint when set),
 * indented by four spaces. A new string, or NULL with err set.
 */
static char *
bundle_document(const spire_api_types_Bundle *b, char *err, size_t errlen)
{
	struct x509_cert		 cert;
	const spire_api_types_JWTKey	*k;
	json_t				*doc, *keys, *key;
	char				*s = NULL;
	size_t				 i;
	int				 bad = 0;

	doc = json_object();
	keys = json_array();
	if (doc == NULL || keys == NULL) {
		json_decref(doc);
		json_decref(keys);
		goto nomem;
	}
	bad |= json_object_set_new(doc, "keys", keys);
	for (i = 0; i < b->x509_authorities_count; i++) {
		if (b->x509_authorities[i].asn1 == NULL ||
		    x509_parse(b->x509_authorities[i].asn1->bytes,
		    b->x509_authorities[i].asn1->size, &cert) != X509_OK) {
			snprintf(err, errlen, "unable to parse root CA %zu: "
			    "x509: malformed certificate", i);
			json_decref(doc);
			return NULL;
		}
		key = bundle_jwk(cert.spki.p, cert.spki.len, "x509-svid",
		    NULL, cert.der.p, cert.der.len);
		bad |= key == NULL || json_array_append_new(keys, key) == -1;
	}
	for (i = 0; i < b->jwt_authorities_count; i++) {
		k = &b->jwt_authorities[i];
		if (k->public_key == NULL) {
			snprintf(err, errlen, "missing public key for JWT "
			    "authority %zu", i);
			json_decref(doc);
			return NULL;
		}
		key = bundle_jwk(k->public_key->bytes, k->public_key->size,
		    "jwt-svid", k->key_id != NULL ? k->key_id : "", NULL, 0);
		bad |= key == NULL || json_array_append_new(keys, key) == -1;
	}
	if (b->sequence_number > 0)
		bad |= json_object_set_new(doc, "spiffe_sequence",
		    json_integer((json_int_t)b->sequence_number));
	if (b->refresh_hint > 0)
		bad |= json_object_set_new(doc, "spiffe_refresh_hint",
		    json_integer(b->refresh_hint));
	if (!bad)
		s = gojson_dumps(doc, GOJSON_INDENT | GOJSON_HTML_SAFE);
	json_decref(doc);
	if (s != NULL)
		return s;
nomem:
	snprintf(err, errlen, "cannot format the bundle");
	return NULL;
}

/* printBundleWithFormat; header gives the trust domain banner first. */
static int
bundle_print(const spire_api_types_Bundle *b, enum bundle_format f,
    int header, char *err, size_t errlen)
{
	char	*doc;

	if (header)
		printf(BUNDLE_HEADER "* %s\n" BUNDLE_HEADER,
		    b->trust_domain != NULL ? b->trust_domain : "");
	if (f == BUNDLE_FORMAT_PEM)
		return bundle_print_pem(b, err, errlen);
	doc = bundle_document(b, err, errlen);
	if (doc == NULL)
		return -1;
	printf("%s\n", doc);
	mem_free(doc);
	return 0;
}

int
cli_server_bundle_show(int argc, char *argv[])
{
	spire_api_server_bundle_v1_GetBundleRequest	req =
	    spire_api_server_bundle_v1_GetBundleRequest_init_zero;
	spire_api_types_Bundle				b =
	    spire_api_types_Bundle_init_zero;
	struct admin_cmd				c;
	enum bundle_format				bf;
	const char					*format = "pem";
	char						err[OUTPUT_ERROR_MAX];
	int						rc;
	const struct flag				flags[] = {
		{ "format", FLAG_STRING, &format, "The format to show the "
		    "bundle (only pretty output format supports this flag). "
		    "Either \"pem\" or \"spiffe\". (default \"pem\")" },
		ADMIN_FLAG_OUTPUT(c),
		ADMIN_FLAG_SOCKET(c),
		ADMIN_FLAG_END,
	};

	memset(&c, 0, sizeof(c));
	c.name = "bundle show";
	c.socket = ADMIN_SERVER_SOCKET;
	rc = admin_parse(&c, flags, argc, argv);
	if (rc != -1)
		return rc;
	if (admin_call(&c, BUNDLE_SERVICE "GetBundle", NULL, 0,
	    CLI_ADMIN_TIMEOUT_SEC,
	    spire_api_server_bundle_v1_GetBundleRequest_fields, &req,
	    spire_api_types_Bundle_fields, &b, err, sizeof(err)) == -1)
		return output_errorf("%s", err);
	if (c.format == OUTPUT_JSON)
		rc = output_json_take(pbjson_bundle(&b)) == 0 ? 0 : 1;
	else if (bundle_format_parse(format, &bf, err, sizeof(err)) == -1 ||
	    bundle_print(&b, bf, 0, err, sizeof(err)) == -1)
		rc = output_errorf("%s", err);
	else
		rc = 0;
	pb_release(spire_api_types_Bundle_fields, &b);
	return rc;
}

int
cli_server_bundle_list(int argc, char *argv[])
{
	spire_api_server_bundle_v1_GetFederatedBundleRequest	 greq =
	    spire_api_server_bundle_v1_GetFederatedBundleRequest_init_zero;
	spire_api_server_bundle_v1_ListFederatedBundlesRequest	 req =
	    spire_api_server_bundle_v1_ListFederatedBundlesRequest_init_zero;
	spire_api_server_bundle_v1_ListFederatedBundlesResponse	 resp =
	    spire_api_server_bundle_v1_ListFederatedBundlesResponse_init_zero;
	spire_api_types_Bundle					 b =
	    spire_api_types_Bundle_init_zero;
	struct admin_cmd					 c;
	struct admin_pool					 pool = { 0 };
	enum bundle_format					 bf;
	const char						*format = "pem";
	const char						*id = NULL;
	char					 err[OUTPUT_ERROR_MAX];
	size_t					 i;
	int					 rc;
	const struct flag			 flags[] = {
		{ "format", FLAG_STRING, &format, "The format to list "
		    "federated bundles (only pretty output format supports "
		    "this flag). Either \"pem\" or \"spiffe\". (default "
		    "\"pem\")" },
		{ "id", FLAG_STRING, &id, "SPIFFE ID of the trust domain" },
		ADMIN_FLAG_OUTPUT(c),
		ADMIN_FLAG_SOCKET(c),
		ADMIN_FLAG_END,
	};

	memset(&c, 0, sizeof(c));
	c.name = "bundle list";
	c.socket = ADMIN_SERVER_SOCKET;
	rc = admin_parse(&c, flags, argc, argv);
	if (rc != -1)
		return rc;
	if (id != NULL && *id != '\0') {
		greq.trust_domain = admin_pool_strdup(&pool, id);
		if (greq.trust_domain == NULL) {
			rc = output_errorf("out of memory");
			goto out;
		}
		if (admin_call(&c, BUNDLE_SERVICE "GetFederatedBundle", NULL,
		    0, CLI_ADMIN_TIMEOUT_SEC,
		    spire_api_server_bundle_v1_GetFederatedBundleRequest_fields,
		    &greq, spire_api_types_Bundle_fields, &b, err,
		    sizeof(err)) == -1) {
			rc = output_errorf("%s", err);
			goto out;
		}
		if (c.format == OUTPUT_JSON)
			rc = output_json_take(pbjson_bundle(&b)) == 0 ? 0 : 1;
		else if (bundle_format_parse(format, &bf, err,
		    sizeof(err)) == -1 || bundle_print(&b, bf, 0, err,
		    sizeof(err)) == -1)
			rc = output_errorf("%s", err);
		else
			rc = 0;
		goto out;
	}
	if (admin_call(&c, BUNDLE_SERVICE "ListFederatedBundles", NULL, 0,
	    CLI_ADMIN_TIMEOUT_SEC,
	    spire_api_server_bundle_v1_ListFederatedBundlesRequest_fields,
	    &req,
	    spire_api_server_bundle_v1_ListFederatedBundlesResponse_fields,
	    &resp, err, sizeof(err)) == -1) {
		rc = output_errorf("%s", err);
		goto out;
	}
	if (c.format == OUTPUT_JSON) {
		rc = output_json_take(pbjson_bundle_list(&resp)) == 0 ? 0 : 1;
		goto out;
	}
	rc = 0;
	for (i = 0; i < resp.bundles_count; i++) {
		if (i != 0)
			printf("\n");
		if (bundle_format_parse(format, &bf, err, sizeof(err)) == -1 ||
		    bundle_print(&resp.bundles[i], bf, 1, err,
		    sizeof(err)) == -1) {
			rc = output_errorf("%s", err);
			break;
		}
	}
out:
	pb_release(spire_api_types_Bundle_fields, &b);
	pb_release(
	    spire_api_server_bundle_v1_ListFederatedBundlesResponse_fields,
	    &resp);
	admin_pool_free(&pool);
	return rc;
}

/* ParseBundle for pem: every certificate, under the ID as given. */
static int
bundle_from_pem(struct admin_pool *p, const char *text, size_t len,
    const char *id, spire_api_types_Bundle *b, char *err, size_t errlen)
{
	struct pem_block	*blocks = NULL;
	struct x509_cert	 cert;
	pb_bytes_array_t	*a;
	enum pem_err		 e;
	size_t			 n = 0, i;
	int			 rc = -1;

	memset(b, 0, sizeof(*b));
	e = pem_decode(text, len, NULL, &blocks, &n);
	if (e != PEM_OK) {
		snprintf(err, errlen, "unable to parse bundle data: %s",
		    pem_strerror(e));
		return -1;
	}
	b->trust_domain = admin_pool_strdup(p, id);
	b->x509_authorities = admin_pool_alloc(p, n,
	    sizeof(*b->x509_authorities));
	if (b->trust_domain == NULL || b->x509_authorities == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(blocks[i].label, PEM_LABEL_CERTIFICATE) != 0) {
			snprintf(err, errlen, "unable to parse bundle data: "
			    "expected block type \"CERTIFICATE\"; got \"%s\"",
			    blocks[i].label);
			goto out;
		}
		if (x509_parse(blocks[i].der, blocks[i].len, &cert) !=
		    X509_OK) {
			snprintf(err, errlen, "unable to parse bundle data: "
			    "x509: malformed certificate");
			goto out;
		}
		a = admin_pool_alloc(p, 1, PB_BYTES_ARRAY_T_ALLOCSIZE(
		    blocks[i].len));
		if (a == NULL) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		a->size = (pb_size_t)blocks[i].len;
		memcpy(a->bytes, blocks[i].der, blocks[i].len);
		b->x509_authorities[i].asn1 = a;
	}
	b->x509_authorities_count = (pb_size_t)n;
	rc = 0;
out:
	pem_blocks_free(blocks, n);
	return rc;
}

/* ParseBundle for spiffe: a SPIFFE bundle document of the domain id. */
static int
bundle_from_spiffe(struct admin_pool *p, const char *text, size_t len,
    const char *id, spire_api_types_Bundle *b, char *err, size_t errlen)
{
	struct spiffe_td	 td;
	struct bundle		 doc;
	pb_bytes_array_t	*a;
	char			 why[BUNDLE_WHY_MAX];
	size_t			 i;
	int			 rc = -1;

	memset(b, 0, sizeof(*b));
	if (spiffe_td_parse(id, strlen(id), &td) != SPIFFE_OK) {
		snprintf(err, errlen, "trust domain characters are limited "
		    "to lowercase letters, numbers, dots, dashes, and "
		    "underscores");
		return -1;
	}
	if (bundle_parse_spiffe(&doc, td.name, text, len, why,
	    sizeof(why)) == -1) {
		snprintf(err, errlen, "unable to parse to spiffe bundle: %s",
		    why);
		return -1;
	}
	b->trust_domain = admin_pool_strdup(p, td.name);
	b->x509_authorities = admin_pool_alloc(p, doc.nx509,
	    sizeof(*b->x509_authorities));
	b->jwt_authorities = admin_pool_alloc(p, doc.njwt,
	    sizeof(*b->jwt_authorities));
	if (b->trust_domain == NULL || b->x509_authorities == NULL ||
	    b->jwt_authorities == NULL)
		goto nomem;
	for (i = 0; i < doc.nx509; i++) {
		a = admin_pool_alloc(p, 1,
		    PB_BYTES_ARRAY_T_ALLOCSIZE(doc.x509[i].len));
		if (a == NULL)
			goto nomem;
		a->size = (pb_size_t)doc.x509[i].len;
		memcpy(a->bytes, doc.x509[i].der, doc.x509[i].len);
		b->x509_authorities[i].asn1 = a;
	}
	b->x509_authorities_count = (pb_size_t)doc.nx509;
	for (i = 0; i < doc.njwt; i++) {
		a = admin_pool_alloc(p, 1,
		    PB_BYTES_ARRAY_T_ALLOCSIZE(doc.jwt[i].spki_len));
		if (a == NULL)
			goto nomem;
		a->size = (pb_size_t)doc.jwt[i].spki_len;
		memcpy(a->bytes, doc.jwt[i].spki, doc.jwt[i].spki_len);
		b->jwt_authorities[i].public_key = a;
		b->jwt_authorities[i].key_id = admin_pool_strdup(p,
		    doc.jwt[i].kid);
		if (b->jwt_authorities[i].key_id == NULL)
			goto nomem;
		b->jwt_authorities[i].expires_at = doc.jwt[i].expires_at;
	}
	b->jwt_authorities_count = (pb_size_t)doc.njwt;
	b->refresh_hint = doc.refresh_hint;
	b->sequence_number = doc.sequence;
	rc = 0;
	goto out;
nomem:
	snprintf(err, errlen, "out of memory");
out:
	bundle_cleanup(&doc);
	return rc;
}

int
cli_server_bundle_set(int argc, char *argv[])
{
	spire_api_server_bundle_v1_BatchFederatedBundleRequest	 req =
	    spire_api_server_bundle_v1_BatchFederatedBundleRequest_init_zero;
	spire_api_server_bundle_v1_BatchFederatedBundleResponse	 resp =
	    spire_api_server_bundle_v1_BatchFederatedBundleResponse_init_zero;
	spire_api_types_Bundle					 b;
	struct admin_cmd					 c;
	struct admin_pool					 pool = { 0 };
	enum bundle_format					 bf;
	const char						*format = "pem";
	const char						*id = NULL;
	const char						*path = NULL;
	char					 err[OUTPUT_ERROR_MAX];
	char					 why[BUNDLE_WHY_MAX];
	char					*text = NULL;
	size_t					 len;
	int					 rc;
	const struct flag			 flags[] = {
		{ "format", FLAG_STRING, &format, "The format of the bundle "
		    "data. Either \"pem\" or \"spiffe\". (default \"pem\")" },
		{ "id", FLAG_STRING, &id, "SPIFFE ID of the trust domain" },
		ADMIN_FLAG_OUTPUT(c),
		{ "path", FLAG_STRING, &path, "Path to the bundle data" },
		ADMIN_FLAG_SOCKET(c),
		ADMIN_FLAG_END,
	};

	memset(&c, 0, sizeof(c));
	c.name = "bundle set";
	c.socket = ADMIN_SERVER_SOCKET;
	rc = admin_parse(&c, flags, argc, argv);
	if (rc != -1)
		return rc;
	if (id == NULL || *id == '\0')
		return output_errorf("id flag is required");
	if (bundle_format_parse(format, &bf, err, sizeof(err)) == -1)
		return output_errorf("%s", err);
	if (admin_read_file(path != NULL && *path != '\0' ? path : "-",
	    &text, &len, why, sizeof(why)) == -1) {
		rc = output_errorf("unable to load bundle data: %s", why);
		goto out;
	}
	if ((bf == BUNDLE_FORMAT_PEM ? bundle_from_pem(&pool, text, len, id,
	    &b, err, sizeof(err)) : bundle_from_spiffe(&pool, text, len, id,
	    &b, err, sizeof(err))) == -1) {
		rc = output_errorf("%s", err);
		goto out;
	}
	req.bundle = &b;
	req.bundle_count = 1;
	if (admin_call(&c, BUNDLE_SERVICE "BatchSetFederatedBundle", NULL, 0,
	    CLI_ADMIN_TIMEOUT_SEC,
	    spire_api_server_bundle_v1_BatchFederatedBundleRequest_fields,
	    &req, BUNDLE_SET_RESP, &resp, err, sizeof(err)) == -1) {
		rc = output_errorf("failed to set federated bundle: %s", err);
		goto out;
	}
	if (c.format == OUTPUT_JSON)
		rc = output_json_take(pbjson_bundle_results(&resp)) == 0 ? 0 :
		    1;
	else if (resp.results_count == 0)
		rc = output_errorf("failed to set federated bundle: no "
		    "result");
	else if (resp.results[0].status.code != 0)
		rc = output_errorf("failed to set federated bundle: %s",
		    resp.results[0].status.message != NULL ?
		    resp.results[0].status.message : "");
	else {
		printf("bundle set.\n");
		rc = 0;
	}
out:
	pb_release(BUNDLE_SET_RESP, &resp);
	mem_free(text);
	admin_pool_free(&pool);
	return rc;
}

int
cli_server_bundle_delete(int argc, char *argv[])
{
	spire_api_server_bundle_v1_BatchDeleteFederatedBundleRequest	 req;
	spire_api_server_bundle_v1_BatchDeleteFederatedBundleResponse	 resp;
	struct admin_cmd						 c;
	struct admin_pool						 pool;
	const char				*id = NULL, *mode = "restrict";
	char					*tds[1];
	char					 err[OUTPUT_ERROR_MAX];
	int					 rc;
	const struct flag			 flags[] = {
		{ "id", FLAG_STRING, &id, "SPIFFE ID of the trust domain" },
		{ "mode", FLAG_STRING, &mode, "Deletion mode: one of "
		    "restrict, delete, or dissociate (default "
		    "\"restrict\")" },
		ADMIN_FLAG_OUTPUT(c),
		ADMIN_FLAG_SOCKET(c),
		ADMIN_FLAG_END,
	};

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	memset(&pool, 0, sizeof(pool));
	memset(&c, 0, sizeof(c));
	c.name = "bundle delete";
	c.socket = ADMIN_SERVER_SOCKET;
	rc = admin_parse(&c, flags, argc, argv);
	if (rc != -1)
		return rc;
	if (id == NULL || *id == '\0')
		return output_errorf("id is required");
	if (*mode == '\0' || strcmp(mode, "restrict") == 0)
		req.mode = BUNDLE_DEL_MODE(RESTRICT);
	else if (strcmp(mode, "dissociate") == 0)
		req.mode = BUNDLE_DEL_MODE(DISSOCIATE);
	else if (strcmp(mode, "delete") == 0)
		req.mode = BUNDLE_DEL_MODE(DELETE);
	else
		return output_errorf("unsupported mode \"%s\"", mode);
	tds[0] = admin_pool_strdup(&pool, id);
	if (tds[0] == NULL) {
		rc = output_errorf("out of memory");
		goto out;
	}
	req.trust_domains = tds;
	req.trust_domains_count = 1;
	if (admin_call(&c, BUNDLE_SERVICE "BatchDeleteFederatedBundle", NULL,
	    0, CLI_ADMIN_TIMEOUT_SEC, BUNDLE_DEL_REQ, &req, BUNDLE_DEL_RESP,
	    &resp, err, sizeof(err)) == -1) {
		rc = output_errorf("failed to delete federated bundle: %s",
		    err);
		goto out;
	}
	if (c.format == OUTPUT_JSON)
		rc = output_json_take(pbjson_bundle_delete_results(&resp)) ==
		    0 ? 0 : 1;
	else if (resp.results_count == 0)
		rc = output_errorf("failed to delete federated bundle: no "
		    "result");
	else if (resp.results[0].status.code != 0)
		rc = output_errorf("failed to delete federated bundle \"%s\": "
		    "%s", resp.results[0].trust_domain != NULL ?
		    resp.results[0].trust_domain : "",
		    resp.results[0].status.message != NULL ?
		    resp.results[0].status.message : "");
	else {
		printf("bundle deleted.\n");
		rc = 0;
	}
out:
	pb_release(BUNDLE_DEL_RESP, &resp);
	admin_pool_free(&pool);
	return rc;
}

int
cli_server_bundle_count(int argc, char *argv[])
{
	spire_api_server_bundle_v1_CountBundlesRequest	req =
	    spire_api_server_bundle_v1_CountBundlesRequest_init_zero;
	spire_api_server_bundle_v1_CountBundlesResponse	resp =
	    spire_api_server_bundle_v1_CountBundlesResponse_init_zero;
	struct admin_cmd				c;
	char						err[OUTPUT_ERROR_MAX];
	int						rc;
	const struct flag				flags[] = {
		ADMIN_FLAG_OUTPUT(c),
		ADMIN_FLAG_SOCKET(c),
		ADMIN_FLAG_END,
	};

	memset(&c, 0, sizeof(c));
	c.name = "bundle count";
	c.socket = ADMIN_SERVER_SOCKET;
	rc = admin_parse(&c, flags, argc, argv);
	if (rc != -1)
		return rc;
	if (admin_call(&c, BUNDLE_SERVICE "CountBundles", NULL, 0,
	    CLI_ADMIN_TIMEOUT_SEC,
	    spire_api_server_bundle_v1_CountBundlesRequest_fields, &req,
	    spire_api_server_bundle_v1_CountBundlesResponse_fields, &resp,
	    err, sizeof(err)) == -1)
		return output_errorf("%s", err);
	if (c.format == OUTPUT_JSON)
		return output_json_take(pbjson_count(resp.count)) == 0 ? 0 : 1;
	printf("%d %s\n", (int)resp.count, output_plural(resp.count,
	    "bundle", "bundles"));
	return 0;
}
