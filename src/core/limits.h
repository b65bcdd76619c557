/*
 * Every cap on something that grows, in one place (STYLE rule 9).
 * Units are in the names or the comments; change a cap here, nowhere else.
 */
#ifndef CORE_LIMITS_H
#define CORE_LIMITS_H

/* Logging. */
#define LOG_LINE_MAX		4096	/* bytes in one formatted log line */

/* Configuration. */
#define CONFIG_FILE_MAX		(1024 * 1024)	/* bytes in a config file */
#define CONFIG_DEPTH_MAX	16	/* nesting of blocks and lists */
#define CONFIG_STRING_MAX	(64 * 1024)	/* bytes in one string value */
#define CONFIG_LIST_MAX		1024	/* items in one list */
#define CONFIG_ITEMS_MAX	4096	/* keys in one block */
#define CONFIG_NODES_MAX	65536	/* keys and values in one file */
#define CONFIG_KEY_MAX		256	/* bytes in a key, label or number */
#define CONFIG_LABELS_MAX	4	/* labels after a block's name */
#define CONFIG_HEREDOC_TAG_MAX	64	/* bytes in a heredoc's anchor */
#define CONFIG_ERRORS_MAX	64	/* errors kept from one load */
#define CONFIG_ERROR_MSG_MAX	256	/* bytes in one error message */
#define CONFIG_ENV_NAME_MAX	256	/* bytes in one $NAME or ${NAME} */

/* gRPC and HTTP/2. */
#define RPC_MSG_MAX_DEFAULT	(4 * 1024 * 1024) /* bytes; SPIRE's limit */
#define RPC_STREAMS_MAX		128	/* concurrent streams a connection */
#define RPC_CONNS_MAX		1024	/* connections a listener keeps */
#define RPC_LISTEN_BACKLOG	1024	/* connections waiting for accept; the
					 * kernel caps it at somaxconn, as Go's
					 * listeners ask for */
#define RPC_SOCK_OUT_MAX	(256 * 1024) /* framed bytes queued to a sock */
#define RPC_STREAM_OUT_MAX	(1024 * 1024) /* message bytes queued a stream;
					 * one message is always let in */
#define RPC_CONN_OUT_MAX	(8 * 1024 * 1024) /* message bytes queued on all
					 * streams of a connection */
#define RPC_CONN_IN_MAX		(16 * 1024 * 1024) /* bytes of partial messages
					 * a connection holds */
#define RPC_STREAM_WINDOW	65535	/* bytes; HTTP/2 initial stream wnd */
#define RPC_CONN_WINDOW		(1024 * 1024) /* bytes; connection window */
#define RPC_METADATA_MAX	(16 * 1024) /* bytes of request headers */
#define RPC_METADATA_COUNT_MAX	64	/* custom headers kept per call */
#define RPC_DETAILS_MAX		(16 * 1024) /* bytes of grpc-status-details */
#define RPC_STATUS_MSG_MAX	1024	/* bytes of grpc-message, decoded */
#define RPC_TIMEOUT_MAX_SEC	(100 * 86400) /* longest grpc-timeout kept */
#define RPC_HANDSHAKE_SEC	10	/* connect, TLS, preface end by then */
#define RPC_GOAWAY_GRACE_SEC	5	/* in-flight calls get this at stop */
#define RPC_BACKOFF_MIN_MS	1000	/* client reconnect, first delay */
#define RPC_BACKOFF_MAX_MS	120000	/* client reconnect, largest delay */
#define RPC_TRIM_AFTER		(256 * 1024) /* message bytes a call moved
					   after which its end hands freed
					   heap back (malloc_trim) */
#define RPC_REPLAY_MAX		(64 * 1024) /* request bytes a client call keeps
					 * to resend when GOAWAY refused it */
#define RPC_HEALTH_SERVICES_MAX	64	/* services with a health status */
#define RPC_HEALTH_WATCHERS_MAX	256	/* open grpc.health.v1 Watch calls */
#define RPC_LOG_WARN_SEC	10	/* at most one warn line per reason */

/* TLS and certificates. */
#define TLS_PEER_CHAIN_MAX	8	/* certificates a TLS peer may send */
#define X509_CERT_MAX		(64 * 1024) /* bytes of one DER certificate */
#define X509_SANS_MAX		64	/* URI or DNS SANs kept per cert */
#define X509_CHAIN_MAX		8	/* certificates in a chain to verify */
#define PEM_BLOCKS_MAX		64	/* PEM blocks read from one file */
#define PEM_BLOCK_MAX		(64 * 1024) /* bytes of DER in one block */

/* SPIFFE. */
#define SPIFFE_ID_MAX		2048	/* bytes of a SPIFFE ID, the spec's */
#define SPIFFE_TD_MAX		255	/* bytes of a trust domain name */

/* Store. */
#define STORE_TABLES_MAX	32	/* named tables a caller declares */
#define STORE_TABLE_NAME_MAX	32	/* bytes in a table's name */
#define STORE_KIND_MAX		16	/* bytes in a store's kind ("agent") */
#define STORE_MAP_DEFAULT	(64UL * 1024 * 1024) /* bytes of LMDB map */
#define STORE_KEY_MAX		511	/* bytes in a key, or a value of a
					   dup table: LMDB's built-in limit */
#define STORE_READERS_MAX	126	/* read txns open at once (LMDB's
					   default reader slots) */
#define STORE_UNMAP_FAULTS	32	/* page faults of the process after
					   which the map's pages are let go
					   when no txn is open (store.c) */

