/*
 * TLS transports through wolfSSL.
 *
 * wolfSSL never judges a peer here: its verify callback accepts every
 * certificate, no CA is ever loaded into a wolfSSL context (so it cannot
 * collect peer intermediates either), and once the handshake is done the
 * chain the peer sent goes to the caller's hook, which checks it against
 * a SPIFFE bundle. What wolfSSL still guarantees is the handshake itself:
 * the peer holds the key of the leaf it sent.
 *
 * Our identity lives in a wolfSSL context of its own (struct tls_cred),
 * shared by counted references between the tls_ctx and every transport
 * made while it was current, so rotation swaps the tls_ctx's reference
 * and live connections keep theirs. A remote signer (struct tls_signer)
 * has references of its own: the cred's, and one per transport until
 * its handshake is over, so the signer's owner learns (sign_free) when
 * no handshake can call it any more, long before the connections end.
 *
 * Threads: references are counted on the loop thread only. A client
 * transport whose signer blocks is lent to the worker for its wolfSSL
 * steps (tls_transport_handshake_step); that thread then uses the
 * wolfSSL session, the shared WOLFSSL_CTX (which wolfSSL allows from
 * several threads: Debian's build is not SINGLE_THREADED) and the
 * signer, and touches no reference count and no user hook.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/openssl/crypto.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/mem.h"
#include "rpc/tls.h"

#define TLS_SUBSYS	"tls"

/*
 * AEAD suites with forward secrecy only: TLS 1.3's three, and for TLS
 * 1.2 the ECDHE ones Go offers, ECDSA and RSA (upstream SPIRE servers
 * may hold RSA keys). Anonymous suites stay out although wolfSSL has them.
 */
#define TLS_CIPHERS \
	"TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:" \
	"TLS13-CHACHA20-POLY1305-SHA256:" \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:" \
	"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-RSA-CHACHA20-POLY1305"

#define TLS_SPKI_MAX	256	/* bytes of a P-256 or P-384 public key */

/* A key held elsewhere, shared by reference (loop thread only). */
struct tls_signer {
	int		 refs;
	tls_sign_fn	 sign;
	void		*arg;
	int		 blocks;	/* sign waits on a device */
	void		(*release)(void *); /* the owner's sign_free */
};

/* An identity loaded into a wolfSSL context, shared by reference. */
struct tls_cred {
	int		 refs;
	WOLFSSL_CTX	*wctx;
	struct tls_signer *signer;	/* NULL when wolfSSL holds the key */
};

struct tls_ctx {
	enum tls_role	 role;
	tls_verify_fn	 verify;
	void		*verify_arg;
	struct tls_cred	*cred;		/* for handshakes from now on */
};

enum tls_state {
	TLS_STATE_HANDSHAKE,
	TLS_STATE_SHAKEN,	/* wolfSSL is done; our checks are not */
	TLS_STATE_OPEN,
	TLS_STATE_FAILED,
};

struct tls_conn {
	struct transport	 t;	/* first, so ops can convert back */
	WOLFSSL			*ssl;
	struct tls_cred		*cred;	/* one reference */
	/* One reference while the handshake may still sign; then NULL. */
	struct tls_signer	*signer;
	pthread_t		 home;	/* the loop's, which made it */
	enum tls_role		 role;
	tls_verify_fn		 verify;
	void			*verify_arg;
	enum tls_state		 state;
	int			 eof;	/* recv() saw the end of stream */
	int			 io_errno; /* last unexpected errno */
	int			 shut;	/* close_notify sent */
	/* Why the verify callback refused, for the error text. */
	const char		*chain_err;
};

static struct tls_cred	*tls_cred_new(enum tls_role,
			    const struct tls_identity *, enum tls_err *);
static void		 tls_cred_unref(struct tls_cred *);
static void		 tls_signer_unref(struct tls_signer *);
static void		 tls_ctx_drop_cred(struct tls_ctx *);
static void		 tls_conn_signer_drop(struct tls_conn *);
static enum tls_err	 tls_cred_load(struct tls_cred *,
			    const struct tls_identity *);
static enum tls_err	 tls_cred_load_signer(struct tls_cred *,
			    const struct tls_identity *, const uint8_t *,
			    size_t);
static int		 tls_leaf_spki(const uint8_t *, size_t, uint8_t *,
			    size_t *);
static int		 tls_key_matches(const uint8_t *, size_t,
			    const uint8_t *, size_t);
static void		 tls_log_lib(const char *, int);
static int		 tls_verify_cb(int, WOLFSSL_X509_STORE_CTX *);
static int		 tls_sign_cb(WOLFSSL *, const unsigned char *,
			    unsigned int, unsigned char *, word32 *,
			    const unsigned char *, unsigned int, void *);
static int		 tls_io_recv(WOLFSSL *, char *, int, void *);
static int		 tls_io_send(WOLFSSL *, char *, int, void *);
static int		 tls_io_error(struct tls_conn *, int);
static void		 tls_peer_addr(struct tls_conn *);
static void		 tls_chain_clear(struct transport_peer *);
static int		 tls_chain_take(struct tls_conn *,
			    const WOLFSSL_BUFFER_INFO *, int);
static int		 tls_fail(struct tls_conn *, const char *, ...)
			    __attribute__((format(printf, 2, 3)));
