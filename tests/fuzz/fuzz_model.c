/* SPDX-License-Identifier: MIT */
/*
 * fuzz_model.c - fuzzes model image loading and learned-codec decoding with
 * hostile bytes, and the learned codec's round trip.
 *
 * Input layout: bytes 0-2 the little-endian length of a model image that
 * follows at byte 5 (clamped to what is there), bytes 3-4 the plain length
 * to decode into, then the image, then stored bytes. The image is loaded;
 * when it is rejected (the usual case) a cold FAST model made once stands in,
 * so the decoder still sees every input. The stored bytes are decoded into a
 * buffer of exactly the plain length, then encoded as plain data: that must
 * decode back to itself, with any model (fuzz_round_trip).
 */
#define FUZZ_ENTRY fuzz_model_entry
#include "fuzz_helpers.h"

#include <errno.h>
#include <string.h>

#include "common/pf_common.h"
#include "model/model.h"

static pf_model *cold_model(void)
{
	static pf_model *cold;
	static void *img;
	pf_model_train_opts opts = { .level = PF_MODEL_LEVEL_FAST, .table_bits = 10 };
	size_t len;

	if (!cold) {
		FUZZ_ASSERT(pf_model_train(NULL, 0, &opts, &img, &len) == 0);
		FUZZ_ASSERT(pf_model_load(img, len, &cold) == 0);
	}
	return cold;
}

static void fuzz_decode(const pf_model *m, const uint8_t *stored, size_t len,
			size_t plain_len)
{
	uint8_t *plain = malloc(plain_len ? plain_len : 1);
	int rc;

	FUZZ_ASSERT(plain);
	rc = pf_model_decode(m, stored, len, plain, plain_len);
	FUZZ_ASSERT(rc == 0 || rc == -EIO);
	free(plain);
}

/* Any model, a hostile one too, must round-trip. A caller accepts about
 * len + len / 4 and gets -ENOSPC beyond it (a model primed to be wrong
 * expands its input); a coded bit shifts out at most the coder's four
 * state bytes, so WORST_CAP always suffices. */
#define WORST_CAP(len) (32 * (len) + 64)
static void fuzz_round_trip(const pf_model *m, const uint8_t *src, size_t len)
{
	size_t cap = WORST_CAP(len);
	uint8_t *out = malloc(cap), *back = malloc(len ? len : 1);
	ssize_t n;

	FUZZ_ASSERT(out && back);
	n = pf_model_encode(m, src, len, out, len + len / 4 + 64);
	FUZZ_ASSERT(n == -ENOSPC || n >= 4);
	if (n == -ENOSPC)
		n = pf_model_encode(m, src, len, out, cap);
	FUZZ_ASSERT(n >= 4 && (size_t)n <= cap);
	FUZZ_ASSERT(pf_model_decode(m, out, (size_t)n, back, len) == 0);
	FUZZ_ASSERT_MSG(memcmp(back, src, len) == 0, "round trip differs");
	free(out);
	free(back);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	size_t img_len, plain_len;
	pf_model *loaded = NULL;
	const pf_model *m;
	int rc;

	if (size < 5)
		return 0;
	img_len = data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16;
	plain_len = pf_le16(data + 3);
	data += 5;
	size -= 5;
	img_len = img_len < size ? img_len : size;
	rc = pf_model_load(data, img_len, &loaded);
	FUZZ_ASSERT(rc == 0 || rc == -EIO || rc == -ENOTSUP);
	FUZZ_ASSERT((rc == 0) == (loaded != NULL));
	m = loaded ? loaded : cold_model();
	fuzz_decode(m, data + img_len, size - img_len, plain_len);
	fuzz_round_trip(m, data + img_len, size - img_len > 4096 ? 4096 : size - img_len);
	pf_model_free(loaded);
	return 0;
}
