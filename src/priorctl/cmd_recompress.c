/* SPDX-License-Identifier: MIT */
/*
 * cmd_recompress.c - "priorctl recompress [--codec C] [--level L] [--jobs N]
 * [--force] STORE [DIR...]": re-encodes every block of a store (or of the
 * files below DIRs) with the codec asked for and the store's current
 * default models of level L or below.
 *
 * Data written through the mount is stored with the fast codec; this moves
 * it to the learned codec (or back to zstd or raw). It takes the writer lock,
 * so it refuses to run while the store is mounted read-write.
 *
 * Design notes:
 * - Crash-safe per file: all of a file's blocks are re-encoded into free
 *   space of its container and made current by one pf_container_commit(),
 *   durable before the next step. A crash leaves each file either as it was
 *   or fully re-encoded.
 * - Resumable: a file already in the target state is skipped, so running
 *   recompress again after an interruption only does what is left. Target
 *   states: raw - every block raw or zero; zstd - no learned block; auto and
 *   learned with default models - every model the file references is a
 *   current default of the run's level or above, and no zstd block, unless
 *   the file is as a run with the same target left it (zstd coded those
 *   blocks smaller; .priorfs/recompress-tried, store_tried.c); auto without
 *   default models - no learned block. With --min-saving below the default,
 *   auto and learned also want no raw block, with the same exception.
 *   --force redoes every file.
 * - Levels: --level max moves files (a directory of cold archives, say) to
 *   the store's max models; a later run at a lower level leaves them there,
 *   so the choice sticks to those files. When the store has no default of
 *   the level asked for, the highest one it has counts as current.
 * - Times: the backing file's atime and mtime are put back after the commit
 *   (the mount shows them), so only its ctime shows that it was rewritten.
 * - Files go to --jobs worker threads, one file per job.
 */
#include "priorctl/priorctl.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <xxhash.h>

#include "common/pf_common.h"


static const char recompress_usage[] =
	"usage: priorctl recompress [--codec auto|learned|zstd|raw] [--level L]\n"
	"                           [--min-saving P] [--zstd-level N] [--jobs N]\n"
	"                           [--force] STORE [DIR...]\n"
	"\n"
	"Re-encodes the blocks of every file in STORE, or only of the files\n"
	"below each DIR (a path inside the store, as the mount shows it), with\n"
	"CODEC (default auto: the store's default models, zstd or raw,\n"
	"whichever is smallest per block). Each file is committed atomically; files already in the\n"
	"target state are skipped, so an interrupted run can simply be\n"
	"started again. File times are kept. Needs the writer lock: refuses\n"
	"while STORE is mounted read-write.\n"
	"\n"
	"  -c, --codec CODEC  auto, learned, zstd or raw (default auto)\n"
	"  -l, --level L      use default models of level L or below: fast,\n"
	"                     default or max (default: default); files already\n"
	"                     on a higher level's models are left there\n"
	"      --min-saving P store a block compressed only when that saves P\n"
	"                     percent, 0 to 50 (default 12.5); below the\n"
	"                     default, files with raw blocks are coded again\n"
	"      --zstd-level N blocks zstd codes best (or nearly) are coded at\n"
	"                     zstd level N, 1 to 19 (default 19)\n"
	"  -j, --jobs N       files re-encoded in parallel (default: CPUs)\n"
	"  -f, --force        re-encode files already in the target state\n"
	"  -v, --verbose      also show the store layer's log lines\n"
	"  -h, --help         show this help\n";

struct file_job {
	char *path;
	uint64_t size; /* logical */
};

struct recompress {
	pf_store *store;
	enum pf_codec_choice choice;
	unsigned min_saving;
	int zstd_level; /* what blocks zstd wins are coded at */
	bool force;
	pf_model_info *defaults; /* the store's models; defaults have a kind */
	enum pf_model_level *levels; /* of each model; -1 when it does not load */
	size_t n_models;
	bool have_defaults;
	bool learned_target; /* auto or learned, with default models */
	pf_tried *tried; /* the record of files left with leftovers
			  * (has_leftovers()), or NULL */
	atomic_bool tried_warned;
	enum pf_model_level level, floor; /* asked for; current from (design notes) */
	char **dirs;                      /* only files below these; NULL: all */
	int ndirs;
	struct file_job *v;
	size_t count, cap;
	struct pctl_progress bar;
	_Atomic uint64_t done, skipped, failed, before, after;
	uint64_t walk_errors;
};

