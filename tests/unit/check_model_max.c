/* SPDX-License-Identifier: MIT */
/*
 * check_model_max.c - unit tests of level max, the model with a neural
 * network (format 5, model.h): round trips, a repeatable training and loss
 * curve, determinism across threads, OpenBLAS environments and kernels
 * (the network's AVX2 dot product against the scalar one), hostile network
 * weights, headers and images, a golden vector and the level max fuzz
 * seeds. check_model tests the other levels.
 *
 * Golden vector: tests/data/golden/model-max-t12.bin (a network of
 * GOLDEN_MAX_WIDTH) is trained on gen_text(GOLDEN_MAX_SAMPLE, 1) and codes
 * the golden input (model_test_util.h) to GOLDEN_MAX_CODED. The committed
 * image, not a fresh training run, is the reference, because training uses
 * float BLAS and may round differently on another CPU; coding may not. After
 * a deliberate format change, run this program with PF_MODEL_GOLDEN_WRITE=1
 * (`PF_MODEL_GOLDEN_WRITE=1 tests/unit/check_model_max` in the build
 * directory): it rewrites model-max7r-t12.bin (the format 7 image with
 * every feature; the older ones are frozen) and the newest fuzz_model
 * seed, and prints GOLDEN_MAX7R_IMAGE and GOLDEN_MAX7R_CODED to update
 * below. check_model's test_shape reads the image's shape too.
 *
 * Child mode: with CHILD_ENV set, the program codes the golden input with
 * the image at that path and prints the hash (test_max_env re-executes it).
 */
#include <cblas.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include "unit_data.h"
#include "model_test_util.h"
#include "common/pf_common.h"
#include "model/model.h"
#include "model/model_int.h" /* test hook: the network and its kernels */

#define GOLDEN_MAX_SAMPLE (16 * 1024) /* of gen_text(), seed 1: a small image */
#define GOLDEN_MAX_IMAGE 0xfe312a049920b0eaULL /* XXH3 of the committed format 5 image */
#define GOLDEN_MAX_CODED 0xac4ad0d93d513839ULL /* XXH3 of the golden input coded with it */
#define GOLDEN_MAX6_IMAGE 0x13fa1140eac71228ULL /* XXH3 of the committed format 6 image */
#define GOLDEN_MAX6_CODED 0xac9cbb4616b6f4d1ULL /* XXH3 of the golden input coded with it */
#define GOLDEN_MAX6C_IMAGE 0x641bdcaa736f426dULL /* the format 6 image with the context features */
#define GOLDEN_MAX6C_CODED 0x3fd28165e238c9e6ULL
#define GOLDEN_MAX6M_IMAGE 0xaaa49747f2df1e18ULL /* and the match feature */
#define GOLDEN_MAX6M_CODED 0x6a3328d9f548ef4bULL
#define GOLDEN_MAX7_IMAGE 0x295e42bb682d146eULL /* format 7: the contexts know the phase too */
#define GOLDEN_MAX7_CODED 0xa74890e6f488bf7eULL
#define GOLDEN_MAX7I_IMAGE 0xbdfa28b6e5f3d1bbULL /* and the indirect features */
#define GOLDEN_MAX7I_CODED 0x2ac6dd42e4afdf29ULL
#define GOLDEN_MAX7R_IMAGE 0x72d7a7ac3789e01cULL /* and the recent tokens, token outputs */
#define GOLDEN_MAX7R_CODED 0x61c6946a7212f52eULL
#define MAX_SAMPLE (64 * 1024)
#define CHILD_ENV "PF_CHECK_MODEL_CODE" /* test_max_env's child: image path */

/* ---- training and the fixture: one level max model and one DEFAULT --- */

/* Level max with a network of `width` (0: the default), with or without
 * the context features. */
static void *train_max_with(unsigned bits, unsigned width, bool context, const void *sample,
			    size_t len, size_t *img_len)
{
	pf_model_train_opts opts = { .level = PF_MODEL_LEVEL_MAX, .table_bits = bits,
				     .net_width = width, .net_context = context };

	return train_opts(&opts, sample, len, img_len);
}

static void *train_max(unsigned bits, unsigned width, const void *sample, size_t len,
		       size_t *img_len)
{
	return train_max_with(bits, width, false, sample, len, img_len);
}

static void *img_max, *img_max_default;
static size_t img_max_len, img_max_default_len;
static pf_model *m_max, *m_max_default;

/* A level max model with the default network width, and a DEFAULT one
 * trained on the same text. */
static void max_setup(void)
{
	uint8_t *sample = gen_text(MAX_SAMPLE, 1);

	img_max = train_max(12, 0, sample, MAX_SAMPLE, &img_max_len);
	img_max_default = train(PF_MODEL_LEVEL_DEFAULT, 12, sample, MAX_SAMPLE,
				&img_max_default_len);
	ck_assert_int_eq(pf_model_load(img_max, img_max_len, &m_max), 0);
	ck_assert_int_eq(pf_model_load(img_max_default, img_max_default_len, &m_max_default), 0);
	free(sample);
}

static void max_teardown(void)
{
	pf_model_free(m_max);
	pf_model_free(m_max_default);
	free(img_max);
	free(img_max_default);
}

/* A small level max image (about 18 KB): 2^10 slots, the narrowest
 * network, 1 KiB of text. */
static uint8_t *small_max_image(size_t *len)
{
	uint8_t *sample = gen_text(1024, 23);
	uint8_t *img = train_max(10, PF_NET_H1_MIN, sample, 1024, len);

	free(sample);
	ck_assert_uint_eq(pf_le32(img + 8), PF_CM_VERSION_NET2);
	return img;
}

/* p codes to the same bytes before and after this thread coded other
 * (longer): no per-block state (the indirect features' positions, the
 * recent tokens) leaks from one block into the next. */
static void check_fresh(const pf_model *m, const uint8_t *p, size_t len, const uint8_t *other,
			size_t other_len)
{
	size_t cap = 2 * len + 64, other_cap = 2 * other_len + 64;
	uint8_t *first = malloc(cap), *again = malloc(cap), *scratch = malloc(other_cap);
	ssize_t n = pf_model_encode(m, p, len, first, cap);

	ck_assert_int_gt(n, 0);
	ck_assert_int_gt(pf_model_encode(m, other, other_len, scratch, other_cap), 0);
	ck_assert_int_eq(pf_model_encode(m, p, len, again, cap), n);
	ck_assert_int_eq(memcmp(first, again, (size_t)n), 0);
	free(first), free(again), free(scratch);
}

/* The image says what it is: format 6, level max, the default width and
 * embedding width, no token features for text; the DEFAULT image beside it
 * has no network. */
START_TEST(test_max_shape)
{
	pf_model_shape sh;

	ck_assert_int_eq(pf_model_get_level(m_max), PF_MODEL_LEVEL_MAX);
	pf_model_get_shape(m_max, &sh);
	ck_assert_uint_eq(sh.version, PF_CM_VERSION_NET2);
	ck_assert_uint_eq(sh.net_width, PF_NET_H1_DEFAULT);
	ck_assert_uint_eq(sh.table_bits, 12);
	ck_assert_uint_eq(pf_le32((const uint8_t *)img_max + 56), PF_NET_H1_DEFAULT);
	ck_assert_uint_eq(pf_le32((const uint8_t *)img_max + 60),
			  pf_net_rank_for(PF_NET_H1_DEFAULT) |
				  (PF_NET_FEATURE_MATCH | PF_NET_FEATURE_INDIRECT) << 16);
	ck_assert(sh.net_match && sh.net_indirect);
	pf_model_get_shape(m_max_default, &sh);
	ck_assert_uint_eq(sh.version, PF_CM_VERSION_WIDE);
	ck_assert_uint_eq(sh.net_width, 0);
}
END_TEST

