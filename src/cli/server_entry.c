/*
 * `spirelet server entry create|show|update|delete|count`: registration
 * entries through the server's admin socket, with spire-server entry's
 * flags, checks, messages and output (pretty and -output json).
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <pb_decode.h>

#include "cli/admin.h"
#include "cli/commands.h"
#include "cli/pbjson.h"
#include "core/mem.h"
#include "spire/api/server/entry/v1/entry.pb.h"

#define ENTRY_SERVICE	"/spire.api.server.entry.v1.Entry/"
#define ENTRY_ERR_MAX	OUTPUT_ERROR_MAX
#define LIST_REQ	spire_api_server_entry_v1_ListEntriesRequest_fields
#define LIST_RESP	spire_api_server_entry_v1_ListEntriesResponse_fields
#define LIST_PAGE	spire_api_server_entry_v1_ListEntriesResponse
#define ENTRY_WHY_MAX	256	/* bytes of a reason inside a message */

/*
 * Flag rows for a struct entry_filter_flags or struct entry_flags f,
 * shared by the entry commands in SPIRE's order: create and update put
 * their own rows (-entryID, -node) between the groups, show its -entryID
 * between ENTRY_FLAG_DOWNSTREAM and ENTRY_FLAGS_FILTER. verb, a string
 * literal, ends the filter rows' help texts.
 */
#define ENTRY_FLAG_DOWNSTREAM(f)					\
	{ "downstream", FLAG_BOOL, &(f).downstream, "A boolean value "	\
	    "that, when set, indicates that the entry describes a "	\
	    "downstream SPIRE server" }
#define ENTRY_FLAG_SELECTOR(f)						\
	{ "selector", FLAG_LIST, &(f).selectors, "A colon-delimited "	\
	    "type:value selector. Can be used more than once" }
#define ENTRY_FLAGS_FILTER(f, verb)					\
	{ "federatesWith", FLAG_LIST, &(f).federates, "SPIFFE ID of a "	\
	    "trust domain an entry is federate with. Can be used more "	\
	    "than once" },						\
	{ "hint", FLAG_STRING, &(f).hint, "The Hint of the records to "	\
	    verb " (optional)" },					\
	{ "matchFederatesWithOn", FLAG_STRING, &(f).match_federates,	\
	    "The match mode used when filtering by federates with. "	\
	    "Options: exact, any, superset and subset (default "	\
	    "\"superset\")" },						\
	{ "matchSelectorsOn", FLAG_STRING, &(f).match_selectors,	\
	    "The match mode used when filtering by selectors. "		\
	    "Options: exact, any, superset and subset (default "	\
	    "\"superset\")" },						\
	ADMIN_FLAG_OUTPUT((f).c),					\
	{ "parentID", FLAG_STRING, &(f).parent_id, "The Parent ID of "	\
	    "the records to " verb },					\
	ENTRY_FLAG_SELECTOR(f),						\
	ADMIN_FLAG_SOCKET((f).c),					\
	{ "spiffeID", FLAG_STRING, &(f).spiffe_id, "The SPIFFE ID of "	\
	    "the records to " verb }
#define ENTRY_FLAGS_WRITE_HEAD(f)					\
	{ "admin", FLAG_BOOL, &(f).admin, "If set, the SPIFFE ID in "	\
	    "this entry will be granted access to the SPIRE Server's "	\
	    "management APIs" },					\
	{ "data", FLAG_STRING, &(f).data, "Path to a file containing "	\
	    "registration JSON (optional). If set to '-', read the "	\
	    "JSON from stdin." },					\
	{ "dns", FLAG_LIST, &(f).dns, "A DNS name that will be "	\
	    "included in SVIDs issued based on this entry, where "	\
	    "appropriate. Can be used more than once" },		\
	ENTRY_FLAG_DOWNSTREAM(f),					\
	{ "entryExpiry", FLAG_INT, &(f).expiry, "An expiry, from "	\
	    "epoch in seconds, for the resulting registration entry to "\
	    "be pruned" }
#define ENTRY_FLAGS_WRITE_MID(f)					\
	{ "federatesWith", FLAG_LIST, &(f).federates, "SPIFFE ID of a "	\
	    "trust domain to federate with. Can be used more than "	\
	    "once" },							\
	{ "hint", FLAG_STRING, &(f).hint, "The entry hint, used to "	\
	    "disambiguate entries with the same SPIFFE ID" },		\
	{ "jwtSVIDTTL", FLAG_INT, &(f).jwt_ttl, "The lifetime, in "	\
	    "seconds, for JWT-SVIDs issued based on this "		\
	    "registration entry." }
#define ENTRY_FLAGS_WRITE_TAIL(f)					\
	ADMIN_FLAG_OUTPUT((f).c),					\
	{ "parentID", FLAG_STRING, &(f).parent_id, "The SPIFFE ID of "	\
	    "this record's parent" },					\
	ENTRY_FLAG_SELECTOR(f),						\
	ADMIN_FLAG_SOCKET((f).c),					\
	{ "spiffeID", FLAG_STRING, &(f).spiffe_id, "The SPIFFE ID "	\
	    "that this record represents" },				\
	{ "storeSVID", FLAG_BOOL, &(f).store_svid, "A boolean value "	\
	    "that, when set, indicates that the resulting issued "	\
	    "SVID from this entry must be stored through an "		\
	    "SVIDStore plugin" },					\
	{ "x509SVIDTTL", FLAG_INT, &(f).x509_ttl, "The lifetime, in "	\
	    "seconds, for x509-SVIDs issued based on this "		\
	    "registration entry." }

/* The flags of create and update (update has no -entryID default). */
struct entry_flags {
	struct admin_cmd	 c;
	const char		*data;
	const char		*entry_id;
	const char		*parent_id;
	const char		*spiffe_id;
	const char		*hint;
	struct flag_list	 selectors;
	struct flag_list	 federates;
	struct flag_list	 dns;
	long			 x509_ttl;
	long			 jwt_ttl;
	long			 expiry;
	int			 admin;
	int			 downstream;
	int			 node;
	int			 store_svid;
	int			 update;	/* entry update, not create */
};

