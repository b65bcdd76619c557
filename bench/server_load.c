/*
 * Load for spirelet's server budgets: creates entries and join tokens on
 * the admin socket, attests agents, has each agent fetch its authorized
 * entries over mTLS, then measures BatchNewX509SVID throughput against
 * the raw ECDSA P-256 signing (and verifying) rate of this machine, and
 * the server's RSS at each step. Measures; never asserts.
 *
 *   server_load ADMIN_SOCKET HOST:PORT SERVER_PID ENTRIES AGENTS SECONDS
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <pb_decode.h>

#include "core/mem.h"
#include "hal/key.h"
#include "hal/rand.h"
#include "pki/cert.h"
#include "rpc/client.h"
#include "rpc/tls.h"
#include "spire/api/server/agent/v1/agent.pb.h"
#include "spire/api/server/entry/v1/entry.pb.h"
#include "spire/api/server/svid/v1/svid.pb.h"

/* Long generated names, shortened. */
#define ATT_RESP	\
    spire_api_server_agent_v1_AttestAgentResponse_fields
#define ATT_REQ	\
    spire_api_server_agent_v1_AttestAgentRequest_fields
#define ATT_PARAMS	\
    spire_api_server_agent_v1_AttestAgentRequest_params_tag
#define TOKEN_REQ	\
    spire_api_server_agent_v1_CreateJoinTokenRequest_fields
#define CREATE_REQ	\
    spire_api_server_entry_v1_BatchCreateEntryRequest_fields
#define CREATE_RESP	\
    spire_api_server_entry_v1_BatchCreateEntryResponse_fields
#define AUTHZ_REQ	\
    spire_api_server_entry_v1_GetAuthorizedEntriesRequest_fields
#define AUTHZ_RESP	\
    spire_api_server_entry_v1_GetAuthorizedEntriesResponse_fields
#define BATCH_REQ	\
    spire_api_server_svid_v1_BatchNewX509SVIDRequest_fields
#define BATCH_RESP	\
    spire_api_server_svid_v1_BatchNewX509SVIDResponse_fields

#define TD	"example.org"
#define BATCH	50	/* CSRs per BatchNewX509SVID, as agents send */
#define POOL	20000	/* distinct CSRs made before the timed run */

static struct ev_loop	*loop;

struct wait {
	int			done;
	enum grpc_status	code;
	char			msg[256];
	/* AttestAgent's result */
	uint8_t			*chain[8];
	size_t			 len[8];
	size_t			 n;
};

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long
rss_kib(long pid)
{
	char	path[64], line[256];
	FILE	*f;
	long	v = -1;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			v = strtol(line + 6, NULL, 10);
		else if (strncmp(line, "RssAnon:", 8) == 0 ||
		    strncmp(line, "RssFile:", 8) == 0)
			fprintf(stderr, "  %s", line);
	fclose(f);
	return v;
}

