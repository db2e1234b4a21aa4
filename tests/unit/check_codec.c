/* SPDX-License-Identifier: MIT */
/*
 * check_codec.c - unit tests of the codec layer (codec.h) and of the public
 * libprior calls (prior.h): round trips, the auto choice, hostile input,
 * checksums and names.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "unit_data.h"
#include "codec/codec.h"
#include "codec/codec_int.h" /* test hook: the probe */
#include "common/pf_common.h"
#include "prior.h"

/* ---- test data ------------------------------------------------------------ */

enum kind { K_TEXT, K_ZEROS, K_RANDOM, K_LAST_BYTE, K_NKINDS };

/* English-like words: compresses well but not trivially. */
static void fill_text(uint8_t *p, size_t len, uint64_t seed)
{
	static const char *const words[] = {
		"the ", "block ", "codec ", "of ", "store ", "a ", "file ",
		"read ", "cache ", "and ", "write ", "zstd ", "index, ",
		"container ", "is ", "decoded.\n", "priorfs ", "mount ",
	};
	uint64_t s = seed | 1;
	size_t i = 0;

	while (i < len) {
		const char *w = words[rng_next(&s) % (sizeof(words) / sizeof(*words))];

		for (; *w && i < len; w++)
			p[i++] = (uint8_t)*w;
	}
}

static uint8_t *make_data(enum kind k, size_t len, uint64_t seed)
{
	uint8_t *p = calloc(1, len ? len : 1);

	ck_assert_ptr_nonnull(p);
	if (k == K_TEXT)
		fill_text(p, len, seed);
	else if (k == K_RANDOM)
		fill_random(p, len, seed);
	else if (k == K_LAST_BYTE && len)
		p[len - 1] = 1;
	return p;
}

/* Every 256 bytes: `zeros` zero bytes, the rest random. zstd saves about
 * zeros/256 of it. */
static uint8_t *make_partly_random(size_t len, unsigned zeros)
{
	uint8_t *p = make_data(K_RANDOM, len, 77);

	for (size_t i = 0; i < len; i += 256)
		memset(p + i, 0, len - i < zeros ? len - i : zeros);
	return p;
}

/* Encodes with choice at level 3 and min_saving; returns the stored buffer
 * (caller frees) and sets *stored_len and *codec. */
static uint8_t *encode_at(enum pf_codec_choice choice, unsigned min_saving,
			  const void *plain, size_t len, size_t *stored_len,
			  uint8_t *codec)
{
	pf_codec_params params = { .choice = choice, .zstd_level = PF_ZSTD_LEVEL_DEFAULT,
				   .min_saving = min_saving };
	size_t cap = pf_codec_bound(len);
	uint8_t *out = malloc(cap);
	ssize_t n;

	ck_assert_ptr_nonnull(out);
	n = pf_codec_encode(&params, plain, len, out, cap, codec);
	ck_assert_int_ge(n, 0);
	ck_assert_uint_le((size_t)n, cap);
	*stored_len = (size_t)n;
	return out;
}

/* encode_at() with the default min_saving (1/8). */
static uint8_t *encode(enum pf_codec_choice choice, const void *plain,
		       size_t len, size_t *stored_len, uint8_t *codec)
{
	return encode_at(choice, PF_MIN_SAVING_DEFAULT, plain, len, stored_len, codec);
}

/* Decodes into a buffer of exactly plain_len bytes and compares. */
static void check_decodes_to(uint8_t codec, const void *stored,
			     size_t stored_len, const void *plain,
			     size_t plain_len)
{
	uint8_t *back = malloc(plain_len ? plain_len : 1);

	ck_assert_ptr_nonnull(back);
	memset(back, 0xa5, plain_len);
	ck_assert_int_eq(pf_codec_decode(codec, stored, stored_len, back,
					 plain_len), 0);
	ck_assert(memcmp(back, plain, plain_len) == 0);
	ck_assert(pf_checksum(back, plain_len) == pf_checksum(plain, plain_len));
	free(back);
}

/* ---- round trips ---------------------------------------------------------- */

static const size_t sizes[] = { 1, 7, 4095, 4097, 64 << 10, (64 << 10) + 3,
				256 << 10, 1 << 20, 4 << 20 };

/* The codec a choice must produce for data of kind k and length len. */
static uint8_t expected_codec(enum pf_codec_choice choice, enum kind k,
			      size_t len)
{
	if (k == K_ZEROS)
		return PF_CODEC_ZERO;
	if (choice == PF_CHOICE_RAW)
		return PF_CODEC_RAW;
	if (choice == PF_CHOICE_ZSTD)
		return PF_CODEC_ZSTD;
	if (k == K_RANDOM || len < 64)
		return PF_CODEC_RAW;
	return PF_CODEC_ZSTD; /* text, or zeros ending in one 1 byte */
}

