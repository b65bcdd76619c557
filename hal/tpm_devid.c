/*
 * tpm_devid's TPM work (see hal/tpm_devid.h). Objects are kept as saved
 * contexts between commands and loaded only while a command needs them:
 * Certify holds the AK and the DevID key, ActivateCredential the AK, the
 * EK and one policy session, so a TPM with three object slots and no
 * resource manager is enough.
 */
#include "config.h"

#include <string.h>

#include "hal/tss.h"

#include "core/log.h"
#include "core/mem.h"
#include "hal/key.h"
#include "hal/key_tpm_int.h"
#include "hal/rand.h"
#include "hal/tpm_devid.h"
#include "hal/tpm_int.h"

#define DEVID_NV_CHUNK		512	/* bytes per TPM2_NV_Read; every TPM
					 * takes at least this much */
#define DEVID_EK_CERT_MAX	4096	/* bytes of an EK certificate */

struct tpm_devid {
	struct tpm			*tpm;
	struct key			*devid;
	TPMS_CONTEXT			 ek_ctx;
	TPMS_CONTEXT			 ak_ctx;
	TPM2B_AUTH			 ak_auth;
	uint8_t				 ek_cert[DEVID_EK_CERT_MAX];
	uint8_t				 ek_pub[sizeof(TPMT_PUBLIC)];
	uint8_t				 ak_pub[sizeof(TPMT_PUBLIC)];
	uint8_t				 attest[sizeof(TPMS_ATTEST)];
	uint8_t				 sig[sizeof(TPMT_SIGNATURE)];
	struct tpm_devid_evidence	 ev;
};

/* TCG EK Credential Profile: PolicySecret(TPM_RH_ENDORSEMENT). */
static const uint8_t ek_policy[32] = {
	0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8,
	0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
	0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64,
	0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
};

static void		devid_template_ek(TPM2B_PUBLIC *);
static void		devid_template_ak(TPM2B_PUBLIC *);
static enum tpm_err	devid_read_ek_cert(struct tpm_devid *);
static enum tpm_err	devid_make_ek(struct tpm_devid *);
static enum tpm_err	devid_make_ak(struct tpm_devid *);
static enum tpm_err	devid_certify(struct tpm_devid *);
static enum tpm_err	devid_save(struct tpm *, ESYS_TR, TPMS_CONTEXT *);
static size_t		devid_der_len(const uint8_t *, size_t);

/*
 * The default RSA EK template (TCG EK Credential Profile, L-1).
 * XXX: the RSA EK only, as SPIRE; a TPM with only an ECC EK cannot attest.
 */
static void
devid_template_ek(TPM2B_PUBLIC *p)
{
	TPMT_PUBLIC	*a = &p->publicArea;

	memset(p, 0, sizeof(*p));
	a->type = TPM2_ALG_RSA;
	a->nameAlg = TPM2_ALG_SHA256;
	a->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
	    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
	a->authPolicy.size = sizeof(ek_policy);
	memcpy(a->authPolicy.buffer, ek_policy, sizeof(ek_policy));
	a->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
	a->parameters.rsaDetail.symmetric.keyBits.aes = 128;
	a->parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
	a->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
	a->parameters.rsaDetail.keyBits = 2048;
	a->parameters.rsaDetail.exponent = 0;
	a->unique.rsa.size = 256;	/* all zeros, as the profile says */
}

/* go-tpm-tools' AKTemplateRSA, the AK SPIRE's agent makes. */
static void
devid_template_ak(TPM2B_PUBLIC *p)
{
	TPMT_PUBLIC	*a = &p->publicArea;

	memset(p, 0, sizeof(*p));
	a->type = TPM2_ALG_RSA;
	a->nameAlg = TPM2_ALG_SHA256;
	a->objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT |
	    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_FIXEDTPM |
	    TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
	    TPMA_OBJECT_USERWITHAUTH;
	a->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
	a->parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
	a->parameters.rsaDetail.scheme.details.rsassa.hashAlg =
	    TPM2_ALG_SHA256;
	a->parameters.rsaDetail.keyBits = 2048;
	a->parameters.rsaDetail.exponent = 0;
}

