// SPDX-License-Identifier: MIT
/*
 * fsx.c - random file operations on a test dir, checked against a reference dir.
 *
 * In the spirit of the classic fsx: every operation is applied to files
 * f0..fN-1 in TESTDIR (the filesystem under test) and to the same names in
 * REFDIR (a plain filesystem), and every byte read from the test side must
 * match the reference. Operations: pwrite and pread at odd offsets and
 * lengths, append through an O_APPEND descriptor, truncate up and down,
 * fallocate mode 0, mmap read, mmap write + msync, rename among the files,
 * unlink and recreate, fsync, close and reopen. Full contents and sizes are
 * compared every -c operations and at the end. On a mismatch it prints the
 * seed, the operation number and the last LOG_LEN operations, and exits 1.
 * With -k a run starts from the files a previous run left (compared first),
 * so runs chain across a remount.
 *
 * Standalone on purpose (no project headers): it checks the mount only
 * through system calls, so it also runs against any other filesystem.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* fallocate(); the build defines it already */
#endif
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

#define LOG_LEN 50
#define MAX_FILES 64

enum op {
	OP_WRITE, OP_READ, OP_APPEND, OP_TRUNCATE, OP_FALLOCATE, OP_MAPREAD,
	OP_MAPWRITE, OP_RENAME, OP_UNLINK, OP_FSYNC, OP_REOPEN, OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
	"write", "read", "append", "truncate", "fallocate", "mapread",
	"mapwrite", "rename", "unlink", "fsync", "reopen",
};

/* Relative weights: data ops dominate, namespace ops are rarer. */
static const unsigned op_weights[OP_COUNT] = {
	30, 25, 6, 8, 4, 6, 6, 3, 2, 3, 4,
};

struct logent {
	unsigned long n;  /* operation number, from 1 */
	enum op op;
	int file, file2;  /* file2: rename target, else -1 */
	uint64_t off, len;
};

/* One file name in both dirs; fds are -1 while closed. */
struct fpair {
	int tfd, rfd;
	bool exists;
};

static struct {
	const char *tdir, *rdir;
	unsigned long nops, check_every;
	uint64_t seed, maxlen, maxio;
	int nfiles;
	bool verbose, no_falloc, no_mmap, keep;
	uint64_t rng;
	unsigned long opno;
	struct logent log[LOG_LEN];
	struct fpair f[MAX_FILES];
	unsigned char *buf, *buf2;
	long pagesize;
} g = {
	.nops = 10000, .check_every = 500, .maxlen = 512 * 1024,
	.maxio = 128 * 1024, .nfiles = 4,
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

static void print_log(void)
{
	unsigned long first = g.opno > LOG_LEN ? g.opno - LOG_LEN + 1 : 1;

	fprintf(stderr, "last %lu operations (replay with -s %" PRIu64 "):\n",
		g.opno - first + 1, g.seed);
	for (unsigned long n = first; n <= g.opno; n++) {
		const struct logent *e = &g.log[n % LOG_LEN];

		fprintf(stderr, "  %6lu %-9s f%d", e->n, op_names[e->op], e->file);
		if (e->file2 >= 0)
			fprintf(stderr, " -> f%d", e->file2);
		if (e->op != OP_RENAME && e->op != OP_UNLINK && e->op != OP_FSYNC &&
		    e->op != OP_REOPEN)
			fprintf(stderr, " off %" PRIu64 " (0x%" PRIx64 ") len %" PRIu64,
				e->off, e->off, e->len);
		fputc('\n', stderr);
	}
}

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fsx: seed %" PRIu64 " op %lu: ", g.seed, g.opno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	print_log();
	exit(1);
}

static void record(enum op op, int file, int file2, uint64_t off, uint64_t len)
{
	struct logent *e = &g.log[g.opno % LOG_LEN];

	*e = (struct logent){ g.opno, op, file, file2, off, len };
	if (g.verbose)
		fprintf(stderr, "%lu %s f%d%s off %" PRIu64 " len %" PRIu64 "\n",
			g.opno, op_names[op], file, file2 >= 0 ? " (rename)" : "",
			off, len);
}

static void path_of(char *out, size_t cap, const char *dir, int i)
{
	if ((size_t)snprintf(out, cap, "%s/f%d", dir, i) >= cap)
		die("path too long under %s", dir);
}

/* ---- the two sides ------------------------------------------------------ */

