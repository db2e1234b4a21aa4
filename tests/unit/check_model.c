/* SPDX-License-Identifier: MIT */
/*
 * check_model.c - unit tests of the model layer (model.h) at levels FAST and
 * DEFAULT: round trips, cold and primed models, hostile stored bytes and
 * model images, -ENOSPC, the stored slice, determinism across threads, BLAS
 * thread counts and the mixer's AVX2 kernels, and golden vectors. Level max
 * (the network, formats 5 and 6) has its own program, check_model_max.
 *
 * Golden vectors: tests/data/golden/model-fast-t12.bin is a FAST model
 * (format 2) trained on gen_sample(); encoding the golden input,
 * gen_text(GOLDEN_LEN, 99), with it must hash (XXH3-64) to GOLDEN_CODED
 * and decode back. model-fast-t12-dict.bin (format 3) is trained on
 * gen_dict_sample() with its random tail as the stored slice; it codes
 * golden_dict_input(), text with a piece of that slice inside, to
 * GOLDEN_DICT_CODED. model-fast-t12-wide.bin (format 4: coding tables wider
 * than the primed ones) is trained like the format 3 one and codes the same
 * input to GOLDEN_WIDE_CODED. The committed images, not fresh training
 * runs, are the reference, because training uses float BLAS and may round
 * differently on another CPU; coding may not. Formats 2 and 3 are no longer
 * written, so their images are frozen. After a deliberate format change,
 * run this program with PF_MODEL_GOLDEN_WRITE=1
 * (`PF_MODEL_GOLDEN_WRITE=1 tests/unit/check_model` in the build
 * directory): it rewrites model-fast-t12-wide.bin and prints
 * GOLDEN_WIDE_IMAGE, GOLDEN_WIDE_CODED, GOLDEN_COLD, GOLDEN_FASTQ_FAST_COLD,
 * GOLDEN_DEFAULT_COLD_WIDE and GOLDEN_FASTQ_COLD to update below. check_model_max does the same
 * for level max's image, model-max-t12.bin, and the level max seeds of the
 * fuzz_model corpus; test_shape here reads that image's shape too.
 */
#include <cblas.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "unit_data.h"
#include "model_test_util.h"
#include "common/pf_common.h"
#include "model/model.h"
#include "model/model_int.h" /* test hook: the mixer kernels */

#define GOLDEN_PATH PF_SRCDIR "/tests/data/golden/model-fast-t12.bin"
#define GOLDEN_IMAGE 0x1376446539abc910ULL /* XXH3 of the committed image */
#define GOLDEN_CODED 0x8f019fb26c1a117bULL /* XXH3 of the coded golden input */
#define GOLDEN_COLD 0xc554fa23073c5874ULL  /* XXH3 of the cold FAST t10 image */
#define GOLDEN_DEFAULT_COLD_CODED 0xd88dd7c45f80d4aeULL /* golden input, cold DEFAULT t12 as format 2 */
#define GOLDEN_DEFAULT_COLD_WIDE 0x81370175615a817fULL /* the same model as format 4 */
#define GOLDEN_FASTQ_COLD 0x0934f328b7ea793dULL /* that model as format 8, FASTQ records */
#define GOLDEN_FASTQ_FAST_COLD 0x8583e553cdf91ca8ULL /* the cold FAST t10 model as format 8, FASTQ records */
#define GOLDEN_DICT_PATH PF_SRCDIR "/tests/data/golden/model-fast-t12-dict.bin"
#define GOLDEN_DICT_IMAGE 0xf6f8f99a74ff6145ULL /* XXH3 of the committed format 3 image */
#define GOLDEN_DICT_CODED 0xb1ddda05820f1496ULL /* XXH3 of golden_dict_input() coded with it */
#define GOLDEN_WIDE_PATH PF_SRCDIR "/tests/data/golden/model-fast-t12-wide.bin"
#define GOLDEN_WIDE_IMAGE 0x4ab141561123af5dULL /* XXH3 of the committed format 4 image */
#define GOLDEN_WIDE_CODED 0xdeb4463f61ba820aULL /* XXH3 of golden_dict_input() coded with it */
#define DICT_TEXT (48 * 1024) /* gen_dict_sample(): text, then random bytes */
#define DICT_RANDOM (32 * 1024)

/* ---- test data ------------------------------------------------------------ */

/* 16-bit little-endian ramp with noise: a strided binary array. */
static uint8_t *gen_binary(size_t len, uint64_t seed)
{
	uint8_t *p = malloc(len ? len : 1);
	uint64_t s = seed | 1;

	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i + 1 < len; i += 2) {
		uint16_t v = (uint16_t)(i * 3 + (rng_next(&s) >> 61));

		p[i] = (uint8_t)v;
		p[i + 1] = (uint8_t)(v >> 8);
	}
	if (len & 1)
		p[len - 1] = 0;
	return p;
}

/* The fixed training sample: text then binary. */
static uint8_t *gen_sample(size_t *len)
{
	size_t half = 48 * 1024;
	uint8_t *p = malloc(2 * half), *t = gen_text(half, 1), *b = gen_binary(half, 2);

	ck_assert_ptr_nonnull(p);
	memcpy(p, t, half);
	memcpy(p + half, b, half);
	free(t);
	free(b);
	*len = 2 * half;
	return p;
}

/* Text, then DICT_RANDOM random bytes that no context can learn: only a
 * match into the stored slice can code them again. */
static uint8_t *gen_dict_sample(size_t *len)
{
	uint8_t *p = gen_text(DICT_TEXT + DICT_RANDOM, 1);

	fill_random(p + DICT_TEXT, DICT_RANDOM, 3);
	*len = DICT_TEXT + DICT_RANDOM;
	return p;
}

/* ---- fixture: one trained model per level, made before the forks ------- */

static void *img_fast, *img_default;
static size_t img_fast_len, img_default_len;
static pf_model *m_fast, *m_default;

static void models_setup(void)
{
	size_t len;
	uint8_t *sample = gen_sample(&len);

	img_fast = train(PF_MODEL_LEVEL_FAST, 12, sample, len, &img_fast_len);
	img_default = train(PF_MODEL_LEVEL_DEFAULT, 14, sample, len, &img_default_len);
	ck_assert_int_eq(pf_model_load(img_fast, img_fast_len, &m_fast), 0);
	ck_assert_int_eq(pf_model_load(img_default, img_default_len, &m_default), 0);
	free(sample);
}

