/* SPDX-License-Identifier: MIT */
/*
 * check_prior.c - unit tests of libprior's public model calls (prior.h):
 * train, load and free models, code blocks with them, and refuse bad
 * models and missing ones with the documented errors.
 *
 * The public calls must give the codec layer's bytes exactly (one encoder,
 * two doors), so one test encodes through both and compares. Models are
 * trained once in main(), before the forks, on generated text.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit_data.h"
#include "codec/codec.h"
#include "common/pf_sha256.h"
#include "prior.h"

#define SAMPLE_LEN (384u << 10)
#define BLOCK_LEN (64u << 10)

/* ---- test data ------------------------------------------------------------ */

/* Sentences of words and numbers: text a model learns, different per seed. */
static uint8_t *gen_text(size_t len, uint64_t seed)
{
	static const char *const words[] = {
		"model ",  "sample ", "block ",  "train ",  "the ",    "a ",
		"decode ", "of ",     "stream ", "bytes ",  "mixer ",  "context ",
		"table ",  "weight ", "and ",    "coder ",  "library ", "image ",
	};
	uint8_t *p = malloc(len);
	uint64_t s = seed | 1;
	size_t i = 0;

	if (!p)
		abort(); /* also called from main(), outside any test */
	while (i < len) {
		uint64_t r = rng_next(&s);
		char num[24];
		const char *w = (r & 15) == 0 ? num : words[(r >> 8) % 18];

		snprintf(num, sizeof(num), "%u.\n", (unsigned)(r >> 40) % 1000);
		for (; *w && i < len; w++)
			p[i++] = (uint8_t)*w;
	}
	return p;
}

/* ---- shared models: made in main(), before the forks -------------------- */

static void *img;          /* trained on gen_text(SAMPLE_LEN, 1) */
static size_t img_len;
static void *cold_img;     /* trained on nothing: a different model */
static size_t cold_len;
static unsigned progress_calls;
static uint64_t progress_done, progress_total;

/* Counts calls made with the right argument (runs in main(), where
 * ck_assert cannot). */
static void on_progress(void *arg, uint64_t done, uint64_t total)
{
	if (arg == &progress_calls)
		progress_calls++;
	progress_done = done;
	progress_total = total;
}

/* Outside any test, so failures exit instead of ck_assert. */
static void models_train(void)
{
	prior_train_opts opts = { .level = PRIOR_MODEL_LEVEL_FAST, .table_bits = 12,
				  .progress = on_progress,
				  .progress_arg = &progress_calls };
	uint8_t *sample = gen_text(SAMPLE_LEN, 1);
	enum prior_error err;

	err = prior_model_train(sample, SAMPLE_LEN, &opts, &img, &img_len);
	opts.progress = NULL;
	if (err == PRIOR_OK)
		err = prior_model_train(NULL, 0, &opts, &cold_img, &cold_len);
	free(sample);
	if (err != PRIOR_OK) {
		fprintf(stderr, "check_prior: prior_model_train: %s\n", prior_error_name(err));
		exit(EXIT_FAILURE);
	}
}

static prior_model *load_ok(const void *image, size_t len)
{
	prior_model *m = NULL;

	ck_assert_int_eq(prior_model_load(image, len, &m), PRIOR_OK);
	ck_assert_ptr_nonnull(m);
	return m;
}

/* Encodes one block; returns the stored bytes (caller frees). */
static uint8_t *encode(const prior_model *m, enum prior_choice choice,
		       const uint8_t *src, size_t len, size_t *out_len,
		       enum prior_codec *codec)
{
	uint8_t *dst = malloc(prior_encode_bound(len));

	ck_assert_ptr_nonnull(dst);
	ck_assert_int_eq(prior_encode_block_model(m, choice, 0, src, len, dst,
						  prior_encode_bound(len), out_len,
						  codec),
			 PRIOR_OK);
	return dst;
}

/* ---- train ------------------------------------------------------------------ */

START_TEST(test_train_progress)
{
	ck_assert_uint_gt(img_len, 64);
	ck_assert_uint_gt(progress_calls, 0);
	ck_assert_uint_eq(progress_done, SAMPLE_LEN);
	ck_assert_uint_eq(progress_total, SAMPLE_LEN);
}
END_TEST

