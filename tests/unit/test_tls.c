/*
 * Unit tests for rpc/tls: real handshakes over loopback TCP, both ends
 * pumped non-blockingly in one thread. Peers are our transports or, to
 * pin a TLS version or leave ALPN out, bare wolfSSL objects.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "core/mem.h"
#include "rpc/tls.h"
#include "testcerts.h"

#define PUMP_ROUNDS	400	/* handshake steps before a test gives up */
#define PUMP_WAIT_MS	50	/* a round's wait for bytes to arrive */

#define SERVER_ID	"spiffe://example.org/spire/server"
#define AGENT_ID	"spiffe://example.org/spire/agent/join_token/abc"

/* What a verify hook saw, and what it answers. */
struct hook {
	int		 calls;
	int		 refuse;
	size_t		 nchain;
	int		 chain_ok;	/* the chain equals expect[] */
	const struct testcert *expect[3];
	size_t		 nexpect;
	char		 addr[80];
};

/* A bare wolfSSL end, for what our transports never do. */
struct raw {
	WOLFSSL_CTX	*ctx;
	WOLFSSL		*ssl;
	int		 server;
};

/* One end of a handshake: ours or raw. */
struct side {
	struct transport	*t;
	struct raw		*raw;
	int			 state;	/* 0 going, 1 done, -1 failed */
	/*
	 * Ours, stepped as a channel with a worker does: wolfSSL's steps
	 * on a thread of their own, then ->handshake here for the checks.
	 */
	int			 threaded;
	int			 steps;		/* made on the thread */
	int			 hook_calls_during; /* hook ran in a step */
	const struct hook	*hook;
};

/* A software signer standing in for the TPM. */
struct signer {
	const struct testcert	*cert;
	int			 calls;
	int			 fail;
	pthread_t		 thread;	/* the last call's */
	int			 freed;		/* sign_free calls */
};

static struct testchain	 srv_chain, cli_chain, alt_chain, p384_chain;
static struct testcert	 big_leaf;

static int
hook_verify(void *arg, struct transport_peer *peer, char *err, size_t len)
{
	struct hook	*h = arg;
	size_t		 i;

	h->calls++;
	h->nchain = peer->nchain;
	snprintf(h->addr, sizeof(h->addr), "%s", peer->addr);
	h->chain_ok = peer->nchain == h->nexpect;
	for (i = 0; h->chain_ok && i < peer->nchain; i++)
		h->chain_ok = peer->chain_len[i] == h->expect[i]->der_len &&
		    memcmp(peer->chain[i], h->expect[i]->der,
		    peer->chain_len[i]) == 0;
	if (h->refuse) {
		snprintf(err, len, "not in the bundle");
		return -1;
	}
	peer->spiffe_id = mem_strdup("spiffe://example.org/seen");
	return peer->spiffe_id == NULL ? -1 : 0;
}

static int
signer_sign(void *arg, const uint8_t *digest, size_t len, uint8_t *sig,
    size_t *siglen)
{
	struct signer	*s = arg;

	s->calls++;
	s->thread = pthread_self();
	if (s->fail)
		return -1;
	return testcert_sign(s->cert->key, s->cert->key_len, digest, len,
	    sig, siglen);
}

static void
signer_free(void *arg)
{
	struct signer	*s = arg;

	s->freed++;
}

/* A connected loopback TCP pair, both non-blocking. */
static void
tcp_pair(int *sfd, int *cfd)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 l, one = 1;

	l = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(l >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &len), 0);
	*cfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(*cfd >= 0);
	assert_int_equal(connect(*cfd, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	*sfd = accept(l, NULL, NULL);
	assert_true(*sfd >= 0);
	close(l);
	/* As gRPC does; without it Nagle holds small records back. */
	assert_int_equal(setsockopt(*sfd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)), 0);
	assert_int_equal(setsockopt(*cfd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)), 0);
	assert_int_equal(fcntl(*sfd, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(*cfd, F_SETFL, O_NONBLOCK), 0);
}

static int
local_port(int fd)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

/* The identity a chain's leaf and intermediate make. */
struct ident {
	const uint8_t		*chain[2];
	size_t			 chain_len[2];
	struct tls_identity	 id;
};

static const struct tls_identity *
ident_of(struct ident *i, const struct testcert *leaf,
    const struct testcert *inter, int sec1, struct signer *signer)
{
	memset(i, 0, sizeof(*i));
	i->chain[0] = leaf->der;
	i->chain_len[0] = leaf->der_len;
	i->chain[1] = inter->der;
	i->chain_len[1] = inter->der_len;
	i->id.chain = i->chain;
	i->id.chain_len = i->chain_len;
	i->id.nchain = 2;
	if (signer != NULL) {
		signer->cert = leaf;
		i->id.sign = signer_sign;
		i->id.sign_arg = signer;
	} else if (sec1) {
		i->id.key = leaf->sec1;
		i->id.key_len = leaf->sec1_len;
	} else {
		i->id.key = leaf->key;
		i->id.key_len = leaf->key_len;
	}
	return &i->id;
}

static struct tls_ctx *
ctx_make(enum tls_role role, const struct tls_identity *id, struct hook *h)
{
	struct tls_config	 cfg;
	struct tls_ctx		*ctx;
	enum tls_err		 err;

	memset(&cfg, 0, sizeof(cfg));
	cfg.role = role;
	cfg.identity = id;
	cfg.verify = hook_verify;
	cfg.verify_arg = h;
	ctx = tls_ctx_new(&cfg, &err);
	assert_non_null(ctx);
	assert_int_equal(err, TLS_OK);
	return ctx;
}

/* Our server's context, presenting srv_chain from i, its hook h. */
static struct tls_ctx *
srv_ctx(struct ident *i, struct hook *h)
{
	return ctx_make(TLS_ROLE_SERVER, ident_of(i, &srv_chain.leaf,
	    &srv_chain.inter, 0, NULL), h);
}

/* Our client's context, presenting cli_chain from i, its hook h. */
static struct tls_ctx *
cli_ctx(struct ident *i, struct hook *h)
{
	return ctx_make(TLS_ROLE_CLIENT, ident_of(i, &cli_chain.leaf,
	    &cli_chain.inter, 0, NULL), h);
}

static int
raw_verify_any(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
	(void)preverify;
	(void)store;
	return 1;
}

/*
 * A bare wolfSSL end on fd: TLS 1.2 only or any version, offering alpn
 * (NULL: no ALPN extension at all), presenting chain c if not NULL.
 */
