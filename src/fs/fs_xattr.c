/* SPDX-License-Identifier: MIT */
/*
 * fs_xattr.c - extended attributes, kept on the backing entries.
 *
 * Calls go through /proc/self/fd/N of the inode's O_PATH fd, as in
 * passthrough_ll: the xattr syscalls take no O_PATH fd, and the /proc link
 * names the entry itself, so no path inside the store is resolved.
 */
#include <stdlib.h>
#include <sys/xattr.h>

#include "common/pf_common.h"
#include "fs/fs_int.h"

/* A get/list reply: with size 0 only the length is asked for. */
typedef struct xattr_reply {
	char *buf; /* NULL when size was 0 */
	ssize_t len;
} xattr_reply;

static void reply_xattr(fuse_req_t req, size_t size, const xattr_reply *r)
{
	if (size == 0)
		fuse_reply_xattr(req, (size_t)r->len);
	else
		fuse_reply_buf(req, r->buf, (size_t)r->len);
}

/* Runs getxattr (name set) or listxattr on the inode into r. */
static int do_getlist(pf_inode *inode, const char *name, size_t size,
		      xattr_reply *r)
{
	char path[32];

	pf_inode_proc_path(inode, path);
	r->buf = NULL;
	if (size) {
		r->buf = malloc(size);
		if (!r->buf)
			return -ENOMEM;
	}
	r->len = name ? getxattr(path, name, r->buf, size)
		      : listxattr(path, r->buf, size);
	if (r->len == -1) {
		int rc = -errno;

		free(r->buf);
		r->buf = NULL;
		return rc;
	}
	return 0;
}

static void reply_getlist(fuse_req_t req, fuse_ino_t ino, const char *name,
			  size_t size)
{
	xattr_reply r;
	int rc = do_getlist(pf_inode_get(pf_fs_of(req), ino), name, size, &r);

	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		reply_xattr(req, size, &r);
	free(r.buf);
}

void pf_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    size_t size)
{
	reply_getlist(req, ino, name, size);
}

void pf_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	reply_getlist(req, ino, NULL, size);
}

/* setxattr (value set) or removexattr on the inode. */
static int do_setremove(pf_fs *fs, pf_inode *inode, const char *name,
			const char *value, size_t size, int flags)
{
	char path[32];
	int rc;

	if (fs->read_only)
		return -EROFS;
	pf_inode_proc_path(inode, path);
	rc = value ? setxattr(path, name, value, size, flags)
		   : removexattr(path, name);
	return rc == -1 ? -errno : 0;
}

void pf_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    const char *value, size_t size, int flags)
{
	pf_fs *fs = pf_fs_of(req);

	fuse_reply_err(req, -do_setremove(fs, pf_inode_get(fs, ino), name, value,
					  size, flags));
}

void pf_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	pf_fs *fs = pf_fs_of(req);

	fuse_reply_err(req, -do_setremove(fs, pf_inode_get(fs, ino), name, NULL,
					  0, 0));
}
