/* SPDX-License-Identifier: MIT */
/*
 * priorctl.h - what the priorctl subcommands share: exit codes, messages,
 * opening a store, walking a tree, worker threads, the progress bar and
 * the data sample the learned codec trains on.
 *
 * priorctl works on the backing directory through the store and codec layers
 * only; it never mounts anything. The reading commands (stat, fsck, export,
 * models list/show) open containers read-only, each in its last committed
 * state, so they may run on a mounted store. The writing ones (train, models gc,
 * recompress, import) take the store's writer lock first, so they refuse to
 * run while the store is mounted read-write or another writer runs.
 */
#ifndef PF_PRIORCTL_H
#define PF_PRIORCTL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "common/pf_common.h"
#include "store/store.h"

#define PCTL_PROG "priorctl"

/* Exit codes of every subcommand (man/priorctl.1 "EXIT STATUS"). */
enum pctl_exit {
	PCTL_EXIT_OK = 0,    /* done, nothing wrong */
	PCTL_EXIT_FAULT = 1, /* ran, but found faults or could not do the job */
	PCTL_EXIT_USAGE = 2  /* could not run: bad arguments, not a store,
			      * store locked by another writer */
};

/* Prints "priorctl: " + the message + a newline to stderr (clearing a
 * progress bar first; thread-safe). */
void pctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints a command's usage text: to stdout with status OK for --help, to
 * stderr with status USAGE after a bad argument. @return that status. */
int pctl_usage(const char *text, bool asked);

struct option;
/*
 * getopt_long() for a subcommand, with priorctl's own messages. shortopts
 * must start with ':'. @return the option, -1 after the last one, or '?'
 * for an unknown option or a missing value (message already printed).
 */
int pctl_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
		const struct option *longopts);

/* Prints a file name with control bytes and bytes that are not UTF-8 as
 * \xNN (and \ doubled), so that one name stays one readable line. */
void pctl_print_name(FILE *out, const char *name);

/* Lets the store and codec layers' own log lines through (-v). They are
 * off by default because priorctl reports every fault itself. */
void pctl_set_verbose(void);

/*
 * Opens the store at path read-only, with block checksums verified. `cmd`
 * names the subcommand in the message printed on failure.
 * @return 0, or a negative errno (message already printed).
 */
int pctl_store_open(const char *cmd, const char *path, pf_store **out);

/*
 * Opens the container of the regular file `name` in dirfd read-only, never
 * following a symlink; `path` (relative to the store root) labels it.
 * @return 0, or a negative errno: from open() or fstat(), -EIO for a corrupt
 * container. Caller frees with pf_container_close().
 */
int pctl_container_open(pf_store *store, int dirfd, const char *name,
			const char *path, pf_container **out);

/*
 * Opens the store at path read-write with opts (read_only is forced off)
 * and takes its writer lock. On failure prints why, naming `cmd`; a lock
 * held elsewhere gets "in use (mounted read-write, or another priorctl
 * writer runs)". @return 0, or a negative errno (-EBUSY: locked).
 */
int pctl_store_open_writer(const char *cmd, const char *path,
			   const pf_store_opts *opts, pf_store **out);

/* Most model slots a container's index has (a one-byte slot, 0 = none). */
#define PCTL_MODEL_SLOTS 255

/* Number of blocks in the container's working state. */
uint64_t pctl_container_blocks(pf_container *c);

/* Sum of the stored lengths of the blocks of the working state: the coded
 * size, without headers, index and free gaps (which the container's length,
 * pf_container_stored_bytes(), includes). */
uint64_t pctl_container_coded_bytes(pf_container *c);

/*
 * Reads logical bytes [off, off + len) of the container into buf (len may
 * span blocks; bytes past the end read as zeros). `block` is scratch space
 * of at least pf_container_block_size(c) bytes.
 * @return 0 or a negative errno from pf_container_read_block().
 */
int pctl_container_read(pf_container *c, uint64_t off, void *buf, size_t len,
			void *block);

/* The first `digits` (even, <= 64) hex digits of a model id, into out
 * (digits + 1 bytes). */
void pctl_id_hex(const uint8_t *id, size_t digits, char *out);

/* Like du -h: 512, 1.5K, 12K, 3.0G (powers of 1024). */
const char *pctl_human_size(uint64_t v, char buf[16]);