static void models_teardown(void)
{
	pf_model_free(m_fast);
	pf_model_free(m_default);
	free(img_fast);
	free(img_default);
}

/* ---- round trips ------------------------------------------------------------ */

START_TEST(test_roundtrip_kinds)
{
	const pf_model *m = _i & 1 ? m_default : m_fast;
	size_t len = 64 * 1024, n;
	uint8_t *p;

	switch (_i >> 1) {
	case 0: /* text like the sample: the primed model must code it well */
		p = gen_text(len, 5);
		n = round_trip(m, p, len);
		ck_assert_uint_lt(n, len / 3);
		break;
	case 1:
		/* FAST has no strided contexts, DEFAULT does */
		p = gen_binary(len, 6);
		n = round_trip(m, p, len);
		ck_assert_uint_lt(n, _i & 1 ? len / 2 : len - len / 8);
		break;
	case 2:
		p = calloc(1, len);
		n = round_trip(m, p, len);
		ck_assert_uint_lt(n, 200);
		break;
	default: /* random: close to its size, never much more */
		p = malloc(len);
		fill_random(p, len, 7);
		n = round_trip(m, p, len);
		ck_assert_uint_lt(n, len + len / 64);
		break;
	}
	free(p);
}
END_TEST

START_TEST(test_roundtrip_tiny)
{
	const pf_model *m = _i ? m_default : m_fast;
	uint8_t out[64], one = 'x', back = 0;
	ssize_t n;

	n = pf_model_encode(m, NULL, 0, out, sizeof(out));
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(pf_model_decode(m, out, 4, NULL, 0), 0);
	n = pf_model_encode(m, &one, 1, out, sizeof(out));
	ck_assert_int_ge(n, 4);
	ck_assert_int_eq(pf_model_decode(m, out, (size_t)n, &back, 1), 0);
	ck_assert_int_eq(back, one);
}
END_TEST

START_TEST(test_roundtrip_4mib)
{
	size_t len = 4u << 20;
	uint8_t *p = gen_text(len, 11);

	memset(p + len / 2, 0xab, 4096); /* a run inside, for the match model */
	ck_assert_uint_lt(round_trip(m_fast, p, len), len / 3);
	free(p);
}
END_TEST

/* A model trained on nothing codes anything; priming on text like it
 * makes it better. (Widened coding tables took away most of what a cold
 * 2^12-slot model used to lose to collisions, hence the smaller margin.)
 * Primed contexts that the widened tables failed to find would leave the
 * primed model no better than the cold one. */
START_TEST(test_cold_model)
{
	enum pf_model_level level = _i ? PF_MODEL_LEVEL_DEFAULT : PF_MODEL_LEVEL_FAST;
	size_t img_len, primed_len, len = 32 * 1024, cold, primed;
	uint8_t *sample = gen_text(96 * 1024, 1), *p = gen_text(len, 21);
	void *img = train(level, 12, NULL, 0, &img_len);
	void *primed_img = train(level, 12, sample, 96 * 1024, &primed_len);
	pf_model *m, *mp;

	ck_assert_int_eq(pf_model_load(img, img_len, &m), 0);
	ck_assert_int_eq(pf_model_load(primed_img, primed_len, &mp), 0);
	ck_assert_int_eq(pf_model_get_level(m), level);
	cold = round_trip(m, p, len);
	primed = round_trip(mp, p, len);
	ck_assert_uint_lt(cold, len / 2);
	ck_assert_uint_lt(primed, cold - cold / 20);
	pf_model_free(m);
	pf_model_free(mp);
	free(img);
	free(primed_img);
	free(sample);
	free(p);
}
END_TEST

/* What a trained image stores (model_file.c): the first-layer mixer
 * weights in steps of 2^10, the final mixer's exactly, and APM points
 * within steps of 8 of the identity row's (or at 0 or 255 where the step
 * would leave the byte). */
static void check_image_rounding(const uint8_t *hdr, uint8_t *raw, size_t n, void *arg)
{
	uint32_t n_ctx = pf_le32(hdr + 20), n_in = pf_le32(hdr + 24), tb = pf_le32(hdr + 16);
	const uint8_t *w = raw + ((size_t)n_ctx << tb) / 16 * 17 + PF_CM_MM_SLOTS * 2;
	const uint8_t *apm = w + (size_t)PF_CM_W_ROWS * n_in * 4;
	size_t apm_len = raw + n - apm, moved = 0, exact = 0;
	uint16_t identity[PF_CM_APM_ROWS];

	(void)arg;
	ck_assert_uint_eq(apm_len, (PF_CM_APM1_CTX + ((size_t)1 << PF_CM_APM2_BITS)) * 33);
	for (size_t r = 0; r < PF_CM_W_ROWS; r++)
		for (size_t i = 0; i < n_in; i++) {
			int32_t v = (int32_t)pf_le32(w + (r * n_in + i) * 4);

			if (r < PF_CM_ROWF) {
				ck_assert_int_eq(v % 1024, 0);
				moved += v != 0 && v != 1 << 14; /* the initial weights */
			} else {
				exact += v % 1024 != 0;
			}
		}
	ck_assert_uint_gt(moved, 100);
	ck_assert_uint_gt(exact, 0);
	pf_cm_apm_init(identity, 1);
	moved = 0;
	for (size_t i = 0; i < apm_len; i++) {
		int base = identity[i % PF_CM_APM_ROWS] >> 8;

		ck_assert(apm[i] == 0 || apm[i] == 255 || (apm[i] - base) % 8 == 0);
		moved += apm[i] != base;
	}
	ck_assert_uint_gt(moved, 100);
}

START_TEST(test_image_rounding)
{
	size_t len;
	uint8_t *sample = gen_text(96 * 1024, 1);
	uint8_t *img = train(PF_MODEL_LEVEL_DEFAULT, 12, sample, 96 * 1024, &len);

	free(image_edited(img, &len, check_image_rounding, NULL));
	free(img);
	free(sample);
}
END_TEST

