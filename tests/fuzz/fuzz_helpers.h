/* SPDX-License-Identifier: MIT */
/*
 * fuzz_helpers.h - what every fuzz harness shares: always-on assertions and
 * the entry-point naming that lets one file build two ways.
 *
 * A harness defines FUZZ_ENTRY (e.g. fuzz_block_entry) before including this
 * header and implements `int FUZZ_ENTRY(const uint8_t *, size_t)`. Built for
 * libFuzzer (-DFUZZ_LIBFUZZER, configure --enable-fuzzing) the entry becomes
 * LLVMFuzzerTestOneInput; built plain, the harnesses keep distinct names and
 * link together into tests/fuzz/fuzz_regression (regression_driver.c), which
 * replays the committed corpora under `make check`.
 */
#ifndef PF_FUZZ_HELPERS_H
#define PF_FUZZ_HELPERS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Checks hold in release builds too: assert() may be compiled out, and a
 * fuzzer only learns of a broken invariant by a crash. */
#define FUZZ_ASSERT_MSG(cond, msg)                                             \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: fuzz assertion failed: %s: %s\n", \
				__FILE__, __LINE__, #cond, (msg));             \
			abort();                                               \
		}                                                              \
	} while (0)
#define FUZZ_ASSERT(cond) FUZZ_ASSERT_MSG(cond, "")

/* The harnesses, as named in the regression binary. */
int fuzz_block_entry(const uint8_t *data, size_t size);
int fuzz_container_entry(const uint8_t *data, size_t size);
int fuzz_opts_entry(const uint8_t *data, size_t size);
int fuzz_model_entry(const uint8_t *data, size_t size);
int fuzz_sniff_entry(const uint8_t *data, size_t size);

#ifdef FUZZ_ENTRY
#ifdef FUZZ_LIBFUZZER
#undef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif
int FUZZ_ENTRY(const uint8_t *data, size_t size);
#endif

#endif
