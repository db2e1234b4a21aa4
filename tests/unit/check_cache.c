/* SPDX-License-Identifier: MIT */
/*
 * check_cache.c - unit tests of the cache layer: reads and writes against an
 * in-memory reference, truncate, commit and reopen, dirty pressure, the cache
 * size bound, single-flight decoding, read-ahead and corrupt blocks.
 *
 * Every test builds a fresh store in a temporary directory (64K blocks) and
 * one file in it. Random tests print their seed on failure; set
 * PF_TEST_SEED to replay one.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache/cache.h"

#define BS (64u << 10)
#define FILE_NAME "f"

static char dir[64];
static pf_store *store;
static pf_cache *cache;
static pf_file *file;
static uint32_t block_size = BS; /* of the store env_open() makes */

/* ---- fixture ----------------------------------------------------------- */

static pf_cache_opts opts_default(void)
{
	return (pf_cache_opts){ .cache_size = 4ull << 20, .readahead = 0,
				.threads = 2, .dirty_limit = 8ull << 20 };
}

static pf_file *file_open(void)
{
	int fd = openat(pf_store_root_fd(store), FILE_NAME, O_RDWR | O_CREAT, 0644);
	struct stat st;
	pf_file *f;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(pf_file_open(cache, fd, st.st_dev, st.st_ino, FILE_NAME, &f), 0);
	return f;
}

