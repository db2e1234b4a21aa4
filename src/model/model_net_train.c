/* SPDX-License-Identifier: MIT */
/*
 * model_net_train.c - trains the level max network (model_net.c) on the
 * sample in float with OpenBLAS, then quantises it to the integer weights
 * the coder runs.
 *
 * Minibatch Adam on the bits' cross-entropy: the projection's and the dense
 * layer's forward and backward products are sgemm calls; the embedding bag
 * is gathered and its gradient scattered by hand, and only the rows a batch
 * touched take an Adam step (rows the sample never selects stay 0 and cost
 * the image nothing once compressed). It trains format 6 networks: narrow
 * rows (rank) projected to h1. The last 1/HOLDOUT_DIV of the sample is never
 * trained on: it measures the loss curve reported through opts->loss.
 * Positions are drawn from a seeded generator, so a run is repeatable for a
 * given sample, width, machine and BLAS thread count. Coding never runs
 * this file's float arithmetic: it sees only the quantised result.
 *
 * Residual training: each bit's logit is the network's output plus
 * NET_CM_SHARE of the CM's own (cm_st, the CM coding the sample without
 * the network), so the network spends its width on what the CM gets wrong
 * instead of learning again the order-1..3 statistics the CM has. In
 * coding the mixer, not a plain sum, combines the two: half the CM's logit
 * beat none and all of it (model_bench, width 64: source 1.103 -> 1.094,
 * token shards 2.213 -> 2.189 bits/byte; all of it 1.098 and 2.201).
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_int.h"

#define NET_BATCH 256
#define NET_EPOCHS 2
/* Token shards' networks have more to learn per sample byte (the recent
 * tokens, two sets of output nodes) and still gain from a third pass
 * (docs/neural.md). */
#define NET_EPOCHS_TOKENS 3
#define NET_LR 0.003f /* Adam step, decayed linearly to a tenth */
#define NET_REPORTS 8 /* loss curve points */
#define HOLDOUT_DIV 32
#define HOLDOUT_MAX (256u << 10)
#define ADAM_B1 0.9f
#define ADAM_B2 0.999f
#define ADAM_EPS 1e-8f
#define EMB_MAX (127.0f / (1 << PF_NET_EMB_SHIFT)) /* int8 */
#define W_MAX ((float)PF_NET_W_LIMIT / (1 << PF_NET_W_SHIFT))
#define NET_CM_SHARE (0.5f / 16) /* of cm_st, stretch >> 4: 1.0 = 16 */
#define SEED 0x9E3779B97F4A7C15ULL

/* Parameters, gradients and Adam moments share one flat layout. */
struct params {
	float *p, *g, *m, *v;
	size_t n, emb_n; /* the embedding table comes first */
	unsigned h1, h2, rank, feats, nodes;
};

struct view {
	float *emb, *pm, *b1, *w2, *b2, *v, *u;
};

static void view_of(const struct params *P, float *base, struct view *V)
{
	V->emb = base;
	V->pm = V->emb + P->emb_n;
	V->b1 = V->pm + (size_t)P->rank * P->h1;
	V->w2 = V->b1 + P->h1;
	V->b2 = V->w2 + (size_t)P->h2 * P->h1;
	V->v = V->b2 + P->h2;
	V->u = V->v + (size_t)P->nodes * P->h2;
}

/* One batch's activations and their gradients. */
struct batch {
	uint32_t *rows; /* [NET_BATCH][feats] */
	uint8_t *byte;  /* [NET_BATCH] the byte that followed */
	size_t pos[NET_BATCH]; /* its place in the sample */
	float *bag, *dbag; /* [NET_BATCH][rank] the rows' sums */
	float *h1, *z, *h2, *dh2, *dz, *dh1;
	uint8_t *touched; /* [rows] */
	uint32_t *touched_list;
	size_t n_touched;
};

