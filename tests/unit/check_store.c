/* SPDX-License-Identifier: MIT */
/* check_store.c - unit tests of the store layer: stores, the container
 * format, commits, free space and corrupt input. */
#include "common/pf_common.h"
#include "store/store.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BS (64u << 10)

static char dir[64];
static pf_store *store;

static void setup(void)
{
	pf_store_opts opts;

	strcpy(dir, "/tmp/check_store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(pf_store_init(dir), 0);
	pf_store_opts_default(&opts);
	opts.block_size = BS;
	ck_assert_int_eq(pf_store_open(dir, &opts, &store), 0);
}

static void teardown(void)
{
	char cmd[128];

	pf_store_close(store);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Compressible, position-dependent bytes; `v` makes versions differ. */
static void fill(uint8_t *p, size_t n, uint64_t start, unsigned v)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)("lorem ipsum dolor "[(start + i) % 18] + v);
}

static int open_file(const char *name)
{
	int fd = openat(pf_store_root_fd(store), name, O_RDWR | O_CREAT, 0644);

	ck_assert_int_ge(fd, 0);
	return fd;
}

static pf_container *open_c(const char *name)
{
	pf_container *c = NULL;

	ck_assert_int_eq(pf_container_open(store, open_file(name), name, &c), 0);
	return c;
}

/* Writes a file of `size` bytes, version v, as whole blocks. */
static void write_version(pf_container *c, uint64_t size, unsigned v)
{
	uint8_t *buf = malloc(BS);

	ck_assert_int_eq(pf_container_set_size(c, 0), 0);
	for (uint64_t off = 0; off < size; off += BS) {
		uint32_t len = size - off < BS ? (uint32_t)(size - off) : BS;

		fill(buf, len, off, v);
		ck_assert_int_eq(pf_container_write_block(c, off / BS, buf, len), 0);
	}
	free(buf);
}

static void check_version(pf_container *c, uint64_t size, unsigned v)
{
	uint8_t *got = malloc(BS), *want = malloc(BS);
	uint32_t len;

	ck_assert_uint_eq(pf_container_size(c), size);
	for (uint64_t off = 0; off < size; off += BS) {
		ck_assert_int_eq(pf_container_read_block(c, off / BS, got, BS, &len), 0);
		ck_assert_uint_eq(len, size - off < BS ? size - off : BS);
		fill(want, len, off, v);
		ck_assert_mem_eq(got, want, len);
	}
	free(got);
	free(want);
}

static uint64_t backing_len(const char *name)
{
	struct stat st;

	ck_assert_int_eq(fstatat(pf_store_root_fd(store), name, &st, 0), 0);
	return (uint64_t)st.st_size;
}

/* ---- stores --------------------------------------------------------------- */

