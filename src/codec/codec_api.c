/* SPDX-License-Identifier: MIT */
/*
 * codec_api.c - the public libprior calls (include/prior.h), thin wrappers
 * that map prior_ types onto the codec layer and its errnos onto
 * enum prior_error. This file holds the one error-name table, and the
 * public model handle: a pf_model plus the image it was loaded from.
 */
#include "prior.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/codec.h"
#include "common/pf_common.h"
#include "common/pf_sha256.h"

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
	case PRIOR_ERROR_NO_MODEL: return "learned codec needs a model";
	case PRIOR_ERROR_UNSUPPORTED: return "unsupported model format version";
	case PRIOR_ERROR_IO: return "cannot read file";
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
	case PRIOR_CHOICE_LEARNED: *out = PF_CHOICE_LEARNED; return true;
	}
	return false;
}

PRIOR_API enum prior_error prior_encode_block(enum prior_choice choice,
					      int zstd_level, const void *src,
					      size_t src_len, void *dst,
					      size_t dst_cap, size_t *dst_len,
					      enum prior_codec *codec)
{
	return prior_encode_block_model(NULL, choice, zstd_level, src, src_len,
					dst, dst_cap, dst_len, codec);
}

PRIOR_API enum prior_error prior_decode_block(enum prior_codec codec,
					      const void *src, size_t src_len,
					      void *dst, size_t plain_len)
{
	enum prior_error err =
		prior_decode_block_model(NULL, codec, src, src_len, dst, plain_len);

	/* 0.1 callers knew no PRIOR_ERROR_NO_MODEL: keep their answer. */
	return err == PRIOR_ERROR_NO_MODEL ? PRIOR_ERROR_UNKNOWN_CODEC : err;
}

PRIOR_API uint64_t prior_checksum(const void *data, size_t len)
{
	return pf_checksum(data, len);
}

/* ---- models ---------------------------------------------------------------- */

struct prior_model {
	pf_model *model;      /* immutable after load */
	void *image;          /* the file image model borrows (model.h):
			       * a private copy, or a read-only mapping */
	size_t image_len;     /* bytes, > 0 */
	bool mapped;          /* image is from mmap (munmap) not malloc (free) */
	uint8_t id[PRIOR_MODEL_ID_SIZE]; /* SHA-256 of the image */
};

/* The model layer's load errnos as public errors. */
static enum prior_error model_error_from_errno(int rc)
{
	switch (rc) {
	case -EIO: return PRIOR_ERROR_CORRUPT;
	case -ENOTSUP: return PRIOR_ERROR_UNSUPPORTED;
	case -ENOMEM: return PRIOR_ERROR_NO_MEMORY;
	default: return PRIOR_ERROR_BAD_ARGUMENT;
	}
}

/* Loads the model in h->image[0..image_len), which h owns from now on.
 * Frees h (and so the image) on failure. */
static enum prior_error model_open(prior_model *h, prior_model **out)
{
	int rc = pf_codec_model_load(h->image, h->image_len, &h->model);

	if (rc < 0) {
		prior_model_free(h);
		return model_error_from_errno(rc);
	}
	pf_sha256(h->image, h->image_len, h->id);
	*out = h;
	return PRIOR_OK;
}

PRIOR_API enum prior_error prior_model_load(const void *data, size_t len,
					    prior_model **out)
{
	prior_model *h;

	if (!out)
		return PRIOR_ERROR_BAD_ARGUMENT;
	*out = NULL;
	if (!data && len)
		return PRIOR_ERROR_BAD_ARGUMENT;
	if (len == 0)
		return PRIOR_ERROR_CORRUPT; /* an image has at least a header */
	h = calloc(1, sizeof(*h));
	if (!h)
		return PRIOR_ERROR_NO_MEMORY;
	h->image = malloc(len);
	if (!h->image) {
		free(h);
		return PRIOR_ERROR_NO_MEMORY;
	}
	memcpy(h->image, data, len);
	h->image_len = len;
	return model_open(h, out);
}

