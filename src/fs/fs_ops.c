/* SPDX-License-Identifier: MIT */
/*
 * fs_ops.c - the namespace and attribute operations, and the operation
 * table pf_fs_ops that gathers every handler of the filesystem layer.
 *
 * Each handler unpacks its request, calls a do_x() that returns 0 or -errno
 * and replies once (fs_int.h I4). Directories, symlinks and special files
 * are the backing entries themselves; the daemon runs as root, so entries
 * it creates are handed to the calling user. The store's metadata directory
 * is invisible at the root: it cannot be found, made, renamed or removed.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/pf_common.h"
#include "fs/fs_int.h"

#define PF_FS_MAX_GROUPS 64        /* supplementary groups access() checks */

static void pf_op_init(void *userdata, struct fuse_conn_info *conn)
{
	pf_fs *fs = userdata;

	/* POSIX ACLs live on the backing entries as system.posix_acl_*
	 * xattrs; without this the kernel would store them but check only the
	 * mode bits, whose group class then is the ACL mask. A default ACL
	 * replaces the umask, so the umask is left to the daemon. */
	if ((conn->capable & FUSE_CAP_POSIX_ACL) &&
	    (conn->capable & FUSE_CAP_DONT_MASK)) {
		conn->want |= FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;
		fs->posix_acl = true;
	}
	/* max_write also sets max_pages, which bounds READ requests to the
	 * same 1 MiB; conn->max_read must stay 0 unless -o max_read is set. */
	conn->max_write = PF_FS_MAX_WRITE;
	/* The daemon writes containers as root, which keeps set-id bits; the
	 * kernel then clears them itself through setattr. */
	conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
}

/* ---- lookup and references ------------------------------------------------ */

static void pf_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	pf_fs *fs = pf_fs_of(req);
	struct fuse_entry_param e;
	int rc = pf_inode_lookup(fs, pf_inode_get(fs, parent), name, NULL, &e);

	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

static void pf_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	pf_fs *fs = pf_fs_of(req);

	pf_inode_unref(fs, pf_inode_get(fs, ino), nlookup);
	fuse_reply_none(req);
}

static void pf_op_forget_multi(fuse_req_t req, size_t count,
			       struct fuse_forget_data *forgets)
{
	pf_fs *fs = pf_fs_of(req);

	for (size_t i = 0; i < count; i++)
		pf_inode_unref(fs, pf_inode_get(fs, forgets[i].ino),
			       forgets[i].nlookup);
	fuse_reply_none(req);
}

/* ---- attributes ----------------------------------------------------------- */

static void pf_op_getattr(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	pf_fs *fs = pf_fs_of(req);
	struct stat st;
	int rc = pf_inode_stat(pf_inode_get(fs, ino), &st);

	(void)fi;
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, fs->opts.attr_timeout);
}

static int set_mode(pf_inode *inode, mode_t mode)
{
	char path[32];

	/* Linux has no lchmod; a symlink's mode is always 0777. */
	if (inode->type == S_IFLNK)
		return -EOPNOTSUPP;
	pf_inode_proc_path(inode, path);
	if (fchmodat(AT_FDCWD, path, mode & 07777, 0) == -1)
		return -errno;
	return 0;
}

static int set_owner(pf_inode *inode, const struct stat *attr, int valid)
{
	uid_t uid = (valid & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
	gid_t gid = (valid & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;

	if (fchownat(inode->fd, "", uid, gid,
		     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == -1)
		return -errno;
	return 0;
}

static int set_size(pf_fs *fs, pf_inode *inode, struct fuse_file_info *fi,
		    off_t size)
{
	pf_handle *h = fi ? (pf_handle *)(uintptr_t)fi->fh : NULL;

	if (inode->type == S_IFDIR)
		return -EISDIR;
	if (inode->type != S_IFREG || size < 0)
		return -EINVAL;
	return pf_inode_truncate(fs, inode, h, (uint64_t)size);
}

static int set_times(pf_fs *fs, pf_inode *inode, const struct stat *attr,
		     int valid)
{
	struct timespec tv[2] = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } };

	if (valid & FUSE_SET_ATTR_ATIME_NOW)
		tv[0].tv_nsec = UTIME_NOW;
	else if (valid & FUSE_SET_ATTR_ATIME)
		tv[0] = attr->st_atim;
	if (valid & FUSE_SET_ATTR_MTIME_NOW)
		tv[1].tv_nsec = UTIME_NOW;
	else if (valid & FUSE_SET_ATTR_MTIME)
		tv[1] = attr->st_mtim;
	return pf_inode_utimens(fs, inode, tv);
}

static int do_setattr(pf_fs *fs, pf_inode *inode, const struct stat *attr,
		      int valid, struct fuse_file_info *fi, struct stat *out)
{
	if (fs->read_only && valid)
		return -EROFS;
	if (valid & FUSE_SET_ATTR_MODE)
		PF_FORWARD(set_mode(inode, attr->st_mode));
	if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))
		PF_FORWARD(set_owner(inode, attr, valid));
	if (valid & FUSE_SET_ATTR_SIZE)
		PF_FORWARD(set_size(fs, inode, fi, attr->st_size));
	if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME))
		PF_FORWARD(set_times(fs, inode, attr, valid));
	return pf_inode_stat(inode, out);
}

