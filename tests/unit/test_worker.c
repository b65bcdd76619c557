/* Unit tests for core/worker: jobs run off the loop thread, in order. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
#include <cmocka.h>

#include <ev.h>

#include "core/limits.h"
#include "core/worker.h"

#define NJOBS 50

struct job_state {
	int		 index;
	pthread_t	 ran_on;
	int		 ran;
	int		 done;
	int		 cancelled;
	int		*order;		/* shared sequence of done() calls */
	int		*ndone;
	struct ev_loop	*loop;
	pthread_mutex_t	*gate;		/* held by the test to stall run() */
};

static void
job_run(void *arg)
{
	struct job_state	*s = arg;

	if (s->gate != NULL) {
		pthread_mutex_lock(s->gate);
		pthread_mutex_unlock(s->gate);
	}
	s->ran_on = pthread_self();
	s->ran = 1;
}

static void
job_done(void *arg, int cancelled)
{
	struct job_state	*s = arg;

	s->done++;
	s->cancelled = cancelled;
	s->order[(*s->ndone)++] = s->index;
	if (*s->ndone == NJOBS)
		ev_break(s->loop, EVBREAK_ALL);
}

static void
guard_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void
test_jobs_run_on_worker_in_order(void **state)
{
	struct ev_loop		*loop = ev_loop_new(EVFLAG_AUTO);
	struct worker		*w;
	struct job_state	 s[NJOBS];
	int			 order[NJOBS], ndone = 0, i;
	ev_timer		 guard;

	(void)state;
	w = worker_new(loop);
	assert_non_null(w);
	for (i = 0; i < NJOBS; i++) {
		s[i] = (struct job_state){ .index = i, .order = order,
		    .ndone = &ndone, .loop = loop };
		assert_int_equal(worker_submit(w, job_run, job_done, &s[i]), 0);
	}
	/* The guard only ends a hung test; it never decides the result. */
	ev_timer_init(&guard, guard_cb, 30.0, 0);
	ev_timer_start(loop, &guard);
	ev_run(loop, 0);
	ev_timer_stop(loop, &guard);
	assert_int_equal(ndone, NJOBS);
	for (i = 0; i < NJOBS; i++) {
		assert_int_equal(order[i], i);
		assert_int_equal(s[i].ran, 1);
		assert_int_equal(s[i].done, 1);
		assert_int_equal(s[i].cancelled, 0);
		assert_false(pthread_equal(s[i].ran_on, pthread_self()));
	}
	worker_free(w);
	ev_loop_destroy(loop);
}

static void
test_free_cancels_pending_bounded_queue(void **state)
{
	struct ev_loop		*loop = ev_loop_new(EVFLAG_AUTO);
	struct worker		*w;
	static struct job_state	 s[WORKER_QUEUE_MAX + 2];
	pthread_mutex_t		 gate = PTHREAD_MUTEX_INITIALIZER;
	int			 order[WORKER_QUEUE_MAX + 2];
	int			 ndone = 0, i, accepted = 0;

	(void)state;
	w = worker_new(loop);
	assert_non_null(w);
	pthread_mutex_lock(&gate);
	for (i = 0; i < WORKER_QUEUE_MAX + 2; i++) {
		s[i] = (struct job_state){ .index = i, .order = order,
		    .ndone = &ndone, .loop = loop, .gate = &gate };
		if (worker_submit(w, job_run, job_done, &s[i]) == 0)
			accepted++;
	}
	/* One job may already sit in run(); the queue holds the cap. */
	assert_true(accepted >= WORKER_QUEUE_MAX);
	assert_true(accepted < WORKER_QUEUE_MAX + 2);
	pthread_mutex_unlock(&gate);
	worker_free(w);
	/* Every accepted job is answered once: either it ran or not. */
	for (i = 0; i < accepted; i++) {
		assert_int_equal(s[i].done, 1);
		assert_int_equal(s[i].ran, !s[i].cancelled);
	}
	assert_int_equal(ndone, accepted);
	ev_loop_destroy(loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jobs_run_on_worker_in_order),
		cmocka_unit_test(test_free_cancels_pending_bounded_queue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
