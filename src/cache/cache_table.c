/* SPDX-License-Identifier: MIT */
/*
 * cache_table.c - the clean decoded-block cache: block buffers, a hash table
 * of entries with single-flight loading, LRU eviction, and the pf_cache
 * object itself (create/destroy, statistics, store forwarders).
 *
 * Entries are keyed by pf_block_key, so the same stored bytes decode once
 * for every handle of an inode and survive a close and reopen. The entry
 * states and invariants (I1)(I2) are in cache_int.h. One mutex guards the
 * whole table: lookups are short and decoding runs outside it. The bucket
 * count is fixed at create time from cache_size / PF_BLOCK_SIZE_MIN, which
 * bounds the number of unpinned entries; pinned excess only lengthens chains.
 */
#include "cache/cache_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/pf_common.h"

enum entry_state { ENTRY_EMPTY, ENTRY_LOADING, ENTRY_READY };

struct pf_cache_entry {
	pf_block_key key;      /* immutable */
	pf_cache_table *table; /* immutable */
	pf_buf *buf;           /* owned; buf->entry == this; immutable */
	/* All below guarded by table->lock. */
	enum entry_state state;
	int err;                  /* load error once EMPTY */
	unsigned pins;            /* pf_cache_get calls not yet put */
	bool hashed;              /* reachable from a bucket */
	pthread_cond_t loaded;    /* broadcast when LOADING ends */
	struct pf_cache_entry *hnext;
	struct pf_cache_entry *lru_prev, *lru_next; /* (I1) */
};

#define BUCKETS_MIN 64u
#define BUCKETS_MAX (1u << 20)

/* Never written: every hole and read past committed data points here. */
static uint8_t zero_block[PF_BLOCK_SIZE_MAX];

const uint8_t *pf_zero_block(void)
{
	return zero_block;
}

/* ---- buffers --------------------------------------------------------------- */

pf_buf *pf_buf_new(uint32_t cap)
{
	pf_buf *buf = malloc(sizeof(*buf) + cap);

	if (!buf)
		return NULL;
	atomic_init(&buf->ref, 1);
	buf->entry = NULL;
	buf->cap = cap;
	return buf;
}

void pf_buf_ref(pf_buf *buf)
{
	/* Relaxed is enough to add a holder: the caller already holds the
	 * table's reference under the file lock. */
	atomic_fetch_add_explicit(&buf->ref, 1, memory_order_relaxed);
}

static void cache_put(struct pf_cache_entry *e);

void pf_buf_release(pf_buf *buf)
{
	if (!buf)
		return;
	if (buf->entry) {
		cache_put(buf->entry); /* partner: pf_cache_get() */
		return;
	}
	/* acq_rel: our reads of the bytes happen before a later in-place write
	 * (I3) or the free by whoever drops the last reference. */
	if (atomic_fetch_sub_explicit(&buf->ref, 1, memory_order_acq_rel) == 1)
		free(buf);
}

/* ---- hash table and LRU (table->lock held) -------------------------------- */

static size_t key_hash(const pf_block_key *k)
{
	uint64_t h = k->checksum ^ (k->block * 0x9e3779b97f4a7c15ull) ^
		     ((uint64_t)k->ino * 0xc2b2ae3d27d4eb4full) ^
		     (uint64_t)k->dev ^ k->len;

	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 29;
	return (size_t)h;
}

static bool key_equal(const pf_block_key *a, const pf_block_key *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->block == b->block &&
	       a->checksum == b->checksum && a->len == b->len;
}

static struct pf_cache_entry **bucket_of(pf_cache_table *t,
					 const pf_block_key *k)
{
	return &t->buckets[key_hash(k) & (t->nbuckets - 1)];
}

static struct pf_cache_entry *table_find(pf_cache_table *t,
					 const pf_block_key *k)
{
	struct pf_cache_entry *e = *bucket_of(t, k);

	while (e && !key_equal(&e->key, k))
		e = e->hnext;
	return e;
}

static void table_unhash(pf_cache_table *t, struct pf_cache_entry *e)
{
	struct pf_cache_entry **p = bucket_of(t, &e->key);

	while (*p != e)
		p = &(*p)->hnext;
	*p = e->hnext;
	e->hashed = false;
	t->bytes -= e->buf->cap;
}

