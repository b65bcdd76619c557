/*
 * The server's KeyManager: named private keys for the CA and the JWT
 * signer. "memory" keeps them in the process only (a restart makes new
 * ones, as SPIRE's memory plugin does); "disk" keeps them in one JSON
 * file (mode 0600, replaced atomically), {"keys": {name: base64 PKCS#8}};
 * "tpm" makes them in the TPM and keeps only their TPM blobs, one file
 * per key (<directory>/<name>.tpm, 0600), which load in that TPM alone.
 *
 * TPM keys block on the chip: keymgr_blocking() says so, and code on
 * the event loop makes them with keymgr_generate_async and signs with
 * key_sign_async. A key in use by such a job is held (keymgr_hold) so
 * that replacing its name does not free it under the job.
 */
#ifndef SERVER_KEYMGR_H
#define SERVER_KEYMGR_H

#include "hal/key.h"
#include "server/plugins.h"

struct keymgr;
struct worker;

/*
 * A key manager as the plugins chose (the disk file is read now; a
 * missing file is an empty set; "tpm" opens the TPM and loads every
 * blob of its directory, data_dir by default, blocking). NULL when the
 * file is unreadable or malformed, the TPM absent, or a blob does not
 * load in this TPM (logged with the cause). Free with keymgr_free,
 * once no job holds a key.
 */
struct keymgr	*keymgr_new(const struct server_plugins *,
		    const char *data_dir);
void		 keymgr_free(struct keymgr *);
/* 1 when the keys sign (and are made) on a device: the TPM. */
int		 keymgr_blocking(const struct keymgr *);
/*
 * Marks a key from keymgr_get as in use by a job (the loop thread
 * only), so replacing its name keeps it alive until keymgr_release.
 */
void		 keymgr_hold(struct keymgr *, struct key *);
void		 keymgr_release(struct keymgr *, struct key *);

/*
 * The key named id, or NULL when there is none. Borrowed: valid until
 * the next keymgr_generate of the same id or keymgr_free.
 */
struct key	*keymgr_get(struct keymgr *, const char *id);

/*
 * A fresh key of type under id, replacing any key of that name (and
 * saved before it is returned, for "disk" and "tpm"). Borrowed like
 * keymgr_get. NULL on failure (logged); the old key of the name then
 * stays. Blocks on the TPM for "tpm": start-up and tools only.
 */
struct key	*keymgr_generate(struct keymgr *, const char *id,
		    enum key_type);
/*
 * The same without blocking the loop: with worker NULL or a software
 * key manager, done(arg, key) runs before this returns; for "tpm" the
 * key is made and its blob saved on the worker, and done runs later on
 * the loop (key NULL on failure, logged). 0 means done will run once;
 * -1 that it will not (the worker's queue is full).
 */
typedef void	(*keymgr_gen_fn)(void *arg, struct key *);
int		 keymgr_generate_async(struct keymgr *, struct worker *,
		    const char *id, enum key_type, keymgr_gen_fn, void *arg)
		    __attribute__((warn_unused_result));

#endif
