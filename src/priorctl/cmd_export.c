/* SPDX-License-Identifier: MIT */
/*
 * cmd_export.c - "priorctl export [--jobs N] [--resume] STORE DST": writes a
 * store's files back out as a plain tree, the reverse of import.
 *
 * Design notes:
 * - Read-only on the store (like fsck): each container is read in its last
 *   committed state with every block's checksum verified, so it needs no
 *   writer lock and may run while the store is mounted.
 * - The tree itself (directories, symlinks, special files, hard links,
 *   owners, modes, times, user xattrs) is ctl_tree.c's, shared with import;
 *   this file writes the regular files, --jobs at a time.
 * - A file is written to an unnamed temporary file (O_TMPFILE) in its
 *   directory, given its owner, mode, xattrs and times, and only then linked
 *   under its name, so an interrupted export never leaves a partial file
 *   under a real name. Where the file system has no O_TMPFILE, a named
 *   ".priorctl-export.PID.N" file and rename() do the same job (a kill can
 *   leave that one behind).
 * - Blocks stored as zeros or holes are not written, so sparse files stay
 *   sparse; ftruncate() gives the file its length.
 * - A block that does not decode or verify fails its file (named with the
 *   block); the others go on and the exit status is 1.
 * - DST must be missing or empty, and may not overlap STORE. With --resume
 *   it may hold an earlier export: a file whose copy has the same size and
 *   mtime is skipped (import's rule), others are written again.
 */
#include "priorctl/priorctl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/pf_common.h"

static const char export_usage[] =
	"usage: priorctl export [--jobs N] [--resume] STORE DST\n"
	"\n"
	"Copies the files of STORE out to DST as a plain tree: every block is\n"
	"decoded and its checksum verified. Keeps modes, owners (as root),\n"
	"times, hard links, symlinks, special files, user xattrs and holes.\n"
	"DST must be missing or empty and must not overlap STORE. Reads the\n"
	"store only, so it may run while the store is mounted. A file with a\n"
	"bad block is reported (file and block) and left out; the others are\n"
	"copied. Files are written under a temporary name first, so an\n"
	"interrupted export leaves no partial file under a real name.\n"
	"Exit status: 0 all copied, 1 some entries failed, 2 could not run.\n"
	"\n"
	"  -j, --jobs N       files written in parallel (default: CPUs)\n"
	"  -r, --resume       DST may hold an earlier export: files there with\n"
	"                     the same size and mtime are skipped\n"
	"  -v, --verbose      also show the store layer's log lines\n"
	"  -h, --help         show this help\n";

struct export {
	struct pctl_tree tree; /* the store root -> DST */
	pf_store *store;
	struct pctl_progress bar;
	_Atomic uint64_t copied, skipped, failed;
};

/* The file being written: an O_TMPFILE (tmp NULL) or a named one. */
struct out_file {
	int fd;
	char *tmp; /* relative to DST */
};

/* ---- the file's data ----------------------------------------------------- */

static int write_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/*
 * Decodes every block of c into fd; zero blocks and holes are skipped.
 * *bad gets the block that failed to decode or verify (then -EIO).
 * @return 0 or a negative errno.
 */
static int copy_blocks(struct export *ex, pf_container *c, int fd,
		       uint64_t *bad)
{
	uint32_t bs = pf_container_block_size(c), len;
	uint64_t n = pctl_container_blocks(c);
	void *buf = malloc(bs);
	pf_block_entry e;
	int rc = buf ? 0 : -ENOMEM;

	for (uint64_t b = 0; b < n && rc == 0; b++) {
		pf_container_block(c, b, &e);
		if (e.codec == PF_CODEC_ZERO) {
			pctl_progress_add(&ex->bar, pf_container_block_len(c, b));
			continue;
		}
		rc = pf_container_read_block(c, b, buf, bs, &len);
		if (rc < 0) {
			*bad = b;
			break;
		}
		rc = write_full(fd, buf, len, b * (uint64_t)bs);
		pctl_progress_add(&ex->bar, len);
	}
	free(buf);
	if (rc == 0 && ftruncate(fd, (off_t)pf_container_size(c)) < 0)
		rc = -errno;
	return rc;
}