/* The filters of show and count. */
struct entry_filter_flags {
	struct admin_cmd	 c;
	const char		*entry_id;	/* show only */
	const char		*parent_id;
	const char		*spiffe_id;
	const char		*hint;
	const char		*match_selectors;
	const char		*match_federates;
	struct flag_list	 selectors;
	struct flag_list	 federates;
	int			 downstream;
};

static void	entry_print(FILE *, const spire_api_types_Entry *);
static const char *entry_s(const char *);
static int	entry_cmp(const void *, const void *);
static int	entry_write_cmd(struct entry_flags *, const char *, int,
		    const struct flag *, int, char *[]);
static int	entry_filter_parse(struct entry_filter_flags *, const char *,
		    const struct flag *, int, char *[]);
static int	entry_selector_cmp(const void *, const void *);
static void	entry_sort(spire_api_types_Entry **, size_t);
static int	entry_strings(struct admin_pool *, const struct flag_list *,
		    char ***, pb_size_t *);
static int	entry_from_flags(struct entry_flags *, struct admin_pool *,
		    spire_api_types_Entry *, char *, size_t);
static json_t	*entry_json_get(json_t *, const char *);
static int	entry_json_string(struct admin_pool *, json_t *,
		    const char *, char **, char *, size_t);
static int	entry_json_int(json_t *, const char *, int64_t, int64_t,
		    int64_t *, char *, size_t);
static int	entry_json_bool(json_t *, const char *, bool *, char *,
		    size_t);
static int	entry_json_strings(struct admin_pool *, json_t *,
		    const char *, int, char ***, pb_size_t *, char *, size_t);
static int	entry_from_json(struct admin_pool *, json_t *,
		    spire_api_types_Entry *, char *, size_t);
static int	entries_from_file(struct admin_pool *, const char *,
		    spire_api_types_Entry **, size_t *, char *, size_t);
static int	entry_write(struct entry_flags *);
static int	entry_filter(struct entry_filter_flags *, struct admin_pool *,
		    spire_api_server_entry_v1_EntryFilter *, char *, size_t);
static int	entry_list(struct entry_filter_flags *);

/* printEntry: the block spire-server prints for one entry. */
static void
entry_print(FILE *f, const spire_api_types_Entry *e)
{
	char	id[SPIFFE_ID_MAX + 16], t[OUTPUT_TIME_MAX];
	size_t	i;

	fprintf(f, "Entry ID         : %s\n",
	    e->id != NULL && *e->id != '\0' ? e->id : "(none)");
	id[0] = '\0';
	if (e->has_spiffe_id)
		admin_id_string(&e->spiffe_id, id, sizeof(id));
	fprintf(f, "SPIFFE ID        : %s\n", id);
	id[0] = '\0';
	if (e->has_parent_id)
		admin_id_string(&e->parent_id, id, sizeof(id));
	fprintf(f, "Parent ID        : %s\n", id);
	fprintf(f, "Revision         : %lld\n", (long long)e->revision_number);
	if (e->downstream)
		fprintf(f, "Downstream       : true\n");
	if (e->x509_svid_ttl == 0)
		fprintf(f, "X509-SVID TTL    : default\n");
	else
		fprintf(f, "X509-SVID TTL    : %d\n", (int)e->x509_svid_ttl);
	if (e->jwt_svid_ttl == 0)
		fprintf(f, "JWT-SVID TTL     : default\n");
	else
		fprintf(f, "JWT-SVID TTL     : %d\n", (int)e->jwt_svid_ttl);
	if (e->expires_at != 0 && output_time(e->expires_at, 1, t,
	    sizeof(t)) != -1)
		fprintf(f, "Expiration time  : %s\n", t);
	for (i = 0; i < e->selectors_count; i++)
		fprintf(f, "Selector         : %s:%s\n",
		    e->selectors[i].type != NULL ? e->selectors[i].type : "",
		    e->selectors[i].value != NULL ? e->selectors[i].value :
		    "");
	for (i = 0; i < e->federates_with_count; i++)
		fprintf(f, "FederatesWith    : %s\n", e->federates_with[i]);
	for (i = 0; i < e->dns_names_count; i++)
		fprintf(f, "DNS name         : %s\n", e->dns_names[i]);
	if (e->admin)
		fprintf(f, "Admin            : true\n");
	if (e->store_svid)
		fprintf(f, "StoreSvid        : true\n");
	if (e->hint != NULL && *e->hint != '\0')
		fprintf(f, "Hint             : %s\n", e->hint);
	fprintf(f, "\n");
}

static const char *
entry_s(const char *s)
{
	return s != NULL ? s : "";
}

static int
entry_selector_cmp(const void *a, const void *b)
{
	const spire_api_types_Selector	*x = a, *y = b;
	int				 c;

	c = strcmp(entry_s(x->type), entry_s(y->type));
	return c != 0 ? c : strcmp(entry_s(x->value), entry_s(y->value));
}

/* compareTypesEntries: ID, parent, TTLs, then the sorted selectors. */
static int
entry_cmp(const void *a, const void *b)
{
	const spire_api_types_Entry	*x = *(const spire_api_types_Entry *
					    const *)a;
	const spire_api_types_Entry	*y = *(const spire_api_types_Entry *
					    const *)b;
	size_t				 i;
	int				 c;

	if ((c = strcmp(entry_s(x->spiffe_id.trust_domain),
	    entry_s(y->spiffe_id.trust_domain))) != 0 ||
	    (c = strcmp(entry_s(x->spiffe_id.path),
	    entry_s(y->spiffe_id.path))) != 0 ||
	    (c = strcmp(entry_s(x->parent_id.trust_domain),
	    entry_s(y->parent_id.trust_domain))) != 0 ||
	    (c = strcmp(entry_s(x->parent_id.path),
	    entry_s(y->parent_id.path))) != 0)
		return c;
	if (x->x509_svid_ttl != y->x509_svid_ttl)
		return x->x509_svid_ttl < y->x509_svid_ttl ? -1 : 1;
	if (x->jwt_svid_ttl != y->jwt_svid_ttl)
		return x->jwt_svid_ttl < y->jwt_svid_ttl ? -1 : 1;
	if (x->selectors_count != y->selectors_count)
		return x->selectors_count < y->selectors_count ? -1 : 1;
	for (i = 0; i < x->selectors_count; i++) {
		c = entry_selector_cmp(&x->selectors[i], &y->selectors[i]);
		if (c != 0)
			return c;
	}
	return 0;
}

