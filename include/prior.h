/* SPDX-License-Identifier: MIT */
/*
 * prior.h - libprior, the block codec library behind priorfs.
 *
 * libprior encodes and decodes independent blocks: each block is coded alone,
 * so a reader decodes only the blocks it needs. It offers:
 *   - the zstd and raw codecs and the automatic choice between them
 *     (prior_encode_block, prior_decode_block);
 *   - the learned codec, a pretrained context-mixing model driving an
 *     arithmetic coder: train a model image from sample data
 *     (prior_model_train), load and validate one (prior_model_load,
 *     prior_model_load_file), and code blocks with it
 *     (prior_encode_block_model, prior_decode_block_model);
 *   - the block checksum priorfs stores in its index (prior_checksum).
 * It needs no FUSE. Everything declared here is stable: released error
 * values, codec ids and choices never change, and new ones are only added.
 *
 * Errors are enum prior_error values; prior_error_name() gives a message.
 * Model images are untrusted input: a bad one gives PRIOR_ERROR_CORRUPT (or
 * PRIOR_ERROR_UNSUPPORTED for a format version this release does not know),
 * never a crash.
 *
 * Thread safety: all functions are thread-safe. A loaded prior_model is
 * immutable and may be shared by any number of threads coding at once; each
 * thread keeps its own coder state (a few MB per thread that codes with a
 * model, freed when the thread exits).
 */
#ifndef PRIOR_H
#define PRIOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define PRIOR_API __attribute__((visibility("default")))
#else
#define PRIOR_API
#endif

#define PRIOR_VERSION_MAJOR 0
#define PRIOR_VERSION_MINOR 8
#define PRIOR_VERSION_PATCH 2
#define PRIOR_VERSION_NUMBER                                                   \
	(PRIOR_VERSION_MAJOR * 10000 + PRIOR_VERSION_MINOR * 100 +             \
	 PRIOR_VERSION_PATCH)

/* Error codes. Released values never change. */
enum prior_error {
	PRIOR_OK = 0,
	PRIOR_ERROR_CORRUPT = 1,      /* input does not decode, or wrong length */
	PRIOR_ERROR_DST_TOO_SMALL = 2,
	PRIOR_ERROR_UNKNOWN_CODEC = 3,
	PRIOR_ERROR_NO_MEMORY = 4,
	PRIOR_ERROR_BAD_ARGUMENT = 5,
	/* since 0.2 */
	PRIOR_ERROR_NO_MODEL = 6,     /* a learned block or choice needs a model */
	PRIOR_ERROR_UNSUPPORTED = 7,  /* model image of an unknown format version */
	PRIOR_ERROR_IO = 8,           /* a file could not be read; see errno */
	PRIOR_ERROR_MAX_ = 64 /* not an error; callers must not test against it */
};

/* Codec ids as stored in containers. */
enum prior_codec {
	PRIOR_CODEC_ZERO = 0,
	PRIOR_CODEC_RAW = 1,
	PRIOR_CODEC_ZSTD = 2,
	PRIOR_CODEC_LEARNED = 3
};

/*
 * Which codec the encoder may use. AUTO: zstd or raw, and with a model the
 * smallest of learned, zstd and raw. LEARNED (since 0.2): the model, raw
 * when it saves under 1/8; needs a model. An all-zero block is always
 * PRIOR_CODEC_ZERO.
 */
enum prior_choice {
	PRIOR_CHOICE_AUTO = 0,
	PRIOR_CHOICE_ZSTD = 1,
	PRIOR_CHOICE_RAW = 2,
	PRIOR_CHOICE_LEARNED = 3
};

PRIOR_API unsigned prior_version_number(void);
PRIOR_API const char *prior_version_string(void);

/* Human-readable name of an error; never NULL. */
PRIOR_API const char *prior_error_name(enum prior_error err);

/* Upper bound of the encoded size of a block of plain_len bytes. */
PRIOR_API size_t prior_encode_bound(size_t plain_len);

/*
 * Encodes one block without a model: prior_encode_block_model() with a NULL
 * model. `zstd_level` is 1..19 (0 means the default, 3).
 * On success stores the codec used in *codec and the encoded length in
 * *dst_len. dst must hold prior_encode_bound(src_len) bytes.
 */