static int		 tls_fail_lib(struct tls_conn *, const char *, int);
static int		 tls_shake(struct tls_conn *);
static int		 tls_finish(struct tls_conn *);
static int		 tls_check_leaf(struct tls_conn *);
static int		 tls_op_handshake(struct transport *);
static ssize_t		 tls_op_read(struct transport *, void *, size_t);
static ssize_t		 tls_op_write(struct transport *, const void *,
			    size_t);
static void		 tls_op_shutdown(struct transport *);
static void		 tls_op_free(struct transport *);

static const struct transport_ops tls_ops = {
	.handshake = tls_op_handshake,
	.read = tls_op_read,
	.write = tls_op_write,
	.shutdown = tls_op_shutdown,
	.free = tls_op_free,
};

/* wolfSSL wants a writable buffer; it copies the name. */
static char	tls_alpn_h2[] = "h2";

/* Key exchange groups, in our order of preference. */
static int	tls_groups[] = {
	WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1, WOLFSSL_ECC_SECP384R1
};

const char *
tls_strerror(enum tls_err err)
{
	switch (err) {
	case TLS_OK:
		return "success";
	case TLS_ERR_NOMEM:
		return "out of memory";
	case TLS_ERR_CERT:
		return "our certificate chain does not load";
	case TLS_ERR_KEY:
		return "our private key does not load or match";
	case TLS_ERR_LIB:
		return "wolfSSL refused a setting";
	case TLS_ERR_CONFIG:
		return "TLS configuration incomplete or contradictory";
	}
	return "unknown TLS error";
}

/* wolfSSL's text for a failed call, logged once here. */
static void
tls_log_lib(const char *what, int code)
{
	char	 buf[WOLFSSL_MAX_ERROR_SZ];

	wolfSSL_ERR_error_string_n((unsigned long)code, buf, sizeof(buf));
	log_warnx(TLS_SUBSYS, "%s: %s (%d)", what, buf, code);
	wolfSSL_ERR_clear_error();
}

struct tls_ctx *
tls_ctx_new(const struct tls_config *cfg, enum tls_err *err)
{
	struct tls_ctx	*ctx;

	*err = TLS_ERR_CONFIG;
	if (cfg->verify == NULL || (cfg->role == TLS_ROLE_SERVER &&
	    cfg->identity == NULL)) {
		log_warnx(TLS_SUBSYS, "context: %s", tls_strerror(*err));
		return NULL;
	}
	ctx = mem_calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		*err = TLS_ERR_NOMEM;
		log_warnx(TLS_SUBSYS, "context: %s", tls_strerror(*err));
		return NULL;
	}
	ctx->role = cfg->role;
	ctx->verify = cfg->verify;
	ctx->verify_arg = cfg->verify_arg;
	ctx->cred = tls_cred_new(cfg->role, cfg->identity, err);
	if (ctx->cred == NULL) {
		mem_free(ctx);
		return NULL;
	}
	*err = TLS_OK;
	return ctx;
}

enum tls_err
tls_ctx_set_identity(struct tls_ctx *ctx, const struct tls_identity *id)
{
	struct tls_cred	*cred;
	enum tls_err	 err;

	if (id == NULL && ctx->role == TLS_ROLE_SERVER) {
		log_warnx(TLS_SUBSYS, "identity: a server needs one");
		return TLS_ERR_CONFIG;
	}
	cred = tls_cred_new(ctx->role, id, &err);
	if (cred == NULL)
		return err;
	tls_ctx_drop_cred(ctx);
	ctx->cred = cred;
	return TLS_OK;
}

void
tls_ctx_free(struct tls_ctx *ctx)
{
	if (ctx == NULL)
		return;
	tls_ctx_drop_cred(ctx);
	mem_free(ctx);
}

/*
 * The context lets its identity go. No transport will be made from the
 * cred again, so it lets its signer go too: transports still in their
 * handshake hold references of their own, and the owner's sign_free
 * runs once the last of them is over, not when the connections end.
 */
static void
tls_ctx_drop_cred(struct tls_ctx *ctx)
{
	struct tls_cred	*cred = ctx->cred;

	ctx->cred = NULL;
	if (cred == NULL)
		return;
	tls_signer_unref(cred->signer);
	cred->signer = NULL;
	tls_cred_unref(cred);
}

/*
 * A wolfSSL context with our settings and identity. Each holds one
 * wolfSSL_Init reference, so the library outlives its last context.
 */
static struct tls_cred *
tls_cred_new(enum tls_role role, const struct tls_identity *id,
    enum tls_err *err)
{
	struct tls_cred		*cred = NULL;
	WOLFSSL_METHOD		*method;
	int			 rc;