static void
raw_new(struct raw *r, int server, int v12, const char *alpn,
    const struct testchain *c, int fd)
{
	static uint8_t	 both[2 * TESTCERT_DER_MAX];
	WOLFSSL_METHOD	*m;
	char		 proto[32];
	size_t		 len;
	int		 rc;

	memset(r, 0, sizeof(*r));
	r->server = server;
	if (server)
		m = v12 ? wolfTLSv1_2_server_method() :
		    wolfSSLv23_server_method();
	else
		m = v12 ? wolfTLSv1_2_client_method() :
		    wolfSSLv23_client_method();
	r->ctx = wolfSSL_CTX_new(m);
	assert_non_null(r->ctx);
	wolfSSL_CTX_set_verify(r->ctx, WOLFSSL_VERIFY_PEER, raw_verify_any);
	if (c != NULL) {
		/* Leaf and intermediate, when there is one. */
		len = c->leaf.der_len + c->inter.der_len;
		memcpy(both, c->leaf.der, c->leaf.der_len);
		memcpy(both + c->leaf.der_len, c->inter.der, c->inter.der_len);
		rc = wolfSSL_CTX_use_certificate_chain_buffer_format(r->ctx,
		    both, (long)len, WOLFSSL_FILETYPE_ASN1);
		assert_int_equal(rc, WOLFSSL_SUCCESS);
		assert_int_equal(wolfSSL_CTX_use_PrivateKey_buffer(r->ctx,
		    c->leaf.key, (long)c->leaf.key_len, WOLFSSL_FILETYPE_ASN1),
		    WOLFSSL_SUCCESS);
	}
	r->ssl = wolfSSL_new(r->ctx);
	assert_non_null(r->ssl);
	assert_int_equal(wolfSSL_set_fd(r->ssl, fd), WOLFSSL_SUCCESS);
	if (alpn != NULL) {
		snprintf(proto, sizeof(proto), "%s", alpn);
		assert_int_equal(wolfSSL_UseALPN(r->ssl, proto,
		    (unsigned)strlen(proto), WOLFSSL_ALPN_FAILED_ON_MISMATCH),
		    WOLFSSL_SUCCESS);
	}
}

static void
raw_free(struct raw *r)
{
	int	 fd;

	fd = wolfSSL_get_fd(r->ssl);
	wolfSSL_free(r->ssl);
	wolfSSL_CTX_free(r->ctx);
	close(fd);
}

/* Our server s (sctx) and our client c (cctx) on a new loopback pair. */
static void
sides_ours(struct side *s, struct side *c, struct tls_ctx *sctx,
    struct tls_ctx *cctx)
{
	int	 sfd, cfd;

	tcp_pair(&sfd, &cfd);
	memset(s, 0, sizeof(*s));
	memset(c, 0, sizeof(*c));
	s->t = tls_transport_new(sctx, sfd);
	c->t = tls_transport_new(cctx, cfd);
}

/* Our server s (sctx) and bare client r in c, as raw_new makes it. */
static void
sides_bare_client(struct side *s, struct side *c, struct tls_ctx *sctx,
    struct raw *r, int v12, const char *alpn, const struct testchain *chain)
{
	int	 sfd, cfd;

	tcp_pair(&sfd, &cfd);
	memset(s, 0, sizeof(*s));
	memset(c, 0, sizeof(*c));
	s->t = tls_transport_new(sctx, sfd);
	raw_new(r, 0, v12, alpn, chain, cfd);
	c->raw = r;
}

/* Bare server r in s, as raw_new makes it, and our client c (cctx). */
static void
sides_bare_server(struct side *s, struct side *c, struct raw *r, int v12,
    const char *alpn, const struct testchain *chain, struct tls_ctx *cctx)
{
	int	 sfd, cfd;

	tcp_pair(&sfd, &cfd);
	memset(s, 0, sizeof(*s));
	memset(c, 0, sizeof(*c));
	raw_new(r, 1, v12, alpn, chain, sfd);
	s->raw = r;
	c->t = tls_transport_new(cctx, cfd);
}

/* Frees both ends, ours or bare (not the contexts). */
static void
sides_free(struct side *s, struct side *c)
{
	struct side	*e[2] = { s, c };
	int		 i;

	for (i = 0; i < 2; i++) {
		if (e[i]->t != NULL)
			e[i]->t->ops->free(e[i]->t);
		else if (e[i]->raw != NULL)
			raw_free(e[i]->raw);
		e[i]->t = NULL;
		e[i]->raw = NULL;
	}
}

/* One step of wolfSSL's handshake, on a thread of its own. */
static void *
step_thread(void *arg)
{
	struct side	*s = arg;
	int		 hook_before = s->hook != NULL ? s->hook->calls : 0;
	int		 rc;

	rc = tls_transport_handshake_step(s->t);
	s->steps++;
	if (s->hook != NULL && s->hook->calls != hook_before)
		s->hook_calls_during++;
	return (void *)(intptr_t)rc;
}

static void
side_step(struct side *s)
{
	pthread_t	 th;
	void		*ret;
	int		 rc, e;

	if (s->state != 0)
		return;
	if (s->t != NULL && s->threaded) {
		/* The thread's creation and join order the hand-overs. */
		assert_int_equal(pthread_create(&th, NULL, step_thread, s), 0);
		assert_int_equal(pthread_join(th, &ret), 0);
		rc = (int)(intptr_t)ret;
		if (rc == TRANSPORT_WANT_READ || rc == TRANSPORT_WANT_WRITE)
			return;
		/* Done or failed: the checks, as a channel makes them. */
		s->threaded = 0;
	}
	if (s->t != NULL) {
		rc = s->t->ops->handshake(s->t);
		if (rc == 0)
			s->state = 1;
		else if (rc == TRANSPORT_ERROR) {
			s->state = -1;
			print_message("handshake: %s\n", s->t->error);
		}
		else
			assert_true(rc == TRANSPORT_WANT_READ ||
			    rc == TRANSPORT_WANT_WRITE);
		return;
	}
	rc = s->raw->server ? wolfSSL_accept(s->raw->ssl) :
	    wolfSSL_connect(s->raw->ssl);
	if (rc == WOLFSSL_SUCCESS) {
		s->state = 1;
		return;
	}
	e = wolfSSL_get_error(s->raw->ssl, rc);
	if (e != WOLFSSL_ERROR_WANT_READ && e != WOLFSSL_ERROR_WANT_WRITE)
		s->state = -1;
}

static int
side_fd(const struct side *s)
{
	return s->t != NULL ? s->t->fd : wolfSSL_get_fd(s->raw->ssl);
}

/* Waits a little for the bytes the ends are waiting for. */
static void
wait_fds(const struct side *a, const struct side *b)
{
	struct pollfd	 p[2];
	nfds_t		 n = 0;

	if (a != NULL && a->state == 0) {
		p[n].fd = side_fd(a);
		p[n++].events = POLLIN;
	}
	if (b != NULL && b->state == 0) {
		p[n].fd = side_fd(b);
		p[n++].events = POLLIN;
	}
	(void)poll(p, n, PUMP_WAIT_MS);
}