/* ---- errors ------------------------------------------------------------------ */

START_TEST(test_enospc)
{
	size_t len = 8192;
	uint8_t *p = malloc(len), *out = malloc(2 * len);
	ssize_t n;

	fill_random(p, len, 3);
	n = pf_model_encode(m_fast, p, len, out, 2 * len);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(pf_model_encode(m_fast, p, len, out, (size_t)n), n);
	ck_assert_int_eq(pf_model_encode(m_fast, p, len, out, (size_t)n - 1), -ENOSPC);
	ck_assert_int_eq(pf_model_encode(m_fast, p, len, out, 100), -ENOSPC);
	ck_assert_int_eq(pf_model_encode(m_fast, p, 0, out, 3), -ENOSPC);
	free(p);
	free(out);
}
END_TEST

START_TEST(test_train_einval)
{
	pf_model_train_opts opts = { .level = PF_MODEL_LEVEL_FAST, .table_bits = 5 };
	void *img;
	size_t len;

	ck_assert_int_eq(pf_model_train("ab", 2, &opts, &img, &len), -EINVAL);
	opts.table_bits = 30;
	ck_assert_int_eq(pf_model_train("ab", 2, &opts, &img, &len), -EINVAL);
	opts.table_bits = 0;
	opts.level = (enum pf_model_level)7;
	ck_assert_int_eq(pf_model_train("ab", 2, &opts, &img, &len), -EINVAL);
	opts.level = PF_MODEL_LEVEL_FAST;
	ck_assert_int_eq(pf_model_train(NULL, 2, &opts, &img, &len), -EINVAL);
	ck_assert_int_eq(pf_model_train("ab", 2, NULL, &img, &len), -EINVAL);
}
END_TEST

/* Truncated, extended and corrupted stored bytes: -EIO or other bytes,
 * never a crash or an access outside the buffers (run under ASan). */
START_TEST(test_corrupt_stored)
{
	const pf_model *m = _i ? m_default : m_fast;
	size_t len = 4000, cap = 2 * len + 64;
	uint8_t *p = gen_text(len, 31), *out = malloc(cap + 1), *back = malloc(len);
	uint64_t s = 5;
	ssize_t n = pf_model_encode(m, p, len, out, cap);

	ck_assert_int_gt(n, 4);
	/* a cut decodes up to where it is: every length would be quadratic */
	for (size_t cut = 0; cut < (size_t)n; cut += cut < 64 || cut + 64 > (size_t)n ? 1 : 29)
		ck_assert_int_eq(pf_model_decode(m, out, cut, back, len), -EIO);
	out[n] = 0;
	ck_assert_int_eq(pf_model_decode(m, out, (size_t)n + 1, back, len), -EIO);
	for (int k = 0; k < 120; k++) {
		size_t at = rng_next(&s) % (size_t)n;
		uint8_t flip = (uint8_t)(1u << (rng_next(&s) % 8));
		int rc;

		out[at] ^= flip;
		rc = pf_model_decode(m, out, (size_t)n, back, len);
		ck_assert(rc == -EIO || (rc == 0 && memcmp(back, p, len) != 0));
		out[at] ^= flip;
	}
	/* garbage of every small length, into outputs of several lengths */
	for (size_t l = 0; l < 64; l++) {
		fill_random(out, l, l + 1);
		for (size_t want = 0; want < 40; want += 13)
			ck_assert_int_le(pf_model_decode(m, out, l, back, want), 0);
	}
	free(p);
	free(out);
	free(back);
}
END_TEST

/* A FAST payload ends with the mixer weights and one APM of 256 x 33
 * bytes: its last weight, out of range. */
static void poison_mixer_weight(const uint8_t *hdr, uint8_t *raw, size_t n, void *arg)
{
	(void)arg;
	ck_assert_uint_eq(pf_le32(hdr + 12), PF_MODEL_LEVEL_FAST);
	pf_put_le32(raw + n - 256 * 33 - 4, 0x7fffffff);
}

/* Every truncation of a model image fails, so do bad headers; any byte
 * flip either fails to load or loads a model that still round-trips. */
START_TEST(test_hostile_image)
{
	size_t len;
	uint8_t *img = train(PF_MODEL_LEVEL_FAST, 10, NULL, 0, &len);
	uint8_t *copy = malloc(len + 1), *text = gen_text(3000, 8), *poisoned;
	size_t plen;
	uint64_t s = 9;
	pf_model *m;

	for (size_t cut = 0; cut < len; cut++) {
		ck_assert_int_eq(pf_model_load(img, cut, &m), -EIO);
		ck_assert_ptr_null(m);
	}
	memcpy(copy, img, len);
	copy[len] = 0;
	ck_assert_int_eq(pf_model_load(copy, len + 1, &m), -EIO);
	copy[8] = 1; /* the pre-release version */
	ck_assert_int_eq(pf_model_load(copy, len, &m), -ENOTSUP);
	copy[8] = 5; /* the network's versions on a FAST image */
	ck_assert_int_eq(pf_model_load(copy, len, &m), -EIO);
	copy[8] = 6;
	ck_assert_int_eq(pf_model_load(copy, len, &m), -EIO);
	copy[8] = 7; /* 16-bit units, without the feature bit that says so */
	ck_assert_int_eq(pf_model_load(copy, len, &m), -EIO);
	copy[8] = 8; /* FASTQ, without the feature bit that says so */
	ck_assert_int_eq(pf_model_load(copy, len, &m), -EIO);
	copy[8] = 9; /* a future one */
	ck_assert_int_eq(pf_model_load(copy, len, &m), -ENOTSUP);
	plen = len;
	poisoned = image_edited(img, &plen, poison_mixer_weight, NULL);
	ck_assert_int_eq(pf_model_load(poisoned, plen, &m), -EIO);
	free(poisoned);
	flip_sweep(img, copy, len, 400, &s, text);
	free(img);
	free(copy);
	free(text);
}
END_TEST

/* ---- determinism ------------------------------------------------------------ */

START_TEST(test_threads)
{
	size_t len = 96 * 1024;

	check_threads_agree(m_default, gen_text(len, 41), len, 4);
}
END_TEST

