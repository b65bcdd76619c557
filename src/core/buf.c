/* Bounded growable byte buffer. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"

void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
buf_cleanup(struct buf *b)
{
	mem_free(b->data);
	buf_init(b, b->max);
}

void
buf_reset(struct buf *b)
{
	b->off = 0;
	b->len = 0;
}

uint8_t *
buf_ptr(const struct buf *b)
{
	if (b->data == NULL)
		return NULL;
	return b->data + b->off;
}

int
buf_reserve(struct buf *b, size_t n)
{
	size_t	 want, ncap;
	uint8_t	*p;

	if (n > b->max || b->len > b->max - n) {
		errno = E2BIG;
		return -1;
	}
	want = b->len + n;
	if (b->off + want <= b->cap)
		return 0;
	if (b->off > 0) {
		/* Slide the held bytes to the front before growing. */
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
		if (want <= b->cap)
			return 0;
	}
	ncap = b->cap < 256 ? 256 : b->cap;
	while (ncap < want)
		ncap = ncap > b->max / 2 ? b->max : ncap * 2;
	p = mem_realloc(b->data, ncap);
	if (p == NULL)
		return -1;
	b->data = p;
	b->cap = ncap;
	return 0;
}

void
buf_added(struct buf *b, size_t n)
{
	b->len += n;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_reserve(b, n) == -1)
		return -1;
	memcpy(b->data + b->off + b->len, p, n);
	b->len += n;
	return 0;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->off = 0;
		b->len = 0;
		return;
	}
	b->off += n;
	b->len -= n;
}

uint8_t *
buf_take(struct buf *b, size_t *lenp)
{
	uint8_t	*p;

	if (b->len == 0) {
		*lenp = 0;
		buf_cleanup(b);
		return NULL;
	}
	if (b->off > 0)
		memmove(b->data, b->data + b->off, b->len);
	p = b->data;
	*lenp = b->len;
	b->data = NULL;
	b->off = b->len = b->cap = 0;
	return p;
}
