/* SPDX-License-Identifier: MIT */
/*
 * fs_io.c - regular files: the shared pf_file of an inode, open handles,
 * read, write, commit points (flush, fsync, release) and the logical size
 * and mtime.
 *
 * Every open handle of an inode shares one pf_file (fs_int.h I2), so the
 * page cache, dirty blocks and size agree whoever writes. A commit rewrites
 * the container, which moves the backing mtime; the inode keeps the logical
 * mtime and puts it back after each commit (I3). A read within one block
 * hands the kernel the cache's pinned buffer without a copy; a read across
 * blocks gets a copy from the cache, which pins one block at a time.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/pf_common.h"
#include "fs/fs_int.h"

static pf_handle *handle_of(const struct fuse_file_info *fi)
{
	return (pf_handle *)(uintptr_t)fi->fh;
}

/* Opens the inode's container through its O_PATH fd. The label is the
 * backing path when /proc tells it, for log lines. */
static int open_container(pf_fs *fs, pf_inode *inode, pf_file **out)
{
	char path[32], label[256];
	ssize_t n;
	int fd;

	pf_inode_proc_path(inode, path);
	fd = open(path, (fs->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd == -1)
		return -errno;
	n = readlink(path, label, sizeof(label) - 1);
	if (n > 0)
		label[n] = '\0';
	else
		snprintf(label, sizeof(label), "inode %ju", (uintmax_t)inode->ino);
	return pf_file_open(fs->cache, fd, inode->dev, inode->ino, label, out);
}

int pf_inode_file_get(pf_fs *fs, pf_inode *inode, pf_file **out)
{
	int rc = 0;

	if (inode->type == S_IFDIR)
		return -EISDIR;
	if (inode->type != S_IFREG)
		return -EINVAL;
	pf_inode_pin(fs, inode);
	pthread_mutex_lock(&inode->lock);
	if (!inode->file) {
		pf_file *f = NULL;
		struct stat st;

		/* before the index is read: a commit in between only costs
		 * the pages once more */
		if (fs->read_only)
			inode->file_ctime = fstat(inode->fd, &st) == 0 ? st.st_ctim
								  : (struct timespec){ 0 };
		rc = open_container(fs, inode, &f);
		inode->file = rc < 0 ? NULL : f;
	}
	if (rc == 0) {
		inode->nfile++;
		*out = inode->file;
	}
	pthread_mutex_unlock(&inode->lock);
	if (rc < 0)
		pf_inode_unpin(fs, inode);
	return rc;
}

/* Commit, then the mtime restore of (I3). Caller holds inode->lock, so a
 * write finishing meanwhile marks its mtime only after the restore. */
static int restore_mtime_locked(pf_inode *inode)
{
	struct timespec tv[2] = { { 0, UTIME_OMIT }, { 0, 0 } };
	struct stat st;

	if (!inode->mtime_pending)
		return 0;
	tv[1] = inode->mtime;
	/* Unchanged (nothing was written): no utimens, which moves ctime. */
	if (fstatat(inode->fd, "", &st, AT_EMPTY_PATH) == 0 &&
	    pf_time_equal(st.st_mtim, tv[1])) {
		inode->mtime_pending = false;
		return 0;
	}
	if (utimensat(inode->fd, "", tv, AT_EMPTY_PATH) == -1)
		return -errno;
	inode->mtime_pending = false;
	return 0;
}

static int commit_locked(pf_inode *inode, pf_file *f, bool durable)
{
	PF_FORWARD(pf_file_commit(f, durable));
	return restore_mtime_locked(inode);
}

int pf_inode_commit(pf_fs *fs, pf_inode *inode, pf_file *f, bool durable)
{
	int rc;

	if (fs->read_only)
		return 0;
	pthread_mutex_lock(&inode->lock);
	rc = commit_locked(inode, f, durable);
	pthread_mutex_unlock(&inode->lock);
	return rc;
}

void pf_inode_hold_mtime(pf_inode *inode)
{
	struct stat st;

	pthread_mutex_lock(&inode->lock);
	if (!inode->mtime_pending &&
	    fstatat(inode->fd, "", &st, AT_EMPTY_PATH) == 0) {
		inode->mtime = st.st_mtim;
		inode->mtime_pending = true;
	}
	pthread_mutex_unlock(&inode->lock);
}

int pf_inode_commit_recoded(pf_inode *inode, pf_file *f)
{
	int rc;

	pthread_mutex_lock(&inode->lock);
	rc = pf_file_commit_recoded(f, true);
	if (rc == 0)
		rc = restore_mtime_locked(inode);
	pthread_mutex_unlock(&inode->lock);
	return rc == -EBUSY ? 0 : rc;
}

void pf_inode_file_put(pf_fs *fs, pf_inode *inode)
{
	pthread_mutex_lock(&inode->lock);
	if (--inode->nfile == 0) {
		pf_file *f = inode->file;
		int rc = fs->read_only ? 0 : commit_locked(inode, f, false);

		if (rc < 0) {
			pf_log(PF_LOG_ERR, "commit of inode %ju at close: %s; "
			       "uncommitted changes lost", (uintmax_t)inode->ino,
			       strerror(-rc));
			inode->mtime_pending = false;
		}
		/* The size is read again from the committed header. */
		inode->size_known = false;
		pf_file_close(f);
		inode->file = NULL;
	}
	pthread_mutex_unlock(&inode->lock);
	pf_inode_unpin(fs, inode);
}

/* Marks the logical mtime after a change to the contents (I3). */
static void touch_mtime(pf_inode *inode)
{
	pthread_mutex_lock(&inode->lock);
	clock_gettime(CLOCK_REALTIME, &inode->mtime);
	inode->wtime = inode->mtime;
	inode->mtime_pending = true;
	pthread_mutex_unlock(&inode->lock);
}

int pf_inode_truncate(pf_fs *fs, pf_inode *inode, pf_handle *h, uint64_t size)
{
	pf_file *f;
	int rc;

	if (fs->read_only)
		return -EROFS;
	if (h)
		f = h->file;
	else
		PF_FORWARD(pf_inode_file_get(fs, inode, &f));
	rc = pf_file_truncate(f, size);
	if (rc == 0) {
		pthread_mutex_lock(&inode->lock);
		clock_gettime(CLOCK_REALTIME, &inode->mtime);
		inode->mtime_pending = true;
		rc = commit_locked(inode, f, false);
		pthread_mutex_unlock(&inode->lock);
	}
	if (!h)
		pf_inode_file_put(fs, inode);
	return rc;
}

int pf_inode_utimens(pf_fs *fs, pf_inode *inode, const struct timespec tv[2])
{
	int rc = 0;

	if (fs->read_only)
		return -EROFS;
	/* Under the inode lock, so a commit cannot restore an older logical
	 * mtime between the two updates. */
	pthread_mutex_lock(&inode->lock);
	if (utimensat(inode->fd, "", tv, AT_EMPTY_PATH) == -1)
		rc = -errno;
	else if (inode->mtime_pending && tv[1].tv_nsec == UTIME_NOW)
		clock_gettime(CLOCK_REALTIME, &inode->mtime);
	else if (inode->mtime_pending && tv[1].tv_nsec != UTIME_OMIT)
		inode->mtime = tv[1];
	pthread_mutex_unlock(&inode->lock);
	return rc;
}

/* ---- handles ---------------------------------------------------------------- */

/* Counts the handles of an inode (+1 or -1) and notes the time, which
 * keeps background recompression away from files in use. */
static void count_handle(pf_inode *inode, int delta)
{
	pthread_mutex_lock(&inode->lock);
	inode->nhandle += delta;
	inode->used_at = pf_fs_now();
	pthread_mutex_unlock(&inode->lock);
}

static void handle_close(pf_fs *fs, pf_handle *h)
{
	count_handle(h->inode, -1);
	pf_inode_file_put(fs, h->inode);
	pthread_mutex_destroy(&h->ra_lock);
	free(h);
}

static int do_open(pf_fs *fs, pf_inode *inode, int flags, pf_handle **out)
{
	bool writable = (flags & O_ACCMODE) != O_RDONLY;
	pf_handle *h;
	int rc;

	if ((writable || (flags & O_TRUNC)) && fs->read_only)
		return -EROFS;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	rc = pf_inode_file_get(fs, inode, &h->file);
	if (rc < 0) {
		free(h);
		return rc;
	}
	count_handle(inode, 1);
	h->inode = inode;
	h->writable = writable;
	h->keep_cache = true;
	if (fs->read_only) {
		pthread_mutex_lock(&inode->lock);
		h->keep_cache = pf_time_equal(inode->page_ctime, inode->file_ctime);
		inode->page_ctime = inode->file_ctime;
		pthread_mutex_unlock(&inode->lock);
	}
	pthread_mutex_init(&h->ra_lock, NULL);
	/* FUSE_CAP_ATOMIC_O_TRUNC hands O_TRUNC to open instead of setattr.
	 * Linux truncates on O_RDONLY|O_TRUNC as well (with default_permissions
	 * the kernel has checked write access), so a read-only handle must not
	 * skip it. */
	if (flags & O_TRUNC) {
		rc = pf_inode_truncate(fs, inode, h, 0);
		if (rc < 0) {
			handle_close(fs, h);
			return rc;
		}
	}
	*out = h;
	return 0;
}

/* Hands a new handle to the kernel. The page cache stays valid across
 * opens (keep_cache): every change goes through a read-write mount, and a
 * read-only one drops it when the file's committed state changed. */
static void reply_open(fuse_req_t req, pf_handle *h, struct fuse_file_info *fi)
{
	fi->fh = (uintptr_t)h;
	fi->keep_cache = h->keep_cache;
	/* -ENOENT: the open was interrupted and no release will come. */
	if (fuse_reply_open(req, fi) == -ENOENT)
		handle_close(pf_fs_of(req), h);
}

void pf_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	pf_fs *fs = pf_fs_of(req);
	pf_handle *h;
	int rc = do_open(fs, pf_inode_get(fs, ino), fi->flags, &h);

	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		reply_open(req, h, fi);
}