/* Parses a size option (K/M/G suffixes) in [min, max]; prints a message
 * naming cmd and option on failure. @return 0 or -EINVAL. */
int pctl_parse_size_opt(const char *cmd, const char *opt, const char *arg,
			uint64_t min, uint64_t max, uint64_t *out);

/* Parses --level fast|default|max. @return 0 or -EINVAL (message printed). */
int pctl_parse_level(const char *cmd, const char *arg,
		     enum pf_model_level *level);
/* --min-saving: a percentage (pf_codec_min_saving_parse); prints the error. */
int pctl_parse_min_saving(const char *cmd, const char *arg, unsigned *min_saving);
/* --zstd-level: 1 to 19; prints the error. */
int pctl_parse_zstd_level(const char *cmd, const char *arg, int *level);

/* Parses --net-width N: a multiple of PF_MODEL_NET_WIDTH_STEP in
 * PF_MODEL_NET_WIDTH_MIN..MAX. @return 0 or -EINVAL (message printed). */
int pctl_parse_net_width(const char *cmd, const char *arg, unsigned *width);

/* Level max's context features: measured per kind (train with and
 * without, keep what saves more), always, or never. */
enum pctl_context { PCTL_CONTEXT_AUTO, PCTL_CONTEXT_YES, PCTL_CONTEXT_NO };

/* Parses --context-features auto|yes|no. @return 0 or -EINVAL (message
 * printed). */
int pctl_parse_context(const char *cmd, const char *arg, enum pctl_context *context);

/* Parses --table-bits N (PCTL_TABLE_BITS_MIN..MAX). @return 0 or -EINVAL
 * (message printed). */
int pctl_parse_table_bits(const char *cmd, const char *arg, unsigned *bits);

/* Parses --jobs N (1..1024). @return 0 or -EINVAL (message printed). */
int pctl_parse_jobs(const char *cmd, const char *arg, unsigned *jobs);
/* The default for --jobs: the number of online CPUs (at least 1). */
unsigned pctl_default_jobs(void);

/*
 * Runs fn(arg, i) for every i in [0, count) on `jobs` threads (the calling
 * thread is one of them); each index runs exactly once. An fn that returns
 * a negative errno stops the handing out of further indexes.
 * @return 0, the first negative errno an fn returned, or the error of
 * pthread_create() when no thread could be started.
 */
int pctl_run_jobs(unsigned jobs, size_t count, int (*fn)(void *arg, size_t i),
		  void *arg);

/*
 * Tree walk callbacks. `path` is relative to the store root and valid only
 * during the call. A file callback returns 0 to go on, or a negative errno
 * to stop the walk (only for errors such as -ENOMEM that make going on
 * pointless); problems with one file are the callback's to report.
 */
typedef int (*pctl_file_fn)(void *arg, int dirfd, const char *name,
			    const char *path, const struct stat *st);
/* A directory or entry could not be read: `what` is the failed call. */
typedef void (*pctl_walk_err_fn)(void *arg, const char *path,
				 const char *what, int err);

/*
 * Calls file() for every regular file below the store root, in name order
 * within each directory, skipping the root's metadata directory. Never
 * follows a symlink and never leaves the tree. Entries that cannot be read
 * go to err() and the walk goes on.
 * @return 0, or the negative errno that stopped the walk.
 */
int pctl_walk_store(pf_store *store, pctl_file_fn file, pctl_walk_err_fn err,
		    void *arg);

/* Callbacks of the general walk; any but file and err may be NULL. */
struct pctl_walk_fns {
	pctl_file_fn file;      /* regular files */
	pctl_file_fn other;     /* symlinks, fifos, devices, sockets */
	pctl_file_fn dir_enter; /* a directory, before its entries */
	pctl_file_fn dir_leave; /* a directory, after its entries */
	pctl_walk_err_fn err;
};

/*
 * Walks the tree below rootfd like pctl_walk_store(), with a callback for
 * every kind of entry. The root itself gets dir_enter/dir_leave with name
 * "." and path "". With skip_meta, the root's metadata directory is left
 * out (rootfd is a store). A directory whose dir_enter returns 1 is not
 * entered (nor left).
 * @return 0, or the negative errno that stopped the walk.
 */
int pctl_walk_tree(int rootfd, bool skip_meta, const struct pctl_walk_fns *fns,
		   void *arg);

/* ---- tree copy, shared by import and export (ctl_tree.c) ----------------- */

