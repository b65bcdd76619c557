/*
 * The LMDB layer both roles keep their state in: one environment per data
 * dir, named tables declared by the caller at open, read and write
 * transactions, cursors, a schema version and a kind ("server", "agent")
 * checked at open.
 *
 * Rules for callers:
 * - One write transaction per logical change or per sync batch, never one
 *   per entry: a durable commit costs an fsync (~300 us on virtio,
 *   milliseconds on SD/eMMC); puts inside one transaction cost ~1 us.
 * - Never hold a transaction across event-loop iterations: begin, work and
 *   end it inside one callback. An open read transaction pins old pages
 *   (the file grows) and an open write transaction blocks every other
 *   writer, including the worker thread.
 * - Read transactions may move between threads (the environment uses
 *   MDB_NOTLS) but are used by one thread at a time. A write transaction
 *   begins and ends on the same thread, and a thread holds at most one.
 * - Values read (store_val) point into the map: never write through them;
 *   they stay valid until the transaction ends, and in a write transaction
 *   only until its next put or del. Copy what you keep before commit or
 *   abort.
 * - Keys are 1 to STORE_KEY_MAX bytes; values of STORE_TABLE_DUPS tables
 *   are at most STORE_KEY_MAX bytes too (LMDB keeps duplicates as keys).
 *   Keys sort as bytes (memcmp, shorter first), so big-endian numbers sort
 *   numerically.
 *
 * Errors: every fallible function returns an enum store_err; LMDB's and the
 * system's codes are converted here and logged once here (subsystem
 * "store"). STORE_NOTFOUND and STORE_EXISTS are answers, not failures,
 * and are never logged.
 */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stddef.h>

#include "core/limits.h"

#define STORE_WUR	__attribute__((warn_unused_result))

enum store_err {
	STORE_OK = 0,
	STORE_NOTFOUND,		/* no such key, or the cursor walked off */
	STORE_EXISTS,		/* STORE_PUT_NEW and the key (pair) exists */
	STORE_FULL,		/* the map is full at its largest size */
	STORE_DISK_FULL,	/* the file system is full (ENOSPC, EDQUOT) */
	STORE_IO,		/* I/O error, or the environment is unusable */
	STORE_SCHEMA,		/* data dir has another schema version */
	STORE_KIND,		/* data dir belongs to the other role */
	STORE_UNSAFE,		/* data dir or file owner or mode unsafe */
	STORE_TABLE,		/* bad table declaration, or it disagrees with
				   the tables in the file */
	STORE_INVALID,		/* bad argument: key size, table, txn mode */
	STORE_BUSY,		/* no reader slot, or a second write txn on
				   the same thread */
	STORE_CORRUPT,		/* not a spirelet store, or damaged */
	STORE_NOMEM,		/* out of memory */
	STORE_ABORTED,		/* a store_txn_run callback gave up */
	STORE_SYSTEM,		/* another system error; the log has it */
};

/* A static string for the code; never NULL. */
const char	*store_strerror(enum store_err);

/* Bytes read from the store: borrowed, see the rules above. */
struct store_val {
	const void	*data;
	size_t		 len;
};

/* Table flags. */
#define STORE_TABLE_DUPS	0x01	/* sorted duplicate values per key
					   (MDB_DUPSORT), for indexes */

/*
 * One table the caller uses. The index of a declaration in the array given
 * to store_open is how every call names that table, so callers keep an
 * enum beside the array. Names are 1 to STORE_TABLE_NAME_MAX bytes of
 * [a-z0-9_], unique, and not "meta" (ours).
 */
struct store_table_def {
	const char	*name;
	unsigned	 flags;		/* STORE_TABLE_* */
};

/* Open flags. */
/*
 * Commits skip fsync: UNSAFE across power loss (the last commits may be
 * lost, the file may be corrupt). For tests and benchmarks only.
 */
#define STORE_OPEN_NOSYNC_UNSAFE	0x01

