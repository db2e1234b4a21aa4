/* SPDX-License-Identifier: MIT */
/*
 * model_mix.c - the per-bit path of the context-mixing model: the slot
 * predictors, the match model's prediction, integer squash/stretch, the
 * neural mixer and the APM/SSE stages.
 *
 * Probabilities are 12-bit (0..4095); the "stretch" domain is ln(p/(1-p))
 * scaled by 256 and clamped to +-2047. Mixer weights are 16.16 fixed point
 * and the dot product is summed in int64, so the result is identical on
 * every machine; the AVX2 kernels (mixers, slot updates; used when the CPU
 * has AVX2) do the same integer operations, and check_model compares them
 * with the scalar ones. The squash table holds the logistic at 33 points
 * (the exact values rounded to integers); everything else is derived from
 * it by integer code, so coding never calls libm.
 */
#include <pthread.h>
#include <stdlib.h>
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

/* 12-bit probability of the logistic of d/256, d clamped to +-2047,
 * interpolated between the 33 points: the definition squash_tab caches. */
static int squash_interp(int d)
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

/* squash_interp(d - 2047) for d in 0..4094: one load per call on the
 * per-bit path instead of the interpolation. */
static int16_t squash_tab[4095];

/* squash of a d already within +-2047 (the mixers clamp their outputs). */
static inline int squash_clamped(int d)
{
	return squash_tab[d + 2047];
}

int pf_cm_squash(int d)
{
	return squash_clamped(d > 2047 ? 2047 : (d < -2047 ? -2047 : d));
}

/* stretch(p) is the smallest d with squash(d) >= p: an exact integer
 * inverse over the whole 12-bit range. */
static void simd_detect(void);

static void tables_build(void)
{
	int pi = 0;

	simd_detect();
	for (int d = -2047; d <= 2047; d++) {
		int v = squash_interp(d);

		squash_tab[d + 2047] = (int16_t)v;
		for (int p = pi; p <= v; p++)
			pf_cm_stretch_tab[p] = (int16_t)d;
		pi = v + 1;
	}
	for (int p = pi; p < 4096; p++)
		pf_cm_stretch_tab[p] = 2047;
}

/* ---- kernels: scalar reference and AVX2 ------------------------------------ */

#define COUNT_LIMIT 15u
#define SURPRISE_ERR 3840
#define SURPRISE_COUNT 3

/* 65536 / (n + 1.5): the first hit moves a slot 2/3 of the way, later hits
 * average ever more slowly, down to 1/16.5 at the count limit. Listed once
 * and expanded as int32 for the scalar code and as low and high bytes for
 * the AVX2 byte shuffle. */
#define SLOT_RATES(X)                                                          \
	X(43691) X(26214) X(18725) X(14564) X(11916) X(10082) X(8738) X(7710) \
	X(6899) X(6242) X(5699) X(5243) X(4855) X(4520) X(4228) X(3972)
#define RATE_I32(r) r,
#define RATE_LO(r) (uint8_t)((r) & 255),
#define RATE_HI(r) (uint8_t)((r) >> 8),
static const int32_t slot_rate[16] = { SLOT_RATES(RATE_I32) };

/* A slot that was at least 15/16 sure and wrong forgets most of its count,
 * so it re-learns fast when its context changed meaning (-0.2..0.5%). Any
 * 16-bit value is a valid slot. */
static inline uint16_t slot_next(uint16_t s, int bit)
{
	int32_t p = s >> 4, n = s & 15, e = (bit ? 4095 : 0) - p;

	p += (e * slot_rate[n] + 0x8000) >> 16;
	n += n < (int32_t)COUNT_LIMIT;
	if ((e > SURPRISE_ERR || e < -SURPRISE_ERR) && n > SURPRISE_COUNT)
		n = SURPRISE_COUNT;
	return (uint16_t)(p << 4 | n);
}

void pf_cm_slots_update_scalar(uint16_t *v, unsigned n, int bit)
{
	for (unsigned i = 0; i < n; i++)
		v[i] = slot_next(v[i], bit);
}

