/*
 * `spirelet agent api fetch [x509|jwt]`, `api validate jwt` and `api
 * watch`: a workload's view of the SPIFFE Workload API on the agent's
 * socket, with spire-agent api's flags, checks, text and files
 * (svid.N.pem, svid.N.key, bundle.N.pem, federated_bundle.N.M.pem).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <pb_decode.h>

#include "cli/admin.h"
#include "cli/commands.h"
#include "cli/gojson.h"
#include "cli/pbjson.h"
#include "cli/rpcclient.h"
#include "core/buf.h"
#include "core/duration.h"
#include "core/mem.h"
#include "hal/key.h"
#include "pki/der.h"
#include "pki/pem.h"
#include "pki/x509.h"
#include "spiffe/id.h"
#include "spiffe/workload/workload.pb.h"
#include "spiffe/x509svid.h"

#define API_SERVICE		"/SpiffeWorkloadAPI/"
#define API_TIMEOUT_DEFAULT	"5s"	/* spire-agent api's -timeout */
/* The -timeout row of a flag table, for a struct api_cmd a. */
#define API_FLAG_TIMEOUT(a)						\
	{ "timeout", FLAG_STRING, &(a).timeout_s, "Time to wait for a "	\
	    "response (default " API_TIMEOUT_DEFAULT ")" }
#define API_WHY_MAX		256	/* bytes of a reason in a message */
#define API_PATH_MAX		4096	/* bytes of a path written to */

/* The security header every Workload API call carries. */
static const struct rpc_md api_md[] = {
	{ "workload.spiffe.io", "true" },
};

/* The flags every api command has but watch. */
struct api_cmd {
	struct admin_cmd	 c;
	const char		*timeout_s;	/* -timeout */
	double			 timeout;	/* seconds; 0: none */
};

/* Certificates parsed from concatenated DER (views into it). */
struct api_certs {
	struct x509_cert	*v;		/* owned array */
	size_t			 n;
};

/* One X509-SVID of a response, checked. */
struct api_svid {
	const char		*id;
	const char		*hint;
	struct api_certs	 chain;
	struct api_certs	 bundle;
	uint8_t			*key;		/* PKCS#8, owned, wiped */
	size_t			 key_len;
};

/* A federated bundle of a response, under the name it is printed by. */
struct api_fed {
	char			 td[SPIFFE_ID_MAX + 1];
	struct api_certs	 certs;
};

/* A whole X509SVIDResponse, parsed; views into the response. */
struct api_x509 {
	struct api_svid		*svids;
	size_t			 nsvids;
	struct api_fed		*feds;
	size_t			 nfeds;
};

/* The first message of a stream. */
struct api_first {
	struct buf		 b;
	int			 got;		/* a message came */
	int			 nomem;
};

/* The state of api watch between updates. */
struct api_watch {
	int64_t			 last_ns;	/* the previous update */
	int			 got;		/* a message this stream */
};

static int	api_parse(struct api_cmd *, const char *, const char *,
		    const struct flag *, int, char *[]);
static int64_t	api_mono_ns(void);
static int	api_certs_parse(const pb_bytes_array_t *, struct api_certs *);
static void	api_x509_free(struct api_x509 *);
static int	api_fed_cmp(const void *, const void *);
static int	api_x509_parse(const X509SVIDResponse *, int,
		    struct api_x509 *, char *, size_t);
static void	api_x509_print(const struct api_x509 *, int64_t, int);
static int	api_pem_file(const char *, const struct api_certs *, char *,
		    size_t);
static int	api_x509_write(const struct api_x509 *, const char *);
static int	api_fetch_first(void *, const uint8_t *, size_t);
static int	api_stream_first(const struct api_cmd *, const char *,
		    const pb_msgdesc_t *, const void *, const pb_msgdesc_t *,
		    void *);
static int	api_entry_cmp(const void *, const void *);
static int	api_watch_message(void *, const uint8_t *, size_t);

/*
 * Starts a for the command name on the agent's default socket with
 * timeout_s as -timeout's default (NULL for a command without that row),
 * then admin_parse, and -timeout as Go's DurationFlag takes it. -1 to go
 * on, else the exit status.
 */