struct store_config {
	const char	*path;		/* data dir */
	const char	*kind;		/* "server", "agent": 1 to
					   STORE_KIND_MAX bytes */
	unsigned	 schema;	/* caller's schema version, >= 1 */
	const struct store_table_def *tables;
	size_t		 ntables;	/* at most STORE_TABLES_MAX */
	size_t		 map_size;	/* bytes; 0 is STORE_MAP_DEFAULT */
	/*
	 * Bytes the map may grow to when it fills, doubling each time; 0 or
	 * a value not above map_size means it never grows.
	 */
	size_t		 map_max;
	unsigned	 flags;		/* STORE_OPEN_* */
};

struct store;
struct store_txn;
struct store_cursor;

/*
 * Opens (or creates) the store in cfg->path. A missing directory is created
 * 0700 (with missing parents); an existing one must be a directory owned by
 * the effective user and not writable by group or other (STORE_UNSAFE).
 * Group/other may read it: the secrets are in the files, which are always
 * 0600, and packaged directories (systemd StateDirectory=) default to 0755.
 * A fresh store records cfg->schema and cfg->kind; an existing one must
 * match them (STORE_SCHEMA, STORE_KIND; the log names both values and the
 * path). Tables missing in the file are created. cfg and its strings are
 * copied. On success *out is the caller's, freed with store_close; on
 * failure *out is NULL and nothing is left open (directories and empty
 * store files it created stay).
 */
enum store_err	 store_open(const struct store_config *cfg,
		    struct store **out) STORE_WUR;
/* Closes the store; every transaction must have ended. Accepts NULL. */
void		 store_close(struct store *);
/* The data dir, as given; borrowed, valid until store_close. */
const char	*store_path(const struct store *);

enum store_txn_mode {
	STORE_READ,
	STORE_WRITE,
};

/*
 * Begins a transaction. A write begin waits while another thread writes.
 * On success *out must end with store_txn_commit or store_txn_abort; on
 * failure *out is NULL.
 */
enum store_err	 store_txn_begin(struct store *, enum store_txn_mode,
		    struct store_txn **out) STORE_WUR;
/*
 * Commits and always ends the transaction (and its cursors), whatever the
 * result. On failure nothing of it is visible. A write transaction in
 * which an operation failed (other than with STORE_NOTFOUND, STORE_EXISTS
 * or STORE_INVALID) is aborted here and that first error is returned.
 * After STORE_FULL the map has grown if it could (see store_txn_run).
 */
enum store_err	 store_txn_commit(struct store_txn *) STORE_WUR;
/* Ends the transaction and its cursors, discarding writes. Accepts NULL. */
void		 store_txn_abort(struct store_txn *);

/*
 * Runs fn in a write transaction and commits if fn returns STORE_OK;
 * otherwise aborts and returns fn's code (fn returns STORE_ABORTED for
 * reasons of its own). When the map fills and can grow, the map grows
 * once no transaction is open and fn runs again in a fresh transaction:
 * fn must leave no effect outside the store that a second run would
 * repeat wrongly. fn must not end the transaction itself. Returns the
 * commit's result otherwise.
 */
enum store_err	 store_txn_run(struct store *,
		    enum store_err (*fn)(struct store_txn *, void *arg),
		    void *arg) STORE_WUR;

/*
 * Reads the value of key (in a STORE_TABLE_DUPS table, its first
 * duplicate); STORE_NOTFOUND if absent. *val is borrowed.
 */
enum store_err	 store_get(struct store_txn *, unsigned table,
		    const void *key, size_t klen,
		    struct store_val *val) STORE_WUR;

/* Put flags. */
#define STORE_PUT_NEW	0x01	/* STORE_EXISTS if the key (in a DUPS table:
				   the key and value pair) exists */

/*
 * Stores val under key (the bytes are copied). Plain tables replace an
 * existing value; DUPS tables add val to the key's set, and adding a pair
 * that exists is a no-op without STORE_PUT_NEW.
 */
