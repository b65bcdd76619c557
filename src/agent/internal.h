/*
 * Internal to src/agent/: the agent's state, shared by its files. One
 * struct agent per process, on the loop thread only.
 *
 *   agent.c      start-up, stop, readiness, the timer
 *   cache.c      the LMDB cache: records and their encodings
 *   entries.c    registration entries: from the wire, matching, diffs
 *   selectors.c  selector sets and subset matching
 *   rotation.c   when to rotate, how long to back off (pure)
 *   srvconn.c    TLS to the server, channels, raw unary calls
 *   attest.c     node attestation (join_token, x509pop, tpm_devid)
 *   x509pop.c    x509pop's payload and challenge response
 *   devid.c      tpm_devid's payload and answer, on the worker
 *   ownkey.c     the agent's own key: software, or in the TPM
 *   sync.c       the sync cycle: entries, bundles, SVIDs, own SVID
 *   jwt.c        JWT-SVIDs on demand, cached until half life
 *   unixattest.c the unix workload attestor
 *   workload.c   the Workload API
 *   local.c      the in-process consumer of one SVID (agent_watch_x509)
 *   pbw.c        protobuf writing for the Workload API's responses
 */
#ifndef AGENT_INTERNAL_H
#define AGENT_INTERNAL_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "agent/agent.h"
#include "core/buf.h"
#include "core/limits.h"
#include "rpc/grpc.h"
#include "spiffe/bundle.h"
#include "store/store.h"

struct rpc_call;
struct rpc_channel;
struct rpc_server;
struct rpc_health;
struct store;

struct tls_ctx;
struct tls_identity;
struct worker;
struct key;
struct agent_tpm;

/*
 * The agent's own SVID key (ownkey.c), shared by the SVID, TLS
 * identities and jobs; loop thread only, freed with the last reference.
 */
struct agent_key {
	struct key		*key;
	struct agent_tpm	*tpm;	/* TPM keys: their chip, referenced */
	char			*file;	/* TPM keys: the blob in data_dir */
	uint8_t			*stored; /* what the cache keeps for it */
	size_t			 stored_len;
	unsigned		 refs;
	LIST_ENTRY(agent_key)	 entry;	/* TPM keys: the live ones */
};

/* A registration entry as the agent keeps it. */
struct agent_entry {
	char		*id;
	char		*spiffe_id;
	char		*hint;		/* "" when none */
	char		**sel;		/* "type:value", sorted, unique */
	size_t		 nsel;
	char		**fed;		/* bare trust domains, sorted */
	size_t		 nfed;
	int64_t		 revision;
	int64_t		 created_at;
	int		 store_svid;	/* for SVIDStore plugins: not served */
	int		 downstream;	/* its SVID may sign CAs upstream */
	/* Its X509-SVID; the chain and key live in the store. */
	int		 has_svid;
	int64_t		 svid_not_before;
	int64_t		 svid_expires;
	int64_t		 svid_rotate_at;
	int64_t		 svid_revision;	/* entry revision it was made for */
	int		 in_flight;	/* a CSR for it is out */
	unsigned	 subs;		/* open streams it is served to */
	int64_t		 last_used;	/* Unix seconds, for eviction */
};

/* The agent's own X509-SVID and key. */
struct agent_svid {
	uint8_t		*chain;		/* concatenated DER, leaf first */
	size_t		 chain_len;
	struct agent_key *key;		/* referenced */
	int64_t		 not_before;
	int64_t		 expires;
	int64_t		 rotate_at;
	int		 reattestable;
	char		 id[SPIFFE_ID_MAX + 1];
};

/* One workload SVID record as the cache holds it. */
struct agent_svid_rec {
	int64_t		 not_before;
	int64_t		 expires;
	int64_t		 rotate_at;
	int64_t		 revision;	/* entry's; own SVID: reattestable */
	const uint8_t	*chain;		/* borrowed from the record bytes */
	size_t		 chain_len;
	const uint8_t	*key;
	size_t		 key_len;
};

struct wl_sub;
struct jwt_item;
struct local_watch;
struct sync_run;
struct attest_run;
struct bundleurl_job;
struct own_loader;

