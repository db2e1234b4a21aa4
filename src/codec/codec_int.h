/* SPDX-License-Identifier: MIT */
/*
 * codec_int.h - private interfaces between the codec layer's files: the zstd
 * wrapper (codec_zstd.c) and the incompressibility probe (codec_probe.c).
 * Included only by the .c files of src/codec.
 */
#ifndef PF_CODEC_INT_H
#define PF_CODEC_INT_H

#include <stdbool.h>

#include "codec/codec.h"

/* Largest zstd frame for plain_len bytes, or 0 when plain_len is too large
 * for zstd to handle at all. */
size_t pf_codec_zstd_bound(size_t plain_len);

/*
 * Compresses plain into one zstd frame (content size recorded) at `level`
 * using this thread's compression context.
 * @return frame length; -ENOSPC when the frame does not fit in out_cap (the
 *         auto rule relies on this to give up early); -ENOMEM; -EINVAL.
 */
ssize_t pf_codec_zstd_encode(int level, const void *plain, size_t plain_len,
			     void *out, size_t out_cap);

/*
 * Decodes exactly one zstd frame filling stored[0..stored_len) into exactly
 * plain_len bytes. Frames without a recorded content size, with a different
 * one, with trailing bytes, or skippable frames are rejected.
 * @return 0, -EIO on anything but a perfect match, -ENOMEM.
 */
int pf_codec_zstd_decode(const void *stored, size_t stored_len, void *plain,
			 size_t plain_len);

/*
 * Guesses, at a small fraction of the cost of compressing, whether plain
 * would save less than min_saving under zstd. May use scratch (scratch_cap
 * bytes, at least pf_codec_bound(plain_len)) as work space; its contents are
 * undefined afterwards. A wrong guess costs size or time, never correctness.
 */
bool pf_codec_probe_incompressible(const void *plain, size_t plain_len,
				   unsigned min_saving, void *scratch,
				   size_t scratch_cap);

#endif
