/* SPDX-License-Identifier: MIT */
/*
 * faultfs.c - a read-only FUSE passthrough of a directory whose reads fail
 * with EIO where a rules file says: a disk with bad sectors, for tests.
 *
 * usage: faultfs SRC MNT RULES [fuse options]
 * RULES holds lines "PATH OFFSET LENGTH" (PATH as seen from the mount root,
 * starting with '/'); a read that overlaps such a range fails with EIO. The
 * file is read again on every read, so a test can add faults while mounted.
 * Files are opened direct_io, so every read reaches the rules rather than
 * the page cache. This kernel has no device-mapper (dm-flakey, dm-error),
 * which is what this stands in for.
 */
#define FUSE_USE_VERSION 35
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

static int src_fd = -1;      /* the directory passed through */
static const char *rules_path; /* absolute */

/* Turns "/a/b" into "a/b" (or "." for the root), relative to src_fd. */
static const char *rel(const char *path)
{
	return path[1] ? path + 1 : ".";
}

/* True when [off, off+len) of path overlaps a rule. */
static bool faulty(const char *path, off_t off, size_t len)
{
	char line[PATH_MAX + 64], rpath[PATH_MAX];
	uint64_t roff, rlen;
	bool hit = false;
	FILE *f = fopen(rules_path, "r");

	if (!f)
		return false;
	while (!hit && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%4095s %" SCNu64 " %" SCNu64, rpath, &roff, &rlen) == 3 &&
		    strcmp(rpath, path) == 0)
			hit = (uint64_t)off < roff + rlen && roff < (uint64_t)off + len;
	}
	fclose(f);
	return hit;
}

static int ff_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	return fstatat(src_fd, rel(path), st, AT_SYMLINK_NOFOLLOW) == -1 ? -errno : 0;
}

static int ff_readlink(const char *path, char *buf, size_t size)
{
	ssize_t n = readlinkat(src_fd, rel(path), buf, size - 1);

	if (n == -1)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int ff_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	int fd = openat(src_fd, rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd == -1 ? NULL : fdopendir(fd);
	struct dirent *e;

	(void)off, (void)fi, (void)flags;
	if (!d) {
		if (fd != -1)
			close(fd);
		return -errno;
	}
	while ((e = readdir(d)))
		if (fill(buf, e->d_name, NULL, 0, 0))
			break;
	closedir(d);
	return 0;
}

static int ff_open(const char *path, struct fuse_file_info *fi)
{
	int fd;

	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EROFS;
	fd = openat(src_fd, rel(path), O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -errno;
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;
	return 0;
}

static int ff_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	ssize_t n;

	if (faulty(path, off, size))
		return -EIO;
	n = pread((int)fi->fh, buf, size, off);
	return n == -1 ? -errno : (int)n;
}

static int ff_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	close((int)fi->fh);
	return 0;
}

/* xattr calls need a path: /proc/self/fd/N of an O_PATH fd names the entry. */
static int proc_path(const char *path, char out[64], int *fd)
{
	*fd = openat(src_fd, rel(path), O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (*fd == -1)
		return -errno;
	snprintf(out, 64, "/proc/self/fd/%d", *fd);
	return 0;
}

static int ff_getxattr(const char *path, const char *name, char *value, size_t size)
{
	char p[64];
	int fd, rc = proc_path(path, p, &fd);
	ssize_t n;

	if (rc < 0)
		return rc;
	n = getxattr(p, name, value, size);
	rc = n == -1 ? -errno : (int)n;
	close(fd);
	return rc;
}

static int ff_listxattr(const char *path, char *list, size_t size)
{
	char p[64];
	int fd, rc = proc_path(path, p, &fd);
	ssize_t n;

	if (rc < 0)
		return rc;
	n = listxattr(p, list, size);
	rc = n == -1 ? -errno : (int)n;
	close(fd);
	return rc;
}

static const struct fuse_operations ff_ops = {
	.getattr = ff_getattr,
	.readlink = ff_readlink,
	.readdir = ff_readdir,
	.open = ff_open,
	.read = ff_read,
	.release = ff_release,
	.getxattr = ff_getxattr,
	.listxattr = ff_listxattr,
};

int main(int argc, char **argv)
{
	char *fargv[argc + 2];
	int fargc = 0;

	if (argc < 4) {
		fprintf(stderr, "usage: faultfs SRC MNT RULES [fuse options]\n");
		return 2;
	}
	src_fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rules_path = realpath(argv[3], NULL);
	if (src_fd == -1 || !rules_path) {
		perror("faultfs");
		return 1;
	}
	fargv[fargc++] = argv[0];
	fargv[fargc++] = argv[2];
	for (int i = 4; i < argc; i++)
		fargv[fargc++] = argv[i];
	fargv[fargc] = NULL;
	return fuse_main(fargc, fargv, &ff_ops, NULL);
}