enum agent_state {
	AGENT_IDLE,		/* no server configured: cache only */
	AGENT_LOADING,		/* the cached SVID's TPM key is loading */
	AGENT_ATTESTING,	/* no usable SVID: attesting */
	AGENT_RUNNING,		/* has an SVID: syncing */
	AGENT_STOPPED,		/* banned or stopping */
};

struct agent {
	struct ev_loop			*loop;
	struct worker			*worker;
	const struct agent_config	*cfg;
	char				 td[SPIFFE_TD_MAX + 1];
	struct store			*store;
	int				 keep_keys;	/* disk, tpm */
	struct agent_tpm		*tpm_km;	/* KeyManager tpm's */
	struct agent_tpm		*tpm_devid;	/* tpm_devid's */
	/* A cached SVID whose TPM key loads on the worker. */
	uint8_t				*own_rec;	/* its cache record */
	size_t				 own_rec_len;
	int				 own_loading;	/* a job is out */
	struct own_loader		*loader;	/* that job's */
	double				 load_backoff_ms;
	struct rpc_server		*api;	/* the Workload API */
	struct rpc_server		*admin;
	struct rpc_health		*health;
	void				(*done)(void *);
	void				*done_arg;
	int				 stopping;
	int				 servers_running;
	enum agent_state		 state;
	int				 ready;	/* the cache may be served */

	/* The cache, in memory. */
	struct agent_entry		**entries;	/* sorted by id */
	size_t				 nentries;
	struct bundle			 bundle;	/* own trust domain */
	int				 has_bundle;
	struct bundle			*fed;		/* federated, sorted */
	size_t				 nfed;
	struct agent_svid		 svid;
	int				 has_svid;
	uint64_t			 generation;	/* bumps on change */

	/* The server. */
	struct tls_ctx			*tls_boot;	/* no client cert */
	struct tls_ctx			*tls_mtls;	/* our SVID */
	struct rpc_channel		*chan;		/* mTLS, long-lived */
	struct bundle			 boot_bundle;	/* bootstrap trust */
	int				 has_boot_bundle;
	struct attest_run		*attest;
	struct bundleurl_job		*bundleurl;	/* fetch under way */
	struct sync_run			*sync;
	ev_timer			 timer;		/* next sync/retry */
	double				 backoff_ms;	/* 0: none */
	double				 attest_backoff_ms;
	size_t				 csr_batch;	/* current CSR limit */

	/* The Workload API. */
	TAILQ_HEAD(, wl_sub)		 subs;
	size_t				 nsubs;
	struct jwt_item			*jwts;		/* JWT-SVID cache */
	size_t				 njwts;
	struct wl_hash			*hashes;	/* sha256 of binaries */
	size_t				 nhashes;

	/* An in-process consumer of one SVID (agent_watch_x509). */
	struct local_watch		*watch;
};

/* agent.c */
int64_t		 agent_now(const struct agent *);
void		 agent_schedule(struct agent *, double delay_ms);
void		 agent_set_ready(struct agent *);
void		 agent_fatal(struct agent *, const char *why);
void		 agent_changed(struct agent *);
void		 agent_release_channel(struct agent *, struct rpc_channel *);
int		 agent_local_bundle(struct agent *);
struct agent_entry *agent_entry_find(const struct agent *, const char *id);
const struct bundle *agent_find_bundle(const struct agent *,
		    const char *td);

/* selectors.c: sets of "type:value" strings, sorted by strcmp. */
void		 selectors_sort(char **, size_t *n);
int		 selectors_subset(char *const *sub, size_t nsub,
		    char *const *set, size_t nset);
void		 strings_free(char **, size_t);

/* entries.c */
struct _spire_api_types_Entry;
int		 entry_from_pb(const struct _spire_api_types_Entry *,
		    struct agent_entry **out, char *err, size_t errlen);
void		 entry_free(struct agent_entry *);
int		 entries_sort(struct agent_entry **, size_t);

/*
 * The revisions step of SyncAuthorizedEntries: given the cached entries
 * (sorted by id) and the server's revisions, marks in seen[] which
 * cached entries the server still has and returns in *need (sorted,
 * unique; strings borrowed from revs) the IDs to fetch in full because
 * they are unknown or stale. 0 or -1 (memory).
 */
