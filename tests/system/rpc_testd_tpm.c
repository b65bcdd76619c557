/*
 * rpc_testd's TPM client, included by rpc_testd.c after
 * rpc_testd_tls.c:
 *
 *   rpc_testd tpmclient TARGET -c CERTDIR -k TCTI -p SWTPM_PID [-n N]
 *
 * Makes an ECDSA P-256 key in the TPM behind TCTI (swtpm), a client
 * certificate for it (spiffe://example.org/tpm-client) signed by
 * CERTDIR/ca.key.der, and calls TARGET's Echo over mutual TLS with that
 * key as our identity: wolfSSL asks for the handshake's signature, the
 * TPM makes it, on the worker thread. While the signer waits, swtpm is
 * held with SIGSTOP and the same loop serves LOCAL_ROUNDS calls of
 * another client to a server of its own; only then is swtpm let go.
 * The TLS call and N more on its connection must then succeed. One line
 * of results goes to stdout; the exit status is 0 when all held.
 */
#include <pthread.h>
#include <time.h>

#include "core/worker.h"
#include "hal/key.h"
#include "hal/tpm.h"
#include "pki/cert.h"

#define LOCAL_ROUNDS	50	/* local calls served while the TPM signs */
#define LOCAL_PATH	"/spirelet.test.Local/Ping"
#define TPM_CLIENT_ID	"spiffe://example.org/tpm-client"
#define TPMC_GUARD_SEC	60.

/* The tls_sign_fn adapter's state: the TPM key and what it saw. */
struct tpm_signer {
	struct key	*key;
	pthread_mutex_t	 lock;
	int		 calls;		/* under lock */
	int		 on_loop;	/* under lock: calls on the loop */
	pthread_t	 loop_thread;
	int		 wake[2];	/* a byte per call, for the loop */
	int		 released;	/* sign_free calls (loop thread) */
};

static struct {
	struct tpm_signer	 sig;
	struct worker		*worker;
	struct rpc_server	*local_srv;
	struct rpc_channel	*local_ch;
	struct rpc_channel	*tls_ch;
	pid_t			 swtpm;
	int			 held;		/* swtpm is stopped */
	int			 local_started;
	int			 local_done;
	int			 tls_open_meanwhile;
	int			 signatures_meanwhile;
	int			 tls_calls_ok;
	int			 tls_calls_left;
	int			 failed;
	char			 peer[200];
	spirelet_test_EchoReply	 reply;
	ev_io			 wake_io;
	ev_timer		 guard;
} tc;

static void	tpmc_resume(void);
static void	tpmc_local_next(void);
static void	tpmc_tls_call(void);

/* Called by wolfSSL, inside a handshake step, on the worker thread. */
static int
tpmc_sign(void *arg, const uint8_t *digest, size_t len, uint8_t *sig,
    size_t *siglen)
{
	struct tpm_signer	*s = arg;
	uint8_t			 buf[KEY_SIG_MAX];
	size_t			 buflen = sizeof(buf);
	enum key_err		 e;
	ssize_t			 n;
	int			 on_loop;

	pthread_mutex_lock(&s->lock);
	s->calls++;
	on_loop = pthread_equal(pthread_self(), s->loop_thread);
	s->on_loop += on_loop;
	pthread_mutex_unlock(&s->lock);
	/* On the loop nothing would ever let the TPM go: fail, not hang. */
	if (on_loop)
		tpmc_resume();
	do
		n = write(s->wake[1], "s", 1);
	while (n == -1 && errno == EINTR);
	/* key_sign wants KEY_SIG_MAX of room; wolfSSL may offer less. */
	e = key_sign(s->key, digest, len, buf, &buflen);
	if (e != KEY_OK) {
		log_warnx("testd", "TPM signature: %s", key_strerror(e));
		return -1;
	}
	if (buflen > *siglen)
		return -1;
	memcpy(sig, buf, buflen);
	*siglen = buflen;
	return 0;
}

static void
tpmc_sign_free(void *arg)
{
	struct tpm_signer	*s = arg;

	s->released++;
}

