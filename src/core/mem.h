/*
 * Allocation wrappers. Every allocation in spirelet goes through these so
 * that tests can make the Nth one fail and check the caller's recovery.
 * They return NULL on failure and never abort.
 */
#ifndef CORE_MEM_H
#define CORE_MEM_H

#include <stddef.h>

#define MEM_WUR __attribute__((warn_unused_result))

/* malloc/calloc/realloc/strdup look-alikes; free the result with mem_free. */
void	*mem_alloc(size_t) MEM_WUR __attribute__((malloc));
void	*mem_calloc(size_t, size_t) MEM_WUR __attribute__((malloc));
void	*mem_realloc(void *, size_t) MEM_WUR;
/* Grows an array of n elements of the given size, checking overflow. */
void	*mem_reallocarray(void *, size_t, size_t) MEM_WUR;
char	*mem_strdup(const char *) MEM_WUR __attribute__((malloc));
char	*mem_strndup(const char *, size_t) MEM_WUR __attribute__((malloc));
/* Accepts NULL. */
void	 mem_free(void *);
/* Zeroes len bytes (so the compiler cannot skip it), then frees. */
void	 mem_free_wipe(void *, size_t);
/* Zeroes len bytes in a way the compiler keeps. */
void	 mem_wipe(void *, size_t);
/* Constant-time comparison of secrets: 0 when equal. */
int	 mem_cmp_ct(const void *, const void *, size_t);

/*
 * Test hook: the nth allocation from now (1 = the next one) fails, and
 * every one after it succeeds again. 0 turns failures off.
 */
void	 mem_fail_after(unsigned long);

#endif