/* Opens the store, the cache with opts, and the test file. */
static void env_open(const pf_cache_opts *copts)
{
	pf_store_opts sopts;

	strcpy(dir, "/tmp/check_cache-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(pf_store_init(dir), 0);
	pf_store_opts_default(&sopts);
	sopts.block_size = block_size;
	ck_assert_int_eq(pf_store_open(dir, &sopts, &store), 0);
	ck_assert_int_eq(pf_cache_create(store, copts, &cache), 0);
	file = file_open();
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void env_close(void)
{
	pf_file_close(file);
	pf_cache_destroy(cache);
	pf_store_close(store);
	if (dir[0])
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	file = NULL, cache = NULL, store = NULL, dir[0] = 0;
	block_size = BS;
}

static void reopen(void)
{
	pf_file_close(file);
	file = file_open();
}

/* ---- helpers ------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static unsigned seed_pick(void)
{
	const char *env = getenv("PF_TEST_SEED");
	unsigned seed = env ? (unsigned)strtoul(env, NULL, 0) : (unsigned)time(NULL);

	rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
	return seed;
}

/* Fills p with data that is half compressible, half random. */
static void fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (i / 512) & 1 ? (uint8_t)rng() : (uint8_t)(i / 512);
}

/* Reads [off, off+size) through a span into out; returns bytes read. */
static ssize_t read_copy(pf_file *f, uint64_t off, size_t size, uint8_t *out)
{
	pf_span span;
	ssize_t got = pf_file_read(f, off, size, &span);

	if (got >= 0)
		ck_assert_uint_eq(span.len, (size_t)got);
	if (got > 0) /* at EOF data is NULL */
		memcpy(out, span.data, span.len);
	pf_span_release(&span);
	return got;
}

static void write_ok(uint64_t off, const void *buf, size_t size)
{
	ck_assert_int_eq(pf_file_write(file, off, buf, size), (ssize_t)size);
}

/* Checks the whole file against ref[0..size). */
static void expect_file(const uint8_t *ref, uint64_t size, unsigned seed)
{
	uint8_t *got = malloc(size + 1);

	ck_assert_uint_eq(pf_file_size(file), size);
	ck_assert_int_eq(read_copy(file, 0, size + 1, got), (ssize_t)size);
	ck_assert_msg(memcmp(got, ref, size) == 0, "content differs (seed %u)", seed);
	free(got);
}

static int count_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* ---- read / write -------------------------------------------------------- */

#define REF_MAX (3u << 20)

/* One random op against file and the reference; returns the new size. */
static uint64_t random_op(uint8_t *ref, uint64_t size, uint8_t *tmp, unsigned seed, int op)
{
	uint64_t off = rng() % (REF_MAX - 1);
	size_t len = 1 + rng() % (3 * BS);
	unsigned kind = rng() % 10;

	if (len > REF_MAX - off)
		len = REF_MAX - off;
	if (kind < 5) {
		fill(tmp, len);
		write_ok(off, tmp, len);
		memcpy(ref + off, tmp, len);
		return off + len > size ? off + len : size;
	}
	if (kind < 8) {
		ssize_t want = off >= size ? 0 : (ssize_t)(size - off < len ? size - off : len);

		ck_assert_int_eq(read_copy(file, off, len, tmp), want);
		ck_assert_msg(want == 0 || memcmp(tmp, ref + off, (size_t)want) == 0,
			      "read at %llu+%zu differs (seed %u, op %d)",
			      (unsigned long long)off, len, seed, op);
		return size;
	}
	if (kind == 8) {
		ck_assert_int_eq(pf_file_truncate(file, off), 0);
		if (off < size) /* ref stays zero past the size */
			memset(ref + off, 0, size - off);
		return off;
	}
	ck_assert_int_eq(pf_file_commit(file, false), 0);
	return size;
}

START_TEST(test_random_ops)
{
	unsigned seed = seed_pick();
	uint8_t *ref = calloc(1, REF_MAX), *tmp = malloc(REF_MAX);
	uint64_t size = 0;
	pf_cache_opts o = opts_default();

	o.dirty_limit = _i ? 256u << 10 : o.dirty_limit; /* loop 1: pressure */
	env_open(&o);
	for (int op = 0; op < 400; op++)
		size = random_op(ref, size, tmp, seed, op);
	expect_file(ref, size, seed);
	ck_assert_int_eq(pf_file_commit(file, true), 0);
	reopen();
	expect_file(ref, size, seed);
	free(ref);
	free(tmp);
}
END_TEST

START_TEST(test_odd_offsets)
{
	uint8_t *ref = calloc(1, 4 * BS), *got = malloc(4 * BS);
	pf_cache_opts o = opts_default();
	static const uint64_t offs[] = { 1, BS - 3, 2 * BS - 1, 3 * BS + 5 };

	env_open(&o);
	rng_state = 7;
	for (size_t i = 0; i < 4; i++) {
		size_t len = 1000 + 7 * i;

		fill(ref + offs[i], len);
		write_ok(offs[i], ref + offs[i], len);
	}
	expect_file(ref, 3 * BS + 5 + 1021, 0);
	/* A read within one block points into it; one spanning three blocks
	 * is a copy and leaves no block pinned. */
	{
		pf_span span;

		ck_assert_int_eq(pf_file_read(file, BS + 1, BS - 1, &span), BS - 1);
		ck_assert_ptr_nonnull(span.pin);
		ck_assert_ptr_null(span.copy);
		ck_assert(memcmp(span.data, ref + BS + 1, BS - 1) == 0);
		pf_span_release(&span);
		ck_assert_int_eq(pf_file_read(file, BS - 3, 2 * BS, &span), 2 * BS);
		ck_assert_ptr_null(span.pin);
		ck_assert_ptr_nonnull(span.copy);
		ck_assert(memcmp(span.data, ref + BS - 3, 2 * BS) == 0);
		pf_span_release(&span);
	}
	ck_assert_int_eq(read_copy(file, 4 * BS, 10, got), 0);
	free(ref);
	free(got);
}
END_TEST

START_TEST(test_truncate)
{
	uint8_t *buf = malloc(5 * BS), *got = malloc(5 * BS);
	pf_cache_opts o = opts_default();

	env_open(&o);
	memset(buf, 0xaa, 4 * BS);
	write_ok(0, buf, 4 * BS);
	ck_assert_int_eq(pf_file_commit(file, false), 0);
	/* Shrink into a committed block, then grow: the old tail reads zero. */
	ck_assert_int_eq(pf_file_truncate(file, BS + 7), 0);
	ck_assert_int_eq(pf_file_truncate(file, 3 * BS), 0);
	ck_assert_int_eq(read_copy(file, 0, 5 * BS, got), 3 * BS);
	ck_assert(memcmp(got, buf, BS + 7) == 0);
	ck_assert(count_zero(got + BS + 7, 2 * BS - 7));
	/* Same for a dirty block. */
	write_ok(2 * BS, buf, BS);
	ck_assert_int_eq(pf_file_truncate(file, 2 * BS + 100), 0);
	ck_assert_int_eq(pf_file_truncate(file, 4 * BS), 0);
	ck_assert_int_eq(read_copy(file, 2 * BS, 2 * BS, got), 2 * BS);
	ck_assert(memcmp(got, buf, 100) == 0);
	ck_assert(count_zero(got + 100, 2 * BS - 100));
	ck_assert(pf_file_dirty(file));
	ck_assert_int_eq(pf_file_commit(file, true), 0);
	ck_assert(!pf_file_dirty(file));
	reopen();
	ck_assert_uint_eq(pf_file_size(file), 4 * BS);
	ck_assert_int_eq(read_copy(file, 0, 5 * BS, got), 4 * BS);
	ck_assert(memcmp(got, buf, BS + 7) == 0);
	ck_assert(count_zero(got + BS + 7, BS - 7));
	ck_assert(memcmp(got + 2 * BS, buf, 100) == 0);
	ck_assert(count_zero(got + 2 * BS + 100, 2 * BS - 100));
	free(buf);
	free(got);
}
END_TEST

START_TEST(test_sparse_and_partial_growth)
{
	uint8_t head[100], got[3 * BS];
	pf_cache_opts o = opts_default();
	uint64_t far = 80ull * BS + 13;

	env_open(&o);
	memset(head, 0x5c, sizeof(head));
	write_ok(10, head, sizeof(head));
	ck_assert_int_eq(pf_file_commit(file, false), 0);
	/* Extending past the old partial last block keeps its bytes. */
	write_ok(far, head, sizeof(head));
	for (int pass = 0; pass < 2; pass++) {
		ck_assert_uint_eq(pf_file_size(file), far + sizeof(head));
		ck_assert_int_eq(read_copy(file, 0, BS, got), BS);
		ck_assert(count_zero(got, 10));
		ck_assert(memcmp(got + 10, head, sizeof(head)) == 0);
		ck_assert(count_zero(got + 110, BS - 110));
		ck_assert_int_eq(read_copy(file, 40ull * BS, 3 * BS, got), 3 * BS);
		ck_assert(count_zero(got, 3 * BS));
		ck_assert_int_eq(read_copy(file, far - 5, 200, got), 105);
		ck_assert(count_zero(got, 5));
		ck_assert(memcmp(got + 5, head, sizeof(head)) == 0);
		ck_assert_int_eq(pf_file_commit(file, true), 0);
		reopen();
	}
	/* Holes cost no stored blocks: far less than the logical size. */
	ck_assert_uint_lt(pf_file_stored_bytes(file), 4 * BS);
}
END_TEST

START_TEST(test_uncommitted_dropped)
{
	uint8_t buf[1000], got[1000];
	pf_cache_opts o = opts_default();

	env_open(&o);
	memset(buf, 1, sizeof(buf));
	write_ok(0, buf, sizeof(buf));
	ck_assert_int_eq(pf_file_commit(file, false), 0);
	memset(buf, 2, sizeof(buf));
	write_ok(500, buf, sizeof(buf));
	ck_assert_uint_eq(pf_file_size(file), 1500);
	reopen();
	ck_assert_uint_eq(pf_file_size(file), 1000);
	ck_assert_int_eq(read_copy(file, 0, 1000, got), 1000);
	memset(buf, 1, sizeof(buf));
	ck_assert(memcmp(got, buf, 1000) == 0);
}
END_TEST

/* A reader's span over a dirty block keeps its bytes across a write (I3). */
START_TEST(test_copy_on_write)
{
	uint8_t a[BS], b[BS];
	pf_cache_opts o = opts_default();
	pf_span span;

	env_open(&o);
	memset(a, 'a', BS);
	memset(b, 'b', BS);
	write_ok(0, a, BS);
	ck_assert_int_eq(pf_file_read(file, 0, BS, &span), BS);
	write_ok(100, b, 10);
	ck_assert(memcmp(span.data, a, BS) == 0);
	pf_span_release(&span);
	ck_assert_int_eq(read_copy(file, 0, BS, b), BS);
	ck_assert_int_eq(b[100], 'b');
	ck_assert_int_eq(b[99], 'a');
}
END_TEST

/* Over dirty_limit, dirty blocks go to the container before commit. */
START_TEST(test_dirty_pressure)
{
	size_t total = 2u << 20;
	uint8_t *ref = malloc(total), *got = malloc(total);
	pf_cache_opts o = opts_default();
	uint64_t before;

	o.dirty_limit = 256u << 10;
	env_open(&o);
	rng_state = 99;
	for (size_t i = 0; i < total; i++)
		ref[i] = (uint8_t)rng(); /* incompressible: stored as raw */
	before = pf_file_stored_bytes(file);
	for (size_t off = 0; off < total; off += 100000)
		write_ok(off, ref + off, total - off < 100000 ? total - off : 100000);
	ck_assert_uint_gt(pf_file_stored_bytes(file), before + total / 2);
	ck_assert_int_eq(read_copy(file, 0, total, got), (ssize_t)total);
	ck_assert(memcmp(got, ref, total) == 0);
	ck_assert_int_eq(pf_file_commit(file, true), 0);
	reopen();
	expect_file(ref, total, 0);
	free(ref);
	free(got);
}
END_TEST

/* ---- table --------------------------------------------------------------- */

/* Writes `blocks` blocks of random data, commits, and reopens. */
static void make_committed(unsigned blocks)
{
	uint8_t *buf = malloc(BS);

	rng_state = 1234;
	for (unsigned b = 0; b < blocks; b++) {
		fill(buf, BS);
		write_ok((uint64_t)b * BS, buf, BS);
	}
	ck_assert_int_eq(pf_file_commit(file, false), 0);
	reopen();
	free(buf);
}

START_TEST(test_cache_bound)
{
	pf_cache_opts o = opts_default();
	pf_cache_stats st;
	uint8_t *got = malloc(2 * BS);

	o.cache_size = 4 * BS;
	env_open(&o);
	make_committed(32);
	rng_state = 5;
	for (int i = 0; i < 300; i++) {
		uint64_t off = rng() % (32 * BS - 2 * BS);

		ck_assert_int_eq(read_copy(file, off, 2 * BS, got), 2 * BS);
		pf_cache_get_stats(cache, &st);
		ck_assert_uint_le(st.bytes, o.cache_size + BS);
	}
	/* Re-reading a block just read is a hit. */
	pf_cache_get_stats(cache, &st);
	ck_assert_int_eq(read_copy(file, 0, 10, got), 10);
	ck_assert_int_eq(read_copy(file, 5, 10, got), 10);
	{
		pf_cache_stats st2;

		pf_cache_get_stats(cache, &st2);
		ck_assert_uint_ge(st2.hits, st.hits + 1);
		ck_assert_uint_eq(st2.hits + st2.misses, st.hits + st.misses + 2);
		ck_assert_uint_gt(st2.decodes, 32);
		ck_assert_uint_ge(st2.decoded_bytes, st2.decodes * BS);
	}
	free(got);
}
END_TEST

/* A pinned block stays readable when the cache is smaller than it, and a
 * read across many blocks never holds more than one of them: the cache stays
 * within cache_size plus the block being decoded. */
START_TEST(test_cache_pinned_excess)
{
	pf_cache_opts o = opts_default();
	pf_span span, one;
	pf_cache_stats st;

	o.cache_size = BS / 2;
	env_open(&o);
	make_committed(8);
	ck_assert_int_eq(pf_file_read(file, BS, BS, &one), BS);
	ck_assert_int_eq(pf_file_read(file, 0, 8 * BS, &span), 8 * BS);
	pf_cache_get_stats(cache, &st);
	ck_assert_uint_le(st.bytes, 2 * BS);
	ck_assert(memcmp(one.data, (const uint8_t *)span.data + BS, BS) == 0);
	pf_span_release(&span);
	pf_span_release(&one);
	pf_cache_get_stats(cache, &st);
	ck_assert_uint_le(st.bytes, BS);
}
END_TEST

static pthread_barrier_t barrier;

static void *reader_main(void *arg)
{
	uint8_t *got = malloc(16 * BS);

	(void)arg;
	pthread_barrier_wait(&barrier);
	for (unsigned b = 0; b < 16; b++)
		if (read_copy(file, (uint64_t)b * BS, BS, got + (size_t)b * BS) != BS)
			abort();
	free(got);
	return NULL;
}

START_TEST(test_single_flight)
{
	pf_cache_opts o = opts_default();
	pf_cache_stats st;
	pthread_t t[3];

	env_open(&o);
	make_committed(16);
	pthread_barrier_init(&barrier, NULL, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, reader_main, NULL), 0);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	pf_cache_get_stats(cache, &st);
	ck_assert_uint_eq(st.decodes, 16);
	ck_assert_uint_eq(st.misses, 16);
	ck_assert_uint_eq(st.hits, 32);
	pthread_barrier_destroy(&barrier);
}
END_TEST

