/* SPDX-License-Identifier: MIT */
/*
 * model_mix.c - the per-bit path of the context-mixing model: the slot
 * predictors, the match model's prediction, integer squash/stretch, the
 * neural mixer and the APM/SSE stages.
 *
 * Probabilities are 12-bit (0..4095); the "stretch" domain is ln(p/(1-p))
 * scaled by 256 and clamped to +-2047. Mixer weights are 16.16 fixed point
 * and the dot product is summed in int64, so the result is identical on
 * every machine; the AVX2 kernels (used when the CPU has AVX2) do the same
 * integer operations, and check_model compares them with the scalar ones. The squash table holds the logistic at 33 points (the exact
 * values rounded to integers); everything else is derived from it by integer
 * code, so coding never calls libm.
 */
#include <pthread.h>
#include <string.h>

#include "model/model_int.h"

/* 4096 / (1 + exp(-x / 256)) at x = -2048, -1920, ..., 2048, rounded. */
static const int16_t squash_points[33] = {
	1,    2,    3,    6,    10,   16,   27,   45,   73,   120,  194,
	310,  488,  747,  1101, 1546, 2047, 2549, 2994, 3348, 3607, 3785,
	3901, 3975, 4024, 4050, 4068, 4079, 4085, 4089, 4092, 4093, 4094
};

int16_t pf_cm_stretch_tab[4096];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* 12-bit probability of the logistic of d/256, d clamped to +-2047. */
static inline int squash(int d)
{
	int w;

	if (d > 2047)
		d = 2047;
	if (d < -2047)
		d = -2047;
	w = d & 127;
	d = (d >> 7) + 16;
	return (squash_points[d] * (128 - w) + squash_points[d + 1] * w + 64) >> 7;
}

int pf_cm_squash(int d)
{
	return squash(d);
}

/* stretch(p) is the smallest d with squash(d) >= p: an exact integer
 * inverse over the whole 12-bit range. */
static void simd_detect(void);

static void tables_build(void)
{
	int pi = 0;

	simd_detect();
	for (int d = -2047; d <= 2047; d++) {
		int v = squash(d);

		for (int p = pi; p <= v; p++)
			pf_cm_stretch_tab[p] = (int16_t)d;
		pi = v + 1;
	}
	for (int p = pi; p < 4096; p++)
		pf_cm_stretch_tab[p] = 2047;
}


/* ---- mixer ---------------------------------------------------------------- */

/* The reference scalar dot product and training step over PF_CM_MAX_IN
 * inputs (zero padded); the AVX2 versions below must give the same bits. */
int64_t pf_cm_dot_scalar(const int32_t *x, const int32_t *w)
{
	int64_t dot = 0;

	for (unsigned i = 0; i < PF_CM_MAX_IN; i++)
		dot += (int64_t)x[i] * w[i];
	return dot;
}

