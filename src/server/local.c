/*
 * In-process services for the agent of the same process (spirelet run):
 * whether the server API is up and on which port, the roots the agent
 * bootstraps with, and join tokens for it. The command line calls
 * these; the agent never includes the server (doc/architecture.md).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <pb_decode.h>

#include "core/log.h"
#include "core/mem.h"
#include "server/pbutil.h"
#include "server/server.h"
#include "server/srv.h"

int
server_ready(const struct server *s)
{
	return s->tcp != NULL;
}

int
server_port(const struct server *s)
{
	return s->tcp != NULL ? rpc_listener_port(s->tcp) : 0;
}

int
server_bundle_roots(struct server *s, int (*add)(void *, const uint8_t *,
    size_t), void *arg)
{
	struct store_txn	*txn;
	spire_api_types_Bundle	 b;
	pb_size_t		 i;
	int			 rc, n = 0;

	if (store_txn_begin(s->store, STORE_READ, &txn) != STORE_OK)
		return -1;
	memset(&b, 0, sizeof(b));
	rc = ds_bundle_get(txn, s->cfg->trust_domain, &b);
	store_txn_abort(txn);
	if (rc == DS_NOTFOUND)
		return 0;
	if (rc != 0)
		return -1;
	for (i = 0; i < b.x509_authorities_count; i++) {
		if (b.x509_authorities[i].asn1 == NULL)
			continue;
		if (add(arg, b.x509_authorities[i].asn1->bytes,
		    b.x509_authorities[i].asn1->size) == -1) {
			n = -1;
			break;
		}
		n++;
	}
	pb_release(spire_api_types_Bundle_fields, &b);
	return n;
}

/* The token and the alias entries of earlier tokens to delete. */
struct local_token {
	struct server	*s;
	const char	*token;
	int64_t		 exp;
	const char	*alias;
	char		 old[8][SERVER_ENTRY_ID_MAX + 1];
	size_t		 nold;
};

/*
 * An alias entry a local token made: the alias's ID, parented to a
 * join-token agent, with that agent's spiffe_id as its only selector.
 */
static int
local_old_cb(const char *eid, size_t len, void *arg)
{
	struct local_token	*t = arg;

	(void)len;
	if (t->nold < sizeof(t->old) / sizeof(t->old[0]))
		snprintf(t->old[t->nold++], sizeof(t->old[0]), "%s", eid);
	return 0;
}

static enum store_err
local_token_txn(struct store_txn *txn, void *arg)
{
	struct local_token	*t = arg;
	spire_api_types_Entry	 e;
	char			 parent[SPIFFE_ID_MAX + 1];
	char			 prefix[SPIFFE_ID_MAX + 32];
	size_t			 i;
	int			 rc, mine, plen;

	t->nold = 0;
	if (ds_entry_walk_index(txn, DS_ENTRY_BY_SPIFFE, t->alias,
	    local_old_cb, t) != 0)
		return STORE_IO;
	plen = snprintf(prefix, sizeof(prefix), "%s/spire/agent/join_token/",
	    t->s->td_id);
	if (plen < 0 || plen >= (int)sizeof(prefix))
		return STORE_IO;
	for (i = 0; i < t->nold; i++) {
		if (ds_entry_get(txn, t->old[i], &e) != 0)
			continue;
		mine = e.has_parent_id && ds_id_string(&e.parent_id, parent,
		    sizeof(parent)) == 0 &&
		    strncmp(parent, prefix, (size_t)plen) == 0 &&
		    e.selectors_count == 1 &&
		    e.selectors[0].type != NULL &&
		    strcmp(e.selectors[0].type, "spiffe_id") == 0 &&
		    e.selectors[0].value != NULL &&
		    strcmp(e.selectors[0].value, parent) == 0;
		pb_release(spire_api_types_Entry_fields, &e);
		if (mine && ds_entry_del(txn, t->old[i]) == -1)
			return STORE_IO;
	}
	rc = ds_token_put(txn, t->token, t->exp);
	return rc == 0 ? STORE_OK : rc == DS_EXISTS ? STORE_EXISTS : STORE_IO;
}

int
server_local_token(struct server *s, const char *alias, int64_t ttl,
    char *tok, size_t len)
{
	struct local_token	 t;
	spire_api_types_Entry	 e;
	spire_api_types_Selector sel;
	char			 parent[SPIFFE_ID_MAX + 1], eid[37], buf[37];
	const char		*emsg;
	int			 code, rc = -1;

	memset(&e, 0, sizeof(e));
	if (srv_uuid(buf) == -1 || strlen(buf) + 1 > len)
		return -1;
	memset(&t, 0, sizeof(t));
	t.s = s;
	t.token = buf;
	t.exp = (int64_t)time(NULL) + ttl;
	t.alias = alias;
	if (store_txn_run(s->store, local_token_txn, &t) != STORE_OK) {
		log_warnx("server", "cannot store a join token for the local "
		    "agent");
		return -1;
	}
	/* The alias entry, as CreateJoinToken with agent_id makes it. */
	if (snprintf(parent, sizeof(parent), "%s/spire/agent/join_token/%s",
	    s->td_id, buf) >= (int)sizeof(parent))
		return -1;
	memset(&sel, 0, sizeof(sel));
	sel.type = (char *)(uintptr_t)"spiffe_id";
	sel.value = parent;
	if (srv_uuid(eid) == -1 || srv_id_set(&e.spiffe_id, alias) == -1 ||
	    srv_id_set(&e.parent_id, parent) == -1)
		goto out;
	e.id = eid;
	e.has_spiffe_id = true;
	e.has_parent_id = true;
	e.selectors = &sel;
	e.selectors_count = 1;
	if (srv_entries_create(s, &e, 1, &code, &emsg) == -1 || code != 0) {
		log_kv(LOG_LEVEL_WARN, "server", "cannot register the local "
		    "agent's alias", "alias", alias, "error", code != 0 ?
		    emsg : "store failed", (const char *)NULL);
		goto out;
	}
	snprintf(tok, len, "%s", buf);
	snprintf(s->local_token, sizeof(s->local_token), "%s", buf);
	log_kv(LOG_LEVEL_INFO, "server", "join token made for the agent of "
	    "this process", "alias", alias, (const char *)NULL);
	rc = 0;
out:
	mem_free(e.spiffe_id.trust_domain);
	mem_free(e.spiffe_id.path);
	mem_free(e.parent_id.trust_domain);
	mem_free(e.parent_id.path);
	return rc;
}
