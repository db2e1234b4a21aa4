/* SPDX-License-Identifier: MIT */
/*
 * model_fit.c - batch fit of the mixer's initial weights: per weight set, a
 * few Newton steps of ridge-regularised logistic regression over (stretched
 * inputs, bit) samples collected while priming, using OpenBLAS.
 *
 * The online weights the priming pass ends with are the starting point and
 * the ridge centre. Even-numbered samples of a set fit, odd-numbered ones
 * judge: the fit replaces the online weights only where it codes the
 * held-out samples in fewer bits. The result is quantised to 16.16 fixed
 * point; coding never sees a float. Training only: coding never calls BLAS.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_int.h"

#define NEWTON_STEPS 4
#define RIDGE 1.0f
#define LOGIT_MAX 8.0f /* the coder clamps the mixer at stretch 2047 / 256 */

int pf_cm_fit_init(struct pf_cm_fit_samples *f, unsigned n_in, size_t cap)
{
	memset(f, 0, sizeof(*f));
	f->x = malloc(cap * n_in * sizeof(*f->x));
	f->set = malloc(cap);
	f->bit = malloc(cap);
	if (!f->x || !f->set || !f->bit) {
		pf_cm_fit_free(f);
		return -ENOMEM;
	}
	f->cap = cap;
	f->n_in = n_in;
	return 0;
}

void pf_cm_fit_free(struct pf_cm_fit_samples *f)
{
	free(f->x);
	free(f->set);
	free(f->bit);
	memset(f, 0, sizeof(*f));
}

void pf_cm_fit_add(struct pf_cm_fit_samples *f, const pf_cm *cm, int bit)
{
	if (f->n == f->cap)
		return;
	for (unsigned i = 0; i < f->n_in; i++)
		f->x[f->n * f->n_in + i] = (int16_t)cm->x[i];
	f->set[f->n] = (uint8_t)cm->set;
	f->bit[f->n] = (uint8_t)bit;
	f->n++;
}

/* One weight set's samples as float rows (inputs in logit units). */
struct rows {
	float *x, *y, *z, *xs; /* xs: rows scaled by sqrt(p(1-p)) */
	size_t m;
};

static float sigmoid(float z)
{
	z = z > LOGIT_MAX ? LOGIT_MAX : (z < -LOGIT_MAX ? -LOGIT_MAX : z);
	return 1.0f / (1.0f + expf(-z));
}

/* Mean coding cost in bits of rows r under weights w. */
static double rows_cost(struct rows *r, const float *w, unsigned k)
{
	double bits = 0;

	cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)r->m, (int)k, 1.0f, r->x, (int)k,
		    w, 1, 0.0f, r->z, 1);
	for (size_t j = 0; j < r->m; j++) {
		float p = sigmoid(r->z[j]);

		p = p < 1.0f / 4096 ? 1.0f / 4096 : (p > 4095.0f / 4096 ? 4095.0f / 4096 : p);
		bits -= log2(r->y[j] > 0.5f ? p : 1.0f - p);
	}
	return r->m ? bits / (double)r->m : 0;
}

/* Solves a k x k symmetric positive definite system by Cholesky, in
 * place (h is destroyed, g becomes the solution). @return 0 or -1. */
static int spd_solve(double *h, double *g, unsigned k)
{
	for (unsigned j = 0; j < k; j++) {
		double d = h[j * k + j];

		for (unsigned t = 0; t < j; t++)
			d -= h[j * k + t] * h[j * k + t];
		if (d <= 1e-12)
			return -1;
		h[j * k + j] = sqrt(d);
		for (unsigned i = j + 1; i < k; i++) {
			double v = h[i * k + j];

			for (unsigned t = 0; t < j; t++)
				v -= h[i * k + t] * h[j * k + t];
			h[i * k + j] = v / h[j * k + j];
		}
	}
	for (unsigned i = 0; i < k; i++) { /* L y = g */
		for (unsigned t = 0; t < i; t++)
			g[i] -= h[i * k + t] * g[t];
		g[i] /= h[i * k + i];
	}
	for (unsigned i = k; i-- > 0;) { /* L^T x = y */
		for (unsigned t = i + 1; t < k; t++)
			g[i] -= h[t * k + i] * g[t];
		g[i] /= h[i * k + i];
	}
	return 0;
}

