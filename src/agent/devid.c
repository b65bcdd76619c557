/*
 * NodeAttestor "tpm_devid", the agent's half, as SPIRE's: the payload
 * (DevID chain and public area, EK certificate and public area, a fresh
 * AK and its certification of the DevID key) and the answer to the
 * server's challenge (the DevID's signature over the nonce, the
 * credential activated under the EK) come from src/attest/tpmdevid.c.
 * Each is one worker job: they take the TPM for a second or more (two
 * RSA key generations on a discrete part), and the loop goes on serving
 * workloads meanwhile.
 *
 * A session holds TPM objects (the AK, the DevID key's context) until
 * it is closed, which flushes them: that too is a worker job. Jobs hold
 * the session and the TPM, never the agent.
 */
#include "config.h"

#include <string.h>

#include "agent/internal.h"
#include "attest/tpmdevid.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/worker.h"

struct devid_session {
	struct worker		*worker;
	struct agent_tpm	*tpm;		/* referenced */
	struct tpmdevid_agent	*s;		/* the worker's while busy */
	int			 busy;		/* a job is out */
	int			 closing;	/* close once it is back */
	/* The options, copied: jobs may outlive the configuration. */
	char			*cert;
	char			*priv;
	char			*pub;
	char			*password;
};

enum devid_step {
	DEVID_START,
	DEVID_ANSWER,
	DEVID_CLOSE,
};

struct devid_job {
	struct devid_session	*ds;
	enum devid_step		 step;
	uint8_t			*in;
	size_t			 in_len;
	char			*out;
	size_t			 out_len;
	char			 err[256];
	devid_fn		 done;
	void			*arg;
};

static int	devid_submit(struct devid_session *, enum devid_step,
		    const uint8_t *, size_t, devid_fn, void *);
static void	devid_run(void *);
static void	devid_done(void *, int);
static void	devid_free(struct devid_session *);

static void
devid_free(struct devid_session *ds)
{
	agent_tpm_unref(ds->tpm);
	mem_free(ds->cert);
	mem_free(ds->priv);
	mem_free(ds->pub);
	if (ds->password != NULL)
		mem_free_wipe(ds->password, strlen(ds->password));
	mem_free(ds);
}

static int
devid_submit(struct devid_session *ds, enum devid_step step,
    const uint8_t *in, size_t len, devid_fn done, void *arg)
{
	struct devid_job	*j;

	j = mem_calloc(1, sizeof(*j));
	if (j == NULL)
		return -1;
	j->ds = ds;
	j->step = step;
	j->done = done;
	j->arg = arg;
	if (len > 0) {
		j->in = mem_alloc(len);
		if (j->in == NULL) {
			mem_free(j);
			return -1;
		}
		memcpy(j->in, in, len);
		j->in_len = len;
	}
	if (worker_submit(ds->worker, devid_run, devid_done, j) == -1) {
		mem_free(j->in);
		mem_free(j);
		return -1;
	}
	ds->busy = 1;
	return 0;
}

/* On the worker: the session and the TPM are this thread's now. */
static void
devid_run(void *arg)
{
	struct devid_job		*j = arg;
	struct devid_session		*ds = j->ds;
	struct tpmdevid_agent_conf	 c;
	struct tpm			*t;
	enum tpmdevid_err		 e;

	if (j->step == DEVID_CLOSE) {
		tpmdevid_agent_free(ds->s);
		ds->s = NULL;
		return;
	}
	if (j->step == DEVID_ANSWER) {
		e = tpmdevid_agent_answer(ds->s, j->in, j->in_len, &j->out,
		    &j->out_len);
		if (e != TPMDEVID_OK)
			snprintf(j->err, sizeof(j->err), "tpm_devid: %s",
			    tpmdevid_strerror(e));
		return;
	}
	t = agent_tpm_get(ds->tpm, j->err, sizeof(j->err));
	if (t == NULL)
		return;
	memset(&c, 0, sizeof(c));
	c.devid_cert_path = ds->cert;
	c.devid_priv_path = ds->priv;
	c.devid_pub_path = ds->pub;
	c.devid_password = ds->password;
	e = tpmdevid_agent_start(t, &c, &ds->s, &j->out, &j->out_len);
	if (e != TPMDEVID_OK)
		snprintf(j->err, sizeof(j->err), "tpm_devid: %s%s",
		    tpmdevid_strerror(e), e == TPMDEVID_ERR_TPM ?
		    " (the TPM's reason is logged above)" : "");
}

static void
devid_done(void *arg, int cancelled)
{
	struct devid_job	*j = arg;
	struct devid_session	*ds = j->ds;

	if (j->step == DEVID_CLOSE) {
		/* Never ran (the worker stops): flush from here. */
		if (cancelled)
			tpmdevid_agent_free(ds->s);
		devid_free(ds);
		goto out;
	}
	if (cancelled)
		snprintf(j->err, sizeof(j->err), "stopping");
	/* Still busy in the callback: a close there waits for its end. */
	j->done(j->arg, j->err[0] == '\0' ? j->out : NULL, j->out_len,
	    j->err[0] == '\0' ? NULL : j->err);
	ds->busy = 0;
	if (ds->closing)
		devid_close(ds);
out:
	if (j->out != NULL)
		mem_free_wipe(j->out, j->out_len);
	mem_free(j->in);
	mem_free(j);
}

struct devid_session *
devid_start(struct agent *a, devid_fn done, void *arg)
{
	const struct agent_tpm_devid_config	*c = &a->cfg->plugin.tpm_devid;
	struct devid_session			*ds;

	ds = mem_calloc(1, sizeof(*ds));
	if (ds == NULL)
		return NULL;
	ds->worker = a->worker;
	ds->cert = mem_strdup(c->devid_cert_path);
	ds->priv = mem_strdup(c->devid_priv_path);
	ds->pub = mem_strdup(c->devid_pub_path);
	ds->password = c->devid_password != NULL ?
	    mem_strdup(c->devid_password) : NULL;
	ds->tpm = agent_tpm_ref(a->tpm_devid);
	if (ds->cert == NULL || ds->priv == NULL || ds->pub == NULL ||
	    (c->devid_password != NULL && ds->password == NULL) ||
	    ds->tpm == NULL || devid_submit(ds, DEVID_START, NULL, 0, done,
	    arg) == -1) {
		devid_free(ds);
		return NULL;
	}
	return ds;
}

int
devid_answer(struct devid_session *ds, const uint8_t *challenge, size_t len,
    devid_fn done, void *arg)
{
	if (ds->busy || ds->s == NULL || ds->closing)
		return -1;
	return devid_submit(ds, DEVID_ANSWER, challenge, len, done, arg);
}

/*
 * Ends the session: its TPM objects are flushed on the worker, after
 * the job in flight if any. Accepts NULL.
 */
void
devid_close(struct devid_session *ds)
{
	if (ds == NULL)
		return;
	if (ds->busy) {
		ds->closing = 1;
		return;
	}
	ds->closing = 0;
	if (ds->s == NULL) {
		devid_free(ds);
		return;
	}
	if (devid_submit(ds, DEVID_CLOSE, NULL, 0, NULL, NULL) == -1) {
		/* XXX: the worker's queue is full: flushed on the loop. */
		tpmdevid_agent_free(ds->s);
		devid_free(ds);
	}
}
