/*
 * A byte stream under an HTTP/2 session: a plain socket (TCP or Unix,
 * transport.c) or TLS over a TCP socket (tls.c). Every call is
 * non-blocking; the caller waits for the readiness the result names
 * (through libev) and calls again.
 */
#ifndef RPC_TRANSPORT_H
#define RPC_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Results besides byte counts. */
#define TRANSPORT_ERROR		(-1)	/* broken for good; see ->error */
#define TRANSPORT_WANT_READ	(-2)	/* retry when the fd is readable */
#define TRANSPORT_WANT_WRITE	(-3)	/* retry when the fd is writable */

struct transport;

struct transport_ops {
	/*
	 * Drives the handshake (TLS); plain transports return 0 at once.
	 * 0 when done, TRANSPORT_WANT_READ/WRITE, or TRANSPORT_ERROR.
	 * On success the peer fields are filled in.
	 */
	int	 (*handshake)(struct transport *);
	/* Bytes read (> 0), 0 at end of stream, or a result above. */
	ssize_t	 (*read)(struct transport *, void *, size_t);
	/* Bytes written (> 0) or a result above. */
	ssize_t	 (*write)(struct transport *, const void *, size_t);
	/* Sends TLS close_notify where there is one; best effort. */
	void	 (*shutdown)(struct transport *);
	/* Closes the fd and frees the transport and its peer data. */
	void	 (*free)(struct transport *);
};

/* What is known of the other end once the handshake is done. */
struct transport_peer {
	char		 addr[80];	/* "127.0.0.1:4031" or "unix" */
	int		 has_cred;	/* Unix socket: the next 3 are set */
	pid_t		 pid;		/* SO_PEERCRED at accept or connect */
	uid_t		 uid;
	gid_t		 gid;
	/*
	 * A pidfd of that process opened right after accept (Linux 5.3+):
	 * it stays bound to that process, so a check through it after the
	 * pid was reused by another process fails. Owned by the transport.
	 */
	int		 has_pidfd;
	int		 pidfd;
	/*
	 * TLS: the peer's certificate chain as sent, leaf first, each DER
	 * (owned by the transport), and the leaf's single URI SAN once the
	 * chain verified against the trust bundle; NULL/0 when the peer
	 * sent no certificate.
	 */
	uint8_t		**chain;
	size_t		 *chain_len;
	size_t		  nchain;
	char		 *spiffe_id;
};

struct transport {
	const struct transport_ops	*ops;
	int				 fd;	/* owned */
	struct transport_peer		 peer;
	char				 error[160]; /* last failure */
};

/*
 * Wraps a connected non-blocking socket without encryption; takes the fd
 * (closed by ->free). For a Unix socket the peer's credentials are read
 * with SO_PEERCRED. NULL when memory ran out (the fd is then closed).
 */
struct transport	*transport_plain_new(int fd, int is_unix);

/*
 * Addresses: "unix:/path" or "unix:///path" for a Unix socket, otherwise
 * "host:port" or "[v6addr]:port" for TCP.
 */
struct transport_addr {
	int	 is_unix;
	char	 path[108];	/* sun_path */
	char	 host[256];
	char	 port[8];
};

/* 0, or -1 when the address is malformed (nothing logged). */
int	 transport_addr_parse(const char *, struct transport_addr *)
	    __attribute__((warn_unused_result));

/*
 * A non-blocking listening socket. For a Unix socket the parent
 * directory is created (0755) as needed, a stale socket file (nobody
 * accepting on it) is removed, anything else at the path is an error,
 * and the socket is chmod'ed to mode. TCP sets SO_REUSEADDR and may use
 * port 0. The fd, or -1 with the reason logged.
 */
int	 transport_listen(const struct transport_addr *, int mode);
/* The port a TCP socket is bound to, or -1. */
int	 transport_local_port(int fd);
/*
 * Starts a non-blocking connect; the fd (connected or still connecting:
 * wait for writability, then transport_connect_result), or -1 with the
 * reason in err. Resolves host names with getaddrinfo, which blocks.
 */
int	 transport_connect(const struct transport_addr *, char *err,
	    size_t errlen);
/* 0 once a connect finished well, else -1 with the reason in err. */
int	 transport_connect_result(int fd, char *err, size_t errlen);

#endif