START_TEST(test_train_bad_args)
{
	prior_train_opts opts = { .level = PRIOR_MODEL_LEVEL_FAST, .table_bits = 5 };
	void *out = (void *)1;
	size_t len = 1;

	ck_assert_int_eq(prior_model_train("ab", 2, &opts, &out, &len),
			 PRIOR_ERROR_BAD_ARGUMENT);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(len, 0);
	opts = (prior_train_opts){ .level = (enum prior_model_level)7 };
	ck_assert_int_eq(prior_model_train("ab", 2, &opts, &out, &len),
			 PRIOR_ERROR_BAD_ARGUMENT);
	opts = (prior_train_opts){ .reserved[2] = 1 };
	ck_assert_int_eq(prior_model_train("ab", 2, &opts, &out, &len),
			 PRIOR_ERROR_BAD_ARGUMENT);
	ck_assert_int_eq(prior_model_train(NULL, 2, NULL, &out, &len),
			 PRIOR_ERROR_BAD_ARGUMENT);
	ck_assert_int_eq(prior_model_train("ab", 2, NULL, NULL, &len),
			 PRIOR_ERROR_BAD_ARGUMENT);
	prior_free(NULL);
}
END_TEST

/* Bad widths, a width or network features at a level without a network,
 * an unknown feature flag and a reserved word set are refused before any
 * training. */
START_TEST(test_train_bad_net_width)
{
	static const uint32_t bad[] = { 8, 16, 48, 100, 288, 1u << 31 };
	prior_train_opts opts = { .level = PRIOR_MODEL_LEVEL_MAX };
	void *out = (void *)1;
	size_t len = 1;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		opts.net_width = bad[i];
		ck_assert_int_eq(prior_model_train("ab", 2, &opts, &out, &len),
				 PRIOR_ERROR_BAD_ARGUMENT);
		ck_assert_ptr_null(out);
	}
	opts = (prior_train_opts){ .level = PRIOR_MODEL_LEVEL_DEFAULT, .net_width = 32 };
	ck_assert_int_eq(prior_model_train("ab", 2, &opts, &out, &len),
			 PRIOR_ERROR_BAD_ARGUMENT);
	opts = (prior_train_opts){ .level = PRIOR_MODEL_LEVEL_DEFAULT,
				   .net_features = PRIOR_NET_CONTEXT };
	ck_assert_int_eq(prior_model_train("ab", 2, &opts, &out, &len),
			 PRIOR_ERROR_BAD_ARGUMENT);
	opts = (prior_train_opts){ .level = PRIOR_MODEL_LEVEL_MAX,
				   .net_features = PRIOR_NET_CONTEXT << 1 };
	ck_assert_int_eq(prior_model_train("ab", 2, &opts, &out, &len),
			 PRIOR_ERROR_BAD_ARGUMENT);
	opts = (prior_train_opts){ .level = PRIOR_MODEL_LEVEL_MAX, .reserved = { 0, 0, 1 } };
	ck_assert_int_eq(prior_model_train("ab", 2, &opts, &out, &len),
			 PRIOR_ERROR_BAD_ARGUMENT);
}
END_TEST

/* Codes plain (BLOCK_LEN bytes) with m and choice: LEARNED, smaller than
 * zstd alone makes it, and back; the model ignores other codecs' blocks. */
static void check_learned_roundtrip(prior_model *m, enum prior_choice choice,
				    const uint8_t *plain)
{
	uint8_t *back = malloc(BLOCK_LEN), *stored, *z;
	enum prior_codec codec, zcodec;
	size_t n, zn;

	stored = encode(m, choice, plain, BLOCK_LEN, &n, &codec);
	z = encode(NULL, PRIOR_CHOICE_ZSTD, plain, BLOCK_LEN, &zn, &zcodec);
	ck_assert_int_eq(codec, PRIOR_CODEC_LEARNED);
	ck_assert_int_eq(zcodec, PRIOR_CODEC_ZSTD);
	ck_assert_uint_lt(n, zn);
	memset(back, 0xa5, BLOCK_LEN);
	ck_assert_int_eq(prior_decode_block_model(m, codec, stored, n, back, BLOCK_LEN),
			 PRIOR_OK);
	ck_assert_mem_eq(back, plain, BLOCK_LEN);
	/* The model ignores other codecs' blocks. */
	memset(back, 0, BLOCK_LEN);
	ck_assert_int_eq(prior_decode_block_model(m, zcodec, z, zn, back, BLOCK_LEN),
			 PRIOR_OK);
	ck_assert_mem_eq(back, plain, BLOCK_LEN);
	free(back), free(stored), free(z);
}