/* Steps both ends until neither is still going, or the rounds run out. */
static void
pump(struct side *a, struct side *b)
{
	int	 i;

	for (i = 0; i < PUMP_ROUNDS && (a->state == 0 || b->state == 0);
	    i++) {
		side_step(a);
		side_step(b);
		if (a->state == 0 || b->state == 0)
			wait_fds(a, b);
	}
}

/* Steps both ends until done: both must have opened. */
static void
pump_open(struct side *a, struct side *b)
{
	pump(a, b);
	assert_int_equal(a->state, 1);
	assert_int_equal(b->state, 1);
}

/* The bare end asked for and got the peer's certificate. */
static void
expect_peer_cert(struct raw *r)
{
	WOLFSSL_X509	*x509;

	x509 = wolfSSL_get_peer_certificate(r->ssl);
	assert_non_null(x509);
	wolfSSL_X509_free(x509);
}

/* Reads once the fd has bytes, or the rounds run out. */
static ssize_t
read_wait(struct transport *t, void *buf, size_t len)
{
	struct pollfd	 p;
	ssize_t		 n = TRANSPORT_WANT_READ;
	int		 i;

	for (i = 0; i < PUMP_ROUNDS && (n == TRANSPORT_WANT_READ ||
	    n == TRANSPORT_WANT_WRITE); i++) {
		n = t->ops->read(t, buf, len);
		if (n == TRANSPORT_WANT_READ || n == TRANSPORT_WANT_WRITE) {
			p.fd = t->fd;
			p.events = n == TRANSPORT_WANT_READ ? POLLIN : POLLOUT;
			(void)poll(&p, 1, PUMP_WAIT_MS);
		}
	}
	return n;
}

/* Sends msg from one transport and reads it at the other. */
static void
exchange(struct transport *from, struct transport *to, const char *msg)
{
	char	 buf[64];
	ssize_t	 n;

	assert_int_equal(from->ops->write(from, msg, strlen(msg)),
	    (ssize_t)strlen(msg));
	n = read_wait(to, buf, sizeof(buf));
	assert_int_equal(n, (ssize_t)strlen(msg));
	assert_memory_equal(buf, msg, strlen(msg));
}

/* Reads until something other than "try again". */
static ssize_t
read_settled(struct transport *t)
{
	char	 buf[64];

	return read_wait(t, buf, sizeof(buf));
}

static void
expect_chain(struct hook *h, const struct testchain *c)
{
	h->expect[0] = &c->leaf;
	h->expect[1] = &c->inter;
	h->nexpect = 2;
}

static int
setup_certs(void **state)
{
	struct testcert_spec	 big = { .cn = "big", .uri = { AGENT_ID },
	    .eku = "serverAuth,clientAuth", .pad = 40, .serial = 9 };

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	if (testchain_make(&srv_chain, SERVER_ID, 0) != 0 ||
	    testchain_make(&cli_chain, AGENT_ID, 0) != 0 ||
	    testchain_make(&alt_chain, SERVER_ID, 0) != 0 ||
	    testchain_make(&p384_chain, SERVER_ID, 1) != 0 ||
	    testcert_make(&big_leaf, &big, &cli_chain.inter) != 0)
		return -1;
	return 0;
}

/* Our server and our client: a mutual TLS 1.3 handshake with h2. */
static void
test_mtls13(void **state)
{
	struct ident	 si, ci;
	struct hook	 sh = { 0 }, ch = { 0 };
	struct tls_ctx	*sctx, *cctx;
	struct side	 s = { 0 }, c = { 0 };
	char		 want[80];

	(void)state;
	expect_chain(&sh, &cli_chain);
	expect_chain(&ch, &srv_chain);
	sctx = srv_ctx(&si, &sh);
	cctx = ctx_make(TLS_ROLE_CLIENT, ident_of(&ci, &cli_chain.leaf,
	    &cli_chain.inter, 1, NULL), &ch);
	sides_ours(&s, &c, sctx, cctx);
	assert_non_null(s.t);
	assert_non_null(c.t);
	snprintf(want, sizeof(want), "127.0.0.1:%d", local_port(c.t->fd));
	assert_null(tls_transport_version(s.t));
	pump_open(&s, &c);
	assert_string_equal(tls_transport_version(s.t), "TLSv1.3");
	assert_string_equal(tls_transport_version(c.t), "TLSv1.3");
	assert_string_equal(tls_transport_group(s.t), "X25519");
	assert_string_equal(tls_transport_group(c.t), "X25519");
	assert_int_equal(sh.calls, 1);
	assert_int_equal(ch.calls, 1);
	assert_true(sh.chain_ok);
	assert_true(ch.chain_ok);
	assert_string_equal(sh.addr, want);
	assert_string_equal(s.t->peer.spiffe_id, "spiffe://example.org/seen");
	exchange(c.t, s.t, "PRI * HTTP/2.0");
	exchange(s.t, c.t, "settings");
	c.t->ops->shutdown(c.t);
	assert_int_equal(read_settled(s.t), 0);
	sides_free(&s, &c);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}

/* A P-384 server identity works as well. */
static void
test_p384_identity(void **state)
{
	struct ident	 si;
	struct hook	 sh = { 0 }, ch = { 0 };
	struct tls_ctx	*sctx, *cctx;
	struct side	 s = { 0 }, c = { 0 };

	(void)state;
	expect_chain(&ch, &p384_chain);
	sctx = ctx_make(TLS_ROLE_SERVER, ident_of(&si, &p384_chain.leaf,
	    &p384_chain.inter, 1, NULL), &sh);
	cctx = ctx_make(TLS_ROLE_CLIENT, NULL, &ch);
	sides_ours(&s, &c, sctx, cctx);
	pump_open(&s, &c);
	assert_true(ch.chain_ok);
	sides_free(&s, &c);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}

/* Our server, a TLS 1.2-only wolfSSL client with ALPN h2 and a chain. */
static void
test_mtls12_server(void **state)
{
	struct ident	 si;
	struct hook	 sh = { 0 };
	struct tls_ctx	*sctx;
	struct raw	 r;
	struct side	 s = { 0 }, c = { 0 };

	(void)state;
	expect_chain(&sh, &cli_chain);
	sctx = srv_ctx(&si, &sh);
	sides_bare_client(&s, &c, sctx, &r, 1, "h2", &cli_chain);
	pump_open(&s, &c);
	assert_string_equal(tls_transport_version(s.t), "TLSv1.2");
	assert_int_equal(sh.calls, 1);
	assert_true(sh.chain_ok);
	sides_free(&s, &c);
	tls_ctx_free(sctx);
}

