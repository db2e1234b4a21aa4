/* SPDX-License-Identifier: MIT */
/*
 * cmd_fsck.c - "priorctl fsck STORE": decodes every block of every container
 * in the store and checks it against its index checksum, checks every model
 * file against its name, and with --salvage DIR copies the good blocks of
 * each damaged file out.
 *
 * Read-only on the store: it reports faults and repairs nothing. Faults go to
 * standard output, one line each, so that a report can be saved; the summary
 * line follows them. Each container is checked in its last committed state.
 * On a terminal a progress bar on stderr counts the logical bytes checked.
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

static const char fsck_usage[] =
	"usage: priorctl fsck [-v] [--salvage DIR] STORE\n"
	"\n"
	"Decodes every block of every file in STORE and checks its checksum,\n"
	"and checks every model file. Prints one line per fault, then a summary.\n"
	"Changes nothing in STORE.\n"
	"Exit status: 0 clean, 1 faults found (or a salvaged file could not be\n"
	"written), 2 could not run.\n"
	"\n"
	"  -s, --salvage DIR  copy every block that decodes and verifies of each\n"
	"                     damaged file to DIR/PATH (lost blocks stay holes,\n"
	"                     reading as zeros) and print what was lost; DIR must\n"
	"                     be missing or empty and outside STORE\n"
	"  -v, --verbose      also show the store layer's log lines\n"
	"  -h, --help         show this help\n";

struct fsck_ctx {
	pf_store *store;
	const char *path; /* of the container being checked */
	uint64_t files, blocks, faults;
	/* --salvage: the output directory (-1 without), the current file's
	 * bad blocks in ascending order, and the files that could not be
	 * written. */
	int salvage_fd;
	uint64_t *bad;
	size_t nbad, bad_cap;
	bool oom;
	uint64_t salvaged, salvage_errors;
	struct pctl_progress bar;
};

/* Starts a fault line: "priorctl: fsck: PATH: ". */
static void fault_begin(struct fsck_ctx *f, const char *path)
{
	/* stdout may be the bar's terminal too: the line must not land after
	 * the bar; the bar is redrawn below it as checking goes on. */
	flockfile(stderr);
	pctl_progress_clear_locked();
	funlockfile(stderr);
	f->faults++;
	fputs(PCTL_PROG ": fsck: ", stdout);
	pctl_print_name(stdout, path);
	fputs(": ", stdout);
}

static const char *fault_text(int err)
{
	if (err < 0)
		err = -err;
	if (err == EIO)
		return "corrupt or unreadable (does not decode, checksum mismatch "
		       "or read error)";
	if (err == ENOTSUP)
		return "unknown codec";
	return strerror(err);
}

/* Remembers a bad block of the current file for --salvage. */
static void bad_add(struct fsck_ctx *f, uint64_t block)
{
	if (f->nbad == f->bad_cap) {
		size_t cap = f->bad_cap ? 2 * f->bad_cap : 16;
		uint64_t *v = realloc(f->bad, cap * sizeof(*v));

		if (!v) {
			f->oom = true;
			return;
		}
		f->bad = v;
		f->bad_cap = cap;
	}
	f->bad[f->nbad++] = block;
}

/* Every block checked advances the bar; a bad one is reported. */
static void fsck_block_checked(void *arg, uint64_t block, uint32_t len, int err)
{
	struct fsck_ctx *f = arg;

	pctl_progress_add(&f->bar, len);
	if (!err)
		return;
	fault_begin(f, f->path);
	printf("block %" PRIu64 ": %s\n", block, fault_text(err));
	if (f->salvage_fd >= 0)
		bad_add(f, block);
}

static void fsck_walk_fault(void *arg, const char *path, const char *what,
			    int err)
{
	struct fsck_ctx *f = arg;

	fault_begin(f, path);
	printf("%s: %s\n", what, strerror(-err));
}

/* ---- --salvage ------------------------------------------------------------ */