static int
api_parse(struct api_cmd *a, const char *name, const char *timeout_s,
    const struct flag *flags, int argc, char *argv[])
{
	int64_t	ms;
	int	rc;

	memset(a, 0, sizeof(*a));
	a->c.name = name;
	a->c.socket = ADMIN_AGENT_SOCKET;
	a->timeout_s = timeout_s;
	rc = admin_parse(&a->c, flags, argc, argv);
	if (rc != -1)
		return rc;
	if (a->timeout_s == NULL)
		return -1;
	if (duration_parse(a->timeout_s, &ms) != DURATION_OK) {
		fprintf(stderr, "invalid value \"%s\" for flag -timeout: "
		    "time: invalid duration ", a->timeout_s);
		output_quote(stderr, a->timeout_s);
		fprintf(stderr, "\nUsage of %s:\n", a->c.name);
		flags_usage(flags);
		return 2;
	}
	a->timeout = ms > 0 ? (double)ms / DURATION_MS_PER_SEC : 0;
	return -1;
}

static int64_t
api_mono_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * x509.ParseCertificates: every certificate in concatenated DER. 0, or
 * -1 when one does not parse (*out then empty).
 */
static int
api_certs_parse(const pb_bytes_array_t *b, struct api_certs *out)
{
	struct x509_cert	*nv;
	struct der		 d, whole;

	memset(out, 0, sizeof(*out));
	if (b == NULL)
		return 0;
	der_init(&d, b->bytes, b->size);
	while (!der_empty(&d)) {
		nv = mem_reallocarray(out->v, out->n + 1, sizeof(*nv));
		if (nv == NULL)
			goto fail;
		out->v = nv;
		if (der_get(&d, DER_SEQUENCE, NULL, &whole) == -1 ||
		    x509_parse(whole.p, whole.len, &out->v[out->n]) != X509_OK)
			goto fail;
		out->n++;
	}
	return 0;
fail:
	mem_free(out->v);
	memset(out, 0, sizeof(*out));
	return -1;
}

static void
api_x509_free(struct api_x509 *x)
{
	size_t	i;

	for (i = 0; i < x->nsvids; i++) {
		mem_free(x->svids[i].chain.v);
		mem_free(x->svids[i].bundle.v);
		if (x->svids[i].key != NULL)
			mem_free_wipe(x->svids[i].key, x->svids[i].key_len);
	}
	for (i = 0; i < x->nfeds; i++)
		mem_free(x->feds[i].certs.v);
	mem_free(x->svids);
	mem_free(x->feds);
	memset(x, 0, sizeof(*x));
}

static int
api_fed_cmp(const void *a, const void *b)
{
	const struct api_fed	*x = a, *y = b;

	return strcmp(x->td, y->td);
}

/*
 * parseAndValidateX509SVIDResponse (fetch, verify set: each chain must
 * verify against its own trust domain's bundle) or go-spiffe's
 * parseX509Context (watch: each leaf must be an SVID whose key the
 * response holds; federated bundles go by bare trust domain names).
 * 0, or -1 with the reason in err.
 */
