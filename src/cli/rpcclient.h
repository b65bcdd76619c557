/*
 * One gRPC call from a command-line tool, run to completion on a private
 * event loop: what `healthcheck` and the admin commands use.
 */
#ifndef CLI_RPCCLIENT_H
#define CLI_RPCCLIENT_H

#include <pb.h>

#include "rpc/grpc.h"

struct cli_result {
	enum grpc_status	 code;
	char			 message[512];	/* grpc-message, decoded */
};

/*
 * Sends req to target ("unix:/path" or "host:port", plaintext) and waits
 * at most timeout seconds for the reply, decoded into resp (release it
 * with pb_release when the code is OK). The outcome is in *out; returns
 * 0 when the call ran (whatever its status), -1 when it could not start.
 */
int	cli_unary(const char *target, const char *path,
	    const pb_msgdesc_t *req_fields, const void *req,
	    const pb_msgdesc_t *resp_fields, void *resp, double timeout,
	    struct cli_result *out) __attribute__((warn_unused_result));

#endif
