/* SPDX-License-Identifier: MIT */
/*
 * model_net.c - the neural predictor of level max: integer inference only.
 *
 * After each byte the network reads an embedding bag (one row per feature:
 * each of the previous PF_NET_BYTES bytes, a hash of the previous two, a
 * hash of the word so far; with the context features also a hash of the
 * previous three bytes, one of the previous word, and the column; for
 * token shards also the phase and hashes of the previous one and two
 * aligned 16-bit tokens; the byte the in-block match expects; and for the
 * previous 1-4, 6 and 8 bytes, and the word so far, the byte that followed
 * them where they last occurred in the block; for token shards also a
 * decaying sum of the rows of the block's earlier tokens, a recurrent state
 * that reaches past the window), applies tanh, a dense
 * layer and tanh again; the result h2 gives, for each node of the byte's
 * bit tree (the partial byte c0), one logit that enters the CM mixer as an
 * input. The network is frozen: the mixer learns per block how far to
 * trust it.
 *
 * Format 5 rows are h1 wide. Format 6 rows are rank wide and their sum is
 * projected to h1 (pm): the embeddings are most of the image, and a
 * narrow table costs a fraction of the bytes for most of the gain
 * (docs/neural.md).
 *
 * Everything here is integer arithmetic, with tanh taken from the coder's
 * own squash table (tanh(x) = 2 squash(2x) - 1), so a prediction is the
 * same on every machine, in any summation order, and for any vector width
 * the compiler picks. The load-time bounds (pf_net_check) keep every sum
 * inside int32 for any image, hostile ones included.
 */
#include "model/model_int.h"

struct pf_net_shape pf_net_shape_of(const struct pf_cm_cfg *cfg)
{
	return (struct pf_net_shape){
		.h1 = cfg->net_h1,
		.rank = cfg->net_rank,
		.tokens = cfg->net_tokens,
		.context = cfg->net_context,
		.match = cfg->net_match,
		.indirect = cfg->net_indirect,
		.recent = cfg->net_recent,
		.token_out = cfg->net_token_out,
	};
}

unsigned pf_net_rank_for(unsigned h1)
{
	unsigned rank = h1 / 4 / PF_NET_RANK_STEP * PF_NET_RANK_STEP;

	return rank < PF_NET_RANK_STEP ? PF_NET_RANK_STEP
				       : (rank > PF_NET_RANK_MAX ? PF_NET_RANK_MAX : rank);
}

unsigned pf_net_feats(const struct pf_net_shape *shape)
{
	return PF_NET_FEATS + (shape->context ? PF_NET_CONTEXT_FEATS : 0) +
	       (shape->tokens ? PF_NET_TOKEN_FEATS : 0) + (shape->match ? PF_NET_MATCH_FEATS : 0) +
	       (shape->indirect ? PF_NET_INDIRECT_FEATS : 0);
}

size_t pf_net_rows_total(const struct pf_net_shape *shape)
{
	return PF_NET_ROWS + (shape->context ? PF_NET_CONTEXT_ROWS : 0) +
	       (shape->tokens ? PF_NET_TOKEN_ROWS : 0) + (shape->match ? PF_NET_MATCH_ROWS : 0) +
	       (shape->indirect ? PF_NET_INDIRECT_ROWS : 0) +
	       (shape->recent ? PF_NET_RECENT_ROWS : 0);
}

unsigned pf_net_nodes(const struct pf_net_shape *shape)
{
	return shape->token_out ? 512 : 256;
}

/* A token's second byte has nodes of its own: its bytes are two alphabets
 * (the id's low and high byte). */
uint32_t pf_net_node_base(const struct pf_net_shape *shape, uint32_t pos)
{
	return shape->token_out && (pos & 1) ? 256 : 0;
}

void pf_net_layout(const struct pf_net_shape *shape, size_t off[PF_NET_PARTS + 1])
{
	const size_t h1 = shape->h1, h2 = h1 / 2, width = shape->rank ? shape->rank : h1;
	const size_t nodes = pf_net_nodes(shape);
	const size_t len[PF_NET_PARTS] = {
		[PF_NET_B1] = h1 * 4,	  [PF_NET_B2] = h2 * 4,  [PF_NET_U] = nodes * 4,
		[PF_NET_EMB] = pf_net_rows_total(shape) * width, [PF_NET_W2] = h2 * h1 * 2,
		[PF_NET_V] = nodes * h2 * 2, [PF_NET_PM] = shape->rank * h1 * 2,
	};

	off[0] = 0;
	for (unsigned p = 0; p < PF_NET_PARTS; p++)
		off[p + 1] = off[p] + len[p];
}

