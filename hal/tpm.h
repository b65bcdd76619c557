/*
 * The TPM 2.0, through TPM2-TSS's ESAPI. This header carries no TSS type:
 * nothing above hal/ includes a TSS header. One struct tpm is one
 * connection (a TCTI chosen by configuration) plus the hierarchy
 * passwords; its commands are serialised by a mutex, so it may be used
 * from the worker thread and a blocking tool alike.
 *
 * TIMING. Every call here talks to the chip and blocks the caller for
 * milliseconds (swtpm) to hundreds of milliseconds (a real part on SPI:
 * 17-190 ms per ECDSA signature, seconds for an RSA key). Code on the
 * event loop must not call them: it uses key_sign_async() or submits a
 * job to the worker thread (core/worker.h). doc/tpm.md counts the
 * commands of each operation.
 */
#ifndef HAL_TPM_H
#define HAL_TPM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Why a TPM operation failed. TSS2_RC codes are converted to these at
 * the boundary (hal/tpm.c), and the TSS's own text is logged once there.
 */
enum tpm_err {
	TPM_OK = 0,
	TPM_ERR_NOMEM,
	TPM_ERR_CONFIG,		/* a TCTI string or option we cannot use */
	TPM_ERR_NO_DEVICE,	/* no TPM answers at the configured TCTI */
	TPM_ERR_IO,		/* the connection to the TPM broke */
	TPM_ERR_BUSY,		/* the TPM asked us to retry later */
	TPM_ERR_LOCKOUT,	/* dictionary-attack lockout is in force */
	TPM_ERR_AUTH,		/* a wrong hierarchy or key password */
	TPM_ERR_BLOB,		/* a key blob this TPM does not load */
	TPM_ERR_NOT_FOUND,	/* no such NV index or persistent handle */
	TPM_ERR_SLOTS,		/* the TPM has no room for another object */
	TPM_ERR_FORMAT,		/* bytes that are not the structure expected */
	TPM_ERR_FILE,		/* reading or writing a blob file failed */
	TPM_ERR_UNSUPPORTED,	/* a key type or parameter we do not handle */
	TPM_ERR_FAILED,		/* any other TPM or TSS failure (logged) */
};

struct tpm;

struct tpm_opts {
	/*
	 * A TCTI configuration string as Tss2_TctiLdr_Initialize takes it:
	 * "device:/dev/tpmrm0" (the default when NULL), "swtpm:path=/s",
	 * "swtpm:host=127.0.0.1,port=2321", "mssim:host=...,port=...".
	 */
	const char	*tcti;
	const char	*owner_password;	/* NULL or "": none */
	const char	*endorsement_password;	/* NULL or "": none */
};

/*
 * Opens the TPM. Strings in opts are copied. NULL with *err set, and
 * the cause (TCTI name, TSS text) logged.
 */
struct tpm	*tpm_open(const struct tpm_opts *, enum tpm_err *err);
/* Flushes what we keep loaded and closes the TCTI. Accepts NULL. */
void		 tpm_close(struct tpm *);
const char	*tpm_strerror(enum tpm_err);

/*
 * The TCTI string for SPIRE's tpm_device_path: a Unix socket (swtpm's
 * server socket) becomes "swtpm:path=...", anything else "device:...".
 * Writes at most outlen bytes with the NUL; 0, or -1 when it does not
 * fit or the path cannot be examined.
 */
int		 tpm_tcti_for_path(const char *path, char *out, size_t outlen)
		    __attribute__((warn_unused_result));

#endif
