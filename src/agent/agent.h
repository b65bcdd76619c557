/*
 * The agent role: the SPIFFE Workload API on a Unix socket, over the
 * cache in data_dir. Start-up and shutdown only; attestation, sync and
 * the Workload API live in their own files.
 */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/plugins.h"
#include "core/conf.h"

struct ev_loop;
struct worker;
struct agent;

/*
 * spirelet run: the server of the same process. The agent reaches it on
 * loopback like any server, but takes its bootstrap trust and its join
 * tokens from it directly (cli/run.c wires these; the roles never
 * include each other).
 */
struct agent_local_server {
	/*
	 * The server's trust roots now: add(addarg, der, len) per root
	 * (borrowed for the call). The count, or -1.
	 */
	int	(*roots)(void *arg, int (*add)(void *, const uint8_t *, size_t),
		    void *addarg);
	/* A fresh single-use join token into tok (NUL-terminated). 0, -1. */
	int	(*join_token)(void *arg, char *tok, size_t len);
	void	*arg;
};

/*
 * The `agent` block of a configuration file, as SPIRE names its options,
 * plus spirelet's own. Strings are borrowed from the loaded
 * configuration and must outlive the agent.
 */
struct agent_config {
	const char		*trust_domain;
	const char		*server_address; /* NULL: cache only */
	int64_t			 server_port;
	const char		*trust_bundle_path;
	int			 trust_bundle_format; /* 0 pem, 1 spiffe */
	const char		*trust_bundle_url;
	bool			 insecure_bootstrap;
	const char		*join_token;
	const char		*data_dir;
	const char		*socket_path;	/* the Workload API; NULL:
						 * none (an in-process link) */
	const char		*admin_socket_path; /* NULL: none */
	int			 log_level;	/* enum log_level */
	int			 log_format;	/* enum log_format */
	const char		*log_file;
	int64_t			 sync_interval;	/* ms */
	int64_t			 x509_svid_cache_max_size;
	int			 workload_key_type; /* 0 ec-p256, 1 rsa-2048 */
	int64_t			 store_map_size; /* bytes */
	int64_t			 max_message_size; /* bytes, gRPC */
	const struct hcl_item	*plugins;
	struct agent_plugins	 plugin;	/* what plugins configured */
	/*
	 * Called when the agent must end the process (banned, or it cannot
	 * attest): the caller stops everything and exits with status.
	 */
	void			(*fatal)(void *arg, int status);
	void			*fatal_arg;
	/* Set by the command line, not the file; NULL: none. */
	const struct agent_local_server *local;
};

/*
 * Checks what one option cannot (exactly one bootstrap source, the
 * plugins a server connection needs), recording errors in cfg. 0 or -1.
 */
int		 agent_config_check(struct conf *, struct agent_config *,
		    unsigned line) __attribute__((warn_unused_result));

/* Opens the cache and starts serving. NULL when something failed. */
struct agent	*agent_start(struct ev_loop *, struct worker *,
		    const struct agent_config *);
/* Graceful stop, as server_stop; done(arg) runs once when finished. */
void		 agent_stop(struct agent *, void (*done)(void *), void *arg);
/* Frees a stopped (or never started) agent. Accepts NULL. */
void		 agent_free(struct agent *);

/* One X509-SVID for an in-process consumer; everything borrowed. */
struct agent_x509 {
	const char	*spiffe_id;
	const uint8_t	*chain;		/* concatenated DER, leaf first */
	size_t		 chain_len;
	const uint8_t	*key;		/* PKCS#8 DER */
	size_t		 key_len;
	const uint8_t	*bundle;	/* concatenated DER roots of the
					 * trust domain */
	size_t		 bundle_len;
	int64_t		 expires_at;
};

/*
 * An in-process Workload API client (spirelet run's link to a parent
 * server): fn(arg, svid) is called with the SVID this process itself
 * would get from the agent's Workload API (its own unix selectors, the
 * unix attestor being on: the oldest matching entry), or with
 * prefer_downstream the oldest of those with downstream set if one
 * is; again whenever it changes,
 * and with NULL while there is none. The first call may come from
 * inside. One watcher per agent; it ends with agent_unwatch_x509 or
 * the agent. 0, or -1 when one is set already or memory ran out.
 */
int		 agent_watch_x509(struct agent *, int prefer_downstream,
		    void (*fn)(void *, const struct agent_x509 *), void *arg)
		    __attribute__((warn_unused_result));
void		 agent_unwatch_x509(struct agent *);

#endif
