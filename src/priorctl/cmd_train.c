/* SPDX-License-Identifier: MIT */
/*
 * cmd_train.c - "priorctl train [--from DIR] [--level L] [--sample SIZE]
 * STORE": trains the learned codec's models, one per data kind, and makes
 * those that pay for themselves the store's defaults.
 *
 * For each kind with at least 1 MiB of sample (ctl_sample.c), a model is
 * trained on the sample minus its held-out pieces, then both the model and
 * zstd -19 code each held-out piece as one block (the pieces are 256 KiB,
 * the default block size). The estimated saving is the kind's logical bytes
 * in the sampled tree times the bits/byte the model saves over zstd -19,
 * minus the model's own size: zstd -19 is a stricter baseline than the
 * store's default zstd level, so a model is only kept when it clearly pays.
 *
 * Model size: the context tables dominate a model file (about one byte per
 * used slot and context after pruning and zstd), and the saving grows with
 * the data the model serves, so by default a kind's tables get about
 * logical / 2048 slots (2^10 to 2^20; pf_model_table_bits_for()). Blocks
 * code with wider tables than the model stores (model format 4), so the
 * stored tables need hold only what priming taught. Estimated by this
 * command (held-out bits/byte x logical bytes + model) on 40 MiB cuts of
 * the corpus with 10% samples, 2^13..2^17 slots: prose 13.72 13.70 13.70
 * 13.74 13.86 MB (2^14 the rule's choice), source 6.08 6.07 6.09 6.15
 * 6.31, JSON/XML 4.59 4.60 4.63 4.71 4.88, tokens 16.11 16.11 16.17 16.26
 * 16.43 (the held-out pieces code worse than a whole import, which also
 * has the slice); with format 2's narrow tables 2^17 had been best.
 * --table-bits overrides the choice.
 *
 * New defaults: per kind, the new model or the old default of the same
 * level, whichever has the larger estimated saving on this run's held-out
 * pieces, if positive; the old defaults of kinds this run could not train
 * (too little sample) stay. Defaults are kept per level: a store may have,
 * for one kind, a default of each level (the mount's level= option picks
 * among them), so a run at one level never replaces or contests another
 * level's default. A default that does not load has no level: it loses to
 * any new model of its kind. Models that stop being defaults stay in the
 * store (blocks may reference them) until "priorctl models gc".
 *
 * Level max also trains a network: its loss curve (bits/byte on the
 * positions just trained on and on the sample's held-out end) is printed
 * on stdout as it comes, since it shows whether the network learned.
 * Its variants (context features, embeddings an eighth of the width
 * instead of a quarter) are trained one after the other, each kept only
 * when it saves more, model bytes counted.
 */
#include "priorctl/priorctl.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/pf_common.h"

#define TRAIN_MIN_SAMPLE (1u << 20) /* smaller samples give no useful model */

static const char train_usage[] =
	"usage: priorctl train [--from DIR] [--level fast|default|max] "
	"[--sample SIZE]\n"
	"                      [--table-bits N] [--net-width N]\n"
	"                      [--context-features auto|yes|no] [--min-saving P]\n"
	"                      STORE\n"
	"\n"
	"Samples the files of STORE (or of the plain directory DIR), groups\n"
	"them by data kind, trains one model per kind with at least 1M of\n"
	"sample, measures it against zstd -19 on a held-out slice and makes\n"
	"the models that pay for themselves the store's defaults (one per\n"
	"kind and level: defaults of other levels are kept). Level max adds a\n"
	"neural network: it trains 10-20x slower, codes about 2x slower and\n"
	"prints the network's loss curve.\n"
	"Needs the writer lock: refuses while STORE is mounted read-write.\n"
	"\n"
	"  -f, --from DIR      sample DIR instead of the store\n"
	"  -l, --level LEVEL   fast, default or max (default: default)\n"
	"  -s, --sample SIZE   most bytes sampled per kind (default 16M)\n"
	"  -t, --table-bits N  model tables of 2^N slots, 10..20 (default:\n"
	"                      sized to the data of each kind)\n"
	"  -w, --net-width N   level max: the network's width, a multiple of\n"
	"                      32 from 32 to 256 (default 64); its embeddings\n"
	"                      are a quarter as wide, and from 128 on also\n"
	"                      tried an eighth as wide (the smaller model kept)\n"
	"      --context-features auto|yes|no\n"
	"                      level max: the network also reads the previous\n"
	"                      three bytes, the previous word and the column;\n"
	"                      auto (default) trains each kind with and\n"
	"                      without and keeps what saves more\n"
	"      --min-saving P  judge the models as if a block must save P\n"
	"                      percent to be stored compressed (default 12.5,\n"
	"                      as the mount's min_saving); below 12.5\n"
	"                      compressed files are trained too\n"
	"  -v, --verbose       also show the store layer's log lines\n"
	"  -h, --help          show this help\n";