struct trainer {
	struct pf_net_shape shape;
	const uint8_t *s;
	const int8_t *cm_st; /* [n_all][8] the CM's stretch >> 4 per bit */
	/* the context state before each position that `last` cannot rebuild */
	uint32_t *word, *prev_word;
	uint8_t *line; /* column << 1 | lead */
	uint16_t *match; /* match feature rows */
	uint16_t *indirect; /* indirect feature rows, PF_NET_INDIRECT_FEATS per position */
	size_t n_train, n_all;
	struct params P;
	struct batch B;
	uint64_t rng;
};

static uint64_t rng_next(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545F4914F6CDD1DULL;
}

static float rng_uniform(uint64_t *x)
{
	return (float)(rng_next(x) >> 40) / (float)(1u << 24) - 0.5f;
}

static void *alloc_zero(size_t n, size_t sz, bool *ok)
{
	void *p = calloc(n ? n : 1, sz);

	*ok = *ok && p;
	return p;
}

static int trainer_init(struct trainer *T, const uint8_t *s, size_t len, const int8_t *cm_st,
			const struct pf_net_shape *shape)
{
	struct params *P = &T->P;
	struct batch *B = &T->B;
	unsigned h1 = shape->h1;
	size_t hb = (size_t)NET_BATCH * h1, rows = pf_net_rows_total(shape);
	bool ok = true;

	memset(T, 0, sizeof(*T));
	T->shape = *shape;
	T->s = s;
	T->cm_st = cm_st;
	T->n_all = len < PF_NET_SAMPLE_MAX ? len : PF_NET_SAMPLE_MAX;
	T->n_train = T->n_all - (T->n_all / HOLDOUT_DIV < HOLDOUT_MAX ? T->n_all / HOLDOUT_DIV
								    : HOLDOUT_MAX);
	P->h1 = h1;
	P->h2 = h1 / 2;
	P->rank = shape->rank;
	P->feats = pf_net_feats(shape);
	P->nodes = pf_net_nodes(shape);
	P->emb_n = rows * P->rank;
	P->n = P->emb_n + (size_t)P->rank * h1 + h1 + (size_t)P->h2 * h1 + P->h2 +
	       (size_t)P->nodes * P->h2 + P->nodes;
	P->p = alloc_zero(P->n, sizeof(float), &ok);
	P->g = alloc_zero(P->n, sizeof(float), &ok);
	P->m = alloc_zero(P->n, sizeof(float), &ok);
	P->v = alloc_zero(P->n, sizeof(float), &ok);
	T->word = alloc_zero(T->n_all, sizeof(uint32_t), &ok);
	if (shape->context) {
		T->prev_word = alloc_zero(T->n_all, sizeof(uint32_t), &ok);
		T->line = alloc_zero(T->n_all, 1, &ok);
	}
	if (shape->match)
		T->match = alloc_zero(T->n_all, sizeof(uint16_t), &ok);
	if (shape->indirect)
		T->indirect = alloc_zero(T->n_all * PF_NET_INDIRECT_FEATS, sizeof(uint16_t), &ok);
	B->rows = alloc_zero((size_t)NET_BATCH * P->feats, sizeof(uint32_t), &ok);
	B->byte = alloc_zero(NET_BATCH, 1, &ok);
	B->bag = alloc_zero((size_t)NET_BATCH * P->rank, sizeof(float), &ok);
	B->dbag = alloc_zero((size_t)NET_BATCH * P->rank, sizeof(float), &ok);
	B->h1 = alloc_zero(hb, sizeof(float), &ok);
	B->dh1 = alloc_zero(hb, sizeof(float), &ok);
	B->z = alloc_zero(hb / 2, sizeof(float), &ok);
	B->h2 = alloc_zero(hb / 2, sizeof(float), &ok);
	B->dh2 = alloc_zero(hb / 2, sizeof(float), &ok);
	B->dz = alloc_zero(hb / 2, sizeof(float), &ok);
	B->touched = alloc_zero(rows, 1, &ok);
	B->touched_list = alloc_zero(rows, sizeof(uint32_t), &ok);
	return ok ? 0 : -ENOMEM;
}

