/* SPDX-License-Identifier: MIT */
/*
 * fuzz_block.c - fuzzes block decoding with hostile stored bytes, and the
 * encode/decode round trip of every codec choice.
 *
 * Input layout: byte 0 is the codec id (any value, so unknown ids are hit
 * too), bytes 1-2 the little-endian plain length to decode into, the rest
 * the stored bytes. The same rest is then encoded with each choice at a
 * level taken from byte 1 and a min_saving from byte 2: it must decode back
 * to itself, and encoding it twice must give identical bytes.
 */
#define FUZZ_ENTRY fuzz_block_entry
#include "fuzz_helpers.h"

#include <string.h>

#include "codec/codec.h"
#include "common/pf_common.h"

/* Decodes hostile bytes into a buffer of exactly plain_len bytes, so that a
 * sanitizer build sees any overrun. */
static void fuzz_decode(uint8_t codec, const uint8_t *stored, size_t stored_len,
			size_t plain_len)
{
	uint8_t *plain = malloc(plain_len ? plain_len : 1);
	int rc;

	FUZZ_ASSERT(plain);
	rc = pf_codec_decode(codec, stored, stored_len, plain, plain_len);
	FUZZ_ASSERT(rc == 0 || rc == -EIO || rc == -ENOTSUP);
	FUZZ_ASSERT((rc == -ENOTSUP) == (codec > PF_CODEC_ZSTD));
	if (rc == 0 && codec == PF_CODEC_RAW)
		FUZZ_ASSERT(stored_len == plain_len &&
			    memcmp(plain, stored, plain_len) == 0);
	if (rc == 0 && codec == PF_CODEC_ZERO)
		FUZZ_ASSERT(stored_len == 0);
	free(plain);
}

/* The codec a choice may produce for src. */
static void check_codec_choice(const pf_codec_params *params, const uint8_t *src,
			       size_t len, uint8_t codec, size_t stored_len)
{
	enum pf_codec_choice choice = params->choice;
	uint64_t need = ((uint64_t)len * params->min_saving + PF_MIN_SAVING_ONE - 1) /
			PF_MIN_SAVING_ONE;
	bool zero = true;

	for (size_t i = 0; i < len && zero; i++)
		zero = src[i] == 0;
	FUZZ_ASSERT((codec == PF_CODEC_ZERO) == zero);
	if (zero)
		return;
	if (choice == PF_CHOICE_RAW)
		FUZZ_ASSERT(codec == PF_CODEC_RAW);
	if (choice == PF_CHOICE_ZSTD)
		FUZZ_ASSERT(codec == PF_CODEC_ZSTD);
	if (choice == PF_CHOICE_AUTO)
		FUZZ_ASSERT(codec == PF_CODEC_RAW ||
			    stored_len + (need ? need : 1) <= len);
}

static void fuzz_round_trip(enum pf_codec_choice choice, int level,
			    unsigned min_saving, const uint8_t *src, size_t len)
{
	pf_codec_params params = { .choice = choice, .zstd_level = level,
				   .min_saving = min_saving };
	size_t cap = pf_codec_bound(len);
	uint8_t *a = malloc(cap), *b = malloc(cap), *back = malloc(len ? len : 1);
	uint8_t codec_a, codec_b;
	ssize_t na, nb;

	FUZZ_ASSERT(a && b && back);
	na = pf_codec_encode(&params, src, len, a, cap, &codec_a);
	nb = pf_codec_encode(&params, src, len, b, cap, &codec_b);
	FUZZ_ASSERT(na >= 0 && (size_t)na <= cap);
	FUZZ_ASSERT_MSG(na == nb && codec_a == codec_b &&
				memcmp(a, b, (size_t)na) == 0,
			"encoding twice gave different bytes");
	check_codec_choice(&params, src, len, codec_a, (size_t)na);
	FUZZ_ASSERT(pf_codec_decode(codec_a, a, (size_t)na, back, len) == 0);
	FUZZ_ASSERT_MSG(memcmp(back, src, len) == 0, "round trip differs");
	FUZZ_ASSERT(pf_checksum(back, len) == pf_checksum(src, len));
	free(back);
	free(b);
	free(a);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	const enum pf_codec_choice choices[] = { PF_CHOICE_AUTO, PF_CHOICE_ZSTD,
						 PF_CHOICE_RAW };
	unsigned min_saving;
	int level;

	if (size < 3)
		return 0;
	fuzz_decode(data[0], data + 3, size - 3, pf_le16(data + 1));
	level = PF_ZSTD_LEVEL_MIN + data[1] % PF_ZSTD_LEVEL_MAX;
	min_saving = data[2] * PF_MIN_SAVING_MAX / 255;
	for (size_t i = 0; i < sizeof(choices) / sizeof(choices[0]); i++)
		fuzz_round_trip(choices[i], level, min_saving, data + 3, size - 3);
	return 0;
}