#define MAX_SAMPLE_LEN (96u << 10) /* level max trains ~15x slower */

/* A level max model of a chosen width, trained through the public call
 * (_i: with the context features), is a format 6 image with that network,
 * and codes a block of text like its sample smaller than zstd and back. */
START_TEST(test_train_max)
{
	prior_train_opts opts = { .level = PRIOR_MODEL_LEVEL_MAX, .table_bits = 12,
				  .net_width = 32, .net_features = _i ? PRIOR_NET_CONTEXT : 0 };
	uint8_t *sample = gen_text(MAX_SAMPLE_LEN, 5), *plain = gen_text(BLOCK_LEN, 6);
	pf_model_shape shape;
	prior_model *m;
	pf_model *pm;
	size_t max_len;
	void *max_img;

	ck_assert_int_eq(prior_model_train(sample, MAX_SAMPLE_LEN, &opts, &max_img, &max_len),
			 PRIOR_OK);
	ck_assert_int_eq(pf_codec_model_load(max_img, max_len, &pm), 0);
	ck_assert_int_eq(pf_codec_model_level(pm), PF_MODEL_LEVEL_MAX);
	pf_codec_model_shape(pm, &shape);
	ck_assert_uint_eq(shape.version, 6);
	ck_assert_uint_eq(shape.net_width, 32);
	ck_assert_int_eq(shape.net_context, _i);
	pf_codec_model_free(pm);

	m = load_ok(max_img, max_len);
	check_learned_roundtrip(m, PRIOR_CHOICE_AUTO, plain);
	prior_model_free(m);
	prior_free(max_img);
	free(sample), free(plain);
}
END_TEST

/* ---- round trips -------------------------------------------------------- */

/* _i: 0 LEARNED, 1 AUTO. Text the model was trained on codes as LEARNED
 * either way, and smaller than zstd alone makes it. */
START_TEST(test_roundtrip)
{
	enum prior_choice choice = _i ? PRIOR_CHOICE_AUTO : PRIOR_CHOICE_LEARNED;
	uint8_t *plain = gen_text(BLOCK_LEN, 2);
	prior_model *m = load_ok(img, img_len);

	check_learned_roundtrip(m, choice, plain);
	prior_model_free(m);
	free(plain);
}
END_TEST

/* The public call and pf_codec_encode() give the same bytes and codec id,
 * for the same image, with every choice. */
START_TEST(test_same_bytes_as_codec_layer)
{
	static const enum pf_codec_choice layer[] = { PF_CHOICE_AUTO, PF_CHOICE_ZSTD,
						      PF_CHOICE_RAW, PF_CHOICE_LEARNED };
	uint8_t *plain = gen_text(BLOCK_LEN, 3), *stored, *ref;
	pf_codec_params params = { .choice = layer[_i],
				   .zstd_level = PF_ZSTD_LEVEL_DEFAULT,
				   .min_saving = PF_MIN_SAVING_DEFAULT };
	prior_model *m = load_ok(img, img_len);
	pf_model *pm;
	enum prior_codec codec;
	uint8_t ref_codec;
	ssize_t ref_n;
	size_t n;

	ck_assert_int_eq(pf_codec_model_load(img, img_len, &pm), 0);
	params.model = pm;
	ref = malloc(pf_codec_bound(BLOCK_LEN));
	ck_assert_ptr_nonnull(ref);
	ref_n = pf_codec_encode(&params, plain, BLOCK_LEN, ref, pf_codec_bound(BLOCK_LEN),
				&ref_codec);
	ck_assert_int_gt(ref_n, 0);
	stored = encode(m, (enum prior_choice)_i, plain, BLOCK_LEN, &n, &codec);
	ck_assert_uint_eq(n, (size_t)ref_n);
	ck_assert_int_eq(codec, ref_codec);
	ck_assert_mem_eq(stored, ref, n);
	pf_codec_model_free(pm);
	prior_model_free(m);
	free(plain), free(stored), free(ref);
}
END_TEST

