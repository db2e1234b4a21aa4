/* SPDX-License-Identifier: MIT */
/*
 * model_int.h - private to src/model: the model's configuration, the mutable
 * per-thread coding state (pf_cm), the integer squash/stretch tables and the
 * functions the model files share.
 *
 * Design notes (docs/model.md has the measurements):
 * - Every context owns a table of 2^table_bits 16-bit slots: a 12-bit
 *   probability (high bits) and a 4-bit hit count (low bits) that sets the
 *   adaptation rate. Contexts are hashed at byte and nibble boundaries into a
 *   16-slot bucket (slot 0 holds a tag that detects collisions); the partial
 *   nibble (1..15) picks the slot, so one bucket serves four bits from one
 *   cache line.
 * - The model image holds the primed tables; a block starts by copying them
 *   into this thread's pf_cm ("copy at start": up to 23 MB of memcpy, under
 *   0.5% of coding a 256 KiB block) and then adapts freely. From format 4 the
 *   copy is wider than the image's tables: the primed tables stay as small
 *   as the model's cost allows, while the block's own contexts, which
 *   outnumber a small table's buckets, get room (docs/model.md).
 * - All coding arithmetic is integer, so predictions are bit-exact on every
 *   machine. Only model_train.c and model_fit.c use float (and OpenBLAS).
 */
#ifndef PF_MODEL_INT_H
#define PF_MODEL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/pf_common.h"
#include "model/model.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "model tables are copied from the little-endian image as is"
#endif

/* ---- hyper-parameters fixed by the format version ----------------------- */
#define PF_CM_VERSION 2u /* 1: pre-release, 16-bit slots, two mixers */
#define PF_CM_VERSION_DICT 3u /* 2 + a slice of training data to match into */
#define PF_CM_VERSION_WIDE 4u /* 2 or 3 + coding tables wider than the primed ones */
#define PF_CM_VERSION_NET 5u  /* 4 + the neural predictor (level max) */
#define PF_CM_VERSION_NET2 6u /* 5 with narrow embeddings and token features */
#define PF_CM_VERSION_UNITS 7u /* 4 or 6 for data in 16-bit units: phase-aware contexts */
#define PF_CM_VERSION_FASTQ 8u /* 4 or 6 for FASTQ: contexts read the bases above a quality */
#define PF_CM_HEADER_LEN 64u
#define PF_CM_TABLE_BITS_MIN 10u
#define PF_CM_TABLE_BITS_MAX 20u /* 11 tables x 2 MiB: inside 64 MiB/thread */
#define PF_CM_TABLE_BITS_DEFAULT 18u
/* Coding tables (format 4): a block of len bytes codes with tables of
 * 2^clamp(ceil(log2 len) + 3, table_bits, code_bits) slots per context. */
#define PF_CM_CODE_BITS_FAST 18u
#define PF_CM_CODE_BITS_DEFAULT 20u
#define PF_CM_CODE_BITS_MAX PF_CM_TABLE_BITS_MAX
#define PF_CM_MAX_CTX 11
#define PF_CM_MAX_IN 16   /* contexts + 2 match inputs + bias, padded */
#define PF_CM_FINAL_IN 4  /* the final mixer's inputs; its other weights meet 0 */
#define PF_CM_LANES 16    /* slot values a kernel updates: contexts + match */
#define PF_CM_SETS 256    /* mixer 1 weight sets, selected by c0 */
#define PF_CM_SETS2 (9 * 256) /* mixer 2: match state x previous byte */
#define PF_CM_SETS3 (7 * 8 * 4) /* mixer 3: contexts seen before x bit position */
#define PF_CM_FINAL_ROWS 8 /* final mixer, by bit position */
#define PF_CM_ROW2 PF_CM_SETS
#define PF_CM_ROW3 (PF_CM_ROW2 + PF_CM_SETS2)
#define PF_CM_ROWF (PF_CM_ROW3 + PF_CM_SETS3)
#define PF_CM_W_ROWS (PF_CM_ROWF + PF_CM_FINAL_ROWS)
#define PF_CM_MM_SLOTS 64 /* match model: 32 length buckets x expected bit */
#define PF_CM_MM_LEN_MAX 65535u
#define PF_CM_MM_VERIFY_MAX 32u /* bytes a match candidate is checked back */
#define PF_CM_APM_ROWS 33
#define PF_CM_APM1_CTX 256
#define PF_CM_APM2_BITS 12
#define PF_CM_WEIGHT_LIMIT (1 << 24) /* |weight| bound, 16.16 fixed point */
#define PF_CM_SLOT_FRESH (2048u << 4) /* p = 1/2, never seen */
#define PF_CM_STRIDE_MAX (1u << 20)
#define PF_CM_LR_MAX 64u
#define PF_CM_DICT_MIN 64u /* a shorter slice is not worth its index */

