/* SPDX-License-Identifier: MIT */
/*
 * stress.c - threads that read the same and different files of a mount at
 * once while others write, every byte read checked against what is committed.
 *
 * usage: stress fill|run [-t SECONDS] [-r READERS] [-w WRITERS]
 *                        [-s SHARED_WRITERS] [-f FILES] [-z SIZE_KB] [-o] DIR
 *
 * Every file's content is a function of (file id, generation, offset): the
 * little-endian 64-bit word at offset 8*i is gen << 48 | low 48 bits of
 * mix(id, gen, i). `fill` writes the read-only files DIR/r0..r{FILES-1}
 * (generation 0) and DIR/shared. `run` starts, for SECONDS:
 *   readers        - reader k reads r0 when k is even (all share one file)
 *                    and r{k % FILES} when it is odd, alternating sequential
 *                    passes (128K reads, so read-ahead starts) with reads of
 *                    random length at random offsets, and every fourth read
 *                    a random stretch of DIR/shared; every byte is checked;
 *   writers        - writer k rewrites its own file DIR/wk with a new
 *                    generation and size (random chunks, fsync or close),
 *                    then reads it back whole through a new descriptor;
 *   shared writers - shared writer k rewrites region k of DIR/shared with a
 *                    new generation, fsyncs, and reads the region back.
 * -o runs the readers only (DIR/shared still has SHARED_WRITERS regions,
 * each as its last writer left it), to check the files after a remount.
 * A word of the shared file read by a reader must belong to a generation of
 * its region no older than the one committed (fsync returned) when the read
 * began and no newer than the one begun when it ended.
 * Exit 0 when every check passed, 1 on a mismatch or an I/O error.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_THREADS 256
#define MAX_REGIONS 64
#define SHARED_ID 1000u
#define IO_MAX (256u << 10)

static struct {
	const char *dir;
	unsigned seconds, readers, writers, shared_writers, files;
	bool readers_only;
	uint64_t size;       /* bytes per read-only file and per shared region */
	atomic_bool stop;
	atomic_uint failures;
	atomic_uint_fast64_t reads, read_bytes, writes, write_bytes;
	/* Per region of DIR/shared: generation begun and generation durable. */
	_Atomic uint64_t begun[MAX_REGIONS], durable[MAX_REGIONS];
} S = { .seconds = 10, .readers = 8, .writers = 2, .shared_writers = 2,
	.files = 4, .size = 4u << 20 };

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t word_of(unsigned id, uint64_t gen, uint64_t i)
{
	uint64_t h = splitmix(((uint64_t)id << 40) ^ (gen << 20) ^ splitmix(i));

	/* Keep half of each word's bytes small so blocks compress somewhat. */
	return gen << 48 | (h & 0x0f0f0f0f0f0full);
}

/* Fills buf with the bytes [off, off+len) of (id, gen). */
static void gen_bytes(unsigned id, uint64_t gen, uint64_t off, uint8_t *buf,
		      size_t len)
{
	for (size_t k = 0; k < len;) {
		uint64_t w = word_of(id, gen, (off + k) / 8);
		unsigned b = (off + k) % 8;

		for (; b < 8 && k < len; b++, k++)
			buf[k] = (uint8_t)(w >> (8 * b));
	}
}

static void failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void failf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("stress: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	/* Stop at the first few: later ones are usually the same fault. */
	if (atomic_fetch_add(&S.failures, 1) >= 5)
		atomic_store(&S.stop, true);
}

static uint64_t rnd(uint64_t *st, uint64_t n)
{
	*st = splitmix(*st);
	return n ? *st % n : 0;
}

static int open_in_dir(const char *name, int flags)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", S.dir, name);
	fd = open(path, flags, 0644);
	if (fd < 0)
		failf("open %s: %s", path, strerror(errno));
	return fd;
}

/* pread/pwrite the whole range or fail; @return 0 or -1. */
static int io_full(bool wr, int fd, uint8_t *buf, size_t len, uint64_t off,
		   const char *what)
{
	while (len > 0) {
		ssize_t n = wr ? pwrite(fd, buf, len, (off_t)off)
			       : pread(fd, buf, len, (off_t)off);

		if (n <= 0) {
			failf("%s %s at %" PRIu64 ": %s", wr ? "pwrite" : "pread",
			      what, off, n < 0 ? strerror(errno) : "short");
			return -1;
		}
		buf += n, len -= (size_t)n, off += (uint64_t)n;
	}
	return 0;
}