static int
api_x509_parse(const X509SVIDResponse *r, int verify, struct api_x509 *out,
    char *err, size_t errlen)
{
	struct x509svid_bundle	 xb;
	struct x509svid_result	 res;
	struct spiffe_td	 td;
	struct spiffe_id	 id;
	struct api_svid		*s;
	struct api_fed		*f;
	struct key		*k;
	const uint8_t		**chain = NULL;
	size_t			*lens = NULL, i, j, spki_len;
	const uint8_t		*spki;
	enum x509svid_err	 xe;
	enum key_err		 ke;
	const char		*key;
	char			 why[API_WHY_MAX];

	memset(out, 0, sizeof(*out));
	if (r->svids_count == 0) {
		snprintf(err, errlen, verify ? "workload response contains no "
		    "svids" : "no SVIDs in response");
		return -1;
	}
	out->feds = mem_calloc(r->federated_bundles_count + 1,
	    sizeof(*out->feds));
	out->svids = mem_calloc(r->svids_count, sizeof(*out->svids));
	if (out->feds == NULL || out->svids == NULL)
		goto nomem;
	for (i = 0; i < r->federated_bundles_count; i++) {
		f = &out->feds[out->nfeds];
		key = r->federated_bundles[i].key != NULL ?
		    r->federated_bundles[i].key : "";
		if (verify)
			snprintf(f->td, sizeof(f->td), "%s", key);
		else if (spiffe_td_parse(key, strlen(key), &td) != SPIFFE_OK) {
			snprintf(err, errlen, "failed to parse bundle: trust "
			    "domain characters are limited to lowercase "
			    "letters, numbers, dots, dashes, and underscores");
			goto fail;
		} else
			snprintf(f->td, sizeof(f->td), "%s", td.name);
		if (api_certs_parse(r->federated_bundles[i].value,
		    &f->certs) == -1) {
			snprintf(err, errlen, "failed to parse bundle for "
			    "federated domain \"%s\": x509: malformed "
			    "certificate", key);
			goto fail;
		}
		out->nfeds++;
		if (f->certs.n == 0) {
			snprintf(err, errlen, "no certificates in bundle for "
			    "federated domain \"%s\"", key);
			goto fail;
		}
	}
	/* Go walks a map here; sorting keeps the output steady. */
	qsort(out->feds, out->nfeds, sizeof(*out->feds), api_fed_cmp);
	for (i = 0; i < r->svids_count; i++) {
		s = &out->svids[i];
		out->nsvids++;
		s->id = r->svids[i].spiffe_id != NULL ?
		    r->svids[i].spiffe_id : "";
		s->hint = r->svids[i].hint != NULL ? r->svids[i].hint : "";
		why[0] = '\0';
		if (api_certs_parse(r->svids[i].x509_svid, &s->chain) == -1)
			snprintf(why, sizeof(why), "x509: malformed "
			    "certificate");
		else if (s->chain.n == 0)
			snprintf(why, sizeof(why), "no certificates found");
		if (why[0] != '\0')
			goto bad_svid;
		/* Written the way Go's MarshalPKCS8PrivateKey writes it. */
		k = NULL;
		if (r->svids[i].x509_svid_key != NULL)
			k = key_soft_load(r->svids[i].x509_svid_key->bytes,
			    r->svids[i].x509_svid_key->size, &ke);
		if (k != NULL) {
			ke = key_export_pkcs8(k, &s->key, &s->key_len);
			spki = key_spki(k, &spki_len);
			if (ke == KEY_OK && !verify && (spki_len !=
			    s->chain.v[0].spki.len || memcmp(spki,
			    s->chain.v[0].spki.p, spki_len) != 0)) {
				snprintf(err, errlen, "failed to parse "
				    "X509-SVID: leaf certificate public key "
				    "does not match the private key");
				key_free(k);
				goto fail;
			}
			key_free(k);
			if (ke != KEY_OK)
				goto nomem;
		} else if (r->svids[i].x509_svid_key != NULL &&
		    r->svids[i].x509_svid_key->size > 0 &&
		    r->svids[i].x509_svid_key->bytes[0] == DER_SEQUENCE) {
			/*
			 * XXX: a key type hal/ does not load (RSA) is
			 * written as sent, not re-encoded as Go would.
			 */
			s->key_len = r->svids[i].x509_svid_key->size;
			s->key = mem_alloc(s->key_len);
			if (s->key == NULL)
				goto nomem;
			memcpy(s->key, r->svids[i].x509_svid_key->bytes,
			    s->key_len);
		} else {
			snprintf(why, sizeof(why), "failed to parse private "
			    "key: x509: failed to parse private key");
			goto bad_svid;
		}
		if (api_certs_parse(r->svids[i].bundle, &s->bundle) == -1)
			snprintf(why, sizeof(why), "failed to parse trust "
			    "bundle: x509: malformed certificate");
		else if (s->bundle.n == 0 && verify)
			snprintf(why, sizeof(why), "no certificates in trust "
			    "bundle");
		if (why[0] != '\0')
			goto bad_svid;
		if (!verify) {
			xe = x509svid_check_leaf(&s->chain.v[0], &res);
			if (xe != X509SVID_OK) {
				snprintf(err, errlen, "failed to parse "
				    "X509-SVID: %s", x509svid_strerror(xe));
				goto fail;
			}
			continue;
		}
		/* validateX509SVID: the chain against its own domain. */
		if (admin_spiffe_check(s->id, &id, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "%s", why);
			goto fail;
		}
		chain = mem_calloc(s->chain.n, sizeof(*chain));
		lens = mem_calloc(s->chain.n, sizeof(*lens));
		if (chain == NULL || lens == NULL)
			goto nomem;
		for (j = 0; j < s->chain.n; j++) {
			chain[j] = s->chain.v[j].der.p;
			lens[j] = s->chain.v[j].der.len;
		}
		xb.td = &id.td;
		xb.roots = s->bundle.v;
		xb.nroots = s->bundle.n;
		xe = x509svid_verify(chain, lens, s->chain.n, &xb, 1,
		    (long long)time(NULL), NULL, &res);
		mem_free(chain);
		mem_free(lens);
		chain = NULL;
		lens = NULL;
		if (xe != X509SVID_OK) {
			snprintf(err, errlen, "\"%s\" SVID failed verification "
			    "against bundle: x509svid: %s", s->id,
			    x509svid_strerror(xe));
			goto fail;
		}
	}
	return 0;
bad_svid:
	snprintf(err, errlen, "failed to parse svid entry %zu for spiffe id "
	    "\"%s\": %s", i, r->svids[i].spiffe_id != NULL ?
	    r->svids[i].spiffe_id : "", why);
	goto fail;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	mem_free(chain);
	mem_free(lens);
	api_x509_free(out);
	return -1;
}

