/*
 * `spirelet server x509 mint` and `spirelet server jwt mint`: SVIDs
 * minted by the server for any ID of its trust domain (SVID/MintX509SVID
 * with a CSR for a key made here, SVID/MintJWTSVID), printed or written
 * as spire-server prints and writes them.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <pb_decode.h>

#include "cli/admin.h"
#include "cli/commands.h"
#include "cli/gojson.h"
#include "cli/pbjson.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/duration.h"
#include "core/mem.h"
#include "hal/key.h"
#include "pki/cert.h"
#include "pki/pem.h"
#include "spiffe/jwtsvid.h"
#include "spire/api/server/bundle/v1/bundle.pb.h"
#include "spire/api/server/svid/v1/svid.pb.h"

#define SVID_SERVICE	"/spire.api.server.svid.v1.SVID/"
#define MINT_PATH_MAX	4096	/* bytes of a path written to */

/*
 * The rows x509 mint and jwt mint share, for a struct admin_cmd c and the
 * const char * id and ttl; kind, a string literal, names the SVID.
 */
#define MINT_FLAGS(c, id, ttl, kind)					\
	ADMIN_FLAG_OUTPUT(c),						\
	ADMIN_FLAG_SOCKET(c),						\
	{ "spiffeID", FLAG_STRING, &(id), "SPIFFE ID of the " kind },	\
	{ "ttl", FLAG_STRING, &(ttl), "TTL of the " kind }

static int	mint_ttl(const char *, int64_t *, int32_t *);
static int	mint_parse(struct admin_cmd *, const struct flag *, int,
		    char *[], const char *const *, int64_t *, int32_t *);
static int64_t	mint_now_ns(void);
static void	mint_capped(const char *, int64_t, int64_t);
static int	mint_pem_append(struct buf *, const char *, const uint8_t *,
		    size_t);
static json_t	*mint_b64(const uint8_t *, size_t);
static json_t	*mint_x509_json(const spire_api_types_X509SVID *,
		    const spire_api_types_Bundle *, const uint8_t *, size_t);

/*
 * XXX: durations are parsed to milliseconds, so a -ttl with a
 * sub-millisecond part rounds up from the millisecond ("1ns" gives 0 s
 * here, 1 s in Go).
 *
 * -ttl as Go's flag.Duration takes it; *ms the duration, *sec the
 * seconds sent (rounded up, as ttlToSeconds does). 0; -1 after a usage
 * error is printed; 1 after a TTL over int32 seconds is reported.
 */
static int
mint_ttl(const char *s, int64_t *ms, int32_t *sec)
{
	char	d[OUTPUT_DURATION_MAX];
	int64_t	v = 0, secs;

	if (s != NULL && duration_parse(s, &v) != DURATION_OK) {
		fprintf(stderr, "invalid value \"%s\" for flag -ttl: parse "
		    "error\n", s);
		return -1;
	}
	secs = v > 0 ? (v + DURATION_MS_PER_SEC - 1) / DURATION_MS_PER_SEC :
	    v / DURATION_MS_PER_SEC;
	if (secs > INT32_MAX || secs < INT32_MIN) {
		/* Go names the seconds as a time.Duration, printed as one. */
		if (output_duration(secs, d, sizeof(d)) == -1)
			d[0] = '\0';
		fprintf(stderr, "Error: invalid value for TTL: overflow "
		    "converting time.Duration(%s) to int32\n", d);
		return 1;
	}
	*ms = v;
	*sec = (int32_t)secs;
	return 0;
}

/*
 * admin_parse, then the -ttl that flags stored at *ttl_s, as mint_ttl
 * takes it. -1 to go on, else the exit status.
 */
static int
mint_parse(struct admin_cmd *c, const struct flag *flags, int argc,
    char *argv[], const char *const *ttl_s, int64_t *ms, int32_t *sec)
{
	int	rc;

	rc = admin_parse(c, flags, argc, argv);
	if (rc != -1)
		return rc;
	rc = mint_ttl(*ttl_s, ms, sec);
	if (rc == -1) {
		fprintf(stderr, "Usage of %s:\n", c->name);
		flags_usage(flags);
		return 2;
	}
	return rc == 0 ? -1 : rc;
}