/* The reference scalar dot products and training steps over PF_CM_MAX_IN
 * inputs (zero padded); the AVX2 versions below must give the same bits.
 * The three rows are distinct, so their order does not matter. */
void pf_cm_dot3_scalar(const int32_t *x, const int32_t *const w[3], int64_t dot[3])
{
	for (unsigned k = 0; k < 3; k++) {
		dot[k] = 0;
		for (unsigned i = 0; i < PF_CM_MAX_IN; i++)
			dot[k] += (int64_t)x[i] * w[k][i];
	}
}

/* w += round(x * err / 2^16), clamped; |x * err| < 2^31 by construction. */
static inline int32_t weight_step(int32_t w, int32_t x, int32_t err)
{
	int32_t v = w + ((x * err + 0x8000) >> 16);

	return v > PF_CM_WEIGHT_LIMIT ? PF_CM_WEIGHT_LIMIT
				      : (v < -PF_CM_WEIGHT_LIMIT ? -PF_CM_WEIGHT_LIMIT : v);
}

void pf_cm_train3_scalar(const int32_t *x, int32_t *const w[3], const int32_t err[3])
{
	for (unsigned k = 0; k < 3; k++)
		for (unsigned i = 0; i < PF_CM_MAX_IN; i++)
			w[k][i] = weight_step(w[k][i], x[i], err[k]);
}

void pf_cm_train_final_scalar(const int32_t *xf, int32_t *wf, int32_t err)
{
	for (unsigned i = 0; i < PF_CM_FINAL_IN; i++)
		wf[i] = weight_step(wf[i], xf[i], err);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* Integer SIMD is exact: the int64 lane sums equal the scalar sums. */
__attribute__((target("avx2"))) void pf_cm_dot3_avx2(const int32_t *x,
						     const int32_t *const w[3],
						     int64_t dot[3])
{
	const __m256i xa = _mm256_loadu_si256((const __m256i *)x);
	const __m256i xb = _mm256_loadu_si256((const __m256i *)(x + 8));
	const __m256i xa1 = _mm256_srli_epi64(xa, 32), xb1 = _mm256_srli_epi64(xb, 32);

#pragma GCC unroll 3
	for (unsigned k = 0; k < 3; k++) {
		__m256i wa = _mm256_loadu_si256((const __m256i *)w[k]);
		__m256i wb = _mm256_loadu_si256((const __m256i *)(w[k] + 8));
		/* mul_epi32 multiplies the even int32 lanes; the shifts bring
		 * the odd ones down */
		__m256i a = _mm256_add_epi64(_mm256_mul_epi32(xa, wa),
					     _mm256_mul_epi32(xa1, _mm256_srli_epi64(wa, 32)));
		__m256i b = _mm256_add_epi64(_mm256_mul_epi32(xb, wb),
					     _mm256_mul_epi32(xb1, _mm256_srli_epi64(wb, 32)));
		__m256i s = _mm256_add_epi64(a, b);
		__m128i h = _mm_add_epi64(_mm256_castsi256_si128(s),
					  _mm256_extracti128_si256(s, 1));

		dot[k] = _mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1);
	}
}

__attribute__((target("avx2"))) void pf_cm_train3_avx2(const int32_t *x,
						       int32_t *const w[3],
						       const int32_t err[3])
{
	const __m256i half = _mm256_set1_epi32(0x8000);
	const __m256i hi = _mm256_set1_epi32(PF_CM_WEIGHT_LIMIT);
	const __m256i lo = _mm256_set1_epi32(-PF_CM_WEIGHT_LIMIT);
	const __m256i xa = _mm256_loadu_si256((const __m256i *)x);
	const __m256i xb = _mm256_loadu_si256((const __m256i *)(x + 8));

#pragma GCC unroll 3
	for (unsigned k = 0; k < 3; k++) {
		const __m256i e = _mm256_set1_epi32(err[k]);
		__m256i *wp = (__m256i *)w[k];
		__m256i da = _mm256_srai_epi32(_mm256_add_epi32(_mm256_mullo_epi32(xa, e), half), 16);
		__m256i db = _mm256_srai_epi32(_mm256_add_epi32(_mm256_mullo_epi32(xb, e), half), 16);
		__m256i va = _mm256_add_epi32(_mm256_loadu_si256(wp), da);
		__m256i vb = _mm256_add_epi32(_mm256_loadu_si256(wp + 1), db);

		_mm256_storeu_si256(wp, _mm256_min_epi32(_mm256_max_epi32(va, lo), hi));
		_mm256_storeu_si256(wp + 1, _mm256_min_epi32(_mm256_max_epi32(vb, lo), hi));
	}
}

