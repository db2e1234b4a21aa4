/* SPDX-License-Identifier: MIT */
/*
 * cache.h - the cache layer: decoded blocks shared by all readers, the dirty
 * blocks of files being written, and the read-ahead workers.
 *
 * The filesystem layer talks to files only through this header. A pf_file is
 * one open container plus its dirty blocks; all handles of one inode share
 * it. Clean decoded blocks live in one cache bounded by cache_size and keyed
 * by (backing inode, block number, plain checksum), so a block wanted by two
 * readers is decoded once and a reopened file finds its blocks still there.
 * Reads return pinned spans that point straight into cache buffers, to be
 * handed to the kernel without a copy and released afterwards.
 *
 * Lock order: pf_file lock -> cache table lock -> store.
 */
#ifndef PF_CACHE_H
#define PF_CACHE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "store/store.h"

typedef struct pf_cache_opts {
	uint64_t cache_size;  /* bytes of decoded clean blocks kept */
	uint64_t readahead;   /* bytes prefetched ahead of a sequential reader */
	unsigned threads;     /* decode workers, 1..64 */
	uint64_t dirty_limit; /* dirty bytes per file before they are encoded */
} pf_cache_opts;

#define PF_CACHE_SIZE_DEFAULT (256ull << 20)
#define PF_READAHEAD_DEFAULT (4ull << 20)
#define PF_DIRTY_LIMIT_DEFAULT (64ull << 20)

typedef struct pf_cache pf_cache;

/* Creates the cache and starts its workers. The store is borrowed and must
 * outlive the cache. @return 0, -ENOMEM, or -errno from pthread_create. */
int pf_cache_create(pf_store *store, const pf_cache_opts *opts, pf_cache **out);
/* Stops read-ahead, joins the workers, frees every block. Files must be
 * closed first. NULL is ok. */
void pf_cache_destroy(pf_cache *cache);

/* Forwarded from the store, so the filesystem needs no other header. */
int pf_cache_root_fd(const pf_cache *cache);
bool pf_cache_is_hidden_name(const char *name);
bool pf_cache_read_only(const pf_cache *cache);
/* True when the store has default models, which pf_file_recode() uses. */
bool pf_cache_has_default_models(const pf_cache *cache);
/* Background recompression's record of the files it coded through
 * (.priorfs/recompress-background; store.h, pf_tried). _current makes *t
 * the record of the store's target as it is now (codec options, default
 * models): it keeps *t when that is it, else closes it and opens the new
 * one (an error is for a warning: *t then works in memory; NULL only
 * without memory). scan_end, after a pass over the whole store, drops what
 * the pass did not use once that is most of it. */
int pf_cache_tried_current(pf_cache *cache, pf_tried **t);
bool pf_cache_tried_has(pf_tried *t, uint64_t ino, uint64_t state);
int pf_cache_tried_add(pf_tried *t, uint64_t ino, uint64_t state, bool keep);
int pf_cache_tried_scan_end(pf_tried *t);
void pf_cache_tried_close(pf_tried *t);
/* Trains a default model from a sample of the store's data (store.h
 * pf_store_train_default()); new blocks and pf_file_recode() use it at
 * once. */
int pf_cache_train_default(pf_cache *cache, const void *sample, size_t len,
			   uint64_t logical, pf_store_train_result *res);
int pf_cache_peek_size(int fd, uint64_t *size);

/* Counters since pf_cache_create(), for reports on a running mount. Each
 * field is read consistently on its own; fields are not one snapshot,
 * except the read-ahead job counts: prefetches == prefetch_done +
 * prefetch_dropped + prefetch_running + queue_depth. */
typedef struct pf_cache_stats {
	uint64_t hits, misses;  /* block lookups by readers */
	uint64_t decodes;       /* blocks decoded (misses + prefetches) */
	uint64_t decoded_bytes; /* plain bytes of those decodes */
	uint64_t prefetches;    /* read-ahead jobs queued */
	uint64_t bytes;         /* decoded bytes held now */
	uint64_t queue_depth;   /* read-ahead jobs waiting now */
	uint64_t cache_size;    /* the bound on bytes (pf_cache_opts) */
	uint64_t prefetch_running; /* read-ahead jobs running now */
	uint64_t prefetch_done;    /* read-ahead jobs finished */
	uint64_t prefetch_dropped; /* queued, then dropped when their file
				    * closed */
	/* Successful decodes by the codec of the block: plain bytes and
	 * wall-clock nanoseconds spent decoding them. */
	uint64_t codec_bytes[PF_CODEC_MAX_ID + 1];
	uint64_t codec_ns[PF_CODEC_MAX_ID + 1];
} pf_cache_stats;
void pf_cache_get_stats(pf_cache *cache, pf_cache_stats *st);