/* Maps path's whole file read-only. @return PRIOR_OK; CORRUPT for an empty
 * file (no image); IO with errno set when it cannot be opened or mapped. */
static enum prior_error file_map(const char *path, void **map, size_t *len)
{
	enum prior_error err = PRIOR_ERROR_IO;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), saved;

	if (fd < 0)
		return PRIOR_ERROR_IO;
	if (fstat(fd, &st) < 0)
		goto out_close;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto out_close;
	}
	if ((uint64_t)st.st_size > SIZE_MAX) {
		errno = EFBIG;
		goto out_close;
	}
	if (st.st_size == 0) {
		err = PRIOR_ERROR_CORRUPT;
		goto out_close;
	}
	*len = (size_t)st.st_size;
	*map = mmap(NULL, *len, PROT_READ, MAP_SHARED, fd, 0);
	if (*map != MAP_FAILED)
		err = PRIOR_OK;
out_close:
	saved = errno;
	close(fd); /* a mapping outlives its descriptor */
	errno = saved;
	return err;
}

PRIOR_API enum prior_error prior_model_load_file(const char *path,
						 prior_model **out)
{
	enum prior_error err;
	prior_model *h;
	size_t len;
	void *map;

	if (!out)
		return PRIOR_ERROR_BAD_ARGUMENT;
	*out = NULL;
	if (!path)
		return PRIOR_ERROR_BAD_ARGUMENT;
	err = file_map(path, &map, &len);
	if (err != PRIOR_OK)
		return err;
	h = calloc(1, sizeof(*h));
	if (!h) {
		munmap(map, len);
		return PRIOR_ERROR_NO_MEMORY;
	}
	*h = (prior_model){ .image = map, .image_len = len, .mapped = true };
	return model_open(h, out);
}

PRIOR_API void prior_model_free(prior_model *model)
{
	if (!model)
		return;
	pf_codec_model_free(model->model);
	if (model->mapped)
		munmap(model->image, model->image_len);
	else
		free(model->image);
	free(model);
}

PRIOR_API void prior_model_id(const prior_model *model,
			      uint8_t out[PRIOR_MODEL_ID_SIZE])
{
	memcpy(out, model->id, PRIOR_MODEL_ID_SIZE);
}

_Static_assert(PRIOR_MODEL_ID_SIZE == PF_SHA256_SIZE, "a model id is a SHA-256");
_Static_assert((int)PRIOR_MODEL_LEVEL_FAST == PF_MODEL_LEVEL_FAST &&
		       (int)PRIOR_MODEL_LEVEL_DEFAULT == PF_MODEL_LEVEL_DEFAULT &&
		       (int)PRIOR_MODEL_LEVEL_MAX == PF_MODEL_LEVEL_MAX,
	       "public model levels are the model layer's");
_Static_assert(PRIOR_NET_WIDTH_MIN == PF_MODEL_NET_WIDTH_MIN &&
		       PRIOR_NET_WIDTH_MAX == PF_MODEL_NET_WIDTH_MAX &&
		       PRIOR_NET_WIDTH_STEP == PF_MODEL_NET_WIDTH_STEP,
	       "public network widths are the model layer's");
/* net_width and net_features took words of `reserved`: 0.2 callers keep
 * the 0.2 layout. */
_Static_assert(sizeof(prior_train_opts) == 2 * sizeof(unsigned) +
						   2 * sizeof(void *) +
						   4 * sizeof(uint64_t),
	       "prior_train_opts keeps its 0.2 size");

/* A later release may give reserved words a meaning; this one must not
 * silently ignore a caller who sets them. */
static bool reserved_zero(const prior_train_opts *opts)
{
	for (size_t i = 0; i < sizeof(opts->reserved) / sizeof(opts->reserved[0]); i++)
		if (opts->reserved[i])
			return false;
	return true;
}

/* The level is known, net_width and net_features are 0 unless the level
 * is MAX (the model layer ignores them elsewhere; it checks the width's
 * range and step itself), net_features has no unknown flag, and the
 * reserved words are zero. */
