/* SPDX-License-Identifier: MIT */
/*
 * check_opts.c - unit tests of the mount options (fs.h pf_mount_opts_parse):
 * defaults, every option's valid, invalid and boundary values, size
 * suffixes, `ro` detection and the error text.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/pf_common.h"
#include "fs/fs.h"

/* ---- helpers ---------------------------------------------------------------- */

static char err[256];

/* Parses `priorfs [-o o] BACKING MNT` into opts; keeps what is left for
 * FUSE in *left (caller frees) when left is set. @return parse result. */
static int parse_left(const char *o, pf_mount_opts *opts, struct fuse_args *left)
{
	char prog[] = "priorfs", dash_o[] = "-o", store[] = "store", mnt[] = "mnt";
	char *optstr = strdup(o ? o : "");
	char *argv[] = { prog, dash_o, optstr, store, mnt, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(5, argv);
	int rc;

	ck_assert_ptr_nonnull(optstr);
	if (!o) { /* no -o at all */
		argv[1] = store;
		argv[2] = mnt;
		argv[3] = NULL;
		args.argc = 3;
	}

	memset(opts, 0xa5, sizeof(*opts)); /* defaults must all be set */
	rc = pf_mount_opts_parse(&args, opts, err, sizeof(err));
	free(optstr);
	if (left)
		*left = args;
	else
		fuse_opt_free_args(&args);
	return rc;
}

static int parse(const char *o, pf_mount_opts *opts)
{
	return parse_left(o, opts, NULL);
}

/* The comma-separated -o string FUSE still gets, or "" when none. */
static const char *fuse_opts_left(const struct fuse_args *args)
{
	for (int i = 1; i + 1 < args->argc; i++)
		if (strcmp(args->argv[i], "-o") == 0)
			return args->argv[i + 1];
	return "";
}

/* The option is rejected and the message names it with its value. */
static void expect_bad(const char *o)
{
	pf_mount_opts opts;
	char want[128];

	ck_assert_msg(parse(o, &opts) == -EINVAL, "%s accepted", o);
	snprintf(want, sizeof(want), "priorfs: bad value for %s: must ", o);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
		      "error for %s: \"%s\"", o, err);
}

/* ---- defaults --------------------------------------------------------------- */

START_TEST(test_defaults)
{
	pf_mount_opts o;

	ck_assert_int_eq(parse(NULL, &o), 0);
	ck_assert_uint_eq(o.store.block_size, PF_BLOCK_SIZE_DEFAULT);
	ck_assert_int_eq(o.store.codec.choice, PF_CHOICE_AUTO);
	ck_assert_int_eq(o.store.codec.zstd_level, PF_ZSTD_LEVEL_DEFAULT);
	ck_assert_int_eq(o.store.level, PF_MODEL_LEVEL_DEFAULT);
	ck_assert(o.store.verify);
	ck_assert(!o.store.sync);
	ck_assert(!o.store.read_only);
	ck_assert_uint_eq(o.cache.cache_size, 256ull << 20);
	ck_assert_uint_eq(o.cache.readahead, 4ull << 20);
	ck_assert_uint_eq(o.cache.threads, 2);
	ck_assert_uint_eq(o.cache.dirty_limit, 64ull << 20);
	ck_assert(o.attr_timeout == 1.0);
	ck_assert(!o.recompress && !o.train);
	ck_assert(o.recompress_after == 600.0);
	ck_assert_uint_eq(o.recompress_rate, 4ull << 20);
	ck_assert_uint_eq(o.train_after, 32ull << 20);
}
END_TEST

START_TEST(test_non_options_kept)
{
	pf_mount_opts o;
	struct fuse_args left;

	ck_assert_int_eq(parse_left("allow_other,block_size=1M,fsname=x", &o,
				    &left), 0);
	ck_assert_str_eq(fuse_opts_left(&left), "allow_other,fsname=x");
	ck_assert_str_eq(left.argv[left.argc - 2], "store");
	ck_assert_str_eq(left.argv[left.argc - 1], "mnt");
	fuse_opt_free_args(&left);
}
END_TEST

