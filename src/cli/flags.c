/* Go-style command-line flags. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/flags.h"
#include "core/mem.h"

static const struct flag *flags_find(const struct flag *, const char *,
		    size_t);
static int	flags_set(const struct flag *, const char *);

static const struct flag *
flags_find(const struct flag *t, const char *name, size_t len)
{
	for (; t->name != NULL; t++) {
		if (strlen(t->name) == len && strncmp(t->name, name, len) == 0)
			return t;
	}
	return NULL;
}

static int
flags_set(const struct flag *f, const char *v)
{
	struct flag_list	*l;
	const char		**nv;
	char			*end;
	long			 n;

	switch (f->type) {
	case FLAG_STRING:
		*(const char **)f->dest = v;
		return 0;
	case FLAG_BOOL:
		if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
			*(int *)f->dest = 1;
		else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
			*(int *)f->dest = 0;
		else
			return -1;
		return 0;
	case FLAG_INT:
		errno = 0;
		n = strtol(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0')
			return -1;
		*(long *)f->dest = n;
		return 0;
	case FLAG_LIST:
		l = f->dest;
		nv = mem_reallocarray(l->v, (size_t)l->n + 1, sizeof(*nv));
		if (nv == NULL)
			return -1;
		nv[l->n++] = v;
		l->v = nv;
		return 0;
	}
	return -1;
}

void
flags_usage(const struct flag *t)
{
	const char	*kind;

	for (; t->name != NULL; t++) {
		/* The words Go's flag package prints for each kind. */
		switch (t->type) {
		case FLAG_STRING:
			kind = " string";
			break;
		case FLAG_INT:
			kind = " int";
			break;
		case FLAG_LIST:
			kind = " value";
			break;
		default:
			kind = "";
			break;
		}
		fprintf(stderr, "  -%s%s\n    \t%s\n", t->name, kind, t->help);
	}
}

int
flags_parse(const struct flag *t, int argc, char *argv[])
{
	return flags_parse_cmd(NULL, t, argc, argv);
}

int
flags_parse_only(const struct flag *t, int argc, char *argv[])
{
	int	n;

	n = flags_parse(t, argc - 1, argv + 1);
	if (n == FLAGS_HELP)
		return 0;
	if (n < 0 || n != argc - 1)
		return 2;
	return -1;
}

int
flags_parse_cmd(const char *name, const struct flag *t, int argc,
    char *argv[])
{
	const struct flag	*f;
	const char		*a, *eq, *v;
	size_t			 nlen;
	int			 i;

	for (i = 0; i < argc; i++) {
		a = argv[i];
		if (a[0] != '-' || a[1] == '\0')
			break;
		a++;
		if (*a == '-') {
			a++;
			if (*a == '\0')
				return i + 1;
		}
		if (strcmp(a, "h") == 0 || strcmp(a, "help") == 0) {
			fprintf(stderr, "Usage of %s:\n",
			    name != NULL ? name : "the command");
			flags_usage(t);
			return FLAGS_HELP;
		}
		eq = strchr(a, '=');
		nlen = eq != NULL ? (size_t)(eq - a) : strlen(a);
		f = flags_find(t, a, nlen);
		if (f == NULL) {
			fprintf(stderr,
			    "flag provided but not defined: -%.*s\n",
			    (int)nlen, a);
			goto usage;
		}
		if (eq != NULL) {
			v = eq + 1;
		} else if (f->type == FLAG_BOOL) {
			v = "true";
		} else {
			if (i + 1 >= argc) {
				fprintf(stderr, "flag needs an argument: -%s\n",
				    f->name);
				goto usage;
			}
			v = argv[++i];
		}
		if (flags_set(f, v) == -1) {
			fprintf(stderr, "invalid value \"%s\" for flag -%s\n",
			    v, f->name);
			goto usage;
		}
	}
	return i;
usage:
	fprintf(stderr, "Usage of %s:\n", name != NULL ? name : "the command");
	flags_usage(t);
	return -1;
}

void
flags_free_list(struct flag_list *l)
{
	mem_free(l->v);
	l->v = NULL;
	l->n = 0;
}
