/* SPDX-License-Identifier: MIT */
/*
 * model_dict.c - the slice of training data a format 3 model stores, its
 * hash index, and the match model that follows matches into it.
 *
 * A block starts with an empty history, so the in-block match model cannot
 * see the corpus's long cross-file repeats (licences, headers, boilerplate,
 * repeated records). A format 3 model keeps a slice of its training sample;
 * at load, every position of it goes into a hash index (hash of the 6 bytes
 * before it -> that position + 1; the last occurrence wins), built once and
 * then read-only, shared by all threads. While coding, when this slice match
 * is idle and the in-block match is shorter than a verified candidate can
 * be, the current 6-byte hash is looked up and the candidate is verified
 * backwards against the block's own history. The longer of the two matches
 * drives the match inputs (model_mix.c), each with its own learned strengths.
 *
 * Design notes:
 * - Nothing per block is proportional to the slice: a block start only
 *   clears the match state; the index is built once.
 * - Training primes with the slice active but never lets a block match into
 *   its own bytes (dict_skip_lo/hi), so the strengths learn what a match into
 *   other data is worth, not what copying oneself is worth.
 */
#include <stdlib.h>

#include "model/model_int.h"

#define DICT_BITS_MIN 10u
#define DICT_BITS_MAX 22u /* the largest slice (8 MiB) gets 2^22 entries */
/* A verified match shorter than this predicts worse than the contexts do. */
#define DICT_MATCH_MIN 6u

int pf_cm_dict_init(struct pf_cm_dict *d, const uint8_t *bytes, uint32_t len)
{
	unsigned bits = DICT_BITS_MIN;
	uint32_t c4 = 0, c8 = 0;

	while (bits < DICT_BITS_MAX && ((size_t)1 << bits) < len / 2)
		bits++;
	d->index = calloc((size_t)1 << bits, sizeof(*d->index));
	if (!d->index)
		return -ENOMEM;
	d->bytes = bytes;
	d->len = len;
	d->bits = bits;
	/* entry i + 1: bytes[i - 5..i] are the context, bytes[i + 1] the
	 * prediction, so the last position predicts nothing and is left out */
	for (uint32_t i = 0; i + 1 < len; i++) {
		c8 = c8 << 8 | c4 >> 24;
		c4 = c4 << 8 | bytes[i];
		if (i >= 5)
			d->index[pf_cm_hash6(c4, c8) >> (32 - bits)] = i + 1;
	}
	return 0;
}

void pf_cm_dict_free(struct pf_cm_dict *d)
{
	free(d->index);
	d->index = NULL;
	d->len = 0;
}

/* Bytes of the slice before cand that equal the block's last bytes. */
static uint32_t dict_verify(const pf_cm *cm, uint32_t cand)
{
	const uint8_t *a = cm->dict->bytes + cand, *b = cm->buf + cm->pos;
	uint32_t len = 0;

	while (len < PF_CM_MM_VERIFY_MAX && len < cand && len < cm->pos &&
	       a[-1 - (int32_t)len] == b[-1 - (int32_t)len])
		len++;
	return len;
}

void pf_cm_dict_update(pf_cm *cm, uint32_t c, uint32_t h6)
{
	const struct pf_cm_dict *d = cm->dict;
	uint32_t cand, len;

	if (cm->dm_len && d->bytes[cm->dm_ptr] == c && cm->dm_ptr + 1 < d->len) {
		cm->dm_len += cm->dm_len < PF_CM_MM_LEN_MAX;
		cm->dm_ptr++;
		return;
	}
	cm->dm_len = 0;
	if (cm->mm_len >= PF_CM_MM_VERIFY_MAX)
		return; /* a fresh candidate could not be longer */
	cand = d->index[h6 >> (32 - d->bits)];
	if (!cand || cand - cm->dict_skip_lo < cm->dict_skip_hi - cm->dict_skip_lo)
		return;
	len = dict_verify(cm, cand);
	if (len >= DICT_MATCH_MIN) {
		cm->dm_len = len;
		cm->dm_ptr = cand;
	}
}
