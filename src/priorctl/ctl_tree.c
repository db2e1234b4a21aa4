/* SPDX-License-Identifier: MIT */
/*
 * ctl_tree.c - the tree copy that import (plain tree -> store) and export
 * (store -> plain tree) share: everything but the regular files' data.
 *
 * The scan walks the source on one thread: it makes directories (mode 0700
 * for now), symlinks and special files in the destination at once, queues
 * regular files for the caller's worker threads, and queues every later
 * name of a multiply-linked file as a hard link to the first. After the
 * files are written, pctl_tree_finish() makes the hard links, then gives the
 * directories their owners, modes, xattrs and times, children before their
 * parent (making entries changes a directory's mtime).
 *
 * Entries that exist from an earlier run are kept when they are what the
 * copy would make (a directory, the same symlink target, a special file,
 * the same inode for a link), so that both commands resume.
 *
 * Sharded (import --shard I/N): every shard walks the whole source and makes
 * every directory (an existing one is fine), but queues and makes only the
 * entries whose path hashes to its shard; a hard link goes with the shard of
 * the name its inode is copied under (the first in walk order, which is the
 * same on every machine). Directory attributes are left to one unsharded run
 * after all shards, since each shard's entries change directory mtimes.
 */
#include "priorctl/priorctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/pf_common.h"

struct pctl_tree_link {
	char *path, *target; /* a later name and the copied one */
};

/* (dev, inode) of multiply-linked files -> the first path seen. */
struct pctl_tree_inode {
	dev_t dev;
	ino_t ino;
	const char *path; /* NULL: empty slot */
};

/* ---- growing arrays and the inode table ---------------------------------- */

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

static struct pctl_tree_inode *inode_find(struct pctl_tree *t, dev_t dev,
					  ino_t ino)
{
	size_t mask = t->cap_inodes - 1;

	for (size_t i = inode_hash(dev, ino) & mask;; i = (i + 1) & mask) {
		struct pctl_tree_inode *s = &t->inodes[i];

		if (!s->path || (s->dev == dev && s->ino == ino))
			return s;
	}
}

static int inodes_grow(struct pctl_tree *t)
{
	struct pctl_tree_inode *old = t->inodes;
	size_t old_cap = t->cap_inodes;

	t->cap_inodes = old_cap ? 2 * old_cap : 256;
	t->inodes = calloc(t->cap_inodes, sizeof(*t->inodes));
	if (!t->inodes) {
		t->inodes = old;
		t->cap_inodes = old_cap;
		return -ENOMEM;
	}
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].path)
			*inode_find(t, old[i].dev, old[i].ino) = old[i];
	free(old);
	return 0;
}

/* The first path of st's inode, or NULL after recording path as it. */
static int inode_first(struct pctl_tree *t, const struct stat *st,
		       const char *path, const char **first)
{
	struct pctl_tree_inode *s;

	if (2 * (t->n_inodes + 1) > t->cap_inodes)
		PF_FORWARD(inodes_grow(t));
	s = inode_find(t, st->st_dev, st->st_ino);
	*first = s->path;
	if (!s->path) {
		*s = (struct pctl_tree_inode){ st->st_dev, st->st_ino, path };
		t->n_inodes++;
	}
	return 0;
}

/* ---- metadata ------------------------------------------------------------ */