/* Compares got with (id, gen) at off; @return 0 or -1 after a report. */
static int expect_bytes(const char *what, unsigned id, uint64_t gen,
			uint64_t off, const uint8_t *got, size_t len)
{
	uint8_t want[4096];

	for (size_t k = 0; k < len; k += sizeof(want)) {
		size_t n = len - k < sizeof(want) ? len - k : sizeof(want);

		gen_bytes(id, gen, off + k, want, n);
		for (size_t j = 0; j < n; j++)
			if (got[k + j] != want[j]) {
				failf("%s: byte %" PRIu64 " (gen %" PRIu64 ") is 0x%02x, want 0x%02x",
				      what, off + k + j, gen, got[k + j], want[j]);
				return -1;
			}
	}
	return 0;
}

/* Writes generation gen of [off, off+len) of name in random-sized pieces,
 * then fsyncs when sync is set, and closes. */
static int write_gen(const char *name, unsigned id, uint64_t gen,
		     uint64_t off, uint64_t len, int flags, bool sync,
		     uint64_t *rs)
{
	uint8_t *buf = malloc(IO_MAX);
	int fd = open_in_dir(name, O_WRONLY | O_CREAT | flags), rc = -1;

	if (!buf || fd < 0)
		goto out_close;
	for (uint64_t done = 0; done < len;) {
		/* Whole words, so that a reader racing this write sees each
		 * word of the shared file from one generation or the other. */
		size_t n = (size_t)(1 + rnd(rs, IO_MAX / 8)) * 8;

		if (n > len - done)
			n = (size_t)(len - done);
		gen_bytes(id, gen, off + done, buf, n);
		if (io_full(true, fd, buf, n, off + done, name) < 0)
			goto out_close;
		done += n;
		atomic_fetch_add(&S.write_bytes, n);
	}
	if (sync && fsync(fd) < 0) {
		failf("fsync %s: %s", name, strerror(errno));
		goto out_close;
	}
	rc = 0;
out_close:
	if (fd >= 0 && close(fd) < 0 && rc == 0) {
		failf("close %s: %s", name, strerror(errno));
		rc = -1;
	}
	free(buf);
	atomic_fetch_add(&S.writes, 1);
	return rc;
}

