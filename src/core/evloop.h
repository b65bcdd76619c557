/*
 * libev glue: the one event loop of the process, with libev's allocation
 * and fatal-system-error hooks routed through spirelet's so that nothing
 * aborts without a log line first.
 */
#ifndef CORE_EVLOOP_H
#define CORE_EVLOOP_H

struct ev_loop;

/*
 * Installs the hooks and returns the default loop, or NULL when libev
 * finds no usable backend. Call once, before any other libev use.
 */
struct ev_loop	*evloop_init(void);

/* Milliseconds of monotonic time, as the loop last saw it. */
double		 evloop_now_ms(struct ev_loop *);

#endif