__attribute__((target("avx2"))) void pf_cm_train_final_avx2(const int32_t *xf, int32_t *wf,
							    int32_t err)
{
	__m128i d = _mm_mullo_epi32(_mm_loadu_si128((const __m128i *)xf), _mm_set1_epi32(err));
	__m128i v = _mm_add_epi32(_mm_loadu_si128((const __m128i *)wf),
				  _mm_srai_epi32(_mm_add_epi32(d, _mm_set1_epi32(0x8000)), 16));

	v = _mm_max_epi32(v, _mm_set1_epi32(-PF_CM_WEIGHT_LIMIT));
	_mm_storeu_si128((__m128i *)wf, _mm_min_epi32(v, _mm_set1_epi32(PF_CM_WEIGHT_LIMIT)));
}

/* slot_next on all PF_CM_LANES lanes in 16-bit arithmetic. e * rate (rate
 * up to 43691, so not a signed 16-bit number) is taken apart into the high
 * half mulhi(e, rate - 65536) + e and the low half; adding 0x8000 to the low
 * half carries one into the high half exactly when the low half is >= 2^15.
 * The rate is looked up by count with a byte shuffle, low and high byte
 * apart (0x80 in the index's high byte zeroes it). */
__attribute__((target("avx2"))) void pf_cm_slots_update_avx2(uint16_t *v, unsigned n,
							     int bit)
{
	static const uint8_t rate_lo[16] = { SLOT_RATES(RATE_LO) };
	static const uint8_t rate_hi[16] = { SLOT_RATES(RATE_HI) };
	const __m256i rlo = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)rate_lo));
	const __m256i rhi = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)rate_hi));
	__m256i s = _mm256_loadu_si256((const __m256i *)v);
	__m256i p = _mm256_srli_epi16(s, 4);
	__m256i cnt = _mm256_and_si256(s, _mm256_set1_epi16(15));
	__m256i e = _mm256_sub_epi16(_mm256_set1_epi16(bit ? 4095 : 0), p);
	__m256i idx = _mm256_or_si256(cnt, _mm256_set1_epi16((short)0x8000));
	__m256i r = _mm256_or_si256(_mm256_shuffle_epi8(rlo, idx),
				    _mm256_slli_epi16(_mm256_shuffle_epi8(rhi, idx), 8));
	__m256i prod_hi = _mm256_add_epi16(_mm256_mulhi_epi16(e, r),
					   _mm256_and_si256(e, _mm256_srai_epi16(r, 15)));
	__m256i carry = _mm256_srli_epi16(_mm256_mullo_epi16(e, r), 15);
	__m256i surprise;

	(void)n; /* every lane is a valid slot: the ones past n are rewritten too */
	p = _mm256_add_epi16(p, _mm256_add_epi16(prod_hi, carry));
	cnt = _mm256_sub_epi16(cnt, _mm256_cmpgt_epi16(_mm256_set1_epi16(COUNT_LIMIT), cnt));
	surprise = _mm256_and_si256(
		_mm256_cmpgt_epi16(_mm256_abs_epi16(e), _mm256_set1_epi16(SURPRISE_ERR)),
		_mm256_cmpgt_epi16(cnt, _mm256_set1_epi16(SURPRISE_COUNT)));
	cnt = _mm256_blendv_epi8(cnt, _mm256_set1_epi16(SURPRISE_COUNT), surprise);
	_mm256_storeu_si256((__m256i *)v, _mm256_or_si256(_mm256_slli_epi16(p, 4), cnt));
}