static int
tpmc_signer_calls(void)
{
	int	 n;

	pthread_mutex_lock(&tc.sig.lock);
	n = tc.sig.calls;
	pthread_mutex_unlock(&tc.sig.lock);
	return n;
}

static void
tpmc_resume(void)
{
	if (tc.held) {
		(void)kill(tc.swtpm, SIGCONT);
		tc.held = 0;
	}
}

static void
tpmc_fail(const char *what)
{
	fprintf(stderr, "tpmclient: %s\n", what);
	tc.failed = 1;
	tpmc_resume();
	ev_break(loop, EVBREAK_ALL);
}

/* The local server: answers the ping with its bytes. */
static void
tpmc_ping(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	(void)arg;
	if (rpc_call_send(call, req, len) != RPC_ERR_OK) {
		rpc_call_finish(call, GRPC_STATUS_INTERNAL, NULL, NULL, 0);
		return;
	}
	rpc_call_finish(call, GRPC_STATUS_OK, NULL, NULL, 0);
}

static const struct rpc_method tpmc_methods[] = {
	{ LOCAL_PATH, RPC_UNARY, tpmc_ping, NULL, NULL, NULL, NULL, NULL },
};

static void
tpmc_local_close(struct rpc_call *call, const struct rpc_result *res,
    void *arg)
{
	(void)call;
	(void)arg;
	if (res->code != GRPC_STATUS_OK) {
		tpmc_fail("a local call failed");
		return;
	}
	tc.local_done++;
	tpmc_local_next();
}

static const struct rpc_client_cbs tpmc_local_cbs = {
	.on_close = tpmc_local_close,
};

/*
 * The next local round trip, or, after the last, the TPM let go: the
 * TLS call must still be waiting on its signature then.
 */
static void
tpmc_local_next(void)
{
	struct rpc_call	*call;

	if (tc.local_done < LOCAL_ROUNDS) {
		call = rpc_client_call(tc.local_ch, LOCAL_PATH, NULL, 0, 10, 0,
		    &tpmc_local_cbs, NULL);
		if (call == NULL || rpc_call_send(call, "ping", 4) !=
		    RPC_ERR_OK || rpc_call_close_send(call) != RPC_ERR_OK)
			tpmc_fail("cannot start a local call");
		return;
	}
	tc.tls_open_meanwhile = tc.tls_calls_ok == 0 && !tc.failed;
	tc.signatures_meanwhile = tpmc_signer_calls();
	tpmc_resume();
}

/* The signer was entered: the TPM is held, so serve others now. */
static void
tpmc_wake_cb(struct ev_loop *l, ev_io *w, int revents)
{
	char	 b;

	(void)l;
	(void)revents;
	if (read(w->fd, &b, 1) != 1)
		return;
	if (!tc.local_started && tc.held) {
		tc.local_started = 1;
		tpmc_local_next();
	}
}

static void
tpmc_tls_done(void *arg, const struct rpc_result *res)
{
	(void)arg;
	if (res->code != GRPC_STATUS_OK) {
		fprintf(stderr, "tpmclient: TLS call: %s %s\n",
		    grpc_status_name(res->code), res->message);
		tpmc_fail("a TLS call failed");
		return;
	}
	if (tc.tls_calls_ok == 0 && tc.reply.text != NULL)
		snprintf(tc.peer, sizeof(tc.peer), "%s", tc.reply.text);
	pb_release(spirelet_test_EchoReply_fields, &tc.reply);
	tc.tls_calls_ok++;
	if (tc.tls_calls_left-- > 0) {
		tpmc_tls_call();
		return;
	}
	ev_break(loop, EVBREAK_ALL);
}

static void
tpmc_tls_call(void)
{
	spirelet_test_EchoRequest	 req;

	memset(&req, 0, sizeof(req));
	memset(&tc.reply, 0, sizeof(tc.reply));
	req.text = (char *)(uintptr_t)"peer";
	if (rpc_client_unary(tc.tls_ch, "/spirelet.test.Echo/Unary", NULL, 0,
	    30, spirelet_test_EchoRequest_fields, &req,
	    spirelet_test_EchoReply_fields, &tc.reply, tpmc_tls_done,
	    NULL) == -1)
		tpmc_fail("cannot start a TLS call");
}