/* One Newton step from w towards the ridge-regularised optimum around w0. */
static int newton_step(struct rows *r, float *w, const float *w0, unsigned k)
{
	float hf[PF_CM_MAX_IN * PF_CM_MAX_IN], gf[PF_CM_MAX_IN];
	double h[PF_CM_MAX_IN * PF_CM_MAX_IN], g[PF_CM_MAX_IN];

	cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)r->m, (int)k, 1.0f, r->x, (int)k,
		    w, 1, 0.0f, r->z, 1);
	for (size_t j = 0; j < r->m; j++) {
		float p = sigmoid(r->z[j]), s = sqrtf(p * (1.0f - p));

		for (unsigned i = 0; i < k; i++)
			r->xs[j * k + i] = r->x[j * k + i] * s;
		r->z[j] = r->y[j] - p;
	}
	cblas_sgemv(CblasRowMajor, CblasTrans, (int)r->m, (int)k, 1.0f, r->x, (int)k, r->z,
		    1, 0.0f, gf, 1);
	cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)k, (int)r->m, 1.0f, r->xs,
		    (int)k, 0.0f, hf, (int)k);
	for (unsigned i = 0; i < k; i++) {
		g[i] = gf[i] - RIDGE * (w[i] - w0[i]);
		for (unsigned t = 0; t < k; t++)
			h[i * k + t] = t >= i ? hf[i * k + t] : hf[t * k + i];
		h[i * k + i] += RIDGE;
	}
	if (spd_solve(h, g, k) < 0)
		return -1;
	for (unsigned i = 0; i < k; i++)
		w[i] += (float)g[i];
	return 0;
}

static int32_t quantise(float v)
{
	float q = v * 65536.0f;

	if (q > (float)PF_CM_WEIGHT_LIMIT)
		return PF_CM_WEIGHT_LIMIT;
	if (q < -(float)PF_CM_WEIGHT_LIMIT)
		return -PF_CM_WEIGHT_LIMIT;
	return (int32_t)(q < 0 ? q - 0.5f : q + 0.5f);
}

/* Gathers every other one of the samples idx[0..n) (from the first when
 * odd is 0, else from the second) into r. */
static void rows_fill(struct rows *r, const struct pf_cm_fit_samples *f,
		      const uint32_t *idx, size_t n, size_t odd)
{
	r->m = 0;
	for (size_t t = odd; t < n; t += 2) {
		size_t j = idx[t];

		for (unsigned i = 0; i < f->n_in; i++)
			r->x[r->m * f->n_in + i] = f->x[j * f->n_in + i] / 256.0f;
		r->y[r->m++] = f->bit[j];
	}
}

/* Fits one set from its samples idx[0..n); @return 1 if the fit replaced
 * w, else 0. */
static int fit_set(const struct pf_cm_fit_samples *f, const uint32_t *idx, size_t n,
		   int32_t *w, struct rows *fit, struct rows *held)
{
	unsigned k = f->n_in;
	float w0[PF_CM_MAX_IN], v[PF_CM_MAX_IN];

	rows_fill(fit, f, idx, n, 0);
	rows_fill(held, f, idx, n, 1);
	if (fit->m < 8u * k || held->m == 0)
		return 0;
	for (unsigned i = 0; i < k; i++)
		v[i] = w0[i] = (float)w[i] / 65536.0f;
	for (int it = 0; it < NEWTON_STEPS; it++)
		if (newton_step(fit, v, w0, k) < 0)
			return 0;
	if (rows_cost(held, v, k) >= rows_cost(held, w0, k))
		return 0;
	for (unsigned i = 0; i < k; i++)
		w[i] = quantise(v[i]);
	return 1;
}

int pf_cm_fit_weights(const struct pf_cm_fit_samples *f, int32_t *w)
{
	size_t most = 0, start[PF_CM_SETS + 1] = { 0 }, fill[PF_CM_SETS];
	struct rows fit = { 0 }, held = { 0 };
	int replaced = 0, rc = -ENOMEM;
	uint32_t *idx = malloc((f->n + 1) * sizeof(*idx));

	/* counting sort of the samples by set, keeping their order */
	for (size_t j = 0; j < f->n; j++)
		start[f->set[j] + 1]++;
	for (unsigned s = 0; s < PF_CM_SETS; s++) {
		most = start[s + 1] > most ? start[s + 1] : most;
		start[s + 1] += start[s];
		fill[s] = start[s];
	}
	for (size_t j = 0; idx && j < f->n; j++)
		idx[fill[f->set[j]]++] = (uint32_t)j;
	most = most / 2 + 1;
	fit.x = malloc(most * f->n_in * sizeof(float));
	fit.xs = malloc(most * f->n_in * sizeof(float));
	fit.y = malloc(most * sizeof(float));
	fit.z = malloc(most * sizeof(float));
	held.x = malloc(most * f->n_in * sizeof(float));
	held.y = malloc(most * sizeof(float));
	held.z = malloc(most * sizeof(float));
	if (idx && fit.x && fit.xs && fit.y && fit.z && held.x && held.y && held.z) {
		for (unsigned s = 0; s < PF_CM_SETS; s++)
			replaced += fit_set(f, idx + start[s], start[s + 1] - start[s],
					    w + (size_t)s * PF_CM_MAX_IN, &fit, &held);
		rc = replaced;
	}
	free(idx);
	free(fit.x);
	free(fit.xs);
	free(fit.y);
	free(fit.z);
	free(held.x);
	free(held.y);
	free(held.z);
	return rc;
}