/* Training with 1 or 2 BLAS threads set gives the same image (training
 * runs BLAS on one thread), and it round-trips; coding itself never calls
 * BLAS, so the model codes the same everywhere. */
START_TEST(test_blas_threads)
{
	size_t len, l1, l2, tlen = 20000;
	uint8_t *sample = gen_sample(&len), *text = gen_text(tlen, 4);
	void *i1, *i2;
	pf_model *m;

	openblas_set_num_threads(1);
	i1 = train(PF_MODEL_LEVEL_DEFAULT, 12, sample, len, &l1);
	openblas_set_num_threads(2);
	i2 = train(PF_MODEL_LEVEL_DEFAULT, 12, sample, len, &l2);
	ck_assert_uint_eq(l1, l2);
	ck_assert_int_eq(memcmp(i1, i2, l1), 0);
	ck_assert_int_eq(pf_model_load(i1, l1, &m), 0);
	round_trip(m, text, tlen);
	pf_model_free(m);
	free(i1);
	free(i2);
	free(sample);
	free(text);
}
END_TEST

/* ---- SIMD kernels against the scalar reference ----------------------------- */

static int32_t rnd_err(uint64_t *s, int k, uint32_t lr_max)
{
	int32_t err = k < 4 ? (k & 2 ? 4095 : -4095) : (int32_t)(rng_next(s) % 8191) - 4095;

	return err * (k < 4 ? (int32_t)lr_max : 1 + (int32_t)(rng_next(s) % lr_max));
}

/* The AVX2 mixer kernels give the scalar reference's bits, extremes too. */
START_TEST(test_simd_mixer)
{
	int32_t x[PF_CM_MAX_IN], wa[4][PF_CM_MAX_IN], wb[4][PF_CM_MAX_IN], err[3], errf;
	int32_t *pa[3] = { wa[0], wa[1], wa[2] }, *pb[3] = { wb[0], wb[1], wb[2] };
	int64_t da[3], db[3];
	uint64_t s = 17;

	if (!__builtin_cpu_supports("avx2"))
		return;
	for (int k = 0; k < SIMD_ROUNDS; k++) {
		for (int i = 0; i < PF_CM_MAX_IN; i++) {
			x[i] = rnd_in(&s, k, 2047);
			for (int r = 0; r < 4; r++)
				wa[r][i] = wb[r][i] = rnd_in(&s, k + r, PF_CM_WEIGHT_LIMIT);
		}
		for (int r = 0; r < 3; r++)
			err[r] = rnd_err(&s, k + r, PF_CM_LR_MAX);
		errf = rnd_err(&s, k, 6);
		pf_cm_dot3_avx2(x, (const int32_t *const *)pa, da);
		pf_cm_dot3_scalar(x, (const int32_t *const *)pb, db);
		for (int r = 0; r < 3; r++)
			ck_assert(da[r] == db[r]);
		pf_cm_train3_avx2(x, pa, err);
		pf_cm_train3_scalar(x, pb, err);
		pf_cm_train_final_avx2(x, wa[3], errf);
		pf_cm_train_final_scalar(x, wb[3], errf);
		ck_assert_int_eq(memcmp(wa, wb, sizeof(wa)), 0);
	}
}
END_TEST

/* The AVX2 slot update and bucket hashing give the scalar reference's bits
 * on every 16-bit slot value (each count and probability) and random
 * contexts, table sizes and context counts. */
START_TEST(test_simd_slots)
{
	uint16_t va[PF_CM_LANES], vb[PF_CM_LANES];
	uint32_t h[PF_CM_LANES], hva[PF_CM_LANES], hvb[PF_CM_LANES];
	uint32_t ba[PF_CM_LANES], bb[PF_CM_LANES];
	uint64_t s = 23;

	if (!__builtin_cpu_supports("avx2"))
		return;
	for (uint32_t v = 0; v < 65536; v += PF_CM_LANES) {
		for (int bit = 0; bit < 2; bit++) {
			for (unsigned i = 0; i < PF_CM_LANES; i++)
				va[i] = vb[i] = (uint16_t)(v + i);
			pf_cm_slots_update_avx2(va, PF_CM_LANES, bit);
			pf_cm_slots_update_scalar(vb, PF_CM_LANES, bit);
			ck_assert_int_eq(memcmp(va, vb, sizeof(va)), 0);
		}
	}
	for (int k = 0; k < SIMD_ROUNDS; k++) {
		unsigned n = 1 + (unsigned)(rng_next(&s) % PF_CM_MAX_CTX);
		unsigned bits = PF_CM_TABLE_BITS_MIN +
				(unsigned)(rng_next(&s) % (PF_CM_TABLE_BITS_MAX - PF_CM_TABLE_BITS_MIN + 1));
		uint32_t salt = (uint32_t)rng_next(&s);

		for (unsigned i = 0; i < PF_CM_LANES; i++)
			h[i] = (uint32_t)rng_next(&s);
		pf_cm_buckets_avx2(h, n, salt, bits, hva, ba);
		pf_cm_buckets_scalar(h, n, salt, bits, hvb, bb);
		ck_assert_int_eq(memcmp(hva, hvb, n * sizeof(*hva)), 0);
		ck_assert_int_eq(memcmp(ba, bb, n * sizeof(*ba)), 0);
		ck_assert_uint_lt(bb[n - 1], (uint32_t)n << bits);
	}
}
END_TEST

/* ---- the stored slice (format 3) ------------------------------------------- */

static void *img_dict_fast, *img_dict_default, *img_nodict;
static size_t img_dict_fast_len, img_dict_default_len, img_nodict_len;
static pf_model *m_dict_fast, *m_dict_default, *m_nodict;

/* Models with the random tail of gen_dict_sample() as their slice, and one
 * trained on the same sample without it. */
