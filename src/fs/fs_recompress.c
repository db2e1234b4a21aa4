/* SPDX-License-Identifier: MIT */
/*
 * fs_recompress.c - background recompression (-o recompress=1): a thread at
 * low CPU priority (nice 10) moves the zstd and raw blocks of cold files to the
 * learned codec, so hot data stays fast and cold data gets small.
 *
 * Writes through the mount land with the fast codec (write_codec=zstd), as
 * the learned codec codes at MB/s. Every scan the thread walks the backing
 * tree. A regular file is cold when its backing mtime (its last commit) is
 * recompress_after seconds old or more, and no handle on the mount has it
 * open or was opened or closed within that time. For a cold file the thread takes
 * the inode's shared pf_file, as an open would, so a user opening the file
 * meanwhile shares it (fs_int.h I2); then block by block pf_file_recode()
 * codes the block with the store's default models and swaps the result in
 * if it is smaller and the block did not change meanwhile. At the end it
 * commits durably, but only if the file's only changes are its re-encodes
 * (pf_file_commit_recoded()); the mtime the mount shows is held from the
 * first re-encoded block to the commit as a write's is (fs_int.h I3). A
 * file a user changed meanwhile is left for that user's commit (close or
 * fsync), which takes the re-encoded blocks along.
 * The thread stops working on a file as soon as someone else opens it.
 * A file it coded through is skipped until its backing entry changes or the
 * store's target does (default models, codec options); the ones left with
 * zstd or raw blocks are kept in .priorfs/recompress-background
 * (store_tried.c), so a remount skips them too, where the rest show by
 * their blocks that they are done.
 *
 * Crash safety is the container's: until the commit a crash leaves the file
 * as last committed, and the commit is atomic. Foreground I/O is never held
 * up by the coding itself (it runs without the file's or the container's
 * lock); only swapping one block's index entry in and the final commit take
 * the container's write lock, and no longer than a user's own commit.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/pf_common.h"
#include "fs/fs_int.h"

/* Seconds between scans at most (and less when recompress_after is
 * shorter, so a short threshold is honoured in tests). */
#define SCAN_INTERVAL_MAX 60.0
/* Self-training: the sample it collects, at most this much, in pieces of
 * at most SAMPLE_PIECE from up to SAMPLE_PIECES places in each cold file;
 * less than SAMPLE_MIN trains nothing. */
#define SAMPLE_MAX (8u << 20)
#define SAMPLE_PIECE (1u << 20)
#define SAMPLE_PIECES 4
#define SAMPLE_MIN (1u << 20)
/* CPU priority of the thread: well below foreground work (nice 0). */
#define RECOMPRESS_NICE 10
/* Directory depth walked at most: each level holds a descriptor. */
#define WALK_DEPTH_MAX 64

struct pf_recompress {
	pf_fs *fs;              /* immutable */
	pthread_t thread;       /* immutable once started */
	pthread_mutex_t lock;   /* guards stop and the counters */
	pthread_cond_t wake;    /* signalled on stop */
	bool stop;
	uint64_t scans, files, blocks, tries, coded_bytes;
	/* Throttle: plain bytes coded since `since` (thread only). */
	double since;
	uint64_t coded;
	/* Files coded through whose backing entry has not changed since
	 * (thread only): a file where zstd beats the model, or that does not
	 * compress, is not coded again every scan, nor after a remount (the
	 * ones with such blocks are kept in the store). NULL until a scan with
	 * models opens it. */
	pf_tried *tried;
	bool tried_warned;
	/* This scan (thread only): whether the store has default models, and
	 * with train=auto and none, the sample and the logical bytes of the
	 * cold files it came from. */
	bool models;
	uint8_t *sample;
	size_t sample_len;
	uint64_t logical;
	uint64_t next_train;  /* logical bytes before the next try */
	uint64_t trainings, trained; /* under lock */
};

double pf_fs_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleeps up to `seconds` unless stopped. @return true when stopped. */
static bool nap(struct pf_recompress *bg, double seconds)
{
	struct timespec until;
	double whole;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &until);
	whole = (double)until.tv_sec + until.tv_nsec / 1e9 + seconds;
	until.tv_sec = (time_t)whole;
	until.tv_nsec = (long)((whole - (double)until.tv_sec) * 1e9);
	pthread_mutex_lock(&bg->lock);
	while (!bg->stop &&
	       pthread_cond_timedwait(&bg->wake, &bg->lock, &until) == 0)
		;
	stop = bg->stop;
	pthread_mutex_unlock(&bg->lock);
	return stop;
}

