/*
 * TPM keys behind the key interface: ECDSA keys made in the TPM under
 * the storage root key, kept as TPM blobs (public area and the private
 * part wrapped by the TPM) or at a persistent handle. The private key
 * never exists outside the chip.
 *
 * Slots: a TPM without a resource manager holds about three transient
 * objects. Each signature loads the key (from a context saved after the
 * first load, or from its blob under the SRK), signs, and flushes, so at
 * most two objects (SRK and key, during a load) are ever held.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hal/tss.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include "core/log.h"
#include "core/mem.h"
#include "hal/key.h"
#include "hal/key_tpm_int.h"
#include "hal/tpm_int.h"

#define KEY_TPM_FILE_MAX	4096	/* bytes of a key blob file */

struct key_tpm {
	struct key	 base;	/* first, so a struct key * converts */
	struct tpm	*tpm;	/* borrowed */
	TPM2B_PUBLIC	 pub;
	TPM2B_PRIVATE	 priv;	/* size 0 for a persistent key */
	uint32_t	 persistent; /* 0, or the handle it lives at */
	TPM2B_AUTH	 auth;
	TPMS_CONTEXT	 ctx;	/* saved after the first load */
	int		 ctx_saved;
};

static enum key_err	ktpm_sign(struct key *, const uint8_t *, size_t,
			    uint8_t *, size_t *);
static void		ktpm_free(struct key *);
static enum key_err	ktpm_destroy(struct key *);
static enum key_err	ktpm_err(enum tpm_err);
static struct key_tpm	*ktpm_new(struct tpm *, const char *,
			    enum key_err *);
static enum key_err	ktpm_finish(struct key_tpm *);
static enum key_err	ktpm_check(struct key_tpm *);
static struct key	*ktpm_load_end(struct key_tpm *, enum key_err *);

static const struct key_ops tpm_ops = {
	.backend = "tpm",
	.sign = ktpm_sign,
	.export_pkcs8 = NULL,		/* KEY_ERR_NOT_EXPORTABLE */
	.free = ktpm_free,
	.blocking = 1,
	.destroy = ktpm_destroy,
};

static enum key_err
ktpm_err(enum tpm_err e)
{
	switch (e) {
	case TPM_OK:
		return KEY_OK;
	case TPM_ERR_NOMEM:
		return KEY_ERR_NOMEM;
	case TPM_ERR_NO_DEVICE:
	case TPM_ERR_IO:
		return KEY_ERR_NO_DEVICE;
	case TPM_ERR_BUSY:
	case TPM_ERR_SLOTS:
		return KEY_ERR_BUSY;
	case TPM_ERR_LOCKOUT:
		return KEY_ERR_LOCKOUT;
	case TPM_ERR_AUTH:
		return KEY_ERR_AUTH;
	case TPM_ERR_BLOB:
	case TPM_ERR_FORMAT:
		return KEY_ERR_BLOB;
	case TPM_ERR_FILE:
		return KEY_ERR_FILE;
	case TPM_ERR_NOT_FOUND:
		return KEY_ERR_NOT_FOUND;
	case TPM_ERR_UNSUPPORTED:
		return KEY_ERR_UNSUPPORTED;
	default:
		return KEY_ERR_DEVICE;
	}
}

static struct key_tpm *
ktpm_new(struct tpm *t, const char *password, enum key_err *err)
{
	struct key_tpm	*k;

	k = mem_calloc(1, sizeof(*k));
	if (k == NULL) {
		*err = KEY_ERR_NOMEM;
		return NULL;
	}
	k->base.ops = &tpm_ops;
	k->tpm = t;
	if (tpm_auth_set(&k->auth, password) == -1) {
		log_warnx("tpm", "key password longer than %zu bytes",
		    sizeof(k->auth.buffer));
		*err = KEY_ERR_AUTH;
		mem_free(k);
		return NULL;
	}
	return k;
}

