/* Kernel randomness. */
#include "config.h"

#include <errno.h>
#include <sys/random.h>

#include "core/log.h"
#include "hal/rand.h"

int
rand_bytes(void *buf, size_t len)
{
	unsigned char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = getrandom(p, len, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			log_warn("hal", "getrandom");
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
