/*
 * WorkloadAttestor "unix", as SPIRE's: from the caller's pid (SO_PEERCRED
 * at accept) the selectors unix:uid, unix:user, unix:gid, unix:group
 * (effective IDs, as /proc/<pid>/status gives them), one
 * unix:supplementary_gid and unix:supplementary_group per group, and
 * with discover_workload_path unix:path (the binary) and unix:sha256
 * (its digest; large binaries are hashed on the worker thread, and
 * digests are cached by device, inode, size and mtime).
 *
 * PID reuse: the transport opened a pidfd of the caller at accept. Once
 * the facts are read, the pidfd must still name a live process: if the
 * caller exited (and its pid went to someone else) the call is refused.
 * Without pidfds (old kernels) the start time in /proc/<pid>/stat is
 * read before and after instead, which catches reuse during attestation
 * only (doc/KNOWN_BUGS.md).
 */
#include "config.h"

#include <sys/stat.h>

#include <poll.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "agent/internal.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/worker.h"
#include "rpc/transport.h"

#define HASH_CHUNK	(64 * 1024)
#define NAME_BUF	4096

struct wl_hash {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
	char		 hex[65];
};

struct wl_attest {
	struct agent	*a;
	unixattest_fn	 fn;
	void		*arg;
	pid_t		 pid;
	int		 has_pidfd;
	int		 pidfd;		/* borrowed from the transport */
	unsigned long long start_time;
	char		**sel;
	size_t		 nsel, cap;
	int		 detached;	/* the caller went away */
	int		 job;
	/* Hashing on the worker. */
	int		 fd;
	off_t		 limit;
	struct wl_hash	 key;
	uint8_t		 digest[WC_SHA256_DIGEST_SIZE];
	int		 hash_ok;
	char		 err[160];
};

static int	ua_add(struct wl_attest *, const char *kind, const char *v);
static int	ua_read(const char *path, char *buf, size_t len);
static int	ua_starttime(pid_t, unsigned long long *);
static int	ua_alive(struct wl_attest *);
static void	ua_finish(struct wl_attest *, int code, const char *err);
static void	ua_hash_run(void *);
static void	ua_hash_done(void *, int);
static int	ua_ids(struct wl_attest *, const char *status);
static const char *ua_hash_lookup(struct agent *, const struct wl_hash *);
static void	ua_hash_store(struct agent *, const struct wl_hash *);

/*
 * A pidfd turns readable once its process has exited, zombie or not:
 * the caller that connected is gone even if no one reaped it yet.
 */
static int
ua_pidfd_alive(int pidfd)
{
	struct pollfd	 p;

	p.fd = pidfd;
	p.events = POLLIN;
	p.revents = 0;
	return poll(&p, 1, 0) == 0;
}

static int
ua_add(struct wl_attest *w, const char *kind, const char *v)
{
	char	**nv, *s;
	size_t	 n;

	if (w->nsel == AGENT_WORKLOAD_SELECTORS_MAX)
		return 0;	/* more groups than we keep: the rest unused */
	if (w->nsel == w->cap) {
		w->cap = w->cap == 0 ? 16 : w->cap * 2;
		nv = mem_reallocarray(w->sel, w->cap, sizeof(*nv));
		if (nv == NULL)
			return -1;
		w->sel = nv;
	}
	n = strlen("unix:") + strlen(kind) + 1 + strlen(v) + 1;
	s = mem_alloc(n);
	if (s == NULL)
		return -1;
	snprintf(s, n, "unix:%s:%s", kind, v);
	w->sel[w->nsel++] = s;
	return 0;
}

