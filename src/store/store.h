/* SPDX-License-Identifier: MIT */
/*
 * store.h - the store layer: a backing directory that mirrors the visible
 * tree, one container per regular file, plus the hidden metadata directory.
 *
 * A container (docs/format.md, man/priorfs.5) holds a file's blocks, each
 * coded alone, and a block index. Changes go to a *working* index: blocks
 * written with pf_container_write_block() are encoded and placed in free
 * space at once but are not part of the file until pf_container_commit()
 * switches the header to the new index. After a crash the container opens in
 * exactly its last committed state.
 *
 * Thread safety: a pf_container may be used from many threads; it locks
 * itself. pf_container_read_block() runs concurrently with other reads.
 */
#ifndef PF_STORE_H
#define PF_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "codec/codec.h"

#define PF_META_NAME ".priorfs"     /* hidden metadata dir at the store root */
#define PF_STORE_CONFIG "config"    /* key=value text inside it */
#define PF_BLOCK_SIZE_MIN (64u << 10)
#define PF_BLOCK_SIZE_MAX (4u << 20)
#define PF_BLOCK_SIZE_DEFAULT (256u << 10)

/* Options a mount (or priorctl) applies to the containers it writes. */
typedef struct pf_store_opts {
	uint32_t block_size;    /* for new files; power of two, 64K..4M */
	pf_codec_params codec;  /* how new blocks are encoded */
	bool verify;            /* check the plain checksum on every decode */
	bool sync;              /* every commit is durable (fdatasync) */
	bool read_only;
	bool use_models;        /* codec AUTO/LEARNED may use the store's
				 * default models (false: zstd/raw only) */
	enum pf_model_level level; /* new learned blocks use default models of
				    * this level or below; self-training
				    * trains at it */
} pf_store_opts;

/* Fills opts with the defaults (block_size 256K, codec auto, zstd level 3,
 * min_saving 1/8, level default, verify on, sync off, read-write). */
void pf_store_opts_default(pf_store_opts *opts);

/* ---- stores -------------------------------------------------------------- */

typedef struct pf_store pf_store;

/*
 * Makes `path` a store: creates the directory if missing, then the metadata
 * directory and its config. Refuses (-ENOTEMPTY) a non-empty directory that
 * is not already a store, and -EEXIST for an existing store.
 */
int pf_store_init(const char *path);

/* Opens the store at path. Returns -ENOENT/-ENOTDIR, or -EINVAL (with a log
 * line) when path is not a store. Caller frees with pf_store_close(). */
int pf_store_open(const char *path, const pf_store_opts *opts, pf_store **out);
void pf_store_close(pf_store *store);

/* Directory fd of the store root (O_PATH|O_DIRECTORY); valid until close. */
int pf_store_root_fd(const pf_store *store);
const pf_store_opts *pf_store_get_opts(const pf_store *store);

/* True when `name` in the root directory is the metadata directory, which
 * the mount must never show or let anyone create, rename or remove. */
bool pf_store_is_meta_name(const char *name);

/* Opens .priorfs/<name> for a tool's own record (a plain name, none the
 * store uses itself: config, lock, models), with open(2) flags and mode;
 * O_NOFOLLOW and O_CLOEXEC are added. @return an fd, or -errno (-EINVAL
 * for a name that is not a record's). */
int pf_store_meta_open(pf_store *store, const char *name, int flags, mode_t mode);
/* Renames record `from` over record `to` in .priorfs. @return 0 or -errno. */
int pf_store_meta_rename(pf_store *store, const char *from, const char *to);

/*
 * Records of files a recompression coded through and left with blocks the
 * learned codec did not take (store_tried.c): (backing inode, state) pairs
 * for one target, kept in .priorfs/<name> so that later runs skip them.
 * Thread-safe.
 */
typedef struct pf_tried pf_tried;
#define PF_TRIED_CTL "recompress-tried"             /* priorctl recompress */
#define PF_TRIED_BACKGROUND "recompress-background" /* a mount's thread */

/* Opens record `name`, loading its entries for target. When the file
 * fails (or the name is not a record's), *out still works, in memory only,
 * and the error is returned for a warning; -ENOMEM leaves *out NULL. */
int pf_tried_open(pf_store *store, const char *name, uint64_t target, pf_tried **out);
uint64_t pf_tried_target(const pf_tried *t);
/* True when (ino, state) is recorded; marks it used. */
bool pf_tried_has(pf_tried *t, uint64_t ino, uint64_t state);
/* Records (ino, state) as used; with keep also in the file (appended, no
 * fsync), else in memory only. @return 0 or -errno. */
