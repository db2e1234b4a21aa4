/* SPDX-License-Identifier: MIT */
/*
 * fs_xattr.c - extended attributes, kept on the backing entries, plus the
 * read-only user.priorfs.* attributes that describe a file's container.
 *
 * Calls go through /proc/self/fd/N of the inode's O_PATH fd, as in
 * passthrough_ll: the xattr syscalls take no O_PATH fd, and the /proc link
 * names the entry itself, so no path inside the store is resolved.
 *
 * The user.priorfs.* namespace belongs to the daemon: getxattr of a known
 * name computes the value from the container (never stored), setxattr and
 * removexattr fail with EPERM, and listxattr shows none of it. Listing them
 * would make cp -a, rsync -X and tar --xattrs copy a description of this
 * mount's containers to other file systems as if it were data; names a
 * backing entry carries in that namespace (copied in from elsewhere) are
 * hidden for the same reason.
 *
 * The root directory also answers user.priorfs.stats (unlisted, like the
 * others): the running mount's cache counters as "key=value" lines, the
 * first being "version=1". Readers such as `priorctl stat MOUNTPOINT` skip
 * keys they do not know, so keys may be added without a new version; a
 * key changing meaning or going away needs one.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "common/pf_common.h"
#include "fs/fs_int.h"

#define OWN_PREFIX "user.priorfs."
#define OWN_PREFIX_LEN (sizeof(OWN_PREFIX) - 1)
/* A block names its model by a one-byte slot, so no container uses more. */
#define OWN_MODELS_MAX 255

/* A get/list reply: with size 0 only the length is asked for. */
typedef struct xattr_reply {
	char *buf; /* NULL when size was 0 */
	ssize_t len;
} xattr_reply;

static bool is_own(const char *name)
{
	return strncmp(name, OWN_PREFIX, OWN_PREFIX_LEN) == 0;
}

static bool is_acl(const char *name)
{
	return strcmp(name, "system.posix_acl_access") == 0 ||
	       strcmp(name, "system.posix_acl_default") == 0;
}

static void reply_xattr(fuse_req_t req, size_t size, const xattr_reply *r)
{
	if (size == 0)
		fuse_reply_xattr(req, (size_t)r->len);
	else
		fuse_reply_buf(req, r->buf, (size_t)r->len);
}

/* ---- user.priorfs.*: computed from the container ------------------------- */

/* Codec names in the attribute values, by id. */
static const char *const codec_names[PF_CODEC_MAX_ID + 1] = {
	[PF_CODEC_ZERO] = "zero", [PF_CODEC_RAW] = "raw",
	[PF_CODEC_ZSTD] = "zstd", [PF_CODEC_LEARNED] = "learned",
};

static void format_codecs(FILE *out, const pf_file_info *info)
{
	for (int i = 0; i <= PF_CODEC_MAX_ID; i++)
		fprintf(out, "%s%s:%" PRIu64, i ? " " : "", codec_names[i],
			info->blocks[i]);
}

static void format_models(FILE *out, uint8_t (*ids)[PF_MODEL_ID_SIZE], int n)
{
	for (int i = 0; i < n; i++) {
		if (i)
			fputc(' ', out);
		for (int j = 0; j < PF_MODEL_ID_SIZE; j++)
			fprintf(out, "%02x", ids[i][j]);
	}
}

/* Writes the value of attribute `what` (the part after the prefix) of an
 * open file to out. @return 0 or -ENODATA for a name we do not have. */
static int format_own(pf_file *f, const char *what, FILE *out)
{
	uint8_t ids[OWN_MODELS_MAX][PF_MODEL_ID_SIZE];
	pf_file_info info;
	int n;

	if (strcmp(what, "stored") != 0 && strcmp(what, "codec") != 0 &&
	    strcmp(what, "model") != 0)
		return -ENODATA;
	n = pf_file_get_info(f, &info, ids, OWN_MODELS_MAX);
	if (strcmp(what, "stored") == 0)
		fprintf(out, "%" PRIu64, info.stored_bytes);
	else if (strcmp(what, "codec") == 0)
		format_codecs(out, &info);
	else
		format_models(out, ids, n < OWN_MODELS_MAX ? n : OWN_MODELS_MAX);
	return 0;
}

/* The value of user.priorfs.<what> of a regular file, into r (buf set, len
 * its length) whatever size is; the caller checks it fits. */
static int do_get_own(pf_fs *fs, pf_inode *inode, const char *what,
		      xattr_reply *r)
{
	size_t len = 0;
	pf_file *f;
	FILE *out;
	int rc;

	r->buf = NULL;
	if (inode->type != S_IFREG)
		return -ENODATA;
	PF_FORWARD(pf_inode_file_get(fs, inode, &f));
	out = open_memstream(&r->buf, &len);
	if (!out) {
		rc = -ENOMEM;
		goto out_file;
	}
	rc = format_own(f, what, out);
	if (fclose(out) != 0 && rc == 0)
		rc = -ENOMEM;
	if (rc < 0) {
		free(r->buf);
		r->buf = NULL;
	}
	r->len = (ssize_t)len;
out_file:
	pf_inode_file_put(fs, inode);
	return rc;
}

/* ---- user.priorfs.stats on the root: the cache's counters ---------------- */

#define STATS_NAME "stats"
#define STATS_VERSION 1

