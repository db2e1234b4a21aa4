/* SPDX-License-Identifier: MIT */
/*
 * model_file.c - the model file image: writing it after training, and
 * loading (validating) untrusted images.
 *
 * Layout, all little-endian (docs/model.md):
 *   0  "PFCMODEL"   8  u32 version (1)   12 u32 level    16 u32 table_bits
 *   20 u32 n_ctx    24 u32 n_in          28 u32 stride   32 u32 lr
 *   36 u32 apm2_bits 40 u32 weight rows (2560) 44 u32 payload bytes  48..63 0
 *   then the payload as zstd frames, which must decompress to exactly:
 *         context tables  u16[n_ctx << table_bits]  (12-bit p << 4 | count)
 *         match strengths u16[64]
 *         mixer weights   i32[2560][n_in]           (16.16, |w| <= 2^24)
 *                         (256 rows of mixer 1, then 2304 of mixer 2)
 *         APM 1           u16[256][33]
 *         APM 2           u16[(1 << apm2_bits)][33] (DEFAULT only)
 * The payload is compressed because the image's bytes count against what
 * the model saves: trained tables shrink 3-4x, untouched ones to nothing.
 * Every u16 value is a valid slot or APM point, so only the header and the
 * weights need range checks; the payload length must match the header.
 * A loaded model owns the decompressed payload, shared read-only.
 */
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "model/model_int.h"

#define PAYLOAD_ZSTD_LEVEL 12

static const char image_magic[8] = { 'P', 'F', 'C', 'M', 'O', 'D', 'E', 'L' };

int pf_cm_cfg_for_level(enum pf_model_level level, unsigned table_bits,
			struct pf_cm_cfg *cfg)
{
	if (level != PF_MODEL_LEVEL_FAST && level != PF_MODEL_LEVEL_DEFAULT)
		return -EINVAL;
	if (table_bits < PF_CM_TABLE_BITS_MIN || table_bits > PF_CM_TABLE_BITS_MAX)
		return -EINVAL;
	memset(cfg, 0, sizeof(*cfg));
	cfg->level = level;
	cfg->table_bits = table_bits;
	cfg->n_ctx = level == PF_MODEL_LEVEL_FAST ? PF_CM_FAST_CTX : PF_CM_DEFAULT_CTX;
	cfg->n_in = cfg->n_ctx + 3;
	cfg->apm2_bits = level == PF_MODEL_LEVEL_FAST ? 0 : PF_CM_APM2_BITS;
	cfg->stride = 2;
	cfg->lr = 6;
	return 0;
}

static size_t weights_len(const struct pf_cm_cfg *cfg)
{
	return (size_t)PF_CM_W_ROWS * cfg->n_in * 4;
}

static size_t payload_len(const struct pf_cm_cfg *cfg)
{
	return pf_cm_tab_slots(cfg) * 2 + PF_CM_MM_SLOTS * 2 + weights_len(cfg) +
	       PF_CM_APM1_CTX * PF_CM_APM_ROWS * 2 + pf_cm_apm2_len(cfg) * 2;
}

/* Where each table lies in a payload laid out for cfg. */
static void primed_locate(const struct pf_cm_cfg *cfg, const uint8_t *at,
			  struct pf_cm_primed *p)
{
	p->tables = at;
	at += pf_cm_tab_slots(cfg) * 2;
	p->mm = at;
	at += PF_CM_MM_SLOTS * 2;
	p->weights = at;
	at += weights_len(cfg);
	p->apm1 = at;
	at += PF_CM_APM1_CTX * PF_CM_APM_ROWS * 2;
	p->apm2 = cfg->apm2_bits ? at : NULL;
}

/* The state of cm, laid out as the payload. The host is little-endian
 * (model_int.h), so arrays copy as is. */
static void payload_write(const pf_cm *cm, uint8_t *at)
{
	const struct pf_cm_cfg *cfg = &cm->cfg;
	struct pf_cm_primed p;

	primed_locate(cfg, at, &p);
	memcpy((void *)p.tables, cm->tab, pf_cm_tab_slots(cfg) * 2);
	memcpy((void *)p.mm, cm->mm_sm, sizeof(cm->mm_sm));
	for (size_t s = 0; s < PF_CM_W_ROWS; s++)
		memcpy((void *)(p.weights + s * cfg->n_in * 4), cm->w + s * PF_CM_MAX_IN,
		       cfg->n_in * 4);
	memcpy((void *)p.apm1, cm->apm1, PF_CM_APM1_CTX * PF_CM_APM_ROWS * 2);
	if (p.apm2)
		memcpy((void *)p.apm2, cm->apm2, pf_cm_apm2_len(cfg) * 2);
}

