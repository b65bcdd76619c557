/*
 * The agent's own SVID key, whatever the KeyManager: a software key
 * ("disk", "memory": PKCS#8 in the cache, or nowhere) or a key made in
 * the TPM ("tpm": only its blob on disk, <data_dir>/svid-key-<hex>.tpm,
 * 0600, named in the cache's record of the SVID).
 *
 * Everything that touches the TPM runs on the worker: opening it (at
 * first use), making and loading keys, signing CSRs (key_sign_async)
 * and TLS handshakes (the channel's worker steps them, see srvconn.c).
 * A TPM key is shared by the SVID, TLS identities and jobs through a
 * reference count kept on the loop thread; the last reference frees it,
 * after every job that used it has delivered, and the TPM goes with the
 * last key or job that holds it. Jobs never name the agent, so they may
 * outlive it (worker_free delivers them after agent_free).
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/internal.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/worker.h"
#include "hal/key.h"
#include "hal/rand.h"
#include "hal/tpm.h"
#include "pki/cert.h"
#include "rpc/tls.h"

#define OWNKEY_PREFIX	"svid-key-"
#define OWNKEY_SUFFIX	".tpm"
#define OWNKEY_STORED	"tpm:"	/* the cache's key field for TPM keys */

struct agent_tpm {
	char		 path[AGENT_TPM_PATH_MAX];	/* "": autodetect */
	char		*owner;
	char		*endorsement;
	struct tpm	*t;		/* the worker's only */
	unsigned	 refs;		/* the loop's only */
};

/* Live TPM keys, whose blob files the sweep keeps. */
static LIST_HEAD(, agent_key)	live = LIST_HEAD_INITIALIZER(live);

/* Making or loading a key on the worker. */
struct ownkey_job {
	struct agent_tpm	*tpm;		/* referenced */
	char			 path[AGENT_TPM_PATH_MAX]; /* the blob */
	char			 file[64];	/* its name in data_dir */
	int			 load;		/* else make */
	struct key		*key;
	char			 err[AGENT_TPM_PATH_MAX + 256];
	ownkey_fn		 done;
	void			*arg;
};

/* A CSR being signed. */
struct ownkey_csr_job {
	struct agent_key	*key;		/* referenced */
	struct cert_tbs		 tbs;
	ownkey_csr_fn		 done;
	void			*arg;
};

static struct agent_key	*ownkey_new(struct key *, struct agent_tpm *,
			    const char *file);
static void		 ownkey_job_run(void *);
static void		 ownkey_job_done(void *, int);
static void		 ownkey_csr_signed(void *, enum key_err,
			    const uint8_t *, size_t);
static int		 ownkey_tls_sign(void *, const uint8_t *, size_t,
			    uint8_t *, size_t *);
static void		 ownkey_tls_free(void *);
static struct agent_tpm	*agent_tpm_new(const char *path, const char *owner,
			    const char *endorsement);

static struct agent_tpm *
agent_tpm_new(const char *path, const char *owner, const char *endorsement)
{
	struct agent_tpm	*t;

	t = mem_calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	if (path != NULL)
		snprintf(t->path, sizeof(t->path), "%s", path);
	t->owner = mem_strdup(owner != NULL ? owner : "");
	t->endorsement = mem_strdup(endorsement != NULL ? endorsement : "");
	if (t->owner == NULL || t->endorsement == NULL) {
		mem_free(t->owner);
		mem_free(t->endorsement);
		mem_free(t);
		return NULL;
	}
	t->refs = 1;
	return t;
}

struct agent_tpm *
agent_tpm_ref(struct agent_tpm *t)
{
	if (t != NULL)
		t->refs++;
	return t;
}

/* The last reference closes the TPM: no job uses it any more. */
void
agent_tpm_unref(struct agent_tpm *t)
{
	if (t == NULL || --t->refs > 0)
		return;
	tpm_close(t->t);
	mem_free_wipe(t->owner, strlen(t->owner));
	mem_free_wipe(t->endorsement, strlen(t->endorsement));
	mem_free(t);
}

/*
 * On the worker: the TPM, opened at first use. A missing device is
 * found again at the next use, so an agent started before its TPM
 * (or whose TPM came back) goes on without a restart.
 */
struct tpm *
agent_tpm_get(struct agent_tpm *t, char *err, size_t errlen)
{
	struct tpm_opts	 o;
	enum tpm_err	 e;
	const char	*path = t->path;
	char		 tcti[AGENT_TPM_PATH_MAX + 16];

	if (t->t != NULL)
		return t->t;
	if (*path == '\0')
		path = access("/dev/tpmrm0", F_OK) == 0 ? "/dev/tpmrm0" :
		    "/dev/tpm0";
	if (tpm_tcti_for_path(path, tcti, sizeof(tcti)) == -1) {
		snprintf(err, errlen, "no TPM at %s: %s", path,
		    strerror(errno));
		return NULL;
	}
	memset(&o, 0, sizeof(o));
	o.tcti = tcti;
	o.owner_password = t->owner;
	o.endorsement_password = t->endorsement;
	t->t = tpm_open(&o, &e);
	if (t->t == NULL)
		snprintf(err, errlen, "cannot open the TPM at %s: %s", path,
		    tpm_strerror(e));
	return t->t;
}

