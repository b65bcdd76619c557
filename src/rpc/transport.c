/* Plain TCP and Unix sockets under HTTP/2, and socket set-up. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/mem.h"
#include "rpc/transport.h"

static int	plain_handshake(struct transport *);
static ssize_t	plain_read(struct transport *, void *, size_t);
static ssize_t	plain_write(struct transport *, const void *, size_t);
static void	plain_shutdown(struct transport *);
static void	plain_free(struct transport *);
static void	transport_peer_name(struct transport *, int);
static int	transport_mkdirs(const char *);
static int	transport_clear_stale(const char *);
static int	transport_listen_unix(const struct transport_addr *, int);
static int	transport_listen_tcp(const struct transport_addr *);

static const struct transport_ops plain_ops = {
	.handshake = plain_handshake,
	.read = plain_read,
	.write = plain_write,
	.shutdown = plain_shutdown,
	.free = plain_free,
};

static int
plain_handshake(struct transport *t)
{
	(void)t;
	return 0;
}

static ssize_t
plain_read(struct transport *t, void *p, size_t n)
{
	ssize_t	 r;

	r = recv(t->fd, p, n, 0);
	if (r >= 0)
		return r;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return TRANSPORT_WANT_READ;
	snprintf(t->error, sizeof(t->error), "recv: %s", strerror(errno));
	return TRANSPORT_ERROR;
}

static ssize_t
plain_write(struct transport *t, const void *p, size_t n)
{
	ssize_t	 r;

	r = send(t->fd, p, n, MSG_NOSIGNAL);
	if (r >= 0)
		return r;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return TRANSPORT_WANT_WRITE;
	snprintf(t->error, sizeof(t->error), "send: %s", strerror(errno));
	return TRANSPORT_ERROR;
}

static void
plain_shutdown(struct transport *t)
{
	(void)t;
}

#ifdef SYS_pidfd_open
static int
transport_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}
#else
static int
transport_pidfd_open(pid_t pid)
{
	(void)pid;
	errno = ENOSYS;
	return -1;
}
#endif

static void
plain_free(struct transport *t)
{
	if (t == NULL)
		return;
	if (t->fd != -1)
		close(t->fd);
	if (t->peer.has_pidfd)
		close(t->peer.pidfd);
	mem_free(t->peer.spiffe_id);
	mem_free(t);
}

static void
transport_peer_name(struct transport *t, int is_unix)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	char			 host[INET6_ADDRSTRLEN];
	struct ucred		 cred;
	socklen_t		 cl = sizeof(cred);
	const void		*a;
	int			 port, fd;

	if (is_unix) {
		snprintf(t->peer.addr, sizeof(t->peer.addr), "unix");
		if (getsockopt(t->fd, SOL_SOCKET, SO_PEERCRED, &cred,
		    &cl) == 0) {
			t->peer.has_cred = 1;
			t->peer.pid = cred.pid;
			t->peer.uid = cred.uid;
			t->peer.gid = cred.gid;
			fd = cred.pid > 0 ? transport_pidfd_open(cred.pid) : -1;
			if (fd != -1) {
				t->peer.has_pidfd = 1;
				t->peer.pidfd = fd;
			}
		}
		return;
	}
	if (getpeername(t->fd, (struct sockaddr *)&ss, &sl) == -1) {
		snprintf(t->peer.addr, sizeof(t->peer.addr), "unknown");
		return;
	}
	if (ss.ss_family == AF_INET6) {
		a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	} else {
		a = &((struct sockaddr_in *)&ss)->sin_addr;
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	if (inet_ntop(ss.ss_family, a, host, sizeof(host)) == NULL)
		snprintf(host, sizeof(host), "unknown");
	snprintf(t->peer.addr, sizeof(t->peer.addr),
	    ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, port);
}

struct transport *
transport_plain_new(int fd, int is_unix)
{
	struct transport	*t;
	int			 one = 1;

	t = mem_calloc(1, sizeof(*t));
	if (t == NULL) {
		close(fd);
		return NULL;
	}
	t->ops = &plain_ops;
	t->fd = fd;
	if (!is_unix)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	transport_peer_name(t, is_unix);
	return t;
}

int
transport_addr_parse(const char *s, struct transport_addr *a)
{
	const char	*p, *colon;
	size_t		 hl;
	char		*end;
	unsigned long	 port;

	memset(a, 0, sizeof(*a));
	if (strncmp(s, "unix:", 5) == 0) {
		p = s + 5;
		if (strncmp(p, "//", 2) == 0)
			p += 2;
		if (p[0] != '/' || strlen(p) >= sizeof(a->path))
			return -1;
		a->is_unix = 1;
		memcpy(a->path, p, strlen(p) + 1);
		return 0;
	}
	if (s[0] == '[') {
		p = strchr(s, ']');
		if (p == NULL || p[1] != ':')
			return -1;
		hl = (size_t)(p - s - 1);
		colon = p + 1;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -1;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(a->host))
		return -1;
	memcpy(a->host, s, hl);
	a->host[hl] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || port > 65535)
		return -1;
	snprintf(a->port, sizeof(a->port), "%lu", port);
	return 0;
}

/* Creates each missing directory above path's last component. */
static int
transport_mkdirs(const char *path)
{
	char	 dir[sizeof(((struct transport_addr *)0)->path)];
	size_t	 i, n;

	n = strlen(path);
	if (n >= sizeof(dir))
		return -1;
	memcpy(dir, path, n + 1);
	for (i = 1; i < n; i++) {
		if (dir[i] != '/')
			continue;
		dir[i] = '\0';
		if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
			log_warn("rpc", "mkdir %s", dir);
			return -1;
		}
		dir[i] = '/';
	}
	return 0;
}

