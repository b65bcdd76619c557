/*
 * rpc_testd's TLS set-up, included by rpc_testd.c. CERTDIR holds DER
 * files made by the system tests with the openssl CLI: ca.der (the
 * trust anchor), server.der / server.key.der and client.der /
 * client.key.der (PKCS#8). The verify hook is a small local one, for the
 * tests only: the leaf must chain to ca.der and carry exactly one
 * spiffe:// URI SAN, which becomes the peer's SPIFFE ID. A server also
 * accepts a client without a certificate (optional client auth); a
 * client demands spiffe://example.org/server.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/openssl/x509v3.h>

struct tls_files {
	uint8_t			*ca, *cert, *key;
	size_t			 ca_len, cert_len, key_len;
	WOLFSSL_CERT_MANAGER	*cm;
	int			 role;
};

static struct tls_files	 tlsf;

static uint8_t *
file_read(const char *dir, const char *name, size_t *len)
{
	char	 path[512];
	uint8_t	*p = NULL;
	long	 n;
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (p = malloc((size_t)n)) != NULL &&
	    fread(p, 1, (size_t)n, f) == (size_t)n)
		*len = (size_t)n;
	else {
		free(p);
		p = NULL;
	}
	fclose(f);
	return p;
}

/* The leaf's spiffe:// URI SANs: how many, and the first, copied. */
static int
leaf_spiffe_uri(const uint8_t *der, size_t len, char *out, size_t outsz)
{
	WOLFSSL_X509		*x;
	WOLFSSL_STACK		*sans;
	WOLFSSL_GENERAL_NAME	*gn;
	const char		*s;
	int			 i, n = 0, l;

	x = wolfSSL_X509_d2i(NULL, der, (int)len);
	if (x == NULL)
		return -1;
	sans = wolfSSL_X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (i = 0; sans != NULL && i < wolfSSL_sk_GENERAL_NAME_num(sans);
	    i++) {
		gn = wolfSSL_sk_GENERAL_NAME_value(sans, i);
		if (gn == NULL || gn->type != GEN_URI)
			continue;
		s = (const char *)wolfSSL_ASN1_STRING_data(
		    gn->d.uniformResourceIdentifier);
		l = wolfSSL_ASN1_STRING_length(gn->d.uniformResourceIdentifier);
		if (s == NULL || l < 9 || strncmp(s, "spiffe://", 9) != 0)
			continue;
		if (n++ == 0)
			snprintf(out, outsz, "%.*s", l, s);
	}
	if (sans != NULL)
		wolfSSL_GENERAL_NAMES_free(sans);
	wolfSSL_X509_free(x);
	return n;
}

static int
test_verify(void *arg, struct transport_peer *peer, char *err, size_t len)
{
	char	 id[256];

	(void)arg;
	if (peer->nchain == 0) {
		if (tlsf.role == TLS_ROLE_SERVER)
			return 0;
		snprintf(err, len, "server sent no certificate");
		return -1;
	}
	if (wolfSSL_CertManagerVerifyBuffer(tlsf.cm, peer->chain[0],
	    (long)peer->chain_len[0], WOLFSSL_FILETYPE_ASN1) !=
	    WOLFSSL_SUCCESS) {
		snprintf(err, len, "certificate does not chain to the test CA");
		return -1;
	}
	if (leaf_spiffe_uri(peer->chain[0], peer->chain_len[0], id,
	    sizeof(id)) != 1) {
		snprintf(err, len, "not exactly one SPIFFE ID");
		return -1;
	}
	if (tlsf.role == TLS_ROLE_CLIENT &&
	    strcmp(id, "spiffe://example.org/server") != 0) {
		snprintf(err, len, "unexpected server %s", id);
		return -1;
	}
	peer->spiffe_id = mem_strdup(id);
	return peer->spiffe_id != NULL ? 0 : -1;
}

static struct tls_ctx *
tls_setup(const char *certdir, int role)
{
	struct tls_identity	 idn;
	struct tls_config	 cfg;
	const uint8_t		*chain[1];
	size_t			 chain_len[1];
	enum tls_err		 e;
	struct tls_ctx		*ctx;

	if (certdir == NULL)
		return NULL;
	tlsf.role = role;
	tlsf.ca = file_read(certdir, "ca.der", &tlsf.ca_len);
	tlsf.cert = file_read(certdir, role == TLS_ROLE_SERVER ?
	    "server.der" : "client.der", &tlsf.cert_len);
	tlsf.key = file_read(certdir, role == TLS_ROLE_SERVER ?
	    "server.key.der" : "client.key.der", &tlsf.key_len);
	if (tlsf.ca == NULL || (role == TLS_ROLE_SERVER &&
	    (tlsf.cert == NULL || tlsf.key == NULL))) {
		log_warnx("testd", "%s: certificates missing", certdir);
		return NULL;
	}
	tlsf.cm = wolfSSL_CertManagerNew();
	if (tlsf.cm == NULL || wolfSSL_CertManagerLoadCABuffer(tlsf.cm,
	    tlsf.ca, (long)tlsf.ca_len, WOLFSSL_FILETYPE_ASN1) !=
	    WOLFSSL_SUCCESS) {
		log_warnx("testd", "cannot load ca.der");
		return NULL;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.role = (enum tls_role)role;
	cfg.verify = test_verify;
	if (tlsf.cert != NULL && tlsf.key != NULL) {
		chain[0] = tlsf.cert;
		chain_len[0] = tlsf.cert_len;
		memset(&idn, 0, sizeof(idn));
		idn.chain = chain;
		idn.chain_len = chain_len;
		idn.nchain = 1;
		idn.key = tlsf.key;
		idn.key_len = tlsf.key_len;
		cfg.identity = &idn;
	}
	ctx = tls_ctx_new(&cfg, &e);
	if (ctx == NULL)
		log_warnx("testd", "tls_ctx_new: %s", tls_strerror(e));
	return ctx;
}

static void
tls_teardown(struct tls_ctx *tls)
{
	tls_ctx_free(tls);
	if (tlsf.cm != NULL)
		wolfSSL_CertManagerFree(tlsf.cm);
	free(tlsf.ca);
	free(tlsf.cert);
	free(tlsf.key);
	memset(&tlsf, 0, sizeof(tlsf));
}