static bool train_opts_valid(const prior_train_opts *opts)
{
	if (opts->level != PRIOR_MODEL_LEVEL_FAST &&
	    opts->level != PRIOR_MODEL_LEVEL_DEFAULT &&
	    opts->level != PRIOR_MODEL_LEVEL_MAX)
		return false;
	if ((opts->net_width || opts->net_features) && opts->level != PRIOR_MODEL_LEVEL_MAX)
		return false;
	if (opts->net_features & ~PRIOR_NET_CONTEXT)
		return false;
	return reserved_zero(opts);
}

PRIOR_API enum prior_error prior_model_train(const void *sample, size_t len,
					     const prior_train_opts *opts,
					     void **image, size_t *image_len)
{
	pf_model_train_opts o = { .level = PF_MODEL_LEVEL_DEFAULT };
	int rc;

	if (!image || !image_len || (!sample && len))
		return PRIOR_ERROR_BAD_ARGUMENT;
	*image = NULL;
	*image_len = 0;
	if (opts) {
		if (!train_opts_valid(opts))
			return PRIOR_ERROR_BAD_ARGUMENT;
		o = (pf_model_train_opts){ .level = (enum pf_model_level)opts->level,
					   .table_bits = opts->table_bits,
					   .net_width = opts->net_width,
					   .net_context = opts->net_features & PRIOR_NET_CONTEXT,
					   .progress = opts->progress,
					   .progress_arg = opts->progress_arg };
	}
	rc = pf_codec_model_train(sample, len, &o, image, image_len);
	return rc == -ENOMEM ? PRIOR_ERROR_NO_MEMORY
	       : rc < 0      ? PRIOR_ERROR_BAD_ARGUMENT
			     : PRIOR_OK;
}

PRIOR_API void prior_free(void *p)
{
	free(p);
}

PRIOR_API enum prior_error prior_encode_block_model(
	const prior_model *model, enum prior_choice choice, int zstd_level,
	const void *src, size_t src_len, void *dst, size_t dst_cap,
	size_t *dst_len, enum prior_codec *codec)
{
	pf_codec_params params = { .zstd_level = zstd_level,
				   .model = model ? model->model : NULL,
				   .min_saving = PF_MIN_SAVING_DEFAULT };
	uint8_t id;
	ssize_t n;

	if (zstd_level == 0)
		params.zstd_level = PF_ZSTD_LEVEL_DEFAULT;
	if (!choice_from_prior(choice, &params.choice) || !dst_len || !codec ||
	    (!src && src_len) || !dst)
		return PRIOR_ERROR_BAD_ARGUMENT;
	/* The codec layer falls back to zstd; the public call says so instead. */
	if (choice == PRIOR_CHOICE_LEARNED && !model)
		return PRIOR_ERROR_NO_MODEL;
	if (dst_cap < pf_codec_bound(src_len))
		return PRIOR_ERROR_DST_TOO_SMALL;
	n = pf_codec_encode(&params, src, src_len, dst, dst_cap, &id);
	if (n < 0)
		return error_from_errno(n);
	*dst_len = (size_t)n;
	*codec = (enum prior_codec)id;
	return PRIOR_OK;
}

PRIOR_API enum prior_error prior_decode_block_model(const prior_model *model,
						    enum prior_codec codec,
						    const void *src,
						    size_t src_len, void *dst,
						    size_t plain_len)
{
	int rc;

	if ((unsigned)codec > PF_CODEC_MAX_ID)
		return PRIOR_ERROR_UNKNOWN_CODEC;
	if ((!src && src_len) || (!dst && plain_len))
		return PRIOR_ERROR_BAD_ARGUMENT;
	if (codec == PRIOR_CODEC_LEARNED && !model)
		return PRIOR_ERROR_NO_MODEL;
	rc = pf_codec_decode_model((uint8_t)codec, model ? model->model : NULL,
				   src, src_len, dst, plain_len);
	return rc < 0 ? error_from_errno(rc) : PRIOR_OK;
}