#define BIG_BS (1u << 20)
#define BIG_BLOCKS 6

static void *big_reader_main(void *arg)
{
	const uint8_t *ref = arg;
	uint8_t *got = malloc(BIG_BS);

	pthread_barrier_wait(&barrier);
	for (unsigned round = 0; round < 3; round++) {
		for (unsigned b = 0; b < BIG_BLOCKS; b++) {
			if (read_copy(file, (uint64_t)b * BIG_BS, BIG_BS, got) != BIG_BS ||
			    memcmp(got, ref + (size_t)b * BIG_BS, BIG_BS) != 0)
				abort();
		}
	}
	free(got);
	return NULL;
}

/* With nothing kept (cache_size 0), readers that meet a block being
 * decoded by another must wait for its bytes, not read a half-filled
 * buffer. Large blocks make the decodes overlap. */
START_TEST(test_concurrent_readers_see_decoded_bytes)
{
	pf_cache_opts o = opts_default();
	size_t total = (size_t)BIG_BLOCKS * BIG_BS;
	uint8_t *ref = malloc(total);
	pf_cache_stats st;
	pthread_t t[4];

	o.cache_size = 0;
	block_size = BIG_BS;
	env_open(&o);
	rng_state = 77;
	fill(ref, total);
	write_ok(0, ref, total);
	ck_assert_int_eq(pf_file_commit(file, false), 0);
	reopen();
	pthread_barrier_init(&barrier, NULL, 4);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, big_reader_main, ref), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	pf_cache_get_stats(cache, &st);
	ck_assert_uint_eq(st.hits + st.misses, 4 * 3 * BIG_BLOCKS);
	ck_assert_uint_eq(st.decodes, st.misses);
	ck_assert_uint_eq(st.bytes, 0);
	pthread_barrier_destroy(&barrier);
	free(ref);
}
END_TEST

