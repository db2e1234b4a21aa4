/* SPDX-License-Identifier: MIT */
/*
 * store_learned.c - the learned codec inside a container: which model a
 * file's new blocks use, and the model table of its index (format.md §3).
 *
 * A file picks its model once per open: the first block that may use the
 * learned codec is encoded with each of the store's default models and the
 * smallest wins (zstd and raw stay in the race per block, codec_block.c).
 * Background recompression picks its model the same way, separately
 * (pf_container_recode_block()). The caller holds the container's write
 * lock, or its read lock for pf_learned_model(); pf_learned_best() needs no
 * container.
 */
#include "store/store_int.h"

#include <stdlib.h>

#define TRIAL_MODELS_MAX 16

int pf_learned_best(pf_store *store, const void *plain, uint32_t len,
		    const pf_model **model, uint8_t id[PF_MODEL_ID_SIZE])
{
	const pf_model *models[TRIAL_MODELS_MAX];
	uint8_t ids[TRIAL_MODELS_MAX][PF_MODEL_ID_SIZE];
	int n = pf_models_defaults(store, models, ids, TRIAL_MODELS_MAX);
	ssize_t best = -1;
	uint8_t *out;

	*model = n == 1 ? models[0] : NULL;
	if (n == 1)
		memcpy(id, ids[0], PF_MODEL_ID_SIZE);
	if (n <= 1)
		return 0;
	out = malloc(pf_codec_bound(len));
	if (!out)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		pf_codec_params trial = store->opts.codec;
		uint8_t codec;
		ssize_t got;

		trial.choice = PF_CHOICE_LEARNED;
		trial.model = models[i];
		got = pf_codec_encode(&trial, plain, len, out, pf_codec_bound(len), &codec);
		if (codec == PF_CODEC_LEARNED && got > 0 && (best < 0 || got < best)) {
			best = got;
			*model = models[i];
			memcpy(id, ids[i], PF_MODEL_ID_SIZE);
		}
	}
	free(out);
	return 0;
}

int pf_learned_params(pf_container *c, const void *plain, uint32_t len,
		      pf_codec_params *params)
{
	*params = c->store->opts.codec;
	params->model = NULL;
	if (!c->store->opts.use_models || params->choice == PF_CHOICE_ZSTD ||
	    params->choice == PF_CHOICE_RAW)
		return 0;
	if (!c->model_picked) {
		PF_FORWARD(pf_learned_best(c->store, plain, len, &c->write_model,
					   c->write_model_id));
		c->model_picked = true;
	}
	params->model = c->write_model;
	return 0;
}

int pf_learned_slot(pf_container *c, const uint8_t id[PF_MODEL_ID_SIZE])
{
	for (unsigned i = 0; i < c->nmodels; i++)
		if (memcmp(c->models[i], id, PF_MODEL_ID_SIZE) == 0)
			return (int)i + 1;
	if (!c->models) {
		c->models = calloc(PF_MODELS_MAX, PF_MODEL_ID_SIZE);
		if (!c->models)
			return -ENOMEM;
	}
	if (c->nmodels == PF_MODELS_MAX)
		pf_learned_compact(c);
	if (c->nmodels == PF_MODELS_MAX)
		return -ENOSPC;
	memcpy(c->models[c->nmodels++], id, PF_MODEL_ID_SIZE);
	return (int)c->nmodels;
}

int pf_learned_model(pf_container *c, unsigned slot, const pf_model **out)
{
	if (slot == 0 || slot > c->nmodels)
		return -EIO;
	return pf_store_model_get(c->store, c->models[slot - 1], out);
}

void pf_learned_compact(pf_container *c)
{
	bool used[PF_MODELS_MAX + 1] = { false };
	uint8_t remap[PF_MODELS_MAX + 1] = { 0 }; /* slot 0 (no model) stays 0 */
	unsigned kept = 0;

	for (uint64_t b = 0; b < c->wn; b++)
		used[c->widx[b].model] = true;
	for (unsigned i = 1; i <= c->nmodels; i++) {
		if (!used[i])
			continue;
		memmove(c->models[kept], c->models[i - 1], PF_MODEL_ID_SIZE);
		remap[i] = (uint8_t)++kept;
	}
	for (uint64_t b = 0; b < c->wn; b++)
		c->widx[b].model = remap[c->widx[b].model];
	c->nmodels = kept;
}