/* Loop index i: kind i % K_NKINDS, choice i / K_NKINDS. */
START_TEST(test_roundtrip)
{
	enum kind k = (enum kind)(_i % K_NKINDS);
	enum pf_codec_choice choice = (enum pf_codec_choice)(_i / K_NKINDS);

	for (size_t s = 0; s < sizeof(sizes) / sizeof(*sizes); s++) {
		size_t len = sizes[s], stored_len;
		uint8_t *plain = make_data(k, len, len), codec;
		uint8_t *stored = encode(choice, plain, len, &stored_len, &codec);

		ck_assert_msg(codec == expected_codec(choice, k, len),
			      "kind %d choice %s len %zu: got %s", (int)k,
			      pf_codec_choice_name(choice), len,
			      pf_codec_name(codec));
		if (codec == PF_CODEC_ZERO)
			ck_assert_uint_eq(stored_len, 0);
		if (codec == PF_CODEC_RAW)
			ck_assert_uint_eq(stored_len, len);
		if (choice == PF_CHOICE_AUTO)
			ck_assert_uint_le(stored_len, len);
		check_decodes_to(codec, stored, stored_len, plain, len);
		free(stored);
		free(plain);
	}
}
END_TEST

START_TEST(test_empty_block)
{
	pf_codec_params params = { .choice = PF_CHOICE_ZSTD, .zstd_level = 3 };
	uint8_t out[64], codec = 99;

	ck_assert_int_eq(pf_codec_encode(&params, "", 0, out, sizeof(out),
					 &codec), 0);
	ck_assert_uint_eq(codec, PF_CODEC_ZERO);
	ck_assert_int_eq(pf_codec_decode(PF_CODEC_ZERO, NULL, 0, out, 0), 0);
}
END_TEST

/* The same input gives the same bytes, even after the thread's context
 * was used at another level in between. */
START_TEST(test_deterministic)
{
	size_t len = 256 << 10, n1, n2, n3;
	uint8_t *plain = make_data(K_TEXT, len, 5), c1, c2, c3;
	pf_codec_params hi = { .choice = PF_CHOICE_ZSTD, .zstd_level = PF_ZSTD_LEVEL_MAX };
	uint8_t *a = encode(PF_CHOICE_ZSTD, plain, len, &n1, &c1);
	uint8_t *c = malloc(pf_codec_bound(len));
	ssize_t n;
	uint8_t *b;

	n = pf_codec_encode(&hi, plain, len, c, pf_codec_bound(len), &c3);
	ck_assert_int_gt(n, 0);
	ck_assert_uint_lt((size_t)n, n1); /* level 19 did something else */
	b = encode(PF_CHOICE_ZSTD, plain, len, &n2, &c2);
	ck_assert_uint_eq(n1, n2);
	ck_assert_uint_eq(c1, c2);
	ck_assert(memcmp(a, b, n1) == 0);
	n3 = (size_t)n;
	check_decodes_to(c3, c, n3, plain, len);
	free(a);
	free(b);
	free(c);
	free(plain);
}
END_TEST

/* A final zstd level (offline coding): a block zstd wins is coded at it,
 * forced zstd uses it, and a level out of range is refused. */
START_TEST(test_zstd_final_level)
{
	size_t len = 256 << 10, cap = pf_codec_bound(len), n3;
	uint8_t *plain = make_data(K_TEXT, len, 7), *out = malloc(cap), *hi = malloc(cap);
	pf_codec_params params = { .choice = PF_CHOICE_AUTO, .zstd_level = 3,
				   .min_saving = PF_MIN_SAVING_DEFAULT, .zstd_final_level = 19 };
	uint8_t codec, c3, *at3 = encode(PF_CHOICE_AUTO, plain, len, &n3, &c3);
	ssize_t n, n19 = pf_codec_zstd_encode(19, plain, len, hi, cap);

	ck_assert_uint_eq(c3, PF_CODEC_ZSTD);
	ck_assert_int_gt(n19, 0);
	ck_assert_uint_lt((size_t)n19, n3);
	n = pf_codec_encode(&params, plain, len, out, cap, &codec);
	ck_assert_uint_eq(codec, PF_CODEC_ZSTD);
	ck_assert_int_eq(n, n19);
	ck_assert_mem_eq(out, hi, (size_t)n19);
	check_decodes_to(codec, out, (size_t)n, plain, len);
	params.choice = PF_CHOICE_ZSTD;
	ck_assert_int_eq(pf_codec_encode(&params, plain, len, out, cap, &codec), n19);
	params.zstd_final_level = 2; /* below zstd_level: ignored */
	ck_assert_int_eq(pf_codec_encode(&params, plain, len, out, cap, &codec), (ssize_t)n3);
	params.zstd_final_level = PF_ZSTD_LEVEL_MAX + 1;
	ck_assert_int_eq(pf_codec_encode(&params, plain, len, out, cap, &codec), -EINVAL);
	free(at3);
	free(plain);
	free(out);
	free(hi);
}
END_TEST

