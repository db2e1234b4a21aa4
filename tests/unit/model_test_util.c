/* SPDX-License-Identifier: MIT */
/*
 * model_test_util.c - the helpers of model_test_util.h, which check_model
 * and check_model_max share.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <zstd.h>

#include "unit_data.h"
#include "model_test_util.h"
#include "common/pf_common.h"
#include "model/model_int.h" /* the image header, pf_cm_simd_force_scalar() */

void fill_text(uint8_t *p, size_t len, uint64_t seed)
{
	static const char *const words[] = {
		"the ", "model ", "block ", "of ", "mixer ", "a ", "context ",
		"bit ", "weight, ", "and ", "stride ", "table ", "42,", "7,",
		"\"key\": ", "{", "}", "is ", "coded.\n", "priorfs ",
	};
	uint64_t s = seed | 1;
	size_t i = 0;

	while (i < len) {
		const char *w = words[rng_next(&s) % (sizeof(words) / sizeof(*words))];

		for (; *w && i < len; w++)
			p[i++] = (uint8_t)*w;
	}
}

/* 16-bit little-endian token ids, a token shard in miniature: the low
 * byte walks (x 37 plus a little noise), the high byte (under 196, as in
 * GPT-2's 50257 ids) changes one time in 16. Both bytes spread over the
 * same values, so only the phase tells them apart: from 64 KiB on,
 * training takes it for data in 16-bit units. */
uint8_t *gen_tokens(size_t len, uint64_t seed)
{
	uint8_t *p = malloc(len ? len : 1);
	uint64_t s = seed | 1;
	uint32_t low = 1, high = 0;

	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < len; i += 2) {
		uint64_t r = rng_next(&s);

		low = (low * 37 + (uint32_t)(r >> 8) % 8) & 255;
		if (r % 16 == 0)
			high = (uint32_t)(r >> 16) % 196;
		p[i] = (uint8_t)low;
		if (i + 1 < len)
			p[i + 1] = (uint8_t)high;
	}
	return p;
}

/* One record's bases and their qualities: lower in a homopolymer run. */
static size_t fastq_fill(char *rec, size_t cap, unsigned id, uint64_t *s)
{
	static const char acgt[4] = { 'A', 'C', 'G', 'T' };
	unsigned n = 40 + (unsigned)(rng_next(s) % 80);
	size_t at = (size_t)snprintf(rec, cap, "@read%u\n", id);
	char *bases = rec + at, *qual = bases + n + 3;

	for (unsigned i = 0; i < n; i++)
		bases[i] = acgt[rng_next(s) % 4];
	memcpy(bases + n, "\n+\n", 3);
	for (unsigned i = 0; i < n; i++) {
		bool run = (i && bases[i - 1] == bases[i]) || (i + 1 < n && bases[i + 1] == bases[i]);

		qual[i] = (char)('5' - (run ? 12 : 0) + (int)(rng_next(s) % 4));
	}
	qual[n] = '\n';
	return at + 2 * (size_t)n + 4;
}

uint8_t *gen_fastq(size_t len, uint64_t seed)
{
	uint8_t *p = malloc(len ? len : 1);
	uint64_t s = seed | 1;
	char rec[320];

	ck_assert_ptr_nonnull(p);
	for (size_t at = 0, id = 0; at < len; id++) {
		size_t n = fastq_fill(rec, sizeof(rec), (unsigned)id, &s);

		memcpy(p + at, rec, n < len - at ? n : len - at);
		at += n;
	}
	return p;
}

uint8_t *gen_text(size_t len, uint64_t seed)
{
	uint8_t *p = malloc(len ? len : 1);

	ck_assert_ptr_nonnull(p);
	fill_text(p, len, seed);
	return p;
}

void *train_opts(const pf_model_train_opts *opts, const void *sample, size_t len,
		 size_t *img_len)
{
	void *img = NULL;

	ck_assert_int_eq(pf_model_train(sample, len, opts, &img, img_len), 0);
	ck_assert_ptr_nonnull(img);
	return img;
}

void *train_dict(enum pf_model_level level, unsigned bits, const void *sample, size_t len,
		 size_t dict_bytes, size_t *img_len)
{
	pf_model_train_opts opts = { .level = level, .table_bits = bits,
				     .dict_bytes = dict_bytes };

	return train_opts(&opts, sample, len, img_len);
}

void *train(enum pf_model_level level, unsigned bits, const void *sample, size_t len,
	    size_t *img_len)
{
	return train_dict(level, bits, sample, len, 0, img_len);
}

size_t round_trip(const pf_model *m, const uint8_t *src, size_t len)
{
	/* a probability is at least 1/4096, so a bit costs at most 12 bits even
	 * under a corrupt model that is always wrong */
	size_t cap = 12 * len + 64;
	uint8_t *out = malloc(cap), *back = malloc(len ? len : 1);
	ssize_t n;

	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(back);
	n = pf_model_encode(m, src, len, out, cap);
	ck_assert_int_ge(n, 4);
	ck_assert_int_eq(pf_model_decode(m, out, (size_t)n, back, len), 0);
	ck_assert_int_eq(memcmp(back, src, len), 0);
	free(out);
	free(back);
	return (size_t)n;
}

