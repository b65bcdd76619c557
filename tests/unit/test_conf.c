/*
 * Unit tests for core/conf: option tables applied to HCL blocks the way
 * SPIRE's server.conf and agent.conf use them, every error with its
 * file:line, the plugins block, -expandEnv and loading files.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/conf.h"
#include "core/limits.h"
#include "core/mem.h"

struct subject {
	struct conf_strings	 country;
	const char		*common_name;
};

struct srv {
	struct conf_strings	 admin_ids;
	bool			 audit;
	const char		*addr;
	int64_t			 port;
	struct subject		 subject;
	int64_t			 ca_ttl;
	const struct hcl_item	*federates;
	int			 level;
	const char		*socket;
	const char		*td;
};

struct top {
	const struct hcl_item	*plugins;
	struct srv		 srv;
};

static const char *const levels[] = { "debug", "info", "warn", "error",
    NULL };

static int
check_absolute(const void *field, char *why, size_t len)
{
	const char	*s = *(const char *const *)field;

	if (s[0] == '/')
		return 0;
	(void)snprintf(why, len, "must be an absolute path, not \"%s\"", s);
	return -1;
}

static const struct conf_option subject_opts[] = {
	{ "common_name", CONF_OPT_STRING(struct subject, common_name),
	    .def_str = "", .help = "subject CN" },
	{ "country", CONF_OPT_STRINGS(struct subject, country),
	    .help = "subject C" },
};
static const struct conf_table subject_table =
    CONF_TABLE("ca_subject", subject_opts);

static const struct conf_option srv_opts[] = {
	{ "admin_ids", CONF_OPT_STRINGS(struct srv, admin_ids),
	    .help = "admin SPIFFE IDs" },
	{ "audit_log_enabled", CONF_OPT_BOOL(struct srv, audit),
	    .help = "audit log" },
	{ "bind_address", CONF_OPT_STRING(struct srv, addr),
	    .def_str = "0.0.0.0", .help = "listen address" },
	{ "bind_port", CONF_OPT_INT(struct srv, port), .def = 8081,
	    .min = 1, .max = 65535, .help = "listen port" },
	{ "ca_subject", CONF_OPT_BLOCK(struct srv, subject, &subject_table),
	    .help = "CA subject" },
	{ "ca_ttl", CONF_OPT_DURATION(struct srv, ca_ttl),
	    .def = DURATION_HOURS(24), .min = DURATION_MINUTES(1),
	    .max = CONF_NO_MAX, .help = "CA lifetime" },
	{ "federates_with", CONF_OPT_NODE(struct srv, federates),
	    .flags = CONF_REPEAT, .help = "federation" },
	{ "log_level", CONF_OPT_ENUM(struct srv, level, levels), .def = 1,
	    .help = "log level" },
	{ "socket_path", CONF_OPT_STRING(struct srv, socket),
	    .def_str = "/tmp/spire-server/private/api.sock",
	    .check = check_absolute, .help = "admin socket" },
	{ "trust_domain", CONF_OPT_STRING(struct srv, td),
	    .flags = CONF_REQUIRED, .help = "trust domain" },
};
static const struct conf_table srv_table = CONF_TABLE("server", srv_opts);

static const struct conf_option top_opts[] = {
	{ "plugins", CONF_OPT_NODE(struct top, plugins), .help = "plugins" },
	{ "server", CONF_OPT_BLOCK(struct top, srv, &srv_table),
	    .flags = CONF_REQUIRED, .help = "server" },
};
static const struct conf_table top_table = CONF_TABLE("the file", top_opts);

/* A disk key manager's plugin_data, as an upper layer would declare. */
struct disk_km {
	const char	*keys_path;
};

static const struct conf_option disk_opts[] = {
	{ "keys_path", CONF_OPT_STRING(struct disk_km, keys_path),
	    .flags = CONF_REQUIRED, .help = "keys file" },
};
static const struct conf_table disk_table =
    CONF_TABLE("KeyManager \"disk\"", disk_opts);

static struct conf *
load(const char *text)
{
	struct conf	*cfg;

	cfg = conf_load_buffer("server.conf", text, strlen(text), false);
	assert_non_null(cfg);
	return cfg;
}

/* Loads and applies text; the caller checks the errors. */
static struct conf *
load_apply(const char *text, struct top *t, int *rc)
{
	struct conf	*cfg;

	cfg = load(text);
	assert_non_null(conf_root(cfg));
	memset(t, 0x5a, sizeof(*t));
	*rc = conf_apply(cfg, &top_table, conf_root(cfg), t);
	return cfg;
}

/* The errors must be exactly these, in this order. */
static void
expect_errors(const struct conf *cfg, const char *const *want, size_t n)
{
	size_t	 i;

	for (i = 0; i < conf_error_count(cfg) || i < n; i++) {
		if (i >= n || i >= conf_error_count(cfg) ||
		    strcmp(conf_error_at(cfg, i), want[i]) != 0)
			print_error("error %zu: got \"%s\" want \"%s\"\n", i,
			    i < conf_error_count(cfg) ?
			    conf_error_at(cfg, i) : "(none)",
			    i < n ? want[i] : "(none)");
	}
	assert_int_equal(conf_error_count(cfg), n);
	for (i = 0; i < n; i++)
		assert_string_equal(conf_error_at(cfg, i), want[i]);
}

#define EXPECT(cfg, ...) do {						\
	static const char *const want_[] = { __VA_ARGS__ };		\
	expect_errors((cfg), want_, sizeof(want_) / sizeof(want_[0]));	\
} while (0)

