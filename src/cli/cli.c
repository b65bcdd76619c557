/*
 * Subcommand dispatch. The command words mirror SPIRE's tools:
 * "spirelet server X" is "spire-server X", "spirelet agent X" is
 * "spire-agent X", and "spirelet run" runs both roles in one process.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"

struct command {
	const char	*words;		/* space-separated command words */
	int		(*fn)(int, char *[]);
	const char	*synopsis;
};

static int	cmd_help(int, char *[]);
static int	cmd_version(int, char *[]);
static const struct command *cli_find(int, char *[], int *);
static int	cli_words_match(const char *, int, char *[]);

/* Longer commands before their prefixes, so the first match is best. */
static const struct command commands[] = {
	{ "run", cli_run_both,
	    "run the server and the agent in one process" },
	{ "server run", cli_run_server, "run the server" },
	{ "agent run", cli_run_agent, "run the agent" },
	{ "validate", cli_validate, "check a configuration file" },
	{ "server validate", cli_validate_server,
	    "check a server configuration file" },
	{ "agent validate", cli_validate_agent,
	    "check an agent configuration file" },
	{ "server healthcheck", cli_healthcheck_server,
	    "ask a running server whether it is healthy" },
	{ "agent healthcheck", cli_healthcheck_agent,
	    "ask a running agent whether it is healthy" },
	{ "server entry create", cli_server_entry_create,
	    "create registration entries" },
	{ "server entry show", cli_server_entry_show,
	    "display registration entries" },
	{ "server entry update", cli_server_entry_update,
	    "update registration entries" },
	{ "server entry delete", cli_server_entry_delete,
	    "delete registration entries" },
	{ "server entry count", cli_server_entry_count,
	    "count registration entries" },
	{ "server agent list", cli_server_agent_list,
	    "list attested agents and their SPIFFE IDs" },
	{ "server agent show", cli_server_agent_show,
	    "show an attested agent given its SPIFFE ID" },
	{ "server agent evict", cli_server_agent_evict,
	    "evict an attested agent given its SPIFFE ID" },
	{ "server agent ban", cli_server_agent_ban,
	    "ban an attested agent given its SPIFFE ID" },
	{ "server agent count", cli_server_agent_count,
	    "count attested agents" },
	{ "server token generate", cli_server_token_generate,
	    "generate a join token" },
	{ "server bundle show", cli_server_bundle_show,
	    "print the server's CA bundle" },
	{ "server bundle list", cli_server_bundle_list,
	    "list federated bundles" },
	{ "server bundle set", cli_server_bundle_set,
	    "create or update a federated bundle" },
	{ "server bundle delete", cli_server_bundle_delete,
	    "delete a federated bundle" },
	{ "server bundle count", cli_server_bundle_count, "count bundles" },
	{ "server x509 mint", cli_server_x509_mint, "mint an X509-SVID" },
	{ "server jwt mint", cli_server_jwt_mint, "mint a JWT-SVID" },
	{ "agent api fetch", cli_agent_api_fetch_x509,
	    "fetch X509-SVIDs from the Workload API" },
	{ "agent api fetch x509", cli_agent_api_fetch_x509,
	    "fetch X509-SVIDs from the Workload API" },
	{ "agent api fetch jwt", cli_agent_api_fetch_jwt,
	    "fetch a JWT-SVID from the Workload API" },
	{ "agent api validate jwt", cli_agent_api_validate_jwt,
	    "validate a JWT-SVID" },
	{ "agent api watch", cli_agent_api_watch,
	    "print Workload API updates as they come" },
	{ "tpm provision", cli_tpm_provision,
	    "create a DevID key in the TPM, its CSR and a lab certificate" },
	{ "version", cli_version_cmd, "print the version" },
	{ "server version", cli_version_cmd, "print the version" },
	{ "agent version", cli_version_cmd, "print the version" },
	{ "help", cmd_help, "show this help" },
};

#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

void
cli_usage(FILE *f)
{
	size_t	 i;

	fprintf(f, "Usage: spirelet <command> [flags]\n\nCommands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "    %-20s %s\n", commands[i].words,
		    commands[i].synopsis);
	fprintf(f, "\nRun \"spirelet <command> -h\" for a command's flags.\n");
}

/* 1 when argv[0..argc) begins with every word of words. */
static int
cli_words_match(const char *words, int argc, char *argv[])
{
	const char	*w = words, *sp;
	size_t		 len;
	int		 i;

	for (i = 0; *w != '\0'; i++) {
		sp = strchr(w, ' ');
		len = sp != NULL ? (size_t)(sp - w) : strlen(w);
		if (i >= argc || strlen(argv[i]) != len ||
		    strncmp(argv[i], w, len) != 0)
			return 0;
		w += len;
		if (*w == ' ')
			w++;
	}
	return i;
}

static const struct command *
cli_find(int argc, char *argv[], int *nwords)
{
	const struct command	*best = NULL;
	size_t			 i;
	int			 n, bestn = 0;

	for (i = 0; i < NCOMMANDS; i++) {
		n = cli_words_match(commands[i].words, argc, argv);
		if (n > bestn) {
			best = &commands[i];
			bestn = n;
		}
	}
	*nwords = bestn;
	return best;
}

static int
cmd_help(int argc, char *argv[])
{
	cli_usage(stdout);
	return 0;
}

int
cli_version_cmd(int argc, char *argv[])
{
	return cmd_version(argc, argv);
}

static int
cmd_version(int argc, char *argv[])
{
	if (argc > 1) {
		fprintf(stderr, "version takes no arguments\n");
		return 2;
	}
	printf("%s\n", PACKAGE_VERSION);
	return 0;
}

int
cli_main(int argc, char *argv[])
{
	const struct command	*c;
	int			 n;

	if (argc < 2) {
		cli_usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "-help") == 0 ||
	    strcmp(argv[1], "--help") == 0) {
		cli_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)
		return cmd_version(1, argv + 1);
	c = cli_find(argc - 1, argv + 1, &n);
	if (c == NULL) {
		fprintf(stderr, "spirelet: unknown command \"%s\"\n\n",
		    argv[1]);
		cli_usage(stderr);
		return 2;
	}
	/* The command sees its last word as argv[0], then its flags. */
	return c->fn(argc - n, argv + n);
}
