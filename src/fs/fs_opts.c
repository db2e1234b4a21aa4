/* SPDX-License-Identifier: MIT */
/*
 * fs_opts.c - priorfs's own -o mount options: parsing, validation, help.
 *
 * A fuse_opt table names every option; fuse_opt hands each one to opt_proc,
 * which validates the value at once so that the error can name the option
 * as the user wrote it. Standard FUSE options pass through untouched; `ro`
 * and `rw` are also noted here (and kept) because a read-only mount must
 * open the store read-only.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/pf_common.h"
#include "fs/fs.h"

#define PF_CACHE_SIZE_MIN (1ull << 20)
#define PF_READAHEAD_MAX (1ull << 30)
#define PF_THREADS_MIN 1
#define PF_THREADS_MAX 64
#define PF_THREADS_DEFAULT 2
#define PF_DIRTY_LIMIT_MIN (1ull << 20)
#define PF_DIRTY_LIMIT_MAX (4ull << 30)
#define PF_ATTR_TIMEOUT_DEFAULT 1.0
#define PF_RECOMPRESS_AFTER_DEFAULT 600.0
#define PF_RECOMPRESS_RATE_DEFAULT (4ull << 20)
#define PF_TRAIN_AFTER_DEFAULT (32ull << 20)
#define PF_TRAIN_AFTER_MIN (1ull << 20)

enum opt_key {
	KEY_RO,
	KEY_RW,
	KEY_SYNC,
	KEY_BLOCK_SIZE,
	KEY_CODEC,
	KEY_WRITE_CODEC,
	KEY_ZSTD_LEVEL,
	KEY_MIN_SAVING,
	KEY_LEVEL,
	KEY_CACHE_SIZE,
	KEY_READAHEAD,
	KEY_THREADS,
	KEY_DIRTY_LIMIT,
	KEY_VERIFY,
	KEY_SYNC_VALUE,
	KEY_ATTR_TIMEOUT,
	KEY_RECOMPRESS,
	KEY_RECOMPRESS_AFTER,
	KEY_RECOMPRESS_RATE,
	KEY_TRAIN,
	KEY_TRAIN_AFTER,
};

static const struct fuse_opt pf_opt_table[] = {
	FUSE_OPT_KEY("ro", KEY_RO),
	FUSE_OPT_KEY("rw", KEY_RW),
	FUSE_OPT_KEY("sync", KEY_SYNC),
	FUSE_OPT_KEY("block_size=", KEY_BLOCK_SIZE),
	FUSE_OPT_KEY("codec=", KEY_CODEC),
	FUSE_OPT_KEY("write_codec=", KEY_WRITE_CODEC),
	FUSE_OPT_KEY("zstd_level=", KEY_ZSTD_LEVEL),
	FUSE_OPT_KEY("min_saving=", KEY_MIN_SAVING),
	FUSE_OPT_KEY("level=", KEY_LEVEL),
	FUSE_OPT_KEY("cache_size=", KEY_CACHE_SIZE),
	FUSE_OPT_KEY("readahead=", KEY_READAHEAD),
	FUSE_OPT_KEY("threads=", KEY_THREADS),
	FUSE_OPT_KEY("dirty_limit=", KEY_DIRTY_LIMIT),
	FUSE_OPT_KEY("verify=", KEY_VERIFY),
	FUSE_OPT_KEY("sync=", KEY_SYNC_VALUE),
	FUSE_OPT_KEY("attr_timeout=", KEY_ATTR_TIMEOUT),
	FUSE_OPT_KEY("recompress=", KEY_RECOMPRESS),
	FUSE_OPT_KEY("recompress_after=", KEY_RECOMPRESS_AFTER),
	FUSE_OPT_KEY("recompress_rate=", KEY_RECOMPRESS_RATE),
	FUSE_OPT_KEY("train=", KEY_TRAIN),
	FUSE_OPT_KEY("train_after=", KEY_TRAIN_AFTER),
	FUSE_OPT_END
};

/* A size option: range in bytes and how to say it. */
typedef struct size_rule {
	uint64_t min, max;
	bool pow2;
	const char *range; /* the "must be ..." text */
} size_rule;

