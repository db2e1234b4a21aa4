/* SPDX-License-Identifier: MIT */
/*
 * store_int.h - private to src/store: on-disk encodings (store_format.c) and
 * the container's free-space allocator (store_alloc.c).
 */
#ifndef PF_STORE_INT_H
#define PF_STORE_INT_H

#include "common/pf_common.h"
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>

/* A model file mapped and loaded by pf_store_model_get(). */
typedef struct pf_loaded_model {
	uint8_t id[PF_MODEL_ID_SIZE];
	void *map;      /* read-only mapping of the file, len bytes */
	size_t len;
	pf_model *model;
} pf_loaded_model;

struct pf_store {
	int root_fd;        /* O_PATH|O_DIRECTORY; immutable after open */
	int models_fd;      /* .priorfs/models, O_RDONLY|O_DIRECTORY; immutable */
	int lock_fd;        /* .priorfs/lock while the writer lock is held, or -1 */
	pf_store_opts opts; /* immutable after open */
	pthread_mutex_t models_lock;  /* guards loaded, defaults */
	pf_loaded_model *loaded;      /* nloaded entries, freed at close */
	size_t nloaded;
	pf_model_info *defaults;      /* ndefaults entries */
	size_t ndefaults;
	_Atomic bool level_logged;    /* "defaults above level=" said once */
};

/* ---- model store (store_models.c) ---------------------------------------- */

int pf_models_open(pf_store *store);  /* at store open: fds, defaults */
void pf_models_close(pf_store *store);
/* The store's default models (ids and loaded models) of its opts.level or
 * below, for a trial encode. Copies up to max of them. @return count. */
int pf_models_defaults(pf_store *store, const pf_model **models,
		       uint8_t (*ids)[PF_MODEL_ID_SIZE], int max);


/* ---- format.md §2-§3 ------------------------------------------------------ */

#define PF_HEADER_SIZE 16
#define PF_SLOT_SIZE 48
#define PF_DATA_START (PF_HEADER_SIZE + 2 * PF_SLOT_SIZE) /* 112 */
#define PF_INDEX_HEAD 8

#define PF_ENTRY_SIZE 24
#define PF_FORMAT_VERSION 1
#define PF_SHIFT_MIN 16
#define PF_SHIFT_MAX 22

/* Fuzz builds skip the slot and index checksums, which a fuzzer cannot
 * forge, so that it reaches the parsers behind them (contrib/fuzz.sh). */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define PF_SUM_MISMATCH(stored, computed) ((void)(stored), (void)(computed), 0)
#else
#define PF_SUM_MISMATCH(stored, computed) ((stored) != (computed))
#endif

/* A decoded commit slot (format.md §2.2). */
typedef struct pf_slot {
	uint64_t seq;       /* 0: never written */
	uint64_t size;      /* logical bytes */
	uint64_t index_off;
	uint32_t index_len;
	uint32_t nblocks;
	uint64_t index_sum;
} pf_slot;

void pf_fmt_header_encode(uint8_t out[PF_HEADER_SIZE], unsigned shift);
/* @return 1 valid (sets *shift), 0 all zero, -EIO otherwise. */
int pf_fmt_header_decode(const uint8_t in[PF_HEADER_SIZE], unsigned *shift);

void pf_fmt_slot_encode(const uint8_t hdr[PF_HEADER_SIZE], const pf_slot *s,
			uint8_t out[PF_SLOT_SIZE]);
/* @return 1 valid, 0 all zero (never written), -EIO torn or corrupt. */
int pf_fmt_slot_decode(const uint8_t hdr[PF_HEADER_SIZE],
		       const uint8_t in[PF_SLOT_SIZE], pf_slot *s);

#define PF_MODELS_MAX 255 /* model slots 1..255 in an entry's byte */

/* Bytes of an index with n entries and nmodels model ids. */
uint64_t pf_fmt_index_len(uint64_t n, unsigned nmodels);
void pf_fmt_index_encode(const pf_block_entry *e, uint64_t n,
			 const uint8_t (*models)[PF_MODEL_ID_SIZE], unsigned nmodels,
			 uint8_t *out);
/*
 * Parses and checks an index read from a container of file_len bytes whose
 * committed slot is s: lengths, codecs, model slots, extents inside the
 * file, plain lengths. Fills e[0..s->nblocks) and the model table
 * (model_ids holds PF_MODELS_MAX ids). @return 0 or -EIO.
 */
int pf_fmt_index_decode(const uint8_t *in, const pf_slot *s, unsigned shift,
			uint64_t file_len, pf_block_entry *e,
			uint8_t (*model_ids)[PF_MODEL_ID_SIZE], unsigned *nmodels);

