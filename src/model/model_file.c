/* SPDX-License-Identifier: MIT */
/*
 * model_file.c - the model file image: writing it after training, and
 * loading (validating) untrusted images.
 *
 * Layout, all little-endian (docs/model.md):
 *   0  "PFCMODEL"   8  u32 version (2..8) 12 u32 level   16 u32 table_bits
 *   20 u32 n_ctx    24 u32 n_in          28 u32 stride   32 u32 lr
 *   36 u32 apm2_bits 40 u32 weight rows (2792) 44 u32 payload bytes
 *   48 u32 slice bytes (version 2: 0; 3: 64..2^23; 4: 0 or 64..2^23)
 *   52 u32 code_bits (version 4: table_bits..20, the widest coding tables;
 *      versions 2 and 3: 0, coding tables as wide as table_bits)
 *   56 u32 network width h1 (versions 5 and 6, level max: 32..256, a
 *      multiple of 32; else 0)
 *   60 u16 embedding width r (version 6: 16..min(h1, 64), a multiple of 16;
 *      else 0)   62 u16 network features (version 6: bit 0, the token
 *      features for data in 16-bit units; bit 1, the context features;
 *      bit 2, the match feature; else 0; version 7: bit 3 set, and the
 *      network's bits as in version 6 at level max, 0 below it; version 8:
 *      bit 7 set, the same network bits but never the token ones)
 *   (version 7 is version 4 below level max, or 6 at it, for data in
 *   16-bit units: the contexts know the phase and read whole tokens;
 *   version 8 is version 4 below level max, or 6 at it, for FASTQ: two
 *   contexts (one at level FAST) read the bases two lines above a quality)
 *   then the payload as zstd frames (the slice part in a frame of its own),
 *   which must decompress to exactly:
 *         bucket tags     u16[(n_ctx << table_bits) / 16]
 *         slot codes      u8[(n_ctx << table_bits) / 16][15]
 *         match strengths u16[64]
 *         mixer weights   i32[2792][n_in]           (16.16, |w| <= 2^24)
 *                         (mixers 1, 2, 3: 256, 2304, 224 rows; final: 8;
 *                         training writes the first three's rounded)
 *         APM 1           u8[256][33]               (top 8 bits of each point;
 *                         training rounds them near the identity row's)
 *         APM 2           u8[(1 << apm2_bits)][33]  (DEFAULT and MAX)
 *       versions 5 and 6, the network (h2 = h1 / 2; model_net.c):
 *         b1 i32[h1]  b2 i32[h2]  u i32[256]
 *         embeddings i8[rows][h1 (5) or r (6)]  w2 i16[h2][h1]  v i16[256][h2]
 *         version 6: projection i16[h1][r]
 *         (rows: PF_NET_ROWS, + PF_NET_CONTEXT_ROWS with the context
 *         features, + PF_NET_TOKEN_ROWS with the token features,
 *         + PF_NET_MATCH_ROWS with the match feature)
 *       versions 3 and 4 with a slice:
 *         slice strengths u16[64]                   (matches into the slice)
 *         slice           u8[slice bytes]           (training data)
 * The payload is compressed because the image's bytes count against what
 * the model saves: trained tables shrink 3-4x, untouched ones to nothing.
 * Every tag, slot code and APM point is valid by construction, so only the
 * header, the mixer weights and the network's dense weights need range
 * checks (pf_net_check); the payload length must match
 * the header. A loaded model owns the weights, the slice with its index
 * (model_dict.c) and the expanded tables, shared read-only. Version 1
 * (pre-release) images are refused; training writes version 4 (version 6
 * at level max; version 7 for data in 16-bit units, 8 for FASTQ), and
 * versions 2, 3 and 5 still load and code exactly as they did.
 */
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "model/model_int.h"

#define PAYLOAD_ZSTD_LEVEL 12
#define DICT_ZSTD_LEVEL 19
#define NET_ZSTD_LEVEL 19