/* Token ids get the token features (bit 0 of the u16 at 60 + 2), the
 * recent tokens feature (bit 5), the token outputs (bit 6) and the
 * phase-aware contexts (bit 3, format 7), text does not; the context
 * features (bit 1) come when asked for, with or without them; the match
 * and the indirect features (bits 2 and 4) always. The narrowest
 * network's rows are as wide as it is. All code, and a block codes the
 * same after the thread coded another. */
START_TEST(test_max_token_features)
{
	static const struct {
		bool tokens, context;
		unsigned width;
	} cases[] = { { true, false, PF_NET_H1_MIN }, { true, false, PF_NET_H1_DEFAULT },
		      { false, false, PF_NET_H1_MIN }, { false, true, PF_NET_H1_DEFAULT },
		      { true, true, PF_NET_H1_MIN } };

	for (size_t k = 0; k < sizeof(cases) / sizeof(*cases); k++) {
		uint8_t *sample = cases[k].tokens ? gen_tokens(MAX_SAMPLE, 3) : gen_text(MAX_SAMPLE, 3);
		uint8_t *data = cases[k].tokens ? gen_tokens(5000, 4) : gen_text(5000, 4);
		unsigned rank = pf_net_rank_for(cases[k].width);
		uint32_t features = (cases[k].tokens ? PF_NET_FEATURE_TOKENS | PF_NET_FEATURE_RECENT |
							       PF_NET_FEATURE_TOKEN_OUT | PF_CM_FEATURE_UNITS
						     : 0) |
				    (cases[k].context ? PF_NET_FEATURE_CONTEXT : 0) |
				    PF_NET_FEATURE_MATCH | PF_NET_FEATURE_INDIRECT;
		size_t len;
		uint8_t *img = train_max_with(10, cases[k].width, cases[k].context, sample,
					      MAX_SAMPLE, &len);
		pf_model_shape sh;
		pf_model *m;

		ck_assert_uint_eq(pf_le32(img + 60), rank | features << 16);
		ck_assert_uint_eq(pf_le32(img + 8), cases[k].tokens ? PF_CM_VERSION_UNITS
								    : PF_CM_VERSION_NET2);
		ck_assert_int_eq(pf_model_load(img, len, &m), 0);
		pf_model_get_shape(m, &sh);
		ck_assert(sh.net_tokens == cases[k].tokens && sh.net_context == cases[k].context &&
			  sh.net_match && sh.net_indirect && sh.units == cases[k].tokens &&
			  sh.net_recent == cases[k].tokens && sh.net_token_out == cases[k].tokens);
		round_trip(m, data, 5000);
		check_fresh(m, data, 5000, sample, MAX_SAMPLE);
		pf_model_free(m);
		free(img);
		free(sample);
		free(data);
	}
}
END_TEST

/* FASTQ at level max: format 8, a network without the token features
 * (which need 16-bit units; an image that claims them does not load). */
START_TEST(test_max_fastq)
{
	uint8_t *sample = gen_fastq(MAX_SAMPLE, 3), *data = gen_fastq(5000, 4);
	size_t len;
	uint8_t *img = train_max_with(10, PF_NET_H1_MIN, false, sample, MAX_SAMPLE, &len);
	uint32_t features = PF_CM_FEATURE_FASTQ | PF_NET_FEATURE_MATCH | PF_NET_FEATURE_INDIRECT;
	pf_model_shape sh;
	pf_model *m;

	ck_assert_uint_eq(pf_le32(img + 8), PF_CM_VERSION_FASTQ);
	ck_assert_uint_eq(pf_le32(img + 60), pf_net_rank_for(PF_NET_H1_MIN) | features << 16);
	ck_assert_int_eq(pf_model_load(img, len, &m), 0);
	pf_model_get_shape(m, &sh);
	ck_assert(sh.fastq && !sh.units && !sh.net_tokens && sh.net_width == PF_NET_H1_MIN);
	round_trip(m, data, 5000);
	check_fresh(m, data, 5000, sample, MAX_SAMPLE);
	pf_model_free(m);
	img[62] |= PF_NET_FEATURE_TOKENS;
	ck_assert_int_eq(pf_model_load(img, len, &m), -EIO);
	free(img);
	free(sample);
	free(data);
}
END_TEST

enum data_kind { KIND_TEXT, KIND_RANDOM, KIND_ZEROS };

/* Blocks of 0, 1 and a few bytes and longer ones of each kind; `under`
 * bounds the stored size when it is not 0. */
START_TEST(test_max_roundtrip)
{
	static const struct {
		size_t len;
		enum data_kind kind;
		size_t under;
	} cases[] = {
		{ 0, KIND_TEXT, 5 },
		{ 1, KIND_TEXT, 0 },
		{ 2, KIND_TEXT, 0 },
		{ 3, KIND_RANDOM, 0 },
		{ 100, KIND_TEXT, 0 },
		{ 4096, KIND_TEXT, 4096 / 3 },
		{ 65536 + 123, KIND_TEXT, 65536 / 3 },
		{ 16384, KIND_RANDOM, 16384 + 16384 / 64 },
		{ 16384, KIND_ZEROS, 200 },
	};
	size_t len = cases[_i].len, n;
	uint8_t *p = gen_text(len, 51);

	if (cases[_i].kind == KIND_RANDOM)
		fill_random(p, len, 52);
	else if (cases[_i].kind == KIND_ZEROS)
		memset(p, 0, len);
	n = round_trip(m_max, p, len);
	if (cases[_i].under)
		ck_assert_uint_lt(n, cases[_i].under);
	free(p);
}
END_TEST

/* The network on top of DEFAULT, both trained on the same text. gen_text()
 * is words drawn independently, which DEFAULT already codes close to their
 * entropy (about 0.93 bits per byte), so the network has little to add:
 * measured with int8 embeddings at width 64, it saved 2 of 3810 bytes
 * (32 KiB sample), 12 of 3792 (64 KiB, this fixture) and 26 of 3788
 * (96 KiB) on this 32 KiB input. A gain that small may not survive another
 * CPU's float rounding in training, so this asserts only that the network
 * costs less than 1%. */
START_TEST(test_max_vs_default)
{
	size_t len = 32 * 1024, with_net, without;
	uint8_t *p = gen_text(len, 5);

	with_net = round_trip(m_max, p, len);
	without = round_trip(m_max_default, p, len);
	ck_assert_uint_lt(with_net, len / 3);
	ck_assert_uint_le(with_net, without + without / 100);
	free(p);
}
END_TEST

#define LOSS_POINTS 16

struct loss_curve {
	unsigned n;
	uint64_t step[LOSS_POINTS], steps;
	double train[LOSS_POINTS], held[LOSS_POINTS];
};

static void loss_record(void *arg, uint64_t step, uint64_t steps, double train_bpb,
			double held_bpb)
{
	struct loss_curve *c = arg;

	ck_assert_uint_lt(c->n, LOSS_POINTS);
	c->step[c->n] = step;
	c->train[c->n] = train_bpb;
	c->held[c->n] = held_bpb;
	c->steps = steps;
	c->n++;
}

