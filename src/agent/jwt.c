/*
 * JWT-SVIDs on demand: SVID/NewJWTSVID per (entry, audience set), kept
 * in memory until half their life is gone (jittered as SPIRE does), at
 * most AGENT_JWT_CACHE_MAX of them (the least recently used go first).
 * When the server cannot be reached, a cached token that has not
 * expired is still handed out, as spire-agent does.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>

#include "agent/internal.h"
#include "core/log.h"
#include "core/mem.h"
#include "rpc/call.h"
#include "spire/api/server/svid/v1/svid.pb.h"
#include "spire/api/types/types.pb.h"

#define NEWJWT_PATH	"/spire.api.server.svid.v1.SVID/NewJWTSVID"

struct jwt_item {
	char		*entry_id;
	char		*aud;		/* sorted audiences, '\n'-joined */
	char		*token;
	int64_t		 iat;
	int64_t		 exp;
	int64_t		 rotate_at;
	uint64_t	 used;		/* LRU clock */
};

struct jwt_req {
	struct agent	*a;
	char		*entry_id;
	char		*aud;
	void		(*done)(struct agent *, void *, const char *,
			    const char *);
	void		*arg;
};

static uint64_t	 jwt_clock;

static int	aud_cmp(const void *, const void *);
static void	jwt_item_clear(struct jwt_item *);
static struct jwt_item *jwt_find(struct agent *, const char *entry_id,
		    const char *aud);
static void	jwt_put(struct agent *, const char *entry_id, const char *aud,
		    const char *token, int64_t iat, int64_t exp);
static void	jwt_done(struct agent *, void *, const struct srv_result *);

static int
aud_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
jwt_item_clear(struct jwt_item *it)
{
	mem_free(it->entry_id);
	mem_free(it->aud);
	if (it->token != NULL)
		mem_free_wipe(it->token, strlen(it->token));
	memset(it, 0, sizeof(*it));
}

void
jwt_cache_clear(struct agent *a)
{
	size_t	 i;

	for (i = 0; i < a->njwts; i++)
		jwt_item_clear(&a->jwts[i]);
	mem_free(a->jwts);
	a->jwts = NULL;
	a->njwts = 0;
}

/* Drops the tokens of an entry that is gone or changed. */
void
jwt_cache_prune(struct agent *a, const char *entry_id)
{
	size_t	 i = 0;

	while (i < a->njwts) {
		if (strcmp(a->jwts[i].entry_id, entry_id) == 0) {
			jwt_item_clear(&a->jwts[i]);
			a->jwts[i] = a->jwts[--a->njwts];
			memset(&a->jwts[a->njwts], 0, sizeof(a->jwts[0]));
		} else
			i++;
	}
}

static struct jwt_item *
jwt_find(struct agent *a, const char *entry_id, const char *aud)
{
	size_t	 i;

	for (i = 0; i < a->njwts; i++)
		if (strcmp(a->jwts[i].entry_id, entry_id) == 0 &&
		    strcmp(a->jwts[i].aud, aud) == 0)
			return &a->jwts[i];
	return NULL;
}

static void
jwt_put(struct agent *a, const char *entry_id, const char *aud,
    const char *token, int64_t iat, int64_t exp)
{
	struct jwt_item	*it;
	size_t		 i, lru = 0;

	it = jwt_find(a, entry_id, aud);
	if (it == NULL) {
		if (a->jwts == NULL) {
			a->jwts = mem_calloc(AGENT_JWT_CACHE_MAX,
			    sizeof(*a->jwts));
			if (a->jwts == NULL)
				return;
		}
		if (a->njwts < AGENT_JWT_CACHE_MAX)
			it = &a->jwts[a->njwts++];
		else {
			for (i = 1; i < a->njwts; i++)
				if (a->jwts[i].used < a->jwts[lru].used)
					lru = i;
			it = &a->jwts[lru];
		}
	}
	jwt_item_clear(it);
	it->entry_id = mem_strdup(entry_id);
	it->aud = mem_strdup(aud);
	it->token = mem_strdup(token);
	if (it->entry_id == NULL || it->aud == NULL || it->token == NULL) {
		jwt_item_clear(it);
		it->entry_id = mem_strdup("");
		it->aud = mem_strdup("");
		return;
	}
	it->iat = iat;
	it->exp = exp;
	it->rotate_at = rotation_time(iat, exp, rotation_random());
	it->used = ++jwt_clock;
}

