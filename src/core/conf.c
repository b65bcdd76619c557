/*
 * The option-table engine: loading a file, SPIRE's -expandEnv, applying
 * sorted option tables to HCL blocks, and the plugins block.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/conf.h"
#include "core/duration.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/mem.h"

/* Bytes read from a config file per read(2). */
#define READ_CHUNK	(64 * 1024)

struct conf {
	char		*file;
	struct hcl_doc	*doc;		/* NULL until parsed */
	char		*errs[CONFIG_ERRORS_MAX]; /* NULL: message lost */
	size_t		 nerrs;		/* all recorded, kept or not */
};

/* The fields of a plugin's body other than plugin_data's contents. */
struct plugin_body {
	bool			 enabled;
	const char		*checksum;
	const char		*cmd;
	const struct hcl_item	*data;
	const char		*data_file;
};

static struct conf *conf_new(const char *);
static void	conf_take_text(struct conf *, const char *, size_t,
		    bool);
static int	read_file(struct conf *, const char *, struct buf *);
static const char *env_getenv(const char *, void *);
static int	is_shell_special(int);
static int	is_shell_name(int);
static int	table_verify(const struct conf_table *, unsigned, char *,
		    size_t);
static void	table_print(const struct conf_table *, const char *,
		    FILE *);
static void	set_defaults(const struct conf_table *, void *);
static const struct conf_option *table_find(const struct conf_table *,
		    const char *);
static int	option_cmp(const void *, const void *);
static void	apply_item(struct conf *, const struct conf_table *,
		    const struct hcl_item *, unsigned *, void *);
static int	apply_value(struct conf *, const struct conf_option *,
		    const struct hcl_item *, void *);
static int	apply_int(struct conf *, const struct conf_option *,
		    const struct hcl_node *, int64_t *);
static int	apply_duration(struct conf *, const struct conf_option *,
		    const struct hcl_node *, int64_t *);
static int	apply_enum(struct conf *, const struct conf_option *,
		    const struct hcl_node *, int *);
static int	apply_strings(struct conf *, const struct conf_option *,
		    const struct hcl_node *, struct conf_strings *);
static const char *scalar_text(const struct hcl_node *);
static void	describe(const struct hcl_node *, char *, size_t);
static int	parse_int(const char *, int64_t *);
static int	add_plugin(struct conf *, struct conf_plugin *, size_t *,
		    const char *, const char *, unsigned,
		    const struct hcl_node *);

static const char *const type_names[] = {
	[CONF_STRING] = "string",
	[CONF_INT] = "int",
	[CONF_BOOL] = "bool",
	[CONF_DURATION] = "duration",
	[CONF_ENUM] = "enum",
	[CONF_STRINGS] = "strings",
	[CONF_BLOCK] = "block",
	[CONF_NODE] = "block",
};

/* What SPIRE's catalog reads in each `Kind "name" { ... }`. */
static const struct conf_option plugin_opts[] = {
	{ "enabled", CONF_OPT_BOOL(struct plugin_body, enabled), .def = 1,
	    .help = "false turns the plugin off" },
	{ "plugin_checksum", CONF_OPT_STRING(struct plugin_body, checksum),
	    .help = "sha256 of an external plugin binary" },
	{ "plugin_cmd", CONF_OPT_STRING(struct plugin_body, cmd),
	    .help = "path of an external plugin binary" },
	{ "plugin_data", CONF_OPT_NODE(struct plugin_body, data),
	    .help = "the plugin's own options" },
	{ "plugin_data_file", CONF_OPT_STRING(struct plugin_body, data_file),
	    .help = "file holding the plugin's own options" },
};
static const struct conf_table plugin_table =
    CONF_TABLE("plugin", plugin_opts);

static struct conf *
conf_new(const char *name)
{
	struct conf	*cfg;

	cfg = mem_calloc(1, sizeof(*cfg));
	if (cfg == NULL)
		return NULL;
	cfg->file = mem_strdup(name);
	if (cfg->file == NULL) {
		mem_free(cfg);
		return NULL;
	}
	return cfg;
}

void
conf_free(struct conf *cfg)
{
	size_t	 i;

	if (cfg == NULL)
		return;
	for (i = 0; i < CONFIG_ERRORS_MAX; i++)
		mem_free(cfg->errs[i]);
	hcl_doc_free(cfg->doc);
	mem_free(cfg->file);
	mem_free(cfg);
}

