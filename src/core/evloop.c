/* The process's event loop and libev's hooks. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include <ev.h>

#include "core/evloop.h"
#include "core/log.h"

static void	*evloop_alloc(void *, long);
static void	 evloop_syserr(const char *);

/* libev's allocator contract: realloc, and free when size is 0. */
static void *
evloop_alloc(void *p, long size)
{
	void	*q;

	if (size == 0) {
		free(p);
		return NULL;
	}
	q = realloc(p, (size_t)size);
	if (q == NULL)
		log_error("evloop", "libev cannot allocate %ld bytes", size);
	return q;
}

/* libev calls this for an unrecoverable system error, then aborts. */
static void
evloop_syserr(const char *msg)
{
	log_warn("evloop", "libev: %s", msg);
	abort();
}

struct ev_loop *
evloop_init(void)
{
	ev_set_allocator(evloop_alloc);
	ev_set_syserr_cb(evloop_syserr);
	return ev_default_loop(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
}

double
evloop_now_ms(struct ev_loop *loop)
{
	return ev_now(loop) * 1000.0;
}
