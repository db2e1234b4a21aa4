/* SPDX-License-Identifier: MIT */
/*
 * fs_inode.c - the inode table: lookup, kernel references, the attributes
 * the mount shows, and creating and destroying the filesystem.
 *
 * Inodes follow libfuse's passthrough_ll: an O_PATH|O_NOFOLLOW fd per
 * backing entry, opened relative to the parent's fd, so no path inside the
 * store is ever resolved through a symlink. The table is keyed by
 * (st_dev, st_ino) so hard links share one inode. See fs_int.h (I1).
 */
#include <assert.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/pf_common.h"
#include "fs/fs_int.h"

_Static_assert(sizeof(fuse_ino_t) >= sizeof(uintptr_t),
	       "fuse_ino_t must hold an inode pointer");

#define TABLE_INITIAL_BUCKETS 1024

static size_t bucket_of(const pf_fs *fs, dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)dev;

	return (size_t)(h ^ h >> 29) & (fs->nbuckets - 1);
}

/* Caller holds table_lock. */
static pf_inode *table_find(pf_fs *fs, dev_t dev, ino_t ino)
{
	pf_inode *p = fs->buckets[bucket_of(fs, dev, ino)];

	while (p && (p->dev != dev || p->ino != ino))
		p = p->hnext;
	return p;
}

/* Doubles the bucket array. Caller holds table_lock. On ENOMEM the chains
 * just grow longer. OPTIMIZATION */
static void table_grow(pf_fs *fs)
{
	size_t old_n = fs->nbuckets;
	pf_inode **old = fs->buckets;
	pf_inode **fresh = calloc(old_n * 2, sizeof(*fresh));

	if (!fresh)
		return;
	fs->buckets = fresh;
	fs->nbuckets = old_n * 2;
	for (size_t i = 0; i < old_n; i++) {
		while (old[i]) {
			pf_inode *p = old[i];
			size_t b = bucket_of(fs, p->dev, p->ino);

			old[i] = p->hnext;
			p->hnext = fresh[b];
			fresh[b] = p;
		}
	}
	free(old);
}

/* Caller holds table_lock. */
static void table_add(pf_fs *fs, pf_inode *inode)
{
	size_t b;

	if (fs->count >= fs->nbuckets)
		table_grow(fs);
	b = bucket_of(fs, inode->dev, inode->ino);
	inode->hnext = fs->buckets[b];
	fs->buckets[b] = inode;
	fs->count++;
}

/* Caller holds table_lock. */
static void table_remove(pf_fs *fs, pf_inode *inode)
{
	pf_inode **pp = &fs->buckets[bucket_of(fs, inode->dev, inode->ino)];

	while (*pp != inode)
		pp = &(*pp)->hnext;
	*pp = inode->hnext;
	fs->count--;
}

static void inode_init(pf_inode *inode, int fd, const struct stat *st)
{
	inode->fd = fd;
	inode->dev = st->st_dev;
	inode->ino = st->st_ino;
	inode->type = st->st_mode & S_IFMT;
	pthread_rwlock_init(&inode->grow_lock, NULL);
	pthread_mutex_init(&inode->lock, NULL);
}

/* Frees an inode nobody can reach any more (I1). */
static void inode_free(pf_inode *inode)
{
	assert(!inode->file && inode->nfile == 0);
	close(inode->fd);
	pthread_rwlock_destroy(&inode->grow_lock);
	pthread_mutex_destroy(&inode->lock);
	free(inode);
}

pf_inode *pf_inode_get(pf_fs *fs, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return &fs->root;
	return (pf_inode *)(uintptr_t)ino;
}

bool pf_fs_hidden(pf_fs *fs, const pf_inode *parent, const char *name)
{
	return parent == &fs->root && pf_cache_is_hidden_name(name);
}

void pf_inode_proc_path(const pf_inode *inode, char buf[static 32])
{
	snprintf(buf, 32, "/proc/self/fd/%d", inode->fd);
}

/*
 * Finds the inode of (st_dev, st_ino) or hashes a new one holding fd, and
 * takes one kernel reference. Takes ownership of fd: it is closed when the
 * inode was already known. Allocating before locking keeps the table lock
 * short; the spare is freed when another thread won the race.
 */
static int table_lookup(pf_fs *fs, int fd, const struct stat *st,
			pf_inode **out)
{
	pf_inode *fresh = calloc(1, sizeof(*fresh));
	pf_inode *inode;

	if (!fresh) {
		close(fd);
		return -ENOMEM;
	}
	inode_init(fresh, fd, st);
	pthread_mutex_lock(&fs->table_lock);
	inode = table_find(fs, st->st_dev, st->st_ino);
	if (!inode) {
		table_add(fs, fresh);
		inode = fresh;
		fresh = NULL;
	}
	inode->nlookup++;
	pthread_mutex_unlock(&fs->table_lock);
	if (fresh)
		inode_free(fresh);
	*out = inode;
	return 0;
}