/* Steps rise to the last one; losses are bits per byte of a network that
 * learned something: under the 8 of a uniform guess, held-out ones
 * falling from the first point to the last. */
static void loss_curve_check(const struct loss_curve *c)
{
	ck_assert_uint_ge(c->n, 2);
	ck_assert_uint_eq(c->step[c->n - 1], c->steps);
	for (unsigned i = 0; i < c->n; i++) {
		ck_assert(i == 0 || c->step[i] > c->step[i - 1]);
		ck_assert(c->train[i] > 0 && c->train[i] < 8);
		ck_assert(c->held[i] > 0 && c->held[i] < 8);
	}
	ck_assert(c->held[c->n - 1] < c->held[0]);
}

/* The same sample and options train the same image bytes and report the
 * same loss curve. */
START_TEST(test_max_train_repeatable)
{
	size_t len = 16 * 1024, la, lb;
	uint8_t *sample = gen_text(len, 3), *a, *b;
	struct loss_curve ca = { 0 }, cb = { 0 };
	pf_model_train_opts opts = { .level = PF_MODEL_LEVEL_MAX, .table_bits = 10,
				     .net_width = PF_NET_H1_MIN, .loss = loss_record,
				     .loss_arg = &ca };

	a = train_opts(&opts, sample, len, &la);
	opts.loss_arg = &cb;
	b = train_opts(&opts, sample, len, &lb);
	ck_assert_uint_eq(pf_le32(a + 56), PF_NET_H1_MIN);
	ck_assert_uint_eq(la, lb);
	ck_assert_int_eq(memcmp(a, b, la), 0);
	loss_curve_check(&ca);
	ck_assert_uint_eq(ca.n, cb.n);
	ck_assert_uint_eq(ca.steps, cb.steps);
	ck_assert_int_eq(memcmp(ca.step, cb.step, sizeof(ca.step)), 0);
	ck_assert_int_eq(memcmp(ca.train, cb.train, ca.n * sizeof(*ca.train)), 0);
	ck_assert_int_eq(memcmp(ca.held, cb.held, ca.n * sizeof(*ca.held)), 0);
	free(a);
	free(b);
	free(sample);
}
END_TEST

/* The most OpenBLAS threads seen from training's progress callback. */
static void blas_threads_record(void *arg, uint64_t done, uint64_t total)
{
	int *most = arg, now = openblas_get_num_threads();

	(void)done, (void)total;
	*most = now > *most ? now : *most;
}

/* Training runs BLAS on one thread whatever the caller set (the products
 * are too small to share, docs/neural.md), gives the image it gives with
 * one thread, and puts the caller's setting back. */
START_TEST(test_max_train_blas_threads)
{
	size_t len = 16 * 1024, la, lb;
	uint8_t *sample = gen_text(len, 4), *a, *b;
	int most = 0, before;
	pf_model_train_opts opts = { .level = PF_MODEL_LEVEL_MAX, .table_bits = 10,
				     .net_width = PF_NET_H1_MIN, .progress = blas_threads_record,
				     .progress_arg = &most };

	openblas_set_num_threads(1);
	a = train_opts(&opts, sample, len, &la);
	openblas_set_num_threads(2);
	before = openblas_get_num_threads();
	most = 0;
	b = train_opts(&opts, sample, len, &lb);
	ck_assert_int_eq(most, 1);
	ck_assert_int_eq(openblas_get_num_threads(), before);
	ck_assert_uint_eq(la, lb);
	ck_assert_int_eq(memcmp(a, b, la), 0);
	free(a);
	free(b);
	free(sample);
}
END_TEST

/* A run that takes its network from another model of the same sample
 * (net_from) makes the image a run that trains it makes, without training
 * (no loss curve); a lender of another shape, or with no network, is
 * refused. */
START_TEST(test_max_net_from)
{
	size_t len = 16 * 1024, la, lb, lc;
	uint8_t *sample = gen_text(len, 5), *a, *b, *c;
	struct loss_curve curve = { 0 };
	pf_model_train_opts opts = { .level = PF_MODEL_LEVEL_MAX, .table_bits = 10,
				     .net_width = PF_NET_H1_MIN, .loss = loss_record,
				     .loss_arg = &curve };
	pf_model *lender;
	void *none;

	a = train_opts(&opts, sample, len, &la);
	ck_assert_int_eq(pf_model_load(a, la, &lender), 0);
	opts.dict_bytes = 4096;
	b = train_opts(&opts, sample, len, &lb);
	curve.n = 0;
	opts.net_from = lender;
	c = train_opts(&opts, sample, len, &lc);
	ck_assert_uint_eq(curve.n, 0);
	ck_assert_uint_eq(lb, lc);
	ck_assert_int_eq(memcmp(b, c, lb), 0);
	opts.net_width = PF_NET_H1_MIN + PF_NET_H1_STEP;
	ck_assert_int_eq(pf_model_train(sample, len, &opts, &none, &lc), -EINVAL);
	opts.net_width = 0;
	opts.net_from = m_max_default;
	ck_assert_int_eq(pf_model_train(sample, len, &opts, &none, &lc), -EINVAL);
	pf_model_free(lender);
	free(a);
	free(b);
	free(c);
	free(sample);
}
END_TEST

/* A width that is no multiple of PF_NET_H1_STEP in PF_NET_H1_MIN..MAX is
 * refused at level max; below it the width is ignored and the image has
 * none. */
START_TEST(test_max_train_einval)
{
	static const unsigned bad[] = { 8, 24, 512, 1u << 31, PF_NET_H1_MIN - 1,
					PF_NET_H1_MIN - PF_NET_H1_STEP / 2,
					PF_NET_H1_MIN + PF_NET_H1_STEP / 2,
					PF_NET_H1_MAX + PF_NET_H1_STEP };
	pf_model_train_opts opts = { .level = PF_MODEL_LEVEL_MAX, .table_bits = 10 };
	uint8_t *img;
	void *none;
	size_t len;

	for (size_t k = 0; k < sizeof(bad) / sizeof(*bad); k++) {
		opts.net_width = bad[k];
		ck_assert_int_eq(pf_model_train("ab", 2, &opts, &none, &len), -EINVAL);
	}
	opts.level = PF_MODEL_LEVEL_DEFAULT; /* the last bad width still set */
	img = train_opts(&opts, "ab", 2, &len);
	ck_assert_uint_eq(pf_le32(img + 8), PF_CM_VERSION_WIDE);
	ck_assert_uint_eq(pf_le32(img + 56), 0);
	free(img);
}
END_TEST

/* net_rank sets the embedding rows' width (header u16 at 60) at level max,
 * within PF_NET_RANK_STEP multiples up to PF_NET_RANK_MAX and the width;
 * such a model codes. Other ranks are refused; below level max the rank
 * is ignored, as the width is. */
