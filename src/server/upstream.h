/*
 * UpstreamAuthority: who signs the server's CA when it is not
 * self-signed. The interface is asynchronous (a "spire" upstream asks a
 * parent server over the network); "disk" answers at once.
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
 * done(arg, res, err): res is the callee's on success (err NULL), NULL
 * with a reason in err otherwise. Called exactly once, maybe from
 * within mint_x509_ca.
 */
typedef void	(*upstream_done_fn)(void *arg, struct upstream_result *res,
		    const char *err);

struct upstream {
	const char	*name;
	/*
	 * Signs a CA for the PKCS#10 request csr (borrowed for the call),
	 * for at most ttl seconds.
	 */
	void		(*mint_x509_ca)(struct upstream *, const uint8_t *csr,
			    size_t len, int64_t ttl, upstream_done_fn,
			    void *arg);
	void		(*free)(struct upstream *);
};

/*
 * UpstreamAuthority "disk": the CA certificate and key from files,
 * read now (and checked: the key matches, the certificate is a CA).
 * NULL on failure (logged).
 */
struct upstream	*upstream_disk_new(const struct upstream_disk_conf *,
		    const char *trust_domain);

#endif