PRIOR_API enum prior_error prior_encode_block(enum prior_choice choice,
					      int zstd_level, const void *src,
					      size_t src_len, void *dst,
					      size_t dst_cap, size_t *dst_len,
					      enum prior_codec *codec);

/* Decodes one block into exactly plain_len bytes at dst. Without a model,
 * a PRIOR_CODEC_LEARNED block gives PRIOR_ERROR_UNKNOWN_CODEC (as in 0.1);
 * decode it with prior_decode_block_model(). */
PRIOR_API enum prior_error prior_decode_block(enum prior_codec codec,
					      const void *src, size_t src_len,
					      void *dst, size_t plain_len);

/* ---- the learned codec (since 0.2) ---------------------------------------- */

/* A loaded, validated model. Opaque and immutable: share it across threads. */
typedef struct prior_model prior_model;

/* Size of a model id, the SHA-256 of its file image. */
#define PRIOR_MODEL_ID_SIZE 32

/*
 * Loads a model from its file image data[0..len) (untrusted: every field is
 * range-checked). libprior keeps its own copy, so the caller may free or
 * reuse data as soon as this returns. On success *out holds the model; free
 * it with prior_model_free(). On failure *out is NULL.
 * @return PRIOR_OK; PRIOR_ERROR_CORRUPT for a bad or truncated image;
 *         PRIOR_ERROR_UNSUPPORTED for an unknown format version;
 *         PRIOR_ERROR_NO_MEMORY; PRIOR_ERROR_BAD_ARGUMENT (NULL pointers).
 */
PRIOR_API enum prior_error prior_model_load(const void *data, size_t len,
					    prior_model **out);

/*
 * As prior_model_load(), from a file, which stays mapped read-only until
 * prior_model_free(): it must not be truncated or rewritten meanwhile
 * (priorfs never rewrites a model file; its name is its id).
 * @return as prior_model_load(), and PRIOR_ERROR_IO when the file cannot be
 *         opened or mapped (errno says why).
 */
PRIOR_API enum prior_error prior_model_load_file(const char *path,
						 prior_model **out);

/* Frees a model; NULL is a no-op. No thread may be using it. */
PRIOR_API void prior_model_free(prior_model *model);

/*
 * The model's id: the SHA-256 of its file image, as the priorfs model store
 * names it (computed once at load). A loaded model is only as good as its
 * image: the checks catch a damaged header, a truncation or a payload that
 * does not unpack, but a flipped bit inside the packed tables may load as a
 * different valid model. Callers that must know compare this id with the
 * one they stored.
 */
PRIOR_API void prior_model_id(const prior_model *model,
			      uint8_t out[PRIOR_MODEL_ID_SIZE]);

/*
 * Model levels: FAST uses fewer contexts; a model decodes any block it made.
 * MAX (since 0.3) adds a small neural network to DEFAULT's contexts: it
 * codes smaller (2-5% on text, models counted), but training takes roughly
 * 10-20x as long, coding runs at about half DEFAULT's speed, and the model
 * is bigger (the network adds 100-200 KB at widths 32-64).
 */
enum prior_model_level {
	PRIOR_MODEL_LEVEL_FAST = 0,
	PRIOR_MODEL_LEVEL_DEFAULT = 1,
	PRIOR_MODEL_LEVEL_MAX = 2
};

/* The network width of a level MAX model: a multiple of
 * PRIOR_NET_WIDTH_STEP in this range (since 0.3). Wider predicts better and
 * costs more time and model bytes. Since 0.5 every level MAX network also
 * reads the byte the in-block match expects (such a model needs libprior
 * 0.5 or later to load), since 0.6 the bytes that followed the last few
 * bytes where they last occurred in the block (0.6 or later), and since
 * 0.7 a network trained on token shards also reads a decaying sum of the
 * block's earlier tokens and has output rows of its own for a token's
 * second byte (0.7 or later). */
#define PRIOR_NET_WIDTH_MIN 32u
#define PRIOR_NET_WIDTH_MAX 256u
#define PRIOR_NET_WIDTH_STEP 32u
/* since 0.4, prior_train_opts.net_features: the network also reads the
 * previous three bytes, the previous word and the column (a bigger model;
 * on prose it pays, on source code and token shards of tens of megabytes
 * it gains about what it costs: train with and without, and compare). */