enum store_err	 store_put(struct store_txn *, unsigned table,
		    const void *key, size_t klen, const void *val,
		    size_t vlen, unsigned flags) STORE_WUR;
/*
 * Deletes key, or in a DUPS table only the pair (key, val) when val is not
 * NULL. STORE_NOTFOUND if there was nothing to delete.
 */
enum store_err	 store_del(struct store_txn *, unsigned table,
		    const void *key, size_t klen, const void *val,
		    size_t vlen) STORE_WUR;
/* Items in the table (every duplicate counts). */
enum store_err	 store_count(struct store_txn *, unsigned table,
		    size_t *n) STORE_WUR;

/*
 * Cursors walk one table inside one transaction and end with it: closing
 * one before is optional, closing one after is a bug. Every positioning
 * call returns the item it lands on through key and val (borrowed; either
 * may be NULL), or STORE_NOTFOUND.
 */
enum store_err	 store_cursor_open(struct store_txn *, unsigned table,
		    struct store_cursor **out) STORE_WUR;
/* Accepts NULL. */
void		 store_cursor_close(struct store_cursor *);
/* The first item of the table. */
enum store_err	 store_cursor_first(struct store_cursor *,
		    struct store_val *key, struct store_val *val) STORE_WUR;
/* The first item whose key is >= key. */
enum store_err	 store_cursor_seek(struct store_cursor *, const void *key,
		    size_t klen, struct store_val *okey,
		    struct store_val *oval) STORE_WUR;
/*
 * The first item whose key starts with prefix (plen may be 0 up to
 * STORE_KEY_MAX); from then on store_cursor_next stays inside the prefix
 * and answers STORE_NOTFOUND at its end. The prefix is copied.
 */
enum store_err	 store_cursor_prefix(struct store_cursor *,
		    const void *prefix, size_t plen, struct store_val *okey,
		    struct store_val *oval) STORE_WUR;
/* The first duplicate of exactly this key. */
enum store_err	 store_cursor_key(struct store_cursor *, const void *key,
		    size_t klen, struct store_val *oval) STORE_WUR;
/*
 * The next item (the next duplicate first, then the next key), within the
 * prefix if the cursor was placed by store_cursor_prefix.
 */
enum store_err	 store_cursor_next(struct store_cursor *,
		    struct store_val *key, struct store_val *val) STORE_WUR;
/* The next duplicate of the current key; STORE_NOTFOUND after the last. */
enum store_err	 store_cursor_next_dup(struct store_cursor *,
		    struct store_val *val) STORE_WUR;
/* Duplicates of the current key (1 in a plain table). */
enum store_err	 store_cursor_dups(struct store_cursor *,
		    size_t *n) STORE_WUR;
/*
 * Deletes the item under the cursor (in a DUPS table, that one duplicate).
 * The following store_cursor_next or store_cursor_next_dup returns the
 * item after it, so a walk may delete as it goes. Write transactions
 * only.
 */
enum store_err	 store_cursor_del(struct store_cursor *) STORE_WUR;

/* Sizes for budgets; cheap (no walk). */
struct store_stats {
	size_t		 map_size;	/* bytes mapped now */
	size_t		 map_max;	/* bytes it may grow to */
	/*
	 * Bytes up to the last used page: a high water mark, since freed
	 * pages are reused before the file grows.
	 */
	size_t		 map_used;
	size_t		 page_size;	/* bytes */
	size_t		 ntables;	/* declared tables */
	size_t		 entries[STORE_TABLES_MAX]; /* items per table, in
					   declaration order */
};

enum store_err	 store_stats(struct store *, struct store_stats *) STORE_WUR;

/*
 * Test hook: the next write commit (in any store of the process) fails
 * with this errno before anything is written, as a full or failing disk
 * would make it; 0 turns it off. Only for tests.
 */
void		 store_fail_next_commit(int err);

#endif
