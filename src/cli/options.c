/*
 * The option tables. Names and meanings are SPIRE's where SPIRE has the
 * option; spirelet's own options say so in their help.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/options.h"
#include "core/conf.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/mem.h"
#include "hal/key.h"

static int	check_abs_path(const void *, char *, size_t);

static const char *const log_levels[] = {
	"DEBUG", "INFO", "WARN", "ERROR", NULL
};
static const char *const log_formats[] = { "text", "json", NULL };
static const char *const ca_key_types[] = { "ec-p256", "ec-p384", NULL };

/* enum log_level and enum log_format follow the choices' order. */
_Static_assert(LOG_LEVEL_DEBUG == 0 && LOG_LEVEL_ERROR == 3,
    "log_levels order");
_Static_assert(LOG_FORMAT_TEXT == 0 && LOG_FORMAT_JSON == 1,
    "log_formats order");
_Static_assert(KEY_EC_P256 == 0 && KEY_EC_P384 == 1, "ca_key_types order");

static int
check_abs_path(const void *field, char *why, size_t whylen)
{
	const char	*p = *(const char *const *)field;

	if (p != NULL && *p != '\0' && *p != '/') {
		snprintf(why, whylen, "must be an absolute path");
		return -1;
	}
	return 0;
}

static const struct conf_option ca_subject_opts[] = {
	{ "common_name", CONF_OPT_STRING(struct server_ca_subject,
	    common_name), .help = "CN of the CA certificates" },
	{ "country", CONF_OPT_STRINGS(struct server_ca_subject, country),
	    .help = "C values of the CA certificates" },
	{ "organization", CONF_OPT_STRINGS(struct server_ca_subject,
	    organization), .help = "O values of the CA certificates" },
};
static const struct conf_table ca_subject_table =
    CONF_TABLE("ca_subject", ca_subject_opts);

/* Sorted by name (conf_table_verify checks it in the unit test). */
static const struct conf_option server_opts[] = {
	{ "admin_ids", CONF_OPT_STRINGS(struct server_config, admin_ids),
	    .help = "SPIFFE IDs allowed the admin APIs over TCP" },
	{ "agent_ttl", CONF_OPT_DURATION(struct server_config, agent_ttl),
	    .min = DURATION_SECONDS(1), .max = CONF_NO_MAX,
	    .help = "agent SVID lifetime (default: default_x509_svid_ttl)" },
	{ "bind_address", CONF_OPT_STRING(struct server_config,
	    bind_address), .def_str = "0.0.0.0",
	    .help = "address the server API listens on" },
	{ "bind_port", CONF_OPT_INT(struct server_config, bind_port),
	    .def = 8081, .min = 0, .max = 65535,
	    .help = "port the server API listens on (0: any)" },
	{ "ca_key_type", CONF_OPT_ENUM(struct server_config, ca_key_type,
	    ca_key_types), .def = KEY_EC_P256,
	    .help = "ec-p256 or ec-p384" },
	{ "ca_subject", CONF_OPT_BLOCK(struct server_config, ca_subject,
	    &ca_subject_table),
	    .help = "subject of the CA (default C=US, O=SPIFFE)" },
	{ "ca_ttl", CONF_OPT_DURATION(struct server_config, ca_ttl),
	    .def = DURATION_HOURS(24), .min = DURATION_SECONDS(10),
	    .max = CONF_NO_MAX, .help = "lifetime of each CA" },
	{ "data_dir", CONF_OPT_STRING(struct server_config, data_dir),
	    .def_str = "/var/lib/spirelet/server",
	    .help = "directory of the datastore" },
	{ "default_jwt_svid_ttl", CONF_OPT_DURATION(struct server_config,
	    default_jwt_svid_ttl), .def = DURATION_MINUTES(5),
	    .min = DURATION_SECONDS(1), .max = CONF_NO_MAX,
	    .help = "JWT-SVID lifetime when the entry sets none" },
	{ "default_x509_svid_ttl", CONF_OPT_DURATION(struct server_config,
	    default_x509_svid_ttl), .def = DURATION_HOURS(1),
	    .min = DURATION_SECONDS(1), .max = CONF_NO_MAX,
	    .help = "X509-SVID lifetime when the entry sets none" },
	{ "jwt_issuer", CONF_OPT_STRING(struct server_config, jwt_issuer),
	    .help = "iss claim of JWT-SVIDs (default: none)" },
	{ "log_file", CONF_OPT_STRING(struct server_config, log_file),
	    .help = "file to log to (default: stderr)" },
	{ "log_format", CONF_OPT_ENUM(struct server_config, log_format,
	    log_formats), .def = LOG_FORMAT_TEXT,
	    .help = "text or json" },
	{ "log_level", CONF_OPT_ENUM(struct server_config, log_level,
	    log_levels), .def = LOG_LEVEL_INFO,
	    .help = "DEBUG, INFO, WARN or ERROR" },
	{ "max_message_size", CONF_OPT_INT(struct server_config,
	    max_message_size), .def = RPC_MSG_MAX_DEFAULT,
	    .min = 64 * 1024, .max = 64 * 1024 * 1024,
	    .help = "largest gRPC message in bytes (spirelet's own)" },
	{ "plugins", CONF_OPT_NODE(struct server_config, plugins),
	    .help = "the server's plugins, when one file holds both roles" },
	{ "socket_path", CONF_OPT_STRING(struct server_config,
	    socket_path), .def_str = "/tmp/spire-server/private/api.sock",
	    .check = check_abs_path,
	    .help = "Unix socket of the local admin API" },
	{ "store_map_size", CONF_OPT_INT(struct server_config,
	    store_map_size), .def = (int64_t)STORE_MAP_DEFAULT,
	    .min = 1024 * 1024, .max = (int64_t)1 << 40,
	    .help = "bytes the datastore may grow to (spirelet's own)" },
	{ "trust_domain", CONF_OPT_STRING(struct server_config,
	    trust_domain), .def_str = "example.org",
	    .help = "the trust domain this server is the authority of" },
};

