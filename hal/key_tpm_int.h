/*
 * What hal/tpm_devid.c needs from a TPM key: its object loaded in the
 * TPM. Only hal/ includes this (it pulls in the TSS headers).
 */
#ifndef HAL_KEY_TPM_INT_H
#define HAL_KEY_TPM_INT_H

#include "hal/tss.h"

#include "hal/tpm.h"

struct key;

/*
 * The caller holds the TPM's lock. Loads the key (from its saved
 * context, its blob under the SRK, or its persistent handle) with its
 * password set; release it with key_tpm_unload_handle().
 */
enum tpm_err	 key_tpm_load_handle(struct key *, ESYS_TR *out);
void		 key_tpm_unload_handle(struct key *, ESYS_TR);
/* The TPM a key lives in; NULL for a software key. */
struct tpm	*key_tpm_device(const struct key *);

#endif