struct kind_result {
	enum pctl_kind kind;
	unsigned min_saving;  /* the codec's, for measuring */
	const char *skipped;  /* why no model was trained, or NULL */
	void *image;          /* the trained model file */
	size_t image_len;
	uint64_t eval_bytes, learned_bytes, zstd_bytes;
	int64_t saving;       /* estimated, model bytes counted */
	bool used;
	bool old_better;      /* the kind's old default saves more: kept */
	uint8_t id[PF_MODEL_ID_SIZE];
};

/* ---- training and evaluation --------------------------------------------- */

static void train_progress(void *arg, uint64_t done, uint64_t total)
{
	struct pctl_progress *bar = arg;

	bar->total = total;
	pctl_progress_set(bar, done);
}

/* One point of level max's loss curve, as a line on stdout (the bar on
 * stderr cleared first, so a terminal shows both). arg is the label. */
static void train_loss(void *arg, uint64_t step, uint64_t steps,
		       double train_bpb, double held_bpb)
{
	flockfile(stderr);
	pctl_progress_clear_locked();
	printf("%s: network step %" PRIu64 "/%" PRIu64 ": train %.3f, "
	       "held-out %.3f bits/byte\n", (const char *)arg, step, steps,
	       train_bpb, held_bpb);
	fflush(stdout);
	funlockfile(stderr);
}

/* What one training run of a kind adds to the plain model. */
struct variant {
	size_t dict_bytes;	 /* a slice of the sample for the match model */
	bool context;		 /* level max: the network's context features */
	unsigned rank;		 /* level max: its embeddings' width; 0: default */
	const pf_model *net_from; /* level max: lends its network, or NULL */
};

static int train_kind(const struct pctl_kind_sample *ks,
		      const struct pctl_train_opts *opts, const struct variant *v,
		      struct kind_result *r)
{
	char label[80];
	struct pctl_progress bar;
	pf_model_train_opts o = { .level = opts->level,
				  .table_bits = opts->table_bits,
				  .dict_bytes = v->dict_bytes,
				  .net_width = opts->net_width,
				  .net_rank = v->rank,
				  .net_from = v->net_from,
				  .net_context = v->context,
				  .progress = train_progress,
				  .loss = train_loss,
				  .loss_arg = label };
	int rc;

	if (!o.table_bits)
		o.table_bits = pf_model_table_bits_for(ks->logical);
	snprintf(label, sizeof(label), "training %s%s%s%s", pctl_kind_name(r->kind),
		 v->context ? " with context features" : "",
		 v->rank && !v->net_from ? " with narrower embeddings" : "",
		 v->dict_bytes ? " with a slice" : "");
	pctl_progress_start(&bar, label, ks->train_len);
	o.progress_arg = &bar;
	rc = pf_codec_model_train(ks->train, ks->train_len, &o, &r->image,
				  &r->image_len);
	pctl_progress_end(&bar);
	if (rc < 0)
		pctl_err("train: %s: training failed: %s",
			 pctl_kind_name(r->kind), strerror(-rc));
	return rc;
}

/* Stored bytes of one block coded as params asks (a ZERO block costs 0). */
static ssize_t coded_len(const pf_codec_params *params, const void *plain,
			 size_t len, void *out, size_t cap)
{
	uint8_t codec;

	return pf_codec_encode(params, plain, len, out, cap, &codec);
}