/* A line of a server block and the one error it makes there. */
struct bad_line {
	const char	*line;
	const char	*error;
};

/*
 * Each row's line, third in a server block after trust_domain, loaded
 * and applied to top_table: exactly its one error.
 */
static void
expect_bad_lines(const struct bad_line *rows, size_t n)
{
	char		 text[256];
	struct conf	*cfg;
	struct top	 t;
	size_t		 i;
	int		 rc;

	for (i = 0; i < n; i++) {
		assert_true((size_t)snprintf(text, sizeof(text), "server {\n"
		    " trust_domain = \"x\"\n %s\n}\n", rows[i].line) <
		    sizeof(text));
		cfg = load_apply(text, &t, &rc);
		expect_errors(cfg, &rows[i].error, 1);
		conf_free(cfg);
	}
}

/* text applied to srv_table fails with exactly the error want. */
static void
expect_srv_error(const char *text, const char *want)
{
	struct conf	*cfg;
	struct srv	 s;

	cfg = load(text);
	assert_int_equal(conf_apply(cfg, &srv_table, conf_root(cfg), &s), -1);
	expect_errors(cfg, &want, 1);
	conf_free(cfg);
}

static void
test_tables_verify(void **state)
{
	char	 why[128];

	(void)state;
	assert_int_equal(conf_table_verify(&top_table, why, sizeof(why)), 0);
	assert_int_equal(conf_table_verify(&disk_table, why, sizeof(why)),
	    0);
}

static void
expect_broken(const struct conf_option *rows, size_t n, const char *msg)
{
	struct conf_table	 t = { "broken", rows, n };
	char			 why[128] = "";

	assert_int_equal(conf_table_verify(&t, why, sizeof(why)), -1);
	if (strstr(why, msg) == NULL)
		print_error("got \"%s\", want \"%s\"\n", why, msg);
	assert_non_null(strstr(why, msg));
}

static void
test_verify_catches_broken_tables(void **state)
{
	static const struct conf_option unsorted[] = {
		{ "b", CONF_OPT_INT(struct srv, port) },
		{ "a", CONF_OPT_INT(struct srv, port) },
	};
	static const struct conf_option twice[] = {
		{ "a", CONF_OPT_INT(struct srv, port) },
		{ "A", CONF_OPT_INT(struct srv, port) },
	};
	static const struct conf_option no_choices[] = {
		{ "a", .type = CONF_ENUM,
		    .offset = offsetof(struct srv, level) },
	};
	static const struct conf_option enum_default[] = {
		{ "a", CONF_OPT_ENUM(struct srv, level, levels), .def = 4 },
	};
	static const struct conf_option bounds[] = {
		{ "a", CONF_OPT_INT(struct srv, port), .min = 5, .max = 1 },
	};
	static const struct conf_option string_bounds[] = {
		{ "a", CONF_OPT_STRING(struct srv, addr), .min = 1, .max = 2 },
	};
	static const struct conf_option repeat[] = {
		{ "a", CONF_OPT_INT(struct srv, port), .flags = CONF_REPEAT },
	};
	static const struct conf_option bool_default[] = {
		{ "a", CONF_OPT_BOOL(struct srv, audit), .def = 2 },
	};
	static const struct conf_option no_sub[] = {
		{ "a", .type = CONF_BLOCK, .offset = 0 },
	};

	(void)state;
	expect_broken(unsorted, 2, "\"b\" must come after \"a\"");
	expect_broken(twice, 2, "\"a\" must come after \"A\"");
	expect_broken(no_choices, 1, "enum needs choices");
	expect_broken(enum_default, 1, "enum needs choices and a default");
	expect_broken(bounds, 1, "\"a\": bad bounds");
	expect_broken(string_bounds, 1, "\"a\": bad bounds");
	expect_broken(repeat, 1, "\"a\": bad flags");
	expect_broken(bool_default, 1, "bool default");
	expect_broken(no_sub, 1, "block without a table");
}

static void
test_defaults(void **state)
{
	struct conf	*cfg;
	struct srv	 s;

	(void)state;
	cfg = load("");
	memset(&s, 0x5a, sizeof(s));
	assert_int_equal(conf_apply(cfg, &srv_table, NULL, &s), -1);
	EXPECT(cfg, "server.conf: missing required option \"trust_domain\" "
	    "in server");
	assert_string_equal(s.addr, "0.0.0.0");
	assert_int_equal(s.port, 8081);
	assert_int_equal(s.ca_ttl, DURATION_HOURS(24));
	assert_false(s.audit);
	assert_int_equal(s.level, 1);
	assert_null(s.admin_ids.v);
	assert_int_equal(s.admin_ids.n, 0);
	assert_string_equal(s.subject.common_name, "");
	assert_null(s.federates);
	assert_null(s.td);
	conf_free(cfg);
}

