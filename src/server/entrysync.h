/*
 * The paging of SyncAuthorizedEntries, as SPIRE's entry service does
 * it: an agent with at most `page` authorized entries gets them all in
 * one response; above that it gets pages of (id, revision, created_at),
 * asks for the entries it lacks, and gets those in pages. The last page
 * of each series has more = false. Pure, for unit tests.
 */
#ifndef SERVER_ENTRYSYNC_H
#define SERVER_ENTRYSYNC_H

#include <stddef.h>

/* 1 when n entries go in one response with full entries. */
int	entrysync_single(size_t n, size_t page);
/* Pages a series of n items takes (at least 1: an empty last page). */
size_t	entrysync_pages(size_t n, size_t page);
/*
 * Page i of a series of n items: items [*start, *end), *more whether
 * another page of the series follows.
 */
void	entrysync_page(size_t n, size_t page, size_t i, size_t *start,
	    size_t *end, int *more);

#endif
