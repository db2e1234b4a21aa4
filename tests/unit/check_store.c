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

/* Text made of 8-byte words picked by a hash of their position, which a
 * context model predicts better than zstd (learned-codec tests). */
static bool wordy;

/* Compressible, position-dependent bytes; `v` makes versions differ. */
static void fill(uint8_t *p, size_t n, uint64_t start, unsigned v)
{
	static const char words[] = "the     quick   brown   fox     jumps   over    "
				    "lazy    dog     and     then    sleeps  under   "
				    "a       warm    sunny   sky     ";

	for (size_t i = 0; i < n; i++) {
		uint64_t pos = start + i, w = (pos / 8 + v) * 0x9E3779B97F4A7C15ull;

		p[i] = wordy ? (uint8_t)words[(w >> 60) * 8 + pos % 8]
			     : (uint8_t)("lorem ipsum dolor "[pos % 18] + v);
	}
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

static off_t backing_size(const char *name)
{
	struct stat st;

	ck_assert_int_eq(fstatat(pf_store_root_fd(store), name, &st, 0), 0);
	return st.st_size;
}

/* Blocks written but never committed (a commit that failed on a full
 * disk) give their space back when the container is closed. */
START_TEST(test_abandoned_space_returned)
{
	pf_container *c = open_c("g");
	off_t committed;

	write_version(c, 2 * BS, 1);
	ck_assert_int_eq(pf_container_commit(c, true), 0);
	committed = backing_size("g");
	write_version(c, 8 * BS, 2);
	ck_assert_int_gt(backing_size("g"), committed);
	pf_container_close(c);
	ck_assert_int_eq(backing_size("g"), committed);
	c = open_c("g");
	check_version(c, 2 * BS, 1);
	pf_container_close(c);
	/* a file whose first commit never came is empty again */
	c = open_c("h");
	write_version(c, 3 * BS, 3);
	ck_assert_int_gt(backing_size("h"), 0);
	pf_container_close(c);
	ck_assert_int_eq(backing_size("h"), 0);
	c = open_c("h");
	ck_assert_uint_eq(pf_container_size(c), 0);
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

/* Every truncation and every single-byte flip of a small committed container
 * either fails cleanly or opens; no crash, and a read never returns wrong
 * bytes. */
static void check_every_damage(void)
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

START_TEST(test_truncated_and_flipped)
{
	check_every_damage();
}
END_TEST


/* ---- learned blocks and the model store ------------------------------------ */

/* Trains a small model on fill()'s text (wordy or not) and adds it. */
static void add_model(bool wordy_sample, uint8_t id[PF_MODEL_ID_SIZE])
{
	pf_model_train_opts topts = { .level = PF_MODEL_LEVEL_FAST, .table_bits = 16 };
	size_t len = 256 << 10, image_len;
	uint8_t *sample = malloc(len);
	bool keep = wordy;
	void *image;

	wordy = wordy_sample;
	fill(sample, len, 7, 1);
	wordy = keep;
	ck_assert_int_eq(pf_codec_model_train(sample, len, &topts, &image, &image_len), 0);
	ck_assert_int_eq(pf_store_model_add(store, image, image_len, id), 0);
	free(image);
	free(sample);
}

/* Makes a model trained on the plain fill() text the store's default. */
static void add_default_model(uint8_t id[PF_MODEL_ID_SIZE])
{
	pf_model_info def = { 0 };

	add_model(false, id);
	memcpy(def.id, id, PF_MODEL_ID_SIZE);
	strcpy(def.kind, "text");
	ck_assert_int_eq(pf_store_set_defaults(store, &def, 1), 0);
}

static void reopen_store(bool use_models)
{
	wordy = true;
	pf_store_opts opts;

	pf_store_close(store);
	pf_store_opts_default(&opts);
	opts.block_size = BS;
	opts.use_models = use_models;
	ck_assert_int_eq(pf_store_open(dir, &opts, &store), 0);
}

START_TEST(test_learned_roundtrip)
{
	uint8_t id[PF_MODEL_ID_SIZE], refs[4][PF_MODEL_ID_SIZE];
	pf_model_info *list;
	pf_block_entry e;
	pf_container *c;
	size_t n;

	add_default_model(id);
	reopen_store(true);
	c = open_c("f");
	write_version(c, 3 * BS + 99, 1);
	ck_assert_int_eq(pf_container_commit(c, false), 0);
	pf_container_block(c, 1, &e);
	ck_assert_uint_eq(e.codec, PF_CODEC_LEARNED);
	ck_assert_uint_eq(e.model, 1);
	ck_assert_int_eq(pf_container_models(c, refs, 4), 1);
	ck_assert_mem_eq(refs[0], id, PF_MODEL_ID_SIZE);
	pf_container_close(c);
	reopen_store(false); /* a reader needs no default, only the model */
	c = open_c("f");
	check_version(c, 3 * BS + 99, 1);
	ck_assert_int_eq(pf_container_verify(c, NULL, NULL), 0);
	pf_container_close(c);
	ck_assert_int_eq(pf_store_models_list(store, &list, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(list[0].kind, "text");
	free(list);
}
END_TEST

/* A missing or altered model gives EIO on its blocks, never wrong bytes. */
START_TEST(test_learned_model_missing_or_corrupt)
{
	uint8_t id[PF_MODEL_ID_SIZE], *buf = malloc(BS), b = 0;
	char path[160], hex[65];
	pf_block_entry e0;
	pf_container *c;
	uint32_t len;
	int fd;

	add_default_model(id);
	reopen_store(true);
	c = open_c("f");
	write_version(c, 2 * BS, 1);
	ck_assert_int_eq(pf_container_commit(c, false), 0);
	pf_container_block(c, 0, &e0);
	ck_assert_uint_eq(e0.codec, PF_CODEC_LEARNED);
	pf_container_close(c);
	for (int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", id[i]);
	snprintf(path, sizeof(path), "%s/.priorfs/models/%s", dir, hex);
	pf_log_set_level((enum pf_log_level)(PF_LOG_ERR - 1)); /* expected faults */
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &b, 1, 100), 1);
	b ^= 0x40; /* a flipped bit */
	ck_assert_int_eq(pwrite(fd, &b, 1, 100), 1);
	close(fd);
	reopen_store(false);
	c = open_c("f");
	ck_assert_int_eq(pf_container_read_block(c, 0, buf, BS, &len), -EIO);
	pf_container_close(c);
	ck_assert_int_eq(unlink(path), 0); /* now missing */
	reopen_store(false);
	c = open_c("f");
	ck_assert_int_eq(pf_container_read_block(c, 1, buf, BS, &len), -EIO);
	ck_assert_int_eq(pf_container_verify(c, NULL, NULL), 2);
	pf_container_close(c);
	free(buf);
}
END_TEST

/* With several defaults, a file takes the one that codes it best. */
START_TEST(test_learned_picks_best_model)
{
	uint8_t plain_id[PF_MODEL_ID_SIZE], wordy_id[PF_MODEL_ID_SIZE];
	uint8_t refs[4][PF_MODEL_ID_SIZE];
	pf_model_info defs[2] = { { .kind = "a" }, { .kind = "b" } };
	pf_container *c;

	add_model(false, plain_id);
	add_model(true, wordy_id);
	memcpy(defs[0].id, plain_id, PF_MODEL_ID_SIZE);
	memcpy(defs[1].id, wordy_id, PF_MODEL_ID_SIZE);
	ck_assert_int_eq(pf_store_set_defaults(store, defs, 2), 0);
	reopen_store(true); /* files of wordy text from here on */
	c = open_c("f");
	write_version(c, 2 * BS, 1);
	ck_assert_int_eq(pf_container_commit(c, false), 0);
	ck_assert_int_eq(pf_container_models(c, refs, 4), 1);
	ck_assert_mem_eq(refs[0], wordy_id, PF_MODEL_ID_SIZE);
	check_version(c, 2 * BS, 1);
	pf_container_close(c);
}
END_TEST

/* The same damage to a container with a model table and learned blocks. */
START_TEST(test_learned_truncated_and_flipped)
{
	uint8_t id[PF_MODEL_ID_SIZE];
	pf_block_entry e;
	pf_container *c;

	add_default_model(id);
	reopen_store(true);
	c = open_c("probe");
	write_version(c, BS, 1);
	pf_container_block(c, 0, &e);
	ck_assert_uint_eq(e.codec, PF_CODEC_LEARNED);
	pf_container_close(c);
	check_every_damage();
}
END_TEST

START_TEST(test_writer_lock)
{
	pf_store *other;
	pf_store_opts opts;

	pf_store_opts_default(&opts);
	ck_assert_int_eq(pf_store_lock_writer(store), 0);
	ck_assert_int_eq(pf_store_open(dir, &opts, &other), 0);
	ck_assert_int_eq(pf_store_lock_writer(other), -EBUSY);
	pf_store_close(store); /* releases the lock */
	store = NULL;
	ck_assert_int_eq(pf_store_lock_writer(other), 0);
	store = other;
}
END_TEST

/* Tools' records live in .priorfs under plain names the store does not use. */
START_TEST(test_meta_records)
{
	static const char *const refused[] = { "", ".", "..", "config", "lock", "models",
					       "a/b", "../escape", "models/defaults" };
	char path[128];
	int fd;

	for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
		ck_assert_int_eq(pf_store_meta_open(store, refused[i], O_RDONLY, 0), -EINVAL);
		ck_assert_int_eq(pf_store_meta_rename(store, refused[i], "rec"), -EINVAL);
		ck_assert_int_eq(pf_store_meta_rename(store, "rec", refused[i]), -EINVAL);
	}
	ck_assert_int_eq(pf_store_meta_open(store, "rec", O_RDONLY, 0), -ENOENT);
	fd = pf_store_meta_open(store, "rec.tmp", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "x\n", 2), 2);
	close(fd);
	ck_assert_int_eq(pf_store_meta_rename(store, "rec.tmp", "rec"), 0);
	snprintf(path, sizeof(path), "%s/.priorfs/rec", dir);
	ck_assert_int_eq(access(path, R_OK), 0);
	/* a symlink planted under a record's name is not followed */
	snprintf(path, sizeof(path), "%s/.priorfs/link", dir);
	ck_assert_int_eq(symlink("/etc/passwd", path), 0);
	ck_assert_int_eq(pf_store_meta_open(store, "link", O_RDONLY, 0), -ELOOP);
}
END_TEST

/* Reads .priorfs/<name> into buf (NUL-terminated); @return its length. */
static size_t read_record(const char *name, char *buf, size_t cap)
{
	int fd = pf_store_meta_open(store, name, O_RDONLY, 0);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, cap - 1);
	close(fd);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	return (size_t)n;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The recompress record: only kept entries reach the file, a reopen finds
 * them for the same target only, torn lines are skipped, the set grows
 * past its first size, and compaction keeps just what was used. */
START_TEST(test_tried_record)
{
	enum { MANY = 5000 };
	pf_tried *t;
	char buf[1 << 17];
	int fd;

	ck_assert_int_eq(pf_tried_open(store, "rec", 7, &t), 0);
	ck_assert_uint_eq(pf_tried_target(t), 7);
	ck_assert(!pf_tried_has(t, 1, 10));
	for (uint64_t i = 1; i <= MANY; i++)
		ck_assert_int_eq(pf_tried_add(t, i, i * 10, i % 2 == 0), 0);
	for (uint64_t i = 1; i <= MANY; i++)
		ck_assert(pf_tried_has(t, i, i * 10));
	ck_assert(!pf_tried_has(t, 2, 21));
	ck_assert_int_eq(pf_tried_add(t, 2, 20, true), 0); /* once in the file */
	pf_tried_close(t);
	read_record("rec", buf, sizeof(buf));
	ck_assert_uint_eq(count_lines(buf), MANY / 2);

	/* a torn line and a foreign one are skipped */
	fd = pf_store_meta_open(store, "rec", O_WRONLY | O_APPEND, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "0000000000000009 00000000000000", 30), 30);
	ck_assert_int_eq(write(fd, "\n\377junk\n", 7), 7);
	close(fd);
	ck_assert_int_eq(pf_tried_open(store, "rec", 8, &t), 0);
	ck_assert(!pf_tried_has(t, 2, 20)); /* another target */
	pf_tried_close(t);
	ck_assert_int_eq(pf_tried_open(store, "rec", 7, &t), 0);
	ck_assert(!pf_tried_has(t, 1, 10)); /* memory only last time */
	ck_assert(!pf_tried_has(t, 9, 0));
	for (uint64_t i = 2; i <= 200; i += 2)
		ck_assert(pf_tried_has(t, i, i * 10));
	ck_assert(pf_tried_stale(t)); /* 100 used of 2502 lines */
	ck_assert_int_eq(pf_tried_add(t, 1, 11, false), 0);
	ck_assert_int_eq(pf_tried_compact(t), 0);
	ck_assert(!pf_tried_stale(t));
	ck_assert(!pf_tried_has(t, 202, 2020)); /* unused: dropped */
	ck_assert(pf_tried_has(t, 4, 40));
	ck_assert(pf_tried_has(t, 1, 11));     /* used, in memory only */
	ck_assert_int_eq(pf_tried_add(t, 3, 33, true), 0); /* appended after */
	pf_tried_close(t);
	read_record("rec", buf, sizeof(buf));
	ck_assert_uint_eq(count_lines(buf), 101);
	ck_assert_ptr_nonnull(strstr(buf, "0000000000000003 0000000000000021 0000000000000007\n"));
	ck_assert_ptr_null(strstr(buf, "junk"));
	ck_assert_int_eq(pf_tried_open(store, "a/b", 7, &t), -EINVAL);
	ck_assert(!pf_tried_has(t, 4, 40)); /* memory only */
	pf_tried_close(t);
}
END_TEST