/* A server.conf in the shape of SPIRE's conf/server/server_full.conf. */
static const char spire_conf[] =
    "# comment\n"
    "server {\n"
    "    bind_address = \"127.0.0.1\"\n"
    "    bind_port = \"8081\"\n"
    "    ca_subject {\n"
    "        country = [\"US\"]\n"
    "        common_name = \"\"\n"
    "    }\n"
    "    ca_ttl = \"1h30m\"\n"
    "    trust_domain = \"example.org\"\n"
    "    log_level = \"DEBUG\"\n"
    "    admin_ids = [\"spiffe://example.org/admin\", 42,]\n"
    "    audit_log_enabled = \"true\"\n"
    "    federates_with \"domain1.test\" {\n"
    "        bundle_endpoint_url = \"https://example.com/bundle.json\"\n"
    "    }\n"
    "    federates_with \"domain2.test\" { }\n"
    "}\n"
    "\n"
    "plugins {\n"
    "    DataStore \"sql\" {\n"
    "        plugin_data {\n"
    "            database_type = \"sqlite3\"\n"
    "        }\n"
    "    }\n"
    "    KeyManager \"memory\" {\n"
    "        plugin_data = {}\n"
    "    }\n"
    "}\n";

static void
test_spire_server_conf(void **state)
{
	const struct hcl_item	*fw;
	struct conf		*cfg;
	struct top		 t;
	int			 rc;

	(void)state;
	cfg = load_apply(spire_conf, &t, &rc);
	EXPECT(cfg);
	assert_int_equal(rc, 0);
	assert_string_equal(t.srv.addr, "127.0.0.1");
	assert_int_equal(t.srv.port, 8081);
	assert_int_equal(t.srv.ca_ttl, DURATION_MINUTES(90));
	assert_string_equal(t.srv.td, "example.org");
	assert_int_equal(t.srv.level, 0);
	assert_true(t.srv.audit);
	assert_int_equal(t.srv.admin_ids.n, 2);
	assert_string_equal(t.srv.admin_ids.v[0],
	    "spiffe://example.org/admin");
	assert_string_equal(t.srv.admin_ids.v[1], "42");
	assert_int_equal(t.srv.subject.country.n, 1);
	assert_string_equal(t.srv.subject.country.v[0], "US");
	assert_string_equal(t.srv.subject.common_name, "");
	assert_string_equal(t.srv.socket,
	    "/tmp/spire-server/private/api.sock");
	fw = t.srv.federates;
	assert_non_null(fw);
	assert_string_equal(fw->labels[0], "domain1.test");
	assert_int_equal(fw->line, 14);
	fw = hcl_item_next_same(fw);
	assert_non_null(fw);
	assert_string_equal(fw->labels[0], "domain2.test");
	assert_null(hcl_item_next_same(fw));
	assert_non_null(t.plugins);
	assert_int_equal(t.plugins->line, 20);
	conf_free(cfg);
}

static void
test_quoted_and_based_ints(void **state)
{
	static const struct {
		const char	*text;
		int64_t		 port;
	} rows[] = {
		{ "bind_port = \"8081\"", 8081 },
		{ "bind_port = 8081", 8081 },
		{ "bind_port = 0x1F", 31 },
		{ "bind_port = \"0x1f\"", 31 },
		{ "bind_port = 0755", 493 },
		{ "bind_port = \"0o17\"", 15 },
		{ "bind_port = \"0b101\"", 5 },
		{ "bind_port = \"+9\"", 9 },
	};
	char		 text[128];
	struct conf	*cfg;
	struct srv	 s;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		(void)snprintf(text, sizeof(text), "trust_domain = \"x\"\n%s",
		    rows[i].text);
		cfg = load(text);
		assert_int_equal(conf_apply(cfg, &srv_table, conf_root(cfg),
		    &s), 0);
		assert_int_equal(s.port, rows[i].port);
		conf_free(cfg);
	}
}

static void
test_unknown_option(void **state)
{
	struct conf	*cfg;
	struct top	 t;
	int		 rc;

	(void)state;
	cfg = load_apply("server {\n  trust_domain = \"x\"\n  bind_prot = 1\n"
	    "}\ntelemetry {}\n", &t, &rc);
	assert_int_equal(rc, -1);
	EXPECT(cfg,
	    "server.conf:3: unknown option \"bind_prot\" in server",
	    "server.conf:5: unknown option \"telemetry\" in the file");
	conf_free(cfg);
}

static void
test_wrong_types(void **state)
{
	struct conf	*cfg;
	struct top	 t;
	int		 rc;

	(void)state;
	cfg = load_apply(
	    "server {\n"
	    "  trust_domain = \"x\"\n"
	    "  bind_port = \"80a\"\n"
	    "  bind_address = [\"a\"]\n"
	    "  admin_ids = \"spiffe://x/y\"\n"
	    "  audit_log_enabled = \"yes\"\n"
	    "  ca_subject = 5\n"
	    "  ca_ttl = {}\n"
	    "  log_level = [1]\n"
	    "}\n", &t, &rc);
	assert_int_equal(rc, -1);
	EXPECT(cfg,
	    "server.conf:3: option \"bind_port\": expected an integer, "
	    "found string \"80a\"",
	    "server.conf:4: option \"bind_address\": expected a string, "
	    "found a list",
	    "server.conf:5: option \"admin_ids\": expected a list of strings "
	    "such as [\"a\", \"b\"], found string \"spiffe://x/y\"",
	    "server.conf:6: option \"audit_log_enabled\": expected true or "
	    "false, found string \"yes\"",
	    "server.conf:7: option \"ca_subject\": expected a block, found "
	    "number 5",
	    "server.conf:8: option \"ca_ttl\": expected a duration such as "
	    "\"1h30m\", found a block",
	    "server.conf:9: option \"log_level\": expected one of debug, "
	    "info, warn, error, found a list");
	/* What failed kept its default. */
	assert_int_equal(t.srv.port, 8081);
	assert_string_equal(t.srv.addr, "0.0.0.0");
	conf_free(cfg);
}

