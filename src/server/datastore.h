/*
 * The server's datastore over store/store.h: registration entries (as
 * spire.api.types.Entry protobuf) with indexes by parent ID, SPIFFE ID
 * and selector, attested nodes, join tokens, bundles (own and federated,
 * as spire.api.types.Bundle) and the CA journal.
 *
 * Every function works inside a transaction the caller holds, so one
 * logical change (a batch of entries, an attestation) is one commit:
 * run writes through store_txn_run. Decoded messages are the caller's,
 * released with pb_release and the message's fields.
 *
 * Errors: 0, DS_NOTFOUND, DS_EXISTS, or -1 (DS_ERROR, logged by the
 * store). Index keys longer than LMDB allows are replaced by a hash of
 * the value, so IDs of any legal length can be indexed.
 */
#ifndef SERVER_DATASTORE_H
#define SERVER_DATASTORE_H

#include <stddef.h>
#include <stdint.h>

#include "spire/api/types/types.pb.h"
#include "spirelet/server/store.pb.h"
#include "store/store.h"

#define DS_ERROR	(-1)
#define DS_NOTFOUND	1
#define DS_EXISTS	2

/* The tables, in the order store_open is given them. */
enum ds_table {
	DS_ENTRIES,		/* id -> Entry */
	DS_ENTRY_BY_PARENT,	/* parent ID -> ids (dups) */
	DS_ENTRY_BY_SPIFFE,	/* SPIFFE ID -> ids (dups) */
	DS_ENTRY_BY_SELECTOR,	/* "type:value" -> ids (dups) */
	DS_NODES,		/* agent ID -> Node */
	DS_TOKENS,		/* token -> JoinToken */
	DS_BUNDLES,		/* trust domain name -> Bundle */
	DS_JOURNAL,		/* "ca" -> Journal */
	DS_NTABLES
};

extern const struct store_table_def ds_tables[DS_NTABLES];

/*
 * "spiffe://td/path" of a SPIFFEID message into buf (NUL-terminated).
 * 0, or -1 when it does not fit.
 */
int	ds_id_string(const spire_api_types_SPIFFEID *, char *buf, size_t len);

/* Entries. */
/* Reads entry id into e (decoded; release it). 0, DS_NOTFOUND, -1. */
int	ds_entry_get(struct store_txn *, const char *id,
	    spire_api_types_Entry *e) __attribute__((warn_unused_result));
/*
 * Stores e under e->id with its indexes; a stored entry of that id is
 * replaced (its old index rows removed). 0 or -1.
 */
int	ds_entry_put(struct store_txn *, const spire_api_types_Entry *e)
	    __attribute__((warn_unused_result));
/* Deletes entry id and its index rows. 0, DS_NOTFOUND, -1. */
int	ds_entry_del(struct store_txn *, const char *id)
	    __attribute__((warn_unused_result));
/*
 * Calls fn(id, arg) for each entry id under key of an index table
 * (DS_ENTRY_BY_*) until fn returns non-zero (returned then). The id is
 * borrowed for the call; fn must not write to the store. 0 or -1.
 */
int	ds_entry_walk_index(struct store_txn *, enum ds_table,
	    const char *key, int (*fn)(const char *id, size_t len, void *),
	    void *arg) __attribute__((warn_unused_result));
/*
 * Calls fn for each entry in id order starting after `after` ("" for
 * the first), decoded into a message fn borrows, until fn returns
 * non-zero (returned then). 0 or -1.
 */
int	ds_entry_walk(struct store_txn *, const char *after,
	    int (*fn)(const spire_api_types_Entry *, void *), void *arg)
	    __attribute__((warn_unused_result));
/* Entries stored. */
int	ds_entry_count(struct store_txn *, size_t *n)
	    __attribute__((warn_unused_result));

/* Nodes. */
int	ds_node_get(struct store_txn *, const char *agent_id,
	    spirelet_server_Node *n) __attribute__((warn_unused_result));
int	ds_node_put(struct store_txn *, const char *agent_id,
	    const spirelet_server_Node *n) __attribute__((warn_unused_result));
int	ds_node_del(struct store_txn *, const char *agent_id)
	    __attribute__((warn_unused_result));
/* As ds_entry_walk, over nodes in agent ID order. */
int	ds_node_walk(struct store_txn *, const char *after,
	    int (*fn)(const char *agent_id, const spirelet_server_Node *,
	    void *), void *arg) __attribute__((warn_unused_result));

/* Join tokens. */
int	ds_token_put(struct store_txn *, const char *token,
	    int64_t expires_at) __attribute__((warn_unused_result));
/*
 * Takes a token: deletes it and stores its expiry. 0, DS_NOTFOUND, -1.
 */
int	ds_token_take(struct store_txn *, const char *token,
	    int64_t *expires_at) __attribute__((warn_unused_result));

/* Bundles (key: bare trust domain name). */
int	ds_bundle_get(struct store_txn *, const char *td,
	    spire_api_types_Bundle *b) __attribute__((warn_unused_result));
int	ds_bundle_put(struct store_txn *, const spire_api_types_Bundle *b)
	    __attribute__((warn_unused_result));
int	ds_bundle_del(struct store_txn *, const char *td)
	    __attribute__((warn_unused_result));
/* As ds_entry_walk, over every bundle in trust domain order. */
int	ds_bundle_walk(struct store_txn *, const char *after,
	    int (*fn)(const spire_api_types_Bundle *, void *), void *arg)
	    __attribute__((warn_unused_result));

/* The CA journal. */
int	ds_journal_get(struct store_txn *, spirelet_server_Journal *j)
	    __attribute__((warn_unused_result));
int	ds_journal_put(struct store_txn *, const spirelet_server_Journal *j)
	    __attribute__((warn_unused_result));

/*
 * Encoding helpers for any nanopb message: a new buffer (mem_free) with
 * the encoding; 0 or -1. Decoding fills msg from untrusted-shaped bytes
 * (the store's own); 0 or -1.
 */
int	ds_encode(const pb_msgdesc_t *, const void *msg, uint8_t **out,
	    size_t *len) __attribute__((warn_unused_result));
int	ds_decode(const pb_msgdesc_t *, const void *buf, size_t len,
	    void *msg) __attribute__((warn_unused_result));

/*
 * The index key of a value: the value itself when it fits LMDB's key
 * size, else "#" and the hex SHA-256 of it. key needs STORE_KEY_MAX + 1
 * bytes; returns its length.
 */
size_t	ds_index_key(const char *value, size_t len, char *key);

#endif
