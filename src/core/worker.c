/* The worker thread and its hand-back to the loop through ev_async. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <ev.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/worker.h"

struct job {
	struct job	*next;
	worker_run_fn	 run;
	worker_done_fn	 done;
	void		*arg;
};

/* A FIFO of jobs. */
struct jobq {
	struct job	*head;
	struct job	*tail;
};

struct worker {
	struct ev_loop	*loop;
	ev_async	 wake;		/* the worker finished something */
	pthread_t	 thread;
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	struct jobq	 todo;		/* waiting to run; under lock */
	struct jobq	 finished;	/* ran, done() pending; under lock */
	size_t		 ntodo;		/* jobs in todo */
	int		 stopping;	/* under lock */
};

static void	 jobq_push(struct jobq *, struct job *);
static struct job *jobq_pop(struct jobq *);
static void	*worker_main(void *);
static void	 worker_deliver(struct worker *);
static void	 worker_wake_cb(struct ev_loop *, ev_async *, int);

static void
jobq_push(struct jobq *q, struct job *j)
{
	j->next = NULL;
	if (q->tail != NULL)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
}

static struct job *
jobq_pop(struct jobq *q)
{
	struct job	*j = q->head;

	if (j != NULL) {
		q->head = j->next;
		if (q->head == NULL)
			q->tail = NULL;
	}
	return j;
}

static void *
worker_main(void *arg)
{
	struct worker	*w = arg;
	struct job	*j;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (w->todo.head == NULL && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stopping)
			break;
		j = jobq_pop(&w->todo);
		w->ntodo--;
		pthread_mutex_unlock(&w->lock);
		j->run(j->arg);
		pthread_mutex_lock(&w->lock);
		jobq_push(&w->finished, j);
		ev_async_send(w->loop, &w->wake);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Runs done() of every finished job, outside the lock. */
static void
worker_deliver(struct worker *w)
{
	struct jobq	 q;
	struct job	*j;

	pthread_mutex_lock(&w->lock);
	q = w->finished;
	memset(&w->finished, 0, sizeof(w->finished));
	pthread_mutex_unlock(&w->lock);
	while ((j = jobq_pop(&q)) != NULL) {
		j->done(j->arg, 0);
		mem_free(j);
	}
}

static void
worker_wake_cb(struct ev_loop *loop, ev_async *wake, int revents)
{
	worker_deliver(wake->data);
}

struct worker *
worker_new(struct ev_loop *loop)
{
	struct worker	*w;
	int		 rc;

	w = mem_calloc(1, sizeof(*w));
	if (w == NULL) {
		log_warn("worker", "cannot allocate the worker");
		return NULL;
	}
	w->loop = loop;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	ev_async_init(&w->wake, worker_wake_cb);
	w->wake.data = w;
	ev_async_start(loop, &w->wake);
	/* The wake-up watcher alone must not keep the loop running. */
	ev_unref(loop);
	rc = pthread_create(&w->thread, NULL, worker_main, w);
	if (rc != 0) {
		errno = rc;
		log_warn("worker", "pthread_create");
		ev_ref(loop);
		ev_async_stop(loop, &w->wake);
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		mem_free(w);
		return NULL;
	}
	return w;
}

int
worker_submit(struct worker *w, worker_run_fn run, worker_done_fn done,
    void *arg)
{
	struct job	*j;

	j = mem_calloc(1, sizeof(*j));
	if (j == NULL)
		return -1;
	j->run = run;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&w->lock);
	if (w->ntodo >= WORKER_QUEUE_MAX) {
		pthread_mutex_unlock(&w->lock);
		mem_free(j);
		errno = EAGAIN;
		return -1;
	}
	jobq_push(&w->todo, j);
	w->ntodo++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

void
worker_free(struct worker *w)
{
	struct job	*j;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	worker_deliver(w);
	while ((j = jobq_pop(&w->todo)) != NULL) {
		j->done(j->arg, 1);
		mem_free(j);
	}
	ev_ref(w->loop);
	ev_async_stop(w->loop, &w->wake);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	mem_free(w);
}