static void trainer_free(struct trainer *T)
{
	struct batch *B = &T->B;

	free(T->P.p), free(T->P.g), free(T->P.m), free(T->P.v);
	free(T->word), free(T->prev_word), free(T->line), free(T->match);
	free(T->indirect);
	free(B->rows), free(B->byte), free(B->bag), free(B->dbag), free(B->h1), free(B->dh1);
	free(B->z);
	free(B->h2), free(B->dh2), free(B->dz), free(B->touched), free(B->touched_list);
}

/* Zero embeddings (unused rows compress away), random first-layer biases
 * so that the hidden units differ from the start, Xavier projection and
 * layer 2. */
static void params_init(struct trainer *T)
{
	struct view V;
	float a = sqrtf(6.0f / (float)(T->P.h1 + T->P.h2));
	float ap = sqrtf(6.0f / (float)(T->P.rank + T->P.h1));

	view_of(&T->P, T->P.p, &V);
	T->rng = SEED;
	for (unsigned i = 0; i < T->P.h1; i++)
		V.b1[i] = rng_uniform(&T->rng);
	for (size_t i = 0; i < (size_t)T->P.h2 * T->P.h1; i++)
		V.w2[i] = 2 * a * rng_uniform(&T->rng);
	for (size_t i = 0; i < (size_t)T->P.rank * T->P.h1; i++)
		V.pm[i] = 2 * ap * rng_uniform(&T->rng);
}

static void state_index(struct trainer *T)
{
	struct pf_net_ctx c = { 0 };

	for (size_t t = 0; t < T->n_all; t++) {
		T->word[t] = c.word;
		if (T->shape.context) {
			T->prev_word[t] = c.prev_word;
			T->line[t] = (uint8_t)(c.column << 1 | c.lead);
		}
		pf_net_ctx_push(&c, T->s[t]);
	}
}

/* The match and the indirect features before each position: the coder's
 * in-block match model and position tables replayed over the sample cut
 * into blocks, as the priming pass cuts it. */
#define MATCH_BLOCK (256u * 1024)
#define MATCH_BITS 17 /* pf_cm_reserve()'s for a 256 KiB block */
static int block_index(struct trainer *T)
{
	uint32_t *hash = malloc(sizeof(*hash) << MATCH_BITS), len = 0, ptr = 0, c4 = 0, c8 = 0;
	uint32_t *ind = malloc(sizeof(*ind) * PF_NET_INDIRECT_SLOTS);
	uint32_t next[PF_NET_INDIRECT_FEATS] = { 0 };
	struct pf_net_ctx ctx = { 0 }; /* the coder's, for the indirect features */

	if (!hash || !ind) {
		free(hash), free(ind);
		return -ENOMEM;
	}
	for (size_t t = 0; t < T->n_all; t++) {
		const uint8_t *block = T->s + t / MATCH_BLOCK * MATCH_BLOCK;
		uint32_t pos = (uint32_t)(t % MATCH_BLOCK), c = T->s[t];

		if (pos == 0) {
			memset(hash, 0, sizeof(*hash) << MATCH_BITS);
			memset(ind, 0, sizeof(*ind) * PF_NET_INDIRECT_SLOTS);
			memset(next, 0, sizeof(next));
			ctx = (struct pf_net_ctx){ 0 };
			len = ptr = c4 = c8 = 0;
		}
		if (T->shape.match)
			T->match[t] = (uint16_t)pf_net_match_of(len, len ? block[ptr] : 0);
		for (unsigned f = 0; T->shape.indirect && f < PF_NET_INDIRECT_FEATS; f++)
			T->indirect[t * PF_NET_INDIRECT_FEATS + f] = (uint16_t)next[f];
		c8 = c8 << 8 | c4 >> 24;
		c4 = c4 << 8 | c;
		pf_cm_match_step(hash, MATCH_BITS, block, pos + 1, c, pf_cm_hash6(c4, c8), &len, &ptr);
		pf_net_ctx_push(&ctx, c);
		pf_net_indirect_step(ind, block, pos + 1, &ctx, next);
	}
	free(hash), free(ind);
	return 0;
}