static void dict_setup(void)
{
	size_t len;
	uint8_t *sample = gen_dict_sample(&len);

	img_dict_fast = train_dict(PF_MODEL_LEVEL_FAST, 12, sample, len, DICT_RANDOM,
				   &img_dict_fast_len);
	img_dict_default = train_dict(PF_MODEL_LEVEL_DEFAULT, 13, sample, len, DICT_RANDOM,
				      &img_dict_default_len);
	img_nodict = train(PF_MODEL_LEVEL_FAST, 12, sample, len, &img_nodict_len);
	ck_assert_int_eq(pf_model_load(img_dict_fast, img_dict_fast_len, &m_dict_fast), 0);
	ck_assert_int_eq(pf_model_load(img_dict_default, img_dict_default_len, &m_dict_default),
			 0);
	ck_assert_int_eq(pf_model_load(img_nodict, img_nodict_len, &m_nodict), 0);
	free(sample);
}

static void dict_teardown(void)
{
	pf_model_free(m_dict_fast);
	pf_model_free(m_dict_default);
	pf_model_free(m_nodict);
	free(img_dict_fast);
	free(img_dict_default);
	free(img_nodict);
}

/* n bytes of the slice from off, then text: a match that runs to the end. */
static uint8_t *gen_slice_piece(size_t off, size_t n, size_t text_len)
{
	size_t len;
	uint8_t *sample = gen_dict_sample(&len), *p = gen_text(n + text_len, 13);

	ck_assert_uint_le(DICT_TEXT + off + n, len);
	memcpy(p, sample + DICT_TEXT + off, n);
	free(sample);
	return p;
}

START_TEST(test_dict_roundtrip)
{
	const uint8_t *img = _i ? img_dict_default : img_dict_fast;
	const pf_model *m = _i ? m_dict_default : m_dict_fast;
	size_t len = 32 * 1024;
	uint8_t *text = gen_text(len, 5), *rnd = malloc(len), one = 'x', back, out[64];
	uint8_t *tail = gen_slice_piece(DICT_RANDOM - 3000, 3000, 2000);
	ssize_t n;

	ck_assert_uint_eq(pf_le32(img + 8), 4);
	ck_assert_uint_eq(pf_le32(img + 48), DICT_RANDOM);
	ck_assert_uint_lt(round_trip(m, text, len), len / 3);
	fill_random(rnd, len, 77);
	ck_assert_uint_lt(round_trip(m, rnd, len), len + len / 64);
	ck_assert_uint_lt(round_trip(m, tail, 5000), 2500);
	ck_assert_int_eq(pf_model_encode(m, NULL, 0, out, sizeof(out)), 4);
	ck_assert_int_eq(pf_model_decode(m, out, 4, NULL, 0), 0);
	n = pf_model_encode(m, &one, 1, out, sizeof(out));
	ck_assert_int_ge(n, 4);
	ck_assert_int_eq(pf_model_decode(m, out, (size_t)n, &back, 1), 0);
	ck_assert_int_eq(back, one);
	free(text);
	free(rnd);
	free(tail);
}
END_TEST

/* Random bytes that are in the slice code to a small fraction of what the
 * same model without the slice needs (about their own size). */
START_TEST(test_dict_repeat)
{
	size_t n = 16 * 1024, with, without;
	uint8_t *p = gen_slice_piece(4096, n, 0);

	without = round_trip(m_nodict, p, n);
	with = round_trip(m_dict_fast, p, n);
	ck_assert_uint_gt(without, n - n / 16);
	ck_assert_uint_lt(with, without / 16);
	free(p);
}
END_TEST

/* Two threads decode the same slice-coded block at once, three times each,
 * to the same bytes; two encodes give the same stored bytes. */
START_TEST(test_dict_threads)
{
	size_t len = 48 * 1024;
	uint8_t *p = gen_slice_piece(1000, 20000, len - 20000);

	memcpy(p + 30000, p + 100, 9000); /* an in-block repeat of slice bytes too */
	check_threads_agree(m_dict_default, p, len, 2);
}
END_TEST

/* A small image with a slice: FAST, 2^10 slots, 1 KiB slice. */
static uint8_t *small_dict_image(size_t *len)
{
	uint8_t *sample = gen_text(4096, 23), *img;

	img = train_dict(PF_MODEL_LEVEL_FAST, 10, sample, 4096, 1024, len);
	free(sample);
	ck_assert_uint_eq(pf_le32(img + 8), 4);
	return img;
}

/* Every truncation, a bad slice length or code_bits in the header, a slice
 * length in a format 2 header, code_bits in a format 3 one: -EIO; byte flips load and round-trip, or fail cleanly. */
START_TEST(test_dict_hostile)
{
	static const uint32_t bad_len[] = { 0, 1, 63, 1023, 1025, (8u << 20) + 1, 0xffffffffu };
	static const uint32_t bad_code_bits[] = { 0, 9, 21, 0xffffffffu }; /* table_bits 10 */
	size_t len;
	uint8_t *img = small_dict_image(&len), *copy = malloc(len), *text = gen_text(3000, 8);
	uint64_t s = 19;
	pf_model *m;

	for (size_t cut = 0; cut < len; cut++) {
		ck_assert_int_eq(pf_model_load(img, cut, &m), -EIO);
		ck_assert_ptr_null(m);
	}
	for (size_t k = 0; k < sizeof(bad_len) / sizeof(*bad_len); k++) {
		memcpy(copy, img, len);
		pf_put_le32(copy + 48, bad_len[k]);
		ck_assert_int_eq(pf_model_load(copy, len, &m), -EIO);
	}
	memcpy(copy, img, len);
	copy[8] = 2; /* format 2 has no slice: its bytes 48..63 are reserved */
	pf_put_le32(copy + 52, 0);
	ck_assert_int_eq(pf_model_load(copy, len, &m), -EIO);
	memcpy(copy, img, len);
	copy[8] = 3; /* format 3 codes with the primed width: no code_bits */
	ck_assert_int_eq(pf_model_load(copy, len, &m), -EIO);
	for (size_t k = 0; k < sizeof(bad_code_bits) / sizeof(*bad_code_bits); k++) {
		memcpy(copy, img, len);
		pf_put_le32(copy + 52, bad_code_bits[k]);
		ck_assert_int_eq(pf_model_load(copy, len, &m), -EIO);
	}
	flip_sweep(img, copy, len, 300, &s, text);
	free(img);
	free(copy);
	free(text);
}
END_TEST