/*
 * A socket file nobody accepts on is left over from a process that died;
 * one that answers belongs to a live server, and any other file is not
 * ours to remove.
 */
static int
transport_clear_stale(const char *path)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	int			 fd, r;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		log_warnx("rpc", "%s exists and is not a socket", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (r == 0) {
		log_warnx("rpc", "%s: another process is serving there", path);
		return -1;
	}
	if (unlink(path) == -1) {
		log_warn("rpc", "unlink stale socket %s", path);
		return -1;
	}
	log_info("rpc", "removed stale socket %s", path);
	return 0;
}

static int
transport_listen_unix(const struct transport_addr *a, int mode)
{
	struct sockaddr_un	 sun;
	int			 fd;

	if (transport_mkdirs(a->path) == -1 ||
	    transport_clear_stale(a->path) == -1)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("rpc", "socket");
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, a->path, strlen(a->path) + 1);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		log_warn("rpc", "bind %s", a->path);
		goto fail;
	}
	if (chmod(a->path, (mode_t)mode) == -1) {
		log_warn("rpc", "chmod %s", a->path);
		goto fail;
	}
	if (listen(fd, RPC_LISTEN_BACKLOG) == -1) {
		log_warn("rpc", "listen %s", a->path);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	(void)unlink(a->path);
	return -1;
}

static int
transport_listen_tcp(const struct transport_addr *a)
{
	struct addrinfo	 hints, *res = NULL;
	int		 fd = -1, one = 1, r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	r = getaddrinfo(a->host, a->port, &hints, &res);
	if (r != 0) {
		log_warnx("rpc", "listen %s:%s: %s", a->host, a->port,
		    gai_strerror(r));
		return -1;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("rpc", "socket");
		goto fail;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) == -1) {
		log_warn("rpc", "bind %s:%s", a->host, a->port);
		goto fail;
	}
	if (listen(fd, RPC_LISTEN_BACKLOG) == -1) {
		log_warn("rpc", "listen %s:%s", a->host, a->port);
		goto fail;
	}
	freeaddrinfo(res);
	return fd;
fail:
	if (fd != -1)
		close(fd);
	freeaddrinfo(res);
	return -1;
}

int
transport_listen(const struct transport_addr *a, int mode)
{
	if (a->is_unix)
		return transport_listen_unix(a, mode);
	return transport_listen_tcp(a);
}

int
transport_local_port(int fd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return -1;
}

int
transport_connect(const struct transport_addr *a, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct addrinfo		 hints, *res = NULL;
	int			 fd = -1, r;

	if (a->is_unix) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd == -1)
			goto syserr;
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		memcpy(sun.sun_path, a->path, strlen(a->path) + 1);
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 &&
		    errno != EINPROGRESS && errno != EAGAIN)
			goto syserr;
		return fd;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	/* XXX: getaddrinfo blocks the loop for names that are not numeric. */
	r = getaddrinfo(a->host, a->port, &hints, &res);
	if (r != 0) {
		snprintf(err, errlen, "resolve %s: %s", a->host,
		    gai_strerror(r));
		return -1;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto syserr;
	if (connect(fd, res->ai_addr, res->ai_addrlen) == -1 &&
	    errno != EINPROGRESS)
		goto syserr;
	freeaddrinfo(res);
	return fd;
syserr:
	snprintf(err, errlen, "connect: %s", strerror(errno));
	if (fd != -1)
		close(fd);
	if (res != NULL)
		freeaddrinfo(res);
	return -1;
}

int
transport_connect_result(int fd, char *err, size_t errlen)
{
	int		 e = 0;
	socklen_t	 el = sizeof(e);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == -1)
		e = errno;
	if (e == 0)
		return 0;
	snprintf(err, errlen, "connect: %s", strerror(e));
	return -1;
}