/* Saves an object's context and flushes it. */
static enum tpm_err
devid_save(struct tpm *t, ESYS_TR h, TPMS_CONTEXT *out)
{
	TPMS_CONTEXT	*c = NULL;
	TSS2_RC		 rc;

	rc = Esys_ContextSave(t->esys, h, &c);
	tpm_flush(t, h);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_rc(rc, "TPM2_ContextSave");
	*out = *c;
	Esys_Free(c);
	return TPM_OK;
}

/*
 * The length of the DER element at the start of p, 0 when it is not
 * one: NV indexes are often larger than the certificate they hold.
 */
static size_t
devid_der_len(const uint8_t *p, size_t n)
{
	size_t	 len, hdr, i, k;

	if (n < 2 || p[0] != 0x30)
		return 0;
	if (p[1] < 0x80) {
		len = p[1];
		hdr = 2;
	} else {
		k = p[1] & 0x7f;
		if (k == 0 || k > 3 || n < 2 + k)
			return 0;
		for (len = 0, i = 0; i < k; i++)
			len = (len << 8) | p[2 + i];
		hdr = 2 + k;
	}
	return hdr + len <= n ? hdr + len : 0;
}

static enum tpm_err
devid_read_ek_cert(struct tpm_devid *s)
{
	struct tpm		*t = s->tpm;
	TPM2B_NV_PUBLIC		*pub = NULL;
	TPM2B_MAX_NV_BUFFER	*data = NULL;
	ESYS_TR			 nv = ESYS_TR_NONE;
	TSS2_RC			 rc;
	enum tpm_err		 e;
	size_t			 size, off = 0, n;
	UINT16			 chunk;

	rc = Esys_TR_FromTPMPublic(t->esys, TPM_DEVID_EK_CERT_NV,
	    ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv);
	if (rc != TSS2_RC_SUCCESS) {
		e = tpm_rc(rc, "TPM2_NV_ReadPublic (EK certificate index)");
		return e == TPM_ERR_FAILED ? TPM_ERR_NOT_FOUND : e;
	}
	rc = Esys_NV_ReadPublic(t->esys, nv, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, &pub, NULL);
	if ((e = tpm_rc(rc, "TPM2_NV_ReadPublic")) != TPM_OK)
		goto out;
	size = pub->nvPublic.dataSize;
	if (size == 0 || size > sizeof(s->ek_cert)) {
		log_warnx("tpm", "EK certificate index holds %zu bytes", size);
		e = TPM_ERR_FORMAT;
		goto out;
	}
	while (off < size) {
		chunk = (UINT16)(size - off > DEVID_NV_CHUNK ? DEVID_NV_CHUNK :
		    size - off);
		rc = Esys_NV_Read(t->esys, nv, nv, ESYS_TR_PASSWORD,
		    ESYS_TR_NONE, ESYS_TR_NONE, chunk, (UINT16)off, &data);
		if ((e = tpm_rc(rc, "TPM2_NV_Read (EK certificate)")) !=
		    TPM_OK)
			goto out;
		if (data->size != chunk) {
			e = TPM_ERR_FORMAT;
			goto out;
		}
		memcpy(s->ek_cert + off, data->buffer, chunk);
		off += chunk;
		Esys_Free(data);
		data = NULL;
	}
	n = devid_der_len(s->ek_cert, size);
	if (n == 0) {
		log_warnx("tpm", "NV 0x%08x does not hold a DER certificate",
		    TPM_DEVID_EK_CERT_NV);
		e = TPM_ERR_FORMAT;
		goto out;
	}
	s->ev.ek_cert = s->ek_cert;
	s->ev.ek_cert_len = n;
	e = TPM_OK;
out:
	Esys_Free(data);
	Esys_Free(pub);
	(void)Esys_TR_Close(t->esys, &nv);
	return e;
}