/*
 * SortTypesEntries: each entry's selectors, then the entries.
 * XXX: Go's sort.Slice is not stable, so entries equal in all entry_cmp
 * looks at may come out in another order than spire-server's.
 */
static void
entry_sort(spire_api_types_Entry **v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (v[i]->selectors_count > 1)
			qsort(v[i]->selectors, v[i]->selectors_count,
			    sizeof(v[i]->selectors[0]), entry_selector_cmp);
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), entry_cmp);
}

/* A repeated flag's values as a repeated string field. */
static int
entry_strings(struct admin_pool *p, const struct flag_list *l, char ***out,
    pb_size_t *n)
{
	int	i;

	*out = NULL;
	*n = 0;
	if (l->n == 0)
		return 0;
	*out = admin_pool_alloc(p, (size_t)l->n, sizeof(**out));
	if (*out == NULL)
		return -1;
	for (i = 0; i < l->n; i++) {
		(*out)[i] = admin_pool_strdup(p, l->v[i]);
		if ((*out)[i] == NULL)
			return -1;
	}
	*n = (pb_size_t)l->n;
	return 0;
}

/* parseConfig of create and update: the one entry the flags describe. */
static int
entry_from_flags(struct entry_flags *f, struct admin_pool *p,
    spire_api_types_Entry *e, char *err, size_t errlen)
{
	static char	 server_path[] = "/spire/server";
	const char	*id_first, *id_second;
	int		 update = f->update;

	memset(e, 0, sizeof(*e));
	/* update parses the parent first, create the SPIFFE ID first. */
	id_first = update ? f->parent_id : f->spiffe_id;
	id_second = update ? f->spiffe_id : f->parent_id;
	if (admin_id_parse(p, id_first, update ? &e->parent_id :
	    &e->spiffe_id, err, errlen) == -1)
		return -1;
	if (!update && f->node) {
		e->parent_id.trust_domain = e->spiffe_id.trust_domain;
		e->parent_id.path = server_path;
	} else if (admin_id_parse(p, id_second, update ? &e->spiffe_id :
	    &e->parent_id, err, errlen) == -1)
		return -1;
	e->has_spiffe_id = e->has_parent_id = true;
	if (f->x509_ttl > INT32_MAX) {
		snprintf(err, errlen, "invalid value for X509 SVID TTL: "
		    "overflow converting int(%ld) to int32", f->x509_ttl);
		return -1;
	}
	if (f->jwt_ttl > INT32_MAX) {
		snprintf(err, errlen, "invalid value for JWT SVID TTL: "
		    "overflow converting int(%ld) to int32", f->jwt_ttl);
		return -1;
	}
	e->id = admin_pool_strdup(p, f->entry_id != NULL ? f->entry_id : "");
	e->hint = admin_pool_strdup(p, f->hint != NULL ? f->hint : "");
	if (e->id == NULL || e->hint == NULL)
		goto nomem;
	e->x509_svid_ttl = (int32_t)f->x509_ttl;
	e->jwt_svid_ttl = (int32_t)f->jwt_ttl;
	e->expires_at = f->expiry;
	e->downstream = f->downstream;
	e->admin = f->admin;
	e->store_svid = f->store_svid;
	if (entry_strings(p, &f->dns, &e->dns_names, &e->dns_names_count) ==
	    -1 || entry_strings(p, &f->federates, &e->federates_with,
	    &e->federates_with_count) == -1)
		goto nomem;
	if (admin_selectors_parse(p, f->selectors.v, (size_t)f->selectors.n,
	    &e->selectors, err, errlen) == -1)
		return -1;
	e->selectors_count = (pb_size_t)f->selectors.n;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* A member by name, matched as encoding/json does (case folded). */
static json_t *
entry_json_get(json_t *o, const char *name)
{
	const char	*k;
	json_t		*v;

	v = json_object_get(o, name);
	if (v != NULL)
		return v;
	json_object_foreach(o, k, v) {
		if (strcasecmp(k, name) == 0)
			return v;
	}
	return NULL;
}

static int
entry_json_string(struct admin_pool *p, json_t *o, const char *name,
    char **out, char *err, size_t errlen)
{
	json_t	*v = entry_json_get(o, name);

	*out = admin_pool_strdup(p, "");
	if (v == NULL || json_is_null(v))
		return *out != NULL ? 0 : -1;
	if (!json_is_string(v)) {
		snprintf(err, errlen, "json: cannot unmarshal %s into Go "
		    "struct field RegistrationEntry.entries.%s of type string",
		    json_is_number(v) ? "number" : "value", name);
		return -1;
	}
	*out = admin_pool_strdup(p, json_string_value(v));
	return *out != NULL ? 0 : -1;
}

static int
entry_json_int(json_t *o, const char *name, int64_t min, int64_t max,
    int64_t *out, char *err, size_t errlen)
{
	json_t	*v = entry_json_get(o, name);

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max) {
		snprintf(err, errlen, "json: cannot unmarshal value into Go "
		    "struct field RegistrationEntry.entries.%s of type int",
		    name);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

static int
entry_json_bool(json_t *o, const char *name, bool *out, char *err,
    size_t errlen)
{
	json_t	*v = entry_json_get(o, name);

	*out = false;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		snprintf(err, errlen, "json: cannot unmarshal value into Go "
		    "struct field RegistrationEntry.entries.%s of type bool",
		    name);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

/* With td, each value is a trust domain, given bare or as its ID. */
static int
entry_json_strings(struct admin_pool *p, json_t *o, const char *name,
    int td, char ***out, pb_size_t *n, char *err, size_t errlen)
{
	json_t		*v = entry_json_get(o, name), *s;
	struct spiffe_td	 t;
	size_t			 i;

	*out = NULL;
	*n = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) > UINT16_MAX) {
		snprintf(err, errlen, "json: cannot unmarshal value into Go "
		    "struct field RegistrationEntry.entries.%s of type "
		    "[]string", name);
		return -1;
	}
	*out = admin_pool_alloc(p, json_array_size(v), sizeof(**out));
	if (*out == NULL)
		return -1;
	json_array_foreach(v, i, s) {
		if (!json_is_string(s)) {
			snprintf(err, errlen, "json: cannot unmarshal value "
			    "into Go struct field RegistrationEntry.entries."
			    "%s of type string", name);
			return -1;
		}
		if (td && spiffe_td_parse(json_string_value(s),
		    json_string_length(s), &t) != SPIFFE_OK) {
			snprintf(err, errlen, "invalid federated trust domain: "
			    "%s", json_string_value(s));
			return -1;
		}
		(*out)[i] = admin_pool_strdup(p, td ? t.name :
		    json_string_value(s));
		if ((*out)[i] == NULL)
			return -1;
	}
	*n = (pb_size_t)json_array_size(v);
	return 0;
}

/* One element of a -data file: common.RegistrationEntry's JSON. */
static int
entry_from_json(struct admin_pool *p, json_t *o,
    spire_api_types_Entry *e, char *err, size_t errlen)
{
	json_t	*sels, *s;
	char		*spiffe_id, *parent_id, *type, *value;
	char		 why[ENTRY_WHY_MAX];
	int64_t		 v;
	size_t		 i;

	memset(e, 0, sizeof(*e));
	if (!json_is_object(o)) {
		snprintf(err, errlen, "json: cannot unmarshal value into Go "
		    "value of type common.RegistrationEntry");
		return -1;
	}
	if (entry_json_string(p, o, "spiffe_id", &spiffe_id, err,
	    errlen) == -1 || entry_json_string(p, o, "parent_id",
	    &parent_id, err, errlen) == -1 || entry_json_string(p, o,
	    "entry_id", &e->id, err, errlen) == -1 || entry_json_string(p,
	    o, "hint", &e->hint, err, errlen) == -1)
		return -1;
	if (admin_id_parse(p, spiffe_id, &e->spiffe_id, why,
	    sizeof(why)) == -1) {
		snprintf(err, errlen, "invalid SPIFFE ID: %s", why);
		return -1;
	}
	if (admin_id_parse(p, parent_id, &e->parent_id, why,
	    sizeof(why)) == -1) {
		snprintf(err, errlen, "invalid parent ID: %s", why);
		return -1;
	}
	e->has_spiffe_id = e->has_parent_id = true;
	if (entry_json_int(o, "x509_svid_ttl", INT32_MIN, INT32_MAX, &v,
	    err, errlen) == -1)
		return -1;
	e->x509_svid_ttl = (int32_t)v;
	if (entry_json_int(o, "jwt_svid_ttl", INT32_MIN, INT32_MAX, &v,
	    err, errlen) == -1)
		return -1;
	e->jwt_svid_ttl = (int32_t)v;
	if (entry_json_int(o, "entryExpiry", INT64_MIN, INT64_MAX,
	    &e->expires_at, err, errlen) == -1 || entry_json_int(o,
	    "revision_number", INT64_MIN, INT64_MAX, &e->revision_number,
	    err, errlen) == -1 || entry_json_int(o, "created_at", INT64_MIN,
	    INT64_MAX, &e->created_at, err, errlen) == -1 ||
	    entry_json_bool(o, "admin", &e->admin, err, errlen) == -1 ||
	    entry_json_bool(o, "downstream", &e->downstream, err,
	    errlen) == -1 || entry_json_bool(o, "store_svid", &e->store_svid,
	    err, errlen) == -1 || entry_json_strings(p, o, "dns_names", 0,
	    &e->dns_names, &e->dns_names_count, err, errlen) == -1 ||
	    entry_json_strings(p, o, "federates_with", 1, &e->federates_with,
	    &e->federates_with_count, err, errlen) == -1)
		return -1;
	sels = entry_json_get(o, "selectors");
	if (sels == NULL || json_is_null(sels))
		return 0;
	if (!json_is_array(sels) || json_array_size(sels) > UINT16_MAX) {
		snprintf(err, errlen, "json: cannot unmarshal value into Go "
		    "struct field RegistrationEntry.entries.selectors of type "
		    "[]*common.Selector");
		return -1;
	}
	e->selectors = admin_pool_alloc(p, json_array_size(sels),
	    sizeof(*e->selectors));
	if (e->selectors == NULL)
		return -1;
	json_array_foreach(sels, i, s) {
		if (!json_is_object(s) || entry_json_string(p, s, "type",
		    &type, err, errlen) == -1 || entry_json_string(p, s,
		    "value", &value, err, errlen) == -1)
			return -1;
		e->selectors[i].type = type;
		e->selectors[i].value = value;
	}
	e->selectors_count = (pb_size_t)json_array_size(sels);
	return 0;
}

/* parseFile: {"entries": [...]} from a file or from stdin for "-". */
static int
entries_from_file(struct admin_pool *p, const char *path,
    spire_api_types_Entry **out, size_t *n, char *err, size_t errlen)
{
	json_error_t	 je;
	json_t		*root = NULL;
	json_t	*a, *o;
	char		*text = NULL;
	size_t		 len, i;
	int		 rc = -1;

	*out = NULL;
	*n = 0;
	if (admin_read_file(path, &text, &len, err, errlen) == -1)
		return -1;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL || !json_is_object(root)) {
		snprintf(err, errlen, "%s", root == NULL ? je.text :
		    "json: cannot unmarshal value into Go value of type "
		    "common.RegistrationEntries");
		goto out;
	}
	a = entry_json_get(root, "entries");
	if (a != NULL && !json_is_array(a) && !json_is_null(a)) {
		snprintf(err, errlen, "json: cannot unmarshal value into Go "
		    "struct field RegistrationEntries.entries of type "
		    "[]*common.RegistrationEntry");
		goto out;
	}
	if (a == NULL || json_array_size(a) == 0) {
		rc = 0;
		goto out;
	}
	*out = admin_pool_alloc(p, json_array_size(a), sizeof(**out));
	if (*out == NULL)
		goto out;
	json_array_foreach(a, i, o) {
		if (entry_from_json(p, o, &(*out)[i], err, errlen) == -1)
			goto out;
	}
	*n = json_array_size(a);
	rc = 0;
out:
	json_decref(root);
	mem_free(text);
	return rc;
}