START_TEST(test_init_refuses)
{
	char path[96];
	pf_store *s;
	pf_store_opts opts;

	ck_assert_int_eq(pf_store_init(dir), -EEXIST);
	snprintf(path, sizeof(path), "%s/sub", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	close(open_file("sub/x"));
	ck_assert_int_eq(pf_store_init(path), -ENOTEMPTY);
	pf_store_opts_default(&opts);
	ck_assert_int_eq(pf_store_open(path, &opts, &s), -EINVAL);
	ck_assert(pf_store_is_meta_name(".priorfs"));
	ck_assert(!pf_store_is_meta_name("priorfs"));
}
END_TEST

/* ---- containers ----------------------------------------------------------- */

START_TEST(test_empty_and_roundtrip)
{
	pf_container *c = open_c("f");
	uint64_t size = 3 * BS + 1234, peek;
	int fd;

	ck_assert_uint_eq(pf_container_size(c), 0);
	ck_assert(!pf_container_dirty(c));
	write_version(c, size, 1);
	ck_assert(pf_container_dirty(c));
	ck_assert_int_eq(pf_container_commit(c, true), 0);
	pf_container_close(c);
	c = open_c("f");
	check_version(c, size, 1);
	ck_assert_int_eq(pf_container_verify(c, NULL, NULL), 0);
	pf_container_close(c);
	fd = open_file("f");
	ck_assert_int_eq(pf_container_peek_size(fd, &peek), 0);
	ck_assert_uint_eq(peek, size);
	close(fd);
	/* Compressible text is stored smaller than it is. */
	ck_assert_uint_lt(backing_len("f"), size / 4);
}
END_TEST

START_TEST(test_uncommitted_dropped)
{
	pf_container *c = open_c("f");

	write_version(c, 2 * BS, 1);
	ck_assert_int_eq(pf_container_commit(c, false), 0);
	write_version(c, 5 * BS + 7, 2);
	pf_container_close(c); /* a crash before commit */
	c = open_c("f");
	check_version(c, 2 * BS, 1);
	pf_container_close(c);
}
END_TEST

START_TEST(test_resize)
{
	pf_container *c = open_c("f");
	uint8_t *buf = malloc(BS), *zero = calloc(1, BS);
	uint32_t len;

	write_version(c, 2 * BS, 1);
	/* Shrink into block 1, then grow: the cut tail must read as zeros. */
	ck_assert_int_eq(pf_container_set_size(c, BS + 100), 0);
	ck_assert_int_eq(pf_container_set_size(c, 10 * BS), 0);
	ck_assert_int_eq(pf_container_commit(c, false), 0);
	pf_container_close(c);
	c = open_c("f");
	ck_assert_uint_eq(pf_container_size(c), 10 * BS);
	ck_assert_int_eq(pf_container_read_block(c, 1, buf, BS, &len), 0);
	ck_assert_uint_eq(len, BS);
	ck_assert_mem_eq(buf + 100, zero, BS - 100);
	ck_assert_int_eq(pf_container_read_block(c, 7, buf, BS, &len), 0);
	ck_assert_mem_eq(buf, zero, BS);
	pf_block_entry e;
	pf_container_block(c, 7, &e);
	ck_assert_uint_eq(e.codec, PF_CODEC_ZERO); /* holes cost no data */
	/* Only the last block may be short. */
	ck_assert_int_eq(pf_container_write_block(c, 2, buf, 10), -EINVAL);
	free(buf);
	free(zero);
	pf_container_close(c);
}
END_TEST

START_TEST(test_sparse_far_write)
{
	pf_container *c = open_c("f");
	uint8_t buf[100];

	fill(buf, sizeof(buf), 0, 3);
	ck_assert_int_eq(pf_container_write_block(c, 1000, buf, sizeof(buf)), 0);
	ck_assert_int_eq(pf_container_commit(c, false), 0);
	ck_assert_uint_eq(pf_container_size(c), 1000ull * BS + 100);
	ck_assert_uint_lt(backing_len("f"), 64 << 10); /* index + one block */
	pf_container_close(c);
}
END_TEST

START_TEST(test_rewrites_reclaim_space)
{
	pf_container *c = open_c("f");
	uint64_t size = 40 * BS, first;

	write_version(c, size, 1);
	ck_assert_int_eq(pf_container_commit(c, false), 0);
	first = backing_len("f");
	for (unsigned v = 2; v <= 11; v++) {
		write_version(c, size, v);
		ck_assert_int_eq(pf_container_commit(c, false), 0);
	}
	ck_assert_uint_le(backing_len("f"), first * 2 + 4096);
	check_version(c, size, 11);
	pf_container_close(c);
}
END_TEST

/* ---- crash safety --------------------------------------------------------- */

/* The newest slot torn: the container opens in the previous state. */
START_TEST(test_torn_slot_falls_back)
{
	pf_container *c = open_c("f");
	int fd;
	uint8_t slots[96], junk = 0xA5;

	write_version(c, 3 * BS, 1);
	ck_assert_int_eq(pf_container_commit(c, false), 0);
	write_version(c, 3 * BS, 2);
	ck_assert_int_eq(pf_container_commit(c, false), 0);
	pf_container_close(c);
	fd = open_file("f");
	ck_assert_int_eq(pread(fd, slots, 96, 16), 96);
	/* seq 2 went into slot B (offset 64). */
	ck_assert_int_eq(pwrite(fd, &junk, 1, 64 + 9), 1);
	close(fd);
	c = open_c("f");
	check_version(c, 3 * BS, 1);
	pf_container_close(c);
}
END_TEST

/* ---- corrupt input -------------------------------------------------------- */

START_TEST(test_flipped_block_byte)
{
	pf_container *c = open_c("f");
	pf_block_entry e;
	uint8_t *buf = malloc(BS), b;
	uint32_t len;
	int fd;

	write_version(c, 4 * BS, 1);
	ck_assert_int_eq(pf_container_commit(c, false), 0);
	pf_container_block(c, 2, &e);
	pf_container_close(c);
	fd = open_file("f");
	ck_assert_int_eq(pread(fd, &b, 1, (off_t)(e.offset + e.stored_len / 2)), 1);
	b ^= 0x10;
	ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)(e.offset + e.stored_len / 2)), 1);
	close(fd);
	c = open_c("f");
	ck_assert_int_eq(pf_container_read_block(c, 2, buf, BS, &len), -EIO);
	ck_assert_int_eq(pf_container_read_block(c, 1, buf, BS, &len), 0);
	ck_assert_int_eq(pf_container_read_block(c, 3, buf, BS, &len), 0);
	ck_assert_int_eq(pf_container_verify(c, NULL, NULL), 1);
	pf_container_close(c);
	free(buf);
}
END_TEST