/* ---- the temporary file -------------------------------------------------- */

static int out_open(struct export *ex, const char *path, size_t i,
		    struct out_file *out)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
	int rc = 0;

	if (!dir)
		return -ENOMEM;
	out->tmp = NULL;
	out->fd = openat(ex->tree.dstfd, dir, O_TMPFILE | O_WRONLY | O_CLOEXEC,
			 0600);
	if (out->fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
		/* no O_TMPFILE here (EISDIR: kernels that predate it) */
		if (asprintf(&out->tmp, "%s/.priorctl-export.%ld.%zu", dir,
			     (long)getpid(), i) < 0) {
			out->tmp = NULL;
			rc = -ENOMEM;
		} else {
			out->fd = openat(ex->tree.dstfd, out->tmp,
					 O_WRONLY | O_CREAT | O_TRUNC |
						 O_NOFOLLOW | O_CLOEXEC,
					 0600);
		}
	}
	if (rc == 0 && out->fd < 0)
		rc = -errno;
	if (rc < 0) {
		free(out->tmp);
		out->tmp = NULL;
	}
	free(dir);
	return rc;
}

/* Links an O_TMPFILE under path, replacing what an earlier run left. */
static int link_tmpfile(int fd, int dstfd, const char *path)
{
	char proc[32];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, dstfd, path, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno != EEXIST || unlinkat(dstfd, path, 0) < 0)
		return -errno;
	return linkat(AT_FDCWD, proc, dstfd, path, AT_SYMLINK_FOLLOW) < 0
		       ? -errno : 0;
}

