/*
 * rpc_testd: the gRPC layer's test harness, for the system tests.
 *
 *   rpc_testd serve [-u unix:PATH] [-t HOST:PORT] [-T HOST:PORT] [-m MAX]
 *       [-h SEC] [-r READYFILE] [-c CERTDIR]
 *	serves spirelet.test.Echo and grpc.health.v1 on a Unix socket
 *	(mode 0777), plain TCP and TLS TCP (-T, certificates from CERTDIR);
 *	writes "tcp PORT" / "tls PORT" lines to READYFILE once listening;
 *	SIGTERM stops gracefully.
 *   rpc_testd client TARGET [-c CERTDIR] [-n N]
 *	calls a grpcio Echo server in all four shapes and checks the
 *	answers; -n N makes N unary calls one after another instead.
 *   rpc_testd tpmclient TARGET -c CERTDIR -k TCTI -p SWTPM_PID [-n N]
 *	calls TARGET over mTLS with a key in the TPM (rpc_testd_tpm.c).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <pb_decode.h>
#include <pb_encode.h>

#include "core/evloop.h"
#include "core/log.h"
#include "core/mem.h"
#include "echo.pb.h"
#include "google/rpc/status.pb.h"
#include "rpc/client.h"
#include "rpc/grpc.h"
#include "rpc/health.h"
#include "rpc/server.h"
#include "rpc/tls.h"

#define CHUNK_MAX	60000

static struct ev_loop	*loop;
static struct rpc_server *srv;
static struct rpc_health *health;
static long		 stat_cancels, stat_calls, stat_open;
static int		 stopped;

/* Server side. */

static void
reply_free(spirelet_test_EchoReply *r)
{
	pb_release(spirelet_test_EchoReply_fields, r);
}

/* Fills r->chunks with size bytes in chunks of at most CHUNK_MAX. */
static int
reply_fill(spirelet_test_EchoReply *r, size_t size, int seed)
{
	size_t	 n, i, len;

	n = (size + CHUNK_MAX - 1) / CHUNK_MAX;
	if (n == 0)
		return 0;
	r->chunks = mem_calloc(n, sizeof(*r->chunks));
	if (r->chunks == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		len = size - i * CHUNK_MAX;
		if (len > CHUNK_MAX)
			len = CHUNK_MAX;
		r->chunks[i] = malloc(PB_BYTES_ARRAY_T_ALLOCSIZE(len));
		if (r->chunks[i] == NULL)
			return -1;
		r->chunks[i]->size = (pb_size_t)len;
		memset(r->chunks[i]->bytes, 'a' + (seed + (int)i) % 26, len);
		r->chunks_count++;
	}
	r->total = (int64_t)size;
	return 0;
}

static void
call_end(struct rpc_call *call, enum grpc_status code, const char *msg)
{
	stat_open--;
	rpc_call_finish(call, code, msg, NULL, 0);
}

static void
send_or_fail(struct rpc_call *call, spirelet_test_EchoReply *r)
{
	enum rpc_err	 e;

	e = rpc_call_send_pb(call, spirelet_test_EchoReply_fields, r);
	reply_free(r);
	if (e == RPC_ERR_TOOBIG)
		call_end(call, GRPC_STATUS_RESOURCE_EXHAUSTED,
		    "reply over the size limit");
	else if (e != RPC_ERR_OK)
		call_end(call, GRPC_STATUS_INTERNAL, rpc_strerror(e));
	else
		call_end(call, GRPC_STATUS_OK, NULL);
}