/* ---- which files are done ------------------------------------------------ */

static bool is_current_default(const struct recompress *r, const uint8_t *id)
{
	for (size_t i = 0; i < r->n_models; i++)
		if (r->defaults[i].kind[0] &&
		    !memcmp(r->defaults[i].id, id, PF_MODEL_ID_SIZE))
			return (int)r->levels[i] >= (int)r->floor;
	return false;
}

static bool models_current(const struct recompress *r, pf_container *c)
{
	uint8_t (*ids)[PF_MODEL_ID_SIZE] = calloc(PCTL_MODEL_SLOTS, sizeof(*ids));
	bool ok = ids != NULL;
	int n = ids ? pf_container_models(c, ids, PCTL_MODEL_SLOTS) : 0;

	for (int i = 0; ok && i < n && i < PCTL_MODEL_SLOTS; i++)
		ok = is_current_default(r, ids[i]);
	free(ids);
	return ok;
}

static bool has_codec(pf_container *c, uint8_t codec)
{
	uint64_t nblocks = pctl_container_blocks(c);
	pf_block_entry e;

	for (uint64_t b = 0; b < nblocks; b++) {
		pf_container_block(c, b, &e);
		if (e.codec == codec)
			return true;
	}
	return false;
}

/* An auto or learned run with --min-saving below the default: raw blocks
 * may code now. */
static bool lowered_bar(const struct recompress *r)
{
	return r->min_saving < PF_MIN_SAVING_DEFAULT &&
	       (r->choice == PF_CHOICE_AUTO || r->choice == PF_CHOICE_LEARNED);
}

/* Blocks a run might still code smaller: zstd ones for the learned codec,
 * raw ones under a lowered bar. */
static bool has_leftovers(const struct recompress *r, pf_container *c)
{
	return (r->learned_target && has_codec(c, PF_CODEC_ZSTD)) ||
	       (lowered_bar(r) && has_codec(c, PF_CODEC_RAW));
}

/* True when the file (backing inode ino) is already in the target state
 * (design notes). */
static bool file_current(const struct recompress *r, pf_container *c, uint64_t ino)
{
	if (r->choice == PF_CHOICE_RAW)
		return !has_codec(c, PF_CODEC_ZSTD) && !has_codec(c, PF_CODEC_LEARNED);
	if (r->learned_target ? !models_current(r, c) : has_codec(c, PF_CODEC_LEARNED))
		return false;
	return !has_leftovers(r, c) ||
	       (r->tried && pf_tried_has(r->tried, ino, pf_tried_state(c)));
}

/* Without its record a run still works; the next run only codes the files
 * left with zstd blocks again. Said once. */
static void tried_warn(struct recompress *r, int err)
{
	if (!atomic_exchange(&r->tried_warned, true))
		pctl_err("recompress: .priorfs/recompress-tried: %s; the next run "
			 "will code files left with zstd blocks again", strerror(-err));
}

/* ---- one file ------------------------------------------------------------ */

static int reencode(pf_container *c, struct pctl_progress *bar)
{
	uint32_t bs = pf_container_block_size(c), len;
	uint64_t nblocks = pctl_container_blocks(c);
	void *buf = malloc(bs);
	pf_block_entry e;
	int rc = buf ? 0 : -ENOMEM;

	for (uint64_t b = 0; b < nblocks && rc == 0; b++) {
		pf_container_block(c, b, &e);
		len = pf_container_block_len(c, b);
		if (e.codec != PF_CODEC_ZERO) { /* holes and zeros stay ZERO */
			rc = pf_container_read_block(c, b, buf, bs, &len);
			if (rc == 0)
				rc = pf_container_write_block(c, b, buf, len);
		}
		pctl_progress_add(bar, len);
	}
	free(buf);
	return rc ? rc : pf_container_commit(c, true);
}

/* Re-encodes the container in fd (owned) unless it is current. timefd is
 * a second fd of the same file, to put its times back after the commit. */
