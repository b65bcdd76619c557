/*
 * trust_bundle_url: the bootstrap bundle fetched once over HTTPS, as
 * spire-agent fetches it (GET, Web PKI: the system's roots and the URL's
 * host name; SSL_CERT_FILE names other roots, as Go honours it). It runs
 * on the worker thread, blocking with timeouts, since it happens once at
 * first boot; the body is parsed as trust_bundle_format says.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "agent/internal.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/worker.h"
#include "pki/pem.h"

#define BUNDLEURL_TIMEOUT_SEC	10
#define BUNDLEURL_ROOTS		"/etc/ssl/certs/ca-certificates.crt"

struct bundleurl_job {
	struct agent	*a;
	char		 host[256];
	char		 port[8];
	char		 path[1024];
	struct buf	 body;
	char		 err[256];
	int		 ok;
};

static void	bundleurl_run(void *);
static void	bundleurl_done(void *, int);
static int	bundleurl_parse(const char *url, struct bundleurl_job *);

/* https://host[:port][/path]; 0 or -1. */
static int
bundleurl_parse(const char *url, struct bundleurl_job *j)
{
	const char	*p, *slash, *colon;
	size_t		 hl;

	if (strncmp(url, "https://", 8) != 0)
		return -1;
	p = url + 8;
	slash = strchr(p, '/');
	if (slash == NULL)
		slash = p + strlen(p);
	colon = memchr(p, ':', (size_t)(slash - p));
	hl = (size_t)((colon != NULL ? colon : slash) - p);
	if (hl == 0 || hl >= sizeof(j->host))
		return -1;
	memcpy(j->host, p, hl);
	j->host[hl] = '\0';
	if (colon != NULL) {
		if ((size_t)(slash - colon - 1) == 0 ||
		    (size_t)(slash - colon - 1) >= sizeof(j->port))
			return -1;
		memcpy(j->port, colon + 1, (size_t)(slash - colon - 1));
		j->port[slash - colon - 1] = '\0';
	} else
		snprintf(j->port, sizeof(j->port), "443");
	snprintf(j->path, sizeof(j->path), "%s", *slash != '\0' ? slash : "/");
	return strlen(slash) < sizeof(j->path) ? 0 : -1;
}

static int
bundleurl_connect(struct bundleurl_job *j)
{
	struct addrinfo		 hints, *res, *ai;
	struct timeval		 tv = { BUNDLEURL_TIMEOUT_SEC, 0 };
	int			 fd = -1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(j->host, j->port, &hints, &res);
	if (rc != 0) {
		snprintf(j->err, sizeof(j->err), "%s: %s", j->host,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1)
			continue;
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		snprintf(j->err, sizeof(j->err), "cannot connect to %s:%s",
		    j->host, j->port);
	return fd;
}

/* On the worker: one GET over HTTP/1.0, so the body is not chunked. */
static void
bundleurl_run(void *arg)
{
	struct bundleurl_job	*j = arg;
	WOLFSSL_CTX		*ctx = NULL;
	WOLFSSL			*ssl = NULL;
	const char		*roots, *hdr_end;
	char			 req[1400], chunk[4096];
	struct buf		 resp;
	int			 fd, n, status;

	buf_init(&resp, AGENT_BUNDLE_FILE_MAX + 16 * 1024);
	fd = bundleurl_connect(j);
	if (fd == -1)
		goto out;
	roots = getenv("SSL_CERT_FILE");
	if (roots == NULL || *roots == '\0')
		roots = BUNDLEURL_ROOTS;
	ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
	if (ctx == NULL || wolfSSL_CTX_load_verify_locations(ctx, roots,
	    NULL) != WOLFSSL_SUCCESS) {
		snprintf(j->err, sizeof(j->err), "cannot load the roots in %s",
		    roots);
		goto out;
	}
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
	ssl = wolfSSL_new(ctx);
	if (ssl == NULL || wolfSSL_set_fd(ssl, fd) != WOLFSSL_SUCCESS ||
	    wolfSSL_check_domain_name(ssl, j->host) != WOLFSSL_SUCCESS ||
	    wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, j->host,
	    (unsigned short)strlen(j->host)) != WOLFSSL_SUCCESS) {
		snprintf(j->err, sizeof(j->err), "TLS set-up failed");
		goto out;
	}
	if (wolfSSL_connect(ssl) != WOLFSSL_SUCCESS) {
		snprintf(j->err, sizeof(j->err), "TLS handshake with %s "
		    "failed: %s", j->host, wolfSSL_ERR_reason_error_string(
		    (unsigned long)wolfSSL_get_error(ssl, 0)));
		goto out;
	}
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\n"
	    "Accept: */*\r\nConnection: close\r\n\r\n", j->path, j->host);
	if (wolfSSL_write(ssl, req, (int)strlen(req)) != (int)strlen(req)) {
		snprintf(j->err, sizeof(j->err), "cannot send the request");
		goto out;
	}
	for (;;) {
		n = wolfSSL_read(ssl, chunk, sizeof(chunk));
		if (n <= 0)
			break;
		if (buf_append(&resp, chunk, (size_t)n) == -1) {
			snprintf(j->err, sizeof(j->err), "bundle too large");
			goto out;
		}
	}
	if (buf_append(&resp, "", 1) == -1)
		goto out;
	if (sscanf((const char *)buf_ptr(&resp), "HTTP/1.%*d %d", &status) !=
	    1 || status != 200) {
		snprintf(j->err, sizeof(j->err), "server did not answer 200");
		goto out;
	}
	hdr_end = strstr((const char *)buf_ptr(&resp), "\r\n\r\n");
	if (hdr_end == NULL || buf_append(&j->body, hdr_end + 4,
	    strlen(hdr_end + 4)) == -1) {
		snprintf(j->err, sizeof(j->err), "malformed response");
		goto out;
	}
	j->ok = 1;