static void
echo_unary(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	spirelet_test_EchoRequest	 in;
	spirelet_test_EchoReply		 out;
	const struct transport_peer	*peer;
	const char			*v;
	char				 text[160];
	pb_size_t			 i;

	(void)arg;
	stat_calls++;
	stat_open++;
	memset(&in, 0, sizeof(in));
	memset(&out, 0, sizeof(out));
	if (rpc_decode(req, len, spirelet_test_EchoRequest_fields, &in) ==
	    -1) {
		call_end(call, GRPC_STATUS_INVALID_ARGUMENT, "bad request");
		return;
	}
	for (i = 0; i < in.chunks_count; i++)
		out.total += in.chunks[i]->size;
	out.number = in.number;
	out.count = in.chunks_count;
	text[0] = '\0';
	if (in.text != NULL && strcmp(in.text, "metadata") == 0) {
		v = rpc_call_metadata(call, "workload.spiffe.io");
		snprintf(text, sizeof(text), "%s", v != NULL ? v : "");
	} else if (in.text != NULL && strcmp(in.text, "peer") == 0) {
		peer = rpc_call_peer(call);
		if (peer->has_cred)
			snprintf(text, sizeof(text), "uid=%d pid=%d",
			    (int)peer->uid, (int)peer->pid);
		else
			snprintf(text, sizeof(text), "addr=%s id=%s",
			    peer->addr, peer->spiffe_id != NULL ?
			    peer->spiffe_id : "none");
	} else if (in.text != NULL)
		snprintf(text, sizeof(text), "%s", in.text);
	out.text = text;
	if (!(in.flags & 1)) {
		out.chunks = in.chunks;
		out.chunks_count = in.chunks_count;
		in.chunks = NULL;
		in.chunks_count = 0;
	}
	pb_release(spirelet_test_EchoRequest_fields, &in);
	out.text = mem_strdup(text);
	send_or_fail(call, &out);
}

/* A server stream that waits for room instead of queueing forever. */
struct stream_state {
	int	 sent;
	int	 count;
	int	 size;
};

static void
stream_pump(struct rpc_call *call)
{
	struct stream_state	*st = rpc_call_data(call);
	spirelet_test_EchoReply	 out;
	enum rpc_err		 e;

	while (st->sent < st->count) {
		memset(&out, 0, sizeof(out));
		out.number = st->sent;
		if (reply_fill(&out, (size_t)st->size, st->sent) == -1) {
			reply_free(&out);
			break;
		}
		e = rpc_call_send_pb(call, spirelet_test_EchoReply_fields,
		    &out);
		reply_free(&out);
		if (e == RPC_ERR_WOULDBLOCK)
			return;
		if (e != RPC_ERR_OK) {
			rpc_call_set_data(call, NULL);
			mem_free(st);
			call_end(call, e == RPC_ERR_TOOBIG ?
			    GRPC_STATUS_RESOURCE_EXHAUSTED :
			    GRPC_STATUS_INTERNAL, rpc_strerror(e));
			return;
		}
		st->sent++;
	}
	rpc_call_set_data(call, NULL);
	mem_free(st);
	call_end(call, GRPC_STATUS_OK, NULL);
}

static void
echo_stream(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	spirelet_test_StreamRequest	 in;
	struct stream_state		*st;

	(void)arg;
	stat_calls++;
	stat_open++;
	memset(&in, 0, sizeof(in));
	if (rpc_decode(req, len, spirelet_test_StreamRequest_fields, &in) ==
	    -1 || in.count < 0 || in.size < 0) {
		call_end(call, GRPC_STATUS_INVALID_ARGUMENT, "bad request");
		return;
	}
	st = mem_calloc(1, sizeof(*st));
	if (st == NULL) {
		call_end(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "no memory");
		return;
	}
	st->count = in.count;
	st->size = in.size;
	rpc_call_set_data(call, st);
	stream_pump(call);
}

static void
stream_writable(struct rpc_call *call, void *arg)
{
	(void)arg;
	if (rpc_call_data(call) != NULL)
		stream_pump(call);
}

static void
stream_cancel(struct rpc_call *call, enum grpc_status why, void *arg)
{
	(void)arg;
	(void)why;
	stat_cancels++;
	mem_free(rpc_call_data(call));
	rpc_call_set_data(call, NULL);
	call_end(call, GRPC_STATUS_CANCELLED, NULL);
}

/* Client streaming: sums numbers, concatenates texts. */
struct sum_state {
	int64_t	 number;
	int64_t	 count;
	int64_t	 total;
	char	 text[256];
};