static int64_t
mint_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * spire-server warns when the SVID ends sooner than -ttl asked, measured
 * from now with nanosecond precision (so an exact TTL warns as well).
 */
static void
mint_capped(const char *what, int64_t expires_at, int64_t ttl_ms)
{
	char	t[OUTPUT_TIME_MAX];

	if (expires_at * 1000000000LL - mint_now_ns() >= ttl_ms * 1000000LL)
		return;
	if (output_time_rfc3339(expires_at, t, sizeof(t)) == -1)
		t[0] = '\0';
	fflush(stdout);
	fprintf(stderr, "%s lifetime was capped shorter than specified ttl; "
	    "expires \"%s\"\n", what, t);
}

static int
mint_pem_append(struct buf *b, const char *label, const uint8_t *der,
    size_t len)
{
	char	*pem;
	size_t	 n;
	int	 rc;

	if (pem_encode(label, der, len, &pem, &n) != PEM_OK)
		return -1;
	rc = buf_append(b, pem, n);
	mem_free_wipe(pem, n);
	return rc;
}

static json_t *
mint_b64(const uint8_t *p, size_t n)
{
	json_t	*s;
	char	*t;
	size_t	 len = base64_encoded_len(BASE64_STD, n) + 1;

	t = mem_alloc(len);
	if (t == NULL)
		return NULL;
	s = base64_encode(BASE64_STD, p, n, t, len) == 0 ? json_string(t) :
	    NULL;
	mem_free_wipe(t, len);
	return s;
}

/*
 * What x509 mint -output json prints: cliprinter's PrintStruct of the
 * mint result, which encoding/json writes as a list of one object with
 * the fields in declaration order.
 */