/* The loaded model does not need the caller's bytes (prior.h: it copies). */
START_TEST(test_load_copies)
{
	uint8_t *copy = malloc(img_len), *plain = gen_text(BLOCK_LEN, 4), *stored;
	uint8_t *back = malloc(BLOCK_LEN);
	enum prior_codec codec;
	prior_model *m;
	size_t n;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, img, img_len);
	m = load_ok(copy, img_len);
	memset(copy, 0, img_len);
	free(copy);
	stored = encode(m, PRIOR_CHOICE_LEARNED, plain, BLOCK_LEN, &n, &codec);
	ck_assert_int_eq(codec, PRIOR_CODEC_LEARNED);
	ck_assert_int_eq(prior_decode_block_model(m, codec, stored, n, back, BLOCK_LEN),
			 PRIOR_OK);
	ck_assert_mem_eq(back, plain, BLOCK_LEN);
	prior_model_free(m);
	free(plain), free(stored), free(back);
}
END_TEST

/* Threads sharing one model code the same bytes as the main thread. */
struct job {
	const prior_model *m;
	const uint8_t *plain;
	uint8_t *out;
	size_t n;
	enum prior_error err;
};

static void *encode_job(void *arg)
{
	struct job *j = arg;
	enum prior_codec codec;

	j->err = prior_encode_block_model(j->m, PRIOR_CHOICE_AUTO, 0, j->plain, BLOCK_LEN,
					  j->out, prior_encode_bound(BLOCK_LEN), &j->n,
					  &codec);
	return NULL;
}

START_TEST(test_shared_model_threads)
{
	uint8_t *plain = gen_text(BLOCK_LEN, 5), *ref;
	prior_model *m = load_ok(img, img_len);
	struct job jobs[3];
	pthread_t t[3];
	enum prior_codec codec;
	size_t n;

	ref = encode(m, PRIOR_CHOICE_AUTO, plain, BLOCK_LEN, &n, &codec);
	for (int i = 0; i < 3; i++) {
		jobs[i] = (struct job){ .m = m, .plain = plain,
					.out = malloc(prior_encode_bound(BLOCK_LEN)) };
		ck_assert_ptr_nonnull(jobs[i].out);
		ck_assert_int_eq(pthread_create(&t[i], NULL, encode_job, &jobs[i]), 0);
	}
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_int_eq(jobs[i].err, PRIOR_OK);
		ck_assert_uint_eq(jobs[i].n, n);
		ck_assert_mem_eq(jobs[i].out, ref, n);
		free(jobs[i].out);
	}
	prior_model_free(m);
	free(plain), free(ref);
}
END_TEST

/* ---- missing and wrong models ------------------------------------------ */

START_TEST(test_no_model)
{
	uint8_t *plain = gen_text(BLOCK_LEN, 6), *back = malloc(BLOCK_LEN), *stored;
	prior_model *m = load_ok(img, img_len);
	uint8_t dst[64];
	enum prior_codec codec;
	size_t n;

	stored = encode(m, PRIOR_CHOICE_LEARNED, plain, BLOCK_LEN, &n, &codec);
	ck_assert_int_eq(codec, PRIOR_CODEC_LEARNED);
	ck_assert_int_eq(prior_decode_block_model(NULL, codec, stored, n, back, BLOCK_LEN),
			 PRIOR_ERROR_NO_MODEL);
	/* The 0.1 call keeps its 0.1 answer for a block it cannot decode. */
	ck_assert_int_eq(prior_decode_block(codec, stored, n, back, BLOCK_LEN),
			 PRIOR_ERROR_UNKNOWN_CODEC);
	ck_assert_int_eq(prior_encode_block_model(NULL, PRIOR_CHOICE_LEARNED, 0, "x", 1,
						  dst, sizeof(dst), &n, &codec),
			 PRIOR_ERROR_NO_MODEL);
	ck_assert_int_eq(prior_encode_block(PRIOR_CHOICE_LEARNED, 0, "x", 1, dst,
					    sizeof(dst), &n, &codec),
			 PRIOR_ERROR_NO_MODEL);
	ck_assert_int_eq(prior_encode_block_model(m, (enum prior_choice)4, 0, "x", 1, dst,
						  sizeof(dst), &n, &codec),
			 PRIOR_ERROR_BAD_ARGUMENT);
	prior_model_free(m);
	free(plain), free(back), free(stored);
}
END_TEST

/* A block decoded with another model fails, or at worst gives other bytes
 * (which the block checksum then catches); it never crashes. */