bool pf_cm_simd_avx2;

static void simd_detect(void)
{
	pf_cm_simd_avx2 = __builtin_cpu_supports("avx2") && !getenv("PF_CM_SCALAR");
}

void pf_cm_simd_force_scalar(bool scalar)
{
	pf_cm_tables_init();
	pf_cm_simd_avx2 = !scalar && __builtin_cpu_supports("avx2");
}

#define DOT3(x, w, d) \
	(pf_cm_simd_avx2 ? pf_cm_dot3_avx2(x, w, d) : pf_cm_dot3_scalar(x, w, d))
#define TRAIN3(x, w, e) \
	(pf_cm_simd_avx2 ? pf_cm_train3_avx2(x, w, e) : pf_cm_train3_scalar(x, w, e))
#define TRAIN_FINAL(x, w, e) \
	(pf_cm_simd_avx2 ? pf_cm_train_final_avx2(x, w, e) : pf_cm_train_final_scalar(x, w, e))
#define SLOTS(v, n, b) \
	(pf_cm_simd_avx2 ? pf_cm_slots_update_avx2(v, n, b) : pf_cm_slots_update_scalar(v, n, b))
#else
bool pf_cm_simd_avx2;

static void simd_detect(void)
{
}

void pf_cm_simd_force_scalar(bool scalar)
{
	(void)scalar;
	pf_cm_tables_init();
}

#define DOT3(x, w, d) pf_cm_dot3_scalar(x, w, d)
#define TRAIN3(x, w, e) pf_cm_train3_scalar(x, w, e)
#define TRAIN_FINAL(x, w, e) pf_cm_train_final_scalar(x, w, e)
#define SLOTS(v, n, b) pf_cm_slots_update_scalar(v, n, b)
#endif

/* ---- mixer ---------------------------------------------------------------- */

/* The final mixer learns more slowly than the first layer (lpaq-style
 * 2-layer mixing; its rate within 2..6 measured the same). */
#define FINAL_LR 6

/* A dot product in the stretch domain. |dot| < 16 * 2^11 * 2^24, so
 * dot >> 16 fits in 32 bits, where the clamp compiles to conditional moves
 * (the sign of a mixer output is a coin flip for a branch predictor). */
static inline int mix_clamp(int64_t dot)
{
	int32_t d = (int32_t)(dot >> 16);

	d = d > 2047 ? 2047 : d;
	return d < -2047 ? -2047 : d;
}

static inline int32_t *row(const pf_cm *cm, unsigned r)
{
	return cm->w + (size_t)r * PF_CM_MAX_IN;
}

/* Three mixers over the same inputs, their weights selected by different
 * contexts (the partial byte; the match state and the previous byte; how
 * many low-order contexts were seen before, the bit position and the phase
 * in a short stride), then a final mixer by bit position over their three
 * outputs and a bias (-1..3% size against averaging two mixers). The final
 * row's other inputs are zero, so four products are its whole sum. */
static int mix_predict(pf_cm *cm)
{
	const int32_t *w[3] = { row(cm, cm->set), row(cm, PF_CM_ROW2 + cm->set2),
				row(cm, PF_CM_ROW3 + cm->set3) };
	const int32_t *wf = row(cm, PF_CM_ROWF + cm->bitpos);
	int64_t dot[3], df;
	int32_t *xf = cm->xf;

	DOT3(cm->x, w, dot);
	xf[0] = mix_clamp(dot[0]);
	xf[1] = mix_clamp(dot[1]);
	xf[2] = mix_clamp(dot[2]);
	xf[3] = 256;
	cm->pr_mix1 = squash_clamped(xf[0]);
	cm->pr_mix2 = squash_clamped(xf[1]);
	cm->pr_mix3 = squash_clamped(xf[2]);
	df = (int64_t)xf[0] * wf[0] + (int64_t)xf[1] * wf[1] + (int64_t)xf[2] * wf[2] +
	     (int64_t)xf[3] * wf[3];
	cm->pr_final = squash_clamped(mix_clamp(df));
	return cm->pr_final;
}