const struct hcl_node *
conf_root(const struct conf *cfg)
{
	return cfg->doc != NULL ? hcl_doc_root(cfg->doc) : NULL;
}

const char *
conf_file(const struct conf *cfg)
{
	return cfg->file;
}

struct conf *
conf_load_buffer(const char *name, const char *text, size_t len,
    bool expand_env)
{
	struct conf	*cfg;

	cfg = conf_new(name);
	if (cfg != NULL)
		conf_take_text(cfg, text, len, expand_env);
	return cfg;
}

struct conf *
conf_load_file(const char *path, bool expand_env)
{
	struct conf	*cfg;
	struct buf	 b;

	cfg = conf_new(path);
	if (cfg == NULL)
		return NULL;
	buf_init(&b, CONFIG_FILE_MAX + 1);
	if (read_file(cfg, path, &b) == 0)
		conf_take_text(cfg, (const char *)buf_ptr(&b), b.len,
		    expand_env);
	buf_cleanup(&b);
	return cfg;
}

/* Reads the file into b, recording why when it cannot. */
static int
read_file(struct conf *cfg, const char *path, struct buf *b)
{
	struct stat	 st;
	ssize_t		 n;
	size_t		 want;
	int		 fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		conf_error(cfg, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		conf_error(cfg, 0, "cannot stat: %s", strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		conf_error(cfg, 0, "is a directory, not a config file");
		goto out;
	}
	for (;;) {
		want = b->max - b->len;
		if (want == 0) {
			conf_error(cfg, 0, "file larger than %d bytes",
			    CONFIG_FILE_MAX);
			goto out;
		}
		if (want > READ_CHUNK)
			want = READ_CHUNK;
		if (buf_reserve(b, want) == -1) {
			conf_error(cfg, 0, "out of memory reading the file");
			goto out;
		}
		n = read(fd, buf_ptr(b) + b->len, want);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			conf_error(cfg, 0, "cannot read: %s",
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		buf_added(b, (size_t)n);
	}
	rc = 0;
out:
	(void)close(fd);
	return rc;
}

/* Expands (when asked) and parses text into cfg, recording failures. */
static void
conf_take_text(struct conf *cfg, const char *text, size_t len,
    bool expand_env)
{
	struct hcl_error	 err;
	enum hcl_status		 st;
	char			*expanded = NULL;

	if (expand_env) {
		if (conf_expand_env(text, len, NULL, NULL, &expanded,
		    &len) == -1) {
			if (errno == E2BIG)
				conf_error(cfg, 0, "larger than %d bytes "
				    "once environment variables are expanded",
				    CONFIG_FILE_MAX);
			else if (errno == ENAMETOOLONG)
				conf_error(cfg, 0, "environment variable "
				    "name longer than %d bytes",
				    CONFIG_ENV_NAME_MAX);
			else
				conf_error(cfg, 0, "out of memory expanding "
				    "environment variables");
			return;
		}
		text = expanded;
	}
	st = hcl_parse(text, len, &cfg->doc, &err);
	if (st != HCL_OK)
		conf_error(cfg, err.line, "%s", err.msg);
	mem_free(expanded);
}

void
conf_error(struct conf *cfg, unsigned line, const char *fmt, ...)
{
	char	 msg[CONFIG_ERROR_MSG_MAX];
	char	*s;
	size_t	 i, size;
	va_list	 ap;

	i = cfg->nerrs++;
	if (i >= CONFIG_ERRORS_MAX)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	size = strlen(cfg->file) + strlen(msg) + 16;
	s = mem_alloc(size);
	if (s == NULL)
		return;
	if (line > 0)
		(void)snprintf(s, size, "%s:%u: %s", cfg->file, line, msg);
	else
		(void)snprintf(s, size, "%s: %s", cfg->file, msg);
	cfg->errs[i] = s;
}

size_t
conf_error_count(const struct conf *cfg)
{
	return cfg->nerrs;
}

const char *
conf_error_at(const struct conf *cfg, size_t i)
{
	if (i >= cfg->nerrs || i >= CONFIG_ERRORS_MAX)
		return NULL;
	if (cfg->errs[i] == NULL)
		return "(error message lost: out of memory)";
	return cfg->errs[i];
}

void
conf_print_errors(const struct conf *cfg, FILE *fp)
{
	size_t	 i;

	for (i = 0; i < cfg->nerrs && i < CONFIG_ERRORS_MAX; i++)
		(void)fprintf(fp, "%s\n", conf_error_at(cfg, i));
	if (cfg->nerrs > CONFIG_ERRORS_MAX)
		(void)fprintf(fp, "%s: %zu more errors not shown\n",
		    cfg->file, cfg->nerrs - CONFIG_ERRORS_MAX);
}

static const char *
env_getenv(const char *name, void *arg)
{
	(void)arg;
	return getenv(name);
}

/* Go's isShellSpecialVar: $*, $#, $$, $@, $!, $?, $-, $0..$9. */
static int
is_shell_special(int c)
{
	return c == '*' || c == '#' || c == '$' || c == '@' || c == '!' ||
	    c == '?' || c == '-' || (c >= '0' && c <= '9');
}

static int
is_shell_name(int c)
{
	return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z');
}

int
conf_expand_env(const char *in, size_t len,
    const char *(*lookup)(const char *, void *), void *arg, char **outp,
    size_t *outlen)
{
	char		 name[CONFIG_ENV_NAME_MAX + 1];
	const char	*s, *nm, *val;
	struct buf	 b;
	size_t		 i, j, slen, nlen, w;
	int		 eat;

	*outp = NULL;
	*outlen = 0;
	if (lookup == NULL)
		lookup = env_getenv;
	buf_init(&b, CONFIG_FILE_MAX + 1);
	for (i = 0; i < len; i++) {
		if (in[i] != '$' || i + 1 >= len) {
			if (buf_append(&b, &in[i], 1) == -1)
				goto fail;
			continue;
		}
		/* Go's getShellName over what follows the '$'. */
		s = in + i + 1;
		slen = len - i - 1;
		nm = NULL;
		nlen = 0;
		eat = 0;
		if (s[0] == '{') {
			if (slen > 2 && is_shell_special((unsigned char)s[1]) &&
			    s[2] == '}') {
				nm = s + 1;
				nlen = 1;
				w = 3;
			} else {
				for (j = 1; j < slen && s[j] != '}'; j++)
					;
				if (j == slen) {
					eat = 1;	/* "${": dropped */
					w = 1;
				} else if (j == 1) {
					eat = 1;	/* "${}": dropped */
					w = 2;
				} else {
					nm = s + 1;
					nlen = j - 1;
					w = j + 1;
				}
			}
		} else if (is_shell_special((unsigned char)s[0])) {
			nm = s;
			nlen = 1;
			w = 1;
		} else {
			for (j = 0; j < slen &&
			    is_shell_name((unsigned char)s[j]); j++)
				;
			nm = s;
			nlen = j;
			w = j;
		}
		if (!eat && nlen == 0) {
			if (buf_append(&b, "$", 1) == -1)
				goto fail;
		} else if (!eat) {
			if (nlen > CONFIG_ENV_NAME_MAX) {
				buf_cleanup(&b);
				errno = ENAMETOOLONG;
				return -1;
			}
			memcpy(name, nm, nlen);
			name[nlen] = '\0';
			/* A NUL inside ${...} cannot name a variable. */
			val = strlen(name) == nlen ? lookup(name, arg) : NULL;
			if (val != NULL &&
			    buf_append(&b, val, strlen(val)) == -1)
				goto fail;
		}
		i += w;
	}
	if (b.len > CONFIG_FILE_MAX) {
		errno = E2BIG;
		goto fail;
	}
	if (buf_append(&b, "", 1) == -1)
		goto fail;
	*outlen = b.len - 1;
	*outp = (char *)buf_take(&b, &slen);
	return 0;
fail:
	if (errno != ENOMEM)
		errno = E2BIG;
	buf_cleanup(&b);
	return -1;
}

int
conf_table_verify(const struct conf_table *t, char *why, size_t len)
{
	return table_verify(t, 0, why, len);
}

static int
table_verify(const struct conf_table *t, unsigned depth, char *why,
    size_t len)
{
	const struct conf_option	*o;
	size_t				 i, k;

	if (depth > CONFIG_DEPTH_MAX) {
		(void)snprintf(why, len, "blocks nested too deep");
		return -1;
	}
	for (i = 0; i < t->n; i++) {
		o = &t->opts[i];
		if (o->name == NULL || o->name[0] == '\0') {
			(void)snprintf(why, len, "row %zu has no name", i);
			return -1;
		}
		if (i > 0 && strcasecmp(t->opts[i - 1].name, o->name) >= 0) {
			(void)snprintf(why, len, "\"%s\" must come after "
			    "\"%s\" (rows sorted, names unique)",
			    t->opts[i - 1].name, o->name);
			return -1;
		}
		if ((unsigned)o->type >=
		    sizeof(type_names) / sizeof(type_names[0])) {
			(void)snprintf(why, len, "\"%s\": bad type", o->name);
			return -1;
		}
		if ((o->flags & ~(unsigned)(CONF_REQUIRED | CONF_REPEAT))
		    != 0 || ((o->flags & CONF_REPEAT) &&
		    o->type != CONF_NODE)) {
			(void)snprintf(why, len, "\"%s\": bad flags", o->name);
			return -1;
		}
		if ((o->min != 0 || o->max != 0) && (o->min > o->max ||
		    (o->type != CONF_INT && o->type != CONF_DURATION))) {
			(void)snprintf(why, len, "\"%s\": bad bounds", o->name);
			return -1;
		}
		if (o->type == CONF_BOOL && o->def != 0 && o->def != 1) {
			(void)snprintf(why, len, "\"%s\": bool default is not "
			    "0 or 1", o->name);
			return -1;
		}
		if (o->type == CONF_ENUM) {
			for (k = 0; o->choices != NULL &&
			    o->choices[k] != NULL; k++)
				;
			if (k == 0 || o->def < 0 || (size_t)o->def >= k) {
				(void)snprintf(why, len, "\"%s\": enum needs "
				    "choices and a default among them",
				    o->name);
				return -1;
			}
		}
		if (o->type == CONF_BLOCK) {
			if (o->sub == NULL) {
				(void)snprintf(why, len, "\"%s\": block "
				    "without a table", o->name);
				return -1;
			}
			if (table_verify(o->sub, depth + 1, why, len) == -1)
				return -1;
		}
	}
	return 0;
}

void
conf_table_print(const struct conf_table *t, FILE *fp)
{
	table_print(t, "", fp);
}

static void
table_print(const struct conf_table *t, const char *prefix, FILE *fp)
{
	const struct conf_option	*o;
	char				 name[CONFIG_KEY_MAX];
	char				 def[DURATION_FMT_MAX + 16];
	size_t				 i;

	for (i = 0; i < t->n; i++) {
		o = &t->opts[i];
		(void)snprintf(name, sizeof(name), "%s%s", prefix, o->name);
		def[0] = '\0';
		switch (o->type) {
		case CONF_STRING:
			if (o->def_str != NULL)
				(void)snprintf(def, sizeof(def), "\"%s\"",
				    o->def_str);
			break;
		case CONF_INT:
			(void)snprintf(def, sizeof(def), "%lld",
			    (long long)o->def);
			break;
		case CONF_BOOL:
			(void)snprintf(def, sizeof(def), "%s",
			    o->def ? "true" : "false");
			break;
		case CONF_DURATION:
			(void)duration_format(o->def, def, sizeof(def));
			break;
		case CONF_ENUM:
			(void)snprintf(def, sizeof(def), "%s",
			    o->choices[o->def]);
			break;
		case CONF_BLOCK:
			(void)snprintf(name, sizeof(name), "%s%s.", prefix,
			    o->name);
			table_print(o->sub, name, fp);
			continue;
		case CONF_STRINGS:
		case CONF_NODE:
			break;
		}
		(void)fprintf(fp, "%-40s %-8s %-10s %s%s\n", name,
		    type_names[o->type], def[0] != '\0' ? def : "-",
		    o->flags & CONF_REQUIRED ? "(required) " : "",
		    o->help != NULL ? o->help : "");
	}
}

static void
set_defaults(const struct conf_table *t, void *dst)
{
	const struct conf_option	*o;
	char				*field;
	size_t				 i;

	for (i = 0; i < t->n; i++) {
		o = &t->opts[i];
		field = (char *)dst + o->offset;
		switch (o->type) {
		case CONF_STRING:
			memcpy(field, &o->def_str, sizeof(o->def_str));
			break;
		case CONF_INT:
		case CONF_DURATION:
			memcpy(field, &o->def, sizeof(o->def));
			break;
		case CONF_BOOL:
			*(bool *)(void *)field = o->def != 0;
			break;
		case CONF_ENUM:
			*(int *)(void *)field = (int)o->def;
			break;
		case CONF_STRINGS:
			memset(field, 0, sizeof(struct conf_strings));
			break;
		case CONF_BLOCK:
			set_defaults(o->sub, field);
			break;
		case CONF_NODE:
			memset(field, 0, sizeof(const struct hcl_item *));
			break;
		}
	}
}

static int
option_cmp(const void *key, const void *row)
{
	return strcasecmp(key, ((const struct conf_option *)row)->name);
}

/* hashicorp/hcl's decoder matches keys to fields ignoring case. */
static const struct conf_option *
table_find(const struct conf_table *t, const char *name)
{
	return bsearch(name, t->opts, t->n, sizeof(t->opts[0]), option_cmp);
}

int
conf_apply(struct conf *cfg, const struct conf_table *t,
    const struct hcl_node *obj, void *dst)
{
	const struct hcl_item	*it;
	char			 why[CONFIG_ERROR_MSG_MAX];
	unsigned		*seen = NULL;
	size_t			 before = cfg->nerrs, i;

	if (conf_table_verify(t, why, sizeof(why)) == -1)
		fatalx("config", "option table %s: %s", t->name, why);
	set_defaults(t, dst);
	if (obj != NULL && obj->kind != HCL_OBJECT) {
		describe(obj, why, sizeof(why));
		conf_error(cfg, obj->line, "%s must be a block, found %s",
		    t->name, why);
		return -1;
	}
	if (obj != NULL && obj->count > 0) {
		seen = mem_calloc(t->n, sizeof(*seen));
		if (seen == NULL) {
			conf_error(cfg, obj->line, "out of memory");
			return -1;
		}
		for (it = obj->items; it != NULL; it = it->next)
			apply_item(cfg, t, it, seen, dst);
	}
	for (i = 0; i < t->n; i++) {
		if ((t->opts[i].flags & CONF_REQUIRED) &&
		    (seen == NULL || seen[i] == 0))
			conf_error(cfg, obj != NULL ? obj->line : 0,
			    "missing required option \"%s\" in %s",
			    t->opts[i].name, t->name);
	}
	mem_free(seen);
	return cfg->nerrs == before ? 0 : -1;
}

static void
apply_item(struct conf *cfg, const struct conf_table *t,
    const struct hcl_item *it, unsigned *seen, void *dst)
{
	const struct conf_option	*o;
	char				 why[CONFIG_ERROR_MSG_MAX];
	char				*field;
	size_t				 i;

	o = table_find(t, it->key);
	if (o == NULL) {
		conf_error(cfg, it->line, "unknown option \"%s\" in %s",
		    it->key, t->name);
		return;
	}
	i = (size_t)(o - t->opts);
	if (seen[i] != 0 && !(o->flags & CONF_REPEAT)) {
		conf_error(cfg, it->line, "option \"%s\" is set more than "
		    "once in %s (first at line %u)", o->name, t->name,
		    seen[i]);
		return;
	}
	if (seen[i] != 0)
		return;		/* a repeat: reached from the first */
	seen[i] = it->line;
	if (it->nlabels > 0 && o->type != CONF_NODE) {
		conf_error(cfg, it->line, "option \"%s\" takes no label, "
		    "found \"%s\"", o->name, it->labels[0]);
		return;
	}
	field = (char *)dst + o->offset;
	if (apply_value(cfg, o, it, field) == -1 || o->check == NULL)
		return;
	why[0] = '\0';
	if (o->check(field, why, sizeof(why)) == -1)
		conf_error(cfg, it->value->line, "option \"%s\": %s",
		    o->name, why[0] != '\0' ? why : "invalid value");
}

static int
apply_value(struct conf *cfg, const struct conf_option *o,
    const struct hcl_item *it, void *field)
{
	const struct hcl_node	*v = it->value;
	const char		*s;
	char			 desc[CONFIG_ERROR_MSG_MAX / 2];

	switch (o->type) {
	case CONF_STRING:
		s = scalar_text(v);
		if (s == NULL)
			break;
		memcpy(field, &s, sizeof(s));
		return 0;
	case CONF_INT:
		return apply_int(cfg, o, v, field);
	case CONF_BOOL:
		/* hashicorp/hcl: true, false, 1, 0, quoted or not. */
		if (v->kind != HCL_BOOL && v->kind != HCL_STRING &&
		    v->kind != HCL_NUMBER)
			break;
		if (strcasecmp(v->text, "true") == 0 ||
		    strcmp(v->text, "1") == 0)
			*(bool *)field = true;
		else if (strcasecmp(v->text, "false") == 0 ||
		    strcmp(v->text, "0") == 0)
			*(bool *)field = false;
		else
			break;
		return 0;
	case CONF_DURATION:
		return apply_duration(cfg, o, v, field);
	case CONF_ENUM:
		return apply_enum(cfg, o, v, field);
	case CONF_STRINGS:
		return apply_strings(cfg, o, v, field);
	case CONF_BLOCK:
		if (v->kind != HCL_OBJECT)
			break;
		return conf_apply(cfg, o->sub, v, field);
	case CONF_NODE:
		memcpy(field, &it, sizeof(it));
		return 0;
	}
	describe(v, desc, sizeof(desc));
	conf_error(cfg, v->line, "option \"%s\": expected %s, found %s",
	    o->name, o->type == CONF_BOOL ? "true or false" :
	    o->type == CONF_BLOCK ? "a block" : "a string", desc);
	return -1;
}

static int
apply_int(struct conf *cfg, const struct conf_option *o,
    const struct hcl_node *v, int64_t *field)
{
	char	 desc[CONFIG_ERROR_MSG_MAX / 2];
	int64_t	 n;
	int	 rc = -1;

	/* SPIRE's configs quote ports: bind_port = "8081". */
	if (v->kind == HCL_NUMBER || v->kind == HCL_STRING)
		rc = parse_int(v->text, &n);
	if (rc == -2) {
		conf_error(cfg, v->line, "option \"%s\": %s does not fit "
		    "in 64 bits", o->name, v->text);
		return -1;
	}
	if (rc == -1) {
		describe(v, desc, sizeof(desc));
		conf_error(cfg, v->line, "option \"%s\": expected an "
		    "integer, found %s", o->name, desc);
		return -1;
	}
	if ((o->min != 0 || o->max != 0) && (n < o->min || n > o->max)) {
		if (o->max == INT64_MAX)
			conf_error(cfg, v->line, "option \"%s\": %lld is "
			    "below the minimum %lld", o->name, (long long)n,
			    (long long)o->min);
		else
			conf_error(cfg, v->line, "option \"%s\": %lld is "
			    "out of range %lld..%lld", o->name, (long long)n,
			    (long long)o->min, (long long)o->max);
		return -1;
	}
	*field = n;
	return 0;
}

static int
apply_duration(struct conf *cfg, const struct conf_option *o,
    const struct hcl_node *v, int64_t *field)
{
	enum duration_status	 st;
	char			 desc[CONFIG_ERROR_MSG_MAX / 2];
	char			 a[DURATION_FMT_MAX], b[DURATION_FMT_MAX];
	char			 c[DURATION_FMT_MAX];
	const char		*s;
	int64_t			 ms;

	s = scalar_text(v);
	if (s == NULL || v->kind == HCL_HEREDOC) {
		describe(v, desc, sizeof(desc));
		conf_error(cfg, v->line, "option \"%s\": expected a "
		    "duration such as \"1h30m\", found %s", o->name, desc);
		return -1;
	}
	st = duration_parse(s, &ms);
	if (st != DURATION_OK) {
		conf_error(cfg, v->line, "option \"%s\": invalid duration "
		    "\"%.64s\": %s", o->name, s, duration_strerror(st));
		return -1;
	}
	if ((o->min != 0 || o->max != 0) && (ms < o->min || ms > o->max)) {
		(void)duration_format(ms, a, sizeof(a));
		(void)duration_format(o->min, b, sizeof(b));
		(void)duration_format(o->max, c, sizeof(c));
		if (o->max == INT64_MAX)
			conf_error(cfg, v->line, "option \"%s\": %s is "
			    "below the minimum %s", o->name, a, b);
		else
			conf_error(cfg, v->line, "option \"%s\": %s is "
			    "out of range %s..%s", o->name, a, b, c);
		return -1;
	}
	*field = ms;
	return 0;
}

static int
apply_enum(struct conf *cfg, const struct conf_option *o,
    const struct hcl_node *v, int *field)
{
	char		 desc[CONFIG_ERROR_MSG_MAX / 2];
	char		 list[CONFIG_ERROR_MSG_MAX / 2];
	const char	*s;
	size_t		 k, used = 0;

	s = scalar_text(v);
	for (k = 0; s != NULL && o->choices[k] != NULL; k++) {
		if (strcasecmp(s, o->choices[k]) == 0) {
			*field = (int)k;
			return 0;
		}
	}
	list[0] = '\0';
	for (k = 0; o->choices[k] != NULL && used < sizeof(list); k++)
		used += (size_t)snprintf(list + used, sizeof(list) - used,
		    "%s%s", k > 0 ? ", " : "", o->choices[k]);
	describe(v, desc, sizeof(desc));
	conf_error(cfg, v->line, "option \"%s\": expected one of %s, "
	    "found %s", o->name, list, desc);
	return -1;
}

static int
apply_strings(struct conf *cfg, const struct conf_option *o,
    const struct hcl_node *v, struct conf_strings *field)
{
	const struct hcl_node	*e;
	const char		**arr;
	char			 desc[CONFIG_ERROR_MSG_MAX / 2];
	size_t			 i;
	int			 rc = 0;

	if (v->kind != HCL_LIST) {
		describe(v, desc, sizeof(desc));
		conf_error(cfg, v->line, "option \"%s\": expected a list "
		    "of strings such as [\"a\", \"b\"], found %s", o->name,
		    desc);
		return -1;
	}
	if (v->count == 0)
		return 0;
	arr = hcl_doc_alloc(cfg->doc, v->count * sizeof(*arr));
	if (arr == NULL) {
		conf_error(cfg, v->line, "out of memory");
		return -1;
	}
	for (i = 0, e = v->elems; e != NULL; i++, e = e->next) {
		arr[i] = scalar_text(e);
		if (arr[i] == NULL) {
			describe(e, desc, sizeof(desc));
			conf_error(cfg, e->line, "option \"%s\": element %zu "
			    "should be a string, found %s", o->name, i + 1,
			    desc);
			rc = -1;
		}
	}
	if (rc == 0) {
		field->v = arr;
		field->n = v->count;
	}
	return rc;
}

/* hashicorp/hcl decodes any scalar into a string field. */
static const char *
scalar_text(const struct hcl_node *v)
{
	if (v->kind == HCL_OBJECT || v->kind == HCL_LIST)
		return NULL;
	return v->text;
}

static void
describe(const struct hcl_node *v, char *buf, size_t size)
{
	switch (v->kind) {
	case HCL_OBJECT:
		(void)snprintf(buf, size, "a block");
		break;
	case HCL_LIST:
		(void)snprintf(buf, size, "a list");
		break;
	case HCL_STRING:
		(void)snprintf(buf, size, "string \"%.64s%s\"", v->text,
		    v->len > 64 ? "..." : "");
		break;
	case HCL_HEREDOC:
		(void)snprintf(buf, size, "a heredoc");
		break;
	case HCL_NUMBER:
	case HCL_FLOAT:
		(void)snprintf(buf, size, "number %.64s", v->text);
		break;
	case HCL_BOOL:
		(void)snprintf(buf, size, "%s", v->text);
		break;
	}
}

/*
 * Go's strconv.ParseInt(s, 0, 64), which hashicorp/hcl uses for ints
 * quoted or not: a sign, then 0x hex, 0o or a leading 0 octal, 0b
 * binary, or decimal. Go's '_' digit separators are not taken. 0, -1 on
 * syntax, -2 when it does not fit.
 */
static int
parse_int(const char *s, int64_t *out)
{
	uint64_t	 acc = 0, limit;
	unsigned	 base = 10;
	int		 neg = 0, d;

	if (*s == '+' || *s == '-') {
		neg = *s == '-';
		s++;
	}
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	} else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
		base = 8;
		s += 2;
	} else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
		base = 2;
		s += 2;
	} else if (s[0] == '0' && s[1] != '\0') {
		base = 8;
		s++;
	}
	if (*s == '\0')
		return -1;
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *s != '\0'; s++) {
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return -1;
		if ((unsigned)d >= base)
			return -1;
		if (acc > (limit - (unsigned)d) / base)
			return -2;
		acc = acc * base + (unsigned)d;
	}
	if (neg)
		*out = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN :
		    -(int64_t)acc;
	else
		*out = (int64_t)acc;
	return 0;
}

