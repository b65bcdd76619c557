/* gRPC wire pieces: status names, framing, timeouts, messages, details. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "core/buf.h"
#include "core/limits.h"
#include "core/log.h"
#include "google/rpc/status.pb.h"
#include "rpc/grpc.h"

static int	grpc_put_varint(struct buf *, uint64_t);
static int	grpc_put_bytes(struct buf *, unsigned, const void *, size_t);
static size_t	grpc_varint_len(uint64_t);
static int	grpc_hexval(int);

static const char *const grpc_status_names[GRPC_STATUS_COUNT] = {
	"OK",
	"CANCELLED",
	"UNKNOWN",
	"INVALID_ARGUMENT",
	"DEADLINE_EXCEEDED",
	"NOT_FOUND",
	"ALREADY_EXISTS",
	"PERMISSION_DENIED",
	"RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION",
	"ABORTED",
	"OUT_OF_RANGE",
	"UNIMPLEMENTED",
	"INTERNAL",
	"UNAVAILABLE",
	"DATA_LOSS",
	"UNAUTHENTICATED",
};

const char *
grpc_status_name(int code)
{
	if (code < 0 || code >= GRPC_STATUS_COUNT)
		return "UNKNOWN_CODE";
	return grpc_status_names[code];
}

const char *
rpc_strerror(enum rpc_err err)
{
	switch (err) {
	case RPC_ERR_OK:
		return "success";
	case RPC_ERR_NOMEM:
		return "out of memory";
	case RPC_ERR_WOULDBLOCK:
		return "send queue full";
	case RPC_ERR_TOOBIG:
		return "message over the size limit";
	case RPC_ERR_CLOSED:
		return "call closed";
	case RPC_ERR_STATE:
		return "not allowed in this call state";
	case RPC_ERR_ENCODE:
		return "message encoding failed";
	case RPC_ERR_ADDR:
		return "bad address";
	case RPC_ERR_HTTP2:
		return "HTTP/2 error";
	}
	return "unknown error";
}

enum grpc_frame_result
grpc_frame_parse(const uint8_t *p, size_t n, size_t max,
    struct grpc_frame *frame)
{
	uint32_t	 len;

	frame->msg = NULL;
	frame->len = 0;
	frame->need = GRPC_PREFIX_LEN;
	if (n < GRPC_PREFIX_LEN)
		return GRPC_FRAME_MORE;
	len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 8 | (uint32_t)p[4];
	frame->len = len;
	if (p[0] > 1)
		return GRPC_FRAME_INVALID;
	if (p[0] == 1)
		return GRPC_FRAME_COMPRESSED;
	if (len > max)
		return GRPC_FRAME_TOOBIG;
	frame->need = GRPC_PREFIX_LEN + (size_t)len;
	if (n < frame->need)
		return GRPC_FRAME_MORE;
	frame->msg = p + GRPC_PREFIX_LEN;
	return GRPC_FRAME_MESSAGE;
}

void
grpc_frame_prefix(uint8_t out[GRPC_PREFIX_LEN], size_t len)
{
	out[0] = 0;
	out[1] = (uint8_t)(len >> 24);
	out[2] = (uint8_t)(len >> 16);
	out[3] = (uint8_t)(len >> 8);
	out[4] = (uint8_t)len;
}

int
grpc_timeout_parse(const char *s, size_t n, uint64_t *ns)
{
	const uint64_t	 cap = (uint64_t)RPC_TIMEOUT_MAX_SEC * 1000000000ULL;
	uint64_t	 v = 0, mult;
	size_t		 i;

	/* The spec allows at most 8 digits, so v * mult cannot overflow. */
	if (n < 2 || n > 9)
		return -1;
	for (i = 0; i < n - 1; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	switch (s[n - 1]) {
	case 'H':
		mult = 3600ULL * 1000000000ULL;
		break;
	case 'M':
		mult = 60ULL * 1000000000ULL;
		break;
	case 'S':
		mult = 1000000000ULL;
		break;
	case 'm':
		mult = 1000000ULL;
		break;
	case 'u':
		mult = 1000ULL;
		break;
	case 'n':
		mult = 1;
		break;
	default:
		return -1;
	}
	/* 99999999 hours is about 3.6e20 ns: compare before multiplying. */
	if (v > cap / mult)
		*ns = cap;
	else
		*ns = v * mult;
	return 0;
}