static bool stopping(struct pf_recompress *bg)
{
	bool stop;

	pthread_mutex_lock(&bg->lock);
	stop = bg->stop;
	pthread_mutex_unlock(&bg->lock);
	return stop;
}

/* Keeps the average at recompress_rate plain bytes per second. */
static bool throttle(struct pf_recompress *bg, uint64_t bytes)
{
	uint64_t rate = bg->fs->opts.recompress_rate;
	double due;

	bg->coded += bytes;
	if (rate == 0)
		return stopping(bg);
	due = bg->since + (double)bg->coded / (double)rate - pf_fs_now();
	return due > 0 ? nap(bg, due) : stopping(bg);
}

static void count(struct pf_recompress *bg, uint64_t tries, uint64_t files,
		  uint64_t blocks)
{
	pthread_mutex_lock(&bg->lock);
	bg->tries += tries;
	bg->files += files;
	bg->blocks += blocks;
	pthread_mutex_unlock(&bg->lock);
}

/* The backing file's state as far as the record goes: any commit moves
 * its ctime. */
static uint64_t file_state(const struct stat *st)
{
	uint64_t v[] = { (uint64_t)st->st_size, (uint64_t)st->st_ctim.tv_sec,
			 (uint64_t)st->st_ctim.tv_nsec };
	uint64_t h = 0x9e3779b97f4a7c15ull;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		h ^= v[i];
		h *= 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
	}
	return h;
}

static bool is_done(const struct pf_recompress *bg, const struct stat *st)
{
	return bg->tried && pf_cache_tried_has(bg->tried, st->st_ino, file_state(st));
}

/* Without its record the thread still works; it only codes some files
 * again. Said once per mount. */
static void tried_warn(struct pf_recompress *bg, int err)
{
	if (err < 0 && !bg->tried_warned) {
		bg->tried_warned = true;
		pf_log(PF_LOG_WARNING, "background recompression: .priorfs/%s: %s; "
		       "files may be coded again", PF_TRIED_BACKGROUND, strerror(-err));
	}
}

/* Remembers a file coded through; in the store too when it kept blocks the
 * model did not take (the others show as done by their blocks). */
static void mark_done(struct pf_recompress *bg, const struct stat *st, bool leftovers)
{
	if (bg->tried)
		tried_warn(bg, pf_cache_tried_add(bg->tried, st->st_ino, file_state(st),
						  leftovers));
}

/* True when a handle has the file open or let go of it recently. */
static bool in_use(pf_fs *fs, pf_inode *inode)
{
	bool busy;

	pthread_mutex_lock(&inode->lock);
	busy = inode->nhandle > 0 ||
	       (inode->used_at > 0 &&
		pf_fs_now() - inode->used_at < fs->opts.recompress_after);
	pthread_mutex_unlock(&inode->lock);
	return busy;
}

/* Re-encodes the blocks of one file; *whole says whether it got to the
 * end (not stopped, and nobody opened the file). @return blocks replaced,
 * or -errno. */
static long recode_file(struct pf_recompress *bg, pf_inode *inode, pf_file *f,
			bool *whole)
{
	uint64_t bs = pf_file_block_size(f);
	double started = pf_fs_now();
	long replaced = 0;
	bool alone = true;
	int rc = 0;

	*whole = false;
	for (uint64_t b = 0; rc >= 0 && alone; b++) {
		bool coded;

		rc = pf_file_recode(f, b, &coded);
		*whole = rc == -ERANGE;
		if (rc == -ERANGE)
			break;
		if (rc == -EAGAIN)
			rc = 0; /* changed meanwhile: its writer has it now */
		replaced += rc > 0;
		/* the rate is of coding: a block learned already costs nothing */
		if (coded) {
			pthread_mutex_lock(&bg->lock);
			bg->coded_bytes += bs;
			pthread_mutex_unlock(&bg->lock);
		}
		if (throttle(bg, coded ? bs : 0))
			break;
		/* Opened since (even if closed again): a block already passed
		 * may have changed, so this pass does not count as whole. */
		pthread_mutex_lock(&inode->lock);
		alone = inode->nhandle == 0 && inode->used_at < started;
		pthread_mutex_unlock(&inode->lock);
	}
	if (rc < 0 && rc != -ERANGE)
		return rc;
	return replaced;
}

/* True when the file has blocks the learned codec may take over. */
static bool has_fast_blocks(pf_file *f)
{
	uint8_t ids[1][PF_MODEL_ID_SIZE];
	pf_file_info info;

	pf_file_get_info(f, &info, ids, 1);
	return info.blocks[PF_CODEC_ZSTD] + info.blocks[PF_CODEC_RAW] > 0;
}

