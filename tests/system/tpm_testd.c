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
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "core/log.h"
#include "core/worker.h"
#include "hal/key.h"
#include "hal/tpm.h"

static struct tpm	*open_tpm(const char *);
static void		 hex_print(const char *, const uint8_t *, size_t);
static int		 sign_verify(struct key *);
static int		 cmd_keygen(int, char **);
static int		 cmd_sign(int, char **);
static int		 cmd_persist(int, char **);
static int		 cmd_async(int, char **);
static int		 cmd_slots(int, char **);

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

static int
cmd_keygen(int argc, char **argv)
{
	struct tpm	*t;
	struct key	*k;
	const uint8_t	*spki;
	uint8_t		*pkcs8 = NULL;
	size_t		 n, plen;
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
	spki = key_spki(k, &n);
	hex_print("spki", spki, n);
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
	const uint8_t	*spki;
	size_t		 n;
	enum key_err	 e;
	int		 rc = 1;

	if (argc != 4)
		return 2;
	t = open_tpm(argv[2]);
	if (t == NULL)
		return 1;
	k = key_tpm_load_file(t, argv[3], NULL, &e);
	if (k == NULL) {
		fprintf(stderr, "key_tpm_load_file: %s\n", key_strerror(e));
		goto out;
	}
	if (sign_verify(k) == -1)
		goto out;
	spki = key_spki(k, &n);
	hex_print("spki", spki, n);
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
	k = key_tpm_load_file(t, argv[3], NULL, &e);
	if (k == NULL) {
		fprintf(stderr, "key_tpm_load_file: %s\n", key_strerror(e));
		goto out;
	}
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
	k = key_tpm_load_file(t, argv[3], NULL, &e);
	if (k == NULL) {
		fprintf(stderr, "key_tpm_load_file: %s\n", key_strerror(e));
		goto out;
	}
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

int
main(int argc, char **argv)
{
	log_set_level(LOG_LEVEL_INFO);
	if (argc < 2)
		goto usage;
	if (strcmp(argv[1], "keygen") == 0)
		return cmd_keygen(argc, argv);
	if (strcmp(argv[1], "sign") == 0)
		return cmd_sign(argc, argv);
	if (strcmp(argv[1], "persist") == 0)
		return cmd_persist(argc, argv);
	if (strcmp(argv[1], "async") == 0)
		return cmd_async(argc, argv);
	if (strcmp(argv[1], "slots") == 0)
		return cmd_slots(argc, argv);
usage:
	fprintf(stderr, "usage: tpm_testd keygen|sign|persist|async|slots "
	    "...\n");
	return 2;
}
