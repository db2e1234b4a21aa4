/* SPDX-License-Identifier: MIT */
/*
 * cache_int.h - private to src/cache: block buffers, the clean-block table,
 * the worker pool and the pf_file layout shared by cache_file.c and
 * cache_readahead.c.
 *
 * Design notes
 *
 * Buffers (pf_buf). Every byte handed out by pf_file_read() lives in a pf_buf
 * of the file's block size whose bytes past the plain length are zero, so a
 * span may run to the end of the block whatever the block's stored length.
 * A buffer has one of two owners:
 *   - a clean cache entry (buf->entry != NULL): the entry holds the only
 *     reference; readers pin the *entry* (pf_cache_get/pf_cache_put), and the
 *     buffer dies when an unpinned entry is evicted;
 *   - a file's dirty table (buf->entry == NULL): readers take a reference
 *     (pf_buf_ref) and the last pf_buf_release() frees it.
 * pf_buf_release() dispatches on buf->entry, so a span's pin is just a
 * pf_buf pointer, NULL for the shared zero block.
 *
 * Invariants:
 *   (I1) A pinned entry is never evicted and never on the LRU list; an entry
 *        is on the LRU list iff it is READY, hashed and unpinned.
 *   (I2) table.bytes is the sum of buffer capacities of all hashed entries
 *        (READY and LOADING); after a load it is <= cache_size unless the
 *        excess is pinned or loading.
 *   (I3) A dirty buffer is written in place only while its refcount is 1
 *        (no reader holds it); otherwise the writer copies it first.
 *   (I4) pf_container_size(f->c) <= f->size: the file shrinks the container
 *        at once and grows it only at commit or when dirty blocks are
 *        encoded, so container bytes past f->size never exist.
 *   (I5) No pool job references a pf_file after pf_file_close() returned:
 *        close cancels its queued jobs and waits for its running ones.
 *
 * Entry states (cache_table.c):
 *
 *   (absent) --pf_cache_get: miss--> LOADING --decode ok--> READY
 *                                       |                     |
 *                                       +--decode fails-->  EMPTY (unhashed;
 *                                          waiters get the   freed by the last
 *                                          error)            pf_cache_put)
 *   READY --evict_lru (unpinned only)--> freed
 */
#ifndef PF_CACHE_INT_H
#define PF_CACHE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "cache/cache.h"

/* ---- buffers --------------------------------------------------------------- */

struct pf_cache_entry;

typedef struct pf_buf {
	atomic_uint ref;              /* holders; only dirty buffers go above 1 */
	struct pf_cache_entry *entry; /* owning clean entry, NULL if dirty; immutable */
	uint32_t cap;                 /* bytes at data (the block size); immutable */
	uint8_t data[];               /* zero past the plain length */
} pf_buf;

/* Allocates a buffer of cap bytes with refcount 1 and no owner entry; the
 * contents are uninitialised. @return NULL on ENOMEM. */
pf_buf *pf_buf_new(uint32_t cap);
/* Takes another reference on a dirty buffer. */
void pf_buf_ref(pf_buf *buf);
/* Drops a pin: unpins the owning entry of a clean buffer, or drops a
 * reference on a dirty one (the last frees it). NULL is ok (zero block). */
void pf_buf_release(pf_buf *buf);

/* PF_BLOCK_SIZE_MAX zero bytes shared by every hole; never written, no pin. */
const uint8_t *pf_zero_block(void);

/* ---- clean-block table (cache_table.c) ------------------------------------ */

/* Identity of a decoded block: the same bytes whatever file handle asks. */
typedef struct pf_block_key {
	dev_t dev;
	ino_t ino;
	uint64_t block;
	uint64_t checksum; /* plain XXH3 from the block index */
	uint32_t len;      /* plain length from the block index */
} pf_block_key;

typedef struct pf_cache_table {
	pthread_mutex_t lock;            /* guards everything below and all entries */
	struct pf_cache_entry **buckets; /* hash chains; nbuckets is a power of 2 */
	size_t nbuckets;                 /* immutable after init */
	struct pf_cache_entry *lru_head; /* least recently used unpinned READY entry */
	struct pf_cache_entry *lru_tail; /* most recently used */
	uint64_t cache_size;             /* bytes; immutable after init */
	uint64_t bytes;                  /* bytes of hashed entries (I2) */
	uint64_t hits, misses;           /* reader lookups (prefetches not counted) */
	uint64_t decodes, decoded_bytes; /* every decode, reader or worker */
	uint64_t codec_bytes[PF_CODEC_MAX_ID + 1]; /* successful decodes */
	uint64_t codec_ns[PF_CODEC_MAX_ID + 1];    /* time they took */
} pf_cache_table;