static void header_write(const struct pf_cm_cfg *cfg, size_t raw, uint8_t *h)
{
	const uint32_t fields[] = { PF_CM_VERSION, cfg->level,     cfg->table_bits,
				    cfg->n_ctx,    cfg->n_in,      cfg->stride,
				    cfg->lr,       cfg->apm2_bits, PF_CM_W_ROWS,
				    (uint32_t)raw };

	memset(h, 0, PF_CM_HEADER_LEN);
	memcpy(h, image_magic, sizeof(image_magic));
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		pf_put_le32(h + 8 + 4 * i, fields[i]);
}

int pf_cm_image_build(const pf_cm *cm, void **image, size_t *image_len)
{
	size_t raw = payload_len(&cm->cfg), cap = PF_CM_HEADER_LEN + ZSTD_compressBound(raw);
	uint8_t *payload = malloc(raw), *img = malloc(cap);
	size_t n;

	if (!payload || !img)
		goto fail;
	payload_write(cm, payload);
	n = ZSTD_compress(img + PF_CM_HEADER_LEN, cap - PF_CM_HEADER_LEN, payload, raw,
			  PAYLOAD_ZSTD_LEVEL);
	if (ZSTD_isError(n))
		goto fail;
	header_write(&cm->cfg, raw, img);
	free(payload);
	*image = img;
	*image_len = PF_CM_HEADER_LEN + n;
	return 0;
fail:
	free(payload);
	free(img);
	return -ENOMEM;
}

/* Checks the header against the configuration its level implies. */
static int header_parse(const uint8_t *h, size_t len, struct pf_cm_cfg *cfg)
{
	struct pf_cm_cfg want;

	if (len < PF_CM_HEADER_LEN || memcmp(h, image_magic, sizeof(image_magic)))
		return PF_CORRUPT("model image magic");
	if (pf_le32(h + 8) != PF_CM_VERSION)
		return -ENOTSUP;
	if (pf_le32(h + 12) > PF_MODEL_LEVEL_DEFAULT ||
	    pf_cm_cfg_for_level((enum pf_model_level)pf_le32(h + 12), pf_le32(h + 16),
				&want) < 0)
		return PF_CORRUPT("model image level or table_bits");
	if (pf_le32(h + 20) != want.n_ctx || pf_le32(h + 24) != want.n_in ||
	    pf_le32(h + 36) != want.apm2_bits || pf_le32(h + 40) != PF_CM_W_ROWS)
		return PF_CORRUPT("model image table counts");
	want.stride = pf_le32(h + 28);
	want.lr = pf_le32(h + 32);
	if (want.stride < 2 || want.stride > PF_CM_STRIDE_MAX || want.lr < 1 ||
	    want.lr > PF_CM_LR_MAX)
		return PF_CORRUPT("model image stride or learning rate");
	if (pf_le32(h + 44) != payload_len(&want))
		return PF_CORRUPT("model image payload length");
	for (unsigned i = 48; i < PF_CM_HEADER_LEN; i++)
		if (h[i])
			return PF_CORRUPT("model image reserved bytes");
	*cfg = want;
	return 0;
}

/* Decompresses the payload: exactly its expected length, or -EIO. */
static int payload_read(const uint8_t *src, size_t len, uint8_t *dst, size_t raw)
{
	size_t n = ZSTD_decompress(dst, raw, src, len);

	if (ZSTD_isError(n) || n != raw)
		return PF_CORRUPT("model image payload");
	return 0;
}

static int weights_check(const uint8_t *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int32_t v = (int32_t)pf_le32(w + 4 * i);

		if (v > PF_CM_WEIGHT_LIMIT || v < -PF_CM_WEIGHT_LIMIT)
			return PF_CORRUPT("model image mixer weight");
	}
	return 0;
}

int pf_model_load(const void *data, size_t len, pf_model **out)
{
	struct pf_cm_cfg cfg;
	pf_model *m;
	int rc;

	*out = NULL;
	PF_FORWARD(header_parse(data, len, &cfg));
	m = calloc(1, sizeof(*m));
	if (m)
		m->payload = malloc(payload_len(&cfg));
	if (!m || !m->payload) {
		pf_model_free(m);
		return -ENOMEM;
	}
	m->cfg = cfg;
	rc = payload_read((const uint8_t *)data + PF_CM_HEADER_LEN, len - PF_CM_HEADER_LEN,
			  m->payload, payload_len(&cfg));
	primed_locate(&cfg, m->payload, &m->primed);
	if (rc == 0)
		rc = weights_check(m->primed.weights, weights_len(&cfg) / 4);
	if (rc < 0) {
		pf_model_free(m);
		return rc;
	}
	pf_cm_tables_init();
	*out = m;
	return 0;
}

void pf_model_free(pf_model *model)
{
	if (!model)
		return;
	free(model->payload);
	free(model);
}

enum pf_model_level pf_model_get_level(const pf_model *model)
{
	return model->cfg.level;
}
