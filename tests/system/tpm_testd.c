/*
 * tpm_testd: drives hal/'s TPM code against a real (software) TPM for
 * the system tests in test_tpm.py. Each subcommand does one thing and
 * says what happened on stdout; failures exit non-zero with the key or
 * TPM error text on stderr (the tests match it).
 *
 *   tpm_testd keygen TCTI BLOB           new key, blob saved; prints SPKI
 *   tpm_testd sign TCTI BLOB             loads, signs, verifies
 *   tpm_testd persist TCTI BLOB HANDLE   makes it persistent, signs there
 *   tpm_testd async TCTI BLOB SWTPM_PID  sign in flight, loop keeps going
 *   tpm_testd slots TCTI BLOB N          N signatures (slots never run out)
 *   tpm_testd devid-agent TCTI CERT PRIV PUB
 *	prints tpm_devid's payload (a line of JSON), reads the challenge
 *	line from stdin, prints the response line
 *   tpm_testd devid-server DEVID_CA EK_CA [again]
 *	reads a payload line, prints the challenge line or "REFUSED why",
 *	reads a response line, prints "ACCEPTED path selectors..." or
 *	"REFUSED why"; with "again", reads one more response for the same
 *	challenge and prints the verdict on it too
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ev.h>

#include "attest/tpmdevid.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/worker.h"
#include "hal/key.h"
#include "hal/tpm.h"
#include "pki/pem.h"
#include "pki/x509.h"

static struct tpm	*open_tpm(const char *);
static void		 hex_print(const char *, const uint8_t *, size_t);
static int		 sign_verify(struct key *);
static struct key	*load_key(struct tpm *, const char *);
static void		 spki_print(struct key *);
static int		 cmd_keygen(int, char **);
static int		 cmd_sign(int, char **);
static int		 cmd_persist(int, char **);
static int		 cmd_async(int, char **);
static int		 cmd_slots(int, char **);
static int		 cmd_devid_agent(int, char **);
static int		 cmd_devid_server(int, char **);
static char		*read_line(void);
static int		 load_roots(const char *, struct pem_block **,
			    size_t *, struct x509_cert **);

static struct tpm *
open_tpm(const char *tcti)
{
	struct tpm_opts	 o = { .tcti = tcti };
	struct tpm	*t;
	enum tpm_err	 e;

	t = tpm_open(&o, &e);
	if (t == NULL)
		fprintf(stderr, "tpm_open: %s\n", tpm_strerror(e));
	return t;
}

static void
hex_print(const char *label, const uint8_t *p, size_t n)
{
	size_t	 i;

	printf("%s ", label);
	for (i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\n");
}

static const uint8_t test_digest[32] = {
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
	0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
	0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20,
};

static int
sign_verify(struct key *k)
{
	uint8_t		 sig[KEY_SIG_MAX];
	size_t		 siglen = sizeof(sig), spki_len;
	const uint8_t	*spki;
	enum key_err	 e;

	e = key_sign(k, test_digest, sizeof(test_digest), sig, &siglen);
	if (e != KEY_OK) {
		fprintf(stderr, "key_sign: %s\n", key_strerror(e));
		return -1;
	}
	spki = key_spki(k, &spki_len);
	if (key_verify_spki(spki, spki_len, test_digest, sizeof(test_digest),
	    sig, siglen) != 0) {
		fprintf(stderr, "signature does not verify\n");
		return -1;
	}
	return 0;
}

/* The key saved at path, loaded into t; NULL after saying why. */
static struct key *
load_key(struct tpm *t, const char *path)
{
	struct key	*k;
	enum key_err	 e;

	k = key_tpm_load_file(t, path, NULL, &e);
	if (k == NULL)
		fprintf(stderr, "key_tpm_load_file: %s\n", key_strerror(e));
	return k;
}

/* The "spki HEX" line of k's public key. */
static void
spki_print(struct key *k)
{
	const uint8_t	*spki;
	size_t		 n;

	spki = key_spki(k, &n);
	hex_print("spki", spki, n);
}

static int
cmd_keygen(int argc, char **argv)
{
	struct tpm	*t;
	struct key	*k;
	uint8_t		*pkcs8 = NULL;
	size_t		 plen;
	enum key_err	 e;
	int		 rc = 1;

	if (argc != 4)
		return 2;
	t = open_tpm(argv[2]);
	if (t == NULL)
		return 1;
	k = key_tpm_create(t, KEY_EC_P256, NULL, &e);
	if (k == NULL) {
		fprintf(stderr, "key_tpm_create: %s\n", key_strerror(e));
		goto out;
	}
	if (key_export_pkcs8(k, &pkcs8, &plen) != KEY_ERR_NOT_EXPORTABLE) {
		fprintf(stderr, "a TPM key exported its private part\n");
		goto out;
	}
	e = key_tpm_save_file(k, argv[3]);
	if (e != KEY_OK) {
		fprintf(stderr, "key_tpm_save_file: %s\n", key_strerror(e));
		goto out;
	}
	if (sign_verify(k) == -1)
		goto out;
	spki_print(k);
	printf("backend %s blocking %d\n", k->ops->backend,
	    key_is_blocking(k));
	rc = 0;
out:
	key_free(k);
	tpm_close(t);
	return rc;
}

