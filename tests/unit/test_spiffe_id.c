/*
 * Unit tests for spiffe/id: one table row per rule of the SPIFFE-ID
 * standard, each naming the exact error it must give.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "spiffe/id.h"

struct id_case {
	const char	*name;
	const char	*in;
	size_t		 len;		/* 0: strlen(in) */
	enum spiffe_err	 err;
	const char	*td;		/* on success */
	const char	*path;
};

static const struct id_case id_cases[] = {
	{ "plain", "spiffe://example.org/workload", 0, SPIFFE_OK,
	    "example.org", "/workload" },
	{ "trust domain only", "spiffe://example.org", 0, SPIFFE_OK,
	    "example.org", "" },
	{ "nested path", "spiffe://example.org/spire/agent/x509pop/abc", 0,
	    SPIFFE_OK, "example.org", "/spire/agent/x509pop/abc" },
	{ "scheme upper case", "SPIFFE://example.org/a", 0, SPIFFE_OK,
	    "example.org", "/a" },
	{ "scheme mixed case", "SpIfFe://example.org/a", 0, SPIFFE_OK,
	    "example.org", "/a" },
	{ "td all allowed chars", "spiffe://a-b_c.9z/x", 0, SPIFFE_OK,
	    "a-b_c.9z", "/x" },
	{ "td looks like ipv4", "spiffe://10.0.0.1/x", 0, SPIFFE_OK,
	    "10.0.0.1", "/x" },
	{ "path all allowed chars", "spiffe://td/aZ09._-", 0, SPIFFE_OK,
	    "td", "/aZ09._-" },
	{ "path upper case", "spiffe://td/Upper/CASE", 0, SPIFFE_OK, "td",
	    "/Upper/CASE" },
	{ "three dots is a name", "spiffe://td/.../a", 0, SPIFFE_OK, "td",
	    "/.../a" },
	{ "dot prefix is a name", "spiffe://td/.a/..b", 0, SPIFFE_OK, "td",
	    "/.a/..b" },

	{ "empty", "", 0, SPIFFE_ERR_EMPTY, NULL, NULL },
	{ "no scheme", "example.org/a", 0, SPIFFE_ERR_SCHEME, NULL, NULL },
	{ "other scheme", "https://example.org/a", 0, SPIFFE_ERR_SCHEME,
	    NULL, NULL },
	{ "one slash", "spiffe:/example.org/a", 0, SPIFFE_ERR_SCHEME, NULL,
	    NULL },
	{ "no slashes", "spiffe:example.org", 0, SPIFFE_ERR_SCHEME, NULL,
	    NULL },
	{ "scheme only", "spiffe://", 0, SPIFFE_ERR_TD_MISSING, NULL, NULL },
	{ "td missing before path", "spiffe:///path", 0,
	    SPIFFE_ERR_TD_MISSING, NULL, NULL },
	{ "td upper case", "spiffe://Example.org/a", 0, SPIFFE_ERR_TD_UPPER,
	    NULL, NULL },
	{ "td port", "spiffe://example.org:8080/a", 0, SPIFFE_ERR_TD_PORT,
	    NULL, NULL },
	{ "td empty port", "spiffe://example.org:/a", 0, SPIFFE_ERR_TD_PORT,
	    NULL, NULL },
	{ "td userinfo", "spiffe://user@example.org/a", 0,
	    SPIFFE_ERR_TD_USERINFO, NULL, NULL },
	{ "td percent", "spiffe://exa%6dple.org/a", 0, SPIFFE_ERR_TD_PERCENT,
	    NULL, NULL },
	{ "td ipv6", "spiffe://[::1]/a", 0, SPIFFE_ERR_TD_CHAR, NULL, NULL },
	{ "td space", "spiffe://exa mple.org", 0, SPIFFE_ERR_TD_CHAR, NULL,
	    NULL },
	{ "td nul byte", "spiffe://exa\0mple.org", 21, SPIFFE_ERR_TD_CHAR,
	    NULL, NULL },
	{ "td query", "spiffe://example.org?x=1", 0, SPIFFE_ERR_QUERY, NULL,
	    NULL },
	{ "td fragment", "spiffe://example.org#f", 0, SPIFFE_ERR_FRAGMENT,
	    NULL, NULL },
	{ "path query", "spiffe://example.org/a?x=1", 0, SPIFFE_ERR_QUERY,
	    NULL, NULL },
	{ "path fragment", "spiffe://example.org/a#f", 0,
	    SPIFFE_ERR_FRAGMENT, NULL, NULL },
	{ "path empty segment", "spiffe://example.org//a", 0,
	    SPIFFE_ERR_PATH_EMPTY_SEGMENT, NULL, NULL },
	{ "path empty segment inside", "spiffe://example.org/a//b", 0,
	    SPIFFE_ERR_PATH_EMPTY_SEGMENT, NULL, NULL },
	{ "path dot segment", "spiffe://example.org/a/./b", 0,
	    SPIFFE_ERR_PATH_DOT_SEGMENT, NULL, NULL },
	{ "path dot dot segment", "spiffe://example.org/a/../b", 0,
	    SPIFFE_ERR_PATH_DOT_SEGMENT, NULL, NULL },
	{ "path ends in dot", "spiffe://example.org/a/.", 0,
	    SPIFFE_ERR_PATH_DOT_SEGMENT, NULL, NULL },
	{ "path root slash", "spiffe://example.org/", 0,
	    SPIFFE_ERR_PATH_TRAILING_SLASH, NULL, NULL },
	{ "path trailing slash", "spiffe://example.org/a/", 0,
	    SPIFFE_ERR_PATH_TRAILING_SLASH, NULL, NULL },
	{ "path percent", "spiffe://example.org/a%20b", 0,
	    SPIFFE_ERR_PATH_PERCENT, NULL, NULL },
	{ "path colon", "spiffe://example.org/a:b", 0, SPIFFE_ERR_PATH_CHAR,
	    NULL, NULL },
	{ "path at sign", "spiffe://example.org/a@b", 0, SPIFFE_ERR_PATH_CHAR,
	    NULL, NULL },
	{ "path space", "spiffe://example.org/a b", 0, SPIFFE_ERR_PATH_CHAR,
	    NULL, NULL },
	{ "path nul byte", "spiffe://example.org/a\0b", 24,
	    SPIFFE_ERR_PATH_CHAR, NULL, NULL },
	{ "path non-ascii", "spiffe://example.org/caf\xc3\xa9", 0,
	    SPIFFE_ERR_PATH_CHAR, NULL, NULL },
};

