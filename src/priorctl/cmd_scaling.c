/* SPDX-License-Identifier: MIT */
/*
 * cmd_scaling.c - "priorctl scaling [--kind K] [--table-bits LIST]
 * [--samples LIST] [--time S] [--svg FILE] [--json] STORE|DIR": trains
 * models over a grid of model and sample sizes, measures each on one
 * held-out slice, fits a scaling law and recommends the model and sample
 * size that minimise the stored bytes of the kind (data + model).
 *
 * Design notes:
 * - The source is a store (its files read through their containers) when
 *   PATH holds a .priorfs directory, else a plain directory. Nothing is
 *   written to a store: it is opened read-only and may be mounted.
 * - One sample is drawn (ctl_sample.c) big enough for the largest grid
 *   sample and a held-out slice of at least EVAL_MIN where the data allows.
 *   The training samples are nested prefixes of its training part; the
 *   held-out slice (at most EVAL_MAX of its held-out pieces) is the same
 *   for every grid point and disjoint from all of them.
 * - Model size N is the number of slots of a context table, 2^table-bits:
 *   proportional to the model's parameter count at a given level, and the
 *   knob train takes. The model's stored image bytes (which also grow with
 *   the sample: unused slots are pruned) count in the stored size.
 * - Stored size of a point = image bytes + the kind's logical bytes x
 *   bits/byte / 8: what train would estimate for the whole kind.
 * - Time: points run in order of sample, then model size; before each one
 *   its cost is predicted from the seconds per byte measured so far (for
 *   its model size, else the slowest), and a point that would end past
 *   --time is skipped, so the largest points go first.
 */
#include "priorctl/priorctl.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/pf_common.h"

#define GRID_MAX 16                    /* entries per list */
#define SAMPLE_MIN (64u << 10)
#define EVAL_MIN (1u << 20)            /* held-out slice wanted */
#define EVAL_MAX (4u << 20)            /* held-out slice used at most */
#define TIME_DEFAULT 300
#define BEST_MARK '*'

static const char scaling_usage[] =
	"usage: priorctl scaling [--kind KIND] [--table-bits LIST] "
	"[--samples LIST]\n"
	"                        [--level fast|default|max] [--time SECONDS]\n"
	"                        [--svg FILE] [--json] STORE|DIR\n"
	"\n"
	"Trains models of one data kind over a grid of model sizes (table\n"
	"bits) and training-sample sizes, measures bits/byte on one held-out\n"
	"slice, fits L(N, D) = E + A/N^a + B/D^b (N table slots, D sample\n"
	"bytes) and recommends the pair that minimises the kind's stored\n"
	"bytes (data + model). STORE is read-only; DIR is a plain directory.\n"
	"\n"
	"  -k, --kind KIND        data kind (default: the one with most bytes)\n"
	"  -t, --table-bits LIST  model sizes, 10..20 (default 12,14,16,18,20)\n"
	"  -s, --samples LIST     training-sample sizes (default 1M,4M,16M)\n"
	"  -l, --level LEVEL      fast, default or max (default: default)\n"
	"  -T, --time SECONDS     time budget; points that would not fit are\n"
	"                         skipped (default 300)\n"
	"  -o, --svg FILE         write the chart as SVG (and PNG beside it\n"
	"                         when rsvg-convert or convert is installed)\n"
	"  -j, --json             print JSON instead of tables\n"
	"  -v, --verbose          also show the store layer's log lines\n"
	"  -h, --help             show this help\n";

struct scaling_opts {
	const char *path;
	int kind; /* -1: the kind with most logical bytes */
	unsigned bits[GRID_MAX];
	size_t n_bits;
	uint64_t samples[GRID_MAX];
	size_t n_samples;
	enum pf_model_level level;
	unsigned seconds;
	const char *svg;
	bool json;
};

struct grid_point {
	unsigned bits;
	uint64_t sample;
	const char *skipped; /* why it was not measured, or NULL */
	size_t model_bytes;
	uint64_t coded;      /* bytes of the held-out slice */
	double bpb, stored, train_s, eval_s;
};