static int
cmd_sign(int argc, char **argv)
{
	struct tpm	*t;
	struct key	*k;
	int		 rc = 1;

	if (argc != 4)
		return 2;
	t = open_tpm(argv[2]);
	if (t == NULL)
		return 1;
	k = load_key(t, argv[3]);
	if (k == NULL)
		goto out;
	if (sign_verify(k) == -1)
		goto out;
	spki_print(k);
	printf("signed\n");
	rc = 0;
out:
	key_free(k);
	tpm_close(t);
	return rc;
}

static int
cmd_persist(int argc, char **argv)
{
	struct tpm	*t;
	struct key	*k, *p = NULL;
	unsigned long	 h;
	char		*end;
	enum key_err	 e;
	int		 rc = 1;

	if (argc != 5)
		return 2;
	h = strtoul(argv[4], &end, 0);
	if (*end != '\0')
		return 2;
	t = open_tpm(argv[2]);
	if (t == NULL)
		return 1;
	k = load_key(t, argv[3]);
	if (k == NULL)
		goto out;
	e = key_tpm_persist(k, (uint32_t)h);
	if (e != KEY_OK) {
		fprintf(stderr, "key_tpm_persist: %s\n", key_strerror(e));
		goto out;
	}
	p = key_tpm_load_persistent(t, (uint32_t)h, NULL, &e);
	if (p == NULL) {
		fprintf(stderr, "key_tpm_load_persistent: %s\n",
		    key_strerror(e));
		goto out;
	}
	if (sign_verify(p) == -1)
		goto out;
	printf("persistent signed\n");
	e = key_destroy(p);
	if (e != KEY_OK) {
		fprintf(stderr, "key_destroy: %s\n", key_strerror(e));
		goto out;
	}
	key_free(p);
	p = key_tpm_load_persistent(t, (uint32_t)h, NULL, &e);
	if (p != NULL) {
		fprintf(stderr, "evicted key still loads\n");
		goto out;
	}
	printf("evicted: %s\n", key_strerror(e));
	rc = 0;
out:
	key_free(p);
	key_free(k);
	tpm_close(t);
	return rc;
}

/* The asynchronous path: the loop keeps working while the TPM is held. */
struct async_state {
	struct ev_loop	*loop;
	pid_t		 swtpm;
	ev_idle		 idle;
	ev_timer	 guard;
	unsigned long	 loop_work;	/* idle callbacks run on the loop */
	int		 resumed;
	int		 done;
	int		 done_before_resume;
	enum key_err	 err;
	uint8_t		 sig[KEY_SIG_MAX];
	size_t		 siglen;
};

#define ASYNC_LOOP_WORK	2000	/* loop iterations while the TPM is held */

static void
async_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct async_state	*s = w->data;

	s->loop_work++;
	if (s->loop_work == ASYNC_LOOP_WORK) {
		/* Enough done on the loop: let the TPM answer. */
		ev_idle_stop(loop, w);
		s->resumed = 1;
		(void)kill(s->swtpm, SIGCONT);
	}
}

/* Only ends a hung run; it never decides the result. */
static void
async_guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void
async_done(void *arg, enum key_err err, const uint8_t *sig, size_t siglen)
{
	struct async_state	*s = arg;

	s->done = 1;
	s->done_before_resume = !s->resumed;
	s->err = err;
	if (err == KEY_OK && siglen <= sizeof(s->sig)) {
		memcpy(s->sig, sig, siglen);
		s->siglen = siglen;
	}
	ev_break(s->loop, EVBREAK_ALL);
}

