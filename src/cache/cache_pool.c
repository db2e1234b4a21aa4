/* SPDX-License-Identifier: MIT */
/*
 * cache_pool.c - fixed worker threads behind a bounded ring of jobs, used by
 * read-ahead to decode blocks ahead of a sequential reader.
 *
 * Only a non-blocking try_add is offered: read-ahead is an optimisation and
 * drops work when the queue is full rather than stall a FUSE thread. Jobs
 * carry an owner pointer so that pf_pool_cancel() can remove an owner's
 * queued jobs and wait for its running ones; this is how pf_file_close()
 * guarantees that no job outlives its file (cache_int.h (I5)).
 */
#include "cache/cache_int.h"

#include <errno.h>
#include <stdlib.h>

typedef struct pf_job {
	pf_job_fn fn;
	void *owner;
	uint64_t arg;
} pf_job;

typedef struct pf_worker {
	pf_pool *pool;    /* immutable */
	pthread_t tid;    /* immutable once started */
	const void *busy; /* owner of the running job or NULL; pool->lock */
} pf_worker;

struct pf_pool {
	pthread_mutex_t lock; /* guards the queue, stopping and worker busy */
	pthread_cond_t work;  /* signalled when a job is queued or on stop */
	pthread_cond_t done;  /* broadcast whenever a job finishes */
	pf_job *queue;        /* ring of cap slots, count used from head */
	size_t cap, head, count;
	bool stopping;
	/* Jobs ever queued, finished and cancelled: with count and the busy
	 * workers they add up, read together under the lock. */
	uint64_t added, finished, cancelled;
	unsigned nworkers;    /* started; immutable after create */
	pf_worker *workers;
};

static bool pool_next(pf_pool *pool, pf_job *job)
{
	while (pool->count == 0 && !pool->stopping)
		pthread_cond_wait(&pool->work, &pool->lock);
	if (pool->stopping)
		return false;
	*job = pool->queue[pool->head];
	pool->head = (pool->head + 1) % pool->cap;
	pool->count--;
	return true;
}

static void *worker_main(void *arg)
{
	pf_worker *w = arg;
	pf_pool *pool = w->pool;
	pf_job job;

	pthread_mutex_lock(&pool->lock);
	while (pool_next(pool, &job)) {
		w->busy = job.owner;
		pthread_mutex_unlock(&pool->lock);
		job.fn(job.owner, job.arg);
		pthread_mutex_lock(&pool->lock);
		w->busy = NULL;
		pool->finished++;
		pthread_cond_broadcast(&pool->done);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

/* Stops and joins the started workers, then frees the pool. */
static void pool_free(pf_pool *pool)
{
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pool->count = 0;
	pthread_cond_broadcast(&pool->work);
	pthread_mutex_unlock(&pool->lock);
	for (unsigned i = 0; i < pool->nworkers; i++)
		pthread_join(pool->workers[i].tid, NULL);
	pthread_cond_destroy(&pool->done);
	pthread_cond_destroy(&pool->work);
	pthread_mutex_destroy(&pool->lock);
	free(pool->workers);
	free(pool->queue);
	free(pool);
}

int pf_pool_create(unsigned threads, size_t queue_cap, pf_pool **out)
{
	pf_pool *pool = calloc(1, sizeof(*pool));
	int rc = 0;

	if (!pool)
		return -ENOMEM;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->work, NULL);
	pthread_cond_init(&pool->done, NULL);
	pool->cap = queue_cap;
	pool->queue = calloc(queue_cap, sizeof(*pool->queue));
	pool->workers = calloc(threads, sizeof(*pool->workers));
	if (!pool->queue || !pool->workers) {
		pool_free(pool);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < threads; i++) {
		pf_worker *w = &pool->workers[i];

		w->pool = pool;
		rc = -pthread_create(&w->tid, NULL, worker_main, w);
		if (rc < 0) {
			pool_free(pool); /* joins the nworkers already started */
			return rc;
		}
		pool->nworkers++;
	}
	*out = pool;
	return 0;
}

void pf_pool_destroy(pf_pool *pool)
{
	if (pool)
		pool_free(pool);
}

bool pf_pool_try_add(pf_pool *pool, pf_job_fn fn, void *owner, uint64_t arg)
{
	bool queued = false;

	pthread_mutex_lock(&pool->lock);
	if (pool->count < pool->cap && !pool->stopping) {
		pool->queue[(pool->head + pool->count) % pool->cap] =
			(pf_job){ .fn = fn, .owner = owner, .arg = arg };
		pool->count++;
		pool->added++;
		queued = true;
		pthread_cond_signal(&pool->work);
	}
	pthread_mutex_unlock(&pool->lock);
	return queued;
}

static bool owner_running(const pf_pool *pool, const void *owner)
{
	for (unsigned i = 0; i < pool->nworkers; i++)
		if (pool->workers[i].busy == owner)
			return true;
	return false;
}

void pf_pool_cancel(pf_pool *pool, const void *owner)
{
	size_t kept = 0;

	pthread_mutex_lock(&pool->lock);
	/* Compact the ring in place, keeping other owners' jobs in order. */
	for (size_t i = 0; i < pool->count; i++) {
		pf_job job = pool->queue[(pool->head + i) % pool->cap];

		if (job.owner != owner)
			pool->queue[(pool->head + kept++) % pool->cap] = job;
	}
	pool->cancelled += pool->count - kept;
	pool->count = kept;
	while (owner_running(pool, owner))
		pthread_cond_wait(&pool->done, &pool->lock);
	pthread_mutex_unlock(&pool->lock);
}

void pf_pool_get_stats(pf_pool *pool, pf_pool_stats *st)
{
	pthread_mutex_lock(&pool->lock);
	st->added = pool->added;
	st->finished = pool->finished;
	st->cancelled = pool->cancelled;
	st->queued = pool->count;
	st->running = 0;
	for (unsigned i = 0; i < pool->nworkers; i++)
		st->running += pool->workers[i].busy != NULL;
	pthread_mutex_unlock(&pool->lock);
}
