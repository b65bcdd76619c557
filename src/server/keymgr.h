/*
 * The server's KeyManager: named private keys for the CA and the JWT
 * signer. "memory" keeps them in the process only (a restart makes new
 * ones, as SPIRE's memory plugin does); "disk" keeps them in one JSON
 * file (mode 0600, replaced atomically), {"keys": {name: base64 PKCS#8}}.
 */
#ifndef SERVER_KEYMGR_H
#define SERVER_KEYMGR_H

#include "hal/key.h"
#include "server/plugins.h"

struct keymgr;

/*
 * A key manager as the plugins chose (the disk file is read now; a
 * missing file is an empty set). NULL when the file is unreadable or
 * malformed (logged). Free with keymgr_free.
 */
struct keymgr	*keymgr_new(const struct server_plugins *);
void		 keymgr_free(struct keymgr *);

/*
 * The key named id, or NULL when there is none. Borrowed: valid until
 * the next keymgr_generate of the same id or keymgr_free.
 */
struct key	*keymgr_get(struct keymgr *, const char *id);

/*
 * A fresh key of type under id, replacing any key of that name (and
 * saved before it is returned, for "disk"). Borrowed like keymgr_get.
 * NULL on failure (logged); the old key of the name then stays.
 */
struct key	*keymgr_generate(struct keymgr *, const char *id,
		    enum key_type);

#endif
