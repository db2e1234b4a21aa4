/* SPDX-License-Identifier: MIT */
/*
 * cmd_import.c - "priorctl import [--jobs N] [--no-train] SRC STORE": copies
 * a directory tree into a store, encoding with the learned codec directly on
 * all cores (writes through the mount use the fast codec instead).
 *
 * Design notes:
 * - Order: make STORE a store if needed, take the writer lock, train models
 *   from a sample of SRC (unless --no-train or the store has models), then
 *   copy. The walk of SRC (one thread, ctl_tree.c, shared with export) makes
 *   directories, symlinks and special files at once and queues regular
 *   files; --jobs threads then write the files, one file per job; hard
 *   links are made after that, and directory owners, modes, xattrs and
 *   times last, children before their parent (making entries changes a
 *   directory's mtime).
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
#include <stdlib.h>
#include <string.h>
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

struct import {
	struct pctl_tree tree; /* SRC -> the store root */
	pf_store *store;
	struct pctl_progress bar;
	_Atomic uint64_t copied, skipped, failed, stored;
};

/* ---- regular files ------------------------------------------------------- */

/* Writes the whole source into c, block by block, and commits it. A short
 * block is the last one, even if the file grows meanwhile. */
static int copy_data(struct import *im, int src, pf_container *c)
{
	uint32_t bs = pf_container_block_size(c);
	void *buf = malloc(bs);
	ssize_t n = bs;
	int rc = buf ? pf_container_set_size(c, 0) : -ENOMEM;

	for (uint64_t b = 0; rc == 0 && n == (ssize_t)bs; b++) {
		n = pf_pread_full(src, buf, bs, b * bs);
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
		/* times last: they mark the file done */
		rc = pctl_tree_copy_meta(&im->tree, src, meta, st);
	close(meta);
	if (rc == 0)
		atomic_fetch_add(&im->copied, 1);
	return rc;
}

static int import_one(void *arg, size_t i)
{
	struct import *im = arg;
	const char *path = im->tree.files[i].path;
	int src, dst = -1, rc;
	struct stat st;

	src = openat(im->tree.srcfd, path,
		     O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (src < 0 || fstat(src, &st) < 0)
		rc = -errno;
	else if (!S_ISREG(st.st_mode))
		rc = -EINVAL; /* replaced since the walk */
	else if ((dst = openat(im->tree.dstfd, path,
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

/* ---- command ------------------------------------------------------------- */

static void print_summary(struct import *im)
{
	const struct pctl_tree *t = &im->tree;
	char l[16], s[16];

	printf("import: %zu files (%s; %" PRIu64 " written, %s coded, %" PRIu64
	       " already there, %" PRIu64 " failed), %zu hard links, %zu "
	       "directories, %" PRIu64 " symlinks, %" PRIu64 " special files\n",
	       t->n_files, pctl_human_size(pctl_tree_bytes(t), l),
	       atomic_load(&im->copied),
	       pctl_human_size(atomic_load(&im->stored), s),
	       atomic_load(&im->skipped), atomic_load(&im->failed), t->n_links,
	       t->n_dirs, t->n_symlinks, t->n_special);
}

static int copy_tree(struct import *im, unsigned jobs)
{
	int rc;

	im->tree.dstfd = pf_store_root_fd(im->store);
	PF_FORWARD(pctl_tree_scan(&im->tree));
	pctl_progress_start(&im->bar, "import", pctl_tree_bytes(&im->tree));
	rc = pctl_run_jobs(jobs, im->tree.n_files, import_one, im);
	pctl_progress_end(&im->bar);
	if (rc < 0)
		return rc;
	pctl_tree_finish(&im->tree);
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
	struct import im = { .tree = { .cmd = "import",
				       .owner = geteuid() == 0 } };
	int rc, status;

	im.tree.srcfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (im.tree.srcfd < 0) {
		pctl_err("import: %s: %s", src, strerror(errno));
		return PCTL_EXIT_USAGE;
	}
	if (open_store(dst, &im.store) < 0) {
		close(im.tree.srcfd);
		return PCTL_EXIT_USAGE;
	}
	status = maybe_train(a, src, dst, im.store);
	rc = copy_tree(&im, a->jobs);
	if (rc < 0)
		pctl_err("import: %s: %s", src, strerror(-rc));
	if (rc < 0 || im.tree.errors || atomic_load(&im.failed))
		status = PCTL_EXIT_FAULT;
	pctl_tree_free(&im.tree);
	pf_store_close(im.store);
	close(im.tree.srcfd);
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
