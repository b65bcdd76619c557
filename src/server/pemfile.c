/* Reading PEM files whole. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/mem.h"
#include "server/pemfile.h"

int
pemfile_read(const char *sub, const char *path, const char *label,
    struct pem_block **blocks, size_t *n)
{
	char		*buf;
	size_t		 len = 0;
	ssize_t		 r;
	int		 fd;
	enum pem_err	 e;

	*blocks = NULL;
	*n = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		log_warn(sub, "cannot open %s", path);
		return -1;
	}
	buf = mem_alloc(PEMFILE_MAX + 1);
	if (buf == NULL) {
		close(fd);
		return -1;
	}
	while ((r = read(fd, buf + len, PEMFILE_MAX + 1 - len)) > 0) {
		len += (size_t)r;
		if (len > PEMFILE_MAX)
			break;
	}
	close(fd);
	if (r == -1 || len > PEMFILE_MAX) {
		if (r == -1)
			log_warn(sub, "cannot read %s", path);
		else
			log_warnx(sub, "%s: over %d bytes", path, PEMFILE_MAX);
		mem_free_wipe(buf, PEMFILE_MAX + 1);
		return -1;
	}
	e = pem_decode(buf, len, label, blocks, n);
	mem_free_wipe(buf, PEMFILE_MAX + 1);
	if (e != PEM_OK) {
		log_warnx(sub, "%s: %s", path, pem_strerror(e));
		return -1;
	}
	return 0;
}
