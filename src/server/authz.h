/*
 * Which registration entries an agent may have, as SPIRE's entry cache
 * decides: every entry whose parent is the agent, the node aliases that
 * apply to the agent (entries parented to the server's own ID whose
 * selectors are all among the agent's node selectors), and from each of
 * those, transitively, the entries parented to their SPIFFE IDs.
 *
 * Pure: the entries come through a callback, so the walk is the same
 * over the datastore and over a test's table.
 */
#ifndef SERVER_AUTHZ_H
#define SERVER_AUTHZ_H

#include <stddef.h>

/* What the walk needs of one entry; borrowed for the callback. */
struct authz_entry {
	const char		*id;
	const char		*spiffe_id;	/* "spiffe://td/path" */
	const char *const	*selectors;	/* "type:value" */
	size_t			 nselectors;
};

/*
 * Calls fn(entry, fnarg) for each entry whose parent ID is parent;
 * returns 0, or -1 on failure (which ends the walk with -1).
 */
typedef int	(*authz_children_fn)(void *arg, const char *parent,
		    void (*fn)(const struct authz_entry *, void *fnarg),
		    void *fnarg);

/* The result: entry IDs in the order reached, each once. Owned. */
struct authz_set {
	char		**ids;
	size_t		  n;
	size_t		  cap;
	/* Open-addressing hash of seen strings (entry and SPIFFE IDs). */
	char		**seen;
	size_t		  nseen;
	size_t		  seencap;
	int		  failed;
};

/*
 * Walks from agent_id; server_id is the trust domain's
 * "spiffe://td/spire/server"; node_selectors are the agent's
 * ("type:value"). At most max entries are collected (more is a
 * failure). out is initialised here and released with authz_set_free
 * whatever the result. 0 or -1.
 */
int	authz_reachable(authz_children_fn, void *arg, const char *agent_id,
	    const char *server_id, const char *const *node_selectors,
	    size_t nnode, size_t max, struct authz_set *out)
	    __attribute__((warn_unused_result));
/* 1 when id is in the set. */
int	authz_set_has(const struct authz_set *, const char *id);
void	authz_set_free(struct authz_set *);

/* 1 when every one of sel (n) is among of (m); 0 otherwise. */
int	authz_selectors_subset(const char *const *sel, size_t n,
	    const char *const *of, size_t m);

#endif