/* Context indices; FAST uses the first PF_CM_FAST_CTX of them. */
enum pf_cm_ctx {
	CTX_O1, CTX_O2, CTX_O3, CTX_O4, CTX_O6, CTX_WORD,
	CTX_COLUMN, CTX_RECORD, CTX_STRIDE1, CTX_STRIDE2, CTX_O0
};
#define PF_CM_FAST_CTX 6
#define PF_CM_DEFAULT_CTX 11

/* The neural predictor (level max, model_net.c): an embedding bag over the
 * previous bytes, their pair and the current word (with the context
 * features also the previous three bytes, the previous word and the
 * column; for token shards also the phase and the previous one and two
 * 16-bit tokens; with the match feature the byte the in-block match
 * expects and how long the match is; with the indirect features what
 * followed the previous few bytes where they last occurred; with the recent
 * tokens feature a decaying sum of the block's earlier tokens' rows), two
 * tanh layers,
 * and a logit per node of the byte's bit tree. Activations are fixed point
 * with PF_NET_ONE = 1.0; the bounds keep every sum inside int32 for any
 * image. */
#define PF_NET_BYTES 6      /* previous bytes, one embedding table each */
#define PF_NET_PAIR_BITS 12 /* hash of the previous two bytes */
#define PF_NET_WORD_BITS 11 /* hash of the word so far */
#define PF_NET_TOKEN_BITS 12 /* hashes of the previous one and two tokens */
#define PF_NET_ORDER3_BITS 12 /* context features: hash of the previous three bytes */
#define PF_NET_COLUMN_MAX 31u /* context features: columns past it share a row */
#define PF_NET_FEATS (PF_NET_BYTES + 2)
#define PF_NET_CONTEXT_FEATS 3 /* previous three bytes, previous word, column */
#define PF_NET_TOKEN_FEATS 3 /* phase, previous token, previous two */
#define PF_NET_MATCH_FEATS 1 /* the byte the in-block match expects */
#define PF_NET_MATCH_ROWS (1 + 4 * 256) /* none, or its length bucket x byte */
#define PF_NET_INDIRECT_FEATS 7 /* what followed 1-4, 6, 8 bytes and the word, last time */
#define PF_NET_INDIRECT_FEAT_ROWS 257 /* each: none, or the byte */
#define PF_NET_INDIRECT_ROWS (PF_NET_INDIRECT_FEATS * PF_NET_INDIRECT_FEAT_ROWS)
#define PF_NET_INDIRECT_BITS 16 /* each of the coder's position tables has 2^16 entries */
#define PF_NET_INDIRECT_SLOTS (PF_NET_INDIRECT_FEATS << PF_NET_INDIRECT_BITS)
#define PF_NET_RECENT_BITS 11 /* hash of a token, for the recent tokens feature */
#define PF_NET_RECENT_ROWS (1u << PF_NET_RECENT_BITS)
#define PF_NET_RECENT_DECAY 224 /* of 256: each older token weighs 7/8 of the next */
#define PF_NET_RECENT_SHIFT 8  /* the sum's extra fraction bits */
#define PF_NET_RECENT_MAX 1025 /* |the sum| >> 8: (128 * 2^8 + 1) / (1 - 7/8) >> 8 */
#define PF_NET_FEATS_MAX (PF_NET_FEATS + PF_NET_CONTEXT_FEATS + PF_NET_TOKEN_FEATS + \
			  PF_NET_MATCH_FEATS + PF_NET_INDIRECT_FEATS)
