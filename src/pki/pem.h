/*
 * PEM (RFC 7468) to DER and back: certificates (several to a file, as
 * bundles and chains come), PKCS#8 "PRIVATE KEY" and SEC1 "EC PRIVATE
 * KEY" blocks. Text around blocks is ignored; encapsulated headers (old
 * encrypted keys) are refused. Decoded bytes are wiped when freed, since
 * a block may be a private key.
 */
#ifndef PKI_PEM_H
#define PKI_PEM_H

#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"

#define PEM_LABEL_CERTIFICATE	"CERTIFICATE"
#define PEM_LABEL_PKCS8		"PRIVATE KEY"
#define PEM_LABEL_EC_KEY	"EC PRIVATE KEY"
#define PEM_LABEL_MAX		32	/* bytes of a block's label */

enum pem_err {
	PEM_OK = 0,
	PEM_ERR_NOMEM,
	PEM_ERR_NONE,		/* no block (with the wanted label) */
	PEM_ERR_LABEL,		/* a BEGIN line with a bad or long label */
	PEM_ERR_UNTERMINATED,	/* BEGIN without its END */
	PEM_ERR_END_MISMATCH,	/* END names another label */
	PEM_ERR_HEADERS,	/* "Proc-Type:"-style headers */
	PEM_ERR_BASE64,		/* the body is not base64 */
	PEM_ERR_TOO_MANY,	/* over PEM_BLOCKS_MAX blocks */
	PEM_ERR_TOO_BIG,	/* a block over PEM_BLOCK_MAX bytes */
};

struct pem_block {
	char		 label[PEM_LABEL_MAX + 1];
	uint8_t		*der;		/* owned; wiped by pem_blocks_free */
	size_t		 len;
};

/*
 * Decodes the blocks of text (len bytes) whose label is label, or all
 * of them when label is NULL, in file order. On success *blocks is an
 * array of *n >= 1 blocks for pem_blocks_free. On failure nothing is
 * kept: *blocks is NULL and *n 0.
 */
enum pem_err	 pem_decode(const char *text, size_t len, const char *label,
		    struct pem_block **blocks, size_t *n)
		    __attribute__((warn_unused_result));
/* Wipes and frees what pem_decode gave. Accepts NULL. */
void		 pem_blocks_free(struct pem_block *, size_t n);

/*
 * Encodes der as one PEM block with 64-column lines and a final
 * newline. *out is NUL-terminated, *outlen its length without the NUL;
 * free with mem_free_wipe(*out, *outlen) for keys, mem_free otherwise.
 */
enum pem_err	 pem_encode(const char *label, const uint8_t *der,
		    size_t len, char **out, size_t *outlen)
		    __attribute__((warn_unused_result));

const char	*pem_strerror(enum pem_err);

#endif