START_TEST(test_bad_params)
{
	uint8_t plain[100], out[200], codec;
	pf_codec_params params = { .choice = PF_CHOICE_ZSTD, .zstd_level = 0 };

	fill_text(plain, sizeof(plain), 1);
	ck_assert_uint_le(pf_codec_bound(sizeof(plain)), sizeof(out));
	ck_assert_int_eq(pf_codec_encode(&params, plain, sizeof(plain), out,
					 sizeof(out), &codec), -EINVAL);
	params.zstd_level = PF_ZSTD_LEVEL_MAX + 1;
	ck_assert_int_eq(pf_codec_encode(&params, plain, sizeof(plain), out,
					 sizeof(out), &codec), -EINVAL);
	params.zstd_level = 1;
	ck_assert_int_eq(pf_codec_encode(&params, plain, sizeof(plain), out,
					 pf_codec_bound(sizeof(plain)) - 1,
					 &codec), -EINVAL);
	params.choice = (enum pf_codec_choice)7;
	ck_assert_int_eq(pf_codec_encode(&params, plain, sizeof(plain), out,
					 sizeof(out), &codec), -EINVAL);
	for (size_t n = 0; n < (8u << 20); n = n * 2 + 1)
		ck_assert_uint_ge(pf_codec_bound(n), n);
}
END_TEST

/* ---- the auto choice ------------------------------------------------------ */

START_TEST(test_auto_compressed_input)
{
	/* Already compressed bytes (a zstd frame, like gzip/PNG/JPEG data)
	 * are stored raw. */
	size_t len = 1 << 20, zlen, n;
	uint8_t *text = make_data(K_TEXT, len * 8, 3), codec;
	uint8_t *z = encode(PF_CHOICE_ZSTD, text, len * 8, &zlen, &codec);
	uint8_t *stored;

	ck_assert_uint_ge(zlen, len);
	stored = encode(PF_CHOICE_AUTO, z, len, &n, &codec);
	ck_assert_uint_eq(codec, PF_CODEC_RAW);
	ck_assert_uint_eq(n, len);
	free(stored);
	free(z);
	free(text);
}
END_TEST

/* Saving 1/16 is not enough for zstd; saving 1/4 is. */
START_TEST(test_auto_one_eighth_rule)
{
	size_t len = 256 << 10, n;
	uint8_t *low = make_partly_random(len, 16), codec;
	uint8_t *high = make_partly_random(len, 64);
	uint8_t *stored = encode(PF_CHOICE_ZSTD, low, len, &n, &codec);

	/* zstd does save a little on it, so raw is the rule's doing. */
	ck_assert_uint_lt(n, len - len / 32);
	ck_assert_uint_gt(n, len - len / 8);
	free(stored);
	stored = encode(PF_CHOICE_AUTO, low, len, &n, &codec);
	ck_assert_uint_eq(codec, PF_CODEC_RAW);
	check_decodes_to(codec, stored, n, low, len);
	free(stored);
	stored = encode(PF_CHOICE_AUTO, high, len, &n, &codec);
	ck_assert_uint_eq(codec, PF_CODEC_ZSTD);
	ck_assert_uint_le(n, len - len / 8);
	check_decodes_to(codec, stored, n, high, len);
	free(stored);
	free(low);
	free(high);
}
END_TEST

/* The probe must spare incompressible data a full compression pass: it
 * says "incompressible" for random-looking data (test hook from
 * codec_int.h), so pf_codec_encode() stores it raw without running zstd on
 * the whole block. Speed itself is measured in contrib/bench, not here. */
START_TEST(test_auto_probe_verdicts)
{
	size_t len = 4 << 20;
	uint8_t *noisy = make_partly_random(len, 16);
	uint8_t *text = malloc(len), *scratch = malloc(pf_codec_bound(len));

	for (size_t i = 0; i < len; i++)
		text[i] = (uint8_t)("the quick brown fox "[i % 20]);
	ck_assert(pf_codec_probe_incompressible(noisy, len, PF_MIN_SAVING_DEFAULT, scratch,
						pf_codec_bound(len)));
	ck_assert(!pf_codec_probe_incompressible(text, len, PF_MIN_SAVING_DEFAULT, scratch,
						 pf_codec_bound(len)));
	free(noisy);
	free(text);
	free(scratch);
}
END_TEST

/* Blocks under 4 KiB are not probed (codec_probe.c PROBE_MIN), so there the
 * 1/8 rule alone decides: zstd exactly when its frame saves 1/8, rounded
 * up. Larger blocks may also go raw on the probe's word, but never to zstd
 * with a frame that breaks the rule. */