#define PF_NET_ROWS (PF_NET_BYTES * 256 + (1u << PF_NET_PAIR_BITS) + (1u << PF_NET_WORD_BITS))
#define PF_NET_CONTEXT_ROWS \
	((1u << PF_NET_ORDER3_BITS) + (1u << PF_NET_WORD_BITS) + 2 * (PF_NET_COLUMN_MAX + 1))
#define PF_NET_TOKEN_ROWS (2 + (2u << PF_NET_TOKEN_BITS))
#define PF_NET_FEATURE_TOKENS 1u  /* format 6's feature bits (header offset 62) */
#define PF_NET_FEATURE_CONTEXT 2u
#define PF_NET_FEATURE_MATCH 4u
#define PF_NET_FEATURE_INDIRECT 16u /* 8 is PF_CM_FEATURE_UNITS */
#define PF_NET_FEATURE_RECENT 32u
#define PF_NET_FEATURE_TOKEN_OUT 64u
#define PF_CM_FEATURE_UNITS 8u /* version 7, any level: the contexts know the phase */
#define PF_CM_FEATURE_FASTQ 128u /* version 8, any level: FASTQ contexts */
#define PF_NET_H1_MIN PF_MODEL_NET_WIDTH_MIN
#define PF_NET_H1_MAX PF_MODEL_NET_WIDTH_MAX /* h2 = h1 / 2 */
#define PF_NET_H1_STEP PF_MODEL_NET_WIDTH_STEP /* h2: a multiple of 16 lanes */
#define PF_NET_H1_DEFAULT 64u
#define PF_NET_RANK_STEP PF_MODEL_NET_RANK_STEP /* format 6: embedding width, */
#define PF_NET_RANK_MAX PF_MODEL_NET_RANK_MAX   /* <= h1 (the projection's int32 bound) */
#define PF_NET_ONE_SHIFT 8  /* activations and first layer sums: 1.0 = 256 */
#define PF_NET_EMB_SHIFT 4  /* int8 embeddings: 1.0 = 16 (finer measured no better) */
#define PF_NET_W_SHIFT 10   /* layer 2 and output weights: 1.0 = 1024 */
#define PF_NET_W_LIMIT (1 << 13)  /* |w2|, |v|: 8.0 */
#define PF_NET_B_LIMIT (1 << 24)  /* |b1|, |b2|, |u| */

/* What a loaded image says; every field has been range-checked. */
struct pf_cm_cfg {
	unsigned version; /* of the image it came from, or will go to */
	unsigned net_h1;  /* level max: the network's first layer width; else 0 */
	unsigned net_rank; /* format 6: the embeddings' width; else 0 (h1 wide) */
	bool net_tokens;   /* format 6: the network has the token features */
	bool net_context;  /* format 6: and the context features */
	bool net_match;    /* format 6: and the match feature */
	bool net_indirect; /* format 6: and the indirect features */
	bool net_recent;   /* format 6: and the recent tokens feature */
	bool net_token_out; /* format 6: and output rows per byte of a token */
	bool units; /* format 7: 16-bit units, the contexts know the phase (model_ctx.c) */
	bool fastq; /* format 8: FASTQ, contexts read the line two above (model_ctx.c) */
	enum pf_model_level level;
	unsigned table_bits; /* the primed tables' size, and the coding tables' here */
	unsigned code_bits;  /* the most a block widens its coding tables to */
	unsigned n_ctx;
	unsigned n_in; /* n_ctx + 3, + 1 with a network */
	unsigned stride;
	unsigned lr;        /* mixer learning rate: dw = x*err*lr >> 16 */
	unsigned apm2_bits; /* 0: no second APM (FAST) */
};