/* dict_bytes past the sample takes all of it; under 64 bytes (or an empty
 * sample) writes an image without a slice, byte for byte the one trained
 * without asking for one. */
START_TEST(test_dict_train_limits)
{
	uint8_t *sample = gen_text(6000, 29), *a, *b;
	size_t la, lb;
	pf_model *m;

	a = train_dict(PF_MODEL_LEVEL_FAST, 10, sample, 6000, 1u << 30, &la);
	ck_assert_uint_eq(pf_le32(a + 8), 4);
	ck_assert_uint_eq(pf_le32(a + 48), 6000);
	ck_assert_int_eq(pf_model_load(a, la, &m), 0);
	ck_assert_uint_lt(round_trip(m, sample, 6000), 600);
	pf_model_free(m);
	free(a);
	a = train_dict(PF_MODEL_LEVEL_FAST, 10, sample, 6000, 63, &la);
	b = train(PF_MODEL_LEVEL_FAST, 10, sample, 6000, &lb);
	ck_assert_uint_eq(pf_le32(a + 48), 0);
	ck_assert_uint_eq(la, lb);
	ck_assert_int_eq(memcmp(a, b, la), 0);
	free(a);
	free(b);
	a = train_dict(PF_MODEL_LEVEL_FAST, 10, NULL, 0, 4096, &la);
	ck_assert_uint_eq(pf_le32(a + 48), 0);
	free(a);
	free(sample);
}
END_TEST

/* ---- golden vectors -------------------------------------------------------- */

/* Text with 4000 bytes of gen_dict_sample()'s random tail inside. */
static uint64_t golden_dict_coded_hash(const pf_model *m)
{
	size_t len;
	uint8_t *p = gen_text(GOLDEN_LEN, 99), *sample = gen_dict_sample(&len);

	memcpy(p + GOLDEN_LEN / 2, sample + DICT_TEXT + 5000, 4000);
	free(sample);
	return coded_hash(m, p);
}

/* The golden input's length of FASTQ records, coded with m. */
static uint64_t fastq_coded_hash(const pf_model *m)
{
	return coded_hash(m, gen_fastq(GOLDEN_LEN, 99));
}

/* A copy of a format 4 or 8 image below level max with the FASTQ contexts
 * (format 8) or without them (format 4): the same primed state. */
static uint8_t *image_with_fastq(const uint8_t *img, size_t len, bool fastq)
{
	uint8_t *copy = malloc(len);

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, img, len);
	pf_put_le32(copy + 8, fastq ? PF_CM_VERSION_FASTQ : PF_CM_VERSION_WIDE);
	copy[62] = fastq ? PF_CM_FEATURE_FASTQ : 0;
	return copy;
}

/* Makes a format 4 image without a slice the format 2 image of the same
 * model: coding tables as wide as the primed ones. */
static void image_as_format2(uint8_t *img)
{
	ck_assert_uint_eq(pf_le32(img + 8), 4);
	ck_assert_uint_eq(pf_le32(img + 48), 0);
	pf_put_le32(img + 8, 2);
	pf_put_le32(img + 52, 0);
}

/* A cold DEFAULT model (no sample, so no BLAS) codes the golden input to
 * the bits the reference code gave before the per-bit path was vectorised
 * (as format 2), and to fixed bits as format 4 (its tables widened for the
 * block), with the detected kernels and with the scalar ones forced; as
 * format 8 it codes FASTQ records to fixed bits. FAST is covered by the
 * committed images below. */
START_TEST(test_golden_default_cold)
{
	size_t len;
	uint8_t *img = train(PF_MODEL_LEVEL_DEFAULT, 12, NULL, 0, &len);
	uint8_t *fimg = image_with_fastq(img, len, true);
	uint64_t wide = golden_both_kernels(img, len, golden_coded_hash), narrow;
	uint64_t fastq = golden_both_kernels(fimg, len, fastq_coded_hash);

	image_as_format2(img);
	narrow = golden_both_kernels(img, len, golden_coded_hash);
	if (getenv("PF_MODEL_GOLDEN_WRITE"))
		printf("GOLDEN_DEFAULT_COLD_WIDE 0x%016llxULL GOLDEN_FASTQ_COLD 0x%016llxULL\n",
		       (unsigned long long)wide, (unsigned long long)fastq);
	fflush(stdout);
	ck_assert_uint_eq(narrow, GOLDEN_DEFAULT_COLD_CODED);
	ck_assert_uint_eq(wide, GOLDEN_DEFAULT_COLD_WIDE);
	ck_assert_uint_eq(fastq, GOLDEN_FASTQ_COLD);
	free(img);
	free(fimg);
}
END_TEST

/* A committed image must hash to image_hash, and code the input that
 * coded_hash_of() makes to coded. */
static void golden_check(const char *path, uint32_t version, uint64_t image_hash,
			 uint64_t (*coded_hash_of)(const pf_model *), uint64_t coded)
{
	size_t len;
	uint8_t *img = golden_read(path, &len);
	pf_model *m;

	ck_assert_uint_eq(pf_le32(img + 8), version);
	ck_assert_int_eq(pf_model_load(img, len, &m), 0);
	ck_assert_uint_eq(XXH3_64bits(img, len), image_hash);
	ck_assert_uint_eq(coded_hash_of(m), coded);
	pf_model_free(m);
	free(img);
}

/* The frozen format 2 and 3 images, and a cold FAST image as training
 * writes it now (no sample: no BLAS, the same bytes everywhere), which as
 * format 8 codes FASTQ records to fixed bits with both kernels. */
START_TEST(test_golden)
{
	size_t cold_len;
	uint8_t *cold = train(PF_MODEL_LEVEL_FAST, 10, NULL, 0, &cold_len);
	uint8_t *fastq_img = image_with_fastq(cold, cold_len, true);
	uint64_t fastq = golden_both_kernels(fastq_img, cold_len, fastq_coded_hash);

	if (getenv("PF_MODEL_GOLDEN_WRITE"))
		printf("GOLDEN_COLD 0x%016llxULL GOLDEN_FASTQ_FAST_COLD 0x%016llxULL\n",
		       (unsigned long long)XXH3_64bits(cold, cold_len), (unsigned long long)fastq);
	fflush(stdout);
	ck_assert_uint_eq(fastq, GOLDEN_FASTQ_FAST_COLD);
	golden_check(GOLDEN_PATH, 2, GOLDEN_IMAGE, golden_coded_hash, GOLDEN_CODED);
	golden_check(GOLDEN_DICT_PATH, 3, GOLDEN_DICT_IMAGE, golden_dict_coded_hash,
		     GOLDEN_DICT_CODED);
	ck_assert_uint_eq(XXH3_64bits(cold, cold_len), GOLDEN_COLD);
	free(cold);
	free(fastq_img);
}
END_TEST