START_TEST(test_max_train_rank)
{
	static const struct {
		unsigned width, rank;
	} bad[] = { { 64, 8 }, { 64, 24 }, { 256, 80 }, { 256, 128 }, { 32, 48 }, { 32, 64 } };
	pf_model_train_opts opts = { .level = PF_MODEL_LEVEL_MAX, .table_bits = 10 };
	uint8_t *sample = gen_text(8192, 29), *img;
	pf_model_shape sh;
	pf_model *m;
	void *none;
	size_t len;

	for (size_t k = 0; k < sizeof(bad) / sizeof(*bad); k++) {
		opts.net_width = bad[k].width;
		opts.net_rank = bad[k].rank;
		ck_assert_int_eq(pf_model_train(sample, 8192, &opts, &none, &len), -EINVAL);
	}
	opts.net_width = 64;
	opts.net_rank = 48; /* the default at 64 is 16 */
	img = train_opts(&opts, sample, 8192, &len);
	ck_assert_uint_eq(pf_le32(img + 60) & 0xffff, 48);
	ck_assert_int_eq(pf_model_load(img, len, &m), 0);
	pf_model_get_shape(m, &sh);
	ck_assert_uint_eq(sh.net_rank, 48);
	ck_assert_uint_lt(round_trip(m, sample, 8192), 8192 / 3);
	pf_model_free(m);
	free(img);
	opts.level = PF_MODEL_LEVEL_DEFAULT; /* the bad rank ignored */
	opts.net_rank = 24;
	img = train_opts(&opts, sample, 8192, &len);
	ck_assert_uint_eq(pf_le32(img + 60), 0);
	free(img);
	free(sample);
}
END_TEST

/* The indirect features on a pattern of period 7: order k finds the same
 * k bytes one period back once a whole period stands before them (the
 * bytes before the block count as zeros), and then names the byte that
 * followed them; so does the word so far with the last byte (a word
 * starts one period back from the second byte on). */
START_TEST(test_max_indirect_step)
{
	static const unsigned order[PF_NET_INDIRECT_FEATS] = { 1, 2, 3, 4, 6, 8, 1 };
	static const char period[] = "abcdef "; /* 7 distinct bytes, one word */
	uint32_t *tab = calloc(PF_NET_INDIRECT_SLOTS, sizeof(*tab)), out[PF_NET_INDIRECT_FEATS];
	struct pf_net_ctx c = { 0 };
	uint8_t buf[200];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)period[i % 7];
	for (uint32_t pos = 1; pos < sizeof(buf); pos++) {
		pf_net_ctx_push(&c, buf[pos - 1]);
		pf_net_indirect_step(tab, buf, pos, &c, out);
		for (unsigned f = 0; f < PF_NET_INDIRECT_FEATS; f++)
			ck_assert_uint_eq(out[f], pos >= 7 + order[f] ? 1u + buf[pos] : 0);
	}
	free(tab);
}
END_TEST

/* A network of the narrowest shape with every token shard feature, with
 * or without the token outputs, its weights zero (caller frees *payload). */
static void token_net(struct pf_net *net, bool token_out, uint8_t **payload)
{
	struct pf_net_shape shape = { .h1 = PF_NET_H1_MIN, .rank = PF_NET_RANK_STEP,
				      .tokens = true, .match = true, .indirect = true,
				      .recent = true, .token_out = token_out };

	*payload = calloc(1, pf_net_payload_len(&shape));
	ck_assert_ptr_nonnull(*payload);
	pf_net_locate(net, &shape, *payload);
}

/* Pushes the little-endian token to c, stepping the recent tokens after
 * each byte; the first byte must leave them as they were. */
static void recent_push(const struct pf_net *net, struct pf_net_ctx *c, uint32_t token)
{
	int32_t before[PF_NET_RANK_MAX];

	memcpy(before, c->recent, sizeof(before));
	pf_net_ctx_push(c, token & 255);
	pf_net_recent_step(net, c);
	ck_assert_int_eq(memcmp(before, c->recent, sizeof(before)), 0);
	pf_net_ctx_push(c, token >> 8);
	pf_net_recent_step(net, c);
}

/* The recent tokens: a token's row enters when its second byte does, in
 * little-endian order; older tokens weigh 7/8 per token, within the
 * integer rounding of the float sum training uses; at the extremes the sum
 * stays within PF_NET_RECENT_MAX (the projection's int32 bound) and comes
 * near it. */
START_TEST(test_max_recent_step)
{
	struct pf_net net;
	uint8_t *payload;
	int8_t *row_a, *row_b;
	struct pf_net_ctx c = { 0 };
	double want[PF_NET_RANK_STEP] = { 0 };

	token_net(&net, true, &payload);
	row_a = (int8_t *)net.emb + (size_t)pf_net_recent_row(&net.shape, 0x0201) * net.shape.rank;
	row_b = (int8_t *)net.emb + (size_t)pf_net_recent_row(&net.shape, 0x0102) * net.shape.rank;
	ck_assert_ptr_ne(row_a, row_b);
	for (unsigned k = 0; k < net.shape.rank; k++)
		row_a[k] = (int8_t)(k * 17 - 128);
	recent_push(&net, &c, 0x0102);
	for (unsigned k = 0; k < net.shape.rank; k++)
		ck_assert_int_eq(c.recent[k], 0);
	recent_push(&net, &c, 0x0201);
	for (unsigned k = 0; k < net.shape.rank; k++)
		ck_assert_int_eq(c.recent[k], row_a[k] * (1 << PF_NET_RECENT_SHIFT));
	c = (struct pf_net_ctx){ 0 };
	for (unsigned k = 0; k < net.shape.rank; k++)
		row_b[k] = (int8_t)(100 - k * 13);
	for (unsigned t = 0; t < 300; t++) {
		const int8_t *row = t % 3 ? row_b : row_a;

		recent_push(&net, &c, t % 3 ? 0x0102 : 0x0201);
		for (unsigned k = 0; k < net.shape.rank; k++) {
			want[k] = want[k] * PF_NET_RECENT_DECAY / 256 + row[k];
			ck_assert_double_eq_tol(c.recent[k] / 256.0, want[k], 8.0 / 256);
		}
	}
	for (int sign = -1; sign <= 1; sign += 2) {
		int32_t most = 0;

		memset(row_a, sign < 0 ? -128 : 127, net.shape.rank);
		c = (struct pf_net_ctx){ 0 };
		for (unsigned t = 0; t < 1000; t++)
			recent_push(&net, &c, 0x0201);
		for (unsigned k = 0; k < net.shape.rank; k++) {
			int32_t sum = c.recent[k] >> PF_NET_RECENT_SHIFT;

			ck_assert_int_le(sum < 0 ? -sum : sum, PF_NET_RECENT_MAX);
			most = sum < 0 ? -sum : sum;
		}
		ck_assert_int_ge(most, PF_NET_RECENT_MAX - 10);
	}
	free(payload);
}
END_TEST

/* A text block, after a longer block of the same words. */
START_TEST(test_max_indirect_fresh)
{
	size_t len = 8 * 1024, other_len = 64 * 1024;
	uint8_t *p = gen_text(len, 43), *other = gen_text(other_len, 44);

	check_fresh(m_max, p, len, other, other_len);
	free(p), free(other);
}
END_TEST

/* Four threads decode the same level max block at once, three times each,
 * to the same bytes; two encodes give the same stored bytes. */
START_TEST(test_max_threads)
{
	size_t len = 16 * 1024;

	check_threads_agree(m_max, gen_text(len, 41), len, 4);
}
END_TEST

/* ---- hostile level max images ---- */

enum net_part { NET_B1, NET_B2, NET_U, NET_W2, NET_V, NET_PM, NET_ALL };

struct net_poke {
	enum net_part part;
	int32_t value; /* NET_ALL: the sign of the extremes */
};

/* Puts v, as a little-endian integer of `bytes` bytes, at what of raw's
 * network. */
