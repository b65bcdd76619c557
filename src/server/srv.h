/*
 * What the server's files share: the running server, the caller
 * classes of SPIRE's authorization, and small helpers to answer calls.
 * Internal to src/server/.
 */
#ifndef SERVER_SRV_H
#define SERVER_SRV_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "pki/x509.h"
#include "rpc/call.h"
#include "rpc/server.h"
#include "server/ca.h"
#include "server/datastore.h"
#include "server/server.h"
#include "spiffe/id.h"
#include "spirelet/server/store.pb.h"

struct keymgr;
struct rpc_health;
struct srv_devid;
struct tls_ctx;
struct upstream;
struct worker;

/*
 * Work done on the worker thread for a call: run(job) there, then
 * done(job, gone) on the loop. gone is 1 when the server stopped or was
 * freed meanwhile: done may then only finish its call and clean up, as
 * nothing of the server is left (s is NULL). Embed it in the call's own
 * state. Without a worker, or with its queue full, run and done happen
 * at once, on the loop.
 */
struct srv_job {
	struct server		*s;	/* NULL once abandoned */
	void			(*run)(struct srv_job *);
	void			(*done)(struct srv_job *, int gone);
	TAILQ_ENTRY(srv_job)	 entry;
};

/* The trust roots of the own bundle, parsed, for the TLS hook. */
struct srv_roots {
	uint8_t			**der;
	size_t			  n;
	struct x509_cert	 *certs;
};

/* One remembered source address of AttestAgent. */
struct srv_limit {
	char		addr[64];
	double		last;		/* ev_now of the last call */
};

struct server {
	struct ev_loop			*loop;
	struct worker			*worker;	/* borrowed */
	TAILQ_HEAD(, srv_job)		 jobs;		/* on the worker */
	const struct server_config	*cfg;
	struct store			*store;
	struct keymgr			*km;
	struct upstream			*up;
	struct ca			*ca;
	struct rpc_server		*admin;	/* the local admin API */
	struct rpc_server		*api;	/* TCP, TLS */
	struct rpc_listener		*tcp;
	struct rpc_health		*health;
	struct tls_ctx			*tls;
	struct srv_roots		 roots;
	struct key			*svid_key;	/* our own SVID's */
	int				 svid_rotating;	/* being signed */
	ev_timer			 svid_timer;
	struct srv_devid		*devid;		/* tpm_devid's roots */
	struct spiffe_td		 td;
	char				 td_id[SPIFFE_ID_MAX + 1];
	char				 server_id[SPIFFE_ID_MAX + 1];
	/* The join token made for this process's agent, until used. */
	char				 local_token[40];
	struct srv_limit		 limits[SERVER_ATTEST_PEERS_MAX];
	size_t				 nlimits;
	int				 stopping;
	int				 want_tcp;	/* listen once signed */
	int				 started;	/* start-up is over */
	int				 pending;	/* servers to stop */
	void				(*done)(void *);
	void				*done_arg;
};

/* Caller classes (bits), as SPIRE's authorization policy names them. */
#define CALLER_ANY		0x00
#define CALLER_LOCAL		0x01	/* the admin Unix socket */
#define CALLER_AGENT		0x02	/* an attested, active node */
#define CALLER_ADMIN		0x04	/* admin_ids, or an admin entry */
#define CALLER_DOWNSTREAM	0x08	/* a downstream entry's ID */

/* PermissionDeniedDetails reasons. */
enum deny_reason {
	DENY_UNKNOWN = 0,
	DENY_AGENT_EXPIRED = 1,
	DENY_AGENT_NOT_ATTESTED = 2,
	DENY_AGENT_NOT_ACTIVE = 3,
	DENY_AGENT_BANNED = 4,
	DENY_AGENT_MUST_REATTEST = 5,
};

/* Who is calling, once srv_authorize let them in. */
struct caller {
	unsigned	 classes;	/* CALLER_* that hold */
	char		 id[SPIFFE_ID_MAX + 1];	/* "" without an SVID */
	char		 addr[80];
	/* CALLER_AGENT: the node record (release with pb_release). */
	spirelet_server_Node node;
	int		 has_node;
	int		 reattestable;
};

/*
 * Classifies the caller of call and checks it against allowed (CALLER_*
 * bits; CALLER_ANY lets everyone in). 0 with *c filled, or -1 after the
 * call was finished with PermissionDenied (with details for agents) or
 * Unauthenticated, and logged. Release c with caller_cleanup.
 */
int	srv_authorize(struct server *, struct rpc_call *, unsigned allowed,
	    struct caller *c) __attribute__((warn_unused_result));
void	caller_cleanup(struct caller *);

