/* Blocking unary calls for the command-line tools. */
#include "config.h"

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

static void	cli_unary_done(void *, const struct rpc_result *);

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
	if (rpc_client_unary(ch, path, NULL, 0, timeout, req_fields, req,
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
