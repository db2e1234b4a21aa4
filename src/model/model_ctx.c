/* SPDX-License-Identifier: MIT */
/*
 * model_ctx.c - the context model: byte-boundary context hashing, the
 * adaptive bit predictors, the match model, and per-bit predict/update.
 *
 * Contexts (DEFAULT; FAST uses the first six): orders 1, 2, 3, 4, 6; a word
 * (alphanumeric run, case-folded, or the previous word and the last byte
 * between words); order 0; column (position in line and the byte above it
 * in the previous line); record (CSV/TSV field number, JSON nesting depth
 * and current key, and the last byte); two strided contexts for binary
 * arrays (bytes at distance s and 2s, or s and 1, with the position mod s;
 * s is chosen at training and stored in the model). Format 7 turns them
 * into token contexts for data in 16-bit units, format 8 two of them (one
 * at FAST) into contexts for FASTQ's quality lines.
 *
 * The match model looks up the last 6 bytes in a hash of this block's own
 * history and predicts the byte that followed, with a strength learned per
 * match length. Its hash table is cleared at every block start, so what a
 * thread coded before never leaks into a prediction. A format 3 model also
 * matches into a stored slice of training data (model_dict.c).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "model/model_int.h"

#define MM_BITS_MIN 10u
#define MM_BITS_MAX 20u
#define HUGE_ALIGN ((size_t)2 << 20)
#define HUGE_MIN ((size_t)1 << 20)

static inline uint32_t hash_fin(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x7feb352dU;
	h ^= h >> 15;
	h *= 0x846ca68bU;
	h ^= h >> 16;
	return h;
}

static inline uint32_t hash2(uint32_t a, uint32_t b)
{
	return hash_fin(a * 0x9E3779B1U + b * 0x85EBCA77U + 0x27D4EB2FU);
}

static inline uint32_t hash3(uint32_t a, uint32_t b, uint32_t c)
{
	return hash2(hash2(a, b), c);
}

uint32_t pf_cm_hash6(uint32_t c4, uint32_t c8)
{
	return hash3(6, c4, c8 & 0xffff);
}

size_t pf_cm_tab_slots(const struct pf_cm_cfg *cfg)
{
	return (size_t)cfg->n_ctx << cfg->table_bits;
}

size_t pf_cm_apm2_len(const struct pf_cm_cfg *cfg)
{
	return cfg->apm2_bits ? (size_t)PF_CM_APM_ROWS << cfg->apm2_bits : 0;
}

/* Grows *p to at least n elements of size sz; keeps it when big enough.
 * Big tables ask for transparent huge pages: coding touches them at random,
 * and with 4 KiB pages most table reads would also miss the TLB. */
static int grow(void **p, size_t *cap, size_t n, size_t sz)
{
	size_t bytes = n * sz, align = bytes >= HUGE_MIN ? HUGE_ALIGN : 64;
	void *q;

	if (*cap >= n && *p)
		return 0;
	q = aligned_alloc(align, (bytes + align - 1) / align * align + (bytes ? 0 : align));
	if (!q)
		return -ENOMEM;
	if (align == HUGE_ALIGN)
		madvise(q, (bytes + align - 1) / align * align, MADV_HUGEPAGE);
	free(*p);
	*p = q;
	*cap = n;
	return 0;
}

