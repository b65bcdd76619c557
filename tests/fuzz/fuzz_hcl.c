/*
 * libFuzzer target for the config path: the HCL parser, the option
 * engine over every option type, the plugins block, durations and the
 * -expandEnv pass, all on the same input. Built with clang by
 * tests/fuzz/run.sh (or configure --enable-fuzzers); replayed over the
 * seed corpus in every `make check` by tests/fuzz/replay.c.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/conf.h"
#include "core/duration.h"
#include "core/hcl.h"
#include "core/mem.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	check_nonempty(const void *, char *, size_t);
static const char *fake_env(const char *, void *);
static void	walk(const struct hcl_node *, unsigned);
static void	exercise(struct conf *);

struct sub {
	struct conf_strings	 country;
	int64_t			 interval;
	int64_t			 min_only;
	const char		*name;
};

struct opts {
	struct conf_strings	 ids;
	bool			 flag;
	const char		*addr;
	int64_t			 port;
	struct sub		 sub;
	int64_t			 ttl;
	const struct hcl_item	*fed;
	int			 level;
	const struct hcl_item	*plugins;
};

static const char *const levels[] = { "debug", "info", "warn", "error",
    NULL };

static int
check_nonempty(const void *field, char *why, size_t len)
{
	if ((*(const char *const *)field)[0] != '\0')
		return 0;
	(void)snprintf(why, len, "must not be empty");
	return -1;
}

static const struct conf_option sub_opts[] = {
	{ "country", CONF_OPT_STRINGS(struct sub, country) },
	{ "interval", CONF_OPT_DURATION(struct sub, interval), .min = 500,
	    .max = DURATION_HOURS(1) },
	{ "min_only", CONF_OPT_INT(struct sub, min_only), .min = -5,
	    .max = CONF_NO_MAX },
	{ "name", CONF_OPT_STRING(struct sub, name), .flags = CONF_REQUIRED,
	    .check = check_nonempty },
};
static const struct conf_table sub_table = CONF_TABLE("sub", sub_opts);

/* Every type, flag and bound the engine has, under SPIRE-like names. */
static const struct conf_option opts[] = {
	{ "admin_ids", CONF_OPT_STRINGS(struct opts, ids) },
	{ "audit_log_enabled", CONF_OPT_BOOL(struct opts, flag) },
	{ "bind_address", CONF_OPT_STRING(struct opts, addr),
	    .def_str = "0.0.0.0" },
	{ "bind_port", CONF_OPT_INT(struct opts, port), .def = 8081,
	    .min = 1, .max = 65535 },
	{ "ca_subject", CONF_OPT_BLOCK(struct opts, sub, &sub_table) },
	{ "ca_ttl", CONF_OPT_DURATION(struct opts, ttl), .min = 1000,
	    .max = CONF_NO_MAX },
	{ "federates_with", CONF_OPT_NODE(struct opts, fed),
	    .flags = CONF_REPEAT },
	{ "log_level", CONF_OPT_ENUM(struct opts, level, levels) },
	{ "plugins", CONF_OPT_NODE(struct opts, plugins) },
};
static const struct conf_table table = CONF_TABLE("fuzz", opts);

/* A fixed environment: some names set, one large enough to hit caps. */
static const char *
fake_env(const char *name, void *arg)
{
	static char	 big[4096];

	(void)arg;
	if (strcmp(name, "PORT") == 0)
		return "8081";
	if (strcmp(name, "BIG") == 0) {
		if (big[0] == '\0')
			memset(big, 'x', sizeof(big) - 1);
		return big;
	}
	if (name[0] == 'A')
		return "\"q\" { } [";
	return NULL;
}

/* Walks every value, feeding strings to the duration parser. */
static void
walk(const struct hcl_node *n, unsigned depth)
{
	const struct hcl_item	*it;
	const struct hcl_node	*e;
	char			 buf[DURATION_FMT_MAX];
	int64_t			 ms;

	if (depth > CONFIG_DEPTH_MAX + 1)
		__builtin_trap();
	switch (n->kind) {
	case HCL_OBJECT:
		for (it = n->items; it != NULL; it = it->next) {
			if (it->key == NULL || it->value == NULL)
				__builtin_trap();
			walk(it->value, depth + 1);
		}
		break;
	case HCL_LIST:
		for (e = n->elems; e != NULL; e = e->next)
			walk(e, depth + 1);
		break;
	default:
		if (strlen(n->text) != n->len)
			__builtin_trap();
		if (duration_parse(n->text, &ms) == DURATION_OK &&
		    duration_format(ms, buf, sizeof(buf)) < 0)
			__builtin_trap();
		break;
	}
}

static void
exercise(struct conf *cfg)
{
	const struct hcl_node	*root = conf_root(cfg);
	const struct hcl_item	*it;
	struct conf_plugin	*p;
	struct opts		 o;
	struct sub		 s;
	size_t			 n, i;

	if (root == NULL)
		return;
	walk(root, 0);
	(void)conf_apply(cfg, &table, root, &o);
	if (o.plugins != NULL) {
		(void)conf_plugins(cfg, o.plugins->value, &p, &n);
		for (i = 0; i < n; i++)
			(void)conf_apply(cfg, &sub_table, p[i].data, &s);
	}
	/* Nested blocks through the same table, as plugin_data would be. */
	for (it = root->items; it != NULL; it = it->next) {
		if (it->value->kind == HCL_OBJECT)
			(void)conf_apply(cfg, &table, it->value, &o);
	}
	for (i = 0; i < conf_error_count(cfg) && i < CONFIG_ERRORS_MAX; i++) {
		if (conf_error_at(cfg, i) == NULL)
			__builtin_trap();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf	*cfg;
	char		*exp;
	size_t		 len;

	cfg = conf_load_buffer("fuzz.conf", (const char *)data, size, false);
	if (cfg == NULL)
		return 0;
	exercise(cfg);
	conf_free(cfg);
	if (conf_expand_env((const char *)data, size, fake_env, NULL, &exp,
	    &len) == 0) {
		if (strlen(exp) > len)
			__builtin_trap();
		cfg = conf_load_buffer("fuzz.conf", exp, len, false);
		if (cfg != NULL)
			exercise(cfg);
		conf_free(cfg);
		mem_free(exp);
	}
	return 0;
}