/* Opens the directory holding `path` below rootfd, creating the missing
 * ones (mode 0700), and points *leaf at the file name in path.
 * @return a directory fd or a negative errno. */
static int salvage_parent(int rootfd, const char *path, const char **leaf)
{
	char name[NAME_MAX + 1];
	const char *slash;
	int dfd = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);

	while (dfd >= 0 && (slash = strchr(path, '/')) != NULL) {
		size_t len = (size_t)(slash - path);
		int next;

		if (len > NAME_MAX) {
			close(dfd);
			return -ENAMETOOLONG;
		}
		memcpy(name, path, len);
		name[len] = '\0';
		if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST)
			next = -1;
		else
			next = openat(dfd, name, O_RDONLY | O_DIRECTORY |
						 O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			int err = errno;

			close(dfd);
			return -err;
		}
		close(dfd);
		dfd = next;
		path = slash + 1;
	}
	if (dfd < 0)
		return -errno;
	*leaf = path;
	return dfd;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Copies every block of c that is not in f->bad into fd. A block that fails
 * now though it verified a moment ago (a read error that comes and goes) is
 * a fault too and joins f->bad, which stays sorted.
 * @return 0 or a negative errno from writing fd.
 */
static int salvage_copy(struct fsck_ctx *f, pf_container *c, int fd)
{
	uint32_t bs = pf_container_block_size(c), len;
	uint64_t n = pctl_container_blocks(c);
	size_t i = 0, nbad = f->nbad;
	void *buf = malloc(bs);
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	for (uint64_t b = 0; b < n && rc == 0; b++) {
		if (i < nbad && f->bad[i] == b) {
			i++;
			continue;
		}
		if (pf_container_read_block(c, b, buf, bs, &len) < 0)
			fsck_block_checked(f, b, 0, -EIO);
		else
			rc = pf_pwrite_full(fd, buf, len, b * (uint64_t)bs);
	}
	free(buf);
	if (f->nbad != nbad)
		qsort(f->bad, f->nbad, sizeof(*f->bad), cmp_u64);
	return rc;
}

/* Prints "salvage: PATH: copied G of N blocks, lost L (bytes A-B, ...)",
 * adjacent lost blocks merged into one inclusive byte range. */
static void salvage_report(const struct fsck_ctx *f, pf_container *c,
			   const char *path)
{
	uint64_t n = pctl_container_blocks(c), size = pf_container_size(c);
	uint64_t bs = pf_container_block_size(c);

	fputs(PCTL_PROG ": fsck: salvage: ", stdout);
	pctl_print_name(stdout, path);
	printf(": copied %" PRIu64 " of %" PRIu64 " blocks, lost %zu", n - f->nbad,
	       n, f->nbad);
	for (size_t i = 0; i < f->nbad;) {
		size_t j = i;
		uint64_t end;

		while (j + 1 < f->nbad && f->bad[j + 1] == f->bad[j] + 1)
			j++;
		end = (f->bad[j] + 1) * bs;
		printf("%s%" PRIu64 "-%" PRIu64, i ? ", " : " (bytes ",
		       f->bad[i] * bs, (end < size ? end : size) - 1);
		i = j + 1;
	}
	puts(f->nbad ? ")" : "");
}

/* Writes the good blocks of the damaged file c to DIR/path, a new file of
 * mode 0600 whose lost blocks are holes. Failures are reported and counted
 * (exit status 1); only -ENOMEM is returned. */
static int salvage_file(struct fsck_ctx *f, pf_container *c, const char *path)
{
	const char *leaf, *what = "mkdir";
	int dfd, fd = -1, rc;

	rc = dfd = salvage_parent(f->salvage_fd, path, &leaf);
	if (dfd >= 0) {
		what = "create";
		fd = openat(dfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
					       O_CLOEXEC, 0600);
		rc = fd < 0 ? -errno : 0;
		close(dfd);
	}
	if (rc == 0) {
		what = "write";
		rc = ftruncate(fd, (off_t)pf_container_size(c)) < 0 ? -errno : 0;
	}
	if (rc == 0)
		rc = salvage_copy(f, c, fd);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		f->salvage_errors++;
		pctl_err("fsck: salvage: %s: %s: %s", path, what, strerror(-rc));
		return 0;
	}
	f->salvaged++;
	salvage_report(f, c, path);
	return 0;
}

