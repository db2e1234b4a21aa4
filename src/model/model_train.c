/* SPDX-License-Identifier: MIT */
/*
 * model_train.c - training: choose the stride, prime the model by coding the
 * sample, fit the mixer weights in batch (model_fit.c), write the image.
 *
 * Priming runs the very predict/update code that coding runs, over the
 * sample cut into blocks of PF_CM_TRAIN_BLOCK bytes, so the match model
 * and the byte contexts restart at each cut as they do in a coded block
 * while the tables and mixer keep learning. The state at the end is the
 * primed state. With opts->dict_bytes, the sample's last bytes become the
 * stored slice (model_dict.c) and priming matches into it, except into the
 * block's own bytes. Float math (stride scoring, the batch fit) never reaches
 * coding: only its quantised result is stored.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_int.h"

#define TRAIN_BLOCK (256u * 1024)
#define FIT_WINDOW (4u << 20)     /* mixer samples come from the last 4 MiB */
#define FIT_MAX_SAMPLES (1u << 20)
#define STRIDE_SCAN (1u << 20)
#define AUTOCORR_LAG_MIN 16u
#define AUTOCORR_LAG_MAX 4096u
#define AUTOCORR_POINTS 8192u
#define INIT_WEIGHT (1 << 14) /* 0.25 */

/* ---- stride choice --------------------------------------------------------- */

#define PHASE_COUNTS (2 * 256 * 256)

/* Bits to code byte i knowing only byte i - s (and, with phases 2, whether
 * i is even), over the first n bytes; cnt has PHASE_COUNTS entries. Either
 * the empirical entropy of the counts, or (adaptive) what a
 * Krichevsky-Trofimov estimate of the counts so far makes each byte cost,
 * so that twice the contexts pay for learning twice as many counts: the
 * empirical entropy favours more contexts on small samples. */
static double pair_cost(const uint8_t *s, size_t n, unsigned stride, unsigned phases,
			bool adaptive, uint32_t *cnt)
{
	uint32_t row[2 * 256] = { 0 };
	double bits = 0;

	memset(cnt, 0, (size_t)phases * 256 * 256 * sizeof(*cnt));
	for (size_t i = stride; i < n; i++) {
		uint32_t ctx = s[i - stride] * phases + (uint32_t)(i % phases);

		if (adaptive)
			bits += log2((row[ctx] + 128.0) / (cnt[ctx << 8 | s[i]] + 0.5));
		cnt[ctx << 8 | s[i]]++;
		row[ctx]++;
	}
	if (adaptive)
		return bits / (double)(n - stride);
	for (unsigned a = 0; a < 256 * phases; a++)
		for (unsigned b = 0; b < 256 && row[a]; b++)
			if (cnt[a << 8 | b])
				bits += cnt[a << 8 | b] * log2((double)row[a] / cnt[a << 8 | b]);
	return bits / (double)(n - stride);
}

/* The lag in [16, 4096] at which bytes most often repeat: the row length
 * of an image or the record length of a fixed-width table. */
static unsigned autocorr_lag(const uint8_t *s, size_t n)
{
	unsigned best = 0;
	size_t best_hits = 0, span = n - AUTOCORR_LAG_MAX;
	size_t step = span / AUTOCORR_POINTS ? span / AUTOCORR_POINTS : 1;

	for (unsigned lag = AUTOCORR_LAG_MIN; lag <= AUTOCORR_LAG_MAX; lag++) {
		size_t hits = 0;

		for (size_t i = AUTOCORR_LAG_MAX; i < n; i += step)
			hits += s[i] == s[i - lag];
		if (hits > best_hits) {
			best_hits = hits;
			best = lag;
		}
	}
	return best;
}

/* The stride of the strided contexts: the candidate whose byte at distance
 * s predicts the next one best. */
static unsigned stride_choose(const uint8_t *sample, size_t len)
{
	unsigned cands[8] = { 2, 3, 4, 8, 12, 16 }, n_cands = 6, best = 2;
	size_t n = len < STRIDE_SCAN ? len : STRIDE_SCAN;
	double best_cost = 1e30;
	uint32_t *cnt;

	if (n < 2 * AUTOCORR_LAG_MAX)
		return best;
	cnt = malloc(PHASE_COUNTS * sizeof(*cnt));
	if (!cnt)
		return best;
	cands[n_cands] = autocorr_lag(sample, n);
	n_cands += cands[n_cands] > 16;
	for (unsigned i = 0; i < n_cands; i++) {
		double c = pair_cost(sample, n, cands[i], 1, false, cnt);

		if (c < best_cost - 1e-9) {
			best_cost = c;
			best = cands[i];
		}
	}
	free(cnt);
	return best;
}

