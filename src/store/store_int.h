/* SPDX-License-Identifier: MIT */
/*
 * store_int.h - private to src/store: on-disk encodings (store_format.c) and
 * the container's free-space allocator (store_alloc.c).
 */
#ifndef PF_STORE_INT_H
#define PF_STORE_INT_H

#include "common/pf_common.h"
#include "store/store.h"

struct pf_store {
	int root_fd;        /* O_PATH|O_DIRECTORY; immutable after open */
	pf_store_opts opts; /* immutable after open */
};

/* ---- format.md §2-§3 ------------------------------------------------------ */

#define PF_HEADER_SIZE 16
#define PF_SLOT_SIZE 48
#define PF_DATA_START (PF_HEADER_SIZE + 2 * PF_SLOT_SIZE) /* 112 */
#define PF_INDEX_HEAD 8
#define PF_MODEL_ID_SIZE 32
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

/* Bytes of an index with n entries and no models. */
uint64_t pf_fmt_index_len(uint64_t n);
void pf_fmt_index_encode(const pf_block_entry *e, uint64_t n, uint8_t *out);
/*
 * Parses and checks an index read from a container of file_len bytes whose
 * committed slot is s: lengths, codecs, extents inside the file, plain
 * lengths. Fills e[0..s->nblocks). @return 0 or -EIO.
 */
int pf_fmt_index_decode(const uint8_t *in, const pf_slot *s, unsigned shift,
			uint64_t file_len, pf_block_entry *e);

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

#endif