static int recompress_fd(struct recompress *r, const struct file_job *f,
			 int fd, int timefd, const struct stat *st)
{
	const struct timespec times[2] = { st->st_atim, st->st_mtim };
	pf_container *c;
	int rc;

	PF_FORWARD(pf_container_open(r->store, fd, f->path, &c));
	if (!r->force && file_current(r, c, st->st_ino)) {
		pctl_progress_add(&r->bar, f->size);
		atomic_fetch_add(&r->skipped, 1);
		pf_container_close(c);
		return 0;
	}
	atomic_fetch_add(&r->before, pctl_container_coded_bytes(c));
	rc = reencode(c, &r->bar);
	if (rc == 0)
		atomic_fetch_add(&r->after, pctl_container_coded_bytes(c));
	if (rc == 0 && r->tried && has_leftovers(r, c)) {
		int trc = pf_tried_add(r->tried, st->st_ino, pf_tried_state(c), true);

		if (trc < 0)
			tried_warn(r, trc);
	}
	pf_container_close(c);
	if (rc == 0 && futimens(timefd, times) < 0)
		rc = -errno;
	if (rc == 0)
		atomic_fetch_add(&r->done, 1);
	return rc;
}

static int recompress_one(void *arg, size_t i)
{
	struct recompress *r = arg;
	const struct file_job *f = &r->v[i];
	int fd, timefd = -1, rc;
	struct stat st;

	fd = openat(pf_store_root_fd(r->store), f->path,
		    O_RDWR | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || (timefd = dup(fd)) < 0)
		rc = -errno;
	else
		rc = S_ISREG(st.st_mode) ? 0 : -EINVAL;
	if (rc == 0)
		rc = recompress_fd(r, f, fd, timefd, &st); /* owns fd */
	else if (fd >= 0)
		close(fd);
	if (timefd >= 0)
		close(timefd);
	if (rc == -ENOMEM || rc == -ENOSPC || rc == -EROFS) {
		pctl_err("recompress: %s: %s; stopping", f->path, strerror(-rc));
		return rc; /* no other file would do better */
	}
	if (rc < 0) {
		atomic_fetch_add(&r->failed, 1);
		pctl_err("recompress: %s: %s", f->path,
			 rc == -EIO ? "corrupt container or block, left as it is"
				    : strerror(-rc));
	}
	return 0;
}

/* ---- the walk ------------------------------------------------------------ */

static void walk_error(void *arg, const char *path, const char *what, int err)
{
	struct recompress *r = arg;

	r->walk_errors++;
	pctl_err("recompress: %s: %s: %s", path, what, strerror(-err));
}

/* True when path is one of r->dirs or below one (or there are none). */
static bool path_wanted(const struct recompress *r, const char *path)
{
	for (int i = 0; i < r->ndirs; i++) {
		size_t n = strlen(r->dirs[i]);

		if (n == 0 || (!strncmp(path, r->dirs[i], n) && (!path[n] || path[n] == '/')))
			return true;
	}
	return r->ndirs == 0;
}

static int add_file(void *arg, int dirfd, const char *name, const char *path,
		    const struct stat *st)
{
	struct recompress *r = arg;
	uint64_t size = 0;
	int fd;

	(void)st;
	if (!path_wanted(r, path))
		return 0;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0) {
		pf_container_peek_size(fd, &size); /* for the bar only */
		close(fd);
	}
	if (r->count == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 256;
		struct file_job *v = reallocarray(r->v, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->count].size = size;
	r->v[r->count].path = strdup(path);
	if (!r->v[r->count].path)
		return -ENOMEM;
	r->count++;
	return 0;
}

/* ---- command ------------------------------------------------------------- */