static void
test_id_table(void **state)
{
	struct spiffe_id	 id;
	const struct id_case	*c;
	enum spiffe_err		 err;
	size_t			 i, len;

	(void)state;
	for (i = 0; i < sizeof(id_cases) / sizeof(id_cases[0]); i++) {
		c = &id_cases[i];
		len = c->len != 0 ? c->len : strlen(c->in);
		memset(&id, 0x55, sizeof(id));
		err = spiffe_id_parse(c->in, len, &id);
		if (err != c->err)
			fail_msg("%s: got \"%s\", want \"%s\"", c->name,
			    spiffe_strerror(err), spiffe_strerror(c->err));
		if (c->err != SPIFFE_OK) {
			assert_string_equal(id.td.name, "");
			assert_string_equal(id.path, "");
			continue;
		}
		assert_string_equal(id.td.name, c->td);
		assert_string_equal(id.path, c->path);
	}
}

/* A string of n bytes: "spiffe://" td, then "/aaaa..." to the length. */
static size_t
long_id(char *buf, size_t n, size_t tdlen)
{
	size_t	 i, off;

	memcpy(buf, SPIFFE_SCHEME, SPIFFE_SCHEME_LEN);
	off = SPIFFE_SCHEME_LEN;
	for (i = 0; i < tdlen; i++)
		buf[off++] = 'd';
	if (off < n)
		buf[off++] = '/';
	while (off < n)
		buf[off++] = 'a';
	buf[off] = '\0';
	return off;
}

