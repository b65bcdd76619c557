/*
 * Replays the fuzz seed corpus through the fuzz target without clang or
 * libFuzzer, so every `make check` (sanitizers included) runs the
 * parser over it. Arguments are files or directories; without any, the
 * corpus directory given at build time.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/mem.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	replay_file(const char *);
static int	replay_path(const char *, unsigned long *);

/* Inputs bigger than this are not seeds; the parser caps at 1 MiB. */
#define REPLAY_INPUT_MAX	(2 * 1024 * 1024)

static int
replay_file(const char *path)
{
	FILE	*fp;
	uint8_t	*buf, *data;
	size_t	 n;

	fp = fopen(path, "rb");
	if (fp == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	buf = mem_alloc(REPLAY_INPUT_MAX);
	n = buf != NULL ? fread(buf, 1, REPLAY_INPUT_MAX, fp) : 0;
	fclose(fp);
	/* An exact-size copy, so a sanitizer sees any read past the end. */
	data = buf != NULL ? mem_alloc(n) : NULL;
	if (data == NULL) {
		mem_free(buf);
		fprintf(stderr, "replay: out of memory\n");
		return -1;
	}
	memcpy(data, buf, n);
	mem_free(buf);
	(void)LLVMFuzzerTestOneInput(data, n);
	mem_free(data);
	return 0;
}

static int
replay_path(const char *path, unsigned long *count)
{
	struct dirent	*de;
	struct stat	 st;
	char		 sub[4096];
	DIR		*d;
	int		 rc = 0;

	if (stat(path, &st) == -1) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return replay_file(path);
	}
	d = opendir(path);
	if (d == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		de = readdir(d);
		if (de == NULL)
			break;
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path,
		    de->d_name) >= sizeof(sub)) {
			rc = -1;
			continue;
		}
		if (replay_path(sub, count) == -1)
			rc = -1;
	}
	closedir(d);
	return rc;
}

int
main(int argc, char **argv)
{
	unsigned long	 count = 0;
	int		 i, rc = 0;

	if (argc < 2)
		rc = replay_path(FUZZ_CORPUS_DIR, &count);
	for (i = 1; i < argc; i++) {
		if (replay_path(argv[i], &count) == -1)
			rc = -1;
	}
	printf("replayed %lu inputs\n", count);
	if (count == 0)
		return 1;
	return rc == 0 ? 0 : 1;
}