/* Plain length of block b of a file of `size` bytes. */
static inline uint32_t pf_fmt_block_len(uint64_t size, unsigned shift, uint64_t b)
{
	uint64_t start = b << shift;

	if (start >= size)
		return 0;
	return (uint32_t)(size - start < (1ull << shift) ? size - start : 1ull << shift);
}

static inline uint64_t pf_fmt_nblocks(uint64_t size, unsigned shift)
{
	return (size + (1ull << shift) - 1) >> shift;
}

/* ---- free space (format.md §4) --------------------------------------------- */

typedef struct pf_extent {
	uint64_t off, len;
} pf_extent;

/* A sorted, merged list of extents. */
typedef struct pf_extents {
	pf_extent *v;
	size_t n, cap;
} pf_extents;

int pf_extents_add(pf_extents *x, uint64_t off, uint64_t len);
void pf_extents_clear(pf_extents *x);
void pf_extents_free(pf_extents *x);
/* First fit: carves len bytes from x. @return offset, or 0 if none fits. */
uint64_t pf_extents_take(pf_extents *x, uint64_t len);
/* Moves every extent of src into dst and empties src. */
int pf_extents_merge(pf_extents *dst, pf_extents *src);
/* Drops the parts of x at or past end. */
void pf_extents_clip(pf_extents *x, uint64_t end);

/* An open container (store_container.c; its design notes hold the
 * invariants). */
struct pf_container {
	pf_store *store;         /* borrowed; immutable */
	int fd;                  /* owned; immutable */
	char *label;             /* immutable */
	bool writable;           /* immutable */
	pthread_rwlock_t lock;   /* guards every field below */
	unsigned shift;          /* log2 block size; fixed once has_header */
	bool has_header;         /* header bytes are on disk */
	bool failed;             /* (I4) */
	bool dirty;              /* working state != committed state */
	bool recoded_only;       /* when dirty: only re-encoded blocks, the
				  * contents are the committed ones */
	uint8_t hdr[PF_HEADER_SIZE];
	pf_slot committed;       /* seq 0: nothing committed yet */
	int slot_no;             /* slot holding `committed` (0 or 1) */
	pf_block_entry *cidx;    /* committed entries, committed.nblocks */
	pf_block_entry *widx;    /* working entries, wn of wcap */
	uint64_t wn, wcap;
	uint64_t wsize;          /* working logical size, bytes */
	uint64_t file_len;       /* allocation end; >= PF_DATA_START */
	pf_extents free;         /* reusable now */
	pf_extents quarantine;   /* (I2) */
	/* The model table of the working index (format.md §3): slot i+1 names
	 * models[i]. Learned blocks of this file are written with write_model,
	 * picked by a trial encode of the first such block (store_learned.c). */
	uint8_t (*models)[PF_MODEL_ID_SIZE]; /* PF_MODELS_MAX ids, or NULL */
	unsigned nmodels;
	bool model_picked;               /* write_model chosen (may be NULL) */
	const pf_model *write_model;     /* owned by the store */
	uint8_t write_model_id[PF_MODEL_ID_SIZE];
	/* The same for pf_container_recode_block(), picked on its first call. */
	bool recode_picked;
	const pf_model *recode_model;
	uint8_t recode_model_id[PF_MODEL_ID_SIZE];
	/* Read-only: the last committed state on disk found with other
	 * contents than this one's, not followed (store_container.c). */
	pf_slot declined;
};

/* ---- learned blocks (store_learned.c) -------------------------------------- */

/* Codec parameters for the next block of c: the store's, plus this file's
 * model, picked by a trial encode of `plain` on first use. */
int pf_learned_params(pf_container *c, const void *plain, uint32_t len,
		      pf_codec_params *params);
/* The store's default model that codes plain smallest (the only one when
 * there is one; *model NULL when there is none), by a trial encode. */
int pf_learned_best(pf_store *store, const void *plain, uint32_t len,
		    const pf_model **model, uint8_t id[PF_MODEL_ID_SIZE]);
/* Model slot (1-based) for model id, added to the table if needed. */
int pf_learned_slot(pf_container *c, const uint8_t id[PF_MODEL_ID_SIZE]);
/* The loaded model of slot `slot` of c. @return 0, -ENOENT, -EIO. */
int pf_learned_model(pf_container *c, unsigned slot, const pf_model **out);
/* Drops table entries no working block uses and renumbers the blocks, so a
 * commit never names a model it does not need. */
void pf_learned_compact(pf_container *c);

#endif
