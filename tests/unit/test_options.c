/*
 * Unit tests for cli/options: the tables are well formed, the built-in
 * defaults load, and a SPIRE-style file maps onto the structs.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/options.h"
#include "core/log.h"

static void
test_tables_verify(void **state)
{
	char	 why[256] = "";

	if (options_verify_tables(why, sizeof(why)) == -1)
		fail_msg("option tables: %s", why);
}

static void
test_defaults(void **state)
{
	struct options	 o;

	assert_int_equal(options_load(&o, NULL, false, OPTIONS_BOTH, stderr),
	    0);
	assert_string_equal(o.server.socket_path,
	    "/tmp/spire-server/private/api.sock");
	assert_string_equal(o.agent.socket_path,
	    "/tmp/spire-agent/public/api.sock");
	assert_int_equal(o.server.bind_port, 8081);
	assert_int_equal(o.server.log_level, LOG_LEVEL_INFO);
	assert_null(o.server.plugins);
	options_free(&o);
}

static void
test_spire_style_file(void **state)
{
	static const char text[] =
	    "server {\n"
	    "  bind_port = \"9091\"\n"
	    "  log_level = \"debug\"\n"
	    "  log_format = \"JSON\"\n"
	    "  trust_domain = \"domain.test\"\n"
	    "}\n";
	char		 path[] = "/tmp/spirelet-options-XXXXXX";
	struct options	 o;
	FILE		*f;
	int		 fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(options_load(&o, path, false, OPTIONS_SERVER,
	    stderr), 0);
	assert_int_equal(o.server.bind_port, 9091);
	assert_int_equal(o.server.log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(o.server.log_format, LOG_FORMAT_JSON);
	assert_string_equal(o.server.trust_domain, "domain.test");
	options_free(&o);
	/* The same file is not an agent's: its agent block is required. */
	f = fopen("/dev/null", "w");
	assert_non_null(f);
	assert_int_equal(options_load(&o, path, false, OPTIONS_AGENT, f), -1);
	fclose(f);
	options_free(&o);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables_verify),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_spire_style_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