/* Gives the finished file its name. Frees out either way. */
static int out_place(struct export *ex, const char *path, struct out_file *out)
{
	int rc;

	if (out->tmp)
		rc = renameat(ex->tree.dstfd, out->tmp, ex->tree.dstfd, path) < 0
			     ? -errno : 0;
	else
		rc = link_tmpfile(out->fd, ex->tree.dstfd, path);
	if (close(out->fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0 && out->tmp)
		unlinkat(ex->tree.dstfd, out->tmp, 0);
	free(out->tmp);
	return rc;
}

static void out_discard(struct export *ex, struct out_file *out)
{
	close(out->fd);
	if (out->tmp)
		unlinkat(ex->tree.dstfd, out->tmp, 0);
	free(out->tmp);
}

/* ---- one file ------------------------------------------------------------ */

/* Opens a store file for reading; O_NOATIME keeps the store's atimes as
 * they are where we may (we own the file, or root). */
static int open_src(int dirfd, const char *name, struct stat *st)
{
	int flags = O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;
	int fd = openat(dirfd, name, flags | O_NOATIME);

	if (fd < 0 && errno == EPERM)
		fd = openat(dirfd, name, flags);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	if (!S_ISREG(st->st_mode)) { /* replaced since the walk */
		close(fd);
		return -EINVAL;
	}
	return fd;
}

/* The logical size of a store file, for the bar (its st_size is the
 * container's length). */
static uint64_t file_size(int dirfd, const char *name, const struct stat *st)
{
	struct stat now;
	uint64_t size;
	int fd = open_src(dirfd, name, &now);

	if (fd < 0)
		return (uint64_t)st->st_size;
	if (pf_container_peek_size(fd, &size) < 0)
		size = (uint64_t)st->st_size;
	close(fd);
	return size;
}

/* True when DST has the copy of this file from an earlier run. */
static bool already_there(struct export *ex, const char *path, uint64_t size,
			  const struct stat *src)
{
	struct stat st;

	return fstatat(ex->tree.dstfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode) && (uint64_t)st.st_size == size &&
	       st.st_mtim.tv_sec == src->st_mtim.tv_sec &&
	       st.st_mtim.tv_nsec == src->st_mtim.tv_nsec;
}

/* Writes the container c (its backing fd is meta) to path. *what names
 * the step that failed. */
static int export_data(struct export *ex, size_t i, pf_container *c, int meta,
		       const struct stat *st, const char **what, uint64_t *bad)
{
	const char *path = ex->tree.files[i].path;
	struct out_file out;
	int rc;

	*what = "create";
	PF_FORWARD(out_open(ex, path, i, &out));
	*what = "write";
	rc = copy_blocks(ex, c, out.fd, bad);
	if (rc == 0) {
		*what = "owner, mode, xattrs or times";
		rc = pctl_tree_copy_meta(&ex->tree, meta, out.fd, st);
	}
	if (rc < 0) {
		out_discard(ex, &out);
		return rc;
	}
	*what = "rename";
	return out_place(ex, path, &out);
}

static int export_file(struct export *ex, size_t i, const char **what,
		       uint64_t *bad)
{
	const char *path = ex->tree.files[i].path;
	int fd, meta, rc;
	pf_container *c;
	uint64_t size;
	struct stat st;

	*what = "open";
	fd = open_src(ex->tree.srcfd, path, &st);
	if (fd < 0)
		return fd;
	*what = "container";
	if (pf_container_peek_size(fd, &size) < 0) {
		close(fd);
		return -EIO;
	}
	if (already_there(ex, path, size, &st)) {
		close(fd);
		atomic_fetch_add(&ex->skipped, 1);
		pctl_progress_add(&ex->bar, size);
		return 0;
	}
	meta = dup(fd);
	if (meta < 0) {
		close(fd);
		return -errno;
	}
	rc = pf_container_open(ex->store, fd, path, &c); /* owns fd */
	if (rc == 0) {
		rc = export_data(ex, i, c, meta, &st, what, bad);
		pf_container_close(c);
	}
	close(meta);
	if (rc == 0)
		atomic_fetch_add(&ex->copied, 1);
	return rc;
}

static int export_one(void *arg, size_t i)
{
	struct export *ex = arg;
	const char *path = ex->tree.files[i].path, *what = "";
	uint64_t bad = UINT64_MAX;
	int rc = export_file(ex, i, &what, &bad);

	if (rc == -ENOMEM || rc == -ENOSPC || rc == -EDQUOT || rc == -EROFS) {
		pctl_err("export: %s: %s: %s; stopping", path, what,
			 strerror(-rc));
		return rc;
	}
	if (rc == 0)
		return 0;
	atomic_fetch_add(&ex->failed, 1);
	if (bad != UINT64_MAX)
		pctl_err("export: %s: block %" PRIu64 ": corrupt or unreadable "
			 "(does not decode, checksum mismatch or read error); "
			 "file not exported",
			 path, bad);
	else if (rc == -EIO && !strcmp(what, "container"))
		pctl_err("export: %s: corrupt container header or index; "
			 "file not exported", path);
	else
		pctl_err("export: %s: %s: %s", path, what, strerror(-rc));
	return 0;
}

/* ---- DST ------------------------------------------------------------------ */

/* The absolute path of p, which may be missing (its parent must not). */
static char *real_path(const char *p)
{
	char *copy, *slash, *parent, *out = realpath(p, NULL);
	size_t n;

	if (out || errno != ENOENT || !(copy = strdup(p)))
		return out;
	n = strlen(copy);
	while (n > 1 && copy[n - 1] == '/')
		copy[--n] = '\0';
	slash = strrchr(copy, '/');
	if (slash)
		*slash = '\0';
	parent = realpath(slash ? (*copy ? copy : "/") : ".", NULL);
	if (parent && asprintf(&out, "%s/%s", parent, slash ? slash + 1 : copy) < 0)
		out = NULL;
	free(parent);
	free(copy);
	return out;
}

/* True when one of the absolute paths a, b is, or is inside, the other. */
static bool overlap(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b), n = na < nb ? na : nb;
	const char *longer = na < nb ? b : a;

	return strncmp(a, b, n) == 0 &&
	       (longer[n] == '/' || longer[n] == '\0' || n == 1);
}

static bool dir_empty(int fd)
{
	DIR *dp = fdopendir(fcntl(fd, F_DUPFD_CLOEXEC, 0));
	struct dirent *d;
	bool empty = dp != NULL;

	while (empty && (d = readdir(dp)) != NULL)
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
			empty = false;
	if (dp)
		closedir(dp);
	return empty;
}

