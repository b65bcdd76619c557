/*
 * The registry of the server's built-in plugins: one row per kind and
 * name, with the plugin's option table and where its settings go.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "core/conf.h"
#include "server/plugins.h"

static const char *const x509pop_modes[] = {
	"external_pki", "spiffe", NULL
};

/* Option tables, each sorted by name. */
static const struct conf_option km_disk_opts[] = {
	{ "keys_path", CONF_OPT_STRING(struct km_disk_conf, keys_path),
	    .flags = CONF_REQUIRED,
	    .help = "file the server's private keys are kept in" },
};
static const struct conf_option km_tpm_opts[] = {
	{ "directory", CONF_OPT_STRING(struct km_tpm_conf, directory),
	    .help = "directory of the keys' TPM blobs (default: data_dir)" },
	{ "owner_hierarchy_password", CONF_OPT_STRING(struct km_tpm_conf,
	    owner_hierarchy_password),
	    .help = "TPM owner hierarchy password (default: none)" },
	{ "tpm_device_path", CONF_OPT_STRING(struct km_tpm_conf,
	    tpm_device_path),
	    .help = "TPM character device or swtpm socket (default: "
	    "/dev/tpmrm0, else /dev/tpm0)" },
};
static const struct conf_option tpm_devid_opts[] = {
	{ "devid_ca_path", CONF_OPT_STRING(struct tpm_devid_conf,
	    devid_ca_path), .flags = CONF_REQUIRED,
	    .help = "PEM roots DevID certificates must chain to" },
	{ "endorsement_ca_path", CONF_OPT_STRING(struct tpm_devid_conf,
	    endorsement_ca_path), .flags = CONF_REQUIRED,
	    .help = "PEM roots of the TPM vendors' EK certificates" },
};
static const struct conf_option x509pop_opts[] = {
	{ "agent_path_template", CONF_OPT_STRING(struct x509pop_conf,
	    agent_path_template),
	    .help = "agent ID path: only SPIRE's default forms are known" },
	{ "ca_bundle_path", CONF_OPT_STRING(struct x509pop_conf,
	    ca_bundle_path),
	    .help = "PEM roots device certificates must chain to" },
	{ "ca_bundle_paths", CONF_OPT_STRINGS(struct x509pop_conf,
	    ca_bundle_paths),
	    .help = "more PEM files of such roots" },
	{ "mode", CONF_OPT_ENUM(struct x509pop_conf, mode, x509pop_modes),
	    .def = X509POP_MODE_EXTERNAL_PKI,
	    .help = "external_pki or spiffe" },
	{ "svid_prefix", CONF_OPT_STRING(struct x509pop_conf, svid_prefix),
	    .def_str = "/spire-exchange",
	    .help = "spiffe mode: the path prefix of device SVIDs" },
};
static const struct conf_option upstream_disk_opts[] = {
	{ "bundle_file_path", CONF_OPT_STRING(struct upstream_disk_conf,
	    bundle_file_path),
	    .help = "PEM roots; default: the certificate file's last" },
	{ "cert_file_path", CONF_OPT_STRING(struct upstream_disk_conf,
	    cert_file_path), .flags = CONF_REQUIRED,
	    .help = "PEM certificate (chain) of the upstream CA" },
	{ "key_file_path", CONF_OPT_STRING(struct upstream_disk_conf,
	    key_file_path), .flags = CONF_REQUIRED,
	    .help = "PEM private key of the upstream CA" },
};
static const struct conf_option upstream_spire_exp_opts[] = {
	{ "require_pq_kem", CONF_OPT_BOOL(struct upstream_spire_experimental,
	    require_pq_kem), .def = 0,
	    .help = "post-quantum key exchange: not supported by spirelet" },
	{ "workload_api_named_pipe_name", CONF_OPT_STRING(
	    struct upstream_spire_experimental, workload_api_named_pipe_name),
	    .help = "Windows only: not supported by spirelet" },
};
static const struct conf_table upstream_spire_exp_table =
    CONF_TABLE("experimental", upstream_spire_exp_opts);
