/* SPDX-License-Identifier: MIT */
/*
 * fuzz_container.c - fuzzes container parsing: the input is a whole
 * container file, opened through the store API, every block read, and the
 * container verified. Corrupt input must give errors, never a crash.
 *
 * The store directory is made once per process in a mkdtemp() dir and
 * removed at exit; each input lives in a memfd, so nothing else touches
 * the disk.
 */
#define FUZZ_ENTRY fuzz_container_entry
#include "fuzz_helpers.h"

#include <ftw.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/pf_common.h"
#include "store/store.h"

/* Reading stops here: a hostile header may claim a size of 2^63 bytes, and
 * blocks past the index are holes that teach the fuzzer nothing. */
#define FUZZ_MAX_BLOCKS 4096u

static char store_dir[] = "/tmp/pf-fuzz-store-XXXXXX";
static pf_store *store; /* one per process, closed at exit */

static int remove_entry(const char *path, const struct stat *st, int type,
			struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void store_cleanup(void)
{
	pf_store_close(store);
	nftw(store_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static pf_store *store_get(void)
{
	pf_store_opts opts;

	if (store)
		return store;
	/* Corrupt input is the point here: drop every log line. */
	pf_log_set_level((enum pf_log_level)(PF_LOG_ERR - 1));
	pf_store_opts_default(&opts);
	FUZZ_ASSERT(mkdtemp(store_dir));
	FUZZ_ASSERT(pf_store_init(store_dir) == 0);
	FUZZ_ASSERT(pf_store_open(store_dir, &opts, &store) == 0);
	atexit(store_cleanup);
	return store;
}

static int memfd_with(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz", 0);

	FUZZ_ASSERT(fd >= 0);
	for (size_t done = 0; done < size;) {
		ssize_t n = write(fd, data + done, size - done);

		FUZZ_ASSERT(n > 0);
		done += (size_t)n;
	}
	FUZZ_ASSERT(lseek(fd, 0, SEEK_SET) == 0);
	return fd;
}

/* Reads each block of c; a block either decodes to its stated length or
 * fails with -EIO. */
static void read_blocks(pf_container *c)
{
	uint32_t bs = pf_container_block_size(c), len;
	uint64_t size = pf_container_size(c);
	uint8_t *plain;

	FUZZ_ASSERT(bs >= PF_BLOCK_SIZE_MIN && bs <= PF_BLOCK_SIZE_MAX);
	plain = malloc(bs);
	FUZZ_ASSERT(plain);
	for (uint64_t b = 0; b < FUZZ_MAX_BLOCKS && b < size / bs + 1; b++) {
		int rc = pf_container_read_block(c, b, plain, bs, &len);

		FUZZ_ASSERT(rc == 0 || rc == -EIO);
		if (rc == 0)
			FUZZ_ASSERT(len == pf_container_block_len(c, b) &&
				    len <= bs);
	}
	free(plain);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	pf_store *s = store_get();
	pf_container *c;
	long faults;

	/* pf_container_open owns the fd from here, on failure too. */
	if (pf_container_open(s, memfd_with(data, size), "fuzz", &c) < 0)
		return 0;
	read_blocks(c);
	faults = pf_container_verify(c, NULL, NULL);
	FUZZ_ASSERT(faults >= 0 || faults == -ENOMEM);
	pf_container_close(c);
	return 0;
}