static const char image_magic[8] = { 'P', 'F', 'C', 'M', 'O', 'D', 'E', 'L' };

int pf_cm_cfg_for_level(enum pf_model_level level, unsigned table_bits, unsigned net_h1,
			struct pf_cm_cfg *cfg)
{
	bool max = level == PF_MODEL_LEVEL_MAX;

	if (level != PF_MODEL_LEVEL_FAST && level != PF_MODEL_LEVEL_DEFAULT && !max)
		return -EINVAL;
	if (table_bits < PF_CM_TABLE_BITS_MIN || table_bits > PF_CM_TABLE_BITS_MAX)
		return -EINVAL;
	if (max && (net_h1 < PF_NET_H1_MIN || net_h1 > PF_NET_H1_MAX || net_h1 % PF_NET_H1_STEP))
		return -EINVAL;
	memset(cfg, 0, sizeof(*cfg));
	cfg->version = max ? PF_CM_VERSION_NET2 : PF_CM_VERSION_WIDE;
	cfg->level = level;
	cfg->table_bits = table_bits;
	cfg->n_ctx = level == PF_MODEL_LEVEL_FAST ? PF_CM_FAST_CTX : PF_CM_DEFAULT_CTX;
	cfg->net_h1 = max ? net_h1 : 0;
	cfg->net_rank = max ? pf_net_rank_for(net_h1) : 0;
	cfg->n_in = cfg->n_ctx + 3 + max;
	cfg->code_bits = level == PF_MODEL_LEVEL_FAST ? PF_CM_CODE_BITS_FAST
						      : PF_CM_CODE_BITS_DEFAULT;
	if (cfg->code_bits < table_bits)
		cfg->code_bits = table_bits;
	cfg->apm2_bits = level == PF_MODEL_LEVEL_FAST ? 0 : PF_CM_APM2_BITS;
	cfg->stride = 2;
	cfg->lr = 6;
	return 0;
}

/* ---- context tables: tags + one byte per slot ------------------------------
 * A slot's 12-bit probability is kept as one of 63 levels of its stretch
 * (steps of 1/4 in logit units) and its count as one of four classes: the
 * image's tables shrink 2x against 16-bit slots and the blocks coded from
 * them do not get larger (the coarser counts let the primed slots re-learn
 * a little faster). Buckets whose slots were all seen fewer than
 * PRUNE_COUNT times are written as fresh ones: they cost bytes and save
 * none (measured: -20% image, +0.1% coded size). */
#define PRUNE_COUNT 4
#define BUCKET 16
static const uint8_t count_of_class[4] = { 0, 2, 5, 12 };

static uint8_t slot_quantise(uint16_t v)
{
	unsigned n = v & 15, level = (unsigned)(pf_cm_stretch(v >> 4) + 2048) >> 6;

	if (v == PF_CM_SLOT_FRESH)
		return 0;
	if (level > 62)
		level = 62;
	return (uint8_t)(1 + level * 4 + (n == 0 ? 0 : n <= 3 ? 1 : n <= 7 ? 2 : 3));
}

/* Any byte is a valid code. */
static uint16_t slot_dequantise(uint8_t code)
{
	int level = (code - 1) >> 2;

	if (code == 0)
		return PF_CM_SLOT_FRESH;
	return (uint16_t)(pf_cm_squash(level * 64 + 32 - 2048) << 4 |
			  count_of_class[(code - 1) & 3]);
}

static bool bucket_worth_keeping(const uint16_t *b)
{
	for (unsigned j = 1; j < BUCKET; j++)
		if ((b[j] & 15) >= PRUNE_COUNT)
			return true;
	return false;
}

static size_t tables_len(const struct pf_cm_cfg *cfg)
{
	return pf_cm_tab_slots(cfg) / BUCKET * (2 + BUCKET - 1);
}

