/* SPDX-License-Identifier: MIT */
/*
 * codec_api.c - the public libprior calls (include/prior.h), thin wrappers
 * that map prior_ types onto the codec layer and its errnos onto
 * enum prior_error. This file holds the one error-name table.
 */
#include "prior.h"

#include "codec/codec.h"
#include "common/pf_common.h"

#define PRIOR_STR_(x) #x
#define PRIOR_STR(x) PRIOR_STR_(x)

_Static_assert((int)PRIOR_CODEC_ZERO == PF_CODEC_ZERO &&
		       (int)PRIOR_CODEC_RAW == PF_CODEC_RAW &&
		       (int)PRIOR_CODEC_ZSTD == PF_CODEC_ZSTD &&
		       (int)PRIOR_CODEC_LEARNED == PF_CODEC_LEARNED,
	       "public codec ids are the on-disk ids");

PRIOR_API unsigned prior_version_number(void)
{
	return PRIOR_VERSION_NUMBER;
}

PRIOR_API const char *prior_version_string(void)
{
	return PRIOR_STR(PRIOR_VERSION_MAJOR) "." PRIOR_STR(
		PRIOR_VERSION_MINOR) "." PRIOR_STR(PRIOR_VERSION_PATCH);
}

PRIOR_API const char *prior_error_name(enum prior_error err)
{
	switch (err) {
	case PRIOR_OK: return "no error";
	case PRIOR_ERROR_CORRUPT: return "corrupt input";
	case PRIOR_ERROR_DST_TOO_SMALL: return "destination buffer too small";
	case PRIOR_ERROR_UNKNOWN_CODEC: return "unknown codec";
	case PRIOR_ERROR_NO_MEMORY: return "out of memory";
	case PRIOR_ERROR_BAD_ARGUMENT: return "bad argument";
	case PRIOR_ERROR_MAX_: break;
	}
	return "unknown error";
}

/* The codec layer's negative errnos as public errors. */
static enum prior_error error_from_errno(long rc)
{
	switch (rc) {
	case -EIO: return PRIOR_ERROR_CORRUPT;
	case -ENOTSUP: return PRIOR_ERROR_UNKNOWN_CODEC;
	case -ENOMEM: return PRIOR_ERROR_NO_MEMORY;
	default: return PRIOR_ERROR_BAD_ARGUMENT;
	}
}

PRIOR_API size_t prior_encode_bound(size_t plain_len)
{
	return pf_codec_bound(plain_len);
}

/* Maps a public choice; false for values outside the enum. */
static bool choice_from_prior(enum prior_choice choice,
			      enum pf_codec_choice *out)
{
	switch (choice) {
	case PRIOR_CHOICE_AUTO: *out = PF_CHOICE_AUTO; return true;
	case PRIOR_CHOICE_ZSTD: *out = PF_CHOICE_ZSTD; return true;
	case PRIOR_CHOICE_RAW: *out = PF_CHOICE_RAW; return true;
	}
	return false;
}

PRIOR_API enum prior_error prior_encode_block(enum prior_choice choice,
					      int zstd_level, const void *src,
					      size_t src_len, void *dst,
					      size_t dst_cap, size_t *dst_len,
					      enum prior_codec *codec)
{
	pf_codec_params params = { .zstd_level = zstd_level };
	uint8_t id;
	ssize_t n;

	if (zstd_level == 0)
		params.zstd_level = PF_ZSTD_LEVEL_DEFAULT;
	if (!choice_from_prior(choice, &params.choice) || !dst_len || !codec ||
	    (!src && src_len) || !dst)
		return PRIOR_ERROR_BAD_ARGUMENT;
	if (dst_cap < pf_codec_bound(src_len))
		return PRIOR_ERROR_DST_TOO_SMALL;
	n = pf_codec_encode(&params, src, src_len, dst, dst_cap, &id);
	if (n < 0)
		return error_from_errno(n);
	*dst_len = (size_t)n;
	*codec = (enum prior_codec)id;
	return PRIOR_OK;
}

PRIOR_API enum prior_error prior_decode_block(enum prior_codec codec,
					      const void *src, size_t src_len,
					      void *dst, size_t plain_len)
{
	int rc;

	if ((unsigned)codec > PF_CODEC_MAX_ID)
		return PRIOR_ERROR_UNKNOWN_CODEC;
	if ((!src && src_len) || (!dst && plain_len))
		return PRIOR_ERROR_BAD_ARGUMENT;
	rc = pf_codec_decode((uint8_t)codec, src, src_len, dst, plain_len);
	return rc < 0 ? error_from_errno(rc) : PRIOR_OK;
}

PRIOR_API uint64_t prior_checksum(const void *data, size_t len)
{
	return pf_checksum(data, len);
}
