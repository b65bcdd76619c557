/*
 * Small helpers to build nanopb messages whose strings, bytes and
 * repeated fields are heap pointers (FT_POINTER), so that pb_release
 * frees what they hold. Memory comes from core/mem.h, which is malloc,
 * the allocator nanopb's pb_release frees with.
 */
#ifndef SERVER_PBUTIL_H
#define SERVER_PBUTIL_H

#include <stddef.h>
#include <stdint.h>

#include <pb.h>

/* A new pb_bytes_array_t holding a copy of len bytes; NULL on failure. */
pb_bytes_array_t	*pbu_bytes(const void *, size_t len);
/*
 * Appends one zeroed element of size bytes to *arr (count *n), growing
 * it; a pointer to the element, or NULL (nothing changed) on failure or
 * at 65535 elements.
 */
void			*pbu_append(void *arr, pb_size_t *n, size_t size);
/* Copies a C string for a message field (NULL stays NULL); NULL also
 * when memory ran out, so callers check s != NULL first. */
char			*pbu_strdup(const char *);

#endif