static void
test_id_lengths(void **state)
{
	static char		 buf[SPIFFE_ID_MAX + 16];
	struct spiffe_id	 id;
	struct spiffe_td	 td;
	char			 out[SPIFFE_ID_MAX + 1];
	size_t			 n;

	(void)state;
	/* Exactly 2048 bytes, a one-byte trust domain: the longest path. */
	n = long_id(buf, SPIFFE_ID_MAX, 1);
	assert_int_equal(spiffe_id_parse(buf, n, &id), SPIFFE_OK);
	assert_int_equal(strlen(id.path), SPIFFE_ID_MAX - SPIFFE_SCHEME_LEN -
	    1);
	assert_int_equal(spiffe_id_format(&id, out, sizeof(out)), SPIFFE_OK);
	assert_string_equal(out, buf);
	assert_int_equal(spiffe_id_format(&id, out, SPIFFE_ID_MAX),
	    SPIFFE_ERR_BUFFER);
	n = long_id(buf, SPIFFE_ID_MAX + 1, 1);
	assert_int_equal(spiffe_id_parse(buf, n, &id), SPIFFE_ERR_TOO_LONG);

	/* A 255-byte trust domain passes; 256 bytes does not. */
	n = long_id(buf, SPIFFE_SCHEME_LEN + SPIFFE_TD_MAX, SPIFFE_TD_MAX);
	assert_int_equal(spiffe_id_parse(buf, n, &id), SPIFFE_OK);
	assert_int_equal(strlen(id.td.name), SPIFFE_TD_MAX);
	n = long_id(buf, SPIFFE_SCHEME_LEN + SPIFFE_TD_MAX + 1,
	    SPIFFE_TD_MAX + 1);
	assert_int_equal(spiffe_id_parse(buf, n, &id),
	    SPIFFE_ERR_TD_TOO_LONG);
	assert_int_equal(spiffe_td_parse(buf + SPIFFE_SCHEME_LEN,
	    SPIFFE_TD_MAX + 1, &td), SPIFFE_ERR_TD_TOO_LONG);
	assert_int_equal(spiffe_td_parse(buf + SPIFFE_SCHEME_LEN,
	    SPIFFE_TD_MAX, &td), SPIFFE_OK);
}

struct td_case {
	const char	*name;
	const char	*in;
	enum spiffe_err	 err;
	const char	*td;
};

static const struct td_case td_cases[] = {
	{ "bare", "example.org", SPIFFE_OK, "example.org" },
	{ "id form", "spiffe://example.org", SPIFFE_OK, "example.org" },
	{ "id form upper scheme", "SPIFFE://example.org", SPIFFE_OK,
	    "example.org" },
	{ "empty", "", SPIFFE_ERR_TD_MISSING, NULL },
	{ "upper case", "Example.org", SPIFFE_ERR_TD_UPPER, NULL },
	{ "port", "example.org:443", SPIFFE_ERR_TD_PORT, NULL },
	{ "userinfo", "me@example.org", SPIFFE_ERR_TD_USERINFO, NULL },
	{ "percent", "ex%41mple.org", SPIFFE_ERR_TD_PERCENT, NULL },
	{ "slash", "example.org/", SPIFFE_ERR_TD_CHAR, NULL },
	{ "id form with path", "spiffe://example.org/a",
	    SPIFFE_ERR_TD_HAS_PATH, NULL },
	{ "id form trailing slash", "spiffe://example.org/",
	    SPIFFE_ERR_PATH_TRAILING_SLASH, NULL },
	{ "id form no td", "spiffe://", SPIFFE_ERR_TD_MISSING, NULL },
	{ "other scheme", "https://example.org", SPIFFE_ERR_SCHEME, NULL },
};