/* A slice of training data that the match model can also follow (format
 * 3), with a hash index of it: hash of 6 bytes -> position after them + 1.
 * Built once (at load or training), then read-only and shared by threads. */
struct pf_cm_dict {
	const uint8_t *bytes;
	uint32_t len;
	unsigned bits; /* the index has 2^bits entries */
	uint32_t *index;
};

/* What a network's payload holds: format 5 has rank 0 (embeddings h1
 * wide, no projection) and no token features. */
struct pf_net_shape {
	unsigned h1;
	unsigned rank;	 /* embedding width, projected to h1 by pm; 0: none */
	bool tokens;	 /* the token features (format 6, data in 16-bit units) */
	bool context;	 /* the context features (format 6) */
	bool match;	 /* the match feature (format 6) */
	bool indirect;	 /* the indirect features (format 6) */
	bool recent;	 /* the recent tokens feature (format 6, with the token features) */
	bool token_out;	 /* output rows per byte of a token (format 6, with the token features) */
};

/* The network's quantised weights (little-endian, as in the payload). */
struct pf_net {
	struct pf_net_shape shape;
	unsigned h2;
	const int32_t *b1;   /* [h1], 1.0 = 2^8 */
	const int32_t *b2;   /* [h2], 1.0 = 2^18 */
	const int32_t *u;    /* [nodes] output biases by node, 1.0 = 2^18 */
	const int8_t *emb;   /* [rows][rank, or h1], 1.0 = 2^4 */
	const int16_t *w2;   /* [h2][h1], 1.0 = 2^10 */
	const int16_t *v;    /* [nodes][h2] output weights by node (row 0 unused) */
	const int16_t *pm;   /* [h1][rank] projection, 1.0 = 2^10; NULL: rank 0 */
};

/* What the network's input is computed from, updated after every byte. */
struct pf_net_ctx {
	uint64_t last; /* the previous 8 bytes, the latest in the low byte */
	uint32_t word; /* hash of the word so far, 0 between words */
	uint32_t prev_word; /* hash of the last word that ended */
	uint32_t pos;  /* bytes since the block's start: the token phase */
	uint8_t column; /* bytes since the line's start, at most PF_NET_COLUMN_MAX */
	bool lead;      /* only blanks since the line's start */
	uint32_t match; /* 0, or 1 + length bucket * 256 + the expected byte */
	uint32_t indirect[PF_NET_INDIRECT_FEATS]; /* 0, or 1 + the byte that followed */
	/* the recent tokens: sum over the block's earlier tokens of their rows,
	 * each 7/8 of the next newer one's weight; 1.0 = 2^(4 + 8) */
	int32_t recent[PF_NET_RANK_MAX];
};

/* The primed state: the tables and APMs expanded at load, the match
 * strengths and weights as they lie in the payload (little-endian). */
struct pf_cm_primed {
	const uint16_t *tables; /* n_ctx << table_bits slots */
	unsigned table_bits;
	const uint8_t *mm;      /* PF_CM_MM_SLOTS u16 */
	const uint8_t *weights; /* PF_CM_W_ROWS * n_in int32 */
	const uint16_t *apm1;   /* PF_CM_APM1_CTX * 33 */
	const uint16_t *apm2;   /* (1 << apm2_bits) * 33, or NULL */
	const uint8_t *dm;      /* PF_CM_MM_SLOTS u16 for slice matches, or NULL */
	const struct pf_cm_dict *dict; /* NULL: format 2, no slice */
	const struct pf_net *net;      /* NULL: below level max */
};

