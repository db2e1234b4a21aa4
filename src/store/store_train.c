/* SPDX-License-Identifier: MIT */
/*
 * store_train.c - a store that trains its own model: the mount's self-
 * training (-o train=auto) hands a sample of its cold data here.
 *
 * The model is trained on the sample less its held-out tail, then the tail's
 * 256 KiB pieces are coded as blocks by the model and by zstd -19. The model
 * becomes a default (kind PF_MOUNT_KIND, next to those priorctl train made)
 * only when the saving this predicts over the data it will serve beats the
 * model's own size, the rule priorctl train applies. At level max it also
 * trains the network with its context features and keeps the model that
 * saves more, as priorctl train does.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

#define EVAL_PIECE (256u << 10)  /* the default block size */
#define EVAL_PIECES_MAX 4
#define EVAL_ZSTD_LEVEL 19

/* Codes each held-out piece with model (or zstd, for NULL) as the store's
 * blocks would be; @return total bytes. */
static int64_t eval_bytes(const uint8_t *held, size_t len, const pf_model *model,
			  unsigned min_saving)
{
	pf_codec_params p = { .choice = model ? PF_CHOICE_LEARNED : PF_CHOICE_ZSTD,
			      .zstd_level = EVAL_ZSTD_LEVEL, .model = model,
			      .min_saving = min_saving };
	uint8_t *out = malloc(pf_codec_bound(EVAL_PIECE));
	int64_t total = 0;

	if (!out)
		return -ENOMEM;
	for (size_t off = 0; off < len && total >= 0; off += EVAL_PIECE) {
		size_t n = len - off < EVAL_PIECE ? len - off : EVAL_PIECE;
		uint8_t codec;
		ssize_t got = pf_codec_encode(&p, held + off, n, out,
					      pf_codec_bound(n), &codec);

		total = got < 0 ? got : total + (codec == PF_CODEC_ZERO ? 0 : got);
	}
	free(out);
	return total;
}

/* Adds id to the defaults under PF_MOUNT_KIND, replacing an older one. */
static int add_default(pf_store *s, const uint8_t id[PF_MODEL_ID_SIZE])
{
	pf_model_info *v;
	size_t n = 0;
	int rc;

	pthread_mutex_lock(&s->models_lock);
	v = malloc((s->ndefaults + 1) * sizeof(*v));
	for (size_t i = 0; v && i < s->ndefaults; i++)
		if (strcmp(s->defaults[i].kind, PF_MOUNT_KIND) != 0)
			v[n++] = s->defaults[i];
	pthread_mutex_unlock(&s->models_lock);
	if (!v)
		return -ENOMEM;
	memset(&v[n], 0, sizeof(v[n]));
	memcpy(v[n].id, id, PF_MODEL_ID_SIZE);
	strcpy(v[n].kind, PF_MOUNT_KIND);
	rc = pf_store_set_defaults(s, v, n + 1);
	free(v);
	return rc;
}

/* A trained image and what it measured on the held-out tail. */
struct candidate {
	void *image;
	size_t image_len;
	pf_store_train_result res;
};

/* Trains on sample[0..len - held) with opts and codes the held-out tail
 * with the model and with zstd; fills c (c->image NULL on failure). */
static int train_candidate(const pf_store *s, const uint8_t *sample, size_t len,
			   size_t held, uint64_t logical,
			   const pf_model_train_opts *opts, struct candidate *c)
{
	unsigned min_saving = s->opts.codec.min_saving;
	const uint8_t *tail = sample + (len - held);
	pf_model *model = NULL;
	int64_t zstd, learned;
	int rc;

	memset(c, 0, sizeof(*c));
	rc = pf_codec_model_train(sample, len - held, opts, &c->image, &c->image_len);
	if (rc == 0)
		rc = pf_codec_model_load(c->image, c->image_len, &model);
	zstd = rc == 0 ? eval_bytes(tail, held, NULL, min_saving) : 0;
	learned = rc == 0 && zstd >= 0 ? eval_bytes(tail, held, model, min_saving) : 0;
	rc = rc < 0 ? rc : zstd < 0 ? (int)zstd : learned < 0 ? (int)learned : 0;
	pf_codec_model_free(model);
	if (rc < 0) {
		free(c->image);
		c->image = NULL;
		return rc;
	}
	c->res.model_bytes = c->image_len;
	c->res.saving = (int64_t)((double)(zstd - learned) / (double)held * (double)logical) -
			(int64_t)c->image_len;
	c->res.bits_learned = 8.0 * (double)learned / (double)held;
	c->res.bits_zstd = 8.0 * (double)zstd / (double)held;
	c->res.net_context = opts->net_context;
	return 0;
}

int pf_store_train_default(pf_store *s, const void *sample, size_t len,
			   uint64_t logical, pf_store_train_result *res)
{
	size_t held = len / 8 < EVAL_PIECES_MAX * EVAL_PIECE ? len / 8
							     : EVAL_PIECES_MAX * EVAL_PIECE;
	pf_model_train_opts opts = { .level = s->opts.level,
				     .table_bits = pf_model_table_bits_for(logical) };
	struct candidate best, other;
	int rc;

	memset(res, 0, sizeof(*res));
	if (s->opts.read_only)
		return -EROFS;
	if (held == 0)
		return -EINVAL;
	rc = train_candidate(s, sample, len, held, logical, &opts, &best);
	if (rc == 0 && opts.level == PF_MODEL_LEVEL_MAX) {
		opts.net_context = true;
		rc = train_candidate(s, sample, len, held, logical, &opts, &other);
		if (rc == 0)
			pf_log(PF_LOG_INFO, "train=auto: level max: the network saves %jd bytes "
			       "with its context features, %jd without",
			       (intmax_t)other.res.saving, (intmax_t)best.res.saving);
		if (rc == 0 && other.res.saving > best.res.saving) {
			free(best.image);
			best = other;
		} else {
			free(other.image);
		}
	}
	if (rc == 0)
		*res = best.res;
	if (rc == 0 && res->saving > 0) {
		rc = pf_store_model_add(s, best.image, best.image_len, res->id);
		if (rc == 0)
			rc = add_default(s, res->id);
		res->used = rc == 0;
	}
	free(best.image);
	return rc;
}
