/* SPDX-License-Identifier: MIT */
/*
 * cmd_fsck.c - "priorctl fsck STORE": decodes every block of every container
 * in the store and checks it against its index checksum.
 *
 * Read-only: it reports faults and repairs nothing. Faults go to standard
 * output, one line each, so that a report can be saved; the summary line
 * follows them. Each container is checked in its last committed state.
 */
#include "priorctl/priorctl.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>

static const char fsck_usage[] =
	"usage: priorctl fsck [-v] STORE\n"
	"\n"
	"Decodes every block of every file in STORE and checks its checksum.\n"
	"Prints one line per fault, then a summary. Changes nothing.\n"
	"Exit status: 0 clean, 1 faults found, 2 could not run.\n"
	"\n"
	"  -v, --verbose  also show the store layer's log lines\n"
	"  -h, --help     show this help\n";

struct fsck_ctx {
	pf_store *store;
	const char *path; /* of the container being checked */
	uint64_t files, blocks, faults;
};

/* Starts a fault line: "priorctl: fsck: PATH: ". */
static void fault_begin(struct fsck_ctx *f, const char *path)
{
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
		return "corrupt (does not decode or checksum mismatch)";
	if (err == ENOTSUP)
		return "unknown codec";
	return strerror(err);
}

static void fsck_block_fault(void *arg, uint64_t block, int err)
{
	struct fsck_ctx *f = arg;

	fault_begin(f, f->path);
	printf("block %" PRIu64 ": %s\n", block, fault_text(err));
}

static void fsck_walk_fault(void *arg, const char *path, const char *what,
			    int err)
{
	struct fsck_ctx *f = arg;

	fault_begin(f, path);
	printf("%s: %s\n", what, strerror(-err));
}

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
		return 0;
	}
	f->path = path;
	rc = pf_container_verify(c, fsck_block_fault, f);
	if (rc < 0) {
		fault_begin(f, path);
		printf("read: %s\n", fault_text((int)rc));
	} else {
		f->blocks += pctl_container_blocks(c);
	}
	pf_container_close(c);
	return 0;
}

int pctl_cmd_fsck(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fsck_ctx f = { 0 };
	int opt, rc;

	while ((opt = pctl_getopt("fsck", argc, argv, ":vh", longopts)) != -1) {
		if (opt != 'v')
			return pctl_usage(fsck_usage, opt == 'h');
		pctl_set_verbose();
	}
	if (argc - optind != 1) {
		pctl_err("fsck: expected one store, got %d arguments",
			 argc - optind);
		return pctl_usage(fsck_usage, false);
	}
	if (pctl_store_open("fsck", argv[optind], &f.store) < 0)
		return PCTL_EXIT_USAGE;
	rc = pctl_walk_store(f.store, fsck_file, fsck_walk_fault, &f);
	pf_store_close(f.store);
	if (rc < 0) {
		pctl_err("fsck: %s: %s", argv[optind], strerror(-rc));
		return PCTL_EXIT_USAGE;
	}
	printf(PCTL_PROG ": fsck: %" PRIu64 " files, %" PRIu64
	       " blocks checked, %" PRIu64 " fault%s\n",
	       f.files, f.blocks, f.faults, f.faults == 1 ? "" : "s");
	return f.faults ? PCTL_EXIT_FAULT : PCTL_EXIT_OK;
}