/* A record the store cannot open still works in memory, and says why. */
START_TEST(test_tried_memory_only)
{
	char path[128];
	pf_tried *t;

	snprintf(path, sizeof(path), "%s/.priorfs/rec", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0); /* not a file */
	ck_assert_int_lt(pf_tried_open(store, "rec", 1, &t), 0);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(pf_tried_add(t, 5, 6, true), 0);
	ck_assert(pf_tried_has(t, 5, 6));
	ck_assert_int_eq(pf_tried_compact(t), 0);
	ck_assert(pf_tried_has(t, 5, 6));
	pf_tried_close(t);
}
END_TEST

/* The background target follows the store's defaults. */
START_TEST(test_recode_target)
{
	pf_model_info m = { .id = { 1, 2, 3 }, .kind = "text" };
	uint64_t none = pf_store_recode_target(store);

	ck_assert_uint_eq(pf_store_recode_target(store), none);
	ck_assert_int_eq(pf_store_set_defaults(store, &m, 1), 0);
	ck_assert_uint_ne(pf_store_recode_target(store), none);
	m.id[0] = 9;
	ck_assert_int_eq(pf_store_set_defaults(store, &m, 1), 0);
	ck_assert_uint_ne(pf_store_recode_target(store), none);
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
	tcase_add_test(tc, test_meta_records);
	tcase_add_test(tc, test_tried_record);
	tcase_add_test(tc, test_tried_memory_only);
	tcase_add_test(tc, test_recode_target);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tf, setup, teardown);
	tcase_add_test(tf, test_empty_and_roundtrip);
	tcase_add_test(tf, test_uncommitted_dropped);
	tcase_add_test(tf, test_abandoned_space_returned);
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
	TCase *tl = tcase_create("learned");
	tcase_add_checked_fixture(tl, setup, teardown);
	tcase_add_test(tl, test_learned_roundtrip);
	tcase_add_test(tl, test_learned_model_missing_or_corrupt);
	tcase_add_test(tl, test_learned_picks_best_model);
	tcase_add_test(tl, test_learned_truncated_and_flipped);
	tcase_add_test(tl, test_writer_lock);
	tcase_set_timeout(tl, 180); /* every cut and flip of a learned container; slow under ASan */
	suite_add_tcase(s, tl);
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