/*
 * The TPMs the plugins name: KeyManager "tpm" and NodeAttestor
 * "tpm_devid" share one when they name the same device (a swtpm socket
 * takes one client at a time). 0, or -1 (logged).
 */
int
ownkey_init(struct agent *a)
{
	const struct agent_plugins	*p = &a->cfg->plugin;
	const char			*kmdev, *kmown;

	if (p->node_attestor == AGENT_NA_TPM_DEVID) {
		a->tpm_devid = agent_tpm_new(p->tpm_devid.tpm_device_path,
		    p->tpm_devid.owner_hierarchy_password,
		    p->tpm_devid.endorsement_hierarchy_password);
		if (a->tpm_devid == NULL)
			return -1;
	}
	if (p->key_manager != AGENT_KM_TPM)
		return 0;
	kmdev = p->tpm_km.tpm_device_path;
	kmown = p->tpm_km.owner_hierarchy_password;
	if (a->tpm_devid != NULL && (kmdev == NULL ||
	    strcmp(kmdev, a->tpm_devid->path) == 0)) {
		if (kmown != NULL && strcmp(kmown, a->tpm_devid->owner) != 0) {
			log_error("agent", "KeyManager \"tpm\" and "
			    "NodeAttestor \"tpm_devid\" use one TPM with two "
			    "owner hierarchy passwords");
			return -1;
		}
		a->tpm_km = agent_tpm_ref(a->tpm_devid);
		return 0;
	}
	a->tpm_km = agent_tpm_new(kmdev, kmown, NULL);
	return a->tpm_km != NULL ? 0 : -1;
}

void
ownkey_cleanup(struct agent *a)
{
	agent_tpm_unref(a->tpm_km);
	agent_tpm_unref(a->tpm_devid);
	a->tpm_km = a->tpm_devid = NULL;
}

/* Takes k (and a reference to tpm for a TPM key). */
static struct agent_key *
ownkey_new(struct key *k, struct agent_tpm *tpm, const char *file)
{
	struct agent_key	*ak;
	uint8_t			*p8 = NULL;
	size_t			 n, p8len = 0;

	ak = mem_calloc(1, sizeof(*ak));
	if (ak == NULL)
		goto fail;
	ak->key = k;
	ak->refs = 1;
	if (tpm == NULL) {
		if (key_export_pkcs8(k, &p8, &p8len) != KEY_OK)
			goto fail;
		ak->stored = p8;
		ak->stored_len = p8len;
		return ak;
	}
	n = strlen(OWNKEY_STORED) + strlen(file);
	ak->file = mem_strdup(file);
	ak->stored = mem_alloc(n + 1);
	if (ak->file == NULL || ak->stored == NULL)
		goto fail;
	snprintf((char *)ak->stored, n + 1, "%s%s", OWNKEY_STORED, file);
	ak->stored_len = n;
	ak->tpm = agent_tpm_ref(tpm);
	LIST_INSERT_HEAD(&live, ak, entry);
	return ak;
fail:
	if (ak != NULL) {
		mem_free(ak->file);
		mem_free(ak->stored);
		mem_free(ak);
	}
	key_free(k);
	return NULL;
}

struct agent_key *
ownkey_ref(struct agent_key *k)
{
	if (k != NULL)
		k->refs++;
	return k;
}

void
ownkey_unref(struct agent_key *k)
{
	if (k == NULL || --k->refs > 0)
		return;
	if (k->tpm != NULL)
		LIST_REMOVE(k, entry);
	key_free(k->key);
	agent_tpm_unref(k->tpm);
	mem_free(k->file);
	mem_free_wipe(k->stored, k->stored_len);
	mem_free(k);
}

int
ownkey_is_tpm(const uint8_t *stored, size_t len)
{
	return len > strlen(OWNKEY_STORED) && memcmp(stored, OWNKEY_STORED,
	    strlen(OWNKEY_STORED)) == 0;
}