static void net_put_bytes(uint8_t *raw, const void *what, size_t bytes, int32_t v)
{
	uint8_t *at = raw + ((const uint8_t *)what - raw);

	for (size_t i = 0; i < bytes; i++)
		at[i] = (uint8_t)((uint32_t)v >> (8 * i));
}

/* An entry of the network in the type that its part has (pf_net). */
#define NET_PUT(raw, entry, v) net_put_bytes(raw, entry, sizeof(*(entry)), v)

/* With the token outputs a token's second byte reads nodes of its own
 * (biases 256 on), without them the same nodes as the first. */
START_TEST(test_max_token_out)
{
	int16_t h2[PF_NET_H1_MIN / 2] = { 0 };
	struct pf_net_ctx first = { 0 }, second = { .pos = 1 };

	for (int token_out = 0; token_out <= 1; token_out++) {
		struct pf_net net;
		uint8_t *payload;

		token_net(&net, token_out, &payload);
		ck_assert_uint_eq(pf_net_nodes(&net.shape), token_out ? 512 : 256);
		NET_PUT(payload, net.u + 5, 3 << (PF_NET_ONE_SHIFT + PF_NET_W_SHIFT));
		if (token_out)
			NET_PUT(payload, net.u + 256 + 5, -(2 << (PF_NET_ONE_SHIFT + PF_NET_W_SHIFT)));
		ck_assert_int_eq(pf_net_logit(&net, &first, h2, 5), 3 << PF_NET_ONE_SHIFT);
		ck_assert_int_eq(pf_net_logit(&net, &second, h2, 5),
				 (token_out ? -2 : 3) * (1 << PF_NET_ONE_SHIFT));
		free(payload);
	}
}
END_TEST

/* Every entry of the network at the sign's extreme: the biases and dense
 * weights at their limits, the embeddings (never checked) at their type's. */
static void net_all_extreme(uint8_t *raw, const struct pf_net *net, int32_t sign)
{
	unsigned h1 = net->shape.h1;
	unsigned nodes = pf_net_nodes(&net->shape);
	size_t dense = (size_t)net->h2 * h1, out = (size_t)nodes * net->h2;
	size_t emb = pf_net_rows_total(&net->shape) * net->shape.rank;
	int32_t emb_max = (int32_t)((1u << (8 * sizeof(*net->emb) - 1)) - 1);

	for (size_t i = 0; i < (size_t)net->shape.rank * h1; i++)
		NET_PUT(raw, net->pm + i, sign * PF_NET_W_LIMIT);
	for (unsigned i = 0; i < h1; i++)
		NET_PUT(raw, net->b1 + i, sign * PF_NET_B_LIMIT);
	for (unsigned j = 0; j < net->h2; j++)
		NET_PUT(raw, net->b2 + j, sign * PF_NET_B_LIMIT);
	for (unsigned c = 0; c < nodes; c++)
		NET_PUT(raw, net->u + c, sign * PF_NET_B_LIMIT);
	for (size_t i = 0; i < emb; i++)
		NET_PUT(raw, net->emb + i, sign > 0 ? emb_max : -emb_max - 1);
	for (size_t i = 0; i < dense; i++)
		NET_PUT(raw, net->w2 + i, sign * PF_NET_W_LIMIT);
	for (size_t i = 0; i < out; i++)
		NET_PUT(raw, net->v + i, sign * PF_NET_W_LIMIT);
}

/* A level max payload without a slice ends with the network: sets the
 * last entry of one part to poke->value, or all of them to extremes. */
static void net_poke(const uint8_t *hdr, uint8_t *raw, size_t n, void *arg)
{
	const struct net_poke *p = arg;
	uint16_t features = pf_le16(hdr + 62);
	struct pf_net_shape shape = { .h1 = pf_le32(hdr + 56), .rank = pf_le16(hdr + 60),
				      .tokens = features & PF_NET_FEATURE_TOKENS,
				      .context = features & PF_NET_FEATURE_CONTEXT,
				      .match = features & PF_NET_FEATURE_MATCH,
				      .indirect = features & PF_NET_FEATURE_INDIRECT,
				      .recent = features & PF_NET_FEATURE_RECENT,
				      .token_out = features & PF_NET_FEATURE_TOKEN_OUT };
	struct pf_net net;

	ck_assert_uint_eq(pf_le32(hdr + 8), features & PF_CM_FEATURE_UNITS ? PF_CM_VERSION_UNITS
									  : PF_CM_VERSION_NET2);
	ck_assert_uint_eq(pf_le32(hdr + 48), 0);
	pf_net_locate(&net, &shape, raw + n - pf_net_payload_len(&shape));
	switch (p->part) {
	case NET_B1:
		NET_PUT(raw, net.b1 + shape.h1 - 1, p->value);
		break;
	case NET_B2:
		NET_PUT(raw, net.b2 + net.h2 - 1, p->value);
		break;
	case NET_U:
		NET_PUT(raw, net.u + pf_net_nodes(&shape) - 1, p->value);
		break;
	case NET_W2:
		NET_PUT(raw, net.w2 + (size_t)net.h2 * shape.h1 - 1, p->value);
		break;
	case NET_V:
		NET_PUT(raw, net.v + (size_t)pf_net_nodes(&shape) * net.h2 - 1, p->value);
		break;
	case NET_PM:
		NET_PUT(raw, net.pm + (size_t)shape.rank * shape.h1 - 1, p->value);
		break;
	case NET_ALL:
		net_all_extreme(raw, &net, p->value);
		break;
	}
}

/* img with poke applied loads (want 0) and round-trips text, or fails
 * with want. */
static void poked_load(const uint8_t *img, size_t len, struct net_poke poke, int want)
{
	uint8_t *edited = image_edited(img, &len, net_poke, &poke), *text = gen_text(3000, 8);
	pf_model *m;

	ck_assert_int_eq(pf_model_load(edited, len, &m), want);
	if (want == 0) {
		round_trip(m, text, 3000);
		pf_model_free(m);
	}
	free(edited);
	free(text);
}

/* A dense weight or bias one past its bound, either sign, fails to load;
 * at the bound it loads and codes. */
START_TEST(test_max_weight_limits)
{
	static const struct {
		enum net_part part;
		int32_t limit;
	} parts[] = { { NET_B1, PF_NET_B_LIMIT }, { NET_B2, PF_NET_B_LIMIT },
		      { NET_U, PF_NET_B_LIMIT },  { NET_W2, PF_NET_W_LIMIT },
		      { NET_V, PF_NET_W_LIMIT },  { NET_PM, PF_NET_W_LIMIT } };
	size_t len;
	uint8_t *img = small_max_image(&len);

	for (size_t k = 0; k < sizeof(parts) / sizeof(*parts); k++) {
		int32_t lim = parts[k].limit;

		poked_load(img, len, (struct net_poke){ parts[k].part, lim + 1 }, -EIO);
		poked_load(img, len, (struct net_poke){ parts[k].part, -lim - 1 }, -EIO);
		poked_load(img, len, (struct net_poke){ parts[k].part, lim }, 0);
		poked_load(img, len, (struct net_poke){ parts[k].part, -lim }, 0);
	}
	poked_load(img, len, (struct net_poke){ NET_B1, INT32_MIN }, -EIO);
	poked_load(img, len, (struct net_poke){ NET_W2, INT16_MIN }, -EIO);
	free(img);
}
END_TEST

/* Every weight of the narrowest and the widest network at its extreme,
 * either sign, cold or with the token features, with or without the
 * context features (with both, all PF_NET_FEATS_MAX rows are in the bag):
 * the load-time bounds must keep inference inside int32 (UBSan watches),
 * and such a model still codes and decodes. */