/* The context before position t, as coding sees it in a long block. */
static void ctx_at(const struct trainer *T, size_t t, struct pf_net_ctx *c)
{
	c->last = 0;
	for (size_t d = 8; d >= 1; d--)
		c->last = c->last << 8 | (t >= d ? T->s[t - d] : 0);
	c->word = T->word[t];
	if (T->shape.context) {
		c->prev_word = T->prev_word[t];
		c->column = T->line[t] >> 1;
		c->lead = T->line[t] & 1;
	}
	c->match = T->shape.match ? T->match[t] : 0;
	for (unsigned f = 0; f < PF_NET_INDIRECT_FEATS; f++)
		c->indirect[f] = T->shape.indirect ? T->indirect[t * PF_NET_INDIRECT_FEATS + f] : 0;
	c->pos = (uint32_t)t; /* the sample's pieces start aligned */
}

/* The recent tokens feature before position t: the rows of the block's
 * tokens before t's token, newest first, the k-th weighing (7/8)^k, as the
 * coder's integer state sums them (pf_net_recent_step; past RECENT_TERMS
 * the weights are under 0.2% and left out). Returns how many. */
#define RECENT_TERMS 48
static unsigned recent_terms(const struct trainer *T, size_t t, uint32_t rows[RECENT_TERMS],
			     float w[RECENT_TERMS])
{
	size_t token = t - (t & 1), start = t / MATCH_BLOCK * MATCH_BLOCK;
	unsigned n = 0;

	for (; n < RECENT_TERMS && token >= start + 2; n++) {
		token -= 2;
		rows[n] = pf_net_recent_row(&T->shape, T->s[token] | (uint32_t)T->s[token + 1] << 8);
		w[n] = n ? w[n - 1] * (PF_NET_RECENT_DECAY / 256.0f) : 1.0f;
	}
	return n;
}

/* Embedding bag, projection, tanh, layer 2, tanh over the batch's nb
 * positions. */
static void forward(struct trainer *T, const struct view *V, unsigned nb)
{
	struct batch *B = &T->B;
	unsigned h1 = T->P.h1, h2 = T->P.h2, rank = T->P.rank, feats = T->P.feats;

	for (unsigned b = 0; b < nb; b++) {
		float *s = B->bag + (size_t)b * rank;

		memset(s, 0, rank * sizeof(float));
		for (unsigned f = 0; f < feats; f++) {
			const float *e = V->emb + (size_t)B->rows[b * feats + f] * rank;

			for (unsigned k = 0; k < rank; k++)
				s[k] += e[k];
		}
		if (T->shape.recent) {
			uint32_t rows[RECENT_TERMS];
			float w[RECENT_TERMS];
			unsigned n = recent_terms(T, B->pos[b], rows, w);

			for (unsigned i = 0; i < n; i++) {
				const float *e = V->emb + (size_t)rows[i] * rank;

				for (unsigned k = 0; k < rank; k++)
					s[k] += w[i] * e[k];
			}
		}
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)h1, (int)rank, 1.0f,
		    B->bag, (int)rank, V->pm, (int)rank, 0.0f, B->h1, (int)h1);
	for (unsigned b = 0; b < nb; b++) {
		float *a = B->h1 + (size_t)b * h1;

		for (unsigned i = 0; i < h1; i++)
			a[i] = tanhf(a[i] + V->b1[i]);
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)h2, (int)h1, 1.0f,
		    B->h1, (int)h1, V->w2, (int)h1, 0.0f, B->z, (int)h2);
	for (unsigned b = 0; b < nb; b++)
		for (unsigned j = 0; j < h2; j++)
			B->h2[b * h2 + j] = tanhf(B->z[b * h2 + j] + V->b2[j]);
}