static const char *const bundle_formats[] = { "pem", "spiffe", NULL };
static const char *const workload_key_types[] = {
	"ec-p256", "rsa-2048", NULL
};

static const struct conf_option agent_opts[] = {
	{ "admin_socket_path", CONF_OPT_STRING(struct agent_config,
	    admin_socket_path), .check = check_abs_path,
	    .help = "Unix socket of the admin API (health); default none" },
	{ "data_dir", CONF_OPT_STRING(struct agent_config, data_dir),
	    .def_str = "/var/lib/spirelet/agent",
	    .help = "directory of the agent's cache" },
	{ "insecure_bootstrap", CONF_OPT_BOOL(struct agent_config,
	    insecure_bootstrap), .def = 0,
	    .help = "trust the server at first contact without a bundle" },
	{ "join_token", CONF_OPT_STRING(struct agent_config, join_token),
	    .help = "join token to attest with (overrides the NodeAttestor)" },
	{ "log_file", CONF_OPT_STRING(struct agent_config, log_file),
	    .help = "file to log to (default: stderr)" },
	{ "log_format", CONF_OPT_ENUM(struct agent_config, log_format,
	    log_formats), .def = LOG_FORMAT_TEXT,
	    .help = "text or json" },
	{ "log_level", CONF_OPT_ENUM(struct agent_config, log_level,
	    log_levels), .def = LOG_LEVEL_INFO,
	    .help = "DEBUG, INFO, WARN or ERROR" },
	{ "max_message_size", CONF_OPT_INT(struct agent_config,
	    max_message_size), .def = RPC_MSG_MAX_DEFAULT,
	    .min = 64 * 1024, .max = 64 * 1024 * 1024,
	    .help = "largest gRPC message in bytes (spirelet's own)" },
	{ "plugins", CONF_OPT_NODE(struct agent_config, plugins),
	    .help = "the agent's plugins, when one file holds both roles" },
	{ "server_address", CONF_OPT_STRING(struct agent_config,
	    server_address),
	    .help = "address of the server (none: serve the cache only)" },
	{ "server_port", CONF_OPT_INT(struct agent_config, server_port),
	    .def = 8081, .min = 1, .max = 65535,
	    .help = "port of the server" },
	{ "socket_path", CONF_OPT_STRING(struct agent_config, socket_path),
	    .def_str = "/tmp/spire-agent/public/api.sock",
	    .check = check_abs_path,
	    .help = "Unix socket of the Workload API" },
	{ "store_map_size", CONF_OPT_INT(struct agent_config,
	    store_map_size), .def = 16 * 1024 * 1024,
	    .min = 1024 * 1024, .max = (int64_t)1 << 40,
	    .help = "bytes the cache may grow to (spirelet's own)" },
	{ "sync_interval", CONF_OPT_DURATION(struct agent_config,
	    sync_interval), .def = DURATION_SECONDS(5), .min = 100,
	    .max = DURATION_HOURS(24),
	    .help = "how often entries and bundles are synced" },
	{ "trust_bundle_format", CONF_OPT_ENUM(struct agent_config,
	    trust_bundle_format, bundle_formats), .def = 0,
	    .help = "pem or spiffe" },
	{ "trust_bundle_path", CONF_OPT_STRING(struct agent_config,
	    trust_bundle_path),
	    .help = "bootstrap bundle of the server's trust domain" },
	{ "trust_bundle_url", CONF_OPT_STRING(struct agent_config,
	    trust_bundle_url),
	    .help = "HTTPS URL of the bootstrap bundle" },
	{ "trust_domain", CONF_OPT_STRING(struct agent_config,
	    trust_domain), .def_str = "example.org",
	    .help = "the trust domain of the server" },
	{ "workload_x509_svid_key_type", CONF_OPT_ENUM(struct agent_config,
	    workload_key_type, workload_key_types), .def = 0,
	    .help = "key type of workload X509-SVIDs (ec-p256)" },
	{ "x509_svid_cache_max_size", CONF_OPT_INT(struct agent_config,
	    x509_svid_cache_max_size), .def = 1000, .min = 1,
	    .max = AGENT_ENTRIES_MAX,
	    .help = "workload X509-SVIDs kept at most" },
};

