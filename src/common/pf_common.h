/* SPDX-License-Identifier: MIT */
/*
 * pf_common.h - what every layer shares: logging, little-endian field access,
 * and the error-return macros.
 *
 * Internal functions return 0 (or a count) on success and a negative errno on
 * failure. Untrusted bytes never reach assert(); parsers return -EIO through
 * PF_CORRUPT so that a debugger has one place to break.
 */
#ifndef PF_COMMON_H
#define PF_COMMON_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

enum pf_log_level { PF_LOG_ERR = 3, PF_LOG_WARNING = 4, PF_LOG_INFO = 6, PF_LOG_DEBUG = 7 };

/* Logs one line (a newline is added). Thread-safe. Messages are lower case
 * and name the object (path, block) and the failed call. */
void pf_log(enum pf_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Where log lines go: stderr (default) or syslog. */
void pf_log_to_syslog(bool on);
/* Lines above this level are dropped; default PF_LOG_INFO. */
void pf_log_set_level(enum pf_log_level level);

/* Returns -EIO after logging where corruption was detected (debug builds). */
int pf_corrupt_at(const char *file, int line, const char *what);
#define PF_CORRUPT(what) pf_corrupt_at(__FILE__, __LINE__, (what))

/* Training samples are pieces put end to end, each a whole number of this
 * many bytes: the model counts positions from the sample's start as it does
 * from a block's, so data in 16-, 32- or 64-bit units must keep its phase. */
#define PF_SAMPLE_UNIT 8u

#define PF_FORWARD(expr)                                                       \
	do {                                                                   \
		int pf_rc_ = (int)(expr);                                      \
		if (pf_rc_ < 0)                                                \
			return pf_rc_;                                         \
	} while (0)

static inline uint16_t pf_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t pf_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}
static inline uint64_t pf_le64(const uint8_t *p)
{
	return (uint64_t)pf_le32(p) | (uint64_t)pf_le32(p + 4) << 32;
}
static inline void pf_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void pf_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void pf_put_le64(uint8_t *p, uint64_t v)
{
	pf_put_le32(p, (uint32_t)v);
	pf_put_le32(p + 4, (uint32_t)(v >> 32));
}

/* Parses a size with an optional K/M/G/T suffix (powers of 1024) into *out.
 * Returns 0, or -EINVAL on syntax error or overflow. */
int pf_parse_size(const char *s, uint64_t *out);

/* pread until len bytes or the end of the file: @return bytes read, -errno. */
ssize_t pf_pread_full(int fd, void *buf, size_t len, uint64_t off);
/* pwrite all len bytes: @return 0, -errno. */
int pf_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);

#endif
