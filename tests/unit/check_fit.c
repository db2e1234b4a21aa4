/* SPDX-License-Identifier: MIT */
/*
 * check_fit.c - unit tests of priorctl's scaling-law fit (ctl_fit.c
 * pctl_fit_power_law): known parameters recovered from exact and slightly
 * noisy points, a poor fit flagged on noise and on too few points, and bad
 * input refused.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "priorctl/priorctl.h"

/* ---- helpers ---------------------------------------------------------------- */

/* A grid of table slots 2^10..2^20 (step 2) x samples 256K..16M (x4). */
#define GRID_N 6
#define GRID_D 4
#define GRID (GRID_N * GRID_D)

static const struct pctl_fit truth = {
	.e = 1.45, .a = 4.0, .alpha = 0.18, .b = 5800.0, .beta = 0.9,
};

/* Deterministic uniform noise in [-1, 1] (a 64-bit LCG). */
static double noise(uint64_t *state)
{
	*state = *state * 6364136223846793005ull + 1442695040888963407ull;
	return (double)(*state >> 11) / (double)(1ull << 52) - 1.0;
}

/* Fills p with the law `truth` plus noise of amplitude amp. */
static void make_grid(struct pctl_fit_point *p, double amp, uint64_t seed)
{
	size_t k = 0;

	for (int i = 0; i < GRID_N; i++)
		for (int j = 0; j < GRID_D; j++, k++) {
			p[k].n = ldexp(1, 10 + 2 * i);
			p[k].d = ldexp(1, 18 + 2 * j);
			p[k].loss = pctl_fit_predict(&truth, p[k].n, p[k].d) +
				    amp * noise(&seed);
		}
}

/* ---- recovery --------------------------------------------------------------- */

START_TEST(exact_points_recover_the_law)
{
	struct pctl_fit_point p[GRID];
	struct pctl_fit f;

	make_grid(p, 0, 1);
	ck_assert_int_eq(pctl_fit_power_law(p, GRID, &f), 0);
	ck_assert(!f.poor);
	ck_assert_ptr_null(f.why);
	ck_assert_uint_eq(f.points, GRID);
	ck_assert_double_eq_tol(f.e, truth.e, 0.01);
	ck_assert_double_eq_tol(f.alpha, truth.alpha, 0.01);
	ck_assert_double_eq_tol(f.beta, truth.beta, 0.01);
	ck_assert_double_eq_tol(log(f.a), log(truth.a), 0.1);
	ck_assert_double_eq_tol(log(f.b), log(truth.b), 0.1);
	ck_assert(f.r2 > 0.9999);
	ck_assert(f.rmse < 1e-3);
}
END_TEST

START_TEST(noisy_points_still_fit_well)
{
	struct pctl_fit_point p[GRID];
	struct pctl_fit f;

	make_grid(p, 0.005, 7); /* +-0.005 bits/byte: measurement jitter */
	ck_assert_int_eq(pctl_fit_power_law(p, GRID, &f), 0);
	ck_assert(!f.poor);
	ck_assert(f.r2 > 0.99);
	ck_assert_double_eq_tol(f.e, truth.e, 0.1);
	ck_assert_double_eq_tol(f.alpha, truth.alpha, 0.1);
	/* Predictions inside the grid matter more than the parameters. */
	ck_assert_double_eq_tol(pctl_fit_predict(&f, 65536, 4 << 20),
				pctl_fit_predict(&truth, 65536, 4 << 20), 0.01);
}
END_TEST

START_TEST(coefficients_are_never_negative)
{
	struct pctl_fit_point p[GRID];
	struct pctl_fit f;

	/* Loss that grows with the model: the best law has a = 0. */
	make_grid(p, 0, 1);
	for (size_t i = 0; i < GRID; i++)
		p[i].loss = 2.0 + 0.05 * log2(p[i].n);
	ck_assert_int_eq(pctl_fit_power_law(p, GRID, &f), 0);
	ck_assert(f.e >= 0 && f.a >= 0 && f.b >= 0);
	ck_assert(f.poor);
}
END_TEST

/* ---- poor fits and bad input ------------------------------------------------ */

START_TEST(noise_is_a_poor_fit)
{
	struct pctl_fit_point p[GRID];
	struct pctl_fit f;
	uint64_t seed = 42;

	make_grid(p, 0, 1);
	for (size_t i = 0; i < GRID; i++)
		p[i].loss = 2.0 + 0.3 * noise(&seed);
	ck_assert_int_eq(pctl_fit_power_law(p, GRID, &f), 0);
	ck_assert(f.poor);
	ck_assert_ptr_nonnull(f.why);
	ck_assert(f.r2 < PCTL_FIT_R2_MIN);
}
END_TEST

START_TEST(too_few_points_is_a_poor_fit)
{
	struct pctl_fit_point p[GRID];
	struct pctl_fit f;

	make_grid(p, 0, 1);
	ck_assert_int_eq(pctl_fit_power_law(p, PCTL_FIT_PARAMS, &f), 0);
	ck_assert(f.poor);
	ck_assert_double_eq(f.r2, 0);
	/* Enough points, but all of one sample size. */
	for (size_t i = 0; i < GRID; i++)
		p[i].d = 1 << 20;
	ck_assert_int_eq(pctl_fit_power_law(p, GRID, &f), 0);
	ck_assert(f.poor);
}
END_TEST

START_TEST(bad_points_are_refused)
{
	struct pctl_fit_point p[GRID];
	struct pctl_fit f;

	make_grid(p, 0, 1);
	p[3].d = 0;
	ck_assert_int_eq(pctl_fit_power_law(p, GRID, &f), -EINVAL);
	make_grid(p, 0, 1);
	p[5].loss = NAN;
	ck_assert_int_eq(pctl_fit_power_law(p, GRID, &f), -EINVAL);
}
END_TEST

/* ---- suite ------------------------------------------------------------------ */

static Suite *fit_suite(void)
{
	Suite *s = suite_create("fit");
	TCase *tc;

	tc = tcase_create("recovery");
	tcase_add_test(tc, exact_points_recover_the_law);
	tcase_add_test(tc, noisy_points_still_fit_well);
	tcase_add_test(tc, coefficients_are_never_negative);
	suite_add_tcase(s, tc);
	tc = tcase_create("poor");
	tcase_add_test(tc, noise_is_a_poor_fit);
	tcase_add_test(tc, too_few_points_is_a_poor_fit);
	tcase_add_test(tc, bad_points_are_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(fit_suite());
	int failed;

	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