/* Our client, a TLS 1.2-only wolfSSL server selecting h2. */
static void
test_mtls12_client(void **state)
{
	struct ident	 ci;
	struct hook	 ch = { 0 };
	struct tls_ctx	*cctx;
	struct raw	 r;
	struct side	 s = { 0 }, c = { 0 };

	(void)state;
	expect_chain(&ch, &srv_chain);
	cctx = cli_ctx(&ci, &ch);
	sides_bare_server(&s, &c, &r, 1, "h2", &srv_chain, cctx);
	pump_open(&s, &c);
	assert_string_equal(tls_transport_version(c.t), "TLSv1.2");
	assert_true(ch.chain_ok);
	/* The server asked for and got our certificate. */
	expect_peer_cert(&r);
	sides_free(&s, &c);
	tls_ctx_free(cctx);
}

/* Writes msg at a bare end, retrying while the socket is busy. */
static void
raw_write(struct raw *r, const char *msg)
{
	int	 i, n = -1;

	for (i = 0; i < PUMP_ROUNDS && n <= 0; i++) {
		n = wolfSSL_write(r->ssl, msg, (int)strlen(msg));
		if (n <= 0)
			(void)poll(NULL, 0, 1);
	}
	assert_int_equal(n, (int)strlen(msg));
}

/* Reads msg at a bare end, waiting for its bytes. */
static void
raw_expect(struct raw *r, const char *msg)
{
	struct pollfd	 p;
	char		 buf[64];
	int		 i, n = -1;

	for (i = 0; i < PUMP_ROUNDS && n <= 0; i++) {
		n = wolfSSL_read(r->ssl, buf, sizeof(buf));
		if (n <= 0) {
			p.fd = wolfSSL_get_fd(r->ssl);
			p.events = POLLIN;
			(void)poll(&p, 1, PUMP_WAIT_MS);
		}
	}
	assert_int_equal(n, (int)strlen(msg));
	assert_memory_equal(buf, msg, strlen(msg));
}

/* Reads msg at one of our transports. */
static void
ours_expect(struct transport *t, const char *msg)
{
	char	 buf[64];
	ssize_t	 n;

	n = read_wait(t, buf, sizeof(buf));
	assert_int_equal(n, (ssize_t)strlen(msg));
	assert_memory_equal(buf, msg, strlen(msg));
}

/*
 * Our transports drop wolfSSL's handshake scratch once open; what TLS
 * 1.3 does after the handshake must still work: KeyUpdates from either
 * side, and a server's NewSessionTicket (Go's servers send one).
 */
static void
test_after_handshake_messages(void **state)
{
	struct ident	 si, ci;
	struct hook	 sh = { 0 }, ch = { 0 };
	struct tls_ctx	*sctx, *cctx;
	struct raw	 r;
	struct side	 s = { 0 }, c = { 0 };

	(void)state;
	expect_chain(&sh, &cli_chain);
	expect_chain(&ch, &srv_chain);
	/* Our server, a bare client updating its keys. */
	sctx = srv_ctx(&si, &sh);
	sides_bare_client(&s, &c, sctx, &r, 0, "h2", &cli_chain);
	pump_open(&s, &c);
	assert_string_equal(tls_transport_version(s.t), "TLSv1.3");
	raw_write(&r, "before");
	ours_expect(s.t, "before");
	assert_int_equal(wolfSSL_update_keys(r.ssl), WOLFSSL_SUCCESS);
	raw_write(&r, "after the update");
	ours_expect(s.t, "after the update");
	/* The update asked for ours: it goes out with this record. */
	assert_int_equal(s.t->ops->write(s.t, "reply", 5), 5);
	raw_expect(&r, "reply");
	sides_free(&s, &c);
	/* Our client, a bare server sending a ticket, then updating. */
	cctx = cli_ctx(&ci, &ch);
	sides_bare_server(&s, &c, &r, 0, "h2", &srv_chain, cctx);
	pump_open(&s, &c);
	assert_string_equal(tls_transport_version(c.t), "TLSv1.3");
	raw_write(&r, "ticket first");
	ours_expect(c.t, "ticket first");
	assert_int_equal(wolfSSL_update_keys(r.ssl), WOLFSSL_SUCCESS);
	raw_write(&r, "updated");
	ours_expect(c.t, "updated");
	assert_int_equal(c.t->ops->write(c.t, "thanks", 6), 6);
	raw_expect(&r, "thanks");
	sides_free(&s, &c);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}

/*
 * Our ends prefer X25519 but take P-256 from a peer that has nothing
 * else: a bare client offering only P-256, and a bare server accepting
 * only P-256 (our client's X25519 share gets a HelloRetryRequest).
 */
static void
test_key_exchange_groups(void **state)
{
	struct ident	 si, ci;
	struct hook	 sh = { 0 }, ch = { 0 };
	struct tls_ctx	*sctx, *cctx;
	struct raw	 r;
	struct side	 s = { 0 }, c = { 0 };
	int		 p256[] = { WOLFSSL_ECC_SECP256R1 };

	(void)state;
	expect_chain(&sh, &cli_chain);
	expect_chain(&ch, &srv_chain);
	sctx = srv_ctx(&si, &sh);
	sides_bare_client(&s, &c, sctx, &r, 0, "h2", &cli_chain);
	assert_int_equal(wolfSSL_set_groups(r.ssl, p256, 1), WOLFSSL_SUCCESS);
	pump_open(&s, &c);
	assert_string_equal(tls_transport_version(s.t), "TLSv1.3");
	assert_string_equal(tls_transport_group(s.t), "SECP256R1");
	raw_write(&r, "p256");
	ours_expect(s.t, "p256");
	sides_free(&s, &c);
	cctx = cli_ctx(&ci, &ch);
	sides_bare_server(&s, &c, &r, 0, "h2", &srv_chain, cctx);
	assert_int_equal(wolfSSL_set_groups(r.ssl, p256, 1), WOLFSSL_SUCCESS);
	pump_open(&s, &c);
	assert_string_equal(tls_transport_version(c.t), "TLSv1.3");
	assert_string_equal(tls_transport_group(c.t), "SECP256R1");
	raw_write(&r, "retried");
	ours_expect(c.t, "retried");
	sides_free(&s, &c);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}

/* A client with no certificate is let in; the hook sees nchain 0. */
static void
test_no_client_cert(void **state)
{
	struct ident	 si;
	struct hook	 sh = { 0 }, ch = { 0 };
	struct tls_ctx	*sctx, *cctx;
	struct side	 s = { 0 }, c = { 0 };

	(void)state;
	expect_chain(&ch, &srv_chain);
	sctx = srv_ctx(&si, &sh);
	cctx = ctx_make(TLS_ROLE_CLIENT, NULL, &ch);
	sides_ours(&s, &c, sctx, cctx);
	pump_open(&s, &c);
	assert_int_equal(sh.calls, 1);
	assert_int_equal(sh.nchain, 0);
	assert_null(s.t->peer.chain);
	assert_true(ch.chain_ok);
	exchange(c.t, s.t, "hello");
	sides_free(&s, &c);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}