out:
	if (ssl != NULL)
		wolfSSL_free(ssl);
	if (ctx != NULL)
		wolfSSL_CTX_free(ctx);
	if (fd != -1)
		close(fd);
	buf_cleanup(&resp);
}

static void
bundleurl_done(void *arg, int cancelled)
{
	struct bundleurl_job	*j = arg;
	struct agent		*a = j->a;
	struct pem_block	*blk;
	size_t			 n, i;
	char			 err[256];

	if (cancelled || a == NULL || a->stopping) {
		if (a != NULL)
			a->bundleurl = NULL;
		buf_cleanup(&j->body);
		mem_free(j);
		return;
	}
	a->bundleurl = NULL;
	if (j->ok && a->cfg->trust_bundle_format == 1) {
		if (bundle_parse_spiffe(&a->boot_bundle, a->td,
		    (const char *)buf_ptr(&j->body), j->body.len, err,
		    sizeof(err)) == -1) {
			snprintf(j->err, sizeof(j->err), "%s", err);
			j->ok = 0;
		}
	} else if (j->ok) {
		if (pem_decode((const char *)buf_ptr(&j->body), j->body.len,
		    PEM_LABEL_CERTIFICATE, &blk, &n) != PEM_OK ||
		    bundle_init(&a->boot_bundle, a->td) == -1) {
			snprintf(j->err, sizeof(j->err), "no certificate");
			j->ok = 0;
		} else {
			for (i = 0; i < n; i++)
				if (bundle_add_x509(&a->boot_bundle, blk[i].der,
				    blk[i].len) == -1)
					break;
			pem_blocks_free(blk, n);
			if (i != n) {
				bundle_cleanup(&a->boot_bundle);
				j->ok = 0;
			}
		}
	}
	if (j->ok && a->boot_bundle.nx509 == 0) {
		bundle_cleanup(&a->boot_bundle);
		snprintf(j->err, sizeof(j->err), "bundle has no X.509 root");
		j->ok = 0;
	}
	if (!j->ok) {
		log_kv(LOG_LEVEL_ERROR, "agent", "cannot fetch the trust "
		    "bundle", "url", a->cfg->trust_bundle_url, "error", j->err,
		    (const char *)NULL);
		a->attest_backoff_ms = rotation_backoff_next(
		    a->attest_backoff_ms, AGENT_ATTEST_RETRY_MS,
		    AGENT_SYNC_BACKOFF_MAX_MS);
		agent_schedule(a, rotation_jitter(a->attest_backoff_ms,
		    rotation_random()));
	} else {
		a->has_boot_bundle = 1;
		log_kv(LOG_LEVEL_INFO, "agent", "trust bundle fetched", "url",
		    a->cfg->trust_bundle_url, (const char *)NULL);
		agent_schedule(a, 0);
	}
	buf_cleanup(&j->body);
	mem_free(j);
}

/*
 * Starts the fetch when attestation needs a bootstrap bundle it does not
 * have. 1 when a fetch is under way (attestation waits for it), 0 when
 * none is needed.
 */
int
bundleurl_start(struct agent *a)
{
	struct bundleurl_job	*j;

	if (a->cfg->trust_bundle_url == NULL ||
	    *a->cfg->trust_bundle_url == '\0' || a->has_boot_bundle ||
	    (a->has_bundle && a->bundle.nx509 > 0))
		return 0;
	if (a->bundleurl != NULL)
		return 1;
	j = mem_calloc(1, sizeof(*j));
	if (j == NULL)
		return 1;
	j->a = a;
	buf_init(&j->body, AGENT_BUNDLE_FILE_MAX);
	if (bundleurl_parse(a->cfg->trust_bundle_url, j) == -1) {
		mem_free(j);
		agent_fatal(a, "trust_bundle_url must be https://host[:port]/"
		    "path");
		return 1;
	}
	if (worker_submit(a->worker, bundleurl_run, bundleurl_done, j) ==
	    -1) {
		mem_free(j);
		agent_schedule(a, AGENT_ATTEST_RETRY_MS);
		return 1;
	}
	a->bundleurl = j;
	log_kv(LOG_LEVEL_INFO, "agent", "fetching the trust bundle", "url",
	    a->cfg->trust_bundle_url, (const char *)NULL);
	return 1;
}

/* The agent goes: a fetch under way finds no agent when it is done. */
void
bundleurl_cancel(struct agent *a)
{
	if (a->bundleurl != NULL)
		a->bundleurl->a = NULL;
	a->bundleurl = NULL;
}