/* Makes DST (mode 0700 until its attributes are copied) if missing and
 * opens it, after the checks. @return a directory fd, or -1 (printed). */
static int open_dst(const char *dst, const char *store_path, bool resume)
{
	char *real_dst = real_path(dst), *real_store = realpath(store_path, NULL);
	const char *why = NULL;
	int fd = -1;

	if (!real_dst || !real_store)
		why = strerror(errno);
	else if (overlap(real_dst, real_store))
		why = "overlaps the store (one is inside the other)";
	else if (mkdir(dst, 0700) < 0 && errno != EEXIST)
		why = strerror(errno);
	else if ((fd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		why = strerror(errno);
	else if (!resume && !dir_empty(fd))
		why = "is not empty (use --resume to finish an earlier export)";
	free(real_dst);
	free(real_store);
	if (!why)
		return fd;
	if (fd >= 0)
		close(fd);
	pctl_err("export: %s: %s", dst, why);
	return -1;
}

/* ---- command ------------------------------------------------------------- */

static void print_summary(struct export *ex)
{
	const struct pctl_tree *t = &ex->tree;
	char l[16];

	printf("export: %zu files (%s; %" PRIu64 " written, %" PRIu64
	       " already there, %" PRIu64 " failed), %zu hard links, %zu "
	       "directories, %" PRIu64 " symlinks, %" PRIu64 " special files\n",
	       t->n_files, pctl_human_size(pctl_tree_bytes(t), l),
	       atomic_load(&ex->copied), atomic_load(&ex->skipped),
	       atomic_load(&ex->failed), t->n_links, t->n_dirs, t->n_symlinks,
	       t->n_special);
}

static int export_tree(struct export *ex, unsigned jobs)
{
	int rc;

	PF_FORWARD(pctl_tree_scan(&ex->tree));
	pctl_progress_start(&ex->bar, "export", pctl_tree_bytes(&ex->tree));
	rc = pctl_run_jobs(jobs, ex->tree.n_files, export_one, ex);
	pctl_progress_end(&ex->bar);
	if (rc < 0)
		return rc;
	pctl_tree_finish(&ex->tree);
	print_summary(ex);
	return 0;
}

static int export_run(unsigned jobs, bool resume, const char *store,
		      const char *dst)
{
	struct export ex = { .tree = { .cmd = "export", .skip_meta = true,
				       .owner = geteuid() == 0,
				       .file_size = file_size } };
	int rc;

	if (pctl_store_open("export", store, &ex.store) < 0)
		return PCTL_EXIT_USAGE;
	ex.tree.srcfd = pf_store_root_fd(ex.store);
	ex.tree.dstfd = open_dst(dst, store, resume);
	if (ex.tree.dstfd < 0) {
		pf_store_close(ex.store);
		return PCTL_EXIT_USAGE;
	}
	rc = export_tree(&ex, jobs);
	if (rc < 0 && rc != -ENOSPC && rc != -EDQUOT && rc != -EROFS)
		pctl_err("export: %s: %s", store, strerror(-rc));
	pctl_tree_free(&ex.tree);
	close(ex.tree.dstfd);
	pf_store_close(ex.store);
	return rc < 0 || ex.tree.errors || atomic_load(&ex.failed)
		       ? PCTL_EXIT_FAULT : PCTL_EXIT_OK;
}

int pctl_cmd_export(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "jobs", required_argument, NULL, 'j' },
		{ "resume", no_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned jobs = pctl_default_jobs();
	bool resume = false;
	int opt;

	while ((opt = pctl_getopt("export", argc, argv, ":j:rvh", longopts)) !=
	       -1) {
		if (opt == 'j' && pctl_parse_jobs("export", optarg, &jobs) == 0)
			continue;
		if (opt == 'r')
			resume = true;
		else if (opt == 'v')
			pctl_set_verbose();
		else
			return pctl_usage(export_usage, opt == 'h');
	}
	if (argc - optind != 2) {
		pctl_err("export: expected a store and a destination, got %d "
			 "arguments", argc - optind);
		return pctl_usage(export_usage, false);
	}
	return export_run(jobs, resume, argv[optind], argv[optind + 1]);
}
