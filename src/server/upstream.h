/*
 * UpstreamAuthority: who signs the server's CA when it is not
 * self-signed. The interface is asynchronous: "spire" asks a parent
 * server over the network (the server is then nested under it, a
 * downstream CA), "disk" answers at once.
 *
 * A parent also has a bundle of its own, which the nested server keeps
 * in its own: the upstream reports it through hooks (polled while the
 * parent answers), and takes the server's JWT keys to publish there.
 */
#ifndef SERVER_UPSTREAM_H
#define SERVER_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "server/plugins.h"

/*
 * What an upstream returns for a CA request: chain[0] is the new CA,
 * then the intermediates up to (not including) a root; roots are the
 * trust anchors to put in the bundle. All DER, owned by the result.
 */
struct upstream_result {
	uint8_t		**chain;
	size_t		 *chain_len;
	size_t		  nchain;
	uint8_t		**roots;
	size_t		 *roots_len;
	size_t		  nroots;
};

void	upstream_result_free(struct upstream_result *);
/*
 * Appends a copy of der to one of a result's array pairs (chain or
 * roots, with their lengths and count). 0, or -1 out of memory with
 * the pair still consistent for upstream_result_free.
 */
int	upstream_result_push(uint8_t ***arr, size_t **lens, size_t *n,
	    const uint8_t *der, size_t len) __attribute__((warn_unused_result));

/* A JWT signing key as bundles hold it; borrowed wherever it is passed. */
struct upstream_jwt_key {
	const uint8_t	*spki;		/* PKIX DER */
	size_t		 spki_len;
	const char	*kid;
	int64_t		 expires_at;	/* Unix seconds; 0: none */
};

/* The parent's bundle: X.509 roots (DER) and JWT keys, borrowed. */
struct upstream_bundle {
	const uint8_t *const		*roots;
	const size_t			*roots_len;
	size_t				 nroots;
	const struct upstream_jwt_key	*jwt;
	size_t				 njwt;
};

/*
 * What an upstream tells the server between CA requests. Called on the
 * loop, never from inside an upstream call the server made.
 */
struct upstream_hooks {
	/*
	 * The parent's bundle as it is now (after each poll that saw a
	 * change, and after a publish): the server merges it into its own.
	 */
	void	(*bundle)(void *arg, const struct upstream_bundle *);
	/* The parent answers again (1), or stopped answering (0). */
	void	(*reachable)(void *arg, int up);
	void	*arg;
};

/*
 * done(arg, res, err): res is the callee's on success (err NULL), NULL
 * with a reason in err otherwise. Called exactly once, maybe from
 * within mint_x509_ca; never after the upstream was freed (a request
 * still open then is dropped without a call).
 */
typedef void	(*upstream_done_fn)(void *arg, struct upstream_result *res,
		    const char *err);

struct upstream {
	const char	*name;
	/* 1: a parent over the network, which may answer late or not. */
	int		 remote;
	/*
	 * Signs a CA for the PKCS#10 request csr (borrowed for the call),
	 * for at most ttl seconds.
	 */
	void		(*mint_x509_ca)(struct upstream *, const uint8_t *csr,
			    size_t len, int64_t ttl, upstream_done_fn,
			    void *arg);
	/*
	 * Sees to it that the parent's bundle gets key (copied), now or
	 * once the parent answers again; what the parent then holds comes
	 * back through the bundle hook. NULL: no parent bundle.
	 */
	void		(*publish_jwt_key)(struct upstream *,
			    const struct upstream_jwt_key *);
	/* The hooks (copied), before the first request. NULL: none. */
	void		(*set_hooks)(struct upstream *,
			    const struct upstream_hooks *);
	void		(*free)(struct upstream *);
};

/*
 * UpstreamAuthority "disk": the CA certificate and key from files,
 * read now (and checked: the key matches, the certificate is a CA).
 * NULL on failure (logged).
 */
struct upstream	*upstream_disk_new(const struct upstream_disk_conf *,
		    const char *trust_domain);

/*
 * The downstream SVID of a nested server when no Workload API socket
 * supplies it: a source in the same process (spirelet run wires the
 * process's own agent toward the parent in here; see cli/run.c).
 */
struct upstream_svid {
	const char	*spiffe_id;
	const uint8_t	*chain;		/* concatenated DER, leaf first */
	size_t		 chain_len;
	const uint8_t	*key;		/* PKCS#8 DER */
	size_t		 key_len;
	const uint8_t	*bundle;	/* concatenated DER roots of the
					 * trust domain */
	size_t		 bundle_len;
};

/* An SVID (borrowed for the call), or NULL when there is none now. */
typedef void	(*upstream_svid_fn)(void *arg, const struct upstream_svid *);

struct upstream_svid_source {
	/*
	 * Starts calling fn(arg) with the current SVID and again at every
	 * change, until unwatch; the first call may come from inside.
	 */
	void	(*watch)(void *src, upstream_svid_fn fn, void *arg);
	void	(*unwatch)(void *src);
	void	*src;
};

/*
 * UpstreamAuthority "spire": a parent SPIRE server (or spirelet) at
 * server_address:server_port, reached over mTLS with the downstream
 * SVID from the Workload API at workload_api_socket, or from source
 * (borrowed, must outlive the upstream) when no socket is configured.
 * NULL on failure (logged).
 */
struct ev_loop;
struct worker;
struct upstream	*upstream_spire_new(struct ev_loop *, struct worker *,
		    const struct upstream_spire_conf *,
		    const char *trust_domain,
		    const struct upstream_svid_source *source);

#endif