/* The server's hook refuses: no application byte reaches either end. */
static void
test_hook_refusal_server(void **state)
{
	struct ident	 si, ci;
	struct hook	 sh = { 0 }, ch = { 0 };
	struct tls_ctx	*sctx, *cctx;
	struct side	 s = { 0 }, c = { 0 };
	char		 buf[16];

	(void)state;
	sh.refuse = 1;
	sctx = srv_ctx(&si, &sh);
	cctx = cli_ctx(&ci, &ch);
	sides_ours(&s, &c, sctx, cctx);
	pump(&s, &c);
	assert_int_equal(s.state, -1);
	assert_int_equal(sh.calls, 1);
	assert_non_null(strstr(s.t->error, "not in the bundle"));
	assert_int_equal(s.t->ops->read(s.t, buf, sizeof(buf)),
	    TRANSPORT_ERROR);
	assert_int_equal(s.t->ops->write(s.t, "x", 1), TRANSPORT_ERROR);
	assert_int_equal(s.t->ops->handshake(s.t), TRANSPORT_ERROR);
	s.t->ops->free(s.t);
	/* TLS 1.3: the client finished first; it reads only the close. */
	if (c.state == 0)
		pump(&s, &c);
	if (c.state == 1)
		assert_true(read_settled(c.t) <= 0);
	else
		assert_int_equal(c.state, -1);
	c.t->ops->free(c.t);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}

/* The client's hook refuses the server. */
static void
test_hook_refusal_client(void **state)
{
	struct ident	 si;
	struct hook	 sh = { 0 }, ch = { 0 };
	struct tls_ctx	*sctx, *cctx;
	struct side	 s = { 0 }, c = { 0 };

	(void)state;
	ch.refuse = 1;
	sctx = srv_ctx(&si, &sh);
	cctx = ctx_make(TLS_ROLE_CLIENT, NULL, &ch);
	sides_ours(&s, &c, sctx, cctx);
	pump(&s, &c);
	assert_int_equal(c.state, -1);
	assert_int_equal(ch.calls, 1);
	assert_non_null(strstr(c.t->error, "refused"));
	c.t->ops->free(c.t);
	/*
	 * In TLS 1.3 the client's Finished left before its check, so the
	 * server may have finished too; then it reads only the close.
	 */
	if (s.state == 0)
		pump(&s, &c);
	if (s.state == 1)
		assert_true(read_settled(s.t) <= 0);
	else
		assert_int_equal(s.state, -1);
	s.t->ops->free(s.t);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}

/*
 * A client sending no ALPN extension gets through wolfSSL's handshake;
 * our server must refuse it afterwards.
 */
static void
test_client_without_alpn(void **state)
{
	struct ident	 si;
	struct hook	 sh;
	struct tls_ctx	*sctx;
	struct raw	 r;
	struct side	 s = { 0 }, c = { 0 };
	int		 v12;

	(void)state;
	for (v12 = 0; v12 <= 1; v12++) {
		memset(&sh, 0, sizeof(sh));
		sctx = srv_ctx(&si, &sh);
		sides_bare_client(&s, &c, sctx, &r, v12, NULL, &cli_chain);
		pump(&s, &c);
		assert_int_equal(s.state, -1);
		assert_int_equal(sh.calls, 0);
		assert_non_null(strstr(s.t->error, "ALPN h2"));
		sides_free(&s, &c);
		tls_ctx_free(sctx);
	}
}

/* A client offering only another protocol fails in the handshake. */
static void
test_client_other_alpn(void **state)
{
	struct ident	 si;
	struct hook	 sh = { 0 };
	struct tls_ctx	*sctx;
	struct raw	 r;
	struct side	 s = { 0 }, c = { 0 };

	(void)state;
	sctx = srv_ctx(&si, &sh);
	sides_bare_client(&s, &c, sctx, &r, 0, "http/1.1", NULL);
	pump(&s, &c);
	assert_int_equal(s.state, -1);
	assert_int_equal(c.state, -1);
	assert_int_equal(sh.calls, 0);
	sides_free(&s, &c);
	tls_ctx_free(sctx);
}

/* A server that selects no ALPN is refused by our client. */
static void
test_server_without_alpn(void **state)
{
	struct hook	 ch = { 0 };
	struct tls_ctx	*cctx;
	struct raw	 r;
	struct side	 s = { 0 }, c = { 0 };

	(void)state;
	cctx = ctx_make(TLS_ROLE_CLIENT, NULL, &ch);
	sides_bare_server(&s, &c, &r, 0, NULL, &srv_chain, cctx);
	pump(&s, &c);
	assert_int_equal(c.state, -1);
	assert_int_equal(ch.calls, 0);
	assert_non_null(strstr(c.t->error, "did not select ALPN h2"));
	sides_free(&s, &c);
	tls_ctx_free(cctx);
}

/* Our client's key is held by a signer: TLS 1.3 against our server. */
static void
test_signer_client13(void **state)
{
	struct ident	 si, ci;
	struct hook	 sh = { 0 }, ch = { 0 };
	struct signer	 sig = { 0 };
	struct tls_ctx	*sctx, *cctx;
	struct side	 s = { 0 }, c = { 0 };

	(void)state;
	expect_chain(&sh, &cli_chain);
	sctx = srv_ctx(&si, &sh);
	cctx = ctx_make(TLS_ROLE_CLIENT, ident_of(&ci, &cli_chain.leaf,
	    &cli_chain.inter, 0, &sig), &ch);
	sides_ours(&s, &c, sctx, cctx);
	pump_open(&s, &c);
	assert_string_equal(tls_transport_version(c.t), "TLSv1.3");
	assert_int_equal(sig.calls, 1);
	assert_true(sh.chain_ok);
	exchange(c.t, s.t, "signed");
	sides_free(&s, &c);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}

/* Our server's key is held by a signer: TLS 1.3 and TLS 1.2 clients. */
static void
test_signer_server(void **state)
{
	struct ident	 si;
	struct hook	 sh = { 0 };
	struct signer	 sig = { 0 };
	struct tls_ctx	*sctx;
	struct raw	 r;
	struct side	 s, c;
	int		 v12;

	(void)state;
	sctx = ctx_make(TLS_ROLE_SERVER, ident_of(&si, &srv_chain.leaf,
	    &srv_chain.inter, 0, &sig), &sh);
	/* P-256 in TLS 1.3 and 1.2, then P-384 in TLS 1.3. */
	for (v12 = 0; v12 <= 2; v12++) {
		if (v12 == 2) {
			assert_int_equal(tls_ctx_set_identity(sctx,
			    ident_of(&si, &p384_chain.leaf, &p384_chain.inter,
			    0, &sig)), TLS_OK);
		}
		sig.calls = 0;
		sides_bare_client(&s, &c, sctx, &r, v12 == 1, "h2", NULL);
		pump_open(&s, &c);
		assert_string_equal(tls_transport_version(s.t),
		    v12 == 1 ? "TLSv1.2" : "TLSv1.3");
		assert_int_equal(sig.calls, 1);
		sides_free(&s, &c);
	}
	tls_ctx_free(sctx);
}

