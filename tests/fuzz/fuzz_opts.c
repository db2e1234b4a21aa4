/* SPDX-License-Identifier: MIT */
/*
 * fuzz_opts.c - fuzzes mount option parsing: the input, cut at its first
 * NUL, is passed as `priorfs -o <input>`, so fuse_opt splits it on commas
 * exactly as for a real mount. Parsing must never crash, and every value
 * it accepts must be within its documented range.
 */
#define FUZZ_ENTRY fuzz_opts_entry
#include "fuzz_helpers.h"

#include <errno.h>
#include <string.h>

#include "fs/fs.h"

/* The ranges store.h and cache.h document for each option. */
static void check_accepted(const pf_mount_opts *o)
{
	uint32_t bs = o->store.block_size;

	FUZZ_ASSERT(bs >= PF_BLOCK_SIZE_MIN && bs <= PF_BLOCK_SIZE_MAX);
	FUZZ_ASSERT((bs & (bs - 1)) == 0);
	FUZZ_ASSERT(o->store.codec.zstd_level >= PF_ZSTD_LEVEL_MIN &&
		    o->store.codec.zstd_level <= PF_ZSTD_LEVEL_MAX);
	FUZZ_ASSERT(o->store.codec.min_saving <= PF_MIN_SAVING_MAX);
	FUZZ_ASSERT(strcmp(pf_codec_choice_name(o->store.codec.choice),
			   "unknown") != 0);
	FUZZ_ASSERT(o->cache.threads >= 1 && o->cache.threads <= 64);
	FUZZ_ASSERT(o->attr_timeout >= 0);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	char *opt = malloc(size + 1), err[256] = "";
	char *argv[] = { (char *)"priorfs", (char *)"-o", opt, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	pf_mount_opts opts;
	int rc;

	FUZZ_ASSERT(opt);
	memcpy(opt, data, size);
	opt[size] = '\0';
	memset(&opts, 0, sizeof(opts));
	rc = pf_mount_opts_parse(&args, &opts, err, sizeof(err));
	FUZZ_ASSERT(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	if (rc == 0)
		check_accepted(&opts);
	else
		FUZZ_ASSERT_MSG(memchr(err, '\0', sizeof(err)) != NULL,
				"error message not terminated");
	fuse_opt_free_args(&args);
	free(opt);
	return 0;
}
