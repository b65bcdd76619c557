/* DER writing and reading. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "pki/der.h"

static void	der_w_header(uint8_t *, size_t *, uint8_t, size_t);
static int	der_r_digits(const uint8_t *, int, int *);

void
der_w_init(struct der_w *w, size_t max)
{
	memset(w, 0, sizeof(*w));
	buf_init(&w->b, max);
}

void
der_w_cleanup(struct der_w *w)
{
	buf_cleanup(&w->b);
	w->depth = 0;
}

/* Tag and length into hdr (at most 6 bytes); *n is its size. */
static void
der_w_header(uint8_t *hdr, size_t *n, uint8_t tag, size_t len)
{
	size_t	 i = 0, bytes, v;

	hdr[i++] = tag;
	if (len < 0x80) {
		hdr[i++] = (uint8_t)len;
	} else {
		for (bytes = 0, v = len; v > 0; v >>= 8)
			bytes++;
		hdr[i++] = (uint8_t)(0x80 | bytes);
		while (bytes-- > 0)
			hdr[i++] = (uint8_t)(len >> (8 * bytes));
	}
	*n = i;
}

void
der_w_begin(struct der_w *w, uint8_t tag)
{
	if (w->failed)
		return;
	if (w->depth == DER_DEPTH_MAX || buf_append(&w->b, &tag, 1) == -1) {
		w->failed = 1;
		return;
	}
	w->open[w->depth++] = w->b.len;
}

void
der_w_end(struct der_w *w)
{
	uint8_t	 hdr[8], *p;
	size_t	 start, clen, hlen;

	if (w->failed)
		return;
	if (w->depth == 0) {
		w->failed = 1;
		return;
	}
	start = w->open[--w->depth];
	clen = w->b.len - start;
	der_w_header(hdr, &hlen, 0, clen);
	/* The tag is in place; insert the length bytes after it. */
	if (buf_reserve(&w->b, hlen - 1) == -1) {
		w->failed = 1;
		return;
	}
	p = buf_ptr(&w->b);
	memmove(p + start + hlen - 1, p + start, clen);
	memcpy(p + start, hdr + 1, hlen - 1);
	buf_added(&w->b, hlen - 1);
}

void
der_w_tlv(struct der_w *w, uint8_t tag, const void *v, size_t len)
{
	uint8_t	 hdr[8];
	size_t	 hlen;

	if (w->failed)
		return;
	der_w_header(hdr, &hlen, tag, len);
	if (buf_append(&w->b, hdr, hlen) == -1 ||
	    (len > 0 && buf_append(&w->b, v, len) == -1))
		w->failed = 1;
}

void
der_w_raw(struct der_w *w, const void *v, size_t len)
{
	if (!w->failed && buf_append(&w->b, v, len) == -1)
		w->failed = 1;
}

void
der_w_uint(struct der_w *w, const uint8_t *v, size_t len)
{
	uint8_t	 zero = 0;

	while (len > 1 && v[0] == 0) {
		v++;
		len--;
	}
	if (len == 0) {
		w->failed = 1;
		return;
	}
	der_w_begin(w, DER_INTEGER);
	/* A high bit set would read as negative: lead with a zero. */
	if (v[0] & 0x80)
		der_w_raw(w, &zero, 1);
	der_w_raw(w, v, len);
	der_w_end(w);
}

void
der_w_small_uint(struct der_w *w, unsigned long n)
{
	uint8_t	 be[sizeof(n)];
	size_t	 i;

	for (i = 0; i < sizeof(n); i++)
		be[i] = (uint8_t)(n >> (8 * (sizeof(n) - 1 - i)));
	der_w_uint(w, be, sizeof(be));
}

void
der_w_bool(struct der_w *w, int v)
{
	uint8_t	 b = v ? 0xff : 0x00;

	der_w_tlv(w, DER_BOOLEAN, &b, 1);
}

void
der_w_bits(struct der_w *w, const void *v, size_t len)
{
	uint8_t	 zero = 0;

	der_w_begin(w, DER_BIT_STRING);
	der_w_raw(w, &zero, 1);
	der_w_raw(w, v, len);
	der_w_end(w);
}