/* Type and SubjectPublicKeyInfo from the public area. */
static enum key_err
ktpm_finish(struct key_tpm *k)
{
	const TPMT_PUBLIC	*a = &k->pub.publicArea;
	const TPMS_ECC_POINT	*q = &a->unique.ecc;
	ecc_key			 ecc;
	uint8_t			 x[48], y[48];
	size_t			 n;
	int			 curve, len;

	/* XXX: ECC only; an RSA DevID made by another tool does not load. */
	if (a->type != TPM2_ALG_ECC ||
	    !(a->objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT) ||
	    (a->objectAttributes & TPMA_OBJECT_RESTRICTED)) {
		log_warnx("tpm", "key is not an unrestricted ECC signing key");
		return KEY_ERR_UNSUPPORTED;
	}
	switch (a->parameters.eccDetail.curveID) {
	case TPM2_ECC_NIST_P256:
		k->base.type = KEY_EC_P256;
		curve = ECC_SECP256R1;
		n = 32;
		break;
	case TPM2_ECC_NIST_P384:
		k->base.type = KEY_EC_P384;
		curve = ECC_SECP384R1;
		n = 48;
		break;
	default:
		return KEY_ERR_UNSUPPORTED;
	}
	if (q->x.size > n || q->y.size > n || q->x.size == 0 ||
	    q->y.size == 0)
		return KEY_ERR_BLOB;
	/* Coordinates are unsigned big-endian; pad to the field size. */
	memset(x, 0, sizeof(x));
	memset(y, 0, sizeof(y));
	memcpy(x + n - q->x.size, q->x.buffer, q->x.size);
	memcpy(y + n - q->y.size, q->y.buffer, q->y.size);
	if (wc_ecc_init(&ecc) != 0)
		return KEY_ERR_CRYPTO;
	if (wc_ecc_import_unsigned(&ecc, x, y, NULL, curve) != 0) {
		wc_ecc_free(&ecc);
		return KEY_ERR_BLOB;
	}
	len = wc_EccPublicKeyToDer(&ecc, k->base.spki, sizeof(k->base.spki),
	    1);
	wc_ecc_free(&ecc);
	if (len <= 0)
		return KEY_ERR_CRYPTO;
	k->base.spki_len = (size_t)len;
	return KEY_OK;
}

/*
 * The caller holds the lock. Loads the key into the TPM (*out, flushed
 * by the caller unless persistent): from its saved context when it has
 * one, else its blob under the SRK (then saves the context).
 */
enum tpm_err
key_tpm_load_handle(struct key *key, ESYS_TR *out)
{
	struct key_tpm	*k = (struct key_tpm *)key;
	struct tpm	*t = k->tpm;
	TPMS_CONTEXT	*saved = NULL;
	ESYS_TR		 srk, h = ESYS_TR_NONE;
	TSS2_RC		 rc;
	enum tpm_err	 e;

	*out = ESYS_TR_NONE;
	if (k->persistent != 0) {
		rc = Esys_TR_FromTPMPublic(t->esys, k->persistent,
		    ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &h);
		if (rc != TSS2_RC_SUCCESS)
			return tpm_rc(rc, "TPM2_ReadPublic (persistent key)");
		goto auth;
	}
	if (k->ctx_saved) {
		rc = Esys_ContextLoad(t->esys, &k->ctx, &h);
		if (rc == TSS2_RC_SUCCESS)
			goto auth;
		/* A TPM reset voids saved contexts: load the blob again. */
		log_kv(LOG_LEVEL_DEBUG, "tpm", "saved key context refused",
		    NULL);
		k->ctx_saved = 0;
		h = ESYS_TR_NONE;
	}
	e = tpm_srk_load(t, &srk);
	if (e != TPM_OK)
		return e;
	rc = Esys_Load(t->esys, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	    ESYS_TR_NONE, &k->priv, &k->pub, &h);
	tpm_flush(t, srk);
	if (rc != TSS2_RC_SUCCESS) {
		e = tpm_rc(rc, "TPM2_Load (key blob)");
		/* Any refusal of the blob's bytes is the blob's. */
		return e == TPM_ERR_FAILED ? TPM_ERR_BLOB : e;
	}
	if (Esys_ContextSave(t->esys, h, &saved) == TSS2_RC_SUCCESS) {
		k->ctx = *saved;
		k->ctx_saved = 1;
		Esys_Free(saved);
	}
auth:
	rc = Esys_TR_SetAuth(t->esys, h, &k->auth);
	if (rc != TSS2_RC_SUCCESS) {
		key_tpm_unload_handle(key, h);
		return tpm_rc(rc, "Esys_TR_SetAuth");
	}
	*out = h;
	return TPM_OK;
}