static void
sum_open(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	(void)req;
	(void)len;
	(void)arg;
	stat_calls++;
	stat_open++;
	rpc_call_set_data(call, mem_calloc(1, sizeof(struct sum_state)));
	if (rpc_call_data(call) == NULL)
		call_end(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "no memory");
}

static void
sum_message(struct rpc_call *call, const uint8_t *p, size_t len, void *arg)
{
	struct sum_state		*s = rpc_call_data(call);
	spirelet_test_EchoRequest	 in;
	pb_size_t			 i;
	size_t				 n;

	(void)arg;
	if (s == NULL)
		return;
	memset(&in, 0, sizeof(in));
	if (rpc_decode(p, len, spirelet_test_EchoRequest_fields, &in) ==
	    -1) {
		mem_free(s);
		rpc_call_set_data(call, NULL);
		call_end(call, GRPC_STATUS_INVALID_ARGUMENT, "bad message");
		return;
	}
	s->number += in.number;
	s->count++;
	for (i = 0; i < in.chunks_count; i++)
		s->total += in.chunks[i]->size;
	n = strlen(s->text);
	if (in.text != NULL)
		snprintf(s->text + n, sizeof(s->text) - n, "%s", in.text);
	pb_release(spirelet_test_EchoRequest_fields, &in);
}

static void
sum_half_close(struct rpc_call *call, void *arg)
{
	struct sum_state	*s = rpc_call_data(call);
	spirelet_test_EchoReply	 out;

	(void)arg;
	if (s == NULL)
		return;
	memset(&out, 0, sizeof(out));
	out.number = s->number;
	out.count = s->count;
	out.total = s->total;
	out.text = mem_strdup(s->text);
	mem_free(s);
	rpc_call_set_data(call, NULL);
	send_or_fail(call, &out);
}

static void
sum_cancel(struct rpc_call *call, enum grpc_status why, void *arg)
{
	(void)why;
	(void)arg;
	stat_cancels++;
	mem_free(rpc_call_data(call));
	rpc_call_set_data(call, NULL);
	call_end(call, GRPC_STATUS_CANCELLED, NULL);
}

/* Bidi: echoes each message as it comes. */
static void
bidi_open(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	(void)req;
	(void)len;
	(void)arg;
	stat_calls++;
	stat_open++;
	rpc_call_set_data(call, call);
}

static void
bidi_message(struct rpc_call *call, const uint8_t *p, size_t len,
    void *arg)
{
	spirelet_test_EchoRequest	 in;
	spirelet_test_EchoReply		 out;
	enum rpc_err			 e;

	(void)arg;
	if (rpc_call_data(call) == NULL)
		return;
	memset(&in, 0, sizeof(in));
	memset(&out, 0, sizeof(out));
	if (rpc_decode(p, len, spirelet_test_EchoRequest_fields, &in) ==
	    -1) {
		rpc_call_set_data(call, NULL);
		call_end(call, GRPC_STATUS_INVALID_ARGUMENT, "bad message");
		return;
	}
	out.text = in.text;
	out.number = in.number;
	out.count = in.chunks_count;
	e = rpc_call_send_pb(call, spirelet_test_EchoReply_fields, &out);
	pb_release(spirelet_test_EchoRequest_fields, &in);
	if (e != RPC_ERR_OK) {
		rpc_call_set_data(call, NULL);
		call_end(call, GRPC_STATUS_INTERNAL, rpc_strerror(e));
	}
}

static void
bidi_half_close(struct rpc_call *call, void *arg)
{
	(void)arg;
	if (rpc_call_data(call) == NULL)
		return;
	rpc_call_set_data(call, NULL);
	call_end(call, GRPC_STATUS_OK, NULL);
}

static void
bidi_cancel(struct rpc_call *call, enum grpc_status why, void *arg)
{
	(void)why;
	(void)arg;
	stat_cancels++;
	if (rpc_call_data(call) == NULL)
		return;
	rpc_call_set_data(call, NULL);
	call_end(call, GRPC_STATUS_CANCELLED, NULL);
}