static enum tpm_err
devid_make_ek(struct tpm_devid *s)
{
	struct tpm		*t = s->tpm;
	TPM2B_SENSITIVE_CREATE	 sens;
	TPM2B_PUBLIC		 tmpl, *pub = NULL;
	TPM2B_DATA		 outside;
	TPML_PCR_SELECTION	 pcrs;
	ESYS_TR			 ek = ESYS_TR_NONE;
	TSS2_RC			 rc;
	enum tpm_err		 e;
	size_t			 off = 0;

	memset(&sens, 0, sizeof(sens));
	memset(&outside, 0, sizeof(outside));
	memset(&pcrs, 0, sizeof(pcrs));
	devid_template_ek(&tmpl);
	rc = Esys_TR_SetAuth(t->esys, ESYS_TR_RH_ENDORSEMENT,
	    &t->endorse_auth);
	if (rc == TSS2_RC_SUCCESS)
		rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_ENDORSEMENT,
		    ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl,
		    &outside, &pcrs, &ek, &pub, NULL, NULL, NULL);
	if ((e = tpm_rc(rc, "TPM2_CreatePrimary (endorsement key)")) !=
	    TPM_OK)
		return e;
	rc = Tss2_MU_TPMT_PUBLIC_Marshal(&pub->publicArea, s->ek_pub,
	    sizeof(s->ek_pub), &off);
	Esys_Free(pub);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_flush(t, ek);
		return tpm_rc(rc, "marshal EK public area");
	}
	s->ev.ek_pub = s->ek_pub;
	s->ev.ek_pub_len = off;
	return devid_save(t, ek, &s->ek_ctx);
}

static enum tpm_err
devid_make_ak(struct tpm_devid *s)
{
	struct tpm		*t = s->tpm;
	TPM2B_SENSITIVE_CREATE	 sens;
	TPM2B_PUBLIC		 tmpl, *pub = NULL;
	TPM2B_PRIVATE		*priv = NULL;
	TPM2B_DATA		 outside;
	TPML_PCR_SELECTION	 pcrs;
	ESYS_TR			 srk, ak = ESYS_TR_NONE;
	TSS2_RC			 rc;
	enum tpm_err		 e;
	size_t			 off = 0;

	/* The AK lives for one attestation; a random password guards it. */
	s->ak_auth.size = 32;
	if (rand_bytes(s->ak_auth.buffer, s->ak_auth.size) == -1)
		return TPM_ERR_FAILED;
	memset(&sens, 0, sizeof(sens));
	sens.sensitive.userAuth = s->ak_auth;
	memset(&outside, 0, sizeof(outside));
	memset(&pcrs, 0, sizeof(pcrs));
	devid_template_ak(&tmpl);
	/*
	 * Under the ECC SRK the DevID key already needs: the AK's parent is
	 * not part of what the server checks, and an RSA SRK would cost an
	 * RSA key derivation on every attestation.
	 */
	if ((e = tpm_srk_load(t, &srk)) != TPM_OK)
		return e;
	rc = Esys_Create(t->esys, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	    ESYS_TR_NONE, &sens, &tmpl, &outside, &pcrs, &priv, &pub, NULL,
	    NULL, NULL);
	mem_wipe(&sens, sizeof(sens));
	if ((e = tpm_rc(rc, "TPM2_Create (attestation key)")) != TPM_OK)
		goto out;
	rc = Esys_Load(t->esys, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	    ESYS_TR_NONE, priv, pub, &ak);
	if ((e = tpm_rc(rc, "TPM2_Load (attestation key)")) != TPM_OK)
		goto out;
	rc = Tss2_MU_TPMT_PUBLIC_Marshal(&pub->publicArea, s->ak_pub,
	    sizeof(s->ak_pub), &off);
	if ((e = tpm_rc(rc, "marshal AK public area")) != TPM_OK) {
		tpm_flush(t, ak);
		goto out;
	}
	s->ev.ak_pub = s->ak_pub;
	s->ev.ak_pub_len = off;
	e = devid_save(t, ak, &s->ak_ctx);
out:
	tpm_flush(t, srk);
	Esys_Free(pub);
	Esys_Free(priv);
	return e;
}