int pf_cm_reserve(pf_cm *cm, const struct pf_cm_cfg *cfg, size_t hist_len)
{
	size_t w_cap = (size_t)PF_CM_W_ROWS * PF_CM_MAX_IN;
	unsigned bits = MM_BITS_MIN;

	while (bits < MM_BITS_MAX && ((size_t)1 << bits) < hist_len / 2)
		bits++;
	PF_FORWARD(grow((void **)&cm->tab, &cm->tab_cap, pf_cm_tab_slots(cfg),
			   sizeof(*cm->tab)));
	PF_FORWARD(grow((void **)&cm->apm2, &cm->apm2_cap,
			   pf_cm_apm2_len(cfg), sizeof(*cm->apm2)));
	PF_FORWARD(grow((void **)&cm->mm_hash, &cm->mm_cap, (size_t)1 << bits,
			   sizeof(*cm->mm_hash)));
	if (cfg->net_indirect && !cm->ind_pos &&
	    !(cm->ind_pos = malloc(sizeof(*cm->ind_pos) * PF_NET_INDIRECT_SLOTS)))
		return -ENOMEM;
	/* 64-byte rows on cache lines: each mixer reads and writes one line */
	if (!cm->w) {
		cm->w = aligned_alloc(64, w_cap * sizeof(*cm->w));
		if (!cm->w)
			return -ENOMEM;
		memset(cm->w, 0, w_cap * sizeof(*cm->w)); /* past n_in: only meet 0 inputs */
	}
	if (!cm->apm1 &&
	    !(cm->apm1 = malloc(PF_CM_APM1_CTX * PF_CM_APM_ROWS * sizeof(*cm->apm1))))
		return -ENOMEM;
	cm->cfg = *cfg;
	cm->mm_bits = bits;
	return 0;
}

void pf_cm_release(pf_cm *cm)
{
	free(cm->tab);
	free(cm->apm2);
	free(cm->mm_hash);
	free(cm->ind_pos);
	free(cm->w);
	free(cm->apm1);
	memset(cm, 0, sizeof(*cm));
}

/* ---- byte-boundary contexts ---------------------------------------------- */

/* Words, lines, CSV fields and JSON keys/nesting, after byte c. */
static void text_update(pf_cm *cm, uint32_t c)
{
	pf_cm_word_push(&cm->word, &cm->word_prev, c);
	if (c == '\n') {
		cm->line_prev2 = cm->line_prev;
		cm->line_prev = cm->line_start;
		cm->line_start = cm->pos;
		cm->field = 0;
	}
	if (cm->in_str) {
		if (c == '"' && !cm->esc)
			cm->in_str = false;
		else
			cm->str_hash = (cm->str_hash + c + 1) * 0x2F0B3C4DU;
		cm->esc = c == '\\' && !cm->esc;
		return;
	}
	switch (c) {
	case '"': cm->in_str = true; cm->str_hash = 0; cm->esc = false; break;
	case ':': cm->key = cm->str_hash; break;
	case '{': case '[': cm->depth += cm->depth < 255; cm->key = 0; break;
	case '}': case ']': cm->depth -= cm->depth > 0; break;
	case ',': case '\t': case ';': case '|': cm->field += cm->field < 255; break;
	default: break;
	}
}

void pf_cm_match_step(uint32_t *hash, unsigned bits, const uint8_t *buf, uint32_t pos,
		      uint32_t c, uint32_t h6, uint32_t *len, uint32_t *ptr)
{
	uint32_t idx = h6 >> (32 - bits), cand;

	if (*len && buf[*ptr] == c) {
		*len += *len < PF_CM_MM_LEN_MAX;
		(*ptr)++;
	} else {
		*len = 0;
	}
	cand = *len ? 0 : hash[idx]; /* a match that goes on skips the load, often a miss */
	if (cand) {
		uint32_t n = 0;

		while (n < PF_CM_MM_VERIFY_MAX && n < cand && buf[cand - 1 - n] == buf[pos - 1 - n])
			n++;
		if (n) {
			*len = n;
			*ptr = cand;
		}
	}
	hash[idx] = pos;
}

static inline uint32_t hist(const pf_cm *cm, uint32_t dist)
{
	return dist <= cm->pos ? cm->buf[cm->pos - dist] : 0;
}

/* In data made of 16-bit units (token shards, 16-bit PCM) the same bytes
 * mean different things at even and odd positions: the low byte of a
 * token, or the high one. Salting the low orders with the phase keeps the
 * two apart. The contexts made for text mean nothing there, so they turn
 * into token contexts: the word into the last four tokens, the column and
 * the record into the token two back and the token three back alone
 * (skipping the nearer ones), and order 0 learns the two phases apart.
 * At an odd position each token context also holds the token's low byte,
 * known by then; the second APM's context is the previous token at an
 * even position, that low byte alone at an odd one. GPT-2 token shards
 * -1.9..-2.9% (docs/model.md); text would lose about 2%, which is why
 * training sets it only for such data.
 * The order-6 hash stays as it is: the match model looks it up. */