size_t pf_net_payload_len(const struct pf_net_shape *shape)
{
	size_t off[PF_NET_PARTS + 1];

	pf_net_layout(shape, off);
	return off[PF_NET_PARTS];
}

void pf_net_locate(struct pf_net *net, const struct pf_net_shape *shape, const uint8_t *at)
{
	size_t off[PF_NET_PARTS + 1];

	pf_net_layout(shape, off);
	net->shape = *shape;
	net->h2 = shape->h1 / 2;
	net->b1 = (const int32_t *)(at + off[PF_NET_B1]);
	net->b2 = (const int32_t *)(at + off[PF_NET_B2]);
	net->u = (const int32_t *)(at + off[PF_NET_U]);
	net->emb = (const int8_t *)(at + off[PF_NET_EMB]);
	net->w2 = (const int16_t *)(at + off[PF_NET_W2]);
	net->v = (const int16_t *)(at + off[PF_NET_V]);
	net->pm = shape->rank ? (const int16_t *)(at + off[PF_NET_PM]) : NULL;
}

static bool within(const int32_t *p, size_t n, int32_t limit)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] > limit || p[i] < -limit)
			return false;
	return true;
}

static bool within16(const int16_t *p, size_t n, int32_t limit)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] > limit || p[i] < -limit)
			return false;
	return true;
}

/* |sum| for layer 2: h1 * 2^13 * 2^8 + 2^24 < 2^30 with h1 <= 256; for
 * the projection: rank * (22 * 2^7 + 1025) * 2^13 < 2^31 with rank <= 64,
 * at most PF_NET_FEATS_MAX = 22 rows in the bag and the recent tokens. */
_Static_assert((int64_t)PF_NET_RANK_MAX * (PF_NET_FEATS_MAX * 128 + PF_NET_RECENT_MAX) *
			       PF_NET_W_LIMIT <= INT32_MAX,
	       "the projection's sum must stay inside int32");

int pf_net_check(const struct pf_net *net)
{
	unsigned h1 = net->shape.h1, nodes = pf_net_nodes(&net->shape);

	if (!within(net->b1, h1, PF_NET_B_LIMIT) || !within(net->b2, net->h2, PF_NET_B_LIMIT) ||
	    !within(net->u, nodes, PF_NET_B_LIMIT) ||
	    !within16(net->w2, (size_t)net->h2 * h1, PF_NET_W_LIMIT) ||
	    !within16(net->v, (size_t)nodes * net->h2, PF_NET_W_LIMIT) ||
	    (net->pm && !within16(net->pm, (size_t)net->shape.rank * h1, PF_NET_W_LIMIT)))
		return PF_CORRUPT("model image network weight");
	return 0;
}

void pf_net_ctx_push(struct pf_net_ctx *c, uint32_t byte)
{
	c->last = c->last << 8 | byte;
	c->pos++;
	pf_cm_word_push(&c->word, &c->prev_word, byte);
	if (byte == '\n') {
		c->column = 0;
		c->lead = true;
	} else {
		c->column += c->column < PF_NET_COLUMN_MAX;
		c->lead = c->lead && (byte == ' ' || byte == '\t');
	}
}

uint32_t pf_net_match_of(uint32_t len, uint32_t byte)
{
	if (!len)
		return 0;
	return 1 + (len < 8 ? 0 : len < 16 ? 1 : len < 32 ? 2 : 3) * 256 + byte;
}

/* The indirect features' orders: how many previous bytes key each table;
 * 0 keys the last one by the word so far and the last byte. */
static const unsigned indirect_order[PF_NET_INDIRECT_FEATS] = { 1, 2, 3, 4, 6, 8, 0 };

void pf_net_indirect_step(uint32_t *tab, const uint8_t *buf, uint32_t pos,
			  const struct pf_net_ctx *c, uint32_t out[PF_NET_INDIRECT_FEATS])
{
	for (unsigned f = 0; f < PF_NET_INDIRECT_FEATS; f++) {
		unsigned order = indirect_order[f];
		uint64_t key = order ? c->last & (~0ULL >> (64 - 8 * order))
				     : (uint64_t)c->word << 8 | (c->last & 255);
		uint32_t *at = tab + ((size_t)f << PF_NET_INDIRECT_BITS) +
			       (uint32_t)((key * 0x9E3779B97F4A7C15ULL) >> (64 - PF_NET_INDIRECT_BITS));

		out[f] = *at ? 1 + buf[*at] : 0;
		*at = pos;
	}
}

