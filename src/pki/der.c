/* DER reading (strict) and writing. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "pki/der.h"

#define DER_LEN_BYTES_MAX	4	/* length octets: up to 4 GiB */

static void	der_w_header(uint8_t *, size_t *, uint8_t, size_t);
static int	der_digits(const uint8_t *, size_t, int *);
static long long der_days(long long, int, int);

void
der_init(struct der *d, const void *p, size_t len)
{
	d->p = p;
	d->len = len;
}

int
der_empty(const struct der *d)
{
	return d->len == 0;
}

int
der_peek(const struct der *d)
{
	return d->len == 0 ? -1 : d->p[0];
}

int
der_get_any(struct der *d, int *tag, struct der *out, struct der *whole)
{
	size_t	 hdr, len, n, i;

	if (d->len < 2)
		return -1;
	/* High tag numbers never occur in what we read. */
	if ((d->p[0] & 0x1f) == 0x1f)
		return -1;
	if (d->p[1] < 0x80) {
		len = d->p[1];
		hdr = 2;
	} else {
		n = d->p[1] & 0x7f;
		/* 0x80 is the indefinite form, which DER forbids. */
		if (n == 0 || n > DER_LEN_BYTES_MAX || d->len < 2 + n ||
		    d->p[2] == 0)
			return -1;
		len = 0;
		for (i = 0; i < n; i++)
			len = (len << 8) | d->p[2 + i];
		if (len < 0x80)
			return -1;
		hdr = 2 + n;
	}
	if (len > d->len - hdr)
		return -1;
	*tag = d->p[0];
	if (out != NULL)
		der_init(out, d->p + hdr, len);
	if (whole != NULL)
		der_init(whole, d->p, hdr + len);
	d->p += hdr + len;
	d->len -= hdr + len;
	return 0;
}

int
der_get(struct der *d, int tag, struct der *out, struct der *whole)
{
	struct der	 save = *d;
	int		 got;

	if (der_get_any(d, &got, out, whole) != 0)
		return -1;
	if (got != tag) {
		*d = save;
		return -1;
	}
	return 0;
}

int
der_get_optional(struct der *d, int tag, struct der *out,
    struct der *whole)
{
	if (der_peek(d) != tag)
		return 0;
	return der_get(d, tag, out, whole) == 0 ? 1 : -1;
}

int
der_equal(const struct der *d, const void *p, size_t len)
{
	return d->len == len && memcmp(d->p, p, len) == 0;
}

int
der_int_small(const struct der *d, long long *v)
{
	unsigned long long	 x = 0;
	size_t			 i, start = 0;

	if (d->len == 0 || (d->p[0] & 0x80) != 0)
		return -1;
	if (d->len > 1 && d->p[0] == 0x00 && (d->p[1] & 0x80) == 0)
		return -1;
	if (d->p[0] == 0x00 && d->len > 1)
		start = 1;
	if (d->len - start > 8)
		return -1;
	for (i = start; i < d->len; i++)
		x = (x << 8) | d->p[i];
	if (x > (unsigned long long)9223372036854775807LL)
		return -1;
	*v = (long long)x;
	return 0;
}

int
der_bool(const struct der *d)
{
	if (d->len != 1)
		return -1;
	if (d->p[0] == 0xff)
		return 1;
	if (d->p[0] == 0x00)
		return 0;
	return -1;
}

/* n decimal digits as a number; 0 or -1. */
static int
der_digits(const uint8_t *p, size_t n, int *v)
{
	size_t	 i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		*v = *v * 10 + (p[i] - '0');
	}
	return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static long long
der_days(long long y, int m, int d)
{
	long long	 era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
der_time(int tag, const struct der *d, long long *t)
{
	static const int mdays[] = {
	    31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const uint8_t	*p = d->p;
	int		 y, mo, day, h, mi, s, leap;

	if (tag == DER_UTC_TIME) {
		/* YYMMDDHHMMSSZ; RFC 5280 puts YY >= 50 in the 1900s. */
		if (d->len != 13 || der_digits(p, 2, &y) != 0)
			return -1;
		y += y >= 50 ? 1900 : 2000;
		p += 2;
	} else if (tag == DER_GENERALIZED_TIME) {
		if (d->len != 15 || der_digits(p, 4, &y) != 0)
			return -1;
		p += 4;
	} else
		return -1;
	if (der_digits(p, 2, &mo) != 0 || der_digits(p + 2, 2, &day) != 0 ||
	    der_digits(p + 4, 2, &h) != 0 || der_digits(p + 6, 2, &mi) != 0 ||
	    der_digits(p + 8, 2, &s) != 0 || p[10] != 'Z')
		return -1;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || day < 1 || day > mdays[mo - 1] ||
	    (mo == 2 && day == 29 && !leap) || h > 23 || mi > 59 || s > 59)
		return -1;
	*t = der_days(y, mo, day) * 86400LL + h * 3600LL + mi * 60LL + s;
	return 0;
}

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