START_TEST(test_wrong_model)
{
	uint8_t *plain = gen_text(BLOCK_LEN, 7), *back = malloc(BLOCK_LEN), *stored;
	prior_model *m = load_ok(img, img_len), *other = load_ok(cold_img, cold_len);
	enum prior_codec codec;
	enum prior_error err;
	size_t n;

	stored = encode(m, PRIOR_CHOICE_LEARNED, plain, BLOCK_LEN, &n, &codec);
	ck_assert_int_eq(codec, PRIOR_CODEC_LEARNED);
	err = prior_decode_block_model(other, codec, stored, n, back, BLOCK_LEN);
	ck_assert(err == PRIOR_ERROR_CORRUPT ||
		  (err == PRIOR_OK && memcmp(back, plain, BLOCK_LEN) != 0));
	/* A truncated block fails with the right model too. */
	ck_assert_int_eq(prior_decode_block_model(m, codec, stored, n / 2, back, BLOCK_LEN),
			 PRIOR_ERROR_CORRUPT);
	prior_model_free(m);
	prior_model_free(other);
	free(plain), free(back), free(stored);
}
END_TEST

/* ---- bad images ------------------------------------------------------------ */

static enum prior_error load_err(const void *image, size_t len)
{
	prior_model *m = (prior_model *)1;
	enum prior_error err = prior_model_load(image, len, &m);

	if (err == PRIOR_OK)
		prior_model_free(m);
	else
		ck_assert_ptr_null(m);
	return err;
}

/* Loads img with byte `at` xor `mask`. */
static enum prior_error load_flipped(size_t at, uint8_t mask)
{
	uint8_t *copy = malloc(img_len);
	enum prior_error err;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, img, img_len);
	copy[at] ^= mask;
	err = load_err(copy, img_len);
	free(copy);
	return err;
}

/* Header offsets (model_file.c): 0 magic, 8 version (11: its top byte),
 * 44 payload length, 50 slice length or reserved, 52..63 reserved zeros,
 * 64 the payload's zstd frame magic. */
START_TEST(test_flipped_byte)
{
	static const size_t corrupt_at[] = { 0, 7, 44, 50, 63, 64 };

	for (size_t i = 0; i < sizeof(corrupt_at) / sizeof(*corrupt_at); i++)
		ck_assert_int_eq(load_flipped(corrupt_at[i], 0x10), PRIOR_ERROR_CORRUPT);
	ck_assert_int_eq(load_flipped(11, 0x80), PRIOR_ERROR_UNSUPPORTED);
}
END_TEST

START_TEST(test_truncated)
{
	static const size_t keep[] = { 0, 1, 63, 64, 65 };

	for (size_t i = 0; i < sizeof(keep) / sizeof(*keep); i++)
		ck_assert_int_eq(load_err(img, keep[i]), PRIOR_ERROR_CORRUPT);
	ck_assert_int_eq(load_err(img, img_len / 2), PRIOR_ERROR_CORRUPT);
	ck_assert_int_eq(load_err(img, img_len - 1), PRIOR_ERROR_CORRUPT);
}
END_TEST

/* Every byte flipped somewhere: a documented answer, never a crash (the
 * payload has no checksum, so some flips load as another valid model). */
START_TEST(test_flip_sweep)
{
	size_t step = img_len / 512 + 1;

	for (size_t at = 0; at < img_len; at += step) {
		enum prior_error err = load_flipped(at, 0xff);

		ck_assert_msg(err == PRIOR_OK || err == PRIOR_ERROR_CORRUPT ||
				      err == PRIOR_ERROR_UNSUPPORTED,
			      "byte %zu flipped: %s", at, prior_error_name(err));
	}
}
END_TEST

START_TEST(test_load_bad_args)
{
	prior_model *m;

	ck_assert_int_eq(prior_model_load(img, img_len, NULL), PRIOR_ERROR_BAD_ARGUMENT);
	ck_assert_int_eq(prior_model_load(NULL, 10, &m), PRIOR_ERROR_BAD_ARGUMENT);
	ck_assert_int_eq(prior_model_load_file(NULL, &m), PRIOR_ERROR_BAD_ARGUMENT);
	prior_model_free(NULL);
}
END_TEST

/* ---- files and ids --------------------------------------------------------- */