/* Reads [off, off+len) of name through a new descriptor and checks it. */
static int verify_range(const char *name, unsigned id, uint64_t gen,
			uint64_t off, uint64_t len)
{
	uint8_t *buf = malloc(IO_MAX);
	int fd = open_in_dir(name, O_RDONLY), rc = -1;

	if (!buf || fd < 0)
		goto out_close;
	for (uint64_t k = 0; k < len; k += IO_MAX) {
		size_t n = len - k < IO_MAX ? (size_t)(len - k) : IO_MAX;

		if (io_full(false, fd, buf, n, off + k, name) < 0 ||
		    expect_bytes(name, id, gen, off + k, buf, n) < 0)
			goto out_close;
	}
	rc = 0;
out_close:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

/* ---- threads -------------------------------------------------------------- */

static void *writer_main(void *arg)
{
	unsigned k = (unsigned)(uintptr_t)arg, id = 100 + k;
	uint64_t rs = 0x57ull << 32 | k, gen = 0;
	char name[32], path[4096];
	struct stat st;

	snprintf(name, sizeof(name), "w%u", k);
	snprintf(path, sizeof(path), "%s/%s", S.dir, name);
	while (!atomic_load(&S.stop)) {
		uint64_t len = rnd(&rs, S.size + 1);

		gen++;
		if (write_gen(name, id, gen, 0, len, O_TRUNC, rnd(&rs, 2), &rs) < 0 ||
		    verify_range(name, id, gen, 0, len) < 0)
			break;
		if (stat(path, &st) < 0 || (uint64_t)st.st_size != len) {
			failf("%s: size %jd after writing %" PRIu64 " bytes", name,
			      (intmax_t)st.st_size, len);
			break;
		}
	}
	return NULL;
}

static void *shared_writer_main(void *arg)
{
	unsigned r = (unsigned)(uintptr_t)arg;
	uint64_t rs = 0x5aull << 32 | r, off = r * S.size;

	while (!atomic_load(&S.stop)) {
		uint64_t gen = atomic_load(&S.durable[r]) + 1;

		atomic_store(&S.begun[r], gen);
		if (write_gen("shared", SHARED_ID, gen, off, S.size, 0, true, &rs) < 0)
			break;
		atomic_store(&S.durable[r], gen);
		if (verify_range("shared", SHARED_ID, gen, off, S.size) < 0)
			break;
	}
	return NULL;
}

/* Checks a read of the shared file: word by word, the generation must lie
 * in [lo, hi] of its region. off and len are multiples of 8. */
static int check_shared(const uint8_t *buf, uint64_t off, size_t len,
			const uint64_t *lo, const uint64_t *hi)
{
	for (size_t k = 0; k < len; k += 8) {
		uint64_t i = (off + k) / 8, w = 0, gen;
		unsigned r = (unsigned)((off + k) / S.size);

		for (unsigned b = 0; b < 8; b++)
			w |= (uint64_t)buf[k + b] << (8 * b);
		gen = w >> 48;
		if (gen < lo[r] || gen > hi[r] || w != word_of(SHARED_ID, gen, i)) {
			failf("shared: word at %" PRIu64 " is %016" PRIx64
			      " (gen %" PRIu64 "), want gen %" PRIu64 "..%" PRIu64
			      " of region %u", off + k, w, gen, lo[r], hi[r], r);
			return -1;
		}
	}
	return 0;
}

/* One read of len bytes at off from the shared file. */
static int read_shared(int fd, uint8_t *buf, uint64_t *rs)
{
	unsigned regions = S.shared_writers ? S.shared_writers : 1, r;
	uint64_t total = regions * S.size, off, len;
	uint64_t lo[MAX_REGIONS], hi[MAX_REGIONS];

	off = rnd(rs, total / 8) * 8;
	len = (1 + rnd(rs, IO_MAX / 8)) * 8;
	if (len > total - off)
		len = total - off;
	for (r = 0; r < regions; r++)
		lo[r] = atomic_load(&S.durable[r]);
	if (io_full(false, fd, buf, len, off, "shared") < 0)
		return -1;
	for (r = 0; r < regions; r++)
		hi[r] = atomic_load(&S.begun[r]);
	atomic_fetch_add(&S.reads, 1);
	atomic_fetch_add(&S.read_bytes, len);
	return check_shared(buf, off, len, lo, hi);
}

/* A sequential pass over a read-only file, or a random read of it. */
static int read_static(int fd, unsigned id, uint8_t *buf, uint64_t *pos,
		       bool seq, uint64_t *rs)
{
	char what[32];
	uint64_t off = seq ? *pos : rnd(rs, S.size);
	size_t len = seq ? 128u << 10 : (size_t)(1 + rnd(rs, IO_MAX));

	if (len > S.size - off)
		len = (size_t)(S.size - off);
	snprintf(what, sizeof(what), "r%u", id);
	if (len && io_full(false, fd, buf, len, off, what) < 0)
		return -1;
	*pos = off + len < S.size ? off + len : 0;
	atomic_fetch_add(&S.reads, 1);
	atomic_fetch_add(&S.read_bytes, len);
	return expect_bytes(what, id, 0, off, buf, len);
}

static void *reader_main(void *arg)
{
	unsigned k = (unsigned)(uintptr_t)arg, id = k % 2 ? k % S.files : 0;
	uint64_t rs = 0x52ull << 32 | k, pos = 0, n = 0, left = 0;
	uint8_t *buf = malloc(IO_MAX);
	char name[32];
	int fd, sfd;
	bool seq = k % 4 < 2;

	snprintf(name, sizeof(name), "r%u", id);
	fd = open_in_dir(name, O_RDONLY);
	sfd = open_in_dir("shared", O_RDONLY);
	while (buf && fd >= 0 && sfd >= 0 && !atomic_load(&S.stop)) {
		int rc = ++n % 4 == 0 ? read_shared(sfd, buf, &rs)
				      : read_static(fd, id, buf, &pos, seq, &rs);

		if (rc < 0)
			break;
		/* Alternate a whole sequential pass with 64 random reads. */
		if (seq ? pos == 0 : ++left % 64 == 0)
			seq = !seq;
	}
	if (fd >= 0)
		close(fd);
	if (sfd >= 0)
		close(sfd);
	free(buf);
	return NULL;
}

/* ---- main ----------------------------------------------------------------- */

static int fill(void)
{
	uint64_t rs = 1;
	char name[32];

	for (unsigned k = 0; k < S.files; k++) {
		snprintf(name, sizeof(name), "r%u", k);
		if (write_gen(name, k, 0, 0, S.size, O_TRUNC, true, &rs) < 0)
			return 1;
	}
	for (unsigned r = 0; r < (S.shared_writers ? S.shared_writers : 1); r++)
		if (write_gen("shared", SHARED_ID, 0, r * S.size, S.size,
			      r ? 0 : O_TRUNC, true, &rs) < 0)
			return 1;
	return 0;
}

static int start(pthread_t *t, unsigned *n, void *(*fn)(void *), unsigned k)
{
	int rc = pthread_create(&t[*n], NULL, fn, (void *)(uintptr_t)k);

	if (rc != 0) {
		failf("pthread_create: %s", strerror(rc));
		return -1;
	}
	(*n)++;
	return 0;
}

/* Takes each region's generation from its first word: a run may follow
 * another one on the same files. */
static int load_generations(void)
{
	int fd = open_in_dir("shared", O_RDONLY), rc = 0;
	uint8_t w[8];

	if (fd < 0)
		return -1;
	for (unsigned r = 0; r < S.shared_writers && rc == 0; r++) {
		rc = io_full(false, fd, w, 8, r * S.size, "shared");
		atomic_store(&S.durable[r], (uint64_t)w[7] << 8 | w[6]);
		atomic_store(&S.begun[r], (uint64_t)w[7] << 8 | w[6]);
	}
	close(fd);
	return rc;
}

static int run(void)
{
	pthread_t t[MAX_THREADS];
	unsigned n = 0, k;
	struct timespec t0, t1;
	double secs;

	if (load_generations() < 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (k = 0; k < S.shared_writers && !S.readers_only; k++)
		if (start(t, &n, shared_writer_main, k) < 0)
			goto out_join;
	for (k = 0; k < S.writers && !S.readers_only; k++)
		if (start(t, &n, writer_main, k) < 0)
			goto out_join;
	for (k = 0; k < S.readers; k++)
		if (start(t, &n, reader_main, k) < 0)
			goto out_join;
	for (k = 0; k < S.seconds * 10 && !atomic_load(&S.stop); k++)
		usleep(100000);
out_join:
	atomic_store(&S.stop, true);
	for (k = 0; k < n; k++)
		pthread_join(t[k], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("stress: %.1f s, %u readers, %u writers, %u shared writers: "
	       "%" PRIuFAST64 " reads (%.1f MB/s), %" PRIuFAST64 " writes (%.1f MB/s), %u failures\n",
	       secs, S.readers, S.readers_only ? 0 : S.writers,
	       S.readers_only ? 0 : S.shared_writers, atomic_load(&S.reads),
	       (double)atomic_load(&S.read_bytes) / 1e6 / secs, atomic_load(&S.writes),
	       (double)atomic_load(&S.write_bytes) / 1e6 / secs, atomic_load(&S.failures));
	return atomic_load(&S.failures) ? 1 : 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: stress fill|run [-t SECONDS] [-r READERS] [-w WRITERS]\n"
			"              [-s SHARED_WRITERS] [-f FILES] [-z SIZE_KB] [-o] DIR\n");
	return 2;
}

int main(int argc, char **argv)
{
	unsigned long v;
	int o;

	if (argc < 2)
		return usage();
	optind = 2;
	while ((o = getopt(argc, argv, "t:r:w:s:f:z:o")) != -1) {
		if (o == 'o') {
			S.readers_only = true;
			continue;
		}
		if (!optarg)
			return usage();
		v = strtoul(optarg, NULL, 10);
		switch (o) {
		case 't': S.seconds = (unsigned)v; break;
		case 'r': S.readers = (unsigned)v; break;
		case 'w': S.writers = (unsigned)v; break;
		case 's': S.shared_writers = (unsigned)v; break;
		case 'f': S.files = (unsigned)v; break;
		case 'z': S.size = (uint64_t)v << 10; break;
		default: return usage();
		}
	}
	if (optind != argc - 1 || S.files == 0 || S.size == 0 || S.size % 8 ||
	    S.shared_writers > MAX_REGIONS || S.size > (1ull << 32) ||
	    S.readers + S.writers + S.shared_writers > MAX_THREADS)
		return usage();
	S.dir = argv[optind];
	if (strcmp(argv[1], "fill") == 0)
		return fill();
	if (strcmp(argv[1], "run") == 0)
		return run();
	return usage();
}