struct entry_rev {
	const char	*id;
	int64_t		 revision;
	int64_t		 created_at;
};
int		 entries_stale(const struct agent_entry *, int64_t revision,
		    int64_t created_at);
int		 entries_diff(struct agent_entry *const *cached, size_t n,
		    const struct entry_rev *revs, size_t nrevs,
		    unsigned char *seen, const char ***need, size_t *nneed);

/* rotation.c */
int64_t		 rotation_time(int64_t not_before, int64_t not_after,
		    double r01);
double		 rotation_backoff_next(double cur_ms, double base_ms,
		    double max_ms);
double		 rotation_jitter(double ms, double r01);
double		 rotation_random(void);

/* agent.c: the cached SVID's TPM key, loaded on the worker. */
void		 agent_load_own(struct agent *);

/* cache.c */
enum cache_table {
	CACHE_T_AGENT,		/* "svid", "key": own identity; "synced" */
	CACHE_T_BUNDLES,	/* trust domain -> Bundle (protobuf) */
	CACHE_T_ENTRIES,	/* entry id -> Entry (protobuf) */
	CACHE_T_SVIDS,		/* entry id -> SVID record */
	CACHE_T_COUNT,
};
extern const struct store_table_def cache_tables[CACHE_T_COUNT];
int		 cache_svid_encode(const struct agent_svid_rec *,
		    struct buf *out) __attribute__((warn_unused_result));
int		 cache_svid_decode(const uint8_t *, size_t,
		    struct agent_svid_rec *)
		    __attribute__((warn_unused_result));
int		 cache_load(struct agent *);
int		 cache_bundle_encode(const struct bundle *, struct buf *);
int		 cache_bundle_decode(const uint8_t *, size_t, const char *td,
		    struct bundle *);
int		 cache_save_own_svid(struct agent *);
int		 cache_drop_own_svid(struct agent *);
int		 chain_split(const uint8_t *, size_t, const uint8_t **der,
		    size_t *lens, size_t max, size_t *n);
int		 own_svid_from_chain(struct agent *, struct agent_svid *,
		    const uint8_t *chain, size_t chain_len,
		    struct agent_key *key, char *err, size_t errlen);
void		 own_svid_set(struct agent *, struct agent_svid *);
int		 cache_own_from_record(struct agent *,
		    const struct agent_svid_rec *, char *err, size_t errlen);
void		 own_svid_clear(struct agent *);

/* srvconn.c */
int		 srvconn_init(struct agent *);
void		 srvconn_free(struct agent *);
int		 srvconn_set_identity(struct agent *);
struct rpc_channel *srvconn_boot_channel(struct agent *);
struct srv_result {
	enum grpc_status	 code;
	const char		*message;
	int			 pd_reason;	/* PermissionDeniedDetails */
	const uint8_t		*resp;		/* the single reply */
	size_t			 resp_len;
};
typedef void	(*srv_unary_fn)(struct agent *, void *arg,
		    const struct srv_result *);
int		 srvconn_unary(struct agent *, struct rpc_channel *,
		    const char *path, const struct buf *req, srv_unary_fn,
		    void *arg);
int		 srvconn_pd_reason(const uint8_t *details, size_t len);
int		 srvconn_verify_svid(struct agent *, const struct bundle *with,
		    const uint8_t *chain, size_t chain_len,
		    const char *want_id, const uint8_t *want_spki,
		    size_t spki_len, char *err, size_t errlen);
int		 srvconn_bundle_from_pb(const void *pb_bundle,
		    struct bundle *out, char *err, size_t errlen);

/* ownkey.c: the agent's own key, and the TPMs the plugins use. */
int		 ownkey_init(struct agent *);
void		 ownkey_cleanup(struct agent *);
struct agent_tpm *agent_tpm_ref(struct agent_tpm *);
void		 agent_tpm_unref(struct agent_tpm *);
struct tpm;
/* On the worker only: the TPM, opened at first use; NULL with err. */
struct tpm	*agent_tpm_get(struct agent_tpm *, char *err, size_t errlen);
/*
 * done(arg, key, err) with a new reference (the callee's), or key NULL
 * and the reason. Software keys answer before the call returns; TPM
 * keys are made (and their blob saved) or loaded on the worker. 0 means
 * done will run once; -1 that it will not.
 */