/* The recent tokens' rows come last. */
uint32_t pf_net_recent_row(const struct pf_net_shape *shape, uint32_t token)
{
	return (uint32_t)pf_net_rows_total(shape) - PF_NET_RECENT_ROWS +
	       ((token + 1) * 0x9E3779B1U >> (32 - PF_NET_RECENT_BITS));
}

/* recent = recent * 7/8 + the token's row, in integers: from 0, |recent|
 * stays within PF_NET_RECENT_MAX << PF_NET_RECENT_SHIFT (an arithmetic
 * shift rounds down, the same on every machine). */
void pf_net_recent_step(const struct pf_net *net, struct pf_net_ctx *c)
{
	unsigned rank = net->shape.rank;
	uint32_t token = (uint32_t)((c->last >> 8 & 255) | (c->last & 255) << 8);
	const int8_t *e;

	if (c->pos & 1)
		return;
	e = net->emb + (size_t)pf_net_recent_row(&net->shape, token) * rank;
	for (unsigned k = 0; k < rank; k++)
		c->recent[k] = (c->recent[k] * PF_NET_RECENT_DECAY >> 8) +
			       e[k] * (1 << PF_NET_RECENT_SHIFT);
}

/* Context features: the previous three bytes, the previous word, and the
 * column with whether the line is blank so far (indentation). */
static void context_rows(const struct pf_net_ctx *c, uint32_t base, uint32_t rows[3])
{
	uint32_t order3 = (uint32_t)(c->last & 0xffffff) * 0x2545F491U;
	uint32_t prev = (c->prev_word + 1) * 0x9E3779B1U;

	rows[0] = base + (order3 >> (32 - PF_NET_ORDER3_BITS));
	base += 1u << PF_NET_ORDER3_BITS;
	rows[1] = base + (prev >> (32 - PF_NET_WORD_BITS));
	base += 1u << PF_NET_WORD_BITS;
	rows[2] = base + c->column * 2u + c->lead;
}

/* Token shards (little-endian 16-bit tokens): the phase in the token, and
 * hashes of the previous aligned token and the two before the current one,
 * each with the phase. */
static void token_rows(const struct pf_net_ctx *c, uint32_t base, uint32_t rows[3])
{
	uint32_t phase = c->pos & 1;
	uint64_t aligned = c->last >> (8 * phase);
	uint32_t one = ((uint32_t)(aligned & 0xffff) * 2 + phase + 1) * 0x2545F491U;
	uint32_t two = (uint32_t)((((aligned & 0xffffffffu) * 2 + phase + 1) *
				   0x9E3779B97F4A7C15ULL) >> 32);

	rows[0] = base + phase;
	rows[1] = base + 2 + (one >> (32 - PF_NET_TOKEN_BITS));
	rows[2] = base + 2 + (1u << PF_NET_TOKEN_BITS) + (two >> (32 - PF_NET_TOKEN_BITS));
}

void pf_net_rows(const struct pf_net_shape *shape, const struct pf_net_ctx *c,
		 uint32_t rows[PF_NET_FEATS_MAX])
{
	uint32_t pair = (uint32_t)(c->last & 0xffff) * 0x9E3779B1U;
	uint32_t word = (c->word + 1) * 0x85EBCA77U;
	uint32_t base = PF_NET_ROWS, n = PF_NET_FEATS;

	for (unsigned d = 0; d < PF_NET_BYTES; d++)
		rows[d] = d * 256 + (uint32_t)(c->last >> (8 * d) & 255);
	rows[PF_NET_BYTES] = PF_NET_BYTES * 256 + (pair >> (32 - PF_NET_PAIR_BITS));
	rows[PF_NET_BYTES + 1] = PF_NET_BYTES * 256 + (1u << PF_NET_PAIR_BITS) +
				 (word >> (32 - PF_NET_WORD_BITS));
	if (shape->context) {
		context_rows(c, base, rows + n);
		base += PF_NET_CONTEXT_ROWS;
		n += PF_NET_CONTEXT_FEATS;
	}
	if (shape->tokens) {
		token_rows(c, base, rows + n);
		base += PF_NET_TOKEN_ROWS;
		n += PF_NET_TOKEN_FEATS;
	}
	if (shape->match) {
		rows[n++] = base + c->match;
		base += PF_NET_MATCH_ROWS;
	}
	if (shape->indirect) {
		for (unsigned f = 0; f < PF_NET_INDIRECT_FEATS; f++)
			rows[n + f] = base + PF_NET_INDIRECT_FEAT_ROWS * f + c->indirect[f];
	}
}

/* tanh of a (1.0 = 2^8), 1.0 = 2^8: 2 squash(2a) - 1 on the coder's curve. */
static inline int16_t tanh_fixed(int32_t a)
{
	a = a > 1023 ? 1023 : (a < -1023 ? -1023 : a);
	return (int16_t)((pf_cm_squash(2 * a) - 2048) >> 3);
}