static enum tpm_err
devid_certify(struct tpm_devid *s)
{
	struct tpm		*t = s->tpm;
	TPM2B_DATA		 qual;
	TPMT_SIG_SCHEME		 scheme;
	TPM2B_ATTEST		*info = NULL;
	TPMT_SIGNATURE		*sig = NULL;
	ESYS_TR			 ak = ESYS_TR_NONE, dev = ESYS_TR_NONE;
	TSS2_RC			 rc;
	enum tpm_err		 e;
	size_t			 off = 0;

	memset(&qual, 0, sizeof(qual));
	memset(&scheme, 0, sizeof(scheme));
	scheme.scheme = TPM2_ALG_RSASSA;
	scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
	rc = Esys_ContextLoad(t->esys, &s->ak_ctx, &ak);
	if ((e = tpm_rc(rc, "TPM2_ContextLoad (attestation key)")) != TPM_OK)
		return e;
	rc = Esys_TR_SetAuth(t->esys, ak, &s->ak_auth);
	if ((e = tpm_rc(rc, "Esys_TR_SetAuth")) != TPM_OK)
		goto out;
	if ((e = key_tpm_load_handle(s->devid, &dev)) != TPM_OK)
		goto out;
	rc = Esys_Certify(t->esys, dev, ak, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD,
	    ESYS_TR_NONE, &qual, &scheme, &info, &sig);
	if ((e = tpm_rc(rc, "TPM2_Certify (DevID key by the AK)")) != TPM_OK)
		goto out;
	if (info->size > sizeof(s->attest)) {
		e = TPM_ERR_FORMAT;
		goto out;
	}
	memcpy(s->attest, info->attestationData, info->size);
	s->ev.certify_info = s->attest;
	s->ev.certify_info_len = info->size;
	rc = Tss2_MU_TPMT_SIGNATURE_Marshal(sig, s->sig, sizeof(s->sig), &off);
	if ((e = tpm_rc(rc, "marshal certification signature")) != TPM_OK)
		goto out;
	s->ev.certify_sig = s->sig;
	s->ev.certify_sig_len = off;
out:
	Esys_Free(info);
	Esys_Free(sig);
	key_tpm_unload_handle(s->devid, dev);
	tpm_flush(t, ak);
	return e;
}

struct tpm_devid *
tpm_devid_open(struct tpm *t, struct key *devid, enum tpm_err *err)
{
	struct tpm_devid	*s;

	if (key_tpm_device(devid) != t) {
		log_warnx("tpm", "the DevID key is not a key of this TPM");
		*err = TPM_ERR_UNSUPPORTED;
		return NULL;
	}
	s = mem_calloc(1, sizeof(*s));
	if (s == NULL) {
		*err = TPM_ERR_NOMEM;
		return NULL;
	}
	s->tpm = t;
	s->devid = devid;
	pthread_mutex_lock(&t->lock);
	*err = devid_read_ek_cert(s);
	if (*err == TPM_OK)
		*err = devid_make_ek(s);
	if (*err == TPM_OK)
		*err = devid_make_ak(s);
	if (*err == TPM_OK)
		*err = devid_certify(s);
	pthread_mutex_unlock(&t->lock);
	if (*err != TPM_OK) {
		tpm_devid_close(s);
		return NULL;
	}
	return s;
}

const struct tpm_devid_evidence *
tpm_devid_evidence(const struct tpm_devid *s)
{
	return &s->ev;
}