START_TEST(test_auto_rule_exact)
{
	const size_t lens[] = { 3000, 64 << 10 };
	unsigned decided_each_way[2] = { 0, 0 };

	for (int l = 0; l < 2; l++) {
		size_t len = lens[l], limit = len - (len + 7) / 8;

		for (unsigned zeros = 0; zeros <= 96; zeros += 4) {
			uint8_t *plain = make_partly_random(len, zeros), cz, ca;
			size_t nz, na;
			uint8_t *z = encode(PF_CHOICE_ZSTD, plain, len, &nz, &cz);
			uint8_t *a = encode(PF_CHOICE_AUTO, plain, len, &na, &ca);

			if (ca == PF_CODEC_ZSTD) {
				ck_assert_uint_le(na, limit);
				ck_assert_uint_eq(na, nz);
			}
			if (len < 4096) {
				ck_assert_int_eq(ca == PF_CODEC_ZSTD, nz <= limit);
				decided_each_way[ca == PF_CODEC_ZSTD]++;
			}
			free(a);
			free(z);
			free(plain);
		}
	}
	/* The data spans the threshold, so both outcomes were seen. */
	ck_assert_uint_gt(decided_each_way[0], 0);
	ck_assert_uint_gt(decided_each_way[1], 0);
}
END_TEST

/* Below the default, min_saving lets zstd keep what saves less than 1/8
 * (here 1/16) and still stores raw what saves less than asked for. */
START_TEST(test_min_saving)
{
	size_t len = 256 << 10, n;
	uint8_t *low = make_partly_random(len, 16), *noise = make_data(K_RANDOM, len, 5);
	uint8_t *stored, codec;
	uint8_t out[64];
	pf_codec_params bad = { .choice = PF_CHOICE_AUTO, .zstd_level = 3,
				.min_saving = PF_MIN_SAVING_MAX + 1 };

	stored = encode_at(PF_CHOICE_AUTO, 100, low, len, &n, &codec);
	ck_assert_uint_eq(codec, PF_CODEC_ZSTD);
	ck_assert_uint_le(n, len - (len + 99) / 100);
	check_decodes_to(codec, stored, n, low, len);
	free(stored);
	stored = encode_at(PF_CHOICE_AUTO, 700, low, len, &n, &codec);
	ck_assert_uint_eq(codec, PF_CODEC_RAW); /* 1/16 is under 7% */
	free(stored);
	stored = encode_at(PF_CHOICE_AUTO, 0, noise, len, &n, &codec);
	ck_assert_uint_eq(codec, PF_CODEC_RAW);
	ck_assert_uint_eq(n, len);
	free(stored);
	ck_assert_int_eq(pf_codec_encode(&bad, "x", 1, out, sizeof(out), &codec), -EINVAL);
	free(low);
	free(noise);
}
END_TEST

/* Unprobed (3000-byte) blocks: zstd exactly when its frame saves min_saving
 * rounded up, and at least a byte, for several min_saving values. */
START_TEST(test_min_saving_exact)
{
	const unsigned bars[] = { 0, 1, 100, 1250, 2500, PF_MIN_SAVING_MAX };
	size_t len = 3000;

	for (size_t b = 0; b < sizeof(bars) / sizeof(bars[0]); b++) {
		size_t need = (len * bars[b] + PF_MIN_SAVING_ONE - 1) / PF_MIN_SAVING_ONE;
		size_t limit = len - (need ? need : 1);

		for (unsigned zeros = 0; zeros <= 160; zeros += 8) {
			uint8_t *plain = make_partly_random(len, zeros), cz, ca;
			size_t nz, na;
			uint8_t *z = encode(PF_CHOICE_ZSTD, plain, len, &nz, &cz);
			uint8_t *a = encode_at(PF_CHOICE_AUTO, bars[b], plain, len, &na, &ca);

			ck_assert_int_eq(ca == PF_CODEC_ZSTD, nz <= limit);
			check_decodes_to(ca, a, na, plain, len);
			free(a);
			free(z);
			free(plain);
		}
	}
}
END_TEST