#define PRIOR_NET_CONTEXT 1u

/* Training progress: done of total sample bytes. Called on the training
 * thread. */
typedef void (*prior_progress_fn)(void *arg, uint64_t done, uint64_t total);

/* Training options. Zero-initialise, then set what you need. */
typedef struct prior_train_opts {
	enum prior_model_level level;
	unsigned table_bits;        /* log2 slots per context table, 10..20;
				     * 0 = the default (18) */
	prior_progress_fn progress; /* may be NULL */
	void *progress_arg;
	uint32_t net_width;         /* since 0.3, level MAX only: the network's
				     * first layer, a multiple of
				     * PRIOR_NET_WIDTH_STEP in
				     * PRIOR_NET_WIDTH_MIN..MAX; 0 = the
				     * default (64) */
	uint32_t net_features;      /* since 0.4, level MAX only: PRIOR_NET_*
				     * flags; 0 = none (was reserved) */
	uint64_t reserved[3];       /* must be zero: room for later options
				     * without changing the struct's size */
} prior_train_opts;

/*
 * Trains a model on sample[0..len) (len < 4 GiB; 0 gives a cold model that
 * still codes anything) and returns its file image: *image (free it with
 * prior_free()) of *image_len bytes, ready for prior_model_load() or to be
 * written to a file. opts NULL means the DEFAULT level and table size.
 * Blocks the calling thread for the whole training (CPU-bound, roughly
 * proportional to len). Training's OpenBLAS calls run on the calling
 * thread: it sets OpenBLAS to one thread while it trains and puts the
 * caller's setting back.
 * @return PRIOR_OK; PRIOR_ERROR_BAD_ARGUMENT (bad options: an unknown level,
 *         table_bits or net_width out of range, net_width or net_features
 *         set for a level other than MAX, unknown net_features, reserved
 *         fields not zero; NULL pointers, sample
 *         too large); PRIOR_ERROR_NO_MEMORY.
 */
PRIOR_API enum prior_error prior_model_train(const void *sample, size_t len,
					     const prior_train_opts *opts,
					     void **image, size_t *image_len);

/* Frees memory libprior returned (a trained image); NULL is a no-op. */
PRIOR_API void prior_free(void *p);

/*
 * Encodes one block as prior_encode_block() does, with `model` (may be NULL)
 * for the learned codec: AUTO with a model keeps the smallest of learned,
 * zstd and raw; LEARNED uses the model (raw when it saves under 1/8). ZSTD
 * and RAW ignore the model. dst must hold prior_encode_bound(src_len) bytes.
 * The output is the same, bit for bit, whichever thread runs it.
 * @return PRIOR_OK; PRIOR_ERROR_NO_MODEL for LEARNED without a model;
 *         PRIOR_ERROR_DST_TOO_SMALL; PRIOR_ERROR_BAD_ARGUMENT;
 *         PRIOR_ERROR_NO_MEMORY.
 */
PRIOR_API enum prior_error prior_encode_block_model(
	const prior_model *model, enum prior_choice choice, int zstd_level,
	const void *src, size_t src_len, void *dst, size_t dst_cap,
	size_t *dst_len, enum prior_codec *codec);

/*
 * Decodes one block into exactly plain_len bytes at dst. A
 * PRIOR_CODEC_LEARNED block needs the model it was coded with; other codecs
 * ignore `model` (may be NULL).
 * @return PRIOR_OK; PRIOR_ERROR_NO_MODEL for a learned block and no model;
 *         PRIOR_ERROR_CORRUPT when src does not decode to plain_len bytes
 *         (also the usual result of decoding with the wrong model; the
 *         block checksum catches the rest); PRIOR_ERROR_UNKNOWN_CODEC;
 *         PRIOR_ERROR_BAD_ARGUMENT; PRIOR_ERROR_NO_MEMORY.
 */
PRIOR_API enum prior_error prior_decode_block_model(const prior_model *model,
						    enum prior_codec codec,
						    const void *src,
						    size_t src_len, void *dst,
						    size_t plain_len);

/* XXH3-64 checksum of plain data, as stored in the block index. */
PRIOR_API uint64_t prior_checksum(const void *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