static void
test_td_table(void **state)
{
	struct spiffe_td	 td;
	const struct td_case	*c;
	enum spiffe_err		 err;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(td_cases) / sizeof(td_cases[0]); i++) {
		c = &td_cases[i];
		memset(&td, 0x55, sizeof(td));
		err = spiffe_td_parse(c->in, strlen(c->in), &td);
		if (err != c->err)
			fail_msg("%s: got \"%s\", want \"%s\"", c->name,
			    spiffe_strerror(err), spiffe_strerror(c->err));
		assert_string_equal(td.name, c->err == SPIFFE_OK ? c->td : "");
	}
}

struct path_case {
	const char	*in;
	enum spiffe_err	 err;
};

static const struct path_case path_cases[] = {
	{ "", SPIFFE_OK },
	{ "/a", SPIFFE_OK },
	{ "/a/b/c", SPIFFE_OK },
	{ "a", SPIFFE_ERR_PATH_NO_SLASH },
	{ "/", SPIFFE_ERR_PATH_TRAILING_SLASH },
	{ "/a/", SPIFFE_ERR_PATH_TRAILING_SLASH },
	{ "//", SPIFFE_ERR_PATH_EMPTY_SEGMENT },
	{ "/..", SPIFFE_ERR_PATH_DOT_SEGMENT },
	{ "/a%2f", SPIFFE_ERR_PATH_PERCENT },
	{ "/a?", SPIFFE_ERR_QUERY },
	{ "/a#", SPIFFE_ERR_FRAGMENT },
	{ "/a+b", SPIFFE_ERR_PATH_CHAR },
};

static void
test_path_table(void **state)
{
	size_t		 i;
	enum spiffe_err	 err;

	(void)state;
	for (i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		err = spiffe_path_check(path_cases[i].in,
		    strlen(path_cases[i].in));
		if (err != path_cases[i].err)
			fail_msg("\"%s\": got \"%s\", want \"%s\"",
			    path_cases[i].in, spiffe_strerror(err),
			    spiffe_strerror(path_cases[i].err));
	}
}

static void
parse_ok(const char *s, struct spiffe_id *id)
{
	assert_int_equal(spiffe_id_parse(s, strlen(s), id), SPIFFE_OK);
}

static void
test_format_lowercases_scheme(void **state)
{
	struct spiffe_id	 id;
	struct spiffe_td	 td;
	char			 buf[64];

	(void)state;
	parse_ok("SPIFFE://example.org/Some/Path", &id);
	assert_int_equal(spiffe_id_format(&id, buf, sizeof(buf)), SPIFFE_OK);
	assert_string_equal(buf, "spiffe://example.org/Some/Path");
	assert_int_equal(spiffe_td_parse("example.org", 11, &td), SPIFFE_OK);
	assert_int_equal(spiffe_td_format_id(&td, buf, sizeof(buf)),
	    SPIFFE_OK);
	assert_string_equal(buf, "spiffe://example.org");
	assert_int_equal(spiffe_td_format_id(&td, buf, 20),
	    SPIFFE_ERR_BUFFER);
	assert_int_equal(spiffe_td_format_id(&td, buf, 21), SPIFFE_OK);
}