void pctl_tree_report(struct pctl_tree *t, const char *path, const char *what,
		      int err)
{
	t->errors++;
	pctl_err("%s: %s: %s: %s", t->cmd, *path ? path : ".", what,
		 strerror(-err));
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

int pctl_tree_copy_meta(const struct pctl_tree *t, int src, int dst,
			const struct stat *st)
{
	const struct timespec times[2] = { st->st_atim, st->st_mtim };

	if (t->owner && fchown(dst, st->st_uid, st->st_gid) < 0)
		return -errno;
	/* after chown, which clears set-id bits */
	if (fchmod(dst, st->st_mode & 07777) < 0)
		return -errno;
	PF_FORWARD(copy_xattrs(src, dst));
	return futimens(dst, times) < 0 ? -errno : 0;
}

/* Same, for a symlink or special file: no fd, no xattrs (Linux allows no
 * user.* attributes on them). */
static int copy_meta_at(const struct pctl_tree *t, const char *path,
			const struct stat *st)
{
	const struct timespec times[2] = { st->st_atim, st->st_mtim };

	if (t->owner && fchownat(t->dstfd, path, st->st_uid, st->st_gid,
				 AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISLNK(st->st_mode) &&
	    fchmodat(t->dstfd, path, st->st_mode & 07777, 0) < 0)
		return -errno;
	if (utimensat(t->dstfd, path, times, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

/* ---- the scan: directories, symlinks, special files, the queues ---------- */

bool pctl_tree_in_shard(const char *path, unsigned shard, unsigned shards)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64: fixed, so that every
					     * machine splits alike */

	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return h % shards == shard;
}

static bool mine(const struct pctl_tree *t, const char *path)
{
	return !t->shards || pctl_tree_in_shard(path, t->shard, t->shards);
}

static int scan_dir_enter(void *arg, int dirfd, const char *name,
			  const char *path, const struct stat *st)
{
	struct pctl_tree *t = arg;
	struct stat dst;
	int err;

	(void)dirfd;
	(void)name;
	if (st->st_dev == t->skip.st_dev && st->st_ino == t->skip.st_ino)
		return 1; /* the destination inside the source: never copy it
			   * into itself */
	if (!*path || mkdirat(t->dstfd, path, 0700) == 0)
		return 0;
	err = errno;
	if (err == EEXIST && fstatat(t->dstfd, path, &dst,
				     AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(dst.st_mode))
		return 0; /* made by an earlier run */
	pctl_tree_report(t, path, "mkdir", -err);
	return 1;
}

static int scan_dir_leave(void *arg, int dirfd, const char *name,
			  const char *path, const struct stat *st)
{
	struct pctl_tree *t = arg;

	(void)dirfd;
	(void)name;
	(void)st;
	PF_FORWARD(grow((void **)&t->dirs, &t->cap_dirs, t->n_dirs,
			sizeof(*t->dirs)));
	t->dirs[t->n_dirs] = strdup(path);
	if (!t->dirs[t->n_dirs])
		return -ENOMEM;
	t->n_dirs++;
	return 0;
}

static int queue_link(struct pctl_tree *t, const char *path, const char *first)
{
	struct pctl_tree_link *l;

	PF_FORWARD(grow((void **)&t->links, &t->cap_links, t->n_links,
			sizeof(*t->links)));
	l = &t->links[t->n_links];
	l->path = strdup(path);
	l->target = strdup(first);
	if (!l->path || !l->target) {
		free(l->path);
		free(l->target);
		return -ENOMEM;
	}
	t->n_links++;
	return 0;
}

static int scan_file(void *arg, int dirfd, const char *name, const char *path,
		     const struct stat *st)
{
	struct pctl_tree *t = arg;
	const char *first = NULL;
	struct pctl_tree_file *f;

	PF_FORWARD(grow((void **)&t->files, &t->cap_files, t->n_files,
			sizeof(*t->files)));
	f = &t->files[t->n_files];
	f->size = t->file_size ? t->file_size(dirfd, name, st)
			       : (uint64_t)st->st_size;
	f->path = strdup(path);
	if (!f->path)
		return -ENOMEM;
	if (st->st_nlink > 1 && inode_first(t, st, f->path, &first) < 0) {
		free(f->path);
		return -ENOMEM;
	}
	if (first) { /* a later name of a file already queued */
		free(f->path);
		return queue_link(t, path, first);
	}
	t->n_files++;
	return 0;
}

static int make_symlink(struct pctl_tree *t, int dirfd, const char *name,
			const char *path)
{
	char target[PATH_MAX + 1], old[PATH_MAX + 1];
	ssize_t n = readlinkat(dirfd, name, target, PATH_MAX), m;

	if (n < 0)
		return -errno;
	target[n] = '\0';
	if (symlinkat(target, t->dstfd, path) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	m = readlinkat(t->dstfd, path, old, PATH_MAX); /* an earlier run? */
	if (m != n || memcmp(old, target, (size_t)n))
		return -EEXIST;
	return 0;
}

static int scan_other(void *arg, int dirfd, const char *name, const char *path,
		      const struct stat *st)
{
	struct pctl_tree *t = arg;
	int rc;

	if (!mine(t, path))
		return 0;
	if (S_ISLNK(st->st_mode)) {
		rc = make_symlink(t, dirfd, name, path);
		t->n_symlinks++;
	} else {
		rc = mknodat(t->dstfd, path, st->st_mode & (S_IFMT | 0777),
			     st->st_rdev) < 0 && errno != EEXIST ? -errno : 0;
		t->n_special++;
	}
	if (rc < 0)
		pctl_tree_report(t, path,
				 S_ISLNK(st->st_mode) ? "symlink" : "mknod", rc);
	else if ((rc = copy_meta_at(t, path, st)) < 0)
		pctl_tree_report(t, path, "owner, mode or times", rc);
	return 0;
}

static void scan_err(void *arg, const char *path, const char *what, int err)
{
	pctl_tree_report(arg, path, what, err);
}

/* Drops the files and links of other shards. The whole tree is queued
 * first because a link's shard is that of its inode's first name. */
static void keep_shard(struct pctl_tree *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n_files; i++) {
		if (mine(t, t->files[i].path))
			t->files[n++] = t->files[i];
		else
			free(t->files[i].path);
	}
	t->n_files = n;
	n = 0;
	for (size_t i = 0; i < t->n_links; i++) {
		if (mine(t, t->links[i].target)) {
			t->links[n++] = t->links[i];
		} else {
			free(t->links[i].path);
			free(t->links[i].target);
		}
	}
	t->n_links = n;
	/* its paths were the freed files' too; only the scan needs it */
	free(t->inodes);
	t->inodes = NULL;
	t->n_inodes = t->cap_inodes = 0;
}

int pctl_tree_scan(struct pctl_tree *t)
{
	const struct pctl_walk_fns fns = {
		.file = scan_file, .other = scan_other,
		.dir_enter = scan_dir_enter, .dir_leave = scan_dir_leave,
		.err = scan_err,
	};

	if (fstat(t->dstfd, &t->skip) < 0)
		return -errno;
	PF_FORWARD(pctl_walk_tree(t->srcfd, t->skip_meta, &fns, t));
	if (t->shards)
		keep_shard(t);
	return 0;
}

uint64_t pctl_tree_bytes(const struct pctl_tree *t)
{
	uint64_t total = 0;

	for (size_t i = 0; i < t->n_files; i++)
		total += t->files[i].size;
	return total;
}

/* ---- after the files: hard links, then directory metadata ---------------- */

static void make_links(struct pctl_tree *t)
{
	for (size_t i = 0; i < t->n_links; i++) {
		const struct pctl_tree_link *l = &t->links[i];
		struct stat a, b;

		if (linkat(t->dstfd, l->target, t->dstfd, l->path, 0) == 0)
			continue;
		if (errno == EEXIST &&
		    !fstatat(t->dstfd, l->target, &a, AT_SYMLINK_NOFOLLOW) &&
		    !fstatat(t->dstfd, l->path, &b, AT_SYMLINK_NOFOLLOW) &&
		    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			continue; /* linked by an earlier run */
		pctl_tree_report(t, l->path, "link",
				 errno == EEXIST ? -EEXIST : -errno);
	}
}

static int dir_meta(struct pctl_tree *t, const char *path)
{
	const char *p = *path ? path : ".";
	int src, dst, rc;
	struct stat st;

	src = openat(t->srcfd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (src < 0)
		return -errno;
	dst = openat(t->dstfd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dst < 0)
		rc = -errno;
	else
		rc = fstat(src, &st) < 0 ? -errno
					 : pctl_tree_copy_meta(t, src, dst, &st);
	if (dst >= 0)
		close(dst);
	close(src);
	return rc;
}

void pctl_tree_finish(struct pctl_tree *t)
{
	make_links(t);
	for (size_t i = 0; !t->shards && i < t->n_dirs; i++) {
		int rc = dir_meta(t, t->dirs[i]);

		if (rc < 0)
			pctl_tree_report(t, t->dirs[i], "directory attributes",
					 rc);
	}
}

void pctl_tree_free(struct pctl_tree *t)
{
	for (size_t i = 0; i < t->n_files; i++)
		free(t->files[i].path);
	for (size_t i = 0; i < t->n_links; i++) {
		free(t->links[i].path);
		free(t->links[i].target);
	}
	for (size_t i = 0; i < t->n_dirs; i++)
		free(t->dirs[i]);
	free(t->files);
	free(t->links);
	free(t->dirs);
	free(t->inodes);
}