/* Whether the sample is made of 16-bit units (token shards, 16-bit PCM):
 * knowing a byte's phase makes the byte two back predict it better by more
 * than PHASE_GAIN (1 MiB, adaptive estimates: text, source, CSV and DNA
 * 0.3-1.3% worse; GPT-2 token shards and 16-bit PCM 4-5% better, int32
 * columns 11%); the model's low-order contexts then know the phase
 * (format 7), and a level max network gets the token features. */
#define PHASE_GAIN 0.97
static bool phase_matters(const uint8_t *sample, size_t len)
{
	size_t n = len < STRIDE_SCAN ? len : STRIDE_SCAN;
	uint32_t *cnt;
	bool matters;

	if (n < 2 * AUTOCORR_LAG_MAX || !(cnt = malloc(PHASE_COUNTS * sizeof(*cnt))))
		return false;
	/* adaptive: 32 KiB of random bytes looked 16-bit to the empirical cost */
	matters = pair_cost(sample, n, 2, 2, true, cnt) <
		  PHASE_GAIN * pair_cost(sample, n, 2, 1, true, cnt);
	free(cnt);
	return matters;
}

/* The length of the line at s (len bytes left) without its newline, or
 * SIZE_MAX when it has none. */
static size_t line_len(const uint8_t *s, size_t len)
{
	const uint8_t *nl = memchr(s, '\n', len);

	return nl ? (size_t)(nl - s) : SIZE_MAX;
}

/* The bytes of the FASTQ record at s (len bytes left): a '@' header, the
 * bases, a '+' line and as many qualities as bases; 0 when there is none. */
static size_t fastq_record(const uint8_t *s, size_t len)
{
	size_t at = 0, n[4];

	for (int k = 0; k < 4; k++) {
		n[k] = line_len(s + at, len - at);
		if (n[k] == SIZE_MAX)
			return 0;
		if ((k == 0 && s[at] != '@') || (k == 2 && s[at] != '+'))
			return 0;
		at += n[k] + 1;
	}
	return n[1] && n[1] == n[3] ? at : 0;
}

/* Whether FASTQ records make up most of the sample: its models then get the
 * contexts for quality lines (format 8), which other text pays for (FASTA
 * up to 0.5%). Records a sample piece cuts in two just do not count. */
#define FASTQ_SHARE 0.5
static bool is_fastq(const uint8_t *s, size_t len)
{
	size_t at = 0, in_records = 0;

	while (at < len) {
		size_t n = s[at] == '@' ? fastq_record(s + at, len - at) : 0, skip;

		if (n) {
			in_records += n;
			at += n;
			continue;
		}
		skip = line_len(s + at, len - at);
		if (skip == SIZE_MAX)
			break;
		at += skip + 1;
	}
	return in_records > len * FASTQ_SHARE;
}

/* ---- priming ---------------------------------------------------------------- */

static void state_init_fresh(pf_cm *cm)
{
	size_t n_slots = pf_cm_tab_slots(&cm->cfg);

	for (size_t i = 0; i < n_slots; i++)
		cm->tab[i] = PF_CM_SLOT_FRESH;
	for (size_t i = 0; i < PF_CM_MM_SLOTS; i++)
		cm->mm_sm[i] = cm->dm_sm[i] = PF_CM_SLOT_FRESH;
	for (size_t s = 0; s < PF_CM_W_ROWS; s++)
		for (unsigned i = 0; i < cm->cfg.n_in; i++)
			cm->w[s * PF_CM_MAX_IN + i] = i == cm->cfg.n_ctx + 2 ? 0 : INIT_WEIGHT;
	for (size_t s = PF_CM_ROWF; s < PF_CM_W_ROWS; s++)
		for (unsigned i = 0; i < cm->cfg.n_in; i++)
			cm->w[s * PF_CM_MAX_IN + i] = i < 3 ? 65536 / 3 : 0;
	pf_cm_apm_init(cm->apm1, PF_CM_APM1_CTX);
	if (cm->cfg.apm2_bits)
		pf_cm_apm_init(cm->apm2, (size_t)1 << cm->cfg.apm2_bits);
}

/* Keeps the block at s[off, off + n) from matching into its own bytes
 * when they are part of the slice, which points into the sample (its last
 * dict->len bytes). Taken from the pointer, not from a length, since the
 * network's CM-only pass primes only the sample's first bytes. */