static int load_defaults(struct recompress *r, const char *path)
{
	int rc = pf_store_models_list(r->store, &r->defaults, &r->n_models);

	if (rc < 0) {
		pctl_err("recompress: %s: cannot list models: %s", path,
			 strerror(-rc));
		return rc;
	}
	r->levels = calloc(r->n_models ? r->n_models : 1, sizeof(*r->levels));
	if (!r->levels)
		return -ENOMEM;
	r->floor = PF_MODEL_LEVEL_FAST;
	for (size_t i = 0; i < r->n_models; i++) {
		const pf_model *m;

		r->levels[i] = (enum pf_model_level)-1;
		if (!r->defaults[i].kind[0] ||
		    pf_store_model_get(r->store, r->defaults[i].id, &m) < 0)
			continue; /* a default that does not load is never current */
		r->levels[i] = pf_codec_model_level(m);
		r->have_defaults = true;
		if (r->levels[i] <= r->level && r->levels[i] > r->floor)
			r->floor = r->levels[i];
	}
	r->learned_target = r->have_defaults && r->choice != PF_CHOICE_ZSTD &&
			    r->choice != PF_CHOICE_RAW;
	if (r->choice == PF_CHOICE_LEARNED && !r->have_defaults) {
		pctl_err("recompress: %s has no default models; run "
			 "'priorctl train %s' first", path, path);
		return -ENOENT;
	}
	return 0;
}

/* Every DIR must be an entry of the store's tree (not its metadata), so a
 * typo is an error rather than a run that does nothing. */
static int dirs_check(const struct recompress *r)
{
	struct stat st;

	for (int i = 0; i < r->ndirs; i++) {
		const char *d = r->dirs[i];
		size_t first = strcspn(d, "/");
		char name[NAME_MAX + 1];

		snprintf(name, sizeof(name), "%.*s", (int)first, d);
		if (*d && (pf_store_is_meta_name(name) ||
			   fstatat(pf_store_root_fd(r->store), d, &st, AT_SYMLINK_NOFOLLOW) < 0)) {
			pctl_err("recompress: %s: no such file or directory in the store", d);
			return -ENOENT;
		}
	}
	return 0;
}

/* The run's target, for the record: its codec choice, level, min_saving
 * and zstd level (these two only when not what records made before them
 * had, so those still match), and the default models that are current for
 * it. A record made at another zstd level does not match: its file's zstd
 * blocks are coded again at this one. */
static uint64_t target_hash(const struct recompress *r)
{
	uint64_t h = XXH3_64bits_withSeed(&r->floor, sizeof(r->floor), (uint64_t)r->choice);

	if (r->min_saving != PF_MIN_SAVING_DEFAULT)
		h = XXH3_64bits_withSeed(&r->min_saving, sizeof(r->min_saving), h);
	if (r->zstd_level != PF_ZSTD_LEVEL_DEFAULT)
		h = XXH3_64bits_withSeed(&r->zstd_level, sizeof(r->zstd_level), h);
	for (size_t i = 0; i < r->n_models; i++)
		if (is_current_default(r, r->defaults[i].id))
			h = XXH3_64bits_withSeed(r->defaults[i].id, PF_MODEL_ID_SIZE, h);
	return h;
}