START_TEST(test_max_extreme_net)
{
	unsigned width = _i & 1 ? PF_MODEL_NET_WIDTH_MAX : PF_MODEL_NET_WIDTH_MIN;
	size_t len, n = _i & 4 ? MAX_SAMPLE : 0;
	bool context = _i & 8;
	uint8_t *sample = n ? gen_tokens(n, 5) : NULL;
	uint8_t *img = train_max_with(10, width, context, sample, n, &len);

	ck_assert_uint_eq(pf_le32(img + 56), width);
	ck_assert_uint_eq(pf_le16(img + 62),
			  (n ? PF_NET_FEATURE_TOKENS | PF_NET_FEATURE_RECENT | PF_NET_FEATURE_TOKEN_OUT |
				       PF_CM_FEATURE_UNITS
			     : 0) |
				  (context ? PF_NET_FEATURE_CONTEXT : 0) | PF_NET_FEATURE_MATCH |
				  PF_NET_FEATURE_INDIRECT);
	poked_load(img, len, (struct net_poke){ NET_ALL, _i & 2 ? -1 : 1 }, 0);
	free(img);
	free(sample);
}
END_TEST

/* Bad network widths, embedding widths or features in a format 6 header,
 * a level max image claiming another format or level, a DEFAULT image with
 * a width, an embedding width or format 5 or 6: -EIO. */
START_TEST(test_max_hostile_header)
{
	/* the last one is valid, but not this payload's */
	static const uint32_t bad_width[] = { 0, 8, 24, 512, 0xffffffffu, PF_NET_H1_MIN - 1,
					      PF_NET_H1_MIN + PF_NET_H1_STEP / 2,
					      PF_NET_H1_MAX + PF_NET_H1_STEP,
					      PF_NET_H1_MIN + PF_NET_H1_STEP };
	size_t len, dlen = img_max_default_len;
	uint8_t *img = small_max_image(&len), *copy = malloc(len > dlen ? len : dlen);
	pf_model *m;

	for (size_t k = 0; k < sizeof(bad_width) / sizeof(*bad_width); k++) {
		memcpy(copy, img, len);
		pf_put_le32(copy + 56, bad_width[k]);
		ck_assert_int_eq(pf_model_load(copy, len, &m), -EIO);
		ck_assert_ptr_null(m);
	}
	/* the image's own rank is 16 (h1 32), the match and the indirect
	 * features only; the recent tokens and the token outputs need the
	 * token features (32, 52, 64, 84); the last ten are valid shapes, but
	 * not this payload's */
	static const uint32_t bad_shape[] = { 0, 8, 24, 40, PF_NET_H1_MIN + PF_NET_RANK_STEP,
					      PF_NET_RANK_MAX + PF_NET_RANK_STEP, 0xffff,
					      16 | 8u << 16, 16 | 0x8000u << 16, 16 | 128u << 16,
					      16 | 32u << 16, 16 | 52u << 16, 16 | 64u << 16,
					      16 | 84u << 16, 16 | 28u << 16, 16 | 1u << 16,
					      16 | 2u << 16, 16 | 3u << 16, 16, 16 | 7u << 16,
					      16 | 4u << 16, 16 | 16u << 16, 16 | 53u << 16,
					      16 | 117u << 16, PF_NET_H1_MIN | 20u << 16 };

	for (size_t k = 0; k < sizeof(bad_shape) / sizeof(*bad_shape); k++) {
		memcpy(copy, img, len);
		pf_put_le32(copy + 60, bad_shape[k]);
		ck_assert_int_eq(pf_model_load(copy, len, &m), -EIO);
	}
	memcpy(copy, img, len);
	pf_put_le32(copy + 8, PF_CM_VERSION_NET);
	ck_assert_int_eq(pf_model_load(copy, len, &m), -EIO);
	memcpy(copy, img, len);
	pf_put_le32(copy + 8, PF_CM_VERSION_WIDE);
	ck_assert_int_eq(pf_model_load(copy, len, &m), -EIO);
	memcpy(copy, img, len);
	pf_put_le32(copy + 12, PF_MODEL_LEVEL_DEFAULT);
	ck_assert_int_eq(pf_model_load(copy, len, &m), -EIO);
	for (unsigned width = PF_NET_H1_MIN; width <= PF_NET_H1_MAX;
	     width += PF_NET_H1_MAX - PF_NET_H1_MIN) {
		memcpy(copy, img_max_default, dlen);
		pf_put_le32(copy + 56, width);
		ck_assert_int_eq(pf_model_load(copy, dlen, &m), -EIO);
	}
	for (uint32_t v = PF_CM_VERSION_NET; v <= PF_CM_VERSION_NET2; v++) {
		memcpy(copy, img_max_default, dlen);
		pf_put_le32(copy + 8, v);
		ck_assert_int_eq(pf_model_load(copy, dlen, &m), -EIO);
	}
	memcpy(copy, img_max_default, dlen);
	pf_put_le32(copy + 60, PF_NET_RANK_STEP);
	ck_assert_int_eq(pf_model_load(copy, dlen, &m), -EIO);
	memcpy(copy, img, len); /* the copy itself is good */
	ck_assert_int_eq(pf_model_load(copy, len, &m), 0);
	pf_model_free(m);
	free(img);
	free(copy);
}
END_TEST

/* Cuts of img at 0, step, 2 step, ... and at each of its last 64 bytes
 * fail to load. */
static void truncations_fail(const uint8_t *img, size_t len, size_t step)
{
	pf_model *m;

	for (size_t cut = 0; cut < len; cut += cut + 64 >= len ? 1 : step) {
		ck_assert_int_eq(pf_model_load(img, cut, &m), -EIO);
		ck_assert_ptr_null(m);
	}
}

/* Every truncation of a cold level max image (1 KB; each cut costs a
 * payload's decompression, about 0.5 MB) and every 13th of a trained one
 * fail, and so does a byte too many; a byte flip either fails to load or
 * loads a model that codes. */
START_TEST(test_max_hostile_image)
{
	size_t len, cold_len;
	uint8_t *img = small_max_image(&len), *copy = malloc(len + 1), *text = gen_text(3000, 8);
	uint8_t *cold = train_max(10, PF_NET_H1_MIN, NULL, 0, &cold_len);
	uint64_t s = 29;
	pf_model *m;

	truncations_fail(cold, cold_len, 1);
	truncations_fail(img, len, 13);
	free(cold);
	memcpy(copy, img, len);
	copy[len] = 0;
	ck_assert_int_eq(pf_model_load(copy, len + 1, &m), -EIO);
	flip_sweep(img, copy, len, 200, &s, text);
	free(img);
	free(copy);
	free(text);
}
END_TEST

/* ---- the network's AVX2 kernel against the scalar reference ---- */

/* The network's AVX2 dot product gives the scalar sums for every length
 * it serves (multiples of 16 up to the widest layer), at the extremes the
 * load-time bounds allow (dense weights, tanh outputs) and random inside. */
