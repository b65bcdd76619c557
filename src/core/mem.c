/* Allocation wrappers with a failure hook for tests. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

static int	mem_should_fail(void);

/* Countdown to the allocation that fails; 0 means none. Tests only. */
static unsigned long mem_fail_countdown;

static int
mem_should_fail(void)
{
	if (mem_fail_countdown == 0)
		return 0;
	if (--mem_fail_countdown == 0) {
		errno = ENOMEM;
		return 1;
	}
	return 0;
}

void
mem_fail_after(unsigned long n)
{
	mem_fail_countdown = n;
}

void *
mem_alloc(size_t n)
{
	if (mem_should_fail())
		return NULL;
	return malloc(n == 0 ? 1 : n);
}

void *
mem_calloc(size_t n, size_t size)
{
	if (mem_should_fail())
		return NULL;
	if (n == 0 || size == 0)
		n = size = 1;
	return calloc(n, size);
}

void *
mem_realloc(void *p, size_t n)
{
	if (mem_should_fail())
		return NULL;
	return realloc(p, n == 0 ? 1 : n);
}

void *
mem_reallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return mem_realloc(p, n * size);
}

char *
mem_strndup(const char *s, size_t n)
{
	size_t	 len;
	char	*p;

	len = strnlen(s, n);
	p = mem_alloc(len + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *
mem_strdup(const char *s)
{
	return mem_strndup(s, strlen(s));
}

void
mem_free(void *p)
{
	free(p);
}

void
mem_wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

void
mem_free_wipe(void *p, size_t n)
{
	if (p == NULL)
		return;
	mem_wipe(p, n);
	free(p);
}

int
mem_cmp_ct(const void *a, const void *b, size_t n)
{
	const unsigned char	*x = a, *y = b;
	unsigned char		 acc = 0;
	size_t			 i;

	for (i = 0; i < n; i++)
		acc |= x[i] ^ y[i];
	return acc != 0;
}
