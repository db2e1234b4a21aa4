// SPDX-License-Identifier: MIT
/*
 * fsx.c - random file operations on a test dir, checked against a reference dir.
 *
 * In the spirit of the classic fsx: every operation is applied to the same
 * names in TESTDIR (the filesystem under test) and in REFDIR (a plain
 * filesystem), and every byte read from the test side must match the
 * reference. Names are PREFIXf0..PREFIXfN-1, name k living in subdirectory
 * k % D (d0..dD-1, which directory swaps permute). Operations: pwrite and
 * pread at odd offsets and lengths, append through an O_APPEND descriptor,
 * truncate up and down, fallocate mode 0, mmap read, mmap write + msync,
 * rename (also over an existing name and across directories), renameat2
 * RENAME_EXCHANGE, link and unlink (hard links share one open file),
 * fsync/fdatasync, close and reopen through any name, and swapping two
 * directories that hold open files. Every -c operations and at the end
 * each name is checked: existence, link count, which names share an inode,
 * size and every byte, plus the directory listings. On a mismatch it
 * prints the seed, the operation number, the last LOG_LEN operations and
 * the command line that replays the run, and exits 1.
 *
 * A run ends with every file closed and both sides equal, so runs chain:
 * with -k a run starts from what the previous one left (rebuilt from the
 * reference, compared first), which lets a driver remount and fsck between
 * segments. With -p several processes share one TESTDIR, each touching only
 * its own PREFIX names (directory swaps are then off).
 *
 * Standalone on purpose (no project headers): it checks the mount only
 * through system calls, so it also runs against any other filesystem.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* fallocate(), renameat2(); the build defines it already */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_LEN 100
#define MAX_FILES 64
#define MAX_DIRS 16
#define MAX_PREFIX 32

enum op {
	OP_WRITE, OP_READ, OP_APPEND, OP_TRUNCATE, OP_FALLOCATE, OP_MAPREAD,
	OP_MAPWRITE, OP_RENAME, OP_EXCHANGE, OP_LINK, OP_UNLINK, OP_FSYNC,
	OP_REOPEN, OP_DIRSWAP, OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
	"write", "read", "append", "truncate", "fallocate", "mapread",
	"mapwrite", "rename", "exchange", "link", "unlink", "fsync",
	"reopen", "dirswap",
};

/* Relative weights: data ops dominate, namespace ops are rarer. */
static const unsigned op_weights[OP_COUNT] = {
	30, 25, 6, 8, 4, 6, 6, 3, 2, 2, 2, 3, 4, 1,
};

struct logent {
	unsigned long n;  /* operation number, from 1 */
	enum op op;
	int a, b;         /* names (dirs for dirswap); b = -1 when unused */
	uint64_t off, len;
};

/*
 * One file (inode) open on both sides; fds are -1 while closed. A name
 * maps to an inode index or -1, and several names may share one inode.
 */
struct inode {
	int tfd, rfd;
	int nlink;
	ino_t rino;  /* reference st_ino, only while rebuilding with -k */
};

static struct {
	const char *prog, *tdir, *rdir, *prefix;
	unsigned long nops, check_every;
	uint64_t seed, maxlen, maxio;
	int nfiles, ndirs;
	bool verbose, no_falloc, no_mmap, no_exchange, keep;
	uint64_t rng;
	unsigned long opno;
	struct logent log[LOG_LEN];
	int name[MAX_FILES];           /* name k -> inode index, or -1 */
	struct inode ino[MAX_FILES];   /* nlink 0 = free */
	int dmap[MAX_DIRS];            /* logical dir -> physical d<n> */
	unsigned char *buf, *buf2;
	long pagesize;
} g = {
	.nops = 10000, .check_every = 500, .maxlen = 512 * 1024,
	.maxio = 128 * 1024, .nfiles = 4, .ndirs = 3, .prefix = "",
};