	*err = TLS_ERR_LIB;
	if (id != NULL && (id->nchain == 0 ||
	    (id->key == NULL) == (id->sign == NULL))) {
		*err = TLS_ERR_CONFIG;
		log_warnx(TLS_SUBSYS, "identity: needs a chain and exactly "
		    "one of key and signer");
		return NULL;
	}
	rc = wolfSSL_Init();
	if (rc != WOLFSSL_SUCCESS) {
		tls_log_lib("wolfSSL_Init", rc);
		return NULL;
	}
	cred = mem_calloc(1, sizeof(*cred));
	if (cred == NULL) {
		*err = TLS_ERR_NOMEM;
		log_warnx(TLS_SUBSYS, "identity: %s", tls_strerror(*err));
		wolfSSL_Cleanup();
		return NULL;
	}
	cred->refs = 1;
	method = role == TLS_ROLE_SERVER ? wolfSSLv23_server_method() :
	    wolfSSLv23_client_method();
	if (method != NULL)
		cred->wctx = wolfSSL_CTX_new(method);
	if (cred->wctx == NULL) {
		log_warnx(TLS_SUBSYS, "wolfSSL_CTX_new failed");
		goto fail;
	}
	rc = wolfSSL_CTX_SetMinVersion(cred->wctx, WOLFSSL_TLSV1_2);
	if (rc != WOLFSSL_SUCCESS) {
		tls_log_lib("wolfSSL_CTX_SetMinVersion", rc);
		goto fail;
	}
	rc = wolfSSL_CTX_set_cipher_list(cred->wctx, TLS_CIPHERS);
	if (rc != WOLFSSL_SUCCESS) {
		tls_log_lib("wolfSSL_CTX_set_cipher_list", rc);
		goto fail;
	}
	/*
	 * VERIFY_PEER makes a server ask for a client certificate; without
	 * FAIL_IF_NO_PEER_CERT it does not insist. The callback accepts.
	 */
	wolfSSL_CTX_set_verify(cred->wctx, WOLFSSL_VERIFY_PEER, tls_verify_cb);
	/* No resumption: a resumed session would carry no peer chain. */
	wolfSSL_CTX_set_session_cache_mode(cred->wctx, WOLFSSL_SESS_CACHE_OFF);
	if (wolfSSL_CTX_NoTicketTLSv12(cred->wctx) != WOLFSSL_SUCCESS ||
	    (role == TLS_ROLE_SERVER &&
	    wolfSSL_CTX_no_ticket_TLSv13(cred->wctx) != 0)) {
		log_warnx(TLS_SUBSYS, "cannot turn session tickets off");
		goto fail;
	}
	/*
	 * X25519 first (Go's first choice too), then the NIST curves. Not
	 * for speed alone: a P-256 ECDH with the peer's one-off key makes
	 * wolfCrypt's fixed-point cache hold an 850 KB table of it, and in
	 * the step that also signs, the base point's table is built (3 ms);
	 * X25519 goes around that cache.
	 */
	rc = wolfSSL_CTX_set_groups(cred->wctx, tls_groups,
	    (int)(sizeof(tls_groups) / sizeof(tls_groups[0])));
	if (rc != WOLFSSL_SUCCESS) {
		tls_log_lib("wolfSSL_CTX_set_groups", rc);
		goto fail;
	}
	wolfSSL_CTX_SetIORecv(cred->wctx, tls_io_recv);
	wolfSSL_CTX_SetIOSend(cred->wctx, tls_io_send);
	if (id != NULL) {
		*err = tls_cred_load(cred, id);
		if (*err != TLS_OK)
			goto fail;
	}
	/* Only now: a refused identity's arg stays the caller's. */
	if (cred->signer != NULL)
		cred->signer->release = id->sign_free;
	*err = TLS_OK;
	return cred;
fail:
	if (*err == TLS_OK)
		*err = TLS_ERR_LIB;
	tls_cred_unref(cred);
	return NULL;
}

static void
tls_cred_unref(struct tls_cred *cred)
{
	if (cred == NULL || --cred->refs > 0)
		return;
	/* wolfSSL zeroes the private key it copied when it frees it. */
	if (cred->wctx != NULL)
		wolfSSL_CTX_free(cred->wctx);
	tls_signer_unref(cred->signer);
	mem_free(cred);
	wolfSSL_Cleanup();
}

static void
tls_signer_unref(struct tls_signer *signer)
{
	if (signer == NULL || --signer->refs > 0)
		return;
	if (signer->release != NULL)
		signer->release(signer->arg);
	mem_free(signer);
}

/* Our chain (leaf first), then the key or the signer. */
static enum tls_err
tls_cred_load(struct tls_cred *cred, const struct tls_identity *id)
{
	uint8_t		*all;
	uint8_t		 spki[TLS_SPKI_MAX];
	size_t		 total = 0, off = 0, i, spki_len;
	int		 rc;

	for (i = 0; i < id->nchain; i++) {
		if (id->chain_len[i] == 0 || id->chain_len[i] > X509_CERT_MAX) {
			log_warnx(TLS_SUBSYS, "identity: certificate %zu has "
			    "%zu bytes", i, id->chain_len[i]);
			return TLS_ERR_CERT;
		}
		total += id->chain_len[i];
	}
	all = mem_alloc(total);
	if (all == NULL) {
		log_warnx(TLS_SUBSYS, "identity: %s",
		    tls_strerror(TLS_ERR_NOMEM));
		return TLS_ERR_NOMEM;
	}
	for (i = 0; i < id->nchain; i++) {
		memcpy(all + off, id->chain[i], id->chain_len[i]);
		off += id->chain_len[i];
	}
	/* Concatenated DER certificates make a chain for wolfSSL. */
	rc = wolfSSL_CTX_use_certificate_chain_buffer_format(cred->wctx, all,
	    (long)total, WOLFSSL_FILETYPE_ASN1);
	mem_free(all);
	if (rc != WOLFSSL_SUCCESS) {
		tls_log_lib("identity: certificate chain", rc);
		return TLS_ERR_CERT;
	}
	spki_len = sizeof(spki);
	if (tls_leaf_spki(id->chain[0], id->chain_len[0], spki,
	    &spki_len) != 0)
		return TLS_ERR_CERT;
	if (id->sign != NULL)
		return tls_cred_load_signer(cred, id, spki, spki_len);
	if (tls_key_matches(id->key, id->key_len, spki, spki_len) != 0)
		return TLS_ERR_KEY;
	rc = wolfSSL_CTX_use_PrivateKey_buffer(cred->wctx, id->key,
	    (long)id->key_len, WOLFSSL_FILETYPE_ASN1);
	if (rc != WOLFSSL_SUCCESS) {
		tls_log_lib("identity: private key", rc);
		return TLS_ERR_KEY;
	}
	return TLS_OK;
}

