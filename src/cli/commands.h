/*
 * The subcommands, one function each: argv[0] is the command's last word,
 * then its flags. Each returns the process exit status: 0, 1 for a
 * failure it logged or printed, 2 for a usage error.
 */
#ifndef CLI_COMMANDS_H
#define CLI_COMMANDS_H

#include <stdio.h>

int	cli_run_both(int, char *[]);
int	cli_run_server(int, char *[]);
int	cli_run_agent(int, char *[]);
int	cli_validate(int, char *[]);
int	cli_validate_server(int, char *[]);
int	cli_validate_agent(int, char *[]);
int	cli_healthcheck_server(int, char *[]);
int	cli_healthcheck_agent(int, char *[]);
int	cli_version_cmd(int, char *[]);
int	cli_tpm_provision(int, char *[]);

/* spire-server's admin commands (server_*.c). */
int	cli_server_entry_create(int, char *[]);
int	cli_server_entry_show(int, char *[]);
int	cli_server_entry_update(int, char *[]);
int	cli_server_entry_delete(int, char *[]);
int	cli_server_entry_count(int, char *[]);
int	cli_server_agent_list(int, char *[]);
int	cli_server_agent_show(int, char *[]);
int	cli_server_agent_evict(int, char *[]);
int	cli_server_agent_ban(int, char *[]);
int	cli_server_agent_count(int, char *[]);
int	cli_server_token_generate(int, char *[]);
int	cli_server_bundle_show(int, char *[]);
int	cli_server_bundle_list(int, char *[]);
int	cli_server_bundle_set(int, char *[]);
int	cli_server_bundle_delete(int, char *[]);
int	cli_server_bundle_count(int, char *[]);
int	cli_server_x509_mint(int, char *[]);
int	cli_server_jwt_mint(int, char *[]);

/* spire-agent's Workload API commands (agent_api.c). */
int	cli_agent_api_fetch_x509(int, char *[]);
int	cli_agent_api_fetch_jwt(int, char *[]);
int	cli_agent_api_validate_jwt(int, char *[]);
int	cli_agent_api_watch(int, char *[]);

/* The list of commands, to f. */
void	cli_usage(FILE *f);

#endif
