/*
 * `spirelet run`, `spirelet server run`, `spirelet agent run`: load the
 * configuration, set up logging, the loop and the worker, start the
 * roles, and stop them gracefully on SIGTERM or SIGINT. SIGHUP reopens
 * the log file (for logrotate). A second SIGTERM or SIGINT while
 * stopping exits at once.
 */
#include "config.h"

#include <sys/resource.h>

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <jansson.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/options.h"
#include "core/evloop.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/worker.h"
#include "server/upstream.h"
#include "spiffe/id.h"

/* The node alias of spirelet run's own agent (doc/gateway.md). */
#define RUN_LOCAL_ALIAS		"/spirelet/agent"
#define RUN_LOCAL_TOKEN_TTL	600	/* seconds a local token is good */

struct run_flags {
	const char	*config;
	int		 expand_env;
	const char	*log_level;
	const char	*log_format;
	const char	*log_file;
	const char	*data_dir;
	const char	*socket_path;
	const char	*trust_domain;
	const char	*bind_address;
	long		 server_port;
	const char	*join_token;
	const char	*server_address;
};

/*
 * The roles of one process and their wiring (doc/architecture.md, "One
 * process"): the server, the agent serving this host's workloads (in
 * spirelet run it attests to the server next door with a join token
 * made in-process), and, under a parent without workload_api_socket,
 * the link: an agent attested to the parent whose downstream SVID
 * reaches the server's "spire" upstream through the source below.
 */
struct daemon {
	struct ev_loop	*loop;
	struct worker	*worker;
	struct options	*o;
	struct server	*server;
	struct agent	*agent;
	struct agent	*link;		/* toward the parent, or NULL */
	int		 agent_local;	/* the agent uses the local server */
	int		 agent_wanted;	/* start it once the server is up */
	char		 agent_addr[64];
	char		 alias[SPIFFE_ID_MAX + 1];
	struct agent_local_server local;
	struct upstream_svid_source source;
	upstream_svid_fn link_fn;	/* the server's upstream, watching */
	void		*link_arg;
	ev_signal	 sigterm;
	ev_signal	 sigint;
	ev_signal	 sighup;
	int		 stopping;
	int		 running;	/* roles not yet stopped */
	int		 status;	/* exit status */
};

static int	run_main(int, char *[], unsigned);
static int	run_apply_flags(struct options *, const struct run_flags *,
		    unsigned);
static int	run_logging(const struct options *);
static void	run_role_stopped(void *);
static void	run_stop_cb(struct ev_loop *, ev_signal *, int);
static void	run_hup_cb(struct ev_loop *, ev_signal *, int);
static void	run_stop(struct daemon *, const char *why);
static void	run_fatal(void *, int);
static void	run_raise_nofile(void);
static int	run_start_agent(struct daemon *);

static void
run_role_stopped(void *arg)
{
	struct daemon	*d = arg;

	if (--d->running == 0)
		ev_break(d->loop, EVBREAK_ALL);
}

static void
run_stop(struct daemon *d, const char *why)
{
	d->stopping = 1;
	log_kv(LOG_LEVEL_INFO, NULL, "stopping", "signal", why,
	    (const char *)NULL);
	/* Each stop may finish at once and call run_role_stopped. */
	d->running = (d->server != NULL) + (d->agent != NULL) +
	    (d->link != NULL) + 1;
	d->agent_wanted = 0;
	if (d->agent != NULL)
		agent_stop(d->agent, run_role_stopped, d);
	if (d->server != NULL)
		server_stop(d->server, run_role_stopped, d);
	if (d->link != NULL)
		agent_stop(d->link, run_role_stopped, d);
	run_role_stopped(d);
}

static void
run_stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon	*d = w->data;

	if (d->stopping) {
		log_kv(LOG_LEVEL_WARN, NULL, "second signal: exiting now",
		    "signal", strsignal(w->signum), (const char *)NULL);
		exit(1);
	}
	run_stop(d, strsignal(w->signum));
}

/*
 * Each Workload API caller holds a socket and a pidfd: let the process
 * have as many descriptors as its hard limit allows (capped), since a
 * soft limit of 1024 would refuse callers long before RPC_CONNS_MAX.
 */
static void
run_raise_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur >= 4 * RPC_CONNS_MAX)
		return;
	rl.rlim_cur = rl.rlim_max < 4 * RPC_CONNS_MAX ? rl.rlim_max :
	    4 * RPC_CONNS_MAX;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}

/* A role cannot go on (the agent was banned...): stop, exit status. */
static void
run_fatal(void *arg, int status)
{
	struct daemon	*d = arg;

	d->status = status;
	if (!d->stopping)
		run_stop(d, "fatal error");
}

