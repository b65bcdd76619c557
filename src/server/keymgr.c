/*
 * KeyManager "memory" and "disk". Keys are few (two CA slots, two JWT
 * slots), so a small array is all the index they need.
 */
#include "config.h"

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
#include "server/keymgr.h"

struct keymgr_key {
	char		*id;
	struct key	*key;
};

struct keymgr {
	const char		*path;	/* NULL for "memory" */
	struct keymgr_key	 keys[SERVER_KEYS_MAX];
	size_t			 n;
};

static int	keymgr_load(struct keymgr *);
static int	keymgr_save(struct keymgr *);
static int	keymgr_put(struct keymgr *, const char *, struct key *);

struct keymgr *
keymgr_new(const struct server_plugins *pl)
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
	mem_free(km);
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
			key_free(km->keys[i].key);
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
	size_t		 i;

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
	key_free(old);
	return k;
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