/* ---- sizes ------------------------------------------------------------------ */

START_TEST(test_block_size)
{
	pf_mount_opts o;

	ck_assert_int_eq(parse("block_size=64K", &o), 0);
	ck_assert_uint_eq(o.store.block_size, 64u << 10);
	ck_assert_int_eq(parse("block_size=4M", &o), 0);
	ck_assert_uint_eq(o.store.block_size, 4u << 20);
	ck_assert_int_eq(parse("block_size=131072", &o), 0);
	ck_assert_uint_eq(o.store.block_size, 128u << 10);
	expect_bad("block_size=32K");
	expect_bad("block_size=8M");
	expect_bad("block_size=96K");
	expect_bad("block_size=abc");
	expect_bad("block_size=");
	expect_bad("block_size=-64K");
}
END_TEST

START_TEST(test_block_size_message)
{
	pf_mount_opts o;

	ck_assert_int_eq(parse("block_size=3K", &o), -EINVAL);
	ck_assert_str_eq(err, "priorfs: bad value for block_size=3K: must be a "
			      "power of two from 64K to 4M");
}
END_TEST

START_TEST(test_cache_size)
{
	pf_mount_opts o;

	ck_assert_int_eq(parse("cache_size=1M", &o), 0);
	ck_assert_uint_eq(o.cache.cache_size, 1ull << 20);
	ck_assert_int_eq(parse("cache_size=2G", &o), 0);
	ck_assert_uint_eq(o.cache.cache_size, 2ull << 30);
	expect_bad("cache_size=1048575");
	expect_bad("cache_size=512K");
	expect_bad("cache_size=99999999999999999999");
}
END_TEST

START_TEST(test_readahead)
{
	pf_mount_opts o;

	ck_assert_int_eq(parse("readahead=0", &o), 0);
	ck_assert_uint_eq(o.cache.readahead, 0);
	ck_assert_int_eq(parse("readahead=1G", &o), 0);
	ck_assert_uint_eq(o.cache.readahead, 1ull << 30);
	ck_assert_int_eq(parse("readahead=512K", &o), 0);
	ck_assert_uint_eq(o.cache.readahead, 512ull << 10);
	expect_bad("readahead=1025M");
	expect_bad("readahead=4Q");
}
END_TEST

START_TEST(test_dirty_limit)
{
	pf_mount_opts o;

	ck_assert_int_eq(parse("dirty_limit=1M", &o), 0);
	ck_assert_uint_eq(o.cache.dirty_limit, 1ull << 20);
	ck_assert_int_eq(parse("dirty_limit=4G", &o), 0);
	ck_assert_uint_eq(o.cache.dirty_limit, 4ull << 30);
	expect_bad("dirty_limit=1023K");
	expect_bad("dirty_limit=5G");
}
END_TEST

/* ---- numbers and choices ---------------------------------------------------- */

START_TEST(test_codec)
{
	pf_mount_opts o;

	ck_assert_int_eq(parse("codec=zstd", &o), 0);
	ck_assert_int_eq(o.store.codec.choice, PF_CHOICE_ZSTD);
	ck_assert_int_eq(parse("codec=raw", &o), 0);
	ck_assert_int_eq(o.store.codec.choice, PF_CHOICE_RAW);
	ck_assert_int_eq(parse("codec=auto", &o), 0);
	ck_assert_int_eq(o.store.codec.choice, PF_CHOICE_AUTO);
	ck_assert(!o.store.use_models); /* write_codec=zstd by default */
	ck_assert_int_eq(parse("codec=learned", &o), 0);
	ck_assert_int_eq(o.store.codec.choice, PF_CHOICE_LEARNED);
	ck_assert(o.store.use_models);
	ck_assert_int_eq(parse("write_codec=learned", &o), 0);
	ck_assert_int_eq(o.store.codec.choice, PF_CHOICE_AUTO);
	ck_assert(o.store.use_models);
	ck_assert_int_eq(parse("write_codec=zstd", &o), 0);
	ck_assert(!o.store.use_models);
	expect_bad("write_codec=auto");
	expect_bad("codec=lz4");
	expect_bad("codec=");
	expect_bad("codec=ZSTD");
}
END_TEST

