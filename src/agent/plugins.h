/*
 * The agent's built-in plugins, as SPIRE's agent.conf names them:
 * NodeAttestor "join_token", "x509pop" and "tpm_devid", KeyManager
 * "disk", "memory" and "tpm" (spirelet's own: the agent's key in the
 * TPM), WorkloadAttestor "unix". One row per plugin in a registry
 * gives its kind, name and option table; the options of its
 * plugin_data block land in that plugin's member of struct
 * agent_plugins. Unknown kinds and names are file:line errors.
 */
#ifndef AGENT_PLUGINS_H
#define AGENT_PLUGINS_H

#include <stdbool.h>
#include <stdint.h>

struct conf;
struct hcl_item;

enum agent_node_attestor {
	AGENT_NA_NONE = 0,
	AGENT_NA_JOIN_TOKEN,
	AGENT_NA_X509POP,
	AGENT_NA_TPM_DEVID,
};

enum agent_key_manager {
	AGENT_KM_DISK = 0,	/* the default: keys kept in the cache */
	AGENT_KM_MEMORY,
	AGENT_KM_TPM,		/* the agent's key in the TPM, as a blob */
};

struct agent_x509pop_config {
	const char	*private_key_path;
	const char	*certificate_path;
	const char	*intermediates_path;
};

/* NodeAttestor "tpm_devid", with SPIRE's option names. */
struct agent_tpm_devid_config {
	const char	*devid_cert_path;
	const char	*devid_priv_path;
	const char	*devid_pub_path;
	const char	*devid_password;
	const char	*tpm_device_path;	/* NULL: autodetect */
	const char	*owner_hierarchy_password;
	const char	*endorsement_hierarchy_password;
};

/* KeyManager "tpm": the TPM the agent's own SVID key lives in. */
struct agent_tpm_km_config {
	const char	*tpm_device_path;	/* NULL: tpm_devid's, else */
	const char	*owner_hierarchy_password;	/* autodetect */
};

struct agent_disk_config {
	const char	*directory;	/* SPIRE's keys.json dir; see below */
};

struct agent_unix_config {
	bool		 discover_workload_path;
	int64_t		 workload_size_limit;	/* bytes; 0 none, -1 no hash */
};

/* What the plugins block configured. Strings borrowed from the conf. */
struct agent_plugins {
	enum agent_node_attestor	 node_attestor;
	unsigned			 node_attestor_line;
	enum agent_key_manager		 key_manager;
	bool				 unix_enabled;
	struct agent_x509pop_config	 x509pop;
	struct agent_tpm_devid_config	 tpm_devid;
	struct agent_tpm_km_config	 tpm_km;
	struct agent_disk_config	 disk;
	struct agent_unix_config	 unix_wa;
};

/*
 * Reads the plugins block item (may be NULL) into out, recording
 * every problem in cfg at its line. 0, or -1 when an error was
 * recorded.
 */
int		 agent_plugins_load(struct conf *, const struct hcl_item *,
		    struct agent_plugins *out)
		    __attribute__((warn_unused_result));
/* "join_token", "x509pop", "tpm_devid", or "none". */
const char	*agent_node_attestor_name(enum agent_node_attestor);

#endif
