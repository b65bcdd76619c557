/*
 * Unit tests for what the operator commands parse: selectors and SPIFFE
 * IDs as spire-server parses them (cli/admin), match modes, the
 * three-state flags, paths, and Go-style flags (cli/flags), with a table
 * of malformed inputs for each parser.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/admin.h"
#include "cli/flags.h"

struct selector_case {
	const char	*in;
	const char	*type;		/* NULL: must fail */
	const char	*value;
};

/* util.ParseSelector splits at the first colon and nothing else. */
static const struct selector_case selector_cases[] = {
	{ "unix:uid:1000", "unix", "uid:1000" },
	{ "k8s:ns:default", "k8s", "ns:default" },
	{ "spiffe_id:spiffe://example.org/a", "spiffe_id",
	    "spiffe://example.org/a" },
	{ "unix:", "unix", "" },
	{ ":value", "", "value" },
	{ "a:b", "a", "b" },
	{ "bad", NULL, NULL },
	{ "", NULL, NULL },
	{ "no colon here", NULL, NULL },
};

static void
test_selector_parse(void **state)
{
	struct admin_pool		 pool = { 0 };
	spire_api_types_Selector	 s;
	char				 err[256], want[128];
	size_t				 i;
	int				 rc;

	for (i = 0; i < sizeof(selector_cases) / sizeof(selector_cases[0]);
	    i++) {
		memset(&s, 0, sizeof(s));
		rc = admin_selector_parse(&pool, selector_cases[i].in, &s, err,
		    sizeof(err));
		if (selector_cases[i].type == NULL) {
			if (rc != -1)
				fail_msg("%s: parsed", selector_cases[i].in);
			snprintf(want, sizeof(want), "selector \"%s\" must be "
			    "formatted as type:value", selector_cases[i].in);
			assert_string_equal(err, want);
			continue;
		}
		if (rc != 0)
			fail_msg("%s: %s", selector_cases[i].in, err);
		assert_string_equal(s.type, selector_cases[i].type);
		assert_string_equal(s.value, selector_cases[i].value);
	}
	admin_pool_free(&pool);
}

static void
test_selectors_parse_stops_at_bad_one(void **state)
{
	const char *const		 good[] = { "unix:uid:0",
				    "unix:gid:0" };
	const char *const		 bad[] = { "unix:uid:0", "oops" };
	struct admin_pool		 pool = { 0 };
	spire_api_types_Selector	*v;
	char				 err[256];

	assert_int_equal(admin_selectors_parse(&pool, good, 2, &v, err,
	    sizeof(err)), 0);
	assert_string_equal(v[1].type, "unix");
	assert_string_equal(v[1].value, "gid:0");
	assert_int_equal(admin_selectors_parse(&pool, bad, 2, &v, err,
	    sizeof(err)), -1);
	assert_string_equal(err,
	    "selector \"oops\" must be formatted as type:value");
	admin_pool_free(&pool);
}

struct id_case {
	const char	*in;
	const char	*td;		/* NULL: must fail with err */
	const char	*path;
	const char	*err;
};

/* spiffeid.FromString's results and its error texts. */
static const struct id_case id_cases[] = {
	{ "spiffe://example.org/w1", "example.org", "/w1", NULL },
	{ "spiffe://example.org", "example.org", "", NULL },
	{ "spiffe://example.org/spire/agent/join_token/x", "example.org",
	    "/spire/agent/join_token/x", NULL },
	{ "", NULL, NULL, "cannot be empty" },
	{ "example.org/w", NULL, NULL, "scheme is missing or invalid" },
	{ "SPIFFE://example.org/w", NULL, NULL,
	    "scheme is missing or invalid" },
	{ "spiffe:///w", NULL, NULL, "trust domain is missing" },
	{ "spiffe://Example.org/w", NULL, NULL, "trust domain characters "
	    "are limited to lowercase letters, numbers, dots, dashes, and "
	    "underscores" },
	{ "spiffe://example.org:80/w", NULL, NULL, "trust domain characters "
	    "are limited to lowercase letters, numbers, dots, dashes, and "
	    "underscores" },
	{ "spiffe://example.org/", NULL, NULL,
	    "path cannot have a trailing slash" },
	{ "spiffe://example.org//w", NULL, NULL,
	    "path cannot contain empty segments" },
	{ "spiffe://example.org/../w", NULL, NULL,
	    "path cannot contain dot segments" },
	{ "spiffe://example.org/a b", NULL, NULL, "path segment characters "
	    "are limited to letters, numbers, dots, dashes, and "
	    "underscores" },
};

