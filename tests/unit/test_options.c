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
	char		 path[] = "/tmp/spirelet-options-XXXXXX";
	struct options	 o;
	int		 fd;

	/* Empty blocks: SPIRE's defaults, no plugins. */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "server {}\nagent {}\n", 19), 19);
	close(fd);
	assert_int_equal(options_load(&o, path, false, OPTIONS_BOTH, stderr),
	    0);
	unlink(path);
	assert_string_equal(o.server.socket_path,
	    "/tmp/spire-server/private/api.sock");
	assert_string_equal(o.agent.socket_path,
	    "/tmp/spire-agent/public/api.sock");
	assert_int_equal(o.server.bind_port, 8081);
	assert_string_equal(o.server.bind_address, "0.0.0.0");
	assert_int_equal(o.server.log_level, LOG_LEVEL_INFO);
	assert_null(o.server.plugins);
	options_free(&o);
}

/* spirelet run without a file: a self-contained server and agent. */
static void
test_run_builtin(void **state)
{
	struct options	 o;
	char		 dir[512];

	setenv("HOME", "/home/someone", 1);
	unsetenv("XDG_STATE_HOME");
	snprintf(dir, sizeof(dir), "%s", geteuid() == 0 ?
	    "/var/lib/spirelet" : "/home/someone/.local/state/spirelet");
	assert_int_equal(options_load(&o, NULL, false, OPTIONS_BOTH, stderr),
	    0);
	assert_string_equal(o.server.socket_path,
	    "/tmp/spire-server/private/api.sock");
	assert_string_equal(o.agent.socket_path,
	    "/tmp/spire-agent/public/api.sock");
	assert_string_equal(o.server.bind_address, "127.0.0.1");
	assert_int_equal(o.server.bind_port, 8081);
	assert_string_equal(o.server.trust_domain, "example.org");
	assert_true(strncmp(o.server.data_dir, dir, strlen(dir)) == 0);
	assert_true(strncmp(o.agent.data_dir, dir, strlen(dir)) == 0);
	assert_string_not_equal(o.server.data_dir, o.agent.data_dir);
	assert_int_equal(o.server.plug.km, SERVER_KM_DISK);
	assert_true(o.server.plug.join_token);
	assert_false(o.server.plug.upstream_spire);
	assert_true(o.agent.plugin.unix_enabled);
	/* The agent has no server: spirelet run gives it the local one. */
	assert_null(o.agent.server_address);
	assert_false(o.has_upstream_agent);
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
		cmocka_unit_test(test_run_builtin),
		cmocka_unit_test(test_spire_style_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