static float dot(const float *a, const float *b, unsigned n)
{
	float s = 0;

	for (unsigned i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

/* Bits the batch's bytes cost; with G, also the output layer's gradients
 * and dh2 (scaled by 1/nb). */
static double output_layer(struct trainer *T, const struct view *V, const struct view *G,
			   unsigned nb)
{
	struct batch *B = &T->B;
	unsigned h2 = T->P.h2;
	double bits = 0;

	for (unsigned b = 0; b < nb; b++) {
		const float *h = B->h2 + (size_t)b * h2;
		const int8_t *cm_st = T->cm_st + B->pos[b] * 8;
		float *dh = B->dh2 + (size_t)b * h2;
		uint32_t base = pf_net_node_base(&T->shape, (uint32_t)B->pos[b]), c0 = 1;

		memset(dh, 0, h2 * sizeof(float));
		for (int k = 7; k >= 0; k--) {
			int bit = B->byte[b] >> k & 1;
			size_t node = base + c0;
			const float *v = V->v + node * h2;
			float z = V->u[node] + dot(v, h, h2) + NET_CM_SHARE * cm_st[7 - k];
			float p = 1.0f / (1.0f + expf(-z)), gz = (p - (float)bit) / (float)nb;

			bits -= log2(bit ? p + 1e-7 : 1 - p + 1e-7);
			if (G) {
				G->u[node] += gz;
				for (unsigned j = 0; j < h2; j++) {
					G->v[node * h2 + j] += gz * h[j];
					dh[j] += gz * v[j];
				}
			}
			c0 = c0 << 1 | (uint32_t)bit;
		}
	}
	return bits;
}

static void touch(struct batch *B, uint32_t row)
{
	if (!B->touched[row]) {
		B->touched[row] = 1;
		B->touched_list[B->n_touched++] = row;
	}
}

/* Back through layer 2, the projection and the embedding bag into G. */
static void backward(struct trainer *T, const struct view *V, const struct view *G,
		     unsigned nb)
{
	struct batch *B = &T->B;
	unsigned h1 = T->P.h1, h2 = T->P.h2, rank = T->P.rank, feats = T->P.feats;

	for (size_t i = 0; i < (size_t)nb * h2; i++) {
		B->dz[i] = B->dh2[i] * (1 - B->h2[i] * B->h2[i]);
		G->b2[i % h2] += B->dz[i];
	}
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)h2, (int)h1, (int)nb, 1.0f,
		    B->dz, (int)h2, B->h1, (int)h1, 0.0f, G->w2, (int)h1);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)h1, (int)h2, 1.0f,
		    B->dz, (int)h2, V->w2, (int)h1, 0.0f, B->dh1, (int)h1);
	for (unsigned b = 0; b < nb; b++) {
		float *da = B->dh1 + (size_t)b * h1;
		const float *h = B->h1 + (size_t)b * h1;

		for (unsigned i = 0; i < h1; i++) {
			da[i] *= 1 - h[i] * h[i];
			G->b1[i] += da[i];
		}
	}
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)h1, (int)rank, (int)nb, 1.0f,
		    B->dh1, (int)h1, B->bag, (int)rank, 0.0f, G->pm, (int)rank);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)rank, (int)h1, 1.0f,
		    B->dh1, (int)h1, V->pm, (int)rank, 0.0f, B->dbag, (int)rank);
	for (unsigned b = 0; b < nb; b++) {
		const float *ds = B->dbag + (size_t)b * rank;

		for (unsigned f = 0; f < feats; f++) {
			uint32_t row = B->rows[b * feats + f];
			float *ge = G->emb + (size_t)row * rank;

			touch(B, row);
			for (unsigned k = 0; k < rank; k++)
				ge[k] += ds[k];
		}
		if (T->shape.recent) {
			uint32_t rows[RECENT_TERMS];
			float w[RECENT_TERMS];
			unsigned n = recent_terms(T, B->pos[b], rows, w);

			for (unsigned i = 0; i < n; i++) {
				float *ge = G->emb + (size_t)rows[i] * rank;

				touch(B, rows[i]);
				for (unsigned k = 0; k < rank; k++)
					ge[k] += w[i] * ds[k];
			}
		}
	}
}

