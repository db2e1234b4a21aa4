/* SPDX-License-Identifier: MIT */
/*
 * model_test_util.h - helpers that check_model and check_model_max share:
 * seeded text, training, round trips, edited and byte-flipped model images,
 * decoding in threads and the golden input's coded hash.
 *
 * Every helper asserts with Check, so it runs inside a test only. The
 * definitions are in model_test_util.c, compiled into both programs.
 */
#ifndef PF_MODEL_TEST_UTIL_H
#define PF_MODEL_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

/* The golden input is gen_text(GOLDEN_LEN, 99). */
#define GOLDEN_LEN 20000
/* The format 5 (level max) golden image, frozen since format 6 replaced
 * it in training: check_model_max checks it, check_model's test_shape
 * reads its shape too. */
#define GOLDEN_MAX_PATH PF_SRCDIR "/tests/data/golden/model-max-t12.bin"
#define GOLDEN_MAX_WIDTH 32u /* its network's width */
/* The format 6 golden images: with the token features (frozen), and
 * with the token and context features, which check_model_max checks and
 * regenerates. */
#define GOLDEN_MAX6_PATH PF_SRCDIR "/tests/data/golden/model-max6-t12.bin"
#define GOLDEN_MAX6C_PATH PF_SRCDIR "/tests/data/golden/model-max6c-t12.bin"
#define GOLDEN_MAX6M_PATH PF_SRCDIR "/tests/data/golden/model-max6m-t12.bin"
#define GOLDEN_MAX7_PATH PF_SRCDIR "/tests/data/golden/model-max7-t12.bin"
#define GOLDEN_MAX7I_PATH PF_SRCDIR "/tests/data/golden/model-max7i-t12.bin"
#define GOLDEN_MAX7R_PATH PF_SRCDIR "/tests/data/golden/model-max7r-t12.bin"
/* Rounds of each SIMD-against-scalar comparison. */
#define SIMD_ROUNDS 20000

/* Fills p with words, numbers and a CSV-ish line structure (something
 * every context of the model can learn), the same for the same seed. */
void fill_text(uint8_t *p, size_t len, uint64_t seed);
/* fill_text() into a new buffer of len bytes (caller frees). */
uint8_t *gen_text(size_t len, uint64_t seed);
/* 16-bit token ids, the same for the same seed (caller frees). */
uint8_t *gen_tokens(size_t len, uint64_t seed);
/* FASTQ records whose qualities depend on the bases around them, the
 * same for the same seed (caller frees). */
uint8_t *gen_fastq(size_t len, uint64_t seed);

/* Model images (caller frees) trained on sample; training must succeed. */
void *train_opts(const pf_model_train_opts *opts, const void *sample, size_t len,
		 size_t *img_len);
void *train_dict(enum pf_model_level level, unsigned bits, const void *sample, size_t len,
		 size_t dict_bytes, size_t *img_len);
void *train(enum pf_model_level level, unsigned bits, const void *sample, size_t len,
	    size_t *img_len);

/* Encodes and decodes src, which must come back; @return the stored size. */
size_t round_trip(const pf_model *m, const uint8_t *src, size_t len);

/* Changes raw, the n decompressed payload bytes of the image whose header
 * is hdr. */
typedef void (*payload_edit_fn)(const uint8_t *hdr, uint8_t *raw, size_t n, void *arg);
/* img (*len bytes) with its payload decompressed, changed by edit and
 * recompressed as one frame: a new image of *len bytes (caller frees). */
uint8_t *image_edited(const uint8_t *img, size_t *len, payload_edit_fn edit, void *arg);

/* Loads `flips` copies of img (len bytes, copy has room for them) with one
 * byte changed: each of the first 64 bytes, then random ones. Each either
 * fails cleanly or loads a model that still codes text (3000 bytes) and
 * decodes it back. */
void flip_sweep(const uint8_t *img, uint8_t *copy, size_t len, int flips, uint64_t *s,
		const uint8_t *text);

/* Encodes p twice with m (the same bytes), then decodes the result in
 * `threads` (at most 4) threads at once, three times each: always p.
 * Frees p. */
void check_threads_agree(const pf_model *m, uint8_t *p, size_t len, int threads);

/* A SIMD kernel's input or weight in -lim..lim: the extremes in rounds
 * k < 4, then random. */
int32_t rnd_in(uint64_t *s, int k, int32_t lim);

/* The file at path, at most 1 MiB of it, in a new buffer (caller frees). */
uint8_t *golden_read(const char *path, size_t *len);
/* The XXH3 of p (GOLDEN_LEN bytes) coded with m; the coded bytes must
 * decode back to p. Frees p. */
uint64_t coded_hash(const pf_model *m, uint8_t *p);
/* coded_hash() of the golden input. */
uint64_t golden_coded_hash(const pf_model *m);
/* hash_of (golden_coded_hash, say) img's model, with the detected kernels
 * and with the scalar ones forced: they must agree. */
uint64_t golden_both_kernels(const uint8_t *img, size_t len,
			     uint64_t (*hash_of)(const pf_model *));

#endif