/* w += round(x * err / 2^16), clamped; |x * err| < 2^31 by construction. */
void pf_cm_train_scalar(const int32_t *x, int32_t *w, int32_t err)
{
	for (unsigned i = 0; i < PF_CM_MAX_IN; i++) {
		int32_t v = w[i] + ((x[i] * err + 0x8000) >> 16);

		w[i] = v > PF_CM_WEIGHT_LIMIT ? PF_CM_WEIGHT_LIMIT
					      : (v < -PF_CM_WEIGHT_LIMIT ? -PF_CM_WEIGHT_LIMIT : v);
	}
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* Integer SIMD is exact: the int64 lane sums equal the scalar sum. */
__attribute__((target("avx2"))) int64_t pf_cm_dot_avx2(const int32_t *x, const int32_t *w)
{
	__m256i acc = _mm256_setzero_si256();

	for (unsigned i = 0; i < PF_CM_MAX_IN; i += 8) {
		__m256i a = _mm256_loadu_si256((const __m256i *)(x + i));
		__m256i b = _mm256_loadu_si256((const __m256i *)(w + i));

		acc = _mm256_add_epi64(acc, _mm256_mul_epi32(a, b)); /* even lanes */
		acc = _mm256_add_epi64(acc, _mm256_mul_epi32(_mm256_srli_epi64(a, 32),
							      _mm256_srli_epi64(b, 32)));
	}
	return _mm256_extract_epi64(acc, 0) + _mm256_extract_epi64(acc, 1) +
	       _mm256_extract_epi64(acc, 2) + _mm256_extract_epi64(acc, 3);
}

__attribute__((target("avx2"))) void pf_cm_train_avx2(const int32_t *x, int32_t *w,
						      int32_t err)
{
	const __m256i e = _mm256_set1_epi32(err), half = _mm256_set1_epi32(0x8000);
	const __m256i hi = _mm256_set1_epi32(PF_CM_WEIGHT_LIMIT);
	const __m256i lo = _mm256_set1_epi32(-PF_CM_WEIGHT_LIMIT);

	for (unsigned i = 0; i < PF_CM_MAX_IN; i += 8) {
		__m256i a = _mm256_loadu_si256((const __m256i *)(x + i));
		__m256i v = _mm256_loadu_si256((const __m256i *)(w + i));
		__m256i d = _mm256_srai_epi32(_mm256_add_epi32(_mm256_mullo_epi32(a, e), half), 16);

		v = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(v, d), lo), hi);
		_mm256_storeu_si256((__m256i *)(w + i), v);
	}
}

static bool use_avx2;

static void simd_detect(void)
{
	use_avx2 = __builtin_cpu_supports("avx2");
}
#define DOT(x, w) (use_avx2 ? pf_cm_dot_avx2(x, w) : pf_cm_dot_scalar(x, w))
#define TRAIN(x, w, e) (use_avx2 ? pf_cm_train_avx2(x, w, e) : pf_cm_train_scalar(x, w, e))
#else
static void simd_detect(void)
{
}
#define DOT(x, w) pf_cm_dot_scalar(x, w)
#define TRAIN(x, w, e) pf_cm_train_scalar(x, w, e)
#endif

/* The final mixer learns more slowly than the first layer (lpaq-style
 * 2-layer mixing; its rate within 2..6 measured the same). */
#define FINAL_LR 6

/* One weight row's dot product with x, in the stretch domain. */
static int mix_dot(const int32_t *x, const int32_t *w)
{
	int64_t dot = DOT(x, w) >> 16;

	return dot > 2047 ? 2047 : (dot < -2047 ? -2047 : (int)dot);
}

static const int32_t *row(const pf_cm *cm, unsigned r)
{
	return cm->w + (size_t)r * PF_CM_MAX_IN;
}

/* Three mixers over the same inputs, their weights selected by different
 * contexts (the partial byte; the match state and the previous byte; how
 * many low-order contexts were seen before, the bit position and the phase
 * in a short stride), then a final mixer by bit position over their three
 * outputs (-1..3% size against averaging two mixers). */
static int mix_predict(pf_cm *cm)
{
	int d1 = mix_dot(cm->x, row(cm, cm->set));
	int d2 = mix_dot(cm->x, row(cm, PF_CM_ROW2 + cm->set2));
	int d3 = mix_dot(cm->x, row(cm, PF_CM_ROW3 + cm->set3));

	cm->pr_mix1 = squash(d1);
	cm->pr_mix2 = squash(d2);
	cm->pr_mix3 = squash(d3);
	cm->xf[0] = d1;
	cm->xf[1] = d2;
	cm->xf[2] = d3;
	cm->xf[3] = 256;
	cm->pr_final = squash(mix_dot(cm->xf, row(cm, PF_CM_ROWF + cm->bitpos)));
	return cm->pr_final;
}

/* Online gradient step on coding cost: dw = x * err * lr / 2^16, which is
 * a learning rate of lr/4096 in float terms (lpaq1 uses about 7). */
static void mix_update(pf_cm *cm, const int32_t *x, unsigned r, int pr, int lr,
		       int bit)
{
	TRAIN(x, cm->w + (size_t)r * PF_CM_MAX_IN, ((bit << 12) - pr) * lr);
}

void pf_cm_tables_init(void)
{
	pthread_once(&tables_once, tables_build);
}