/* Drops references; the last one frees the inode (I1). */
static void inode_drop(pf_fs *fs, pf_inode *inode, uint64_t nlookup,
		       uint64_t nopen)
{
	bool dead;

	if (inode == &fs->root)
		return;
	pthread_mutex_lock(&fs->table_lock);
	assert(inode->nlookup >= nlookup && inode->nopen >= nopen);
	inode->nlookup -= nlookup;
	inode->nopen -= nopen;
	dead = inode->nlookup == 0 && inode->nopen == 0;
	if (dead)
		table_remove(fs, inode);
	pthread_mutex_unlock(&fs->table_lock);
	if (dead)
		inode_free(inode);
}

void pf_inode_ref(pf_fs *fs, pf_inode *inode, uint64_t n)
{
	if (inode == &fs->root)
		return;
	pthread_mutex_lock(&fs->table_lock);
	inode->nlookup += n;
	pthread_mutex_unlock(&fs->table_lock);
}

void pf_inode_unref(pf_fs *fs, pf_inode *inode, uint64_t n)
{
	inode_drop(fs, inode, n, 0);
}

void pf_inode_pin(pf_fs *fs, pf_inode *inode)
{
	if (inode == &fs->root)
		return;
	pthread_mutex_lock(&fs->table_lock);
	inode->nopen++;
	pthread_mutex_unlock(&fs->table_lock);
}

void pf_inode_unpin(pf_fs *fs, pf_inode *inode)
{
	inode_drop(fs, inode, 0, 1);
}

/* Whether the backing file st is the one inode->size was read from. */
static bool size_current(const pf_inode *inode, const struct stat *st)
{
	return inode->size_known && inode->size_stored == st->st_size &&
	       pf_time_equal(inode->size_ctime, st->st_ctim);
}

/* The logical size of a regular file: the open file's, or the container
 * header's, read again whenever the backing file st changed (a commit by
 * this or, on a shared store, another mount). Caller holds inode->lock. */
static int logical_size_locked(pf_inode *inode, const struct stat *st,
			       uint64_t *size)
{
	char path[32];
	int fd, rc;

	if (inode->file) {
		*size = pf_file_size(inode->file);
		return 0;
	}
	if (!size_current(inode, st)) {
		pf_inode_proc_path(inode, path);
		/* Peeking at the header is not a read of the file: keep atime. */
		fd = open(path, O_RDONLY | O_NOATIME | O_CLOEXEC);
		if (fd == -1)
			return -errno;
		rc = pf_cache_peek_size(fd, &inode->size);
		close(fd);
		PF_FORWARD(rc);
		inode->size_known = true;
		inode->size_ctime = st->st_ctim;
		inode->size_stored = st->st_size;
	}
	*size = inode->size;
	return 0;
}

/* Replaces a regular file's backing size and mtime with the logical ones. */
static int logical_attrs(pf_inode *inode, struct stat *st)
{
	uint64_t size = 0;
	int rc;

	if (!S_ISREG(st->st_mode))
		return 0;
	pthread_mutex_lock(&inode->lock);
	rc = logical_size_locked(inode, st, &size);
	if (inode->mtime_pending) {
		st->st_mtim = inode->mtime;
		/* A write not yet committed changed ctime as well (POSIX);
		 * a later chmod or utimens moved the backing ctime past it. */
		if (inode->wtime.tv_sec > st->st_ctim.tv_sec ||
		    (inode->wtime.tv_sec == st->st_ctim.tv_sec &&
		     inode->wtime.tv_nsec > st->st_ctim.tv_nsec))
			st->st_ctim = inode->wtime;
	}
	pthread_mutex_unlock(&inode->lock);
	PF_FORWARD(rc);
	if (size > INT64_MAX)
		return PF_CORRUPT("container size past off_t");
	/* st_blocks stays the backing file's: du shows the stored size. */
	st->st_size = (off_t)size;
	return 0;
}

int pf_inode_stat(pf_inode *inode, struct stat *st)
{
	if (fstatat(inode->fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == -1)
		return -errno;
	return logical_attrs(inode, st);
}

int pf_inode_find_at(pf_fs *fs, int dirfd, const char *name, pf_inode **out)
{
	struct stat st;
	int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd == -1)
		return -errno;
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISREG(st.st_mode)) {
		int rc = S_ISREG(st.st_mode) ? -errno : -EINVAL;

		close(fd);
		return rc;
	}
	return table_lookup(fs, fd, &st, out);
}

/*
 * With POSIX ACLs on, the kernel leaves the caller's umask to the daemon
 * (whose own umask is 0). As the kernel would, it applies unless the parent
 * directory has a default ACL; then the backing filesystem applies that ACL
 * when the entry is made, and the umask must not.
 */
