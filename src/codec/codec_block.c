/* SPDX-License-Identifier: MIT */
/*
 * codec_block.c - encoding and decoding of one block: picks the codec id
 * (zero, raw, zstd, learned) for the writer's choice and dispatches on the
 * stored id.
 *
 * Stored forms (format.md §3 names the ids):
 *   ZERO  no bytes; the block is plain_len zero bytes.
 *   RAW   exactly plain_len bytes, the block itself.
 *   ZSTD  one zstd frame recording plain_len as its content size.
 *   LEARNED  the model layer's arithmetic-coded stream (model/model.h).
 * Every stored length is checked against plain_len before anything is
 * copied, so a corrupt index or block gives -EIO, never an overrun.
 */
#include "codec/codec_int.h"

#include <limits.h>
#include <stdlib.h>
#include <xxhash.h>

#include "common/pf_common.h"

size_t pf_codec_bound(size_t plain_len)
{
	size_t bound = pf_codec_zstd_bound(plain_len);

	/* Too large for zstd: no output buffer can be big enough. */
	return bound ? bound : SIZE_MAX;
}

/* All-zero test without a loop of our own: p[0] == 0 and p[i] == p[i+1]. */
static bool all_zero(const uint8_t *p, size_t len)
{
	return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

/* Largest frame worth storing for plain_len (> 0) bytes: one that saves
 * min_saving of the block (rounded up), and at least a byte. */
static size_t max_useful_frame(size_t plain_len, unsigned min_saving)
{
	const size_t one = PF_MIN_SAVING_ONE;
	size_t need = plain_len / one * min_saving + /* no overflow */
		      (plain_len % one * min_saving + one - 1) / one;

	return plain_len - (need ? need : 1);
}

/* Headroom zstd needs past a block's end (1.5.4 needs 8). ZSTD_compressBound
 * exceeds n by at least 64, so the capped capacity stays within out_cap. */
#define ZSTD_CAP_SLACK 32u

static ssize_t store_raw(const void *plain, size_t plain_len, void *out,
			 uint8_t *codec)
{
	memcpy(out, plain, plain_len);
	*codec = PF_CODEC_RAW;
	return (ssize_t)plain_len;
}

/* zstd capped at `cap` bytes. OPTIMIZATION: capping the capacity near the
 * largest useful frame lets zstd stop as soon as the frame is lost instead of
 * finishing one that would be thrown away. The slack is there because zstd
 * wants a few bytes of headroom past the end of a block it writes.
 * @return frame length, or 0 when no frame of at most cap bytes exists. */
static ssize_t zstd_within(int level, const void *plain, size_t plain_len,
			   void *out, size_t cap)
{
	ssize_t z = pf_codec_zstd_encode(level, plain, plain_len, out,
					 cap + ZSTD_CAP_SLACK);

	if (z == -ENOSPC || (z >= 0 && (size_t)z > cap))
		return 0;
	return z;
}

/* The learned codec (model non-NULL) or zstd at `level` into scratch, kept
 * only if it beats `best` bytes: out may hold the best so far.
 * @return its length (now in out), 0 if it did not win, or -ENOMEM. */
static ssize_t code_within(const pf_model *model, int level, const void *plain,
			   size_t plain_len, void *out, size_t best)
{
	uint8_t *scratch = best > 1 ? malloc(best - 1 + ZSTD_CAP_SLACK) : NULL;
	ssize_t n;

	if (!scratch)
		return best > 1 ? -ENOMEM : 0;
	n = model ? pf_model_encode(model, plain, plain_len, scratch, best - 1)
		  : zstd_within(level, plain, plain_len, scratch, best - 1);
	if (n > 0)
		memcpy(out, scratch, (size_t)n);
	free(scratch);
	return n == -ENOSPC ? 0 : n;
}

/* Bytes of a block's middle the learned codec tries on data the probe
 * finds incompressible (OPTIMIZATION: about 3% of coding a 256 KiB block). */
#define LEARNED_PROBE (8u << 10)

/* The probe judges by order-0 entropy and LZ matches, which is what zstd can
 * use; a model can still code data that looks like noise to both (16-bit
 * PCM, photographs: 10-20% below raw). So before giving up on such a block
 * the model codes a slice of it, and the block is tried in full only if the
 * slice saves a quarter of min_saving (1/32 by default). Not all of it: a
 * slice codes worse than a whole block, where the model has adapted for
 * longer (16-bit PCM, 2^14-slot model: 7% saved on 8 KiB, 17% on 256 KiB);
 * noise saves nothing. */
static bool learned_may_pay(const pf_model *model, const uint8_t *plain,
			    size_t plain_len, unsigned min_saving, void *out)
{
	size_t n = plain_len < LEARNED_PROBE ? plain_len : LEARNED_PROBE;
	size_t need = n * min_saving / (4 * PF_MIN_SAVING_ONE); /* n <= 8 KiB */
	const uint8_t *mid = plain + (plain_len - n) / 2;

	return pf_model_encode(model, mid, n, out, n - (need ? need : 1)) > 0;
}

/* PF_CHOICE_AUTO and LEARNED: raw for data the probe finds incompressible
 * and the model (if any) cannot code a slice of either (OPTIMIZATION: no
 * full compression pass), else the smallest of zstd (AUTO, or LEARNED
 * without a model; skipped when the probe ruled it out) and the learned
 * codec (when there is a model), raw when neither saves min_saving. With
 * a final zstd level, zstd within 1/8 of the best is tried at it too: the
 * slow level runs only where it may win (a zstd block, or a close call). */
static ssize_t encode_best(const pf_codec_params *params, const void *plain,
			   size_t plain_len, void *out, size_t out_cap,
			   uint8_t *codec)
{
	size_t best = max_useful_frame(plain_len, params->min_saving) + 1;
	bool noise = pf_codec_probe_incompressible(plain, plain_len,
						   params->min_saving, out, out_cap);
	size_t zstd_len = 0;
	ssize_t n;

	if (noise && !(params->model &&
		       learned_may_pay(params->model, plain, plain_len,
				       params->min_saving, out)))
		return store_raw(plain, plain_len, out, codec);
	*codec = PF_CODEC_RAW;
	if (!noise && (params->choice == PF_CHOICE_AUTO || !params->model)) {
		n = zstd_within(params->zstd_level, plain, plain_len, out, best - 1);
		if (n < 0)
			return n;
		if (n > 0) {
			best = zstd_len = (size_t)n;
			*codec = PF_CODEC_ZSTD;
		}
	}
	if (params->model) {
		n = code_within(params->model, 0, plain, plain_len, out, best);
		if (n < 0)
			return n;
		if (n > 0) {
			best = (size_t)n;
			*codec = PF_CODEC_LEARNED;
		}
	}
	if (zstd_len && zstd_len <= best + best / 8 &&
	    params->zstd_final_level > params->zstd_level) {
		n = code_within(NULL, params->zstd_final_level, plain, plain_len, out, best);
		if (n < 0)
			return n;
		if (n > 0) {
			best = (size_t)n;
			*codec = PF_CODEC_ZSTD;
		}
	}
	if (*codec == PF_CODEC_RAW)
		return store_raw(plain, plain_len, out, codec);
	return (ssize_t)best;
}

static ssize_t encode_zstd(int level, const void *plain, size_t plain_len,
			   void *out, size_t out_cap, uint8_t *codec)
{
	ssize_t z = pf_codec_zstd_encode(level, plain, plain_len, out, out_cap);

	if (z == -ENOSPC) /* cannot happen with out_cap >= bound */
		return -EINVAL;
	if (z >= 0)
		*codec = PF_CODEC_ZSTD;
	return z;
}

ssize_t pf_codec_encode(const pf_codec_params *params, const void *plain,
			size_t plain_len, void *out, size_t out_cap,
			uint8_t *codec)
{
	int level = params->zstd_level;

	if (level < PF_ZSTD_LEVEL_MIN || level > PF_ZSTD_LEVEL_MAX ||
	    (params->zstd_final_level &&
	     (params->zstd_final_level < PF_ZSTD_LEVEL_MIN ||
	      params->zstd_final_level > PF_ZSTD_LEVEL_MAX)) ||
	    params->min_saving > PF_MIN_SAVING_MAX || plain_len > SSIZE_MAX ||
	    out_cap < pf_codec_bound(plain_len))
		return -EINVAL;
	if (all_zero(plain, plain_len)) {
		*codec = PF_CODEC_ZERO;
		return 0;
	}
	switch (params->choice) {
	case PF_CHOICE_AUTO:
	case PF_CHOICE_LEARNED:
		return encode_best(params, plain, plain_len, out, out_cap, codec);
	case PF_CHOICE_ZSTD:
		if (params->zstd_final_level > level)
			level = params->zstd_final_level;
		return encode_zstd(level, plain, plain_len, out, out_cap, codec);
	case PF_CHOICE_RAW:
		return store_raw(plain, plain_len, out, codec);
	}
	return -EINVAL;
}

int pf_codec_decode(uint8_t codec, const void *stored, size_t stored_len,
		    void *plain, size_t plain_len)
{
	return pf_codec_decode_model(codec, NULL, stored, stored_len, plain, plain_len);
}

int pf_codec_decode_model(uint8_t codec, const pf_model *model, const void *stored,
			  size_t stored_len, void *plain, size_t plain_len)
{
	switch (codec) {
	case PF_CODEC_ZERO:
		if (stored_len != 0)
			return PF_CORRUPT("zero block with stored bytes");
		if (plain_len)
			memset(plain, 0, plain_len);
		return 0;
	case PF_CODEC_RAW:
		if (stored_len != plain_len)
			return PF_CORRUPT("raw block length differs from index");
		if (plain_len)
			memcpy(plain, stored, plain_len);
		return 0;
	case PF_CODEC_ZSTD:
		return pf_codec_zstd_decode(stored, stored_len, plain, plain_len);
	case PF_CODEC_LEARNED:
		if (!model)
			return -ENOTSUP;
		return pf_model_decode(model, stored, stored_len, plain, plain_len);
	default:
		return -ENOTSUP;
	}
}

int pf_codec_model_load(const void *image, size_t len, pf_model **out)
{
	return pf_model_load(image, len, out);
}

void pf_codec_model_free(pf_model *model)
{
	pf_model_free(model);
}

enum pf_model_level pf_codec_model_level(const pf_model *model)
{
	return pf_model_get_level(model);
}

void pf_codec_model_shape(const pf_model *model, pf_model_shape *shape)
{
	pf_model_get_shape(model, shape);
}

int pf_codec_model_train(const void *sample, size_t len,
			 const pf_model_train_opts *opts, void **image,
			 size_t *image_len)
{
	return pf_model_train(sample, len, opts, image, image_len);
}

uint64_t pf_checksum(const void *data, size_t len)
{
	return XXH3_64bits(data, len);
}

const char *pf_codec_name(uint8_t codec)
{
	static const char *const names[] = {
		[PF_CODEC_ZERO] = "zero",
		[PF_CODEC_RAW] = "raw",
		[PF_CODEC_ZSTD] = "zstd",
		[PF_CODEC_LEARNED] = "learned",
	};

	return codec <= PF_CODEC_MAX_ID ? names[codec] : "unknown";
}

static const char *const choice_names[] = {
	[PF_CHOICE_AUTO] = "auto",
	[PF_CHOICE_ZSTD] = "zstd",
	[PF_CHOICE_RAW] = "raw",
	[PF_CHOICE_LEARNED] = "learned",
};

/* The index of s in names[0, n), or -EINVAL. */
static int name_find(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (s && names[i] && strcmp(s, names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

/* names[i], or "unknown" past the table. */
static const char *name_at(const char *const *names, size_t n, unsigned i)
{
	return i < n && names[i] ? names[i] : "unknown";
}

#define NAMES(t) (t), sizeof(t) / sizeof((t)[0])

int pf_codec_choice_parse(const char *s, enum pf_codec_choice *out)
{
	int i = name_find(NAMES(choice_names), s);

	if (i < 0)
		return i;
	*out = (enum pf_codec_choice)i;
	return 0;
}

const char *pf_codec_choice_name(enum pf_codec_choice choice)
{
	return name_at(NAMES(choice_names), (unsigned)choice);
}

static const char *const level_names[] = {
	[PF_MODEL_LEVEL_FAST] = "fast",
	[PF_MODEL_LEVEL_DEFAULT] = "default",
	[PF_MODEL_LEVEL_MAX] = "max",
};

int pf_codec_level_parse(const char *s, enum pf_model_level *out)
{
	int i = name_find(NAMES(level_names), s);

	if (i < 0)
		return i;
	*out = (enum pf_model_level)i;
	return 0;
}

const char *pf_codec_level_name(enum pf_model_level level)
{
	return name_at(NAMES(level_names), (unsigned)level);
}

int pf_codec_min_saving_parse(const char *s, unsigned *out)
{
	const unsigned percent = PF_MIN_SAVING_ONE / 100;
	unsigned whole = 0, frac = 0, digits = 0, scale = percent;

	for (; s && *s >= '0' && *s <= '9'; s++) {
		if (++digits > 2)
			return -EINVAL;
		whole = whole * 10 + (unsigned)(*s - '0');
	}
	if (digits && *s == '.' && s[1])
		for (s++; *s >= '0' && *s <= '9' && scale > 1; s++) {
			scale /= 10;
			frac += (unsigned)(*s - '0') * scale;
		}
	if (!digits || *s || whole * percent + frac > PF_MIN_SAVING_MAX)
		return -EINVAL;
	*out = whole * percent + frac;
	return 0;
}
