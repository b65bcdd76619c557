/* libFuzzer target for spiffe/id: IDs come from peers and configs. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "spiffe/id.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct spiffe_id	 id, again;
	struct spiffe_td	 td;
	char			 buf[SPIFFE_ID_MAX + 1];
	size_t			 n;

	if (spiffe_id_parse((const char *)data, len, &id) == SPIFFE_OK) {
		/* What parses formats back and parses to the same ID. */
		if (spiffe_id_format(&id, buf, sizeof(buf)) != SPIFFE_OK)
			__builtin_trap();
		for (n = 0; buf[n] != '\0'; n++)
			;
		if (spiffe_id_parse(buf, n, &again) != SPIFFE_OK ||
		    !spiffe_id_equal(&id, &again))
			__builtin_trap();
	}
	(void)spiffe_td_parse((const char *)data, len, &td);
	(void)spiffe_path_check((const char *)data, len);
	return 0;
}
