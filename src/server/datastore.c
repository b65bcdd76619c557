/*
 * The server datastore: protobuf records in LMDB tables with dupsort
 * indexes beside them, all inside the caller's transaction.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "core/log.h"
#include "core/mem.h"
#include "server/datastore.h"

const struct store_table_def ds_tables[DS_NTABLES] = {
	[DS_ENTRIES] = { "entries", 0 },
	[DS_ENTRY_BY_PARENT] = { "entry_by_parent", STORE_TABLE_DUPS },
	[DS_ENTRY_BY_SPIFFE] = { "entry_by_spiffe_id", STORE_TABLE_DUPS },
	[DS_ENTRY_BY_SELECTOR] = { "entry_by_selector", STORE_TABLE_DUPS },
	[DS_NODES] = { "nodes", 0 },
	[DS_TOKENS] = { "join_tokens", 0 },
	[DS_BUNDLES] = { "bundles", 0 },
	[DS_JOURNAL] = { "ca_journal", 0 },
};

#define JOURNAL_KEY	"ca"

static int	ds_err(enum store_err);
static int	ds_get_msg(struct store_txn *, unsigned, const char *,
		    const pb_msgdesc_t *, void *);
static int	ds_put_msg(struct store_txn *, unsigned, const char *,
		    const pb_msgdesc_t *, const void *);
static int	ds_entry_index(struct store_txn *,
		    const spire_api_types_Entry *, int);
static int	ds_index_one(struct store_txn *, unsigned, const char *,
		    const char *, int);

static int
ds_err(enum store_err e)
{
	switch (e) {
	case STORE_OK:
		return 0;
	case STORE_NOTFOUND:
		return DS_NOTFOUND;
	case STORE_EXISTS:
		return DS_EXISTS;
	default:
		return DS_ERROR;
	}
}

size_t
ds_index_key(const char *value, size_t len, char *key)
{
	uint8_t		 d[WC_SHA256_DIGEST_SIZE];
	size_t		 i;
	static const char hex[] = "0123456789abcdef";

	if (len > 0 && len <= STORE_KEY_MAX) {
		memcpy(key, value, len);
		key[len] = '\0';
		return len;
	}
	memset(d, 0, sizeof(d));
	(void)wc_Sha256Hash((const uint8_t *)value, (word32)len, d);
	key[0] = '#';
	for (i = 0; i < sizeof(d); i++) {
		key[1 + 2 * i] = hex[d[i] >> 4];
		key[2 + 2 * i] = hex[d[i] & 15];
	}
	key[1 + 2 * sizeof(d)] = '\0';
	return 1 + 2 * sizeof(d);
}

int
ds_id_string(const spire_api_types_SPIFFEID *id, char *buf, size_t len)
{
	int	n;

	n = snprintf(buf, len, "spiffe://%s%s",
	    id->trust_domain != NULL ? id->trust_domain : "",
	    id->path != NULL ? id->path : "");
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
ds_encode(const pb_msgdesc_t *fields, const void *msg, uint8_t **out,
    size_t *len)
{
	pb_ostream_t	 os;
	size_t		 n;
	uint8_t		*buf;

	*out = NULL;
	*len = 0;
	if (!pb_get_encoded_size(&n, fields, msg))
		return -1;
	buf = mem_alloc(n > 0 ? n : 1);
	if (buf == NULL)
		return -1;
	os = pb_ostream_from_buffer(buf, n);
	if (!pb_encode(&os, fields, msg)) {
		log_warnx("datastore", "encode: %s", PB_GET_ERROR(&os));
		mem_free(buf);
		return -1;
	}
	*out = buf;
	*len = n;
	return 0;
}

int
ds_decode(const pb_msgdesc_t *fields, const void *buf, size_t len,
    void *msg)
{
	pb_istream_t	is;

	is = pb_istream_from_buffer(buf, len);
	if (!pb_decode(&is, fields, msg)) {
		log_warnx("datastore", "stored record does not decode: %s",
		    PB_GET_ERROR(&is));
		return -1;
	}
	return 0;
}

static int
ds_get_msg(struct store_txn *txn, unsigned table, const char *key,
    const pb_msgdesc_t *fields, void *msg)
{
	struct store_val	v;
	char			k[STORE_KEY_MAX + 1];
	size_t			klen;
	int			rc;

	klen = ds_index_key(key, strlen(key), k);
	rc = ds_err(store_get(txn, table, k, klen, &v));
	if (rc != 0)
		return rc;
	return ds_decode(fields, v.data, v.len, msg);
}

static int
ds_put_msg(struct store_txn *txn, unsigned table, const char *key,
    const pb_msgdesc_t *fields, const void *msg)
{
	uint8_t		*buf;
	size_t		 len, klen;
	char		 k[STORE_KEY_MAX + 1];
	int		 rc;

	if (ds_encode(fields, msg, &buf, &len) == -1)
		return DS_ERROR;
	klen = ds_index_key(key, strlen(key), k);
	rc = ds_err(store_put(txn, table, k, klen, buf, len, 0));
	mem_free(buf);
	return rc;
}

/* Adds (add 1) or removes (0) one index row. */
static int
ds_index_one(struct store_txn *txn, unsigned table, const char *key,
    const char *id, int add)
{
	char		k[STORE_KEY_MAX + 1];
	size_t		klen;
	enum store_err	e;

	klen = ds_index_key(key, strlen(key), k);
	if (add)
		e = store_put(txn, table, k, klen, id, strlen(id), 0);
	else
		e = store_del(txn, table, k, klen, id, strlen(id));
	return e == STORE_OK || (!add && e == STORE_NOTFOUND) ? 0 : DS_ERROR;
}