static void
echo_fail(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	spirelet_test_FailRequest	 in;
	struct grpc_detail		 d;

	(void)arg;
	stat_calls++;
	stat_open++;
	memset(&in, 0, sizeof(in));
	if (rpc_decode(req, len, spirelet_test_FailRequest_fields, &in) ==
	    -1 || in.code <= 0 || in.code >= GRPC_STATUS_COUNT) {
		call_end(call, GRPC_STATUS_INVALID_ARGUMENT, "bad request");
		return;
	}
	stat_open--;
	if (in.detail_type_url != NULL && in.detail_type_url[0] != '\0') {
		d.type_url = in.detail_type_url;
		d.value = in.detail_value != NULL ? in.detail_value->bytes :
		    NULL;
		d.len = in.detail_value != NULL ? in.detail_value->size : 0;
		rpc_call_finish(call, (enum grpc_status)in.code, in.message,
		    &d, 1);
	} else
		rpc_call_finish(call, (enum grpc_status)in.code, in.message,
		    NULL, 0);
	pb_release(spirelet_test_FailRequest_fields, &in);
}

/* Sleep: answers from a timer later, unless cancelled first. */
struct sleeper {
	ev_timer	 t;
	struct rpc_call	*call;
};

static void
sleep_done(struct ev_loop *l, ev_timer *w, int revents)
{
	struct sleeper		*s = w->data;
	spirelet_test_EchoReply	 out;

	(void)l;
	(void)revents;
	memset(&out, 0, sizeof(out));
	out.text = mem_strdup("slept");
	rpc_call_set_data(s->call, NULL);
	send_or_fail(s->call, &out);
	mem_free(s);
}

static void
echo_sleep(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	spirelet_test_SleepRequest	 in;
	struct sleeper			*s;

	(void)arg;
	stat_calls++;
	stat_open++;
	memset(&in, 0, sizeof(in));
	if (rpc_decode(req, len, spirelet_test_SleepRequest_fields, &in) ==
	    -1 || (s = mem_calloc(1, sizeof(*s))) == NULL) {
		call_end(call, GRPC_STATUS_INVALID_ARGUMENT, "bad request");
		return;
	}
	s->call = call;
	ev_timer_init(&s->t, sleep_done, in.ms / 1000., 0.);
	s->t.data = s;
	ev_timer_start(loop, &s->t);
	rpc_call_set_data(call, s);
}

static void
sleep_cancel(struct rpc_call *call, enum grpc_status why, void *arg)
{
	struct sleeper	*s = rpc_call_data(call);

	(void)arg;
	stat_cancels++;
	log_info("testd", "sleep cancelled: %s", grpc_status_name(why));
	if (s != NULL) {
		ev_timer_stop(loop, &s->t);
		mem_free(s);
	}
	call_end(call, GRPC_STATUS_CANCELLED, NULL);
}

static void
echo_stats(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg)
{
	spirelet_test_StatsReply	 out;
	enum rpc_err			 e;

	(void)req;
	(void)len;
	(void)arg;
	memset(&out, 0, sizeof(out));
	out.cancels = stat_cancels;
	out.calls = stat_calls;
	out.open = stat_open;
	e = rpc_call_send_pb(call, spirelet_test_StatsReply_fields, &out);
	rpc_call_finish(call, e == RPC_ERR_OK ? GRPC_STATUS_OK :
	    GRPC_STATUS_INTERNAL, NULL, NULL, 0);
}

static const struct rpc_method echo_methods[] = {
	{ "/spirelet.test.Echo/Unary", RPC_UNARY, echo_unary, NULL, NULL,
	    NULL, NULL, NULL },
	{ "/spirelet.test.Echo/ServerStream", RPC_SERVER_STREAM, echo_stream,
	    NULL, NULL, stream_cancel, stream_writable, NULL },
	{ "/spirelet.test.Echo/ClientStream", RPC_CLIENT_STREAM, sum_open,
	    sum_message, sum_half_close, sum_cancel, NULL, NULL },
	{ "/spirelet.test.Echo/Bidi", RPC_BIDI, bidi_open, bidi_message,
	    bidi_half_close, bidi_cancel, NULL, NULL },
	{ "/spirelet.test.Echo/Fail", RPC_UNARY, echo_fail, NULL, NULL, NULL,
	    NULL, NULL },
	{ "/spirelet.test.Echo/Sleep", RPC_UNARY, echo_sleep, NULL, NULL,
	    sleep_cancel, NULL, NULL },
	{ "/spirelet.test.Echo/Stats", RPC_UNARY, echo_stats, NULL, NULL,
	    NULL, NULL, NULL },
};