/* The format 4 golden vector: a slice, and tables widened for the block. */
START_TEST(test_golden_wide)
{
	if (getenv("PF_MODEL_GOLDEN_WRITE")) {
		size_t slen, len;
		uint8_t *sample = gen_dict_sample(&slen), *img;
		FILE *f = fopen(GOLDEN_WIDE_PATH, "wb");
		pf_model *m;

		img = train_dict(PF_MODEL_LEVEL_FAST, 12, sample, slen, DICT_RANDOM, &len);
		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(fwrite(img, 1, len, f), len);
		fclose(f);
		ck_assert_int_eq(pf_model_load(img, len, &m), 0);
		printf("GOLDEN_WIDE_IMAGE 0x%016llxULL GOLDEN_WIDE_CODED 0x%016llxULL\n",
		       (unsigned long long)XXH3_64bits(img, len),
		       (unsigned long long)golden_dict_coded_hash(m));
		fflush(stdout);
		pf_model_free(m);
		free(img);
		free(sample);
	}
	golden_check(GOLDEN_WIDE_PATH, 4, GOLDEN_WIDE_IMAGE, golden_dict_coded_hash,
		     GOLDEN_WIDE_CODED);
}
END_TEST

/* The shape of the model in img, which must load. */
static pf_model_shape loaded_shape(const uint8_t *img, size_t len)
{
	pf_model_shape sh;
	pf_model *m;

	ck_assert_int_eq(pf_model_load(img, len, &m), 0);
	pf_model_get_shape(m, &sh);
	pf_model_free(m);
	return sh;
}

/* Token ids get the phase-aware contexts (format 7: bit 3 of the u16 at
 * offset 62) below level max too, text does not (and neither do the
 * random bytes of test_dict_roundtrip's sample). The bit is checked
 * against the version both ways. */
START_TEST(test_units)
{
	size_t n = 64 * 1024, len, tlen;
	uint8_t *tokens = gen_tokens(n, 7), *data = gen_tokens(5000, 8), *text = gen_text(n, 7);
	uint8_t *img = train(PF_MODEL_LEVEL_DEFAULT, 12, tokens, n, &len);
	uint8_t *timg = train(PF_MODEL_LEVEL_DEFAULT, 12, text, n, &tlen);
	pf_model_shape sh;
	pf_model *m;

	ck_assert_uint_eq(pf_le32(img + 8), PF_CM_VERSION_UNITS);
	ck_assert_uint_eq(pf_le32(img + 60), PF_CM_FEATURE_UNITS << 16);
	ck_assert_int_eq(pf_model_load(img, len, &m), 0);
	pf_model_get_shape(m, &sh);
	ck_assert(sh.units);
	ck_assert_uint_lt(round_trip(m, data, 5000), 5000 * 3 / 5);
	pf_model_free(m);
	ck_assert_uint_eq(pf_le32(timg + 8), PF_CM_VERSION_WIDE);
	ck_assert(!loaded_shape(timg, tlen).units);
	img[62] = 0;
	ck_assert_int_eq(pf_model_load(img, len, &m), -EIO);
	timg[62] = PF_CM_FEATURE_UNITS;
	ck_assert_int_eq(pf_model_load(timg, tlen, &m), -EIO);
	free(tokens);
	free(data);
	free(text);
	free(img);
	free(timg);
}
END_TEST

/* FASTQ gets the contexts for quality lines (format 8: bit 7 of the u16 at
 * offset 62) at both levels, text does not. The bit and the version are
 * checked against each other both ways, and against the token features. */
START_TEST(test_fastq)
{
	static const enum pf_model_level levels[] = { PF_MODEL_LEVEL_FAST, PF_MODEL_LEVEL_DEFAULT };
	size_t n = 64 * 1024, tlen;
	uint8_t *fastq = gen_fastq(n, 7), *data = gen_fastq(20000, 8), *text = gen_text(n, 7);
	uint8_t *timg = train(PF_MODEL_LEVEL_DEFAULT, 12, text, n, &tlen);
	pf_model *m, *pm;

	for (size_t k = 0; k < sizeof(levels) / sizeof(*levels); k++) {
		size_t len;
		uint8_t *img = train(levels[k], 12, fastq, n, &len);
		uint8_t *plain = image_with_fastq(img, len, false);
		pf_model_shape sh = loaded_shape(img, len);

		ck_assert_uint_eq(pf_le32(img + 8), PF_CM_VERSION_FASTQ);
		ck_assert_uint_eq(pf_le32(img + 60), PF_CM_FEATURE_FASTQ << 16);
		ck_assert(sh.fastq && !sh.units);
		/* the same primed state without the FASTQ contexts codes larger */
		ck_assert_int_eq(pf_model_load(img, len, &m), 0);
		ck_assert_int_eq(pf_model_load(plain, len, &pm), 0);
		ck_assert_uint_lt(round_trip(m, data, 20000), round_trip(pm, data, 20000) * 9 / 10);
		pf_model_free(pm);
		pf_model_free(m);
		img[62] = 0;
		ck_assert_int_eq(pf_model_load(img, len, &m), -EIO);
		img[62] = PF_CM_FEATURE_FASTQ | PF_NET_FEATURE_TOKENS;
		ck_assert_int_eq(pf_model_load(img, len, &m), -EIO);
		free(img);
		free(plain);
	}
	ck_assert_uint_eq(pf_le32(timg + 8), PF_CM_VERSION_WIDE);
	ck_assert(!loaded_shape(timg, tlen).fastq);
	timg[62] = PF_CM_FEATURE_FASTQ;
	ck_assert_int_eq(pf_model_load(timg, tlen, &m), -EIO);
	free(fastq);
	free(data);
	free(text);
	free(timg);
}
END_TEST