static void dict_skip_block(pf_cm *cm, const uint8_t *s, size_t off, size_t n)
{
	size_t base = (size_t)(cm->dict->bytes - s);

	cm->dict_skip_lo = cm->dict_skip_hi = 0;
	if (off + n <= base)
		return;
	cm->dict_skip_lo = (uint32_t)((off > base ? off : base) - base);
	cm->dict_skip_hi = (uint32_t)(off + n - base);
}

/* Codes the sample without output, block by block. fit, if not NULL,
 * samples the mixer's inputs over the last FIT_WINDOW bytes for the batch
 * fit; st, if not NULL, gets each bit's final stretch >> 4. */
static void prime(pf_cm *cm, const uint8_t *s, size_t len, struct pf_cm_fit_samples *fit,
		  int8_t *st, const pf_model_train_opts *opts)
{
	size_t window = len < FIT_WINDOW ? len : FIT_WINDOW;
	uint64_t every = (uint64_t)window * 8 / FIT_MAX_SAMPLES + 1, bitno = 0;

	for (size_t off = 0; off < len; off += TRAIN_BLOCK) {
		size_t n = len - off < TRAIN_BLOCK ? len - off : TRAIN_BLOCK;

		pf_cm_start(cm, NULL, s + off);
		if (cm->dict)
			dict_skip_block(cm, s, off, n);
		for (size_t i = 0; i < n; i++) {
			bool collect = fit && off + i >= len - window;

			for (int b = 7; b >= 0; b--) {
				int bit = (s[off + i] >> b) & 1, p = pf_cm_predict(cm);

				if (st)
					st[(off + i) * 8 + 7 - b] = (int8_t)(pf_cm_stretch(p) >> 4);
				if (collect && bitno++ % every == 0)
					pf_cm_fit_add(fit, cm, bit);
				pf_cm_update(cm, bit);
			}
		}
		if (opts && opts->progress)
			opts->progress(opts->progress_arg, off + n, len);
	}
}

static int opts_check(const void *sample, size_t len, const pf_model_train_opts *opts,
		      struct pf_cm_cfg *cfg)
{
	unsigned bits = opts && opts->table_bits ? opts->table_bits : PF_CM_TABLE_BITS_DEFAULT;
	unsigned rank = opts ? opts->net_rank : 0;

	if (!opts || (!sample && len) || len > UINT32_MAX)
		return -EINVAL;
	PF_FORWARD(pf_cm_cfg_for_level(opts->level, bits,
				       opts->net_width ? opts->net_width : PF_NET_H1_DEFAULT, cfg));
	if (!rank || !cfg->net_h1) /* below level max, as the width, ignored */
		return 0;
	if (rank % PF_NET_RANK_STEP || rank > PF_NET_RANK_MAX || rank > cfg->net_h1)
		return -EINVAL;
	cfg->net_rank = rank;
	return 0;
}

/* The sample's last opts->dict_bytes (at most the sample and the format's
 * limit) as cm's slice; none below PF_CM_DICT_MIN. @return 0, -ENOMEM. */
static int dict_choose(pf_cm *cm, struct pf_cm_dict *dict, const uint8_t *sample,
		       size_t len, const pf_model_train_opts *opts)
{
	size_t n = opts->dict_bytes < len ? opts->dict_bytes : len;

	if (n > PF_MODEL_DICT_MAX)
		n = PF_MODEL_DICT_MAX;
	if (n < PF_CM_DICT_MIN)
		return 0;
	PF_FORWARD(pf_cm_dict_init(dict, sample + len - n, (uint32_t)n));
	cm->dict = dict;
	return 0;
}

#define BYTES_PER_SLOT 2048 /* logical bytes per table slot (cmd_train.c) */

unsigned pf_model_table_bits_for(uint64_t logical)
{
	unsigned bits = PF_CM_TABLE_BITS_MIN;

	while (bits < PF_CM_TABLE_BITS_MAX && (logical / BYTES_PER_SLOT) >> (bits + 1))
		bits++;
	return bits;
}

/* What the network learns to correct: the stretch >> 4 of each bit of the
 * sample's first PF_NET_SAMPLE_MAX bytes, coded by the CM alone from a
 * fresh state, as priming codes them. NULL if out of memory. */
static int8_t *cm_alone(pf_cm *cm, const uint8_t *sample, size_t len)
{
	size_t n = len < PF_NET_SAMPLE_MAX ? len : PF_NET_SAMPLE_MAX;
	int8_t *st = malloc(n * 8 + 1);

	if (st) {
		state_init_fresh(cm);
		prime(cm, sample, n, NULL, st, NULL);
	}
	return st;
}

