/*
 * libFuzzer target for pki/x509 and spiffe/x509svid: a certificate (or a
 * chain cut from the input) from a peer is untrusted bytes.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "pki/x509.h"
#include "spiffe/x509svid.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct x509_cert	 c;
	struct x509svid_result	 res;
	const uint8_t		*chain[2];
	size_t			 lens[2];

	if (x509_parse(data, len, &c) == X509_OK) {
		(void)x509_check_signature(&c, &c);
		(void)x509_verify_chain(&c, 1, &c, 1, 0, NULL);
		(void)x509svid_check_leaf(&c, &res);
	}
	/* The input split in two: a leaf and an intermediate. */
	if (len >= 2) {
		chain[0] = data;
		lens[0] = len / 2;
		chain[1] = data + len / 2;
		lens[1] = len - len / 2;
		(void)x509svid_verify(chain, lens, 2, NULL, 0, 0, NULL, &res);
	}
	return 0;
}