/* Our client with a signer against a TLS 1.2 server asking for a cert. */
static void
test_signer_client12(void **state)
{
	struct ident	 ci;
	struct hook	 ch = { 0 };
	struct signer	 sig = { 0 };
	struct tls_ctx	*cctx;
	struct raw	 r;
	struct side	 s = { 0 }, c = { 0 };

	(void)state;
	cctx = ctx_make(TLS_ROLE_CLIENT, ident_of(&ci, &cli_chain.leaf,
	    &cli_chain.inter, 0, &sig), &ch);
	sides_bare_server(&s, &c, &r, 1, "h2", &srv_chain, cctx);
	pump_open(&s, &c);
	assert_string_equal(tls_transport_version(c.t), "TLSv1.2");
	assert_int_equal(sig.calls, 1);
	expect_peer_cert(&r);
	sides_free(&s, &c);
	tls_ctx_free(cctx);
}

/* A signer that fails fails the handshake, on our side. */
static void
test_signer_fails(void **state)
{
	struct ident	 si;
	struct hook	 sh = { 0 }, ch = { 0 };
	struct signer	 sig = { .fail = 1 };
	struct tls_ctx	*sctx, *cctx;
	struct side	 s = { 0 }, c = { 0 };

	(void)state;
	sctx = ctx_make(TLS_ROLE_SERVER, ident_of(&si, &srv_chain.leaf,
	    &srv_chain.inter, 0, &sig), &sh);
	cctx = ctx_make(TLS_ROLE_CLIENT, NULL, &ch);
	sides_ours(&s, &c, sctx, cctx);
	pump(&s, &c);
	assert_int_equal(s.state, -1);
	assert_int_equal(sig.calls, 1);
	s.t->ops->free(s.t);
	pump(&s, &c);
	assert_int_equal(c.state, -1);
	assert_int_equal(ch.calls, 0);
	c.t->ops->free(c.t);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}

/*
 * Rotation: a connection started before tls_ctx_set_identity finishes
 * with the old chain and keeps working; the next one gets the new one.
 * The context is freed before the old connection: it must not care.
 */
static void
test_rotation(void **state)
{
	struct ident	 a, b;
	struct hook	 sh = { 0 }, ch = { 0 };
	struct tls_ctx	*sctx, *cctx;
	struct side	 s1 = { 0 }, c1 = { 0 }, s2 = { 0 }, c2 = { 0 };

	(void)state;
	sctx = srv_ctx(&a, &sh);
	cctx = ctx_make(TLS_ROLE_CLIENT, NULL, &ch);
	sides_ours(&s1, &c1, sctx, cctx);
	side_step(&c1);		/* ClientHello sent */
	assert_int_equal(tls_ctx_set_identity(sctx, ident_of(&b,
	    &alt_chain.leaf, &alt_chain.inter, 0, NULL)), TLS_OK);
	expect_chain(&ch, &srv_chain);
	pump_open(&s1, &c1);
	assert_true(ch.chain_ok);

	expect_chain(&ch, &alt_chain);
	sides_ours(&s2, &c2, sctx, cctx);
	pump_open(&s2, &c2);
	assert_true(ch.chain_ok);
	assert_int_equal(ch.calls, 2);

	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
	exchange(c1.t, s1.t, "old identity, still alive");
	exchange(s2.t, c2.t, "new identity");
	s1.t->ops->free(s1.t);
	c1.t->ops->free(c1.t);
	s2.t->ops->free(s2.t);
	c2.t->ops->free(c2.t);
}

/* A failed rotation leaves the old identity in place. */
static void
test_rotation_failure_keeps_old(void **state)
{
	struct ident	 a, b;
	struct hook	 sh = { 0 }, ch = { 0 };
	struct tls_ctx	*sctx, *cctx;
	struct side	 s = { 0 }, c = { 0 };

	(void)state;
	sctx = srv_ctx(&a, &sh);
	cctx = ctx_make(TLS_ROLE_CLIENT, NULL, &ch);
	/* alt's leaf with srv's key: a mismatch. */
	ident_of(&b, &alt_chain.leaf, &alt_chain.inter, 0, NULL);
	b.id.key = srv_chain.leaf.key;
	b.id.key_len = srv_chain.leaf.key_len;
	assert_int_equal(tls_ctx_set_identity(sctx, &b.id), TLS_ERR_KEY);
	assert_int_equal(tls_ctx_set_identity(sctx, NULL), TLS_ERR_CONFIG);
	expect_chain(&ch, &srv_chain);
	sides_ours(&s, &c, sctx, cctx);
	pump(&s, &c);
	assert_int_equal(c.state, 1);
	assert_true(ch.chain_ok);
	sides_free(&s, &c);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}

/*
 * A leaf over 2 KiB: wolfSSL's own peer chain would drop it and show
 * the intermediate as the leaf. The hook must see both, in TLS 1.3 and
 * in TLS 1.2.
 */
static void
test_big_leaf(void **state)
{
	struct ident	 si, ci;
	struct hook	 sh, ch;
	struct tls_ctx	*sctx, *cctx;
	static struct testchain	 bigc;
	struct raw	 r;
	struct side	 s, c;

	(void)state;
	assert_true(big_leaf.der_len > 2048);
	memset(&sh, 0, sizeof(sh));
	memset(&ch, 0, sizeof(ch));
	sctx = srv_ctx(&si, &sh);
	cctx = ctx_make(TLS_ROLE_CLIENT, ident_of(&ci, &big_leaf,
	    &cli_chain.inter, 0, NULL), &ch);
	sh.expect[0] = &big_leaf;
	sh.expect[1] = &cli_chain.inter;
	sh.nexpect = 2;
	sides_ours(&s, &c, sctx, cctx);
	pump(&s, &c);
	assert_int_equal(s.state, 1);
	assert_true(sh.chain_ok);
	sides_free(&s, &c);

	/* TLS 1.2: a bare server with the big leaf, our client. */
	ch.expect[0] = &big_leaf;
	ch.expect[1] = &cli_chain.inter;
	ch.nexpect = 2;
	bigc.leaf = big_leaf;
	bigc.inter = cli_chain.inter;
	sides_bare_server(&s, &c, &r, 1, "h2", &bigc, cctx);
	pump(&s, &c);
	assert_int_equal(c.state, 1);
	assert_string_equal(tls_transport_version(c.t), "TLSv1.2");
	assert_true(ch.chain_ok);
	sides_free(&s, &c);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}

