/*
 * The options spirelet knows, one table per configuration block, and the
 * loading of a file for one command: `server run` reads a SPIRE
 * server.conf, `agent run` a SPIRE agent.conf, and `run` a file with
 * both blocks (each role's plugins then go inside its own block).
 */
#ifndef CLI_OPTIONS_H
#define CLI_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

#include "agent/agent.h"
#include "server/server.h"

/* Which roles a command runs. */
#define OPTIONS_SERVER	0x1
#define OPTIONS_AGENT	0x2
#define OPTIONS_BOTH	(OPTIONS_SERVER | OPTIONS_AGENT)

struct options {
	struct conf		*cfg;	/* owns every string below */
	unsigned		 roles;	/* OPTIONS_* the file configures */
	struct server_config	 server;
	struct agent_config	 agent;
	/*
	 * spirelet run under a parent without workload_api_socket: the
	 * process's own agent toward the parent (`upstream_agent { }`),
	 * whose SVID signs the server's CA requests. server_address,
	 * server_port and trust_domain are filled from the server's.
	 */
	bool			 has_upstream_agent;
	struct agent_config	 upstream_agent;
	char			*default_text;	/* the built-in config */
};

/*
 * Loads path for the roles given (OPTIONS_*); NULL path means spirelet's
 * built-in defaults (for `spirelet run`: a self-contained server and
 * agent on loopback, state under /var/lib/spirelet, or under
 * $XDG_STATE_HOME/spirelet (~/.local/state/spirelet) for other users
 * than root). Errors are printed to f, each as file:line:
 * message. 0, or -1 when the file is unreadable or has any error; the
 * options must be released with options_free either way.
 */
int	options_load(struct options *, const char *path, bool expand_env,
	    unsigned roles, FILE *f) __attribute__((warn_unused_result));
void	options_free(struct options *);
/*
 * Checks every table (sorted, unique, defaults within bounds): 0, or -1
 * with the first problem in why. For the unit test; conf_apply checks
 * the tables it uses too.
 */
int	options_verify_tables(char *why, size_t whylen);
/* Prints every table: options, types, defaults (for `help` and docs). */
void	options_print_tables(FILE *);

#endif
