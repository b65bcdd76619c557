/* protojson-shaped trees of the messages the operator commands print. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/pbjson.h"
#include "core/base64.h"
#include "core/limits.h"
#include "core/mem.h"

/*
 * A tree being built: the first failure sticks, so the builders can set
 * every member and check once at the end.
 */
struct pj {
	int	err;
};

static void	pj_set(struct pj *, json_t *, const char *, json_t *);
static void	pj_add(struct pj *, json_t *, json_t *);
static json_t	*pj_done(struct pj *, json_t *);
static int	pj_list_new(json_t **, json_t **);
static void	pj_add_result(struct pj *, json_t *,
		    const spire_api_types_Status *, const char *, json_t *);
static json_t	*pj_str(const char *);
static json_t	*pj_i64(int64_t);
static json_t	*pj_u64(uint64_t);
static json_t	*pj_bytes(const uint8_t *, size_t);
static json_t	*pj_pbbytes(const pb_bytes_array_t *);
static json_t	*pj_strings(char *const *, size_t);
static json_t	*pj_id(const spire_api_types_SPIFFEID *);
static json_t	*pj_selectors(const spire_api_types_Selector *, size_t);
static json_t	*pj_status(const spire_api_types_Status *);
static json_t	*pj_value(const google_protobuf_Value *, int, int);
static json_t	*pj_struct(const google_protobuf_Struct *, int, int);

static void
pj_set(struct pj *p, json_t *o, const char *k, json_t *v)
{
	/* json_object_set_new drops v's reference even when it fails. */
	if (v == NULL || json_object_set_new(o, k, v) == -1)
		p->err = 1;
}

static void
pj_add(struct pj *p, json_t *a, json_t *v)
{
	if (v == NULL || json_array_append_new(a, v) == -1)
		p->err = 1;
}

