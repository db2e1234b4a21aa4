/* SPDX-License-Identifier: MIT */
/*
 * ctl_fit.c - fits the scaling law L(N, D) = E + A/N^a + B/D^b to measured
 * (model size, sample size, bits/byte) points, for priorctl scaling.
 *
 * Design notes:
 * - For fixed exponents a and b the law is linear in E, A and B, so the fit
 *   is a grid search over (a, b) in [FIT_EXP_MIN, FIT_EXP_MAX] with, at each
 *   node, the least-squares E, A, B >= 0. With three unknowns the
 *   non-negative solution is found exactly by solving the normal equations
 *   of every subset of them (7 small systems) and keeping the best feasible
 *   one. The best node is then refined by a finer grid around it.
 * - N and D enter as N/N0 and D/D0 (their geometric means) so that the
 *   columns stay near 1 whatever the units; A and B are scaled back.
 * - A fit is "poor" when it cannot be trusted: fewer points than the five
 *   parameters + 1, fewer than two distinct N or D, or R^2 under
 *   PCTL_FIT_R2_MIN. The caller then says so and relies on the table.
 */
#include "priorctl/priorctl.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define FIT_EXP_MIN 0.02
#define FIT_EXP_MAX 2.0
#define FIT_COARSE_STEP 0.02
#define FIT_FINE_STEP 0.001

/* Sums for the normal equations of the columns 1, x1, x2. */
struct fit_sums {
	double m[3][3]; /* sum of col_i * col_j */
	double v[3];    /* sum of col_i * y */
	double yy;      /* sum of y^2 */
};

/* Solves the k x k system of the columns in idx[0..k) by Gaussian
 * elimination with partial pivoting. @return false when singular. */
static bool solve_subset(const struct fit_sums *s, const int *idx, int k,
			 double *x)
{
	double a[3][4];

	for (int i = 0; i < k; i++) {
		for (int j = 0; j < k; j++)
			a[i][j] = s->m[idx[i]][idx[j]];
		a[i][k] = s->v[idx[i]];
	}
	for (int c = 0; c < k; c++) {
		int p = c;

		for (int r = c + 1; r < k; r++)
			if (fabs(a[r][c]) > fabs(a[p][c]))
				p = r;
		if (fabs(a[p][c]) < 1e-12 * (1 + fabs(s->m[0][0])))
			return false;
		for (int j = 0; j <= k; j++) {
			double t = a[c][j];

			a[c][j] = a[p][j];
			a[p][j] = t;
		}
		for (int r = 0; r < k; r++) {
			double f = r == c ? 0 : a[r][c] / a[c][c];

			for (int j = c; j <= k; j++)
				a[r][j] -= f * a[c][j];
		}
	}
	for (int i = 0; i < k; i++)
		x[i] = a[i][k] / a[i][i];
	return true;
}

/* Sum of squared residuals of coefficients c: y'y - 2c'v + c'Mc. */
static double sse_of(const struct fit_sums *s, const double c[3])
{
	double e = s->yy;

	for (int i = 0; i < 3; i++) {
		e -= 2 * c[i] * s->v[i];
		for (int j = 0; j < 3; j++)
			e += c[i] * s->m[i][j] * c[j];
	}
	return e > 0 ? e : 0;
}

/* Least squares with c >= 0: the best feasible solution over the column
 * subsets. @return its SSE, or INFINITY when none is feasible. */
static double nnls3(const struct fit_sums *s, double c[3])
{
	double best = INFINITY;

	for (int mask = 1; mask < 8; mask++) {
		int idx[3], k = 0;
		double x[3], t[3] = { 0, 0, 0 }, e;
		bool ok = true;

		for (int i = 0; i < 3; i++)
			if (mask & 1 << i)
				idx[k++] = i;
		if (!solve_subset(s, idx, k, x))
			continue;
		for (int i = 0; i < k; i++) {
			ok = ok && x[i] >= 0;
			t[idx[i]] = x[i];
		}
		e = ok ? sse_of(s, t) : INFINITY;
		if (e < best) {
			best = e;
			memcpy(c, t, sizeof(t));
		}
	}
	return best;
}

/* The normalised data, shared by every node of the search. */
struct fit_data {
	const struct pctl_fit_point *p;
	size_t n;
	double n0, d0;
};