static void
stop_done(void *arg)
{
	(void)arg;
	log_info("testd", "stopped");
	ev_break(loop, EVBREAK_ALL);
}

static void
on_signal(struct ev_loop *l, ev_signal *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	if (stopped++)
		return;
	rpc_server_stop(srv, stop_done, NULL);
}

/* TLS hooks; filled in by tls_setup() when TLS is built in. */
static struct tls_ctx	*tls_setup(const char *, int);
static void		 tls_teardown(struct tls_ctx *);

static int
serve(int argc, char *argv[])
{
	struct rpc_listen_opts	 o;
	struct rpc_listener	*l;
	ev_signal		 sterm, sint;
	const char		*unix_addr = NULL, *tcp = NULL, *tlstcp = NULL;
	const char		*ready = NULL, *certdir = NULL;
	struct tls_ctx		*tls = NULL;
	double			 handshake = 0;
	size_t			 msg_max = 0;
	FILE			*f = NULL;
	int			 ch;

	while ((ch = getopt(argc, argv, "u:t:T:m:h:r:c:")) != -1) {
		switch (ch) {
		case 'u':
			unix_addr = optarg;
			break;
		case 't':
			tcp = optarg;
			break;
		case 'T':
			tlstcp = optarg;
			break;
		case 'm':
			msg_max = strtoul(optarg, NULL, 10);
			break;
		case 'h':
			handshake = strtod(optarg, NULL);
			break;
		case 'r':
			ready = optarg;
			break;
		case 'c':
			certdir = optarg;
			break;
		default:
			return 2;
		}
	}
	srv = rpc_server_new(loop);
	health = rpc_health_new();
	if (srv == NULL || health == NULL ||
	    rpc_server_add_methods(srv, echo_methods,
	    sizeof(echo_methods) / sizeof(echo_methods[0])) == -1 ||
	    rpc_health_register(health, srv) == -1 ||
	    rpc_health_set(health, "spirelet.test.Echo",
	    RPC_HEALTH_SERVING) == -1 ||
	    rpc_health_set(health, "spirelet.test.Down",
	    RPC_HEALTH_NOT_SERVING) == -1)
		return 1;
	if (ready != NULL && (f = fopen(ready, "w")) == NULL)
		return 1;
	memset(&o, 0, sizeof(o));
	o.msg_max = msg_max;
	o.handshake = handshake;
	if (unix_addr != NULL) {
		o.addr = unix_addr;
		o.mode = 0777;
		if (rpc_server_listen(srv, &o) == NULL)
			return 1;
		if (f != NULL)
			fprintf(f, "unix %s\n", unix_addr);
	}
	if (tcp != NULL) {
		o.addr = tcp;
		if ((l = rpc_server_listen(srv, &o)) == NULL)
			return 1;
		if (f != NULL)
			fprintf(f, "tcp %d\n", rpc_listener_port(l));
	}
	if (tlstcp != NULL) {
		tls = tls_setup(certdir, TLS_ROLE_SERVER);
		o.addr = tlstcp;
		o.tls = tls;
		if (tls == NULL || (l = rpc_server_listen(srv, &o)) == NULL)
			return 1;
		if (f != NULL)
			fprintf(f, "tls %d\n", rpc_listener_port(l));
	}
	if (f != NULL && fclose(f) != 0)
		return 1;
	ev_signal_init(&sterm, on_signal, SIGTERM);
	ev_signal_start(loop, &sterm);
	ev_signal_init(&sint, on_signal, SIGINT);
	ev_signal_start(loop, &sint);
	ev_run(loop, 0);
	rpc_server_free(srv);
	rpc_health_free(health);
	tls_teardown(tls);
	return 0;
}

