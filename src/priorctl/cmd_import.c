/* SPDX-License-Identifier: MIT */
/*
 * cmd_import.c - "priorctl import [--jobs N] [--no-train] SRC STORE": copies
 * a directory tree into a store, encoding with the learned codec directly on
 * all cores (writes through the mount use the fast codec instead).
 *
 * Design notes:
 * - Order: make STORE a store if needed, take the writer lock, train models
 *   from a sample of SRC (unless --no-train or the store has models), then
 *   copy. The walk of SRC (one thread) makes directories, symlinks and
 *   special files at once and queues regular files; --jobs threads then
 *   write the files, one file per job; hard links are made after that, and
 *   directory owners, modes, xattrs and times last, children before their
 *   parent (making entries changes a directory's mtime).
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
 */
#include "priorctl/priorctl.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/pf_common.h"

static const char import_usage[] =
	"usage: priorctl import [--jobs N] [--no-train] [--level fast|default]\n"
	"                       [--sample SIZE] [--table-bits N] SRC STORE\n"
	"\n"
	"Copies the tree SRC into STORE (made a store if it is empty or\n"
	"missing), encoding with the learned codec. First trains models from a\n"
	"sample of SRC unless --no-train is given or STORE has models. Keeps\n"
	"modes, owners, times, hard links, symlinks, special files and user\n"
	"xattrs. An interrupted import resumes when run again: files already\n"
	"copied (same size and mtime) are skipped. Needs the writer lock.\n"
	"\n"
	"  -j, --jobs N       files written in parallel (default: CPUs)\n"
	"  -n, --no-train     do not train models first\n"
	"  -l, --level LEVEL  model level when training: fast or default\n"
	"  -s, --sample SIZE  most bytes sampled per kind (default 16M)\n"
	"  -t, --table-bits N model tables of 2^N slots (see priorctl train)\n"
	"  -v, --verbose      also show the store layer's log lines\n"
	"  -h, --help         show this help\n";

struct file_job {
	char *path;    /* relative to SRC and to STORE */
	uint64_t size; /* at the walk, for the bar */
};

struct link_job {
	char *path, *target; /* a later name and the copied one */
};

struct dir_job {
	char *path; /* "" for the root */
};

/* (dev, inode) of multiply-linked files -> the first path seen. */
struct inode_slot {
	dev_t dev;
	ino_t ino;
	const char *path; /* NULL: empty slot */
};

struct import {
	pf_store *store;
	int srcfd, dstfd; /* roots */
	struct stat store_root; /* never walked into, if inside SRC */
	bool owner;        /* copy owners (running as root) */
	struct file_job *files;
	size_t n_files, cap_files;
	struct link_job *links;
	size_t n_links, cap_links;
	struct dir_job *dirs; /* post-order */
	size_t n_dirs, cap_dirs;
	struct inode_slot *inodes;
	size_t n_inodes, cap_inodes; /* cap: a power of two */
	uint64_t n_symlinks, n_special, errors;
	struct pctl_progress bar;
	_Atomic uint64_t copied, skipped, failed, stored;
};

/* ---- growing arrays ------------------------------------------------------ */

static int grow(void **v, size_t *cap, size_t count, size_t size)
{
	size_t n = *cap ? 2 * *cap : 64;
	void *p;

	if (count < *cap)
		return 0;
	p = reallocarray(*v, n, size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = n;
	return 0;
}

static uint64_t inode_hash(dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)dev * 0x9e3779b97f4a7c15ull) ^ (uint64_t)ino;

	return (h ^ (h >> 29)) * 0xbf58476d1ce4e5b9ull;
}

static struct inode_slot *inode_find(struct import *im, dev_t dev, ino_t ino)
{
	size_t mask = im->cap_inodes - 1;

	for (size_t i = inode_hash(dev, ino) & mask;; i = (i + 1) & mask) {
		struct inode_slot *s = &im->inodes[i];

		if (!s->path || (s->dev == dev && s->ino == ino))
			return s;
	}
}