void
key_tpm_unload_handle(struct key *key, ESYS_TR h)
{
	struct key_tpm	*k = (struct key_tpm *)key;

	if (h == ESYS_TR_NONE)
		return;
	if (k->persistent != 0)
		(void)Esys_TR_Close(k->tpm->esys, &h);
	else
		tpm_flush(k->tpm, h);
}

struct tpm *
key_tpm_device(const struct key *key)
{
	if (key->ops != &tpm_ops)
		return NULL;
	return ((const struct key_tpm *)key)->tpm;
}

/*
 * The end of loading a key from blobs, k's pub and priv filled: its
 * type and SubjectPublicKeyInfo, then a load to prove the TPM takes
 * it. The key, or NULL with *err set and k freed.
 */
static struct key *
ktpm_load_end(struct key_tpm *k, enum key_err *err)
{
	*err = ktpm_finish(k);
	if (*err == KEY_OK)
		*err = ktpm_check(k);
	if (*err != KEY_OK) {
		ktpm_free(&k->base);
		return NULL;
	}
	return &k->base;
}

/* Loads once to prove the TPM takes the key, then flushes. */
static enum key_err
ktpm_check(struct key_tpm *k)
{
	ESYS_TR		 h;
	enum tpm_err	 e;

	pthread_mutex_lock(&k->tpm->lock);
	e = key_tpm_load_handle(&k->base, &h);
	if (e == TPM_OK)
		key_tpm_unload_handle(&k->base, h);
	pthread_mutex_unlock(&k->tpm->lock);
	return ktpm_err(e);
}

struct key *
key_tpm_create(struct tpm *t, enum key_type type, const char *password,
    enum key_err *err)
{
	struct key_tpm		*k;
	TPM2B_SENSITIVE_CREATE	 sens;
	TPM2B_PUBLIC		 tmpl, *pub = NULL;
	TPM2B_PRIVATE		*priv = NULL;
	TPM2B_DATA		 outside;
	TPML_PCR_SELECTION	 pcrs;
	ESYS_TR			 srk;
	TSS2_RC			 rc;
	enum tpm_err		 e;

	k = ktpm_new(t, password, err);
	if (k == NULL)
		return NULL;
	memset(&sens, 0, sizeof(sens));
	sens.sensitive.userAuth = k->auth;
	memset(&outside, 0, sizeof(outside));
	memset(&pcrs, 0, sizeof(pcrs));
	tpm_template_ecdsa(&tmpl, type == KEY_EC_P384);
	pthread_mutex_lock(&t->lock);
	e = tpm_srk_load(t, &srk);
	if (e == TPM_OK) {
		rc = Esys_Create(t->esys, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE,
		    ESYS_TR_NONE, &sens, &tmpl, &outside, &pcrs, &priv, &pub,
		    NULL, NULL, NULL);
		tpm_flush(t, srk);
		e = tpm_rc(rc, "TPM2_Create (ECDSA key)");
	}
	pthread_mutex_unlock(&t->lock);
	mem_wipe(&sens, sizeof(sens));
	if (e != TPM_OK) {
		*err = ktpm_err(e);
		goto fail;
	}
	k->pub = *pub;
	k->priv = *priv;
	Esys_Free(pub);
	Esys_Free(priv);
	*err = ktpm_finish(k);
	if (*err != KEY_OK)
		goto fail;
	return &k->base;
fail:
	ktpm_free(&k->base);
	return NULL;
}

struct key *
key_tpm_load_blob(struct tpm *t, const uint8_t *blob, size_t len,
    const char *password, enum key_err *err)
{
	struct key_tpm	*k;
	size_t		 off = 0;

	k = ktpm_new(t, password, err);
	if (k == NULL)
		return NULL;
	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(blob, len, &off, &k->pub) !=
	    TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Unmarshal(blob, len, &off, &k->priv) !=
	    TSS2_RC_SUCCESS || off != len) {
		log_warnx("tpm", "key blob is not TPM2B_PUBLIC and "
		    "TPM2B_PRIVATE");
		*err = KEY_ERR_BLOB;
		goto fail;
	}
	return ktpm_load_end(k, err);