/* Server. */
#define PEMFILE_MAX		(1024 * 1024) /* bytes of a PEM file read */
#define SERVER_KEYS_MAX		16	/* keys the KeyManager holds */
#define SERVER_ENTRY_ID_MAX	255	/* bytes of an entry ID */
#define SERVER_ENTRY_PAGE	500	/* entries per SyncAuthorizedEntries
					   page, SPIRE's defaultEntryPageSize */
#define SERVER_ENTRY_SELECTORS_MAX 64	/* selectors of one entry */
#define SERVER_ENTRY_DNS_MAX	32	/* DNS names of one entry */
#define SERVER_NODE_SELECTORS_MAX 256	/* selectors of one attested node */
#define SERVER_AUTHORIZED_MAX	65535	/* entries one agent may be given
					   (nanopb's repeated count) */
#define SERVER_BATCH_MAX	1000	/* items of one Batch* admin call */
#define SERVER_BATCH_TXN_MAX	64	/* items of a Batch* call written in
					   one transaction: LMDB keeps the
					   dirty pages of its largest for
					   good (4 KiB each, 4 a new entry) */
#define SERVER_ATTEST_PEERS_MAX	1024	/* addresses the AttestAgent rate
					   limiter remembers */
#define SERVER_CHALLENGES_MAX	1	/* node attestation challenges */
#define SERVER_X509POP_INTERMEDIATES_MAX 4 /* SPIRE 1.13.4's cap */
#define SERVER_PAGE_TOKEN_MAX	128	/* bytes of a list page token */

/* Server nested under a parent (UpstreamAuthority "spire", gateways). */
#define SERVER_UPSTREAM_RETRY_MIN_SEC 5	/* first wait after a failed or
					   refused CA request */
#define SERVER_UPSTREAM_RETRY_MAX_SEC 300 /* longest such wait */
#define SERVER_UPSTREAM_POLL_SEC 5	/* GetBundle on the parent while it
					   answers: SPIRE's upstreamPollFreq */
#define SERVER_UPSTREAM_CALL_SEC 30	/* deadline of one call to the
					   parent */
#define SERVER_UPSTREAM_CHAIN_MAX 8	/* certificates of a CA chain the
					   parent sends (ca_svid's room) */
#define SERVER_UPSTREAM_ROOTS_MAX 64	/* X.509 roots of the parent kept */
#define SERVER_UPSTREAM_JWT_MAX	64	/* JWT keys of the parent kept */
#define SERVER_UPSTREAM_PUBLISH_MAX 4	/* own JWT keys waiting to be
					   published to the parent */
#define SERVER_NAME_VALUES_MAX	8	/* values of one attribute type in a
					   CA subject we copy */

/* Operator commands (spirelet server entry ..., agent api ...). */
#define CLI_JSON_MAX		(64 * 1024 * 1024) /* bytes of -output json */
#define CLI_JSON_DEPTH_MAX	32	/* nesting of a printed JSON value */
#define CLI_ADMIN_TIMEOUT_SEC	60	/* one admin API call; SPIRE's CLI
					 * waits forever, a stuck server should
					 * not hang a script */
#define CLI_PAGE_SIZE_ENTRIES	500	/* ListEntries page, as spire-server */
#define CLI_PAGE_SIZE_AGENTS	1000	/* ListAgents page, as spire-server */
#define CLI_PAGES_MAX		100000	/* pages of one listing followed */
#define CLI_FILE_MAX		(16 * 1024 * 1024) /* bytes of a -data,
					 * -file or -path input */
#define CLI_WATCH_BACKOFF_MAX_SEC 30	/* api watch retry, as go-spiffe's
					 * linear backoff: 1 s, 2 s, ... 30 s */

/* Agent. */
#define AGENT_ENTRIES_MAX	65536	/* registration entries cached */
#define AGENT_ENTRY_SELECTORS_MAX 64	/* selectors of one entry */
#define AGENT_ENTRY_FEDERATES_MAX 64	/* federates_with of one entry */
#define AGENT_WORKLOAD_SELECTORS_MAX 1024 /* selectors of one caller */
#define AGENT_BUNDLES_MAX	256	/* federated bundles cached */
#define AGENT_CSR_BATCH_MAX	500	/* CSRs in one BatchNewX509SVID, as
					 * SPIRE; halved on each failure */
#define AGENT_SUBSCRIBERS_MAX	4096	/* open Workload API streams */
#define AGENT_JWT_CACHE_MAX	1000	/* JWT-SVIDs cached, SPIRE's default */
#define AGENT_JWT_AUD_MAX	32	/* audiences in one JWT request */
#define AGENT_HASH_CACHE_MAX	64	/* workload binaries' sha256 kept */
#define AGENT_PROC_FILE_MAX	(64 * 1024) /* bytes read of a /proc file */
#define AGENT_RPC_TIMEOUT_SEC	30	/* each call to the server, SPIRE's */
#define AGENT_ATTEST_RETRY_MS	5000	/* first delay after attestation
					 * failed, SPIRE's bootstrap backoff */
#define AGENT_SYNC_BACKOFF_MAX_MS (8 * 60 * 1000) /* SPIRE's cap; also at
					 * most 48 sync intervals */
#define AGENT_BUNDLE_FILE_MAX	(1024 * 1024) /* bytes of a trust bundle file */
#define AGENT_TPM_PATH_MAX	4096	/* bytes of a TPM device or blob path */
#define AGENT_RESPONSE_MAX	(4 * 1024 * 1024) /* bytes of one Workload API
					 * response */

/* Worker thread. */
#define WORKER_QUEUE_MAX	256	/* jobs waiting for the worker */

#endif