static int
cmd_async(int argc, char **argv)
{
	struct async_state	 s;
	struct tpm		*t;
	struct key		*k, *soft = NULL;
	struct worker		*w = NULL;
	const uint8_t		*spki;
	size_t			 n;
	enum key_err		 e;
	int			 rc = 1, soft_done = 0;

	if (argc != 5)
		return 2;
	memset(&s, 0, sizeof(s));
	s.swtpm = (pid_t)strtol(argv[4], NULL, 10);
	t = open_tpm(argv[2]);
	if (t == NULL)
		return 1;
	k = load_key(t, argv[3]);
	if (k == NULL)
		goto out;
	s.loop = ev_loop_new(EVFLAG_AUTO);
	w = worker_new(s.loop);
	if (s.loop == NULL || w == NULL)
		goto out;
	/* Hold the TPM: no answer can come until the loop resumes it. */
	if (kill(s.swtpm, SIGSTOP) == -1) {
		perror("kill SIGSTOP");
		goto out;
	}
	e = key_sign_async(k, w, test_digest, sizeof(test_digest),
	    async_done, &s);
	if (e != KEY_OK) {
		(void)kill(s.swtpm, SIGCONT);
		fprintf(stderr, "key_sign_async: %s\n", key_strerror(e));
		goto out;
	}
	if (s.done) {
		(void)kill(s.swtpm, SIGCONT);
		fprintf(stderr, "TPM signature completed on the caller\n");
		goto out;
	}
	ev_idle_init(&s.idle, async_idle_cb);
	s.idle.data = &s;
	ev_idle_start(s.loop, &s.idle);
	ev_timer_init(&s.guard, async_guard_cb, 60.0, 0);
	ev_timer_start(s.loop, &s.guard);
	ev_run(s.loop, 0);
	ev_timer_stop(s.loop, &s.guard);
	(void)kill(s.swtpm, SIGCONT);
	if (!s.done || s.err != KEY_OK) {
		fprintf(stderr, "async sign: %s\n", key_strerror(s.err));
		goto out;
	}
	spki = key_spki(k, &n);
	if (key_verify_spki(spki, n, test_digest, sizeof(test_digest), s.sig,
	    s.siglen) != 0) {
		fprintf(stderr, "async signature does not verify\n");
		goto out;
	}
	/* A software key's done() runs before key_sign_async returns. */
	soft = key_soft_generate(KEY_EC_P256, &e);
	if (soft == NULL)
		goto out;
	s.done = 0;
	if (key_sign_async(soft, w, test_digest, sizeof(test_digest),
	    async_done, &s) != KEY_OK)
		goto out;
	soft_done = s.done && s.err == KEY_OK;
	printf("loop_work %lu done_before_resume %d soft_immediate %d\n",
	    s.loop_work, s.done_before_resume, soft_done);
	rc = 0;
out:
	worker_free(w);
	if (s.loop != NULL)
		ev_loop_destroy(s.loop);
	key_free(soft);
	key_free(k);
	tpm_close(t);
	return rc;
}

static int
cmd_slots(int argc, char **argv)
{
	struct tpm	*t;
	struct key	*k[4] = { NULL, NULL, NULL, NULL };
	enum key_err	 e;
	long		 i, n;
	int		 rc = 1;

	if (argc != 5)
		return 2;
	n = strtol(argv[4], NULL, 10);
	t = open_tpm(argv[2]);
	if (t == NULL)
		return 1;
	/* More keys than the TPM has slots, used in turn. */
	for (i = 0; i < 4; i++) {
		k[i] = key_tpm_load_file(t, argv[3], NULL, &e);
		if (k[i] == NULL) {
			fprintf(stderr, "load %ld: %s\n", i, key_strerror(e));
			goto out;
		}
	}
	for (i = 0; i < n; i++)
		if (sign_verify(k[i % 4]) == -1) {
			fprintf(stderr, "signature %ld failed\n", i);
			goto out;
		}
	printf("signatures %ld\n", n);
	rc = 0;
out:
	for (i = 0; i < 4; i++)
		key_free(k[i]);
	tpm_close(t);
	return rc;
}