fail:
	ktpm_free(&k->base);
	return NULL;
}

struct key *
key_tpm_load_parts(struct tpm *t, const uint8_t *pub, size_t publen,
    const uint8_t *priv, size_t privlen, const char *password,
    enum key_err *err)
{
	struct key_tpm	*k;
	size_t		 off = 0;

	k = ktpm_new(t, password, err);
	if (k == NULL)
		return NULL;
	/* go-tpm's DecodePublic ignores trailing bytes; so do we. */
	if (Tss2_MU_TPMT_PUBLIC_Unmarshal(pub, publen, &off,
	    &k->pub.publicArea) != TSS2_RC_SUCCESS ||
	    privlen == 0 || privlen > sizeof(k->priv.buffer)) {
		log_warnx("tpm", "DevID blobs are not a TPMT_PUBLIC and a "
		    "TPM2B_PRIVATE's contents");
		*err = KEY_ERR_BLOB;
		goto fail;
	}
	k->pub.size = (UINT16)off;
	memcpy(k->priv.buffer, priv, privlen);
	k->priv.size = (UINT16)privlen;
	return ktpm_load_end(k, err);
fail:
	ktpm_free(&k->base);
	return NULL;
}

struct key *
key_tpm_load_persistent(struct tpm *t, uint32_t handle, const char *password,
    enum key_err *err)
{
	struct key_tpm	*k;
	TPM2B_PUBLIC	*pub = NULL;
	ESYS_TR		 h;
	TSS2_RC		 rc;
	enum tpm_err	 e;

	if ((handle >> 24) != TPM2_HT_PERSISTENT) {
		*err = KEY_ERR_FORMAT;
		return NULL;
	}
	k = ktpm_new(t, password, err);
	if (k == NULL)
		return NULL;
	k->persistent = handle;
	pthread_mutex_lock(&t->lock);
	e = key_tpm_load_handle(&k->base, &h);
	if (e == TPM_OK) {
		rc = Esys_ReadPublic(t->esys, h, ESYS_TR_NONE, ESYS_TR_NONE,
		    ESYS_TR_NONE, &pub, NULL, NULL);
		e = tpm_rc(rc, "TPM2_ReadPublic");
		key_tpm_unload_handle(&k->base, h);
	}
	pthread_mutex_unlock(&t->lock);
	if (e != TPM_OK) {
		*err = ktpm_err(e);
		goto fail;
	}
	k->pub = *pub;
	Esys_Free(pub);
	*err = ktpm_finish(k);
	if (*err != KEY_OK)
		goto fail;
	return &k->base;
fail:
	ktpm_free(&k->base);
	return NULL;
}

enum key_err
key_tpm_blob(const struct key *key, uint8_t **out, size_t *len)
{
	const struct key_tpm	*k = (const struct key_tpm *)key;
	uint8_t			*buf;
	size_t			 cap, off = 0;

	if (key->ops != &tpm_ops || k->persistent != 0)
		return KEY_ERR_UNSUPPORTED;
	cap = sizeof(k->pub) + sizeof(k->priv);
	buf = mem_alloc(cap);
	if (buf == NULL)
		return KEY_ERR_NOMEM;
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(&k->pub, buf, cap, &off) !=
	    TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Marshal(&k->priv, buf, cap, &off) !=
	    TSS2_RC_SUCCESS) {
		mem_free(buf);
		return KEY_ERR_CRYPTO;
	}
	*out = buf;
	*len = off;
	return KEY_OK;
}