static int inodes_grow(struct import *im)
{
	struct inode_slot *old = im->inodes;
	size_t old_cap = im->cap_inodes;

	im->cap_inodes = old_cap ? 2 * old_cap : 256;
	im->inodes = calloc(im->cap_inodes, sizeof(*im->inodes));
	if (!im->inodes) {
		im->inodes = old;
		im->cap_inodes = old_cap;
		return -ENOMEM;
	}
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].path)
			*inode_find(im, old[i].dev, old[i].ino) = old[i];
	free(old);
	return 0;
}

/* The first path of st's inode, or NULL after recording path as it. */
static int inode_first(struct import *im, const struct stat *st,
		       const char *path, const char **first)
{
	struct inode_slot *s;

	if (2 * (im->n_inodes + 1) > im->cap_inodes)
		PF_FORWARD(inodes_grow(im));
	s = inode_find(im, st->st_dev, st->st_ino);
	*first = s->path;
	if (!s->path) {
		*s = (struct inode_slot){ st->st_dev, st->st_ino, path };
		im->n_inodes++;
	}
	return 0;
}

/* ---- metadata ------------------------------------------------------------ */

static void report(struct import *im, const char *path, const char *what,
		   int err)
{
	im->errors++;
	pctl_err("import: %s: %s: %s", *path ? path : ".", what, strerror(-err));
}

#define XATTR_BUF (64u << 10) /* the largest value Linux allows */

static int copy_xattr_list(int src, int dst, const char *list, ssize_t n)
{
	char *value = malloc(XATTR_BUF);
	int rc = value ? 0 : -ENOMEM;

	for (const char *k = list; rc == 0 && k < list + n; k += strlen(k) + 1) {
		ssize_t v;

		if (strncmp(k, "user.", 5))
			continue;
		v = fgetxattr(src, k, value, XATTR_BUF);
		if (v < 0 || fsetxattr(dst, k, value, (size_t)v, 0) < 0)
			rc = -errno;
	}
	free(value);
	return rc;
}

/* Copies the user.* extended attributes of src to dst (files and dirs). */
static int copy_xattrs(int src, int dst)
{
	ssize_t n = flistxattr(src, NULL, 0);
	char *list;
	int rc;

	if (n <= 0)
		return n == 0 || errno == ENOTSUP ? 0 : -errno;
	list = malloc((size_t)n);
	if (!list)
		return -ENOMEM;
	n = flistxattr(src, list, (size_t)n); /* ERANGE if one was just added */
	rc = n < 0 ? -errno : copy_xattr_list(src, dst, list, n);
	free(list);
	return rc;
}

/* Owner, mode, xattrs, then times (last: the others change ctime only). */
static int copy_meta(const struct import *im, int src, int dst,
		     const struct stat *st)
{
	const struct timespec times[2] = { st->st_atim, st->st_mtim };

	if (im->owner && fchown(dst, st->st_uid, st->st_gid) < 0)
		return -errno;
	/* after chown, which clears set-id bits */
	if (fchmod(dst, st->st_mode & 07777) < 0)
		return -errno;
	PF_FORWARD(copy_xattrs(src, dst));
	return futimens(dst, times) < 0 ? -errno : 0;
}