static json_t *
mint_x509_json(const spire_api_types_X509SVID *svid,
    const spire_api_types_Bundle *ca, const uint8_t *pk, size_t pk_len)
{
	json_t	*doc, *o, *chain, *roots;
	size_t	 i;
	int	 bad = 0;

	doc = json_array();
	o = json_object();
	chain = json_array();
	roots = json_array();
	if (doc == NULL || o == NULL || chain == NULL || roots == NULL) {
		json_decref(doc);
		json_decref(o);
		json_decref(chain);
		json_decref(roots);
		return NULL;
	}
	for (i = 0; i < svid->cert_chain_count; i++)
		bad |= json_array_append_new(chain, mint_b64(
		    svid->cert_chain[i]->bytes, svid->cert_chain[i]->size));
	for (i = 0; i < ca->x509_authorities_count; i++)
		bad |= ca->x509_authorities[i].asn1 == NULL ||
		    json_array_append_new(roots, mint_b64(
		    ca->x509_authorities[i].asn1->bytes,
		    ca->x509_authorities[i].asn1->size));
	bad |= json_object_set_new(o, "x509_svid", chain);
	bad |= json_object_set_new(o, "private_key", mint_b64(pk, pk_len));
	bad |= json_object_set_new(o, "root_cas", roots);
	bad |= json_array_append_new(doc, o);
	if (bad) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

int
cli_server_x509_mint(int argc, char *argv[])
{
	static const uint8_t	 empty_name[] = { 0x30, 0x00 };
	spire_api_server_svid_v1_MintX509SVIDRequest	 req =
	    spire_api_server_svid_v1_MintX509SVIDRequest_init_zero;
	spire_api_server_svid_v1_MintX509SVIDResponse	 resp =
	    spire_api_server_svid_v1_MintX509SVIDResponse_init_zero;
	spire_api_server_bundle_v1_GetBundleRequest	 breq =
	    spire_api_server_bundle_v1_GetBundleRequest_init_zero;
	spire_api_types_Bundle				 ca =
	    spire_api_types_Bundle_init_zero;
	struct admin_cmd	 c;
	struct admin_pool	 pool = { 0 };
	struct flag_list	 dns = { 0 };
	struct buf		 svid_pem, key_pem, ca_pem;
	spire_api_types_SPIFFEID id;
	struct key		*key = NULL;
	enum key_err		 ke;
	json_t			*doc = NULL;
	const char		*spiffe_id = NULL, *ttl_s = NULL;
	const char		*write_dir = NULL;
	char			 err[OUTPUT_ERROR_MAX], uri[SPIFFE_ID_MAX + 1];
	char			 path[MINT_PATH_MAX], *s;
	uint8_t			*csr = NULL, *pk = NULL;
	size_t			 csr_len, pk_len = 0, i;
	int64_t			 ttl_ms;
	int32_t			 ttl;
	int			 rc, bad = 0;
	const struct flag	 flags[] = {
		{ "dns", FLAG_LIST, &dns, "DNS name that will be included in "
		    "SVID. Can be used more than once." },
		MINT_FLAGS(c, spiffe_id, ttl_s, "X509-SVID"),
		{ "write", FLAG_STRING, &write_dir, "Directory to write "
		    "output to instead of stdout" },
		ADMIN_FLAG_END,
	};

	buf_init(&svid_pem, CLI_FILE_MAX);
	buf_init(&key_pem, CLI_FILE_MAX);
	buf_init(&ca_pem, CLI_FILE_MAX);
	memset(&c, 0, sizeof(c));
	c.name = "x509 mint";
	c.socket = ADMIN_SERVER_SOCKET;
	rc = mint_parse(&c, flags, argc, argv, &ttl_s, &ttl_ms, &ttl);
	if (rc != -1)
		goto out;
	if (spiffe_id == NULL || *spiffe_id == '\0') {
		rc = output_errorf("spiffeID must be specified");
		goto out;
	}
	if (admin_id_parse(&pool, spiffe_id, &id, err, sizeof(err)) == -1) {
		rc = output_errorf("%s", err);
		goto out;
	}
	admin_id_string(&id, uri, sizeof(uri));
	key = key_soft_generate(KEY_EC_P256, &ke);
	if (key == NULL) {
		rc = output_errorf("unable to generate key: %s",
		    key_strerror(ke));
		goto out;
	}
	if (cert_csr_create_sans(key, empty_name, sizeof(empty_name), uri,
	    dns.v, (size_t)dns.n, &csr, &csr_len) == -1) {
		rc = output_errorf("unable to generate CSR");
		goto out;
	}
	req.csr = admin_pool_alloc(&pool, 1, PB_BYTES_ARRAY_T_ALLOCSIZE(
	    csr_len));
	if (req.csr == NULL || csr_len > UINT16_MAX) {
		rc = output_errorf("unable to generate CSR: too big");
		goto out;
	}
	req.csr->size = (pb_size_t)csr_len;
	memcpy(req.csr->bytes, csr, csr_len);
	req.ttl = ttl;
	if (admin_call(&c, SVID_SERVICE "MintX509SVID", NULL, 0,
	    CLI_ADMIN_TIMEOUT_SEC,
	    spire_api_server_svid_v1_MintX509SVIDRequest_fields, &req,
	    spire_api_server_svid_v1_MintX509SVIDResponse_fields, &resp,
	    err, sizeof(err)) == -1) {
		rc = output_errorf("unable to mint SVID: %s", err);
		goto out;
	}
	if (resp.svid.cert_chain_count == 0) {
		rc = output_errorf("server response missing SVID chain");
		goto out;
	}
	if (admin_call(&c, "/spire.api.server.bundle.v1.Bundle/GetBundle",
	    NULL, 0, CLI_ADMIN_TIMEOUT_SEC,
	    spire_api_server_bundle_v1_GetBundleRequest_fields, &breq,
	    spire_api_types_Bundle_fields, &ca, err, sizeof(err)) == -1) {
		rc = output_errorf("unable to get bundle: %s", err);
		goto out;
	}
	if (ca.x509_authorities_count == 0) {
		rc = output_errorf("server response missing X509 Authorities");
		goto out;
	}
	mint_capped("X509-SVID", resp.svid.expires_at, ttl_ms);
	ke = key_export_pkcs8(key, &pk, &pk_len);
	if (ke != KEY_OK) {
		rc = output_errorf("%s", key_strerror(ke));
		goto out;
	}
	if ((write_dir == NULL || *write_dir == '\0') &&
	    c.format == OUTPUT_JSON) {
		doc = mint_x509_json(&resp.svid, &ca, pk, pk_len);
		s = doc == NULL ? NULL : gojson_dumps(doc, GOJSON_HTML_SAFE);
		if (s == NULL) {
			rc = output_errorf("cannot format the JSON output");
			goto out;
		}
		printf("%s\n", s);
		mem_free_wipe(s, strlen(s));
		rc = 0;
		goto out;
	}
	for (i = 0; i < resp.svid.cert_chain_count; i++)
		bad |= mint_pem_append(&svid_pem, PEM_LABEL_CERTIFICATE,
		    resp.svid.cert_chain[i]->bytes,
		    resp.svid.cert_chain[i]->size);
	bad |= mint_pem_append(&key_pem, PEM_LABEL_PKCS8, pk, pk_len);
	for (i = 0; i < ca.x509_authorities_count; i++)
		bad |= ca.x509_authorities[i].asn1 == NULL ||
		    mint_pem_append(&ca_pem, PEM_LABEL_CERTIFICATE,
		    ca.x509_authorities[i].asn1->bytes,
		    ca.x509_authorities[i].asn1->size);
	if (bad) {
		rc = output_errorf("out of memory");
		goto out;
	}
	if (write_dir == NULL || *write_dir == '\0') {
		printf("X509-SVID:\n%.*s\n", (int)svid_pem.len,
		    (const char *)buf_ptr(&svid_pem));
		printf("Private key:\n%.*s\n", (int)key_pem.len,
		    (const char *)buf_ptr(&key_pem));
		printf("Root CAs:\n%.*s\n", (int)ca_pem.len,
		    (const char *)buf_ptr(&ca_pem));
		rc = 0;
		goto out;
	}
	if (admin_path_join(path, sizeof(path), write_dir, "svid.pem") == -1 ||
	    admin_write_file(path, buf_ptr(&svid_pem), svid_pem.len, 0644, err,
	    sizeof(err)) == -1) {
		rc = output_errorf("unable to write SVID: %s", err);
		goto out;
	}
	printf("X509-SVID written to %s\n", path);
	if (admin_path_join(path, sizeof(path), write_dir, "key.pem") == -1 ||
	    admin_write_file(path, buf_ptr(&key_pem), key_pem.len, 0600, err,
	    sizeof(err)) == -1) {
		rc = output_errorf("unable to write key: %s", err);
		goto out;
	}
	printf("Private key written to %s\n", path);
	if (admin_path_join(path, sizeof(path), write_dir,
	    "bundle.pem") == -1 || admin_write_file(path, buf_ptr(&ca_pem),
	    ca_pem.len, 0644, err, sizeof(err)) == -1) {
		rc = output_errorf("unable to write bundle: %s", err);
		goto out;
	}
	printf("Root CAs written to %s\n", path);
	rc = 0;
out:
	json_decref(doc);
	if (key_pem.data != NULL)
		mem_wipe(key_pem.data, key_pem.cap);
	buf_cleanup(&svid_pem);
	buf_cleanup(&key_pem);
	buf_cleanup(&ca_pem);
	if (pk != NULL)
		mem_free_wipe(pk, pk_len);
	mem_free(csr);
	key_free(key);
	pb_release(spire_api_server_svid_v1_MintX509SVIDResponse_fields,
	    &resp);
	pb_release(spire_api_types_Bundle_fields, &ca);
	admin_pool_free(&pool);
	flags_free_list(&dns);
	return rc;
}

int
cli_server_jwt_mint(int argc, char *argv[])
{
	spire_api_server_svid_v1_MintJWTSVIDRequest	 req =
	    spire_api_server_svid_v1_MintJWTSVIDRequest_init_zero;
	spire_api_server_svid_v1_MintJWTSVIDResponse	 resp =
	    spire_api_server_svid_v1_MintJWTSVIDResponse_init_zero;
	struct admin_cmd	 c;
	struct admin_pool	 pool = { 0 };
	struct flag_list	 aud = { 0 };
	struct jwtsvid		 parsed;
	enum jwtsvid_err	 je;
	const char		*spiffe_id = NULL, *ttl_s = NULL;
	const char		*write_path = NULL, *token;
	char			 err[OUTPUT_ERROR_MAX], path[MINT_PATH_MAX];
	int64_t			 ttl_ms;
	int32_t			 ttl;
	int			 rc, i;
	const struct flag	 flags[] = {
		{ "audience", FLAG_LIST, &aud, "Audience claim that will be "
		    "included in the SVID. Can be used more than once." },
		MINT_FLAGS(c, spiffe_id, ttl_s, "JWT-SVID"),
		{ "write", FLAG_STRING, &write_path, "File to write token to "
		    "instead of stdout" },
		ADMIN_FLAG_END,
	};

	memset(&c, 0, sizeof(c));
	c.name = "jwt mint";
	c.socket = ADMIN_SERVER_SOCKET;
	rc = mint_parse(&c, flags, argc, argv, &ttl_s, &ttl_ms, &ttl);
	if (rc != -1)
		goto out;
	if (spiffe_id == NULL || *spiffe_id == '\0') {
		rc = output_errorf("spiffeID must be specified");
		goto out;
	}
	if (aud.n == 0) {
		rc = output_errorf("at least one audience must be specified");
		goto out;
	}
	if (admin_id_parse(&pool, spiffe_id, &req.id, err,
	    sizeof(err)) == -1) {
		rc = output_errorf("%s", err);
		goto out;
	}
	req.has_id = true;
	req.audience = admin_pool_alloc(&pool, (size_t)aud.n, sizeof(char *));
	if (req.audience == NULL) {
		rc = output_errorf("out of memory");
		goto out;
	}
	for (i = 0; i < aud.n; i++) {
		req.audience[i] = admin_pool_strdup(&pool, aud.v[i]);
		if (req.audience[i] == NULL) {
			rc = output_errorf("out of memory");
			goto out;
		}
	}
	req.audience_count = (pb_size_t)aud.n;
	req.ttl = ttl;
	if (admin_call(&c, SVID_SERVICE "MintJWTSVID", NULL, 0,
	    CLI_ADMIN_TIMEOUT_SEC,
	    spire_api_server_svid_v1_MintJWTSVIDRequest_fields, &req,
	    spire_api_server_svid_v1_MintJWTSVIDResponse_fields, &resp,
	    err, sizeof(err)) == -1) {
		rc = output_errorf("unable to mint SVID: %s", err);
		goto out;
	}
	token = resp.svid.token;
	if (token == NULL || *token == '\0') {
		rc = output_errorf("server response missing token");
		goto out;
	}
	je = jwtsvid_parse(token, strlen(token), &parsed);
	if (je != JWTSVID_OK) {
		fflush(stdout);
		fprintf(stderr, "Unable to determine JWT-SVID lifetime: %s\n",
		    jwtsvid_strerror(je));
	} else
		mint_capped("JWT-SVID", parsed.exp, ttl_ms);
	jwtsvid_cleanup(&parsed);
	if (write_path == NULL || *write_path == '\0') {
		if (c.format == OUTPUT_JSON)
			rc = output_json_take(pbjson_mint_jwt(&resp)) == 0 ?
			    0 : 1;
		else {
			printf("%s\n", token);
			rc = 0;
		}
		goto out;
	}
	if (admin_path_join(path, sizeof(path), write_path, NULL) == -1 ||
	    admin_write_file(path, token, strlen(token), 0600, err,
	    sizeof(err)) == -1) {
		rc = output_errorf("unable to write token: %s", err);
		goto out;
	}
	printf("JWT-SVID written to %s\n", path);
	rc = 0;
out:
	pb_release(spire_api_server_svid_v1_MintJWTSVIDResponse_fields,
	    &resp);
	admin_pool_free(&pool);
	flags_free_list(&aud);
	return rc;
}