int pf_tried_add(pf_tried *t, uint64_t ino, uint64_t state, bool keep);
/* True when most entries in the file or in memory went unused since the
 * last compaction. */
bool pf_tried_stale(pf_tried *t);
/* After a pass over the whole store: keeps only the entries used since the
 * last compaction (the file rewritten atomically), then marks all unused. */
int pf_tried_compact(pf_tried *t);
void pf_tried_close(pf_tried *t); /* NULL is a no-op */
/* The target of a mount's background recompression: the store's codec
 * choice, min_saving and level, and its default models. */
uint64_t pf_store_recode_target(pf_store *store);

/*
 * Takes the store's writer lock (flock on .priorfs/lock), held until
 * pf_store_close(). A read-write mount, import and recompress take it; one
 * writer at a time. Readers (stat, fsck, read-only mounts) need no lock.
 * @return 0, or -EBUSY when another process holds it.
 */
int pf_store_lock_writer(pf_store *store);

/* ---- the model store (format.md §5) ---------------------------------------- */

#define PF_MODEL_ID_SIZE 32 /* SHA-256 of the model file */
#define PF_MODEL_KIND_MAX 32

typedef struct pf_model_info {
	uint8_t id[PF_MODEL_ID_SIZE];
	uint64_t bytes;                  /* size of the model file */
	char kind[PF_MODEL_KIND_MAX];    /* data kind it is a default for, or "" */
} pf_model_info;

/* Adds a model image: checks that it loads, then writes models/<sha256>
 * atomically (temp file, fsync, rename). Adding an existing model is a no-op.
 * Sets id. @return 0, -EIO (image does not load), -ENOSPC, -EROFS. */
int pf_store_model_add(pf_store *store, const void *image, size_t len,
		       uint8_t id[PF_MODEL_ID_SIZE]);

/* The loaded model with this id: mapped and SHA-256 verified on first use,
 * then shared by all threads until pf_store_close().
 * @return 0; -ENOENT missing; -EIO hash mismatch or corrupt (logged). */
int pf_store_model_get(pf_store *store, const uint8_t id[PF_MODEL_ID_SIZE],
		       const pf_model **out);

/* Every model file in the store, defaults marked by kind. Caller frees *out
 * with free(). @return 0 or -errno. */
int pf_store_models_list(pf_store *store, pf_model_info **out, size_t *n);

/* Removes a model file (callers check first that no block references it). */
int pf_store_model_remove(pf_store *store, const uint8_t id[PF_MODEL_ID_SIZE]);

/* Replaces the store's default models: (id, kind) pairs, kind may be "".
 * Written atomically to models/defaults. New learned blocks use a default,
 * picked per file by a trial encode. @return 0 or -errno. */
int pf_store_set_defaults(pf_store *store, const pf_model_info *v, size_t n);

/* Self-training (store_train.c): trains a model of the store's level on
 * sample (its last eighth, at most 1M, held out) for `logical` bytes of data
 * like it, compares it with zstd -19 on the held-out pieces and, when the
 * predicted saving over `logical` bytes beats the model's size, adds it and
 * makes it the default of kind PF_MOUNT_KIND (replacing the previous one).
 * @return 0 (res says whether the model was used), -EINVAL sample too
 *         small, -EROFS, -ENOMEM, -ENOSPC. */
#define PF_MOUNT_KIND "mount"
typedef struct pf_store_train_result {
	bool used;
	uint8_t id[PF_MODEL_ID_SIZE];
	uint64_t model_bytes;
	int64_t saving;                /* predicted, model bytes counted */
	double bits_learned, bits_zstd; /* per byte, on the held-out pieces */
	bool net_context;              /* level max: the network has its context features */
} pf_store_train_result;
int pf_store_train_default(pf_store *store, const void *sample, size_t len,
			   uint64_t logical, pf_store_train_result *res);

/* ---- containers ---------------------------------------------------------- */

typedef struct pf_container pf_container;

/* One entry of the block index (format.md §3). */
typedef struct pf_block_entry {
	uint64_t offset;     /* of the stored bytes in the container */
	uint32_t stored_len; /* bytes at offset; 0 for PF_CODEC_ZERO */
	uint8_t codec;       /* enum pf_codec_id */
	uint8_t model;       /* model table slot; 0 = none (zstd, raw) */
	uint64_t checksum;   /* XXH3-64 of the plain block; 0 for ZERO */
} pf_block_entry;

/*
 * Opens the container in fd (opened O_RDWR, or O_RDONLY for a read-only
 * store) and takes ownership of fd: it is closed on failure too. An empty (0-byte) file is an empty
 * container; its block size comes from the store's opts. `label` names the
 * file in log lines (the path in the store; copied).
 * @return 0, -EIO if the header or index is corrupt (logged), -ENOMEM.
 */