/* Finds block b's stored bytes through a second container handle. */
static pf_block_entry stored_entry(uint64_t b)
{
	int fd = openat(pf_store_root_fd(store), FILE_NAME, O_RDONLY);
	pf_container *c;
	pf_block_entry e;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pf_container_open(store, fd, "probe", &c), 0);
	pf_container_block(c, b, &e);
	pf_container_close(c);
	return e;
}

START_TEST(test_corrupt_block)
{
	pf_cache_opts o = opts_default();
	pf_block_entry e;
	uint8_t got[BS], byte;
	int fd;

	env_open(&o);
	make_committed(3);
	e = stored_entry(1);
	ck_assert_uint_ne(e.codec, PF_CODEC_ZERO);
	ck_assert_uint_gt(e.stored_len, 0);
	fd = openat(pf_store_root_fd(store), FILE_NAME, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &byte, 1, (off_t)(e.offset + e.stored_len / 2)), 1);
	byte ^= 0x40;
	ck_assert_int_eq(pwrite(fd, &byte, 1, (off_t)(e.offset + e.stored_len / 2)), 1);
	close(fd);
	ck_assert_int_eq(read_copy(file, 0, BS, got), BS);
	ck_assert_int_eq(read_copy(file, BS + 1, 10, got), -EIO);
	/* A failed load is not cached: the next read fails again. */
	ck_assert_int_eq(read_copy(file, BS, BS, got), -EIO);
	/* A read across the bad block fails as a whole and pins nothing. */
	ck_assert_int_eq(read_copy(file, 0, 3 * BS, got), -EIO);
	ck_assert_int_eq(read_copy(file, 2 * BS, BS, got), BS);
}
END_TEST

