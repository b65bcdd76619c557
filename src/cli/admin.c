/* Shared parts of the operator commands. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/admin.h"
#include "cli/rpcclient.h"
#include "core/buf.h"
#include "core/mem.h"

static const char	*admin_spiffe_reason(enum spiffe_err);

const char *
admin_strerror(int e)
{
	static char	buf[128];

	/* Go's errno texts are glibc's with a lower-case first letter. */
	snprintf(buf, sizeof(buf), "%s", strerror(e));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && (buf[1] < 'A' || buf[1] > 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

int
admin_parse(struct admin_cmd *c, const struct flag *flags, int argc,
    char *argv[])
{
	enum output_format	 f;
	char			 cwd[SPIFFE_ID_MAX];
	int			 n;

	n = flags_parse_cmd(c->name, flags, argc - 1, argv + 1);
	if (n == FLAGS_HELP)
		return 0;
	if (n < 0)
		return 2;
	if (n != argc - 1) {
		fprintf(stderr, "unexpected argument: %s\n", argv[n + 1]);
		flags_usage(flags);
		return 2;
	}
	if (output_format_parse(c->output, &f) == -1) {
		fprintf(stderr, "invalid value \"%s\" for flag -output: bad "
		    "formatter flag: unknown format option: ", c->output);
		output_quote(stderr, c->output);
		fprintf(stderr, "\nUsage of %s:\n", c->name);
		flags_usage(flags);
		return 2;
	}
	c->format = f;
	if (c->socket == NULL || *c->socket == '\0')
		return output_errorf("socket path is empty");
	/* Relative paths are taken from here, as filepath.Abs does. */
	if (c->socket[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return output_errorf("failed to get absolute path "
			    "for socket path: %s", admin_strerror(errno));
		n = snprintf(c->target, sizeof(c->target), "unix:%s/%s", cwd,
		    c->socket);
	} else
		n = snprintf(c->target, sizeof(c->target), "unix:%s",
		    c->socket);
	if (n < 0 || (size_t)n >= sizeof(c->target))
		return output_errorf("socket path is too long");
	return -1;
}

int
admin_call(const struct admin_cmd *c, const char *path,
    const struct rpc_md *md, size_t nmd, double timeout,
    const pb_msgdesc_t *req_fields, const void *req,
    const pb_msgdesc_t *resp_fields, void *resp, char *err, size_t errlen)
{
	struct cli_result	r;

	if (cli_unary_md(c->target, path, md, nmd, req_fields, req,
	    resp_fields, resp, timeout, &r) == -1) {
		output_rpc_error(err, errlen, GRPC_STATUS_UNAVAILABLE,
		    "the call could not be started");
		return -1;
	}
	if (r.code != GRPC_STATUS_OK) {
		output_rpc_error(err, errlen, (int)r.code, r.message);
		return -1;
	}
	return 0;
}

int
admin_list_pages(const struct admin_cmd *c, const char *path,
    const pb_msgdesc_t *req_fields, void *req, char **req_token,
    const pb_msgdesc_t *resp_fields, size_t resp_size, size_t token_off,
    void **pages, size_t *npages, char *err, size_t errlen)
{
	char	*token = NULL, *page;
	void	*np;

	for (;;) {
		if (*npages >= CLI_PAGES_MAX)
			return ADMIN_LIST_TOO_MANY;
		np = mem_reallocarray(*pages, *npages + 1, resp_size);
		if (np == NULL)
			return ADMIN_LIST_NOMEM;
		*pages = np;
		page = (char *)np + *npages * resp_size;
		memset(page, 0, resp_size);
		*req_token = token != NULL ? token : "";
		if (admin_call(c, path, NULL, 0, CLI_ADMIN_TIMEOUT_SEC,
		    req_fields, req, resp_fields, page, err, errlen) == -1)
			return ADMIN_LIST_CALL;
		memcpy(&token, page + token_off, sizeof(token));
		(*npages)++;
		if (token == NULL || *token == '\0')
			return 0;
	}
}

/* go-spiffe's wording for each rule. */
static const char *
admin_spiffe_reason(enum spiffe_err e)
{
	switch (e) {
	case SPIFFE_ERR_EMPTY:
		return "cannot be empty";
	case SPIFFE_ERR_SCHEME:
		return "scheme is missing or invalid";
	case SPIFFE_ERR_TD_MISSING:
		return "trust domain is missing";
	case SPIFFE_ERR_TD_UPPER:
	case SPIFFE_ERR_TD_PORT:
	case SPIFFE_ERR_TD_USERINFO:
	case SPIFFE_ERR_TD_PERCENT:
	case SPIFFE_ERR_TD_CHAR:
	case SPIFFE_ERR_QUERY:
	case SPIFFE_ERR_FRAGMENT:
		return "trust domain characters are limited to lowercase "
		    "letters, numbers, dots, dashes, and underscores";
	case SPIFFE_ERR_PATH_NO_SLASH:
		return "path must have a leading slash";
	case SPIFFE_ERR_PATH_EMPTY_SEGMENT:
		return "path cannot contain empty segments";
	case SPIFFE_ERR_PATH_DOT_SEGMENT:
		return "path cannot contain dot segments";
	case SPIFFE_ERR_PATH_TRAILING_SLASH:
		return "path cannot have a trailing slash";
	case SPIFFE_ERR_PATH_PERCENT:
	case SPIFFE_ERR_PATH_CHAR:
		return "path segment characters are limited to letters, "
		    "numbers, dots, dashes, and underscores";
	default:
		return spiffe_strerror(e);
	}
}

void *
admin_pool_alloc(struct admin_pool *p, size_t n, size_t size)
{
	void	**nv, *m;

	nv = mem_reallocarray(p->v, p->n + 1, sizeof(*nv));
	if (nv == NULL)
		return NULL;
	p->v = nv;
	m = mem_calloc(n > 0 ? n : 1, size > 0 ? size : 1);
	if (m == NULL)
		return NULL;
	p->v[p->n++] = m;
	return m;
}

char *
admin_pool_strdup(struct admin_pool *p, const char *s)
{
	char	*d;
	size_t	 n = strlen(s);

	d = admin_pool_alloc(p, n + 1, 1);
	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

void
admin_pool_free(struct admin_pool *p)
{
	size_t	i;

	for (i = 0; i < p->n; i++)
		mem_free(p->v[i]);
	mem_free(p->v);
	p->v = NULL;
	p->n = 0;
}

int
admin_spiffe_check(const char *s, struct spiffe_id *out, char *err,
    size_t errlen)
{
	enum spiffe_err	e;

	memset(out, 0, sizeof(*out));
	/* go-spiffe wants the scheme in lower case, exactly. */
	if (*s != '\0' && strncmp(s, SPIFFE_SCHEME, SPIFFE_SCHEME_LEN) != 0)
		e = SPIFFE_ERR_SCHEME;
	else
		e = spiffe_id_parse(s, strlen(s), out);
	if (e != SPIFFE_OK) {
		snprintf(err, errlen, "%s", admin_spiffe_reason(e));
		return -1;
	}
	return 0;
}

int
admin_id_parse(struct admin_pool *p, const char *s,
    spire_api_types_SPIFFEID *out, char *err, size_t errlen)
{
	struct spiffe_id	id;

	memset(out, 0, sizeof(*out));
	if (admin_spiffe_check(s, &id, err, errlen) == -1)
		return -1;
	out->trust_domain = admin_pool_strdup(p, id.td.name);
	out->path = admin_pool_strdup(p, id.path);
	if (out->trust_domain == NULL || out->path == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int
admin_selector_parse(struct admin_pool *p, const char *s,
    spire_api_types_Selector *out, char *err, size_t errlen)
{
	const char	*colon = strchr(s, ':');
	char		*b;

	if (colon == NULL) {
		snprintf(err, errlen, "selector \"%s\" must be formatted as "
		    "type:value", s);
		return -1;
	}
	b = admin_pool_strdup(p, s);
	if (b == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	b[colon - s] = '\0';
	out->type = b;
	out->value = b + (colon - s) + 1;
	return 0;
}

int
admin_selectors_parse(struct admin_pool *p, const char *const *strs,
    size_t n, spire_api_types_Selector **out, char *err, size_t errlen)
{
	size_t	i;

	*out = admin_pool_alloc(p, n, sizeof(**out));
	if (*out == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (admin_selector_parse(p, strs[i], &(*out)[i], err,
		    errlen) == -1)
			return -1;
	}
	return 0;
}

int
admin_match_parse(const char *s)
{
	/* MATCH_EXACT 0, MATCH_SUBSET 1, MATCH_SUPERSET 2, MATCH_ANY 3. */
	if (strcmp(s, "exact") == 0)
		return 0;
	if (strcmp(s, "subset") == 0)
		return 1;
	if (strcmp(s, "superset") == 0)
		return 2;
	if (strcmp(s, "any") == 0)
		return 3;
	return -1;
}

int
admin_tristate(const char *s)
{
	if (s != NULL && strcmp(s, "true") == 0)
		return 2;
	if (s != NULL && strcmp(s, "false") == 0)
		return 1;
	return 0;
}

int
admin_read_file(const char *path, char **out, size_t *len, char *err,
    size_t errlen)
{
	struct buf	 b;
	FILE		*f;
	char		 chunk[8192];
	size_t		 n;
	int		 rc = -1;

	*out = NULL;
	*len = 0;
	if (path == NULL || strcmp(path, "-") == 0)
		f = stdin;
	else
		f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(err, errlen, "open %s: %s", path,
		    admin_strerror(errno));
		return -1;
	}
	buf_init(&b, CLI_FILE_MAX + 1);
	for (;;) {
		n = fread(chunk, 1, sizeof(chunk), f);
		if (n > 0 && buf_append(&b, chunk, n) == -1) {
			snprintf(err, errlen, "%s: over %d bytes",
			    path != NULL ? path : "stdin", CLI_FILE_MAX);
			goto out;
		}
		if (n < sizeof(chunk))
			break;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "read %s: %s",
		    path != NULL ? path : "stdin", admin_strerror(errno));
		goto out;
	}
	if (buf_append(&b, "", 1) == -1) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	*out = (char *)buf_take(&b, len);
	(*len)--;
	rc = 0;
out:
	buf_cleanup(&b);
	if (f != stdin)
		fclose(f);
	return rc;
}

void
admin_id_string(const spire_api_types_SPIFFEID *id, char *buf, size_t size)
{
	snprintf(buf, size, "spiffe://%s%s",
	    id->trust_domain != NULL ? id->trust_domain : "",
	    id->path != NULL ? id->path : "");
}

/*
 * dir/name, as filepath.Join writes it for the usual cases: no "./"
 * in front, one slash between. 0 or -1 when it does not fit.
 */
int
admin_path_join(char *buf, size_t size, const char *dir, const char *name)
{
	size_t	n;
	int	rc;

	while (strncmp(dir, "./", 2) == 0 && dir[2] != '\0')
		dir += 2;
	n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (name == NULL || (n == 1 && dir[0] == '.'))
		rc = snprintf(buf, size, "%s", name != NULL ? name : dir);
	else if (n == 1 && dir[0] == '/')
		rc = snprintf(buf, size, "/%s", name);
	else
		rc = snprintf(buf, size, "%.*s/%s", (int)n, dir, name);
	return rc < 0 || (size_t)rc >= size ? -1 : 0;
}

/* Creates or truncates path with mode (as diskutil's write) and fills it. */
int
admin_write_file(const char *path, const void *data, size_t len, mode_t mode,
    char *err, size_t errlen)
{
	const char	*p = data;
	ssize_t		 n;
	int		 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd == -1) {
		snprintf(err, errlen, "open %s: %s", path,
		    admin_strerror(errno));
		return -1;
	}
	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "write %s: %s", path,
			    admin_strerror(errno));
			close(fd);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) == -1) {
		snprintf(err, errlen, "close %s: %s", path,
		    admin_strerror(errno));
		return -1;
	}
	return 0;
}