enum tpm_err
tpm_devid_activate(struct tpm_devid *s, const uint8_t *cred, size_t credlen,
    const uint8_t *secret, size_t secretlen, uint8_t *out, size_t *outlen)
{
	struct tpm		*t = s->tpm;
	TPM2B_ID_OBJECT		 id;
	TPM2B_ENCRYPTED_SECRET	 sec;
	TPMT_SYM_DEF		 sym;
	TPM2B_DIGEST		*info = NULL;
	ESYS_TR			 ak = ESYS_TR_NONE, ek = ESYS_TR_NONE;
	ESYS_TR			 sess = ESYS_TR_NONE;
	TSS2_RC			 rc;
	enum tpm_err		 e;

	if (credlen == 0 || credlen > sizeof(id.credential) ||
	    secretlen == 0 || secretlen > sizeof(sec.secret))
		return TPM_ERR_FORMAT;
	memset(&id, 0, sizeof(id));
	memcpy(id.credential, cred, credlen);
	id.size = (UINT16)credlen;
	memset(&sec, 0, sizeof(sec));
	memcpy(sec.secret, secret, secretlen);
	sec.size = (UINT16)secretlen;
	memset(&sym, 0, sizeof(sym));
	sym.algorithm = TPM2_ALG_NULL;
	pthread_mutex_lock(&t->lock);
	rc = Esys_ContextLoad(t->esys, &s->ak_ctx, &ak);
	if ((e = tpm_rc(rc, "TPM2_ContextLoad (attestation key)")) != TPM_OK)
		goto out;
	rc = Esys_TR_SetAuth(t->esys, ak, &s->ak_auth);
	if ((e = tpm_rc(rc, "Esys_TR_SetAuth")) != TPM_OK)
		goto out;
	rc = Esys_ContextLoad(t->esys, &s->ek_ctx, &ek);
	if ((e = tpm_rc(rc, "TPM2_ContextLoad (endorsement key)")) != TPM_OK)
		goto out;
	/*
	 * The EK admits only policy: PolicySecret on the endorsement
	 * hierarchy, in an unbound, unsalted session (the bus is trusted).
	 */
	rc = Esys_StartAuthSession(t->esys, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_POLICY,
	    &sym, TPM2_ALG_SHA256, &sess);
	if ((e = tpm_rc(rc, "TPM2_StartAuthSession")) != TPM_OK)
		goto out;
	/* Kept open after the command, so flushing it below is right. */
	rc = Esys_TRSess_SetAttributes(t->esys, sess,
	    TPMA_SESSION_CONTINUESESSION, 0xff);
	if ((e = tpm_rc(rc, "Esys_TRSess_SetAttributes")) != TPM_OK)
		goto out;
	rc = Esys_TR_SetAuth(t->esys, ESYS_TR_RH_ENDORSEMENT,
	    &t->endorse_auth);
	if (rc == TSS2_RC_SUCCESS)
		rc = Esys_PolicySecret(t->esys, ESYS_TR_RH_ENDORSEMENT, sess,
		    ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, NULL, NULL,
		    NULL, 0, NULL, NULL);
	if ((e = tpm_rc(rc, "TPM2_PolicySecret (endorsement)")) != TPM_OK)
		goto out;
	rc = Esys_ActivateCredential(t->esys, ak, ek, ESYS_TR_PASSWORD, sess,
	    ESYS_TR_NONE, &id, &sec, &info);
	if ((e = tpm_rc(rc, "TPM2_ActivateCredential")) != TPM_OK)
		goto out;
	if (info->size > *outlen) {
		e = TPM_ERR_FORMAT;
		goto out;
	}
	memcpy(out, info->buffer, info->size);
	*outlen = info->size;
out:
	if (info != NULL)
		mem_wipe(info, sizeof(*info));
	Esys_Free(info);
	tpm_flush(t, sess);
	tpm_flush(t, ek);
	tpm_flush(t, ak);
	pthread_mutex_unlock(&t->lock);
	return e;
}

void
tpm_devid_close(struct tpm_devid *s)
{
	if (s == NULL)
		return;
	/* Saved contexts hold no TPM slot; dropping them is enough. */
	mem_free_wipe(s, sizeof(*s));
}
