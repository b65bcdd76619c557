/* PEM files the server reads: CA bundles, upstream certificates, keys. */
#ifndef SERVER_PEMFILE_H
#define SERVER_PEMFILE_H

#include <stddef.h>

#include "pki/pem.h"

/*
 * The blocks with label (NULL: any) of the PEM file at path, at most
 * PEMFILE_MAX bytes. 0 with *blocks and *n for pem_blocks_free, or -1 with
 * the reason logged (subsystem sub) and nothing kept.
 */
int	pemfile_read(const char *sub, const char *path, const char *label,
	    struct pem_block **blocks, size_t *n)
	    __attribute__((warn_unused_result));

#endif
