/* SPDX-License-Identifier: MIT */
/*
 * fs.h - the filesystem layer: FUSE low-level operations over a store.
 *
 * Inodes are backing directory entries held by O_PATH fds (as in libfuse's
 * passthrough_ll), so the daemon never resolves a path through a symlink
 * inside the store. Regular files are read and written through the cache
 * layer; everything else (directories, symlinks, special files, owner, mode,
 * times, xattrs) is the backing entry itself.
 *
 * Lock order: inode table -> inode -> (cache layer: file -> cache table).
 */
#ifndef PF_FS_H
#define PF_FS_H

#include <stdbool.h>
#include <stdio.h>

/* 3.12: the loop config with a thread limit of its own (max_threads) */
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#include <fuse_lowlevel.h>

#include "cache/cache.h"

/* Everything `-o` can set for priorfs itself. */
typedef struct pf_mount_opts {
	pf_store_opts store;
	pf_cache_opts cache;
	double attr_timeout; /* seconds the kernel may cache attributes */
	/* Background recompression to the learned codec (fs_recompress.c). */
	bool recompress;
	double recompress_after;  /* seconds unchanged and unused: cold */
	uint64_t recompress_rate; /* plain bytes per second at most; 0: no limit */
	bool train;               /* train=auto: train a model when there is none */
	uint64_t train_after;     /* logical bytes of cold data before training */
} pf_mount_opts;

/*
 * Parses priorfs's own -o options out of args (fuse_opt), leaving the
 * standard FUSE ones (allow_other, default_permissions, ro, ...) in args.
 * Validates every value; on a bad one writes a one-line message naming the
 * option and the accepted range to err and returns -EINVAL.
 */
int pf_mount_opts_parse(struct fuse_args *args, pf_mount_opts *opts, char *err,
			size_t err_len);

/* Prints the priorfs option list (for --help). */
void pf_mount_opts_help(FILE *out);

typedef struct pf_fs pf_fs;

/* Creates the filesystem over an open cache (borrowed; must outlive fs). */
int pf_fs_create(pf_cache *cache, const pf_mount_opts *opts, pf_fs **out);
/* Commits and closes every open file, frees every inode. NULL is ok. */
void pf_fs_destroy(pf_fs *fs);

/* The operation table; pass `fs` as userdata to fuse_session_new(). */
extern const struct fuse_lowlevel_ops pf_fs_ops;

#endif
