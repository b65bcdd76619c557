/*
 * TPM2-TSS, loaded only when a TPM is used. spirelet links no TSS
 * library: most boards run without a TPM key, and libtss2-esys drags in
 * libcrypto, which alone adds about 1.4 MiB of mapped pages to every
 * process. tss_load() dlopens the four libraries on the first
 * tpm_open(); until then, and when they are missing, nothing of the TSS
 * is mapped.
 *
 * Include this instead of the tss2 headers: after it, a call such as
 * Esys_Sign(...) goes through the pointer tss_load() resolved, so the
 * code reads as if the library were linked. Only hal/ includes it.
 */
#ifndef HAL_TSS_H
#define HAL_TSS_H

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "hal/tpm.h"

/* Every TSS function hal/ calls; add one here and to tss.c's table. */
#define TSS_FUNCTIONS(X)						\
	X(Esys_ActivateCredential)					\
	X(Esys_Certify)							\
	X(Esys_ContextLoad)						\
	X(Esys_ContextSave)						\
	X(Esys_Create)							\
	X(Esys_CreatePrimary)						\
	X(Esys_EvictControl)						\
	X(Esys_Finalize)						\
	X(Esys_FlushContext)						\
	X(Esys_Free)							\
	X(Esys_Initialize)						\
	X(Esys_Load)							\
	X(Esys_NV_Read)							\
	X(Esys_NV_ReadPublic)						\
	X(Esys_PolicySecret)						\
	X(Esys_ReadPublic)						\
	X(Esys_Sign)							\
	X(Esys_StartAuthSession)					\
	X(Esys_Startup)							\
	X(Esys_TRSess_SetAttributes)					\
	X(Esys_TR_Close)						\
	X(Esys_TR_FromTPMPublic)					\
	X(Esys_TR_SetAuth)						\
	X(Tss2_MU_TPM2B_PRIVATE_Marshal)				\
	X(Tss2_MU_TPM2B_PRIVATE_Unmarshal)				\
	X(Tss2_MU_TPM2B_PUBLIC_Marshal)					\
	X(Tss2_MU_TPM2B_PUBLIC_Unmarshal)				\
	X(Tss2_MU_TPMT_PUBLIC_Marshal)					\
	X(Tss2_MU_TPMT_PUBLIC_Unmarshal)				\
	X(Tss2_MU_TPMT_SIGNATURE_Marshal)				\
	X(Tss2_RC_Decode)						\
	X(Tss2_TctiLdr_Finalize)					\
	X(Tss2_TctiLdr_Initialize)

/* One pointer per function, typed from the TSS's own prototypes. */
#define TSS_MEMBER(f)	__typeof__(&f) f;
struct tss_fns {
	TSS_FUNCTIONS(TSS_MEMBER)
};
#undef TSS_MEMBER

extern struct tss_fns tss;

/*
 * Loads the TSS once (thread-safe). TPM_OK, or TPM_ERR_NO_DEVICE with
 * the reason logged (the Debian package to install) when a library or
 * a function is missing; every later call gives the same answer.
 */
enum tpm_err	tss_load(void);

/* Calls go through the pointers from here on (not in tss.c itself). */
#ifndef TSS_NO_REDIRECT
#define Esys_ActivateCredential			(*tss.Esys_ActivateCredential)
#define Esys_Certify				(*tss.Esys_Certify)
#define Esys_ContextLoad			(*tss.Esys_ContextLoad)
#define Esys_ContextSave			(*tss.Esys_ContextSave)
#define Esys_Create				(*tss.Esys_Create)
#define Esys_CreatePrimary			(*tss.Esys_CreatePrimary)
#define Esys_EvictControl			(*tss.Esys_EvictControl)
#define Esys_Finalize				(*tss.Esys_Finalize)
#define Esys_FlushContext			(*tss.Esys_FlushContext)
#define Esys_Free				(*tss.Esys_Free)
#define Esys_Initialize				(*tss.Esys_Initialize)
#define Esys_Load				(*tss.Esys_Load)
#define Esys_NV_Read				(*tss.Esys_NV_Read)
#define Esys_NV_ReadPublic			(*tss.Esys_NV_ReadPublic)
#define Esys_PolicySecret			(*tss.Esys_PolicySecret)
#define Esys_ReadPublic				(*tss.Esys_ReadPublic)
#define Esys_Sign				(*tss.Esys_Sign)
#define Esys_StartAuthSession			(*tss.Esys_StartAuthSession)
#define Esys_Startup				(*tss.Esys_Startup)
#define Esys_TRSess_SetAttributes		(*tss.Esys_TRSess_SetAttributes)
#define Esys_TR_Close				(*tss.Esys_TR_Close)
#define Esys_TR_FromTPMPublic			(*tss.Esys_TR_FromTPMPublic)
#define Esys_TR_SetAuth				(*tss.Esys_TR_SetAuth)
#define Tss2_MU_TPM2B_PRIVATE_Marshal \
	(*tss.Tss2_MU_TPM2B_PRIVATE_Marshal)
#define Tss2_MU_TPM2B_PRIVATE_Unmarshal \
	(*tss.Tss2_MU_TPM2B_PRIVATE_Unmarshal)
#define Tss2_MU_TPM2B_PUBLIC_Marshal \
	(*tss.Tss2_MU_TPM2B_PUBLIC_Marshal)
#define Tss2_MU_TPM2B_PUBLIC_Unmarshal \
	(*tss.Tss2_MU_TPM2B_PUBLIC_Unmarshal)
#define Tss2_MU_TPMT_PUBLIC_Marshal \
	(*tss.Tss2_MU_TPMT_PUBLIC_Marshal)
#define Tss2_MU_TPMT_PUBLIC_Unmarshal \
	(*tss.Tss2_MU_TPMT_PUBLIC_Unmarshal)
#define Tss2_MU_TPMT_SIGNATURE_Marshal \
	(*tss.Tss2_MU_TPMT_SIGNATURE_Marshal)
#define Tss2_RC_Decode				(*tss.Tss2_RC_Decode)
#define Tss2_TctiLdr_Finalize			(*tss.Tss2_TctiLdr_Finalize)
#define Tss2_TctiLdr_Initialize			(*tss.Tss2_TctiLdr_Initialize)
#endif	/* TSS_NO_REDIRECT */

#endif