/* ---- APM / SSE ------------------------------------------------------------ */

/* Maps pr through one row of 33 16-bit probabilities, interpolating
 * between the two points around stretch(pr); *idx gets the nearer point,
 * the one the update moves. Any u16 contents give a valid 12-bit result. */
static int apm_predict(const uint16_t *row, int pr, unsigned *idx)
{
	int s = pf_cm_stretch(pr) + 2048;
	int lo = s >> 7, w = s & 127;
	int p = (row[lo] * (128 - w) + row[lo + 1] * w) >> 11;

	*idx = (unsigned)(lo + (w >> 6));
	if (p < 1)
		p = 1;
	if (p > 4095)
		p = 4095;
	return p;
}

static void apm_update(uint16_t *t, unsigned idx, int bit)
{
	int v = t[idx];

	v += ((bit ? 65535 : 0) - v) >> 6;
	t[idx] = (uint16_t)v;
}

/* Identity rows: the APM starts by passing the probability through. */
void pf_cm_apm_init(uint16_t *t, size_t n_ctx)
{
	uint16_t row[PF_CM_APM_ROWS];

	for (int j = 0; j < PF_CM_APM_ROWS; j++)
		row[j] = (uint16_t)(squash((j - 16) * 128) * 16);
	for (size_t c = 0; c < n_ctx; c++)
		memcpy(t + c * PF_CM_APM_ROWS, row, sizeof(row));
}

#define COUNT_LIMIT 15u
#define SURPRISE_ERR 3840
#define SURPRISE_COUNT 3

/* 65536 / (n + 1.5): the first hit moves a slot 2/3 of the way, later hits
 * average ever more slowly, down to 1/16.5 at the count limit. */
static const int32_t slot_rate[16] = {
	43691, 26214, 18725, 14564, 11916, 10082, 8738, 7710,
	6899,  6242,  5699,  5243,  4855,  4520,  4228, 3972,
};

/* ---- per bit ------------------------------------------------------------- */

static inline unsigned len_bucket(uint32_t len)
{
	return len < 16 ? len : (len < 136 ? 16 + ((len - 16) >> 3) : 31);
}

/* True when the predicted byte pb starts with the bp bits of c0 so far. */
static inline bool match_agrees(uint32_t pb, uint32_t bp, uint32_t c0)
{
	return ((pb | 256) >> (8 - bp)) == c0;
}

/* Drops the in-block and the slice match where the byte so far left them,
 * then sets the two match inputs from the longer one (the in-block match on
 * a tie), each source with its own strengths; zero when neither covers
 * this bit. */
static void match_predict(pf_cm *cm, int32_t *x)
{
	uint32_t pb, len, bp = cm->bitpos;
	int bit, strength;

	cm->mm_bit = -1;
	x[0] = x[1] = 0;
	if (cm->mm_len && !match_agrees(cm->buf[cm->mm_ptr], bp, cm->c0))
		cm->mm_len = 0; /* the byte left the match: wait for a new one */
	if (cm->dm_len && !match_agrees(cm->dict->bytes[cm->dm_ptr], bp, cm->c0))
		cm->dm_len = 0;
	cm->mm_from_dict = cm->dm_len > cm->mm_len;
	len = cm->mm_from_dict ? cm->dm_len : cm->mm_len;
	if (!len)
		return;
	pb = cm->mm_from_dict ? cm->dict->bytes[cm->dm_ptr] : cm->buf[cm->mm_ptr];
	bit = (pb >> (7 - bp)) & 1;
	cm->mm_bit = bit;
	cm->mm_idx = len_bucket(len) * 2 + (unsigned)bit;
	x[0] = pf_cm_stretch((cm->mm_from_dict ? cm->dm_sm : cm->mm_sm)[cm->mm_idx] >> 4);
	strength = (int)(len < 32 ? len : 32) * 32;
	x[1] = bit ? strength : -strength;
}