static void adam(float *p, float *g, float *m, float *v, size_t n, float lr, float limit)
{
	for (size_t i = 0; i < n; i++) {
		m[i] = ADAM_B1 * m[i] + (1 - ADAM_B1) * g[i];
		v[i] = ADAM_B2 * v[i] + (1 - ADAM_B2) * g[i] * g[i];
		p[i] -= lr * m[i] / (sqrtf(v[i]) + ADAM_EPS);
		p[i] = p[i] > limit ? limit : (p[i] < -limit ? -limit : p[i]);
		g[i] = 0;
	}
}

/* Adam on the dense part and on the embedding rows this batch touched
 * (lazily: a row's moments only decay when it is used). */
static void step(struct trainer *T, float lr)
{
	struct params *P = &T->P;
	struct batch *B = &T->B;
	size_t off = P->emb_n;

	for (size_t k = 0; k < B->n_touched; k++) {
		size_t at = (size_t)B->touched_list[k] * P->rank;

		adam(P->p + at, P->g + at, P->m + at, P->v + at, P->rank, lr, EMB_MAX);
		B->touched[B->touched_list[k]] = 0;
	}
	B->n_touched = 0;
	/* the dense part, within the coder's weight limit */
	adam(P->p + off, P->g + off, P->m + off, P->v + off, P->n - off, lr, W_MAX);
}

static void batch_load(struct trainer *T, const size_t *pos, unsigned nb)
{
	struct pf_net_ctx c;

	for (unsigned b = 0; b < nb; b++) {
		ctx_at(T, pos[b], &c);
		pf_net_rows(&T->shape, &c, T->B.rows + b * T->P.feats);
		T->B.byte[b] = T->s[pos[b]];
		T->B.pos[b] = pos[b];
	}
}

/* Bits per byte of the float network on the held-out positions. */
static double held_out_bpb(struct trainer *T)
{
	struct view V;
	size_t pos[NET_BATCH];
	double bits = 0;

	view_of(&T->P, T->P.p, &V);
	for (size_t t = T->n_train; t < T->n_all; t += NET_BATCH) {
		unsigned nb = T->n_all - t < NET_BATCH ? (unsigned)(T->n_all - t) : NET_BATCH;

		for (unsigned b = 0; b < nb; b++)
			pos[b] = t + b;
		batch_load(T, pos, nb);
		forward(T, &V, nb);
		bits += output_layer(T, &V, NULL, nb);
	}
	return T->n_all > T->n_train ? bits / (double)(T->n_all - T->n_train) : 0;
}

static void train_loop(struct trainer *T, const pf_model_train_opts *opts)
{
	size_t epochs = T->shape.tokens ? NET_EPOCHS_TOKENS : NET_EPOCHS;
	size_t steps = epochs * T->n_train / NET_BATCH + 1, pos[NET_BATCH];
	size_t report_every = steps / NET_REPORTS + 1;
	struct view V, G;
	double bits = 0;
	uint64_t seen = 0;

	view_of(&T->P, T->P.p, &V);
	view_of(&T->P, T->P.g, &G);
	for (size_t k = 0; k < steps; k++) {
		float lr = NET_LR * (1.0f - 0.9f * (float)k / (float)steps);
		float t = (float)(k + 1);

		for (unsigned b = 0; b < NET_BATCH; b++)
			pos[b] = rng_next(&T->rng) % T->n_train;
		batch_load(T, pos, NET_BATCH);
		forward(T, &V, NET_BATCH);
		bits += output_layer(T, &V, &G, NET_BATCH);
		seen += NET_BATCH;
		backward(T, &V, &G, NET_BATCH);
		/* Adam's bias correction folded into the step size */
		step(T, lr * sqrtf(1 - powf(ADAM_B2, t)) / (1 - powf(ADAM_B1, t)));
		if ((k + 1) % report_every == 0 || k + 1 == steps) {
			if (opts->loss)
				opts->loss(opts->loss_arg, k + 1, steps, bits / (double)seen,
					   held_out_bpb(T));
			bits = 0;
			seen = 0;
		}
	}
}

