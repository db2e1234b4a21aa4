/* SPDX-License-Identifier: MIT */
/*
 * codec.h - the codec layer: turns one plain block into stored bytes and back.
 *
 * A block is coded on its own (no state crosses blocks), so any block of a
 * container can be decoded alone. The codec id written next to each block
 * says how to decode it; ids are on-disk values and never change.
 * Encoding and decoding are thread-safe: each thread uses its own zstd
 * contexts, created on first use and freed when the thread exits.
 */
#ifndef PF_CODEC_H
#define PF_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/model.h"

/* On-disk codec ids (docs/format.md, man/priorfs.5 "Block index"). */
enum pf_codec_id {
	PF_CODEC_ZERO = 0,    /* all-zero block or hole: no stored bytes */
	PF_CODEC_RAW = 1,     /* stored as is */
	PF_CODEC_ZSTD = 2,    /* one zstd frame */
	PF_CODEC_LEARNED = 3, /* reserved for the learned codec */
	PF_CODEC_MAX_ID = 3
};

/* What the writer asks for (mount option codec=). */
enum pf_codec_choice {
	PF_CHOICE_AUTO, /* zstd, raw when it saves under min_saving or data looks
			 * random */
	PF_CHOICE_ZSTD, /* always zstd (still ZERO for all-zero blocks) */
	PF_CHOICE_RAW,  /* never compress (still ZERO for all-zero blocks) */
	PF_CHOICE_LEARNED /* the model, raw when it saves under min_saving */
};

typedef struct pf_codec_params {
	enum pf_codec_choice choice;
	int zstd_level;         /* 1..19 */
	const pf_model *model;  /* learned codec model, or NULL for none;
				 * AUTO keeps the smallest of learned, zstd, raw */
	unsigned min_saving;    /* AUTO and LEARNED: the smallest saving worth
				 * a decode, in 1/10000 of the block (at least
				 * a byte); PF_MIN_SAVING_DEFAULT is 1/8 */
	int zstd_final_level;   /* 0, or a higher level (offline coding): a
				 * block zstd codes within 1/8 of the best
				 * at zstd_level is coded at this one too,
				 * and forced zstd uses it */
} pf_codec_params;

#define PF_ZSTD_LEVEL_MIN 1
#define PF_ZSTD_LEVEL_MAX 19
#define PF_ZSTD_LEVEL_DEFAULT 3

#define PF_MIN_SAVING_ONE 10000u    /* min_saving's unit is 1/PF_MIN_SAVING_ONE */
#define PF_MIN_SAVING_DEFAULT 1250u /* 12.5%: ZFS's rule; compressed data
				     * (JPEG, PNG, gzip) stays raw */
#define PF_MIN_SAVING_MAX 5000u     /* 50% */

/* Largest stored size pf_codec_encode() can produce for plain_len bytes. */
size_t pf_codec_bound(size_t plain_len);

/*
 * Encodes plain[0..plain_len) into out (out_cap >= pf_codec_bound(plain_len)).
 * Sets *codec to the id chosen. An all-zero block yields PF_CODEC_ZERO and 0.
 * With PF_CHOICE_AUTO, a cheap probe detects incompressible data (JPEG, PNG,
 * gzip, random) and stores it raw without a full compression pass; a block
 * whose compressed form saves less than params->min_saving is stored raw.
 * @return stored length (>= 0), or -ENOMEM / -EINVAL.
 */
ssize_t pf_codec_encode(const pf_codec_params *params, const void *plain,
			size_t plain_len, void *out, size_t out_cap, uint8_t *codec);

/*
 * Decodes stored[0..stored_len) coded with `codec` into exactly plain_len
 * bytes at plain. Never reads or writes out of bounds on hostile input.
 * @return 0; -EIO if the input is corrupt or does not decode to exactly
 *         plain_len bytes; -ENOTSUP for an unknown or unavailable codec id;
 *         -ENOMEM when this thread's decoder context cannot be created.
 */
int pf_codec_decode(uint8_t codec, const void *stored, size_t stored_len,
		    void *plain, size_t plain_len);

/* As pf_codec_decode(), for any codec: PF_CODEC_LEARNED blocks need the
 * model they were coded with (-ENOTSUP when model is NULL). */
int pf_codec_decode_model(uint8_t codec, const pf_model *model, const void *stored,
			  size_t stored_len, void *plain, size_t plain_len);

/* ---- models, forwarded from the model layer (model/model.h) ---------------- */

/* Loads a model image (borrowed; must outlive the model). See pf_model_load. */
int pf_codec_model_load(const void *image, size_t len, pf_model **out);
void pf_codec_model_free(pf_model *model);
/* The level a loaded model was trained for, and its make. */
enum pf_model_level pf_codec_model_level(const pf_model *model);
void pf_codec_model_shape(const pf_model *model, pf_model_shape *shape);
/* Trains a model image from a sample. See pf_model_train. */
int pf_codec_model_train(const void *sample, size_t len,
			 const pf_model_train_opts *opts, void **image,
			 size_t *image_len);

/* XXH3-64 of a plain block: the checksum stored in the block index. */
uint64_t pf_checksum(const void *data, size_t len);

/* "zero", "raw", "zstd", "learned" or "unknown"; never NULL. */
const char *pf_codec_name(uint8_t codec);

/* Parses "auto", "learned", "zstd" or "raw". @return 0 or -EINVAL. */
int pf_codec_choice_parse(const char *s, enum pf_codec_choice *out);
const char *pf_codec_choice_name(enum pf_codec_choice choice);

/* Parses a model level: "fast", "default" or "max". @return 0 or -EINVAL. */
int pf_codec_level_parse(const char *s, enum pf_model_level *out);
/* "fast", "default", "max" or "unknown"; never NULL. */
const char *pf_codec_level_name(enum pf_model_level level);

/* Parses a min_saving given as a percentage from 0 to 50 with up to two
 * decimals ("1", "0.5", "12.5") into 1/PF_MIN_SAVING_ONE units.
 * @return 0 or -EINVAL. */
int pf_codec_min_saving_parse(const char *s, unsigned *out);

#endif