static const size_rule block_size_rule = {
	PF_BLOCK_SIZE_MIN, PF_BLOCK_SIZE_MAX, true,
	"must be a power of two from 64K to 4M"
};
static const size_rule cache_size_rule = {
	PF_CACHE_SIZE_MIN, UINT64_MAX, false, "must be at least 1M"
};
static const size_rule readahead_rule = {
	0, PF_READAHEAD_MAX, false, "must be from 0 to 1G"
};
static const size_rule dirty_limit_rule = {
	PF_DIRTY_LIMIT_MIN, PF_DIRTY_LIMIT_MAX, false, "must be from 1M to 4G"
};
static const size_rule recompress_rate_rule = {
	0, UINT64_MAX, false, "must be a size per second, 0 for no limit"
};
static const size_rule train_after_rule = {
	PF_TRAIN_AFTER_MIN, UINT64_MAX, false, "must be a size of at least 1M"
};

typedef struct parse_ctx {
	pf_mount_opts *opts;
	char *err;
	size_t err_len;
} parse_ctx;

static int bad_value(parse_ctx *ctx, const char *arg, const char *why)
{
	snprintf(ctx->err, ctx->err_len, "priorfs: bad value for %s: %s", arg,
		 why);
	return -1;
}

static int parse_size(const char *value, const size_rule *rule, uint64_t *out)
{
	uint64_t v;

	if (pf_parse_size(value, &v) < 0 || v < rule->min || v > rule->max)
		return -1;
	if (rule->pow2 && (v & (v - 1)) != 0)
		return -1;
	*out = v;
	return 0;
}

