/*
 * `spirelet tpm provision`: prepares a board the way a factory would for
 * SPIRE's tpm_devid attestation. It creates a DevID key in the TPM (ECC
 * P-256, SPIRE's DevID template, under the SRK SPIRE derives), writes the
 * TPM's blobs where devid_pub_path and devid_priv_path expect them, a
 * CSR for the key (signed by the TPM), and, for labs, a DevID
 * certificate signed by a given CA key. The private key never leaves
 * the TPM; the blobs only load in this TPM.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "core/duration.h"
#include "core/log.h"
#include "core/mem.h"
#include "hal/key.h"
#include "hal/tpm.h"
#include "pki/cert.h"
#include "pki/pem.h"
#include "pki/x509.h"

#define PROVISION_TTL_DEFAULT	"8760h"	/* a lab DevID: one year */

static int	provision_write_pem(const char *, const char *,
		    const uint8_t *, size_t, const uint8_t *, size_t);
static int	provision_load_ca(const char *, const char *, struct key **,
		    uint8_t **, size_t *);
static int	provision_read(const char *, char **, size_t *);

static int
provision_read(const char *path, char **out, size_t *len)
{
	FILE	*f;
	char	*buf;
	size_t	 n;

	f = fopen(path, "rb");
	if (f == NULL) {
		log_warn("tpm", "%s: open", path);
		return -1;
	}
	buf = mem_alloc(X509_CERT_MAX * 2 + 1);
	if (buf == NULL) {
		fclose(f);
		return -1;
	}
	n = fread(buf, 1, X509_CERT_MAX * 2, f);
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* One or two PEM blocks (a leaf, then its issuer) to path, mode 0600. */
static int
provision_write_pem(const char *path, const char *label, const uint8_t *a,
    size_t alen, const uint8_t *b, size_t blen)
{
	char	*p1 = NULL, *p2 = NULL, *all = NULL;
	size_t	 l1 = 0, l2 = 0;
	int	 rc = -1;

	if (pem_encode(label, a, alen, &p1, &l1) != PEM_OK ||
	    (b != NULL && pem_encode(label, b, blen, &p2, &l2) != PEM_OK))
		goto out;
	all = mem_alloc(l1 + l2 + 1);
	if (all == NULL)
		goto out;
	memcpy(all, p1, l1);
	if (p2 != NULL)
		memcpy(all + l1, p2, l2);
	rc = key_file_write(path, (const uint8_t *)all, l1 + l2);
out:
	mem_free(all);
	mem_free(p1);
	mem_free(p2);
	return rc;
}

/* The lab CA: its certificate (first PEM block) and its EC key. */
static int
provision_load_ca(const char *certpath, const char *keypath,
    struct key **key, uint8_t **cert, size_t *certlen)
{
	struct pem_block	*cb = NULL, *kb = NULL;
	size_t			 nc = 0, nk = 0, tlen = 0;
	char			*text = NULL;
	enum key_err		 ke;
	int			 rc = -1;

	*key = NULL;
	if (provision_read(certpath, &text, &tlen) == -1 ||
	    pem_decode(text, tlen, "CERTIFICATE", &cb, &nc) != PEM_OK) {
		fprintf(stderr, "%s: no PEM certificate\n", certpath);
		goto out;
	}
	mem_free(text);
	text = NULL;
	if (provision_read(keypath, &text, &tlen) == -1 ||
	    pem_decode(text, tlen, NULL, &kb, &nk) != PEM_OK) {
		fprintf(stderr, "%s: no PEM key\n", keypath);
		goto out;
	}
	*key = key_soft_load(kb[0].der, kb[0].len, &ke);
	if (*key == NULL) {
		fprintf(stderr, "%s: %s\n", keypath, key_strerror(ke));
		goto out;
	}
	*cert = mem_alloc(cb[0].len);
	if (*cert == NULL)
		goto out;
	memcpy(*cert, cb[0].der, cb[0].len);
	*certlen = cb[0].len;
	rc = 0;
out:
	if (text != NULL)
		mem_free_wipe(text, tlen);
	pem_blocks_free(cb, nc);
	pem_blocks_free(kb, nk);
	if (rc == -1) {
		key_free(*key);
		*key = NULL;
	}
	return rc;
}

int
cli_tpm_provision(int argc, char *argv[])
{
	struct tpm_opts		 o;
	struct tpm		*t = NULL;
	struct key		*k = NULL, *ca = NULL;
	struct cert_name	 nm;
	struct cert_template	 tmpl;
	struct x509_cert	 cax;
	const char		*tcti = NULL, *owner = NULL, *pw = NULL;
	const char		*pub_out = "devid.pub.blob";
	const char		*priv_out = "devid.priv.blob";
	const char		*csr_out = "devid.csr.pem", *cn = NULL;
	const char		*ca_cert = NULL, *ca_key = NULL;
	const char		*cert_out = "devid.crt.pem";
	const char		*ttl = PROVISION_TTL_DEFAULT;
	uint8_t			*pub = NULL, *priv = NULL, *subj = NULL;
	uint8_t			*csr = NULL, *cacert = NULL, *crt = NULL;
	size_t			 publen, privlen, subjlen, csrlen, calen = 0;
	size_t			 crtlen;
	int64_t			 ttl_ms;
	enum tpm_err		 te;
	enum key_err		 ke;
	int			 n, rc = 1, root;
	time_t			 now;
	const struct flag	 flags[] = {
		{ "caCert", FLAG_STRING, &ca_cert,
		    "lab only: CA certificate (PEM) to sign the DevID with" },
		{ "caKey", FLAG_STRING, &ca_key,
		    "lab only: the CA's EC private key (PEM)" },
		{ "certOut", FLAG_STRING, &cert_out,
		    "DevID certificate chain written (devid_cert_path)" },
		{ "commonName", FLAG_STRING, &cn,
		    "subject CN of the DevID (default: spirelet-devid)" },
		{ "csrOut", FLAG_STRING, &csr_out, "CSR written (PEM)" },
		{ "devidPassword", FLAG_STRING, &pw,
		    "authValue of the DevID key (devid_password)" },
		{ "ownerHierarchyPassword", FLAG_STRING, &owner,
		    "owner hierarchy password" },
		{ "privOut", FLAG_STRING, &priv_out,
		    "private blob written (devid_priv_path)" },
		{ "pubOut", FLAG_STRING, &pub_out,
		    "public blob written (devid_pub_path)" },
		{ "tcti", FLAG_STRING, &tcti,
		    "TPM TCTI (default device:/dev/tpmrm0)" },
		{ "ttl", FLAG_STRING, &ttl,
		    "lab certificate lifetime (default 8760h)" },
		{ NULL, FLAG_BOOL, NULL, NULL },
	};

	n = flags_parse_only(flags, argc, argv);
	if (n != -1)
		return n;
	if ((ca_cert == NULL) != (ca_key == NULL)) {
		fprintf(stderr, "-caCert and -caKey go together\n");
		return 2;
	}
	if (duration_parse(ttl, &ttl_ms) != DURATION_OK || ttl_ms <= 0) {
		fprintf(stderr, "-ttl: not a duration: %s\n", ttl);
		return 2;
	}
	if (ca_cert != NULL && (provision_load_ca(ca_cert, ca_key, &ca,
	    &cacert, &calen) == -1 ||
	    x509_parse(cacert, calen, &cax) != X509_OK)) {
		fprintf(stderr, "cannot use the CA\n");
		goto out;
	}
	memset(&o, 0, sizeof(o));
	o.tcti = tcti;
	o.owner_password = owner;
	t = tpm_open(&o, &te);
	if (t == NULL) {
		fprintf(stderr, "cannot open the TPM: %s\n", tpm_strerror(te));
		goto out;
	}
	k = key_tpm_create(t, KEY_EC_P256, pw, &ke);
	if (k == NULL) {
		fprintf(stderr, "cannot create the DevID key: %s\n",
		    key_strerror(ke));
		goto out;
	}
	if ((ke = key_tpm_parts(k, &pub, &publen, &priv, &privlen)) !=
	    KEY_OK) {
		fprintf(stderr, "DevID blobs: %s\n", key_strerror(ke));
		goto out;
	}
	if (key_file_write(pub_out, pub, publen) == -1 ||
	    key_file_write(priv_out, priv, privlen) == -1)
		goto out;
	memset(&nm, 0, sizeof(nm));
	nm.common_name = cn != NULL ? cn : "spirelet-devid";
	if (cert_name_encode(&nm, &subj, &subjlen) == -1 ||
	    cert_csr_create(k, subj, subjlen, NULL, &csr, &csrlen) == -1 ||
	    provision_write_pem(csr_out, "CERTIFICATE REQUEST", csr, csrlen,
	    NULL, 0) == -1) {
		fprintf(stderr, "cannot write the CSR\n");
		goto out;
	}
	printf("DevID key created in the TPM\npublic blob: %s\n"
	    "private blob: %s\nCSR: %s\n", pub_out, priv_out, csr_out);
	if (ca != NULL) {
		now = time(NULL);
		memset(&tmpl, 0, sizeof(tmpl));
		if (cert_random_serial(&tmpl) == -1)
			goto out;
		tmpl.subject = subj;
		tmpl.subject_len = subjlen;
		tmpl.not_before = now - 60;
		tmpl.not_after = now + (time_t)(ttl_ms / 1000);
		tmpl.key_usage = CERT_KU_DIGITAL_SIGNATURE;
		tmpl.spki = key_spki(k, &tmpl.spki_len);
		if (cert_sign(&tmpl, ca, cacert, calen, &crt, &crtlen) == -1)
			goto out;
		/* An intermediate CA goes after the leaf; a root does not. */
		root = cax.issuer.len == cax.subject.len &&
		    memcmp(cax.issuer.p, cax.subject.p, cax.subject.len) == 0;
		if (provision_write_pem(cert_out, "CERTIFICATE", crt, crtlen,
		    root ? NULL : cacert, calen) == -1)
			goto out;
		printf("certificate: %s\n", cert_out);
	}
	rc = 0;
out:
	mem_free(pub);
	mem_free(priv);
	mem_free(subj);
	mem_free(csr);
	mem_free(crt);
	mem_free(cacert);
	key_free(ca);
	key_free(k);
	tpm_close(t);
	return rc;
}
