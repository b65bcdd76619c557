/*
 * DER, the subset X.509 and PKCS#10 need: a writer that nests TLVs and
 * fills in lengths, and a bounds-checked reader for untrusted input
 * (definite, minimal lengths only; every read stays inside its parent).
 */
#ifndef PKI_DER_H
#define PKI_DER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"

/* Universal and context tags used by spirelet. */
#define DER_BOOLEAN		0x01
#define DER_INTEGER		0x02
#define DER_BIT_STRING		0x03
#define DER_OCTET_STRING	0x04
#define DER_NULL		0x05
#define DER_OID			0x06
#define DER_UTF8_STRING		0x0c
#define DER_PRINTABLE_STRING	0x13
#define DER_IA5_STRING		0x16
#define DER_UTC_TIME		0x17
#define DER_GENERALIZED_TIME	0x18
#define DER_SEQUENCE		0x30
#define DER_SET			0x31
#define DER_CTX(n)		(0x80 | (n))	/* [n] IMPLICIT, primitive */
#define DER_CTX_CONS(n)		(0xa0 | (n))	/* [n] constructed */

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

/* A view of DER bytes; reading narrows it. */
struct der_r {
	const uint8_t	*p;
	size_t		 len;
};

void	der_r_init(struct der_r *, const void *, size_t);
/*
 * Reads the next TLV: its tag, its contents as a view, and (when whole
 * is not NULL) the whole TLV including the header. 0, or -1 at the end
 * or on malformed input.
 */
int	der_r_next(struct der_r *, uint8_t *tag, struct der_r *content,
	    struct der_r *whole) __attribute__((warn_unused_result));
/* der_r_next that also requires the tag. */
int	der_r_expect(struct der_r *, uint8_t tag, struct der_r *content,
	    struct der_r *whole) __attribute__((warn_unused_result));
/* The next tag without consuming, or -1 at the end. */
int	der_r_peek(const struct der_r *);
/* An INTEGER that fits in a long, not negative. 0 or -1. */
int	der_r_small_uint(struct der_r *, unsigned long *)
	    __attribute__((warn_unused_result));
/* UTCTime or GeneralizedTime (Z form, seconds) as Unix time. 0 or -1. */
int	der_r_time(struct der_r *, time_t *)
	    __attribute__((warn_unused_result));

#endif