/* A decimal integer in [min, max], nothing else. */
static int parse_int(const char *value, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno || end == value || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_bool(const char *value, bool *out)
{
	long v;

	PF_FORWARD(parse_int(value, 0, 1, &v));
	*out = v == 1;
	return 0;
}

static int parse_codec(const char *value, enum pf_codec_choice *out)
{
	if (strcmp(value, "auto") == 0)
		*out = PF_CHOICE_AUTO;
	else if (strcmp(value, "zstd") == 0)
		*out = PF_CHOICE_ZSTD;
	else if (strcmp(value, "raw") == 0)
		*out = PF_CHOICE_RAW;
	else if (strcmp(value, "learned") == 0)
		*out = PF_CHOICE_LEARNED;
	else
		return -1;
	return 0;
}

/* write_codec=zstd keeps writes through the mount fast (zstd or raw);
 * learned lets them use the store's models too. */
static int parse_write_codec(const char *value, bool *use_models)
{
	if (strcmp(value, "zstd") == 0)
		*use_models = false;
	else if (strcmp(value, "learned") == 0)
		*use_models = true;
	else
		return -1;
	return 0;
}

static int parse_level(const char *value, enum pf_model_level *out)
{
	if (strcmp(value, "fast") == 0)
		*out = PF_MODEL_LEVEL_FAST;
	else if (strcmp(value, "default") == 0)
		*out = PF_MODEL_LEVEL_DEFAULT;
	else if (strcmp(value, "max") == 0)
		*out = PF_MODEL_LEVEL_MAX;
	else
		return -1;
	return 0;
}

static int parse_seconds(const char *value, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(value, &end);
	if (errno || end == value || *end || !isfinite(v) || v < 0)
		return -1;
	*out = v;
	return 0;
}

/* Sets one valued option; @return 0, or -1 with the "must be" text. */
static int set_value(pf_mount_opts *o, int key, const char *v,
		     const char **why)
{
	uint64_t size;
	long n;

	switch (key) {
	case KEY_BLOCK_SIZE:
		*why = block_size_rule.range;
		PF_FORWARD(parse_size(v, &block_size_rule, &size));
		o->store.block_size = (uint32_t)size;
		return 0;
	case KEY_CODEC:
		*why = "must be auto, learned, zstd or raw";
		PF_FORWARD(parse_codec(v, &o->store.codec.choice));
		if (o->store.codec.choice == PF_CHOICE_LEARNED)
			o->store.use_models = true;
		return 0;
	case KEY_WRITE_CODEC:
		*why = "must be zstd or learned";
		return parse_write_codec(v, &o->store.use_models);
	case KEY_ZSTD_LEVEL:
		*why = "must be an integer from 1 to 19";
		PF_FORWARD(parse_int(v, PF_ZSTD_LEVEL_MIN, PF_ZSTD_LEVEL_MAX, &n));
		o->store.codec.zstd_level = (int)n;
		return 0;
	case KEY_MIN_SAVING:
		*why = "must be a percentage from 0 to 50, up to two decimals";
		return pf_codec_min_saving_parse(v, &o->store.codec.min_saving) < 0 ? -1 : 0;
	case KEY_LEVEL:
		*why = "must be fast, default or max";
		return parse_level(v, &o->store.level);
	case KEY_CACHE_SIZE:
		*why = cache_size_rule.range;
		return parse_size(v, &cache_size_rule, &o->cache.cache_size);
	case KEY_READAHEAD:
		*why = readahead_rule.range;
		return parse_size(v, &readahead_rule, &o->cache.readahead);
	case KEY_THREADS:
		*why = "must be an integer from 1 to 64";
		PF_FORWARD(parse_int(v, PF_THREADS_MIN, PF_THREADS_MAX, &n));
		o->cache.threads = (unsigned)n;
		return 0;
	case KEY_DIRTY_LIMIT:
		*why = dirty_limit_rule.range;
		return parse_size(v, &dirty_limit_rule, &o->cache.dirty_limit);
	case KEY_VERIFY:
		*why = "must be 0 or 1";
		return parse_bool(v, &o->store.verify);
	case KEY_SYNC_VALUE:
		*why = "must be 0 or 1";
		return parse_bool(v, &o->store.sync);
	case KEY_ATTR_TIMEOUT:
		*why = "must be a number of seconds, 0 or more";
		return parse_seconds(v, &o->attr_timeout);
	case KEY_RECOMPRESS:
		*why = "must be 0 or 1";
		return parse_bool(v, &o->recompress);
	case KEY_RECOMPRESS_AFTER:
		*why = "must be a number of seconds, 0 or more";
		return parse_seconds(v, &o->recompress_after);
	case KEY_RECOMPRESS_RATE:
		*why = recompress_rate_rule.range;
		return parse_size(v, &recompress_rate_rule, &o->recompress_rate);
	case KEY_TRAIN:
		*why = "must be auto or off";
		if (strcmp(v, "auto") != 0 && strcmp(v, "off") != 0)
			return -1;
		o->train = strcmp(v, "auto") == 0;
		return 0;
	case KEY_TRAIN_AFTER:
		*why = train_after_rule.range;
		return parse_size(v, &train_after_rule, &o->train_after);
	}
	*why = "unknown option";
	return -1;
}

/* fuse_opt callback: 1 keeps the argument for FUSE, 0 drops it. */
static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	parse_ctx *ctx = data;
	const char *why = "";

	(void)outargs;
	switch (key) {
	case FUSE_OPT_KEY_OPT:
	case FUSE_OPT_KEY_NONOPT:
		return 1;
	case KEY_RO:
	case KEY_RW:
		ctx->opts->store.read_only = key == KEY_RO;
		return 1;
	case KEY_SYNC:
		ctx->opts->store.sync = true;
		return 0;
	}
	if (set_value(ctx->opts, key, strchr(arg, '=') + 1, &why) < 0)
		return bad_value(ctx, arg, why);
	return 0;
}

