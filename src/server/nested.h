/*
 * The pure parts of a server nested under a parent (a gateway), and of
 * a parent signing CAs for servers nested under it: which prepared CA
 * may become the active one when the parent caps lifetimes, when a CA
 * chain really ends, the subject of a downstream CA as SPIRE builds
 * it, how long the server can go on without its parent, and how long
 * it waits before asking the parent again. No I/O, no clock: every
 * time is an argument (Unix seconds).
 */
#ifndef SERVER_NESTED_H
#define SERVER_NESTED_H

#include <stddef.h>
#include <stdint.h>

struct cert_template;
struct x509_cert;

/* What to do with a prepared X.509 CA. */
enum nested_choice {
	NESTED_WAIT = 0,	/* keep it: the active CA is not due yet */
	NESTED_ACTIVATE,	/* make it the active CA now */
	NESTED_DISCARD,		/* it cannot do the job: drop it and ask
				 * for another */
};

/*
 * Decides about a prepared CA ending at prep_na (its effective end,
 * nested_chain_end), given the active CA's issue time and effective end
 * (act_na 0: there is none) and need, the longest SVID lifetime the
 * server signs (seconds).
 *
 * A prepared CA is discarded when it has ended, when it ends no later
 * than the active one (it would add nothing), or when at the moment it
 * would be activated (the active CA's activation point, or now if that
 * is past) less than need would be left of it: SVIDs signed under it
 * would be cut short. It is activated once the active CA reaches its
 * activation point or can no longer cover need itself. With no usable
 * active CA at all, any prepared CA that has not ended is activated:
 * a short CA serves better than none, and the caller asks for a better
 * one at once.
 */
enum nested_choice nested_activation(int64_t now, int64_t act_nb,
		    int64_t act_na, int64_t prep_na, int64_t need);

/*
 * The effective end of a CA: the earliest NotAfter of chain[0..n) (the
 * CA first, then what signed it up to, not including, a root) and of
 * the newest root in roots[0..nroots) whose key signed chain[n-1]. A
 * CA never outlives what vouches for it, so neither may anything it
 * signs. Parsed certificates, borrowed. 0 when n is 0.
 */
int64_t	nested_chain_end(const struct x509_cert *chain, size_t n,
	    const struct x509_cert *roots, size_t nroots);

/*
 * The subject of a CA signed for a downstream server, as SPIRE builds
 * it: the signing CA's subject (Name DER, untrusted) read as Go's
 * pkix.Name reads it (C, ST, L, street, postalCode, O, OU, CN,
 * serialNumber; other attributes dropped, CN and serialNumber the last
 * value), its OU replaced by the single value "DOWNSTREAM-<chain_len>",
 * and written again in Go's order, one RDN per attribute type. A new
 * buffer (mem_free) in *out; 0, or -1 when the Name is malformed or
 * memory ran out.
 */
int	nested_downstream_subject(const uint8_t *name, size_t len,
	    size_t chain_len, uint8_t **out, size_t *outlen)
	    __attribute__((warn_unused_result));

/*
 * The template of a CA signed for a downstream server (NewDownstreamX509CA),
 * as SPIRE builds it: the subject of nested_downstream_subject from the
 * signing CA ca (parsed, borrowed) and its chain length, the request's
 * public key spki (borrowed), URI SAN td_id, CA:TRUE with keyCertSign
 * and cRLSign, NotBefore now - 10 s and NotAfter now + ttl (seconds;
 * the caller passes preferred_ttl, or ca_ttl when that is 0) but never
 * past ca_end, the signing CA's effective end: a downstream CA never
 * outlives its parent. A random serial. t is filled, pointing at spki,
 * td_id and a new subject buffer returned in *subject (mem_free). 0, or
 * -1 when ca_end has passed, the subject is malformed or memory ran
 * out (*subject NULL then).
 */
int	nested_downstream_template(const struct x509_cert *ca,
	    size_t chain_len, int64_t ca_end, const uint8_t *spki,
	    size_t spki_len, int64_t now, int64_t ttl, const char *td_id,
	    struct cert_template *t, uint8_t **subject)
	    __attribute__((warn_unused_result));

/*
 * Seconds from now until workloads would start failing if the parent
 * stayed unreachable from now on: the end of the active CA, or of the
 * prepared one when it will take over (usable), whichever is later.
 * Every SVID is capped at its CA's end, and no new CA comes without the
 * parent. 0 when that time has passed.
 */
int64_t	nested_budget(int64_t now, int64_t act_na, int64_t prep_na,
	    int prep_usable);

/*
 * The next wait (seconds) before asking the parent for a CA again after
 * a failure or a discarded CA: the previous wait doubled
 * (SERVER_UPSTREAM_RETRY_MIN_SEC the first time, prev 0), at most
 * SERVER_UPSTREAM_RETRY_MAX_SEC, and at most a tenth of what is left of
 * the active CA (left, seconds; 0 or less: none left), but never under
 * the minimum.
 */
int64_t	nested_retry_delay(int64_t prev, int64_t left);

#endif