void
jwt_fetch(struct agent *a, struct agent_entry *e, char **aud, size_t naud,
    void (*done)(struct agent *, void *, const char *, const char *),
    void *arg)
{
	struct jwt_item	*it;
	struct jwt_req	*r = NULL;
	struct buf	 req, key;
	char		**sorted = NULL;
	size_t		 i;

	buf_init(&req, 64 * 1024);
	buf_init(&key, 64 * 1024);
	sorted = mem_calloc(naud, sizeof(*sorted));
	if (sorted == NULL)
		goto nomem;
	memcpy(sorted, aud, naud * sizeof(*sorted));
	qsort(sorted, naud, sizeof(*sorted), aud_cmp);
	for (i = 0; i < naud; i++)
		if (buf_append(&key, sorted[i], strlen(sorted[i])) == -1 ||
		    (i + 1 < naud && buf_append(&key, "\n", 1) == -1))
			goto nomem;
	if (buf_append(&key, "", 1) == -1)
		goto nomem;
	mem_free(sorted);
	sorted = NULL;
	it = jwt_find(a, e->id, (const char *)buf_ptr(&key));
	if (it != NULL && it->rotate_at > agent_now(a)) {
		it->used = ++jwt_clock;
		buf_cleanup(&req);
		buf_cleanup(&key);
		done(a, arg, it->token, NULL);
		return;
	}
	r = mem_calloc(1, sizeof(*r));
	if (r == NULL)
		goto nomem;
	r->a = a;
	r->done = done;
	r->arg = arg;
	r->entry_id = mem_strdup(e->id);
	r->aud = mem_strdup((const char *)buf_ptr(&key));
	if (r->entry_id == NULL || r->aud == NULL)
		goto nomem;
	if (pbw_string(&req, 1, e->id) == -1)
		goto nomem;
	for (i = 0; i < naud; i++)
		if (pbw_bytes(&req, 2, aud[i], strlen(aud[i])) == -1)
			goto nomem;
	if (a->chan == NULL) {
		jwt_done(a, r, &(struct srv_result){
		    .code = GRPC_STATUS_UNAVAILABLE,
		    .message = "agent has no connection to the server" });
		buf_cleanup(&req);
		buf_cleanup(&key);
		return;
	}
	if (srvconn_unary(a, a->chan, NEWJWT_PATH, &req, jwt_done, r) == -1)
		goto nomem;
	buf_cleanup(&req);
	buf_cleanup(&key);
	return;
nomem:
	mem_free(sorted);
	if (r != NULL) {
		mem_free(r->entry_id);
		mem_free(r->aud);
		mem_free(r);
	}
	buf_cleanup(&req);
	buf_cleanup(&key);
	done(a, arg, NULL, "out of memory");
}

static void
jwt_done(struct agent *a, void *arg, const struct srv_result *res)
{
	struct jwt_req				*r = arg;
	spire_api_server_svid_v1_NewJWTSVIDResponse m;
	struct jwt_item				*it;
	const char				*err = NULL;
	char					 why[256];

	memset(&m, 0, sizeof(m));
	if (res->code != GRPC_STATUS_OK) {
		snprintf(why, sizeof(why), "NewJWTSVID: %s", res->message);
		err = why;
	} else if (rpc_decode(res->resp, res->resp_len,
	    spire_api_server_svid_v1_NewJWTSVIDResponse_fields, &m) == -1 ||
	    !m.has_svid || m.svid.token == NULL)
		err = "JWTSVID response missing SVID";
	else if (m.svid.issued_at == 0)
		err = "JWTSVID missing issued at";
	else if (m.svid.expires_at == 0)
		err = "JWTSVID missing expires at";
	else if (m.svid.issued_at > m.svid.expires_at)
		err = "JWTSVID issued after it has expired";
	if (err == NULL && !a->stopping) {
		jwt_put(a, r->entry_id, r->aud, m.svid.token,
		    m.svid.issued_at, m.svid.expires_at);
		r->done(a, r->arg, m.svid.token, NULL);
	} else if (!a->stopping && (it = jwt_find(a, r->entry_id,
	    r->aud)) != NULL && it->exp > agent_now(a)) {
		log_kv(LOG_LEVEL_WARN, "agent", "unable to renew JWT; "
		    "returning cached copy", "error", err, (const char *)NULL);
		r->done(a, r->arg, it->token, NULL);
	} else
		r->done(a, r->arg, NULL, err != NULL ? err : "stopping");
	pb_release(spire_api_server_svid_v1_NewJWTSVIDResponse_fields, &m);
	mem_free(r->entry_id);
	mem_free(r->aud);
	mem_free(r);
}
