/*
 * Protobuf writing for what the agent builds itself: the Workload API's
 * responses (concatenated DER chains and maps nanopb would copy into
 * 16-bit-sized arrays) and the requests it sends the server. Each
 * function appends one field to a bounded struct buf; 0 or -1 when the
 * buffer's maximum or memory does not allow it.
 */
#include "config.h"

#include <string.h>

#include "agent/internal.h"

#define PB_WT_VARINT	0
#define PB_WT_64BIT	1
#define PB_WT_LEN	2

int
pbw_varint(struct buf *b, uint64_t v)
{
	uint8_t	 tmp[10];
	size_t	 n = 0;

	do {
		tmp[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v != 0)
			tmp[n] |= 0x80;
		n++;
	} while (v != 0);
	return buf_append(b, tmp, n);
}

int
pbw_tag(struct buf *b, unsigned field, unsigned wire)
{
	return pbw_varint(b, ((uint64_t)field << 3) | wire);
}

int
pbw_bytes(struct buf *b, unsigned field, const void *p, size_t len)
{
	if (pbw_tag(b, field, PB_WT_LEN) == -1 || pbw_varint(b, len) == -1)
		return -1;
	return len == 0 ? 0 : buf_append(b, p, len);
}

/* Empty strings are proto3's default and are left out. */
int
pbw_string(struct buf *b, unsigned field, const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	return pbw_bytes(b, field, s, strlen(s));
}

int
pbw_uint(struct buf *b, unsigned field, uint64_t v)
{
	if (v == 0)
		return 0;
	if (pbw_tag(b, field, PB_WT_VARINT) == -1)
		return -1;
	return pbw_varint(b, v);
}

/* Always written, as a Value's number must be even when it is 0. */
int
pbw_double(struct buf *b, unsigned field, double d)
{
	uint8_t		 le[8];
	uint64_t	 u;
	size_t		 i;

	memcpy(&u, &d, sizeof(u));
	for (i = 0; i < 8; i++)
		le[i] = (uint8_t)(u >> (8 * i));
	if (pbw_tag(b, field, PB_WT_64BIT) == -1)
		return -1;
	return buf_append(b, le, sizeof(le));
}

int
pbw_message(struct buf *b, unsigned field, const struct buf *msg)
{
	return pbw_bytes(b, field, buf_ptr(msg), msg->len);
}
