/*
 * Unit tests for TLS handshakes on the worker, rpc/client's and
 * rpc/server's: a channel whose identity's signer blocks (standing in
 * for a TPM key) connects to a TLS server in the same process and loop,
 * or a listener given a worker steps its handshakes there, while the
 * test holds the signer on a condition variable. The loop must keep
 * serving other calls meanwhile, and the connection must then work as
 * any other. No clock is asserted on: the signer is released only once
 * the loop has shown it runs, and a guard timer only stops a hung test.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "core/mem.h"
#include "core/worker.h"
#include "rpc/client.h"
#include "rpc/server.h"
#include "rpc/tls.h"
#include "testcerts.h"

#define ECHO_PATH	"/spirelet.test.T/Echo"
#define GUARD_SEC	30.	/* a hung test fails after this */
#define PLAIN_ROUNDS	20	/* round trips while the signer is held */

#define SERVER_ID	"spiffe://example.org/spire/server"
#define AGENT_ID	"spiffe://example.org/spire/agent/a"
#define AGENT2_ID	"spiffe://example.org/spire/agent/b"

/*
 * A signer that waits for the test's permission: each signature takes
 * one unit of gate. It tells the loop it was entered through a pipe.
 * Called on the loop thread it never waits (nothing could release it):
 * it counts that instead, and the tests that expect the worker fail.
 */
struct slow {
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	int			 gate;		/* under lock */
	int			 calls;		/* under lock */
	int			 on_loop;	/* under lock: calls there */
	int			 fail;		/* under lock: fail the next */
	pthread_t		 thread;	/* under lock: last caller */
	int			 wake[2];	/* a byte per call entered */
	const struct testcert	*cert;
	int			 freed;		/* sign_free calls (loop) */
	pthread_t		 freed_on;
	int			 break_on_free;	/* sign_free ends run() */
};

/* How one client call ended. */
struct res {
	int			 closed;
	enum grpc_status	 code;
	char			 msg[200];
	char			 reply[200];
};

struct env {
	struct ev_loop		*loop;
	pthread_t		 loop_thread;
	struct worker		*worker;
	struct rpc_server	*tls_srv;
	struct rpc_server	*plain_srv;
	struct tls_ctx		*sctx;
	struct tls_ctx		*cctx;
	struct rpc_channel	*tch;		/* TLS, signer on the worker */
	struct rpc_channel	*pch;		/* plaintext, same loop */
	int			 tls_port;
	int			 plain_port;
	struct slow		 sa;		/* agent a's signer */
	struct slow		 sb;		/* agent b's signer */
	ev_io			 wake_a;
	/* A listener stepping on the worker, with a held server signer. */
	struct slow		 ss;
	ev_io			 wake_s;
	struct tls_ctx		*wsctx;		/* server, signer ss */
	struct tls_ctx		*kcctx;		/* client, key in memory */
	struct rpc_server	*wsrv;
	struct rpc_channel	*wch;		/* to wsrv, no worker */
	int			 wport;
	ev_timer		 guard;
	int			 timed_out;
	void			(*on_signing)(struct env *);
	int			 signing_seen;
	int			 plain_done;	/* plain round trips done */
	int			 plain_tls_open; /* TLS call open at the end */
	struct res		 r1, r2, rp;
	int			 server_stopped;
	const uint8_t		*chain[2];
	size_t			 chain_len[2];
};

static struct testchain	 srv_chain, cli_chain, cli2_chain;
static struct env	*cur;

static void	plain_next(struct env *);

/* Signer and its lifetime hook. */

static int
slow_sign(void *arg, const uint8_t *digest, size_t len, uint8_t *sig,
    size_t *siglen)
{
	struct slow	*s = arg;
	int		 fail;
	ssize_t		 n;

	pthread_mutex_lock(&s->lock);
	s->calls++;
	s->thread = pthread_self();
	if (cur != NULL && pthread_equal(s->thread, cur->loop_thread))
		s->on_loop++;
	pthread_mutex_unlock(&s->lock);
	do
		n = write(s->wake[1], "s", 1);
	while (n == -1 && errno == EINTR);
	pthread_mutex_lock(&s->lock);
	while (s->gate == 0 && s->on_loop == 0)
		pthread_cond_wait(&s->cond, &s->lock);
	if (s->gate > 0)
		s->gate--;
	fail = s->fail;
	s->fail = 0;
	pthread_mutex_unlock(&s->lock);
	if (fail)
		return -1;
	return testcert_sign(s->cert->key, s->cert->key_len, digest, len,
	    sig, siglen);
}