/*
 * printX509SVIDResponse: the SVIDs with their validity, their CAs and
 * the federated CAs, after the time the answer took. hints is 0 for
 * watch, whose SVIDs carry none.
 */
static void
api_x509_print(const struct api_x509 *x, int64_t ns, int hints)
{
	const struct api_svid	*s;
	char			 d[OUTPUT_DURATION_MAX];
	char			 a[OUTPUT_TIME_MAX], b[OUTPUT_TIME_MAX];
	size_t			 i, j, k;

	if (output_duration(ns, d, sizeof(d)) == -1)
		d[0] = '\0';
	printf("Received %zu svid%s after %s\n", x->nsvids,
	    x->nsvids != 1 ? "s" : "", d);
	for (i = 0; i < x->nsvids; i++) {
		s = &x->svids[i];
		printf("\n");
		printf("SPIFFE ID:\t\t%s\n", s->id);
		if (hints && *s->hint != '\0')
			printf("Hint:\t\t\t%s\n", s->hint);
		output_time(s->chain.v[0].not_before, 1, a, sizeof(a));
		output_time(s->chain.v[0].not_after, 1, b, sizeof(b));
		printf("SVID Valid After:\t%s\n", a);
		printf("SVID Valid Until:\t%s\n", b);
		for (j = 1; j < s->chain.n; j++) {
			output_time(s->chain.v[j].not_before, 1, a, sizeof(a));
			output_time(s->chain.v[j].not_after, 1, b, sizeof(b));
			printf("Intermediate #%zu Valid After:\t%s\n", j, a);
			printf("Intermediate #%zu Valid Until:\t%s\n", j, b);
		}
		for (j = 0; j < s->bundle.n; j++) {
			output_time(s->bundle.v[j].not_before, 1, a, sizeof(a));
			output_time(s->bundle.v[j].not_after, 1, b, sizeof(b));
			printf("CA #%zu Valid After:\t%s\n", j + 1, a);
			printf("CA #%zu Valid Until:\t%s\n", j + 1, b);
		}
		for (k = 0; k < x->nfeds; k++) {
			for (j = 0; j < x->feds[k].certs.n; j++) {
				output_time(x->feds[k].certs.v[j].not_before,
				    1, a, sizeof(a));
				output_time(x->feds[k].certs.v[j].not_after,
				    1, b, sizeof(b));
				printf("[%s] CA #%zu Valid After:\t%s\n",
				    x->feds[k].td, j + 1, a);
				printf("[%s] CA #%zu Valid Until:\t%s\n",
				    x->feds[k].td, j + 1, b);
			}
		}
	}
	printf("\n");
	fflush(stdout);
}

/* writeCerts: the certificates as PEM blocks, publicly readable. */
static int
api_pem_file(const char *path, const struct api_certs *c, char *err,
    size_t errlen)
{
	struct buf	 b;
	char		*pem;
	size_t		 i, n;
	int		 rc = -1;

	buf_init(&b, CLI_FILE_MAX);
	for (i = 0; i < c->n; i++) {
		if (pem_encode(PEM_LABEL_CERTIFICATE, c->v[i].der.p,
		    c->v[i].der.len, &pem, &n) != PEM_OK) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		if (buf_append(&b, pem, n) == -1) {
			mem_free(pem);
			snprintf(err, errlen, "%s: too big", path);
			goto out;
		}
		mem_free(pem);
	}
	rc = admin_write_file(path, buf_ptr(&b), b.len, 0644, err, errlen);
out:
	buf_cleanup(&b);
	return rc;
}

