/* libFuzzer target for pki/pem: bundle and key files are read as text. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "pki/pem.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct pem_block	*b;
	size_t			 n;

	if (pem_decode((const char *)data, len, NULL, &b, &n) == PEM_OK)
		pem_blocks_free(b, n);
	return 0;
}