static void
test_numbers_that_are_not_ints(void **state)
{
	static const struct bad_line	 rows[] = {
		{ "bind_port = true", "server.conf:3: option \"bind_port\": "
		    "expected an integer, found true" },
	};
	struct conf	*cfg;
	struct top	 t;
	int		 rc;

	(void)state;
	cfg = load_apply("server {\n trust_domain = \"x\"\n bind_port = 1.5\n"
	    "}\nserver2 = 1\n", &t, &rc);
	EXPECT(cfg,
	    "server.conf:3: option \"bind_port\": expected an integer, found "
	    "number 1.5",
	    "server.conf:5: unknown option \"server2\" in the file");
	conf_free(cfg);
	expect_bad_lines(rows, sizeof(rows) / sizeof(rows[0]));
}

static void
test_out_of_range(void **state)
{
	static const struct bad_line	 rows[] = {
		{ "bind_port = \"0\"", "server.conf:3: option \"bind_port\": "
		    "0 is out of range 1..65535" },
		{ "bind_port = 99999999999999999999", "server.conf:3: option "
		    "\"bind_port\": 99999999999999999999 does not fit in 64 "
		    "bits" },
	};
	struct conf	*cfg;
	struct top	 t;
	int		 rc;

	(void)state;
	cfg = load_apply(
	    "server {\n"
	    "  trust_domain = \"x\"\n"
	    "  bind_port = 70000\n"
	    "  ca_ttl = \"30s\"\n"
	    "}\n", &t, &rc);
	assert_int_equal(rc, -1);
	EXPECT(cfg,
	    "server.conf:3: option \"bind_port\": 70000 is out of range "
	    "1..65535",
	    "server.conf:4: option \"ca_ttl\": 30s is below the minimum 1m0s");
	conf_free(cfg);
	expect_bad_lines(rows, sizeof(rows) / sizeof(rows[0]));
}

static void
test_bad_durations(void **state)
{
	static const struct bad_line	 rows[] = {
		{ "ca_ttl = \"5d\"", "server.conf:3: option \"ca_ttl\": "
		    "invalid duration \"5d\": unknown unit (use ns, us, ms, s, "
		    "m or h)" },
		{ "ca_ttl = 3600", "server.conf:3: option \"ca_ttl\": invalid "
		    "duration \"3600\": missing unit (ns, us, ms, s, m or h)" },
		{ "ca_ttl = \"\"", "server.conf:3: option \"ca_ttl\": invalid "
		    "duration \"\": empty duration" },
	};

	(void)state;
	expect_bad_lines(rows, sizeof(rows) / sizeof(rows[0]));
}

static void
test_duplicates(void **state)
{
	struct conf	*cfg;
	struct top	 t;
	int		 rc;

	(void)state;
	cfg = load_apply(
	    "server {\n"
	    "  trust_domain = \"x\"\n"
	    "  bind_port = 1\n"
	    "  BIND_PORT = 2\n"
	    "}\n"
	    "server {\n"
	    "}\n", &t, &rc);
	assert_int_equal(rc, -1);
	EXPECT(cfg,
	    "server.conf:4: option \"bind_port\" is set more than once in "
	    "server (first at line 3)",
	    "server.conf:6: option \"server\" is set more than once in the "
	    "file (first at line 1)");
	assert_int_equal(t.srv.port, 1);
	conf_free(cfg);
}

static void
test_names_ignore_case(void **state)
{
	struct conf	*cfg;
	struct top	 t;
	int		 rc;

	(void)state;
	cfg = load_apply("Server {\n Trust_Domain = \"x\"\n BIND_PORT = 9\n}\n",
	    &t, &rc);
	EXPECT(cfg);
	assert_int_equal(t.srv.port, 9);
	assert_string_equal(t.srv.td, "x");
	conf_free(cfg);
}

static void
test_bool_forms(void **state)
{
	static const struct {
		const char	*v;
		bool		 want;
	} rows[] = {
		{ "true", true }, { "false", false }, { "\"true\"", true },
		{ "\"TRUE\"", true }, { "\"False\"", false }, { "1", true },
		{ "\"0\"", false },
	};
	char		 text[128];
	struct conf	*cfg;
	struct srv	 s;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		(void)snprintf(text, sizeof(text),
		    "trust_domain = \"x\"\naudit_log_enabled = %s", rows[i].v);
		cfg = load(text);
		assert_int_equal(conf_apply(cfg, &srv_table, conf_root(cfg),
		    &s), 0);
		assert_int_equal(s.audit, rows[i].want);
		conf_free(cfg);
	}
	expect_srv_error("trust_domain = \"x\"\naudit_log_enabled = 2",
	    "server.conf:2: option \"audit_log_enabled\": expected true or "
	    "false, found number 2");
}