/* Online gradient step on coding cost: dw = x * err * lr / 2^16, which is
 * a learning rate of lr/4096 in float terms (lpaq1 uses about 7). */
static void mix_update(pf_cm *cm, int bit)
{
	int32_t *w[3] = { row(cm, cm->set), row(cm, PF_CM_ROW2 + cm->set2),
			  row(cm, PF_CM_ROW3 + cm->set3) };
	int32_t *wf = row(cm, PF_CM_ROWF + cm->bitpos), lr = (int32_t)cm->cfg.lr;
	int32_t err[3] = { ((bit << 12) - cm->pr_mix1) * lr, ((bit << 12) - cm->pr_mix2) * lr,
			   ((bit << 12) - cm->pr_mix3) * lr };
	int32_t errf = ((bit << 12) - cm->pr_final) * FINAL_LR;

	TRAIN3(cm->x, w, err);
	TRAIN_FINAL(cm->xf, wf, errf);
}

void pf_cm_tables_init(void)
{
	pthread_once(&tables_once, tables_build);
}

/* ---- APM / SSE ------------------------------------------------------------ */

/* Maps a probability through one row of 33 16-bit probabilities,
 * interpolating between the two points around its stretch st (the caller
 * computes it once for both APMs); *idx gets the nearer point, the one the
 * update moves. Any u16 contents give a valid 12-bit result. */
static inline int apm_predict(const uint16_t *row, int st, unsigned *idx)
{
	int s = st + 2048;
	int lo = s >> 7, w = s & 127;
	int p = (row[lo] * (128 - w) + row[lo + 1] * w) >> 11;

	*idx = (unsigned)(lo + (w >> 6));
	p = p < 1 ? 1 : p;
	return p > 4095 ? 4095 : p;
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
		row[j] = (uint16_t)(squash_interp((j - 16) * 128) * 16);
	for (size_t c = 0; c < n_ctx; c++)
		memcpy(t + c * PF_CM_APM_ROWS, row, sizeof(row));
}

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

/* Reads this bit's slot of every context into sv (the update rewrites
 * them there) and its stretch into x; returns how many of the low-order
 * contexts were seen before. Inlined per level so that the loops over the
 * contexts unroll. (AVX2 gathers instead: 8% fewer instructions, 30%
 * slower on the Zen 4 this was measured on.) */
static inline __attribute__((always_inline)) unsigned
slots_read_n(pf_cm *cm, uint32_t nib, unsigned n)
{
	const uint16_t *tab = cm->tab;
	const uint32_t *bucket = cm->bucket;
	uint16_t *sv = cm->sv;
	int32_t *x = cm->x;
	unsigned seen = 0;

#pragma GCC unroll 16
	for (unsigned i = 0; i < n; i++) {
		uint16_t v = tab[bucket[i] + nib];

		sv[i] = v;
		x[i] = pf_cm_stretch(v >> 4);
		if (i < PF_CM_FAST_CTX)
			seen += (v & 15) != 0;
	}
	return seen;
}

static unsigned slots_read(pf_cm *cm, uint32_t nib)
{
	switch (cm->cfg.n_ctx) {
	case PF_CM_DEFAULT_CTX: return slots_read_n(cm, nib, PF_CM_DEFAULT_CTX);
	case PF_CM_FAST_CTX: return slots_read_n(cm, nib, PF_CM_FAST_CTX);
	default: return slots_read_n(cm, nib, cm->cfg.n_ctx);
	}
}

static inline __attribute__((always_inline)) void
slots_write_n(pf_cm *cm, unsigned n)
{
	const uint32_t *bucket = cm->bucket, nib = cm->nib;
	const uint16_t *sv = cm->sv;
	uint16_t *tab = cm->tab;

#pragma GCC unroll 16
	for (unsigned i = 0; i < n; i++)
		tab[bucket[i] + nib] = sv[i];
}

/* Writes the updated context slots back (see slots_read): the buckets and
 * the nibble are still those of the prediction. */
