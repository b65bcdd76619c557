/*
 * KeyManager "memory", "disk" and "tpm". Keys are few (two CA slots,
 * two JWT slots), so a small array is all the index they need.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/base64.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/worker.h"
#include "hal/tpm.h"
#include "server/keymgr.h"

#define KEYMGR_TPM_SUFFIX	".tpm"

struct keymgr_key {
	char		*id;
	struct key	*key;
	unsigned	 busy;	/* jobs using the key (keymgr_hold) */
};

struct keymgr {
	const char		*path;	/* "disk": the keys file */
	struct tpm		*tpm;	/* "tpm": the chip */
	char			*dir;	/* "tpm": where the blobs are */
	struct keymgr_key	 keys[SERVER_KEYS_MAX];
	size_t			 n;
	/* Keys replaced while a job held them, freed once released. */
	struct keymgr_key	 retired[SERVER_KEYS_MAX];
	size_t			 nretired;
};

/* A key being made in the TPM on the worker. */
struct keymgr_job {
	struct keymgr	*km;
	char		 id[64];
	char		 path[4096];
	enum key_type	 type;
	struct key	*key;
	keymgr_gen_fn	 done;
	void		*arg;
};

static int	keymgr_load(struct keymgr *);
static int	keymgr_save(struct keymgr *);
static int	keymgr_put(struct keymgr *, const char *, struct key *);
static int	keymgr_tpm_open(struct keymgr *, const struct km_tpm_conf *,
		    const char *);
static int	keymgr_tpm_load(struct keymgr *);
static int	keymgr_tpm_path(const struct keymgr *, const char *, char *,
		    size_t);
static struct key *keymgr_tpm_make(struct tpm *, const char *path,
		    enum key_type);
static void	keymgr_job_run(void *);
static void	keymgr_job_done(void *, int);
static void	keymgr_drop(struct keymgr *, struct key *);

struct keymgr *
keymgr_new(const struct server_plugins *pl, const char *data_dir)
{
	struct keymgr	*km;

	km = mem_calloc(1, sizeof(*km));
	if (km == NULL) {
		log_warnx("keymanager", "out of memory");
		return NULL;
	}
	if (pl->km == SERVER_KM_DISK) {
		km->path = pl->km_disk.keys_path;
		if (keymgr_load(km) == -1) {
			keymgr_free(km);
			return NULL;
		}
	} else if (pl->km == SERVER_KM_TPM) {
		if (keymgr_tpm_open(km, &pl->km_tpm, data_dir) == -1 ||
		    keymgr_tpm_load(km) == -1) {
			keymgr_free(km);
			return NULL;
		}
	}
	return km;
}

void
keymgr_free(struct keymgr *km)
{
	size_t	i;

	if (km == NULL)
		return;
	for (i = 0; i < km->n; i++) {
		mem_free(km->keys[i].id);
		key_free(km->keys[i].key);
	}
	for (i = 0; i < km->nretired; i++)
		key_free(km->retired[i].key);
	/* The keys borrow the TPM: it goes last. */
	tpm_close(km->tpm);
	mem_free(km->dir);
	mem_free(km);
}

int
keymgr_blocking(const struct keymgr *km)
{
	return km->tpm != NULL;
}

void
keymgr_hold(struct keymgr *km, struct key *k)
{
	size_t	i;

	for (i = 0; i < km->n; i++)
		if (km->keys[i].key == k) {
			km->keys[i].busy++;
			return;
		}
	for (i = 0; i < km->nretired; i++)
		if (km->retired[i].key == k) {
			km->retired[i].busy++;
			return;
		}
}

void
keymgr_release(struct keymgr *km, struct key *k)
{
	size_t	i;

	for (i = 0; i < km->n; i++)
		if (km->keys[i].key == k) {
			if (km->keys[i].busy > 0)
				km->keys[i].busy--;
			return;
		}
	for (i = 0; i < km->nretired; i++)
		if (km->retired[i].key == k) {
			if (--km->retired[i].busy == 0) {
				key_free(k);
				km->retired[i] = km->retired[--km->nretired];
			}
			return;
		}
}

/*
 * A key leaves the set: freed now, or kept until the jobs holding it
 * are done. The slot's busy count goes with it.
 */
