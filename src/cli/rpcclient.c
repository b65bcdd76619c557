/* Blocking unary and server-stream calls for the command-line tools. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <ev.h>

#include "cli/rpcclient.h"
#include "core/log.h"
#include "rpc/client.h"

struct wait {
	struct ev_loop		*loop;
	struct cli_result	*out;
	int			 done;
};

/* One server stream in progress. */
struct stream {
	struct ev_loop		*loop;
	struct cli_result	*out;
	struct rpc_call		*call;
	cli_stream_fn		 fn;
	void			*arg;
	int			 done;		/* on_close ran */
	int			 stop;		/* fn or a signal ended it */
};

static void	cli_unary_done(void *, const struct rpc_result *);
static void	cli_stream_message(struct rpc_call *, const uint8_t *, size_t,
		    void *);
static void	cli_stream_close(struct rpc_call *, const struct rpc_result *,
		    void *);
static void	cli_stream_signal(struct ev_loop *, ev_signal *, int);
static void	cli_sleep_done(struct ev_loop *, ev_timer *, int);
static void	cli_sleep_signal(struct ev_loop *, ev_signal *, int);

static const struct rpc_client_cbs stream_cbs = {
	.on_message = cli_stream_message,
	.on_close = cli_stream_close,
};

static void
cli_unary_done(void *arg, const struct rpc_result *r)
{
	struct wait	*w = arg;

	w->out->code = r->code;
	snprintf(w->out->message, sizeof(w->out->message), "%s",
	    r->message != NULL ? r->message : "");
	w->done = 1;
	ev_break(w->loop, EVBREAK_ALL);
}

int
cli_unary(const char *target, const char *path,
    const pb_msgdesc_t *req_fields, const void *req,
    const pb_msgdesc_t *resp_fields, void *resp, double timeout,
    struct cli_result *out)
{
	return cli_unary_md(target, path, NULL, 0, req_fields, req,
	    resp_fields, resp, timeout, out);
}

int
cli_unary_md(const char *target, const char *path, const struct rpc_md *md,
    size_t nmd, const pb_msgdesc_t *req_fields, const void *req,
    const pb_msgdesc_t *resp_fields, void *resp, double timeout,
    struct cli_result *out)
{
	struct rpc_channel_opts	 co;
	struct rpc_channel	*ch = NULL;
	struct wait		 w;
	int			 rc = -1;

	memset(out, 0, sizeof(*out));
	memset(&w, 0, sizeof(w));
	w.out = out;
	w.loop = ev_loop_new(EVFLAG_AUTO);
	if (w.loop == NULL)
		return -1;
	memset(&co, 0, sizeof(co));
	co.target = target;
	ch = rpc_channel_new(w.loop, &co);
	if (ch == NULL)
		goto out;
	if (rpc_client_unary(ch, path, md, nmd, timeout, req_fields, req,
	    resp_fields, resp, cli_unary_done, &w) == -1)
		goto out;
	while (!w.done)
		ev_run(w.loop, 0);
	rc = 0;
out:
	rpc_channel_free(ch);
	ev_loop_destroy(w.loop);
	return rc;
}

static void
cli_stream_message(struct rpc_call *call, const uint8_t *p, size_t len,
    void *arg)
{
	struct stream	*s = arg;

	if (s->stop)
		return;
	if (s->fn(s->arg, p, len) != 0) {
		/* Cancelled from the loop's caller, outside this callback. */
		s->stop = 1;
		rpc_call_pause(call, 1);
		ev_break(s->loop, EVBREAK_ALL);
	}
}

static void
cli_stream_close(struct rpc_call *call, const struct rpc_result *r,
    void *arg)
{
	struct stream	*s = arg;

	(void)call;
	s->done = 1;
	s->call = NULL;
	if (!s->stop) {
		s->out->code = r->code;
		snprintf(s->out->message, sizeof(s->out->message), "%s",
		    r->message != NULL ? r->message : "");
	}
	ev_break(s->loop, EVBREAK_ALL);
}

static void
cli_stream_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct stream	*s = w->data;

	(void)revents;
	s->stop = 1;
	s->out->interrupted = 1;
	s->out->code = GRPC_STATUS_CANCELLED;
	snprintf(s->out->message, sizeof(s->out->message), "interrupted");
	ev_break(loop, EVBREAK_ALL);
}

int
cli_stream(const struct cli_stream_opts *o, cli_stream_fn fn, void *arg,
    struct cli_result *out)
{
	struct rpc_channel_opts	 co;
	struct rpc_channel	*ch = NULL;
	struct stream		 s;
	ev_signal		 sigint, sigterm;
	enum rpc_err		 e;
	int			 rc = -1;

	memset(out, 0, sizeof(*out));
	memset(&s, 0, sizeof(s));
	s.out = out;
	s.fn = fn;
	s.arg = arg;
	s.loop = ev_loop_new(EVFLAG_AUTO);
	if (s.loop == NULL)
		return -1;
	ev_signal_init(&sigint, cli_stream_signal, SIGINT);
	ev_signal_init(&sigterm, cli_stream_signal, SIGTERM);
	sigint.data = sigterm.data = &s;
	if (o->interruptible) {
		ev_signal_start(s.loop, &sigint);
		ev_signal_start(s.loop, &sigterm);
	}
	memset(&co, 0, sizeof(co));
	co.target = o->target;
	ch = rpc_channel_new(s.loop, &co);
	if (ch == NULL)
		goto out;
	s.call = rpc_client_call(ch, o->path, o->md, o->nmd, o->timeout, 0,
	    &stream_cbs, &s);
	if (s.call == NULL)
		goto out;
	e = rpc_call_send_pb(s.call, o->req_fields, o->req);
	if (e == RPC_ERR_OK)
		e = rpc_call_close_send(s.call);
	if (e != RPC_ERR_OK) {
		log_warnx("rpc", "%s: request not sent: %s", o->path,
		    rpc_strerror(e));
		s.stop = 1;
		rpc_call_cancel(s.call);
		goto out;
	}
	while (!s.done && !s.stop)
		ev_run(s.loop, 0);
	/* fn or a signal ended it: on_close runs within the cancel. */
	if (!s.done && s.call != NULL)
		rpc_call_cancel(s.call);
	rc = 0;
out:
	rpc_channel_free(ch);
	if (o->interruptible) {
		ev_signal_stop(s.loop, &sigint);
		ev_signal_stop(s.loop, &sigterm);
	}
	ev_loop_destroy(s.loop);
	return rc;
}

static void
cli_sleep_done(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void
cli_sleep_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	int	*hit = w->data;

	(void)revents;
	*hit = 1;
	ev_break(loop, EVBREAK_ALL);
}

int
cli_sleep(double sec)
{
	struct ev_loop	*loop;
	ev_timer	 t;
	ev_signal	 sigint, sigterm;
	int		 hit = 0;

	loop = ev_loop_new(EVFLAG_AUTO);
	if (loop == NULL)
		return -1;
	ev_timer_init(&t, cli_sleep_done, sec, 0);
	ev_signal_init(&sigint, cli_sleep_signal, SIGINT);
	ev_signal_init(&sigterm, cli_sleep_signal, SIGTERM);
	sigint.data = sigterm.data = &hit;
	ev_timer_start(loop, &t);
	ev_signal_start(loop, &sigint);
	ev_signal_start(loop, &sigterm);
	ev_run(loop, 0);
	ev_timer_stop(loop, &t);
	ev_signal_stop(loop, &sigint);
	ev_signal_stop(loop, &sigterm);
	ev_loop_destroy(loop);
	return hit;
}