struct pf_model {
	struct pf_cm_cfg cfg;
	struct pf_cm_primed primed; /* points into expanded and payload */
	uint16_t *expanded;         /* tables, APM 1, APM 2 */
	uint8_t *payload;           /* match strengths, weights, slice: read-only */
	struct pf_cm_dict dict;     /* len 0: none */
	struct pf_net net;          /* level max: points into payload */
};

/* Mutable coding state: one per thread (or per training run). */
typedef struct pf_cm {
	struct pf_cm_cfg cfg;
	/* learned state, copied from the image at block start */
	uint16_t *tab;
	uint16_t mm_sm[PF_CM_MM_SLOTS];
	int32_t *w; /* PF_CM_W_ROWS rows of PF_CM_MAX_IN; inputs past n_in are 0 */
	uint16_t *apm1, *apm2;
	/* match model: hash of the last 6 bytes -> position + 1 */
	uint32_t *mm_hash;
	unsigned mm_bits;
	uint32_t mm_ptr, mm_len;
	int mm_bit; /* expected bit, or -1 when no match */
	/* the slice match: same rules, into dict->bytes (NULL dict: none) */
	const struct pf_cm_dict *dict;
	uint16_t dm_sm[PF_CM_MM_SLOTS];
	uint32_t dm_ptr, dm_len;
	uint32_t dict_skip_lo, dict_skip_hi; /* training: slice range never matched */
	bool mm_from_dict; /* this bit's match prediction follows the slice */
	/* the network (level max): its output layer's input for this byte */
	const struct pf_net *net;
	struct pf_net_ctx net_ctx;
	int16_t net_h2[PF_NET_H1_MAX / 2];
	uint32_t *ind_pos; /* the indirect features' position tables, or NULL */
	/* history: the block being coded, bytes [0, pos) are known */
	const uint8_t *buf;
	uint32_t pos;
	/* byte-level context state */
	uint32_t c0, c4, c8, bitpos;
	uint32_t nib; /* 1 and the bits of this nibble so far: the slot in a bucket */
	uint32_t phase; /* pos % stride for strides up to 4, else 0 */
	uint32_t word, word_prev, line_start, line_prev, line_prev2;
	uint32_t field, depth, key, str_hash;
	bool in_str, esc;
	uint32_t h[PF_CM_LANES];      /* lanes past n_ctx: for the AVX2 kernel */
	uint32_t bucket[PF_CM_LANES];
	uint32_t apm2_base;
	/* per-bit state between predict and update */
	int32_t x[PF_CM_MAX_IN];
	uint16_t sv[PF_CM_LANES]; /* the slots' values: contexts, then the match */
	unsigned set, set2, set3, mm_idx, apm1_idx, apm2_idx;
	int32_t xf[PF_CM_FINAL_IN]; /* final mixer inputs: the three mixers' outputs, bias */
	int pr_mix1, pr_mix2, pr_mix3, pr_final, pr;
	/* allocation sizes, for reuse across blocks */
	size_t tab_cap, apm2_cap, mm_cap;
} pf_cm;

/* Optional training hook: sees each bit's mixer inputs before update. */
typedef void (*pf_cm_sample_fn)(void *arg, const pf_cm *cm, int bit);

/* ---- model_mix.c: the per-bit path: predictors, mixer, APM ---------------- */
/* Inverse of squash over 0..4095. */
extern int16_t pf_cm_stretch_tab[4096];
static inline int pf_cm_stretch(int p)
{
	return pf_cm_stretch_tab[p];
}
void pf_cm_tables_init(void); /* idempotent, thread-safe */
int pf_cm_squash(int d);       /* 12-bit logistic of d/256 */
void pf_cm_apm_init(uint16_t *t, size_t n_ctx);
/* Per-bit kernels: the scalar reference and (x86-64) the AVX2 path, used
 * when the CPU has it unless PF_CM_SCALAR is set in the environment or
 * pf_cm_simd_force_scalar(true) was called; exposed so that tests can
 * compare them. Both give the same bits. The three mixer rows are distinct
 * rows of PF_CM_MAX_IN weights over the same (zero padded) inputs. */