static const struct conf_option upstream_spire_opts[] = {
	{ "experimental", CONF_OPT_BLOCK(struct upstream_spire_conf,
	    experimental, &upstream_spire_exp_table),
	    .help = "SPIRE's experimental options (none supported)" },
	{ "server_address", CONF_OPT_STRING(struct upstream_spire_conf,
	    server_address), .flags = CONF_REQUIRED,
	    .help = "address of the parent server" },
	{ "server_port", CONF_OPT_INT(struct upstream_spire_conf,
	    server_port), .flags = CONF_REQUIRED, .min = 1, .max = 65535,
	    .help = "port of the parent server" },
	{ "workload_api_socket", CONF_OPT_STRING(struct upstream_spire_conf,
	    workload_api_socket),
	    .help = "Workload API socket of the agent supplying the "
	    "downstream SVID (spirelet run: none, its own link does)" },
};
static const struct conf_table km_disk_table =
    CONF_TABLE("KeyManager \"disk\"", km_disk_opts);
static const struct conf_table km_tpm_table =
    CONF_TABLE("KeyManager \"tpm\"", km_tpm_opts);
static const struct conf_table tpm_devid_table =
    CONF_TABLE("NodeAttestor \"tpm_devid\"", tpm_devid_opts);
static const struct conf_table x509pop_table =
    CONF_TABLE("NodeAttestor \"x509pop\"", x509pop_opts);
static const struct conf_table upstream_disk_table =
    CONF_TABLE("UpstreamAuthority \"disk\"", upstream_disk_opts);
static const struct conf_table upstream_spire_table =
    CONF_TABLE("UpstreamAuthority \"spire\"", upstream_spire_opts);

/* Kinds of which a server runs exactly one (at most one here). */
static const char *const single_kinds[] = {
	"KeyManager", "UpstreamAuthority", NULL
};

/*
 * One built-in plugin. conf (may be NULL: no options) is where its
 * plugin_data goes; on is the bool set when it is chosen, km the
 * KeyManager value (-1 for other kinds).
 */
struct plugin_row {
	const char		*kind;
	const char		*name;
	const struct conf_table	*table;
	size_t			 conf;
	size_t			 on;
	int			 km;
};

#define NO_FIELD	((size_t)-1)

static const struct plugin_row registry[] = {
	{ "KeyManager", "disk", &km_disk_table,
	    offsetof(struct server_plugins, km_disk), NO_FIELD,
	    SERVER_KM_DISK },
	{ "KeyManager", "memory", NULL, NO_FIELD, NO_FIELD,
	    SERVER_KM_MEMORY },
	{ "KeyManager", "tpm", &km_tpm_table,
	    offsetof(struct server_plugins, km_tpm), NO_FIELD,
	    SERVER_KM_TPM },
	{ "NodeAttestor", "join_token", NULL, NO_FIELD,
	    offsetof(struct server_plugins, join_token), -1 },
	{ "NodeAttestor", "tpm_devid", &tpm_devid_table,
	    offsetof(struct server_plugins, tpm_devid_conf),
	    offsetof(struct server_plugins, tpm_devid), -1 },
	{ "NodeAttestor", "x509pop", &x509pop_table,
	    offsetof(struct server_plugins, x509pop_conf),
	    offsetof(struct server_plugins, x509pop), -1 },
	{ "UpstreamAuthority", "disk", &upstream_disk_table,
	    offsetof(struct server_plugins, upstream_disk_conf),
	    offsetof(struct server_plugins, upstream_disk), -1 },
	{ "UpstreamAuthority", "spire", &upstream_spire_table,
	    offsetof(struct server_plugins, upstream_spire_conf),
	    offsetof(struct server_plugins, upstream_spire), -1 },
};

static const struct plugin_row	*plugins_find(const char *, const char *,
				    int *);
static int			 plugins_single(const char *);

/* The row of kind and name; *kind_known says whether the kind exists. */
static const struct plugin_row *
plugins_find(const char *kind, const char *name, int *kind_known)
{
	size_t	i;

	*kind_known = 0;
	for (i = 0; i < sizeof(registry) / sizeof(registry[0]); i++) {
		if (strcmp(registry[i].kind, kind) != 0)
			continue;
		*kind_known = 1;
		if (strcmp(registry[i].name, name) == 0)
			return &registry[i];
	}
	return NULL;
}

static int
plugins_single(const char *kind)
{
	size_t	i;

	for (i = 0; single_kinds[i] != NULL; i++)
		if (strcmp(single_kinds[i], kind) == 0)
			return 1;
	return 0;
}