static void
run_hup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	if (log_reopen() == -1)
		log_warn(NULL, "cannot reopen the log file");
	else
		log_info(NULL, "log file reopened");
}

/*
 * The link's SVID to the server's upstream: the agent's in-process
 * consumer form to the server's (the two roles share no header).
 */
static void
run_link_svid(void *arg, const struct agent_x509 *x)
{
	struct daemon		*d = arg;
	struct upstream_svid	 sv;

	if (d->link_fn == NULL)
		return;
	if (x == NULL) {
		d->link_fn(d->link_arg, NULL);
		return;
	}
	memset(&sv, 0, sizeof(sv));
	sv.spiffe_id = x->spiffe_id;
	sv.chain = x->chain;
	sv.chain_len = x->chain_len;
	sv.key = x->key;
	sv.key_len = x->key_len;
	sv.bundle = x->bundle;
	sv.bundle_len = x->bundle_len;
	d->link_fn(d->link_arg, &sv);
}

static void
run_link_watch(void *src, upstream_svid_fn fn, void *arg)
{
	struct daemon	*d = src;

	d->link_fn = fn;
	d->link_arg = arg;
	/* The entry the parent made for this gateway, downstream. */
	if (agent_watch_x509(d->link, 1, run_link_svid, d) == -1)
		log_error(NULL, "cannot watch the link's SVID");
}

static void
run_link_unwatch(void *src)
{
	struct daemon	*d = src;

	d->link_fn = NULL;
	d->link_arg = NULL;
	agent_unwatch_x509(d->link);
}

/*
 * The link cannot go on (banned by the parent, or its join token is
 * spent and its SVID gone): the gateway keeps serving its own agents
 * and workloads until its CA ends, as in an outage.
 */
static void
run_link_fatal(void *arg, int status)
{
	(void)arg;
	(void)status;
	log_kv(LOG_LEVEL_ERROR, NULL, "the link to the parent server has "
	    "stopped; the gateway keeps serving until its CA ends (see the "
	    "offline budget); restart it with a new join token, or attest "
	    "the link with x509pop", (const char *)NULL);
}

/* The local server, for the agent of this process. */
static int
run_local_roots(void *arg, int (*add)(void *, const uint8_t *, size_t),
    void *addarg)
{
	struct daemon	*d = arg;

	return d->server != NULL ? server_bundle_roots(d->server, add,
	    addarg) : -1;
}

static int
run_local_token(void *arg, char *tok, size_t len)
{
	struct daemon	*d = arg;

	return d->server != NULL ? server_local_token(d->server, d->alias,
	    RUN_LOCAL_TOKEN_TTL, tok, len) : -1;
}

/* The server API listens: the local agent can go. */
static void
run_server_ready(void *arg)
{
	struct daemon	*d = arg;

	if (d->server != NULL && d->agent_wanted && d->agent == NULL &&
	    run_start_agent(d) == -1)
		run_fatal(d, 1);
}

static int
run_start_agent(struct daemon *d)
{
	struct options	*o = d->o;

	d->agent_wanted = 0;
	if (d->agent_local) {
		/* Loopback to the server's port, wherever it listens. */
		o->agent.server_address = d->agent_addr;
		o->agent.server_port = server_port(d->server);
	}
	o->agent.fatal = run_fatal;
	o->agent.fatal_arg = d;
	d->agent = agent_start(d->loop, d->worker, &o->agent);
	return d->agent != NULL ? 0 : -1;
}

/*
 * spirelet run: an agent without server_address serves this host from
 * the server of the process, reached on loopback.
 */
static int
run_wire_local(struct daemon *d)
{
	struct options	*o = d->o;
	const char	*ba = o->server.bind_address;

	if (o->roles != OPTIONS_BOTH || (o->agent.server_address != NULL &&
	    *o->agent.server_address != '\0'))
		return 0;
	if (strcmp(o->agent.trust_domain, o->server.trust_domain) != 0) {
		if (strcmp(o->agent.trust_domain, "example.org") != 0) {
			log_error(NULL, "the agent's trust_domain differs from "
			    "the server's it is served by");
			return -1;
		}
		o->agent.trust_domain = o->server.trust_domain;
	}
	if (ba == NULL || *ba == '\0' || strcmp(ba, "0.0.0.0") == 0)
		ba = "127.0.0.1";
	else if (strcmp(ba, "::") == 0)
		ba = "::1";
	snprintf(d->agent_addr, sizeof(d->agent_addr), "%s", ba);
	snprintf(d->alias, sizeof(d->alias), "spiffe://%s%s",
	    o->server.trust_domain, RUN_LOCAL_ALIAS);
	d->local.roots = run_local_roots;
	d->local.join_token = run_local_token;
	d->local.arg = d;
	o->agent.local = &d->local;
	d->agent_local = 1;
	return 0;
}