int pf_container_open(pf_store *store, int fd, const char *label,
		      pf_container **out);

/* Closes without committing: uncommitted changes are dropped. NULL is ok. */
void pf_container_close(pf_container *c);

/* Logical size in the working state. */
uint64_t pf_container_size(pf_container *c);
uint32_t pf_container_block_size(const pf_container *c);
/* Bytes the container takes on disk: its length, less the free gaps punched
 * out of it. */
uint64_t pf_container_stored_bytes(pf_container *c);
/* True when the working state differs from the last commit. */
bool pf_container_dirty(pf_container *c);
/* True when it differs in more than re-encoded blocks (see below): the
 * contents changed. */
bool pf_container_changed(pf_container *c);
const char *pf_container_label(const pf_container *c);

/* Copies the working index entry of block b into *e. A block at or past
 * the end of the file reads as a PF_CODEC_ZERO entry. */
void pf_container_block(pf_container *c, uint64_t b, pf_block_entry *e);

/* A hash of the container's size, block size and each block's codec, model
 * slot, stored length and checksum: the state a recompression left the
 * file in, for its record (pf_tried; store_tried.c). */
uint64_t pf_tried_state(pf_container *c);

/* Plain length of block b in the working state (0 past the end). */
uint32_t pf_container_block_len(pf_container *c, uint64_t b);

/*
 * Reads and decodes block b of the working state into plain (cap bytes,
 * at least the block size) and sets *len to its plain length. Checks the
 * checksum when the store's verify option is on. A read-only container
 * first takes over the file's newer committed state if a writer only
 * re-encoded it (the same bytes), as its own would name freed space.
 * @return 0; -EIO on a corrupt block, with a log line naming file and block.
 */
int pf_container_read_block(pf_container *c, uint64_t b, void *plain,
			    size_t cap, uint32_t *len);

/*
 * Encodes plain (len bytes: the full block size, or less for the last block)
 * as block b of the working state and writes it to free space. Blocks past
 * the current end are allowed and extend the size to cover them; blocks in
 * between become holes.
 * @return 0, -ENOSPC, -EIO, -EROFS.
 */
int pf_container_write_block(pf_container *c, uint64_t b, const void *plain,
			     uint32_t len);

/*
 * Re-encodes working block b, stored with zstd or raw, with the learned
 * codec and the store's default models (whatever the store's codec options;
 * the file's model is picked by a trial of the first block recoded), and
 * replaces it when that is smaller. Same plain bytes, so the contents do not
 * change (pf_container_changed() stays false). Decoding and encoding run
 * without the container's lock, so readers and writers are not held up; the
 * block is replaced only if nobody changed it meanwhile. *coded says
 * whether the learned codec ran (the costly part; not for a hole, a block
 * learned already, or without a default model).
 * @return 1 replaced; 0 kept (a hole, learned already, no default model, or
 *         not smaller); -EAGAIN changed meanwhile; -EIO (block corrupt,
 *         logged), -ENOSPC, -ENOMEM, -EROFS.
 */
int pf_container_recode_block(pf_container *c, uint64_t b, bool *coded);

/*
 * Sets the working logical size. Blocks wholly past it are dropped; the block
 * holding the old or new end is re-encoded at its new length (a cut tail is
 * gone, a grown one reads as zeros). Growing adds holes.
 */
int pf_container_set_size(pf_container *c, uint64_t size);

/*
 * Makes the working state the committed state, atomically: after a crash the
 * container opens in either the previous or the new committed state. With
 * durable (or the store's sync option) it is on disk when this returns.
 * A no-op when nothing changed (but durable still syncs).
 * @return 0, -ENOSPC, -EIO, -EROFS.
 */
int pf_container_commit(pf_container *c, bool durable);

/* Reads only the header of the container in fd: logical size, 0 for an
 * empty file. @return 0 or -EIO. */
int pf_container_peek_size(int fd, uint64_t *size);

/* Copies the ids of the models the working index references (at most max)
 * into ids, for gc and reports. @return the number of models referenced. */
int pf_container_models(pf_container *c, uint8_t (*ids)[PF_MODEL_ID_SIZE], int max);

/* Checks every block of the committed state: decodes it and verifies its
 * checksum. Calls each(arg, block, plain length, error) for every block,
 * error 0 when it is sound (so a caller can show progress). @return number
 * of faults (>= 0) or a negative errno if the container could not be read. */
typedef void (*pf_block_check_fn)(void *arg, uint64_t block, uint32_t len, int err);
long pf_container_verify(pf_container *c, pf_block_check_fn each, void *arg);

#endif