static void
test_id_parse(void **state)
{
	struct admin_pool		pool = { 0 };
	spire_api_types_SPIFFEID	id;
	char				err[256];
	size_t				i;
	int				rc;

	for (i = 0; i < sizeof(id_cases) / sizeof(id_cases[0]); i++) {
		err[0] = '\0';
		rc = admin_id_parse(&pool, id_cases[i].in, &id, err,
		    sizeof(err));
		if (id_cases[i].td == NULL) {
			if (rc != -1)
				fail_msg("%s: parsed", id_cases[i].in);
			if (strcmp(err, id_cases[i].err) != 0)
				fail_msg("%s: got \"%s\", want \"%s\"",
				    id_cases[i].in, err, id_cases[i].err);
			continue;
		}
		if (rc != 0)
			fail_msg("%s: %s", id_cases[i].in, err);
		assert_string_equal(id.trust_domain, id_cases[i].td);
		assert_string_equal(id.path, id_cases[i].path);
	}
	admin_pool_free(&pool);
}

static void
test_id_string(void **state)
{
	spire_api_types_SPIFFEID	id = { "example.org", "/a/b" };
	char				buf[64];

	admin_id_string(&id, buf, sizeof(buf));
	assert_string_equal(buf, "spiffe://example.org/a/b");
	id.path = NULL;
	admin_id_string(&id, buf, sizeof(buf));
	assert_string_equal(buf, "spiffe://example.org");
}

static void
test_match_and_tristate(void **state)
{
	assert_int_equal(admin_match_parse("exact"), 0);
	assert_int_equal(admin_match_parse("subset"), 1);
	assert_int_equal(admin_match_parse("superset"), 2);
	assert_int_equal(admin_match_parse("any"), 3);
	assert_int_equal(admin_match_parse("Exact"), -1);
	assert_int_equal(admin_match_parse(""), -1);
	assert_int_equal(admin_tristate("true"), 2);
	assert_int_equal(admin_tristate("false"), 1);
	assert_int_equal(admin_tristate("yes"), 0);
	assert_int_equal(admin_tristate(NULL), 0);
}

struct join_case {
	const char	*dir;
	const char	*name;
	const char	*want;
};

static const struct join_case join_cases[] = {
	{ "w", "svid.0.pem", "w/svid.0.pem" },
	{ "w/", "svid.0.pem", "w/svid.0.pem" },
	{ "./w", "svid.0.pem", "w/svid.0.pem" },
	{ ".", "svid.0.pem", "svid.0.pem" },
	{ "/", "key.pem", "/key.pem" },
	{ "/tmp/x//", "key.pem", "/tmp/x/key.pem" },
	{ "tok", NULL, "tok" },
};

static void
test_path_join(void **state)
{
	char	buf[64];
	size_t	i;

	for (i = 0; i < sizeof(join_cases) / sizeof(join_cases[0]); i++) {
		assert_int_equal(admin_path_join(buf, sizeof(buf),
		    join_cases[i].dir, join_cases[i].name), 0);
		assert_string_equal(buf, join_cases[i].want);
	}
	assert_int_equal(admin_path_join(buf, 8, "toolongdir", "x"), -1);
}

/* A flag table with one of each kind. */
struct flagset {
	const char		*s;
	int			 b;
	long			 n;
	struct flag_list	 l;
};

static int
flags_run(struct flagset *fs, int argc, char **argv)
{
	const struct flag	t[] = {
		{ "b", FLAG_BOOL, &fs->b, "a bool" },
		{ "l", FLAG_LIST, &fs->l, "a list" },
		{ "n", FLAG_INT, &fs->n, "a number" },
		{ "s", FLAG_STRING, &fs->s, "a string" },
		{ NULL, FLAG_BOOL, NULL, NULL },
	};

	return flags_parse_cmd("test", t, argc, argv);
}