/* Makes (or loads) a TPM key on the worker; the file is its blob's. */
static int
ownkey_submit(struct agent *a, int load, const char *file, ownkey_fn done,
    void *arg)
{
	struct ownkey_job	*j;

	j = mem_calloc(1, sizeof(*j));
	if (j == NULL)
		return -1;
	j->load = load;
	j->done = done;
	j->arg = arg;
	if ((size_t)snprintf(j->file, sizeof(j->file), "%s", file) >=
	    sizeof(j->file) || (size_t)snprintf(j->path, sizeof(j->path),
	    "%s/%s", a->cfg->data_dir, file) >= sizeof(j->path)) {
		mem_free(j);
		return -1;
	}
	j->tpm = agent_tpm_ref(a->tpm_km);
	if (worker_submit(a->worker, ownkey_job_run, ownkey_job_done,
	    j) == -1) {
		agent_tpm_unref(j->tpm);
		mem_free(j);
		return -1;
	}
	return 0;
}

static void
ownkey_job_run(void *arg)
{
	struct ownkey_job	*j = arg;
	struct tpm		*t;
	enum key_err		 e;

	t = agent_tpm_get(j->tpm, j->err, sizeof(j->err));
	if (t == NULL)
		return;
	if (j->load) {
		j->key = key_tpm_load_file(t, j->path, NULL, &e);
		if (j->key == NULL)
			snprintf(j->err, sizeof(j->err), "the agent key's TPM "
			    "blob %s: %s", j->path, key_strerror(e));
		return;
	}
	j->key = key_tpm_create(t, KEY_EC_P256, NULL, &e);
	if (j->key == NULL) {
		snprintf(j->err, sizeof(j->err), "cannot make the agent key "
		    "in the TPM: %s", key_strerror(e));
		return;
	}
	e = key_tpm_save_file(j->key, j->path);
	if (e != KEY_OK) {
		snprintf(j->err, sizeof(j->err), "cannot save the agent "
		    "key's TPM blob %s: %s", j->path, key_strerror(e));
		key_free(j->key);
		j->key = NULL;
	}
}

static void
ownkey_job_done(void *arg, int cancelled)
{
	struct ownkey_job	*j = arg;
	struct agent_key	*k = NULL;

	if (cancelled)
		snprintf(j->err, sizeof(j->err), "stopping");
	else if (j->key != NULL) {
		k = ownkey_new(j->key, j->tpm, j->file);
		if (k == NULL)
			snprintf(j->err, sizeof(j->err), "out of memory");
	}
	j->done(j->arg, k, k != NULL ? NULL : j->err);
	agent_tpm_unref(j->tpm);
	mem_free(j);
}

