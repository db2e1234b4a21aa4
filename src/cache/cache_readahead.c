/* SPDX-License-Identifier: MIT */
/*
 * cache_readahead.c - sequential-read detection per handle and the worker
 * job that decodes a block ahead of the reader. OPTIMIZATION throughout:
 * reads are correct whether or not any prefetch ran.
 *
 * A handle reading where its previous read ended is sequential; from the
 * second such read on, blocks up to `readahead` bytes past the read are
 * queued, each once (pf_readahead.ahead_to), skipping blocks that are dirty,
 * holes or already cached. Workers decode through pf_cache_get(), so a
 * reader that arrives while a prefetch decodes waits for it instead of
 * decoding again.
 */
#include "cache/cache_int.h"

#include "common/pf_common.h"

/* Sequential reads seen before prefetching starts. */
#define RA_STREAK_MIN 2u

void pf_file_prefetch_job(void *owner, uint64_t b)
{
	pf_file *f = owner;
	pf_block_key k;
	pf_buf *buf;
	bool zero = true;

	pthread_rwlock_rdlock(&f->lock);
	if (!pf_file_dirty_get(f, b))
		pf_file_block_key(f, b, &k, &zero);
	/* A failed decode is left for the reader to report. */
	if (!zero && pf_cache_get(f->cache, f->c, &k, true, &buf) == 0)
		pf_buf_release(buf);
	pthread_rwlock_unlock(&f->lock);
}

/* True when block b would need a decode now. Caller holds f->lock. */
static bool prefetch_worth(pf_file *f, uint64_t b)
{
	pf_block_key k;
	bool zero;

	if (pf_file_dirty_get(f, b))
		return false;
	pf_file_block_key(f, b, &k, &zero);
	return !zero && !pf_cache_contains(f->cache, &k);
}

/* Queues blocks of [lo, hi) not yet queued; returns where queuing stopped. */
static uint64_t prefetch_queue(pf_file *f, uint64_t lo, uint64_t hi)
{
	pf_cache *cache = f->cache;
	uint64_t b;

	for (b = lo / f->bs; b * f->bs < hi; b++) {
		if (!prefetch_worth(f, b))
			continue;
		if (!pf_pool_try_add(cache->pool, pf_file_prefetch_job, f, b))
			break; /* queue full: retry from here on the next read */
	}
	return b * f->bs;
}

void pf_file_readahead(pf_file *f, pf_readahead *ra, uint64_t off, size_t size)
{
	uint64_t window = f->cache->opts.readahead;
	uint64_t end = size > UINT64_MAX - off ? UINT64_MAX : off + size;
	uint64_t lo, hi;

	if (off == ra->next_off) {
		if (ra->streak < RA_STREAK_MIN)
			ra->streak++;
	} else {
		ra->streak = 0;
		ra->ahead_to = 0;
	}
	ra->next_off = end;
	if (ra->streak < RA_STREAK_MIN || window == 0)
		return;
	/* Never block a reader: skip this round if a writer holds the file. */
	if (pthread_rwlock_tryrdlock(&f->lock) != 0)
		return;
	lo = ra->ahead_to > end ? ra->ahead_to : end;
	hi = window > UINT64_MAX - end ? UINT64_MAX : end + window;
	if (hi > f->size)
		hi = f->size;
	if (lo < hi)
		ra->ahead_to = prefetch_queue(f, lo, hi);
	pthread_rwlock_unlock(&f->lock);
}