/* A container that does not open has no block to salvage: says so. */
static void salvage_nothing(const char *path)
{
	fputs(PCTL_PROG ": fsck: salvage: ", stdout);
	pctl_print_name(stdout, path);
	puts(": nothing copied (container does not open)");
}

/* ---- checking ------------------------------------------------------------- */

static int fsck_file(void *arg, int dirfd, const char *name, const char *path,
		     const struct stat *st)
{
	struct fsck_ctx *f = arg;
	pf_container *c;
	long rc;

	(void)st;
	f->files++;
	rc = pctl_container_open(f->store, dirfd, name, path, &c);
	if (rc == -ENOMEM)
		return -ENOMEM;
	if (rc < 0) {
		fault_begin(f, path);
		if (rc == -EIO)
			puts("corrupt container header or index");
		else
			printf("open: %s\n", strerror((int)-rc));
		if (f->salvage_fd >= 0)
			salvage_nothing(path);
		return 0;
	}
	f->path = path;
	f->nbad = 0;
	rc = pf_container_verify(c, fsck_block_checked, f);
	if (rc < 0) {
		fault_begin(f, path);
		printf("read: %s\n", fault_text((int)rc));
	} else {
		f->blocks += pctl_container_blocks(c);
	}
	if (rc > 0 && f->salvage_fd >= 0 && !f->oom)
		rc = salvage_file(f, c, path);
	pf_container_close(c);
	return f->oom || rc == -ENOMEM ? -ENOMEM : 0;
}

/* Loads every model file, which checks its SHA-256 against its name; a
 * corrupt model fails every learned block that uses it, and those blocks
 * are reported with their files. */
static int fsck_models(struct fsck_ctx *f)
{
	char name[sizeof(PF_META_NAME "/models/") + 2 * PF_MODEL_ID_SIZE];
	pf_model_info *v;
	const pf_model *m;
	size_t n;
	int rc = pf_store_models_list(f->store, &v, &n);

	if (rc < 0) {
		fault_begin(f, PF_META_NAME "/models");
		printf("list: %s\n", strerror(-rc));
		return rc == -ENOMEM ? rc : 0;
	}
	for (size_t i = 0; i < n; i++) {
		rc = pf_store_model_get(f->store, v[i].id, &m);
		if (rc == -ENOMEM)
			break;
		if (rc == 0)
			continue;
		memcpy(name, PF_META_NAME "/models/", sizeof(PF_META_NAME "/models/"));
		pctl_id_hex(v[i].id, 2 * PF_MODEL_ID_SIZE,
			    name + sizeof(PF_META_NAME "/models/") - 1);
		fault_begin(f, name);
		puts(rc == -EIO ? "corrupt model (hash or contents do not match)"
				: strerror(-rc));
	}
	free(v);
	return rc == -ENOMEM ? rc : 0;
}

/* ---- progress bar total ---------------------------------------------------- */

static int size_file(void *arg, int dirfd, const char *name, const char *path,
		     const struct stat *st)
{
	uint64_t *total = arg, size;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
				     O_CLOEXEC);

	(void)path;
	(void)st;
	if (fd < 0)
		return 0;
	if (pf_container_peek_size(fd, &size) == 0)
		*total += size;
	close(fd);
	return 0;
}

/* The checking walk meets the same entries and reports them once. */
static void size_walk_fault(void *arg, const char *path, const char *what,
			    int err)
{
	(void)arg;
	(void)path;
	(void)what;
	(void)err;
}