int pctl_eval_pieces(const struct pctl_kind_sample *ks,
		     const pf_codec_params *params, size_t n, uint64_t *bytes,
		     struct pctl_progress *bar)
{
	size_t cap = pf_codec_bound(PCTL_SAMPLE_PIECE), off = 0;
	unsigned char *out = malloc(cap);
	ssize_t len = 0;

	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < ks->eval_count && len >= 0; i++) {
		for (size_t j = 0; j < n && len >= 0; j++) {
			len = coded_len(&params[j], ks->eval + off,
					ks->eval_lens[i], out, cap);
			bytes[j] += (uint64_t)(len > 0 ? len : 0);
		}
		off += ks->eval_lens[i];
		if (bar)
			pctl_progress_add(bar, ks->eval_lens[i]);
	}
	free(out);
	return len < 0 ? (int)len : 0;
}

static int eval_pieces(const struct pctl_kind_sample *ks, const pf_model *model,
		       struct kind_result *r)
{
	const pf_codec_params params[2] = {
		{ .choice = PF_CHOICE_LEARNED, .zstd_level = PCTL_EVAL_ZSTD_LEVEL,
		  .model = model, .min_saving = r->min_saving },
		{ .choice = PF_CHOICE_ZSTD, .zstd_level = PCTL_EVAL_ZSTD_LEVEL },
	};
	uint64_t bytes[2] = { 0, 0 };
	struct pctl_progress bar;
	char label[48];
	int rc;

	snprintf(label, sizeof(label), "evaluating %s", pctl_kind_name(r->kind));
	pctl_progress_start(&bar, label, ks->eval_len);
	rc = pctl_eval_pieces(ks, params, 2, bytes, &bar);
	pctl_progress_end(&bar);
	r->learned_bytes += bytes[0];
	r->zstd_bytes += bytes[1];
	r->eval_bytes = ks->eval_len;
	return rc;
}

/* Saving on `logical` bytes at the measured rates, minus the model. */
static int64_t estimate_saving(const struct kind_result *r, uint64_t logical)
{
	double gain;

	if (!r->eval_bytes)
		return -(int64_t)r->image_len;
	gain = ((double)r->zstd_bytes - (double)r->learned_bytes) /
	       (double)r->eval_bytes * (double)logical;
	return (int64_t)gain - (int64_t)r->image_len;
}

/* Codes the held-out pieces with model; sets r's sizes and saving. */
static int measure(const struct pctl_kind_sample *ks, const pf_model *model,
		   struct kind_result *r)
{
	int rc = eval_pieces(ks, model, r);

	if (rc < 0) {
		pctl_err("train: %s: evaluation failed: %s",
			 pctl_kind_name(r->kind), strerror(-rc));
		return rc;
	}
	r->saving = estimate_saving(r, ks->logical);
	return 0;
}

static int evaluate_kind(const struct pctl_kind_sample *ks,
			 struct kind_result *r)
{
	pf_model *model;
	int rc;

	rc = pf_codec_model_load(r->image, r->image_len, &model);
	if (rc < 0) {
		pctl_err("train: %s: the trained model does not load: %s",
			 pctl_kind_name(r->kind), strerror(-rc));
		return rc;
	}
	rc = measure(ks, model, r);
	pf_codec_model_free(model);
	r->used = rc == 0 && r->saving > 0;
	return rc;
}

/* The level of the store's model id, or -1 when it does not load. */
static int stored_level(pf_store *store, const uint8_t *id)
{
	const pf_model *model;

	if (pf_store_model_get(store, id, &model) < 0)
		return -1;
	return (int)pf_codec_model_level(model);
}

/* Measures the kind's old default on the same pieces; when it saves more
 * than the new model (and saves at all), it stays and the new one is not
 * used. A default that does not load loses. */
static int contest_old(pf_store *store, const struct pctl_kind_sample *ks,
		       const pf_model_info *old, struct kind_result *r)
{
	struct kind_result o = { .kind = r->kind, .min_saving = r->min_saving,
				 .image_len = old->bytes };
	const pf_model *model;

	if (pf_store_model_get(store, old->id, &model) < 0)
		return 0;
	PF_FORWARD(measure(ks, model, &o));
	if (o.saving > 0 && o.saving > r->saving) {
		r->used = false;
		r->old_better = true;
	}
	return 0;
}

/* Logical bytes per byte of stored slice: each slice size starts where it
 * pays 1.4-2.5x over against the next smaller one (docs/model.md), up to
 * the format's limit. */
#define SLICE_PER_LOGICAL 128
#define SLICE_MIN (64u << 10)
#define SLICE_MAX PF_MODEL_DICT_MAX