void
der_w_time(struct der_w *w, time_t t)
{
	struct tm	 tm;
	char		 s[32];
	int		 n;

	if (gmtime_r(&t, &tm) == NULL) {
		w->failed = 1;
		return;
	}
	if (tm.tm_year + 1900 >= 1950 && tm.tm_year + 1900 < 2050) {
		n = snprintf(s, sizeof(s), "%02d%02d%02d%02d%02d%02dZ",
		    tm.tm_year % 100, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		der_w_tlv(w, DER_UTC_TIME, s, (size_t)n);
	} else {
		n = snprintf(s, sizeof(s), "%04d%02d%02d%02d%02d%02dZ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		der_w_tlv(w, DER_GENERALIZED_TIME, s, (size_t)n);
	}
}

int
der_w_finish(struct der_w *w, uint8_t **out, size_t *len)
{
	if (w->failed || w->depth != 0 || w->b.len == 0) {
		der_w_cleanup(w);
		return -1;
	}
	*out = buf_take(&w->b, len);
	return *out != NULL ? 0 : -1;
}

void
der_r_init(struct der_r *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
}

int
der_r_next(struct der_r *r, uint8_t *tag, struct der_r *content,
    struct der_r *whole)
{
	size_t	 i = 0, len = 0, n;

	if (r->len < 2)
		return -1;
	*tag = r->p[i++];
	/* High tag numbers never occur in what spirelet reads. */
	if ((*tag & 0x1f) == 0x1f)
		return -1;
	len = r->p[i++];
	if (len & 0x80) {
		n = len & 0x7f;
		/* No indefinite lengths, at most 4 length bytes. */
		if (n == 0 || n > 4 || r->len - i < n)
			return -1;
		/* DER: the shortest length form, no leading zero byte. */
		if (r->p[i] == 0)
			return -1;
		for (len = 0; n > 0; n--)
			len = (len << 8) | r->p[i++];
		if (len < 0x80)
			return -1;
	}
	if (len > r->len - i)
		return -1;
	if (content != NULL)
		der_r_init(content, r->p + i, len);
	if (whole != NULL)
		der_r_init(whole, r->p, i + len);
	r->p += i + len;
	r->len -= i + len;
	return 0;
}

int
der_r_expect(struct der_r *r, uint8_t tag, struct der_r *content,
    struct der_r *whole)
{
	struct der_r	 save = *r;
	uint8_t		 t;

	if (der_r_next(r, &t, content, whole) == -1)
		return -1;
	if (t != tag) {
		*r = save;
		return -1;
	}
	return 0;
}

int
der_r_peek(const struct der_r *r)
{
	return r->len > 0 ? r->p[0] : -1;
}

int
der_r_small_uint(struct der_r *r, unsigned long *out)
{
	struct der_r	 c;
	unsigned long	 v = 0;
	size_t		 i;

	if (der_r_expect(r, DER_INTEGER, &c, NULL) == -1 || c.len == 0)
		return -1;
	if (c.p[0] & 0x80)
		return -1;
	if (c.len > 1 && c.p[0] == 0 && !(c.p[1] & 0x80))
		return -1;	/* not minimal */
	if (c.len > sizeof(v) + (c.p[0] == 0))
		return -1;
	for (i = 0; i < c.len; i++)
		v = (v << 8) | c.p[i];
	*out = v;
	return 0;
}

/* n decimal digits at s into *v; 0 or -1. */
static int
der_r_digits(const uint8_t *s, int n, int *v)
{
	int	 i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int
der_r_time(struct der_r *r, time_t *out)
{
	struct der_r	 c;
	struct tm	 tm;
	const uint8_t	*s;
	uint8_t		 tag;
	int		 year, yl;

	if (der_r_next(r, &tag, &c, NULL) == -1)
		return -1;
	if (tag == DER_UTC_TIME && c.len == 13)
		yl = 2;
	else if (tag == DER_GENERALIZED_TIME && c.len == 15)
		yl = 4;
	else
		return -1;
	s = c.p;
	if (s[c.len - 1] != 'Z')
		return -1;
	memset(&tm, 0, sizeof(tm));
	if (der_r_digits(s, yl, &year) == -1 ||
	    der_r_digits(s + yl, 2, &tm.tm_mon) == -1 ||
	    der_r_digits(s + yl + 2, 2, &tm.tm_mday) == -1 ||
	    der_r_digits(s + yl + 4, 2, &tm.tm_hour) == -1 ||
	    der_r_digits(s + yl + 6, 2, &tm.tm_min) == -1 ||
	    der_r_digits(s + yl + 8, 2, &tm.tm_sec) == -1)
		return -1;
	if (yl == 2)
		year += year < 50 ? 2000 : 1900;
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 60)
		return -1;
	tm.tm_year = year - 1900;
	tm.tm_mon -= 1;
	*out = timegm(&tm);
	return 0;
}