/* Every truncation and every single-byte flip of a small container either
 * fails cleanly or opens; no crash, and a read never returns wrong bytes. */
START_TEST(test_truncated_and_flipped)
{
	pf_container *c = open_c("f");
	uint8_t *img, *buf = malloc(BS);
	uint64_t n;
	int fd;

	write_version(c, BS + 500, 1);
	ck_assert_int_eq(pf_container_commit(c, true), 0);
	pf_container_close(c);
	pf_log_set_level((enum pf_log_level)(PF_LOG_ERR - 1)); /* expected faults */
	n = backing_len("f");
	img = malloc(n);
	fd = open_file("f");
	ck_assert_int_eq(pread(fd, img, n, 0), (ssize_t)n);
	close(fd);
	for (uint64_t cut = 0; cut < n * 2; cut++) {
		bool flip = cut >= n;
		uint64_t len = flip ? n : cut;
		uint32_t got;

		fd = open("/tmp/check_store_img", O_RDWR | O_CREAT | O_TRUNC, 0644);
		ck_assert_int_eq(write(fd, img, len), (ssize_t)len);
		if (flip) {
			uint8_t b = img[cut - n] ^ 0x01;
			ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)(cut - n)), 1);
		}
		if (pf_container_open(store, fd, "img", &c) < 0)
			continue;
		for (uint64_t blk = 0; blk < 2; blk++)
			if (pf_container_read_block(c, blk, buf, BS, &got) == 0 && got) {
				uint8_t want[BS];
				fill(want, got, blk * BS, 1);
				/* A truncated file may open empty, never wrong. */
				ck_assert_mem_eq(buf, want, got);
			}
		pf_container_close(c);
	}
	unlink("/tmp/check_store_img");
	free(img);
	free(buf);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");
	TCase *tf = tcase_create("container");
	TCase *tb = tcase_create("corrupt");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_init_refuses);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tf, setup, teardown);
	tcase_add_test(tf, test_empty_and_roundtrip);
	tcase_add_test(tf, test_uncommitted_dropped);
	tcase_add_test(tf, test_resize);
	tcase_add_test(tf, test_sparse_far_write);
	tcase_add_test(tf, test_rewrites_reclaim_space);
	tcase_add_test(tf, test_torn_slot_falls_back);
	suite_add_tcase(s, tf);
	tcase_add_checked_fixture(tb, setup, teardown);
	tcase_add_test(tb, test_flipped_block_byte);
	tcase_add_test(tb, test_truncated_and_flipped);
	tcase_set_timeout(tb, 60);
	suite_add_tcase(s, tb);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(store_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
