/* Building heap-pointer nanopb messages. */
#include "config.h"

#include <string.h>

#include "core/mem.h"
#include "server/pbutil.h"

pb_bytes_array_t *
pbu_bytes(const void *p, size_t len)
{
	pb_bytes_array_t	*b;

	if (len > PB_SIZE_MAX)
		return NULL;
	b = mem_alloc(PB_BYTES_ARRAY_T_ALLOCSIZE(len));
	if (b == NULL)
		return NULL;
	b->size = (pb_size_t)len;
	if (len > 0)
		memcpy(b->bytes, p, len);
	return b;
}

void *
pbu_append(void *arr, pb_size_t *n, size_t size)
{
	void	**ap = arr;
	char	 *na;

	if (*n == PB_SIZE_MAX)
		return NULL;
	na = mem_realloc(*ap, ((size_t)*n + 1) * size);
	if (na == NULL)
		return NULL;
	*ap = na;
	memset(na + (size_t)*n * size, 0, size);
	return na + (size_t)(*n)++ * size;
}

char *
pbu_strdup(const char *s)
{
	return s != NULL ? mem_strdup(s) : NULL;
}
