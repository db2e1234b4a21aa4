/* SPDX-License-Identifier: MIT */
/*
 * cmd_import.c - "priorctl import [--jobs N] [--no-train] SRC STORE": copies
 * a directory tree into a store, encoding with the learned codec directly on
 * all cores (writes through the mount use the fast codec instead).
 *
 * Design notes:
 * - Order: make STORE a store if needed, take the writer lock, train models
 *   from a sample of SRC (unless --no-train or the store has models), then
 *   copy. The walk of SRC (one thread, ctl_tree.c, shared with export) makes
 *   directories, symlinks and special files at once and queues regular
 *   files; --jobs threads then write the files, one file per job; hard
 *   links are made after that, and directory owners, modes, xattrs and
 *   times last, children before their parent (making entries changes a
 *   directory's mtime).
 * - Resumable: each file is written under its final name and committed
 *   durably; its times are set last. On a second run a file whose backing
 *   entry already has the source's logical size and mtime is skipped, so an
 *   interrupted import is finished by running it again. A half-written file
 *   has the mtime of its creation, not the source's, and is written again.
 *   Directories, links and special files that exist are kept.
 * - Hard links stay linked: the first name of a (dev, inode) pair is copied,
 *   the others are linked to it.
 * - Copied: mode, owner (when run as root), atime and mtime, and user.*
 *   extended attributes of files and directories (Linux allows no user.*
 *   attributes on symlinks and special files).
 * - Training and copying use one store handle, so the writer lock is held
 *   from start to end; the copy sees the new defaults at once.
 * - --shard I/N (cluster array jobs, possibly on many machines sharing the
 *   store over NFS): the shards take the writer lock *shared*, so they run
 *   together but never with a mount, an unsharded import or another
 *   writer, plus an exclusive lock of their own shard, so that no shard runs
 *   twice at once. A shard copies the files, hard links, symlinks and
 *   special files whose path hashes to it (ctl_tree.c) and makes every
 *   directory it walks; it neither makes a store nor trains (concurrent
 *   shards would race at both): the store must exist and have its models,
 *   or --no-train is given. Directory attributes are set by one unsharded
 *   import run after the last shard, which skips every file the shards
 *   wrote; it also copies what a failed shard left out.
 */
#include "priorctl/priorctl.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/pf_common.h"

static const char import_usage[] =
	"usage: priorctl import [--jobs N] [--no-train] "
	"[--level fast|default|max]\n"
	"                       [--sample SIZE] [--table-bits N] [--net-width N]\n"
	"                       [--context-features auto|yes|no] [--min-saving P]\n"
	"                       [--zstd-level N] [--shard I/N] SRC STORE\n"
	"       priorctl import --in-place [--no-train] [--level ...] DIR\n"
	"\n"
	"Copies the tree SRC into STORE (made a store if it is empty or\n"
	"missing), encoding with the learned codec. First trains models from a\n"
	"sample of SRC unless --no-train is given or STORE has models. Keeps\n"
	"modes, owners, times, hard links, symlinks, special files and user\n"
	"xattrs. An interrupted import resumes when run again: files already\n"
	"copied (same size and mtime) are skipped. Needs the writer lock.\n"
	"With --shard I/N, copies only the 1/N of the entries that hash to\n"
	"shard I (0..N-1): run shards 0..N-1 at once on an existing store with\n"
	"models (or --no-train), then once without --shard to finish.\n"
	"With --in-place, converts DIR itself into a store, one file at a time\n"
	"(free space for the largest file is enough); until it finishes the\n"
	"store cannot be mounted, and running it again resumes it.\n"
	"\n"
	"  -j, --jobs N       files written in parallel (default: CPUs)\n"
	"  -n, --no-train     do not train models first\n"
	"  -l, --level LEVEL  model level when training: fast, default or max\n"
	"  -s, --sample SIZE  most bytes sampled per kind (default 16M)\n"
	"  -t, --table-bits N model tables of 2^N slots (see priorctl train)\n"
	"  -w, --net-width N  level max: the network's width (see priorctl\n"
	"                     train)\n"
	"      --context-features auto|yes|no\n"
	"                     level max: the network's context features (see\n"
	"                     priorctl train)\n"
	"      --min-saving P store a block compressed only when that saves P\n"
	"                     percent, 0 to 50 (default 12.5); lower values\n"
	"                     also code JPEG, PNG and gzip data, slowly (see\n"
	"                     priorctl(1))\n"
	"      --zstd-level N blocks zstd codes best (or nearly) are coded at\n"
	"                     zstd level N, 1 to 19 (default 19)\n"
	"      --shard I/N    copy only shard I of N (see above)\n"
	"      --in-place     convert DIR into a store (see above)\n"
	"  -v, --verbose      also show the store layer's log lines\n"
	"  -h, --help         show this help\n";

struct import {
	struct pctl_tree tree; /* SRC -> the store root */
	pf_store *store;
	struct pctl_progress bar;
	_Atomic uint64_t copied, skipped, failed, stored;
	int lock_fds[2]; /* --shard: the shared writer lock, the shard's own */
	const struct pctl_train_opts *topts; /* --in-place: the store's level
					      * and min_saving */
};

/* ---- regular files ------------------------------------------------------- */