/* Level max: trains the network first (or copies opts->net_from's, which
 * training this sample would make again), so that the mixer's weights are
 * primed and fitted on what the quantised network really predicts.
 * @return 0, -ENOMEM, -EINVAL (net_from has another shape). */
static int net_choose(pf_cm *cm, struct pf_net *net, uint8_t **weights, const uint8_t *sample,
		      size_t len, const pf_model_train_opts *opts)
{
	struct pf_net_shape shape = pf_net_shape_of(&cm->cfg);

	if (!shape.h1)
		return 0;
	*weights = malloc(pf_net_payload_len(&shape)); /* malloc: aligned for the int32 parts */
	if (!*weights)
		return -ENOMEM;
	if (opts->net_from) {
		const struct pf_net *from = &opts->net_from->net;

		if (from->shape.h1 != shape.h1 || from->shape.rank != shape.rank ||
		    from->shape.tokens != shape.tokens || from->shape.context != shape.context ||
		    from->shape.match != shape.match || from->shape.indirect != shape.indirect ||
		    from->shape.recent != shape.recent || from->shape.token_out != shape.token_out)
			return -EINVAL;
		memcpy(*weights, from->b1, pf_net_payload_len(&shape));
	} else {
		int8_t *st = cm_alone(cm, sample, len);
		int rc = st ? pf_net_train(sample, len, st, &shape, opts, *weights) : -ENOMEM;

		free(st);
		if (rc < 0)
			return rc;
	}
	pf_net_locate(net, &shape, *weights);
	cm->net = net;
	return 0;
}

static int train(const void *sample, size_t len, const pf_model_train_opts *opts,
		 void **image, size_t *image_len)
{
	struct pf_cm_fit_samples fit;
	struct pf_cm_dict dict = { 0 };
	struct pf_net net;
	uint8_t *net_weights = NULL;
	struct pf_cm_cfg cfg;
	pf_cm cm = { 0 };
	int rc;

	PF_FORWARD(opts_check(sample, len, opts, &cfg));
	pf_cm_tables_init();
	cfg.stride = stride_choose(sample, len);
	cfg.units = phase_matters(sample, len);
	if (cfg.units)
		cfg.version = PF_CM_VERSION_UNITS;
	cfg.fastq = !cfg.units && is_fastq(sample, len);
	if (cfg.fastq)
		cfg.version = PF_CM_VERSION_FASTQ;
	cfg.net_tokens = cfg.net_h1 && cfg.units;
	cfg.net_context = cfg.net_h1 && opts->net_context;
	cfg.net_match = cfg.net_h1 != 0;
	cfg.net_indirect = cfg.net_h1 != 0;
	cfg.net_recent = cfg.net_tokens;
	cfg.net_token_out = cfg.net_tokens;
	rc = pf_cm_reserve(&cm, &cfg, TRAIN_BLOCK);
	if (rc == 0)
		rc = dict_choose(&cm, &dict, sample, len, opts);
	if (rc == 0)
		rc = net_choose(&cm, &net, &net_weights, sample, len, opts);
	if (rc < 0)
		goto out_cm;
	rc = pf_cm_fit_init(&fit, cfg.n_in, FIT_MAX_SAMPLES);
	if (rc < 0)
		goto out_cm;
	state_init_fresh(&cm);
	prime(&cm, sample, len, &fit, NULL, opts);
	rc = pf_cm_fit_weights(&fit, cm.w);
	if (rc < 0)
		goto out_fit;
	pf_log(PF_LOG_DEBUG, "model train: %zu bytes, stride %u, slice %u bytes, batch fit kept for %d of %d mixer sets",
	       len, cfg.stride, dict.len, rc, PF_CM_SETS);
	rc = pf_cm_image_build(&cm, image, image_len);
out_fit:
	pf_cm_fit_free(&fit);
out_cm:
	pf_cm_release(&cm);
	pf_cm_dict_free(&dict);
	free(net_weights);
	return rc;
}

/* Training's BLAS work is small products (the network's batches of 256
 * rows, the mixer fit's 8 to 32 columns): threads hand them off at a cost
 * larger than they save, and where another job holds a core, OpenBLAS's
 * waiting threads made `priorctl train --level max` 2-5x slower in wall
 * time (docs/neural.md). So training runs BLAS on the calling thread, which
 * also makes its result the same for any OPENBLAS_NUM_THREADS. */
int pf_model_train(const void *sample, size_t len, const pf_model_train_opts *opts,
		   void **image, size_t *image_len)
{
	int threads = openblas_get_num_threads(), rc;

	openblas_set_num_threads(1);
	rc = train(sample, len, opts, image, image_len);
	openblas_set_num_threads(threads);
	return rc;
}