START_TEST(test_min_saving_parse)
{
	static const struct { const char *s; unsigned v; } good[] = {
		{ "0", 0 }, { "1", 100 }, { "0.5", 50 }, { "12.5", 1250 },
		{ "0.01", 1 }, { "50", 5000 }, { "7.25", 725 }, { "03", 300 },
	};
	static const char *const bad[] = { "", "51", "50.01", "100", "-1", "1.",
					   ".5", "1.234", "abc", "1x", " 1" };
	unsigned v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_int_eq(pf_codec_min_saving_parse(good[i].s, &v), 0);
		ck_assert_uint_eq(v, good[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(pf_codec_min_saving_parse(bad[i], &v) == -EINVAL,
			      "'%s' parsed", bad[i]);
	ck_assert_int_eq(pf_codec_min_saving_parse(NULL, &v), -EINVAL);
}
END_TEST

/* ---- hostile input -------------------------------------------------------- */

START_TEST(test_zstd_truncated_and_trailing)
{
	size_t len = 64 << 10, n;
	uint8_t *plain = make_data(K_TEXT, len, 9), codec, *back = malloc(len);
	uint8_t *z = encode(PF_CHOICE_ZSTD, plain, len, &n, &codec);
	uint8_t *longer = malloc(n + 1);

	for (size_t cut = 0; cut < n; cut++)
		ck_assert_int_eq(pf_codec_decode(PF_CODEC_ZSTD, z, cut, back,
						 len), -EIO);
	memcpy(longer, z, n);
	longer[n] = 0;
	ck_assert_int_eq(pf_codec_decode(PF_CODEC_ZSTD, longer, n + 1, back,
					 len), -EIO);
	ck_assert_int_eq(pf_codec_decode(PF_CODEC_ZSTD, z, n, back, len - 1),
			 -EIO);
	ck_assert_int_eq(pf_codec_decode(PF_CODEC_ZSTD, z, n, back, 0), -EIO);
	free(back);
	back = malloc(len + 1);
	ck_assert_int_eq(pf_codec_decode(PF_CODEC_ZSTD, z, n, back, len + 1),
			 -EIO);
	free(longer);
	free(back);
	free(z);
	free(plain);
}
END_TEST

/* Flipping any byte must give 0 or -EIO, never a crash or an overrun
 * (the exact-size output buffer lets ASan builds see one). */
START_TEST(test_zstd_corrupted)
{
	size_t len = 16 << 10, n, fails = 0;
	uint8_t *plain = make_data(K_TEXT, len, 13), codec, *back = malloc(len);
	uint8_t *z = encode(PF_CHOICE_ZSTD, plain, len, &n, &codec);

	for (size_t i = 0; i < n; i++) {
		for (unsigned bit = 0; bit < 8; bit += 3) {
			int rc;

			z[i] ^= (uint8_t)(1u << bit);
			rc = pf_codec_decode(PF_CODEC_ZSTD, z, n, back, len);
			z[i] ^= (uint8_t)(1u << bit);
			ck_assert(rc == 0 || rc == -EIO);
			fails += rc == -EIO;
		}
	}
	ck_assert_uint_gt(fails, 0);
	check_decodes_to(codec, z, n, plain, len);
	free(back);
	free(z);
	free(plain);
}
END_TEST

/* Hand-made frames (RFC 8878 §3.1.1): magic, header, one raw block of 4. */
static const uint8_t frame_fcs4[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x20, 4,
				      0x21, 0, 0, 'a', 'b', 'c', 'd' };
static const uint8_t frame_fcs5[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x20, 5,
				      0x21, 0, 0, 'a', 'b', 'c', 'd' };
static const uint8_t frame_no_fcs[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00,
					0x21, 0, 0, 'a', 'b', 'c', 'd' };
static const uint8_t frame_skippable[] = { 0x50, 0x2a, 0x4d, 0x18, 4, 0, 0,
					   0, 'a', 'b', 'c', 'd' };

START_TEST(test_zstd_handmade_frames)
{
	uint8_t back[8];

	/* The well-formed one decodes, so the others fail for their flaw. */
	ck_assert_int_eq(pf_codec_decode(PF_CODEC_ZSTD, frame_fcs4,
					 sizeof(frame_fcs4), back, 4), 0);
	ck_assert(memcmp(back, "abcd", 4) == 0);
	ck_assert_int_eq(pf_codec_decode(PF_CODEC_ZSTD, frame_fcs5,
					 sizeof(frame_fcs5), back, 5), -EIO);
	ck_assert_int_eq(pf_codec_decode(PF_CODEC_ZSTD, frame_fcs5,
					 sizeof(frame_fcs5), back, 4), -EIO);
	ck_assert_int_eq(pf_codec_decode(PF_CODEC_ZSTD, frame_no_fcs,
					 sizeof(frame_no_fcs), back, 4), -EIO);
	ck_assert_int_eq(pf_codec_decode(PF_CODEC_ZSTD, frame_skippable,
					 sizeof(frame_skippable), back, 0), -EIO);
}
END_TEST

START_TEST(test_zero_raw_lengths)
{
	uint8_t stored[16] = "0123456789abcdef", back[16];

	ck_assert_int_eq(pf_codec_decode(PF_CODEC_ZERO, stored, 1, back, 16),
			 -EIO);
	memset(back, 1, sizeof(back));
	ck_assert_int_eq(pf_codec_decode(PF_CODEC_ZERO, NULL, 0, back, 16), 0);
	for (int i = 0; i < 16; i++)
		ck_assert_uint_eq(back[i], 0);
	ck_assert_int_eq(pf_codec_decode(PF_CODEC_RAW, stored, 15, back, 16),
			 -EIO);
	ck_assert_int_eq(pf_codec_decode(PF_CODEC_RAW, stored, 16, back, 15),
			 -EIO);
	ck_assert_int_eq(pf_codec_decode(PF_CODEC_RAW, stored, 16, back, 16), 0);
	ck_assert(memcmp(back, stored, 16) == 0);
}
END_TEST

START_TEST(test_unknown_codec)
{
	uint8_t stored[4] = { 0 }, back[4];
	const uint8_t ids[] = { PF_CODEC_LEARNED, PF_CODEC_MAX_ID + 1, 200, 255 };

	for (size_t i = 0; i < sizeof(ids); i++)
		ck_assert_int_eq(pf_codec_decode(ids[i], stored, 4, back, 4),
				 -ENOTSUP);
}
END_TEST

/* ---- checksums and names -------------------------------------------------- */

START_TEST(test_checksum)
{
	uint8_t buf[4096];

	/* Vectors computed apart from libxxhash, from the XXH3 spec's 1-3
	 * byte path (combined ^ secret bits, then the XXH64 avalanche). */
	ck_assert(pf_checksum("abc", 3) == 0x78af5f94892f3950ULL);
	ck_assert(pf_checksum("a", 1) == 0xe6c632b61e964e1fULL);
	fill_text(buf, sizeof(buf), 2);
	uint64_t h = pf_checksum(buf, sizeof(buf));
	ck_assert(pf_checksum(buf, sizeof(buf)) == h);
	ck_assert(prior_checksum(buf, sizeof(buf)) == h);
	buf[2000] ^= 0x10;
	ck_assert(pf_checksum(buf, sizeof(buf)) != h);
}
END_TEST

START_TEST(test_names)
{
	enum pf_codec_choice c;

	ck_assert_str_eq(pf_codec_name(PF_CODEC_ZERO), "zero");
	ck_assert_str_eq(pf_codec_name(PF_CODEC_RAW), "raw");
	ck_assert_str_eq(pf_codec_name(PF_CODEC_ZSTD), "zstd");
	ck_assert_str_eq(pf_codec_name(PF_CODEC_LEARNED), "learned");
	ck_assert_str_eq(pf_codec_name(4), "unknown");
	ck_assert_str_eq(pf_codec_name(255), "unknown");
	const char *const ok[] = { "auto", "zstd", "raw", "learned" };
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(pf_codec_choice_parse(ok[i], &c), 0);
		ck_assert_str_eq(pf_codec_choice_name(c), ok[i]);
	}
	const char *const bad[] = { "", "Zstd", "zstd ", "learn", "rawx", NULL };
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(pf_codec_choice_parse(bad[i], &c), -EINVAL);
	ck_assert_str_eq(pf_codec_choice_name((enum pf_codec_choice)9),
			 "unknown");
	const char *const levels[] = { "fast", "default", "max" };
	enum pf_model_level l;
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(pf_codec_level_parse(levels[i], &l), 0);
		ck_assert_int_eq(l, i);
		ck_assert_str_eq(pf_codec_level_name(l), levels[i]);
	}
	const char *const bad_levels[] = { "", "Max", "max ", "defaults", "2", NULL };
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(pf_codec_level_parse(bad_levels[i], &l), -EINVAL);
	ck_assert_str_eq(pf_codec_level_name((enum pf_model_level)3), "unknown");
}
END_TEST