static int32_t quantise(float x, int shift, int32_t limit)
{
	float q = roundf(x * (float)(1 << shift));

	return q > (float)limit ? limit : (q < (float)-limit ? -limit : (int32_t)q);
}

/* Writes the float network into out as the coder's integers
 * (pf_net_layout()); out is malloc'd, so every part is aligned. */
static void quantise_into(const struct trainer *T, uint8_t *out)
{
	const struct params *P = &T->P;
	size_t off[PF_NET_PARTS + 1];
	int32_t *b1, *b2, *u;
	int16_t *w2, *v, *pm;
	int8_t *emb;
	struct view V;

	view_of(P, P->p, &V);
	pf_net_layout(&T->shape, off);
	b1 = (int32_t *)(out + off[PF_NET_B1]);
	b2 = (int32_t *)(out + off[PF_NET_B2]);
	u = (int32_t *)(out + off[PF_NET_U]);
	emb = (int8_t *)(out + off[PF_NET_EMB]);
	w2 = (int16_t *)(out + off[PF_NET_W2]);
	v = (int16_t *)(out + off[PF_NET_V]);
	pm = (int16_t *)(out + off[PF_NET_PM]);
	for (size_t i = 0; i < P->emb_n; i++)
		emb[i] = (int8_t)quantise(V.emb[i], PF_NET_EMB_SHIFT, 127);
	for (unsigned i = 0; i < P->h1; i++)
		b1[i] = quantise(V.b1[i], PF_NET_ONE_SHIFT, PF_NET_B_LIMIT);
	for (size_t i = 0; i < (size_t)P->h2 * P->h1; i++)
		w2[i] = (int16_t)quantise(V.w2[i], PF_NET_W_SHIFT, PF_NET_W_LIMIT);
	for (unsigned j = 0; j < P->h2; j++)
		b2[j] = quantise(V.b2[j], PF_NET_ONE_SHIFT + PF_NET_W_SHIFT, PF_NET_B_LIMIT);
	for (size_t i = 0; i < (size_t)P->nodes * P->h2; i++)
		v[i] = (int16_t)quantise(V.v[i], PF_NET_W_SHIFT, PF_NET_W_LIMIT);
	for (unsigned c = 0; c < P->nodes; c++)
		u[c] = quantise(V.u[c], PF_NET_ONE_SHIFT + PF_NET_W_SHIFT, PF_NET_B_LIMIT);
	for (size_t i = 0; i < (size_t)P->rank * P->h1; i++)
		pm[i] = (int16_t)quantise(V.pm[i], PF_NET_W_SHIFT, PF_NET_W_LIMIT);
}

int pf_net_train(const uint8_t *sample, size_t len, const int8_t *cm_st,
		 const struct pf_net_shape *shape, const pf_model_train_opts *opts,
		 uint8_t *out)
{
	struct trainer T;
	int rc = trainer_init(&T, sample, len, cm_st, shape);

	if (rc == 0) {
		params_init(&T);
		if (T.n_train) {
			state_index(&T);
			if (shape->match || shape->indirect)
				rc = block_index(&T);
			if (rc == 0)
				train_loop(&T, opts);
		}
		quantise_into(&T, out);
	}
	trainer_free(&T);
	return rc;
}