static void
tpmc_guard_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	tpmc_fail("timed out");
}

/* A client certificate for the TPM key, signed by the test CA. */
static int
tpmc_make_cert(const char *certdir, struct key *key, uint8_t **der,
    size_t *der_len)
{
	struct cert_template	 tpl;
	struct cert_name	 name;
	struct key		*ca = NULL;
	uint8_t			*ca_key, *subject = NULL;
	size_t			 ca_key_len = 0, subject_len;
	enum key_err		 ke;
	time_t			 now = time(NULL);
	int			 ret = -1;

	ca_key = file_read(certdir, "ca.key.der", &ca_key_len);
	if (ca_key == NULL) {
		fprintf(stderr, "tpmclient: no ca.key.der in %s\n", certdir);
		return -1;
	}
	ca = key_soft_load(ca_key, ca_key_len, &ke);
	mem_wipe(ca_key, ca_key_len);
	free(ca_key);
	memset(&name, 0, sizeof(name));
	name.common_name = "tpm-client";
	memset(&tpl, 0, sizeof(tpl));
	if (ca == NULL || cert_name_encode(&name, &subject,
	    &subject_len) == -1 || cert_random_serial(&tpl) == -1)
		goto out;
	tpl.subject = subject;
	tpl.subject_len = subject_len;
	tpl.not_before = now - 60;
	tpl.not_after = now + 3600;
	tpl.key_usage = CERT_KU_DIGITAL_SIGNATURE;
	tpl.eku_tls = 1;
	tpl.uri = TPM_CLIENT_ID;
	tpl.spki = key_spki(key, &tpl.spki_len);
	if (cert_sign(&tpl, ca, tlsf.ca, tlsf.ca_len, der, der_len) == -1)
		goto out;
	ret = 0;
out:
	if (ret == -1)
		fprintf(stderr, "tpmclient: cannot make the certificate\n");
	mem_free(subject);
	key_free(ca);
	return ret;
}

static struct rpc_channel *
tpmc_channel(const char *target, struct tls_ctx *tls, struct worker *w)
{
	struct rpc_channel_opts	 o;

	memset(&o, 0, sizeof(o));
	o.target = target;
	o.tls = tls;
	o.worker = w;
	o.authority = tls != NULL ? "localhost" : NULL;
	return rpc_channel_new(loop, &o);
}