/* CPU seconds the process used so far (user + system). */
static double
cpu_secs(long pid)
{
	char	path[64], buf[1024], *p;
	FILE	*f;
	unsigned long long ut = 0, st = 0;
	int	i;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	fclose(f);
	p = strrchr(buf, ')');
	/* Fields after the name: state is 3rd, utime 14th, stime 15th. */
	for (i = 3; p != NULL && i <= 13; i++)
		p = strchr(p + 1, ' ');
	if (p != NULL && sscanf(p + 1, "%llu %llu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void
unary_done(void *arg, const struct rpc_result *r)
{
	struct wait	*w = arg;

	w->done = 1;
	w->code = r->code;
	snprintf(w->msg, sizeof(w->msg), "%s", r->message ? r->message : "");
}

static int
unary(struct rpc_channel *ch, const char *path, const pb_msgdesc_t *rqf,
    const void *rq, const pb_msgdesc_t *rsf, void *rs)
{
	struct wait	w;

	memset(&w, 0, sizeof(w));
	if (rpc_client_unary(ch, path, NULL, 0, 60, rqf, rq, rsf, rs,
	    unary_done, &w) == -1)
		return -1;
	while (!w.done)
		ev_run(loop, EVRUN_ONCE);
	if (w.code != GRPC_STATUS_OK) {
		fprintf(stderr, "%s: %s %s\n", path, grpc_status_name(w.code),
		    w.msg);
		return -1;
	}
	return 0;
}

static void
att_message(struct rpc_call *c, const uint8_t *p, size_t n, void *arg)
{
	struct wait	*w = arg;
	spire_api_server_agent_v1_AttestAgentResponse r;
	pb_size_t	 i;

	(void)c;
	memset(&r, 0, sizeof(r));
	if (rpc_decode(p, n, ATT_RESP,
	    &r) == -1)
		return;
	for (i = 0; i < r.step.result.svid.cert_chain_count && i < 8; i++) {
		w->len[i] = r.step.result.svid.cert_chain[i]->size;
		w->chain[i] = mem_alloc(w->len[i]);
		memcpy(w->chain[i], r.step.result.svid.cert_chain[i]->bytes,
		    w->len[i]);
		w->n++;
	}
	pb_release(ATT_RESP, &r);
}

static void
att_close(struct rpc_call *c, const struct rpc_result *r, void *arg)
{
	(void)c;
	unary_done(arg, r);
}

/* Attests with a join token over ch; the SVID chain into w. */
static int
attest(struct rpc_channel *ch, const char *token, struct key *k,
    struct wait *w)
{
	static const struct rpc_client_cbs cbs = { att_message, att_close,
	    NULL };
	spire_api_server_agent_v1_AttestAgentRequest req;
	struct rpc_call	*call;
	uint8_t		*csr;
	size_t		 csr_len;

	memset(w, 0, sizeof(*w));
	if (cert_csr_create(k, (const uint8_t *)"\x30\x00", 2, NULL, &csr,
	    &csr_len) == -1)
		return -1;
	memset(&req, 0, sizeof(req));
	req.which_step = ATT_PARAMS;
	req.step.params.has_data = true;
	req.step.params.data.type = (char *)(uintptr_t)"join_token";
	req.step.params.data.payload = mem_alloc(
	    PB_BYTES_ARRAY_T_ALLOCSIZE(strlen(token)));
	req.step.params.data.payload->size = (pb_size_t)strlen(token);
	memcpy(req.step.params.data.payload->bytes, token, strlen(token));
	req.step.params.has_params = true;
	req.step.params.params.csr = mem_alloc(
	    PB_BYTES_ARRAY_T_ALLOCSIZE(csr_len));
	req.step.params.params.csr->size = (pb_size_t)csr_len;
	memcpy(req.step.params.params.csr->bytes, csr, csr_len);
	mem_free(csr);
	call = rpc_client_call(ch, "/spire.api.server.agent.v1.Agent/"
	    "AttestAgent", NULL, 0, 30, 0, &cbs, w);
	if (call == NULL || rpc_call_send_pb(call,
	    ATT_REQ, &req) !=
	    RPC_ERR_OK || rpc_call_close_send(call) != RPC_ERR_OK)
		return -1;
	mem_free(req.step.params.data.payload);
	mem_free(req.step.params.params.csr);
	while (!w->done)
		ev_run(loop, EVRUN_ONCE);
	return w->code == GRPC_STATUS_OK && w->n > 0 ? 0 : -1;
}

static int
accept_any(void *arg, struct transport_peer *p, char *err, size_t len)
{
	/* The bench trusts its own server: no check. */
	(void)arg;
	(void)p;
	(void)err;
	(void)len;
	return 0;
}

static void
set_id(spire_api_types_SPIFFEID *id, const char *path)
{
	id->trust_domain = mem_strdup(TD);
	id->path = mem_strdup(path);
}

/*
 * Raw rates of the key interface (wolfCrypt underneath), per second:
 * signing with one key (as the CA signs), and verifying signatures of
 * keys seen once each (as CSRs come: every agent key is new), which
 * wolfCrypt's fixed-point cache cannot speed up.
 */
#define RAW_KEYS	2000

static void
raw_rates(double *sign, double *verify)
{
	struct key	*k, **ks;
	enum key_err	 e;
	uint8_t		 d[32], sig[KEY_SIG_MAX], (*sigs)[KEY_SIG_MAX];
	size_t		 siglen = sizeof(sig), spki_len, *sl;
	const uint8_t	*spki;
	double		 t0;
	long		 n;

	*sign = *verify = 1;
	k = key_soft_generate(KEY_EC_P256, &e);
	memset(d, 0x5a, sizeof(d));
	for (n = 0, t0 = now(); now() - t0 < 2.0; n++) {
		siglen = sizeof(sig);
		if (key_sign(k, d, sizeof(d), sig, &siglen) != KEY_OK)
			break;
	}
	*sign = (double)n / (now() - t0);
	key_free(k);
	ks = mem_calloc(RAW_KEYS, sizeof(*ks));
	sigs = mem_calloc(RAW_KEYS, sizeof(*sigs));
	sl = mem_calloc(RAW_KEYS, sizeof(*sl));
	for (n = 0; n < RAW_KEYS; n++) {
		ks[n] = key_soft_generate(KEY_EC_P256, &e);
		sl[n] = KEY_SIG_MAX;
		if (key_sign(ks[n], d, sizeof(d), sigs[n], &sl[n]) != KEY_OK)
			return;
	}
	for (n = 0, t0 = now(); n < RAW_KEYS; n++) {
		spki = key_spki(ks[n], &spki_len);
		if (key_verify_spki(spki, spki_len, d, sizeof(d), sigs[n],
		    sl[n]) != 0)
			break;
	}
	*verify = (double)n / (now() - t0);
	for (n = 0; n < RAW_KEYS; n++)
		key_free(ks[n]);
	mem_free(ks);
	mem_free(sigs);
	mem_free(sl);
}

int
main(int argc, char **argv)
{
	struct rpc_channel_opts	 co;
	struct rpc_channel	*admin, **agents;
	struct tls_ctx		**tls;
	struct key		**keys;
	struct wait		 w;
	long			 pid, nent, nag, secs, i, j, total = 0;
	long			 base = (long)time(NULL);
	double			 sign, verify, t0, el;
	char			 tok[64], path[128], target[300];
	enum key_err		 ke;
	enum tls_err		 te;

	if (argc != 7) {
		fprintf(stderr, "usage: server_load ADMIN_SOCKET HOST:PORT "
		    "SERVER_PID ENTRIES AGENTS SECONDS\n");
		return 2;
	}
	pid = strtol(argv[3], NULL, 10);
	nent = strtol(argv[4], NULL, 10);
	nag = strtol(argv[5], NULL, 10);
	secs = strtol(argv[6], NULL, 10);
	if (nag < 1 || nent < nag)
		return 2;
	loop = ev_default_loop(0);
	raw_rates(&sign, &verify);
	printf("raw ECDSA P-256 sign:    %.0f/s\n", sign);
	printf("raw ECDSA P-256 verify:  %.0f/s (a new key each)\n", verify);
	printf("  sign + verify bound:   %.0f/s\n",
	    1.0 / (1.0 / sign + 1.0 / verify));
	printf("server RSS at start:     %ld KiB\n", rss_kib(pid));

	memset(&co, 0, sizeof(co));
	snprintf(target, sizeof(target), "unix:%s", argv[1]);
	co.target = target;
	admin = rpc_channel_new(loop, &co);
	for (i = 0; i < nag; i++) {
		spire_api_server_agent_v1_CreateJoinTokenRequest rq;
		spire_api_types_JoinToken rs;

		memset(&rq, 0, sizeof(rq));
		memset(&rs, 0, sizeof(rs));
		snprintf(tok, sizeof(tok), "bench-%ld-%ld", base,
		    i);
		rq.ttl = 600;
		rq.token = tok;
		if (unary(admin, "/spire.api.server.agent.v1.Agent/"
		    "CreateJoinToken",
		    TOKEN_REQ,
		    &rq, spire_api_types_JoinToken_fields, &rs) == -1)
			return 1;
		pb_release(spire_api_types_JoinToken_fields, &rs);
	}
	/* Entries spread over the agents, created 1000 at a time. */
	t0 = now();
	for (i = 0; i < nent; i += 1000) {
		spire_api_server_entry_v1_BatchCreateEntryRequest rq;
		spire_api_server_entry_v1_BatchCreateEntryResponse rs;
		long n = nent - i < 1000 ? nent - i : 1000;

		memset(&rq, 0, sizeof(rq));
		memset(&rs, 0, sizeof(rs));
		rq.entries = mem_calloc((size_t)n, sizeof(*rq.entries));
		rq.entries_count = (pb_size_t)n;
		for (j = 0; j < n; j++) {
			spire_api_types_Entry *e = &rq.entries[j];

			e->has_spiffe_id = e->has_parent_id = true;
			snprintf(path, sizeof(path), "/bench/%ld", i + j);
			set_id(&e->spiffe_id, path);
			snprintf(path, sizeof(path),
			    "/spire/agent/join_token/bench-%ld-%ld",
			    base, (i + j) % nag);
			set_id(&e->parent_id, path);
			e->selectors = mem_calloc(1, sizeof(*e->selectors));
			e->selectors_count = 1;
			e->selectors[0].type = mem_strdup("unix");
			snprintf(path, sizeof(path), "uid:%ld", 1000 + i + j);
			e->selectors[0].value = mem_strdup(path);
		}
		if (unary(admin, "/spire.api.server.entry.v1.Entry/"
		    "BatchCreateEntry",
		    CREATE_REQ,
		    &rq, CREATE_RESP,
		    &rs) == -1)
			return 1;
		pb_release(CREATE_REQ,
		    &rq);
		pb_release(
		    CREATE_RESP,
		    &rs);
	}
	printf("created %ld entries in   %.2f s\n", nent, now() - t0);
	printf("server RSS, entries:     %ld KiB\n", rss_kib(pid));

	/* Agents attest on the admin socket (no per-address limit). */
	agents = mem_calloc((size_t)nag, sizeof(*agents));
	tls = mem_calloc((size_t)nag, sizeof(*tls));
	keys = mem_calloc((size_t)nag, sizeof(*keys));
	t0 = now();
	for (i = 0; i < nag; i++) {
		struct tls_identity	id;
		struct tls_config	tc;
		const uint8_t		*ch[8];
		uint8_t			*pk;
		size_t			 pklen;

		keys[i] = key_soft_generate(KEY_EC_P256, &ke);
		snprintf(tok, sizeof(tok), "bench-%ld-%ld", base,
		    i);
		if (attest(admin, tok, keys[i], &w) == -1) {
			fprintf(stderr, "attest %ld: %s\n", i, w.msg);
			return 1;
		}
		for (j = 0; j < (long)w.n; j++)
			ch[j] = w.chain[j];
		if (key_export_pkcs8(keys[i], &pk, &pklen) != KEY_OK)
			return 1;
		memset(&id, 0, sizeof(id));
		id.chain = ch;
		id.chain_len = w.len;
		id.nchain = w.n;
		id.key = pk;
		id.key_len = pklen;
		memset(&tc, 0, sizeof(tc));
		tc.role = TLS_ROLE_CLIENT;
		tc.identity = &id;
		tc.verify = accept_any;
		tls[i] = tls_ctx_new(&tc, &te);
		mem_free_wipe(pk, pklen);
		for (j = 0; j < (long)w.n; j++)
			mem_free(w.chain[j]);
		memset(&co, 0, sizeof(co));
		co.target = argv[2];
		co.tls = tls[i];
		agents[i] = rpc_channel_new(loop, &co);
	}
	printf("attested %ld agents in   %.2f s\n", nag, now() - t0);
	t0 = now();
	for (i = 0; i < nag; i++) {
		spire_api_server_entry_v1_GetAuthorizedEntriesRequest rq;
		spire_api_server_entry_v1_GetAuthorizedEntriesResponse rs;

		memset(&rq, 0, sizeof(rq));
		memset(&rs, 0, sizeof(rs));
		if (unary(agents[i], "/spire.api.server.entry.v1.Entry/"
		    "GetAuthorizedEntries",
		    AUTHZ_REQ,
		    &rq,
		    AUTHZ_RESP,
		    &rs) == -1)
			return 1;
		total += rs.entries_count;
		pb_release(
		    AUTHZ_RESP,
		    &rs);
	}
	printf("%ld agents fetched %ld entries over mTLS in %.2f s\n", nag,
	    total, now() - t0);
	printf("server RSS, %ld agents connected: %ld KiB\n", nag,
	    rss_kib(pid));

	/* BatchNewX509SVID: agent 0 asks for its entries, BATCH a call. */
	{
		spire_api_server_entry_v1_GetAuthorizedEntriesRequest arq;
		spire_api_server_entry_v1_GetAuthorizedEntriesResponse ars;
		spire_api_server_svid_v1_BatchNewX509SVIDRequest rq;
		long	calls = 0, ok = 0, k, n, used;
		uint8_t	**pool;
		size_t	*poollen;
		double	cpu0;

		memset(&arq, 0, sizeof(arq));
		memset(&ars, 0, sizeof(ars));
		if (unary(agents[0], "/spire.api.server.entry.v1.Entry/"
		    "GetAuthorizedEntries",
		    AUTHZ_REQ,
		    &arq,
		    AUTHZ_RESP,
		    &ars) == -1 || ars.entries_count == 0)
			return 1;
		n = ars.entries_count < BATCH ? ars.entries_count : BATCH;
		/*
		 * Every CSR is used once, as agents make a key per SVID:
		 * resending a few would let wolfCrypt's fixed-point cache
		 * thrash on their keys and measure that instead.
		 */
		pool = mem_calloc((size_t)POOL, sizeof(*pool));
		poollen = mem_calloc((size_t)POOL, sizeof(*poollen));
		for (k = 0; k < POOL; k++) {
			struct key	*wk;

			wk = key_soft_generate(KEY_EC_P256, &ke);
			if (wk == NULL || cert_csr_create(wk,
			    (const uint8_t *)"\x30\x00", 2, NULL, &pool[k],
			    &poollen[k]) == -1)
				return 1;
			key_free(wk);
		}
		memset(&rq, 0, sizeof(rq));
		rq.params = mem_calloc((size_t)n, sizeof(*rq.params));
		rq.params_count = (pb_size_t)n;
		for (k = 0; k < n; k++)
			rq.params[k].entry_id = mem_strdup(ars.entries[k].id);
		pb_release(
		    AUTHZ_RESP,
		    &ars);
		cpu0 = cpu_secs(pid);
		t0 = now();
		for (used = 0; used + n <= POOL &&
		    (el = now() - t0) < (double)secs; used += n) {
			spire_api_server_svid_v1_BatchNewX509SVIDResponse rs;

			/* Borrowed from the pool; detached before release. */
			for (k = 0; k < n; k++) {
				rq.params[k].csr = mem_alloc(
				    PB_BYTES_ARRAY_T_ALLOCSIZE(
				    poollen[used + k]));
				rq.params[k].csr->size =
				    (pb_size_t)poollen[used + k];
				memcpy(rq.params[k].csr->bytes, pool[used + k],
				    poollen[used + k]);
			}
			memset(&rs, 0, sizeof(rs));
			if (unary(agents[0], "/spire.api.server.svid.v1.SVID/"
			    "BatchNewX509SVID",
			    BATCH_REQ,
			    &rq,
			    BATCH_RESP,
			    &rs) == -1)
				return 1;
			for (k = 0; k < rs.results_count; k++)
				ok += rs.results[k].status.code == 0;
			calls++;
			pb_release(
			    BATCH_RESP,
			    &rs);
			for (k = 0; k < n; k++) {
				mem_free(rq.params[k].csr);
				rq.params[k].csr = NULL;
			}
		}
		el = now() - t0;
		for (k = 0; k < POOL; k++)
			mem_free(pool[k]);
		mem_free(pool);
		mem_free(poollen);
		printf("BatchNewX509SVID:        %.0f SVIDs/s (%ld calls of "
		    "%ld, %.1f s) = %.0f%% of raw signing\n", (double)ok / el,
		    calls, n, el, 100.0 * (double)ok / el / sign);
		cpu0 = cpu_secs(pid) - cpu0;
		printf("  server CPU %.2f s: %.0f us an SVID, %.0f SVIDs a "
		    "CPU second = %.0f%% of raw signing\n", cpu0,
		    1e6 * cpu0 / (double)ok, (double)ok / cpu0,
		    100.0 * (double)ok / cpu0 / sign);
		pb_release(BATCH_REQ,
		    &rq);
	}
	printf("server RSS at the end:   %ld KiB\n", rss_kib(pid));
	for (i = 0; i < nag; i++) {
		rpc_channel_free(agents[i]);
		tls_ctx_free(tls[i]);
		key_free(keys[i]);
	}
	rpc_channel_free(admin);
	mem_free(agents);
	mem_free(tls);
	mem_free(keys);
	return 0;
}