static void units_contexts(pf_cm *cm)
{
	uint32_t phase = cm->pos & 1, salt = phase * 0x9E3779B1u, *h = cm->h;
	uint32_t c4 = cm->c4, c8 = cm->c8, low = phase ? c4 & 255 : 0;

	h[CTX_O1] ^= salt;
	h[CTX_O2] ^= salt;
	h[CTX_O3] ^= salt;
	h[CTX_O4] ^= salt;
	h[CTX_WORD] = hash3(14 + phase, c4, phase ? c8 & 0xffffff : c8);
	cm->apm2_base = hash2(20 + phase, phase ? low : c4 & 0xffff);
	if (cm->cfg.n_ctx <= CTX_COLUMN)
		return;
	h[CTX_O0] = 1 + phase;
	h[CTX_COLUMN] = hash3(16 + phase, phase ? c4 >> 24 | (c8 & 255) << 8 : c4 >> 16, low);
	h[CTX_RECORD] = hash3(18 + phase, phase ? (c8 >> 8) & 0xffff : c8 & 0xffff, low);
}

/* The contexts DEFAULT adds to FAST's: order 0, the column, the record and
 * the two strided ones. */
static void default_contexts(pf_cm *cm)
{
	uint32_t c1 = cm->c4 & 255, *h = cm->h;
	uint32_t col = cm->pos - cm->line_start, above = 0, s = cm->cfg.stride;

	if (cm->line_prev + col < cm->line_start)
		above = cm->buf[cm->line_prev + col];
	h[CTX_O0] = 0;
	h[CTX_COLUMN] = hash3(10, above, col < 1023 ? col : 1023);
	h[CTX_RECORD] = hash3(cm->field | cm->depth << 8, cm->key, c1);
	h[CTX_STRIDE1] = hash3(hist(cm, s) | hist(cm, 2 * s) << 8, cm->pos % s, 11);
	h[CTX_STRIDE2] = hash3(hist(cm, s) | c1 << 8, cm->pos % s, 12);
}

/* A FASTQ record is four lines: a header, the bases, '+', and a quality
 * per base. A base's quality depends on the bases around it (homopolymer
 * runs, for one), which stand two lines above it, at its column. The
 * record context, order 1 again in data without fields, becomes those
 * three bases and the last quality; the second strided one, the three
 * bases and the column. FAST has neither: its word context, which sees a
 * read as one long word, becomes the first of them. On the other lines
 * they read the line two above all the same, which costs little: PacBio
 * FASTQ 3.5% smaller (FAST 2.7%), nanopore 1.5% (0.5%); FASTA within +0.5%,
 * which is why training sets it only for FASTQ (docs/model.md). */
static void fastq_contexts(pf_cm *cm)
{
	uint32_t col = cm->pos - cm->line_start, above2 = cm->line_prev2, bases = 0;
	uint32_t with_quality;

	if (above2 + col + 1 < cm->line_prev)
		bases = (col ? cm->buf[above2 + col - 1] : 0u) | cm->buf[above2 + col] << 8 |
			(uint32_t)cm->buf[above2 + col + 1] << 16;
	with_quality = hash3(bases, cm->c4 & 255, 21);
	if (cm->cfg.n_ctx <= CTX_COLUMN) {
		cm->h[CTX_WORD] = with_quality;
		return;
	}
	cm->h[CTX_RECORD] = with_quality;
	cm->h[CTX_STRIDE2] = hash3(bases, col < 64 ? col : 64, 22);
}

static void ctx_hashes(pf_cm *cm)
{
	uint32_t c4 = cm->c4, c1 = c4 & 255, *h = cm->h;

	h[CTX_O1] = hash2(1, c1);
	h[CTX_O2] = hash2(2, c4 & 0xffff);
	h[CTX_O3] = hash2(3, c4 & 0xffffff);
	h[CTX_O4] = hash2(4, c4);
	h[CTX_O6] = pf_cm_hash6(c4, cm->c8);
	h[CTX_WORD] = cm->word ? hash2(7, cm->word) : hash3(8, cm->word_prev, c1);
	cm->apm2_base = hash2(9, c4 & 0xffff);
	if (cm->cfg.n_ctx > CTX_COLUMN)
		default_contexts(cm);
	if (cm->cfg.units)
		units_contexts(cm);
	if (cm->cfg.fastq)
		fastq_contexts(cm);
}

