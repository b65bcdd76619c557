/*
 * Unit tests for attest/tpmdevid's server half on malformed input: each
 * payload in the table is refused with the reason that names it, before
 * any trust decision, and nothing is allocated for a refusal.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "attest/tpmdevid.h"

/* Members after DevIDCert; "MIIB" (below) is a DER header, no more. */
#define OTHERS	"\"DevIDPub\":\"AAE=\",\"EKCert\":\"AAE=\"," \
		"\"EKPub\":\"AAE=\",\"AKPub\":\"AAE=\"," \
		"\"CertifiedDevID\":\"AAE=\"," \
		"\"CertificationSignature\":\"AAE=\""

struct payload_case {
	const char		*what;
	const char		*json;
	enum tpmdevid_err	 want;
};

static void
test_malformed_payloads_are_refused(void **state)
{
	static const struct payload_case cases[] = {
		{ "empty", "", TPMDEVID_ERR_PAYLOAD },
		{ "not JSON", "{", TPMDEVID_ERR_PAYLOAD },
		{ "an array", "[]", TPMDEVID_ERR_PAYLOAD },
		{ "no DevIDCert", "{" OTHERS "}", TPMDEVID_ERR_PAYLOAD },
		{ "empty chain", "{\"DevIDCert\":[]," OTHERS "}",
		    TPMDEVID_ERR_PAYLOAD },
		{ "chain of numbers", "{\"DevIDCert\":[1]," OTHERS "}",
		    TPMDEVID_ERR_PAYLOAD },
		{ "chain not base64", "{\"DevIDCert\":[\"*\"]," OTHERS "}",
		    TPMDEVID_ERR_PAYLOAD },
		{ "nine certificates", "{\"DevIDCert\":[\"AA==\",\"AA==\","
		    "\"AA==\",\"AA==\",\"AA==\",\"AA==\",\"AA==\",\"AA==\","
		    "\"AA==\"]," OTHERS "}", TPMDEVID_ERR_PAYLOAD },
		{ "DevIDPub missing", "{\"DevIDCert\":[\"AA==\"],"
		    "\"EKCert\":\"AAE=\",\"EKPub\":\"AAE=\",\"AKPub\":\"AAE=\","
		    "\"CertifiedDevID\":\"AAE=\","
		    "\"CertificationSignature\":\"AAE=\"}",
		    TPMDEVID_ERR_PAYLOAD },
		{ "AKPub null", "{\"DevIDCert\":[\"AA==\"],\"DevIDPub\":"
		    "\"AAE=\",\"EKCert\":\"AAE=\",\"EKPub\":\"AAE=\","
		    "\"AKPub\":null,\"CertifiedDevID\":\"AAE=\","
		    "\"CertificationSignature\":\"AAE=\"}",
		    TPMDEVID_ERR_PAYLOAD },
		{ "duplicate member", "{\"DevIDCert\":[\"AA==\"],"
		    "\"DevIDCert\":[\"AA==\"]," OTHERS "}",
		    TPMDEVID_ERR_PAYLOAD },
		{ "leaf not a certificate", "{\"DevIDCert\":[\"MIIB\"],"
		    OTHERS "}", TPMDEVID_ERR_DEVID_CERT },
	};
	struct tpmdevid_roots	 roots;
	struct tpmdevid_server	*s;
	char			*chal;
	size_t			 clen, i;

	(void)state;
	memset(&roots, 0, sizeof(roots));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = (struct tpmdevid_server *)&roots;	/* must be cleared */
		chal = (char *)&roots;
		if (tpmdevid_server_start(&roots,
		    (const uint8_t *)cases[i].json, strlen(cases[i].json), 0,
		    &s, &chal, &clen) != cases[i].want)
			fail_msg("case %s", cases[i].what);
		if (s != NULL || chal != NULL)
			fail_msg("case %s left output", cases[i].what);
	}
}

static void
test_every_error_has_its_text(void **state)
{
	int	 e;

	(void)state;
	for (e = TPMDEVID_OK; e <= TPMDEVID_ERR_CRYPTO; e++)
		assert_string_not_equal(tpmdevid_strerror(
		    (enum tpmdevid_err)e), "unknown tpm_devid error");
	assert_string_equal(tpmdevid_strerror((enum tpmdevid_err)999),
	    "unknown tpm_devid error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_malformed_payloads_are_refused),
		cmocka_unit_test(test_every_error_has_its_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