static void format_stats(pf_fs *fs, FILE *out)
{
	pf_recompress_stats rs;
	pf_cache_stats st;

	pf_cache_get_stats(fs->cache, &st);
	pf_recompress_get_stats(fs, &rs);
	fprintf(out, "version=%d\n", STATS_VERSION);
	fprintf(out, "hits=%" PRIu64 "\nmisses=%" PRIu64 "\n", st.hits,
		st.misses);
	fprintf(out, "decodes=%" PRIu64 "\ndecoded_bytes=%" PRIu64 "\n",
		st.decodes, st.decoded_bytes);
	/* ZERO blocks are never decoded: no line for them. */
	for (int i = PF_CODEC_ZERO + 1; i <= PF_CODEC_MAX_ID; i++)
		fprintf(out, "decoded_bytes.%s=%" PRIu64 "\ndecode_ns.%s=%"
			PRIu64 "\n", codec_names[i], st.codec_bytes[i],
			codec_names[i], st.codec_ns[i]);
	fprintf(out, "readahead_queued=%" PRIu64 "\nreadahead_running=%"
		PRIu64 "\nreadahead_done=%" PRIu64 "\nreadahead_dropped=%" PRIu64
		"\nqueue_depth=%" PRIu64 "\n", st.prefetches, st.prefetch_running,
		st.prefetch_done, st.prefetch_dropped, st.queue_depth);
	fprintf(out, "cache_bytes=%" PRIu64 "\ncache_size=%" PRIu64 "\n",
		st.bytes, st.cache_size);
	fprintf(out, "recompress=%d\nrecompress_scans=%" PRIu64
		"\nrecompress_tries=%" PRIu64 "\nrecompress_files=%" PRIu64
		"\nrecompress_blocks=%" PRIu64 "\nrecompress_coded=%" PRIu64 "\n",
		rs.running, rs.scans, rs.tries, rs.files, rs.blocks, rs.coded_bytes);
	fprintf(out, "train=%d\ntrain_runs=%" PRIu64 "\ntrain_models=%" PRIu64 "\n",
		fs->opts.train && rs.running, rs.trainings, rs.trained);
}

/* The value of user.priorfs.stats into r (buf set, len its length). */
static int do_get_stats(pf_fs *fs, xattr_reply *r)
{
	size_t len = 0;
	FILE *out;

	r->buf = NULL;
	out = open_memstream(&r->buf, &len);
	if (!out)
		return -ENOMEM;
	format_stats(fs, out);
	if (fclose(out) != 0) {
		free(r->buf);
		r->buf = NULL;
		return -ENOMEM;
	}
	r->len = (ssize_t)len;
	return 0;
}

/* ---- attributes of the backing entry ------------------------------------- */

/* Drops the names in our namespace from a listxattr result (NUL-separated
 * names, len bytes); @return the new length. */
static size_t drop_own_names(char *list, size_t len)
{
	size_t in = 0, out = 0;

	while (in < len) {
		size_t n = strnlen(list + in, len - in) + 1;

		if (!is_own(list + in)) {
			memmove(list + out, list + in, n > len - in ? len - in : n);
			out += n;
		}
		in += n;
	}
	return out < len ? out : len;
}

/* listxattr on the inode into r, without our names. Always reads the whole
 * list (the length asked for with size 0 must be that of the filtered one). */
static int do_list(pf_inode *inode, size_t size, xattr_reply *r)
{
	char path[32];
	ssize_t need;

	pf_inode_proc_path(inode, path);
	r->buf = NULL;
	need = listxattr(path, NULL, 0);
	if (need == -1)
		return -errno;
	r->buf = malloc(need ? (size_t)need : 1);
	if (!r->buf)
		return -ENOMEM;
	r->len = listxattr(path, r->buf, (size_t)need);
	if (r->len == -1) {
		/* ERANGE: the list grew meanwhile; the caller retries. */
		int rc = -errno;

		free(r->buf);
		r->buf = NULL;
		return rc;
	}
	r->len = (ssize_t)drop_own_names(r->buf, (size_t)r->len);
	if (size && (size_t)r->len > size) {
		free(r->buf);
		r->buf = NULL;
		return -ERANGE;
	}
	return 0;
}

/* getxattr of the backing entry into r. */
static int do_get(pf_inode *inode, const char *name, size_t size,
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
	r->len = getxattr(path, name, r->buf, size);
	if (r->len == -1) {
		/* The kernel takes EOPNOTSUPP for an ACL as a failed permission
		 * check; a backing filesystem without ACLs has none. */
		int rc = errno == EOPNOTSUPP && is_acl(name) ? -ENODATA : -errno;

		free(r->buf);
		r->buf = NULL;
		return rc;
	}
	return 0;
}

void pf_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    size_t size)
{
	pf_fs *fs = pf_fs_of(req);
	pf_inode *inode = pf_inode_get(fs, ino);
	xattr_reply r;
	int rc;

	if (is_own(name)) {
		const char *what = name + OWN_PREFIX_LEN;

		if (ino == FUSE_ROOT_ID && strcmp(what, STATS_NAME) == 0)
			rc = do_get_stats(fs, &r);
		else
			rc = do_get_own(fs, inode, what, &r);
		if (rc == 0 && size && (size_t)r.len > size)
			rc = -ERANGE;
	} else {
		rc = do_get(inode, name, size, &r);
	}
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		reply_xattr(req, size, &r);
	free(r.buf);
}

void pf_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	xattr_reply r;
	int rc = do_list(pf_inode_get(pf_fs_of(req), ino), size, &r);

	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		reply_xattr(req, size, &r);
	free(r.buf);
}

/* setxattr (value set) or removexattr on the inode. */
static int do_setremove(pf_fs *fs, pf_inode *inode, const char *name,
			const char *value, size_t size, int flags)
{
	char path[32];
	int rc;

	if (is_own(name))
		return -EPERM;
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