/* ---- read-ahead ------------------------------------------------------------ */

static void wait_decodes(uint64_t want)
{
	pf_cache_stats st;

	for (int i = 0; i < 2000; i++) {
		pf_cache_get_stats(cache, &st);
		if (st.decodes >= want && st.queue_depth == 0)
			return;
		usleep(1000);
	}
	ck_abort_msg("read-ahead decodes: %llu, wanted %llu",
		     (unsigned long long)st.decodes, (unsigned long long)want);
}

START_TEST(test_readahead_sequential)
{
	pf_cache_opts o = opts_default();
	pf_readahead ra = { 0 };
	pf_cache_stats st, st2;
	uint8_t *got = malloc(BS);

	o.readahead = 4 * BS;
	env_open(&o);
	make_committed(16);
	ck_assert_int_eq(read_copy(file, 3 * BS, BS, got), BS);
	for (unsigned b = 0; b < 2; b++) {
		ck_assert_int_eq(read_copy(file, (uint64_t)b * BS, BS, got), BS);
		pf_file_readahead(file, &ra, (uint64_t)b * BS, BS);
	}
	pf_cache_get_stats(cache, &st);
	ck_assert_uint_eq(st.prefetches, 3); /* blocks 2, 4, 5; 3 is cached */
	ck_assert_uint_eq(ra.ahead_to, 6 * BS);
	wait_decodes(6);
	/* The reader now finds blocks 2..5 decoded. */
	for (unsigned b = 2; b < 6; b++) {
		ck_assert_int_eq(read_copy(file, (uint64_t)b * BS, BS, got), BS);
		pf_file_readahead(file, &ra, (uint64_t)b * BS, BS);
	}
	pf_cache_get_stats(cache, &st2);
	ck_assert_uint_eq(st2.misses, st.misses);
	ck_assert_uint_eq(st2.hits, st.hits + 4);
	ck_assert_uint_eq(st2.prefetches, 7); /* then 6..9, each queued once */
	/* Closing with jobs queued or running waits for them (I5). */
	free(got);
}
END_TEST

