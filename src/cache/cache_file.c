/* SPDX-License-Identifier: MIT */
/*
 * cache_file.c - open files: reads as zero-copy spans over cached, dirty or
 * zero blocks; writes into dirty blocks; truncate; commit.
 *
 * A pf_file keeps its own working size and a sorted array of dirty blocks
 * over one container. Dirty blocks are encoded into the container's working
 * state when they pass dirty_limit (checked before a write applies, so a
 * failed encode fails that write without applying it; one write may go over
 * the limit by its own size) and at commit. Invariants (I3)(I4)(I5) are in
 * cache_int.h; in addition:
 *   (I6) every byte of a dirty buffer past f->size is zero, so growing the
 *        file never exposes old data.
 */
#include "cache/cache_int.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/pf_common.h"

/* Largest logical size: offsets must fit off_t. */
#define FILE_SIZE_MAX ((uint64_t)INT64_MAX)

/* ---- dirty table (f->lock held) ------------------------------------------- */

/* Binary search: true if block b is dirty; *at is its index or where it
 * would be inserted. */
static bool dirty_find(const pf_file *f, uint64_t b, size_t *at)
{
	size_t lo = 0, hi = f->ndirty;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->dirty[mid].block < b)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return lo < f->ndirty && f->dirty[lo].block == b;
}

/* Inserts buf (taking its reference) as dirty block b at index at. */
static int dirty_insert(pf_file *f, size_t at, uint64_t b, pf_buf *buf)
{
	if (f->ndirty == f->dirty_cap) {
		size_t cap = f->dirty_cap ? f->dirty_cap * 2 : 16;
		pf_dirty *v = reallocarray(f->dirty, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		f->dirty = v;
		f->dirty_cap = cap;
	}
	memmove(&f->dirty[at + 1], &f->dirty[at],
		(f->ndirty - at) * sizeof(*f->dirty));
	f->dirty[at] = (pf_dirty){ .block = b, .buf = buf };
	f->ndirty++;
	f->dirty_bytes += f->bs;
	return 0;
}

/* Releases dirty entries [from, to) and closes the gap. */
static void dirty_drop(pf_file *f, size_t from, size_t to)
{
	if (from == to)
		return; /* f->dirty may still be NULL */
	for (size_t i = from; i < to; i++)
		pf_buf_release(f->dirty[i].buf);
	memmove(&f->dirty[from], &f->dirty[to],
		(f->ndirty - to) * sizeof(*f->dirty));
	f->ndirty -= to - from;
	f->dirty_bytes = (uint64_t)f->ndirty * f->bs;
}

pf_buf *pf_file_dirty_get(pf_file *f, uint64_t b)
{
	size_t at;

	return dirty_find(f, b, &at) ? f->dirty[at].buf : NULL;
}

/* Plain length of block b at the working size (b is inside the file). */
static uint32_t block_len(const pf_file *f, uint64_t b)
{
	uint64_t left = f->size - b * f->bs;

	return left < f->bs ? (uint32_t)left : f->bs;
}

/* Encodes every dirty block, in block order so that each write extends the
 * container at most to its own end (I4), and drops those written. */
static int dirty_flush(pf_file *f)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < f->ndirty; i++) {
		const pf_dirty *d = &f->dirty[i];

		rc = pf_container_write_block(f->c, d->block, d->buf->data,
					      block_len(f, d->block));
		if (rc < 0)
			break;
	}
	dirty_drop(f, 0, i);
	return rc;
}

/* ---- block access (f->lock held) ------------------------------------------ */

void pf_file_block_key(pf_file *f, uint64_t b, pf_block_key *k, bool *zero)
{
	pf_block_entry e;

	*zero = b >= (f->size + f->bs - 1) / f->bs;
	if (*zero)
		return;
	pf_container_block(f->c, b, &e);
	*zero = e.codec == PF_CODEC_ZERO;
	*k = (pf_block_key){ .dev = f->dev, .ino = f->ino, .block = b,
			     .checksum = e.checksum,
			     .len = pf_container_block_len(f->c, b) };
}

/* Pins the current bytes of block b for a reader: *data is bs bytes valid
 * until pf_buf_release(*pin). */