mode_t pf_fs_create_mode(const pf_fs *fs, const pf_inode *parent, mode_t mode,
			 mode_t umask)
{
	char path[32];

	if (!fs->posix_acl || (umask & 0777) == 0)
		return mode;
	pf_inode_proc_path(parent, path);
	if (getxattr(path, "system.posix_acl_default", NULL, 0) > 0)
		return mode;
	return mode & ~(umask & 0777);
}

/*
 * Gives a just-created entry (fd, O_PATH) to the user who created it: the
 * daemon creates as root. A setgid parent already gave the entry its group
 * on the backing filesystem, as the kernel would have for the caller.
 */
static int give_to_owner(pf_fs *fs, const pf_inode *parent, int fd,
			 const pf_owner *owner)
{
	struct stat pst;
	gid_t gid = owner->gid;
	char path[32];

	if (!fs->chown_new)
		return 0;
	if (fstatat(parent->fd, "", &pst, AT_EMPTY_PATH) == -1)
		return -errno;
	if (pst.st_mode & S_ISGID)
		gid = (gid_t)-1;
	if (fchownat(fd, "", owner->uid, gid,
		     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == -1)
		return -errno;
	/* chown cleared the set-id bits of a non-directory; the caller asked
	 * for them. */
	if ((owner->mode & (S_ISUID | S_ISGID)) && !S_ISDIR(owner->mode) &&
	    !S_ISLNK(owner->mode)) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (fchmodat(AT_FDCWD, path, owner->mode & 07777, 0) == -1)
			return -errno;
	}
	return 0;
}

int pf_inode_lookup(pf_fs *fs, pf_inode *parent, const char *name,
		    const pf_owner *owner, struct fuse_entry_param *e)
{
	pf_inode *inode;
	struct stat st;
	int fd, rc;

	memset(e, 0, sizeof(*e));
	e->attr_timeout = fs->opts.attr_timeout;
	e->entry_timeout = fs->opts.attr_timeout;
	if (pf_fs_hidden(fs, parent, name))
		return -ENOENT;
	fd = openat(parent->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return -errno;
	rc = owner ? give_to_owner(fs, parent, fd, owner) : 0;
	if (rc == 0 && fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == -1)
		rc = -errno;
	if (rc < 0) {
		close(fd);
		return rc;
	}
	PF_FORWARD(table_lookup(fs, fd, &st, &inode));
	rc = logical_attrs(inode, &st);
	if (rc < 0) {
		pf_inode_unref(fs, inode, 1);
		return rc;
	}
	e->attr = st;
	e->ino = (uintptr_t)inode;
	return 0;
}

int pf_fs_create(pf_cache *cache, const pf_mount_opts *opts, pf_fs **out)
{
	pf_fs *fs = calloc(1, sizeof(*fs));
	struct stat st;
	int root_fd = pf_cache_root_fd(cache), rc;

	if (!fs)
		return -ENOMEM;
	if (fstatat(root_fd, "", &st, AT_EMPTY_PATH) == -1) {
		rc = -errno;
		pf_log(PF_LOG_ERR, "fstat of the store root: %m");
		free(fs);
		return rc;
	}
	fs->buckets = calloc(TABLE_INITIAL_BUCKETS, sizeof(*fs->buckets));
	if (!fs->buckets) {
		free(fs);
		return -ENOMEM;
	}
	fs->nbuckets = TABLE_INITIAL_BUCKETS;
	fs->cache = cache;
	fs->opts = *opts;
	fs->read_only = pf_cache_read_only(cache);
	fs->chown_new = geteuid() == 0;
	inode_init(&fs->root, root_fd, &st);
	pthread_mutex_init(&fs->table_lock, NULL);
	rc = pf_recompress_start(fs);
	if (rc < 0) {
		pf_fs_destroy(fs);
		return rc;
	}
	*out = fs;
	return 0;
}

/* Commits and closes a file left open (a lazy unmount drops handles
 * without release). */
static void inode_close_file(pf_fs *fs, pf_inode *inode)
{
	if (!inode->file)
		return;
	if (!fs->read_only && pf_inode_commit(fs, inode, inode->file, true) < 0)
		pf_log(PF_LOG_ERR, "changes to inode %ju lost at unmount",
		       (uintmax_t)inode->ino);
	pf_file_close(inode->file);
	inode->file = NULL;
	inode->nfile = 0;
}

void pf_fs_destroy(pf_fs *fs)
{
	if (!fs)
		return;
	pf_recompress_stop(fs);
	for (size_t i = 0; i < fs->nbuckets; i++) {
		while (fs->buckets[i]) {
			pf_inode *p = fs->buckets[i];

			fs->buckets[i] = p->hnext;
			inode_close_file(fs, p);
			inode_free(p);
		}
	}
	free(fs->buckets);
	pthread_rwlock_destroy(&fs->root.grow_lock);
	pthread_mutex_destroy(&fs->root.lock);
	pthread_mutex_destroy(&fs->table_lock);
	free(fs);
}