/* Command-line values win over the file's, as in SPIRE. */
static int
run_apply_flags(struct options *o, const struct run_flags *fl,
    unsigned roles)
{
	enum log_level	 level;
	enum log_format	 format;

	if (fl->log_level != NULL) {
		if (log_parse_level(fl->log_level, &level) == -1) {
			fprintf(stderr, "invalid -logLevel \"%s\"\n",
			    fl->log_level);
			return -1;
		}
		o->server.log_level = o->agent.log_level = (int)level;
	}
	if (fl->log_format != NULL) {
		if (log_parse_format(fl->log_format, &format) == -1) {
			fprintf(stderr, "invalid -logFormat \"%s\"\n",
			    fl->log_format);
			return -1;
		}
		o->server.log_format = o->agent.log_format = (int)format;
	}
	if (fl->log_file != NULL)
		o->server.log_file = o->agent.log_file = fl->log_file;
	if (roles == OPTIONS_BOTH)
		return 0;
	if (fl->data_dir != NULL)
		o->server.data_dir = o->agent.data_dir = fl->data_dir;
	if (fl->socket_path != NULL)
		o->server.socket_path = o->agent.socket_path =
		    fl->socket_path;
	if (fl->trust_domain != NULL)
		o->server.trust_domain = o->agent.trust_domain =
		    fl->trust_domain;
	if (fl->bind_address != NULL)
		o->server.bind_address = fl->bind_address;
	if (fl->join_token != NULL)
		o->agent.join_token = fl->join_token;
	if (fl->server_address != NULL)
		o->agent.server_address = fl->server_address;
	if (fl->server_port != -1) {
		if (fl->server_port < 1 || fl->server_port > 65535) {
			fprintf(stderr, "invalid -serverPort %ld\n",
			    fl->server_port);
			return -1;
		}
		/* The server listens on it; the agent connects to it. */
		o->server.bind_port = fl->server_port;
		o->agent.server_port = fl->server_port;
	}
	return 0;
}

/*
 * One process, one log: the server's settings when it runs, else the
 * agent's.
 */