void pf_cm_dot3_scalar(const int32_t *x, const int32_t *const w[3], int64_t dot[3]);
void pf_cm_train3_scalar(const int32_t *x, int32_t *const w[3], const int32_t err[3]);
void pf_cm_dot3_avx2(const int32_t *x, const int32_t *const w[3], int64_t dot[3]);
void pf_cm_train3_avx2(const int32_t *x, int32_t *const w[3], const int32_t err[3]);
/* The final mixer's step over its PF_CM_FINAL_IN inputs. */
void pf_cm_train_final_scalar(const int32_t *xf, int32_t *wf, int32_t err);
void pf_cm_train_final_avx2(const int32_t *xf, int32_t *wf, int32_t err);
/* Updates slot values v[0..n) after bit; v has PF_CM_LANES entries, and
 * the AVX2 version rewrites those past n too (any value is a valid slot). */
void pf_cm_slots_update_scalar(uint16_t *v, unsigned n, int bit);
void pf_cm_slots_update_avx2(uint16_t *v, unsigned n, int bit);
/* Test hook: codes with the scalar kernels (true) or the detected best. */
void pf_cm_simd_force_scalar(bool scalar);
extern bool pf_cm_simd_avx2; /* the AVX2 kernels are in use */
int pf_cm_predict(pf_cm *cm);          /* 12-bit P(bit = 1), 1..4095 */
void pf_cm_update(pf_cm *cm, int bit); /* after buf[pos] is complete, too */

/* Words: runs of letters, digits and bytes >= 128. The word context and
 * the network hash the word so far the same way, case-folded. */
static inline bool pf_cm_is_word_byte(uint32_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c >= 128;
}

static inline uint32_t pf_cm_word_hash(uint32_t word, uint32_t c)
{
	return (word ^ (c >= 'A' && c <= 'Z' ? c | 32 : c)) * 0x01000193U + 1;
}

/* After byte c: the word so far (0 between words), and the last word that
 * ended. */
static inline void pf_cm_word_push(uint32_t *word, uint32_t *prev, uint32_t c)
{
	if (pf_cm_is_word_byte(c)) {
		*word = pf_cm_word_hash(*word, c);
	} else if (*word) {
		*prev = *word;
		*word = 0;
	}
}

/* ---- model_ctx.c: contexts, predictors, match model ---------------------- */
size_t pf_cm_tab_slots(const struct pf_cm_cfg *cfg);
size_t pf_cm_apm2_len(const struct pf_cm_cfg *cfg);
/* Sizes the state for cfg and the history length (no copy). -ENOMEM. */
int pf_cm_reserve(pf_cm *cm, const struct pf_cm_cfg *cfg, size_t hist_len);
void pf_cm_release(pf_cm *cm);
/* The configuration a block of len bytes codes with: model's, its tables
 * widened for the block (format 4). */
void pf_cm_cfg_for_block(const struct pf_cm_cfg *model, size_t len, struct pf_cm_cfg *cfg);
/* Starts a block over buf (the history, written by the caller as bits are
 * coded) from the primed state, widening its tables to the state's size. */
void pf_cm_start(pf_cm *cm, const struct pf_cm_primed *primed, const uint8_t *buf);
/* Kernels of pf_cm_nibble_update (scalar reference, AVX2): hv[i] = the
 * hash of context i salted with the partial byte, bucket[i] = its first
 * candidate bucket, for i < n (n <= PF_CM_MAX_CTX). The arrays have
 * PF_CM_LANES entries, and the AVX2 version computes the lanes past n too. */
void pf_cm_buckets_scalar(const uint32_t *h, unsigned n, uint32_t salt,
			  unsigned table_bits, uint32_t *hv, uint32_t *bucket);
