/* SPDX-License-Identifier: MIT */
/*
 * codec_probe.c - a cheap guess whether a block is worth compressing.
 *
 * Already compressed data (JPEG, PNG, gzip, zstd, encrypted or random bytes)
 * cannot save the min_saving that PF_CHOICE_AUTO asks for (1/8 by default),
 * and compressing it only burns CPU. The probe looks at PROBE_CHUNKS chunks
 * of at most PROBE_CHUNK bytes spread evenly over the block (16 KiB of a
 * 256 KiB block):
 *
 *  1. Order-0 entropy H of the sample, in bits per byte. If H < 8 bits less
 *     min_saving (7.0 for 1/8) the symbol statistics alone (zstd's Huffman
 *     stage) can save min_saving, so the block is compressible.
 *  2. If H >= PROBE_H_HIGH the sample is indistinguishable from noise:
 *     incompressible, no further work. Not when min_saving is so small that
 *     order 0 at PROBE_H_HIGH could still save it (JPEG's entropy-coded data
 *     is near 7.95 bits and zstd saves 1.3% of it).
 *  3. In between only repeats (LZ matches) could save min_saving, so zstd
 *     level 1 compresses each chunk; the block counts as incompressible if
 *     together they do not save min_saving. (One window from the middle was
 *     tried first; it misjudged files whose compressibility varies, such as
 *     weakly deflated PNGs, which zstd still shrinks by a quarter.)
 *
 * All of it is an optimisation: the caller still applies min_saving to the
 * real frame, so a wrong "compressible" guess costs one compression pass and
 * a wrong "incompressible" one costs some stored bytes, never correctness.
 * The probe misses repeats farther apart than a chunk (a random chunk
 * repeated many times); such blocks are stored raw.
 */
#include "codec/codec_int.h"

#include <math.h>

/* OPTIMIZATION: sizes and thresholds below are tuning, not format. */
#define PROBE_MIN 4096u           /* smaller blocks: just compress them */
#define PROBE_CHUNKS 4u           /* sample chunks, spread evenly */
#define PROBE_CHUNK 4096u         /* bytes per sample chunk, at most */
#define PROBE_H_HIGH 7.9          /* at or above: noise; 16K of random bytes
				   * measures about 7.99 */

/* Length of each sample chunk of a block of len bytes; chunk c starts at
 * c * (len / PROBE_CHUNKS). */
static size_t chunk_len(size_t len)
{
	return len / PROBE_CHUNKS < PROBE_CHUNK ? len / PROBE_CHUNKS : PROBE_CHUNK;
}

/* Adds the byte histogram of the sample chunks; returns the bytes seen. */
static size_t sample_histogram(const uint8_t *plain, size_t len,
			       uint32_t hist[256])
{
	size_t chunk = chunk_len(len), stride = len / PROBE_CHUNKS;

	for (unsigned c = 0; c < PROBE_CHUNKS; c++) {
		const uint8_t *p = plain + (size_t)c * stride;

		for (size_t i = 0; i < chunk; i++)
			hist[p[i]]++;
	}
	return chunk * PROBE_CHUNKS;
}

/* Order-0 entropy in bits per byte of a histogram of n bytes. */
static double entropy(const uint32_t hist[256], size_t n)
{
	double h = 0.0;

	for (unsigned s = 0; s < 256; s++) {
		if (hist[s]) {
			double p = (double)hist[s] / (double)n;

			h -= p * log2(p);
		}
	}
	return h;
}

/* True when zstd level 1 saves less than min_saving on the sample chunks,
 * each compressed alone into scratch and thrown away. */
static bool sample_incompressible(const uint8_t *plain, size_t len,
				  unsigned min_saving, void *scratch,
				  size_t scratch_cap)
{
	size_t chunk = chunk_len(len), stride = len / PROBE_CHUNKS, total = 0;
	size_t n = chunk * PROBE_CHUNKS;

	for (unsigned c = 0; c < PROBE_CHUNKS; c++) {
		ssize_t z = pf_codec_zstd_encode(1, plain + (size_t)c * stride,
						 chunk, scratch, scratch_cap);

		if (z < 0) /* no verdict: let the real pass decide */
			return false;
		total += (size_t)z;
	}
	return total > n - n * min_saving / PF_MIN_SAVING_ONE; /* n <= 16 KiB */
}

bool pf_codec_probe_incompressible(const void *plain, size_t plain_len,
				   unsigned min_saving, void *scratch,
				   size_t scratch_cap)
{
	double bits_to_save = 8.0 * min_saving / PF_MIN_SAVING_ONE;
	uint32_t hist[256] = { 0 };
	size_t n;
	double h;

	if (plain_len < PROBE_MIN) /* OPTIMIZATION: compressing is as cheap */
		return false;
	n = sample_histogram(plain, plain_len, hist);
	h = entropy(hist, n);
	if (h < 8.0 - bits_to_save)
		return false;
	if (h >= PROBE_H_HIGH && bits_to_save > 8.0 - PROBE_H_HIGH)
		return true;
	return sample_incompressible(plain, plain_len, min_saving, scratch,
				     scratch_cap);
}
