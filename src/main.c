/* spirelet: SPIFFE workload identity for the edge. */
#include "config.h"

#include <jansson.h>

#include "cli/cli.h"
#include "core/mem.h"

int
main(int argc, char *argv[])
{
	/* JSON goes through the same allocator as everything else. */
	json_set_alloc_funcs(mem_alloc, mem_free);
	return cli_main(argc, argv);
}