static int block_pin(pf_file *f, uint64_t b, const uint8_t **data,
		     pf_buf **pin)
{
	pf_buf *buf = pf_file_dirty_get(f, b);
	pf_block_key k;
	bool zero;
	int rc;

	if (buf) {
		pf_buf_ref(buf); /* partner: pf_span_release() */
		*data = buf->data;
		*pin = buf;
		return 0;
	}
	pf_file_block_key(f, b, &k, &zero);
	if (zero) {
		*data = pf_zero_block();
		*pin = NULL;
		return 0;
	}
	rc = pf_cache_get(f->cache, f->c, &k, false, &buf);
	if (rc < 0)
		return rc;
	*data = buf->data;
	*pin = buf;
	return 0;
}

/* Copies the current bytes of clean block b into dst (bs bytes, I6). */
static int block_fill(pf_file *f, uint64_t b, pf_buf *dst)
{
	const uint8_t *data;
	pf_buf *pin;
	int rc = block_pin(f, b, &data, &pin);

	if (rc < 0)
		return rc;
	memcpy(dst->data, data, f->bs);
	pf_buf_release(pin);
	return 0;
}

/* Returns in *out the dirty buffer of block b, safe to write in place:
 * copied if a reader shares it (I3), created and loaded if the block was
 * clean (unless `whole`, when the caller overwrites all of it). */
static int block_writable(pf_file *f, uint64_t b, bool whole, pf_buf **out)
{
	size_t at;
	pf_buf *buf;
	int rc;

	if (dirty_find(f, b, &at)) {
		buf = f->dirty[at].buf;
		if (atomic_load(&buf->ref) > 1) {
			pf_buf *copy = pf_buf_new(f->bs);

			if (!copy)
				return -ENOMEM;
			memcpy(copy->data, buf->data, f->bs);
			f->dirty[at].buf = copy;
			pf_buf_release(buf);
		}
		*out = f->dirty[at].buf;
		return 0;
	}
	buf = pf_buf_new(f->bs);
	if (!buf)
		return -ENOMEM;
	rc = whole ? 0 : block_fill(f, b, buf);
	if (rc == 0)
		rc = dirty_insert(f, at, b, buf);
	if (rc < 0) {
		pf_buf_release(buf);
		return rc;
	}
	*out = buf;
	return 0;
}

/* ---- open / close / state -------------------------------------------------- */

int pf_file_open(pf_cache *cache, int fd, dev_t dev, ino_t ino,
		 const char *label, pf_file **out)
{
	pthread_rwlockattr_t attr;
	pf_file *f = calloc(1, sizeof(*f));
	int rc;

	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	rc = pf_container_open(cache->store, fd, label, &f->c);
	if (rc < 0) {
		free(f);
		return rc;
	}
	f->cache = cache;
	f->dev = dev;
	f->ino = ino;
	f->bs = pf_container_block_size(f->c);
	f->size = pf_container_size(f->c);
	/* Writers first: a stream of readers must not starve a writer. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr,
				      PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&f->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	*out = f;
	return 0;
}

void pf_file_close(pf_file *f)
{
	if (!f)
		return;
	pf_pool_cancel(f->cache->pool, f); /* (I5) */
	dirty_drop(f, 0, f->ndirty);
	free(f->dirty);
	pf_container_close(f->c);
	pthread_rwlock_destroy(&f->lock);
	free(f);
}

uint64_t pf_file_size(pf_file *f)
{
	uint64_t size;

	pthread_rwlock_rdlock(&f->lock);
	size = f->size;
	pthread_rwlock_unlock(&f->lock);
	return size;
}

uint32_t pf_file_block_size(const pf_file *f)
{
	return f->bs;
}

uint64_t pf_file_stored_bytes(pf_file *f)
{
	return pf_container_stored_bytes(f->c);
}

int pf_file_get_info(pf_file *f, pf_file_info *info,
		     uint8_t (*ids)[PF_MODEL_ID_SIZE], int max)
{
	uint64_t size = pf_container_size(f->c);
	uint64_t n = size / f->bs + (size % f->bs != 0);
	pf_block_entry e;

	memset(info, 0, sizeof(*info));
	info->stored_bytes = pf_container_stored_bytes(f->c);
	for (uint64_t b = 0; b < n; b++) {
		pf_container_block(f->c, b, &e);
		/* The index was validated at open; the bound keeps a bad id
		 * from indexing past the array all the same. */
		if (e.codec <= PF_CODEC_MAX_ID)
			info->blocks[e.codec]++;
	}
	return pf_container_models(f->c, ids, max);
}