int
server_plugins_load(struct conf *cfg, const struct hcl_node *obj,
    struct server_plugins *out)
{
	const struct plugin_row	*row;
	const struct hcl_item	*it;
	struct conf_plugin	*p = NULL;
	size_t			 i, j, n = 0;
	int			 known, rc = 0;

	memset(out, 0, sizeof(*out));
	out->km = SERVER_KM_MEMORY;
	if (obj == NULL)
		return 0;
	if (conf_plugins(cfg, obj, &p, &n) == -1)
		rc = -1;
	for (i = 0; i < n; i++) {
		if (strcmp(p[i].kind, "DataStore") == 0) {
			conf_error(cfg, p[i].line, "DataStore \"%s\": "
			    "spirelet's datastore is built in (LMDB under "
			    "data_dir); remove the DataStore block",
			    p[i].name);
			rc = -1;
			continue;
		}
		row = plugins_find(p[i].kind, p[i].name, &known);
		if (row == NULL) {
			if (known)
				conf_error(cfg, p[i].line, "%s \"%s\": no "
				    "such %s plugin in spirelet's server",
				    p[i].kind, p[i].name, p[i].kind);
			else
				conf_error(cfg, p[i].line, "%s \"%s\": "
				    "spirelet's server has no %s plugins",
				    p[i].kind, p[i].name, p[i].kind);
			rc = -1;
			continue;
		}
		if (p[i].cmd != NULL) {
			conf_error(cfg, p[i].line, "%s \"%s\": plugin_cmd: "
			    "spirelet runs no external plugins", p[i].kind,
			    p[i].name);
			rc = -1;
			continue;
		}
		for (j = 0; j < i; j++)
			if (plugins_single(p[i].kind) &&
			    strcmp(p[j].kind, p[i].kind) == 0 &&
			    p[j].enabled)
				break;
		if (j < i && p[i].enabled) {
			conf_error(cfg, p[i].line, "%s \"%s\": only one %s "
			    "plugin may be configured (another at line %u)",
			    p[i].kind, p[i].name, p[i].kind, p[j].line);
			rc = -1;
			continue;
		}
		if (row->table != NULL) {
			if (conf_apply(cfg, row->table, p[i].data,
			    (char *)out + row->conf) == -1)
				rc = -1;
		} else if (p[i].data != NULL) {
			for (it = p[i].data->items; it != NULL; it = it->next) {
				conf_error(cfg, it->line, "%s \"%s\": unknown "
				    "option \"%s\" (the plugin takes none)",
				    p[i].kind, p[i].name, it->key);
				rc = -1;
			}
		}
		if (!p[i].enabled)
			continue;
		if (row->km != -1)
			out->km = row->km;
		if (row->on == offsetof(struct server_plugins, upstream_spire))
			out->upstream_spire_line = p[i].line;
		if (row->on != NO_FIELD)
			*(bool *)((char *)out + row->on) = true;
	}
	if (out->x509pop && out->x509pop_conf.mode ==
	    X509POP_MODE_EXTERNAL_PKI && out->x509pop_conf.ca_bundle_path ==
	    NULL && out->x509pop_conf.ca_bundle_paths.n == 0) {
		conf_error(cfg, 0, "NodeAttestor \"x509pop\": external_pki "
		    "mode needs ca_bundle_path or ca_bundle_paths");
		rc = -1;
	}
	if (out->upstream_spire && out->upstream_spire_conf.experimental.
	    require_pq_kem) {
		conf_error(cfg, out->upstream_spire_line, "UpstreamAuthority "
		    "\"spire\": experimental.require_pq_kem is not supported "
		    "by spirelet (wolfSSL here has no X25519Kyber768)");
		rc = -1;
	}
	if (out->upstream_spire && out->upstream_spire_conf.experimental.
	    workload_api_named_pipe_name != NULL) {
		conf_error(cfg, out->upstream_spire_line, "UpstreamAuthority "
		    "\"spire\": workload_api_named_pipe_name is for Windows; "
		    "use workload_api_socket");
		rc = -1;
	}
	if (out->upstream_spire && out->upstream_spire_conf.
	    workload_api_socket != NULL && *out->upstream_spire_conf.
	    workload_api_socket != '/') {
		conf_error(cfg, out->upstream_spire_line, "UpstreamAuthority "
		    "\"spire\": workload_api_socket must be an absolute path");
		rc = -1;
	}
	return rc;
}
