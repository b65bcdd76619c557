/*
 * SPIRE's tpm_devid node attestation, both halves, independent of the
 * agent and server roles: the JSON messages exactly as SPIRE v1.13's
 * plugins exchange them (Go field names, []byte as standard base64), the
 * agent's TPM work through hal/tpm_devid.h, and the server's checks as
 * pure data and crypto (no TPM needed).
 *
 * Server side (a NodeAttestor "tpm_devid" plugin calls, on the loop):
 *   tpmdevid_server_start(roots, payload) -> challenge JSON to send
 *   tpmdevid_server_finish(s, response)   -> accept or refuse
 *   tpmdevid_server_agent_path / _selectors, then tpmdevid_server_free.
 * These do RSA and ECDSA verifications and one RSA-OAEP encryption:
 * about a millisecond, fine on the loop.
 *
 * Agent side (blocking on the TPM: run on the worker thread):
 *   tpmdevid_agent_start(tpm, conf)   -> payload JSON to send
 *   tpmdevid_agent_answer(a, challenge) -> response JSON to send
 *   tpmdevid_agent_free(a).
 */
#ifndef ATTEST_TPMDEVID_H
#define ATTEST_TPMDEVID_H

#include <stddef.h>
#include <stdint.h>

#include "pki/x509.h"

#define TPMDEVID_NAME		"tpm_devid"
#define TPMDEVID_NONCE_LEN	32	/* bytes of the DevID nonce */
#define TPMDEVID_CHAIN_MAX	X509_CHAIN_MAX	/* DevID certificates */
#define TPMDEVID_SELECTORS_MAX	(2 + TPMDEVID_CHAIN_MAX + X509_CHAIN_MAX)
#define TPMDEVID_PAYLOAD_MAX	(64 * 1024)	/* bytes of JSON we read */

/* Why an attestation was refused; each names the check that failed. */
enum tpmdevid_err {
	TPMDEVID_OK = 0,
	TPMDEVID_ERR_NOMEM,
	TPMDEVID_ERR_PAYLOAD,		/* not the payload's JSON shape */
	TPMDEVID_ERR_DEVID_CERT,	/* a DevID certificate unparsable */
	TPMDEVID_ERR_DEVID_CHAIN,	/* DevID not from devid_ca_path */
	TPMDEVID_ERR_EK_CERT,		/* EK certificate unparsable */
	TPMDEVID_ERR_EK_CHAIN,		/* EK not from endorsement_ca_path */
	TPMDEVID_ERR_EK_MISMATCH,	/* EK certificate key != EKPub */
	TPMDEVID_ERR_TPM_STRUCT,	/* a TPM structure undecodable */
	TPMDEVID_ERR_DEVID_KEY,		/* DevID certificate key != DevIDPub */
	TPMDEVID_ERR_CERTIFY_SIG,	/* AK signature over CertifiedDevID */
	TPMDEVID_ERR_CERTIFY_NAME,	/* certified Name is not DevIDPub's */
	TPMDEVID_ERR_RESPONSE,		/* not the response's JSON shape */
	TPMDEVID_ERR_DEVID_SIG,		/* nonce signature does not verify */
	TPMDEVID_ERR_CREDENTIAL,	/* credential activation wrong */
	TPMDEVID_ERR_USED,		/* this challenge was answered before */
	TPMDEVID_ERR_CHALLENGE,		/* agent: not a challenge's shape */
	TPMDEVID_ERR_FILE,		/* agent: DevID files unreadable */
	TPMDEVID_ERR_TPM,		/* agent: the TPM failed (logged) */
	TPMDEVID_ERR_CRYPTO,
};

const char	*tpmdevid_strerror(enum tpmdevid_err);

/* Trust anchors: devid_ca_path and endorsement_ca_path, parsed. */
struct tpmdevid_roots {
	const struct x509_cert	*devid;
	size_t			 ndevid;
	const struct x509_cert	*ek;
	size_t			 nek;
};

struct tpmdevid_server;

/*
 * Checks an agent's payload (untrusted, len bytes) at Unix time now:
 * the DevID chain to roots->devid, the EK certificate to roots->ek and
 * against EKPub, the DevID certificate's key against DevIDPub, the AK's
 * signature over CertifiedDevID and its certified Name. Then draws the
 * challenge: a 32-byte DevID nonce and a credential for the AK's Name
 * sealed to the EK. roots are borrowed for the call only.
 *
 * On success *out is the attestation in progress (free with
 * tpmdevid_server_free) and *challenge its JSON (NUL-terminated, new
 * buffer, mem_free). On failure nothing is allocated and the reason is
 * logged with the offending detail.
 */
enum tpmdevid_err tpmdevid_server_start(const struct tpmdevid_roots *roots,
		    const uint8_t *payload, size_t len, long long now,
		    struct tpmdevid_server **out, char **challenge,
		    size_t *challenge_len) __attribute__((warn_unused_result));
/*
 * Checks the agent's response (untrusted): the DevID key's signature
 * over SHA-256(nonce) and the activated credential. A session accepts
 * one response: a second one is TPMDEVID_ERR_USED.
 */
enum tpmdevid_err tpmdevid_server_finish(struct tpmdevid_server *,
		    const uint8_t *response, size_t len)
		    __attribute__((warn_unused_result));
/*
 * After a successful finish: the agent ID's path,
 * "/spire/agent/tpm_devid/<hex SHA-1 of the DevID certificate>", and
 * the selector values (without the "tpm_devid:" type): subject:cn:,
 * issuer:cn:, ca:fingerprint: for each chain certificate above the leaf.
 * Borrowed from the session.
 */
const char	*tpmdevid_server_agent_path(const struct tpmdevid_server *);
size_t		 tpmdevid_server_selectors(const struct tpmdevid_server *,
		    const char *const **values);
void		 tpmdevid_server_free(struct tpmdevid_server *);

/* The agent's options, as SPIRE's agent plugin names them. */
struct tpmdevid_agent_conf {
	const char	*devid_cert_path;	/* PEM, leaf first */
	const char	*devid_priv_path;	/* TPM2B_PRIVATE contents */
	const char	*devid_pub_path;	/* TPMT_PUBLIC */
	const char	*devid_password;	/* NULL: none */
};

struct tpm;
struct tpmdevid_agent;

/*
 * Loads the DevID key into tpm, gathers the TPM evidence and makes the
 * payload JSON (*payload, new buffer, mem_free). Blocks on the TPM.
 */
enum tpmdevid_err tpmdevid_agent_start(struct tpm *,
		    const struct tpmdevid_agent_conf *,
		    struct tpmdevid_agent **out, char **payload,
		    size_t *payload_len) __attribute__((warn_unused_result));
/* Answers the server's challenge JSON (untrusted). Blocks on the TPM. */
enum tpmdevid_err tpmdevid_agent_answer(struct tpmdevid_agent *,
		    const uint8_t *challenge, size_t len, char **response,
		    size_t *response_len) __attribute__((warn_unused_result));
void		 tpmdevid_agent_free(struct tpmdevid_agent *);

#endif