int
conf_plugins(struct conf *cfg, const struct hcl_node *obj,
    struct conf_plugin **out, size_t *n)
{
	const struct hcl_item	*it, *sub;
	struct conf_plugin	*arr;
	char			 desc[CONFIG_ERROR_MSG_MAX / 2];
	size_t			 before = cfg->nerrs, max = 0, k = 0;

	*out = NULL;
	*n = 0;
	if (obj == NULL)
		return 0;
	if (obj->kind != HCL_OBJECT) {
		describe(obj, desc, sizeof(desc));
		conf_error(cfg, obj->line, "plugins must be a block, found "
		    "%s", desc);
		return -1;
	}
	for (it = obj->items; it != NULL; it = it->next)
		max += it->nlabels == 0 && it->value->kind == HCL_OBJECT ?
		    it->value->count : 1;
	if (max == 0)
		return 0;
	arr = hcl_doc_alloc(cfg->doc, max * sizeof(*arr));
	if (arr == NULL) {
		conf_error(cfg, obj->line, "out of memory");
		return -1;
	}
	for (it = obj->items; it != NULL; it = it->next) {
		if (it->nlabels == 1) {
			(void)add_plugin(cfg, arr, &k, it->key,
			    it->labels[0], it->line, it->value);
		} else if (it->nlabels > 1) {
			conf_error(cfg, it->line, "plugin %s \"%s\" has "
			    "more than one name", it->key, it->labels[0]);
		} else if (it->value->kind == HCL_OBJECT) {
			/* Kind { name { ... } }: the same to hashicorp/hcl. */
			for (sub = it->value->items; sub != NULL;
			    sub = sub->next) {
				if (sub->nlabels > 0)
					conf_error(cfg, sub->line, "plugin "
					    "%s \"%s\" has more than one "
					    "name", it->key, sub->key);
				else
					(void)add_plugin(cfg, arr, &k,
					    it->key, sub->key, sub->line,
					    sub->value);
			}
		} else {
			conf_error(cfg, it->line, "expected a plugin such "
			    "as %s \"name\" { ... } in plugins", it->key);
		}
	}
	*out = k > 0 ? arr : NULL;
	*n = k;
	return cfg->nerrs == before ? 0 : -1;
}