/*
 * spirelet run's own agent toward the parent (spirelet's own block):
 * how it attests and where it keeps its cache. The parent's address
 * comes from UpstreamAuthority "spire", the trust domain from the
 * server, and it serves no Workload API.
 */
static const struct conf_option upstream_agent_opts[] = {
	{ "data_dir", CONF_OPT_STRING(struct agent_config, data_dir),
	    .def_str = "/var/lib/spirelet/upstream",
	    .help = "directory of the link's cache (spirelet's own)" },
	{ "insecure_bootstrap", CONF_OPT_BOOL(struct agent_config,
	    insecure_bootstrap), .def = 0,
	    .help = "trust the parent at first contact without a bundle" },
	{ "join_token", CONF_OPT_STRING(struct agent_config, join_token),
	    .help = "join token the parent made for this gateway" },
	{ "max_message_size", CONF_OPT_INT(struct agent_config,
	    max_message_size), .def = RPC_MSG_MAX_DEFAULT,
	    .min = 64 * 1024, .max = 64 * 1024 * 1024,
	    .help = "largest gRPC message in bytes" },
	{ "plugins", CONF_OPT_NODE(struct agent_config, plugins),
	    .help = "NodeAttestor and KeyManager toward the parent" },
	{ "store_map_size", CONF_OPT_INT(struct agent_config,
	    store_map_size), .def = 4 * 1024 * 1024,
	    .min = 1024 * 1024, .max = (int64_t)1 << 40,
	    .help = "bytes the link's cache may grow to" },
	{ "sync_interval", CONF_OPT_DURATION(struct agent_config,
	    sync_interval), .def = DURATION_SECONDS(5), .min = 100,
	    .max = DURATION_HOURS(24),
	    .help = "how often entries are synced with the parent" },
	{ "trust_bundle_format", CONF_OPT_ENUM(struct agent_config,
	    trust_bundle_format, bundle_formats), .def = 0,
	    .help = "pem or spiffe" },
	{ "trust_bundle_path", CONF_OPT_STRING(struct agent_config,
	    trust_bundle_path),
	    .help = "bootstrap bundle of the parent's trust domain" },
	{ "trust_bundle_url", CONF_OPT_STRING(struct agent_config,
	    trust_bundle_url),
	    .help = "HTTPS URL of the parent's bootstrap bundle" },
	{ "x509_svid_cache_max_size", CONF_OPT_INT(struct agent_config,
	    x509_svid_cache_max_size), .def = 16, .min = 1,
	    .max = AGENT_ENTRIES_MAX,
	    .help = "X509-SVIDs from the parent kept at most" },
};

static const struct conf_table server_table =
    CONF_TABLE("server", server_opts);
static const struct conf_table agent_table =
    CONF_TABLE("agent", agent_opts);
static const struct conf_table upstream_agent_table =
    CONF_TABLE("upstream_agent", upstream_agent_opts);

/* The file's top level, one table per command shape. */
struct top {
	struct server_config	 server;
	struct agent_config	 agent;
	struct agent_config	 upstream_agent;
	const struct hcl_item	*plugins;
};