static void
test_strings_from_literals(void **state)
{
	struct conf	*cfg;
	struct srv	 s;

	(void)state;
	/* hashicorp/hcl decodes any scalar into a string field. */
	cfg = load("trust_domain = 5\nbind_address = true\n"
	    "admin_ids = [1.5, false, <<E\nh\nE\n]\n");
	assert_int_equal(conf_apply(cfg, &srv_table, conf_root(cfg), &s), 0);
	assert_string_equal(s.td, "5");
	assert_string_equal(s.addr, "true");
	assert_int_equal(s.admin_ids.n, 3);
	assert_string_equal(s.admin_ids.v[0], "1.5");
	assert_string_equal(s.admin_ids.v[1], "false");
	assert_string_equal(s.admin_ids.v[2], "h\n");
	conf_free(cfg);
	cfg = load("trust_domain = \"x\"\nadmin_ids = [\"a\", {},\n [\"b\"]]");
	assert_int_equal(conf_apply(cfg, &srv_table, conf_root(cfg), &s), -1);
	EXPECT(cfg,
	    "server.conf:2: option \"admin_ids\": element 2 should be a "
	    "string, found a block",
	    "server.conf:3: option \"admin_ids\": element 3 should be a "
	    "string, found a list");
	assert_int_equal(s.admin_ids.n, 0);
	conf_free(cfg);
}

static void
test_enum(void **state)
{
	struct conf	*cfg;
	struct srv	 s;

	(void)state;
	cfg = load("trust_domain = \"x\"\nlog_level = \"WARN\"");
	assert_int_equal(conf_apply(cfg, &srv_table, conf_root(cfg), &s), 0);
	assert_int_equal(s.level, 2);
	conf_free(cfg);
	cfg = load("trust_domain = \"x\"\nlog_level = \"loud\"");
	assert_int_equal(conf_apply(cfg, &srv_table, conf_root(cfg), &s), -1);
	EXPECT(cfg, "server.conf:2: option \"log_level\": expected one of "
	    "debug, info, warn, error, found string \"loud\"");
	assert_int_equal(s.level, 1);
	conf_free(cfg);
}

static void
test_check_hook(void **state)
{
	(void)state;
	expect_srv_error("trust_domain = \"x\"\nsocket_path = \"api.sock\"",
	    "server.conf:2: option \"socket_path\": must be an absolute "
	    "path, not \"api.sock\"");
}

static void
test_required_and_labels(void **state)
{
	struct conf	*cfg;
	struct top	 t;
	int		 rc;

	(void)state;
	cfg = load_apply("\n\nserver {\n  bind_port \"x\" { }\n"
	    "  ca_subject \"y\" { }\n}\n", &t, &rc);
	assert_int_equal(rc, -1);
	EXPECT(cfg,
	    "server.conf:4: option \"bind_port\" takes no label, found \"x\"",
	    "server.conf:5: option \"ca_subject\" takes no label, found \"y\"",
	    "server.conf:3: missing required option \"trust_domain\" in "
	    "server");
	conf_free(cfg);
	cfg = load_apply("plugins {}\n", &t, &rc);
	EXPECT(cfg, "server.conf: missing required option \"server\" in the "
	    "file");
	conf_free(cfg);
}

static void
test_all_errors_reported(void **state)
{
	struct conf	*cfg;
	struct top	 t;
	FILE		*fp;
	char		 out[1024];
	size_t		 n;
	int		 rc;

	(void)state;
	cfg = load_apply(
	    "server {\n"
	    "  bind_port = 0\n"
	    "  bogus = 1\n"
	    "  ca_ttl = \"forever\"\n"
	    "  ca_subject {\n"
	    "    country = \"US\"\n"
	    "    org = [\"x\"]\n"
	    "  }\n"
	    "}\n"
	    "unknown {}\n", &t, &rc);
	assert_int_equal(rc, -1);
	EXPECT(cfg,
	    "server.conf:2: option \"bind_port\": 0 is out of range 1..65535",
	    "server.conf:3: unknown option \"bogus\" in server",
	    "server.conf:4: option \"ca_ttl\": invalid duration \"forever\": "
	    "not a duration such as 1h30m or 500ms",
	    "server.conf:6: option \"country\": expected a list of strings "
	    "such as [\"a\", \"b\"], found string \"US\"",
	    "server.conf:7: unknown option \"org\" in ca_subject",
	    "server.conf:1: missing required option \"trust_domain\" in "
	    "server",
	    "server.conf:10: unknown option \"unknown\" in the file");
	fp = fmemopen(out, sizeof(out), "w");
	assert_non_null(fp);
	conf_print_errors(cfg, fp);
	n = (size_t)ftell(fp);
	(void)fclose(fp);
	out[n < sizeof(out) ? n : sizeof(out) - 1] = '\0';
	assert_non_null(strstr(out, "server.conf:3: unknown option \"bogus\" "
	    "in server\nserver.conf:4: option \"ca_ttl\""));
	conf_free(cfg);
}

static void
test_parse_error_is_one_error(void **state)
{
	struct conf	*cfg;

	(void)state;
	cfg = load("server {\n  bind_port = 8081\n  log_level DEBUG\n}\n");
	assert_null(conf_root(cfg));
	EXPECT(cfg, "server.conf:3: expected '{' after block \"log_level\" "
	    "\"DEBUG\", found '}'");
	conf_free(cfg);
}

static void
test_error_cap(void **state)
{
	char		 text[2048];
	char		 out[8192];
	struct conf	*cfg;
	struct srv	 s;
	FILE		*fp;
	size_t		 i, n = 0;

	(void)state;
	n += (size_t)snprintf(text, sizeof(text), "trust_domain = \"x\"\n");
	for (i = 0; i < CONFIG_ERRORS_MAX + 6; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "x%zu = 1\n",
		    i);
	cfg = load(text);
	assert_int_equal(conf_apply(cfg, &srv_table, conf_root(cfg), &s), -1);
	assert_int_equal(conf_error_count(cfg), CONFIG_ERRORS_MAX + 6);
	assert_string_equal(conf_error_at(cfg, CONFIG_ERRORS_MAX - 1),
	    "server.conf:65: unknown option \"x63\" in server");
	assert_null(conf_error_at(cfg, CONFIG_ERRORS_MAX));
	fp = fmemopen(out, sizeof(out), "w");
	assert_non_null(fp);
	conf_print_errors(cfg, fp);
	n = (size_t)ftell(fp);
	(void)fclose(fp);
	out[n < sizeof(out) ? n : sizeof(out) - 1] = '\0';
	assert_non_null(strstr(out, "server.conf: 6 more errors not shown\n"));
	conf_free(cfg);
}