/* Client side: a sequence of checks, one call at a time. */

static struct rpc_channel *chan;
static int		 failures, step, loops_left;
static void		 next_step(void);

struct check {
	const char			*name;
	int				 nreplies;
	int64_t				 sum;
	char				 text[256];
	spirelet_test_EchoReply		 unary_reply;
};

static struct check	 cur;

static void
check_result(int ok, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
check_result(int ok, const char *fmt, ...)
{
	va_list	 ap;

	printf(ok ? "ok %s" : "FAIL %s: ", cur.name);
	if (!ok) {
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		failures++;
	}
	printf("\n");
	fflush(stdout);
}

static void
on_reply(struct rpc_call *call, const uint8_t *p, size_t len, void *arg)
{
	spirelet_test_EchoReply	 r;
	size_t			 n;

	(void)call;
	(void)arg;
	memset(&r, 0, sizeof(r));
	if (rpc_decode(p, len, spirelet_test_EchoReply_fields, &r) == -1) {
		cur.nreplies = -1000;
		return;
	}
	cur.nreplies++;
	cur.sum += r.number + r.total;
	n = strlen(cur.text);
	if (r.text != NULL)
		snprintf(cur.text + n, sizeof(cur.text) - n, "%s", r.text);
	pb_release(spirelet_test_EchoReply_fields, &r);
}

static void
on_done(struct rpc_call *call, const struct rpc_result *res, void *arg)
{
	google_rpc_Status	 st;
	int			 ok = 0;

	(void)call;
	(void)arg;
	/* step already names the next check. */
	switch (step - 1) {
	case 1:	/* server stream: 5 replies of 1000 bytes, numbers 0..4 */
		check_result(res->code == GRPC_STATUS_OK &&
		    cur.nreplies == 5 && cur.sum == 5000 + 10,
		    "%s %s replies %d sum %lld", grpc_status_name(res->code),
		    res->message, cur.nreplies, (long long)cur.sum);
		break;
	case 2:	/* client stream */
		check_result(res->code == GRPC_STATUS_OK &&
		    cur.nreplies == 1 && strcmp(cur.text, "abc") == 0 &&
		    cur.sum == 6, "%s %s replies %d text %s sum %lld",
		    grpc_status_name(res->code), res->message, cur.nreplies,
		    cur.text, (long long)cur.sum);
		break;
	case 3:	/* bidi */
		check_result(res->code == GRPC_STATUS_OK &&
		    cur.nreplies == 3 && strcmp(cur.text, "xyz") == 0 &&
		    cur.sum == 60, "%s replies %d text %s",
		    grpc_status_name(res->code), cur.nreplies, cur.text);
		break;
	case 4:	/* fail with details */
		if (res->code == GRPC_STATUS_NOT_FOUND &&
		    strcmp(res->message, "nope: \xc3\xa9t\xc3\xa9 100%") == 0 &&
		    res->details_len > 0 &&
		    grpc_details_decode(res->details, res->details_len,
		    &st) == 0) {
			ok = st.code == GRPC_STATUS_NOT_FOUND &&
			    st.details_count == 1 &&
			    strcmp(st.details[0].type_url,
			    "type.example/spirelet.Test") == 0 &&
			    st.details[0].value != NULL &&
			    st.details[0].value->size == 3 &&
			    memcmp(st.details[0].value->bytes, "\x01\x02\x03",
			    3) == 0;
			pb_release(google_rpc_Status_fields, &st);
		}
		check_result(ok, "%s \"%s\" details %zu",
		    grpc_status_name(res->code), res->message,
		    res->details_len);
		break;
	case 5:	/* deadline */
		check_result(res->code == GRPC_STATUS_DEADLINE_EXCEEDED,
		    "%s %s", grpc_status_name(res->code), res->message);
		break;
	case 6:	/* unknown method */
		check_result(res->code == GRPC_STATUS_UNIMPLEMENTED, "%s %s",
		    grpc_status_name(res->code), res->message);
		break;
	case 7:	/* a 3 MiB request */
		check_result(res->code == GRPC_STATUS_OK &&
		    cur.sum == 3 * 1024 * 1024 + 1, "%s %s sum %lld",
		    grpc_status_name(res->code), res->message,
		    (long long)cur.sum);
		break;
	default:
		break;
	}
	next_step();
}

static const struct rpc_client_cbs check_cbs = {
	.on_message = on_reply,
	.on_close = on_done,
};

static int
send_echo(struct rpc_call *call, const char *text, int64_t number,
    size_t bytes, int flags)
{
	spirelet_test_EchoRequest	 in;
	spirelet_test_EchoReply		 tmp;
	enum rpc_err			 e;

	memset(&in, 0, sizeof(in));
	memset(&tmp, 0, sizeof(tmp));
	if (reply_fill(&tmp, bytes, 0) == -1)
		return -1;
	in.text = (char *)(uintptr_t)text;
	in.number = number;
	in.flags = flags;
	in.chunks = tmp.chunks;
	in.chunks_count = tmp.chunks_count;
	e = rpc_call_send_pb(call, spirelet_test_EchoRequest_fields, &in);
	reply_free(&tmp);
	return e == RPC_ERR_OK ? 0 : -1;
}

static void
unary_done(void *arg, const struct rpc_result *res)
{
	(void)arg;
	check_result(res->code == GRPC_STATUS_OK &&
	    cur.unary_reply.text != NULL &&
	    strcmp(cur.unary_reply.text, "hello") == 0 &&
	    cur.unary_reply.number == 42, "%s %s",
	    grpc_status_name(res->code), res->message);
	if (res->code == GRPC_STATUS_OK)
		pb_release(spirelet_test_EchoReply_fields, &cur.unary_reply);
	if (loops_left > 0) {
		/* -n: only unary calls, spaced out. */
		if (--loops_left == 0 || res->code != GRPC_STATUS_OK) {
			ev_break(loop, EVBREAK_ALL);
			return;
		}
		usleep(20000);
	}
	next_step();
}

static void
next_step(void)
{
	spirelet_test_EchoRequest	 req;
	spirelet_test_StreamRequest	 sreq;
	spirelet_test_FailRequest	 freq;
	spirelet_test_SleepRequest	 slreq;
	pb_bytes_array_t		*dv;
	struct rpc_call			*call = NULL;
	int				 r = 0;

	memset(&cur, 0, sizeof(cur));
	switch (step++) {
	case 0:
		cur.name = "unary";
		memset(&req, 0, sizeof(req));
		req.text = (char *)(uintptr_t)"hello";
		req.number = 42;
		r = rpc_client_unary(chan, "/spirelet.test.Echo/Unary", NULL, 0,
		    10, spirelet_test_EchoRequest_fields, &req,
		    spirelet_test_EchoReply_fields, &cur.unary_reply,
		    unary_done, NULL);
		if (loops_left > 0)
			step = 0;
		break;
	case 1:
		cur.name = "server_stream";
		call = rpc_client_call(chan, "/spirelet.test.Echo/ServerStream",
		    NULL, 0, 10, 0, &check_cbs, NULL);
		memset(&sreq, 0, sizeof(sreq));
		sreq.count = 5;
		sreq.size = 1000;
		r = rpc_call_send_pb(call, spirelet_test_StreamRequest_fields,
		    &sreq) == RPC_ERR_OK ? 0 : -1;
		break;
	case 2:
		cur.name = "client_stream";
		call = rpc_client_call(chan, "/spirelet.test.Echo/ClientStream",
		    NULL, 0, 10, 0, &check_cbs, NULL);
		r = send_echo(call, "a", 1, 0, 0) | send_echo(call, "b", 2, 0,
		    0) | send_echo(call, "c", 3, 0, 0);
		break;
	case 3:
		cur.name = "bidi";
		call = rpc_client_call(chan, "/spirelet.test.Echo/Bidi", NULL,
		    0, 10, 0, &check_cbs, NULL);
		r = send_echo(call, "x", 10, 0, 0) | send_echo(call, "y", 20,
		    0, 0) | send_echo(call, "z", 30, 0, 0);
		break;
	case 4:
		cur.name = "fail_with_details";
		call = rpc_client_call(chan, "/spirelet.test.Echo/Fail", NULL,
		    0, 10, 0, &check_cbs, NULL);
		memset(&freq, 0, sizeof(freq));
		freq.code = GRPC_STATUS_NOT_FOUND;
		freq.message = (char *)(uintptr_t)
		    "nope: \xc3\xa9t\xc3\xa9 100%";
		freq.detail_type_url = (char *)(uintptr_t)
		    "type.example/spirelet.Test";
		dv = malloc(PB_BYTES_ARRAY_T_ALLOCSIZE(3));
		if (dv == NULL)
			abort();
		dv->size = 3;
		memcpy(dv->bytes, "\x01\x02\x03", 3);
		freq.detail_value = dv;
		r = rpc_call_send_pb(call, spirelet_test_FailRequest_fields,
		    &freq) == RPC_ERR_OK ? 0 : -1;
		free(dv);
		break;
	case 5:
		cur.name = "deadline";
		call = rpc_client_call(chan, "/spirelet.test.Echo/Sleep", NULL,
		    0, 0.3, 0, &check_cbs, NULL);
		memset(&slreq, 0, sizeof(slreq));
		slreq.ms = 3000;
		r = rpc_call_send_pb(call, spirelet_test_SleepRequest_fields,
		    &slreq) == RPC_ERR_OK ? 0 : -1;
		break;
	case 6:
		cur.name = "unknown_method";
		call = rpc_client_call(chan, "/spirelet.test.Echo/Nope", NULL,
		    0, 10, 0, &check_cbs, NULL);
		r = send_echo(call, "", 0, 0, 0);
		break;
	case 7:
		cur.name = "large_request";
		call = rpc_client_call(chan, "/spirelet.test.Echo/Unary", NULL,
		    0, 20, 0, &check_cbs, NULL);
		r = send_echo(call, "", 1, 3 * 1024 * 1024, 1);
		break;
	default:
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	if (call != NULL && r == 0 && rpc_call_close_send(call) != RPC_ERR_OK)
		r = -1;
	if (r != 0) {
		check_result(0, "could not start");
		if (call != NULL)
			rpc_call_cancel(call);
	}
}

static int
client(int argc, char *argv[])
{
	struct rpc_channel_opts	 o;
	const char		*certdir = NULL;
	struct tls_ctx		*tls = NULL;
	int			 ch;

	while ((ch = getopt(argc, argv, "c:n:")) != -1) {
		switch (ch) {
		case 'c':
			certdir = optarg;
			break;
		case 'n':
			loops_left = (int)strtol(optarg, NULL, 10);
			break;
		default:
			return 2;
		}
	}
	if (optind >= argc)
		return 2;
	memset(&o, 0, sizeof(o));
	o.target = argv[optind];
	if (certdir != NULL) {
		tls = tls_setup(certdir, TLS_ROLE_CLIENT);
		if (tls == NULL)
			return 1;
		o.tls = tls;
		o.authority = "localhost";
	}
	chan = rpc_channel_new(loop, &o);
	if (chan == NULL)
		return 1;
	next_step();
	ev_run(loop, 0);
	rpc_channel_free(chan);
	tls_teardown(tls);
	printf("%s: %d failed\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}

#include "rpc_testd_tls.c"
#include "rpc_testd_tpm.c"

int
main(int argc, char *argv[])
{
	signal(SIGPIPE, SIG_IGN);
	log_set_level(getenv("RPC_TESTD_DEBUG") ? LOG_LEVEL_DEBUG :
	    LOG_LEVEL_INFO);
	loop = evloop_init();
	if (loop == NULL || argc < 2)
		return 2;
	optind = 2;
	if (strcmp(argv[1], "serve") == 0)
		return serve(argc, argv);
	if (strcmp(argv[1], "client") == 0)
		return client(argc, argv);
	if (strcmp(argv[1], "tpmclient") == 0)
		return tpmclient(argc, argv);
	return 2;
}