/* Writes the whole source into c, block by block, and commits it. A short
 * block is the last one, even if the file grows meanwhile. */
static int copy_data(struct import *im, int src, pf_container *c)
{
	uint32_t bs = pf_container_block_size(c);
	void *buf = malloc(bs);
	ssize_t n = bs;
	int rc = buf ? pf_container_set_size(c, 0) : -ENOMEM;

	for (uint64_t b = 0; rc == 0 && n == (ssize_t)bs; b++) {
		n = pf_pread_full(src, buf, bs, b * bs);
		if (n < 0)
			rc = (int)n;
		else if (n > 0)
			rc = pf_container_write_block(c, b, buf, (uint32_t)n);
		pctl_progress_add(&im->bar, n > 0 ? (uint64_t)n : 0);
	}
	free(buf);
	return rc ? rc : pf_container_commit(c, true);
}

/* True when dst is the finished copy of src from an earlier run. */
static bool already_copied(int dst, const struct stat *src)
{
	struct stat st;
	uint64_t size;

	return fstat(dst, &st) == 0 && st.st_mtim.tv_sec == src->st_mtim.tv_sec &&
	       st.st_mtim.tv_nsec == src->st_mtim.tv_nsec &&
	       pf_container_peek_size(dst, &size) == 0 &&
	       size == (uint64_t)src->st_size;
}

static int import_fd(struct import *im, const char *path, int src, int dst,
		     const struct stat *st)
{
	pf_container *c;
	int meta, rc;

	if (already_copied(dst, st)) {
		atomic_fetch_add(&im->skipped, 1);
		pctl_progress_add(&im->bar, (uint64_t)st->st_size);
		close(dst);
		return 0;
	}
	meta = dup(dst);
	if (meta < 0) {
		close(dst);
		return -errno;
	}
	rc = pf_container_open(im->store, dst, path, &c); /* owns dst */
	if (rc == 0) {
		rc = copy_data(im, src, c);
		if (rc == 0)
			atomic_fetch_add(&im->stored, pctl_container_coded_bytes(c));
		pf_container_close(c);
	}
	if (rc == 0)
		/* times last: they mark the file done */
		rc = pctl_tree_copy_meta(&im->tree, src, meta, st);
	close(meta);
	if (rc == 0)
		atomic_fetch_add(&im->copied, 1);
	return rc;
}