/*
 * The leaf's SubjectPublicKeyInfo, if it is a P-256 or P-384 key: the
 * only kinds we sign with.
 */
static int
tls_leaf_spki(const uint8_t *der, size_t len, uint8_t *spki,
    size_t *spki_len)
{
	WOLFSSL_X509		*x509 = NULL;
	WOLFSSL_EVP_PKEY	*pkey = NULL;
	unsigned char		*out = NULL;
	ecc_key			 ecc;
	word32			 idx = 0;
	int			 n = -1, curve = ECC_CURVE_INVALID, ret = -1;

	x509 = wolfSSL_X509_d2i(NULL, der, (int)len);
	if (x509 != NULL)
		pkey = wolfSSL_X509_get_pubkey(x509);
	if (pkey != NULL)
		n = wolfSSL_i2d_PUBKEY(pkey, &out);
	if (n <= 0 || (size_t)n > *spki_len) {
		log_warnx(TLS_SUBSYS, "identity: no usable public key in the "
		    "leaf certificate");
		goto out;
	}
	if (wc_ecc_init(&ecc) == 0) {
		if (wc_EccPublicKeyDecode(out, &idx, &ecc, (word32)n) == 0)
			curve = wc_ecc_get_curve_id(ecc.idx);
		wc_ecc_free(&ecc);
	}
	if (curve != ECC_SECP256R1 && curve != ECC_SECP384R1) {
		log_warnx(TLS_SUBSYS, "identity: the leaf key is not on "
		    "P-256 or P-384");
		goto out;
	}
	memcpy(spki, out, (size_t)n);
	*spki_len = (size_t)n;
	ret = 0;
out:
	if (out != NULL)
		wolfSSL_OPENSSL_free(out);
	wolfSSL_EVP_PKEY_free(pkey);
	wolfSSL_X509_free(x509);
	wolfSSL_ERR_clear_error();
	return ret;
}

/*
 * The private key (PKCS#8 or SEC1) must belong to the leaf's public key.
 * wolfSSL_CTX_check_private_key does not notice a foreign EC key, so
 * the points are compared here. The parsed key is wiped by wc_ecc_free.
 */
static int
tls_key_matches(const uint8_t *key, size_t key_len, const uint8_t *spki,
    size_t spki_len)
{
	ecc_key		 priv, pub;
	word32		 idx = 0;
	int		 have_priv = 0, have_pub = 0, ret = -1;

	if (wc_ecc_init(&priv) != 0 || wc_ecc_init(&pub) != 0)
		goto out;
	have_priv = have_pub = 1;
	if (wc_EccPrivateKeyDecode(key, &idx, &priv, (word32)key_len) != 0) {
		log_warnx(TLS_SUBSYS, "identity: the private key is not a "
		    "PKCS#8 or SEC1 EC key");
		goto out;
	}
	/* PKCS#8 and SEC1 may leave the public point out. */
	if (priv.type == ECC_PRIVATEKEY_ONLY &&
	    wc_ecc_make_pub(&priv, NULL) != 0)
		goto mismatch;
	idx = 0;
	if (wc_EccPublicKeyDecode(spki, &idx, &pub, (word32)spki_len) != 0)
		goto mismatch;
	if (wc_ecc_get_curve_id(priv.idx) != wc_ecc_get_curve_id(pub.idx) ||
	    wc_ecc_cmp_point(&priv.pubkey, &pub.pubkey) != MP_EQ)
		goto mismatch;
	ret = 0;
	goto out;
mismatch:
	log_warnx(TLS_SUBSYS, "identity: the private key does not match "
	    "the leaf certificate");
out:
	if (have_priv)
		wc_ecc_free(&priv);
	if (have_pub)
		wc_ecc_free(&pub);
	return ret;
}

/*
 * A key held elsewhere. wolfSSL's ECC sign callback does the signing;
 * wolfSSL still wants a "private key" to learn the key's type and size,
 * and with a sign callback set it takes the public key for one.
 */
