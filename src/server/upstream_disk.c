/*
 * UpstreamAuthority "disk": an operator's CA certificate and key on
 * disk sign the server's CA. The chain sent with SVIDs is the new CA
 * and the certificates of cert_file_path that are not roots; the
 * bundle gets bundle_file_path's roots, or the self-signed certificate
 * of cert_file_path when no bundle file is given.
 */
#include "config.h"

#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"
#include "hal/key.h"
#include "pki/cert.h"
#include "pki/x509.h"
#include "server/pemfile.h"
#include "server/upstream.h"

struct upstream_disk {
	struct upstream		 up;	/* first: the interface */
	struct key		*key;
	struct pem_block	*certs;	/* certs[0] signs */
	size_t			 ncerts;
	struct pem_block	*roots;
	size_t			 nroots;
	char			 td_id[SPIFFE_ID_MAX + 1];
	long long		 not_after;	/* of certs[0] */
};

static void	disk_mint(struct upstream *, const uint8_t *, size_t,
		    int64_t, upstream_done_fn, void *);
static void	disk_free(struct upstream *);
static int	disk_is_root(const struct pem_block *);

void
upstream_result_free(struct upstream_result *r)
{
	size_t	i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nchain; i++)
		mem_free(r->chain[i]);
	for (i = 0; i < r->nroots; i++)
		mem_free(r->roots[i]);
	mem_free(r->chain);
	mem_free(r->chain_len);
	mem_free(r->roots);
	mem_free(r->roots_len);
	mem_free(r);
}

int
upstream_result_push(uint8_t ***arr, size_t **lens, size_t *n,
    const uint8_t *der, size_t len)
{
	uint8_t	**na;
	size_t	 *nl;

	na = mem_reallocarray(*arr, *n + 1, sizeof(*na));
	if (na == NULL)
		return -1;
	*arr = na;
	nl = mem_reallocarray(*lens, *n + 1, sizeof(*nl));
	if (nl == NULL)
		return -1;
	*lens = nl;
	na[*n] = mem_alloc(len);
	if (na[*n] == NULL)
		return -1;
	memcpy(na[*n], der, len);
	nl[(*n)++] = len;
	return 0;
}

static int
disk_is_root(const struct pem_block *b)
{
	struct x509_cert	c;

	if (x509_parse(b->der, b->len, &c) != X509_OK)
		return 0;
	return c.subject.len == c.issuer.len &&
	    memcmp(c.subject.p, c.issuer.p, c.subject.len) == 0 &&
	    x509_check_signature(&c, &c) == X509_OK;
}

struct upstream *
upstream_disk_new(const struct upstream_disk_conf *conf,
    const char *trust_domain)
{
	struct upstream_disk	*d;
	struct pem_block	*kb = NULL;
	struct x509_cert	 c;
	size_t			 nk = 0, spki_len;
	const uint8_t		*spki;
	enum key_err		 ke;

	d = mem_calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	d->up.name = "disk";
	d->up.mint_x509_ca = disk_mint;
	d->up.free = disk_free;
	snprintf(d->td_id, sizeof(d->td_id), "spiffe://%s", trust_domain);
	if (pemfile_read("upstream", conf->cert_file_path,
	    PEM_LABEL_CERTIFICATE, &d->certs, &d->ncerts) == -1 ||
	    pemfile_read("upstream", conf->key_file_path, NULL, &kb,
	    &nk) == -1)
		goto fail;
	d->key = key_soft_load(kb[0].der, kb[0].len, &ke);
	pem_blocks_free(kb, nk);
	if (d->key == NULL) {
		log_kv(LOG_LEVEL_ERROR, "upstream", "cannot load the key",
		    "path", conf->key_file_path, "error", key_strerror(ke),
		    (const char *)NULL);
		goto fail;
	}
	if (x509_parse(d->certs[0].der, d->certs[0].len, &c) != X509_OK ||
	    !c.is_ca) {
		log_kv(LOG_LEVEL_ERROR, "upstream", "not a CA certificate",
		    "path", conf->cert_file_path, (const char *)NULL);
		goto fail;
	}
	spki = key_spki(d->key, &spki_len);
	if (spki_len != c.spki.len || memcmp(spki, c.spki.p, spki_len) != 0) {
		log_kv(LOG_LEVEL_ERROR, "upstream", "the key does not match "
		    "the certificate", "path", conf->key_file_path,
		    (const char *)NULL);
		goto fail;
	}
	d->not_after = c.not_after;
	if (conf->bundle_file_path != NULL) {
		if (pemfile_read("upstream", conf->bundle_file_path,
		    PEM_LABEL_CERTIFICATE, &d->roots, &d->nroots) == -1)
			goto fail;
	} else if (!disk_is_root(&d->certs[d->ncerts - 1])) {
		log_kv(LOG_LEVEL_ERROR, "upstream", "without bundle_file_path "
		    "the certificate file must end with a self-signed root",
		    "path", conf->cert_file_path, (const char *)NULL);
		goto fail;
	}
	return &d->up;
fail:
	disk_free(&d->up);
	return NULL;
}