/* writeResponse: svid.N.pem, svid.N.key, bundle.N.pem, federated_... */
static int
api_x509_write(const struct api_x509 *x, const char *dir)
{
	const struct api_svid	*s;
	char			 path[API_PATH_MAX], err[OUTPUT_ERROR_MAX];
	char			 name[64], *pem;
	size_t			 i, j, n;
	int			 rc;

	for (i = 0; i < x->nsvids; i++) {
		s = &x->svids[i];
		snprintf(name, sizeof(name), "svid.%zu.pem", i);
		if (admin_path_join(path, sizeof(path), dir, name) == -1)
			goto toolong;
		printf("Writing SVID #%zu to file %s.\n", i, path);
		if (api_pem_file(path, &s->chain, err, sizeof(err)) == -1)
			goto fail;
		snprintf(name, sizeof(name), "svid.%zu.key", i);
		if (admin_path_join(path, sizeof(path), dir, name) == -1)
			goto toolong;
		printf("Writing key #%zu to file %s.\n", i, path);
		if (pem_encode(PEM_LABEL_PKCS8, s->key, s->key_len, &pem,
		    &n) != PEM_OK) {
			snprintf(err, sizeof(err), "out of memory");
			goto fail;
		}
		rc = admin_write_file(path, pem, n, 0600, err, sizeof(err));
		mem_free_wipe(pem, n);
		if (rc == -1)
			goto fail;
		snprintf(name, sizeof(name), "bundle.%zu.pem", i);
		if (admin_path_join(path, sizeof(path), dir, name) == -1)
			goto toolong;
		printf("Writing bundle #%zu to file %s.\n", i, path);
		if (api_pem_file(path, &s->bundle, err, sizeof(err)) == -1)
			goto fail;
		for (j = 0; j < x->nfeds; j++) {
			snprintf(name, sizeof(name),
			    "federated_bundle.%zu.%zu.pem", i, j);
			if (admin_path_join(path, sizeof(path), dir,
			    name) == -1)
				goto toolong;
			printf("Writing federated bundle #%zu for trust "
			    "domain %s to file %s.\n", j, x->feds[j].td,
			    path);
			if (api_pem_file(path, &x->feds[j].certs, err,
			    sizeof(err)) == -1)
				goto fail;
		}
	}
	return 0;
toolong:
	snprintf(err, sizeof(err), "%s: path too long", dir);
fail:
	fflush(stdout);
	fprintf(stderr, "%s\n", err);
	return -1;
}

/* Keeps the first message of a stream and ends the call. */
static int
api_fetch_first(void *arg, const uint8_t *msg, size_t len)
{
	struct api_first	*f = arg;

	f->got = 1;
	if (buf_append(&f->b, msg, len) == -1)
		f->nomem = 1;
	return 1;
}

/*
 * Reads the first message of a Workload API server stream into resp.
 * 0, or -1 with the error printed (grpc-go's words, as the Go client
 * gives them: io.EOF for a stream that ended empty).
 */
