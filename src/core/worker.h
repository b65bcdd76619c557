/*
 * One worker thread for blocking work (TPM commands, hashing large files,
 * fsync-heavy writes), so the event loop never waits. A job's run()
 * executes on the worker; its done() then executes on the loop thread.
 * Jobs run one at a time, in submission order.
 */
#ifndef CORE_WORKER_H
#define CORE_WORKER_H

struct ev_loop;
struct worker;

/*
 * run(arg) on the worker thread; done(arg, cancelled) on the loop thread
 * afterwards. cancelled is 1 when the worker was freed before run() got
 * to execute: done() must then release arg without using run()'s result.
 */
typedef void	(*worker_run_fn)(void *);
typedef void	(*worker_done_fn)(void *, int);

/* Starts the thread. NULL (logged) when the thread or memory failed. */
struct worker	*worker_new(struct ev_loop *);
/*
 * Queues a job. 0, or -1 when WORKER_QUEUE_MAX jobs wait already or
 * memory ran out; nothing is queued then and arg stays the caller's.
 */
int		 worker_submit(struct worker *, worker_run_fn, worker_done_fn,
		    void *) __attribute__((warn_unused_result));
/*
 * Waits for the running job, calls done(arg, 1) for every job not yet
 * run and done(arg, 0) for finished ones not yet delivered, then joins the
 * thread and frees. Accepts NULL.
 */
void		 worker_free(struct worker *);

#endif
