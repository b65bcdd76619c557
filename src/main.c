/* spirelet: SPIFFE workload identity for the edge. */
#include "config.h"

#include "cli/cli.h"

int
main(int argc, char *argv[])
{
	return cli_main(argc, argv);
}