static int
api_stream_first(const struct api_cmd *a, const char *path,
    const pb_msgdesc_t *req_fields, const void *req,
    const pb_msgdesc_t *resp_fields, void *resp)
{
	struct cli_stream_opts	 o;
	struct cli_result	 r;
	struct api_first	 f;
	char			 err[OUTPUT_ERROR_MAX];
	int			 rc = -1;

	memset(&o, 0, sizeof(o));
	o.target = a->c.target;
	o.path = path;
	o.md = api_md;
	o.nmd = sizeof(api_md) / sizeof(api_md[0]);
	o.req_fields = req_fields;
	o.req = req;
	o.timeout = a->timeout;
	memset(&f, 0, sizeof(f));
	buf_init(&f.b, RPC_MSG_MAX_DEFAULT);
	if (cli_stream(&o, api_fetch_first, &f, &r) == -1) {
		fprintf(stderr, "rpc error: code = Unavailable desc = the "
		    "call could not be started\n");
		goto out;
	}
	if (f.nomem) {
		fprintf(stderr, "out of memory\n");
		goto out;
	}
	if (!f.got && r.code != GRPC_STATUS_OK) {
		output_rpc_error(err, sizeof(err), (int)r.code, r.message);
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	if (!f.got) {
		fprintf(stderr, "EOF\n");
		goto out;
	}
	if (rpc_decode(buf_ptr(&f.b), f.b.len, resp_fields, resp) == -1) {
		fprintf(stderr, "rpc error: code = Internal desc = grpc: "
		    "failed to unmarshal the received message\n");
		goto out;
	}
	rc = 0;
out:
	buf_cleanup(&f.b);
	return rc;
}

/* JWT bundles by trust domain ID. */
static int
api_entry_cmp(const void *a, const void *b)
{
	const JWTBundlesResponse_BundlesEntry	*x = a, *y = b;

	return strcmp(x->key != NULL ? x->key : "", y->key != NULL ? y->key :
	    "");
}

/* fetch x509 and plain fetch. */
int
cli_agent_api_fetch_x509(int argc, char *argv[])
{
	X509SVIDRequest		 req = X509SVIDRequest_init_zero;
	X509SVIDResponse	 resp = X509SVIDResponse_init_zero;
	struct api_cmd		 a;
	struct api_x509		 x;
	const char		*write_dir = NULL;
	char			 err[OUTPUT_ERROR_MAX];
	int64_t			 start, took;
	int			 rc, silent = 0, got = 0;
	const struct flag	 flags[] = {
		ADMIN_FLAG_OUTPUT(a.c),
		{ "silent", FLAG_BOOL, &silent, "Suppress stdout" },
		ADMIN_FLAG_AGENT_SOCKET(a.c),
		API_FLAG_TIMEOUT(a),
		{ "write", FLAG_STRING, &write_dir, "Write SVID data to the "
		    "specified path (optional; only available for pretty "
		    "output format)" },
		ADMIN_FLAG_END,
	};

	memset(&x, 0, sizeof(x));
	rc = api_parse(&a, "fetch x509", API_TIMEOUT_DEFAULT,
	    flags, argc, argv);
	if (rc != -1)
		return rc;
	start = api_mono_ns();
	if (api_stream_first(&a, API_SERVICE "FetchX509SVID",
	    X509SVIDRequest_fields, &req, X509SVIDResponse_fields,
	    &resp) == -1)
		return 1;
	took = api_mono_ns() - start;
	got = 1;
	if (a.c.format == OUTPUT_JSON) {
		rc = output_json_take(pbjson_x509svid_response(&resp)) == 0 ?
		    0 : 1;
		goto out;
	}
	if (api_x509_parse(&resp, 1, &x, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		rc = 1;
		goto out;
	}
	if (!silent)
		api_x509_print(&x, took, 1);
	rc = 0;
	if (write_dir != NULL && *write_dir != '\0' &&
	    api_x509_write(&x, write_dir) == -1)
		rc = 1;
out:
	api_x509_free(&x);
	if (got)
		pb_release(X509SVIDResponse_fields, &resp);
	return rc;
}

int
cli_agent_api_fetch_jwt(int argc, char *argv[])
{
	JWTBundlesRequest	 breq = JWTBundlesRequest_init_zero;
	JWTBundlesResponse	 bresp = JWTBundlesResponse_init_zero;
	JWTSVIDRequest		 req = JWTSVIDRequest_init_zero;
	JWTSVIDResponse		 resp = JWTSVIDResponse_init_zero;
	JWTBundlesResponse_BundlesEntry	*sorted = NULL;
	struct api_cmd		 a;
	struct admin_pool	 pool = { 0 };
	json_t			*doc;
	const char		*audience = NULL, *spiffe_id = NULL;
	const char		*format = NULL;
	char			 err[OUTPUT_ERROR_MAX], *aud, *p;
	size_t			 i, n;
	int			 rc, got_b = 0, got_s = 0;
	const struct flag	 flags[] = {
		{ "audience", FLAG_STRING, &audience, "comma separated list "
		    "of audience values" },
		{ "format", FLAG_STRING, &format, "deprecated; use -output" },
		ADMIN_FLAG_OUTPUT(a.c),
		ADMIN_FLAG_AGENT_SOCKET(a.c),
		{ "spiffeID", FLAG_STRING, &spiffe_id, "SPIFFE ID subject "
		    "(optional)" },
		API_FLAG_TIMEOUT(a),
		ADMIN_FLAG_END,
	};

	rc = api_parse(&a, "fetch jwt", API_TIMEOUT_DEFAULT,
	    flags, argc, argv);
	if (rc != -1)
		return rc;
	/* -format is the old name of -output. */
	if (format != NULL && output_format_parse(format,
	    &a.c.format) == -1) {
		fprintf(stderr, "invalid value \"%s\" for flag -format: bad "
		    "formatter flag: unknown format option: ", format);
		output_quote(stderr, format);
		fprintf(stderr, "\n");
		return 2;
	}
	if (audience == NULL) {
		fprintf(stderr, "audience must be specified\n");
		return 1;
	}
	/* CommaStringsFlag: the values between commas, empty ones too. */
	aud = admin_pool_strdup(&pool, audience);
	for (n = 1, p = aud; p != NULL && *p != '\0'; p++)
		n += *p == ',';
	req.audience = admin_pool_alloc(&pool, n, sizeof(char *));
	req.spiffe_id = admin_pool_strdup(&pool, spiffe_id != NULL ?
	    spiffe_id : "");
	if (aud == NULL || req.audience == NULL || req.spiffe_id == NULL ||
	    n > UINT16_MAX) {
		fprintf(stderr, "out of memory\n");
		rc = 1;
		goto out;
	}
	for (i = 0, p = aud; i < n; i++) {
		req.audience[i] = p;
		p = strchr(p, ',');
		if (p != NULL)
			*p++ = '\0';
	}
	req.audience_count = (pb_size_t)n;
	rc = 1;
	if (api_stream_first(&a, API_SERVICE "FetchJWTBundles",
	    JWTBundlesRequest_fields, &breq, JWTBundlesResponse_fields,
	    &bresp) == -1)
		goto out;
	got_b = 1;
	if (admin_call(&a.c, API_SERVICE "FetchJWTSVID", api_md,
	    sizeof(api_md) / sizeof(api_md[0]), a.timeout,
	    JWTSVIDRequest_fields, &req, JWTSVIDResponse_fields, &resp, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	got_s = 1;
	if (a.c.format == OUTPUT_JSON) {
		doc = json_array();
		if (doc != NULL && (json_array_append_new(doc,
		    pbjson_jwtsvid_response(&resp)) == -1 ||
		    json_array_append_new(doc, pbjson_jwt_bundles(&bresp)) ==
		    -1)) {
			json_decref(doc);
			doc = NULL;
		}
		rc = output_json_take(doc) == 0 ? 0 : 1;
		goto out;
	}
	for (i = 0; i < resp.svids_count; i++) {
		printf("token(%s):\n\t%s\n", resp.svids[i].spiffe_id != NULL ?
		    resp.svids[i].spiffe_id : "", resp.svids[i].svid != NULL ?
		    resp.svids[i].svid : "");
		if (resp.svids[i].hint != NULL && *resp.svids[i].hint != '\0')
			printf("hint(%s):\n\t%s\n", resp.svids[i].spiffe_id !=
			    NULL ? resp.svids[i].spiffe_id : "",
			    resp.svids[i].hint);
	}
	/* A Go map is printed here: sorted, so the order is steady. */
	sorted = mem_calloc(bresp.bundles_count + 1, sizeof(*sorted));
	if (sorted == NULL) {
		fprintf(stderr, "out of memory\n");
		goto out;
	}
	memcpy(sorted, bresp.bundles, bresp.bundles_count * sizeof(*sorted));
	qsort(sorted, bresp.bundles_count, sizeof(*sorted), api_entry_cmp);
	for (i = 0; i < bresp.bundles_count; i++)
		printf("bundle(%s):\n\t%.*s\n", sorted[i].key != NULL ?
		    sorted[i].key : "", sorted[i].value != NULL ?
		    (int)sorted[i].value->size : 0, sorted[i].value != NULL ?
		    (const char *)sorted[i].value->bytes : "");
	rc = 0;
out:
	mem_free(sorted);
	if (got_b)
		pb_release(JWTBundlesResponse_fields, &bresp);
	if (got_s)
		pb_release(JWTSVIDResponse_fields, &resp);
	admin_pool_free(&pool);
	return rc;
}

int
cli_agent_api_validate_jwt(int argc, char *argv[])
{
	ValidateJWTSVIDRequest	 req = ValidateJWTSVIDRequest_init_zero;
	ValidateJWTSVIDResponse	 resp = ValidateJWTSVIDResponse_init_zero;
	struct api_cmd		 a;
	struct admin_pool	 pool = { 0 };
	struct cli_result	 r;
	json_t			*claims;
	const char		*audience = NULL, *svid = NULL;
	char			 err[OUTPUT_ERROR_MAX], *s;
	int			 rc;
	const struct flag	 flags[] = {
		{ "audience", FLAG_STRING, &audience, "expected audience "
		    "value" },
		ADMIN_FLAG_OUTPUT(a.c),
		ADMIN_FLAG_AGENT_SOCKET(a.c),
		{ "svid", FLAG_STRING, &svid, "JWT SVID" },
		API_FLAG_TIMEOUT(a),
		ADMIN_FLAG_END,
	};

	rc = api_parse(&a, "validate jwt", API_TIMEOUT_DEFAULT,
	    flags, argc, argv);
	if (rc != -1)
		return rc;
	if (audience == NULL || *audience == '\0') {
		fprintf(stderr, "audience must be specified\n");
		return 1;
	}
	if (svid == NULL || *svid == '\0') {
		fprintf(stderr, "svid must be specified\n");
		return 1;
	}
	req.audience = admin_pool_strdup(&pool, audience);
	req.svid = admin_pool_strdup(&pool, svid);
	rc = 1;
	if (req.audience == NULL || req.svid == NULL) {
		fprintf(stderr, "out of memory\n");
		goto out;
	}
	if (cli_unary_md(a.c.target, API_SERVICE "ValidateJWTSVID", api_md,
	    sizeof(api_md) / sizeof(api_md[0]), ValidateJWTSVIDRequest_fields,
	    &req, ValidateJWTSVIDResponse_fields, &resp, a.timeout,
	    &r) == -1) {
		fprintf(stderr, "unable to validate JWT SVID: rpc error: code "
		    "= Unavailable desc = the call could not be started\n");
		goto out;
	}
	if (r.code == GRPC_STATUS_INVALID_ARGUMENT) {
		fprintf(stderr, "SVID is not valid: %s\n", r.message);
		goto out;
	}
	if (r.code != GRPC_STATUS_OK) {
		output_rpc_error(err, sizeof(err), (int)r.code, r.message);
		fprintf(stderr, "unable to validate JWT SVID: %s\n", err);
		goto out;
	}
	if (a.c.format == OUTPUT_JSON) {
		rc = output_json_take(pbjson_validate_response(&resp)) == 0 ?
		    0 : 1;
		goto out_resp;
	}
	/* protojson.Marshal of the Struct: sorted keys, nulls kept. */
	claims = resp.has_claims ? pbjson_struct(&resp.claims, 0) :
	    json_object();
	s = claims != NULL ? gojson_dumps(claims, GOJSON_SORT_KEYS) : NULL;
	json_decref(claims);
	if (s == NULL) {
		fprintf(stderr, "unable to unmarshal claims\n");
		goto out_resp;
	}
	printf("SVID is valid.\n");
	printf("SPIFFE ID : %s\n", resp.spiffe_id != NULL ? resp.spiffe_id :
	    "");
	printf("Claims    : %s\n", s);
	mem_free(s);
	rc = 0;
out_resp:
	pb_release(ValidateJWTSVIDResponse_fields, &resp);
out:
	admin_pool_free(&pool);
	return rc;
}

/* One FetchX509SVID response of api watch: printed, or its error. */
static int
api_watch_message(void *arg, const uint8_t *msg, size_t len)
{
	X509SVIDResponse	 resp = X509SVIDResponse_init_zero;
	struct api_watch	*w = arg;
	struct api_x509		 x;
	char			 err[OUTPUT_ERROR_MAX];
	int64_t			 now;

	w->got = 1;
	if (rpc_decode(msg, len, X509SVIDResponse_fields, &resp) == -1) {
		fprintf(stderr, "rpc error: code = Internal desc = grpc: "
		    "failed to unmarshal the received message\n");
		return 0;
	}
	if (api_x509_parse(&resp, 0, &x, err, sizeof(err)) == -1)
		fprintf(stderr, "%s\n", err);
	else {
		now = api_mono_ns();
		api_x509_print(&x, now - w->last_ns, 0);
		w->last_ns = now;
		api_x509_free(&x);
	}
	pb_release(X509SVIDResponse_fields, &resp);
	return 0;
}

/*
 * api watch: FetchX509SVID held open, each update printed with the time
 * since the one before, errors printed and the stream opened again after
 * go-spiffe's linear backoff (1 s more each time, up to 30 s; back to
 * 1 s once a message came). InvalidArgument ends it, as go-spiffe's
 * watch does; SIGINT or SIGTERM end it with status 0.
 */
int
cli_agent_api_watch(int argc, char *argv[])
{
	X509SVIDRequest		 req = X509SVIDRequest_init_zero;
	struct cli_stream_opts	 o;
	struct cli_result	 r;
	struct api_watch	 w;
	struct api_cmd		 a;
	char			 err[OUTPUT_ERROR_MAX];
	int			 rc, backoff = 0;
	const struct flag	 flags[] = {
		ADMIN_FLAG_AGENT_SOCKET(a.c),
		ADMIN_FLAG_END,
	};

	rc = api_parse(&a, "watch", NULL, flags, argc, argv);
	if (rc != -1)
		return rc;
	memset(&o, 0, sizeof(o));
	o.target = a.c.target;
	o.path = API_SERVICE "FetchX509SVID";
	o.md = api_md;
	o.nmd = sizeof(api_md) / sizeof(api_md[0]);
	o.req_fields = X509SVIDRequest_fields;
	o.req = &req;
	o.interruptible = 1;
	memset(&w, 0, sizeof(w));
	w.last_ns = api_mono_ns();
	for (;;) {
		w.got = 0;
		if (cli_stream(&o, api_watch_message, &w, &r) == -1) {
			fprintf(stderr, "rpc error: code = Unavailable desc = "
			    "the call could not be started\n");
			return 1;
		}
		if (r.interrupted)
			return 0;
		output_rpc_error(err, sizeof(err), (int)r.code, r.message);
		fprintf(stderr, "%s\n", err);
		if (r.code == GRPC_STATUS_INVALID_ARGUMENT) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		if (w.got)
			backoff = 0;
		if (backoff < CLI_WATCH_BACKOFF_MAX_SEC)
			backoff++;
		if (cli_sleep(backoff) != 0)
			return 0;
	}
}