static void
keymgr_drop(struct keymgr *km, struct key *k)
{
	size_t	i;

	for (i = 0; i < km->n; i++)
		if (km->keys[i].key == k)
			break;
	if (i == km->n || km->keys[i].busy == 0 ||
	    km->nretired == SERVER_KEYS_MAX) {
		/* Not held (or nowhere to keep it: never, see the cap). */
		key_free(k);
		return;
	}
	km->retired[km->nretired].id = NULL;
	km->retired[km->nretired].key = k;
	km->retired[km->nretired++].busy = km->keys[i].busy;
	km->keys[i].busy = 0;
}

struct key *
keymgr_get(struct keymgr *km, const char *id)
{
	size_t	i;

	for (i = 0; i < km->n; i++)
		if (strcmp(km->keys[i].id, id) == 0)
			return km->keys[i].key;
	return NULL;
}

/* Takes k: stored under id (replacing) or freed on failure. 0 or -1. */
static int
keymgr_put(struct keymgr *km, const char *id, struct key *k)
{
	size_t	i;

	for (i = 0; i < km->n; i++) {
		if (strcmp(km->keys[i].id, id) == 0) {
			keymgr_drop(km, km->keys[i].key);
			km->keys[i].key = k;
			return 0;
		}
	}
	if (km->n == SERVER_KEYS_MAX) {
		log_warnx("keymanager", "more than %d keys", SERVER_KEYS_MAX);
		key_free(k);
		return -1;
	}
	km->keys[km->n].id = mem_strdup(id);
	if (km->keys[km->n].id == NULL) {
		key_free(k);
		return -1;
	}
	km->keys[km->n++].key = k;
	return 0;
}

struct key *
keymgr_generate(struct keymgr *km, const char *id, enum key_type type)
{
	struct key	*k, *old;
	enum key_err	 e;
	char		 path[4096];
	size_t		 i;

	if (km->tpm != NULL) {
		if (keymgr_tpm_path(km, id, path, sizeof(path)) == -1)
			return NULL;
		k = keymgr_tpm_make(km->tpm, path, type);
		if (k == NULL || keymgr_put(km, id, k) == -1)
			return NULL;
		return k;
	}
	k = key_soft_generate(type, &e);
	if (k == NULL) {
		log_kv(LOG_LEVEL_ERROR, "keymanager", "cannot generate a key",
		    "id", id, "error", key_strerror(e), (const char *)NULL);
		return NULL;
	}
	/* Keep the old key until the file holds the new one. */
	for (i = 0; i < km->n; i++)
		if (strcmp(km->keys[i].id, id) == 0)
			break;
	old = i < km->n ? km->keys[i].key : NULL;
	if (i < km->n)
		km->keys[i].key = k;
	else if (keymgr_put(km, id, k) == -1)
		return NULL;
	if (km->path != NULL && keymgr_save(km) == -1) {
		if (old != NULL) {
			km->keys[i].key = old;
			key_free(k);
		} else {
			mem_free(km->keys[--km->n].id);
			key_free(k);
		}
		return NULL;
	}
	if (old != NULL) {
		/* keymgr_drop looks the key up where it was. */
		km->keys[i].key = old;
		keymgr_drop(km, old);
		km->keys[i].key = k;
	}
	return k;
}

int
keymgr_generate_async(struct keymgr *km, struct worker *w, const char *id,
    enum key_type type, keymgr_gen_fn done, void *arg)
{
	struct keymgr_job	*j;

	if (km->tpm == NULL || w == NULL) {
		done(arg, keymgr_generate(km, id, type));
		return 0;
	}
	j = mem_calloc(1, sizeof(*j));
	if (j == NULL)
		return -1;
	j->km = km;
	j->type = type;
	j->done = done;
	j->arg = arg;
	if ((size_t)snprintf(j->id, sizeof(j->id), "%s", id) >=
	    sizeof(j->id) || keymgr_tpm_path(km, id, j->path,
	    sizeof(j->path)) == -1 ||
	    worker_submit(w, keymgr_job_run, keymgr_job_done, j) == -1) {
		log_kv(LOG_LEVEL_ERROR, "keymanager", "cannot queue the key's "
		    "creation", "id", id, (const char *)NULL);
		mem_free(j);
		return -1;
	}
	return 0;
}

/* On the worker: only the TPM (thread-safe) and the job are touched. */
static void
keymgr_job_run(void *arg)
{
	struct keymgr_job	*j = arg;

	j->key = keymgr_tpm_make(j->km->tpm, j->path, j->type);
}