/* Writes len bytes of data to a new temporary file; returns its path. */
static char *temp_file(const void *data, size_t len)
{
	char *path = strdup("/tmp/check_prior.XXXXXX");
	int fd;

	ck_assert_ptr_nonnull(path);
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

START_TEST(test_load_file)
{
	uint8_t id[PRIOR_MODEL_ID_SIZE], file_id[PRIOR_MODEL_ID_SIZE], sum[PF_SHA256_SIZE];
	uint8_t *plain = gen_text(BLOCK_LEN, 8), *back = malloc(BLOCK_LEN), *a, *b;
	char *path = temp_file(img, img_len);
	prior_model *m = load_ok(img, img_len), *f = NULL;
	enum prior_codec ca, cb;
	size_t na, nb;

	ck_assert_int_eq(prior_model_load_file(path, &f), PRIOR_OK);
	ck_assert_ptr_nonnull(f);
	prior_model_id(m, id);
	prior_model_id(f, file_id);
	pf_sha256(img, img_len, sum);
	ck_assert_mem_eq(id, sum, sizeof(sum));
	ck_assert_mem_eq(file_id, sum, sizeof(sum));
	a = encode(m, PRIOR_CHOICE_LEARNED, plain, BLOCK_LEN, &na, &ca);
	b = encode(f, PRIOR_CHOICE_LEARNED, plain, BLOCK_LEN, &nb, &cb);
	ck_assert_uint_eq(na, nb);
	ck_assert_mem_eq(a, b, na);
	ck_assert_int_eq(prior_decode_block_model(f, ca, a, na, back, BLOCK_LEN), PRIOR_OK);
	ck_assert_mem_eq(back, plain, BLOCK_LEN);
	prior_model_free(f);
	prior_model_free(m);
	unlink(path);
	free(path), free(plain), free(back), free(a), free(b);
}
END_TEST

START_TEST(test_load_file_errors)
{
	char *empty = temp_file("", 0), *cut = temp_file(img, img_len / 3);
	prior_model *m = (prior_model *)1;

	errno = 0;
	ck_assert_int_eq(prior_model_load_file("/nonexistent/check_prior.model", &m),
			 PRIOR_ERROR_IO);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(prior_model_load_file("/tmp", &m), PRIOR_ERROR_IO);
	ck_assert_int_eq(errno, EISDIR);
	ck_assert_int_eq(prior_model_load_file(empty, &m), PRIOR_ERROR_CORRUPT);
	ck_assert_int_eq(prior_model_load_file(cut, &m), PRIOR_ERROR_CORRUPT);
	ck_assert_ptr_null(m);
	unlink(empty);
	unlink(cut);
	free(empty), free(cut);
}
END_TEST

START_TEST(test_error_names)
{
	static const enum prior_error added[] = { PRIOR_ERROR_NO_MODEL,
						  PRIOR_ERROR_UNSUPPORTED, PRIOR_ERROR_IO };

	ck_assert_int_eq(PRIOR_ERROR_NO_MODEL, 6);
	ck_assert_int_eq(PRIOR_ERROR_UNSUPPORTED, 7);
	ck_assert_int_eq(PRIOR_ERROR_IO, 8);
	ck_assert_int_eq(PRIOR_CHOICE_LEARNED, 3);
	for (size_t i = 0; i < sizeof(added) / sizeof(*added); i++)
		ck_assert_str_ne(prior_error_name(added[i]), "unknown error");
	ck_assert_str_ne(prior_error_name(PRIOR_ERROR_NO_MODEL),
			 prior_error_name(PRIOR_ERROR_UNKNOWN_CODEC));
	ck_assert_str_eq(prior_error_name((enum prior_error)9), "unknown error");
}
END_TEST

static Suite *prior_suite(void)
{
	Suite *s = suite_create("prior");
	TCase *tc;

	tc = tcase_create("train");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_train_progress);
	tcase_add_test(tc, test_train_bad_args);
	tcase_add_test(tc, test_train_bad_net_width);
	suite_add_tcase(s, tc);

	tc = tcase_create("max");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_train_max, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("roundtrip");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_roundtrip, 0, 2);
	tcase_add_loop_test(tc, test_same_bytes_as_codec_layer, 0, 4);
	tcase_add_test(tc, test_load_copies);
	tcase_add_test(tc, test_shared_model_threads);
	suite_add_tcase(s, tc);

	tc = tcase_create("models");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_no_model);
	tcase_add_test(tc, test_wrong_model);
	tcase_add_test(tc, test_flipped_byte);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_flip_sweep);
	tcase_add_test(tc, test_load_bad_args);
	tcase_add_test(tc, test_load_file);
	tcase_add_test(tc, test_load_file_errors);
	tcase_add_test(tc, test_error_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(prior_suite());
	int failed;

	models_train();
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	prior_free(img);
	prior_free(cold_img);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