static int
add_plugin(struct conf *cfg, struct conf_plugin *arr, size_t *k,
    const char *kind, const char *name, unsigned line,
    const struct hcl_node *body)
{
	struct conf_plugin	*p;
	struct plugin_body	 b;
	char			 what[2 * CONFIG_KEY_MAX + 16];
	char			 desc[CONFIG_ERROR_MSG_MAX / 2];
	struct conf_table	 t = plugin_table;
	size_t			 i;
	int			 rc = 0;

	for (i = 0; i < *k; i++) {
		if (strcmp(arr[i].kind, kind) == 0 &&
		    strcmp(arr[i].name, name) == 0) {
			conf_error(cfg, line, "plugin %s \"%s\" is "
			    "declared more than once (first at line %u)",
			    kind, name, arr[i].line);
			return -1;
		}
	}
	if (body->kind != HCL_OBJECT) {
		describe(body, desc, sizeof(desc));
		conf_error(cfg, line, "plugin %s \"%s\" must be a block, "
		    "found %s", kind, name, desc);
		return -1;
	}
	(void)snprintf(what, sizeof(what), "plugin %s \"%s\"", kind, name);
	t.name = what;
	if (conf_apply(cfg, &t, body, &b) == -1)
		rc = -1;
	p = &arr[(*k)++];
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->name = name;
	p->line = line;
	p->enabled = b.enabled;
	p->cmd = b.cmd;
	p->checksum = b.checksum;
	p->data_file = b.data_file;
	if (b.data != NULL && (b.data->nlabels > 0 ||
	    b.data->value->kind != HCL_OBJECT)) {
		describe(b.data->value, desc, sizeof(desc));
		conf_error(cfg, b.data->line, "plugin_data of %s must be "
		    "a block such as plugin_data { ... }, found %s", what,
		    b.data->nlabels > 0 ? "a label" : desc);
		rc = -1;
	} else if (b.data != NULL) {
		p->data = b.data->value;
	}
	if (b.data != NULL && b.data_file != NULL) {
		conf_error(cfg, b.data->line, "%s: plugin_data and "
		    "plugin_data_file exclude each other", what);
		rc = -1;
	}
	return rc;
}