static void lru_remove(pf_cache_table *t, struct pf_cache_entry *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		t->lru_head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		t->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void lru_append(pf_cache_table *t, struct pf_cache_entry *e)
{
	e->lru_next = NULL;
	e->lru_prev = t->lru_tail;
	if (t->lru_tail)
		t->lru_tail->lru_next = e;
	else
		t->lru_head = e;
	t->lru_tail = e;
}

static void entry_free(struct pf_cache_entry *e)
{
	pthread_cond_destroy(&e->loaded);
	free(e->buf);
	free(e);
}

/* Evicts least recently used unpinned entries until the table fits (I2). */
static void table_evict(pf_cache_table *t)
{
	while (t->bytes > t->cache_size && t->lru_head) {
		struct pf_cache_entry *e = t->lru_head;

		lru_remove(t, e);
		table_unhash(t, e);
		entry_free(e);
	}
}

static void entry_pin(pf_cache_table *t, struct pf_cache_entry *e)
{
	if (e->pins++ == 0 && e->state == ENTRY_READY)
		lru_remove(t, e); /* (I1) */
}

static void entry_unpin(pf_cache_table *t, struct pf_cache_entry *e)
{
	if (--e->pins > 0)
		return;
	if (!e->hashed) {
		entry_free(e); /* a failed load whose last waiter left */
		return;
	}
	lru_append(t, e);
	table_evict(t);
}

static void cache_put(struct pf_cache_entry *e)
{
	pf_cache_table *t = e->table;

	pthread_mutex_lock(&t->lock);
	entry_unpin(t, e);
	pthread_mutex_unlock(&t->lock);
}

/* ---- lookups --------------------------------------------------------------- */

/* A new LOADING entry for k with one pin (the loader), or NULL. Allocated
 * without the table lock: the buffer is a block size of memory. */
static struct pf_cache_entry *entry_new(pf_cache_table *t,
					const pf_block_key *k, uint32_t cap)
{
	struct pf_cache_entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->buf = pf_buf_new(cap);
	if (!e->buf || pthread_cond_init(&e->loaded, NULL) != 0) {
		free(e->buf);
		free(e);
		return NULL;
	}
	e->buf->entry = e;
	e->key = *k;
	e->table = t;
	e->state = ENTRY_LOADING;
	e->pins = 1;
	return e;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Decodes block k->block of c into e's buffer and zeroes the tail; sets
 * *codec and *ns to the block's codec and the time the decode took. */
static int entry_decode(pf_container *c, struct pf_cache_entry *e,
			uint8_t *codec, uint64_t *ns)
{
	uint32_t len = 0;
	pf_block_entry be;
	uint64_t t0 = now_ns();
	int rc;

	pf_container_block(c, e->key.block, &be);
	*codec = be.codec <= PF_CODEC_MAX_ID ? be.codec : PF_CODEC_RAW;
	rc = pf_container_read_block(c, e->key.block, e->buf->data,
				     e->buf->cap, &len);
	*ns = now_ns() - t0;
	if (rc < 0)
		return rc;
	if (len != e->key.len || len > e->buf->cap)
		return PF_CORRUPT("decoded block length differs from its index entry");
	memset(e->buf->data + len, 0, e->buf->cap - len);
	return 0;
}

/* Waits for a pinned entry's load; returns 0 when READY, else unpins it and
 * returns the load error. */
static int entry_wait(pf_cache_table *t, struct pf_cache_entry *e)
{
	int rc;

	while (e->state == ENTRY_LOADING)
		pthread_cond_wait(&e->loaded, &t->lock);
	if (e->state == ENTRY_READY)
		return 0;
	rc = e->err;
	entry_unpin(t, e);
	return rc;
}

/* Runs the load of a LOADING entry pinned by us and publishes the result. */
static int entry_load(pf_cache_table *t, pf_container *c,
		      struct pf_cache_entry *e)
{
	uint8_t codec;
	uint64_t ns;
	int rc = entry_decode(c, e, &codec, &ns);

	pthread_mutex_lock(&t->lock);
	t->decodes++;
	if (rc == 0) {
		t->decoded_bytes += e->key.len;
		t->codec_bytes[codec] += e->key.len;
		t->codec_ns[codec] += ns;
		e->state = ENTRY_READY;
	} else {
		e->state = ENTRY_EMPTY;
		e->err = rc;
		table_unhash(t, e);
	}
	pthread_cond_broadcast(&e->loaded);
	if (rc < 0)
		entry_unpin(t, e); /* waiters keep it alive until they leave */
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int pf_cache_get(pf_cache *cache, pf_container *c, const pf_block_key *k,
		 bool prefetch, pf_buf **out)
{
	pf_cache_table *t = &cache->table;
	struct pf_cache_entry *e, *fresh = NULL;
	int rc;

	pthread_mutex_lock(&t->lock);
	while (!(e = table_find(t, k)) && !fresh) {
		/* Miss: allocate unlocked, then look again. */
		pthread_mutex_unlock(&t->lock);
		fresh = entry_new(t, k, pf_container_block_size(c));
		if (!fresh)
			return -ENOMEM;
		pthread_mutex_lock(&t->lock);
	}
	if (e) {
		if (!prefetch)
			t->hits++;
		entry_pin(t, e); /* partner: cache_put() via pf_buf_release() */
		rc = entry_wait(t, e);
		pthread_mutex_unlock(&t->lock);
		if (fresh)
			entry_free(fresh);
		if (rc == 0)
			*out = e->buf;
		return rc;
	}
	if (!prefetch)
		t->misses++;
	e = fresh;
	e->hashed = true;
	e->hnext = *bucket_of(t, k);
	*bucket_of(t, k) = e;
	t->bytes += e->buf->cap;
	table_evict(t);
	pthread_mutex_unlock(&t->lock);

	rc = entry_load(t, c, e);
	if (rc == 0)
		*out = e->buf;
	return rc;
}

bool pf_cache_contains(pf_cache *cache, const pf_block_key *k)
{
	bool found;

	pthread_mutex_lock(&cache->table.lock);
	found = table_find(&cache->table, k) != NULL;
	pthread_mutex_unlock(&cache->table.lock);
	return found;
}

/* ---- the cache object ------------------------------------------------------ */

static int table_init(pf_cache_table *t, uint64_t cache_size)
{
	uint64_t want = cache_size / PF_BLOCK_SIZE_MIN;
	size_t n = BUCKETS_MIN;

	while (n < want && n < BUCKETS_MAX)
		n <<= 1;
	memset(t, 0, sizeof(*t));
	t->buckets = calloc(n, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->nbuckets = n;
	t->cache_size = cache_size;
	pthread_mutex_init(&t->lock, NULL);
	return 0;
}

/* Frees every entry; no pins may remain (files are closed, spans released). */
static void table_destroy(pf_cache_table *t)
{
	if (!t->buckets)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		while (t->buckets[i]) {
			struct pf_cache_entry *e = t->buckets[i];

			t->buckets[i] = e->hnext;
			entry_free(e);
		}
	}
	free(t->buckets);
	pthread_mutex_destroy(&t->lock);
}

/* Jobs the read-ahead queue holds: a window's worth of blocks per worker. */
#define POOL_QUEUE_MIN 256u

int pf_cache_create(pf_store *store, const pf_cache_opts *opts, pf_cache **out)
{
	pf_cache *cache;
	int rc;

	if (!opts || opts->threads < 1 || opts->threads > 64)
		return -EINVAL;
	cache = calloc(1, sizeof(*cache));
	if (!cache)
		return -ENOMEM;
	cache->store = store;
	cache->opts = *opts;
	cache->read_only = pf_store_get_opts(store)->read_only;
	rc = table_init(&cache->table, opts->cache_size);
	if (rc < 0)
		goto out_free;
	rc = pf_pool_create(opts->threads, POOL_QUEUE_MIN * opts->threads,
			    &cache->pool);
	if (rc < 0)
		goto out_table;
	*out = cache;
	return 0;

out_table:
	table_destroy(&cache->table);
out_free:
	free(cache);
	return rc;
}

void pf_cache_destroy(pf_cache *cache)
{
	if (!cache)
		return;
	pf_pool_destroy(cache->pool);
	table_destroy(&cache->table);
	free(cache);
}

void pf_cache_get_stats(pf_cache *cache, pf_cache_stats *st)
{
	pf_cache_table *t = &cache->table;
	pf_pool_stats ps;

	pthread_mutex_lock(&t->lock);
	st->hits = t->hits;
	st->misses = t->misses;
	st->decodes = t->decodes;
	st->decoded_bytes = t->decoded_bytes;
	st->bytes = t->bytes;
	st->cache_size = t->cache_size;
	memcpy(st->codec_bytes, t->codec_bytes, sizeof(st->codec_bytes));
	memcpy(st->codec_ns, t->codec_ns, sizeof(st->codec_ns));
	pthread_mutex_unlock(&t->lock);
	pf_pool_get_stats(cache->pool, &ps);
	st->prefetches = ps.added;
	st->prefetch_running = ps.running;
	st->prefetch_done = ps.finished;
	st->prefetch_dropped = ps.cancelled;
	st->queue_depth = ps.queued;
}

int pf_cache_root_fd(const pf_cache *cache)
{
	return pf_store_root_fd(cache->store);
}

bool pf_cache_is_hidden_name(const char *name)
{
	return pf_store_is_meta_name(name);
}

bool pf_cache_read_only(const pf_cache *cache)
{
	return cache->read_only;
}

bool pf_cache_has_default_models(const pf_cache *cache)
{
	pf_model_info *models;
	bool any = false;
	size_t n;

	if (pf_store_models_list(cache->store, &models, &n) < 0)
		return false;
	for (size_t i = 0; i < n && !any; i++)
		any = models[i].kind[0] != '\0';
	free(models);
	return any;
}

int pf_cache_tried_current(pf_cache *cache, pf_tried **t)
{
	uint64_t target = pf_store_recode_target(cache->store);

	if (*t && pf_tried_target(*t) == target)
		return 0;
	pf_tried_close(*t);
	return pf_tried_open(cache->store, PF_TRIED_BACKGROUND, target, t);
}

bool pf_cache_tried_has(pf_tried *t, uint64_t ino, uint64_t state)
{
	return pf_tried_has(t, ino, state);
}

int pf_cache_tried_add(pf_tried *t, uint64_t ino, uint64_t state, bool keep)
{
	return pf_tried_add(t, ino, state, keep);
}

int pf_cache_tried_scan_end(pf_tried *t)
{
	return pf_tried_stale(t) ? pf_tried_compact(t) : 0;
}

void pf_cache_tried_close(pf_tried *t)
{
	pf_tried_close(t);
}

int pf_cache_train_default(pf_cache *cache, const void *sample, size_t len,
			   uint64_t logical, pf_store_train_result *res)
{
	return pf_store_train_default(cache->store, sample, len, logical, res);
}

int pf_cache_peek_size(int fd, uint64_t *size)
{
	return pf_container_peek_size(fd, size);
}
