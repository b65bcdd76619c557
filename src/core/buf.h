/*
 * Growable byte buffer with a hard maximum. Appending past the maximum
 * fails instead of growing, which is how every queue and reassembly
 * buffer in spirelet stays bounded.
 */
#ifndef CORE_BUF_H
#define CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t	*data;	/* owned; NULL until the first append */
	size_t	 off;	/* bytes consumed from the front */
	size_t	 len;	/* bytes held, from data + off */
	size_t	 cap;	/* bytes allocated */
	size_t	 max;	/* most bytes it may ever hold */
};

/* Starts empty; allocates nothing. */
void	 buf_init(struct buf *, size_t max);
/* Frees the storage; the buffer is empty and reusable afterwards. */
void	 buf_cleanup(struct buf *);
/* Empties without freeing. */
void	 buf_reset(struct buf *);
/* 0, or -1 when it would exceed max (errno E2BIG) or memory ran out. */
int	 buf_append(struct buf *, const void *, size_t)
	    __attribute__((warn_unused_result));
/* Makes room for n more bytes; 0 or -1 as buf_append. */
int	 buf_reserve(struct buf *, size_t)
	    __attribute__((warn_unused_result));
/* Pointer to the held bytes; valid until the next change. */
uint8_t	*buf_ptr(const struct buf *);
/* Drops n bytes from the front (n <= len). */
void	 buf_consume(struct buf *, size_t);
/* Marks n bytes written after buf_reserve as held. */
void	 buf_added(struct buf *, size_t);
/*
 * Hands the storage to the caller (free with mem_free) and leaves the
 * buffer empty. NULL when the buffer holds nothing.
 */
uint8_t	*buf_take(struct buf *, size_t *);

#endif