static void
slow_free(void *arg)
{
	struct slow	*s = arg;

	s->freed++;
	s->freed_on = pthread_self();
	if (s->break_on_free && cur != NULL)
		ev_break(cur->loop, EVBREAK_ALL);
}

static void
slow_init(struct slow *s, const struct testcert *cert)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(pthread_mutex_init(&s->lock, NULL), 0);
	assert_int_equal(pthread_cond_init(&s->cond, NULL), 0);
	assert_int_equal(pipe(s->wake), 0);
	s->cert = cert;
}

static void
slow_cleanup(struct slow *s)
{
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	close(s->wake[0]);
	close(s->wake[1]);
}

/* Lets n more signatures through. */
static void
slow_release(struct slow *s, int n)
{
	pthread_mutex_lock(&s->lock);
	s->gate += n;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static int
slow_calls(struct slow *s)
{
	int	 n;

	pthread_mutex_lock(&s->lock);
	n = s->calls;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* The signer was entered: the test's step for that moment. */
static void
wake_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct env	*e = w->data;
	char		 b;

	(void)loop;
	(void)revents;
	if (read(e->sa.wake[0], &b, 1) != 1)
		return;
	e->signing_seen++;
	if (e->on_signing != NULL)
		e->on_signing(e);
}

/* Server side: an echo that says which client certificate it saw. */

static void
echo_call(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	const struct transport_peer	*peer = rpc_call_peer(call);
	char				 out[200];
	int				 n;

	(void)arg;
	n = snprintf(out, sizeof(out), "%.*s|%s", (int)len,
	    (const char *)req, peer->spiffe_id != NULL ? peer->spiffe_id :
	    "none");
	if (rpc_call_send(call, out, (size_t)n) != RPC_ERR_OK) {
		rpc_call_finish(call, GRPC_STATUS_INTERNAL, NULL, NULL, 0);
		return;
	}
	rpc_call_finish(call, GRPC_STATUS_OK, NULL, NULL, 0);
}

static const struct rpc_method echo_methods[] = {
	{ ECHO_PATH, RPC_UNARY, echo_call, NULL, NULL, NULL, NULL, NULL },
};

/* Names the client by its leaf: one of the two agents, or refused. */
static int
server_verify(void *arg, struct transport_peer *peer, char *err,
    size_t len)
{
	const char	*id = NULL;

	(void)arg;
	if (peer->nchain == 0)
		return 0;
	if (peer->chain_len[0] == cli_chain.leaf.der_len &&
	    memcmp(peer->chain[0], cli_chain.leaf.der,
	    peer->chain_len[0]) == 0)
		id = AGENT_ID;
	else if (peer->chain_len[0] == cli2_chain.leaf.der_len &&
	    memcmp(peer->chain[0], cli2_chain.leaf.der,
	    peer->chain_len[0]) == 0)
		id = AGENT2_ID;
	if (id == NULL) {
		snprintf(err, len, "unknown client");
		return -1;
	}
	peer->spiffe_id = mem_strdup(id);
	return peer->spiffe_id != NULL ? 0 : -1;
}

/* The client accepts our server's leaf only. */
static int
client_verify(void *arg, struct transport_peer *peer, char *err,
    size_t len)
{
	(void)arg;
	if (peer->nchain == 0 || peer->chain_len[0] !=
	    srv_chain.leaf.der_len || memcmp(peer->chain[0],
	    srv_chain.leaf.der, peer->chain_len[0]) != 0) {
		snprintf(err, len, "not our server");
		return -1;
	}
	peer->spiffe_id = mem_strdup(SERVER_ID);
	return peer->spiffe_id != NULL ? 0 : -1;
}

/* Client calls. */

static void
res_message(struct rpc_call *call, const uint8_t *p, size_t len, void *arg)
{
	struct res	*r = arg;

	(void)call;
	snprintf(r->reply, sizeof(r->reply), "%.*s", (int)len,
	    (const char *)p);
}

static void	(*res_next)(struct env *, struct res *);

static void
res_close(struct rpc_call *call, const struct rpc_result *rr, void *arg)
{
	struct res	*r = arg;

	(void)call;
	r->closed++;
	r->code = rr->code;
	snprintf(r->msg, sizeof(r->msg), "%s", rr->message != NULL ?
	    rr->message : "");
	if (res_next != NULL)
		res_next(cur, r);
}

static const struct rpc_client_cbs res_cbs = {
	.on_message = res_message,
	.on_close = res_close,
};

static void
echo_start(struct rpc_channel *ch, struct res *r, const char *text,
    unsigned flags)
{
	struct rpc_call	*call;

	memset(r, 0, sizeof(*r));
	call = rpc_client_call(ch, ECHO_PATH, NULL, 0, GUARD_SEC, flags,
	    &res_cbs, r);
	assert_non_null(call);
	assert_int_equal(rpc_call_send(call, text, strlen(text)),
	    RPC_ERR_OK);
	assert_int_equal(rpc_call_close_send(call), RPC_ERR_OK);
}

/* The server's signer was entered. */
static void
wake_s_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct env	*e = w->data;
	char		 b;

	(void)loop;
	(void)revents;
	if (read(e->ss.wake[0], &b, 1) != 1)
		return;
	e->signing_seen++;
	if (e->on_signing != NULL)
		e->on_signing(e);
}