static int run(struct recompress *r, const char *path, unsigned jobs)
{
	uint64_t total = 0;
	char a[16], b[16];
	int rc, rc2;

	PF_FORWARD(load_defaults(r, path));
	if (r->learned_target || lowered_bar(r)) {
		rc = pf_tried_open(r->store, PF_TRIED_CTL, target_hash(r), &r->tried);
		if (rc < 0)
			tried_warn(r, rc);
	}
	rc = pctl_walk_store(r->store, add_file, walk_error, r);
	if (rc < 0) {
		pctl_err("recompress: %s: %s", path, strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < r->count; i++)
		total += r->v[i].size;
	pctl_progress_start(&r->bar, "recompress", total);
	rc = pctl_run_jobs(jobs, r->count, recompress_one, r);
	pctl_progress_end(&r->bar);
	/* A run that saw every file knows which records still count. */
	rc2 = r->tried && rc == 0 && !r->ndirs && !r->walk_errors && !atomic_load(&r->failed)
		      ? pf_tried_compact(r->tried) : 0;
	pf_tried_close(r->tried);
	if (rc2 < 0)
		tried_warn(r, rc2);
	printf("recompress: %zu files: %" PRIu64 " re-encoded (%s -> %s coded), "
	       "%" PRIu64 " already current, %" PRIu64 " failed\n", r->count,
	       atomic_load(&r->done), pctl_human_size(atomic_load(&r->before), a),
	       pctl_human_size(atomic_load(&r->after), b),
	       atomic_load(&r->skipped), atomic_load(&r->failed));
	return rc;
}

/* Cuts "./" prefixes and trailing slashes off a DIR argument in place;
 * refuses absolute paths and "..", which would leave the store. */
static int dir_normalise(char *dir)
{
	size_t n;

	while (dir[0] == '.' && dir[1] == '/')
		memmove(dir, dir + 2, strlen(dir + 2) + 1);
	n = strlen(dir);
	while (n > 0 && dir[n - 1] == '/')
		dir[--n] = '\0';
	if (!strcmp(dir, "."))
		dir[0] = '\0';
	if (dir[0] == '/' || !strcmp(dir, "..") || !strncmp(dir, "../", 3) ||
	    strstr(dir, "/../") || (n >= 3 && !strcmp(dir + n - 3, "/..")))
		return -EINVAL;
	return 0;
}

static int recompress_parse(int argc, char **argv, struct recompress *r,
			    unsigned *jobs)
{
	static const struct option longopts[] = {
		{ "codec", required_argument, NULL, 'c' },
		{ "level", required_argument, NULL, 'l' },
		{ "min-saving", required_argument, NULL, 'M' },
		{ "zstd-level", required_argument, NULL, 'Z' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "force", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = pctl_getopt("recompress", argc, argv, ":c:l:j:fvh",
				  longopts)) != -1) {
		switch (opt) {
		case 'c':
			if (pf_codec_choice_parse(optarg, &r->choice) == 0)
				break;
			pctl_err("recompress: --codec wants auto, learned, zstd "
				 "or raw, not '%s'", optarg);
			return pctl_usage(recompress_usage, false);
		case 'l':
			if (pctl_parse_level("recompress", optarg, &r->level) < 0)
				return pctl_usage(recompress_usage, false);
			break;
		case 'M':
			if (pctl_parse_min_saving("recompress", optarg, &r->min_saving) < 0)
				return pctl_usage(recompress_usage, false);
			break;
		case 'Z':
			if (pctl_parse_zstd_level("recompress", optarg, &r->zstd_level) < 0)
				return pctl_usage(recompress_usage, false);
			break;
		case 'j':
			if (pctl_parse_jobs("recompress", optarg, jobs) < 0)
				return pctl_usage(recompress_usage, false);
			break;
		case 'f':
			r->force = true;
			break;
		case 'v':
			pctl_set_verbose();
			break;
		default:
			return pctl_usage(recompress_usage, opt == 'h');
		}
	}
	if (argc - optind < 1) {
		pctl_err("recompress: expected a store");
		return pctl_usage(recompress_usage, false);
	}
	r->dirs = argv + optind + 1;
	r->ndirs = argc - optind - 1;
	for (int i = 0; i < r->ndirs; i++)
		if (dir_normalise(r->dirs[i]) < 0) {
			pctl_err("recompress: %s: not a path inside the store",
				 r->dirs[i]);
			return pctl_usage(recompress_usage, false);
		}
	return -1;
}

int pctl_cmd_recompress(int argc, char **argv)
{
	struct recompress r = { .choice = PF_CHOICE_AUTO, .min_saving = PF_MIN_SAVING_DEFAULT,
				.zstd_level = PCTL_ZSTD_LEVEL_DEFAULT,
				.level = PF_MODEL_LEVEL_DEFAULT };
	unsigned jobs = pctl_default_jobs();
	pf_store_opts opts;
	int rc;

	rc = recompress_parse(argc, argv, &r, &jobs);
	if (rc >= 0)
		return rc;
	pf_store_opts_default(&opts);
	opts.use_models = true;
	opts.codec.choice = r.choice;
	opts.codec.min_saving = r.min_saving;
	opts.codec.zstd_final_level = r.zstd_level;
	opts.level = r.level;
	if (pctl_store_open_writer("recompress", argv[optind], &opts,
				   &r.store) < 0)
		return PCTL_EXIT_USAGE;
	if (dirs_check(&r) < 0) {
		pf_store_close(r.store);
		return PCTL_EXIT_USAGE;
	}
	rc = run(&r, argv[optind], jobs);
	for (size_t i = 0; i < r.count; i++)
		free(r.v[i].path);
	free(r.v);
	free(r.defaults);
	free(r.levels);
	pf_store_close(r.store);
	if (rc < 0 || r.walk_errors || atomic_load(&r.failed))
		return PCTL_EXIT_FAULT;
	return PCTL_EXIT_OK;
}
