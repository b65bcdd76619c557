/*
 * X509-SVID verification as go-spiffe does it: the chain must lead to
 * the bundle of the leaf's own trust domain, the leaf must be an SVID
 * (one URI SAN naming a SPIFFE ID with a path, CA:FALSE, digitalSignature
 * and no certificate or CRL signing), every intermediate a CA allowed to
 * sign certificates; then, optionally, the ID must be an expected one or
 * lie in an expected trust domain. This is what the TLS verify hooks of
 * the server and the agent call.
 */
#ifndef SPIFFE_X509SVID_H
#define SPIFFE_X509SVID_H

#include <stddef.h>
#include <stdint.h>

#include "pki/x509.h"
#include "spiffe/id.h"

enum x509svid_err {
	X509SVID_OK = 0,
	X509SVID_ERR_NOMEM,
	X509SVID_ERR_EMPTY,		/* no certificates */
	X509SVID_ERR_TOO_LONG,		/* over X509_CHAIN_MAX */
	X509SVID_ERR_PARSE,		/* a certificate does not parse */
	X509SVID_ERR_NO_URI_SAN,	/* the leaf has no URI SAN */
	X509SVID_ERR_MANY_URI_SANS,	/* the leaf has more than one */
	X509SVID_ERR_BAD_ID,		/* the URI SAN is not a SPIFFE ID */
	X509SVID_ERR_ID_NO_PATH,	/* the leaf's ID is a trust domain's */
	X509SVID_ERR_LEAF_CA,		/* the leaf is CA:TRUE */
	X509SVID_ERR_LEAF_NO_DIGITAL_SIG, /* no keyUsage digitalSignature */
	X509SVID_ERR_LEAF_CERT_SIGN,	/* the leaf has keyCertSign */
	X509SVID_ERR_LEAF_CRL_SIGN,	/* the leaf has cRLSign */
	X509SVID_ERR_LEAF_EKU,		/* EKU without server and client auth */
	X509SVID_ERR_INTER_NOT_CA,	/* an intermediate is not a CA */
	X509SVID_ERR_INTER_NO_CERT_SIGN, /* an intermediate lacks keyCertSign */
	X509SVID_ERR_NO_BUNDLE,		/* no bundle for the ID's TD */
	X509SVID_ERR_CHAIN,		/* path validation failed */
	X509SVID_ERR_ID_MISMATCH,	/* not the expected ID */
	X509SVID_ERR_TD_MISMATCH,	/* not in the expected trust domain */
};

/* One trust domain's roots, parsed (and borrowed) by the caller. */
struct x509svid_bundle {
	const struct spiffe_td	*td;
	const struct x509_cert	*roots;
	size_t			 nroots;
};

/* What the ID must be; NULL members are not checked. */
struct x509svid_policy {
	const struct spiffe_id	*id;	/* exactly this ID */
	const struct spiffe_td	*td;	/* any ID in this trust domain */
};

/* The verdict's details. */
struct x509svid_result {
	struct spiffe_id	 id;	/* the leaf's ID once it parsed */
	size_t			 cert;	/* chain index at fault (roots: n+i) */
	enum x509_err		 x509;	/* with _PARSE and _CHAIN */
	enum spiffe_err		 spiffe; /* with _BAD_ID */
};

/*
 * Verifies the DER chain (leaf first, then intermediates) at Unix time
 * now against whichever of the bundles serves the leaf's trust domain,
 * then the policy (may be NULL). The chain is borrowed for the call.
 * res (required) is filled either way as far as the checks went.
 */
enum x509svid_err x509svid_verify(const uint8_t *const *chain,
		    const size_t *chain_len, size_t n,
		    const struct x509svid_bundle *bundles, size_t nbundles,
		    long long now, const struct x509svid_policy *policy,
		    struct x509svid_result *res)
		    __attribute__((warn_unused_result));

/*
 * The leaf checks alone on a parsed certificate (no chain, no bundle):
 * for minting code to check what it made, and for the Workload API
 * client. Fills res->id and res->spiffe.
 */
enum x509svid_err x509svid_check_leaf(const struct x509_cert *,
		    struct x509svid_result *res)
		    __attribute__((warn_unused_result));

/*
 * A one-line reason for logs and gRPC statuses: "leaf certificate is a
 * CA", with the x509 or SPIFFE ID detail appended where res has one.
 */
const char	*x509svid_strerror(enum x509svid_err);
void		 x509svid_describe(enum x509svid_err,
		    const struct x509svid_result *, char *buf, size_t len);

#endif
