/* Subcommand dispatch. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int
cli_main(int argc, char *argv[])
{
	if (argc >= 2 && strcmp(argv[1], "version") == 0) {
		printf("%s\n", PACKAGE_VERSION);
		return 0;
	}
	fprintf(stderr, "usage: spirelet run|server|agent|validate|version\n");
	return 2;
}
