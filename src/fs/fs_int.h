/* SPDX-License-Identifier: MIT */
/*
 * fs_int.h - private to src/fs: the inode table, open-file handles and the
 * operation handlers that fs_ops.c gathers into pf_fs_ops.
 *
 * Design notes
 *
 * An inode is one backing entry, held by an O_PATH|O_NOFOLLOW fd opened
 * relative to its parent's fd, and found by (st_dev, st_ino) in the table.
 * Its fuse_ino_t is its address (the root's is FUSE_ROOT_ID), as in libfuse's
 * passthrough_ll. A regular file's container is open (one pf_file shared by
 * every handle) only while somebody uses it.
 *
 * Invariants:
 *   (I1) An inode is in the table iff nlookup > 0 or nopen > 0; it is freed
 *        by whoever drops the last of both, under the table lock, so nobody
 *        can find it or still hold it afterwards.
 *   (I2) inode->file != NULL iff nfile > 0 (users between a successful
 *        pf_inode_file_get() and the matching put); only the last put
 *        commits and closes it. nfile <= nopen: each user also pins the
 *        inode, but the two are counted apart so that freeing needs only
 *        the table lock while a commit runs under the inode lock.
 *   (I3) While mtime_pending, the backing file's mtime may be stale (the
 *        container was rewritten); the logical mtime is `mtime`. Every
 *        commit ends with futimens-like restore, under the inode lock, so a
 *        container rewrite never clobbers a time set by utimens.
 *   (I4) Handlers reply exactly once, never holding a lock; do_x() helpers
 *        return 0 or -errno and never reply.
 *
 * Inode life:
 *
 *   (absent) --pf_inode_lookup--> hashed (nlookup 1) --lookup/link--> nlookup++
 *   hashed --pf_inode_file_get--> file open (nfile > 0) --last put--> closed
 *   hashed --forget / last put, both counts 0--> freed (pf_inode_unref)
 *
 * Lock order: table_lock -> inode->lock -> (cache layer).
 */
#ifndef PF_FS_INT_H
#define PF_FS_INT_H

#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

#include "fs/fs.h"

/* Bytes per WRITE request; max_pages follows it, so READ requests are
 * bounded by the same 1 MiB (fs_io.c sizes its span arrays by it). */
#define PF_FS_MAX_WRITE (1u << 20)

typedef struct pf_inode {
	/* Immutable after create. */
	int fd;      /* O_PATH|O_NOFOLLOW; borrowed from the cache for the root */
	dev_t dev;   /* backing st_dev */
	ino_t ino;   /* backing st_ino */
	mode_t type; /* S_IFMT bits */

	/* Guarded by fs->table_lock. */
	struct pf_inode *hnext; /* hash chain */
	uint64_t nlookup;       /* kernel references (lookup, create, link) */
	uint64_t nopen;         /* handles and temporary users (I1) */

	/* Extending writes hold it shared, fallocate exclusive, so that
	 * fallocate's size check and the growth it decides are atomic. Taken
	 * alone, never with another fs lock. */
	pthread_rwlock_t grow_lock;

	pthread_mutex_t lock; /* guards the fields below */
	uint64_t nfile;       /* users of `file` (I2) */
	pf_file *file;        /* shared container, regular files only (I2) */
	bool size_known;      /* `size` holds the logical size */
	uint64_t size;        /* bytes; valid when size_known and file NULL */
	/* The backing file's ctime and size when `size` was read: another
	 * mount's commit changes them, and the size is read again. */
	struct timespec size_ctime;
	off_t size_stored;
	/* Read-only mounts: the backing file's ctime just before `file` read
	 * its committed index, and that of the state whose pages the kernel
	 * may hold; an open keeps the page cache only while they match (a
	 * writer on another mount commits behind the kernel's back). */
	struct timespec file_ctime, page_ctime;
	bool mtime_pending;   /* (I3) */
	struct timespec mtime; /* logical mtime while mtime_pending */
	/* Time of the last write while mtime_pending: until the commit the
	 * backing ctime has not moved, but a write changes ctime too. */
	struct timespec wtime;
	/* Open handles, and CLOCK_MONOTONIC seconds when one was last opened
	 * or closed (0: never): background recompression leaves files in use. */
	int64_t nhandle;
	double used_at;
} pf_inode;

struct pf_fs {
	pf_cache *cache;      /* borrowed; immutable */
	pf_mount_opts opts;   /* immutable */
	bool read_only;       /* store is read-only; immutable */
	bool chown_new;       /* running as root: new entries go to the caller */
	bool posix_acl;       /* the kernel checks POSIX ACLs; set by init */
	struct pf_recompress *recompress; /* background thread, or NULL */
	pf_inode root;        /* never freed, never in the table */

	pthread_mutex_t table_lock; /* guards buckets..count, nlookup, nopen */
	pf_inode **buckets;         /* chains by (dev, ino); nbuckets power of 2 */
	size_t nbuckets;
	size_t count;               /* inodes hashed */
};

/* An open regular file (fi->fh). */
typedef struct pf_handle {
	pf_inode *inode;  /* pinned by nopen until release; immutable */
	pf_file *file;    /* == inode->file while this handle lives (I2) */
	bool writable;    /* opened for writing; immutable */
	bool keep_cache;  /* the kernel's pages of the file are still this state's */
	pthread_mutex_t ra_lock; /* guards ra: the kernel reads in parallel */
	pf_readahead ra;
} pf_handle;

/* Who a newly created entry belongs to (create ops run as root). */
typedef struct pf_owner {
	uid_t uid;
	gid_t gid;
	mode_t mode; /* requested mode; set-id bits are reapplied after chown */
} pf_owner;