/* Trains the kind's variant v and keeps it in r when it saves more on the
 * held-out pieces than r does, model bytes counted; *saving (if not NULL)
 * gets what v saves. */
static int try_variant(const struct pctl_kind_sample *ks, const struct pctl_train_opts *opts,
		       const struct variant *v, struct kind_result *r, int64_t *saving)
{
	struct kind_result s = { .kind = r->kind, .min_saving = r->min_saving };
	int rc = train_kind(ks, opts, v, &s);

	if (rc == 0)
		rc = evaluate_kind(ks, &s);
	if (rc == 0 && saving)
		*saving = s.saving;
	if (rc < 0 || s.saving <= r->saving) {
		free(s.image);
		return rc;
	}
	free(r->image);
	*r = s;
	return 0;
}

/* The shape of the model r keeps. */
static int kept_shape(const struct kind_result *r, pf_model_shape *shape)
{
	pf_model *model;

	PF_FORWARD(pf_codec_model_load(r->image, r->image_len, &model));
	pf_codec_model_shape(model, shape);
	pf_codec_model_free(model);
	return 0;
}

/* Level max: the slice variant v with r's network and features (the same
 * sample's), lent instead of trained again. */
static int try_slice_with_net(const struct pctl_kind_sample *ks,
			      const struct pctl_train_opts *opts, struct variant *v,
			      struct kind_result *r)
{
	pf_model_shape shape;
	pf_model *first;
	int rc;

	PF_FORWARD(pf_codec_model_load(r->image, r->image_len, &first));
	pf_codec_model_shape(first, &shape);
	v->context = shape.net_context;
	v->rank = shape.net_rank;
	v->net_from = first;
	rc = try_variant(ks, opts, v, r, NULL);
	pf_codec_model_free(first);
	return rc;
}

/* Trains the kind again with a slice of its sample stored in the model for
 * the match model (docs/model.md); small kinds skip it. */
static int try_slice(const struct pctl_kind_sample *ks,
		     const struct pctl_train_opts *opts, struct kind_result *r)
{
	uint64_t n = ks->logical / SLICE_PER_LOGICAL;
	struct variant v = { .dict_bytes = n < SLICE_MAX ? (size_t)n : SLICE_MAX };

	if (n < SLICE_MIN)
		return 0;
	if (opts->level == PF_MODEL_LEVEL_MAX)
		return try_slice_with_net(ks, opts, &v, r);
	return try_variant(ks, opts, &v, r, NULL);
}

static const char *signed_size(int64_t v, char buf[20])
{
	char h[16];

	pctl_human_size((uint64_t)(v < 0 ? -v : v), h);
	snprintf(buf, 20, "%c%s", v < 0 ? '-' : '+', h);
	return buf;
}

/* Level max, --context-features auto: trains the kind again with the
 * network's context features, keeps the model that saves more and says
 * which. */
static int try_context(const struct pctl_kind_sample *ks, const struct pctl_train_opts *opts,
		       struct kind_result *r)
{
	int64_t without = r->saving, with = 0;
	char w[20], wo[20];

	PF_FORWARD(try_variant(ks, opts, &(struct variant){ .context = true }, r, &with));
	printf("%s: context features: saving %s with them, %s without; the model %s them\n",
	       pctl_kind_name(r->kind), signed_size(with, w), signed_size(without, wo),
	       with > without ? "has" : "does not have");
	return 0;
}

/* Level max: trains the kept variant again with embedding rows half as
 * wide, where the width allows, and keeps the model that saves more. The
 * rows are most of the network's bytes; whether the wider ones predict
 * enough better to pay for them depends on the kind (at width 128: prose
 * yes, source code no; docs/neural.md). */
static int try_rank(const struct pctl_kind_sample *ks, const struct pctl_train_opts *opts,
		    struct kind_result *r)
{
	int64_t wide = r->saving, narrow = 0;
	pf_model_shape shape;
	struct variant v;
	char w[20], n[20];

	PF_FORWARD(kept_shape(r, &shape));
	v = (struct variant){ .context = shape.net_context, .rank = shape.net_rank / 2 };
	if (v.rank < PF_MODEL_NET_RANK_STEP || v.rank % PF_MODEL_NET_RANK_STEP)
		return 0;
	PF_FORWARD(try_variant(ks, opts, &v, r, &narrow));
	printf("%s: embeddings: saving %s %u wide, %s %u wide; the model keeps %u\n",
	       pctl_kind_name(r->kind), signed_size(narrow, n), v.rank, signed_size(wide, w),
	       shape.net_rank, narrow > wide ? v.rank : shape.net_rank);
	return 0;
}

