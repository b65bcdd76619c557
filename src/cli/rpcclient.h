/*
 * gRPC calls from a command-line tool, run to completion on a private
 * event loop: one unary call (what `healthcheck` and the admin commands
 * use) or one server stream read message by message (the Workload API's
 * FetchX509SVID for `api fetch` and `api watch`).
 */
#ifndef CLI_RPCCLIENT_H
#define CLI_RPCCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <pb.h>

#include "rpc/call.h"
#include "rpc/grpc.h"

struct cli_result {
	enum grpc_status	 code;
	char			 message[512];	/* grpc-message, decoded */
	int			 interrupted;	/* SIGINT or SIGTERM came */
};

/*
 * Sends req to target ("unix:/path" or "host:port", plaintext) and waits
 * at most timeout seconds (0: no limit) for the reply, decoded into resp
 * (release it with pb_release when the code is OK). The outcome is in
 * *out; returns 0 when the call ran (whatever its status), -1 when it
 * could not start.
 */
int	cli_unary(const char *target, const char *path,
	    const pb_msgdesc_t *req_fields, const void *req,
	    const pb_msgdesc_t *resp_fields, void *resp, double timeout,
	    struct cli_result *out) __attribute__((warn_unused_result));
/* The same with request metadata md[0..nmd) (copied). */
int	cli_unary_md(const char *target, const char *path,
	    const struct rpc_md *md, size_t nmd,
	    const pb_msgdesc_t *req_fields, const void *req,
	    const pb_msgdesc_t *resp_fields, void *resp, double timeout,
	    struct cli_result *out) __attribute__((warn_unused_result));

/*
 * Called with each message of a stream (bytes borrowed for the call).
 * Returns 0 to read on, 1 to end the call here (we cancel it, and the
 * outcome is OK).
 */
typedef int	(*cli_stream_fn)(void *arg, const uint8_t *msg, size_t len);

struct cli_stream_opts {
	const char		*target;
	const char		*path;
	const struct rpc_md	*md;		/* borrowed, nmd entries */
	size_t			 nmd;
	const pb_msgdesc_t	*req_fields;
	const void		*req;		/* the one request message */
	double			 timeout;	/* seconds; 0: none */
	int			 interruptible;	/* SIGINT/SIGTERM end the call
						 * (out->interrupted) */
};

/*
 * Runs one server-streaming call: sends the request, half-closes, and
 * hands every response to fn until the stream ends, fn says stop, the
 * timeout passes or (when interruptible) a signal comes. 0 when the call
 * ran, *out saying how it ended; -1 when it could not start.
 */
int	cli_stream(const struct cli_stream_opts *, cli_stream_fn fn,
	    void *arg, struct cli_result *out)
	    __attribute__((warn_unused_result));

/*
 * Waits sec seconds; with SIGINT or SIGTERM sooner, returns 1 at once
 * (0 after the full wait, -1 when no loop could be made).
 */
int	cli_sleep(double sec);

#endif
