/* SPDX-License-Identifier: MIT */
/*
 * prior.h - libprior, the block codec library behind priorfs.
 *
 * libprior encodes and decodes independent blocks: each block is coded alone,
 * so a reader decodes only the blocks it needs. This release offers the zstd
 * and raw codecs and the automatic choice between them; the learned codec
 * (a pretrained context-mixing model with an arithmetic coder) will use the
 * same calls with a model argument. Everything declared here is stable:
 * released error values and codec ids never change.
 *
 * All functions are thread-safe; each thread keeps its own coder state.
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
#define PRIOR_VERSION_MINOR 1
#define PRIOR_VERSION_PATCH 0
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
	PRIOR_ERROR_MAX_ = 64 /* not an error; callers must not test against it */
};

/* Codec ids as stored in containers. */
enum prior_codec {
	PRIOR_CODEC_ZERO = 0,
	PRIOR_CODEC_RAW = 1,
	PRIOR_CODEC_ZSTD = 2,
	PRIOR_CODEC_LEARNED = 3
};

/* Which codec prior_encode_block() may use. */
enum prior_choice { PRIOR_CHOICE_AUTO = 0, PRIOR_CHOICE_ZSTD = 1, PRIOR_CHOICE_RAW = 2 };

PRIOR_API unsigned prior_version_number(void);
PRIOR_API const char *prior_version_string(void);

/* Human-readable name of an error; never NULL. */
PRIOR_API const char *prior_error_name(enum prior_error err);

/* Upper bound of the encoded size of a block of plain_len bytes. */
PRIOR_API size_t prior_encode_bound(size_t plain_len);

/*
 * Encodes one block. `zstd_level` is 1..19 (0 means the default, 3).
 * On success stores the codec used in *codec and the encoded length in
 * *dst_len. dst must hold prior_encode_bound(src_len) bytes.
 */
PRIOR_API enum prior_error prior_encode_block(enum prior_choice choice,
					      int zstd_level, const void *src,
					      size_t src_len, void *dst,
					      size_t dst_cap, size_t *dst_len,
					      enum prior_codec *codec);

/* Decodes one block into exactly plain_len bytes at dst. */
PRIOR_API enum prior_error prior_decode_block(enum prior_codec codec,
					      const void *src, size_t src_len,
					      void *dst, size_t plain_len);

/* XXH3-64 checksum of plain data, as stored in the block index. */
PRIOR_API uint64_t prior_checksum(const void *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
