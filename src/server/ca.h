/*
 * The CA manager: the server's X.509 CA and JWT signing key, each in two
 * slots (A and B) recorded in the datastore's journal with their keys in
 * the KeyManager, rotated as SPIRE rotates them, and the signing of
 * X509-SVIDs and JWT-SVIDs with whichever is active.
 *
 * Rotation: the next CA (key) is prepared when min(lifetime/2, 30 d) of
 * the active one's lifetime is left and activated when min(lifetime/6,
 * 7 d) is left. A prepared authority is in the bundle from preparation
 * on. One timer is armed for the next event, no polling.
 */
#ifndef SERVER_CA_H
#define SERVER_CA_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct keymgr;
struct worker;
struct server_config;
struct store;
struct upstream;

/* Journal slot states. */
enum ca_status {
	CA_STATUS_NONE = 0,
	CA_STATUS_PREPARED = 1,
	CA_STATUS_ACTIVE = 2,
	CA_STATUS_OLD = 3,
};

/* Rotation arithmetic (Unix seconds), pure. */
int64_t	ca_prepare_at(int64_t not_before, int64_t not_after);
int64_t	ca_activate_at(int64_t not_before, int64_t not_after);
/* The longest SVID TTL a CA TTL guarantees: min(ca_ttl/6, 7 d). */
int64_t	ca_max_svid_ttl(int64_t ca_ttl);

/*
 * Decimal text of an unsigned big-endian integer (a serial) into buf.
 * 0, or -1 when buf is too small.
 */
int	ca_serial_decimal(const uint8_t *, size_t, char *buf, size_t len);
/* Lower-case hex of the same, without leading zero bytes. */
int	ca_serial_hex(const uint8_t *, size_t, char *buf, size_t len);

struct ca;

/*
 * Called after the bundle in the datastore changed (an authority was
 * prepared) and after the active CA changed, so the server can reload
 * its trust roots and rotate its own SVID.
 */
struct ca_hooks {
	void	(*bundle_changed)(void *arg);
	void	(*activated)(void *arg);
	void	*arg;
};

/*
 * Loads the journal (or starts a fresh one: a CA and a JWT key made
 * and activated now) and arms the rotation timer. upstream (may be
 * NULL: self-signed) is borrowed; the CA sets its hooks, so it must be
 * freed before the CA. Everything else is borrowed and must outlive
 * the CA. NULL on failure (logged). With a remote upstream and no
 * usable CA in the journal, the CA comes back not ready (ca_ready) and
 * the activated hook tells when it is.
 */
struct ca	*ca_new(struct ev_loop *, const struct server_config *,
		    struct store *, struct keymgr *, struct upstream *,
		    const struct ca_hooks *);
void		 ca_free(struct ca *);
/* 1 once an X.509 CA and a JWT key are active. */
int		 ca_ready(const struct ca *);

/* An issued X509-SVID: chain[0] the leaf, then the CA's chain. */
struct ca_svid {
	uint8_t		*der[8];	/* owned by the struct */
	size_t		 len[8];
	size_t		 n;
	int64_t		 expires_at;
	char		 serial[48];	/* hex, as Agent records carry */
};

void	ca_svid_cleanup(struct ca_svid *);

/*
 * Signs an X509-SVID for spiffe_id over spki (DER, from a checked
 * request) with the active CA: ttl seconds (0: default_x509_svid_ttl),
 * capped at the CA's expiry; CN the first DNS name. With a software CA
 * key done() runs before this returns; with a key that blocks
 * (KeyManager "tpm") the certificate is made here and signed on the
 * worker, and done() runs later on the loop. done(arg, 0, svid) with
 * the SVID borrowed for the call, or done(arg, -1, NULL) (logged).
 * Returns 0 when done() will run (or ran) exactly once, -1 when it
 * will not (no active CA, draining, the worker's queue full). The
 * arguments are copied.
 */
typedef void	(*ca_x509_fn)(void *arg, int rc, const struct ca_svid *);
int	ca_sign_x509svid_async(struct ca *, const uint8_t *spki,
	    size_t spki_len, const char *spiffe_id, const char *const *dns,
	    size_t ndns, int64_t ttl, ca_x509_fn, void *arg)
	    __attribute__((warn_unused_result));

/*
 * Mints a JWT-SVID with the active key: ttl seconds (0: default), capped
 * at the key's expiry; asynchronous as ca_sign_x509svid_async:
 * done(arg, token, iat, exp) with a new token the callee owns
 * (mem_free), or token NULL on failure (logged).
 */
typedef void	(*ca_jwt_fn)(void *arg, char *token, int64_t iat,
		    int64_t exp);
int	ca_sign_jwtsvid_async(struct ca *, const char *spiffe_id,
	    const char *const *aud, size_t naud, int64_t ttl, ca_jwt_fn,
	    void *arg) __attribute__((warn_unused_result));

/*
 * From now on, blocking keys are made and sign on w (until then they
 * block: start-up). w must outlive the CA's jobs (see ca_drain).
 */
void	ca_set_worker(struct ca *, struct worker *w);
/*
 * Stops rotating and starting work, and calls done(arg) once no job of
 * the CA is left on the worker (at once when none is): then the CA, the
 * KeyManager and what their jobs' callers hold may be freed.
 */
void	ca_drain(struct ca *, void (*done)(void *), void *arg);

/*
 * Signs a CA for a downstream server (NewDownstreamX509CA) over spki
 * (DER, from a checked request) for ttl seconds (0: ca_ttl), never past
 * the active CA's end, without blocking as ca_sign_x509svid_async: the
 * SVID given to done holds the new CA, then the active CA's upstream
 * chain (nothing more for a self-signed CA).
 */
int	ca_sign_downstream_async(struct ca *, const uint8_t *spki,
	    size_t spki_len, int64_t ttl, ca_x509_fn, void *arg)
	    __attribute__((warn_unused_result));

/* The active CA's expiry (Unix seconds), for logs and caps. */
int64_t	 ca_x509_not_after(const struct ca *);

#endif