/* Claims for a context seen in neither of the buckets at base and
 * base ^ 16 the less used one (by the hit count of its first slot) and
 * resets it: an unknown context then predicts 1/2 instead of borrowing a
 * colliding context's statistics. Slot 0 of a bucket holds its tag. */
static uint32_t bucket_claim(uint16_t *t, uint32_t base, uint16_t tag)
{
	static const uint16_t fresh[15] = {
		PF_CM_SLOT_FRESH, PF_CM_SLOT_FRESH, PF_CM_SLOT_FRESH, PF_CM_SLOT_FRESH,
		PF_CM_SLOT_FRESH, PF_CM_SLOT_FRESH, PF_CM_SLOT_FRESH, PF_CM_SLOT_FRESH,
		PF_CM_SLOT_FRESH, PF_CM_SLOT_FRESH, PF_CM_SLOT_FRESH, PF_CM_SLOT_FRESH,
		PF_CM_SLOT_FRESH, PF_CM_SLOT_FRESH, PF_CM_SLOT_FRESH,
	};
	uint32_t b1 = base ^ 16;
	uint32_t r = (t[base + 1] & 15) <= (t[b1 + 1] & 15) ? base : b1;

	t[r] = tag;
	memcpy(t + r + 1, fresh, sizeof(fresh));
	return r;
}

/* The first bucket of every context for the nibble starting now: the hash
 * of its context and the partial byte (salt) picks a 16-slot bucket in the
 * context's table; the hash's low 16 bits are the bucket's tag. */
void pf_cm_buckets_scalar(const uint32_t *h, unsigned n, uint32_t salt,
			  unsigned table_bits, uint32_t *hv, uint32_t *bucket)
{
	for (unsigned i = 0; i < n; i++) {
		hv[i] = hash_fin(h[i] + salt);
		bucket[i] = ((i << table_bits) | (hv[i] >> (32 - table_bits))) & ~15U;
	}
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* hash_fin on eight lanes: 32-bit multiplies and shifts, exact. */
__attribute__((target("avx2"))) static inline __m256i hash_fin8(__m256i h)
{
	h = _mm256_xor_si256(h, _mm256_srli_epi32(h, 16));
	h = _mm256_mullo_epi32(h, _mm256_set1_epi32(0x7feb352d));
	h = _mm256_xor_si256(h, _mm256_srli_epi32(h, 15));
	h = _mm256_mullo_epi32(h, _mm256_set1_epi32((int)0x846ca68bU));
	return _mm256_xor_si256(h, _mm256_srli_epi32(h, 16));
}

/* Computes all PF_CM_LANES lanes (the arrays have that many entries);
 * plain loads and stores, as masked ones are slow on AMD cores. */
__attribute__((target("avx2"))) void pf_cm_buckets_avx2(const uint32_t *h, unsigned n,
							uint32_t salt, unsigned table_bits,
							uint32_t *hv, uint32_t *bucket)
{
	const __m128i tb = _mm_cvtsi32_si128((int)table_bits);
	const __m128i sh = _mm_cvtsi32_si128(32 - (int)table_bits);
	const __m256i s = _mm256_set1_epi32((int)salt), low = _mm256_set1_epi32(~15);
	__m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);

	(void)n;
	for (unsigned i = 0; i < PF_CM_LANES; i += 8) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(h + i)), b;

		v = hash_fin8(_mm256_add_epi32(v, s));
		b = _mm256_or_si256(_mm256_sll_epi32(idx, tb), _mm256_srl_epi32(v, sh));
		_mm256_storeu_si256((__m256i *)(hv + i), v);
		_mm256_storeu_si256((__m256i *)(bucket + i), _mm256_and_si256(b, low));
		idx = _mm256_add_epi32(idx, _mm256_set1_epi32(8));
	}
}
#define BUCKETS(h, n, s, tb, hv, b)                                                    \
	(pf_cm_simd_avx2 ? pf_cm_buckets_avx2(h, n, s, tb, hv, b)                       \
			 : pf_cm_buckets_scalar(h, n, s, tb, hv, b))