static const struct conf_option top_both_opts[] = {
	{ "agent", CONF_OPT_BLOCK(struct top, agent, &agent_table),
	    .help = "the agent" },
	{ "plugins", CONF_OPT_NODE(struct top, plugins),
	    .help = "refused: each role's plugins go inside its block" },
	{ "server", CONF_OPT_BLOCK(struct top, server, &server_table),
	    .help = "the server" },
	{ "upstream_agent", CONF_OPT_BLOCK(struct top, upstream_agent,
	    &upstream_agent_table),
	    .help = "this process's agent toward the parent (spirelet's own)" },
};
static const struct conf_option top_server_opts[] = {
	{ "plugins", CONF_OPT_NODE(struct top, plugins),
	    .help = "the server's plugins" },
	{ "server", CONF_OPT_BLOCK(struct top, server, &server_table),
	    .flags = CONF_REQUIRED, .help = "the server" },
};
static const struct conf_option top_agent_opts[] = {
	{ "agent", CONF_OPT_BLOCK(struct top, agent, &agent_table),
	    .flags = CONF_REQUIRED, .help = "the agent" },
	{ "plugins", CONF_OPT_NODE(struct top, plugins),
	    .help = "the agent's plugins" },
};

static const struct conf_table top_both =
    CONF_TABLE("file", top_both_opts);
static const struct conf_table top_server =
    CONF_TABLE("file", top_server_opts);
static const struct conf_table top_agent =
    CONF_TABLE("file", top_agent_opts);

/*
 * spirelet run without a configuration: a self-contained server (a
 * self-signed root, loopback only) and agent in one process, with the
 * usual socket paths. The agent finds the server of the process by
 * itself (cli/run.c). A new string (mem_free), or NULL.
 */
static char *
options_default_text(void)
{
	const char	*xdg, *home;
	char		 dir[1024], *text;
	size_t		 len = 4 * sizeof(dir) + 1024;

	if (geteuid() == 0)
		snprintf(dir, sizeof(dir), "/var/lib/spirelet");
	else if ((xdg = getenv("XDG_STATE_HOME")) != NULL && *xdg == '/')
		snprintf(dir, sizeof(dir), "%s/spirelet", xdg);
	else if ((home = getenv("HOME")) != NULL && *home == '/')
		snprintf(dir, sizeof(dir), "%s/.local/state/spirelet", home);
	else
		return NULL;
	if (strchr(dir, '"') != NULL || strchr(dir, '$') != NULL ||
	    strchr(dir, '\\') != NULL)
		return NULL;
	text = mem_alloc(len);
	if (text == NULL)
		return NULL;
	(void)snprintf(text, len,
	    "server {\n"
	    "    bind_address = \"127.0.0.1\"\n"
	    "    trust_domain = \"example.org\"\n"
	    "    data_dir = \"%s/server\"\n"
	    "    plugins {\n"
	    "        KeyManager \"disk\" { plugin_data {\n"
	    "            keys_path = \"%s/server/keys.json\" } }\n"
	    "        NodeAttestor \"join_token\" { plugin_data {} }\n"
	    "    }\n"
	    "}\n"
	    "agent {\n"
	    "    data_dir = \"%s/agent\"\n"
	    "    plugins {\n"
	    "        WorkloadAttestor \"unix\" { plugin_data {} }\n"
	    "    }\n"
	    "}\n", dir, dir, dir);
	return text;
}

/*
 * spirelet run's upstream_agent block: present exactly when the server
 * nests under a parent without workload_api_socket; it takes the
 * parent's address from the plugin and the trust domain from the
 * server.
 */
static int
options_upstream_agent(struct options *o, const struct agent_config *ua)
{
	const struct upstream_spire_conf	*uc;
	const struct hcl_item			*it;
	unsigned				 line = 0;
	int					 need;

	uc = &o->server.plug.upstream_spire_conf;
	need = o->server.plug.upstream_spire && uc->workload_api_socket ==
	    NULL;
	it = hcl_object_find(conf_root(o->cfg), "upstream_agent");
	if (it != NULL)
		line = it->line;
	if (it == NULL && need) {
		conf_error(o->cfg, o->server.plug.upstream_spire_line,
		    "UpstreamAuthority \"spire\" without workload_api_socket: "
		    "add an upstream_agent { } block saying how this process "
		    "attests to the parent (doc/gateway.md)");
		return -1;
	}
	if (it == NULL)
		return 0;
	if (!need) {
		conf_error(o->cfg, line, "upstream_agent is only for "
		    "UpstreamAuthority \"spire\" without workload_api_socket");
		return -1;
	}
	o->upstream_agent = *ua;
	o->has_upstream_agent = true;
	o->upstream_agent.trust_domain = o->server.trust_domain;
	o->upstream_agent.server_address = uc->server_address;
	o->upstream_agent.server_port = uc->server_port;
	o->upstream_agent.socket_path = NULL;
	o->upstream_agent.admin_socket_path = NULL;
	o->upstream_agent.log_level = o->server.log_level;
	o->upstream_agent.log_format = o->server.log_format;
	if (agent_plugins_load(o->cfg, ua->plugins,
	    &o->upstream_agent.plugin) == -1 ||
	    agent_config_check(o->cfg, &o->upstream_agent, line) == -1)
		return -1;
	/* It attests this very process, as the unix attestor does. */
	o->upstream_agent.plugin.unix_enabled = true;
	if (strcmp(o->upstream_agent.data_dir, o->server.data_dir) == 0 ||
	    strcmp(o->upstream_agent.data_dir, o->agent.data_dir) == 0) {
		conf_error(o->cfg, line, "upstream_agent: data_dir must differ "
		    "from the server's and the agent's");
		return -1;
	}
	return 0;
}

