/*
 * The server role: SPIRE's server APIs on TCP (TLS) and the local admin
 * API on a Unix socket, over the datastore in data_dir. Start-up and
 * shutdown only; the APIs live in their own files.
 */
#ifndef SERVER_SERVER_H
#define SERVER_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/conf.h"
#include "server/plugins.h"

struct ev_loop;
struct worker;
struct server;
struct upstream_svid_source;

/* SPIRE's ca_subject: the subject of the CA certificates. */
struct server_ca_subject {
	struct conf_strings	 country;
	struct conf_strings	 organization;
	const char		*common_name;
};

/*
 * The `server` block of a configuration file, as SPIRE names its
 * options, plus spirelet's own (marked so in cli/options.c). Strings are
 * borrowed from the loaded configuration and must outlive the server.
 */
struct server_config {
	const char		*trust_domain;
	const char		*bind_address;
	int64_t			 bind_port;
	struct conf_strings	 admin_ids;	/* SPIFFE IDs */
	int64_t			 agent_ttl;	/* ms; 0: x509 default */
	int			 ca_key_type;	/* enum key_type */
	struct server_ca_subject ca_subject;
	int64_t			 ca_ttl;	/* ms */
	int64_t			 default_jwt_svid_ttl; /* ms */
	int64_t			 default_x509_svid_ttl; /* ms */
	const char		*jwt_issuer;	/* NULL: no iss claim */
	const char		*socket_path;	/* the local admin API */
	const char		*data_dir;
	int			 log_level;	/* enum log_level */
	int			 log_format;	/* enum log_format */
	const char		*log_file;
	int64_t			 store_map_size; /* bytes */
	int64_t			 max_message_size; /* bytes, gRPC */
	const struct hcl_item	*plugins;
	struct server_plugins	 plug;		/* what plugins chose */
	/*
	 * Set by the command line, not the file. UpstreamAuthority "spire"
	 * without workload_api_socket takes its downstream SVID from here
	 * (spirelet run: the process's own agent toward the parent).
	 */
	const struct upstream_svid_source *upstream_source;
	/* Once the server API listens (maybe within server_start). */
	void			(*ready)(void *arg);
	void			*ready_arg;
	/* The server cannot go on: stop everything, exit with status. */
	void			(*fatal)(void *arg, int status);
	void			*fatal_arg;
};

/*
 * Opens the datastore and starts listening. NULL when something failed
 * (logged); nothing is left open then.
 */
struct server	*server_start(struct ev_loop *, struct worker *,
		    const struct server_config *);
/*
 * Graceful stop: listeners close, peers get GOAWAY, calls in flight get
 * their grace period, the datastore closes; then done(arg) runs once.
 */
void		 server_stop(struct server *, void (*done)(void *), void *arg);
/* Frees a stopped (or never started) server. Accepts NULL. */
void		 server_free(struct server *);

/*
 * In-process services for the agent of the same process (spirelet run,
 * wired in cli/run.c; the roles never include each other).
 */
/* 1 once the server API listens (it has a CA). */
int		 server_ready(const struct server *);
/* The TCP port the server API listens on; 0 before it does. */
int		 server_port(const struct server *);
/*
 * Calls add(arg, der, len) for each X.509 root of the server's own
 * bundle (borrowed for the call). The number of roots, or -1.
 */
int		 server_bundle_roots(struct server *,
		    int (*add)(void *, const uint8_t *, size_t), void *arg)
		    __attribute__((warn_unused_result));
/*
 * A new single-use join token (ttl seconds) for an agent of this
 * process, into tok (NUL-terminated), and an entry making alias (a
 * SPIFFE ID of the trust domain) the agent's node alias, as
 * CreateJoinToken with agent_id does; alias entries an earlier token
 * made for the same alias are deleted, so the alias stays stable while
 * agents come and go. The token is taken even without NodeAttestor
 * "join_token" (only this process knows it). 0, or -1 (logged).
 */
int		 server_local_token(struct server *, const char *alias,
		    int64_t ttl, char *tok, size_t len)
		    __attribute__((warn_unused_result));

#endif