/* ---- threads -------------------------------------------------------------- */

static void *thread_roundtrips(void *arg)
{
	size_t len = 64 << 10, n;
	uint64_t seed = (uint64_t)(uintptr_t)arg;

	for (int i = 0; i < 20; i++) {
		uint8_t *plain = make_data(i % 2 ? K_TEXT : K_RANDOM, len,
					   seed * 100 + (uint64_t)i), codec;
		uint8_t *z = encode(i % 3 ? PF_CHOICE_AUTO : PF_CHOICE_ZSTD,
				    plain, len, &n, &codec);

		check_decodes_to(codec, z, n, plain, len);
		free(z);
		free(plain);
	}
	return NULL;
}

/* Each thread has its own zstd contexts; sharing one would corrupt data. */
START_TEST(test_threads)
{
	pthread_t t[4];

	for (uintptr_t i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, thread_roundtrips,
						(void *)(i + 1)), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
}
END_TEST

/* ---- public API ----------------------------------------------------------- */

START_TEST(test_api_version_errors)
{
	ck_assert_uint_eq(prior_version_number(), PRIOR_VERSION_NUMBER);
	ck_assert_uint_eq(prior_version_number(), 802);
	ck_assert_str_eq(prior_version_string(), "0.8.2");
	ck_assert_str_eq(prior_error_name(PRIOR_OK), "no error");
	ck_assert_str_eq(prior_error_name(PRIOR_ERROR_CORRUPT), "corrupt input");
	for (int e = 0; e <= PRIOR_ERROR_MAX_ + 1; e++)
		ck_assert_ptr_nonnull(prior_error_name((enum prior_error)e));
	ck_assert_str_eq(prior_error_name((enum prior_error)40), "unknown error");
}
END_TEST

