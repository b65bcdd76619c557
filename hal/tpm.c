/*
 * The TPM connection: TCTI by configuration, hierarchy passwords, the
 * storage root key, and the conversion of TSS2_RC to enum tpm_err.
 */
#include "config.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hal/tss.h"

#include "core/log.h"
#include "core/mem.h"
#include "hal/tpm_int.h"

#define TPM_TCTI_DEFAULT	"device:/dev/tpmrm0"

static void	tpm_template_srk(TPM2B_PUBLIC *);
static enum tpm_err tpm_rc_tpm(TSS2_RC);
static enum tpm_err tpm_rc_tss(TSS2_RC);

const char *
tpm_strerror(enum tpm_err e)
{
	switch (e) {
	case TPM_OK:
		return "success";
	case TPM_ERR_NOMEM:
		return "out of memory";
	case TPM_ERR_CONFIG:
		return "unusable TPM configuration";
	case TPM_ERR_NO_DEVICE:
		return "no TPM at the configured TCTI";
	case TPM_ERR_IO:
		return "connection to the TPM lost";
	case TPM_ERR_BUSY:
		return "TPM busy, try again later";
	case TPM_ERR_LOCKOUT:
		return "TPM in dictionary-attack lockout";
	case TPM_ERR_AUTH:
		return "wrong TPM password";
	case TPM_ERR_BLOB:
		return "key blob does not load in this TPM";
	case TPM_ERR_NOT_FOUND:
		return "no such TPM index or handle";
	case TPM_ERR_SLOTS:
		return "TPM out of object or session slots";
	case TPM_ERR_FORMAT:
		return "malformed TPM structure";
	case TPM_ERR_FILE:
		return "TPM blob file unreadable or unwritable";
	case TPM_ERR_UNSUPPORTED:
		return "unsupported TPM key or parameter";
	case TPM_ERR_FAILED:
		return "TPM command failed";
	}
	return "unknown TPM error";
}

/* A response code from the TPM itself (or the kernel's resource manager). */
static enum tpm_err
tpm_rc_tpm(TSS2_RC rc)
{
	TSS2_RC	 base;

	rc &= 0xffff;
	/* Format-one codes carry a handle, session or parameter number. */
	base = (rc & TPM2_RC_FMT1) ? (rc & (TPM2_RC_FMT1 | 0x3f)) : rc;
	switch (base) {
	case TPM2_RC_RETRY:
	case TPM2_RC_YIELDED:
	case TPM2_RC_TESTING:
	case TPM2_RC_CANCELED:
	case TPM2_RC_NV_RATE:
	case TPM2_RC_NV_UNAVAILABLE:
		return TPM_ERR_BUSY;
	case TPM2_RC_LOCKOUT:
		return TPM_ERR_LOCKOUT;
	case TPM2_RC_AUTH_FAIL:
	case TPM2_RC_BAD_AUTH:
		return TPM_ERR_AUTH;
	case TPM2_RC_OBJECT_MEMORY:
	case TPM2_RC_SESSION_MEMORY:
	case TPM2_RC_MEMORY:
	case TPM2_RC_OBJECT_HANDLES:
	case TPM2_RC_SESSION_HANDLES:
		return TPM_ERR_SLOTS;
	case TPM2_RC_HANDLE:
		return TPM_ERR_NOT_FOUND;
	case TPM2_RC_INTEGRITY:
	case TPM2_RC_BINDING:
	case TPM2_RC_KEY:
	case TPM2_RC_SIZE:
	case TPM2_RC_KEY_SIZE:
	case TPM2_RC_ATTRIBUTES:
		return TPM_ERR_BLOB;
	default:
		return TPM_ERR_FAILED;
	}
}

/* A code from a TSS layer (TCTI, ESAPI, marshalling). */
static enum tpm_err
tpm_rc_tss(TSS2_RC rc)
{
	switch (rc & ~TSS2_RC_LAYER_MASK) {
	case TSS2_BASE_RC_MEMORY:
		return TPM_ERR_NOMEM;
	case TSS2_BASE_RC_NO_CONNECTION:
	case TSS2_BASE_RC_NO_TPM:
		return TPM_ERR_NO_DEVICE;
	case TSS2_BASE_RC_IO_ERROR:
	case TSS2_BASE_RC_MALFORMED_RESPONSE:
	case TSS2_BASE_RC_INSUFFICIENT_RESPONSE:
		return TPM_ERR_IO;
	case TSS2_BASE_RC_TRY_AGAIN:
		return TPM_ERR_BUSY;
	case TSS2_BASE_RC_BAD_SIZE:
	case TSS2_BASE_RC_INSUFFICIENT_BUFFER:
	case TSS2_BASE_RC_BAD_VALUE:
		return TPM_ERR_FORMAT;
	case TSS2_BASE_RC_RSP_AUTH_FAILED:
		return TPM_ERR_AUTH;
	default:
		return TPM_ERR_FAILED;
	}
}