struct pctl_tree_file {
	char *path;    /* relative to both roots */
	uint64_t size; /* logical bytes at the scan, for the bar */
};

struct pctl_tree_link;
struct pctl_tree_inode;

/*
 * A copy of the tree below srcfd to dstfd, all but the regular files' data,
 * which the command writes itself from the files queue. Set the fields
 * above the line; zero the rest.
 */
struct pctl_tree {
	const char *cmd; /* names the command in messages */
	int srcfd, dstfd; /* the roots */
	bool skip_meta;   /* srcfd is a store: leave out its metadata dir */
	bool owner;       /* copy owners (running as root) */
	/* logical size of a regular file for the queue; NULL: st_size */
	uint64_t (*file_size)(int dirfd, const char *name,
			      const struct stat *st);
	/* shards > 0: queue and make only the regular files, hard links,
	 * symlinks and special files of shard `shard` (pctl_tree_in_shard());
	 * make every directory but leave directory attributes to an unsharded
	 * run */
	unsigned shard, shards;
	/* ---- */
	struct stat skip; /* the destination root, never walked into */
	struct pctl_tree_file *files; /* one per inode, walk order */
	size_t n_files, cap_files;
	struct pctl_tree_link *links; /* later names of linked files */
	size_t n_links, cap_links;
	char **dirs; /* post-order; "" is the root */
	size_t n_dirs, cap_dirs;
	struct pctl_tree_inode *inodes;
	size_t n_inodes, cap_inodes; /* cap: a power of two */
	uint64_t n_symlinks, n_special;
	uint64_t errors; /* reported with pctl_tree_report() */
};

/*
 * Walks the source (one thread): makes its directories (mode 0700 until
 * pctl_tree_finish()), symlinks and special files in the destination with
 * their owners, modes and times, and queues regular files and hard links.
 * Entries left by an earlier run are kept when they match. Problems with
 * one entry are reported and counted in errors.
 * @return 0, or a negative errno that stopped the scan (-ENOMEM).
 */
int pctl_tree_scan(struct pctl_tree *t);
/* True when path (relative to the roots) belongs to shard `shard` of
 * `shards`: a stable 64-bit FNV-1a hash of its bytes, modulo shards. */
bool pctl_tree_in_shard(const char *path, unsigned shard, unsigned shards);
/* Sum of the queued files' sizes. */
uint64_t pctl_tree_bytes(const struct pctl_tree *t);
/* Owner (when t->owner), mode, user.* xattrs, then atime and mtime, from
 * st and the fd src to the fd dst. @return 0 or a negative errno. */
int pctl_tree_copy_meta(const struct pctl_tree *t, int src, int dst,
			const struct stat *st);
/* After the files: makes the hard links, then sets the directories'
 * owners, modes, xattrs and times, children first (not when sharded). */
void pctl_tree_finish(struct pctl_tree *t);
/* "priorctl: CMD: PATH: WHAT: strerror(-err)", and counts an error. Not
 * thread-safe: for the scan and finish phases. */
void pctl_tree_report(struct pctl_tree *t, const char *path, const char *what,
		      int err);
void pctl_tree_free(struct pctl_tree *t);

/* ---- progress bar (ctl_progress.c) --------------------------------------- */

/*
 * One line on stderr: label, bar, bytes done/total, MB/s and ETA, redrawn
 * at most 5 times a second, and only when stderr is a terminal. One bar at
 * a time; pctl_progress_add() may be called from many threads.
 */
struct pctl_progress {
	const char *label;
	uint64_t total;
	_Atomic uint64_t done;
	struct timespec start;
	_Atomic int64_t next_draw_ns; /* since start; no redraw before it */
	bool tty;
};

void pctl_progress_start(struct pctl_progress *p, const char *label,
			 uint64_t total);
void pctl_progress_add(struct pctl_progress *p, uint64_t bytes);
void pctl_progress_set(struct pctl_progress *p, uint64_t done);
/* Removes the line; the bar takes no more calls. */
void pctl_progress_end(struct pctl_progress *p);
/* Clears the active bar's line so a message can be printed (stderr must
 * be locked with flockfile() by the caller); it is redrawn later. */
void pctl_progress_clear_locked(void);

/* ---- data sample for training (ctl_sample.c) ----------------------------- */