/* Adds pieces of a cold file to the training sample. */
static void sample_file(struct pf_recompress *bg, pf_file *f)
{
	uint64_t size = pf_file_size(f);
	unsigned pieces = size / SAMPLE_PIECE >= SAMPLE_PIECES
				  ? SAMPLE_PIECES : (unsigned)(size / SAMPLE_PIECE) + 1;

	bg->logical += size;
	for (unsigned i = 0; i < pieces && bg->sample_len < SAMPLE_MAX; i++) {
		size_t want = SAMPLE_MAX - bg->sample_len;
		pf_span span;
		ssize_t got;

		if (want > SAMPLE_PIECE)
			want = SAMPLE_PIECE;
		got = pf_file_read(f, size / pieces * i / PF_SAMPLE_UNIT * PF_SAMPLE_UNIT,
				   want, &span);
		if (got > 0)
			got -= got % PF_SAMPLE_UNIT; /* the tail's odd bytes */
		if (got > 0) {
			memcpy(bg->sample + bg->sample_len, span.data, (size_t)got);
			bg->sample_len += (size_t)got;
		}
		pf_span_release(&span);
	}
}

static void recompress_file(struct pf_recompress *bg, int dirfd, const char *name)
{
	pf_fs *fs = bg->fs;
	bool whole = true;
	pf_inode *inode;
	struct stat st;
	pf_file *f;
	long replaced = 0;
	int rc;

	if (pf_inode_find_at(fs, dirfd, name, &inode) < 0)
		return; /* gone, or not a regular file any more */
	if (in_use(fs, inode) || pf_inode_file_get(fs, inode, &f) < 0) {
		pf_inode_unref(fs, inode, 1);
		return;
	}
	if (bg->sample)
		sample_file(bg, f);
	if (bg->models && has_fast_blocks(f)) {
		count(bg, 1, 0, 0);
		pf_inode_hold_mtime(inode);
		replaced = recode_file(bg, inode, f, &whole);
		/* Also with nothing replaced: gives the held mtime back. */
		rc = pf_inode_commit_recoded(inode, f);
		replaced = rc < 0 ? rc : replaced;
	}
	if (bg->models && whole && replaced >= 0 && !in_use(fs, inode) &&
	    fstatat(inode->fd, "", &st, AT_EMPTY_PATH) == 0)
		mark_done(bg, &st, has_fast_blocks(f));
	if (replaced < 0)
		pf_log(PF_LOG_ERR, "background recompression of %s: %s", name,
		       strerror((int)-replaced));
	else if (replaced > 0)
		count(bg, 0, 1, (uint64_t)replaced);
	pf_inode_file_put(fs, inode);
	pf_inode_unref(fs, inode, 1);
}

/* Whether a backing file's last commit is old enough. */
static bool cold_mtime(const pf_fs *fs, const struct stat *st)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return difftime(now.tv_sec, st->st_mtim.tv_sec) >= fs->opts.recompress_after;
}

static void scan_dir(struct pf_recompress *bg, int dirfd, unsigned depth)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd == -1 ? NULL : fdopendir(fd);
	struct dirent *e;
	struct stat st;

	if (!d) {
		if (fd != -1)
			close(fd);
		return;
	}
	while ((e = readdir(d)) && !stopping(bg)) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    (depth == 0 && pf_cache_is_hidden_name(e->d_name)) ||
		    fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		if (S_ISREG(st.st_mode) && st.st_size > 0 && cold_mtime(bg->fs, &st) &&
		    !is_done(bg, &st)) {
			recompress_file(bg, dirfd, e->d_name);
		} else if (S_ISDIR(st.st_mode) && depth + 1 < WALK_DEPTH_MAX) {
			int sub = openat(dirfd, e->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub != -1) {
				scan_dir(bg, sub, depth + 1);
				close(sub);
			}
		}
	}
	closedir(d);
}

/* Trains a model from the scan's sample when enough cold data came in
 * (train=auto); the next scan recompresses with it. A model that does not
 * pay is not used, and the next try waits for train_after more bytes. */
static void train_from_sample(struct pf_recompress *bg)
{
	pf_store_train_result res;
	int rc;

	if (bg->logical < bg->next_train || bg->sample_len < SAMPLE_MIN)
		return;
	bg->next_train = bg->logical + bg->fs->opts.train_after;
	rc = pf_cache_train_default(bg->fs->cache, bg->sample, bg->sample_len,
				    bg->logical, &res);
	pthread_mutex_lock(&bg->lock);
	bg->trainings++;
	bg->trained += res.used;
	pthread_mutex_unlock(&bg->lock);
	if (rc < 0)
		pf_log(PF_LOG_ERR, "train=auto: training failed: %s", strerror(-rc));
	else
		pf_log(PF_LOG_INFO, "train=auto: model of %ju bytes from %zu bytes "
		       "of %ju: %.3f bits/byte (zstd -19 %.3f), predicted saving "
		       "%jd bytes: %s%s", (uintmax_t)res.model_bytes, bg->sample_len,
		       (uintmax_t)bg->logical, res.bits_learned, res.bits_zstd,
		       (intmax_t)res.saving, res.used ? "made the default" : "not used",
		       res.net_context ? " (its network has the context features)" : "");
}