/*
 * Creates name (or opens it when it exists and O_EXCL is not asked) and
 * opens it. The entry is created with O_EXCL first so that only an entry
 * this call made is given to the caller.
 */
static int do_create(pf_fs *fs, const struct fuse_ctx *ctx, pf_inode *parent,
		     const char *name, mode_t mode, int flags,
		     struct fuse_entry_param *e, pf_handle **out)
{
	pf_owner owner;
	pf_inode *inode;
	bool created;
	int fd, rc;

	if (pf_fs_hidden(fs, parent, name))
		return -EPERM;
	if (fs->read_only)
		return -EROFS;
	mode = pf_fs_create_mode(fs, parent, mode, ctx->umask);
	owner = (pf_owner){ ctx->uid, ctx->gid, S_IFREG | (mode & 07777) };
	fd = openat(parent->fd, name,
		    O_CREAT | O_EXCL | O_RDONLY | O_NOFOLLOW | O_CLOEXEC,
		    mode & 07777);
	created = fd != -1;
	if (!created && (errno != EEXIST || (flags & O_EXCL)))
		return -errno;
	if (created)
		close(fd);
	PF_FORWARD(pf_inode_lookup(fs, parent, name, created ? &owner : NULL, e));
	inode = pf_inode_get(fs, e->ino);
	rc = do_open(fs, inode, created ? flags & ~O_TRUNC : flags, out);
	if (rc < 0)
		pf_inode_unref(fs, inode, 1);
	return rc;
}

