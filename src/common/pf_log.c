/* SPDX-License-Identifier: MIT */
/* pf_log.c - log lines to stderr or syslog, and the size parser. */
#include "common/pf_common.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>

static bool log_syslog;
static enum pf_log_level log_max = PF_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void pf_log_to_syslog(bool on)
{
	log_syslog = on;
}

void pf_log_set_level(enum pf_log_level level)
{
	log_max = level;
}

void pf_log(enum pf_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_max)
		return;
	va_start(ap, fmt);
	if (log_syslog) {
		vsyslog((int)level, fmt, ap);
	} else {
		/* One lock so concurrent threads never interleave a line. */
		pthread_mutex_lock(&log_lock);
		fputs("priorfs: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		pthread_mutex_unlock(&log_lock);
	}
	va_end(ap);
}

int pf_corrupt_at(const char *file, int line, const char *what)
{
	pf_log(PF_LOG_DEBUG, "corruption detected at %s:%d: %s", file, line, what);
	return -EIO;
}

int pf_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (toupper((unsigned char)*end)) {
	case 'K': shift = 10; break;
	case 'M': shift = 20; break;
	case 'G': shift = 30; break;
	case 'T': shift = 40; break;
	case '\0': break;
	default: return -EINVAL;
	}
	if (shift) {
		end++;
		if (*end == 'i' || *end == 'I')
			end++;
		if (*end == 'b' || *end == 'B')
			end++;
	}
	if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}