static void
guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct env	*e = w->data;

	(void)revents;
	e->timed_out = 1;
	ev_break(loop, EVBREAK_ALL);
}

/* Runs the loop until a step breaks it; the guard fails a hang. */
static void
run(struct env *e)
{
	ev_timer_set(&e->guard, GUARD_SEC, 0.);
	ev_timer_start(e->loop, &e->guard);
	ev_run(e->loop, 0);
	ev_timer_stop(e->loop, &e->guard);
	assert_false(e->timed_out);
}

/* Set-up: servers, contexts, worker, channels. */

static struct tls_ctx *
ctx_new(enum tls_role role, const struct testchain *c, struct slow *s,
    struct env *e)
{
	struct tls_identity	 id;
	struct tls_config	 cfg;
	struct tls_ctx		*ctx;
	enum tls_err		 err;

	memset(&id, 0, sizeof(id));
	e->chain[0] = c->leaf.der;
	e->chain_len[0] = c->leaf.der_len;
	e->chain[1] = c->inter.der;
	e->chain_len[1] = c->inter.der_len;
	id.chain = e->chain;
	id.chain_len = e->chain_len;
	id.nchain = 2;
	if (s != NULL) {
		id.sign = slow_sign;
		id.sign_arg = s;
		id.sign_blocks = 1;
		id.sign_free = slow_free;
	} else {
		id.key = c->leaf.key;
		id.key_len = c->leaf.key_len;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.role = role;
	cfg.identity = &id;
	cfg.verify = role == TLS_ROLE_SERVER ? server_verify : client_verify;
	ctx = tls_ctx_new(&cfg, &err);
	assert_non_null(ctx);
	return ctx;
}

static struct rpc_server *
server_new(struct env *e, struct tls_ctx *tls, int port, int *bound)
{
	struct rpc_listen_opts	 lo;
	struct rpc_listener	*l;
	struct rpc_server	*srv;
	char			 addr[64];

	srv = rpc_server_new(e->loop);
	assert_non_null(srv);
	assert_int_equal(rpc_server_add_methods(srv, echo_methods, 1), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	memset(&lo, 0, sizeof(lo));
	lo.addr = addr;
	lo.tls = tls;
	l = rpc_server_listen(srv, &lo);
	assert_non_null(l);
	*bound = rpc_listener_port(l);
	return srv;
}

/* A TLS server whose handshakes step on the worker, hs seconds each. */
static struct rpc_server *
server_new_worker(struct env *e, struct tls_ctx *tls, double hs, int *bound)
{
	struct rpc_listen_opts	 lo;
	struct rpc_listener	*l;
	struct rpc_server	*srv;

	srv = rpc_server_new(e->loop);
	assert_non_null(srv);
	assert_int_equal(rpc_server_add_methods(srv, echo_methods, 1), 0);
	memset(&lo, 0, sizeof(lo));
	lo.addr = "127.0.0.1:0";
	lo.tls = tls;
	lo.worker = e->worker;
	lo.handshake = hs;
	l = rpc_server_listen(srv, &lo);
	assert_non_null(l);
	*bound = rpc_listener_port(l);
	return srv;
}

static struct rpc_channel *
channel_new(struct env *e, int port, struct tls_ctx *tls, double hs)
{
	struct rpc_channel_opts	 o;
	struct rpc_channel	*ch;
	char			 target[64];

	snprintf(target, sizeof(target), "127.0.0.1:%d", port);
	memset(&o, 0, sizeof(o));
	o.target = target;
	o.tls = tls;
	o.authority = "localhost";
	o.worker = tls != NULL ? e->worker : NULL;
	o.handshake = hs;
	ch = rpc_channel_new(e->loop, &o);
	assert_non_null(ch);
	return ch;
}

static void
env_setup(struct env *e, double hs)
{
	memset(e, 0, sizeof(*e));
	cur = e;
	res_next = NULL;
	e->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(e->loop);
	e->loop_thread = pthread_self();
	e->worker = worker_new(e->loop);
	assert_non_null(e->worker);
	slow_init(&e->sa, &cli_chain.leaf);
	slow_init(&e->sb, &cli2_chain.leaf);
	e->sctx = ctx_new(TLS_ROLE_SERVER, &srv_chain, NULL, e);
	e->cctx = ctx_new(TLS_ROLE_CLIENT, &cli_chain, &e->sa, e);
	e->tls_srv = server_new(e, e->sctx, 0, &e->tls_port);
	e->plain_srv = server_new(e, NULL, 0, &e->plain_port);
	e->tch = channel_new(e, e->tls_port, e->cctx, hs);
	e->pch = channel_new(e, e->plain_port, NULL, 0);
	ev_io_init(&e->wake_a, wake_cb, e->sa.wake[0], EV_READ);
	e->wake_a.data = e;
	ev_io_start(e->loop, &e->wake_a);
	ev_init(&e->guard, guard_cb);
	e->guard.data = e;
}

/*
 * The server side's set-up on top of env_setup: a listener stepping on
 * the worker (hs seconds to handshake) with the server signer ss, and a
 * channel to it whose client key is in memory and which has no worker.
 */
static void
wenv_setup(struct env *e, double hs)
{
	struct rpc_channel_opts	 o;
	char			 target[64];

	env_setup(e, 0);
	slow_init(&e->ss, &srv_chain.leaf);
	e->wsctx = ctx_new(TLS_ROLE_SERVER, &srv_chain, &e->ss, e);
	e->kcctx = ctx_new(TLS_ROLE_CLIENT, &cli_chain, NULL, e);
	e->wsrv = server_new_worker(e, e->wsctx, hs, &e->wport);
	snprintf(target, sizeof(target), "127.0.0.1:%d", e->wport);
	memset(&o, 0, sizeof(o));
	o.target = target;
	o.tls = e->kcctx;
	o.authority = "localhost";
	e->wch = rpc_channel_new(e->loop, &o);
	assert_non_null(e->wch);
	ev_io_init(&e->wake_s, wake_s_cb, e->ss.wake[0], EV_READ);
	e->wake_s.data = e;
	ev_io_start(e->loop, &e->wake_s);
}

static void
env_teardown(struct env *e)
{
	/* Whatever a test left held goes now, so the worker can stop. */
	slow_release(&e->sa, 1000);
	slow_release(&e->sb, 1000);
	if (e->ss.cert != NULL) {
		slow_release(&e->ss, 1000);
		ev_io_stop(e->loop, &e->wake_s);
		rpc_channel_free(e->wch);
		rpc_server_free(e->wsrv);
		tls_ctx_free(e->wsctx);
		tls_ctx_free(e->kcctx);
	}
	ev_io_stop(e->loop, &e->wake_a);
	rpc_channel_free(e->tch);
	rpc_channel_free(e->pch);
	rpc_server_free(e->tls_srv);
	rpc_server_free(e->plain_srv);
	tls_ctx_free(e->cctx);
	tls_ctx_free(e->sctx);
	worker_free(e->worker);
	ev_loop_destroy(e->loop);
	slow_cleanup(&e->sa);
	slow_cleanup(&e->sb);
	if (e->ss.cert != NULL)
		slow_cleanup(&e->ss);
	cur = NULL;
	res_next = NULL;
}

static int
setup_certs(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	if (testchain_make(&srv_chain, SERVER_ID, 0) != 0 ||
	    testchain_make(&cli_chain, AGENT_ID, 0) != 0 ||
	    testchain_make(&cli2_chain, AGENT2_ID, 0) != 0)
		return -1;
	return 0;
}

/*
 * The main case. The TLS call's handshake reaches the signer on the
 * worker; while it is held the same loop serves PLAIN_ROUNDS round
 * trips of another client to another server; only then is the signer
 * released, and the call completes with the server having seen our
 * certificate. A second call reuses the connection (no new signature).
 */
static void
plain_close(struct env *e, struct res *r)
{
	if (r != &e->rp)
		return;
	assert_int_equal(r->code, GRPC_STATUS_OK);
	assert_string_equal(r->reply, "ping|none");
	e->plain_done++;
	plain_next(e);
}

static void
plain_next(struct env *e)
{
	if (e->plain_done < PLAIN_ROUNDS) {
		echo_start(e->pch, &e->rp, "ping", 0);
		return;
	}
	/* All served while the TLS handshake waited on the signer. */
	e->plain_tls_open = e->r1.closed == 0;
	assert_int_equal(slow_calls(&e->sa), 1);
	slow_release(&e->sa, 1);
}

static void
main_close(struct env *e, struct res *r)
{
	if (r == &e->rp) {
		plain_close(e, r);
		return;
	}
	if (r == &e->r1) {
		echo_start(e->tch, &e->r2, "again", 0);
		return;
	}
	ev_break(e->loop, EVBREAK_ALL);
}

static void
main_signing(struct env *e)
{
	assert_int_equal(e->r1.closed, 0);
	plain_next(e);
}

static void
test_loop_serves_while_signer_blocks(void **state)
{
	struct env	 e;

	(void)state;
	env_setup(&e, 0);
	res_next = main_close;
	e.on_signing = main_signing;
	echo_start(e.tch, &e.r1, "hello", 0);
	run(&e);
	assert_int_equal(e.signing_seen, 1);
	assert_int_equal(e.plain_done, PLAIN_ROUNDS);
	assert_true(e.plain_tls_open);
	assert_int_equal(e.r1.closed, 1);
	assert_int_equal(e.r1.code, GRPC_STATUS_OK);
	assert_string_equal(e.r1.reply, "hello|" AGENT_ID);
	assert_int_equal(e.r2.closed, 1);
	assert_int_equal(e.r2.code, GRPC_STATUS_OK);
	assert_string_equal(e.r2.reply, "again|" AGENT_ID);
	/* One handshake, signed off the loop thread. */
	assert_int_equal(slow_calls(&e.sa), 1);
	assert_false(pthread_equal(e.sa.thread, e.loop_thread));
	env_teardown(&e);
}

/*
 * The channel is freed while the signer holds its handshake on the
 * worker: the call is cancelled at once, the worker's step returns
 * later to an abandoned handshake, and the transport and the signer go
 * then (sign_free on the loop thread, after the context is gone too).
 */
static void
freed_signing(struct env *e)
{
	rpc_channel_free(e->tch);
	e->tch = NULL;
	assert_int_equal(e->r1.closed, 1);
	assert_int_equal(e->r1.code, GRPC_STATUS_CANCELLED);
	tls_ctx_free(e->cctx);
	e->cctx = NULL;
	/* The handshake on the worker still holds the signer. */
	assert_int_equal(e->sa.freed, 0);
	slow_release(&e->sa, 1);
}

static void
test_channel_freed_during_worker_handshake(void **state)
{
	struct env	 e;

	(void)state;
	env_setup(&e, 0);
	e.on_signing = freed_signing;
	e.sa.break_on_free = 1;
	echo_start(e.tch, &e.r1, "lost", 0);
	run(&e);		/* slow_free breaks the loop */
	assert_int_equal(e.r1.closed, 1);
	assert_int_equal(e.sa.freed, 1);
	assert_true(pthread_equal(e.sa.freed_on, e.loop_thread));
	assert_int_equal(slow_calls(&e.sa), 1);
	env_teardown(&e);
}

/*
 * The handshake deadline passes while the signer holds the step: the
 * call fails UNAVAILABLE with the reason and the channel backs off.
 * After the backoff a call that waits for ready gets through on a new
 * handshake, made on the worker again.
 */
static void
deadline_signing(struct env *e)
{
	(void)e;
	/* Hold it: the deadline must pass first. */
}

static void
deadline_close(struct env *e, struct res *r)
{
	if (r == &e->r1) {
		assert_int_equal(r->code, GRPC_STATUS_UNAVAILABLE);
		assert_non_null(strstr(r->msg, "handshake timed out"));
		/* Still held: the step on the worker is not back. */
		assert_int_equal(slow_calls(&e->sa), 1);
		e->on_signing = NULL;
		slow_release(&e->sa, 2);
		echo_start(e->tch, &e->r2, "later", RPC_CALL_WAIT_FOR_READY);
		return;
	}
	ev_break(e->loop, EVBREAK_ALL);
}

static void
test_deadline_during_worker_handshake(void **state)
{
	struct env	 e;

	(void)state;
	env_setup(&e, 0.3);
	res_next = deadline_close;
	e.on_signing = deadline_signing;
	echo_start(e.tch, &e.r1, "slow", 0);
	run(&e);
	assert_int_equal(e.r1.closed, 1);
	assert_int_equal(e.r2.closed, 1);
	assert_int_equal(e.r2.code, GRPC_STATUS_OK);
	assert_string_equal(e.r2.reply, "later|" AGENT_ID);
	assert_int_equal(slow_calls(&e.sa), 2);
	env_teardown(&e);
}

/*
 * A signer that fails fails the handshake like any connect failure:
 * UNAVAILABLE naming the handshake, then backoff, then success.
 */
static void
failing_close(struct env *e, struct res *r)
{
	if (r == &e->r1) {
		assert_int_equal(r->code, GRPC_STATUS_UNAVAILABLE);
		assert_non_null(strstr(r->msg, "handshake failed"));
		echo_start(e->tch, &e->r2, "retry", RPC_CALL_WAIT_FOR_READY);
		return;
	}
	ev_break(e->loop, EVBREAK_ALL);
}

static void
test_signer_failure_backs_off(void **state)
{
	struct env	 e;

	(void)state;
	env_setup(&e, 0);
	res_next = failing_close;
	e.sa.fail = 1;
	slow_release(&e.sa, 2);
	echo_start(e.tch, &e.r1, "fails", 0);
	run(&e);
	assert_int_equal(e.r2.closed, 1);
	assert_int_equal(e.r2.code, GRPC_STATUS_OK);
	assert_string_equal(e.r2.reply, "retry|" AGENT_ID);
	assert_int_equal(slow_calls(&e.sa), 2);
	assert_int_equal(e.sa.on_loop, 0);
	env_teardown(&e);
}

/*
 * GOAWAY: the server stops; a new server comes up on the same port;
 * the next call goes to a new connection, again handshaken on the
 * worker.
 */
static void
goaway_stopped(void *arg)
{
	struct env	*e = arg;
	int		 port;

	e->server_stopped = 1;
	rpc_server_free(e->tls_srv);
	e->tls_srv = server_new(e, e->sctx, e->tls_port, &port);
	assert_int_equal(port, e->tls_port);
	echo_start(e->tch, &e->r2, "after goaway", 0);
}

static void
goaway_close(struct env *e, struct res *r)
{
	if (r == &e->r1) {
		assert_int_equal(r->code, GRPC_STATUS_OK);
		rpc_server_stop(e->tls_srv, goaway_stopped, e);
		return;
	}
	ev_break(e->loop, EVBREAK_ALL);
}

static void
test_goaway_reconnects_on_worker(void **state)
{
	struct env	 e;

	(void)state;
	env_setup(&e, 0);
	res_next = goaway_close;
	slow_release(&e.sa, 2);
	echo_start(e.tch, &e.r1, "before", 0);
	run(&e);
	assert_true(e.server_stopped);
	assert_int_equal(e.r2.closed, 1);
	assert_int_equal(e.r2.code, GRPC_STATUS_OK);
	assert_string_equal(e.r2.reply, "after goaway|" AGENT_ID);
	assert_int_equal(slow_calls(&e.sa), 2);
	assert_int_equal(e.sa.on_loop, 0);
	env_teardown(&e);
}

/*
 * tls_ctx_set_identity while a handshake waits on the old signer: that
 * handshake finishes with the old identity, the old signer is let go
 * once it is over, and a new connection uses the new identity (signed
 * by the new signer, on the worker as well).
 */
static void
rotate_signing(struct env *e)
{
	struct tls_identity	 id;
	const uint8_t		*chain[2];
	size_t			 chain_len[2];

	e->on_signing = NULL;
	memset(&id, 0, sizeof(id));
	chain[0] = cli2_chain.leaf.der;
	chain_len[0] = cli2_chain.leaf.der_len;
	chain[1] = cli2_chain.inter.der;
	chain_len[1] = cli2_chain.inter.der_len;
	id.chain = chain;
	id.chain_len = chain_len;
	id.nchain = 2;
	id.sign = slow_sign;
	id.sign_arg = &e->sb;
	id.sign_blocks = 1;
	id.sign_free = slow_free;
	assert_int_equal(tls_ctx_set_identity(e->cctx, &id), TLS_OK);
	assert_int_equal(e->sa.freed, 0);
	slow_release(&e->sa, 1);
}

static void
rotate_close(struct env *e, struct res *r)
{
	struct rpc_channel	*ch;

	if (r == &e->r1) {
		assert_int_equal(r->code, GRPC_STATUS_OK);
		assert_string_equal(r->reply, "old|" AGENT_ID);
		/* The handshake is over: its signer is let go. */
		assert_int_equal(e->sa.freed, 1);
		slow_release(&e->sb, 1);
		ch = channel_new(e, e->tls_port, e->cctx, 0);
		rpc_channel_free(e->tch);
		e->tch = ch;
		echo_start(e->tch, &e->r2, "new", 0);
		return;
	}
	ev_break(e->loop, EVBREAK_ALL);
}

static void
test_rotation_during_worker_handshake(void **state)
{
	struct env	 e;

	(void)state;
	env_setup(&e, 0);
	res_next = rotate_close;
	e.on_signing = rotate_signing;
	echo_start(e.tch, &e.r1, "old", 0);
	run(&e);
	assert_int_equal(e.r2.closed, 1);
	assert_int_equal(e.r2.code, GRPC_STATUS_OK);
	assert_string_equal(e.r2.reply, "new|" AGENT2_ID);
	assert_int_equal(slow_calls(&e.sa), 1);
	assert_int_equal(slow_calls(&e.sb), 1);
	assert_false(pthread_equal(e.sb.thread, e.loop_thread));
	env_teardown(&e);
	assert_int_equal(e.sb.freed, 1);
}

/*
 * Without a worker the channel handshakes on the loop, as before: the
 * signer runs on the loop thread (so it must not be held here).
 */
static void
nowork_close(struct env *e, struct res *r)
{
	(void)r;
	ev_break(e->loop, EVBREAK_ALL);
}

static void
test_no_worker_handshakes_on_loop(void **state)
{
	struct rpc_channel_opts	 o;
	struct env		 e;
	char			 target[64];

	(void)state;
	env_setup(&e, 0);
	rpc_channel_free(e.tch);
	snprintf(target, sizeof(target), "127.0.0.1:%d", e.tls_port);
	memset(&o, 0, sizeof(o));
	o.target = target;
	o.tls = e.cctx;
	o.authority = "localhost";
	e.tch = rpc_channel_new(e.loop, &o);
	assert_non_null(e.tch);
	res_next = nowork_close;
	echo_start(e.tch, &e.r1, "inline", 0);
	run(&e);
	assert_int_equal(e.r1.code, GRPC_STATUS_OK);
	assert_string_equal(e.r1.reply, "inline|" AGENT_ID);
	assert_int_equal(slow_calls(&e.sa), 1);
	assert_int_equal(e.sa.on_loop, 1);
	env_teardown(&e);
}

/*
 * A listener with a worker: the server's handshake signature waits on
 * the worker while the loop serves PLAIN_ROUNDS round trips; then the
 * connection carries calls, with the client checked by the verify hook
 * on the loop. The server's signer never runs on the loop.
 */
static void
ws_plain_next(struct env *e)
{
	if (e->plain_done < PLAIN_ROUNDS) {
		echo_start(e->pch, &e->rp, "ping", 0);
		return;
	}
	e->plain_tls_open = e->r1.closed == 0;
	assert_int_equal(slow_calls(&e->ss), 1);
	slow_release(&e->ss, 1);
}

static void
ws_close(struct env *e, struct res *r)
{
	if (r == &e->rp) {
		assert_int_equal(r->code, GRPC_STATUS_OK);
		e->plain_done++;
		ws_plain_next(e);
		return;
	}
	if (r == &e->r1) {
		echo_start(e->wch, &e->r2, "again", 0);
		return;
	}
	ev_break(e->loop, EVBREAK_ALL);
}

static void
ws_signing(struct env *e)
{
	assert_int_equal(e->r1.closed, 0);
	ws_plain_next(e);
}

static void
test_server_handshake_on_worker(void **state)
{
	struct env	 e;

	(void)state;
	wenv_setup(&e, 0);
	res_next = ws_close;
	e.on_signing = ws_signing;
	echo_start(e.wch, &e.r1, "hello", 0);
	run(&e);
	assert_int_equal(e.plain_done, PLAIN_ROUNDS);
	assert_true(e.plain_tls_open);
	assert_int_equal(e.r1.code, GRPC_STATUS_OK);
	assert_string_equal(e.r1.reply, "hello|" AGENT_ID);
	assert_int_equal(e.r2.code, GRPC_STATUS_OK);
	assert_string_equal(e.r2.reply, "again|" AGENT_ID);
	assert_int_equal(slow_calls(&e.ss), 1);
	assert_int_equal(e.ss.on_loop, 0);
	assert_false(pthread_equal(e.ss.thread, e.loop_thread));
	env_teardown(&e);
}

/*
 * The server is freed while its handshake's step is on the worker: the
 * client's call fails once the step returns to an abandoned handshake,
 * which then frees the transport and with it the last reference to the
 * signer (sign_free on the loop thread).
 */
static void
wsfree_signing(struct env *e)
{
	rpc_server_free(e->wsrv);
	e->wsrv = NULL;
	tls_ctx_free(e->wsctx);
	e->wsctx = NULL;
	assert_int_equal(e->ss.freed, 0);
	slow_release(&e->ss, 1);
}

static void
test_server_freed_during_worker_handshake(void **state)
{
	struct env	 e;

	(void)state;
	wenv_setup(&e, 0);
	e.on_signing = wsfree_signing;
	e.ss.break_on_free = 1;
	echo_start(e.wch, &e.r1, "lost", 0);
	run(&e);		/* slow_free breaks the loop */
	assert_int_equal(e.ss.freed, 1);
	assert_true(pthread_equal(e.ss.freed_on, e.loop_thread));
	assert_int_equal(slow_calls(&e.ss), 1);
	env_teardown(&e);
}

/*
 * The listener's handshake deadline passes while the step is held: the
 * step, once back, finds its handshake abandoned and closes it; the
 * client's call fails. A call that waits for ready then gets through on
 * a new handshake stepped on the worker again.
 */
static void
wsdeadline_close(struct env *e, struct res *r)
{
	if (r == &e->r1) {
		assert_int_equal(r->code, GRPC_STATUS_UNAVAILABLE);
		echo_start(e->wch, &e->r2, "later", RPC_CALL_WAIT_FOR_READY);
		return;
	}
	ev_break(e->loop, EVBREAK_ALL);
}

static void
wsdeadline_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct env	*e = w->data;

	(void)loop;
	(void)revents;
	/* Past the listener's deadline: let the held step return. */
	slow_release(&e->ss, 2);
}

static void
wsdeadline_signing(struct env *e)
{
	static ev_timer	 t;

	if (slow_calls(&e->ss) != 1)
		return;
	ev_timer_init(&t, wsdeadline_timer_cb, 0.5, 0.);
	t.data = e;
	ev_timer_start(e->loop, &t);
}

static void
test_server_deadline_during_worker_handshake(void **state)
{
	struct env	 e;

	(void)state;
	wenv_setup(&e, 0.2);
	res_next = wsdeadline_close;
	e.on_signing = wsdeadline_signing;
	echo_start(e.wch, &e.r1, "slow", 0);
	run(&e);
	assert_int_equal(e.r1.closed, 1);
	assert_int_equal(e.r2.closed, 1);
	assert_int_equal(e.r2.code, GRPC_STATUS_OK);
	assert_string_equal(e.r2.reply, "later|" AGENT_ID);
	assert_int_equal(slow_calls(&e.ss), 2);
	assert_int_equal(e.ss.on_loop, 0);
	env_teardown(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loop_serves_while_signer_blocks),
		cmocka_unit_test(test_channel_freed_during_worker_handshake),
		cmocka_unit_test(test_deadline_during_worker_handshake),
		cmocka_unit_test(test_signer_failure_backs_off),
		cmocka_unit_test(test_goaway_reconnects_on_worker),
		cmocka_unit_test(test_rotation_during_worker_handshake),
		cmocka_unit_test(test_no_worker_handshakes_on_loop),
		cmocka_unit_test(test_server_handshake_on_worker),
		cmocka_unit_test(test_server_freed_during_worker_handshake),
		cmocka_unit_test(test_server_deadline_during_worker_handshake),
	};

	return cmocka_run_group_tests(tests, setup_certs, NULL);
}