bool pf_file_dirty(pf_file *f)
{
	bool dirty;

	pthread_rwlock_rdlock(&f->lock);
	dirty = f->ndirty > 0 || f->size != pf_container_size(f->c) ||
		pf_container_dirty(f->c);
	pthread_rwlock_unlock(&f->lock);
	return dirty;
}

/* ---- read ------------------------------------------------------------------ */

void pf_span_release(pf_span *span)
{
	pf_buf_release(span->pin); /* partner: block_pin() */
	span->pin = NULL;
	span->copy = NULL; /* the thread's buffer stays for its next read */
}

/* The buffer a thread copies reads across blocks into: kept for its next
 * such read and freed when the thread exits. OPTIMIZATION: a fresh 1 MiB
 * malloc and free per read cost about 5% of cold sequential reads. */
typedef struct copy_buf {
	uint8_t *p;
	size_t cap;
} copy_buf;

static pthread_key_t copy_key;
static int copy_key_rc = -1;
static pthread_once_t copy_once = PTHREAD_ONCE_INIT;

static void copy_buf_free(void *arg)
{
	copy_buf *b = arg;

	free(b->p);
	free(b);
}

static void copy_key_init(void)
{
	copy_key_rc = pthread_key_create(&copy_key, copy_buf_free);
}

/* @return at least len bytes of the calling thread's buffer, or NULL. */
static uint8_t *thread_copy_buf(size_t len)
{
	copy_buf *b;

	pthread_once(&copy_once, copy_key_init);
	if (copy_key_rc != 0)
		return NULL;
	b = pthread_getspecific(copy_key);
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b || pthread_setspecific(copy_key, b) != 0) {
			free(b);
			return NULL;
		}
	}
	if (b->cap < len) {
		free(b->p);
		b->p = malloc(len);
		b->cap = b->p ? len : 0;
	}
	return b->p;
}

/* Copies [off, end) out of its blocks, pinning one block at a time. */
static int read_copied(pf_file *f, uint64_t off, uint64_t end, pf_span *span)
{
	uint8_t *copy = thread_copy_buf((size_t)(end - off));

	if (!copy)
		return -ENOMEM;
	for (uint64_t pos = off; pos < end;) {
		uint64_t b = pos / f->bs;
		uint32_t in = (uint32_t)(pos - b * f->bs);
		uint64_t len = f->bs - in < end - pos ? f->bs - in : end - pos;
		const uint8_t *data;
		pf_buf *pin;
		int rc = block_pin(f, b, &data, &pin);

		if (rc < 0)
			return rc;
		memcpy(copy + (pos - off), data + in, (size_t)len);
		pf_buf_release(pin);
		pos += len;
	}
	span->data = span->copy = copy;
	return 0;
}

/* Points the span into the one block holding [off, end), pinned. */
static int read_pinned(pf_file *f, uint64_t off, pf_span *span)
{
	uint64_t b = off / f->bs;
	const uint8_t *data;
	pf_buf *pin;
	int rc = block_pin(f, b, &data, &pin);

	if (rc < 0)
		return rc;
	span->data = data + (off - b * f->bs);
	span->pin = pin;
	return 0;
}

ssize_t pf_file_read(pf_file *f, uint64_t off, size_t size, pf_span *span)
{
	uint64_t end;
	int rc = 0;

	*span = (pf_span){ 0 };
	pthread_rwlock_rdlock(&f->lock);
	end = off < f->size ? off + (size < f->size - off ? size : f->size - off)
			    : off;
	if (end > off && off / f->bs == (end - 1) / f->bs)
		rc = read_pinned(f, off, span);
	else if (end > off)
		rc = read_copied(f, off, end, span);
	pthread_rwlock_unlock(&f->lock);
	if (rc < 0)
		return rc;
	span->len = (size_t)(end - off);
	return (ssize_t)span->len;
}

/* ---- write / truncate / commit --------------------------------------------- */

