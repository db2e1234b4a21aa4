/* SPDX-License-Identifier: MIT */
/*
 * model_coder.c - the binary arithmetic coder and the block encode/decode
 * loops, with each thread's coding state.
 *
 * The coder is carry-less (lpaq style): a 32-bit range [x1, x2] is split in
 * proportion to a 12-bit probability, leading bytes are shifted out once x1
 * and x2 agree on them, and the end flushes the 4 bytes of x1. A decoder
 * therefore consumes exactly the bytes the encoder wrote and ends with
 * x == x1: both are checked, so most corrupt blocks fail with -EIO rather
 * than decode to wrong bytes (the block checksum catches the rest). Reads
 * past the stored bytes never happen; a decoder that wants more fails.
 *
 * Each thread keeps one pf_cm (a few MB of tables), created on first use and
 * freed at thread exit through a pthread key.
 */
#include <pthread.h>
#include <stdlib.h>

#include "model/model_int.h"

/* ---- per-thread state ----------------------------------------------------- */

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_rc;

static void scratch_destroy(void *p)
{
	pf_cm_release(p);
	free(p);
}

static void scratch_key_create(void)
{
	scratch_key_rc = pthread_key_create(&scratch_key, scratch_destroy);
}

/* This thread's state, sized for model and a block of len bytes, started
 * from the model's primed state over buf. NULL when out of memory. */
static pf_cm *scratch_start(const pf_model *model, const uint8_t *buf, size_t len)
{
	struct pf_cm_cfg cfg;
	pf_cm *cm;

	pthread_once(&scratch_once, scratch_key_create);
	if (scratch_key_rc)
		return NULL;
	cm = pthread_getspecific(scratch_key);
	if (!cm) {
		cm = calloc(1, sizeof(*cm));
		if (!cm)
			return NULL;
		if (pthread_setspecific(scratch_key, cm)) {
			free(cm);
			return NULL;
		}
	}
	pf_cm_cfg_for_block(&model->cfg, len, &cfg);
	if (pf_cm_reserve(cm, &cfg, len) < 0)
		return NULL;
	pf_cm_start(cm, &model->primed, buf);
	return cm;
}

/* ---- encoder --------------------------------------------------------------- */

struct enc {
	uint32_t x1, x2;
	uint8_t *out;
	size_t n, cap;
	bool full;
};

static inline void enc_put(struct enc *e, uint32_t byte)
{
	if (e->n == e->cap) {
		e->full = true;
		return;
	}
	e->out[e->n++] = (uint8_t)byte;
}

static inline void enc_bit(struct enc *e, int p, int bit)
{
	uint32_t xmid = e->x1 + (uint32_t)(((uint64_t)(e->x2 - e->x1) * (uint32_t)p) >> 12);
	uint32_t m = 0U - (uint32_t)bit;

	/* masks, not a branch: a well-coded bit is unpredictable by definition */
	e->x2 = (xmid & m) | (e->x2 & ~m);
	e->x1 = (e->x1 & m) | ((xmid + 1) & ~m);
	while (((e->x1 ^ e->x2) & 0xff000000U) == 0) {
		enc_put(e, e->x2 >> 24);
		e->x1 <<= 8;
		e->x2 = e->x2 << 8 | 255;
	}
}

ssize_t pf_model_encode(const pf_model *model, const void *plain, size_t len,
			void *out, size_t out_cap)
{
	const uint8_t *src = plain;
	struct enc e = { 0, 0xffffffffU, out, 0, out_cap, false };
	pf_cm *cm;

	if (len > UINT32_MAX - 1)
		return -EINVAL;
	cm = scratch_start(model, src, len);
	if (!cm)
		return -ENOMEM;
	for (size_t i = 0; i < len && !e.full; i++) {
		for (int b = 7; b >= 0; b--) {
			int bit = (src[i] >> b) & 1;

			enc_bit(&e, pf_cm_predict(cm), bit);
			pf_cm_update(cm, bit);
		}
	}
	for (int k = 24; k >= 0; k -= 8)
		enc_put(&e, e.x1 >> k);
	return e.full ? -ENOSPC : (ssize_t)e.n;
}

/* ---- decoder --------------------------------------------------------------- */

struct dec {
	uint32_t x1, x2, x;
	const uint8_t *in;
	size_t n, len;
};

static inline uint32_t dec_get(struct dec *d)
{
	if (d->n < d->len)
		return d->in[d->n++];
	d->n = d->len + 1; /* remembered as an overrun: fails at the end */
	return 0;
}

static inline int dec_bit(struct dec *d, int p)
{
	uint32_t xmid = d->x1 + (uint32_t)(((uint64_t)(d->x2 - d->x1) * (uint32_t)p) >> 12);
	int bit = d->x <= xmid;
	uint32_t m = 0U - (uint32_t)bit;

	d->x2 = (xmid & m) | (d->x2 & ~m); /* no branch, as in enc_bit */
	d->x1 = (d->x1 & m) | ((xmid + 1) & ~m);
	while (((d->x1 ^ d->x2) & 0xff000000U) == 0) {
		d->x1 <<= 8;
		d->x2 = d->x2 << 8 | 255;
		d->x = d->x << 8 | dec_get(d);
	}
	return bit;
}

int pf_model_decode(const pf_model *model, const void *stored, size_t stored_len,
		    void *plain, size_t plain_len)
{
	struct dec d = { 0, 0xffffffffU, 0, stored, 0, stored_len };
	uint8_t *dst = plain;
	pf_cm *cm;

	if (plain_len > UINT32_MAX - 1 || stored_len < 4)
		return PF_CORRUPT("model block shorter than its flush");
	cm = scratch_start(model, dst, plain_len);
	if (!cm)
		return -ENOMEM;
	for (int k = 0; k < 4; k++)
		d.x = d.x << 8 | dec_get(&d);
	for (size_t i = 0; i < plain_len && d.n <= d.len; i++) {
		uint32_t c = 1;

		for (int b = 0; b < 8; b++) {
			int bit = dec_bit(&d, pf_cm_predict(cm));

			c = c << 1 | (uint32_t)bit;
			if (b == 7)
				dst[i] = (uint8_t)c; /* history before the byte update */
			pf_cm_update(cm, bit);
		}
	}
	if (d.n != d.len || d.x != d.x1)
		return PF_CORRUPT("model block does not end where its coder does");
	return 0;
}