static void
test_make(void **state)
{
	struct spiffe_id	 id, parsed;
	struct spiffe_td	 td;
	static char		 path[SPIFFE_ID_MAX];
	size_t			 i;

	(void)state;
	assert_int_equal(spiffe_td_parse("example.org", 11, &td), SPIFFE_OK);
	assert_int_equal(spiffe_id_make(&td, "/spire/agent/join_token/t1",
	    &id), SPIFFE_OK);
	parse_ok("spiffe://example.org/spire/agent/join_token/t1", &parsed);
	assert_true(spiffe_id_equal(&id, &parsed));
	assert_int_equal(spiffe_id_make(&td, "", &id), SPIFFE_OK);
	assert_true(spiffe_id_is_td(&id));
	assert_int_equal(spiffe_id_make(&td, "no/slash", &id),
	    SPIFFE_ERR_PATH_NO_SLASH);
	assert_string_equal(id.td.name, "");
	assert_int_equal(spiffe_id_make(&td, "/a/../b", &id),
	    SPIFFE_ERR_PATH_DOT_SEGMENT);
	/* With "spiffe://example.org", 2048 - 20 bytes of path fit. */
	path[0] = '/';
	for (i = 1; i < SPIFFE_ID_MAX - 20; i++)
		path[i] = 'p';
	path[i] = '\0';
	assert_int_equal(spiffe_id_make(&td, path, &id), SPIFFE_OK);
	path[i] = 'p';
	path[i + 1] = '\0';
	assert_int_equal(spiffe_id_make(&td, path, &id), SPIFFE_ERR_TOO_LONG);
}

static void
test_equal_member_under(void **state)
{
	struct spiffe_id	 a, b, agent, agentx, agentroot, other;
	struct spiffe_td	 td, td2;

	(void)state;
	parse_ok("spiffe://example.org/w", &a);
	parse_ok("spiffe://example.org/w", &b);
	assert_true(spiffe_id_equal(&a, &b));
	parse_ok("spiffe://example.org/W", &b);
	assert_false(spiffe_id_equal(&a, &b));
	parse_ok("spiffe://example.net/w", &other);
	assert_false(spiffe_id_equal(&a, &other));

	assert_int_equal(spiffe_td_parse("example.org", 11, &td), SPIFFE_OK);
	assert_int_equal(spiffe_td_parse("example.or", 10, &td2), SPIFFE_OK);
	assert_true(spiffe_id_member_of(&a, &td));
	assert_false(spiffe_id_member_of(&other, &td));
	assert_false(spiffe_id_member_of(&a, &td2));

	parse_ok("spiffe://example.org/spire/agent/join_token/x", &agent);
	parse_ok("spiffe://example.org/spire/agentx", &agentx);
	parse_ok("spiffe://example.org/spire/agent", &agentroot);
	assert_true(spiffe_id_under(&agent, "/spire/agent/"));
	assert_true(spiffe_id_under(&agent, "/spire/agent"));
	assert_true(spiffe_id_under(&agent, "/spire"));
	assert_false(spiffe_id_under(&agentx, "/spire/agent/"));
	assert_false(spiffe_id_under(&agentx, "/spire/agent"));
	assert_false(spiffe_id_under(&agentroot, "/spire/agent/"));
	assert_true(spiffe_id_under(&agentroot, "/"));
	parse_ok("spiffe://example.org", &a);
	assert_false(spiffe_id_under(&a, "/"));
	assert_true(spiffe_id_is_td(&a));
	assert_false(spiffe_id_is_td(&agent));
}

static void
test_strerror_distinct(void **state)
{
	int	 i, j;

	(void)state;
	for (i = SPIFFE_OK; i <= SPIFFE_ERR_BUFFER; i++)
		for (j = i + 1; j <= SPIFFE_ERR_BUFFER; j++)
			assert_string_not_equal(spiffe_strerror(i),
			    spiffe_strerror(j));
	assert_string_equal(spiffe_strerror(SPIFFE_ERR_PATH_DOT_SEGMENT),
	    "path cannot contain dot segments");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_table),
		cmocka_unit_test(test_id_lengths),
		cmocka_unit_test(test_td_table),
		cmocka_unit_test(test_path_table),
		cmocka_unit_test(test_format_lowercases_scheme),
		cmocka_unit_test(test_make),
		cmocka_unit_test(test_equal_member_under),
		cmocka_unit_test(test_strerror_distinct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