/* entry create, and entry update when f->update is set. */
static int
entry_write(struct entry_flags *f)
{
	spire_api_server_entry_v1_BatchCreateEntryRequest	 req =
	    spire_api_server_entry_v1_BatchCreateEntryRequest_init_zero;
	spire_api_server_entry_v1_BatchUpdateEntryRequest	 ureq =
	    spire_api_server_entry_v1_BatchUpdateEntryRequest_init_zero;
	spire_api_server_entry_v1_BatchCreateEntryResponse	 resp =
	    spire_api_server_entry_v1_BatchCreateEntryResponse_init_zero;
	spire_api_server_entry_v1_EntryResult			*r;
	struct admin_pool					 pool = { 0 };
	spire_api_types_Entry					*entries = NULL;
	spire_api_types_Entry					 one;
	const pb_msgdesc_t					*req_fields;
	const void						*msg;
	const char						*path;
	char				 err[ENTRY_ERR_MAX], name[24];
	size_t				 n = 0, i, failed = 0;
	int				 rc = 1, got = 0, update = f->update;

	if (f->data == NULL || *f->data == '\0') {
		if (update && (f->entry_id == NULL || *f->entry_id == '\0')) {
			rc = output_errorf("entry ID is required");
			goto out;
		}
		if (f->selectors.n < 1) {
			rc = output_errorf("at least one selector is "
			    "required");
			goto out;
		}
		if (!update && f->node && f->federates.n > 0) {
			rc = output_errorf("node entries can not federate");
			goto out;
		}
		if ((f->parent_id == NULL || *f->parent_id == '\0') &&
		    (update || !f->node)) {
			rc = output_errorf(update ? "a parent ID is required" :
			    "a parent ID is required if the node flag is not "
			    "set");
			goto out;
		}
		if (f->spiffe_id == NULL || *f->spiffe_id == '\0') {
			rc = output_errorf("a SPIFFE ID is required");
			goto out;
		}
		if (f->x509_ttl < 0) {
			rc = output_errorf("a positive x509-SVID TTL is "
			    "required");
			goto out;
		}
		if (f->jwt_ttl < 0) {
			rc = output_errorf("a positive JWT-SVID TTL is "
			    "required");
			goto out;
		}
		if (entry_from_flags(f, &pool, &one, err, sizeof(err)) == -1) {
			rc = output_errorf("%s", err);
			goto out;
		}
		entries = &one;
		n = 1;
	} else if (entries_from_file(&pool, f->data, &entries, &n, err,
	    sizeof(err)) == -1) {
		rc = output_errorf("%s", err);
		goto out;
	}
	if (n > UINT16_MAX) {
		rc = output_errorf("too many entries in %s", f->data);
		goto out;
	}
	/* Create and update responses have the same shape. */
	if (update) {
		ureq.entries = entries;
		ureq.entries_count = (pb_size_t)n;
		path = ENTRY_SERVICE "BatchUpdateEntry";
		req_fields =
		    spire_api_server_entry_v1_BatchUpdateEntryRequest_fields;
		msg = &ureq;
	} else {
		req.entries = entries;
		req.entries_count = (pb_size_t)n;
		path = ENTRY_SERVICE "BatchCreateEntry";
		req_fields =
		    spire_api_server_entry_v1_BatchCreateEntryRequest_fields;
		msg = &req;
	}
	got = admin_call(&f->c, path, NULL, 0, CLI_ADMIN_TIMEOUT_SEC,
	    req_fields, msg,
	    spire_api_server_entry_v1_BatchCreateEntryResponse_fields, &resp,
	    err, sizeof(err)) == 0;
	if (!got) {
		rc = output_errorf("%s", err);
		goto out;
	}
	/*
	 * The API leaves failed entries out of their results; the Go CLI
	 * puts the requested entry there, so both outputs show it.
	 */
	for (i = 0; i < resp.results_count; i++) {
		r = &resp.results[i];
		if (r->status.code != 0 && i < n) {
			pb_release(spire_api_types_Entry_fields, &r->entry);
			r->entry = entries[i];
			r->has_entry = true;
		}
	}
	if (f->c.format == OUTPUT_JSON) {
		rc = output_json_take(pbjson_entry_results(resp.results,
		    resp.results_count)) == 0 ? 0 : 1;
		goto out_resp;
	}
	for (i = 0; i < resp.results_count; i++) {
		if (resp.results[i].status.code == 0)
			entry_print(stdout, &resp.results[i].entry);
	}
	fflush(stdout);
	for (i = 0; i < resp.results_count; i++) {
		r = &resp.results[i];
		if (r->status.code == 0)
			continue;
		failed++;
		fprintf(stderr, "Failed to %s the following entry (code: %s, "
		    "msg: ", update ? "update" : "create",
		    output_code_name(r->status.code, name, sizeof(name)));
		output_quote(stderr, entry_s(r->status.message));
		fprintf(stderr, "):\n");
		entry_print(stderr, &r->entry);
	}
	rc = 0;
	if (failed > 0)
		rc = output_errorf("failed to %s one or more entries",
		    update ? "update" : "create");
out_resp:
	/* Results that hold a requested entry point into the pool. */
	for (i = 0; i < resp.results_count && i < n; i++) {
		if (resp.results[i].status.code != 0) {
			resp.results[i].has_entry = false;
			resp.results[i].entry = (spire_api_types_Entry)
			    spire_api_types_Entry_init_zero;
		}
	}
	pb_release(spire_api_server_entry_v1_BatchCreateEntryResponse_fields,
	    &resp);
out:
	admin_pool_free(&pool);
	flags_free_list(&f->selectors);
	flags_free_list(&f->federates);
	flags_free_list(&f->dns);
	return rc;
}