struct scaling {
	const struct scaling_opts *o;
	enum pctl_kind kind;
	const struct pctl_kind_sample *ks;
	struct pctl_kind_sample eval; /* ks limited to EVAL_MAX of pieces */
	uint64_t zstd_coded;
	struct grid_point pts[GRID_MAX * GRID_MAX];
	size_t n_pts, best; /* best: n_pts when none was measured */
	struct pctl_fit fit;
	struct timespec start;
	struct pctl_progress bar;
	char label[64];
	uint64_t bar_base, cur_sample;
};

/* ---- options ------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorts v[0..*n) and drops repeats. */
static void sort_unique(uint64_t *v, size_t *n)
{
	size_t k = 0;

	qsort(v, *n, sizeof(*v), cmp_u64);
	for (size_t i = 0; i < *n; i++)
		if (!k || v[k - 1] != v[i])
			v[k++] = v[i];
	*n = k;
}

/* Parses "A,B,C" with parse() for each item into v (sorted, unique). */
static int parse_list(const char *opt, const char *arg, bool table_bits,
		      uint64_t *v, size_t *n)
{
	char *copy = strdup(arg), *save = NULL, *item;
	int rc = copy ? 0 : -ENOMEM;

	*n = 0;
	for (item = copy ? strtok_r(copy, ",", &save) : NULL; item && rc == 0;
	     item = strtok_r(NULL, ",", &save)) {
		unsigned bits;

		if (*n == GRID_MAX) {
			pctl_err("scaling: %s takes at most %d values", opt,
				 GRID_MAX);
			rc = -EINVAL;
		} else if (table_bits) {
			rc = pctl_parse_table_bits("scaling", item, &bits);
			v[(*n)++] = bits;
		} else {
			rc = pctl_parse_size_opt("scaling", opt, item, SAMPLE_MIN,
						 1ull << 30, &v[(*n)++]);
		}
	}
	if (rc == 0 && !*n) {
		pctl_err("scaling: %s wants a comma-separated list", opt);
		rc = -EINVAL;
	}
	free(copy);
	if (rc == 0)
		sort_unique(v, n);
	return rc;
}

static int parse_kind(const char *arg, int *kind)
{
	for (int k = 0; k < PCTL_KIND_COUNT; k++)
		if (k != PCTL_KIND_COMPRESSED &&
		    !strcmp(arg, pctl_kind_name((enum pctl_kind)k))) {
			*kind = k;
			return 0;
		}
	pctl_err("scaling: --kind wants text, code, structured, tabular, bio, "
		 "array or binary, not '%s'", arg);
	return -EINVAL;
}