/*
 * A client whose signer blocks, stepped off this thread as a channel
 * with a worker steps it: the signer runs on that thread, the verify
 * hook only in the ->handshake that follows here, and the connection
 * then works as any other. TLS 1.3 against our server, TLS 1.2 against
 * a bare one.
 */
static void
test_step_on_another_thread(void **state)
{
	struct ident	 si, ci;
	struct hook	 sh = { 0 }, ch = { 0 };
	struct signer	 sig = { 0 };
	struct tls_ctx	*sctx, *cctx;
	struct raw	 r;
	struct side	 s, c;
	int		 sfd, cfd, v12;

	(void)state;
	expect_chain(&sh, &cli_chain);
	sctx = srv_ctx(&si, &sh);
	ident_of(&ci, &cli_chain.leaf, &cli_chain.inter, 0, &sig);
	ci.id.sign_blocks = 1;
	cctx = ctx_make(TLS_ROLE_CLIENT, &ci.id, &ch);
	for (v12 = 0; v12 <= 1; v12++) {
		sig.calls = 0;
		ch.calls = 0;
		if (v12)
			sides_bare_server(&s, &c, &r, 1, "h2", &srv_chain,
			    cctx);
		else
			sides_ours(&s, &c, sctx, cctx);
		c.threaded = 1;
		c.hook = &ch;
		assert_int_equal(tls_transport_signer_blocks(c.t), 1);
		pump_open(&s, &c);
		assert_string_equal(tls_transport_version(c.t),
		    v12 ? "TLSv1.2" : "TLSv1.3");
		assert_true(c.steps >= 2);
		assert_int_equal(c.hook_calls_during, 0);
		assert_int_equal(ch.calls, 1);
		assert_int_equal(sig.calls, 1);
		assert_false(pthread_equal(sig.thread, pthread_self()));
		/* Over: nothing of the handshake is left to move. */
		assert_int_equal(tls_transport_signer_blocks(c.t), 0);
		assert_int_equal(tls_transport_handshake_step(c.t), 0);
		if (v12) {
			sides_free(&s, &c);
			continue;
		}
		assert_true(sh.chain_ok);
		exchange(c.t, s.t, "stepped elsewhere");
		exchange(s.t, c.t, "and back");
		sides_free(&s, &c);
	}
	/* A signer that is not marked blocking is not moved. */
	ci.id.sign_blocks = 0;
	assert_int_equal(tls_ctx_set_identity(cctx, &ci.id), TLS_OK);
	tcp_pair(&sfd, &cfd);
	c.t = tls_transport_new(cctx, cfd);
	assert_int_equal(tls_transport_signer_blocks(c.t), 0);
	c.t->ops->free(c.t);
	close(sfd);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}