/* One line from stdin without its newline (mem_free), NULL at EOF. */
static char *
read_line(void)
{
	char	*buf;
	size_t	 n = 0;
	int	 c;

	buf = mem_alloc(TPMDEVID_PAYLOAD_MAX + 1);
	if (buf == NULL)
		return NULL;
	while ((c = getchar()) != EOF && c != '\n' &&
	    n < TPMDEVID_PAYLOAD_MAX)
		buf[n++] = (char)c;
	if (c == EOF && n == 0) {
		mem_free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

static int
cmd_devid_agent(int argc, char **argv)
{
	struct tpmdevid_agent_conf	 c;
	struct tpmdevid_agent		*a = NULL;
	struct tpm			*t;
	char				*payload = NULL, *resp = NULL;
	char				*chal = NULL;
	size_t				 plen, rlen;
	enum tpmdevid_err		 e;
	int				 rc = 1;

	if (argc != 6)
		return 2;
	t = open_tpm(argv[2]);
	if (t == NULL)
		return 1;
	memset(&c, 0, sizeof(c));
	c.devid_cert_path = argv[3];
	c.devid_priv_path = argv[4];
	c.devid_pub_path = argv[5];
	e = tpmdevid_agent_start(t, &c, &a, &payload, &plen);
	if (e != TPMDEVID_OK) {
		fprintf(stderr, "tpmdevid_agent_start: %s\n",
		    tpmdevid_strerror(e));
		goto out;
	}
	printf("%s\n", payload);
	fflush(stdout);
	chal = read_line();
	if (chal == NULL)
		goto out;
	e = tpmdevid_agent_answer(a, (const uint8_t *)chal, strlen(chal),
	    &resp, &rlen);
	if (e != TPMDEVID_OK) {
		fprintf(stderr, "tpmdevid_agent_answer: %s\n",
		    tpmdevid_strerror(e));
		goto out;
	}
	printf("%s\n", resp);
	fflush(stdout);
	rc = 0;
out:
	mem_free(payload);
	mem_free(resp);
	mem_free(chal);
	tpmdevid_agent_free(a);
	tpm_close(t);
	return rc;
}

static int
load_roots(const char *path, struct pem_block **blocks, size_t *n,
    struct x509_cert **certs)
{
	FILE	*f;
	char	 text[64 * 1024];
	size_t	 len, i;

	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	len = fread(text, 1, sizeof(text), f);
	fclose(f);
	if (pem_decode(text, len, "CERTIFICATE", blocks, n) != PEM_OK)
		return -1;
	*certs = mem_calloc(*n, sizeof(**certs));
	if (*certs == NULL)
		return -1;
	for (i = 0; i < *n; i++)
		if (x509_parse((*blocks)[i].der, (*blocks)[i].len,
		    &(*certs)[i]) != X509_OK)
			return -1;
	return 0;
}

static int
cmd_devid_server(int argc, char **argv)
{
	struct tpmdevid_roots	 roots;
	struct tpmdevid_server	*s = NULL;
	struct pem_block	*db = NULL, *eb = NULL;
	struct x509_cert	*dc = NULL, *ec = NULL;
	const char *const	*sel;
	size_t			 nd = 0, ne = 0, clen, nsel, i;
	char			*line = NULL, *chal = NULL;
	enum tpmdevid_err	 e;
	int			 rc = 1, round, rounds;

	if (argc != 4 && argc != 5)
		return 2;
	rounds = argc == 5 ? 2 : 1;
	if (load_roots(argv[2], &db, &nd, &dc) == -1 ||
	    load_roots(argv[3], &eb, &ne, &ec) == -1) {
		fprintf(stderr, "cannot read the CA files\n");
		goto out;
	}
	roots.devid = dc;
	roots.ndevid = nd;
	roots.ek = ec;
	roots.nek = ne;
	line = read_line();
	if (line == NULL)
		goto out;
	e = tpmdevid_server_start(&roots, (const uint8_t *)line,
	    strlen(line), (long long)time(NULL), &s, &chal, &clen);
	if (e != TPMDEVID_OK) {
		printf("REFUSED %s\n", tpmdevid_strerror(e));
		rc = 0;
		goto out;
	}
	printf("%s\n", chal);
	fflush(stdout);
	for (round = 0; round < rounds; round++) {
		mem_free(line);
		line = read_line();
		if (line == NULL)
			goto out;
		e = tpmdevid_server_finish(s, (const uint8_t *)line,
		    strlen(line));
		if (e != TPMDEVID_OK) {
			printf("REFUSED %s\n", tpmdevid_strerror(e));
			fflush(stdout);
			continue;
		}
		printf("ACCEPTED %s", tpmdevid_server_agent_path(s));
		nsel = tpmdevid_server_selectors(s, &sel);
		for (i = 0; i < nsel; i++)
			printf(" %s", sel[i]);
		printf("\n");
		fflush(stdout);
	}
	rc = 0;
out:
	mem_free(line);
	mem_free(chal);
	tpmdevid_server_free(s);
	mem_free(dc);
	mem_free(ec);
	pem_blocks_free(db, nd);
	pem_blocks_free(eb, ne);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct {
		const char	*name;
		int		(*fn)(int, char **);
	} cmds[] = {
		{ "keygen", cmd_keygen },
		{ "sign", cmd_sign },
		{ "persist", cmd_persist },
		{ "async", cmd_async },
		{ "slots", cmd_slots },
		{ "devid-agent", cmd_devid_agent },
		{ "devid-server", cmd_devid_server },
	};
	size_t	 i;

	log_set_level(LOG_LEVEL_INFO);
	if (argc < 2)
		goto usage;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc, argv);
	}
usage:
	fprintf(stderr, "usage: tpm_testd keygen|sign|persist|async|slots "
	    "...\n");
	return 2;
}