/*
 * entry create (update 0) or entry update (1) named name: starts f,
 * parses argv against flags, whose rows point into f, and writes the
 * entries. The exit status.
 */
static int
entry_write_cmd(struct entry_flags *f, const char *name, int update,
    const struct flag *flags, int argc, char *argv[])
{
	int	rc;

	memset(f, 0, sizeof(*f));
	f->c.name = name;
	f->c.socket = ADMIN_SERVER_SOCKET;
	f->update = update;
	rc = admin_parse(&f->c, flags, argc, argv);
	if (rc != -1) {
		flags_free_list(&f->selectors);
		flags_free_list(&f->federates);
		flags_free_list(&f->dns);
		return rc;
	}
	return entry_write(f);
}

int
cli_server_entry_create(int argc, char *argv[])
{
	struct entry_flags	f;
	const struct flag	flags[] = {
		ENTRY_FLAGS_WRITE_HEAD(f),
		{ "entryID", FLAG_STRING, &f.entry_id, "A custom ID for this "
		    "registration entry (optional). If not set, a new entry "
		    "ID will be generated" },
		ENTRY_FLAGS_WRITE_MID(f),
		{ "node", FLAG_BOOL, &f.node, "If set, this entry will be "
		    "applied to matching nodes rather than workloads" },
		ENTRY_FLAGS_WRITE_TAIL(f),
		ADMIN_FLAG_END,
	};

	return entry_write_cmd(&f, "entry create", 0, flags, argc, argv);
}