/* Writes n slots as u16 tags[n / 16], then u8 codes[n / 16][15]. */
static void tables_write(const uint16_t *tab, size_t n, uint8_t *at)
{
	uint8_t *codes = at + n / BUCKET * 2;

	for (size_t b = 0; b < n; b += BUCKET, codes += BUCKET - 1) {
		bool keep = bucket_worth_keeping(tab + b);

		pf_put_le16(at + b / BUCKET * 2, keep ? tab[b] : PF_CM_SLOT_FRESH);
		for (unsigned j = 1; j < BUCKET; j++)
			codes[j - 1] = keep ? slot_quantise(tab[b + j]) : 0;
	}
}

static void tables_read(const uint8_t *at, size_t n, uint16_t *tab)
{
	const uint8_t *codes = at + n / BUCKET * 2;

	for (size_t b = 0; b < n; b += BUCKET, codes += BUCKET - 1) {
		tab[b] = pf_le16(at + b / BUCKET * 2);
		for (unsigned j = 1; j < BUCKET; j++)
			tab[b + j] = slot_dequantise(codes[j - 1]);
	}
}

/* APM points keep their top 8 bits, and those only to within 8 of the
 * identity row's (the row an APM starts from): half the image's APM bytes,
 * then more than half of what zstd makes of the rest, at no measurable
 * cost: the APMs adapt inside every block. Untouched rows are stored
 * exactly as before. */
#define APM_STEP 8