START_TEST(test_simd_net_dot)
{
	int16_t w[PF_NET_H1_MAX], h[PF_NET_H1_MAX];
	uint64_t s = 31;

	if (!__builtin_cpu_supports("avx2"))
		return;
	for (int k = 0; k < SIMD_ROUNDS / 4; k++) {
		unsigned n = k < 4 ? PF_NET_H1_MAX
				   : 16 * (1 + (unsigned)(rng_next(&s) % (PF_NET_H1_MAX / 16)));

		/* rounds 0, 1: both at one sign's extreme; 2, 3: opposite signs */
		for (unsigned i = 0; i < n; i++) {
			w[i] = (int16_t)rnd_in(&s, k, PF_NET_W_LIMIT);
			h[i] = (int16_t)rnd_in(&s, k < 2 ? k : k ^ 1, 1 << PF_NET_ONE_SHIFT);
		}
		ck_assert_int_eq(pf_net_dot_avx2(w, h, n), pf_net_dot_scalar(w, h, n));
	}
}
END_TEST

/* ---- level max golden vector and BLAS environments ---- */

/* Trains the format 7 golden image with the context features (on token
 * ids: every feature, the match feature and the phase-aware contexts
 * too), writes it and prints its constants. The older ones are frozen. */
static void golden_max_write(void)
{
	size_t len;
	uint8_t *sample = gen_tokens(MAX_SAMPLE, 1);
	uint8_t *img = train_max_with(12, GOLDEN_MAX_WIDTH, true, sample, MAX_SAMPLE, &len);
	FILE *f = fopen(GOLDEN_MAX7R_PATH, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(img, 1, len, f), len);
	fclose(f);
	printf("GOLDEN_MAX7R_IMAGE 0x%016llxULL GOLDEN_MAX7R_CODED 0x%016llxULL\n",
	       (unsigned long long)XXH3_64bits(img, len),
	       (unsigned long long)golden_both_kernels(img, len, golden_coded_hash));
	fflush(stdout);
	free(img);
	free(sample);
}

/* The golden vectors: each committed image and what it codes the golden
 * input to, with the detected kernels and the scalar ones. All but the
 * newest are frozen (training writes format 6 with the match and the
 * indirect features, or 7 for data in 16-bit units, with the recent tokens
 * feature), so they guard that
 * older level max images still decode as they did. */
START_TEST(test_golden_max)
{
	static const struct {
		const char *path;
		uint32_t version, shape;
		uint64_t image, coded;
	} golden[] = {
		{ GOLDEN_MAX_PATH, PF_CM_VERSION_NET, 0, GOLDEN_MAX_IMAGE, GOLDEN_MAX_CODED },
		{ GOLDEN_MAX6_PATH, PF_CM_VERSION_NET2, 16 | 1u << 16,
		  GOLDEN_MAX6_IMAGE, GOLDEN_MAX6_CODED },
		{ GOLDEN_MAX6C_PATH, PF_CM_VERSION_NET2, 16 | 3u << 16,
		  GOLDEN_MAX6C_IMAGE, GOLDEN_MAX6C_CODED },
		{ GOLDEN_MAX6M_PATH, PF_CM_VERSION_NET2, 16 | 7u << 16,
		  GOLDEN_MAX6M_IMAGE, GOLDEN_MAX6M_CODED },
		{ GOLDEN_MAX7_PATH, PF_CM_VERSION_UNITS, 16 | 15u << 16,
		  GOLDEN_MAX7_IMAGE, GOLDEN_MAX7_CODED },
		{ GOLDEN_MAX7I_PATH, PF_CM_VERSION_UNITS, 16 | 31u << 16,
		  GOLDEN_MAX7I_IMAGE, GOLDEN_MAX7I_CODED },
		{ GOLDEN_MAX7R_PATH, PF_CM_VERSION_UNITS, 16 | 127u << 16,
		  GOLDEN_MAX7R_IMAGE, GOLDEN_MAX7R_CODED },
	};

	if (getenv("PF_MODEL_GOLDEN_WRITE"))
		golden_max_write();
	for (size_t k = 0; k < sizeof(golden) / sizeof(*golden); k++) {
		size_t len;
		uint8_t *img = golden_read(golden[k].path, &len);

		ck_assert_uint_eq(pf_le32(img + 8), golden[k].version);
		ck_assert_uint_eq(pf_le32(img + 56), GOLDEN_MAX_WIDTH);
		ck_assert_uint_eq(pf_le32(img + 60), golden[k].shape);
		ck_assert_uint_eq(XXH3_64bits(img, len), golden[k].image);
		ck_assert_uint_eq(golden_both_kernels(img, len, golden_coded_hash), golden[k].coded);
		free(img);
	}
}
END_TEST

/* The level max seeds of the fuzz_model corpus, in tests/fuzz/fuzz_model.c's
 * layout: a 3-byte image length, a 2-byte plain length, the image, the
 * stored bytes. Each holds an image of the narrowest network trained on
 * sample_len bytes of text, token ids or FASTQ (0: a cold one) and
 * plain_len bytes of other text coded with it, so that the fuzzer starts
 * inside the network's code paths. Only the newest is written again:
 * training writes format 7 for token ids and 8 for FASTQ, and the older
 * seeds keep the older images in the corpus. */
#define FUZZ_SEED_DIR PF_SRCDIR "/tests/fuzz/corpus/model/"
#define FUZZ_SEED_TEXT 61 /* gen_text() seed of the coded text */

static const struct fuzz_seed {
	const char *path;
	size_t sample_len, plain_len;
	bool tokens, context, frozen, fastq;
} max_seeds[] = {
	{ FUZZ_SEED_DIR "valid-max", 1024, 700, false, false, true, false },
	{ FUZZ_SEED_DIR "valid-max-cold", 0, 300, false, false, true, false },
	{ FUZZ_SEED_DIR "valid-max6", 1024, 700, false, false, true, false },
	{ FUZZ_SEED_DIR "valid-max6-tokens", 16 * 1024, 500, true, false, true, false },
	{ FUZZ_SEED_DIR "valid-max6-context", 16 * 1024, 500, true, true, true, false },
	{ FUZZ_SEED_DIR "valid-max6-match", 16 * 1024, 500, true, true, true, false },
	{ FUZZ_SEED_DIR "valid-max7-units", MAX_SAMPLE, 500, true, true, true, false },
	{ FUZZ_SEED_DIR "valid-max7-indirect", MAX_SAMPLE, 500, true, true, true, false },
	{ FUZZ_SEED_DIR "valid-max7-recent", MAX_SAMPLE, 500, true, true, true, false },
	{ FUZZ_SEED_DIR "valid-max8-fastq", MAX_SAMPLE, 500, false, false, false, true },
};