int
cli_server_entry_update(int argc, char *argv[])
{
	struct entry_flags	f;
	const struct flag	flags[] = {
		ENTRY_FLAGS_WRITE_HEAD(f),
		{ "entryID", FLAG_STRING, &f.entry_id, "The Registration "
		    "Entry ID of the record to update" },
		ENTRY_FLAGS_WRITE_MID(f),
		ENTRY_FLAGS_WRITE_TAIL(f),
		ADMIN_FLAG_END,
	};

	return entry_write_cmd(&f, "entry update", 1, flags, argc, argv);
}

/* The filter show and count send; strings come from the pool. */
static int
entry_filter(struct entry_filter_flags *f, struct admin_pool *p,
    spire_api_server_entry_v1_EntryFilter *filter, char *err,
    size_t errlen)
{
	char	why[ENTRY_WHY_MAX];
	int	m;

	memset(filter, 0, sizeof(*filter));
	if (f->parent_id != NULL && *f->parent_id != '\0') {
		if (admin_id_parse(p, f->parent_id, &filter->by_parent_id,
		    why, sizeof(why)) == -1) {
			snprintf(err, errlen, "error parsing parent ID \"%s\": "
			    "%s", f->parent_id, why);
			return -1;
		}
		filter->has_by_parent_id = true;
	}
	if (f->spiffe_id != NULL && *f->spiffe_id != '\0') {
		if (admin_id_parse(p, f->spiffe_id, &filter->by_spiffe_id,
		    why, sizeof(why)) == -1) {
			snprintf(err, errlen, "error parsing SPIFFE ID \"%s\": "
			    "%s", f->spiffe_id, why);
			return -1;
		}
		filter->has_by_spiffe_id = true;
	}
	if (f->selectors.n > 0) {
		m = admin_match_parse(f->match_selectors);
		if (m == -1) {
			snprintf(err, errlen, "match behavior \"%s\" unknown",
			    f->match_selectors);
			return -1;
		}
		if (admin_selectors_parse(p, f->selectors.v,
		    (size_t)f->selectors.n, &filter->by_selectors.selectors,
		    why, sizeof(why)) == -1) {
			snprintf(err, errlen, "error parsing selectors: %s",
			    why);
			return -1;
		}
		filter->by_selectors.selectors_count =
		    (pb_size_t)f->selectors.n;
		filter->by_selectors.match =
		    (spire_api_types_SelectorMatch_MatchBehavior)m;
		filter->has_by_selectors = true;
	}
	if (f->federates.n > 0) {
		m = admin_match_parse(f->match_federates);
		if (m == -1) {
			snprintf(err, errlen, "match behavior \"%s\" unknown",
			    f->match_federates);
			return -1;
		}
		filter->by_federates_with.trust_domains =
		    admin_pool_alloc(p, (size_t)f->federates.n,
		    sizeof(char *));
		if (filter->by_federates_with.trust_domains == NULL)
			goto nomem;
		for (m = 0; m < f->federates.n; m++) {
			filter->by_federates_with.trust_domains[m] =
			    admin_pool_strdup(p, f->federates.v[m]);
			if (filter->by_federates_with.trust_domains[m] ==
			    NULL)
				goto nomem;
		}
		filter->by_federates_with.trust_domains_count =
		    (pb_size_t)f->federates.n;
		filter->by_federates_with.match =
		    (spire_api_types_FederatesWithMatch_MatchBehavior)
		    admin_match_parse(f->match_federates);
		filter->has_by_federates_with = true;
	}
	if (f->hint != NULL && *f->hint != '\0') {
		filter->by_hint.value = admin_pool_strdup(p, f->hint);
		if (filter->by_hint.value == NULL)
			goto nomem;
		filter->has_by_hint = true;
	}
	/* spire-server always filters on downstream, true or false. */
	filter->has_by_downstream = true;
	filter->by_downstream.value = f->downstream;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* entry show: GetEntry, or ListEntries page by page. */
static int
entry_list(struct entry_filter_flags *f)
{
	spire_api_server_entry_v1_ListEntriesRequest	 req =
	    spire_api_server_entry_v1_ListEntriesRequest_init_zero;
	spire_api_server_entry_v1_GetEntryRequest	 greq =
	    spire_api_server_entry_v1_GetEntryRequest_init_zero;
	LIST_PAGE					*pages = NULL;
	spire_api_types_Entry				 one =
	    spire_api_types_Entry_init_zero;
	spire_api_types_Entry				**all = NULL;
	struct admin_pool				 pool = { 0 };
	void						*vpages = NULL;
	char			 err[ENTRY_ERR_MAX];
	size_t			 npages = 0, n = 0, i, j;
	int			 rc = 1, have_one = 0;

	if (f->entry_id != NULL && *f->entry_id != '\0') {
		if ((f->parent_id != NULL && *f->parent_id != '\0') ||
		    (f->spiffe_id != NULL && *f->spiffe_id != '\0') ||
		    f->selectors.n > 0) {
			rc = output_errorf("the -entryID flag can't be "
			    "combined with others");
			goto out;
		}
		greq.id = admin_pool_strdup(&pool, f->entry_id);
		if (greq.id == NULL)
			goto nomem;
		if (admin_call(&f->c, ENTRY_SERVICE "GetEntry", NULL, 0,
		    CLI_ADMIN_TIMEOUT_SEC,
		    spire_api_server_entry_v1_GetEntryRequest_fields, &greq,
		    spire_api_types_Entry_fields, &one, err,
		    sizeof(err)) == -1) {
			rc = output_errorf("error fetching entry ID %s: %s",
			    f->entry_id, err);
			goto out;
		}
		have_one = 1;
		all = mem_calloc(1, sizeof(*all));
		if (all == NULL)
			goto nomem;
		all[0] = &one;
		n = 1;
	} else {
		if (entry_filter(f, &pool, &req.filter, err,
		    sizeof(err)) == -1) {
			rc = output_errorf("%s", err);
			goto out;
		}
		req.has_filter = true;
		req.page_size = CLI_PAGE_SIZE_ENTRIES;
		rc = admin_list_pages(&f->c, ENTRY_SERVICE "ListEntries",
		    LIST_REQ, &req, &req.page_token, LIST_RESP,
		    sizeof(*pages), offsetof(LIST_PAGE, next_page_token),
		    &vpages, &npages, err, sizeof(err));
		pages = vpages;
		switch (rc) {
		case 0:
			break;
		case ADMIN_LIST_TOO_MANY:
			rc = output_errorf("error fetching entries: over %d "
			    "pages", CLI_PAGES_MAX);
			goto out;
		case ADMIN_LIST_NOMEM:
			goto nomem;
		default:
			rc = output_errorf("error fetching entries: %s", err);
			goto out;
		}
		for (i = 0; i < npages; i++)
			n += pages[i].entries_count;
		all = mem_calloc(n > 0 ? n : 1, sizeof(*all));
		if (all == NULL)
			goto nomem;
		for (n = 0, i = 0; i < npages; i++) {
			for (j = 0; j < pages[i].entries_count; j++)
				all[n++] = &pages[i].entries[j];
		}
	}
	entry_sort(all, n);
	if (f->c.format == OUTPUT_JSON) {
		rc = output_json_take(pbjson_entry_list(
		    (const spire_api_types_Entry *const *)all, n, "")) == 0 ?
		    0 : 1;
		goto out;
	}
	printf("Found %zu %s\n", n, output_plural((long)n, "entry",
	    "entries"));
	for (i = 0; i < n; i++)
		entry_print(stdout, all[i]);
	rc = 0;
	goto out;
nomem:
	rc = output_errorf("out of memory");
out:
	/* The page tokens point into the pages: release them last. */
	for (i = 0; i < npages; i++)
		pb_release(LIST_RESP, &pages[i]);
	if (have_one)
		pb_release(spire_api_types_Entry_fields, &one);
	mem_free(pages);
	mem_free(all);
	admin_pool_free(&pool);
	flags_free_list(&f->selectors);
	flags_free_list(&f->federates);
	return rc;
}

/*
 * Starts f for entry show or count (name) with SPIRE's defaults and parses
 * argv against flags, whose rows point into f: admin_parse's result.
 */
static int
entry_filter_parse(struct entry_filter_flags *f, const char *name,
    const struct flag *flags, int argc, char *argv[])
{
	memset(f, 0, sizeof(*f));
	f->c.name = name;
	f->c.socket = ADMIN_SERVER_SOCKET;
	f->match_selectors = f->match_federates = "superset";
	return admin_parse(&f->c, flags, argc, argv);
}

int
cli_server_entry_show(int argc, char *argv[])
{
	struct entry_filter_flags	f;
	int				rc;
	const struct flag		flags[] = {
		ENTRY_FLAG_DOWNSTREAM(f),
		{ "entryID", FLAG_STRING, &f.entry_id, "The Entry ID of the "
		    "records to show" },
		ENTRY_FLAGS_FILTER(f, "show"),
		ADMIN_FLAG_END,
	};

	rc = entry_filter_parse(&f, "entry show", flags, argc, argv);
	if (rc != -1) {
		flags_free_list(&f.selectors);
		flags_free_list(&f.federates);
		return rc;
	}
	return entry_list(&f);
}

int
cli_server_entry_count(int argc, char *argv[])
{
	spire_api_server_entry_v1_CountEntriesRequest	req =
	    spire_api_server_entry_v1_CountEntriesRequest_init_zero;
	spire_api_server_entry_v1_CountEntriesResponse	resp =
	    spire_api_server_entry_v1_CountEntriesResponse_init_zero;
	struct entry_filter_flags			f;
	struct admin_pool				pool = { 0 };
	char						err[ENTRY_ERR_MAX];
	int						rc;
	const struct flag				flags[] = {
		ENTRY_FLAG_DOWNSTREAM(f),
		ENTRY_FLAGS_FILTER(f, "count"),
		ADMIN_FLAG_END,
	};

	rc = entry_filter_parse(&f, "entry count", flags, argc, argv);
	if (rc != -1)
		goto out;
	if (entry_filter(&f, &pool, &req.filter, err, sizeof(err)) == -1) {
		rc = output_errorf("%s", err);
		goto out;
	}
	req.has_filter = true;
	if (admin_call(&f.c, ENTRY_SERVICE "CountEntries", NULL, 0,
	    CLI_ADMIN_TIMEOUT_SEC,
	    spire_api_server_entry_v1_CountEntriesRequest_fields, &req,
	    spire_api_server_entry_v1_CountEntriesResponse_fields, &resp,
	    err, sizeof(err)) == -1) {
		rc = output_errorf("%s", err);
		goto out;
	}
	if (f.c.format == OUTPUT_JSON)
		rc = output_json_take(pbjson_count(resp.count)) == 0 ? 0 : 1;
	else {
		printf("%d registration %s\n", (int)resp.count,
		    output_plural(resp.count, "entry", "entries"));
		rc = 0;
	}
out:
	admin_pool_free(&pool);
	flags_free_list(&f.selectors);
	flags_free_list(&f.federates);
	return rc;
}

int
cli_server_entry_delete(int argc, char *argv[])
{
	spire_api_server_entry_v1_BatchDeleteEntryRequest	 req =
	    spire_api_server_entry_v1_BatchDeleteEntryRequest_init_zero;
	spire_api_server_entry_v1_BatchDeleteEntryResponse	 resp =
	    spire_api_server_entry_v1_BatchDeleteEntryResponse_init_zero;
	const spire_api_server_entry_v1_BatchDeleteEntryResponse_Result *r;
	struct admin_cmd	 c;
	struct admin_pool	 pool = { 0 };
	json_error_t		 je;
	json_t			*root = NULL, *ids;
	json_t		*id;
	const char		*entry_id = NULL, *file = NULL;
	char			*text = NULL, *one, err[ENTRY_ERR_MAX];
	char			 name[24];
	size_t			 len, i, ok = 0, failed = 0;
	int			 rc;
	const struct flag	 flags[] = {
		{ "entryID", FLAG_STRING, &entry_id, "The Registration Entry "
		    "ID of the record to delete." },
		{ "file", FLAG_STRING, &file, "Path to a file containing a "
		    "JSON structure for batch deletion (optional). If set to "
		    "'-', read from stdin." },
		ADMIN_FLAG_OUTPUT(c),
		ADMIN_FLAG_SOCKET(c),
		ADMIN_FLAG_END,
	};

	memset(&c, 0, sizeof(c));
	c.name = "entry delete";
	c.socket = ADMIN_SERVER_SOCKET;
	rc = admin_parse(&c, flags, argc, argv);
	if (rc != -1)
		return rc;
	if (file != NULL && *file != '\0') {
		if (admin_read_file(file, &text, &len, err,
		    sizeof(err)) == -1) {
			rc = output_errorf("%s", err);
			goto out;
		}
		root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
		ids = root != NULL ? json_object_get(root, "ids") : NULL;
		if (root == NULL || !json_is_object(root) || (ids != NULL &&
		    !json_is_array(ids) && !json_is_null(ids))) {
			rc = output_errorf("%s", root == NULL ? je.text :
			    "json: cannot unmarshal value into Go value of "
			    "type entryv1.BatchDeleteEntryRequest");
			goto out;
		}
		if (json_array_size(ids) > UINT16_MAX) {
			rc = output_errorf("too many IDs in %s", file);
			goto out;
		}
		req.ids = admin_pool_alloc(&pool, json_array_size(ids),
		    sizeof(char *));
		if (req.ids == NULL)
			goto nomem;
		json_array_foreach(ids, i, id) {
			if (!json_is_string(id)) {
				rc = output_errorf("json: cannot unmarshal "
				    "value into Go struct field "
				    "BatchDeleteEntryRequest.ids of type "
				    "string");
				goto out;
			}
			req.ids[i] = admin_pool_strdup(&pool,
			    json_string_value(id));
			if (req.ids[i] == NULL)
				goto nomem;
		}
		req.ids_count = (pb_size_t)json_array_size(ids);
	} else {
		if (entry_id == NULL || *entry_id == '\0') {
			rc = output_errorf("an entry ID is required");
			goto out;
		}
		req.ids = admin_pool_alloc(&pool, 1, sizeof(char *));
		one = admin_pool_strdup(&pool, entry_id);
		if (req.ids == NULL || one == NULL)
			goto nomem;
		req.ids[0] = one;
		req.ids_count = 1;
	}
	if (admin_call(&c, ENTRY_SERVICE "BatchDeleteEntry", NULL, 0,
	    CLI_ADMIN_TIMEOUT_SEC,
	    spire_api_server_entry_v1_BatchDeleteEntryRequest_fields, &req,
	    spire_api_server_entry_v1_BatchDeleteEntryResponse_fields, &resp,
	    err, sizeof(err)) == -1) {
		rc = output_errorf("%s", err);
		goto out;
	}
	if (c.format == OUTPUT_JSON) {
		rc = output_json_take(pbjson_entry_delete_results(&resp)) ==
		    0 ? 0 : 1;
		goto out;
	}
	for (i = 0; i < resp.results_count; i++) {
		r = &resp.results[i];
		if (r->status.code == 0) {
			printf("Deleted entry with ID: %s\n", entry_s(r->id));
			ok++;
		}
	}
	if (ok > 0)
		printf("\n\n");
	fflush(stdout);
	for (i = 0; i < resp.results_count; i++) {
		r = &resp.results[i];
		if (r->status.code == 0)
			continue;
		failed++;
		fprintf(stderr, "Failed to delete entry with ID %s (code: %s, "
		    "msg: ", entry_s(r->id), output_code_name(r->status.code,
		    name, sizeof(name)));
		output_quote(stderr, entry_s(r->status.message));
		fprintf(stderr, ")\n");
	}
	if (failed > 0) {
		printf("\n\n");
		if (ok == 0)
			printf("Failed to delete %zu entries", failed);
		else
			printf("Deleted %zu entries successfully, but failed "
			    "to delete %zu entries", ok, failed);
		rc = output_errorf("failed to delete one or more entries");
		goto out;
	}
	printf("Deleted %zu entries successfully", ok);
	rc = 0;
	goto out;
nomem:
	rc = output_errorf("out of memory");
out:
	pb_release(spire_api_server_entry_v1_BatchDeleteEntryResponse_fields,
	    &resp);
	json_decref(root);
	mem_free(text);
	admin_pool_free(&pool);
	return rc;
}