static double node_fit(const struct fit_data *d, double a, double b,
		       double c[3])
{
	struct fit_sums s;

	memset(&s, 0, sizeof(s));
	for (size_t i = 0; i < d->n; i++) {
		const double col[3] = { 1, pow(d->p[i].n / d->n0, -a),
					pow(d->p[i].d / d->d0, -b) };
		const double y = d->p[i].loss;

		for (int r = 0; r < 3; r++) {
			for (int k = 0; k < 3; k++)
				s.m[r][k] += col[r] * col[k];
			s.v[r] += col[r] * y;
		}
		s.yy += y * y;
	}
	return nnls3(&s, c);
}

/* Searches (a, b) over [lo, hi]^2 at `step`, from the centre (ca, cb)
 * within `radius`; keeps the best node in *f (its sse in *best). */
static void search(const struct fit_data *d, double ca, double cb,
		   double radius, double step, double *best,
		   struct pctl_fit *f)
{
	for (double a = fmax(ca - radius, FIT_EXP_MIN);
	     a <= fmin(ca + radius, FIT_EXP_MAX) + 1e-9; a += step) {
		for (double b = fmax(cb - radius, FIT_EXP_MIN);
		     b <= fmin(cb + radius, FIT_EXP_MAX) + 1e-9; b += step) {
			double c[3] = { 0, 0, 0 }, e = node_fit(d, a, b, c);

			if (e < *best) {
				*best = e;
				f->e = c[0];
				f->a = c[1] * pow(d->n0, a);
				f->alpha = a;
				f->b = c[2] * pow(d->d0, b);
				f->beta = b;
			}
		}
	}
}

static size_t distinct(const struct pctl_fit_point *p, size_t n, bool use_n)
{
	size_t count = 0;

	for (size_t i = 0; i < n; i++) {
		size_t j = 0;

		while (j < i && (use_n ? p[j].n != p[i].n : p[j].d != p[i].d))
			j++;
		count += j == i;
	}
	return count;
}

/* Geometric mean of the n (use_n) or d of the points. */
static double geo_mean(const struct pctl_fit_point *p, size_t n, bool use_n)
{
	double s = 0;

	for (size_t i = 0; i < n; i++)
		s += log(use_n ? p[i].n : p[i].d);
	return exp(s / (double)n);
}

/* R^2 and RMSE of f on the points; the verdict. */
static void judge(const struct pctl_fit_point *p, size_t n, double sse,
		  struct pctl_fit *f)
{
	double mean = 0, sst = 0;

	for (size_t i = 0; i < n; i++)
		mean += p[i].loss / (double)n;
	for (size_t i = 0; i < n; i++)
		sst += (p[i].loss - mean) * (p[i].loss - mean);
	f->rmse = sqrt(sse / (double)n);
	f->r2 = sst > 0 ? 1 - sse / sst : 0;
	if (f->r2 < PCTL_FIT_R2_MIN) {
		f->poor = true;
		f->why = "R^2 under 0.9: the law does not explain the points";
	}
}

int pctl_fit_power_law(const struct pctl_fit_point *p, size_t n,
		       struct pctl_fit *f)
{
	struct fit_data d = { .p = p, .n = n };
	double best = INFINITY;

	memset(f, 0, sizeof(*f));
	f->points = n;
	for (size_t i = 0; i < n; i++)
		if (!(p[i].n > 0 && p[i].d > 0 && isfinite(p[i].loss)))
			return -EINVAL;
	if (n < PCTL_FIT_PARAMS + 1 || distinct(p, n, true) < 2 ||
	    distinct(p, n, false) < 2) {
		f->poor = true;
		f->why = "too few points: needs 6, over 2 model and 2 sample sizes";
		return 0;
	}
	d.n0 = geo_mean(p, n, true);
	d.d0 = geo_mean(p, n, false);
	search(&d, FIT_EXP_MAX / 2, FIT_EXP_MAX / 2, FIT_EXP_MAX, FIT_COARSE_STEP,
	       &best, f);
	search(&d, f->alpha, f->beta, FIT_COARSE_STEP, FIT_FINE_STEP, &best, f);
	judge(p, n, best, f);
	return 0;
}

double pctl_fit_predict(const struct pctl_fit *f, double n, double d)
{
	return f->e + f->a * pow(n, -f->alpha) + f->b * pow(d, -f->beta);
}