static void pf_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			  int valid, struct fuse_file_info *fi)
{
	pf_fs *fs = pf_fs_of(req);
	struct stat st;
	int rc = do_setattr(fs, pf_inode_get(fs, ino), attr, valid, fi, &st);

	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, fs->opts.attr_timeout);
}

static bool in_group(fuse_req_t req, const struct fuse_ctx *ctx, gid_t gid)
{
	gid_t groups[PF_FS_MAX_GROUPS];
	int n;

	if (ctx->gid == gid)
		return true;
	/* Groups past the first PF_FS_MAX_GROUPS are not checked. */
	n = fuse_req_getgroups(req, PF_FS_MAX_GROUPS, groups);
	for (int i = 0; i < n && i < PF_FS_MAX_GROUPS; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* access(2) for the caller: the daemon is root, so the backing entry's
 * mode bits are checked here against the caller's ids. */
static int do_access(pf_fs *fs, fuse_req_t req, pf_inode *inode, int mask)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct stat st;
	unsigned shift;

	if ((mask & W_OK) && fs->read_only)
		return -EROFS;
	if (fstatat(inode->fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == -1)
		return -errno;
	if (mask == F_OK)
		return 0;
	if (ctx->uid == 0) {
		bool exec_ok = S_ISDIR(st.st_mode) || (st.st_mode & 0111);

		return (mask & X_OK) && !exec_ok ? -EACCES : 0;
	}
	if (ctx->uid == st.st_uid)
		shift = 6;
	else if (in_group(req, ctx, st.st_gid))
		shift = 3;
	else
		shift = 0;
	return ((st.st_mode >> shift) & (unsigned)mask) == (unsigned)mask ? 0 : -EACCES;
}

static void pf_op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	pf_fs *fs = pf_fs_of(req);

	fuse_reply_err(req, -do_access(fs, req, pf_inode_get(fs, ino), mask));
}

static int do_readlink(pf_inode *inode, char **out)
{
	char *buf = malloc(PATH_MAX + 1);
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	n = readlinkat(inode->fd, "", buf, PATH_MAX + 1);
	if (n == -1 || n > PATH_MAX) {
		int rc = n == -1 ? -errno : -ENAMETOOLONG;

		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

static void pf_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char *target = NULL;
	int rc = do_readlink(pf_inode_get(pf_fs_of(req), ino), &target);

	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_readlink(req, target);
	free(target);
}

static void pf_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	pf_fs *fs = pf_fs_of(req);
	struct statvfs sv;

	(void)ino;
	if (fstatvfs(fs->root.fd, &sv) == -1)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

/* ---- namespace ------------------------------------------------------------ */

/* Makes a directory, symlink (link set) or other node, gives it to the
 * caller and looks it up. */
static int do_make(pf_fs *fs, fuse_req_t req, pf_inode *parent,
		   const char *name, mode_t mode, dev_t rdev, const char *link,
		   struct fuse_entry_param *e)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	pf_owner owner;
	int rc;

	if (pf_fs_hidden(fs, parent, name))
		return -EPERM;
	if (fs->read_only)
		return -EROFS;
	mode = pf_fs_create_mode(fs, parent, mode, ctx->umask);
	owner = (pf_owner){ ctx->uid, ctx->gid, mode };
	if (S_ISDIR(mode))
		rc = mkdirat(parent->fd, name, mode & 07777);
	else if (S_ISLNK(mode))
		rc = symlinkat(link, parent->fd, name);
	else
		rc = mknodat(parent->fd, name, mode, rdev);
	if (rc == -1)
		return -errno;
	return pf_inode_lookup(fs, parent, name, &owner, e);
}

static void reply_make(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode, dev_t rdev, const char *link)
{
	pf_fs *fs = pf_fs_of(req);
	struct fuse_entry_param e;
	int rc = do_make(fs, req, pf_inode_get(fs, parent), name, mode, rdev,
			 link, &e);

	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

static void pf_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode, dev_t rdev)
{
	reply_make(req, parent, name, mode, rdev, NULL);
}

static void pf_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode)
{
	reply_make(req, parent, name, S_IFDIR | (mode & 07777), 0, NULL);
}