enum key_err
key_tpm_parts(const struct key *key, uint8_t **pub, size_t *publen,
    uint8_t **priv, size_t *privlen)
{
	const struct key_tpm	*k = (const struct key_tpm *)key;
	uint8_t			*p, *q;
	size_t			 off = 0;

	if (key->ops != &tpm_ops || k->persistent != 0)
		return KEY_ERR_UNSUPPORTED;
	p = mem_alloc(sizeof(k->pub));
	q = mem_alloc(k->priv.size);
	if (p == NULL || q == NULL) {
		mem_free(p);
		mem_free(q);
		return KEY_ERR_NOMEM;
	}
	if (Tss2_MU_TPMT_PUBLIC_Marshal(&k->pub.publicArea, p,
	    sizeof(k->pub), &off) != TSS2_RC_SUCCESS) {
		mem_free(p);
		mem_free(q);
		return KEY_ERR_CRYPTO;
	}
	memcpy(q, k->priv.buffer, k->priv.size);
	*pub = p;
	*publen = off;
	*priv = q;
	*privlen = k->priv.size;
	return KEY_OK;
}

enum key_err
key_tpm_save_file(const struct key *key, const char *path)
{
	uint8_t		*blob = NULL;
	size_t		 len = 0;
	enum key_err	 e;

	e = key_tpm_blob(key, &blob, &len);
	if (e != KEY_OK)
		return e;
	e = key_file_write(path, blob, len) == 0 ? KEY_OK : KEY_ERR_FILE;
	mem_free(blob);
	return e;
}

int
key_file_write(const char *path, const uint8_t *data, size_t len)
{
	char	 tmp[4096];
	size_t	 off = 0;
	ssize_t	 n;
	int	 fd, r;

	r = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (r < 0 || (size_t)r >= sizeof(tmp)) {
		log_warnx("tpm", "%s: path too long", path);
		return -1;
	}
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		log_warn("tpm", "%s: open", tmp);
		return -1;
	}
	while (off < len) {
		n = write(fd, data + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warn("tpm", "%s: write", tmp);
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1) {
		log_warn("tpm", "%s: fsync", tmp);
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		log_warn("tpm", "%s: close", tmp);
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		log_warn("tpm", "%s: rename", path);
		goto fail;
	}
	return 0;
fail:
	if (fd != -1)
		(void)close(fd);
	(void)unlink(tmp);
	return -1;
}

int
key_file_read(const char *path, uint8_t **out, size_t *len)
{
	struct stat	 st;
	uint8_t		*buf = NULL;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		log_warn("tpm", "%s: open", path);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size <= 0 || st.st_size > KEY_TPM_FILE_MAX) {
		log_warnx("tpm", "%s: not a key blob file (1 to %d bytes)",
		    path, KEY_TPM_FILE_MAX);
		goto fail;
	}
	buf = mem_alloc((size_t)st.st_size);
	if (buf == NULL)
		goto fail;
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warn("tpm", "%s: read", path);
			goto fail;
		}
		off += (size_t)n;
	}
	(void)close(fd);
	*out = buf;
	*len = off;
	return 0;
fail:
	mem_free(buf);
	(void)close(fd);
	return -1;
}

struct key *
key_tpm_load_file(struct tpm *t, const char *path, const char *password,
    enum key_err *err)
{
	struct key	*k;
	uint8_t		*blob = NULL;
	size_t		 len = 0;

	if (key_file_read(path, &blob, &len) == -1) {
		*err = KEY_ERR_FILE;
		return NULL;
	}
	k = key_tpm_load_blob(t, blob, len, password, err);
	if (k == NULL)
		log_kv(LOG_LEVEL_WARN, "tpm", "key blob does not load",
		    "path", path, "cause", key_strerror(*err), NULL);
	mem_free(blob);
	return k;
}