static void apm_write(const uint16_t *t, size_t n, uint8_t *at)
{
	uint16_t identity[PF_CM_APM_ROWS];

	pf_cm_apm_init(identity, 1);
	for (size_t i = 0; i < n; i++) {
		int base = identity[i % PF_CM_APM_ROWS] >> 8, d = (t[i] >> 8) - base;
		int v = base + (d >= 0 ? (d + APM_STEP / 2) / APM_STEP
				       : -((APM_STEP / 2 - d) / APM_STEP)) * APM_STEP;

		at[i] = (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
	}
}

static void apm_read(const uint8_t *at, size_t n, uint16_t *t)
{
	for (size_t i = 0; i < n; i++)
		t[i] = (uint16_t)(at[i] << 8 | 128);
}

#define APM1_LEN ((size_t)PF_CM_APM1_CTX * PF_CM_APM_ROWS)

static size_t weights_len(const struct pf_cm_cfg *cfg)
{
	return (size_t)PF_CM_W_ROWS * cfg->n_in * 4;
}

/* The first-layer mixer weights are stored rounded to multiples of 2^-6
 * (2^10 in 16.16): the low bits that training leaves are noise to zstd, a
 * third of the image's weight bytes, and the blocks coded from the rounded
 * weights are no larger (docs/model.md). The final mixer's few rows keep
 * every bit. 2^24, the bound, is a multiple of the step. */
#define WEIGHT_STEP_BITS 10
#define WEIGHT_STEP (1 << WEIGHT_STEP_BITS)

static void weights_write(const int32_t *w, unsigned n_in, uint8_t *at)
{
	for (size_t r = 0; r < PF_CM_W_ROWS; r++)
		for (unsigned i = 0; i < n_in; i++, at += 4) {
			int32_t v = w[r * PF_CM_MAX_IN + i];

			if (r < PF_CM_ROWF) /* a multiply: << of a negative is undefined */
				v = (int32_t)((((int64_t)v + WEIGHT_STEP / 2) >> WEIGHT_STEP_BITS) *
					      WEIGHT_STEP);
			pf_put_le32(at, (uint32_t)v);
		}
}

static size_t net_len(const struct pf_cm_cfg *cfg)
{
	struct pf_net_shape shape = pf_net_shape_of(cfg);

	return cfg->net_h1 ? pf_net_payload_len(&shape) : 0;
}

/* Where each part lies in a payload laid out for cfg. */
struct payload_view {
	uint8_t *tables, *mm, *weights, *apm1, *apm2, *net, *dm, *dict;
};

static void payload_locate(const struct pf_cm_cfg *cfg, uint8_t *at, struct payload_view *v)
{
	v->tables = at;
	v->mm = v->tables + tables_len(cfg);
	v->weights = v->mm + PF_CM_MM_SLOTS * 2;
	v->apm1 = v->weights + weights_len(cfg);
	v->apm2 = v->apm1 + APM1_LEN;
	v->net = v->apm2 + pf_cm_apm2_len(cfg);
	v->dm = v->net + net_len(cfg);
	v->dict = v->dm + PF_CM_MM_SLOTS * 2;
}

/* Bytes of the slice part: its strengths and the slice, or none. */
static size_t dict_part_len(uint32_t dict_len)
{
	return dict_len ? PF_CM_MM_SLOTS * 2 + (size_t)dict_len : 0;
}

static size_t payload_len(const struct pf_cm_cfg *cfg, uint32_t dict_len)
{
	return tables_len(cfg) + PF_CM_MM_SLOTS * 2 + weights_len(cfg) + APM1_LEN +
	       pf_cm_apm2_len(cfg) + net_len(cfg) + dict_part_len(dict_len);
}

static uint32_t cm_dict_len(const pf_cm *cm)
{
	return cm->dict ? cm->dict->len : 0;
}

/* The state of cm, laid out as the payload. The host is little-endian
 * (model_int.h), so the match strengths and weights copy as is. */
static void payload_write(const pf_cm *cm, uint8_t *at)
{
	const struct pf_cm_cfg *cfg = &cm->cfg;
	struct payload_view v;

	payload_locate(cfg, at, &v);
	tables_write(cm->tab, pf_cm_tab_slots(cfg), v.tables);
	memcpy(v.mm, cm->mm_sm, sizeof(cm->mm_sm));
	weights_write(cm->w, cfg->n_in, v.weights);
	apm_write(cm->apm1, APM1_LEN, v.apm1);
	apm_write(cm->apm2, pf_cm_apm2_len(cfg), v.apm2);
	if (cfg->net_h1) /* pf_net_locate() lays the network out from b1 */
		memcpy(v.net, cm->net->b1, net_len(cfg));
	if (cm->dict) {
		memcpy(v.dm, cm->dm_sm, sizeof(cm->dm_sm));
		memcpy(v.dict, cm->dict->bytes, cm->dict->len);
	}
}

/* Expands a checked payload into the primed state: tables and APMs into
 * m->expanded. The match strengths, weights, network and slice are used as
 * they lie, so they move to the payload's start (each to a lower offset,
 * 4-aligned) and the rest of it is given back (the packed tables are most
 * of a payload); then the slice is indexed. @return 0, -ENOMEM. */
static int payload_expand(pf_model *m, uint32_t dict_len)
{
	const struct pf_cm_cfg *cfg = &m->cfg;
	size_t n_slots = pf_cm_tab_slots(cfg), kept = PF_CM_MM_SLOTS * 2 + weights_len(cfg);
	size_t dict_part = dict_part_len(dict_len), net = net_len(cfg);
	uint16_t *apm1 = m->expanded + n_slots, *apm2 = apm1 + APM1_LEN;
	struct payload_view v;
	uint8_t *shrunk;

	payload_locate(cfg, m->payload, &v);
	tables_read(v.tables, n_slots, m->expanded);
	apm_read(v.apm1, APM1_LEN, apm1);
	apm_read(v.apm2, pf_cm_apm2_len(cfg), apm2);
	memmove(m->payload, v.mm, kept); /* mm and weights are adjacent */
	memmove(m->payload + kept, v.net, net);
	kept += net;
	memmove(m->payload + kept, v.dm, dict_part); /* so are dm and the slice */
	shrunk = realloc(m->payload, kept + dict_part);
	if (shrunk)
		m->payload = shrunk;
	m->primed = (struct pf_cm_primed){ .tables = m->expanded,
					   .table_bits = cfg->table_bits, .mm = m->payload,
					   .weights = m->payload + PF_CM_MM_SLOTS * 2,
					   .apm1 = apm1,
					   .apm2 = cfg->apm2_bits ? apm2 : NULL };
	if (net) {
		struct pf_net_shape shape = pf_net_shape_of(cfg);

		pf_net_locate(&m->net, &shape, m->payload + kept - net);
		PF_FORWARD(pf_net_check(&m->net));
		m->primed.net = &m->net;
	}
	if (!dict_len)
		return 0;
	PF_FORWARD(pf_cm_dict_init(&m->dict, m->payload + kept + PF_CM_MM_SLOTS * 2,
				   dict_len));
	m->primed.dm = m->payload + kept;
	m->primed.dict = &m->dict;
	return 0;
}

static uint32_t features_of(const struct pf_cm_cfg *cfg)
{
	return (cfg->net_tokens ? PF_NET_FEATURE_TOKENS : 0) |
	       (cfg->net_context ? PF_NET_FEATURE_CONTEXT : 0) |
	       (cfg->net_match ? PF_NET_FEATURE_MATCH : 0) |
	       (cfg->net_indirect ? PF_NET_FEATURE_INDIRECT : 0) |
	       (cfg->net_recent ? PF_NET_FEATURE_RECENT : 0) |
	       (cfg->net_token_out ? PF_NET_FEATURE_TOKEN_OUT : 0) |
	       (cfg->units ? PF_CM_FEATURE_UNITS : 0) |
	       (cfg->fastq ? PF_CM_FEATURE_FASTQ : 0);
}

static void header_write(const struct pf_cm_cfg *cfg, size_t raw, uint32_t dict_len,
			 uint8_t *h)
{
	const uint32_t fields[] = { cfg->version, cfg->level,     cfg->table_bits,
				    cfg->n_ctx,   cfg->n_in,      cfg->stride,
				    cfg->lr,      cfg->apm2_bits, PF_CM_W_ROWS,
				    (uint32_t)raw, dict_len,      cfg->code_bits,
				    cfg->net_h1,  cfg->net_rank | features_of(cfg) << 16 };

	memset(h, 0, PF_CM_HEADER_LEN);
	memcpy(h, image_magic, sizeof(image_magic));
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		pf_put_le32(h + 8 + 4 * i, fields[i]);
}

/* Compresses src[0, n) at level after the dst[0, *at) already written.
 * @return 0, -ENOMEM. */
static int frame_append(uint8_t *dst, size_t cap, size_t *at, const uint8_t *src,
			size_t n, int level)
{
	size_t z = ZSTD_compress(dst + *at, cap - *at, src, n, level);

	if (ZSTD_isError(z))
		return -ENOMEM;
	*at += z;
	return 0;
}

/* The payload as zstd frames (the loader decompresses them as one): the
 * tables and weights at level 12, the network and the slice, if any, each
 * in a frame of its own at level 19 (-7% on the slice against level 12;
 * the tables would take minutes at that level and gain little). */
int pf_cm_image_build(const pf_cm *cm, void **image, size_t *image_len)
{
	const struct pf_cm_cfg *cfg = &cm->cfg;
	size_t raw = payload_len(cfg, cm_dict_len(cm)), net_end = payload_len(cfg, 0);
	size_t net_at = net_end - net_len(cfg), n = PF_CM_HEADER_LEN;
	const struct { size_t from, to; int level; } frames[] = {
		{ 0, net_at, PAYLOAD_ZSTD_LEVEL },
		{ net_at, net_end, NET_ZSTD_LEVEL },
		{ net_end, raw, DICT_ZSTD_LEVEL },
	};
	size_t cap = PF_CM_HEADER_LEN;
	uint8_t *payload = malloc(raw), *img;

	for (size_t i = 0; i < sizeof(frames) / sizeof(*frames); i++)
		cap += ZSTD_compressBound(frames[i].to - frames[i].from);
	img = malloc(cap);
	if (!payload || !img)
		goto fail;
	payload_write(cm, payload);
	for (size_t i = 0; i < sizeof(frames) / sizeof(*frames); i++)
		if (frames[i].to > frames[i].from &&
		    frame_append(img, cap, &n, payload + frames[i].from,
				 frames[i].to - frames[i].from, frames[i].level) < 0)
			goto fail;
	header_write(cfg, raw, cm_dict_len(cm), img);
	free(payload);
	*image = img;
	*image_len = n;
	return 0;
fail:
	free(payload);
	free(img);
	return -ENOMEM;
}

/* The configuration the header's level, table_bits and network shape
 * imply, with its counts checked against the header's. A network (level
 * max) comes with versions 5 and 6, and 7 and 8 at level max, and only
 * with them; only versions 6 to 8 have an embedding width. Version 7, and
 * only it, says the data is in 16-bit units (bit 3 of the features);
 * version 8, and only it, says FASTQ (bit 7). */
static int header_level(const uint8_t *h, uint32_t version, struct pf_cm_cfg *want)
{
	uint32_t level = pf_le32(h + 12), net_h1 = pf_le32(h + 56);
	uint32_t rank = pf_le32(h + 60) & 0xffff, features = pf_le32(h + 60) >> 16;
	bool max = level == PF_MODEL_LEVEL_MAX, units = version == PF_CM_VERSION_UNITS;
	bool fastq = version == PF_CM_VERSION_FASTQ;
	bool net2 = version == PF_CM_VERSION_NET2 || ((units || fastq) && max);
	uint32_t net_features = features & ~(PF_CM_FEATURE_UNITS | PF_CM_FEATURE_FASTQ);

	if (level > PF_MODEL_LEVEL_MAX ||
	    max != (version == PF_CM_VERSION_NET || net2) || (!max && net_h1) ||
	    pf_cm_cfg_for_level((enum pf_model_level)level, pf_le32(h + 16), net_h1, want) < 0)
		return PF_CORRUPT("model image level, table_bits or network width");
	if (net2 ? rank < PF_NET_RANK_STEP || rank > PF_NET_RANK_MAX || rank > net_h1 ||
			   rank % PF_NET_RANK_STEP ||
			   net_features & ~(PF_NET_FEATURE_TOKENS | PF_NET_FEATURE_CONTEXT |
					    PF_NET_FEATURE_MATCH | PF_NET_FEATURE_INDIRECT |
					    PF_NET_FEATURE_RECENT | PF_NET_FEATURE_TOKEN_OUT) ||
			   ((net_features & (PF_NET_FEATURE_RECENT | PF_NET_FEATURE_TOKEN_OUT)) &&
			    !(net_features & PF_NET_FEATURE_TOKENS))
		 : rank || net_features)
		return PF_CORRUPT("model image network shape");
	if (units != ((features & PF_CM_FEATURE_UNITS) != 0) ||
	    fastq != ((features & PF_CM_FEATURE_FASTQ) != 0) ||
	    (fastq && (features & PF_NET_FEATURE_TOKENS)))
		return PF_CORRUPT("model image features");
	want->units = units;
	want->fastq = fastq;
	want->net_rank = rank;
	want->net_tokens = features & PF_NET_FEATURE_TOKENS;
	want->net_context = features & PF_NET_FEATURE_CONTEXT;
	want->net_match = features & PF_NET_FEATURE_MATCH;
	want->net_indirect = features & PF_NET_FEATURE_INDIRECT;
	want->net_recent = features & PF_NET_FEATURE_RECENT;
	want->net_token_out = features & PF_NET_FEATURE_TOKEN_OUT;
	if (pf_le32(h + 20) != want->n_ctx || pf_le32(h + 24) != want->n_in ||
	    pf_le32(h + 36) != want->apm2_bits || pf_le32(h + 40) != PF_CM_W_ROWS)
		return PF_CORRUPT("model image table counts");
	return 0;
}

/* Checks the header against the configuration its level implies, the
 * slice length against the slice limits and code_bits (versions 4, 5). */
static int header_parse(const uint8_t *h, size_t len, struct pf_cm_cfg *cfg,
			uint32_t *dict_len)
{
	uint32_t version, dl;
	struct pf_cm_cfg want;
	bool wide;

	if (len < PF_CM_HEADER_LEN || memcmp(h, image_magic, sizeof(image_magic)))
		return PF_CORRUPT("model image magic");
	version = pf_le32(h + 8);
	if (version < PF_CM_VERSION || version > PF_CM_VERSION_FASTQ)
		return -ENOTSUP;
	wide = version >= PF_CM_VERSION_WIDE;
	dl = pf_le32(h + 48);
	if ((version == PF_CM_VERSION_DICT || (wide && dl)) &&
	    (dl < PF_CM_DICT_MIN || dl > PF_MODEL_DICT_MAX))
		return PF_CORRUPT("model image slice length");
	if (version == PF_CM_VERSION && dl)
		return PF_CORRUPT("model image reserved bytes");
	PF_FORWARD(header_level(h, version, &want));
	want.stride = pf_le32(h + 28);
	want.lr = pf_le32(h + 32);
	if (want.stride < 2 || want.stride > PF_CM_STRIDE_MAX || want.lr < 1 ||
	    want.lr > PF_CM_LR_MAX)
		return PF_CORRUPT("model image stride or learning rate");
	want.version = version; /* the network's rows depend on it and the stride */
	if (pf_le32(h + 44) != payload_len(&want, dl))
		return PF_CORRUPT("model image payload length");
	want.code_bits = wide ? pf_le32(h + 52) : want.table_bits;
	if (want.code_bits < want.table_bits || want.code_bits > PF_CM_CODE_BITS_MAX ||
	    (!wide && pf_le32(h + 52)))
		return PF_CORRUPT("model image code_bits");
	*cfg = want;
	*dict_len = dl;
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
	uint32_t dict_len = 0;
	pf_model *m;
	int rc;

	*out = NULL;
	pf_cm_tables_init(); /* slot codes expand through squash */
	PF_FORWARD(header_parse(data, len, &cfg, &dict_len));
	m = calloc(1, sizeof(*m));
	if (m) {
		m->payload = malloc(payload_len(&cfg, dict_len));
		m->expanded = malloc((pf_cm_tab_slots(&cfg) + APM1_LEN + pf_cm_apm2_len(&cfg)) *
				     sizeof(*m->expanded));
	}
	if (!m || !m->payload || !m->expanded) {
		pf_model_free(m);
		return -ENOMEM;
	}
	m->cfg = cfg;
	rc = payload_read((const uint8_t *)data + PF_CM_HEADER_LEN, len - PF_CM_HEADER_LEN,
			  m->payload, payload_len(&cfg, dict_len));
	if (rc == 0)
		rc = weights_check(m->payload + tables_len(&cfg) + PF_CM_MM_SLOTS * 2,
				   weights_len(&cfg) / 4);
	if (rc == 0)
		rc = payload_expand(m, dict_len);
	if (rc < 0) {
		pf_model_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

void pf_model_free(pf_model *model)
{
	if (!model)
		return;
	pf_cm_dict_free(&model->dict);
	free(model->payload);
	free(model->expanded);
	free(model);
}

enum pf_model_level pf_model_get_level(const pf_model *model)
{
	return model->cfg.level;
}

void pf_model_get_shape(const pf_model *model, pf_model_shape *shape)
{
	*shape = (pf_model_shape){ .version = model->cfg.version,
				   .table_bits = model->cfg.table_bits,
				   .code_bits = model->cfg.code_bits,
				   .stride = model->cfg.stride,
				   .slice_bytes = model->dict.len,
				   .net_width = model->cfg.net_h1,
				   .net_rank = model->cfg.net_rank,
				   .net_tokens = model->cfg.net_tokens,
				   .net_context = model->cfg.net_context,
				   .net_match = model->cfg.net_match,
				   .net_indirect = model->cfg.net_indirect,
				   .net_recent = model->cfg.net_recent,
				   .net_token_out = model->cfg.net_token_out,
				   .units = model->cfg.units,
				   .fastq = model->cfg.fastq };
}