int32_t pf_net_dot_scalar(const int16_t *a, const int16_t *b, unsigned n)
{
	int32_t s = 0;

	for (unsigned i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* Pairs of int16 products summed into int32 lanes: exact, as the bounds
 * keep every partial sum inside int32. n is a multiple of 16. */
__attribute__((target("avx2"))) int32_t pf_net_dot_avx2(const int16_t *a, const int16_t *b,
							unsigned n)
{
	__m256i s = _mm256_setzero_si256();
	__m128i h;

	for (unsigned i = 0; i < n; i += 16)
		s = _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(a + i)),
							  _mm256_loadu_si256((const __m256i *)(b + i))));
	h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
	h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4E));
	h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xB1));
	return _mm_cvtsi128_si32(h);
}

#define DOT(a, b, n) (pf_cm_simd_avx2 ? pf_net_dot_avx2(a, b, n) : pf_net_dot_scalar(a, b, n))
#else
#define DOT(a, b, n) pf_net_dot_scalar(a, b, n)
#endif

/* Format 5: the rows are h1 wide and add up to the first layer's input. */
static void bag_wide(const struct pf_net *net, const uint32_t *rows, unsigned n, int32_t *a)
{
	unsigned h1 = net->shape.h1;

	for (unsigned f = 0; f < n; f++) {
		const int8_t *e = net->emb + (size_t)rows[f] * h1;

		for (unsigned i = 0; i < h1; i++)
			a[i] += e[i] * (1 << (PF_NET_ONE_SHIFT - PF_NET_EMB_SHIFT));
	}
}

/* Format 6: the rows (rank wide) and the recent tokens add up to s
 * (|s| <= 22 x 2^7 + 1025, an int16), and a[i] += pm[i] . s, with the dot
 * product of layer 2: 1.0 = 2^4 times 2^10 is 2^14, so each exact sum is
 * shifted down to 2^8 (an arithmetic shift: the same on every machine). */
static void bag_narrow(const struct pf_net *net, const struct pf_net_ctx *c,
		       const uint32_t *rows, unsigned n, int32_t *a)
{
	unsigned h1 = net->shape.h1, rank = net->shape.rank;
	int16_t s[PF_NET_RANK_MAX] = { 0 };

	if (net->shape.recent)
		for (unsigned k = 0; k < rank; k++)
			s[k] = (int16_t)(c->recent[k] >> PF_NET_RECENT_SHIFT);
	for (unsigned f = 0; f < n; f++) {
		const int8_t *e = net->emb + (size_t)rows[f] * rank;

		for (unsigned k = 0; k < rank; k++)
			s[k] = (int16_t)(s[k] + e[k]);
	}
	for (unsigned i = 0; i < h1; i++)
		a[i] += DOT(net->pm + (size_t)i * rank, s, rank) >>
			(PF_NET_EMB_SHIFT + PF_NET_W_SHIFT - PF_NET_ONE_SHIFT);
}

void pf_net_forward(const struct pf_net *net, const struct pf_net_ctx *c, int16_t *h2)
{
	int32_t a[PF_NET_H1_MAX];
	int16_t h[PF_NET_H1_MAX];
	uint32_t rows[PF_NET_FEATS_MAX];
	unsigned h1 = net->shape.h1, n = pf_net_feats(&net->shape);

	pf_net_rows(&net->shape, c, rows);
	for (unsigned i = 0; i < h1; i++)
		a[i] = net->b1[i];
	if (net->pm)
		bag_narrow(net, c, rows, n, a);
	else
		bag_wide(net, rows, n, a);
	for (unsigned i = 0; i < h1; i++)
		h[i] = tanh_fixed(a[i]);
	for (unsigned j = 0; j < net->h2; j++) {
		int32_t z = net->b2[j] + DOT(net->w2 + (size_t)j * h1, h, h1);

		h2[j] = tanh_fixed(z >> PF_NET_W_SHIFT); /* 1.0 = 2^18 -> 2^8 */
	}
}

int pf_net_logit(const struct pf_net *net, const struct pf_net_ctx *c, const int16_t *h2,
		 uint32_t c0)
{
	uint32_t node = pf_net_node_base(&net->shape, c->pos) + c0;
	int32_t z = net->u[node] + DOT(net->v + (size_t)node * net->h2, h2, net->h2);

	z >>= PF_NET_W_SHIFT; /* 1.0 = 2^8: the stretch domain's unit */
	return z > 2047 ? 2047 : (z < -2047 ? -2047 : z);
}