/* Trains and measures one kind; a kind without enough data is skipped. */
static int run_kind(pf_store *store, const struct pctl_kind_sample *ks,
		    const struct pctl_train_opts *opts, const pf_model_info *old,
		    struct kind_result *r)
{
	int rc;

	if (r->kind == PCTL_KIND_COMPRESSED && !pctl_trains_compressed(opts)) {
		r->skipped = "compressed data";
		return 0;
	}
	if (ks->train_len + ks->eval_len < TRAIN_MIN_SAMPLE || !ks->eval_count) {
		r->skipped = "sample under 1M";
		return 0;
	}
	PF_FORWARD(train_kind(ks, opts,
			      &(struct variant){ .context = opts->context == PCTL_CONTEXT_YES }, r));
	PF_FORWARD(evaluate_kind(ks, r));
	if (opts->level == PF_MODEL_LEVEL_MAX && opts->context == PCTL_CONTEXT_AUTO)
		PF_FORWARD(try_context(ks, opts, r));
	if (opts->level == PF_MODEL_LEVEL_MAX)
		PF_FORWARD(try_rank(ks, opts, r));
	PF_FORWARD(try_slice(ks, opts, r));
	if (old)
		PF_FORWARD(contest_old(store, ks, old, r));
	if (!r->used)
		return 0;
	rc = pf_store_model_add(store, r->image, r->image_len, r->id);
	if (rc < 0)
		pctl_err("train: %s: cannot add the model to the store: %s",
			 pctl_kind_name(r->kind), strerror(-rc));
	return rc;
}

/* ---- defaults ------------------------------------------------------------ */

/* True when the old default `old` stays: no model of its kind was trained
 * (too little sample), the old one measured better, or it is a default of
 * another level than this run's. */
static bool keep_old_default(pf_store *store, const struct kind_result *res,
			     const pf_model_info *old, enum pf_model_level level)
{
	int old_level;

	for (int k = 0; k < PCTL_KIND_COUNT; k++) {
		if (strcmp(pctl_kind_name(res[k].kind), old->kind))
			continue;
		if (res[k].skipped || res[k].old_better)
			return true;
		old_level = stored_level(store, old->id);
		return old_level >= 0 && old_level != (int)level;
	}
	return true; /* a kind this version does not know: leave it */
}

/*
 * Sets the store's defaults: first the old ones that stay (*kept of them),
 * then this run's. *out (the caller frees it, also on failure) gets the
 * list, *count its length. @return 0 or a negative errno.
 */
static int update_defaults(pf_store *store, const struct kind_result *res,
			   enum pf_model_level level, pf_model_info **out,
			   size_t *count, size_t *kept)
{
	pf_model_info *v = NULL, *grown;
	size_t n_old = 0, n = 0;

	*out = NULL;
	PF_FORWARD(pf_store_models_list(store, &v, &n_old));
	/* Room for one new default per kind after the old ones. */
	grown = reallocarray(v, n_old + PCTL_KIND_COUNT, sizeof(*v));
	if (!grown) {
		free(v);
		return -ENOMEM;
	}
	v = grown;
	*out = v;
	for (size_t i = 0; i < n_old; i++)
		if (v[i].kind[0] && keep_old_default(store, res, &v[i], level))
			v[n++] = v[i];
	*kept = n;
	for (int k = 0; k < PCTL_KIND_COUNT; k++) {
		if (!res[k].used)
			continue;
		memset(&v[n], 0, sizeof(v[n]));
		memcpy(v[n].id, res[k].id, PF_MODEL_ID_SIZE);
		v[n].bytes = res[k].image_len;
		snprintf(v[n].kind, sizeof(v[n].kind), "%s",
			 pctl_kind_name(res[k].kind));
		n++;
	}
	*count = n;
	return pf_store_set_defaults(store, v, n);
}

/* ---- report -------------------------------------------------------------- */

