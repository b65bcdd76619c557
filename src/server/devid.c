/*
 * NodeAttestor "tpm_devid", the server's half, as SPIRE's: the roots of
 * devid_ca_path and endorsement_ca_path are read once at start-up (as
 * SPIRE's plugin reads them when configured), and each AttestAgent runs
 * src/attest/tpmdevid.c's checks: the payload, then the challenge's
 * response. The checks are about a millisecond of software crypto, so
 * they run on the loop.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "attest/tpmdevid.h"
#include "core/log.h"
#include "core/mem.h"
#include "pki/x509.h"
#include "server/pemfile.h"
#include "server/srv.h"

/* One roots file: the PEM blocks and the certificates viewing them. */
struct devid_roots {
	struct pem_block	*blocks;
	size_t			 nblocks;
	struct x509_cert	*certs;
	size_t			 ncerts;
};

struct srv_devid {
	struct devid_roots	 devid;
	struct devid_roots	 ek;
	struct tpmdevid_roots	 roots;
};

static int	devid_roots_read(const char *, const char *,
		    struct devid_roots *);
static void	devid_roots_free(struct devid_roots *);

/* Every certificate of path must parse: a root we skip is a surprise. */
static int
devid_roots_read(const char *option, const char *path, struct devid_roots *r)
{
	size_t	i;

	memset(r, 0, sizeof(*r));
	if (pemfile_read("tpm_devid", path, PEM_LABEL_CERTIFICATE, &r->blocks,
	    &r->nblocks) == -1)
		return -1;
	r->certs = mem_calloc(r->nblocks, sizeof(*r->certs));
	if (r->certs == NULL)
		goto fail;
	for (i = 0; i < r->nblocks; i++)
		if (x509_parse(r->blocks[i].der, r->blocks[i].len,
		    &r->certs[i]) != X509_OK) {
			log_kv(LOG_LEVEL_ERROR, "tpm_devid", "a certificate "
			    "does not parse", "option", option, "path", path,
			    (const char *)NULL);
			goto fail;
		}
	r->ncerts = r->nblocks;
	return 0;
fail:
	devid_roots_free(r);
	return -1;
}

static void
devid_roots_free(struct devid_roots *r)
{
	mem_free(r->certs);
	pem_blocks_free(r->blocks, r->nblocks);
	memset(r, 0, sizeof(*r));
}

int
tpm_devid_load(struct server *s)
{
	const struct tpm_devid_conf	*c = &s->cfg->plug.tpm_devid_conf;
	struct srv_devid		*d;

	if (!s->cfg->plug.tpm_devid)
		return 0;
	d = mem_calloc(1, sizeof(*d));
	if (d == NULL)
		return -1;
	if (devid_roots_read("devid_ca_path", c->devid_ca_path,
	    &d->devid) == -1 || devid_roots_read("endorsement_ca_path",
	    c->endorsement_ca_path, &d->ek) == -1) {
		devid_roots_free(&d->devid);
		mem_free(d);
		return -1;
	}
	d->roots.devid = d->devid.certs;
	d->roots.ndevid = d->devid.ncerts;
	d->roots.ek = d->ek.certs;
	d->roots.nek = d->ek.ncerts;
	s->devid = d;
	log_debug("tpm_devid", "%zu DevID and %zu endorsement roots loaded",
	    d->devid.ncerts, d->ek.ncerts);
	return 0;
}

void
tpm_devid_free(struct server *s)
{
	if (s->devid == NULL)
		return;
	devid_roots_free(&s->devid->devid);
	devid_roots_free(&s->devid->ek);
	mem_free(s->devid);
	s->devid = NULL;
}

int
srv_devid_start(struct server *s, const uint8_t *payload, size_t len,
    struct tpmdevid_server **out, char **challenge, size_t *clen)
{
	return tpmdevid_server_start(&s->devid->roots, payload, len,
	    (long long)time(NULL), out, challenge, clen);
}
