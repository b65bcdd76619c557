/*
 * Registration entries: turning the server's Entry messages (untrusted)
 * into the agent's form, and the revision diff of SyncAuthorizedEntries.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "agent/internal.h"
#include "core/limits.h"
#include "core/mem.h"
#include "spiffe/id.h"
#include "spire/api/types/types.pb.h"

static int	entry_cmp(const void *, const void *);
static int	strp_cmp(const void *, const void *);

void
entry_free(struct agent_entry *e)
{
	if (e == NULL)
		return;
	mem_free(e->id);
	mem_free(e->spiffe_id);
	mem_free(e->hint);
	strings_free(e->sel, e->nsel);
	strings_free(e->fed, e->nfed);
	mem_free(e);
}

/*
 * Checks and converts one entry. The ID must be non-empty, the SPIFFE
 * ID valid, each selector's type non-empty without ':' and its value
 * non-empty, each federated trust domain valid; the counts within their
 * caps. 0, or -1 with the reason in err (*out NULL).
 */
int
entry_from_pb(const struct _spire_api_types_Entry *pe,
    struct agent_entry **out, char *err, size_t errlen)
{
	struct agent_entry	*e;
	struct spiffe_id	 id;
	struct spiffe_td	 td;
	char			 idbuf[SPIFFE_ID_MAX + 1];
	size_t			 i, n;

	*out = NULL;
	if (pe->id == NULL || *pe->id == '\0' ||
	    strlen(pe->id) > STORE_KEY_MAX) {
		snprintf(err, errlen, "entry without a usable id");
		return -1;
	}
	if (!pe->has_spiffe_id || pe->spiffe_id.trust_domain == NULL) {
		snprintf(err, errlen, "entry %s: no SPIFFE ID", pe->id);
		return -1;
	}
	if (spiffe_td_parse(pe->spiffe_id.trust_domain,
	    strlen(pe->spiffe_id.trust_domain), &td) != SPIFFE_OK ||
	    spiffe_id_make(&td, pe->spiffe_id.path != NULL ?
	    pe->spiffe_id.path : "", &id) != SPIFFE_OK ||
	    spiffe_id_is_td(&id) ||
	    spiffe_id_format(&id, idbuf, sizeof(idbuf)) != SPIFFE_OK) {
		snprintf(err, errlen, "entry %s: invalid SPIFFE ID", pe->id);
		return -1;
	}
	if (pe->selectors_count > AGENT_ENTRY_SELECTORS_MAX ||
	    pe->federates_with_count > AGENT_ENTRY_FEDERATES_MAX) {
		snprintf(err, errlen, "entry %s: too many selectors or "
		    "federated trust domains", pe->id);
		return -1;
	}
	e = mem_calloc(1, sizeof(*e));
	if (e == NULL)
		goto nomem;
	e->id = mem_strdup(pe->id);
	e->spiffe_id = mem_strdup(idbuf);
	e->hint = mem_strdup(pe->hint != NULL ? pe->hint : "");
	if (e->id == NULL || e->spiffe_id == NULL || e->hint == NULL)
		goto nomem;
	e->revision = pe->revision_number;
	e->created_at = pe->created_at;
	e->store_svid = pe->store_svid;
	e->downstream = pe->downstream;
	if (pe->selectors_count > 0) {
		e->sel = mem_calloc(pe->selectors_count, sizeof(*e->sel));
		if (e->sel == NULL)
			goto nomem;
	}
	for (i = 0; i < pe->selectors_count; i++) {
		const char *t = pe->selectors[i].type;
		const char *v = pe->selectors[i].value;

		if (t == NULL || *t == '\0' || strchr(t, ':') != NULL ||
		    v == NULL || *v == '\0') {
			snprintf(err, errlen, "entry %s: malformed selector",
			    pe->id);
			entry_free(e);
			return -1;
		}
		n = strlen(t) + 1 + strlen(v) + 1;
		e->sel[i] = mem_alloc(n);
		if (e->sel[i] == NULL)
			goto nomem;
		snprintf(e->sel[i], n, "%s:%s", t, v);
		e->nsel++;
	}
	selectors_sort(e->sel, &e->nsel);
	if (pe->federates_with_count > 0) {
		e->fed = mem_calloc(pe->federates_with_count, sizeof(*e->fed));
		if (e->fed == NULL)
			goto nomem;
	}
	for (i = 0; i < pe->federates_with_count; i++) {
		const char *f = pe->federates_with[i];

		if (f == NULL || spiffe_td_parse(f, strlen(f), &td) !=
		    SPIFFE_OK) {
			snprintf(err, errlen, "entry %s: invalid federated "
			    "trust domain", pe->id);
			entry_free(e);
			return -1;
		}
		e->fed[i] = mem_strdup(td.name);
		if (e->fed[i] == NULL)
			goto nomem;
		e->nfed++;
	}
	selectors_sort(e->fed, &e->nfed);
	*out = e;
	return 0;
nomem:
	entry_free(e);
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp((*(struct agent_entry *const *)a)->id,
	    (*(struct agent_entry *const *)b)->id);
}

/* Sorts by id; -1 when two entries share an id. */
int
entries_sort(struct agent_entry **v, size_t n)
{
	size_t	 i;

	qsort(v, n, sizeof(*v), entry_cmp);
	for (i = 1; i < n; i++)
		if (strcmp(v[i - 1]->id, v[i]->id) == 0)
			return -1;
	return 0;
}

/* SPIRE's rule: another revision, or another creation time when known. */
int
entries_stale(const struct agent_entry *e, int64_t revision,
    int64_t created_at)
{
	if (e->revision != revision)
		return 1;
	return created_at != 0 && e->created_at != created_at;
}

static int
strp_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
entries_diff(struct agent_entry *const *cached, size_t n,
    const struct entry_rev *revs, size_t nrevs, unsigned char *seen,
    const char ***need, size_t *nneed)
{
	struct agent_entry	 key, *kp = &key, **hit;
	const char		**v = NULL;
	size_t			 i, k = 0, u;

	*need = NULL;
	*nneed = 0;
	memset(seen, 0, n);
	if (nrevs > 0) {
		v = mem_calloc(nrevs, sizeof(*v));
		if (v == NULL)
			return -1;
	}
	for (i = 0; i < nrevs; i++) {
		if (revs[i].id == NULL || *revs[i].id == '\0' ||
		    revs[i].revision < 0)
			continue;	/* malformed: ignored, as SPIRE */
		key.id = (char *)(uintptr_t)revs[i].id;
		hit = n > 0 ? bsearch(&kp, cached, n, sizeof(*cached),
		    entry_cmp) : NULL;
		if (hit != NULL)
			seen[hit - cached] = 1;
		if (hit == NULL || entries_stale(*hit, revs[i].revision,
		    revs[i].created_at))
			v[k++] = revs[i].id;
	}
	if (k > 1)
		qsort(v, k, sizeof(*v), strp_cmp);
	/* A server repeating an ID gets it asked for once. */
	u = k > 0 ? 1 : 0;
	for (i = 1; i < k; i++)
		if (strcmp(v[i], v[u - 1]) != 0)
			v[u++] = v[i];
	*need = v;
	*nneed = u;
	return 0;
}
