/* SPDX-License-Identifier: MIT */
/*
 * priorctl.h - what the priorctl subcommands share: exit codes, messages,
 * opening a store read-only and walking its backing tree.
 *
 * priorctl works on the backing directory through the store and codec layers
 * only; it never mounts anything, and it never writes to an existing store.
 * Running it on a mounted store is safe: containers are opened read-only
 * and each one is read in its last committed state.
 */
#ifndef PF_PRIORCTL_H
#define PF_PRIORCTL_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>

#include "store/store.h"

#define PCTL_PROG "priorctl"

/* Exit codes of every subcommand (man/priorctl.1 "EXIT STATUS"). */
enum pctl_exit {
	PCTL_EXIT_OK = 0,    /* done, nothing wrong */
	PCTL_EXIT_FAULT = 1, /* ran, but found faults or could not do the job */
	PCTL_EXIT_USAGE = 2  /* could not run: bad arguments, not a store */
};

/* Prints "priorctl: " + the message + a newline to stderr. */
void pctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints a command's usage text: to stdout with status OK for --help, to
 * stderr with status USAGE after a bad argument. @return that status. */
int pctl_usage(const char *text, bool asked);

struct option;
/*
 * getopt_long() for a subcommand, with priorctl's own messages. shortopts
 * must start with ':'. @return the option, -1 after the last one, or '?'
 * for an unknown option or a missing value (message already printed).
 */
int pctl_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
		const struct option *longopts);

/* Length of the valid UTF-8 sequence at p (1..4), or 0 for a byte that
 * does not start one (overlong forms and surrogates are invalid). Reads
 * no further than a NUL terminator. */
size_t pctl_utf8_len(const unsigned char *p);

/* Prints a file name with control bytes and bytes that are not UTF-8 as
 * \xNN (and \ doubled), so that one name stays one readable line. */
void pctl_print_name(FILE *out, const char *name);

/* Lets the store and codec layers' own log lines through (-v). They are
 * off by default because priorctl reports every fault itself. */
void pctl_set_verbose(void);

/*
 * Opens the store at path read-only, with block checksums verified. `cmd`
 * names the subcommand in the message printed on failure.
 * @return 0, or a negative errno (message already printed).
 */
int pctl_store_open(const char *cmd, const char *path, pf_store **out);

/*
 * Opens the container of the regular file `name` in dirfd read-only, never
 * following a symlink; `path` (relative to the store root) labels it.
 * @return 0, or a negative errno: from open() or fstat(), -EIO for a corrupt
 * container. Caller frees with pf_container_close().
 */
int pctl_container_open(pf_store *store, int dirfd, const char *name,
			const char *path, pf_container **out);

/* Number of blocks in the container's working state. */
uint64_t pctl_container_blocks(pf_container *c);

/*
 * Tree walk callbacks. `path` is relative to the store root and valid only
 * during the call. A file callback returns 0 to go on, or a negative errno
 * to stop the walk (only for errors such as -ENOMEM that make going on
 * pointless); problems with one file are the callback's to report.
 */
typedef int (*pctl_file_fn)(void *arg, int dirfd, const char *name,
			    const char *path, const struct stat *st);
/* A directory or entry could not be read: `what` is the failed call. */
typedef void (*pctl_walk_err_fn)(void *arg, const char *path,
				 const char *what, int err);

/*
 * Calls file() for every regular file below the store root, in name order
 * within each directory, skipping the root's metadata directory. Never
 * follows a symlink and never leaves the tree. Entries that cannot be read
 * go to err() and the walk goes on.
 * @return 0, or the negative errno that stopped the walk.
 */
int pctl_walk_store(pf_store *store, pctl_file_fn file, pctl_walk_err_fn err,
		    void *arg);

int pctl_cmd_init(int argc, char **argv);
int pctl_cmd_stat(int argc, char **argv);
int pctl_cmd_fsck(int argc, char **argv);

#endif