static int open_one(const char *dir, int i, int flags)
{
	char p[PATH_MAX];
	int fd;

	path_of(p, sizeof(p), dir, i);
	fd = open(p, flags | O_RDWR, 0644);
	if (fd < 0)
		die("open %s: %s", p, strerror(errno));
	return fd;
}

/* Opens file i on both sides, creating it when it does not exist yet. */
static struct fpair *get_file(int i)
{
	struct fpair *f = &g.f[i];

	if (f->tfd < 0) {
		f->tfd = open_one(g.tdir, i, O_CREAT);
		f->rfd = open_one(g.rdir, i, O_CREAT);
		f->exists = true;
	}
	return f;
}

static void close_file(int i)
{
	struct fpair *f = &g.f[i];

	if (f->tfd < 0)
		return;
	if (close(f->tfd) < 0)
		die("close test f%d: %s", i, strerror(errno));
	close(f->rfd);
	f->tfd = f->rfd = -1;
}

static uint64_t ref_size(const struct fpair *f)
{
	struct stat st;

	if (fstat(f->rfd, &st) < 0)
		die("fstat ref: %s", strerror(errno));
	return (uint64_t)st.st_size;
}

static void check_size(int i, const struct fpair *f)
{
	struct stat st;

	if (fstat(f->tfd, &st) < 0)
		die("fstat f%d: %s", i, strerror(errno));
	if ((uint64_t)st.st_size != ref_size(f))
		die("f%d: size %jd, expected %" PRIu64, i, (intmax_t)st.st_size,
		    ref_size(f));
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
static uint64_t compare_range(int i, const struct fpair *f, uint64_t off,
			      uint64_t len)
{
	ssize_t a = pread(f->tfd, g.buf, len, (off_t)off);
	ssize_t b = pread(f->rfd, g.buf2, len, (off_t)off);

	if (a < 0)
		die("pread f%d off %" PRIu64 " len %" PRIu64 ": %s", i, off, len,
		    strerror(errno));
	if (b < 0)
		die("pread ref: %s", strerror(errno));
	if (a != b)
		die("f%d off %" PRIu64 ": read %zd bytes, expected %zd", i, off, a, b);
	for (ssize_t k = 0; k < a; k++)
		if (g.buf[k] != g.buf2[k])
			die("f%d: byte at %" PRIu64 " (0x%" PRIx64 ") is 0x%02x, "
			    "expected 0x%02x (read off %" PRIu64 " len %" PRIu64 ")",
			    i, off + k, off + k, g.buf[k], g.buf2[k], off, len);
	return (uint64_t)a;
}

/* ---- operations --------------------------------------------------------- */

static void op_write(int i)
{
	struct fpair *f = get_file(i);
	uint64_t off = rnd_below(g.maxlen), len = 1 + rnd_below(g.maxio);

	if (off + len > g.maxlen)
		len = g.maxlen - off;
	record(OP_WRITE, i, -1, off, len);
	fill_pattern(g.buf, len);
	full_pwrite(f->tfd, g.buf, len, off, "test");
	full_pwrite(f->rfd, g.buf, len, off, "ref");
}

static void op_read(int i)
{
	struct fpair *f = get_file(i);
	uint64_t size = ref_size(f);
	uint64_t off = rnd_below(size + 1), len = 1 + rnd_below(g.maxio);

	record(OP_READ, i, -1, off, len);
	compare_range(i, f, off, len);
}

static void op_append(int i)
{
	struct fpair *f = get_file(i);
	uint64_t size = ref_size(f), len = 1 + rnd_below(g.maxio / 4);
	int tfd, rfd;

	if (size + len > g.maxlen) {
		op_read(i);
		return;
	}
	record(OP_APPEND, i, -1, size, len);
	fill_pattern(g.buf, len);
	tfd = open_one(g.tdir, i, O_APPEND);
	rfd = open_one(g.rdir, i, O_APPEND);
	if (write(tfd, g.buf, len) != (ssize_t)len)
		die("append f%d: %s", i, strerror(errno));
	if (write(rfd, g.buf, len) != (ssize_t)len)
		die("append ref: %s", strerror(errno));
	if (close(tfd) < 0)
		die("close after append: %s", strerror(errno));
	close(rfd);
	check_size(i, f);
}

static void op_truncate(int i)
{
	struct fpair *f = get_file(i);
	uint64_t size = rnd_below(g.maxlen + 1);

	if (rnd_below(4) == 0)  /* often exactly on a block edge */
		size = (size & ~(uint64_t)0xffff) + rnd_below(3) - (size >= 0x10000);
	record(OP_TRUNCATE, i, -1, size, 0);
	if (ftruncate(f->tfd, (off_t)size) < 0)
		die("ftruncate f%d %" PRIu64 ": %s", i, size, strerror(errno));
	if (ftruncate(f->rfd, (off_t)size) < 0)
		die("ftruncate ref: %s", strerror(errno));
	check_size(i, f);
}

static void op_fallocate(int i)
{
	struct fpair *f = get_file(i);
	uint64_t off = rnd_below(g.maxlen), len = 1 + rnd_below(g.maxio);

	if (off + len > g.maxlen)
		len = g.maxlen - off;
	record(OP_FALLOCATE, i, -1, off, len);
	if (fallocate(f->tfd, 0, (off_t)off, (off_t)len) < 0)
		die("fallocate f%d: %s (use -F to skip)", i, strerror(errno));
	if (fallocate(f->rfd, 0, (off_t)off, (off_t)len) < 0)
		die("fallocate ref: %s", strerror(errno));
	check_size(i, f);
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

static void op_mapread(int i)
{
	struct fpair *f = get_file(i);
	uint64_t size = ref_size(f), off, len, delta;
	unsigned char *p;

	if (size == 0) {
		op_read(i);
		return;
	}
	off = rnd_below(size);
	len = 1 + rnd_below(size - off < g.maxio ? size - off : g.maxio);
	record(OP_MAPREAD, i, -1, off, len);
	p = map_range(f->tfd, off, len, PROT_READ, &delta);
	if (pread(f->rfd, g.buf2, len, (off_t)off) != (ssize_t)len)
		die("pread ref: %s", strerror(errno));
	for (uint64_t k = 0; k < len; k++)
		if (p[delta + k] != g.buf2[k])
			die("f%d: mapped byte at %" PRIu64 " is 0x%02x, expected 0x%02x",
			    i, off + k, p[delta + k], g.buf2[k]);
	munmap(p, len + delta);
}

static void op_mapwrite(int i)
{
	struct fpair *f = get_file(i);
	uint64_t off = rnd_below(g.maxlen), len = 1 + rnd_below(g.maxio), delta;
	unsigned char *p;

	if (off + len > g.maxlen)
		len = g.maxlen - off;
	record(OP_MAPWRITE, i, -1, off, len);
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
		die("msync f%d: %s", i, strerror(errno));
	munmap(p, len + delta);
	full_pwrite(f->rfd, g.buf, len, off, "ref");
	check_size(i, f);
}

static void rename_one(const char *dir, int from, int to)
{
	char a[PATH_MAX], b[PATH_MAX];

	path_of(a, sizeof(a), dir, from);
	path_of(b, sizeof(b), dir, to);
	if (rename(a, b) < 0)
		die("rename %s %s: %s", a, b, strerror(errno));
}

/* Renames f<i> over f<j>; the open descriptors follow the file. */
static void op_rename(int i)
{
	int j = (int)rnd_below((uint64_t)g.nfiles);

	if (g.nfiles < 2) {
		op_read(i);
		return;
	}
	if (j == i)
		j = (j + 1) % g.nfiles;
	get_file(i);
	record(OP_RENAME, i, j, 0, 0);
	close_file(j);
	rename_one(g.tdir, i, j);
	rename_one(g.rdir, i, j);
	g.f[j] = g.f[i];
	g.f[i] = (struct fpair){ -1, -1, false };
}

static void op_unlink(int i)
{
	char p[PATH_MAX];

	if (!g.f[i].exists) {
		op_read(i);
		return;
	}
	record(OP_UNLINK, i, -1, 0, 0);
	close_file(i);
	path_of(p, sizeof(p), g.tdir, i);
	if (unlink(p) < 0)
		die("unlink %s: %s", p, strerror(errno));
	path_of(p, sizeof(p), g.rdir, i);
	if (unlink(p) < 0)
		die("unlink %s: %s", p, strerror(errno));
	g.f[i].exists = false;
}

static void op_fsync(int i)
{
	struct fpair *f = get_file(i);

	record(OP_FSYNC, i, -1, 0, 0);
	if (fsync(f->tfd) < 0)
		die("fsync f%d: %s", i, strerror(errno));
}

static void op_reopen(int i)
{
	record(OP_REOPEN, i, -1, 0, 0);
	close_file(i);
	get_file(i);
}

static void (*const op_funcs[OP_COUNT])(int) = {
	op_write, op_read, op_append, op_truncate, op_fallocate, op_mapread,
	op_mapwrite, op_rename, op_unlink, op_fsync, op_reopen,
};

/* ---- driver ------------------------------------------------------------- */

/* Compares every file through a fresh descriptor, plus existence. */
static void check_all(void)
{
	char p[PATH_MAX];

	for (int i = 0; i < g.nfiles; i++) {
		struct fpair fresh;

		path_of(p, sizeof(p), g.tdir, i);
		if (!g.f[i].exists) {
			if (access(p, F_OK) == 0 || errno != ENOENT)
				die("f%d should not exist", i);
			continue;
		}
		fresh.tfd = open_one(g.tdir, i, 0);
		fresh.rfd = open_one(g.rdir, i, 0);
		check_size(i, &fresh);
		for (uint64_t off = 0; compare_range(i, &fresh, off, g.maxio) > 0;
		     off += g.maxio)
			;
		close(fresh.tfd);
		close(fresh.rfd);
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
		if ((op == OP_FALLOCATE && g.no_falloc) ||
		    ((op == OP_MAPREAD || op == OP_MAPWRITE) && g.no_mmap))
			continue;
		return op;
	}
}

/*
 * Starts from no files, or with -k from the files a previous run left (the
 * reference decides which exist; the first check_all() compares them).
 */
static void init_files(void)
{
	char p[PATH_MAX];

	for (int i = 0; i < g.nfiles; i++) {
		g.f[i] = (struct fpair){ -1, -1, false };
		if (g.keep) {
			path_of(p, sizeof(p), g.rdir, i);
			g.f[i].exists = access(p, F_OK) == 0;
			continue;
		}
		path_of(p, sizeof(p), g.tdir, i);
		if (unlink(p) < 0 && errno != ENOENT)
			die("unlink old %s: %s", p, strerror(errno));
		path_of(p, sizeof(p), g.rdir, i);
		if (unlink(p) < 0 && errno != ENOENT)
			die("unlink old %s: %s", p, strerror(errno));
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: fsx [-n ops] [-s seed] [-N files] [-l maxlen] [-o maxio]\n"
		"           [-c check_every] [-F] [-M] [-k] [-v] TESTDIR REFDIR\n"
		"  -F  no fallocate   -M  no mmap   -v  print every operation\n"
		"  -k  keep (and first compare) the files a previous run left\n"
		"Leaves f0..fN-1 in both dirs, equal, unless it fails.\n");
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
	while ((c = getopt(argc, argv, "n:s:N:l:o:c:FMkv")) != -1) {
		switch (c) {
		case 'n': g.nops = parse_num(optarg); break;
		case 's': g.seed = parse_num(optarg); break;
		case 'N': g.nfiles = (int)parse_num(optarg); break;
		case 'l': g.maxlen = parse_num(optarg); break;
		case 'o': g.maxio = parse_num(optarg); break;
		case 'c': g.check_every = parse_num(optarg); break;
		case 'F': g.no_falloc = true; break;
		case 'M': g.no_mmap = true; break;
		case 'k': g.keep = true; break;
		case 'v': g.verbose = true; break;
		default: usage();
		}
	}
	if (argc - optind != 2 || g.nfiles < 1 || g.nfiles > MAX_FILES ||
	    g.maxlen < 1 || g.maxio < 1 || g.maxlen > (1ull << 40))
		usage();
	if (g.maxio > g.maxlen)
		g.maxio = g.maxlen;
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
	printf("fsx: seed %" PRIu64 ", %lu ops on %d files up to %" PRIu64
	       " bytes in %s\n", g.seed, g.nops, g.nfiles, g.maxlen, g.tdir);
	fflush(stdout);
	init_files();
	if (g.keep)
		check_all();
	for (g.opno = 1; g.opno <= g.nops; g.opno++) {
		int i = (int)rnd_below((uint64_t)g.nfiles);

		op_funcs[pick_op()](i);
		if (g.check_every && g.opno % g.check_every == 0)
			check_all();
	}
	g.opno--;
	check_all();
	for (int i = 0; i < g.nfiles; i++)
		close_file(i);
	free(g.buf);
	free(g.buf2);
	printf("fsx: %lu ops passed\n", g.nops);
	return 0;
}