static enum tls_err
tls_cred_load_signer(struct tls_cred *cred, const struct tls_identity *id,
    const uint8_t *spki, size_t spki_len)
{
	int	 rc;

	cred->signer = mem_calloc(1, sizeof(*cred->signer));
	if (cred->signer == NULL) {
		log_warnx(TLS_SUBSYS, "identity: %s",
		    tls_strerror(TLS_ERR_NOMEM));
		return TLS_ERR_NOMEM;
	}
	cred->signer->refs = 1;
	cred->signer->sign = id->sign;
	cred->signer->arg = id->sign_arg;
	cred->signer->blocks = id->sign_blocks != 0;
	/* Before the key: wolfSSL accepts a public one only then. */
	wolfSSL_CTX_SetEccSignCb(cred->wctx, tls_sign_cb);
	rc = wolfSSL_CTX_use_PrivateKey_buffer(cred->wctx, spki,
	    (long)spki_len, WOLFSSL_FILETYPE_ASN1);
	if (rc != WOLFSSL_SUCCESS) {
		tls_log_lib("identity: signer's public key", rc);
		return TLS_ERR_KEY;
	}
	return TLS_OK;
}

/*
 * wolfSSL asks for a signature over a digest with our remote key, on
 * the thread running the handshake step. A client whose signer blocks
 * steps on the worker when its channel has one (rpc/client.c).
 * XXX: anywhere else (a server with a TPM key, a channel without a
 * worker) the signer runs synchronously on the loop thread, so a TPM
 * signature stalls every connection for its duration; wolfSSL's
 * asynchronous crypto is not in Debian's build.
 */
static int
tls_sign_cb(WOLFSSL *ssl, const unsigned char *in, unsigned int inlen,
    unsigned char *out, word32 *outlen, const unsigned char *key,
    unsigned int keylen, void *arg)
{
	struct tls_signer	*signer = arg;
	size_t			 len = *outlen;

	(void)ssl;
	(void)key;
	(void)keylen;
	/* NULL once the handshake is over: nothing signs after it. */
	if (signer == NULL)
		return WC_HW_E;
	if (signer->sign(signer->arg, in, inlen, out, &len) != 0 ||
	    len == 0 || len > *outlen) {
		log_warnx(TLS_SUBSYS, "handshake: the key's signer failed");
		return WC_HW_E;
	}
	*outlen = (word32)len;
	return 0;
}

struct transport *
tls_transport_new(struct tls_ctx *ctx, int fd)
{
	struct tls_conn	*c;
	int		 rc, one = 1;

	c = mem_calloc(1, sizeof(*c));
	if (c == NULL) {
		log_warnx(TLS_SUBSYS, "connection: %s",
		    tls_strerror(TLS_ERR_NOMEM));
		close(fd);
		return NULL;
	}
	c->t.ops = &tls_ops;
	c->t.fd = fd;
	c->home = pthread_self();
	/*
	 * As plain TCP: small gRPC writes must not wait for the peer's
	 * delayed ACK (40 ms a round trip otherwise).
	 */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->role = ctx->role;
	c->verify = ctx->verify;
	c->verify_arg = ctx->verify_arg;
	c->state = TLS_STATE_HANDSHAKE;
	c->cred = ctx->cred;
	c->cred->refs++;
	c->signer = c->cred->signer;
	if (c->signer != NULL)
		c->signer->refs++;
	tls_peer_addr(c);
	c->ssl = wolfSSL_new(c->cred->wctx);
	if (c->ssl == NULL) {
		log_warnx(TLS_SUBSYS, "peer %s: wolfSSL_new failed",
		    c->t.peer.addr);
		goto fail;
	}
	wolfSSL_SetIOReadCtx(c->ssl, c);
	wolfSSL_SetIOWriteCtx(c->ssl, c);
	wolfSSL_SetCertCbCtx(c->ssl, c);
	wolfSSL_SetEccSignCtx(c->ssl, c->signer);
	/*
	 * Both ends offer only h2. On a mismatch wolfSSL fails the
	 * handshake; a peer that sends no ALPN at all gets through it, and
	 * tls_finish refuses that one.
	 */
	rc = wolfSSL_UseALPN(c->ssl, tls_alpn_h2, sizeof(tls_alpn_h2) - 1,
	    WOLFSSL_ALPN_FAILED_ON_MISMATCH);
	if (rc != WOLFSSL_SUCCESS) {
		tls_log_lib("wolfSSL_UseALPN", rc);
		goto fail;
	}
	return &c->t;
fail:
	tls_op_free(&c->t);
	return NULL;
}

/* "ip:port" of the socket's peer, for logs and the hook. */
static void
tls_peer_addr(struct tls_conn *c)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	socklen_t		 len = sizeof(ss);
	char			 ip[INET6_ADDRSTRLEN];
	char			*addr = c->t.peer.addr;
	size_t			 size = sizeof(c->t.peer.addr);

	snprintf(addr, size, "unknown");
	if (getpeername(c->t.fd, (struct sockaddr *)&ss, &len) == -1)
		return;
	if (ss.ss_family == AF_INET) {
		sin = (struct sockaddr_in *)&ss;
		if (inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip)))
			snprintf(addr, size, "%s:%u", ip,
			    (unsigned)ntohs(sin->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		sin6 = (struct sockaddr_in6 *)&ss;
		if (inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip)))
			snprintf(addr, size, "[%s]:%u", ip,
			    (unsigned)ntohs(sin6->sin6_port));
	} else if (ss.ss_family == AF_UNIX)
		snprintf(addr, size, "unix");
}

