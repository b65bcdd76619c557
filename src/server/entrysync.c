/* SyncAuthorizedEntries paging arithmetic. */
#include "config.h"

#include "server/entrysync.h"

int
entrysync_single(size_t n, size_t page)
{
	return n <= page;
}

size_t
entrysync_pages(size_t n, size_t page)
{
	if (n == 0)
		return 1;
	return (n + page - 1) / page;
}

void
entrysync_page(size_t n, size_t page, size_t i, size_t *start, size_t *end,
    int *more)
{
	size_t	pages = entrysync_pages(n, page);

	*start = i * page < n ? i * page : n;
	*end = *start + page < n ? *start + page : n;
	*more = i + 1 < pages;
}