static json_t *
pj_done(struct pj *p, json_t *o)
{
	if (p->err) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/*
 * A list message's object and its array, both new or neither: 0, or -1
 * when either allocation failed.
 */
static int
pj_list_new(json_t **o, json_t **a)
{
	*o = json_object();
	*a = json_array();
	if (*o == NULL || *a == NULL) {
		json_decref(*o);
		json_decref(*a);
		return -1;
	}
	return 0;
}

/*
 * Appends one result of a batch call to a: {"status": ..., k: v}, status
 * left out when NULL and k when NULL. v is taken (dropped when unused); a
 * NULL v under a non-NULL k is a failure, as in pj_set.
 */
static void
pj_add_result(struct pj *p, json_t *a, const spire_api_types_Status *status,
    const char *k, json_t *v)
{
	json_t	*res = json_object();

	if (res != NULL && status != NULL)
		pj_set(p, res, "status", pj_status(status));
	if (res != NULL && k != NULL)
		pj_set(p, res, k, v);
	else
		json_decref(v);
	pj_add(p, a, res);
}

static json_t *
pj_str(const char *s)
{
	return json_string(s != NULL ? s : "");
}

static json_t *
pj_i64(int64_t v)
{
	char	b[24];

	snprintf(b, sizeof(b), "%" PRId64, v);
	return json_string(b);
}

static json_t *
pj_u64(uint64_t v)
{
	char	b[24];

	snprintf(b, sizeof(b), "%" PRIu64, v);
	return json_string(b);
}

static json_t *
pj_bytes(const uint8_t *b, size_t n)
{
	json_t	*s;
	char	*t;
	size_t	 len = base64_encoded_len(BASE64_STD, n) + 1;

	t = mem_alloc(len);
	if (t == NULL)
		return NULL;
	if (base64_encode(BASE64_STD, b, n, t, len) == -1) {
		mem_free(t);
		return NULL;
	}
	s = json_string(t);
	mem_free(t);
	return s;
}

static json_t *
pj_pbbytes(const pb_bytes_array_t *b)
{
	if (b == NULL)
		return json_string("");
	return pj_bytes(b->bytes, b->size);
}

static json_t *
pj_strings(char *const *v, size_t n)
{
	struct pj	 p = { 0 };
	json_t		*a = json_array();
	size_t		 i;

	if (a == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		pj_add(&p, a, pj_str(v[i]));
	return pj_done(&p, a);
}

static json_t *
pj_id(const spire_api_types_SPIFFEID *id)
{
	struct pj	 p = { 0 };
	json_t		*o = json_object();

	if (o == NULL)
		return NULL;
	pj_set(&p, o, "trust_domain", pj_str(id->trust_domain));
	pj_set(&p, o, "path", pj_str(id->path));
	return pj_done(&p, o);
}

static json_t *
pj_selectors(const spire_api_types_Selector *s, size_t n)
{
	struct pj	 p = { 0 };
	json_t		*a = json_array(), *o;
	size_t		 i;

	if (a == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		o = json_object();
		if (o != NULL) {
			pj_set(&p, o, "type", pj_str(s[i].type));
			pj_set(&p, o, "value", pj_str(s[i].value));
		}
		pj_add(&p, a, o);
	}
	return pj_done(&p, a);
}

static json_t *
pj_status(const spire_api_types_Status *s)
{
	struct pj	 p = { 0 };
	json_t		*o = json_object();

	if (o == NULL)
		return NULL;
	pj_set(&p, o, "code", json_integer(s->code));
	pj_set(&p, o, "message", pj_str(s->message));
	return pj_done(&p, o);
}

json_t *
pbjson_entry(const spire_api_types_Entry *e)
{
	struct pj	 p = { 0 };
	json_t		*o = json_object();

	if (o == NULL)
		return NULL;
	pj_set(&p, o, "id", pj_str(e->id));
	if (e->has_spiffe_id)
		pj_set(&p, o, "spiffe_id", pj_id(&e->spiffe_id));
	if (e->has_parent_id)
		pj_set(&p, o, "parent_id", pj_id(&e->parent_id));
	pj_set(&p, o, "selectors", pj_selectors(e->selectors,
	    e->selectors_count));
	pj_set(&p, o, "x509_svid_ttl", json_integer(e->x509_svid_ttl));
	pj_set(&p, o, "federates_with", pj_strings(e->federates_with,
	    e->federates_with_count));
	pj_set(&p, o, "admin", json_boolean(e->admin));
	pj_set(&p, o, "downstream", json_boolean(e->downstream));
	pj_set(&p, o, "expires_at", pj_i64(e->expires_at));
	pj_set(&p, o, "dns_names", pj_strings(e->dns_names,
	    e->dns_names_count));
	pj_set(&p, o, "revision_number", pj_i64(e->revision_number));
	pj_set(&p, o, "store_svid", json_boolean(e->store_svid));
	pj_set(&p, o, "jwt_svid_ttl", json_integer(e->jwt_svid_ttl));
	pj_set(&p, o, "hint", pj_str(e->hint));
	pj_set(&p, o, "created_at", pj_i64(e->created_at));
	return pj_done(&p, o);
}

json_t *
pbjson_agent(const spire_api_types_Agent *a)
{
	struct pj	 p = { 0 };
	json_t		*o = json_object();

	if (o == NULL)
		return NULL;
	if (a->has_id)
		pj_set(&p, o, "id", pj_id(&a->id));
	pj_set(&p, o, "attestation_type", pj_str(a->attestation_type));
	pj_set(&p, o, "x509svid_serial_number",
	    pj_str(a->x509svid_serial_number));
	pj_set(&p, o, "x509svid_expires_at", pj_i64(a->x509svid_expires_at));
	pj_set(&p, o, "selectors", pj_selectors(a->selectors,
	    a->selectors_count));
	pj_set(&p, o, "banned", json_boolean(a->banned));
	pj_set(&p, o, "can_reattest", json_boolean(a->can_reattest));
	return pj_done(&p, o);
}

json_t *
pbjson_bundle(const spire_api_types_Bundle *b)
{
	struct pj	 p = { 0 };
	json_t		*o = json_object(), *x = json_array();
	json_t		*j = json_array(), *k;
	size_t		 i;

	if (o == NULL || x == NULL || j == NULL) {
		json_decref(o);
		json_decref(x);
		json_decref(j);
		return NULL;
	}
	pj_set(&p, o, "trust_domain", pj_str(b->trust_domain));
	for (i = 0; i < b->x509_authorities_count; i++) {
		k = json_object();
		if (k != NULL) {
			pj_set(&p, k, "asn1",
			    pj_pbbytes(b->x509_authorities[i].asn1));
			pj_set(&p, k, "tainted",
			    json_boolean(b->x509_authorities[i].tainted));
		}
		pj_add(&p, x, k);
	}
	pj_set(&p, o, "x509_authorities", x);
	for (i = 0; i < b->jwt_authorities_count; i++) {
		k = json_object();
		if (k != NULL) {
			pj_set(&p, k, "public_key",
			    pj_pbbytes(b->jwt_authorities[i].public_key));
			pj_set(&p, k, "key_id",
			    pj_str(b->jwt_authorities[i].key_id));
			pj_set(&p, k, "expires_at",
			    pj_i64(b->jwt_authorities[i].expires_at));
			pj_set(&p, k, "tainted",
			    json_boolean(b->jwt_authorities[i].tainted));
		}
		pj_add(&p, j, k);
	}
	pj_set(&p, o, "jwt_authorities", j);
	pj_set(&p, o, "refresh_hint", pj_i64(b->refresh_hint));
	pj_set(&p, o, "sequence_number", pj_u64(b->sequence_number));
	return pj_done(&p, o);
}

json_t *
pbjson_join_token(const spire_api_types_JoinToken *t)
{
	struct pj	 p = { 0 };
	json_t		*o = json_object();

	if (o == NULL)
		return NULL;
	pj_set(&p, o, "value", pj_str(t->value));
	pj_set(&p, o, "expires_at", pj_i64(t->expires_at));
	return pj_done(&p, o);
}

json_t *
pbjson_count(long n)
{
	struct pj	 p = { 0 };
	json_t		*o = json_object();

	if (o == NULL)
		return NULL;
	pj_set(&p, o, "count", json_integer(n));
	return pj_done(&p, o);
}

json_t *
pbjson_empty(void)
{
	return json_object();
}

json_t *
pbjson_entry_results(const spire_api_server_entry_v1_EntryResult *r,
    size_t n)
{
	struct pj	 p = { 0 };
	json_t		*o, *a;
	size_t		 i;

	if (pj_list_new(&o, &a) == -1)
		return NULL;
	for (i = 0; i < n; i++)
		pj_add_result(&p, a, r[i].has_status ? &r[i].status : NULL,
		    r[i].has_entry ? "entry" : NULL,
		    r[i].has_entry ? pbjson_entry(&r[i].entry) : NULL);
	pj_set(&p, o, "results", a);
	return pj_done(&p, o);
}

json_t *
pbjson_entry_delete_results(
    const spire_api_server_entry_v1_BatchDeleteEntryResponse *r)
{
	struct pj	 p = { 0 };
	json_t		*o, *a;
	size_t		 i;

	if (pj_list_new(&o, &a) == -1)
		return NULL;
	for (i = 0; i < r->results_count; i++)
		pj_add_result(&p, a, r->results[i].has_status ?
		    &r->results[i].status : NULL, "id",
		    pj_str(r->results[i].id));
	pj_set(&p, o, "results", a);
	return pj_done(&p, o);
}

json_t *
pbjson_entry_list(const spire_api_types_Entry *const *e, size_t n,
    const char *next_page_token)
{
	struct pj	 p = { 0 };
	json_t		*o, *a;
	size_t		 i;

	if (pj_list_new(&o, &a) == -1)
		return NULL;
	for (i = 0; i < n; i++)
		pj_add(&p, a, pbjson_entry(e[i]));
	pj_set(&p, o, "entries", a);
	pj_set(&p, o, "next_page_token", pj_str(next_page_token));
	return pj_done(&p, o);
}

json_t *
pbjson_agent_list(const spire_api_types_Agent *const *ag, size_t n,
    const char *next_page_token)
{
	struct pj	 p = { 0 };
	json_t		*o, *a;
	size_t		 i;

	if (pj_list_new(&o, &a) == -1)
		return NULL;
	for (i = 0; i < n; i++)
		pj_add(&p, a, pbjson_agent(ag[i]));
	pj_set(&p, o, "agents", a);
	pj_set(&p, o, "next_page_token", pj_str(next_page_token));
	return pj_done(&p, o);
}

json_t *
pbjson_bundle_list(
    const spire_api_server_bundle_v1_ListFederatedBundlesResponse *r)
{
	struct pj	 p = { 0 };
	json_t		*o, *a;
	size_t		 i;

	if (pj_list_new(&o, &a) == -1)
		return NULL;
	for (i = 0; i < r->bundles_count; i++)
		pj_add(&p, a, pbjson_bundle(&r->bundles[i]));
	pj_set(&p, o, "bundles", a);
	pj_set(&p, o, "next_page_token", pj_str(r->next_page_token));
	return pj_done(&p, o);
}

json_t *
pbjson_bundle_results(
    const spire_api_server_bundle_v1_BatchFederatedBundleResponse *r)
{
	struct pj	 p = { 0 };
	json_t		*o, *a;
	size_t		 i;

	if (pj_list_new(&o, &a) == -1)
		return NULL;
	for (i = 0; i < r->results_count; i++)
		pj_add_result(&p, a, r->results[i].has_status ?
		    &r->results[i].status : NULL,
		    r->results[i].has_bundle ? "bundle" : NULL,
		    r->results[i].has_bundle ?
		    pbjson_bundle(&r->results[i].bundle) : NULL);
	pj_set(&p, o, "results", a);
	return pj_done(&p, o);
}

json_t *
pbjson_bundle_delete_results(const
    spire_api_server_bundle_v1_BatchDeleteFederatedBundleResponse *r)
{
	struct pj	 p = { 0 };
	json_t		*o, *a;
	size_t		 i;

	if (pj_list_new(&o, &a) == -1)
		return NULL;
	for (i = 0; i < r->results_count; i++)
		pj_add_result(&p, a, r->results[i].has_status ?
		    &r->results[i].status : NULL, "trust_domain",
		    pj_str(r->results[i].trust_domain));
	pj_set(&p, o, "results", a);
	return pj_done(&p, o);
}

json_t *
pbjson_mint_jwt(const spire_api_server_svid_v1_MintJWTSVIDResponse *r)
{
	struct pj			 p = { 0 };
	const spire_api_types_JWTSVID	*s = &r->svid;
	json_t				*o = json_object(), *v;

	if (o == NULL)
		return NULL;
	if (!r->has_svid)
		return o;
	v = json_object();
	if (v != NULL) {
		pj_set(&p, v, "token", pj_str(s->token));
		if (s->has_id)
			pj_set(&p, v, "id", pj_id(&s->id));
		pj_set(&p, v, "expires_at", pj_i64(s->expires_at));
		pj_set(&p, v, "issued_at", pj_i64(s->issued_at));
		pj_set(&p, v, "hint", pj_str(s->hint));
	}
	pj_set(&p, o, "svid", v);
	return pj_done(&p, o);
}

json_t *
pbjson_x509svid_response(const X509SVIDResponse *r)
{
	struct pj	 p = { 0 };
	json_t		*o = json_object(), *a = json_array();
	json_t		*c = json_array(), *fb = json_object(), *s;
	size_t		 i;

	if (o == NULL || a == NULL || c == NULL || fb == NULL) {
		json_decref(o);
		json_decref(a);
		json_decref(c);
		json_decref(fb);
		return NULL;
	}
	for (i = 0; i < r->svids_count; i++) {
		s = json_object();
		if (s != NULL) {
			pj_set(&p, s, "spiffe_id",
			    pj_str(r->svids[i].spiffe_id));
			pj_set(&p, s, "x509_svid",
			    pj_pbbytes(r->svids[i].x509_svid));
			pj_set(&p, s, "x509_svid_key",
			    pj_pbbytes(r->svids[i].x509_svid_key));
			pj_set(&p, s, "bundle",
			    pj_pbbytes(r->svids[i].bundle));
			pj_set(&p, s, "hint", pj_str(r->svids[i].hint));
		}
		pj_add(&p, a, s);
	}
	pj_set(&p, o, "svids", a);
	for (i = 0; i < r->crl_count; i++)
		pj_add(&p, c, pj_pbbytes(r->crl[i]));
	pj_set(&p, o, "crl", c);
	for (i = 0; i < r->federated_bundles_count; i++)
		pj_set(&p, fb, r->federated_bundles[i].key != NULL ?
		    r->federated_bundles[i].key : "",
		    pj_pbbytes(r->federated_bundles[i].value));
	pj_set(&p, o, "federated_bundles", fb);
	return pj_done(&p, o);
}

json_t *
pbjson_jwtsvid_response(const JWTSVIDResponse *r)
{
	struct pj	 p = { 0 };
	json_t		*o, *a, *s;
	size_t		 i;

	if (pj_list_new(&o, &a) == -1)
		return NULL;
	for (i = 0; i < r->svids_count; i++) {
		s = json_object();
		if (s != NULL) {
			pj_set(&p, s, "spiffe_id",
			    pj_str(r->svids[i].spiffe_id));
			pj_set(&p, s, "svid", pj_str(r->svids[i].svid));
			pj_set(&p, s, "hint", pj_str(r->svids[i].hint));
		}
		pj_add(&p, a, s);
	}
	pj_set(&p, o, "svids", a);
	return pj_done(&p, o);
}

json_t *
pbjson_jwt_bundles(const JWTBundlesResponse *r)
{
	struct pj	 p = { 0 };
	json_t		*o = json_object(), *m = json_object();
	size_t		 i;

	if (o == NULL || m == NULL) {
		json_decref(o);
		json_decref(m);
		return NULL;
	}
	for (i = 0; i < r->bundles_count; i++)
		pj_set(&p, m, r->bundles[i].key != NULL ?
		    r->bundles[i].key : "", pj_pbbytes(r->bundles[i].value));
	pj_set(&p, o, "bundles", m);
	return pj_done(&p, o);
}

/* depth bounds the nesting a hostile agent could send. */
static json_t *
pj_value(const google_protobuf_Value *v, int drop_nulls, int depth)
{
	struct pj	 p = { 0 };
	json_t		*a, *e;
	size_t		 i;

	if (depth > CLI_JSON_DEPTH_MAX)
		return NULL;
	switch (v->which_kind) {
	case google_protobuf_Value_number_value_tag:
		return json_real(v->kind.number_value);
	case google_protobuf_Value_string_value_tag:
		return pj_str(v->kind.string_value);
	case google_protobuf_Value_bool_value_tag:
		return json_boolean(v->kind.bool_value);
	case google_protobuf_Value_struct_value_tag:
		if (v->kind.struct_value == NULL)
			return json_object();
		return pj_struct(v->kind.struct_value, drop_nulls,
		    depth + 1);
	case google_protobuf_Value_list_value_tag:
		a = json_array();
		if (a == NULL || v->kind.list_value == NULL)
			return a;
		for (i = 0; i < v->kind.list_value->values_count; i++) {
			e = pj_value(&v->kind.list_value->values[i],
			    drop_nulls, depth + 1);
			if (drop_nulls && e != NULL && json_is_null(e))
				json_decref(e);
			else
				pj_add(&p, a, e);
		}
		return pj_done(&p, a);
	default:
		return json_null();
	}
}

static json_t *
pj_struct(const google_protobuf_Struct *s, int drop_nulls, int depth)
{
	struct pj	 p = { 0 };
	json_t		*o = json_object(), *v;
	size_t		 i;

	if (o == NULL)
		return NULL;
	for (i = 0; i < s->fields_count; i++) {
		if (!s->fields[i].has_value)
			v = json_null();
		else
			v = pj_value(&s->fields[i].value, drop_nulls, depth);
		if (drop_nulls && v != NULL && json_is_null(v)) {
			json_decref(v);
			continue;
		}
		pj_set(&p, o, s->fields[i].key != NULL ? s->fields[i].key :
		    "", v);
	}
	return pj_done(&p, o);
}

json_t *
pbjson_struct(const google_protobuf_Struct *s, int drop_nulls)
{
	return pj_struct(s, drop_nulls, 0);
}

json_t *
pbjson_validate_response(const ValidateJWTSVIDResponse *r)
{
	struct pj	 p = { 0 };
	json_t		*o = json_object();

	if (o == NULL)
		return NULL;
	pj_set(&p, o, "spiffe_id", pj_str(r->spiffe_id));
	if (r->has_claims)
		pj_set(&p, o, "claims", pbjson_struct(&r->claims, 1));
	return pj_done(&p, o);
}