static int
tls_io_recv(WOLFSSL *ssl, char *buf, int len, void *arg)
{
	struct tls_conn	*c = arg;
	ssize_t		 n;

	(void)ssl;
	n = recv(c->t.fd, buf, (size_t)len, 0);
	if (n > 0)
		return (int)n;
	if (n == 0) {
		c->eof = 1;
		return WOLFSSL_CBIO_ERR_CONN_CLOSE;
	}
	return tls_io_error(c, WOLFSSL_CBIO_ERR_WANT_READ);
}

/* MSG_NOSIGNAL: a peer gone away is an error here, never a SIGPIPE. */
static int
tls_io_send(WOLFSSL *ssl, char *buf, int len, void *arg)
{
	struct tls_conn	*c = arg;
	ssize_t		 n;

	(void)ssl;
	n = send(c->t.fd, buf, (size_t)len, MSG_NOSIGNAL);
	if (n >= 0)
		return (int)n;
	if (errno == EPIPE) {
		c->io_errno = errno;
		return WOLFSSL_CBIO_ERR_CONN_CLOSE;
	}
	return tls_io_error(c, WOLFSSL_CBIO_ERR_WANT_WRITE);
}

/*
 * The wolfSSL code for a recv or send that failed with errno: want
 * (WANT_READ or WANT_WRITE) when it would block, and otherwise the
 * errno kept in c, for the message that ends the connection.
 */
static int
tls_io_error(struct tls_conn *c, int want)
{
	switch (errno) {
	case EAGAIN:
#if EWOULDBLOCK != EAGAIN
	case EWOULDBLOCK:
#endif
		return want;
	case EINTR:
		return WOLFSSL_CBIO_ERR_ISR;
	case ECONNRESET:
		c->io_errno = errno;
		return WOLFSSL_CBIO_ERR_CONN_RST;
	default:
		c->io_errno = errno;
		return WOLFSSL_CBIO_ERR_GENERAL;
	}
}

/*
 * Called for every certificate the peer sent, its own last (depth 0).
 * There the whole chain as received is in store->certs, which we copy:
 * wolfSSL_get_peer_chain would silently drop any certificate over
 * wolfSSL's MAX_X509_SIZE (2 KiB), so a large leaf would vanish and the
 * intermediate would pose as the leaf. The verdict is the hook's, later.
 */
static int
tls_verify_cb(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
	struct tls_conn	*c;

	(void)preverify;
	c = store->userCtx;
	if (c == NULL)
		return 0;
	if (store->error_depth != 0)
		return 1;
	if (store->certs == NULL || store->totalCerts <= 0) {
		/* A client without a certificate; a server cannot be. */
		tls_chain_clear(&c->t.peer);
		return 1;
	}
	if (tls_chain_take(c, store->certs, store->totalCerts) != 0)
		return 0;
	return 1;
}

static void
tls_chain_clear(struct transport_peer *peer)
{
	size_t	 i;

	for (i = 0; i < peer->nchain; i++)
		mem_free(peer->chain[i]);
	mem_free(peer->chain);
	mem_free(peer->chain_len);
	peer->chain = NULL;
	peer->chain_len = NULL;
	peer->nchain = 0;
}

static int
tls_chain_take(struct tls_conn *c, const WOLFSSL_BUFFER_INFO *certs, int n)
{
	struct transport_peer	*peer = &c->t.peer;
	size_t			 i;

	tls_chain_clear(peer);
	if (n > TLS_PEER_CHAIN_MAX) {
		c->chain_err = "the peer's chain is too long";
		return -1;
	}
	for (i = 0; i < (size_t)n; i++) {
		if (certs[i].length == 0 || certs[i].length > X509_CERT_MAX) {
			c->chain_err = "a peer certificate's size is out of "
			    "bounds";
			return -1;
		}
	}
	peer->chain = mem_calloc((size_t)n, sizeof(*peer->chain));
	peer->chain_len = mem_calloc((size_t)n, sizeof(*peer->chain_len));
	if (peer->chain == NULL || peer->chain_len == NULL)
		goto nomem;
	/* nchain counts the copies made, so a clear frees just those. */
	for (i = 0; i < (size_t)n; i++) {
		peer->chain[i] = mem_alloc(certs[i].length);
		if (peer->chain[i] == NULL)
			goto nomem;
		memcpy(peer->chain[i], certs[i].buffer, certs[i].length);
		peer->chain_len[i] = certs[i].length;
		peer->nchain = i + 1;
	}
	return 0;
nomem:
	c->chain_err = "out of memory copying the peer's chain";
	tls_chain_clear(peer);
	return -1;
}

/* Records why the connection failed; logged at debug (peer-caused). */
static int
tls_fail(struct tls_conn *c, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(c->t.error, sizeof(c->t.error), fmt, ap);
	va_end(ap);
	c->state = TLS_STATE_FAILED;
	log_debug(TLS_SUBSYS, "peer %s: %s", c->t.peer.addr, c->t.error);
	wolfSSL_ERR_clear_error();
	return TRANSPORT_ERROR;
}