void pf_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode, struct fuse_file_info *fi)
{
	pf_fs *fs = pf_fs_of(req);
	struct fuse_entry_param e;
	pf_handle *h;
	int rc = do_create(fs, fuse_req_ctx(req), pf_inode_get(fs, parent), name,
			   mode, fi->flags, &e, &h);

	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uintptr_t)h;
	fi->keep_cache = 1;
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		pf_inode *inode = h->inode;

		handle_close(fs, h);
		pf_inode_unref(fs, inode, 1);
	}
}

/* ---- data --------------------------------------------------------------- */

static ssize_t do_read(pf_handle *h, size_t size, off_t off, pf_span *span)
{
	*span = (pf_span){ 0 };
	/* max_pages bounds READ to PF_FS_MAX_WRITE; anything else is a bug. */
	if (off < 0 || size > PF_FS_MAX_WRITE)
		return -EINVAL;
	/* Queue the blocks after this read first, so workers decode them
	 * while this thread decodes its own. OPTIMIZATION */
	pthread_mutex_lock(&h->ra_lock);
	pf_file_readahead(h->file, &h->ra, (uint64_t)off, size);
	pthread_mutex_unlock(&h->ra_lock);
	return pf_file_read(h->file, (uint64_t)off, size, span);
}

void pf_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	pf_span span;
	ssize_t rc = do_read(handle_of(fi), size, off, &span);

	(void)ino;
	if (rc < 0) {
		fuse_reply_err(req, (int)-rc);
		return;
	}
	fuse_reply_buf(req, span.data, span.len);
	/* The kernel has copied the bytes: unpin (pf_file_read's partner). */
	pf_span_release(&span);
}