int pf_cm_predict(pf_cm *cm)
{
	unsigned n = cm->cfg.n_ctx, bp = cm->bitpos;
	uint32_t nib = bp < 4 ? cm->c0 : (cm->c0 & ((1U << (bp - 4)) - 1)) | 1U << (bp - 4);
	unsigned seen = 0;
	int p;

	for (unsigned i = 0; i < n; i++) {
		uint16_t v = cm->tab[cm->slot[i] = cm->bucket[i] + nib];

		cm->x[i] = pf_cm_stretch(v >> 4);
		if (i < PF_CM_FAST_CTX)
			seen += (v & 15) != 0;
	}
	cm->set3 = (seen * 8 + bp) * 4 + cm->phase;
	match_predict(cm, cm->x + n);
	cm->x[n + 2] = 256;
	cm->set = cm->c0;
	/* match state: none, or the length bucket / 8 and the expected bit */
	cm->set2 = (cm->mm_bit < 0 ? 0 : 1 + (cm->mm_idx >> 4) * 2 + (cm->mm_idx & 1)) << 8 |
		   (cm->c4 & 255);
	p = mix_predict(cm);
	if (cm->cfg.apm2_bits) {
		uint32_t a2 = (cm->apm2_base ^ cm->c0 * 0x2F0B3C4DU) >> (32 - cm->cfg.apm2_bits);
		int p1 = apm_predict(cm->apm1 + cm->c0 * PF_CM_APM_ROWS, p, &cm->apm1_idx);
		int p2 = apm_predict(cm->apm2 + (size_t)a2 * PF_CM_APM_ROWS, p,
					   &cm->apm2_idx);

		cm->apm1_idx += cm->c0 * PF_CM_APM_ROWS;
		cm->apm2_idx += a2 * PF_CM_APM_ROWS;
		p = (p + p1 + 2 * p2 + 2) >> 2;
	} else {
		int p1 = apm_predict(cm->apm1 + cm->c0 * PF_CM_APM_ROWS, p, &cm->apm1_idx);

		cm->apm1_idx += cm->c0 * PF_CM_APM_ROWS;
		p = (p + 3 * p1 + 2) >> 2;
	}
	cm->pr = p < 1 ? 1 : (p > 4095 ? 4095 : p);
	return cm->pr;
}

/* A slot that was at least 15/16 sure and wrong forgets most of its count,
 * so it re-learns fast when its context changed meaning (-0.2..0.5%). */
static inline void slot_update(uint16_t *s, int bit)
{
	int32_t v = *s, p = v >> 4, n = v & 15, e = (bit ? 4095 : 0) - p;

	p += (e * slot_rate[n] + 0x8000) >> 16;
	n += n < (int32_t)COUNT_LIMIT;
	if ((e > SURPRISE_ERR || e < -SURPRISE_ERR) && n > SURPRISE_COUNT)
		n = SURPRISE_COUNT;
	*s = (uint16_t)(p << 4 | n);
}

void pf_cm_update(pf_cm *cm, int bit)
{
	int lr = (int)cm->cfg.lr;

	for (unsigned i = 0; i < cm->cfg.n_ctx; i++)
		slot_update(cm->tab + cm->slot[i], bit);
	if (cm->mm_bit >= 0)
		slot_update((cm->mm_from_dict ? cm->dm_sm : cm->mm_sm) + cm->mm_idx, bit);
	mix_update(cm, cm->x, cm->set, cm->pr_mix1, lr, bit);
	mix_update(cm, cm->x, PF_CM_ROW2 + cm->set2, cm->pr_mix2, lr, bit);
	mix_update(cm, cm->x, PF_CM_ROW3 + cm->set3, cm->pr_mix3, lr, bit);
	mix_update(cm, cm->xf, PF_CM_ROWF + cm->bitpos, cm->pr_final, FINAL_LR, bit);
	apm_update(cm->apm1, cm->apm1_idx, bit);
	if (cm->cfg.apm2_bits)
		apm_update(cm->apm2, cm->apm2_idx, bit);
	cm->c0 = cm->c0 << 1 | (uint32_t)bit;
	if (++cm->bitpos == 8)
		pf_cm_byte_update(cm);
	else if (cm->bitpos == 4)
		pf_cm_nibble_update(cm);
}