/* Data kinds, sniffed from a file's first bytes and its name. */
enum pctl_kind {
	PCTL_KIND_TEXT,       /* prose */
	PCTL_KIND_CODE,       /* source code, scripts */
	PCTL_KIND_STRUCTURED, /* JSON, XML, HTML */
	PCTL_KIND_TABULAR,    /* CSV, TSV */
	PCTL_KIND_BIO,        /* sequences: FASTQ, FASTA */
	PCTL_KIND_ARRAY,      /* fixed-width binary arrays: .npy, .wav, raw */
	PCTL_KIND_BINARY,     /* other binary data */
	PCTL_KIND_COMPRESSED, /* gzip, zstd, xz, png, jpeg, zip...: never trained */
	PCTL_KIND_COUNT
};

/* ctl_sniff.c */
#define PCTL_SNIFF_HEAD 4096 /* the first bytes of a file that sniffing reads */
/* Length of the valid UTF-8 sequence at p (1..4), or 0 for a byte that
 * does not start one (overlong forms and surrogates are invalid). Reads
 * no further than a NUL terminator. */
size_t pctl_utf8_len(const unsigned char *p);
const char *pctl_kind_name(enum pctl_kind kind);
/* The kind of a file from its name and its first len bytes (at most
 * PCTL_SNIFF_HEAD of them are looked at). A tar archive is of the kind of
 * its first member with data in the head. */
enum pctl_kind pctl_kind_sniff(const char *name, const unsigned char *head,
			       size_t len);
/* The kind the extension of name alone gives, for when reading is
 * expensive; false when it says nothing. */
bool pctl_kind_by_name(const char *name, enum pctl_kind *kind);

#define PCTL_SAMPLE_PIECE (256u << 10) /* most bytes taken per file and round */
#define PCTL_SAMPLE_CAP_DEFAULT (16u << 20) /* per kind */

/* What was sampled of one kind: a training part and held-out pieces. */
struct pctl_kind_sample {
	unsigned char *train;   /* the pieces not held out, back to back */
	size_t train_len;
	unsigned char *eval;    /* held-out pieces (about 10%), back to back */
	size_t eval_len;        /* bytes at eval */
	size_t *eval_lens;      /* length of each held-out piece */
	size_t eval_count;
	uint64_t files;         /* of this kind in the tree */
	uint64_t logical;       /* their bytes */
};

struct pctl_sample {
	struct pctl_kind_sample kind[PCTL_KIND_COUNT];
	uint64_t errors; /* files that could not be read (reported) */
};

/*
 * Samples the tree: the store's files (from_dir NULL; read through their
 * containers) or the plain directory from_dir. At most cap bytes per kind,
 * in pieces of up to PCTL_SAMPLE_PIECE spread over a file, taken round-robin
 * over the kind's files in a fixed pseudo-random order. Compressed files are
 * counted but, unless `compressed`, never read past their first bytes.
 * @return 0 or a negative errno (message printed); free with
 * pctl_sample_free() either way.
 */
int pctl_sample_collect(pf_store *store, const char *from_dir, size_t cap,
			bool compressed, struct pctl_sample *out);
void pctl_sample_free(struct pctl_sample *s);

/* ---- training (cmd_train.c), shared with import -------------------------- */

struct pctl_train_opts {
	const char *from;           /* plain directory to sample, or NULL */
	enum pf_model_level level;
	size_t sample_cap;          /* per kind */
	unsigned table_bits;        /* log2 slots per context table; 0: sized
				     * to the kind's logical bytes */
	unsigned net_width;         /* level max: the network's first layer;
				     * 0: the model layer's default */
	enum pctl_context context;  /* level max: the network's context features */
	unsigned min_saving;        /* the codec's, for measuring; below the
				     * default compressed files are trained */
	int zstd_level;             /* import: blocks zstd wins are coded at
				     * it (--zstd-level) */
};

/* Below the default min_saving a model may pay on compressed data (JPEG:
 * 3% saved), so train samples and trains that kind too. */
static inline bool pctl_trains_compressed(const struct pctl_train_opts *opts)
{
	return opts->min_saving < PF_MIN_SAVING_DEFAULT;
}

#define PCTL_TABLE_BITS_MIN 10
#define PCTL_TABLE_BITS_MAX 20
#define PCTL_EVAL_ZSTD_LEVEL 19 /* the baseline models are measured against */
/* import and recompress code offline: a block zstd wins (or nearly) is
 * coded at this level (pf_codec_params.zstd_final_level). */