/* A failed wolfSSL call, with the best reason we have. */
static int
tls_fail_lib(struct tls_conn *c, const char *what, int code)
{
	WOLFSSL_ALERT_HISTORY	 h;
	char			 buf[WOLFSSL_MAX_ERROR_SZ];

	if (c->chain_err != NULL)
		return tls_fail(c, "%s: %s", what, c->chain_err);
	if (c->eof)
		return tls_fail(c, "%s: connection closed by peer", what);
	if (c->io_errno != 0)
		return tls_fail(c, "%s: %s", what, strerror(c->io_errno));
	memset(&h, 0, sizeof(h));
	if (code == FATAL_ERROR && wolfSSL_get_alert_history(c->ssl, &h) ==
	    WOLFSSL_SUCCESS && h.last_rx.code != 0)
		return tls_fail(c, "%s: peer sent alert %s", what,
		    wolfSSL_alert_desc_string_long(h.last_rx.code));
	wolfSSL_ERR_error_string_n((unsigned long)code, buf, sizeof(buf));
	return tls_fail(c, "%s: %s (%d)", what, buf, code);
}

/*
 * On the loop. A transport whose wolfSSL steps ran elsewhere arrives
 * here SHAKEN and gets the same checks as one shaken here.
 */
static int
tls_op_handshake(struct transport *t)
{
	struct tls_conn	*c = (struct tls_conn *)t;
	int		 rc;

	if (c->state == TLS_STATE_HANDSHAKE) {
		rc = tls_shake(c);
		if (rc == TRANSPORT_WANT_READ || rc == TRANSPORT_WANT_WRITE)
			return rc;
	}
	if (c->state == TLS_STATE_SHAKEN)
		(void)tls_finish(c);
	/* Over, one way or the other: nothing signs from here on. */
	tls_conn_signer_drop(c);
	return c->state == TLS_STATE_OPEN ? 0 : TRANSPORT_ERROR;
}

/* wolfSSL's side of the handshake, on whichever thread holds c. */
static int
tls_shake(struct tls_conn *c)
{
	int	 rc, e;

	rc = c->role == TLS_ROLE_SERVER ? wolfSSL_accept(c->ssl) :
	    wolfSSL_connect(c->ssl);
	if (rc != WOLFSSL_SUCCESS) {
		e = wolfSSL_get_error(c->ssl, rc);
		if (e == WOLFSSL_ERROR_WANT_READ)
			return TRANSPORT_WANT_READ;
		if (e == WOLFSSL_ERROR_WANT_WRITE)
			return TRANSPORT_WANT_WRITE;
		return tls_fail_lib(c, "handshake failed", e);
	}
	c->state = TLS_STATE_SHAKEN;
	return 0;
}

/*
 * Off the loop thread, wolfCrypt's fixed-point ECC cache (FP_ECC, one per
 * thread in Debian's build: megabytes once filled) is dropped after each
 * step: wolfSSL_Cleanup frees only the cache of the thread calling it,
 * and one handshake per reconnect gains nothing from keeping it.
 */
int
tls_transport_handshake_step(struct transport *t)
{
	struct tls_conn	*c = (struct tls_conn *)t;
	int		 rc;

	if (t->ops != &tls_ops)
		return TRANSPORT_ERROR;
	switch (c->state) {
	case TLS_STATE_HANDSHAKE:
		rc = tls_shake(c);
		if (!pthread_equal(pthread_self(), c->home))
			wc_ecc_fp_free();
		return rc;
	case TLS_STATE_SHAKEN:
	case TLS_STATE_OPEN:
		return 0;
	case TLS_STATE_FAILED:
		break;
	}
	return TRANSPORT_ERROR;
}

int
tls_transport_signer_blocks(const struct transport *t)
{
	const struct tls_conn	*c = (const struct tls_conn *)t;

	return t->ops == &tls_ops && c->signer != NULL &&
	    c->signer->blocks;
}

/* The connection's signer reference; loop thread only. */
static void
tls_conn_signer_drop(struct tls_conn *c)
{
	if (c->signer == NULL)
		return;
	if (c->ssl != NULL)
		wolfSSL_SetEccSignCtx(c->ssl, NULL);
	tls_signer_unref(c->signer);
	c->signer = NULL;
}

/*
 * After the handshake, before any application byte: ALPN must have
 * picked h2, the chain we copied must be the one wolfSSL checked the
 * peer's key against, and the hook must accept.
 * XXX: a refusal here closes the socket without a TLS alert (wolfSSL
 * 5.5 has no call to send one), so the peer sees the end of stream,
 * not "bad certificate".
 */
static int
tls_finish(struct tls_conn *c)
{
	char		*proto = NULL;
	unsigned short	 len = 0;
	char		 why[sizeof(c->t.error) - 32];
	int		 rc;

	rc = wolfSSL_ALPN_GetProtocol(c->ssl, &proto, &len);
	if (rc != WOLFSSL_SUCCESS || len != 2 || memcmp(proto, "h2", 2) != 0)
		return tls_fail(c, "refused: %s", c->role == TLS_ROLE_SERVER ?
		    "the client did not offer ALPN h2" :
		    "the server did not select ALPN h2");
	if (tls_check_leaf(c) != 0)
		return TRANSPORT_ERROR;
	why[0] = '\0';
	if (c->verify(c->verify_arg, &c->t.peer, why, sizeof(why)) != 0) {
		why[sizeof(why) - 1] = '\0';
		return tls_fail(c, "refused: %s", why[0] != '\0' ? why :
		    "the peer's certificate is not accepted");
	}
	c->state = TLS_STATE_OPEN;
	/*
	 * Debian's wolfSSL keeps the handshake's scratch (secrets, randoms,
	 * the pre-master buffer: 5.9 KB) for a TLS 1.3 connection's whole
	 * life, for post-handshake authentication we never use. KeyUpdate
	 * and session tickets work from the secrets kept elsewhere, and
	 * the secrets are wiped now rather than at the close.
	 * XXX: the rest of what it keeps (about 77 KB a connection: the
	 * session's two fixed 18 KB peer chains, the decoded peer
	 * certificate, its own struct) has no call that frees it.
	 */
	wolfSSL_FreeArrays(c->ssl);
	return 0;
}