#else
#define BUCKETS(h, n, s, tb, hv, b) pf_cm_buckets_scalar(h, n, s, tb, hv, b)
#endif

static inline __attribute__((always_inline)) void
buckets_find_n(pf_cm *cm, const uint32_t *hv, unsigned n)
{
	uint32_t *bucket = cm->bucket, miss = 0;
	uint16_t *tab = cm->tab;

#pragma GCC unroll 16
	for (unsigned i = 0; i < n; i++)
		__builtin_prefetch(tab + (bucket[i] & ~31U));
	/* The hits without a branch: a mispredicted miss would throw away
	 * the table reads of the contexts after it, which mostly miss the
	 * L2 (+6..8% decode speed). Each context has a table of its own, so
	 * claiming after all the reads finds the same buckets. */
#pragma GCC unroll 16
	for (unsigned i = 0; i < n; i++) {
		uint32_t b = bucket[i];
		uint16_t tag = (uint16_t)hv[i];
		bool hit0 = tab[b] == tag, hit1 = tab[b ^ 16] == tag;

		bucket[i] = hit0 ? b : b ^ 16;
		miss |= (uint32_t)!(hit0 | hit1) << i;
	}
	for (; miss; miss &= miss - 1) {
		unsigned i = (unsigned)__builtin_ctz(miss);

		bucket[i] = bucket_claim(tab, bucket[i] ^ 16, (uint16_t)hv[i]);
	}
}

/* Picks the 16-slot bucket of every context for the nibble starting now;
 * all of them are prefetched before the first is probed. The loops are
 * unrolled per level (their exits mispredicted). */
void pf_cm_nibble_update(pf_cm *cm)
{
	uint32_t hv[PF_CM_LANES];
	unsigned n = cm->cfg.n_ctx;

	cm->nib = 1;
	BUCKETS(cm->h, n, cm->c0 * 0x9E3779B1U, cm->cfg.table_bits, hv, cm->bucket);
	switch (n) {
	case PF_CM_DEFAULT_CTX: buckets_find_n(cm, hv, PF_CM_DEFAULT_CTX); break;
	case PF_CM_FAST_CTX: buckets_find_n(cm, hv, PF_CM_FAST_CTX); break;
	default: buckets_find_n(cm, hv, n); break;
	}
}

void pf_cm_byte_update(pf_cm *cm)
{
	uint32_t c = cm->c0 & 255;

	cm->c0 = 1;
	cm->bitpos = 0;
	cm->c8 = cm->c8 << 8 | cm->c4 >> 24;
	cm->c4 = cm->c4 << 8 | c;
	cm->pos++;
	cm->phase = cm->cfg.stride <= 4 ? cm->pos % cm->cfg.stride : 0;
	text_update(cm, c);
	ctx_hashes(cm);
	/* The match tables' reads often miss the caches: started here, they
	 * wait beside the bucket probes' misses instead of before them. */
	__builtin_prefetch(cm->mm_hash + (cm->h[CTX_O6] >> (32 - cm->mm_bits)));
	if (cm->dict)
		__builtin_prefetch(cm->dict->index + (cm->h[CTX_O6] >> (32 - cm->dict->bits)));
	pf_cm_nibble_update(cm);
	pf_cm_match_step(cm->mm_hash, cm->mm_bits, cm->buf, cm->pos, c, cm->h[CTX_O6],
			 &cm->mm_len, &cm->mm_ptr);
	if (cm->dict)
		pf_cm_dict_update(cm, c, cm->h[CTX_O6]);
	if (cm->net) {
		pf_net_ctx_push(&cm->net_ctx, c);
		cm->net_ctx.match = pf_net_match_of(cm->mm_len, cm->mm_len ? cm->buf[cm->mm_ptr] : 0);
		if (cm->net->shape.indirect)
			pf_net_indirect_step(cm->ind_pos, cm->buf, cm->pos, &cm->net_ctx,
					     cm->net_ctx.indirect);
		if (cm->net->shape.recent)
			pf_net_recent_step(cm->net, &cm->net_ctx);
		pf_net_forward(cm->net, &cm->net_ctx, cm->net_h2);
	}
}