void pf_cm_buckets_avx2(const uint32_t *h, unsigned n, uint32_t salt,
			unsigned table_bits, uint32_t *hv, uint32_t *bucket);
void pf_cm_byte_update(pf_cm *cm);   /* after the 8th bit of a byte */
void pf_cm_nibble_update(pf_cm *cm); /* after the 4th */

/* ---- model_dict.c: the slice of training data and its match model ------ */
uint32_t pf_cm_hash6(uint32_t c4, uint32_t c8); /* hash of the last 6 bytes */
/* The in-block match model after byte c = buf[pos - 1] (model_ctx.c; the
 * network's trainer replays it): extends or drops the match (*len bytes,
 * *ptr the position of the byte it expects next), then looks the last 6
 * bytes (hash h6) up in hash (2^bits positions) and records pos there. */
void pf_cm_match_step(uint32_t *hash, unsigned bits, const uint8_t *buf, uint32_t pos,
		      uint32_t c, uint32_t h6, uint32_t *len, uint32_t *ptr);
/* Points d at bytes[0..len) and builds its index. @return 0, -ENOMEM. */
int pf_cm_dict_init(struct pf_cm_dict *d, const uint8_t *bytes, uint32_t len);
void pf_cm_dict_free(struct pf_cm_dict *d);
/* After byte c: extends or drops the slice match, then looks h6 up. */
void pf_cm_dict_update(pf_cm *cm, uint32_t c, uint32_t h6);

/* ---- model_file.c: the image --------------------------------------------- */
/* Serialises cfg and the state of cm into a new image. @return 0, -ENOMEM. */
int pf_cm_image_build(const pf_cm *cm, void **image, size_t *image_len);
/* net_h1: level max's network width (checked), ignored below it. */
int pf_cm_cfg_for_level(enum pf_model_level level, unsigned table_bits, unsigned net_h1,
			struct pf_cm_cfg *cfg);

/* ---- model_net.c: the network's integer inference ------------------------ */
/* The match feature's row: 0 without a match, else by length and byte. */
uint32_t pf_net_match_of(uint32_t len, uint32_t byte);
/* The indirect features after the byte before pos (c: the context after
 * it): what followed the previous 1-4, 6 and 8 bytes, and the word so far
 * with the last byte, where they last occurred in buf, from tab
 * (PF_NET_INDIRECT_SLOTS positions, zeroed at the block's start), which
 * then learns pos. */
void pf_net_indirect_step(uint32_t *tab, const uint8_t *buf, uint32_t pos,
			  const struct pf_net_ctx *c, uint32_t out[PF_NET_INDIRECT_FEATS]);
/* The embedding width training gives a network of width h1 unless
 * pf_model_train_opts.net_rank says: h1 / 4 in steps of 16, within 16..64
 * (docs/neural.md). */
unsigned pf_net_rank_for(unsigned h1);
/* The parts of the network in its payload, in this order, each 4-aligned. */
enum pf_net_part {
	PF_NET_B1, PF_NET_B2, PF_NET_U, PF_NET_EMB, PF_NET_W2, PF_NET_V, PF_NET_PM, PF_NET_PARTS
};
/* The shape a configuration's network has (h1 0: none). */
struct pf_net_shape pf_net_shape_of(const struct pf_cm_cfg *cfg);
/* Byte offsets of the parts; off[PF_NET_PARTS] is the length. */
void pf_net_layout(const struct pf_net_shape *shape, size_t off[PF_NET_PARTS + 1]);
size_t pf_net_payload_len(const struct pf_net_shape *shape);
unsigned pf_net_feats(const struct pf_net_shape *shape);
size_t pf_net_rows_total(const struct pf_net_shape *shape);
/* Points net at a payload of pf_net_payload_len(shape) bytes (4-aligned). */
void pf_net_locate(struct pf_net *net, const struct pf_net_shape *shape, const uint8_t *at);
/* Checks the bounds that keep inference inside int32. @return 0, -EIO. */
int pf_net_check(const struct pf_net *net);
void pf_net_ctx_push(struct pf_net_ctx *c, uint32_t byte);
/* The recent tokens row of token (little-endian 16-bit), for a network of
 * that shape. */
