/* SPDX-License-Identifier: MIT */
/*
 * model_file.c - the model file image: writing it after training, and
 * loading (validating) untrusted images.
 *
 * Layout, all little-endian (docs/model.md):
 *   0  "PFCMODEL"   8  u32 version (1)   12 u32 level    16 u32 table_bits
 *   20 u32 n_ctx    24 u32 n_in          28 u32 stride   32 u32 lr
 *   36 u32 apm2_bits 40 u32 n_sets (256) 44..63 zero
 *   then: context tables  u16[n_ctx << table_bits]  (12-bit p << 4 | count)
 *         match strengths u16[64]
 *         mixer weights   i32[256][n_in]            (16.16, |w| <= 2^24)
 *         APM 1           u16[256][33]
 *         APM 2           u16[(1 << apm2_bits)][33] (DEFAULT only)
 * Every u16 value is a valid slot or APM point, so only the header and the
 * weights need range checks; the length must match the header exactly.
 */
#include <stdlib.h>
#include <string.h>

#include "model/model_int.h"

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
	return (size_t)PF_CM_SETS * cfg->n_in * 4;
}

size_t pf_cm_image_len(const struct pf_cm_cfg *cfg)
{
	return PF_CM_HEADER_LEN + pf_cm_tab_slots(cfg) * 2 + PF_CM_MM_SLOTS * 2 +
	       weights_len(cfg) + PF_CM_APM1_CTX * PF_CM_APM_ROWS * 2 +
	       pf_cm_apm2_len(cfg) * 2;
}

/* Where each table lies in an image laid out for cfg. */
static void primed_locate(const struct pf_cm_cfg *cfg, const uint8_t *image,
			  struct pf_cm_primed *p)
{
	const uint8_t *at = image + PF_CM_HEADER_LEN;

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

void pf_cm_image_write(const pf_cm *cm, uint8_t *image)
{
	const struct pf_cm_cfg *cfg = &cm->cfg;
	const uint32_t fields[] = { PF_CM_VERSION, cfg->level,  cfg->table_bits,
				    cfg->n_ctx,    cfg->n_in,   cfg->stride,
				    cfg->lr,       cfg->apm2_bits, PF_CM_SETS };
	struct pf_cm_primed p;

	memset(image, 0, PF_CM_HEADER_LEN);
	memcpy(image, image_magic, sizeof(image_magic));
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		pf_put_le32(image + 8 + 4 * i, fields[i]);
	primed_locate(cfg, image, &p);
	/* The host is little-endian (model_int.h), so arrays copy as is. */
	memcpy((void *)p.tables, cm->tab, pf_cm_tab_slots(cfg) * 2);
	memcpy((void *)p.mm, cm->mm_sm, sizeof(cm->mm_sm));
	for (size_t s = 0; s < PF_CM_SETS; s++)
		memcpy((void *)(p.weights + s * cfg->n_in * 4), cm->w + s * PF_CM_MAX_IN,
		       cfg->n_in * 4);
	memcpy((void *)p.apm1, cm->apm1, PF_CM_APM1_CTX * PF_CM_APM_ROWS * 2);
	if (p.apm2)
		memcpy((void *)p.apm2, cm->apm2, pf_cm_apm2_len(cfg) * 2);
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
	    pf_le32(h + 36) != want.apm2_bits || pf_le32(h + 40) != PF_CM_SETS)
		return PF_CORRUPT("model image table counts");
	want.stride = pf_le32(h + 28);
	want.lr = pf_le32(h + 32);
	if (want.stride < 2 || want.stride > PF_CM_STRIDE_MAX || want.lr < 1 ||
	    want.lr > PF_CM_LR_MAX)
		return PF_CORRUPT("model image stride or learning rate");
	for (unsigned i = 44; i < PF_CM_HEADER_LEN; i++)
		if (h[i])
			return PF_CORRUPT("model image reserved bytes");
	if (len != pf_cm_image_len(&want))
		return PF_CORRUPT("model image length");
	*cfg = want;
	return 0;
}

int pf_model_load(const void *data, size_t len, pf_model **out)
{
	struct pf_cm_cfg cfg;
	pf_model *m;
	size_t n_w;

	*out = NULL;
	PF_FORWARD(header_parse(data, len, &cfg));
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->cfg = cfg;
	primed_locate(&cfg, data, &m->primed);
	n_w = weights_len(&cfg) / 4;
	for (size_t i = 0; i < n_w; i++) {
		int32_t w = (int32_t)pf_le32(m->primed.weights + 4 * i);

		if (w > PF_CM_WEIGHT_LIMIT || w < -PF_CM_WEIGHT_LIMIT) {
			free(m);
			return PF_CORRUPT("model image mixer weight");
		}
	}
	pf_cm_tables_init();
	*out = m;
	return 0;
}

void pf_model_free(pf_model *model)
{
	free(model);
}

enum pf_model_level pf_model_get_level(const pf_model *model)
{
	return model->cfg.level;
}
