/*
 * `spirelet validate -config FILE` (and `server validate`, `agent
 * validate`, as spire-server and spire-agent have them): loads the file
 * as `run` would and reports every problem as file:line: message.
 */
#include "config.h"

#include <stdio.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/options.h"
#include "core/conf.h"
#include "core/hcl.h"

static int	validate_main(int, char *[], unsigned);
static unsigned	validate_roles(const char *, int);

/* Which roles a file configures: its top-level server/agent blocks. */
static unsigned
validate_roles(const char *path, int expand_env)
{
	struct conf		*cfg;
	const struct hcl_node	*root;
	unsigned		 roles = 0;

	cfg = conf_load_file(path, expand_env);
	root = cfg != NULL ? conf_root(cfg) : NULL;
	if (root != NULL) {
		if (hcl_object_find(root, "server") != NULL)
			roles |= OPTIONS_SERVER;
		if (hcl_object_find(root, "agent") != NULL)
			roles |= OPTIONS_AGENT;
	}
	conf_free(cfg);
	/* Neither (or unreadable): let the full load say what is wrong. */
	return roles != 0 ? roles : OPTIONS_BOTH;
}

static int
validate_main(int argc, char *argv[], unsigned roles)
{
	const char		*path = NULL;
	int			 expand_env = 0, n;
	const struct flag	 flags[] = {
		{ "config", FLAG_STRING, &path,
		    "path to the configuration file" },
		{ "expandEnv", FLAG_BOOL, &expand_env,
		    "expand environment variables in the configuration" },
		{ NULL, FLAG_BOOL, NULL, NULL },
	};
	struct options		 o;

	n = flags_parse(flags, argc - 1, argv + 1);
	if (n == FLAGS_HELP)
		return 0;
	if (n < 0)
		return 2;
	if (n != argc - 1 || path == NULL) {
		fprintf(stderr, "usage: spirelet validate -config FILE "
		    "[-expandEnv]\n");
		return 2;
	}
	if (roles == 0)
		roles = validate_roles(path, expand_env);
	if (options_load(&o, path, expand_env, roles, stderr) == -1) {
		options_free(&o);
		return 1;
	}
	options_free(&o);
	printf("spirelet configuration file is valid.\n");
	return 0;
}

int
cli_validate(int argc, char *argv[])
{
	return validate_main(argc, argv, 0);
}

int
cli_validate_server(int argc, char *argv[])
{
	return validate_main(argc, argv, OPTIONS_SERVER);
}

int
cli_validate_agent(int argc, char *argv[])
{
	return validate_main(argc, argv, OPTIONS_AGENT);
}