static int
ds_entry_index(struct store_txn *txn, const spire_api_types_Entry *e,
    int add)
{
	char		 id[SPIFFE_ID_MAX + 1];
	char		*sel;
	size_t		 i, n;
	int		 rc;

	if (ds_id_string(&e->parent_id, id, sizeof(id)) == -1 ||
	    ds_index_one(txn, DS_ENTRY_BY_PARENT, id, e->id, add) != 0)
		return DS_ERROR;
	if (ds_id_string(&e->spiffe_id, id, sizeof(id)) == -1 ||
	    ds_index_one(txn, DS_ENTRY_BY_SPIFFE, id, e->id, add) != 0)
		return DS_ERROR;
	for (i = 0; i < e->selectors_count; i++) {
		n = strlen(e->selectors[i].type) +
		    strlen(e->selectors[i].value) + 2;
		sel = mem_alloc(n);
		if (sel == NULL)
			return DS_ERROR;
		snprintf(sel, n, "%s:%s", e->selectors[i].type,
		    e->selectors[i].value);
		rc = ds_index_one(txn, DS_ENTRY_BY_SELECTOR, sel, e->id, add);
		mem_free(sel);
		if (rc != 0)
			return DS_ERROR;
	}
	return 0;
}

int
ds_entry_get(struct store_txn *txn, const char *id, spire_api_types_Entry *e)
{
	memset(e, 0, sizeof(*e));
	return ds_get_msg(txn, DS_ENTRIES, id, spire_api_types_Entry_fields,
	    e);
}

int
ds_entry_put(struct store_txn *txn, const spire_api_types_Entry *e)
{
	spire_api_types_Entry	old;
	int			rc;

	rc = ds_entry_get(txn, e->id, &old);
	if (rc == 0) {
		rc = ds_entry_index(txn, &old, 0);
		pb_release(spire_api_types_Entry_fields, &old);
		if (rc != 0)
			return rc;
	} else if (rc != DS_NOTFOUND)
		return rc;
	rc = ds_put_msg(txn, DS_ENTRIES, e->id, spire_api_types_Entry_fields,
	    e);
	if (rc != 0)
		return rc;
	return ds_entry_index(txn, e, 1);
}

int
ds_entry_del(struct store_txn *txn, const char *id)
{
	spire_api_types_Entry	old;
	int			rc;

	rc = ds_entry_get(txn, id, &old);
	if (rc != 0)
		return rc;
	rc = ds_entry_index(txn, &old, 0);
	pb_release(spire_api_types_Entry_fields, &old);
	if (rc != 0)
		return rc;
	return ds_err(store_del(txn, DS_ENTRIES, id, strlen(id), NULL, 0));
}