static void
test_upper_layer_errors(void **state)
{
	struct conf	*cfg;

	(void)state;
	cfg = load("");
	conf_error(cfg, 0, "no %s", "roles");
	conf_error(cfg, 12, "plugin %s \"%s\" is not built in", "KeyManager",
	    "aws_kms");
	EXPECT(cfg, "server.conf: no roles",
	    "server.conf:12: plugin KeyManager \"aws_kms\" is not built in");
	assert_string_equal(conf_file(cfg), "server.conf");
	conf_free(cfg);
}

static const char plugins_conf[] =
    "plugins {\n"
    "    DataStore \"sql\" {\n"
    "        plugin_data {\n"
    "            database_type = \"sqlite3\"\n"
    "        }\n"
    "    }\n"
    "    KeyManager \"disk\" {\n"
    "        plugin_data = { keys_path = \"/var/keys.json\" }\n"
    "        enabled = \"true\"\n"
    "    }\n"
    "    NodeAttestor \"join_token\" {\n"
    "        plugin_data {}\n"
    "    }\n"
    "    WorkloadAttestor {\n"
    "        unix { enabled = false }\n"
    "        docker { plugin_data_file = \"/etc/docker.conf\" }\n"
    "    }\n"
    "    Notifier \"k8sbundle\" { plugin_cmd = \"/bin/n\"\n"
    "        plugin_checksum = \"abc\" }\n"
    "}\n";

static void
test_plugins(void **state)
{
	const struct hcl_item	*pl;
	struct conf_plugin	*p;
	struct disk_km		 km;
	struct conf		*cfg;
	size_t			 n;

	(void)state;
	cfg = load(plugins_conf);
	pl = hcl_object_find(conf_root(cfg), "plugins");
	assert_int_equal(conf_plugins(cfg, pl->value, &p, &n), 0);
	EXPECT(cfg);
	assert_int_equal(n, 6);
	assert_string_equal(p[0].kind, "DataStore");
	assert_string_equal(p[0].name, "sql");
	assert_int_equal(p[0].line, 2);
	assert_true(p[0].enabled);
	assert_non_null(p[0].data);
	assert_int_equal(p[0].data->count, 1);
	assert_string_equal(p[1].kind, "KeyManager");
	assert_string_equal(p[1].name, "disk");
	assert_true(p[1].enabled);
	/* The upper layer applies the plugin's own table to plugin_data. */
	assert_int_equal(conf_apply(cfg, &disk_table, p[1].data, &km), 0);
	assert_string_equal(km.keys_path, "/var/keys.json");
	assert_string_equal(p[2].name, "join_token");
	assert_non_null(p[2].data);
	assert_int_equal(p[2].data->count, 0);
	assert_string_equal(p[3].kind, "WorkloadAttestor");
	assert_string_equal(p[3].name, "unix");
	assert_int_equal(p[3].line, 15);
	assert_false(p[3].enabled);
	assert_null(p[3].data);
	assert_string_equal(p[4].name, "docker");
	assert_string_equal(p[4].data_file, "/etc/docker.conf");
	assert_string_equal(p[5].cmd, "/bin/n");
	assert_string_equal(p[5].checksum, "abc");
	assert_null(p[0].cmd);
	conf_free(cfg);
}

static void
test_plugin_data_defaults_and_required(void **state)
{
	struct conf_plugin	*p;
	struct disk_km		 km;
	struct conf		*cfg;
	size_t			 n;

	(void)state;
	cfg = load("plugins {\n KeyManager \"disk\" {}\n}\n");
	assert_int_equal(conf_plugins(cfg, hcl_object_find(conf_root(cfg),
	    "plugins")->value, &p, &n), 0);
	assert_int_equal(n, 1);
	assert_null(p[0].data);
	assert_int_equal(conf_apply(cfg, &disk_table, p[0].data, &km), -1);
	EXPECT(cfg, "server.conf: missing required option \"keys_path\" in "
	    "KeyManager \"disk\"");
	conf_free(cfg);
}