/* Sends msg and finishes the call with OK. */
void	srv_reply(struct rpc_call *, const pb_msgdesc_t *, const void *);
/* Finishes with code and message, logging who and why at level. */
void	srv_fail(struct rpc_call *, enum grpc_status, const char *msg);
/* Finishes with OK when code is, otherwise as srv_fail. */
void	srv_finish(struct rpc_call *, enum grpc_status, const char *msg);
/* PermissionDenied with PermissionDeniedDetails{reason}. */
void	srv_deny(struct rpc_call *, enum deny_reason, const char *msg);

/*
 * Runs walk(txn, arg) in a read transaction of the datastore, which is
 * ended before the return: the List and Count handlers' walks. 0, or
 * -1 after failing the call with Internal, "datastore unavailable" when
 * no transaction began and failmsg when walk returned -1.
 */
struct store_txn;
int	srv_walk(struct server *, struct rpc_call *,
	    int (*walk)(struct store_txn *, void *), void *arg,
	    const char *failmsg) __attribute__((warn_unused_result));

/* Decodes the request into msg or fails the call (InvalidArgument). */
int	srv_decode(struct rpc_call *, const uint8_t *, size_t,
	    const pb_msgdesc_t *, void *) __attribute__((warn_unused_result));
/*
 * The opening of every handler that needs nothing of its caller but
 * admission: srv_authorize against allowed, then srv_decode of the
 * request into msg (msglen bytes, zeroed first). 0, or -1 with the
 * call answered and msg holding nothing to release.
 */
int	srv_admit(struct server *, struct rpc_call *, unsigned allowed,
	    const uint8_t *, size_t, const pb_msgdesc_t *, void *msg,
	    size_t msglen) __attribute__((warn_unused_result));

/*
 * Parses a SPIFFEID message into id, checking it. 0, or -1 with a
 * reason in why.
 */
int	srv_id_parse(const spire_api_types_SPIFFEID *, struct spiffe_id *,
	    char *why, size_t whylen);
/* "spiffe://td/path" of a SPIFFEID message (static buffer per call). */
int	srv_id_format(const spire_api_types_SPIFFEID *, char *, size_t);
/* Fills a SPIFFEID message from an ID string; 0 or -1. */
int	srv_id_set(spire_api_types_SPIFFEID *, const char *id);

/*
 * Fills an X509SVID message from a signed SVID (chain copied). 0 or -1;
 * release the message with pb_release either way.
 */
int	srv_svid_pb(const struct ca_svid *, const char *id,
	    spire_api_types_X509SVID *) __attribute__((warn_unused_result));
/* A random UUID (version 4) as text into out[37]. 0 or -1. */
int	srv_uuid(char out[37]) __attribute__((warn_unused_result));
/*
 * The source address without its port ("127.0.0.1"), for the rate
 * limits; into out.
 */
void	srv_peer_host(const char *addr, char *out, size_t len);
/*
 * Creates the entries of a batch request in one transaction. Used by
 * entry.v1 and by CreateJoinToken (with its agent_id). Each entry is
 * checked first; results[i] is its gRPC status (0 OK) and msg[i] a
 * static reason. 0, or -1 when the transaction failed.
 */
int	srv_entries_create(struct server *, spire_api_types_Entry *, size_t n,
	    int *codes, const char **msgs) __attribute__((warn_unused_result));

/* Queues job (run and done set) for the worker; see struct srv_job. */
void	srv_job_submit(struct server *, struct srv_job *);

/*
 * NodeAttestor "tpm_devid" (devid.c): its roots read at start-up, and
 * its two steps of AttestAgent.
 */
int	tpm_devid_load(struct server *) __attribute__((warn_unused_result));
void	tpm_devid_free(struct server *);
struct tpmdevid_server;
/*
 * Checks a payload (untrusted) against the loaded roots: the session
 * and its challenge JSON, as tpmdevid_server_start (attest/tpmdevid.h).
 */
int	srv_devid_start(struct server *, const uint8_t *payload, size_t len,
	    struct tpmdevid_server **out, char **challenge, size_t *clen)
	    __attribute__((warn_unused_result));

/* Reloads the roots of the own bundle for the TLS hook. */
void	srv_roots_reload(struct server *);

/* The method tables of each API (registered on both servers). */
int	api_agent_register(struct server *, struct rpc_server *)
	    __attribute__((warn_unused_result));
int	api_bundle_register(struct server *, struct rpc_server *)
	    __attribute__((warn_unused_result));
int	api_entry_register(struct server *, struct rpc_server *)
	    __attribute__((warn_unused_result));
int	api_svid_register(struct server *, struct rpc_server *)
	    __attribute__((warn_unused_result));

/*
 * The entries an agent may have (IDs), walking the datastore in txn.
 * 0 or -1; release with authz_set_free.
 */
struct authz_set;
int	srv_authorized(struct server *, struct store_txn *,
	    const char *agent_id, const spirelet_server_Node *,
	    struct authz_set *) __attribute__((warn_unused_result));

/* The "Entry" masks. */
void	srv_entry_mask(spire_api_types_Entry *,
	    const spire_api_types_EntryMask *);

#endif
