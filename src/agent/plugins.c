/*
 * The agent's plugin registry: each built-in plugin is one row (kind,
 * name, option table, where its options go). Adding a plugin touches
 * its own file and one row here.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "agent/plugins.h"
#include "core/conf.h"
#include "core/hcl.h"

struct agent_plugin_def {
	const char		*kind;
	const char		*name;
	const struct conf_table	*table;		/* NULL: no options */
	size_t			 offset;	/* of its config in plugins */
	int			 value;		/* enum for its kind */
};

static int	check_abs_path(const void *, char *, size_t);

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

static const struct conf_option x509pop_opts[] = {
	{ "certificate_path", CONF_OPT_STRING(struct agent_x509pop_config,
	    certificate_path), .flags = CONF_REQUIRED,
	    .help = "PEM certificate (and chain) of the device" },
	{ "intermediates_path", CONF_OPT_STRING(struct agent_x509pop_config,
	    intermediates_path),
	    .help = "PEM intermediates sent after the certificate" },
	{ "private_key_path", CONF_OPT_STRING(struct agent_x509pop_config,
	    private_key_path), .flags = CONF_REQUIRED,
	    .help = "PEM private key of the certificate (EC P-256/P-384)" },
};

static const struct conf_option tpm_devid_opts[] = {
	{ "devid_cert_path", CONF_OPT_STRING(struct agent_tpm_devid_config,
	    devid_cert_path), .flags = CONF_REQUIRED,
	    .help = "PEM DevID certificate, then its intermediates" },
	{ "devid_password", CONF_OPT_STRING(struct agent_tpm_devid_config,
	    devid_password),
	    .help = "the DevID key's password, as provisioned" },
	{ "devid_priv_path", CONF_OPT_STRING(struct agent_tpm_devid_config,
	    devid_priv_path), .flags = CONF_REQUIRED,
	    .help = "the DevID key's private blob (TPM2B_PRIVATE)" },
	{ "devid_pub_path", CONF_OPT_STRING(struct agent_tpm_devid_config,
	    devid_pub_path), .flags = CONF_REQUIRED,
	    .help = "the DevID key's public blob (TPMT_PUBLIC)" },
	{ "endorsement_hierarchy_password", CONF_OPT_STRING(
	    struct agent_tpm_devid_config, endorsement_hierarchy_password),
	    .help = "TPM endorsement hierarchy password" },
	{ "owner_hierarchy_password", CONF_OPT_STRING(
	    struct agent_tpm_devid_config, owner_hierarchy_password),
	    .help = "TPM owner hierarchy password" },
	{ "tpm_device_path", CONF_OPT_STRING(struct agent_tpm_devid_config,
	    tpm_device_path), .check = check_abs_path,
	    .help = "TPM device or swtpm socket (default: /dev/tpmrm0, else "
	    "/dev/tpm0)" },
};

static const struct conf_option tpm_km_opts[] = {
	{ "owner_hierarchy_password", CONF_OPT_STRING(
	    struct agent_tpm_km_config, owner_hierarchy_password),
	    .help = "TPM owner hierarchy password" },
	{ "tpm_device_path", CONF_OPT_STRING(struct agent_tpm_km_config,
	    tpm_device_path), .check = check_abs_path,
	    .help = "TPM device or swtpm socket (default: tpm_devid's, else "
	    "/dev/tpmrm0, else /dev/tpm0)" },
};

static const struct conf_option disk_opts[] = {
	{ "directory", CONF_OPT_STRING(struct agent_disk_config, directory),
	    .check = check_abs_path,
	    .help = "accepted as SPIRE's; keys are kept in data_dir's "
	    "cache (0600)" },
};

static const struct conf_option unix_opts[] = {
	{ "discover_workload_path", CONF_OPT_BOOL(struct agent_unix_config,
	    discover_workload_path), .def = 0,
	    .help = "add unix:path and unix:sha256 of the caller's binary" },
	{ "workload_size_limit", CONF_OPT_INT(struct agent_unix_config,
	    workload_size_limit), .def = 0, .min = -1, .max = CONF_NO_MAX,
	    .help = "largest binary hashed, bytes (0: any, -1: no sha256)" },
};

static const struct conf_table x509pop_table =
    CONF_TABLE("x509pop", x509pop_opts);
static const struct conf_table tpm_devid_table =
    CONF_TABLE("tpm_devid", tpm_devid_opts);