/* Same, for a symlink or special file: no fd, no xattrs. */
static int copy_meta_at(const struct import *im, const char *path,
			const struct stat *st)
{
	const struct timespec times[2] = { st->st_atim, st->st_mtim };

	if (im->owner && fchownat(im->dstfd, path, st->st_uid, st->st_gid,
				  AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISLNK(st->st_mode) &&
	    fchmodat(im->dstfd, path, st->st_mode & 07777, 0) < 0)
		return -errno;
	if (utimensat(im->dstfd, path, times, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

/* ---- the walk: directories, symlinks, special files, the queue ----------- */

static int walk_dir_enter(void *arg, int dirfd, const char *name,
			  const char *path, const struct stat *st)
{
	struct import *im = arg;
	struct stat dst;
	int err;

	(void)dirfd;
	(void)name;
	if (st->st_dev == im->store_root.st_dev &&
	    st->st_ino == im->store_root.st_ino)
		return 1; /* STORE inside SRC: never copy it into itself */
	if (!*path || mkdirat(im->dstfd, path, 0700) == 0)
		return 0;
	err = errno;
	if (err == EEXIST && fstatat(im->dstfd, path, &dst,
				     AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(dst.st_mode))
		return 0; /* made by an earlier run */
	report(im, path, "mkdir", -err);
	return 1;
}

static int walk_dir_leave(void *arg, int dirfd, const char *name,
			  const char *path, const struct stat *st)
{
	struct import *im = arg;

	(void)dirfd;
	(void)name;
	(void)st;
	PF_FORWARD(grow((void **)&im->dirs, &im->cap_dirs, im->n_dirs,
			sizeof(*im->dirs)));
	im->dirs[im->n_dirs].path = strdup(path);
	if (!im->dirs[im->n_dirs].path)
		return -ENOMEM;
	im->n_dirs++;
	return 0;
}

static int queue_link(struct import *im, const char *path, const char *first)
{
	struct link_job *l;

	PF_FORWARD(grow((void **)&im->links, &im->cap_links, im->n_links,
			sizeof(*im->links)));
	l = &im->links[im->n_links];
	l->path = strdup(path);
	l->target = strdup(first);
	if (!l->path || !l->target) {
		free(l->path);
		free(l->target);
		return -ENOMEM;
	}
	im->n_links++;
	return 0;
}

static int walk_file(void *arg, int dirfd, const char *name, const char *path,
		     const struct stat *st)
{
	struct import *im = arg;
	const char *first = NULL;
	struct file_job *f;

	(void)dirfd;
	(void)name;
	PF_FORWARD(grow((void **)&im->files, &im->cap_files, im->n_files,
			sizeof(*im->files)));
	f = &im->files[im->n_files];
	f->size = (uint64_t)st->st_size;
	f->path = strdup(path);
	if (!f->path)
		return -ENOMEM;
	if (st->st_nlink > 1 && inode_first(im, st, f->path, &first) < 0) {
		free(f->path);
		return -ENOMEM;
	}
	if (first) { /* a later name of a file already queued */
		free(f->path);
		return queue_link(im, path, first);
	}
	im->n_files++;
	return 0;
}

static int make_symlink(struct import *im, int dirfd, const char *name,
			const char *path)
{
	char target[PATH_MAX + 1], old[PATH_MAX + 1];
	ssize_t n = readlinkat(dirfd, name, target, PATH_MAX), m;

	if (n < 0)
		return -errno;
	target[n] = '\0';
	if (symlinkat(target, im->dstfd, path) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	m = readlinkat(im->dstfd, path, old, PATH_MAX); /* an earlier run? */
	if (m != n || memcmp(old, target, (size_t)n))
		return -EEXIST;
	return 0;
}

static int walk_other(void *arg, int dirfd, const char *name, const char *path,
		      const struct stat *st)
{
	struct import *im = arg;
	int rc;

	if (S_ISLNK(st->st_mode)) {
		rc = make_symlink(im, dirfd, name, path);
		im->n_symlinks++;
	} else {
		rc = mknodat(im->dstfd, path, st->st_mode & (S_IFMT | 0777),
			     st->st_rdev) < 0 && errno != EEXIST ? -errno : 0;
		im->n_special++;
	}
	if (rc < 0)
		report(im, path, S_ISLNK(st->st_mode) ? "symlink" : "mknod", rc);
	else if ((rc = copy_meta_at(im, path, st)) < 0)
		report(im, path, "owner, mode or times", rc);
	return 0;
}

static void walk_err(void *arg, const char *path, const char *what, int err)
{
	report(arg, path, what, err);
}

/* ---- regular files ------------------------------------------------------- */

/* Reads up to len bytes at off; fewer only at the end of the file. */
static ssize_t read_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got,
				  (off_t)(off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Writes the whole source into c, block by block, and commits it. A short
 * block is the last one, even if the file grows meanwhile. */
static int copy_data(struct import *im, int src, pf_container *c)
{
	uint32_t bs = pf_container_block_size(c);
	void *buf = malloc(bs);
	ssize_t n = bs;
	int rc = buf ? pf_container_set_size(c, 0) : -ENOMEM;

	for (uint64_t b = 0; rc == 0 && n == (ssize_t)bs; b++) {
		n = read_full(src, buf, bs, b * bs);
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
		rc = copy_meta(im, src, meta, st); /* times last: done mark */
	close(meta);
	if (rc == 0)
		atomic_fetch_add(&im->copied, 1);
	return rc;
}

static int import_one(void *arg, size_t i)
{
	struct import *im = arg;
	const char *path = im->files[i].path;
	int src, dst = -1, rc;
	struct stat st;

	src = openat(im->srcfd, path,
		     O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (src < 0 || fstat(src, &st) < 0)
		rc = -errno;
	else if (!S_ISREG(st.st_mode))
		rc = -EINVAL; /* replaced since the walk */
	else if ((dst = openat(im->dstfd, path,
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

/* ---- after the files: hard links, then directory metadata ---------------- */

static void make_links(struct import *im)
{
	for (size_t i = 0; i < im->n_links; i++) {
		const struct link_job *l = &im->links[i];
		struct stat a, b;

		if (linkat(im->dstfd, l->target, im->dstfd, l->path, 0) == 0)
			continue;
		if (errno == EEXIST &&
		    !fstatat(im->dstfd, l->target, &a, AT_SYMLINK_NOFOLLOW) &&
		    !fstatat(im->dstfd, l->path, &b, AT_SYMLINK_NOFOLLOW) &&
		    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			continue; /* linked by an earlier run */
		report(im, l->path, "link", errno == EEXIST ? -EEXIST : -errno);
	}
}

static int dir_meta(struct import *im, const char *path)
{
	const char *p = *path ? path : ".";
	int src, dst, rc;
	struct stat st;

	src = openat(im->srcfd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (src < 0)
		return -errno;
	dst = openat(im->dstfd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dst < 0)
		rc = -errno;
	else
		rc = fstat(src, &st) < 0 ? -errno : copy_meta(im, src, dst, &st);
	if (dst >= 0)
		close(dst);
	close(src);
	return rc;
}

static void set_dir_meta(struct import *im)
{
	for (size_t i = 0; i < im->n_dirs; i++) {
		int rc = dir_meta(im, im->dirs[i].path);

		if (rc < 0)
			report(im, im->dirs[i].path, "directory attributes", rc);
	}
}

/* ---- command ------------------------------------------------------------- */

static void import_free(struct import *im)
{
	for (size_t i = 0; i < im->n_files; i++)
		free(im->files[i].path);
	for (size_t i = 0; i < im->n_links; i++) {
		free(im->links[i].path);
		free(im->links[i].target);
	}
	for (size_t i = 0; i < im->n_dirs; i++)
		free(im->dirs[i].path);
	free(im->files);
	free(im->links);
	free(im->dirs);
	free(im->inodes);
}

static void print_summary(struct import *im)
{
	uint64_t logical = 0;
	char l[16], s[16];

	for (size_t i = 0; i < im->n_files; i++)
		logical += im->files[i].size;
	printf("import: %zu files (%s; %" PRIu64 " written, %s coded, %" PRIu64
	       " already there, %" PRIu64 " failed), %zu hard links, %zu "
	       "directories, %" PRIu64 " symlinks, %" PRIu64 " special files\n",
	       im->n_files, pctl_human_size(logical, l), atomic_load(&im->copied),
	       pctl_human_size(atomic_load(&im->stored), s),
	       atomic_load(&im->skipped), atomic_load(&im->failed), im->n_links,
	       im->n_dirs, im->n_symlinks, im->n_special);
}

static int copy_tree(struct import *im, unsigned jobs)
{
	const struct pctl_walk_fns fns = {
		.file = walk_file, .other = walk_other,
		.dir_enter = walk_dir_enter, .dir_leave = walk_dir_leave,
		.err = walk_err,
	};
	uint64_t total = 0;
	int rc;

	im->dstfd = pf_store_root_fd(im->store);
	if (fstat(im->dstfd, &im->store_root) < 0)
		return -errno;
	PF_FORWARD(pctl_walk_tree(im->srcfd, false, &fns, im));
	for (size_t i = 0; i < im->n_files; i++)
		total += im->files[i].size;
	pctl_progress_start(&im->bar, "import", total);
	rc = pctl_run_jobs(jobs, im->n_files, import_one, im);
	pctl_progress_end(&im->bar);
	if (rc < 0)
		return rc;
	make_links(im);
	set_dir_meta(im);
	print_summary(im);
	return 0;
}

struct import_args {
	unsigned jobs;
	bool train;
	struct pctl_train_opts topts;
};

/* Makes dst a store unless it is one; opens it locked for writing. */
static int open_store(const char *dst, pf_store **store)
{
	pf_store_opts opts;
	int rc = pf_store_init(dst);

	if (rc < 0 && rc != -EEXIST) {
		pctl_err("import: %s: %s", dst,
			 rc == -ENOTEMPTY ? "not empty and not a priorfs store"
					  : strerror(-rc));
		return rc;
	}
	pf_store_opts_default(&opts);
	opts.use_models = true;
	opts.codec.choice = PF_CHOICE_AUTO;
	return pctl_store_open_writer("import", dst, &opts, store);
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
	struct import im = { .owner = geteuid() == 0 };
	int rc, status;

	im.srcfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (im.srcfd < 0) {
		pctl_err("import: %s: %s", src, strerror(errno));
		return PCTL_EXIT_USAGE;
	}
	if (open_store(dst, &im.store) < 0) {
		close(im.srcfd);
		return PCTL_EXIT_USAGE;
	}
	status = maybe_train(a, src, dst, im.store);
	rc = copy_tree(&im, a->jobs);
	if (rc < 0)
		pctl_err("import: %s: %s", src, strerror(-rc));
	if (rc < 0 || im.errors || atomic_load(&im.failed))
		status = PCTL_EXIT_FAULT;
	import_free(&im);
	pf_store_close(im.store);
	close(im.srcfd);
	return status;
}

static int import_parse(int argc, char **argv, struct import_args *a)
{
	static const struct option longopts[] = {
		{ "jobs", required_argument, NULL, 'j' },
		{ "no-train", no_argument, NULL, 'n' },
		{ "level", required_argument, NULL, 'l' },
		{ "sample", required_argument, NULL, 's' },
		{ "table-bits", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t cap;
	int opt;

	while ((opt = pctl_getopt("import", argc, argv, ":j:nl:s:t:vh",
				  longopts)) != -1) {
		switch (opt) {
		case 'j':
			if (pctl_parse_jobs("import", optarg, &a->jobs) < 0)
				return pctl_usage(import_usage, false);
			break;
		case 'n':
			a->train = false;
			break;
		case 'l':
			if (pctl_parse_level("import", optarg, &a->topts.level) < 0)
				return pctl_usage(import_usage, false);
			break;
		case 's':
			if (pctl_parse_size_opt("import", "--sample", optarg,
						1u << 20, 1ull << 30, &cap) < 0)
				return pctl_usage(import_usage, false);
			a->topts.sample_cap = (size_t)cap;
			break;
		case 't':
			if (pctl_parse_table_bits("import", optarg,
						  &a->topts.table_bits) < 0)
				return pctl_usage(import_usage, false);
			break;
		case 'v':
			pctl_set_verbose();
			break;
		default:
			return pctl_usage(import_usage, opt == 'h');
		}
	}
	if (argc - optind != 2) {
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
			   .sample_cap = PCTL_SAMPLE_CAP_DEFAULT },
	};
	int rc = import_parse(argc, argv, &a);

	if (rc >= 0)
		return rc;
	return import_run(&a, argv[optind], argv[optind + 1]);
}