static void print_bpb(uint64_t bytes, uint64_t plain)
{
	if (plain)
		printf(" %8.3f", 8.0 * (double)bytes / (double)plain);
	else
		printf(" %8s", "-");
}

static void print_row(const struct kind_result *r,
		      const struct pctl_kind_sample *ks)
{
	char l[16], s[16], m[16], signed_saving[20];

	printf("%-10s %7" PRIu64 " %8s %8s", pctl_kind_name(r->kind), ks->files,
	       pctl_human_size(ks->logical, l),
	       pctl_human_size(ks->train_len + ks->eval_len, s));
	if (r->skipped) {
		printf(" %8s %8s %8s %9s  no: %s\n", "-", "-", "-", "-",
		       r->skipped);
		return;
	}
	printf(" %8s", pctl_human_size(r->image_len, m));
	print_bpb(r->learned_bytes, r->eval_bytes);
	print_bpb(r->zstd_bytes, r->eval_bytes);
	printf(" %9s  %s\n", signed_size(r->saving, signed_saving),
	       r->used         ? "yes"
	       : r->old_better ? "no: old default saves more"
			       : "no: does not pay");
}

static void print_report(const struct kind_result *res,
			 const struct pctl_sample *s)
{
	printf("%-10s %7s %8s %8s %8s %8s %8s %9s  %s\n", "KIND", "FILES",
	       "LOGICAL", "SAMPLE", "MODEL", "LEARNED", "ZSTD-19", "SAVING",
	       "USED");
	for (int k = 0; k < PCTL_KIND_COUNT; k++)
		if (s->kind[k].files)
			print_row(&res[k], &s->kind[k]);
	puts("(LEARNED, ZSTD-19: bits per byte on the held-out sample, "
	     "256K blocks;\n SAVING: estimated over the kind's logical bytes, "
	     "model size counted)");
}

static void print_defaults(pf_store *store, const pf_model_info *v, size_t n,
			   size_t kept)
{
	char id[17];
	int level;

	if (!n) {
		puts("no default models: new blocks stay zstd or raw");
		return;
	}
	puts("default models:");
	for (size_t i = 0; i < n; i++) {
		pctl_id_hex(v[i].id, 16, id);
		level = stored_level(store, v[i].id);
		printf("  %-10s %s %-7s (%s)\n", v[i].kind, id,
		       level < 0 ? "?" : pf_codec_level_name((enum pf_model_level)level),
		       i < kept ? "kept" : "trained now");
	}
}

/* ---- command ------------------------------------------------------------- */

/* The current default for kind at level, or NULL. Only a default of the
 * same level competes with the new model (one that does not load never
 * wins anyway). */
static const pf_model_info *old_default(pf_store *store, const pf_model_info *v,
					size_t n, enum pctl_kind kind,
					enum pf_model_level level)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].kind, pctl_kind_name(kind)) &&
		    stored_level(store, v[i].id) == (int)level)
			return &v[i];
	return NULL;
}

static int train_all(pf_store *store, const struct pctl_sample *s,
		     const struct pctl_train_opts *opts, struct kind_result *res)
{
	pf_model_info *v = NULL;
	size_t n = 0;
	int rc = pf_store_models_list(store, &v, &n);

	if (rc < 0)
		pctl_err("train: cannot list the store's models: %s",
			 strerror(-rc));
	for (int k = 0; k < PCTL_KIND_COUNT && rc == 0; k++) {
		res[k].kind = (enum pctl_kind)k;
		res[k].min_saving = opts->min_saving;
		if (!s->kind[k].files)
			res[k].skipped = "no files";
		else
			rc = run_kind(store, &s->kind[k], opts,
				      old_default(store, v, n, res[k].kind,
						  opts->level),
				      &res[k]);
	}
	free(v);
	return rc;
}