static const struct conf_table tpm_km_table = CONF_TABLE("tpm", tpm_km_opts);
static const struct conf_table disk_table = CONF_TABLE("disk", disk_opts);
static const struct conf_table unix_table = CONF_TABLE("unix", unix_opts);

static const struct agent_plugin_def agent_plugin_defs[] = {
	{ "KeyManager", "disk", &disk_table,
	    offsetof(struct agent_plugins, disk), AGENT_KM_DISK },
	{ "KeyManager", "memory", NULL, 0, AGENT_KM_MEMORY },
	{ "KeyManager", "tpm", &tpm_km_table,
	    offsetof(struct agent_plugins, tpm_km), AGENT_KM_TPM },
	{ "NodeAttestor", "join_token", NULL, 0, AGENT_NA_JOIN_TOKEN },
	{ "NodeAttestor", "tpm_devid", &tpm_devid_table,
	    offsetof(struct agent_plugins, tpm_devid), AGENT_NA_TPM_DEVID },
	{ "NodeAttestor", "x509pop", &x509pop_table,
	    offsetof(struct agent_plugins, x509pop), AGENT_NA_X509POP },
	{ "WorkloadAttestor", "unix", &unix_table,
	    offsetof(struct agent_plugins, unix_wa), 1 },
};

#define NDEFS	(sizeof(agent_plugin_defs) / sizeof(agent_plugin_defs[0]))

const char *
agent_node_attestor_name(enum agent_node_attestor na)
{
	switch (na) {
	case AGENT_NA_JOIN_TOKEN:
		return "join_token";
	case AGENT_NA_X509POP:
		return "x509pop";
	case AGENT_NA_TPM_DEVID:
		return "tpm_devid";
	default:
		return "none";
	}
}

int
agent_plugins_load(struct conf *cfg, const struct hcl_item *item,
    struct agent_plugins *out)
{
	const struct agent_plugin_def	*d;
	struct conf_plugin		*p;
	size_t				 i, j, n;
	unsigned			 km_line = 0;
	int				 rc = 0;

	memset(out, 0, sizeof(*out));
	/* Defaults of plugins not declared, so the fields are sane. */
	(void)conf_apply(cfg, &unix_table, NULL, &out->unix_wa);
	if (item == NULL)
		return 0;
	if (conf_plugins(cfg, item->value, &p, &n) == -1)
		rc = -1;
	for (i = 0; i < n; i++) {
		d = NULL;
		for (j = 0; j < NDEFS; j++)
			if (strcmp(agent_plugin_defs[j].kind, p[i].kind) == 0 &&
			    strcmp(agent_plugin_defs[j].name, p[i].name) == 0)
				d = &agent_plugin_defs[j];
		if (d == NULL) {
			conf_error(cfg, p[i].line, "%s \"%s\": no such agent "
			    "plugin in spirelet", p[i].kind, p[i].name);
			rc = -1;
			continue;
		}
		if (p[i].cmd != NULL || p[i].data_file != NULL) {
			conf_error(cfg, p[i].line, "%s \"%s\": spirelet's "
			    "plugins are built in; plugin_cmd and "
			    "plugin_data_file are not supported", p[i].kind,
			    p[i].name);
			rc = -1;
			continue;
		}
		if (!p[i].enabled)
			continue;
		if (d->table != NULL && conf_apply(cfg, d->table, p[i].data,
		    (char *)out + d->offset) == -1)
			rc = -1;
		else if (d->table == NULL && p[i].data != NULL &&
		    p[i].data->items != NULL) {
			conf_error(cfg, p[i].line, "%s \"%s\" takes no "
			    "options", p[i].kind, p[i].name);
			rc = -1;
		}
		if (strcmp(d->kind, "NodeAttestor") == 0) {
			if (out->node_attestor != AGENT_NA_NONE) {
				conf_error(cfg, p[i].line, "only one "
				    "NodeAttestor may be configured");
				rc = -1;
			}
			out->node_attestor = (enum agent_node_attestor)d->value;
			out->node_attestor_line = p[i].line;
		} else if (strcmp(d->kind, "KeyManager") == 0) {
			if (km_line != 0) {
				conf_error(cfg, p[i].line, "only one "
				    "KeyManager may be configured");
				rc = -1;
			}
			km_line = p[i].line;
			out->key_manager = (enum agent_key_manager)d->value;
		} else
			out->unix_enabled = true;
	}
	return rc;
}
