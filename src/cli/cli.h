/* The command line: subcommand dispatch, config loading, role start-up. */
#ifndef CLI_CLI_H
#define CLI_CLI_H

/* Runs the command in argv; returns the process exit status. */
int	cli_main(int, char *[]);

#endif