static void
disk_free(struct upstream *up)
{
	struct upstream_disk	*d = (struct upstream_disk *)up;

	if (d == NULL)
		return;
	key_free(d->key);
	pem_blocks_free(d->certs, d->ncerts);
	pem_blocks_free(d->roots, d->nroots);
	mem_free(d);
}

static void
disk_mint(struct upstream *up, const uint8_t *csr, size_t csr_len,
    int64_t ttl, upstream_done_fn done, void *arg)
{
	struct upstream_disk	*d = (struct upstream_disk *)up;
	struct upstream_result	*r;
	struct cert_template	 t;
	struct cert_csr		 req;
	uint8_t			*der = NULL;
	size_t			 der_len, i;
	time_t			 now = time(NULL);
	const char		*err = "out of memory";

	r = mem_calloc(1, sizeof(*r));
	if (r == NULL)
		goto fail;
	if (cert_csr_parse(csr, csr_len, 1, &req) != CERT_CSR_OK) {
		err = "malformed CA request";
		goto fail;
	}
	memset(&t, 0, sizeof(t));
	if (cert_random_serial(&t) == -1)
		goto fail;
	t.subject = req.subject;
	t.subject_len = req.subject_len;
	t.not_before = now - 10;
	t.not_after = now + ttl;
	if ((long long)t.not_after > d->not_after)
		t.not_after = (time_t)d->not_after;
	t.is_ca = 1;
	t.key_usage = CERT_KU_KEY_CERT_SIGN | CERT_KU_CRL_SIGN;
	t.uri = d->td_id;
	t.spki = req.spki;
	t.spki_len = req.spki_len;
	if (cert_sign(&t, d->key, d->certs[0].der, d->certs[0].len, &der,
	    &der_len) == -1) {
		err = "signing failed";
		goto fail;
	}
	if (upstream_result_push(&r->chain, &r->chain_len, &r->nchain, der,
	    der_len) == -1)
		goto fail;
	for (i = 0; i < d->ncerts; i++) {
		if (disk_is_root(&d->certs[i])) {
			if (d->roots == NULL && upstream_result_push(&r->roots,
			    &r->roots_len, &r->nroots, d->certs[i].der,
			    d->certs[i].len) == -1)
				goto fail;
			continue;
		}
		if (upstream_result_push(&r->chain, &r->chain_len, &r->nchain,
		    d->certs[i].der, d->certs[i].len) == -1)
			goto fail;
	}
	for (i = 0; i < d->nroots; i++)
		if (upstream_result_push(&r->roots, &r->roots_len, &r->nroots,
		    d->roots[i].der, d->roots[i].len) == -1)
			goto fail;
	mem_free(der);
	done(arg, r, NULL);
	return;
fail:
	mem_free(der);
	upstream_result_free(r);
	done(arg, NULL, err);
}