/* ---- files --------------------------------------------------------------- */

typedef struct pf_file pf_file;

/*
 * Opens the container in fd (takes ownership) for backing inode (dev, ino).
 * `label` names the file in log lines. Caller releases with pf_file_close().
 */
int pf_file_open(pf_cache *cache, int fd, dev_t dev, ino_t ino,
		 const char *label, pf_file **out);
/* Drops uncommitted changes and closes. Commit first to keep them. */
void pf_file_close(pf_file *f);

uint64_t pf_file_size(pf_file *f);
uint32_t pf_file_block_size(const pf_file *f);
uint64_t pf_file_stored_bytes(pf_file *f);
/* What the file's container holds now (its working index: committed blocks
 * and those already encoded, not dirty data still in memory), for reports
 * such as the mount's user.priorfs.* xattrs. */
typedef struct pf_file_info {
	uint64_t stored_bytes;                /* as pf_file_stored_bytes() */
	uint64_t blocks[PF_CODEC_MAX_ID + 1]; /* blocks per codec; holes count as ZERO */
} pf_file_info;
/* Fills info and copies the ids of the models the file's blocks use (at
 * most max) to ids. @return the number of models used (may exceed max). */
int pf_file_get_info(pf_file *f, pf_file_info *info,
		     uint8_t (*ids)[PF_MODEL_ID_SIZE], int max);
/* Checks whether there are writes not yet committed. */
bool pf_file_dirty(pf_file *f);

/* A read reply: len bytes at data, kept valid by a pin on the one decoded
 * block they lie in, or copied into a buffer of the calling thread when the
 * read spans blocks: valid until pf_span_release(), which the same thread
 * calls before its next pf_file_read(). */
typedef struct pf_span {
	const void *data;
	size_t len;
	void *pin;        /* opaque; released by pf_span_release() */
	const void *copy; /* the thread's copy of a read across blocks, or NULL */
} pf_span;

/*
 * Reads [off, off+size) clipped to the file size into *span. A read within
 * one block points into that block, pinned (holes point at a shared zero
 * block); a read across blocks is copied out one block at a time, so a
 * reader never pins more than one block and the cache stays within
 * cache_size plus one block per thread. The caller hands the bytes to the
 * kernel, then calls pf_span_release(). Blocks if a needed block is being
 * decoded. @return bytes covered (0 at EOF), -EIO on a corrupt block, or
 * -ENOMEM.
 */
ssize_t pf_file_read(pf_file *f, uint64_t off, size_t size, pf_span *span);
void pf_span_release(pf_span *span);

/* Writes buf at off into dirty blocks (reading partly written blocks first).
 * May encode dirty blocks to the container when over dirty_limit.
 * @return size written, or -EIO/-ENOSPC/-ENOMEM/-EROFS. */
ssize_t pf_file_write(pf_file *f, uint64_t off, const void *buf, size_t size);

/* Sets the logical size (truncate / fallocate growth). */
int pf_file_truncate(pf_file *f, uint64_t size);

/* Encodes the dirty blocks and commits atomically (store.h); durable means
 * on disk when this returns. @return 0, -EIO, -ENOSPC. */
int pf_file_commit(pf_file *f, bool durable);

/*
 * Background recompression. pf_file_recode() re-encodes the block at index
 * b of the committed data with the learned codec when that is smaller
 * (store.h pf_container_recode_block(); a block with a write pending in
 * memory is left alone); *coded says whether the learned codec ran.
 * @return 1 replaced, 0 kept, -ERANGE past the end, -EAGAIN changed
 * meanwhile, -EIO, -ENOSPC, -ENOMEM.
 * pf_file_commit_recoded() commits when the file's only changes are such
 * re-encodes, so the commit keeps the last committed contents.
 * @return 0 (also with nothing to commit), -EBUSY when the file has
 * changes of its own (the close or fsync they belong to commits them), or
 * a commit error.
 */
int pf_file_recode(pf_file *f, uint64_t b, bool *coded);
int pf_file_commit_recoded(pf_file *f, bool durable);

/* Per-open-handle sequential read detection. Zero-initialise. */
typedef struct pf_readahead {
	uint64_t next_off; /* where a sequential reader will read next */
	uint64_t ahead_to; /* prefetches were queued up to this offset */
	unsigned streak;   /* consecutive sequential reads seen */
} pf_readahead;

/* Notes a read of [off, off+size) by one handle; when the handle reads
 * sequentially, queues decodes of up to `readahead` bytes ahead. Never
 * blocks: jobs are dropped when the queue is full. OPTIMIZATION */
void pf_file_readahead(pf_file *f, pf_readahead *ra, uint64_t off, size_t size);

#endif
