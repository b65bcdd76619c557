/*
 * DER, the subset X.509 and PKCS#10 need. The reader is strict: definite
 * lengths in their shortest form, one-byte tags, nothing past the end;
 * it reads views into the caller's buffer and never allocates, so a
 * struct der stays valid as long as the bytes it points into. The
 * writer nests TLVs and fills in their lengths.
 */
#ifndef PKI_DER_H
#define PKI_DER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"

/* Tags used by the X.509 and key code. */
#define DER_BOOLEAN		0x01
#define DER_INTEGER		0x02
#define DER_BIT_STRING		0x03
#define DER_OCTET_STRING	0x04
#define DER_NULL		0x05
#define DER_OID			0x06
#define DER_UTF8_STRING		0x0c
#define DER_PRINTABLE_STRING	0x13
#define DER_T61_STRING		0x14
#define DER_IA5_STRING		0x16
#define DER_UTC_TIME		0x17
#define DER_GENERALIZED_TIME	0x18
#define DER_BMP_STRING		0x1e
#define DER_SEQUENCE		0x30
#define DER_SET			0x31
#define DER_CONTEXT(n)		(0x80 | (n))	/* [n] IMPLICIT, primitive */
#define DER_CONTEXT_CONS(n)	(0xa0 | (n))	/* [n], constructed */

/* A run of bytes still to read, or the contents of one element. */
struct der {
	const uint8_t	*p;
	size_t		 len;
};

void	 der_init(struct der *, const void *, size_t);
/* 1 when nothing is left to read. */
int	 der_empty(const struct der *);
/* The next element's tag, or -1 when empty. */
int	 der_peek(const struct der *);
/*
 * Reads the next element, which must carry tag: its contents go to
 * *out (may be NULL), the whole element with its header to *whole (may
 * be NULL), and d moves past it. 0, or -1 on a wrong tag or bad DER (d
 * is left unchanged then).
 */
int	 der_get(struct der *d, int tag, struct der *out, struct der *whole)
	    __attribute__((warn_unused_result));
/* As der_get for any tag, stored in *tag. */
int	 der_get_any(struct der *d, int *tag, struct der *out,
	    struct der *whole) __attribute__((warn_unused_result));
/*
 * Reads an optional element: 1 if present (as der_get), 0 if the next
 * tag differs or nothing is left, -1 on bad DER.
 */
int	 der_get_optional(struct der *d, int tag, struct der *out,
	    struct der *whole) __attribute__((warn_unused_result));
/* 1 when the element's contents equal the bytes given. */
int	 der_equal(const struct der *, const void *, size_t);
/*
 * A non-negative INTEGER's value in *v when it fits in 63 bits; -1 for
 * a negative, oversized or non-minimal encoding.
 */
int	 der_int_small(const struct der *, long long *v)
	    __attribute__((warn_unused_result));
/* A BOOLEAN's contents: 0xff is 1, 0x00 is 0, anything else -1. */
int	 der_bool(const struct der *);
/*
 * A UTCTime or GeneralizedTime (tag gives which) in the form RFC 5280
 * allows (seconds present, "Z", no fraction) as Unix seconds. 0 or -1.
 */
int	 der_time(int tag, const struct der *, long long *t)
	    __attribute__((warn_unused_result));

#define DER_DEPTH_MAX		16	/* open constructed TLVs a writer has */

struct der_w {
	struct buf	 b;
	size_t		 open[DER_DEPTH_MAX];	/* content offsets */
	int		 depth;
	int		 failed;	/* a write failed; finish reports it */
};

/* Writes go to a buffer of at most max bytes. */
void	der_w_init(struct der_w *, size_t max);
void	der_w_cleanup(struct der_w *);
/* Opens a constructed TLV; der_w_end closes the innermost one. */
void	der_w_begin(struct der_w *, uint8_t tag);
void	der_w_end(struct der_w *);
void	der_w_tlv(struct der_w *, uint8_t tag, const void *, size_t);
/* Bytes that are already DER (a Name, a SubjectPublicKeyInfo). */
void	der_w_raw(struct der_w *, const void *, size_t);
/* An unsigned big-endian number as a minimal INTEGER. */
void	der_w_uint(struct der_w *, const uint8_t *, size_t);
void	der_w_small_uint(struct der_w *, unsigned long);
void	der_w_bool(struct der_w *, int);
/* A BIT STRING with no unused bits. */
void	der_w_bits(struct der_w *, const void *, size_t);
/* UTCTime through 2049, GeneralizedTime after, as RFC 5280 says. */
void	der_w_time(struct der_w *, time_t);
/*
 * Hands over the encoding (free with mem_free); 0, or -1 when a write
 * failed (too deep, too long, out of memory, unclosed TLVs).
 */
int	der_w_finish(struct der_w *, uint8_t **, size_t *)
	    __attribute__((warn_unused_result));

#endif