static void
keymgr_job_done(void *arg, int cancelled)
{
	struct keymgr_job	*j = arg;
	struct key		*k = cancelled ? NULL : j->key;

	if (cancelled)
		key_free(j->key);
	if (k != NULL && keymgr_put(j->km, j->id, k) == -1)
		k = NULL;
	j->done(j->arg, k);
	mem_free(j);
}

/* "<dir>/<id>.tpm"; ids are the CA's own names, checked all the same. */
static int
keymgr_tpm_path(const struct keymgr *km, const char *id, char *out,
    size_t len)
{
	const char	*p;

	for (p = id; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			break;
	if (*id == '\0' || *p != '\0' || (size_t)snprintf(out, len,
	    "%s/%s%s", km->dir, id, KEYMGR_TPM_SUFFIX) >= len) {
		log_kv(LOG_LEVEL_ERROR, "keymanager", "unusable key name",
		    "id", id, (const char *)NULL);
		return -1;
	}
	return 0;
}

/* A key made in the TPM with its blob saved at path (blocking). */
static struct key *
keymgr_tpm_make(struct tpm *t, const char *path, enum key_type type)
{
	struct key	*k;
	enum key_err	 e;

	k = key_tpm_create(t, type, NULL, &e);
	if (k == NULL) {
		log_kv(LOG_LEVEL_ERROR, "keymanager", "cannot make a key in "
		    "the TPM", "path", path, "error", key_strerror(e),
		    (const char *)NULL);
		return NULL;
	}
	e = key_tpm_save_file(k, path);
	if (e != KEY_OK) {
		log_kv(LOG_LEVEL_ERROR, "keymanager", "cannot save the key's "
		    "TPM blob", "path", path, "error", key_strerror(e),
		    (const char *)NULL);
		key_free(k);
		return NULL;
	}
	return k;
}

/* SPIRE's autodetection: the resource manager first. */
static int
keymgr_tpm_open(struct keymgr *km, const struct km_tpm_conf *c,
    const char *data_dir)
{
	struct tpm_opts	 o;
	enum tpm_err	 e;
	const char	*dev = c->tpm_device_path;
	char		 tcti[4096];

	if (dev == NULL || *dev == '\0')
		dev = access("/dev/tpmrm0", F_OK) == 0 ? "/dev/tpmrm0" :
		    "/dev/tpm0";
	if (tpm_tcti_for_path(dev, tcti, sizeof(tcti)) == -1) {
		log_kv(LOG_LEVEL_ERROR, "keymanager", "no TPM at "
		    "tpm_device_path", "path", dev, "error", strerror(errno),
		    (const char *)NULL);
		return -1;
	}
	km->dir = mem_strdup(c->directory != NULL && *c->directory != '\0' ?
	    c->directory : data_dir);
	if (km->dir == NULL)
		return -1;
	memset(&o, 0, sizeof(o));
	o.tcti = tcti;
	o.owner_password = c->owner_hierarchy_password;
	km->tpm = tpm_open(&o, &e);
	if (km->tpm == NULL) {
		log_kv(LOG_LEVEL_ERROR, "keymanager", "cannot open the TPM",
		    "path", dev, "error", tpm_strerror(e), (const char *)NULL);
		return -1;
	}
	return 0;
}

/*
 * Every <name>.tpm of the directory. A blob that does not load stops
 * the server: its CA would be lost without a word otherwise, and the
 * cause (another TPM, a cleared owner seed, a damaged file) wants the
 * operator. A missing directory is an empty set.
 */
static int
keymgr_tpm_load(struct keymgr *km)
{
	DIR		*d;
	struct dirent	*de;
	struct key	*k;
	enum key_err	 e;
	char		 path[4096], id[64];
	size_t		 n, sl = strlen(KEYMGR_TPM_SUFFIX);
	int		 rc = 0;

	d = opendir(km->dir);
	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		log_warn("keymanager", "cannot read %s", km->dir);
		return -1;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n <= sl || n - sl >= sizeof(id) ||
		    strcmp(de->d_name + n - sl, KEYMGR_TPM_SUFFIX) != 0)
			continue;
		memcpy(id, de->d_name, n - sl);
		id[n - sl] = '\0';
		if (keymgr_tpm_path(km, id, path, sizeof(path)) == -1)
			continue;
		k = key_tpm_load_file(km->tpm, path, NULL, &e);
		if (k == NULL) {
			log_kv(LOG_LEVEL_ERROR, "keymanager", "a key's TPM "
			    "blob does not load: its CA or JWT key is lost; "
			    "move the blobs away to start with new ones",
			    "path", path, "error", key_strerror(e),
			    (const char *)NULL);
			rc = -1;
		} else if (keymgr_put(km, id, k) == -1)
			rc = -1;
	}
	closedir(d);
	return rc;
}