ssize_t pf_file_write(pf_file *f, uint64_t off, const void *buf, size_t size)
{
	const uint8_t *src = buf;
	uint64_t done = 0;
	int rc = 0;

	if (f->cache->read_only)
		return -EROFS;
	if (off > FILE_SIZE_MAX || size > FILE_SIZE_MAX - off)
		return -EFBIG;
	pthread_rwlock_wrlock(&f->lock);
	if (f->dirty_bytes > f->cache->opts.dirty_limit)
		rc = dirty_flush(f);
	while (rc == 0 && done < size) {
		uint64_t pos = off + done, b = pos / f->bs;
		uint32_t in = (uint32_t)(pos - b * f->bs);
		uint64_t len = f->bs - in < size - done ? f->bs - in : size - done;
		pf_buf *d;

		rc = block_writable(f, b, len == f->bs, &d);
		if (rc < 0)
			break;
		memcpy(d->data + in, src + done, (size_t)len);
		done += len;
	}
	if (off + done > f->size)
		f->size = off + done;
	pthread_rwlock_unlock(&f->lock);
	return done > 0 ? (ssize_t)done : rc;
}

/* Shrinks to size: the new last block keeps no bytes past size (I6) and
 * the container is cut to match (I4). */
static int file_shrink(pf_file *f, uint64_t size)
{
	uint64_t last = size / f->bs;
	uint32_t tail = (uint32_t)(size - last * f->bs);
	pf_buf *d = NULL;
	pf_block_key k;
	bool zero;
	size_t at;

	if (tail) {
		/* Make the cut block dirty before cutting anything, so that a
		 * failure leaves the file as it was; a hole needs nothing. */
		bool keep = pf_file_dirty_get(f, last) != NULL;

		if (!keep) {
			pf_file_block_key(f, last, &k, &zero);
			keep = !zero;
		}
		if (keep)
			PF_FORWARD(block_writable(f, last, false, &d));
	}
	if (pf_container_size(f->c) > size)
		PF_FORWARD(pf_container_set_size(f->c, size));
	if (d)
		memset(d->data + tail, 0, f->bs - tail);
	dirty_find(f, last + (tail ? 1 : 0), &at);
	dirty_drop(f, at, f->ndirty);
	f->size = size;
	return 0;
}

int pf_file_truncate(pf_file *f, uint64_t size)
{
	int rc = 0;

	if (f->cache->read_only)
		return -EROFS;
	if (size > FILE_SIZE_MAX)
		return -EFBIG;
	pthread_rwlock_wrlock(&f->lock);
	if (size < f->size)
		rc = file_shrink(f, size);
	else
		f->size = size; /* holes read as zeros (I6) */
	pthread_rwlock_unlock(&f->lock);
	return rc;
}

int pf_file_commit(pf_file *f, bool durable)
{
	int rc;

	if (f->cache->read_only)
		return 0; /* nothing can have changed */
	pthread_rwlock_wrlock(&f->lock);
	rc = dirty_flush(f);
	if (rc == 0 && pf_container_size(f->c) != f->size)
		rc = pf_container_set_size(f->c, f->size);
	if (rc == 0)
		rc = pf_container_commit(f->c, durable);
	pthread_rwlock_unlock(&f->lock);
	return rc;
}

/* ---- background recompression ---------------------------------------------- */

int pf_file_recode(pf_file *f, uint64_t b, bool *coded)
{
	bool past_end, dirty;

	*coded = false;
	pthread_rwlock_rdlock(&f->lock);
	past_end = b >= f->size / f->bs + (f->size % f->bs != 0);
	dirty = dirty_find(f, b, &(size_t){ 0 });
	pthread_rwlock_unlock(&f->lock);
	if (past_end)
		return -ERANGE;
	/* The container checks under its own lock that b did not change
	 * meanwhile; f->lock stays free for readers and writers. */
	return dirty ? 0 : pf_container_recode_block(f->c, b, coded);
}

int pf_file_commit_recoded(pf_file *f, bool durable)
{
	int rc = 0;

	if (f->cache->read_only)
		return 0;
	pthread_rwlock_wrlock(&f->lock);
	if (f->ndirty || pf_container_size(f->c) != f->size ||
	    pf_container_changed(f->c))
		rc = -EBUSY;
	else if (pf_container_dirty(f->c))
		rc = pf_container_commit(f->c, durable);
	pthread_rwlock_unlock(&f->lock);
	return rc;
}