int pctl_train_run(pf_store *store, const char *store_path,
		   const struct pctl_train_opts *opts)
{
	struct kind_result res[PCTL_KIND_COUNT] = { 0 };
	struct pctl_sample s;
	pf_model_info *defaults = NULL;
	size_t n_defaults = 0, kept = 0;
	int rc, status = PCTL_EXIT_FAULT;

	rc = pctl_sample_collect(store, opts->from, opts->sample_cap,
				 pctl_trains_compressed(opts), &s);
	if (rc < 0)
		goto out_free;
	if (train_all(store, &s, opts, res) < 0)
		goto out_free;
	rc = update_defaults(store, res, opts->level, &defaults, &n_defaults,
			     &kept);
	if (rc < 0) {
		pctl_err("train: %s: cannot set the default models: %s",
			 store_path, strerror(-rc));
		goto out_free;
	}
	print_report(res, &s);
	print_defaults(store, defaults, n_defaults, kept);
	status = s.errors ? PCTL_EXIT_FAULT : PCTL_EXIT_OK;
out_free:
	free(defaults);
	for (int k = 0; k < PCTL_KIND_COUNT; k++)
		free(res[k].image);
	pctl_sample_free(&s);
	return status;
}

int pctl_train_opts_check(const char *cmd, const struct pctl_train_opts *opts)
{
	if (opts->net_width && opts->level != PF_MODEL_LEVEL_MAX) {
		pctl_err("%s: --net-width sizes the network of --level max; "
			 "level %s has none", cmd, pf_codec_level_name(opts->level));
		return -EINVAL;
	}
	if (opts->context != PCTL_CONTEXT_AUTO && opts->level != PF_MODEL_LEVEL_MAX) {
		pctl_err("%s: --context-features is for the network of --level max; "
			 "level %s has none", cmd, pf_codec_level_name(opts->level));
		return -EINVAL;
	}
	return 0;
}

#define TRAIN_RUN (-1) /* train_parse(): options fine, go on */

static int train_parse(int argc, char **argv, struct pctl_train_opts *o)
{
	static const struct option longopts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "level", required_argument, NULL, 'l' },
		{ "sample", required_argument, NULL, 's' },
		{ "table-bits", required_argument, NULL, 't' },
		{ "net-width", required_argument, NULL, 'w' },
		{ "context-features", required_argument, NULL, 'C' },
		{ "min-saving", required_argument, NULL, 'M' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t cap;
	int opt;

	while ((opt = pctl_getopt("train", argc, argv, ":f:l:s:t:w:vh",
				  longopts)) != -1) {
		switch (opt) {
		case 'f':
			o->from = optarg;
			break;
		case 'l':
			if (pctl_parse_level("train", optarg, &o->level) < 0)
				return pctl_usage(train_usage, false);
			break;
		case 's':
			if (pctl_parse_size_opt("train", "--sample", optarg,
						TRAIN_MIN_SAMPLE, 1ull << 30,
						&cap) < 0)
				return pctl_usage(train_usage, false);
			o->sample_cap = (size_t)cap;
			break;
		case 't':
			if (pctl_parse_table_bits("train", optarg,
						  &o->table_bits) < 0)
				return pctl_usage(train_usage, false);
			break;
		case 'w':
			if (pctl_parse_net_width("train", optarg,
						 &o->net_width) < 0)
				return pctl_usage(train_usage, false);
			break;
		case 'C':
			if (pctl_parse_context("train", optarg, &o->context) < 0)
				return pctl_usage(train_usage, false);
			break;
		case 'M':
			if (pctl_parse_min_saving("train", optarg, &o->min_saving) < 0)
				return pctl_usage(train_usage, false);
			break;
		case 'v':
			pctl_set_verbose();
			break;
		default:
			return pctl_usage(train_usage, opt == 'h');
		}
	}
	if (pctl_train_opts_check("train", o) < 0)
		return pctl_usage(train_usage, false);
	if (argc - optind != 1) {
		pctl_err("train: expected one store, got %d arguments",
			 argc - optind);
		return pctl_usage(train_usage, false);
	}
	return TRAIN_RUN;
}

int pctl_cmd_train(int argc, char **argv)
{
	struct pctl_train_opts o = { .level = PF_MODEL_LEVEL_DEFAULT,
				     .sample_cap = PCTL_SAMPLE_CAP_DEFAULT,
				     .min_saving = PF_MIN_SAVING_DEFAULT };
	pf_store_opts sopts;
	pf_store *store;
	int rc;

	rc = train_parse(argc, argv, &o);
	if (rc != TRAIN_RUN)
		return rc;
	pf_store_opts_default(&sopts);
	if (pctl_store_open_writer("train", argv[optind], &sopts, &store) < 0)
		return PCTL_EXIT_USAGE;
	rc = pctl_train_run(store, argv[optind], &o);
	pf_store_close(store);
	return rc;
}