#define PCTL_ZSTD_LEVEL_DEFAULT 19

/*
 * Codes every held-out piece of ks as one block with each of params[0..n)
 * and adds the stored bytes to bytes[j] (a ZERO block costs 0); bar, if not
 * NULL, advances by each piece's length. Shared by train and scaling.
 * @return 0 or a negative errno from pf_codec_encode() (-ENOMEM).
 */
int pctl_eval_pieces(const struct pctl_kind_sample *ks,
		     const pf_codec_params *params, size_t n, uint64_t *bytes,
		     struct pctl_progress *bar);

/* Checks the options train and import share once all are parsed: a
 * --net-width needs --level max. @return 0 or -EINVAL (message printed,
 * naming cmd). */
int pctl_train_opts_check(const char *cmd, const struct pctl_train_opts *opts);

/*
 * Samples, trains one model per kind with enough data, evaluates each
 * against zstd -19 and makes the models that pay for themselves the store's
 * defaults; prints the table. The store is open read-write and locked.
 * @return an exit status (PCTL_EXIT_OK when it ran, even if no model paid).
 */
int pctl_train_run(pf_store *store, const char *store_path,
		   const struct pctl_train_opts *opts);

/* ---- scaling law fit (ctl_fit.c) and chart (ctl_chart.c) ---------------- */

/* One measurement: model size n, sample size d (both > 0), loss (bits/byte). */
struct pctl_fit_point {
	double n, d, loss;
};

#define PCTL_FIT_PARAMS 5   /* E, A, a, B, b */
#define PCTL_FIT_R2_MIN 0.9 /* under it the fit is called poor */

/* loss = e + a / n^alpha + b / d^beta, and how well it fits. */
struct pctl_fit {
	double e, a, alpha, b, beta;
	double r2, rmse; /* over the points; 0 when there was no fit */
	size_t points;
	bool poor;       /* not to be trusted: why says so */
	const char *why; /* static text, NULL when not poor */
};

/*
 * Least-squares fit of the law to p[0..n): grid search over the exponents
 * (0.02..2) with non-negative e, a, b solved exactly at each node. Too few
 * points (under PCTL_FIT_PARAMS + 1, or under 2 distinct n or d) give a
 * poor fit with zero coefficients; R^2 < PCTL_FIT_R2_MIN marks it poor.
 * @return 0, or -EINVAL for a point with n or d <= 0 or a non-finite loss.
 */
int pctl_fit_power_law(const struct pctl_fit_point *p, size_t n,
		       struct pctl_fit *f);
/* The law's loss at (n, d). */
double pctl_fit_predict(const struct pctl_fit *f, double n, double d);

/* One line of a chart: y over x, points in x order. */
struct pctl_chart_series {
	char label[32];
	const double *x, *y;
	size_t n;
};

/* A line chart with a log-scale x axis, for priorctl scaling. */
struct pctl_chart {
	const char *title, *x_label, *y_label;
	const struct pctl_chart_series *series;
	size_t n_series;
	bool has_mark;            /* a ringed point with mark_label */
	double mark_x, mark_y;
	char mark_label[64];
	bool has_ref;             /* a dashed horizontal line with ref_label */
	double ref_y;
	char ref_label[64];
};

/* Writes the chart to path as an SVG document (text only, no scripts).
 * @return 0 or a negative errno (message printed, naming cmd). */
int pctl_chart_write_svg(const char *cmd, const char *path,
			 const struct pctl_chart *c);
/*
 * Converts the SVG at svg to the PNG png with rsvg-convert, or else
 * ImageMagick's convert, found in PATH. *tool names the one used.
 * @return 0; -ENOENT when neither is installed; -EIO when it failed.
 */
int pctl_chart_svg_to_png(const char *svg, const char *png, const char **tool);

int pctl_cmd_init(int argc, char **argv);
int pctl_cmd_stat(int argc, char **argv);
int pctl_cmd_fsck(int argc, char **argv);
int pctl_cmd_train(int argc, char **argv);
int pctl_cmd_models(int argc, char **argv);
int pctl_cmd_recompress(int argc, char **argv);
int pctl_cmd_import(int argc, char **argv);
int pctl_cmd_export(int argc, char **argv);
int pctl_cmd_scaling(int argc, char **argv);

#endif