static int
keymgr_load(struct keymgr *km)
{
	json_error_t	 jerr;
	json_t		*root, *keys, *v;
	const char	*name, *b64;
	struct key	*k;
	enum key_err	 e;
	uint8_t		*der = NULL;
	size_t		 dlen, blen;
	int		 rc = -1;

	root = json_load_file(km->path, 0, &jerr);
	if (root == NULL) {
		if (access(km->path, F_OK) == -1 && errno == ENOENT)
			return 0;
		log_kv(LOG_LEVEL_ERROR, "keymanager", "cannot read the keys",
		    "path", km->path, "error", jerr.text, (const char *)NULL);
		return -1;
	}
	keys = json_object_get(root, "keys");
	if (!json_is_object(keys)) {
		log_kv(LOG_LEVEL_ERROR, "keymanager", "no keys object",
		    "path", km->path, (const char *)NULL);
		goto out;
	}
	json_object_foreach(keys, name, v) {
		b64 = json_string_value(v);
		if (b64 == NULL)
			goto bad;
		blen = strlen(b64);
		der = mem_alloc(base64_decoded_max(blen) + 1);
		if (der == NULL)
			goto out;
		if (base64_decode(BASE64_STD, b64, blen, der,
		    base64_decoded_max(blen) + 1, &dlen) == -1)
			goto bad;
		k = key_soft_load(der, dlen, &e);
		mem_free_wipe(der, base64_decoded_max(blen) + 1);
		der = NULL;
		if (k == NULL)
			goto bad;
		if (keymgr_put(km, name, k) == -1)
			goto out;
	}
	rc = 0;
	goto out;
bad:
	log_kv(LOG_LEVEL_ERROR, "keymanager", "malformed key", "path",
	    km->path, "id", name, (const char *)NULL);
out:
	json_decref(root);
	return rc;
}

/* Writes every key to a temporary file, syncs it and renames it. */
static int
keymgr_save(struct keymgr *km)
{
	json_t		*root = NULL, *keys;
	char		 tmp[4096], *b64 = NULL, *text = NULL;
	uint8_t		*der = NULL;
	size_t		 i, dlen = 0, blen = 0, tlen;
	int		 fd = -1, rc = -1;
	enum key_err	 e;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", km->path) >=
	    sizeof(tmp)) {
		log_warnx("keymanager", "keys_path too long");
		return -1;
	}
	root = json_object();
	keys = json_object();
	if (root == NULL || keys == NULL ||
	    json_object_set_new(root, "keys", keys) == -1)
		goto out;
	for (i = 0; i < km->n; i++) {
		e = key_export_pkcs8(km->keys[i].key, &der, &dlen);
		if (e != KEY_OK)
			goto out;
		blen = base64_encoded_len(BASE64_STD, dlen) + 1;
		b64 = mem_alloc(blen);
		if (b64 == NULL || base64_encode(BASE64_STD, der, dlen, b64,
		    blen) == -1 || json_object_set_new(keys, km->keys[i].id,
		    json_string(b64)) == -1)
			goto out;
		mem_free_wipe(b64, blen);
		b64 = NULL;
		mem_free_wipe(der, dlen);
		der = NULL;
	}
	text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (text == NULL)
		goto out;
	tlen = strlen(text);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || write(fd, text, tlen) != (ssize_t)tlen ||
	    fsync(fd) == -1) {
		log_warn("keymanager", "cannot write %s", tmp);
		goto out;
	}
	if (close(fd) == -1) {
		fd = -1;
		log_warn("keymanager", "cannot write %s", tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, km->path) == -1) {
		log_warn("keymanager", "cannot rename %s", tmp);
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (rc == -1)
		(void)unlink(tmp);
	if (text != NULL)
		mem_free_wipe(text, strlen(text));
	if (b64 != NULL)
		mem_free_wipe(b64, blen);
	if (der != NULL)
		mem_free_wipe(der, dlen);
	json_decref(root);
	return rc;
}
