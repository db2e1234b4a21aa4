/* SPDX-License-Identifier: MIT */
/* unit_data.h - seeded test data shared by the unit tests: the same bytes
 * on every run, so a failure replays. */
#ifndef PF_UNIT_DATA_H
#define PF_UNIT_DATA_H

#include <stddef.h>
#include <stdint.h>

/* xorshift64*: a small, seeded generator. */
static inline uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static inline void fill_random(uint8_t *p, size_t len, uint64_t seed)
{
	uint64_t s = seed | 1;

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(rng_next(&s) >> 56);
}

#endif