static int import_one(void *arg, size_t i)
{
	struct import *im = arg;
	const char *path = im->tree.files[i].path;
	int src, dst = -1, rc;
	struct stat st;

	src = openat(im->tree.srcfd, path,
		     O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (src < 0 || fstat(src, &st) < 0)
		rc = -errno;
	else if (!S_ISREG(st.st_mode))
		rc = -EINVAL; /* replaced since the walk */
	else if ((dst = openat(im->tree.dstfd, path,
			       O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
			       0600)) < 0)
		rc = -errno;
	else
		rc = import_fd(im, path, src, dst, &st); /* owns dst */
	if (src >= 0)
		close(src);
	if (rc == -ENOMEM || rc == -ENOSPC || rc == -EROFS) {
		pctl_err("import: %s: %s; stopping", path, strerror(-rc));
		return rc;
	}
	if (rc < 0) {
		atomic_fetch_add(&im->failed, 1);
		pctl_err("import: %s: %s", path, strerror(-rc));
	}
	return 0;
}

/* ---- command ------------------------------------------------------------- */

static void print_summary(struct import *im)
{
	const struct pctl_tree *t = &im->tree;
	char l[16], s[16];

	if (t->shards)
		printf("import: shard %u/%u: ", t->shard, t->shards);
	else
		printf("import: ");
	printf("%zu files (%s; %" PRIu64 " written, %s coded, %" PRIu64
	       " already there, %" PRIu64 " failed), %zu hard links, %zu "
	       "directories, %" PRIu64 " symlinks, %" PRIu64 " special files\n",
	       t->n_files, pctl_human_size(pctl_tree_bytes(t), l),
	       atomic_load(&im->copied),
	       pctl_human_size(atomic_load(&im->stored), s),
	       atomic_load(&im->skipped), atomic_load(&im->failed), t->n_links,
	       t->n_dirs, t->n_symlinks, t->n_special);
}

static int copy_tree(struct import *im, unsigned jobs)
{
	int rc;

	im->tree.dstfd = pf_store_root_fd(im->store);
	PF_FORWARD(pctl_tree_scan(&im->tree));
	pctl_progress_start(&im->bar, "import", pctl_tree_bytes(&im->tree));
	rc = pctl_run_jobs(jobs, im->tree.n_files, import_one, im);
	pctl_progress_end(&im->bar);
	if (rc < 0)
		return rc;
	pctl_tree_finish(&im->tree);
	print_summary(im);
	return 0;
}

struct import_args {
	unsigned jobs;
	bool train;
	struct pctl_train_opts topts;
	unsigned shard, shards; /* shards 0: not sharded */
	bool in_place;
};

static void import_opts(pf_store_opts *opts, const struct pctl_train_opts *topts)
{
	pf_store_opts_default(opts);
	opts->use_models = true;
	opts->codec.choice = PF_CHOICE_AUTO;
	opts->codec.min_saving = topts->min_saving;
	opts->codec.zstd_final_level = topts->zstd_level;
	opts->level = topts->level;
}

/* Makes dst a store unless it is one; opens it locked for writing. */
static int open_store(const char *dst, const struct pctl_train_opts *topts,
		      pf_store **store)
{
	pf_store_opts opts;
	int rc = pf_store_init(dst);

	if (rc < 0 && rc != -EEXIST) {
		pctl_err("import: %s: %s", dst,
			 rc == -ENOTEMPTY ? "not empty and not a priorfs store"
					  : strerror(-rc));
		return rc;
	}
	import_opts(&opts, topts);
	return pctl_store_open_writer("import", dst, &opts, store);
}

/* flock()s the file `name` below the store root without waiting.
 * @return the fd holding the lock, or a negative errno (-EBUSY: held). */
static int lock_file(pf_store *store, const char *name, int how)
{
	int fd = openat(pf_store_root_fd(store), name,
			O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	if (flock(fd, how | LOCK_NB) < 0) {
		int err = errno == EWOULDBLOCK ? -EBUSY : -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Takes the writer lock shared with the other shards, then this shard's
 * own lock. @return 0 or a negative errno (message printed). */
static int lock_shard(struct import *im, const struct import_args *a,
		      const char *dst)
{
	char name[64];
	int fd = lock_file(im->store, PF_META_NAME "/lock", LOCK_SH);

	if (fd < 0) {
		pctl_err("import: %s: %s", dst, fd == -EBUSY ?
			 "in use by a read-write mount or an unsharded writer "
			 "(import, recompress, train, models gc); shards share "
			 "a store only with each other" : strerror(-fd));
		return fd;
	}
	im->lock_fds[0] = fd;
	snprintf(name, sizeof(name), PF_META_NAME "/shard-%u-of-%u.lock",
		 a->shard, a->shards);
	fd = lock_file(im->store, name, LOCK_EX);
	if (fd < 0) {
		pctl_err("import: %s: %s", dst, fd == -EBUSY ?
			 "this shard is already running" : strerror(-fd));
		return fd;
	}
	im->lock_fds[1] = fd;
	return 0;
}

/* Opens an existing store for shard a->shard, which must find models
 * there unless --no-train. @return 0 or a negative errno (printed). */
static int open_shard(struct import *im, const struct import_args *a,
		      const char *src, const char *dst)
{
	pf_model_info *v = NULL;
	pf_store_opts opts;
	size_t n = 0;
	int rc;

	import_opts(&opts, &a->topts);
	rc = pf_store_open(dst, &opts, &im->store);
	if (rc < 0) {
		pctl_err("import: %s: %s; with --shard, make the store before "
			 "the shards run: priorctl init %s", dst,
			 rc == -EINVAL ? "not a priorfs store" : strerror(-rc),
			 dst);
		return rc;
	}
	PF_FORWARD(lock_shard(im, a, dst));
	rc = pf_store_models_list(im->store, &v, &n);
	free(v);
	if (rc < 0) {
		pctl_err("import: %s: cannot list models: %s", dst,
			 strerror(-rc));
		return rc;
	}
	if (a->train && !n) {
		pctl_err("import: %s has no models, and shards do not train: "
			 "run 'priorctl train --from %s %s' once before the "
			 "shards, or give them --no-train", dst, src, dst);
		return -EINVAL;
	}
	return 0;
}

/* Trains from SRC unless told not to or the store already has models.
 * @return the exit status of training (OK when skipped). */
static int maybe_train(struct import_args *a, const char *src, const char *dst,
		       pf_store *store)
{
	pf_model_info *v = NULL;
	size_t n = 0;
	int rc = pf_store_models_list(store, &v, &n);

	free(v);
	if (rc < 0) {
		pctl_err("import: %s: cannot list models: %s", dst, strerror(-rc));
		return PCTL_EXIT_FAULT;
	}
	if (!a->train || n)
		return PCTL_EXIT_OK;
	a->topts.from = src;
	return pctl_train_run(store, dst, &a->topts);
}

static int import_run(struct import_args *a, const char *src, const char *dst)
{
	struct import im = { .tree = { .cmd = "import",
				       .owner = geteuid() == 0,
				       .shard = a->shard, .shards = a->shards },
			     .lock_fds = { -1, -1 } };
	int rc, status = PCTL_EXIT_USAGE;

	im.tree.srcfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (im.tree.srcfd < 0) {
		pctl_err("import: %s: %s", src, strerror(errno));
		return PCTL_EXIT_USAGE;
	}
	if (a->shards ? open_shard(&im, a, src, dst) < 0
		      : open_store(dst, &a->topts, &im.store) < 0)
		goto close_all;
	status = a->shards ? PCTL_EXIT_OK : maybe_train(a, src, dst, im.store);
	rc = copy_tree(&im, a->jobs);
	if (rc < 0)
		pctl_err("import: %s: %s", src, strerror(-rc));
	if (rc < 0 || im.tree.errors || atomic_load(&im.failed))
		status = PCTL_EXIT_FAULT;
	pctl_tree_free(&im.tree);
close_all:
	for (int i = 0; i < 2; i++)
		if (im.lock_fds[i] >= 0)
			close(im.lock_fds[i]);
	pf_store_close(im.store);
	close(im.tree.srcfd);
	return status;
}

/* ---- --in-place DIR -------------------------------------------------------
 *
 * DIR becomes the store. Its metadata directory is made in a staging
 * directory inside DIR and renamed into place together with the journal
 * .priorfs/inplace, so DIR is never a store without it; while the journal
 * exists the mount and the reading commands refuse the store. The journal
 * holds "<inode> <path>\0" records: a path is converted exactly when a
 * record names it with its current inode (the container's). One file at a
 * time: encode into .priorfs/inplace.tmp, give it the file's attributes,
 * fsync, journal every name of the inode, rename it over the first name,
 * then link it over the others through .priorfs/inplace.lnk. A crash
 * leaves each name its plain file or a complete container, told apart by
 * the inode alone (never by the bytes, which may look like a container);
 * on a rerun a name journaled but still plain is linked to its inode's
 * container when another name has one. Directory times are saved at the
 * start in .priorfs/inplace-dirs and restored last; then both files go.
 */

struct ip_file {
	char *path;
	dev_t dev;
	ino_t ino;
	size_t order; /* walk order */
};

struct ip_dir {
	char *path;
	struct timespec times[2];
};

struct inplace {
	struct import im;
	const char *dir;
	int rootfd, metafd, jfd;
	struct ip_file *files; /* walk order, every name */
	size_t n_files, cap_files;
	struct ip_dir *dirs;
	size_t n_dirs, cap_dirs;
	struct ip_file *done; /* journal records, sorted by path */
	size_t n_done;
	uint64_t bytes, relinked;
};

static int ip_grow(void **v, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap ? 2 * *cap : 256;
	void *p;

	if (n < *cap)
		return 0;
	p = reallocarray(*v, c, size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = c;
	return 0;
}

static int ip_walk_file(void *arg, int dirfd, const char *name,
			const char *path, const struct stat *st)
{
	struct inplace *ip = arg;
	struct ip_file *f;

	(void)dirfd;
	(void)name;
	PF_FORWARD(ip_grow((void **)&ip->files, &ip->cap_files, ip->n_files,
			   sizeof(*f)));
	f = &ip->files[ip->n_files];
	*f = (struct ip_file){ strdup(path), st->st_dev, st->st_ino,
			       ip->n_files };
	if (!f->path)
		return -ENOMEM;
	ip->n_files++;
	ip->bytes += (uint64_t)st->st_size; /* hard links counted per name */
	return 0;
}

static int ip_walk_dir(void *arg, int dirfd, const char *name,
		       const char *path, const struct stat *st)
{
	struct inplace *ip = arg;
	struct ip_dir *d;

	(void)dirfd;
	(void)name;
	PF_FORWARD(ip_grow((void **)&ip->dirs, &ip->cap_dirs, ip->n_dirs,
			   sizeof(*d)));
	d = &ip->dirs[ip->n_dirs];
	*d = (struct ip_dir){ strdup(path), { st->st_atim, st->st_mtim } };
	if (!d->path)
		return -ENOMEM;
	ip->n_dirs++;
	return 0;
}

static void ip_walk_err(void *arg, const char *path, const char *what,
			int err)
{
	pctl_tree_report(&((struct inplace *)arg)->im.tree, path, what, err);
}

/* Reads a file of NUL-ended records into a NUL-terminated buffer. */
static int read_records(int metafd, const char *name, char **buf, size_t *len)
{
	int fd = openat(metafd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0)
		return fd < 0 ? -errno : (close(fd), -EIO);
	*buf = malloc((size_t)st.st_size + 1);
	n = *buf ? pf_pread_full(fd, *buf, (size_t)st.st_size, 0) : -ENOMEM;
	close(fd);
	if (n < 0)
		return (int)n;
	(*buf)[n] = '\0';
	*len = (size_t)n;
	return 0;
}

static int cmp_path(const void *a, const void *b)
{
	return strcmp(((const struct ip_file *)a)->path,
		      ((const struct ip_file *)b)->path);
}

/* Loads the journal; a torn last record (no NUL) is ignored: its rename
 * never happened, since records are synced before it. */
static int load_journal(struct inplace *ip)
{
	char *buf, *p, *end;
	size_t len, cap = 0;
	int rc = read_records(ip->metafd, "inplace", &buf, &len);

	if (rc < 0)
		return rc;
	for (p = buf; rc == 0 && (end = memchr(p, '\0', len - (size_t)(p - buf)));
	     p = end + 1) {
		char *sp = strchr(p, ' ');

		if (!sp)
			continue;
		rc = ip_grow((void **)&ip->done, &cap, ip->n_done,
			     sizeof(*ip->done));
		if (rc == 0 && !(ip->done[ip->n_done].path = strdup(sp + 1)))
			rc = -ENOMEM;
		if (rc == 0)
			ip->done[ip->n_done++].ino = (ino_t)strtoull(p, NULL, 10);
	}
	free(buf);
	if (ip->n_done) /* done is NULL for an empty journal, which qsort may not take */
		qsort(ip->done, ip->n_done, sizeof(*ip->done), cmp_path);
	return rc;
}

/* The journaled inode of path, or 0. */
static ino_t journaled(const struct inplace *ip, const char *path)
{
	struct ip_file key = { .path = (char *)path };
	const struct ip_file *d = ip->n_done ? bsearch(&key, ip->done, ip->n_done,
						       sizeof(key), cmp_path) : NULL;

	return d ? d->ino : 0;
}

static int load_dirs(struct inplace *ip)
{
	char *buf, *p, *end;
	size_t len;
	int rc = read_records(ip->metafd, "inplace-dirs", &buf, &len);

	for (p = buf; rc == 0 && (end = memchr(p, '\0', len - (size_t)(p - buf)));
	     p = end + 1) {
		struct ip_dir *d;
		long long as, ms;
		long an, mn;
		int off = 0;

		if (sscanf(p, "%lld.%ld %lld.%ld %n", &as, &an, &ms, &mn, &off) < 4 ||
		    !off)
			continue;
		rc = ip_grow((void **)&ip->dirs, &ip->cap_dirs, ip->n_dirs,
			     sizeof(*d));
		if (rc < 0)
			break;
		d = &ip->dirs[ip->n_dirs];
		*d = (struct ip_dir){ strdup(p + off),
				      { { as, an }, { ms, mn } } };
		rc = d->path ? 0 : -ENOMEM;
		ip->n_dirs += !rc;
	}
	if (rc == 0)
		free(buf);
	return rc;
}

/* Writes the directory times and an empty journal into metafd. */
static int write_start(const struct inplace *ip, int metafd)
{
	int fd = openat(metafd, "inplace-dirs",
			O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	int rc = 0;

	if (!f)
		return fd < 0 ? -errno : (close(fd), -ENOMEM);
	for (size_t i = 0; i < ip->n_dirs; i++) {
		const struct ip_dir *d = &ip->dirs[i];

		fprintf(f, "%lld.%09ld %lld.%09ld %s%c", (long long)d->times[0].tv_sec,
			d->times[0].tv_nsec, (long long)d->times[1].tv_sec,
			d->times[1].tv_nsec, d->path, '\0');
	}
	if (fflush(f) || fsync(fd) < 0)
		rc = -errno;
	fclose(f);
	fd = openat(metafd, "inplace", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);
	if (fd < 0 || fsync(fd) < 0)
		rc = rc ? rc : -errno;
	if (fd >= 0)
		close(fd);
	return rc;
}

#define IP_STAGE ".priorfs-inplace.tmp"

/* Makes DIR a store whose journal exists from its first moment: the
 * metadata directory is built in a staging directory, then renamed. */
static int make_store(struct inplace *ip)
{
	char stage[PATH_MAX];
	int metafd, rc;

	if (snprintf(stage, sizeof(stage), "%s/" IP_STAGE, ip->dir) >=
	    (int)sizeof(stage))
		return -ENAMETOOLONG;
	rc = pf_store_init(stage);
	if (rc < 0)
		return rc == -EEXIST || rc == -ENOTEMPTY ? -EEXIST : rc;
	metafd = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (metafd < 0)
		return -errno;
	rc = openat(metafd, PF_META_NAME, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rc >= 0) {
		int m = rc;

		rc = write_start(ip, m);
		close(m);
	} else {
		rc = -errno;
	}
	if (rc == 0 && renameat(metafd, PF_META_NAME, ip->rootfd,
				PF_META_NAME) < 0)
		rc = -errno;
	close(metafd);
	if (rc == 0 && (unlinkat(ip->rootfd, IP_STAGE, AT_REMOVEDIR) < 0 ||
			fsync(ip->rootfd) < 0))
		rc = -errno;
	return rc;
}

/* Appends the journal records of names[0..n) with inode ino; synced. */
static int journal_add(struct inplace *ip, struct ip_file **names, size_t n,
		       ino_t ino)
{
	for (size_t i = 0; i < n; i++) {
		char *rec;
		int len = asprintf(&rec, "%llu %s%c", (unsigned long long)ino,
				   names[i]->path, '\0');
		ssize_t w;

		if (len < 0)
			return -ENOMEM;
		w = write(ip->jfd, rec, (size_t)len);
		free(rec);
		if (w != len)
			return w < 0 ? -errno : -EIO;
	}
	return fdatasync(ip->jfd) < 0 ? -errno : 0;
}

/* Replaces name `path` with a link to the inode at `first`. */
static int relink(struct inplace *ip, const char *first, const char *path)
{
	if (unlinkat(ip->metafd, "inplace.lnk", 0) < 0 && errno != ENOENT)
		return -errno;
	if (linkat(ip->rootfd, first, ip->metafd, "inplace.lnk", 0) < 0 ||
	    renameat(ip->metafd, "inplace.lnk", ip->rootfd, path) < 0)
		return -errno;
	ip->relinked++;
	return 0;
}

/* Encodes the plain file src into .priorfs/inplace.tmp with its
 * attributes. @return the temp file's fd (open) or a negative errno. */
static int encode_tmp(struct inplace *ip, const char *path, int src,
		      const struct stat *st)
{
	pf_container *c;
	int fd, meta, rc;

	fd = openat(ip->metafd, "inplace.tmp",
		    O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	meta = dup(fd);
	if (meta < 0) {
		close(fd);
		return -errno;
	}
	rc = pf_container_open(ip->im.store, fd, path, &c); /* owns fd */
	if (rc == 0) {
		rc = copy_data(&ip->im, src, c);
		if (rc == 0)
			atomic_fetch_add(&ip->im.stored,
					 pctl_container_coded_bytes(c));
		pf_container_close(c);
	}
	if (rc == 0)
		rc = pctl_tree_copy_meta(&ip->im.tree, src, meta, st);
	if (rc == 0 && fsync(meta) < 0)
		rc = -errno;
	if (rc < 0) {
		close(meta);
		return rc;
	}
	return meta;
}

/* Converts the inode whose names (walk order) are names[0..n). */
static int convert_inode(struct inplace *ip, struct ip_file **names, size_t n)
{
	const char *first = names[0]->path;
	int src, tmp, rc;
	struct stat st, ts;

	src = openat(ip->rootfd, first, O_RDONLY | O_NOFOLLOW | O_NOCTTY |
					O_NONBLOCK | O_CLOEXEC);
	if (src < 0)
		return -errno;
	if (fstat(src, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_ino != names[0]->ino) {
		close(src);
		return -EINVAL; /* replaced since the walk */
	}
	tmp = encode_tmp(ip, first, src, &st);
	rc = tmp < 0 ? tmp : fstat(tmp, &ts) < 0 ? -errno : 0;
	if (rc == 0)
		rc = journal_add(ip, names, n, ts.st_ino);
	if (rc == 0 && renameat(ip->metafd, "inplace.tmp", ip->rootfd, first) < 0)
		rc = -errno;
	for (size_t i = 1; rc == 0 && i < n; i++)
		rc = relink(ip, first, names[i]->path);
	if (tmp >= 0)
		close(tmp);
	close(src); /* the plain inode's space is freed here */
	return rc;
}

static int cmp_inode(const void *a, const void *b)
{
	const struct ip_file *x = *(struct ip_file *const *)a;
	const struct ip_file *y = *(struct ip_file *const *)b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* A name journaled with inode ino that has it now, other than except. */
static const char *converted_twin(const struct inplace *ip, ino_t ino,
				  const char *except)
{
	struct stat st;

	for (size_t i = 0; i < ip->n_done; i++)
		if (ip->done[i].ino == ino && strcmp(ip->done[i].path, except) &&
		    fstatat(ip->rootfd, ip->done[i].path, &st,
			    AT_SYMLINK_NOFOLLOW) == 0 && st.st_ino == ino)
			return ip->done[i].path;
	return NULL;
}

/* Handles the names of one inode: skips it when converted; links names a
 * crash left plain to their converted twin; else converts it. */
static int inplace_inode(struct inplace *ip, struct ip_file **names, size_t n)
{
	ino_t j = journaled(ip, names[0]->path);
	const char *twin;
	int rc = 0;

	if (j && j == names[0]->ino) {
		atomic_fetch_add(&ip->im.skipped, 1);
		return 0;
	}
	twin = j ? converted_twin(ip, j, names[0]->path) : NULL;
	if (!twin) {
		rc = convert_inode(ip, names, n);
		if (rc == 0)
			atomic_fetch_add(&ip->im.copied, 1);
		return rc;
	}
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = relink(ip, twin, names[i]->path);
	return rc;
}

static bool fatal(int rc)
{
	return rc == -ENOMEM || rc == -ENOSPC || rc == -EROFS || rc == -EIO;
}

/* Converts every file, one inode at a time, in walk order. */
static int inplace_files(struct inplace *ip)
{
	size_t n = ip->n_files ? ip->n_files : 1, *pos = malloc(n * sizeof(*pos));
	struct ip_file **by = malloc(n * sizeof(*by));
	bool *seen = calloc(n, 1);
	int rc = by && seen && pos ? 0 : -ENOMEM;

	for (size_t i = 0; rc == 0 && i < ip->n_files; i++)
		by[i] = &ip->files[i];
	if (rc == 0)
		qsort(by, ip->n_files, sizeof(*by), cmp_inode);
	for (size_t i = 0; rc == 0 && i < ip->n_files; i++)
		pos[by[i]->order] = i;
	/* by[] has an inode's names together, in walk order; the first one
	 * met in walk order starts its group */
	for (size_t k = 0; rc == 0 && k < ip->n_files; k++) {
		size_t a = pos[k], b = a;

		if (seen[a])
			continue;
		while (b < ip->n_files && by[b]->dev == by[a]->dev &&
		       by[b]->ino == by[a]->ino)
			seen[b++] = true;
		rc = inplace_inode(ip, by + a, b - a);
		if (rc < 0)
			pctl_err("import: %s: %s%s", by[a]->path, strerror(-rc),
				 fatal(rc) ? "; stopping" : "");
		if (rc < 0 && !fatal(rc)) {
			atomic_fetch_add(&ip->im.failed, 1);
			rc = 0;
		}
	}
	free(pos);
	free(by);
	free(seen);
	return rc;
}

/* Restores the directory times saved at the start, syncs, and removes the
 * journal: from then on DIR is a complete store. */
static int inplace_finish(struct inplace *ip)
{
	for (size_t i = 0; i < ip->n_dirs; i++) {
		const struct ip_dir *d = &ip->dirs[i];

		if (utimensat(ip->rootfd, *d->path ? d->path : ".", d->times,
			      AT_SYMLINK_NOFOLLOW) < 0)
			pctl_tree_report(&ip->im.tree, d->path,
					 "directory times", -errno);
	}
	if (syncfs(ip->rootfd) < 0)
		return -errno;
	if (unlinkat(ip->metafd, "inplace", 0) < 0 ||
	    unlinkat(ip->metafd, "inplace-dirs", 0) < 0 || fsync(ip->metafd) < 0)
		return -errno;
	return 0;
}

/* Opens DIR and its metadata directory if it has one: *resume is set when
 * that is an unfinished conversion. @return 0 or a negative errno
 * (message printed). */
static int inplace_open_dir(struct inplace *ip, bool *resume)
{
	ip->rootfd = open(ip->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ip->rootfd < 0) {
		pctl_err("import: %s: %s", ip->dir, strerror(errno));
		return -errno;
	}
	/* an empty one is left when a start was cut after its rename */
	if (unlinkat(ip->rootfd, IP_STAGE, AT_REMOVEDIR) < 0 && errno != ENOENT) {
		pctl_err("import: %s/%s: %s; it is left from an interrupted "
			 "start: remove it and run again", ip->dir, IP_STAGE,
			 strerror(errno));
		return -EEXIST;
	}
	ip->metafd = openat(ip->rootfd, PF_META_NAME,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	*resume = ip->metafd >= 0;
	if (ip->metafd < 0 && errno == ENOENT)
		return 0;
	if (ip->metafd < 0 || faccessat(ip->metafd, "inplace", F_OK,
					AT_SYMLINK_NOFOLLOW) < 0) {
		pctl_err("import: %s: %s", ip->dir,
			 faccessat(ip->rootfd, PF_META_NAME "/" PF_STORE_CONFIG,
				   F_OK, AT_SYMLINK_NOFOLLOW) == 0
				 ? "already a priorfs store"
				 : "has an entry named " PF_META_NAME
				   ", which a store keeps for itself");
		return -EEXIST;
	}
	return 0;
}

/* Walks DIR (saving directory times when starting), makes it a store if
 * it is not one yet, opens it and takes the writer lock. */
static int inplace_setup(struct inplace *ip, bool resume)
{
	const struct pctl_walk_fns fns = {
		.file = ip_walk_file, .dir_enter = resume ? NULL : ip_walk_dir,
		.err = ip_walk_err,
	};
	pf_store_opts opts;
	int rc = pctl_walk_tree(ip->rootfd, true, &fns, ip);

	if (rc == 0 && !resume) {
		rc = make_store(ip);
		if (rc < 0)
			pctl_err("import: %s: cannot make it a store: %s",
				 ip->dir, strerror(-rc));
		else if ((ip->metafd = openat(ip->rootfd, PF_META_NAME,
					      O_RDONLY | O_DIRECTORY |
					      O_CLOEXEC)) < 0)
			rc = -errno;
	}
	if (rc < 0)
		return rc;
	import_opts(&opts, ip->im.topts);
	rc = pf_store_open(ip->dir, &opts, &ip->im.store);
	if (rc == 0 && (rc = pf_store_lock_writer(ip->im.store)) == -EBUSY)
		pctl_err("import: %s is in use by another writer", ip->dir);
	if (rc == 0 && resume && ((rc = load_journal(ip)) < 0 ||
				  (rc = load_dirs(ip)) < 0))
		pctl_err("import: %s: cannot read the conversion journal: %s",
			 ip->dir, strerror(-rc));
	if (rc == 0 && (ip->jfd = openat(ip->metafd, "inplace",
					 O_WRONLY | O_APPEND | O_CLOEXEC)) < 0)
		rc = -errno;
	return rc;
}

static void inplace_free(struct inplace *ip)
{
	for (size_t i = 0; i < ip->n_files; i++)
		free(ip->files[i].path);
	for (size_t i = 0; i < ip->n_dirs; i++)
		free(ip->dirs[i].path);
	for (size_t i = 0; i < ip->n_done; i++)
		free(ip->done[i].path);
	free(ip->files);
	free(ip->dirs);
	free(ip->done);
	pf_store_close(ip->im.store);
	for (int i = 0; i < 3; i++) {
		int fd = i == 0 ? ip->jfd : i == 1 ? ip->metafd : ip->rootfd;

		if (fd >= 0)
			close(fd);
	}
}

static int inplace_run(struct import_args *a, const char *dir)
{
	struct inplace ip = { .im = { .tree = { .cmd = "import",
						.owner = geteuid() == 0 },
				      .topts = &a->topts },
			      .dir = dir, .rootfd = -1, .metafd = -1, .jfd = -1 };
	int status = PCTL_EXIT_USAGE, rc;
	bool resume = false;
	char l[16], c[16];

	if (inplace_open_dir(&ip, &resume) < 0 || inplace_setup(&ip, resume) < 0)
		goto free_all;
	status = PCTL_EXIT_OK;
	if (a->train && !ip.n_done) /* nothing converted: all still plain */
		status = maybe_train(a, dir, dir, ip.im.store);
	pctl_progress_start(&ip.im.bar, "import", ip.bytes);
	rc = inplace_files(&ip);
	pctl_progress_end(&ip.im.bar);
	if (rc == 0 && !atomic_load(&ip.im.failed) && (rc = inplace_finish(&ip)) < 0)
		pctl_err("import: %s: cannot finish: %s", dir, strerror(-rc));
	if (rc < 0 || ip.im.tree.errors || atomic_load(&ip.im.failed))
		status = PCTL_EXIT_FAULT;
	printf("import --in-place: %zu names (%s; %" PRIu64 " files converted, "
	       "%s coded, %" PRIu64 " already converted, %" PRIu64 " failed), "
	       "%" PRIu64 " hard links, %s\n", ip.n_files,
	       pctl_human_size(ip.bytes, l), atomic_load(&ip.im.copied),
	       pctl_human_size(atomic_load(&ip.im.stored), c),
	       atomic_load(&ip.im.skipped), atomic_load(&ip.im.failed),
	       ip.relinked, status == PCTL_EXIT_OK ? "finished"
						  : "unfinished: run it again");
free_all:
	inplace_free(&ip);
	return status;
}

/* Parses --shard I/N: decimal, 0 <= I < N <= 65536. @return 0 or -EINVAL
 * (message printed). */
static int parse_shard(const char *arg, unsigned *shard, unsigned *shards)
{
	unsigned long i, n;
	char *end;

	errno = 0;
	i = *arg >= '0' && *arg <= '9' ? strtoul(arg, &end, 10) : ULONG_MAX;
	if (i != ULONG_MAX && *end == '/' && end[1] >= '0' && end[1] <= '9') {
		n = strtoul(end + 1, &end, 10);
		if (!errno && !*end && n >= 1 && n <= 65536 && i < n) {
			*shard = (unsigned)i;
			*shards = (unsigned)n;
			return 0;
		}
	}
	pctl_err("import: --shard: expected I/N with 0 <= I < N <= 65536, "
		 "got '%s'", arg);
	return -EINVAL;
}

/* Applies one parsed option other than --help. @return 0 or -EINVAL
 * (message printed). */
static int import_opt(int opt, struct import_args *a)
{
	uint64_t cap;

	switch (opt) {
	case 'j':
		return pctl_parse_jobs("import", optarg, &a->jobs);
	case 'n':
		a->train = false;
		return 0;
	case 'l':
		return pctl_parse_level("import", optarg, &a->topts.level);
	case 's':
		PF_FORWARD(pctl_parse_size_opt("import", "--sample", optarg,
					       1u << 20, 1ull << 30, &cap));
		a->topts.sample_cap = (size_t)cap;
		return 0;
	case 't':
		return pctl_parse_table_bits("import", optarg,
					     &a->topts.table_bits);
	case 'w':
		return pctl_parse_net_width("import", optarg,
					    &a->topts.net_width);
	case 'C':
		return pctl_parse_context("import", optarg, &a->topts.context);
	case 'M':
		return pctl_parse_min_saving("import", optarg, &a->topts.min_saving);
	case 'Z':
		return pctl_parse_zstd_level("import", optarg, &a->topts.zstd_level);
	case 'I':
		a->in_place = true;
		return 0;
	case 'S':
		return parse_shard(optarg, &a->shard, &a->shards);
	case 'v':
		pctl_set_verbose();
		return 0;
	}
	return -EINVAL;
}

static int import_parse(int argc, char **argv, struct import_args *a)
{
	static const struct option longopts[] = {
		{ "jobs", required_argument, NULL, 'j' },
		{ "no-train", no_argument, NULL, 'n' },
		{ "level", required_argument, NULL, 'l' },
		{ "sample", required_argument, NULL, 's' },
		{ "table-bits", required_argument, NULL, 't' },
		{ "net-width", required_argument, NULL, 'w' },
		{ "context-features", required_argument, NULL, 'C' },
		{ "min-saving", required_argument, NULL, 'M' },
		{ "zstd-level", required_argument, NULL, 'Z' },
		{ "shard", required_argument, NULL, 'S' },
		{ "in-place", no_argument, NULL, 'I' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = pctl_getopt("import", argc, argv, ":j:nl:s:t:w:vh",
				  longopts)) != -1) {
		if (opt == 'h' || opt == '?')
			return pctl_usage(import_usage, opt == 'h');
		if (import_opt(opt, a) < 0)
			return pctl_usage(import_usage, false);
	}
	if (pctl_train_opts_check("import", &a->topts) < 0)
		return pctl_usage(import_usage, false);
	if (a->in_place && (a->shards || argc - optind != 1)) {
		pctl_err("import: --in-place takes one directory and no --shard");
		return pctl_usage(import_usage, false);
	}
	if (!a->in_place && argc - optind != 2) {
		pctl_err("import: expected a source directory and a store, got "
			 "%d arguments", argc - optind);
		return pctl_usage(import_usage, false);
	}
	return -1;
}

int pctl_cmd_import(int argc, char **argv)
{
	struct import_args a = {
		.jobs = pctl_default_jobs(), .train = true,
		.topts = { .level = PF_MODEL_LEVEL_DEFAULT,
			   .sample_cap = PCTL_SAMPLE_CAP_DEFAULT,
			   .min_saving = PF_MIN_SAVING_DEFAULT,
			   .zstd_level = PCTL_ZSTD_LEVEL_DEFAULT },
	};
	int rc = import_parse(argc, argv, &a);

	if (rc >= 0)
		return rc;
	if (a.in_place)
		return inplace_run(&a, argv[optind]);
	return import_run(&a, argv[optind], argv[optind + 1]);
}