/* The make each committed image states, as pf_model_get_shape() reports it. */
START_TEST(test_shape)
{
	static const struct {
		const char *path;
		pf_model_shape want;
	} images[] = {
		{ GOLDEN_PATH, { 2, 12, 12, 2, 0, 0, 0, false, false, false, false, false, false, false, false } },
		{ GOLDEN_DICT_PATH,
		  { 3, 12, 12, 2, DICT_RANDOM, 0, 0, false, false, false, false, false, false, false, false } },
		{ GOLDEN_WIDE_PATH,
		  { 4, 12, PF_CM_CODE_BITS_FAST, 2, DICT_RANDOM, 0, 0, false, false, false, false, false,
		    false, false, false } },
		{ GOLDEN_MAX_PATH,
		  { PF_CM_VERSION_NET, 12, PF_CM_CODE_BITS_DEFAULT, 2, 0, GOLDEN_MAX_WIDTH, 0,
		    false, false, false, false, false, false, false, false } },
		{ GOLDEN_MAX6_PATH,
		  { PF_CM_VERSION_NET2, 12, PF_CM_CODE_BITS_DEFAULT, 2, 0, GOLDEN_MAX_WIDTH, 16,
		    true, false, false, false, false, false, false, false } },
		{ GOLDEN_MAX6C_PATH,
		  { PF_CM_VERSION_NET2, 12, PF_CM_CODE_BITS_DEFAULT, 2, 0, GOLDEN_MAX_WIDTH, 16,
		    true, true, false, false, false, false, false, false } },
		{ GOLDEN_MAX6M_PATH,
		  { PF_CM_VERSION_NET2, 12, PF_CM_CODE_BITS_DEFAULT, 2, 0, GOLDEN_MAX_WIDTH, 16,
		    true, true, true, false, false, false, false, false } },
		{ GOLDEN_MAX7_PATH,
		  { PF_CM_VERSION_UNITS, 12, PF_CM_CODE_BITS_DEFAULT, 2, 0, GOLDEN_MAX_WIDTH, 16,
		    true, true, true, true, false, false, false, false } },
		{ GOLDEN_MAX7I_PATH,
		  { PF_CM_VERSION_UNITS, 12, PF_CM_CODE_BITS_DEFAULT, 2, 0, GOLDEN_MAX_WIDTH, 16,
		    true, true, true, true, true, false, false, false } },
		{ GOLDEN_MAX7R_PATH,
		  { PF_CM_VERSION_UNITS, 12, PF_CM_CODE_BITS_DEFAULT, 2, 0, GOLDEN_MAX_WIDTH, 16,
		    true, true, true, true, true, true, true, false } },
	};

	for (size_t i = 0; i < sizeof(images) / sizeof(*images); i++) {
		size_t len;
		uint8_t *img = golden_read(images[i].path, &len);
		pf_model_shape sh;
		pf_model *m;

		ck_assert_int_eq(pf_model_load(img, len, &m), 0);
		pf_model_get_shape(m, &sh);
		ck_assert_uint_eq(sh.version, images[i].want.version);
		ck_assert_uint_eq(sh.table_bits, images[i].want.table_bits);
		ck_assert_uint_eq(sh.code_bits, images[i].want.code_bits);
		ck_assert_uint_eq(sh.stride, images[i].want.stride);
		ck_assert_uint_eq(sh.slice_bytes, images[i].want.slice_bytes);
		ck_assert_uint_eq(sh.net_width, images[i].want.net_width);
		ck_assert_uint_eq(sh.net_rank, images[i].want.net_rank);
		ck_assert_int_eq(sh.net_tokens, images[i].want.net_tokens);
		ck_assert_int_eq(sh.net_context, images[i].want.net_context);
		ck_assert_int_eq(sh.net_match, images[i].want.net_match);
		ck_assert_int_eq(sh.units, images[i].want.units);
		ck_assert_int_eq(sh.net_indirect, images[i].want.net_indirect);
		ck_assert_int_eq(sh.net_recent, images[i].want.net_recent);
		ck_assert_int_eq(sh.net_token_out, images[i].want.net_token_out);
		ck_assert_int_eq(sh.fastq, images[i].want.fastq);
		pf_model_free(m);
		free(img);
	}
}
END_TEST

static Suite *model_suite(void)
{
	Suite *s = suite_create("model");
	TCase *tc;

	tc = tcase_create("roundtrip");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, models_setup, models_teardown);
	tcase_add_loop_test(tc, test_roundtrip_kinds, 0, 8);
	tcase_add_loop_test(tc, test_roundtrip_tiny, 0, 2);
	tcase_add_test(tc, test_roundtrip_4mib);
	tcase_add_test(tc, test_units);
	tcase_add_test(tc, test_fastq);
	tcase_add_loop_test(tc, test_cold_model, 0, 2);
	tcase_add_test(tc, test_image_rounding);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, models_setup, models_teardown);
	tcase_add_test(tc, test_enospc);
	tcase_add_test(tc, test_train_einval);
	tcase_add_loop_test(tc, test_corrupt_stored, 0, 2);
	tcase_add_test(tc, test_hostile_image);
	suite_add_tcase(s, tc);

	tc = tcase_create("determinism");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, models_setup, models_teardown);
	tcase_add_test(tc, test_threads);
	tcase_add_test(tc, test_simd_mixer);
	tcase_add_test(tc, test_simd_slots);
	tcase_add_test(tc, test_golden_default_cold);
	tcase_add_test(tc, test_blas_threads);
	tcase_add_test(tc, test_golden);
	tcase_add_test(tc, test_golden_wide);
	tcase_add_test(tc, test_shape);
	suite_add_tcase(s, tc);

	tc = tcase_create("slice");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, dict_setup, dict_teardown);
	tcase_add_loop_test(tc, test_dict_roundtrip, 0, 2);
	tcase_add_test(tc, test_dict_repeat);
	tcase_add_test(tc, test_dict_threads);
	tcase_add_test(tc, test_dict_hostile);
	tcase_add_test(tc, test_dict_train_limits);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(model_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