enum key_err
key_tpm_persist(struct key *key, uint32_t handle)
{
	struct key_tpm	*k = (struct key_tpm *)key;
	struct tpm	*t;
	ESYS_TR		 h, ph = ESYS_TR_NONE;
	TSS2_RC		 rc;
	enum tpm_err	 e;

	if (key->ops != &tpm_ops || k->persistent != 0 ||
	    (handle >> 24) != TPM2_HT_PERSISTENT)
		return KEY_ERR_UNSUPPORTED;
	t = k->tpm;
	pthread_mutex_lock(&t->lock);
	e = key_tpm_load_handle(key, &h);
	if (e == TPM_OK) {
		rc = Esys_TR_SetAuth(t->esys, ESYS_TR_RH_OWNER,
		    &t->owner_auth);
		if (rc == TSS2_RC_SUCCESS)
			rc = Esys_EvictControl(t->esys, ESYS_TR_RH_OWNER, h,
			    ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
			    handle, &ph);
		e = tpm_rc(rc, "TPM2_EvictControl (persist)");
		key_tpm_unload_handle(key, h);
		if (ph != ESYS_TR_NONE)
			(void)Esys_TR_Close(t->esys, &ph);
	}
	if (e == TPM_OK) {
		k->persistent = handle;
		k->ctx_saved = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return ktpm_err(e);
}

static enum key_err
ktpm_destroy(struct key *key)
{
	struct key_tpm	*k = (struct key_tpm *)key;
	struct tpm	*t = k->tpm;
	ESYS_TR		 h, ph = ESYS_TR_NONE;
	TSS2_RC		 rc;
	enum tpm_err	 e;

	if (k->persistent == 0) {
		k->ctx_saved = 0;
		return KEY_OK;
	}
	pthread_mutex_lock(&t->lock);
	e = key_tpm_load_handle(key, &h);
	if (e == TPM_OK) {
		rc = Esys_TR_SetAuth(t->esys, ESYS_TR_RH_OWNER,
		    &t->owner_auth);
		/* Evicting a persistent object closes its ESYS_TR. */
		if (rc == TSS2_RC_SUCCESS)
			rc = Esys_EvictControl(t->esys, ESYS_TR_RH_OWNER, h,
			    ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
			    k->persistent, &ph);
		e = tpm_rc(rc, "TPM2_EvictControl (evict)");
		if (e != TPM_OK)
			(void)Esys_TR_Close(t->esys, &h);
	}
	if (e == TPM_OK)
		k->persistent = 0;
	pthread_mutex_unlock(&t->lock);
	return ktpm_err(e);
}

static enum key_err
ktpm_sign(struct key *key, const uint8_t *digest, size_t len, uint8_t *sig,
    size_t *siglen)
{
	struct key_tpm		*k = (struct key_tpm *)key;
	struct tpm		*t = k->tpm;
	TPM2B_DIGEST		 d;
	TPMT_SIG_SCHEME		 scheme;
	TPMT_TK_HASHCHECK	 check;
	TPMT_SIGNATURE		*s = NULL;
	ESYS_TR			 h;
	TSS2_RC			 rc;
	enum tpm_err		 e;
	word32			 out;

	if (*siglen < KEY_SIG_MAX)
		return KEY_ERR_SPACE;
	memset(&d, 0, sizeof(d));
	memcpy(d.buffer, digest, len);
	d.size = (UINT16)len;
	memset(&scheme, 0, sizeof(scheme));
	scheme.scheme = TPM2_ALG_NULL;		/* the key's own scheme */
	memset(&check, 0, sizeof(check));
	check.tag = TPM2_ST_HASHCHECK;
	check.hierarchy = TPM2_RH_NULL;
	pthread_mutex_lock(&t->lock);
	e = key_tpm_load_handle(key, &h);
	if (e == TPM_OK) {
		rc = Esys_Sign(t->esys, h, ESYS_TR_PASSWORD, ESYS_TR_NONE,
		    ESYS_TR_NONE, &d, &scheme, &check, &s);
		e = tpm_rc(rc, "TPM2_Sign");
		key_tpm_unload_handle(key, h);
	}
	pthread_mutex_unlock(&t->lock);
	if (e != TPM_OK)
		return ktpm_err(e);
	if (s->sigAlg != TPM2_ALG_ECDSA) {
		Esys_Free(s);
		return KEY_ERR_DEVICE;
	}
	out = (word32)*siglen;
	if (wc_ecc_rs_raw_to_sig(s->signature.ecdsa.signatureR.buffer,
	    s->signature.ecdsa.signatureR.size,
	    s->signature.ecdsa.signatureS.buffer,
	    s->signature.ecdsa.signatureS.size, sig, &out) != 0) {
		Esys_Free(s);
		return KEY_ERR_CRYPTO;
	}
	Esys_Free(s);
	*siglen = out;
	return KEY_OK;
}

static void
ktpm_free(struct key *key)
{
	mem_free_wipe(key, sizeof(struct key_tpm));
}
