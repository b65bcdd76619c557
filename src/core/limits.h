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

/* gRPC and HTTP/2. */
#define RPC_MSG_MAX_DEFAULT	(4 * 1024 * 1024) /* bytes; SPIRE's limit */
#define RPC_STREAMS_MAX		128	/* concurrent streams a connection */
#define RPC_CONNS_MAX		1024	/* connections a listener keeps */
#define RPC_CONN_OUT_MAX	(256 * 1024) /* bytes queued to a socket */
#define RPC_STREAM_OUT_MAX	(8 * 1024 * 1024) /* bytes queued a stream */
#define RPC_CONN_IN_MAX		(16 * 1024 * 1024) /* bytes unread, a conn */
#define RPC_METADATA_MAX	(16 * 1024) /* bytes of request headers */
#define RPC_HANDSHAKE_SEC	10	/* TLS and preface must end by then */
#define RPC_GOAWAY_GRACE_SEC	5	/* in-flight calls get this at stop */
#define RPC_BACKOFF_MIN_MS	1000	/* client reconnect, first delay */
#define RPC_BACKOFF_MAX_MS	120000	/* client reconnect, largest delay */

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
#define STORE_TABLES_MAX	32	/* named tables in one environment */
#define STORE_MAP_DEFAULT	(64UL * 1024 * 1024) /* bytes of LMDB map */

/* Worker thread. */
#define WORKER_QUEUE_MAX	256	/* jobs waiting for the worker */

#endif