enum tpm_err
tpm_rc(TSS2_RC rc, const char *what)
{
	TSS2_RC		 layer = rc & TSS2_RC_LAYER_MASK;
	enum tpm_err	 e;

	if (rc == TSS2_RC_SUCCESS)
		return TPM_OK;
	if (layer == TSS2_TPM_RC_LAYER || layer == TSS2_RESMGR_TPM_RC_LAYER)
		e = tpm_rc_tpm(rc);
	else
		e = tpm_rc_tss(rc);
	log_kv(LOG_LEVEL_WARN, "tpm", "TPM command failed", "command", what,
	    "cause", tpm_strerror(e), "tss", Tss2_RC_Decode(rc), NULL);
	return e;
}

int
tpm_auth_set(TPM2B_AUTH *a, const char *s)
{
	size_t	 n = s == NULL ? 0 : strlen(s);

	memset(a, 0, sizeof(*a));
	if (n > sizeof(a->buffer))
		return -1;
	if (n > 0)
		memcpy(a->buffer, s, n);
	a->size = (UINT16)n;
	return 0;
}

int
tpm_tcti_for_path(const char *path, char *out, size_t outlen)
{
	struct stat	 st;
	int		 n;

	if (stat(path, &st) == -1)
		return -1;
	if (S_ISSOCK(st.st_mode))
		n = snprintf(out, outlen, "swtpm:path=%s", path);
	else
		n = snprintf(out, outlen, "device:%s", path);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

struct tpm *
tpm_open(const struct tpm_opts *o, enum tpm_err *err)
{
	struct tpm	*t;
	const char	*conf = o->tcti != NULL && o->tcti[0] != '\0' ?
			    o->tcti : TPM_TCTI_DEFAULT;
	TSS2_RC		 rc;

	*err = TPM_ERR_NOMEM;
	/* The TSS would print its own warnings; ours say it once. */
	setenv("TSS2_LOG", "all+none", 0);
	t = mem_calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	if (pthread_mutex_init(&t->lock, NULL) != 0) {
		mem_free(t);
		return NULL;
	}
	if (tpm_auth_set(&t->owner_auth, o->owner_password) == -1 ||
	    tpm_auth_set(&t->endorse_auth, o->endorsement_password) == -1) {
		log_warnx("tpm", "hierarchy password longer than %zu bytes",
		    sizeof(t->owner_auth.buffer));
		*err = TPM_ERR_CONFIG;
		goto fail;
	}
	*err = tss_load();
	if (*err != TPM_OK)
		goto fail;
	rc = Tss2_TctiLdr_Initialize(conf, &t->tcti);
	if (rc != TSS2_RC_SUCCESS) {
		log_kv(LOG_LEVEL_WARN, "tpm", "cannot open the TPM", "tcti",
		    conf, "tss", Tss2_RC_Decode(rc), NULL);
		t->tcti = NULL;
		*err = (rc & ~TSS2_RC_LAYER_MASK) == TSS2_BASE_RC_BAD_VALUE ?
		    TPM_ERR_CONFIG : TPM_ERR_NO_DEVICE;
		goto fail;
	}
	rc = Esys_Initialize(&t->esys, t->tcti, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		*err = tpm_rc(rc, "Esys_Initialize");
		t->esys = NULL;
		goto fail;
	}
	/*
	 * A simulator fresh from power-on wants TPM2_Startup; a TPM the
	 * firmware started answers TPM_RC_INITIALIZE, which is fine.
	 */
	rc = Esys_Startup(t->esys, TPM2_SU_CLEAR);
	if (rc != TSS2_RC_SUCCESS && (rc & 0xfff) != TPM2_RC_INITIALIZE) {
		*err = tpm_rc(rc, "TPM2_Startup");
		goto fail;
	}
	log_kv(LOG_LEVEL_DEBUG, "tpm", "TPM opened", "tcti", conf, NULL);
	*err = TPM_OK;
	return t;
fail:
	tpm_close(t);
	return NULL;
}

void
tpm_close(struct tpm *t)
{
	if (t == NULL)
		return;
	if (t->esys != NULL)
		Esys_Finalize(&t->esys);
	if (t->tcti != NULL)
		Tss2_TctiLdr_Finalize(&t->tcti);
	pthread_mutex_destroy(&t->lock);
	mem_free_wipe(t, sizeof(*t));
}

void
tpm_flush(struct tpm *t, ESYS_TR h)
{
	TSS2_RC	 rc;

	if (h == ESYS_TR_NONE)
		return;
	rc = Esys_FlushContext(t->esys, h);
	if (rc != TSS2_RC_SUCCESS)
		(void)tpm_rc(rc, "TPM2_FlushContext");
}

/*
 * TCG's SRK template H-2 (ECC P-256, AES-128-CFB, restricted decrypt)
 * with an empty unique field: SPIRE's SRKTemplateHighECC, so keys made
 * by either load in the other.
 */
static void
tpm_template_srk(TPM2B_PUBLIC *p)
{
	TPMT_PUBLIC	*a = &p->publicArea;

	memset(p, 0, sizeof(*p));
	a->type = TPM2_ALG_ECC;
	a->nameAlg = TPM2_ALG_SHA256;
	a->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
	    TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
	a->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
	a->parameters.eccDetail.symmetric.keyBits.aes = 128;
	a->parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
	a->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
	a->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
	a->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
}

void
tpm_template_ecdsa(TPM2B_PUBLIC *p, int p384)
{
	TPMT_PUBLIC	*a = &p->publicArea;

	memset(p, 0, sizeof(*p));
	a->type = TPM2_ALG_ECC;
	a->nameAlg = TPM2_ALG_SHA256;
	a->objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT |
	    TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH;
	a->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
	a->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
	a->parameters.eccDetail.scheme.details.ecdsa.hashAlg = p384 ?
	    TPM2_ALG_SHA384 : TPM2_ALG_SHA256;
	a->parameters.eccDetail.curveID = p384 ? TPM2_ECC_NIST_P384 :
	    TPM2_ECC_NIST_P256;
	a->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
}

enum tpm_err
tpm_srk_load(struct tpm *t, ESYS_TR *out)
{
	TPM2B_SENSITIVE_CREATE	 sens;
	TPM2B_PUBLIC		 tmpl;
	TPM2B_DATA		 outside;
	TPML_PCR_SELECTION	 pcrs;
	TPMS_CONTEXT		*saved = NULL;
	ESYS_TR			 h = ESYS_TR_NONE;
	TSS2_RC			 rc;
	enum tpm_err		 e;

	*out = ESYS_TR_NONE;
	if (t->srk_saved) {
		rc = Esys_ContextLoad(t->esys, &t->srk_ctx, &h);
		if (rc == TSS2_RC_SUCCESS) {
			*out = h;
			return TPM_OK;
		}
		/* A TPM reset voids saved contexts: derive the SRK again. */
		log_kv(LOG_LEVEL_DEBUG, "tpm", "saved SRK context refused",
		    "tss", Tss2_RC_Decode(rc), NULL);
		t->srk_saved = 0;
	}
	memset(&sens, 0, sizeof(sens));
	memset(&outside, 0, sizeof(outside));
	memset(&pcrs, 0, sizeof(pcrs));
	tpm_template_srk(&tmpl);
	rc = Esys_TR_SetAuth(t->esys, ESYS_TR_RH_OWNER, &t->owner_auth);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_rc(rc, "Esys_TR_SetAuth");
	rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD,
	    ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl, &outside, &pcrs, &h,
	    NULL, NULL, NULL, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		e = tpm_rc(rc, "TPM2_CreatePrimary (storage root key)");
		/* A bad owner password is ours, not a blob's. */
		return e == TPM_ERR_BLOB ? TPM_ERR_FAILED : e;
	}
	rc = Esys_ContextSave(t->esys, h, &saved);
	if (rc == TSS2_RC_SUCCESS) {
		t->srk_ctx = *saved;
		t->srk_saved = 1;
		Esys_Free(saved);
	}
	*out = h;
	return TPM_OK;
}