/* The copied chain's leaf must be wolfSSL's peer certificate. */
static int
tls_check_leaf(struct tls_conn *c)
{
	WOLFSSL_X509		*x509;
	const unsigned char	*der;
	int			 len = 0, same;

	x509 = wolfSSL_get_peer_certificate(c->ssl);
	if (x509 == NULL) {
		if (c->t.peer.nchain == 0)
			return 0;
		return tls_fail(c, "refused: a chain but no peer "
		    "certificate");
	}
	der = wolfSSL_X509_get_der(x509, &len);
	same = der != NULL && c->t.peer.nchain > 0 && len > 0 &&
	    (size_t)len == c->t.peer.chain_len[0] &&
	    memcmp(der, c->t.peer.chain[0], (size_t)len) == 0;
	wolfSSL_X509_free(x509);
	if (!same)
		return tls_fail(c, "refused: the peer certificate is not the "
		    "chain's leaf");
	return 0;
}

const char *
tls_transport_version(const struct transport *t)
{
	const struct tls_conn	*c = (const struct tls_conn *)t;

	if (t->ops != &tls_ops || c->state != TLS_STATE_OPEN)
		return NULL;
	return wolfSSL_get_version(c->ssl);
}

const char *
tls_transport_group(const struct transport *t)
{
	const struct tls_conn	*c = (const struct tls_conn *)t;

	if (t->ops != &tls_ops || c->state != TLS_STATE_OPEN)
		return NULL;
	return wolfSSL_get_curve_name(c->ssl);
}

static ssize_t
tls_op_read(struct transport *t, void *buf, size_t len)
{
	struct tls_conn	*c = (struct tls_conn *)t;
	int		 n, e;

	if (c->state != TLS_STATE_OPEN) {
		if (c->state == TLS_STATE_HANDSHAKE)
			tls_fail(c, "read before the handshake");
		return TRANSPORT_ERROR;
	}
	if (len > INT32_MAX)
		len = INT32_MAX;
	n = wolfSSL_read(c->ssl, buf, (int)len);
	if (n > 0)
		return n;
	e = wolfSSL_get_error(c->ssl, n);
	switch (e) {
	case WOLFSSL_ERROR_WANT_READ:
		return TRANSPORT_WANT_READ;
	case WOLFSSL_ERROR_WANT_WRITE:
		return TRANSPORT_WANT_WRITE;
	case WOLFSSL_ERROR_ZERO_RETURN:
		return 0;
	}
	/*
	 * A TCP close without close_notify also reads as the end: HTTP/2
	 * framing notices a cut-off stream by itself.
	 */
	if (c->eof && c->io_errno == 0) {
		wolfSSL_ERR_clear_error();
		return 0;
	}
	return tls_fail_lib(c, "read failed", e);
}

static ssize_t
tls_op_write(struct transport *t, const void *buf, size_t len)
{
	struct tls_conn	*c = (struct tls_conn *)t;
	int		 n, e;

	if (c->state != TLS_STATE_OPEN) {
		if (c->state == TLS_STATE_HANDSHAKE)
			tls_fail(c, "write before the handshake");
		return TRANSPORT_ERROR;
	}
	if (len == 0)
		return 0;
	if (len > INT32_MAX)
		len = INT32_MAX;
	n = wolfSSL_write(c->ssl, buf, (int)len);
	if (n > 0)
		return n;
	e = wolfSSL_get_error(c->ssl, n);
	if (e == WOLFSSL_ERROR_WANT_READ)
		return TRANSPORT_WANT_READ;
	if (e == WOLFSSL_ERROR_WANT_WRITE)
		return TRANSPORT_WANT_WRITE;
	return tls_fail_lib(c, "write failed", e);
}

static void
tls_op_shutdown(struct transport *t)
{
	struct tls_conn	*c = (struct tls_conn *)t;

	if (c->state != TLS_STATE_OPEN || c->shut)
		return;
	c->shut = 1;
	/* One try; a full send buffer just loses the close_notify. */
	(void)wolfSSL_shutdown(c->ssl);
	wolfSSL_ERR_clear_error();
}

static void
tls_op_free(struct transport *t)
{
	struct tls_conn	*c = (struct tls_conn *)t;

	if (c == NULL)
		return;
	tls_conn_signer_drop(c);
	if (c->ssl != NULL)
		wolfSSL_free(c->ssl);
	tls_cred_unref(c->cred);
	if (c->t.fd != -1)
		close(c->t.fd);
	tls_chain_clear(&c->t.peer);
	mem_free(c->t.peer.spiffe_id);
	mem_free(c);
}