int
ds_entry_walk_index(struct store_txn *txn, enum ds_table table,
    const char *key, int (*fn)(const char *, size_t, void *), void *arg)
{
	struct store_cursor	*c;
	struct store_val	 v;
	char			 k[STORE_KEY_MAX + 1], id[STORE_KEY_MAX + 1];
	size_t			 klen;
	enum store_err		 e;
	int			 rc = 0;

	klen = ds_index_key(key, strlen(key), k);
	if (store_cursor_open(txn, table, &c) != STORE_OK)
		return DS_ERROR;
	for (e = store_cursor_key(c, k, klen, &v); e == STORE_OK;
	    e = store_cursor_next_dup(c, &v)) {
		/* Copied: fn may read the store, which moves nothing, but
		 * the id must be a C string. */
		memcpy(id, v.data, v.len);
		id[v.len] = '\0';
		rc = fn(id, v.len, arg);
		if (rc != 0)
			break;
	}
	store_cursor_close(c);
	if (rc != 0)
		return rc;
	return e == STORE_NOTFOUND ? 0 : DS_ERROR;
}

/* Walks a table of protobuf records in key order after `after`. */
static int
ds_walk(struct store_txn *txn, unsigned table, const char *after,
    const pb_msgdesc_t *fields, size_t msgsize,
    int (*fn)(const char *, void *, void *), void *arg)
{
	struct store_cursor	*c;
	struct store_val	 k, v;
	char			 key[STORE_KEY_MAX + 1];
	void			*msg;
	enum store_err		 e;
	int			 rc = 0;

	msg = mem_calloc(1, msgsize);
	if (msg == NULL)
		return DS_ERROR;
	if (store_cursor_open(txn, table, &c) != STORE_OK) {
		mem_free(msg);
		return DS_ERROR;
	}
	if (after != NULL && *after != '\0') {
		e = store_cursor_seek(c, after, strlen(after), &k, &v);
		if (e == STORE_OK && k.len == strlen(after) &&
		    memcmp(k.data, after, k.len) == 0)
			e = store_cursor_next(c, &k, &v);
	} else
		e = store_cursor_first(c, &k, &v);
	for (; e == STORE_OK; e = store_cursor_next(c, &k, &v)) {
		memset(msg, 0, msgsize);
		if (ds_decode(fields, v.data, v.len, msg) == -1) {
			rc = DS_ERROR;
			break;
		}
		memcpy(key, k.data, k.len);
		key[k.len] = '\0';
		rc = fn(key, msg, arg);
		pb_release(fields, msg);
		if (rc != 0)
			break;
	}
	store_cursor_close(c);
	mem_free(msg);
	if (rc != 0)
		return rc;
	return e == STORE_NOTFOUND ? 0 : DS_ERROR;
}

struct entry_walk {
	int	(*fn)(const spire_api_types_Entry *, void *);
	void	*arg;
};

static int
ds_entry_walk_cb(const char *key, void *msg, void *arg)
{
	struct entry_walk	*w = arg;

	(void)key;
	return w->fn(msg, w->arg);
}

int
ds_entry_walk(struct store_txn *txn, const char *after,
    int (*fn)(const spire_api_types_Entry *, void *), void *arg)
{
	struct entry_walk	w = { fn, arg };

	return ds_walk(txn, DS_ENTRIES, after, spire_api_types_Entry_fields,
	    sizeof(spire_api_types_Entry), ds_entry_walk_cb, &w);
}

int
ds_entry_count(struct store_txn *txn, size_t *n)
{
	return ds_err(store_count(txn, DS_ENTRIES, n));
}

int
ds_node_get(struct store_txn *txn, const char *agent_id,
    spirelet_server_Node *n)
{
	memset(n, 0, sizeof(*n));
	return ds_get_msg(txn, DS_NODES, agent_id, spirelet_server_Node_fields,
	    n);
}

int
ds_node_put(struct store_txn *txn, const char *agent_id,
    const spirelet_server_Node *n)
{
	return ds_put_msg(txn, DS_NODES, agent_id, spirelet_server_Node_fields,
	    n);
}

int
ds_node_del(struct store_txn *txn, const char *agent_id)
{
	char	k[STORE_KEY_MAX + 1];
	size_t	klen;

	klen = ds_index_key(agent_id, strlen(agent_id), k);
	return ds_err(store_del(txn, DS_NODES, k, klen, NULL, 0));
}