START_TEST(test_zstd_level)
{
	pf_mount_opts o;

	ck_assert_int_eq(parse("zstd_level=1", &o), 0);
	ck_assert_int_eq(o.store.codec.zstd_level, 1);
	ck_assert_int_eq(parse("zstd_level=19", &o), 0);
	ck_assert_int_eq(o.store.codec.zstd_level, 19);
	expect_bad("zstd_level=0");
	expect_bad("zstd_level=20");
	expect_bad("zstd_level=3x");
	expect_bad("zstd_level=");
}
END_TEST

/* level= is not taken for zstd_level= or the other way round. */
START_TEST(test_level)
{
	pf_mount_opts o;

	ck_assert_int_eq(parse("level=max", &o), 0);
	ck_assert_int_eq(o.store.level, PF_MODEL_LEVEL_MAX);
	ck_assert_int_eq(o.store.codec.zstd_level, PF_ZSTD_LEVEL_DEFAULT);
	ck_assert_int_eq(parse("level=fast,zstd_level=7", &o), 0);
	ck_assert_int_eq(o.store.level, PF_MODEL_LEVEL_FAST);
	ck_assert_int_eq(o.store.codec.zstd_level, 7);
	ck_assert_int_eq(parse("level=default", &o), 0);
	ck_assert_int_eq(o.store.level, PF_MODEL_LEVEL_DEFAULT);
	expect_bad("level=3");
	expect_bad("level=");
	expect_bad("level=Max");
}
END_TEST

START_TEST(test_threads)
{
	pf_mount_opts o;

	ck_assert_int_eq(parse("threads=1", &o), 0);
	ck_assert_uint_eq(o.cache.threads, 1);
	ck_assert_int_eq(parse("threads=64", &o), 0);
	ck_assert_uint_eq(o.cache.threads, 64);
	expect_bad("threads=0");
	expect_bad("threads=65");
	expect_bad("threads=4K");
}
END_TEST

START_TEST(test_verify_sync)
{
	pf_mount_opts o;

	ck_assert_int_eq(parse("verify=0", &o), 0);
	ck_assert(!o.store.verify);
	ck_assert_int_eq(parse("verify=1", &o), 0);
	ck_assert(o.store.verify);
	expect_bad("verify=2");
	expect_bad("verify=yes");
	ck_assert_int_eq(parse("sync", &o), 0);
	ck_assert(o.store.sync);
	ck_assert_int_eq(parse("sync=1", &o), 0);
	ck_assert(o.store.sync);
	ck_assert_int_eq(parse("sync,sync=0", &o), 0);
	ck_assert(!o.store.sync);
	expect_bad("sync=on");
}
END_TEST

START_TEST(test_attr_timeout)
{
	pf_mount_opts o;

	ck_assert_int_eq(parse("attr_timeout=0", &o), 0);
	ck_assert(o.attr_timeout == 0.0);
	ck_assert_int_eq(parse("attr_timeout=2.5", &o), 0);
	ck_assert(o.attr_timeout == 2.5);
	expect_bad("attr_timeout=-1");
	expect_bad("attr_timeout=nan");
	expect_bad("attr_timeout=inf");
	expect_bad("attr_timeout=1s");
}
END_TEST

START_TEST(test_background)
{
	pf_mount_opts o;

	ck_assert_int_eq(parse("recompress=1,recompress_after=0.5,recompress_rate=0", &o), 0);
	ck_assert(o.recompress && o.recompress_after == 0.5 && o.recompress_rate == 0);
	ck_assert_int_eq(parse("recompress_rate=64K,train=auto,train_after=1M", &o), 0);
	ck_assert_uint_eq(o.recompress_rate, 64u << 10);
	ck_assert(o.train && !o.recompress);
	ck_assert_uint_eq(o.train_after, 1u << 20);
	ck_assert_int_eq(parse("train=off", &o), 0);
	ck_assert(!o.train);
	expect_bad("recompress=2");
	expect_bad("recompress_after=-1");
	expect_bad("recompress_rate=fast");
	expect_bad("train=on");
	expect_bad("train_after=512K");
}
END_TEST