int
ownkey_make(struct agent *a, ownkey_fn done, void *arg)
{
	struct agent_key	*k;
	struct key		*sk;
	enum key_err		 e;
	uint8_t			 rnd[8];
	char			 file[64];

	if (a->tpm_km == NULL) {
		sk = key_soft_generate(KEY_EC_P256, &e);
		k = sk != NULL ? ownkey_new(sk, NULL, NULL) : NULL;
		done(arg, k, k != NULL ? NULL : "cannot make the agent key");
		return 0;
	}
	if (rand_bytes(rnd, sizeof(rnd)) == -1)
		return -1;
	snprintf(file, sizeof(file), OWNKEY_PREFIX
	    "%02x%02x%02x%02x%02x%02x%02x%02x" OWNKEY_SUFFIX, rnd[0], rnd[1],
	    rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	return ownkey_submit(a, 0, file, done, arg);
}

int
ownkey_load(struct agent *a, const uint8_t *stored, size_t len,
    ownkey_fn done, void *arg)
{
	struct agent_key	*k;
	struct key		*sk;
	enum key_err		 e;
	char			 file[64];
	size_t			 pl = strlen(OWNKEY_STORED), i;

	if (!ownkey_is_tpm(stored, len)) {
		sk = key_soft_load(stored, len, &e);
		k = sk != NULL ? ownkey_new(sk, NULL, NULL) : NULL;
		done(arg, k, k != NULL ? NULL : key_strerror(e));
		return 0;
	}
	if (a->tpm_km == NULL || len - pl >= sizeof(file))
		return -1;
	memcpy(file, stored + pl, len - pl);
	file[len - pl] = '\0';
	/* A name the agent made: no path, nothing but what it writes. */
	for (i = 0; file[i] != '\0'; i++)
		if (file[i] == '/')
			return -1;
	if (strncmp(file, OWNKEY_PREFIX, strlen(OWNKEY_PREFIX)) != 0)
		return -1;
	return ownkey_submit(a, 1, file, done, arg);
}

int
ownkey_csr(struct agent *a, struct agent_key *k, ownkey_csr_fn done,
    void *arg)
{
	struct ownkey_csr_job	*j;
	struct cert_name	 nm;
	const uint8_t		*spki;
	uint8_t			*subj = NULL;
	size_t			 subj_len, spki_len;
	enum key_err		 e;

	j = mem_calloc(1, sizeof(*j));
	if (j == NULL)
		return -1;
	/* As spire-agent's: C=US, O=SPIRE, no SAN. */
	memset(&nm, 0, sizeof(nm));
	nm.country[0] = "US";
	nm.organization[0] = "SPIRE";
	spki = key_spki(k->key, &spki_len);
	if (cert_name_encode(&nm, &subj, &subj_len) == -1 ||
	    cert_csr_tbs_make(spki, spki_len, key_get_type(k->key), subj,
	    subj_len, NULL, NULL, 0, &j->tbs) == -1) {
		mem_free(subj);
		mem_free(j);
		return -1;
	}
	mem_free(subj);
	j->key = ownkey_ref(k);
	j->done = done;
	j->arg = arg;
	e = key_sign_async(k->key, a->worker, j->tbs.digest, j->tbs.digest_len,
	    ownkey_csr_signed, j);
	if (e != KEY_OK) {
		log_kv(LOG_LEVEL_ERROR, "agent", "cannot sign the agent's CSR",
		    "error", key_strerror(e), (const char *)NULL);
		ownkey_unref(j->key);
		cert_tbs_cleanup(&j->tbs);
		mem_free(j);
		return -1;
	}
	return 0;
}

static void
ownkey_csr_signed(void *arg, enum key_err err, const uint8_t *sig,
    size_t siglen)
{
	struct ownkey_csr_job	*j = arg;
	uint8_t			*csr = NULL;
	size_t			 csr_len = 0;
	char			 why[128];

	if (err != KEY_OK)
		snprintf(why, sizeof(why), "the agent key did not sign its "
		    "CSR: %s", key_strerror(err));
	else if (cert_tbs_finish(&j->tbs, sig, siglen, &csr, &csr_len) == -1)
		snprintf(why, sizeof(why), "cannot make the CSR");
	j->done(j->arg, csr, csr_len, csr != NULL ? NULL : why);
	mem_free(csr);
	ownkey_unref(j->key);
	cert_tbs_cleanup(&j->tbs);
	mem_free(j);
}

/*
 * The TLS signer of a TPM key: on the worker (the channel steps the
 * handshake there), the key's TPM being the worker's too.
 */
static int
ownkey_tls_sign(void *arg, const uint8_t *digest, size_t len, uint8_t *sig,
    size_t *siglen)
{
	struct agent_key	*k = arg;
	uint8_t			 buf[KEY_SIG_MAX];
	size_t			 n = sizeof(buf);
	enum key_err		 e;

	e = key_sign(k->key, digest, len, buf, &n);
	if (e != KEY_OK) {
		log_kv(LOG_LEVEL_ERROR, "agent", "the agent key did not sign "
		    "the TLS handshake", "error", key_strerror(e),
		    (const char *)NULL);
		return -1;
	}
	if (n > *siglen)
		return -1;
	memcpy(sig, buf, n);
	*siglen = n;
	return 0;
}

static void
ownkey_tls_free(void *arg)
{
	ownkey_unref(arg);
}

/*
 * The key's part of a TLS identity: the PKCS#8 of a software key, or
 * the TPM signer holding a reference (released by sign_free, or by
 * ownkey_identity_undo when the identity was refused).
 */
void
ownkey_identity(struct agent_key *k, struct tls_identity *id)
{
	if (k->tpm == NULL) {
		id->key = k->stored;
		id->key_len = k->stored_len;
		return;
	}
	id->sign = ownkey_tls_sign;
	id->sign_arg = ownkey_ref(k);
	id->sign_blocks = key_is_blocking(k->key);
	id->sign_free = ownkey_tls_free;
}

void
ownkey_identity_undo(struct tls_identity *id)
{
	if (id->sign_arg != NULL)
		ownkey_unref(id->sign_arg);
}

/*
 * Removes the blob files of TPM keys gone: replaced by a newer SVID's,
 * or made for an attestation that failed. The files of live keys (the
 * SVID's, one being attested with) stay.
 */
void
ownkey_sweep(struct agent *a)
{
	struct agent_key	*k;
	struct dirent		*de;
	DIR			*d;
	char			 path[AGENT_TPM_PATH_MAX];
	size_t			 n, pl = strlen(OWNKEY_PREFIX);
	size_t			 sl = strlen(OWNKEY_SUFFIX);

	if (a->tpm_km == NULL)
		return;
	d = opendir(a->cfg->data_dir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n <= pl + sl || strncmp(de->d_name, OWNKEY_PREFIX,
		    pl) != 0 || strcmp(de->d_name + n - sl,
		    OWNKEY_SUFFIX) != 0)
			continue;
		LIST_FOREACH(k, &live, entry)
			if (strcmp(k->file, de->d_name) == 0)
				break;
		if (k != NULL)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s",
		    a->cfg->data_dir, de->d_name) >= sizeof(path))
			continue;
		if (unlink(path) == 0)
			log_kv(LOG_LEVEL_DEBUG, "agent", "old agent key blob "
			    "removed", "path", path, (const char *)NULL);
	}
	closedir(d);
}