static void scan(struct pf_recompress *bg)
{
	pf_fs *fs = bg->fs;

	bg->since = pf_fs_now();
	bg->coded = 0;
	bg->models = pf_cache_has_default_models(fs->cache);
	bg->logical = 0;
	bg->sample_len = 0;
	bg->sample = !bg->models && fs->opts.train ? malloc(SAMPLE_MAX) : NULL;
	if (bg->models) /* a new default model makes every file worth a new try */
		tried_warn(bg, pf_cache_tried_current(fs->cache, &bg->tried));
	scan_dir(bg, fs->root.fd, 0);
	if (bg->tried && bg->models && !stopping(bg))
		tried_warn(bg, pf_cache_tried_scan_end(bg->tried));
	if (bg->sample && !stopping(bg))
		train_from_sample(bg);
	free(bg->sample);
	bg->sample = NULL;
	pthread_mutex_lock(&bg->lock);
	bg->scans++;
	pthread_mutex_unlock(&bg->lock);
}

static void *recompress_main(void *arg)
{
	struct pf_recompress *bg = arg;
	double interval = bg->fs->opts.recompress_after / 2;

	/* Linux applies a nice value to the calling thread alone. Not 19:
	 * that gets next to no CPU beside one busy process. */
	setpriority(PRIO_PROCESS, (id_t)gettid(), RECOMPRESS_NICE);
	if (interval > SCAN_INTERVAL_MAX)
		interval = SCAN_INTERVAL_MAX;
	if (interval < 1)
		interval = 1;
	while (!nap(bg, interval))
		scan(bg);
	return NULL;
}

int pf_recompress_start(pf_fs *fs)
{
	struct pf_recompress *bg;
	enum pf_codec_choice choice = fs->opts.store.codec.choice;
	int rc;

	if (!(fs->opts.recompress || fs->opts.train) || fs->read_only)
		return 0;
	if (choice != PF_CHOICE_AUTO && choice != PF_CHOICE_LEARNED) {
		pf_log(PF_LOG_WARNING, "recompress=1 and train=auto need codec=auto "
		       "or learned; background recompression is off");
		return 0;
	}
	if (!fs->opts.train && !pf_cache_has_default_models(fs->cache)) {
		pf_log(PF_LOG_WARNING, "recompress=1: the store has no default "
		       "models (see priorctl train, or -o train=auto); background "
		       "recompression is off");
		return 0;
	}
	bg = calloc(1, sizeof(*bg));
	if (!bg)
		return -ENOMEM;
	bg->fs = fs;
	bg->next_train = fs->opts.train_after;
	pthread_mutex_init(&bg->lock, NULL);
	pthread_cond_init(&bg->wake, NULL);
	rc = pthread_create(&bg->thread, NULL, recompress_main, bg);
	if (rc != 0) {
		pthread_cond_destroy(&bg->wake);
		pthread_mutex_destroy(&bg->lock);
		free(bg);
		return -rc;
	}
	fs->recompress = bg;
	return 0;
}

void pf_recompress_stop(pf_fs *fs)
{
	struct pf_recompress *bg = fs ? fs->recompress : NULL;

	if (!bg)
		return;
	pthread_mutex_lock(&bg->lock);
	bg->stop = true;
	pthread_cond_signal(&bg->wake);
	pthread_mutex_unlock(&bg->lock);
	pthread_join(bg->thread, NULL);
	pthread_cond_destroy(&bg->wake);
	pthread_mutex_destroy(&bg->lock);
	pf_cache_tried_close(bg->tried);
	free(bg);
	fs->recompress = NULL;
}

void pf_recompress_get_stats(pf_fs *fs, pf_recompress_stats *st)
{
	struct pf_recompress *bg = fs->recompress;

	memset(st, 0, sizeof(*st));
	if (!bg)
		return;
	pthread_mutex_lock(&bg->lock);
	st->running = true;
	st->trainings = bg->trainings;
	st->trained = bg->trained;
	st->scans = bg->scans;
	st->tries = bg->tries;
	st->coded_bytes = bg->coded_bytes;
	st->files = bg->files;
	st->blocks = bg->blocks;
	pthread_mutex_unlock(&bg->lock);
}