/* Reads a small /proc file, NUL-terminated; its length or -1. */
static int
ua_read(const char *path, char *buf, size_t len)
{
	ssize_t	 n;
	size_t	 off = 0;
	int	 fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	while (off + 1 < len) {
		n = read(fd, buf + off, len - 1 - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	return (int)off;
}

/*
 * Field 22 of /proc/<pid>/stat, after the parenthesised name; -1 also
 * for a zombie (state Z), which is a caller gone.
 */
static int
ua_starttime(pid_t pid, unsigned long long *out)
{
	char	 path[64], buf[1024], *p, *end;
	int	 i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (ua_read(path, buf, sizeof(buf)) <= 0)
		return -1;
	p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
		return -1;
	p++;
	for (i = 0; i < 20 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL)
		return -1;
	errno = 0;
	*out = strtoull(p + 1, &end, 10);
	return errno == 0 && end != p + 1 ? 0 : -1;
}

static int
ua_alive(struct wl_attest *w)
{
	unsigned long long	 st;

	if (w->has_pidfd)
		return ua_pidfd_alive(w->pidfd);
	return ua_starttime(w->pid, &st) == 0 && st == w->start_time;
}

/* "Uid:\tr\te\ts\tf": the effective ID is the second, as SPIRE takes. */
static int
ua_field_id(const char *status, const char *name, char *out, size_t len)
{
	const char	*p;
	unsigned long	 r, e;
	char		*end;

	p = strstr(status, name);
	if (p == NULL)
		return -1;
	p += strlen(name);
	r = strtoul(p, &end, 10);
	if (end == p)
		return -1;
	p = end;
	e = strtoul(p, &end, 10);
	if (end == p)
		e = r;
	snprintf(out, len, "%lu", e);
	return 0;
}

static int
ua_ids(struct wl_attest *w, const char *status)
{
	struct passwd	 pw, *pwp;
	struct group	 gr, *grp;
	char		 id[32], nb[NAME_BUF], *line, *p, *end, *dup;
	unsigned long	 g;

	if (ua_field_id(status, "\nUid:", id, sizeof(id)) == -1 ||
	    ua_add(w, "uid", id) == -1)
		return -1;
	if (getpwuid_r((uid_t)strtoul(id, NULL, 10), &pw, nb, sizeof(nb),
	    &pwp) == 0 && pwp != NULL && ua_add(w, "user", pw.pw_name) == -1)
		return -1;
	if (ua_field_id(status, "\nGid:", id, sizeof(id)) == -1 ||
	    ua_add(w, "gid", id) == -1)
		return -1;
	if (getgrgid_r((gid_t)strtoul(id, NULL, 10), &gr, nb, sizeof(nb),
	    &grp) == 0 && grp != NULL && ua_add(w, "group", gr.gr_name) == -1)
		return -1;
	line = strstr(status, "\nGroups:");
	if (line == NULL)
		return 0;
	dup = mem_strdup(line + strlen("\nGroups:"));
	if (dup == NULL)
		return -1;
	end = strchr(dup, '\n');
	if (end != NULL)
		*end = '\0';
	for (p = dup; *p != '\0';) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		g = strtoul(p, &end, 10);
		if (end == p)
			break;
		p = end;
		snprintf(id, sizeof(id), "%lu", g);
		if (ua_add(w, "supplementary_gid", id) == -1)
			goto fail;
		if (getgrgid_r((gid_t)g, &gr, nb, sizeof(nb), &grp) == 0 &&
		    grp != NULL && ua_add(w, "supplementary_group",
		    gr.gr_name) == -1)
			goto fail;
	}
	mem_free(dup);
	return 0;
fail:
	mem_free(dup);
	return -1;
}

static const char *
ua_hash_lookup(struct agent *a, const struct wl_hash *k)
{
	size_t	 i;

	for (i = 0; i < a->nhashes; i++)
		if (a->hashes[i].dev == k->dev && a->hashes[i].ino == k->ino &&
		    a->hashes[i].size == k->size &&
		    a->hashes[i].mtime.tv_sec == k->mtime.tv_sec &&
		    a->hashes[i].mtime.tv_nsec == k->mtime.tv_nsec)
			return a->hashes[i].hex;
	return NULL;
}

static void
ua_hash_store(struct agent *a, const struct wl_hash *h)
{
	struct wl_hash	*nh;

	if (a->hashes == NULL) {
		nh = mem_calloc(AGENT_HASH_CACHE_MAX, sizeof(*nh));
		if (nh == NULL)
			return;
		a->hashes = nh;
	}
	if (a->nhashes < AGENT_HASH_CACHE_MAX)
		a->hashes[a->nhashes++] = *h;
	else
		a->hashes[arc4random() % AGENT_HASH_CACHE_MAX] = *h;
}

int
unixattest_start(struct agent *a, const void *peerv, unixattest_fn fn,
    void *arg, struct wl_attest **out)
{
	const struct transport_peer	*peer = peerv;
	struct wl_attest		*w;
	struct stat			 st;
	char				 path[64], *status = NULL;
	char				 exe[4096];
	const char			*hex;
	ssize_t				 n;

	*out = NULL;
	if (peer == NULL || !peer->has_cred || peer->pid <= 0) {
		fn(a, arg, GRPC_STATUS_INTERNAL, "could not resolve caller "
		    "information", NULL, 0);
		return 0;
	}
	w = mem_calloc(1, sizeof(*w));
	if (w == NULL) {
		fn(a, arg, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory",
		    NULL, 0);
		return 0;
	}
	w->a = a;
	w->fn = fn;
	w->arg = arg;
	w->pid = peer->pid;
	w->has_pidfd = peer->has_pidfd;
	w->pidfd = peer->pidfd;
	w->fd = -1;
	if (!w->has_pidfd && ua_starttime(w->pid, &w->start_time) == -1) {
		ua_finish(w, GRPC_STATUS_PERMISSION_DENIED, "caller exited "
		    "before attestation");
		return 0;
	}
	if (!a->cfg->plugin.unix_enabled) {
		ua_finish(w, GRPC_STATUS_OK, NULL);
		return 0;
	}
	status = mem_alloc(AGENT_PROC_FILE_MAX);
	if (status == NULL) {
		ua_finish(w, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		return 0;
	}
	status[0] = '\n';
	snprintf(path, sizeof(path), "/proc/%d/status", (int)w->pid);
	if (ua_read(path, status + 1, AGENT_PROC_FILE_MAX - 1) <= 0) {
		mem_free(status);
		ua_finish(w, GRPC_STATUS_PERMISSION_DENIED, "caller exited "
		    "before attestation");
		return 0;
	}
	if (ua_ids(w, status) == -1) {
		mem_free(status);
		ua_finish(w, GRPC_STATUS_INTERNAL, "cannot read the caller's "
		    "IDs");
		return 0;
	}
	mem_free(status);
	if (!a->cfg->plugin.unix_wa.discover_workload_path) {
		ua_finish(w, GRPC_STATUS_OK, NULL);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)w->pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0) {
		ua_finish(w, GRPC_STATUS_INTERNAL, "path lookup failed");
		return 0;
	}
	exe[n] = '\0';
	if (ua_add(w, "path", exe) == -1) {
		ua_finish(w, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		return 0;
	}
	if (a->cfg->plugin.unix_wa.workload_size_limit < 0) {
		ua_finish(w, GRPC_STATUS_OK, NULL);
		return 0;
	}
	/* The binary as the caller sees it, through its own mount view. */
	w->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (w->fd == -1 || fstat(w->fd, &st) == -1) {
		ua_finish(w, GRPC_STATUS_INTERNAL, "cannot open the caller's "
		    "binary");
		return 0;
	}
	w->limit = (off_t)a->cfg->plugin.unix_wa.workload_size_limit;
	if (w->limit > 0 && st.st_size > w->limit) {
		ua_finish(w, GRPC_STATUS_INTERNAL, "workload binary exceeds "
		    "workload_size_limit");
		return 0;
	}
	w->key.dev = st.st_dev;
	w->key.ino = st.st_ino;
	w->key.size = st.st_size;
	w->key.mtime = st.st_mtim;
	hex = ua_hash_lookup(a, &w->key);
	if (hex != NULL) {
		if (ua_add(w, "sha256", hex) == -1)
			ua_finish(w, GRPC_STATUS_RESOURCE_EXHAUSTED,
			    "out of memory");
		else
			ua_finish(w, GRPC_STATUS_OK, NULL);
		return 0;
	}
	if (worker_submit(a->worker, ua_hash_run, ua_hash_done, w) == -1) {
		ua_finish(w, GRPC_STATUS_UNAVAILABLE, "agent is busy");
		return 0;
	}
	w->job = 1;
	*out = w;
	return 0;
}

/* On the worker. */
static void
ua_hash_run(void *arg)
{
	struct wl_attest	*w = arg;
	wc_Sha256		 h;
	uint8_t			*buf;
	ssize_t			 n;
	off_t			 total = 0;

	buf = mem_alloc(HASH_CHUNK);
	if (buf == NULL || wc_InitSha256(&h) != 0) {
		mem_free(buf);
		snprintf(w->err, sizeof(w->err), "cannot hash");
		return;
	}
	for (;;) {
		n = read(w->fd, buf, HASH_CHUNK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += n;
		if (w->limit > 0 && total > w->limit) {
			n = -1;
			break;
		}
		if (wc_Sha256Update(&h, buf, (word32)n) != 0) {
			n = -1;
			break;
		}
	}
	mem_free(buf);
	if (n == 0 && wc_Sha256Final(&h, w->digest) == 0)
		w->hash_ok = 1;
	else
		snprintf(w->err, sizeof(w->err), "cannot hash the binary");
	wc_Sha256Free(&h);
}

static void
ua_hash_done(void *arg, int cancelled)
{
	struct wl_attest	*w = arg;
	char			 hex[65];
	size_t			 i;

	w->job = 0;
	if (cancelled || w->detached) {
		w->a = NULL;
		ua_finish(w, GRPC_STATUS_CANCELLED, "cancelled");
		return;
	}
	if (!w->hash_ok) {
		ua_finish(w, GRPC_STATUS_INTERNAL, w->err);
		return;
	}
	for (i = 0; i < sizeof(w->digest); i++)
		snprintf(hex + 2 * i, 3, "%02x", w->digest[i]);
	memcpy(w->key.hex, hex, sizeof(hex));
	ua_hash_store(w->a, &w->key);
	if (ua_add(w, "sha256", hex) == -1)
		ua_finish(w, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	else
		ua_finish(w, GRPC_STATUS_OK, NULL);
}

/*
 * Ends the attestation: checks the caller is still the process that
 * connected, hands the sorted selectors over (fn owns them) and frees.
 */
static void
ua_finish(struct wl_attest *w, int code, const char *err)
{
	if (w->fd != -1)
		close(w->fd);
	w->fd = -1;
	if (w->detached || w->a == NULL) {
		strings_free(w->sel, w->nsel);
		mem_free(w);
		return;
	}
	if (code == GRPC_STATUS_OK && !ua_alive(w)) {
		log_kv(LOG_LEVEL_WARN, "agent", "caller exited or its pid was "
		    "reused during attestation; refused", (const char *)NULL);
		code = GRPC_STATUS_PERMISSION_DENIED;
		err = "caller exited or its pid was reused during attestation";
	}
	if (code != GRPC_STATUS_OK) {
		strings_free(w->sel, w->nsel);
		w->sel = NULL;
		w->nsel = 0;
	} else
		selectors_sort(w->sel, &w->nsel);
	w->fn(w->a, w->arg, code, err, w->sel, w->nsel);
	mem_free(w);
}

/* The caller is gone: no callback; the worker's job frees it later. */
void
unixattest_cancel(struct wl_attest *w)
{
	if (w != NULL)
		w->detached = 1;
}

void
unixattest_free_all(struct agent *a)
{
	mem_free(a->hashes);
	a->hashes = NULL;
	a->nhashes = 0;
}
