/*
 * What the hal/tpm*.c files share: the struct tpm behind hal/tpm.h and
 * the helpers around ESAPI. Only hal/tpm*.c and hal/key_tpm.c include
 * this header (it pulls in the TSS headers).
 */
#ifndef HAL_TPM_INT_H
#define HAL_TPM_INT_H

#include <pthread.h>

#include "hal/tss.h"

#include "hal/tpm.h"

struct tpm {
	pthread_mutex_t		 lock;	 /* one command sequence at a time */
	ESYS_CONTEXT		*esys;
	TSS2_TCTI_CONTEXT	*tcti;
	TPM2B_AUTH		 owner_auth;
	TPM2B_AUTH		 endorse_auth;
	/*
	 * The ECC storage root key, saved with ContextSave after its first
	 * CreatePrimary, so each later use costs a ContextLoad instead of
	 * a key derivation. Invalid after a TPM reset: then made again.
	 */
	TPMS_CONTEXT		 srk_ctx;
	int			 srk_saved;
};

/*
 * Converts a TSS2_RC to our enum, logging what (the command that failed)
 * with the TSS's decoded text. TSS2_RC_SUCCESS gives TPM_OK silently.
 */
enum tpm_err	tpm_rc(TSS2_RC, const char *what);

/*
 * The caller holds t->lock. Loads the SRK (the standard ECC P-256
 * storage template, TCG's H-2 with an empty unique field, as SPIRE
 * derives it), into *out; the caller flushes it.
 */
enum tpm_err	tpm_srk_load(struct tpm *, ESYS_TR *out);
/* The caller holds t->lock. Flushes a transient object; logs failures. */
void		tpm_flush(struct tpm *, ESYS_TR);
/* Sets a TPM2B_AUTH from a C string (NULL: empty). 0, or -1 too long. */
int		tpm_auth_set(TPM2B_AUTH *, const char *);

/*
 * The public template of the non-restricted ECDSA keys spirelet makes
 * (SPIRE's DevID key template for ECC): sign, fixedTPM, fixedParent,
 * sensitiveDataOrigin, userWithAuth; scheme ECDSA with SHA-256 on
 * P-256, SHA-384 on P-384.
 */
void		tpm_template_ecdsa(TPM2B_PUBLIC *, int p384);

#endif