/* ---- block start ---------------------------------------------------------- */

void pf_cm_cfg_for_block(const struct pf_cm_cfg *model, size_t len, struct pf_cm_cfg *cfg)
{
	unsigned bits = 3;

	while (bits < model->code_bits && ((size_t)1 << (bits - 3)) < len)
		bits++;
	*cfg = *model;
	if (bits > model->table_bits)
		cfg->table_bits = bits;
}

/* Copies the primed tables into tables 2^k times as wide. A context whose
 * hash picks bucket B of a pair {B, B^1} in the primed table picks a bucket
 * B' of the pair {B', B'^1} with B' >> k == B in the wide one; giving that
 * pair the primed pair's two buckets (bucket B' gets B ^ (B' & 1)) lets
 * buckets_find_n() find every primed context where it looks. */
static void tables_widen(uint16_t *dst, unsigned dst_bits, const uint16_t *src,
			 unsigned src_bits, unsigned n_ctx)
{
	unsigned k = dst_bits - src_bits;
	size_t buckets = (size_t)1 << (dst_bits - 4);

	for (unsigned c = 0; c < n_ctx; c++) {
		const uint16_t *from = src + ((size_t)c << src_bits);
		uint16_t *to = dst + ((size_t)c << dst_bits);

		for (size_t b = 0; b < buckets; b++)
			memcpy(to + b * 16, from + ((b >> k) ^ (b & 1)) * 16, 16 * sizeof(*to));
	}
}

void pf_cm_start(pf_cm *cm, const struct pf_cm_primed *primed, const uint8_t *buf)
{
	if (primed) {
		if (cm->cfg.table_bits == primed->table_bits)
			memcpy(cm->tab, primed->tables, pf_cm_tab_slots(&cm->cfg) * 2);
		else
			tables_widen(cm->tab, cm->cfg.table_bits, primed->tables,
				     primed->table_bits, cm->cfg.n_ctx);
		memcpy(cm->mm_sm, primed->mm, sizeof(cm->mm_sm));
		for (size_t s = 0; s < PF_CM_W_ROWS; s++)
			memcpy(cm->w + s * PF_CM_MAX_IN, primed->weights + s * cm->cfg.n_in * 4,
			       cm->cfg.n_in * sizeof(*cm->w));
		memcpy(cm->apm1, primed->apm1,
		       PF_CM_APM1_CTX * PF_CM_APM_ROWS * sizeof(*cm->apm1));
		if (cm->cfg.apm2_bits)
			memcpy(cm->apm2, primed->apm2, pf_cm_apm2_len(&cm->cfg) * 2);
		cm->dict = primed->dict;
		if (primed->dict)
			memcpy(cm->dm_sm, primed->dm, sizeof(cm->dm_sm));
		cm->net = primed->net;
	}
	memset(cm->mm_hash, 0, ((size_t)1 << cm->mm_bits) * sizeof(*cm->mm_hash));
	memset(cm->x, 0, sizeof(cm->x)); /* inputs past n_in stay 0 */
	cm->buf = buf;
	cm->pos = 0;
	cm->mm_ptr = cm->mm_len = 0;
	cm->dm_ptr = cm->dm_len = 0;
	cm->c0 = 1;
	cm->c4 = cm->c8 = cm->bitpos = cm->phase = 0;
	cm->word = cm->word_prev = cm->line_start = cm->line_prev = cm->line_prev2 = 0;
	cm->field = cm->depth = cm->key = cm->str_hash = 0;
	cm->in_str = cm->esc = false;
	cm->net_ctx = (struct pf_net_ctx){ 0 };
	if (cm->net && cm->net->shape.indirect)
		memset(cm->ind_pos, 0, sizeof(*cm->ind_pos) * PF_NET_INDIRECT_SLOTS);
	if (cm->net)
		pf_net_forward(cm->net, &cm->net_ctx, cm->net_h2);
	ctx_hashes(cm);
	pf_cm_nibble_update(cm);
}