static int
tpmclient(int argc, char *argv[])
{
	struct tpm_opts		 topts;
	struct tls_identity	 id;
	struct rpc_listen_opts	 lo;
	struct rpc_listener	*l;
	struct tls_ctx		*tls = NULL;
	struct tpm		*tpm = NULL;
	const char		*certdir = NULL, *tcti = NULL;
	const uint8_t		*chain[1];
	size_t			 chain_len[1];
	uint8_t			*cert = NULL;
	size_t			 cert_len = 0;
	enum tpm_err		 te;
	enum key_err		 ke;
	char			 local[64];
	int			 ch, more = 3, ok;

	while ((ch = getopt(argc, argv, "c:k:p:n:")) != -1) {
		switch (ch) {
		case 'c':
			certdir = optarg;
			break;
		case 'k':
			tcti = optarg;
			break;
		case 'p':
			tc.swtpm = (pid_t)strtol(optarg, NULL, 10);
			break;
		case 'n':
			more = (int)strtol(optarg, NULL, 10);
			break;
		default:
			return 2;
		}
	}
	if (optind >= argc || certdir == NULL || tcti == NULL ||
	    tc.swtpm <= 0)
		return 2;
	tc.tls_calls_left = more;
	tc.sig.loop_thread = pthread_self();
	if (pthread_mutex_init(&tc.sig.lock, NULL) != 0 ||
	    pipe(tc.sig.wake) == -1)
		return 1;

	memset(&topts, 0, sizeof(topts));
	topts.tcti = tcti;
	tpm = tpm_open(&topts, &te);
	if (tpm == NULL)
		return 1;
	tc.sig.key = key_tpm_create(tpm, KEY_EC_P256, NULL, &ke);
	if (tc.sig.key == NULL) {
		fprintf(stderr, "tpmclient: key: %s\n", key_strerror(ke));
		return 1;
	}
	/* A software identity at first (or none), then the TPM one. */
	tls = tls_setup(certdir, TLS_ROLE_CLIENT);
	if (tls == NULL || tpmc_make_cert(certdir, tc.sig.key, &cert,
	    &cert_len) == -1)
		return 1;
	chain[0] = cert;
	chain_len[0] = cert_len;
	memset(&id, 0, sizeof(id));
	id.chain = chain;
	id.chain_len = chain_len;
	id.nchain = 1;
	id.sign = tpmc_sign;
	id.sign_arg = &tc.sig;
	id.sign_blocks = key_is_blocking(tc.sig.key);
	id.sign_free = tpmc_sign_free;
	if (tls_ctx_set_identity(tls, &id) != TLS_OK)
		return 1;

	tc.worker = worker_new(loop);
	tc.local_srv = rpc_server_new(loop);
	if (tc.worker == NULL || tc.local_srv == NULL ||
	    rpc_server_add_methods(tc.local_srv, tpmc_methods, 1) == -1)
		return 1;
	memset(&lo, 0, sizeof(lo));
	lo.addr = "127.0.0.1:0";
	l = rpc_server_listen(tc.local_srv, &lo);
	if (l == NULL)
		return 1;
	snprintf(local, sizeof(local), "127.0.0.1:%d", rpc_listener_port(l));
	tc.local_ch = tpmc_channel(local, NULL, NULL);
	tc.tls_ch = tpmc_channel(argv[optind], tls, tc.worker);
	if (tc.local_ch == NULL || tc.tls_ch == NULL)
		return 1;
	ev_io_init(&tc.wake_io, tpmc_wake_cb, tc.sig.wake[0], EV_READ);
	ev_io_start(loop, &tc.wake_io);
	ev_timer_init(&tc.guard, tpmc_guard_cb, TPMC_GUARD_SEC, 0.);
	ev_timer_start(loop, &tc.guard);

	/* The TPM is held from before the handshake's first byte. */
	if (kill(tc.swtpm, SIGSTOP) == -1) {
		perror("kill SIGSTOP");
		return 1;
	}
	tc.held = 1;
	tpmc_tls_call();
	ev_run(loop, 0);
	tpmc_resume();
	ev_timer_stop(loop, &tc.guard);
	ev_io_stop(loop, &tc.wake_io);

	rpc_channel_free(tc.tls_ch);
	rpc_channel_free(tc.local_ch);
	rpc_server_free(tc.local_srv);
	tls_teardown(tls);
	worker_free(tc.worker);
	printf("local_rounds %d tls_open_meanwhile %d signatures_meanwhile "
	    "%d signatures %d signer_on_loop %d tls_calls %d "
	    "signer_released %d peer %s\n", tc.local_done,
	    tc.tls_open_meanwhile, tc.signatures_meanwhile,
	    tpmc_signer_calls(), tc.sig.on_loop, tc.tls_calls_ok,
	    tc.sig.released, tc.peer);
	fflush(stdout);
	ok = !tc.failed && tc.local_done == LOCAL_ROUNDS &&
	    tc.tls_open_meanwhile && tc.signatures_meanwhile == 1 &&
	    tc.sig.on_loop == 0 && tc.tls_calls_ok == more + 1 &&
	    tc.sig.released == 1;
	key_free(tc.sig.key);
	tpm_close(tpm);
	mem_free(cert);
	close(tc.sig.wake[0]);
	close(tc.sig.wake[1]);
	pthread_mutex_destroy(&tc.sig.lock);
	return ok ? 0 : 1;
}