static void pf_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			  const char *name)
{
	reply_make(req, parent, name, S_IFLNK | 0777, 0, link);
}

static int do_remove(pf_fs *fs, pf_inode *parent, const char *name, int flags)
{
	if (pf_fs_hidden(fs, parent, name))
		return -ENOENT;
	if (fs->read_only)
		return -EROFS;
	if (unlinkat(parent->fd, name, flags) == -1)
		return -errno;
	return 0;
}

static void pf_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	pf_fs *fs = pf_fs_of(req);

	fuse_reply_err(req, -do_remove(fs, pf_inode_get(fs, parent), name, 0));
}

static void pf_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	pf_fs *fs = pf_fs_of(req);

	fuse_reply_err(req, -do_remove(fs, pf_inode_get(fs, parent), name,
				       AT_REMOVEDIR));
}

static int do_rename(pf_fs *fs, pf_inode *parent, const char *name,
		     pf_inode *newparent, const char *newname,
		     unsigned int flags)
{
	if (pf_fs_hidden(fs, parent, name) || pf_fs_hidden(fs, newparent, newname))
		return -EPERM;
	if (flags & ~(unsigned int)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if (fs->read_only)
		return -EROFS;
	if (renameat2(parent->fd, name, newparent->fd, newname, flags) == -1)
		return -errno;
	return 0;
}

static void pf_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			 fuse_ino_t newparent, const char *newname,
			 unsigned int flags)
{
	pf_fs *fs = pf_fs_of(req);
	int rc = do_rename(fs, pf_inode_get(fs, parent), name,
			   pf_inode_get(fs, newparent), newname, flags);

	fuse_reply_err(req, -rc);
}

static int do_link(pf_fs *fs, pf_inode *inode, pf_inode *newparent,
		   const char *newname, struct fuse_entry_param *e)
{
	char path[32];

	if (pf_fs_hidden(fs, newparent, newname))
		return -EPERM;
	if (fs->read_only)
		return -EROFS;
	memset(e, 0, sizeof(*e));
	e->attr_timeout = fs->opts.attr_timeout;
	e->entry_timeout = fs->opts.attr_timeout;
	/* The /proc link of an O_PATH fd names the entry itself, symlink or
	 * not, as in passthrough_ll; AT_EMPTY_PATH would need root. */
	pf_inode_proc_path(inode, path);
	if (linkat(AT_FDCWD, path, newparent->fd, newname, AT_SYMLINK_FOLLOW) == -1)
		return -errno;
	PF_FORWARD(pf_inode_stat(inode, &e->attr));
	pf_inode_ref(fs, inode, 1);
	e->ino = (uintptr_t)inode;
	return 0;
}

static void pf_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		       const char *newname)
{
	pf_fs *fs = pf_fs_of(req);
	struct fuse_entry_param e;
	int rc = do_link(fs, pf_inode_get(fs, ino), pf_inode_get(fs, newparent),
			 newname, &e);

	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

const struct fuse_lowlevel_ops pf_fs_ops = {
	.init = pf_op_init,
	.lookup = pf_op_lookup,
	.forget = pf_op_forget,
	.forget_multi = pf_op_forget_multi,
	.getattr = pf_op_getattr,
	.setattr = pf_op_setattr,
	.access = pf_op_access,
	.readlink = pf_op_readlink,
	.statfs = pf_op_statfs,
	.mknod = pf_op_mknod,
	.mkdir = pf_op_mkdir,
	.symlink = pf_op_symlink,
	.unlink = pf_op_unlink,
	.rmdir = pf_op_rmdir,
	.rename = pf_op_rename,
	.link = pf_op_link,
	.open = pf_op_open,
	.create = pf_op_create,
	.read = pf_op_read,
	.write = pf_op_write,
	.flush = pf_op_flush,
	.release = pf_op_release,
	.fsync = pf_op_fsync,
	.fallocate = pf_op_fallocate,
	.opendir = pf_op_opendir,
	.readdir = pf_op_readdir,
	.readdirplus = pf_op_readdirplus,
	.releasedir = pf_op_releasedir,
	.fsyncdir = pf_op_fsyncdir,
	.setxattr = pf_op_setxattr,
	.getxattr = pf_op_getxattr,
	.listxattr = pf_op_listxattr,
	.removexattr = pf_op_removexattr,
};
