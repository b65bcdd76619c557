/* X509-SVID verification: SPIFFE's rules over pki's path validation. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "spiffe/x509svid.h"

static const struct x509svid_bundle *x509svid_bundle_for(
		    const struct x509svid_bundle *, size_t,
		    const struct spiffe_td *);

const char *
x509svid_strerror(enum x509svid_err err)
{
	switch (err) {
	case X509SVID_OK:
		return "success";
	case X509SVID_ERR_NOMEM:
		return "out of memory";
	case X509SVID_ERR_EMPTY:
		return "empty certificates chain";
	case X509SVID_ERR_TOO_LONG:
		return "certificate chain is too long";
	case X509SVID_ERR_PARSE:
		return "certificate does not parse";
	case X509SVID_ERR_NO_URI_SAN:
		return "leaf certificate contains no URI SAN";
	case X509SVID_ERR_MANY_URI_SANS:
		return "leaf certificate contains more than one URI SAN";
	case X509SVID_ERR_BAD_ID:
		return "leaf certificate's URI SAN is not a SPIFFE ID";
	case X509SVID_ERR_ID_NO_PATH:
		return "leaf certificate's SPIFFE ID has no path";
	case X509SVID_ERR_LEAF_CA:
		return "leaf certificate with CA flag set to true";
	case X509SVID_ERR_LEAF_NO_DIGITAL_SIG:
		return "leaf certificate without digitalSignature key usage";
	case X509SVID_ERR_LEAF_CERT_SIGN:
		return "leaf certificate with keyCertSign key usage";
	case X509SVID_ERR_LEAF_CRL_SIGN:
		return "leaf certificate with cRLSign key usage";
	case X509SVID_ERR_LEAF_EKU:
		return "leaf certificate's extended key usage lacks server "
		    "or client auth";
	case X509SVID_ERR_INTER_NOT_CA:
		return "intermediate certificate is not a CA";
	case X509SVID_ERR_INTER_NO_CERT_SIGN:
		return "intermediate certificate without keyCertSign key "
		    "usage";
	case X509SVID_ERR_NO_BUNDLE:
		return "no bundle for the SPIFFE ID's trust domain";
	case X509SVID_ERR_CHAIN:
		return "could not verify leaf certificate";
	case X509SVID_ERR_ID_MISMATCH:
		return "unexpected SPIFFE ID";
	case X509SVID_ERR_TD_MISMATCH:
		return "SPIFFE ID is not a member of the expected trust "
		    "domain";
	}
	return "unknown X509-SVID error";
}

void
x509svid_describe(enum x509svid_err err, const struct x509svid_result *res,
    char *buf, size_t len)
{
	switch (err) {
	case X509SVID_ERR_PARSE:
	case X509SVID_ERR_CHAIN:
		snprintf(buf, len, "%s: certificate %zu: %s",
		    x509svid_strerror(err), res->cert,
		    x509_strerror(res->x509));
		break;
	case X509SVID_ERR_BAD_ID:
		snprintf(buf, len, "%s: %s", x509svid_strerror(err),
		    spiffe_strerror(res->spiffe));
		break;
	default:
		snprintf(buf, len, "%s", x509svid_strerror(err));
		break;
	}
}

enum x509svid_err
x509svid_check_leaf(const struct x509_cert *leaf,
    struct x509svid_result *res)
{
	const struct x509_span	*uri;

	memset(&res->id, 0, sizeof(res->id));
	res->cert = 0;
	if (leaf->nuris == 0)
		return X509SVID_ERR_NO_URI_SAN;
	if (leaf->nuris > 1)
		return X509SVID_ERR_MANY_URI_SANS;
	uri = &leaf->uris[0];
	res->spiffe = spiffe_id_parse((const char *)uri->p, uri->len,
	    &res->id);
	if (res->spiffe != SPIFFE_OK)
		return X509SVID_ERR_BAD_ID;
	if (spiffe_id_is_td(&res->id))
		return X509SVID_ERR_ID_NO_PATH;
	/* XXX: like go-spiffe, keyUsage and SAN criticality unchecked. */
	if (leaf->has_bc && leaf->is_ca)
		return X509SVID_ERR_LEAF_CA;
	if (!leaf->has_ku || !(leaf->ku & X509_KU_DIGITAL_SIGNATURE))
		return X509SVID_ERR_LEAF_NO_DIGITAL_SIG;
	if (leaf->ku & X509_KU_KEY_CERT_SIGN)
		return X509SVID_ERR_LEAF_CERT_SIGN;
	if (leaf->ku & X509_KU_CRL_SIGN)
		return X509SVID_ERR_LEAF_CRL_SIGN;
	/* EKU is optional; when present it must allow both TLS roles. */
	if (leaf->has_eku && !(leaf->eku & X509_EKU_ANY) &&
	    (leaf->eku & (X509_EKU_SERVER_AUTH | X509_EKU_CLIENT_AUTH)) !=
	    (X509_EKU_SERVER_AUTH | X509_EKU_CLIENT_AUTH))
		return X509SVID_ERR_LEAF_EKU;
	return X509SVID_OK;
}