struct node_walk {
	int	(*fn)(const char *, const spirelet_server_Node *, void *);
	void	*arg;
};

static int
ds_node_walk_cb(const char *key, void *msg, void *arg)
{
	struct node_walk		*w = arg;
	const spirelet_server_Node	*n = msg;
	char				 id[SPIFFE_ID_MAX + 1];

	/* The key may be a hash: the record holds the real ID. */
	if (n->has_agent && ds_id_string(&n->agent.id, id, sizeof(id)) == 0)
		return w->fn(id, n, w->arg);
	return w->fn(key, n, w->arg);
}

int
ds_node_walk(struct store_txn *txn, const char *after,
    int (*fn)(const char *, const spirelet_server_Node *, void *), void *arg)
{
	struct node_walk	w = { fn, arg };

	return ds_walk(txn, DS_NODES, after, spirelet_server_Node_fields,
	    sizeof(spirelet_server_Node), ds_node_walk_cb, &w);
}

int
ds_token_put(struct store_txn *txn, const char *token, int64_t expires_at)
{
	spirelet_server_JoinToken	t = { expires_at };
	uint8_t				*buf;
	size_t				 len;
	int				 rc;

	if (strlen(token) == 0 || strlen(token) > STORE_KEY_MAX)
		return DS_ERROR;
	if (ds_encode(spirelet_server_JoinToken_fields, &t, &buf, &len) == -1)
		return DS_ERROR;
	rc = ds_err(store_put(txn, DS_TOKENS, token, strlen(token), buf, len,
	    STORE_PUT_NEW));
	mem_free(buf);
	return rc;
}

int
ds_token_take(struct store_txn *txn, const char *token, int64_t *expires_at)
{
	spirelet_server_JoinToken	t;
	struct store_val		v;
	int				rc;

	if (strlen(token) == 0 || strlen(token) > STORE_KEY_MAX)
		return DS_NOTFOUND;
	rc = ds_err(store_get(txn, DS_TOKENS, token, strlen(token), &v));
	if (rc != 0)
		return rc;
	memset(&t, 0, sizeof(t));
	if (ds_decode(spirelet_server_JoinToken_fields, v.data, v.len, &t) ==
	    -1)
		return DS_ERROR;
	*expires_at = t.expires_at;
	return ds_err(store_del(txn, DS_TOKENS, token, strlen(token), NULL,
	    0));
}

int
ds_bundle_get(struct store_txn *txn, const char *td, spire_api_types_Bundle *b)
{
	memset(b, 0, sizeof(*b));
	return ds_get_msg(txn, DS_BUNDLES, td, spire_api_types_Bundle_fields,
	    b);
}

int
ds_bundle_put(struct store_txn *txn, const spire_api_types_Bundle *b)
{
	return ds_put_msg(txn, DS_BUNDLES, b->trust_domain,
	    spire_api_types_Bundle_fields, b);
}

int
ds_bundle_del(struct store_txn *txn, const char *td)
{
	return ds_err(store_del(txn, DS_BUNDLES, td, strlen(td), NULL, 0));
}

struct bundle_walk {
	int	(*fn)(const spire_api_types_Bundle *, void *);
	void	*arg;
};

static int
ds_bundle_walk_cb(const char *key, void *msg, void *arg)
{
	struct bundle_walk	*w = arg;

	(void)key;
	return w->fn(msg, w->arg);
}

int
ds_bundle_walk(struct store_txn *txn, const char *after,
    int (*fn)(const spire_api_types_Bundle *, void *), void *arg)
{
	struct bundle_walk	w = { fn, arg };

	return ds_walk(txn, DS_BUNDLES, after, spire_api_types_Bundle_fields,
	    sizeof(spire_api_types_Bundle), ds_bundle_walk_cb, &w);
}

int
ds_journal_get(struct store_txn *txn, spirelet_server_Journal *j)
{
	memset(j, 0, sizeof(*j));
	return ds_get_msg(txn, DS_JOURNAL, JOURNAL_KEY,
	    spirelet_server_Journal_fields, j);
}

int
ds_journal_put(struct store_txn *txn, const spirelet_server_Journal *j)
{
	return ds_put_msg(txn, DS_JOURNAL, JOURNAL_KEY,
	    spirelet_server_Journal_fields, j);
}