/* Logical bytes of all containers, from their headers alone. Only the bar
 * uses it, and the bar is drawn only on a terminal, so elsewhere fsck
 * spares the store this extra walk and returns 0. */
static uint64_t bar_total(pf_store *store)
{
	uint64_t total = 0;

	if (isatty(STDERR_FILENO) != 1)
		return 0;
	pctl_walk_store(store, size_file, size_walk_fault, &total);
	return total;
}

/* Makes dir (mode 0700) if missing and opens it; it must be empty and not
 * inside the store, so that nothing is overwritten and the walk never meets
 * its own output. @return a directory fd, or -1 (message printed). */
static int salvage_open_dir(const char *dir, const char *store_path)
{
	char *real_dir = NULL, *real_store = NULL;
	const char *why = NULL;
	struct dirent *d;
	DIR *dp;
	int fd;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		goto fail_errno;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		goto fail_errno;
	real_dir = realpath(dir, NULL);
	real_store = realpath(store_path, NULL);
	if (real_dir && real_store) {
		size_t n = strlen(real_store);

		if (strncmp(real_dir, real_store, n) == 0 &&
		    (real_dir[n] == '/' || real_dir[n] == '\0' || n == 1))
			why = "is inside the store";
	}
	dp = fdopendir(fcntl(fd, F_DUPFD_CLOEXEC, 0));
	while (!why && dp && (d = readdir(dp)) != NULL)
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
			why = "is not empty";
	if (dp)
		closedir(dp);
	free(real_dir);
	free(real_store);
	if (!why)
		return fd;
	close(fd);
	pctl_err("fsck: --salvage %s: %s", dir, why);
	return -1;
fail_errno:
	pctl_err("fsck: --salvage %s: %s", dir, strerror(errno));
	return -1;
}

int pctl_cmd_fsck(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "salvage", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fsck_ctx f = { .salvage_fd = -1 };
	const char *salvage = NULL;
	int opt, rc;

	while ((opt = pctl_getopt("fsck", argc, argv, ":s:vh", longopts)) != -1) {
		if (opt == 's')
			salvage = optarg;
		else if (opt == 'v')
			pctl_set_verbose();
		else
			return pctl_usage(fsck_usage, opt == 'h');
	}
	if (argc - optind != 1) {
		pctl_err("fsck: expected one store, got %d arguments",
			 argc - optind);
		return pctl_usage(fsck_usage, false);
	}
	if (pctl_store_open("fsck", argv[optind], &f.store) < 0)
		return PCTL_EXIT_USAGE;
	if (salvage) {
		f.salvage_fd = salvage_open_dir(salvage, argv[optind]);
		if (f.salvage_fd < 0) {
			pf_store_close(f.store);
			return PCTL_EXIT_USAGE;
		}
	}
	rc = fsck_models(&f);
	if (rc == 0) {
		pctl_progress_start(&f.bar, "fsck", bar_total(f.store));
		rc = pctl_walk_store(f.store, fsck_file, fsck_walk_fault, &f);
		pctl_progress_end(&f.bar);
	}
	pf_store_close(f.store);
	free(f.bad);
	if (f.salvage_fd >= 0)
		close(f.salvage_fd);
	if (rc < 0) {
		pctl_err("fsck: %s: %s", argv[optind], strerror(-rc));
		return PCTL_EXIT_USAGE;
	}
	printf(PCTL_PROG ": fsck: %" PRIu64 " files, %" PRIu64
	       " blocks checked, %" PRIu64 " fault%s\n",
	       f.files, f.blocks, f.faults, f.faults == 1 ? "" : "s");
	if (salvage)
		printf(PCTL_PROG ": fsck: salvage: %" PRIu64 " damaged file%s copied to %s"
		       "%s\n", f.salvaged, f.salvaged == 1 ? "" : "s", salvage,
		       f.salvage_errors ? ", some could not be written" : "");
	return f.faults || f.salvage_errors ? PCTL_EXIT_FAULT : PCTL_EXIT_OK;
}