static void slots_write(pf_cm *cm)
{
	switch (cm->cfg.n_ctx) {
	case PF_CM_DEFAULT_CTX: slots_write_n(cm, PF_CM_DEFAULT_CTX); break;
	case PF_CM_FAST_CTX: slots_write_n(cm, PF_CM_FAST_CTX); break;
	default: slots_write_n(cm, cm->cfg.n_ctx); break;
	}
}

int pf_cm_predict(pf_cm *cm)
{
	unsigned n = cm->cfg.n_ctx, bp = cm->bitpos, seen;
	uint32_t c0 = cm->c0, a2 = 0;
	int p, st;

	/* APM 2's row (270 KB of them: an L1 miss) is known now but read only
	 * at the end of the chain from slots to mixers: fetched from here,
	 * it waits beside that work (+4..5% decode speed at level default).
	 * Its 66 bytes may span two cache lines. */
	if (cm->cfg.apm2_bits) {
		const uint16_t *row2;

		a2 = (cm->apm2_base ^ c0 * 0x2F0B3C4DU) >> (32 - cm->cfg.apm2_bits);
		row2 = cm->apm2 + (size_t)a2 * PF_CM_APM_ROWS;
		__builtin_prefetch(row2);
		__builtin_prefetch(row2 + PF_CM_APM_ROWS - 1);
	}
	seen = slots_read(cm, cm->nib);
	cm->set3 = (seen * 8 + bp) * 4 + cm->phase;
	match_predict(cm, cm->x + n);
	cm->x[n + 2] = 256;
	if (cm->net)
		cm->x[n + 3] = pf_net_logit(cm->net, &cm->net_ctx, cm->net_h2, c0);
	cm->set = c0;
	/* match state: none, or the length bucket / 8 and the expected bit */
	if (cm->mm_bit < 0) {
		cm->set2 = cm->c4 & 255;
	} else {
		cm->sv[n] = (cm->mm_from_dict ? cm->dm_sm : cm->mm_sm)[cm->mm_idx];
		cm->set2 = (1 + (cm->mm_idx >> 4) * 2 + (cm->mm_idx & 1)) << 8 | (cm->c4 & 255);
	}
	p = mix_predict(cm);
	st = pf_cm_stretch(p);
	if (cm->cfg.apm2_bits) {
		int p1 = apm_predict(cm->apm1 + c0 * PF_CM_APM_ROWS, st, &cm->apm1_idx);
		int p2 = apm_predict(cm->apm2 + (size_t)a2 * PF_CM_APM_ROWS, st,
					   &cm->apm2_idx);

		cm->apm1_idx += c0 * PF_CM_APM_ROWS;
		cm->apm2_idx += a2 * PF_CM_APM_ROWS;
		p = (p + p1 + 2 * p2 + 2) >> 2;
	} else {
		int p1 = apm_predict(cm->apm1 + c0 * PF_CM_APM_ROWS, st, &cm->apm1_idx);

		cm->apm1_idx += c0 * PF_CM_APM_ROWS;
		p = (p + 3 * p1 + 2) >> 2;
	}
	cm->pr = p < 1 ? 1 : (p > 4095 ? 4095 : p);
	return cm->pr;
}

/* The slots of this bit (the contexts' and the match's) are distinct, so
 * they update side by side in sv and are written back. */
void pf_cm_update(pf_cm *cm, int bit)
{
	unsigned n = cm->cfg.n_ctx;

	SLOTS(cm->sv, n + (cm->mm_bit >= 0), bit);
	slots_write(cm);
	if (cm->mm_bit >= 0)
		(cm->mm_from_dict ? cm->dm_sm : cm->mm_sm)[cm->mm_idx] = cm->sv[n];
	mix_update(cm, bit);
	apm_update(cm->apm1, cm->apm1_idx, bit);
	if (cm->cfg.apm2_bits)
		apm_update(cm->apm2, cm->apm2_idx, bit);
	cm->c0 = cm->c0 << 1 | (uint32_t)bit;
	cm->nib = cm->nib << 1 | (uint32_t)bit;
	if (++cm->bitpos == 8)
		pf_cm_byte_update(cm);
	else if (cm->bitpos == 4)
		pf_cm_nibble_update(cm);
}
