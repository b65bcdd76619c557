/*
 * Selector sets. A selector is kept as one string "type:value" (the
 * type never holds a colon, as the server checks), so a set is a sorted
 * array of strings and "every selector of the entry is the workload's"
 * is one merge walk.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "agent/internal.h"
#include "core/mem.h"

static int	str_cmp(const void *, const void *);

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts and drops duplicates (freeing them); *n is the new count. */
void
selectors_sort(char **v, size_t *n)
{
	size_t	 i, j;

	if (*n < 2)
		return;
	qsort(v, *n, sizeof(*v), str_cmp);
	for (i = 1, j = 1; i < *n; i++) {
		if (strcmp(v[i], v[j - 1]) == 0) {
			mem_free(v[i]);
			continue;
		}
		v[j++] = v[i];
	}
	*n = j;
}

/*
 * 1 when every string of sub is in set (both sorted, unique), 0
 * otherwise. An empty sub is not a subset of anything here: an entry
 * without selectors matches no workload (the server refuses them).
 */
int
selectors_subset(char *const *sub, size_t nsub, char *const *set,
    size_t nset)
{
	size_t	 i = 0, j = 0;
	int	 c;

	if (nsub == 0 || nsub > nset)
		return 0;
	while (i < nsub) {
		if (j == nset)
			return 0;
		c = strcmp(sub[i], set[j]);
		if (c == 0) {
			i++;
			j++;
		} else if (c > 0)
			j++;
		else
			return 0;
	}
	return 1;
}

void
strings_free(char **v, size_t n)
{
	size_t	 i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		mem_free(v[i]);
	mem_free(v);
}