uint8_t *image_edited(const uint8_t *img, size_t *len, payload_edit_fn edit, void *arg)
{
	size_t raw_len = pf_le32(img + 44), cap = PF_CM_HEADER_LEN + ZSTD_compressBound(raw_len);
	uint8_t *raw = malloc(raw_len), *out = malloc(cap);
	size_t n;

	ck_assert_ptr_nonnull(raw);
	ck_assert_ptr_nonnull(out);
	n = ZSTD_decompress(raw, raw_len, img + PF_CM_HEADER_LEN, *len - PF_CM_HEADER_LEN);
	ck_assert_uint_eq(n, raw_len);
	edit(img, raw, n, arg);
	memcpy(out, img, PF_CM_HEADER_LEN);
	n = ZSTD_compress(out + PF_CM_HEADER_LEN, cap - PF_CM_HEADER_LEN, raw, raw_len, 3);
	ck_assert(!ZSTD_isError(n));
	*len = PF_CM_HEADER_LEN + n;
	free(raw);
	return out;
}

void flip_sweep(const uint8_t *img, uint8_t *copy, size_t len, int flips, uint64_t *s,
		const uint8_t *text)
{
	pf_model *m;

	for (int k = 0; k < flips; k++) {
		size_t at = k < 64 ? (size_t)k : rng_next(s) % len;
		int rc;

		memcpy(copy, img, len);
		copy[at] ^= (uint8_t)(1 + rng_next(s) % 255);
		rc = pf_model_load(copy, len, &m);
		ck_assert(rc == 0 || rc == -EIO || rc == -ENOTSUP);
		if (rc == 0) {
			round_trip(m, text, 3000);
			pf_model_free(m);
		}
	}
}

struct dec_job {
	const pf_model *m;
	const uint8_t *stored;
	size_t stored_len, len;
	uint8_t *out;
	int rc;
};

static void *dec_thread(void *arg)
{
	struct dec_job *j = arg;

	for (int k = 0; k < 3 && j->rc == 0; k++)
		j->rc = pf_model_decode(j->m, j->stored, j->stored_len, j->out, j->len);
	return NULL;
}

void check_threads_agree(const pf_model *m, uint8_t *p, size_t len, int threads)
{
	size_t cap = 2 * len;
	uint8_t *a = malloc(cap), *b = malloc(cap);
	struct dec_job jobs[4];
	pthread_t t[4];
	ssize_t na = pf_model_encode(m, p, len, a, cap);
	ssize_t nb = pf_model_encode(m, p, len, b, cap);

	ck_assert_int_le(threads, 4);
	ck_assert_int_gt(na, 0);
	ck_assert_int_eq(na, nb);
	ck_assert_int_eq(memcmp(a, b, (size_t)na), 0);
	for (int i = 0; i < threads; i++) {
		jobs[i] = (struct dec_job){ m, a, (size_t)na, len, malloc(len), 0 };
		ck_assert_int_eq(pthread_create(&t[i], NULL, dec_thread, &jobs[i]), 0);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(jobs[i].rc, 0);
		ck_assert_int_eq(memcmp(jobs[i].out, p, len), 0);
		free(jobs[i].out);
	}
	free(p);
	free(a);
	free(b);
}

int32_t rnd_in(uint64_t *s, int k, int32_t lim)
{
	if (k < 4)
		return k & 1 ? lim : -lim;
	return (int32_t)(rng_next(s) % (2u * (uint32_t)lim + 1)) - lim;
}

uint8_t *golden_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = malloc(1 << 20);

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(buf);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

uint64_t coded_hash(const pf_model *m, uint8_t *p)
{
	uint8_t *out = malloc(2 * GOLDEN_LEN), *back = malloc(GOLDEN_LEN);
	ssize_t n = pf_model_encode(m, p, GOLDEN_LEN, out, 2 * GOLDEN_LEN);
	uint64_t h;

	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(pf_model_decode(m, out, (size_t)n, back, GOLDEN_LEN), 0);
	ck_assert_int_eq(memcmp(back, p, GOLDEN_LEN), 0);
	h = XXH3_64bits(out, (size_t)n);
	free(p);
	free(out);
	free(back);
	return h;
}

uint64_t golden_coded_hash(const pf_model *m)
{
	return coded_hash(m, gen_text(GOLDEN_LEN, 99));
}

uint64_t golden_both_kernels(const uint8_t *img, size_t len, uint64_t (*hash_of)(const pf_model *))
{
	pf_model *m;
	uint64_t h;

	ck_assert_int_eq(pf_model_load(img, len, &m), 0);
	h = hash_of(m);
	pf_cm_simd_force_scalar(true);
	ck_assert(!pf_cm_simd_avx2);
	ck_assert_uint_eq(hash_of(m), h);
	pf_cm_simd_force_scalar(false);
	pf_model_free(m);
	return h;
}
