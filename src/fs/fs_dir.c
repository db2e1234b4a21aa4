/* SPDX-License-Identifier: MIT */
/*
 * fs_dir.c - directory handles: opendir, readdir, readdirplus, releasedir
 * and fsyncdir over the backing directory, without the metadata directory
 * at the root.
 *
 * A handle keeps the DIR stream and the last entry read but not sent (it did
 * not fit the reply), so the next call resumes exactly there; the kernel
 * serialises calls on one directory handle.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/pf_common.h"
#include "fs/fs_int.h"

typedef struct pf_dir {
	DIR *dp;
	struct dirent *entry; /* read, not yet sent; NULL when none */
	off_t offset;         /* stream position of `entry` (or the next) */
	bool at_root;         /* hides the metadata directory; immutable */
} pf_dir;

static pf_dir *dir_of(const struct fuse_file_info *fi)
{
	return (pf_dir *)(uintptr_t)fi->fh;
}

static int do_opendir(pf_fs *fs, pf_inode *inode, pf_dir **out)
{
	pf_dir *d = calloc(1, sizeof(*d));
	int fd, rc;

	if (!d)
		return -ENOMEM;
	fd = openat(inode->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		goto out_free;
	d->dp = fdopendir(fd);
	if (!d->dp)
		goto out_close;
	d->at_root = inode == &fs->root;
	*out = d;
	return 0;

out_close:
	rc = -errno;
	close(fd);
	free(d);
	return rc;
out_free:
	rc = -errno;
	free(d);
	return rc;
}

static void dir_close(pf_dir *d)
{
	closedir(d->dp);
	free(d);
}

void pf_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	pf_fs *fs = pf_fs_of(req);
	pf_dir *d = NULL;
	int rc = do_opendir(fs, pf_inode_get(fs, ino), &d);

	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uintptr_t)d;
	/* -ENOENT: interrupted, no releasedir will come. */
	if (fuse_reply_open(req, fi) == -ENOENT)
		dir_close(d);
}

static bool dot_or_dotdot(const char *name)
{
	return name[0] == '.' &&
	       (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/*
 * Adds d->entry to buf. For readdirplus this looks the entry up, which
 * takes a kernel reference that is dropped again when the entry does not
 * fit. An entry that vanished since readdir saw it adds nothing.
 * @return bytes added (> rem when it did not fit) or -errno.
 */
static ssize_t add_entry(pf_fs *fs, fuse_req_t req, pf_inode *dir,
			 const struct dirent *de, bool plus, char *p,
			 size_t rem)
{
	struct fuse_entry_param e = { 0 };
	size_t n;
	int rc;

	e.attr.st_ino = de->d_ino;
	e.attr.st_mode = (mode_t)de->d_type << 12;
	if (!plus)
		return (ssize_t)fuse_add_direntry(req, p, rem, de->d_name, &e.attr,
						  de->d_off);
	if (!dot_or_dotdot(de->d_name)) {
		rc = pf_inode_lookup(fs, dir, de->d_name, NULL, &e);
		if (rc < 0)
			return rc == -ENOENT ? 0 : rc;
	}
	n = fuse_add_direntry_plus(req, p, rem, de->d_name, &e, de->d_off);
	if (n > rem && e.ino)
		pf_inode_unref(fs, pf_inode_get(fs, e.ino), 1);
	return (ssize_t)n;
}

/* Fills buf with entries from off on; sets *used. @return 0 or -errno
 * (entries already in buf are still to be sent). */
static int fill_dir(pf_fs *fs, fuse_req_t req, pf_inode *dir, pf_dir *d,
		    off_t off, bool plus, char *buf, size_t size, size_t *used)
{
	*used = 0;
	if (off != d->offset) {
		seekdir(d->dp, off);
		d->entry = NULL;
		d->offset = off;
	}
	for (;;) {
		ssize_t n = 0;

		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry)
				return -errno;
		}
		if (!d->at_root || !pf_cache_is_hidden_name(d->entry->d_name))
			n = add_entry(fs, req, dir, d->entry, plus, buf + *used,
				      size - *used);
		if (n < 0)
			return (int)n;
		if ((size_t)n > size - *used)
			return 0;
		*used += (size_t)n;
		d->offset = d->entry->d_off;
		d->entry = NULL;
	}
}

static void reply_dir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi, bool plus)
{
	pf_fs *fs = pf_fs_of(req);
	char *buf = malloc(size);
	size_t used = 0;
	int rc;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = fill_dir(fs, req, pf_inode_get(fs, ino), dir_of(fi), off, plus, buf,
		      size, &used);
	/* After an error, entries already added must still be sent: their
	 * lookups took kernel references. */
	if (rc < 0 && used == 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

void pf_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	reply_dir(req, ino, size, off, fi, false);
}

void pf_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi)
{
	reply_dir(req, ino, size, off, fi, true);
}

void pf_op_releasedir(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi)
{
	(void)ino;
	dir_close(dir_of(fi));
	fuse_reply_err(req, 0);
}

void pf_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		    struct fuse_file_info *fi)
{
	int fd = dirfd(dir_of(fi)->dp);
	int rc = datasync ? fdatasync(fd) : fsync(fd);

	(void)ino;
	fuse_reply_err(req, rc == -1 ? errno : 0);
}