static void
test_plugins_errors(void **state)
{
	struct conf_plugin	*p;
	struct conf		*cfg;
	size_t			 n;

	(void)state;
	cfg = load(
	    "plugins {\n"
	    "  KeyManager \"memory\" {}\n"
	    "  KeyManager \"memory\" {}\n"
	    "  KeyManager \"a\" \"b\" {}\n"
	    "  NodeAttestor \"x\" { plugin_date {} }\n"
	    "  NodeAttestor \"y\" { plugin_data = \"z\" }\n"
	    "  NodeAttestor \"z\" { plugin_data {}\n"
	    "    plugin_data_file = \"f\" }\n"
	    "  WorkloadAttestor = \"unix\"\n"
	    "  Notifier { n = 1 }\n"
	    "  KeyManager \"d\" { enabled = \"maybe\" }\n"
	    "}\n");
	assert_int_equal(conf_plugins(cfg, hcl_object_find(conf_root(cfg),
	    "plugins")->value, &p, &n), -1);
	EXPECT(cfg,
	    "server.conf:3: plugin KeyManager \"memory\" is declared more "
	    "than once (first at line 2)",
	    "server.conf:4: plugin KeyManager \"a\" has more than one name",
	    "server.conf:5: unknown option \"plugin_date\" in plugin "
	    "NodeAttestor \"x\"",
	    "server.conf:6: plugin_data of plugin NodeAttestor \"y\" must be "
	    "a block such as plugin_data { ... }, found string \"z\"",
	    "server.conf:7: plugin NodeAttestor \"z\": plugin_data and "
	    "plugin_data_file exclude each other",
	    "server.conf:9: expected a plugin such as WorkloadAttestor "
	    "\"name\" { ... } in plugins",
	    "server.conf:10: plugin Notifier \"n\" must be a block, found "
	    "number 1",
	    "server.conf:11: option \"enabled\": expected true or false, found "
	    "string \"maybe\"");
	/* The well-formed ones are still given, with their lines. */
	assert_true(n >= 1);
	assert_string_equal(p[0].name, "memory");
	assert_int_equal(p[0].line, 2);
	conf_free(cfg);
}

static void
test_plugins_not_a_block(void **state)
{
	struct conf_plugin	*p;
	struct conf		*cfg;
	size_t			 n;

	(void)state;
	cfg = load("plugins = [1]\n");
	assert_int_equal(conf_plugins(cfg, hcl_object_find(conf_root(cfg),
	    "plugins")->value, &p, &n), -1);
	EXPECT(cfg, "server.conf:1: plugins must be a block, found a list");
	assert_null(p);
	assert_int_equal(n, 0);
	conf_free(cfg);
	cfg = load("");
	assert_int_equal(conf_plugins(cfg, NULL, &p, &n), 0);
	assert_int_equal(n, 0);
	conf_free(cfg);
}

static const char *
fake_env(const char *name, void *arg)
{
	(void)arg;
	if (strcmp(name, "A") == 0)
		return "alpha";
	if (strcmp(name, "PORT") == 0)
		return "8081";
	if (strcmp(name, "1") == 0)
		return "one";
	if (strcmp(name, "A B") == 0)
		return "spaced";
	if (strcmp(name, "EMPTY") == 0)
		return "";
	return NULL;
}

static void
test_expand_env(void **state)
{
	/* What Go's os.Expand gives for each. */
	static const struct {
		const char	*in;
		const char	*out;
	} rows[] = {
		{ "no dollars", "no dollars" },
		{ "$A", "alpha" },
		{ "${A}", "alpha" },
		{ "x${A}y", "xalphay" },
		{ "$Ax", "" },			/* the name is Ax */
		{ "$A-x", "alpha-x" },
		{ "$UNSET.", "." },
		{ "${EMPTY}|", "|" },
		{ "$1", "one" },
		{ "${1}", "one" },
		{ "${A B}", "spaced" },
		{ "$$", "" },			/* $$ is a name, unset */
		{ "${}x", "x" },		/* bad syntax is dropped */
		{ "${A", "A" },			/* "${" dropped, rest kept */
		{ "a $ b", "a $ b" },		/* no name: $ stays */
		{ "end$", "end$" },
		{ "$%", "$%" },
		{ "port = \"${PORT}\"", "port = \"8081\"" },
	};
	char	*out;
	size_t	 i, len;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_int_equal(conf_expand_env(rows[i].in,
		    strlen(rows[i].in), fake_env, NULL, &out, &len), 0);
		if (strcmp(out, rows[i].out) != 0)
			print_error("\"%s\": got \"%s\" want \"%s\"\n",
			    rows[i].in, out, rows[i].out);
		assert_string_equal(out, rows[i].out);
		assert_int_equal(len, strlen(rows[i].out));
		mem_free(out);
	}
}