typedef void	(*ownkey_fn)(void *arg, struct agent_key *, const char *err);
int		 ownkey_make(struct agent *, ownkey_fn, void *arg);
/* A key from what the cache keeps for it (ownkey's stored bytes). */
int		 ownkey_load(struct agent *, const uint8_t *stored, size_t len,
		    ownkey_fn, void *arg);
int		 ownkey_is_tpm(const uint8_t *stored, size_t len);
struct agent_key *ownkey_ref(struct agent_key *);
void		 ownkey_unref(struct agent_key *);
/*
 * The agent's CSR (C=US, O=SPIRE) signed by the key through
 * key_sign_async: on the worker for a TPM key. done(arg, csr, len, err),
 * the CSR borrowed for the call. 0 or -1, as ownkey_make.
 */
typedef void	(*ownkey_csr_fn)(void *arg, const uint8_t *csr, size_t len,
		    const char *err);
int		 ownkey_csr(struct agent *, struct agent_key *, ownkey_csr_fn,
		    void *arg);
/* Fills the key's part of a TLS identity; undo when it was refused. */
void		 ownkey_identity(struct agent_key *, struct tls_identity *);
void		 ownkey_identity_undo(struct tls_identity *);
/* Removes the TPM blobs in data_dir that no live key uses. */
void		 ownkey_sweep(struct agent *);

/* devid.c: tpm_devid on the worker. */
struct devid_session;
typedef void	(*devid_fn)(void *arg, const char *msg, size_t len,
		    const char *err);
struct devid_session *devid_start(struct agent *, devid_fn, void *arg);
int		 devid_answer(struct devid_session *, const uint8_t *, size_t,
		    devid_fn, void *arg);
void		 devid_close(struct devid_session *);

/* attest.c */
void		 attest_start(struct agent *);
void		 attest_free(struct agent *);

/* bundleurl.c */
int		 bundleurl_start(struct agent *);
void		 bundleurl_cancel(struct agent *);

/* x509pop.c */
int		 x509pop_payload(const struct agent_x509pop_config *,
		    struct buf *out, char *err, size_t errlen);
int		 x509pop_respond(const struct agent_x509pop_config *,
		    const uint8_t *challenge, size_t len, struct buf *out,
		    char *err, size_t errlen);
struct key;
int		 x509pop_response_json(struct key *, const uint8_t *chal_nonce,
		    size_t chal_len, const uint8_t resp_nonce[32],
		    struct buf *out, char *err, size_t errlen);

/* sync.c */
void		 sync_start(struct agent *);
void		 sync_free(struct agent *);
void		 sync_handle_denied(struct agent *, int reason,
		    const char *msg);

/* jwt.c */
struct jwt_req;
void		 jwt_fetch(struct agent *, struct agent_entry *,
		    char **aud, size_t naud,
		    void (*done)(struct agent *, void *, const char *token,
		    const char *err), void *arg);
void		 jwt_cache_clear(struct agent *);
void		 jwt_cache_prune(struct agent *, const char *entry_id);

/* unixattest.c */
struct wl_attest;
typedef void	(*unixattest_fn)(struct agent *, void *arg, int code,
		    const char *err, char **sel, size_t nsel);
int		 unixattest_start(struct agent *, const void *peer,
		    unixattest_fn, void *arg, struct wl_attest **out);
void		 unixattest_cancel(struct wl_attest *);
void		 unixattest_free_all(struct agent *);

/* workload.c */
int		 workload_register(struct agent *);
void		 workload_notify(struct agent *);
void		 workload_stop(struct agent *);

/* local.c: the in-process consumer, told of every change. */
void		 local_notify(struct agent *);
void		 local_free(struct agent *);

/* pbw.c: protobuf writing (fields appended to a struct buf). */
int		 pbw_varint(struct buf *, uint64_t);
int		 pbw_tag(struct buf *, unsigned field, unsigned wire);
int		 pbw_bytes(struct buf *, unsigned field, const void *,
		    size_t);
int		 pbw_string(struct buf *, unsigned field, const char *);
int		 pbw_uint(struct buf *, unsigned field, uint64_t);
int		 pbw_double(struct buf *, unsigned field, double);
int		 pbw_message(struct buf *, unsigned field,
		    const struct buf *msg);

#endif
