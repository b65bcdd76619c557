/*
 * `spirelet server healthcheck` and `spirelet agent healthcheck`: ask
 * grpc.health.v1.Health/Check on the role's socket, with the flags and
 * words of spire-server and spire-agent healthcheck.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/rpcclient.h"
#include "grpc/health/v1/health.pb.h"

#define HEALTHCHECK_TIMEOUT_SEC	5
#define SERVING	grpc_health_v1_HealthCheckResponse_ServingStatus_SERVING

static int	healthcheck_main(int, char *[], const char *, const char *,
		    const char *);

static int
healthcheck_main(int argc, char *argv[], const char *who, const char *title,
    const char *socket)
{
	grpc_health_v1_HealthCheckRequest	 req =
	    grpc_health_v1_HealthCheckRequest_init_zero;
	grpc_health_v1_HealthCheckResponse	 resp =
	    grpc_health_v1_HealthCheckResponse_init_zero;
	struct cli_result			 r;
	const char				*path = socket;
	int					 shallow = 0, verbose = 0, n;
	char					 target[512];
	const struct flag			 flags[] = {
		{ "shallow", FLAG_BOOL, &shallow,
		    "perform a less stringent health check" },
		{ "socketPath", FLAG_STRING, &path,
		    "path to the API's Unix socket" },
		{ "verbose", FLAG_BOOL, &verbose,
		    "print verbose information" },
		{ NULL, FLAG_BOOL, NULL, NULL },
	};

	n = flags_parse_only(flags, argc, argv);
	if (n != -1)
		return n;
	snprintf(target, sizeof(target), "unix:%s", path);
	if (verbose)
		printf("Checking %s health...\n", who);
	if (cli_unary(target, "/grpc.health.v1.Health/Check",
	    grpc_health_v1_HealthCheckRequest_fields, &req,
	    grpc_health_v1_HealthCheckResponse_fields, &resp,
	    HEALTHCHECK_TIMEOUT_SEC, &r) == -1 || r.code != GRPC_STATUS_OK) {
		if (verbose)
			fprintf(stderr, "Failed to check health: %s\n",
			    r.message);
		fprintf(stderr, "%s is unhealthy: unable to determine "
		    "health\n", title);
		return 1;
	}
	if (resp.status != SERVING) {
		fprintf(stderr, "%s is unhealthy: status %d\n", title,
		    (int)resp.status);
		return 1;
	}
	printf("%s is healthy.\n", title);
	return 0;
}

int
cli_healthcheck_server(int argc, char *argv[])
{
	return healthcheck_main(argc, argv, "server", "Server",
	    "/tmp/spire-server/private/api.sock");
}

int
cli_healthcheck_agent(int argc, char *argv[])
{
	return healthcheck_main(argc, argv, "agent", "Agent",
	    "/tmp/spire-agent/public/api.sock");
}