static inline pf_fs *pf_fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static inline bool pf_time_equal(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* ---- inodes (fs_inode.c) -------------------------------------------------- */

/* The inode for a kernel inode number; the kernel holds a reference. */
pf_inode *pf_inode_get(pf_fs *fs, fuse_ino_t ino);

/* Looks up name in parent and takes one kernel reference on the result,
 * filling e (ino, attributes, timeouts). With owner set, first gives the new
 * entry to the creating user. @return 0 or -errno. */
int pf_inode_lookup(pf_fs *fs, pf_inode *parent, const char *name,
		    const pf_owner *owner, struct fuse_entry_param *e);

/* Takes n more kernel references on an inode already known (link). */
void pf_inode_ref(pf_fs *fs, pf_inode *inode, uint64_t n);
/* Drops n kernel references; frees the inode when unused (I1). */
void pf_inode_unref(pf_fs *fs, pf_inode *inode, uint64_t n);
/* Pins an inode the kernel references for a handle (nopen); the partner
 * pf_inode_unpin() may free it (I1). */
void pf_inode_pin(pf_fs *fs, pf_inode *inode);
void pf_inode_unpin(pf_fs *fs, pf_inode *inode);

/* The attributes the mount shows: the backing entry's, with a regular
 * file's logical size and mtime. @return 0 or -errno. */
int pf_inode_stat(pf_inode *inode, struct stat *st);

/* Fills "/proc/self/fd/N" for the inode's fd (for calls that take a path). */
void pf_inode_proc_path(const pf_inode *inode, char buf[static 32]);

/* The mode to create an entry with on behalf of a caller whose umask is
 * `umask` (see fs_inode.c). */
mode_t pf_fs_create_mode(const pf_fs *fs, const pf_inode *parent, mode_t mode,
			 mode_t umask);

/* Finds or makes the inode of the regular file name in dirfd (a backing
 * directory) and takes one reference on it, released with
 * pf_inode_unref(fs, inode, 1). @return 0, -EINVAL not a regular file,
 * -errno. */
int pf_inode_find_at(pf_fs *fs, int dirfd, const char *name, pf_inode **out);

/* True when name in parent is the store's metadata directory. */
bool pf_fs_hidden(pf_fs *fs, const pf_inode *parent, const char *name);

/* ---- regular files (fs_io.c) ---------------------------------------------- */

/* Pins the inode's shared pf_file, opening the container if nobody has it
 * open; release with pf_inode_file_put(). @return 0 or -errno. */
int pf_inode_file_get(pf_fs *fs, pf_inode *inode, pf_file **out);
/* Unpins; the last user commits (writable store) and closes the file. */
void pf_inode_file_put(pf_fs *fs, pf_inode *inode);

/* Background recompression writes re-encoded blocks into the container,
 * which moves its mtime: first the backing mtime becomes the logical one
 * (I3), unless a write already made one. pf_inode_commit_recoded() commits
 * such blocks (pf_file_commit_recoded(), durable) and puts the mtime back;
 * a file with changes of its own is left to their commit. @return 0 or
 * -errno. */
void pf_inode_hold_mtime(pf_inode *inode);
int pf_inode_commit_recoded(pf_inode *inode, pf_file *f);

/* Commits f, then restores the backing mtime to the logical one (I3).
 * @return 0 or -errno from the commit or the restore. */
int pf_inode_commit(pf_fs *fs, pf_inode *inode, pf_file *f, bool durable);

/* Sets the logical size of a regular file and commits; uses the handle's
 * file when h is set, else opens the container for the call. */
int pf_inode_truncate(pf_fs *fs, pf_inode *inode, pf_handle *h,
		      uint64_t size);

/* Applies times (utimensat semantics) to the backing entry and to the
 * logical mtime. @return 0 or -errno. */
int pf_inode_utimens(pf_fs *fs, pf_inode *inode, const struct timespec tv[2]);

/* ---- handlers in other files, gathered by fs_ops.c ------------------------ */

void pf_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void pf_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode, struct fuse_file_info *fi);
void pf_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void pf_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		 size_t size, off_t off, struct fuse_file_info *fi);
void pf_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void pf_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void pf_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi);
void pf_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
		     off_t len, struct fuse_file_info *fi);

void pf_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void pf_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi);
void pf_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi);
void pf_op_releasedir(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi);
void pf_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		    struct fuse_file_info *fi);

void pf_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    const char *value, size_t size, int flags);
void pf_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    size_t size);
void pf_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void pf_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* ---- background recompression (fs_recompress.c) -------------------------- */

/* CLOCK_MONOTONIC in seconds (pf_inode.used_at). */
double pf_fs_now(void);

/* Starts the thread when the options ask for it and it can do anything (a
 * writable store with default models, codec auto or learned). @return 0,
 * or -errno when the thread cannot start. */
int pf_recompress_start(pf_fs *fs);
/* Stops and joins it (waiting for the block being coded). NULL is ok. */
void pf_recompress_stop(pf_fs *fs);

/* What it did since the mount, for user.priorfs.stats. */
typedef struct pf_recompress_stats {
	bool running;
	uint64_t scans, files, blocks;
	uint64_t tries; /* files coded through (any block replaced or not) */
	uint64_t coded_bytes; /* block bytes the learned codec ran on */
	uint64_t trainings, trained; /* train=auto: runs, models made default */
} pf_recompress_stats;
void pf_recompress_get_stats(pf_fs *fs, pf_recompress_stats *st);

#endif
