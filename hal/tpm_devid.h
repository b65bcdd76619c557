/*
 * The TPM's half of SPIRE's tpm_devid node attestation, as its agent
 * plugin does it: the EK certificate from NV 0x01C00002, the EK public
 * area recreated from the default RSA EK template, a fresh attestation
 * key (RSA 2048, restricted signing, RSASSA-SHA256), TPM2_Certify of the
 * DevID key by that AK, and TPM2_ActivateCredential under an EK policy
 * session for the server's challenge. Byte strings are TPM wire format
 * (TPMT_PUBLIC, TPMS_ATTEST, TPMT_SIGNATURE) exactly as SPIRE sends them.
 *
 * Every call blocks on the TPM (see hal/tpm.h TIMING): run them on the
 * worker thread or in a tool.
 */
#ifndef HAL_TPM_DEVID_H
#define HAL_TPM_DEVID_H

#include <stddef.h>
#include <stdint.h>

#include "hal/tpm.h"

#define TPM_DEVID_EK_CERT_NV	0x01c00002u	/* TCG: RSA 2048 EK cert */

struct key;
struct tpm_devid;

/* What tpm_devid_open() read and made; borrowed from the session. */
struct tpm_devid_evidence {
	const uint8_t	*ek_cert;	/* DER, trailing NV bytes trimmed */
	size_t		 ek_cert_len;
	const uint8_t	*ek_pub;	/* TPMT_PUBLIC */
	size_t		 ek_pub_len;
	const uint8_t	*ak_pub;	/* TPMT_PUBLIC */
	size_t		 ak_pub_len;
	const uint8_t	*certify_info;	/* TPMS_ATTEST of the DevID key */
	size_t		 certify_info_len;
	const uint8_t	*certify_sig;	/* TPMT_SIGNATURE by the AK */
	size_t		 certify_sig_len;
};

/*
 * Starts an attestation: reads the EK certificate, recreates the EK,
 * creates and certifies an AK. devid is a TPM key (key_tpm_load_parts)
 * in t; both are borrowed for the session's life. NULL with *err set.
 */
struct tpm_devid *tpm_devid_open(struct tpm *t, struct key *devid,
		    enum tpm_err *err);
const struct tpm_devid_evidence *tpm_devid_evidence(const struct tpm_devid *);
/*
 * Credential activation: cred and secret are the TPM2B_ID_OBJECT and
 * TPM2B_ENCRYPTED_SECRET contents (no size prefix, as SPIRE's server
 * sends them). The recovered secret goes to out (room *outlen, at least
 * 64), *outlen set to its length.
 */
enum tpm_err	 tpm_devid_activate(struct tpm_devid *, const uint8_t *cred,
		    size_t credlen, const uint8_t *secret, size_t secretlen,
		    uint8_t *out, size_t *outlen)
		    __attribute__((warn_unused_result));
/* Flushes what the session holds and frees it. Accepts NULL. */
void		 tpm_devid_close(struct tpm_devid *);

#endif
