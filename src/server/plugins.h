/*
 * The server's plugins, compiled in: which kinds and names exist, the
 * options of each one's plugin_data, and the choice a configuration
 * makes. Loading checks a `plugins { ... }` block against the registry;
 * the plugins themselves live in their own files.
 */
#ifndef SERVER_PLUGINS_H
#define SERVER_PLUGINS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/conf.h"

enum server_km {
	SERVER_KM_MEMORY = 0,	/* keys die with the process */
	SERVER_KM_DISK,		/* keys in a file, kept across restarts */
	SERVER_KM_TPM,		/* keys in the TPM, their blobs in files */
};

enum x509pop_mode {
	X509POP_MODE_EXTERNAL_PKI = 0,	/* chains to ca_bundle_path(s) */
	X509POP_MODE_SPIFFE,		/* chains to the trust bundle */
};

/* KeyManager "disk". */
struct km_disk_conf {
	const char		*keys_path;
};

/* KeyManager "tpm" (spirelet's own; SPIRE has none of that name). */
struct km_tpm_conf {
	const char		*directory;	/* blobs; NULL: data_dir */
	const char		*tpm_device_path; /* NULL: autodetect */
	const char		*owner_hierarchy_password;
};

/* NodeAttestor "tpm_devid". */
struct tpm_devid_conf {
	const char		*devid_ca_path;
	const char		*endorsement_ca_path;
};

/* NodeAttestor "x509pop". */
struct x509pop_conf {
	const char		*ca_bundle_path;
	struct conf_strings	 ca_bundle_paths;
	int			 mode;		/* enum x509pop_mode */
	const char		*agent_path_template;
	const char		*svid_prefix;	/* spiffe mode */
};

/* UpstreamAuthority "disk". */
struct upstream_disk_conf {
	const char		*cert_file_path;
	const char		*key_file_path;
	const char		*bundle_file_path;
};

/* UpstreamAuthority "spire": SPIRE's options (server_port may be "8081"). */
struct upstream_spire_experimental {
	bool			 require_pq_kem;
	const char		*workload_api_named_pipe_name;
};

struct upstream_spire_conf {
	const char		*server_address;
	int64_t			 server_port;
	const char		*workload_api_socket;	/* NULL: in-process */
	struct upstream_spire_experimental experimental;
};

/*
 * What the configuration chose. Strings point into the loaded
 * configuration and live as long as it.
 */
struct server_plugins {
	int			 km;		/* enum server_km */
	struct km_disk_conf	 km_disk;
	struct km_tpm_conf	 km_tpm;
	bool			 join_token;
	bool			 tpm_devid;
	struct tpm_devid_conf	 tpm_devid_conf;
	bool			 x509pop;
	struct x509pop_conf	 x509pop_conf;
	bool			 upstream_disk;
	struct upstream_disk_conf upstream_disk_conf;
	bool			 upstream_spire;
	struct upstream_spire_conf upstream_spire_conf;
	unsigned		 upstream_spire_line;
};

/*
 * Checks the plugins object (the value of a `plugins` item; NULL when
 * there is none) against the registry and fills out (zeroed first).
 * Unknown kinds or names, a DataStore block, a second plugin of a kind
 * that takes one, and bad plugin_data options are errors recorded in
 * cfg at their line. 0, or -1 when any error was recorded.
 */
int	server_plugins_load(struct conf *, const struct hcl_node *obj,
	    struct server_plugins *out) __attribute__((warn_unused_result));

#endif
