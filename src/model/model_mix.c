/* SPDX-License-Identifier: MIT */
/*
 * model_mix.c - the per-bit path of the context-mixing model: the slot
 * predictors, the match model's prediction, integer squash/stretch, the
 * neural mixer and the APM/SSE stages.
 *
 * Probabilities are 12-bit (0..4095); the "stretch" domain is ln(p/(1-p))
 * scaled by 256 and clamped to +-2047. Mixer weights are 16.16 fixed point
 * and the dot product is summed in int64, so the result is identical on
 * every machine. The squash table holds the logistic at 33 points (the exact
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

/* stretch(p) is the smallest d with squash(d) >= p: an exact integer
 * inverse over the whole 12-bit range. */
static void tables_build(void)
{
	int pi = 0;

	for (int d = -2047; d <= 2047; d++) {
		int v = squash(d);

		for (int p = pi; p <= v; p++)
			pf_cm_stretch_tab[p] = (int16_t)d;
		pi = v + 1;
	}
	for (int p = pi; p < 4096; p++)
		pf_cm_stretch_tab[p] = 2047;
}

void pf_cm_tables_init(void)
{
	pthread_once(&tables_once, tables_build);
}

/* ---- mixer ---------------------------------------------------------------- */

static int pf_cm_mix_predict(pf_cm *cm)
{
	const int32_t *w = cm->w + (size_t)cm->set * PF_CM_MAX_IN;
	int64_t dot = 0;

	/* a fixed count of 16 (zero padded) lets the compiler vectorise */
	for (unsigned i = 0; i < PF_CM_MAX_IN; i++)
		dot += (int64_t)cm->x[i] * w[i];
	dot >>= 16;
	if (dot > 2047)
		dot = 2047;
	if (dot < -2047)
		dot = -2047;
	cm->pr_mix = squash((int)dot);
	return cm->pr_mix;
}

/* Online gradient step on coding cost: dw = x * err * lr / 2^16, which is
 * a learning rate of lr/4096 in float terms (lpaq1 uses about 7). */
static void pf_cm_mix_update(pf_cm *cm, int bit)
{
	int32_t *w = cm->w + (size_t)cm->set * PF_CM_MAX_IN;
	int32_t err = ((bit << 12) - cm->pr_mix) * (int32_t)cm->cfg.lr;

	for (unsigned i = 0; i < PF_CM_MAX_IN; i++) {
		int32_t v = w[i] + ((cm->x[i] * err + 0x8000) >> 16);

		if (v > PF_CM_WEIGHT_LIMIT)
			v = PF_CM_WEIGHT_LIMIT;
		if (v < -PF_CM_WEIGHT_LIMIT)
			v = -PF_CM_WEIGHT_LIMIT;
		w[i] = v;
	}
}

/* ---- APM / SSE ------------------------------------------------------------ */

/* Maps pr through one row of 33 16-bit probabilities, interpolating
 * between the two points around stretch(pr); *idx gets the nearer point,
 * the one the update moves. Any u16 contents give a valid 12-bit result. */
static int pf_cm_apm_predict(const uint16_t *row, int pr, unsigned *idx)
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

static void pf_cm_apm_update(uint16_t *t, unsigned idx, int bit)
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

/* Sets the two match inputs, or zeroes them when no match covers this bit. */
static void match_predict(pf_cm *cm, int32_t *x)
{
	uint32_t pb, bp = cm->bitpos;
	int bit, strength;

	cm->mm_bit = -1;
	x[0] = x[1] = 0;
	if (!cm->mm_len)
		return;
	pb = cm->buf[cm->mm_ptr];
	if (((pb | 256) >> (8 - bp)) != cm->c0) {
		cm->mm_len = 0; /* the byte left the match: wait for a new one */
		return;
	}
	bit = (pb >> (7 - bp)) & 1;
	cm->mm_bit = bit;
	cm->mm_idx = len_bucket(cm->mm_len) * 2 + (unsigned)bit;
	x[0] = pf_cm_stretch(cm->mm_sm[cm->mm_idx] >> 4);
	strength = (int)(cm->mm_len < 32 ? cm->mm_len : 32) * 32;
	x[1] = bit ? strength : -strength;
}

int pf_cm_predict(pf_cm *cm)
{
	unsigned n = cm->cfg.n_ctx, bp = cm->bitpos;
	uint32_t nib = bp < 4 ? cm->c0 : (cm->c0 & ((1U << (bp - 4)) - 1)) | 1U << (bp - 4);
	int p;

	for (unsigned i = 0; i < n; i++) {
		cm->slot[i] = cm->bucket[i] + nib;
		cm->x[i] = pf_cm_stretch(cm->tab[cm->slot[i]] >> 4);
	}
	match_predict(cm, cm->x + n);
	cm->x[n + 2] = 256;
	cm->set = cm->c0;
	p = pf_cm_mix_predict(cm);
	if (cm->cfg.apm2_bits) {
		uint32_t a2 = (cm->apm2_base ^ cm->c0 * 0x2F0B3C4DU) >> (32 - cm->cfg.apm2_bits);
		int p1 = pf_cm_apm_predict(cm->apm1 + cm->c0 * PF_CM_APM_ROWS, p, &cm->apm1_idx);
		int p2 = pf_cm_apm_predict(cm->apm2 + (size_t)a2 * PF_CM_APM_ROWS, p,
					   &cm->apm2_idx);

		cm->apm1_idx += cm->c0 * PF_CM_APM_ROWS;
		cm->apm2_idx += a2 * PF_CM_APM_ROWS;
		p = (p + p1 + 2 * p2 + 2) >> 2;
	} else {
		int p1 = pf_cm_apm_predict(cm->apm1 + cm->c0 * PF_CM_APM_ROWS, p, &cm->apm1_idx);

		cm->apm1_idx += cm->c0 * PF_CM_APM_ROWS;
		p = (p + 3 * p1 + 2) >> 2;
	}
	cm->pr = p < 1 ? 1 : (p > 4095 ? 4095 : p);
	return cm->pr;
}

static inline void slot_update(uint16_t *s, int bit)
{
	int32_t v = *s, p = v >> 4, n = v & 15;

	p += (((bit ? 4095 : 0) - p) * slot_rate[n] + 0x8000) >> 16;
	n += n < (int32_t)COUNT_LIMIT;
	*s = (uint16_t)(p << 4 | n);
}

void pf_cm_update(pf_cm *cm, int bit)
{
	for (unsigned i = 0; i < cm->cfg.n_ctx; i++)
		slot_update(cm->tab + cm->slot[i], bit);
	if (cm->mm_bit >= 0)
		slot_update(cm->mm_sm + cm->mm_idx, bit);
	pf_cm_mix_update(cm, bit);
	pf_cm_apm_update(cm->apm1, cm->apm1_idx, bit);
	if (cm->cfg.apm2_bits)
		pf_cm_apm_update(cm->apm2, cm->apm2_idx, bit);
	cm->c0 = cm->c0 << 1 | (uint32_t)bit;
	if (++cm->bitpos == 8)
		pf_cm_byte_update(cm);
	else if (cm->bitpos == 4)
		pf_cm_nibble_update(cm);
}