START_TEST(test_readahead_random_reader)
{
	pf_cache_opts o = opts_default();
	pf_readahead ra = { 0 };
	pf_cache_stats st;
	static const uint64_t offs[] = { 5 * BS, 0, 9 * BS, 2 * BS, 3 * BS + 1 };
	uint8_t *got = malloc(BS);

	o.readahead = 4 * BS;
	env_open(&o);
	make_committed(16);
	for (size_t i = 0; i < 5; i++) {
		ck_assert_int_eq(read_copy(file, offs[i], 1000, got), 1000);
		pf_file_readahead(file, &ra, offs[i], 1000);
	}
	pf_cache_get_stats(cache, &st);
	ck_assert_uint_eq(st.prefetches, 0);
	ck_assert_uint_eq(ra.streak, 0);
	free(got);
}
END_TEST

/* ---- suite ----------------------------------------------------------------- */

static Suite *cache_suite(void)
{
	Suite *s = suite_create("cache");
	TCase *rw = tcase_create("read_write");
	TCase *table = tcase_create("table");
	TCase *ra = tcase_create("readahead");

	tcase_add_checked_fixture(rw, NULL, env_close);
	tcase_set_timeout(rw, 60);
	tcase_add_loop_test(rw, test_random_ops, 0, 2);
	tcase_add_test(rw, test_odd_offsets);
	tcase_add_test(rw, test_truncate);
	tcase_add_test(rw, test_sparse_and_partial_growth);
	tcase_add_test(rw, test_uncommitted_dropped);
	tcase_add_test(rw, test_copy_on_write);
	tcase_add_test(rw, test_dirty_pressure);
	suite_add_tcase(s, rw);

	tcase_add_checked_fixture(table, NULL, env_close);
	tcase_set_timeout(table, 30);
	tcase_add_test(table, test_cache_bound);
	tcase_add_test(table, test_cache_pinned_excess);
	tcase_add_test(table, test_single_flight);
	tcase_add_test(table, test_concurrent_readers_see_decoded_bytes);
	tcase_add_test(table, test_corrupt_block);
	suite_add_tcase(s, table);

	tcase_add_checked_fixture(ra, NULL, env_close);
	tcase_set_timeout(ra, 30);
	tcase_add_test(ra, test_readahead_sequential);
	tcase_add_test(ra, test_readahead_random_reader);
	suite_add_tcase(s, ra);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cache_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