START_TEST(test_several)
{
	pf_mount_opts o;

	ck_assert_int_eq(parse("codec=raw,threads=8,readahead=0,verify=0", &o), 0);
	ck_assert_int_eq(o.store.codec.choice, PF_CHOICE_RAW);
	ck_assert_uint_eq(o.cache.threads, 8);
	ck_assert_uint_eq(o.cache.readahead, 0);
	ck_assert(!o.store.verify);
	/* Untouched options keep their defaults. */
	ck_assert_uint_eq(o.store.block_size, PF_BLOCK_SIZE_DEFAULT);
	/* One bad value fails the whole parse and is the one named. */
	ck_assert_int_eq(parse("threads=8,zstd_level=99,codec=raw", &o), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "zstd_level=99"));
}
END_TEST

/* ---- ro --------------------------------------------------------------------- */

START_TEST(test_ro_detected_and_kept)
{
	pf_mount_opts o;
	struct fuse_args left;

	ck_assert_int_eq(parse_left("ro,cache_size=8M", &o, &left), 0);
	ck_assert(o.store.read_only);
	ck_assert_uint_eq(o.cache.cache_size, 8ull << 20);
	ck_assert_str_eq(fuse_opts_left(&left), "ro");
	fuse_opt_free_args(&left);
}
END_TEST

START_TEST(test_rw_after_ro)
{
	pf_mount_opts o;

	ck_assert_int_eq(parse("ro,rw", &o), 0);
	ck_assert(!o.store.read_only);
	ck_assert_int_eq(parse("rw,ro", &o), 0);
	ck_assert(o.store.read_only);
	/* "rox" is not ro. */
	ck_assert_int_eq(parse("rox", &o), 0);
	ck_assert(!o.store.read_only);
}
END_TEST

START_TEST(test_help_lists_options)
{
	static const char *const names[] = {
		"block_size", "codec", "zstd_level", "level=", "cache_size", "readahead",
		"threads", "dirty_limit", "verify", "sync", "attr_timeout", "ro",
	};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	pf_mount_opts_help(f);
	fclose(f);
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
		ck_assert_msg(strstr(text, names[i]), "help lacks %s", names[i]);
	ck_assert_ptr_nonnull(strstr(text, "default 256K"));
	free(text);
}
END_TEST

static Suite *opts_suite(void)
{
	Suite *s = suite_create("opts");
	TCase *tc;

	tc = tcase_create("defaults");
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_non_options_kept);
	tcase_add_test(tc, test_help_lists_options);
	tcase_set_timeout(tc, 10);
	suite_add_tcase(s, tc);

	tc = tcase_create("sizes");
	tcase_add_test(tc, test_block_size);
	tcase_add_test(tc, test_block_size_message);
	tcase_add_test(tc, test_cache_size);
	tcase_add_test(tc, test_readahead);
	tcase_add_test(tc, test_dirty_limit);
	tcase_set_timeout(tc, 10);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_test(tc, test_codec);
	tcase_add_test(tc, test_zstd_level);
	tcase_add_test(tc, test_level);
	tcase_add_test(tc, test_threads);
	tcase_add_test(tc, test_verify_sync);
	tcase_add_test(tc, test_attr_timeout);
	tcase_add_test(tc, test_background);
	tcase_add_test(tc, test_several);
	tcase_set_timeout(tc, 10);
	suite_add_tcase(s, tc);

	tc = tcase_create("ro");
	tcase_add_test(tc, test_ro_detected_and_kept);
	tcase_add_test(tc, test_rw_after_ro);
	tcase_set_timeout(tc, 10);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(opts_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
