/* SPDX-License-Identifier: MIT */
/*
 * pf_io.c - positional reads and writes that move every byte: pread and
 * pwrite may return short counts (signals, pipes, some filesystems), and
 * every caller wants all or an error.
 */
#include <errno.h>
#include <unistd.h>

#include "common/pf_common.h"

ssize_t pf_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break; /* end of file */
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int pf_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t put = 0;

	while (put < len) {
		ssize_t n = pwrite(fd, (const char *)buf + put, len - put, (off_t)(off + put));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		put += (size_t)n;
	}
	return 0;
}
