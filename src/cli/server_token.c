/*
 * `spirelet server token generate`: a join token from the server's admin
 * socket (Agent/CreateJoinToken), as spire-server token generate makes
 * and prints it.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <pb_decode.h>

#include "cli/admin.h"
#include "cli/commands.h"
#include "cli/pbjson.h"
#include "spire/api/server/agent/v1/agent.pb.h"

#define TOKEN_TTL_DEFAULT	600	/* seconds, spire-server's default */

int
cli_server_token_generate(int argc, char *argv[])
{
	spire_api_server_agent_v1_CreateJoinTokenRequest	req =
	    spire_api_server_agent_v1_CreateJoinTokenRequest_init_zero;
	spire_api_types_JoinToken				tok =
	    spire_api_types_JoinToken_init_zero;
	struct admin_cmd			 c;
	struct admin_pool			 pool = { 0 };
	const char				*spiffe_id = NULL;
	char					 err[OUTPUT_ERROR_MAX];
	long					 ttl = TOKEN_TTL_DEFAULT;
	int					 rc;
	const struct flag			 flags[] = {
		ADMIN_FLAG_OUTPUT(c),
		ADMIN_FLAG_SOCKET(c),
		{ "spiffeID", FLAG_STRING, &spiffe_id, "Additional SPIFFE ID "
		    "to assign the token owner (optional)" },
		{ "ttl", FLAG_INT, &ttl, "Token TTL in seconds (default "
		    "600)" },
		ADMIN_FLAG_END,
	};

	memset(&c, 0, sizeof(c));
	c.name = "generate";
	c.socket = ADMIN_SERVER_SOCKET;
	rc = admin_parse(&c, flags, argc, argv);
	if (rc != -1)
		return rc;
	if (spiffe_id != NULL && *spiffe_id != '\0') {
		if (admin_id_parse(&pool, spiffe_id, &req.agent_id, err,
		    sizeof(err)) == -1) {
			rc = output_errorf("%s", err);
			goto out;
		}
		req.has_agent_id = true;
	}
	if (ttl < INT32_MIN || ttl > INT32_MAX) {
		rc = output_errorf("invalid value for TTL: overflow "
		    "converting int(%ld) to int32", ttl);
		goto out;
	}
	req.ttl = (int32_t)ttl;
	if (admin_call(&c, "/spire.api.server.agent.v1.Agent/CreateJoinToken",
	    NULL, 0, CLI_ADMIN_TIMEOUT_SEC,
	    spire_api_server_agent_v1_CreateJoinTokenRequest_fields, &req,
	    spire_api_types_JoinToken_fields, &tok, err, sizeof(err)) == -1) {
		rc = output_errorf("%s", err);
		goto out;
	}
	if (c.format == OUTPUT_JSON) {
		rc = output_json_take(pbjson_join_token(&tok)) == 0 ? 0 : 1;
		goto out;
	}
	printf("Token: %s\n", tok.value != NULL ? tok.value : "");
	if (!req.has_agent_id)
		printf("Warning: Missing SPIFFE ID.\n");
	rc = 0;
out:
	pb_release(spire_api_types_JoinToken_fields, &tok);
	admin_pool_free(&pool);
	return rc;
}