static void
test_expand_env_limits(void **state)
{
	char	*in, *out;
	size_t	 len, i;

	(void)state;
	/* Each $A grows by 3 bytes; enough of them pass CONFIG_FILE_MAX. */
	len = 2 * (CONFIG_FILE_MAX / 4);
	in = malloc(len);
	assert_non_null(in);
	for (i = 0; i < len; i += 2)
		memcpy(in + i, "$A", 2);
	assert_int_equal(conf_expand_env(in, len, fake_env, NULL, &out,
	    &len), -1);
	assert_int_equal(errno, E2BIG);
	assert_null(out);
	free(in);
	len = CONFIG_ENV_NAME_MAX + 4;
	in = malloc(len);
	assert_non_null(in);
	memset(in, 'N', len);
	memcpy(in, "${", 2);
	in[len - 1] = '}';
	assert_int_equal(conf_expand_env(in, len, fake_env, NULL, &out,
	    &len), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	free(in);
}

static void
test_load_expands_env(void **state)
{
	static const char	 text[] =
	    "server {\n trust_domain = \"$SPIRELET_TEST_TD\"\n"
	    " bind_port = \"${SPIRELET_TEST_PORT}\"\n}\n";
	struct conf		*cfg;
	struct top		 t;

	(void)state;
	assert_int_equal(setenv("SPIRELET_TEST_TD", "env.test", 1), 0);
	assert_int_equal(setenv("SPIRELET_TEST_PORT", "9090", 1), 0);
	cfg = conf_load_buffer("env.conf", text, strlen(text), true);
	assert_non_null(cfg);
	assert_int_equal(conf_apply(cfg, &top_table, conf_root(cfg), &t), 0);
	assert_string_equal(t.srv.td, "env.test");
	assert_int_equal(t.srv.port, 9090);
	conf_free(cfg);
	/* Without -expandEnv the text is taken as written. */
	cfg = conf_load_buffer("env.conf", text, strlen(text), false);
	assert_int_equal(conf_apply(cfg, &top_table, conf_root(cfg), &t), -1);
	EXPECT(cfg, "env.conf:3: option \"bind_port\": expected an integer, "
	    "found string \"${SPIRELET_TEST_PORT}\"");
	assert_string_equal(t.srv.td, "$SPIRELET_TEST_TD");
	conf_free(cfg);
	(void)unsetenv("SPIRELET_TEST_TD");
	(void)unsetenv("SPIRELET_TEST_PORT");
}

static void
write_file(const char *path, const char *text, size_t len)
{
	FILE	*fp;

	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void
test_load_file(void **state)
{
	char		 dir[] = "/tmp/test_conf.XXXXXX";
	char		 path[64], want[128];
	struct conf	*cfg;
	struct top	 t;
	char		*big;

	(void)state;
	assert_non_null(mkdtemp(dir));
	(void)snprintf(path, sizeof(path), "%s/server.conf", dir);
	write_file(path, spire_conf, strlen(spire_conf));
	cfg = conf_load_file(path, false);
	assert_non_null(cfg);
	assert_int_equal(conf_apply(cfg, &top_table, conf_root(cfg), &t), 0);
	assert_string_equal(t.srv.td, "example.org");
	conf_free(cfg);
	big = malloc(CONFIG_FILE_MAX + 1);
	assert_non_null(big);
	memset(big, ' ', CONFIG_FILE_MAX + 1);
	write_file(path, big, CONFIG_FILE_MAX + 1);
	free(big);
	cfg = conf_load_file(path, false);
	assert_null(conf_root(cfg));
	(void)snprintf(want, sizeof(want), "%s: file larger than 1048576 "
	    "bytes", path);
	expect_errors(cfg, (const char *const[]){ want }, 1);
	conf_free(cfg);
	assert_int_equal(unlink(path), 0);
	cfg = conf_load_file(path, false);
	(void)snprintf(want, sizeof(want), "%s: cannot open: %s", path,
	    strerror(ENOENT));
	expect_errors(cfg, (const char *const[]){ want }, 1);
	conf_free(cfg);
	cfg = conf_load_file(dir, false);
	(void)snprintf(want, sizeof(want), "%s: is a directory, not a config "
	    "file", dir);
	expect_errors(cfg, (const char *const[]){ want }, 1);
	conf_free(cfg);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_out_of_memory(void **state)
{
	struct conf_plugin	*p;
	struct conf		*cfg;
	struct top		 t;
	unsigned long		 k;
	size_t			 n;
	int			 ok;

	(void)state;
	for (k = 1; ; k++) {
		mem_fail_after(k);
		cfg = conf_load_buffer("oom.conf", spire_conf,
		    strlen(spire_conf), true);
		if (cfg != NULL && conf_root(cfg) != NULL) {
			(void)conf_apply(cfg, &top_table, conf_root(cfg), &t);
			if (t.plugins != NULL)
				(void)conf_plugins(cfg, t.plugins->value, &p,
				    &n);
		}
		mem_fail_after(0);
		ok = cfg != NULL && conf_error_count(cfg) == 0;
		conf_free(cfg);
		if (ok)
			break;
		assert_true(k < 1000);
	}
	assert_true(k > 3);
}

static void
test_table_print(void **state)
{
	char	 out[4096];
	FILE	*fp;
	size_t	 n;

	(void)state;
	fp = fmemopen(out, sizeof(out), "w");
	assert_non_null(fp);
	conf_table_print(&top_table, fp);
	n = (size_t)ftell(fp);
	(void)fclose(fp);
	out[n < sizeof(out) ? n : sizeof(out) - 1] = '\0';
	assert_non_null(strstr(out, "server.bind_port"));
	assert_non_null(strstr(out, "server.ca_subject.country"));
	assert_non_null(strstr(out, "24h0m0s"));
	assert_non_null(strstr(out, "(required) trust domain"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables_verify),
		cmocka_unit_test(test_verify_catches_broken_tables),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_spire_server_conf),
		cmocka_unit_test(test_quoted_and_based_ints),
		cmocka_unit_test(test_unknown_option),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_numbers_that_are_not_ints),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_bad_durations),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_names_ignore_case),
		cmocka_unit_test(test_bool_forms),
		cmocka_unit_test(test_strings_from_literals),
		cmocka_unit_test(test_enum),
		cmocka_unit_test(test_check_hook),
		cmocka_unit_test(test_required_and_labels),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_parse_error_is_one_error),
		cmocka_unit_test(test_error_cap),
		cmocka_unit_test(test_upper_layer_errors),
		cmocka_unit_test(test_plugins),
		cmocka_unit_test(test_plugin_data_defaults_and_required),
		cmocka_unit_test(test_plugins_errors),
		cmocka_unit_test(test_plugins_not_a_block),
		cmocka_unit_test(test_expand_env),
		cmocka_unit_test(test_expand_env_limits),
		cmocka_unit_test(test_load_expands_env),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_out_of_memory),
		cmocka_unit_test(test_table_print),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