START_TEST(test_api_roundtrip)
{
	const enum prior_choice choices[] = { PRIOR_CHOICE_AUTO,
					      PRIOR_CHOICE_ZSTD, PRIOR_CHOICE_RAW };
	const enum prior_codec want[] = { PRIOR_CODEC_ZSTD, PRIOR_CODEC_ZSTD,
					  PRIOR_CODEC_RAW };
	size_t len = 100000, cap = prior_encode_bound(len), n;
	uint8_t *plain = make_data(K_TEXT, len, 21), *dst = malloc(cap);
	uint8_t *back = malloc(len);
	enum prior_codec codec;

	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(prior_encode_block(choices[i], 0, plain, len,
						    dst, cap, &n, &codec),
				 PRIOR_OK);
		ck_assert_int_eq(codec, want[i]);
		ck_assert_int_eq(prior_decode_block(codec, dst, n, back, len),
				 PRIOR_OK);
		ck_assert(memcmp(back, plain, len) == 0);
	}
	free(back);
	free(dst);
	free(plain);
}
END_TEST

START_TEST(test_api_errors)
{
	size_t len = 4096, cap = prior_encode_bound(len), n;
	uint8_t *plain = make_data(K_TEXT, len, 23), *dst = malloc(cap);
	uint8_t back[4096];
	enum prior_codec codec;

	ck_assert_int_eq(prior_encode_block(PRIOR_CHOICE_ZSTD, 3, plain, len,
					    dst, cap - 1, &n, &codec),
			 PRIOR_ERROR_DST_TOO_SMALL);
	ck_assert_int_eq(prior_encode_block(PRIOR_CHOICE_ZSTD, 20, plain, len,
					    dst, cap, &n, &codec),
			 PRIOR_ERROR_BAD_ARGUMENT);
	ck_assert_int_eq(prior_encode_block((enum prior_choice)5, 3, plain, len,
					    dst, cap, &n, &codec),
			 PRIOR_ERROR_BAD_ARGUMENT);
	ck_assert_int_eq(prior_encode_block(PRIOR_CHOICE_ZSTD, 3, plain, len,
					    dst, cap, &n, &codec), PRIOR_OK);
	ck_assert_int_eq(prior_decode_block(codec, dst, n - 1, back, len),
			 PRIOR_ERROR_CORRUPT);
	ck_assert_int_eq(prior_decode_block(PRIOR_CODEC_LEARNED, dst, n, back,
					    len), PRIOR_ERROR_UNKNOWN_CODEC);
	ck_assert_int_eq(prior_decode_block((enum prior_codec)300, dst, n, back,
					    len), PRIOR_ERROR_UNKNOWN_CODEC);
	free(dst);
	free(plain);
}
END_TEST

/* ---- learned codec choice --------------------------------------------------- */

/* Word-like text a context model predicts well (8-byte words picked by a
 * hash of their position). */
static uint8_t *make_words(size_t len, unsigned seed)
{
	static const char words[] = "the     quick   brown   fox     jumps   over    "
				    "lazy    dog     and     then    sleeps  under   "
				    "a       warm    sunny   sky     ";
	uint8_t *p = malloc(len);

	for (size_t i = 0; i < len; i++) {
		uint64_t w = (i / 8 + seed) * 0x9E3779B97F4A7C15ull;

		p[i] = (uint8_t)words[(w >> 60) * 8 + i % 8];
	}
	return p;
}

START_TEST(test_learned_choice)
{
	pf_model_train_opts topts = { .level = PF_MODEL_LEVEL_FAST, .table_bits = 16 };
	size_t len = 64 << 10, image_len, cap = pf_codec_bound(len);
	uint8_t *sample = make_words(256 << 10, 1), *plain = make_words(len, 99);
	uint8_t *out = malloc(cap), *back = malloc(len), codec;
	uint8_t *noise = make_data(K_RANDOM, len, 5);
	pf_model *model;
	void *image;
	ssize_t n;

	ck_assert_int_eq(pf_codec_model_train(sample, 256 << 10, &topts, &image, &image_len), 0);
	ck_assert_int_eq(pf_codec_model_load(image, image_len, &model), 0);
	pf_codec_params params = { .choice = PF_CHOICE_AUTO, .zstd_level = 19, .model = model,
				   .min_saving = PF_MIN_SAVING_DEFAULT };
	n = pf_codec_encode(&params, plain, len, out, cap, &codec);
	ck_assert_int_gt(n, 0);
	ck_assert_uint_eq(codec, PF_CODEC_LEARNED); /* beats zstd -19 here */
	ck_assert_int_eq(pf_codec_decode_model(codec, model, out, (size_t)n, back, len), 0);
	ck_assert_mem_eq(back, plain, len);
	ck_assert_int_eq(pf_codec_decode(codec, out, (size_t)n, back, len), -ENOTSUP);
	/* A final zstd level does not take what the learned codec wins well. */
	params.zstd_level = 3;
	params.zstd_final_level = 19;
	ck_assert_int_eq(pf_codec_encode(&params, plain, len, out, cap, &codec), n);
	ck_assert_uint_eq(codec, PF_CODEC_LEARNED);
	/* Incompressible data never reaches the model. */
	params.choice = PF_CHOICE_LEARNED;
	ck_assert_int_eq(pf_codec_encode(&params, noise, len, out, cap, &codec), (ssize_t)len);
	ck_assert_uint_eq(codec, PF_CODEC_RAW);
	/* LEARNED without a model falls back to zstd. */
	params.model = NULL;
	ck_assert_int_gt(pf_codec_encode(&params, plain, len, out, cap, &codec), 0);
	ck_assert_uint_eq(codec, PF_CODEC_ZSTD);
	pf_codec_model_free(model);
	free(image);
	free(sample);
	free(plain);
	free(noise);
	free(out);
	free(back);
}
END_TEST

