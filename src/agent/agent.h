/*
 * The agent role: the SPIFFE Workload API on a Unix socket, over the
 * cache in data_dir. Start-up and shutdown only; attestation, sync and
 * the Workload API live in their own files.
 */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/conf.h"

struct ev_loop;
struct worker;
struct agent;

/*
 * The `agent` block of a configuration file, as SPIRE names its options,
 * plus spirelet's own. Strings are borrowed from the loaded
 * configuration and must outlive the agent.
 */
struct agent_config {
	const char		*trust_domain;
	const char		*data_dir;
	const char		*socket_path;	/* the Workload API */
	int			 log_level;	/* enum log_level */
	int			 log_format;	/* enum log_format */
	const char		*log_file;
	int64_t			 store_map_size; /* bytes */
	int64_t			 max_message_size; /* bytes, gRPC */
	const struct hcl_item	*plugins;
};

/* Opens the cache and starts serving. NULL when something failed. */
struct agent	*agent_start(struct ev_loop *, struct worker *,
		    const struct agent_config *);
/* Graceful stop, as server_stop; done(arg) runs once when finished. */
void		 agent_stop(struct agent *, void (*done)(void *), void *arg);
/* Frees a stopped (or never started) agent. Accepts NULL. */
void		 agent_free(struct agent *);

#endif