/* A step that fails leaves the reason, and ->handshake agrees. */
static void
test_step_failure(void **state)
{
	struct ident	 si, ci;
	struct hook	 sh = { 0 }, ch = { 0 };
	struct signer	 sig = { .fail = 1 };
	struct tls_ctx	*sctx, *cctx;
	struct side	 s = { 0 }, c = { 0 };
	struct transport *plain;
	int		 i, sp[2];

	(void)state;
	sctx = srv_ctx(&si, &sh);
	ident_of(&ci, &cli_chain.leaf, &cli_chain.inter, 0, &sig);
	ci.id.sign_blocks = 1;
	cctx = ctx_make(TLS_ROLE_CLIENT, &ci.id, &ch);
	sides_ours(&s, &c, sctx, cctx);
	c.threaded = 1;
	for (i = 0; i < PUMP_ROUNDS && c.state == 0; i++) {
		side_step(&s);
		side_step(&c);
		if (c.state == 0)
			wait_fds(&s, &c);
	}
	assert_int_equal(c.state, -1);
	assert_int_equal(sig.calls, 1);
	assert_int_equal(ch.calls, 0);
	assert_non_null(strstr(c.t->error, "handshake failed"));
	assert_int_equal(tls_transport_handshake_step(c.t), TRANSPORT_ERROR);
	assert_int_equal(tls_transport_signer_blocks(c.t), 0);
	c.t->ops->free(c.t);
	/* Our server sees the end and fails in turn. */
	for (i = 0; i < PUMP_ROUNDS && s.state == 0; i++) {
		side_step(&s);
		if (s.state == 0)
			wait_fds(&s, NULL);
	}
	assert_int_equal(s.state, -1);
	s.t->ops->free(s.t);
	/* A plain transport has no TLS to step. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	plain = transport_plain_new(sp[0], 1);
	assert_non_null(plain);
	assert_int_equal(tls_transport_handshake_step(plain),
	    TRANSPORT_ERROR);
	assert_int_equal(tls_transport_signer_blocks(plain), 0);
	plain->ops->free(plain);
	close(sp[1]);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}

/*
 * sign_free: a rotation mid-handshake keeps the old signer until that
 * handshake is over (not until the connection ends), the context's
 * current one goes with the context, and a refused identity's never
 * gets called.
 */
static void
test_sign_free_lifetime(void **state)
{
	struct ident	 si, a, b, bad;
	struct hook	 sh = { 0 }, ch = { 0 };
	struct signer	 sa = { 0 }, sb = { 0 }, sbad = { 0 };
	struct tls_ctx	*sctx, *cctx;
	struct side	 s = { 0 }, c = { 0 };
	uint8_t		 junk[64];

	(void)state;
	sctx = srv_ctx(&si, &sh);
	ident_of(&a, &cli_chain.leaf, &cli_chain.inter, 0, &sa);
	a.id.sign_blocks = 1;
	a.id.sign_free = signer_free;
	cctx = ctx_make(TLS_ROLE_CLIENT, &a.id, &ch);
	sides_ours(&s, &c, sctx, cctx);
	c.threaded = 1;
	side_step(&c);		/* ClientHello sent, no signature yet */
	assert_int_equal(sa.calls, 0);

	ident_of(&b, &alt_chain.leaf, &alt_chain.inter, 0, &sb);
	b.id.sign_free = signer_free;
	assert_int_equal(tls_ctx_set_identity(cctx, &b.id), TLS_OK);
	assert_int_equal(sa.freed, 0);
	memset(junk, 0x30, sizeof(junk));
	ident_of(&bad, &cli_chain.leaf, &cli_chain.inter, 0, &sbad);
	bad.id.sign_free = signer_free;
	bad.chain[0] = junk;
	bad.chain_len[0] = sizeof(junk);
	assert_int_equal(tls_ctx_set_identity(cctx, &bad.id), TLS_ERR_CERT);

	expect_chain(&sh, &cli_chain);
	pump(&s, &c);
	assert_int_equal(c.state, 1);
	assert_true(sh.chain_ok);
	assert_int_equal(sa.calls, 1);
	/* The old signer is let go with the handshake, on this thread. */
	assert_int_equal(sa.freed, 1);
	exchange(c.t, s.t, "old identity, signer gone");
	tls_ctx_free(cctx);
	assert_int_equal(sb.freed, 1);
	c.t->ops->free(c.t);
	s.t->ops->free(s.t);
	assert_int_equal(sa.freed, 1);
	assert_int_equal(sb.calls, 0);
	assert_int_equal(sbad.freed, 0);
	tls_ctx_free(sctx);
}

/* Broken or contradictory configurations, each with its own code. */
static void
test_bad_configs(void **state)
{
	struct tls_config	 cfg;
	struct ident		 i;
	struct signer		 sig = { 0 };
	struct hook		 h;
	struct tls_ctx		*ctx;
	enum tls_err		 err;
	uint8_t			 junk[64];

	(void)state;
	memset(&h, 0, sizeof(h));
	memset(&cfg, 0, sizeof(cfg));
	memset(junk, 0x30, sizeof(junk));
	cfg.verify = hook_verify;
	cfg.verify_arg = &h;

	cfg.role = TLS_ROLE_SERVER;
	ctx = tls_ctx_new(&cfg, &err);
	assert_null(ctx);
	assert_int_equal(err, TLS_ERR_CONFIG);

	cfg.identity = ident_of(&i, &srv_chain.leaf, &srv_chain.inter, 0,
	    NULL);
	cfg.verify = NULL;
	assert_null(tls_ctx_new(&cfg, &err));
	assert_int_equal(err, TLS_ERR_CONFIG);
	cfg.verify = hook_verify;

	i.id.sign = signer_sign;
	i.id.sign_arg = &sig;
	assert_null(tls_ctx_new(&cfg, &err));
	assert_int_equal(err, TLS_ERR_CONFIG);

	ident_of(&i, &srv_chain.leaf, &srv_chain.inter, 0, NULL);
	i.chain[0] = junk;
	i.chain_len[0] = sizeof(junk);
	assert_null(tls_ctx_new(&cfg, &err));
	assert_int_equal(err, TLS_ERR_CERT);

	ident_of(&i, &srv_chain.leaf, &srv_chain.inter, 0, NULL);
	i.id.key = junk;
	i.id.key_len = sizeof(junk);
	assert_null(tls_ctx_new(&cfg, &err));
	assert_int_equal(err, TLS_ERR_KEY);

	ident_of(&i, &srv_chain.leaf, &srv_chain.inter, 0, NULL);
	i.id.key = cli_chain.leaf.key;
	i.id.key_len = cli_chain.leaf.key_len;
	assert_null(tls_ctx_new(&cfg, &err));
	assert_int_equal(err, TLS_ERR_KEY);

	assert_string_equal(tls_strerror(TLS_ERR_KEY),
	    "our private key does not load or match");
}

/*
 * Every one of our allocations failing in turn, through a whole
 * handshake: each failure is reported, nothing leaks (the sanitizer
 * build checks), and the run without failures succeeds.
 */
static void
test_alloc_failures(void **state)
{
	struct tls_config	 cfg;
	struct ident		 si, ci;
	struct hook		 sh, ch;
	struct tls_ctx		*sctx, *cctx;
	struct side		 s, c;
	enum tls_err		 err;
	unsigned long		 n;
	int			 sfd, cfd, ok = 0;

	(void)state;
	for (n = 1; n < 64 && !ok; n++) {
		memset(&sh, 0, sizeof(sh));
		memset(&ch, 0, sizeof(ch));
		memset(&s, 0, sizeof(s));
		memset(&c, 0, sizeof(c));
		memset(&cfg, 0, sizeof(cfg));
		cfg.verify = hook_verify;
		cfg.role = TLS_ROLE_SERVER;
		cfg.verify_arg = &sh;
		cfg.identity = ident_of(&si, &srv_chain.leaf,
		    &srv_chain.inter, 0, NULL);
		tcp_pair(&sfd, &cfd);
		mem_fail_after(n);
		sctx = tls_ctx_new(&cfg, &err);
		if (sctx == NULL)
			assert_int_equal(err, TLS_ERR_NOMEM);
		cfg.role = TLS_ROLE_CLIENT;
		cfg.verify_arg = &ch;
		cfg.identity = ident_of(&ci, &cli_chain.leaf,
		    &cli_chain.inter, 0, NULL);
		cctx = tls_ctx_new(&cfg, &err);
		if (cctx == NULL)
			assert_int_equal(err, TLS_ERR_NOMEM);
		if (sctx == NULL || cctx == NULL) {
			close(sfd);
			close(cfd);
			goto next;
		}
		/* Each takes its fd, even when it fails. */
		s.t = tls_transport_new(sctx, sfd);
		c.t = tls_transport_new(cctx, cfd);
		if (s.t == NULL || c.t == NULL)
			goto next;
		pump(&s, &c);
		ok = s.state == 1 && c.state == 1;
		if (!ok)
			assert_true(s.state == -1 || c.state == -1 ||
			    s.state == 0 || c.state == 0);
next:
		mem_fail_after(0);
		if (s.t != NULL)
			s.t->ops->free(s.t);
		if (c.t != NULL)
			c.t->ops->free(c.t);
		tls_ctx_free(sctx);
		tls_ctx_free(cctx);
	}
	assert_true(ok);
	assert_true(n > 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mtls13),
		cmocka_unit_test(test_p384_identity),
		cmocka_unit_test(test_mtls12_server),
		cmocka_unit_test(test_mtls12_client),
		cmocka_unit_test(test_after_handshake_messages),
		cmocka_unit_test(test_key_exchange_groups),
		cmocka_unit_test(test_no_client_cert),
		cmocka_unit_test(test_hook_refusal_server),
		cmocka_unit_test(test_hook_refusal_client),
		cmocka_unit_test(test_client_without_alpn),
		cmocka_unit_test(test_client_other_alpn),
		cmocka_unit_test(test_server_without_alpn),
		cmocka_unit_test(test_signer_client13),
		cmocka_unit_test(test_signer_server),
		cmocka_unit_test(test_signer_client12),
		cmocka_unit_test(test_signer_fails),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_rotation_failure_keeps_old),
		cmocka_unit_test(test_big_leaf),
		cmocka_unit_test(test_step_on_another_thread),
		cmocka_unit_test(test_step_failure),
		cmocka_unit_test(test_sign_free_lifetime),
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test(test_alloc_failures),
	};

	return cmocka_run_group_tests(tests, setup_certs, NULL);
}