/* A random walk of 16-bit samples (like PCM): the low bytes are noise and
 * the high ones drift, so order-0 entropy is near 8 bits and zstd finds no
 * repeats, yet a model over stride-2 contexts codes it well. */
static uint8_t *make_walk(size_t len, uint64_t seed)
{
	uint8_t *p = malloc(len);
	int32_t v = 0;

	for (size_t i = 0; i + 1 < len; i += 2) {
		v += (int32_t)(rng_next(&seed) % 1025) - 512;
		v = v > 32000 ? 64000 - v : (v < -32000 ? -64000 - v : v);
		p[i] = (uint8_t)(v & 255);
		p[i + 1] = (uint8_t)((uint16_t)v >> 8);
	}
	return p;
}

START_TEST(test_learned_past_probe)
{
	pf_model_train_opts topts = { .level = PF_MODEL_LEVEL_FAST, .table_bits = 14 };
	size_t len = 64 << 10, image_len, cap = pf_codec_bound(len);
	uint8_t *sample = make_walk(512 << 10, 3), *plain = make_walk(len, 77);
	uint8_t *out = malloc(cap), *back = malloc(len), codec;
	pf_model *model;
	void *image;
	ssize_t n;

	/* The zstd-oriented probe calls this noise... */
	ck_assert(pf_codec_probe_incompressible(plain, len, PF_MIN_SAVING_DEFAULT, out, cap));
	pf_codec_params params = { .choice = PF_CHOICE_AUTO, .zstd_level = 19,
				   .min_saving = PF_MIN_SAVING_DEFAULT };
	ck_assert_int_eq(pf_codec_encode(&params, plain, len, out, cap, &codec), (ssize_t)len);
	ck_assert_uint_eq(codec, PF_CODEC_RAW);
	/* ...but with a model it is coded, and decodes back. */
	ck_assert_int_eq(pf_codec_model_train(sample, 512 << 10, &topts, &image, &image_len), 0);
	ck_assert_int_eq(pf_codec_model_load(image, image_len, &model), 0);
	params.model = model;
	n = pf_codec_encode(&params, plain, len, out, cap, &codec);
	ck_assert_uint_eq(codec, PF_CODEC_LEARNED);
	ck_assert_int_lt(n, (ssize_t)(len - len / 8));
	ck_assert_int_eq(pf_codec_decode_model(codec, model, out, (size_t)n, back, len), 0);
	ck_assert_mem_eq(back, plain, len);
	pf_codec_model_free(model);
	free(image);
	free(sample);
	free(plain);
	free(out);
	free(back);
}
END_TEST

static Suite *codec_suite(void)
{
	Suite *s = suite_create("codec");
	TCase *tc;

	tc = tcase_create("roundtrip");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_roundtrip, 0, K_NKINDS * 3);
	tcase_add_test(tc, test_empty_block);
	tcase_add_test(tc, test_deterministic);
	tcase_add_test(tc, test_bad_params);
	tcase_add_test(tc, test_zstd_final_level);
	suite_add_tcase(s, tc);

	tc = tcase_create("auto");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_auto_compressed_input);
	tcase_add_test(tc, test_auto_one_eighth_rule);
	tcase_add_test(tc, test_auto_probe_verdicts);
	tcase_add_test(tc, test_auto_rule_exact);
	tcase_add_test(tc, test_min_saving);
	tcase_add_test(tc, test_min_saving_exact);
	tcase_add_test(tc, test_min_saving_parse);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_zstd_truncated_and_trailing);
	tcase_add_test(tc, test_zstd_corrupted);
	tcase_add_test(tc, test_zstd_handmade_frames);
	tcase_add_test(tc, test_zero_raw_lengths);
	tcase_add_test(tc, test_unknown_codec);
	suite_add_tcase(s, tc);

	tc = tcase_create("checksum_names");
	tcase_set_timeout(tc, 60); /* the learned tests train a model */
	tcase_add_test(tc, test_checksum);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_learned_choice);
	tcase_add_test(tc, test_learned_past_probe);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);

	tc = tcase_create("api");
	tcase_add_test(tc, test_api_version_errors);
	tcase_add_test(tc, test_api_roundtrip);
	tcase_add_test(tc, test_api_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(codec_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