/* splitmix64: the same seed gives the same run on every libc. */
static uint64_t rnd(void)
{
	uint64_t z = (g.rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* ---- failure report ----------------------------------------------------- */

static void print_replay(void)
{
	fprintf(stderr, "replay: %s -s %" PRIu64 " -n %lu -N %d -D %d -l %" PRIu64
		" -o %" PRIu64 " -c %lu%s%s%s%s%s%s%s %s %s\n", g.prog, g.seed, g.nops,
		g.nfiles, g.ndirs, g.maxlen, g.maxio, g.check_every,
		*g.prefix ? " -p " : "", g.prefix, g.no_falloc ? " -F" : "",
		g.no_mmap ? " -M" : "", g.no_exchange ? " -X" : "",
		g.keep ? " -k" : "", g.verbose ? " -v" : "", g.tdir, g.rdir);
	if (g.keep)
		fprintf(stderr, "  (-k: starts from the files earlier runs left; "
			"replay those runs first, as the driver logged them)\n");
}

static void print_entry(const struct logent *e)
{
	fprintf(stderr, "  %7lu %-9s ", e->n, op_names[e->op]);
	switch (e->op) {
	case OP_DIRSWAP:
		fprintf(stderr, "dir %d <-> dir %d%s\n", e->a, e->b,
			e->len ? " (three renames)" : " (exchange)");
		return;
	case OP_RENAME: case OP_LINK:
		fprintf(stderr, "%sf%d -> %sf%d\n", g.prefix, e->a, g.prefix, e->b);
		return;
	case OP_EXCHANGE:
		fprintf(stderr, "%sf%d <-> %sf%d\n", g.prefix, e->a, g.prefix, e->b);
		return;
	case OP_FSYNC:
		fprintf(stderr, "%sf%d%s\n", g.prefix, e->a, e->len ? " (fdatasync)" : "");
		return;
	case OP_UNLINK: case OP_REOPEN:
		fprintf(stderr, "%sf%d\n", g.prefix, e->a);
		return;
	default:
		fprintf(stderr, "%sf%d off %" PRIu64 " (0x%" PRIx64 ") len %" PRIu64 "\n",
			g.prefix, e->a, e->off, e->off, e->len);
	}
}

static void print_log(void)
{
	unsigned long first = g.opno > LOG_LEN ? g.opno - LOG_LEN + 1 : 1;

	fprintf(stderr, "last %lu operations (name k lives in dir k %% %d):\n",
		g.opno >= first ? g.opno - first + 1 : 0, g.ndirs);
	for (unsigned long n = first; n <= g.opno; n++)
		print_entry(&g.log[n % LOG_LEN]);
	print_replay();
}

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "fsx: seed %" PRIu64 " op %lu: ", g.seed, g.opno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	print_log();
	exit(1);
}

static void record(enum op op, int a, int b, uint64_t off, uint64_t len)
{
	struct logent *e = &g.log[g.opno % LOG_LEN];

	*e = (struct logent){ g.opno, op, a, b, off, len };
	if (g.verbose)
		print_entry(e);
}

/* ---- names and paths ---------------------------------------------------- */

static void dir_path(char *out, size_t cap, const char *top, int phys)
{
	if ((size_t)snprintf(out, cap, "%s/d%d", top, phys) >= cap)
		die("path too long under %s", top);
}

/* The path of name k inside the physical dir phys. */
static void name_in(char *out, size_t cap, const char *top, int phys, int k)
{
	if ((size_t)snprintf(out, cap, "%s/d%d/%sf%d", top, phys, g.prefix, k) >= cap)
		die("path too long under %s", top);
}

static void path_of(char *out, size_t cap, const char *top, int k)
{
	name_in(out, cap, top, g.dmap[k % g.ndirs], k);
}

static bool exists(int k)
{
	return g.name[k] >= 0;
}

static struct inode *inode_of(int k)
{
	return &g.ino[g.name[k]];
}

static int alloc_inode(void)
{
	for (int m = 0; m < MAX_FILES; m++)
		if (g.ino[m].nlink == 0) {
			g.ino[m] = (struct inode){ -1, -1, 0, 0 };
			return m;
		}
	die("no free inode slot");  /* cannot happen: inodes <= names */
}

/* ---- the two sides ------------------------------------------------------ */

static int open_one(const char *top, int k, int flags)
{
	char p[PATH_MAX];
	int fd;

	path_of(p, sizeof(p), top, k);
	fd = open(p, flags | O_RDWR, 0644);
	if (fd < 0)
		die("open %s: %s", p, strerror(errno));
	return fd;
}

/* The inode of name k, open on both sides; creates the file (O_EXCL, so a
 * stale name on the test side shows) when the name does not exist. */
static struct inode *get_file(int k)
{
	struct inode *f;

	if (!exists(k)) {
		g.name[k] = alloc_inode();
		f = inode_of(k);
		f->tfd = open_one(g.tdir, k, O_CREAT | O_EXCL);
		f->rfd = open_one(g.rdir, k, O_CREAT | O_EXCL);
		f->nlink = 1;
		return f;
	}
	f = inode_of(k);
	if (f->tfd < 0) {
		f->tfd = open_one(g.tdir, k, 0);
		f->rfd = open_one(g.rdir, k, 0);
	}
	return f;
}

static void close_inode(struct inode *f)
{
	if (f->tfd < 0)
		return;
	if (close(f->tfd) < 0)
		die("close test file: %s", strerror(errno));
	close(f->rfd);
	f->tfd = f->rfd = -1;
}

/* Name k goes away; its inode is closed (after the fact: an open file may
 * lose its last name) and freed once no name is left. */
static void drop_name(int k)
{
	struct inode *f = inode_of(k);

	g.name[k] = -1;
	if (--f->nlink == 0)
		close_inode(f);
}

static uint64_t ref_size(const struct inode *f)
{
	struct stat st;

	if (fstat(f->rfd, &st) < 0)
		die("fstat ref: %s", strerror(errno));
	return (uint64_t)st.st_size;
}

static void check_size(int k, const struct inode *f)
{
	struct stat st;

	if (fstat(f->tfd, &st) < 0)
		die("fstat %sf%d: %s", g.prefix, k, strerror(errno));
	if ((uint64_t)st.st_size != ref_size(f))
		die("%sf%d: size %jd, expected %" PRIu64, g.prefix, k,
		    (intmax_t)st.st_size, ref_size(f));
}

static void fill_pattern(unsigned char *p, uint64_t len)
{
	/* Mix incompressible, text-like, zero and run data so codec=auto
	 * picks every codec and zero blocks become holes. */
	switch (rnd_below(4)) {
	case 0:
		for (uint64_t i = 0; i < len; i++)
			p[i] = (unsigned char)rnd();
		break;
	case 1:
		for (uint64_t i = 0; i < len; i++)
			p[i] = (unsigned char)("etaoin shrdlu\n"[rnd_below(14)]);
		break;
	case 2:
		memset(p, 0, len);
		break;
	default:
		memset(p, (int)(1 + rnd_below(255)), len);
	}
}

static void full_pwrite(int fd, const void *p, uint64_t len, uint64_t off,
			const char *side)
{
	ssize_t n = pwrite(fd, p, len, (off_t)off);

	if (n < 0 || (uint64_t)n != len)
		die("pwrite %s off %" PRIu64 " len %" PRIu64 ": %s", side, off, len,
		    n < 0 ? strerror(errno) : "short write");
}

/* Reads len bytes at off from both sides; a short read must be short on
 * both (end of file). Returns how many bytes were compared. */
static uint64_t compare_range(int k, const struct inode *f, uint64_t off,
			      uint64_t len)
{
	ssize_t a = pread(f->tfd, g.buf, len, (off_t)off);
	ssize_t b = pread(f->rfd, g.buf2, len, (off_t)off);

	if (a < 0)
		die("pread %sf%d off %" PRIu64 " len %" PRIu64 ": %s", g.prefix, k,
		    off, len, strerror(errno));
	if (b < 0)
		die("pread ref: %s", strerror(errno));
	if (a != b)
		die("%sf%d off %" PRIu64 ": read %zd bytes, expected %zd", g.prefix,
		    k, off, a, b);
	for (ssize_t i = 0; i < a; i++)
		if (g.buf[i] != g.buf2[i])
			die("%sf%d: byte at %" PRIu64 " (0x%" PRIx64 ") is 0x%02x, "
			    "expected 0x%02x (read off %" PRIu64 " len %" PRIu64 ")",
			    g.prefix, k, off + i, off + i, g.buf[i], g.buf2[i], off, len);
	return (uint64_t)a;
}

/* ---- data operations ---------------------------------------------------- */

static void op_write(int k)
{
	struct inode *f = get_file(k);
	uint64_t off = rnd_below(g.maxlen), len = 1 + rnd_below(g.maxio);

	if (off + len > g.maxlen)
		len = g.maxlen - off;
	record(OP_WRITE, k, -1, off, len);
	fill_pattern(g.buf, len);
	full_pwrite(f->tfd, g.buf, len, off, "test");
	full_pwrite(f->rfd, g.buf, len, off, "ref");
}

static void op_read(int k)
{
	struct inode *f = get_file(k);
	uint64_t size = ref_size(f);
	uint64_t off = rnd_below(size + 1), len = 1 + rnd_below(g.maxio);

	record(OP_READ, k, -1, off, len);
	compare_range(k, f, off, len);
}

static void op_append(int k)
{
	struct inode *f = get_file(k);
	uint64_t size = ref_size(f), len = 1 + rnd_below(g.maxio / 4);
	int tfd, rfd;

	if (size + len > g.maxlen) {
		op_read(k);
		return;
	}
	record(OP_APPEND, k, -1, size, len);
	fill_pattern(g.buf, len);
	tfd = open_one(g.tdir, k, O_APPEND);
	rfd = open_one(g.rdir, k, O_APPEND);
	if (write(tfd, g.buf, len) != (ssize_t)len)
		die("append %sf%d: %s", g.prefix, k, strerror(errno));
	if (write(rfd, g.buf, len) != (ssize_t)len)
		die("append ref: %s", strerror(errno));
	if (close(tfd) < 0)
		die("close after append: %s", strerror(errno));
	close(rfd);
	check_size(k, f);
}

static void op_truncate(int k)
{
	struct inode *f = get_file(k);
	uint64_t size = rnd_below(g.maxlen + 1);

	if (rnd_below(4) == 0)  /* often exactly on a block edge */
		size = (size & ~(uint64_t)0xffff) + rnd_below(3) - (size >= 0x10000);
	record(OP_TRUNCATE, k, -1, size, 0);
	if (ftruncate(f->tfd, (off_t)size) < 0)
		die("ftruncate %sf%d %" PRIu64 ": %s", g.prefix, k, size,
		    strerror(errno));
	if (ftruncate(f->rfd, (off_t)size) < 0)
		die("ftruncate ref: %s", strerror(errno));
	check_size(k, f);
}

static void op_fallocate(int k)
{
	struct inode *f = get_file(k);
	uint64_t off = rnd_below(g.maxlen), len = 1 + rnd_below(g.maxio);

	if (off + len > g.maxlen)
		len = g.maxlen - off;
	record(OP_FALLOCATE, k, -1, off, len);
	if (fallocate(f->tfd, 0, (off_t)off, (off_t)len) < 0)
		die("fallocate %sf%d: %s (use -F to skip)", g.prefix, k,
		    strerror(errno));
	if (fallocate(f->rfd, 0, (off_t)off, (off_t)len) < 0)
		die("fallocate ref: %s", strerror(errno));
	check_size(k, f);
}

/* Maps [off, off+len) of the test file; returns the mapping base and sets
 * *delta to where off lies in it (mappings start on a page boundary). */
static unsigned char *map_range(int fd, uint64_t off, uint64_t len, int prot,
				uint64_t *delta)
{
	uint64_t start = off - off % (uint64_t)g.pagesize;
	void *p;

	*delta = off - start;
	p = mmap(NULL, len + *delta, prot, MAP_SHARED, fd, (off_t)start);
	if (p == MAP_FAILED)
		die("mmap off %" PRIu64 " len %" PRIu64 ": %s", off, len,
		    strerror(errno));
	return p;
}

static void op_mapread(int k)
{
	struct inode *f = get_file(k);
	uint64_t size = ref_size(f), off, len, delta;
	unsigned char *p;

	if (size == 0) {
		op_read(k);
		return;
	}
	off = rnd_below(size);
	len = 1 + rnd_below(size - off < g.maxio ? size - off : g.maxio);
	record(OP_MAPREAD, k, -1, off, len);
	p = map_range(f->tfd, off, len, PROT_READ, &delta);
	if (pread(f->rfd, g.buf2, len, (off_t)off) != (ssize_t)len)
		die("pread ref: %s", strerror(errno));
	for (uint64_t i = 0; i < len; i++)
		if (p[delta + i] != g.buf2[i])
			die("%sf%d: mapped byte at %" PRIu64 " is 0x%02x, expected 0x%02x",
			    g.prefix, k, off + i, p[delta + i], g.buf2[i]);
	munmap(p, len + delta);
}

static void op_mapwrite(int k)
{
	struct inode *f = get_file(k);
	uint64_t off = rnd_below(g.maxlen), len = 1 + rnd_below(g.maxio), delta;
	unsigned char *p;

	if (off + len > g.maxlen)
		len = g.maxlen - off;
	record(OP_MAPWRITE, k, -1, off, len);
	if (off + len > ref_size(f)) {  /* mappings cannot grow a file */
		if (ftruncate(f->tfd, (off_t)(off + len)) < 0)
			die("ftruncate before mapwrite: %s", strerror(errno));
		if (ftruncate(f->rfd, (off_t)(off + len)) < 0)
			die("ftruncate ref: %s", strerror(errno));
	}
	fill_pattern(g.buf, len);
	p = map_range(f->tfd, off, len, PROT_READ | PROT_WRITE, &delta);
	memcpy(p + delta, g.buf, len);
	if (msync(p, len + delta, MS_SYNC) < 0)
		die("msync %sf%d: %s", g.prefix, k, strerror(errno));
	munmap(p, len + delta);
	full_pwrite(f->rfd, g.buf, len, off, "ref");
	check_size(k, f);
}

static void op_fsync(int k)
{
	struct inode *f = get_file(k);
	bool data = rnd_below(2);

	record(OP_FSYNC, k, -1, 0, data);
	if ((data ? fdatasync(f->tfd) : fsync(f->tfd)) < 0)
		die("%s %sf%d: %s", data ? "fdatasync" : "fsync", g.prefix, k,
		    strerror(errno));
}

/* Closes the inode's descriptors and opens it again through name k,
 * which may be another hard link than the one it was opened by. */
static void op_reopen(int k)
{
	if (!exists(k)) {
		op_read(k);  /* creates it */
		return;
	}
	record(OP_REOPEN, k, -1, 0, 0);
	close_inode(inode_of(k));
	get_file(k);
}

/* ---- namespace operations ----------------------------------------------- */

/* A name other than k; with want_free, one that does not exist (-1 if all
 * do). */
static int other_name(int k, bool want_free)
{
	int j = (int)rnd_below((uint64_t)g.nfiles);

	for (int n = 0; n < g.nfiles; n++, j = (j + 1) % g.nfiles)
		if (j != k && (!want_free || !exists(j)))
			return j;
	return -1;
}

static void both(int (*fn)(const char *, const char *, unsigned),
		 const char *what, int a, int b, unsigned flags)
{
	char pa[PATH_MAX], pb[PATH_MAX];

	path_of(pa, sizeof(pa), g.tdir, a);
	path_of(pb, sizeof(pb), g.tdir, b);
	if (fn(pa, pb, flags) < 0)
		die("%s %s %s: %s", what, pa, pb, strerror(errno));
	path_of(pa, sizeof(pa), g.rdir, a);
	path_of(pb, sizeof(pb), g.rdir, b);
	if (fn(pa, pb, flags) < 0)
		die("%s ref %s %s: %s", what, pa, pb, strerror(errno));
}

static int do_rename2(const char *a, const char *b, unsigned flags)
{
	return renameat2(AT_FDCWD, a, AT_FDCWD, b, flags);
}

static int do_link(const char *a, const char *b, unsigned flags)
{
	(void)flags;
	return link(a, b);
}

/* Renames name k to another name, over it when it exists (a hard link of
 * the same file stays: rename then does nothing). The replaced file's
 * descriptors are closed after the rename, so it may commit unlinked. */
static void op_rename(int k)
{
	int j = other_name(k, false);

	if (j < 0) {
		op_read(k);
		return;
	}
	get_file(k);
	record(OP_RENAME, k, j, 0, 0);
	both(do_rename2, "rename", k, j, 0);
	if (exists(j) && g.name[j] == g.name[k])
		return;
	if (exists(j))
		drop_name(j);
	g.name[j] = g.name[k];
	g.name[k] = -1;
}

/* renameat2(RENAME_EXCHANGE) of two names, creating the second if need be. */
static void op_exchange(int k)
{
	int j = other_name(k, false), m;

	if (j < 0) {
		op_read(k);
		return;
	}
	get_file(k);
	get_file(j);
	record(OP_EXCHANGE, k, j, 0, 0);
	both(do_rename2, "renameat2 RENAME_EXCHANGE", k, j, RENAME_EXCHANGE);
	m = g.name[k];
	g.name[k] = g.name[j];
	g.name[j] = m;
}

/* A new hard link to name k's file under a free name. */
static void op_link(int k)
{
	int j = other_name(k, true);

	if (j < 0) {
		op_read(k);
		return;
	}
	get_file(k);
	record(OP_LINK, k, j, 0, 0);
	both(do_link, "link", k, j, 0);
	g.name[j] = g.name[k];
	inode_of(j)->nlink++;
}

static void op_unlink(int k)
{
	char p[PATH_MAX];

	if (!exists(k)) {
		op_read(k);
		return;
	}
	record(OP_UNLINK, k, -1, 0, 0);
	path_of(p, sizeof(p), g.tdir, k);
	if (unlink(p) < 0)
		die("unlink %s: %s", p, strerror(errno));
	path_of(p, sizeof(p), g.rdir, k);
	if (unlink(p) < 0)
		die("unlink %s: %s", p, strerror(errno));
	drop_name(k);
}

static int rename_dir(const char *top, const char *from, const char *to,
		      unsigned flags)
{
	char a[PATH_MAX], b[PATH_MAX];

	if ((size_t)snprintf(a, sizeof(a), "%s/%s", top, from) >= sizeof(a) ||
	    (size_t)snprintf(b, sizeof(b), "%s/%s", top, to) >= sizeof(b))
		die("path too long under %s", top);
	return renameat2(AT_FDCWD, a, AT_FDCWD, b, flags);
}

/* Swaps two directories (and the open files in them): one
 * RENAME_EXCHANGE, or three plain renames through a temporary name. The
 * names keep their logical dir, which now lives at the other path. */
static void op_dirswap(int k)
{
	int a = k % g.ndirs, b = (a + 1 + (int)rnd_below((uint64_t)g.ndirs - 1)) % g.ndirs;
	bool three = g.no_exchange || rnd_below(2);
	const char *tops[2] = { g.tdir, g.rdir };
	char da[16], db[16];
	int t;

	record(OP_DIRSWAP, a, b, 0, three);
	snprintf(da, sizeof(da), "d%d", g.dmap[a]);
	snprintf(db, sizeof(db), "d%d", g.dmap[b]);
	for (int s = 0; s < 2; s++) {
		bool ok = three ? rename_dir(tops[s], da, "dtmp", 0) == 0 &&
				  rename_dir(tops[s], db, da, 0) == 0 &&
				  rename_dir(tops[s], "dtmp", db, 0) == 0
				: rename_dir(tops[s], da, db, RENAME_EXCHANGE) == 0;
		if (!ok)
			die("swapping %s/%s and %s: %s", tops[s], da, db, strerror(errno));
	}
	t = g.dmap[a];
	g.dmap[a] = g.dmap[b];
	g.dmap[b] = t;
}

static void (*const op_funcs[OP_COUNT])(int) = {
	op_write, op_read, op_append, op_truncate, op_fallocate, op_mapread,
	op_mapwrite, op_rename, op_exchange, op_link, op_unlink, op_fsync,
	op_reopen, op_dirswap,
};

/* ---- checks ------------------------------------------------------------- */

/* Compares name k's contents through fresh descriptors. */
static void check_contents(int k)
{
	struct inode fresh;

	fresh.tfd = open_one(g.tdir, k, 0);
	fresh.rfd = open_one(g.rdir, k, 0);
	check_size(k, &fresh);
	for (uint64_t off = 0; compare_range(k, &fresh, off, g.maxio) > 0;
	     off += g.maxio)
		;
	close(fresh.tfd);
	close(fresh.rfd);
}

/* Name k's existence, link count, and identity: names of one model inode
 * must share st_ino on the test side, names of different ones must not. */
static void check_name(int k, ino_t tino[])
{
	char p[PATH_MAX];
	struct stat st;

	path_of(p, sizeof(p), g.tdir, k);
	if (!exists(k)) {
		if (lstat(p, &st) == 0 || errno != ENOENT)
			die("%s should not exist", p);
		return;
	}
	if (lstat(p, &st) < 0)
		die("lstat %s: %s", p, strerror(errno));
	if (!S_ISREG(st.st_mode))
		die("%s is not a regular file (mode 0%o)", p, st.st_mode);
	if ((int)st.st_nlink != inode_of(k)->nlink)
		die("%s: %ju links, expected %d", p, (uintmax_t)st.st_nlink,
		    inode_of(k)->nlink);
	for (int j = 0; j < k; j++) {
		if (!exists(j))
			continue;
		if ((g.name[j] == g.name[k]) != (tino[j] == st.st_ino))
			die("%s and %sf%d: inodes %ju and %ju, expected %s", p,
			    g.prefix, j, (uintmax_t)st.st_ino, (uintmax_t)tino[j],
			    g.name[j] == g.name[k] ? "the same" : "different");
	}
	tino[k] = st.st_ino;
	check_contents(k);
}

/* Our names listed in each test dir must be exactly the model's. */
static void check_listing(void)
{
	int want[MAX_DIRS] = { 0 }, got[MAX_DIRS] = { 0 };
	size_t plen = strlen(g.prefix);
	char p[PATH_MAX];

	for (int k = 0; k < g.nfiles; k++)
		if (exists(k))
			want[g.dmap[k % g.ndirs]]++;
	for (int d = 0; d < g.ndirs; d++) {
		DIR *dir;
		struct dirent *de;

		dir_path(p, sizeof(p), g.tdir, d);
		dir = opendir(p);
		if (!dir)
			die("opendir %s: %s", p, strerror(errno));
		while ((de = readdir(dir))) {
			char *end;
			long k;

			if (strncmp(de->d_name, g.prefix, plen) || de->d_name[plen] != 'f')
				continue;
			k = strtol(de->d_name + plen + 1, &end, 10);
			if (*end || end == de->d_name + plen + 1 || k >= g.nfiles)
				continue;  /* not a name of this run */
			if (k < 0 || !exists((int)k) ||
			    g.dmap[k % g.ndirs] != d)
				die("%s lists %s, which should not be there", p, de->d_name);
			got[d]++;
		}
		closedir(dir);
		if (got[d] != want[d])
			die("%s lists %d of our names, expected %d", p, got[d], want[d]);
	}
}

static void check_all(void)
{
	ino_t tino[MAX_FILES];

	for (int k = 0; k < g.nfiles; k++)
		check_name(k, tino);
	check_listing();
}

/* ---- setup -------------------------------------------------------------- */

static void make_dirs(void)
{
	char p[PATH_MAX];

	for (int d = 0; d < g.ndirs; d++) {
		dir_path(p, sizeof(p), g.tdir, d);
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			die("mkdir %s: %s", p, strerror(errno));
		dir_path(p, sizeof(p), g.rdir, d);
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			die("mkdir %s: %s", p, strerror(errno));
	}
}

/* Without -k: removes our names from every dir on both sides. */
static void remove_old(void)
{
	const char *tops[2] = { g.tdir, g.rdir };
	char p[PATH_MAX];

	for (int s = 0; s < 2; s++)
		for (int d = 0; d < g.ndirs; d++)
			for (int k = 0; k < g.nfiles; k++) {
				name_in(p, sizeof(p), tops[s], d, k);
				if (unlink(p) < 0 && errno != ENOENT)
					die("unlink old %s: %s", p, strerror(errno));
			}
}

/* With -k: which physical dir holds each logical dir, from where the
 * reference has our names (dirs holding none take the dirs left over). */
static void recover_dirs(void)
{
	bool used[MAX_DIRS] = { false }, set[MAX_DIRS] = { false };
	char p[PATH_MAX];

	for (int d = 0; d < g.ndirs; d++)
		for (int k = 0; k < g.nfiles; k++) {
			int a = k % g.ndirs;

			name_in(p, sizeof(p), g.rdir, d, k);
			if (access(p, F_OK) < 0)
				continue;
			if (set[a] && g.dmap[a] != d)
				die("-k: reference names of dir %d are in d%d and d%d",
				    a, g.dmap[a], d);
			set[a] = used[d] = true;
			g.dmap[a] = d;
		}
	for (int a = 0, d = 0; a < g.ndirs; a++) {
		if (set[a])
			continue;
		while (used[d])
			d++;
		g.dmap[a] = d;
		used[d] = true;
	}
}

/* With -k: names and hard links from the reference. */
static void recover_names(void)
{
	char p[PATH_MAX];
	struct stat st;

	for (int k = 0; k < g.nfiles; k++) {
		int m = -1;

		path_of(p, sizeof(p), g.rdir, k);
		if (lstat(p, &st) < 0) {
			if (errno != ENOENT)
				die("lstat %s: %s", p, strerror(errno));
			continue;
		}
		for (int j = 0; j < k && m < 0; j++)
			if (exists(j) && inode_of(j)->rino == st.st_ino)
				m = g.name[j];
		if (m < 0) {
			m = alloc_inode();
			g.ino[m].rino = st.st_ino;
		}
		g.name[k] = m;
		g.ino[m].nlink++;
	}
}

static void init_state(void)
{
	for (int k = 0; k < MAX_FILES; k++) {
		g.name[k] = -1;
		g.ino[k] = (struct inode){ -1, -1, 0, 0 };
	}
	for (int d = 0; d < g.ndirs; d++)
		g.dmap[d] = d;
	make_dirs();
	if (!g.keep) {
		remove_old();
		return;
	}
	if (!*g.prefix)
		recover_dirs();
	recover_names();
}

/* ---- driver ------------------------------------------------------------- */

static bool op_enabled(enum op op)
{
	switch (op) {
	case OP_FALLOCATE: return !g.no_falloc;
	case OP_MAPREAD: case OP_MAPWRITE: return !g.no_mmap;
	case OP_EXCHANGE: return !g.no_exchange;
	case OP_DIRSWAP: return !*g.prefix && g.ndirs > 1;
	default: return true;
	}
}

static enum op pick_op(void)
{
	unsigned total = 0, r;

	for (int k = 0; k < OP_COUNT; k++)
		total += op_weights[k];
	for (;;) {
		enum op op = OP_WRITE;

		r = (unsigned)rnd_below(total);
		while (r >= op_weights[op])
			r -= op_weights[op++];
		if (op_enabled(op))
			return op;
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: fsx [-n ops] [-s seed] [-N names] [-D dirs] [-l maxlen] [-o maxio]\n"
		"           [-c check_every] [-p prefix] [-F] [-M] [-X] [-k] [-v] TESTDIR REFDIR\n"
		"  -F  no fallocate   -M  no mmap   -X  no RENAME_EXCHANGE   -v  print every op\n"
		"  -k  keep (and first compare) what a previous run left\n"
		"  -p  use only names PREFIXf<k>, so processes can share TESTDIR (no dir swaps)\n"
		"Leaves d0..dD-1 with equal files in both dirs, unless it fails.\n");
	exit(2);
}

static uint64_t parse_num(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		usage();
	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		v <<= 20, end++;
	if (*end)
		usage();
	return v;
}

static void parse_args(int argc, char **argv)
{
	int c;

	g.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	while ((c = getopt(argc, argv, "n:s:N:D:l:o:c:p:FMXkv")) != -1) {
		switch (c) {
		case 'n': g.nops = parse_num(optarg); break;
		case 's': g.seed = parse_num(optarg); break;
		case 'N': g.nfiles = (int)parse_num(optarg); break;
		case 'D': g.ndirs = (int)parse_num(optarg); break;
		case 'l': g.maxlen = parse_num(optarg); break;
		case 'o': g.maxio = parse_num(optarg); break;
		case 'c': g.check_every = parse_num(optarg); break;
		case 'p': g.prefix = optarg; break;
		case 'F': g.no_falloc = true; break;
		case 'M': g.no_mmap = true; break;
		case 'X': g.no_exchange = true; break;
		case 'k': g.keep = true; break;
		case 'v': g.verbose = true; break;
		default: usage();
		}
	}
	if (argc - optind != 2 || g.nfiles < 1 || g.nfiles > MAX_FILES ||
	    g.ndirs < 1 || g.ndirs > MAX_DIRS || strlen(g.prefix) > MAX_PREFIX ||
	    strchr(g.prefix, '/') || g.maxlen < 1 || g.maxio < 1 ||
	    g.maxlen > (1ull << 40))
		usage();
	if (g.maxio > g.maxlen)
		g.maxio = g.maxlen;
	g.prog = argv[0];
	g.tdir = argv[optind];
	g.rdir = argv[optind + 1];
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	g.rng = g.seed;
	g.pagesize = sysconf(_SC_PAGESIZE);
	g.buf = malloc(g.maxio);
	g.buf2 = malloc(g.maxio);
	if (!g.buf || !g.buf2) {
		fprintf(stderr, "fsx: out of memory\n");
		return 1;
	}
	printf("fsx: seed %" PRIu64 ", %lu ops on %d names in %d dirs up to %"
	       PRIu64 " bytes in %s%s%s\n", g.seed, g.nops, g.nfiles, g.ndirs,
	       g.maxlen, g.tdir, *g.prefix ? " prefix " : "", g.prefix);
	fflush(stdout);
	init_state();
	if (g.keep)
		check_all();
	for (g.opno = 1; g.opno <= g.nops; g.opno++) {
		int k = (int)rnd_below((uint64_t)g.nfiles);

		op_funcs[pick_op()](k);
		if (g.check_every && g.opno % g.check_every == 0)
			check_all();
	}
	g.opno--;
	for (int m = 0; m < MAX_FILES; m++)
		close_inode(&g.ino[m]);
	check_all();
	free(g.buf);
	free(g.buf2);
	printf("fsx: %lu ops passed\n", g.nops);
	return 0;
}