static const struct x509svid_bundle *
x509svid_bundle_for(const struct x509svid_bundle *bundles, size_t n,
    const struct spiffe_td *td)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(bundles[i].td->name, td->name) == 0)
			return &bundles[i];
	return NULL;
}

enum x509svid_err
x509svid_verify(const uint8_t *const *chain, const size_t *chain_len,
    size_t n, const struct x509svid_bundle *bundles, size_t nbundles,
    long long now, const struct x509svid_policy *policy,
    struct x509svid_result *res)
{
	const struct x509svid_bundle	*bundle;
	struct x509_cert		*certs = NULL;
	enum x509svid_err		 err;
	size_t				 i;

	memset(res, 0, sizeof(*res));
	if (n == 0)
		return X509SVID_ERR_EMPTY;
	if (n > X509_CHAIN_MAX)
		return X509SVID_ERR_TOO_LONG;
	/* Several kilobytes each: off the stack. */
	certs = mem_calloc(n, sizeof(*certs));
	if (certs == NULL)
		return X509SVID_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		res->x509 = x509_parse(chain[i], chain_len[i], &certs[i]);
		if (res->x509 != X509_OK) {
			res->cert = i;
			err = X509SVID_ERR_PARSE;
			goto out;
		}
	}
	err = x509svid_check_leaf(&certs[0], res);
	if (err != X509SVID_OK)
		goto out;
	/* As go-spiffe asks of Workload API chains, every intermediate. */
	for (i = 1; i < n; i++) {
		res->cert = i;
		if (!certs[i].has_bc || !certs[i].is_ca) {
			err = X509SVID_ERR_INTER_NOT_CA;
			goto out;
		}
		if (!certs[i].has_ku ||
		    !(certs[i].ku & X509_KU_KEY_CERT_SIGN)) {
			err = X509SVID_ERR_INTER_NO_CERT_SIGN;
			goto out;
		}
	}
	res->cert = 0;
	bundle = x509svid_bundle_for(bundles, nbundles, &res->id.td);
	if (bundle == NULL) {
		err = X509SVID_ERR_NO_BUNDLE;
		goto out;
	}
	res->x509 = x509_verify_chain(certs, n, bundle->roots, bundle->nroots,
	    now, &res->cert);
	if (res->x509 != X509_OK) {
		err = X509SVID_ERR_CHAIN;
		goto out;
	}
	res->cert = 0;
	err = X509SVID_OK;
	if (policy != NULL && policy->id != NULL &&
	    !spiffe_id_equal(&res->id, policy->id))
		err = X509SVID_ERR_ID_MISMATCH;
	else if (policy != NULL && policy->td != NULL &&
	    !spiffe_id_member_of(&res->id, policy->td))
		err = X509SVID_ERR_TD_MISMATCH;
out:
	mem_free(certs);
	return err;
}