static ssize_t do_write(pf_fs *fs, pf_handle *h, const char *buf, size_t size,
			off_t off)
{
	ssize_t rc;

	if (fs->read_only)
		return -EROFS;
	if (!h->writable)
		return -EBADF;
	if (off < 0)
		return -EINVAL;
	if ((uint64_t)off > (uint64_t)INT64_MAX - size)
		return -EFBIG;
	pthread_rwlock_rdlock(&h->inode->grow_lock);
	rc = pf_file_write(h->file, (uint64_t)off, buf, size);
	pthread_rwlock_unlock(&h->inode->grow_lock);
	if (rc >= 0)
		touch_mtime(h->inode);
	return rc;
}

void pf_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		 off_t off, struct fuse_file_info *fi)
{
	ssize_t rc = do_write(pf_fs_of(req), handle_of(fi), buf, size, off);

	(void)ino;
	if (rc < 0)
		fuse_reply_err(req, (int)-rc);
	else
		fuse_reply_write(req, (size_t)rc);
}

/* fallocate mode 0: the range must read as allocated, so grow the logical
 * size to cover it (holes cost nothing in a container anyway). */
static int do_fallocate(pf_fs *fs, pf_handle *h, int mode, off_t off,
			off_t len)
{
	uint64_t end;
	int rc = 0;

	if (mode != 0)
		return -EOPNOTSUPP;
	if (fs->read_only)
		return -EROFS;
	if (!h->writable)
		return -EBADF;
	if (off < 0 || len <= 0)
		return -EINVAL;
	if (off > INT64_MAX - len)
		return -EFBIG;
	end = (uint64_t)off + (uint64_t)len;
	pthread_rwlock_wrlock(&h->inode->grow_lock);
	if (end > pf_file_size(h->file))
		rc = pf_file_truncate(h->file, end);
	pthread_rwlock_unlock(&h->inode->grow_lock);
	if (rc == 0)
		touch_mtime(h->inode);
	return rc;
}

void pf_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
		     off_t len, struct fuse_file_info *fi)
{
	int rc = do_fallocate(pf_fs_of(req), handle_of(fi), mode, off, len);

	(void)ino;
	fuse_reply_err(req, -rc);
}

/* ---- commit points ---------------------------------------------------------- */

void pf_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	pf_fs *fs = pf_fs_of(req);
	pf_handle *h = handle_of(fi);
	int rc = 0;

	(void)ino;
	/* Every close() flushes: what a closed fd wrote is committed. */
	if (h->writable)
		rc = pf_inode_commit(fs, h->inode, h->file, false);
	fuse_reply_err(req, -rc);
}

void pf_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	handle_close(pf_fs_of(req), handle_of(fi));
	fuse_reply_err(req, 0);
}

void pf_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi)
{
	pf_handle *h = handle_of(fi);
	int rc;

	(void)ino;
	(void)datasync; /* a commit syncs data and index alike */
	rc = pf_inode_commit(pf_fs_of(req), h->inode, h->file, true);
	fuse_reply_err(req, -rc);
}