static void fuzz_seed_write(const struct fuzz_seed *fs)
{
	size_t img_len, cap = 2 * fs->plain_len + 64;
	uint8_t *sample = fs->tokens ? gen_tokens(fs->sample_len, 23)
			  : fs->fastq ? gen_fastq(fs->sample_len, 23) : gen_text(fs->sample_len, 23);
	uint8_t *p = gen_text(fs->plain_len, FUZZ_SEED_TEXT);
	uint8_t *img = train_max_with(10, PF_NET_H1_MIN, fs->context,
				      fs->sample_len ? sample : NULL, fs->sample_len, &img_len);
	uint8_t *out = malloc(cap), head[5];
	FILE *f = fopen(fs->path, "wb");
	pf_model *m;
	ssize_t n;

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_lt(img_len, 1u << 24);
	ck_assert_int_eq(pf_model_load(img, img_len, &m), 0);
	n = pf_model_encode(m, p, fs->plain_len, out, cap);
	ck_assert_int_gt(n, 0);
	head[0] = (uint8_t)img_len;
	head[1] = (uint8_t)(img_len >> 8);
	head[2] = (uint8_t)(img_len >> 16);
	pf_put_le16(head + 3, (uint16_t)fs->plain_len);
	ck_assert_uint_eq(fwrite(head, 1, 5, f), 5);
	ck_assert_uint_eq(fwrite(img, 1, img_len, f), img_len);
	ck_assert_uint_eq(fwrite(out, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	pf_model_free(m);
	free(sample);
	free(p);
	free(img);
	free(out);
}

/* The committed seeds still hold a level max image that loads and stored
 * bytes that decode to their text: after a format change they must be
 * written again (PF_MODEL_GOLDEN_WRITE), or the fuzzer would only see
 * images it rejects. */
START_TEST(test_fuzz_seeds_max)
{
	for (size_t k = 0; k < sizeof(max_seeds) / sizeof(*max_seeds); k++) {
		const struct fuzz_seed *fs = &max_seeds[k];
		size_t len, img_len, plain_len;
		uint8_t *seed, *want = gen_text(fs->plain_len, FUZZ_SEED_TEXT), *back;
		pf_model *m;

		if (getenv("PF_MODEL_GOLDEN_WRITE") && !fs->frozen)
			fuzz_seed_write(fs);
		seed = golden_read(fs->path, &len);
		ck_assert_uint_gt(len, 5);
		img_len = seed[0] | (size_t)seed[1] << 8 | (size_t)seed[2] << 16;
		plain_len = pf_le16(seed + 3);
		ck_assert_uint_eq(plain_len, fs->plain_len);
		ck_assert_uint_lt(img_len, len - 5);
		ck_assert_int_eq(pf_model_load(seed + 5, img_len, &m), 0);
		ck_assert_int_eq(pf_model_get_level(m), PF_MODEL_LEVEL_MAX);
		back = malloc(plain_len);
		ck_assert_int_eq(pf_model_decode(m, seed + 5 + img_len, len - 5 - img_len, back,
						 plain_len), 0);
		ck_assert_int_eq(memcmp(back, want, plain_len), 0);
		pf_model_free(m);
		free(seed);
		free(want);
		free(back);
	}
}
END_TEST

/* Child mode (CHILD_ENV set): codes the golden input with the image at
 * path and prints the stored bytes' hash. Plain C, no Check: this runs
 * outside any test. @return the exit status, 0 when it decoded back. */
static int child_code(const char *path)
{
	static uint8_t img[1 << 20], p[GOLDEN_LEN], out[2 * GOLDEN_LEN], back[GOLDEN_LEN];
	FILE *f = fopen(path, "rb");
	size_t len = f ? fread(img, 1, sizeof(img), f) : 0;
	pf_model *m = NULL;
	ssize_t n = -1;
	int ok;

	if (f)
		fclose(f);
	fill_text(p, GOLDEN_LEN, 99);
	if (pf_model_load(img, len, &m) == 0)
		n = pf_model_encode(m, p, GOLDEN_LEN, out, sizeof(out));
	ok = n > 0 && pf_model_decode(m, out, (size_t)n, back, GOLDEN_LEN) == 0 &&
	     memcmp(back, p, GOLDEN_LEN) == 0;
	if (ok)
		printf("%016llx\n", (unsigned long long)XXH3_64bits(out, (size_t)n));
	pf_model_free(m);
	return ok ? 0 : 1;
}

/* Runs this binary again in child mode on path, with env_add (NULL
 * ended) ahead of the inherited environment (getenv takes the first
 * match): OpenBLAS reads its variables when it is loaded, so only a new
 * process sees them. @return the hash the child printed. */
static uint64_t code_in_child(const char *path, const char *const *env_add)
{
	extern char **environ;
	static char name[] = "check_model_max";
	char child_arg[4096], *argv[] = { name, NULL }, **envp;
	size_t n_add = 0, n_env = 0;
	unsigned long long h = 0;
	int fds[2], status;
	pid_t pid;
	FILE *f;

	while (env_add[n_add])
		n_add++;
	while (environ[n_env])
		n_env++;
	envp = calloc(n_add + n_env + 2, sizeof(*envp));
	ck_assert_ptr_nonnull(envp);
	ck_assert_int_lt(snprintf(child_arg, sizeof(child_arg), CHILD_ENV "=%s", path),
			 (int)sizeof(child_arg));
	envp[0] = child_arg;
	memcpy(envp + 1, env_add, n_add * sizeof(*envp));
	memcpy(envp + 1 + n_add, environ, n_env * sizeof(*envp));
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		execve("/proc/self/exe", argv, envp);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%llx", &h), 1);
	fclose(f);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	free(envp);
	return h;
}

/* Coding never calls BLAS: the golden max image codes the golden input to
 * the same bytes in processes with other OpenBLAS thread counts and core
 * types (they change how training rounds), and with the scalar kernels. */
START_TEST(test_max_env)
{
	static const char *const envs[][3] = {
		{ "OPENBLAS_NUM_THREADS=1", "OPENBLAS_CORETYPE=Prescott", NULL },
		{ "OPENBLAS_NUM_THREADS=2", "OPENBLAS_CORETYPE=Nehalem", NULL },
		{ "PF_CM_SCALAR=1", NULL, NULL },
	};
	size_t len;
	uint8_t *img = golden_read(GOLDEN_MAX_PATH, &len);
	pf_model *m;
	uint64_t here;

	ck_assert_int_eq(pf_model_load(img, len, &m), 0);
	here = golden_coded_hash(m);
	for (size_t k = 0; k < sizeof(envs) / sizeof(*envs); k++)
		ck_assert_uint_eq(code_in_child(GOLDEN_MAX_PATH, envs[k]), here);
	pf_model_free(m);
	free(img);
}
END_TEST

static Suite *model_max_suite(void)
{
	Suite *s = suite_create("model_max");
	TCase *tc;

	tc = tcase_create("max");
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, max_setup, max_teardown);
	tcase_add_test(tc, test_max_shape);
	tcase_add_test(tc, test_max_indirect_step);
	tcase_add_test(tc, test_max_indirect_fresh);
	tcase_add_test(tc, test_max_recent_step);
	tcase_add_test(tc, test_max_token_out);
	tcase_add_test(tc, test_max_token_features);
	tcase_add_test(tc, test_max_fastq);
	tcase_add_loop_test(tc, test_max_roundtrip, 0, 9);
	tcase_add_test(tc, test_max_vs_default);
	tcase_add_test(tc, test_max_train_repeatable);
	tcase_add_test(tc, test_max_net_from);
	tcase_add_test(tc, test_max_train_blas_threads);
	tcase_add_test(tc, test_max_train_einval);
	tcase_add_test(tc, test_max_train_rank);
	tcase_add_test(tc, test_max_threads);
	tcase_add_test(tc, test_max_weight_limits);
	tcase_add_loop_test(tc, test_max_extreme_net, 0, 16);
	tcase_add_test(tc, test_max_hostile_header);
	tcase_add_test(tc, test_max_hostile_image);
	tcase_add_test(tc, test_golden_max);
	tcase_add_test(tc, test_fuzz_seeds_max);
	tcase_add_test(tc, test_max_env);
	suite_add_tcase(s, tc);

	tc = tcase_create("simd");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_simd_net_dot);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *child = getenv(CHILD_ENV);
	SRunner *sr;
	int failed;

	if (child)
		return child_code(child);
	sr = srunner_create(model_max_suite());

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