static int parse_seconds(const char *arg, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || v < 1 || v > 86400 || *arg == '-') {
		pctl_err("scaling: --time wants seconds from 1 to 86400, not "
			 "'%s'", arg);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

/* Handles one option. @return 0, or -EINVAL (message printed). */
static int scaling_opt(int opt, struct scaling_opts *o)
{
	uint64_t bits[GRID_MAX];

	switch (opt) {
	case 'k':
		return parse_kind(optarg, &o->kind);
	case 't':
		PF_FORWARD(parse_list("--table-bits", optarg, true, bits,
				      &o->n_bits));
		for (size_t i = 0; i < o->n_bits; i++)
			o->bits[i] = (unsigned)bits[i];
		return 0;
	case 's':
		return parse_list("--samples", optarg, false, o->samples,
				  &o->n_samples);
	case 'l':
		return pctl_parse_level("scaling", optarg, &o->level);
	case 'T':
		return parse_seconds(optarg, &o->seconds);
	case 'o':
		o->svg = optarg;
		return 0;
	case 'j':
		o->json = true;
		return 0;
	case 'v':
		pctl_set_verbose();
		return 0;
	}
	return -EINVAL;
}

#define SCALING_RUN (-1) /* scaling_parse(): options fine, go on */

static int scaling_parse(int argc, char **argv, struct scaling_opts *o)
{
	static const struct option longopts[] = {
		{ "kind", required_argument, NULL, 'k' },
		{ "table-bits", required_argument, NULL, 't' },
		{ "samples", required_argument, NULL, 's' },
		{ "level", required_argument, NULL, 'l' },
		{ "time", required_argument, NULL, 'T' },
		{ "svg", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = pctl_getopt("scaling", argc, argv, ":k:t:s:l:T:o:jvh",
				  longopts)) != -1) {
		if (opt == 'h' || opt == '?')
			return pctl_usage(scaling_usage, opt == 'h');
		if (scaling_opt(opt, o) < 0)
			return pctl_usage(scaling_usage, false);
	}
	if (argc - optind != 1) {
		pctl_err("scaling: expected one store or directory, got %d "
			 "arguments", argc - optind);
		return pctl_usage(scaling_usage, false);
	}
	o->path = argv[optind];
	return SCALING_RUN;
}

/* ---- the grid ------------------------------------------------------------ */

static double seconds_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) +
	       (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void point_progress(void *arg, uint64_t done, uint64_t total)
{
	struct scaling *sc = arg;
	uint64_t part = total ? (uint64_t)((double)done / (double)total *
					   (double)sc->cur_sample)
			      : 0;

	pctl_progress_set(&sc->bar, sc->bar_base + part);
}

/* Predicted seconds of pt from the points measured so far: the seconds per
 * training byte and the evaluation time of the last point of its model
 * size (the largest sample: the most telling), else of the slowest size;
 * 0 before any. */
static double predict_seconds(const struct scaling *sc,
			      const struct grid_point *pt)
{
	double train = 0, eval = 0, own_train = -1, own_eval = 0;

	for (size_t i = 0; i < sc->n_pts; i++) {
		const struct grid_point *q = &sc->pts[i];

		if (q->skipped || !q->coded)
			continue;
		if (q->bits == pt->bits) {
			own_train = q->train_s / (double)q->sample;
			own_eval = q->eval_s;
		}
		train = fmax(train, q->train_s / (double)q->sample);
		eval = fmax(eval, q->eval_s);
	}
	if (own_train >= 0)
		return own_train * (double)pt->sample + own_eval;
	return train * (double)pt->sample + eval;
}

/* Trains the model of pt and codes the held-out slice with it. */
static int measure_point(struct scaling *sc, struct grid_point *pt)
{
	pf_model_train_opts o = { .level = sc->o->level, .table_bits = pt->bits,
				  .progress = point_progress,
				  .progress_arg = sc };
	pf_codec_params p = { .choice = PF_CHOICE_LEARNED,
			      .zstd_level = PCTL_EVAL_ZSTD_LEVEL,
			      .min_saving = PF_MIN_SAVING_DEFAULT };
	struct timespec t0;
	pf_model *model = NULL;
	void *image = NULL;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	sc->cur_sample = pt->sample;
	rc = pf_codec_model_train(sc->ks->train, pt->sample, &o, &image,
				  &pt->model_bytes);
	pt->train_s = seconds_since(&t0);
	sc->bar_base += pt->sample;
	pctl_progress_set(&sc->bar, sc->bar_base);
	if (rc == 0)
		rc = pf_codec_model_load(image, pt->model_bytes, &model);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	p.model = model;
	if (rc == 0)
		rc = pctl_eval_pieces(&sc->eval, &p, 1, &pt->coded, &sc->bar);
	pt->eval_s = seconds_since(&t0);
	pf_codec_model_free(model);
	free(image);
	if (rc < 0)
		pctl_err("scaling: 2^%u slots, %" PRIu64 " bytes: %s", pt->bits,
			 pt->sample, strerror(-rc));
	return rc;
}

/* Lays out the grid; samples larger than the training part are dropped
 * (a note says so). @return the bytes the progress bar will count. */
static uint64_t plan_grid(struct scaling *sc)
{
	const struct scaling_opts *o = sc->o;
	uint64_t total = 0;
	char a[16], b[16];

	for (size_t s = 0; s < o->n_samples; s++) {
		if (o->samples[s] > sc->ks->train_len) {
			pctl_err("scaling: sample %s dropped: only %s of %s to "
				 "train on", pctl_human_size(o->samples[s], a),
				 pctl_human_size(sc->ks->train_len, b),
				 pctl_kind_name(sc->kind));
			continue;
		}
		for (size_t i = 0; i < o->n_bits; i++) {
			struct grid_point *pt = &sc->pts[sc->n_pts++];

			memset(pt, 0, sizeof(*pt));
			pt->bits = o->bits[i];
			pt->sample = o->samples[s];
			total += pt->sample + sc->eval.eval_len;
		}
	}
	return total;
}

static int run_grid(struct scaling *sc)
{
	const double budget = sc->o->seconds;
	size_t measured = 0;
	char s[16];
	int rc = 0;

	pctl_progress_start(&sc->bar, sc->label, plan_grid(sc));
	if (!sc->n_pts) {
		pctl_progress_end(&sc->bar);
		pctl_err("scaling: no grid point: every --samples size is over "
			 "the %s of %s to train on", pctl_human_size(sc->ks->train_len, s),
			 pctl_kind_name(sc->kind));
		return -ENODATA;
	}
	for (size_t i = 0; i < sc->n_pts && rc == 0; i++) {
		struct grid_point *pt = &sc->pts[i];

		if (seconds_since(&sc->start) + predict_seconds(sc, pt) > budget) {
			pt->skipped = "over --time";
			sc->bar.total -= pt->sample + sc->eval.eval_len;
			continue;
		}
		snprintf(sc->label, sizeof(sc->label), "scaling 2^%u x %s",
			 pt->bits, pctl_human_size(pt->sample, s));
		rc = measure_point(sc, pt);
		measured++;
	}
	pctl_progress_end(&sc->bar);
	if (rc == 0 && !measured) {
		pctl_err("scaling: no grid point fits in --time %u",
			 sc->o->seconds);
		rc = -ETIME;
	}
	return rc;
}

/* bpb and stored bytes of every point, the best point and the fit. */
static int analyse(struct scaling *sc)
{
	struct pctl_fit_point fp[GRID_MAX * GRID_MAX];
	const double eval = (double)sc->eval.eval_len;
	size_t n = 0;

	sc->best = sc->n_pts;
	for (size_t i = 0; i < sc->n_pts; i++) {
		struct grid_point *pt = &sc->pts[i];

		if (pt->skipped)
			continue;
		pt->bpb = 8.0 * (double)pt->coded / eval;
		pt->stored = (double)pt->model_bytes +
			     (double)sc->ks->logical * (double)pt->coded / eval;
		if (sc->best == sc->n_pts || pt->stored < sc->pts[sc->best].stored)
			sc->best = i;
		fp[n++] = (struct pctl_fit_point){ ldexp(1, (int)pt->bits),
						   (double)pt->sample, pt->bpb };
	}
	return pctl_fit_power_law(fp, n, &sc->fit);
}

/* ---- report -------------------------------------------------------------- */

/* Bytes as MiB with two decimals ("10.93M"): stored sizes of the grid
 * points differ by less than pctl_human_size() shows. */
static const char *mib(double bytes, char buf[16])
{
	snprintf(buf, 16, "%.2fM", bytes / (1 << 20));
	return buf;
}

/* train --sample giving a training part of at least `sample` bytes: about
 * a tenth is held out, and train takes 1M at least. In whole MiB. */
static uint64_t train_sample_opt(uint64_t sample)
{
	uint64_t want = sample + sample / 9 + PCTL_SAMPLE_PIECE;
	uint64_t mib = (want + (1u << 20) - 1) >> 20;

	return mib < 1 ? 1 : mib;
}

static void print_table(const struct scaling *sc)
{
	char a[16], b[16], c[16];

	printf("%10s %8s %8s %9s %8s %7s\n", "TABLE-BITS", "SAMPLE", "MODEL",
	       "BITS/BYTE", "STORED", "TIME");
	for (size_t i = 0; i < sc->n_pts; i++) {
		const struct grid_point *pt = &sc->pts[i];

		printf("%10u %8s", pt->bits, pctl_human_size(pt->sample, a));
		if (pt->skipped) {
			printf(" %8s %9s %8s %7s  skipped: %s\n", "-", "-", "-",
			       "-", pt->skipped);
			continue;
		}
		printf(" %8s %9.3f %8s %6.1fs%s\n",
		       pctl_human_size(pt->model_bytes, b), pt->bpb,
		       mib(pt->stored, c),
		       pt->train_s + pt->eval_s, i == sc->best ? "  *" : "");
	}
	printf("(STORED: predicted for the kind's %s: model + logical bytes x "
	       "bits/byte / 8;\n %c: the smallest)\n",
	       pctl_human_size(sc->ks->logical, a), BEST_MARK);
}

static void print_fit(const struct pctl_fit *f)
{
	puts("\nfit: bits/byte = E + A/N^a + B/D^b  (N: table slots, D: sample "
	     "bytes)");
	if (f->r2 != 0 || !f->poor)
		printf("  E = %.4g  A = %.4g  a = %.3f  B = %.4g  b = %.3f\n"
		       "  R^2 = %.4f, RMSE = %.4f bits/byte over %zu points\n",
		       f->e, f->a, f->alpha, f->b, f->beta, f->r2, f->rmse,
		       f->points);
	if (f->poor)
		printf("  fit is poor: %s; rely on the table\n", f->why);
	else
		printf("  E = %.3f bits/byte: the floor the fit predicts for "
		       "unbounded model and sample\n", f->e);
}

/* Notes when the best point is on the edge of the grid. */
static void print_edges(const struct scaling *sc, const struct grid_point *b)
{
	const struct scaling_opts *o = sc->o;
	uint64_t top = 0;
	char s[16];

	for (size_t i = 0; i < sc->n_pts; i++)
		if (!sc->pts[i].skipped && sc->pts[i].sample > top)
			top = sc->pts[i].sample;
	if (b->sample == top && !sc->fit.poor)
		printf("  the largest sample measured is best; the fit predicts "
		       "%.3f bits/byte with %s\n",
		       pctl_fit_predict(&sc->fit, ldexp(1, (int)b->bits),
					2.0 * (double)top),
		       pctl_human_size(2 * top, s));
	else if (b->sample == top)
		puts("  the largest sample measured is best: a larger one may "
		     "do better");
	if (b->bits == o->bits[o->n_bits - 1] && b->bits < PCTL_TABLE_BITS_MAX)
		puts("  the largest model size measured is best: try larger "
		     "--table-bits");
}

static void print_recommendation(const struct scaling *sc)
{
	const struct grid_point *b = &sc->pts[sc->best];
	const double zstd = (double)sc->ks->logical * (double)sc->zstd_coded /
			    (double)sc->eval.eval_len;
	char s[16], st[16], d[16], m[16], z[16];

	printf("\nrecommendation: --table-bits %u with a %s training sample\n"
	       "  (priorctl train --table-bits %u --sample %" PRIu64 "M): "
	       "predicted stored %s\n  (data %s + model %s); zstd -19: %s; "
	       "train's own choice: --table-bits %u\n",
	       b->bits, pctl_human_size(b->sample, s), b->bits,
	       train_sample_opt(b->sample), mib(b->stored, st),
	       mib(b->stored - (double)b->model_bytes, d),
	       mib((double)b->model_bytes, m), mib(zstd, z),
	       pf_model_table_bits_for(sc->ks->logical));
	print_edges(sc, b);
}

static void print_text(const struct scaling *sc)
{
	char l[16], e[16];

	printf("scaling: %s in %s: %" PRIu64 " files, %s logical\n",
	       pctl_kind_name(sc->kind), sc->o->path, sc->ks->files,
	       pctl_human_size(sc->ks->logical, l));
	printf("held-out slice: %s in %zu pieces, never trained on; zstd -19: "
	       "%.3f bits/byte\n",
	       pctl_human_size(sc->eval.eval_len, e), sc->eval.eval_count,
	       8.0 * (double)sc->zstd_coded / (double)sc->eval.eval_len);
	puts("N = table slots (2^table-bits), D = training-sample bytes (nested "
	     "prefixes of one sample)\n");
	print_table(sc);
	print_fit(&sc->fit);
	print_recommendation(sc);
}

static void json_point(const struct grid_point *pt, bool last)
{
	printf("    {\"table_bits\": %u, \"sample\": %" PRIu64, pt->bits,
	       pt->sample);
	if (pt->skipped)
		printf(", \"skipped\": \"%s\"}", pt->skipped);
	else
		printf(", \"model_bytes\": %zu, \"bpb\": %.5f, \"stored\": %.0f, "
		       "\"seconds\": %.2f}",
		       pt->model_bytes, pt->bpb, pt->stored,
		       pt->train_s + pt->eval_s);
	puts(last ? "" : ",");
}

static void print_json(const struct scaling *sc)
{
	const struct pctl_fit *f = &sc->fit;
	const struct grid_point *b = &sc->pts[sc->best];

	printf("{\n  \"kind\": \"%s\",\n  \"files\": %" PRIu64
	       ",\n  \"logical\": %" PRIu64 ",\n  \"eval_bytes\": %zu,\n"
	       "  \"zstd_bpb\": %.5f,\n  \"n\": \"table_slots\",\n"
	       "  \"d\": \"sample_bytes\",\n  \"points\": [\n",
	       pctl_kind_name(sc->kind), sc->ks->files, sc->ks->logical,
	       sc->eval.eval_len,
	       8.0 * (double)sc->zstd_coded / (double)sc->eval.eval_len);
	for (size_t i = 0; i < sc->n_pts; i++)
		json_point(&sc->pts[i], i + 1 == sc->n_pts);
	printf("  ],\n  \"fit\": {\"E\": %.6g, \"A\": %.6g, \"a\": %.4f, "
	       "\"B\": %.6g, \"b\": %.4f, \"r2\": %.5f, \"rmse\": %.5f, "
	       "\"points\": %zu, \"poor\": %s",
	       f->e, f->a, f->alpha, f->b, f->beta, f->r2, f->rmse, f->points,
	       f->poor ? "true" : "false");
	if (f->poor)
		printf(", \"why\": \"%s\"", f->why);
	printf("},\n  \"recommendation\": {\"table_bits\": %u, \"sample\": %" PRIu64
	       ", \"train_sample_mib\": %" PRIu64 ", \"model_bytes\": %zu, "
	       "\"stored\": %.0f}\n}\n",
	       b->bits, b->sample, train_sample_opt(b->sample), b->model_bytes,
	       b->stored);
}

/* ---- chart --------------------------------------------------------------- */

/* x and y of the measured points, one series per sample size. */
struct chart_data {
	struct pctl_chart_series series[GRID_MAX];
	double x[GRID_MAX * GRID_MAX], y[GRID_MAX * GRID_MAX];
};

static void chart_fill(const struct scaling *sc, struct chart_data *cd,
		       struct pctl_chart *c)
{
	struct pctl_chart_series *se = NULL;
	uint64_t cur = 0;
	size_t n = 0;
	char s[16];

	memset(cd, 0, sizeof(*cd));
	for (size_t i = 0; i < sc->n_pts; i++) {
		const struct grid_point *pt = &sc->pts[i];

		if (pt->skipped)
			continue;
		if (pt->sample != cur) { /* points come sample by sample */
			se = &cd->series[c->n_series++];
			se->x = &cd->x[n];
			se->y = &cd->y[n];
			snprintf(se->label, sizeof(se->label), "sample %s",
				 pctl_human_size(pt->sample, s));
			cur = pt->sample;
		}
		cd->x[n] = ldexp(1, (int)pt->bits);
		cd->y[n++] = pt->bpb;
		se->n++;
	}
	c->series = cd->series;
}

/* "x.svg" -> "x.png", else "x" -> "x.png"; NULL when out of memory. */
static char *png_path(const char *svg)
{
	size_t len = strlen(svg);
	char *png = malloc(len + 5);

	if (!png)
		return NULL;
	if (len > 4 && !strcmp(svg + len - 4, ".svg"))
		len -= 4;
	memcpy(png, svg, len);
	memcpy(png + len, ".png", 5);
	return png;
}

/* Says what was written, on stdout, or on stderr when stdout is JSON. */
static void chart_note(const struct scaling *sc, const char *png,
		       const char *tool, int rc)
{
	FILE *out = sc->o->json ? stderr : stdout;

	fprintf(out, "%schart: %s", sc->o->json ? PCTL_PROG ": scaling: " : "\n",
		sc->o->svg);
	if (rc == 0)
		fprintf(out, ", %s (%s)\n", png, tool);
	else if (rc == -ENOENT)
		fputs(" (PNG skipped: neither rsvg-convert nor convert is "
		      "installed)\n", out);
	else
		fprintf(out, " (PNG skipped: %s failed)\n", tool);
}

static int write_chart(const struct scaling *sc)
{
	struct chart_data *cd = malloc(sizeof(*cd));
	struct pctl_chart c = { .x_label = "model size: table slots (log scale)",
				.y_label = "bits/byte on the held-out slice",
				.has_mark = true, .has_ref = true };
	const struct grid_point *b = &sc->pts[sc->best];
	const char *tool = NULL;
	char title[96], s[16], *png;
	int rc;

	if (!cd)
		return -ENOMEM;
	chart_fill(sc, cd, &c);
	snprintf(title, sizeof(title), "priorctl scaling: %s, %s logical",
		 pctl_kind_name(sc->kind), pctl_human_size(sc->ks->logical, s));
	c.title = title;
	c.mark_x = ldexp(1, (int)b->bits);
	c.mark_y = b->bpb;
	snprintf(c.mark_label, sizeof(c.mark_label), "least stored: 2^%u, %s",
		 b->bits, pctl_human_size(b->sample, s));
	c.ref_y = 8.0 * (double)sc->zstd_coded / (double)sc->eval.eval_len;
	snprintf(c.ref_label, sizeof(c.ref_label), "zstd -19");
	rc = pctl_chart_write_svg("scaling", sc->o->svg, &c);
	free(cd);
	if (rc < 0)
		return rc;
	png = png_path(sc->o->svg);
	if (!png)
		return -ENOMEM;
	rc = pctl_chart_svg_to_png(sc->o->svg, png, &tool);
	chart_note(sc, png, tool, rc);
	free(png);
	return 0;
}

/* ---- command ------------------------------------------------------------- */

/* The kind asked for, else the one with most logical bytes that has both
 * training and held-out pieces. @return 0 or -ENODATA (message printed). */
static int pick_kind(struct scaling *sc, const struct pctl_sample *s)
{
	int kind = sc->o->kind;

	for (int k = 0; kind < 0 && k < PCTL_KIND_COUNT; k++)
		if (k != PCTL_KIND_COMPRESSED && s->kind[k].eval_count &&
		    s->kind[k].train_len &&
		    (kind < 0 || s->kind[k].logical > s->kind[kind].logical))
			kind = k;
	if (kind < 0 || !s->kind[kind].eval_count || !s->kind[kind].train_len) {
		pctl_err("scaling: %s: too little %s data to train and hold "
			 "out (needs 2 pieces of 256K)",
			 sc->o->path, kind < 0 ? "trainable"
					       : pctl_kind_name((enum pctl_kind)kind));
		return -ENODATA;
	}
	sc->kind = (enum pctl_kind)kind;
	sc->ks = &s->kind[kind];
	sc->eval = *sc->ks;
	sc->eval.eval_len = 0;
	sc->eval.eval_count = 0;
	while (sc->eval.eval_count < sc->ks->eval_count &&
	       sc->eval.eval_len < EVAL_MAX)
		sc->eval.eval_len += sc->ks->eval_lens[sc->eval.eval_count++];
	return 0;
}

/* Sample cap: the largest grid sample plus its held-out tenth, and at
 * least ten times EVAL_MIN so that the held-out slice is not tiny. */
static size_t sample_cap(const struct scaling_opts *o)
{
	uint64_t top = o->samples[o->n_samples - 1];
	uint64_t cap = top + top / 9 + 2 * PCTL_SAMPLE_PIECE;

	return (size_t)(cap > 10ull * EVAL_MIN ? cap : 10ull * EVAL_MIN);
}

static int zstd_baseline(struct scaling *sc)
{
	const pf_codec_params p = { .choice = PF_CHOICE_ZSTD,
				    .zstd_level = PCTL_EVAL_ZSTD_LEVEL };
	int rc = pctl_eval_pieces(&sc->eval, &p, 1, &sc->zstd_coded, NULL);

	if (rc < 0)
		pctl_err("scaling: zstd -19 on the held-out slice: %s",
			 strerror(-rc));
	return rc;
}

/* Samples, runs the grid and reports. @return an exit status. */
static int scaling_run(pf_store *store, const struct scaling_opts *o)
{
	struct scaling *sc = calloc(1, sizeof(*sc));
	struct pctl_sample s;
	int status = PCTL_EXIT_FAULT;

	if (!sc) {
		pctl_err("scaling: %s", strerror(ENOMEM));
		return status;
	}
	sc->o = o;
	clock_gettime(CLOCK_MONOTONIC, &sc->start);
	if (pctl_sample_collect(store, store ? NULL : o->path, sample_cap(o), false,
				&s) < 0)
		goto out_sample;
	if (pick_kind(sc, &s) < 0 || zstd_baseline(sc) < 0 ||
	    run_grid(sc) < 0 || analyse(sc) < 0)
		goto out_sample;
	if (o->json)
		print_json(sc);
	else
		print_text(sc);
	if (o->svg && write_chart(sc) < 0)
		goto out_sample;
	status = s.errors ? PCTL_EXIT_FAULT : PCTL_EXIT_OK;
out_sample:
	pctl_sample_free(&s);
	free(sc);
	return status;
}

/* True when path holds a store's metadata directory. */
static bool is_store(const char *path)
{
	char meta[4096];
	struct stat st;

	snprintf(meta, sizeof(meta), "%s/%s", path, PF_META_NAME);
	return stat(meta, &st) == 0 && S_ISDIR(st.st_mode);
}

int pctl_cmd_scaling(int argc, char **argv)
{
	static const uint64_t samples[] = { 1u << 20, 4u << 20, 16u << 20 };
	struct scaling_opts o = { .kind = -1, .bits = { 12, 14, 16, 18, 20 },
				  .n_bits = 5, .n_samples = 3,
				  .level = PF_MODEL_LEVEL_DEFAULT,
				  .seconds = TIME_DEFAULT };
	pf_store *store = NULL;
	struct stat st;
	int rc;

	memcpy(o.samples, samples, sizeof(samples));
	rc = scaling_parse(argc, argv, &o);
	if (rc != SCALING_RUN)
		return rc;
	if (is_store(o.path)) {
		if (pctl_store_open("scaling", o.path, &store) < 0)
			return PCTL_EXIT_USAGE;
	} else if (stat(o.path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		pctl_err("scaling: %s: not a store or directory", o.path);
		return PCTL_EXIT_USAGE;
	}
	rc = scaling_run(store, &o);
	pf_store_close(store);
	return rc;
}