/* Pins the decoded block k of container c, decoding it on a miss; a second
 * caller asking for a block being decoded waits for that decode instead.
 * `prefetch` keeps the lookup out of the hit/miss counters. On success
 * *out is a pinned clean buffer, released by pf_buf_release() (which calls
 * pf_cache_put). Blocks while decoding. @return 0 or -EIO / -ENOMEM. */
int pf_cache_get(pf_cache *cache, pf_container *c, const pf_block_key *k,
		 bool prefetch, pf_buf **out);
/* True when block k is cached or being decoded; touches no counter. */
bool pf_cache_contains(pf_cache *cache, const pf_block_key *k);

/* ---- worker pool (cache_pool.c) ------------------------------------------- */

typedef struct pf_pool pf_pool;
/* A job: fn(owner, arg) runs on a worker; owner is the cancellation key. */
typedef void (*pf_job_fn)(void *owner, uint64_t arg);

/* Starts `threads` workers with a queue of `queue_cap` jobs.
 * @return 0, -ENOMEM or -errno from pthread_create. */
int pf_pool_create(unsigned threads, size_t queue_cap, pf_pool **out);
/* Drops queued jobs, stops and joins the workers. NULL is ok. */
void pf_pool_destroy(pf_pool *pool);
/* Queues a job unless the queue is full. Never blocks on a full queue.
 * @return true when queued. */
bool pf_pool_try_add(pf_pool *pool, pf_job_fn fn, void *owner, uint64_t arg);
/* Removes queued jobs of owner and waits until none of its jobs runs. Must
 * not be called with a lock that such a job takes. */
void pf_pool_cancel(pf_pool *pool, const void *owner);
/* One consistent snapshot: added == finished + cancelled + queued + running. */
typedef struct pf_pool_stats {
	uint64_t added, finished, cancelled; /* jobs ever */
	uint64_t queued, running;            /* jobs now */
} pf_pool_stats;
void pf_pool_get_stats(pf_pool *pool, pf_pool_stats *st);

/* ---- the cache ------------------------------------------------------------- */

struct pf_cache {
	pf_store *store;          /* borrowed; immutable */
	pf_cache_opts opts;       /* immutable after create */
	bool read_only;           /* from the store opts; immutable */
	pf_cache_table table;     /* locks itself */
	pf_pool *pool;            /* locks itself */
	/* Read-ahead jobs queued, running now and finished; relaxed: they
	 * are statistics and order nothing. */
};

/* ---- files ----------------------------------------------------------------- */

typedef struct pf_dirty {
	uint64_t block;
	pf_buf *buf; /* one reference owned by the table */
} pf_dirty;

struct pf_file {
	pf_cache *cache;    /* immutable */
	pf_container *c;    /* immutable; the container locks itself */
	dev_t dev;          /* backing inode; immutable */
	ino_t ino;
	uint32_t bs;        /* block size of the container; immutable */

	/* Readers (pf_file_read, prefetch jobs) hold it shared; anything that
	 * changes the size or the dirty table holds it exclusive. Taken before
	 * the cache table lock (cache.h lock order). */
	pthread_rwlock_t lock;
	uint64_t size;        /* working logical size in bytes (I4) */
	pf_dirty *dirty;      /* sorted by block, ndirty used of dirty_cap */
	size_t ndirty, dirty_cap;
	uint64_t dirty_bytes; /* ndirty * bs */
};

/* Fills *k for block b of f; sets *zero when the block reads as zeros (a
 * hole or past the end). Caller holds f->lock. */
void pf_file_block_key(pf_file *f, uint64_t b, pf_block_key *k, bool *zero);
/* The dirty buffer of block b or NULL. Caller holds f->lock. */
pf_buf *pf_file_dirty_get(pf_file *f, uint64_t b);
/* Pool job: decodes block `b` of file `owner` into the cache. */
void pf_file_prefetch_job(void *owner, uint64_t b);

#endif