int
options_load(struct options *o, const char *path, bool expand_env,
    unsigned roles, FILE *f)
{
	const struct conf_table	*t;
	struct top			 top;
	int				 rc;

	memset(o, 0, sizeof(*o));
	memset(&top, 0, sizeof(top));
	t = roles == OPTIONS_BOTH ? &top_both :
	    roles == OPTIONS_SERVER ? &top_server : &top_agent;
	if (path == NULL && roles == OPTIONS_BOTH) {
		o->default_text = options_default_text();
		if (o->default_text == NULL) {
			fprintf(f, "no state directory for the built-in "
			    "configuration (set HOME or give -config)\n");
			return -1;
		}
		o->cfg = conf_load_buffer("built-in configuration",
		    o->default_text, strlen(o->default_text), false);
	} else if (path == NULL)
		o->cfg = conf_load_buffer("defaults", "", 0, false);
	else
		o->cfg = conf_load_file(path, expand_env);
	if (o->cfg == NULL) {
		fprintf(f, "out of memory loading %s\n",
		    path != NULL ? path : "defaults");
		return -1;
	}
	if (conf_root(o->cfg) == NULL) {
		conf_print_errors(o->cfg, f);
		return -1;
	}
	rc = conf_apply(o->cfg, t, conf_root(o->cfg), &top);
	o->server = top.server;
	o->agent = top.agent;
	/* A file of one role keeps SPIRE's top-level plugins block. */
	if (roles == OPTIONS_SERVER)
		o->server.plugins = top.plugins;
	else if (roles == OPTIONS_AGENT)
		o->agent.plugins = top.plugins;
	else if (top.plugins != NULL)
		conf_error(o->cfg, top.plugins->line, "a file for both "
		    "roles takes each role's plugins inside its server { } "
		    "or agent { } block");
	o->roles = roles;
	if (roles & OPTIONS_SERVER && server_plugins_load(o->cfg,
	    o->server.plugins != NULL ? o->server.plugins->value : NULL,
	    &o->server.plug) == -1)
		rc = -1;
	if (roles & OPTIONS_AGENT &&
	    (agent_plugins_load(o->cfg, o->agent.plugins,
	    &o->agent.plugin) == -1 ||
	    agent_config_check(o->cfg, &o->agent, 0) == -1))
		rc = -1;
	if (roles == OPTIONS_BOTH && rc == 0 &&
	    options_upstream_agent(o, &top.upstream_agent) == -1)
		rc = -1;
	if (roles == OPTIONS_SERVER && o->server.plug.upstream_spire &&
	    o->server.plug.upstream_spire_conf.workload_api_socket == NULL) {
		conf_error(o->cfg, o->server.plug.upstream_spire_line,
		    "UpstreamAuthority \"spire\": workload_api_socket is "
		    "required (only spirelet run attests to the parent "
		    "itself)");
		rc = -1;
	}
	if (rc == -1 || conf_error_count(o->cfg) > 0) {
		conf_print_errors(o->cfg, f);
		return -1;
	}
	return 0;
}

void
options_free(struct options *o)
{
	conf_free(o->cfg);
	mem_free(o->default_text);
	memset(o, 0, sizeof(*o));
}

int
options_verify_tables(char *why, size_t whylen)
{
	const struct conf_table	*const all[] = {
		&server_table, &agent_table, &upstream_agent_table,
		&top_both, &top_server, &top_agent,
	};
	size_t			 i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (conf_table_verify(all[i], why, whylen) == -1)
			return -1;
	return 0;
}

void
options_print_tables(FILE *f)
{
	conf_table_print(&server_table, f);
	conf_table_print(&agent_table, f);
	conf_table_print(&upstream_agent_table, f);
}