static void opts_default(pf_mount_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->store.block_size = PF_BLOCK_SIZE_DEFAULT;
	o->store.codec.choice = PF_CHOICE_AUTO;
	o->store.codec.zstd_level = PF_ZSTD_LEVEL_DEFAULT;
	o->store.codec.min_saving = PF_MIN_SAVING_DEFAULT;
	o->store.verify = true;
	o->store.level = PF_MODEL_LEVEL_DEFAULT;
	o->cache.cache_size = PF_CACHE_SIZE_DEFAULT;
	o->cache.readahead = PF_READAHEAD_DEFAULT;
	o->cache.threads = PF_THREADS_DEFAULT;
	o->cache.dirty_limit = PF_DIRTY_LIMIT_DEFAULT;
	o->attr_timeout = PF_ATTR_TIMEOUT_DEFAULT;
	o->recompress_after = PF_RECOMPRESS_AFTER_DEFAULT;
	o->recompress_rate = PF_RECOMPRESS_RATE_DEFAULT;
	o->train_after = PF_TRAIN_AFTER_DEFAULT;
}

int pf_mount_opts_parse(struct fuse_args *args, pf_mount_opts *opts, char *err,
			size_t err_len)
{
	parse_ctx ctx = { opts, err, err_len };

	opts_default(opts);
	if (err_len)
		err[0] = '\0';
	if (fuse_opt_parse(args, &ctx, pf_opt_table, opt_proc) == -1) {
		/* Without our message it was fuse_opt itself (ENOMEM). */
		if (err_len && !err[0])
			snprintf(err, err_len, "priorfs: cannot parse options");
		return -EINVAL;
	}
	return 0;
}

void pf_mount_opts_help(FILE *out)
{
	fprintf(out,
"priorfs options:\n"
"    -o block_size=N        block size of new files, a power of two from\n"
"                           64K to 4M (default 256K)\n"
"    -o codec=C             auto, learned, zstd or raw (default auto)\n"
"    -o write_codec=W       zstd (fast writes; recompress later) or learned\n"
"                           (default zstd)\n"
"    -o zstd_level=N        zstd level, 1 to 19 (default 3)\n"
"    -o min_saving=P        percent of a block a codec must save for the\n"
"                           block to be stored compressed, 0 to 50\n"
"                           (default 12.5; lower codes compressed data)\n"
"    -o level=L             highest model level new learned blocks use:\n"
"                           fast, default or max (default default)\n"
"    -o cache_size=N        decoded blocks kept in memory, at least 1M\n"
"                           (default 256M)\n"
"    -o readahead=N         bytes decoded ahead of a sequential reader,\n"
"                           0 to 1G (default 4M)\n"
"    -o threads=N           decode workers, 1 to 64 (default 2)\n"
"    -o dirty_limit=N       dirty bytes per file before encoding, 1M to 4G\n"
"                           (default 64M)\n"
"    -o verify=0|1          check block checksums on read (default 1)\n"
"    -o sync, -o sync=0|1   make every commit durable (default 0)\n"
"    -o attr_timeout=S      seconds the kernel caches attributes (default 1)\n"
"    -o recompress=0|1      move cold files to the learned codec in the\n"
"                           background (default 0)\n"
"    -o recompress_after=S  seconds a file stays unchanged and unused before\n"
"                           it is cold (default 600)\n"
"    -o recompress_rate=N   plain bytes per second recompressed at most,\n"
"                           0 for no limit (default 4M)\n"
"    -o train=auto|off      train a model from the mount's cold data when\n"
"                           the store has none (implies recompress=1;\n"
"                           default off)\n"
"    -o train_after=N       cold data before training, at least 1M\n"
"                           (default 32M)\n"
"    -o ro                  mount and open the store read-only\n"
"Sizes take a K, M or G suffix (powers of 1024).\n");
}
