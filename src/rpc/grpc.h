/*
 * gRPC on the wire, without any I/O: status codes and their names, the
 * 5-byte message prefix, grpc-timeout, the percent-encoding of
 * grpc-message, and google.rpc.Status as grpc-status-details-bin carries
 * it. Every function here is pure, so each is unit-tested on its own.
 */
#ifndef RPC_GRPC_H
#define RPC_GRPC_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct _google_rpc_Status;

/* gRPC status codes, as numbered on the wire (grpc/doc/statuscodes.md). */
enum grpc_status {
	GRPC_STATUS_OK = 0,
	GRPC_STATUS_CANCELLED = 1,
	GRPC_STATUS_UNKNOWN = 2,
	GRPC_STATUS_INVALID_ARGUMENT = 3,
	GRPC_STATUS_DEADLINE_EXCEEDED = 4,
	GRPC_STATUS_NOT_FOUND = 5,
	GRPC_STATUS_ALREADY_EXISTS = 6,
	GRPC_STATUS_PERMISSION_DENIED = 7,
	GRPC_STATUS_RESOURCE_EXHAUSTED = 8,
	GRPC_STATUS_FAILED_PRECONDITION = 9,
	GRPC_STATUS_ABORTED = 10,
	GRPC_STATUS_OUT_OF_RANGE = 11,
	GRPC_STATUS_UNIMPLEMENTED = 12,
	GRPC_STATUS_INTERNAL = 13,
	GRPC_STATUS_UNAVAILABLE = 14,
	GRPC_STATUS_DATA_LOSS = 15,
	GRPC_STATUS_UNAUTHENTICATED = 16,
};
#define GRPC_STATUS_COUNT	17

/* "OK", "CANCELLED", ...; "UNKNOWN_CODE" for a number outside 0..16. */
const char	*grpc_status_name(int);

/*
 * Errors of the rpc layer's reusable calls (sending, starting calls,
 * addresses). Callers that only log use rpc_strerror().
 */
enum rpc_err {
	RPC_ERR_OK = 0,
	RPC_ERR_NOMEM,		/* memory ran out; nothing changed */
	RPC_ERR_WOULDBLOCK,	/* queue full; wait for on_writable */
	RPC_ERR_TOOBIG,		/* message over the size limit */
	RPC_ERR_CLOSED,		/* the call or connection has ended */
	RPC_ERR_STATE,		/* not allowed now (after half-close...) */
	RPC_ERR_ENCODE,		/* nanopb could not encode the message */
	RPC_ERR_ADDR,		/* malformed or unusable address */
	RPC_ERR_HTTP2,		/* nghttp2 refused (logged at the spot) */
};
const char	*rpc_strerror(enum rpc_err);

/*
 * The length-prefixed message framing: 1 byte compressed flag, 4 bytes
 * big-endian length, then the message.
 */
#define GRPC_PREFIX_LEN	5

enum grpc_frame_result {
	GRPC_FRAME_MORE,	/* need more bytes: frame->need in all */
	GRPC_FRAME_MESSAGE,	/* one message: frame->msg, ->len, ->need */
	GRPC_FRAME_TOOBIG,	/* announced length over max (->len) */
	GRPC_FRAME_COMPRESSED,	/* flag 1: we never negotiate compression */
	GRPC_FRAME_INVALID,	/* flag byte neither 0 nor 1 */
};

struct grpc_frame {
	const uint8_t	*msg;	/* into the caller's bytes */
	size_t		 len;	/* message length, once the prefix is in */
	size_t		 need;	/* bytes the whole frame takes */
};

/*
 * Looks at the n bytes at p, which start at a frame boundary, and says
 * whether they hold a whole frame. Consumes nothing: on MESSAGE the
 * caller drops frame->need bytes. The prefix is judged as soon as its 5
 * bytes are in, so an oversized or compressed message is refused before
 * any of its body is buffered.
 */
enum grpc_frame_result grpc_frame_parse(const uint8_t *p, size_t n,
		    size_t max, struct grpc_frame *frame);
/* Writes the prefix of an uncompressed message of len bytes. */
void		 grpc_frame_prefix(uint8_t out[GRPC_PREFIX_LEN], size_t len);

/*
 * grpc-timeout: 1 to 8 ASCII digits and a unit (H M S m u n). Stores
 * nanoseconds, clamped to RPC_TIMEOUT_MAX_SEC. 0, or -1 when malformed.
 */
int		 grpc_timeout_parse(const char *, size_t, uint64_t *ns)
		    __attribute__((warn_unused_result));
/*
 * Formats ns (at least 1) with the finest unit that keeps 8 digits,
 * rounding up so the peer never sees a shorter deadline. out needs 10
 * bytes; 0 or -1 when outsz is smaller.
 */
int		 grpc_timeout_format(uint64_t ns, char *out, size_t outsz)
		    __attribute__((warn_unused_result));

/*
 * grpc-message: bytes outside 0x20..0x7e and '%' are sent as %XX.
 * Encoding NUL-terminates out; 0, or -1 when outsz is short (needs at
 * most 3 * n + 1). Decoding turns valid %XX back into bytes, keeps
 * anything malformed as it came (as gRPC asks), truncates to outsz - 1
 * bytes, NUL-terminates and returns the decoded length.
 */
int		 grpc_message_encode(const char *in, size_t n, char *out,
		    size_t outsz) __attribute__((warn_unused_result));
size_t		 grpc_message_decode(const char *in, size_t n, char *out,
		    size_t outsz);

/* One google.protobuf.Any of a google.rpc.Status; both borrowed. */
struct grpc_detail {
	const char	*type_url;
	const uint8_t	*value;
	size_t		 len;
};

/*
 * Appends the encoding of google.rpc.Status {code, message, details} to
 * out (raw protobuf, not yet base64). 0, or -1 when out's maximum or
 * memory does not allow it (out may then hold part of it).
 */
int		 grpc_details_encode(int code, const char *message,
		    const struct grpc_detail *, size_t ndetails,
		    struct buf *out) __attribute__((warn_unused_result));

/*
 * Decodes a google.rpc.Status (the bytes of grpc-status-details-bin after
 * base64) into st, with bytes_left bounded by n. 0, or -1 when malformed
 * (logged at debug; st then holds nothing). On success release st with
 * pb_release(google_rpc_Status_fields, st).
 */
int		 grpc_details_decode(const uint8_t *, size_t n,
		    struct _google_rpc_Status *st)
		    __attribute__((warn_unused_result));

#endif
