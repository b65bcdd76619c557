/*
 * The breadth-first walk over parent IDs that gives an agent its
 * entries. A SPIFFE ID is expanded once, whatever the number of entries
 * that name it, so cycles and diamonds end.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "core/limits.h"
#include "core/mem.h"
#include "server/authz.h"

struct walk {
	struct authz_set	*set;
	const char *const	*node;
	size_t			 nnode;
	size_t			 max;
	/* SPIFFE IDs still to expand (owned copies). */
	char			**queue;
	size_t			 qhead, qlen, qcap;
	int			 aliases; /* collecting node aliases */
};

static uint64_t	authz_hash(const char *);
static int	authz_seen_add(struct authz_set *, const char *, int *);
static int	authz_push(struct walk *, const char *);
static void	authz_on_child(const struct authz_entry *, void *);

static uint64_t
authz_hash(const char *s)
{
	uint64_t	h = 1469598103934665603ULL;

	/* FNV-1a: IDs are not chosen to collide by anyone who gains. */
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/*
 * Adds s to the seen set unless present: *added 1 when it was new.
 * Entry IDs and SPIFFE IDs share the set with a one-letter prefix.
 * 0 or -1.
 */
static int
authz_seen_add(struct authz_set *set, const char *s, int *added)
{
	char		**nt;
	size_t		  i, j, ncap;

	*added = 0;
	if ((set->nseen + 1) * 2 > set->seencap) {
		ncap = set->seencap == 0 ? 64 : set->seencap * 2;
		nt = mem_calloc(ncap, sizeof(*nt));
		if (nt == NULL)
			return -1;
		for (i = 0; i < set->seencap; i++) {
			if (set->seen[i] == NULL)
				continue;
			j = authz_hash(set->seen[i]) & (ncap - 1);
			while (nt[j] != NULL)
				j = (j + 1) & (ncap - 1);
			nt[j] = set->seen[i];
		}
		mem_free(set->seen);
		set->seen = nt;
		set->seencap = ncap;
	}
	j = authz_hash(s) & (set->seencap - 1);
	while (set->seen[j] != NULL) {
		if (strcmp(set->seen[j], s) == 0)
			return 0;
		j = (j + 1) & (set->seencap - 1);
	}
	set->seen[j] = mem_strdup(s);
	if (set->seen[j] == NULL)
		return -1;
	set->nseen++;
	*added = 1;
	return 0;
}

static int
authz_push(struct walk *w, const char *spiffe_id)
{
	char	**nq, key[2 + 2048 + 8];
	size_t	  len;
	int	  added;

	len = strlen(spiffe_id);
	if (len > sizeof(key) - 3)
		return 0;	/* longer than any SPIFFE ID: no children */
	key[0] = 's';
	key[1] = ':';
	memcpy(key + 2, spiffe_id, len + 1);
	if (authz_seen_add(w->set, key, &added) == -1)
		return -1;
	if (!added)
		return 0;
	if (w->qlen == w->qcap) {
		nq = mem_reallocarray(w->queue, w->qcap ? w->qcap * 2 : 16,
		    sizeof(*nq));
		if (nq == NULL)
			return -1;
		w->queue = nq;
		w->qcap = w->qcap ? w->qcap * 2 : 16;
	}
	w->queue[w->qlen] = mem_strdup(spiffe_id);
	if (w->queue[w->qlen] == NULL)
		return -1;
	w->qlen++;
	return 0;
}

int
authz_selectors_subset(const char *const *sel, size_t n,
    const char *const *of, size_t m)
{
	size_t	i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < m; j++)
			if (strcmp(sel[i], of[j]) == 0)
				break;
		if (j == m)
			return 0;
	}
	return 1;
}

/* XXX: entries past their expires_at are still reached. */
static void
authz_on_child(const struct authz_entry *e, void *arg)
{
	struct walk		*w = arg;
	struct authz_set	*set = w->set;
	char			**nids, key[2 + SERVER_ENTRY_ID_MAX + 1];
	size_t			  len;
	int			  added;

	if (set->failed)
		return;
	/* A node alias needs selectors, all of them the agent's. */
	if (w->aliases && (e->nselectors == 0 ||
	    !authz_selectors_subset(e->selectors, e->nselectors, w->node,
	    w->nnode)))
		return;
	len = strlen(e->id);
	if (len > sizeof(key) - 3) {
		set->failed = 1;
		return;
	}
	key[0] = 'e';
	key[1] = ':';
	memcpy(key + 2, e->id, len + 1);
	if (authz_seen_add(set, key, &added) == -1) {
		set->failed = 1;
		return;
	}
	if (!added)
		return;
	if (set->n == w->max) {
		set->failed = 1;
		return;
	}
	if (set->n == set->cap) {
		nids = mem_reallocarray(set->ids, set->cap ? set->cap * 2 : 16,
		    sizeof(*nids));
		if (nids == NULL) {
			set->failed = 1;
			return;
		}
		set->ids = nids;
		set->cap = set->cap ? set->cap * 2 : 16;
	}
	set->ids[set->n] = mem_strdup(e->id);
	if (set->ids[set->n] == NULL) {
		set->failed = 1;
		return;
	}
	set->n++;
	if (authz_push(w, e->spiffe_id) == -1)
		set->failed = 1;
}

int
authz_reachable(authz_children_fn children, void *arg, const char *agent_id,
    const char *server_id, const char *const *node_selectors, size_t nnode,
    size_t max, struct authz_set *out)
{
	struct walk	w;
	size_t		i;
	int		rc = -1;

	memset(out, 0, sizeof(*out));
	memset(&w, 0, sizeof(w));
	w.set = out;
	w.node = node_selectors;
	w.nnode = nnode;
	w.max = max;
	if (authz_push(&w, agent_id) == -1)
		goto out;
	/* The server's ID is never expanded as an ordinary parent. */
	if (authz_push(&w, server_id) == -1)
		goto out;
	w.qlen = 1;
	mem_free(w.queue[1]);
	w.aliases = 1;
	if (nnode > 0 && children(arg, server_id, authz_on_child, &w) == -1)
		goto out;
	w.aliases = 0;
	for (; w.qhead < w.qlen && !out->failed; w.qhead++)
		if (children(arg, w.queue[w.qhead], authz_on_child, &w) == -1)
			goto out;
	rc = out->failed ? -1 : 0;
out:
	for (i = 0; i < w.qlen; i++)
		mem_free(w.queue[i]);
	mem_free(w.queue);
	return rc;
}

int
authz_set_has(const struct authz_set *set, const char *id)
{
	char	key[2 + SERVER_ENTRY_ID_MAX + 1];
	size_t	j, len;

	len = strlen(id);
	if (set->seencap == 0 || len > sizeof(key) - 3)
		return 0;
	key[0] = 'e';
	key[1] = ':';
	memcpy(key + 2, id, len + 1);
	j = authz_hash(key) & (set->seencap - 1);
	while (set->seen[j] != NULL) {
		if (strcmp(set->seen[j], key) == 0)
			return 1;
		j = (j + 1) & (set->seencap - 1);
	}
	return 0;
}

void
authz_set_free(struct authz_set *set)
{
	size_t	i;

	for (i = 0; i < set->n; i++)
		mem_free(set->ids[i]);
	mem_free(set->ids);
	for (i = 0; i < set->seencap; i++)
		mem_free(set->seen[i]);
	mem_free(set->seen);
	memset(set, 0, sizeof(*set));
}