static void
test_flags_go_forms(void **state)
{
	char		*argv[] = { "-s", "x", "--n=42", "-b", "-l", "one",
			    "-l=two", "--l", "three", "rest", "-s", "y" };
	struct flagset	 fs;

	memset(&fs, 0, sizeof(fs));
	assert_int_equal(flags_run(&fs, 12, argv), 9);
	assert_string_equal(fs.s, "x");
	assert_int_equal(fs.n, 42);
	assert_int_equal(fs.b, 1);
	assert_int_equal(fs.l.n, 3);
	assert_string_equal(fs.l.v[0], "one");
	assert_string_equal(fs.l.v[1], "two");
	assert_string_equal(fs.l.v[2], "three");
	flags_free_list(&fs.l);
}

static void
test_flags_bool_values_and_terminator(void **state)
{
	char		*argv1[] = { "-b=false", "-b=true", "-b=0" };
	char		*argv2[] = { "-b", "--", "-s", "x" };
	struct flagset	 fs;

	memset(&fs, 0, sizeof(fs));
	assert_int_equal(flags_run(&fs, 3, argv1), 3);
	assert_int_equal(fs.b, 0);
	assert_int_equal(flags_run(&fs, 4, argv2), 2);
	assert_int_equal(fs.b, 1);
	assert_null(fs.s);
}

struct bad_flags {
	const char	*name;
	int		 argc;
	char		*argv[3];
};

/* Each is a usage error: -1 after printing the usage. */
static struct bad_flags bad_flags[] = {
	{ "unknown flag", 1, { "-nope" } },
	{ "string without value", 1, { "-s" } },
	{ "int not a number", 2, { "-n", "12x" } },
	{ "int empty", 1, { "-n=" } },
	{ "bool bad value", 1, { "-b=maybe" } },
	{ "list without value", 1, { "-l" } },
};

static void
test_flags_malformed(void **state)
{
	struct flagset	fs;
	size_t		i;
	int		rc;

	for (i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++) {
		memset(&fs, 0, sizeof(fs));
		rc = flags_run(&fs, bad_flags[i].argc, bad_flags[i].argv);
		flags_free_list(&fs.l);
		if (rc != -1)
			fail_msg("%s: got %d", bad_flags[i].name, rc);
	}
}

static void
test_flags_help(void **state)
{
	char		*argv[] = { "-h" };
	struct flagset	 fs;

	memset(&fs, 0, sizeof(fs));
	assert_int_equal(flags_run(&fs, 1, argv), FLAGS_HELP);
}

/* admin_parse: the exit statuses and the socket target. */
static void
test_admin_parse(void **state)
{
	struct admin_cmd	 c;
	char			 cwd[512], want[600];
	char			*ok[] = { "show", "-socketPath", "rel.sock",
				    "-output", "JSON" };
	char			*bad_output[] = { "show", "-output", "xml" };
	char			*stray[] = { "show", "extra" };
	char			*help[] = { "show", "-help" };
	char			*abs[] = { "show", "-socketPath=/a/b.sock" };
	const struct flag	 flags[] = {
		ADMIN_FLAG_OUTPUT(c),
		ADMIN_FLAG_SOCKET(c),
		ADMIN_FLAG_END,
	};

	memset(&c, 0, sizeof(c));
	c.name = "entry show";
	c.socket = ADMIN_SERVER_SOCKET;
	assert_int_equal(admin_parse(&c, flags, 5, ok), -1);
	assert_int_equal(c.format, OUTPUT_JSON);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(want, sizeof(want), "unix:%s/rel.sock", cwd);
	assert_string_equal(c.target, want);
	c.output = NULL;
	assert_int_equal(admin_parse(&c, flags, 2, abs), -1);
	assert_string_equal(c.target, "unix:/a/b.sock");
	assert_int_equal(c.format, OUTPUT_PRETTY);
	assert_int_equal(admin_parse(&c, flags, 3, bad_output), 2);
	c.output = NULL;
	assert_int_equal(admin_parse(&c, flags, 2, stray), 2);
	assert_int_equal(admin_parse(&c, flags, 2, help), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_selector_parse),
		cmocka_unit_test(test_selectors_parse_stops_at_bad_one),
		cmocka_unit_test(test_id_parse),
		cmocka_unit_test(test_id_string),
		cmocka_unit_test(test_match_and_tristate),
		cmocka_unit_test(test_path_join),
		cmocka_unit_test(test_flags_go_forms),
		cmocka_unit_test(test_flags_bool_values_and_terminator),
		cmocka_unit_test(test_flags_malformed),
		cmocka_unit_test(test_flags_help),
		cmocka_unit_test(test_admin_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