int
grpc_timeout_format(uint64_t ns, char *out, size_t outsz)
{
	static const struct {
		char		unit;
		uint64_t	ns;
	} units[] = {
		{ 'n', 1 },
		{ 'u', 1000ULL },
		{ 'm', 1000000ULL },
		{ 'S', 1000000000ULL },
		{ 'M', 60ULL * 1000000000ULL },
		{ 'H', 3600ULL * 1000000000ULL },
	};
	uint64_t	 v = 0;
	size_t		 i;
	int		 r;

	if (ns == 0)
		ns = 1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		v = ns / units[i].ns + (ns % units[i].ns != 0);
		if (v <= 99999999)
			break;
	}
	if (i == sizeof(units) / sizeof(units[0])) {
		i--;
		v = 99999999;
	}
	r = snprintf(out, outsz, "%llu%c", (unsigned long long)v,
	    units[i].unit);
	if (r < 0 || (size_t)r >= outsz)
		return -1;
	return 0;
}

int
grpc_message_encode(const char *in, size_t n, char *out, size_t outsz)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p = (const unsigned char *)in;
	size_t			 i, o = 0;

	if (outsz == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (p[i] >= 0x20 && p[i] <= 0x7e && p[i] != '%') {
			if (o + 1 >= outsz)
				return -1;
			out[o++] = (char)p[i];
			continue;
		}
		if (o + 3 >= outsz)
			return -1;
		out[o++] = '%';
		out[o++] = hex[p[i] >> 4];
		out[o++] = hex[p[i] & 0xf];
	}
	out[o] = '\0';
	return 0;
}

static int
grpc_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t
grpc_message_decode(const char *in, size_t n, char *out, size_t outsz)
{
	size_t	 i = 0, o = 0;
	int	 hi, lo;

	if (outsz == 0)
		return 0;
	while (i < n && o + 1 < outsz) {
		if (in[i] == '%' && i + 2 < n) {
			hi = grpc_hexval((unsigned char)in[i + 1]);
			lo = grpc_hexval((unsigned char)in[i + 2]);
			if (hi >= 0 && lo >= 0) {
				out[o++] = (char)(hi << 4 | lo);
				i += 3;
				continue;
			}
		}
		out[o++] = in[i++];
	}
	out[o] = '\0';
	return o;
}

static size_t
grpc_varint_len(uint64_t v)
{
	size_t	 n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static int
grpc_put_varint(struct buf *b, uint64_t v)
{
	uint8_t	 tmp[10];
	size_t	 n = 0;

	while (v >= 0x80) {
		tmp[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t)v;
	return buf_append(b, tmp, n);
}

/* A length-delimited field: tag, length, bytes. */
static int
grpc_put_bytes(struct buf *b, unsigned field, const void *p, size_t n)
{
	if (grpc_put_varint(b, (uint64_t)field << 3 | PB_WT_STRING) == -1 ||
	    grpc_put_varint(b, n) == -1)
		return -1;
	return buf_append(b, p, n);
}

int
grpc_details_encode(int code, const char *message,
    const struct grpc_detail *details, size_t ndetails, struct buf *out)
{
	size_t	 i, ulen, anylen;

	if (code != 0) {
		if (grpc_put_varint(out, 1 << 3 | PB_WT_VARINT) == -1 ||
		    grpc_put_varint(out, (uint64_t)(int64_t)code) == -1)
			return -1;
	}
	if (message != NULL && message[0] != '\0' &&
	    grpc_put_bytes(out, 2, message, strlen(message)) == -1)
		return -1;
	for (i = 0; i < ndetails; i++) {
		ulen = details[i].type_url == NULL ? 0 :
		    strlen(details[i].type_url);
		anylen = 0;
		if (ulen > 0)
			anylen += 1 + grpc_varint_len(ulen) + ulen;
		if (details[i].len > 0)
			anylen += 1 + grpc_varint_len(details[i].len) +
			    details[i].len;
		if (grpc_put_varint(out, 3 << 3 | PB_WT_STRING) == -1 ||
		    grpc_put_varint(out, anylen) == -1)
			return -1;
		if (ulen > 0 && grpc_put_bytes(out, 1, details[i].type_url,
		    ulen) == -1)
			return -1;
		if (details[i].len > 0 && grpc_put_bytes(out, 2,
		    details[i].value, details[i].len) == -1)
			return -1;
	}
	return 0;
}

int
grpc_details_decode(const uint8_t *p, size_t n, google_rpc_Status *st)
{
	pb_istream_t	 is;

	memset(st, 0, sizeof(*st));
	is = pb_istream_from_buffer(p, n);
	if (!pb_decode(&is, google_rpc_Status_fields, st)) {
		log_debug("rpc", "grpc-status-details-bin: %s",
		    PB_GET_ERROR(&is));
		memset(st, 0, sizeof(*st));
		return -1;
	}
	return 0;
}