static int
run_logging(const struct options *o)
{
	const char	*file;
	int		 level, format;

	if (o->roles & OPTIONS_SERVER) {
		file = o->server.log_file;
		level = o->server.log_level;
		format = o->server.log_format;
	} else {
		file = o->agent.log_file;
		level = o->agent.log_level;
		format = o->agent.log_format;
	}
	log_set_level((enum log_level)level);
	log_set_format((enum log_format)format);
	if (file != NULL && *file != '\0' && log_open(file) == -1) {
		fprintf(stderr, "cannot open log file %s: %s\n", file,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
run_main(int argc, char *argv[], unsigned roles)
{
	struct run_flags	 fl = { .server_port = -1 };
	const struct flag	 both_flags[] = {
		{ "config", FLAG_STRING, &fl.config,
		    "path to a configuration file (default: built-in)" },
		{ "expandEnv", FLAG_BOOL, &fl.expand_env,
		    "expand environment variables in the configuration" },
		{ "logFile", FLAG_STRING, &fl.log_file, "file to log to" },
		{ "logFormat", FLAG_STRING, &fl.log_format, "text or json" },
		{ "logLevel", FLAG_STRING, &fl.log_level,
		    "DEBUG, INFO, WARN or ERROR" },
		{ NULL, FLAG_BOOL, NULL, NULL },
	};
	const struct flag	 role_flags[] = {
		{ "bindAddress", FLAG_STRING, &fl.bind_address,
		    "IP address or DNS name the server API listens on" },
		{ "config", FLAG_STRING, &fl.config,
		    "path to a configuration file (default: built-in)" },
		{ "dataDir", FLAG_STRING, &fl.data_dir,
		    "directory to store runtime data in" },
		{ "expandEnv", FLAG_BOOL, &fl.expand_env,
		    "expand environment variables in the configuration" },
		{ "joinToken", FLAG_STRING, &fl.join_token,
		    "agent: join token to attest with" },
		{ "logFile", FLAG_STRING, &fl.log_file, "file to log to" },
		{ "logFormat", FLAG_STRING, &fl.log_format, "text or json" },
		{ "logLevel", FLAG_STRING, &fl.log_level,
		    "DEBUG, INFO, WARN or ERROR" },
		{ "serverAddress", FLAG_STRING, &fl.server_address,
		    "agent: address of the server" },
		{ "serverPort", FLAG_INT, &fl.server_port,
		    "port the server API listens on (agent: connects to)" },
		{ "socketPath", FLAG_STRING, &fl.socket_path,
		    "path of the API's Unix socket" },
		{ "trustDomain", FLAG_STRING, &fl.trust_domain,
		    "the trust domain" },
		{ NULL, FLAG_BOOL, NULL, NULL },
	};
	struct options		 o;
	struct daemon		 d;
	int			 n, status = 1;

	n = flags_parse(roles == OPTIONS_BOTH ? both_flags : role_flags,
	    argc - 1, argv + 1);
	if (n == FLAGS_HELP)
		return 0;
	if (n < 0)
		return 2;
	if (n != argc - 1) {
		fprintf(stderr, "unexpected argument \"%s\"\n", argv[n + 1]);
		return 2;
	}
	if (options_load(&o, fl.config, fl.expand_env, roles,
	    stderr) == -1 || run_apply_flags(&o, &fl, roles) == -1 ||
	    run_logging(&o) == -1) {
		options_free(&o);
		return 1;
	}

	memset(&d, 0, sizeof(d));
	signal(SIGPIPE, SIG_IGN);
	run_raise_nofile();
	/*
	 * One malloc arena: the worker thread's own arena would keep the
	 * pages of its bursts (keys, CSRs, hashing) resident for good, and
	 * the two threads rarely allocate at once.
	 */
	(void)mallopt(M_ARENA_MAX, 1);
	d.loop = evloop_init();
	if (d.loop == NULL) {
		log_error(NULL, "libev found no usable event backend");
		goto out;
	}
	d.worker = worker_new(d.loop);
	if (d.worker == NULL)
		goto out;
	d.o = &o;
	if (o.has_upstream_agent) {
		o.upstream_agent.fatal = run_link_fatal;
		o.upstream_agent.fatal_arg = &d;
		d.link = agent_start(d.loop, d.worker, &o.upstream_agent);
		if (d.link == NULL)
			goto out;
		d.source.watch = run_link_watch;
		d.source.unwatch = run_link_unwatch;
		d.source.src = &d;
		o.server.upstream_source = &d.source;
	}
	if ((roles & OPTIONS_AGENT) && run_wire_local(&d) == -1)
		goto out;
	if (roles & OPTIONS_SERVER) {
		o.server.ready = run_server_ready;
		o.server.ready_arg = &d;
		o.server.fatal = run_fatal;
		o.server.fatal_arg = &d;
		d.server = server_start(d.loop, d.worker, &o.server);
		if (d.server == NULL)
			goto out;
	}
	if (roles & OPTIONS_AGENT) {
		/* The local agent waits for the server's first CA. */
		if (d.agent_local && !server_ready(d.server))
			d.agent_wanted = 1;
		else if (run_start_agent(&d) == -1)
			goto out;
	}
	ev_signal_init(&d.sigterm, run_stop_cb, SIGTERM);
	ev_signal_init(&d.sigint, run_stop_cb, SIGINT);
	ev_signal_init(&d.sighup, run_hup_cb, SIGHUP);
	d.sigterm.data = d.sigint.data = d.sighup.data = &d;
	ev_signal_start(d.loop, &d.sigterm);
	ev_signal_start(d.loop, &d.sigint);
	ev_signal_start(d.loop, &d.sighup);
	log_kv(LOG_LEVEL_INFO, NULL, "started", "version", PACKAGE_VERSION,
	    "roles", roles == OPTIONS_BOTH ? "server,agent" :
	    roles == OPTIONS_SERVER ? "server" : "agent", (const char *)NULL);
	ev_run(d.loop, 0);
	status = d.status;
	log_info(NULL, "stopped");
out:
	if (d.loop != NULL) {
		ev_signal_stop(d.loop, &d.sigterm);
		ev_signal_stop(d.loop, &d.sigint);
		ev_signal_stop(d.loop, &d.sighup);
	}
	agent_free(d.agent);
	/* The server's upstream watches the link: the link goes last. */
	server_free(d.server);
	agent_free(d.link);
	worker_free(d.worker);
	if (d.loop != NULL)
		ev_loop_destroy(d.loop);
	options_free(&o);
	log_close();
	return status;
}

int
cli_run_both(int argc, char *argv[])
{
	return run_main(argc, argv, OPTIONS_BOTH);
}

int
cli_run_server(int argc, char *argv[])
{
	return run_main(argc, argv, OPTIONS_SERVER);
}

int
cli_run_agent(int argc, char *argv[])
{
	return run_main(argc, argv, OPTIONS_AGENT);
}