uint32_t pf_net_recent_row(const struct pf_net_shape *shape, uint32_t token);
/* Adds the token the last byte completed, if it completed one (the block's
 * bytes are 16-bit tokens from its start), to c's recent tokens. */
void pf_net_recent_step(const struct pf_net *net, struct pf_net_ctx *c);
/* The embedding rows the context selects, one per feature
 * (pf_net_feats(shape) of them). */
void pf_net_rows(const struct pf_net_shape *shape, const struct pf_net_ctx *c,
		 uint32_t rows[PF_NET_FEATS_MAX]);
/* The hidden layers for ctx: h2[net->h2], 1.0 = 2^8. */
void pf_net_forward(const struct pf_net *net, const struct pf_net_ctx *c, int16_t *h2);
/* The output nodes: one per node of a byte's bit tree (the partial byte
 * c0), twice over with token_out (for a token's first and second byte). */
unsigned pf_net_nodes(const struct pf_net_shape *shape);
/* The first output node of the byte at pos (from the block's start): 0,
 * or 256 for a token's second byte with token_out. */
uint32_t pf_net_node_base(const struct pf_net_shape *shape, uint32_t pos);
/* The stretch (-2047..2047) of P(next bit = 1) at node c0 (1..255) of the
 * byte after c. */
int pf_net_logit(const struct pf_net *net, const struct pf_net_ctx *c, const int16_t *h2,
		 uint32_t c0);
/* The dot product both layers use (scalar reference, AVX2 when the coder
 * uses AVX2: pf_cm_simd_avx2); n is a multiple of 16. Exact, so equal. */
int32_t pf_net_dot_scalar(const int16_t *a, const int16_t *b, unsigned n);
int32_t pf_net_dot_avx2(const int16_t *a, const int16_t *b, unsigned n);

/* ---- model_net_train.c: training the network with OpenBLAS --------------- */
#define PF_NET_SAMPLE_MAX (8u << 20) /* sample bytes the network trains on */
/* Trains a network of the given shape (rank > 0) on sample[0..len) and
 * writes its quantised weights into out (pf_net_payload_len(shape) bytes).
 * cm_st holds, for each bit of the first min(len, PF_NET_SAMPLE_MAX)
 * bytes in coding order, the CM's stretch >> 4 when it codes the sample
 * without the network: the network learns what to add to it (residual
 * training, model_net_train.c). Repeatable for a given sample, cm_st,
 * shape, machine and BLAS thread count. @return 0, -ENOMEM. */
int pf_net_train(const uint8_t *sample, size_t len, const int8_t *cm_st,
		 const struct pf_net_shape *shape, const pf_model_train_opts *opts,
		 uint8_t *out);

/* ---- model_fit.c: batch logistic regression of the mixer weights (BLAS) ---- */
struct pf_cm_fit_samples {
	int16_t *x;   /* n rows of n_in mixer inputs */
	uint8_t *set; /* weight set of each row */
	uint8_t *bit; /* the bit that was coded */
	size_t n, cap;
	unsigned n_in;
};
int pf_cm_fit_init(struct pf_cm_fit_samples *f, unsigned n_in, size_t cap);
void pf_cm_fit_add(struct pf_cm_fit_samples *f, const pf_cm *cm, int bit);
/* Refits each weight set on its samples and keeps the fit where it codes
 * held-out samples better. @return the number of sets replaced, -ENOMEM. */
int pf_cm_fit_weights(const struct pf_cm_fit_samples *f, int32_t *w);
void pf_cm_fit_free(struct pf_cm_fit_samples *f);

#endif
